/*
 * The update graph: logical clock, single-writer cycles, dependency-ordered
 * notification, listeners, and the reader/writer lock.
 *
 * Consistency: the writer holds `lock` exclusively for the whole Updating
 * phase; readers on other threads take it shared (tide_graph_read_lock),
 * so they only ever see Idle-phase, consistent state. Structure changes
 * (creating or freeing a refreshing table, listeners) take the structure
 * mutex `smu`, except on the writer thread inside a cycle; the writer
 * holds `smu` for the whole cycle, taken after `lock`. So a thread holding
 * the read lock may create a derived table (snapshot of its parents, then
 * registration) with no cycle in between, and without deadlocking.
 *
 * Order: a cycle refreshes every source node (level 0) in creation order,
 * then processes queued nodes level by level; a node's level exceeds all
 * its parents', so it runs after all of them, once per step.
 *
 * Parallel notification: the nodes of one level never depend on each other
 * (a child's level exceeds its parents'), so those that declare themselves
 * parallel-safe (n->parallel, see graph_int.h) run concurrently on an
 * OpenMP team; the others run first, serially, in queue order. What a
 * notify shares with its siblings was audited: parents' RowSets, updates
 * and sources are only read (reads are thread-safe: RowSets are immutable
 * once published and copies share buckets with atomic counts; fills use
 * caller memory); symbol dictionaries are interned into by sources (level
 * 0, serial) and by an operation only into its own result's dictionary;
 * tide_malloc's hooks are plain function pointers set before use. What is
 * not thread-safe stays on the writer thread: within levels >= 1,
 * tide__gnode_publish only installs the node's own update and RowSet; the
 * graph's lists (published, pending children), listener calls and error
 * bookkeeping happen after the whole level ran, walking it in queue order.
 * So updates, listener order and the reported error (the first failing
 * node in queue order) are the same for any thread count and with
 * TIDE_GRAPH_PARALLEL=0 (which runs every node on the writer). Worker
 * threads count as the writer (tide__graph_in_cycle) while they run a
 * node. OpenMP regions inside a notify on a worker are nested regions:
 * with libgomp's default (no nested parallelism) they run on one thread,
 * so a level is parallelised either across its nodes (two or more
 * parallel-safe nodes queued) or inside its single node, not both.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

#include "sched/graph_int.h"

#define DEFAULT_PERIOD_NS 100000000ULL

/* ThreadSanitizer does not see libgomp's synchronisation (libgomp is not
 * instrumented): tell it that the writer's state before a parallel level
 * happens-before the workers' runs, which happen-before the writer's walk
 * after it (what the OpenMP fork and join guarantee). */
#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define TSAN_ACQUIRE(p) __tsan_acquire((void *)(p))
#define TSAN_RELEASE(p) __tsan_release((void *)(p))
#else
#define TSAN_ACQUIRE(p) ((void)(p))
#define TSAN_RELEASE(p) ((void)(p))
#endif

typedef struct node_list_t {
  tide_gnode_t **items;
  size_t n, cap;
} node_list_t;

/* One queued node of the level being run. */
typedef struct level_job_t {
  tide_status st;
  bool run;
  tide_error err;
} level_job_t;

struct tide_graph_s {
  pthread_rwlock_t lock;
  pthread_mutex_t smu;    /* structure changes; the writer holds it during a cycle */
  _Atomic uint64_t step;
  _Atomic uint64_t epoch; /* changes at the start and at the end of a cycle */
  _Atomic int phase;
  node_list_t nodes;      /* every node, creation order */
  node_list_t *pending;   /* per level, this step */
  uint32_t nlevels;
  node_list_t published;  /* nodes that published this step */
  node_list_t failed;     /* nodes whose refresh/notify failed: they stop updating */
  bool holes;             /* nodes released inside the cycle (NULL entries) */
  bool validate;
  bool parallel;          /* run parallel-safe nodes of a level concurrently */
  bool profile;           /* TIDE_GRAPH_PROFILE: per-node time, see tide_gnode_s */
  bool deferring;         /* publish leaves lists and listeners to run_level */
  level_job_t *jobs;      /* run_level scratch */
  size_t jobcap;
  tide_clock_fn clock;
  void *clock_ctx;
  /* background cycling */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t thread;
  bool running, stop_req, cycle_req, joinable;
  uint64_t period_ns;
  tide_status bg_status;
  tide_error bg_err;
};

