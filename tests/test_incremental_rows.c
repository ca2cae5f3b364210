/*
 * Incremental head, tail, head_by, tail_by and merge (ops/rows_incr.c):
 *  - the randomized checker (tests/checker.h) over standard, append-only,
 *    add-only and blink inputs: head/tail with n smaller and larger than
 *    the table, head_by/tail_by by Sym and by (Sym, B) and without keys,
 *    merges of 2-3 ticking inputs with static ones (also mixed input
 *    kinds), and chains;
 *  - hand-written cycles with exact expected updates;
 *  - result kinds and error cases.
 *
 * TIDE_CYCLES=N sets the cycles per (case, input kind, seed) run (default
 * 20), TIDE_SEED the base seed, TIDE_CASE a substring of the case names.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checker.h"
#include "tide/tabletypes.h"

/* ------------------------------------------------------------ the ops */

typedef struct hctx {
  uint64_t n;
  bool tail;
} hctx;

static tide_table_t *op_head(tide_table_t *const *in, size_t nin, void *ctx, tide_error *err) {
  TIDE_UNUSED(nin);
  const hctx *h = ctx;
  return h->tail ? tide_tail(in[0], h->n, err) : tide_head(in[0], h->n, err);
}

typedef struct hbctx {
  uint64_t n;
  bool tail;
  const char *const *by;
  size_t nby;
} hbctx;

static tide_table_t *op_headby(tide_table_t *const *in, size_t nin, void *ctx,
                               tide_error *err) {
  TIDE_UNUSED(nin);
  const hbctx *h = ctx;
  return h->tail ? tide_tail_by(in[0], h->n, h->by, h->nby, err)
                 : tide_head_by(in[0], h->n, h->by, h->nby, err);
}

/* A static table with the checker's schema (I D Sym S B T), own Sym
 * dictionary. */
static tide_table_t *static_input(uint64_t n, uint64_t seed) {
  tu_rng r = {seed};
  int64_t *iv = malloc((n ? n : 1) * sizeof *iv);
  double *dv = malloc((n ? n : 1) * sizeof *dv);
  const char **sym = malloc((n ? n : 1) * sizeof *sym);
  const char **str = malloc((n ? n : 1) * sizeof *str);
  int8_t *bv = malloc(n ? n : 1);
  int64_t *tv = malloc((n ? n : 1) * sizeof *tv);
  static const char *const syms[] = {"C", "Q", "A", NULL, "ZZ", "B"};
  for (uint64_t i = 0; i < n; i++) {
    iv[i] = (int64_t)tu_below(&r, 101) - 50;
    dv[i] = (double)tu_below(&r, 1000) / 10;
    sym[i] = syms[tu_below(&r, 6)];
    str[i] = tu_below(&r, 5) ? tc_strs[tu_below(&r, 10)] : NULL;
    bv[i] = (int8_t)tu_below(&r, 2);
    tv[i] = TC_TS_BASE + (int64_t)tu_below(&r, 1000) * 1000000000LL;
  }
  const void *cols[] = {iv, dv, sym, str, bv, tv};
  tide_table_t *t = tu_table(n, TC_NCOLS, tc_names, tc_types, cols);
  free(iv);
  free(dv);
  free(sym);
  free(str);
  free(bv);
  free(tv);
  return t;
}

/* Merge of the inputs and static tables: `order` lists the merge's
 * tables: values >= 0 are input indices, -1 - k is static table k. */
typedef struct mctx {
  const int *order;
  size_t n;
  tide_table_t *statics[3];
} mctx;

static tide_table_t *op_merge(tide_table_t *const *in, size_t nin, void *ctx, tide_error *err) {
  const mctx *m = ctx;
  tide_table_t *ts[8];
  for (size_t i = 0; i < m->n; i++) {
    int o = m->order[i];
    ts[i] = o >= 0 ? in[(size_t)o < nin ? (size_t)o : 0] : m->statics[-1 - o];
  }
  return tide_merge(ts, m->n, err);
}

/* Chains: f(g(in)) for a few combinations. */
static tide_table_t *op_chain(tide_table_t *const *in, size_t nin, void *ctx, tide_error *err) {
  int which = (int)(intptr_t)ctx;
  static const char *const by_sym[] = {"Sym"};
  static const char *const by_b[] = {"B"};
  tide_table_t *a = NULL, *b = NULL;
  switch (which) {
    case 0: /* head_by over where */
      a = tide_where(in[0], "I > -20", err);
      b = a ? tide_head_by(a, 2, by_sym, 1, err) : NULL;
      break;
    case 1: /* tail over merge */ {
      tide_table_t *ts[] = {in[0], in[nin > 1 ? 1 : 0]};
      a = tide_merge(ts, 2, err);
      b = a ? tide_tail(a, 17, err) : NULL;
      break;
    }
    case 2: /* where over tail_by */
      a = tide_tail_by(in[0], 3, by_b, 1, err);
      b = a ? tide_where(a, "D > 0", err) : NULL;
      break;
    case 3: /* head_by over merge, then head */ {
      tide_table_t *ts[] = {in[0], in[nin > 1 ? 1 : 0]};
      tide_table_t *m = tide_merge(ts, 2, err);
      a = m ? tide_head_by(m, 2, by_sym, 1, err) : NULL;
      tide_table_free(m);
      b = a ? tide_head(a, 9, err) : NULL;
      break;
    }
    default: /* update over head */
      a = tide_head(in[0], 30, err);
      {
        static const char *const f[] = {"X = I * 2", "Y = Sym"};
        b = a ? tide_update(a, f, 2, err) : NULL;
      }
      break;
  }
  tide_table_free(a);
  return b;
}

/* ----------------------------------------------------- mixed-kind runs */


/* --------------------------------------------------------------- cases */

