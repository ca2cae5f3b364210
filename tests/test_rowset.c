/*
 * RowSet tests: every function against a naive reference (a sorted,
 * deduplicated uint64 array), over random sets of every shape: few ranges,
 * many short ranges, sparse random keys, keys above 2^32 and near 2^40,
 * runs crossing bucket boundaries, empty sets.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/rowset_int.h"
#include "testutil.h"

static uint64_t g_seed;
static int g_kinds[2]; /* sets checked per representation */

/* ------------------------------------------------------------ reference */

typedef struct {
  uint64_t *k;
  size_t n, cap;
} ref_t;

static void ref_push(ref_t *r, uint64_t v) {
  if (r->n == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 64;
    r->k = realloc(r->k, r->cap * sizeof *r->k);
  }
  r->k[r->n++] = v;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void ref_norm(ref_t *r) {
  if (r->n == 0) return;
  qsort(r->k, r->n, sizeof *r->k, cmp_u64);
  size_t j = 1;
  for (size_t i = 1; i < r->n; i++)
    if (r->k[i] != r->k[j - 1]) r->k[j++] = r->k[i];
  r->n = j;
}

static ref_t ref_copy(const ref_t *a) {
  ref_t r = {0};
  for (size_t i = 0; i < a->n; i++) ref_push(&r, a->k[i]);
  return r;
}

static bool ref_has(const ref_t *r, uint64_t v) {
  if (r->n == 0) return false;
  return bsearch(&v, r->k, r->n, sizeof *r->k, cmp_u64) != NULL;
}

/* number of keys < v */
static size_t ref_lower(const ref_t *r, uint64_t v) {
  size_t lo = 0, hi = r->n;
  while (lo < hi) {
    size_t m = (lo + hi) / 2;
    if (r->k[m] < v) lo = m + 1;
    else hi = m;
  }
  return lo;
}

static ref_t ref_op(const ref_t *a, const ref_t *b, int op) {
  ref_t r = {0};
  for (size_t i = 0; i < a->n; i++) {
    bool inb = ref_has(b, a->k[i]);
    if (op == 0 || (op == 1 && inb) || (op == 2 && !inb)) ref_push(&r, a->k[i]);
  }
  if (op == 0)
    for (size_t i = 0; i < b->n; i++) ref_push(&r, b->k[i]);
  ref_norm(&r);
  return r;
}

/* Add [f, l] to a sorted reference (linear merge). */
static void ref_add_range(ref_t *r, uint64_t f, uint64_t l) {
  size_t lo = ref_lower(r, f), hi = l == UINT64_MAX ? r->n : ref_lower(r, l + 1);
  size_t n = r->n - (hi - lo) + (size_t)(l - f + 1);
  uint64_t *k = malloc((n + 1) * sizeof *k);
  if (lo) memcpy(k, r->k, lo * sizeof *k);
  for (uint64_t x = f; x <= l; x++) k[lo + (x - f)] = x;
  if (r->n > hi) memcpy(k + lo + (l - f + 1), r->k + hi, (r->n - hi) * sizeof *k);
  free(r->k);
  r->k = k;
  r->n = n;
  r->cap = n + 1;
}

/* ------------------------------------------------------------ generators */

static uint64_t rand_base(tu_rng *g) {
  switch (tu_below(g, 7)) {
    case 6: return (UINT64_C(1) << 62) + tu_below(g, UINT64_C(1) << 40);
    case 0: return 0;
    case 1: return tu_below(g, 1000);
    case 2: return (UINT64_C(1) << 24) - tu_below(g, 300); /* bucket edge */
    case 3: return (UINT64_C(1) << 32) + tu_below(g, 1 << 20) - (1 << 19);
    case 4: return (UINT64_C(1) << 40) - tu_below(g, 5000);
    default: return tu_below(g, UINT64_C(1) << 36);
  }
}

/* A random reference set of one of several shapes. */
static ref_t gen_ref(tu_rng *g) {
  ref_t r = {0};
  uint64_t base = rand_base(g);
  switch (tu_below(g, 7)) {
    case 0: /* empty */
      break;
    case 1: { /* few ranges */
      size_t nr = 1 + tu_below(g, 5);
      uint64_t at = base;
      for (size_t i = 0; i < nr; i++) {
        at += tu_below(g, 3000);
        uint64_t len = 1 + tu_below(g, 5000);
        for (uint64_t k = 0; k < len; k++) ref_push(&r, at + k);
        at += len;
      }
      break;
    }
    case 2: { /* many short ranges */
      size_t nr = 50 + tu_below(g, 300);
      uint64_t at = base;
      for (size_t i = 0; i < nr; i++) {
        at += 1 + tu_below(g, 20);
        uint64_t len = 1 + tu_below(g, 6);
        for (uint64_t k = 0; k < len; k++) ref_push(&r, at + k);
        at += len;
      }
      break;
    }
    case 3: { /* sparse random keys */
      size_t n = tu_below(g, 3000);
      uint64_t span = 1 + tu_below(g, UINT64_C(1) << (10 + tu_below(g, 30)));
      for (size_t i = 0; i < n; i++) ref_push(&r, base + tu_below(g, span));
      break;
    }
    case 4: { /* dense-ish random keys */
      size_t n = tu_below(g, 8000);
      uint64_t span = n + 1 + tu_below(g, n + 1);
      for (size_t i = 0; i < n; i++) ref_push(&r, base + tu_below(g, span));
      break;
    }
    case 5: { /* mixture: long runs plus scattered keys, across bucket edges */
      uint64_t edge = ((base >> 24) + 1) << 24;
      uint64_t len = 1 + tu_below(g, 3000);
      for (uint64_t k = edge - len; k < edge + len; k++) ref_push(&r, k);
      size_t n = tu_below(g, 500);
      for (size_t i = 0; i < n; i++) ref_push(&r, edge - 50000 + tu_below(g, 100000));
      break;
    }
    default: { /* keys spread over many buckets near 2^40 */
      size_t n = tu_below(g, 2000);
      for (size_t i = 0; i < n; i++)
        ref_push(&r, (UINT64_C(1) << 40) - (UINT64_C(1) << 33) + tu_below(g, UINT64_C(1) << 34));
      break;
    }
  }
  ref_norm(&r);
  return r;
}

/* Build a RowSet from a reference in one of several ways. */
static tide_rowset_t *build(tu_rng *g, const ref_t *r) {
  tide_rowset_t *rs = NULL;
  switch (tu_below(g, 4)) {
    case 0: /* sorted keys */
      rs = tide_rowset_from_keys(r->k, r->n);
      break;
    case 1: { /* shuffled with duplicates */
      size_t n = r->n + r->n / 3;
      uint64_t *k = malloc((n + 1) * sizeof *k);
      for (size_t i = 0; i < r->n; i++) k[i] = r->k[i];
      for (size_t i = r->n; i < n; i++) k[i] = r->k[tu_below(g, r->n)];
      for (size_t i = n; i > 1; i--) {
        size_t j = tu_below(g, i);
        uint64_t t = k[i - 1];
        k[i - 1] = k[j];
        k[j] = t;
      }
      rs = tide_rowset_from_keys(k, n);
      free(k);
      break;
    }
    case 2: { /* insert_range of runs */
      rs = tide_rowset_create();
      size_t i = 0;
      while (i < r->n) {
        size_t j = i + 1;
        while (j < r->n && r->k[j] == r->k[j - 1] + 1) j++;
        CHECK(tide_rowset_insert_range(rs, r->k[i], r->k[j - 1]) == TIDE_OK);
        i = j;
      }
      break;
    }
    default: { /* union of singletons / ranges built separately */
      rs = tide_rowset_create();
      size_t i = 0;
      while (i < r->n) {
        size_t j = i + 1 + tu_below(g, 500);
        if (j > r->n) j = r->n;
        tide_rowset_t *part = tide_rowset_from_keys(r->k + i, j - i);
        CHECK(tide_rowset_union_inplace(rs, part) == TIDE_OK);
        tide_rowset_free(part);
        i = j;
      }
      break;
    }
  }
  CHECK(rs != NULL);
  return rs;
}

/* ------------------------------------------------------------ checks */

static bool check_iter(tu_rng *g, const tide_rowset_t *rs, const ref_t *r, uint64_t pos,
                       uint64_t count, bool windowed) {
  uint64_t lo = pos < r->n ? pos : r->n;
  uint64_t hi = count > r->n - lo ? r->n : lo + count;
  static uint64_t buf[TIDE_CHUNK_SIZE];
  tide_rowset_iter_t it;
  uint32_t max = tu_below(g, 3) == 0 ? TIDE_CHUNK_SIZE : 1 + (uint32_t)tu_below(g, 300);
  if (windowed) tide_rowset_iter_init_pos(&it, rs, pos, count);
  else tide_rowset_iter_init(&it, rs);
  tide_rowseq_t seq;
  uint64_t at = lo;
  bool ok = true;
  while (tide_rowset_iter_next_chunk(&it, max, &seq, buf)) {
    if (seq.n == 0 || seq.n > max || seq.pos != at || at + seq.n > hi) {
      ok = false;
      break;
    }
    for (uint32_t i = 0; i < seq.n; i++) {
      uint64_t k = seq.keys ? seq.keys[i] : seq.first + i;
      if (k != r->k[at + i]) ok = false;
    }
    if (seq.keys && seq.keys[seq.n - 1] - seq.keys[0] == seq.n - 1) ok = false; /* contiguous as keys */
    if (!ok) break;
    at += seq.n;
  }
  CHECK_MSG(ok && at == hi, "chunk iteration pos=%llu count=%llu max=%u at=%llu hi=%llu seed=%llu",
            (unsigned long long)pos, (unsigned long long)count, max, (unsigned long long)at,
            (unsigned long long)hi, (unsigned long long)g_seed);
  /* ranges */
  if (windowed) tide_rowset_iter_init_pos(&it, rs, pos, count);
  else tide_rowset_iter_init(&it, rs);
  uint64_t f, l, prevl = 0;
  bool have = false;
  at = lo;
  bool rok = true;
  while (tide_rowset_iter_next_range(&it, &f, &l)) {
    if (f > l || at + (l - f) >= hi || r->k[at] != f) {
      rok = false;
      break;
    }
    for (uint64_t k = f; k <= l; k++, at++)
      if (r->k[at] != k) rok = false;
    if (have && prevl + 1 == f) rok = false; /* not maximal */
    if (at < hi && r->k[at] == l + 1) rok = false; /* stopped early */
    if (!rok) break;
    prevl = l;
    have = true;
  }
  CHECK_MSG(rok && at == hi, "range iteration pos=%llu count=%llu seed=%llu", (unsigned long long)pos,
            (unsigned long long)count, (unsigned long long)g_seed);
  return ok && rok && at == hi;
}

static bool check_set(tu_rng *g, const tide_rowset_t *rs, const ref_t *r, const char *what) {
  int before = tu_failures;
  g_kinds[tide__rowset_kind(rs) ? 1 : 0]++;
  CHECK_MSG(tide_rowset_size(rs) == r->n, "%s: size %llu want %zu seed=%llu", what,
            (unsigned long long)tide_rowset_size(rs), r->n, (unsigned long long)g_seed);
  if (tide_rowset_size(rs) != r->n) return false;
  CHECK(tide_rowset_is_empty(rs) == (r->n == 0));
  CHECK(tide_rowset_first(rs) == (r->n ? r->k[0] : TIDE_NULL_KEY));
  CHECK(tide_rowset_last(rs) == (r->n ? r->k[r->n - 1] : TIDE_NULL_KEY));
  CHECK(tide_rowset_is_range(rs) == (r->n == 0 || r->k[r->n - 1] - r->k[0] + 1 == r->n));
  CHECK(tide_rowset_memory(rs) > 0);
  uint64_t *out = malloc((r->n + 1) * sizeof *out);
  CHECK(tide_rowset_export(rs, out) == r->n);
  CHECK_MSG(r->n == 0 || memcmp(out, r->k, r->n * sizeof *out) == 0, "%s: export differs seed=%llu", what,
            (unsigned long long)g_seed);
  free(out);
  /* key_at / find / contains */
  int bad = 0;
  for (int t = 0; t < 60 && r->n; t++) {
    uint64_t p = t < 2 ? (t ? r->n - 1 : 0) : tu_below(g, r->n);
    if (tide_rowset_key_at(rs, p) != r->k[p]) bad++;
    if (tide_rowset_find(rs, r->k[p]) != (int64_t)p) bad++;
    if (!tide_rowset_contains(rs, r->k[p])) bad++;
    uint64_t probe[3] = {r->k[p] + 1, r->k[p] ? r->k[p] - 1 : 0, r->k[p] + tu_below(g, 100000)};
    for (int q = 0; q < 3; q++) {
      uint64_t v = probe[q];
      size_t lb = ref_lower(r, v);
      bool has = lb < r->n && r->k[lb] == v;
      int64_t want = has ? (int64_t)lb : -(int64_t)lb - 1;
      if (tide_rowset_find(rs, v) != want) bad++;
      if (tide_rowset_contains(rs, v) != has) bad++;
    }
  }
  CHECK(tide_rowset_key_at(rs, r->n) == TIDE_NULL_KEY);
  CHECK(tide_rowset_find(rs, UINT64_C(1) << 63) == -(int64_t)r->n - 1);
  CHECK(tide_rowset_find(rs, 0) == (r->n && r->k[0] == 0 ? 0 : -1));
  CHECK_MSG(bad == 0, "%s: %d key_at/find/contains mismatches seed=%llu", what, bad,
            (unsigned long long)g_seed);
  /* iterators */
  check_iter(g, rs, r, 0, UINT64_MAX, false);
  for (int t = 0; t < 3; t++) {
    uint64_t p = tu_below(g, r->n + 2), c = tu_below(g, 4) ? tu_below(g, r->n + 2) : UINT64_MAX;
    check_iter(g, rs, r, p, c, true);
  }
  if (tu_failures != before) fprintf(stderr, "  (in %s, seed=%llu)\n", what, (unsigned long long)g_seed);
  return tu_failures == before;
}

/* ------------------------------------------------------------ tests */

static void test_basics(void) {
  tide_rowset_t *e = tide_rowset_create();
  CHECK(tide_rowset_size(e) == 0 && tide_rowset_is_empty(e) && tide_rowset_is_range(e));
  CHECK(tide_rowset_first(e) == TIDE_NULL_KEY && tide_rowset_last(e) == TIDE_NULL_KEY);
  CHECK(tide_rowset_find(e, 5) == -1);
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  uint64_t buf[16];
  tide_rowset_iter_init(&it, e);
  CHECK(!tide_rowset_iter_next_chunk(&it, 16, &seq, buf));
  tide_rowset_t *r0 = tide_rowset_create_range(5, 4);
  CHECK(tide_rowset_is_empty(r0) && tide_rowset_equals(e, r0));
  tide_rowset_free(r0);

  /* flat table: every chunk a full range */
  uint64_t n = 1000000;
  tide_rowset_t *flat = tide_rowset_create_range(0, n - 1);
  CHECK(tide_rowset_is_range(flat) && tide_rowset_size(flat) == n);
  tide_rowset_iter_init(&it, flat);
  static uint64_t kb[TIDE_CHUNK_SIZE];
  uint64_t at = 0;
  bool ok = true;
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, kb)) {
    if (seq.keys || seq.first != at || seq.pos != at ||
        seq.n != (n - at < TIDE_CHUNK_SIZE ? n - at : TIDE_CHUNK_SIZE))
      ok = false;
    at += seq.n;
  }
  CHECK(ok && at == n);
  /* morsels */
  tide_rowset_iter_init_pos(&it, flat, 12345, 100);
  CHECK(tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, kb));
  CHECK(seq.keys == NULL && seq.first == 12345 && seq.n == 100 && seq.pos == 12345);
  CHECK(!tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, kb));

  /* refcounts */
  tide_rowset_t *f2 = tide_rowset_retain(flat);
  CHECK(f2 == flat);
  tide_rowset_free(flat);
  CHECK(tide_rowset_size(f2) == n);
  tide_rowset_t *c = tide_rowset_copy(f2);
  CHECK(tide_rowset_remove(c, 7) == TIDE_OK);
  CHECK(tide_rowset_size(c) == n - 1 && tide_rowset_size(f2) == n);
  CHECK(!tide_rowset_equals(c, f2));
  CHECK(tide_rowset_find(c, 7) == -8 && tide_rowset_find(c, 8) == 7);
  tide_rowset_free(c);
  tide_rowset_free(f2);
  tide_rowset_free(NULL);

  /* shift_all on a bitmap with a bucket-multiple delta and a general one */
  uint64_t keys[] = {1, 5, 9, 100, 1000, UINT64_C(1) << 33, (UINT64_C(1) << 33) + 2};
  tide_rowset_t *s = tide_rowset_from_keys(keys, 7);
  CHECK(tide_rowset_shift_all(s, -2) == TIDE_ERR_INVALID);
  CHECK(tide_rowset_size(s) == 7 && tide_rowset_first(s) == 1);
  CHECK(tide_rowset_shift_all(s, (int64_t)1 << 24) == TIDE_OK);
  CHECK(tide_rowset_first(s) == 1 + (UINT64_C(1) << 24));
  CHECK(tide_rowset_shift_all(s, -((int64_t)1 << 24) - 1) == TIDE_OK);
  CHECK(tide_rowset_first(s) == 0 && tide_rowset_last(s) == (UINT64_C(1) << 33) + 1);
  tide_rowset_free(s);
  tide_rowset_free(e);

  /* keys at the top of the key space */
  uint64_t top = (uint64_t)INT64_MAX;
  tide_rowset_t *t = tide_rowset_create_range(top - 9, top);
  CHECK(tide_rowset_size(t) == 10 && tide_rowset_last(t) == top);
  CHECK(tide_rowset_shift_all(t, 1) == TIDE_ERR_INVALID);
  tide_shift_t up = {top - 3, top, 2};
  CHECK(tide_rowset_shift(t, &up, 1) == TIDE_ERR_INVALID && tide_rowset_size(t) == 10);
  CHECK(tide_rowset_shift_all(t, -(int64_t)(top - 9)) == TIDE_OK && tide_rowset_first(t) == 0);
  tide_rowset_free(t);
  uint64_t hk[300];
  for (int i = 0; i < 300; i++) hk[i] = top - (uint64_t)i * 7919 * 7;
  t = tide_rowset_from_keys(hk, 300);
  CHECK(tide__rowset_kind(t) == 1 && tide_rowset_last(t) == top && tide_rowset_find(t, top) == 299);
  CHECK(tide_rowset_key_at(t, 0) == hk[299] && tide_rowset_find(t, top - 1) == -300);
  CHECK(tide_rowset_shift_all(t, 1) == TIDE_ERR_INVALID && tide_rowset_last(t) == top);
  tide_rowset_free(t);

  /* the same set as ranges and as a bitmap: 40 runs of 3 keys */
  uint64_t kk[600];
  size_t nk = 0;
  for (int i = 0; i < 200; i++)
    for (int j = 0; j < 3; j++) kk[nk++] = (uint64_t)i * 10 + j + (UINT64_C(1) << 24) - 500;
  tide_rowset_t *bm = tide_rowset_from_keys(kk, nk); /* 200 short runs: bitmap */
  CHECK(tide__rowset_kind(bm) == 1);
  CHECK(tide_rowset_remove_range(bm, kk[120], kk[nk - 1]) == TIDE_OK); /* 40 runs left */
  tide_rowset_t *rg = tide_rowset_from_keys(kk, 120);                 /* 40 runs: ranges */
  CHECK(tide__rowset_kind(rg) == 0 && tide__rowset_parts(rg) == 40);
  CHECK(tide__rowset_kind(bm) == 1);
  CHECK(tide_rowset_equals(bm, rg) && tide_rowset_equals(rg, bm));
  CHECK(tide_rowset_insert(rg, 3) == TIDE_OK);
  CHECK(!tide_rowset_equals(bm, rg) && !tide_rowset_equals(rg, bm));
  CHECK(tide_rowset_remove(rg, 3) == TIDE_OK);
  CHECK(tide_rowset_remove(rg, kk[60]) == TIDE_OK);
  CHECK(tide_rowset_insert(rg, kk[60] + 5) == TIDE_OK);
  CHECK(tide_rowset_size(rg) == tide_rowset_size(bm) && !tide_rowset_equals(bm, rg));
  /* shrinking a bitmap to few runs gives ranges back */
  CHECK(tide_rowset_remove_range(bm, kk[30], kk[119]) == TIDE_OK);
  CHECK(tide__rowset_kind(bm) == 0 && tide__rowset_parts(bm) == 10);
  tide_rowset_free(bm);
  tide_rowset_free(rg);
}

