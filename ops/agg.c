/*
 * Aggregations: agg_by, agg_all_by (sum_by, avg_by, ...) and count_by, with
 * Deephaven semantics (include/tide/ops.h).
 *
 * Plan: group the rows (kernels/agg_group.c: a group id per row position,
 * in order of first appearance of the key), then compute each aggregation
 * with chunk loops that update per-group accumulator arrays
 * (kernels/agg.c). The output is a flat table: the key columns (gathered
 * at each group's first row, so SYMBOL keys keep the dictionary and STRING
 * keys point into the input, kept alive by the output source), then one
 * column per aggregation.
 *
 * Order-statistic aggregations (median, pct, count_distinct) bucket the
 * non-null values of each group (counting sort by group id, in row order),
 * order each group's slice by an order-preserving key (radix sort, or for
 * pct/median of non-string columns a quickselect of the one or two
 * elements needed; strings sort by strcmp), then pick:
 *   - pct p: the element at index floor(p * (n - 1)) of the sorted slice
 *     (so pct 0 is the min, pct 1 the max), keeping the input type;
 *   - median of a numeric column: the mean of the elements at
 *     floor((n-1)/2) and floor(n/2) as a double; of other types the lower
 *     middle one (index floor((n-1)/2)), keeping the type;
 *   - count_distinct: the number of distinct sorted values (-0.0 equals
 *     0.0, NaN equals NaN), plus one if count_nulls and the group has a
 *     null.
 * Floats: NaN is a value for sum/avg/std/var/median (it propagates) and is
 * skipped by min/max. Variance and standard deviation are sample
 * statistics; a group with one value gives NaN (0/0, as Deephaven), a
 * group with none gives null.
 *
 * Parallelism and determinism: grouping assigns ids in order of first
 * appearance whatever the thread count (kernels/agg_group.c). sum,
 * abs_sum, min, max and avg accumulate per-block partials in parallel and
 * merge them in block order (see "block partials" below; when groups x
 * blocks is small); other kinds, and many groups, run in row
 * order. Either way results do not depend on the thread count. sum,
 * abs_sum, avg and count alone, without keys or with directly mapped keys
 * of few slots, skip the group ids altogether (see "fused direct scan").
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "kernels/agg.h"
#include "kernels/hash.h"
#include "sched/graph_int.h"
#include "kernels/radix.h"
#include "ops/agg_int.h"

static const char *const AGG_KIND_NAMES[] = {
#define AGG_X_NAME(E, name) name,
    TIDE_AGG_LIST(AGG_X_NAME)
#undef AGG_X_NAME
};

static const char *agg_kind_name(tide_agg_kind_t k) {
  return (unsigned)k < TIDE_AGG_KIND_COUNT ? AGG_KIND_NAMES[k] : "?";
}

/* Whether kind accepts an input column of type. */
static bool agg_type_ok(tide_agg_kind_t kind, tide_type_t type) {
  switch (kind) {
    case TIDE_AGG_SUM:
    case TIDE_AGG_ABS_SUM:
    case TIDE_AGG_AVG:
    case TIDE_AGG_STD:
    case TIDE_AGG_VAR:
    case TIDE_AGG_WAVG:
    case TIDE_AGG_WSUM:
      return tide__agg_sum_type_ok(type);
    case TIDE_AGG_MIN:
    case TIDE_AGG_MAX:
    case TIDE_AGG_FIRST:
    case TIDE_AGG_LAST:
    case TIDE_AGG_MEDIAN:
    case TIDE_AGG_PCT:
    case TIDE_AGG_COUNT_DISTINCT:
      return tide__agg_minmax_type_ok(type);
    default:
      return false;
  }
}

/* ------------------------------------------------------------ context */

typedef struct agg_ctx_t {
  const char *op;
  tide_table_t *t;
  const tide_rowset_t *rs;
  tide_groups_t g;
  uint32_t ng;            /* output rows: g.ngroups, or 1 without keys */
  uint64_t *first_key;    /* ng entries (TIDE_NULL_KEY for an empty group) */
  uint64_t *last_key;     /* lazily */
  uint64_t *sizes;        /* lazily: rows per group */
  /* chunk scratch */
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  uint64_t *keybuf;
  void *vbuf;             /* TIDE_CHUNK_SIZE values (8 bytes) */
  void *wbuf;
  double *dv, *dw;
  uint8_t *valid, *wvalid;
  uint64_t *kbuf;         /* encoded keys */
} agg_ctx_t;

static void scan_begin(agg_ctx_t *c) { tide_rowset_iter_init(&c->it, c->rs); }
static bool scan_next(agg_ctx_t *c) {
  return tide_rowset_iter_next_chunk(&c->it, TIDE_CHUNK_SIZE, &c->seq, c->keybuf);
}
static const uint32_t *scan_ids(const agg_ctx_t *c) { return c->g.ids + c->seq.pos; }

static tide_status agg_oom(agg_ctx_t *c, tide_error *err) {
  return tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", c->op);
}

/* Write the null of type into n elements of dst at the indices idx. */
static void put_nulls(tide_type_t type, void *dst, const uint32_t *idx, uint32_t n) {
  switch (tide_type_width(type)) {
#define PUT_NULLS(W, T)                            \
  case W: {                                        \
    T nv;                                          \
    tide_type_null(type, &nv);                     \
    T *d = (T *)dst;                               \
    for (uint32_t i = 0; i < n; i++) d[idx[i]] = nv; \
    break;                                         \
  }
    PUT_NULLS(1, uint8_t)
    PUT_NULLS(2, uint16_t)
    PUT_NULLS(4, uint32_t)
    PUT_NULLS(8, uint64_t)
#undef PUT_NULLS
    default:
      break;
  }
}

/* dst[i] = value of src at keys[i] (n values of src's storage type);
 * TIDE_NULL_KEY gives the type's null. */
static tide_status gather_into(const tide_source_t *src, const uint64_t *keys, uint64_t n,
                               void *dst) {
  const size_t w = tide_type_width(src->type);
  const int64_t nch = (int64_t)((n + TIDE_CHUNK_SIZE - 1) / TIDE_CHUNK_SIZE);
  bool oom = false;
  /* in parallel over chunks: q10's key columns are 1e7 values each */
#pragma omp parallel num_threads(tide__threads_for(n))
  {
    uint64_t *tmp = tide_malloc(TIDE_CHUNK_SIZE * sizeof *tmp);
    uint32_t *nulls = tide_malloc(TIDE_CHUNK_SIZE * sizeof *nulls);
    if (!tmp || !nulls) {
#pragma omp atomic write
      oom = true;
    }
#pragma omp for schedule(static)
    for (int64_t ch = 0; ch < nch; ch++) {
      if (!tmp || !nulls) continue;
      const uint64_t off = (uint64_t)ch * TIDE_CHUNK_SIZE;
      uint32_t m = (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, n - off);
      const uint64_t *k = keys + off;
      uint32_t nn = 0;
      uint64_t any = TIDE_NULL_KEY;
      for (uint32_t i = 0; i < m; i++) {
        if (k[i] == TIDE_NULL_KEY) nulls[nn++] = i;
        else any = k[i];
      }
      char *d = (char *)dst + off * w;
      if (nn == m) {
        put_nulls(src->type, d, nulls, nn);
        continue;
      }
      tide_rowseq_t seq = {0, k, 0, m};
      if (nn) {
        for (uint32_t i = 0; i < m; i++) tmp[i] = k[i] == TIDE_NULL_KEY ? any : k[i];
        seq.keys = tmp;
      }
      tide_source_fill(src, &seq, d);
      if (nn) put_nulls(src->type, d, nulls, nn);
    }
    tide_free(tmp);
    tide_free(nulls);
  }
  return oom ? TIDE_ERR_NOMEM : TIDE_OK;
}

/* New flat source of src's type (dictionary shared, strings kept alive)
 * with n values, all null. */
static tide_source_t *like_source(tide_source_t *src, uint64_t n, tide_error *err) {
  tide_source_t *out = tide_source_flat_create(src->type, n, err);
  if (!out) return NULL;
  if (src->type == TIDE_SYMBOL) tide__source_set_symtab(out, src->symtab);
  if (tide__source_keep_values_of(out, src) != TIDE_OK) {
    tide_source_release(out);
    tide_error_set(err, TIDE_ERR_NOMEM, "out of memory");
    return NULL;
  }
  return out;
}

/* Flat source with src's values at keys (TIDE_NULL_KEY: null). */
static tide_source_t *gather_source(tide_source_t *src, const uint64_t *keys, uint64_t n,
                                    tide_error *err) {
  tide_source_t *out = like_source(src, n, err);
  if (!out) return NULL;
  if (gather_into(src, keys, n, tide_source_flat_data(out)) != TIDE_OK) {
    tide_source_release(out);
    tide_error_set(err, TIDE_ERR_NOMEM, "out of memory");
    return NULL;
  }
  return out;
}

static tide_status need_last(agg_ctx_t *c, tide_error *err) {
  if (c->last_key) return TIDE_OK;
  if (c->g.ngroups == 0) {
    c->last_key = tide_malloc(sizeof *c->last_key);
    if (!c->last_key) return agg_oom(c, err);
    c->last_key[0] = TIDE_NULL_KEY;
    return TIDE_OK;
  }
  c->last_key = tide__groups_last_keys(&c->g, c->rs, err);
  return c->last_key ? TIDE_OK : agg_oom(c, err);
}

static tide_status need_sizes(agg_ctx_t *c, tide_error *err) {
  if (c->sizes) return TIDE_OK;
  if (c->g.ngroups == 0) {
    c->sizes = tide_calloc(1, sizeof *c->sizes);
  } else {
    c->sizes = tide__groups_sizes(&c->g, err);
  }
  return c->sizes ? TIDE_OK : agg_oom(c, err);
}

