/*
 * where / select / view / update / update_view / drop_columns /
 * rename_columns against naive row-by-row C computations: flat and sparse
 * RowSets (a where of a where), symbols, strings, timestamps, nulls, empty
 * tables, sharing of sources and RowSets, bad formulas, and identical
 * results for 1 and 2 threads.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "core/expr.h"
#include "testutil.h"

#define NI TIDE_NULL_I64
#define ND TIDE_NULL_F64
#define NB TIDE_NULL_BOOL

static uint64_t seed;

/* The source data (row j of the base table). */
typedef struct data {
  size_t n;
  int32_t *I;
  int64_t *L;
  double *D;
  int8_t *Flag;
  int64_t *T;
  const char **Str;
  const char **Sym;
} data;

static const char *strs[] = {"apple", "banana", "cherry", "apricot", "", NULL};
static const char *syms[] = {"AAPL", "MSFT", "GOOG", "IBM", NULL};

static void data_make(data *d, size_t n, uint64_t s) {
  tu_rng r = {s};
  d->n = n;
  d->I = malloc((n + 1) * sizeof *d->I);
  d->L = malloc((n + 1) * sizeof *d->L);
  d->D = malloc((n + 1) * sizeof *d->D);
  d->Flag = malloc(n + 1);
  d->T = malloc((n + 1) * sizeof *d->T);
  d->Str = malloc((n + 1) * sizeof *d->Str);
  d->Sym = malloc((n + 1) * sizeof *d->Sym);
  for (size_t j = 0; j < n; j++) {
    d->I[j] = tu_below(&r, 10) == 0 ? TIDE_NULL_I32 : (int32_t)tu_below(&r, 201) - 100;
    d->L[j] = tu_below(&r, 10) == 0 ? NI : (int64_t)tu_below(&r, 100001) - 50000;
    d->D[j] = tu_below(&r, 10) == 0 ? ND : (tu_unit(&r) - 0.5) * 100;
    d->Flag[j] = tu_below(&r, 8) == 0 ? NB : (int8_t)tu_below(&r, 2);
    d->T[j] = tu_below(&r, 10) == 0 ? NI
                                    : INT64_C(1600000000000000000) +
                                          (int64_t)tu_below(&r, UINT64_C(300000000000000000));
    d->Str[j] = strs[tu_below(&r, 6)];
    d->Sym[j] = syms[tu_below(&r, 5)];
  }
}

static void data_free(data *d) {
  free(d->I);
  free(d->L);
  free(d->D);
  free(d->Flag);
  free(d->T);
  free(d->Str);
  free(d->Sym);
}

/* A table builder: columns of m rows. */
typedef struct tb {
  size_t m, ncols;
  const char *names[24];
  tide_type_t types[24];
  void *cols[24];
} tb;

static void *tb_add(tb *b, const char *name, tide_type_t type) {
  void *p = calloc(b->m + 1, 8);
  b->names[b->ncols] = name;
  b->types[b->ncols] = type;
  b->cols[b->ncols++] = p;
  return p;
}

static tide_table_t *tb_build(tb *b) {
  tide_table_t *t = tu_table(b->m, b->ncols, b->names, b->types, (const void *const *)b->cols);
  for (size_t c = 0; c < b->ncols; c++) free(b->cols[c]);
  b->ncols = 0;
  return t;
}

/* Base columns of rows[0..m) into b. */
static void tb_base(tb *b, const data *d, const size_t *rows, size_t m) {
  b->m = m;
  b->ncols = 0;
  int32_t *I = tb_add(b, "I", TIDE_I32);
  int64_t *L = tb_add(b, "L", TIDE_I64);
  double *D = tb_add(b, "D", TIDE_F64);
  int8_t *F = tb_add(b, "Flag", TIDE_BOOL);
  int64_t *T = tb_add(b, "T", TIDE_TS);
  const char **S = tb_add(b, "Str", TIDE_STRING);
  const char **Y = tb_add(b, "Sym", TIDE_SYMBOL);
  for (size_t k = 0; k < m; k++) {
    size_t j = rows[k];
    I[k] = d->I[j];
    L[k] = d->L[j];
    D[k] = d->D[j];
    F[k] = d->Flag[j];
    T[k] = d->T[j];
    S[k] = d->Str[j];
    Y[k] = d->Sym[j];
  }
}

static tide_table_t *base_table(const data *d) {
  size_t *rows = malloc((d->n + 1) * sizeof *rows);
  for (size_t j = 0; j < d->n; j++) rows[j] = j;
  tb b;
  tb_base(&b, d, rows, d->n);
  free(rows);
  return tb_build(&b);
}

static int64_t wi(int32_t v) { return v == TIDE_NULL_I32 ? NI : v; }

/* Predicates (naive) for the filters used below. */
static bool pred1(const data *d, size_t j) { /* I > 0 && Sym == `AAPL` */
  return d->I[j] != TIDE_NULL_I32 && d->I[j] > 0 && d->Sym[j] && !strcmp(d->Sym[j], "AAPL");
}
static bool pred2(const data *d, size_t j) { /* L < 100 || Flag (null L is smallest) */
  return d->L[j] < 100 || d->Flag[j] == 1;
}
static bool pred3(const data *d, size_t j) { /* Str.startsWith(`a`) && !isNull(D) */
  return d->Str[j] && d->Str[j][0] == 'a' && d->D[j] != ND;
}

