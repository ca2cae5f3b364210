/*
 * RowSet: a sorted set of non-negative 64-bit row keys.
 *
 * Two private representations (see DESIGN.md "Core model"):
 *
 *  RANGES  a sorted array of disjoint, non-adjacent inclusive ranges
 *          [first, last], each with the number of keys before it (`cum`), so
 *          key_at/find are binary searches. A flat table is one range.
 *  BITMAP  a sorted array of buckets keyed by the high bits of the key, each
 *          a 32-bit CRoaring bitmap of the low RS_LOW_BITS bits, with its
 *          cardinality and the number of keys before it. Like Roaring64Map,
 *          but with 24 low bits per bucket instead of 32, so a bucket holds
 *          at most 256 containers and its rank/select index stays small.
 *
 * Every operation picks the representation of its result: ranges while there
 * are few of them (RS_MAX_RANGES) or while they are long on average
 * (RS_MIN_AVG_RUN keys), a bitmap otherwise; a bitmap result with at most
 * RS_BACK_RANGES runs goes back to ranges (hysteresis against flapping).
 * Operations on two range sets are linear merges; anything involving a
 * bitmap converts the range operand (clipped to the relevant span) into
 * buckets and combines bucket by bucket with CRoaring (in place for the
 * *_inplace functions on a bitmap, so small updates of a big set are cheap).
 *
 * Debian's CRoaring 0.2.66 has linear-time select/rank with software
 * popcount and a value-at-a-time iterator, so the hot read paths read the
 * containers directly (the structures are public in its headers): each
 * bucket keeps a rank/select index (keys before each container, and per
 * bitset container the counts before each of its 16 blocks of 64 words),
 * rebuilt when the bucket changes, patched on single-key edits; chunks and
 * exports are decoded from the containers word by word.
 *
 * Iterator state: `part` is the range/bucket index; `off` is the offset of
 * the next key within its range (RANGES) or the exact low bits of the next
 * key (BITMAP), so a chunk read is a binary search plus a bulk decode.
 *
 * Keys are expected below 2^63 (shifts reject results beyond INT64_MAX);
 * TIDE_NULL_KEY is never a key.
 *
 * Copies share bitmap buckets copy-on-write ("shared buckets" below).
 *
 * Const functions never mutate (no lazy caches; copying one only bumps the
 * atomic counts of its buckets): concurrent readers are safe.
 * CRoaring 0.2 does not report allocation failure from its set operations;
 * our own allocations are checked and leave sets unchanged on failure.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <roaring/roaring.h>
#include <stdlib.h>

#include "core/core_int.h"
#include "core/rowset_int.h"

#define RS_LOW_BITS 24
#define RS_BUCKET_KEYS (UINT64_C(1) << RS_LOW_BITS)
#define RS_LOW_MASK (RS_BUCKET_KEYS - 1)
#define RS_MAX_RANGES 64   /* at most this many ranges: keep ranges */
#define RS_MIN_AVG_RUN 16  /* or if runs average at least this many keys */
#define RS_BACK_RANGES 32  /* bitmaps with at most this many runs become ranges */
#define RS_CHUNK_RANGE_MIN 128 /* shorter runs are packed into explicit-key chunks */
#define RS_KEY_MAX ((uint64_t)INT64_MAX)

enum { RS_RANGES = 0, RS_BITMAP = 1 };
enum { RS_OP_UNION, RS_OP_AND, RS_OP_MINUS };

typedef struct rs_range {
  uint64_t first, last, cum;
} rs_range;

typedef struct rs_bucket {
  uint64_t high, cum, card;
  roaring_bitmap_t *bm;
  /* rank/select index (see bucket_index): keys before each container
   * (nidx + 1 entries), then, if has_bcum, 16 block counts per container */
  uint32_t *ccum;
  uint32_t nidx;
  bool has_bcum;
  bool stale; /* bitmap changed since the index was built */
  /* holders of bm and ccum: copies of a RowSet share buckets (see
   * "shared buckets" below); NULL = exclusively owned, not shareable */
  _Atomic uint32_t *refs;
} rs_bucket;

typedef struct rs_body {
  int kind;
  size_t n, cap;
  uint64_t size;
  rs_range *r;  /* RANGES */
  rs_bucket *b; /* BITMAP */
} rs_body;

struct tide_rowset_s {
  _Atomic uint32_t refcount;
  rs_body d;
};

/* ------------------------------------------------------------ shared buckets
 * tide_rowset_copy (which every copy-then-edit user such as the incremental
 * `where` calls each cycle) shares the buckets of its source instead of
 * copying them: a bucket's bitmap and index are held by `refs` bucket
 * structs, possibly in RowSets used on other threads, so the count is
 * atomic. A mutating function first makes each bucket it is about to change
 * its own (bucket_own: a deep copy of that one bucket if it is shared), so
 * copy + small edit costs O(buckets) pointer work plus the buckets touched,
 * not O(containers). CRoaring's own copy-on-write flag is not used: in
 * Debian's 0.2.66 its shared-container counters are plain (non-atomic)
 * integers, unsafe when RowSets sharing a container are freed or copied on
 * different threads (a reader dropping an old RowSet while the writer
 * cycles). Buckets are only ever shared whole. */

static inline size_t bucket_index_bytes(uint32_t nc, bool bc);

static _Atomic uint32_t *refs_new(void) {
  _Atomic uint32_t *r = tide_malloc(sizeof *r);
  if (r) atomic_init(r, 1);
  return r; /* NULL (OOM): the bucket stays exclusive and is copied deeply */
}

static void bucket_release(rs_bucket *b) {
  if (!b->refs || atomic_fetch_sub_explicit(b->refs, 1, memory_order_acq_rel) == 1) {
    if (b->bm) roaring_bitmap_free(b->bm);
    tide_free(b->ccum);
    tide_free((void *)b->refs);
  }
  b->bm = NULL;
  b->ccum = NULL;
  b->refs = NULL;
}

static inline bool bucket_exclusive(const rs_bucket *b) {
  return !b->refs || atomic_load_explicit(b->refs, memory_order_acquire) == 1;
}

/* A bucket of its own with the contents of s (deep copy). */
static int bucket_deep_copy(const rs_bucket *s, rs_bucket *d) {
  *d = *s;
  d->ccum = NULL;
  d->refs = NULL;
  d->bm = roaring_bitmap_copy(s->bm);
  if (!d->bm) return -1;
  if (s->ccum) {
    size_t nb = bucket_index_bytes(s->nidx, s->has_bcum);
    d->ccum = tide_malloc(nb);
    if (d->ccum) memcpy(d->ccum, s->ccum, nb);
    else d->has_bcum = false;
  }
  d->refs = refs_new();
  return 0;
}

/* d = s, sharing s's bitmap (s is not changed: safe on a published set). */
static int bucket_share(const rs_bucket *s, rs_bucket *d) {
  if (!s->refs) return bucket_deep_copy(s, d);
  atomic_fetch_add_explicit(s->refs, 1, memory_order_relaxed);
  *d = *s;
  return 0;
}

/* Make b exclusively owned before changing its bitmap or index. */
static int bucket_own(rs_bucket *b) {
  if (bucket_exclusive(b)) return 0;
  rs_bucket c;
  if (bucket_deep_copy(b, &c)) return -1;
  bucket_release(b);
  *b = c;
  return 0;
}

/* ------------------------------------------------------------ bodies */

static void body_free(rs_body *d) {
  tide_free(d->r);
  if (d->b) {
    for (size_t i = 0; i < d->n; i++) bucket_release(&d->b[i]);
    tide_free(d->b);
  }
  memset(d, 0, sizeof *d);
}

static int rb_grow(rs_body *d) {
  size_t nc = d->cap ? d->cap * 2 : 4;
  rs_range *nr = tide_realloc(d->r, nc * sizeof *nr);
  if (!nr) return -1;
  d->r = nr;
  d->cap = nc;
  return 0;
}

/* Append [f, l] (f >= first of the last range) to a range body, merging
 * overlaps and adjacency. */
static inline int rb_push(rs_body *d, uint64_t f, uint64_t l) {
  if (d->n) {
    rs_range *p = &d->r[d->n - 1];
    if (f <= p->last + 1) {
      if (l > p->last) {
        d->size += l - p->last;
        p->last = l;
      }
      return 0;
    }
  }
  if (d->n == d->cap && rb_grow(d)) return -1;
  d->r[d->n].first = f;
  d->r[d->n].last = l;
  d->n++;
  d->size += l - f + 1;
  return 0;
}

static void ranges_reindex(rs_body *d) {
  uint64_t c = 0;
  for (size_t i = 0; i < d->n; i++) {
    d->r[i].cum = c;
    c += d->r[i].last - d->r[i].first + 1;
  }
  d->size = c;
}

static int bucket_grow(rs_body *d) {
  size_t nc = d->cap ? d->cap * 2 : 4;
  rs_bucket *nb = tide_realloc(d->b, nc * sizeof *nb);
  if (!nb) return -1;
  d->b = nb;
  d->cap = nc;
  return 0;
}

/* Index of the bucket `high` at the end of a bitmap body under
 * construction (appended if new); -1 on OOM. */
static inline long bucket_append(rs_body *d, uint64_t high) {
  if (d->n && d->b[d->n - 1].high == high) return (long)d->n - 1;
  if (d->n == d->cap && bucket_grow(d)) return -1;
  roaring_bitmap_t *bm = roaring_bitmap_create();
  if (!bm) return -1;
  d->b[d->n] = (rs_bucket){high, 0, 0, bm, NULL, 0, false, true, refs_new()};
  return (long)d->n++;
}

/* Add [f, l] to a bitmap body under construction (f above all keys so far,
 * or in the last bucket). */
static int bucket_add_range(rs_body *d, uint64_t f, uint64_t l) {
  for (;;) {
    uint64_t h = f >> RS_LOW_BITS;
    uint64_t e = TIDE_MIN(l, (h << RS_LOW_BITS) | RS_LOW_MASK);
    long i = bucket_append(d, h);
    if (i < 0) return -1;
    roaring_bitmap_add_range_closed(d->b[i].bm, (uint32_t)(f & RS_LOW_MASK),
                                    (uint32_t)(e & RS_LOW_MASK));
    d->b[i].stale = true;
    if (e == l) return 0;
    f = e + 1;
  }
}

