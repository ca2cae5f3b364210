/*
 * Previous values (docs/TICKING.md, decision 2): the undo log of paged
 * sources, paged shifts, and fill_prev through redirections and formula
 * views, against a reference model of two plain arrays per column (the
 * current values and the values at the start of the step).
 *
 * Set TIDE_PREV_BENCH=1 to also time fill_prev and logged writes on a
 * 1e7-row source (use a Release build).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/expr.h"
#include "testutil.h"

static _Atomic uint64_t g_step;
static uint64_t g_seed;

/* Key space of the random tests: 7 pages and a bit, so ranges cross
 * pages and some pages are first written late (fresh-page path). */
#define NK (7u * TIDE_PAGE_SIZE + 123u)

/* A pool of distinct strings for STRING columns (pointers are compared). */
#define NSTR 50
static char g_strs[NSTR][16];

/* ------------------------------------------------------------- model */

typedef struct model_t {
  tide_type_t type;
  size_t w;
  unsigned char *cur;   /* NK values */
  unsigned char *start; /* values at the start of the step */
  unsigned char null[8];
  tide_symtab_t *st;    /* SYMBOL: the source's dictionary */
} model_t;

static void model_init(model_t *m, tide_type_t type, tide_symtab_t *st) {
  m->type = type;
  m->w = tide_type_width(type);
  m->cur = malloc(NK * m->w);
  m->start = malloc(NK * m->w);
  tide_type_null(type, m->null);
  for (uint32_t k = 0; k < NK; k++) memcpy(m->cur + (size_t)k * m->w, m->null, m->w);
  memcpy(m->start, m->cur, NK * m->w);
  m->st = st;
}

static void model_free(model_t *m) {
  free(m->cur);
  free(m->start);
}

/* A random value of the model's type (sometimes null) into out. */
static void random_value(model_t *m, tu_rng *r, void *out) {
  if (tu_below(r, 10) == 0) {
    memcpy(out, m->null, m->w);
    return;
  }
  switch (m->type) {
    case TIDE_BOOL: *(int8_t *)out = (int8_t)tu_below(r, 2); break;
    case TIDE_I8: *(int8_t *)out = (int8_t)(tu_below(r, 200) - 100); break;
    case TIDE_I16: *(int16_t *)out = (int16_t)(tu_below(r, 20000) - 10000); break;
    case TIDE_I32: *(int32_t *)out = (int32_t)(tu_below(r, 2000000) - 1000000); break;
    case TIDE_F32: *(float *)out = (float)tu_unit(r) * 100.0f; break;
    case TIDE_F64: *(double *)out = tu_unit(r) * 1000.0 - 500.0; break;
    case TIDE_STRING: *(const char **)out = g_strs[tu_below(r, NSTR)]; break;
    case TIDE_SYMBOL: {
      const char *s = g_strs[tu_below(r, NSTR)];
      *(int32_t *)out = tide_symtab_intern(m->st, s, strlen(s));
      break;
    }
    default: *(int64_t *)out = (int64_t)tu_next(r) >> 8; break;
  }
}

/* Check fill and fill_prev of src at keys (or the range first..first+n-1
 * when keys is NULL) against the model. */
