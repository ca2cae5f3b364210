/*
 * The historical store (include/tide/historical.h): several dates written
 * through WritablePartitions links into two partitions, read back as the
 * concatenation in date order with a Date column; Date-range pruning
 * (a damaged partition outside the range is never opened); zone-map
 * pruning of a range filter; the errors (no WritablePartitions, bad
 * names and dates, duplicates, a damaged partition named in the message).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "tide/historical.h"
#include "tide/ops.h"

static char g_db[256];

static void rm_rf(const char *d) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
  if (system(cmd) != 0) fprintf(stderr, "historical: could not remove %s\n", d);
}

static void mkdirs(const char *rel) {
  char cmd[700];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s'", g_db, rel);
  if (system(cmd) != 0) abort();
}

static void link_rel(const char *target, const char *rel) {
  char p[600];
  snprintf(p, sizeof p, "%s/%s", g_db, rel);
  if (symlink(target, p) != 0) abort();
}

#define NDATES 6
static const char *g_dates[NDATES] = {"2026-01-07", "2026-01-02", "2026-01-05",
                                      "2026-01-03", "2026-01-06", "2026-01-08"};
static const uint64_t g_rows[NDATES] = {1000, 150000, 0, 77, 5000, 3};

/* Table of date index d (rows g_rows[d]): Sym, Price, Size; Size is
 * d*1e6 + row (so each date and each block has its own Size range). With
 * `with_date`, Date first. */
static tide_table_t *make(int d, bool with_date) {
  uint64_t n = g_rows[d];
  const char **date = malloc((n + 1) * sizeof *date), **sym = malloc((n + 1) * sizeof *sym);
  double *px = malloc((n + 1) * sizeof *px);
  int64_t *sz = malloc((n + 1) * sizeof *sz);
  static const char *syms[] = {"AAPL", "MSFT", "GOOG", NULL};
  tu_rng r = {(uint64_t)d * 7919 + 1};
  for (uint64_t i = 0; i < n; i++) {
    date[i] = g_dates[d];
    sym[i] = syms[tu_below(&r, 4)];
    px[i] = tu_below(&r, 10) == 0 ? TIDE_NULL_F64 : 100 + tu_unit(&r);
    sz[i] = tu_below(&r, 20) == 0 ? TIDE_NULL_I64 : d * 1000000 + (int64_t)i;
  }
  const char *names[] = {"Date", "Sym", "Price", "Size"};
  const tide_type_t types[] = {TIDE_SYMBOL, TIDE_SYMBOL, TIDE_F64, TIDE_I64};
  const void *cols[] = {date, sym, px, sz};
  tide_table_t *t = with_date ? tu_table(n, 4, names, types, cols)
                              : tu_table(n, 3, names + 1, types + 1, cols + 1);
  free(date);
  free(sym);
  free(px);
  free(sz);
  return t;
}

/* The expected read of dates in [from, to]: the tables with Date, merged
 * in date order. */
static tide_table_t *expected(const char *from, const char *to) {
  int order[NDATES], n = 0;
  for (int i = 0; i < NDATES; i++) order[n++] = i;
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++)
      if (strcmp(g_dates[order[j]], g_dates[order[i]]) < 0) {
        int x = order[i];
        order[i] = order[j];
        order[j] = x;
      }
  tide_table_t *ts[NDATES];
  size_t nt = 0;
  for (int i = 0; i < n; i++) {
    const char *d = g_dates[order[i]];
    if ((from && strcmp(d, from) < 0) || (to && strcmp(d, to) > 0)) continue;
    ts[nt++] = make(order[i], true);
  }
  tide_error err;
  if (nt == 0) { /* nothing selected: no rows, same columns */
    tide_table_t *one = make(0, true), *e = tide_head(one, 0, &err);
    tide_table_free(one);
    if (!e) abort();
    return e;
  }
  tide_table_t *m = tide_merge(ts, nt, &err);
  for (size_t i = 0; i < nt; i++) tide_table_free(ts[i]);
  if (!m) abort();
  return m;
}

