/*
 * Ticking sources (include/tide/ticking.h): replay (append-only and blink)
 * against head/tail of the static table, time tables on a simulated clock,
 * keyed and unkeyed input tables against a reference map after random
 * batches (int, symbol and string keys; previous values of modified and
 * removed rows read in a listener), publishers fed by two threads, duration
 * parsing and error messages. Every update is validated by the graph.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/graph_int.h"
#include "testutil.h"

static uint64_t g_seed;

/* ------------------------------------------------------------ static data */

static tide_table_t *gen_static(uint64_t n, tu_rng *r) {
  int64_t *iv = malloc((n ? n : 1) * sizeof *iv);
  double *dv = malloc((n ? n : 1) * sizeof *dv);
  const char **sv = malloc((n ? n : 1) * sizeof *sv);
  const char **yv = malloc((n ? n : 1) * sizeof *yv);
  int64_t *tv = malloc((n ? n : 1) * sizeof *tv);
  static const char *words[] = {"alpha", "beta", "gamma", "delta", "eps", NULL};
  for (uint64_t i = 0; i < n; i++) {
    iv[i] = tu_below(r, 10) == 0 ? TIDE_NULL_I64 : (int64_t)tu_below(r, 1000) - 500;
    dv[i] = tu_below(r, 10) == 0 ? TIDE_NULL_F64 : tu_unit(r) * 100;
    sv[i] = words[tu_below(r, 6)];
    yv[i] = words[tu_below(r, 6)];
    tv[i] = 1700000000000000000LL + (int64_t)i * 1000;
  }
  const char *names[] = {"I", "D", "S", "Y", "T"};
  tide_type_t types[] = {TIDE_I64, TIDE_F64, TIDE_STRING, TIDE_SYMBOL, TIDE_TS};
  const void *cols[] = {iv, dv, sv, yv, tv};
  tide_table_t *t = tu_table(n, 5, names, types, cols);
  free(iv);
  free(dv);
  free(sv);
  free(yv);
  free(tv);
  return t;
}

/* ----------------------------------------------------------------- replay */

typedef struct replay_ctx_t {
  tide_table_t *src;
  bool blink;
  int calls;
  uint64_t added, removed, modified;
  int prev_bad;
  uint64_t first_added;
} replay_ctx_t;

static void replay_listener(tide_table_t *t, const tide_update_t *u, void *ctx) {
  replay_ctx_t *c = ctx;
  c->calls++;
  c->added = u->added ? tide_rowset_size(u->added) : 0;
  c->removed = u->removed ? tide_rowset_size(u->removed) : 0;
  c->modified = u->modified ? tide_rowset_size(u->modified) : 0;
  c->first_added = c->added ? tide_rowset_first(u->added) : TIDE_NULL_KEY;
  if (!c->removed) return;
  /* removed rows' previous values equal the static rows at their
   * positions (the replayed row keys) */
  uint64_t n = tide_rowset_size(u->removed);
  uint64_t *keys = malloc(n * sizeof *keys), *skeys = malloc(n * sizeof *skeys);
  tide_rowset_export(u->removed, keys);
  for (uint64_t i = 0; i < n; i++) skeys[i] = tide_rowset_key_at(tide_table_rowset(c->src), keys[i]);
  tide_rowseq_t seq = {.first = 0, .keys = keys, .pos = 0, .n = (uint32_t)n};
  tide_rowseq_t sseq = {.first = 0, .keys = skeys, .pos = 0, .n = (uint32_t)n};
  int64_t *pv = malloc(n * sizeof *pv), *sv = malloc(n * sizeof *sv);
  int32_t *py = malloc(n * sizeof *py), *sy = malloc(n * sizeof *sy);
  tide_source_fill_prev(tide_table_col_source(t, 0), &seq, pv);
  tide_source_fill(tide_table_col_source(c->src, 0), &sseq, sv);
  tide_source_fill_prev(tide_table_col_source(t, 3), &seq, py);
  tide_source_fill(tide_table_col_source(c->src, 3), &sseq, sy);
  for (uint64_t i = 0; i < n; i++)
    if (pv[i] != sv[i] || py[i] != sy[i]) c->prev_bad++;
  /* and the previous RowSet is what was removed (blink) */
  if (!tide_rowset_equals(tide_table_prev_rowset(t), u->removed)) c->prev_bad++;
  free(keys);
  free(skeys);
  free(pv);
  free(sv);
  free(py);
  free(sy);
}

