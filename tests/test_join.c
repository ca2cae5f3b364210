/*
 * Joins: natural_join, exact_join, join, aj, raj against naive nested-loop
 * references, over random tables with int/symbol/string/timestamp/double
 * keys (mixed widths and dictionaries across sides), multi-column keys,
 * null keys, duplicate and missing keys, sparse left RowSets, empty sides,
 * renames, error cases and thread-count independence.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

enum { OP_NATURAL, OP_EXACT, OP_JOIN, OP_AJ, OP_RAJ };
static const char *op_names[] = {"natural_join", "exact_join", "join", "aj", "raj"};

static uint64_t g_seed;
static unsigned g_ok[5], g_err[5], g_rows[5]; /* random-case coverage per op */
static char g_pool[64][16];

static tide_table_t *run_op(int op, tide_table_t *l, tide_table_t *r, const char *const *on,
                            size_t non, const char *const *joins, size_t nj, tide_error *err) {
  switch (op) {
  case OP_NATURAL: return tide_natural_join(l, r, on, non, joins, nj, err);
  case OP_EXACT: return tide_exact_join(l, r, on, non, joins, nj, err);
  case OP_JOIN: return tide_join(l, r, on, non, joins, nj, err);
  case OP_AJ: return tide_aj(l, r, on, non, joins, nj, err);
  default: return tide_raj(l, r, on, non, joins, nj, err);
  }
}

/* Bytes per value in tu_table's input form. */
static size_t esz(tide_type_t t) {
  return (t == TIDE_STRING || t == TIDE_SYMBOL) ? sizeof(char *) : tide_type_width(t);
}

/* A column in tu_table input form from value indexes (-1: null). Equal
 * indexes give equal values in every type, different ones different. */
static void *make_col(tide_type_t t, const int64_t *v, uint64_t n) {
  void *out = malloc((n ? n : 1) * esz(t));
  for (uint64_t i = 0; i < n; i++) {
    bool nul = v[i] < 0;
    int64_t x = v[i];
    switch (t) {
    case TIDE_BOOL: ((int8_t *)out)[i] = nul ? TIDE_NULL_BOOL : (int8_t)(x & 1); break;
    case TIDE_I8: ((int8_t *)out)[i] = nul ? TIDE_NULL_I8 : (int8_t)(x * 3 - 5); break;
    case TIDE_I16: ((int16_t *)out)[i] = nul ? TIDE_NULL_I16 : (int16_t)(x * 3 - 5); break;
    case TIDE_I32: ((int32_t *)out)[i] = nul ? TIDE_NULL_I32 : (int32_t)(x * 3 - 5); break;
    case TIDE_I64: ((int64_t *)out)[i] = nul ? TIDE_NULL_I64 : x * 3 - 5; break;
    case TIDE_TS: ((int64_t *)out)[i] = nul ? TIDE_NULL_TS : INT64_C(1600000000000000000) + x * 1000; break;
    case TIDE_F32: ((float *)out)[i] = nul ? TIDE_NULL_F32 : (float)x * 0.5f - 1.0f; break;
    case TIDE_F64: ((double *)out)[i] = nul ? TIDE_NULL_F64 : (double)x * 0.5 - 1.0; break;
    default: ((const char **)out)[i] = nul ? NULL : g_pool[x % 64]; break;
    }
  }
  return out;
}

/* Gather rows idx[0..m) (-1: null) of a column in input form. */
static void *gather(tide_type_t t, const void *data, const int64_t *idx, uint64_t m) {
  size_t w = esz(t);
  char *out = malloc((m ? m : 1) * w);
  for (uint64_t i = 0; i < m; i++) {
    if (idx[i] < 0) {
      if (t == TIDE_STRING || t == TIDE_SYMBOL)
        ((const char **)out)[i] = NULL;
      else
        tide_type_null(t, out + i * w);
    } else {
      memcpy(out + i * w, (const char *)data + (size_t)idx[i] * w, w);
    }
  }
  return out;
}

/* A test table: columns in input form plus each row's value indexes. */
#define MAXC 8
typedef struct ttab {
  uint64_t n;
  size_t nc;
  const char *names[MAXC];
  tide_type_t types[MAXC];
  int64_t *idx[MAXC]; /* value indexes (key and time columns) */
  void *data[MAXC];
  tide_table_t *t;
} ttab;

static void tt_add(ttab *t, const char *name, tide_type_t type, int64_t *idx) {
  t->names[t->nc] = name;
  t->types[t->nc] = type;
  t->idx[t->nc] = idx;
  t->data[t->nc] = make_col(type, idx, t->n);
  t->nc++;
}

static void tt_build(ttab *t) {
  t->t = tu_table(t->n, t->nc, t->names, t->types, (const void *const *)t->data);
}

static void tt_free(ttab *t) {
  for (size_t i = 0; i < t->nc; i++) {
    free(t->idx[i]);
    free(t->data[i]);
  }
  tide_table_free(t->t);
}

/* A table over t's sources with only the rows at positions sel (sorted). */
static tide_table_t *subset(tide_table_t *t, const int64_t *sel, uint64_t m) {
  uint64_t *keys = malloc((m ? m : 1) * sizeof(uint64_t));
  for (uint64_t i = 0; i < m; i++) keys[i] = (uint64_t)sel[i];
  tide_rowset_t *rs = tide_rowset_from_keys(keys, m);
  free(keys);
  size_t nc = tide_table_ncols(t);
  const char *names[MAXC];
  tide_source_t *srcs[MAXC];
  for (size_t i = 0; i < nc; i++) {
    names[i] = tide_table_col_name(t, i);
    srcs[i] = tide_table_col_source(t, i);
  }
  tide_error err;
  tide_table_t *out = tide_table_create(rs, nc, names, srcs, &err);
  CHECK_OK_PTR(out, err);
  tide_rowset_free(rs);
  return out;
}

static int64_t *rand_idx(tu_rng *r, uint64_t n, int64_t k, int nullpct) {
  int64_t *v = malloc((n ? n : 1) * sizeof(int64_t));
  for (uint64_t i = 0; i < n; i++)
    v[i] = (int)tu_below(r, 100) < nullpct ? -1 : (int64_t)tu_below(r, (uint64_t)k);
  return v;
}

/* One random case.
 *  nk key pairs of types lkt/rkt; same_names: right keys named like the
 *  left (else RK0.. with "K0=RK0"); sparse: left over a random subset;
 *  uniq: right key tuples distinct; asof: time types ltt/rtt, ineq 0 bare,
 *  1 inclusive, 2 strict; tsame: time columns both named "T". */
typedef struct caseopt {
  int op;
  size_t nk;
  tide_type_t lkt[3], rkt[3];
  bool same_names, sparse, uniq, tsame;
  bool lcover; /* left keys only from the right's domain */
  tide_type_t ltt, rtt;
  int ineq;
  int64_t kdom; /* distinct values per key column */
  uint64_t maxl, maxr;
} caseopt;

static const char *kname_l[] = {"K0", "K1", "K2"};
static const char *kname_r[] = {"RK0", "RK1", "RK2"};

static bool keys_eq(const ttab *L, uint64_t i, const ttab *R, uint64_t j, size_t nk) {
  for (size_t k = 0; k < nk; k++)
    if (L->idx[k][i] != R->idx[k][j]) return false;
  return true;
}

