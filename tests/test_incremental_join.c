/*
 * Incremental natural_join / exact_join (ops/join_incr.c).
 *
 * Randomized: the checker's random sources (tests/checker.h) as the left
 * and right inputs, each of its own kind, for the three ticking
 * combinations (left ticking + right static, left static + right ticking,
 * both ticking) over every input kind. The random sources repeat Sym
 * values, so ticking right sides are made unique with incremental ops
 * (last_by / agg_by by the join keys; remove_blink first for blink
 * sources); static right sides are a hand-built table or a last_by over a
 * paused source's snapshot. After every cycle the result must equal the
 * static join over snapshots of the inputs, and every update it emitted
 * is validated against a mirror (tc_on_update).
 *
 * Hand-written: exact expected updates (modified rows and columns) for
 * right adds / value changes / removals and left key changes; a duplicate
 * right key appearing in a later cycle and an unmatched exact_join row,
 * both failing the cycle with a message naming the op.
 *
 * TIDE_CYCLES=N cycles per run (default 25), TIDE_SEED, TIDE_CASE (a
 * substring of the case names). TIDE_JOIN_BENCH=1: cycle time of
 * natural_join(left appending 10,000 rows per cycle, right static 1,000
 * symbols) at left sizes 1e5 and 1e6.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checker.h"
#include "tide/ticking.h"

/* ------------------------------------------------ a unique-key source */

/* A random source like tc_source (same columns) whose I values are unique
 * among its rows (101 values -50..50 and null), so it can be the right
 * side of natural_join as it is, with its shifts: standard (removes,
 * shifts, modifies of random column subsets, adds), add-only (shifts and
 * adds) or blink (a new batch each cycle). */
#define U_POOL 102
typedef struct usrc {
  tc_source s; /* first: tc_src_destroy frees the whole struct */
  bool used[U_POOL];
} usrc;

static int64_t u_value(int i) { return i == U_POOL - 1 ? TIDE_NULL_I64 : (int64_t)i - 50; }
static int u_index(int64_t v) { return v == TIDE_NULL_I64 ? U_POOL - 1 : (int)(v + 50); }

/* A free I value (marked used), or false if none. */
static bool u_take(usrc *u, uint64_t *slot) {
  int start = (int)tu_below(&u->s.rng, U_POOL);
  for (int d = 0; d < U_POOL; d++) {
    int i = (start + d) % U_POOL;
    if (u->used[i]) continue;
    u->used[i] = true;
    *slot = (uint64_t)u_value(i);
    return true;
  }
  return false;
}

/* Add up to want rows at new keys (below limit) with unique I values. */
static uint64_t u_add(usrc *u, uint64_t want, uint64_t limit, uint64_t **added) {
  tc_source *s = &u->s;
  uint64_t *nk = malloc((want ? want : 1) * sizeof *nk);
  uint64_t na = tc_pick_new_keys(s, want, 0, limit, nk);
  uint64_t *idx = malloc((na ? na : 1) * sizeof *idx);
  tc_insert_rows(s, nk, na, idx);
  for (uint64_t i = 0; i < na; i++) {
    if (!u_take(u, &s->vals[0][idx[i]])) abort(); /* callers keep rows < U_POOL */
  }
  tc_write_rows(s, idx, na, (1u << TC_NCOLS) - 1);
  free(idx);
  *added = nk;
  return na;
}

static tide_status u_refresh(tide_gnode_t *node, tide_error *err) {
  usrc *u = node->state;
  tc_source *s = &u->s;
  tu_rng *r = &s->rng;
  s->cycle++;
  if (s->quiet || tu_below(r, 12) == 0) return TIDE_OK;
  tide_update_t up = {0};
  uint64_t *tmp = malloc((s->n + 1) * sizeof *tmp), nr = 0;
  /* removes */
  if (s->kind != TIDE_KIND_ADD_ONLY) {
    uint64_t o = 0;
    for (uint64_t i = 0; i < s->n; i++) {
      if (s->kind == TIDE_KIND_BLINK || tu_below(r, 100) < 7) {
        tmp[nr++] = s->keys[i];
        u->used[u_index((int64_t)s->vals[0][i])] = false;
        continue;
      }
      s->keys[o] = s->keys[i];
      for (int c = 0; c < TC_NCOLS; c++) s->vals[c][o] = s->vals[c][i];
      o++;
    }
    s->n = o;
    if (nr) up.removed = tide_rowset_from_keys(tmp, nr);
  }
  /* shifts */
  if (s->kind != TIDE_KIND_BLINK && tu_below(r, 3) == 0) {
    tide_shift_t sh[2];
    uint64_t *moved = NULL, nmoved = 0;
    size_t ns = tc_random_shifts(s, sh, &moved, &nmoved);
    if (ns) {
      up.shifts = malloc(ns * sizeof *up.shifts);
      memcpy(up.shifts, sh, ns * sizeof *sh);
      up.nshifts = ns;
    }
    tc_write_rows(s, moved, nmoved, (1u << TC_NCOLS) - 1);
    free(moved);
  }
  /* modifies: some rows change I to a free value */
  if (s->kind == TIDE_KIND_STANDARD && s->n && tu_below(r, 3) != 0) {
    unsigned mask = 0;
    while (!mask)
      for (int c = 0; c < TC_NCOLS; c++)
        if (tu_below(r, 3) == 0) mask |= 1u << c;
    uint64_t *idx = malloc(s->n * sizeof *idx), nm = 0;
    for (uint64_t i = 0; i < s->n; i++) {
      if (tu_below(r, 100) >= 10) continue;
      for (int c = 1; c < TC_NCOLS; c++)
        if (mask >> c & 1) s->vals[c][i] = tc_random_value(s, c);
      if (mask & 1) {
        uint64_t v;
        if (u_take(u, &v)) {
          u->used[u_index((int64_t)s->vals[0][i])] = false;
          s->vals[0][i] = v;
        }
      }
      idx[nm] = i;
      tmp[nm++] = s->keys[i];
    }
    tc_write_rows(s, idx, nm, mask);
    if (nm) {
      up.modified = tide_rowset_from_keys(tmp, nm);
      up.modified_cols = calloc(1, sizeof *up.modified_cols);
      up.modified_cols[0] = mask;
      up.ncols = TC_NCOLS;
    }
    free(idx);
  }
  free(tmp);
  /* adds (keeping fewer rows than I values) */
  uint64_t want = tu_below(r, 8);
  if (s->n + want > 70) want = s->n < 70 ? 70 - s->n : 0;
  uint64_t *added = NULL;
  uint64_t limit = s->kind == TIDE_KIND_BLINK ? 90 : (s->n ? s->keys[s->n - 1] : 0) + 40;
  uint64_t na = u_add(u, want, limit, &added);
  if (na) up.added = tide_rowset_from_keys(added, na);
  free(added);
  return tide__gnode_publish(node, &up, tide_rowset_from_keys(s->keys, s->n), err);
}