/* -------------------------------------------------- block partials */

/* sum, abs_sum, min, max and avg run over blocks of positions in parallel,
 * each block into its own partial accumulators, merged in block order:
 *  - float sums and avg: blocks are morsels (TIDE_MORSEL_ROWS positions),
 *    so results depend on the morsel split only, never on the thread
 *    count;
 *  - integer sums (exact, wrapping) and min/max (merged in block order,
 *    ties keep the earliest value): any split gives the row-order result,
 *    so blocks are one contiguous range per thread.
 * Used when blocks x groups stays small. */
#define AGG_PARTIAL_MAX (1u << 22)

typedef enum morsel_kind_t { MK_SUM, MK_MINMAX, MK_AVG } morsel_kind_t;

typedef struct morsel_job_t {
  morsel_kind_t kind;
  tide_source_t *src;
  bool absval, is_max;
  const uint32_t *ranks;
  size_t width;     /* bytes per partial value */
  char *part;       /* nm * ng partial values */
  uint64_t *pcnt;   /* nm * ng counts (sum, avg) */
} morsel_job_t;

/* Blocks for the partial path (0 when it does not apply) and their size
 * in positions: morsels when `fixed`, else one range per thread. */
static uint64_t agg_partial_blocks(const agg_ctx_t *c, bool fixed, uint64_t *per) {
  uint64_t nb;
  if (fixed) {
    nb = (c->g.nrows + TIDE_MORSEL_ROWS - 1) / TIDE_MORSEL_ROWS;
    *per = TIDE_MORSEL_ROWS;
  } else {
    nb = (uint64_t)tide__threads_for(c->g.nrows);
    *per = (c->g.nrows + nb - 1) / nb;
    *per = (*per + TIDE_CHUNK_SIZE - 1) / TIDE_CHUNK_SIZE * TIDE_CHUNK_SIZE;
  }
  if (nb < 2 || (uint64_t)c->ng * nb > AGG_PARTIAL_MAX) return 0;
  return nb;
}

/* Accumulate every block (positions [m * per, (m + 1) * per)) into its
 * partial accumulators. */
static tide_status agg_run_morsels(agg_ctx_t *c, morsel_job_t *job, uint64_t nm, uint64_t per) {
  const int nt = tide__threads_for(c->g.nrows);
  const uint32_t ng = c->ng;
  bool oom = false;
  tide_morsels_t ms;
  if (tide__morsels_init(&ms, nm, nt, NULL) != TIDE_OK) return TIDE_ERR_NOMEM;
#pragma omp parallel num_threads(nt)
  {
    uint64_t *keybuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *keybuf);
    void *vbuf = tide_malloc(TIDE_CHUNK_SIZE * 8);
    double *dv = tide_malloc(TIDE_CHUNK_SIZE * sizeof *dv);
    uint8_t *valid = tide_malloc(TIDE_CHUNK_SIZE);
    const bool ok = keybuf && vbuf && dv && valid;
    if (!ok) {
#pragma omp atomic write
      oom = true;
    }
    /* NUMA-aware: own block first (numa/morsel.c) */
    for (uint64_t m; ok && tide__morsels_next(&ms, omp_get_thread_num(), &m);) {
      char *part = job->part + m * ng * job->width;
      uint64_t *pcnt = job->pcnt ? job->pcnt + m * ng : NULL;
      tide_rowset_iter_t it;
      tide_rowseq_t seq;
      tide_rowset_iter_init_pos(&it, c->rs, m * per, per);
      while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, keybuf)) {
        const uint32_t *ids = c->g.ids + seq.pos;
        const void *v = tide__source_get(job->src, &seq, vbuf);
        switch (job->kind) {
          case MK_SUM:
            tide__agg_sum(job->src->type, job->absval, ids, v, seq.n, part, pcnt);
            break;
          case MK_MINMAX:
            tide__agg_minmax(job->src->type, job->is_max, ids, v, seq.n, job->ranks, part);
            break;
          case MK_AVG:
            tide__agg_to_f64(job->src->type, v, seq.n, dv, valid);
            tide__agg_sum_f64(ids, dv, valid, seq.n, (double *)part, pcnt);
            break;
        }
      }
    }
    tide_free(keybuf);
    tide_free(vbuf);
    tide_free(dv);
    tide_free(valid);
  }
  tide__morsels_free(&ms);
  return oom ? TIDE_ERR_NOMEM : TIDE_OK;
}

/* Sums (int64 or double) and counts over block partials, merged in block
 * order. Returns false (nothing written) if the path does not apply or
 * memory is short. */
static bool agg_sum_partials(agg_ctx_t *c, tide_source_t *src, bool absval, bool avg,
                             void *sums, uint64_t *counts) {
  const bool is_int = !avg && tide__agg_sum_is_int(src->type);
  uint64_t per;
  const uint64_t nm = agg_partial_blocks(c, !is_int, &per);
  if (!nm) return false;
  const uint32_t ng = c->ng;
  morsel_job_t job = {avg ? MK_AVG : MK_SUM, src, absval, false, NULL, 8, NULL, NULL};
  job.part = tide_calloc(nm * ng, 8);
  job.pcnt = tide_calloc(nm * ng, sizeof *job.pcnt);
  tide__table_mem_advise(job.part, nm * ng * 8);
  tide__table_mem_advise(job.pcnt, nm * ng * sizeof *job.pcnt);
  bool ok = job.part && job.pcnt && agg_run_morsels(c, &job, nm, per) == TIDE_OK;
  if (ok) {
    /* merged in parallel over ranges of groups, each group in block
     * order (nm * ng adds: with many groups and morsel blocks, tens of
     * millions) */
    const int64_t nr = ((int64_t)ng + TIDE_CHUNK_SIZE - 1) / TIDE_CHUNK_SIZE;
#pragma omp parallel for num_threads(tide__threads_for((uint64_t)ng * nm)) schedule(static)
    for (int64_t r = 0; r < nr; r++) {
      const uint32_t g0 = (uint32_t)r * TIDE_CHUNK_SIZE;
      const uint32_t g1 = TIDE_MIN(ng, g0 + (uint32_t)TIDE_CHUNK_SIZE);
      for (uint64_t m = 0; m < nm; m++) {
        const uint64_t *pc = job.pcnt + m * ng;
        for (uint32_t gi = g0; gi < g1; gi++) counts[gi] += pc[gi];
        if (is_int) {
          const uint64_t *ps = (const uint64_t *)job.part + m * ng;
          uint64_t *sd = sums;
          for (uint32_t gi = g0; gi < g1; gi++) sd[gi] += ps[gi];
        } else {
          const double *ps = (const double *)job.part + m * ng;
          double *sd = sums;
          for (uint32_t gi = g0; gi < g1; gi++) sd[gi] += ps[gi];
        }
      }
    }
  }
  tide_free(job.part);
  tide_free(job.pcnt);
  return ok;
}

/* Min/max over block partials, merged in block order with the same
 * kernel (so ties keep the earliest value, as the row-order loop does). */
static bool agg_minmax_partials(agg_ctx_t *c, tide_source_t *src, bool is_max,
                                const uint32_t *ranks, void *acc) {
  uint64_t per;
  const uint64_t nm = agg_partial_blocks(c, false, &per);
  if (!nm) return false;
  const uint32_t ng = c->ng;
  const size_t w = tide_type_width(src->type);
  morsel_job_t job = {MK_MINMAX, src, false, is_max, ranks, w, NULL, NULL};
  job.part = tide_malloc(nm * ng * w);
  uint32_t *iota = tide_malloc(TIDE_CHUNK_SIZE * sizeof *iota);
  bool ok = job.part && iota;
  if (ok) {
    /* every partial starts null: copy the output's (all null) values */
    for (uint64_t m = 0; m < nm; m++) memcpy(job.part + m * ng * w, acc, (size_t)ng * w);
    ok = agg_run_morsels(c, &job, nm, per) == TIDE_OK;
  }
  if (ok) {
    for (uint64_t m = 0; m < nm; m++) {
      for (uint32_t off = 0; off < ng; off += TIDE_CHUNK_SIZE) {
        uint32_t n = TIDE_MIN((uint32_t)TIDE_CHUNK_SIZE, ng - off);
        for (uint32_t i = 0; i < n; i++) iota[i] = off + i;
        tide__agg_minmax(src->type, is_max, iota, job.part + (m * ng + off) * w, n, ranks, acc);
      }
    }
  }
  tide_free(job.part);
  tide_free(iota);
  return ok;
}

/* ------------------------------------------------------- simple kinds */

static tide_source_t *agg_sum(agg_ctx_t *c, tide_source_t *src, bool absval, tide_error *err) {
  const bool is_int = tide__agg_sum_is_int(src->type);
  tide_source_t *out = tide_source_flat_create(is_int ? TIDE_I64 : TIDE_F64, c->ng, err);
  uint64_t *counts = tide_calloc(c->ng, sizeof *counts);
  if (!out || !counts) goto oom;
  void *sums = tide_source_flat_data(out);
  memset(sums, 0, (size_t)c->ng * 8);
  if (!agg_sum_partials(c, src, absval, false, sums, counts)) {
    scan_begin(c);
    while (scan_next(c)) {
      const void *v = tide__source_get(src, &c->seq, c->vbuf);
      tide__agg_sum(src->type, absval, scan_ids(c), v, c->seq.n, sums, counts);
    }
  }
  if (is_int) {
    int64_t *s = sums;
    for (uint32_t gi = 0; gi < c->ng; gi++)
      if (!counts[gi]) s[gi] = TIDE_NULL_I64;
  } else {
    double *s = sums;
    for (uint32_t gi = 0; gi < c->ng; gi++)
      if (!counts[gi]) s[gi] = TIDE_NULL_F64;
  }
  tide_free(counts);
  return out;
oom:
  tide_free(counts);
  tide_source_release(out);
  agg_oom(c, err);
  return NULL;
}

