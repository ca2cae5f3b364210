/*
 * Radix sort kernels: key encodings, stable LSD radix sort of (key, payload)
 * pairs (serial and with per-thread histograms), merging of sorted runs and
 * a stable merge sort for strings. See kernels/radix.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernels/radix.h"

#include <string.h>

/* ------------------------------------------------------------ encoding */

/* Integers (and bool, timestamps): flip the sign bit of the value's width,
 * so the type minimum (the null sentinel) becomes 0. */
#define TIDE_RADIX_ENC_INT(fn, ctype, utype, signbit)                                        \
  static void fn(const ctype *restrict v, size_t n, uint64_t flip, uint64_t *restrict out) { \
    for (size_t i = 0; i < n; i++) out[i] = (uint64_t)((utype)v[i] ^ (signbit)) ^ flip;      \
  }
TIDE_RADIX_ENC_INT(enc_i8, int8_t, uint8_t, (uint8_t)0x80u)
TIDE_RADIX_ENC_INT(enc_i16, int16_t, uint16_t, (uint16_t)0x8000u)
TIDE_RADIX_ENC_INT(enc_i32, int32_t, uint32_t, 0x80000000u)
TIDE_RADIX_ENC_INT(enc_i64, int64_t, uint64_t, 0x8000000000000000ull)
#undef TIDE_RADIX_ENC_INT

/* Floating point: negative values flip all bits, others the sign bit; zero
 * (either sign) is the encoding of +0.0, NaN the maximum, null 0. */
static void enc_f64(const double *restrict v, size_t n, uint64_t flip, uint64_t *restrict out) {
  for (size_t i = 0; i < n; i++) {
    double x = v[i];
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    uint64_t k = b ^ ((uint64_t)((int64_t)b >> 63) | 0x8000000000000000ull);
    k = x == 0.0 ? 0x8000000000000000ull : k;
    k = x != x ? UINT64_MAX : k;
    k = x == TIDE_NULL_F64 ? 0 : k;
    out[i] = k ^ flip;
  }
}

static void enc_f32(const float *restrict v, size_t n, uint64_t flip, uint64_t *restrict out) {
  for (size_t i = 0; i < n; i++) {
    float x = v[i];
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    uint32_t k = b ^ ((uint32_t)((int32_t)b >> 31) | 0x80000000u);
    k = x == 0.0f ? 0x80000000u : k;
    k = x != x ? UINT32_MAX : k;
    k = x == TIDE_NULL_F32 ? 0 : k;
    out[i] = (uint64_t)k ^ flip;
  }
}

static void enc_sym(const int32_t *restrict v, size_t n, uint64_t flip,
                    const uint32_t *restrict ranks, uint64_t *restrict out) {
  for (size_t i = 0; i < n; i++) {
    int32_t c = v[i];
    out[i] = (uint64_t)(c < 0 ? 0u : ranks[c]) ^ flip;
  }
}

void tide__radix_encode(tide_type_t type, const void *values, size_t n, bool descending,
                        const uint32_t *ranks, uint64_t *keys) {
  uint64_t flip = descending ? UINT64_MAX : 0;
  switch (type) {
    case TIDE_BOOL:
    case TIDE_I8: enc_i8(values, n, flip, keys); break;
    case TIDE_I16: enc_i16(values, n, flip, keys); break;
    case TIDE_I32: enc_i32(values, n, flip, keys); break;
    case TIDE_I64:
    case TIDE_TS: enc_i64(values, n, flip, keys); break;
    case TIDE_F32: enc_f32(values, n, flip, keys); break;
    case TIDE_F64: enc_f64(values, n, flip, keys); break;
    case TIDE_SYMBOL: enc_sym(values, n, flip, ranks, keys); break;
    case TIDE_STRING:
    default: assert(!"tide__radix_encode: not a fixed-width type"); break;
  }
}