static const tide_gnode_vt u_vt = {"unique_source", u_refresh, NULL, tc_src_destroy};

static tide_table_t *usrc_create(tide_graph_t *g, tide_table_kind_t kind, uint64_t seed,
                                 usrc **out) {
  tide_error err;
  usrc *u = calloc(1, sizeof *u);
  tc_source *s = &u->s;
  s->rng.s = seed;
  s->kind = kind;
  tide_source_t *cols[TC_NCOLS];
  for (int c = 0; c < TC_NCOLS; c++) {
    cols[c] = tide__source_paged_create(tc_types[c], NULL, &err);
    if (!cols[c] || tide__source_track_prev(cols[c], tide__graph_step_ptr(g)) != TIDE_OK) abort();
    s->cols[c] = cols[c];
  }
  uint64_t *added = NULL;
  u_add(u, tu_below(&s->rng, 50), 120, &added);
  free(added);
  tide_rowset_t *rs = tide_rowset_from_keys(s->keys, s->n);
  tide_table_t *t = tide_table_create(rs, TC_NCOLS, tc_names, cols, &err);
  tide_rowset_free(rs);
  for (int c = 0; c < TC_NCOLS; c++) tide_source_release(cols[c]);
  if (!t || !tide__gnode_create(g, t, kind, &u_vt, NULL, 0, u, &err)) {
    fprintf(stderr, "usrc_create: %s\n", err.msg);
    abort();
  }
  *out = u;
  return t;
}

/* ------------------------------------------------------------ the ops */

enum { L_TICK, L_STATIC, L_WHERE, L_SAME };
enum { R_LAST, R_AGG, R_FULL, R_SNAP, R_SELF, R_UNIQ };

typedef struct jcase {
  const char *name;
  int lmode, rmode;
  const char *const *on;
  size_t non;
  const char *const *joins;
  size_t njoins;
  const char *const *by; /* right last_by / agg_by keys */
  size_t nby;
  bool exact;
} jcase;

/* A static right table with unique Sym (every value the sources use, and
 * null) and a STRING copy K of it. */
static tide_table_t *g_full;

static tide_table_t *full_right(void) {
  if (g_full) return g_full;
  const char *sym[] = {"A", "B", "C", "D", "E", "F", TC_LATE_SYM, NULL, "Q"};
  int64_t rv[] = {10, 20, 30, 40, 50, 60, 70, 80, 90};
  const char *rs[] = {"a", "b", NULL, "d", "e", "f", "zz", "null", "q"};
  const char *names[] = {"Sym", "RV", "RS", "K"};
  tide_type_t types[] = {TIDE_SYMBOL, TIDE_I64, TIDE_STRING, TIDE_STRING};
  const void *cols[] = {sym, rv, rs, sym};
  g_full = tu_table(9, 4, names, types, cols);
  return g_full;
}

static tide_table_t *make_right(const jcase *c, tide_table_t *in0, tide_table_t *in1,
                                tide_error *err) {
  static const char *const cnt[] = {"N"};
  static const char *const sum[] = {"SI=I"};
  static const char *const last[] = {"LS=S", "LT=T"};
  static const char *const mx[] = {"MD=D"};
  static const tide_agg_spec_t specs[] = {{TIDE_AGG_COUNT, cnt, 1, 0, NULL, false},
                                          {TIDE_AGG_SUM, sum, 1, 0, NULL, false},
                                          {TIDE_AGG_LAST, last, 2, 0, NULL, false},
                                          {TIDE_AGG_MAX, mx, 1, 0, NULL, false}};
  switch (c->rmode) {
    case R_FULL: return tide_table_retain(full_right());
    case R_SNAP: {
      tide_table_t *s = tc_snapshot(in1);
      tide_table_t *r = tide_agg_all_by(s, TIDE_AGG_LAST, c->by, c->nby, err);
      tide_table_free(s);
      return r;
    }
    case R_SELF: return tide_agg_all_by(in0, TIDE_AGG_LAST, c->by, c->nby, err);
    case R_UNIQ: return tide_table_retain(in1);
    default: break;
  }
  tide_table_t *b = tide_remove_blink(in1, err);
  if (!b) return NULL;
  tide_table_t *r = c->rmode == R_AGG ? tide_agg_by(b, specs, 4, c->by, c->nby, err)
                                      : tide_agg_all_by(b, TIDE_AGG_LAST, c->by, c->nby, err);
  tide_table_free(b);
  return r;
}

static tide_table_t *op_join(tide_table_t *const *in, size_t nin, void *ctx, tide_error *err) {
  TIDE_UNUSED(nin);
  const jcase *c = ctx;
  tide_table_t *left = c->lmode == L_STATIC ? tc_snapshot(in[0])
                       : c->lmode == L_WHERE ? tide_where(in[0], "I > -25 && Sym != `B`", err)
                       : c->lmode == L_SAME  ? tide_table_retain(in[1])
                                             : tide_table_retain(in[0]);
  if (!left) return NULL;
  tide_table_t *right = make_right(c, in[0], in[1], err);
  tide_table_t *r = NULL;
  if (right)
    r = c->exact ? tide_exact_join(left, right, c->on, c->non, c->joins, c->njoins, err)
                 : tide_natural_join(left, right, c->on, c->non, c->joins, c->njoins, err);
  tide_table_free(right);
  tide_table_free(left);
  return r;
}

