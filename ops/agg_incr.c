/*
 * Incremental agg_by / agg_all_by / count_by over refreshing inputs
 * (docs/TICKING.md, decision 5).
 *
 * Every aggregation has a listener: count, sum, abs_sum, avg, std, var,
 * weighted_sum, weighted_avg in O(changed rows); median, pct,
 * count_distinct in O(changed rows x log); min, max, first, last in
 * O(changed rows) except in cycles that remove a group's extreme/first/last
 * row (then one scan of the input). Every kind works over every input
 * kind (blink: over the whole observed stream).
 *
 * State: the columnar hash table (kernels/hash.h) maps key tuples to group
 * ids 0..ngroups-1 in order of first appearance ever; ids are never reused.
 * Per group: the number of rows, and per aggregation running sums of the
 * non-null values (int64 wrapping sums for integer sum/abs_sum, doubles
 * otherwise), sums of squares (std/var), weight sums (weighted_*), and the
 * count of non-null values. Each accumulator has an "add" and a "subtract"
 * side; a cycle adds the current values of added and modified rows and
 * subtracts the previous values (tide_source_fill_prev at the previous row
 * keys) of removed and modified rows through the static chunk kernels
 * (kernels/agg.h), then folds the sides of every touched group (O(changed
 * rows) per cycle). A group whose non-null count returns to zero resets its
 * sums to exactly zero. Modified rows touch only the aggregations whose
 * input (or weight) columns were modified, unless a key column was
 * modified (the row may change group: all aggregations).
 *
 * min/max keep the current extreme per group: added values update it
 * (tide__agg_minmax); a removed or replaced value equal to its group's
 * extreme marks the group dirty, and the dirty groups are recomputed from
 * their current rows by one scan of the input at the end of the cycle
 * (O(input rows), only in cycles that removed an extreme; append-only,
 * add-only and blink inputs never need it). std/var groups whose variance
 * lost most digits to cancellation are recomputed the same way.
 *
 * first/last keep each group's first and last row key (in the current key
 * space: moved through the input's shifts, O(groups) in a shifting cycle);
 * removing or re-keying the first/last row marks the group dirty (same
 * recomputation); the value is read from the input at that key when the
 * group is written. Blink inputs: first is set once per group, last is the
 * last row of the latest batch that had rows of the group.
 *
 * median, pct, count_distinct keep per group the ordered multiset of its
 * non-null values (os_set below: distinct values with their counts in
 * sorted blocks), updated like the sums: removed and replaced values (read
 * with tide_source_fill_prev) are removed, added and new ones inserted, so
 * a cycle costs O(changed rows x (log(group values) + block size)). The
 * touched groups' outputs are read from their sets with the static
 * definitions of ops/agg.c: values ordered by the radix-sort encoding
 * (-0.0 equals 0.0, NaN sorts last and all NaNs are one value), symbols by
 * string, strings by strcmp; pct p is the value at floor(p (n - 1)); the
 * median of an integer or float column is the mean of the values at
 * floor((n - 1) / 2) and floor(n / 2) (a double), of other types the
 * first of them; count_distinct is the number of distinct values (+1 with
 * count_nulls when the group has a null row). Strings are kept as pointers
 * into the input's storage (kept alive by the output column).
 *
 * No per-row state is kept: the group of a removed or modified row is found
 * by probing the hash table with the previous key values, so input shifts
 * need no handling except mapping a modified row's current key back to its
 * previous key (to read its previous values).
 *
 * Result: row key = group id; the RowSet holds the groups that currently
 * have at least one row (without key columns: always the single group 0).
 * A group whose rows are all removed is removed; if its key reappears it is
 * added again with the same row key. So, as in Deephaven, a group keeps its
 * original slot: the row order is the order of first appearance over the
 * whole history, which can differ from a static agg_by over the current
 * rows (first appearance in the current order). Compare by key.
 * Output columns are paged sources tracking previous values; an update
 * reports removed / added / modified groups, with modified columns = every
 * aggregation when rows were added, removed or re-keyed, else those whose
 * inputs were modified (key columns never change).
 *
 * Blink inputs: the result aggregates the whole observed stream (removed
 * rows of a blink input are not subtracted); the result is a standard
 * table. Append-only inputs never remove.
 *
 * Floating point: sums are maintained by adding and subtracting, so they
 * can differ in the last bits from a fresh sum. NaN and infinities never
 * enter the running sums: each float accumulator counts per group its NaN,
 * +inf and -inf summands (values; abs_sum: absolute values; weighted:
 * the products w * v and the weights apart), and the result is what IEEE
 * addition of every summand gives (a NaN, or +inf with -inf: NaN; else
 * the infinity; else the finite sum), so removing the last NaN or infinity
 * of a group restores its finite result. std/var of a group holding a NaN
 * or an infinity is NaN (as the static Welford update gives). std/var keep
 * the sum and the sum of squares of v - K, K being a finite value of the
 * group chosen when it had none (less cancellation).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "kernels/agg.h"
#include "kernels/hash.h"
#include "kernels/radix.h"
#include "ops/agg_int.h"
#include "sched/graph_int.h"

/* ------------------------------------------- ordered multisets (os_set)
 *
 * The non-null values of one group for median/pct/count_distinct: distinct
 * values in order with their multiplicities, in blocks of at most OS_BMAX
 * entries (a sorted list of sorted blocks). Values are uint64 keys: the
 * order-preserving encoding of kernels/radix.h for numeric, bool and
 * timestamp inputs (OS_U64: -0.0 is 0.0, every NaN one value, as the static
 * sort), the dictionary code for symbols compared by their strings (OS_SYM:
 * a copy of the dictionary's string pointers, extended with the new codes
 * each cycle, so a growing dictionary costs O(new symbols)), the string
 * pointer compared with strcmp (OS_STR).
 * Insert and remove: a binary search over the blocks' last keys
 * (contiguous), one inside the block, and a move of at most OS_BMAX
 * entries; a full block splits, a small one merges with a neighbour. The
 * k-th value: a scan of the blocks' counts (contiguous, values / ~64
 * entries) then of one block. */
#ifndef OS_BMAX
#define OS_BMAX 128
#endif
enum { OS_U64, OS_SYM, OS_STR };

typedef struct os_blk {
  uint32_t n, cap;
  uint64_t *k; /* cap keys, then cap counts (one allocation) */
} os_blk;

typedef struct os_set {
  uint64_t total;    /* values, with multiplicity */
  uint64_t distinct; /* distinct values */
  uint32_t nb, bcap;
  os_blk *b;         /* blocks in value order, none empty */
  uint64_t *bmax;    /* last key of each block */
  uint64_t *btot;    /* values in each block */
} os_set;

static void os_free(os_set *s) {
  for (uint32_t i = 0; i < s->nb; i++) tide_free(s->b[i].k);
  tide_free(s->b);
  tide_free(s->bmax);
  tide_free(s->btot);
  memset(s, 0, sizeof *s);
}

/* Lower bound of x: the block bi and position pos of the first value >= x
 * (the end of the last block when none); found when that value equals x. */
#define OS_FIND(NAME, LESS)                                                              \
  static inline void NAME(const os_set *s, uint64_t x, const char *const *syms,          \
                          uint32_t *bi, uint32_t *pos, bool *found) {                    \
    (void)syms;                                                                          \
    uint32_t lo = 0, hi = s->nb;                                                         \
    while (lo < hi) {                                                                    \
      uint32_t m = lo + (hi - lo) / 2;                                                   \
      if (LESS(s->bmax[m], x)) lo = m + 1;                                               \
      else hi = m;                                                                       \
    }                                                                                    \
    if (lo == s->nb) {                                                                   \
      *bi = s->nb ? s->nb - 1 : 0;                                                       \
      *pos = s->nb ? s->b[s->nb - 1].n : 0;                                              \
      *found = false;                                                                    \
      return;                                                                            \
    }                                                                                    \
    const uint64_t *k = s->b[lo].k;                                                      \
    uint32_t a = 0, z = s->b[lo].n;                                                      \
    while (a < z) {                                                                      \
      uint32_t m = a + (z - a) / 2;                                                      \
      if (LESS(k[m], x)) a = m + 1;                                                      \
      else z = m;                                                                        \
    }                                                                                    \
    *bi = lo;                                                                            \
    *pos = a;                                                                            \
    *found = !LESS(x, k[a]); /* a < n: bmax[lo] >= x */                                  \
  }
#define OS_LESS_U64(a, b) ((a) < (b))
#define OS_LESS_SYM(a, b) (strcmp(syms[(a)], syms[(b)]) < 0)
#define OS_LESS_STR(a, b) (strcmp((const char *)(uintptr_t)(a), (const char *)(uintptr_t)(b)) < 0)
OS_FIND(os_find_u64, OS_LESS_U64)
OS_FIND(os_find_sym, OS_LESS_SYM)
OS_FIND(os_find_str, OS_LESS_STR)
#undef OS_FIND

/* Reallocate block b to capacity cap (>= b->n). */
static bool os_blk_resize(os_blk *b, uint32_t cap) {
  uint64_t *k = tide_malloc((size_t)cap * 2 * sizeof *k);
  if (!k) return false;
  if (b->k) {
    memcpy(k, b->k, b->n * sizeof *k);
    memcpy(k + cap, b->k + b->cap, b->n * sizeof *k);
    tide_free(b->k);
  }
  b->k = k;
  b->cap = cap;
  return true;
}

/* Room for one more block in s. */
static bool os_reserve_blocks(os_set *s) {
  if (s->nb < s->bcap) return true;
  uint32_t cap = s->bcap ? s->bcap * 2 : 2;
  os_blk *b = tide_realloc(s->b, cap * sizeof *b);
  if (!b) return false;
  s->b = b;
  uint64_t *m = tide_realloc(s->bmax, cap * sizeof *m);
  if (!m) return false;
  s->bmax = m;
  uint64_t *t = tide_realloc(s->btot, cap * sizeof *t);
  if (!t) return false;
  s->btot = t;
  s->bcap = cap;
  return true;
}

/* Open a hole for a block at index i (block i left empty). */
static void os_open_block(os_set *s, uint32_t i) {
  memmove(s->b + i + 1, s->b + i, (s->nb - i) * sizeof *s->b);
  memmove(s->bmax + i + 1, s->bmax + i, (s->nb - i) * sizeof *s->bmax);
  memmove(s->btot + i + 1, s->btot + i, (s->nb - i) * sizeof *s->btot);
  memset(&s->b[i], 0, sizeof s->b[i]);
  s->nb++;
}

static void os_close_block(os_set *s, uint32_t i) {
  tide_free(s->b[i].k);
  memmove(s->b + i, s->b + i + 1, (s->nb - i - 1) * sizeof *s->b);
  memmove(s->bmax + i, s->bmax + i + 1, (s->nb - i - 1) * sizeof *s->bmax);
  memmove(s->btot + i, s->btot + i + 1, (s->nb - i - 1) * sizeof *s->btot);
  s->nb--;
}

/* Add one x at the position an os_find_* returned. False on OOM (s
 * unchanged). */