uint32_t *tide__radix_symbol_ranks(const tide_symtab_t *st, tide_error *err) {
  uint32_t size = st ? tide_symtab_size(st) : 0;
  size_t cap = size ? size : 1;
  uint32_t *ranks = tide_malloc(cap * sizeof *ranks);
  const char **strs = tide_malloc(cap * sizeof *strs);
  const char **tmps = tide_malloc(cap * sizeof *tmps);
  uint64_t *codes = tide_malloc(cap * sizeof *codes);
  uint64_t *tmpv = tide_malloc(cap * sizeof *tmpv);
  if (!ranks || !strs || !tmps || !codes || !tmpv) {
    tide_free(ranks);
    ranks = NULL;
    tide_error_set(err, TIDE_ERR_NOMEM, "sort: out of memory ranking a symbol dictionary");
    goto done;
  }
  ranks[0] = 0;
  for (uint32_t c = 0; c < size; c++) {
    strs[c] = tide_symtab_str(st, (int32_t)c);
    codes[c] = c;
  }
  tide__sort_strings(strs, codes, size, false, tmps, tmpv);
  for (uint32_t r = 0; r < size; r++) ranks[codes[r]] = r + 1;
done:
  tide_free(strs);
  tide_free(tmps);
  tide_free(codes);
  tide_free(tmpv);
  return ranks;
}

/* ------------------------------------------------------------- sorting */

/* Stable insertion sort by k >> shift0 (vals may be NULL). */
static void insertion_sort(uint64_t *restrict k, uint64_t *restrict v, size_t n, int shift0) {
  for (size_t i = 1; i < n; i++) {
    uint64_t kk = k[i], vv = v ? v[i] : 0, key = kk >> shift0;
    size_t j = i;
    while (j > 0 && (k[j - 1] >> shift0) > key) {
      k[j] = k[j - 1];
      if (v) v[j] = v[j - 1];
      j--;
    }
    k[j] = kk;
    if (v) v[j] = vv;
  }
}

#ifndef TIDE_RADIX_MAX_DIGIT_BITS
#define TIDE_RADIX_MAX_DIGIT_BITS 8
#endif

/* Digit plan for sort keys (k >> shift0) in [min, max]: the bits of
 * max - min split into digits of at most TIDE_RADIX_MAX_DIGIT_BITS bits
 * (8: measured faster than 11-bit digits for every key width on the
 * development machine: fewer TLB and cache misses in the scatter),
 * balanced, fewest passes. */
typedef struct radix_plan {
  uint64_t min;
  int shift0;
  int ndig;
  int dbits;
  uint64_t mask;
} radix_plan;

static void plan_digits(uint64_t mn, uint64_t mx, int shift0, int maxbits, radix_plan *p) {
  uint64_t range = mx - mn;
  int bits = range ? 64 - __builtin_clzll(range) : 0;
  int ndig = (bits + maxbits - 1) / maxbits;
  p->min = mn;
  p->shift0 = shift0;
  p->ndig = ndig;
  p->dbits = ndig ? (bits + ndig - 1) / ndig : 0;
  p->mask = ((uint64_t)1 << p->dbits) - 1;
}

#define DIGIT(p, x, shift) ((((x) >> (p)->shift0) - (p)->min) >> (shift) & (p)->mask)

/* All digit histograms of k[0..n) added into h[ndig][buckets]. */
static void histogram_all(const uint64_t *restrict k, size_t n, const radix_plan *p,
                          uint64_t *restrict h) {
  size_t nb = (size_t)1 << p->dbits;
  uint64_t mn = p->min, mask = p->mask;
  int dbits = p->dbits, s0 = p->shift0;
  switch (p->ndig) {
#define HCASE(D)                                                             \
  case D:                                                                    \
    for (size_t i = 0; i < n; i++) {                                         \
      uint64_t x = (k[i] >> s0) - mn;                                        \
      for (int d = 0; d < D; d++) h[d * nb + ((x >> (d * dbits)) & mask)]++; \
    }                                                                        \
    break;
    HCASE(1)
    HCASE(2)
    HCASE(3)
    HCASE(4)
    HCASE(5)
    HCASE(6)
    HCASE(7)
    HCASE(8)
#undef HCASE
    default: break;
  }
}

/* Histogram of one digit of k[0..n) into h (cleared first). */
static void histogram_one(const uint64_t *restrict k, size_t n, const radix_plan *p, int shift,
                          uint64_t *restrict h) {
  memset(h, 0, ((size_t)1 << p->dbits) * sizeof *h);
  for (size_t i = 0; i < n; i++) h[DIGIT(p, k[i], shift)]++;
}

/* One scatter pass by the digit at shift, using and advancing the running
 * offsets off[buckets]. */