static const char *const by_sym[] = {"Sym"};
static const char *const by_sym_b[] = {"Sym", "B"};
static const char *const by_b_sym[] = {"B", "Sym"};
static const char *const by_s[] = {"S"};
static const char *const by_d[] = {"D"};

static const hctx h5 = {5, false}, h1 = {1, false}, h40 = {40, false}, h1000 = {1000, false},
                  h0 = {0, false};
static const hctx t5 = {5, true}, t1 = {1, true}, t40 = {40, true}, t1000 = {1000, true};

static const hbctx hb_sym2 = {2, false, by_sym, 1}, hb_symb3 = {3, false, by_sym_b, 2},
                   hb_bsym1 = {1, false, by_b_sym, 2}, hb_none4 = {4, false, NULL, 0},
                   hb_s5 = {5, false, by_s, 1}, hb_sym100 = {100, false, by_sym, 1},
                   hb_d1 = {1, false, by_d, 1};
/* n > 128: labels 1 apart, so groups that move or appear between others
 * relabel windows of neighbours */
static const char *const by_i[] = {"I"};
static const hbctx hb_i300 = {300, false, by_i, 1}, tb_symb300 = {300, true, by_sym_b, 2};
static const hbctx tb_sym2 = {2, true, by_sym, 1}, tb_symb3 = {3, true, by_sym_b, 2},
                   tb_none4 = {4, true, NULL, 0}, tb_s1 = {1, true, by_s, 1},
                   tb_sym100 = {100, true, by_sym, 1}, tb_sym7 = {7, true, by_sym, 1};

static const int ord2[] = {0, 1};
static const int ord3s[] = {0, -1, 1, 2};
static const int ords3[] = {-1, 0, 1, 2};
static const int ord1e[] = {0, -2};
static const int orde1[] = {-2, 0};
static const int ord1s[] = {0, -1};
static const int ordrep[] = {1, 0, -3, 1};
static mctx m2 = {ord2, 2, {0}}, m3s = {ord3s, 4, {0}}, ms3 = {ords3, 4, {0}},
            m1e = {ord1e, 2, {0}}, me1 = {orde1, 2, {0}}, m1s = {ord1s, 2, {0}},
            mrep = {ordrep, 4, {0}};

typedef struct rcase {
  tc_case c;
  int reps; /* seeds per input kind */
} rcase;

static rcase cases[] = {
    {{"head 5", op_head, (void *)&h5, 1, 0}, 2},
    {{"head 1", op_head, (void *)&h1, 1, 0}, 1},
    {{"head 40", op_head, (void *)&h40, 1, 0}, 2},
    {{"head 1000", op_head, (void *)&h1000, 1, 0}, 1},
    {{"head 0", op_head, (void *)&h0, 1, 0}, 1},
    {{"tail 5", op_head, (void *)&t5, 1, 0}, 2},
    {{"tail 1", op_head, (void *)&t1, 1, 0}, 1},
    {{"tail 40", op_head, (void *)&t40, 1, 0}, 2},
    {{"tail 1000", op_head, (void *)&t1000, 1, 0}, 1},
    {{"head_by 2 Sym", op_headby, (void *)&hb_sym2, 1, 0}, 2},
    {{"head_by 3 Sym,B", op_headby, (void *)&hb_symb3, 1, 0}, 2},
    {{"head_by 1 B,Sym", op_headby, (void *)&hb_bsym1, 1, 0}, 1},
    {{"head_by 4 none", op_headby, (void *)&hb_none4, 1, 0}, 1},
    {{"head_by 5 S", op_headby, (void *)&hb_s5, 1, 0}, 1},
    {{"head_by 100 Sym", op_headby, (void *)&hb_sym100, 1, 0}, 1},
    {{"head_by 1 D", op_headby, (void *)&hb_d1, 1, 0}, 1},
    {{"head_by 300 I", op_headby, (void *)&hb_i300, 1, 0}, 2},
    {{"tail_by 300 Sym,B", op_headby, (void *)&tb_symb300, 1, 0}, 1},
    {{"tail_by 2 Sym", op_headby, (void *)&tb_sym2, 1, 0}, 2},
    {{"tail_by 3 Sym,B", op_headby, (void *)&tb_symb3, 1, 0}, 2},
    {{"tail_by 4 none", op_headby, (void *)&tb_none4, 1, 0}, 1},
    {{"tail_by 1 S", op_headby, (void *)&tb_s1, 1, 0}, 1},
    {{"tail_by 100 Sym", op_headby, (void *)&tb_sym100, 1, 0}, 1},
    {{"tail_by 7 Sym", op_headby, (void *)&tb_sym7, 1, 0}, 1},
    {{"merge 2", op_merge, &m2, 2, 0}, 2},
    {{"merge 3 + static", op_merge, &m3s, 3, 0}, 2},
    {{"merge static + 3", op_merge, &ms3, 3, 0}, 1},
    {{"merge 1 + empty", op_merge, &m1e, 1, 0}, 1},
    {{"merge empty + 1", op_merge, &me1, 1, 0}, 1},
    {{"merge 1 + static", op_merge, &m1s, 1, 0}, 1},
    {{"merge repeated", op_merge, &mrep, 2, 0}, 1},
    {{"chain where-head_by", op_chain, (void *)(intptr_t)0, 1, 0}, 1},
    {{"chain merge-tail", op_chain, (void *)(intptr_t)1, 2, 0}, 1},
    {{"chain tail_by-where", op_chain, (void *)(intptr_t)2, 1, 0}, 1},
    {{"chain merge-head_by-head", op_chain, (void *)(intptr_t)3, 2, 0}, 1},
    {{"chain head-update", op_chain, (void *)(intptr_t)4, 1, 0}, 1},
};

static uint64_t total_cycles;

