/*
 * Engine settings: the worker thread count used by parallel operations.
 * (The NUMA-pinned pool of issue 4 will replace the plain OpenMP team.)
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdlib.h>

#include <omp.h>

#include "core/core_int.h"

static _Atomic int tide_threads = 0; /* 0: not yet resolved */

static int default_threads(void) {
  const char *env = getenv("TIDE_THREADS");
  if (env && *env) {
    char *end;
    long v = strtol(env, &end, 10);
    if (*end == '\0' && v >= 1 && v <= 1024) return (int)v;
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n >= 1) return n;
  }
  int n = omp_get_num_procs();
  return n >= 1 ? n : 1;
}

tide_status tide_set_threads(int nthreads, tide_error *err) {
  if (nthreads < 0 || nthreads > 1024)
    return tide_error_set(err, TIDE_ERR_RANGE, "thread count %d out of range (0..1024)", nthreads);
  tide_threads = nthreads == 0 ? default_threads() : nthreads;
  return TIDE_OK;
}

int tide_get_threads(void) {
  int n = tide_threads;
  if (n == 0) {
    n = default_threads();
    tide_threads = n;
  }
  return n;
}

int tide__threads_for(uint64_t rows) {
  int n = tide_get_threads();
  tide__pool_prepare();
  uint64_t morsels = (rows + TIDE_MORSEL_ROWS - 1) / TIDE_MORSEL_ROWS;
  if (morsels < (uint64_t)n) n = morsels ? (int)morsels : 1;
  return n;
}