static bool os_insert(os_set *s, uint32_t bi, uint32_t pos, bool found, uint64_t x) {
  if (found) {
    s->b[bi].k[s->b[bi].cap + pos]++;
    s->btot[bi]++;
    s->total++;
    return true;
  }
  if (s->nb == 0) {
    if (!os_reserve_blocks(s)) return false;
    os_blk nb0 = {0, 0, NULL};
    if (!os_blk_resize(&nb0, 4)) return false;
    s->b[0] = nb0;
    s->btot[0] = 0;
    s->nb = 1;
    bi = pos = 0;
  }
  os_blk *b = &s->b[bi];
  if (b->n == b->cap) {
    if (b->cap < OS_BMAX) {
      if (!os_blk_resize(b, TIDE_MIN(b->cap * 2, (uint32_t)OS_BMAX))) return false;
    } else if (pos == b->n && bi == s->nb - 1) {
      /* past the largest value (ascending inserts): a new last block, the
       * full one stays full */
      os_blk nw = {0, 0, NULL};
      if (!os_reserve_blocks(s) || !os_blk_resize(&nw, OS_BMAX)) return false;
      os_open_block(s, bi + 1);
      s->b[bi + 1] = nw;
      s->btot[bi + 1] = 0;
      bi++;
      pos = 0;
      b = &s->b[bi];
    } else {
      /* split: the upper half moves to a new block bi + 1 */
      os_blk nw = {0, 0, NULL};
      if (!os_reserve_blocks(s) || !os_blk_resize(&nw, OS_BMAX)) return false;
      b = &s->b[bi];
      const uint32_t h = b->n / 2, m = b->n - h;
      memcpy(nw.k, b->k + h, m * sizeof *nw.k);
      memcpy(nw.k + nw.cap, b->k + b->cap + h, m * sizeof *nw.k);
      nw.n = m;
      uint64_t t = 0;
      for (uint32_t j = 0; j < m; j++) t += nw.k[nw.cap + j];
      b->n = h;
      os_open_block(s, bi + 1);
      s->b[bi + 1] = nw;
      s->bmax[bi + 1] = s->bmax[bi];
      s->btot[bi + 1] = t;
      s->btot[bi] -= t;
      s->bmax[bi] = s->b[bi].k[h - 1];
      if (pos > h) {
        bi++;
        pos -= h;
      }
      b = &s->b[bi];
    }
  }
  uint64_t *k = b->k, *c = b->k + b->cap;
  memmove(k + pos + 1, k + pos, (b->n - pos) * sizeof *k);
  memmove(c + pos + 1, c + pos, (b->n - pos) * sizeof *c);
  k[pos] = x;
  c[pos] = 1;
  b->n++;
  if (pos == b->n - 1) s->bmax[bi] = x;
  s->btot[bi]++;
  s->total++;
  s->distinct++;
  return true;
}

/* Merge block i + 1 into block i (their entries fit OS_BMAX). */
static bool os_merge(os_set *s, uint32_t i) {
  os_blk *a = &s->b[i];
  const os_blk *b = &s->b[i + 1];
  if (a->n + b->n > a->cap && !os_blk_resize(a, OS_BMAX)) return false;
  memcpy(a->k + a->n, b->k, b->n * sizeof *a->k);
  memcpy(a->k + a->cap + a->n, b->k + b->cap, b->n * sizeof *a->k);
  a->n += b->n;
  s->btot[i] += s->btot[i + 1];
  s->bmax[i] = s->bmax[i + 1];
  os_close_block(s, i + 1);
  return true;
}

/* Remove one x found by an os_find_* at (bi, pos). */
static void os_remove(os_set *s, uint32_t bi, uint32_t pos) {
  os_blk *b = &s->b[bi];
  uint64_t *k = b->k, *c = b->k + b->cap;
  s->btot[bi]--;
  s->total--;
  if (--c[pos]) return;
  memmove(k + pos, k + pos + 1, (b->n - pos - 1) * sizeof *k);
  memmove(c + pos, c + pos + 1, (b->n - pos - 1) * sizeof *c);
  b->n--;
  s->distinct--;
  if (b->n == 0) {
    os_close_block(s, bi);
    return;
  }
  if (pos == b->n) s->bmax[bi] = k[b->n - 1];
  /* a small block merges with a neighbour when both fit half a block (a
   * failed merge only leaves a small block) */
  if (b->n < OS_BMAX / 8) {
    if (bi + 1 < s->nb && b->n + s->b[bi + 1].n <= OS_BMAX / 2) (void)os_merge(s, bi);
    else if (bi > 0 && b->n + s->b[bi - 1].n <= OS_BMAX / 2) (void)os_merge(s, bi - 1);
  }
}

/* The value at index idx < total of the ordered values. */
static uint64_t os_kth(const os_set *s, uint64_t idx) {
  uint32_t bi = 0;
  while (idx >= s->btot[bi]) idx -= s->btot[bi++];
  const os_blk *b = &s->b[bi];
  const uint64_t *c = b->k + b->cap;
  uint32_t j = 0;
  while (idx >= c[j]) idx -= c[j++];
  return b->k[j];
}

typedef struct ai_item {
  tide_agg_kind_t kind;
  int in, weight;
  tide_type_t type;    /* input type */
  bool is_int;         /* integer sum (int64 accumulators) */
  tide_source_t *out;  /* paged, tracked */
  /* accumulators, side 0 (add) and 1 (subtract); gcap entries each */
  uint64_t *sum[2];    /* int64 (is_int) or double bits */
  uint64_t *cnt[2];
  double *sq[2];       /* std/var: sum of squares; weighted: rows with a
                        * non-zero weight */
  double *ws[2];       /* weighted: sum of weights; std/var: ws[0] is the
                        * group's shift K */
  /* min/max: the current extreme per group (input storage type, null when
   * none), groups to recompute, symbol ranks of the input's dictionary */
  unsigned char *acc;
  uint8_t *dirty;
  bool anydirty;
  size_t w;
  uint32_t *ranks;
  uint32_t nranks;
  /* NaN and infinities among the summands of float sums (sum, abs_sum,
   * avg, std, var; weighted: products then weights), per group and side:
   * nf[side][g * nfw + {0: NaN, 1: +inf, 2: -inf} (+ 3 for weights)];
   * nfw 0 when the inputs cannot hold them (integers) */
  unsigned nfw;
  uint64_t *nf[2];
  /* median, pct, count_distinct: each group's non-null values */
  int osmode;          /* OS_U64, OS_SYM, OS_STR */
  double pct;
  bool count_nulls;
  os_set *os;          /* gcap entries */
  const char **syms;   /* OS_SYM: string of each dictionary code */
  uint32_t nsyms, symcap;
  /* the first snapshot of a big input: (value, group) pairs collected,
   * then sorted and appended to the sets in order */
  uint64_t *bk, *bv;
  uint64_t bn;
  char name[AGG_NAME_MAX];
} ai_item;

typedef struct ai_state {
  const char *op;
  size_t nby;
  int *byidx;
  tide_type_t *bytypes;
  tide_keyset_t *ks;
  size_t nitems;
  ai_item *items;
  tide_source_t **keyout; /* nby paged sources */
  uint32_t ng, gcap;
  int64_t *rows;          /* rows per group */
  uint64_t *stamp;        /* cycle stamp of the last touch */
  uint8_t *was;           /* presence before the cycle (touched groups) */
  uint32_t *touched;
  uint32_t ntouched;
  uint64_t cyc;
  bool blink;
  bool bulk;              /* collecting the first snapshot (ai_os_bulk) */
  /* first/last: each group's first and last row key (current key space;
   * TIDE_NULL_KEY: none), groups to recompute; blink inputs: the cycle
   * that set them (their rows are gone afterwards) */
  bool has_fl;
  uint64_t *fkey, *lkey, *fstamp, *lstamp;
  uint8_t *fldirty;
  bool flany;
  uint64_t *okeys;
  uint8_t *mask;          /* per item: apply in the current pass */
  /* chunk scratch */
  uint64_t *keybuf, *pkeys, *enc;
  void **kvals;           /* nby buffers of TIDE_CHUNK_SIZE * 8 bytes */
  uint32_t *ids, *rowof;
  void *vbuf, *wbuf;
  void *vbuf2; /* previous values next to vbuf (ai_apply_same_keys) */
  double *dv, *dw;
  uint8_t *valid, *wvalid;
} ai_state;

static tide_status ai_oom(const ai_state *s, tide_error *err) {
  return tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", s->op);
}

static bool ai_kind_supported(tide_agg_kind_t k) {
  switch (k) {
    case TIDE_AGG_COUNT:
    case TIDE_AGG_SUM:
    case TIDE_AGG_ABS_SUM:
    case TIDE_AGG_AVG:
    case TIDE_AGG_STD:
    case TIDE_AGG_VAR:
    case TIDE_AGG_WSUM:
    case TIDE_AGG_WAVG:
    case TIDE_AGG_MIN:
    case TIDE_AGG_MAX:
    case TIDE_AGG_FIRST:
    case TIDE_AGG_LAST:
    case TIDE_AGG_MEDIAN:
    case TIDE_AGG_PCT:
    case TIDE_AGG_COUNT_DISTINCT:
      return true;
    default:
      return false;
  }
}

static void ai_state_free(ai_state *s) {
  if (!s) return;
  for (size_t i = 0; i < s->nitems; i++) {
    ai_item *it = &s->items[i];
    tide_source_release(it->out);
    for (int k = 0; k < 2; k++) {
      tide_free(it->sum[k]);
      tide_free(it->cnt[k]);
      tide_free(it->sq[k]);
      tide_free(it->ws[k]);
    }
    tide_free(it->acc);
    tide_free(it->dirty);
    tide_free(it->ranks);
    tide_free(it->nf[0]);
    tide_free(it->nf[1]);
    tide_free(it->syms);
    tide_free(it->bk);
    tide_free(it->bv);
    if (it->os)
      for (uint32_t g = 0; g < s->gcap; g++) os_free(&it->os[g]);
    tide_free(it->os);
  }
  if (s->keyout)
    for (size_t k = 0; k < s->nby; k++) tide_source_release(s->keyout[k]);
  if (s->kvals)
    for (size_t k = 0; k < s->nby; k++) tide_free(s->kvals[k]);
  tide__keyset_free(s->ks);
  tide_free(s->items);
  tide_free(s->keyout);
  tide_free(s->kvals);
  tide_free(s->byidx);
  tide_free(s->bytypes);
  tide_free(s->rows);
  tide_free(s->stamp);
  tide_free(s->was);
  tide_free(s->touched);
  tide_free(s->fkey);
  tide_free(s->lkey);
  tide_free(s->fstamp);
  tide_free(s->lstamp);
  tide_free(s->fldirty);
  tide_free(s->okeys);
  tide_free(s->mask);
  tide_free(s->keybuf);
  tide_free(s->pkeys);
  tide_free(s->enc);
  tide_free(s->ids);
  tide_free(s->rowof);
  tide_free(s->vbuf);
  tide_free(s->vbuf2);
  tide_free(s->wbuf);
  tide_free(s->dv);
  tide_free(s->dw);
  tide_free(s->valid);
  tide_free(s->wvalid);
  tide_free(s);
}

static bool ai_is_os(tide_agg_kind_t k) {
  return k == TIDE_AGG_MEDIAN || k == TIDE_AGG_PCT || k == TIDE_AGG_COUNT_DISTINCT;
}

/* Grow a zero-initialised array from oldn to newn elements of size w. */
static bool ai_grow(void **p, size_t oldn, size_t newn, size_t w) {
  void *q = tide_realloc(*p, newn * w);
  if (!q) return false;
  memset((char *)q + oldn * w, 0, (newn - oldn) * w);
  *p = q;
  return true;
}

