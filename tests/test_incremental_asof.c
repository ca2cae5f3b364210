/*
 * Incremental aj / raj / join over ticking inputs: the randomized checker
 * (tests/checker.h) over every combination of left and right input kinds,
 * with one side static (a quiet source snapshot) or both ticking, plus
 * hand-written cycles with exact expected updates.
 *
 * TIDE_CYCLES=N sets the cycles per run (default 40).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "checker.h"


typedef enum { OP_AJ, OP_RAJ, OP_JOIN } opkind;

typedef struct jcase {
  opkind op;
  const char *const *on;
  size_t non;
  const char *const *joins;
  size_t njoins;
  int static_side; /* 0: both tick, 1: left static, 2: right static, 3: self (left both sides) */
} jcase;

/* A ticking input made static: silence its source and snapshot it. */
static tide_table_t *freeze(tide_table_t *t) {
  if (!t->node) return tide_table_retain(t);
  tc_source *src = ((tide_gnode_t *)t->node)->state;
  src->quiet = true;
  return tc_snapshot(t);
}

static tide_table_t *jcase_fn(tide_table_t *const *in, size_t nin, void *ctx, tide_error *err) {
  const jcase *c = ctx;
  TIDE_UNUSED(nin);
  tide_table_t *l = c->static_side == 1 ? freeze(in[0]) : tide_table_retain(in[0]);
  tide_table_t *r = c->static_side == 2   ? freeze(in[1])
                    : c->static_side == 3 ? tide_table_retain(in[0])
                                          : tide_table_retain(in[1]);
  tide_table_t *res;
  switch (c->op) {
    case OP_AJ: res = tide_aj(l, r, c->on, c->non, c->joins, c->njoins, err); break;
    case OP_RAJ: res = tide_raj(l, r, c->on, c->non, c->joins, c->njoins, err); break;
    default: res = tide_join(l, r, c->on, c->non, c->joins, c->njoins, err); break;
  }
  tide_table_free(l);
  tide_table_free(r);
  return res;
}


/* ------------------------------------------------------ hand-written */

typedef struct capture {
  int calls;
  tide_rowset_t *removed, *added, *modified;
  size_t nshifts;
  uint64_t modcols;
} capture;

static void cap_clear(capture *c) {
  tide_rowset_free(c->removed);
  tide_rowset_free(c->added);
  tide_rowset_free(c->modified);
  memset(c, 0, sizeof *c);
}

static void cap_fn(tide_table_t *t, const tide_update_t *u, void *ctx) {
  TIDE_UNUSED(t);
  capture *c = ctx;
  cap_clear(c);
  c->calls = 1;
  c->removed = u->removed ? tide_rowset_copy(u->removed) : tide_rowset_create();
  c->added = u->added ? tide_rowset_copy(u->added) : tide_rowset_create();
  c->modified = u->modified ? tide_rowset_copy(u->modified) : tide_rowset_create();
  c->nshifts = u->nshifts;
  c->modcols = u->modified_cols ? u->modified_cols[0] : 0;
}

static bool rs_is(const tide_rowset_t *rs, const uint64_t *keys, size_t n) {
  if (!rs) return n == 0;
  if (tide_rowset_size(rs) != n) return false;
  for (size_t i = 0; i < n; i++)
    if (!tide_rowset_contains(rs, keys[i])) return false;
  return true;
}

static tide_table_t *quotes(size_t n, const char *const *id, const char *const *sym,
                            const int64_t *t, const double *px) {
  static const char *const names[] = {"QId", "Sym", "T", "Px"};
  static const tide_type_t types[] = {TIDE_STRING, TIDE_SYMBOL, TIDE_I64, TIDE_F64};
  const void *cols[] = {id, sym, t, px};
  return tu_table(n, 4, names, types, cols);
}

