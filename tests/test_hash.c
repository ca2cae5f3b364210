/*
 * Tests of the columnar hash table (kernels/hash.c) against a naive
 * reference: a list of distinct tuples searched linearly, with matching
 * rules written independently (== for integers, -0.0 == 0.0 and NaN == NaN
 * for floats, strcmp for strings, NULL == NULL).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>

#include "kernels/hash.h"
#include "testutil.h"

static const tide_type_t ALL_TYPES[] = {TIDE_BOOL, TIDE_I8,  TIDE_I16, TIDE_I32,    TIDE_I64,
                                        TIDE_F32,  TIDE_F64, TIDE_TS,  TIDE_STRING, TIDE_SYMBOL};
#define NALL (sizeof ALL_TYPES / sizeof ALL_TYPES[0])

#define MAXCOLS 4
#define STRW 48

typedef struct gen_t {
  size_t ncols;
  tide_type_t types[MAXCOLS];
  void *cols[MAXCOLS];
  char *strbuf[MAXCOLS]; /* STRING: per-row private copies */
  uint32_t n;
} gen_t;

static const char *STR_POOL[] = {"",
                                 "a",
                                 "b",
                                 "ab",
                                 "ba",
                                 "abcdefgh",
                                 "abcdefgi",
                                 "abcdefghijklmnop",
                                 "abcdefghijklmnoq",
                                 "the quick brown fox jumps over",
                                 "the quick brown fox jumps ovex",
                                 "id0000000042",
                                 "id0000000043",
                                 /* every length 1..13, pairs differing in the last byte */
                                 "x", "abc", "abd", "abcd", "abce", "abcde", "abcdf",
                                 "abcdef", "abcdeg", "abcdefg", "abcdefh", "abcdefghi",
                                 "abcdefghj", "abcdefghij", "abcdefghik", "abcdefghijk",
                                 "abcdefghijl", "abcdefghijkl", "abcdefghijkm", "abcdefghijklm",
                                 "abcdefghijkln", "bbcdefghijkl", "abcdefghijkk"};
#define NSTR_POOL (sizeof STR_POOL / sizeof STR_POOL[0])

/* Random value of type t drawn from a domain of about d values (with null). */
static void gen_value(tu_rng *r, tide_type_t t, uint32_t d, void *out, char *sbuf) {
  uint64_t x = tu_below(r, d + 1);
  bool null = x == d;
  switch (t) {
    case TIDE_BOOL: {
      int8_t v = null ? TIDE_NULL_BOOL : (int8_t)(x & 1);
      memcpy(out, &v, 1);
      break;
    }
    case TIDE_I8: {
      int8_t v = null ? TIDE_NULL_I8 : (int8_t)((int)(x % 200) - 100);
      memcpy(out, &v, 1);
      break;
    }
    case TIDE_I16: {
      int16_t v = null ? TIDE_NULL_I16 : (int16_t)((int)x * 257 - 1000);
      memcpy(out, &v, 2);
      break;
    }
    case TIDE_I32: {
      int32_t v = null ? TIDE_NULL_I32 : (int32_t)(x * 1000003u) - 5;
      memcpy(out, &v, 4);
      break;
    }
    case TIDE_I64:
    case TIDE_TS: {
      int64_t v = null ? TIDE_NULL_I64 : (int64_t)(x * 0x100000001ULL) - 7;
      if (!null && x == 1) v = INT64_MAX;
      memcpy(out, &v, 8);
      break;
    }
    case TIDE_F32: {
      float v;
      if (null) v = TIDE_NULL_F32;
      else if (x == 0) v = 0.0f;
      else if (x == 1) v = -0.0f;
      else if (x == 2) v = NAN;
      else if (x == 3) v = -NAN;
      else v = (float)x * 0.5f;
      memcpy(out, &v, 4);
      break;
    }
    case TIDE_F64: {
      double v;
      if (null) v = TIDE_NULL_F64;
      else if (x == 0) v = 0.0;
      else if (x == 1) v = -0.0;
      else if (x == 2) v = NAN;
      else if (x == 3) v = -NAN;
      else if (x == 4) v = INFINITY;
      else v = (double)x * 0.25 - 3;
      memcpy(out, &v, 8);
      break;
    }
    case TIDE_STRING: {
      const char *s = NULL;
      if (!null) {
        if (x < NSTR_POOL) {
          snprintf(sbuf, STRW, "%s", STR_POOL[x]);
        } else {
          snprintf(sbuf, STRW, "s%llu", (unsigned long long)x);
        }
        s = sbuf;
      }
      memcpy(out, &s, sizeof s);
      break;
    }
    case TIDE_SYMBOL: {
      int32_t v = null ? TIDE_NULL_SYMBOL : (int32_t)x;
      memcpy(out, &v, 4);
      break;
    }
    default:
      break;
  }
}

static void gen_init(gen_t *g, size_t ncols, const tide_type_t *types, uint32_t n) {
  memset(g, 0, sizeof *g);
  g->ncols = ncols;
  g->n = n;
  for (size_t k = 0; k < ncols; k++) {
    g->types[k] = types[k];
    g->cols[k] = malloc((size_t)(n ? n : 1) * tide_type_width(types[k]));
    if (types[k] == TIDE_STRING) g->strbuf[k] = malloc((size_t)(n ? n : 1) * STRW);
  }
}

