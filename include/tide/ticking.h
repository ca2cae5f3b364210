/*
 * Ticking sources: tables that change on their own, once per update cycle
 * of their graph (tide/graph.h).
 *
 * - tide_replay: replays a static table a batch of rows per cycle
 *   (append-only, or blink: each cycle holds only its batch). Deterministic:
 *   for tests and benchmarks.
 * - tide_time_table: one row per elapsed period, with a Timestamp column,
 *   timed by the graph's clock (tide_graph_set_clock; a simulated clock,
 *   tide_sim_clock_now, makes it deterministic).
 * - input tables: keyed (upsert/delete by key: a STANDARD table) or
 *   unkeyed (append only); changes are queued from any thread and applied
 *   at the next cycle.
 * - publishers: the C API for an embedding application that produces rows
 *   on its own threads (append-only or blink).
 *
 * Every function returns a refreshing table with one reference (free it
 * with tide_table_free before the graph), or NULL with err set. Messages
 * name the function ("replay: rows_per_cycle must be positive").
 *
 * Previous values: all columns keep an undo log (docs/TICKING.md), so
 * listeners read the values removed or modified rows had before the cycle
 * with tide_source_fill_prev.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_TICKING_H
#define TIDE_TICKING_H

#include "tide/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- clocks */

/* A simulated clock: now = start_ns + step * step_ns, where step is the
 * graph's current logical step (the cycle being computed, or the last one
 * completed when idle). Install with
 *   tide_graph_set_clock(g, tide_sim_clock_now, &clock)
 * (the struct must outlive its use). Deterministic whatever the wall time. */
typedef struct tide_sim_clock_t {
  const tide_graph_t *graph;
  int64_t start_ns;
  int64_t step_ns;
} tide_sim_clock_t;
int64_t tide_sim_clock_now(void *sim_clock);

/* Parse a duration: ISO-8601 "PT0.1S", "PT1S", "PT1M", "PT1H30M",
 * "P1DT2H" (days are 24 h; designators case-insensitive), or the short
 * forms "100ms", "10s", "1.5s", "2m", "1h", "500us", "10ns". The result
 * must be positive. TIDE_ERR_INVALID with a message naming `what` and the
 * text otherwise. */
tide_status tide_duration_parse(const char *s, const char *what, int64_t *ns_out,
                                tide_error *err);

/* ---------------------------------------------------------------- replay */

/* Each cycle appends the next rows_per_cycle rows of the static table src
 * (row keys = positions in src): an APPEND_ONLY table that is empty at
 * creation and equals src.head(k * rows_per_cycle) after k cycles. With
 * blink, a BLINK table: each cycle removes the previous batch and adds the
 * next one (keys keep growing: the batch's positions); after the last
 * batch the next cycle empties it. Columns have src's names and types;
 * SYMBOL columns share src's dictionaries; src is kept alive. */
tide_table_t *tide_replay(tide_graph_t *g, tide_table_t *src, uint64_t rows_per_cycle, bool blink,
                          tide_error *err);

/* ------------------------------------------------------------ time table */

/* A table with one TIMESTAMP column "Timestamp": a row at start_ns
 * (TIDE_NULL_TS: the graph's clock at creation), then at every multiple of
 * period_ns after it. Rows already due at creation are there from the
 * start (so one row when start_ns is "now"); each later row is added in
 * the first cycle whose clock (tide_graph_now) has reached it, several per
 * cycle if the clock jumped. APPEND_ONLY, or BLINK (each cycle holds only
 * the rows it added) with blink. */
tide_table_t *tide_time_table(tide_graph_t *g, int64_t period_ns, int64_t start_ns, bool blink,
                              tide_error *err);

/* ----------------------------------------------------------- input tables */

/* An input table with the schema (and the rows, applied at once) of
 * init (static, or refreshing: its rows as of the call), keyed by the nkeys key columns (0: unkeyed).
 * Keyed tables are STANDARD: tide_input_table_add upserts by key (an
 * existing key's row is modified in place: same row key, every non-key
 * column marked modified; a new key appends a row) and
 * tide_input_table_delete removes rows by key (absent keys are ignored).
 * Unkeyed tables are APPEND_ONLY: add appends, delete is an error.
 * Duplicate keys within init or one batch: the last row wins. */
tide_table_t *tide_input_table_create(tide_graph_t *g, const tide_table_t *init,
                                      const char *const *key_cols, size_t nkeys, tide_error *err);
/* The same from a schema (the table starts empty). */
tide_table_t *tide_input_table_create_schema(tide_graph_t *g, size_t ncols,
                                             const char *const *names, const tide_type_t *types,
                                             const char *const *key_cols, size_t nkeys,
                                             tide_error *err);
/* Whether t is an input table (of this API). */
bool tide_table_is_input_table(const tide_table_t *t);
/* Queue rows (a table with every column of the input table, by name;
 * extra columns are ignored; STRING and SYMBOL convert into each other)
 * for the next cycle. Thread-safe. A static table is queued by reference
 * (it is immutable); the current rows of a refreshing one are copied
 * under its graph's read lock. Schema errors are reported here, at once. */
tide_status tide_input_table_add(tide_table_t *input, tide_table_t *rows, tide_error *err);
/* Queue the deletion of the keys in keys (a table holding at least the
 * key columns) for the next cycle. Thread-safe. */
tide_status tide_input_table_delete(tide_table_t *input, tide_table_t *keys, tide_error *err);

/* -------------------------------------------------------------- publisher */

typedef struct tide_publisher_s tide_publisher_t;

/* Called on the writer thread, inside the cycle, after the rows appended
 * since the previous flush were published (rows: how many). */
typedef void (*tide_publisher_flush_fn)(tide_publisher_t *pub, uint64_t rows, void *ctx);

/* A publisher and its table (kind TIDE_KIND_APPEND_ONLY or TIDE_KIND_BLINK;
 * the table is empty at creation). The publisher holds one reference to
 * the table; tide_publisher_table lends it. */
tide_publisher_t *tide_publisher_create(tide_graph_t *g, size_t ncols, const char *const *names,
                                        const tide_type_t *types, tide_table_kind_t kind,
                                        tide_error *err);
tide_table_t *tide_publisher_table(const tide_publisher_t *pub);
/* Optional flush callback (set it before appending). */
void tide_publisher_on_flush(tide_publisher_t *pub, tide_publisher_flush_fn fn, void *ctx);
/* Copy n rows into the pending buffer; they are published at the next
 * cycle. cols[i] points to n values of column i's storage type; STRING and
 * SYMBOL columns are given as const char *[] (NULL = null) and copied.
 * Thread-safe: any number of threads may append concurrently; rows of one
 * call stay together and in order. */
tide_status tide_publisher_append(tide_publisher_t *pub, const void *const *cols, uint64_t n,
                                  tide_error *err);
/* Drop the publisher's table reference; the handle is invalid afterwards
 * (the table, if still referenced elsewhere, stops changing). */
void tide_publisher_free(tide_publisher_t *pub);

#ifdef __cplusplus
}
#endif
#endif /* TIDE_TICKING_H */