static void test_replay(bool blink, uint64_t n, uint64_t per, bool filtered) {
  tide_error err;
  tu_rng r = {g_seed + n + per + blink};
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  tide_table_t *src = gen_static(n, &r);
  if (filtered) { /* a sparse RowSet: keys are not positions */
    tide_table_t *w = tide_where(src, "I > 0", &err);
    CHECK_OK_PTR(w, err);
    tide_table_free(src);
    src = w;
    n = tide_table_size(src);
  }
  tide_table_t *t = tide_replay(g, src, per, blink, &err);
  CHECK_OK_PTR(t, err);
  if (!t) return;
  CHECK(tide_table_is_refreshing(t) && tide_table_graph(t) == g);
  CHECK(tide_table_kind(t) == (blink ? TIDE_KIND_BLINK : TIDE_KIND_APPEND_ONLY));
  CHECK(tide_table_size(t) == 0 && tide_table_ncols(t) == 5);
  /* symbol columns share the static dictionary */
  CHECK(tide_source_symtab(tide_table_col_source(t, 3)) ==
        tide_source_symtab(tide_table_col_source(src, 3)));
  replay_ctx_t rc = {.src = src, .blink = blink};
  tide_listener_t *l = tide_table_listen(t, replay_listener, &rc, &err);
  CHECK_OK_PTR(l, err);
  uint64_t cycles = (n + per - 1) / per + 2;
  int expect_calls = 0;
  for (uint64_t k = 1; k <= cycles; k++) {
    CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
    uint64_t upto = TIDE_MIN(k * per, n), from = TIDE_MIN((k - 1) * per, n);
    tide_table_t *head = tide_head(src, upto, &err);
    tide_table_t *expect = blink ? tide_tail(head, upto - from, &err) : tide_table_retain(head);
    CHECK_TABLES(t, expect, 0);
    uint64_t prev_rows = blink ? TIDE_MIN((k - 1) * per, n) - TIDE_MIN((k >= 2 ? k - 2 : 0) * per, n) : 0;
    if (k == 1) prev_rows = 0;
    bool changed = upto > from || (blink && prev_rows > 0);
    if (changed) {
      expect_calls++;
      CHECK_MSG(rc.added == upto - from, "k=%llu added %llu want %llu", (unsigned long long)k,
                (unsigned long long)rc.added, (unsigned long long)(upto - from));
      CHECK(rc.removed == prev_rows && rc.modified == 0);
      if (upto > from) CHECK(rc.first_added == from);
    }
    CHECK_MSG(rc.calls == expect_calls, "k=%llu calls %d want %d", (unsigned long long)k,
              rc.calls, expect_calls);
    tide_table_free(head);
    tide_table_free(expect);
  }
  CHECK(rc.prev_bad == 0);
  if (blink) CHECK(tide_table_size(t) == 0);
  else CHECK(tide_table_size(t) == n);
  tide_listener_remove(l);
  /* the replayed strings outlive the static table */
  tide_table_free(src);
  tide_table_free(t);
  tide_graph_free(g);
}

/* ------------------------------------------------------------- time table */

static void test_time_table(bool blink) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  int64_t t0;
  CHECK(tide_ts_parse("2026-01-01T09:30:00Z", 20, &t0));
  tide_sim_clock_t clk = {g, t0, 100000000LL};
  tide_graph_set_clock(g, tide_sim_clock_now, &clk);
  CHECK(tide_graph_now(g) == t0);
  int64_t period = 250000000LL;
  tide_table_t *t = tide_time_table(g, period, TIDE_NULL_TS, blink, &err);
  CHECK_OK_PTR(t, err);
  if (!t) return;
  CHECK(tide_table_size(t) == 1 && strcmp(tide_table_col_name(t, 0), "Timestamp") == 0);
  CHECK(tide_table_col_type(t, 0) == TIDE_TS);
  /* a start in the past: every period since then at once */
  tide_table_t *past = tide_time_table(g, 1000000000LL, t0 - 4500000000LL, blink, &err);
  CHECK_OK_PTR(past, err);
  CHECK(tide_table_size(past) == 5);
  /* a start in the future: nothing until the clock gets there (t0 + 1 s) */
  tide_table_t *fut = tide_time_table(g, 300000000LL, t0 + 1000000000LL, blink, &err);
  CHECK_OK_PTR(fut, err);
  CHECK(tide_table_size(fut) == 0);
  uint64_t total = 1;
  for (int k = 1; k <= 23; k++) {
    CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
    uint64_t want_total = (uint64_t)(k * 100 / 250) + 1;
    uint64_t added = want_total - total;
    total = want_total;
    uint64_t first = blink ? (added ? total - added : 0) : 0;
    uint64_t want_rows = blink ? added : total;
    CHECK_MSG(tide_table_size(t) == want_rows, "k=%d rows %llu want %llu", k,
              (unsigned long long)tide_table_size(t), (unsigned long long)want_rows);
    for (uint64_t i = 0; i < tide_table_size(t); i++) {
      int64_t v;
      tide_table_get(t, 0, i, &v, &err);
      CHECK(v == t0 + (int64_t)(first + i) * period);
      /* row keys count up */
      CHECK(tide_rowset_key_at(tide_table_rowset(t), i) == first + i);
    }
  }
  /* fut: rows at t0 + 1 s + 0.3 s j up to t0 + 2.3 s: j = 0..4 (j = 4 at
   * 2.2 s, added in cycle 22) */
  CHECK(tide_table_size(fut) == (blink ? 0u : 5u));
  tide_table_free(fut);
  /* past: rows at t0-4.5s + j s up to t0 + 2.3 s: j = 0..6 */
  CHECK(blink ? tide_table_size(past) == 0 : tide_table_size(past) == 7);
  /* a clock jump adds many rows in one cycle */
  clk.start_ns += 1000LL * period;
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  uint64_t want_total = (uint64_t)((24 * 100000000LL + 1000LL * period) / period) + 1;
  CHECK(tide_table_size(t) == (blink ? want_total - total : want_total));
  tide_table_free(past);
  tide_table_free(t);
  tide_graph_free(g);
}

/* ------------------------------------------------------------ input table */

#define NKEYS 48

typedef struct ref_row_t {
  bool present;
  double v;
  char w[16];
  bool w_null;
  int32_t n;
} ref_row_t;

typedef enum { KEY_INT, KEY_SYM, KEY_STR } key_kind;

typedef struct in_ctx_t {
  key_kind kk;
  const ref_row_t *old, *cur;
  const bool *touched;
  int calls, bad;
  uint64_t na, nr, nm;
} in_ctx_t;