static void test_build_and_query(tu_rng *g, int rounds) {
  for (int round = 0; round < rounds; round++) {
    ref_t r = gen_ref(g);
    tide_rowset_t *rs = build(g, &r);
    check_set(g, rs, &r, "build");
    /* copy and equals with a differently built set */
    tide_rowset_t *c = tide_rowset_copy(rs);
    tide_rowset_t *c2 = build(g, &r);
    CHECK(tide_rowset_equals(rs, c) && tide_rowset_equals(c, c2) && tide_rowset_equals(c2, rs));
    check_set(g, c, &r, "copy");
    if (r.n) {
      CHECK(tide_rowset_remove(c, r.k[tu_below(g, r.n)]) == TIDE_OK);
      CHECK(!tide_rowset_equals(rs, c));
    }
    /* subset_by_pos */
    uint64_t p = tu_below(g, r.n + 2), cnt = tu_below(g, r.n + 2);
    tide_rowset_t *sub = tide_rowset_subset_by_pos(rs, p, cnt);
    ref_t rr = {0};
    for (uint64_t i = p; i < r.n && i - p < cnt; i++) ref_push(&rr, r.k[i]);
    check_set(g, sub, &rr, "subset_by_pos");
    free(rr.k);
    tide_rowset_free(sub);
    tide_rowset_free(c);
    tide_rowset_free(c2);
    tide_rowset_free(rs);
    free(r.k);
  }
}