static bool list_push(node_list_t *l, tide_gnode_t *n) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    tide_gnode_t **items = tide_realloc(l->items, cap * sizeof *items);
    if (!items) return false;
    l->items = items;
    l->cap = cap;
  }
  l->items[l->n++] = n;
  return true;
}

/* Inside a cycle the lists being walked must not move: a node released
 * then (by a listener freeing its table) leaves a NULL hole, skipped by the
 * walks; g->nodes is compacted when the cycle ends. */
static void list_null(node_list_t *l, tide_gnode_t *n) {
  for (size_t i = 0; i < l->n; i++)
    if (l->items[i] == n) l->items[i] = NULL;
}

static void list_compact(node_list_t *l) {
  size_t m = 0;
  for (size_t i = 0; i < l->n; i++)
    if (l->items[i]) l->items[m++] = l->items[i];
  l->n = m;
}

static void list_remove(node_list_t *l, tide_gnode_t *n) {
  for (size_t i = 0; i < l->n; i++) {
    if (l->items[i] == n) {
      memmove(l->items + i, l->items + i + 1, (l->n - i - 1) * sizeof *l->items);
      l->n--;
      return;
    }
  }
}

/* ------------------------------------------------------------- the clock */

static int64_t real_clock(void *ctx) {
  TIDE_UNUSED(ctx);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void tide_graph_set_clock(tide_graph_t *g, tide_clock_fn now, void *ctx) {
  g->clock = now ? now : real_clock;
  g->clock_ctx = now ? ctx : NULL;
}

int64_t tide_graph_now(const tide_graph_t *g) { return g->clock(g->clock_ctx); }

/* ------------------------------------------------------- create and free */

tide_graph_t *tide_graph_create(tide_error *err) {
  tide_graph_t *g = tide_calloc(1, sizeof *g);
  if (!g) {
    tide_error_set(err, TIDE_ERR_NOMEM, "out of memory creating an update graph");
    return NULL;
  }
  g->parallel = true;
  const char *pe = getenv("TIDE_GRAPH_PARALLEL");
  if (pe && *pe) g->parallel = strcmp(pe, "0") != 0;
  pthread_rwlock_init(&g->lock, NULL);
  pthread_mutex_init(&g->mu, NULL);
  pthread_mutex_init(&g->smu, NULL);
  pthread_cond_init(&g->cv, NULL);
  g->clock = real_clock;
#ifdef NDEBUG
  g->validate = false;
#else
  g->validate = true;
#endif
  const char *v = getenv("TIDE_VALIDATE");
  if (v && *v) g->validate = strcmp(v, "0") != 0;
  const char *pr = getenv("TIDE_GRAPH_PROFILE");
  g->profile = pr && *pr && strcmp(pr, "0") != 0;
  return g;
}

void tide_graph_free(tide_graph_t *g) {
  if (!g) return;
  tide_graph_stop(g, NULL);
  assert(g->nodes.n == 0 && "free every refreshing table before its graph");
  for (uint32_t l = 0; l < g->nlevels; l++) tide_free(g->pending[l].items);
  tide_free(g->pending);
  tide_free(g->nodes.items);
  tide_free(g->published.items);
  tide_free(g->failed.items);
  tide_free(g->jobs);
  pthread_rwlock_destroy(&g->lock);
  pthread_mutex_destroy(&g->mu);
  pthread_mutex_destroy(&g->smu);
  pthread_cond_destroy(&g->cv);
  tide_free(g);
}

static tide_graph_t *default_graph;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static void default_init(void) { default_graph = tide_graph_create(NULL); }

tide_graph_t *tide_graph_default(void) {
  pthread_once(&default_once, default_init);
  return default_graph;
}

uint64_t tide_graph_step(const tide_graph_t *g) {
  uint64_t s = g->step;
  return g->phase == TIDE_PHASE_UPDATING ? s - 1 : s;
}
tide_phase_t tide_graph_phase(const tide_graph_t *g) { return (tide_phase_t)g->phase; }
uint64_t tide__graph_current_step(const tide_graph_t *g) { return g->step; }
const _Atomic uint64_t *tide__graph_step_ptr(const tide_graph_t *g) { return &g->epoch; }
/* The graph whose cycle this thread is running (the writer, or a worker
 * while it runs a node of a parallel level); NULL otherwise. Thread-local,
 * so no other thread's state is read. */
static _Thread_local const tide_graph_t *tl_cycle_graph;

bool tide__graph_in_cycle(const tide_graph_t *g) { return g && tl_cycle_graph == g; }
void tide__graph_set_validate(tide_graph_t *g, bool on) { g->validate = on; }
void tide__graph_set_parallel(tide_graph_t *g, bool on) { g->parallel = on; }

void tide_graph_read_lock(tide_graph_t *g) { pthread_rwlock_rdlock(&g->lock); }
void tide_graph_read_unlock(tide_graph_t *g) { pthread_rwlock_unlock(&g->lock); }

/* Structure changes take the structure mutex unless the writer is inside a
 * cycle (where the writer already holds it). */
static bool structure_lock(tide_graph_t *g) {
  if (tide__graph_in_cycle(g)) return false;
  pthread_mutex_lock(&g->smu);
  return true;
}
static void structure_unlock(tide_graph_t *g) { pthread_mutex_unlock(&g->smu); }

/* ------------------------------------------------------------------ nodes */

static void gnode_release(struct tide_node_s *base) {
  tide_gnode_t *n = (tide_gnode_t *)base;
  tide_graph_t *g = n->graph;
  bool locked = structure_lock(g);
  if (locked) {
    list_remove(&g->nodes, n);
    if (n->level < g->nlevels) list_remove(&g->pending[n->level], n);
    list_remove(&g->published, n);
  } else {
    list_null(&g->nodes, n);
    if (n->level < g->nlevels) list_null(&g->pending[n->level], n);
    list_null(&g->published, n);
    g->holes = true;
  }
  list_remove(&g->failed, n);
  for (size_t i = 0; i < n->nparents; i++) {
    tide_gnode_t *p = (tide_gnode_t *)n->parents[i]->node;
    for (size_t c = 0; c < p->nchildren; c++) {
      if (p->children[c] == n) {
        p->children[c] = p->children[--p->nchildren];
        break;
      }
    }
  }
  for (size_t c = 0; c < n->nchildren; c++) {
    /* A child always retains its parents, so it dies first. */
    assert(!"node freed while it has children");
  }
  if (locked) structure_unlock(g);
  struct tide_listener_s *l = n->listeners;
  while (l) {
    struct tide_listener_s *next = l->next;
    tide_free(l);
    l = next;
  }
  if (g->profile && n->prof_calls)
    fprintf(stderr, "graph profile: %-14s level %2u: %8llu calls %10.3f ms %9.1f us/call\n",
            n->vt->name, n->level, (unsigned long long)n->prof_calls, (double)n->prof_ns * 1e-6,
            (double)n->prof_ns * 1e-3 / (double)n->prof_calls);
  if (n->vt->destroy) n->vt->destroy(n);
  tide__update_clear(&n->update);
  for (size_t i = 0; i < n->nparents; i++) tide_table_free(n->parents[i]);
  tide_free(n->parents);
  tide_free(n->children);
  tide_free(n);
}

tide_gnode_t *tide__gnode_create(tide_graph_t *g, tide_table_t *table, tide_table_kind_t kind,
                                 const tide_gnode_vt *vt, tide_table_t *const *parents,
                                 size_t nparents, void *state, tide_error *err) {
  assert(table->node == NULL && kind != TIDE_KIND_STATIC);
  uint32_t level = 0;
  for (size_t i = 0; i < nparents; i++) {
    const tide_gnode_t *p = (const tide_gnode_t *)parents[i]->node;
    if (!p || p->graph != g) {
      tide_error_set(err, TIDE_ERR_INVALID,
                     "%s: parent %zu is not a refreshing table of this update graph", vt->name, i);
      return NULL;
    }
    if (p->level + 1 > level) level = p->level + 1;
  }
  tide_gnode_t *n = tide_calloc(1, sizeof *n);
  if (!n) goto oom;
  n->base.release = gnode_release;
  n->vt = vt;
  n->graph = g;
  n->table = table;
  n->level = level;
  n->parents = tide_calloc(nparents ? nparents : 1, sizeof *n->parents);
  if (!n->parents) {
    tide_free(n);
    goto oom;
  }
  bool locked = structure_lock(g);
  bool ok = true;
  if (level >= g->nlevels) {
    node_list_t *pl = tide_realloc(g->pending, (level + 1) * sizeof *pl);
    if (pl) {
      memset(pl + g->nlevels, 0, (level + 1 - g->nlevels) * sizeof *pl);
      g->pending = pl;
      g->nlevels = level + 1;
    } else {
      ok = false;
    }
  }
  size_t linked = 0;
  for (; ok && linked < nparents; linked++) {
    tide_gnode_t *p = (tide_gnode_t *)parents[linked]->node;
    if (p->nchildren == p->childcap) {
      size_t cap = p->childcap ? p->childcap * 2 : 4;
      tide_gnode_t **c = tide_realloc(p->children, cap * sizeof *c);
      if (!c) {
        ok = false;
        break;
      }
      p->children = c;
      p->childcap = cap;
    }
    p->children[p->nchildren++] = n;
  }
  if (ok) ok = list_push(&g->nodes, n);
  if (!ok) {
    for (size_t i = 0; i < linked; i++) ((tide_gnode_t *)parents[i]->node)->nchildren--;
    if (locked) structure_unlock(g);
    tide_free(n->parents);
    tide_free(n);
    goto oom;
  }
  for (size_t i = 0; i < nparents; i++) n->parents[i] = tide_table_retain(parents[i]);
  n->nparents = nparents;
  n->state = state;
  table->node = &n->base;
  table->kind = kind;
  if (locked) structure_unlock(g);
  return n;
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory registering a ticking table", vt->name);
  return NULL;
}

tide_graph_t *tide__graph_snapshot_lock(const tide_table_t *t) {
  tide_graph_t *g = t ? tide_table_graph(t) : NULL;
  if (!g || tide__graph_in_cycle(g)) return NULL;
  tide_graph_read_lock(g);
  return g;
}

void tide__graph_snapshot_unlock(tide_graph_t *g) {
  if (g) tide_graph_read_unlock(g);
}

tide_graph_t *tide_table_graph(const tide_table_t *t) {
  return t->node ? ((const tide_gnode_t *)t->node)->graph : NULL;
}

const tide_rowset_t *tide_table_prev_rowset(const tide_table_t *t) {
  return t->prev_rowset ? t->prev_rowset : t->rowset;
}

const tide_update_t *tide__gnode_parent_update(const tide_gnode_t *n, size_t i) {
  const tide_gnode_t *p = (const tide_gnode_t *)n->parents[i]->node;
  return p->published_step == n->graph->step ? &p->update : NULL;
}

/* ---------------------------------------------------------------- updates */

bool tide_update_col_modified(const tide_update_t *u, size_t col) {
  if (!u->modified_cols || col >= u->ncols) return false;
  return (u->modified_cols[col / 64] >> (col % 64)) & 1;
}

static bool rs_empty(const tide_rowset_t *rs) { return !rs || tide_rowset_is_empty(rs); }

bool tide_update_is_empty(const tide_update_t *u) {
  return rs_empty(u->removed) && rs_empty(u->added) && rs_empty(u->modified) && u->nshifts == 0;
}

void tide__update_clear(tide_update_t *u) {
  tide_rowset_free(u->removed);
  tide_rowset_free(u->added);
  tide_rowset_free(u->modified);
  tide_free(u->shifts);
  tide_free(u->modified_cols);
  memset(u, 0, sizeof *u);
}

tide_status tide__update_validate(const tide_update_t *u, const tide_rowset_t *prev,
                                  const tide_rowset_t *cur, tide_table_kind_t kind,
                                  const char *what, tide_error *err) {
  tide_status st = TIDE_OK;
  tide_rowset_t *expect = NULL, *tmp = NULL;
  tide_rowset_t *empty = tide_rowset_create();
  if (!empty) return tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory validating", what);
  const tide_rowset_t *rm = u->removed ? u->removed : empty;
  const tide_rowset_t *ad = u->added ? u->added : empty;
  const tide_rowset_t *md = u->modified ? u->modified : empty;
  const tide_rowset_t *pv = prev ? prev : empty;
  const tide_rowset_t *cr = cur ? cur : empty;
#define FAIL(...)                                               \
  do {                                                          \
    st = tide_error_set(err, TIDE_ERR_STATE, __VA_ARGS__);      \
    goto done;                                                  \
  } while (0)
  tmp = tide_rowset_minus(rm, pv);
  if (!tmp) goto oom;
  if (!tide_rowset_is_empty(tmp))
    FAIL("%s: update removes %llu keys that were not in the table (first %llu)", what,
         (unsigned long long)tide_rowset_size(tmp), (unsigned long long)tide_rowset_first(tmp));
  tide_rowset_free(tmp);
  tmp = NULL;
  expect = tide_rowset_minus(pv, rm);
  if (!expect) goto oom;
  if (u->nshifts) {
    tide_status ss = tide_rowset_shift(expect, u->shifts, u->nshifts);
    if (ss == TIDE_ERR_NOMEM) goto oom;
    if (ss != TIDE_OK) FAIL("%s: update has invalid shifts", what);
  }
  tmp = tide_rowset_intersect(expect, ad);
  if (!tmp) goto oom;
  if (!tide_rowset_is_empty(tmp))
    FAIL("%s: update adds key %llu that is already present", what,
         (unsigned long long)tide_rowset_first(tmp));
  tide_rowset_free(tmp);
  tmp = NULL;
  if (tide_rowset_union_inplace(expect, ad) != TIDE_OK) goto oom;
  if (!tide_rowset_equals(expect, cr))
    FAIL("%s: RowSet after the update (%llu rows) is not previous - removed, shifted, + added "
         "(%llu rows)",
         what, (unsigned long long)tide_rowset_size(cr), (unsigned long long)tide_rowset_size(expect));
  tmp = tide_rowset_minus(md, cr);
  if (!tmp) goto oom;
  if (!tide_rowset_is_empty(tmp))
    FAIL("%s: update modifies key %llu that is not in the table", what,
         (unsigned long long)tide_rowset_first(tmp));
  tide_rowset_free(tmp);
  tmp = tide_rowset_intersect(md, ad);
  if (!tmp) goto oom;
  if (!tide_rowset_is_empty(tmp))
    FAIL("%s: key %llu is both added and modified", what,
         (unsigned long long)tide_rowset_first(tmp));
  if (!tide_rowset_is_empty(md) && !u->modified_cols)
    FAIL("%s: rows modified but no modified columns given", what);
  switch (kind) {
    case TIDE_KIND_APPEND_ONLY:
      if (!tide_rowset_is_empty(rm) || u->nshifts || !tide_rowset_is_empty(md))
        FAIL("%s: an append-only table may only append rows", what);
      if (!tide_rowset_is_empty(ad) && !tide_rowset_is_empty(pv) &&
          tide_rowset_first(ad) <= tide_rowset_last(pv))
        FAIL("%s: an append-only table added key %llu before its last key %llu", what,
             (unsigned long long)tide_rowset_first(ad), (unsigned long long)tide_rowset_last(pv));
      break;
    case TIDE_KIND_ADD_ONLY:
      if (!tide_rowset_is_empty(rm) || !tide_rowset_is_empty(md))
        FAIL("%s: an add-only table may not remove or modify rows", what);
      break;
    case TIDE_KIND_BLINK:
      if (!tide_rowset_equals(rm, pv) || u->nshifts || !tide_rowset_is_empty(md))
        FAIL("%s: a blink table must remove every previous row and only add", what);
      break;
    default: break;
  }
  goto done;
oom:
  st = tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory validating an update", what);
done:
#undef FAIL
  tide_rowset_free(tmp);
  tide_rowset_free(expect);
  tide_rowset_free(empty);
  return st;
}

static tide_status publish_finish(tide_graph_t *g, tide_gnode_t *n, tide_error *err);

tide_status tide__gnode_publish(tide_gnode_t *n, tide_update_t *u, tide_rowset_t *new_rowset,
                                tide_error *err) {
  tide_graph_t *g = n->graph;
  tide_table_t *t = n->table;
  assert(tide__graph_in_cycle(g));
  if (n->published_step == g->step) {
    tide__update_clear(u);
    tide_rowset_free(new_rowset);
    return tide_error_set(err, TIDE_ERR_STATE, "%s: a table may publish one update per cycle",
                          n->vt->name);
  }
  if (tide_update_is_empty(u) && !new_rowset) {
    tide__update_clear(u);
    return TIDE_OK;
  }
  const tide_rowset_t *cur = new_rowset ? new_rowset : t->rowset;
  if (g->validate) {
    tide_status st = tide__update_validate(u, t->rowset, cur, t->kind, n->vt->name, err);
    if (st != TIDE_OK) {
      tide__update_clear(u);
      tide_rowset_free(new_rowset);
      return st;
    }
  }
  /* (deferred: run_level reserved room in `published` and pushes n) */
  if (!g->deferring && !list_push(&g->published, n)) {
    tide__update_clear(u);
    tide_rowset_free(new_rowset);
    return tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", n->vt->name);
  }
  tide__update_clear(&n->update);
  n->update = *u;
  memset(u, 0, sizeof *u);
  n->published_step = g->step;
  if (new_rowset) {
    tide_rowset_free(t->prev_rowset);
    t->prev_rowset = t->rowset;
    t->rowset = new_rowset;
  }
  if (g->deferring) return TIDE_OK;
  return publish_finish(g, n, err);
}

/* After n published: its listeners, then queue its children. */
static tide_status publish_finish(tide_graph_t *g, tide_gnode_t *n, tide_error *err) {
  tide_table_t *t = n->table;
  /* A listener removed inside the cycle (by itself or another callback) is
   * only marked (fn = NULL) and unlinked here, after the calls. */
  for (struct tide_listener_s *l = n->listeners; l; l = l->next)
    if (l->fn) l->fn(t, &n->update, l->ctx);
  for (struct tide_listener_s **p = &n->listeners; *p;) {
    struct tide_listener_s *l = *p;
    if (l->fn) {
      p = &l->next;
    } else {
      *p = l->next;
      tide_free(l);
    }
  }
  for (size_t c = 0; c < n->nchildren; c++) {
    tide_gnode_t *ch = n->children[c];
    if (ch->queued_step == g->step) continue;
    ch->queued_step = g->step;
    if (!list_push(&g->pending[ch->level], ch))
      return tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", n->vt->name);
  }
  return TIDE_OK;
}

/* ------------------------------------------------------------------ cycles */

static void retire(tide_graph_t *g) {
  for (size_t i = 0; i < g->published.n; i++) {
    tide_gnode_t *n = g->published.items[i];
    if (!n) continue;
    tide_rowset_free(n->table->prev_rowset);
    n->table->prev_rowset = NULL;
    tide__update_clear(&n->update);
  }
  g->published.n = 0;
  for (uint32_t l = 0; l < g->nlevels; l++) g->pending[l].n = 0;
  if (g->holes) list_compact(&g->nodes);
  g->holes = false;
}

static bool has_failed(const tide_graph_t *g, const tide_gnode_t *n) {
  for (size_t i = 0; i < g->failed.n; i++)
    if (g->failed.items[i] == n) return true;
  return false;
}

/* Run one node's refresh or notify. A derived node that fails stops
 * updating (it would otherwise miss this update and be wrong from then
 * on; so do its descendants, which it no longer notifies); the other
 * nodes of the cycle still run, so they stay consistent with their
 * parents. The first error of the cycle is reported. */
static uint64_t prof_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
static void prof_add(tide_gnode_t *n, uint64_t t0) {
  n->prof_ns += prof_now() - t0;
  n->prof_calls++;
}

static void run_node(tide_graph_t *g, tide_gnode_t *n,
                     tide_status (*fn)(tide_gnode_t *, tide_error *), tide_status *st,
                     tide_error *err) {
  if (!fn || has_failed(g, n)) return;
  tide_error e2;
  uint64_t t0 = g->profile ? prof_now() : 0;
  tide_status s = fn(n, *st == TIDE_OK ? err : &e2);
  if (g->profile) prof_add(n, t0);
  if (s == TIDE_OK) return;
  if (*st == TIDE_OK) *st = s;
  /* A source changed nothing it published and may retry next cycle. */
  if (n->nparents) list_push(&g->failed, n); /* on OOM the node keeps running */
}

static bool list_reserve(node_list_t *l, size_t n) {
  if (n <= l->cap) return true;
  size_t cap = TIDE_MAX(n, l->cap * 2);
  tide_gnode_t **items = tide_realloc(l->items, cap * sizeof *items);
  if (!items) return false;
  l->items = items;
  l->cap = cap;
  return true;
}

static void run_job(tide_graph_t *g, tide_gnode_t *n, level_job_t *j) {
  uint64_t t0 = g->profile ? prof_now() : 0;
  j->st = n->vt->notify(n, &j->err);
  if (g->profile) prof_add(n, t0);
}

/* Run the nodes queued at level l (see "Parallel notification"). */
static void run_level(tide_graph_t *g, uint32_t l, tide_status *st, tide_error *err) {
  size_t m = g->pending[l].n;
  if (m == 0) return;
  if (m > g->jobcap) {
    level_job_t *j = tide_realloc(g->jobs, m * sizeof *j);
    if (j) {
      g->jobs = j;
      g->jobcap = m;
    }
  }
  if (m > g->jobcap || !list_reserve(&g->published, g->published.n + m)) {
    /* no memory for the bookkeeping: the plain serial walk */
    for (size_t i = 0; i < g->pending[l].n; i++) {
      tide_gnode_t *n = g->pending[l].items[i];
      if (n) run_node(g, n, n->vt->notify, st, err);
    }
    return;
  }
  tide_gnode_t **q = g->pending[l].items; /* stable while the level runs */
  level_job_t *jobs = g->jobs;
  size_t npar = 0;
  for (size_t i = 0; i < m; i++) {
    tide_gnode_t *n = q[i];
    jobs[i].run = n && n->vt->notify && !has_failed(g, n);
    jobs[i].st = TIDE_OK;
    jobs[i].err.status = TIDE_OK;
    jobs[i].err.msg[0] = '\0';
    npar += jobs[i].run && n->parallel;
  }
  int nt = g->parallel && npar >= 2 ? tide_get_threads() : 1;
  if ((size_t)nt > npar) nt = (int)npar;
  g->deferring = true;
  for (size_t i = 0; i < m; i++) /* q[i] may be freed by an earlier notify */
    if (jobs[i].run && q[i] && (nt < 2 || !q[i]->parallel)) run_job(g, q[i], &jobs[i]);
  if (nt >= 2) {
    const tide_graph_t *gc = g;
    TSAN_RELEASE(jobs);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (size_t i = 0; i < m; i++) {
      TSAN_ACQUIRE(jobs);
      if (jobs[i].run && q[i] && q[i]->parallel) {
        const tide_graph_t *saved = tl_cycle_graph;
        tl_cycle_graph = gc;
        run_job(g, q[i], &jobs[i]);
        tl_cycle_graph = saved;
      }
      TSAN_RELEASE(jobs);
    }
    TSAN_ACQUIRE(jobs);
  }
  g->deferring = false;
  /* In queue order: publish bookkeeping, listeners and children, then the
   * node's error. Listeners may free tables: re-read the queue (holes). */
  for (size_t i = 0; i < m; i++) {
    tide_gnode_t *n = g->pending[l].items[i];
    if (!n || !jobs[i].run) continue;
    tide_status s = jobs[i].st;
    if (n->published_step == g->step) {
      list_push(&g->published, n); /* reserved */
      tide_error e2;
      uint64_t t0 = g->profile ? prof_now() : 0;
      tide_status s2 = publish_finish(g, n, &e2);
      if (g->profile) n->prof_ns += prof_now() - t0;
      if (s2 != TIDE_OK && s == TIDE_OK) { /* children not queued: the node failed */
        s = s2;
        jobs[i].err = e2;
      }
    }
    if (s != TIDE_OK) {
      if (*st == TIDE_OK) {
        *st = s;
        if (err) *err = jobs[i].err;
      }
      list_push(&g->failed, n); /* on OOM the node keeps running */
    }
  }
}

static tide_status run_one_cycle(tide_graph_t *g, tide_error *err) {
  tide_status st = TIDE_OK;
  pthread_rwlock_wrlock(&g->lock);
  pthread_mutex_lock(&g->smu);
  const tide_graph_t *saved = tl_cycle_graph;
  tl_cycle_graph = g;
  g->step++;
  g->epoch++;
  g->phase = TIDE_PHASE_UPDATING;
  for (size_t i = 0; i < g->nodes.n; i++) {
    tide_gnode_t *n = g->nodes.items[i];
    if (n && n->nparents == 0) run_node(g, n, n->vt->refresh, &st, err);
  }
  /* Nodes queued at each level by lower levels; none can be queued at a
   * level while it runs (children are at higher levels). */
  for (uint32_t l = 1; l < g->nlevels; l++) run_level(g, l, &st, err);
  retire(g);
  g->epoch++; /* previous values retire with the cycle */
  g->phase = TIDE_PHASE_IDLE;
  tl_cycle_graph = saved;
  pthread_mutex_unlock(&g->smu);
  pthread_rwlock_unlock(&g->lock);
  return st;
}

tide_status tide_graph_run_cycles(tide_graph_t *g, uint64_t n, tide_error *err) {
  if (tide__graph_in_cycle(g))
    return tide_error_set(err, TIDE_ERR_STATE, "run_cycles: called from inside a cycle");
  pthread_mutex_lock(&g->mu);
  bool running = g->running;
  pthread_mutex_unlock(&g->mu);
  if (running)
    return tide_error_set(err, TIDE_ERR_STATE,
                          "run_cycles: the graph is cycling on its own thread (stop it first)");
  for (uint64_t i = 0; i < n; i++) TIDE_TRY(run_one_cycle(g, err));
  return TIDE_OK;
}

static void *cycle_thread(void *arg) {
  tide_graph_t *g = arg;
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  pthread_mutex_lock(&g->mu);
  while (!g->stop_req) {
    uint64_t ns = (uint64_t)next.tv_nsec + g->period_ns;
    next.tv_sec += (time_t)(ns / 1000000000ULL);
    next.tv_nsec = (long)(ns % 1000000000ULL);
    while (!g->stop_req && !g->cycle_req) {
      if (pthread_cond_timedwait(&g->cv, &g->mu, &next) == ETIMEDOUT) break;
    }
    if (g->stop_req) break;
    g->cycle_req = false;
    pthread_mutex_unlock(&g->mu);
    tide_error e;
    tide_status st = run_one_cycle(g, &e);
    pthread_mutex_lock(&g->mu);
    if (st != TIDE_OK) {
      g->bg_status = st;
      g->bg_err = e;
      break;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec))
      next = now; /* overran the period: start the next one now */
  }
  g->running = false;
  pthread_mutex_unlock(&g->mu);
  return NULL;
}

