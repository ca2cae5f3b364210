/*
 * The historical store (issue 5, seed 002): immutable table directories
 * (tide_table_write_dir) laid out under a database root as
 *
 *   DB/Systems/<ns>/Partitions/<n>/<date>/<table>/     read from
 *   DB/Systems/<ns>/WritablePartitions/<n>             links (or dirs)
 *                                                      naming where writes go
 *
 * The administrator creates Partitions/<n> and the WritablePartitions
 * links; tide never creates them (a write into a namespace without
 * WritablePartitions fails clearly), only the <date> directories below.
 * Dates are YYYY-MM-DD. docs/STORAGE.md ("Historical store") has details.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_HISTORICAL_H
#define TIDE_HISTORICAL_H

#include "tide/storage.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Name of the partitioning column of historical tables (SYMBOL, first). */
#define TIDE_HISTORICAL_DATE_COL "Date"

/* TIDE_OK if `name` may name a namespace or table directory: non-empty,
 * at most 255 bytes, no '/', no NUL, no leading '.' (so no "." or ".."),
 * no control characters. Else TIDE_ERR_INVALID naming `what` ("namespace",
 * "table") and the name. */
tide_status tide_db_check_name(const char *what, const char *name, tide_error *err);
/* TIDE_OK if `date` is YYYY-MM-DD (month 01-12, day 01-31). */
tide_status tide_db_check_date(const char *date, tide_error *err);

/* Write t (static; no column named Date) as table `table` of `date` into
 * one of ns's writable partitions: WritablePartitions/<n>/<date>/<table>,
 * the <n> chosen by a hash of the date over the sorted writable names (so
 * one date always lands on the same partition while the links stay). The
 * table directory is written atomically (tide_table_write_dir); the date
 * directory is created (and its parent fsync-ed) when missing. Refused
 * when ns has no WritablePartitions (TIDE_ERR_NOT_FOUND), when the date
 * already holds the table in any partition (TIDE_ERR_INVALID), or a name
 * is bad. db NULL means "./tide-db". */
tide_status tide_historical_write(const char *db, const char *ns, const char *table,
                                  const char *date, const tide_table_t *t, tide_codec_t codec,
                                  tide_error *err);

/* A read of a historical table. Zero-initialise, then set what you need. */
typedef struct tide_historical_query_t {
  /* Inclusive Date range (YYYY-MM-DD); NULL: unbounded. Partitions of
   * dates outside are never opened. */
  const char *from, *to;
  /* Optional range filter lo <= col <= hi on a numeric column (integers,
   * floats): partitions whose zone maps (block min/max) exclude the range
   * are skipped without reading their data; in the others only the blocks
   * whose zone maps overlap are kept, then the exact filter is applied
   * (nulls and NaN never match). */
  const char *col;
  double lo, hi;
  /* Optional projection: only these stored columns (in this order, after
   * Date) are read; the other column files are never opened. NULL: all. */
  const char *const *cols;
  size_t ncols;
} tide_historical_query_t;

/* One stored table of a date, as found by tide_historical_list. */
typedef struct tide_historical_part_t {
  char date[11];
  char *partition; /* the <n> of Partitions/<n> */
  char *path;      /* the table directory */
} tide_historical_part_t;

/* The table directories of ns/table whose date is within q's range (q may
 * be NULL), sorted by date, then partition name (numeric names
 * numerically). *parts is an array of *n entries (free with
 * tide_historical_parts_free); *n == 0 is not an error. TIDE_ERR_NOT_FOUND
 * when ns has no Partitions directory. */
tide_status tide_historical_list(const char *db, const char *ns, const char *table,
                                 const tide_historical_query_t *q,
                                 tide_historical_part_t **parts, size_t *n, tide_error *err);
void tide_historical_parts_free(tide_historical_part_t *parts, size_t n);

/* A static table over the selected partitions: the column Date (SYMBOL)
 * first, then the stored columns, rows in date order (then partition,
 * then stored order). Columns and types must agree across partitions. A
 * damaged partition gives an error naming its file. When no date is
 * selected the result is empty but keeps the columns (read from one
 * table.tdef). TIDE_ERR_NOT_FOUND when the table has no partition at all. */
tide_table_t *tide_historical_query(const char *db, const char *ns, const char *table,
                                    const tide_historical_query_t *q, tide_error *err);
/* All dates: tide_historical_query(db, ns, table, NULL, err). */
tide_table_t *tide_historical_table(const char *db, const char *ns, const char *table,
                                    tide_error *err);

#ifdef __cplusplus
}
#endif
#endif /* TIDE_HISTORICAL_H */