static void run_case(tu_rng *rng, const caseopt *o) {
  bool asof = o->op == OP_AJ || o->op == OP_RAJ;
  ttab L, R;
  memset(&L, 0, sizeof L);
  memset(&R, 0, sizeof R);
  L.n = tu_below(rng, o->maxl + 1);
  R.n = tu_below(rng, o->maxr + 1);
  int64_t kd = o->kdom;
  /* right keys */
  int64_t *rk[3];
  for (size_t k = 0; k < o->nk; k++) rk[k] = rand_idx(rng, R.n, kd, 10);
  if (o->uniq) {
    /* distinct tuples: enumerate the domain ((kd+1)^nk incl. null) shuffled */
    uint64_t dom = 1;
    for (size_t k = 0; k < o->nk; k++) dom *= (uint64_t)(kd + 1);
    if (R.n > dom) R.n = dom;
    uint64_t *perm = malloc(dom * sizeof(uint64_t));
    for (uint64_t i = 0; i < dom; i++) perm[i] = i;
    for (uint64_t i = dom; i > 1; i--) {
      uint64_t j = tu_below(rng, i), x = perm[i - 1];
      perm[i - 1] = perm[j];
      perm[j] = x;
    }
    for (uint64_t i = 0; i < R.n; i++) {
      uint64_t x = perm[i];
      for (size_t k = 0; k < o->nk; k++) {
        rk[k][i] = (int64_t)(x % (uint64_t)(kd + 1)) - 1;
        x /= (uint64_t)(kd + 1);
      }
    }
    free(perm);
  }
  for (size_t k = 0; k < o->nk; k++)
    tt_add(&R, o->same_names ? kname_l[k] : kname_r[k], o->rkt[k], rk[k]);
  int64_t *rv = malloc((R.n ? R.n : 1) * sizeof(int64_t));
  int64_t *rs = malloc((R.n ? R.n : 1) * sizeof(int64_t));
  for (uint64_t j = 0; j < R.n; j++) {
    rv[j] = (int64_t)j + 100;
    rs[j] = tu_below(rng, 10) == 0 ? -1 : (int64_t)tu_below(rng, 64);
  }
  tt_add(&R, "RV", TIDE_I64, rv);
  tt_add(&R, "RS", TIDE_STRING, rs);
  size_t rtc = 0;
  if (asof) {
    rtc = R.nc;
    tt_add(&R, o->tsame ? "T" : "RT", o->rtt, rand_idx(rng, R.n, 12, 10));
  }
  /* left */
  for (size_t k = 0; k < o->nk; k++)
    tt_add(&L, kname_l[k], o->lkt[k], rand_idx(rng, L.n, o->lcover ? kd : kd + 1, 10));
  int64_t *lv = malloc((L.n ? L.n : 1) * sizeof(int64_t));
  for (uint64_t i = 0; i < L.n; i++) lv[i] = (int64_t)i;
  tt_add(&L, "LV", TIDE_I64, lv);
  size_t ltc = 0;
  if (asof) {
    ltc = L.nc;
    tt_add(&L, o->tsame ? "T" : "LT", o->ltt, rand_idx(rng, L.n, 14, 10));
  }
  tt_build(&L);
  tt_build(&R);
  /* left rows used */
  int64_t *sel = malloc((L.n ? L.n : 1) * sizeof(int64_t));
  uint64_t nsel = 0;
  for (uint64_t i = 0; i < L.n; i++)
    if (!o->sparse || tu_below(rng, 3)) sel[nsel++] = (int64_t)i;
  tide_table_t *left = o->sparse ? subset(L.t, sel, nsel) : tide_table_retain(L.t);

  /* on */
  char onbuf[4][64];
  const char *on[4];
  size_t non = 0;
  for (size_t k = 0; k < o->nk; k++) {
    if (o->same_names)
      snprintf(onbuf[non], 64, "%s", kname_l[k]);
    else
      snprintf(onbuf[non], 64, "%s=%s", kname_l[k], kname_r[k]);
    on[non] = onbuf[non];
    non++;
  }
  if (asof) {
    const char *lt = L.names[ltc], *rt = R.names[rtc];
    const char *sym = o->op == OP_AJ ? (o->ineq == 2 ? ">" : ">=") : (o->ineq == 2 ? "<" : "<=");
    if (o->ineq == 0)
      snprintf(onbuf[non], 64, o->tsame ? "%s" : "%s=%s", lt, rt);
    else
      snprintf(onbuf[non], 64, "%s %s %s", lt, sym, rt);
    on[non] = onbuf[non];
    non++;
  }

  tide_error err;
  tide_error_clear(&err);
  tide_table_t *res = run_op(o->op, left, R.t, on, non, NULL, 0, &err);

  /* reference */
  bool expect_err = false;
  char expect_msg[128] = "";
  if (o->op == OP_NATURAL || o->op == OP_EXACT) {
    for (uint64_t j2 = 0; j2 < R.n && !expect_err; j2++)
      for (uint64_t j1 = 0; j1 < j2; j1++)
        if (keys_eq(&R, j1, &R, j2, o->nk)) {
          expect_err = true;
          snprintf(expect_msg, sizeof expect_msg, "duplicate right key");
          char tail[64];
          snprintf(tail, sizeof tail, "at right rows %llu and %llu", (unsigned long long)j1,
                   (unsigned long long)j2);
          if (res == NULL) CHECK_MSG(strstr(err.msg, tail) != NULL, "msg '%s' lacks '%s'", err.msg, tail);
          break;
        }
  }
  uint64_t cap = nsel * (R.n ? R.n : 1) + 1;
  int64_t *lo = malloc(cap * sizeof(int64_t)), *ro = malloc(cap * sizeof(int64_t));
  uint64_t m = 0;
  for (uint64_t p = 0; p < nsel && !expect_err; p++) {
    uint64_t i = (uint64_t)sel[p];
    if (o->op == OP_JOIN) {
      for (uint64_t j = 0; j < R.n; j++)
        if (keys_eq(&L, i, &R, j, o->nk)) {
          lo[m] = (int64_t)i;
          ro[m++] = (int64_t)j;
        }
      continue;
    }
    int64_t best = -1;
    if (!asof) {
      for (uint64_t j = 0; j < R.n; j++)
        if (keys_eq(&L, i, &R, j, o->nk)) best = (int64_t)j;
      if (best < 0 && o->op == OP_EXACT) {
        expect_err = true;
        snprintf(expect_msg, sizeof expect_msg, "left row %llu", (unsigned long long)p);
      }
    } else {
      int64_t t = L.idx[ltc][i];
      for (uint64_t j = 0; j < R.n && t >= 0; j++) {
        int64_t rt = R.idx[rtc][j];
        if (rt < 0 || !keys_eq(&L, i, &R, j, o->nk)) continue;
        bool strict = o->ineq == 2;
        if (o->op == OP_AJ) {
          bool ok = strict ? rt < t : rt <= t;
          /* greatest time; ties: last in right order */
          if (ok && (best < 0 || rt >= R.idx[rtc][best])) best = (int64_t)j;
        } else {
          bool ok = strict ? rt > t : rt >= t;
          /* least time; ties: first in right order */
          if (ok && (best < 0 || rt < R.idx[rtc][best])) best = (int64_t)j;
        }
      }
    }
    lo[m] = (int64_t)i;
    ro[m++] = best;
  }

  char ctx[256];
  snprintf(ctx, sizeof ctx, "%s seed=%llu nl=%llu nr=%llu on=%s%s%s", op_names[o->op],
           (unsigned long long)g_seed, (unsigned long long)nsel, (unsigned long long)R.n, on[0],
           non > 1 ? "," : "", non > 1 ? on[non - 1] : "");
  if (expect_err) g_err[o->op]++;
  else {
    g_ok[o->op]++;
    g_rows[o->op] += (unsigned)m;
  }
  if (expect_err) {
    CHECK_MSG(res == NULL, "%s: expected an error", ctx);
    if (res == NULL)
      CHECK_MSG(strstr(err.msg, expect_msg) != NULL && strstr(err.msg, op_names[o->op]) == err.msg,
                "%s: message '%s' lacks '%s'", ctx, err.msg, expect_msg);
  } else {
    CHECK_MSG(res != NULL, "%s: error %s", ctx, err.msg);
    if (res) {
      const char *names[2 * MAXC];
      tide_type_t types[2 * MAXC];
      void *data[2 * MAXC];
      size_t nc = 0;
      for (size_t c = 0; c < L.nc; c++) {
        names[nc] = L.names[c];
        types[nc] = L.types[c];
        data[nc++] = gather(L.types[c], L.data[c], lo, m);
      }
      for (size_t c = o->nk; c < R.nc; c++) {
        if (asof && c == rtc && o->tsame) continue;
        names[nc] = R.names[c];
        types[nc] = R.types[c];
        data[nc++] = gather(R.types[c], R.data[c], ro, m);
      }
      tide_table_t *exp = tu_table(m, nc, names, types, (const void *const *)data);
      char msg[1024];
      bool eq = tu_table_equal(res, exp, 0, msg, sizeof msg);
      CHECK_MSG(eq, "%s: %s", ctx, msg);
      if (!eq && getenv("TIDE_JOIN_PRINT")) {
        tide_table_print(left, stderr, UINT64_MAX, NULL);
        tide_table_print(R.t, stderr, UINT64_MAX, NULL);
        tide_table_print(res, stderr, UINT64_MAX, NULL);
        tide_table_print(exp, stderr, UINT64_MAX, NULL);
      }
      tide_table_free(exp);
      for (size_t c = 0; c < nc; c++) free(data[c]);
      CHECK(tide_rowset_is_range(tide_table_rowset(res)));
    }
  }
  tide_table_free(res);
  free(lo);
  free(ro);
  free(sel);
  tide_table_free(left);
  tt_free(&L);
  tt_free(&R);
}

