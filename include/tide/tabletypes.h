/*
 * Table-type conversions (Deephaven semantics, seed 004):
 *
 * - tide_snapshot: a static copy of a table's current rows.
 * - tide_remove_blink: a blink table seen as a STANDARD table, so that
 *   downstream aggregations cover only the current rows.
 * - tide_blink_to_append_only: an append-only table accumulating every row
 *   a blink table ever held.
 * - tide_ring_table: a ring table holding the last n rows a blink or
 *   append-only table delivered.
 *
 * Each returns one reference, or NULL with err set (messages name the
 * function).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_TABLETYPES_H
#define TIDE_TABLETYPES_H

#include "tide/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A static table holding t's current rows and values (RowSet [0, n)),
 * copied under t's graph's read lock. For a static t: a new reference to
 * t. STRING values point into t's storage (kept alive); SYMBOL columns
 * share t's dictionaries. */
tide_table_t *tide_snapshot(tide_table_t *t, tide_error *err);

/* For a blink table: the same rows and columns as a STANDARD refreshing
 * table (each cycle passes the parent's update through), so that e.g.
 * agg_by over it aggregates only the current batch. Any other table: a new
 * reference to t. */
tide_table_t *tide_remove_blink(tide_table_t *t, tide_error *err);

/* For a blink table: an APPEND_ONLY table that starts with t's current
 * rows and appends, each cycle, the rows t added (row keys 0, 1, 2, ... in
 * arrival order). TIDE_ERR_INVALID for a static or non-blink table. */
tide_table_t *tide_blink_to_append_only(tide_table_t *t, tide_error *err);

/* Deephaven's RingTableTools.of(t, capacity, initialize): a RING table
 * holding the last `capacity` rows that t delivered, oldest first. t must
 * be a blink or an append-only table (TIDE_ERR_INVALID otherwise: other
 * kinds have no arrival order); with initialize, t's current rows count as
 * delivered when the ring is created (the last `capacity` of them are
 * kept), else the ring starts empty. Each row gets the next row key 0, 1,
 * 2, ... in arrival order and is stored in slot key % capacity, so a cycle
 * publishes the arrived rows as added (only the last `capacity` of a big
 * batch) and the oldest rows they push out as removed: the RowSet is
 * always the single range of the last `size` keys, and rows are never
 * modified or shifted. Rows of a blink table stay in the ring after the
 * blink table drops them. A static t gives a static table: its last
 * `capacity` rows (initialize) or no rows. capacity 0: TIDE_ERR_INVALID. */
tide_table_t *tide_ring_table(tide_table_t *t, uint64_t capacity, bool initialize,
                              tide_error *err);

#ifdef __cplusplus
}
#endif
#endif /* TIDE_TABLETYPES_H */