static const char *const on_sym[] = {"Sym"};
static const char *const on_symk[] = {"Sym=K"};
static const char *const on_sym_b[] = {"Sym", "B"};
static const char *const on_i[] = {"I"};
static const char *const by_sym[] = {"Sym"};
static const char *const by_sym_b[] = {"Sym", "B"};
static const char *const by_i[] = {"I"};
static const char *const on_s[] = {"S"};
static const char *const by_s[] = {"S"};
static const char *const j_str[] = {"RI=I", "RD=D", "RSym=Sym"};
static const char *const j_last[] = {"RI=I", "RD=D", "RS=S", "RB=B", "RT=T"};
static const char *const j_last2[] = {"RI=I", "RD=D", "RS=S", "RT=T"};
static const char *const j_agg[] = {"N", "SI", "LS", "LT", "MD"};
static const char *const j_full[] = {"RV", "RS"};
static const char *const j_int[] = {"RSym=Sym", "RD=D"};
static const char *const j_uniq[] = {"RSym=Sym", "RD=D", "RS=S", "RT=T"};

/* lmode, rmode: which side ticks; the runner pauses the source of a
 * static side. */
static const jcase cases[] = {
    {"rstatic_sym", L_TICK, R_FULL, on_sym, 1, j_full, 2, NULL, 0, false},
    {"rstatic_sym_str", L_TICK, R_FULL, on_symk, 1, j_full, 2, NULL, 0, false},
    {"rstatic_exact", L_TICK, R_FULL, on_sym, 1, j_full, 2, NULL, 0, true},
    {"rstatic_snap_2keys", L_TICK, R_SNAP, on_sym_b, 2, j_last2, 4, by_sym_b, 2, false},
    {"lstatic_last", L_STATIC, R_LAST, on_sym, 1, j_last, 5, by_sym, 1, false},
    {"lstatic_agg", L_STATIC, R_AGG, on_sym, 1, j_agg, 5, by_sym, 1, false},
    {"both_last", L_TICK, R_LAST, on_sym, 1, j_last, 5, by_sym, 1, false},
    {"both_last_2keys", L_TICK, R_LAST, on_sym_b, 2, j_last2, 4, by_sym_b, 2, false},
    {"both_agg", L_TICK, R_AGG, on_sym, 1, j_agg, 5, by_sym, 1, false},
    {"both_int_key", L_TICK, R_LAST, on_i, 1, j_int, 2, by_i, 1, false},
    {"both_string_key", L_TICK, R_LAST, on_s, 1, j_str, 3, by_s, 1, false},
    {"both_where_left", L_WHERE, R_LAST, on_sym, 1, j_last, 5, by_sym, 1, false},
    {"self_diamond", L_TICK, R_SELF, on_sym, 1, j_last, 5, by_sym, 1, false},
    {"both_shifting_right", L_TICK, R_UNIQ, on_i, 1, j_uniq, 4, NULL, 0, false},
    {"lstatic_shifting_right", L_STATIC, R_UNIQ, on_i, 1, j_uniq, 4, NULL, 0, false},
    {"where_left_shifting_right", L_WHERE, R_UNIQ, on_i, 1, j_uniq, 4, NULL, 0, false},
    {"self_join_same_table", L_SAME, R_UNIQ, on_i, 1, j_uniq, 4, NULL, 0, false},
};
#define NCASES (sizeof cases / sizeof cases[0])

/* ------------------------------------------------------------ the runner */

static uint64_t g_cycles_checked;

/* tc_run with a kind per input and paused (static) sources. */
static bool jrun(const jcase *jc, tide_table_kind_t lkind, tide_table_kind_t rkind, uint64_t seed,
                 uint64_t cycles) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  tc_source *ls, *rs;
  tide_table_t *in[2];
  in[0] = tc_source_create(g, lkind, seed * 31 + 1, &ls);
  if (jc->rmode == R_UNIQ) {
    usrc *u;
    in[1] = usrc_create(g, rkind, seed * 31 + 0x9E3779B97F4A7C16ULL, &u);
    rs = &u->s;
  } else {
    in[1] = tc_source_create(g, rkind, seed * 31 + 0x9E3779B97F4A7C16ULL, &rs);
  }
  ls->quiet = jc->lmode == L_STATIC || jc->lmode == L_SAME;
  rs->quiet = jc->rmode == R_FULL || jc->rmode == R_SNAP || jc->rmode == R_SELF;
  tc_case c = {jc->name, op_join, (void *)jc, 2, 0};
  tc_run_state st;
  memset(&st, 0, sizeof st);
  st.c = &c;
  bool ok = true;
  uint64_t cycle = 0;
  tide_listener_t *l = NULL;
  tide_table_t *res = op_join(in, 2, (void *)jc, &err);
  tu_checks++;
  if (!res) {
    snprintf(st.msg, sizeof st.msg, "op failed: %s", err.msg);
    ok = false;
    goto done;
  }
  if (jc->rmode == R_FULL || jc->rmode == R_SNAP) {
    tide_table_kind_t want = lkind;
    CHECK_MSG(tide_table_kind(res) == want, "case %s: kind %s, want %s", jc->name,
              tc_kind_name(tide_table_kind(res)), tc_kind_name(want));
  }
  tc_mirror_load(&st.m, res);
  l = tide_table_listen(res, tc_on_update, &st, &err);
  if (!l) {
    snprintf(st.msg, sizeof st.msg, "result is not refreshing: %s", err.msg);
    ok = false;
    goto done;
  }
  for (cycle = 1; cycle <= cycles && ok; cycle++) {
    st.listened = false;
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
    tide_table_t *snap[2] = {tc_snapshot(in[0]), tc_snapshot(in[1])};
    tide_table_t *expect = op_join(snap, 2, (void *)jc, &err);
    if (!expect) {
      snprintf(st.msg, sizeof st.msg, "static op failed: %s", err.msg);
      ok = false;
    } else if (!tu_table_equal(res, expect, 0, st.msg, sizeof st.msg)) {
      char m2[1024];
      snprintf(m2, sizeof m2, "incremental result differs from the static one: %s", st.msg);
      memcpy(st.msg, m2, sizeof st.msg);
      ok = false;
    }
    tide_table_free(expect);
    tide_table_free(snap[0]);
    tide_table_free(snap[1]);
    if (ok) g_cycles_checked++;
  }