static void gen_fill(gen_t *g, tu_rng *r, const uint32_t *domains) {
  for (uint32_t i = 0; i < g->n; i++)
    for (size_t k = 0; k < g->ncols; k++) {
      size_t w = tide_type_width(g->types[k]);
      gen_value(r, g->types[k], domains[k], (char *)g->cols[k] + (size_t)i * w,
                g->strbuf[k] ? g->strbuf[k] + (size_t)i * STRW : NULL);
    }
}

static void gen_free(gen_t *g) {
  for (size_t k = 0; k < g->ncols; k++) {
    free(g->cols[k]);
    free(g->strbuf[k]);
  }
}

/* Reference equality of value a (type t) and b. */
static bool ref_eq(tide_type_t t, const void *a, const void *b) {
  switch (t) {
    case TIDE_F32: {
      float x, y;
      memcpy(&x, a, 4);
      memcpy(&y, b, 4);
      return x == y || (isnan(x) && isnan(y));
    }
    case TIDE_F64: {
      double x, y;
      memcpy(&x, a, 8);
      memcpy(&y, b, 8);
      return x == y || (isnan(x) && isnan(y));
    }
    case TIDE_STRING: {
      const char *x, *y;
      memcpy(&x, a, sizeof x);
      memcpy(&y, b, sizeof y);
      if (!x || !y) return x == y;
      return strcmp(x, y) == 0;
    }
    default:
      return memcmp(a, b, tide_type_width(t)) == 0;
  }
}

static bool ref_row_eq(const gen_t *g, uint32_t i, const gen_t *h, uint32_t j) {
  for (size_t k = 0; k < g->ncols; k++) {
    size_t w = tide_type_width(g->types[k]);
    if (!ref_eq(g->types[k], (const char *)g->cols[k] + (size_t)i * w,
                (const char *)h->cols[k] + (size_t)j * w))
      return false;
  }
  return true;
}

/* Naive reference: distinct tuples as first-appearance rows of g. */
typedef struct ref_t {
  uint32_t *first;
  uint32_t n;
} ref_t;

static uint32_t ref_find(const ref_t *ref, const gen_t *g, const gen_t *q, uint32_t j) {
  for (uint32_t id = 0; id < ref->n; id++)
    if (ref_row_eq(g, ref->first[id], q, j)) return id;
  return TIDE_KEYSET_ABSENT;
}

