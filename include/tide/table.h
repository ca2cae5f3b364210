/*
 * Tables and column sources.
 *
 * A column source maps row keys to values and fills chunks in bulk. Kinds:
 * flat (key == position, one array), paged sparse (any key space), redirected
 * (outer key -> inner key of another source; sort and join outputs) and
 * formula views (computed on fill). A table is a RowSet plus named column
 * sources. Tables, sources and RowSets are reference counted and shared
 * between parents and children wherever the semantics allow (a where shares
 * its parent's sources; view/update share the parent's RowSet; sort
 * redirects). A static table is immutable once created, so it may be read
 * from any number of threads.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_TABLE_H
#define TIDE_TABLE_H

#include <stdio.h>

#include "tide/core.h"
#include "tide/rowset.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tide_source_s tide_source_t;
typedef struct tide_table_s tide_table_t;

/* Table kinds (seed "table types"); static is the only kind a table built
 * by the static engine has. */
typedef enum tide_table_kind_t {
  TIDE_KIND_STATIC = 0,
  TIDE_KIND_STANDARD,
  TIDE_KIND_APPEND_ONLY,
  TIDE_KIND_ADD_ONLY,
  TIDE_KIND_BLINK,
  TIDE_KIND_RING
} tide_table_kind_t;

/* ---------------------------------------------------------- sources */

/* New flat source of n values of type, every value null; one reference.
 * NULL on OOM (err set). */
tide_source_t *tide_source_flat_create(tide_type_t type, uint64_t n, tide_error *err);
/* Writable array of the flat source's values (n elements of the storage
 * type). For STRING columns store pointers obtained from
 * tide_source_flat_store_string; for SYMBOL columns codes of
 * tide_source_symtab(). Only while the source is being built. */
void *tide_source_flat_data(tide_source_t *src);
uint64_t tide_source_flat_size(const tide_source_t *src);
/* Copy s[0..len) into the source's string arena; returns the stable copy,
 * owned by the source, or NULL on OOM. */
const char *tide_source_flat_store_string(tide_source_t *src, const char *s, size_t len);

tide_source_t *tide_source_retain(tide_source_t *src);
void tide_source_release(tide_source_t *src); /* NULL ok */
tide_type_t tide_source_type(const tide_source_t *src);
/* Dictionary of a SYMBOL source (borrowed); NULL for other types. */
tide_symtab_t *tide_source_symtab(const tide_source_t *src);

/* Fill dst (seq->n values of the source's storage type) with the values at
 * the keys of seq. Thread-safe for static sources. */
void tide_source_fill(const tide_source_t *src, const tide_rowseq_t *seq, void *dst);
/* The values the keys had before the current update cycle's writes (for
 * listeners, during a cycle); the current values for keys not written in
 * this cycle, outside a cycle, and for static sources. */
void tide_source_fill_prev(const tide_source_t *src, const tide_rowseq_t *seq, void *dst);

/* ---------------------------------------------------------- tables */

/* New table from a RowSet and columns. Takes a new reference to rowset and
 * to each source (the caller keeps its own). Column names must be valid
 * identifiers and unique. Returns a table with one reference, or NULL with
 * err set. */
tide_table_t *tide_table_create(tide_rowset_t *rowset, size_t ncols, const char *const *names,
                                tide_source_t *const *sources, tide_error *err);
/* Empty table (no rows) with the given schema. */
tide_table_t *tide_table_create_empty(size_t ncols, const char *const *names,
                                      const tide_type_t *types, tide_error *err);

tide_table_t *tide_table_retain(tide_table_t *t);
void tide_table_free(tide_table_t *t); /* drops one reference; NULL ok */

uint64_t tide_table_size(const tide_table_t *t);
size_t tide_table_ncols(const tide_table_t *t);
const char *tide_table_col_name(const tide_table_t *t, size_t col);
tide_type_t tide_table_col_type(const tide_table_t *t, size_t col);
/* Column index by name, or -1. */
int tide_table_col_index(const tide_table_t *t, const char *name);
/* Borrowed pointers, valid while the table lives. */
tide_source_t *tide_table_col_source(const tide_table_t *t, size_t col);
const tide_rowset_t *tide_table_rowset(const tide_table_t *t);

tide_table_kind_t tide_table_kind(const tide_table_t *t);
bool tide_table_is_refreshing(const tide_table_t *t);

/* Value access for tests and small tools (not for hot loops): the value at
 * position pos of column col, written to out (width of the storage type).
 * TIDE_ERR_RANGE if pos or col is out of range. */
tide_status tide_table_get(const tide_table_t *t, size_t col, uint64_t pos, void *out,
                           tide_error *err);

/* Format one value as text (nulls as "" or "null" when null_word is set).
 * Returns the length written (truncated to cap-1). */
size_t tide_value_format(tide_type_t type, const tide_symtab_t *symtab, const void *value,
                         bool null_word, char *buf, size_t cap);

/* Print the first n rows (all if n == UINT64_MAX) as an aligned text table. */
tide_status tide_table_print(const tide_table_t *t, FILE *out, uint64_t n, tide_error *err);

#ifdef __cplusplus
}
#endif
#endif /* TIDE_TABLE_H */
