/*
 * Tests of sort / sort_descending / sort_ex, head / tail and merge
 * (ops/sort.c, ops/rows.c) against naive references written here: a stable
 * merge sort of row indices with a per-type comparator (nulls smallest, NaN
 * largest, -0.0 == 0.0, strings and symbols by strcmp), and plain array
 * concatenation for merge. Every table carries an Id column (its row
 * number), so the checks see the exact permutation, stability included.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>

#include "testutil.h"

static uint64_t g_seed;

/* ----------------------------------------------------------- test data */

enum { C_ID, C_I, C_J, C_D, C_F, C_SYM, C_STR, C_TS, C_B, C_I8, C_I16, NCOL };
static const char *NAMES[NCOL] = {"Id", "I", "J", "D", "F", "Sym", "Str", "Ts", "B", "S8", "S16"};
static const tide_type_t TYPES[NCOL] = {TIDE_I64,  TIDE_I32,    TIDE_I64,    TIDE_F64,
                                        TIDE_F32,  TIDE_SYMBOL, TIDE_STRING, TIDE_TS,
                                        TIDE_BOOL, TIDE_I8,     TIDE_I16};

static const char *POOL[] = {"MSFT", "AAPL", "IBM", "", "GOOG", "aapl", "AAP", "zeta", "Z"};
#define NPOOL (sizeof POOL / sizeof POOL[0])

typedef struct data_t {
  size_t n;
  int64_t *id, *j, *ts;
  int32_t *i;
  double *d;
  float *f;
  const char **sym, **str;
  int8_t *b, *i8;
  int16_t *i16;
} data_t;

static void data_alloc(data_t *x, size_t n) {
  size_t m = n ? n : 1;
  x->n = n;
  x->id = malloc(m * 8), x->j = malloc(m * 8), x->ts = malloc(m * 8);
  x->i = malloc(m * 4);
  x->d = malloc(m * 8);
  x->f = malloc(m * 4);
  x->sym = malloc(m * sizeof(char *)), x->str = malloc(m * sizeof(char *));
  x->b = malloc(m), x->i8 = malloc(m);
  x->i16 = malloc(m * 2);
}

static void data_free(data_t *x) {
  free(x->id), free(x->j), free(x->ts), free(x->i), free(x->d), free(x->f);
  free(x->sym), free(x->str), free(x->b), free(x->i8), free(x->i16);
}

static void gen(tu_rng *r, data_t *x, size_t n, int pool) {
  data_alloc(x, n);
  for (size_t k = 0; k < n; k++) {
    bool null = tu_below(r, 8) == 0;
    x->id[k] = (int64_t)k;
    x->i[k] = tu_below(r, 10) == 0 ? TIDE_NULL_I32 : (int32_t)tu_below(r, 7) - 3;
    x->j[k] = null ? TIDE_NULL_I64 : (int64_t)tu_next(r) >> (tu_below(r, 2) ? 1 : 50);
    if (x->j[k] == INT64_MIN) x->j[k] = 0;
    double d;
    uint64_t c = tu_below(r, 14);
    if (c == 0)
      d = NAN;
    else if (c == 1)
      d = -0.0;
    else if (c == 2)
      d = 0.0;
    else if (c == 3)
      d = -INFINITY;
    else if (c == 4)
      d = INFINITY;
    else if (c == 5)
      d = TIDE_NULL_F64;
    else if (c < 9)
      d = (double)((int)tu_below(r, 5) - 2);
    else
      d = (tu_unit(r) - 0.5) * 1000;
    x->d[k] = d;
    x->f[k] = tu_below(r, 9) == 0   ? TIDE_NULL_F32
              : tu_below(r, 9) == 0 ? NAN
                                    : (float)((int)tu_below(r, 50) - 25) * 0.25f;
    x->sym[k] = tu_below(r, 9) == 0 ? NULL : POOL[tu_below(r, (uint64_t)pool)];
    x->str[k] = tu_below(r, 9) == 0 ? NULL : POOL[tu_below(r, NPOOL)];
    x->ts[k] = tu_below(r, 9) == 0
                   ? TIDE_NULL_TS
                   : 1700000000000000000LL + (int64_t)tu_below(r, 1000) * 1000000000LL;
    x->b[k] = tu_below(r, 6) == 0 ? TIDE_NULL_BOOL : (int8_t)tu_below(r, 2);
    x->i8[k] = tu_below(r, 9) == 0 ? TIDE_NULL_I8 : (int8_t)((int)tu_below(r, 200) - 100);
    x->i16[k] = tu_below(r, 9) == 0 ? TIDE_NULL_I16 : (int16_t)((int)tu_below(r, 60000) - 30000);
  }
}

