/*
 * Incremental sort / sort_descending / sort_ex (ops/sort_incr.c), checked
 * with the random sources of tests/checker.h over every input kind: after
 * every cycle the result must equal the static sort of a snapshot of the
 * input (row for row: ties keep input order), and every update it emits
 * is validated against a mirror. Most runs use tiny output blocks
 * (tide__sort_incr_tune) so that block splits, re-layouts and exhausted
 * block ids happen in small tables. Chains put the sort under a where and
 * over another sort (which feeds it shifts), and a where / update over
 * the sort (which consume its shifts). A hand-written case checks the
 * exact removed / added / modified / shifts of small updates.
 *
 * TIDE_CYCLES=N sets the cycles per run (default 25), TIDE_SEED the base
 * seed, TIDE_CASE a substring of the case names, TIDE_KIND an input kind
 * (standard, append-only, add-only, blink), TIDE_VERBOSE=1 lists the runs. TIDE_BENCH=1 measures
 * 10,000 random inserts per cycle (and, over a standard input, 10,000
 * removes and 10,000 modifications of the sort column) into sorted tables
 * of 1e5 and 1e6 rows; TIDE_BENCH=N: tables of N rows.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checker.h"
#include "sched/ticking_int.h"

void tide__sort_incr_tune(int block_bits, int gap_bits); /* ops/sort_incr.c */

/* ------------------------------------------------------------ the ops */

typedef struct sort_spec {
  const char *const *cols;
  const bool *desc; /* NULL: ascending */
  size_t n;
  int chain; /* 0: sort; 1: where then sort; 2: sort then where + update;
                3: sort of a sort; 4: sort_descending */
} sort_spec;

static tide_table_t *apply_sort(tide_table_t *t, const sort_spec *sp, tide_error *err) {
  if (sp->chain == 4) return tide_sort_descending(t, sp->cols, sp->n, err);
  return tide_sort_ex(t, sp->cols, sp->desc, sp->n, err);
}

static tide_table_t *op_sort(tide_table_t *const *in, size_t nin, void *ctx, tide_error *err) {
  TIDE_UNUSED(nin);
  const sort_spec *sp = ctx;
  switch (sp->chain) {
    case 1: {
      tide_table_t *w = tide_where(in[0], "I > -30", err);
      if (!w) return NULL;
      tide_table_t *r = apply_sort(w, sp, err);
      tide_table_free(w);
      return r;
    }
    case 2: {
      tide_table_t *s = apply_sort(in[0], sp, err);
      if (!s) return NULL;
      tide_table_t *w = tide_where(s, "D > -50", err);
      tide_table_free(s);
      if (!w) return NULL;
      const char *f[] = {"X = I * 2", "Y = Sym"};
      tide_table_t *u = tide_update(w, f, 2, err);
      tide_table_free(w);
      return u;
    }
    case 3: {
      const char *first[] = {"B", "T"};
      tide_table_t *s = tide_sort(in[0], first, 2, err);
      if (!s) return NULL;
      tide_table_t *r = apply_sort(s, sp, err);
      tide_table_free(s);
      return r;
    }
    default: return apply_sort(in[0], sp, err);
  }
}

static const char *const c_I[] = {"I"};
static const char *const c_D[] = {"D"};
static const char *const c_SymT[] = {"Sym", "T"};
static const char *const c_S[] = {"S"};
static const char *const c_B[] = {"B"};
static const char *const c_mix[] = {"Sym", "D", "S"};
static const char *const c_BS[] = {"B", "S"};
static const bool d_mix[] = {false, true, false};
static const bool d_BS[] = {true, true};

static const sort_spec sp_I = {c_I, NULL, 1, 0};
static const sort_spec sp_Ddesc = {c_D, NULL, 1, 4};
static const sort_spec sp_SymT = {c_SymT, NULL, 2, 0};
static const sort_spec sp_S = {c_S, NULL, 1, 0};
static const sort_spec sp_B = {c_B, NULL, 1, 0};
static const sort_spec sp_mix = {c_mix, d_mix, 3, 0};
static const sort_spec sp_BSdesc = {c_BS, d_BS, 2, 0};
static const sort_spec sp_where_I = {c_I, NULL, 1, 1};
static const sort_spec sp_I_where = {c_I, NULL, 1, 2};
static const sort_spec sp_sort_sort = {c_SymT, NULL, 2, 3};
static const sort_spec sp_sort_sort_S = {c_S, NULL, 1, 3};

