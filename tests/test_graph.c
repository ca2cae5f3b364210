/*
 * Update graph tests: a diamond of nodes (source -> A, B -> C) checks that
 * every node runs once per step after all its parents, listeners see each
 * update with the previous RowSet readable, empty cycles notify nobody,
 * invalid updates are refused by validation with the table unchanged, and
 * the background thread cycles, answers requests and stops.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched/graph_int.h"
#include "testutil.h"
#include "tide/ops.h"

/* A scripted source: each refresh appends `per_cycle` keys (or publishes
 * what `next` holds when set). */
typedef struct src_state_t {
  uint64_t per_cycle;
  uint64_t next_key;
  tide_update_t *next; /* one-shot custom update */
  tide_rowset_t *next_rowset;
} src_state_t;

static tide_status src_refresh(tide_gnode_t *n, tide_error *err) {
  src_state_t *s = n->state;
  if (s->next) {
    tide_update_t *u = s->next;
    s->next = NULL;
    tide_rowset_t *rs = s->next_rowset;
    s->next_rowset = NULL;
    return tide__gnode_publish(n, u, rs, err);
  }
  if (!s->per_cycle) return TIDE_OK;
  tide_update_t u = {0};
  u.added = tide_rowset_create_range(s->next_key, s->next_key + s->per_cycle - 1);
  tide_rowset_t *rs = tide_rowset_copy(n->table->rowset);
  tide_rowset_insert_range(rs, s->next_key, s->next_key + s->per_cycle - 1);
  s->next_key += s->per_cycle;
  return tide__gnode_publish(n, &u, rs, err);
}

static void src_destroy(tide_gnode_t *n) { free(n->state); }

static const tide_gnode_vt src_vt = {"test_source", src_refresh, NULL, src_destroy};

/* A derived node that mirrors its first parent's RowSet and logs runs. */
static int run_log[64];
static int run_count;

typedef struct der_state_t {
  int id;
} der_state_t;

/* notifies that found no parent update (checked by main: notifies may run
 * on the background thread, where CHECK's counters must not be touched) */
static _Atomic int der_no_update;

static tide_status der_notify(tide_gnode_t *n, tide_error *err) {
  der_state_t *s = n->state;
  if (run_count < 64) run_log[run_count++] = s->id;
  /* Check all parents already ran this step: a parent that published has
   * published_step == step; one that did not is not ahead of us. */
  tide_update_t u = {0};
  const tide_update_t *pu = NULL;
  for (size_t i = 0; i < n->nparents && !pu; i++) pu = tide__gnode_parent_update(n, i);
  if (!pu) {
    der_no_update++;
    return TIDE_OK;
  }
  u.added = pu->added ? tide_rowset_copy(pu->added) : NULL;
  tide_rowset_t *rs = tide_rowset_copy(n->parents[0]->rowset);
  return tide__gnode_publish(n, &u, rs, err);
}

static void der_destroy(tide_gnode_t *n) { free(n->state); }

static const tide_gnode_vt der_vt = {"test_derived", NULL, der_notify, der_destroy};

static tide_table_t *new_table(tide_graph_t *g, tide_table_kind_t kind, const tide_gnode_vt *vt,
                               tide_table_t *const *parents, size_t np, void *state) {
  tide_error err;
  tide_source_t *src = tide__source_paged_create(TIDE_I64, NULL, &err);
  tide_rowset_t *rs = tide_rowset_create();
  const char *names[] = {"X"};
  tide_table_t *t = tide_table_create(rs, 1, names, &src, &err);
  tide_rowset_free(rs);
  tide_source_release(src);
  tide_gnode_t *n = tide__gnode_create(g, t, kind, vt, parents, np, state, &err);
  CHECK_OK_PTR(n, err);
  return t;
}

typedef struct listen_ctx_t {
  int calls;
  uint64_t last_added;
  uint64_t prev_size, cur_size;
} listen_ctx_t;

static void on_update(tide_table_t *t, const tide_update_t *u, void *ctx) {
  listen_ctx_t *c = ctx;
  c->calls++;
  c->last_added = u->added ? tide_rowset_size(u->added) : 0;
  c->prev_size = tide_rowset_size(tide_table_prev_rowset(t));
  c->cur_size = tide_table_size(t);
}