/* Key type pairs that must match by value. */
static const tide_type_t kpairs[][2] = {
    {TIDE_I64, TIDE_I64},       {TIDE_I32, TIDE_I64},    {TIDE_I8, TIDE_I16},
    {TIDE_I64, TIDE_I32},       {TIDE_SYMBOL, TIDE_SYMBOL}, {TIDE_SYMBOL, TIDE_STRING},
    {TIDE_STRING, TIDE_SYMBOL}, {TIDE_STRING, TIDE_STRING}, {TIDE_TS, TIDE_TS},
    {TIDE_F64, TIDE_F64},       {TIDE_F32, TIDE_F64},    {TIDE_BOOL, TIDE_BOOL},
};
#define NKPAIRS (sizeof kpairs / sizeof kpairs[0])

static void random_cases(void) {
  tu_rng rng = {g_seed};
  static const tide_type_t ttypes[][2] = {
      {TIDE_TS, TIDE_TS}, {TIDE_I32, TIDE_I64}, {TIDE_F64, TIDE_F32}, {TIDE_I64, TIDE_I16}};
  for (int iter = 0; iter < 1500; iter++) {
    caseopt o;
    memset(&o, 0, sizeof o);
    o.op = (int)tu_below(&rng, 5);
    o.nk = (o.op == OP_AJ || o.op == OP_RAJ) ? tu_below(&rng, 3) : 1 + tu_below(&rng, 2);
    for (size_t k = 0; k < o.nk; k++) {
      size_t pi = tu_below(&rng, NKPAIRS);
      o.lkt[k] = kpairs[pi][0];
      o.rkt[k] = kpairs[pi][1];
    }
    o.kdom = 1 + (int64_t)tu_below(&rng, 6);
    for (size_t k = 0; k < o.nk; k++)
      if (o.lkt[k] == TIDE_BOOL) {
        o.kdom = 2;
        o.lcover = true;
      }
    o.same_names = tu_below(&rng, 2);
    o.sparse = tu_below(&rng, 3) == 0;
    o.uniq = (o.op == OP_NATURAL || o.op == OP_EXACT) ? tu_below(&rng, 5) != 0 : tu_below(&rng, 4) == 0;
    o.tsame = tu_below(&rng, 2);
    size_t ti = tu_below(&rng, 4);
    o.ltt = ttypes[ti][0];
    o.rtt = ttypes[ti][1];
    o.ineq = (int)tu_below(&rng, 3);
    o.maxl = tu_below(&rng, 8) == 0 ? 0 : 40;
    o.maxr = tu_below(&rng, 8) == 0 ? 0 : 30;
    if (o.op == OP_EXACT && tu_below(&rng, 2)) {
      /* make exact joins succeed sometimes: left keys drawn from a domain
       * covered by a unique right table is unlikely; use a tiny domain */
      o.kdom = 1 + (int64_t)tu_below(&rng, 3);
      o.nk = 1;
      o.lkt[0] = TIDE_I64;
      o.rkt[0] = TIDE_I32;
      o.lcover = true;
      o.uniq = true;
      o.maxr = 4;
    }
    int before = tu_failures;
    run_case(&rng, &o);
    if (tu_failures != before) {
      fprintf(stderr, "  (iteration %d, seed %llu)\n", iter, (unsigned long long)g_seed);
      if (tu_failures > 20) return;
    }
  }
  for (int op = 0; op < 5; op++)
    printf("  %-12s random cases: %u ok (%u output rows), %u expected errors\n", op_names[op],
           g_ok[op], g_rows[op], g_err[op]);
}