typedef struct scase {
  tc_case c;
  int block_bits, gap_bits; /* 0: defaults */
} scase;

static const scase cases[] = {
    {{"sort I", op_sort, (void *)&sp_I, 1, 0}, 3, 2},
    {{"sort I (blocks of 8, gaps 2^12)", op_sort, (void *)&sp_I, 1, 0}, 3, 12},
    {{"sort I (blocks of 16, gaps 4)", op_sort, (void *)&sp_I, 1, 0}, 4, 2},
    {{"sort I (default layout)", op_sort, (void *)&sp_I, 1, 0}, 0, 0},
    {{"sort_descending D", op_sort, (void *)&sp_Ddesc, 1, 0}, 3, 2},
    {{"sort Sym, T", op_sort, (void *)&sp_SymT, 1, 0}, 3, 3},
    {{"sort S", op_sort, (void *)&sp_S, 1, 0}, 4, 2},
    {{"sort B (ties)", op_sort, (void *)&sp_B, 1, 0}, 3, 2},
    {{"sort B (ties, default layout)", op_sort, (void *)&sp_B, 1, 0}, 0, 0},
    {{"sort_ex Sym, D desc, S", op_sort, (void *)&sp_mix, 1, 0}, 3, 1},
    {{"sort_ex B desc, S desc", op_sort, (void *)&sp_BSdesc, 1, 0}, 5, 4},
    {{"where then sort I", op_sort, (void *)&sp_where_I, 1, 0}, 3, 2},
    {{"sort I then where + update", op_sort, (void *)&sp_I_where, 1, 0}, 3, 2},
    {{"sort of a sort: Sym, T", op_sort, (void *)&sp_sort_sort, 1, 0}, 3, 2},
    {{"sort of a sort: S", op_sort, (void *)&sp_sort_sort_S, 1, 0}, 0, 0},
};

static void run_checker(void) {
  const char *env = getenv("TIDE_CYCLES");
  uint64_t cycles = env && *env ? strtoull(env, NULL, 0) : 25;
  const char *only = getenv("TIDE_CASE");
  uint64_t base = tu_seed(20261122);
  static const tide_table_kind_t kinds[] = {TIDE_KIND_STANDARD, TIDE_KIND_APPEND_ONLY,
                                            TIDE_KIND_ADD_ONLY, TIDE_KIND_BLINK};
  uint64_t total = 0;
  int runs = 0;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    if (only && !strstr(cases[i].c.name, only)) continue;
    tide__sort_incr_tune(cases[i].block_bits, cases[i].gap_bits);
    for (size_t k = 0; k < 4; k++) {
      const char *kind = getenv("TIDE_KIND");
      if (kind && *kind && strcmp(kind, tc_kind_name(kinds[k]))) continue;
      for (int rep = 0; rep < 2; rep++) {
        uint64_t seed = base + (uint64_t)runs * 7919;
        runs++;
        if (getenv("TIDE_VERBOSE"))
          fprintf(stderr, "run %s, %s, seed %llu\n", cases[i].c.name, tc_kind_name(kinds[k]),
                  (unsigned long long)seed);
        tc_run(&cases[i].c, kinds[k], seed, cycles);
        total += cycles;
      }
    }
  }
  tide__sort_incr_tune(0, 0);
  printf("test_incremental_sort: %d runs, %llu cycles, %llu result updates validated\n", runs,
         (unsigned long long)total, (unsigned long long)tc_total_updates);
}

/* ------------------------------------------------ a scripted source */

/* Columns I and V (int64); each cycle applies the next scripted step. */
typedef struct step {
  uint64_t nadd;
  uint64_t add[4];
  int64_t addI[4];
  uint64_t nrem;
  uint64_t rem[4];
  uint64_t nmod;
  uint64_t mod[4];
  int col; /* modified column: 0 = I, 1 = V */
  int64_t modv[4];
} step;

typedef struct script_src {
  const step *steps;
  size_t nsteps, at;
  tide_source_t *cols[2];
} script_src;