static void test_diamond(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  src_state_t *ss = calloc(1, sizeof *ss);
  ss->per_cycle = 3;
  tide_table_t *s = new_table(g, TIDE_KIND_APPEND_ONLY, &src_vt, NULL, 0, ss);
  der_state_t *da = calloc(1, sizeof *da), *db = calloc(1, sizeof *db), *dc = calloc(1, sizeof *dc);
  da->id = 1;
  db->id = 2;
  dc->id = 3;
  tide_table_t *a = new_table(g, TIDE_KIND_APPEND_ONLY, &der_vt, &s, 1, da);
  /* B hangs below A too, so it is at level 2, like C's other parent. */
  tide_table_t *b = new_table(g, TIDE_KIND_APPEND_ONLY, &der_vt, &a, 1, db);
  tide_table_t *cp[2] = {a, b};
  tide_table_t *c = new_table(g, TIDE_KIND_APPEND_ONLY, &der_vt, cp, 2, dc);
  CHECK(tide_table_is_refreshing(c) && tide_table_graph(c) == g);
  listen_ctx_t lc = {0};
  tide_listener_t *l = tide_table_listen(c, on_update, &lc, &err);
  CHECK_OK_PTR(l, err);
  run_count = 0;
  CHECK_OK(tide_graph_run_cycles(g, 4, &err), err);
  CHECK(tide_graph_step(g) == 4 && tide_graph_phase(g) == TIDE_PHASE_IDLE);
  /* Each step: A, B, C exactly once, in that order. */
  CHECK(run_count == 12);
  for (int i = 0; i < run_count; i++) CHECK(run_log[i] == 1 + i % 3);
  CHECK(tide_table_size(c) == 12 && tide_table_size(a) == 12);
  CHECK(lc.calls == 4 && lc.last_added == 3 && lc.prev_size == 9 && lc.cur_size == 12);
  /* Outside a cycle the previous RowSet is the current one. */
  CHECK(tide_table_prev_rowset(c) == tide_table_rowset(c));
  /* Empty cycles notify nobody. */
  ss->per_cycle = 0;
  run_count = 0;
  CHECK_OK(tide_graph_run_cycles(g, 2, &err), err);
  CHECK(run_count == 0 && lc.calls == 4);
  /* An append-only source that removes a row is refused; nothing changes. */
  tide_update_t *bad = calloc(1, sizeof *bad);
  bad->removed = tide_rowset_create_range(0, 0);
  ss->next = bad;
  ss->next_rowset = tide_rowset_create_range(1, 11);
  tide_status st = tide_graph_run_cycles(g, 1, &err);
  CHECK(st == TIDE_ERR_STATE && strstr(err.msg, "append-only"));
  CHECK(tide_table_size(s) == 12);
  free(bad);
  /* Adding a key already present is refused. */
  bad = calloc(1, sizeof *bad);
  bad->added = tide_rowset_create_range(5, 5);
  ss->next = bad;
  ss->next_rowset = tide_rowset_copy(tide_table_rowset(s));
  st = tide_graph_run_cycles(g, 1, &err);
  CHECK(st == TIDE_ERR_STATE && strstr(err.msg, "already present"));
  free(bad);
  tide_listener_remove(l);
  /* Background cycling with a requested cycle, then stop. */
  ss->per_cycle = 1;
  uint64_t before = tide_graph_step(g);
  CHECK_OK(tide_graph_start(g, 1000000000ULL, &err), err);
  CHECK(tide_graph_run_cycles(g, 1, &err) == TIDE_ERR_STATE);
  tide_graph_request_cycle(g);
  for (int i = 0; i < 200 && tide_graph_step(g) == before; i++) usleep(5000);
  tide_graph_read_lock(g);
  uint64_t seen = tide_table_size(c);
  CHECK(tide_table_size(a) == seen); /* consistent: both at the same step */
  tide_graph_read_unlock(g);
  CHECK_OK(tide_graph_stop(g, &err), err);
  CHECK(tide_graph_step(g) > before && seen >= 13);
  tide_table_free(c);
  tide_table_free(b);
  tide_table_free(a);
  tide_table_free(s);
  tide_graph_free(g);
}

