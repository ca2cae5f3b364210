/*
 * Core tests: errors, types and null sentinels, timestamps (against an
 * independent day-by-day calendar walk), symbol tables (against a linear
 * search), and column sources (flat, paged sparse, redirected and composed
 * redirections) against plain arrays.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static void test_errors(void) {
  tide_error err;
  tide_error_clear(&err);
  CHECK(err.status == TIDE_OK && err.msg[0] == '\0');
  CHECK(tide_error_set(&err, TIDE_ERR_PARSE, "bad %s at %d", "x", 3) == TIDE_ERR_PARSE);
  CHECK(strcmp(err.msg, "bad x at 3") == 0);
  tide_error_prefix(&err, "where");
  CHECK(strcmp(err.msg, "where: bad x at 3") == 0);
  CHECK(tide_error_set(NULL, TIDE_ERR_IO, "ignored") == TIDE_ERR_IO);
  CHECK(strcmp(tide_status_str(TIDE_ERR_NOMEM), "out of memory") == 0);
  CHECK(strcmp(tide_status_str((tide_status)999), "unknown status") == 0);
}

static void test_types(void) {
  CHECK(tide_type_width(TIDE_BOOL) == 1 && tide_type_width(TIDE_I16) == 2);
  CHECK(tide_type_width(TIDE_SYMBOL) == 4 && tide_type_width(TIDE_TS) == 8);
  CHECK(tide_type_width(TIDE_STRING) == sizeof(char *));
  tide_type_t t;
  CHECK(tide_type_from_name("long", &t) && t == TIDE_I64);
  CHECK(tide_type_from_name("Double", &t) && t == TIDE_F64);
  CHECK(tide_type_from_name("symbol", &t) && t == TIDE_SYMBOL);
  CHECK(!tide_type_from_name("decimal", &t));
  CHECK(strcmp(tide_type_name(TIDE_TS), "timestamp") == 0);
  for (int k = 0; k < TIDE_TYPE_COUNT; k++) {
    tide_type_t back;
    CHECK(tide_type_from_name(tide_type_name((tide_type_t)k), &back) && back == (tide_type_t)k);
  }
  double d;
  tide_type_null(TIDE_F64, &d);
  CHECK(d == -DBL_MAX);
  int32_t s;
  tide_type_null(TIDE_SYMBOL, &s);
  CHECK(s == -1);
}

/* Reference: walk the calendar one day at a time from 1970-01-01. */
static int64_t ref_days(int y, int m, int d) {
  static const int md[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int64_t days = 0;
  if (y >= 1970) {
    for (int yy = 1970; yy < y; yy++)
      days += 365 + ((yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0);
  } else {
    for (int yy = y; yy < 1970; yy++)
      days -= 365 + ((yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0);
  }
  for (int mm = 1; mm < m; mm++)
    days += md[mm - 1] + (mm == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
  return days + d - 1;
}

static void test_timestamps(void) {
  int64_t ns;
  CHECK(tide_ts_parse("1970-01-01", 10, &ns) && ns == 0);
  CHECK(tide_ts_parse("1970-01-01T00:00:01Z", 20, &ns) && ns == 1000000000LL);
  CHECK(tide_ts_parse("2024-02-29T12:34:56.789Z", 24, &ns));
  CHECK(ns == (ref_days(2024, 2, 29) * 86400 + 12 * 3600 + 34 * 60 + 56) * 1000000000LL +
                  789000000LL);
  CHECK(tide_ts_parse("2024-02-29 12:34", 16, &ns));
  CHECK(tide_ts_parse("2024-01-01T01:00:00+01:00", 25, &ns) && ns == ref_days(2024, 1, 1) * 86400 * 1000000000LL);
  CHECK(tide_ts_parse("1969-12-31T23:59:59.999999999", 29, &ns) && ns == -1);
  CHECK(!tide_ts_parse("2023-02-29", 10, &ns));
  CHECK(!tide_ts_parse("2023-13-01", 10, &ns));
  CHECK(!tide_ts_parse("2023-01-01T25:00", 16, &ns));
  CHECK(!tide_ts_parse("2023-01-01X", 11, &ns));
  CHECK(!tide_ts_parse("hello", 5, &ns));
  char buf[64];
  tide_ts_format(0, buf, sizeof buf);
  CHECK(strcmp(buf, "1970-01-01T00:00:00Z") == 0);
  tide_ts_format(-1, buf, sizeof buf);
  CHECK(strcmp(buf, "1969-12-31T23:59:59.999999999Z") == 0);
  tide_ts_format(1500000000LL, buf, sizeof buf);
  CHECK(strcmp(buf, "1970-01-01T00:00:01.500Z") == 0);
  CHECK(tide_ts_format(TIDE_NULL_TS, buf, sizeof buf) == 0 && buf[0] == '\0');
  /* Random round trips against the reference calendar. */
  tu_rng r = {tu_seed(11)};
  for (int i = 0; i < 2000; i++) {
    int y = 1900 + (int)tu_below(&r, 300), m = 1 + (int)tu_below(&r, 12), d = 1 + (int)tu_below(&r, 28);
    int64_t sec = (int64_t)tu_below(&r, 86400), frac = (int64_t)tu_below(&r, 1000000000);
    int64_t want = (ref_days(y, m, d) * 86400 + sec) * 1000000000LL + frac;
    char in[64];
    snprintf(in, sizeof in, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", y, m, d, (int)(sec / 3600),
             (int)(sec / 60 % 60), (int)(sec % 60), (long long)frac);
    CHECK_MSG(tide_ts_parse(in, strlen(in), &ns) && ns == want, "%s", in);
    size_t len = tide_ts_format(want, buf, sizeof buf);
    int64_t back;
    CHECK_MSG(tide_ts_parse(buf, len, &back) && back == want, "%s", buf);
  }
}

static void test_symtab(void) {
  tide_symtab_t *st = tide_symtab_create();
  char keys[3000][16];
  int32_t codes[3000];
  tu_rng r = {tu_seed(5)};
  int n = 0;
  for (int i = 0; i < 3000; i++) {
    snprintf(keys[i], sizeof keys[i], "k%llu", (unsigned long long)tu_below(&r, 1500));
    codes[i] = tide_symtab_intern(st, keys[i], strlen(keys[i]));
    /* Reference: the first earlier key with the same string has the same code. */
    int first = -1;
    for (int j = 0; j < i; j++)
      if (strcmp(keys[j], keys[i]) == 0) {
        first = j;
        break;
      }
    if (first >= 0) {
      CHECK(codes[i] == codes[first]);
    } else {
      CHECK(codes[i] == n);
      n++;
    }
  }
  CHECK(tide_symtab_size(st) == (uint32_t)n);
  for (int i = 0; i < 3000; i++) {
    CHECK(strcmp(tide_symtab_str(st, codes[i]), keys[i]) == 0);
    CHECK(tide_symtab_find(st, keys[i], strlen(keys[i])) == codes[i]);
  }
  CHECK(tide_symtab_find(st, "absent", 6) == -1);
  CHECK(tide_symtab_str(st, -1) == NULL && tide_symtab_str(st, n) == NULL);
  CHECK(tide_symtab_intern(st, "", 0) == n && strcmp(tide_symtab_str(st, n), "") == 0);
  tide_symtab_release(tide_symtab_retain(st));
  tide_symtab_release(st);
}

static void test_sources(void) {
  tide_error err;
  const uint64_t n = 10000;
  tide_source_t *flat = tide_source_flat_create(TIDE_I64, n, &err);
  CHECK_OK_PTR(flat, err);
  int64_t *data = tide_source_flat_data(flat);
  CHECK(data[0] == TIDE_NULL_I64 && data[n - 1] == TIDE_NULL_I64);
  for (uint64_t i = 0; i < n; i++) data[i] = (int64_t)(i * 3);
  /* Range fill and direct pointer. */
  int64_t buf[TIDE_CHUNK_SIZE];
  tide_rowseq_t seq = {100, NULL, 0, 50};
  const int64_t *p = tide__source_get(flat, &seq, buf);
  CHECK(p == data + 100);
  tide_source_fill(flat, &seq, buf);
  CHECK(buf[0] == 300 && buf[49] == 447);
  /* Gather with unsorted keys. */
  uint64_t keys[5] = {9999, 0, 5, 5, 1234};
  tide_rowseq_t ks = {0, keys, 0, 5};
  tide_source_fill(flat, &ks, buf);
  for (int i = 0; i < 5; i++) CHECK(buf[i] == (int64_t)(keys[i] * 3));

  /* Paged sparse source over a huge key space against a reference map. */
  tide_source_t *paged = tide__source_paged_create(TIDE_F64, NULL, &err);
  CHECK_OK_PTR(paged, err);
  enum { M = 5000 };
  static uint64_t pk[M];
  static double pv[M];
  tu_rng r = {tu_seed(3)};
  for (int i = 0; i < M; i++) {
    pk[i] = tu_below(&r, 4) == 0 ? tu_below(&r, 1ULL << 40) : tu_below(&r, 20000);
    pv[i] = (double)i;
  }
  for (int i = 0; i < M; i += 1000) {
    uint32_t cnt = M - i < 1000 ? M - i : 1000;
    CHECK(tide__source_paged_set(paged, pk + i, cnt, pv + i) == TIDE_OK);
  }
  for (int i = 0; i < M; i++) {
    /* The last write of each key wins. */
    int last = i;
    for (int j = i + 1; j < M; j++)
      if (pk[j] == pk[i]) last = j;
    tide_rowseq_t one = {0, &pk[i], 0, 1};
    double v;
    tide_source_fill(paged, &one, &v);
    CHECK(v == pv[last]);
  }
  uint64_t unwritten = (1ULL << 41) + 7;
  tide_rowseq_t uw = {0, &unwritten, 0, 1};
  double v;
  tide_source_fill(paged, &uw, &v);
  CHECK(v == TIDE_NULL_F64);
  /* Range read crossing a page boundary. */
  uint64_t rk[10];
  double rv[10];
  for (int i = 0; i < 10; i++) rk[i] = TIDE_PAGE_SIZE - 5 + i, rv[i] = i + 0.5;
  CHECK(tide__source_paged_set(paged, rk, 10, rv) == TIDE_OK);
  double out[10];
  tide_rowseq_t cross = {TIDE_PAGE_SIZE - 5, NULL, 0, 10};
  const double *cp = tide__source_get(paged, &cross, out);
  for (int i = 0; i < 10; i++) CHECK(cp[i] == i + 0.5);

  /* Redirection with nulls, and composition of two redirections. */
  tide_redir_t *r1 = tide__redir_create(6, &err);
  uint64_t m1[6] = {5, TIDE_NULL_KEY, 0, 9999, 5, 2};
  memcpy(r1->map, m1, sizeof m1);
  tide_source_t *red = tide__source_redirected_create(flat, r1, &err);
  CHECK_OK_PTR(red, err);
  tide_rowseq_t all6 = {0, NULL, 0, 6};
  tide_source_fill(red, &all6, buf);
  for (int i = 0; i < 6; i++)
    CHECK(buf[i] == (m1[i] == TIDE_NULL_KEY ? TIDE_NULL_I64 : (int64_t)(m1[i] * 3)));
  tide_redir_t *r2 = tide__redir_create(4, &err);
  uint64_t m2[4] = {3, 1, TIDE_NULL_KEY, 0};
  memcpy(r2->map, m2, sizeof m2);
  tide_source_t *red2 = tide__source_redirected_create(red, r2, &err);
  CHECK_OK_PTR(red2, err);
  uint64_t k2[3] = {0, 3, 1};
  tide_rowseq_t s2 = {0, k2, 0, 3};
  tide_source_fill(red2, &s2, buf);
  CHECK(buf[0] == 9999 * 3 && buf[1] == 15 && buf[2] == TIDE_NULL_I64);
  tide__redir_release(r1);
  tide__redir_release(r2);
  tide_source_release(red);
  tide_source_release(red2);
  tide_source_release(paged);
  tide_source_release(flat);
}

static void test_tables(void) {
  tide_error err;
  const char *names[] = {"Sym", "Px", "Note", "Flag", "When"};
  tide_type_t types[] = {TIDE_SYMBOL, TIDE_F64, TIDE_STRING, TIDE_BOOL, TIDE_TS};
  const char *sym[] = {"A", "B", NULL};
  double px[] = {1.5, TIDE_NULL_F64, 0.1};
  const char *note[] = {"x,y", NULL, ""};
  int8_t flag[] = {1, 0, TIDE_NULL_BOOL};
  int64_t when[] = {0, TIDE_NULL_TS, 86400000000000LL};
  const void *cols[] = {sym, px, note, flag, when};
  tide_table_t *t = tu_table(3, 5, names, types, cols);
  CHECK(tide_table_size(t) == 3 && tide_table_ncols(t) == 5);
  CHECK(tide_table_col_index(t, "Note") == 2 && tide_table_col_index(t, "Nope") == -1);
  CHECK(tide__col_lookup(t, "Nope", "where", &err) == -1);
  CHECK(strcmp(err.msg, "where: no column 'Nope' (columns: Sym, Px, Note, Flag, When)") == 0);
  CHECK(strcmp(tu_cell(t, "Sym", 1), "B") == 0 && strcmp(tu_cell(t, "Sym", 2), "null") == 0);
  CHECK(strcmp(tu_cell(t, "Px", 2), "0.1") == 0 && strcmp(tu_cell(t, "Px", 1), "null") == 0);
  CHECK(strcmp(tu_cell(t, "Flag", 0), "true") == 0);
  CHECK(strcmp(tu_cell(t, "When", 2), "1970-01-02T00:00:00Z") == 0);
  CHECK(strcmp(tu_cell(t, "Note", 2), "") == 0);
  char l[64], r[64];
  CHECK(tide__split_pair(" New = Old ", l, r, sizeof l) && !strcmp(l, "New") && !strcmp(r, "Old"));
  CHECK(tide__split_pair("Same", l, r, sizeof l) && !strcmp(l, "Same") && !strcmp(r, "Same"));
  CHECK(!tide__split_pair("A=B=C", l, r, sizeof l) && !tide__split_pair("1x", l, r, sizeof l));
  /* Duplicate and invalid names are refused. */
  const char *dup[] = {"A", "A"};
  tide_source_t *srcs[2] = {tide_table_col_source(t, 1), tide_table_col_source(t, 1)};
  CHECK(tide_table_create((tide_rowset_t *)tide_table_rowset(t), 2, dup, srcs, &err) == NULL);
  CHECK(err.status == TIDE_ERR_DUPLICATE);
  const char *bad[] = {"9lives"};
  CHECK(tide_table_create((tide_rowset_t *)tide_table_rowset(t), 1, bad, srcs, &err) == NULL);
  /* Printing goes through every formatter. */
  FILE *f = tmpfile();
  CHECK(tide_table_print(t, f, 2, &err) == TIDE_OK);
  rewind(f);
  char text[1024] = {0};
  size_t got = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  CHECK(got > 0 && strstr(text, "Sym") && strstr(text, "1 more rows"));
  tide_table_t *e = tide_table_create_empty(5, names, types, &err);
  CHECK_OK_PTR(e, err);
  CHECK(tide_table_size(e) == 0 && tide_table_col_type(e, 4) == TIDE_TS);
  tide_table_free(e);
  tide_table_free(t);
}

/* Timestamps outside the int64 nanosecond range (1677-09-21 .. 2262-04-11)
 * are rejected instead of overflowing; the null sentinel is not a value. */
static void test_timestamp_range(void) {
  int64_t ns = 0;
  CHECK(!tide_ts_parse("9999-12-31", 10, &ns));
  CHECK(!tide_ts_parse("0001-01-01", 10, &ns));
  CHECK(!tide_ts_parse("3000-06-01T12:00:00Z", 20, &ns));
  CHECK(tide_ts_parse("2262-04-11T23:47:16.854775807Z", 30, &ns) && ns == INT64_MAX);
  CHECK(!tide_ts_parse("2262-04-11T23:47:16.854775808Z", 30, &ns));
  CHECK(tide_ts_parse("1677-09-21T00:12:43.145224193Z", 30, &ns) && ns == INT64_MIN + 1);
  CHECK(!tide_ts_parse("1677-09-21T00:12:43.145224192Z", 30, &ns)); /* the null sentinel */
  CHECK(!tide_ts_parse("1677-09-21T00:12:43.145224191Z", 30, &ns));
  /* a zone offset may carry an in-range local time out of range */
  CHECK(!tide_ts_parse("2262-04-11T23:47:16.854775807-01:00", 35, &ns));
  char buf[64];
  size_t len = tide_ts_format(INT64_MAX, buf, sizeof buf);
  CHECK(tide_ts_parse(buf, len, &ns) && ns == INT64_MAX);
  len = tide_ts_format(INT64_MIN + 1, buf, sizeof buf);
  CHECK(tide_ts_parse(buf, len, &ns) && ns == INT64_MIN + 1);
  tide_type_t ty;
  CHECK(!tide_type_from_name(NULL, &ty));
}

/* Sizes whose byte count does not fit size_t are refused, not wrapped. */
static void test_source_overflow(void) {
  tide_error err;
  tide_error_clear(&err);
  CHECK(tide_source_flat_create(TIDE_I64, UINT64_MAX / 8 + 2, &err) == NULL &&
        err.status != TIDE_OK);
  tide_error_clear(&err);
  CHECK(tide_source_flat_create(TIDE_I8, UINT64_MAX - 10, &err) == NULL && err.status != TIDE_OK);
  tide_error_clear(&err);
  CHECK(tide__redir_create(UINT64_MAX / 8 + 2, &err) == NULL && err.status != TIDE_OK);
}

/* Printing reads every row at its own position (formula columns using i). */
static void test_print_positions(void) {
  tide_error err;
  int64_t v[5] = {10, 20, 30, 40, 50};
  tide_table_t *t = tu_table(5, 1, (const char *[]){"V"}, (tide_type_t[]){TIDE_I64},
                             (const void *[]){v});
  tide_table_t *w = tide_where(t, "V != 20", &err);
  tide_table_t *u = w ? tide_update_view(w, (const char *[]){"P = i"}, 1, &err) : NULL;
  CHECK_OK_PTR(u, err);
  if (u) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK(tide_table_print(u, f, UINT64_MAX, &err) == TIDE_OK);
    fclose(f);
    /* rows: V P = 10 0, 30 1, 40 2, 50 3 */
    const char *want[] = {"10 | 0", "30 | 1", "40 | 2", "50 | 3"};
    for (size_t k = 0; k < 4; k++) CHECK_MSG(text && strstr(text, want[k]), "missing '%s' in:\n%s", want[k], text);
    free(text);
  }
  tide_table_free(u);
  tide_table_free(w);
  tide_table_free(t);
}

int main(void) {
  test_errors();
  test_types();
  test_timestamps();
  test_timestamp_range();
  test_source_overflow();
  test_print_positions();
  test_symtab();
  test_sources();
  test_tables();
  return tu_finish("test_core");
}