/* Make room for group ids < need. */
static tide_status ai_reserve(ai_state *s, uint32_t need, tide_error *err) {
  if (need <= s->gcap) return TIDE_OK;
  uint32_t cap = s->gcap ? s->gcap : 64;
  while (cap < need) cap *= 2;
  bool ok = ai_grow((void **)&s->rows, s->gcap, cap, sizeof *s->rows) &&
            ai_grow((void **)&s->stamp, s->gcap, cap, sizeof *s->stamp) &&
            ai_grow((void **)&s->was, s->gcap, cap, sizeof *s->was) &&
            ai_grow((void **)&s->touched, s->gcap, cap, sizeof *s->touched);
  if (ok && s->has_fl) {
    ok = ai_grow((void **)&s->fkey, s->gcap, cap, 8) &&
         ai_grow((void **)&s->lkey, s->gcap, cap, 8) &&
         ai_grow((void **)&s->fstamp, s->gcap, cap, 8) &&
         ai_grow((void **)&s->lstamp, s->gcap, cap, 8) &&
         ai_grow((void **)&s->fldirty, s->gcap, cap, 1);
    for (uint32_t g = s->gcap; ok && g < cap; g++) s->fkey[g] = s->lkey[g] = TIDE_NULL_KEY;
  }
  for (size_t i = 0; ok && i < s->nitems; i++) {
    ai_item *it = &s->items[i];
    if (ai_is_os(it->kind)) {
      ok = ai_grow((void **)&it->os, s->gcap, cap, sizeof *it->os);
      continue;
    }
    for (int k = 0; ok && k < 2 && it->nfw; k++)
      ok = ai_grow((void **)&it->nf[k], (size_t)s->gcap * it->nfw, (size_t)cap * it->nfw, 8);
    if (ok && (it->kind == TIDE_AGG_STD || it->kind == TIDE_AGG_VAR))
      ok = ai_grow((void **)&it->dirty, s->gcap, cap, 1);
    if (ok && (it->kind == TIDE_AGG_MIN || it->kind == TIDE_AGG_MAX)) {
      ok = ai_grow((void **)&it->acc, s->gcap, cap, it->w) &&
           ai_grow((void **)&it->dirty, s->gcap, cap, 1);
      if (ok) {
        unsigned char nv[8];
        tide_type_null(it->type, nv);
        for (uint32_t g = s->gcap; g < cap; g++) memcpy(it->acc + (size_t)g * it->w, nv, it->w);
      }
      continue;
    }
    for (int k = 0; ok && k < 2; k++) {
      if (it->kind == TIDE_AGG_COUNT) continue;
      ok = ai_grow((void **)&it->sum[k], s->gcap, cap, 8) &&
           ai_grow((void **)&it->cnt[k], s->gcap, cap, 8);
      if (ok && (it->kind == TIDE_AGG_STD || it->kind == TIDE_AGG_VAR ||
                 it->kind == TIDE_AGG_WSUM || it->kind == TIDE_AGG_WAVG))
        ok = ai_grow((void **)&it->sq[k], s->gcap, cap, 8);
      if (ok && (it->kind == TIDE_AGG_WSUM || it->kind == TIDE_AGG_WAVG ||
                 it->kind == TIDE_AGG_STD || it->kind == TIDE_AGG_VAR))
        ok = ai_grow((void **)&it->ws[k], s->gcap, cap, 8);
    }
  }
  if (!ok) return ai_oom(s, err);
  s->gcap = cap;
  return TIDE_OK;
}

static void ai_stdvar_add(ai_item *it, const uint32_t *ids, const double *v, const uint8_t *ok,
                          uint32_t n);

/* Removed or replaced values equal to their group's current min/max: the
 * group must be recomputed from its rows. */
static void ai_mark_dirty(ai_item *it, const uint32_t *ids, const void *vals, uint32_t n) {
  uint8_t *dirty = it->dirty;
  uint8_t hit = 0;
  switch (it->type) {
    case TIDE_STRING: {
      const char *const *v = vals;
      const char *const *a = (const char *const *)(const void *)it->acc;
      for (uint32_t i = 0; i < n; i++) {
        const char *x = v[i], *y = a[ids[i]];
        uint8_t d = x && y && strcmp(x, y) == 0;
        dirty[ids[i]] |= d;
        hit |= d;
      }
      break;
    }
#define AI_DIRTY(E, name, ctype)                                   \
  case TIDE_##E: {                                                 \
    const ctype *v = vals;                                         \
    const ctype *a = (const ctype *)(const void *)it->acc;         \
    ctype nv;                                                      \
    tide_type_null(TIDE_##E, &nv);                                 \
    for (uint32_t i = 0; i < n; i++) {                             \
      uint8_t d = memcmp(&v[i], &nv, sizeof nv) != 0 &&            \
                  (v[i] >= a[ids[i]] && v[i] <= a[ids[i]]);        \
      dirty[ids[i]] |= d;                                          \
      hit |= d;                                                    \
    }                                                              \
    break;                                                         \
  }
      AI_DIRTY(BOOL, bool, int8_t)
      AI_DIRTY(TS, timestamp, int64_t)
      AI_DIRTY(SYMBOL, symbol, int32_t)
      TIDE_NUMERIC_TYPES(AI_DIRTY)
#undef AI_DIRTY
    default:
      break;
  }
  if (hit) it->anydirty = true;
}

/* Refresh the symbol ranks of min/max items whose dictionary grew, and
 * the code -> string tables of order-statistic symbol items (new codes). */
static tide_status ai_ranks(ai_state *s, tide_table_t *t, tide_error *err) {
  for (size_t i = 0; i < s->nitems; i++) {
    ai_item *it = &s->items[i];
    if (ai_is_os(it->kind) && it->type == TIDE_SYMBOL) {
      /* order statistics: the strings of the new codes */
      const tide_symtab_t *st = t->cols[it->in]->symtab;
      uint32_t sz = tide_symtab_size(st);
      if (sz <= it->nsyms) continue;
      if (sz > it->symcap) {
        uint32_t cap = it->symcap ? it->symcap : 64;
        while (cap < sz) cap *= 2;
        const char **p = tide_realloc(it->syms, cap * sizeof *p);
        if (!p) return ai_oom(s, err);
        it->syms = p;
        it->symcap = cap;
      }
      for (uint32_t c = it->nsyms; c < sz; c++) it->syms[c] = tide_symtab_str(st, (int32_t)c);
      it->nsyms = sz;
      continue;
    }
    if ((it->kind != TIDE_AGG_MIN && it->kind != TIDE_AGG_MAX) || it->type != TIDE_SYMBOL)
      continue;
    const tide_symtab_t *st = t->cols[it->in]->symtab;
    uint32_t sz = tide_symtab_size(st);
    if (it->ranks && sz == it->nranks) continue;
    uint32_t *r = tide__radix_symbol_ranks(st, err);
    if (!r) return err ? err->status : TIDE_ERR_NOMEM;
    tide_free(it->ranks);
    it->ranks = r;
    it->nranks = sz;
  }
  return TIDE_OK;
}

/* Recompute the min/max of dirty groups from their current rows (one scan
 * of the input, only in cycles that removed or replaced an extreme). */
static tide_status ai_recompute(ai_state *s, tide_table_t *t, tide_error *err) {
  bool any = s->flany;
  for (size_t i = 0; i < s->nitems; i++) any |= s->items[i].anydirty;
  if (!any) return TIDE_OK;
  uint8_t *gd = tide_calloc(s->gcap, 1);
  if (!gd) return ai_oom(s, err);
  if (s->flany)
    for (uint32_t j = 0; j < s->ntouched; j++) {
      uint32_t g = s->touched[j];
      if (!s->fldirty[g]) continue;
      gd[g] = 1;
      s->fkey[g] = s->lkey[g] = TIDE_NULL_KEY;
    }
  for (size_t i = 0; i < s->nitems; i++) {
    ai_item *it = &s->items[i];
    if (!it->anydirty) continue;
    const bool sv = it->kind == TIDE_AGG_STD || it->kind == TIDE_AGG_VAR;
    unsigned char nv[8];
    if (!sv) tide_type_null(it->type, nv);
    for (uint32_t j = 0; j < s->ntouched; j++) {
      uint32_t g = s->touched[j];
      if (!it->dirty[g]) continue;
      gd[g] = 1;
      if (sv) {
        it->cnt[0][g] = it->cnt[1][g] = 0;
        it->sum[0][g] = it->sum[1][g] = 0;
        it->sq[0][g] = it->sq[1][g] = 0;
        if (it->nfw)
          for (unsigned k = 0; k < it->nfw; k++)
            it->nf[0][(size_t)g * it->nfw + k] = it->nf[1][(size_t)g * it->nfw + k] = 0;
      } else {
        memcpy(it->acc + (size_t)g * it->w, nv, it->w);
      }
    }
  }
  tide_rowset_iter_t iter;
  tide_rowseq_t seq;
  tide_rowset_iter_init(&iter, t->rowset);
  while (tide_rowset_iter_next_chunk(&iter, TIDE_CHUNK_SIZE, &seq, s->keybuf)) {
    uint32_t n = seq.n;
    atomic_fetch_add_explicit(&tide__agg_incr_scanned_rows, n, memory_order_relaxed);
    if (s->nby == 0) {
      memset(s->ids, 0, n * sizeof *s->ids);
    } else {
      for (size_t k = 0; k < s->nby; k++) tide_source_fill(t->cols[s->byidx[k]], &seq, s->kvals[k]);
      tide__keyset_find(s->ks, (const void *const *)s->kvals, n, s->ids);
    }
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
      uint32_t g = s->ids[i];
      if (g == TIDE_KEYSET_ABSENT || !gd[g]) continue;
      s->pkeys[m] = seq.keys ? seq.keys[i] : seq.first + i;
      s->rowof[m++] = g;
    }
    if (!m) continue;
    if (s->flany)
      for (uint32_t i = 0; i < m; i++) {
        uint32_t g = s->rowof[i];
        if (!s->fldirty[g]) continue;
        if (s->fkey[g] == TIDE_NULL_KEY) s->fkey[g] = s->pkeys[i];
        s->lkey[g] = s->pkeys[i];
      }
    tide_rowseq_t cs = {0, s->pkeys, 0, m};
    for (size_t ii = 0; ii < s->nitems; ii++) {
      ai_item *it = &s->items[ii];
      if (!it->anydirty) continue;
      if (it->kind == TIDE_AGG_STD || it->kind == TIDE_AGG_VAR) {
        /* only rows of groups dirty for this item */
        tide_source_fill(t->cols[it->in], &cs, s->vbuf);
        tide__agg_to_f64(it->type, s->vbuf, m, s->dv, s->valid);
        for (uint32_t i = 0; i < m; i++) s->valid[i] &= it->dirty[s->rowof[i]];
        ai_stdvar_add(it, s->rowof, s->dv, s->valid, m);
        continue;
      }
      if (it->kind != TIDE_AGG_MIN && it->kind != TIDE_AGG_MAX) continue;
      tide_source_fill(t->cols[it->in], &cs, s->vbuf);
      tide__agg_minmax(it->type, it->kind == TIDE_AGG_MAX, s->rowof, s->vbuf, m, it->ranks,
                       it->acc);
    }
  }
  for (size_t i = 0; i < s->nitems; i++) {
    ai_item *it = &s->items[i];
    if (!it->anydirty) continue;
    for (uint32_t j = 0; j < s->ntouched; j++) it->dirty[s->touched[j]] = 0;
    it->anydirty = false;
  }
  if (s->flany) {
    for (uint32_t j = 0; j < s->ntouched; j++) s->fldirty[s->touched[j]] = 0;
    s->flany = false;
  }
  tide_free(gd);
  return TIDE_OK;
}