static void test_random(uint64_t seed, int iter) {
  tu_rng r = {seed};
  size_t ncols = 1 + tu_below(&r, MAXCOLS);
  tide_type_t types[MAXCOLS];
  uint32_t dom[MAXCOLS];
  for (size_t k = 0; k < ncols; k++) {
    types[k] = ALL_TYPES[tu_below(&r, NALL)];
    dom[k] = 1 + (uint32_t)tu_below(&r, iter % 3 == 0 ? 40 : 8);
  }
  uint32_t n = (uint32_t)tu_below(&r, 5000);
  gen_t g;
  gen_init(&g, ncols, types, n);
  gen_fill(&g, &r, dom);

  tide_error err;
  tide_keyset_t *ks = tide__keyset_create(ncols, types, tu_below(&r, 3) ? 0 : tu_below(&r, 5000), &err);
  CHECK_OK_PTR(ks, err);
  if (!ks) return;
  uint32_t *ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
  /* Insert in random batches, some larger than a chunk. */
  uint32_t done = 0;
  while (done < n) {
    uint32_t b = 1 + (uint32_t)tu_below(&r, tu_below(&r, 2) ? 10 : 5000);
    if (b > n - done) b = n - done;
    const void *cols[MAXCOLS];
    for (size_t k = 0; k < ncols; k++)
      cols[k] = (const char *)g.cols[k] + (size_t)done * tide_type_width(types[k]);
    tide_status st = tide__keyset_insert(ks, cols, b, ids + done);
    CHECK(st == TIDE_OK);
    done += b;
  }
  /* Reference ids. */
  ref_t ref = {malloc((size_t)(n ? n : 1) * sizeof(uint32_t)), 0};
  int bad = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t id = ref_find(&ref, &g, &g, i);
    if (id == TIDE_KEYSET_ABSENT) {
      id = ref.n;
      ref.first[ref.n++] = i;
    }
    if (ids[i] != id && bad++ < 3)
      CHECK_MSG(false, "seed %llu row %u: id %u, expected %u", (unsigned long long)seed, i, ids[i], id);
  }
  tu_checks++;
  CHECK_MSG(tide__keyset_size(ks) == ref.n, "seed %llu: size %u, expected %u",
            (unsigned long long)seed, tide__keyset_size(ks), ref.n);
  /* Stored keys equal the first appearance (and strings are copies). */
  for (size_t k = 0; k < ncols && tide__keyset_size(ks) == ref.n; k++) {
    size_t w = tide_type_width(types[k]);
    const char *keys = tide__keyset_keys(ks, k);
    for (uint32_t id = 0; id < ref.n; id++) {
      const char *a = keys + (size_t)id * w;
      const char *b = (const char *)g.cols[k] + (size_t)ref.first[id] * w;
      if (!ref_eq(types[k], a, b) || (types[k] != TIDE_STRING && memcmp(a, b, w) != 0)) {
        CHECK_MSG(false, "seed %llu: stored key col %zu id %u differs", (unsigned long long)seed, k, id);
        break;
      }
      if (types[k] == TIDE_STRING) {
        const char *sa, *sb;
        memcpy(&sa, a, sizeof sa);
        memcpy(&sb, b, sizeof sb);
        if (sa && sa == sb) {
          CHECK_MSG(false, "seed %llu: string key not copied", (unsigned long long)seed);
          break;
        }
      }
    }
  }
  /* Hashes agree for equal tuples. */
  if (n) {
    uint64_t *h = malloc((size_t)n * sizeof *h);
    tide__hash_keys(ncols, types, (const void *const *)g.cols, n, h);
    int hb = 0;
    for (uint32_t i = 0; i < n && hb < 3; i++) {
      if (ids[i] < ref.n && h[i] != h[ref.first[ids[i]]]) {
        CHECK_MSG(false, "seed %llu row %u: hash differs from equal key's", (unsigned long long)seed, i);
        hb++;
      }
    }
    free(h);
  }
  /* find over fresh rows from a wider domain (some absent), in batches. */
  uint32_t dom2[MAXCOLS] = {0};
  for (size_t k = 0; k < ncols; k++) dom2[k] = dom[k] + 3;
  uint32_t nq = (uint32_t)tu_below(&r, 1500);
  gen_t q;
  gen_init(&q, ncols, types, nq);
  gen_fill(&q, &r, dom2);
  uint32_t *qids = malloc((size_t)(nq ? nq : 1) * sizeof *qids);
  done = 0;
  while (done < nq) {
    uint32_t b = 1 + (uint32_t)tu_below(&r, 5000);
    if (b > nq - done) b = nq - done;
    const void *cols[MAXCOLS];
    for (size_t k = 0; k < ncols; k++)
      cols[k] = (const char *)q.cols[k] + (size_t)done * tide_type_width(types[k]);
    tide__keyset_find(ks, cols, b, qids + done);
    done += b;
  }
  bad = 0;
  for (uint32_t j = 0; j < nq; j++) {
    uint32_t id = ref_find(&ref, &g, &q, j);
    if (qids[j] != id && bad++ < 3)
      CHECK_MSG(false, "seed %llu find row %u: id %u, expected %u", (unsigned long long)seed, j, qids[j], id);
  }
  tu_checks++;
  free(qids);
  gen_free(&q);
  free(ref.first);
  free(ids);
  gen_free(&g);
  tide__keyset_free(ks);
}

/* Many distinct int64 keys (growth many times): reference by sorting. */
typedef struct vr_t {
  int64_t v;
  uint32_t row;
} vr_t;
static int vr_cmp(const void *a, const void *b) {
  const vr_t *x = a, *y = b;
  if (x->v != y->v) return x->v < y->v ? -1 : 1;
  return (x->row > y->row) - (x->row < y->row);
}
static int u32_cmp(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

static void test_growth(uint64_t seed) {
  tu_rng r = {seed};
  const uint32_t n = 150000;
  int64_t *v = malloc(n * sizeof *v);
  for (uint32_t i = 0; i < n; i++) v[i] = (int64_t)tu_below(&r, 60000) * 7919 - 1000000;
  tide_type_t t = TIDE_I64;
  tide_error err;
  tide_keyset_t *ks = tide__keyset_create(1, &t, 0, &err);
  CHECK_OK_PTR(ks, err);
  uint32_t *ids = malloc(n * sizeof *ids);
  const void *cols[1] = {v};
  CHECK(tide__keyset_insert(ks, cols, n, ids) == TIDE_OK);
  /* reference: first row of each value, ranked */
  vr_t *p = malloc(n * sizeof *p);
  for (uint32_t i = 0; i < n; i++) p[i] = (vr_t){v[i], i};
  qsort(p, n, sizeof *p, vr_cmp);
  uint32_t *firsts = malloc(n * sizeof *firsts);
  uint32_t *firstof = malloc(n * sizeof *firstof); /* row -> first row of its value */
  uint32_t nd = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (i == 0 || p[i].v != p[i - 1].v) firsts[nd++] = p[i].row;
    firstof[p[i].row] = firsts[nd - 1];
  }
  qsort(firsts, nd, sizeof *firsts, u32_cmp);
  /* rank of a first row = expected id */
  uint32_t *rank = malloc(n * sizeof *rank);
  for (uint32_t i = 0; i < nd; i++) rank[firsts[i]] = i;
  CHECK(tide__keyset_size(ks) == nd);
  int bad = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t e = rank[firstof[i]];
    if (ids[i] != e && bad++ < 3) CHECK_MSG(false, "growth row %u: id %u expected %u", i, ids[i], e);
  }
  const int64_t *keys = tide__keyset_keys(ks, 0);
  for (uint32_t i = 0; i < nd && tide__keyset_size(ks) == nd; i++) {
    if (keys[i] != v[firsts[i]]) {
      CHECK_MSG(false, "growth key %u", i);
      break;
    }
  }
  /* find returns the same ids */
  uint32_t *ids2 = malloc(n * sizeof *ids2);
  tide__keyset_find(ks, cols, n, ids2);
  CHECK(memcmp(ids, ids2, n * sizeof *ids) == 0);
  free(ids2);
  free(rank);
  free(firstof);
  free(firsts);
  free(p);
  free(ids);
  free(v);
  tide__keyset_free(ks);
}

