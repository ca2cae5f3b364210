/*
 * Incremental agg_by / count_by over ticking inputs (ops/agg_incr.c),
 * checked with the random sources of tests/checker.h over every input kind.
 *
 * The incremental result keeps each group's original slot (Deephaven), so
 * its row order can differ from a static agg_by over the current rows:
 * results are compared by key (rows sorted by the key columns), doubles
 * with a relative tolerance plus a small absolute one (running sums are
 * maintained by adding and subtracting). Every update the result emits is
 * validated against a mirror (tc_on_update). Blink inputs: the result must
 * equal the static agg over the concatenation of every batch seen.
 *
 * Besides the checker cases (every aggregation; order statistics median,
 * pct, count_distinct over every input kind; NaN and infinities through
 * update() formulas): hand-written median/pct/count_distinct updates;
 * the cost of order statistics through the test hooks of ops/agg_int.h
 * (no whole-input scan, exactly the changed rows applied, on a
 * 60,000-row input); big groups (thousands of values, growing and
 * shrinking, the first snapshot built in bulk); every numeric width with
 * NaN, infinities and -0.0.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "checker.h"
#include "ops/agg_int.h"

static uint64_t g_cycles; /* cycles checked against a static build */

typedef struct agg_case {
  const char *name;
  const char *const *by;
  size_t nby;
  int mode; /* 0: agg_by with the full spec list, 1: count_by, 2: max_by, 3: last_by */
} agg_case;

static const char *const c_cnt[] = {"N"};
static const char *const c_sum[] = {"SI=I", "SD=D", "SB=B"};
static const char *const c_abs[] = {"AbI=I", "AbD=D"};
static const char *const c_avg[] = {"AI=I", "AD=D"};
static const char *const c_std[] = {"SdI=I", "SdD=D"};
static const char *const c_var[] = {"VI=I", "VD=D"};
static const char *const c_ws[] = {"WS=D"};
static const char *const c_wa[] = {"WA=D", "WAI=I"};
static const char *const c_min[] = {"MinI=I", "MinD=D", "MinSym=Sym", "MinS=S", "MinB=B", "MinT=T"};
static const char *const c_first[] = {"FI=I", "FD=D", "FSym=Sym", "FS=S", "FB=B", "FT=T"};
static const char *const c_last[] = {"LI=I", "LD=D", "LSym=Sym", "LS=S", "LB=B", "LT=T"};
static const char *const c_med[] = {"MedI=I", "MedD=D", "MedSym=Sym", "MedS=S", "MedT=T",
                                    "MedB=B"};
static const char *const c_pct[] = {"P3I=I", "P3D=D", "P3Sym=Sym", "P3S=S"};
static const char *const c_pct0[] = {"P0I=I", "P0D=D", "P0T=T", "P0B=B"};
static const char *const c_pct1[] = {"P1I=I", "P1D=D", "P1Sym=Sym", "P1S=S"};
static const char *const c_pct7[] = {"P7T=T", "P7B=B", "P7D=D"};
static const char *const c_cdt[] = {"CdT=T", "CdD=D"};
static const char *const c_cd[] = {"CdI=I", "CdSym=Sym", "CdS=S"};
static const char *const c_cdn[] = {"CdnD=D", "CdnB=B"};
static const char *const c_max[] = {"MaxI=I", "MaxD=D", "MaxSym=Sym", "MaxS=S", "MaxB=B", "MaxT=T"};

static const tide_agg_spec_t SPECS[] = {
    {TIDE_AGG_COUNT, c_cnt, 1, 0, NULL, false},  {TIDE_AGG_SUM, c_sum, 3, 0, NULL, false},
    {TIDE_AGG_ABS_SUM, c_abs, 2, 0, NULL, false}, {TIDE_AGG_AVG, c_avg, 2, 0, NULL, false},
    {TIDE_AGG_STD, c_std, 2, 0, NULL, false},    {TIDE_AGG_VAR, c_var, 2, 0, NULL, false},
    {TIDE_AGG_WSUM, c_ws, 1, 0, "I", false},     {TIDE_AGG_WAVG, c_wa, 2, 0, "B", false},
    {TIDE_AGG_MIN, c_min, 6, 0, NULL, false},    {TIDE_AGG_MAX, c_max, 6, 0, NULL, false},
    {TIDE_AGG_FIRST, c_first, 6, 0, NULL, false}, {TIDE_AGG_LAST, c_last, 6, 0, NULL, false},
};
/* order statistics (every input kind; blink: over every value seen) */
static const tide_agg_spec_t OS_SPECS[] = {
    {TIDE_AGG_COUNT, c_cnt, 1, 0, NULL, false},
    {TIDE_AGG_MEDIAN, c_med, 6, 0.5, NULL, false},
    {TIDE_AGG_PCT, c_pct, 4, 0.3, NULL, false},
    {TIDE_AGG_PCT, c_pct0, 4, 0.0, NULL, false},
    {TIDE_AGG_PCT, c_pct1, 4, 1.0, NULL, false},
    {TIDE_AGG_PCT, c_pct7, 3, 0.75, NULL, false},
    {TIDE_AGG_COUNT_DISTINCT, c_cd, 3, 0, NULL, false},
    {TIDE_AGG_COUNT_DISTINCT, c_cdn, 2, 0, NULL, true},
    {TIDE_AGG_COUNT_DISTINCT, c_cdt, 2, 0, NULL, false},
};

/* NaN and infinities (mode 5): X is D with NaN, +inf and -inf now and
 * then, W a double weight (integer values, so weight sums are exact) with
 * NaN and infinities; both go through update() on the ticking input and
 * on the static snapshots alike. */