static void check_keys(const char *what, model_t *m, const tide_source_t *src,
                       const uint64_t *keys, uint64_t first, uint32_t n) {
  unsigned char got[TIDE_CHUNK_SIZE * 8], gotp[TIDE_CHUNK_SIZE * 8];
  unsigned char bc[TIDE_CHUNK_SIZE * 8], bp[TIDE_CHUNK_SIZE * 8];
  tide_rowseq_t seq = {first, keys, 0, n};
  tide_source_fill(src, &seq, got);
  tide_source_fill_prev(src, &seq, gotp);
  /* the one-pass read of both must agree with the two reads */
  tide__source_fill_both(src, &seq, bc, bp);
  CHECK_MSG(memcmp(bc, got, (size_t)n * m->w) == 0 && memcmp(bp, gotp, (size_t)n * m->w) == 0,
            "%s (%s, seed %llu, step %llu): fill_both differs from fill + fill_prev", what,
            tide_type_name(m->type), (unsigned long long)g_seed, (unsigned long long)g_step);
  int bad = 0;
  for (uint32_t j = 0; j < n && bad < 3; j++) {
    uint64_t k = keys ? keys[j] : first + j;
    if (memcmp(got + (size_t)j * m->w, m->cur + k * m->w, m->w) != 0) {
      CHECK_MSG(0, "%s (%s, seed %llu, step %llu): fill of key %llu differs", what,
                tide_type_name(m->type), (unsigned long long)g_seed,
                (unsigned long long)g_step, (unsigned long long)k);
      bad++;
    }
    if (memcmp(gotp + (size_t)j * m->w, m->start + k * m->w, m->w) != 0) {
      CHECK_MSG(0, "%s (%s, seed %llu, step %llu): fill_prev of key %llu differs", what,
                tide_type_name(m->type), (unsigned long long)g_seed,
                (unsigned long long)g_step, (unsigned long long)k);
      bad++;
    }
  }
  tu_checks++;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Reads of random key sets: sorted unique, unsorted with duplicates,
 * ranges crossing pages, every key in chunks, sparse sorted runs. */
static void check_all(model_t *m, const tide_source_t *src, tu_rng *r) {
  static uint64_t keys[TIDE_CHUNK_SIZE];
  for (int rep = 0; rep < 3; rep++) {
    uint32_t n = 1 + (uint32_t)tu_below(r, TIDE_CHUNK_SIZE);
    for (uint32_t j = 0; j < n; j++) keys[j] = tu_below(r, NK);
    check_keys("unsorted keys", m, src, keys, 0, n);
    qsort(keys, n, sizeof *keys, cmp_u64);
    uint32_t u = 0;
    for (uint32_t j = 0; j < n; j++)
      if (u == 0 || keys[u - 1] != keys[j]) keys[u++] = keys[j];
    check_keys("sorted keys", m, src, keys, 0, u);
    uint32_t len = 1 + (uint32_t)tu_below(r, TIDE_CHUNK_SIZE);
    uint64_t first = tu_below(r, NK - len + 1);
    check_keys("range", m, src, NULL, first, len);
    /* Short range (probe path when a page has many entries). */
    len = 1 + (uint32_t)tu_below(r, 8);
    first = tu_below(r, NK - len + 1);
    check_keys("short range", m, src, NULL, first, len);
  }
  /* Everything, as ranges and as sorted keys with gaps. */
  for (uint64_t f = 0; f < NK; f += TIDE_CHUNK_SIZE) {
    uint32_t n = (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, NK - f);
    check_keys("all (range)", m, src, NULL, f, n);
  }
  uint32_t stride = 1 + (uint32_t)tu_below(r, 3);
  uint32_t n = 0;
  for (uint64_t k = tu_below(r, stride); k < NK; k += stride) {
    keys[n++] = k;
    if (n == TIDE_CHUNK_SIZE) {
      check_keys("all (keys)", m, src, keys, 0, n);
      n = 0;
    }
  }
  if (n) check_keys("all (keys)", m, src, keys, 0, n);
}

/* A random write of 1..2000 keys (clustered or spread, duplicates). */
static void random_set(model_t *m, tide_source_t *src, tu_rng *r) {
  static uint64_t keys[2000];
  static uint64_t vals[2000];
  uint32_t n = 1 + (uint32_t)tu_below(r, tu_below(r, 4) == 0 ? 2000 : 60);
  uint64_t base = tu_below(r, NK), span = 1 + tu_below(r, NK);
  for (uint32_t j = 0; j < n; j++) {
    keys[j] = tu_below(r, 2) ? (base + tu_below(r, span)) % NK : tu_below(r, NK);
    if (j > 0 && tu_below(r, 8) == 0) keys[j] = keys[tu_below(r, j)]; /* duplicate */
    random_value(m, r, (unsigned char *)vals + (size_t)j * m->w);
  }
  if (tu_below(r, 2)) qsort(keys, n, sizeof *keys, cmp_u64);
  CHECK(tide__source_paged_set(src, keys, n, vals) == TIDE_OK);
  for (uint32_t j = 0; j < n; j++)
    memcpy(m->cur + keys[j] * m->w, (unsigned char *)vals + (size_t)j * m->w, m->w);
}

/* Random valid shifts: sorted disjoint ranges whose images stay sorted and
 * disjoint, within [0, NK). */
static size_t random_shifts(tu_rng *r, tide_shift_t *sh) {
  for (;;) {
    size_t n = 1 + (size_t)tu_below(r, 3);
    uint64_t cuts[6];
    for (size_t i = 0; i < 2 * n; i++) cuts[i] = tu_below(r, NK);
    qsort(cuts, 2 * n, sizeof *cuts, cmp_u64);
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
      sh[i].first = cuts[2 * i];
      sh[i].last = cuts[2 * i + 1];
      if (i > 0 && sh[i].first <= sh[i - 1].last) ok = false;
      int64_t lim = (int64_t)TIDE_PAGE_SIZE * 2;
      sh[i].delta = (int64_t)tu_below(r, 2 * (uint64_t)lim + 1) - lim;
      if (tu_below(r, 3) == 0) sh[i].delta = (int64_t)tu_below(r, 9) - 4;
      int64_t nf = (int64_t)sh[i].first + sh[i].delta, nl = (int64_t)sh[i].last + sh[i].delta;
      if (nf < 0 || nl >= (int64_t)NK) ok = false;
      if (i > 0 && nf <= (int64_t)sh[i - 1].last + sh[i - 1].delta) ok = false;
    }
    if (ok) return n;
  }
}

static void random_shift(model_t *m, tide_source_t *src, tu_rng *r) {
  tide_shift_t sh[3];
  size_t n = random_shifts(r, sh);
  CHECK(tide__source_paged_shift(src, sh, n, NULL) == TIDE_OK);
  /* Reference: every key of every range moves by its delta, read from
   * the values before the shift; other keys keep their values. */
  unsigned char *old = malloc(NK * m->w);
  memcpy(old, m->cur, NK * m->w);
  for (size_t i = 0; i < n; i++)
    for (uint64_t k = sh[i].first; k <= sh[i].last; k++)
      memcpy(m->cur + (k + (uint64_t)sh[i].delta) * m->w, old + k * m->w, m->w);
  free(old);
}