static tide_table_t *trades(size_t n, const char *const *id, const char *const *sym,
                            const int64_t *t) {
  static const char *const names[] = {"Id", "Sym", "T"};
  static const tide_type_t types[] = {TIDE_STRING, TIDE_SYMBOL, TIDE_I64};
  const void *cols[] = {id, sym, t};
  return tu_table(n, 3, names, types, cols);
}

static void test_hand(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  static const char *const qkey[] = {"QId"}, *const tkey[] = {"Id"};
  const char *qid[] = {"q0", "q1", "q2"}, *qsym[] = {"A", "A", "B"};
  int64_t qt[] = {10, 20, 15};
  double qpx[] = {1.0, 2.0, 3.0};
  tide_table_t *q0 = quotes(3, qid, qsym, qt, qpx);
  const char *tid[] = {"t0", "t1", "t2", "t3"}, *tsym[] = {"A", "A", "B", "A"};
  int64_t tt[] = {12, 25, 14, 5};
  tide_table_t *t0 = trades(4, tid, tsym, tt);
  tide_table_t *Q = tide_input_table_create(g, q0, qkey, 1, &err);
  tide_table_t *T = tide_input_table_create(g, t0, tkey, 1, &err);
  CHECK_OK_PTR(Q, err);
  CHECK_OK_PTR(T, err);
  static const char *const on[] = {"Sym", "T"};
  static const char *const js[] = {"Px"};
  tide_table_t *a = tide_aj(T, Q, on, 2, js, 1, &err);
  CHECK_OK_PTR(a, err);
  tide_table_t *ra = tide_raj(T, Q, on, 2, js, 1, &err);
  CHECK_OK_PTR(ra, err);
  if (!a || !ra) goto out;
  CHECK(tide_table_kind(a) == TIDE_KIND_STANDARD);
  /* initial: t0 -> q0, t1 -> q1, t2 none, t3 none */
  CHECK(tu_cell_f64(a, "Px", 0) == 1.0);
  CHECK(tu_cell_f64(a, "Px", 1) == 2.0);
  CHECK(strcmp(tu_cell(a, "Px", 2), "null") == 0);
  CHECK(strcmp(tu_cell(a, "Px", 3), "null") == 0);
  /* raj: t0 -> q1 (20), t1 none, t2 -> q2, t3 -> q0 */
  CHECK(tu_cell_f64(ra, "Px", 0) == 2.0);
  CHECK(strcmp(tu_cell(ra, "Px", 1), "null") == 0);
  CHECK(tu_cell_f64(ra, "Px", 2) == 3.0);
  CHECK(tu_cell_f64(ra, "Px", 3) == 1.0);
  capture ca = {0}, cr = {0};
  tide_listener_t *la = tide_table_listen(a, cap_fn, &ca, &err);
  tide_listener_t *lr = tide_table_listen(ra, cap_fn, &cr, &err);

  /* cycle 1: a new A quote at 22 takes t1 (25) in aj; in raj it takes t0
   * (12 -> 20 still, q1 at 20 < 22: no) - nothing; t1 (25): none -> none */
  {
    const char *i1[] = {"q3"}, *s1[] = {"A"};
    int64_t t1[] = {22};
    double p1[] = {2.5};
    tide_table_t *add = quotes(1, i1, s1, t1, p1);
    CHECK_OK(tide_input_table_add(Q, add, &err), err);
    tide_table_free(add);
    CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
    uint64_t m[] = {1};
    CHECK(ca.calls == 1 && rs_is(ca.modified, m, 1) && rs_is(ca.added, NULL, 0) &&
          rs_is(ca.removed, NULL, 0) && ca.modcols == (1u << 3));
    CHECK(tu_cell_f64(a, "Px", 1) == 2.5);
    CHECK(cr.calls == 0);
    cap_clear(&ca);
    cap_clear(&cr);
  }
  /* cycle 2: q0 moves to 11 with price 1.5: aj t0 (12) keeps q0 (value
   * changed); raj t3 (5) keeps q0 (value changed) */
  {
    const char *i1[] = {"q0"}, *s1[] = {"A"};
    int64_t t1[] = {11};
    double p1[] = {1.5};
    tide_table_t *up = quotes(1, i1, s1, t1, p1);
    CHECK_OK(tide_input_table_add(Q, up, &err), err);
    tide_table_free(up);
    CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
    uint64_t m0[] = {0}, m3[] = {3};
    CHECK(ca.calls == 1 && rs_is(ca.modified, m0, 1) && ca.modcols == (1u << 3));
    CHECK(cr.calls == 1 && rs_is(cr.modified, m3, 1) && cr.modcols == (1u << 3));
    CHECK(tu_cell_f64(a, "Px", 0) == 1.5);
    CHECK(tu_cell_f64(ra, "Px", 3) == 1.5);
    cap_clear(&ca);
    cap_clear(&cr);
  }
  /* cycle 3: delete q1 (20): aj t1 keeps q3; raj t0 (12) moves to q3 (22) */
  {
    const char *i1[] = {"q1"}, *s1[] = {"A"};
    int64_t t1[] = {0};
    double p1[] = {0};
    tide_table_t *del = quotes(1, i1, s1, t1, p1);
    CHECK_OK(tide_input_table_delete(Q, del, &err), err);
    tide_table_free(del);
    CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
    uint64_t m0[] = {0};
    CHECK(ca.calls == 0);
    CHECK(cr.calls == 1 && rs_is(cr.modified, m0, 1) && cr.modcols == (1u << 3));
    CHECK(tu_cell_f64(ra, "Px", 0) == 2.5);
    cap_clear(&ca);
    cap_clear(&cr);
  }
  /* cycle 4: trade t2 moves to 16 (B quote at 15): aj matches q2; raj loses
   * it; a new trade t4 (A, 30) is added */
  {
    const char *i1[] = {"t2", "t4"}, *s1[] = {"B", "A"};
    int64_t t1[] = {16, 30};
    tide_table_t *up = trades(2, i1, s1, t1);
    CHECK_OK(tide_input_table_add(T, up, &err), err);
    tide_table_free(up);
    CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
    uint64_t m2[] = {2}, a4[] = {4};
    CHECK(ca.calls == 1 && rs_is(ca.modified, m2, 1) && rs_is(ca.added, a4, 1));
    CHECK(ca.modcols & (1u << 3));
    CHECK(tu_cell_f64(a, "Px", 2) == 3.0);
    CHECK(tu_cell_f64(a, "Px", 4) == 2.5);
    CHECK(cr.calls == 1 && rs_is(cr.modified, m2, 1) && rs_is(cr.added, a4, 1));
    CHECK(strcmp(tu_cell(ra, "Px", 2), "null") == 0);
    CHECK(strcmp(tu_cell(ra, "Px", 4), "null") == 0);
    cap_clear(&ca);
    cap_clear(&cr);
  }
  tide_listener_remove(la);
  tide_listener_remove(lr);
out:
  tide_table_free(a);
  tide_table_free(ra);
  tide_table_free(Q);
  tide_table_free(T);
  tide_table_free(q0);
  tide_table_free(t0);
  tide_graph_free(g);
}