/* Two different keys with the same hash tag and the same home slot:
 * exercises the compare-mismatch path (provisional and stored). */
typedef struct hk_t {
  uint64_t key;
  int64_t v;
} hk_t;
static int hk_cmp(const void *a, const void *b) {
  const hk_t *x = a, *y = b;
  return (x->key > y->key) - (x->key < y->key);
}

static void test_tag_collision(void) {
  const uint32_t n = 1u << 19;
  int64_t *v = malloc(n * sizeof *v);
  uint64_t *h = malloc(n * sizeof *h);
  for (uint32_t i = 0; i < n; i++) v[i] = i;
  tide_type_t t = TIDE_I64;
  const void *cols[1] = {v};
  tide__hash_keys(1, &t, cols, n, h);
  hk_t *p = malloc(n * sizeof *p);
  for (uint32_t i = 0; i < n; i++) p[i] = (hk_t){(h[i] & 0xffffffff00000000ULL) | (h[i] & 15), v[i]};
  qsort(p, n, sizeof *p, hk_cmp);
  int64_t a = -1, b = -1;
  for (uint32_t i = 1; i < n; i++)
    if (p[i].key == p[i - 1].key) {
      a = p[i - 1].v;
      b = p[i].v;
      break;
    }
  free(p);
  free(h);
  free(v);
  CHECK_MSG(a >= 0, "no tag collision found among 2^19 keys");
  if (a < 0) return;
  tide_error err;
  /* a and b in one call, twice each, then again in a later call */
  int64_t rows[6] = {a, b, b, a, -99, b};
  uint32_t ids[6];
  tide_keyset_t *ks = tide__keyset_create(1, &t, 0, &err);
  const void *c1[1] = {rows};
  CHECK(tide__keyset_insert(ks, c1, 6, ids) == TIDE_OK);
  CHECK(ids[0] == 0 && ids[1] == 1 && ids[2] == 1 && ids[3] == 0 && ids[4] == 2 && ids[5] == 1);
  int64_t rows2[3] = {b, a, -5};
  const void *c2[1] = {rows2};
  CHECK(tide__keyset_insert(ks, c2, 3, ids) == TIDE_OK);
  CHECK(ids[0] == 1 && ids[1] == 0 && ids[2] == 3);
  tide__keyset_find(ks, c2, 3, ids);
  CHECK(ids[0] == 1 && ids[1] == 0 && ids[2] == 3);
  tide__keyset_free(ks);
  /* b first in a fresh set, a found absent */
  ks = tide__keyset_create(1, &t, 0, &err);
  const void *c3[1] = {&b};
  CHECK(tide__keyset_insert(ks, c3, 1, ids) == TIDE_OK);
  const void *c4[1] = {&a};
  tide__keyset_find(ks, c4, 1, ids);
  CHECK(ids[0] == TIDE_KEYSET_ABSENT);
  tide__keyset_free(ks);
}

static void test_edge(void) {
  tide_error err;
  /* no key columns: everything is group 0 */
  tide_keyset_t *ks = tide__keyset_create(0, NULL, 0, &err);
  CHECK_OK_PTR(ks, err);
  uint32_t ids[8] = {9, 9, 9, 9, 9, 9, 9, 9};
  tide__keyset_find(ks, NULL, 2, ids);
  CHECK(ids[0] == TIDE_KEYSET_ABSENT);
  CHECK(tide__keyset_insert(ks, NULL, 3, ids) == TIDE_OK);
  CHECK(ids[0] == 0 && ids[2] == 0 && tide__keyset_size(ks) == 1);
  tide__keyset_find(ks, NULL, 2, ids);
  CHECK(ids[1] == 0);
  tide__keyset_free(ks);
  tide__keyset_free(NULL);
  /* empty insert, find on empty set */
  tide_type_t t = TIDE_STRING;
  ks = tide__keyset_create(1, &t, 10, &err);
  const char *s[3] = {"x", NULL, ""};
  const void *c[1] = {s};
  CHECK(tide__keyset_insert(ks, c, 0, ids) == TIDE_OK);
  CHECK(tide__keyset_size(ks) == 0);
  tide__keyset_find(ks, c, 3, ids);
  CHECK(ids[0] == TIDE_KEYSET_ABSENT && ids[1] == TIDE_KEYSET_ABSENT);
  CHECK(tide__keyset_insert(ks, c, 3, ids) == TIDE_OK);
  CHECK(ids[0] == 0 && ids[1] == 1 && ids[2] == 2);
  const char *const *keys = tide__keyset_keys(ks, 0);
  CHECK(strcmp(keys[0], "x") == 0 && keys[1] == NULL && strcmp(keys[2], "") == 0);
  tide__keyset_free(ks);
  /* bad type */
  tide_type_t bad = (tide_type_t)99;
  CHECK(tide__keyset_create(1, &bad, 0, &err) == NULL);
  /* -0.0 / NaN / null in doubles */
  t = TIDE_F64;
  double d[6] = {0.0, -0.0, NAN, -NAN, TIDE_NULL_F64, TIDE_NULL_F64};
  ks = tide__keyset_create(1, &t, 0, &err);
  const void *cd[1] = {d};
  CHECK(tide__keyset_insert(ks, cd, 6, ids) == TIDE_OK);
  uint32_t ids6[6];
  CHECK(tide__keyset_insert(ks, cd, 6, ids6) == TIDE_OK);
  CHECK(ids6[0] == 0 && ids6[1] == 0 && ids6[2] == 1 && ids6[3] == 1 && ids6[4] == 2 && ids6[5] == 2);
  CHECK(tide__keyset_size(ks) == 3);
  tide__keyset_free(ks);
}

