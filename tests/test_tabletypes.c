/*
 * Table-type conversions (include/tide/tabletypes.h): snapshot,
 * remove_blink, blink_to_append_only and ring_table over replayed blink
 * and append-only tables, against static slices of the replayed table and
 * naive sums. Every update is validated by the graph.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sched/graph_int.h"
#include "testutil.h"

static uint64_t g_seed;

typedef struct data_t {
  uint64_t n;
  int64_t *iv;
  double *dv;
  const char **yv;
} data_t;

static const char *words[] = {"alpha", "beta", "gamma", "delta", "eps", NULL};

static tide_table_t *gen_static(uint64_t n, tu_rng *r, data_t *d) {
  d->n = n;
  d->iv = malloc((n ? n : 1) * sizeof *d->iv);
  d->dv = malloc((n ? n : 1) * sizeof *d->dv);
  d->yv = malloc((n ? n : 1) * sizeof *d->yv);
  const char **sv = malloc((n ? n : 1) * sizeof *sv);
  for (uint64_t i = 0; i < n; i++) {
    d->iv[i] = tu_below(r, 10) == 0 ? TIDE_NULL_I64 : (int64_t)tu_below(r, 1000) - 500;
    d->dv[i] = tu_below(r, 10) == 0 ? TIDE_NULL_F64 : tu_unit(r) * 100;
    d->yv[i] = words[tu_below(r, 6)];
    sv[i] = words[tu_below(r, 6)];
  }
  const char *names[] = {"I", "D", "S", "Y"};
  tide_type_t types[] = {TIDE_I64, TIDE_F64, TIDE_STRING, TIDE_SYMBOL};
  const void *cols[] = {d->iv, d->dv, sv, d->yv};
  tide_table_t *t = tu_table(n, 4, names, types, cols);
  free(sv);
  return t;
}

static void data_free(data_t *d) {
  free(d->iv);
  free(d->dv);
  free(d->yv);
}

/* Rows [a, b) of the static table t (a new table). */
static tide_table_t *slice(tide_table_t *t, uint64_t a, uint64_t b) {
  tide_error err;
  tide_table_t *h = tide_head(t, b, &err);
  CHECK_OK_PTR(h, err);
  tide_table_t *s = tide_tail(h, b - a, &err);
  CHECK_OK_PTR(s, err);
  tide_table_free(h);
  return s;
}

/* Naive sums of I and D over rows [a, b) (nulls skipped). */
static void naive_sums(const data_t *d, uint64_t a, uint64_t b, const char *key, bool by,
                       int64_t *si, double *sd, uint64_t *cnt) {
  *si = 0;
  *sd = 0;
  *cnt = 0;
  for (uint64_t i = a; i < b; i++) {
    if (by) {
      const char *y = d->yv[i] ? d->yv[i] : "null";
      if (strcmp(y, key) != 0) continue;
    }
    (*cnt)++;
    if (d->iv[i] != TIDE_NULL_I64) *si += d->iv[i];
    if (d->dv[i] == d->dv[i] && d->dv[i] != TIDE_NULL_F64) *sd += d->dv[i];
  }
}

static void check_sum_row(const tide_table_t *res, uint64_t pos, int64_t si, double sd,
                          const char *what, uint64_t k) {
  double gi = tu_cell_f64(res, "I", pos), gd = tu_cell_f64(res, "D", pos);
  CHECK_MSG(gi == (double)si, "%s cycle %llu: sum I %g, expected %lld (seed %llu)", what,
            (unsigned long long)k, gi, (long long)si, (unsigned long long)g_seed);
  CHECK_MSG(fabs(gd - sd) <= 1e-9 * (fabs(sd) + 1), "%s cycle %llu: sum D %.17g, expected %.17g",
            what, (unsigned long long)k, gd, sd);
}