static const char *const NF_FORMULAS[] = {
    "X = I % 37 == 0 ? 0.0 / 0.0 : (I == 13 ? 1.0 / 0.0 : (I == -29 ? 1.0 / 0.0 : "
    "(I == 7 ? -1.0 / 0.0 : D)))",
    "W = I == 5 ? 1.0 / 0.0 : (I == -5 ? 0.0 / 0.0 : (I == 3 ? -1.0 / 0.0 : I * 1.0))",
};
static const char *const n_sum[] = {"SX=X"};
static const char *const n_abs[] = {"AbX=X"};
static const char *const n_avg[] = {"AX=X"};
static const char *const n_std[] = {"SdX=X"};
static const char *const n_var[] = {"VX=X"};
static const char *const n_ws[] = {"WSX=X", "WSD=D"};
static const char *const n_wa[] = {"WAX=X", "WAD=D"};
static const char *const n_wai[] = {"WAXI=X"};
static const char *const n_med[] = {"MedX=X", "MedW=W"};
static const char *const n_pct[] = {"PX=X"};
static const char *const n_p1[] = {"P1X=X"};
static const char *const n_cd[] = {"CdX=X"};
static const char *const n_cdn[] = {"CdnX=X"};
static const tide_agg_spec_t NF_SPECS[] = {
    {TIDE_AGG_COUNT, c_cnt, 1, 0, NULL, false},   {TIDE_AGG_SUM, n_sum, 1, 0, NULL, false},
    {TIDE_AGG_ABS_SUM, n_abs, 1, 0, NULL, false}, {TIDE_AGG_AVG, n_avg, 1, 0, NULL, false},
    {TIDE_AGG_STD, n_std, 1, 0, NULL, false},     {TIDE_AGG_VAR, n_var, 1, 0, NULL, false},
    {TIDE_AGG_WSUM, n_ws, 2, 0, "W", false},      {TIDE_AGG_WAVG, n_wa, 2, 0, "W", false},
    {TIDE_AGG_WAVG, n_wai, 1, 0, "I", false},     {TIDE_AGG_MEDIAN, n_med, 2, 0.5, NULL, false},
    {TIDE_AGG_PCT, n_pct, 1, 0.6, NULL, false},   {TIDE_AGG_PCT, n_p1, 1, 1.0, NULL, false},
    {TIDE_AGG_COUNT_DISTINCT, n_cd, 1, 0, NULL, false},
    {TIDE_AGG_COUNT_DISTINCT, n_cdn, 1, 0, NULL, true},
};
#define NSPECS (sizeof SPECS / sizeof SPECS[0])

static tide_table_t *run_op(const agg_case *c, tide_table_t *t, tide_error *err) {
  if (c->mode == 1) return tide_count_by(t, "Count", c->by, c->nby, err);
  if (c->mode == 2) return tide_agg_all_by(t, TIDE_AGG_MAX, c->by, c->nby, err);
  if (c->mode == 3) return tide_agg_all_by(t, TIDE_AGG_LAST, c->by, c->nby, err);
  if (c->mode == 4)
    return tide_agg_by(t, OS_SPECS, sizeof OS_SPECS / sizeof OS_SPECS[0], c->by, c->nby, err);
  if (c->mode == 5) {
    tide_table_t *u = tide_update(t, NF_FORMULAS, 2, err);
    if (!u) return NULL;
    tide_table_t *r =
        tide_agg_by(u, NF_SPECS, sizeof NF_SPECS / sizeof NF_SPECS[0], c->by, c->nby, err);
    tide_table_free(u);
    return r;
  }
  return tide_agg_by(t, SPECS, NSPECS, c->by, c->nby, err);
}

/* ---------------------------------------------- comparison by key */

typedef struct rows_t {
  uint64_t n;
  size_t ncols;
  tide_type_t *types;
  uint64_t **vals; /* slots per column */
} rows_t;

static void rows_load(rows_t *r, const tide_table_t *t) {
  uint64_t *keys = tc_keys_of(tide_table_rowset(t), &r->n);
  r->ncols = tide_table_ncols(t);
  r->types = calloc(r->ncols + 1, sizeof *r->types);
  r->vals = calloc(r->ncols + 1, sizeof *r->vals);
  for (size_t c = 0; c < r->ncols; c++) {
    tide_source_t *src = tide_table_col_source(t, c);
    r->types[c] = tide_source_type(src);
    r->vals[c] = malloc((r->n ? r->n : 1) * sizeof(uint64_t));
    tc_read(src, keys, r->n, false, r->vals[c]);
  }
  free(keys);
}
static void rows_free(rows_t *r) {
  for (size_t c = 0; c < r->ncols; c++) free(r->vals[c]);
  free(r->vals);
  free(r->types);
}

static const rows_t *g_sort_rows;
static size_t g_sort_nkeys;
static int cmp_slot(tide_type_t t, uint64_t a, uint64_t b) {
  if (t == TIDE_STRING) {
    const char *x = (const char *)(uintptr_t)a, *y = (const char *)(uintptr_t)b;
    if (!x || !y) return (x != NULL) - (y != NULL);
    return strcmp(x, y);
  }
  return (a > b) - (a < b);
}
static int cmp_row(const void *pa, const void *pb) {
  uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
  for (size_t k = 0; k < g_sort_nkeys; k++) {
    int c = cmp_slot(g_sort_rows->types[k], g_sort_rows->vals[k][a], g_sort_rows->vals[k][b]);
    if (c) return c;
  }
  return 0;
}
static uint64_t *sorted_order(const rows_t *r, size_t nkeys) {
  uint64_t *o = malloc((r->n ? r->n : 1) * sizeof *o);
  for (uint64_t i = 0; i < r->n; i++) o[i] = i;
  g_sort_rows = r;
  g_sort_nkeys = nkeys;
  qsort(o, r->n, sizeof *o, cmp_row);
  return o;
}

static bool dbl_close(double x, double y) {
  if (isnan(x) || isnan(y)) return isnan(x) && isnan(y);
  if (x == y) return true;
  if (isinf(x) || isinf(y)) return false;
  if (x == TIDE_NULL_F64 || y == TIDE_NULL_F64) return false;
  return fabs(x - y) <= 1e-9 * fmax(fabs(x), fabs(y)) + 1e-6;
}