static void scatter_kv(const uint64_t *restrict sk, const uint64_t *restrict sv, size_t n,
                       const radix_plan *p, int shift, uint64_t *restrict off,
                       uint64_t *restrict dk, uint64_t *restrict dv) {
  /* Pairs always sort by the whole key (shift0 == 0). */
  const uint64_t mn = p->min, mask = p->mask;
  for (size_t i = 0; i < n; i++) {
    uint64_t kk = sk[i];
    uint64_t pos = off[((kk - mn) >> shift) & mask]++;
    dk[pos] = kk;
    dv[pos] = sv[i];
  }
}

static void scatter_k(const uint64_t *restrict sk, size_t n, const radix_plan *p, int shift,
                      uint64_t *restrict off, uint64_t *restrict dk) {
  const uint64_t mn = p->min, mask = p->mask;
  const int s0 = p->shift0;
  for (size_t i = 0; i < n; i++) {
    uint64_t kk = sk[i];
    dk[off[(((kk >> s0) - mn) >> shift) & mask]++] = kk;
  }
}

static void minmax(const uint64_t *restrict k, size_t n, int shift0, uint64_t *mn_out,
                   uint64_t *mx_out) {
  uint64_t mn = UINT64_MAX, mx = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t x = k[i] >> shift0;
    mn = x < mn ? x : mn;
    mx = x > mx ? x : mx;
  }
  *mn_out = mn;
  *mx_out = mx;
}

#define RADIX_MAX_BLOCKS 256
#define RADIX_MIN_BLOCK 65536
/* MSD first from this many keys on (when the keys vary in more than two
 * digits): one pass by the top bits into buckets that fit in the L2
 * cache, then each bucket sorted LSD there. */
#define RADIX_MSD_MIN ((size_t)1 << 17)
/* Target keys per MSD bucket, and the most MSD bits. */
#define RADIX_MSD_BUCKET 16384
#define RADIX_MSD_MAX_BITS 11
/* Buckets above this many keys are sorted one at a time with every
 * thread; smaller ones each by one thread. */
#define RADIX_MSD_BIG ((size_t)1 << 18)
/* A bucket of at least RADIX_CACHE_MIN keys (it fits in the L2 cache)
 * sorts with digits of up to RADIX_CACHE_DIGIT_BITS bits: in cache a wide
 * scatter is cheap and fewer passes win (e.g. 5 instead of 7 for 53
 * bits); below that the per-pass histogram would cost more than it
 * saves. */
#define RADIX_CACHE_DIGIT_BITS 11
#define RADIX_CACHE_MIN 8192
#if RADIX_CACHE_DIGIT_BITS > TIDE_RADIX_MAX_DIGIT_BITS
#define RADIX_HSTACK_BITS RADIX_CACHE_DIGIT_BITS
#else
#define RADIX_HSTACK_BITS TIDE_RADIX_MAX_DIGIT_BITS
#endif

static void radix_drive(uint64_t *keys, uint64_t *vals, uint64_t *tmpk, uint64_t *tmpv, size_t n,
                        int shift0, int nthreads, int maxbits, uint64_t **out_keys,
                        uint64_t **out_vals);

/* The MSD pass: stable scatter of keys/vals by the top mb bits of the
 * rebased sort key into tmpk/tmpv (per-block histograms, like the LSD
 * passes), then every bucket sorted by the rest in place, result back in
 * keys/vals. bits: bits of max - min of the rebased keys. Returns false
 * (nothing done) when the histograms cannot be allocated. */