/* Strings of every length 0..20 and, for each, variants differing at one
 * position: all distinct (exercises the inline form's word loads). */
static void test_string_positions(void) {
  const char *base = "abcdefghijklmnopqrstu";
  enum { MAXL = 21, NV = MAXL * (MAXL + 1) };
  static char buf[NV][24];
  const char *strs[NV + 1];
  uint32_t n = 0;
  for (int len = 0; len < MAXL; len++) {
    memcpy(buf[n], base, len);
    buf[n][len] = 0;
    strs[n] = buf[n];
    n++;
    for (int p = 0; p < len; p++) {
      memcpy(buf[n], base, len);
      buf[n][len] = 0;
      buf[n][p] = 'Z';
      strs[n] = buf[n];
      n++;
    }
  }
  strs[n++] = NULL;
  tide_type_t t = TIDE_STRING;
  tide_error err;
  tide_keyset_t *ks = tide__keyset_create(1, &t, 0, &err);
  uint32_t ids[NV + 1], ids2[NV + 1];
  const void *c[1] = {strs};
  CHECK(tide__keyset_insert(ks, c, n, ids) == TIDE_OK);
  CHECK_MSG(tide__keyset_size(ks) == n, "size %u, expected %u", tide__keyset_size(ks), n);
  bool ok = true;
  for (uint32_t i = 0; i < n; i++) ok &= ids[i] == i;
  CHECK(ok);
  /* copies (other addresses) find the same ids */
  static char copy[NV][24];
  const char *strs2[NV + 1];
  for (uint32_t i = 0; i < n; i++) {
    if (strs[i]) {
      strcpy(copy[i], strs[i]);
      strs2[i] = copy[i];
    } else {
      strs2[i] = NULL;
    }
  }
  const void *c2[1] = {strs2};
  tide__keyset_find(ks, c2, n, ids2);
  CHECK(memcmp(ids, ids2, n * sizeof *ids) == 0);
  tide__keyset_free(ks);
}

static void test_translate(void) {
  tide_symtab_t *a = tide_symtab_create(), *b = tide_symtab_create();
  tide_symtab_intern(a, "x", 1);
  tide_symtab_intern(a, "y", 1);
  tide_symtab_intern(a, "z", 1);
  tide_symtab_intern(b, "z", 1);
  tide_symtab_intern(b, "w", 1);
  tide_symtab_intern(b, "x", 1);
  tide_error err;
  int32_t *m = tide__symtab_translate(a, b, &err);
  CHECK_OK_PTR(m, err);
  if (m) CHECK(m[0] == 2 && m[1] == -2 && m[2] == 0);
  tide_free(m);
  m = tide__symtab_translate(a, a, &err);
  if (m) CHECK(m[0] == 0 && m[1] == 1 && m[2] == 2);
  tide_free(m);
  tide_symtab_t *e = tide_symtab_create();
  m = tide__symtab_translate(e, b, &err);
  CHECK(m != NULL);
  tide_free(m);
  tide_symtab_release(e);
  tide_symtab_release(a);
  tide_symtab_release(b);
}

/* ------------------------------------------------------ out of memory */

/* An insert that fails for lack of memory leaves the set as it was: retried
 * without the failure, every chunk gets the ids of a naive first-appearance
 * numbering, and find agrees. Long strings make the arena grow. */