static tide_source_t *agg_minmax(agg_ctx_t *c, tide_source_t *src, bool is_max,
                                 tide_error *err) {
  uint32_t *ranks = NULL;
  tide_source_t *out = like_source(src, c->ng, err);
  if (!out) return NULL;
  if (src->type == TIDE_SYMBOL) {
    ranks = tide__radix_symbol_ranks(src->symtab, err);
    if (!ranks) {
      tide_source_release(out);
      return NULL;
    }
  }
  void *acc = tide_source_flat_data(out);
  if (!agg_minmax_partials(c, src, is_max, ranks, acc)) {
    scan_begin(c);
    while (scan_next(c)) {
      const void *v = tide__source_get(src, &c->seq, c->vbuf);
      tide__agg_minmax(src->type, is_max, scan_ids(c), v, c->seq.n, ranks, acc);
    }
  }
  tide_free(ranks);
  return out;
}

/* avg, std, var: through doubles. */
static tide_source_t *agg_moments(agg_ctx_t *c, tide_source_t *src, tide_agg_kind_t kind,
                                  tide_error *err) {
  tide_source_t *out = tide_source_flat_create(TIDE_F64, c->ng, err);
  double *a = tide_calloc(c->ng, sizeof *a);
  double *m2 = tide_calloc(c->ng, sizeof *m2);
  uint64_t *counts = tide_calloc(c->ng, sizeof *counts);
  if (!out || !a || !m2 || !counts) {
    tide_free(a);
    tide_free(m2);
    tide_free(counts);
    tide_source_release(out);
    agg_oom(c, err);
    return NULL;
  }
  const bool done = kind == TIDE_AGG_AVG && agg_sum_partials(c, src, false, true, a, counts);
  scan_begin(c);
  while (!done && scan_next(c)) {
    const void *v = tide__source_get(src, &c->seq, c->vbuf);
    tide__agg_to_f64(src->type, v, c->seq.n, c->dv, c->valid);
    if (kind == TIDE_AGG_AVG)
      tide__agg_sum_f64(scan_ids(c), c->dv, c->valid, c->seq.n, a, counts);
    else
      tide__agg_moments(scan_ids(c), c->dv, c->valid, c->seq.n, a, m2, counts);
  }
  double *o = tide_source_flat_data(out);
  for (uint32_t gi = 0; gi < c->ng; gi++) {
    uint64_t n = counts[gi];
    if (n == 0) {
      o[gi] = TIDE_NULL_F64;
    } else if (kind == TIDE_AGG_AVG) {
      o[gi] = a[gi] / (double)n;
    } else {
      double var = n > 1 ? m2[gi] / (double)(n - 1) : NAN;
      o[gi] = kind == TIDE_AGG_VAR ? var : sqrt(var);
    }
  }
  tide_free(a);
  tide_free(m2);
  tide_free(counts);
  return out;
}

static tide_source_t *agg_weighted(agg_ctx_t *c, tide_source_t *src, tide_source_t *wsrc,
                                   bool avg, tide_error *err) {
  tide_source_t *out = tide_source_flat_create(TIDE_F64, c->ng, err);
  double *wv = tide_calloc(c->ng, sizeof *wv);
  double *ws = tide_calloc(c->ng, sizeof *ws);
  uint64_t *counts = tide_calloc(c->ng, sizeof *counts);
  if (!out || !wv || !ws || !counts) {
    tide_free(wv);
    tide_free(ws);
    tide_free(counts);
    tide_source_release(out);
    agg_oom(c, err);
    return NULL;
  }
  scan_begin(c);
  while (scan_next(c)) {
    const void *v = tide__source_get(src, &c->seq, c->vbuf);
    const void *w = tide__source_get(wsrc, &c->seq, c->wbuf);
    tide__agg_to_f64(src->type, v, c->seq.n, c->dv, c->valid);
    tide__agg_to_f64(wsrc->type, w, c->seq.n, c->dw, c->wvalid);
    tide__agg_weighted(scan_ids(c), c->dv, c->valid, c->dw, c->wvalid, c->seq.n, wv, ws, counts);
  }
  double *o = tide_source_flat_data(out);
  for (uint32_t gi = 0; gi < c->ng; gi++) {
    if (counts[gi] == 0) o[gi] = TIDE_NULL_F64;
    else o[gi] = avg ? wv[gi] / ws[gi] : wv[gi];
  }
  tide_free(wv);
  tide_free(ws);
  tide_free(counts);
  return out;
}

static tide_source_t *agg_count(agg_ctx_t *c, tide_error *err) {
  if (need_sizes(c, err) != TIDE_OK) return NULL;
  tide_source_t *out = tide_source_flat_create(TIDE_I64, c->ng, err);
  if (!out) return NULL;
  int64_t *o = tide_source_flat_data(out);
  for (uint32_t gi = 0; gi < c->ng; gi++) o[gi] = (int64_t)c->sizes[gi];
  return out;
}

/* ------------------------------------------------- order statistics */

/* Non-null values of each group in sorted order: group g's values are
 * [off[g], off[g+1]); k holds order-preserving keys (s the strings for a
 * STRING column) and rk the row keys. */
typedef struct sorted_t {
  uint64_t *off;
  uint64_t *k;
  const char **s;
  uint64_t *rk;
} sorted_t;

static void sorted_free(sorted_t *s) {
  tide_free(s->off);
  tide_free(s->k);
  tide_free(s->s);
  tide_free(s->rk);
}

/* Partially order k[0..n) (with payload v) so that k[idx] is the element
 * a full sort would put there, everything before it is <= and everything
 * after it >= (quickselect, median-of-three pivots, Hoare partitions). */
static void select_nth(uint64_t *k, uint64_t *v, int64_t n, int64_t idx) {
#define SEL_SWAP(a, b)            \
  do {                            \
    uint64_t tk_ = k[a];          \
    k[a] = k[b];                  \
    k[b] = tk_;                   \
    uint64_t tv_ = v[a];          \
    v[a] = v[b];                  \
    v[b] = tv_;                   \
  } while (0)
  int64_t lo = 0, hi = n - 1;
  while (hi - lo >= 16) {
    int64_t mid = lo + (hi - lo) / 2;
    if (k[mid] < k[lo]) SEL_SWAP(mid, lo);
    if (k[hi] < k[lo]) SEL_SWAP(hi, lo);
    if (k[hi] < k[mid]) SEL_SWAP(hi, mid);
    const uint64_t pivot = k[mid];
    int64_t i = lo, j = hi;
    while (i <= j) {
      while (k[i] < pivot) i++;
      while (k[j] > pivot) j--;
      if (i <= j) {
        SEL_SWAP(i, j);
        i++;
        j--;
      }
    }
    /* [lo, j] <= pivot, [i, hi] >= pivot, (j, i) == pivot */
    if (idx <= j) hi = j;
    else if (idx >= i) lo = i;
    else return;
  }
  for (int64_t i = lo + 1; i <= hi; i++) /* insertion sort of the rest */
    for (int64_t j = i; j > lo && k[j] < k[j - 1]; j--) SEL_SWAP(j, j - 1);
#undef SEL_SWAP
}

/* Bucket the non-null values of src by group (row order within a group);
 * with `sort`, sort each group's slice. */
