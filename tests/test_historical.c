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
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/script.h"
#include "io/io_int.h"
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

/* sum(col) over t (agg_by without keys); NULL with err on failure. */
static tide_table_t *sum_of(tide_table_t *t, const char *col, tide_error *err) {
  const char *cols[] = {col};
  tide_agg_spec_t a = {.kind = TIDE_AGG_SUM, .cols = cols, .ncols = 1};
  return tide_agg_by(t, &a, 1, NULL, 0, err);
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

  /* the table is lazy: created without reading Price; the first scan of
   * the damaged block reports it (through the op that read it) */
  tide_table_t *all = tide_historical_table(g_db, "Mkt", "Trades", &err);
  CHECK_OK_PTR(all, err);
  if (all) {
    tide_table_t *s = sum_of(all, "Price", &err);
    CHECK_MSG(s == NULL && err.status == TIDE_ERR_CORRUPT && strstr(err.msg, damaged) &&
                  strstr(err.msg, "block 0"),
              "error: %s", err.msg);
    tide_table_free(s);
    /* Size is intact: its scans work */
    s = sum_of(all, "Size", &err);
    CHECK_OK_PTR(s, err);
    tide_table_free(s);
  }
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
  /* a range covering the damaged date's Size values selects its rows:
   * reading their Price reports the damage */
  tide_historical_query_t bad = {.col = "Size", .lo = 0, .hi = 10};
  got = tide_historical_query(g_db, "Mkt", "Trades", &bad, &err);
  CHECK_OK_PTR(got, err);
  if (got) {
    tide_table_t *s = sum_of(got, "Price", &err);
    CHECK_MSG(s == NULL && strstr(err.msg, damaged), "%s", err.msg);
    tide_table_free(s);
  }
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

/* ------------------------------------------------------------ lazy reads */

/* Namespace Lazy, table T: LDATES dates of various sizes (several 65,536-row
 * blocks, an empty date, sizes off the 4,096-row chunk grid), each date
 * with its own codec and its own symbol dictionary order (so the lazy
 * SYMBOL column translates codes, except where the order agrees). */
#define LDATES 5
static const char *l_dates[LDATES] = {"2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05",
                                      "2026-03-06"};
static const uint64_t l_rows[LDATES] = {70001, 0, 140003, 4095, 131072};
static const int l_codec[LDATES] = {1, 0, 2, 0, 1};
static uint64_t l_total;

static tide_table_t *lazy_make(int d) {
  uint64_t n = l_rows[d];
  const char **sym = malloc((n + 1) * sizeof *sym), **note = malloc((n + 1) * sizeof *note);
  double *px = malloc((n + 1) * sizeof *px);
  int32_t *qty = malloc((n + 1) * sizeof *qty);
  int64_t *sz = malloc((n + 1) * sizeof *sz);
  int8_t *flag = malloc(n + 1);
  static const char *syms[] = {"AAPL", "MSFT", "GOOG", "IBM", "ORCL", "SAP", "NVDA"};
  static const char *notes[] = {"", "x", "hello", "a longer note"};
  tu_rng r = {(uint64_t)d * 104729 + 7};
  /* the first symbols of each date come in a rotated order, so each
   * file's dictionary lists them differently (date 0 and 3 agree) */
  int rot = d == 3 ? 0 : d;
  for (uint64_t i = 0; i < n; i++) {
    sym[i] = i < 7 ? syms[(i + (uint64_t)rot) % 7] : tu_below(&r, 9) == 0 ? NULL : syms[tu_below(&r, 7)];
    note[i] = tu_below(&r, 7) == 0 ? NULL : notes[tu_below(&r, 4)];
    px[i] = tu_below(&r, 11) == 0 ? TIDE_NULL_F64 : 100 + tu_unit(&r);
    qty[i] = tu_below(&r, 13) == 0 ? TIDE_NULL_I32 : (int32_t)tu_below(&r, 1000) - 100;
    sz[i] = d * 1000000 + (int64_t)i;
    flag[i] = tu_below(&r, 17) == 0 ? TIDE_NULL_BOOL : (int8_t)tu_below(&r, 2);
  }
  const char *names[] = {"Sym", "Px", "Qty", "Size", "Note", "Flag"};
  const tide_type_t types[] = {TIDE_SYMBOL, TIDE_F64, TIDE_I32, TIDE_I64, TIDE_STRING, TIDE_BOOL};
  const void *cols[] = {sym, px, qty, sz, note, flag};
  tide_table_t *t = tu_table(n, 6, names, types, cols);
  free(sym);
  free(note);
  free(px);
  free(qty);
  free(sz);
  free(flag);
  return t;
}

/* Table directory of Lazy date d. */
static const char *lazy_dir(int d) {
  static char p[700];
  for (int part = 0; part < 2; part++) {
    snprintf(p, sizeof p, "%s/Systems/Lazy/Partitions/%d/%s/T", g_db, part, l_dates[d]);
    struct stat sb;
    if (stat(p, &sb) == 0) return p;
  }
  return NULL;
}

static const char *lazy_file(int d, const char *col) {
  static char p[760];
  const char *dir = lazy_dir(d);
  snprintf(p, sizeof p, "%s/%s.col", dir ? dir : "?", col);
  return p;
}

static uint64_t nblocks_of(uint64_t rows) { return (rows + 65535) / 65536; }

static void lazy_setup(void) {
  tide_error err;
  tide_error_clear(&err);
  l_total = 0;
  for (int d = 0; d < LDATES; d++) {
    tide_table_t *t = lazy_make(d);
    CHECK_OK(tide_historical_write(g_db, "Lazy", "T", l_dates[d], t, (tide_codec_t)l_codec[d], &err),
             err);
    tide_table_free(t);
    l_total += l_rows[d];
  }
}

/* Value i of a column as comparable 8 bytes: fixed-width values as
 * stored (zero-padded), SYMBOL codes and STRING values as the string's
 * address (NULL for null) in `strs` terms: the caller compares those with
 * strcmp. */
static uint64_t value_key(tide_type_t ty, const tide_symtab_t *st, const void *vals, uint64_t i,
                          const char **str) {
  *str = NULL;
  if (ty == TIDE_SYMBOL) {
    int32_t c = ((const int32_t *)vals)[i];
    *str = c < 0 ? NULL : tide_symtab_str(st, c);
    return 1;
  }
  if (ty == TIDE_STRING) {
    *str = ((const char *const *)vals)[i];
    return 1;
  }
  uint64_t v = 0;
  size_t w = tide_type_width(ty);
  memcpy(&v, (const unsigned char *)vals + i * w, w);
  return v;
}

static bool same_value(uint64_t a, const char *as, uint64_t b, const char *bs) {
  if (a != b) return false;
  if (!as || !bs) return as == bs;
  return strcmp(as, bs) == 0;
}

/* Every value of the lazy table (all dates) equals the eager read of each
 * partition (tide_table_read_dir) concatenated here: range reads across
 * partition and block boundaries (direct where possible), sorted and
 * unsorted key gathers. Returns the values compared. */
static uint64_t compare_with_eager(tide_table_t *lz) {
  tide_error err;
  tide_error_clear(&err);
  uint64_t checked = 0;
  size_t nc = tide_table_ncols(lz);
  CHECK(nc == 7 && !strcmp(tide_table_col_name(lz, 0), "Date"));
  CHECK(tide_table_size(lz) == l_total);
  /* expected values, column by column (strings point into the eager
   * tables, kept until the end) */
  uint64_t *want = calloc((l_total + 1) * nc, sizeof *want);
  const char **wstr = calloc((l_total + 1) * nc, sizeof *wstr);
  tide_table_t *eager[LDATES] = {NULL};
  uint64_t base = 0;
  for (int d = 0; d < LDATES; d++) {
    tide_table_t *e = eager[d] = tide_table_read_dir(lazy_dir(d), &err);
    CHECK_OK_PTR(e, err);
    if (!e) return 0;
    CHECK(tide_table_size(e) == l_rows[d] && tide_table_ncols(e) == nc - 1);
    for (uint64_t i = 0; i < l_rows[d]; i++) {
      want[(base + i) * nc] = 1;
      wstr[(base + i) * nc] = l_dates[d];
    }
    for (size_t c = 1; c < nc; c++) {
      int ec = tide_table_col_index(e, tide_table_col_name(lz, c));
      CHECK(ec >= 0);
      if (ec < 0) continue;
      tide_source_t *es = tide_table_col_source(e, (size_t)ec);
      tide_type_t ty = tide_source_type(es);
      void *buf = malloc(l_rows[d] * 8 + 8);
      tide_rowseq_t seq = {0, NULL, 0, (uint32_t)l_rows[d]};
      tide_source_fill(es, &seq, buf);
      for (uint64_t i = 0; i < l_rows[d]; i++)
        want[(base + i) * nc + c] =
            value_key(ty, tide_source_symtab(es), buf, i, &wstr[(base + i) * nc + c]);
      free(buf);
    }
    base += l_rows[d];
  }
  uint64_t *keys = malloc(5000 * sizeof *keys);
  void *vals = malloc(5000 * 8);
  void *scratch = malloc(5000 * 8);
  tu_rng r = {99};
  for (size_t c = 0; c < nc; c++) {
    tide_source_t *ls = tide_table_col_source(lz, c);
    tide_type_t ty = tide_source_type(ls);
    const tide_symtab_t *st = tide_source_symtab(ls);
    /* range reads of 3,001 rows: across blocks and partitions */
    for (uint64_t k = 0; k < l_total; k += 3001) {
      uint32_t n = (uint32_t)(l_total - k < 3001 ? l_total - k : 3001);
      tide_rowseq_t seq = {k, NULL, k, n};
      const void *v = tide__source_get(ls, &seq, scratch); /* direct where it can */
      for (uint32_t i = 0; i < n; i++) {
        const char *gs;
        uint64_t g = value_key(ty, st, v, i, &gs);
        if (!same_value(g, gs, want[(k + i) * nc + c], wstr[(k + i) * nc + c])) {
          CHECK_MSG(false, "column %s key %llu differs from the eager read",
                    tide_table_col_name(lz, c), (unsigned long long)(k + i));
          k = l_total;
          break;
        }
        checked++;
      }
    }
    /* key gathers: sorted (strided) and unsorted (random) */
    for (int rep = 0; rep < 40; rep++) {
      uint32_t n = 1 + (uint32_t)tu_below(&r, 4999);
      uint64_t k0 = tu_below(&r, l_total);
      for (uint32_t i = 0; i < n; i++)
        keys[i] = rep % 2 ? tu_below(&r, l_total) : (k0 + (uint64_t)i * (1 + (uint64_t)rep)) % l_total;
      tide_rowseq_t seq = {0, keys, 0, n};
      tide_source_fill(ls, &seq, vals);
      for (uint32_t i = 0; i < n; i++) {
        const char *gs;
        uint64_t g = value_key(ty, st, vals, i, &gs);
        if (!same_value(g, gs, want[keys[i] * nc + c], wstr[keys[i] * nc + c])) {
          CHECK_MSG(false, "column %s gathered key %llu differs from the eager read",
                    tide_table_col_name(lz, c), (unsigned long long)keys[i]);
          break;
        }
        checked++;
      }
    }
  }
  for (int d = 0; d < LDATES; d++) tide_table_free(eager[d]);
  free(want);
  free(wstr);
  free(keys);
  free(vals);
  free(scratch);
  return checked;
}

/* The test-visible counters of opened files and loaded blocks. */
static void test_lazy_counts(void) {
  tide_error err;
  tide_error_clear(&err);
  uint64_t o0 = tide__hist_open_count(), b0 = tide__hist_block_count();
  tide_table_t *h = tide_historical_table(g_db, "Lazy", "T", &err);
  CHECK_OK_PTR(h, err);
  if (!h) return;
  /* created: only the SYMBOL column's files (dictionaries), no block */
  CHECK_MSG(tide__hist_open_count() - o0 == LDATES && tide__hist_block_count() == b0,
            "opens %llu blocks %llu", (unsigned long long)(tide__hist_open_count() - o0),
            (unsigned long long)(tide__hist_block_count() - b0));
  /* a where on Date reads no file */
  tide_table_t *w = tide_where(h, "Date == `2026-03-04` || Date >= `2026-03-06`", &err);
  CHECK_OK_PTR(w, err);
  CHECK(tide__hist_open_count() - o0 == LDATES && tide__hist_block_count() == b0);
  if (w) CHECK(tide_table_size(w) == l_rows[2] + l_rows[4]);
  /* a sum over Px through it opens the Px files of those two dates only */
  tide_table_t *s = w ? sum_of(w, "Px", &err) : NULL;
  CHECK_OK_PTR(s, err);
  uint64_t want_blocks = nblocks_of(l_rows[2]) + nblocks_of(l_rows[4]);
  CHECK_MSG(tide__hist_open_count() - o0 == LDATES + 2 &&
                tide__hist_block_count() - b0 == want_blocks,
            "opens %llu blocks %llu (want %d, %llu)",
            (unsigned long long)(tide__hist_open_count() - o0),
            (unsigned long long)(tide__hist_block_count() - b0), LDATES + 2,
            (unsigned long long)want_blocks);
  /* the sum equals the sum over those two dates read eagerly */
  double ref = 0;
  for (int d = 2; d <= 4; d += 2) {
    tide_table_t *e = tide_table_read_dir(lazy_dir(d), &err);
    tide_table_t *es = e ? sum_of(e, "Px", &err) : NULL;
    if (es) ref += tu_cell_f64(es, "Px", 0);
    tide_table_free(es);
    tide_table_free(e);
  }
  if (s) CHECK_MSG(fabs(tu_cell_f64(s, "Px", 0) - ref) <= 1e-9 * fabs(ref), "sum %.17g ref %.17g",
                   tu_cell_f64(s, "Px", 0), ref);
  tide_table_free(s);
  /* again: loaded once */
  uint64_t o1 = tide__hist_open_count(), b1 = tide__hist_block_count();
  s = w ? sum_of(w, "Px", &err) : NULL;
  CHECK(s && tide__hist_open_count() == o1 && tide__hist_block_count() == b1);
  tide_table_free(s);
  tide_table_free(w);
  /* zone maps over the lazy table: Size of date 2 in its second block
   * only (2e6 + [70000, 70010]): each date's Size file opened for its
   * index, the other dates pruned (their Sym files never opened), one
   * block of one date read */
  uint64_t o2 = tide__hist_open_count(), b2 = tide__hist_block_count();
  tide_historical_query_t zq = {.col = "Size", .lo = 2070000, .hi = 2070010};
  tide_table_t *z = tide_historical_query(g_db, "Lazy", "T", &zq, &err);
  CHECK_OK_PTR(z, err);
  if (z) CHECK(tide_table_size(z) == 11 && !strcmp(tu_cell(z, "Date", 0), "2026-03-04"));
  CHECK_MSG(tide__hist_open_count() - o2 == LDATES + 1 && tide__hist_block_count() - b2 == 1,
            "zone: opens %llu blocks %llu", (unsigned long long)(tide__hist_open_count() - o2),
            (unsigned long long)(tide__hist_block_count() - b2));
  tide_table_free(z);
  /* every value, read every way, equals the eager read */
  uint64_t n = compare_with_eager(h);
  printf("historical: lazy table: %llu values compared with the eager read\n",
         (unsigned long long)n);
  tide_table_free(h);
}

/* The same operations over a freshly created (cold) lazy table with 1 and
 * 2 threads, and over the eager concatenation: identical results. */
static tide_table_t *run_ops(tide_table_t *h, int which, tide_error *err) {
  switch (which) {
    case 0: {
      const char *in[] = {"Px"}, *q[] = {"MaxQ=Qty"}, *q2[] = {"AvgQ=Qty"}, *by[] = {"Sym"};
      tide_agg_spec_t a[] = {{.kind = TIDE_AGG_SUM, .cols = in, .ncols = 1},
                             {.kind = TIDE_AGG_MAX, .cols = q, .ncols = 1},
                             {.kind = TIDE_AGG_AVG, .cols = q2, .ncols = 1}};
      return tide_agg_by(h, a, 3, by, 1, err);
    }
    case 1: return tide_where(h, "Px > 100.5 && Qty < 500 && Date != `2026-03-05`", err);
    case 2: {
      const char *c[] = {"Qty", "Size"};
      bool desc[] = {true, false};
      return tide_sort_ex(h, c, desc, 2, err);
    }
    case 3: {
      const char *by[] = {"Date", "Flag"};
      return tide_count_by(h, "N", by, 2, err);
    }
    default: {
      /* join: each row gets the total Qty of its Sym */
      const char *q[] = {"TotQ=Qty"}, *by[] = {"Sym"};
      tide_agg_spec_t a = {.kind = TIDE_AGG_SUM, .cols = q, .ncols = 1};
      tide_table_t *tot = tide_agg_by(h, &a, 1, by, 1, err);
      if (!tot) return NULL;
      const char *on[] = {"Sym"};
      tide_table_t *j = tide_natural_join(h, tot, on, 1, NULL, 0, err);
      tide_table_free(tot);
      return j;
    }
  }
}

static void test_lazy_threads(void) {
  tide_error err;
  tide_error_clear(&err);
  /* the eager concatenation: each date read whole, Date prepended */
  tide_table_t *parts[LDATES];
  size_t np = 0;
  for (int d = 0; d < LDATES; d++) {
    tide_table_t *e = tide_table_read_dir(lazy_dir(d), &err);
    CHECK_OK_PTR(e, err);
    if (!e) return;
    char f[64];
    snprintf(f, sizeof f, "Date = `%s`", l_dates[d]);
    const char *forms[] = {f, "Sym", "Px", "Qty", "Size", "Note", "Flag"};
    parts[np] = tide_select(e, forms, 7, &err);
    CHECK_OK_PTR(parts[np], err);
    tide_table_free(e);
    if (parts[np]) np++;
  }
  tide_table_t *eager = tide_merge(parts, np, &err);
  CHECK_OK_PTR(eager, err);
  for (size_t i = 0; i < np; i++) tide_table_free(parts[i]);
  int compared = 0;
  for (int which = 0; which < 5 && eager; which++) {
    tide_table_t *res[2] = {NULL, NULL};
    for (int th = 1; th <= 2; th++) {
      CHECK(tide_set_threads(th, &err) == TIDE_OK);
      tide_table_t *h = tide_historical_table(g_db, "Lazy", "T", &err); /* cold */
      CHECK_OK_PTR(h, err);
      if (h) res[th - 1] = run_ops(h, which, &err);
      CHECK_MSG(!h || res[th - 1], "op %d, %d threads: %s", which, th, err.msg);
      tide_table_free(h);
    }
    CHECK(tide_set_threads(1, &err) == TIDE_OK);
    tide_table_t *ref = run_ops(eager, which, &err);
    CHECK_OK_PTR(ref, err);
    if (res[0] && res[1] && ref) {
      CHECK_TABLES(res[0], res[1], 0);
      CHECK_TABLES(res[0], ref, 0);
      compared++;
    }
    tide_table_free(ref);
    tide_table_free(res[0]);
    tide_table_free(res[1]);
  }
  CHECK(tide_set_threads(0, &err) == TIDE_OK);
  tide_table_free(eager);
  printf("historical: %d operations identical over the lazy table (1 and 2 threads) and the "
         "eager one\n", compared);
}

static unsigned char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc((size_t)len + 1);
  *n = fread(b, 1, (size_t)len, f);
  fclose(f);
  return b;
}