/* Compare a and b as sets of rows keyed by their first nkeys columns. */
static bool equal_by_key(const tide_table_t *a, const tide_table_t *b, size_t nkeys, char *msg,
                         size_t cap) {
  rows_t ra, rb;
  memset(&ra, 0, sizeof ra);
  memset(&rb, 0, sizeof rb);
  rows_load(&ra, a);
  rows_load(&rb, b);
  bool ok = true;
  uint64_t *oa = NULL, *ob = NULL;
  if (ra.ncols != rb.ncols || ra.n != rb.n) {
    snprintf(msg, cap, "shape differs: %llu rows x %zu cols vs %llu x %zu",
             (unsigned long long)ra.n, ra.ncols, (unsigned long long)rb.n, rb.ncols);
    ok = false;
    goto out;
  }
  for (size_t c = 0; c < ra.ncols; c++)
    if (ra.types[c] != rb.types[c] ||
        strcmp(tide_table_col_name(a, c), tide_table_col_name(b, c))) {
      snprintf(msg, cap, "column %zu differs in name or type", c);
      ok = false;
      goto out;
    }
  oa = sorted_order(&ra, nkeys);
  ob = sorted_order(&rb, nkeys);
  for (uint64_t i = 0; ok && i < ra.n; i++)
    for (size_t c = 0; ok && c < ra.ncols; c++) {
      uint64_t x = ra.vals[c][oa[i]], y = rb.vals[c][ob[i]];
      bool same;
      if (ra.types[c] == TIDE_F64) {
        double dx, dy;
        memcpy(&dx, &x, 8);
        memcpy(&dy, &y, 8);
        same = dbl_close(dx, dy);
      } else if (ra.types[c] == TIDE_F32) { /* -0 equals 0, any NaN equals NaN */
        float fx, fy;
        uint32_t ux = (uint32_t)x, uy = (uint32_t)y;
        memcpy(&fx, &ux, 4);
        memcpy(&fy, &uy, 4);
        same = dbl_close(fx, fy);
      } else {
        same = cmp_slot(ra.types[c], x, y) == 0;
      }
      if (!same) {
        char sx[64], sy[64];
        tc_slot_str(ra.types[c], tide_table_col_source(a, c), x, sx, sizeof sx);
        tc_slot_str(rb.types[c], tide_table_col_source(b, c), y, sy, sizeof sy);
        snprintf(msg, cap, "sorted row %llu column '%s': %s vs %s", (unsigned long long)i,
                 tide_table_col_name(a, c), sx, sy);
        ok = false;
      }
    }
out:
  free(oa);
  free(ob);
  rows_free(&ra);
  rows_free(&rb);
  return ok;
}

/* ---------------------------------------------------- the run loop */

static bool run_case(const agg_case *c, tide_table_kind_t kind, uint64_t seed, uint64_t cycles) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  tide_table_t *in = tc_source_create(g, kind, seed * 31 + 1, NULL);
  tc_run_state st;
  memset(&st, 0, sizeof st);
  bool ok = true;
  uint64_t cycle = 0;
  tide_listener_t *l = NULL;
  /* blink: every batch seen */
  tide_table_t **batches = NULL;
  size_t nb = 0;
  tide_table_t *res = run_op(c, in, &err);
  tu_checks++;
  if (!res) {
    snprintf(st.msg, sizeof st.msg, "op failed: %s", err.msg);
    ok = false;
    goto done;
  }
  tc_mirror_load(&st.m, res);
  l = tide_table_listen(res, tc_on_update, &st, &err);
  if (!l) {
    snprintf(st.msg, sizeof st.msg, "result is not refreshing: %s", err.msg);
    ok = false;
    goto done;
  }
  if (kind == TIDE_KIND_BLINK) {
    batches = malloc((cycles + 1) * sizeof *batches);
    batches[nb++] = tc_snapshot(in);
  }
  for (cycle = 0; cycle <= cycles && ok; cycle++) {
    if (cycle > 0) {
      st.listened = false;
      uint64_t before = tide_table_size(in);
      const tide_rowset_t *rs_before = tide_table_rowset(in);
      (void)before;
      if (tide_graph_run_cycles(g, 1, &err) != TIDE_OK) {
        snprintf(st.msg, sizeof st.msg, "cycle failed: %s", err.msg);
        ok = false;
        break;
      }
      if (st.failed) {
        ok = false;
        break;
      }
      if (!st.listened && !tc_mirror_matches(&st.m, res, st.msg, sizeof st.msg)) {
        ok = false;
        break;
      }
      /* a blink source that did not publish keeps its rows: not a new batch */
      if (kind == TIDE_KIND_BLINK && tide_table_rowset(in) != rs_before)
        batches[nb++] = tc_snapshot(in);
    }
    tide_table_t *src = NULL, *expect = NULL;
    g_cycles++;
    if (kind == TIDE_KIND_BLINK)
      src = tide_merge(batches, nb, &err);
    else
      src = tc_snapshot(in);
    if (src) expect = run_op(c, src, &err);
    if (!expect) {
      snprintf(st.msg, sizeof st.msg, "static op failed: %s", err.msg);
      ok = false;
    } else if (!equal_by_key(res, expect, c->nby, st.msg, sizeof st.msg)) {
      ok = false;
    }
    tide_table_free(expect);
    tide_table_free(src);
  }
done:
  if (l) tide_listener_remove(l);
  tu_checks++;
  if (!ok) {
    tu_failures++;
    fprintf(stderr, "agg case %s, %s input, seed %llu, cycle %llu: %s\n", c->name,
            tc_kind_name(kind), (unsigned long long)seed, (unsigned long long)cycle, st.msg);
  }
  for (size_t i = 0; i < nb; i++) tide_table_free(batches[i]);
  free(batches);
  tc_mirror_free(&st.m);
  tide_table_free(res);
  tide_table_free(in);
  tide_graph_free(g);
  return ok;
}

/* ------------------------------------ a hand-driven source (Sym, V, S) */

/* Each cycle applies the pending removes, modifies (V and S) and appends
 * set by the test, then publishes them. */
typedef struct ms_state {
  tide_source_t *sym, *v, *s;
  uint64_t n;          /* next key */
  uint64_t rem[1024], mod[1024];
  double modv[1024];
  const char *mods[1024];
  size_t nrem, nmod;
  int32_t adds[1024];  /* symbol codes of rows to append */
  double addv[1024];
  const char *addss[1024];
  size_t nadd;
  tide_rowset_t *rs;
} ms_state;