static void flip_byte(const char *path, long off) {
  FILE *f = fopen(path, "r+b");
  if (!f) abort();
  fseek(f, off, SEEK_SET);
  int c = fgetc(f);
  fseek(f, off, SEEK_SET);
  fputc(c ^ 0x40, f);
  fclose(f);
}

/* Path of the stored table of date index d (searching both partitions). */
static const char *stored(int d, const char *file) {
  static char p[700];
  for (int part = 0; part < 2; part++) {
    snprintf(p, sizeof p, "%s/Systems/Mkt/Partitions/%d/%s/Trades", g_db, part, g_dates[d]);
    struct stat sb;
    if (stat(p, &sb) == 0) {
      snprintf(p, sizeof p, "%s/Systems/Mkt/Partitions/%d/%s/Trades/%s", g_db, part, g_dates[d],
               file);
      return p;
    }
  }
  return NULL;
}

static void test_write_read(void) {
  tide_error err;
  tide_error_clear(&err);
  for (int d = 0; d < NDATES; d++) {
    tide_table_t *t = make(d, false);
    tide_status st = tide_historical_write(g_db, "Mkt", "Trades", g_dates[d], t, (tide_codec_t)(d % 3), &err);
    CHECK_OK(st, err);
    /* a second write of the same date is refused */
    st = tide_historical_write(g_db, "Mkt", "Trades", g_dates[d], t, TIDE_CODEC_NONE, &err);
    CHECK(st == TIDE_ERR_INVALID && strstr(err.msg, "already exists"));
    tide_table_free(t);
  }
  /* both partitions received dates */
  int per[2] = {0, 0};
  for (int d = 0; d < NDATES; d++) {
    const char *p = stored(d, "table.tdef");
    CHECK_MSG(p != NULL, "date %s not stored", g_dates[d]);
    if (p) per[strstr(p, "/Partitions/1/") != NULL]++;
  }
  CHECK_MSG(per[0] > 0 && per[1] > 0, "partitions used: %d and %d", per[0], per[1]);

  /* listing: sorted by date */
  tide_historical_part_t *parts;
  size_t np;
  CHECK_OK(tide_historical_list(g_db, "Mkt", "Trades", NULL, &parts, &np, &err), err);
  CHECK(np == NDATES);
  for (size_t i = 1; i < np; i++) CHECK(strcmp(parts[i - 1].date, parts[i].date) < 0);
  tide_historical_parts_free(parts, np);

  /* the whole table */
  tide_table_t *all = tide_historical_table(g_db, "Mkt", "Trades", &err);
  CHECK_OK_PTR(all, err);
  tide_table_t *want = expected(NULL, NULL);
  if (all) {
    CHECK(!strcmp(tide_table_col_name(all, 0), "Date"));
    CHECK(tide_table_col_type(all, 0) == TIDE_SYMBOL);
    CHECK_TABLES(all, want, 0);
  }
  tide_table_free(all);
  tide_table_free(want);

  /* date ranges */
  const char *ranges[][2] = {{"2026-01-03", "2026-01-06"}, {NULL, "2026-01-02"},
                             {"2026-01-07", NULL},          {"2026-01-04", "2026-01-04"}};
  for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
    tide_historical_query_t q = {.from = ranges[i][0], .to = ranges[i][1]};
    tide_table_t *got = tide_historical_query(g_db, "Mkt", "Trades", &q, &err);
    CHECK_OK_PTR(got, err);
    want = expected(q.from, q.to);
    if (got) CHECK_TABLES(got, want, 0);
    tide_table_free(got);
    tide_table_free(want);
  }
}

/* A damaged partition: named in the error of a read that opens it, and
 * never opened by a read whose date range (or zone maps) exclude it. */