static void put_back(const char *path, const unsigned char *b, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(b, 1, n, f) != n) abort();
  fclose(f);
}

/* Files damaged after historical_table returned: the scan that reads them
 * fails with an error naming the file (and block); nothing crashes, no
 * value of the damaged partition is returned, later unrelated work is not
 * affected. */
static void test_lazy_damage(void) {
  tide_error err;
  tide_error_clear(&err);
  int cases = 0;
  /* 1. truncated before the first touch (date 2, zstd) */
  char path[800];
  snprintf(path, sizeof path, "%s", lazy_file(2, "Px"));
  size_t len;
  unsigned char *orig = slurp(path, &len);
  CHECK(orig != NULL);
  if (!orig) return;
  tide_table_t *h = tide_historical_table(g_db, "Lazy", "T", &err);
  CHECK_OK_PTR(h, err);
  if (!h) return;
  CHECK(truncate(path, (off_t)(len / 2)) == 0);
  for (int rep = 0; rep < 2; rep++) { /* reported again by a second scan */
    tide_table_t *s = sum_of(h, "Px", &err);
    CHECK_MSG(s == NULL && err.status == TIDE_ERR_CORRUPT && strstr(err.msg, path) &&
                  strstr(err.msg, "2026-03-04"),
              "truncated: %s", err.msg);
    tide_table_free(s);
    cases++;
  }
  /* other columns and other dates still read; the error is not left
   * pending for unrelated work */
  tide_table_t *w = tide_where(h, "Date != `2026-03-04`", &err);
  CHECK_OK_PTR(w, err);
  tide_table_t *s = w ? sum_of(w, "Px", &err) : NULL;
  CHECK_OK_PTR(s, err);
  tide_table_free(s);
  s = sum_of(h, "Qty", &err);
  CHECK_OK_PTR(s, err);
  tide_table_free(s);
  /* printing and writing a CSV of rows of the damaged date fail too; no
   * file is left */
  FILE *devnull = fopen("/dev/null", "w");
  tide_table_t *only = tide_where(h, "Date == `2026-03-04`", &err);
  CHECK_OK_PTR(only, err);
  if (only && devnull) {
    CHECK(tide_table_print(only, devnull, 5, &err) == TIDE_ERR_CORRUPT && strstr(err.msg, path));
    char csv[700];
    snprintf(csv, sizeof csv, "%s/damaged.csv", g_db);
    CHECK(tide_write_csv(only, csv, &err) == TIDE_ERR_CORRUPT && strstr(err.msg, path));
    CHECK(access(csv, F_OK) != 0);
    double v;
    CHECK(tide_table_get(only, 2, 0, &v, &err) == TIDE_ERR_CORRUPT);
    cases += 3;
  }
  if (devnull) fclose(devnull);
  tide_table_free(only);
  tide_table_free(w);
  put_back(path, orig, len);
  tide_table_free(h);
  free(orig);

  /* 2. a flipped byte in block 1 of an lz4 file (date 0), after creation */
  snprintf(path, sizeof path, "%s", lazy_file(0, "Qty"));
  h = tide_historical_table(g_db, "Lazy", "T", &err);
  CHECK_OK_PTR(h, err);
  tide_colfile_t *cf = tide_colfile_open(path, &err);
  CHECK_OK_PTR(cf, err);
  if (h && cf) {
    /* block 1 starts after block 0's stored bytes: flip inside block 1 */
    unsigned char *b = slurp(path, &len);
    tide_block_stats_t bs = tide_colfile_block_stats(cf, 1);
    (void)bs;
    tide_colfile_close(cf);
    cf = NULL;
    /* the index (64 bytes per block) ends the file: block 1's offset is
     * the index entry's first 8 bytes */
    uint64_t nb = 2, off1;
    memcpy(&off1, b + len - 64 * nb + 64, 8);
    flip_byte(path, (long)off1 + 10);
    tide_table_t *wq = tide_where(h, "Qty > 0", &err);
    CHECK_MSG(wq == NULL && err.status == TIDE_ERR_CORRUPT && strstr(err.msg, path) &&
                  strstr(err.msg, "block 1"),
              "flipped: %s", err.msg);
    tide_table_free(wq);
    /* block 0 of the same file is intact: rows of block 0 only read fine */
    tide_table_t *hd = tide_head(h, 1000, &err);
    s = hd ? sum_of(hd, "Qty", &err) : NULL;
    CHECK_OK_PTR(s, err);
    tide_table_free(s);
    tide_table_free(hd);
    put_back(path, b, len);
    free(b);
    cases += 2;
  }
  tide_colfile_close(cf);
  tide_table_free(h);

  /* 3. a SYMBOL file (opened at creation for its dictionary) truncated
   * afterwards: noticed before its pages are read (no SIGBUS) */
  snprintf(path, sizeof path, "%s", lazy_file(4, "Sym"));
  orig = slurp(path, &len);
  h = tide_historical_table(g_db, "Lazy", "T", &err);
  CHECK_OK_PTR(h, err);
  if (h && orig) {
    CHECK(truncate(path, 100) == 0);
    const char *by[] = {"Sym"};
    tide_table_t *c = tide_count_by(h, "N", by, 1, &err);
    CHECK_MSG(c == NULL && err.status == TIDE_ERR_CORRUPT && strstr(err.msg, path) &&
                  strstr(err.msg, "truncated since"),
              "symbol truncated: %s", err.msg);
    tide_table_free(c);
    put_back(path, orig, len);
    cases++;
  }
  tide_table_free(h);
  free(orig);

  /* 4. a column file deleted after creation */
  snprintf(path, sizeof path, "%s", lazy_file(3, "Note"));
  orig = slurp(path, &len);
  h = tide_historical_table(g_db, "Lazy", "T", &err);
  CHECK_OK_PTR(h, err);
  if (h && orig) {
    CHECK(unlink(path) == 0);
    tide_table_t *c = tide_where(h, "Note == `hello`", &err);
    CHECK_MSG(c == NULL && err.status == TIDE_ERR_NOT_FOUND && strstr(err.msg, path),
              "deleted: %s", err.msg);
    tide_table_free(c);
    put_back(path, orig, len);
    cases++;
  }
  tide_table_free(h);
  free(orig);
  /* all repaired: a full comparison passes again */
  h = tide_historical_table(g_db, "Lazy", "T", &err);
  CHECK_OK_PTR(h, err);
  if (h) {
    tide_table_t *c = run_ops(h, 0, &err);
    CHECK_OK_PTR(c, err);
    tide_table_free(c);
  }
  tide_table_free(h);
  printf("historical: %d damage-after-creation cases reported\n", cases);
}

