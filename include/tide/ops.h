/*
 * Table operations with the Deephaven Python API's names and semantics.
 *
 * Every operation takes its inputs by borrowed pointer and returns a new
 * table with one reference (free with tide_table_free), or NULL with err
 * set: the message names the operation and the offending column or formula.
 * Column lists are arrays of strings; a match or rename entry is either
 * "Name" or "Left=Right" ("New=Old" for renames and join columns).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_OPS_H
#define TIDE_OPS_H

#include "tide/table.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------ filters and formulas */

/* Rows where the boolean formula holds ("Size > 100 && Sym == `AAPL`").
 * The result shares t's column sources. */
tide_table_t *tide_where(tide_table_t *t, const char *filter, tide_error *err);
/* Rows whose match columns appear (where_in) / do not appear (where_not_in)
 * in filter_table. Either table or both may tick: the result re-tests the
 * changed rows and the rows of values entering or leaving the filter set;
 * it is STANDARD when filter_table ticks, else of t's kind for append-only,
 * add-only and blink t (ops/wherein.c). */
tide_table_t *tide_where_in(tide_table_t *t, tide_table_t *filter_table,
                            const char *const *match, size_t nmatch, tide_error *err);
tide_table_t *tide_where_not_in(tide_table_t *t, tide_table_t *filter_table,
                                const char *const *match, size_t nmatch, tide_error *err);

/* Column formulas "Name = expr" or "Name" (an existing column).
 * select: only the listed columns, materialized in memory (all columns if
 *         n == 0).
 * view:   only the listed columns, computed on demand (formula views).
 * update: all columns plus the listed ones, materialized.
 * update_view: all columns plus the listed ones, computed on demand.
 * Later formulas may refer to columns defined by earlier ones. */
tide_table_t *tide_select(tide_table_t *t, const char *const *formulas, size_t n, tide_error *err);
tide_table_t *tide_view(tide_table_t *t, const char *const *formulas, size_t n, tide_error *err);
tide_table_t *tide_update(tide_table_t *t, const char *const *formulas, size_t n, tide_error *err);
tide_table_t *tide_update_view(tide_table_t *t, const char *const *formulas, size_t n,
                               tide_error *err);
tide_table_t *tide_drop_columns(tide_table_t *t, const char *const *names, size_t n,
                                tide_error *err);
/* Entries "New=Old". */
tide_table_t *tide_rename_columns(tide_table_t *t, const char *const *pairs, size_t n,
                                  tide_error *err);

/* ------------------------------------------------------- row selection */

/* Refreshing inputs (ops/rows_incr.c): head/tail keep the first/last n
 * rows as the parent ticks (head over append-only stays append-only,
 * head/tail over blink are blink, otherwise standard); head_by/tail_by
 * keep the static order row for row in a key space of their own (blink
 * over blink, otherwise standard); merge gives input i the result keys
 * (i << S) | key (S >= 40 bits per input; an input key beyond its slice is
 * an error) and accepts any mix of static and ticking inputs. */
tide_table_t *tide_head(tide_table_t *t, uint64_t n, tide_error *err);
tide_table_t *tide_tail(tide_table_t *t, uint64_t n, tide_error *err);
/* First / last n rows of each group of the by columns. Like Deephaven
 * (group, take n, ungroup): rows grouped by key, groups in order of first
 * appearance, table order within a group; key columns first. */
tide_table_t *tide_head_by(tide_table_t *t, uint64_t n, const char *const *by, size_t nby,
                           tide_error *err);
tide_table_t *tide_tail_by(tide_table_t *t, uint64_t n, const char *const *by, size_t nby,
                           tide_error *err);

/* Stable multi-column sort; descending[i] may be NULL (all ascending).
 * Nulls sort first (smallest), NaN last. The result redirects into t.
 * Refreshing inputs (ops/sort_incr.c) give a refreshing result kept
 * sorted incrementally in its own sparse key space (rows inserted in
 * gaps, neighbours moved with shifts); it is standard, or blink (rebuilt
 * each cycle) over a blink input. */
tide_table_t *tide_sort_ex(tide_table_t *t, const char *const *cols, const bool *descending,
                           size_t ncols, tide_error *err);
tide_table_t *tide_sort(tide_table_t *t, const char *const *cols, size_t ncols, tide_error *err);
tide_table_t *tide_sort_descending(tide_table_t *t, const char *const *cols, size_t ncols,
                                   tide_error *err);

/* Concatenate tables with the same column names and types, in order. */
tide_table_t *tide_merge(tide_table_t *const *tables, size_t n, tide_error *err);

/* Distinct combinations of cols, in order of first appearance. Ticking t:
 * a key keeps its row for life (Deephaven), so the order is first
 * appearance over the whole history; blink t: every key of the stream
 * (ops/distinct.c). */
tide_table_t *tide_select_distinct(tide_table_t *t, const char *const *cols, size_t ncols,
                                   tide_error *err);

/* ----------------------------------------------------------- aggregation */

#define TIDE_AGG_LIST(X)                 \
  X(SUM, "sum")                          \
  X(AVG, "avg")                          \
  X(COUNT, "count")                      \
  X(MIN, "min")                          \
  X(MAX, "max")                          \
  X(FIRST, "first")                      \
  X(LAST, "last")                        \
  X(STD, "std")                          \
  X(VAR, "var")                          \
  X(MEDIAN, "median")                    \
  X(PCT, "pct")                          \
  X(COUNT_DISTINCT, "count_distinct")    \
  X(ABS_SUM, "abs_sum")                  \
  X(WAVG, "weighted_avg")                \
  X(WSUM, "weighted_sum")