static void new_step(model_t *m) {
  atomic_fetch_add(&g_step, 1);
  memcpy(m->start, m->cur, NK * m->w);
}

static void test_random(tide_type_t type, uint64_t seed) {
  tide_error err;
  tide_source_t *src = tide__source_paged_create(type, NULL, &err);
  CHECK_OK_PTR(src, err);
  if (!src) return;
  model_t m;
  model_init(&m, type, tide_source_symtab(src));
  tu_rng r = {seed};
  g_seed = seed;
  /* Writes before tracking are the initial state. */
  random_set(&m, src, &r);
  memcpy(m.start, m.cur, NK * m.w);
  CHECK(tide__source_track_prev(src, &g_step) == TIDE_OK);
  check_all(&m, src, &r);
  for (int step = 0; step < 30; step++) {
    new_step(&m);
    if (step % 5 == 4) check_all(&m, src, &r); /* a new step forgets the log */
    int ops = 1 + (int)tu_below(&r, 5);
    for (int o = 0; o < ops; o++) {
      if (tu_below(&r, 3) == 0)
        random_shift(&m, src, &r);
      else
        random_set(&m, src, &r);
      if (o == 0) check_all(&m, src, &r);
    }
    check_all(&m, src, &r);
  }
  model_free(&m);
  tide_source_release(src);
}

/* Several writes of a key in one step keep the first old value; the next
 * step forgets them; a fresh page reads nulls as previous values. */
static void test_explicit(void) {
  tide_error err;
  tide_source_t *src = tide__source_paged_create(TIDE_I64, NULL, &err);
  CHECK_OK_PTR(src, err);
  CHECK(tide__source_track_prev(src, &g_step) == TIDE_OK);
  uint64_t k[3] = {7, 7, 5000};
  int64_t v1[3] = {1, 2, 3}, v2[3] = {10, 20, 30}, out[3];
  atomic_fetch_add(&g_step, 1);
  CHECK(tide__source_paged_set(src, k, 3, v1) == TIDE_OK);
  tide_rowseq_t seq = {0, k, 0, 3};
  tide_source_fill_prev(src, &seq, out);
  CHECK(out[0] == TIDE_NULL_I64 && out[2] == TIDE_NULL_I64);
  atomic_fetch_add(&g_step, 1);
  tide_source_fill_prev(src, &seq, out);
  CHECK(out[0] == 2 && out[1] == 2 && out[2] == 3);
  CHECK(tide__source_paged_set(src, k, 3, v2) == TIDE_OK);
  CHECK(tide__source_paged_set(src, k, 1, v1) == TIDE_OK);
  tide_source_fill(src, &seq, out);
  CHECK(out[0] == 1 && out[2] == 30);
  tide_source_fill_prev(src, &seq, out);
  CHECK(out[0] == 2 && out[1] == 2 && out[2] == 3);
  atomic_fetch_add(&g_step, 1);
  tide_source_fill_prev(src, &seq, out);
  CHECK(out[0] == 1 && out[2] == 30);
  /* Bad shifts are refused. */
  tide_shift_t bad[2] = {{10, 20, 1}, {15, 30, 1}};
  CHECK(tide__source_paged_shift(src, bad, 2, NULL) == TIDE_ERR_INVALID);
  tide_shift_t neg = {3, 9, -4};
  CHECK(tide__source_paged_shift(src, &neg, 1, NULL) == TIDE_ERR_INVALID);
  /* Sparse key space: a huge range shifts only the pages that exist. */
  uint64_t sk[3] = {5, 4100, (1ULL << 40) + 7};
  int64_t sv[3] = {100, 200, 300};
  CHECK(tide__source_paged_set(src, sk, 3, sv) == TIDE_OK);
  atomic_fetch_add(&g_step, 1);
  tide_shift_t big = {0, 1ULL << 41, 10000};
  CHECK(tide__source_paged_shift(src, &big, 1, NULL) == TIDE_OK);
  uint64_t nk[6] = {10005, 14100, (1ULL << 40) + 10007, 5, 4100, 10007};
  int64_t o6[6], p6[6];
  tide_rowseq_t s6 = {0, nk, 0, 6};
  tide_source_fill(src, &s6, o6);
  tide_source_fill_prev(src, &s6, p6);
  CHECK(o6[0] == 100 && o6[1] == 200 && o6[2] == 300);
  CHECK(o6[3] == 100 && o6[4] == 200); /* vacated keys keep their values */
  CHECK(o6[5] == 1);                   /* key 7 moved to 10007 */
  CHECK(p6[0] == TIDE_NULL_I64 && p6[1] == TIDE_NULL_I64 && p6[2] == TIDE_NULL_I64);
  CHECK(p6[3] == 100 && p6[5] == TIDE_NULL_I64);
  tide_shift_t back = {10000, (1ULL << 41) + 10000, -10000};
  CHECK(tide__source_paged_shift(src, &back, 1, NULL) == TIDE_OK);
  tide_source_fill(src, &s6, o6);
  CHECK(o6[3] == 100 && o6[4] == 200);
  CHECK(o6[0] == TIDE_NULL_I64 && o6[5] == TIDE_NULL_I64); /* from 20005, 20007 */
  uint64_t far = (1ULL << 40) + 7;
  tide_rowseq_t sf = {0, &far, 0, 1};
  tide_source_fill(src, &sf, o6);
  CHECK(o6[0] == 300);
  uint64_t seven = 7;
  tide_rowseq_t s7 = {0, &seven, 0, 1};
  tide_source_fill(src, &s7, o6);
  CHECK(o6[0] == 1);
  /* Untracking: fill_prev is fill. */
  CHECK(tide__source_track_prev(src, NULL) == TIDE_OK);
  tide_source_fill_prev(src, &sf, p6);
  CHECK(p6[0] == 300);
  /* Only paged sources track. */
  tide_source_t *flat = tide_source_flat_create(TIDE_I64, 4, &err);
  CHECK(tide__source_track_prev(flat, &g_step) == TIDE_ERR_INVALID);
  tide_source_release(flat);
  tide_source_release(src);
}

