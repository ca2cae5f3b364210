/*
 * Aggregation kernels: grouping of rows into dense group ids, and the chunk
 * loops that update per-group accumulator arrays (sum, min/max, moments,
 * weighted sums). Used by agg_by, select_distinct and head_by/tail_by
 * (ops/agg.c, ops/distinct.c, ops/headby.c).
 *
 * Grouping (kernels/agg_group.c) maps every row of a RowSet to a group id
 * in order of first appearance of its key:
 *   - no key columns: one group;
 *   - SYMBOL and integer-like (bool, int8..int64, timestamp) columns whose
 *     codes / non-null values span small ranges: the mixed-radix number of
 *     the per-column offsets (value - min + 1, 0 for null) indexes a map;
 *   - otherwise the columnar hash table (kernels/hash.h), a chunk at a time.
 * Group ids are assigned in order of first appearance, so the result does
 * not depend on the thread count. Both paths run in parallel over several
 * morsels (OpenMP, tide__threads_for):
 *   - direct: threads compute every row's slot and the least position of
 *     each slot they saw; group ids are the ranks of the least positions;
 *   - hash (three threads or more): thread-local pre-grouping of contiguous
 *     ranges, then a merge partitioned by key hash (each partition inserts
 *     the threads' local keys in thread order and keeps each group's first
 *     position), then global ids = ranks of first positions.
 *
 * Accumulator kernels (kernels/agg.c) take a chunk of group ids (one per
 * row) and the chunk's values, skip nulls, and update arrays indexed by
 * group id. One switch on the type per chunk; the bodies are X-macros.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_KERNELS_AGG_H
#define TIDE_KERNELS_AGG_H

#include "core/core_int.h"

/* ------------------------------------------------------------- grouping */

typedef struct tide_groups_t {
  uint64_t nrows;       /* rows of the RowSet grouped */
  uint32_t ngroups;
  uint32_t *ids;        /* nrows entries: group id of the row at each position */
  uint64_t *first_key;  /* ngroups entries: row key of each group's first row */
} tide_groups_t;

/* Group the rows of rs by the key columns by[0..nby) (sources read at the
 * row keys). With nby == 0 every row is in group 0 (no groups when rs is
 * empty). `op` names the operation in error messages. On success fills g
 * (release with tide__groups_destroy); on failure g is empty and err set. */
tide_status tide__groups_build(const tide_rowset_t *rs, size_t nby, tide_source_t *const *by,
                               tide_groups_t *g, const char *op, tide_error *err);
void tide__groups_destroy(tide_groups_t *g);

/* Row key of each group's last row: a tide_malloc'd array of ngroups
 * entries (free with tide_free), or NULL with err on OOM. */
uint64_t *tide__groups_last_keys(const tide_groups_t *g, const tide_rowset_t *rs,
                                 tide_error *err);
/* Rows per group: tide_calloc'd array of ngroups entries, NULL on OOM. */
uint64_t *tide__groups_sizes(const tide_groups_t *g, tide_error *err);

/* ---------------------------------------------------------- accumulators */

/* Whether the aggregation kernels below accept the type. */
bool tide__agg_sum_type_ok(tide_type_t type);    /* bool, integers, floats */
bool tide__agg_minmax_type_ok(tide_type_t type); /* every type */

/* Sum (or sum of absolute values) of non-null values per group, and the
 * count of non-null values. Integer types (and bool as 0/1) accumulate into
 * int64 sums (wrapping), float types into double sums; `sums` is int64_t[]
 * or double[] accordingly (see tide__agg_sum_is_int). */
bool tide__agg_sum_is_int(tide_type_t type);
void tide__agg_sum(tide_type_t type, bool absval, const uint32_t *ids, const void *vals,
                   uint32_t n, void *sums, uint64_t *counts);

/* Min or max of non-null values per group (NaN skipped), into acc: an array
 * of the input's storage type holding the type's null until a value is
 * seen. SYMBOL compares strings through ranks (tide__radix_symbol_ranks:
 * rank[code] orders the dictionary); STRING compares with strcmp. */
void tide__agg_minmax(tide_type_t type, bool is_max, const uint32_t *ids, const void *vals,
                      uint32_t n, const uint32_t *ranks, void *acc);

/* Convert a chunk of numeric values (bool, integers, floats, timestamps) to
 * double; valid[i] = 0 where the value is null. */
void tide__agg_to_f64(tide_type_t type, const void *vals, uint32_t n, double *out,
                      uint8_t *valid);

/* Sum and count of valid values per group (doubles, for avg). */
void tide__agg_sum_f64(const uint32_t *ids, const double *v, const uint8_t *valid, uint32_t n,
                       double *sums, uint64_t *counts);

/* Welford running mean and sum of squared deviations per group. */
void tide__agg_moments(const uint32_t *ids, const double *v, const uint8_t *valid, uint32_t n,
                       double *mean, double *m2, uint64_t *counts);

/* Weighted sums over rows where both value and weight are valid:
 * wv[g] += w * v, ws[g] += w, counts[g] += 1. */
void tide__agg_weighted(const uint32_t *ids, const double *v, const uint8_t *vvalid,
                        const double *w, const uint8_t *wvalid, uint32_t n, double *wv,
                        double *ws, uint64_t *counts);

/* Rows per group of a chunk of ids. */
void tide__agg_count(const uint32_t *ids, uint32_t n, uint64_t *counts);

/* ------------------------------------------------ fused scan (agg_by) */

/* Direct-map plan of key columns (see grouping above): per-column minimum
 * and cardinality (null = offset 0), and the map size (product of the
 * cardinalities; 1 without key columns). */