/* Hand-written exact_join success with a full domain. */
static void exact_ok(void) {
  const char *names[] = {"Sym", "Px"};
  tide_type_t types[] = {TIDE_SYMBOL, TIDE_F64};
  const char *syms[] = {"A", "B", "C", "A", "C"};
  double px[] = {1, 2, 3, 4, 5};
  tide_table_t *l = tu_table(5, 2, names, types, (const void *[]){syms, px});
  const char *rnames[] = {"Sym", "Name"};
  tide_type_t rtypes[] = {TIDE_STRING, TIDE_STRING};
  const char *rs[] = {"C", "B", "A"};
  const char *rn[] = {"cee", "bee", "ay"};
  tide_table_t *r = tu_table(3, 2, rnames, rtypes, (const void *[]){rs, rn});
  tide_error err;
  const char *on[] = {"Sym"};
  tide_table_t *j = tide_exact_join(l, r, on, 1, NULL, 0, &err);
  CHECK_OK_PTR(j, err);
  if (j) {
    const char *en[] = {"ay", "bee", "cee", "ay", "cee"};
    tide_table_t *exp = tu_table(5, 3, (const char *[]){"Sym", "Px", "Name"},
                                 (tide_type_t[]){TIDE_SYMBOL, TIDE_F64, TIDE_STRING},
                                 (const void *[]){syms, px, en});
    CHECK_TABLES(j, exp, 0);
    /* left shared: same source object */
    CHECK(tide_table_col_source(j, 0) == tide_table_col_source(l, 0));
    tide_table_free(exp);
  }
  tide_table_free(j);
  /* rename + explicit list */
  const char *joins[] = {"Nm=Name"};
  j = tide_natural_join(l, r, on, 1, joins, 1, &err);
  CHECK_OK_PTR(j, err);
  if (j) {
    CHECK(tide_table_ncols(j) == 3);
    CHECK(strcmp(tide_table_col_name(j, 2), "Nm") == 0);
    CHECK(strcmp(tu_cell(j, "Nm", 1), "bee") == 0);
  }
  tide_table_free(j);
  /* join of a right key column under a new name */
  const char *joins2[] = {"RSym=Sym", "Name"};
  j = tide_join(l, r, on, 1, joins2, 2, &err);
  CHECK_OK_PTR(j, err);
  if (j) {
    CHECK(tide_table_size(j) == 5);
    CHECK(strcmp(tu_cell(j, "RSym", 4), "C") == 0);
    CHECK(strcmp(tu_cell(j, "Name", 4), "cee") == 0);
  }
  tide_table_free(j);
  tide_table_free(l);
  tide_table_free(r);
}

static void expect_error(tide_table_t *res, const tide_error *err, tide_status st,
                         const char *needle) {
  CHECK_MSG(res == NULL, "expected error containing '%s'", needle);
  tide_table_free(res);
  if (!res) {
    CHECK_MSG(err->status == st, "status %d, want %d (%s)", (int)err->status, (int)st, err->msg);
    CHECK_MSG(strstr(err->msg, needle) != NULL, "message '%s' lacks '%s'", err->msg, needle);
  }
}

static void errors(void) {
  const char *ln[] = {"Sym", "Qty", "Px", "Time"};
  tide_type_t lt[] = {TIDE_SYMBOL, TIDE_I32, TIDE_F64, TIDE_TS};
  const char *lsym[] = {"AAPL", "MSFT", "AAPL"};
  int32_t lq[] = {3, 4, 3};
  double lpx[] = {1, 2, 3};
  int64_t lts[] = {10, 20, 30};
  tide_table_t *l = tu_table(3, 4, ln, lt, (const void *[]){lsym, lq, lpx, lts});
  const char *rn[] = {"Sym", "Qty", "Val", "RTime", "Px"};
  tide_type_t rt[] = {TIDE_SYMBOL, TIDE_I64, TIDE_F64, TIDE_TS, TIDE_F64};
  const char *rsym[] = {"MSFT", "IBM", "AAPL", "GOOG", "AAPL"};
  int64_t rq[] = {4, 1, 2, 3, 3};
  double rv[] = {1, 2, 3, 4, 5};
  int64_t rts[] = {5, 6, 7, 8, 9};
  double rpx[] = {9, 8, 7, 6, 5};
  tide_table_t *r = tu_table(5, 5, rn, rt, (const void *[]){rsym, rq, rv, rts, rpx});
  tide_error err;
  tide_table_t *res;
  const char *on2[] = {"Sym", "Qty"};
  const char *jv[] = {"Val"};
  /* natural_join duplicate */
  tide_table_t *r2 = tu_table(5, 2, (const char *[]){"Sym", "Qty"},
                              (tide_type_t[]){TIDE_STRING, TIDE_I32},
                              (const void *[]){(const char *[]){"X", "AAPL", "Y", "Z", "AAPL"},
                                               (int32_t[]){1, 3, 1, 1, 3}});
  res = tide_natural_join(l, r2, on2, 2, NULL, 0, &err);
  expect_error(res, &err, TIDE_ERR_DUPLICATE, "natural_join: duplicate right key (AAPL, 3) at right rows 1 and 4");
  res = tide_exact_join(l, r2, on2, 2, NULL, 0, &err);
  expect_error(res, &err, TIDE_ERR_DUPLICATE, "exact_join: duplicate right key (AAPL, 3)");
  /* exact_join missing: MSFT/4 matches, AAPL/3 matches rq index 4, all match? make one miss */
  const char *on1[] = {"Qty"};
  res = tide_exact_join(l, r2, (const char *[]){"Sym"}, 1, (const char *[]){"Q2=Qty"}, 1, &err);
  expect_error(res, &err, TIDE_ERR_DUPLICATE, "duplicate right key (AAPL)");
  tide_table_t *r3 = tu_table(2, 2, (const char *[]){"Q", "W"}, (tide_type_t[]){TIDE_I16, TIDE_F64},
                              (const void *[]){(int16_t[]){3, 9}, (double[]){1, 2}});
  res = tide_exact_join(l, r3, (const char *[]){"Qty=Q"}, 1, NULL, 0, &err);
  expect_error(res, &err, TIDE_ERR_NOT_FOUND, "exact_join: no right row matches left key (4) at left row 1");
  /* name collision: Px exists on both sides */
  res = tide_natural_join(l, r, on2, 2, NULL, 0, &err);
  expect_error(res, &err, TIDE_ERR_DUPLICATE, "'Px'");
  res = tide_join(l, r, on2, 2, (const char *[]){"Qty"}, 1, &err);
  expect_error(res, &err, TIDE_ERR_DUPLICATE, "'Qty'");
  res = tide_join(l, r, on2, 2, (const char *[]){"A=Val", "A=Px"}, 2, &err);
  expect_error(res, &err, TIDE_ERR_DUPLICATE, "'A'");
  /* type mismatch: int vs double */
  res = tide_natural_join(l, r, (const char *[]){"Qty=Val"}, 1, jv, 1, &err);
  expect_error(res, &err, TIDE_ERR_TYPE, "'Qty' (int32)");
  res = tide_natural_join(l, r, (const char *[]){"Time=Qty"}, 1, jv, 1, &err);
  expect_error(res, &err, TIDE_ERR_TYPE, "incompatible");
  /* unknown columns */
  res = tide_natural_join(l, r, (const char *[]){"Nope"}, 1, jv, 1, &err);
  expect_error(res, &err, TIDE_ERR_NOT_FOUND, "no column 'Nope' in left table");
  res = tide_natural_join(l, r, (const char *[]){"Sym=Nope"}, 1, jv, 1, &err);
  expect_error(res, &err, TIDE_ERR_NOT_FOUND, "no column 'Nope' in right table");
  res = tide_natural_join(l, r, on1, 1, (const char *[]){"Zzz"}, 1, &err);
  expect_error(res, &err, TIDE_ERR_NOT_FOUND, "no column 'Zzz' in right table");
  /* as-of errors */
  res = tide_aj(l, r, (const char *[]){"Sym", "Time <= RTime"}, 2, jv, 1, &err);
  expect_error(res, &err, TIDE_ERR_INVALID, "aj: the time match");
  res = tide_raj(l, r, (const char *[]){"Sym", "Time > RTime"}, 2, jv, 1, &err);
  expect_error(res, &err, TIDE_ERR_INVALID, "raj: the time match");
  res = tide_aj(l, r, (const char *[]){"Sym", "Time >= Qty"}, 2, jv, 1, &err);
  expect_error(res, &err, TIDE_ERR_TYPE, "cannot compare");
  res = tide_aj(l, r, (const char *[]){"Sym", "Time >= Sym"}, 2, jv, 1, &err);
  expect_error(res, &err, TIDE_ERR_TYPE, "'Sym' has type symbol");
  res = tide_aj(l, r, NULL, 0, jv, 1, &err);
  expect_error(res, &err, TIDE_ERR_INVALID, "aj:");
  res = tide_aj(l, r, (const char *[]){"Time >= Nope"}, 1, jv, 1, &err);
  expect_error(res, &err, TIDE_ERR_NOT_FOUND, "'Nope'");
  res = tide_aj(l, r, (const char *[]){"Time >= "}, 1, jv, 1, &err);
  expect_error(res, &err, TIDE_ERR_PARSE, "malformed");
  /* aj default adds: RTime added (no left column of that name), Px collides */
  res = tide_aj(l, r, (const char *[]){"Sym", "Time >= RTime"}, 2, NULL, 0, &err);
  expect_error(res, &err, TIDE_ERR_DUPLICATE, "collides with a left column");
  res = tide_aj(l, r, (const char *[]){"Sym", "Time >= RTime"}, 2, (const char *[]){"RTime", "Val"}, 2, &err);
  CHECK_OK_PTR(res, err);
  if (res) {
    /* AAPL@10: right AAPL rows at times 7 (Val 3) and 9 (Val 5) -> 9 */
    CHECK(tu_cell_f64(res, "Val", 0) == 5);
    CHECK(tu_cell_f64(res, "Val", 1) == 1);
    CHECK(tu_cell_f64(res, "RTime", 2) == 9);
  }
  tide_table_free(res);
  tide_table_free(r2);
  tide_table_free(r3);
  tide_table_free(l);
  tide_table_free(r);
}