static void test_static_listen(void) {
  tide_error err;
  int64_t v[2] = {1, 2};
  const char *names[] = {"X"};
  tide_type_t types[] = {TIDE_I64};
  const void *cols[] = {v};
  tide_table_t *t = tu_table(2, 1, names, types, cols);
  CHECK(tide_table_listen(t, on_update, NULL, &err) == NULL && err.status == TIDE_ERR_INVALID);
  CHECK(tide_table_graph(t) == NULL && !tide_table_is_refreshing(t));
  tide_table_free(t);
  CHECK(tide_graph_default() != NULL && tide_graph_default() == tide_graph_default());
}

static void test_validate_rules(void) {
  tide_error err;
  tide_rowset_t *prev = tide_rowset_create_range(0, 9);
  tide_update_t u = {0};
  /* blink: must remove everything */
  u.removed = tide_rowset_create_range(0, 4);
  u.added = tide_rowset_create_range(10, 12);
  tide_rowset_t *cur = tide_rowset_create_range(5, 12);
  CHECK(tide__update_validate(&u, prev, cur, TIDE_KIND_STANDARD, "t", &err) == TIDE_OK);
  CHECK(tide__update_validate(&u, prev, cur, TIDE_KIND_BLINK, "t", &err) == TIDE_ERR_STATE);
  CHECK(tide__update_validate(&u, prev, cur, TIDE_KIND_ADD_ONLY, "t", &err) == TIDE_ERR_STATE);
  /* a shift moving 5..9 up by 100 */
  tide_shift_t sh = {5, 9, 100};
  u.shifts = &sh;
  u.nshifts = 1;
  tide_rowset_t *cur2 = tide_rowset_create_range(105, 109);
  tide_rowset_insert_range(cur2, 10, 12);
  CHECK(tide__update_validate(&u, prev, cur2, TIDE_KIND_STANDARD, "t", &err) == TIDE_OK);
  CHECK(tide__update_validate(&u, prev, cur, TIDE_KIND_STANDARD, "t", &err) == TIDE_ERR_STATE);
  u.shifts = NULL;
  u.nshifts = 0;
  /* modified outside the table, and modified without columns */
  u.modified = tide_rowset_create_range(20, 20);
  CHECK(tide__update_validate(&u, prev, cur, TIDE_KIND_STANDARD, "t", &err) == TIDE_ERR_STATE);
  tide_rowset_free(u.modified);
  u.modified = tide_rowset_create_range(6, 6);
  CHECK(tide__update_validate(&u, prev, cur, TIDE_KIND_STANDARD, "t", &err) == TIDE_ERR_STATE);
  uint64_t bits = 1;
  u.modified_cols = &bits;
  u.ncols = 1;
  CHECK(tide__update_validate(&u, prev, cur, TIDE_KIND_STANDARD, "t", &err) == TIDE_OK);
  CHECK(tide_update_col_modified(&u, 0) && !tide_update_col_modified(&u, 1));
  u.modified_cols = NULL;
  tide_rowset_free(u.removed);
  tide_rowset_free(u.added);
  tide_rowset_free(u.modified);
  tide_rowset_free(prev);
  tide_rowset_free(cur);
  tide_rowset_free(cur2);
}

/* A source that rewrites row 0 with the step number each cycle. */
static tide_status mod_refresh(tide_gnode_t *n, tide_error *err) {
  uint64_t key = 0;
  int64_t v = (int64_t)tide__graph_current_step(n->graph);
  tide_source_t *src = n->table->cols[0];
  TIDE_TRY(tide__source_paged_set(src, &key, 1, &v));
  tide_update_t u = {0};
  u.modified = tide_rowset_create_range(0, 0);
  u.modified_cols = calloc(1, sizeof *u.modified_cols);
  u.modified_cols[0] = 1;
  u.ncols = 1;
  return tide__gnode_publish(n, &u, NULL, err);
}
static const tide_gnode_vt mod_vt = {"test_modifier", mod_refresh, NULL, NULL};