/* Several threads (plain pthreads) read the same cold lazy columns at
 * once, each starting at a different key: every block is loaded exactly
 * once (the block counter) and every value equals the single-threaded read
 * of a second table. */
typedef struct conc_arg {
  tide_table_t *h;
  int start;
  uint64_t bad;
} conc_arg;

static void *conc_reader(void *p) {
  conc_arg *a = p;
  const char *cols[] = {"Px", "Qty", "Sym"};
  uint64_t *buf = malloc(4096 * 8);
  for (int c = 0; c < 3; c++) {
    tide_source_t *s = tide_table_col_source(a->h, (size_t)tide_table_col_index(a->h, cols[c]));
    size_t w = tide_type_width(tide_source_type(s));
    uint64_t nch = (l_total + 4095) / 4096;
    for (uint64_t i = 0; i < nch; i++) {
      uint64_t ch = (i + (uint64_t)a->start * nch / 4) % nch, k = ch * 4096;
      uint32_t n = (uint32_t)(l_total - k < 4096 ? l_total - k : 4096);
      tide_rowseq_t seq = {k, NULL, k, n};
      tide_source_fill(s, &seq, buf);
      /* checksum of the bytes into the slot of this chunk */
      uint64_t x = 0;
      const unsigned char *b = (const unsigned char *)buf;
      for (size_t j = 0; j < (size_t)n * w; j++) x = x * 131 + b[j];
      a->bad += x; /* summed: order-independent */
    }
  }
  free(buf);
  return NULL;
}