static void test_oom(void) {
  enum { N = 3000, CH = 700 };
  const char **sv = malloc(N * sizeof *sv);
  int64_t *iv = malloc(N * sizeof *iv);
  char (*buf)[80] = malloc(N * sizeof *buf);
  tu_rng r = {31337};
  for (uint32_t i = 0; i < N; i++) {
    uint64_t k = tu_below(&r, 900);
    if (k == 0) {
      sv[i] = NULL;
    } else {
      snprintf(buf[i], sizeof buf[i], "key-%llu-padding-to-make-it-long-%llu", (unsigned long long)k,
               (unsigned long long)(k * 7));
      sv[i] = buf[i];
    }
    iv[i] = (int64_t)(k % 3);
  }
  /* naive reference ids */
  uint32_t *want = malloc(N * sizeof *want), nref = 0;
  for (uint32_t i = 0; i < N; i++) {
    uint32_t j = 0;
    for (; j < i; j++)
      if (iv[j] == iv[i] && ((!sv[j] && !sv[i]) || (sv[j] && sv[i] && !strcmp(sv[j], sv[i])))) break;
    want[i] = j < i ? want[j] : nref++;
  }
  tide_type_t types[2] = {TIDE_STRING, TIDE_I64};
  uint32_t *ids = malloc(N * sizeof *ids);
  for (long fail = 0; fail < 40; fail++) {
    tide_keyset_t *ks = tide__keyset_create(2, types, 0, NULL);
    if (!ks) continue;
    bool ok = true;
    tu_oom_arm_sticky(fail); /* keeps counting down across chunks */
    for (uint32_t start = 0; start < N; start += CH) {
      uint32_t m = N - start < CH ? N - start : CH;
      const void *cols[2] = {sv + start, iv + start};
      tide_status st = tide__keyset_insert(ks, cols, m, ids + start);
      if (st != TIDE_OK) {
        CHECK(st == TIDE_ERR_NOMEM);
        tu_oom_disarm();
        st = tide__keyset_insert(ks, cols, m, ids + start); /* retry without failures */
        CHECK(st == TIDE_OK);
      }
    }
    tu_oom_disarm();
    for (uint32_t i = 0; i < N; i++) ok = ok && ids[i] == want[i];
    CHECK_MSG(ok && tide__keyset_size(ks) == nref, "keyset after failure %ld: ids differ", fail);
    const void *cols[2] = {sv, iv};
    uint32_t *f = malloc(N * sizeof *f);
    tide__keyset_find(ks, cols, N, f);
    bool fok = true;
    for (uint32_t i = 0; i < N; i++) fok = fok && f[i] == want[i];
    CHECK_MSG(fok, "keyset find after failure %ld differs", fail);
    free(f);
    tide__keyset_free(ks);
  }
  free(ids);
  free(want);
  free(sv);
  free(iv);
  free(buf);
}

/* ---------------------------------------------------------- dense sets */

/* Reference group ids by first appearance, computed by sorting (value,
 * position) pairs: rows with equal v get the rank of their value's first
 * position among all first positions. */
typedef struct dref_t {
  int64_t v;
  uint32_t pos;
} dref_t;
static int dref_cmp(const void *a, const void *b) {
  const dref_t *x = a, *y = b;
  if (x->v != y->v) return x->v < y->v ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}
static uint32_t dense_ref_ids(const int64_t *v, uint32_t n, uint32_t *ids) {
  dref_t *a = malloc((n ? n : 1) * sizeof *a);
  uint32_t *firstof = malloc((n ? n : 1) * sizeof *firstof); /* pos -> first pos of its value */
  uint8_t *isfirst = calloc(n ? n : 1, 1);
  for (uint32_t i = 0; i < n; i++) a[i] = (dref_t){v[i], i};
  qsort(a, n, sizeof *a, dref_cmp);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t f = (i && a[i - 1].v == a[i].v) ? firstof[a[i - 1].pos] : a[i].pos;
    firstof[a[i].pos] = f;
    if (f == a[i].pos) isfirst[f] = 1;
  }
  uint32_t *rank = malloc((n ? n : 1) * sizeof *rank), g = 0;
  for (uint32_t i = 0; i < n; i++)
    if (isfirst[i]) rank[i] = g++;
  for (uint32_t i = 0; i < n; i++) ids[i] = rank[firstof[i]];
  free(a);
  free(firstof);
  free(isfirst);
  free(rank);
  return g;
}

/* Store int64 values as type t (the caller keeps them in t's range; the
 * type's null stays null). */
static void *dense_col(tide_type_t t, const int64_t *v, uint32_t n) {
  size_t w = tide_type_width(t);
  char *out = malloc((n ? n : 1) * w);
  for (uint32_t i = 0; i < n; i++) {
    switch (w) {
      case 1: ((int8_t *)out)[i] = (int8_t)v[i]; break;
      case 2: ((int16_t *)out)[i] = (int16_t)v[i]; break;
      case 4: ((int32_t *)out)[i] = (int32_t)v[i]; break;
      default: ((int64_t *)out)[i] = v[i]; break;
    }
  }
  return out;
}

static int64_t type_null(tide_type_t t) {
  switch (t) {
    case TIDE_BOOL:
    case TIDE_I8: return INT8_MIN;
    case TIDE_I16: return INT16_MIN;
    case TIDE_I32: return INT32_MIN;
    case TIDE_SYMBOL: return -1;
    default: return INT64_MIN;
  }
}

/* Dense key sets against the sort-based reference and a hashed set:
 * chunked inserts, finds (in range, out of range on both sides, null),
 * conversion to hashing on an out-of-range insert, and the parallel bulk
 * insert at 1, 2 and 4 threads. */