static void on_mod(tide_table_t *t, const tide_update_t *u, void *ctx) {
  int64_t *seen = ctx;
  tide_rowseq_t seq = {0, NULL, 0, 1};
  tide_source_fill_prev(tide_table_col_source(t, 0), &seq, &seen[0]);
  tide_source_fill(tide_table_col_source(t, 0), &seq, &seen[1]);
}

static void test_prev_values(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide_source_t *src = tide__source_paged_create(TIDE_I64, NULL, &err);
  CHECK_OK(tide__source_track_prev(src, tide__graph_step_ptr(g)), err);
  uint64_t key = 0;
  int64_t v0 = -7;
  CHECK(tide__source_paged_set(src, &key, 1, &v0) == TIDE_OK);
  tide_rowset_t *rs = tide_rowset_create_range(0, 0);
  const char *names[] = {"X"};
  tide_table_t *t = tide_table_create(rs, 1, names, &src, &err);
  tide_rowset_free(rs);
  tide_source_release(src);
  CHECK_OK_PTR(tide__gnode_create(g, t, TIDE_KIND_STANDARD, &mod_vt, NULL, 0, NULL, &err), err);
  int64_t seen[2] = {0, 0};
  tide_listener_t *l = tide_table_listen(t, on_mod, seen, &err);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(seen[0] == -7 && seen[1] == 1); /* during the cycle: old and new */
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(seen[0] == 1 && seen[1] == 2);
  /* After the cycle, previous values are the current ones. */
  int64_t after = 0;
  tide_rowseq_t seq = {0, NULL, 0, 1};
  tide_source_fill_prev(tide_table_col_source(t, 0), &seq, &after);
  CHECK(after == 2);
  tide_listener_remove(l);
  tide_table_free(t);
  tide_graph_free(g);
}

/* Review tests. */

/* A listener that removes itself inside the callback; the next listener
 * must still run (no use of the freed handle). */
typedef struct self_rm_t {
  tide_listener_t *self;
  int calls;
} self_rm_t;

static void on_self_remove(tide_table_t *t, const tide_update_t *u, void *ctx) {
  TIDE_UNUSED(t);
  TIDE_UNUSED(u);
  self_rm_t *c = ctx;
  c->calls++;
  tide_listener_remove(c->self);
  c->self = NULL;
}

static void test_listener_remove_in_cycle(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  src_state_t *ss = calloc(1, sizeof *ss);
  ss->per_cycle = 2;
  tide_table_t *s = new_table(g, TIDE_KIND_APPEND_ONLY, &src_vt, NULL, 0, ss);
  self_rm_t a = {0};
  a.self = tide_table_listen(s, on_self_remove, &a, &err);
  listen_ctx_t lc = {0};
  tide_listener_t *l2 = tide_table_listen(s, on_update, &lc, &err);
  CHECK_OK_PTR(l2, err);
  CHECK_OK(tide_graph_run_cycles(g, 2, &err), err);
  CHECK(a.calls == 1 && lc.calls == 2 && lc.cur_size == 4);
  /* a callback removing the listener that comes after it: that one is not
   * called any more, in this cycle either */
  self_rm_t b = {0};
  tide_listener_t *lb = tide_table_listen(s, on_self_remove, &b, &err);
  CHECK_OK_PTR(lb, err);
  listen_ctx_t lc3 = {0};
  b.self = tide_table_listen(s, on_update, &lc3, &err);
  CHECK_OK(tide_graph_run_cycles(g, 2, &err), err);
  CHECK(b.calls == 2 && lc3.calls == 0 && lc.calls == 4);
  tide_listener_remove(lb);
  tide_listener_remove(l2);
  tide_table_free(s);
  tide_graph_free(g);
}

/* A derived node that fails when told to. */
static int fail_next;
static tide_status failing_notify(tide_gnode_t *n, tide_error *err) {
  if (fail_next) {
    fail_next = 0;
    return tide_error_set(err, TIDE_ERR_INVALID, "test_failing: asked to fail");
  }
  return der_notify(n, err);
}
static const tide_gnode_vt failing_vt = {"test_failing", NULL, failing_notify, der_destroy};