static size_t naive_rows(const data *d, bool (*p)(const data *, size_t), const size_t *in,
                         size_t nin, size_t *out) {
  size_t m = 0;
  for (size_t k = 0; k < nin; k++)
    if (p(d, in[k])) out[m++] = in[k];
  return m;
}

static void test_where(const data *d, tide_table_t *t) {
  tide_error err;
  size_t *all = malloc(d->n * sizeof *all), *r1 = malloc(d->n * sizeof *r1),
         *r2 = malloc(d->n * sizeof *r2);
  for (size_t j = 0; j < d->n; j++) all[j] = j;
  struct {
    const char *f;
    bool (*p)(const data *, size_t);
  } fs[] = {{"I > 0 && Sym == `AAPL`", pred1},
            {"L < 100 || Flag", pred2},
            {"Str.startsWith(`a`) && !isNull(D)", pred3}};
  for (size_t a = 0; a < 3; a++) {
    tide_table_t *w1 = tide_where(t, fs[a].f, &err);
    CHECK_OK_PTR(w1, err);
    if (!w1) continue;
    size_t m1 = naive_rows(d, fs[a].p, all, d->n, r1);
    tb b;
    tb_base(&b, d, r1, m1);
    tide_table_t *ex = tb_build(&b);
    CHECK_TABLES(w1, ex, 0);
    tide_table_free(ex);
    /* sharing: same sources, new RowSet of the parent's keys */
    for (size_t c = 0; c < tide_table_ncols(t); c++)
      CHECK(tide_table_col_source(w1, c) == tide_table_col_source(t, c));
    for (size_t k = 0; k < m1 && k < 50; k++)
      CHECK(tide_rowset_key_at(tide_table_rowset(w1), k) == r1[k]);
    /* a where of a where: sparse parent */
    for (size_t c2 = 0; c2 < 3; c2++) {
      tide_table_t *w2 = tide_where(w1, fs[c2].f, &err);
      CHECK_OK_PTR(w2, err);
      if (!w2) continue;
      size_t m2 = naive_rows(d, fs[c2].p, r1, m1, r2);
      tb_base(&b, d, r2, m2);
      ex = tb_build(&b);
      CHECK_TABLES(w2, ex, 0);
      tide_table_free(ex);
      tide_table_free(w2);
    }
    /* i is the position within the (sparse) parent */
    tide_table_t *w3 = tide_where(w1, "i % 3 == 1 && ii >= 2", &err);
    CHECK_OK_PTR(w3, err);
    if (w3) {
      size_t m3 = 0;
      for (size_t k = 0; k < m1; k++)
        if (k % 3 == 1 && k >= 2) r2[m3++] = r1[k];
      tb_base(&b, d, r2, m3);
      ex = tb_build(&b);
      CHECK_TABLES(w3, ex, 0);
      tide_table_free(ex);
      tide_table_free(w3);
    }
    tide_table_free(w1);
  }
  /* every row passes: the parent's RowSet is shared */
  tide_table_t *wa = tide_where(t, "true", &err);
  CHECK(wa && tide_table_rowset(wa) == tide_table_rowset(t));
  tide_table_free(wa);
  tide_table_t *wn = tide_where(t, "false", &err);
  CHECK(wn && tide_table_size(wn) == 0 && tide_table_ncols(wn) == tide_table_ncols(t));
  tide_table_free(wn);
  /* the brief's examples, verbatim */
  tide_table_t *rn = tide_rename_columns(t, (const char *const[]){"Size=I", "Price=D"}, 2, &err);
  CHECK_OK_PTR(rn, err);
  if (rn) {
    CHECK(tide_where(rn, "Size >> 3", &err) == NULL);
    CHECK_MSG(!strcmp(err.msg, "where: \"Size >> 3\": unexpected '>' at position 7"), "%s", err.msg);
    CHECK(tide_where(rn, "Price > `abc`", &err) == NULL);
    CHECK_MSG(!strcmp(err.msg, "where: \"Price > `abc`\": cannot compare double 'Price' with "
                               "string '`abc`' using '>' at position 7"),
              "%s", err.msg);
    CHECK(tide_update(rn, (const char *const[]){"X = Sym + 1"}, 1, &err) == NULL);
    CHECK_MSG(!strcmp(err.msg, "update: \"X = Sym + 1\": cannot apply '+' to symbol 'Sym' and "
                               "int64 '1' at position 9"),
              "%s", err.msg);
    CHECK(tide_where(rn, "Szie > 3", &err) == NULL);
    CHECK_MSG(!strcmp(err.msg, "where: \"Szie > 3\": no column 'Szie' at position 1 (columns: "
                               "Size, L, Price, Flag, T, Str, Sym)"),
              "%s", err.msg);
    tide_table_free(rn);
  }
  /* bad filters */
  tide_table_t *bad = tide_where(t, "I >> 3", &err);
  CHECK(bad == NULL);
  CHECK_MSG(strstr(err.msg, "where: \"I >> 3\": unexpected '>' at position 4"), "%s", err.msg);
  bad = tide_where(t, "Szie > 3", &err);
  CHECK(bad == NULL && err.status == TIDE_ERR_NOT_FOUND);
  CHECK_MSG(strstr(err.msg, "where: \"Szie > 3\": no column 'Szie' at position 1 (columns: I, L, D, Flag, T, Str, Sym)"),
            "%s", err.msg);
  bad = tide_where(t, "I = 3", &err);
  CHECK(bad == NULL && err.status == TIDE_ERR_PARSE);
  bad = tide_where(t, "L + 1", &err);
  CHECK(bad == NULL && err.status == TIDE_ERR_TYPE);
  bad = tide_where(t, "Sym > 1", &err);
  CHECK(bad == NULL && err.status == TIDE_ERR_TYPE);
  free(all);
  free(r1);
  free(r2);
}