static void test_set_ops(tu_rng *g, int rounds) {
  static const char *names[] = {"union", "intersect", "minus"};
  for (int round = 0; round < rounds; round++) {
    ref_t a = gen_ref(g), b;
    if (tu_below(g, 4) == 0) { /* overlapping variant of a */
      b = ref_copy(&a);
      for (size_t i = 0; i < b.n; i++)
        if (tu_below(g, 3) == 0) b.k[i] += tu_below(g, 5);
      ref_norm(&b);
    } else {
      b = gen_ref(g);
    }
    tide_rowset_t *ra = build(g, &a), *rb = build(g, &b);
    for (int op = 0; op < 3; op++) {
      ref_t want = ref_op(&a, &b, op);
      tide_rowset_t *res = op == 0 ? tide_rowset_union(ra, rb)
                           : op == 1 ? tide_rowset_intersect(ra, rb)
                                     : tide_rowset_minus(ra, rb);
      CHECK(res != NULL);
      check_set(g, res, &want, names[op]);
      tide_rowset_t *ip = tide_rowset_copy(ra);
      tide_status st = op == 0 ? tide_rowset_union_inplace(ip, rb)
                       : op == 1 ? tide_rowset_intersect_inplace(ip, rb)
                                 : tide_rowset_minus_inplace(ip, rb);
      CHECK(st == TIDE_OK);
      CHECK(tide_rowset_equals(ip, res));
      if (tu_below(g, 4) == 0) check_set(g, ip, &want, names[op]);
      tide_rowset_free(ip);
      tide_rowset_free(res);
      free(want.k);
    }
    { /* aliasing: rs op= rs */
      tide_rowset_t *x = tide_rowset_copy(ra);
      CHECK(tide_rowset_union_inplace(x, x) == TIDE_OK && tide_rowset_equals(x, ra));
      CHECK(tide_rowset_intersect_inplace(x, x) == TIDE_OK && tide_rowset_equals(x, ra));
      CHECK(tide_rowset_minus_inplace(x, x) == TIDE_OK && tide_rowset_is_empty(x));
      tide_rowset_free(x);
    }
    /* inputs unchanged */
    CHECK(tide_rowset_size(ra) == a.n && tide_rowset_size(rb) == b.n);
    tide_rowset_free(ra);
    tide_rowset_free(rb);
    free(a.k);
    free(b.k);
  }
}

