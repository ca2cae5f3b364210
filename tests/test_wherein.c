/*
 * where_in / where_not_in against a naive nested-loop reference: random
 * tables with int/symbol/string/timestamp/double keys (different widths and
 * dictionaries on the two sides), multi-column matches, null keys,
 * duplicate filter rows, sparse RowSets, empty tables, errors and
 * thread-count independence.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static uint64_t g_seed;
static char g_pool[64][16];

static size_t esz(tide_type_t t) {
  return (t == TIDE_STRING || t == TIDE_SYMBOL) ? sizeof(char *) : tide_type_width(t);
}

/* Column in tu_table input form from value indexes (-1: null). */
static void *make_col(tide_type_t t, const int64_t *v, uint64_t n) {
  void *out = malloc((n ? n : 1) * esz(t));
  for (uint64_t i = 0; i < n; i++) {
    bool nul = v[i] < 0;
    int64_t x = v[i];
    switch (t) {
    case TIDE_I8: ((int8_t *)out)[i] = nul ? TIDE_NULL_I8 : (int8_t)(x - 3); break;
    case TIDE_I16: ((int16_t *)out)[i] = nul ? TIDE_NULL_I16 : (int16_t)(x - 3); break;
    case TIDE_I32: ((int32_t *)out)[i] = nul ? TIDE_NULL_I32 : (int32_t)(x - 3); break;
    case TIDE_I64: ((int64_t *)out)[i] = nul ? TIDE_NULL_I64 : x - 3; break;
    case TIDE_TS: ((int64_t *)out)[i] = nul ? TIDE_NULL_TS : x * 1000000; break;
    case TIDE_F32: ((float *)out)[i] = nul ? TIDE_NULL_F32 : (float)x * 0.25f; break;
    case TIDE_F64: ((double *)out)[i] = nul ? TIDE_NULL_F64 : (double)x * 0.25; break;
    default: ((const char **)out)[i] = nul ? NULL : g_pool[x % 64]; break;
    }
  }
  return out;
}

static void *gather(tide_type_t t, const void *data, const int64_t *idx, uint64_t m) {
  size_t w = esz(t);
  char *out = malloc((m ? m : 1) * w);
  for (uint64_t i = 0; i < m; i++) memcpy(out + i * w, (const char *)data + (size_t)idx[i] * w, w);
  return out;
}

