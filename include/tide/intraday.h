/*
 * The intraday store (issue 5): append-only, crash-safe table partitions
 * under a database root, DB/Intraday/<namespace>/<table>/<date>/, written
 * by one appender (the ingester) and read by any number of readers.
 * docs/STORAGE.md ("Intraday partitions") has the file layout and the
 * fsync discipline.
 *
 * - Directories are created on the first write.
 * - One writer per partition: an exclusive flock on the partition's
 *   writer.lock; a second appender is refused with TIDE_ERR_STATE.
 * - Appended rows become visible to readers only at commit. A crash (kill
 *   -9, power loss) at any point loses no committed row and never exposes a
 *   torn row: readers trust only the commit log, whose records carry the
 *   committed row count and per-batch checksums of every column file; the
 *   next appender truncates uncommitted tails.
 * - Damage (a flipped bit, a file cut below its committed size) is
 *   TIDE_ERR_CORRUPT naming the file and the commit batch.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_INTRADAY_H
#define TIDE_INTRADAY_H

#include "tide/graph.h"
#include "tide/table.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Database root used when db is NULL or "". */
#define TIDE_DB_DEFAULT "./tide-db"

/* Check a namespace or table name: non-empty, at most 255 bytes, no '/',
 * no control character, not starting with '.' (so "." and ".." are
 * refused). `what` names the argument in the message ("namespace").
 * TIDE_ERR_INVALID otherwise. */
tide_status tide_intraday_check_name(const char *what, const char *name, tide_error *err);
/* Check a partition date: "YYYY-MM-DD", a real calendar day. */
tide_status tide_intraday_check_date(const char *date, tide_error *err);
/* Today's date (UTC) as "YYYY-MM-DD" into buf (>= 11 bytes). */
void tide_intraday_today(char *buf, size_t cap);

typedef struct tide_appender_s tide_appender_t;

/* Open the appender of partition (db, ns, table, date), creating the
 * directories and files on first use, and recovering after a crash
 * (uncommitted tails of the column files and of the commit log are cut
 * off; the last committed batch is verified). The schema (ncols names and
 * types, identifiers) is required for a new partition and must match an
 * existing one (same names, order and types); ncols == 0 takes an existing
 * partition's schema. TIDE_ERR_STATE when another appender holds the
 * partition; NULL with err set on any failure. */
tide_appender_t *tide_appender_open(const char *db, const char *ns, const char *table,
                                    const char *date, size_t ncols, const char *const *names,
                                    const tide_type_t *types, tide_error *err);

/* The partition's schema (borrowed, valid while the appender lives). */
size_t tide_appender_ncols(const tide_appender_t *a);
const char *tide_appender_col_name(const tide_appender_t *a, size_t col);
tide_type_t tide_appender_col_type(const tide_appender_t *a, size_t col);

/* Stage the rows of a static table (every partition column, by name, with
 * the same type; STRING and SYMBOL convert into each other; no extra
 * columns). Staged rows are held in memory and are invisible until
 * tide_appender_commit. Errors name the column. */
tide_status tide_appender_append(tide_appender_t *a, const tide_table_t *rows, tide_error *err);

/* Make the staged rows durable and visible: write them to the column
 * files, fsync each, then append one commit record to commit.log and
 * fsync it. Returns only when the batch is on disk. A commit with nothing
 * staged does nothing. After a failed commit the appender refuses further
 * work (TIDE_ERR_STATE); reopen it to recover. */
tide_status tide_appender_commit(tide_appender_t *a, tide_error *err);

/* Rows committed (visible to readers) and rows staged. */
uint64_t tide_appender_committed_rows(const tide_appender_t *a);
uint64_t tide_appender_staged_rows(const tide_appender_t *a);

/* Close the appender and release the partition lock. Staged rows that
 * were not committed are discarded. NULL ok. */
void tide_appender_close(tide_appender_t *a);

/* The committed rows of a partition as a static table (one reference),
 * every batch verified against its checksums. TIDE_ERR_NOT_FOUND for a
 * partition that does not exist; TIDE_ERR_CORRUPT naming the file and the
 * batch for damage. Safe while an appender is writing (sees the commits
 * made before the call). */
tide_table_t *tide_intraday_read(const char *db, const char *ns, const char *table,
                                 const char *date, tide_error *err);

/* Committed rows [from, committed) of a partition, with the number of
 * committed rows in *committed (from beyond it: an empty table). The
 * batches holding those rows are verified. For tailing readers. */
tide_table_t *tide_intraday_read_from(const char *db, const char *ns, const char *table,
                                      const char *date, uint64_t from, uint64_t *committed,
                                      tide_error *err);

/* live_table: an APPEND_ONLY ticking table of graph g tailing partition
 * (db, ns, table, date) (date NULL: today, UTC, fixed at creation). Its
 * columns are `Date` (SYMBOL, the partition's date in every row, as in
 * historical tables, so merge([historical_table, live_table]) lines up;
 * omitted when the partition stores a column named Date), then the
 * partition's. Its initial content is the committed rows; every cycle in
 * which new commits arrived appends their rows (row key = row number in
 * the partition), reading only those commits' records and the bytes they
 * added (an open tail reader keeps its place; each commit's checksums are
 * verified); other cycles cost one stat. The partition must exist (its
 * schema gives the columns). Damage found by a cycle fails the cycle
 * (tide/graph.h) with the reader's message, naming the file and commit;
 * nothing is consumed, so a later cycle retries. One reference; NULL with
 * err. */
tide_table_t *tide_live_table(tide_graph_t *g, const char *db, const char *ns, const char *table,
                              const char *date, tide_error *err);

#ifdef __cplusplus
}
#endif
#endif /* TIDE_INTRADAY_H */