static void test_dense(uint64_t seed) {
  static const tide_type_t types[] = {TIDE_I8, TIDE_I16, TIDE_I32, TIDE_I64, TIDE_TS, TIDE_SYMBOL, TIDE_BOOL};
  tu_rng r = {seed ^ 0xde115e};
  unsigned checked = 0, converted = 0, bulk = 0;
  for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
    tide_type_t t = types[ti];
    for (int variant = 0; variant < 4; variant++) {
      /* range [lo, lo + span) of the type; variant 3 inserts values
       * outside it after a while */
      int64_t lo, span;
      switch (t) {
        case TIDE_BOOL: lo = 0; span = 2; break;
        case TIDE_I8: lo = variant & 1 ? -100 : 3; span = 90; break;
        case TIDE_SYMBOL: lo = 0; span = 500; break;
        case TIDE_I16: lo = variant & 1 ? -20000 : 7; span = 3000; break;
        case TIDE_I32: lo = variant & 1 ? -((int64_t)1 << 30) : 1; span = 200000; break;
        default: lo = variant & 1 ? -((int64_t)1 << 40) : 1; span = 200000; break;
      }
      uint32_t n = (t == TIDE_I32 || t == TIDE_I64) && variant == 2 ? 300000 : 20000;
      int64_t *v = malloc(n * sizeof *v);
      int64_t nul = type_null(t);
      for (uint32_t i = 0; i < n; i++) {
        uint64_t x = tu_below(&r, 100);
        if (x < 5) v[i] = nul;
        else v[i] = lo + (int64_t)tu_below(&r, (uint64_t)span);
        if (variant == 3 && i > n / 2 && x == 99 && t != TIDE_BOOL)
          v[i] = tu_below(&r, 2) ? lo - 1 : lo + span; /* just outside */
      }
      void *col = dense_col(t, v, n);
      uint32_t *want = malloc(n * sizeof *want), *ids = malloc(n * sizeof *ids);
      uint32_t ng = dense_ref_ids(v, n, want);
      /* chunked inserts into a dense set and a hashed one */
      tide_error err;
      tide_keyset_t *d = tide__keyset_create_dense(t, lo, (uint64_t)span, &err);
      tide_keyset_t *h = tide__keyset_create(1, &t, 0, &err);
      CHECK_OK_PTR(d, err);
      CHECK_OK_PTR(h, err);
      if (!d || !h) return;
      CHECK(tide__keyset_is_dense(d));
      uint32_t *hid = malloc(n * sizeof *hid);
      size_t w = tide_type_width(t);
      for (uint32_t s0 = 0; s0 < n;) {
        uint32_t m = 1 + (uint32_t)tu_below(&r, 3000);
        if (m > n - s0) m = n - s0;
        const void *c = (const char *)col + (size_t)s0 * w;
        CHECK(tide__keyset_insert(d, &c, m, ids + s0) == TIDE_OK);
        CHECK(tide__keyset_insert(h, &c, m, hid + s0) == TIDE_OK);
        s0 += m;
      }
      bool ok = true;
      for (uint32_t i = 0; i < n; i++) ok = ok && ids[i] == want[i] && hid[i] == want[i];
      CHECK_MSG(ok, "dense %s variant %d: insert ids differ from the reference", tide_type_name(t), variant);
      CHECK(tide__keyset_size(d) == ng && tide__keyset_size(h) == ng);
      CHECK(memcmp(tide__keyset_keys(d, 0), tide__keyset_keys(h, 0), (size_t)ng * w) == 0);
      bool outside = false;
      for (uint32_t i = 0; i < n; i++) outside = outside || (v[i] != nul && (v[i] < lo || v[i] >= lo + span));
      CHECK_MSG(tide__keyset_is_dense(d) == !outside, "dense %s variant %d: dense=%d outside=%d",
                tide_type_name(t), variant, (int)tide__keyset_is_dense(d), (int)outside);
      converted += outside;
      /* finds: every inserted value, neighbours outside the range, null */
      uint32_t nq = 4000;
      int64_t *q = malloc(nq * sizeof *q);
      for (uint32_t i = 0; i < nq; i++) {
        uint64_t x = tu_below(&r, 10);
        if (x == 0) q[i] = nul;
        else if (x == 1 && t != TIDE_BOOL) q[i] = lo - 1 - (int64_t)tu_below(&r, 3);
        else if (x == 2 && t != TIDE_BOOL) q[i] = lo + span + (int64_t)tu_below(&r, 3);
        else q[i] = lo + (int64_t)tu_below(&r, (uint64_t)span);
        if (t == TIDE_I8 && (q[i] < INT8_MIN || q[i] > INT8_MAX)) q[i] = nul;
        if (t == TIDE_I16 && (q[i] < INT16_MIN || q[i] > INT16_MAX)) q[i] = nul;
        if ((t == TIDE_SYMBOL || t == TIDE_BOOL) && q[i] < -2) q[i] = -2;
      }
      void *qc = dense_col(t, q, nq);
      uint32_t *f1 = malloc(nq * sizeof *f1), *f2 = malloc(nq * sizeof *f2);
      const void *qp = qc;
      tide__keyset_find(d, &qp, nq, f1);
      tide__keyset_find(h, &qp, nq, f2);
      bool fok = true;
      for (uint32_t i = 0; i < nq; i++) {
        uint32_t ref = TIDE_KEYSET_ABSENT;
        for (uint32_t j = 0; j < n && ref == TIDE_KEYSET_ABSENT; j++)
          if (v[j] == q[i]) ref = want[j];
        fok = fok && f1[i] == ref && f2[i] == ref;
        if (i >= 300) { /* full reference for a sample; the rest against the hashed set */
          for (; i < nq; i++) fok = fok && f1[i] == f2[i];
        }
      }
      CHECK_MSG(fok, "dense %s variant %d: find differs", tide_type_name(t), variant);
      checked += n + nq;
      /* bulk insert at 1, 2, 4 threads into fresh dense sets */
      for (int nt = 1; nt <= 4; nt *= 2) {
        tide_keyset_t *b = tide__keyset_create_dense(t, lo, (uint64_t)span, &err);
        CHECK_OK_PTR(b, err);
        if (!b) break;
        memset(ids, 0xee, n * sizeof *ids);
        CHECK(tide__keyset_insert_all(b, col, n, ids, nt) == TIDE_OK);
        bool bok = tide__keyset_size(b) == ng;
        for (uint32_t i = 0; i < n; i++) bok = bok && ids[i] == want[i];
        CHECK_MSG(bok, "dense %s variant %d: bulk insert at %d threads differs", tide_type_name(t),
                  variant, nt);
        CHECK(memcmp(tide__keyset_keys(b, 0), tide__keyset_keys(h, 0), (size_t)ng * w) == 0);
        CHECK(tide__keyset_is_dense(b) == !outside);
        /* not empty any more */
        CHECK(tide__keyset_insert_all(b, col, n, ids, nt) == TIDE_ERR_INVALID);
        tide__keyset_free(b);
        bulk++;
      }
      free(q);
      free(qc);
      free(f1);
      free(f2);
      free(hid);
      free(ids);
      free(want);
      free(col);
      free(v);
      tide__keyset_free(d);
      tide__keyset_free(h);
    }
  }
  /* bad arguments */
  tide_error err;
  tide_type_t f = TIDE_F64;
  CHECK(tide__keyset_create_dense(f, 0, 10, &err) == NULL && err.status == TIDE_ERR_TYPE);
  CHECK(tide__keyset_create_dense(TIDE_I64, 0, TIDE_KEYSET_DENSE_MAX_SPAN + 1, &err) == NULL &&
        err.status == TIDE_ERR_RANGE);
  /* an empty range: only null can be present */
  tide_keyset_t *e = tide__keyset_create_dense(TIDE_I64, 0, 0, &err);
  CHECK_OK_PTR(e, err);
  if (e) {
    int64_t vals[3] = {INT64_MIN, INT64_MIN, INT64_MIN};
    uint32_t ids[3];
    const void *c = vals;
    CHECK(tide__keyset_insert(e, &c, 3, ids) == TIDE_OK && ids[0] == 0 && ids[2] == 0);
    vals[1] = 0;
    tide__keyset_find(e, &c, 3, ids);
    CHECK(ids[0] == 0 && ids[1] == TIDE_KEYSET_ABSENT && tide__keyset_is_dense(e));
    tide__keyset_free(e);
  }
  printf("  dense key sets: %u values checked, %u conversions to hashing, %u bulk inserts\n",
         checked, converted, bulk);
}