static tide_status script_refresh(tide_gnode_t *n, tide_error *err) {
  script_src *s = n->state;
  if (s->at >= s->nsteps) return TIDE_OK;
  const step *st = &s->steps[s->at++];
  tide_update_t u = {0};
  tide_rowset_t *rs = tide_rowset_copy(n->table->rowset);
  if (st->nrem) {
    u.removed = tide_rowset_from_keys(st->rem, st->nrem);
    tide_rowset_minus_inplace(rs, u.removed);
  }
  if (st->nadd) {
    int64_t v[4];
    for (uint64_t i = 0; i < st->nadd; i++) v[i] = (int64_t)st->add[i] * 100;
    tide__source_paged_set(s->cols[0], st->add, (uint32_t)st->nadd, st->addI);
    tide__source_paged_set(s->cols[1], st->add, (uint32_t)st->nadd, v);
    u.added = tide_rowset_from_keys(st->add, st->nadd);
    tide_rowset_union_inplace(rs, u.added);
  }
  if (st->nmod) {
    tide__source_paged_set(s->cols[st->col], st->mod, (uint32_t)st->nmod, st->modv);
    u.modified = tide_rowset_from_keys(st->mod, st->nmod);
    u.modified_cols = calloc(1, sizeof *u.modified_cols);
    u.modified_cols[0] = 1u << st->col;
    u.ncols = 2;
  }
  return tide__gnode_publish(n, &u, rs, err);
}
static void script_destroy(tide_gnode_t *n) { free(n->state); }
static const tide_gnode_vt script_vt = {"script_source", script_refresh, NULL, script_destroy};

static tide_table_t *script_source(tide_graph_t *g, const int64_t *I, uint64_t n,
                                   const step *steps, size_t nsteps) {
  tide_error err;
  script_src *s = calloc(1, sizeof *s);
  s->steps = steps;
  s->nsteps = nsteps;
  const char *names[] = {"I", "V"};
  uint64_t keys[16];
  int64_t v[16];
  for (uint64_t i = 0; i < n; i++) {
    keys[i] = i;
    v[i] = (int64_t)i * 100;
  }
  for (int c = 0; c < 2; c++) {
    s->cols[c] = tide__source_paged_create(TIDE_I64, NULL, &err);
    tide__source_paged_set(s->cols[c], keys, (uint32_t)n, c == 0 ? I : v);
    tide__source_track_prev(s->cols[c], tide__graph_step_ptr(g));
  }
  tide_rowset_t *rs = n ? tide_rowset_create_range(0, n - 1) : tide_rowset_create();
  tide_table_t *t = tide_table_create(rs, 2, names, s->cols, &err);
  tide_rowset_free(rs);
  for (int c = 0; c < 2; c++) tide_source_release(s->cols[c]);
  CHECK_OK_PTR(tide__gnode_create(g, t, TIDE_KIND_STANDARD, &script_vt, NULL, 0, s, &err), err);
  return t;
}

/* The last update of the result, as text with keys relative to base. */
typedef struct capture {
  uint64_t base;
  char text[512];
} capture;

static void rs_text(const tide_rowset_t *rs, uint64_t base, char *buf, size_t cap) {
  size_t o = 0;
  o += (size_t)snprintf(buf + o, cap - o, "[");
  uint64_t n = rs ? tide_rowset_size(rs) : 0;
  for (uint64_t i = 0; i < n && o < cap; i++)
    o += (size_t)snprintf(buf + o, cap - o, "%s%lld", i ? " " : "",
                          (long long)(tide_rowset_key_at(rs, i) - base));
  if (o < cap) snprintf(buf + o, cap - o, "]");
}

static void on_capture(tide_table_t *t, const tide_update_t *u, void *ctx) {
  TIDE_UNUSED(t);
  capture *c = ctx;
  char r[128], a[128], m[128], s[128] = "";
  rs_text(u->removed, c->base, r, sizeof r);
  rs_text(u->added, c->base, a, sizeof a);
  rs_text(u->modified, c->base, m, sizeof m);
  size_t o = 0;
  for (size_t i = 0; i < u->nshifts; i++)
    o += (size_t)snprintf(s + o, sizeof s - o, "%s%lld..%lld%+lld", i ? " " : "",
                          (long long)(u->shifts[i].first - c->base),
                          (long long)(u->shifts[i].last - c->base),
                          (long long)u->shifts[i].delta);
  snprintf(c->text, sizeof c->text, "removed=%s added=%s modified=%s mcols=%llx shifts=[%s]", r,
           a, m, u->modified_cols && u->modified ? (unsigned long long)u->modified_cols[0] : 0ull,
           s);
}