/* Key index of row key k (reading the key column's current or previous
 * value). */
static int key_of(const tide_table_t *t, key_kind kk, uint64_t k, bool prev) {
  tide_rowseq_t seq = {.first = k, .keys = NULL, .pos = 0, .n = 1};
  const tide_source_t *src = tide_table_col_source(t, 0);
  if (kk == KEY_INT) {
    int64_t v;
    (prev ? tide_source_fill_prev : tide_source_fill)(src, &seq, &v);
    return (int)v;
  }
  const char *s;
  if (kk == KEY_SYM) {
    int32_t c;
    (prev ? tide_source_fill_prev : tide_source_fill)(src, &seq, &c);
    s = tide_symtab_str(tide_source_symtab(src), c);
  } else {
    (prev ? tide_source_fill_prev : tide_source_fill)(src, &seq, &s);
  }
  return s ? atoi(s + 1) : -1;
}

static void in_listener(tide_table_t *t, const tide_update_t *u, void *ctx) {
  in_ctx_t *c = ctx;
  c->calls++;
  c->na = u->added ? tide_rowset_size(u->added) : 0;
  c->nr = u->removed ? tide_rowset_size(u->removed) : 0;
  c->nm = u->modified ? tide_rowset_size(u->modified) : 0;
  if (c->nm) {
    if (!tide_update_col_modified(u, 1) || !tide_update_col_modified(u, 2) ||
        !tide_update_col_modified(u, 3) || tide_update_col_modified(u, 0))
      c->bad++;
  }
  tide_rowset_iter_t it;
  uint64_t f, l;
  if (u->modified) {
    tide_rowset_iter_init(&it, u->modified);
    while (tide_rowset_iter_next_range(&it, &f, &l)) {
      for (uint64_t k = f; k <= l; k++) {
        int key = key_of(t, c->kk, k, false);
        if (key < 0 || key >= NKEYS || !c->old[key].present || !c->cur[key].present ||
            !c->touched[key]) {
          c->bad++;
          continue;
        }
        tide_rowseq_t seq = {.first = k, .keys = NULL, .pos = 0, .n = 1};
        double pv;
        int32_t pn;
        const char *pw;
        tide_source_fill_prev(tide_table_col_source(t, 1), &seq, &pv);
        tide_source_fill_prev(tide_table_col_source(t, 2), &seq, &pw);
        tide_source_fill_prev(tide_table_col_source(t, 3), &seq, &pn);
        const ref_row_t *o = &c->old[key];
        if (pv != o->v || pn != o->n || (o->w_null ? pw != NULL : (!pw || strcmp(pw, o->w))))
          c->bad++;
      }
    }
  }
  if (u->removed) {
    tide_rowset_iter_init(&it, u->removed);
    while (tide_rowset_iter_next_range(&it, &f, &l)) {
      for (uint64_t k = f; k <= l; k++) {
        int key = key_of(t, c->kk, k, true);
        if (key < 0 || key >= NKEYS || !c->old[key].present || c->cur[key].present) c->bad++;
        tide_rowseq_t seq = {.first = k, .keys = NULL, .pos = 0, .n = 1};
        double pv;
        tide_source_fill_prev(tide_table_col_source(t, 1), &seq, &pv);
        if (key >= 0 && key < NKEYS && pv != c->old[key].v) c->bad++;
      }
    }
  }
  if (u->added) {
    tide_rowset_iter_init(&it, u->added);
    while (tide_rowset_iter_next_range(&it, &f, &l)) {
      for (uint64_t k = f; k <= l; k++) {
        int key = key_of(t, c->kk, k, false);
        if (key < 0 || key >= NKEYS || c->old[key].present || !c->cur[key].present) c->bad++;
      }
    }
  }
}

/* A batch table of n rows (keys from keys[]); with values unless keys_only. */
static tide_table_t *in_batch(key_kind kk, const int *keys, size_t n, const ref_row_t *vals,
                              bool keys_only) {
  int64_t *ki = malloc((n ? n : 1) * sizeof *ki);
  const char **ks = malloc((n ? n : 1) * sizeof *ks);
  char(*kbuf)[16] = malloc((n ? n : 1) * sizeof *kbuf);
  double *v = malloc((n ? n : 1) * sizeof *v);
  const char **w = malloc((n ? n : 1) * sizeof *w);
  int32_t *nn = malloc((n ? n : 1) * sizeof *nn);
  for (size_t i = 0; i < n; i++) {
    ki[i] = keys[i];
    snprintf(kbuf[i], sizeof kbuf[i], "k%d", keys[i]);
    ks[i] = kbuf[i];
    if (!keys_only) {
      v[i] = vals[i].v;
      w[i] = vals[i].w_null ? NULL : vals[i].w;
      nn[i] = vals[i].n;
    }
  }
  /* columns in a different order than the input table, plus an extra */
  const char *names[] = {"W", "K", "Extra", "N", "V"};
  tide_type_t types[] = {TIDE_STRING,
                         kk == KEY_INT ? TIDE_I64 : kk == KEY_SYM ? TIDE_SYMBOL : TIDE_STRING,
                         TIDE_I32, TIDE_I32, TIDE_F64};
  const void *cols[] = {w, kk == KEY_INT ? (const void *)ki : (const void *)ks, nn, nn, v};
  tide_table_t *t = keys_only ? tu_table(n, 1, names + 1, types + 1, cols + 1)
                              : tu_table(n, 5, names, types, cols);
  free(ki);
  free(ks);
  free(kbuf);
  free(v);
  free(w);
  free(nn);
  return t;
}