static void test_pruning(void) {
  tide_error err;
  tide_error_clear(&err);
  /* damage date index 0 (2026-01-07): a byte in its first Price block */
  const char *p = stored(0, "Price.col");
  CHECK(p != NULL);
  if (!p) return;
  char damaged[700];
  snprintf(damaged, sizeof damaged, "%s", p);
  flip_byte(damaged, 64 + 100);

  tide_table_t *all = tide_historical_table(g_db, "Mkt", "Trades", &err);
  CHECK(all == NULL);
  CHECK_MSG(all == NULL && err.status == TIDE_ERR_CORRUPT && strstr(err.msg, damaged),
            "error: %s", err.msg);
  tide_table_free(all);

  /* the range excludes 2026-01-07: succeeds */
  tide_historical_query_t q = {.from = "2026-01-01", .to = "2026-01-06"};
  tide_table_t *got = tide_historical_query(g_db, "Mkt", "Trades", &q, &err);
  CHECK_OK_PTR(got, err);
  tide_table_t *want = expected(q.from, q.to);
  if (got) CHECK_TABLES(got, want, 0);
  tide_table_free(got);
  tide_table_free(want);
  q.from = "2026-01-08";
  q.to = NULL;
  got = tide_historical_query(g_db, "Mkt", "Trades", &q, &err);
  CHECK_OK_PTR(got, err);
  if (got) CHECK(tide_table_size(got) == 3);
  tide_table_free(got);

  /* zone maps: Size in date index 1's range (1e6 + [70000, 140000]) over
   * all dates: the damaged date's Size range (0..999) is excluded by its
   * zone map, so its data is never read; within date 1 only blocks 1 and 2
   * of 3 overlap. The result equals the exact filter on the expected
   * table. */
  const double ranges[][2] = {{1070000, 1140000}, {1000000, 1000010}, {4000100, INFINITY},
                              {5e6, 5e6 + 2}, {-INFINITY, 1000005}};
  for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
    tide_historical_query_t zq = {.col = "Size", .lo = ranges[i][0], .hi = ranges[i][1]};
    if (i == 4) zq.to = "2026-01-06"; /* -inf would include the damaged date's rows */
    got = tide_historical_query(g_db, "Mkt", "Trades", &zq, &err);
    CHECK_OK_PTR(got, err);
    tide_table_t *base = expected(zq.from, zq.to);
    char filt[200];
    if (isfinite(zq.lo) && isfinite(zq.hi))
      snprintf(filt, sizeof filt, "!isNull(Size) && Size >= %.17g && Size <= %.17g", zq.lo, zq.hi);
    else if (isfinite(zq.lo))
      snprintf(filt, sizeof filt, "!isNull(Size) && Size >= %.17g", zq.lo);
    else
      snprintf(filt, sizeof filt, "!isNull(Size) && Size <= %.17g", zq.hi);
    want = tide_where(base, filt, &err);
    if (got && want) {
      CHECK_TABLES(got, want, 0);
      CHECK_MSG(tide_table_size(got) > 0, "range %zu selects nothing", i);
    }
    tide_table_free(got);
    tide_table_free(want);
    tide_table_free(base);
  }
  /* a range covering the damaged date's Size values opens it: error */
  tide_historical_query_t bad = {.col = "Size", .lo = 0, .hi = 10};
  got = tide_historical_query(g_db, "Mkt", "Trades", &bad, &err);
  CHECK(got == NULL && strstr(err.msg, damaged));
  tide_table_free(got);
  /* filter errors */
  tide_historical_query_t nocol = {.col = "Nope", .lo = 0, .hi = 1, .from = "2026-01-02"};
  got = tide_historical_query(g_db, "Mkt", "Trades", &nocol, &err);
  CHECK(got == NULL && strstr(err.msg, "no column 'Nope'"));
  tide_historical_query_t sym = {.col = "Sym", .lo = 0, .hi = 1, .from = "2026-01-02"};
  got = tide_historical_query(g_db, "Mkt", "Trades", &sym, &err);
  CHECK(got == NULL && err.status == TIDE_ERR_TYPE && strstr(err.msg, "Sym"));

  /* nothing selected: empty, with the columns */
  tide_historical_query_t none = {.from = "2027-01-01"};
  got = tide_historical_query(g_db, "Mkt", "Trades", &none, &err);
  CHECK_OK_PTR(got, err);
  if (got) {
    CHECK(tide_table_size(got) == 0 && tide_table_ncols(got) == 4);
    CHECK(tide_table_col_type(got, 0) == TIDE_SYMBOL && tide_table_col_type(got, 3) == TIDE_I64);
  }
  tide_table_free(got);
  /* projection: Price (damaged in 2026-01-07) is never opened */
  const char *pcols[] = {"Size", "Sym"};
  tide_historical_query_t pq = {.cols = pcols, .ncols = 2};
  got = tide_historical_query(g_db, "Mkt", "Trades", &pq, &err);
  CHECK_OK_PTR(got, err);
  tide_table_t *full = expected(NULL, NULL);
  want = tide_view(full, (const char *[]){"Date", "Size", "Sym"}, 3, &err);
  if (got && want) CHECK_TABLES(got, want, 0);
  tide_table_free(got);
  tide_table_free(want);
  tide_table_free(full);
  pq.from = "2030-01-01"; /* nothing selected: Date + the projection */
  got = tide_historical_query(g_db, "Mkt", "Trades", &pq, &err);
  CHECK_OK_PTR(got, err);
  if (got)
    CHECK(tide_table_ncols(got) == 3 && tide_table_size(got) == 0 &&
          !strcmp(tide_table_col_name(got, 1), "Size") && tide_table_col_type(got, 2) == TIDE_SYMBOL);
  tide_table_free(got);
  const char *badcols[][2] = {{"Size", "Nope"}, {"Size", "Size"}, {"Date", "Size"}};
  for (int i = 0; i < 3; i++) {
    tide_historical_query_t bq = {.cols = badcols[i], .ncols = 2, .from = "2026-01-02", .to = "2026-01-02"};
    got = tide_historical_query(g_db, "Mkt", "Trades", &bq, &err);
    CHECK_MSG(got == NULL && strstr(err.msg, badcols[i][i == 0]), "%s", err.msg);
    tide_table_free(got);
  }
  /* repair the byte: the whole read works again */
  flip_byte(damaged, 64 + 100);
  got = tide_historical_table(g_db, "Mkt", "Trades", &err);
  CHECK_OK_PTR(got, err);
  tide_table_free(got);
}