done:
  if (l) tide_listener_remove(l);
  tu_checks++;
  if (!ok) {
    tu_failures++;
    fprintf(stderr, "join checker: case %s, left %s, right %s, seed %llu, cycle %llu: %s\n",
            jc->name, tc_kind_name(lkind), tc_kind_name(rkind), (unsigned long long)seed,
            (unsigned long long)cycle, st.msg);
  }
  tc_mirror_free(&st.m);
  tide_table_free(res);
  tide_table_free(in[0]);
  tide_table_free(in[1]);
  tide_graph_free(g);
  return ok;
}

static void run_checker(void) {
  uint64_t cycles = 25;
  const char *env = getenv("TIDE_CYCLES");
  if (env && atoll(env) > 0) cycles = (uint64_t)atoll(env);
  const char *only = getenv("TIDE_CASE");
  uint64_t seed = tu_seed(20261121);
  static const tide_table_kind_t ks[] = {TIDE_KIND_STANDARD, TIDE_KIND_APPEND_ONLY,
                                         TIDE_KIND_ADD_ONLY, TIDE_KIND_BLINK};
  for (size_t i = 0; i < NCASES; i++) {
    const jcase *c = &cases[i];
    if (only && !strstr(c->name, only)) continue;
    bool lt = c->lmode != L_STATIC && c->lmode != L_SAME;
    bool rt = c->rmode == R_LAST || c->rmode == R_AGG || c->rmode == R_UNIQ;
    for (int a = 0; a < 4; a++) {
      for (int b = 0; b < 4; b++) {
        /* static sides do not depend on their source's kind: one run */
        if (!lt && a > 0) continue;
        if (!rt && b > 0) continue;
        /* both ticking: every left kind with a standard right, and every
         * right kind once */
        if (lt && rt && b != 0 && b != (a + 1) % 4) continue;
        /* the unique source has no append-only kind */
        if (c->rmode == R_UNIQ && ks[b] == TIDE_KIND_APPEND_ONLY) continue;
        jrun(c, ks[a], ks[b], seed + i * 1000 + (uint64_t)a * 10 + (uint64_t)b, cycles);
      }
    }
  }
  printf("join checker: %llu cycles checked\n", (unsigned long long)g_cycles_checked);
}

/* ------------------------------------------------------ hand-written */

typedef struct capture {
  int n;
  tide_update_t last; /* copies of the RowSets (owned) */
  uint64_t cols;
} capture;

static void cap_clear(capture *c) {
  tide_rowset_free(c->last.added);
  tide_rowset_free(c->last.removed);
  tide_rowset_free(c->last.modified);
  memset(&c->last, 0, sizeof c->last);
  c->cols = 0;
}

static void on_cap(tide_table_t *t, const tide_update_t *u, void *ctx) {
  TIDE_UNUSED(t);
  capture *c = ctx;
  cap_clear(c);
  c->n++;
  c->last.added = u->added ? tide_rowset_copy(u->added) : NULL;
  c->last.removed = u->removed ? tide_rowset_copy(u->removed) : NULL;
  c->last.modified = u->modified ? tide_rowset_copy(u->modified) : NULL;
  c->last.nshifts = u->nshifts;
  c->cols = u->modified_cols ? u->modified_cols[0] : 0;
}

/* "1,3,4" of a RowSet ("" when NULL or empty). */
static const char *rs_str(const tide_rowset_t *rs) {
  static char buf[256];
  buf[0] = 0;
  if (!rs) return buf;
  size_t len = 0;
  tide_rowset_iter_t it;
  tide_rowset_iter_init(&it, rs);
  uint64_t a, b;
  while (tide_rowset_iter_next_range(&it, &a, &b))
    for (uint64_t k = a; k <= b && len + 24 < sizeof buf; k++)
      len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%llu", len ? "," : "",
                              (unsigned long long)k);
  return buf;
}

/* One-row-per-entry tables for input tables. */
static tide_table_t *left_rows(size_t n, const int64_t *id, const char *const *sym) {
  const char *names[] = {"Id", "Sym"};
  tide_type_t types[] = {TIDE_I64, TIDE_SYMBOL};
  const void *cols[] = {id, sym};
  return tu_table(n, 2, names, types, cols);
}
static tide_table_t *right_rows(size_t n, const char *const *sym, const int64_t *v) {
  const char *names[] = {"Sym", "V"};
  tide_type_t types[] = {TIDE_SYMBOL, TIDE_I64};
  const void *cols[] = {sym, v};
  return tu_table(n, 2, names, types, cols);
}

static void cycle_ok(tide_graph_t *g) {
  tide_error err;
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
}