/* Formula views and redirections over tracked paged sources. */
static void test_views(uint64_t seed) {
  tide_error err;
  tu_rng r = {seed};
  g_seed = seed;
  tide_source_t *price = tide__source_paged_create(TIDE_F64, NULL, &err);
  tide_source_t *size = tide__source_paged_create(TIDE_I32, NULL, &err);
  tide_source_t *sym = tide__source_paged_create(TIDE_SYMBOL, NULL, &err);
  CHECK(price && size && sym);
  model_t mp, ms, my;
  model_init(&mp, TIDE_F64, NULL);
  model_init(&ms, TIDE_I32, NULL);
  model_init(&my, TIDE_SYMBOL, tide_source_symtab(sym));
  random_set(&mp, price, &r);
  random_set(&ms, size, &r);
  random_set(&my, sym, &r);
  CHECK(tide__source_track_prev(price, &g_step) == TIDE_OK);
  CHECK(tide__source_track_prev(size, &g_step) == TIDE_OK);
  CHECK(tide__source_track_prev(sym, &g_step) == TIDE_OK);

  /* Symbol literals bind at compile time: intern `s3` first. */
  int32_t s3 = tide_symtab_intern(tide_source_symtab(sym), "s3", 2);
  const char *names[4] = {"Price", "Size", "Sym", "Notional"};
  tide_source_t *cols[4] = {price, size, sym, NULL};
  tide_expr_schema_t schema = {3, names, cols};
  tide_expr_t *e = tide__expr_compile("update", "Price * Size", 0, &schema, 0, &err);
  CHECK_OK_PTR(e, err);
  tide_source_t *notional = tide__source_formula_create(e, cols, NULL, &err);
  CHECK_OK_PTR(notional, err);
  cols[3] = notional;
  schema.ncols = 4;
  /* A view over a view, and one using ii (positions from seq->pos). */
  tide_expr_t *e2 = tide__expr_compile("update", "Sym == `s3` ? Notional + ii : -1.0", 0,
                                       &schema, 0, &err);
  CHECK_OK_PTR(e2, err);
  tide_source_t *v2 = tide__source_formula_create(e2, cols, NULL, &err);
  CHECK_OK_PTR(v2, err);
  /* Redirected over paged: a random map with nulls. */
  enum { NR = 3000 };
  tide_redir_t *rd = tide__redir_create(NR, &err);
  for (uint64_t k = 0; k < NR; k++)
    rd->map[k] = tu_below(&r, 10) == 0 ? TIDE_NULL_KEY : tu_below(&r, NK);
  tide_source_t *rp = tide__source_redirected_create(price, rd, &err);
  CHECK_OK_PTR(rp, err);

  for (int step = 0; step < 12; step++) {
    atomic_fetch_add(&g_step, 1);
    memcpy(mp.start, mp.cur, NK * mp.w);
    memcpy(ms.start, ms.cur, NK * ms.w);
    memcpy(my.start, my.cur, NK * my.w);
    for (int o = 0; o < 3; o++) {
      if (tu_below(&r, 4) == 0) {
        tide_shift_t sh[3];
        size_t n = random_shifts(&r, sh);
        /* All columns of a table shift alike. */
        CHECK(tide__source_paged_shift(price, sh, n, NULL) == TIDE_OK);
        CHECK(tide__source_paged_shift(size, sh, n, NULL) == TIDE_OK);
        CHECK(tide__source_paged_shift(sym, sh, n, NULL) == TIDE_OK);
        model_t *ms3[3] = {&mp, &ms, &my};
        for (int c = 0; c < 3; c++) {
          model_t *m = ms3[c];
          unsigned char *old = malloc(NK * m->w);
          memcpy(old, m->cur, NK * m->w);
          for (size_t i = 0; i < n; i++)
            for (uint64_t k = sh[i].first; k <= sh[i].last; k++)
              memcpy(m->cur + (k + (uint64_t)sh[i].delta) * m->w, old + k * m->w, m->w);
          free(old);
        }
      } else {
        random_set(&mp, price, &r);
        random_set(&ms, size, &r);
        if (tu_below(&r, 2)) random_set(&my, sym, &r);
      }
    }
    /* Random sorted keys and a range, with a position offset for ii. */
    static uint64_t keys[TIDE_CHUNK_SIZE];
    uint32_t n = 1 + (uint32_t)tu_below(&r, TIDE_CHUNK_SIZE);
    for (uint32_t j = 0; j < n; j++) keys[j] = tu_below(&r, NK);
    if (step % 2) qsort(keys, n, sizeof *keys, cmp_u64);
    uint64_t pos0 = tu_below(&r, 1000);
    for (int rep = 0; rep < 2; rep++) {
      uint64_t first = tu_below(&r, NK - n + 1);
      tide_rowseq_t seq = {first, rep ? NULL : keys, pos0, n};
      static double got[TIDE_CHUNK_SIZE], gotp[TIDE_CHUNK_SIZE];
      static double got2[TIDE_CHUNK_SIZE], gotp2[TIDE_CHUNK_SIZE];
      tide_source_fill(notional, &seq, got);
      tide_source_fill_prev(notional, &seq, gotp);
      tide_source_fill(v2, &seq, got2);
      tide_source_fill_prev(v2, &seq, gotp2);
      int bad = 0;
      for (uint32_t j = 0; j < n && bad < 3; j++) {
        uint64_t k = rep ? first + j : keys[j];
        for (int prev = 0; prev < 2; prev++) {
          const unsigned char *pa = prev ? mp.start : mp.cur, *sa = prev ? ms.start : ms.cur;
          const unsigned char *ya = prev ? my.start : my.cur;
          double p;
          int32_t s, y;
          memcpy(&p, pa + k * 8, 8);
          memcpy(&s, sa + k * 4, 4);
          memcpy(&y, ya + k * 4, 4);
          double want = (p == TIDE_NULL_F64 || s == TIDE_NULL_I32) ? TIDE_NULL_F64 : p * s;
          double want2 = y != s3 ? -1.0
                         : want == TIDE_NULL_F64 ? TIDE_NULL_F64
                                                 : want + (double)(pos0 + j);
          double g = prev ? gotp[j] : got[j], g2 = prev ? gotp2[j] : got2[j];
          if (g != want || g2 != want2) {
            CHECK_MSG(0, "view (seed %llu, step %d, %s): key %llu: %g/%g want %g/%g",
                      (unsigned long long)seed, step, prev ? "prev" : "current",
                      (unsigned long long)k, g, g2, want, want2);
            bad++;
          }
        }
      }
      tu_checks++;
    }
    /* Redirected: prev through the current map. */
    for (uint64_t f = 0; f < NR; f += 1000) {
      double got[1000], gotp[1000];
      tide_rowseq_t seq = {f, NULL, 0, 1000};
      tide_source_fill(rp, &seq, got);
      tide_source_fill_prev(rp, &seq, gotp);
      int bad = 0;
      for (uint32_t j = 0; j < 1000 && bad < 3; j++) {
        uint64_t ik = rd->map[f + j];
        double want = TIDE_NULL_F64, wantp = TIDE_NULL_F64;
        if (ik != TIDE_NULL_KEY) {
          memcpy(&want, mp.cur + ik * 8, 8);
          memcpy(&wantp, mp.start + ik * 8, 8);
        }
        if (got[j] != want || gotp[j] != wantp) {
          CHECK_MSG(0, "redirected (seed %llu, step %d): outer key %llu", (unsigned long long)seed,
                    step, (unsigned long long)(f + j));
          bad++;
        }
      }
      tu_checks++;
    }
  }
  /* Concurrent readers: fill_prev from several threads equals one. */
  tide_set_threads(4, NULL);
  static double one[NK], many[NK];
  for (uint64_t f = 0; f < NK; f += TIDE_CHUNK_SIZE) {
    tide_rowseq_t seq = {f, NULL, 0, (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, NK - f)};
    tide_source_fill_prev(notional, &seq, one + f);
  }
  int64_t nch = (int64_t)((NK + 255) / 256);
#pragma omp parallel for num_threads(4) schedule(dynamic)
  for (int64_t c = 0; c < nch; c++) {
    uint64_t f = (uint64_t)c * 256;
    tide_rowseq_t seq = {f, NULL, 0, (uint32_t)TIDE_MIN((uint64_t)256, NK - f)};
    tide_source_fill_prev(notional, &seq, many + f);
  }
  CHECK(memcmp(one, many, sizeof one) == 0);
  tide_set_threads(0, NULL);

  tide_source_release(rp);
  tide__redir_release(rd);
  tide_source_release(v2);
  tide_source_release(notional);
  tide_source_release(price);
  tide_source_release(size);
  tide_source_release(sym);
  model_free(&mp);
  model_free(&ms);
  model_free(&my);
}