/* Table of the rows perm[0..m) of x (all rows when perm is NULL). */
static tide_table_t *make_table(const data_t *x, const uint64_t *perm, size_t m) {
  data_t y;
  data_alloc(&y, m);
  for (size_t k = 0; k < m; k++) {
    size_t s = perm ? perm[k] : k;
    y.id[k] = x->id[s], y.i[k] = x->i[s], y.j[k] = x->j[s], y.d[k] = x->d[s], y.f[k] = x->f[s];
    y.sym[k] = x->sym[s], y.str[k] = x->str[s], y.ts[k] = x->ts[s], y.b[k] = x->b[s];
    y.i8[k] = x->i8[s], y.i16[k] = x->i16[s];
  }
  const void *cols[NCOL] = {y.id, y.i, y.j, y.d, y.f, y.sym, y.str, y.ts, y.b, y.i8, y.i16};
  tide_table_t *t = tu_table(m, NCOL, NAMES, TYPES, cols);
  data_free(&y);
  return t;
}

/* ------------------------------------------------------ naive reference */

static int cmp_num(double x, double y, bool xnull, bool ynull, bool flt) {
  if (xnull || ynull) return xnull && ynull ? 0 : xnull ? -1 : 1;
  if (flt) {
    bool xq = isnan(x), yq = isnan(y);
    if (xq || yq) return xq && yq ? 0 : xq ? 1 : -1;
  }
  return x < y ? -1 : x > y ? 1 : 0;
}