static void run_checker(void) {
  const char *env = getenv("TIDE_CYCLES");
  uint64_t cycles = env && *env ? strtoull(env, NULL, 0) : 20;
  const char *only = getenv("TIDE_CASE");
  uint64_t base = tu_seed(20261122);
  static const tide_table_kind_t all[] = {TIDE_KIND_STANDARD, TIDE_KIND_APPEND_ONLY,
                                          TIDE_KIND_ADD_ONLY, TIDE_KIND_BLINK};
  m3s.statics[0] = ms3.statics[0] = m1s.statics[0] = static_input(23, 5);
  m1e.statics[1] = me1.statics[1] = static_input(0, 6);
  mrep.statics[2] = static_input(4, 7);
  int runs = 0;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    if (only && !strstr(cases[i].c.name, only)) continue;
    for (size_t k = 0; k < 4; k++)
      for (int rep = 0; rep < cases[i].reps; rep++) {
        uint64_t seed = base + (uint64_t)runs * 7919;
        runs++;
        tc_run(&cases[i].c, all[k], seed, cycles);
        total_cycles += cycles;
      }
  }
  /* merges over inputs of different kinds */
  static const tide_table_kind_t mixes[][3] = {
      {TIDE_KIND_STANDARD, TIDE_KIND_APPEND_ONLY, TIDE_KIND_BLINK},
      {TIDE_KIND_BLINK, TIDE_KIND_ADD_ONLY, TIDE_KIND_STANDARD},
      {TIDE_KIND_APPEND_ONLY, TIDE_KIND_ADD_ONLY, TIDE_KIND_APPEND_ONLY},
      {TIDE_KIND_BLINK, TIDE_KIND_BLINK, TIDE_KIND_APPEND_ONLY},
  };
  if (!only || strstr("merge mixed", only)) {
    tc_case mc = {"merge mixed", op_merge, &m3s, 3, 0};
    tc_case mc2 = {"merge mixed 2", op_merge, &m2, 2, 0};
    tc_case cc = {"merge mixed chain", op_chain, (void *)(intptr_t)3, 2, 0};
    for (size_t k = 0; k < sizeof mixes / sizeof *mixes; k++) {
      uint64_t seed = base + (uint64_t)runs++ * 7919;
      tc_run_kinds(&mc, mixes[k], seed, cycles);
      tc_run_kinds(&mc2, mixes[k] + 1, seed + 1, cycles);
      tc_run_kinds(&cc, mixes[k], seed + 2, cycles);
      total_cycles += 3 * cycles;
    }
  }
  tide_table_free(m3s.statics[0]);
  tide_table_free(m1e.statics[1]);
  tide_table_free(mrep.statics[2]);
  printf("test_incremental_rows: %d checker runs, %llu cycles checked, %llu result updates "
         "validated\n",
         runs, (unsigned long long)total_cycles, (unsigned long long)tc_total_updates);
}

/* --------------------------------------------------- scripted updates */

/* A ticking source with columns K (int64) and V (int64) whose next update
 * is set by the test. */
typedef struct script {
  tide_source_t *cols[2];
  tide_update_t next;
  tide_rowset_t *next_rs;
  tide_table_kind_t kind;
} script;

static tide_status script_refresh(tide_gnode_t *n, tide_error *err) {
  script *s = n->state;
  if (!s->next_rs) return TIDE_OK;
  tide_rowset_t *rs = s->next_rs;
  s->next_rs = NULL;
  tide_status st = tide__gnode_publish(n, &s->next, rs, err);
  memset(&s->next, 0, sizeof s->next);
  return st;
}
static void script_destroy(tide_gnode_t *n) {
  script *s = n->state;
  tide__update_clear(&s->next);
  tide_rowset_free(s->next_rs);
  free(s);
}
static const tide_gnode_vt script_vt = {"script", script_refresh, NULL, script_destroy};

static void script_write(script *s, const uint64_t *keys, size_t n, const int64_t *k,
                         const int64_t *v) {
  if (!n) return;
  if (k) tide__source_paged_set(s->cols[0], keys, (uint32_t)n, k);
  if (v) tide__source_paged_set(s->cols[1], keys, (uint32_t)n, v);
}

static tide_table_t *script_create(tide_graph_t *g, tide_table_kind_t kind, const uint64_t *keys,
                                   size_t n, const int64_t *k, const int64_t *v, script **out) {
  tide_error err;
  script *s = calloc(1, sizeof *s);
  s->kind = kind;
  static const char *const names[] = {"K", "V"};
  for (int c = 0; c < 2; c++) {
    s->cols[c] = tide__source_paged_create(TIDE_I64, NULL, &err);
    tide__source_track_prev(s->cols[c], tide__graph_step_ptr(g));
  }
  script_write(s, keys, n, k, v);
  tide_rowset_t *rs = tide_rowset_from_keys(keys, n);
  tide_table_t *t = tide_table_create(rs, 2, names, s->cols, &err);
  tide_rowset_free(rs);
  for (int c = 0; c < 2; c++) tide_source_release(s->cols[c]);
  if (!t || !tide__gnode_create(g, t, kind, &script_vt, NULL, 0, s, &err)) abort();
  *out = s;
  return t;
}

/* Set the next update: removed keys, added keys (with K/V values),
 * modified keys (V values; K too if mk), shifts. The new RowSet is
 * computed from the table's current one. */