/* ------------------------------------------------------------ rank/select
 * CRoaring 0.2's select/rank walk a bitmap's containers and, in Debian's
 * build, popcount bitset words in software (microseconds per call). Each
 * bucket therefore carries `ccum`: the number of keys before each of its
 * containers, rebuilt whenever the bucket changes; rank and select inside a
 * container read the container directly, with hardware popcount where the
 * CPU has it. A bucket whose index could not be allocated uses CRoaring. */

static inline const void *rs_container(const roaring_bitmap_t *bm, int32_t i, uint8_t *t) {
  const roaring_array_t *ra = &bm->high_low_container;
  const void *c = ra->containers[i];
  *t = ra->typecodes[i];
  if (*t == SHARED_CONTAINER_TYPE_CODE) {
    *t = ((const shared_container_t *)c)->typecode;
    c = ((const shared_container_t *)c)->container;
  }
  return c;
}

static inline uint32_t rs_container_card(const void *c, uint8_t t) {
  if (t == BITSET_CONTAINER_TYPE_CODE) return (uint32_t)((const bitset_container_t *)c)->cardinality;
  if (t == ARRAY_CONTAINER_TYPE_CODE) return (uint32_t)((const array_container_t *)c)->cardinality;
  const run_container_t *r = c;
  uint32_t n = 0;
  for (int32_t k = 0; k < r->n_runs; k++) n += (uint32_t)r->runs[k].length + 1;
  return n;
}

static inline uint32_t popcnt_sw(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ULL);
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return (uint32_t)((x * 0x0101010101010101ULL) >> 56);
}

/* popcnt_words: set bits in w[0..n). select_word: index of the word of
 * w[0..n) holding its r-th set bit (0-based, must exist), *r left as the
 * rank within that word; blocks of 8 words keep the loop branch-light. */
#define RS_POPCNT_BODIES(SUFFIX, POP, ATTR)                                    \
  ATTR static uint64_t popcnt_words_##SUFFIX(const uint64_t *w, size_t n) { \
    uint64_t t0 = 0, t1 = 0, t2 = 0, t3 = 0;                               \
    const size_t n4 = n & ~(size_t)3;                                      \
    for (size_t i = 0; i < n4; i += 4) {                                   \
      t0 += POP(w[i]);                                                     \
      t1 += POP(w[i + 1]);                                                 \
      t2 += POP(w[i + 2]);                                                 \
      t3 += POP(w[i + 3]);                                                 \
    }                                                                      \
    for (size_t i = n4; i < n; i++) t0 += POP(w[i]);                       \
    return t0 + t1 + t2 + t3;                                              \
  }                                                                        \
  ATTR static size_t select_word_##SUFFIX(const uint64_t *w, size_t n, uint32_t *r) { \
    uint32_t rr = *r;                                                      \
    size_t i = 0;                                                          \
    for (; i + 8 <= n; i += 8) {                                           \
      uint32_t c = 0;                                                      \
      for (size_t k = 0; k < 8; k++) c += (uint32_t)POP(w[i + k]);         \
      if (rr < c) break;                                                   \
      rr -= c;                                                             \
    }                                                                      \
    for (;; i++) {                                                         \
      uint32_t c = (uint32_t)POP(w[i]);                                    \
      if (rr < c) break;                                                   \
      rr -= c;                                                             \
    }                                                                      \
    *r = rr;                                                               \
    return i;                                                              \
  }
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define RS_HAVE_HW_POPCNT 1
RS_POPCNT_BODIES(hw, __builtin_popcountll, __attribute__((target("popcnt"))))
#endif
RS_POPCNT_BODIES(sw, popcnt_sw, )

static uint64_t popcnt_words(const uint64_t *w, size_t n) {
#ifdef RS_HAVE_HW_POPCNT
  if (__builtin_cpu_supports("popcnt")) return popcnt_words_hw(w, n);
#endif
  return popcnt_words_sw(w, n);
}

static size_t select_word(const uint64_t *w, size_t n, uint32_t *r) {
#ifdef RS_HAVE_HW_POPCNT
  if (__builtin_cpu_supports("popcnt")) return select_word_hw(w, n, r);
#endif
  return select_word_sw(w, n, r);
}

#define RS_BLOCKS 16 /* per bitset container: 16 blocks of 64 words */
#define RS_BLOCK_WORDS 64

static inline uint16_t *bucket_bcum(const rs_bucket *b) {
  return b->has_bcum ? (uint16_t *)(b->ccum + b->nidx + 1) : NULL;
}

static inline size_t bucket_index_bytes(uint32_t nc, bool bc) {
  return ((size_t)nc + 1) * sizeof(uint32_t) + (bc ? (size_t)nc * RS_BLOCKS * sizeof(uint16_t) : 0);
}

/* Rebuild the rank/select index and cardinality of a bucket. On OOM the
 * index is dropped (CRoaring's select/rank are used instead). */
static void bucket_index(rs_bucket *b) {
  const roaring_array_t *ra = &b->bm->high_low_container;
  uint32_t nc = (uint32_t)ra->size;
  bool bc = false;
  for (uint32_t i = 0; i < nc && !bc; i++) {
    uint8_t t;
    rs_container(b->bm, (int32_t)i, &t);
    bc = t == BITSET_CONTAINER_TYPE_CODE;
  }
  uint32_t *mem = tide_realloc(b->ccum, bucket_index_bytes(nc, bc));
  if (!mem) tide_free(b->ccum);
  b->ccum = mem;
  b->nidx = nc;
  b->has_bcum = bc && mem;
  b->stale = false;
  uint16_t *bcum = bucket_bcum(b);
  uint64_t c = 0;
  for (uint32_t i = 0; i < nc; i++) {
    uint8_t t;
    const void *ct = rs_container(b->bm, (int32_t)i, &t);
    if (mem) mem[i] = (uint32_t)c;
    if (t == BITSET_CONTAINER_TYPE_CODE && bcum) {
      const uint64_t *w = ((const bitset_container_t *)ct)->array;
      uint32_t acc = 0;
      for (int k = 0; k < RS_BLOCKS; k++) {
        bcum[i * RS_BLOCKS + k] = (uint16_t)acc;
        acc += (uint32_t)popcnt_words(w + k * RS_BLOCK_WORDS, RS_BLOCK_WORDS);
      }
    }
    c += rs_container_card(ct, t);
  }
  if (mem) mem[nc] = (uint32_t)c;
  b->card = c;
}

/* Container index of high-16 key hb in bm, or -(insertion point) - 1. */
static inline int32_t container_find(const roaring_bitmap_t *bm, uint16_t hb) {
  const roaring_array_t *ra = &bm->high_low_container;
  int32_t lo = 0, hi = ra->size;
  while (lo < hi) {
    int32_t mid = lo + (hi - lo) / 2;
    if (ra->keys[mid] < hb) lo = mid + 1;
    else if (ra->keys[mid] > hb) hi = mid;
    else return mid;
  }
  return -lo - 1;
}

/* After a single-key edit (delta +1/-1) of a bucket: ci, t0, nc0 are the
 * key's container index, its type and the container count from before the
 * edit. The index is patched in place unless the container structure
 * changed, in which case it is rebuilt. */
static void bucket_edit_index(rs_bucket *b, uint32_t low, int delta, int32_t ci, uint8_t t0,
                              int32_t nc0) {
  const roaring_array_t *ra = &b->bm->high_low_container;
  uint8_t t = 0;
  if (ci >= 0 && ra->size == nc0) rs_container(b->bm, ci, &t);
  if (b->stale || !b->ccum || ci < 0 || ra->size != nc0 || t != t0) {
    bucket_index(b);
    return;
  }
  for (uint32_t j = (uint32_t)ci + 1; j <= b->nidx; j++) b->ccum[j] += (uint32_t)delta;
  b->card += (uint64_t)(int64_t)delta;
  uint16_t *bcum = bucket_bcum(b);
  if (t == BITSET_CONTAINER_TYPE_CODE && bcum) {
    uint16_t *row = bcum + (size_t)ci * RS_BLOCKS;
    for (uint32_t k = ((low & 0xffff) >> 12) + 1; k < RS_BLOCKS; k++) row[k] += (uint16_t)delta;
  }
}

/* Low bits of the key of rank r (< card) in the bucket. */
static uint32_t bucket_select(const rs_bucket *b, uint32_t r) {
  if (!b->ccum) {
    uint32_t v = 0;
    roaring_bitmap_select(b->bm, r, &v);
    return v;
  }
  const roaring_array_t *ra = &b->bm->high_low_container;
  int32_t lo = 0, hi = ra->size; /* last container with ccum <= r */
  while (hi - lo > 1) {
    int32_t mid = lo + (hi - lo) / 2;
    if (b->ccum[mid] <= r) lo = mid;
    else hi = mid;
  }
  r -= b->ccum[lo];
  uint32_t base = (uint32_t)ra->keys[lo] << 16;
  uint8_t t;
  const void *c = rs_container(b->bm, lo, &t);
  if (t == ARRAY_CONTAINER_TYPE_CODE) return base | ((const array_container_t *)c)->array[r];
  if (t == BITSET_CONTAINER_TYPE_CODE) {
    const uint64_t *w = ((const bitset_container_t *)c)->array;
    const uint16_t *bcum = bucket_bcum(b);
    size_t w0 = 0, nw = 1024;
    if (bcum) {
      const uint16_t *row = bcum + (size_t)lo * RS_BLOCKS;
      int k = RS_BLOCKS - 1;
      while (row[k] > r) k--;
      r -= row[k];
      w0 = (size_t)k * RS_BLOCK_WORDS;
      nw = RS_BLOCK_WORDS;
    }
    size_t i = w0 + select_word(w + w0, nw, &r);
    uint64_t x = w[i];
    for (; r; r--) x &= x - 1;
    return base | (uint32_t)(i * 64 + (size_t)__builtin_ctzll(x));
  }
  const run_container_t *rc = c;
  for (int32_t k = 0;; k++) {
    uint32_t len = (uint32_t)rc->runs[k].length + 1;
    if (r < len) return base | (rc->runs[k].value + r);
    r -= len;
  }
}