static int cmp_int(int64_t x, int64_t y, int64_t nullv) {
  if (x == nullv || y == nullv) return x == y ? 0 : x == nullv ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

static int cmp_str(const char *x, const char *y) {
  if (!x || !y) return !x && !y ? 0 : !x ? -1 : 1;
  int c = strcmp(x, y);
  return c < 0 ? -1 : c > 0;
}

static int cmp_col(const data_t *x, int col, size_t a, size_t b) {
  switch (col) {
    case C_ID: return cmp_int(x->id[a], x->id[b], INT64_MIN);
    case C_I: return cmp_int(x->i[a], x->i[b], INT32_MIN);
    case C_J: return cmp_int(x->j[a], x->j[b], INT64_MIN);
    case C_D: return cmp_num(x->d[a], x->d[b], x->d[a] == -DBL_MAX, x->d[b] == -DBL_MAX, true);
    case C_F: return cmp_num(x->f[a], x->f[b], x->f[a] == -FLT_MAX, x->f[b] == -FLT_MAX, true);
    case C_SYM: return cmp_str(x->sym[a], x->sym[b]);
    case C_STR: return cmp_str(x->str[a], x->str[b]);
    case C_TS: return cmp_int(x->ts[a], x->ts[b], INT64_MIN);
    case C_B: return cmp_int(x->b[a], x->b[b], INT8_MIN);
    case C_I8: return cmp_int(x->i8[a], x->i8[b], INT8_MIN);
    case C_I16: return cmp_int(x->i16[a], x->i16[b], INT16_MIN);
    default: abort();
  }
}

typedef struct spec_t {
  int cols[6];
  bool desc[6];
  size_t n;
} spec_t;

static int cmp_rows(const data_t *x, const spec_t *s, uint64_t a, uint64_t b) {
  for (size_t k = 0; k < s->n; k++) {
    int c = cmp_col(x, s->cols[k], a, b);
    if (c) return s->desc[k] ? -c : c;
  }
  return 0;
}

/* Stable top-down merge sort of rows[0..n). */
static void ref_sort(const data_t *x, const spec_t *s, uint64_t *rows, uint64_t *tmp, size_t n) {
  if (n < 2) return;
  size_t h = n / 2;
  ref_sort(x, s, rows, tmp, h);
  ref_sort(x, s, rows + h, tmp, n - h);
  size_t i = 0, j = h, o = 0;
  while (i < h && j < n) tmp[o++] = cmp_rows(x, s, rows[j], rows[i]) < 0 ? rows[j++] : rows[i++];
  while (i < h) tmp[o++] = rows[i++];
  while (j < n) tmp[o++] = rows[j++];
  memcpy(rows, tmp, n * sizeof *rows);
}

/* Id column of t (all rows, by position) into out. */
static void read_ids(const tide_table_t *t, int64_t *out) {
  uint64_t n = tide_table_size(t);
  for (uint64_t p = 0; p < n; p++) tide_table_get(t, C_ID, p, &out[p], NULL);
}

static void describe(const spec_t *s, char *buf, size_t cap) {
  size_t o = 0;
  for (size_t k = 0; k < s->n && o < cap; k++)
    o += (size_t)snprintf(buf + o, cap - o, "%s%s%s", k ? "," : "", NAMES[s->cols[k]],
                          s->desc[k] ? " desc" : "");
}

/* Sort t (whose rows are x's rows `rows`, in order) by s and check the
 * exact permutation and every column. */
static void check_sort(const data_t *x, tide_table_t *t, const uint64_t *rows, size_t m,
                       const spec_t *s, int api, bool full) {
  const char *cols[6];
  for (size_t k = 0; k < s->n; k++) cols[k] = NAMES[s->cols[k]];
  spec_t sp = *s;
  tide_error err;
  tide_table_t *out;
  if (api == 0) {
    out = tide_sort_ex(t, cols, sp.desc, sp.n, &err);
  } else if (api == 1) {
    for (size_t k = 0; k < sp.n; k++) sp.desc[k] = false;
    out = tide_sort(t, cols, sp.n, &err);
  } else {
    for (size_t k = 0; k < sp.n; k++) sp.desc[k] = true;
    out = tide_sort_descending(t, cols, sp.n, &err);
  }
  char what[256];
  describe(&sp, what, sizeof what);
  CHECK_OK_PTR(out, err);
  if (!out) return;
  uint64_t *want = malloc((m + 1) * 8), *tmp = malloc((m + 1) * 8);
  memcpy(want, rows, m * 8);
  ref_sort(x, &sp, want, tmp, m);
  int64_t *got = malloc((m + 1) * 8);
  CHECK(tide_table_size(out) == m);
  CHECK(tide_rowset_is_range(tide_table_rowset(out)) &&
        (m == 0 || tide_rowset_first(tide_table_rowset(out)) == 0));
  if (tide_table_size(out) == m) {
    read_ids(out, got);
    size_t bad = m;
    for (size_t k = 0; k < m && bad == m; k++)
      if ((uint64_t)got[k] != want[k]) bad = k;
    CHECK_MSG(bad == m, "seed %llu: sort by %s (%zu rows): first wrong row %zu",
              (unsigned long long)g_seed, what, m, bad);
    if (full) {
      tide_table_t *exp = make_table(x, want, m);
      CHECK_TABLES(out, exp, 0);
      tide_table_free(exp);
    }
  }
  free(want);
  free(tmp);
  free(got);
  tide_table_free(out);
}

static void random_spec(tu_rng *r, spec_t *s) {
  s->n = 1 + tu_below(r, 4);
  for (size_t k = 0; k < s->n; k++) {
    s->cols[k] = 1 + (int)tu_below(r, NCOL - 1);
    s->desc[k] = tu_below(r, 2);
  }
}

/* ---------------------------------------------------------------- sorts */

static void test_sort_random(tu_rng *r) {
  size_t sizes[] = {0, 1, 2, 3, 50, 1000, 5000};
  for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
    data_t x;
    size_t n = sizes[si];
    gen(r, &x, n, NPOOL);
    tide_table_t *t = make_table(&x, NULL, n);
    uint64_t *rows = malloc((n + 1) * 8);
    for (size_t k = 0; k < n; k++) rows[k] = k;
    int reps = n < 100 ? 10 : 25;
    for (int rep = 0; rep < reps; rep++) {
      spec_t s;
      random_spec(r, &s);
      check_sort(&x, t, rows, n, &s, (int)tu_below(r, 3), rep < 4);
    }
    /* Every column alone, both directions. */
    for (int c = 1; c < NCOL; c++)
      for (int desc = 0; desc < 2; desc++) {
        spec_t s = {{c}, {desc}, 1};
        check_sort(&x, t, rows, n, &s, 0, c == C_STR || c == C_SYM);
      }
    free(rows);
    tide_table_free(t);
    data_free(&x);
  }
}

/* A where-like table: a sparse RowSet over a flat table's sources. */
static tide_table_t *sparse_of(tide_table_t *flat, tu_rng *r, uint64_t *keys, size_t *m) {
  uint64_t n = tide_table_size(flat);
  size_t k = 0;
  for (uint64_t i = 0; i < n; i++)
    if (tu_below(r, 3) != 0) keys[k++] = i;
  *m = k;
  /* Keys given out of order: from_keys sorts them. */
  uint64_t *shuf = malloc((k + 1) * 8);
  for (size_t i = 0; i < k; i++) shuf[i] = keys[k - 1 - i];
  tide_rowset_t *rs = tide_rowset_from_keys(shuf, k);
  free(shuf);
  size_t nc = tide_table_ncols(flat);
  const char *names[NCOL];
  tide_source_t *srcs[NCOL];
  for (size_t c = 0; c < nc; c++) {
    names[c] = tide_table_col_name(flat, c);
    srcs[c] = tide_table_col_source(flat, c);
  }
  tide_error err;
  tide_table_t *t = tide_table_create(rs, nc, names, srcs, &err);
  CHECK_OK_PTR(t, err);
  tide_rowset_free(rs);
  return t;
}