/* A node failing mid-cycle: its siblings still see this cycle's update, the
 * failed node stops updating, and the next cycle runs normally. */
static void test_error_mid_cycle(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  src_state_t *ss = calloc(1, sizeof *ss);
  ss->per_cycle = 3;
  tide_table_t *s = new_table(g, TIDE_KIND_APPEND_ONLY, &src_vt, NULL, 0, ss);
  der_state_t *da = calloc(1, sizeof *da), *db = calloc(1, sizeof *db);
  da->id = 1;
  db->id = 2;
  tide_table_t *a = new_table(g, TIDE_KIND_APPEND_ONLY, &failing_vt, &s, 1, da);
  tide_table_t *b = new_table(g, TIDE_KIND_APPEND_ONLY, &der_vt, &s, 1, db);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  fail_next = 1;
  tide_status st = tide_graph_run_cycles(g, 1, &err);
  CHECK(st == TIDE_ERR_INVALID && strstr(err.msg, "asked to fail"));
  CHECK(tide_table_size(s) == 6 && tide_table_size(b) == 6);
  CHECK(tide_table_size(a) == 3); /* failed: stops updating */
  st = tide_graph_run_cycles(g, 2, &err);
  CHECK_OK(st, err);
  CHECK(tide_table_size(s) == 12 && tide_table_size(b) == 12 && tide_table_size(a) == 3);
  tide_table_free(b);
  tide_table_free(a);
  tide_table_free(s);
  tide_graph_free(g);
}

/* A listener freeing another refreshing table inside the cycle: the nodes
 * after it in the cycle's lists still run. */
static void on_free_table(tide_table_t *t, const tide_update_t *u, void *ctx) {
  TIDE_UNUSED(t);
  TIDE_UNUSED(u);
  tide_table_t **victim = ctx;
  tide_table_free(*victim);
  *victim = NULL;
}

static void test_free_in_cycle(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide_table_t *src[3];
  for (int i = 0; i < 3; i++) {
    src_state_t *ss = calloc(1, sizeof *ss);
    ss->per_cycle = 2;
    src[i] = new_table(g, TIDE_KIND_APPEND_ONLY, &src_vt, NULL, 0, ss);
  }
  tide_table_t *victim = src[0];
  tide_listener_t *l = tide_table_listen(src[1], on_free_table, &victim, &err);
  CHECK_OK_PTR(l, err);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(victim == NULL);
  CHECK(tide_table_size(src[1]) == 2 && tide_table_size(src[2]) == 2);
  tide_listener_remove(l);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(tide_table_size(src[1]) == 4 && tide_table_size(src[2]) == 4);
  tide_table_free(src[2]);
  tide_table_free(src[1]);
  tide_graph_free(g);
}

/* Creating a derived table while the graph cycles on its background
 * thread: the creator holds the read lock so that its snapshot of the
 * parent and the node's registration happen between two cycles (no cycle
 * can be missed). This must neither deadlock nor race. */