static tide_status ms_refresh(tide_gnode_t *n, tide_error *err) {
  ms_state *m = n->state;
  tide_update_t u;
  memset(&u, 0, sizeof u);
  if (!m->nrem && !m->nmod && !m->nadd) return TIDE_OK;
  if (m->nmod) {
    if (tide__source_paged_set(m->v, m->mod, (uint32_t)m->nmod, m->modv) != TIDE_OK ||
        tide__source_paged_set(m->s, m->mod, (uint32_t)m->nmod, m->mods) != TIDE_OK)
      return tide_error_set(err, TIDE_ERR_NOMEM, "ms: oom");
    u.modified = tide_rowset_from_keys(m->mod, m->nmod);
    u.ncols = 3;
    u.modified_cols = calloc(1, sizeof *u.modified_cols);
    u.modified_cols[0] = 2 | 4;
  }
  if (m->nadd) {
    uint64_t keys[1024];
    for (size_t i = 0; i < m->nadd; i++) keys[i] = m->n + i;
    if (tide__source_paged_set(m->sym, keys, (uint32_t)m->nadd, m->adds) != TIDE_OK ||
        tide__source_paged_set(m->v, keys, (uint32_t)m->nadd, m->addv) != TIDE_OK ||
        tide__source_paged_set(m->s, keys, (uint32_t)m->nadd, m->addss) != TIDE_OK)
      return tide_error_set(err, TIDE_ERR_NOMEM, "ms: oom");
    u.added = tide_rowset_create_range(m->n, m->n + m->nadd - 1);
    m->n += m->nadd;
  }
  if (m->nrem) u.removed = tide_rowset_from_keys(m->rem, m->nrem);
  tide_rowset_t *rs = tide_rowset_copy(m->rs);
  if (u.removed) tide_rowset_minus_inplace(rs, u.removed);
  if (u.added) tide_rowset_union_inplace(rs, u.added);
  tide_rowset_free(m->rs);
  m->rs = tide_rowset_copy(rs);
  m->nrem = m->nmod = m->nadd = 0;
  return tide__gnode_publish(n, &u, rs, err);
}
static void ms_destroy(tide_gnode_t *n) {
  ms_state *m = n->state;
  tide_rowset_free(m->rs);
  free(m);
}
static const tide_gnode_vt ms_vt = {"ms_source", ms_refresh, NULL, ms_destroy};

/* A standard source of n0 rows: Sym one of nsym symbols "K<i>", V and S
 * from the rng. */
static tide_table_t *ms_create(tide_graph_t *g, uint64_t n0, uint32_t nsym, tu_rng *r,
                               ms_state **out) {
  tide_error err;
  ms_state *m = calloc(1, sizeof *m);
  m->sym = tide__source_paged_create(TIDE_SYMBOL, NULL, &err);
  m->v = tide__source_paged_create(TIDE_F64, NULL, &err);
  m->s = tide__source_paged_create(TIDE_STRING, NULL, &err);
  tide_source_t *cols[3] = {m->sym, m->v, m->s};
  for (int c = 0; c < 3; c++)
    if (tide__source_track_prev(cols[c], tide__graph_step_ptr(g)) != TIDE_OK) abort();
  tide_symtab_t *st = tide_source_symtab(m->sym);
  for (uint32_t i = 0; i < nsym; i++) {
    char b[16];
    int l = snprintf(b, sizeof b, "K%u", i);
    tide_symtab_intern(st, b, (size_t)l);
  }
  for (uint64_t i = 0; i < n0; i += 4096) {
    uint64_t keys[4096];
    int32_t sy[4096];
    double v[4096];
    const char *sv[4096];
    uint32_t cnt = (uint32_t)TIDE_MIN((uint64_t)4096, n0 - i);
    for (uint32_t j = 0; j < cnt; j++) {
      keys[j] = i + j;
      sy[j] = (int32_t)tu_below(r, nsym);
      v[j] = (double)tu_below(r, 100000) / 8;
      sv[j] = tc_strs[tu_below(r, 10)];
    }
    if (tide__source_paged_set(m->sym, keys, cnt, sy) != TIDE_OK ||
        tide__source_paged_set(m->v, keys, cnt, v) != TIDE_OK ||
        tide__source_paged_set(m->s, keys, cnt, sv) != TIDE_OK)
      abort();
  }
  m->n = n0;
  m->rs = n0 ? tide_rowset_create_range(0, n0 - 1) : tide_rowset_create();
  static const char *const names[3] = {"Sym", "V", "S"};
  tide_table_t *t = tide_table_create(m->rs, 3, names, cols, &err);
  for (int c = 0; c < 3; c++) tide_source_release(cols[c]);
  if (!t || !tide__gnode_create(g, t, TIDE_KIND_STANDARD, &ms_vt, NULL, 0, m, &err)) abort();
  *out = m;
  return t;
}

/* Order statistics cost O(changed rows): over a 60,000-row input with 40
 * removes, 40 modifies and 100 appends per cycle, no aggregation scans the
 * input (the hook counts rows read by whole-input scans) and exactly the
 * changed rows are applied; the result still equals the static build. */
static void test_cost(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  tu_rng r = {tu_seed(20261121) ^ 0x5eed};
  ms_state *m;
  const uint64_t n0 = 60000;
  tide_table_t *in = ms_create(g, n0, 5, &r, &m);
  static const char *const by[] = {"Sym"};
  static const char *const cm[] = {"Med=V", "MedS=S"};
  static const char *const cp[] = {"P=V", "PS=S", "PSym=Sym"};
  static const char *const cd[] = {"Cd=V", "CdS=S"};
  static const char *const cs[] = {"Sum=V", "Avg=V"};
  const tide_agg_spec_t sp[] = {{TIDE_AGG_MEDIAN, cm, 2, 0.5, NULL, false},
                                {TIDE_AGG_PCT, cp, 3, 0.9, NULL, false},
                                {TIDE_AGG_COUNT_DISTINCT, cd, 2, 0, NULL, false},
                                {TIDE_AGG_SUM, cs, 1, 0, NULL, false},
                                {TIDE_AGG_AVG, cs + 1, 1, 0, NULL, false}};
  uint64_t scanned0 = atomic_load(&tide__agg_incr_scanned_rows);
  uint64_t applied0 = atomic_load(&tide__agg_incr_applied_rows);
  tide_table_t *res = tide_agg_by(in, sp, 5, by, 1, &err);
  CHECK_OK_PTR(res, err);
  uint64_t applied1 = atomic_load(&tide__agg_incr_applied_rows);
  CHECK_MSG(applied1 - applied0 == n0, "first snapshot applied %llu rows",
            (unsigned long long)(applied1 - applied0));
  uint64_t expect = 0, live = n0;
  const uint64_t cycles = 8;
  for (uint64_t c = 0; c < cycles; c++) {
    /* remove and modify distinct live rows (keys below m->n) */
    uint64_t picked[80];
    size_t np = 0;
    while (np < 80) {
      uint64_t k = tu_below(&r, m->n);
      bool dup = !tide_rowset_contains(m->rs, k);
      for (size_t i = 0; i < np && !dup; i++) dup = picked[i] == k;
      if (!dup) picked[np++] = k;
    }
    qsort(picked, 40, sizeof *picked, tc_cmp_u64);
    qsort(picked + 40, 40, sizeof *picked, tc_cmp_u64);
    for (size_t i = 0; i < 40; i++) m->rem[i] = picked[i];
    for (size_t i = 0; i < 40; i++) {
      m->mod[i] = picked[40 + i];
      m->modv[i] = (double)tu_below(&r, 100000) / 8;
      m->mods[i] = tc_strs[tu_below(&r, 10)];
    }
    m->nrem = m->nmod = 40;
    for (size_t i = 0; i < 100; i++) {
      m->adds[i] = (int32_t)tu_below(&r, 5);
      m->addv[i] = (double)tu_below(&r, 100000) / 8;
      m->addss[i] = tc_strs[tu_below(&r, 10)];
    }
    m->nadd = 100;
    expect += 40 + 2 * 40 + 100;
    live += 100 - 40;
    CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  }
  uint64_t applied = atomic_load(&tide__agg_incr_applied_rows) - applied1;
  uint64_t scanned = atomic_load(&tide__agg_incr_scanned_rows) - scanned0;
  CHECK_MSG(scanned == 0, "order statistics scanned %llu input rows in %llu cycles",
            (unsigned long long)scanned, (unsigned long long)cycles);
  CHECK_MSG(applied == expect, "applied %llu rows for %llu changed",
            (unsigned long long)applied, (unsigned long long)expect);
  CHECK(tide_table_size(in) == live);
  tide_table_t *snap = tc_snapshot(in);
  tide_table_t *want = tide_agg_by(snap, sp, 5, by, 1, &err);
  CHECK_OK_PTR(want, err);
  char msg[256] = "";
  CHECK_MSG(want && equal_by_key(res, want, 1, msg, sizeof msg), "%s", msg);
  tide_table_free(want);
  tide_table_free(snap);
  tide_table_free(res);
  tide_table_free(in);
  tide_graph_free(g);
}

