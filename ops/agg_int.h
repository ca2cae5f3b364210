/*
 * Private interface between the static aggregations (ops/agg.c) and their
 * incremental listener (ops/agg_incr.c).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_OPS_AGG_INT_H
#define TIDE_OPS_AGG_INT_H

#include "core/core_int.h"

#define AGG_NAME_MAX 256

/* One output column of an aggregation. */
typedef struct agg_item_t {
  tide_agg_kind_t kind;
  int in;      /* input column (-1 for COUNT) */
  int weight;  /* weight column for WAVG/WSUM, else -1 */
  double pct;
  bool count_nulls;
  char out[AGG_NAME_MAX];
} agg_item_t;

/* agg_by over a refreshing table t (ops/agg_incr.c): by columns byidx[0..nby)
 * (resolved), output names names[0..nby+nitems). Returns the refreshing
 * result or NULL with err (TIDE_ERR_UNSUPPORTED naming the aggregation for
 * kinds without an incremental listener). */
tide_table_t *tide__agg_incr_create(tide_table_t *t, const agg_item_t *items, size_t nitems,
                                    const int *byidx, size_t nby, const char *const *names,
                                    const char *op, tide_error *err);

/* Test hooks (ops/agg_incr.c), relaxed counters over every incremental
 * agg_by: rows read by scans of a whole input (min/max, first/last and
 * std/var recomputation of dirty groups; the other aggregations never
 * scan), and rows applied from updates (removed, modified twice, added,
 * plus the first snapshot). */
#include <stdatomic.h>
extern _Atomic uint64_t tide__agg_incr_scanned_rows;
extern _Atomic uint64_t tide__agg_incr_applied_rows;

#endif /* TIDE_OPS_AGG_INT_H */