/* Expected result of the formula list used by test_formulas, over rows. */
static const char *FORMULAS[] = {"X = L * 2 + I",
                                 "Y = X / 4",
                                 "S2 = Sym",
                                 "P = i",
                                 "Lab = I > 0 ? `pos` : Str",
                                 "Yr = year(T)",
                                 "T2 = T + 1000",
                                 "Ok = Flag && D > 0",
                                 "I2 = I",
                                 "N = (int)(D * 10)"};
#define NFORM (sizeof FORMULAS / sizeof FORMULAS[0])

static void add_expected(tb *b, const data *d, const size_t *rows, size_t m) {
  int64_t *X = tb_add(b, "X", TIDE_I64);
  double *Y = tb_add(b, "Y", TIDE_F64);
  const char **S2 = tb_add(b, "S2", TIDE_SYMBOL);
  int64_t *P = tb_add(b, "P", TIDE_I64);
  const char **Lab = tb_add(b, "Lab", TIDE_STRING);
  int64_t *Yr = tb_add(b, "Yr", TIDE_I64);
  int64_t *T2 = tb_add(b, "T2", TIDE_TS);
  int8_t *Ok = tb_add(b, "Ok", TIDE_BOOL);
  int32_t *I2 = tb_add(b, "I2", TIDE_I32);
  int32_t *Nn = tb_add(b, "N", TIDE_I32);
  for (size_t k = 0; k < m; k++) {
    size_t j = rows[k];
    int64_t i = wi(d->I[j]), l = d->L[j];
    X[k] = i == NI || l == NI ? NI : l * 2 + i;
    Y[k] = X[k] == NI ? ND : (double)X[k] / 4.0;
    S2[k] = d->Sym[j];
    P[k] = (int64_t)k;
    Lab[k] = i > 0 ? "pos" : d->Str[j];
    if (d->T[j] == NI) {
      Yr[k] = NI;
      T2[k] = NI;
    } else {
      time_t tt = (time_t)(d->T[j] / 1000000000);
      struct tm tm;
      gmtime_r(&tt, &tm);
      Yr[k] = tm.tm_year + 1900;
      T2[k] = d->T[j] + 1000;
    }
    int8_t dpos = d->D[j] != ND && d->D[j] > 0;
    int8_t f = d->Flag[j];
    Ok[k] = (f == 0 || !dpos) ? 0 : (f == 1) ? 1 : NB;
    I2[k] = d->I[j];
    Nn[k] = d->D[j] == ND ? TIDE_NULL_I32 : (int32_t)(d->D[j] * 10);
  }
}

static bool rowset_flat_check(const tide_table_t *t) {
  const tide_rowset_t *rs = tide_table_rowset(t);
  return tide_rowset_is_empty(rs) || (tide_rowset_is_range(rs) && tide_rowset_first(rs) == 0);
}

typedef tide_table_t *(*formula_op)(tide_table_t *, const char *const *, size_t, tide_error *);

static void check_formula_op(const char *name, formula_op fn, bool keep_all, bool on_demand,
                             const data *d, tide_table_t *parent, const size_t *rows, size_t m) {
  tide_error err;
  tide_table_t *r = fn(parent, FORMULAS, NFORM, &err);
  CHECK_MSG(r != NULL, "%s: %s", name, err.msg);
  if (!r) return;
  tb b;
  if (keep_all) {
    tb_base(&b, d, rows, m);
  } else {
    b.m = m;
    b.ncols = 0;
  }
  add_expected(&b, d, rows, m);
  tide_table_t *ex = tb_build(&b);
  char msg[1024];
  bool eq = tu_table_equal(r, ex, 1e-12, msg, sizeof msg);
  CHECK_MSG(eq, "%s (parent %s): %s", name,
            tide_rowset_is_range(tide_table_rowset(parent)) ? "flat" : "sparse", msg);
  tide_table_free(ex);
  /* symbol results share the parent's dictionary */
  int s2 = tide_table_col_index(r, "S2"), sym = tide_table_col_index(parent, "Sym");
  CHECK(s2 >= 0 && tide_source_symtab(tide_table_col_source(r, (size_t)s2)) ==
                       tide_source_symtab(tide_table_col_source(parent, (size_t)sym)));
  bool flat = rowset_flat_check(parent);
  if (on_demand) {
    CHECK(tide_table_rowset(r) == tide_table_rowset(parent));
    int x = tide_table_col_index(r, "X");
    CHECK(x >= 0 && tide__source_is_formula(tide_table_col_source(r, (size_t)x)));
  } else {
    const tide_rowset_t *rs = tide_table_rowset(r);
    CHECK(tide_rowset_size(rs) == m && (m == 0 || (tide_rowset_is_range(rs) && tide_rowset_first(rs) == 0)));
    if (flat) CHECK(rs == tide_table_rowset(parent));
    int x = tide_table_col_index(r, "X");
    CHECK(x >= 0 && tide__source_is_flat(tide_table_col_source(r, (size_t)x)));
  }
  if (keep_all && (on_demand || flat)) /* untouched columns shared */
    CHECK(tide_table_col_source(r, 0) == tide_table_col_source(parent, 0));
  tide_table_free(r);
}