/* ------------------------------------------------------------- bench */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void bench(void) {
  enum { N = 10000000, M = 10000 };
  tide_error err;
  tide_source_t *a = tide__source_paged_create(TIDE_I64, NULL, &err);
  tide_source_t *b = tide__source_paged_create(TIDE_I64, NULL, &err);
  uint64_t *keys = malloc(TIDE_CHUNK_SIZE * sizeof *keys);
  int64_t *vals = malloc(TIDE_CHUNK_SIZE * sizeof *vals);
  int64_t *out = malloc(TIDE_CHUNK_SIZE * sizeof *out);
  for (uint64_t f = 0; f < N; f += TIDE_CHUNK_SIZE) {
    uint32_t n = (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, N - f);
    for (uint32_t j = 0; j < n; j++) keys[j] = f + j, vals[j] = (int64_t)(f + j);
    tide__source_paged_set(a, keys, n, vals);
    tide__source_paged_set(b, keys, n, vals);
  }
  tide__source_track_prev(a, &g_step);
  atomic_fetch_add(&g_step, 1);
  tu_rng r = {42};
  uint64_t *mk = malloc(M * sizeof *mk);
  int64_t *mv = malloc(M * sizeof *mv);
  for (int i = 0; i < M; i++) mk[i] = tu_below(&r, N), mv[i] = -i;
  qsort(mk, M, sizeof *mk, cmp_u64);
  double t0 = now_s();
  tide__source_paged_set(b, mk, M, mv); /* untracked */
  double t1 = now_s();
  tide__source_paged_set(a, mk, M, mv); /* tracked: logs 10,000 keys */
  double t2 = now_s();
  fprintf(stderr,
          "bench: 10,000 sorted random writes, first step (log grows): untracked %.1f us, "
          "logged %.1f us (%.1f Mrows/s)\n",
          (t1 - t0) * 1e6, (t2 - t1) * 1e6, M / (t2 - t1) / 1e6);
  /* Steady state (the log's memory is reused): 20 steps of 10,000 new
   * random keys each, averaged. */
  double tu = 0, tl = 0;
  for (int rep = 0; rep < 20; rep++) {
    atomic_fetch_add(&g_step, 1);
    for (int i = 0; i < M; i++) mk[i] = tu_below(&r, N), mv[i] = -i;
    qsort(mk, M, sizeof *mk, cmp_u64);
    t0 = now_s();
    tide__source_paged_set(b, mk, M, mv);
    t1 = now_s();
    tide__source_paged_set(a, mk, M, mv);
    t2 = now_s();
    tu += t1 - t0;
    tl += t2 - t1;
  }
  fprintf(stderr,
          "bench: 10,000 sorted random writes, mean of 20 steps: untracked %.1f us (%.1f Mrows/s), "
          "logged %.1f us (%.1f Mrows/s)\n",
          tu / 20 * 1e6, 20 * M / tu / 1e6, tl / 20 * 1e6, 20 * M / tl / 1e6);
  /* Unsorted writes. */
  atomic_fetch_add(&g_step, 1);
  for (int i = 0; i < M; i++) mk[i] = tu_below(&r, N), mv[i] = -i;
  t0 = now_s();
  tide__source_paged_set(b, mk, M, mv);
  t1 = now_s();
  tide__source_paged_set(a, mk, M, mv);
  t2 = now_s();
  fprintf(stderr,
          "bench: 10,000 unsorted random writes: untracked %.1f us, logged %.1f us (%.1f Mrows/s)\n",
          (t1 - t0) * 1e6, (t2 - t1) * 1e6, M / (t2 - t1) / 1e6);
  qsort(mk, M, sizeof *mk, cmp_u64);
  /* Whole column as ranges. */
  volatile int64_t sink = 0;
  for (int prev = 0; prev < 2; prev++) {
    double s0 = now_s();
    for (uint64_t f = 0; f < N; f += TIDE_CHUNK_SIZE) {
      tide_rowseq_t seq = {f, NULL, 0, (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, N - f)};
      if (prev)
        tide_source_fill_prev(a, &seq, out);
      else
        tide_source_fill(a, &seq, out);
      sink += out[0];
    }
    double s1 = now_s();
    fprintf(stderr, "bench: %s over 1e7 rows (ranges): %.2f ms, %.0f Mrows/s\n",
            prev ? "fill_prev" : "fill     ", (s1 - s0) * 1e3, N / (s1 - s0) / 1e6);
  }
  /* Whole column as sorted key chunks (every key). */
  for (int prev = 0; prev < 2; prev++) {
    double s0 = now_s();
    for (uint64_t f = 0; f < N; f += TIDE_CHUNK_SIZE) {
      uint32_t n = (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, N - f);
      for (uint32_t j = 0; j < n; j++) keys[j] = f + j;
      tide_rowseq_t seq = {0, keys, 0, n};
      if (prev)
        tide_source_fill_prev(a, &seq, out);
      else
        tide_source_fill(a, &seq, out);
      sink += out[0];
    }
    double s1 = now_s();
    fprintf(stderr, "bench: %s over 1e7 rows (key chunks): %.2f ms, %.0f Mrows/s\n",
            prev ? "fill_prev" : "fill     ", (s1 - s0) * 1e3, N / (s1 - s0) / 1e6);
  }
  /* Just the 10,000 logged keys. */
  for (int prev = 0; prev < 2; prev++) {
    double s0 = now_s();
    for (int rep = 0; rep < 100; rep++)
      for (uint32_t f = 0; f < M; f += TIDE_CHUNK_SIZE) {
        tide_rowseq_t seq = {0, mk + f, 0, TIDE_MIN((uint32_t)TIDE_CHUNK_SIZE, M - f)};
        if (prev)
          tide_source_fill_prev(a, &seq, out);
        else
          tide_source_fill(a, &seq, out);
        sink += out[0];
      }
    double s1 = now_s();
    fprintf(stderr, "bench: %s of the 10,000 logged keys: %.1f us, %.0f Mrows/s\n",
            prev ? "fill_prev" : "fill     ", (s1 - s0) * 1e6 / 100, 100.0 * M / (s1 - s0) / 1e6);
  }
  (void)sink;
  free(keys);
  free(vals);
  free(out);
  free(mk);
  free(mv);
  tide_source_release(a);
  tide_source_release(b);
}