static void script_set(script *s, tide_table_t *t, const uint64_t *rm, size_t nrm,
                       const uint64_t *ad, size_t nad, const int64_t *ak, const int64_t *av,
                       const uint64_t *md, size_t nmd, const int64_t *mk, const int64_t *mv,
                       const tide_shift_t *sh, size_t nsh) {
  tide_rowset_t *rs = tide_rowset_copy(tide_table_rowset(t));
  if (nrm) {
    s->next.removed = tide_rowset_from_keys(rm, nrm);
    tide_rowset_minus_inplace(rs, s->next.removed);
  }
  if (nsh) {
    /* move the values of the moved keys (the test's shifts never overlap
     * unmoved keys) */
    tide_rowset_t *kept = tide_rowset_copy(rs);
    for (int c = 0; c < 2; c++) tide__source_paged_shift(s->cols[c], sh, nsh, kept);
    tide_rowset_free(kept);
    s->next.shifts = malloc(nsh * sizeof *sh);
    memcpy(s->next.shifts, sh, nsh * sizeof *sh);
    s->next.nshifts = nsh;
    tide_rowset_shift(rs, sh, nsh);
  }
  if (nad) {
    script_write(s, ad, nad, ak, av);
    s->next.added = tide_rowset_from_keys(ad, nad);
    tide_rowset_union_inplace(rs, s->next.added);
  }
  if (nmd) {
    script_write(s, md, nmd, mk, mv);
    s->next.modified = tide_rowset_from_keys(md, nmd);
    s->next.modified_cols = calloc(1, sizeof(uint64_t));
    s->next.modified_cols[0] = mk ? 3 : 2;
    s->next.ncols = 2;
  }
  s->next_rs = rs;
}

/* A captured update of a result. */
typedef struct capture {
  int count;
  uint64_t rm[64], ad[64], md[64];
  size_t nrm, nad, nmd;
  tide_shift_t sh[8];
  size_t nsh;
  uint64_t modcols;
} capture;

static void cap_keys(const tide_rowset_t *rs, uint64_t *out, size_t *n) {
  *n = rs ? (size_t)tide_rowset_size(rs) : 0;
  if (*n > 64) *n = 64;
  for (size_t i = 0; i < *n; i++) out[i] = tide_rowset_key_at(rs, i);
}

static void on_capture(tide_table_t *t, const tide_update_t *u, void *ctx) {
  TIDE_UNUSED(t);
  capture *c = ctx;
  c->count++;
  cap_keys(u->removed, c->rm, &c->nrm);
  cap_keys(u->added, c->ad, &c->nad);
  cap_keys(u->modified, c->md, &c->nmd);
  c->nsh = TIDE_MIN(u->nshifts, (size_t)8);
  if (c->nsh) memcpy(c->sh, u->shifts, c->nsh * sizeof *c->sh);
  c->modcols = u->modified_cols && u->modified && !tide_rowset_is_empty(u->modified)
                   ? u->modified_cols[0]
                   : 0;
}

static bool keys_are(const uint64_t *got, size_t n, const uint64_t *want, size_t nw) {
  if (n != nw) return false;
  for (size_t i = 0; i < n; i++)
    if (got[i] != want[i]) return false;
  return true;
}

#define CHECK_KEYS(got, n, ...)                                                   \
  do {                                                                            \
    static const uint64_t want_[] = {__VA_ARGS__};                                \
    size_t nw_ = sizeof want_ / sizeof *want_;                                    \
    if (nw_ == 1 && want_[0] == UINT64_MAX) nw_ = 0;                              \
    CHECK_MSG(keys_are(got, n, want_, nw_), "%s: %zu keys, first %llu", #got, (size_t)(n), \
              (unsigned long long)((n) ? (got)[0] : 0));                          \
  } while (0)
#define NONE UINT64_MAX

/* Column V of t's rows in order, as a comma list. */
static void col_values(const tide_table_t *t, const char *col, char *buf, size_t cap) {
  size_t len = 0;
  buf[0] = 0;
  for (uint64_t i = 0; i < tide_table_size(t) && len + 24 < cap; i++)
    len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? "," : "", tu_cell(t, col, i));
}

#define CHECK_COL(t, col, want)                                       \
  do {                                                                \
    char b_[512];                                                     \
    col_values((t), (col), b_, sizeof b_);                            \
    CHECK_MSG(strcmp(b_, (want)) == 0, "%s is '%s', want '%s'", col, b_, (want)); \
  } while (0)

static void test_head_tail_exact(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  script *s;
  static const uint64_t keys[] = {0, 1, 2, 3, 4, 5};
  static const int64_t kv[] = {1, 1, 1, 1, 1, 1}, vv[] = {10, 11, 12, 13, 14, 15};
  tide_table_t *t = script_create(g, TIDE_KIND_STANDARD, keys, 6, kv, vv, &s);
  tide_table_t *h = tide_head(t, 3, &err);
  tide_table_t *tl = tide_tail(t, 2, &err);
  CHECK_OK_PTR(h, err);
  CHECK_OK_PTR(tl, err);
  CHECK(h && tide_table_kind(h) == TIDE_KIND_STANDARD);
  capture ch = {0}, ct = {0};
  tide_listener_t *lh = tide_table_listen(h, on_capture, &ch, &err);
  tide_listener_t *lt = tide_table_listen(tl, on_capture, &ct, &err);

  /* remove key 1, modify key 0 (V) */
  static const uint64_t rm1[] = {1}, md1[] = {0};
  static const int64_t mv1[] = {100};
  script_set(s, t, rm1, 1, NULL, 0, NULL, NULL, md1, 1, NULL, mv1, NULL, 0);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(ch.count == 1);
  CHECK_KEYS(ch.rm, ch.nrm, 1);
  CHECK_KEYS(ch.ad, ch.nad, 3);
  CHECK_KEYS(ch.md, ch.nmd, 0);
  CHECK(ch.modcols == 2 && ch.nsh == 0);
  CHECK_COL(h, "V", "100,12,13");
  CHECK(ct.count == 0); /* the tail did not change */

  /* add key 10: the tail moves, the head does not */
  static const uint64_t ad2[] = {10};
  static const int64_t ak2[] = {1}, av2[] = {20};
  script_set(s, t, NULL, 0, ad2, 1, ak2, av2, NULL, 0, NULL, NULL, NULL, 0);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(ch.count == 1);
  CHECK(ct.count == 1);
  CHECK_KEYS(ct.rm, ct.nrm, 4);
  CHECK_KEYS(ct.ad, ct.nad, 10);
  CHECK_KEYS(ct.md, ct.nmd, NONE);
  CHECK_COL(tl, "V", "15,20");

  /* rows 0,2,3,4,5,10: shift [4, 5] by +2: the head does not change;
   * the tail (5, 10) keeps its rows, 5 moving to 7 */
  static const tide_shift_t sh3[] = {{4, 5, 2}};
  script_set(s, t, NULL, 0, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, sh3, 1);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(ch.count == 1);
  CHECK(ct.count == 2);
  CHECK_KEYS(ct.rm, ct.nrm, NONE);
  CHECK_KEYS(ct.ad, ct.nad, NONE);
  CHECK(ct.nsh == 1 && ct.sh[0].first == 4 && ct.sh[0].last == 5 && ct.sh[0].delta == 2);
  CHECK_COL(tl, "V", "15,20");
  /* shift [2, 3] by -1: the head follows with the same shift */
  static const tide_shift_t sh4[] = {{2, 3, -1}};
  script_set(s, t, NULL, 0, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, sh4, 1);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(ch.count == 2);
  CHECK_KEYS(ch.rm, ch.nrm, NONE);
  CHECK_KEYS(ch.ad, ch.nad, NONE);
  CHECK(ch.nsh == 1 && ch.sh[0].first == 2 && ch.sh[0].last == 3 && ch.sh[0].delta == -1);
  CHECK_COL(h, "V", "100,12,13");
  CHECK(ct.count == 2);

  tide_listener_remove(lh);
  tide_listener_remove(lt);
  tide_table_free(h);
  tide_table_free(tl);
  tide_table_free(t);
  tide_graph_free(g);
}