/* join: exact updates, including a re-keying cycle. */
static void test_hand_join(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  static const char *const qkey[] = {"QId"}, *const tkey[] = {"Id"};
  const char *qid[] = {"q0"}, *qsym[] = {"A"};
  int64_t qt[] = {0};
  double qpx[] = {1.0};
  tide_table_t *q0 = quotes(1, qid, qsym, qt, qpx);
  const char *tid[] = {"t0", "t1", "t2"}, *tsym[] = {"A", "B", "A"};
  int64_t tt[] = {0, 0, 0};
  tide_table_t *t0 = trades(3, tid, tsym, tt);
  tide_table_t *Q = tide_input_table_create(g, q0, qkey, 1, &err);
  tide_table_t *T = tide_input_table_create(g, t0, tkey, 1, &err);
  static const char *const on[] = {"Sym"};
  static const char *const js[] = {"QId", "Px"};
  tide_table_t *j = Q && T ? tide_join(T, Q, on, 1, js, 2, &err) : NULL;
  CHECK_OK_PTR(j, err);
  if (!j) goto out;
  capture c = {0};
  tide_listener_t *l = tide_table_listen(j, cap_fn, &c, &err);
  uint64_t k0[] = {0, 4};
  CHECK(rs_is(tide_table_rowset(j), k0, 2));
  /* cycle 1: a second A quote: one more row per A trade, nothing else */
  {
    const char *i1[] = {"q1"}, *s1[] = {"A"};
    int64_t t1[] = {0};
    double p1[] = {2.0};
    tide_table_t *add = quotes(1, i1, s1, t1, p1);
    CHECK_OK(tide_input_table_add(Q, add, &err), err);
    tide_table_free(add);
    CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
    uint64_t a[] = {1, 5};
    CHECK(c.calls && rs_is(c.added, a, 2) && rs_is(c.removed, NULL, 0) &&
          rs_is(c.modified, NULL, 0));
    CHECK(strcmp(tu_cell(j, "QId", 1), "q1") == 0 && strcmp(tu_cell(j, "Id", 3), "t2") == 0);
    cap_clear(&c);
  }
  /* cycle 2: a third A quote outgrows the blocks: full re-keying */
  {
    const char *i1[] = {"q2"}, *s1[] = {"A"};
    int64_t t1[] = {0};
    double p1[] = {3.0};
    tide_table_t *add = quotes(1, i1, s1, t1, p1);
    CHECK_OK(tide_input_table_add(Q, add, &err), err);
    tide_table_free(add);
    CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
    uint64_t r[] = {0, 1, 4, 5}, a[] = {0, 1, 2, 16, 17, 18};
    CHECK(c.calls && rs_is(c.removed, r, 4) && rs_is(c.added, a, 6));
    CHECK(tide_table_size(j) == 6 && strcmp(tu_cell(j, "QId", 5), "q2") == 0);
    cap_clear(&c);
  }
  /* cycle 3: q1's price changes: its rows are modified (Px, QId) */
  {
    const char *i1[] = {"q1"}, *s1[] = {"A"};
    int64_t t1[] = {0};
    double p1[] = {2.5};
    tide_table_t *up = quotes(1, i1, s1, t1, p1);
    CHECK_OK(tide_input_table_add(Q, up, &err), err);
    tide_table_free(up);
    CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
    uint64_t m[] = {1, 17};
    CHECK(c.calls && rs_is(c.modified, m, 2) && rs_is(c.added, NULL, 0) &&
          rs_is(c.removed, NULL, 0) && (c.modcols & (1u << 4)));
    CHECK(tu_cell_f64(j, "Px", 1) == 2.5);
    cap_clear(&c);
  }
  /* cycle 4: q0 goes: positions 0 and 1 change rows, position 2 goes */
  {
    const char *i1[] = {"q0"}, *s1[] = {"A"};
    int64_t t1[] = {0};
    double p1[] = {0};
    tide_table_t *del = quotes(1, i1, s1, t1, p1);
    CHECK_OK(tide_input_table_delete(Q, del, &err), err);
    tide_table_free(del);
    CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
    uint64_t r[] = {2, 18}, m[] = {0, 1, 16, 17};
    CHECK(c.calls && rs_is(c.removed, r, 2) && rs_is(c.modified, m, 4) && rs_is(c.added, NULL, 0));
    CHECK(strcmp(tu_cell(j, "QId", 0), "q1") == 0 && strcmp(tu_cell(j, "QId", 3), "q2") == 0);
    cap_clear(&c);
  }
  tide_listener_remove(l);
out:
  tide_table_free(j);
  tide_table_free(Q);
  tide_table_free(T);
  tide_table_free(q0);
  tide_table_free(t0);
  tide_graph_free(g);
}