static void test_mutation(tu_rng *g, int rounds) {
  for (int round = 0; round < rounds; round++) {
    ref_t r = gen_ref(g);
    tide_rowset_t *rs = build(g, &r);
    uint64_t lo = r.n ? r.k[0] : rand_base(g);
    uint64_t span = r.n ? r.k[r.n - 1] - lo + 100 : 1000;
    int nops = 1 + (int)tu_below(g, 150);
    for (int op = 0; op < nops; op++) {
      uint64_t k = lo + tu_below(g, span);
      if (k > 50 && tu_below(g, 8) == 0) k -= 50;
      uint64_t len = tu_below(g, 4) ? tu_below(g, 10) : tu_below(g, 40000);
      tide_status st = TIDE_OK;
      switch (tu_below(g, 4)) {
        case 0:
          st = tide_rowset_insert(rs, k);
          ref_add_range(&r, k, k);
          break;
        case 1: {
          st = tide_rowset_remove(rs, k);
          size_t lb = ref_lower(&r, k);
          if (lb < r.n && r.k[lb] == k) {
            memmove(r.k + lb, r.k + lb + 1, (r.n - lb - 1) * sizeof *r.k);
            r.n--;
          }
          break;
        }
        case 2:
          st = tide_rowset_insert_range(rs, k, k + len);
          ref_add_range(&r, k, k + len);
          break;
        default: {
          st = tide_rowset_remove_range(rs, k, k + len);
          size_t j = 0;
          for (size_t i = 0; i < r.n; i++)
            if (r.k[i] < k || r.k[i] > k + len) r.k[j++] = r.k[i];
          r.n = j;
          break;
        }
      }
      CHECK(st == TIDE_OK);
      if (tide_rowset_size(rs) != r.n) {
        CHECK_MSG(false, "mutation size %llu want %zu (op %d) seed=%llu",
                  (unsigned long long)tide_rowset_size(rs), r.n, op, (unsigned long long)g_seed);
        break;
      }
    }
    check_set(g, rs, &r, "mutation");
    tide_rowset_free(rs);
    free(r.k);
  }
}