static void test_lazy_concurrent(void) {
  tide_error err;
  tide_error_clear(&err);
  tide_table_t *ref = tide_historical_table(g_db, "Lazy", "T", &err);
  tide_table_t *h = tide_historical_table(g_db, "Lazy", "T", &err);
  CHECK_OK_PTR(h, err);
  if (!h || !ref) return;
  /* the reference sums from one thread (it loads its own copy) */
  conc_arg r0 = {ref, 0, 0};
  conc_reader(&r0);
  uint64_t b0 = tide__hist_block_count(), o0 = tide__hist_open_count();
  enum { NT = 4 };
  pthread_t th[NT];
  conc_arg args[NT];
  for (int i = 0; i < NT; i++) {
    args[i] = (conc_arg){h, i, 0};
    CHECK(pthread_create(&th[i], NULL, conc_reader, &args[i]) == 0);
  }
  for (int i = 0; i < NT; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < NT; i++) CHECK_MSG(args[i].bad == r0.bad, "thread %d read other values", i);
  uint64_t want = 0, files = 0;
  for (int d = 0; d < LDATES; d++) {
    want += 3 * nblocks_of(l_rows[d]);
    files += l_rows[d] ? 2 : 0; /* Px and Qty (Sym was opened at creation) */
  }
  CHECK_MSG(tide__hist_block_count() - b0 == want && tide__hist_open_count() - o0 == files,
            "concurrent: %llu blocks (want %llu), %llu opens (want %llu)",
            (unsigned long long)(tide__hist_block_count() - b0), (unsigned long long)want,
            (unsigned long long)(tide__hist_open_count() - o0), (unsigned long long)files);
  tide_table_free(h);
  tide_table_free(ref);
  printf("historical: %d threads loaded %llu blocks once each\n", NT, (unsigned long long)want);
}