static void test_conversions(uint64_t n, uint64_t per) {
  tide_error err;
  tu_rng rng = {g_seed ^ n};
  data_t d;
  tide_table_t *src = gen_static(n, &rng, &d);
  tide_graph_t *g = tide_graph_create(&err);
  CHECK_OK_PTR(g, err);
  tide__graph_set_validate(g, true);
  tide_table_t *blink = tide_replay(g, src, per, true, &err);
  CHECK_OK_PTR(blink, err);
  tide_table_t *app = tide_replay(g, src, per, false, &err);
  CHECK_OK_PTR(app, err);

  tide_table_t *rb = tide_remove_blink(blink, &err);
  CHECK_OK_PTR(rb, err);
  CHECK(tide_table_kind(rb) == TIDE_KIND_STANDARD);
  CHECK(tide_table_is_refreshing(rb));
  const char *sumcols[] = {"I", "D"};
  tide_agg_spec_t spec = {.kind = TIDE_AGG_SUM, .cols = sumcols, .ncols = 2};
  tide_table_t *agg_rb = tide_agg_by(rb, &spec, 1, NULL, 0, &err);
  CHECK_OK_PTR(agg_rb, err);
  tide_table_t *agg_bl = tide_agg_by(blink, &spec, 1, NULL, 0, &err);
  CHECK_OK_PTR(agg_bl, err);
  const char *by[] = {"Y"};
  tide_table_t *aggby_rb = tide_agg_by(rb, &spec, 1, by, 1, &err);
  CHECK_OK_PTR(aggby_rb, err);
  tide_table_t *b2a = tide_blink_to_append_only(blink, &err);
  CHECK_OK_PTR(b2a, err);
  CHECK(tide_table_kind(b2a) == TIDE_KIND_APPEND_ONLY);
  CHECK(tide_table_size(b2a) == 0);
  tide_table_t *b2a_late = NULL, *snap_keep = NULL, *snap_keep_ref = NULL;
  uint64_t late_from = 0;

  uint64_t cycles = (n + per - 1) / per + 1;
  for (uint64_t k = 1; k <= cycles; k++) {
    CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
    uint64_t hi = TIDE_MIN(k * per, n), lo = TIDE_MIN((k - 1) * per, n);
    tide_table_t *ref_b = slice(src, lo, hi), *ref_a = slice(src, 0, hi);
    /* snapshots */
    tide_table_t *sb = tide_snapshot(blink, &err);
    CHECK_OK_PTR(sb, err);
    tide_table_t *sa = tide_snapshot(app, &err);
    CHECK_OK_PTR(sa, err);
    CHECK(!tide_table_is_refreshing(sb) && !tide_table_is_refreshing(sa));
    CHECK_TABLES(sb, ref_b, 0);
    CHECK_TABLES(sa, ref_a, 0);
    /* remove_blink holds the same rows as the blink table */
    CHECK_TABLES(rb, ref_b, 0);
    /* blink_to_append_only accumulates the whole stream */
    CHECK_TABLES(b2a, ref_a, 0);
    if (b2a_late) {
      tide_table_t *ref_l = slice(src, late_from, hi);
      CHECK_TABLES(b2a_late, ref_l, 0);
      tide_table_free(ref_l);
    }
    /* sums: the current batch only through remove_blink, the whole
     * stream over the blink table itself */
    int64_t si;
    double sd;
    uint64_t cnt;
    naive_sums(&d, lo, hi, NULL, false, &si, &sd, &cnt);
    if (cnt) {
      CHECK_MSG(tide_table_size(agg_rb) == 1, "cycle %llu: %llu rows", (unsigned long long)k,
                (unsigned long long)tide_table_size(agg_rb));
      if (tide_table_size(agg_rb) == 1) check_sum_row(agg_rb, 0, si, sd, "remove_blink agg", k);
    } else {
      /* no keys: the single group stays, as in a static agg_by over no rows */
      tide_table_t *sagg = tide_agg_by(ref_b, &spec, 1, NULL, 0, &err);
      CHECK_OK_PTR(sagg, err);
      CHECK_TABLES(agg_rb, sagg, 0);
      tide_table_free(sagg);
    }
    naive_sums(&d, 0, hi, NULL, false, &si, &sd, &cnt);
    if (cnt && tide_table_size(agg_bl) == 1) check_sum_row(agg_bl, 0, si, sd, "blink agg", k);
    else CHECK(cnt == 0);
    /* by key: every group of the current batch, and only those */
    uint64_t ngroups = 0;
    for (size_t w = 0; w < 6; w++) {
      const char *key = words[w] ? words[w] : "null";
      naive_sums(&d, lo, hi, key, true, &si, &sd, &cnt);
      if (cnt) ngroups++;
      uint64_t found = 0, pos = 0;
      for (uint64_t p = 0; p < tide_table_size(aggby_rb); p++)
        if (strcmp(tu_cell(aggby_rb, "Y", p), key) == 0) {
          found++;
          pos = p;
        }
      CHECK_MSG(found == (cnt ? 1u : 0u), "cycle %llu key %s: %llu rows for %llu source rows",
                (unsigned long long)k, key, (unsigned long long)found, (unsigned long long)cnt);
      if (found == 1 && cnt) check_sum_row(aggby_rb, pos, si, sd, key, k);
    }
    CHECK(tide_table_size(aggby_rb) == ngroups);
    if (k == 3) {
      snap_keep = tide_table_retain(sa);
      snap_keep_ref = tide_table_retain(ref_a);
      /* created mid-stream: starts with the current batch */
      b2a_late = tide_blink_to_append_only(blink, &err);
      CHECK_OK_PTR(b2a_late, err);
      late_from = lo;
      tide_table_t *ref_l = slice(src, lo, hi);
      CHECK_TABLES(b2a_late, ref_l, 0);
      tide_table_free(ref_l);
    }
    tide_table_free(sb);
    tide_table_free(sa);
    tide_table_free(ref_b);
    tide_table_free(ref_a);
  }
  if (snap_keep) {
    /* a snapshot does not change with later cycles */
    CHECK_TABLES(snap_keep, snap_keep_ref, 0);
  }
  tide_table_free(snap_keep);
  tide_table_free(snap_keep_ref);
  tide_table_free(b2a_late);
  tide_table_free(b2a);
  tide_table_free(aggby_rb);
  tide_table_free(agg_bl);
  tide_table_free(agg_rb);
  tide_table_free(rb);
  tide_table_free(app);
  tide_table_free(blink);
  tide_graph_free(g);
  tide_table_free(src);
  data_free(&d);
}