/* Naive shift: -1 if invalid (negative key or collision), else result. */
static int ref_shift(const ref_t *r, const tide_shift_t *s, size_t n, ref_t *out) {
  for (size_t i = 0; i < n; i++) {
    if (s[i].first > s[i].last) return -1;
    if (i && s[i].first <= s[i - 1].last) return -1;
  }
  ref_t o = {0};
  for (size_t i = 0; i < r->n; i++) {
    uint64_t k = r->k[i];
    int64_t d = 0;
    for (size_t j = 0; j < n; j++)
      if (k >= s[j].first && k <= s[j].last) d = s[j].delta;
    if (d < 0 && k < (uint64_t)-d) {
      free(o.k);
      return -1;
    }
    ref_push(&o, k + (uint64_t)d);
  }
  size_t before = o.n;
  ref_norm(&o);
  if (o.n != before) {
    free(o.k);
    return -1;
  }
  *out = o;
  return 0;
}

static void test_shift(tu_rng *g, int rounds) {
  int valid = 0, invalid = 0;
  for (int round = 0; round < rounds; round++) {
    ref_t r = gen_ref(g);
    tide_rowset_t *rs = build(g, &r);
    tide_shift_t sh[32];
    size_t ns = 0;
    int mode = (int)tu_below(g, 3);
    if (mode == 0 && r.n > 4) {
      /* Deephaven-style valid shifts: segments separated by staying keys,
       * images kept between the staying neighbours */
      size_t i = 1 + tu_below(g, 3);
      while (i + 1 < r.n && ns < 32) {
        size_t j = i + tu_below(g, 1 + r.n / 8);
        if (j + 1 >= r.n) break;
        uint64_t gapl = r.k[i] - r.k[i - 1] - 1, gapr = r.k[j + 1] - r.k[j] - 1;
        int64_t d = (int64_t)tu_below(g, gapl + gapr + 1) - (int64_t)gapl;
        uint64_t f = r.k[i] - tu_below(g, gapl + 1), l = r.k[j] + tu_below(g, gapr + 1);
        sh[ns++] = (tide_shift_t){f, l, d};
        i = j + 2 + tu_below(g, 1 + r.n / 8);
      }
    } else if (mode == 1) {
      /* random shifts, mostly invalid */
      uint64_t at = r.n ? r.k[0] - (r.k[0] > 10 ? 10 : r.k[0]) : 0;
      ns = 1 + tu_below(g, 4);
      for (size_t i = 0; i < ns; i++) {
        at += tu_below(g, 2000);
        uint64_t len = tu_below(g, 2000);
        sh[i] = (tide_shift_t){at, at + len, (int64_t)tu_below(g, 200) - 100};
        at += len + 1;
      }
    } else {
      /* a single shift of a tail or head by a large delta */
      if (r.n) {
        uint64_t f = r.k[tu_below(g, r.n)];
        int64_t d = tu_below(g, 2) ? (int64_t)(tu_below(g, UINT64_C(1) << 30))
                                   : -(int64_t)tu_below(g, r.k[0] + 1);
        if (tu_below(g, 2)) sh[ns++] = (tide_shift_t){f, UINT64_C(1) << 50, d > 0 ? d : -d};
        else sh[ns++] = (tide_shift_t){0, f, d < 0 ? d : -d};
      }
    }
    if (tu_below(g, 20) == 0 && ns >= 2) { /* unsorted */
      tide_shift_t t = sh[0];
      sh[0] = sh[1];
      sh[1] = t;
    }
    ref_t want = {0};
    int rv = ref_shift(&r, sh, ns, &want);
    tide_status st = tide_rowset_shift(rs, sh, ns);
    if (rv == 0) {
      valid++;
      CHECK_MSG(st == TIDE_OK, "valid shift rejected (mode %d) seed=%llu", mode,
                (unsigned long long)g_seed);
      check_set(g, rs, &want, "shift");
      free(want.k);
    } else {
      invalid++;
      CHECK_MSG(st == TIDE_ERR_INVALID, "invalid shift accepted (mode %d) seed=%llu", mode,
                (unsigned long long)g_seed);
      check_set(g, rs, &r, "shift (invalid, unchanged)");
    }
    /* shift_all */
    tide_rowset_t *c = tide_rowset_copy(rs);
    const ref_t *cur = rv == 0 ? NULL : &r;
    ref_t now = {0};
    if (!cur) {
      now.n = tide_rowset_size(rs);
      now.cap = now.n + 1;
      now.k = malloc(now.cap * sizeof *now.k);
      tide_rowset_export(rs, now.k);
      cur = &now;
    }
    int64_t d;
    switch (tu_below(g, 3)) {
      case 0: d = (int64_t)tu_below(g, 1000) - 500; break;
      case 1: d = ((int64_t)tu_below(g, 64) - 32) * ((int64_t)1 << 24); break;
      default: d = (int64_t)tu_below(g, UINT64_C(1) << 36) - ((int64_t)1 << 35); break;
    }
    bool ok = cur->n == 0 || d >= 0 || cur->k[0] >= (uint64_t)-d;
    st = tide_rowset_shift_all(c, d);
    CHECK(st == (ok ? TIDE_OK : TIDE_ERR_INVALID));
    ref_t sw = {0};
    for (size_t i = 0; i < cur->n; i++) ref_push(&sw, ok ? cur->k[i] + (uint64_t)d : cur->k[i]);
    check_set(g, c, &sw, "shift_all");
    free(sw.k);
    free(now.k);
    tide_rowset_free(c);
    tide_rowset_free(rs);
    free(r.k);
  }
  CHECK(valid > rounds / 4 && invalid > rounds / 20);
  printf("shift: %d valid, %d invalid\n", valid, invalid);
}