/* A where on Date in a script (the interpreter's historical_table): the
 * rows of the selected dates, and only their files are read. */
static void test_lazy_script(void) {
  char src[1200];
  snprintf(src, sizeof src,
           "h = historical_table(\"Lazy\", \"T\", db=\"%s\")\n"
           "w = h.where(\"Date >= `2026-03-05`\")\n"
           "s = w.agg_by([agg.sum_(\"Size\"), agg.count_(\"N\")])\n",
           g_db);
  uint64_t o0 = tide__hist_open_count(), b0 = tide__hist_block_count();
  tide_script_interp *in = tide_script_interp_create(NULL);
  tide_script_diag d;
  memset(&d, 0, sizeof d);
  tide_status st = tide_script_exec(in, src, strlen(src), &d);
  CHECK_MSG(st == TIDE_OK, "%s", d.msg);
  tide_table_t *s = tide_script_get_table(in, "s");
  CHECK(s != NULL);
  if (s) {
    /* Size of date d row i is d * 1e6 + i */
    double want = 0;
    for (int dd = 3; dd <= 4; dd++)
      want += (double)l_rows[dd] * dd * 1e6 + (double)l_rows[dd] * (double)(l_rows[dd] - 1) / 2;
    CHECK_MSG(tu_cell_f64(s, "Size", 0) == want && tu_cell_f64(s, "N", 0) == (double)(l_rows[3] + l_rows[4]),
              "sum %.17g want %.17g", tu_cell_f64(s, "Size", 0), want);
  }
  CHECK_MSG(tide__hist_open_count() - o0 == LDATES + 2 &&
                tide__hist_block_count() - b0 == nblocks_of(l_rows[3]) + nblocks_of(l_rows[4]),
            "script: opens %llu blocks %llu", (unsigned long long)(tide__hist_open_count() - o0),
            (unsigned long long)(tide__hist_block_count() - b0));
  tide_script_interp_free(in);
}