static void test_sort_sparse(tu_rng *r) {
  data_t x;
  size_t n = 3000;
  gen(r, &x, n, NPOOL);
  tide_table_t *flat = make_table(&x, NULL, n);
  uint64_t *keys = malloc(n * 8);
  size_t m;
  tide_table_t *t = sparse_of(flat, r, keys, &m);
  if (t) {
    CHECK(!tide_rowset_is_range(tide_table_rowset(t)));
    for (int rep = 0; rep < 12; rep++) {
      spec_t s;
      random_spec(r, &s);
      check_sort(&x, t, keys, m, &s, (int)tu_below(r, 3), rep < 3);
    }
    /* Sorting a sorted (redirected) table composes the redirections. */
    const char *byd[] = {"D"}, *byi[] = {"I", "Sym"};
    tide_error err;
    tide_table_t *s1 = tide_sort(t, byd, 1, &err);
    CHECK_OK_PTR(s1, err);
    bool desc2[] = {true, false};
    tide_table_t *s2 = s1 ? tide_sort_ex(s1, byi, desc2, 2, &err) : NULL;
    CHECK_OK_PTR(s2, err);
    if (s2) {
      spec_t sd = {{C_D}, {false}, 1}, si = {{C_I, C_SYM}, {true, false}, 2};
      uint64_t *want = malloc((m + 1) * 8), *tmp = malloc((m + 1) * 8);
      memcpy(want, keys, m * 8);
      ref_sort(&x, &sd, want, tmp, m);
      ref_sort(&x, &si, want, tmp, m);
      tide_table_t *exp = make_table(&x, want, m);
      CHECK_TABLES(s2, exp, 0);
      tide_table_free(exp);
      free(want);
      free(tmp);
    }
    tide_table_free(s1);
    tide_table_free(s2);
  }
  tide_table_free(t);
  tide_table_free(flat);
  free(keys);
  data_free(&x);
}

/* Large enough for several morsels: the parallel paths, 1 vs 3 threads. */
static void test_sort_large(tu_rng *r) {
  data_t x;
  size_t n = 270000; /* three morsels */
  gen(r, &x, n, 4);
  tide_table_t *t = make_table(&x, NULL, n);
  uint64_t *rows = malloc(n * 8);
  for (size_t k = 0; k < n; k++) rows[k] = k;
  spec_t specs[] = {
      {{C_J}, {false}, 1},
      {{C_SYM, C_D, C_I}, {false, true, false}, 3},
      {{C_I, C_STR}, {true, false}, 2},
  };
  for (int threads = 1; threads <= 3; threads += 2) {
    tide_error err;
    CHECK_OK(tide_set_threads(threads, &err), err);
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++)
      check_sort(&x, t, rows, n, &specs[k], 0, false);
  }
  tide_set_threads(0, NULL);
  free(rows);
  tide_table_free(t);
  data_free(&x);
}

static void test_sort_errors(void) {
  tu_rng r = {1};
  data_t x;
  gen(&r, &x, 10, NPOOL);
  tide_table_t *t = make_table(&x, NULL, 10);
  tide_error err;
  const char *bad[] = {"I", "Nope"};
  tide_table_t *out = tide_sort(t, bad, 2, &err);
  CHECK(out == NULL);
  CHECK_MSG(strstr(err.msg, "sort") && strstr(err.msg, "Nope") && strstr(err.msg, "Sym"),
            "message: %s", err.msg);
  out = tide_sort_descending(t, NULL, 1, &err);
  CHECK(out == NULL && err.status != TIDE_OK);
  const char *withnull[] = {"I", NULL};
  out = tide_sort(t, withnull, 2, &err);
  CHECK(out == NULL && err.status != TIDE_OK);
  /* No sort columns: the same rows. */
  out = tide_sort(t, NULL, 0, &err);
  CHECK_OK_PTR(out, err);
  if (out) CHECK_TABLES(out, t, 0);
  tide_table_free(out);
  tide_table_free(t);
  data_free(&x);
}

/* ------------------------------------------------------------ head/tail */

static void check_slice(tide_table_t *t, const uint64_t *rows, size_t m, uint64_t k, bool head) {
  tide_error err;
  tide_table_t *out = head ? tide_head(t, k, &err) : tide_tail(t, k, &err);
  CHECK_OK_PTR(out, err);
  if (!out) return;
  uint64_t want = k < m ? k : m;
  CHECK_MSG(tide_table_size(out) == want, "%s(%llu) of %zu rows: %llu rows", head ? "head" : "tail",
            (unsigned long long)k, m, (unsigned long long)tide_table_size(out));
  if (tide_table_size(out) == want) {
    int64_t *got = malloc((want + 1) * 8);
    read_ids(out, got);
    size_t start = head ? 0 : m - want;
    bool ok = true;
    for (uint64_t p = 0; p < want; p++) ok &= (uint64_t)got[p] == rows[start + p];
    CHECK_MSG(ok, "%s(%llu) rows", head ? "head" : "tail", (unsigned long long)k);
    free(got);
  }
  for (size_t c = 0; c < tide_table_ncols(t); c++)
    CHECK(tide_table_col_source(out, c) == tide_table_col_source(t, c));
  tide_table_free(out);
}