/* Every mutation either succeeds with the right result or reports
 * TIDE_ERR_NOMEM and leaves the set as it was. */
static void test_oom(tu_rng *g, int rounds) {
  int failures_seen = 0;
  for (int round = 0; round < rounds; round++) {
    ref_t a = gen_ref(g), b = gen_ref(g);
    tide_rowset_t *ra = build(g, &a), *rb = build(g, &b);
    int op = (int)tu_below(g, 8);
    uint64_t k = a.n ? a.k[tu_below(g, a.n)] + tu_below(g, 3) : 5, len = tu_below(g, 5000);
    tide_shift_t sh = {k, k + len, (int64_t)tu_below(g, 100) + 1};
    tide_rowset_t *want = tide_rowset_copy(ra);
    tide_status wst;
    switch (op) {
      case 0: wst = tide_rowset_union_inplace(want, rb); break;
      case 1: wst = tide_rowset_intersect_inplace(want, rb); break;
      case 2: wst = tide_rowset_minus_inplace(want, rb); break;
      case 3: wst = tide_rowset_insert(want, k + 7); break;
      case 4: wst = tide_rowset_insert_range(want, k, k + len); break;
      case 5: wst = tide_rowset_remove_range(want, k, k + len); break;
      case 6: wst = tide_rowset_remove(want, k); break;
      default: wst = tide_rowset_shift(want, &sh, 1); break;
    }
    for (long fail = 0; fail < 64; fail++) {
      tide_rowset_t *c = tide_rowset_copy(ra);
      tu_oom_arm_sticky(fail); /* this and every later allocation fail */
      tide_status st;
      switch (op) {
        case 0: st = tide_rowset_union_inplace(c, rb); break;
        case 1: st = tide_rowset_intersect_inplace(c, rb); break;
        case 2: st = tide_rowset_minus_inplace(c, rb); break;
        case 3: st = tide_rowset_insert(c, k + 7); break;
        case 4: st = tide_rowset_insert_range(c, k, k + len); break;
        case 5: st = tide_rowset_remove_range(c, k, k + len); break;
        case 6: st = tide_rowset_remove(c, k); break;
        default: st = tide_rowset_shift(c, &sh, 1); break;
      }
      tide_rowset_t *u = tide_rowset_union(ra, rb); /* constructors: NULL or right */
      tu_oom_disarm();
      if (u) {
        tide_rowset_t *u2 = tide_rowset_union(ra, rb);
        CHECK(tide_rowset_equals(u, u2));
        tide_rowset_free(u2);
        tide_rowset_free(u);
      }
      if (st == TIDE_ERR_NOMEM) {
        failures_seen++;
        CHECK_MSG(tide_rowset_equals(c, ra), "op %d changed the set on OOM (fail %ld) seed=%llu", op,
                  fail, (unsigned long long)g_seed);
        tide_rowset_free(c);
        continue;
      }
      CHECK_MSG(st == wst && tide_rowset_equals(c, want), "op %d wrong under OOM (fail %ld) seed=%llu",
                op, fail, (unsigned long long)g_seed);
      tide_rowset_free(c);
      break;
    }
    tide_rowset_free(want);
    tide_rowset_free(ra);
    tide_rowset_free(rb);
    free(a.k);
    free(b.k);
  }
  CHECK(failures_seen > 0);
}

/* ------------------------------------------------------------ copy-on-write copies
 * tide_rowset_copy shares bitmap buckets: a family of copies (copies of
 * copies, originals freed early) is mutated independently, each against
 * its own naive model; then the sharing itself (a copy + a one-key edit
 * duplicates only the bucket it touches). */