/* Rows read by whole-input scans and rows applied (test hook, see
 * ops/agg_int.h). */
_Atomic uint64_t tide__agg_incr_scanned_rows;
_Atomic uint64_t tide__agg_incr_applied_rows;

/* Median/pct/count_distinct: insert (side 0) or remove (side 1) the
 * non-null values vals[0..n) of groups ids in the groups' ordered sets. */
static tide_status ai_os_apply(ai_state *s, ai_item *it, const uint32_t *ids, const void *vals,
                               uint32_t n, int side, tide_error *err) {
  uint64_t *k = s->enc;
  uint8_t *ok = s->valid;
  switch (it->osmode) {
    case OS_U64:
      tide__radix_encode(it->type, vals, n, false, NULL, k);
      for (uint32_t i = 0; i < n; i++) ok[i] = k[i] != 0; /* 0 encodes null */
      break;
    case OS_SYM: {
      const int32_t *c = vals;
      for (uint32_t i = 0; i < n; i++) {
        ok[i] = c[i] >= 0;
        k[i] = (uint32_t)c[i];
      }
      break;
    }
    default: {
      const char *const *p = vals;
      for (uint32_t i = 0; i < n; i++) {
        ok[i] = p[i] != NULL;
        k[i] = (uint64_t)(uintptr_t)p[i];
      }
      break;
    }
  }
  if (s->bulk) { /* side 0: collect */
    uint64_t *bk = it->bk, *bv = it->bv, m = it->bn;
    for (uint32_t i = 0; i < n; i++) {
      bk[m] = k[i];
      bv[m] = ids[i];
      m += ok[i];
    }
    it->bn = m;
    return TIDE_OK;
  }
  const char *const *syms = it->syms;
  os_set *sets = it->os;
  uint32_t bad = n;
#define AI_OS_LOOP(FIND)                                        \
  for (uint32_t i = 0; i < n; i++) {                            \
    if (!ok[i]) continue;                                       \
    os_set *set = &sets[ids[i]];                                \
    uint32_t bi, pos;                                           \
    bool f;                                                     \
    FIND(set, k[i], syms, &bi, &pos, &f);                       \
    if (side == 0) {                                            \
      if (!os_insert(set, bi, pos, f, k[i])) return ai_oom(s, err); \
    } else if (f) {                                             \
      os_remove(set, bi, pos);                                  \
    } else {                                                    \
      bad = i;                                                  \
      break;                                                    \
    }                                                           \
  }
  switch (it->osmode) {
    case OS_U64: AI_OS_LOOP(os_find_u64) break;
    case OS_SYM: AI_OS_LOOP(os_find_sym) break;
    default: AI_OS_LOOP(os_find_str) break;
  }
#undef AI_OS_LOOP
  if (bad < n)
    return tide_error_set(err, TIDE_ERR_STATE,
                          "%s: column '%s': a removed or replaced value is not among its "
                          "group's values (inconsistent previous values)",
                          s->op, it->name);
  return TIDE_OK;
}

/* Append x, not below any value of s (same: x equals the largest). */
static bool os_append(os_set *s, uint64_t x, bool same) {
  if (same) {
    os_blk *b = &s->b[s->nb - 1];
    b->k[b->cap + b->n - 1]++;
    s->btot[s->nb - 1]++;
    s->total++;
    return true;
  }
  return os_insert(s, s->nb ? s->nb - 1 : 0, s->nb ? s->b[s->nb - 1].n : 0, false, x);
}

/* The first snapshot of the order-statistic item it, collected as
 * (value, group) pairs by ai_os_apply: sort them by value (radix sort,
 * symbols by rank, strings by strcmp) and append each to its group's set
 * (ascending, so every set is built without moves). */
static tide_status ai_os_bulk(ai_state *s, tide_table_t *t, ai_item *it, tide_error *err) {
  const uint64_t n = it->bn;
  const int nt = tide__threads_for(n);
  uint64_t *tk = tide_malloc((n ? n : 1) * sizeof *tk);
  uint64_t *tv = tide_malloc((n ? n : 1) * sizeof *tv);
  const char **strs = NULL;
  uint32_t *ranks = NULL;
  tide_status st = TIDE_OK;
  if (!tk || !tv) goto oom;
  os_set *sets = it->os;
  if (it->osmode == OS_STR) {
    strs = tide_malloc((n ? n : 1) * sizeof *strs);
    if (!strs) goto oom;
    for (uint64_t i = 0; i < n; i++) strs[i] = (const char *)(uintptr_t)it->bk[i];
    tide__sort_strings_par(strs, it->bv, n, false, (const char **)(void *)tk, tv, nt);
    for (uint64_t i = 0; i < n; i++) {
      os_set *set = &sets[it->bv[i]];
      const bool same =
          set->nb && strcmp((const char *)(uintptr_t)set->bmax[set->nb - 1], strs[i]) == 0;
      if (!os_append(set, (uint64_t)(uintptr_t)strs[i], same)) goto oom;
    }
    goto done;
  }
  uint64_t *ok, *ov;
  if (it->osmode == OS_SYM) {
    ranks = tide__radix_symbol_ranks(t->cols[it->in]->symtab, err);
    if (!ranks) {
      st = err && err->status != TIDE_OK ? err->status : TIDE_ERR_NOMEM;
      goto done;
    }
    for (uint64_t i = 0; i < n; i++) {
      it->bv[i] = it->bv[i] << 32 | it->bk[i];
      it->bk[i] = ranks[it->bk[i]];
    }
  }
  tide__radix_sort_par(it->bk, it->bv, tk, tv, n, nt, &ok, &ov);
  if (it->osmode == OS_SYM) {
    for (uint64_t i = 0; i < n; i++) {
      os_set *set = &sets[ov[i] >> 32];
      uint64_t code = (uint32_t)ov[i];
      if (!os_append(set, code, set->nb && set->bmax[set->nb - 1] == code)) goto oom;
    }
  } else {
    for (uint64_t i = 0; i < n; i++) {
      os_set *set = &sets[ov[i]];
      if (!os_append(set, ok[i], set->nb && set->bmax[set->nb - 1] == ok[i])) goto oom;
    }
  }
  goto done;
oom:
  st = ai_oom(s, err);
done:
  tide_free(tk);
  tide_free(tv);
  tide_free(strs);
  tide_free(ranks);
  tide_free(it->bk);
  tide_free(it->bv);
  it->bk = it->bv = NULL;
  it->bn = 0;
  return st;
}

/* Order-preserving keys (tide__radix_encode) back to values of type. */
static void ai_os_decode(tide_type_t type, const uint64_t *k, uint32_t n, void *out) {
  switch (type) {
    case TIDE_BOOL:
    case TIDE_I8: {
      int8_t *o = out;
      for (uint32_t i = 0; i < n; i++) o[i] = (int8_t)(uint8_t)((uint8_t)k[i] ^ 0x80u);
      break;
    }
    case TIDE_I16: {
      int16_t *o = out;
      for (uint32_t i = 0; i < n; i++) o[i] = (int16_t)(uint16_t)((uint16_t)k[i] ^ 0x8000u);
      break;
    }
    case TIDE_I32: {
      int32_t *o = out;
      for (uint32_t i = 0; i < n; i++) o[i] = (int32_t)((uint32_t)k[i] ^ 0x80000000u);
      break;
    }
    case TIDE_F32: {
      float *o = out;
      for (uint32_t i = 0; i < n; i++) {
        uint32_t x = (uint32_t)k[i];
        uint32_t b = x & 0x80000000u ? x ^ 0x80000000u : ~x; /* NaN: 0x7fffffff */
        memcpy(&o[i], &b, 4);
      }
      break;
    }
    case TIDE_F64: {
      double *o = out;
      for (uint32_t i = 0; i < n; i++) {
        uint64_t x = k[i];
        uint64_t b = x >> 63 ? x ^ 0x8000000000000000ull : ~x;
        memcpy(&o[i], &b, 8);
      }
      break;
    }
    default: { /* I64, TS */
      int64_t *o = out;
      for (uint32_t i = 0; i < n; i++) o[i] = (int64_t)(k[i] ^ 0x8000000000000000ull);
      break;
    }
  }
}

/* Outputs of an order-statistic item for groups gs[0..n) at keys: read
 * from the groups' sets (as ops/agg.c: pct p the value at floor(p (n-1));
 * median of a numeric column the mean of the values at floor((n-1)/2) and
 * floor(n/2), of other types the first of them; count_distinct the
 * distinct values, plus one with count_nulls if the group has a null). */
static tide_status ai_os_write(ai_state *s, ai_item *it, const uint32_t *gs, const uint64_t *keys,
                               uint32_t n, tide_error *err) {
  if (it->kind == TIDE_AGG_COUNT_DISTINCT) {
    int64_t *o = s->vbuf;
    for (uint32_t j = 0; j < n; j++) {
      const os_set *set = &it->os[gs[j]];
      o[j] = (int64_t)set->distinct +
             (it->count_nulls && (uint64_t)s->rows[gs[j]] > set->total ? 1 : 0);
    }
    return tide__source_paged_set(it->out, keys, n, s->vbuf) == TIDE_OK ? TIDE_OK
                                                                       : ai_oom(s, err);
  }
  const bool nmed = it->kind == TIDE_AGG_MEDIAN && tide_type_is_numeric(it->type);
  uint64_t *lo = s->keybuf, *hi = s->okeys;
  uint8_t *has = s->wvalid;
  for (uint32_t j = 0; j < n; j++) {
    const os_set *set = &it->os[gs[j]];
    const uint64_t len = set->total;
    has[j] = len > 0;
    if (!len) {
      lo[j] = hi[j] = 0;
      continue;
    }
    uint64_t idx;
    if (it->kind == TIDE_AGG_PCT) {
      idx = (uint64_t)floor(it->pct * (double)(len - 1));
      if (idx >= len) idx = len - 1;
    } else {
      idx = (len - 1) / 2;
    }
    lo[j] = os_kth(set, idx);
    hi[j] = nmed && len / 2 != idx ? os_kth(set, len / 2) : lo[j];
  }
  if (nmed) {
    double *od = s->vbuf;
    ai_os_decode(it->type, lo, n, s->wbuf);
    tide__agg_to_f64(it->type, s->wbuf, n, s->dv, s->valid);
    ai_os_decode(it->type, hi, n, s->wbuf);
    tide__agg_to_f64(it->type, s->wbuf, n, s->dw, s->valid);
    for (uint32_t j = 0; j < n; j++) {
      double a = s->dv[j], b = s->dw[j];
      od[j] = has[j] ? (a == b ? a : (a + b) / 2.0) : TIDE_NULL_F64;
    }
  } else if (it->osmode == OS_U64) {
    ai_os_decode(it->type, lo, n, s->vbuf);
    unsigned char nv[8];
    tide_type_null(it->type, nv);
    for (uint32_t j = 0; j < n; j++)
      if (!has[j]) memcpy((unsigned char *)s->vbuf + (size_t)j * it->w, nv, it->w);
  } else if (it->osmode == OS_SYM) {
    int32_t *o = s->vbuf;
    for (uint32_t j = 0; j < n; j++) o[j] = has[j] ? (int32_t)lo[j] : TIDE_NULL_SYMBOL;
  } else {
    const char **o = s->vbuf;
    for (uint32_t j = 0; j < n; j++) o[j] = has[j] ? (const char *)(uintptr_t)lo[j] : NULL;
  }
  return tide__source_paged_set(it->out, keys, n, s->vbuf) == TIDE_OK ? TIDE_OK
                                                                     : ai_oom(s, err);
}