static void test_exact(void) {
  tide_error err;
  tide__sort_incr_tune(3, 2); /* blocks of 8 keys, at most 4 rows; ids 5 apart */
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  static const int64_t I0[] = {10, 20, 30, 40, 50, 60};
  static const step steps[] = {
      /* 1: 25 goes into the gap between 20 and 30 */
      {1, {6}, {25}, 0, {0}, 0, {0}, 0, {0}},
      /* 2: 26 after 25: the block would hold 5 > 4 rows: it is re-laid out
       * into two blocks around it (ids B-2 and B+3, 2 and 3 rows at
       * spacing 2): 10 and 20 move together, 25 and 30 each by their own
       * delta */
      {1, {7}, {26}, 0, {0}, 0, {0}, 0, {0}},
      /* 3: remove 20; 50 -> 45 (sort value changed: removed and re-added);
       * V of 60 changes (modified in place) */
      {0, {0}, {0}, 1, {1}, 1, {4}, 0, {45}},
      {0, {0}, {0}, 0, {0}, 1, {5}, 1, {7}},
      /* 5: 40 -> 40 (sort column reported modified, value unchanged) */
      {0, {0}, {0}, 0, {0}, 1, {3}, 0, {40}},
      /* 6: four rows after 60: the block would overflow (3 + 4 > 4 rows):
       * the new rows go into two new blocks after it (ids 3 apart, rows
       * packed from the block start), nothing moves */
      {4, {8, 9, 10, 11}, {70, 71, 72, 73}, 0, {0}, 0, {0}, 0, {0}},
  };
  tide_table_t *src = script_source(g, I0, 6, steps, sizeof steps / sizeof *steps);
  const char *by[] = {"I"};
  tide_table_t *s = tide_sort(src, by, 1, &err);
  CHECK_OK_PTR(s, err);
  if (!s) return;
  CHECK(tide_table_kind(s) == TIDE_KIND_STANDARD);
  /* initial layout: two blocks of 3 rows at slots 1 3 5, block ids 5 apart */
  capture cap = {0};
  cap.base = tide_rowset_first(tide_table_rowset(s)) - 1;
  char init[128];
  rs_text(tide_table_rowset(s), cap.base, init, sizeof init);
  CHECK_MSG(!strcmp(init, "[1 3 5 41 43 45]"), "initial %s", init);
  tide_listener_t *l = tide_table_listen(s, on_capture, &cap, &err);
  static const char *const expect[] = {
      "removed=[] added=[4] modified=[] mcols=0 shifts=[]",
      "removed=[] added=[27] modified=[] mcols=0 shifts=[1..3-15 4..4+21 5..5+24]",
      "removed=[-12 43] added=[43] modified=[] mcols=0 shifts=[]",
      "removed=[] added=[] modified=[45] mcols=2 shifts=[]",
      "removed=[] added=[] modified=[41] mcols=1 shifts=[]",
      "removed=[] added=[64 65 88 89] modified=[] mcols=0 shifts=[]",
  };
  static const int64_t order[][11] = {
      {10, 20, 25, 30, 40, 50, 60},     {10, 20, 25, 26, 30, 40, 50, 60},
      {10, 25, 26, 30, 40, 45, 60},     {10, 25, 26, 30, 40, 45, 60},
      {10, 25, 26, 30, 40, 45, 60},     {10, 25, 26, 30, 40, 45, 60, 70, 71, 72, 73},
  };
  static const size_t norder[] = {7, 8, 7, 7, 7, 11};
  for (size_t i = 0; i < sizeof expect / sizeof *expect; i++) {
    cap.text[0] = 0;
    CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
    CHECK_MSG(!strcmp(cap.text, expect[i]), "cycle %zu: got %s, expected %s", i + 1, cap.text,
              expect[i]);
    CHECK(tide_table_size(s) == norder[i]);
    for (size_t r = 0; r < norder[i]; r++)
      CHECK_MSG(tu_cell_f64(s, "I", r) == (double)order[i][r], "cycle %zu row %zu: %s", i + 1,
                r, tu_cell(s, "I", r));
  }
  tide_listener_remove(l);
  tide_table_free(s);
  tide_table_free(src);
  tide_graph_free(g);
  tide__sort_incr_tune(0, 0);
}