static void test_head_by_exact(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  script *s;
  /* groups by K: 1 -> keys 0,2,3; 2 -> keys 1,4 */
  static const uint64_t keys[] = {0, 1, 2, 3, 4};
  static const int64_t kv[] = {1, 2, 1, 1, 2}, vv[] = {10, 11, 12, 13, 14};
  tide_table_t *t = script_create(g, TIDE_KIND_STANDARD, keys, 5, kv, vv, &s);
  static const char *const by[] = {"K"};
  tide_table_t *h = tide_head_by(t, 2, by, 1, &err);
  tide_table_t *tb = tide_tail_by(t, 2, by, 1, &err);
  CHECK_OK_PTR(h, err);
  CHECK_OK_PTR(tb, err);
  if (!h || !tb) return;
  CHECK_COL(h, "V", "10,12,11,14");
  CHECK_COL(tb, "V", "12,13,11,14");
  /* result keys: (label << 1) | rank, labels 128 apart in order of
   * first appearance */
  {
    uint64_t k[8];
    size_t n;
    cap_keys(tide_table_rowset(h), k, &n);
    CHECK_KEYS(k, n, 256, 257, 512, 513);
  }
  capture ch = {0}, ct = {0};
  tide_listener_t *lh = tide_table_listen(h, on_capture, &ch, &err);
  tide_listener_t *lt = tide_table_listen(tb, on_capture, &ct, &err);

  /* remove key 2: group 1's second row becomes key 3 (same result key,
   * another row: modified, every column) */
  static const uint64_t rm1[] = {2};
  script_set(s, t, rm1, 1, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL, 0);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(ch.count == 1);
  CHECK_KEYS(ch.rm, ch.nrm, NONE);
  CHECK_KEYS(ch.ad, ch.nad, NONE);
  CHECK_KEYS(ch.md, ch.nmd, 257);
  CHECK(ch.modcols == 3);
  CHECK_COL(h, "V", "10,13,11,14");
  /* tail_by: group 1 was 2,3 -> 0,3: rank 0 is another row */
  CHECK(ct.count == 1);
  CHECK_KEYS(ct.md, ct.nmd, 256);
  CHECK_COL(tb, "V", "10,13,11,14");

  /* modify V of key 4 (selected in both): modified, column V only */
  static const uint64_t md2[] = {4};
  static const int64_t mv2[] = {40};
  script_set(s, t, NULL, 0, NULL, 0, NULL, NULL, md2, 1, NULL, mv2, NULL, 0);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(ch.count == 2);
  CHECK_KEYS(ch.md, ch.nmd, 513);
  CHECK(ch.modcols == 2); /* output columns K, V: V is bit 1 */
  CHECK_KEYS(ch.rm, ch.nrm, NONE);
  CHECK_COL(h, "V", "10,13,11,40");

  /* remove key 0: group 1 now starts at key 3, after group 2 (key 1): it
   * moves after group 2's label 256 (removed at 256, 257; added at label
   * 384, key 768) */
  static const uint64_t rm3[] = {0};
  script_set(s, t, rm3, 1, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL, 0);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(ch.count == 3);
  CHECK_KEYS(ch.rm, ch.nrm, 256, 257);
  CHECK_KEYS(ch.ad, ch.nad, 768);
  CHECK_KEYS(ch.md, ch.nmd, NONE);
  CHECK_COL(h, "V", "11,40,13");
  CHECK_COL(h, "K", "2,2,1");

  /* re-key row 1 from group 2 to group 1 (K = 1): group 1 = {1, 3} comes
   * first again (label 128), group 2 = {4} keeps label 256: its rank 0 is
   * another row (modified), rank 1 goes */
  static const uint64_t md4[] = {1};
  static const int64_t mk4[] = {1}, mv4[] = {11};
  script_set(s, t, NULL, 0, NULL, 0, NULL, NULL, md4, 1, mk4, mv4, NULL, 0);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(ch.count == 4);
  CHECK_COL(h, "V", "11,13,40");
  CHECK_COL(h, "K", "1,1,2");
  {
    uint64_t k[8];
    size_t n;
    cap_keys(tide_table_rowset(h), k, &n);
    CHECK_KEYS(k, n, 256, 257, 512);
  }
  CHECK_KEYS(ch.rm, ch.nrm, 513, 768);
  CHECK_KEYS(ch.ad, ch.nad, 256, 257);
  CHECK_KEYS(ch.md, ch.nmd, 512);
  /* shift row 4 by +1: group 2 stays in place (same label, same row): no
   * update at all */
  static const tide_shift_t sh5[] = {{4, 4, 1}};
  script_set(s, t, NULL, 0, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, sh5, 1);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(ch.count == 4);
  CHECK_COL(h, "V", "11,13,40");
  /* a new group before every other (K = 9 at key 0, where nothing is now):
   * label between 0 and 128 */
  static const uint64_t ad6[] = {0};
  static const int64_t ak6[] = {9}, av6[] = {99};
  script_set(s, t, NULL, 0, ad6, 1, ak6, av6, NULL, 0, NULL, NULL, NULL, 0);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(ch.count == 5);
  CHECK_KEYS(ch.ad, ch.nad, 128);
  CHECK_KEYS(ch.rm, ch.nrm, NONE);
  CHECK_COL(h, "V", "99,11,13,40");

  tide_listener_remove(lh);
  tide_listener_remove(lt);
  tide_table_free(h);
  tide_table_free(tb);
  tide_table_free(t);
  tide_graph_free(g);
}

