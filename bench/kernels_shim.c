/* See kernels_shim.h. SPDX-License-Identifier: Apache-2.0 */
#include "kernels_shim.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/agg.h"
#include "kernels/hash.h"
#include "kernels/radix.h"

struct bk_ctx {
  uint64_t n, card;
  int64_t *keys;
  double *vals;
  uint32_t *ids;      /* keys as group ids (card < 2^32) */
  uint64_t *rowkeys;  /* random row keys for gather */
  uint64_t *sk, *sv, *tk, *tv;
  double *acc;
  uint64_t *cnt;
  tide_keyset_t *built;
  tide_source_t *src;
  uint32_t *idbuf;
  double *gbuf;
};

static uint64_t nx(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

bk_ctx *bk_setup(uint64_t n, uint64_t card) {
  bk_ctx *c = calloc(1, sizeof *c);
  uint64_t s = 42;
  c->n = n;
  c->card = card;
  c->keys = malloc(n * sizeof *c->keys);
  c->vals = malloc(n * sizeof *c->vals);
  c->ids = malloc(n * sizeof *c->ids);
  c->rowkeys = malloc(n * sizeof *c->rowkeys);
  c->sk = malloc(n * 8);
  c->sv = malloc(n * 8);
  c->tk = malloc(n * 8);
  c->tv = malloc(n * 8);
  c->acc = malloc(card * sizeof *c->acc);
  c->cnt = malloc(card * sizeof *c->cnt);
  c->idbuf = malloc(TIDE_CHUNK_SIZE * sizeof *c->idbuf);
  c->gbuf = malloc(TIDE_CHUNK_SIZE * sizeof *c->gbuf);
  tide_error err;
  c->src = tide_source_flat_create(TIDE_F64, n, &err);
  double *sd = tide_source_flat_data(c->src);
  for (uint64_t i = 0; i < n; i++) {
    c->keys[i] = (int64_t)(nx(&s) % card);
    c->ids[i] = (uint32_t)c->keys[i];
    c->vals[i] = (double)(nx(&s) % 1000000) / 100.0;
    c->rowkeys[i] = nx(&s) % n;
    sd[i] = c->vals[i];
  }
  tide_type_t t = TIDE_I64;
  c->built = tide__keyset_create(1, &t, card, &err);
  for (uint64_t i = 0; i < n; i += TIDE_CHUNK_SIZE) {
    uint32_t m = (uint32_t)(n - i < TIDE_CHUNK_SIZE ? n - i : TIDE_CHUNK_SIZE);
    const void *col = c->keys + i;
    tide__keyset_insert(c->built, &col, m, c->idbuf);
  }
  return c;
}

void bk_free(bk_ctx *c) {
  free(c->keys);
  free(c->vals);
  free(c->ids);
  free(c->rowkeys);
  free(c->sk);
  free(c->sv);
  free(c->tk);
  free(c->tv);
  free(c->acc);
  free(c->cnt);
  free(c->idbuf);
  free(c->gbuf);
  tide__keyset_free(c->built);
  tide_source_release(c->src);
  free(c);
}

uint64_t bk_hash_insert(bk_ctx *c) {
  tide_type_t t = TIDE_I64;
  tide_keyset_t *ks = tide__keyset_create(1, &t, c->card, NULL);
  for (uint64_t i = 0; i < c->n; i += TIDE_CHUNK_SIZE) {
    uint32_t m = (uint32_t)(c->n - i < TIDE_CHUNK_SIZE ? c->n - i : TIDE_CHUNK_SIZE);
    const void *col = c->keys + i;
    tide__keyset_insert(ks, &col, m, c->idbuf);
  }
  uint64_t sz = tide__keyset_size(ks);
  tide__keyset_free(ks);
  return sz;
}

uint64_t bk_hash_probe(bk_ctx *c) {
  uint64_t hits = 0;
  for (uint64_t i = 0; i < c->n; i += TIDE_CHUNK_SIZE) {
    uint32_t m = (uint32_t)(c->n - i < TIDE_CHUNK_SIZE ? c->n - i : TIDE_CHUNK_SIZE);
    const void *col = c->keys + i;
    tide__keyset_find(c->built, &col, m, c->idbuf);
    for (uint32_t j = 0; j < m; j++) hits += c->idbuf[j] != TIDE_KEYSET_ABSENT;
  }
  return hits;
}

uint64_t bk_radix_sort(bk_ctx *c, int threads) {
  for (uint64_t i = 0; i < c->n; i += TIDE_CHUNK_SIZE) {
    size_t m = (size_t)(c->n - i < TIDE_CHUNK_SIZE ? c->n - i : TIDE_CHUNK_SIZE);
    tide__radix_encode(TIDE_I64, c->keys + i, m, false, NULL, c->sk + i);
    for (size_t j = 0; j < m; j++) c->sv[i + j] = i + j;
  }
  uint64_t *ok, *ov;
  tide__radix_sort_par(c->sk, c->sv, c->tk, c->tv, c->n, threads, &ok, &ov);
  return ov[c->n / 2];
}

double bk_sum_by(bk_ctx *c) {
  memset(c->acc, 0, c->card * sizeof *c->acc);
  memset(c->cnt, 0, c->card * sizeof *c->cnt);
  for (uint64_t i = 0; i < c->n; i += TIDE_CHUNK_SIZE) {
    uint32_t m = (uint32_t)(c->n - i < TIDE_CHUNK_SIZE ? c->n - i : TIDE_CHUNK_SIZE);
    tide__agg_sum(TIDE_F64, false, c->ids + i, c->vals + i, m, c->acc, c->cnt);
  }
  return c->acc[0];
}

double bk_max_by(bk_ctx *c) {
  for (uint64_t g = 0; g < c->card; g++) c->acc[g] = TIDE_NULL_F64;
  for (uint64_t i = 0; i < c->n; i += TIDE_CHUNK_SIZE) {
    uint32_t m = (uint32_t)(c->n - i < TIDE_CHUNK_SIZE ? c->n - i : TIDE_CHUNK_SIZE);
    tide__agg_minmax(TIDE_F64, true, c->ids + i, c->vals + i, m, NULL, c->acc);
  }
  return c->acc[0];
}

double bk_gather(bk_ctx *c) {
  double s = 0;
  for (uint64_t i = 0; i < c->n; i += TIDE_CHUNK_SIZE) {
    uint32_t m = (uint32_t)(c->n - i < TIDE_CHUNK_SIZE ? c->n - i : TIDE_CHUNK_SIZE);
    tide_rowseq_t seq = {0, c->rowkeys + i, 0, m};
    tide_source_fill(c->src, &seq, c->gbuf);
    s += c->gbuf[m - 1];
  }
  return s;
}
