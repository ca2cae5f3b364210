/*
 * Status names and error records.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"

static const char *const status_names[] = {
#define TIDE_X_STATUS_STR(name, str) str,
    TIDE_STATUS_LIST(TIDE_X_STATUS_STR)
#undef TIDE_X_STATUS_STR
};

const char *tide_status_str(tide_status st) {
  if ((unsigned)st >= TIDE_STATUS_COUNT) return "unknown status";
  return status_names[st];
}

void tide_error_clear(tide_error *err) {
  if (!err) return;
  err->status = TIDE_OK;
  err->msg[0] = '\0';
}

tide_status tide_error_set(tide_error *err, tide_status st, const char *fmt, ...) {
  if (!err) return st;
  err->status = st;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  return st;
}

tide_status tide_error_prefix(tide_error *err, const char *fmt, ...) {
  if (!err) return TIDE_ERR_INVALID;
  char prefix[TIDE_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  char old[TIDE_ERROR_MSG_MAX];
  memcpy(old, err->msg, sizeof old);
  snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
  return err->status;
}