static void check_against_ref(const tide_table_t *t, key_kind kk, const ref_row_t *ref, int cyc) {
  uint64_t want = 0;
  for (int k = 0; k < NKEYS; k++) want += ref[k].present;
  CHECK_MSG(tide_table_size(t) == want, "cycle %d: %llu rows, want %llu (seed %llu)", cyc,
            (unsigned long long)tide_table_size(t), (unsigned long long)want,
            (unsigned long long)g_seed);
  bool seen[NKEYS] = {0};
  tide_error err;
  for (uint64_t i = 0; i < tide_table_size(t); i++) {
    int key = key_of(t, kk, tide_rowset_key_at(tide_table_rowset(t), i), false);
    if (key < 0 || key >= NKEYS || !ref[key].present || seen[key]) {
      CHECK_MSG(false, "cycle %d: row %llu has key %d that should not be there (seed %llu)", cyc,
                (unsigned long long)i, key, (unsigned long long)g_seed);
      continue;
    }
    seen[key] = true;
    double v;
    const char *w;
    int32_t n;
    tide_table_get(t, 1, i, &v, &err);
    tide_table_get(t, 2, i, &w, &err);
    tide_table_get(t, 3, i, &n, &err);
    const ref_row_t *r = &ref[key];
    bool ok = v == r->v && n == r->n && (r->w_null ? w == NULL : (w && strcmp(w, r->w) == 0));
    CHECK_MSG(ok, "cycle %d: key %d has wrong values (seed %llu)", cyc, key,
              (unsigned long long)g_seed);
  }
}

static void rand_vals(tu_rng *r, ref_row_t *v) {
  v->v = tu_below(r, 8) == 0 ? TIDE_NULL_F64 : (double)tu_below(r, 1000) / 8;
  v->w_null = tu_below(r, 8) == 0;
  snprintf(v->w, sizeof v->w, "w%llu", (unsigned long long)tu_below(r, 100));
  v->n = tu_below(r, 8) == 0 ? TIDE_NULL_I32 : (int32_t)tu_below(r, 100);
}

static void test_input_keyed(key_kind kk) {
  tide_error err;
  tu_rng r = {g_seed * 3 + (uint64_t)kk};
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  const char *names[] = {"K", "V", "W", "N"};
  tide_type_t types[] = {kk == KEY_INT ? TIDE_I64 : kk == KEY_SYM ? TIDE_SYMBOL : TIDE_STRING,
                         TIDE_F64, TIDE_STRING, TIDE_I32};
  const char *key = "K";
  /* initial rows: keys 0..9, with key 3 twice (the last wins) */
  ref_row_t ref[NKEYS] = {0}, old[NKEYS];
  bool touched[NKEYS];
  int ik[11];
  ref_row_t iv[11];
  for (int i = 0; i < 11; i++) {
    ik[i] = i < 10 ? i : 3;
    rand_vals(&r, &iv[i]);
    ref[ik[i]] = iv[i];
    ref[ik[i]].present = true;
  }
  tide_table_t *init0 = in_batch(kk, ik, 11, iv, false);
  tide_table_t *init = tide_view(init0, names, 4, &err);
  CHECK_OK_PTR(init, err);
  tide_table_t *t = tide_input_table_create(g, init, &key, 1, &err);
  CHECK_OK_PTR(t, err);
  tide_table_free(init0);
  tide_table_free(init);
  if (!t) return;
  (void)types;
  CHECK(tide_table_kind(t) == TIDE_KIND_STANDARD && tide_table_is_input_table(t));
  check_against_ref(t, kk, ref, 0);
  in_ctx_t c = {.kk = kk, .old = old, .cur = ref, .touched = touched};
  tide_listener_t *l = tide_table_listen(t, in_listener, &c, &err);
  CHECK_OK_PTR(l, err);
  for (int cyc = 1; cyc <= 40; cyc++) {
    memcpy(old, ref, sizeof ref);
    memset(touched, 0, sizeof touched);
    int nops = (int)tu_below(&r, 4);
    for (int o = 0; o < nops; o++) {
      size_t n = 1 + tu_below(&r, 12);
      int keys[16];
      ref_row_t vals[16];
      bool del = tu_below(&r, 3) == 0;
      for (size_t i = 0; i < n; i++) {
        keys[i] = (int)tu_below(&r, NKEYS);
        rand_vals(&r, &vals[i]);
      }
      tide_table_t *b = in_batch(kk, keys, n, vals, del);
      tide_status st =
          del ? tide_input_table_delete(t, b, &err) : tide_input_table_add(t, b, &err);
      CHECK_OK(st, err);
      tide_table_free(b);
      for (size_t i = 0; i < n; i++) {
        if (del) {
          if (ref[keys[i]].present) touched[keys[i]] = true;
          ref[keys[i]].present = false;
        } else {
          ref[keys[i]] = vals[i];
          ref[keys[i]].present = true;
          touched[keys[i]] = true;
        }
      }
    }
    /* queued, not applied yet */
    if (nops) check_against_ref(t, kk, old, cyc);
    int calls0 = c.calls;
    CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
    check_against_ref(t, kk, ref, cyc);
    uint64_t ea = 0, er = 0, em = 0;
    for (int k = 0; k < NKEYS; k++) {
      ea += !old[k].present && ref[k].present;
      er += old[k].present && !ref[k].present;
      em += old[k].present && ref[k].present && touched[k];
    }
    if (ea + er + em == 0) {
      CHECK(c.calls == calls0);
    } else {
      CHECK(c.calls == calls0 + 1);
      CHECK_MSG(c.na == ea && c.nr == er && c.nm == em,
                "cycle %d: added %llu/%llu removed %llu/%llu modified %llu/%llu (seed %llu)", cyc,
                (unsigned long long)c.na, (unsigned long long)ea, (unsigned long long)c.nr,
                (unsigned long long)er, (unsigned long long)c.nm, (unsigned long long)em,
                (unsigned long long)g_seed);
    }
  }
  CHECK_MSG(c.bad == 0, "%d bad rows seen by the listener (seed %llu)", c.bad,
            (unsigned long long)g_seed);
  tide_listener_remove(l);
  tide_table_free(t);
  tide_graph_free(g);
}