static void test_errors(void) {
  tide_error err;
  tide_error_clear(&err);
  tide_table_t *t = make(3, false);
  /* a namespace with Partitions but no WritablePartitions */
  mkdirs("Systems/ReadOnly/Partitions/0");
  tide_status st = tide_historical_write(g_db, "ReadOnly", "Trades", "2026-01-02", t,
                                         TIDE_CODEC_NONE, &err);
  CHECK_MSG(st == TIDE_ERR_NOT_FOUND && strstr(err.msg, "WritablePartitions"), "%s", err.msg);
  st = tide_historical_write(g_db, "NoSuchNs", "Trades", "2026-01-02", t, TIDE_CODEC_NONE, &err);
  CHECK_MSG(st == TIDE_ERR_NOT_FOUND && strstr(err.msg, "WritablePartitions"), "%s", err.msg);
  /* WritablePartitions with no link in it */
  mkdirs("Systems/Bare/WritablePartitions");
  st = tide_historical_write(g_db, "Bare", "Trades", "2026-01-02", t, TIDE_CODEC_NONE, &err);
  CHECK_MSG(st == TIDE_ERR_NOT_FOUND && strstr(err.msg, "no writable partition"), "%s", err.msg);
  /* bad names (write and read) */
  const char *bad[] = {"..", ".", "", "a/b", "../x", ".hidden", "x\001y", "/abs"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    st = tide_historical_write(g_db, bad[i], "Trades", "2026-01-02", t, TIDE_CODEC_NONE, &err);
    CHECK_MSG(st == TIDE_ERR_INVALID && strstr(err.msg, "namespace"), "'%s': %s", bad[i], err.msg);
    st = tide_historical_write(g_db, "Mkt", bad[i], "2026-01-02", t, TIDE_CODEC_NONE, &err);
    CHECK_MSG(st == TIDE_ERR_INVALID && strstr(err.msg, "table"), "'%s': %s", bad[i], err.msg);
    tide_table_t *r = tide_historical_table(g_db, bad[i], "Trades", &err);
    CHECK(r == NULL && err.status == TIDE_ERR_INVALID);
    r = tide_historical_table(g_db, "Mkt", bad[i], &err);
    CHECK(r == NULL && err.status == TIDE_ERR_INVALID);
  }
  CHECK(tide_db_check_name("table", NULL, &err) == TIDE_ERR_INVALID);
  /* bad dates */
  const char *dates[] = {"2026-1-02", "2026-13-01", "2026-01-00", "../../x", "20260102", ""};
  for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
    st = tide_historical_write(g_db, "Mkt", "Trades", dates[i], t, TIDE_CODEC_NONE, &err);
    CHECK_MSG(st == TIDE_ERR_INVALID && strstr(err.msg, "YYYY-MM-DD"), "'%s': %s", dates[i], err.msg);
  }
  tide_historical_query_t q = {.from = "yesterday"};
  tide_table_t *r = tide_historical_query(g_db, "Mkt", "Trades", &q, &err);
  CHECK(r == NULL && strstr(err.msg, "yesterday"));
  /* a Date column is refused on write */
  tide_table_t *wd = make(3, true);
  st = tide_historical_write(g_db, "Mkt", "Other", "2026-01-02", wd, TIDE_CODEC_NONE, &err);
  CHECK(st == TIDE_ERR_INVALID && strstr(err.msg, "'Date'"));
  tide_table_free(wd);
  /* unknown table / namespace */
  r = tide_historical_table(g_db, "Mkt", "NoSuchTable", &err);
  CHECK(r == NULL && err.status == TIDE_ERR_NOT_FOUND && strstr(err.msg, "NoSuchTable"));
  r = tide_historical_table(g_db, "NoSuchNs", "Trades", &err);
  CHECK(r == NULL && err.status == TIDE_ERR_NOT_FOUND && strstr(err.msg, "NoSuchNs"));
  /* leftovers of an interrupted write are never read */
  mkdirs("Systems/Mkt/Partitions/1/2026-01-02/Trades.tmp.99999");
  mkdirs("Systems/Mkt/Partitions/0/2026-01-09.tmp.1/Trades");
  r = tide_historical_table(g_db, "Mkt", "Trades", &err);
  CHECK_OK_PTR(r, err);
  tide_table_t *want = expected(NULL, NULL);
  if (r) CHECK_TABLES(r, want, 0);
  tide_table_free(want);
  tide_table_free(r);
  /* mismatched columns across dates: a clear error */
  tide_table_t *other = tu_table(2, 1, (const char *[]){"X"}, (const tide_type_t[]){TIDE_I32},
                                 (const void *[]){(int32_t[]){1, 2}});
  st = tide_historical_write(g_db, "Mkt", "Trades", "2026-02-01", other, TIDE_CODEC_NONE, &err);
  CHECK_OK(st, err);
  r = tide_historical_table(g_db, "Mkt", "Trades", &err);
  CHECK_MSG(r == NULL && strstr(err.msg, "same columns"), "%s", err.msg);
  tide_table_free(r);
  tide_table_free(other);
  tide_table_free(t);
}

int main(void) {
  snprintf(g_db, sizeof g_db, "/tmp/tide-test-historical-%ld", (long)getpid());
  rm_rf(g_db);
  mkdirs("Systems/Mkt/Partitions/0");
  mkdirs("Systems/Mkt/Partitions/1");
  mkdirs("Systems/Mkt/WritablePartitions");
  link_rel("../Partitions/0", "Systems/Mkt/WritablePartitions/0");
  link_rel("../Partitions/1", "Systems/Mkt/WritablePartitions/1");
  test_write_read();
  test_pruning();
  test_errors();
  rm_rf(g_db);
  return tu_finish("historical");
}
