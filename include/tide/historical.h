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
 * table.tdef). TIDE_ERR_NOT_FOUND when the table has no partition at all.
 * The table is lazy (docs/STORAGE.md, "Historical store"): creation reads
 * the selected partitions' table.tdef files and opens only SYMBOL column
 * files (dictionaries) and a range filter's column (block index); column
 * blocks are verified and decoded on first touch by the worker that scans
 * them, so a `where` on Date reads no file and later reads touch only the
 * selected dates. A file found missing or damaged at such a load (e.g.
 * changed after creation) makes the operation that read it fail with
 * TIDE_ERR_CORRUPT / TIDE_ERR_NOT_FOUND naming the file and block. The
 * caller owns the returned reference (tide_table_free); NULL with err on
 * failure. */
tide_table_t *tide_historical_query(const char *db, const char *ns, const char *table,
                                    const tide_historical_query_t *q, tide_error *err);
/* All dates: tide_historical_query(db, ns, table, NULL, err). */
tide_table_t *tide_historical_table(const char *db, const char *ns, const char *table,
                                    tide_error *err);

/* ------------------------------------------------ merge (io/merge.c) */

/* Options of tide_merge_intraday. tide_merge_opts_init sets the defaults:
 * no sort, keep the intraday data, codec LZ4. */
typedef struct tide_merge_opts_t {
  const char *const *sort_by; /* stable ascending sort by these columns */
  size_t nsort;               /* 0: the intraday (commit) order */
  bool delete_intraday;       /* delete the intraday partition once merged */
  tide_codec_t codec;
} tide_merge_opts_t;
void tide_merge_opts_init(tide_merge_opts_t *o);

/* What a merge did (filled on success; partition/path also on most
 * errors once chosen). Plain data: no cleanup. */
typedef struct tide_merge_result_t {
  uint64_t rows;          /* rows of the historical partition */
  char partition[256];    /* the <n> of WritablePartitions/<n> (or of
                             Partitions/<n> for an earlier merge) */
  char path[4096];        /* the table directory */
  bool already_merged;    /* an earlier merge had written the same rows
                             (order-independent checksums): nothing rewritten */
  bool intraday_missing;  /* already merged and the intraday partition was
                             already deleted */
  bool intraday_deleted;  /* this call deleted the intraday partition */
  double seconds;         /* whole call */
  double t_read, t_sort, t_write, t_verify, t_delete; /* phases, seconds */
} tide_merge_result_t;

/* Merge the committed rows of the intraday partition (db, ns, table,
 * date) into the historical store (docs/STORAGE.md, "Merge"):
 *  1. lock the table's intraday directory (waiting for another merge of
 *     the table) and take the partition's writer.lock (refused with
 *     TIDE_ERR_STATE while an appender holds it: merge a finished day);
 *  2. read the committed rows (every batch verified), optionally sort them
 *     (stable, by opts->sort_by);
 *  3. write the table directory under a hidden temporary name inside
 *     WritablePartitions/<n>/<date>/ (<n> chosen as tide_historical_write
 *     chooses it), every file and the directory fsync-ed;
 *  4. re-read it and validate it against the intraday rows: row count,
 *     columns, and per-column checksums of the values (order-dependent
 *     against the written order; order-independent, per column and per
 *     row, against the intraday read);
 *  5. rename it to <table> (atomic; never over an existing one) and fsync
 *     the date directory;
 *  6. with opts->delete_intraday, only then delete the intraday partition
 *     (renamed to a hidden name first, so it vanishes atomically).
 * A crash at any point leaves either no visible partition (the intraday
 * data intact) or the complete, valid one; hidden leftovers are removed by
 * the next merge of the same table and date, which can always be re-run:
 * a date already holding the table with the same rows (order-independent
 * checksums) is success with out->already_merged (and the intraday data is
 * deleted if asked); different rows are TIDE_ERR_STATE. Refused: bad
 * names or date (TIDE_ERR_INVALID), no WritablePartitions
 * (TIDE_ERR_NOT_FOUND), a missing intraday partition with nothing merged
 * (TIDE_ERR_NOT_FOUND), an empty one (TIDE_ERR_INVALID), damaged intraday
 * data (TIDE_ERR_CORRUPT: nothing is written), a column named Date.
 * db NULL means "./tide-db"; opts NULL means the defaults; out may be
 * NULL. Test hooks: TIDE_MERGE_CRASH_AT=N in the environment makes the
 * process _exit(137) at step N; TIDE_MERGE_DAMAGE=COL flips a bit of the
 * written COL.col before validation (see docs/STORAGE.md). */
tide_status tide_merge_intraday(const char *db, const char *ns, const char *table,
                                const char *date, const tide_merge_opts_t *opts,
                                tide_merge_result_t *out, tide_error *err);

#ifdef __cplusplus
}
#endif
#endif /* TIDE_HISTORICAL_H */