static void test_exact_updates(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  const char *lk[] = {"Id"}, *rk[] = {"Sym"};
  int64_t ids[] = {1, 2, 3};
  const char *syms[] = {"A", "B", "A"};
  tide_table_t *l0 = left_rows(3, ids, syms);
  const char *rs0[] = {"A"};
  int64_t rv0[] = {1};
  tide_table_t *r0 = right_rows(1, rs0, rv0);
  tide_table_t *L = tide_input_table_create(g, l0, lk, 1, &err);
  tide_table_t *R = tide_input_table_create(g, r0, rk, 1, &err);
  CHECK_OK_PTR(L, err);
  CHECK_OK_PTR(R, err);
  const char *on[] = {"Sym"};
  tide_table_t *J = tide_natural_join(L, R, on, 1, NULL, 0, &err);
  CHECK_OK_PTR(J, err);
  if (!J) return;
  CHECK(tide_table_kind(J) == TIDE_KIND_STANDARD);
  CHECK(tide_table_ncols(J) == 3);
  CHECK(!strcmp(tu_cell(J, "V", 0), "1") && !strcmp(tu_cell(J, "V", 1), "null") &&
        !strcmp(tu_cell(J, "V", 2), "1"));
  capture cap = {0};
  tide_listener_t *li = tide_table_listen(J, on_cap, &cap, &err);
  /* right adds B: left row 1 (Id 2) modified, only V */
  {
    const char *s[] = {"B"};
    int64_t v[] = {2};
    tide_table_t *t = right_rows(1, s, v);
    CHECK_OK(tide_input_table_add(R, t, &err), err);
    tide_table_free(t);
  }
  cycle_ok(g);
  CHECK(cap.n == 1);
  CHECK_MSG(!strcmp(rs_str(cap.last.modified), "1"), "modified %s", rs_str(cap.last.modified));
  CHECK_MSG(cap.cols == 4u, "cols %llx", (unsigned long long)cap.cols);
  CHECK(!cap.last.added && !cap.last.removed);
  CHECK(!strcmp(tu_cell(J, "V", 1), "2"));
  /* right changes A's value: rows 0 and 2 */
  {
    const char *s[] = {"A"};
    int64_t v[] = {10};
    tide_table_t *t = right_rows(1, s, v);
    CHECK_OK(tide_input_table_add(R, t, &err), err);
    tide_table_free(t);
  }
  cycle_ok(g);
  CHECK(cap.n == 2);
  CHECK_MSG(!strcmp(rs_str(cap.last.modified), "0,2"), "modified %s", rs_str(cap.last.modified));
  CHECK_MSG(cap.cols == 4u, "cols %llx", (unsigned long long)cap.cols);
  CHECK(!strcmp(tu_cell(J, "V", 0), "10") && !strcmp(tu_cell(J, "V", 2), "10"));
  /* left row Id 2 moves to A: row 1 modified, Sym (left) and V */
  {
    int64_t i[] = {2};
    const char *s[] = {"A"};
    tide_table_t *t = left_rows(1, i, s);
    CHECK_OK(tide_input_table_add(L, t, &err), err);
    tide_table_free(t);
  }
  cycle_ok(g);
  CHECK(cap.n == 3);
  CHECK_MSG(!strcmp(rs_str(cap.last.modified), "1"), "modified %s", rs_str(cap.last.modified));
  CHECK_MSG(cap.cols == 6u, "cols %llx", (unsigned long long)cap.cols);
  CHECK(!strcmp(tu_cell(J, "V", 1), "10"));
  /* left adds Id 4 on C (no match) and the right adds C in the same cycle:
   * row 3 added (not modified), V = 3 */
  {
    int64_t i[] = {4};
    const char *s[] = {"C"};
    tide_table_t *t = left_rows(1, i, s);
    CHECK_OK(tide_input_table_add(L, t, &err), err);
    tide_table_free(t);
    const char *rsy[] = {"C"};
    int64_t v[] = {3};
    t = right_rows(1, rsy, v);
    CHECK_OK(tide_input_table_add(R, t, &err), err);
    tide_table_free(t);
  }
  cycle_ok(g);
  CHECK(cap.n == 4);
  CHECK_MSG(!strcmp(rs_str(cap.last.added), "3"), "added %s", rs_str(cap.last.added));
  CHECK_MSG(!cap.last.modified || tide_rowset_is_empty(cap.last.modified), "modified %s",
            rs_str(cap.last.modified));
  CHECK(!strcmp(tu_cell(J, "V", 3), "3"));
  /* right deletes A: rows 0, 1, 2 lose their match */
  {
    const char *s[] = {"A"};
    int64_t v[] = {0};
    tide_table_t *t = right_rows(1, s, v);
    CHECK_OK(tide_input_table_delete(R, t, &err), err);
    tide_table_free(t);
  }
  cycle_ok(g);
  CHECK(cap.n == 5);
  CHECK_MSG(!strcmp(rs_str(cap.last.modified), "0,1,2"), "modified %s",
            rs_str(cap.last.modified));
  CHECK_MSG(cap.cols == 4u, "cols %llx", (unsigned long long)cap.cols);
  CHECK(!strcmp(tu_cell(J, "V", 0), "null") && !strcmp(tu_cell(J, "V", 2), "null"));
  /* left deletes Id 1: row 0 removed, nothing modified */
  {
    int64_t i[] = {1};
    const char *s[] = {"A"};
    tide_table_t *t = left_rows(1, i, s);
    CHECK_OK(tide_input_table_delete(L, t, &err), err);
    tide_table_free(t);
  }
  cycle_ok(g);
  CHECK(cap.n == 6);
  CHECK_MSG(!strcmp(rs_str(cap.last.removed), "0"), "removed %s", rs_str(cap.last.removed));
  CHECK(!cap.last.modified || tide_rowset_is_empty(cap.last.modified));
  /* the right re-adds A: rows 1 and 2 (Ids 2, 3) match again */
  {
    const char *s[] = {"A"};
    int64_t v[] = {7};
    tide_table_t *t = right_rows(1, s, v);
    CHECK_OK(tide_input_table_add(R, t, &err), err);
    tide_table_free(t);
  }
  cycle_ok(g);
  CHECK(cap.n == 7);
  CHECK_MSG(!strcmp(rs_str(cap.last.modified), "1,2"), "modified %s", rs_str(cap.last.modified));
  CHECK(!strcmp(tu_cell(J, "V", 0), "7") && !strcmp(tu_cell(J, "V", 1), "7"));
  tide_listener_remove(li);
  cap_clear(&cap);
  tide_table_free(J);
  tide_table_free(L);
  tide_table_free(R);
  tide_table_free(l0);
  tide_table_free(r0);
  tide_graph_free(g);
}

/* A duplicate right key appearing in a later cycle fails that cycle with
 * a message naming natural_join and the key. */
