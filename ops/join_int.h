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
 * row is in group 0 and *ks is NULL. *ngroups gets the number of groups.
 * One integer-like key whose range is small for the row count gives a
 * dense (directly addressed) key set, built in parallel; same ids. */
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


/* ------------------------------------------------ incremental joins */

/* Parsed arguments of a join (ops/asof_incr.c; used by the incremental
 * joins, same checks and messages as the static build). */
typedef struct tide__jspec_t {
  const char *op;
  bool asof, is_aj, strict;
  size_t nk;            /* exact-match keys (the as-of column excluded) */
  char *names;          /* 2 * (nk + 1) names of TIDE_JSPEC_NAME_CAP */
  const char **ln, **rn;
  size_t nadd;          /* right columns added to the result */
  char *addnames;
  int *addcols;
} tide__jspec_t;
#define TIDE_JSPEC_NAME_CAP 256
tide_status tide__jspec_parse(tide__jspec_t *s, const char *op, bool asof, bool is_aj,
                              const tide_table_t *left, const tide_table_t *right,
                              const char *const *on, size_t non, const char *const *joins,
                              size_t njoins, tide_error *err);
void tide__jspec_free(tide__jspec_t *s);

/* Key matching for ticking joins: one key set shared by both sides (group
 * ids of left and right rows agree), symbol columns compared through
 * their current dictionaries (which may grow between cycles). */
typedef struct tide__ikeys_t {
  tide__jkeys_t jk;
  size_t nkeys;
  tide_type_t *htype;
  uint8_t *conv[2];     /* per side (0 left, 1 right): conversion per key */
  tide_keyset_t *ks;    /* NULL when nkeys == 0 (every row in group 0) */
} tide__ikeys_t;
tide_status tide__ikeys_init(tide__ikeys_t *ik, const char *op, const tide_table_t *left,
                             const tide_table_t *right, const char *const *lnames,
                             const char *const *rnames, size_t n, tide_error *err);
void tide__ikeys_free(tide__ikeys_t *ik);
/* Group ids of seq's rows of one side (current or previous values),
 * inserting new keys. TIDE_ERR_NOMEM on OOM. */
tide_status tide__ikeys_ids(tide__ikeys_t *ik, int side, const tide_rowseq_t *seq, bool prev,
                            tide__jscratch_t *s, uint32_t *ids);
static inline uint32_t tide__ikeys_ngroups(const tide__ikeys_t *ik) {
  return ik->ks ? tide__keyset_size(ik->ks) : 1;
}

/* A sorted run of (value, row key) pairs per group, updated in batches. */
typedef struct tide__tk_t {
  int64_t t;
  uint64_t k;
} tide__tk_t;
typedef struct tide__tkvec_t {
  tide__tk_t *a;
  uint64_t n, cap;
} tide__tkvec_t;
/* A change of a group's run: (group, value, key). */
typedef struct tide__gtk_t {
  uint32_t g;
  int64_t t;
  uint64_t k;
} tide__gtk_t;
typedef struct tide__gtkvec_t {
  tide__gtk_t *a;
  size_t n, cap;
} tide__gtkvec_t;
tide_status tide__gtk_push(tide__gtkvec_t *v, uint32_t g, int64_t t, uint64_t k);
/* Sort by (g, t, k) (stable merge sort; tmp grown as needed). */
tide_status tide__gtk_sort(tide__gtkvec_t *v, tide__gtkvec_t *tmp);
/* Apply sorted removals and insertions of one group's entries
 * (rem[0..nr), ins[0..ni), all of that group) to its run. TIDE_ERR_STATE
 * if a removal is not present (internal inconsistency). */
tide_status tide__tk_apply(tide__tkvec_t *v, const tide__gtk_t *rem, size_t nr,
                           const tide__gtk_t *ins, size_t ni, tide__tkvec_t *tmp);
/* Sort rem and ins (tmp grown as needed) and apply each group's entries
 * to its run with tide__tk_apply. The run of group g lives at
 * (char *)runs + g * stride (a field of a per-group struct array). Returns
 * tide__tk_apply's status of the first failing group: TIDE_ERR_NOMEM, or
 * TIDE_ERR_STATE (a removal not in its run). */
tide_status tide__gtk_apply_runs(tide__gtkvec_t *rem, tide__gtkvec_t *ins, tide__gtkvec_t *tmp,
                                 tide__tkvec_t *tktmp, tide__tkvec_t *runs, size_t stride);
/* The as-of (time) column values v[0..n) of `type` (integers, timestamps,
 * floats) as order-preserving int64 (INT64_MIN: null or NaN, never
 * matches): v itself for INT64/TIMESTAMP, else out. */
const int64_t *tide__join_times(tide_type_t type, const void *v, uint32_t n, int64_t *out);
/* Keys of `cur` (after the update's shifts) mapped back to the previous
 * key space; kept = previous RowSet minus removed. */
tide_rowset_t *tide__unshift_keys(const tide_rowset_t *cur, const tide_rowset_t *kept,
                                  const tide_shift_t *shifts, size_t nshifts);
/* Parse the as-of entry "L >= R" / "L > R" / "L <= R" / "L < R" / "L" /
 * "L=R" into l and r (TIDE_JSPEC_NAME_CAP bytes each). *dir: '>' or '<'
 * (0 when bare); *strict: true for > and <. False if a name is not an
 * identifier. (ops/join.c) */
bool tide__join_parse_asof(const char *spec, char *l, char *r, char *dir, bool *strict);

/* Batched writes of (key, value) pairs into a paged int64 map (ticking
 * redirections): add appends, flush writes them in chunks and empties the
 * batch. TIDE_ERR_NOMEM on OOM. */
typedef struct tide__mapbatch_t {
  uint64_t *keys, *vals;
  size_t n, cap;
} tide__mapbatch_t;
tide_status tide__mapbatch_add(tide__mapbatch_t *b, uint64_t key, uint64_t val);
tide_status tide__mapbatch_flush(tide__mapbatch_t *b, tide_source_t *map);
void tide__mapbatch_free(tide__mapbatch_t *b);
/* Append v to the growable array *a (*n used, *cap allocated). */
tide_status tide__u64_push(uint64_t **a, size_t *n, size_t *cap, uint64_t v);

/* Whether any column in the bitset `bits` is modified in u. */
bool tide__update_hits(const tide_update_t *u, const uint64_t *bits, size_t ncols);

/* Ticking as-of joins (ops/asof_incr.c) and inner join (ops/join_cross_incr.c):
 * called by tide_aj / tide_raj / tide_join when an input is refreshing. */
tide_table_t *tide__asof_incr(bool raj, tide_table_t *left, tide_table_t *right,
                              const char *const *on, size_t non, const char *const *joins,
                              size_t njoins, tide_error *err);
tide_table_t *tide__join_incr(tide_table_t *left, tide_table_t *right, const char *const *on,
                              size_t non, const char *const *joins, size_t njoins,
                              tide_error *err);

/* Ticking natural_join / exact_join (ops/join_incr.c): called by
 * tide_natural_join / tide_exact_join when an input is refreshing. */
tide_table_t *tide__natjoin_incr(bool exact, tide_table_t *left, tide_table_t *right,
                                 const char *const *on, size_t non, const char *const *joins,
                                 size_t njoins, tide_error *err);

#endif /* TIDE_OPS_JOIN_INT_H */