typedef enum tide_agg_kind_t {
#define TIDE_X_AGG_ENUM(E, name) TIDE_AGG_##E,
  TIDE_AGG_LIST(TIDE_X_AGG_ENUM)
#undef TIDE_X_AGG_ENUM
  TIDE_AGG_KIND_COUNT
} tide_agg_kind_t;

/* One aggregation of agg_by (Deephaven agg.* ):
 *  - cols: "Out=In" or "In" entries (for COUNT: cols[0] is the output
 *    column name and ncols == 1);
 *  - pct: the percentile in [0,1] for PCT (median is pct 0.5);
 *  - weight: the weight column for WAVG / WSUM;
 *  - count_nulls: COUNT_DISTINCT counts null as a value when true.
 * Result types: sum of integers -> int64, of floats -> double; avg, std,
 * var, weighted_* -> double; count -> int64; min/max/first/last/pct keep
 * the input type; median of a numeric column is double (the mean of the two
 * middle values for an even count, Deephaven's default), of other types
 * the lower middle value; count_distinct -> int64. Nulls are
 * skipped; a group with no non-null values gets null (sum of nothing is
 * null, like Deephaven). std/var are sample statistics (n - 1). */
typedef struct tide_agg_spec_t {
  tide_agg_kind_t kind;
  const char *const *cols;
  size_t ncols;
  double pct;
  const char *weight;
  bool count_nulls;
} tide_agg_spec_t;

/* Group by the by columns (none: one row over the whole table) and apply
 * the aggregations. Output: the key columns then the aggregation outputs,
 * one row per group in order of first appearance of the key.
 * Refreshing inputs (ops/agg_incr.c) give a refreshing standard table
 * whose row key is the group's id: a group keeps the slot of its first
 * appearance ever (Deephaven), disappears while it has no rows and comes
 * back in the same slot, so its order can differ from a static agg_by over
 * the current rows (compare by key). Over a blink input the result
 * aggregates every row ever seen (order statistics included: they keep
 * every value seen). Each cycle costs O(changed rows) (order statistics:
 * times a log factor) except min/max/first/last/std/var groups that lost
 * their extreme/first/last row (one scan of the input). */
tide_table_t *tide_agg_by(tide_table_t *t, const tide_agg_spec_t *aggs, size_t naggs,
                          const char *const *by, size_t nby, tide_error *err);
/* Shorthands: apply one kind to every non-key column (sum_by, avg_by,
 * min_by, max_by, first_by, last_by, std_by, var_by, median_by). */
tide_table_t *tide_agg_all_by(tide_table_t *t, tide_agg_kind_t kind, const char *const *by,
                              size_t nby, tide_error *err);
/* count_by: key columns plus an int64 count column named count_col. */
tide_table_t *tide_count_by(tide_table_t *t, const char *count_col, const char *const *by,
                            size_t nby, tide_error *err);

/* ------------------------------------------------------------------ joins */

/* on: match entries "Key" or "LeftKey=RightKey".
 * joins: right columns to add, "Col" or "New=RightCol"; n == 0 adds every
 * right column that is not a key. Output rows follow the left table's order.
 *  natural_join: every left row; right values null where unmatched; a
 *                duplicate right key is an error.
 *  exact_join:   every left row must match exactly one right row (error
 *                otherwise).
 *  join:         inner join, all combinations, left order then right order.
 *  aj / raj:     as-of joins. The last `on` entry is an inequality:
 *                aj  "Time >= Time" (or "Time > Time"): the right row with the
 *                    greatest right time <= (<) the left time;
 *                raj "Time <= Time" (or "Time < Time"): the right row with the
 *                    least right time >= (>) the left time;
 *                a bare "Time" means >= for aj and <= for raj.
 * Ticking inputs (either or both sides; ops/asof_incr.c, ops/join_cross_incr.c):
 *  aj / raj keep the left table's row keys, RowSet and columns; the result
 *  is the left's kind when the right is static, else standard; a cycle
 *  re-matches only the left rows whose time lies next to a changed right
 *  time of their group, plus the left rows added or re-keyed.
 *  join gives left row k the row keys [k << K, (k + 1) << K) (its j-th match
 *  is (k << K) | j; same row order as the static build); K grows with the
 *  largest group: a cycle that needs a larger K removes and re-adds every
 *  row (an error for a result that must stay append-only/add-only/blink). */
/* natural_join / exact_join with a refreshing left and/or right table
 * (ops/join_incr.c): the result ticks in the left table's key space (its
 * RowSet is the left's; right columns read through a ticking
 * redirection). Left rows pass the left's removes, shifts, adds and
 * modifies through; right changes modify the left rows whose match (or
 * matched values) changed. Kind: the left's kind when the right is static
 * (append-only stays append-only), standard otherwise. A duplicate right
 * key, or an exact_join left row without a match, appearing in a later
 * cycle fails that cycle (the result stops updating) with a message
 * naming the op, the key columns and the key. */
tide_table_t *tide_natural_join(tide_table_t *left, tide_table_t *right, const char *const *on,
                                size_t non, const char *const *joins, size_t njoins,
                                tide_error *err);
tide_table_t *tide_exact_join(tide_table_t *left, tide_table_t *right, const char *const *on,
                              size_t non, const char *const *joins, size_t njoins,
                              tide_error *err);
tide_table_t *tide_join(tide_table_t *left, tide_table_t *right, const char *const *on,
                        size_t non, const char *const *joins, size_t njoins, tide_error *err);
tide_table_t *tide_aj(tide_table_t *left, tide_table_t *right, const char *const *on, size_t non,
                      const char *const *joins, size_t njoins, tide_error *err);
tide_table_t *tide_raj(tide_table_t *left, tide_table_t *right, const char *const *on,
                       size_t non, const char *const *joins, size_t njoins, tide_error *err);

#ifdef __cplusplus
}
#endif
#endif /* TIDE_OPS_H */