int main(void) {
  /* tmpfs when there is one: the test rewrites files (fsyncs are free) */
  struct stat shm;
  snprintf(g_db, sizeof g_db, "%s/tide-test-historical-%ld",
           stat("/dev/shm", &shm) == 0 && S_ISDIR(shm.st_mode) ? "/dev/shm" : "/tmp", (long)getpid());
  rm_rf(g_db);
  mkdirs("Systems/Mkt/Partitions/0");
  mkdirs("Systems/Mkt/Partitions/1");
  mkdirs("Systems/Mkt/WritablePartitions");
  link_rel("../Partitions/0", "Systems/Mkt/WritablePartitions/0");
  link_rel("../Partitions/1", "Systems/Mkt/WritablePartitions/1");
  test_write_read();
  test_pruning();
  test_errors();
  mkdirs("Systems/Lazy/Partitions/0");
  mkdirs("Systems/Lazy/Partitions/1");
  mkdirs("Systems/Lazy/WritablePartitions");
  link_rel("../Partitions/0", "Systems/Lazy/WritablePartitions/0");
  link_rel("../Partitions/1", "Systems/Lazy/WritablePartitions/1");
  lazy_setup();
  test_lazy_counts();
  test_lazy_threads();
  test_lazy_concurrent();
  test_lazy_damage();
  test_lazy_script();
  rm_rf(g_db);
  return tu_finish("historical");
}
