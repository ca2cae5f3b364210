/*
 * CSV reader and writer: inference, explicit types, quoting, line ends,
 * errors with exact line numbers, symbols, round trips, and a parallel
 * parse that must equal the serial one.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static tide_table_t *rd(const char *text, const tide_csv_options_t *opt, tide_error *err) {
  return tide_read_csv_buffer(text, strlen(text), "t.csv", opt, err);
}

static tide_type_t coltype(const tide_table_t *t, const char *name) {
  int c = tide_table_col_index(t, name);
  return c < 0 ? TIDE_TYPE_COUNT : tide_table_col_type(t, (size_t)c);
}

#define CHECK_CELL(t, col, row, expect)                                                          \
  do {                                                                                           \
    const char *got_ = tu_cell((t), (col), (row));                                               \
    CHECK_MSG(strcmp(got_, (expect)) == 0, "%s[%d]: got '%s', expected '%s'", (col), (int)(row), \
              got_, (expect));                                                                   \
  } while (0)

/* Expect an error of status st whose message contains `needle`. */
static void expect_error(const char *text, const tide_csv_options_t *opt, tide_status st,
                         const char *needle) {
  tide_error err;
  tide_error_clear(&err);
  tide_table_t *t = rd(text, opt, &err);
  CHECK_MSG(t == NULL, "expected failure for <%s>", text);
  tide_table_free(t);
  CHECK_MSG(err.status == st, "status %s (%s), expected %s", tide_status_str(err.status), err.msg,
            tide_status_str(st));
  CHECK_MSG(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
}

static void test_inference(void) {
  tide_error err;
  const char *text =
      "b,i,d,t,s,bi,it,e,q,big,mixed_f\n"
      "true,1,1.5,2020-01-01,abc,true,1,,\"12\",9223372036854775808,1\n"
      "FALSE,-2,3,2020-01-02T03:04:05Z,def,1,2020-01-01,,\"-3\",1,2.25\n"
      "True,,,2021-06-01T00:00:00.5+01:00,,false,3,,7,2,1e3\n";
  tide_table_t *t = rd(text, NULL, &err);
  CHECK_OK_PTR(t, err);
  if (!t) return;
  CHECK(tide_table_size(t) == 3);
  CHECK(coltype(t, "b") == TIDE_BOOL);
  CHECK(coltype(t, "i") == TIDE_I64);
  CHECK(coltype(t, "d") == TIDE_F64);
  CHECK(coltype(t, "t") == TIDE_TS);
  CHECK(coltype(t, "s") == TIDE_STRING);  /* 2 distinct of 3 rows > 0.5 */
  CHECK(coltype(t, "bi") == TIDE_STRING); /* bool + int: string */
  CHECK(coltype(t, "it") == TIDE_STRING); /* int + timestamp: string */
  CHECK(coltype(t, "e") == TIDE_STRING);  /* only empty: string */
  CHECK(coltype(t, "q") == TIDE_I64);     /* quoted numbers are numbers */
  CHECK(coltype(t, "big") == TIDE_F64);   /* beyond int64 */
  CHECK(coltype(t, "mixed_f") == TIDE_F64);
  CHECK_CELL(t, "b", 0, "true");
  CHECK_CELL(t, "b", 1, "false");
  CHECK_CELL(t, "b", 2, "true");
  CHECK_CELL(t, "i", 1, "-2");
  CHECK_CELL(t, "i", 2, "null");
  CHECK_CELL(t, "d", 0, "1.5");
  CHECK_CELL(t, "d", 1, "3.0");
  CHECK_CELL(t, "d", 2, "null");
  CHECK_CELL(t, "t", 0, "2020-01-01T00:00:00Z");
  CHECK_CELL(t, "t", 1, "2020-01-02T03:04:05Z");
  CHECK_CELL(t, "t", 2, "2021-05-31T23:00:00.500Z");
  CHECK_CELL(t, "s", 2, "null");
  CHECK_CELL(t, "bi", 0, "true");
  CHECK_CELL(t, "bi", 1, "1");
  CHECK_CELL(t, "it", 1, "2020-01-01");
  CHECK_CELL(t, "e", 0, "null");
  CHECK_CELL(t, "q", 1, "-3");
  CHECK(tu_cell_f64(t, "big", 0) == 9223372036854775808.0);
  CHECK(tu_cell_f64(t, "mixed_f", 2) == 1000.0);
  tide_table_free(t);

  /* double round trip of hard values and special values */
  const char *hard =
      "x\n0.1\n2.2250738585072014e-308\n1.7976931348623157e308\n"
      "123456789012345678901234567890\n4.9e-324\n-0.0\n0.30000000000000004\n"
      "NaN\n-Infinity\ninf\n1e-400\n9007199254740993\n";
  t = rd(hard, NULL, &err);
  CHECK_OK_PTR(t, err);
  if (t) {
    CHECK(coltype(t, "x") == TIDE_F64);
    const char *vals[] = {"0.1",
                          "2.2250738585072014e-308",
                          "1.7976931348623157e308",
                          "123456789012345678901234567890",
                          "4.9e-324",
                          "-0.0",
                          "0.30000000000000004",
                          "NaN",
                          "-Infinity",
                          "inf",
                          "1e-400",
                          "9007199254740993"};
    for (int k = 0; k < 12; k++) {
      double want = strtod(vals[k], NULL), got = tu_cell_f64(t, "x", (uint64_t)k);
      CHECK_MSG((isnan(want) && isnan(got)) || memcmp(&want, &got, 8) == 0, "%s: got %.17g",
                vals[k], got);
    }
    tide_table_free(t);
  }
  /* a number-looking column that turns string late keeps original text */
  t = rd("a,b\n007,1\n2,x\n", NULL, &err);
  CHECK_OK_PTR(t, err);
  if (t) {
    CHECK(coltype(t, "a") == TIDE_I64);
    CHECK(coltype(t, "b") != TIDE_I64);
    CHECK_CELL(t, "a", 0, "7");
    CHECK_CELL(t, "b", 0, "1");
    CHECK_CELL(t, "b", 1, "x");
    tide_table_free(t);
  }
  t = rd("a,b\n007,1\n2,3\nzz,4\n", NULL, &err);
  CHECK_OK_PTR(t, err);
  if (t) {
    CHECK(coltype(t, "a") == TIDE_STRING || coltype(t, "a") == TIDE_SYMBOL);
    CHECK_CELL(t, "a", 0, "007");
    CHECK_CELL(t, "a", 2, "zz");
    tide_table_free(t);
  }
  /* integer sentinel is not an int; whitespace is not trimmed */
  t = rd("a,b\n-9223372036854775808, 1\n1,2\n", NULL, &err);
  CHECK_OK_PTR(t, err);
  if (t) {
    CHECK(coltype(t, "a") == TIDE_F64);
    CHECK(coltype(t, "b") == TIDE_STRING || coltype(t, "b") == TIDE_SYMBOL);
    CHECK_CELL(t, "b", 0, " 1");
    tide_table_free(t);
  }
}

/* Types that change between parse ranges: the join and the conversion of
 * ranges parsed with another type (text recovered by re-tokenising). */
static void test_inference_ranges(void) {
  size_t n = 60000;
  char *buf = malloc(n * 64 + 64);
  size_t o = (size_t)sprintf(buf, "bi,ts,nb,fi,q\n");
  for (size_t i = 0; i < n; i++) {
    bool late = i >= n - n / 10;
    char bi[16], ts[40], nb[8], fi[24], q[16];
    if (late)
      snprintf(bi, sizeof bi, "%zu", i % 7);
    else
      snprintf(bi, sizeof bi, "%s", i % 2 ? "true" : "False");
    if (i == n - 1)
      snprintf(ts, sizeof ts, "x");
    else
      snprintf(ts, sizeof ts, "2024-01-%02zuT10:00:00Z", 1 + i % 28);
    snprintf(nb, sizeof nb, "%s", late ? (i % 2 ? "false" : "") : "");
    if (i < n / 2)
      snprintf(fi, sizeof fi, "%zu", i);
    else
      snprintf(fi, sizeof fi, "%zu.25", i);
    snprintf(q, sizeof q, i == n / 3 ? "\"\"" : "");
    o += (size_t)sprintf(buf + o, "%s,%s,%s,%s,%s\n", bi, ts, nb, fi, q);
  }
  tide_error err;
  tide_csv_options_t opt;
  tide_csv_options_init(&opt);
  opt.symbol_max_distinct = 0;
  tide_table_t *r[2] = {NULL, NULL};
  for (int k = 0; k < 2; k++) {
    opt.nthreads = k ? 3 : 1;
    r[k] = tide_read_csv_buffer(buf, o, "ranges", &opt, &err);
    CHECK_OK_PTR(r[k], err);
  }
  for (int k = 0; k < 2; k++) {
    tide_table_t *t = r[k];
    if (!t) continue;
    CHECK(coltype(t, "bi") == TIDE_STRING);
    CHECK_CELL(t, "bi", 0, "False");
    CHECK_CELL(t, "bi", 1, "true");
    CHECK_CELL(t, "bi", n - 1, "2"); /* 59999 % 7 */
    CHECK(coltype(t, "ts") == TIDE_STRING);
    CHECK_CELL(t, "ts", 0, "2024-01-01T10:00:00Z");
    CHECK_CELL(t, "ts", n - 1, "x");
    CHECK(coltype(t, "nb") == TIDE_BOOL);
    CHECK_CELL(t, "nb", 0, "null");
    CHECK_CELL(t, "nb", n - 1, "false");
    CHECK(coltype(t, "fi") == TIDE_F64);
    CHECK(tu_cell_f64(t, "fi", 3) == 3.0);
    CHECK(tu_cell_f64(t, "fi", n - 1) == (double)(n - 1) + 0.25);
    CHECK(coltype(t, "q") == TIDE_STRING);
    CHECK_CELL(t, "q", 0, "null");
    CHECK_CELL(t, "q", n / 3, "");
  }
  if (r[0] && r[1]) CHECK_TABLES(r[0], r[1], 0);
  tide_table_free(r[0]);
  tide_table_free(r[1]);
  free(buf);
}

static void test_explicit(void) {
  tide_error err;
  tide_csv_options_t opt;
  tide_csv_options_init(&opt);
  const char *names[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
  const tide_type_t types[] = {TIDE_I8,     TIDE_I16,  TIDE_I32, TIDE_F32, TIDE_SYMBOL,
                               TIDE_STRING, TIDE_BOOL, TIDE_TS,  TIDE_I64, TIDE_F64};
  opt.ntypes = 10;
  opt.type_names = names;
  opt.types = types;
  const char *text =
      "a,b,c,d,e,f,g,h,i,j\n"
      "1,300,70000,0.1,x,1,1,2020-01-01,5,1\n"
      "-127,-32767,,3.5,y,abc,false,,,\n"
      ",,-2147483647,,,,,2020-01-01T00:00:01Z,7,2.5\n";
  tide_table_t *t = rd(text, &opt, &err);
  CHECK_OK_PTR(t, err);
  if (t) {
    for (int k = 0; k < 10; k++)
      CHECK_MSG(coltype(t, names[k]) == types[k], "column %s is %s", names[k],
                tide_type_name(coltype(t, names[k])));
    CHECK_CELL(t, "a", 1, "-127");
    CHECK_CELL(t, "a", 2, "null");
    CHECK_CELL(t, "b", 0, "300");
    CHECK_CELL(t, "c", 0, "70000");
    CHECK_CELL(t, "c", 1, "null");
    CHECK_CELL(t, "c", 2, "-2147483647");
    unsigned char v[8];
    CHECK(tide_table_get(t, 3, 0, v, NULL) == TIDE_OK);
    float f;
    memcpy(&f, v, 4);
    CHECK(f == 0.1f);
    CHECK_CELL(t, "d", 2, "null");
    CHECK_CELL(t, "e", 1, "y");
    CHECK_CELL(t, "e", 2, "null");
    CHECK_CELL(t, "f", 0, "1");
    CHECK_CELL(t, "f", 2, "null");
    CHECK_CELL(t, "g", 0, "true");
    CHECK_CELL(t, "g", 1, "false");
    CHECK_CELL(t, "g", 2, "null");
    CHECK_CELL(t, "h", 1, "null");
    CHECK_CELL(t, "i", 1, "null");
    CHECK_CELL(t, "j", 0, "1.0");
    CHECK_CELL(t, "j", 1, "null");
    tide_table_free(t);
  }
  /* bad values for explicit types: line and column named */
  const char *n1[] = {"b"};
  tide_type_t t8[] = {TIDE_I8};
  opt.ntypes = 1;
  opt.type_names = n1;
  opt.types = t8;
  expect_error("a,b\n1,2\n3,4\n5,128\n", &opt, TIDE_ERR_CSV,
               "t.csv:4: column 'b': cannot parse '128' as int8");
  expect_error("a,b\n1,2\n3,-128\n", &opt, TIDE_ERR_CSV, "t.csv:3: column 'b'");
  tide_type_t tb[] = {TIDE_BOOL};
  opt.types = tb;
  expect_error("a,b\n1,true\n\"x\ny\",maybe\n", &opt, TIDE_ERR_CSV,
               "t.csv:4: column 'b': cannot parse 'maybe' as bool");
  tide_type_t tts[] = {TIDE_TS};
  opt.types = tts;
  expect_error("a,b\n1,2020-01-01\n2,2020-13-01\n", &opt, TIDE_ERR_CSV,
               "t.csv:3: column 'b': cannot parse '2020-13-01' as timestamp");
  tide_type_t ti[] = {TIDE_I64};
  opt.types = ti;
  expect_error("a,b\n1,2\n2,2.5\n", &opt, TIDE_ERR_CSV, "t.csv:3: column 'b'");
  tide_type_t td[] = {TIDE_F64};
  opt.types = td;
  expect_error("a,b\n1,2\n2,x\n", &opt, TIDE_ERR_CSV,
               "t.csv:3: column 'b': cannot parse 'x' as double");
  const char *nz[] = {"zz"};
  opt.type_names = nz;
  expect_error("a,b\n1,2\n", &opt, TIDE_ERR_NOT_FOUND, "no column 'zz'");
  /* explicit by raw header text */
  const char *nraw[] = {"my col"};
  tide_type_t tstr[] = {TIDE_STRING};
  opt.type_names = nraw;
  opt.types = tstr;
  t = rd("my col,x\n1,2\n", &opt, &err);
  CHECK_OK_PTR(t, err);
  if (t) {
    CHECK(coltype(t, "my_col") == TIDE_STRING);
    CHECK_CELL(t, "my_col", 0, "1");
    tide_table_free(t);
  }
}

static void test_quoting(void) {
  tide_error err;
  const char *text =
      "id,s\n"
      "1,\"a,b\"\n"
      "2,\"line1\nline2\"\n"
      "3,\"say \"\"hi\"\"\"\n"
      "4,\"\"\n"
      "5,\n"
      "6,\"\"\"\"\n"
      "7,\"  padded  \"\n"
      "8,\"x\r\ny\"\r\n"
      "9,plain\n";
  tide_csv_options_t opt;
  tide_csv_options_init(&opt);
  opt.symbol_max_distinct = 0;
  tide_table_t *t = rd(text, &opt, &err);
  CHECK_OK_PTR(t, err);
  if (!t) return;
  CHECK(tide_table_size(t) == 9);
  CHECK(coltype(t, "s") == TIDE_STRING);
  CHECK_CELL(t, "s", 0, "a,b");
  CHECK_CELL(t, "s", 1, "line1\nline2");
  CHECK_CELL(t, "s", 2, "say \"hi\"");
  CHECK_CELL(t, "s", 3, "");
  CHECK_CELL(t, "s", 4, "null");
  CHECK_CELL(t, "s", 5, "\"");
  CHECK_CELL(t, "s", 6, "  padded  ");
  CHECK_CELL(t, "s", 7, "x\r\ny");
  CHECK_CELL(t, "s", 8, "plain");
  CHECK_CELL(t, "id", 8, "9");
  tide_table_free(t);
  /* quoted empty does not affect inference; "" in an all-empty column */
  t = rd("a,b\n\"\",\"\"\n1,\n2,\n", NULL, &err);
  CHECK_OK_PTR(t, err);
  if (t) {
    CHECK(coltype(t, "a") == TIDE_I64);
    CHECK_CELL(t, "a", 0, "null");
    CHECK(coltype(t, "b") == TIDE_STRING);
    CHECK_CELL(t, "b", 0, "");
    CHECK_CELL(t, "b", 1, "null");
    tide_table_free(t);
  }
  /* a string column that starts with quoted empties then gets text */
  t = rd("a,b\n1,\"\"\n2,\n3,xyz\n", &opt, &err);
  CHECK_OK_PTR(t, err);
  if (t) {
    CHECK_CELL(t, "b", 0, "");
    CHECK_CELL(t, "b", 1, "null");
    CHECK_CELL(t, "b", 2, "xyz");
    tide_table_free(t);
  }
  /* other delimiter */
  tide_csv_options_init(&opt);
  opt.delimiter = ';';
  t = rd("a;b\n1,5;\"x;y\"\n", &opt, &err);
  CHECK_OK_PTR(t, err);
  if (t) {
    CHECK_CELL(t, "a", 0, "1,5");
    CHECK_CELL(t, "b", 0, "x;y");
    tide_table_free(t);
  }
}

static void test_line_ends(void) {
  tide_error err;
  const char *variants[] = {
      "a,b\n1,x\n2,y\n",
      "a,b\r\n1,x\r\n2,y\r\n",
      "\xEF\xBB\xBF"
      "a,b\r\n1,x\r\n2,y",
      "a,b\n1,x\n2,y",
      "a,b\n1,x\n2,y\n\n\n",
      "a,b\r\n1,x\r\n2,y\r\n\r\n",
      "\n\na,b\n1,x\n\n2,y\n",
      "a,b\n1,x\r\n\r\n2,y\n",
  };
  for (size_t k = 0; k < sizeof variants / sizeof variants[0]; k++) {
    tide_table_t *t = rd(variants[k], NULL, &err);
    CHECK_MSG(t != NULL, "variant %zu: %s", k, err.msg);
    if (!t) continue;
    CHECK_MSG(tide_table_size(t) == 2, "variant %zu: %llu rows", k,
              (unsigned long long)tide_table_size(t));
    CHECK(tide_table_col_index(t, "a") == 0);
    CHECK(coltype(t, "a") == TIDE_I64);
    CHECK_CELL(t, "a", 1, "2");
    CHECK_CELL(t, "b", 0, "x");
    CHECK_CELL(t, "b", 1, "y");
    tide_table_free(t);
  }
  /* one column: a blank line inside is a null, trailing ones are ignored */
  tide_table_t *t = rd("v\n1\n\n3\n\n", NULL, &err);
  CHECK_OK_PTR(t, err);
  if (t) {
    CHECK(tide_table_size(t) == 3);
    CHECK_CELL(t, "v", 1, "null");
    CHECK_CELL(t, "v", 2, "3");
    tide_table_free(t);
  }
  /* header only */
  t = rd("a,b\n", NULL, &err);
  CHECK_OK_PTR(t, err);
  if (t) {
    CHECK(tide_table_size(t) == 0);
    CHECK(tide_table_ncols(t) == 2);
    tide_table_free(t);
  }
}

static void test_files(void) {
  tide_error err;
  tide_table_t *t = tide_read_csv("data/csv/bom_crlf.csv", NULL, &err);
  CHECK_OK_PTR(t, err);
  if (t) {
    CHECK(tide_table_size(t) == 3);
    CHECK(coltype(t, "Sym") == TIDE_SYMBOL || coltype(t, "Sym") == TIDE_STRING);
    CHECK(coltype(t, "Price") == TIDE_F64);
    CHECK(coltype(t, "Size") == TIDE_I64);
    CHECK(coltype(t, "Time") == TIDE_TS);
    CHECK_CELL(t, "Sym", 2, "MSFT");
    CHECK_CELL(t, "Note", 1, "two\r\nlines");
    CHECK_CELL(t, "Size", 2, "null");
    tide_table_free(t);
  }
  t = tide_read_csv("data/csv/bad_fields.csv", NULL, &err);
  CHECK(t == NULL);
  CHECK_MSG(err.status == TIDE_ERR_CSV &&
                strstr(err.msg, "data/csv/bad_fields.csv:7: expected 3 fields, found 2"),
            "%s", err.msg);
  t = tide_read_csv("data/csv/unterminated.csv", NULL, &err);
  CHECK(t == NULL);
  CHECK_MSG(
      err.status == TIDE_ERR_CSV && strstr(err.msg, "data/csv/unterminated.csv:4: unterminated"),
      "%s", err.msg);
  t = tide_read_csv("data/csv/empty.csv", NULL, &err);
  CHECK(t == NULL);
  CHECK_MSG(err.status == TIDE_ERR_CSV && strstr(err.msg, "empty file"), "%s", err.msg);
  t = tide_read_csv("data/csv", NULL, &err); /* a directory: read fails */
  CHECK(t == NULL);
  CHECK_MSG(err.status == TIDE_ERR_IO && strstr(err.msg, "data/csv"), "%s", err.msg);
  t = tide_read_csv("data/csv/does_not_exist.csv", NULL, &err);
  CHECK(t == NULL);
  CHECK_MSG(err.status == TIDE_ERR_IO && strstr(err.msg, "does_not_exist.csv") &&
                strstr(err.msg, "No such file"),
            "%s", err.msg);
}

static void test_errors(void) {
  expect_error("a,b,c\n1,2,3\n4,5\n", NULL, TIDE_ERR_CSV, "t.csv:3: expected 3 fields, found 2");
  expect_error("a,b,c\n1,2,3\n4,5,6,7,8\n", NULL, TIDE_ERR_CSV,
               "t.csv:3: expected 3 fields, found 5");
  expect_error("a,b\n1,\"x\ny\nz\"\n2\n", NULL, TIDE_ERR_CSV,
               "t.csv:5: expected 2 fields, found 1");
  expect_error("a,b\r\n1,2\r\n3,4,\r\n", NULL, TIDE_ERR_CSV, "t.csv:3: expected 2 fields, found 3");
  expect_error("a,b\n1,2\n3,\"abc\n4,5\n", NULL, TIDE_ERR_CSV,
               "t.csv:3: unterminated quoted field");
  expect_error("a,b\n1,\"ok\"\n\"x,y\n", NULL, TIDE_ERR_CSV, "t.csv:3: unterminated");
  expect_error("", NULL, TIDE_ERR_CSV, "t.csv: empty file");
  expect_error("\n\r\n\n", NULL, TIDE_ERR_CSV, "empty file");
  expect_error("\xEF\xBB\xBF", NULL, TIDE_ERR_CSV, "empty file");
  /* the error is the first in the file even when parsed in parallel */
  size_t n = 150000;
  char *big = malloc(n * 12 + 64);
  size_t o = (size_t)sprintf(big, "a,b\n");
  for (size_t i = 0; i < n; i++) {
    if (i == 100000 || i == 140000)
      o += (size_t)sprintf(big + o, "%zu\n", i);
    else
      o += (size_t)sprintf(big + o, "%zu,%zu\n", i, i % 7);
  }
  big[o] = '\0';
  tide_csv_options_t opt;
  tide_csv_options_init(&opt);
  opt.nthreads = 4;
  expect_error(big, &opt, TIDE_ERR_CSV, "t.csv:100002: expected 2 fields, found 1");
  free(big);
}

static void test_names(void) {
  tide_error err;
  tide_table_t *t = rd("a b,1x,a b,,x-y,a_b_2\n1,2,3,4,5,6\n", NULL, &err);
  CHECK_OK_PTR(t, err);
  if (t) {
    const char *want[] = {"a_b", "_1x", "a_b_3", "C4", "x_y", "a_b_2"};
    for (size_t c = 0; c < 6; c++)
      CHECK_MSG(strcmp(tide_table_col_name(t, c), want[c]) == 0, "name %zu: %s", c,
                tide_table_col_name(t, c));
    tide_table_free(t);
  }
  tide_csv_options_t opt;
  tide_csv_options_init(&opt);
  opt.has_header = false;
  t = rd("1,x\n2,y\n", &opt, &err);
  CHECK_OK_PTR(t, err);
  if (t) {
    CHECK(tide_table_size(t) == 2);
    CHECK(strcmp(tide_table_col_name(t, 0), "C1") == 0);
    CHECK(strcmp(tide_table_col_name(t, 1), "C2") == 0);
    CHECK_CELL(t, "C1", 0, "1");
    CHECK_CELL(t, "C2", 1, "y");
    tide_table_free(t);
  }
}

static void test_symbols(void) {
  tide_error err;
  /* 3 distinct in 10 rows: symbol, codes in order of first appearance */
  const char *text = "k,u\nb,1a\na,2a\nb,3a\nc,4a\na,5a\n,6a\nb,7a\nc,8a\na,9a\nb,10a\n";
  tide_table_t *t = rd(text, NULL, &err);
  CHECK_OK_PTR(t, err);
  if (t) {
    CHECK(coltype(t, "k") == TIDE_SYMBOL);
    CHECK(coltype(t, "u") == TIDE_STRING);
    tide_symtab_t *st = tide_source_symtab(tide_table_col_source(t, 0));
    CHECK(st && tide_symtab_size(st) == 3);
    if (st) {
      CHECK(strcmp(tide_symtab_str(st, 0), "b") == 0);
      CHECK(strcmp(tide_symtab_str(st, 1), "a") == 0);
      CHECK(strcmp(tide_symtab_str(st, 2), "c") == 0);
    }
    CHECK_CELL(t, "k", 5, "null");
    CHECK_CELL(t, "k", 9, "b");
    CHECK_CELL(t, "u", 9, "10a");
    tide_table_free(t);
  }
  tide_csv_options_t opt;
  tide_csv_options_init(&opt);
  opt.symbol_max_distinct = 2;
  t = rd(text, &opt, &err);
  CHECK_OK_PTR(t, err);
  if (t) {
    CHECK(coltype(t, "k") == TIDE_STRING);
    CHECK_CELL(t, "k", 3, "c");
    tide_table_free(t);
  }
  opt.symbol_max_distinct = 0;
  t = rd(text, &opt, &err);
  CHECK_OK_PTR(t, err);
  if (t) {
    CHECK(coltype(t, "k") == TIDE_STRING);
    tide_table_free(t);
  }
  /* each parse range sees few distinct values, the whole column many */
  size_t n = 60000;
  char *buf = malloc(n * 16 + 16);
  size_t o = (size_t)sprintf(buf, "k,v\n");
  for (size_t i = 0; i < n; i++) o += (size_t)sprintf(buf + o, "s%zu,%zu\n", i * 300 / n, i);
  for (int lim = 0; lim < 2; lim++) {
    tide_csv_options_init(&opt);
    opt.symbol_max_distinct = lim ? 300 : 299;
    tide_table_t *r[2] = {NULL, NULL};
    for (int th = 0; th < 2; th++) {
      opt.nthreads = th ? 3 : 1;
      r[th] = tide_read_csv_buffer(buf, o, "blocks", &opt, &err);
      CHECK_OK_PTR(r[th], err);
    }
    if (r[0] && r[1]) {
      CHECK(coltype(r[0], "k") == (lim ? TIDE_SYMBOL : TIDE_STRING));
      CHECK(coltype(r[1], "k") == (lim ? TIDE_SYMBOL : TIDE_STRING));
      CHECK_TABLES(r[0], r[1], 0);
      CHECK_CELL(r[1], "k", n - 1, "s299");
      if (lim) {
        tide_symtab_t *st = tide_source_symtab(tide_table_col_source(r[1], 0));
        CHECK(st && tide_symtab_size(st) == 300 && strcmp(tide_symtab_str(st, 123), "s123") == 0);
      }
    }
    tide_table_free(r[0]);
    tide_table_free(r[1]);
  }
  free(buf);
  tide_csv_options_init(&opt);
  opt.symbol_max_ratio = 0.2;
  t = rd(text, &opt, &err);
  CHECK_OK_PTR(t, err);
  if (t) {
    CHECK(coltype(t, "k") == TIDE_STRING);
    tide_table_free(t);
  }
}

static void test_write_format(void) {
  tide_error err;
  const char *names[] = {"b", "i", "d", "t", "s", "y"};
  tide_type_t types[] = {TIDE_BOOL, TIDE_I32, TIDE_F64, TIDE_TS, TIDE_STRING, TIDE_SYMBOL};
  int8_t b[] = {1, 0, TIDE_NULL_BOOL, 1};
  int32_t i[] = {-5, TIDE_NULL_I32, 2147483647, 0};
  double d[] = {0.1, 1e20, TIDE_NULL_F64, -2.5e-7};
  int64_t ts[] = {0, 1500000000LL, TIDE_NULL_TS, 86400000000000LL};
  const char *s[] = {"a,b", "q\"q", NULL, ""};
  const char *y[] = {" lead", "x\ny", "plain", NULL};
  const void *cols[] = {b, i, d, ts, s, y};
  tide_table_t *t = tu_table(4, 6, names, types, cols);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  CHECK_OK(tide_write_csv_stream(t, f, &err), err);
  fclose(f);
  const char *want =
      "b,i,d,t,s,y\n"
      "true,-5,0.1,1970-01-01T00:00:00Z,\"a,b\",\" lead\"\n"
      "false,,100000000000000000000.0,1970-01-01T00:00:01.500Z,\"q\"\"q\",\"x\ny\"\n"
      ",2147483647,,,,plain\n"
      "true,0,-2.5e-07,1970-01-02T00:00:00Z,\"\",\n";
  CHECK_MSG(buf && strcmp(buf, want) == 0, "got:\n%s", buf ? buf : "(null)");
  /* read back with the explicit types: equal */
  tide_csv_options_t opt;
  tide_csv_options_init(&opt);
  opt.ntypes = 6;
  opt.type_names = names;
  opt.types = types;
  tide_table_t *back = tide_read_csv_buffer(buf, len, "mem", &opt, &err);
  CHECK_OK_PTR(back, err);
  if (back) CHECK_TABLES(t, back, 0);
  tide_table_free(back);
  free(buf);

  /* sparse RowSet: only keys 1 and 3 */
  uint64_t keys[] = {1, 3};
  tide_rowset_t *rs = tide_rowset_from_keys(keys, 2);
  tide_source_t *srcs[6];
  for (size_t c = 0; c < 6; c++) srcs[c] = tide_table_col_source(t, c);
  tide_table_t *sp = tide_table_create(rs, 6, names, srcs, &err);
  tide_rowset_free(rs);
  CHECK_OK_PTR(sp, err);
  if (sp) {
    buf = NULL;
    f = open_memstream(&buf, &len);
    CHECK_OK(tide_write_csv_stream(sp, f, &err), err);
    fclose(f);
    const char *want2 =
        "b,i,d,t,s,y\n"
        "false,,100000000000000000000.0,1970-01-01T00:00:01.500Z,\"q\"\"q\",\"x\ny\"\n"
        "true,0,-2.5e-07,1970-01-02T00:00:00Z,\"\",\n";
    CHECK_MSG(buf && strcmp(buf, want2) == 0, "got:\n%s", buf ? buf : "(null)");
    free(buf);
    tide_table_free(sp);
  }

  /* file writing: atomic rename, no temp left; failure leaves nothing */
  char path[256];
  snprintf(path, sizeof path, "/tmp/tide_test_csv_%ld.csv", (long)getpid());
  CHECK_OK(tide_write_csv(t, path, &err), err);
  back = tide_read_csv(path, &opt, &err);
  CHECK_OK_PTR(back, err);
  if (back) CHECK_TABLES(t, back, 0);
  tide_table_free(back);
  char tmp[300];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  CHECK(access(tmp, F_OK) != 0);
  unlink(path);
  tide_status st = tide_write_csv(t, "/nonexistent-dir/x.csv", &err);
  CHECK(st == TIDE_ERR_IO);
  CHECK(strstr(err.msg, "/nonexistent-dir/x.csv") != NULL);
  CHECK(access("/nonexistent-dir/x.csv", F_OK) != 0);
  tide_table_free(t);
}

/* Integer-valued doubles are written "5.0", so they read back as doubles. */
static void test_int_doubles(void) {
  const char *names[] = {"d", "i"};
  tide_type_t types[] = {TIDE_F64, TIDE_I64};
  double d[] = {5, -0.0, 1e15, TIDE_NULL_F64};
  int64_t i[] = {1, 2, 3, 4};
  const void *cols[] = {d, i};
  tide_table_t *t = tu_table(4, 2, names, types, cols);
  char *buf = NULL;
  size_t len = 0;
  tide_error err;
  FILE *fp = open_memstream(&buf, &len);
  CHECK_OK(tide_write_csv_stream(t, fp, &err), err);
  fclose(fp);
  tide_table_t *back = tide_read_csv_buffer(buf, len, "intd", NULL, &err);
  CHECK_OK_PTR(back, err);
  if (back) {
    CHECK(coltype(back, "d") == TIDE_F64);
    CHECK_TABLES(t, back, 0);
    double z = tu_cell_f64(back, "d", 1);
    CHECK(z == 0 && signbit(z));
    tide_table_free(back);
  }
  free(buf);
  tide_table_free(t);
}

/* The writer formats doubles and floats exactly like tide_value_format. */
static void test_write_doubles(uint64_t seed) {
  tu_rng r = {seed};
  size_t n = 6000;
  double *d = malloc(n * sizeof *d);
  float *f = malloc(n * sizeof *f);
  for (size_t i = 0; i < n; i++) {
    int kind = (int)tu_below(&r, 6);
    uint64_t bits = tu_next(&r);
    double x;
    memcpy(&x, &bits, 8);
    if (kind == 1) x = (double)(int64_t)tu_below(&r, 2000000) / pow(10, (double)tu_below(&r, 9));
    if (kind == 2) x = (double)tu_below(&r, 100000) * pow(10, (double)tu_below(&r, 20));
    if (kind == 3) x = tu_unit(&r) * pow(10, (double)tu_below(&r, 40) - 20);
    if (kind == 4) x = round(tu_unit(&r) * 1e8) / 1e6;
    if (tu_below(&r, 2)) x = -x;
    if (isnan(x) || x == TIDE_NULL_F64) x = 0.5;
    d[i] = x;
    f[i] = (float)(kind == 0 ? (float)tu_unit(&r) : x);
    if (f[i] == TIDE_NULL_F32 || isnan(f[i])) f[i] = 1.5f;
  }
  const char *names[] = {"d", "f"};
  tide_type_t types[] = {TIDE_F64, TIDE_F32};
  const void *cols[] = {d, f};
  tide_table_t *t = tu_table(n, 2, names, types, cols);
  char *buf = NULL;
  size_t len = 0;
  tide_error err;
  FILE *fp = open_memstream(&buf, &len);
  CHECK_OK(tide_write_csv_stream(t, fp, &err), err);
  fclose(fp);
  char *line = buf ? strchr(buf, '\n') + 1 : NULL;
  int bad = 0;
  for (size_t i = 0; line && i < n && bad < 5; i++) {
    char want[128];
    size_t wl = tide_value_format(TIDE_F64, NULL, &d[i], false, want, sizeof want);
    want[wl++] = ',';
    wl += tide_value_format(TIDE_F32, NULL, &f[i], false, want + wl, sizeof want - wl);
    char *nl = strchr(line, '\n');
    bool ok = nl && (size_t)(nl - line) == wl && memcmp(line, want, wl) == 0;
    if (!ok) {
      bad++;
      CHECK_MSG(ok, "row %zu: wrote '%.*s', tide_value_format '%s'", i, nl ? (int)(nl - line) : 0,
                line, want);
    }
    line = nl ? nl + 1 : NULL;
  }
  /* same bytes with one thread, and a sparse RowSet (every third row) */
  CHECK_OK(tide_set_threads(1, &err), err);
  char *buf1 = NULL;
  size_t len1 = 0;
  fp = open_memstream(&buf1, &len1);
  CHECK_OK(tide_write_csv_stream(t, fp, &err), err);
  fclose(fp);
  CHECK(len1 == len && buf1 && memcmp(buf, buf1, len) == 0);
  free(buf1);
  uint64_t *keys = malloc(n / 3 * sizeof *keys);
  for (size_t i = 0; i < n / 3; i++) keys[i] = 3 * i + 1;
  tide_rowset_t *rs = tide_rowset_from_keys(keys, n / 3);
  tide_source_t *srcs[2] = {tide_table_col_source(t, 0), tide_table_col_source(t, 1)};
  tide_table_t *sp = tide_table_create(rs, 2, names, srcs, &err);
  tide_rowset_free(rs);
  char *sb[2] = {NULL, NULL};
  size_t sl[2] = {0, 0};
  for (int th = 1; th <= 2 && sp; th++) {
    CHECK_OK(tide_set_threads(th, &err), err);
    fp = open_memstream(&sb[th - 1], &sl[th - 1]);
    CHECK_OK(tide_write_csv_stream(sp, fp, &err), err);
    fclose(fp);
  }
  CHECK(sb[0] && sb[1] && sl[0] == sl[1] && memcmp(sb[0], sb[1], sl[0]) == 0);
  /* the sparse output holds exactly the kept rows, in order */
  if (sb[1]) {
    const char *p = strchr(sb[1], '\n') + 1;
    size_t rows = 0;
    bool ok = true;
    for (size_t i = 0; i < n / 3 && ok; i++, rows++) {
      char want[128];
      size_t wl = tide_value_format(TIDE_F64, NULL, &d[keys[i]], false, want, sizeof want);
      ok = strncmp(p, want, wl) == 0 && p[wl] == ',';
      if (!ok) CHECK_MSG(ok, "sparse row %zu", i);
      p = strchr(p, '\n') + 1;
    }
    CHECK(*p == '\0');
  }
  free(sb[0]);
  free(sb[1]);
  free(keys);
  tide_table_free(sp);
  CHECK_OK(tide_set_threads(0, &err), err);
  tide_csv_options_t opt;
  tide_csv_options_init(&opt);
  opt.ntypes = 2;
  opt.type_names = names;
  opt.types = types;
  tide_table_t *back = tide_read_csv_buffer(buf, len, "dbl", &opt, &err);
  CHECK_OK_PTR(back, err);
  if (back) CHECK_TABLES(t, back, 0);
  tide_table_free(back);
  tide_table_free(t);
  free(buf);
  free(d);
  free(f);
}

/* Random table of every type with nulls; write, read back, compare. */
static char *rand_string(tu_rng *r) {
  static const char alpha[] = "xyzab ,\"\n\r;'-";
  size_t len = tu_below(r, 12);
  char *s = malloc(len + 2);
  s[0] = 'x'; /* never a number, bool or timestamp */
  for (size_t i = 1; i <= len; i++) s[i] = alpha[tu_below(r, sizeof alpha - 1)];
  s[len + 1] = '\0';
  return s;
}

static void test_round_trip(uint64_t seed) {
  tu_rng r = {seed};
  size_t n = 3000 + tu_below(&r, 2000);
  const char *names[] = {"b", "i8", "i16", "i32", "i64", "f", "d", "ts", "s", "y"};
  tide_type_t types[] = {TIDE_BOOL, TIDE_I8,  TIDE_I16, TIDE_I32,    TIDE_I64,
                         TIDE_F32,  TIDE_F64, TIDE_TS,  TIDE_STRING, TIDE_SYMBOL};
  int8_t *b = malloc(n), *i8 = malloc(n);
  int16_t *i16 = malloc(n * 2);
  int32_t *i32 = malloc(n * 4);
  int64_t *i64 = malloc(n * 8), *ts = malloc(n * 8);
  float *f = malloc(n * 4);
  double *d = malloc(n * 8);
  char **s = calloc(n, sizeof *s), **y = calloc(n, sizeof *y);
  static const char *syms[] = {"AAPL", "MSFT", "x y", "a,b", "q\"", "IBM"};
  for (size_t k = 0; k < n; k++) {
    bool nul = tu_below(&r, 8) == 0;
    b[k] = nul ? TIDE_NULL_BOOL : (int8_t)tu_below(&r, 2);
    nul = tu_below(&r, 8) == 0;
    i8[k] = nul ? TIDE_NULL_I8 : (int8_t)(tu_below(&r, 255) - 127);
    nul = tu_below(&r, 8) == 0;
    i16[k] = nul ? TIDE_NULL_I16 : (int16_t)(tu_below(&r, 65535) - 32767);
    nul = tu_below(&r, 8) == 0;
    i32[k] = nul ? TIDE_NULL_I32 : (int32_t)(tu_next(&r) % 4294967295ULL - 2147483647LL);
    nul = tu_below(&r, 8) == 0;
    int64_t v64 = (int64_t)tu_next(&r);
    if (v64 == TIDE_NULL_I64) v64 = 0;
    i64[k] = nul ? TIDE_NULL_I64 : (tu_below(&r, 2) ? v64 : (int64_t)tu_below(&r, 1000));
    nul = tu_below(&r, 8) == 0;
    float fv;
    uint32_t fb = (uint32_t)tu_next(&r);
    memcpy(&fv, &fb, 4);
    if (isnan(fv) || fv == TIDE_NULL_F32) fv = 1.25f;
    f[k] = nul ? TIDE_NULL_F32 : (tu_below(&r, 2) ? fv : (float)tu_unit(&r));
    nul = tu_below(&r, 8) == 0;
    double dv;
    uint64_t db = tu_next(&r);
    memcpy(&dv, &db, 8);
    if (isnan(dv) || dv == TIDE_NULL_F64) dv = -0.5;
    int kind = (int)tu_below(&r, 4);
    d[k] = nul         ? TIDE_NULL_F64
           : kind == 0 ? dv
           : kind == 1 ? tu_unit(&r) * 1000
           : kind == 2 ? (double)tu_below(&r, 100000)
                       : round(tu_unit(&r) * 1e6) / 1e6;
    nul = tu_below(&r, 8) == 0;
    int64_t tv = (int64_t)(tu_next(&r) % 4000000000000000000ULL) - 1000000000000000000LL;
    if (tu_below(&r, 2)) tv -= tv % 1000000000;
    ts[k] = nul ? TIDE_NULL_TS : tv;
    s[k] = tu_below(&r, 8) == 0 ? NULL : tu_below(&r, 10) == 0 ? strdup("") : rand_string(&r);
    y[k] = tu_below(&r, 8) == 0 ? NULL : strdup(syms[tu_below(&r, 6)]);
  }
  const void *cols[] = {b, i8, i16, i32, i64, f, d, ts, s, y};
  tide_table_t *t = tu_table(n, 10, names, types, cols);
  char *buf = NULL;
  size_t len = 0;
  tide_error err;
  FILE *fp = open_memstream(&buf, &len);
  CHECK_OK(tide_write_csv_stream(t, fp, &err), err);
  fclose(fp);
  /* explicit types: exact equality */
  tide_csv_options_t opt;
  tide_csv_options_init(&opt);
  opt.ntypes = 10;
  opt.type_names = names;
  opt.types = types;
  for (int threads = 1; threads <= 2; threads++) {
    opt.nthreads = threads;
    tide_table_t *back = tide_read_csv_buffer(buf, len, "rt", &opt, &err);
    CHECK_OK_PTR(back, err);
    if (back) {
      char msg[1024];
      bool eq = tu_table_equal(t, back, 0, msg, sizeof msg);
      CHECK_MSG(eq, "seed %llu threads %d: %s", (unsigned long long)seed, threads, msg);
      tide_table_free(back);
    }
  }
  /* inferred types: bool, int64, double, timestamp, string/symbol columns
   * come back as themselves */
  const char *inames[] = {"b", "i64", "d", "ts", "s", "y"};
  size_t idx[] = {0, 4, 6, 7, 8, 9};
  tide_source_t *isrc[6];
  for (int k = 0; k < 6; k++) isrc[k] = tide_table_col_source(t, idx[k]);
  tide_table_t *sub =
      tide_table_create((tide_rowset_t *)tide_table_rowset(t), 6, inames, isrc, &err);
  CHECK_OK_PTR(sub, err);
  if (sub) {
    free(buf);
    buf = NULL;
    fp = open_memstream(&buf, &len);
    CHECK_OK(tide_write_csv_stream(sub, fp, &err), err);
    fclose(fp);
    tide_table_t *back = tide_read_csv_buffer(buf, len, "rt2", NULL, &err);
    CHECK_OK_PTR(back, err);
    if (back) {
      char msg[1024];
      bool eq = tu_table_equal(sub, back, 0, msg, sizeof msg);
      CHECK_MSG(eq, "seed %llu inferred: %s", (unsigned long long)seed, msg);
      CHECK(coltype(back, "y") == TIDE_SYMBOL);
      CHECK(coltype(back, "s") == TIDE_STRING);
      tide_table_free(back);
    }
    tide_table_free(sub);
  }
  free(buf);
  tide_table_free(t);
  for (size_t k = 0; k < n; k++) {
    free(s[k]);
    free(y[k]);
  }
  free(b), free(i8), free(i16), free(i32), free(i64), free(ts), free(f), free(d), free(s), free(y);
}

/* ~200k lines with quoted multi-line fields; the parallel parse must equal
 * the serial one and the generator's values. */
static void test_parallel(uint64_t seed) {
  tu_rng r = {seed};
  size_t n = 150000; /* ~210k lines: 2 in 5 records span two lines */
  size_t cap = n * 80 + 64;
  char *buf = malloc(cap);
  size_t o = (size_t)sprintf(buf, "id,name,val,flag,grp,late,mix,sparse,u\n");
  int64_t *vals = malloc(n * sizeof *vals);
  uint8_t *kinds = malloc(n);
  for (size_t i = 0; i < n; i++) {
    vals[i] = (int64_t)tu_below(&r, 2000000) - 1000000;
    kinds[i] = (uint8_t)tu_below(&r, 5);
    const char *name;
    char nb[64];
    switch (kinds[i]) {
      case 0:
        name = "\"multi\nline, \"\"quoted\"\"\"";
        break;
      case 1:
        name = "\"\"";
        break;
      case 2:
        name = "";
        break;
      case 3:
        snprintf(nb, sizeof nb, "n%zu", i % 97);
        name = nb;
        break;
      default:
        name = "\"a\r\nb\"";
        break;
    }
    /* "late" is int for most of the file and a string near the end */
    char late[32];
    if (i == n - 5)
      snprintf(late, sizeof late, "oops");
    else
      snprintf(late, sizeof late, "%zu", i % 13);
    /* "mix" is int in the first half, double in the second; "sparse" is
     * empty except near the end */
    char mix[32], sparse[32];
    snprintf(mix, sizeof mix, i < n / 2 ? "%zu" : "%zu.5", i);
    if (i + 100 > n)
      snprintf(sparse, sizeof sparse, "%zu", i);
    else
      sparse[0] = '\0';
    o += (size_t)snprintf(buf + o, cap - o, "%zu,%s,%lld.%03d,%s,g%d,%s,%s,%s,u%zu\n", i, name,
                          (long long)(vals[i] / 1000), (int)llabs(vals[i] % 1000),
                          i % 3 ? "true" : "false", (int)(i % 5), late, mix, sparse, i % 100000);
  }
  tide_error err;
  tide_table_t *t1 = NULL, *t2 = NULL;
  CHECK_OK(tide_set_threads(1, &err), err);
  t1 = tide_read_csv_buffer(buf, o, "par", NULL, &err);
  CHECK_OK_PTR(t1, err);
  CHECK_OK(tide_set_threads(2, &err), err);
  t2 = tide_read_csv_buffer(buf, o, "par", NULL, &err);
  CHECK_OK_PTR(t2, err);
  CHECK_OK(tide_set_threads(0, &err), err);
  if (t1 && t2) {
    CHECK(tide_table_size(t1) == n);
    CHECK_TABLES(t1, t2, 0);
    CHECK(coltype(t1, "id") == TIDE_I64);
    CHECK(coltype(t1, "val") == TIDE_F64);
    CHECK(coltype(t1, "flag") == TIDE_BOOL);
    CHECK(coltype(t1, "grp") == TIDE_SYMBOL);
    CHECK(coltype(t1, "name") == TIDE_SYMBOL);
    CHECK(coltype(t1, "late") == TIDE_SYMBOL || coltype(t1, "late") == TIDE_STRING);
    /* symbol dictionaries are identical (order of first appearance) */
    tide_symtab_t *s1 = tide_source_symtab(tide_table_col_source(t1, 4));
    tide_symtab_t *s2 = tide_source_symtab(tide_table_col_source(t2, 4));
    CHECK(s1 && s2 && tide_symtab_size(s1) == 5 && tide_symtab_size(s2) == 5);
    for (int k = 0; s1 && s2 && k < 5; k++)
      CHECK(strcmp(tide_symtab_str(s1, k), tide_symtab_str(s2, k)) == 0);
    /* against the generator */
    int bad = 0;
    for (size_t i = 0; i < n && bad < 5; i += 1 + tu_below(&r, 50)) {
      unsigned char v[8];
      int64_t id;
      tide_table_get(t2, 0, i, v, NULL);
      memcpy(&id, v, 8);
      char want[64];
      snprintf(want, sizeof want, "%lld.%03d", (long long)(vals[i] / 1000),
               (int)llabs(vals[i] % 1000));
      double wd = strtod(want, NULL), gd;
      tide_table_get(t2, 2, i, v, NULL);
      memcpy(&gd, v, 8);
      const char *nm = tu_cell(t2, "name", i);
      const char *wn = kinds[i] == 0   ? "multi\nline, \"quoted\""
                       : kinds[i] == 1 ? ""
                       : kinds[i] == 2 ? "null"
                       : kinds[i] == 4 ? "a\r\nb"
                                       : NULL;
      char nb[64];
      if (!wn) {
        snprintf(nb, sizeof nb, "n%zu", i % 97);
        wn = nb;
      }
      bool ok = id == (int64_t)i && memcmp(&wd, &gd, 8) == 0 && strcmp(nm, wn) == 0;
      if (!ok) {
        bad++;
        CHECK_MSG(ok, "row %zu: id %lld val %.17g name '%s' (want '%s')", i, (long long)id, gd, nm,
                  wn);
      }
    }
    CHECK_CELL(t2, "late", n - 5, "oops");
    CHECK(coltype(t2, "mix") == TIDE_F64);
    CHECK(tu_cell_f64(t2, "mix", 7) == 7.0);
    CHECK(tu_cell_f64(t2, "mix", n - 1) == (double)(n - 1) + 0.5);
    CHECK(coltype(t2, "sparse") == TIDE_I64);
    CHECK(coltype(t1, "u") == TIDE_STRING); /* 100000 distinct > 65536 */
    CHECK(coltype(t2, "u") == TIDE_STRING);
    CHECK_CELL(t2, "u", n - 1, "u49999");
    CHECK_CELL(t2, "sparse", 3, "null");
    CHECK(tu_cell_f64(t2, "sparse", n - 1) == (double)(n - 1));
    CHECK_CELL(t2, "late", 14, "1");
  }
  tide_table_free(t1);
  tide_table_free(t2);
  free(buf);
  free(vals);
  free(kinds);
}

/* Quoted fields far longer than a parse range, full of newlines, quotes and
 * delimiters: range splits fall inside quotes, some ranges hold no record. */
static void test_long_fields(void) {
  size_t big = 300000, rows = 60;
  size_t cap = rows * (big * 2 + 64) + 64;
  char *buf = malloc(cap);
  size_t o = (size_t)sprintf(buf, "k,text,v\n");
  for (size_t i = 0; i < rows; i++) {
    o += (size_t)sprintf(buf + o, "%zu,", i);
    if (i % 3 == 0) {
      buf[o++] = '"';
      for (size_t j = 0; j < big; j++) {
        char ch = "ab\n,\"\r"[(i + j) % 6];
        if (ch == '"') buf[o++] = '"';
        buf[o++] = ch;
      }
      buf[o++] = '"';
    } else {
      o += (size_t)sprintf(buf + o, "short%zu", i);
    }
    o += (size_t)sprintf(buf + o, ",%zu\n", i * 10);
  }
  tide_error err;
  tide_csv_options_t opt;
  tide_csv_options_init(&opt);
  opt.nthreads = 1;
  tide_table_t *a = tide_read_csv_buffer(buf, o, "long", &opt, &err);
  CHECK_OK_PTR(a, err);
  opt.nthreads = 3;
  tide_table_t *b = tide_read_csv_buffer(buf, o, "long", &opt, &err);
  CHECK_OK_PTR(b, err);
  if (a && b) {
    CHECK(tide_table_size(a) == rows);
    CHECK_TABLES(a, b, 0);
    CHECK_CELL(b, "v", rows - 1, "590");
    unsigned char v[8];
    CHECK(tide_table_get(b, 1, 3, v, NULL) == TIDE_OK);
    const char *str = *(const char **)v;
    bool ok = str && strlen(str) == big;
    for (size_t j = 0; ok && j < big; j++) ok = str[j] == "ab\n,\"\r"[(3 + j) % 6];
    CHECK_MSG(ok, "long field content");
  }
  tide_table_free(a);
  tide_table_free(b);
  free(buf);
}

/* Review findings: hostile inputs. */
static void expect_error_n(const char *text, size_t len, tide_status st, const char *needle) {
  tide_error err;
  tide_error_clear(&err);
  tide_table_t *t = tide_read_csv_buffer(text, len, "t.csv", NULL, &err);
  CHECK_MSG(t == NULL, "expected failure for <%.*s>", (int)len, text);
  tide_table_free(t);
  CHECK_MSG(err.status == st, "status %s (%s), expected %s", tide_status_str(err.status), err.msg,
            tide_status_str(st));
  CHECK_MSG(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
}

static void test_hostile(void) {
  /* the last record straddles a range boundary (a long last line): every
   * range that ends at the end of the input holds the final record */
  size_t rows = 20000, big = 200000;
  char *buf = malloc(rows * 16 + big + 64);
  size_t o = (size_t)sprintf(buf, "k,s\n");
  for (size_t i = 0; i < rows; i++) o += (size_t)sprintf(buf + o, "%zu,x%zu\n", i, i % 5);
  o += (size_t)sprintf(buf + o, "%zu,", rows);
  memset(buf + o, 'y', big);
  o += big;
  tide_error err;
  tide_csv_options_t opt;
  tide_csv_options_init(&opt);
  for (int th = 1; th <= 8; th *= 2) {
    opt.nthreads = th;
    tide_table_t *t = tide_read_csv_buffer(buf, o, "long_last", &opt, &err);
    CHECK_OK_PTR(t, err);
    if (t) {
      CHECK_MSG(tide_table_size(t) == rows + 1, "threads %d: %llu rows", th,
                (unsigned long long)tide_table_size(t));
      tide_table_free(t);
    }
  }
  /* one wide record (no newline) with duplicate names */
  size_t ncols = 6000;
  o = 0;
  for (size_t c = 0; c < ncols; c++)
    o += (size_t)sprintf(buf + o, "%sc%zu", c ? "," : "", c % 3000);
  buf[o++] = '\n';
  for (size_t c = 0; c < ncols; c++) o += (size_t)sprintf(buf + o, "%s%zu", c ? "," : "", c);
  opt.nthreads = 4;
  tide_table_t *t = tide_read_csv_buffer(buf, o, "wide", &opt, &err);
  CHECK_OK_PTR(t, err);
  if (t) {
    CHECK(tide_table_size(t) == 1 && tide_table_ncols(t) == ncols);
    if (tide_table_ncols(t) == ncols) {
      CHECK(strcmp(tide_table_col_name(t, 2999), "c2999") == 0);
      CHECK_MSG(strcmp(tide_table_col_name(t, 3000), "c0_2") == 0, "%s",
                tide_table_col_name(t, 3000));
      CHECK_CELL(t, "c2999_2", 0, "5999");
    }
    tide_table_free(t);
  }
  free(buf);
  /* a header a_2 after two a's keeps its name; the second a takes a_3 */
  t = rd("a,a,a_2,a_3\n1,2,3,4\n", NULL, &err);
  CHECK_OK_PTR(t, err);
  if (t) {
    const char *want[] = {"a", "a_4", "a_2", "a_3"};
    for (size_t c = 0; c < 4; c++)
      CHECK_MSG(strcmp(tide_table_col_name(t, c), want[c]) == 0, "name %zu: %s", c,
                tide_table_col_name(t, c));
    tide_table_free(t);
  }
  /* NUL bytes would silently truncate strings: an error naming the line */
  expect_error_n("a,b\n1,x\0y\n2,z\n", 14, TIDE_ERR_CSV, "t.csv:2: NUL byte");
  expect_error_n("a\0,b\n1,2\n", 9, TIDE_ERR_CSV, "t.csv:1: NUL byte");
  /* old Mac line ends (CR only) would read as one header line */
  expect_error("a,b\r1,2\r3,4\r", NULL, TIDE_ERR_CSV, "t.csv:1: bare CR");
  /* a quoted CR in the header is fine */
  t = rd("\"a\rx\",b\n1,2\n", NULL, &err);
  CHECK_OK_PTR(t, err);
  tide_table_free(t);
}

/* Every allocation failure gives NULL / TIDE_ERR_NOMEM, never a crash or a
 * leak (ASan checks leaks at exit); with no failure the result is right. */
static void test_oom(void) {
  const char *text =
      "s,y,i,d,t,q\n"
      "abc,k1,1,1.5,2020-01-01,\"x\"\"y\"\n"
      "def,k1,2,x,2020-01-02,\"a\nb\"\n"
      "ghi,k2,,2.5,,\n"
      "abc,k1,4,3,2020-01-04,z\n";
  tide_csv_options_t opt;
  tide_csv_options_init(&opt);
  opt.nthreads = 1;
  const char *names[] = {"i"};
  tide_type_t types[] = {TIDE_I32};
  opt.ntypes = 1;
  opt.type_names = names;
  opt.types = types;
  bool done = false;
  int failures = 0;
  for (long k = 0; k < 2000 && !done; k++) {
    tide_error err;
    tide_error_clear(&err);
    tu_oom_arm(k); /* the k-th allocation from now fails */
    tide_table_t *t = rd(text, &opt, &err);
    char *buf = NULL;
    size_t len = 0;
    tide_status wst = TIDE_OK;
    if (t) {
      /* also inject into the writer */
      FILE *fp = open_memstream(&buf, &len);
      wst = tide_write_csv_stream(t, fp, &err);
      fclose(fp);
    }
    tu_oom_disarm();
    if (!t) {
      failures++;
      CHECK_MSG(err.status == TIDE_ERR_NOMEM, "k=%ld: %s", k, err.msg);
    } else if (wst != TIDE_OK) {
      CHECK_MSG(wst == TIDE_ERR_NOMEM, "k=%ld: write %s", k, err.msg);
    } else {
      done = true;
      CHECK(tide_table_size(t) == 4);
      CHECK(coltype(t, "d") == TIDE_STRING);
      CHECK(coltype(t, "i") == TIDE_I32);
      CHECK_CELL(t, "q", 1, "a\nb");
      CHECK(buf && strstr(buf, "\"a\nb\"") != NULL);
    }
    free(buf);
    tide_table_free(t);
  }
  CHECK(done);
  CHECK(failures > 10);
}

/* Random CSV texts (quoted fields with newlines, CRLF, blank lines, long
 * fields, mixed types, sometimes a malformed record): the parallel parse
 * must give exactly the serial result, table or error. */
static void test_fuzz_parallel(uint64_t seed) {
  static const char *const toks[] = {"",         "1",      "-2",          "3.5",     "1e3",
                                     "abc",      "x y",    "\"q,\"\"x\"", "\"a\nb\"", "true",
                                     "2020-01-01", "\"\"", "\"\r\n,\"",   "a\rb",    "nan"};
  const size_t ntok = sizeof toks / sizeof toks[0];
  tu_rng r = {seed ^ 0xF022};
  size_t cap = 1 << 20;
  char *buf = malloc(cap);
  tide_csv_options_t opt;
  tide_csv_options_init(&opt);
  for (int iter = 0; iter < 24; iter++) {
    size_t ncols = 1 + tu_below(&r, 4), o = 0;
    size_t target = 150000 + tu_below(&r, 300000);
    bool crlf = tu_below(&r, 3) == 0;
    for (size_t c = 0; c < ncols; c++) o += (size_t)sprintf(buf + o, "%sh%zu", c ? "," : "", c);
    o += (size_t)sprintf(buf + o, crlf ? "\r\n" : "\n");
    /* a column keeps one flavour most of the time, so types vary per column */
    size_t flavour[8];
    for (size_t c = 0; c < ncols; c++) flavour[c] = tu_below(&r, ntok);
    size_t bad_row = tu_below(&r, 4) == 0 ? tu_below(&r, 3000) : SIZE_MAX, row = 0;
    while (o < target) {
      size_t nf = row++ == bad_row ? ncols + 1 : ncols;
      if (ncols > 1 && tu_below(&r, 200) == 0) o += (size_t)sprintf(buf + o, "\n");
      for (size_t c = 0; c < nf; c++) {
        if (c) buf[o++] = ',';
        size_t k = tu_below(&r, 50) ? flavour[c % ncols] : tu_below(&r, ntok);
        if (tu_below(&r, 3000) == 0) {
          size_t l = 1000 + tu_below(&r, 90000);
          memset(buf + o, 'L', l);
          o += l;
        } else {
          o += (size_t)sprintf(buf + o, "%s", toks[k]);
        }
      }
      o += (size_t)sprintf(buf + o, crlf ? "\r\n" : "\n");
      if (o + 100000 > cap) break;
    }
    if (tu_below(&r, 2)) o -= crlf ? 2 : 1; /* no final newline */
    tide_error e1, e4;
    tide_error_clear(&e1);
    tide_error_clear(&e4);
    opt.nthreads = 1;
    tide_table_t *a = tide_read_csv_buffer(buf, o, "fz", &opt, &e1);
    opt.nthreads = 4;
    tide_table_t *b = tide_read_csv_buffer(buf, o, "fz", &opt, &e4);
    CHECK_MSG((a == NULL) == (b == NULL), "iter %d: serial %s, parallel %s", iter,
              a ? "ok" : e1.msg, b ? "ok" : e4.msg);
    if (getenv("TIDE_TEST_VERBOSE"))
      fprintf(stderr, "fuzz %d: %zu bytes, %zu cols, bad row %zu of %zu: %s\n", iter, o, ncols,
              bad_row, row, a ? "ok" : e1.msg);
    if (a && b) {
      CHECK_TABLES(a, b, 0);
    } else if (!a && !b) {
      CHECK_MSG(strcmp(e1.msg, e4.msg) == 0, "iter %d: '%s' vs '%s'", iter, e1.msg, e4.msg);
    }
    tide_table_free(a);
    tide_table_free(b);
  }
  free(buf);
}

/* The writer's per-thread workspace is bounded whatever the column count:
 * any single allocation over 32 MiB fails here, and writing a 6000-column
 * table must still work (a full chunk per column would need ~300 MiB). */
static void *cap_malloc(size_t n) { return n > (32u << 20) ? NULL : malloc(n); }
static void *cap_calloc(size_t c, size_t n) {
  return c && n > (32u << 20) / c ? NULL : calloc(c, n);
}
static void *cap_realloc(void *p, size_t n) { return n > (32u << 20) ? NULL : realloc(p, n); }
static void *cap_aligned(size_t a, size_t n) {
  void *p = NULL;
  if (n > (32u << 20) || posix_memalign(&p, a < sizeof(void *) ? sizeof(void *) : a, n ? n : 1))
    return NULL;
  return p;
}

static void test_wide_write(void) {
  size_t ncols = 6000, rows = 100; /* several blocks of rows */
  char *text = malloc(ncols * 16 * (rows + 1) + 16);
  size_t o = 0;
  for (size_t c = 0; c < ncols; c++) o += (size_t)sprintf(text + o, "%sc%zu", c ? "," : "", c);
  text[o++] = '\n';
  for (size_t r = 0; r < rows; r++) {
    for (size_t c = 0; c < ncols; c++)
      o += (size_t)sprintf(text + o, "%s%zu.5", c ? "," : "", c * 10 + r);
    text[o++] = '\n';
  }
  tide_error err;
  tide_table_t *t = tide_read_csv_buffer(text, o, "wide", NULL, &err);
  CHECK_OK_PTR(t, err);
  if (t) {
    tide_memory_hooks hooks = {cap_malloc, cap_calloc, cap_realloc, free, cap_aligned, free};
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    tide_set_memory_hooks(&hooks);
    tide_status st = tide_write_csv_stream(t, fp, &err);
    tide_set_memory_hooks(NULL);
    fclose(fp);
    CHECK_OK(st, err);
    CHECK_MSG(st != TIDE_OK || (len == o && memcmp(buf, text, o) == 0),
              "wide write differs (%zu vs %zu bytes)", len, o);
    free(buf);
    tide_table_free(t);
  }
  free(text);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Run one test; TIDE_TEST_TIMES=1 prints its duration. */
#define RUN(call)                                                                           \
  do {                                                                                      \
    double t0_ = now_s();                                                                   \
    call;                                                                                   \
    if (getenv("TIDE_TEST_TIMES")) fprintf(stderr, "%-28s %.3f s\n", #call, now_s() - t0_); \
  } while (0)

int main(void) {
  uint64_t seed = tu_seed(20261121);
  RUN(test_inference());
  RUN(test_inference_ranges());
  RUN(test_explicit());
  RUN(test_quoting());
  RUN(test_line_ends());
  RUN(test_files());
  RUN(test_errors());
  RUN(test_names());
  RUN(test_symbols());
  RUN(test_write_format());
  RUN(test_write_doubles(seed));
  RUN(test_int_doubles());
  for (uint64_t k = 0; k < 3; k++) RUN(test_round_trip(seed + k));
  RUN(test_parallel(seed));
  RUN(test_long_fields());
  RUN(test_hostile());
  RUN(test_wide_write());
  RUN(test_fuzz_parallel(seed));
  RUN(test_oom());
  if (tu_failures) fprintf(stderr, "seed %llu\n", (unsigned long long)seed);
  return tu_finish("test_csv");
}