/* Building over ticking inputs under allocation failures: NOMEM, never a
 * crash or a leak; the first success works. */
typedef struct oom_ctx {
  tide_table_t *l, *r;
  opkind op;
} oom_ctx;
static void *oom_build(void *ctx, tide_error *err) {
  oom_ctx *o = ctx;
  static const char *const on[] = {"Sym", "T"};
  static const char *const js[] = {"RI=I", "RT=T"};
  if (o->op == OP_JOIN) return tide_join(o->l, o->r, on, 1, js, 2, err);
  return o->op == OP_AJ ? tide_aj(o->l, o->r, on, 2, js, 1, err)
                        : tide_raj(o->l, o->r, on, 2, js, 1, err);
}
static void test_oom(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide_table_t *l = tc_source_create(g, TIDE_KIND_STANDARD, 11, NULL);
  tide_table_t *r = tc_source_create(g, TIDE_KIND_STANDARD, 12, NULL);
  for (int op = 0; op < 3; op++) {
    oom_ctx o = {l, r, (opkind)op};
    tide_table_t *res = tu_oom_sweep(op == 2 ? "join" : op ? "raj" : "aj", 3000, oom_build, &o, &err);
    CHECK_OK_PTR(res, err);
    if (res) CHECK_OK(tide_graph_run_cycles(g, 3, &err), err);
    tide_table_free(res);
  }
  tide_table_free(l);
  tide_table_free(r);
  tide_graph_free(g);
}