static void test_duplicate_later(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  const char *rs0[] = {"A", "B"};
  int64_t rv0[] = {1, 2};
  tide_table_t *r0 = right_rows(2, rs0, rv0);
  tide_table_t *R = tide_input_table_create(g, r0, NULL, 0, &err); /* unkeyed: appends */
  CHECK_OK_PTR(R, err);
  int64_t ids[] = {1, 2};
  const char *syms[] = {"A", "B"};
  tide_table_t *l0 = left_rows(2, ids, syms);
  const char *on[] = {"Sym"};
  tide_table_t *J = tide_natural_join(l0, R, on, 1, NULL, 0, &err);
  CHECK_OK_PTR(J, err);
  const char *s[] = {"B"};
  int64_t v[] = {3};
  tide_table_t *t = right_rows(1, s, v);
  CHECK_OK(tide_input_table_add(R, t, &err), err);
  tide_table_free(t);
  tide_status st = tide_graph_run_cycles(g, 1, &err);
  CHECK(st != TIDE_OK);
  CHECK_MSG(strstr(err.msg, "natural_join") && strstr(err.msg, "duplicate") &&
                strstr(err.msg, "(B)") && strstr(err.msg, "Sym"),
            "message: %s", err.msg);
  /* the failed result stops; later cycles do not crash */
  tide_graph_run_cycles(g, 2, &err);
  tide_table_free(J);
  tide_table_free(l0);
  tide_table_free(R);
  tide_table_free(r0);
  /* already duplicated at creation: the build fails */
  const char *rs1[] = {"A", "A"};
  tide_table_t *r1 = right_rows(2, rs1, rv0);
  tide_table_t *R1 = tide_input_table_create(g, r1, NULL, 0, &err);
  tide_table_t *l1 = left_rows(2, ids, syms);
  J = tide_natural_join(l1, R1, on, 1, NULL, 0, &err);
  CHECK(J == NULL);
  CHECK_MSG(strstr(err.msg, "natural_join") && strstr(err.msg, "duplicate"), "message: %s",
            err.msg);
  tide_table_free(R1);
  tide_table_free(r1);
  tide_table_free(l1);
  tide_graph_free(g);
}

/* exact_join: a left row without a match fails the build or the cycle. */
static void test_exact_errors(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  const char *rs0[] = {"A", "B"};
  int64_t rv0[] = {1, 2};
  tide_table_t *R = right_rows(2, rs0, rv0); /* static right */
  int64_t ids[] = {1, 2};
  const char *syms[] = {"A", "B"};
  tide_table_t *l0 = left_rows(2, ids, syms);
  const char *lk[] = {"Id"};
  tide_table_t *L = tide_input_table_create(g, l0, lk, 1, &err);
  const char *on[] = {"Sym"};
  tide_table_t *J = tide_exact_join(L, R, on, 1, NULL, 0, &err);
  CHECK_OK_PTR(J, err);
  if (J) CHECK(tide_table_kind(J) == TIDE_KIND_STANDARD);
  int64_t i2[] = {3};
  const char *s2[] = {"Z"};
  tide_table_t *t = left_rows(1, i2, s2);
  tide_input_table_add(L, t, &err);
  tide_table_free(t);
  tide_status st = tide_graph_run_cycles(g, 1, &err);
  CHECK(st != TIDE_OK);
  CHECK_MSG(strstr(err.msg, "exact_join") && strstr(err.msg, "(Z)"), "message: %s", err.msg);
  tide_table_free(J);
  /* at build time: left already holds Z */
  J = tide_exact_join(L, R, on, 1, NULL, 0, &err);
  CHECK(J == NULL);
  CHECK_MSG(strstr(err.msg, "exact_join") && strstr(err.msg, "(Z)"), "message: %s", err.msg);
  /* a ticking right losing a key a static left needs */
  tide_table_t *R2 = tide_input_table_create(g, R, (const char *[]){"Sym"}, 1, &err);
  J = tide_exact_join(l0, R2, on, 1, NULL, 0, &err);
  CHECK_OK_PTR(J, err);
  t = right_rows(1, (const char *[]){"B"}, (int64_t[]){0});
  tide_input_table_delete(R2, t, &err);
  tide_table_free(t);
  st = tide_graph_run_cycles(g, 1, &err);
  CHECK(st != TIDE_OK);
  CHECK_MSG(strstr(err.msg, "exact_join") && strstr(err.msg, "(B)"), "message: %s", err.msg);
  tide_table_free(J);
  tide_table_free(R2);
  tide_table_free(L);
  tide_table_free(l0);
  tide_table_free(R);
  tide_graph_free(g);
}

/* Append-only left + static right: append-only result; errors name the op. */
static void test_kinds_and_args(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide_table_t *src = full_right();
  tide_table_t *rep = tide_replay(g, src, 3, false, &err);
  const char *on[] = {"Sym"};
  const char *j[] = {"RV2=RV"};
  tide_table_t *J = tide_natural_join(rep, src, on, 1, j, 1, &err);
  CHECK_OK_PTR(J, err);
  if (J) CHECK(tide_table_kind(J) == TIDE_KIND_APPEND_ONLY);
  CHECK_OK(tide_graph_run_cycles(g, 3, &err), err);
  if (J) {
    CHECK(tide_table_size(J) == 9);
    CHECK(!strcmp(tu_cell(J, "RV2", 8), "90"));
    CHECK(!strcmp(tu_cell(J, "RV2", 7), "80")); /* null Sym matches null */
  }
  tide_table_free(J);
  const char *bad[] = {"Nope"};
  J = tide_natural_join(rep, src, bad, 1, j, 1, &err);
  CHECK(J == NULL && strstr(err.msg, "natural_join") && strstr(err.msg, "Nope"));
  J = tide_exact_join(rep, rep, on, 1, NULL, 0, &err); /* RV collides */
  CHECK(J == NULL && strstr(err.msg, "exact_join") && strstr(err.msg, "collides"));
  tide_table_free(rep);
  tide_graph_free(g);
}