static void test_formulas(const data *d, tide_table_t *t) {
  tide_error err;
  size_t *all = malloc((d->n + 1) * sizeof *all), *r1 = malloc((d->n + 1) * sizeof *r1),
         *r2 = malloc((d->n + 1) * sizeof *r2);
  for (size_t j = 0; j < d->n; j++) all[j] = j;
  /* flat parent */
  check_formula_op("select", tide_select, false, false, d, t, all, d->n);
  check_formula_op("view", tide_view, false, true, d, t, all, d->n);
  check_formula_op("update", tide_update, true, false, d, t, all, d->n);
  check_formula_op("update_view", tide_update_view, true, true, d, t, all, d->n);
  /* sparse parents: a where and a where of a where */
  tide_table_t *w1 = tide_where(t, "L < 100 || Flag", &err);
  CHECK_OK_PTR(w1, err);
  tide_table_t *w2 = w1 ? tide_where(w1, "Str.startsWith(`a`) && !isNull(D)", &err) : NULL;
  CHECK_OK_PTR(w2, err);
  size_t m1 = naive_rows(d, pred2, all, d->n, r1);
  size_t m2 = naive_rows(d, pred3, r1, m1, r2);
  if (w1 && w2) {
    check_formula_op("select", tide_select, false, false, d, w1, r1, m1);
    check_formula_op("view", tide_view, false, true, d, w1, r1, m1);
    check_formula_op("update", tide_update, true, false, d, w1, r1, m1);
    check_formula_op("update_view", tide_update_view, true, true, d, w1, r1, m1);
    check_formula_op("select", tide_select, false, false, d, w2, r2, m2);
    check_formula_op("update", tide_update, true, false, d, w2, r2, m2);
    check_formula_op("update_view", tide_update_view, true, true, d, w2, r2, m2);
    /* a where over an update_view: the view's i stays the position in
     * the view's parent */
    const char *fv[] = {"P = i", "X = L * 2"};
    tide_table_t *uv = tide_update_view(w1, fv, 2, &err);
    CHECK_OK_PTR(uv, err);
    tide_table_t *wv = uv ? tide_where(uv, "P % 2 == 0 && X > 0", &err) : NULL;
    CHECK_OK_PTR(wv, err);
    if (wv) {
      size_t k2 = 0;
      bool ok = true;
      for (size_t k = 0; k < m1; k++) {
        int64_t x = d->L[r1[k]] == NI ? NI : d->L[r1[k]] * 2;
        if (k % 2 == 0 && x != NI && x > 0) {
          ok = ok && k2 < tide_table_size(wv) && tu_cell_f64(wv, "P", k2) == (double)k &&
               tu_cell_f64(wv, "X", k2) == (double)x;
          k2++;
        }
      }
      CHECK_MSG(ok && k2 == tide_table_size(wv), "where over update_view with i");
      /* materializing the view through the sparse child */
      const char *sf[] = {"P", "X"};
      tide_table_t *sv = tide_select(wv, sf, 2, &err);
      CHECK_OK_PTR(sv, err);
      tide_table_t *vv = tide_view(wv, sf, 2, &err);
      if (sv && vv) CHECK_TABLES(sv, vv, 0);
      tide_table_free(sv);
      tide_table_free(vv);
    }
    tide_table_free(wv);
    tide_table_free(uv);
  }
  /* redefinition in place, later formulas see earlier ones, plain refs */
  const char *rf[] = {"L = L + 1", "Z = L * 10", "I", "Sym"};
  tide_table_t *u = tide_update(t, rf, 4, &err);
  CHECK_OK_PTR(u, err);
  if (u) {
    CHECK(tide_table_ncols(u) == tide_table_ncols(t) + 1);
    CHECK(!strcmp(tide_table_col_name(u, 1), "L") && !strcmp(tide_table_col_name(u, 7), "Z"));
    bool ok = true;
    for (size_t j = 0; j < d->n; j++) {
      int64_t l = d->L[j] == NI ? NI : d->L[j] + 1;
      int64_t z = l == NI ? NI : l * 10;
      int64_t gl, gz;
      tide_table_get(u, 1, j, &gl, NULL);
      tide_table_get(u, 7, j, &gz, NULL);
      ok = ok && gl == l && gz == z;
    }
    CHECK_MSG(ok, "update redefinition");
    CHECK(tide_table_col_source(u, 0) == tide_table_col_source(t, 0)); /* "I" shared */
    tide_table_free(u);
  }
  const char *sf[] = {"Sym", "L"};
  tide_table_t *s = tide_select(t, sf, 2, &err);
  CHECK(s && tide_table_ncols(s) == 2 && !strcmp(tide_table_col_name(s, 0), "Sym"));
  if (s) CHECK(tide_table_col_source(s, 0) == tide_table_col_source(t, 6)); /* flat: shared */
  tide_table_free(s);
  if (w1) {
    s = tide_select(w1, sf, 2, &err); /* sparse: materialized */
    CHECK(s && tide__source_is_flat(tide_table_col_source(s, 0)) &&
          tide_table_size(s) == m1);
    if (s) CHECK(tide_source_symtab(tide_table_col_source(s, 0)) ==
                 tide_source_symtab(tide_table_col_source(t, 6)));
    tide_table_free(s);
    /* select() with no formulas: every column, materialized, [0, m) */
    s = tide_select(w1, NULL, 0, &err);
    CHECK_OK_PTR(s, err);
    if (s) {
      tb b;
      tb_base(&b, d, r1, m1);
      tide_table_t *ex = tb_build(&b);
      CHECK_TABLES(s, ex, 0);
      tide_table_free(ex);
      for (size_t c = 0; c < tide_table_ncols(s); c++)
        CHECK(tide__source_is_flat(tide_table_col_source(s, c)));
    }
    tide_table_free(s);
  }
  /* view keeps only the listed columns; "New = Old" shares */
  const char *vf[] = {"A = L", "Str"};
  tide_table_t *v = tide_view(t, vf, 2, &err);
  CHECK(v && tide_table_ncols(v) == 2 && tide_table_col_source(v, 0) == tide_table_col_source(t, 1) &&
        tide_table_col_source(v, 1) == tide_table_col_source(t, 5));
  tide_table_free(v);
  /* errors: NULL result and a clear message */
  struct {
    const char *f;
    tide_status st;
    const char *msg;
  } bad[] = {{"X = Sym + 1", TIDE_ERR_TYPE, "update: \"X = Sym + 1\": cannot apply '+' to symbol 'Sym' and int64 '1' at position 9"},
             {"X = Nope * 2", TIDE_ERR_NOT_FOUND, "no column 'Nope' at position 5"},
             {"Nope", TIDE_ERR_NOT_FOUND, "update: no column 'Nope' (columns: I, L, D, Flag, T, Str, Sym, Ok)"},
             {"X == 1", TIDE_ERR_PARSE, "expected 'Name = expression'"},
             {"X = ", TIDE_ERR_PARSE, "empty expression at position 5"},
             {"X = D > `abc`", TIDE_ERR_TYPE, "cannot compare double 'D' with string '`abc`'"},
             {"X = (I + 1", TIDE_ERR_PARSE, "expected ')'"}};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    const char *fl[] = {"Ok = 1", bad[k].f};
    tide_table_t *r = tide_update(t, fl, 2, &err);
    CHECK_MSG(r == NULL && err.status == bad[k].st && strstr(err.msg, bad[k].msg),
              "%s: %s", bad[k].f, err.msg);
    tide_table_free(r);
    r = tide_update_view(w1 ? w1 : t, fl, 2, &err);
    CHECK_MSG(r == NULL && err.status == bad[k].st, "update_view %s: %s", bad[k].f, err.msg);
    tide_table_free(r);
  }
  tide_table_t *r = tide_select(t, (const char *const[]){"X = L", "Y = X +"}, 2, &err);
  CHECK(r == NULL && strstr(err.msg, "select: \"Y = X +\": unexpected end of formula at position 8"));
  tide_table_t *tw = w1 ? w1 : t;
  r = tide_view(tw, (const char *const[]){"X = L +* 2"}, 1, &err);
  CHECK(r == NULL && strstr(err.msg, "view: \"X = L +* 2\": unexpected '*' at position 8"));
  tide_table_free(w1);
  tide_table_free(w2);
  free(all);
  free(r1);
  free(r2);
}