static void test_input_unkeyed(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  const char *names[] = {"K", "V", "W", "N"};
  tide_type_t types[] = {TIDE_SYMBOL, TIDE_F64, TIDE_STRING, TIDE_I32};
  tide_table_t *t = tide_input_table_create_schema(g, 4, names, types, NULL, 0, &err);
  CHECK_OK_PTR(t, err);
  CHECK(tide_table_kind(t) == TIDE_KIND_APPEND_ONLY && tide_table_size(t) == 0);
  int keys[3] = {1, 1, 2};
  ref_row_t v[3] = {{true, 1.5, "a", false, 1}, {true, 2.5, "", true, 2}, {true, 3.5, "c", false, 3}};
  tide_table_t *b = in_batch(KEY_STR, keys, 3, v, false); /* STRING K -> SYMBOL */
  CHECK_OK(tide_input_table_add(t, b, &err), err);
  CHECK_OK(tide_input_table_add(t, b, &err), err);
  CHECK(tide_input_table_delete(t, b, &err) == TIDE_ERR_INVALID && strstr(err.msg, "append-only"));
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(tide_table_size(t) == 6);
  CHECK(strcmp(tu_cell(t, "K", 4), "k1") == 0 && strcmp(tu_cell(t, "W", 4), "null") == 0);
  CHECK(tu_cell_f64(t, "V", 5) == 3.5 && strcmp(tu_cell(t, "W", 5), "c") == 0);
  tide_table_free(b);
  tide_table_free(t);
  tide_graph_free(g);
}

/* Composite keys (int32 + symbol), duplicates within a batch (last wins),
 * an all-key table (re-adding a key changes nothing). */
static void test_input_composite(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  const char *names[] = {"A", "B", "V"};
  tide_type_t types[] = {TIDE_I32, TIDE_SYMBOL, TIDE_F64};
  const char *keys[] = {"B", "A"};
  tide_table_t *t = tide_input_table_create_schema(g, 3, names, types, keys, 2, &err);
  CHECK_OK_PTR(t, err);
  int32_t a[4] = {1, 1, 1, 2};
  const char *b[4] = {"x", "y", "x", "x"};
  double v[4] = {1, 2, 3, 4};
  const void *cols[] = {a, b, v};
  tide_table_t *batch = tu_table(4, 3, names, types, cols);
  CHECK_OK(tide_input_table_add(t, batch, &err), err);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(tide_table_size(t) == 3);
  CHECK(tu_cell_f64(t, "V", 0) == 3 && tu_cell_f64(t, "V", 1) == 2 && tu_cell_f64(t, "V", 2) == 4);
  tide_table_t *del = tu_table(1, 2, names, types, (const void *const[]){a + 1, b + 1});
  CHECK_OK(tide_input_table_delete(t, del, &err), err);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(tide_table_size(t) == 2 && strcmp(tu_cell(t, "B", 1), "x") == 0 &&
        strcmp(tu_cell(t, "A", 1), "2") == 0);
  tide_table_free(del);
  /* all columns are keys: an upsert of a present key is no change */
  tide_table_t *k = tide_input_table_create_schema(g, 2, names, types, keys, 2, &err);
  CHECK_OK_PTR(k, err);
  tide_table_t *kb = tu_table(2, 2, names, types, (const void *const[]){a, b});
  CHECK_OK(tide_input_table_add(k, kb, &err), err);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK_OK(tide_input_table_add(k, kb, &err), err);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(tide_table_size(k) == 2);
  tide_table_free(kb);
  tide_table_free(k);
  tide_table_free(batch);
  tide_table_free(t);
  tide_graph_free(g);
}