/* aj/raj: four inequality forms on a hand-made unsorted right table with
 * ties and nulls. */
static void asof_forms(void) {
  int64_t N = TIDE_NULL_TS;
  const char *rk[] = {"A", "A", "A", "B", "A", "A", "A"};
  int64_t rt[] = {30, 10, 20, 15, 20, N, 10};
  int32_t rv[] = {0, 1, 2, 3, 4, 5, 6};
  tide_table_t *r = tu_table(7, 3, (const char *[]){"Sym", "Time", "V"},
                             (tide_type_t[]){TIDE_SYMBOL, TIDE_TS, TIDE_I32},
                             (const void *[]){rk, rt, rv});
  const char *lk[] = {"A", "A", "A", "A", "A", "B", "C", "A"};
  int64_t lt[] = {5, 10, 15, 20, 30, 15, 20, N};
  tide_table_t *l = tu_table(8, 2, (const char *[]){"Sym", "Time"},
                             (tide_type_t[]){TIDE_STRING, TIDE_TS}, (const void *[]){lk, lt});
  /* sorted A times: 10(v1) 10(v6) 20(v2) 20(v4) 30(v0) */
  const int32_t n = TIDE_NULL_I32;
  struct {
    int aj;
    const char *m;
    int32_t want[8];
  } cases[] = {
      {1, "Time", {n, 6, 6, 4, 0, 3, n, n}},
      {1, "Time >= Time", {n, 6, 6, 4, 0, 3, n, n}},
      {1, "Time > Time", {n, n, 6, 6, 4, n, n, n}},
      {0, "Time", {1, 1, 2, 2, 0, 3, n, n}},
      {0, "Time <= Time", {1, 1, 2, 2, 0, 3, n, n}},
      {0, "Time < Time", {1, 2, 2, 0, n, n, n, n}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    tide_error err;
    const char *on[] = {"Sym", cases[c].m};
    tide_table_t *res = cases[c].aj ? tide_aj(l, r, on, 2, NULL, 0, &err)
                                    : tide_raj(l, r, on, 2, NULL, 0, &err);
    CHECK_OK_PTR(res, err);
    if (!res) continue;
    CHECK(tide_table_ncols(res) == 3); /* Sym, Time, V (right Time has the left's name) */
    for (uint64_t i = 0; i < 8; i++) {
      int32_t got;
      tide_table_get(res, 2, i, &got, NULL);
      CHECK_MSG(got == cases[c].want[i], "%s '%s' row %llu: got %d want %d",
                cases[c].aj ? "aj" : "raj", cases[c].m, (unsigned long long)i, got,
                cases[c].want[i]);
    }
    tide_table_free(res);
  }
  /* no exact keys: whole right table is one group */
  tide_error err;
  tide_table_t *res = tide_aj(l, r, (const char *[]){"Time"}, 1, (const char *[]){"V"}, 1, &err);
  CHECK_OK_PTR(res, err);
  if (res) {
    CHECK(tu_cell_f64(res, "V", 2) == 3); /* time 15: B's row at 15 */
    CHECK(isnan(tu_cell_f64(res, "V", 0)));
  }
  tide_table_free(res);
  tide_table_free(l);
  tide_table_free(r);
}

static void empty_sides(void) {
  tide_table_t *e = tide_table_create_empty(2, (const char *[]){"K", "V"},
                                            (tide_type_t[]){TIDE_I64, TIDE_F64}, NULL);
  tide_table_t *e2 = tide_table_create_empty(2, (const char *[]){"K", "W"},
                                             (tide_type_t[]){TIDE_I32, TIDE_F64}, NULL);
  int64_t k[] = {1, 2};
  double v[] = {3, 4};
  tide_table_t *t = tu_table(2, 2, (const char *[]){"K", "V"}, (tide_type_t[]){TIDE_I64, TIDE_F64},
                             (const void *[]){k, v});
  tide_error err;
  const char *on[] = {"K"};
  for (int op = 0; op < 5; op++) {
    const char *aon[] = {"K"};
    bool asof = op == OP_AJ || op == OP_RAJ;
    tide_table_t *a = run_op(op, e, e2, asof ? aon : on, 1, NULL, 0, &err);
    CHECK_MSG(a != NULL, "%s empty/empty: %s", op_names[op], err.msg);
    if (a) {
      CHECK(tide_table_size(a) == 0);
      CHECK(tide_table_ncols(a) == 3);
    }
    tide_table_free(a);
    a = run_op(op, t, e2, on, 1, NULL, 0, &err);
    if (op == OP_EXACT) {
      CHECK(a == NULL);
    } else {
      CHECK_MSG(a != NULL, "%s left/empty: %s", op_names[op], err.msg);
      if (a) {
        CHECK(tide_table_size(a) == (op == OP_JOIN ? 0u : 2u));
        if (op != OP_JOIN) CHECK(isnan(tu_cell_f64(a, "W", 1)));
      }
    }
    tide_table_free(a);
  }
  tide_table_free(e);
  tide_table_free(e2);
  tide_table_free(t);
}

/* Byte-identical tables (same sources underneath), compared by chunks. */
static bool same_tables(const tide_table_t *a, const tide_table_t *b) {
  uint64_t n = tide_table_size(a);
  if (n != tide_table_size(b) || tide_table_ncols(a) != tide_table_ncols(b)) return false;
  if (!tide_rowset_equals(tide_table_rowset(a), tide_table_rowset(b))) return false;
  static uint64_t keys[TIDE_CHUNK_SIZE], va[TIDE_CHUNK_SIZE], vb[TIDE_CHUNK_SIZE];
  for (size_t c = 0; c < tide_table_ncols(a); c++) {
    const tide_source_t *sa = tide_table_col_source(a, c), *sb = tide_table_col_source(b, c);
    size_t w = tide_type_width(tide_source_type(sa));
    tide_rowset_iter_t it;
    tide_rowseq_t seq;
    tide_rowset_iter_init(&it, tide_table_rowset(a));
    while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, keys)) {
      tide_source_fill(sa, &seq, va);
      tide_source_fill(sb, &seq, vb);
      if (memcmp(va, vb, seq.n * w) != 0) return false;
    }
  }
  return true;
}