static void test_drop_rename(const data *d, tide_table_t *t) {
  tide_error err;
  const char *dn[] = {"D", "Sym"};
  tide_table_t *r = tide_drop_columns(t, dn, 2, &err);
  CHECK_OK_PTR(r, err);
  if (r) {
    CHECK(tide_table_ncols(r) == 5 && tide_table_rowset(r) == tide_table_rowset(t));
    const char *want[] = {"I", "L", "Flag", "T", "Str"};
    for (size_t c = 0; c < 5; c++) {
      CHECK(!strcmp(tide_table_col_name(r, c), want[c]));
      CHECK(tide_table_col_source(r, c) ==
            tide_table_col_source(t, (size_t)tide_table_col_index(t, want[c])));
    }
    tide_table_free(r);
  }
  r = tide_drop_columns(t, (const char *const[]){"Nope"}, 1, &err);
  CHECK(r == NULL && err.status == TIDE_ERR_NOT_FOUND && strstr(err.msg, "drop_columns: no column 'Nope'"));
  r = tide_drop_columns(t, (const char *const[]){"D", "D"}, 2, &err);
  CHECK(r == NULL && err.status == TIDE_ERR_DUPLICATE);
  r = tide_drop_columns(t, NULL, 0, &err);
  CHECK(r && tide_table_ncols(r) == tide_table_ncols(t));
  tide_table_free(r);

  const char *rn[] = {"Px = D", "Ticker=Sym"};
  r = tide_rename_columns(t, rn, 2, &err);
  CHECK_OK_PTR(r, err);
  if (r) {
    CHECK(!strcmp(tide_table_col_name(r, 2), "Px") && !strcmp(tide_table_col_name(r, 6), "Ticker"));
    CHECK(tide_table_col_source(r, 2) == tide_table_col_source(t, 2));
    CHECK(tide_table_rowset(r) == tide_table_rowset(t));
    CHECK(tide_table_size(r) == d->n);
    tide_table_free(r);
  }
  /* swap is fine */
  r = tide_rename_columns(t, (const char *const[]){"L=I", "I=L"}, 2, &err);
  CHECK(r && !strcmp(tide_table_col_name(r, 0), "L") &&
        tide_table_col_source(r, 0) == tide_table_col_source(t, 0));
  tide_table_free(r);
  r = tide_rename_columns(t, (const char *const[]){"X=Nope"}, 1, &err);
  CHECK(r == NULL && err.status == TIDE_ERR_NOT_FOUND);
  r = tide_rename_columns(t, (const char *const[]){"L=I"}, 1, &err);
  CHECK(r == NULL && err.status == TIDE_ERR_DUPLICATE && strstr(err.msg, "'L'"));
  r = tide_rename_columns(t, (const char *const[]){"A=I", "B=I"}, 2, &err);
  CHECK(r == NULL && err.status == TIDE_ERR_DUPLICATE);
  r = tide_rename_columns(t, (const char *const[]){"A=I", "A=L"}, 2, &err);
  CHECK(r == NULL && err.status == TIDE_ERR_DUPLICATE);
  r = tide_rename_columns(t, (const char *const[]){"1A=I"}, 1, &err);
  CHECK(r == NULL && err.status == TIDE_ERR_INVALID);
}