static bool radix_msd(uint64_t *keys, uint64_t *vals, uint64_t *tmpk, uint64_t *tmpv, size_t n,
                      int shift0, int nthreads, uint64_t mn, int bits) {
  int mb = 1;
  while (mb < RADIX_MSD_MAX_BITS && (n >> mb) > RADIX_MSD_BUCKET) mb++;
  if (mb > bits) mb = bits;
  radix_plan p;
  p.min = mn;
  p.shift0 = shift0;
  p.ndig = 1;
  p.dbits = mb;
  p.mask = ((uint64_t)1 << mb) - 1;
  const int msh = bits - mb;
  const size_t nb = (size_t)1 << mb;
  int B = nthreads < 1 ? 1 : nthreads;
  if (B > RADIX_MAX_BLOCKS) B = RADIX_MAX_BLOCKS;
  if (B > 1 && n / (size_t)B < RADIX_MIN_BLOCK) B = (int)(n / RADIX_MIN_BLOCK);
  if (B < 1) B = 1;
  uint64_t *h = tide_malloc(nb * ((size_t)B + 1) * sizeof *h);
  if (!h) return false;
  uint64_t *start = h + nb * (size_t)B; /* bucket starts */
#pragma omp parallel for if (B > 1) num_threads(B) schedule(static, 1)
  for (int b = 0; b < B; b++) {
    size_t lo = n * (size_t)b / (size_t)B, hi = n * (size_t)(b + 1) / (size_t)B;
    histogram_one(keys + lo, hi - lo, &p, msh, h + nb * (size_t)b);
  }
  uint64_t sum = 0;
  for (size_t k = 0; k < nb; k++) {
    start[k] = sum;
    for (int b = 0; b < B; b++) {
      uint64_t *c = &h[nb * (size_t)b + k];
      uint64_t v = *c;
      *c = sum;
      sum += v;
    }
  }
#pragma omp parallel for if (B > 1) num_threads(B) schedule(static, 1)
  for (int b = 0; b < B; b++) {
    size_t lo = n * (size_t)b / (size_t)B, hi = n * (size_t)(b + 1) / (size_t)B;
    uint64_t *off = h + nb * (size_t)b;
    if (vals)
      scatter_kv(keys + lo, vals + lo, hi - lo, &p, msh, off, tmpk, tmpv);
    else
      scatter_k(keys + lo, hi - lo, &p, msh, off, tmpk);
  }
  /* Each bucket: sort tmp[start, end) by the remaining bits, result into
   * keys/vals at the same place. Big buckets first, all threads each. */
  for (size_t k = 0; k < nb; k++) {
    size_t s0 = start[k], len = (k + 1 < nb ? start[k + 1] : n) - s0;
    if (len <= RADIX_MSD_BIG) continue;
    uint64_t *rk, *rv;
    radix_drive(tmpk + s0, vals ? tmpv + s0 : NULL, keys + s0, vals ? vals + s0 : NULL, len, shift0,
                nthreads, TIDE_RADIX_MAX_DIGIT_BITS, &rk, &rv);
    if (rk != keys + s0) {
      memcpy(keys + s0, rk, len * sizeof *keys);
      if (vals) memcpy(vals + s0, rv, len * sizeof *vals);
    }
  }
  int T = nthreads < 1 ? 1 : nthreads;
#pragma omp parallel for if (T > 1) num_threads(T) schedule(dynamic, 8)
  for (size_t k = 0; k < nb; k++) {
    size_t s0 = start[k], len = (k + 1 < nb ? start[k + 1] : n) - s0;
    if (len > RADIX_MSD_BIG || len == 0) continue;
    uint64_t *rk, *rv;
    radix_drive(tmpk + s0, vals ? tmpv + s0 : NULL, keys + s0, vals ? vals + s0 : NULL, len, shift0,
                1, len >= RADIX_CACHE_MIN ? RADIX_CACHE_DIGIT_BITS : TIDE_RADIX_MAX_DIGIT_BITS, &rk,
                &rv);
    if (rk != keys + s0) {
      memcpy(keys + s0, rk, len * sizeof *keys);
      if (vals) memcpy(vals + s0, rv, len * sizeof *vals);
    }
  }
  tide_free(h);
  return true;
}

/* The LSD radix sort: stable by k >> shift0, vals optional (NULL), over
 * `nblocks` contiguous blocks of the input, each histogrammed and scattered
 * by one OpenMP iteration (per-block histograms; block b's share of every
 * bucket follows block b-1's, so the result is the unique stable order for
 * any block or thread count). */