static void test_head_tail(tu_rng *r) {
  data_t x;
  size_t n = 500;
  gen(r, &x, n, NPOOL);
  tide_table_t *flat = make_table(&x, NULL, n);
  uint64_t *rows = malloc(n * 8), *keys = malloc(n * 8);
  for (size_t k = 0; k < n; k++) rows[k] = k;
  size_t m;
  tide_table_t *sparse = sparse_of(flat, r, keys, &m);
  uint64_t ks[] = {0, 1, 7, 333, 499, 500, 501, 100000, UINT64_MAX};
  for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++)
    for (int head = 0; head < 2; head++) {
      check_slice(flat, rows, n, ks[i], head);
      if (sparse) check_slice(sparse, keys, m, ks[i], head);
    }
  /* Sorting a tail: a single range that does not start at 0. */
  {
    tide_error err;
    tide_table_t *tl = tide_tail(flat, 321, &err);
    CHECK_OK_PTR(tl, err);
    if (tl) {
      CHECK(tide_rowset_is_range(tide_table_rowset(tl)) &&
            tide_rowset_first(tide_table_rowset(tl)) == n - 321);
      spec_t s = {{C_I, C_D}, {false, true}, 2};
      check_sort(&x, tl, rows + (n - 321), 321, &s, 0, true);
    }
    tide_table_free(tl);
  }
  /* Empty table. */
  tide_table_t *e = make_table(&x, NULL, 0);
  check_slice(e, rows, 0, 5, true);
  check_slice(e, rows, 0, 5, false);
  tide_table_free(e);
  tide_table_free(sparse);
  tide_table_free(flat);
  free(rows);
  free(keys);
  data_free(&x);
}

/* ---------------------------------------------------------------- merge */