static void test_merge_exact(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  script *a, *b;
  static const uint64_t ka[] = {0, 1}, kb[] = {0, 5};
  static const int64_t k1[] = {1, 1}, va[] = {1, 2}, vb[] = {3, 4};
  tide_table_t *ta = script_create(g, TIDE_KIND_STANDARD, ka, 2, k1, va, &a);
  tide_table_t *tb = script_create(g, TIDE_KIND_STANDARD, kb, 2, k1, vb, &b);
  tide_table_t *ins[] = {ta, tb};
  tide_table_t *m = tide_merge(ins, 2, &err);
  CHECK_OK_PTR(m, err);
  if (!m) return;
  CHECK(tide_table_kind(m) == TIDE_KIND_STANDARD);
  CHECK_COL(m, "V", "1,2,3,4");
  capture c = {0};
  tide_listener_t *l = tide_table_listen(m, on_capture, &c, &err);
  const uint64_t off = UINT64_C(1) << 40;
  /* a: remove 0; b: add 3, modify 5 */
  static const uint64_t rm[] = {0}, ad[] = {3}, md[] = {5};
  static const int64_t ak[] = {1}, av[] = {9}, mv[] = {50};
  script_set(a, ta, rm, 1, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL, 0);
  script_set(b, tb, NULL, 0, ad, 1, ak, av, md, 1, NULL, mv, NULL, 0);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(c.count == 1);
  CHECK(c.nrm == 1 && c.rm[0] == 0);
  CHECK(c.nad == 1 && c.ad[0] == (off | 3));
  CHECK(c.nmd == 1 && c.md[0] == (off | 5));
  CHECK(c.modcols == 2);
  CHECK_COL(m, "V", "2,3,9,50");
  /* b shifts 3 -> 4 */
  static const tide_shift_t sh[] = {{3, 3, 1}};
  script_set(b, tb, NULL, 0, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, sh, 1);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(c.count == 2);
  CHECK(c.nsh == 1 && c.sh[0].first == (off | 3) && c.sh[0].last == (off | 3) &&
        c.sh[0].delta == 1);
  CHECK_COL(m, "V", "2,3,9,50");
  tide_listener_remove(l);
  tide_table_free(m);
  tide_table_free(ta);
  tide_table_free(tb);
  tide_graph_free(g);
}

/* ------------------------------------------------------ kinds, errors */