/* No key columns: every left row matches the right table's only row. */
static void test_no_keys(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  const char *rk[] = {"Sym"};
  int64_t ids[] = {1, 2};
  const char *syms[] = {"A", "B"};
  tide_table_t *l0 = left_rows(2, ids, syms);
  const char *rs0[] = {"X"};
  int64_t rv0[] = {5};
  tide_table_t *r0 = right_rows(1, rs0, rv0);
  tide_table_t *R = tide_input_table_create(g, r0, rk, 1, &err);
  const char *j[] = {"V"};
  tide_table_t *J = tide_natural_join(l0, R, NULL, 0, j, 1, &err);
  CHECK_OK_PTR(J, err);
  if (!J) return;
  CHECK(!strcmp(tu_cell(J, "V", 0), "5") && !strcmp(tu_cell(J, "V", 1), "5"));
  capture cap = {0};
  tide_listener_t *li = tide_table_listen(J, on_cap, &cap, &err);
  tide_table_t *t = right_rows(1, rs0, (int64_t[]){6});
  tide_input_table_add(R, t, &err);
  tide_table_free(t);
  cycle_ok(g);
  CHECK_MSG(cap.n == 1 && !strcmp(rs_str(cap.last.modified), "0,1") && cap.cols == 4u,
            "modified %s cols %llx", rs_str(cap.last.modified), (unsigned long long)cap.cols);
  CHECK(!strcmp(tu_cell(J, "V", 1), "6"));
  t = right_rows(1, rs0, (int64_t[]){0});
  tide_input_table_delete(R, t, &err);
  tide_table_free(t);
  cycle_ok(g);
  CHECK(!strcmp(tu_cell(J, "V", 0), "null") && !strcmp(tu_cell(J, "V", 1), "null"));
  /* a second right row: error */
  t = right_rows(2, (const char *[]){"Y", "Z"}, (int64_t[]){1, 2});
  tide_input_table_add(R, t, &err);
  tide_table_free(t);
  CHECK(tide_graph_run_cycles(g, 1, &err) != TIDE_OK);
  CHECK_MSG(strstr(err.msg, "natural_join") && strstr(err.msg, "more than one row"), "message: %s",
            err.msg);
  tide_listener_remove(li);
  cap_clear(&cap);
  tide_table_free(J);
  tide_table_free(R);
  tide_table_free(l0);
  tide_table_free(r0);
  tide_graph_free(g);
}

/* Out of memory while building and while cycling: TIDE_ERR_NOMEM, no
 * crash, no leak (ASan). */
static void test_oom(void) {
  const char *lk[] = {"Id"}, *rk[] = {"Sym"}, *on[] = {"Sym"};
  int64_t ids[] = {1, 2, 3};
  const char *syms[] = {"A", "B", "A"};
  const char *rs0[] = {"A", "C"};
  int64_t rv0[] = {1, 3};
  tide_table_t *l0 = left_rows(3, ids, syms), *r0 = right_rows(2, rs0, rv0);
  bool built = false;
  int cycled_ok = 0;
  for (int k = 0; k < 400; k++) {
    tide_error err;
    tide_graph_t *g = tide_graph_create(&err);
    tide_table_t *L = tide_input_table_create(g, l0, lk, 1, &err);
    tide_table_t *R = tide_input_table_create(g, r0, rk, 1, &err);
    tu_oom_arm_sticky(k);
    tide_table_t *J = tide_natural_join(L, R, on, 1, NULL, 0, &err);
    tu_oom_disarm();
    if (!J) {
      CHECK_MSG(err.status == TIDE_ERR_NOMEM, "build fail at %d: %s", k, err.msg);
    } else {
      built = true;
      /* a cycle with changes on both sides under the same budget */
      int64_t i2[] = {2, 4};
      const char *s2[] = {"C", "B"};
      tide_table_t *t = left_rows(2, i2, s2);
      tide_input_table_add(L, t, &err);
      tide_table_free(t);
      const char *s3[] = {"B"};
      int64_t v3[] = {2};
      t = right_rows(1, s3, v3);
      tide_input_table_add(R, t, &err);
      tide_table_free(t);
      tu_oom_arm(k);
      tide_status st = tide_graph_run_cycles(g, 1, &err);
      tu_oom_disarm();
      if (st == TIDE_OK) cycled_ok++;
      else CHECK_MSG(err.status == TIDE_ERR_NOMEM, "cycle fail at %d: %s", k, err.msg);
    }
    tide_table_free(J);
    tide_table_free(L);
    tide_table_free(R);
    tide_graph_free(g);
    if (cycled_ok > 3) break;
  }
  CHECK(built && cycled_ok > 0);
  tide_table_free(l0);
  tide_table_free(r0);
}

/* ---------------------------------------------------------------- bench */

typedef struct bsrc {
  uint64_t per_cycle, next;
  tide_source_t *cols[3];
} bsrc;

static void bfill(bsrc *b, uint64_t first, uint64_t n) {
  uint64_t keys[TIDE_CHUNK_SIZE];
  int64_t iv[TIDE_CHUNK_SIZE];
  double dv[TIDE_CHUNK_SIZE];
  int32_t sv[TIDE_CHUNK_SIZE];
  for (uint64_t k = first; k < first + n; k += TIDE_CHUNK_SIZE) {
    uint32_t cnt = (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, first + n - k);
    for (uint32_t j = 0; j < cnt; j++) {
      uint64_t x = (k + j) * 0x9E3779B97F4A7C15ULL;
      keys[j] = k + j;
      iv[j] = (int64_t)(x >> 40) % 1000;
      dv[j] = (double)((x >> 20) % 100000) / 100.0;
      sv[j] = (int32_t)((x >> 44) % 1000);
    }
    tide__source_paged_set(b->cols[0], keys, cnt, iv);
    tide__source_paged_set(b->cols[1], keys, cnt, dv);
    tide__source_paged_set(b->cols[2], keys, cnt, sv);
  }
}

static tide_status brefresh(tide_gnode_t *n, tide_error *err) {
  bsrc *b = n->state;
  if (!b->per_cycle) return TIDE_OK;
  bfill(b, b->next, b->per_cycle);
  tide_update_t u = {0};
  u.added = tide_rowset_create_range(b->next, b->next + b->per_cycle - 1);
  tide_rowset_t *rs = tide_rowset_copy(n->table->rowset);
  tide_rowset_insert_range(rs, b->next, b->next + b->per_cycle - 1);
  b->next += b->per_cycle;
  return tide__gnode_publish(n, &u, rs, err);
}
static void bdestroy(tide_gnode_t *n) { free(n->state); }
static const tide_gnode_vt bvt = {"bench_source", brefresh, NULL, bdestroy};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
/* CPU time of this thread (the cycles run on it): unaffected by other
 * processes on a shared machine. */