/* Errors: bad columns on ticking inputs; the result kinds. */
static void test_errors(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide_table_t *std = tc_source_create(g, TIDE_KIND_STANDARD, 5, NULL);
  tide_table_t *app = tc_source_create(g, TIDE_KIND_APPEND_ONLY, 6, NULL);
  tide_table_t *blk = tc_source_create(g, TIDE_KIND_BLINK, 7, NULL);
  const char *bad[] = {"Nope"};
  tide_table_t *r = tide_sort(std, bad, 1, &err);
  CHECK(r == NULL && strstr(err.msg, "sort") && strstr(err.msg, "Nope"));
  const char *by[] = {"I"};
  r = tide_sort(app, by, 1, &err);
  CHECK(r && tide_table_kind(r) == TIDE_KIND_STANDARD && tide_table_graph(r) == g);
  tide_table_free(r);
  r = tide_sort_descending(blk, by, 1, &err);
  CHECK(r && tide_table_kind(r) == TIDE_KIND_BLINK);
  tide_table_free(r);
  r = tide_sort(std, by, 0, &err); /* no columns: the same table */
  CHECK(r == std);
  tide_table_free(r);
  tide_table_free(std);
  tide_table_free(app);
  tide_table_free(blk);
  tide_graph_free(g);
}

/* Out of memory: creating the result (a sweep over every allocation), and
 * inside a cycle (allocations fail from the k-th on while the sort's
 * notify runs: the cycle reports TIDE_ERR_NOMEM, nothing crashes or
 * leaks). */
typedef struct oom_ctx {
  tide_table_t *src;
} oom_ctx;

static void *oom_create(void *ctx, tide_error *err) {
  oom_ctx *o = ctx;
  const char *by[] = {"Sym", "D"};
  static const bool desc[] = {false, true};
  return tide_sort_ex(o->src, by, desc, 2, err);
}

static long g_arm_k = -1;
static void arm_listener(tide_table_t *t, const tide_update_t *u, void *ctx) {
  TIDE_UNUSED(t);
  TIDE_UNUSED(u);
  TIDE_UNUSED(ctx);
  if (g_arm_k >= 0) tu_oom_arm_sticky(g_arm_k);
}

static void test_oom(void) {
  tide_error err;
  tide__sort_incr_tune(3, 2);
  tide_graph_t *g = tide_graph_create(&err);
  oom_ctx o = {tc_source_create(g, TIDE_KIND_STANDARD, 11, NULL)};
  tide_table_t *r = tu_oom_sweep("sort of a ticking table", 5000, oom_create, &o, &err);
  CHECK_OK_PTR(r, err);
  tide_table_free(r);
  tide_table_free(o.src);
  tide_graph_free(g);
  int nomem = 0;
  for (long k = 0; k < 60; k += 3) {
    g = tide_graph_create(&err);
    tide_table_t *src = tc_source_create(g, TIDE_KIND_STANDARD, 100 + (uint64_t)k, NULL);
    const char *by[] = {"I"};
    r = tide_sort(src, by, 1, &err);
    CHECK_OK_PTR(r, err);
    CHECK_OK(tide_graph_run_cycles(g, 3, &err), err);
    tide_listener_t *l = tide_table_listen(src, arm_listener, NULL, &err);
    g_arm_k = k;
    tide_status st = tide_graph_run_cycles(g, 1, &err);
    tu_oom_disarm();
    g_arm_k = -1;
    CHECK_MSG(st == TIDE_OK || st == TIDE_ERR_NOMEM, "k %ld: %s", k, err.msg);
    nomem += st == TIDE_ERR_NOMEM;
    tide_listener_remove(l);
    tide_table_free(r);
    tide_table_free(src);
    tide_graph_free(g);
  }
  CHECK(nomem > 0);
  tide__sort_incr_tune(0, 0);
}

/* ------------------------------------------------------------- timing */

typedef struct bench_src {
  uint64_t per_cycle, next, rng;
  uint64_t churn; /* rows removed and rows modified (I) per cycle */
  tide_source_t *cols[2];
} bench_src;

static void bench_fill(bench_src *b, uint64_t first, uint64_t n) {
  uint64_t keys[TIDE_CHUNK_SIZE];
  int64_t iv[TIDE_CHUNK_SIZE];
  double dv[TIDE_CHUNK_SIZE];
  for (uint64_t k = first; k < first + n; k += TIDE_CHUNK_SIZE) {
    uint32_t cnt = (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, first + n - k);
    for (uint32_t j = 0; j < cnt; j++) {
      b->rng = b->rng * 6364136223846793005ULL + 1442695040888963407ULL;
      keys[j] = k + j;
      iv[j] = (int64_t)(b->rng >> 20);
      dv[j] = (double)(b->rng >> 40);
    }
    tide__source_paged_set(b->cols[0], keys, cnt, iv);
    tide__source_paged_set(b->cols[1], keys, cnt, dv);
  }
}

