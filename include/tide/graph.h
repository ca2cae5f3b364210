/*
 * The update graph: ticking tables, cycles, updates and listeners.
 *
 * One graph per engine (tide_graph_default) runs cycles on a single writer
 * thread: the logical clock steps, the phase goes Updating, ticking sources
 * refresh, then every table whose parents changed is notified once, after
 * all its parents, in dependency order; then the phase goes Idle. Readers
 * on other threads take the graph's read lock and see only Idle-phase,
 * consistent state (the writer holds the lock exclusively while Updating).
 *
 * An update is applied as: removed rows (previous key space), shifts, then
 * added and modified rows (current key space). During a cycle a table's
 * previous RowSet and its sources' previous values stay readable
 * (tide_table_prev_rowset, tide_source_fill_prev) until the cycle ends.
 * See docs/TICKING.md.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_GRAPH_H
#define TIDE_GRAPH_H

#include "tide/table.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tide_graph_s tide_graph_t;

typedef enum tide_phase_t { TIDE_PHASE_IDLE = 0, TIDE_PHASE_UPDATING } tide_phase_t;

/* One table's change in one cycle. RowSets are owned by the update (the
 * graph frees them when the cycle ends); listeners only read them. */
typedef struct tide_update_t {
  tide_rowset_t *removed;    /* keys in the previous key space */
  tide_shift_t *shifts;      /* sorted, disjoint; applied after removal */
  size_t nshifts;
  tide_rowset_t *added;      /* keys in the current key space */
  tide_rowset_t *modified;   /* keys in the current key space */
  uint64_t *modified_cols;   /* bitset of modified columns (ncols bits) */
  size_t ncols;
} tide_update_t;

/* Whether column col is marked modified in u. */
bool tide_update_col_modified(const tide_update_t *u, size_t col);
/* Nothing removed, shifted, added or modified. */
bool tide_update_is_empty(const tide_update_t *u);

/* The engine's graph, created on first use (NULL on OOM). Owned by the
 * library; never free it. */
tide_graph_t *tide_graph_default(void);
/* A separate graph (tests, embedding). One reference; free with
 * tide_graph_free after every table of it is freed. */
tide_graph_t *tide_graph_create(tide_error *err);
void tide_graph_free(tide_graph_t *g);

/* Run n cycles now on the calling thread (which becomes the writer for
 * their duration). TIDE_ERR_STATE if the graph is cycling on its own
 * thread (tide_graph_start) or if called from inside a cycle. When a node
 * fails, the other nodes of the cycle still run and the first error is
 * returned; a failed derived table and the tables below it stop updating
 * (their results would be wrong), a failed source retries next cycle. */
tide_status tide_graph_run_cycles(tide_graph_t *g, uint64_t n, tide_error *err);
/* Run cycles on a background thread every period_ns nanoseconds (0: the
 * default 100 ms) until tide_graph_stop. */
tide_status tide_graph_start(tide_graph_t *g, uint64_t period_ns, tide_error *err);
/* Stop the background thread (after its current cycle); returns the first
 * error a background cycle hit, if any, in err. */
tide_status tide_graph_stop(tide_graph_t *g, tide_error *err);
/* Ask the background thread for a cycle now instead of at the next period. */
void tide_graph_request_cycle(tide_graph_t *g);

/* Logical clock: cycles completed so far, and the current phase. */
uint64_t tide_graph_step(const tide_graph_t *g);
tide_phase_t tide_graph_phase(const tide_graph_t *g);

/* Shared lock for readers on other threads. */
void tide_graph_read_lock(tide_graph_t *g);
void tide_graph_read_unlock(tide_graph_t *g);

/* The clock ticking sources use (ns since the epoch). Default: the real
 * clock. A simulated clock makes time_table deterministic; set it before
 * creating ticking tables. */
typedef int64_t (*tide_clock_fn)(void *ctx);
void tide_graph_set_clock(tide_graph_t *g, tide_clock_fn now, void *ctx);
int64_t tide_graph_now(const tide_graph_t *g);

/* The graph a refreshing table belongs to; NULL for a static table. */
tide_graph_t *tide_table_graph(const tide_table_t *t);

/* Listeners: fn runs inside the cycle, after t applied its update, with
 * the update (valid only during the call). The previous RowSet and values
 * are readable then. Returns a handle (owned by the table; remove it with
 * tide_listener_remove or it goes with the table), NULL with err for a
 * static table or on OOM. Listeners always run on the writer thread, one
 * at a time, in the tables' queue order, once every table of t's level in
 * the graph has been notified (tables of one level may be notified in
 * parallel; TIDE_GRAPH_PARALLEL=0 turns that off). */
typedef void (*tide_listener_fn)(tide_table_t *t, const tide_update_t *u, void *ctx);
typedef struct tide_listener_s tide_listener_t;
tide_listener_t *tide_table_listen(tide_table_t *t, tide_listener_fn fn, void *ctx,
                                   tide_error *err);
void tide_listener_remove(tide_listener_t *l);

/* The RowSet before the current cycle's update (borrowed); the current
 * RowSet when t has not changed in this cycle or outside a cycle. */
const tide_rowset_t *tide_table_prev_rowset(const tide_table_t *t);

#ifdef __cplusplus
}
#endif
#endif /* TIDE_GRAPH_H */