static void test_empty(void) {
  tide_error err;
  const char *names[] = {"I", "D", "Sym"};
  tide_type_t types[] = {TIDE_I32, TIDE_F64, TIDE_SYMBOL};
  tide_table_t *e = tide_table_create_empty(3, names, types, &err);
  CHECK_OK_PTR(e, err);
  if (!e) return;
  tide_table_t *w = tide_where(e, "I > 3 && Sym == `A`", &err);
  CHECK(w && tide_table_size(w) == 0);
  const char *fs[] = {"X = I * 2", "S = Sym", "P = ii"};
  tide_table_t *u = w ? tide_update(w, fs, 3, &err) : NULL;
  CHECK(u && tide_table_size(u) == 0 && tide_table_ncols(u) == 6);
  if (u) CHECK(tide_table_col_type(u, 3) == TIDE_I64 && tide_table_col_type(u, 4) == TIDE_SYMBOL);
  tide_table_t *s = tide_select(e, fs, 3, &err);
  CHECK(s && tide_table_size(s) == 0 && tide_table_ncols(s) == 3);
  tide_table_t *v = tide_view(e, fs, 3, &err);
  CHECK(v && tide_table_size(v) == 0);
  tide_table_t *w2 = tide_where(e, "Nope", &err);
  CHECK(w2 == NULL && err.status == TIDE_ERR_NOT_FOUND);
  tide_table_free(w);
  tide_table_free(u);
  tide_table_free(s);
  tide_table_free(v);
  tide_table_free(e);
}

/* Bulk comparison (chunked fills) for big tables: same schema, size and
 * values (strings and symbols by content, doubles exactly). */