static tide_status bench_refresh(tide_gnode_t *n, tide_error *err) {
  bench_src *b = n->state;
  if (!b->per_cycle) return TIDE_OK;
  tide_update_t u = {0};
  tide_rowset_t *rs = tide_rowset_copy(n->table->rowset);
  if (b->churn) {
    /* 2 * churn distinct present keys, alternately removed and modified */
    uint64_t *cand = malloc(2 * b->churn * sizeof *cand);
    uint64_t nc = 0;
    for (uint64_t i = 0; i < 2 * b->churn; i++) {
      b->rng = b->rng * 6364136223846793005ULL + 1442695040888963407ULL;
      uint64_t k = (b->rng >> 16) % b->next;
      if (tide_rowset_contains(rs, k)) cand[nc++] = k;
    }
    qsort(cand, nc, sizeof *cand, tc_cmp_u64);
    uint64_t *rk = malloc((nc + 1) * sizeof *rk), *mk = malloc((nc + 1) * sizeof *mk);
    int64_t *mv = malloc((nc + 1) * sizeof *mv);
    uint64_t nr = 0, nm = 0;
    for (uint64_t i = 0; i < nc; i++) {
      if (i && cand[i] == cand[i - 1]) continue;
      b->rng = b->rng * 6364136223846793005ULL + 1442695040888963407ULL;
      if (b->rng >> 63) {
        rk[nr++] = cand[i];
      } else {
        mk[nm] = cand[i];
        mv[nm++] = (int64_t)(b->rng >> 24) % 1000;
      }
    }
    if (nr) {
      u.removed = tide_rowset_from_keys(rk, nr);
      tide_rowset_minus_inplace(rs, u.removed);
    }
    if (nm) {
      for (uint64_t i = 0; i < nm; i += TIDE_CHUNK_SIZE)
        tide__source_paged_set(b->cols[0], mk + i,
                               (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, nm - i), mv + i);
      u.modified = tide_rowset_from_keys(mk, nm);
      u.modified_cols = calloc(1, sizeof *u.modified_cols);
      u.modified_cols[0] = 1;
      u.ncols = 2;
    }
    free(cand);
    free(rk);
    free(mk);
    free(mv);
  }
  bench_fill(b, b->next, b->per_cycle);
  u.added = tide_rowset_create_range(b->next, b->next + b->per_cycle - 1);
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

/* A larger table with the default layout: 20,000 rows, 3,000 random
 * inserts, 1,000 removes and 1,000 modifications of the sort column per
 * cycle, every update validated and the result compared with the static
 * sort after every cycle. */
static void test_medium(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  bench_src *b = calloc(1, sizeof *b);
  b->rng = 7;
  const char *names[] = {"I", "D"};
  tide_type_t types[] = {TIDE_I64, TIDE_F64};
  for (int c = 0; c < 2; c++) {
    b->cols[c] = tide__source_paged_create(types[c], NULL, &err);
    tide__source_track_prev(b->cols[c], tide__graph_step_ptr(g));
  }
  uint64_t n0 = 20000;
  bench_fill(b, 0, n0);
  b->next = n0;
  tide_rowset_t *rs = tide_rowset_create_range(0, n0 - 1);
  tide_table_t *t = tide_table_create(rs, 2, names, b->cols, &err);
  tide_rowset_free(rs);
  for (int c = 0; c < 2; c++) tide_source_release(b->cols[c]);
  CHECK_OK_PTR(tide__gnode_create(g, t, TIDE_KIND_STANDARD, &bench_vt, NULL, 0, b, &err), err);
  /* modified rows get I in [0, 1000): ties among them */
  const char *by[] = {"I"};
  tide_table_t *s = tide_sort(t, by, 1, &err);
  tide_table_t *sd = tide_sort_descending(t, by, 1, &err);
  CHECK_OK_PTR(s, err);
  CHECK_OK_PTR(sd, err);
  b->per_cycle = 3000;
  b->churn = 1000;
  for (int cyc = 0; cyc < 8 && s && sd; cyc++) {
    CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
    tide_table_t *snap = tc_snapshot(t);
    tide_table_t *s2 = tide_sort(snap, by, 1, &err);
    tide_table_t *sd2 = tide_sort_descending(snap, by, 1, &err);
    CHECK_TABLES(s, s2, 0);
    CHECK_TABLES(sd, sd2, 0);
    tide_table_free(s2);
    tide_table_free(sd2);
    tide_table_free(snap);
  }
  tide_table_free(s);
  tide_table_free(sd);
  tide_table_free(t);
  tide_graph_free(g);
}

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void bench_one(uint64_t n0, uint64_t per, uint64_t churn, uint64_t cycles) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, false);
  bench_src *b = calloc(1, sizeof *b);
  b->rng = 42;
  const char *names[] = {"I", "D"};
  tide_type_t types[] = {TIDE_I64, TIDE_F64};
  for (int c = 0; c < 2; c++) {
    b->cols[c] = tide__source_paged_create(types[c], NULL, &err);
    tide__source_track_prev(b->cols[c], tide__graph_step_ptr(g));
  }
  bench_fill(b, 0, n0);
  b->next = n0;
  tide_rowset_t *rs = tide_rowset_create_range(0, n0 - 1);
  tide_table_t *t = tide_table_create(rs, 2, names, b->cols, &err);
  tide_rowset_free(rs);
  for (int c = 0; c < 2; c++) tide_source_release(b->cols[c]);
  CHECK_OK_PTR(tide__gnode_create(g, t, churn ? TIDE_KIND_STANDARD : TIDE_KIND_APPEND_ONLY,
                                  &bench_vt, NULL, 0, b, &err),
               err);
  b->per_cycle = per;
  b->churn = churn;
  const char *by[] = {"I"};
  double t1 = now_s(), c1 = cpu_s();
  tide_table_t *s = tide_sort(t, by, 1, &err);
  double build = now_s() - t1, cbuild = cpu_s() - c1;
  CHECK_OK_PTR(s, err);
  uint64_t start_rows = b->next;
  double t0 = now_s(), c0 = cpu_s();
  CHECK_OK(tide_graph_run_cycles(g, cycles, &err), err);
  double with = (now_s() - t0) / (double)cycles, cwith = (cpu_s() - c0) / (double)cycles;
  uint64_t end_rows = b->next;
  /* correctness of the final state */
  tide_table_t *snap = tc_snapshot(t);
  tide_table_t *s2 = tide_sort(snap, by, 1, &err);
  CHECK_TABLES(s, s2, 0);
  tide_table_free(s2);
  tide_table_free(snap);
  tide_table_free(s);
  /* the source alone */
  t0 = now_s();
  c0 = cpu_s();
  tide_graph_run_cycles(g, cycles, &err);
  double src_only = (now_s() - t0) / (double)cycles, csrc = (cpu_s() - c0) / (double)cycles;
  printf("bench: sort I, %s input %llu -> %llu rows (keys), %llu random inserts + %llu removes + %llu "
         "modifies/cycle: "
         "%.3f ms/cycle wall, %.3f ms cpu (source alone %.3f / %.3f ms); first build %.1f ms "
         "wall, %.1f ms cpu\n",
         churn ? "standard" : "append-only", (unsigned long long)start_rows,
         (unsigned long long)end_rows, (unsigned long long)per, (unsigned long long)churn,
         (unsigned long long)churn, with * 1e3, cwith * 1e3, src_only * 1e3, csrc * 1e3, build * 1e3, cbuild * 1e3);
  tide_table_free(t);
  tide_graph_free(g);
}

int main(void) {
  const char *b = getenv("TIDE_BENCH");
  if (b && *b && strcmp(b, "0") != 0) {
    /* TIDE_BENCH=N: N rows, both input kinds; TIDE_BENCH=1: 1e5 and 1e6 */
    uint64_t rows = strtoull(b, NULL, 10);
    uint64_t sizes[2] = {100000, 1000000};
    size_t nsizes = 2;
    if (rows > 1) {
      sizes[0] = rows;
      nsizes = 1;
    }
    for (int churn = 0; churn < 2; churn++)
      for (size_t i = 0; i < nsizes; i++) bench_one(sizes[i], 10000, churn ? 10000 : 0, 20);
    return tu_finish("test_incremental_sort (bench)");
  }
  test_errors();
  test_exact();
  test_oom();
  test_medium();
  run_checker();
  return tu_finish("test_incremental_sort");
}