/* Exact results and updates by hand: even and odd counts, duplicates,
 * removals back to a single value and to none. */
typedef struct hand_seen {
  int calls;
  uint64_t nadded, nremoved, nmodified;
} hand_seen;
static void hand_listen(tide_table_t *t, const tide_update_t *u, void *ctx) {
  (void)t;
  hand_seen *h = ctx;
  h->calls++;
  h->nadded = u->added ? tide_rowset_size(u->added) : 0;
  h->nremoved = u->removed ? tide_rowset_size(u->removed) : 0;
  h->nmodified = u->modified ? tide_rowset_size(u->modified) : 0;
}
static double col_f64(tide_table_t *t, size_t col, uint64_t key) {
  double v;
  tide_rowseq_t seq = {0, &key, 0, 1};
  tide_source_fill(tide_table_col_source(t, col), &seq, &v);
  return v;
}
static int64_t col_i64(tide_table_t *t, size_t col, uint64_t key) {
  int64_t v;
  tide_rowseq_t seq = {0, &key, 0, 1};
  tide_source_fill(tide_table_col_source(t, col), &seq, &v);
  return v;
}
static void test_hand(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  tu_rng r = {1};
  ms_state *m;
  tide_table_t *in = ms_create(g, 0, 2, &r, &m);
  static const char *const by[] = {"Sym"};
  static const char *const cm[] = {"Med=V"};
  static const char *const cp[] = {"P=V"};
  static const char *const cd[] = {"Cd=V"};
  const tide_agg_spec_t sp[] = {{TIDE_AGG_MEDIAN, cm, 1, 0.5, NULL, false},
                                {TIDE_AGG_PCT, cp, 1, 0.5, NULL, false},
                                {TIDE_AGG_COUNT_DISTINCT, cd, 1, 0, NULL, false}};
  tide_table_t *res = tide_agg_by(in, sp, 3, by, 1, &err);
  CHECK_OK_PTR(res, err);
  hand_seen h = {0, 0, 0, 0};
  tide_listener_t *l = tide_table_listen(res, hand_listen, &h, &err);
  CHECK_OK_PTR(l, err);
  /* group K0 (row key 0): 4, 1, 3, 3 -> sorted 1 3 3 4: median 3, pct
   * 0.5 -> index 1 = 3, distinct 3; group K1 (row key 1): 10 */
  const double v1[] = {4, 1, 3, 3, 10};
  const int32_t s1[] = {0, 0, 0, 0, 1};
  for (size_t i = 0; i < 5; i++) {
    m->adds[i] = s1[i];
    m->addv[i] = v1[i];
    m->addss[i] = "x";
  }
  m->nadd = 5;
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(h.calls == 1 && h.nadded == 2 && h.nremoved == 0 && h.nmodified == 0);
  CHECK(col_f64(res, 1, 0) == 3 && col_f64(res, 2, 0) == 3 && col_i64(res, 3, 0) == 3);
  CHECK(col_f64(res, 1, 1) == 10 && col_f64(res, 2, 1) == 10 && col_i64(res, 3, 1) == 1);
  /* remove the 1 (key 1) and a 3 (key 2): 3 4 -> median 3.5, pct index 0 */
  m->rem[0] = 1;
  m->rem[1] = 2;
  m->nrem = 2;
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(h.calls == 2 && h.nadded == 0 && h.nremoved == 0 && h.nmodified == 1);
  CHECK_MSG(col_f64(res, 1, 0) == 3.5, "median %g", col_f64(res, 1, 0));
  CHECK(col_f64(res, 2, 0) == 3 && col_i64(res, 3, 0) == 2);
  /* modify key 0 (4 -> -2) and remove K1's only row: K1 disappears */
  m->mod[0] = 0;
  m->modv[0] = -2;
  m->mods[0] = "y";
  m->nmod = 1;
  m->rem[0] = 4;
  m->nrem = 1;
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(h.calls == 3 && h.nadded == 0 && h.nremoved == 1 && h.nmodified == 1);
  CHECK(col_f64(res, 1, 0) == 0.5 && col_f64(res, 2, 0) == -2 && col_i64(res, 3, 0) == 2);
  /* K1 comes back in its slot with 7 */
  m->adds[0] = 1;
  m->addv[0] = 7;
  m->addss[0] = "z";
  m->nadd = 1;
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(h.calls == 4 && h.nadded == 1 && h.nremoved == 0 && h.nmodified == 0);
  CHECK(col_f64(res, 1, 1) == 7 && col_i64(res, 3, 1) == 1);
  tide_listener_remove(l);
  tide_table_free(res);
  tide_table_free(in);
  tide_graph_free(g);
}