static void test_merge(tu_rng *r) {
  /* Three tables with different symbol dictionaries (different subsets of
   * the pool, interned in different orders), one sparse, one empty. */
  data_t a, b, c, all;
  gen(r, &a, 700, 3);
  gen(r, &b, 400, NPOOL);
  gen(r, &c, 900, 5);
  for (size_t k = 0; k < b.n; k++) b.id[k] += 700;
  for (size_t k = 0; k < c.n; k++) c.id[k] += 1100;
  tide_table_t *ta = make_table(&a, NULL, a.n), *tb = make_table(&b, NULL, b.n);
  tide_table_t *tc_flat = make_table(&c, NULL, c.n);
  uint64_t *ckeys = malloc(c.n * 8);
  size_t cm;
  tide_table_t *tc = sparse_of(tc_flat, r, ckeys, &cm);
  tide_table_t *te = make_table(&a, NULL, 0);
  /* Expected: a, b, then c's kept rows. */
  size_t total = a.n + b.n + cm;
  data_alloc(&all, total);
  uint64_t *perm = malloc(total * 8);
  const data_t *parts[] = {&a, &b, &c};
  size_t o = 0;
  for (int p = 0; p < 3; p++) {
    size_t cnt = p == 2 ? cm : parts[p]->n;
    for (size_t k = 0; k < cnt; k++, o++) {
      const data_t *s = parts[p];
      size_t i = p == 2 ? ckeys[k] : k;
      all.id[o] = s->id[i], all.i[o] = s->i[i], all.j[o] = s->j[i], all.d[o] = s->d[i];
      all.f[o] = s->f[i], all.sym[o] = s->sym[i], all.str[o] = s->str[i], all.ts[o] = s->ts[i];
      all.b[o] = s->b[i], all.i8[o] = s->i8[i], all.i16[o] = s->i16[i];
    }
  }
  tide_table_t *exp = make_table(&all, NULL, total);
  tide_error err;
  if (tc) {
    for (int threads = 1; threads <= 3; threads += 2) {
      tide_set_threads(threads, NULL);
      tide_table_t *in[] = {ta, te, tb, tc};
      tide_table_t *m = tide_merge(in, 4, &err);
      CHECK_OK_PTR(m, err);
      if (m) {
        CHECK_TABLES(m, exp, 0);
        CHECK(tide_rowset_is_range(tide_table_rowset(m)));
      }
      /* The merged table outlives its inputs' other references. */
      tide_table_free(m);
    }
    tide_set_threads(0, NULL);
  }
  /* Same dictionary everywhere: shared, not rebuilt. */
  {
    tide_table_t *in[] = {ta, ta, ta};
    tide_table_t *m = tide_merge(in, 3, &err);
    CHECK_OK_PTR(m, err);
    if (m) {
      CHECK(tide_table_size(m) == 3 * a.n);
      CHECK(tide_source_symtab(tide_table_col_source(m, C_SYM)) ==
            tide_source_symtab(tide_table_col_source(ta, C_SYM)));
      CHECK(strcmp(tu_cell(m, "Sym", a.n + 5), tu_cell(ta, "Sym", 5)) == 0);
      CHECK(strcmp(tu_cell(m, "Str", 2 * a.n + 9), tu_cell(ta, "Str", 9)) == 0);
    }
    tide_table_free(m);
  }
  /* STRING values stay valid after the inputs are gone. */
  {
    tide_table_t *x1 = make_table(&b, NULL, b.n), *x2 = make_table(&a, NULL, a.n);
    tide_table_t *in[] = {x1, x2};
    tide_table_t *m = tide_merge(in, 2, &err);
    CHECK_OK_PTR(m, err);
    tide_table_free(x1);
    tide_table_free(x2);
    if (m) {
      char want[64];
      snprintf(want, sizeof want, "%s", b.str[3] ? b.str[3] : "null");
      CHECK(strcmp(tu_cell(m, "Str", 3), want) == 0);
      snprintf(want, sizeof want, "%s", a.str[11] ? a.str[11] : "null");
      CHECK(strcmp(tu_cell(m, "Str", b.n + 11), want) == 0);
    }
    tide_table_free(m);
  }
  /* One table: an equal table; zero tables: an error. */
  {
    tide_table_t *in[] = {tb};
    tide_table_t *m = tide_merge(in, 1, &err);
    CHECK_OK_PTR(m, err);
    if (m) CHECK_TABLES(m, tb, 0);
    tide_table_free(m);
    CHECK(tide_merge(in, 0, &err) == NULL && err.status != TIDE_OK);
  }
  /* Mismatches name the table index and the column. */
  {
    const char *n2[] = {"Id", "I"};
    tide_type_t t2[] = {TIDE_I64, TIDE_I32}, t3[] = {TIDE_I64, TIDE_I64};
    const char *n4[] = {"Id", "K"}, *n5[] = {"Id"};
    tide_table_t *e2 = tide_table_create_empty(2, n2, t2, &err);
    tide_table_t *e3 = tide_table_create_empty(2, n2, t3, &err);
    tide_table_t *e4 = tide_table_create_empty(2, n4, t2, &err);
    tide_table_t *e5 = tide_table_create_empty(1, n5, t2, &err);
    tide_table_t *in1[] = {e2, e2, e3};
    CHECK(tide_merge(in1, 3, &err) == NULL);
    CHECK_MSG(strstr(err.msg, "merge") && strstr(err.msg, "table 2") && strstr(err.msg, "'I'"),
              "message: %s", err.msg);
    tide_table_t *in2[] = {e2, e4};
    CHECK(tide_merge(in2, 2, &err) == NULL);
    CHECK_MSG(strstr(err.msg, "table 1") && strstr(err.msg, "'K'"), "message: %s", err.msg);
    tide_table_t *in3[] = {e2, e5};
    CHECK(tide_merge(in3, 2, &err) == NULL);
    CHECK_MSG(strstr(err.msg, "table 1") && strstr(err.msg, "'I'"), "message: %s", err.msg);
    tide_table_t *in4[] = {e2, NULL};
    CHECK(tide_merge(in4, 2, &err) == NULL && strstr(err.msg, "table 1"));
    tide_table_t *in5[] = {ta, tb};
    tide_table_t *m = tide_merge(in5, 2, &err); /* valid: different dictionaries */
    CHECK_OK_PTR(m, err);
    tide_table_free(m);
    tide_table_free(e2);
    tide_table_free(e3);
    tide_table_free(e4);
    tide_table_free(e5);
  }
  /* Merged then sorted: symbols sort by string across merged dictionaries. */
  {
    tide_table_t *in[] = {ta, tb};
    tide_table_t *m = tide_merge(in, 2, &err);
    const char *by[] = {"Sym", "Id"};
    tide_table_t *s = m ? tide_sort(m, by, 2, &err) : NULL;
    CHECK_OK_PTR(s, err);
    if (s) {
      bool ok = true;
      for (uint64_t p = 1; p < tide_table_size(s); p++) {
        int32_t c0, c1;
        tide_table_get(s, C_SYM, p - 1, &c0, NULL);
        tide_table_get(s, C_SYM, p, &c1, NULL);
        const tide_symtab_t *st = tide_source_symtab(tide_table_col_source(s, C_SYM));
        ok &= cmp_str(tide_symtab_str(st, c0), tide_symtab_str(st, c1)) <= 0;
      }
      CHECK(ok);
    }
    tide_table_free(s);
    tide_table_free(m);
  }
  tide_table_free(exp);
  tide_table_free(ta);
  tide_table_free(tb);
  tide_table_free(tc);
  tide_table_free(tc_flat);
  tide_table_free(te);
  free(ckeys);
  free(perm);
  data_free(&a);
  data_free(&b);
  data_free(&c);
  data_free(&all);
}