static void test_create_while_cycling(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  src_state_t *ss = calloc(1, sizeof *ss);
  ss->per_cycle = 5;
  tide_table_t *s = new_table(g, TIDE_KIND_APPEND_ONLY, &src_vt, NULL, 0, ss);
  CHECK_OK(tide_graph_start(g, 1000000ULL, &err), err); /* 1 ms */
  tide_table_t *m[20];
  for (int i = 0; i < 20; i++) {
    usleep(500);
    tide_graph_read_lock(g);
    /* a mirror of s as of now */
    tide_source_t *src = tide__source_paged_create(TIDE_I64, NULL, &err);
    const char *names[] = {"X"};
    tide_rowset_t *rs = tide_rowset_copy(tide_table_rowset(s));
    m[i] = tide_table_create(rs, 1, names, &src, &err);
    tide_rowset_free(rs);
    tide_source_release(src);
    der_state_t *d = calloc(1, sizeof *d);
    d->id = 9;
    CHECK_OK_PTR(tide__gnode_create(g, m[i], TIDE_KIND_APPEND_ONLY, &der_vt, &s, 1, d, &err),
                 err);
    tide_graph_read_unlock(g);
  }
  /* select/update/drop/rename take the read lock themselves */
  tide_table_t *o[40];
  for (int i = 0; i < 40; i++) {
    usleep(300);
    const char *f[] = {"Y = X + 1"};
    const char *d[] = {"X"};
    const char *rn[] = {"Z=X"};
    if (i % 4 == 2) {
      tide_table_t *up = tide_update(s, f, 1, &err);
      o[i] = up ? tide_drop_columns(up, d, 1, &err) : NULL;
      tide_table_free(up);
    } else {
      o[i] = i % 4 == 0 ? tide_update(s, f, 1, &err)
             : i % 4 == 1 ? tide_select(s, f, 1, &err)
                          : tide_rename_columns(s, rn, 1, &err);
    }
    CHECK_OK_PTR(o[i], err);
  }
  usleep(5000);
  CHECK_OK(tide_graph_stop(g, &err), err);
  for (int i = 0; i < 20; i++) {
    CHECK(tide_table_size(m[i]) == tide_table_size(s));
    tide_table_free(m[i]);
  }
  for (int i = 0; i < 40; i++) {
    CHECK(o[i] && tide_table_size(o[i]) == tide_table_size(s));
    tide_table_free(o[i]);
  }
  /* freeing a refreshing table while holding the read lock, too */
  tide_table_t *x = tide_where(s, "X >= 0", &err);
  CHECK_OK_PTR(x, err);
  CHECK_OK(tide_graph_start(g, 1000000ULL, &err), err);
  usleep(3000);
  tide_graph_read_lock(g);
  tide_table_free(x);
  tide_graph_read_unlock(g);
  CHECK_OK(tide_graph_stop(g, &err), err);
  tide_table_free(s);
  tide_graph_free(g);
}

/* ------------------------------------------------------------ parallel levels
 * One source (appends and modifies a value column) feeds a level of where /
 * update nodes (parallel-safe), test nodes that run on workers and fail on
 * request, and a serial test node; a second level hangs below. The same
 * script runs with parallel notification on (4 threads) and off: listener
 * logs (order and contents), final tables and the reported errors must be
 * identical, and on the parallel graph some nodes must have run on other
 * threads. */

typedef struct vsrc_t {
  tide_source_t *x;
  uint64_t n, rng;
} vsrc_t;

static tide_status vsrc_refresh(tide_gnode_t *n, tide_error *err) {
  vsrc_t *v = n->state;
  tu_rng g = {v->rng};
  uint64_t keys[64];
  int64_t vals[64];
  tide_update_t u = {0};
  if (v->n) { /* modify 10 existing rows */
    for (int i = 0; i < 10; i++) {
      keys[i] = tu_below(&g, v->n);
      vals[i] = (int64_t)tu_below(&g, 1000);
    }
    tide__source_paged_set(v->x, keys, 10, vals);
    u.modified = tide_rowset_from_keys(keys, 10);
    u.modified_cols = calloc(1, sizeof *u.modified_cols);
    u.modified_cols[0] = 1;
    u.ncols = 1;
  }
  for (int i = 0; i < 40; i++) {
    keys[i] = v->n + (uint64_t)i;
    vals[i] = (int64_t)tu_below(&g, 1000);
  }
  tide__source_paged_set(v->x, keys, 40, vals);
  u.added = tide_rowset_create_range(v->n, v->n + 39);
  v->n += 40;
  v->rng = g.s;
  return tide__gnode_publish(n, &u, tide_rowset_create_range(0, v->n - 1), err);
}
static void vsrc_destroy(tide_gnode_t *n) { free(n->state); }
static const tide_gnode_vt vsrc_vt = {"test_values", vsrc_refresh, NULL, vsrc_destroy};

static pthread_t par_main;
static _Atomic int par_on_workers;

typedef struct pnode_t {
  int id;
  uint64_t fail_step; /* fail in this step (0: never) */
} pnode_t;

