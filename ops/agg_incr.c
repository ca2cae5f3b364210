/*
 * Incremental agg_by / agg_all_by / count_by over refreshing inputs
 * (docs/TICKING.md, decision 5).
 *
 * Every aggregation has a listener: count, sum, abs_sum, avg, std, var,
 * weighted_sum, weighted_avg in O(changed rows); min, max, first, last in
 * O(changed rows) except in cycles that remove a group's extreme/first/last
 * row (then one scan of the input); median, pct, count_distinct by
 * recomputation of the touched groups (one scan of the input per cycle
 * that changes anything). Order statistics over blink inputs are refused
 * (TIDE_ERR_UNSUPPORTED: the rows are gone, there is nothing to recompute
 * from).
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
 * median, pct, count_distinct: the static agg_by (ops/agg.c, so exactly
 * the static semantics) over a static table of the current rows of the
 * touched groups, written back by group id.
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
 * can differ in the last bits from a fresh sum. NaN and infinities are not
 * tracked separately: once a NaN or infinite value entered a group's sum,
 * that sum stays NaN/infinite until the group's non-null count returns to
 * zero. std/var keep the sum and the sum of squares of v - K, K being a
 * value of the group chosen when it had none (less cancellation).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>

#include "kernels/agg.h"
#include "kernels/hash.h"
#include "kernels/radix.h"
#include "ops/agg_int.h"
#include "sched/graph_int.h"

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
  /* first/last: each group's first and last row key (current key space;
   * TIDE_NULL_KEY: none), groups to recompute; blink inputs: the cycle
   * that set them (their rows are gone afterwards) */
  bool has_fl;
  uint64_t *fkey, *lkey, *fstamp, *lstamp;
  uint8_t *fldirty;
  bool flany;
  uint64_t *okeys;
  /* median/pct/count_distinct: the static agg_by over the rows of the
   * touched groups (specs os_specs[0..nos), for items os_item[]) */
  size_t nos;
  tide_agg_spec_t *os_specs;
  char (*os_cols)[2 * AGG_NAME_MAX + 2];
  const char **os_colptr;
  size_t *os_item;
  const char **bynames;
  uint8_t *mask;          /* per item: apply in the current pass */
  /* chunk scratch */
  uint64_t *keybuf, *pkeys;
  void **kvals;           /* nby buffers of TIDE_CHUNK_SIZE * 8 bytes */
  uint32_t *ids, *rowof;
  void *vbuf, *wbuf;
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
  tide_free(s->os_specs);
  tide_free(s->os_cols);
  tide_free(s->os_colptr);
  tide_free(s->os_item);
  tide_free(s->bynames);
  tide_free(s->mask);
  tide_free(s->keybuf);
  tide_free(s->pkeys);
  tide_free(s->ids);
  tide_free(s->rowof);
  tide_free(s->vbuf);
  tide_free(s->wbuf);
  tide_free(s->dv);
  tide_free(s->dw);
  tide_free(s->valid);
  tide_free(s->wvalid);
  tide_free(s);
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
    if (it->kind == TIDE_AGG_STD || it->kind == TIDE_AGG_VAR)
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

