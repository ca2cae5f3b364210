/*
 * Private interface of io/ shared with the tide command: writing a file
 * so that a failure never leaves a partial file at its path.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_IO_INT_H
#define TIDE_IO_INT_H

#include <stdio.h>

#include "core/core_int.h"

/* Writes the content of a file to an open stream. */
typedef tide_status (*tide_file_writer_fn)(FILE *f, void *ctx, tide_error *err);

/* Write `path` through `write` into PATH.tmp.<pid> (1 MiB buffered), fsync
 * it, close it and rename it into place; on any failure the temporary file
 * is removed and err names the operation `op` and the path. */
tide_status tide__file_write_atomic(const char *path, const char *op, tide_file_writer_fn write,
                                    void *ctx, tide_error *err);

/* 64-bit checksum of column files and table definitions (io/colfile.c):
 * four multiply-rotate lanes, several GB/s; catches bit flips and
 * truncation, not an adversary. */
uint64_t tide__checksum64(const void *data, size_t len);

/* Block-wise reads of an open column file (io/colfile.c), for lazily
 * loaded columns (io/hist_source.c). */
const char *tide__colfile_path(const tide_colfile_t *f);
size_t tide__colfile_size(const tide_colfile_t *f); /* bytes mapped */
uint32_t tide__colfile_block_rows(const tide_colfile_t *f);
/* Uncompressed fixed-width files: the values (all blocks back to back) in
 * the mapping, NOT verified (tide__colfile_block verifies a block); NULL
 * for other files. */
const void *tide__colfile_mapped_values(const tide_colfile_t *f);
/* Verify block b's checksum; for an uncompressed file return a pointer to
 * its values in the mapping, else decode it into dst (its raw size) and
 * return dst. Fixed-width types. Thread-safe for distinct dst. NULL with
 * TIDE_ERR_CORRUPT naming the file and the block. */
const void *tide__colfile_block(const tide_colfile_t *f, uint64_t b, void *dst, tide_error *err);
/* SYMBOL files: the dictionary, verified (checksum, no duplicates), as a
 * new symbol table (one reference) whose codes are the file's. */
tide_symtab_t *tide__colfile_dict(const tide_colfile_t *f, tide_error *err);

/* Lazy historical tables (io/hist_source.c, docs/STORAGE.md "Historical
 * store"). One selected partition of the concatenation: */
typedef struct tide__hist_part_in {
  const char *date;       /* YYYY-MM-DD: the Date value of its rows */
  uint64_t rows;          /* from its table.tdef */
  const char *const *files; /* per column: the column file's path */
  tide_colfile_t **open;  /* NULL, or per column an open file (NULL: none)
                           * that the table takes over (entries set NULL) */
  const tide_rowset_t *keep; /* partition-local keys kept; NULL: all */
} tide__hist_part_in;
/* A static table over np partitions: Date (SYMBOL, known per partition,
 * reads no file) then the columns; partition p owns keys [off_p, off_p +
 * rows_p). Column files are opened (header, index), verified and decoded
 * block by block on first touch, by the touching worker (docs/STORAGE.md);
 * SYMBOL files are opened here for their dictionaries. A failure at a
 * lazy load reads nulls and raises a deferred read error
 * (tide__read_error_raise) that the operation's result creation reports.
 * `label` prefixes messages. NULL with err on a bad file found here or OOM. */
tide_table_t *tide__hist_table(const char *label, const tide__hist_part_in *parts, size_t np,
                               size_t ncols, const char *const *names, const tide_type_t *types,
                               tide_error *err);
/* tide_colfile_open, counted by tide__hist_open_count. */
tide_colfile_t *tide__hist_open(const char *path, tide_error *err);
/* Test-visible counters (process-wide, monotonic): column files opened by
 * historical tables, and column blocks they verified/decoded. */
uint64_t tide__hist_open_count(void);
uint64_t tide__hist_block_count(void);
/* Test probe of NUMA placement: over the decoded blocks loaded so far of
 * lazy column `col` of t, out[0] = pages (get_mempolicy) on the node of the
 * CPU that loaded their block, out[1] = pages checked, out[2] / out[3] =
 * blocks loaded on node 0 / on other nodes. TIDE_ERR_INVALID when the
 * column is not a lazy historical one. */
tide_status tide__hist_placement(const tide_table_t *t, size_t col, uint64_t out[4],
                                 tide_error *err);

/* Intraday tail reader (io/intraday.c; used by live_table): an open
 * reader of one intraday partition that keeps its place (commit.log
 * offset of the last record read, the committed sizes of every column
 * file, the symbol dictionaries read so far) so that each poll reads only
 * the commits made since the previous one. The crash-safety rules of
 * tide_intraday_read hold: only complete records with valid checksums
 * that follow the previous one are read (a partial or all-zero last
 * record is left for a later poll; a full last record with a bad
 * checksum is re-read 8 x 1 ms, then TIDE_ERR_CORRUPT), and the bytes
 * every commit added to every column file are verified against the
 * record's checksums. Not thread-safe (one poller). */
typedef struct tide__itail_s tide__itail_t;

/* Open the partition (its schema and files must exist: TIDE_ERR_NOT_FOUND
 * otherwise). No rows are read yet: the first poll returns every
 * committed row. NULL with err. */
tide__itail_t *tide__itail_open(const char *db, const char *ns, const char *table,
                                const char *date, tide_error *err);
size_t tide__itail_ncols(const tide__itail_t *t);
const char *tide__itail_col_name(const tide__itail_t *t, size_t c);
tide_type_t tide__itail_col_type(const tide__itail_t *t, size_t c);
/* Rows returned by polls so far (= the next row number). */
uint64_t tide__itail_rows(const tide__itail_t *t);
/* Bytes read by polls so far (log records, column data, heaps). */
uint64_t tide__itail_bytes_read(const tide__itail_t *t);
/* The rows committed since the last poll as a static table (one
 * reference; its SYMBOL columns share the tail's dictionary, which only
 * grows, in partition code order), or *out = NULL when there is none
 * (cost: one stat of commit.log). *first = the partition row number of
 * its first row. On failure nothing is consumed (a later poll retries),
 * except after damage inside a verified dictionary, which fails every
 * later poll. A partition whose commit.log was replaced or removed
 * since the open is TIDE_ERR_STATE. */
tide_status tide__itail_poll(tide__itail_t *t, tide_table_t **out, uint64_t *first,
                             tide_error *err);
/* NULL ok. */
void tide__itail_close(tide__itail_t *t);

/* The writable partitions of namespace ns under db (io/historical.c, the
 * rule tide_historical_write and tide merge share): *wdir =
 * "DB/Systems/NS/WritablePartitions" (tide_malloc'd), *names its valid
 * partition names sorted (numeric names numerically; free with
 * tide__hist_names_free), *n >= 1 of them, and *pick the index of the one
 * `date` goes to (a hash of the date). TIDE_ERR_NOT_FOUND naming `op` when
 * the directory is missing or holds no partition; outputs zeroed then. */
tide_status tide__hist_writable(const char *op, const char *db, const char *ns, const char *date,
                                char **wdir, char ***names, size_t *n, size_t *pick,
                                tide_error *err);
void tide__hist_names_free(char **names, size_t n);

#endif /* TIDE_IO_INT_H */