/* Number of keys <= low in the bucket; *has tells whether low is one. */
static uint64_t bucket_rank(const rs_bucket *b, uint32_t low, bool *has) {
  if (!b->ccum) {
    *has = roaring_bitmap_contains(b->bm, low);
    return roaring_bitmap_rank(b->bm, low);
  }
  uint16_t lb = (uint16_t)low;
  int32_t ci = container_find(b->bm, (uint16_t)(low >> 16));
  *has = false;
  if (ci < 0) return b->ccum[-ci - 1];
  uint64_t base = b->ccum[ci];
  uint8_t t;
  const void *c = rs_container(b->bm, ci, &t);
  if (t == ARRAY_CONTAINER_TYPE_CODE) {
    const array_container_t *a = c;
    int32_t l = 0, h = a->cardinality; /* first index with value > lb */
    while (l < h) {
      int32_t mid = l + (h - l) / 2;
      if (a->array[mid] <= lb) l = mid + 1;
      else h = mid;
    }
    *has = l > 0 && a->array[l - 1] == lb;
    return base + (uint64_t)l;
  }
  if (t == BITSET_CONTAINER_TYPE_CODE) {
    const uint64_t *w = ((const bitset_container_t *)c)->array;
    const uint16_t *bcum = bucket_bcum(b);
    size_t wi = lb >> 6, w0 = 0;
    if (bcum) {
      size_t k = wi / RS_BLOCK_WORDS;
      base += bcum[(size_t)ci * RS_BLOCKS + k];
      w0 = k * RS_BLOCK_WORDS;
    }
    uint64_t last = w[wi] & (~UINT64_C(0) >> (63 - (lb & 63)));
    *has = (w[wi] >> (lb & 63)) & 1;
    return base + popcnt_words(w + w0, wi - w0) + popcnt_sw(last);
  }
  const run_container_t *rc = c;
  uint64_t n = 0;
  for (int32_t k = 0; k < rc->n_runs; k++) {
    uint32_t v = rc->runs[k].value, len = (uint32_t)rc->runs[k].length + 1;
    if (lb < v) break;
    if (lb < v + len) {
      *has = true;
      return base + n + (lb - v) + 1;
    }
    n += len;
  }
  return base + n;
}

/* Drop empty buckets, recompute cardinalities, container indexes and
 * cumulative counts. */
static void bitmap_reindex(rs_body *d) {
  size_t j = 0;
  uint64_t c = 0;
  for (size_t i = 0; i < d->n; i++) {
    if (!d->b[i].bm) continue; /* dropped (bitmap_inplace) */
    /* a shared bucket is never stale (it was indexed before it was
     * shared) and must not change: without an index it uses CRoaring's */
    assert(!d->b[i].stale || bucket_exclusive(&d->b[i]));
    if (d->b[i].stale || (!d->b[i].ccum && bucket_exclusive(&d->b[i]))) bucket_index(&d->b[i]);
    uint64_t card = d->b[i].card;
    if (card == 0) {
      bucket_release(&d->b[i]);
      continue;
    }
    d->b[j] = d->b[i];
    d->b[j].card = card;
    d->b[j].cum = c;
    c += card;
    j++;
  }
  d->n = j;
  d->size = c;
}

/* Buckets for the ranges r[0..n) clipped to [lo, hi]. */
static int body_bitmap_from_ranges(const rs_range *r, size_t n, uint64_t lo, uint64_t hi,
                                   rs_body *out) {
  memset(out, 0, sizeof *out);
  out->kind = RS_BITMAP;
  for (size_t i = 0; i < n; i++) {
    uint64_t f = TIDE_MAX(r[i].first, lo), l = TIDE_MIN(r[i].last, hi);
    if (f > l) continue;
    if (bucket_add_range(out, f, l)) {
      body_free(out);
      return -1;
    }
  }
  bitmap_reindex(out);
  return 0;
}

static uint64_t body_first(const rs_body *d) {
  if (d->size == 0) return TIDE_NULL_KEY;
  if (d->kind == RS_RANGES) return d->r[0].first;
  return (d->b[0].high << RS_LOW_BITS) | roaring_bitmap_minimum(d->b[0].bm);
}

static uint64_t body_last(const rs_body *d) {
  if (d->size == 0) return TIDE_NULL_KEY;
  if (d->kind == RS_RANGES) return d->r[d->n - 1].last;
  const rs_bucket *b = &d->b[d->n - 1];
  return (b->high << RS_LOW_BITS) | roaring_bitmap_maximum(b->bm);
}

static int body_copy(const rs_body *s, rs_body *d) {
  memset(d, 0, sizeof *d);
  d->kind = s->kind;
  d->size = s->size;
  if (s->n == 0) return 0;
  if (s->kind == RS_RANGES) {
    d->r = tide_malloc(s->n * sizeof *d->r);
    if (!d->r) return -1;
    memcpy(d->r, s->r, s->n * sizeof *d->r);
  } else {
    /* O(buckets): the buckets are shared (copy-on-write) */
    d->b = tide_malloc(s->n * sizeof *d->b);
    if (!d->b) return -1;
    for (size_t i = 0; i < s->n; i++) {
      if (bucket_share(&s->b[i], &d->b[i])) {
        d->n = i;
        body_free(d);
        return -1;
      }
    }
  }
  d->n = d->cap = s->n;
  return 0;
}

/* ------------------------------------------------------------ lookups */

/* Range index holding position pos (< size). */
static inline size_t range_by_pos(const rs_body *d, uint64_t pos) {
  size_t lo = 0, hi = d->n; /* answer in [lo, hi) */
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (d->r[mid].cum <= pos) lo = mid;
    else hi = mid;
  }
  return lo;
}

static inline size_t bucket_by_pos(const rs_body *d, uint64_t pos) {
  size_t lo = 0, hi = d->n;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (d->b[mid].cum <= pos) lo = mid;
    else hi = mid;
  }
  return lo;
}