/* Ticking redirection: random remaps of outer keys in each step; fill
 * reads inner at the current map, fill_prev reads inner's previous values
 * at the map as it was at the start of the step; unmapped keys are null. */
static void test_tredir(uint64_t seed) {
  tu_rng r = {seed};
  enum { NI = 300, NO = 200 };
  tide_error err;
  tide_source_t *inner = tide__source_paged_create(TIDE_I64, NULL, &err);
  tide_source_t *map = tide__source_paged_create(TIDE_I64, NULL, &err);
  CHECK(inner && map);
  CHECK(tide__source_track_prev(inner, &g_step) == TIDE_OK);
  CHECK(tide__source_track_prev(map, &g_step) == TIDE_OK);
  tide_source_t *t = tide__source_tredir_create(inner, map, &err);
  CHECK(t != NULL);
  int64_t iv[NI], ivs[NI];          /* inner now, at step start */
  uint64_t mv[NO], mvs[NO];         /* map now, at step start (NONE: unmapped) */
  for (int i = 0; i < NI; i++) iv[i] = ivs[i] = TIDE_NULL_I64;
  for (int o = 0; o < NO; o++) mv[o] = mvs[o] = TIDE_NULL_KEY;
  for (int step = 0; step < 40; step++) {
    atomic_fetch_add(&g_step, 1);
    memcpy(ivs, iv, sizeof iv);
    memcpy(mvs, mv, sizeof mv);
    for (int w = 0; w < 60; w++) {
      uint64_t k = tu_next(&r) % NI;
      int64_t v = (int64_t)(tu_next(&r) % 1000);
      CHECK(tide__source_paged_set(inner, &k, 1, &v) == TIDE_OK);
      iv[k] = v;
      uint64_t o = tu_next(&r) % NO;
      uint64_t m = tu_next(&r) % 5 == 0 ? TIDE_NULL_KEY : tu_next(&r) % NI;
      CHECK(tide__source_paged_set(map, &o, 1, &m) == TIDE_OK);
      mv[o] = m;
    }
    uint64_t keys[NO];
    int64_t cur[NO], prev[NO];
    for (int o = 0; o < NO; o++) keys[o] = (uint64_t)(NO - 1 - o); /* descending */
    tide_rowseq_t seq = {0, keys, 0, NO};
    tide_source_fill(t, &seq, cur);
    tide_source_fill_prev(t, &seq, prev);
    for (int j = 0; j < NO; j++) {
      uint64_t o = keys[j];
      int64_t ec = mv[o] == TIDE_NULL_KEY ? TIDE_NULL_I64 : iv[mv[o]];
      int64_t ep = mvs[o] == TIDE_NULL_KEY ? TIDE_NULL_I64 : ivs[mvs[o]];
      CHECK_MSG(cur[j] == ec, "tredir fill key %llu step %d", (unsigned long long)o, step);
      CHECK_MSG(prev[j] == ep, "tredir fill_prev key %llu step %d", (unsigned long long)o, step);
    }
  }
  tide_source_release(t);
  tide_source_release(inner);
  tide_source_release(map);
}