static void test_input_errors(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  const char *names[] = {"K", "V"};
  tide_type_t types[] = {TIDE_I64, TIDE_F64};
  const char *bad = "Nope";
  CHECK(!tide_input_table_create_schema(g, 2, names, types, &bad, 1, &err));
  CHECK(strstr(err.msg, "input_table") && strstr(err.msg, "Nope"));
  const char *dup[] = {"K", "K"};
  CHECK(!tide_input_table_create_schema(g, 2, names, types, dup, 2, &err));
  const char *key = "K";
  tide_table_t *t = tide_input_table_create_schema(g, 2, names, types, &key, 1, &err);
  CHECK_OK_PTR(t, err);
  /* missing column, wrong type */
  int64_t kv[1] = {1};
  const char *bn[] = {"K"};
  tide_type_t bt[] = {TIDE_I64};
  const void *bc[] = {kv};
  tide_table_t *b = tu_table(1, 1, bn, bt, bc);
  CHECK(tide_input_table_add(t, b, &err) == TIDE_ERR_NOT_FOUND);
  CHECK(strstr(err.msg, "input_table.add") && strstr(err.msg, "'V'"));
  CHECK_OK(tide_input_table_delete(t, b, &err), err); /* keys only: fine */
  tide_table_free(b);
  const char *bn2[] = {"K", "V"};
  tide_type_t bt2[] = {TIDE_I64, TIDE_I64};
  const void *bc2[] = {kv, kv};
  b = tu_table(1, 2, bn2, bt2, bc2);
  CHECK(tide_input_table_add(t, b, &err) == TIDE_ERR_TYPE);
  CHECK(strstr(err.msg, "input_table.add") && strstr(err.msg, "'V'") && strstr(err.msg, "double"));
  CHECK(tide_input_table_add(b, b, &err) == TIDE_ERR_INVALID && strstr(err.msg, "not an input"));
  CHECK_OK(tide_input_table_add(t, t, &err), err); /* a copy of its (0) rows */
  tide_table_free(b);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(tide_table_size(t) == 0);
  tide_table_free(t);
  tide_graph_free(g);
}

/* -------------------------------------------------------------- publisher */

#define PUB_ROWS 6000

typedef struct pub_thread_t {
  tide_publisher_t *pub;
  int id;
  uint64_t seed;
  int failures;
} pub_thread_t;

static void *pub_main(void *arg) {
  pub_thread_t *a = arg;
  tu_rng r = {a->seed};
  int64_t vals[64];
  const char *strs[64];
  char buf[64][24];
  int i = 0;
  while (i < PUB_ROWS) {
    uint64_t want = 1 + tu_below(&r, 64); /* (TIDE_MIN evaluates twice) */
    int n = (int)TIDE_MIN((uint64_t)(PUB_ROWS - i), want);
    for (int j = 0; j < n; j++) {
      vals[j] = (int64_t)a->id * 1000000 + i + j;
      snprintf(buf[j], sizeof buf[j], "t%d-%d", a->id, i + j);
      strs[j] = buf[j];
    }
    const void *cols[] = {vals, strs, strs};
    tide_error err;
    if (tide_publisher_append(a->pub, cols, (uint64_t)n, &err) != TIDE_OK) a->failures++;
    i += n;
  }
  return NULL;
}

typedef struct flush_ctx_t {
  uint64_t rows;
  int calls;
  tide_publisher_t *pub;
  bool right_pub;
} flush_ctx_t;

static void on_flush(tide_publisher_t *pub, uint64_t rows, void *ctx) {
  flush_ctx_t *f = ctx;
  f->rows += rows;
  f->calls++;
  if (pub != f->pub) f->right_pub = false;
}

static double mono_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void test_publisher(bool blink) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  const char *names[] = {"X", "S", "Y"};
  tide_type_t types[] = {TIDE_I64, TIDE_STRING, TIDE_SYMBOL};
  tide_publisher_t *pub = tide_publisher_create(
      g, 3, names, types, blink ? TIDE_KIND_BLINK : TIDE_KIND_APPEND_ONLY, &err);
  CHECK_OK_PTR(pub, err);
  if (!pub) return;
  tide_table_t *t = tide_publisher_table(pub);
  flush_ctx_t fc = {0, 0, pub, true};
  tide_publisher_on_flush(pub, on_flush, &fc);
  pub_thread_t th[2] = {{pub, 1, g_seed + 11, 0}, {pub, 2, g_seed + 12, 0}};
  pthread_t tid[2];
  for (int i = 0; i < 2; i++) pthread_create(&tid[i], NULL, pub_main, &th[i]);
  /* cycle while the threads append; in blink mode collect each cycle's rows */
  int64_t *seen = calloc(2 * PUB_ROWS, sizeof *seen);
  uint64_t nseen = 0;
  int cycles = 0;
  bool done = false;
  const double deadline = mono_now() + 60;
  while (!done || cycles < 3) {
    done = fc.rows >= 2 * PUB_ROWS;
    CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
    cycles++;
    if (blink) {
      for (uint64_t i = 0; i < tide_table_size(t) && nseen < 2 * PUB_ROWS; i++) {
        tide_table_get(t, 0, i, &seen[nseen++], &err);
      }
    }
    /* a time bound, not a cycle bound: empty cycles take microseconds, and
     * on a loaded 2-CPU machine the appending threads may get no CPU for
     * 100,000 of them (a CI run failed that way) */
    if (mono_now() > deadline) break;
    sched_yield();
  }
  for (int i = 0; i < 2; i++) pthread_join(tid[i], NULL);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(th[0].failures == 0 && th[1].failures == 0);
  CHECK_MSG(fc.rows == 2 * PUB_ROWS && fc.calls >= 1 && fc.right_pub, "rows %llu calls %d cycles %d", (unsigned long long)fc.rows, fc.calls, cycles);
  if (!blink) {
    CHECK(tide_table_size(t) == 2 * PUB_ROWS);
    nseen = 0;
    for (uint64_t i = 0; i < tide_table_size(t) && i < 2 * PUB_ROWS; i++)
      tide_table_get(t, 0, i, &seen[nseen++], &err);
    /* strings and symbols match the numbers */
    for (uint64_t i = 0; i < tide_table_size(t); i += 997) {
      char want[24];
      snprintf(want, sizeof want, "t%d-%d", (int)(seen[i] / 1000000), (int)(seen[i] % 1000000));
      CHECK(strcmp(tu_cell(t, "S", i), want) == 0 && strcmp(tu_cell(t, "Y", i), want) == 0);
    }
  } else {
    CHECK(tide_table_size(t) == 0);
  }
  /* every row exactly once, each thread's rows in order */
  CHECK(nseen == 2 * PUB_ROWS);
  int next[3] = {0, 0, 0};
  bool ok = true;
  for (uint64_t i = 0; i < nseen; i++) {
    int id = (int)(seen[i] / 1000000), v = (int)(seen[i] % 1000000);
    if (id < 1 || id > 2 || v != next[id]) ok = false;
    else next[id]++;
  }
  CHECK(ok && next[1] == PUB_ROWS && next[2] == PUB_ROWS);
  free(seen);
  tide_publisher_free(pub);
  tide_graph_free(g);
}