static void test_kinds_errors(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide_table_t *ap = tc_source_create(g, TIDE_KIND_APPEND_ONLY, 1, NULL);
  tide_table_t *bl = tc_source_create(g, TIDE_KIND_BLINK, 2, NULL);
  tide_table_t *ad = tc_source_create(g, TIDE_KIND_ADD_ONLY, 3, NULL);
  tide_table_t *st = tc_source_create(g, TIDE_KIND_STANDARD, 4, NULL);
  tide_table_t *empty = static_input(0, 1), *full = static_input(3, 2);
  static const char *const by[] = {"Sym"};
  struct {
    tide_table_t *t;
    tide_table_kind_t k;
  } expect[8];
  size_t ne = 0;
#define KIND(expr, kind)                         \
  do {                                           \
    expect[ne].t = (expr);                       \
    CHECK_OK_PTR(expect[ne].t, err);             \
    expect[ne++].k = (kind);                     \
  } while (0)
  KIND(tide_head(ap, 3, &err), TIDE_KIND_APPEND_ONLY);
  KIND(tide_tail(ap, 3, &err), TIDE_KIND_STANDARD);
  KIND(tide_head(bl, 3, &err), TIDE_KIND_BLINK);
  KIND(tide_tail_by(bl, 3, by, 1, &err), TIDE_KIND_BLINK);
  KIND(tide_head_by(ap, 3, by, 1, &err), TIDE_KIND_STANDARD);
  {
    tide_table_t *ts[] = {full, ap, empty};
    KIND(tide_merge(ts, 3, &err), TIDE_KIND_APPEND_ONLY);
  }
  {
    tide_table_t *ts[] = {ap, ad, full};
    KIND(tide_merge(ts, 3, &err), TIDE_KIND_ADD_ONLY);
  }
  {
    tide_table_t *ts[] = {empty, bl};
    KIND(tide_merge(ts, 2, &err), TIDE_KIND_BLINK);
  }
#undef KIND
  for (size_t i = 0; i < ne; i++) {
    CHECK_MSG(!expect[i].t || tide_table_kind(expect[i].t) == expect[i].k, "kind case %zu: %s",
              i, expect[i].t ? tc_kind_name(tide_table_kind(expect[i].t)) : "-");
  }
  CHECK_OK(tide_graph_run_cycles(g, 20, &err), err);
  for (size_t i = 0; i < ne; i++) tide_table_free(expect[i].t);
  /* errors */
  static const char *const bad[] = {"Nope"};
  tide_table_t *r = tide_head_by(st, 2, bad, 1, &err);
  CHECK(!r && err.status == TIDE_ERR_NOT_FOUND && strstr(err.msg, "head_by") &&
        strstr(err.msg, "Nope"));
  tide_table_free(r);
  tide_graph_t *g2 = tide_graph_create(&err);
  tide_table_t *other = tc_source_create(g2, TIDE_KIND_STANDARD, 5, NULL);
  tide_table_t *ts[] = {st, other};
  r = tide_merge(ts, 2, &err);
  CHECK(!r && err.status == TIDE_ERR_INVALID && strstr(err.msg, "merge"));
  tide_table_free(r);
  const char *drop[] = {"B"};
  tide_table_t *dr = tide_drop_columns(ap, drop, 1, &err);
  tide_table_t *ts2[] = {st, full, dr};
  r = tide_merge(ts2, 3, &err);
  CHECK(!r && strstr(err.msg, "merge: table 2"));
  tide_table_free(r);
  tide_table_free(dr);
  /* head_by's row keys do not depend on the parent's: over a merge (input
   * 1 at 2^40) with a huge n */
  tide_table_t *ts3[] = {empty, st};
  tide_table_t *mg = tide_merge(ts3, 2, &err);
  CHECK_OK_PTR(mg, err);
  r = mg ? tide_head_by(mg, UINT64_C(1) << 30, by, 1, &err) : NULL;
  CHECK_OK_PTR(r, err);
  if (r) {
    tide_table_t *sm = tc_snapshot(mg);
    tide_table_t *e = tide_head_by(sm, UINT64_C(1) << 30, by, 1, &err);
    CHECK_TABLES(r, e, 0);
    tide_table_free(e);
    tide_table_free(sm);
  }
  tide_table_free(r);
  tide_table_free(mg);
  tide_table_free(other);
  tide_graph_free(g2);
  tide_table_free(ap);
  tide_table_free(bl);
  tide_table_free(ad);
  tide_table_free(st);
  tide_table_free(empty);
  tide_table_free(full);
  tide_graph_free(g);
}

/* ---------------------------------------------------- out of memory */

static tide_table_t *g_oom_in[3];

static void *oom_head(void *ctx, tide_error *err) {
  TIDE_UNUSED(ctx);
  return tide_tail(g_oom_in[0], 4, err);
}
static void *oom_head_by(void *ctx, tide_error *err) {
  TIDE_UNUSED(ctx);
  return tide_head_by(g_oom_in[0], 2, by_sym_b, 2, err);
}
static void *oom_merge(void *ctx, tide_error *err) {
  tide_table_t *ts[] = {g_oom_in[0], ctx, g_oom_in[1]};
  return tide_merge(ts, 3, err);
}

/* Building each ticking result fails cleanly at every allocation; cycles
 * that run out of memory fail with TIDE_ERR_NOMEM (the result stops
 * updating) without crashing or leaking. */