/* Pick nr + nm distinct live keys of m: removes then modifies, each sorted. */
static void ms_pick(ms_state *m, tu_rng *r, size_t nr, size_t nm, double vscale) {
  uint64_t live = tide_rowset_size(m->rs);
  if (nr + nm > live) nr = nm = 0;
  uint64_t *picked = malloc((nr + nm + 1) * sizeof *picked);
  size_t np = 0;
  while (np < nr + nm) {
    uint64_t k = tu_below(r, m->n);
    bool dup = !tide_rowset_contains(m->rs, k);
    for (size_t i = 0; i < np && !dup; i++) dup = picked[i] == k;
    if (!dup) picked[np++] = k;
  }
  qsort(picked, nr, sizeof *picked, tc_cmp_u64);
  qsort(picked + nr, nm, sizeof *picked, tc_cmp_u64);
  for (size_t i = 0; i < nr; i++) m->rem[i] = picked[i];
  for (size_t i = 0; i < nm; i++) {
    m->mod[i] = picked[nr + i];
    m->modv[i] = (double)tu_below(r, (uint64_t)vscale) / 4;
    m->mods[i] = tc_strs[tu_below(r, 10)];
  }
  m->nrem = nr;
  m->nmod = nm;
  free(picked);
}

/* Big groups (thousands of values: many blocks per group, splits, then
 * merges while most rows are removed, then growth again), every cycle
 * compared with the static build. */
static void test_big_groups(uint64_t seed) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  tu_rng r = {seed};
  ms_state *m;
  tide_table_t *in = ms_create(g, 8000, 2, &r, &m);
  static const char *const by[] = {"Sym"};
  static const char *const cm[] = {"Med=V", "MedS=S"};
  static const char *const cp[] = {"P=V", "PS=S"};
  static const char *const c0[] = {"P0=V"};
  static const char *const c1[] = {"P1=V"};
  static const char *const cd[] = {"Cd=V", "CdS=S"};
  static const char *const cpy[] = {"PSym=Sym"};
  const tide_agg_spec_t sp[] = {{TIDE_AGG_MEDIAN, cm, 2, 0.5, NULL, false},
                                {TIDE_AGG_PCT, cp, 2, 0.37, NULL, false},
                                {TIDE_AGG_PCT, c0, 1, 0.0, NULL, false},
                                {TIDE_AGG_PCT, c1, 1, 1.0, NULL, false},
                                {TIDE_AGG_COUNT_DISTINCT, cd, 2, 0, NULL, false},
                                {TIDE_AGG_MEDIAN, cpy, 1, 0.5, NULL, false}};
  const size_t nsp = sizeof sp / sizeof sp[0];
  tide_table_t *res = tide_agg_by(in, sp, nsp, by, 1, &err);
  tide_table_t *res0 = tide_agg_by(in, sp, nsp, NULL, 0, &err);
  CHECK_OK_PTR(res, err);
  CHECK_OK_PTR(res0, err);
  bool ok = res && res0;
  for (int c = 0; c < 30 && ok; c++) {
    const bool shrink = c < 20;
    /* values from a range that narrows then widens: duplicates, then
     * mostly distinct values */
    const double vs = shrink ? 40000 : 4000;
    ms_pick(m, &r, shrink ? 380 : 40, 150, vs);
    size_t na = shrink ? 60 : 700;
    for (size_t i = 0; i < na; i++) {
      m->adds[i] = (int32_t)tu_below(&r, 2);
      m->addv[i] = (double)tu_below(&r, (uint64_t)vs) / 4;
      m->addss[i] = tc_strs[tu_below(&r, 10)];
    }
    m->nadd = na;
    CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
    tide_table_t *snap = tc_snapshot(in);
    tide_table_t *want = tide_agg_by(snap, sp, nsp, by, 1, &err);
    tide_table_t *want0 = tide_agg_by(snap, sp, nsp, NULL, 0, &err);
    g_cycles++;
    char msg[256] = "";
    ok = want && want0 && equal_by_key(res, want, 1, msg, sizeof msg) &&
         equal_by_key(res0, want0, 0, msg, sizeof msg);
    tu_checks++;
    if (!ok) {
      tu_failures++;
      fprintf(stderr, "big groups, seed %llu, cycle %d: %s\n", (unsigned long long)seed, c, msg);
    }
    tide_table_free(want);
    tide_table_free(want0);
    tide_table_free(snap);
  }
  tide_table_free(res);
  tide_table_free(res0);
  tide_table_free(in);
  tide_graph_free(g);
}

/* A first snapshot big enough for the parallel grouping (ai_initial:
 * several morsels, 2+ threads): symbol, string, double and two-column
 * keys, every aggregation kind, the result in the static build's row
 * order, then a cycle of removes, modifies and adds against static builds
 * (with 2 threads; smaller inputs take the row-by-row path everywhere
 * else in this file). */