/* Results must not depend on the thread count (several morsels, dense
 * and sparse left); spot checks against brute force. */
static void threads(void) {
  tu_rng rng = {g_seed ^ 0x5eed};
  uint64_t nl = 2 * TIDE_MORSEL_ROWS + 123, nr = 5000;
  int64_t *lk = malloc(nl * sizeof(int64_t)), *lt = malloc(nl * sizeof(int64_t));
  int64_t *rk = malloc(nr * sizeof(int64_t)), *rk2 = malloc(nr * sizeof(int64_t));
  int64_t *rt = malloc(nr * sizeof(int64_t));
  double *rv = malloc(nr * sizeof(double));
  for (uint64_t i = 0; i < nl; i++) {
    lk[i] = (int64_t)tu_below(&rng, 6000);
    lt[i] = (int64_t)tu_below(&rng, 1000);
  }
  for (uint64_t j = 0; j < nr; j++) {
    rk[j] = (int64_t)j;
    rk2[j] = (int64_t)(j % 700);
    rt[j] = (int64_t)tu_below(&rng, 1000);
    rv[j] = (double)j;
  }
  tide_table_t *l = tu_table(nl, 2, (const char *[]){"K", "T"}, (tide_type_t[]){TIDE_I64, TIDE_TS},
                             (const void *[]){lk, lt});
  tide_table_t *r = tu_table(nr, 3, (const char *[]){"K", "T", "V"},
                             (tide_type_t[]){TIDE_I64, TIDE_TS, TIDE_F64},
                             (const void *[]){rk, rt, rv});
  tide_table_t *r2 = tu_table(nr, 3, (const char *[]){"K", "T", "V"},
                              (tide_type_t[]){TIDE_I64, TIDE_TS, TIDE_F64},
                              (const void *[]){rk2, rt, rv});
  int64_t *sel = malloc(nl * sizeof(int64_t));
  uint64_t nsel = 0;
  for (uint64_t i = 0; i < nl; i++)
    if (i % 4 != 3) sel[nsel++] = (int64_t)i;
  tide_table_t *ls = subset(l, sel, nsel);
  tide_error err;
  const char *on[] = {"K"};
  const char *aon[] = {"K", "T"};
  const char *jv[] = {"V"};
  for (int sparse = 0; sparse < 2; sparse++) {
    tide_table_t *lsel = sparse ? ls : l;
    uint64_t n = sparse ? nsel : nl;
    for (int op = 0; op < 5; op++) {
      if (op == OP_EXACT) continue;
      tide_table_t *rr = op == OP_NATURAL ? r : r2;
      const int64_t *rkk = op == OP_NATURAL ? rk : rk2;
      bool asof = op >= OP_AJ;
      tide_set_threads(1, NULL);
      tide_table_t *a = run_op(op, lsel, rr, asof ? aon : on, asof ? 2 : 1, jv, 1, &err);
      CHECK_OK_PTR(a, err);
      tide_set_threads(2, NULL);
      tide_table_t *b = run_op(op, lsel, rr, asof ? aon : on, asof ? 2 : 1, jv, 1, &err);
      CHECK_OK_PTR(b, err);
      if (a && b) CHECK_MSG(same_tables(a, b), "%s sparse=%d: threads 1 vs 2 differ", op_names[op], sparse);
      if (b && op != OP_JOIN) {
        CHECK(tide_table_size(b) == n);
        for (uint64_t p = 0; p < n; p += 997) {
          uint64_t i = sparse ? (uint64_t)sel[p] : p;
          int64_t best = -1;
          for (uint64_t j = 0; j < nr; j++) {
            if (rkk[j] != lk[i]) continue;
            if (op == OP_NATURAL) best = (int64_t)j;
            else if (op == OP_AJ && rt[j] <= lt[i] && (best < 0 || rt[j] >= rt[best])) best = (int64_t)j;
            else if (op == OP_RAJ && rt[j] >= lt[i] && (best < 0 || rt[j] < rt[best])) best = (int64_t)j;
          }
          double got = tu_cell_f64(b, "V", p);
          CHECK_MSG(best < 0 ? isnan(got) : got == (double)best, "%s sparse=%d pos %llu: got %g want %lld",
                    op_names[op], sparse, (unsigned long long)p, got, (long long)best);
          CHECK(tu_cell_f64(b, "K", p) == (double)lk[i]);
        }
      }
      if (b && op == OP_JOIN) {
        uint64_t want = 0;
        for (uint64_t p = 0; p < n; p++) {
          uint64_t i = sparse ? (uint64_t)sel[p] : p;
          want += lk[i] < 700 ? (nr / 700 + ((uint64_t)lk[i] < nr % 700)) : 0;
        }
        CHECK_MSG(tide_table_size(b) == want, "join size %llu want %llu",
                  (unsigned long long)tide_table_size(b), (unsigned long long)want);
      }
      tide_table_free(a);
      tide_table_free(b);
    }
  }
  tide_set_threads(0, NULL);
  tide_table_free(ls);
  tide_table_free(l);
  tide_table_free(r);
  tide_table_free(r2);
  free(sel);
  free(lk);
  free(lt);
  free(rk);
  free(rk2);
  free(rt);
  free(rv);
}

/* Allocation failure injection: the k-th allocation fails. */
static void oom(void) {
  const char *syms[] = {"A", "B", "C", "A", NULL, "B"};
  int64_t ts[] = {1, 2, 3, 4, 5, 6};
  tide_table_t *l = tu_table(6, 2, (const char *[]){"Sym", "T"},
                             (tide_type_t[]){TIDE_SYMBOL, TIDE_TS}, (const void *[]){syms, ts});
  const char *rsyms[] = {"B", "A", "D", NULL};
  int64_t rts[] = {1, 2, 3, 0};
  const char *rv[] = {"x", "y", "z", "w"};
  tide_table_t *r = tu_table(4, 3, (const char *[]){"Sym", "RT", "V"},
                             (tide_type_t[]){TIDE_STRING, TIDE_TS, TIDE_STRING},
                             (const void *[]){rsyms, rts, rv});
  for (int op = 0; op < 6; op++) {
    bool done = false;
    for (int k = 0; k < 200 && !done; k++) {
      tide_error err;
      tide_error_clear(&err);
      tu_oom_arm(k);
      tide_table_t *res;
      if (op == 5)
        res = tide_where_in(l, r, (const char *[]){"Sym"}, 1, &err);
      else
        res = run_op(op, l, r, (const char *[]){"Sym", op == OP_RAJ ? "T <= RT" : "T >= RT"},
                     op >= OP_AJ ? 2 : 1,
                     (const char *[]){"V"}, 1, &err);
      tu_oom_disarm();
      if (res) {
        done = true;
        tide_table_free(res);
      } else if (op != OP_EXACT) {
        CHECK_MSG(err.status == TIDE_ERR_NOMEM, "op %d fail at %d: %s", op, k, err.msg);
      }
    }
    CHECK_MSG(done || op == OP_EXACT, "op %d never succeeded", op);
  }
  tide_table_free(l);
  tide_table_free(r);
}