static tide_status agg_sort_groups(agg_ctx_t *c, tide_source_t *src, bool sort, sorted_t *out,
                                   tide_error *err) {
  memset(out, 0, sizeof *out);
  const tide_type_t type = src->type;
  const bool is_str = type == TIDE_STRING;
  uint32_t *ranks = NULL;
  uint64_t *cur = NULL, *tk = NULL, *tv = NULL;
  const char **ts = NULL;
  if (type == TIDE_SYMBOL) {
    ranks = tide__radix_symbol_ranks(src->symtab, err);
    if (!ranks) return err ? err->status : TIDE_ERR_NOMEM;
  }
  const uint32_t ng = c->ng;
  out->off = tide_calloc((size_t)ng + 1, sizeof *out->off);
  cur = tide_malloc(((size_t)ng + 1) * sizeof *cur);
  if (!out->off || !cur) goto oom;
  /* pass 1: non-null count per group */
  uint64_t *cnt = out->off + 1;
  scan_begin(c);
  while (scan_next(c)) {
    const uint32_t *restrict ids = scan_ids(c);
    const uint32_t n = c->seq.n;
    const void *v = tide__source_get(src, &c->seq, c->vbuf);
    if (is_str) {
      const char *const *sv = v;
      for (uint32_t i = 0; i < n; i++) cnt[ids[i]] += sv[i] != NULL;
    } else {
      tide__radix_encode(type, v, n, false, ranks, c->kbuf);
      const uint64_t *restrict kb = c->kbuf;
      for (uint32_t i = 0; i < n; i++) cnt[ids[i]] += kb[i] != 0; /* 0 encodes null */
    }
  }
  uint64_t maxlen = 0;
  for (uint32_t gi = 0; gi < ng; gi++) {
    if (cnt[gi] > maxlen) maxlen = cnt[gi];
    out->off[gi + 1] += out->off[gi];
  }
  const uint64_t total = out->off[ng];
  memcpy(cur, out->off, ((size_t)ng + 1) * sizeof *cur);
  out->rk = tide_malloc((total ? total : 1) * sizeof *out->rk);
  if (is_str) {
    out->s = tide_malloc((total ? total : 1) * sizeof *out->s);
    ts = tide_malloc((maxlen ? maxlen : 1) * sizeof *ts);
  } else {
    out->k = tide_malloc((total ? total : 1) * sizeof *out->k);
    tk = tide_malloc((maxlen ? maxlen : 1) * sizeof *tk);
  }
  tv = tide_malloc((maxlen ? maxlen : 1) * sizeof *tv);
  if (!out->rk || (is_str ? (!out->s || !ts) : (!out->k || !tk)) || !tv) goto oom;
  /* pass 2: scatter in row order */
  scan_begin(c);
  while (scan_next(c)) {
    const uint32_t *restrict ids = scan_ids(c);
    const uint32_t n = c->seq.n;
    const void *v = tide__source_get(src, &c->seq, c->vbuf);
    const uint64_t *keys = c->seq.keys;
    const uint64_t first = c->seq.first;
    if (is_str) {
      const char *const *sv = v;
      for (uint32_t i = 0; i < n; i++) {
        if (!sv[i]) continue;
        uint64_t p = cur[ids[i]]++;
        out->s[p] = sv[i];
        out->rk[p] = keys ? keys[i] : first + i;
      }
    } else {
      tide__radix_encode(type, v, n, false, ranks, c->kbuf);
      const uint64_t *restrict kb = c->kbuf;
      for (uint32_t i = 0; i < n; i++) {
        if (!kb[i]) continue;
        uint64_t p = cur[ids[i]]++;
        out->k[p] = kb[i];
        out->rk[p] = keys ? keys[i] : first + i;
      }
    }
  }
  /* sort each group's slice: groups in parallel (each thread its own
   * scratch; the first thread's is the one allocated above) */
  if (sort) {
    const int nt = tide__threads_for(total);
    bool oom = false;
#pragma omp parallel num_threads(nt)
    {
      const bool own = omp_get_thread_num() != 0;
      uint64_t *mtk = tk, *mtv = tv;
      const char **mts = ts;
      if (own) {
        mtv = tide_malloc((maxlen ? maxlen : 1) * sizeof *mtv);
        if (is_str) mts = tide_malloc((maxlen ? maxlen : 1) * sizeof *mts);
        else mtk = tide_malloc((maxlen ? maxlen : 1) * sizeof *mtk);
      }
      const bool ok = mtv && (is_str ? mts != NULL : mtk != NULL);
      if (!ok) {
#pragma omp atomic write
        oom = true;
      }
#pragma omp for schedule(dynamic, 16)
      for (int64_t gi = 0; gi < (int64_t)ng; gi++) {
        uint64_t o = out->off[gi], len = out->off[gi + 1] - o;
        if (len < 2 || !ok) continue;
        if (is_str) {
          tide__sort_strings(out->s + o, out->rk + o, len, false, mts, mtv);
        } else {
          uint64_t *rkk, *rkv;
          tide__radix_sort_buf(out->k + o, out->rk + o, mtk, mtv, len, &rkk, &rkv);
          if (rkk != out->k + o) memcpy(out->k + o, rkk, len * sizeof *rkk);
          if (rkv != out->rk + o) memcpy(out->rk + o, rkv, len * sizeof *rkv);
        }
      }
      if (own) {
        tide_free(mtk);
        tide_free(mtv);
        tide_free(mts);
      }
    }
    if (oom) goto oom;
  }
  tide_free(ranks);
  tide_free(cur);
  tide_free(tk);
  tide_free(tv);
  tide_free(ts);
  return TIDE_OK;
oom:
  tide_free(ranks);
  tide_free(cur);
  tide_free(tk);
  tide_free(tv);
  tide_free(ts);
  sorted_free(out);
  return agg_oom(c, err);
}

static tide_source_t *agg_order_stat(agg_ctx_t *c, const agg_item_t *item, tide_source_t *src,
                                     tide_error *err) {
  sorted_t s;
  /* strings and count_distinct sort; pct/median of other types select */
  const bool sort = item->kind == TIDE_AGG_COUNT_DISTINCT || src->type == TIDE_STRING;
  if (agg_sort_groups(c, src, sort, &s, err) != TIDE_OK) return NULL;
  const uint32_t ng = c->ng;
  tide_source_t *out = NULL;
  uint64_t *lo = NULL, *hi = NULL;
  void *lov = NULL, *hiv = NULL;
  double *dlo = NULL, *dhi = NULL;
  uint8_t *vlo = NULL, *vhi = NULL;

  if (item->kind == TIDE_AGG_COUNT_DISTINCT) {
    if (item->count_nulls && need_sizes(c, err) != TIDE_OK) goto fail;
    out = tide_source_flat_create(TIDE_I64, ng, err);
    if (!out) goto fail;
    int64_t *o = tide_source_flat_data(out);
    for (uint32_t gi = 0; gi < ng; gi++) {
      uint64_t a = s.off[gi], b = s.off[gi + 1];
      int64_t d = 0;
      if (s.s) {
        for (uint64_t j = a; j < b; j++) d += j == a || strcmp(s.s[j], s.s[j - 1]) != 0;
      } else {
        for (uint64_t j = a; j < b; j++) d += j == a || s.k[j] != s.k[j - 1];
      }
      if (item->count_nulls && c->sizes[gi] > b - a) d++;
      o[gi] = d;
    }
    sorted_free(&s);
    return out;
  }

  const bool numeric_median =
      item->kind == TIDE_AGG_MEDIAN && tide_type_is_numeric(src->type);
  lo = tide_malloc((ng ? ng : 1) * sizeof *lo);
  hi = tide_malloc((ng ? ng : 1) * sizeof *hi);
  if (!lo || !hi) goto oom;
  /* groups are independent: select in parallel */
#pragma omp parallel for num_threads(tide__threads_for(s.off[ng])) schedule(dynamic, 16)
  for (int64_t gi = 0; gi < (int64_t)ng; gi++) {
    uint64_t a = s.off[gi], len = s.off[gi + 1] - a;
    if (len == 0) {
      lo[gi] = hi[gi] = TIDE_NULL_KEY;
      continue;
    }
    uint64_t idx;
    if (item->kind == TIDE_AGG_PCT) {
      idx = (uint64_t)floor(item->pct * (double)(len - 1));
      if (idx >= len) idx = len - 1;
    } else {
      idx = (len - 1) / 2;
    }
    if (sort) {
      lo[gi] = s.rk[a + idx];
      hi[gi] = s.rk[a + len / 2];
      continue;
    }
    uint64_t *k = s.k + a, *rk = s.rk + a;
    select_nth(k, rk, (int64_t)len, (int64_t)idx);
    lo[gi] = hi[gi] = rk[idx];
    if (item->kind == TIDE_AGG_MEDIAN && len / 2 != idx) {
      /* the upper middle: the least element after idx */
      uint64_t best = idx + 1;
      for (uint64_t j = idx + 2; j < len; j++)
        if (k[j] < k[best]) best = j;
      hi[gi] = rk[best];
    }
  }
  sorted_free(&s);
  memset(&s, 0, sizeof s);
  if (!numeric_median) {
    out = gather_source(src, lo, ng, err);
    tide_free(lo);
    tide_free(hi);
    return out;
  }
  /* numeric median: mean of the two middle values, as double */
  out = tide_source_flat_create(TIDE_F64, ng, err);
  if (!out) goto fail;
  {
    const size_t w = tide_type_width(src->type);
    lov = tide_malloc((size_t)(ng ? ng : 1) * w);
    hiv = tide_malloc((size_t)(ng ? ng : 1) * w);
    dlo = tide_malloc((ng ? ng : 1) * sizeof *dlo);
    dhi = tide_malloc((ng ? ng : 1) * sizeof *dhi);
    vlo = tide_malloc(ng ? ng : 1);
    vhi = tide_malloc(ng ? ng : 1);
    if (!lov || !hiv || !dlo || !dhi || !vlo || !vhi) goto oom;
    if (gather_into(src, lo, ng, lov) != TIDE_OK || gather_into(src, hi, ng, hiv) != TIDE_OK)
      goto oom;
    double *o = tide_source_flat_data(out);
    for (uint64_t off = 0; off < ng; off += TIDE_CHUNK_SIZE) {
      uint32_t m = (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, ng - off);
      tide__agg_to_f64(src->type, (const char *)lov + off * w, m, dlo + off, vlo + off);
      tide__agg_to_f64(src->type, (const char *)hiv + off * w, m, dhi + off, vhi + off);
    }
    for (uint32_t gi = 0; gi < ng; gi++)
      o[gi] = vlo[gi] ? (dlo[gi] == dhi[gi] ? dlo[gi] : (dlo[gi] + dhi[gi]) / 2.0) : TIDE_NULL_F64;
  }
  tide_free(lo);
  tide_free(hi);
  tide_free(lov);
  tide_free(hiv);
  tide_free(dlo);
  tide_free(dhi);
  tide_free(vlo);
  tide_free(vhi);
  return out;
oom:
  agg_oom(c, err);
fail:
  sorted_free(&s);
  tide_free(lo);
  tide_free(hi);
  tide_free(lov);
  tide_free(hiv);
  tide_free(dlo);
  tide_free(dhi);
  tide_free(vlo);
  tide_free(vhi);
  tide_source_release(out);
  return NULL;
}

/* ------------------------------------------------- fused direct scan */