/* The graph cycling on its own thread while two threads publish; a
 * reader polls under the read lock. */
static void test_publisher_background(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  const char *names[] = {"X", "S", "Y"};
  tide_type_t types[] = {TIDE_I64, TIDE_STRING, TIDE_SYMBOL};
  tide_publisher_t *pub =
      tide_publisher_create(g, 3, names, types, TIDE_KIND_APPEND_ONLY, &err);
  CHECK_OK_PTR(pub, err);
  if (!pub) return;
  tide_table_t *t = tide_table_retain(tide_publisher_table(pub));
  CHECK_OK(tide_graph_start(g, 1000000ULL, &err), err);
  pub_thread_t th[2] = {{pub, 1, g_seed + 21, 0}, {pub, 2, g_seed + 22, 0}};
  pthread_t tid[2];
  for (int i = 0; i < 2; i++) pthread_create(&tid[i], NULL, pub_main, &th[i]);
  for (int i = 0; i < 2; i++) pthread_join(tid[i], NULL);
  uint64_t size = 0;
  for (int i = 0; i < 2000 && size < 2 * PUB_ROWS; i++) {
    tide_graph_request_cycle(g);
    tide_graph_read_lock(g);
    size = tide_table_size(t);
    tide_graph_read_unlock(g);
    if (size < 2 * PUB_ROWS) {
      struct timespec ts = {0, 2000000};
      nanosleep(&ts, NULL);
    }
  }
  CHECK_OK(tide_graph_stop(g, &err), err);
  CHECK(size == 2 * PUB_ROWS && tide_table_size(t) == 2 * PUB_ROWS);
  int64_t sum = 0;
  for (uint64_t i = 0; i < tide_table_size(t); i++) {
    int64_t v;
    tide_table_get(t, 0, i, &v, &err);
    sum += v % 1000000;
  }
  CHECK(sum == 2 * (int64_t)PUB_ROWS * (PUB_ROWS - 1) / 2);
  tide_publisher_free(pub);
  tide_table_free(t);
  tide_graph_free(g);
}

static void test_publisher_errors(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  const char *names[] = {"X"};
  tide_type_t types[] = {TIDE_I64};
  CHECK(!tide_publisher_create(g, 1, names, types, TIDE_KIND_STANDARD, &err));
  CHECK(strstr(err.msg, "publisher") && strstr(err.msg, "append-only or blink"));
  tide_publisher_t *p = tide_publisher_create(g, 1, names, types, TIDE_KIND_APPEND_ONLY, &err);
  CHECK_OK_PTR(p, err);
  const void *cols[] = {NULL};
  CHECK(tide_publisher_append(p, cols, 1, &err) == TIDE_ERR_INVALID && strstr(err.msg, "'X'"));
  /* the table outlives the publisher handle */
  tide_table_t *t = tide_table_retain(tide_publisher_table(p));
  int64_t v[2] = {5, 6};
  cols[0] = v;
  CHECK_OK(tide_publisher_append(p, cols, 2, &err), err);
  tide_publisher_free(p);
  CHECK_OK(tide_graph_run_cycles(g, 2, &err), err);
  CHECK(tide_table_size(t) == 2);
  tide_table_free(t);
  tide_graph_free(g);
}

/* ------------------------------------------------------- durations, errors */

static void test_durations(void) {
  tide_error err;
  struct {
    const char *s;
    int64_t ns;
  } good[] = {{"PT0.1S", 100000000LL},      {"PT1S", 1000000000LL},
              {"pt1s", 1000000000LL},       {"PT1M", 60000000000LL},
              {"PT1H30M", 5400000000000LL}, {"P1DT1S", 86401000000000LL},
              {"PT0.000000001S", 1},        {"100ms", 100000000LL},
              {"10s", 10000000000LL},       {"1.5s", 1500000000LL},
              {"2m", 120000000000LL},       {"500us", 500000LL},
              {" PT2S ", 2000000000LL},     {"PT1M0.5S", 60500000000LL}};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    int64_t ns = 0;
    tide_status st = tide_duration_parse(good[i].s, "time_table", &ns, &err);
    CHECK_MSG(st == TIDE_OK && ns == good[i].ns, "'%s' -> %lld (%s)", good[i].s, (long long)ns,
              err.msg);
  }
  const char *bad[] = {"", "PT", "P", "1x", "PT-1S", "P1H", "PT1S1M", "PT0S", "0ms", "abc",
                       "PT1.S.", "1", "PTS", "PT1S junk"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int64_t ns = 0;
    tide_status st = tide_duration_parse(bad[i], "time_table", &ns, &err);
    CHECK_MSG(st != TIDE_OK && strstr(err.msg, "time_table"), "'%s' accepted (%lld)", bad[i],
              (long long)ns);
  }
  int64_t ns;
  CHECK(tide_duration_parse("PT99999999999999H", "x", &ns, &err) == TIDE_ERR_RANGE);
}