/* Bad arguments on ticking inputs name the op and the column. */
static void test_errors(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide_table_t *l = tc_source_create(g, TIDE_KIND_STANDARD, 5, NULL);
  tide_table_t *r = tc_source_create(g, TIDE_KIND_STANDARD, 6, NULL);
  static const char *const bad[] = {"Sym", "Nope"};
  tide_table_t *x = tide_aj(l, r, bad, 2, NULL, 0, &err);
  CHECK(x == NULL);
  CHECK_MSG(strstr(err.msg, "aj") && strstr(err.msg, "Nope"), "%s", err.msg);
  static const char *const dir[] = {"Sym", "T <= T"};
  x = tide_aj(l, r, dir, 2, NULL, 0, &err);
  CHECK(x == NULL && err.status == TIDE_ERR_INVALID);
  static const char *const on[] = {"Sym", "T"};
  x = tide_raj(l, r, on, 2, NULL, 0, &err); /* I collides */
  CHECK(x == NULL && err.status == TIDE_ERR_DUPLICATE);
  static const char *const jbad[] = {"Sym"};
  static const char *const jn[] = {"Zed"};
  x = tide_join(l, r, jbad, 1, jn, 1, &err);
  CHECK(x == NULL);
  CHECK_MSG(strstr(err.msg, "join") && strstr(err.msg, "Zed"), "%s", err.msg);
  tide_table_free(l);
  tide_table_free(r);
  tide_graph_free(g);
}