/* sum, abs_sum, avg and count with no key or with keys that map directly
 * onto few slots (kernels/agg_group.c) run in one parallel pass over the
 * morsels, without materializing group ids: per chunk, one loop computes
 * every row's slot, counts the rows per slot and accumulates the plain
 * sums of int64 and double columns (tide__agg_fused, up to TIDE_FZ_MAX
 * per loop); other items (narrower types, abs_sum) take one scatter pass
 * each over the slots. Partials are per morsel: a slot's row count and
 * fused sums lie together (one cache line: the loop makes one address
 * per row) after the row counts, the other items' sums in arrays of
 * their own; null counts are
 * per thread (exact in any order). Without keys the partials are plain
 * reductions. Groups are then ordered by first appearance (the first
 * morsel holding a slot is rescanned for the slot's first position) and
 * the partials merged in morsel order, so results do not depend on the
 * thread count; float sums equal the block-partial path's (row order
 * within a morsel, then morsel order; without keys each chunk is summed
 * in 8 fixed lanes). Integer avg accumulates exactly in int64 and divides
 * once, unless the values could overflow int64 (|x| * rows >= 2^62): then
 * that column goes through doubles in a second pass. */
#define FZ_SLOTS_MAX (1u << 16)

typedef enum fz_mode_t { FZ_COUNT, FZ_INT, FZ_DBL, FZ_IDBL } fz_mode_t;

typedef struct fz_item_t {
  tide_agg_kind_t kind;
  tide_source_t *src;
  fz_mode_t mode;
  bool absval;
  bool fusable;     /* int64 or double plain sum: in the one-pass loop */
  bool check_mag;   /* int avg in int64: watch the magnitudes */
  bool active;      /* accumulated by the current pass */
  uint64_t mag;     /* bound of the magnitudes seen (see tide_fz_args_t) */
  uint64_t loc;     /* sum: < W in a slot's entries, else array loc - W */
} fz_item_t;

typedef struct fz_t {
  const tide_rowset_t *rs;
  const tide_direct_plan_t *plan;
  uint64_t nrows, nm, mapsize;
  int nt;
  size_t ni;
  fz_item_t *it;
  uint64_t W;       /* fused sums per slot */
  uint64_t mblock;  /* per morsel: mapsize row counts, mapsize * W fused sums,
                     * then an array per other item */
  uint64_t tblock;  /* entries per thread: a null count per item and slot */
  bool counted;     /* the row counts are done (a second pass skips them) */
  uint64_t *part;   /* nm * mblock */
  uint64_t *tpart;  /* nt * tblock */
} fz_t;

static bool fz_kind_ok(tide_agg_kind_t k) {
  return k == TIDE_AGG_SUM || k == TIDE_AGG_ABS_SUM || k == TIDE_AGG_AVG || k == TIDE_AGG_COUNT;
}

/* Item i's partial of slot s within morsel block mb: its base and the
 * stride between slots. */
static uint64_t *fz_base(const fz_t *f, uint64_t *mb, size_t i, uint64_t *stride) {
  assert(f->it[i].mode != FZ_COUNT);
  const uint64_t loc = f->it[i].loc;
  if (loc < f->W) {
    *stride = f->W;
    return mb + f->mapsize + loc;
  }
  *stride = 1;
  return mb + f->mapsize * (1 + f->W) + (loc - f->W) * f->mapsize;
}

/* How the key of a one-column plan reads in the one-pass loop; SLOTS:
 * the slots come from tide__direct_slots first. */
static tide_fz_key_t fz_key_form(const tide_direct_plan_t *p) {
  if (p->nby != 1) return TIDE_FZK_SLOTS;
  switch (p->by[0]->type) {
    case TIDE_I64:
    case TIDE_TS:
      return TIDE_FZK_I64;
    case TIDE_I32:
      return TIDE_FZK_I32;
    case TIDE_SYMBOL:
      return p->mins[0] == 0 ? TIDE_FZK_SYM : TIDE_FZK_SLOTS;
    default:
      return TIDE_FZK_SLOTS;
  }
}

/* One pass over every morsel for the active items. Keyed: per chunk, one
 * loop computes the slots, the rows per slot (first pass only) and the
 * sums of up to TIDE_FZ_MAX fusable items with consecutive entries (more
 * in further loops over the stored slots); other items take one scatter
 * pass each over the slots. */
static tide_status fz_pass(fz_t *f) {
  const int nt = f->nt;
  const uint64_t msz = f->mapsize;
  const uint64_t W = f->W;
  const bool keyed = f->plan->nby > 0;
  const bool counting = !f->counted;
  bool oom = false;
  size_t *fused = tide_malloc((f->ni ? f->ni : 1) * sizeof *fused);
  size_t *other = tide_malloc((f->ni ? f->ni : 1) * sizeof *other);
  if (!fused || !other) {
    tide_free(fused);
    tide_free(other);
    return TIDE_ERR_NOMEM;
  }
  size_t nf = 0, no = 0;
  bool all = true;
  for (size_t i = 0; i < f->ni; i++) {
    const fz_item_t *x = &f->it[i];
    all &= x->active;
    if (!x->active || x->mode == FZ_COUNT) continue;
    if (keyed && x->fusable) fused[nf++] = i;
    else other[no++] = i;
  }
  /* the rows are counted by the key loop; a later pass reads slots */
  const tide_fz_key_t kform = keyed && counting ? fz_key_form(f->plan) : TIDE_FZK_SLOTS;
  /* the slots must be stored when anything reads them after the first loop */
  const bool keep_slots = nf > TIDE_FZ_MAX || no > 0;
  tide_morsels_t ms;
  if (tide__morsels_init(&ms, f->nm, nt, NULL) != TIDE_OK) {
    tide_free(fused);
    tide_free(other);
    return TIDE_ERR_NOMEM;
  }
  /* the null counts of the active items start at zero (small) */
  for (int t = 0; t < nt; t++)
    for (size_t i = 0; i < f->ni; i++)
      if (f->it[i].active && f->it[i].mode != FZ_COUNT)
        memset(f->tpart + (size_t)t * f->tblock + i * msz, 0, msz * sizeof *f->tpart);
#pragma omp parallel num_threads(nt)
  {
    const int tid = omp_get_thread_num();
    uint64_t *keybuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *keybuf);
    char *vbuf = tide_malloc((size_t)TIDE_FZ_MAX * TIDE_CHUNK_SIZE * 8);
    void *kbuf = tide_malloc(TIDE_CHUNK_SIZE * 8);
    uint32_t *sl = tide_malloc(TIDE_CHUNK_SIZE * sizeof *sl);
    uint64_t *mag = tide_calloc(f->ni ? f->ni : 1, sizeof *mag);
    const bool ok = keybuf && vbuf && kbuf && sl && mag;
    if (!ok) {
#pragma omp atomic write
      oom = true;
    }
    uint64_t *tb = f->tpart + (size_t)tid * f->tblock;
    for (uint64_t m; ok && tide__morsels_next(&ms, tid, &m);) {
      uint64_t *mb = f->part + m * f->mblock;
      if (all && counting) {
        memset(mb, 0, f->mblock * sizeof *mb);
      } else {
        /* a later pass (every item may be active again): its items'
         * entries only, the row counts stay */
        for (size_t i = 0; i < f->ni; i++) {
          if (!f->it[i].active || f->it[i].mode == FZ_COUNT) continue;
          uint64_t stride;
          uint64_t *p = fz_base(f, mb, i, &stride);
          for (uint64_t q = 0; q < msz; q++) p[q * stride] = 0;
        }
        if (counting) memset(mb, 0, msz * sizeof *mb);
      }
      tide_rowset_iter_t it;
      tide_rowseq_t seq;
      tide_rowset_iter_init_pos(&it, f->rs, m * TIDE_MORSEL_ROWS, TIDE_MORSEL_ROWS);
      while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, keybuf)) {
        const uint32_t n = seq.n;
        bool have_slots = false;
        if (keyed) {
          /* the slots, the row counts and the first batch in one loop */
          tide_fz_args_t a;
          a.kform = kform;
          if (kform == TIDE_FZK_SLOTS) {
            tide__direct_slots(f->plan, &seq, kbuf, sl);
            a.keys = sl;
            have_slots = true;
          } else {
            a.keys = tide__source_get(f->plan->by[0], &seq, kbuf);
            a.minv = (uint64_t)f->plan->mins[0];
          }
          a.sl_out = !have_slots && keep_slots ? sl : NULL;
          have_slots |= a.sl_out != NULL;
          a.rows = counting ? mb : NULL;
          a.stride = W;
          size_t b = 0;
          do {
            a.m = 0;
            a.dbl = 0;
            const uint64_t loc0 = b < nf ? f->it[fused[b]].loc : 0;
            a.acc = mb + msz + loc0;
            for (; b < nf && a.m < TIDE_FZ_MAX && f->it[fused[b]].loc == loc0 + a.m; b++, a.m++) {
              const fz_item_t *x = &f->it[fused[b]];
              void *vb = vbuf + (size_t)a.m * TIDE_CHUNK_SIZE * 8;
              a.vals[a.m] = tide__source_get(x->src, &seq, vb);
              a.mag[a.m] = 0;
              if (x->mode == FZ_IDBL) {
                tide__agg_i64_to_f64(a.vals[a.m], n, vb);
                a.vals[a.m] = vb;
              }
              if (x->mode != FZ_INT) a.dbl |= 1u << a.m;
            }
            const bool had = tide__agg_fused(&a, n) != 0;
            const size_t b0 = b - a.m;
            if (had && !have_slots) {
              tide__direct_slots(f->plan, &seq, kbuf, sl);
              have_slots = true;
            }
            for (uint32_t j = 0; j < a.m; j++) {
              const size_t i = fused[b0 + j];
              if (!(a.dbl >> j & 1)) mag[i] |= a.mag[j];
              /* rare: count the nulls per slot */
              if (had)
                tide__agg_null_count(a.dbl >> j & 1 ? TIDE_F64 : TIDE_I64, sl, a.vals[j], n,
                                     tb + i * msz);
            }
            /* further loops read the stored slots */
            a.kform = TIDE_FZK_SLOTS;
            a.keys = sl;
            a.sl_out = NULL;
            a.rows = NULL;
          } while (b < nf);
        } else if (counting) {
          mb[0] += n;
        }
        for (size_t o = 0; o < no; o++) {
          const size_t i = other[o];
          const fz_item_t *x = &f->it[i];
          uint64_t stride;
          void *sums = fz_base(f, mb, i, &stride);
          uint64_t *nulls = tb + i * msz;
          const void *v = tide__source_get(x->src, &seq, vbuf);
          const tide_type_t ty = x->src->type;
          if (keyed) {
            assert(stride == 1 && have_slots);
            if (x->mode == FZ_IDBL) tide__agg_sum_dbl_nulls(ty, sl, v, n, sums, nulls);
            else tide__agg_sum_nulls(ty, x->absval, sl, v, n, sums, nulls);
          } else {
            uint64_t cnt = 0;
            if (x->mode == FZ_IDBL) tide__agg_reduce_sum_dbl(ty, v, n, sums, &cnt);
            else tide__agg_reduce_sum(ty, x->absval, v, n, sums, &cnt);
            nulls[0] += n - cnt;
          }
          if (x->check_mag && x->mode == FZ_INT) mag[i] |= tide__agg_int_mag(ty, v, n);
        }
      }
    }
    for (size_t i = 0; ok && i < f->ni; i++) {
      if (!mag[i]) continue;
#pragma omp atomic
      f->it[i].mag |= mag[i];
    }
    tide_free(keybuf);
    tide_free(vbuf);
    tide_free(kbuf);
    tide_free(sl);
    tide_free(mag);
  }
  tide__morsels_free(&ms);
  tide_free(fused);
  tide_free(other);
  f->counted = true;
  return oom ? TIDE_ERR_NOMEM : TIDE_OK;
}