typedef struct tide_direct_plan_t {
  size_t nby;
  tide_source_t *const *by;
  int64_t *mins;
  uint64_t *cards;
  uint64_t mapsize;
  /* Non-null ranges of the integer-like key columns, scanned once: has[k]
   * is 0 (not scanned), 1 (all null) or 2 (lo[k]..hi[k]). */
  int64_t *lo, *hi;
  uint8_t *has;
} tide_direct_plan_t;

/* Whether the key columns by[0..nby) of rs map directly with at most
 * max_slots slots: *ok set, and p filled (release with
 * tide__direct_plan_free). TIDE_ERR_NOMEM on allocation failure. Integer
 * key columns are scanned once for their range (in parallel). */
tide_status tide__direct_plan(const tide_rowset_t *rs, size_t nby, tide_source_t *const *by,
                              uint64_t max_slots, tide_direct_plan_t *p, bool *ok);
void tide__direct_plan_free(tide_direct_plan_t *p);
/* tide__groups_build reusing the key ranges already scanned by a plan
 * (NULL: none). */
tide_status tide__groups_build_ranged(const tide_rowset_t *rs, size_t nby,
                                      tide_source_t *const *by, const tide_direct_plan_t *ranges,
                                      tide_groups_t *g, const char *op, tide_error *err);
/* Slots (< p->mapsize) of a chunk of rows; buf holds TIDE_CHUNK_SIZE
 * 8-byte values. */
void tide__direct_slots(const tide_direct_plan_t *p, const tide_rowseq_t *seq, void *buf,
                        uint32_t *slots);

/* Like tide__agg_sum, but counts the null values per group (nulls[g] +=
 * 1) instead of the non-null ones: a chunk without nulls costs one update
 * per row. */
void tide__agg_sum_nulls(tide_type_t type, bool absval, const uint32_t *ids, const void *vals,
                         uint32_t n, void *sums, uint64_t *nulls);
/* The same accumulating every type into double sums (the fallback of
 * integer avg when int64 partials could overflow). */
void tide__agg_sum_dbl_nulls(tide_type_t type, const uint32_t *ids, const void *vals, uint32_t n,
                             double *sums, uint64_t *nulls);

/* No-key reductions of a chunk: *sum (int64 or double, as
 * tide__agg_sum_is_int) and *count of non-null values. Float sums use a
 * fixed number of lanes (a fixed order: the same for the same chunk). */
void tide__agg_reduce_sum(tide_type_t type, bool absval, const void *vals, uint32_t n, void *sum,
                          uint64_t *count);
/* Same, accumulating every type as double (see tide__agg_sum_dbl_nulls). */
void tide__agg_reduce_sum_dbl(tide_type_t type, const void *vals, uint32_t n, double *sum,
                              uint64_t *count);
/* Bitwise OR of the magnitudes (|x| as uint64) of the
 * non-null values of an integer chunk: an upper bound check for int64
 * partial sums. 0 for non-integer types. */
uint64_t tide__agg_int_mag(tide_type_t type, const void *vals, uint32_t n);


/* One-pass keyed sums (the fused agg_by scan): for each row of a chunk,
 * its slot, the row count of the slot and up to TIDE_FZ_MAX sums, in a
 * single loop with no intermediate arrays (one scatter pass per
 * aggregation was the cost of keyed scans). Slot of a row by key form:
 * SLOTS: keys holds uint32 slots; I64 / I32: slot = x - minv + 1, the
 * type's null -> 0 (as tide__direct_slots for one key column); SYM:
 * SYMBOL codes, slot = code + 1 (null code -1 -> 0). The row counts are
 * rows[q]; a slot's sums lie together (one cache line for a few items):
 * item j's at acc[q * stride + j] (uint64, or double when bit j of dbl is
 * set). Values are int64 (TIDE_I64 / TIDE_TS; summed wrapping as uint64)
 * or double; nulls add nothing. */
#define TIDE_FZ_MAX 4
typedef enum tide_fz_key_t { TIDE_FZK_SLOTS, TIDE_FZK_I64, TIDE_FZK_I32, TIDE_FZK_SYM } tide_fz_key_t;
typedef struct tide_fz_args_t {
  tide_fz_key_t kform;
  const void *keys;
  uint64_t minv;
  uint32_t *sl_out;  /* not NULL: the slots are stored here (key forms only) */
  uint64_t *rows;    /* not NULL: rows[q] += 1 per row (key forms: always) */
  uint64_t *acc;
  uint64_t stride;
  uint32_t m;        /* sums, 0..TIDE_FZ_MAX */
  uint32_t dbl;      /* bit j: item j is double */
  const void *vals[TIDE_FZ_MAX];
  /* int items: |= the OR of x ^ (x >> 63) over the values (|x|, less one
   * for negative x: a bound of the magnitudes, checked as mag + 1) */
  uint64_t mag[TIDE_FZ_MAX];
} tide_fz_args_t;
/* Runs one chunk of n rows; returns nonzero if any item had a null value
 * (the null counts per slot are then the caller's: rare, a second loop). */
uint32_t tide__agg_fused(tide_fz_args_t *a, uint32_t n);
/* int64 values as doubles, null to null (the int avg fallback feeds the
 * one-pass loop with them); out may be v (in place). */
void tide__agg_i64_to_f64(const int64_t *v, uint32_t n, double *out);
/* nulls[ids[i]] += 1 for each null value of a chunk. */
void tide__agg_null_count(tide_type_t type, const uint32_t *ids, const void *vals, uint32_t n,
                          uint64_t *nulls);

#endif /* TIDE_KERNELS_AGG_H */