/* Refresh the symbol ranks of min/max items whose dictionary grew. */
static tide_status ai_ranks(ai_state *s, tide_table_t *t, tide_error *err) {
  for (size_t i = 0; i < s->nitems; i++) {
    ai_item *it = &s->items[i];
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

static bool ai_is_os(tide_agg_kind_t k) {
  return k == TIDE_AGG_MEDIAN || k == TIDE_AGG_PCT || k == TIDE_AGG_COUNT_DISTINCT;
}

/* Recompute the order statistics of every touched group: the static
 * agg_by over the current rows of those groups (one scan of the input to
 * find them), written back by group. */
static tide_status ai_ordstat(ai_state *s, tide_table_t *t, tide_error *err) {
  if (!s->nos || !s->ntouched) return TIDE_OK;
  tide_status st = TIDE_OK;
  uint64_t cap = 1024, n = 0;
  uint8_t *gd = tide_calloc(s->gcap, 1);
  uint64_t *keys = tide_malloc(cap * sizeof *keys);
  tide_rowset_t *rs = NULL;
  tide_table_t *sub = NULL, *r = NULL;
  const void **kc = NULL;
  if (!gd || !keys) goto oom;
  for (uint32_t j = 0; j < s->ntouched; j++) gd[s->touched[j]] = 1;
  tide_rowset_iter_t iter;
  tide_rowseq_t seq;
  tide_rowset_iter_init(&iter, t->rowset);
  while (tide_rowset_iter_next_chunk(&iter, TIDE_CHUNK_SIZE, &seq, s->keybuf)) {
    if (s->nby == 0) {
      memset(s->ids, 0, seq.n * sizeof *s->ids);
    } else {
      for (size_t k = 0; k < s->nby; k++) tide_source_fill(t->cols[s->byidx[k]], &seq, s->kvals[k]);
      tide__keyset_find(s->ks, (const void *const *)s->kvals, seq.n, s->ids);
    }
    if (n + seq.n > cap) {
      while (n + seq.n > cap) cap *= 2;
      uint64_t *nk = tide_realloc(keys, cap * sizeof *keys);
      if (!nk) goto oom;
      keys = nk;
    }
    for (uint32_t i = 0; i < seq.n; i++) {
      uint32_t g = s->ids[i];
      if (g != TIDE_KEYSET_ABSENT && gd[g]) keys[n++] = seq.keys ? seq.keys[i] : seq.first + i;
    }
  }
  rs = tide_rowset_from_keys(keys, n);
  if (!rs) goto oom;
  sub = tide_table_create(rs, t->ncols, (const char *const *)t->names, t->cols, err);
  if (!sub) goto fail;
  r = tide_agg_by(sub, s->os_specs, s->nos, s->bynames, s->nby, err);
  if (!r) goto fail;
  uint64_t nr = tide_table_size(r);
  kc = tide_malloc((s->nby ? s->nby : 1) * sizeof *kc);
  if (!kc) goto oom;
  for (uint64_t pos = 0; pos < nr; pos += TIDE_CHUNK_SIZE) {
    uint32_t m = (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, nr - pos);
    if (s->nby == 0) {
      memset(s->ids, 0, m * sizeof *s->ids);
    } else {
      for (size_t k = 0; k < s->nby; k++)
        kc[k] = (const char *)tide_source_flat_data(tide_table_col_source(r, k)) +
                pos * tide_type_width(s->bytypes[k]);
      tide__keyset_find(s->ks, kc, m, s->ids);
    }
    for (uint32_t i = 0; i < m; i++) s->okeys[i] = s->ids[i];
    for (size_t j = 0; j < s->nos; j++) {
      tide_source_t *src = tide_table_col_source(r, s->nby + j);
      const char *data = (const char *)tide_source_flat_data(src) +
                         pos * tide_type_width(tide_source_type(src));
      if (tide__source_paged_set(s->items[s->os_item[j]].out, s->okeys, m, data) != TIDE_OK)
        goto oom;
    }
  }
  goto done;
oom:
  st = ai_oom(s, err);
  goto done;
fail:
  st = err ? err->status : TIDE_ERR_NOMEM;
  if (st == TIDE_OK) st = TIDE_ERR_NOMEM;
done:
  tide_free(kc);
  tide_table_free(r);
  tide_table_free(sub);
  tide_rowset_free(rs);
  tide_free(keys);
  tide_free(gd);
  return st;
}

static bool ai_present(const ai_state *s, uint32_t g) { return s->nby == 0 || s->rows[g] > 0; }

/* std/var: add valid values v[0..n) of groups ids (see ai_apply). */
static void ai_stdvar_add(ai_item *it, const uint32_t *ids, const double *v, const uint8_t *ok,
                          uint32_t n) {
  double *sum0 = (double *)it->sum[0], *sum1 = (double *)it->sum[1];
  double *sq0 = it->sq[0], *sq1 = it->sq[1], *kk = it->ws[0];
  uint64_t *c0 = it->cnt[0], *c1 = it->cnt[1];
  for (uint32_t i = 0; i < n; i++) {
    if (!ok[i]) continue;
    uint32_t g = ids[i];
    if (c0[g] == c1[g]) {
      c0[g] = c1[g] = 0;
      sum0[g] = sum1[g] = sq0[g] = sq1[g] = 0;
      kk[g] = isfinite(v[i]) ? v[i] : 0.0;
    }
    double x = v[i] - kk[g];
    sum0[g] += x;
    sq0[g] += x * x;
    c0[g]++;
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

static tide_status ai_apply(ai_state *s, tide_table_t *t, const tide_rowseq_t *seq, int side,
                            int flmode, tide_error *err) {
  const uint32_t n = seq->n;
  const bool prev = side == 1;
  uint32_t *ids = s->ids;
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
  /* touch groups, row counts */
  const int64_t d = side ? -1 : 1;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t g = ids[i];
    if (s->stamp[g] != s->cyc) {
      s->stamp[g] = s->cyc;
      s->was[g] = s->rows[g] > 0 || (s->nby == 0 && s->cyc > 1);
      s->touched[s->ntouched++] = g;
    }
    s->rows[g] += d;
  }
  if (s->has_fl && flmode) ai_fl(s, seq, ids, flmode);
  for (size_t ii = 0; ii < s->nitems; ii++) {
    ai_item *it = &s->items[ii];
    if (!s->mask[ii] || it->kind == TIDE_AGG_COUNT || it->kind == TIDE_AGG_FIRST ||
        it->kind == TIDE_AGG_LAST || ai_is_os(it->kind))
      continue;
    tide_source_t *src = t->cols[it->in];
    if (prev)
      tide_source_fill_prev(src, seq, s->vbuf);
    else
      tide_source_fill(src, seq, s->vbuf);
    switch (it->kind) {
      case TIDE_AGG_MIN:
      case TIDE_AGG_MAX:
        if (side == 0)
          tide__agg_minmax(it->type, it->kind == TIDE_AGG_MAX, ids, s->vbuf, n, it->ranks, it->acc);
        else
          ai_mark_dirty(it, ids, s->vbuf, n);
        break;
      case TIDE_AGG_SUM:
      case TIDE_AGG_ABS_SUM:
        tide__agg_sum(it->type, it->kind == TIDE_AGG_ABS_SUM, ids, s->vbuf, n, it->sum[side],
                      it->cnt[side]);
        break;
      case TIDE_AGG_AVG:
        tide__agg_to_f64(it->type, s->vbuf, n, s->dv, s->valid);
        tide__agg_sum_f64(ids, s->dv, s->valid, n, (double *)it->sum[side], it->cnt[side]);
        break;
      case TIDE_AGG_STD:
      case TIDE_AGG_VAR: {
        /* sums of (v - K) and (v - K)^2 with K a value of the group (set
         * when the group has no values), against cancellation */
        tide__agg_to_f64(it->type, s->vbuf, n, s->dv, s->valid);
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
            double x = v[i] - kk[g];
            sum1[g] += x;
            sq1[g] += x * x;
            c1[g]++;
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
        tide__agg_to_f64(it->type, s->vbuf, n, s->dv, s->valid);
        tide__agg_to_f64(wsrc->type, s->wbuf, n, s->dw, s->wvalid);
        tide__agg_weighted(ids, s->dv, s->valid, s->dw, s->wvalid, n, (double *)it->sum[side],
                           it->ws[side], it->cnt[side]);
        double *nz = it->sq[side];
        const double *wv = s->dw;
        const uint8_t *vok = s->valid, *wok = s->wvalid;
        for (uint32_t i = 0; i < n; i++) nz[ids[i]] += vok[i] && wok[i] && wv[i] != 0.0 ? 1.0 : 0.0;
        break;
      }
    }
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

/* Modified rows: subtract the previous values at the previous keys (the
 * current keys shifted back), then add the current values. */
static tide_status ai_apply_modified(ai_state *s, tide_table_t *t, const tide_update_t *u,
                                     bool keys_mod, tide_error *err) {
  const tide_rowset_t *prs = tide_table_prev_rowset(t);
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init(&it, u->modified);
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->keybuf)) {
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
    if (it->kind == TIDE_AGG_COUNT || it->kind == TIDE_AGG_MIN || it->kind == TIDE_AGG_MAX)
      continue;
    for (uint32_t j = 0; j < s->ntouched; j++) {
      uint32_t g = s->touched[j];
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
    if (ai_is_os(it->kind)) continue; /* written by ai_ordstat */
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
            od[j] = sum / (double)c;
          } else if (c == 1) {
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
          double wv;
          memcpy(&wv, &it->sum[0][g], 8);
          if (it->cnt[0][g] == 0) od[j] = TIDE_NULL_F64;
          else od[j] = it->kind == TIDE_AGG_WAVG ? wv / it->ws[0][g] : wv;
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
  if (st0 == TIDE_OK) st0 = ai_ordstat(s, t, err);
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

/* Specs of the order-statistic items for the static agg_by of
 * ai_ordstat, and their output sources (types from a static agg_by over no
 * rows). */
static tide_status ai_setup_os(ai_state *s, tide_table_t *t, const agg_item_t *items,
                               const char *const *names, tide_error *err) {
  size_t nos = 0;
  for (size_t i = 0; i < s->nitems; i++) nos += ai_is_os(items[i].kind);
  if (!nos) return TIDE_OK;
  s->os_specs = tide_calloc(nos, sizeof *s->os_specs);
  s->os_cols = tide_calloc(nos, sizeof *s->os_cols);
  s->os_colptr = tide_calloc(nos, sizeof *s->os_colptr);
  s->os_item = tide_calloc(nos, sizeof *s->os_item);
  s->bynames = tide_calloc(s->nby ? s->nby : 1, sizeof *s->bynames);
  if (!s->os_specs || !s->os_cols || !s->os_colptr || !s->os_item || !s->bynames)
    return ai_oom(s, err);
  for (size_t k = 0; k < s->nby; k++) s->bynames[k] = names[k];
  for (size_t i = 0; i < s->nitems; i++) {
    if (!ai_is_os(items[i].kind)) continue;
    size_t j = s->nos++;
    snprintf(s->os_cols[j], sizeof s->os_cols[j], "%s=%s", items[i].out, t->names[items[i].in]);
    s->os_colptr[j] = s->os_cols[j];
    s->os_specs[j].kind = items[i].kind;
    s->os_specs[j].cols = &s->os_colptr[j];
    s->os_specs[j].ncols = 1;
    s->os_specs[j].pct = items[i].kind == TIDE_AGG_MEDIAN ? 0.5 : items[i].pct;
    s->os_specs[j].count_nulls = items[i].count_nulls;
    s->os_item[j] = i;
  }
  tide_rowset_t *empty = tide_rowset_create();
  tide_table_t *sub = empty ? tide_table_create(empty, t->ncols, (const char *const *)t->names,
                                                t->cols, err)
                            : NULL;
  tide_rowset_free(empty);
  tide_table_t *r = sub ? tide_agg_by(sub, s->os_specs, s->nos, s->bynames, s->nby, err) : NULL;
  tide_table_free(sub);
  if (!r) return err && err->status != TIDE_OK ? err->status : ai_oom(s, err);
  tide_status st = TIDE_OK;
  for (size_t j = 0; j < s->nos && st == TIDE_OK; j++) {
    tide_source_t *rc = tide_table_col_source(r, s->nby + j);
    tide_source_t *in = t->cols[items[s->os_item[j]].in];
    tide_type_t ot = tide_source_type(rc);
    ai_item *it = &s->items[s->os_item[j]];
    it->out = tide__source_paged_create(ot, ot == TIDE_SYMBOL ? tide_source_symtab(rc) : NULL, err);
    if (!it->out) st = err && err->status != TIDE_OK ? err->status : TIDE_ERR_NOMEM;
    else if (ot == TIDE_STRING && tide__source_keep_values_of(it->out, in) != TIDE_OK)
      st = ai_oom(s, err);
  }
  tide_table_free(r);
  return st;
}

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
  if (t->kind == TIDE_KIND_BLINK)
    for (size_t i = 0; i < nitems; i++)
      if (ai_is_os(items[i].kind)) {
        tide_error_set(err, TIDE_ERR_UNSUPPORTED,
                       "%s: order statistic (median, pct, count_distinct) column '%s' is not "
                       "supported on blink inputs yet",
                       op, items[i].out);
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
  s->ids = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->ids);
  s->rowof = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->rowof);
  s->vbuf = tide_malloc(TIDE_CHUNK_SIZE * 8);
  s->wbuf = tide_malloc(TIDE_CHUNK_SIZE * 8);
  s->dv = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->dv);
  s->dw = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->dw);
  s->valid = tide_malloc(TIDE_CHUNK_SIZE);
  s->wvalid = tide_malloc(TIDE_CHUNK_SIZE);
  s->okeys = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->okeys);
  cols = tide_calloc(nby + nitems ? nby + nitems : 1, sizeof *cols);
  if (!s->byidx || !s->bytypes || !s->keyout || !s->kvals || !s->items || !s->mask ||
      !s->keybuf || !s->pkeys || !s->ids || !s->rowof || !s->vbuf || !s->wbuf || !s->dv || !s->dw ||
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
    if (it->kind == TIDE_AGG_COUNT) {
      ot = TIDE_I64;
    } else {
      it->type = t->cols[it->in]->type;
      it->w = tide_type_width(it->type);
      if (it->kind == TIDE_AGG_MIN || it->kind == TIDE_AGG_MAX || it->kind == TIDE_AGG_FIRST ||
          it->kind == TIDE_AGG_LAST)
        ot = it->type;
      if (it->kind == TIDE_AGG_FIRST || it->kind == TIDE_AGG_LAST) s->has_fl = true;
      if (it->kind == TIDE_AGG_SUM || it->kind == TIDE_AGG_ABS_SUM) {
        it->is_int = tide__agg_sum_is_int(it->type);
        ot = it->is_int ? TIDE_I64 : TIDE_F64;
      }
    }
    if (ai_is_os(it->kind)) continue; /* ai_setup_os */
    tide_source_t *in = it->in >= 0 ? t->cols[it->in] : NULL;
    it->out = tide__source_paged_create(ot, ot == TIDE_SYMBOL ? in->symtab : NULL, err);
    if (!it->out) goto fail;
    if (ot == TIDE_STRING && tide__source_keep_values_of(it->out, in) != TIDE_OK) goto oom;
  }
  if (ai_setup_os(s, t, items, names, err) != TIDE_OK) goto fail;
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
  if (ai_apply_rowset(s, t, t->rowset, 0, err) != TIDE_OK) goto fail;
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