static tide_table_t *subset(tide_table_t *t, const int64_t *sel, uint64_t m) {
  uint64_t *keys = malloc((m ? m : 1) * sizeof(uint64_t));
  for (uint64_t i = 0; i < m; i++) keys[i] = (uint64_t)sel[i];
  tide_rowset_t *rs = tide_rowset_from_keys(keys, m);
  free(keys);
  size_t nc = tide_table_ncols(t);
  const char *names[8];
  tide_source_t *srcs[8];
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

static const tide_type_t kpairs[][2] = {
    {TIDE_I64, TIDE_I64},      {TIDE_I32, TIDE_I64},       {TIDE_I8, TIDE_I16},
    {TIDE_SYMBOL, TIDE_SYMBOL}, {TIDE_SYMBOL, TIDE_STRING}, {TIDE_STRING, TIDE_SYMBOL},
    {TIDE_STRING, TIDE_STRING}, {TIDE_TS, TIDE_TS},         {TIDE_F64, TIDE_F32},
};
#define NKPAIRS (sizeof kpairs / sizeof kpairs[0])

static void random_cases(void) {
  tu_rng rng = {g_seed};
  for (int iter = 0; iter < 800; iter++) {
    size_t nk = 1 + tu_below(&rng, 2);
    bool invert = tu_below(&rng, 2);
    bool sparse = tu_below(&rng, 3) == 0;
    bool same = tu_below(&rng, 2);
    int64_t kd = 1 + (int64_t)tu_below(&rng, 6);
    uint64_t nl = tu_below(&rng, 8) ? tu_below(&rng, 50) : 0;
    uint64_t nr = tu_below(&rng, 8) ? tu_below(&rng, 20) : 0;
    const char *lnames[3] = {"A", "B", "LV"}, *rnames[3] = {"A", "B", "RV"};
    if (!same) {
      rnames[0] = "FA";
      rnames[1] = "FB";
    }
    tide_type_t lt[3], rt[3];
    int64_t *li[2], *ri[2];
    void *ld[3], *rd[3];
    for (size_t k = 0; k < nk; k++) {
      size_t p = tu_below(&rng, NKPAIRS);
      lt[k] = kpairs[p][0];
      rt[k] = kpairs[p][1];
      li[k] = malloc((nl ? nl : 1) * sizeof(int64_t));
      ri[k] = malloc((nr ? nr : 1) * sizeof(int64_t));
      for (uint64_t i = 0; i < nl; i++)
        li[k][i] = tu_below(&rng, 10) == 0 ? -1 : (int64_t)tu_below(&rng, (uint64_t)kd + 1);
      for (uint64_t j = 0; j < nr; j++)
        ri[k][j] = tu_below(&rng, 10) == 0 ? -1 : (int64_t)tu_below(&rng, (uint64_t)kd);
      ld[k] = make_col(lt[k], li[k], nl);
      rd[k] = make_col(rt[k], ri[k], nr);
    }
    int64_t *lv = malloc((nl ? nl : 1) * sizeof(int64_t));
    int64_t *rv = malloc((nr ? nr : 1) * sizeof(int64_t));
    for (uint64_t i = 0; i < nl; i++) lv[i] = (int64_t)i;
    for (uint64_t j = 0; j < nr; j++) rv[j] = (int64_t)j;
    lt[nk] = rt[nk] = TIDE_I64;
    ld[nk] = lv;
    rd[nk] = rv;
    const char *ln[3], *rn[3];
    for (size_t k = 0; k < nk; k++) {
      ln[k] = lnames[k];
      rn[k] = rnames[k];
    }
    ln[nk] = lnames[2];
    rn[nk] = rnames[2];
    tide_table_t *L = tu_table(nl, nk + 1, ln, lt, (const void *const *)ld);
    tide_table_t *R = tu_table(nr, nk + 1, rn, rt, (const void *const *)rd);
    int64_t *sel = malloc((nl ? nl : 1) * sizeof(int64_t));
    uint64_t nsel = 0;
    for (uint64_t i = 0; i < nl; i++)
      if (!sparse || tu_below(&rng, 2)) sel[nsel++] = (int64_t)i;
    tide_table_t *left = sparse ? subset(L, sel, nsel) : tide_table_retain(L);
    char mb[2][32];
    const char *match[2];
    for (size_t k = 0; k < nk; k++) {
      if (same)
        snprintf(mb[k], sizeof mb[k], "%s", lnames[k]);
      else
        snprintf(mb[k], sizeof mb[k], "%s = %s", lnames[k], rnames[k]);
      match[k] = mb[k];
    }
    tide_error err;
    tide_table_t *res = invert ? tide_where_not_in(left, R, match, nk, &err)
                               : tide_where_in(left, R, match, nk, &err);
    CHECK_MSG(res != NULL, "seed %llu iter %d: %s", (unsigned long long)g_seed, iter, err.msg);
    /* reference */
    int64_t *keep = malloc((nsel ? nsel : 1) * sizeof(int64_t));
    uint64_t m = 0;
    for (uint64_t p = 0; p < nsel; p++) {
      uint64_t i = (uint64_t)sel[p];
      bool found = false;
      for (uint64_t j = 0; j < nr && !found; j++) {
        bool eq = true;
        for (size_t k = 0; k < nk; k++) eq = eq && li[k][i] == ri[k][j];
        found = eq;
      }
      if (found != invert) keep[m++] = (int64_t)i;
    }
    if (res) {
      void *ed[3];
      for (size_t k = 0; k <= nk; k++) ed[k] = gather(lt[k], ld[k], keep, m);
      tide_table_t *exp = tu_table(m, nk + 1, ln, lt, (const void *const *)ed);
      char msg[1024];
      bool eq = tu_table_equal(res, exp, 0, msg, sizeof msg);
      CHECK_MSG(eq, "seed %llu iter %d %s nk=%zu %s: %s", (unsigned long long)g_seed, iter,
                invert ? "where_not_in" : "where_in", nk, match[0], msg);
      /* shares the sources of t, keeps its row keys */
      CHECK(tide_table_col_source(res, 0) == tide_table_col_source(left, 0));
      for (uint64_t p = 0; p < m && p < 5; p++)
        CHECK(tide_rowset_key_at(tide_table_rowset(res), p) == (uint64_t)keep[p]);
      tide_table_free(exp);
      for (size_t k = 0; k <= nk; k++) free(ed[k]);
    }
    tide_table_free(res);
    tide_table_free(left);
    tide_table_free(L);
    tide_table_free(R);
    free(keep);
    free(sel);
    for (size_t k = 0; k <= nk; k++) {
      free(ld[k]);
      free(rd[k]);
    }
    for (size_t k = 0; k < nk; k++) {
      free(li[k]);
      free(ri[k]);
    }
    if (tu_failures > 20) return;
  }
}

static void errors(void) {
  int64_t a[] = {1, 2, 3};
  double d[] = {1, 2, 3};
  tide_table_t *t = tu_table(3, 2, (const char *[]){"A", "D"}, (tide_type_t[]){TIDE_I64, TIDE_F64},
                             (const void *[]){a, d});
  tide_error err;
  tide_table_t *r = tide_where_in(t, t, (const char *[]){"A=D"}, 1, &err);
  CHECK(r == NULL);
  CHECK_MSG(err.status == TIDE_ERR_TYPE && strstr(err.msg, "where_in:") == err.msg,
            "msg: %s", err.msg);
  r = tide_where_not_in(t, t, (const char *[]){"X"}, 1, &err);
  CHECK(r == NULL);
  CHECK_MSG(strstr(err.msg, "where_not_in: no column 'X' in left table") != NULL, "msg: %s",
            err.msg);
  r = tide_where_in(t, t, (const char *[]){"A=Y"}, 1, &err);
  CHECK(r == NULL);
  CHECK_MSG(strstr(err.msg, "no column 'Y' in right table") != NULL, "msg: %s", err.msg);
  r = tide_where_in(t, t, NULL, 0, &err);
  CHECK(r == NULL);
  r = tide_where_in(t, t, (const char *[]){"A=="}, 1, &err);
  CHECK(r == NULL);
  /* all rows kept: the RowSet is shared */
  r = tide_where_in(t, t, (const char *[]){"A"}, 1, &err);
  CHECK_OK_PTR(r, err);
  if (r) CHECK(tide_table_rowset(r) == tide_table_rowset(t));
  tide_table_free(r);
  tide_table_free(t);
}

static void threads(void) {
  tu_rng rng = {g_seed ^ 77};
  uint64_t nl = 2 * TIDE_MORSEL_ROWS + 999, nr = 3000;
  int64_t *lk = malloc(nl * sizeof(int64_t)), *rk = malloc(nr * sizeof(int64_t));
  for (uint64_t i = 0; i < nl; i++) lk[i] = (int64_t)tu_below(&rng, 10000);
  for (uint64_t j = 0; j < nr; j++) rk[j] = (int64_t)tu_below(&rng, 10000);
  tide_table_t *l = tu_table(nl, 1, (const char *[]){"K"}, (tide_type_t[]){TIDE_I64},
                             (const void *[]){lk});
  int32_t *rk32 = malloc(nr * sizeof(int32_t));
  for (uint64_t j = 0; j < nr; j++) rk32[j] = (int32_t)rk[j];
  tide_table_t *r = tu_table(nr, 1, (const char *[]){"K"}, (tide_type_t[]){TIDE_I32},
                             (const void *[]){rk32});
  char *inr = calloc(10000, 1);
  for (uint64_t j = 0; j < nr; j++) inr[rk[j]] = 1;
  tide_error err;
  const char *m[] = {"K"};
  for (int inv = 0; inv < 2; inv++) {
    tide_set_threads(1, NULL);
    tide_table_t *a = inv ? tide_where_not_in(l, r, m, 1, &err) : tide_where_in(l, r, m, 1, &err);
    CHECK_OK_PTR(a, err);
    tide_set_threads(2, NULL);
    tide_table_t *b = inv ? tide_where_not_in(l, r, m, 1, &err) : tide_where_in(l, r, m, 1, &err);
    CHECK_OK_PTR(b, err);
    if (a && b) {
      CHECK(tide_rowset_equals(tide_table_rowset(a), tide_table_rowset(b)));
      uint64_t want = 0;
      for (uint64_t i = 0; i < nl; i++) want += (inr[lk[i]] != 0) != inv;
      CHECK(tide_table_size(b) == want);
      uint64_t *keys = malloc((want ? want : 1) * sizeof(uint64_t));
      if (tide_table_size(b) == want) {
        tide_rowset_export(tide_table_rowset(b), keys);
        uint64_t p = 0, bad = 0;
        for (uint64_t i = 0; i < nl; i++)
          if ((inr[lk[i]] != 0) != inv) bad += keys[p++] != i;
        CHECK_MSG(bad == 0, "%llu wrong row keys", (unsigned long long)bad);
      }
      free(keys);
    }
    tide_table_free(a);
    tide_table_free(b);
  }
  tide_set_threads(0, NULL);
  free(inr);
  free(rk32);
  free(lk);
  free(rk);
  tide_table_free(l);
  tide_table_free(r);
}

/* ------------------------------------------------------ out of memory */

typedef struct oom_ctx {
  tide_table_t *l, *r;
  const char *const *m;
  int inv;
} oom_ctx;
static void *oom_op(void *ctx, tide_error *err) {
  oom_ctx *c = ctx;
  return c->inv ? tide_where_not_in(c->l, c->r, c->m, 2, err)
                : tide_where_in(c->l, c->r, c->m, 2, err);
}

/* Every failing allocation gives a clean TIDE_ERR_NOMEM (ASan checks leaks
 * and bad frees) until the call succeeds with the unhindered result. */
static void oom(void) {
  tide_set_threads(1, NULL);
  const char *lk[] = {"a", "b", "c", "a", NULL, "d", "b"};
  int32_t li[] = {1, 2, 3, 1, 5, 6, 2};
  const char *rk[] = {"b", "a", "zz", NULL};
  int64_t ri[] = {2, 1, 9, 5};
  tide_table_t *l = tu_table(7, 2, (const char *[]){"S", "I"}, (tide_type_t[]){TIDE_SYMBOL, TIDE_I32},
                             (const void *[]){lk, li});
  tide_table_t *r = tu_table(4, 2, (const char *[]){"T", "J"}, (tide_type_t[]){TIDE_STRING, TIDE_I64},
                             (const void *[]){rk, ri});
  const char *m[] = {"S=T", "I=J"};
  for (int inv = 0; inv < 2; inv++) {
    tide_error err;
    oom_ctx c = {l, r, m, inv};
    tide_table_t *want = oom_op(&c, &err);
    CHECK_OK_PTR(want, err);
    if (want) {
      tide_table_t *got = tu_oom_sweep(inv ? "where_not_in" : "where_in", 10000, oom_op, &c, &err);
      if (got) CHECK(tide_rowset_equals(tide_table_rowset(got), tide_table_rowset(want)));
      tide_table_free(got);
    }
    if (want) CHECK(tide_table_size(want) == (inv ? 2u : 5u));
    tide_table_free(want);
  }
  tide_table_free(l);
  tide_table_free(r);
  tide_set_threads(0, NULL);
}

int main(void) {
  g_seed = tu_seed(424242);
  for (int i = 0; i < 64; i++) snprintf(g_pool[i], sizeof g_pool[i], "w%d", i);
  errors();
  random_cases();
  threads();
  oom();
  return tu_finish("test_wherein");
}