typedef struct fz_first_t {
  uint64_t pos;
  uint32_t slot;
} fz_first_t;

static int fz_first_cmp(const void *a, const void *b) {
  uint64_t x = ((const fz_first_t *)a)->pos, y = ((const fz_first_t *)b)->pos;
  return (x > y) - (x < y);
}

/* Groups in order of first appearance: slot of each group (*slotp, ng
 * entries) and first row keys (*fkp). */
static tide_status fz_groups(fz_t *f, uint32_t *ngp, uint32_t **slotp, uint64_t **fkp) {
  const uint64_t ms_ = f->mapsize;
  uint32_t *fm = tide_malloc(ms_ * sizeof *fm);          /* first morsel of each slot */
  uint64_t *fpos = tide_malloc(ms_ * sizeof *fpos);
  uint64_t *keybuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *keybuf);
  void *kbuf = tide_malloc(TIDE_CHUNK_SIZE * 8);
  uint32_t *sl = tide_malloc(TIDE_CHUNK_SIZE * sizeof *sl);
  uint32_t *mcount = tide_calloc(f->nm, sizeof *mcount);  /* slots first seen per morsel */
  fz_first_t *firsts = NULL;
  tide_status st = TIDE_ERR_NOMEM;
  *slotp = NULL;
  *fkp = NULL;
  if (!fm || !fpos || !keybuf || !kbuf || !sl || !mcount) goto done;
  uint64_t ng = 0;
  for (uint64_t s = 0; s < ms_; s++) {
    fm[s] = UINT32_MAX;
    fpos[s] = UINT64_MAX;
    for (uint64_t m = 0; m < f->nm; m++) {
      if (f->part[m * f->mblock + s]) {
        fm[s] = (uint32_t)m;
        mcount[m]++;
        ng++;
        break;
      }
    }
  }
  /* first position of each slot: rescan the morsels where slots first
   * appear, up to the last such slot */
  for (uint64_t m = 0; m < f->nm; m++) {
    uint32_t left = mcount[m];
    if (!left) continue;
    tide_rowset_iter_t it;
    tide_rowseq_t seq;
    tide_rowset_iter_init_pos(&it, f->rs, m * TIDE_MORSEL_ROWS, TIDE_MORSEL_ROWS);
    while (left && tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, keybuf)) {
      tide__direct_slots(f->plan, &seq, kbuf, sl);
      for (uint32_t i = 0; i < seq.n && left; i++) {
        uint32_t s = sl[i];
        if (fm[s] == m && fpos[s] == UINT64_MAX) {
          fpos[s] = seq.pos + i;
          left--;
        }
      }
    }
  }
  firsts = tide_malloc((ng ? ng : 1) * sizeof *firsts);
  *slotp = tide_malloc((ng ? ng : 1) * sizeof **slotp);
  *fkp = tide_malloc((ng ? ng : 1) * sizeof **fkp);
  if (!firsts || !*slotp || !*fkp) goto done;
  uint64_t q = 0;
  for (uint64_t s = 0; s < ms_; s++)
    if (fm[s] != UINT32_MAX) firsts[q++] = (fz_first_t){fpos[s], (uint32_t)s};
  qsort(firsts, ng, sizeof *firsts, fz_first_cmp);
  for (uint64_t r = 0; r < ng; r++) {
    (*slotp)[r] = firsts[r].slot;
    (*fkp)[r] = tide_rowset_key_at(f->rs, firsts[r].pos);
  }
  *ngp = (uint32_t)ng;
  st = TIDE_OK;
done:
  if (st != TIDE_OK) {
    tide_free(*slotp);
    tide_free(*fkp);
    *slotp = NULL;
    *fkp = NULL;
  }
  tide_free(fm);
  tide_free(fpos);
  tide_free(keybuf);
  tide_free(kbuf);
  tide_free(sl);
  tide_free(mcount);
  tide_free(firsts);
  return st;
}

/* Output column of item i; rows[r]: rows of group r. */
static tide_source_t *fz_output(const fz_t *f, size_t i, uint32_t ng, const uint32_t *slot,
                                const uint64_t *rows, uint64_t *cnt, tide_error *err) {
  const fz_item_t *x = &f->it[i];
  const uint64_t msz = f->mapsize;
  const bool int_out = x->kind != TIDE_AGG_AVG && (x->mode == FZ_INT || x->mode == FZ_COUNT);
  tide_source_t *out = tide_source_flat_create(int_out ? TIDE_I64 : TIDE_F64, ng, err);
  if (!out) return NULL;
  uint64_t *o = tide_source_flat_data(out);
  if (x->mode == FZ_COUNT) {
    memcpy(o, rows, (size_t)ng * sizeof *o);
    return out;
  }
  memset(o, 0, (size_t)ng * 8);
  for (uint32_t r = 0; r < ng; r++) cnt[r] = rows[r];
  for (int t = 0; t < f->nt; t++) {
    const uint64_t *pn = f->tpart + (size_t)t * f->tblock + i * msz;
    for (uint32_t r = 0; r < ng; r++) cnt[r] -= pn[slot[r]];
  }
  double *od = (double *)o;
  for (uint64_t m = 0; m < f->nm; m++) {
    uint64_t stride;
    const uint64_t *p = fz_base(f, f->part + m * f->mblock, i, &stride);
    if (x->mode == FZ_INT) {
      for (uint32_t r = 0; r < ng; r++) o[r] += p[slot[r] * stride];
    } else {
      const double *pd = (const double *)p;
      for (uint32_t r = 0; r < ng; r++) od[r] += pd[slot[r] * stride];
    }
  }
  int64_t *oi = (int64_t *)o;
  for (uint32_t r = 0; r < ng; r++) {
    if (x->kind == TIDE_AGG_AVG) {
      if (!cnt[r]) od[r] = TIDE_NULL_F64;
      else if (x->mode == FZ_INT) od[r] = (double)oi[r] / (double)cnt[r];
      else od[r] = od[r] / (double)cnt[r];
    } else if (!cnt[r]) {
      if (int_out) oi[r] = TIDE_NULL_I64;
      else od[r] = TIDE_NULL_F64;
    }
  }
  return out;
}

/* Runs the fused path when it applies: returns TIDE_OK with *done set,
 * c->g.first_key / c->first_key / c->ng set and srcs[0..nitems) filled;
 * *done false (nothing set) when it does not apply. */