tide_status tide_graph_start(tide_graph_t *g, uint64_t period_ns, tide_error *err) {
  pthread_mutex_lock(&g->mu);
  if (g->running) {
    pthread_mutex_unlock(&g->mu);
    return tide_error_set(err, TIDE_ERR_STATE, "graph: already cycling");
  }
  g->period_ns = period_ns ? period_ns : DEFAULT_PERIOD_NS;
  g->stop_req = g->cycle_req = false;
  g->bg_status = TIDE_OK;
  g->running = true;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_destroy(&g->cv);
  pthread_cond_init(&g->cv, &ca);
  pthread_condattr_destroy(&ca);
  int rc = pthread_create(&g->thread, NULL, cycle_thread, g);
  g->running = rc == 0;
  g->joinable = rc == 0;
  pthread_mutex_unlock(&g->mu);
  if (rc != 0)
    return tide_error_set(err, TIDE_ERR_STATE, "graph: cannot start the cycle thread: %s",
                          strerror(rc));
  return TIDE_OK;
}

tide_status tide_graph_stop(tide_graph_t *g, tide_error *err) {
  pthread_mutex_lock(&g->mu);
  bool joinable = g->joinable;
  g->joinable = false;
  g->stop_req = true;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
  if (joinable) pthread_join(g->thread, NULL);
  pthread_mutex_lock(&g->mu);
  tide_status st = g->bg_status;
  if (st != TIDE_OK && err) *err = g->bg_err;
  g->bg_status = TIDE_OK;
  g->stop_req = false;
  pthread_mutex_unlock(&g->mu);
  return st;
}