/* Allocation failures in dense sets: inserts (including the conversion to
 * hashing) fail cleanly and a retry gives the reference ids. */
static void test_dense_oom(void) {
  enum { N = 5000, CH = 900 };
  int64_t *v = malloc(N * sizeof *v);
  tu_rng r = {4242};
  for (uint32_t i = 0; i < N; i++) v[i] = i > N / 2 && tu_below(&r, 50) == 0 ? 100000 : (int64_t)tu_below(&r, 700);
  uint32_t *want = malloc(N * sizeof *want), *ids = malloc(N * sizeof *ids);
  uint32_t ng = dense_ref_ids(v, N, want);
  unsigned fired = 0;
  for (long fail = 0; fail < 30; fail++) {
    tide_keyset_t *ks = tide__keyset_create_dense(TIDE_I64, 0, 700, NULL);
    if (!ks) continue;
    tu_oom_arm_sticky(fail);
    for (uint32_t start = 0; start < N; start += CH) {
      uint32_t m = N - start < CH ? N - start : CH;
      const void *c = v + start;
      tide_status st = tide__keyset_insert(ks, &c, m, ids + start);
      if (st != TIDE_OK) {
        CHECK(st == TIDE_ERR_NOMEM);
        fired++;
        tu_oom_disarm();
        CHECK(tide__keyset_insert(ks, &c, m, ids + start) == TIDE_OK);
      }
    }
    tu_oom_disarm();
    bool ok = tide__keyset_size(ks) == ng;
    for (uint32_t i = 0; i < N; i++) ok = ok && ids[i] == want[i];
    CHECK_MSG(ok, "dense set after failure %ld: ids differ", fail);
    tide__keyset_free(ks);
  }
  CHECK(fired > 0);
  free(v);
  free(want);
  free(ids);
}

int main(void) {
  uint64_t seed = tu_seed(20261121);
  for (int it = 0; it < 40; it++) test_random(seed + (uint64_t)it * 7777, it);
  test_growth(seed);
  test_tag_collision();
  test_edge();
  test_string_positions();
  test_translate();
  test_oom();
  test_dense(seed);
  test_dense_oom();
  return tu_finish("test_hash");
}
