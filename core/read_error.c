/*
 * Deferred read errors (core/core_int.h): the error channel of sources
 * whose fill cannot complete (lazily loaded historical columns,
 * io/hist_source.c). fill has no status; such a source fills nulls and
 * raises the error here, and the next table creation (the result of the
 * operation whose scan read it), tide_table_get, tide_table_print or
 * atomic file write takes it and fails with it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdio.h>

#include "core/core_int.h"

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int g_pending = 0;
static tide_status g_status;
static char g_msg[TIDE_ERROR_MSG_MAX];

void tide__read_error_raise(tide_status st, const char *msg) {
  if (atomic_load_explicit(&g_pending, memory_order_acquire)) return; /* first wins */
  pthread_mutex_lock(&g_mu);
  if (!atomic_load_explicit(&g_pending, memory_order_relaxed)) {
    g_status = st == TIDE_OK ? TIDE_ERR_IO : st;
    snprintf(g_msg, sizeof g_msg, "%s", msg ? msg : "read error");
    atomic_store_explicit(&g_pending, 1, memory_order_release);
  }
  pthread_mutex_unlock(&g_mu);
}

tide_status tide__read_error_take(tide_error *err) {
  if (TIDE_LIKELY(!atomic_load_explicit(&g_pending, memory_order_acquire))) return TIDE_OK;
  tide_status st = TIDE_OK;
  pthread_mutex_lock(&g_mu);
  if (atomic_load_explicit(&g_pending, memory_order_relaxed)) {
    st = tide_error_set(err, g_status, "%s", g_msg);
    atomic_store_explicit(&g_pending, 0, memory_order_release);
  }
  pthread_mutex_unlock(&g_mu);
  return st;
}