static bool fast_equal(const tide_table_t *a, const tide_table_t *b, char *msg, size_t cap) {
  if (tide_table_ncols(a) != tide_table_ncols(b) || tide_table_size(a) != tide_table_size(b)) {
    snprintf(msg, cap, "shape differs");
    return false;
  }
  static uint64_t ka[TIDE_CHUNK_SIZE], kb[TIDE_CHUNK_SIZE];
  static uint64_t va[TIDE_CHUNK_SIZE], vb[TIDE_CHUNK_SIZE];
  for (size_t c = 0; c < tide_table_ncols(a); c++) {
    tide_type_t ta = tide_table_col_type(a, c), tb = tide_table_col_type(b, c);
    if (strcmp(tide_table_col_name(a, c), tide_table_col_name(b, c)) || ta != tb) {
      snprintf(msg, cap, "column %zu differs in name or type", c);
      return false;
    }
    const tide_source_t *sa = tide_table_col_source(a, c), *sb = tide_table_col_source(b, c);
    tide_rowset_iter_t ia, ib;
    tide_rowset_iter_init(&ia, tide_table_rowset(a));
    tide_rowset_iter_init(&ib, tide_table_rowset(b));
    tide_rowseq_t qa, qb;
    size_t w = tide_type_width(ta);
    while (tide_rowset_iter_next_chunk(&ia, TIDE_CHUNK_SIZE, &qa, ka) &&
           tide_rowset_iter_next_chunk(&ib, TIDE_CHUNK_SIZE, &qb, kb)) {
      tide_source_fill(sa, &qa, va);
      tide_source_fill(sb, &qb, vb);
      for (uint32_t j = 0; j < qa.n; j++) {
        bool eq;
        if (ta == TIDE_STRING) {
          const char *x = ((const char **)va)[j], *y = ((const char **)vb)[j];
          eq = (!x && !y) || (x && y && !strcmp(x, y));
        } else if (ta == TIDE_SYMBOL) {
          const char *x = tide_symtab_str(tide_source_symtab(sa), ((int32_t *)va)[j]);
          const char *y = tide_symtab_str(tide_source_symtab(sb), ((int32_t *)vb)[j]);
          eq = (!x && !y) || (x && y && !strcmp(x, y));
        } else {
          eq = !memcmp((char *)va + j * w, (char *)vb + j * w, w);
        }
        if (!eq) {
          snprintf(msg, cap, "column %s row %llu differs", tide_table_col_name(a, c),
                   (unsigned long long)(qa.pos + j));
          return false;
        }
      }
    }
  }
  return true;
}
#define CHECK_FAST(a, b)                                   \
  do {                                                     \
    char m_[256];                                          \
    bool e_ = fast_equal((a), (b), m_, sizeof m_);         \
    CHECK_MSG(e_, "%s", m_);                               \
  } while (0)

/* Results identical for 1 and 2 threads on a table of several morsels. */
static void test_threads(void) {
  tide_error err;
  data d;
  size_t n = 2 * TIDE_MORSEL_ROWS + 1234;
  data_make(&d, n, seed ^ 0xabc);
  tide_table_t *t = base_table(&d);
  tide_table_t *res[2][4];
  for (int th = 0; th < 2; th++) {
    CHECK(tide_set_threads(th + 1, &err) == TIDE_OK);
    res[th][0] = tide_where(t, "L < 100 || Flag", &err);
    CHECK_OK_PTR(res[th][0], err);
    res[th][1] = res[th][0] ? tide_where(res[th][0], "i % 7 != 3 && I > -50", &err) : NULL;
    CHECK_OK_PTR(res[th][1], err);
    res[th][2] = res[th][1] ? tide_update(res[th][1], FORMULAS, NFORM, &err) : NULL;
    CHECK_OK_PTR(res[th][2], err);
    res[th][3] = res[th][1] ? tide_select(res[th][1], FORMULAS, NFORM, &err) : NULL;
    CHECK_OK_PTR(res[th][3], err);
  }
  tide_set_threads(0, &err);
  for (int k = 0; k < 4; k++)
    if (res[0][k] && res[1][k]) {
      if (k < 2) /* wheres share the parent's sources: compare the RowSets */
        CHECK(tide_rowset_equals(tide_table_rowset(res[0][k]), tide_table_rowset(res[1][k])));
      else
        CHECK_FAST(res[0][k], res[1][k]);
    }
  /* and against the naive computation */
  size_t *all = malloc(n * sizeof *all), *r1 = malloc(n * sizeof *r1), *r2 = malloc(n * sizeof *r2);
  for (size_t j = 0; j < n; j++) all[j] = j;
  size_t m1 = naive_rows(&d, pred2, all, n, r1), m2 = 0;
  for (size_t k = 0; k < m1; k++) {
    int32_t iv = d.I[r1[k]];
    if (k % 7 != 3 && iv != TIDE_NULL_I32 && iv > -50) r2[m2++] = r1[k];
  }
  if (res[1][2]) {
    tb b;
    tb_base(&b, &d, r2, m2);
    add_expected(&b, &d, r2, m2);
    tide_table_t *ex = tb_build(&b);
    CHECK_FAST(res[1][2], ex);
    tide_table_free(ex);
  }
  for (int th = 0; th < 2; th++)
    for (int k = 0; k < 4; k++) tide_table_free(res[th][k]);
  free(all);
  free(r1);
  free(r2);
  tide_table_free(t);
  data_free(&d);
}

/* Out-of-memory injection: fail the k-th allocation for every k until a
 * run completes; each run must fail cleanly (NULL, TIDE_ERR_NOMEM, no leak
 * or crash under ASan) or succeed with the right answer. */