static void radix_drive(uint64_t *keys, uint64_t *vals, uint64_t *tmpk, uint64_t *tmpv, size_t n,
                        int shift0, int nthreads, int maxbits, uint64_t **out_keys,
                        uint64_t **out_vals) {
  uint64_t *ck = keys, *cv = vals, *ok = tmpk, *ov = tmpv;
  if (n < TIDE_RADIX_SMALL) {
    insertion_sort(keys, vals, n, shift0);
    goto done;
  }
  int B = nthreads < 1 ? 1 : nthreads;
  if (B > RADIX_MAX_BLOCKS) B = RADIX_MAX_BLOCKS;
  if (B > 1 && n / (size_t)B < RADIX_MIN_BLOCK) B = (int)(n / RADIX_MIN_BLOCK);
  if (B < 1) B = 1;
  int T = B; /* one block per thread */
  uint64_t bmn[RADIX_MAX_BLOCKS], bmx[RADIX_MAX_BLOCKS];
#pragma omp parallel for if (T > 1) num_threads(T) schedule(static, 1)
  for (int b = 0; b < B; b++) {
    size_t lo = n * (size_t)b / (size_t)B, hi = n * (size_t)(b + 1) / (size_t)B;
    minmax(keys + lo, hi - lo, shift0, &bmn[b], &bmx[b]);
  }
  uint64_t mn = UINT64_MAX, mx = 0;
  for (int b = 0; b < B; b++) {
    mn = bmn[b] < mn ? bmn[b] : mn;
    mx = bmx[b] > mx ? bmx[b] : mx;
  }
  radix_plan p;
  plan_digits(mn, mx, shift0, maxbits, &p);
  if (p.ndig == 0) goto done; /* all keys equal */
  if (n >= RADIX_MSD_MIN && p.ndig > 2) {
    int bits = 64 - __builtin_clzll(mx - mn);
    if (radix_msd(keys, vals, tmpk, tmpv, n, shift0, nthreads, mn, bits)) goto done;
  }
  size_t nb = (size_t)1 << p.dbits;
  size_t hall = (size_t)p.ndig * nb;
  /* Rows 0..B-1: per-block histograms; row B: totals. */
  uint64_t *h = tide_calloc(hall * (size_t)(B + 1), sizeof *h);
  uint64_t hstack[((size_t)1 << RADIX_HSTACK_BITS) * 2];
  bool all_hist = h != NULL;
  if (!h) { /* out of memory: one block, one digit histogram at a time */
    B = T = 1;
    h = hstack;
  }
  uint64_t *tot = all_hist ? h + hall * (size_t)B : NULL;
  if (all_hist) {
#pragma omp parallel for if (T > 1) num_threads(T) schedule(static, 1)
    for (int b = 0; b < B; b++) {
      size_t lo = n * (size_t)b / (size_t)B, hi = n * (size_t)(b + 1) / (size_t)B;
      histogram_all(keys + lo, hi - lo, &p, h + hall * (size_t)b);
    }
    for (int b = 0; b < B; b++)
      for (size_t i = 0; i < hall; i++) tot[i] += h[hall * (size_t)b + i];
  }
  size_t stride = all_hist ? hall : 0;
  bool fresh = all_hist; /* per-block histograms still describe ck */
  uint64_t first_digit0 = (keys[0] >> shift0) - mn;
  for (int d = 0; d < p.ndig; d++) {
    int shift = d * p.dbits;
    uint64_t *src_k = ck, *src_v = cv, *dst_k = ok, *dst_v = ov;
    /* Per-block counts of this digit into the first nb entries of row b. */
    /* A constant digit needs no pass. */
    if (all_hist && tot[(size_t)d * nb + ((first_digit0 >> shift) & p.mask)] == n) continue;
    /* Offset of this digit's counts within a block's histogram row. */
    size_t sec = 0;
    if (all_hist && B == 1) {
      sec = (size_t)d * nb; /* one block: the all-digit histogram holds for every pass */
    } else if (fresh) {
      if (d != 0)
        for (int b = 0; b < B; b++)
          memmove(h + stride * (size_t)b, h + stride * (size_t)b + (size_t)d * nb, nb * sizeof *h);
    } else {
#pragma omp parallel for if (T > 1) num_threads(T) schedule(static, 1)
      for (int b = 0; b < B; b++) {
        size_t lo = n * (size_t)b / (size_t)B, hi = n * (size_t)(b + 1) / (size_t)B;
        histogram_one(src_k + lo, hi - lo, &p, shift, h + stride * (size_t)b);
      }
      if (!all_hist && h[DIGIT(&p, src_k[0], shift)] == n) continue; /* constant */
    }
    uint64_t sum = 0;
    for (size_t k = 0; k < nb; k++)
      for (int b = 0; b < B; b++) {
        uint64_t *c = &h[stride * (size_t)b + sec + k];
        uint64_t v = *c;
        *c = sum;
        sum += v;
      }
#pragma omp parallel for if (T > 1) num_threads(T) schedule(static, 1)
    for (int b = 0; b < B; b++) {
      size_t lo = n * (size_t)b / (size_t)B, hi = n * (size_t)(b + 1) / (size_t)B;
      uint64_t *off = h + stride * (size_t)b + sec;
      if (src_v)
        scatter_kv(src_k + lo, src_v + lo, hi - lo, &p, shift, off, dst_k, dst_v);
      else
        scatter_k(src_k + lo, hi - lo, &p, shift, off, dst_k);
    }
    fresh = false;
    uint64_t *tp;
    tp = ck, ck = ok, ok = tp;
    tp = cv, cv = ov, ov = tp;
  }
  if (all_hist) tide_free(h);
done:
  if (out_keys) *out_keys = ck;
  if (out_vals) *out_vals = cv;
}