/* Class of a non-finite double: 0 NaN, 1 +inf, 2 -inf. */
#define AI_NF_CLASS(x) ((x) != (x) ? 0 : (x) > 0 ? 1 : 2)

/* A float sum from its finite part and its counts of NaN, +inf and -inf
 * summands (nf[0..3)), as IEEE addition of every summand gives it. */
static double ai_nf_total(double finite, const uint64_t *nf) {
  if (nf[0] || (nf[1] && nf[2])) return NAN;
  if (nf[1]) return INFINITY;
  if (nf[2]) return -INFINITY;
  return finite;
}

static bool ai_present(const ai_state *s, uint32_t g) { return s->nby == 0 || s->rows[g] > 0; }

/* std/var: add valid values v[0..n) of groups ids (see ai_apply). */
static void ai_stdvar_add(ai_item *it, const uint32_t *ids, const double *v, const uint8_t *ok,
                          uint32_t n) {
  double *sum0 = (double *)it->sum[0], *sum1 = (double *)it->sum[1];
  double *sq0 = it->sq[0], *sq1 = it->sq[1], *kk = it->ws[0];
  uint64_t *c0 = it->cnt[0], *c1 = it->cnt[1];
  uint64_t *nf0 = it->nf[0], *nf1 = it->nf[1];
  for (uint32_t i = 0; i < n; i++) {
    if (!ok[i]) continue;
    uint32_t g = ids[i];
    if (c0[g] == c1[g]) {
      c0[g] = c1[g] = 0;
      sum0[g] = sum1[g] = sq0[g] = sq1[g] = 0;
      kk[g] = isfinite(v[i]) ? v[i] : 0.0;
      if (nf0)
        for (int k = 0; k < 3; k++) nf0[(size_t)g * 3 + k] = nf1[(size_t)g * 3 + k] = 0;
    }
    c0[g]++;
    if (nf0 && !isfinite(v[i])) { /* the result is NaN while it stays */
      nf0[(size_t)g * 3 + AI_NF_CLASS(v[i])]++;
      continue;
    }
    double x = v[i] - kk[g];
    sum0[g] += x;
    sq0[g] += x * x;
  }
}

/* Apply one chunk of rows (keys seq) to the accumulators: side 0 adds the
 * current values, side 1 subtracts the previous ones. Items with
 * s->mask[i] == 0 are skipped; row counts always follow. */
/* First/last row keys: mode 1 marks the groups of rows (keys seq, groups
 * ids) whose first or last row they are dirty; mode 2 extends the groups'
 * first/last keys with the rows. */
static void ai_fl(ai_state *s, const tide_rowseq_t *seq, const uint32_t *ids, int mode) {
  uint64_t *fk = s->fkey, *lk = s->lkey;
  for (uint32_t i = 0; i < seq->n; i++) {
    uint32_t g = ids[i];
    uint64_t k = seq->keys ? seq->keys[i] : seq->first + i;
    if (mode == 1) {
      if (k == fk[g] || k == lk[g]) {
        s->fldirty[g] = 1;
        s->flany = true;
      }
    } else if (s->blink) {
      if (fk[g] == TIDE_NULL_KEY) {
        fk[g] = k;
        s->fstamp[g] = s->cyc;
      }
      if (s->lstamp[g] != s->cyc || lk[g] == TIDE_NULL_KEY || k > lk[g]) {
        s->lstamp[g] = s->cyc;
        lk[g] = k;
      }
    } else {
      if (fk[g] == TIDE_NULL_KEY || k < fk[g]) fk[g] = k;
      if (lk[g] == TIDE_NULL_KEY || k > lk[g]) lk[g] = k;
    }
  }
}

/* Fold the values vb of one item (already read: previous values for
 * side 1, current ones for side 0) into the groups ids. */
static tide_status ai_item_values(ai_state *s, tide_table_t *t, ai_item *it,
                                  const tide_rowseq_t *seq, const uint32_t *ids, void *vb,
                                  uint32_t n, int side, tide_error *err) {
  const bool prev = side == 1;
  if (ai_is_os(it->kind)) {
    tide_status st = ai_os_apply(s, it, ids, vb, n, side, err);
    if (st != TIDE_OK) return st;
    return TIDE_OK;
  }
  uint64_t *nf = it->nf[side];
  switch (it->kind) {
    case TIDE_AGG_MIN:
    case TIDE_AGG_MAX:
      if (side == 0)
        tide__agg_minmax(it->type, it->kind == TIDE_AGG_MAX, ids, vb, n, it->ranks, it->acc);
      else
        ai_mark_dirty(it, ids, vb, n);
      break;
    case TIDE_AGG_SUM:
    case TIDE_AGG_ABS_SUM:
      if (!nf) {
        tide__agg_sum(it->type, it->kind == TIDE_AGG_ABS_SUM, ids, vb, n, it->sum[side],
                      it->cnt[side]);
        break;
      }
      /* float sums (abs_sum: absolute values) as avg */
      /* fall through */
    case TIDE_AGG_AVG:
      tide__agg_to_f64(it->type, vb, n, s->dv, s->valid);
      if (!nf) {
        tide__agg_sum_f64(ids, s->dv, s->valid, n, (double *)it->sum[side], it->cnt[side]);
      } else {
        /* finite values into the sum, NaN and infinities counted */
        const bool absval = it->kind == TIDE_AGG_ABS_SUM;
        double *sums = (double *)it->sum[side];
        uint64_t *cnt = it->cnt[side];
        const double *v = s->dv;
        const uint8_t *ok = s->valid;
        for (uint32_t i = 0; i < n; i++) {
          if (!ok[i]) continue;
          uint32_t g = ids[i];
          double x = absval ? fabs(v[i]) : v[i];
          cnt[g]++;
          if (isfinite(x)) sums[g] += x;
          else nf[(size_t)g * 3 + AI_NF_CLASS(x)]++;
        }
      }
      break;
    case TIDE_AGG_STD:
    case TIDE_AGG_VAR: {
      /* sums of (v - K) and (v - K)^2 with K a value of the group (set
       * when the group has no values), against cancellation */
      tide__agg_to_f64(it->type, vb, n, s->dv, s->valid);
      double *sum1 = (double *)it->sum[1];
      double *sq1 = it->sq[1], *kk = it->ws[0];
      uint64_t *c1 = it->cnt[1];
      const double *v = s->dv;
      const uint8_t *ok = s->valid;
      if (side == 0) {
        ai_stdvar_add(it, ids, v, ok, n);
      } else {
        for (uint32_t i = 0; i < n; i++) {
          if (!ok[i]) continue;
          uint32_t g = ids[i];
          c1[g]++;
          if (nf && !isfinite(v[i])) {
            nf[(size_t)g * 3 + AI_NF_CLASS(v[i])]++;
            continue;
          }
          double x = v[i] - kk[g];
          sum1[g] += x;
          sq1[g] += x * x;
        }
      }
      break;
    }
    default: { /* WSUM, WAVG */
      tide_source_t *wsrc = t->cols[it->weight];
      if (prev)
        tide_source_fill_prev(wsrc, seq, s->wbuf);
      else
        tide_source_fill(wsrc, seq, s->wbuf);
      tide__agg_to_f64(it->type, vb, n, s->dv, s->valid);
      tide__agg_to_f64(wsrc->type, s->wbuf, n, s->dw, s->wvalid);
      if (!nf) {
        tide__agg_weighted(ids, s->dv, s->valid, s->dw, s->wvalid, n, (double *)it->sum[side],
                           it->ws[side], it->cnt[side]);
      } else {
        /* finite products and weights into the sums, the others counted
         * (products at nf[0..3), weights at nf[3..6)) */
        double *wvs = (double *)it->sum[side], *wss = it->ws[side];
        uint64_t *cnt = it->cnt[side];
        const double *v = s->dv, *w = s->dw;
        const uint8_t *vok = s->valid, *wok = s->wvalid;
        for (uint32_t i = 0; i < n; i++) {
          if (!(vok[i] & wok[i])) continue;
          uint32_t g = ids[i];
          double p = w[i] * v[i], x = w[i];
          cnt[g]++;
          if (isfinite(p)) wvs[g] += p;
          else nf[(size_t)g * 6 + AI_NF_CLASS(p)]++;
          if (isfinite(x)) wss[g] += x;
          else nf[(size_t)g * 6 + 3 + AI_NF_CLASS(x)]++;
        }
      }
      double *nz = it->sq[side];
      const double *wv = s->dw;
      const uint8_t *vok = s->valid, *wok = s->wvalid;
      for (uint32_t i = 0; i < n; i++) nz[ids[i]] += vok[i] && wok[i] && wv[i] != 0.0 ? 1.0 : 0.0;
      break;
    }
  }
  return TIDE_OK;
}

/* The group of each row of seq into ids (side 0: current keys, new groups
 * created; side 1: previous keys, which must exist). */
static tide_status ai_group_ids(ai_state *s, tide_table_t *t, const tide_rowseq_t *seq, int side,
                                uint32_t *ids, tide_error *err) {
  const uint32_t n = seq->n;
  const bool prev = side == 1;
  if (s->nby == 0) {
    memset(ids, 0, n * sizeof *ids);
  } else {
    for (size_t k = 0; k < s->nby; k++) {
      tide_source_t *src = t->cols[s->byidx[k]];
      if (prev)
        tide_source_fill_prev(src, seq, s->kvals[k]);
      else
        tide_source_fill(src, seq, s->kvals[k]);
    }
    if (side == 0) {
      uint32_t before = tide__keyset_size(s->ks);
      if (tide__keyset_insert(s->ks, (const void *const *)s->kvals, n, ids) != TIDE_OK)
        return ai_oom(s, err);
      uint32_t after = tide__keyset_size(s->ks);
      if (after > before) {
        tide_status st = ai_reserve(s, after, err);
        if (st != TIDE_OK) return st;
        /* key values of the new groups (ids assigned in row order) */
        uint64_t *gk = s->pkeys;
        uint32_t nn = 0, next = before;
        for (uint32_t i = 0; i < n; i++)
          if (ids[i] == next) {
            gk[nn] = next++;
            s->rowof[nn++] = i;
          }
        const uint32_t *rowof = s->rowof;
        for (size_t k = 0; k < s->nby; k++) {
          size_t w = tide_type_width(s->bytypes[k]);
          unsigned char *dst = s->wbuf;
          const unsigned char *src = s->kvals[k];
          for (uint32_t j = 0; j < nn; j++)
            memcpy(dst + (size_t)j * w, src + (size_t)rowof[j] * w, w);
          if (tide__source_paged_set(s->keyout[k], gk, nn, dst) != TIDE_OK) return ai_oom(s, err);
        }
        s->ng = after;
      }
    } else {
      tide__keyset_find(s->ks, (const void *const *)s->kvals, n, ids);
      for (uint32_t i = 0; i < n; i++)
        if (ids[i] == TIDE_KEYSET_ABSENT)
          return tide_error_set(err, TIDE_ERR_STATE,
                                "%s: a removed or modified row has a key never seen before",
                                s->op);
    }
  }
  return TIDE_OK;
}