static tide_status agg_fused(agg_ctx_t *c, const agg_item_t *items, size_t nitems, size_t nby,
                             tide_source_t *const *bysrc, tide_source_t **srcs,
                             tide_direct_plan_t *plan, bool *done, tide_error *err) {
  *done = false;
  const uint64_t nrows = tide_rowset_size(c->rs);
  if (nrows == 0 || nrows >= UINT32_MAX || nitems == 0) return TIDE_OK;
  for (size_t i = 0; i < nitems; i++)
    if (!fz_kind_ok(items[i].kind)) return TIDE_OK;
  fz_t f;
  memset(&f, 0, sizeof f);
  f.rs = c->rs;
  f.nrows = nrows;
  f.ni = nitems;
  f.nm = (nrows + TIDE_MORSEL_ROWS - 1) / TIDE_MORSEL_ROWS;
  f.nt = tide__threads_for(nrows);
  /* partials: the row counts, the fusable items' sums per slot, an array
   * per other item (count items read the row counts) */
  f.it = tide_calloc(nitems, sizeof *f.it);
  if (!f.it) return agg_oom(c, err);
  f.W = 0;
  uint64_t narr = 0;
  for (size_t i = 0; i < nitems; i++) {
    fz_item_t *x = &f.it[i];
    x->kind = items[i].kind;
    x->src = items[i].in >= 0 ? c->t->cols[items[i].in] : NULL;
    x->absval = x->kind == TIDE_AGG_ABS_SUM;
    x->active = true;
    if (x->kind == TIDE_AGG_COUNT) x->mode = FZ_COUNT;
    else x->mode = tide__agg_sum_is_int(x->src->type) ? FZ_INT : FZ_DBL;
    x->check_mag = x->kind == TIDE_AGG_AVG && x->mode == FZ_INT;
    x->fusable = !x->absval && (x->mode == FZ_INT ? x->src->type == TIDE_I64 || x->src->type == TIDE_TS
                                                  : x->mode == FZ_DBL && x->src->type == TIDE_F64);
    if (x->fusable) x->loc = f.W++;
  }
  for (size_t i = 0; i < nitems; i++) {
    fz_item_t *x = &f.it[i];
    if (x->mode == FZ_COUNT) x->loc = 0;
    else if (!x->fusable) x->loc = f.W + narr++;
  }
  f.mblock = 1 + f.W + narr;
  f.tblock = nitems;
  uint64_t max_slots = AGG_PARTIAL_MAX / (f.nm * f.mblock + (uint64_t)f.nt * f.tblock);
  if (max_slots > FZ_SLOTS_MAX) max_slots = FZ_SLOTS_MAX;
  if (max_slots < 1) {
    tide_free(f.it);
    return TIDE_OK;
  }
  bool ok;
  uint32_t ng = 0;
  uint32_t *slot = NULL;
  uint64_t *fk = NULL, *cnt = NULL, *rows = NULL;
  /* the plan (key ranges) stays with the caller for the grouping path */
  tide_status st = tide__direct_plan(c->rs, nby, bysrc, max_slots, plan, &ok);
  if (st != TIDE_OK || !ok) {
    tide_free(f.it);
    return st != TIDE_OK ? agg_oom(c, err) : TIDE_OK;
  }
  f.plan = plan;
  f.mapsize = plan->mapsize;
  f.mblock *= f.mapsize;
  f.tblock *= f.mapsize;
  f.part = tide_malloc(f.nm * f.mblock * sizeof *f.part);
  f.tpart = tide_malloc((size_t)f.nt * f.tblock * sizeof *f.tpart);
  if (!f.part || !f.tpart) goto oom;
  /* int64 partials of an int avg cannot overflow while |x| * rows < 2^62 */
  const uint64_t mag_limit = (UINT64_C(1) << 62) / nrows;
  if (fz_pass(&f) != TIDE_OK) goto oom;
  bool again = false;
  for (size_t i = 0; i < nitems; i++) {
    fz_item_t *x = &f.it[i];
    /* mag bounds |x| - 1 (fused loop) or |x|: either way |x| <= mag + 1 */
    x->active = x->check_mag && x->mag >= mag_limit - 1;
    if (x->active) x->mode = FZ_IDBL;
    again |= x->active;
  }
  if (again && fz_pass(&f) != TIDE_OK) goto oom;
  if (fz_groups(&f, &ng, &slot, &fk) != TIDE_OK) goto oom;
  cnt = tide_malloc((ng ? ng : 1) * sizeof *cnt);
  rows = tide_calloc(ng ? ng : 1, sizeof *rows);
  if (!cnt || !rows) goto oom;
  for (uint64_t m = 0; m < f.nm; m++) {
    const uint64_t *rc = f.part + m * f.mblock;
    for (uint32_t r = 0; r < ng; r++) rows[r] += rc[slot[r]];
  }
  for (size_t i = 0; i < nitems; i++) {
    srcs[i] = fz_output(&f, i, ng, slot, rows, cnt, err);
    if (!srcs[i]) goto oom;
  }
  c->ng = ng;
  c->g.first_key = c->first_key = fk;
  c->g.ngroups = ng;
  c->g.nrows = nrows;
  fk = NULL;
  *done = true;
  st = TIDE_OK;
  goto out;
oom:
  for (size_t i = 0; i < nitems; i++) {
    tide_source_release(srcs[i]);
    srcs[i] = NULL;
  }
  st = agg_oom(c, err);
out:
  tide_free(f.it);
  tide_free(f.part);
  tide_free(f.tpart);
  tide_free(rows);
  tide_free(slot);
  tide_free(fk);
  tide_free(cnt);
  return st;
}

/* ------------------------------------------------------------- driver */

static tide_source_t *agg_compute(agg_ctx_t *c, const agg_item_t *item, tide_error *err) {
  tide_source_t *src = item->in >= 0 ? c->t->cols[item->in] : NULL;
  switch (item->kind) {
    case TIDE_AGG_COUNT:
      return agg_count(c, err);
    case TIDE_AGG_SUM:
    case TIDE_AGG_ABS_SUM:
      return agg_sum(c, src, item->kind == TIDE_AGG_ABS_SUM, err);
    case TIDE_AGG_MIN:
    case TIDE_AGG_MAX:
      return agg_minmax(c, src, item->kind == TIDE_AGG_MAX, err);
    case TIDE_AGG_AVG:
    case TIDE_AGG_STD:
    case TIDE_AGG_VAR:
      return agg_moments(c, src, item->kind, err);
    case TIDE_AGG_FIRST:
      return gather_source(src, c->first_key, c->ng, err);
    case TIDE_AGG_LAST:
      if (need_last(c, err) != TIDE_OK) return NULL;
      return gather_source(src, c->last_key, c->ng, err);
    case TIDE_AGG_WAVG:
    case TIDE_AGG_WSUM:
      return agg_weighted(c, src, c->t->cols[item->weight], item->kind == TIDE_AGG_WAVG, err);
    case TIDE_AGG_MEDIAN:
    case TIDE_AGG_PCT:
    case TIDE_AGG_COUNT_DISTINCT:
      return agg_order_stat(c, item, src, err);
    default:
      tide_error_set(err, TIDE_ERR_INVALID, "%s: unknown aggregation kind %d", c->op,
                     (int)item->kind);
      return NULL;
  }
}

/* Resolve the by columns into indices; error on missing or repeated ones. */
static tide_status resolve_by(tide_table_t *t, const char *const *by, size_t nby, int *idx,
                              const char *op, tide_error *err) {
  for (size_t k = 0; k < nby; k++) {
    idx[k] = tide__col_lookup(t, by[k], op, err);
    if (idx[k] < 0) return err ? err->status : TIDE_ERR_NOT_FOUND;
    for (size_t j = 0; j < k; j++)
      if (idx[j] == idx[k])
        return tide_error_set(err, TIDE_ERR_DUPLICATE, "%s: key column '%s' listed twice", op,
                              by[k]);
  }
  return TIDE_OK;
}

static tide_table_t *agg_run(tide_table_t *t, const agg_item_t *items, size_t nitems,
                             const char *const *by, size_t nby, const char *op,
                             tide_error *err) {
  const size_t ncols = nby + nitems;
  int *byidx = tide_malloc((nby ? nby : 1) * sizeof *byidx);
  const char **names = tide_malloc((ncols ? ncols : 1) * sizeof *names);
  tide_source_t **srcs = tide_calloc(ncols ? ncols : 1, sizeof *srcs);
  tide_source_t **bysrc = tide_malloc((nby ? nby : 1) * sizeof *bysrc);
  agg_ctx_t c;
  memset(&c, 0, sizeof c);
  tide_direct_plan_t plan;
  memset(&plan, 0, sizeof plan);
  tide_table_t *res = NULL;
  if (!byidx || !names || !srcs || !bysrc) {
    tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
    goto done;
  }
  if (resolve_by(t, by, nby, byidx, op, err) != TIDE_OK) goto done;
  for (size_t k = 0; k < nby; k++) {
    names[k] = t->names[byidx[k]];
    bysrc[k] = t->cols[byidx[k]];
  }
  for (size_t i = 0; i < nitems; i++) {
    names[nby + i] = items[i].out;
    for (size_t j = 0; j < nby + i; j++) {
      if (strcmp(names[j], items[i].out) == 0) {
        tide_error_set(err, TIDE_ERR_DUPLICATE, "%s: duplicate output column '%s'", op,
                       items[i].out);
        goto done;
      }
    }
    if (!tide__is_identifier(items[i].out)) {
      tide_error_set(err, TIDE_ERR_INVALID, "%s: invalid output column name '%s'", op,
                     items[i].out);
      goto done;
    }
  }

  if (t->node) {
    /* Snapshot and registration under the read lock (no cycle between). */
    tide_graph_t *g = tide__graph_snapshot_lock(t);
    res = tide__agg_incr_create(t, items, nitems, byidx, nby, names, op, err);
    tide__graph_snapshot_unlock(g);
    goto done;
  }
  c.op = op;
  c.t = t;
  c.rs = t->rowset;
  c.keybuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *c.keybuf);
  c.vbuf = tide_malloc(TIDE_CHUNK_SIZE * 8);
  c.wbuf = tide_malloc(TIDE_CHUNK_SIZE * 8);
  c.dv = tide_malloc(TIDE_CHUNK_SIZE * sizeof *c.dv);
  c.dw = tide_malloc(TIDE_CHUNK_SIZE * sizeof *c.dw);
  c.valid = tide_malloc(TIDE_CHUNK_SIZE);
  c.wvalid = tide_malloc(TIDE_CHUNK_SIZE);
  c.kbuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *c.kbuf);
  if (!c.keybuf || !c.vbuf || !c.wbuf || !c.dv || !c.dw || !c.valid || !c.wvalid || !c.kbuf) {
    tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
    goto done;
  }
  bool fused = false;
  if (agg_fused(&c, items, nitems, nby, bysrc, srcs + nby, &plan, &fused, err) != TIDE_OK)
    goto done;
  if (fused) {
    for (size_t k = 0; k < nby; k++) {
      srcs[k] = gather_source(bysrc[k], c.first_key, c.ng, err);
      if (!srcs[k]) goto done;
    }
    goto build;
  }
  if (tide__groups_build_ranged(c.rs, nby, bysrc, &plan, &c.g, op, err) != TIDE_OK) goto done;
  /* Without keys there is always one output row, even over no rows. */
  c.ng = nby == 0 ? 1 : c.g.ngroups;
  if (c.g.ngroups == c.ng) {
    c.first_key = c.g.first_key;
    if (!c.first_key) {
      c.first_key = tide_malloc(sizeof *c.first_key);
      if (!c.first_key) {
        tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
        goto done;
      }
      c.g.first_key = c.first_key;
    }
  } else {
    /* no keys, no rows: one empty group */
    tide_free(c.g.first_key);
    c.g.first_key = c.first_key = tide_malloc(sizeof *c.first_key);
    if (!c.first_key) {
      tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
      goto done;
    }
    c.first_key[0] = TIDE_NULL_KEY;
  }
  for (size_t k = 0; k < nby; k++) {
    srcs[k] = gather_source(bysrc[k], c.first_key, c.ng, err);
    if (!srcs[k]) goto done;
  }
  for (size_t i = 0; i < nitems; i++) {
    srcs[nby + i] = agg_compute(&c, &items[i], err);
    if (!srcs[nby + i]) {
      if (err && err->status == TIDE_OK)
        tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
      goto done;
    }
  }