/* Sparse sorted keys (the prefetching paths of fill and fill_prev): a
 * model of current and step-start values over a 2M key space, pages born
 * in the current step included. */
static void test_sparse(uint64_t seed) {
  tu_rng r = {seed};
  enum { SPACE = 1 << 21, NSP = 3000 };
  tide_error err;
  tide_source_t *src = tide__source_paged_create(TIDE_I64, NULL, &err);
  CHECK(src && tide__source_track_prev(src, &g_step) == TIDE_OK);
  int64_t *cur = malloc(SPACE * sizeof *cur), *start = malloc(SPACE * sizeof *start);
  for (uint64_t k = 0; k < SPACE; k++) cur[k] = TIDE_NULL_I64;
  uint64_t *keys = malloc(NSP * sizeof *keys);
  int64_t *got = malloc(NSP * sizeof *got);
  for (int step = 0; step < 12; step++) {
    atomic_fetch_add(&g_step, 1);
    memcpy(start, cur, SPACE * sizeof *cur);
    for (int w = 0; w < 2000; w++) {
      uint64_t k = tu_below(&r, SPACE);
      int64_t v = (int64_t)tu_below(&r, 1000000);
      CHECK(tide__source_paged_set(src, &k, 1, &v) == TIDE_OK);
      cur[k] = v;
    }
    /* sorted sparse keys: half of them written keys' neighbourhoods */
    uint64_t k = tu_below(&r, 300);
    uint32_t n = 0;
    while (n < NSP && k < SPACE) {
      keys[n++] = k;
      k += 1 + tu_below(&r, 1200);
    }
    for (uint32_t off = 0; off < n; off += TIDE_CHUNK_SIZE) {
      uint32_t m = n - off < TIDE_CHUNK_SIZE ? n - off : TIDE_CHUNK_SIZE;
      tide_rowseq_t seq = {0, keys + off, 0, m};
      tide_source_fill(src, &seq, got + off);
      for (uint32_t i = 0; i < m; i++)
        CHECK_MSG(got[off + i] == cur[keys[off + i]], "sparse fill key %llu step %d",
                  (unsigned long long)keys[off + i], step);
      tide_source_fill_prev(src, &seq, got + off);
      for (uint32_t i = 0; i < m; i++)
        CHECK_MSG(got[off + i] == start[keys[off + i]], "sparse fill_prev key %llu step %d",
                  (unsigned long long)keys[off + i], step);
      int64_t bc[TIDE_CHUNK_SIZE], bp[TIDE_CHUNK_SIZE];
      tide__source_fill_both(src, &seq, bc, bp);
      for (uint32_t i = 0; i < m; i++)
        CHECK_MSG(bc[i] == cur[keys[off + i]] && bp[i] == start[keys[off + i]],
                  "sparse fill_both key %llu step %d", (unsigned long long)keys[off + i], step);
    }
  }
  free(cur);
  free(start);
  free(keys);
  free(got);
  tide_source_release(src);
}

