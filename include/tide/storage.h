/*
 * Columnar partition files (issue 5): one file per column plus a table
 * definition file, in a directory. docs/STORAGE.md has the byte layout.
 *
 * A column file has a versioned header (magic, format version, type, row
 * count, endianness, codec), fixed-size blocks of rows, each with zone-map
 * statistics (min, max, null count) and a checksum, and a block index
 * with its own checksums. Blocks are stored uncompressed (read by mmap
 * without copying), or compressed with LZ4 or Zstd. Every block is
 * verified against its checksum before its values are used: a truncated,
 * bit-flipped or foreign file gives TIDE_ERR_CORRUPT (or TIDE_ERR_IO) with
 * a message naming the file and the block, never a crash or wrong values.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_STORAGE_H
#define TIDE_STORAGE_H

#include "tide/table.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tide_codec_t {
  TIDE_CODEC_NONE = 0,
  TIDE_CODEC_LZ4 = 1,
  TIDE_CODEC_ZSTD = 2,
} tide_codec_t;

/* "none", "lz4", "zstd". */
const char *tide_codec_name(tide_codec_t c);
/* Parse a codec name; TIDE_ERR_INVALID naming the accepted values. */
tide_status tide_codec_parse(const char *name, tide_codec_t *out, tide_error *err);

/* Rows per block of new column files (a multiple of 4096). */
#define TIDE_COLFILE_BLOCK_ROWS 65536u

/* Write column `col` of t (its current rows, in order) to `path` with the
 * codec, through a temporary file that is fsync-ed and renamed into place
 * (the directory is not fsync-ed here: tide_table_write_dir does it once).
 * Nothing is left at path on failure. */
tide_status tide_column_write(const tide_table_t *t, size_t col, const char *path,
                              tide_codec_t codec, tide_error *err);

/* Zone-map statistics of one block: min and max of the non-null values
 * (storage values in 8-byte slots: int64/double/... as the type stores
 * them, zero-extended; meaningless for STRING, SYMBOL and BOOL, and when
 * nonnull == 0), and the counts. */
typedef struct tide_block_stats_t {
  uint64_t first_row;
  uint32_t rows;
  uint32_t nulls;
  uint64_t min, max;
} tide_block_stats_t;

typedef struct tide_colfile_s tide_colfile_t;

/* Open a column file: header and block index read and verified (not the
 * data). One reference; tide_colfile_close. NULL with err naming the file
 * (and block) on a missing, truncated, foreign or corrupt file. */
tide_colfile_t *tide_colfile_open(const char *path, tide_error *err);
void tide_colfile_close(tide_colfile_t *f);
tide_type_t tide_colfile_type(const tide_colfile_t *f);
uint64_t tide_colfile_rows(const tide_colfile_t *f);
tide_codec_t tide_colfile_codec(const tide_colfile_t *f);
uint64_t tide_colfile_nblocks(const tide_colfile_t *f);
/* Statistics of block b (< nblocks), from the verified index. */
tide_block_stats_t tide_colfile_block_stats(const tide_colfile_t *f, uint64_t b);

/* The whole column as a source (every block verified; in parallel).
 * Uncompressed fixed-width columns are served from the mapping without a
 * copy; compressed ones and strings are decoded into memory. A new
 * reference; NULL with err naming the file and the first bad block. */
tide_source_t *tide_colfile_source(tide_colfile_t *f, tide_error *err);

/* A table directory: one column file per column (NAME.col) and the
 * definition file `table.tdef` (format version, row count, the columns'
 * names, types, codecs, files, and its own checksum). Written into
 * DIR.tmp.<pid> and renamed to dir after every file and the directory are
 * fsync-ed; dir must not exist (TIDE_ERR_INVALID). */
tide_status tide_table_write_dir(const tide_table_t *t, const char *dir, tide_codec_t codec,
                                 tide_error *err);
/* Read a table directory (all columns; see tide_colfile_source). A static
 * table with one reference, or NULL with err naming the file. */
tide_table_t *tide_table_read_dir(const char *dir, tide_error *err);

#ifdef __cplusplus
}
#endif
#endif /* TIDE_STORAGE_H */