void tide__radix_sort_buf(uint64_t *keys, uint64_t *vals, uint64_t *tmpk, uint64_t *tmpv, size_t n,
                          uint64_t **out_keys, uint64_t **out_vals) {
  radix_drive(keys, vals, tmpk, tmpv, n, 0, 1, TIDE_RADIX_MAX_DIGIT_BITS, out_keys, out_vals);
}

void tide__radix_sort_par(uint64_t *keys, uint64_t *vals, uint64_t *tmpk, uint64_t *tmpv, size_t n,
                          int nthreads, uint64_t **out_keys, uint64_t **out_vals) {
  radix_drive(keys, vals, tmpk, tmpv, n, 0, nthreads, TIDE_RADIX_MAX_DIGIT_BITS, out_keys,
              out_vals);
}

void tide__radix_sort_packed(uint64_t *keys, uint64_t *tmp, size_t n, int shift, int nthreads,
                             uint64_t **out_keys) {
  radix_drive(keys, NULL, tmp, NULL, n, shift, nthreads, TIDE_RADIX_MAX_DIGIT_BITS, out_keys,
              NULL);
}

tide_status tide__radix_sort(uint64_t *keys, uint64_t *vals, size_t n, tide_error *err) {
  if (n < TIDE_RADIX_SMALL) {
    insertion_sort(keys, vals, n, 0);
    return TIDE_OK;
  }
  uint64_t *tk = tide_malloc(n * sizeof *tk), *tv = tide_malloc(n * sizeof *tv);
  if (!tk || !tv) {
    tide_free(tk);
    tide_free(tv);
    return tide_error_set(err, TIDE_ERR_NOMEM, "radix sort: out of memory (%zu rows)", n);
  }
  uint64_t *rk, *rv;
  tide__radix_sort_buf(keys, vals, tk, tv, n, &rk, &rv);
  if (rk != keys) {
    memcpy(keys, rk, n * sizeof *keys);
    memcpy(vals, rv, n * sizeof *vals);
  }
  tide_free(tk);
  tide_free(tv);
  return TIDE_OK;
}

void tide__radix_merge(const uint64_t *ak, const uint64_t *av, size_t na, const uint64_t *bk,
                       const uint64_t *bv, size_t nb, uint64_t *outk, uint64_t *outv) {
  size_t i = 0, j = 0, o = 0;
  while (i < na && j < nb) {
    bool take_b = bk[j] < ak[i];
    outk[o] = take_b ? bk[j] : ak[i];
    outv[o] = take_b ? bv[j] : av[i];
    o++;
    j += take_b;
    i += !take_b;
  }
  if (i < na) {
    memcpy(outk + o, ak + i, (na - i) * sizeof *outk);
    memcpy(outv + o, av + i, (na - i) * sizeof *outv);
  }
  if (j < nb) {
    memcpy(outk + o, bk + j, (nb - j) * sizeof *outk);
    memcpy(outv + o, bv + j, (nb - j) * sizeof *outv);
  }
}

/* ------------------------------------------------------------- strings */

/* <0, 0, >0 like strcmp, NULL smallest; descending flips non-equal. */
static inline int str_cmp(const char *a, const char *b, int sign) {
  if (a == b) return 0;
  if (!a) return -sign;
  if (!b) return sign;
  return sign * strcmp(a, b);
}