static void test_big_first_snapshot(uint64_t seed, int threads) {
  tide_error err;
  tide_set_threads(threads, NULL);
  tide_graph_t *g = tide_graph_create(&err);
  tu_rng r = {seed};
  ms_state *m;
  tide_table_t *in = ms_create(g, 140000, 3000, &r, &m);
  static const char *const bys[4][2] = {{"Sym"}, {"S"}, {"V"}, {"S", "Sym"}};
  static const size_t nbys[4] = {1, 1, 1, 2};
  static const char *const cs[] = {"Sum=V"}, *const ca[] = {"Avg=V"}, *const csd[] = {"Sd=V"},
                           *const cmn[] = {"Mn=V"}, *const cmx[] = {"Mx=V"},
                           *const cf[] = {"F=V"}, *const cl[] = {"L=V"},
                           *const cmd[] = {"Md=V"}, *const ccd[] = {"Cd=S"},
                           *const cw[] = {"W=V"};
  const tide_agg_spec_t sp[] = {{TIDE_AGG_SUM, cs, 1, 0, NULL, false},
                                {TIDE_AGG_AVG, ca, 1, 0, NULL, false},
                                {TIDE_AGG_STD, csd, 1, 0, NULL, false},
                                {TIDE_AGG_MIN, cmn, 1, 0, NULL, false},
                                {TIDE_AGG_MAX, cmx, 1, 0, NULL, false},
                                {TIDE_AGG_FIRST, cf, 1, 0, NULL, false},
                                {TIDE_AGG_LAST, cl, 1, 0, NULL, false},
                                {TIDE_AGG_MEDIAN, cmd, 1, 0.5, NULL, false},
                                {TIDE_AGG_COUNT_DISTINCT, ccd, 1, 0, NULL, false},
                                {TIDE_AGG_WSUM, cw, 1, 0, "V", false}};
  const size_t nsp = sizeof sp / sizeof sp[0];
  tide_table_t *res[4];
  bool ok = true;
  for (int b = 0; b < 4; b++) {
    res[b] = tide_agg_by(in, sp, nsp, bys[b], nbys[b], &err);
    CHECK_OK_PTR(res[b], err);
    ok &= res[b] != NULL;
  }
  for (int c = 0; c <= 1 && ok; c++) {
    if (c > 0) {
      ms_pick(m, &r, 300, 300, 100000);
      for (size_t i = 0; i < 200; i++) {
        m->adds[i] = (int32_t)tu_below(&r, 3000);
        m->addv[i] = (double)tu_below(&r, 100000) / 8;
        m->addss[i] = tc_strs[tu_below(&r, 10)];
      }
      m->nadd = 200;
      CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
    }
    tide_table_t *snap = tc_snapshot(in);
    for (int b = 0; b < 4 && ok; b++) {
      tide_table_t *want = tide_agg_by(snap, sp, nsp, bys[b], nbys[b], &err);
      char msg[1024] = "";
      /* right after the build the rows are in the static order too */
      ok = want && (c > 0 ? equal_by_key(res[b], want, nbys[b], msg, sizeof msg)
                          : tu_table_equal(res[b], want, 1e-9, msg, sizeof msg));
      tu_checks++;
      g_cycles += c > 0;
      if (!ok) {
        tu_failures++;
        fprintf(stderr, "big first snapshot (%d threads), seed %llu, by #%d, cycle %d: %s\n",
                threads, (unsigned long long)seed, b, c, msg);
      }
      tide_table_free(want);
    }
    tide_table_free(snap);
  }
  for (int b = 0; b < 4; b++) tide_table_free(res[b]);
  tide_table_free(in);
  tide_graph_free(g);
  tide_set_threads(0, NULL);
}

/* --------------------- every numeric width (I8, I16, I32, F32, F64) */

/* A standard source of columns G (I8 key), A (I8), B (I16), C (I32), F
 * (F32), D (F64) with nulls, extremes, NaN, infinities and -0.0; each
 * cycle removes about a tenth of the rows and appends 40. */
#define TY_NCOLS 6
typedef struct ty_state {
  tu_rng r;
  tide_source_t *cols[TY_NCOLS];
  uint64_t n;
  tide_rowset_t *rs;
} ty_state;
static const tide_type_t ty_types[TY_NCOLS] = {TIDE_I8, TIDE_I8, TIDE_I16, TIDE_I32, TIDE_F32,
                                                TIDE_F64};
static void ty_write(ty_state *m, uint64_t first, uint32_t cnt) {
  uint64_t keys[64];
  unsigned char buf[TY_NCOLS][64 * 8];
  for (uint32_t j = 0; j < cnt; j++) {
    keys[j] = first + j;
    uint64_t x = tu_below(&m->r, 40);
    ((int8_t *)buf[0])[j] = (int8_t)tu_below(&m->r, 3);
    ((int8_t *)buf[1])[j] = x == 0 ? TIDE_NULL_I8 : x == 1 ? INT8_MAX : (int8_t)(tu_below(&m->r, 21) - 10);
    ((int16_t *)buf[2])[j] =
        x == 2 ? TIDE_NULL_I16 : x == 3 ? INT16_MIN + 1 : (int16_t)(tu_below(&m->r, 2001) - 1000);
    ((int32_t *)buf[3])[j] = x == 4 ? TIDE_NULL_I32 : (int32_t)tu_below(&m->r, 1u << 31) - (1 << 30);
    float f = (float)((double)tu_below(&m->r, 201) - 100) / 4;
    if (x == 5) f = TIDE_NULL_F32;
    if (x == 6) f = NAN;
    if (x == 7) f = INFINITY;
    if (x == 8) f = -INFINITY;
    if (x == 9) f = -0.0f;
    ((float *)buf[4])[j] = f;
    double d = ((double)tu_below(&m->r, 41) - 20) / 2;
    if (x == 10) d = TIDE_NULL_F64;
    if (x == 11) d = NAN;
    if (x == 12) d = -INFINITY;
    if (x == 13) d = -0.0;
    ((double *)buf[5])[j] = d;
  }
  for (int c = 0; c < TY_NCOLS; c++)
    if (tide__source_paged_set(m->cols[c], keys, cnt, buf[c]) != TIDE_OK) abort();
}
static tide_status ty_refresh(tide_gnode_t *n, tide_error *err) {
  ty_state *m = n->state;
  tide_update_t u;
  memset(&u, 0, sizeof u);
  uint64_t nk;
  uint64_t *keys = tc_keys_of(m->rs, &nk);
  uint64_t *rem = malloc((nk ? nk : 1) * sizeof *rem);
  uint64_t nr = 0;
  for (uint64_t i = 0; i < nk; i++)
    if (tu_below(&m->r, 10) == 0) rem[nr++] = keys[i];
  ty_write(m, m->n, 40);
  u.added = tide_rowset_create_range(m->n, m->n + 39);
  m->n += 40;
  if (nr) u.removed = tide_rowset_from_keys(rem, nr);
  tide_rowset_t *rs = tide_rowset_copy(m->rs);
  if (u.removed) tide_rowset_minus_inplace(rs, u.removed);
  tide_rowset_union_inplace(rs, u.added);
  tide_rowset_free(m->rs);
  m->rs = tide_rowset_copy(rs);
  free(keys);
  free(rem);
  return tide__gnode_publish(n, &u, rs, err);
}
static void ty_destroy(tide_gnode_t *n) {
  ty_state *m = n->state;
  tide_rowset_free(m->rs);
  free(m);
}
static const tide_gnode_vt ty_vt = {"ty_source", ty_refresh, NULL, ty_destroy};