/* ring_table over blink and append-only replays: the last cap rows of the
 * stream, i.e. a slice of the replayed table; rings created mid-stream with
 * and without their input's current rows. */
static void test_ring(uint64_t n, uint64_t per, uint64_t cap) {
  tide_error err;
  tu_rng rng = {g_seed ^ (n * 31 + cap)};
  data_t d;
  tide_table_t *src = gen_static(n, &rng, &d);
  tide_graph_t *g = tide_graph_create(&err);
  CHECK_OK_PTR(g, err);
  tide__graph_set_validate(g, true);
  tide_table_t *blink = tide_replay(g, src, per, true, &err);
  tide_table_t *app = tide_replay(g, src, per, false, &err);
  CHECK_OK_PTR(blink, err);
  CHECK_OK_PTR(app, err);
  tide_table_t *rb = tide_ring_table(blink, cap, true, &err);
  tide_table_t *ra = tide_ring_table(app, cap, true, &err);
  CHECK_OK_PTR(rb, err);
  CHECK_OK_PTR(ra, err);
  CHECK(tide_table_kind(rb) == TIDE_KIND_RING && tide_table_size(ra) == 0);
  tide_table_t *late_i = NULL, *late_n = NULL, *late_b = NULL;
  uint64_t late_lo = 0, late_hi = 0;
  uint64_t cycles = (n + per - 1) / per + 2;
  for (uint64_t k = 1; k <= cycles; k++) {
    CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
    uint64_t hi = TIDE_MIN(k * per, n), lo = hi > cap ? hi - cap : 0;
    tide_table_t *ref = slice(src, lo, hi);
    CHECK_TABLES(rb, ref, 0);
    CHECK_TABLES(ra, ref, 0);
    tide_table_t *snap = tide_snapshot(rb, &err);
    CHECK_OK_PTR(snap, err);
    CHECK_TABLES(snap, ref, 0);
    tide_table_free(snap);
    tide_table_free(ref);
    if (late_i) {
      /* initialize: the append-only table's rows count; else only later
       * ones; over blink, initialize takes the current batch */
      tide_table_t *r1 = slice(src, hi > cap ? hi - cap : 0, hi);
      CHECK_TABLES(late_i, r1, 0);
      uint64_t from = TIDE_MAX(late_hi, hi > cap ? hi - cap : 0);
      tide_table_t *r2 = slice(src, from, hi);
      CHECK_TABLES(late_n, r2, 0);
      uint64_t fb = TIDE_MAX(late_lo, hi > cap ? hi - cap : 0);
      tide_table_t *r3 = slice(src, fb, hi);
      CHECK_TABLES(late_b, r3, 0);
      tide_table_free(r1);
      tide_table_free(r2);
      tide_table_free(r3);
    }
    if (k == 2) {
      late_i = tide_ring_table(app, cap, true, &err);
      late_n = tide_ring_table(app, cap, false, &err);
      late_b = tide_ring_table(blink, cap, true, &err);
      CHECK_OK_PTR(late_i, err);
      CHECK_OK_PTR(late_n, err);
      CHECK_OK_PTR(late_b, err);
      late_lo = TIDE_MIN(per, n);
      late_hi = hi;
      CHECK(tide_table_size(late_n) == 0);
    }
  }
  tide_table_free(late_i);
  tide_table_free(late_n);
  tide_table_free(late_b);
  tide_table_free(rb);
  tide_table_free(ra);
  tide_table_free(app);
  tide_table_free(blink);
  tide_graph_free(g);
  tide_table_free(src);
  data_free(&d);
}

