/*
 * CSV input and output.
 *
 * read_csv infers column types (int64, double, bool, ISO-8601 timestamp,
 * string; low-cardinality strings become symbols) unless given explicit
 * types, honours a header row and RFC-4180 quoting, and reads an empty
 * field as null. A malformed file gives an error naming the file and line,
 * and no partial table.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_IO_H
#define TIDE_IO_H

#include "tide/table.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tide_csv_options_t {
  bool has_header;          /* default true; without it columns are C1, C2, ... */
  char delimiter;           /* default ',' */
  /* Explicit types for some columns (by name); others are inferred. */
  size_t ntypes;
  const char *const *type_names;  /* column names */
  const tide_type_t *types;       /* their types */
  /* A string column becomes SYMBOL when its distinct count is at most
   * symbol_max_distinct and at most symbol_max_ratio of its rows (defaults
   * 65536 and 0.5; symbol_max_distinct = 0 disables symbols). */
  uint32_t symbol_max_distinct;
  double symbol_max_ratio;
  int nthreads;             /* 0 = the engine default */
} tide_csv_options_t;

/* Defaults as documented above. */
void tide_csv_options_init(tide_csv_options_t *opt);

/* Read a CSV file (opt may be NULL for defaults). New table with one
 * reference, or NULL with err naming the file and line. */
tide_table_t *tide_read_csv(const char *path, const tide_csv_options_t *opt, tide_error *err);
/* The same over an in-memory buffer; `name` is used in error messages. */
tide_table_t *tide_read_csv_buffer(const char *data, size_t len, const char *name,
                                   const tide_csv_options_t *opt, tide_error *err);

/* Write t as CSV with a header row; nulls are empty fields; doubles use the
 * shortest representation that reads back exactly; timestamps ISO-8601 UTC.
 * The file is written to a temporary name and renamed into place, so a
 * failure never leaves a partial file at path. */
tide_status tide_write_csv(const tide_table_t *t, const char *path, tide_error *err);
tide_status tide_write_csv_stream(const tide_table_t *t, FILE *out, tide_error *err);

#ifdef __cplusplus
}
#endif
#endif /* TIDE_IO_H */
