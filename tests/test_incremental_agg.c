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
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "checker.h"

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
static const char *const c_med[] = {"MedI=I", "MedD=D", "MedSym=Sym", "MedS=S", "MedT=T"};
static const char *const c_pct[] = {"P3I=I", "P3D=D", "P3Sym=Sym", "P3S=S"};
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
/* order statistics (not on blink inputs) */
static const tide_agg_spec_t OS_SPECS[] = {
    {TIDE_AGG_COUNT, c_cnt, 1, 0, NULL, false},
    {TIDE_AGG_MEDIAN, c_med, 5, 0.5, NULL, false},
    {TIDE_AGG_PCT, c_pct, 4, 0.3, NULL, false},
    {TIDE_AGG_COUNT_DISTINCT, c_cd, 3, 0, NULL, false},
    {TIDE_AGG_COUNT_DISTINCT, c_cdn, 2, 0, NULL, true},
};
#define NSPECS (sizeof SPECS / sizeof SPECS[0])

static tide_table_t *run_op(const agg_case *c, tide_table_t *t, tide_error *err) {
  if (c->mode == 1) return tide_count_by(t, "Count", c->by, c->nby, err);
  if (c->mode == 2) return tide_agg_all_by(t, TIDE_AGG_MAX, c->by, c->nby, err);
  if (c->mode == 3) return tide_agg_all_by(t, TIDE_AGG_LAST, c->by, c->nby, err);
  if (c->mode == 4)
    return tide_agg_by(t, OS_SPECS, sizeof OS_SPECS / sizeof OS_SPECS[0], c->by, c->nby, err);
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

/* Order statistics over blink inputs are refused with an error naming
 * them; bad columns still give clear errors. */
static void test_unsupported(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide_table_t *in = tc_source_create(g, TIDE_KIND_STANDARD, 7, NULL);
  static const char *const by[] = {"Sym"};
  tide_table_t *r = NULL;
  tide_table_t *bl = tc_source_create(g, TIDE_KIND_BLINK, 9, NULL);
  r = tide_agg_all_by(bl, TIDE_AGG_MEDIAN, by, 1, &err);
  CHECK(r == NULL && err.status == TIDE_ERR_UNSUPPORTED);
  CHECK_MSG(strstr(err.msg, "blink") != NULL, "%s", err.msg);
  tide_table_free(r);
  tide_table_free(bl);
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
      {"order stats by I,B", by_ib, 2, 4},
  };
  const tide_table_kind_t kinds[] = {TIDE_KIND_STANDARD, TIDE_KIND_APPEND_ONLY,
                                     TIDE_KIND_ADD_ONLY, TIDE_KIND_BLINK};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    for (size_t k = 0; k < 4; k++) {
      if (cases[c].mode == 4 && kinds[k] == TIDE_KIND_BLINK) continue;
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
  return tu_finish("incremental_agg");
}