static void test_oom(const data *d) {
  tide_error err;
  tide_set_threads(1, &err);
  size_t rows[300];
  for (size_t k = 0; k < 300; k++) rows[k] = k * 7 % d->n;
  tb b;
  tb_base(&b, d, rows, 300);
  tide_table_t *t = tb_build(&b);
  /* reference answer without injection */
  const char *fs[] = {"X = L * 2 + I", "Lab = I > 0 ? `pos` : Str", "S2 = Sym", "P = i"};
  tide_table_t *w0 = tide_where(t, "I > 0 || Sym == `AAPL` && i % 2 == 0", &err);
  tide_table_t *ref = w0 ? tide_update(w0, fs, 4, &err) : NULL;
  CHECK_OK_PTR(ref, err);
  int runs = 0, fails = 0;
  for (long target = 1; target < 100000; target++) {
    tu_oom_arm(target - 1); /* the target-th allocation fails */
    tide_error_clear(&err);
    tide_table_t *w = tide_where(t, "I > 0 || Sym == `AAPL` && i % 2 == 0", &err);
    tide_table_t *u = w ? tide_update(w, fs, 4, &err) : NULL;
    tide_table_t *v = u ? tide_update_view(u, fs, 2, &err) : NULL;
    tide_table_t *s = v ? tide_select(v, NULL, 0, &err) : NULL;
    tide_table_t *r = s ? tide_rename_columns(s, (const char *const[]){"Y=X"}, 1, &err) : NULL;
    tu_oom_disarm();
    bool oom_hit = tu_oom_fired();
    runs++;
    if (!r) {
      fails++;
      CHECK_MSG(oom_hit && err.status == TIDE_ERR_NOMEM, "target %ld: %s", target, err.msg);
    } else if (!oom_hit && ref) {
      CHECK_FAST(u, ref);
    }
    tide_table_free(r);
    tide_table_free(s);
    tide_table_free(v);
    tide_table_free(u);
    tide_table_free(w);
    if (!oom_hit) break;
  }
  CHECK(runs > 10 && fails > 10);
  tide_table_free(ref);
  tide_table_free(w0);
  tide_table_free(t);
  tide_set_threads(0, &err);
}

/* i / ii of a formula view over a RowSet of long runs with gaps: chunks of
 * consecutive keys and chunks spanning gaps both give the positions. */
static void test_view_positions(void) {
  tide_error err;
  const uint64_t n = 20000;
  int64_t *v = malloc(n * sizeof *v);
  for (uint64_t k = 0; k < n; k++) v[k] = (int64_t)k;
  tide_table_t *t = tu_table(n, 1, (const char *[]){"K"}, (tide_type_t[]){TIDE_I64},
                             (const void *[]){v});
  /* drop a few isolated rows and one block: runs of thousands of keys */
  tide_table_t *w = tide_where(t, "K % 4999 != 17 && (K < 9000 || K >= 9100)", &err);
  CHECK_OK_PTR(w, err);
  tide_table_t *uv = w ? tide_update_view(w, (const char *[]){"P = i", "Q = ii * 2"}, 2, &err) : NULL;
  CHECK_OK_PTR(uv, err);
  if (uv) {
    uint64_t m = tide_table_size(uv), bad = 0, pos = 0;
    for (uint64_t k = 0; k < n; k++) {
      if (k % 4999 == 17 || (k >= 9000 && k < 9100)) continue;
      if (pos >= m) { bad++; break; }
      if (tu_cell_f64(uv, "K", pos) != (double)k || tu_cell_f64(uv, "P", pos) != (double)pos ||
          tu_cell_f64(uv, "Q", pos) != 2.0 * (double)pos)
        bad++;
      pos++;
    }
    CHECK_MSG(bad == 0 && pos == m, "view positions: %llu bad rows", (unsigned long long)bad);
    /* whole-column reads (chunks straight off the RowSet) */
    tide_table_t *sel = tide_select(uv, (const char *[]){"P"}, 1, &err);
    CHECK_OK_PTR(sel, err);
    if (sel) {
      const int64_t *p = tide_source_flat_data(tide_table_col_source(sel, 0));
      uint64_t bad2 = 0;
      for (uint64_t k = 0; k < m; k++) bad2 += p[k] != (int64_t)k;
      CHECK_MSG(bad2 == 0, "select of view positions: %llu bad", (unsigned long long)bad2);
    }
    tide_table_free(sel);
    /* a filter reading the view a chunk at a time */
    tide_table_t *f = tide_where(uv, "P % 3 == 1 && Q == 2 * P", &err);
    CHECK_OK_PTR(f, err);
    if (f) {
      uint64_t fm = tide_table_size(f), bad3 = 0;
      CHECK(fm == (m + 1) / 3);
      for (uint64_t k = 0; k < fm; k++) bad3 += tu_cell_f64(f, "P", k) != (double)(3 * k + 1);
      CHECK_MSG(bad3 == 0, "where over view positions: %llu bad", (unsigned long long)bad3);
    }
    tide_table_free(f);
  }
  tide_table_free(uv);
  tide_table_free(w);
  tide_table_free(t);
  free(v);
}

int main(void) {
  seed = tu_seed(424242);
  data d;
  data_make(&d, 10000, seed);
  tide_table_t *t = base_table(&d);
  test_where(&d, t);
  test_formulas(&d, t);
  test_drop_rename(&d, t);
  test_empty();
  test_threads();
  test_view_positions();
  test_oom(&d);
  tide_table_free(t);
  data_free(&d);
  if (tu_failures) fprintf(stderr, "seed %llu\n", (unsigned long long)seed);
  return tu_finish("test_select");
}