static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void bench(void) {
  tide_error err;
  /* right: 1,000 symbols (its own dictionary) with two value columns */
  uint64_t nsym = 1000;
  const char **sy = malloc(nsym * sizeof *sy);
  char(*nm)[8] = malloc(nsym * sizeof *nm);
  int64_t *rv = malloc(nsym * sizeof *rv);
  double *rd = malloc(nsym * sizeof *rd);
  for (uint64_t i = 0; i < nsym; i++) {
    snprintf(nm[i], sizeof nm[i], "S%03u", (unsigned)i);
    sy[i] = nm[i];
    rv[i] = (int64_t)i * 7;
    rd[i] = (double)i / 3;
  }
  const char *rn[] = {"Sym", "RV", "RD"};
  tide_type_t rt[] = {TIDE_SYMBOL, TIDE_I64, TIDE_F64};
  const void *rc[] = {sy, rv, rd};
  tide_table_t *right = tu_table(nsym, 3, rn, rt, rc);
  uint64_t sizes[] = {100000, 1000000};
  for (int si = 0; si < 2; si++) {
    uint64_t n0 = sizes[si], per = 10000, cycles = 21;
    for (int with = 0; with < 3; with++) {
      tide_graph_t *g = tide_graph_create(&err);
      tide__graph_set_validate(g, false);
      bsrc *b = calloc(1, sizeof *b);
      const char *names[] = {"I", "D", "Sym"};
      tide_type_t types[] = {TIDE_I64, TIDE_F64, TIDE_SYMBOL};
      for (int c = 0; c < 3; c++) {
        b->cols[c] = tide__source_paged_create(types[c], NULL, &err);
        tide__source_track_prev(b->cols[c], tide__graph_step_ptr(g));
      }
      tide_symtab_t *st = tide_source_symtab(b->cols[2]);
      for (uint64_t i = 0; i < nsym; i++) tide_symtab_intern(st, nm[(i * 7) % nsym], 4);
      bfill(b, 0, n0);
      b->next = n0;
      tide_rowset_t *rs = tide_rowset_create_range(0, n0 - 1);
      tide_table_t *t = tide_table_create(rs, 3, names, b->cols, &err);
      tide_rowset_free(rs);
      for (int c = 0; c < 3; c++) tide_source_release(b->cols[c]);
      tide__gnode_create(g, t, TIDE_KIND_APPEND_ONLY, &bvt, NULL, 0, b, &err);
      const char *on[] = {"Sym"};
      double tb = now_s();
      /* with == 2: the right side is a keyed input table upserting 10
       * symbols (about 10 * n / 1000 left rows modified) per cycle */
      tide_table_t *R = with == 2 ? tide_input_table_create(g, right, on, 1, &err)
                                  : tide_table_retain(right);
      tide_table_t *J = with ? tide_natural_join(t, R, on, 1, NULL, 0, &err) : NULL;
      double build = now_s() - tb;
      if (with) CHECK_OK_PTR(J, err);
      b->per_cycle = per;
      tide_graph_run_cycles(g, 3, &err); /* warm up */
      tide_table_t *ups[10] = {0};
      if (with == 2)
        for (int u = 0; u < 10; u++) {
          const char *us[10];
          int64_t uv[10];
          double ud[10];
          for (int i = 0; i < 10; i++) {
            us[i] = nm[(u * 97 + i * 13) % nsym];
            uv[i] = u * 100 + i;
            ud[i] = (double)u;
          }
          const void *uc[] = {us, uv, ud};
          ups[u] = tu_table(10, 3, rn, rt, uc);
        }
      /* per-cycle times; the medians are reported (the machine is shared) */
      double wall[64], cpu[64];
      for (uint64_t c = 0; c < cycles; c++) {
        if (with == 2) tide_input_table_add(R, ups[c % 10], &err);
        double t0 = now_s(), c0 = cpu_s();
        CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
        wall[c] = now_s() - t0;
        cpu[c] = cpu_s() - c0;
      }
      qsort(wall, cycles, sizeof *wall, cmp_dbl);
      qsort(cpu, cycles, sizeof *cpu, cmp_dbl);
      double dt = wall[cycles / 2], dc = cpu[cycles / 2];
      if (with)
        printf("bench: natural_join, left %llu -> %llu rows (+%llu/cycle), right %s %llu "
               "symbols: median %.3f ms/cycle wall, %.3f ms/cycle cpu, source included "
               "(initial build %.1f ms)\n",
               (unsigned long long)n0, (unsigned long long)b->next, (unsigned long long)per,
               with == 2 ? "ticking (10 upserts/cycle)" : "static", (unsigned long long)nsym,
               dt * 1e3, dc * 1e3, build * 1e3);
      else
        printf("bench: source alone, %llu -> %llu rows: median %.3f ms/cycle wall, %.3f ms/cycle "
               "cpu\n",
               (unsigned long long)n0, (unsigned long long)b->next, dt * 1e3, dc * 1e3);
      if (with && J) {
        /* spot check against the static join */
        tide_table_t *snap = tc_snapshot(t);
        tide_table_t *rsnap = tc_snapshot(R);
        tide_table_t *E = tide_natural_join(snap, rsnap, on, 1, NULL, 0, &err);
        CHECK_TABLES(J, E, 0);
        tide_table_free(E);
        tide_table_free(rsnap);
        tide_table_free(snap);
      }
      for (int u = 0; u < 10; u++) tide_table_free(ups[u]);
      tide_table_free(J);
      tide_table_free(R);
      tide_table_free(t);
      tide_graph_free(g);
    }
  }
  tide_table_free(right);
  free(sy);
  free(nm);
  free(rv);
  free(rd);
}

int main(void) {
  const char *b = getenv("TIDE_JOIN_BENCH");
  if (b && *b && strcmp(b, "0") != 0) {
    bench();
    return tu_finish("test_incremental_join (bench)");
  }
  test_exact_updates();
  test_duplicate_later();
  test_exact_errors();
  test_kinds_and_args();
  test_no_keys();
  test_oom();
  run_checker();
  tide_table_free(g_full);
  return tu_finish("test_incremental_join");
}
