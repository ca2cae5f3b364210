/*
 * Private helpers of the joins and where_in/where_not_in (ops/join*.c,
 * ops/wherein.c): matching key columns of two tables by value.
 *
 * The right (build) side is hashed into a tide_keyset_t; the left (probe)
 * side is converted chunk by chunk into the build side's key types:
 *   - same type: as is (SYMBOL codes of the left are translated into the
 *     right dictionary unless both share it);
 *   - SYMBOL vs STRING: both hashed as STRING (symbol codes -> strings);
 *   - integers of different widths: widened to int64 (nulls stay null);
 *   - float vs double: widened to double;
 *   - anything else (int vs double, timestamp vs int, ...): type error.
 * Null keys match null keys (like Deephaven).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_OPS_JOIN_INT_H
#define TIDE_OPS_JOIN_INT_H

#include "core/core_int.h"
#include "kernels/hash.h"

typedef enum tide__jconv_t {
  TIDE_JCONV_NONE = 0,
  TIDE_JCONV_WIDEN_INT,  /* any int width -> int64 */
  TIDE_JCONV_WIDEN_F32,  /* float -> double */
  TIDE_JCONV_SYM_STR,    /* symbol code -> string */
  TIDE_JCONV_SYM_MAP     /* symbol code -> code in another dictionary */
} tide__jconv_t;

/* One key column of one side, and how to turn its values into the hash type. */
typedef struct tide__jcol_t {
  const tide_source_t *src;
  tide_type_t src_type;
  tide_type_t hash_type;
  tide__jconv_t conv;
  const char **strs;   /* SYM_STR: string of each code (owned array) */
  int32_t *map;        /* SYM_MAP: code translation (owned) */
  uint32_t nmap;       /* entries of strs / map */
} tide__jcol_t;

/* The key columns of a join: nkeys pairs of (left, right) columns. */
typedef struct tide__jkeys_t {
  size_t nkeys;
  int *lcol;           /* column indexes in the left table */
  int *rcol;           /* ... in the right table */
  tide_type_t *types;  /* hash types */
  tide__jcol_t *left;  /* probe side */
  tide__jcol_t *right; /* build side */
} tide__jkeys_t;

/* Resolve and type-check the key pairs lnames[i] (left) / rnames[i] (right).
 * Errors name `op` and the columns. On failure *jk is left freeable. */
tide_status tide__jkeys_init(tide__jkeys_t *jk, const char *op, const tide_table_t *left,
                             const tide_table_t *right, const char *const *lnames,
                             const char *const *rnames, size_t n, tide_error *err);
void tide__jkeys_free(tide__jkeys_t *jk);

/* Values of one key column at seq's keys in its hash type: a pointer into
 * storage, raw (filled) or out (converted). raw and out each hold
 * TIDE_CHUNK_SIZE 8-byte values and must differ. */
const void *tide__jcol_get(const tide__jcol_t *c, const tide_rowseq_t *seq, void *raw, void *out);

/* Per-thread scratch for reading nkeys key columns a chunk at a time. */
typedef struct tide__jscratch_t {
  size_t nkeys;
  void *mem;             /* one allocation for everything below */
  void **raw;            /* nkeys buffers */
  void **out;            /* nkeys buffers */
  const void **cols;     /* nkeys pointers for the keyset */
  uint64_t *keybuf;      /* TIDE_CHUNK_SIZE row keys */
  uint32_t *ids;         /* TIDE_CHUNK_SIZE group ids */
  int64_t *t_raw;        /* time column raw values */
  int64_t *t_out;        /* time column normalized values */
} tide__jscratch_t;

tide_status tide__jscratch_init(tide__jscratch_t *s, size_t nkeys, tide_error *err);
void tide__jscratch_free(tide__jscratch_t *s);

/* Key tuple pointers of one chunk of one side (left when is_left). */
static inline const void *const *tide__jkeys_chunk(const tide__jkeys_t *jk, bool is_left,
                                                    const tide_rowseq_t *seq,
                                                    tide__jscratch_t *s) {
  const tide__jcol_t *cs = is_left ? jk->left : jk->right;
  for (size_t k = 0; k < jk->nkeys; k++)
    s->cols[k] = tide__jcol_get(&cs[k], seq, s->raw[k], s->out[k]);
  return s->cols;
}

/* Build side: hash the key columns of every row of `right` (serially, in
 * row order). gids[pos] receives the group id of the right row at position
 * pos (ids are dense, in order of first appearance). With nkeys == 0 every
 * row is in group 0 and *ks is NULL. *ngroups gets the number of groups. */
tide_status tide__jkeys_build(const tide__jkeys_t *jk, const tide_table_t *right,
                              tide_keyset_t **ks, uint32_t *gids, uint32_t *ngroups,
                              tide_error *err);

/* Probe side: for positions [pos, pos + count) of left, ids[i] = group id
 * of the left row or TIDE_KEYSET_ABSENT (read-only on ks: callable from
 * several threads). ks NULL (nkeys == 0): id 0 if ngroups > 0. */
void tide__jkeys_probe(const tide__jkeys_t *jk, const tide_keyset_t *ks, uint32_t ngroups,
                       const tide_table_t *left, uint64_t pos, uint64_t count,
                       tide__jscratch_t *s, uint32_t *ids);

/* "(AAPL, 3)": the key values of table t's columns cols at position pos. */
void tide__jformat_key(const tide_table_t *t, const int *cols, size_t n, uint64_t pos, char *buf,
                       size_t cap);
/* "A, B, C": the column names of t, for error messages. */
void tide__jformat_cols(const tide_table_t *t, char *buf, size_t cap);

#endif /* TIDE_OPS_JOIN_INT_H */
