/*
 * Private interface of the update graph (sched/): nodes that ticking
 * sources and incremental operations attach to their result tables.
 *
 * A node belongs to exactly one table (table->node) and is freed with it.
 * Source nodes (no parents) compute their change in `refresh`; derived
 * nodes are notified once per cycle in which any parent published, after
 * all their parents, and read the parents' updates with
 * tide__gnode_parent_update. Either publishes its own change with
 * tide__gnode_publish, which installs the new RowSet, keeps the previous
 * one readable until the cycle ends, validates the update (tests and debug
 * builds), calls the table's listeners and queues its children.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_SCHED_GRAPH_INT_H
#define TIDE_SCHED_GRAPH_INT_H

#include "core/core_int.h"

typedef struct tide_gnode_s tide_gnode_t;

typedef struct tide_gnode_vt {
  const char *name; /* operation name, for error messages */
  tide_status (*refresh)(tide_gnode_t *n, tide_error *err);
  tide_status (*notify)(tide_gnode_t *n, tide_error *err);
  void (*destroy)(tide_gnode_t *n); /* free `state` */
} tide_gnode_vt;

struct tide_listener_s {
  tide_listener_fn fn;
  void *ctx;
  tide_gnode_t *node;
  struct tide_listener_s *next;
};

struct tide_gnode_s {
  struct tide_node_s base;  /* must be first: core releases through it */
  const tide_gnode_vt *vt;
  tide_graph_t *graph;
  tide_table_t *table;      /* the table this node updates (it owns the node) */
  tide_table_t **parents;   /* one reference each */
  size_t nparents;
  tide_gnode_t **children;  /* weak */
  size_t nchildren, childcap;
  uint32_t level;           /* 0 for sources, 1 + max parent level otherwise */
  uint64_t published_step;  /* step of `update`; 0 = never */
  uint64_t queued_step;
  tide_update_t update;     /* this step's update, owned */
  struct tide_listener_s *listeners;
  void *state;              /* the operation's incremental state */
  /* Set by the operation after tide__gnode_create when its notify may run
   * on a worker thread, concurrently with other nodes of its level (see
   * "Parallel notification" in sched/graph.c): it reads only its parents
   * and its own state, writes only its own table, sources and state, and
   * does not create or free refreshing tables. Default false (serial). */
  bool parallel;
  /* TIDE_GRAPH_PROFILE=1: time spent in this node's refresh/notify (and
   * its publish bookkeeping), printed to stderr when the node is freed. */
  uint64_t prof_ns, prof_calls;
};

/* Append-only tables never remove, modify or shift rows: the previous
 * value of every row that existed is its current value, so the sources an
 * op materializes for an append-only result need no undo log
 * (tide__source_track_prev) - one of the cheaper paths the table types
 * give (docs/TICKING.md, decision 4). Not add-only: its rows shift, and
 * previous values are read at the pre-shift keys. */
static inline bool tide__kind_keeps_rows(tide_table_kind_t k) {
  return k == TIDE_KIND_APPEND_ONLY;
}

/* Attach a new node to `table` (which must not have one), make the table
 * refreshing with the given kind, and register it in g below its parents'
 * nodes (parents must be refreshing tables of the same graph; they are
 * retained). Takes the graph's structure mutex (not the read/write lock,
 * so it may be called while holding the read lock); callers that build
 * the node's initial state from a snapshot of the parents must hold the
 * read lock around snapshot + create, so that no cycle runs in between
 * (tide__graph_snapshot_lock). NULL with err on failure (state is then
 * not touched). */
tide_gnode_t *tide__gnode_create(tide_graph_t *g, tide_table_t *table, tide_table_kind_t kind,
                                 const tide_gnode_vt *vt, tide_table_t *const *parents,
                                 size_t nparents, void *state, tide_error *err);

/* Building a ticking result reads the parents' current state and then
 * registers the result's node: both must happen under the graph's read
 * lock (unless on its writer inside a cycle), so that no cycle runs in
 * between when the graph cycles on its background thread. Returns the
 * graph to pass to tide__graph_snapshot_unlock (NULL: nothing locked). */
tide_graph_t *tide__graph_snapshot_lock(const tide_table_t *t);
void tide__graph_snapshot_unlock(tide_graph_t *g);

/* Parent i's update in the current step, or NULL if it did not publish. */
const tide_update_t *tide__gnode_parent_update(const tide_gnode_t *n, size_t i);

/* Publish this step's change of n's table. The RowSets and arrays in *u
 * move to the node (u is zeroed); new_rowset (one reference, moved) is the
 * table's RowSet after the update, or NULL if the key set did not change.
 * Missing parts of *u may be NULL (empty). An empty update is dropped.
 * TIDE_ERR_STATE if n already published in this step or, when validation
 * is on, if the update breaks the invariants of docs/TICKING.md (the
 * message says which); the table is then left unchanged. */
tide_status tide__gnode_publish(tide_gnode_t *n, tide_update_t *u, tide_rowset_t *new_rowset,
                                tide_error *err);

/* The step being computed (during a cycle) or last completed. */
uint64_t tide__graph_current_step(const tide_graph_t *g);
/* The counter for tide__source_track_prev: it changes when a cycle starts
 * and again when it ends, so previous values logged in a cycle are served
 * only during that cycle (afterwards fill_prev reads current values). */
const _Atomic uint64_t *tide__graph_step_ptr(const tide_graph_t *g);
/* True on the writer thread while a cycle runs. */
bool tide__graph_in_cycle(const tide_graph_t *g);
/* Validate every published update (default: on unless NDEBUG, or when
 * TIDE_VALIDATE=1 is in the environment). */
void tide__graph_set_validate(tide_graph_t *g, bool on);
/* Run the parallel-safe nodes of one level on the worker threads (default
 * on; TIDE_GRAPH_PARALLEL=0 in the environment turns it off). Results are
 * the same either way. */
void tide__graph_set_parallel(tide_graph_t *g, bool on);

/* Free the contents of an update (not the struct). */
void tide__update_clear(tide_update_t *u);
/* Check u against the previous and new RowSets and the table kind; NULL
 * rowsets mean empty. Returns TIDE_OK or TIDE_ERR_STATE with the reason. */
tide_status tide__update_validate(const tide_update_t *u, const tide_rowset_t *prev,
                                  const tide_rowset_t *cur, tide_table_kind_t kind,
                                  const char *what, tide_error *err);

#endif /* TIDE_SCHED_GRAPH_INT_H */
