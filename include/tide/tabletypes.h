/*
 * Table-type conversions (Deephaven semantics, seed 004):
 *
 * - tide_snapshot: a static copy of a table's current rows.
 * - tide_remove_blink: a blink table seen as a STANDARD table, so that
 *   downstream aggregations cover only the current rows.
 * - tide_blink_to_append_only: an append-only table accumulating every row
 *   a blink table ever held.
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

#ifdef __cplusplus
}
#endif
#endif /* TIDE_TABLETYPES_H */