static void test_errors(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tu_rng r = {g_seed};
  tide_table_t *src = gen_static(10, &r);
  CHECK(!tide_replay(g, src, 0, false, &err));
  CHECK(strstr(err.msg, "replay") && strstr(err.msg, "rows_per_cycle"));
  tide_table_t *t = tide_replay(g, src, 3, false, &err);
  CHECK(!tide_replay(g, t, 3, false, &err) && strstr(err.msg, "static"));
  CHECK(!tide_time_table(g, 0, TIDE_NULL_TS, false, &err) && strstr(err.msg, "time_table"));
  /* an input table starting from a refreshing table's current rows */
  tide_table_t *it = tide_input_table_create(g, t, NULL, 0, &err);
  CHECK_OK_PTR(it, err);
  /* an empty static table replays to nothing, forever */
  tide_table_t *e = tide_head(src, 0, &err);
  tide_table_t *re = tide_replay(g, e, 5, true, &err);
  CHECK_OK(tide_graph_run_cycles(g, 3, &err), err);
  CHECK(tide_table_size(re) == 0 && tide_table_size(t) == 9);
  CHECK(it && tide_table_size(it) == 0);
  CHECK_OK_PTR(tide_input_table_add(it, src, &err) == TIDE_OK ? it : NULL, err);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(tide_table_size(t) == 10 && tide_table_size(it) == 10);
  tide_table_t *it2 = tide_input_table_create(g, t, NULL, 0, &err);
  CHECK_OK_PTR(it2, err);
  CHECK_TABLES(it2, src, 0);
  tide_table_free(it2);
  tide_table_free(it);
  tide_table_free(re);
  tide_table_free(e);
  tide_table_free(t);
  tide_table_free(src);
  tide_graph_free(g);
}

/* Review: bad arguments of the public ticking API are refused with a
 * message, never a crash or an endless allocation. */
static void test_review_validation(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  int64_t t0;
  CHECK(tide_ts_parse("2026-01-01T09:30:00Z", 20, &t0));
  tide_sim_clock_t clk = {g, t0, 100000000LL};
  tide_graph_set_clock(g, tide_sim_clock_now, &clk);
  /* a start so far in the past that now - start overflows */
  tide_table_t *t = tide_time_table(g, 1, TIDE_NULL_TS + 1, false, &err);
  CHECK(!t && strstr(err.msg, "time_table"));
  tide_table_free(t);
  /* a start in the past with a tiny period: 1.7e18 rows due at once */
  t = tide_time_table(g, 1, 0, false, &err);
  CHECK(!t && strstr(err.msg, "time_table"));
  tide_table_free(t);
  /* the clock jumping far ahead in a cycle fails the cycle, not the process */
  t = tide_time_table(g, 1, TIDE_NULL_TS, false, &err);
  CHECK_OK_PTR(t, err);
  clk.step_ns = INT64_MAX / 4;
  CHECK(tide_graph_run_cycles(g, 1, &err) != TIDE_OK && strstr(err.msg, "time_table"));
  clk.step_ns = 100000000LL;
  tide_table_free(t);
  /* NULL names, types, key names */
  const char *names[] = {"K", "V"};
  tide_type_t types[] = {TIDE_I64, TIDE_I64};
  CHECK(!tide_input_table_create_schema(g, 2, names, types, NULL, 1, &err) &&
        strstr(err.msg, "input_table"));
  CHECK(!tide_input_table_create_schema(g, 2, NULL, types, NULL, 0, &err) &&
        strstr(err.msg, "input_table"));
  CHECK(!tide_publisher_create(g, 2, names, NULL, TIDE_KIND_BLINK, &err) &&
        strstr(err.msg, "publisher"));
  /* a row count no buffer can hold */
  tide_publisher_t *p = tide_publisher_create(g, 2, names, types, TIDE_KIND_BLINK, &err);
  CHECK_OK_PTR(p, err);
  int64_t v[2] = {1, 2};
  const void *cols[] = {v, v};
  CHECK(tide_publisher_append(p, cols, UINT64_MAX, &err) != TIDE_OK &&
        strstr(err.msg, "publisher"));
  CHECK(tide_publisher_append(p, cols, UINT64_MAX / 4, &err) != TIDE_OK &&
        strstr(err.msg, "publisher"));
  CHECK_OK(tide_publisher_append(p, cols, 2, &err), err);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(tide_table_size(tide_publisher_table(p)) == 2);
  tide_publisher_free(p);
  tide_graph_free(g);
}

int main(void) {
  g_seed = tu_seed(20261121);
  test_review_validation();
  test_durations();
  test_replay(false, 1000, 37, false);
  test_replay(true, 1000, 37, false);
  test_replay(false, 10000, 4096, false);
  test_replay(true, 9000, 5000, false);
  test_replay(true, 0, 5, false);
  test_replay(false, 3000, 100, true);
  test_replay(true, 3000, 1000, true);
  test_time_table(false);
  test_time_table(true);
  test_input_keyed(KEY_INT);
  test_input_keyed(KEY_SYM);
  test_input_keyed(KEY_STR);
  test_input_unkeyed();
  test_input_composite();
  test_input_errors();
  test_publisher(false);
  test_publisher(true);
  test_publisher_background();
  test_publisher_errors();
  test_errors();
  return tu_finish("test_ticking");
}