static void test_types(uint64_t seed, uint64_t cycles) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  ty_state *m = calloc(1, sizeof *m);
  m->r.s = seed;
  for (int c = 0; c < TY_NCOLS; c++) {
    m->cols[c] = tide__source_paged_create(ty_types[c], NULL, &err);
    if (!m->cols[c] || tide__source_track_prev(m->cols[c], tide__graph_step_ptr(g)) != TIDE_OK)
      abort();
  }
  ty_write(m, 0, 60);
  m->n = 60;
  m->rs = tide_rowset_create_range(0, 59);
  static const char *const names[TY_NCOLS] = {"G", "A", "B", "C", "F", "D"};
  tide_table_t *in = tide_table_create(m->rs, TY_NCOLS, names, m->cols, &err);
  for (int c = 0; c < TY_NCOLS; c++) tide_source_release(m->cols[c]);
  if (!in || !tide__gnode_create(g, in, TIDE_KIND_STANDARD, &ty_vt, NULL, 0, m, &err)) abort();
  static const char *const by[] = {"G"};
  static const char *const cm[] = {"MA=A", "MB=B", "MC=C", "MF=F", "MD=D"};
  static const char *const cp[] = {"PA=A", "PB=B", "PC=C", "PF=F", "PD=D"};
  static const char *const cd[] = {"CA=A", "CB=B", "CC=C", "CF=F", "CD=D"};
  static const char *const cs[] = {"SF=F", "SD=D", "SA=A"};
  static const char *const ca[] = {"AF=F", "AD=D"};
  static const char *const cv[] = {"VF=F"};
  const tide_agg_spec_t sp[] = {{TIDE_AGG_MEDIAN, cm, 5, 0.5, NULL, false},
                                {TIDE_AGG_PCT, cp, 5, 0.8, NULL, false},
                                {TIDE_AGG_COUNT_DISTINCT, cd, 5, 0, NULL, true},
                                {TIDE_AGG_SUM, cs, 3, 0, NULL, false},
                                {TIDE_AGG_ABS_SUM, ca, 2, 0, NULL, false},
                                {TIDE_AGG_VAR, cv, 1, 0, NULL, false}};
  const size_t nsp = sizeof sp / sizeof sp[0];
  tide_table_t *res = tide_agg_by(in, sp, nsp, by, 1, &err);
  CHECK_OK_PTR(res, err);
  bool ok = res != NULL;
  for (uint64_t c = 0; c <= cycles && ok; c++) {
    if (c) CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
    tide_table_t *snap = tc_snapshot(in);
    tide_table_t *want = tide_agg_by(snap, sp, nsp, by, 1, &err);
    g_cycles++;
    char msg[256] = "";
    ok = want && equal_by_key(res, want, 1, msg, sizeof msg);
    tu_checks++;
    if (!ok) {
      tu_failures++;
      fprintf(stderr, "types, seed %llu, cycle %llu: %s\n", (unsigned long long)seed,
              (unsigned long long)c, msg);
    }
    tide_table_free(want);
    tide_table_free(snap);
  }
  tide_table_free(res);
  tide_table_free(in);
  tide_graph_free(g);
}

/* Bad columns on ticking inputs give clear errors. */
static void test_unsupported(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide_table_t *in = tc_source_create(g, TIDE_KIND_STANDARD, 7, NULL);
  static const char *const by[] = {"Sym"};
  tide_table_t *r = NULL;
  /* bad input on a ticking table still names the column */
  static const char *const bad[] = {"X=Nope"};
  tide_agg_spec_t sb = {TIDE_AGG_SUM, bad, 1, 0, NULL, false};
  r = tide_agg_by(in, &sb, 1, by, 1, &err);
  CHECK(r == NULL);
  CHECK_MSG(strstr(err.msg, "Nope") != NULL, "%s", err.msg);
  tide_table_free(in);
  tide_graph_free(g);
}

int main(void) {
  uint64_t seed = tu_seed(20261121);
  const char *env = getenv("TIDE_CYCLES");
  uint64_t cycles = env ? strtoull(env, NULL, 10) : 60;
  static const char *const by_sym[] = {"Sym"};
  static const char *const by_int[] = {"I"};
  static const char *const by_two[] = {"Sym", "B"};
  static const char *const by_str[] = {"S"};
  static const char *const by_ts[] = {"T"};
  static const char *const by_b[] = {"B"};
  static const char *const by_ib[] = {"I", "B"};
  const agg_case cases[] = {
      {"by Sym", by_sym, 1, 0}, {"by I", by_int, 1, 0},   {"by Sym,B", by_two, 2, 0},
      {"no keys", NULL, 0, 0},  {"by S", by_str, 1, 0},   {"count_by Sym", by_sym, 1, 1},
      {"count_by T", by_ts, 1, 1},    {"max_by B", by_b, 1, 2},  {"last_by none", NULL, 0, 3},
      {"order stats by Sym", by_sym, 1, 4}, {"order stats none", NULL, 0, 4},
      {"order stats by I,B", by_ib, 2, 4},  {"NaN/inf by Sym", by_sym, 1, 5},
      {"NaN/inf none", NULL, 0, 5},
  };
  const tide_table_kind_t kinds[] = {TIDE_KIND_STANDARD, TIDE_KIND_APPEND_ONLY,
                                     TIDE_KIND_ADD_ONLY, TIDE_KIND_BLINK};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    for (size_t k = 0; k < 4; k++) {
      for (uint64_t s = 0; s < 2; s++)
        run_case(&cases[c], kinds[k], seed + s * 1000 + c * 17 + k,
                 kinds[k] == TIDE_KIND_BLINK ? cycles / 2 : cycles);
    }
  /* results do not depend on the thread count (the static builds and the
   * order-statistic recomputation run in parallel) */
  for (int th = 1; th <= 3; th += 2) {
    tide_error err;
    CHECK_OK(tide_set_threads(th, &err), err);
    run_case(&cases[0], TIDE_KIND_STANDARD, seed + 77 + (uint64_t)th, cycles / 2);
    run_case(&cases[9], TIDE_KIND_STANDARD, seed + 78 + (uint64_t)th, cycles / 2);
  }
  tide_error terr;
  CHECK_OK(tide_set_threads(0, &terr), terr);
  test_unsupported();
  test_hand();
  test_cost();
  test_big_groups(seed);
  test_big_groups(seed + 1);
  test_big_first_snapshot(seed, tu_par_threads(2));
  for (uint64_t k = 0; k < 3; k++) test_types(seed + 100 + k, cycles / 2);
  printf("incremental_agg: %llu cycles checked against static builds\n",
         (unsigned long long)g_cycles);
  return tu_finish("incremental_agg");
}