/* Mark the groups of ids touched this cycle (remembering whether each
 * was present before) and add d to their row counts per row. */
static void ai_touch(ai_state *s, const uint32_t *ids, uint32_t n, int64_t d) {
  for (uint32_t i = 0; i < n; i++) {
    uint32_t g = ids[i];
    if (s->stamp[g] != s->cyc) {
      s->stamp[g] = s->cyc;
      s->was[g] = s->rows[g] > 0 || (s->nby == 0 && s->cyc > 1);
      s->touched[s->ntouched++] = g;
    }
    s->rows[g] += d;
  }
}

/* Fold the rows of seq, whose groups are ids, into the state (side 0:
 * add current values, side 1: subtract previous ones). */
static tide_status ai_apply_ids(ai_state *s, tide_table_t *t, const tide_rowseq_t *seq,
                                const uint32_t *ids, int side, int flmode, tide_error *err) {
  const uint32_t n = seq->n;
  const bool prev = side == 1;
  atomic_fetch_add_explicit(&tide__agg_incr_applied_rows, n, memory_order_relaxed);
  ai_touch(s, ids, n, side ? -1 : 1);
  if (s->has_fl && flmode) ai_fl(s, seq, ids, flmode);
  for (size_t ii = 0; ii < s->nitems; ii++) {
    ai_item *it = &s->items[ii];
    if (!s->mask[ii] || it->kind == TIDE_AGG_COUNT || it->kind == TIDE_AGG_FIRST ||
        it->kind == TIDE_AGG_LAST)
      continue;
    tide_source_t *src = t->cols[it->in];
    if (prev)
      tide_source_fill_prev(src, seq, s->vbuf);
    else
      tide_source_fill(src, seq, s->vbuf);
    tide_status st = ai_item_values(s, t, it, seq, ids, s->vbuf, n, side, err);
    if (st != TIDE_OK) return st;
  }
  return TIDE_OK;
}

static tide_status ai_apply(ai_state *s, tide_table_t *t, const tide_rowseq_t *seq, int side,
                            int flmode, tide_error *err) {
  tide_status st = ai_group_ids(s, t, seq, side, s->ids, err);
  return st != TIDE_OK ? st : ai_apply_ids(s, t, seq, s->ids, side, flmode, err);
}

/* Modified rows whose group keys did not change, with no shifts: each
 * row's group is found once, and each value column is read once for its
 * current and previous values (tide__source_fill_both): on a large table
 * every one of those reads is a cache miss. Same result as ai_apply of the
 * previous side, then of the current side. */
static tide_status ai_apply_same_keys(ai_state *s, tide_table_t *t, const tide_rowseq_t *seq,
                                      tide_error *err) {
  const uint32_t n = seq->n;
  uint32_t *ids = s->ids;
  atomic_fetch_add_explicit(&tide__agg_incr_applied_rows, 2 * (uint64_t)n,
                            memory_order_relaxed);
  if (s->nby == 0) {
    memset(ids, 0, n * sizeof *ids);
  } else {
    for (size_t k = 0; k < s->nby; k++) tide_source_fill(t->cols[s->byidx[k]], seq, s->kvals[k]);
    tide__keyset_find(s->ks, (const void *const *)s->kvals, n, ids);
    for (uint32_t i = 0; i < n; i++)
      if (ids[i] == TIDE_KEYSET_ABSENT)
        return tide_error_set(err, TIDE_ERR_STATE,
                              "%s: a modified row has a key never seen before", s->op);
  }
  ai_touch(s, ids, n, 0); /* row counts stay */
  if (s->has_fl) ai_fl(s, seq, ids, 2);
  for (size_t ii = 0; ii < s->nitems; ii++) {
    ai_item *it = &s->items[ii];
    if (!s->mask[ii] || it->kind == TIDE_AGG_COUNT || it->kind == TIDE_AGG_FIRST ||
        it->kind == TIDE_AGG_LAST)
      continue;
    tide__source_fill_both(t->cols[it->in], seq, s->vbuf, s->vbuf2);
    tide_status st = ai_item_values(s, t, it, seq, ids, s->vbuf2, n, 1, err);
    if (st == TIDE_OK) st = ai_item_values(s, t, it, seq, ids, s->vbuf, n, 0, err);
    if (st != TIDE_OK) return st;
  }
  return TIDE_OK;
}

/* Apply every key of rs (side 0: current keys; side 1: previous keys). */
static tide_status ai_apply_rowset(ai_state *s, tide_table_t *t, const tide_rowset_t *rs,
                                   int side, tide_error *err) {
  const int flmode = side == 0 ? 2 : 1;
  if (!rs) return TIDE_OK;
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init(&it, rs);
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->keybuf)) {
    tide_status st = ai_apply(s, t, &seq, side, flmode, err);
    if (st != TIDE_OK) return st;
  }
  return TIDE_OK;
}

/* The first snapshot: every row of t added. The groups (the hashing, most
 * of the work) come from tide__groups_build, in parallel over the morsels,
 * with ids in order of first appearance, as the keyset would give them;
 * the groups' keys are then inserted into the keyset in id order and the
 * rows folded in position order with those ids. Small inputs take the
 * row-by-row path. */
static tide_status ai_initial(ai_state *s, tide_table_t *t, tide_error *err) {
  const tide_rowset_t *rs = t->rowset;
  if (s->nby == 0 || tide_rowset_size(rs) < 4 * (uint64_t)TIDE_CHUNK_SIZE ||
      tide__threads_for(tide_rowset_size(rs)) < 2)
    return ai_apply_rowset(s, t, rs, 0, err);
  tide_source_t **by = tide_malloc(s->nby * sizeof *by);
  if (!by) return ai_oom(s, err);
  for (size_t k = 0; k < s->nby; k++) by[k] = t->cols[s->byidx[k]];
  tide_groups_t g;
  tide_status gst = tide__groups_build(rs, s->nby, by, &g, s->op, err);
  tide_free(by);
  if (gst != TIDE_OK) return gst;
  tide_status st = TIDE_OK;
  /* the groups' keys, in id order: each insert must create the next id */
  for (uint32_t g0 = 0; g0 < g.ngroups && st == TIDE_OK; g0 += TIDE_CHUNK_SIZE) {
    uint32_t m = TIDE_MIN((uint32_t)TIDE_CHUNK_SIZE, g.ngroups - g0);
    tide_rowseq_t seq = {0, g.first_key + g0, 0, m};
    st = ai_group_ids(s, t, &seq, 0, s->ids, err);
    for (uint32_t i = 0; i < m && st == TIDE_OK; i++)
      if (s->ids[i] != g0 + i)
        st = tide_error_set(err, TIDE_ERR_STATE,
                            "%s: internal error: the grouping of the first snapshot and the "
                            "key set disagree on group %u",
                            s->op, g0 + i);
  }
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init(&it, rs);
  while (st == TIDE_OK && tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->keybuf))
    st = ai_apply_ids(s, t, &seq, g.ids + seq.pos, 0, 2, err);
  tide__groups_destroy(&g);
  return st;
}

/* Modified rows: subtract the previous values at the previous keys (the
 * current keys shifted back), then add the current values. */
static tide_status ai_apply_modified(ai_state *s, tide_table_t *t, const tide_update_t *u,
                                     bool keys_mod, tide_error *err) {
  const tide_rowset_t *prs = tide_table_prev_rowset(t);
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init(&it, u->modified);
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->keybuf)) {
    if (!keys_mod && !u->nshifts) {
      tide_status st = ai_apply_same_keys(s, t, &seq, err);
      if (st != TIDE_OK) return st;
      continue;
    }
    tide_rowseq_t pseq = seq;
    if (u->nshifts) {
      uint64_t *pk = s->pkeys;
      size_t sh = 0;
      for (uint32_t i = 0; i < seq.n; i++) {
        uint64_t k = seq.keys ? seq.keys[i] : seq.first + i;
        uint64_t p = k;
        /* destination windows are sorted like the shifts */
        while (sh < u->nshifts &&
               (uint64_t)((int64_t)u->shifts[sh].last + u->shifts[sh].delta) < k)
          sh++;
        if (sh < u->nshifts &&
            (uint64_t)((int64_t)u->shifts[sh].first + u->shifts[sh].delta) <= k) {
          uint64_t q = (uint64_t)((int64_t)k - u->shifts[sh].delta);
          if (prs && tide_rowset_contains(prs, q) &&
              !(u->removed && tide_rowset_contains(u->removed, q)))
            p = q;
        }
        pk[i] = p;
      }
      pseq.keys = pk;
    }
    tide_status st = ai_apply(s, t, &pseq, 1, 0, err);
    /* a re-keyed row leaves its old group (first/last in the current key
     * space: seq's keys, the groups found from the previous values) */
    if (st == TIDE_OK && keys_mod && s->has_fl) ai_fl(s, &seq, s->ids, 1);
    if (st == TIDE_OK) st = ai_apply(s, t, &seq, 0, 2, err);
    if (st != TIDE_OK) return st;
  }
  return TIDE_OK;
}

static int ai_cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

/* Fold the subtract side of touched groups into the add side; reset the
 * sums of groups without non-null values. */
static void ai_fold(ai_state *s) {
  for (size_t ii = 0; ii < s->nitems; ii++) {
    ai_item *it = &s->items[ii];
    if (it->kind == TIDE_AGG_COUNT || it->kind == TIDE_AGG_MIN || it->kind == TIDE_AGG_MAX ||
        ai_is_os(it->kind))
      continue;
    const unsigned nfw = it->nfw;
    for (uint32_t j = 0; j < s->ntouched; j++) {
      uint32_t g = s->touched[j];
      for (unsigned k = 0; k < nfw; k++) {
        it->nf[0][(size_t)g * nfw + k] -= it->nf[1][(size_t)g * nfw + k];
        it->nf[1][(size_t)g * nfw + k] = 0;
      }
      it->cnt[0][g] -= it->cnt[1][g];
      it->cnt[1][g] = 0;
      if (it->is_int) {
        it->sum[0][g] -= it->sum[1][g];
      } else {
        double a, b;
        memcpy(&a, &it->sum[0][g], 8);
        memcpy(&b, &it->sum[1][g], 8);
        a -= b;
        memcpy(&it->sum[0][g], &a, 8);
      }
      it->sum[1][g] = 0;
      if (it->sq[0]) {
        it->sq[0][g] -= it->sq[1][g];
        it->sq[1][g] = 0;
      }
      const bool wk = it->kind == TIDE_AGG_WSUM || it->kind == TIDE_AGG_WAVG;
      if (wk) {
        it->ws[0][g] -= it->ws[1][g];
        it->ws[1][g] = 0;
      }
      if (it->cnt[0][g] == 0) {
        it->sum[0][g] = 0;
        if (it->sq[0]) it->sq[0][g] = 0;
        if (wk) it->ws[0][g] = 0;
      }
      /* weighted: no row with a non-zero weight left: the sums are exactly
       * zero (0/0 = NaN for weighted_avg, as a fresh sum gives) */
      if (wk && it->sq[0][g] == 0) {
        it->sum[0][g] = 0;
        it->ws[0][g] = 0;
      }
    }
  }
}