/* From the review of 2026-11-22:
 * - a step that logs nothing (an empty write, a shift of unwritten pages)
 *   has no log hash yet: previous values of sparse keys must still read
 *   (this crashed before the fix);
 * - allocation failures at every point of a growing dense source leave
 *   every written page readable and the source usable (the directory is
 *   re-pointed if a page allocation fails after the page table grew; with
 *   today's slab sizes the two never coincide, so this sweep guards the
 *   general path). */
static void test_review_cases(void) {
  tide_error err;
  tide_source_t *src = tide__source_paged_create(TIDE_I64, NULL, &err);
  CHECK(src && tide__source_track_prev(src, &g_step) == TIDE_OK);
  atomic_fetch_add(&g_step, 1);
  int64_t one = 5;
  uint64_t k0 = 0;
  CHECK(tide__source_paged_set(src, &k0, 1, &one) == TIDE_OK); /* born in this step */
  atomic_fetch_add(&g_step, 1);
  CHECK(tide__source_paged_set(src, &k0, 0, &one) == TIDE_OK); /* live log, nothing logged */
  uint64_t keys[64];
  int64_t cur[64], prev[64];
  for (int i = 0; i < 64; i++) keys[i] = (uint64_t)i * 1000;
  tide_rowseq_t seq = {0, keys, 0, 64};
  tide_source_fill_prev(src, &seq, prev);
  tide__source_fill_both(src, &seq, cur, prev);
  CHECK(prev[0] == 5 && cur[0] == 5 && prev[1] == TIDE_NULL_I64);
  tide_source_release(src);

  /* allocation failures at every point of a growing dense source */
  int bad = 0;
  for (long k = 0; k < 120; k++) {
    tide_source_t *s = tide__source_paged_create(TIDE_I64, NULL, &err);
    CHECK(s != NULL);
    if (!s) break;
    uint64_t n = 0;
    tu_oom_arm(k);
    for (uint64_t pg = 0; pg < 64; pg++) {
      uint64_t key = pg * TIDE_PAGE_SIZE + 7;
      int64_t v = (int64_t)pg + 1;
      if (tide__source_paged_set(s, &key, 1, &v) != TIDE_OK) break;
      n = pg + 1;
    }
    tu_oom_disarm();
    /* the pages written before the failure read back, later ones are null */
    for (uint64_t pg = 0; pg < 64; pg++) {
      uint64_t key = pg * TIDE_PAGE_SIZE + 7;
      int64_t got;
      tide_rowseq_t q = {0, &key, 0, 1};
      tide_source_fill(s, &q, &got);
      bad += got != (pg < n ? (int64_t)pg + 1 : TIDE_NULL_I64);
    }
    /* and the source keeps working */
    for (uint64_t pg = 0; pg < 64; pg++) {
      uint64_t key = pg * TIDE_PAGE_SIZE + 7;
      int64_t v = -(int64_t)pg, got;
      bad += tide__source_paged_set(s, &key, 1, &v) != TIDE_OK;
      tide_rowseq_t q = {0, &key, 0, 1};
      tide_source_fill(s, &q, &got);
      bad += got != v;
    }
    tide_source_release(s);
  }
  CHECK_MSG(bad == 0, "%d bad reads after allocation failures", bad);
}

int main(void) {
  test_review_cases();
  for (int i = 0; i < NSTR; i++) snprintf(g_strs[i], sizeof g_strs[i], "s%d", i);
  uint64_t seed = tu_seed(20261121);
  test_explicit();
  const tide_type_t types[] = {TIDE_I64, TIDE_F64, TIDE_I32, TIDE_I16, TIDE_BOOL, TIDE_STRING,
                               TIDE_SYMBOL};
  for (size_t t = 0; t < sizeof types / sizeof *types; t++) test_random(types[t], seed + t);
  test_views(seed + 100);
  test_tredir(seed + 200);
  test_sparse(seed + 300);
  if (getenv("TIDE_PREV_BENCH")) bench();
  return tu_finish("prev");
}