static void cow_mutate(tu_rng *g, tide_rowset_t *rs, ref_t *r) {
  uint64_t lo = r->n ? r->k[0] : rand_base(g);
  uint64_t span = r->n ? r->k[r->n - 1] - lo + 100 : 1000;
  uint64_t k = lo + tu_below(g, span);
  uint64_t len = tu_below(g, 4) ? tu_below(g, 10) : tu_below(g, 20000);
  tide_status st = TIDE_OK;
  switch (tu_below(g, 8)) {
    case 0:
    case 1:
      st = tide_rowset_insert(rs, k);
      ref_add_range(r, k, k);
      break;
    case 2:
    case 3: {
      if (r->n && tu_below(g, 2)) k = r->k[tu_below(g, r->n)];
      st = tide_rowset_remove(rs, k);
      size_t lb = ref_lower(r, k);
      if (lb < r->n && r->k[lb] == k) {
        memmove(r->k + lb, r->k + lb + 1, (r->n - lb - 1) * sizeof *r->k);
        r->n--;
      }
      break;
    }
    case 4:
      st = tide_rowset_insert_range(rs, k, k + len);
      ref_add_range(r, k, k + len);
      break;
    case 5: {
      st = tide_rowset_remove_range(rs, k, k + len);
      size_t j = 0;
      for (size_t i = 0; i < r->n; i++)
        if (r->k[i] < k || r->k[i] > k + len) r->k[j++] = r->k[i];
      r->n = j;
      break;
    }
    default: { /* union / minus / intersect with a small random set near the keys */
      ref_t o = {0};
      size_t n = tu_below(g, 200);
      for (size_t i = 0; i < n; i++)
        ref_push(&o, tu_below(g, 3) || !r->n ? lo + tu_below(g, span) : r->k[tu_below(g, r->n)]);
      ref_norm(&o);
      tide_rowset_t *os = tide_rowset_from_keys(o.k, o.n);
      int op = (int)tu_below(g, 5);
      op = op < 2 ? 0 : op < 4 ? 2 : 1;
      st = op == 0 ? tide_rowset_union_inplace(rs, os)
           : op == 1 ? tide_rowset_intersect_inplace(rs, os) : tide_rowset_minus_inplace(rs, os);
      ref_t t = ref_op(r, &o, op);
      free(r->k);
      *r = t;
      tide_rowset_free(os);
      free(o.k);
      break;
    }
  }
  CHECK(st == TIDE_OK);
}

static void test_cow_copies(tu_rng *g, int rounds) {
  enum { NS = 4 };
  int checked = 0;
  for (int round = 0; round < rounds; round++) {
    tide_rowset_t *s[NS] = {0};
    ref_t r[NS] = {{0}};
    r[0] = gen_ref(g);
    s[0] = build(g, &r[0]);
    int steps = 20 + (int)tu_below(g, 60);
    for (int step = 0; step < steps; step++) {
      int i = (int)tu_below(g, NS);
      if (!s[i]) {
        int from = (int)tu_below(g, NS);
        if (!s[from]) continue;
        s[i] = tide_rowset_copy(s[from]); /* copy of a live (maybe copied) set */
        CHECK(s[i] != NULL);
        r[i] = ref_copy(&r[from]);
        CHECK(tide_rowset_equals(s[i], s[from]));
      } else if (tu_below(g, 12) == 0) {
        tide_rowset_free(s[i]); /* drop one holder of shared buckets */
        free(r[i].k);
        s[i] = NULL;
        r[i] = (ref_t){0};
      } else {
        cow_mutate(g, s[i], &r[i]);
        if (tide_rowset_size(s[i]) != r[i].n) {
          CHECK_MSG(false, "cow: size %llu want %zu step %d seed=%llu",
                    (unsigned long long)tide_rowset_size(s[i]), r[i].n, step, (unsigned long long)g_seed);
          break;
        }
      }
    }
    for (int i = 0; i < NS; i++) {
      if (s[i]) {
        check_set(g, s[i], &r[i], "cow copy");
        checked++;
      }
      tide_rowset_free(s[i]);
      free(r[i].k);
    }
  }
  CHECK(checked > rounds);

  /* sharing: 1e5 sparse keys over 64 buckets */
  ref_t r0 = {0};
  for (uint64_t i = 0; i < 100000; i++) ref_push(&r0, i * 10007);
  tide_rowset_t *a = tide_rowset_from_keys(r0.k, r0.n);
  CHECK(tide__rowset_kind(a) == 1);
  size_t nb = tide__rowset_parts(a);
  CHECK(nb == 60 && tide__rowset_shared_parts(a) == 0);
  tide_rowset_t *b = tide_rowset_copy(a);
  CHECK(tide__rowset_shared_parts(a) == nb && tide__rowset_shared_parts(b) == nb);
  CHECK(tide_rowset_insert(b, 5 * 10007 + 1) == TIDE_OK); /* bucket 0 only */
  CHECK(tide_rowset_remove(b, 99999 * 10007) == TIDE_OK); /* the last bucket */
  CHECK(tide_rowset_remove(b, 3) == TIDE_OK);             /* absent: shares on */
  CHECK_MSG(tide__rowset_shared_parts(b) == nb - 2 && tide__rowset_shared_parts(a) == nb - 2,
            "cow: %zu/%zu buckets still shared, want %zu", tide__rowset_shared_parts(b),
            tide__rowset_shared_parts(a), nb - 2);
  check_set(g, a, &r0, "cow original");
  /* out-of-place ops share the buckets they do not touch */
  tide_rowset_t *one = tide_rowset_from_keys((uint64_t[]){7 * 10007, 8 * 10007}, 2);
  tide_rowset_t *m = tide_rowset_minus(a, one);
  CHECK(tide_rowset_size(m) == r0.n - 2 && tide__rowset_shared_parts(m) == nb - 1);
  tide_rowset_t *u = tide_rowset_union(m, one);
  CHECK(tide_rowset_equals(u, a) && tide__rowset_shared_parts(u) == nb - 1);
  tide_rowset_t *h = tide_rowset_subset_by_pos(a, 5000, 50000);
  CHECK(tide_rowset_size(h) == 50000 && tide__rowset_shared_parts(h) + 2 >= tide__rowset_parts(h));
  tide_rowset_free(h);
  tide_rowset_free(u);
  tide_rowset_free(m);
  tide_rowset_free(one);
  tide_rowset_free(a); /* b keeps the shared buckets alive */
  CHECK(tide__rowset_shared_parts(b) == 0);
  ref_add_range(&r0, 5 * 10007 + 1, 5 * 10007 + 1);
  r0.n--; /* the last key went */
  check_set(g, b, &r0, "cow copy after the original was freed");
  tide_rowset_free(b);
  free(r0.k);
}