/* std/var of touched groups whose variance lost most of its digits to
 * cancellation (sum of squares much larger than the variance): mark them
 * for recomputation from their rows. True if any. */
static bool ai_cancel_check(ai_state *s) {
  bool any = false;
  for (size_t ii = 0; ii < s->nitems; ii++) {
    ai_item *it = &s->items[ii];
    if (it->kind != TIDE_AGG_STD && it->kind != TIDE_AGG_VAR) continue;
    for (uint32_t j = 0; j < s->ntouched; j++) {
      uint32_t g = s->touched[j];
      uint64_t c = it->cnt[0][g];
      if (c < 2) continue;
      if (it->nfw && (it->nf[0][(size_t)g * 3] | it->nf[0][(size_t)g * 3 + 1] |
                      it->nf[0][(size_t)g * 3 + 2]))
        continue; /* NaN anyway */
      double sum, sq = it->sq[0][g];
      memcpy(&sum, &it->sum[0][g], 8);
      double m2 = sq - sum * sum / (double)c;
      if (sq > 0 && m2 <= 1e-7 * sq) {
        it->dirty[g] = 1;
        it->anydirty = any = true;
      }
    }
  }
  return any;
}

/* Write the outputs of groups gs[0..n) (n <= TIDE_CHUNK_SIZE). */
static tide_status ai_write(ai_state *s, tide_table_t *t, const uint32_t *gs, uint32_t n,
                            tide_error *err) {
  uint64_t *keys = s->pkeys;
  for (uint32_t j = 0; j < n; j++) keys[j] = gs[j];
  for (size_t ii = 0; ii < s->nitems; ii++) {
    ai_item *it = &s->items[ii];
    int64_t *oi = s->vbuf;
    double *od = s->vbuf;
    if (ai_is_os(it->kind)) {
      tide_status st = ai_os_write(s, it, gs, keys, n, err);
      if (st != TIDE_OK) return st;
      continue;
    }
    const uint64_t *nf = it->nf[0];
    if (it->kind == TIDE_AGG_FIRST || it->kind == TIDE_AGG_LAST) {
      /* the input's values at each group's first/last row */
      const bool first = it->kind == TIDE_AGG_FIRST;
      uint64_t *in = s->keybuf, *ok = s->okeys;
      uint32_t m = 0;
      unsigned char nv[8];
      tide_type_null(it->type, nv);
      for (uint32_t j = 0; j < n; j++) {
        uint32_t g = gs[j];
        uint64_t k = first ? s->fkey[g] : s->lkey[g];
        if (s->blink && (first ? s->fstamp[g] : s->lstamp[g]) != s->cyc) continue;
        if (k == TIDE_NULL_KEY) {
          uint64_t gk = g;
          if (tide__source_paged_set(it->out, &gk, 1, nv) != TIDE_OK) return ai_oom(s, err);
          continue;
        }
        in[m] = k;
        ok[m++] = g;
      }
      if (!m) continue;
      tide_rowseq_t cs = {0, in, 0, m};
      tide_source_fill(t->cols[it->in], &cs, s->vbuf);
      if (tide__source_paged_set(it->out, ok, m, s->vbuf) != TIDE_OK) return ai_oom(s, err);
      continue;
    }
    switch (it->kind) {
      case TIDE_AGG_COUNT:
        for (uint32_t j = 0; j < n; j++) oi[j] = s->rows[gs[j]];
        break;
      case TIDE_AGG_MIN:
      case TIDE_AGG_MAX: {
        unsigned char *o = s->vbuf;
        for (uint32_t j = 0; j < n; j++)
          memcpy(o + (size_t)j * it->w, it->acc + (size_t)gs[j] * it->w, it->w);
        break;
      }
      case TIDE_AGG_SUM:
      case TIDE_AGG_ABS_SUM:
        for (uint32_t j = 0; j < n; j++) {
          uint32_t g = gs[j];
          if (it->is_int) {
            oi[j] = it->cnt[0][g] ? (int64_t)it->sum[0][g] : TIDE_NULL_I64;
          } else {
            double v;
            memcpy(&v, &it->sum[0][g], 8);
            if (nf) v = ai_nf_total(v, nf + (size_t)g * 3);
            od[j] = it->cnt[0][g] ? v : TIDE_NULL_F64;
          }
        }
        break;
      case TIDE_AGG_AVG:
      case TIDE_AGG_STD:
      case TIDE_AGG_VAR:
        for (uint32_t j = 0; j < n; j++) {
          uint32_t g = gs[j];
          uint64_t c = it->cnt[0][g];
          double sum;
          memcpy(&sum, &it->sum[0][g], 8);
          if (c == 0) {
            od[j] = TIDE_NULL_F64;
          } else if (it->kind == TIDE_AGG_AVG) {
            if (nf) sum = ai_nf_total(sum, nf + (size_t)g * 3);
            od[j] = sum / (double)c;
          } else if (c == 1 || (nf && (nf[(size_t)g * 3] || nf[(size_t)g * 3 + 1] ||
                                       nf[(size_t)g * 3 + 2]))) {
            /* one value, or a NaN / infinity among them: NaN, as Welford */
            od[j] = NAN;
          } else {
            double var = (it->sq[0][g] - sum * sum / (double)c) / (double)(c - 1);
            if (var < 0) var = 0;
            od[j] = it->kind == TIDE_AGG_VAR ? var : sqrt(var);
          }
        }
        break;
      default: /* WSUM, WAVG */
        for (uint32_t j = 0; j < n; j++) {
          uint32_t g = gs[j];
          double wv, ws = it->ws[0][g];
          memcpy(&wv, &it->sum[0][g], 8);
          if (nf) {
            wv = ai_nf_total(wv, nf + (size_t)g * 6);
            ws = ai_nf_total(ws, nf + (size_t)g * 6 + 3);
          }
          if (it->cnt[0][g] == 0) od[j] = TIDE_NULL_F64;
          else od[j] = it->kind == TIDE_AGG_WAVG ? wv / ws : wv;
        }
        break;
    }
    if (tide__source_paged_set(it->out, keys, n, s->vbuf) != TIDE_OK) return ai_oom(s, err);
  }
  return TIDE_OK;
}

/* Outputs of the touched groups that are present; fills the sorted lists
 * of added, removed and modified groups (in `touched`, reordered). */
static tide_status ai_finish(ai_state *s, tide_table_t *t, tide_rowset_t **added,
                             tide_rowset_t **removed, tide_rowset_t **modified, tide_error *err) {
  tide_status st0 = ai_recompute(s, t, err);
  if (st0 != TIDE_OK) {
    s->ntouched = 0;
    return st0;
  }
  ai_fold(s);
  if (ai_cancel_check(s)) {
    st0 = ai_recompute(s, t, err);
    if (st0 != TIDE_OK) {
      s->ntouched = 0;
      return st0;
    }
  }
  qsort(s->touched, s->ntouched, sizeof *s->touched, ai_cmp_u32);
  uint64_t *ka = tide_malloc((s->ntouched ? s->ntouched : 1) * sizeof *ka);
  uint64_t *kr = tide_malloc((s->ntouched ? s->ntouched : 1) * sizeof *kr);
  uint64_t *km = tide_malloc((s->ntouched ? s->ntouched : 1) * sizeof *km);
  uint32_t *pres = tide_malloc((s->ntouched ? s->ntouched : 1) * sizeof *pres);
  tide_status st = TIDE_OK;
  if (!ka || !kr || !km || !pres) {
    st = ai_oom(s, err);
    goto out;
  }
  uint64_t na = 0, nr = 0, nm = 0, np = 0;
  for (uint32_t j = 0; j < s->ntouched; j++) {
    uint32_t g = s->touched[j];
    bool now = ai_present(s, g), was = s->was[g];
    if (now) pres[np++] = g;
    if (now && !was) ka[na++] = g;
    else if (!now && was) kr[nr++] = g;
    else if (now) km[nm++] = g;
  }
  for (uint64_t j = 0; j < np && st == TIDE_OK; j += TIDE_CHUNK_SIZE)
    st = ai_write(s, t, pres + j, (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, np - j), err);
  if (st != TIDE_OK) goto out;
  if (added) *added = na ? tide_rowset_from_keys(ka, na) : NULL;
  if (removed) *removed = nr ? tide_rowset_from_keys(kr, nr) : NULL;
  if (modified) *modified = nm ? tide_rowset_from_keys(km, nm) : NULL;
  if ((added && na && !*added) || (removed && nr && !*removed) || (modified && nm && !*modified))
    st = ai_oom(s, err);
out:
  s->ntouched = 0;
  tide_free(ka);
  tide_free(kr);
  tide_free(km);
  tide_free(pres);
  return st;
}

/* Move the first/last keys of every group through the input's shifts. */
static void ai_fl_shift(ai_state *s, const tide_update_t *u) {
  uint64_t *arr[2] = {s->fkey, s->lkey};
  for (int a = 0; a < 2; a++)
    for (uint32_t g = 0; g < s->ng; g++) {
      uint64_t k = arr[a][g];
      if (k == TIDE_NULL_KEY || s->fldirty[g]) continue;
      size_t lo = 0, hi = u->nshifts;
      while (lo < hi) {
        size_t m = (lo + hi) / 2;
        if (u->shifts[m].last < k) lo = m + 1;
        else hi = m;
      }
      if (lo < u->nshifts && u->shifts[lo].first <= k)
        arr[a][g] = (uint64_t)((int64_t)k + u->shifts[lo].delta);
    }
}