/* ------------------------------------------------ single integer keys */

/* Reference for one integer key: right (key, position) pairs sorted by
 * key then position; a left key's matches are one run, in right order. */
typedef struct kp_t {
  int64_t k; /* INT64_MIN: null (matches null) */
  int64_t pos;
} kp_t;
static int kp_cmp(const void *a, const void *b) {
  const kp_t *x = a, *y = b;
  if (x->k != y->k) return x->k < y->k ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}
static uint64_t kp_lower(const kp_t *a, uint64_t n, int64_t k) {
  uint64_t lo = 0, hi = n;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (a[mid].k < k) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/* int64 values of column `col` of t, in RowSet order (int64 columns). */
static int64_t *read_i64(const tide_table_t *t, const char *col) {
  uint64_t n = tide_table_size(t);
  int64_t *out = malloc((n ? n : 1) * sizeof *out);
  int c = tide_table_col_index(t, col);
  CHECK(c >= 0 && tide_source_type(tide_table_col_source(t, (size_t)c)) == TIDE_I64);
  if (c < 0) return out;
  const tide_source_t *src = tide_table_col_source(t, (size_t)c);
  static uint64_t keys[TIDE_CHUNK_SIZE];
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init(&it, tide_table_rowset(t));
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, keys))
    tide_source_fill(src, &seq, out + seq.pos);
  return out;
}

/* An int key column of type t from int64 values (INT64_MIN: null). */
static void *int_keys_col(tide_type_t t, const int64_t *v, uint64_t n) {
  if (t == TIDE_I64) {
    int64_t *o = malloc((n ? n : 1) * sizeof *o);
    memcpy(o, v, n * sizeof *o);
    return o;
  }
  int32_t *o = malloc((n ? n : 1) * sizeof *o);
  for (uint64_t i = 0; i < n; i++) o[i] = v[i] == INT64_MIN ? TIDE_NULL_I32 : (int32_t)v[i];
  return o;
}

/* join, natural_join, exact_join, where_in and where_not_in on one integer
 * key (the dense direct-address key set and its hashed fallback) over
 * tables of several morsels, against the sort-based reference, at 1 and
 * 2 threads (identical tables required). Key sets: dense positive, dense
 * with negatives, sparse (range far above 4x the rows: hashed), with
 * nulls on both sides, repeated right keys; INT64, INT32 and INT32 left
 * vs INT64 right. */
static void int_keys(void) {
  tu_rng rng = {g_seed ^ 0x1e75};
  const uint64_t nr = 150000, nl = TIDE_MORSEL_ROWS + 5777;
  static const tide_type_t tp[][2] = {{TIDE_I64, TIDE_I64}, {TIDE_I32, TIDE_I32}, {TIDE_I32, TIDE_I64}};
  unsigned ncase = 0;
  uint64_t nrows = 0;
  for (int dist = 0; dist < 6; dist++) {
    /* 0 dense 1..nr; 1 dense around 0 (negatives); 2 sparse; 3 dense with
     * nulls and repeated right keys; 4 sparse with nulls and repeats;
     * 5 dense, every left key matches, left over a sparse RowSet (every
     * third row left out) */
    const bool lsparse = dist == 5;
    int64_t *rk = malloc(nr * sizeof *rk), *lk = malloc(nl * sizeof *lk);
    bool repeats = dist >= 3, nulls = dist >= 3;
    int64_t base = dist == 1 ? -(int64_t)nr / 2 : 1;
    int64_t mul = (dist == 2 || dist == 4) ? 1009 : 1;
    for (uint64_t j = 0; j < nr; j++) rk[j] = (int64_t)j;
    for (uint64_t j = nr; j > 1; j--) { /* shuffle */
      uint64_t x = tu_below(&rng, j);
      int64_t t = rk[j - 1];
      rk[j - 1] = rk[x];
      rk[x] = t;
    }
    for (uint64_t j = 0; j < nr; j++) {
      int64_t x = repeats ? (int64_t)tu_below(&rng, nr / 3) : rk[j];
      rk[j] = base + x * mul;
      if (nulls && tu_below(&rng, 5000) == 0) rk[j] = INT64_MIN;
    }
    for (uint64_t i = 0; i < nl; i++) {
      /* 90%: a key in the right's domain; else a miss (outside or between) */
      int64_t x = (int64_t)tu_below(&rng, (uint64_t)(repeats ? nr / 3 : nr));
      lk[i] = base + x * mul;
      if (dist != 5 && tu_below(&rng, 10) == 0)
        lk[i] += tu_below(&rng, 2) ? (int64_t)(nr + 5) * mul : (mul > 1 ? 1 : -(int64_t)nr * 2);
      if (nulls && tu_below(&rng, 400) == 0) lk[i] = INT64_MIN;
    }
    kp_t *ref = malloc(nr * sizeof *ref);
    for (uint64_t j = 0; j < nr; j++) ref[j] = (kp_t){rk[j], (int64_t)j};
    qsort(ref, nr, sizeof *ref, kp_cmp);
    bool uniq = true;
    for (uint64_t j = 1; j < nr && uniq; j++) uniq = ref[j].k != ref[j - 1].k;
    int64_t *lpos = malloc(nl * sizeof *lpos), *rpos = malloc(nr * sizeof *rpos);
    for (uint64_t i = 0; i < nl; i++) lpos[i] = (int64_t)i;
    for (uint64_t j = 0; j < nr; j++) rpos[j] = (int64_t)j;
    for (size_t ti = 0; ti < sizeof tp / sizeof tp[0]; ti++) {
      /* every type pair on dists 0 and 3, one each on the others */
      if (dist != 0 && dist != 3 && dist != 5 && ti != (size_t)(dist % 3)) continue;
      void *lkc = int_keys_col(tp[ti][0], lk, nl), *rkc = int_keys_col(tp[ti][1], rk, nr);
      tide_table_t *lfull = tu_table(nl, 2, (const char *[]){"K", "LP"},
                                     (tide_type_t[]){tp[ti][0], TIDE_I64}, (const void *[]){lkc, lpos});
      tide_table_t *l = lfull;
      if (lsparse) {
        int64_t *sel = malloc(nl * sizeof *sel);
        uint64_t ns = 0;
        for (uint64_t i = 0; i < nl; i++)
          if (i % 3 != 1) sel[ns++] = (int64_t)i;
        l = subset(lfull, sel, ns);
        free(sel);
      }
      tide_table_t *r = tu_table(nr, 2, (const char *[]){"K", "RP"},
                                 (tide_type_t[]){tp[ti][1], TIDE_I64}, (const void *[]){rkc, rpos});
      for (int op = 0; op < 5; op++) { /* natural, exact, join, where_in, where_not_in */
        if ((op == 0 || op == 1) && !uniq) continue;
        tide_table_t *res[2] = {NULL, NULL};
        for (int th = 0; th < 2; th++) {
          tide_error err;
          tide_set_threads(th + 1, NULL);
          const char *on[] = {"K"};
          if (op == 0) res[th] = tide_natural_join(l, r, on, 1, NULL, 0, &err);
          else if (op == 1) res[th] = tide_exact_join(l, r, on, 1, NULL, 0, &err);
          else if (op == 2) res[th] = tide_join(l, r, on, 1, NULL, 0, &err);
          else if (op == 3) res[th] = tide_where_in(l, r, on, 1, &err);
          else res[th] = tide_where_not_in(l, r, on, 1, &err);
          if (op == 1 && lsparse) { /* every key matches: same as natural_join */
            CHECK_OK_PTR(res[th], err);
            continue;
          }
          if (op == 1) { /* left keys miss: the error names the first missing left row */
            CHECK_MSG(res[th] == NULL && err.status == TIDE_ERR_NOT_FOUND, "exact_join dist %d: %s", dist,
                      res[th] ? "no error" : err.msg);
            uint64_t first = 0;
            for (; first < nl; first++) {
              uint64_t a = kp_lower(ref, nr, lk[first]);
              if (a >= nr || ref[a].k != lk[first]) break;
            }
            char tail[64];
            snprintf(tail, sizeof tail, "at left row %llu", (unsigned long long)first);
            CHECK_MSG(res[th] == NULL && strstr(err.msg, tail), "exact_join: '%s' lacks '%s'", err.msg, tail);
            continue;
          }
          CHECK_OK_PTR(res[th], err);
        }
        tide_set_threads(0, NULL);
        if (op == 1 && !lsparse) continue;
        if (res[0] && res[1])
          CHECK_MSG(same_tables(res[0], res[1]), "dist %d types %zu op %d: 1 and 2 threads differ", dist, ti, op);
        /* expected (left position, right position) pairs */
        uint64_t m = 0, cap = op == 2 ? nl * 8 : nl;
        int64_t *el = malloc(cap * sizeof *el), *er = malloc(cap * sizeof *er);
        for (uint64_t i = 0; i < nl; i++) {
          if (lsparse && i % 3 == 1) continue;
          uint64_t a = kp_lower(ref, nr, lk[i]), b = a;
          while (b < nr && ref[b].k == lk[i]) b++;
          if (op <= 1) {
            el[m] = (int64_t)i;
            er[m++] = b > a ? ref[a].pos : INT64_MIN;
          } else if (op == 2) {
            for (uint64_t x = a; x < b; x++) {
              if (m == cap) {
                cap *= 2;
                el = realloc(el, cap * sizeof *el);
                er = realloc(er, cap * sizeof *er);
              }
              el[m] = (int64_t)i;
              er[m++] = ref[x].pos;
            }
          } else if ((b > a) == (op == 3)) {
            el[m++] = (int64_t)i;
          }
        }
        tide_table_t *t = res[1];
        if (t) {
          CHECK_MSG(tide_table_size(t) == m, "dist %d types %zu op %d: %llu rows, want %llu", dist, ti, op,
                    (unsigned long long)tide_table_size(t), (unsigned long long)m);
          if (tide_table_size(t) == m) {
            int64_t *gl = read_i64(t, "LP"), *gr = op <= 2 ? read_i64(t, "RP") : NULL;
            if (lsparse && op == 2) /* all matched once: left columns redirected, not shared */
              CHECK(tide_table_col_source(t, 0) != tide_table_col_source(l, 0));
            uint64_t bad = m;
            for (uint64_t x = 0; x < m && bad == m; x++)
              if (gl[x] != el[x] || (gr && gr[x] != er[x])) bad = x;
            CHECK_MSG(bad == m, "dist %d types %zu op %d: row %llu is (%lld, %lld), want (%lld, %lld)", dist, ti,
                      op, (unsigned long long)bad, bad < m ? (long long)gl[bad] : 0,
                      bad < m && gr ? (long long)gr[bad] : 0, bad < m ? (long long)el[bad] : 0,
                      bad < m ? (long long)er[bad] : 0);
            free(gl);
            free(gr);
          }
        }
        nrows += m;
        ncase++;
        free(el);
        free(er);
        tide_table_free(res[0]);
        tide_table_free(res[1]);
      }
      if (l != lfull) tide_table_free(l);
      tide_table_free(lfull);
      tide_table_free(r);
      free(lkc);
      free(rkc);
    }
    free(ref);
    free(lpos);
    free(rpos);
    free(rk);
    free(lk);
  }
  printf("  single integer keys: %u cases, %llu result rows checked\n", ncase, (unsigned long long)nrows);
}