/* Mirrors its parent's RowSet (added rows only: the parent appends). */
static tide_status pnode_notify(tide_gnode_t *n, tide_error *err) {
  pnode_t *s = n->state;
  if (!pthread_equal(pthread_self(), par_main)) par_on_workers++;
  if (s->fail_step && tide__graph_current_step(n->graph) == s->fail_step) {
    if (s->id == 1) usleep(20000); /* finish after node 2 when run beside it */
    return tide_error_set(err, TIDE_ERR_INVALID, "test_pnode %d: asked to fail", s->id);
  }
  const tide_update_t *pu = tide__gnode_parent_update(n, 0);
  if (!pu) return TIDE_OK;
  tide_update_t u = {0};
  u.added = pu->added ? tide_rowset_copy(pu->added) : NULL;
  return tide__gnode_publish(n, &u, tide_rowset_copy(n->parents[0]->rowset), err);
}
static void pnode_destroy(tide_gnode_t *n) { free(n->state); }
static const tide_gnode_vt pnode_vt = {"test_pnode", NULL, pnode_notify, pnode_destroy};

typedef struct par_log_t {
  char text[1 << 16];
  size_t len;
} par_log_t;

typedef struct par_listen_t {
  par_log_t *log;
  int id;
} par_listen_t;

static void par_on_update(tide_table_t *t, const tide_update_t *u, void *ctx) {
  par_listen_t *c = ctx;
  if (!pthread_equal(pthread_self(), par_main)) par_on_workers += 1000; /* never */
  size_t room = sizeof c->log->text - c->log->len;
  int w = snprintf(c->log->text + c->log->len, room, "%d:+%llu-%llu~%llu=%llu ", c->id,
                   (unsigned long long)(u->added ? tide_rowset_size(u->added) : 0),
                   (unsigned long long)(u->removed ? tide_rowset_size(u->removed) : 0),
                   (unsigned long long)(u->modified ? tide_rowset_size(u->modified) : 0),
                   (unsigned long long)tide_table_size(t));
  if (w > 0 && (size_t)w < room) c->log->len += (size_t)w;
}

enum { PAR_N = 13 };

/* Runs the script; fills log and the final tables (caller frees). */
static void par_scenario(bool parallel, par_log_t *log, tide_table_t **out, char errs[2][256]) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  tide__graph_set_parallel(g, parallel);
  vsrc_t *vs = calloc(1, sizeof *vs);
  vs->rng = 77;
  vs->x = tide__source_paged_create(TIDE_I64, NULL, &err);
  tide__source_track_prev(vs->x, tide__graph_step_ptr(g));
  tide_rowset_t *rs = tide_rowset_create();
  const char *names[] = {"X"};
  tide_table_t *s = tide_table_create(rs, 1, names, &vs->x, &err);
  tide_rowset_free(rs);
  tide_source_release(vs->x);
  CHECK_OK_PTR(tide__gnode_create(g, s, TIDE_KIND_STANDARD, &vsrc_vt, NULL, 0, vs, &err), err);
  /* level 1: where x6, update x2, two failing parallel test nodes, one
   * serial test node; level 2: where over an update, where over a where */
  static const char *filters[] = {"X % 3 == 0", "X > 500", "X < 100", "X % 7 != 1", "X >= 0", "X > 2000"};
  int k = 0;
  for (int i = 0; i < 6; i++) out[k++] = tide_where(s, filters[i], &err);
  const char *f1[] = {"Y = X * 2", "Z = X % 10"};
  out[k++] = tide_update(s, f1, 2, &err);
  out[k++] = tide_update(s, f1 + 1, 1, &err);
  for (int i = 0; i < 3; i++) {
    pnode_t *ps = calloc(1, sizeof *ps);
    ps->id = i + 1;
    ps->fail_step = i < 2 ? 3 : 0;
    tide_table_t *t = new_table(g, TIDE_KIND_APPEND_ONLY, &pnode_vt, &s, 1, ps);
    ((tide_gnode_t *)t->node)->parallel = i < 2; /* node 3 stays serial */
    out[k++] = t;
  }
  out[k++] = tide_where(out[6], "Y % 4 == 0", &err);
  for (int i = 0; i < k; i++) CHECK_OK_PTR(out[i], err);
  CHECK(k == PAR_N - 1);
  out[PAR_N - 1] = s;
  static par_listen_t ctxs[2][PAR_N];
  par_listen_t *ctx = ctxs[parallel];
  for (int i = 0; i < PAR_N; i++) {
    ctx[i] = (par_listen_t){log, i};
    CHECK_OK_PTR(tide_table_listen(out[i], par_on_update, &ctx[i], &err), err);
  }
  for (int c = 1; c <= 6; c++) {
    tide_status st = tide_graph_run_cycles(g, 1, &err);
    if (c == 3) { /* both test nodes fail: the first in queue order is reported */
      CHECK(st == TIDE_ERR_INVALID && strstr(err.msg, "test_pnode 1: asked to fail"));
      snprintf(errs[0], 256, "%s", err.msg);
    } else {
      CHECK_OK(st, err);
    }
  }
  snprintf(errs[1], 256, "%llu", (unsigned long long)tide_table_size(out[8]));
  /* failed nodes stopped after step 2; the serial one kept up */
  CHECK(tide_table_size(out[8]) == 80 && tide_table_size(out[9]) == 80);
  CHECK(tide_table_size(out[10]) == 240 && tide_table_size(s) == 240);
}