static tide_status ai_notify(tide_gnode_t *n, tide_error *err) {
  ai_state *s = n->state;
  const tide_update_t *u = tide__gnode_parent_update(n, 0);
  if (!u) return TIDE_OK;
  tide_table_t *t = n->parents[0];
  s->cyc++;
  s->ntouched = 0;
  bool rows_changed = false;
  tide_status st = ai_ranks(s, t, err);
  if (st != TIDE_OK) return st;
  /* removed rows (previous key space) */
  if (!s->blink && u->removed && !tide_rowset_is_empty(u->removed)) {
    memset(s->mask, 1, s->nitems);
    rows_changed = true;
    if ((st = ai_apply_rowset(s, t, u->removed, 1, err)) != TIDE_OK) return st;
  }
  if (s->has_fl && u->nshifts) ai_fl_shift(s, u);
  /* modified rows */
  bool keys_mod = false, mod_any = false;
  if (u->modified && !tide_rowset_is_empty(u->modified)) {
    for (size_t k = 0; k < s->nby; k++)
      keys_mod |= tide_update_col_modified(u, (size_t)s->byidx[k]);
    bool any = keys_mod;
    for (size_t i = 0; i < s->nitems; i++) {
      const ai_item *it = &s->items[i];
      bool m = keys_mod || (it->in >= 0 && tide_update_col_modified(u, (size_t)it->in)) ||
               (it->weight >= 0 && tide_update_col_modified(u, (size_t)it->weight));
      if (!keys_mod && it->kind == TIDE_AGG_COUNT) m = false;
      s->mask[i] = m;
      any |= m;
    }
    mod_any = any;
    if (any && (st = ai_apply_modified(s, t, u, keys_mod, err)) != TIDE_OK) return st;
  }
  uint8_t *modcols = tide_calloc(s->nitems ? s->nitems : 1, 1);
  if (!modcols) return ai_oom(s, err);
  if (mod_any) memcpy(modcols, s->mask, s->nitems);
  if (rows_changed || keys_mod) memset(modcols, 1, s->nitems);
  /* added rows */
  if (u->added && !tide_rowset_is_empty(u->added)) {
    memset(s->mask, 1, s->nitems);
    memset(modcols, 1, s->nitems);
    if ((st = ai_apply_rowset(s, t, u->added, 0, err)) != TIDE_OK) {
      tide_free(modcols);
      return st;
    }
  }
  tide_update_t out;
  memset(&out, 0, sizeof out);
  if ((st = ai_finish(s, t, &out.added, &out.removed, &out.modified, err)) != TIDE_OK) {
    tide_free(modcols);
    tide__update_clear(&out);
    return st;
  }
  if (out.modified) {
    size_t ncols = s->nby + s->nitems;
    out.ncols = ncols;
    out.modified_cols = calloc((ncols + 63) / 64, sizeof *out.modified_cols);
    if (!out.modified_cols) {
      tide_free(modcols);
      tide__update_clear(&out);
      return ai_oom(s, err);
    }
    for (size_t i = 0; i < s->nitems; i++)
      if (modcols[i]) out.modified_cols[(s->nby + i) / 64] |= 1ull << ((s->nby + i) % 64);
  }
  tide_free(modcols);
  tide_rowset_t *rs = NULL;
  if (out.added || out.removed) {
    rs = tide_rowset_copy(n->table->rowset);
    if (!rs || (out.added && tide_rowset_union_inplace(rs, out.added) != TIDE_OK) ||
        (out.removed && tide_rowset_minus_inplace(rs, out.removed) != TIDE_OK)) {
      tide_rowset_free(rs);
      tide__update_clear(&out);
      return ai_oom(s, err);
    }
  }
  return tide__gnode_publish(n, &out, rs, err);
}

static void ai_destroy(tide_gnode_t *n) { ai_state_free(n->state); }

static const tide_gnode_vt ai_vt = {"agg_by", NULL, ai_notify, ai_destroy};

tide_table_t *tide__agg_incr_create(tide_table_t *t, const agg_item_t *items, size_t nitems,
                                    const int *byidx, size_t nby, const char *const *names,
                                    const char *op, tide_error *err) {
  for (size_t i = 0; i < nitems; i++)
    if (!ai_kind_supported(items[i].kind)) {
      const char *kn = "?";
#define AI_X_NAME(E, name) \
  if (items[i].kind == TIDE_AGG_##E) kn = name;
      TIDE_AGG_LIST(AI_X_NAME)
#undef AI_X_NAME
      tide_error_set(err, TIDE_ERR_UNSUPPORTED,
                     "%s: aggregation %s (column '%s') is not supported on ticking inputs yet "
                     "(supported: count, sum, abs_sum, avg, std, var, weighted_sum, "
                     "weighted_avg, min, max, first, last, median, pct, count_distinct)",
                     op, kn, items[i].out);
      return NULL;
    }
  tide_graph_t *graph = tide_table_graph(t);
  ai_state *s = tide_calloc(1, sizeof *s);
  tide_table_t *res = NULL;
  tide_source_t **cols = NULL;
  tide_rowset_t *rs = NULL;
  if (!s) {
    tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
    return NULL;
  }
  s->op = op;
  s->nby = nby;
  s->nitems = nitems;
  s->blink = t->kind == TIDE_KIND_BLINK;
  s->byidx = tide_malloc((nby ? nby : 1) * sizeof *s->byidx);
  s->bytypes = tide_malloc((nby ? nby : 1) * sizeof *s->bytypes);
  s->keyout = tide_calloc(nby ? nby : 1, sizeof *s->keyout);
  s->kvals = tide_calloc(nby ? nby : 1, sizeof *s->kvals);
  s->items = tide_calloc(nitems ? nitems : 1, sizeof *s->items);
  s->mask = tide_malloc(nitems ? nitems : 1);
  s->keybuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->keybuf);
  s->pkeys = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->pkeys);
  s->enc = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->enc);
  s->ids = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->ids);
  s->rowof = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->rowof);
  s->vbuf = tide_malloc(TIDE_CHUNK_SIZE * 8);
  s->vbuf2 = tide_malloc(TIDE_CHUNK_SIZE * 8);
  s->wbuf = tide_malloc(TIDE_CHUNK_SIZE * 8);
  s->dv = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->dv);
  s->dw = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->dw);
  s->valid = tide_malloc(TIDE_CHUNK_SIZE);
  s->wvalid = tide_malloc(TIDE_CHUNK_SIZE);
  s->okeys = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->okeys);
  cols = tide_calloc(nby + nitems ? nby + nitems : 1, sizeof *cols);
  if (!s->byidx || !s->bytypes || !s->keyout || !s->kvals || !s->items || !s->mask ||
      !s->keybuf || !s->pkeys || !s->enc || !s->ids || !s->rowof || !s->vbuf || !s->vbuf2 || !s->wbuf || !s->dv || !s->dw ||
      !s->valid || !s->wvalid || !s->okeys || !cols)
    goto oom;
  for (size_t k = 0; k < nby; k++) {
    tide_source_t *in = t->cols[byidx[k]];
    s->byidx[k] = byidx[k];
    s->bytypes[k] = in->type;
    s->kvals[k] = tide_malloc(TIDE_CHUNK_SIZE * 8);
    if (!s->kvals[k]) goto oom;
    s->keyout[k] = tide__source_paged_create(in->type, in->type == TIDE_SYMBOL ? in->symtab : NULL,
                                             err);
    if (!s->keyout[k]) goto fail;
    if (in->type == TIDE_STRING && tide__source_keep_values_of(s->keyout[k], in) != TIDE_OK)
      goto oom;
  }
  if (nby) {
    s->ks = tide__keyset_create(nby, s->bytypes, 64, err);
    if (!s->ks) goto fail;
  }
  for (size_t i = 0; i < nitems; i++) {
    ai_item *it = &s->items[i];
    it->kind = items[i].kind;
    it->in = items[i].in;
    it->weight = items[i].weight;
    tide_type_t ot = TIDE_F64;
    snprintf(it->name, sizeof it->name, "%s", items[i].out);
    if (it->kind == TIDE_AGG_COUNT) {
      ot = TIDE_I64;
    } else {
      it->type = t->cols[it->in]->type;
      it->w = tide_type_width(it->type);
      const bool fl = tide_type_is_floating(it->type);
      switch (it->kind) {
        case TIDE_AGG_SUM:
        case TIDE_AGG_ABS_SUM:
        case TIDE_AGG_AVG:
        case TIDE_AGG_STD:
        case TIDE_AGG_VAR:
          it->nfw = fl ? 3 : 0;
          break;
        case TIDE_AGG_WSUM:
        case TIDE_AGG_WAVG:
          it->nfw = fl || tide_type_is_floating(t->cols[it->weight]->type) ? 6 : 0;
          break;
        case TIDE_AGG_MEDIAN:
        case TIDE_AGG_PCT:
        case TIDE_AGG_COUNT_DISTINCT:
          it->osmode = it->type == TIDE_STRING ? OS_STR : it->type == TIDE_SYMBOL ? OS_SYM : OS_U64;
          it->pct = items[i].pct;
          it->count_nulls = items[i].count_nulls;
          if (it->kind == TIDE_AGG_COUNT_DISTINCT) ot = TIDE_I64;
          else if (it->kind == TIDE_AGG_PCT || !tide_type_is_numeric(it->type)) ot = it->type;
          break;
        default:
          break;
      }
      if (it->kind == TIDE_AGG_MIN || it->kind == TIDE_AGG_MAX || it->kind == TIDE_AGG_FIRST ||
          it->kind == TIDE_AGG_LAST)
        ot = it->type;
      if (it->kind == TIDE_AGG_FIRST || it->kind == TIDE_AGG_LAST) s->has_fl = true;
      if (it->kind == TIDE_AGG_SUM || it->kind == TIDE_AGG_ABS_SUM) {
        it->is_int = tide__agg_sum_is_int(it->type);
        ot = it->is_int ? TIDE_I64 : TIDE_F64;
      }
    }
    tide_source_t *in = it->in >= 0 ? t->cols[it->in] : NULL;
    it->out = tide__source_paged_create(ot, ot == TIDE_SYMBOL ? in->symtab : NULL, err);
    if (!it->out) goto fail;
    if (ot == TIDE_STRING && tide__source_keep_values_of(it->out, in) != TIDE_OK) goto oom;
  }
  if (ai_reserve(s, nby ? 64 : 1, err) != TIDE_OK) goto fail;
  if (nby == 0) s->ng = 1;
  if (ai_ranks(s, t, err) != TIDE_OK) goto fail;
  /* the first snapshot: every current row as added */
  s->cyc = 1;
  memset(s->mask, 1, nitems);
  if (nby == 0) { /* the single group exists even over no rows */
    s->stamp[0] = s->cyc;
    s->was[0] = 0;
    s->touched[s->ntouched++] = 0;
  }
  {
    /* order statistics over a big first snapshot: collect, sort, append */
    const uint64_t nrows = tide_rowset_size(t->rowset);
    bool bulk = nrows >= TIDE_CHUNK_SIZE;
    for (size_t i = 0; bulk && i < nitems; i++) {
      ai_item *it = &s->items[i];
      if (!ai_is_os(it->kind)) continue;
      it->bk = tide_malloc(nrows * sizeof *it->bk);
      it->bv = tide_malloc(nrows * sizeof *it->bv);
      if (!it->bk || !it->bv) goto oom;
    }
    s->bulk = bulk;
    tide_status bst = ai_initial(s, t, err);
    s->bulk = false;
    for (size_t i = 0; i < nitems && bulk; i++)
      if (ai_is_os(s->items[i].kind) && bst == TIDE_OK) bst = ai_os_bulk(s, t, &s->items[i], err);
    if (bst != TIDE_OK) goto fail;
  }
  {
    /* present groups = touched present groups (all groups were new) */
    tide_rowset_t *added = NULL;
    if (ai_finish(s, t, &added, NULL, NULL, err) != TIDE_OK) goto fail;
    rs = added ? added : tide_rowset_create();
    if (!rs) goto oom;
  }
  for (size_t k = 0; k < nby; k++) cols[k] = s->keyout[k];
  for (size_t i = 0; i < nitems; i++) cols[nby + i] = s->items[i].out;
  for (size_t c = 0; c < nby + nitems; c++)
    if (tide__source_track_prev(cols[c], tide__graph_step_ptr(graph)) != TIDE_OK) goto oom;
  res = tide_table_create(rs, nby + nitems, names, cols, err);
  tide_rowset_free(rs);
  rs = NULL;
  if (!res) goto fail;
  if (!tide__gnode_create(graph, res, TIDE_KIND_STANDARD, &ai_vt, &t, 1, s, err)) {
    tide_table_free(res);
    res = NULL;
    goto fail;
  }
  tide_free(cols);
  return res;
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
fail:
  tide_rowset_free(rs);
  tide_free(cols);
  ai_state_free(s);
  return NULL;
}