/* Allocation failures on the integer-key paths (dense key set, direct
 * map, morsel id buffers): every failure is a clean NOMEM, and with no
 * failure the result is right. */
static void oom_int_keys(void) {
  enum { NL = 3000, NR = 500 };
  int64_t *lk = malloc(NL * sizeof *lk), *lv = malloc(NL * sizeof *lv);
  int64_t *rk = malloc(NR * sizeof *rk), *rv = malloc(NR * sizeof *rv);
  for (int i = 0; i < NL; i++) lk[i] = (i * 7) % 600, lv[i] = i;
  for (int j = 0; j < NR; j++) rk[j] = j, rv[j] = 1000 + j;
  tide_table_t *l = tu_table(NL, 2, (const char *[]){"K", "LV"}, (tide_type_t[]){TIDE_I64, TIDE_I64},
                             (const void *[]){lk, lv});
  tide_table_t *r = tu_table(NR, 2, (const char *[]){"K", "RV"}, (tide_type_t[]){TIDE_I64, TIDE_I64},
                             (const void *[]){rk, rv});
  unsigned fired = 0;
  for (int op = 0; op < 4; op++) {
    bool done = false;
    for (int k = 0; k < 400 && !done; k++) {
      tide_error err;
      tide_error_clear(&err);
      tu_oom_arm(k);
      const char *on[] = {"K"};
      tide_table_t *res = op == 0   ? tide_natural_join(l, r, on, 1, NULL, 0, &err)
                          : op == 1 ? tide_join(l, r, on, 1, NULL, 0, &err)
                          : op == 2 ? tide_where_in(l, r, on, 1, &err)
                                    : tide_where_not_in(l, r, on, 1, &err);
      bool f = tu_oom_fired();
      tu_oom_disarm();
      if (res) {
        done = true;
        /* left keys 500..599 have no right row */
        uint64_t want = op == 0 ? NL : 0;
        for (int i = 0; i < NL && op > 0; i++) want += (lk[i] < NR) == (op != 3);
        CHECK_MSG(tide_table_size(res) == want, "op %d: %llu rows, want %llu", op,
                  (unsigned long long)tide_table_size(res), (unsigned long long)want);
        tide_table_free(res);
      } else {
        CHECK_MSG(err.status == TIDE_ERR_NOMEM, "op %d fail at %d: %s", op, k, err.msg);
        fired += f;
      }
    }
    CHECK_MSG(done, "int-key op %d never succeeded", op);
  }
  CHECK(fired > 0);
  tide_table_free(l);
  tide_table_free(r);
  free(lk);
  free(lv);
  free(rk);
  free(rv);
}

int main(void) {
  g_seed = tu_seed(20261121);
  for (int i = 0; i < 64; i++) snprintf(g_pool[i], sizeof g_pool[i], "s%d", i);
  exact_ok();
  errors();
  asof_forms();
  empty_sides();
  oom();
  oom_int_keys();
  random_cases();
  threads();
  int_keys();
  return tu_finish("test_join");
}