/* Number of ranges with first <= key. */
static inline size_t range_upper(const rs_body *d, uint64_t key) {
  size_t lo = 0, hi = d->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (d->r[mid].first <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* Index of bucket `high`, or -(insertion point) - 1. */
static inline long bucket_find(const rs_body *d, uint64_t high) {
  size_t lo = 0, hi = d->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (d->b[mid].high < high) lo = mid + 1;
    else if (d->b[mid].high > high) hi = mid;
    else return (long)mid;
  }
  return -(long)lo - 1;
}

static uint64_t body_key_at(const rs_body *d, uint64_t pos) {
  if (pos >= d->size) return TIDE_NULL_KEY;
  if (d->kind == RS_RANGES) {
    const rs_range *r = &d->r[d->n == 1 ? 0 : range_by_pos(d, pos)];
    return r->first + (pos - r->cum);
  }
  const rs_bucket *b = &d->b[bucket_by_pos(d, pos)];
  return (b->high << RS_LOW_BITS) | bucket_select(b, (uint32_t)(pos - b->cum));
}

static int64_t body_find(const rs_body *d, uint64_t key) {
  if (d->kind == RS_RANGES) {
    size_t i = range_upper(d, key);
    if (i == 0) return -1;
    const rs_range *r = &d->r[i - 1];
    if (key <= r->last) return (int64_t)(r->cum + (key - r->first));
    return -(int64_t)(r->cum + (r->last - r->first + 1)) - 1;
  }
  long i = bucket_find(d, key >> RS_LOW_BITS);
  if (i < 0) {
    size_t ins = (size_t)(-i - 1);
    uint64_t p = ins < d->n ? d->b[ins].cum : d->size;
    return -(int64_t)p - 1;
  }
  const rs_bucket *b = &d->b[i];
  uint32_t low = (uint32_t)(key & RS_LOW_MASK);
  bool has;
  uint64_t rank = bucket_rank(b, low, &has); /* keys <= low */
  if (has) return (int64_t)(b->cum + rank - 1);
  return -(int64_t)(b->cum + rank) - 1;
}

/* Position of the first key >= key. */
static uint64_t body_lower_bound(const rs_body *d, uint64_t key) {
  int64_t f = body_find(d, key);
  return f >= 0 ? (uint64_t)f : (uint64_t)(-(f + 1));
}

/* ------------------------------------------------------------ decoding */

/* Write `count` keys of bucket b starting at its key with low bits `start`
 * (which must be present) into out; if more keys follow, *next gets the low
 * bits of the next one (and true is returned). Reads the containers
 * directly: a word-at-a-time loop for bitsets, copies for arrays and runs. */
static bool bucket_decode(const rs_bucket *b, uint32_t start, uint64_t count, uint64_t *out,
                          uint32_t *next) {
  const roaring_array_t *ra = &b->bm->high_low_container;
  const uint64_t hb = b->high << RS_LOW_BITS;
  int32_t ci = container_find(b->bm, (uint16_t)(start >> 16));
  if (ci < 0) ci = -ci - 1;
  uint64_t n = 0;
  uint32_t lb = start & 0xffff; /* lower bound inside the first container */
#define RS_EMIT(v)                      \
  do {                                  \
    if (n == count) {                   \
      *next = (uint32_t)(v);            \
      return true;                      \
    }                                   \
    out[n++] = hb | (uint64_t)(v);      \
  } while (0)
  for (; ci < ra->size; ci++, lb = 0) {
    uint8_t t;
    const void *c = rs_container(b->bm, ci, &t);
    const uint32_t base = (uint32_t)ra->keys[ci] << 16;
    if (t == ARRAY_CONTAINER_TYPE_CODE) {
      const array_container_t *a = c;
      int32_t j = 0, h = a->cardinality;
      if (lb) { /* first index with value >= lb */
        while (j < h) {
          int32_t mid = j + (h - j) / 2;
          if (a->array[mid] < lb) j = mid + 1;
          else h = mid;
        }
      }
      int32_t card = a->cardinality;
      uint64_t avail = (uint64_t)(card - j), take = TIDE_MIN(avail, count - n);
      const uint16_t *src = a->array + j;
      uint64_t *o = out + n;
      for (uint64_t k = 0; k < take; k++) o[k] = hb | (base | src[k]);
      n += take;
      if (take < avail) {
        *next = base | src[take];
        return true;
      }
    } else if (t == BITSET_CONTAINER_TYPE_CODE) {
      const uint64_t *w = ((const bitset_container_t *)c)->array;
      size_t i = lb >> 6;
      uint64_t x = w[i] & (~UINT64_C(0) << (lb & 63));
      for (;;) {
        while (x) {
          RS_EMIT(base + (uint32_t)(i * 64) + (uint32_t)__builtin_ctzll(x));
          x &= x - 1;
        }
        if (++i == 1024) break;
        x = w[i];
      }
    } else {
      const run_container_t *rc = c;
      for (int32_t k = 0; k < rc->n_runs; k++) {
        uint32_t v = rc->runs[k].value, e = v + rc->runs[k].length; /* inclusive */
        if (e < lb) continue;
        if (v < lb) v = lb;
        uint64_t avail = (uint64_t)(e - v) + 1, take = TIDE_MIN(avail, count - n);
        uint64_t *o = out + n;
        uint64_t kb = hb | (base + v);
        for (uint64_t q = 0; q < take; q++) o[q] = kb + q;
        n += take;
        if (take < avail) {
          *next = base + v + (uint32_t)take;
          return true;
        }
      }
    }
  }
#undef RS_EMIT
  return false;
}

/* ------------------------------------------------------------ iteration */

static void it_init_pos(tide_rowset_iter_t *it, const rs_body *d, uint64_t pos,
                        uint64_t count) {
  it->part = 0;
  it->off = 0;
  if (pos >= d->size) {
    it->pos = it->end = d->size;
    it->part = d->n;
    return;
  }
  it->pos = pos;
  it->end = count >= d->size - pos ? d->size : pos + count;
  if (d->kind == RS_RANGES) {
    size_t i = d->n == 1 ? 0 : range_by_pos(d, pos);
    it->part = i;
    it->off = pos - d->r[i].cum;
  } else {
    size_t i = bucket_by_pos(d, pos);
    it->part = i;
    it->off = bucket_select(&d->b[i], (uint32_t)(pos - d->b[i].cum));
  }
}

/* Length of the run of consecutive values starting at s (present) in bm,
 * at most maxl: a membership probe for the common short run, then an
 * exponential and binary search with contains_range (no popcounts: Debian's
 * CRoaring is built without hardware popcount, so rank-based probes on
 * bitset containers are slow). */
static uint64_t bitmap_run_len(const roaring_bitmap_t *bm, uint64_t s, uint64_t maxl) {
  uint64_t good = 1, bad;
  if (maxl <= 1) return maxl;
  if (!roaring_bitmap_contains(bm, (uint32_t)(s + 1))) return 1;
  good = 2;
  if (maxl == 2) return 2;
  for (;;) {
    uint64_t t = TIDE_MIN(good * 2, maxl);
    if (roaring_bitmap_contains_range(bm, s, s + t)) {
      good = t;
      if (t == maxl) return good;
    } else {
      bad = t;
      break;
    }
  }
  while (bad - good > 1) {
    uint64_t mid = good + (bad - good) / 2;
    if (roaring_bitmap_contains_range(bm, s, s + mid)) good = mid;
    else bad = mid;
  }
  return good;
}

/* Low bits of the key after the present key v of bucket b (which must
 * exist). */
static inline uint32_t bucket_next_after(const rs_bucket *b, uint32_t v) {
  uint64_t self;
  uint32_t nx = 0;
  bool more = bucket_decode(b, v, 1, &self, &nx);
  assert(more);
  (void)more;
  return nx;
}

static bool it_next_range(tide_rowset_iter_t *it, const rs_body *d, uint64_t *first,
                          uint64_t *last) {
  if (it->pos >= it->end) return false;
  if (d->kind == RS_RANGES) {
    const rs_range *r = &d->r[it->part];
    uint64_t f = r->first + it->off;
    uint64_t avail = r->last - f + 1, lim = it->end - it->pos;
    uint64_t len = TIDE_MIN(avail, lim);
    *first = f;
    *last = f + len - 1;
    it->pos += len;
    if (len == avail) {
      it->part++;
      it->off = 0;
    } else {
      it->off += len;
    }
    return true;
  }
  const rs_bucket *b = &d->b[it->part];
  uint64_t s = it->off, high = b->high;
  *first = (high << RS_LOW_BITS) | s;
  for (;;) {
    uint64_t rank = it->pos - b->cum;
    uint64_t maxl = TIDE_MIN(b->card - rank, it->end - it->pos);
    maxl = TIDE_MIN(maxl, RS_BUCKET_KEYS - s);
    uint64_t len = bitmap_run_len(b->bm, s, maxl);
    it->pos += len;
    *last = (high << RS_LOW_BITS) | (s + len - 1);
    if (rank + len == b->card) {
      it->part++;
      it->off = it->part < d->n ? roaring_bitmap_minimum(d->b[it->part].bm) : 0;
      if (it->pos < it->end && s + len == RS_BUCKET_KEYS && it->off == 0 &&
          d->b[it->part].high == high + 1) {
        b = &d->b[it->part];
        high++;
        s = 0;
        continue;
      }
    } else {
      it->off = bucket_next_after(b, (uint32_t)(s + len - 1));
    }
    return true;
  }
}

static bool it_next_chunk(tide_rowset_iter_t *it, const rs_body *d, uint32_t max,
                          tide_rowseq_t *seq, uint64_t *keybuf) {
  if (it->pos >= it->end || max == 0) return false;
  uint64_t want = TIDE_MIN((uint64_t)max, it->end - it->pos);
  seq->pos = it->pos;
  uint64_t n = 0;
  if (d->kind == RS_RANGES) {
    const rs_range *r = &d->r[it->part];
    uint64_t f = r->first + it->off, avail = r->last - f + 1;
    if (avail >= want || avail >= RS_CHUNK_RANGE_MIN) {
      n = TIDE_MIN(avail, want);
      seq->first = f;
      seq->keys = NULL;
      seq->n = (uint32_t)n;
      it->pos += n;
      if (n == avail) {
        it->part++;
        it->off = 0;
      } else {
        it->off += n;
      }
      return true;
    }
    /* pack short runs into explicit keys, stopping before a long run */
    while (n < want) {
      r = &d->r[it->part];
      f = r->first + it->off;
      avail = r->last - f + 1;
      if (n > 0 && avail >= RS_CHUNK_RANGE_MIN) break;
      uint64_t take = TIDE_MIN(avail, want - n);
      uint64_t *o = keybuf + n;
      for (uint64_t k = 0; k < take; k++) o[k] = f + k;
      n += take;
      it->pos += take;
      if (take == avail) {
        it->part++;
        it->off = 0;
      } else {
        it->off += take;
      }
    }
  } else {
    while (n < want) {
      const rs_bucket *b = &d->b[it->part];
      uint64_t rank = it->pos - b->cum;
      uint64_t take = TIDE_MIN(b->card - rank, want - n);
      uint32_t nx = 0;
      bool more = bucket_decode(b, (uint32_t)it->off, take, keybuf + n, &nx);
      n += take;
      it->pos += take;
      if (rank + take == b->card) {
        it->part++;
        it->off = it->part < d->n ? roaring_bitmap_minimum(d->b[it->part].bm) : 0;
      } else {
        assert(more);
        (void)more;
        it->off = nx;
      }
    }
  }
  seq->n = (uint32_t)n;
  if (keybuf[n - 1] - keybuf[0] == n - 1) {
    seq->first = keybuf[0];
    seq->keys = NULL;
  } else {
    seq->first = keybuf[0];
    seq->keys = keybuf;
  }
  return true;
}

/* ------------------------------------------------------------ normalisation */

/* Convert a bitmap body with at most `limit` runs to ranges: 1 if done
 * (out set), 0 if it has more runs, -1 on OOM. */
static int body_bitmap_to_ranges(const rs_body *d, size_t limit, rs_body *out) {
  memset(out, 0, sizeof *out);
  out->kind = RS_RANGES;
  tide_rowset_iter_t it;
  it_init_pos(&it, d, 0, d->size);
  uint64_t f, l;
  while (it_next_range(&it, d, &f, &l)) {
    if (out->n >= limit) {
      body_free(out);
      return 0;
    }
    if (rb_push(out, f, l)) {
      body_free(out);
      return -1;
    }
  }
  ranges_reindex(out);
  return 1;
}

/* A freshly built range body: index it, and switch to a bitmap if there
 * are many short ranges (on OOM the ranges stay, which is still valid). */
static void body_ranges_finish(rs_body *d) {
  ranges_reindex(d);
  if (d->n > RS_MAX_RANGES && d->size < (uint64_t)RS_MIN_AVG_RUN * d->n) {
    rs_body bm;
    if (body_bitmap_from_ranges(d->r, d->n, 0, UINT64_MAX, &bm) == 0) {
      for (size_t i = 0; i < bm.n; i++) roaring_bitmap_run_optimize(bm.b[i].bm);
      body_free(d);
      *d = bm;
    }
  }
}

/* A freshly built bitmap body: index it, and go back to ranges if it has
 * few runs. */
static void body_bitmap_finish(rs_body *d) {
  bitmap_reindex(d);
  if (d->n == 0) {
    body_free(d);
    d->kind = RS_RANGES;
    return;
  }
  rs_body r;
  if (body_bitmap_to_ranges(d, RS_BACK_RANGES, &r) == 1) {
    body_free(d);
    *d = r;
  }
}

/* Cheap check after single-key edits of a bitmap. */
static void body_bitmap_quick_norm(rs_body *d) {
  if (d->size == 0) {
    body_free(d);
    d->kind = RS_RANGES;
    return;
  }
  uint64_t f = body_first(d), l = body_last(d);
  if (l - f + 1 == d->size) {
    rs_range *r = tide_malloc(sizeof *r);
    if (!r) return;
    uint64_t size = d->size;
    body_free(d);
    d->kind = RS_RANGES;
    d->r = r;
    d->n = d->cap = 1;
    r->first = f;
    r->last = l;
    r->cum = 0;
    d->size = size;
  }
}

/* ------------------------------------------------------------ set operations */

static int ranges_op(const rs_range *a, size_t na, const rs_range *b, size_t nb, int op,
                     rs_body *o) {
  memset(o, 0, sizeof *o);
  o->kind = RS_RANGES;
  size_t i = 0, j = 0;
  if (op == RS_OP_UNION) {
    while (i < na || j < nb) {
      const rs_range *x = (j >= nb || (i < na && a[i].first <= b[j].first)) ? &a[i++] : &b[j++];
      if (rb_push(o, x->first, x->last)) goto oom;
    }
  } else if (op == RS_OP_AND) {
    while (i < na && j < nb) {
      uint64_t f = TIDE_MAX(a[i].first, b[j].first), l = TIDE_MIN(a[i].last, b[j].last);
      if (f <= l && rb_push(o, f, l)) goto oom;
      if (a[i].last < b[j].last) i++;
      else j++;
    }
  } else {
    for (; i < na; i++) {
      uint64_t cur = a[i].first, l = a[i].last;
      bool done = false;
      while (j < nb && b[j].last < cur) j++;
      for (size_t k = j; k < nb && b[k].first <= l; k++) {
        if (b[k].first > cur && rb_push(o, cur, b[k].first - 1)) goto oom;
        if (b[k].last >= l) {
          done = true;
          break;
        }
        cur = b[k].last + 1;
      }
      if (!done && rb_push(o, cur, l)) goto oom;
    }
  }
  body_ranges_finish(o);
  return 0;
oom:
  body_free(o);
  return -1;
}

static int bucket_push_owned(rs_body *o, uint64_t high, roaring_bitmap_t *bm) {
  if (!bm) return -1;
  if (o->n == o->cap && bucket_grow(o)) {
    roaring_bitmap_free(bm);
    return -1;
  }
  o->b[o->n++] = (rs_bucket){high, 0, 0, bm, NULL, 0, false, true, refs_new()};
  return 0;
}

/* Append a bucket sharing s's bitmap. */
static int bucket_push_shared(rs_body *o, const rs_bucket *s) {
  if (o->n == o->cap && bucket_grow(o)) return -1;
  if (bucket_share(s, &o->b[o->n])) return -1;
  o->n++;
  return 0;
}

static int buckets_op(const rs_body *a, const rs_body *b, int op, rs_body *o) {
  memset(o, 0, sizeof *o);
  o->kind = RS_BITMAP;
  size_t i = 0, j = 0, na = a->n, nb = b->n;
  while (i < na || j < nb) {
    if (j >= nb || (i < na && a->b[i].high < b->b[j].high)) {
      if (op != RS_OP_AND && bucket_push_shared(o, &a->b[i])) goto oom;
      i++;
    } else if (i >= na || b->b[j].high < a->b[i].high) {
      if (op == RS_OP_UNION && bucket_push_shared(o, &b->b[j])) goto oom;
      j++;
    } else {
      const roaring_bitmap_t *x = a->b[i].bm, *y = b->b[j].bm;
      roaring_bitmap_t *z = op == RS_OP_UNION ? roaring_bitmap_or(x, y)
                            : op == RS_OP_AND ? roaring_bitmap_and(x, y)
                                              : roaring_bitmap_andnot(x, y);
      if (bucket_push_owned(o, a->b[i].high, z)) goto oom;
      i++;
      j++;
    }
  }
  body_bitmap_finish(o);
  return 0;
oom:
  body_free(o);
  return -1;
}

static int body_op(const rs_body *a, const rs_body *b, int op, rs_body *out) {
  if (a->size == 0 || b->size == 0) {
    if (op == RS_OP_AND || (a->size == 0 && op == RS_OP_MINUS)) {
      memset(out, 0, sizeof *out);
      out->kind = RS_RANGES;
      return 0;
    }
    return body_copy(a->size == 0 ? b : a, out);
  }
  if (a->kind == RS_RANGES && b->kind == RS_RANGES) return ranges_op(a->r, a->n, b->r, b->n, op, out);
  uint64_t alo = 0, ahi = UINT64_MAX, blo = 0, bhi = UINT64_MAX;
  if (op == RS_OP_AND) {
    alo = blo = TIDE_MAX(body_first(a), body_first(b));
    ahi = bhi = TIDE_MIN(body_last(a), body_last(b));
    if (alo > ahi) {
      memset(out, 0, sizeof *out);
      out->kind = RS_RANGES;
      return 0;
    }
  } else if (op == RS_OP_MINUS) {
    blo = body_first(a);
    bhi = body_last(a);
  }
  rs_body ta, tb;
  const rs_body *pa = a, *pb = b;
  if (a->kind == RS_RANGES) {
    if (body_bitmap_from_ranges(a->r, a->n, alo, ahi, &ta)) return -1;
    pa = &ta;
  }
  if (b->kind == RS_RANGES) {
    if (body_bitmap_from_ranges(b->r, b->n, blo, bhi, &tb)) {
      if (pa == &ta) body_free(&ta);
      return -1;
    }
    pb = &tb;
  }
  int rc = buckets_op(pa, pb, op, out);
  if (pa == &ta) body_free(&ta);
  if (pb == &tb) body_free(&tb);
  return rc;
}

/* ------------------------------------------------------------ sorting keys */

static void sort_keys(uint64_t *a, size_t n, uint64_t *tmp) {
  if (n < 64) {
    for (size_t i = 1; i < n; i++) {
      uint64_t v = a[i];
      size_t j = i;
      while (j > 0 && a[j - 1] > v) {
        a[j] = a[j - 1];
        j--;
      }
      a[j] = v;
    }
    return;
  }
  uint64_t diff = 0;
  for (size_t i = 1; i < n; i++) diff |= a[i] ^ a[0];
  uint64_t *src = a, *dst = tmp;
  for (int shift = 0; shift < 64; shift += 8) {
    if (((diff >> shift) & 0xff) == 0) continue;
    size_t cnt[256] = {0};
    for (size_t i = 0; i < n; i++) cnt[(src[i] >> shift) & 0xff]++;
    size_t s = 0;
    for (int k = 0; k < 256; k++) {
      size_t c = cnt[k];
      cnt[k] = s;
      s += c;
    }
    for (size_t i = 0; i < n; i++) dst[cnt[(src[i] >> shift) & 0xff]++] = src[i];
    uint64_t *t = src;
    src = dst;
    dst = t;
  }
  if (src != a) memcpy(a, src, n * sizeof *a);
}

/* Bitmap body from sorted keys (duplicates allowed): add_many in batches
 * per bucket, then run containers where they are smaller. */
static int body_bitmap_from_sorted(const uint64_t *k, size_t n, rs_body *out) {
  memset(out, 0, sizeof *out);
  out->kind = RS_BITMAP;
  uint32_t buf[TIDE_CHUNK_SIZE];
  size_t i = 0;
  while (i < n) {
    uint64_t h = k[i] >> RS_LOW_BITS, hend = (h + 1) << RS_LOW_BITS;
    long cur = bucket_append(out, h);
    if (cur < 0) {
      body_free(out);
      return -1;
    }
    roaring_bitmap_t *bm = out->b[cur].bm;
    while (i < n && (k[i] < hend || hend == 0)) {
      size_t lim = TIDE_MIN(n - i, (size_t)TIDE_CHUNK_SIZE), m = 0;
      const uint64_t *src = k + i;
      while (m < lim && (src[m] < hend || hend == 0)) {
        buf[m] = (uint32_t)(src[m] & RS_LOW_MASK);
        m++;
      }
      roaring_bitmap_add_many(bm, m, buf);
      i += m;
    }
    roaring_bitmap_run_optimize(bm);
  }
  bitmap_reindex(out);
  return 0;
}

static int body_from_sorted(const uint64_t *k, size_t n, rs_body *out) {
  size_t runs = 0;
  uint64_t distinct = 0;
  for (size_t i = 0; i < n; i++) {
    if (i == 0 || k[i] > k[i - 1] + 1) runs++;
    if (i == 0 || k[i] != k[i - 1]) distinct++;
  }
  if (runs <= RS_MAX_RANGES || distinct >= (uint64_t)RS_MIN_AVG_RUN * runs) {
    memset(out, 0, sizeof *out);
    out->kind = RS_RANGES;
    size_t i = 0;
    while (i < n) {
      size_t j = i + 1;
      while (j < n && k[j] <= k[j - 1] + 1) j++;
      if (rb_push(out, k[i], k[j - 1])) {
        body_free(out);
        return -1;
      }
      i = j;
    }
    ranges_reindex(out);
    return 0;
  }
  return body_bitmap_from_sorted(k, n, out);
}

/* ------------------------------------------------------------ public: life */

static tide_rowset_t *rs_wrap(rs_body *d) {
  tide_rowset_t *rs = tide_malloc(sizeof *rs);
  if (!rs) {
    body_free(d);
    return NULL;
  }
  atomic_init(&rs->refcount, 1);
  rs->d = *d;
  return rs;
}

/* Replace rs's contents with d (taking it over). */
static void rs_assign(tide_rowset_t *rs, rs_body *d) {
  body_free(&rs->d);
  rs->d = *d;
}

#define RS_ASSERT_MUTABLE(rs) assert(atomic_load(&(rs)->refcount) == 1)

tide_rowset_t *tide_rowset_create(void) {
  rs_body d = {0};
  d.kind = RS_RANGES;
  return rs_wrap(&d);
}

tide_rowset_t *tide_rowset_create_range(uint64_t first, uint64_t last) {
  rs_body d = {0};
  d.kind = RS_RANGES;
  if (first <= last) {
    if (rb_push(&d, first, last)) return NULL;
    ranges_reindex(&d);
  }
  return rs_wrap(&d);
}

tide_rowset_t *tide_rowset_from_keys(const uint64_t *keys, size_t n) {
  rs_body d;
  bool sorted = true;
  for (size_t i = 1; i < n; i++) {
    if (keys[i] < keys[i - 1]) {
      sorted = false;
      break;
    }
  }
  if (sorted) {
    if (body_from_sorted(keys, n, &d)) return NULL;
    return rs_wrap(&d);
  }
  uint64_t *tmp = tide_malloc(2 * n * sizeof *tmp);
  if (!tmp) return NULL;
  memcpy(tmp, keys, n * sizeof *tmp);
  sort_keys(tmp, n, tmp + n);
  int rc = body_from_sorted(tmp, n, &d);
  tide_free(tmp);
  if (rc) return NULL;
  return rs_wrap(&d);
}

tide_rowset_t *tide_rowset_copy(const tide_rowset_t *rs) {
  rs_body d;
  if (body_copy(&rs->d, &d)) return NULL;
  return rs_wrap(&d);
}

tide_rowset_t *tide_rowset_retain(tide_rowset_t *rs) {
  if (rs) atomic_fetch_add_explicit(&rs->refcount, 1, memory_order_relaxed);
  return rs;
}

void tide_rowset_free(tide_rowset_t *rs) {
  if (!rs) return;
  if (atomic_fetch_sub_explicit(&rs->refcount, 1, memory_order_acq_rel) != 1) return;
  body_free(&rs->d);
  tide_free(rs);
}

/* ------------------------------------------------------------ public: queries */

int tide__rowset_kind(const tide_rowset_t *rs) { return rs->d.kind; }
size_t tide__rowset_parts(const tide_rowset_t *rs) { return rs->d.n; }
size_t tide__rowset_shared_parts(const tide_rowset_t *rs) {
  size_t n = 0;
  if (rs->d.kind == RS_BITMAP)
    for (size_t i = 0; i < rs->d.n; i++) n += !bucket_exclusive(&rs->d.b[i]);
  return n;
}

uint64_t tide_rowset_size(const tide_rowset_t *rs) { return rs->d.size; }
bool tide_rowset_is_empty(const tide_rowset_t *rs) { return rs->d.size == 0; }
uint64_t tide_rowset_first(const tide_rowset_t *rs) { return body_first(&rs->d); }
uint64_t tide_rowset_last(const tide_rowset_t *rs) { return body_last(&rs->d); }

bool tide_rowset_contains(const tide_rowset_t *rs, uint64_t key) {
  const rs_body *d = &rs->d;
  if (d->kind == RS_RANGES) {
    size_t i = range_upper(d, key);
    return i > 0 && key <= d->r[i - 1].last;
  }
  long i = bucket_find(d, key >> RS_LOW_BITS);
  return i >= 0 && roaring_bitmap_contains(d->b[i].bm, (uint32_t)(key & RS_LOW_MASK));
}

bool tide_rowset_is_range(const tide_rowset_t *rs) {
  const rs_body *d = &rs->d;
  if (d->size == 0) return true;
  if (d->kind == RS_RANGES) return d->n == 1;
  return body_last(d) - body_first(d) + 1 == d->size;
}

bool tide_rowset_equals(const tide_rowset_t *a, const tide_rowset_t *b) {
  if (a == b) return true;
  const rs_body *x = &a->d, *y = &b->d;
  if (x->size != y->size) return false;
  if (x->size == 0) return true;
  if (x->kind == RS_RANGES && y->kind == RS_RANGES) {
    if (x->n != y->n) return false;
    for (size_t i = 0; i < x->n; i++)
      if (x->r[i].first != y->r[i].first || x->r[i].last != y->r[i].last) return false;
    return true;
  }
  if (x->kind == RS_BITMAP && y->kind == RS_BITMAP && x->n == y->n) {
    for (size_t i = 0; i < x->n; i++)
      if (x->b[i].high != y->b[i].high || x->b[i].card != y->b[i].card ||
          !roaring_bitmap_equals(x->b[i].bm, y->b[i].bm))
        return false;
    return true;
  }
  /* mixed: compare maximal runs */
  tide_rowset_iter_t ia, ib;
  it_init_pos(&ia, x, 0, x->size);
  it_init_pos(&ib, y, 0, y->size);
  uint64_t f1, l1, f2, l2;
  for (;;) {
    bool m1 = it_next_range(&ia, x, &f1, &l1), m2 = it_next_range(&ib, y, &f2, &l2);
    if (m1 != m2) return false;
    if (!m1) return true;
    if (f1 != f2 || l1 != l2) return false;
  }
}

/* (shared buckets count in full for every set holding them) */
size_t tide_rowset_memory(const tide_rowset_t *rs) {
  const rs_body *d = &rs->d;
  size_t m = sizeof *rs;
  if (d->kind == RS_RANGES) return m + d->cap * sizeof(rs_range);
  m += d->cap * sizeof(rs_bucket);
  for (size_t i = 0; i < d->n; i++) {
    m += sizeof(roaring_bitmap_t) + roaring_bitmap_size_in_bytes(d->b[i].bm);
    if (d->b[i].ccum) m += bucket_index_bytes(d->b[i].nidx, d->b[i].has_bcum);
  }
  return m;
}

uint64_t tide_rowset_key_at(const tide_rowset_t *rs, uint64_t pos) {
  return body_key_at(&rs->d, pos);
}

int64_t tide_rowset_find(const tide_rowset_t *rs, uint64_t key) { return body_find(&rs->d, key); }

uint64_t tide_rowset_export(const tide_rowset_t *rs, uint64_t *out) {
  const rs_body *d = &rs->d;
  uint64_t n = 0;
  if (d->kind == RS_RANGES) {
    for (size_t i = 0; i < d->n; i++) {
      uint64_t f = d->r[i].first, len = d->r[i].last - f + 1;
      uint64_t *o = out + n;
      for (uint64_t k = 0; k < len; k++) o[k] = f + k;
      n += len;
    }
    return n;
  }
  for (size_t i = 0; i < d->n; i++) {
    uint32_t nx;
    bucket_decode(&d->b[i], roaring_bitmap_minimum(d->b[i].bm), d->b[i].card, out + n, &nx);
    n += d->b[i].card;
  }
  return n;
}

/* ------------------------------------------------------------ public: iterators */

void tide_rowset_iter_init(tide_rowset_iter_t *it, const tide_rowset_t *rs) {
  it->rs = rs;
  it_init_pos(it, &rs->d, 0, rs->d.size);
}

void tide_rowset_iter_init_pos(tide_rowset_iter_t *it, const tide_rowset_t *rs, uint64_t pos,
                               uint64_t count) {
  it->rs = rs;
  it_init_pos(it, &rs->d, pos, count);
}

bool tide_rowset_iter_next_range(tide_rowset_iter_t *it, uint64_t *first, uint64_t *last) {
  return it_next_range(it, &it->rs->d, first, last);
}

bool tide_rowset_iter_next_chunk(tide_rowset_iter_t *it, uint32_t max, tide_rowseq_t *seq,
                                 uint64_t *keybuf) {
  return it_next_chunk(it, &it->rs->d, max, seq, keybuf);
}

/* ------------------------------------------------------------ public: set operations */

static tide_rowset_t *rs_op_new(const tide_rowset_t *a, const tide_rowset_t *b, int op) {
  rs_body d;
  if (body_op(&a->d, &b->d, op, &d)) return NULL;
  return rs_wrap(&d);
}

tide_rowset_t *tide_rowset_union(const tide_rowset_t *a, const tide_rowset_t *b) {
  return rs_op_new(a, b, RS_OP_UNION);
}
tide_rowset_t *tide_rowset_intersect(const tide_rowset_t *a, const tide_rowset_t *b) {
  return rs_op_new(a, b, RS_OP_AND);
}
tide_rowset_t *tide_rowset_minus(const tide_rowset_t *a, const tide_rowset_t *b) {
  return rs_op_new(a, b, RS_OP_MINUS);
}

/* rs (a bitmap) op= other, bucket by bucket in place: the bucket array is
 * reserved and missing buckets are created before anything changes, so an
 * allocation failure leaves rs as it was. */
static tide_status bitmap_inplace(rs_body *d, const rs_body *o, int op) {
  rs_body tmp;
  const rs_body *ob = o;
  if (o->kind == RS_RANGES) {
    uint64_t lo = 0, hi = UINT64_MAX;
    if (op != RS_OP_UNION) {
      lo = body_first(d);
      hi = body_last(d);
    }
    if (body_bitmap_from_ranges(o->r, o->n, lo, hi, &tmp)) return TIDE_ERR_NOMEM;
    ob = &tmp;
  }
  tide_status st = TIDE_OK;
  /* own the buckets that change (a copy of a shared one changes nothing
   * visible, so an allocation failure still leaves the set as it was) */
  if (op == RS_OP_AND) {
    size_t j = 0;
    for (size_t i = 0; i < d->n; i++) {
      while (j < ob->n && ob->b[j].high < d->b[i].high) j++;
      if (j < ob->n && ob->b[j].high == d->b[i].high && bucket_own(&d->b[i])) {
        st = TIDE_ERR_NOMEM;
        goto done;
      }
    }
  } else {
    for (size_t j = 0; j < ob->n; j++) {
      long i = bucket_find(d, ob->b[j].high);
      if (i >= 0 && bucket_own(&d->b[i])) {
        st = TIDE_ERR_NOMEM;
        goto done;
      }
    }
  }
  if (op == RS_OP_UNION) {
    /* reserve, then create the missing buckets (shared with ob's) */
    size_t missing = 0;
    for (size_t j = 0; j < ob->n; j++) missing += bucket_find(d, ob->b[j].high) < 0;
    if (d->n + missing > d->cap) {
      rs_bucket *nb = tide_realloc(d->b, (d->n + missing) * sizeof *nb);
      if (!nb) {
        st = TIDE_ERR_NOMEM;
        goto done;
      }
      d->b = nb;
      d->cap = d->n + missing;
    }
    rs_bucket *fresh = NULL;
    if (missing) {
      fresh = tide_calloc(missing, sizeof *fresh);
      if (!fresh) {
        st = TIDE_ERR_NOMEM;
        goto done;
      }
      size_t m = 0;
      for (size_t j = 0; j < ob->n; j++) {
        if (bucket_find(d, ob->b[j].high) >= 0) continue;
        if (bucket_share(&ob->b[j], &fresh[m])) {
          for (size_t t = 0; t < m; t++) bucket_release(&fresh[t]);
          tide_free(fresh);
          st = TIDE_ERR_NOMEM;
          goto done;
        }
        m++;
      }
    }
    /* merge from the back so existing buckets move at most once */
    size_t i = d->n, j = ob->n, w = d->n + missing, m = missing;
    while (j > 0) {
      const rs_bucket *y = &ob->b[j - 1];
      if (i > 0 && d->b[i - 1].high > y->high) {
        d->b[--w] = d->b[--i];
      } else if (i > 0 && d->b[i - 1].high == y->high) {
        roaring_bitmap_or_inplace(d->b[i - 1].bm, y->bm);
        d->b[i - 1].stale = true;
        d->b[--w] = d->b[--i];
        j--;
      } else {
        d->b[--w] = fresh[--m];
        j--;
      }
    }
    d->n += missing;
    tide_free(fresh);
  } else if (op == RS_OP_MINUS) {
    for (size_t j = 0; j < ob->n; j++) {
      long i = bucket_find(d, ob->b[j].high);
      if (i >= 0) {
        roaring_bitmap_andnot_inplace(d->b[i].bm, ob->b[j].bm);
        d->b[i].stale = true;
      }
    }
  } else {
    size_t j = 0;
    for (size_t i = 0; i < d->n; i++) {
      while (j < ob->n && ob->b[j].high < d->b[i].high) j++;
      if (j < ob->n && ob->b[j].high == d->b[i].high) {
        roaring_bitmap_and_inplace(d->b[i].bm, ob->b[j].bm);
        d->b[i].stale = true;
      } else {
        bucket_release(&d->b[i]); /* dropped by bitmap_reindex */
      }
    }
  }
  body_bitmap_finish(d);
done:
  if (ob == &tmp) body_free(&tmp);
  return st;
}

static tide_status rs_op_inplace(tide_rowset_t *rs, const tide_rowset_t *other, int op) {
  RS_ASSERT_MUTABLE(rs);
  if (rs == other) { /* x | x = x & x = x; x - x = {} */
    if (op == RS_OP_MINUS) {
      body_free(&rs->d);
      rs->d.kind = RS_RANGES;
    }
    return TIDE_OK;
  }
  if (rs->d.kind == RS_BITMAP && rs->d.size && other->d.size) return bitmap_inplace(&rs->d, &other->d, op);
  rs_body d;
  if (body_op(&rs->d, &other->d, op, &d)) return TIDE_ERR_NOMEM;
  rs_assign(rs, &d);
  return TIDE_OK;
}

tide_status tide_rowset_union_inplace(tide_rowset_t *rs, const tide_rowset_t *other) {
  if (other->d.size == 0) return TIDE_OK;
  return rs_op_inplace(rs, other, RS_OP_UNION);
}
tide_status tide_rowset_intersect_inplace(tide_rowset_t *rs, const tide_rowset_t *other) {
  return rs_op_inplace(rs, other, RS_OP_AND);
}
tide_status tide_rowset_minus_inplace(tide_rowset_t *rs, const tide_rowset_t *other) {
  if (other->d.size == 0 || rs->d.size == 0) return TIDE_OK;
  return rs_op_inplace(rs, other, RS_OP_MINUS);
}

/* rs op [first, last] for range bodies (linear merge) */
static tide_status rs_range_op(tide_rowset_t *rs, uint64_t first, uint64_t last, int op) {
  rs_range one = {first, last, 0};
  rs_body b = {RS_RANGES, 1, 1, last - first + 1, &one, NULL};
  rs_body d;
  if (body_op(&rs->d, &b, op, &d)) return TIDE_ERR_NOMEM;
  rs_assign(rs, &d);
  return TIDE_OK;
}

/* Index of bucket `high` in a live bitmap body, created (empty) if absent. */
static long bucket_get_or_insert(rs_body *d, uint64_t high) {
  long i = bucket_find(d, high);
  if (i >= 0) return i;
  size_t ins = (size_t)(-i - 1);
  if (d->n == d->cap && bucket_grow(d)) return -1;
  roaring_bitmap_t *bm = roaring_bitmap_create();
  if (!bm) return -1;
  memmove(&d->b[ins + 1], &d->b[ins], (d->n - ins) * sizeof *d->b);
  d->b[ins] = (rs_bucket){high, ins < d->n ? d->b[ins + 1].cum : d->size, 0, bm, NULL, 0, false, true,
                          refs_new()};
  d->n++;
  return (long)ins;
}

tide_status tide_rowset_insert(tide_rowset_t *rs, uint64_t key) {
  RS_ASSERT_MUTABLE(rs);
  rs_body *d = &rs->d;
  if (d->kind == RS_RANGES) {
    size_t i = range_upper(d, key); /* ranges [0, i) start <= key */
    if (i > 0 && key <= d->r[i - 1].last) return TIDE_OK;
    bool left = i > 0 && d->r[i - 1].last + 1 == key;
    bool right = i < d->n && d->r[i].first == key + 1;
    if (left && right) {
      d->r[i - 1].last = d->r[i].last;
      memmove(&d->r[i], &d->r[i + 1], (d->n - i - 1) * sizeof *d->r);
      d->n--;
    } else if (left) {
      d->r[i - 1].last = key;
    } else if (right) {
      d->r[i].first = key;
    } else {
      if (d->n == d->cap && rb_grow(d)) return TIDE_ERR_NOMEM;
      memmove(&d->r[i + 1], &d->r[i], (d->n - i) * sizeof *d->r);
      d->r[i].first = d->r[i].last = key;
      d->n++;
    }
    uint64_t c = i > 0 ? d->r[i - 1].cum : 0;
    for (size_t j = i > 0 ? i - 1 : 0; j < d->n; j++) {
      d->r[j].cum = c;
      c += d->r[j].last - d->r[j].first + 1;
    }
    d->size = c;
    if (d->n > RS_MAX_RANGES && d->size < (uint64_t)RS_MIN_AVG_RUN * d->n) body_ranges_finish(d);
    return TIDE_OK;
  }
  long i = bucket_get_or_insert(d, key >> RS_LOW_BITS);
  if (i < 0) return TIDE_ERR_NOMEM;
  rs_bucket *b = &d->b[i];
  if (!bucket_exclusive(b) && roaring_bitmap_contains(b->bm, (uint32_t)(key & RS_LOW_MASK)))
    return TIDE_OK;
  if (bucket_own(b)) return TIDE_ERR_NOMEM;
  uint32_t low = (uint32_t)(key & RS_LOW_MASK);
  int32_t nc0 = b->bm->high_low_container.size, ci = container_find(b->bm, (uint16_t)(low >> 16));
  uint8_t t0 = 0;
  if (ci >= 0) rs_container(b->bm, ci, &t0);
  if (roaring_bitmap_add_checked(b->bm, low)) {
    bucket_edit_index(b, low, +1, ci, t0, nc0);
    for (size_t j = (size_t)i + 1; j < d->n; j++) d->b[j].cum++;
    d->size++;
    body_bitmap_quick_norm(d);
  }
  return TIDE_OK;
}

tide_status tide_rowset_remove(tide_rowset_t *rs, uint64_t key) {
  RS_ASSERT_MUTABLE(rs);
  rs_body *d = &rs->d;
  if (d->kind == RS_RANGES) {
    size_t i = range_upper(d, key);
    if (i == 0 || key > d->r[i - 1].last) return TIDE_OK;
    rs_range *r = &d->r[i - 1];
    uint64_t c = r->cum;
    if (r->first == key && r->last == key) {
      memmove(r, r + 1, (d->n - i) * sizeof *d->r);
      d->n--;
    } else if (r->first == key) {
      r->first++;
    } else if (r->last == key) {
      r->last--;
    } else {
      if (d->n == d->cap && rb_grow(d)) return TIDE_ERR_NOMEM;
      r = &d->r[i - 1];
      memmove(&d->r[i + 1], &d->r[i], (d->n - i) * sizeof *d->r);
      d->r[i].first = key + 1;
      d->r[i].last = r->last;
      r->last = key - 1;
      d->n++;
    }
    for (size_t j = i - 1; j < d->n; j++) {
      d->r[j].cum = c;
      c += d->r[j].last - d->r[j].first + 1;
    }
    d->size--;
    if (d->n > RS_MAX_RANGES && d->size < (uint64_t)RS_MIN_AVG_RUN * d->n) body_ranges_finish(d);
    return TIDE_OK;
  }
  long i = bucket_find(d, key >> RS_LOW_BITS);
  if (i < 0) return TIDE_OK;
  rs_bucket *b = &d->b[i];
  uint32_t low = (uint32_t)(key & RS_LOW_MASK);
  if (!roaring_bitmap_contains(b->bm, low)) return TIDE_OK;
  if (bucket_own(b)) return TIDE_ERR_NOMEM;
  int32_t nc0 = b->bm->high_low_container.size, ci = container_find(b->bm, (uint16_t)(low >> 16));
  uint8_t t0 = 0;
  if (ci >= 0) rs_container(b->bm, ci, &t0);
  if (!roaring_bitmap_remove_checked(b->bm, low)) return TIDE_OK;
  for (size_t j = (size_t)i + 1; j < d->n; j++) d->b[j].cum--;
  d->size--;
  bucket_edit_index(b, low, -1, ci, t0, nc0);
  if (d->b[i].card == 0) {
    bucket_release(&d->b[i]);
    memmove(&d->b[i], &d->b[i + 1], (d->n - (size_t)i - 1) * sizeof *d->b);
    d->n--;
  }
  body_bitmap_quick_norm(d);
  return TIDE_OK;
}

tide_status tide_rowset_insert_range(tide_rowset_t *rs, uint64_t first, uint64_t last) {
  RS_ASSERT_MUTABLE(rs);
  if (first > last) return TIDE_OK;
  if (rs->d.kind == RS_RANGES || rs->d.size == 0) return rs_range_op(rs, first, last, RS_OP_UNION);
  rs_range one = {first, last, 0};
  rs_body b = {RS_RANGES, 1, 1, last - first + 1, &one, NULL};
  return bitmap_inplace(&rs->d, &b, RS_OP_UNION);
}

tide_status tide_rowset_remove_range(tide_rowset_t *rs, uint64_t first, uint64_t last) {
  RS_ASSERT_MUTABLE(rs);
  if (first > last || rs->d.size == 0) return TIDE_OK;
  if (rs->d.kind == RS_RANGES) return rs_range_op(rs, first, last, RS_OP_MINUS);
  rs_range one = {first, last, 0};
  rs_body b = {RS_RANGES, 1, 1, last - first + 1, &one, NULL};
  return bitmap_inplace(&rs->d, &b, RS_OP_MINUS);
}

tide_rowset_t *tide_rowset_subset_by_pos(const tide_rowset_t *rs, uint64_t pos, uint64_t count) {
  const rs_body *s = &rs->d;
  rs_body d = {0};
  if (pos >= s->size || count == 0) {
    d.kind = RS_RANGES;
    return rs_wrap(&d);
  }
  uint64_t endp = count >= s->size - pos ? s->size : pos + count; /* exclusive */
  if (s->kind == RS_RANGES) {
    d.kind = RS_RANGES;
    tide_rowset_iter_t it;
    it_init_pos(&it, s, pos, endp - pos);
    uint64_t f, l;
    while (it_next_range(&it, s, &f, &l))
      if (rb_push(&d, f, l)) {
        body_free(&d);
        return NULL;
      }
    ranges_reindex(&d);
    return rs_wrap(&d);
  }
  d.kind = RS_BITMAP;
  for (size_t i = bucket_by_pos(s, pos); i < s->n && s->b[i].cum < endp; i++) {
    const rs_bucket *b = &s->b[i];
    uint64_t lo = pos > b->cum ? pos - b->cum : 0;
    uint64_t hi = TIDE_MIN(endp - b->cum, b->card); /* exclusive rank */
    if (lo == 0 && hi == b->card) { /* whole bucket: shared */
      if (bucket_push_shared(&d, b)) {
        body_free(&d);
        return NULL;
      }
      continue;
    }
    roaring_bitmap_t *bm = roaring_bitmap_copy(b->bm);
    if (bucket_push_owned(&d, b->high, bm)) {
      body_free(&d);
      return NULL;
    }
    uint32_t v;
    if (lo > 0 && (v = bucket_select(b, (uint32_t)lo)) > 0)
      roaring_bitmap_remove_range_closed(bm, 0, v - 1);
    if (hi < b->card) {
      v = bucket_select(b, (uint32_t)hi);
      roaring_bitmap_remove_range_closed(bm, v, (uint32_t)RS_LOW_MASK);
    }
  }
  body_bitmap_finish(&d);
  return rs_wrap(&d);
}

/* ------------------------------------------------------------ shifts */

tide_status tide_rowset_shift_all(tide_rowset_t *rs, int64_t delta) {
  RS_ASSERT_MUTABLE(rs);
  rs_body *d = &rs->d;
  if (delta == 0 || d->size == 0) return TIDE_OK;
  uint64_t f = body_first(d), l = body_last(d);
  uint64_t mag = delta < 0 ? (uint64_t)0 - (uint64_t)delta : (uint64_t)delta;
  if (delta < 0 && f < mag) return TIDE_ERR_INVALID;
  if (delta > 0 && (l > RS_KEY_MAX || mag > RS_KEY_MAX - l)) return TIDE_ERR_INVALID;
  if (d->kind == RS_RANGES) {
    for (size_t i = 0; i < d->n; i++) {
      d->r[i].first += (uint64_t)delta;
      d->r[i].last += (uint64_t)delta;
    }
    return TIDE_OK;
  }
  if ((mag & RS_LOW_MASK) == 0) {
    uint64_t dh = mag >> RS_LOW_BITS;
    for (size_t i = 0; i < d->n; i++) d->b[i].high = delta < 0 ? d->b[i].high - dh : d->b[i].high + dh;
    return TIDE_OK;
  }
  /* general delta: re-bucket every key (order is preserved) */
  rs_body nd;
  memset(&nd, 0, sizeof nd);
  nd.kind = RS_BITMAP;
  uint32_t buf[TIDE_CHUNK_SIZE];
  uint32_t nbuf = 0;
  long cur = -1;
  for (size_t i = 0; i < d->n; i++) {
    roaring_uint32_iterator_t ri;
    roaring_init_iterator(d->b[i].bm, &ri);
    uint64_t hb = d->b[i].high << RS_LOW_BITS;
    uint32_t tmp[TIDE_CHUNK_SIZE];
    for (;;) {
      uint32_t got = roaring_read_uint32_iterator(&ri, tmp, TIDE_CHUNK_SIZE);
      for (uint32_t k = 0; k < got; k++) {
        uint64_t key = (hb | tmp[k]) + (uint64_t)delta;
        uint64_t h = key >> RS_LOW_BITS;
        if (cur < 0 || nd.b[cur].high != h || nbuf == TIDE_CHUNK_SIZE) {
          if (nbuf) roaring_bitmap_add_many(nd.b[cur].bm, nbuf, buf);
          nbuf = 0;
          cur = bucket_append(&nd, h);
          if (cur < 0) {
            body_free(&nd);
            return TIDE_ERR_NOMEM;
          }
        }
        buf[nbuf++] = (uint32_t)(key & RS_LOW_MASK);
      }
      if (got < TIDE_CHUNK_SIZE) break;
    }
  }
  if (nbuf) roaring_bitmap_add_many(nd.b[cur].bm, nbuf, buf);
  for (size_t t = 0; t < nd.n; t++) roaring_bitmap_run_optimize(nd.b[t].bm);
  bitmap_reindex(&nd);
  rs_assign(rs, &nd);
  return TIDE_OK;
}

static int cmp_range_first(const void *x, const void *y) {
  const rs_range *a = x, *b = y;
  return a->first < b->first ? -1 : a->first > b->first;
}

/*
 * Deephaven shift: the keys of rs in each [first, last] move by delta.
 * Computed out of place so that invalid input leaves rs unchanged:
 * moved = the shifted keys of rs within the shift ranges (as runs for a
 * range set, as keys for a bitmap), stay = rs minus the shift ranges,
 * result = stay | moved; a collision (moved keys meeting each other or a
 * staying key) shows up as a lost key and is rejected.
 */
tide_status tide_rowset_shift(tide_rowset_t *rs, const tide_shift_t *shifts, size_t n) {
  RS_ASSERT_MUTABLE(rs);
  rs_body *d = &rs->d;
  for (size_t i = 0; i < n; i++) {
    if (shifts[i].first > shifts[i].last) return TIDE_ERR_INVALID;
    if (i > 0 && shifts[i].first <= shifts[i - 1].last) return TIDE_ERR_INVALID;
  }
  if (d->size == 0 || n == 0) return TIDE_OK;
  rs_body moved = {0}, span = {0};
  moved.kind = span.kind = RS_RANGES;
  rs_range *runs = NULL; /* RANGES: shifted runs */
  uint64_t *keys = NULL; /* BITMAP: shifted keys */
  size_t nruns = 0, cap = 0, nkeys = 0, kcap = 0;
  tide_status st = TIDE_OK;
  const bool by_keys = d->kind == RS_BITMAP;
  for (size_t i = 0; i < n; i++) {
    const tide_shift_t *s = &shifts[i];
    if (s->delta == 0) continue;
    uint64_t p0 = body_lower_bound(d, s->first);
    uint64_t p1 = s->last == UINT64_MAX ? d->size : body_lower_bound(d, s->last + 1);
    if (p1 <= p0) continue;
    if (rb_push(&span, s->first, s->last)) goto oom;
    uint64_t kmin = body_key_at(d, p0), kmax = body_key_at(d, p1 - 1);
    uint64_t mag = s->delta < 0 ? (uint64_t)0 - (uint64_t)s->delta : (uint64_t)s->delta;
    if ((s->delta < 0 && kmin < mag) ||
        (s->delta > 0 && (kmax > RS_KEY_MAX || mag > RS_KEY_MAX - kmax))) {
      st = TIDE_ERR_INVALID;
      goto done;
    }
    tide_rowset_iter_t it;
    it_init_pos(&it, d, p0, p1 - p0);
    const uint64_t delta = (uint64_t)s->delta;
    if (by_keys) {
      if (nkeys + (p1 - p0) > kcap) {
        size_t nc = TIDE_MAX(kcap * 2, nkeys + (p1 - p0));
        uint64_t *nk = tide_realloc(keys, nc * sizeof *nk);
        if (!nk) goto oom;
        keys = nk;
        kcap = nc;
      }
      tide_rowseq_t seq;
      while (it_next_chunk(&it, d, TIDE_CHUNK_SIZE, &seq, keys + nkeys)) {
        uint64_t *o = keys + nkeys;
        if (seq.keys)
          for (uint32_t k = 0; k < seq.n; k++) o[k] += delta;
        else
          for (uint32_t k = 0; k < seq.n; k++) o[k] = seq.first + k + delta;
        nkeys += seq.n;
      }
    } else {
      uint64_t f, l;
      while (it_next_range(&it, d, &f, &l)) {
        if (nruns == cap) {
          size_t nc = cap ? cap * 2 : 16;
          rs_range *nr = tide_realloc(runs, nc * sizeof *nr);
          if (!nr) goto oom;
          runs = nr;
          cap = nc;
        }
        runs[nruns++] = (rs_range){f + delta, l + delta, 0};
      }
    }
  }
  if (nruns == 0 && nkeys == 0) goto done;
  if (by_keys) {
    bool sorted = true;
    for (size_t i = 1; i < nkeys; i++)
      if (keys[i] <= keys[i - 1]) {
        sorted = false;
        break;
      }
    if (!sorted) {
      uint64_t *tmp = tide_malloc(nkeys * sizeof *tmp);
      if (!tmp) goto oom;
      sort_keys(keys, nkeys, tmp);
      tide_free(tmp);
      for (size_t i = 1; i < nkeys; i++)
        if (keys[i] == keys[i - 1]) {
          st = TIDE_ERR_INVALID; /* two shifted keys collide */
          goto done;
        }
    }
    if (body_from_sorted(keys, nkeys, &moved)) goto oom;
  } else {
    bool sorted = true;
    for (size_t i = 1; i < nruns && sorted; i++) sorted = runs[i].first > runs[i - 1].first;
    if (!sorted) qsort(runs, nruns, sizeof *runs, cmp_range_first);
    for (size_t i = 0; i < nruns; i++) {
      if (i > 0 && runs[i].first <= runs[i - 1].last) {
        st = TIDE_ERR_INVALID; /* two shifted ranges collide */
        goto done;
      }
      if (rb_push(&moved, runs[i].first, runs[i].last)) goto oom;
    }
    body_ranges_finish(&moved);
  }
  ranges_reindex(&span);
  {
    rs_body stay, res;
    if (body_op(d, &span, RS_OP_MINUS, &stay)) goto oom;
    int rc = body_op(&stay, &moved, RS_OP_UNION, &res);
    body_free(&stay);
    if (rc) goto oom;
    if (res.size != d->size) {
      body_free(&res);
      st = TIDE_ERR_INVALID;
      goto done;
    }
    rs_assign(rs, &res);
  }
  goto done;
oom:
  st = TIDE_ERR_NOMEM;
done:
  tide_free(runs);
  tide_free(keys);
  body_free(&moved);
  body_free(&span);
  return st;
}