static void test_parallel_levels(void) {
  par_main = pthread_self();
  int threads = tide_get_threads();
  CHECK(tide_set_threads(4, NULL) == TIDE_OK);
  static par_log_t logs[2];
  tide_table_t *res[2][PAR_N];
  char errs[2][2][256];
  for (int p = 0; p < 2; p++) {
    logs[p].len = 0;
    int before = par_on_workers;
    par_scenario(p == 1, &logs[p], res[p], errs[p]);
    if (p == 0) CHECK(par_on_workers == before); /* off: everything on the writer */
    else CHECK_MSG(par_on_workers > before && par_on_workers < 1000,
                   "parallel notification: %d test-node runs on workers", par_on_workers - before);
  }
  CHECK_MSG(logs[0].len == logs[1].len && memcmp(logs[0].text, logs[1].text, logs[0].len) == 0,
            "listener logs differ:\n serial:   %.300s\n parallel: %.300s", logs[0].text, logs[1].text);
  CHECK(strcmp(errs[0][0], errs[1][0]) == 0 && strcmp(errs[0][1], errs[1][1]) == 0);
  for (int i = 0; i < PAR_N; i++) CHECK_TABLES(res[0][i], res[1][i], 0);
  /* the parallel graph cycling on its own thread while this one reads
   * consistent states (each where result is a subset of the source) */
  tide_graph_t *pg = tide_table_graph(res[1][0]);
  tide_error err;
  CHECK_OK(tide_graph_start(pg, 1000000ULL, &err), err); /* 1 ms */
  int reads = 0, bad = 0;
  for (int r = 0; r < 30; r++) {
    usleep(1000);
    tide_graph_read_lock(pg);
    uint64_t n = tide_table_size(res[1][PAR_N - 1]);
    for (int i = 0; i < 6; i++) {
      const tide_rowset_t *w = tide_table_rowset(res[1][i]);
      if (tide_rowset_size(w) > n || (!tide_rowset_is_empty(w) && tide_rowset_last(w) >= n)) bad++;
    }
    if (tide_table_size(res[1][10]) != n) bad++; /* the serial mirror */
    tide_graph_read_unlock(pg);
    reads++;
  }
  CHECK_OK(tide_graph_stop(pg, &err), err);
  CHECK(reads == 30 && bad == 0 && tide_table_size(res[1][PAR_N - 1]) > 240);
  for (int p = 0; p < 2; p++) {
    tide_graph_t *g = tide_table_graph(res[p][0]);
    for (int i = 0; i < PAR_N; i++) tide_table_free(res[p][i]);
    tide_graph_free(g);
  }
  tide_set_threads(threads, NULL);
}

int main(void) {
  test_create_while_cycling();
  test_free_in_cycle();
  test_listener_remove_in_cycle();
  test_error_mid_cycle();
  test_prev_values();
  test_diamond();
  test_static_listen();
  test_validate_rules();
  test_parallel_levels();
  CHECK(der_no_update == 0);
  return tu_finish("test_graph");
}