/* Parallel merge of several morsels per input, 1 vs 3 threads. */
static void test_merge_large(tu_rng *r) {
  size_t n = 200000;
  int64_t *v = malloc(n * 8), *w = malloc(n * 8);
  for (size_t k = 0; k < n; k++) v[k] = (int64_t)k, w[k] = (int64_t)(tu_next(r) >> 1);
  const char *names[] = {"Id", "W"};
  tide_type_t types[] = {TIDE_I64, TIDE_I64};
  const void *c1[] = {v, w};
  tide_table_t *t = tu_table(n, 2, names, types, c1);
  for (int threads = 1; threads <= 3; threads += 2) {
    tide_set_threads(threads, NULL);
    tide_table_t *in[] = {t, t};
    tide_error err;
    tide_table_t *m = tide_merge(in, 2, &err);
    CHECK_OK_PTR(m, err);
    if (m) {
      int64_t *got = malloc(2 * n * 8);
      read_ids(m, got);
      bool ok = tide_table_size(m) == 2 * n;
      for (size_t k = 0; ok && k < 2 * n; k++) ok &= got[k] == (int64_t)(k % n);
      CHECK_MSG(ok, "large merge, %d threads", threads);
      free(got);
    }
    tide_table_free(m);
  }
  tide_set_threads(0, NULL);
  tide_table_free(t);
  free(v);
  free(w);
}

/* ------------------------------------------------------ out of memory */

/* Run op with the k-th allocation failing, for k = 0, 1, ... until it
 * succeeds: every failure must be a clean TIDE_ERR_NOMEM (ASan checks for
 * leaks and bad frees). */
static void oom_sweep(const char *what, tu_oom_op op, void *ctx, const tide_table_t *want) {
  tide_error err;
  tide_table_t *out = tu_oom_sweep(what, 100000, op, ctx, &err);
  if (out) {
    if (want) CHECK_TABLES(out, want, 0);
    tide_table_free(out);
    return;
  }
  if (err.status == TIDE_ERR_NOMEM) CHECK_MSG(false, "%s never succeeded", what);
}

typedef struct oom_ctx {
  tide_table_t *t, *u;
} oom_ctx;
static void *op_sort(void *c, tide_error *err) {
  const char *by[] = {"Sym", "D", "Str", "I"};
  bool desc[] = {false, true, false, true};
  return tide_sort_ex(((oom_ctx *)c)->t, by, desc, 4, err);
}
static void *op_merge(void *c, tide_error *err) {
  tide_table_t *in[] = {((oom_ctx *)c)->t, ((oom_ctx *)c)->u};
  return tide_merge(in, 2, err);
}
static void *op_head(void *c, tide_error *err) {
  return tide_head(((oom_ctx *)c)->t, 10, err);
}

static void test_oom(tu_rng *r) {
  tide_set_threads(1, NULL);
  data_t x, y;
  gen(r, &x, 300, NPOOL);
  gen(r, &y, 200, 4);
  oom_ctx c = {make_table(&x, NULL, x.n), make_table(&y, NULL, y.n)};
  tide_error err;
  tide_table_t *want_sort = op_sort(&c, &err), *want_merge = op_merge(&c, &err);
  tide_table_t *want_head = op_head(&c, &err);
  oom_sweep("sort", op_sort, &c, want_sort);
  oom_sweep("merge", op_merge, &c, want_merge);
  oom_sweep("head", op_head, &c, want_head);
  tide_table_free(want_sort);
  tide_table_free(want_merge);
  tide_table_free(want_head);
  tide_table_free(c.t);
  tide_table_free(c.u);
  data_free(&x);
  data_free(&y);
  tide_set_threads(0, NULL);
}

/* A table of more than 2^20 rows: the sort takes the MSD-first radix path
 * (doubles with nulls, NaN, +-0, infinities and many ties; ties keep
 * input order), at 1 and 2 threads. Then head_by / tail_by over the
 * sorted table, whose key columns are read through the sort's
 * redirection (head_by copies them once), against the naive reference:
 * per group the first (last) n rows in sorted order, groups in order of
 * first appearance. */