/* A snapshot large enough for several parallel morsels, same result for
 * any thread count. */
static void test_parallel_snapshot(void) {
  tide_error err;
  uint64_t n = 300000;
  tu_rng rng = {g_seed + 7};
  int64_t *iv = malloc(n * sizeof *iv);
  for (uint64_t i = 0; i < n; i++) iv[i] = (int64_t)tu_below(&rng, 1u << 30);
  const char *names[] = {"I"};
  tide_type_t types[] = {TIDE_I64};
  const void *cols[] = {iv};
  tide_table_t *src = tu_table(n, 1, names, types, cols);
  tide_graph_t *g = tide_graph_create(&err);
  CHECK_OK_PTR(g, err);
  tide__graph_set_validate(g, true);
  tide_table_t *app = tide_replay(g, src, 140000, false, &err);
  CHECK_OK_PTR(app, err);
  CHECK_OK(tide_graph_run_cycles(g, 3, &err), err);
  for (int th = 1; th <= 3; th++) {
    CHECK_OK(tide_set_threads(th, &err), err);
    tide_table_t *s = tide_snapshot(app, &err);
    CHECK_OK_PTR(s, err);
    CHECK(tide_table_size(s) == n);
    CHECK_TABLES(s, src, 0);
    tide_table_free(s);
  }
  CHECK_OK(tide_set_threads(0, &err), err);
  tide_table_free(app);
  tide_graph_free(g);
  tide_table_free(src);
  free(iv);
}

static void test_errors(void) {
  tide_error err;
  tu_rng rng = {g_seed};
  data_t d;
  tide_table_t *src = gen_static(10, &rng, &d);
  /* static inputs */
  tide_table_t *s = tide_snapshot(src, &err);
  CHECK(s == src);
  tide_table_free(s);
  s = tide_remove_blink(src, &err);
  CHECK(s == src);
  tide_table_free(s);
  tide_error_clear(&err);
  CHECK(tide_blink_to_append_only(src, &err) == NULL);
  CHECK(err.status == TIDE_ERR_INVALID);
  CHECK_MSG(strstr(err.msg, "blink_to_append_only") && strstr(err.msg, "static"), "%s", err.msg);
  CHECK(tide_snapshot(NULL, &err) == NULL && err.status == TIDE_ERR_INVALID);
  CHECK(tide_remove_blink(NULL, &err) == NULL && err.status == TIDE_ERR_INVALID);
  CHECK(tide_blink_to_append_only(NULL, &err) == NULL && err.status == TIDE_ERR_INVALID);
  /* refreshing non-blink input */
  tide_graph_t *g = tide_graph_create(&err);
  CHECK_OK_PTR(g, err);
  tide__graph_set_validate(g, true);
  tide_table_t *app = tide_replay(g, src, 3, false, &err);
  CHECK_OK_PTR(app, err);
  tide_error_clear(&err);
  CHECK(tide_blink_to_append_only(app, &err) == NULL);
  CHECK(err.status == TIDE_ERR_INVALID);
  CHECK_MSG(strstr(err.msg, "blink_to_append_only") && strstr(err.msg, "blink"), "%s", err.msg);
  s = tide_remove_blink(app, &err);
  CHECK(s == app);
  tide_table_free(s);
  CHECK_OK(tide_graph_run_cycles(g, 2, &err), err);
  tide_table_free(app);
  tide_graph_free(g);
  tide_table_free(src);
  data_free(&d);
}

int main(void) {
  g_seed = tu_seed(20261121);
  test_conversions(1000, 70);
  test_conversions(50, 50);
  test_conversions(0, 5);
  test_ring(1000, 70, 100);
  test_ring(500, 70, 40);
  test_ring(300, 20, 1);
  test_ring(5000, 4500, 6000);
  test_parallel_snapshot();
  test_errors();
  return tu_finish("tabletypes");
}