/* Copies on several threads: each thread copies the shared base, edits its
 * copy and drops it, while the others do the same (atomic bucket counts). */
typedef struct {
  const tide_rowset_t *base;
  const ref_t *r;
  uint64_t seed;
  int bad;
} cow_thread_t;

static void *cow_thread(void *arg) {
  cow_thread_t *a = arg;
  tu_rng g = {a->seed};
  for (int rep = 0; rep < 30; rep++) {
    tide_rowset_t *c = tide_rowset_copy(a->base);
    if (!c) {
      a->bad++;
      continue;
    }
    uint64_t k = a->r->k[tu_below(&g, a->r->n)];
    if (tide_rowset_remove(c, k) != TIDE_OK || tide_rowset_insert(c, k + 1) != TIDE_OK) a->bad++;
    bool had = false;
    for (size_t i = 0; i < a->r->n && !had; i++) had = a->r->k[i] == k + 1;
    if (tide_rowset_size(c) != a->r->n - (had ? 1 : 0)) a->bad++;
    if (tide_rowset_contains(c, k) || !tide_rowset_contains(a->base, k)) a->bad++;
    tide_rowset_free(c);
  }
  return NULL;
}

static void test_cow_threads(tu_rng *g) {
  ref_t r = {0};
  for (int i = 0; i < 20000; i++) ref_push(&r, tu_below(g, UINT64_C(1) << 30));
  ref_norm(&r);
  tide_rowset_t *rs = tide_rowset_from_keys(r.k, r.n);
  cow_thread_t args[4];
  pthread_t th[4];
  for (int t = 0; t < 4; t++) {
    args[t] = (cow_thread_t){rs, &r, tu_next(g), 0};
    CHECK(pthread_create(&th[t], NULL, cow_thread, &args[t]) == 0);
  }
  for (int t = 0; t < 4; t++) {
    pthread_join(th[t], NULL);
    CHECK_MSG(args[t].bad == 0, "cow thread %d: %d mismatches seed=%llu", t, args[t].bad,
              (unsigned long long)g_seed);
  }
  check_set(g, rs, &r, "cow base after threads");
  CHECK(tide__rowset_shared_parts(rs) == 0);
  tide_rowset_free(rs);
  free(r.k);
}

/* Concurrent readers: several threads query and iterate one shared set. */
typedef struct {
  const tide_rowset_t *rs;
  const ref_t *r;
  uint64_t seed;
  int bad;
} reader_t;

static void *reader(void *arg) {
  reader_t *a = arg;
  tu_rng g = {a->seed};
  static _Thread_local uint64_t buf[TIDE_CHUNK_SIZE];
  for (int rep = 0; rep < 20; rep++) {
    for (int q = 0; q < 200; q++) {
      uint64_t p = tu_below(&g, a->r->n);
      if (tide_rowset_key_at(a->rs, p) != a->r->k[p]) a->bad++;
      if (tide_rowset_find(a->rs, a->r->k[p]) != (int64_t)p) a->bad++;
    }
    uint64_t p = tu_below(&g, a->r->n), c = tu_below(&g, a->r->n);
    tide_rowset_iter_t it;
    tide_rowset_iter_init_pos(&it, a->rs, p, c);
    tide_rowseq_t seq;
    uint64_t at = p;
    while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, buf)) {
      for (uint32_t i = 0; i < seq.n; i++)
        if ((seq.keys ? seq.keys[i] : seq.first + i) != a->r->k[at + i]) a->bad++;
      at += seq.n;
    }
    if (at != TIDE_MIN(p + c, a->r->n)) a->bad++;
  }
  return NULL;
}

static void test_concurrent_readers(tu_rng *g) {
  ref_t r = {0};
  for (int i = 0; i < 100000; i++) ref_push(&r, tu_below(g, UINT64_C(1) << 26) + (UINT64_C(1) << 32));
  ref_norm(&r);
  tide_rowset_t *rs = tide_rowset_from_keys(r.k, r.n);
  CHECK(tide__rowset_kind(rs) == 1);
  tide_rowset_t *shared = tide_rowset_retain(rs);
  reader_t args[4];
  pthread_t th[4];
  for (int t = 0; t < 4; t++) {
    args[t] = (reader_t){shared, &r, tu_next(g), 0};
    CHECK(pthread_create(&th[t], NULL, reader, &args[t]) == 0);
  }
  for (int t = 0; t < 4; t++) {
    pthread_join(th[t], NULL);
    CHECK_MSG(args[t].bad == 0, "concurrent reader %d: %d mismatches seed=%llu", t, args[t].bad,
              (unsigned long long)g_seed);
  }
  tide_rowset_free(shared);
  tide_rowset_free(rs);
  free(r.k);
}

int main(void) {
  g_seed = tu_seed(0x5eed1234ULL);
  tu_rng g = {g_seed};
  if (getenv("TIDE_TEST_THREADS_ONLY")) { /* the ThreadSanitizer pass (scripts/test) */
    test_concurrent_readers(&g);
    test_cow_threads(&g);
    return tu_finish("test_rowset (threaded parts)");
  }
  test_basics();
  test_build_and_query(&g, 120);
  test_set_ops(&g, 130);
  test_mutation(&g, 80);
  test_shift(&g, 130);
  test_concurrent_readers(&g);
  test_cow_copies(&g, 120);
  test_cow_threads(&g);
  test_oom(&g, 40);
  printf("checked %d range sets, %d bitmap sets\n", g_kinds[0], g_kinds[1]);
  CHECK(g_kinds[0] > 100 && g_kinds[1] > 100);
  if (tu_failures) fprintf(stderr, "seed=%llu (TIDE_SEED to reproduce)\n", (unsigned long long)g_seed);
  return tu_finish("test_rowset");
}