static void test_sort_msd_head_by(tu_rng *r) {
  data_t x;
  size_t n = ((size_t)1 << 20) + 4321;
  gen(r, &x, n, NPOOL);
  tide_table_t *t = make_table(&x, NULL, n);
  uint64_t *rows = malloc(n * 8), *want = malloc(n * 8), *tmp = malloc(n * 8);
  int64_t *got = malloc(n * 8);
  for (size_t k = 0; k < n; k++) rows[k] = k;
  spec_t sd = {{C_D}, {true}, 1};
  memcpy(want, rows, n * 8);
  ref_sort(&x, &sd, want, tmp, n);
  unsigned checked = 0;
  for (int threads = 1; threads <= 2; threads++) {
    tide_error err;
    CHECK_OK(tide_set_threads(threads, &err), err);
    const char *dcol[] = {"D"};
    tide_table_t *st = tide_sort_descending(t, dcol, 1, &err);
    CHECK_OK_PTR(st, err);
    if (!st) break;
    CHECK(tide_table_size(st) == n);
    if (tide_table_size(st) == n) {
      read_ids(st, got);
      size_t bad = n;
      for (size_t k = 0; k < n && bad == n; k++)
        if ((uint64_t)got[k] != want[k]) bad = k;
      CHECK_MSG(bad == n, "seed %llu: sort_descending(D) of %zu rows at %d threads: first wrong row %zu",
                (unsigned long long)g_seed, n, threads, bad);
    }
    /* group keys: I (int32, 7 values + null), Sym (symbol + null) */
    int keycols[] = {C_I, C_SYM};
    for (int kc = 0; kc < 2; kc++) {
      for (int tail = 0; tail < 2; tail++) {
        uint64_t keep = tail ? 3 : 2;
        const char *by[] = {NAMES[keycols[kc]]};
        tide_table_t *hb = tail ? tide_tail_by(st, keep, by, 1, &err) : tide_head_by(st, keep, by, 1, &err);
        CHECK_OK_PTR(hb, err);
        if (!hb) continue;
        /* reference: group index of each sorted row (by first appearance) */
        enum { MAXG = 64 };
        int64_t gkey[MAXG];
        const char *gsym[MAXG];
        size_t ng = 0;
        uint64_t cnt[MAXG] = {0}, seen[MAXG] = {0};
        uint32_t *gid = malloc(n * sizeof *gid);
        for (size_t k = 0; k < n; k++) {
          size_t row = want[k], g = 0;
          for (; g < ng; g++)
            if (kc == 0 ? gkey[g] == x.i[row]
                        : (gsym[g] == x.sym[row] || (gsym[g] && x.sym[row] && !strcmp(gsym[g], x.sym[row]))))
              break;
          if (g == ng) {
            gkey[ng] = x.i[row];
            gsym[ng] = x.sym[row];
            ng++;
          }
          gid[k] = (uint32_t)g;
          cnt[g]++;
        }
        size_t m = 0;
        for (size_t g = 0; g < ng; g++)
          for (size_t k = 0; k < n; k++) {
            if (gid[k] != g) continue;
            uint64_t rank = seen[g]++;
            bool take = tail ? rank + keep >= cnt[g] : rank < keep;
            if (take) tmp[m++] = want[k];
          }
        CHECK_MSG(tide_table_size(hb) == m, "%s(%llu) by %s: %llu rows, want %zu", tail ? "tail_by" : "head_by",
                  (unsigned long long)keep, by[0], (unsigned long long)tide_table_size(hb), m);
        if (tide_table_size(hb) == m) {
          int id = tide_table_col_index(hb, "Id");
          bool ok = id >= 0;
          for (size_t p = 0; p < m && ok; p++) {
            tide_table_get(hb, (size_t)id, p, &got[p], NULL);
            ok = (uint64_t)got[p] == tmp[p];
          }
          CHECK_MSG(ok, "%s by %s over a sorted table (%d threads): rows differ", tail ? "tail_by" : "head_by",
                    by[0], threads);
          checked += (unsigned)m;
        }
        free(gid);
        tide_table_free(hb);
      }
    }
    tide_table_free(st);
  }
  tide_set_threads(0, NULL);
  printf("  sort of %zu rows (MSD radix) and head_by/tail_by over it: %u rows checked\n", n, checked);
  free(rows);
  free(want);
  free(tmp);
  free(got);
  tide_table_free(t);
  data_free(&x);
}

int main(void) {
  g_seed = tu_seed(77);
  tu_rng r = {g_seed};
  test_sort_random(&r);
  test_sort_sparse(&r);
  test_sort_large(&r);
  test_sort_msd_head_by(&r);
  test_sort_errors();
  test_head_tail(&r);
  test_merge(&r);
  test_merge_large(&r);
  test_oom(&r);
  if (tu_failures)
    fprintf(stderr, "test_sort: seed %llu (TIDE_SEED)\n", (unsigned long long)g_seed);
  return tu_finish("test_sort");
}