int main(void) {
  uint64_t seed = tu_seed(20261122);
  const char *env = getenv("TIDE_CYCLES");
  uint64_t cycles = env ? strtoull(env, NULL, 10) : 40;
  static const char *const on_sym_t[] = {"Sym", "T"};
  static const char *const on_sym_tgt[] = {"Sym", "T > T"};
  static const char *const on_sym_tle[] = {"Sym", "T <= T"};
  static const char *const on_sym_tlt[] = {"Sym", "T < T"};
  static const char *const on_i[] = {"I"};
  static const char *const on_sb_t[] = {"Sym", "B", "T"};
  static const char *const on_s_d[] = {"S", "D"};
  static const char *const on_sym[] = {"Sym"};
  static const char *const on_b[] = {"B"};
  static const char *const on_sb[] = {"Sym", "B"};
  static const char *const js[] = {"RI=I", "RD=D", "RS=S"};
  static const char *const js_t[] = {"RT=T", "RSym=Sym"};
  static const char *const js_j[] = {"RI=I", "RT=T"};
  const struct {
    const char *name;
    jcase c;
  } cases[] = {
      {"aj Sym,T", {OP_AJ, on_sym_t, 2, js, 3, 0}},
      {"aj Sym,T>T", {OP_AJ, on_sym_tgt, 2, js, 3, 0}},
      {"raj Sym,T", {OP_RAJ, on_sym_t, 2, js, 3, 0}},
      {"raj Sym,T<=T", {OP_RAJ, on_sym_tle, 2, js, 3, 0}},
      {"raj Sym,T<T", {OP_RAJ, on_sym_tlt, 2, js, 3, 0}},
      {"aj I", {OP_AJ, on_i, 1, js_t, 2, 0}},
      {"raj I", {OP_RAJ, on_i, 1, js_t, 2, 0}},
      {"aj Sym,B,T", {OP_AJ, on_sb_t, 3, js, 3, 0}},
      {"aj S,D", {OP_AJ, on_s_d, 2, js_j, 2, 0}},
      {"aj Sym,T left static", {OP_AJ, on_sym_t, 2, js, 3, 1}},
      {"aj Sym,T right static", {OP_AJ, on_sym_t, 2, js, 3, 2}},
      {"raj I right static", {OP_RAJ, on_i, 1, js_t, 2, 2}},
      {"raj Sym,T left static", {OP_RAJ, on_sym_t, 2, js, 3, 1}},
      {"join Sym", {OP_JOIN, on_sym, 1, js_j, 2, 0}},
      {"join B", {OP_JOIN, on_b, 1, js_j, 2, 0}},
      {"join Sym right static", {OP_JOIN, on_sym, 1, js_j, 2, 2}},
      {"join Sym left static", {OP_JOIN, on_sym, 1, js_j, 2, 1}},
      {"aj self Sym,T", {OP_AJ, on_sym_t, 2, js, 3, 3}},
      {"join self Sym,B", {OP_JOIN, on_sb, 2, js_j, 2, 3}},
      {"join none", {OP_JOIN, NULL, 0, js_j, 2, 0}},
  };
  const tide_table_kind_t kinds[] = {TIDE_KIND_STANDARD, TIDE_KIND_APPEND_ONLY,
                                     TIDE_KIND_ADD_ONLY, TIDE_KIND_BLINK};
  const char *only = getenv("TIDE_ONLY");
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    if (only && !strstr(cases[ci].name, only)) continue;
    tc_case tcase = {cases[ci].name, jcase_fn, (void *)&cases[ci].c, 2, 0};
    bool main_case = ci == 0 || ci == 2 || cases[ci].c.static_side == 1 || cases[ci].c.static_side == 2;
    for (size_t lk = 0; lk < 4; lk++)
      for (size_t rk = 0; rk < 4; rk++) {
        /* every kind pair for the main cases; the same kind otherwise */
        if (!main_case && lk != rk) continue;
        if (cases[ci].c.static_side == 1 && lk != rk) continue; /* left kind irrelevant */
        if (cases[ci].c.static_side == 2 && rk != 0) continue;  /* right kind irrelevant */
        uint64_t sd = seed + ci * 101 + lk * 7 + rk;
        uint64_t cy = cases[ci].c.op == OP_JOIN ? cycles / 2 : cycles;
        if (cases[ci].c.non == 0 && cases[ci].c.op == OP_JOIN) cy = cycles / 8; /* big results */
        if (main_case && lk != rk) cy /= 2;
        {
          tide_table_kind_t lr[2] = {kinds[lk], kinds[rk]};
          tc_run_kinds(&tcase, lr, sd, cy ? cy : 1);
        }
      }
  }
  test_hand();
  test_hand_join();
  test_oom();
  test_errors();
  printf("incremental_asof: %llu checked cycles, %llu validated updates\n",
         (unsigned long long)tc_total_cycles, (unsigned long long)tc_total_updates);
  return tu_finish("incremental_asof");
}