void tide__sort_strings(const char **strs, uint64_t *vals, size_t n, bool descending,
                        const char **tmps, uint64_t *tmpv) {
  int sign = descending ? -1 : 1;
  const size_t run = 16;
  /* Insertion-sort runs. */
  for (size_t lo = 0; lo < n; lo += run) {
    size_t hi = TIDE_MIN(lo + run, n);
    for (size_t i = lo + 1; i < hi; i++) {
      const char *s = strs[i];
      uint64_t v = vals[i];
      size_t j = i;
      while (j > lo && str_cmp(strs[j - 1], s, sign) > 0) {
        strs[j] = strs[j - 1];
        vals[j] = vals[j - 1];
        j--;
      }
      strs[j] = s;
      vals[j] = v;
    }
  }
  const char **cs = strs, **os = tmps;
  uint64_t *cv = vals, *ov = tmpv;
  for (size_t width = run; width < n; width *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * width) {
      size_t mid = TIDE_MIN(lo + width, n), hi = TIDE_MIN(lo + 2 * width, n);
      size_t i = lo, j = mid, o = lo;
      /* Already in order: copy through. */
      if (mid < hi && str_cmp(cs[mid - 1], cs[mid], sign) <= 0) {
        memcpy(os + lo, cs + lo, (hi - lo) * sizeof *os);
        memcpy(ov + lo, cv + lo, (hi - lo) * sizeof *ov);
        continue;
      }
      while (i < mid && j < hi) {
        if (str_cmp(cs[j], cs[i], sign) < 0) {
          os[o] = cs[j];
          ov[o++] = cv[j++];
        } else {
          os[o] = cs[i];
          ov[o++] = cv[i++];
        }
      }
      while (i < mid) {
        os[o] = cs[i];
        ov[o++] = cv[i++];
      }
      while (j < hi) {
        os[o] = cs[j];
        ov[o++] = cv[j++];
      }
    }
    const char **ts = cs;
    cs = os, os = ts;
    uint64_t *tv = cv;
    cv = ov, ov = tv;
  }
  if (cs != strs) {
    memcpy(strs, cs, n * sizeof *strs);
    memcpy(vals, cv, n * sizeof *vals);
  }
}

/* Stable merge of string runs a and b into out (a first on ties). */
static void merge_strings(const char **as, const uint64_t *av, size_t na, const char **bs,
                          const uint64_t *bv, size_t nb, const char **os, uint64_t *ov, int sign) {
  size_t i = 0, j = 0, o = 0;
  /* Unless the runs are already in order, interleave. */
  if (!(na && nb && str_cmp(as[na - 1], bs[0], sign) <= 0))
    while (i < na && j < nb) {
      if (str_cmp(bs[j], as[i], sign) < 0) {
        os[o] = bs[j];
        ov[o++] = bv[j++];
      } else {
        os[o] = as[i];
        ov[o++] = av[i++];
      }
    }
  memcpy(os + o, as + i, (na - i) * sizeof *os);
  memcpy(ov + o, av + i, (na - i) * sizeof *ov);
  o += na - i;
  memcpy(os + o, bs + j, (nb - j) * sizeof *os);
  memcpy(ov + o, bv + j, (nb - j) * sizeof *ov);
}

void tide__sort_strings_par(const char **strs, uint64_t *vals, size_t n, bool descending,
                            const char **tmps, uint64_t *tmpv, int nthreads) {
  int B = 1;
  while (B * 2 <= nthreads && B * 2 <= RADIX_MAX_BLOCKS &&
         n / (size_t)(B * 2) >= RADIX_MIN_BLOCK / 4)
    B *= 2;
  if (B == 1) {
    tide__sort_strings(strs, vals, n, descending, tmps, tmpv);
    return;
  }
  int sign = descending ? -1 : 1;
#pragma omp parallel for num_threads(B) schedule(static, 1)
  for (int b = 0; b < B; b++) {
    size_t lo = n * (size_t)b / (size_t)B, hi = n * (size_t)(b + 1) / (size_t)B;
    tide__sort_strings(strs + lo, vals + lo, hi - lo, descending, tmps + lo, tmpv + lo);
  }
  const char **cs = strs, **os = tmps;
  uint64_t *cv = vals, *ov = tmpv;
  for (int w = 1; w < B; w *= 2) {
    int npairs = B / (2 * w);
#pragma omp parallel for num_threads(npairs) schedule(static, 1)
    for (int q = 0; q < npairs; q++) {
      int b = q * 2 * w;
      size_t lo = n * (size_t)b / (size_t)B, mid = n * (size_t)(b + w) / (size_t)B;
      size_t hi = n * (size_t)(b + 2 * w) / (size_t)B;
      merge_strings(cs + lo, cv + lo, mid - lo, cs + mid, cv + mid, hi - mid, os + lo, ov + lo,
                    sign);
    }
    const char **ts = cs;
    cs = os, os = ts;
    uint64_t *tv = cv;
    cv = ov, ov = tv;
  }
  if (cs != strs) {
    memcpy(strs, cs, n * sizeof *strs);
    memcpy(vals, cv, n * sizeof *vals);
  }
}