void tide_graph_request_cycle(tide_graph_t *g) {
  pthread_mutex_lock(&g->mu);
  g->cycle_req = true;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

/* ---------------------------------------------------------------- listeners */

tide_listener_t *tide_table_listen(tide_table_t *t, tide_listener_fn fn, void *ctx,
                                   tide_error *err) {
  if (!t || !t->node) {
    tide_error_set(err, TIDE_ERR_INVALID, "listen: the table is static (it never updates)");
    return NULL;
  }
  if (!fn) {
    tide_error_set(err, TIDE_ERR_INVALID, "listen: no listener function given");
    return NULL;
  }
  tide_gnode_t *n = (tide_gnode_t *)t->node;
  struct tide_listener_s *l = tide_malloc(sizeof *l);
  if (!l) {
    tide_error_set(err, TIDE_ERR_NOMEM, "listen: out of memory");
    return NULL;
  }
  l->fn = fn;
  l->ctx = ctx;
  l->node = n;
  bool locked = structure_lock(n->graph);
  /* Append, so listeners run in registration order. */
  l->next = NULL;
  struct tide_listener_s **p = &n->listeners;
  while (*p) p = &(*p)->next;
  *p = l;
  if (locked) structure_unlock(n->graph);
  return l;
}

void tide_listener_remove(tide_listener_t *l) {
  if (!l) return;
  tide_gnode_t *n = l->node;
  bool locked = structure_lock(n->graph);
  if (!locked) {
    /* Inside a cycle a callback may be removing itself or a listener the
     * delivery loop will reach next: mark it; tide__gnode_publish (or the
     * node's release) frees it. */
    l->fn = NULL;
    return;
  }
  for (struct tide_listener_s **p = &n->listeners; *p; p = &(*p)->next) {
    if (*p == l) {
      *p = l->next;
      break;
    }
  }
  structure_unlock(n->graph);
  tide_free(l);
}