static void test_oom(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  g_oom_in[0] = tc_source_create(g, TIDE_KIND_STANDARD, 11, NULL);
  g_oom_in[1] = tc_source_create(g, TIDE_KIND_STANDARD, 12, NULL);
  tide_table_t *st = static_input(5, 3);
  tu_oom_op ops[] = {oom_head, oom_head_by, oom_merge};
  const char *names[] = {"tail", "head_by", "merge"};
  for (int i = 0; i < 3; i++) {
    tide_table_t *r = tu_oom_sweep(names[i], 2000, ops[i], st, &err);
    CHECK_MSG(r != NULL, "%s: %s", names[i], err.msg);
    tide_table_free(r);
  }
  tide_table_free(st);
  /* cycles under memory pressure: each fresh result sees one cycle with
   * the k-th allocation refused */
  static const uint64_t keys[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  static const int64_t kv[] = {1, 2, 1, 3, 2, 1, 1, 3, 2, 1}, vv[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  static const char *const kvnames[] = {"K", "V"};
  static const tide_type_t kvtypes[] = {TIDE_I64, TIDE_I64};
  static const char *const byk[] = {"K"};
  const void *kvcols[] = {kv, vv};
  tide_table_t *kvs = tu_table(3, 2, kvnames, kvtypes, kvcols);
  int fired = 0;
  for (long k = 0; k < 300; k += 3) {
    for (int i = 0; i < 4; i++) {
      tide_graph_t *g2 = tide_graph_create(&err);
      tide__graph_set_validate(g2, true);
      script *sa, *sb;
      tide_table_t *a = script_create(g2, TIDE_KIND_STANDARD, keys, 10, kv, vv, &sa);
      tide_table_t *b = script_create(g2, TIDE_KIND_STANDARD, keys, 4, kv, vv, &sb);
      tide_table_t *ts[] = {a, kvs, b};
      tide_table_t *r = i == 0   ? tide_head(a, 4, &err)
                        : i == 1 ? tide_tail_by(a, 2, byk, 1, &err)
                        : i == 2 ? tide_head_by(a, 3, byk, 1, &err)
                                 : tide_merge(ts, 3, &err);
      CHECK_OK_PTR(r, err);
      static const uint64_t rm[] = {0, 5}, ad[] = {12, 14}, md[] = {3};
      static const int64_t ak[] = {2, 3}, av[] = {12, 14}, mk[] = {2}, mv[] = {30};
      static const tide_shift_t sh[] = {{8, 9, 1}};
      script_set(sa, a, rm, 2, ad, 2, ak, av, md, 1, mk, mv, sh, 1);
      script_set(sb, b, rm, 1, ad, 1, ak, av, NULL, 0, NULL, NULL, NULL, 0);
      tu_oom_arm(k);
      tide_status st2 = tide_graph_run_cycles(g2, 1, &err);
      fired += tu_oom_fired();
      tu_oom_disarm();
      /* the graph's validator reports a shift check that ran out of
       * memory as invalid shifts (sched/graph.c) */
      CHECK_MSG(st2 == TIDE_OK || err.status == TIDE_ERR_NOMEM ||
                    strstr(err.msg, ": update has invalid shifts"),
                "case %d, k=%ld: %s", i, k, err.msg);
      tide_table_free(r);
      tide_table_free(a);
      tide_table_free(b);
      tide_graph_free(g2);
    }
  }
  CHECK(fired > 0);
  tide_table_free(kvs);
  tide_table_free(g_oom_in[0]);
  tide_table_free(g_oom_in[1]);
  tide_graph_free(g);
}

/* ------------------------------------------------------------- timing */

typedef struct bench_src {
  uint64_t per_cycle, next;
  tide_source_t *cols[2];
} bench_src;

static void bench_fill(bench_src *b, uint64_t first, uint64_t n) {
  static uint64_t keys[TIDE_CHUNK_SIZE];
  static int64_t iv[TIDE_CHUNK_SIZE], gv[TIDE_CHUNK_SIZE];
  for (uint64_t k = first; k < first + n; k += TIDE_CHUNK_SIZE) {
    uint32_t cnt = (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, first + n - k);
    for (uint32_t j = 0; j < cnt; j++) {
      uint64_t x = (k + j) * 0x9E3779B97F4A7C15ULL;
      keys[j] = k + j;
      iv[j] = (int64_t)(x >> 40) % 1000;
      gv[j] = (int64_t)((x >> 20) % 1000);
    }
    tide__source_paged_set(b->cols[0], keys, cnt, iv);
    tide__source_paged_set(b->cols[1], keys, cnt, gv);
  }
}

static tide_status bench_refresh(tide_gnode_t *n, tide_error *err) {
  bench_src *b = n->state;
  if (!b->per_cycle) return TIDE_OK;
  bench_fill(b, b->next, b->per_cycle);
  tide_update_t u = {0};
  u.added = tide_rowset_create_range(b->next, b->next + b->per_cycle - 1);
  tide_rowset_t *rs = tide_rowset_copy(n->table->rowset);
  tide_rowset_insert_range(rs, b->next, b->next + b->per_cycle - 1);
  b->next += b->per_cycle;
  return tide__gnode_publish(n, &u, rs, err);
}
static void bench_destroy(tide_gnode_t *n) { free(n->state); }
static const tide_gnode_vt bench_vt = {"bench_source", bench_refresh, NULL, bench_destroy};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* TIDE_BENCH=1: per-cycle times over an append-only table of n0 rows
 * appending 10,000 rows per cycle (1,000 groups). */
static void bench(uint64_t n0) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, false);
  bench_src *b = calloc(1, sizeof *b);
  const char *names[] = {"I", "G"};
  for (int c = 0; c < 2; c++) {
    b->cols[c] = tide__source_paged_create(TIDE_I64, NULL, &err);
    tide__source_track_prev(b->cols[c], tide__graph_step_ptr(g));
  }
  bench_fill(b, 0, n0);
  b->next = n0;
  tide_rowset_t *rs = tide_rowset_create_range(0, n0 - 1);
  tide_table_t *t = tide_table_create(rs, 2, names, b->cols, &err);
  tide_rowset_free(rs);
  for (int c = 0; c < 2; c++) tide_source_release(b->cols[c]);
  tide__gnode_create(g, t, TIDE_KIND_APPEND_ONLY, &bench_vt, NULL, 0, b, &err);
  static const char *const by[] = {"G"};
  const char *what[] = {"head(1000)", "tail(1000)", "head_by(3, G)", "tail_by(3, G)",
                        "merge(t, t)"};
  for (int i = 0; i < 5; i++) {
    tide_table_t *ts[] = {t, t};
    double t0 = now_s();
    tide_table_t *r = i == 0   ? tide_head(t, 1000, &err)
                      : i == 1 ? tide_tail(t, 1000, &err)
                      : i == 2 ? tide_head_by(t, 3, by, 1, &err)
                      : i == 3 ? tide_tail_by(t, 3, by, 1, &err)
                               : tide_merge(ts, 2, &err);
    double build = now_s() - t0;
    if (!r) {
      fprintf(stderr, "bench: %s: %s\n", what[i], err.msg);
      continue;
    }
    b->per_cycle = 10000;
    int cycles = 20;
    t0 = now_s();
    tide_graph_run_cycles(g, (uint64_t)cycles, &err);
    double dt = (now_s() - t0) / cycles;
    b->per_cycle = 0;
    printf("bench: %s over %llu rows: first build %.1f ms, %.3f ms per cycle of 10,000 appended "
           "rows\n",
           what[i], (unsigned long long)tide_table_size(t), build * 1e3, dt * 1e3);
    tide_table_free(r);
  }
  tide_table_free(t);
  tide_graph_free(g);
}

int main(void) {
  const char *b = getenv("TIDE_BENCH");
  if (b && *b && strcmp(b, "0") != 0) {
    bench(100000);
    bench(1000000);
    return tu_finish("test_incremental_rows (bench)");
  }
  clock_t c0 = clock();
  test_head_tail_exact();
  test_head_by_exact();
  test_merge_exact();
  test_kinds_errors();
  test_oom();
  run_checker();
  printf("test_incremental_rows: %.2f s CPU\n", (double)(clock() - c0) / CLOCKS_PER_SEC);
  return tu_finish("test_incremental_rows");
}