build:
  res = tide__table_from_sources(c.ng, ncols, names, srcs, err);
  memset(srcs, 0, ncols * sizeof *srcs); /* references moved (or released) */
  if (!res) tide_error_prefix(err, "%s", op);
done:
  if (srcs)
    for (size_t i = 0; i < ncols; i++) tide_source_release(srcs[i]);
  tide__groups_destroy(&c.g);
  tide__direct_plan_free(&plan);
  tide_free(c.last_key);
  tide_free(c.sizes);
  tide_free(c.keybuf);
  tide_free(c.vbuf);
  tide_free(c.wbuf);
  tide_free(c.dv);
  tide_free(c.dw);
  tide_free(c.valid);
  tide_free(c.wvalid);
  tide_free(c.kbuf);
  tide_free(byidx);
  tide_free(names);
  tide_free(srcs);
  tide_free(bysrc);
  return res;
}

/* Check an aggregation's input column: exists and has a supported type. */
static int agg_input(tide_table_t *t, tide_agg_kind_t kind, const char *name, const char *op,
                     tide_error *err) {
  int idx = tide__col_lookup(t, name, op, err);
  if (idx < 0) return -1;
  tide_type_t type = t->cols[idx]->type;
  if (!agg_type_ok(kind, type)) {
    tide_error_set(err, TIDE_ERR_TYPE, "%s: %s does not support column '%s' of type %s", op,
                   agg_kind_name(kind), name, tide_type_name(type));
    return -1;
  }
  return idx;
}

tide_table_t *tide_agg_by(tide_table_t *t, const tide_agg_spec_t *aggs, size_t naggs,
                          const char *const *by, size_t nby, tide_error *err) {
  const char *op = "agg_by";
  if (!t) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: no table", op);
    return NULL;
  }
  if (naggs && !aggs) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: no aggregations given", op);
    return NULL;
  }
  if (nby && !by) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: no key columns given", op);
    return NULL;
  }
  size_t nitems = 0;
  for (size_t a = 0; a < naggs; a++) nitems += aggs[a].kind == TIDE_AGG_COUNT ? 1 : aggs[a].ncols;
  agg_item_t *items = tide_calloc(nitems ? nitems : 1, sizeof *items);
  if (!items) {
    tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
    return NULL;
  }
  size_t ni = 0;
  for (size_t a = 0; a < naggs; a++) {
    const tide_agg_spec_t *sp = &aggs[a];
    if ((unsigned)sp->kind >= TIDE_AGG_KIND_COUNT) {
      tide_error_set(err, TIDE_ERR_INVALID, "%s: unknown aggregation kind %d", op, (int)sp->kind);
      goto fail;
    }
    const char *kname = agg_kind_name(sp->kind);
    if (sp->ncols && !sp->cols) {
      tide_error_set(err, TIDE_ERR_INVALID, "%s: %s: no columns given", op, kname);
      goto fail;
    }
    if (sp->kind == TIDE_AGG_COUNT) {
      if (sp->ncols != 1 || !sp->cols[0]) {
        tide_error_set(err, TIDE_ERR_INVALID, "%s: count takes exactly one output column name",
                       op);
        goto fail;
      }
      agg_item_t *it = &items[ni++];
      it->kind = sp->kind;
      it->in = it->weight = -1;
      snprintf(it->out, sizeof it->out, "%s", sp->cols[0]);
      continue;
    }
    if (sp->ncols == 0) {
      tide_error_set(err, TIDE_ERR_INVALID, "%s: %s needs at least one column", op, kname);
      goto fail;
    }
    if (sp->kind == TIDE_AGG_PCT && !(sp->pct >= 0.0 && sp->pct <= 1.0)) {
      tide_error_set(err, TIDE_ERR_RANGE, "%s: pct %g is not in [0, 1]", op, sp->pct);
      goto fail;
    }
    int widx = -1;
    if (sp->kind == TIDE_AGG_WAVG || sp->kind == TIDE_AGG_WSUM) {
      if (!sp->weight) {
        tide_error_set(err, TIDE_ERR_INVALID, "%s: %s needs a weight column", op, kname);
        goto fail;
      }
      widx = agg_input(t, sp->kind, sp->weight, op, err);
      if (widx < 0) goto fail;
    }
    for (size_t j = 0; j < sp->ncols; j++) {
      char l[AGG_NAME_MAX], r[AGG_NAME_MAX];
      if (!tide__split_pair(sp->cols[j], l, r, sizeof l)) {
        tide_error_set(err, TIDE_ERR_PARSE, "%s: %s: malformed column entry '%s'", op, kname,
                       sp->cols[j] ? sp->cols[j] : "");
        goto fail;
      }
      int idx = agg_input(t, sp->kind, r, op, err);
      if (idx < 0) goto fail;
      agg_item_t *it = &items[ni++];
      it->kind = sp->kind;
      it->in = idx;
      it->weight = widx;
      it->pct = sp->pct;
      it->count_nulls = sp->count_nulls;
      snprintf(it->out, sizeof it->out, "%s", l);
    }
  }
  tide_table_t *res = agg_run(t, items, ni, by, nby, op, err);
  tide_free(items);
  return res;
fail:
  tide_free(items);
  return NULL;
}

tide_table_t *tide_agg_all_by(tide_table_t *t, tide_agg_kind_t kind, const char *const *by,
                              size_t nby, tide_error *err) {
  const char *op = "agg_all_by";
  if (!t) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: no table", op);
    return NULL;
  }
  switch (kind) {
    case TIDE_AGG_SUM:
    case TIDE_AGG_ABS_SUM:
    case TIDE_AGG_AVG:
    case TIDE_AGG_MIN:
    case TIDE_AGG_MAX:
    case TIDE_AGG_FIRST:
    case TIDE_AGG_LAST:
    case TIDE_AGG_STD:
    case TIDE_AGG_VAR:
    case TIDE_AGG_MEDIAN:
    case TIDE_AGG_COUNT_DISTINCT:
      break;
    default:
      tide_error_set(err, TIDE_ERR_INVALID,
                     "%s: %s cannot be applied to every column (use agg_by%s)", op,
                     agg_kind_name(kind), kind == TIDE_AGG_COUNT ? " or count_by" : "");
      return NULL;
  }
  int *byidx = tide_malloc((nby ? nby : 1) * sizeof *byidx);
  agg_item_t *items = tide_calloc(t->ncols ? t->ncols : 1, sizeof *items);
  tide_table_t *res = NULL;
  if (!byidx || !items) {
    tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
    goto done;
  }
  if (nby && !by) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: no key columns given", op);
    goto done;
  }
  if (resolve_by(t, by, nby, byidx, op, err) != TIDE_OK) goto done;
  size_t ni = 0;
  for (size_t col = 0; col < t->ncols; col++) {
    bool is_key = false;
    for (size_t k = 0; k < nby; k++) is_key |= byidx[k] == (int)col;
    if (is_key) continue;
    if (!agg_type_ok(kind, t->cols[col]->type)) {
      tide_error_set(err, TIDE_ERR_TYPE, "%s: %s does not support column '%s' of type %s", op,
                     agg_kind_name(kind), t->names[col], tide_type_name(t->cols[col]->type));
      goto done;
    }
    agg_item_t *it = &items[ni++];
    it->kind = kind;
    it->in = (int)col;
    it->weight = -1;
    it->pct = 0.5;
    snprintf(it->out, sizeof it->out, "%s", t->names[col]);
  }
  res = agg_run(t, items, ni, by, nby, op, err);
done:
  tide_free(byidx);
  tide_free(items);
  return res;
}

tide_table_t *tide_count_by(tide_table_t *t, const char *count_col, const char *const *by,
                            size_t nby, tide_error *err) {
  const char *op = "count_by";
  if (!t) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: no table", op);
    return NULL;
  }
  if (!count_col) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: no count column name", op);
    return NULL;
  }
  if (nby && !by) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: no key columns given", op);
    return NULL;
  }
  agg_item_t item;
  memset(&item, 0, sizeof item);
  item.kind = TIDE_AGG_COUNT;
  item.in = item.weight = -1;
  snprintf(item.out, sizeof item.out, "%s", count_col);
  return agg_run(t, &item, 1, by, nby, op, err);
}
