/*
 * Columnar hash table (kernels/hash.h): maps key tuples over one or several
 * key columns to dense group ids in order of first insertion.
 *
 * Layout: open addressing with linear probing over a power-of-two array of
 * 64-bit slots, each (upper 32 bits of the key hash) << 32 | group id; an
 * empty slot is all ones. Keys are stored columnar in growable arrays (one
 * per key column, indexed by group id) together with each group's full
 * 64-bit hash, so growth (at 50% load) re-places slots without rehashing
 * keys. STRING keys are copied into an arena owned by the set (NUL
 * terminated); beside each pointer the set keeps a 16-byte inline form
 * (length and first 12 bytes), so short strings hash and compare without
 * touching the arena, and longer ones compare only their tails there.
 *
 * Probing is vectorised over a block of rows in stages, so that no stage
 * switches on types per row:
 *   1. hash: one typed loop per key column mixes its values into the row
 *      hashes (X-macro bodies, one switch per column and block);
 *   2. probe: each pending row walks from its slot to the first empty slot
 *      or the first slot whose tag equals its hash tag (prefetching ahead);
 *   3. compare: one typed loop per key column checks the candidates; rows
 *      whose candidate does not match step one slot and stay pending;
 *   4. claim (insert only): pending rows that reached an empty slot claim it
 *      in row order with a provisional id; rows that lose the slot to an
 *      earlier row re-probe it next round (and so find and compare the
 *      claimer). Provisional groups compare against the claiming input row.
 * When no row is pending, the provisional groups get their final ids in
 * order of their claiming rows (which is the first row of each new key, as
 * rows with equal keys advance in lockstep), and their keys are copied.
 * Hence ids are assigned in row order, as the header promises.
 *
 * Dense sets (tide__keyset_create_dense): one integer-like key column whose
 * values lie in a known range; dslot[value - lo] holds the group id (or
 * TIDE_KEYSET_ABSENT), dslot[span] the null key's, dslot[span + 1] is
 * always absent (where out-of-range probes land), so a find is one
 * branch-free array read per row. No hashes or slots are kept; inserting an
 * out-of-range value first converts the set to hashing (hashing the stored
 * keys, ids unchanged).
 *
 * Matching: integers, bools, timestamps and symbol codes by value; floats
 * bitwise after mapping -0.0 to 0.0 and every NaN to one NaN; strings by
 * bytes (NULL matches only NULL). Null sentinels match each other.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernels/hash.h"

#include <omp.h>
#include <stdlib.h>
#include <sys/mman.h>

#define KS_EMPTY UINT64_MAX
#define KS_BLOCK TIDE_CHUNK_SIZE
#define KS_SEED 0x2545F4914F6CDD1DULL
#define KS_NULL_STR_HASH 0x8F1BBCDCCA62C1D6ULL
#define KS_ARENA_BLOCK (64u * 1024u)
#define KS_PREFETCH 8

/* Integer-like key types: matched by value. */
#define KS_INT_TYPES(X) \
  X(BOOL, int8_t)       \
  X(I8, int8_t)         \
  X(I16, int16_t)       \
  X(I32, int32_t)       \
  X(I64, int64_t)       \
  X(TS, int64_t)        \
  X(SYMBOL, int32_t)

/* A string key's inline form: a = length (low 32 bits; KS_NULL_LEN for
 * null) | first 4 bytes << 32, b = bytes 4..11, zero padded. Strings of at
 * most KS_INLINE bytes compare by (a, b) alone; longer ones also compare
 * their tails. */
typedef struct ks_str_t {
  uint64_t a, b;
} ks_str_t;
#define KS_INLINE 12
#define KS_NULL_LEN UINT32_MAX

typedef struct ks_arena_block_s {
  struct ks_arena_block_s *next;
  char data[];
} ks_arena_block_t;

struct tide_keyset_s {
  size_t nkeys;
  tide_type_t *types;
  size_t nstr;          /* number of STRING key columns */
  void **keys;          /* per column: cap values of its storage type */
  ks_str_t **lens;      /* per column: inline forms (STRING only) */
  uint64_t *hashes;     /* per group: full hash */
  uint32_t size;
  uint32_t cap;
  uint64_t *slots;
  uint64_t mask;        /* nslots - 1 */
  ks_arena_block_t *arena;
  char *arena_ptr;
  size_t arena_left;
  /* Scratch of tide__keyset_insert, kept between calls (inserts into one
   * set are never concurrent): a fresh 200 KB allocation per call showed
   * up as page faults in ticking ops that insert every cycle. */
  char *ins_scratch;
  /* Dense mode (see the top): dslot != NULL. hashes and slots are NULL
   * while dense. */
  uint32_t *dslot;    /* dspan + 2 ids */
  int64_t dlo;
  uint64_t dspan;
  int64_t dnull;      /* the key type's null sentinel, widened */
};

/* Per-call scratch for one block of rows. */
typedef struct ks_scratch_t {
  uint64_t *hash;
  uint64_t *pos;
  uint32_t *sel;
  uint32_t *rem;
  uint32_t *cmp;
  uint32_t *cand;
  uint32_t *newrows;
  uint32_t *prov_row;
  uint64_t *prov_slot;
  uint32_t *final;
  uint8_t *eq;
  ks_str_t **lens; /* per key column (STRING only, else NULL) */
  void *mem;
} ks_scratch_t;

/* ------------------------------------------------------------ hashing */

static inline uint64_t ks_fmix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

static inline uint64_t ks_rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t ks_hash_bytes(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  uint64_t h = KS_SEED ^ ((uint64_t)len * 0x9E3779B97F4A7C15ULL);
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h ^= w * 0x87c37b91114253d5ULL;
    h = ks_rotl(h, 27) * 0x4cf5ad432745937fULL + 0x52dce729ULL;
    p += 8;
    len -= 8;
  }
  if (len) {
    uint64_t w = 0;
    for (size_t i = 0; i < len; i++) w |= (uint64_t)p[i] << (8 * i);
    h ^= w * 0x87c37b91114253d5ULL;
    h = ks_rotl(h, 31) * 0x4cf5ad432745937fULL;
  }
  return ks_fmix(h);
}

static inline uint64_t ks_bits_f64(double v) {
  uint64_t b;
  if (v == 0) v = 0.0;
  memcpy(&b, &v, 8);
  if (v != v) b = 0x7ff8000000000000ULL;
  return b;
}

static inline uint64_t ks_bits_f32(float v) {
  uint32_t b;
  if (v == 0) v = 0.0f;
  memcpy(&b, &v, 4);
  if (v != v) b = 0x7fc00000u;
  return b;
}

static inline uint64_t ks_load8(const char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
static inline uint64_t ks_load4(const char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* The inline form of s[0..len): whole-word loads that never read past the
 * string (overlapping loads shifted into place) instead of byte copies,
 * which would stall on store forwarding. */
static inline void ks_str_inline(const char *s, size_t len, ks_str_t *out) {
  const uint64_t l32 = len < KS_NULL_LEN ? len : KS_NULL_LEN - 1;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint64_t head, tail;
  if (len >= 12) {
    head = ks_load4(s);
    tail = ks_load8(s + 4);
  } else if (len >= 8) {
    head = ks_load4(s);
    tail = ks_load8(s + len - 8) >> (8 * (12 - len));
  } else if (len >= 4) {
    head = ks_load4(s);
    tail = ks_load4(s + len - 4) >> (8 * (8 - len));
  } else if (len > 0) {
    const unsigned char *u = (const unsigned char *)s;
    head = (uint64_t)u[0] | (uint64_t)u[len / 2] << (8 * (len / 2)) |
           (uint64_t)u[len - 1] << (8 * (len - 1));
    tail = 0;
  } else {
    head = tail = 0;
  }
  out->a = l32 | head << 32;
  out->b = tail;
#else
  unsigned char tmp[16] = {0};
  uint32_t l = (uint32_t)l32;
  memcpy(tmp, &l, 4);
  memcpy(tmp + 4, s, len < KS_INLINE ? len : KS_INLINE);
  memcpy(&out->a, tmp, 8);
  memcpy(&out->b, tmp + 8, 8);
#endif
}

/* Mix column k's values col[0..n) into h[0..n). For STRING columns also
 * write the inline forms into lens (when not NULL). */
static void ks_hash_column(tide_type_t type, size_t k, const void *col, uint32_t n,
                           uint64_t *restrict h, ks_str_t *restrict lens) {
  const uint64_t salt = (uint64_t)(k + 1) * 0x9E3779B97F4A7C15ULL;
  switch (type) {
#define KS_HASH_INT(E, ctype)                                                      \
  case TIDE_##E: {                                                                 \
    const ctype *restrict v = (const ctype *)col;                                  \
    for (uint32_t i = 0; i < n; i++) h[i] = ks_fmix(h[i] ^ ((uint64_t)(int64_t)v[i] + salt)); \
    break;                                                                         \
  }
    KS_INT_TYPES(KS_HASH_INT)
#undef KS_HASH_INT
    case TIDE_F32: {
      const float *restrict v = (const float *)col;
      for (uint32_t i = 0; i < n; i++) h[i] = ks_fmix(h[i] ^ (ks_bits_f32(v[i]) + salt));
      break;
    }
    case TIDE_F64: {
      const double *restrict v = (const double *)col;
      for (uint32_t i = 0; i < n; i++) h[i] = ks_fmix(h[i] ^ (ks_bits_f64(v[i]) + salt));
      break;
    }
    case TIDE_STRING: {
      const char *const *v = (const char *const *)col;
      for (uint32_t i = 0; i < n; i++) {
        const char *s = v[i];
        uint64_t b;
        ks_str_t in = {KS_NULL_LEN, 0};
        if (s) {
          size_t len = strlen(s);
          ks_str_inline(s, len, &in);
          b = len <= KS_INLINE ? (in.a ^ ks_rotl(in.b * 0x9E3779B97F4A7C15ULL, 32))
                               : ks_hash_bytes(s, len);
        } else {
          b = KS_NULL_STR_HASH;
        }
        if (lens) lens[i] = in;
        h[i] = ks_fmix(h[i] ^ (b + salt));
      }
      break;
    }
    default:
      assert(!"keyset: bad key type");
      break;
  }
}

static void ks_hash_block(size_t nkeys, const tide_type_t *types, const void *const *cols,
                          uint32_t n, uint64_t *h, ks_str_t *const *lens) {
  for (uint32_t i = 0; i < n; i++) h[i] = KS_SEED;
  for (size_t k = 0; k < nkeys; k++) ks_hash_column(types[k], k, cols[k], n, h, lens ? lens[k] : NULL);
}

void tide__hash_keys(size_t nkeys, const tide_type_t *types, const void *const *keycols,
                     uint32_t n, uint64_t *hashes) {
  ks_hash_block(nkeys, types, keycols, n, hashes, NULL);
}

/* ------------------------------------------------------------ set */

static bool ks_type_ok(tide_type_t t) { return (int)t >= 0 && t < TIDE_TYPE_COUNT; }

static uint64_t ks_pow2_at_least(uint64_t x) {
  uint64_t p = 16;
  while (p < x) p <<= 1;
  return p;
}

tide_keyset_t *tide__keyset_create(size_t nkeys, const tide_type_t *types, uint64_t expected,
                                   tide_error *err) {
  for (size_t k = 0; k < nkeys; k++) {
    if (!ks_type_ok(types[k])) {
      tide_error_set(err, TIDE_ERR_TYPE, "keyset: invalid key type %d", (int)types[k]);
      return NULL;
    }
  }
  tide_keyset_t *ks = tide_calloc(1, sizeof *ks);
  if (!ks) goto oom;
  ks->nkeys = nkeys;
  if (nkeys) {
    ks->types = tide_malloc(nkeys * sizeof *ks->types);
    ks->keys = tide_calloc(nkeys, sizeof *ks->keys);
    ks->lens = tide_calloc(nkeys, sizeof *ks->lens);
    if (!ks->types || !ks->keys || !ks->lens) goto oom;
    memcpy(ks->types, types, nkeys * sizeof *types);
    for (size_t k = 0; k < nkeys; k++)
      if (types[k] == TIDE_STRING) ks->nstr++;
  }
  if (expected > ((uint64_t)1 << 31)) expected = (uint64_t)1 << 31;
  uint64_t nslots = ks_pow2_at_least(expected * 2);
  ks->slots = tide_malloc(nslots * sizeof *ks->slots);
  if (!ks->slots) goto oom;
  memset(ks->slots, 0xff, nslots * sizeof *ks->slots);
  ks->mask = nslots - 1;
  return ks;
oom:
  tide__keyset_free(ks);
  tide_error_set(err, TIDE_ERR_NOMEM, "keyset: out of memory");
  return NULL;
}

void tide__keyset_free(tide_keyset_t *ks) {
  if (!ks) return;
  for (size_t k = 0; k < ks->nkeys; k++) {
    if (ks->keys) tide_free(ks->keys[k]);
    if (ks->lens) tide_free(ks->lens[k]);
  }
  tide_free(ks->keys);
  tide_free(ks->lens);
  tide_free(ks->types);
  tide_free(ks->hashes);
  tide_free(ks->slots);
  tide_free(ks->ins_scratch);
  tide__table_mem_free(ks->dslot);
  ks_arena_block_t *b = ks->arena;
  while (b) {
    ks_arena_block_t *next = b->next;
    tide_free(b);
    b = next;
  }
  tide_free(ks);
}

uint32_t tide__keyset_size(const tide_keyset_t *ks) { return ks->size; }

const void *tide__keyset_keys(const tide_keyset_t *ks, size_t k) {
  assert(k < ks->nkeys);
  return ks->keys[k];
}

/* Re-place every group into a slot array of nslots (a power of two) using
 * the stored hashes. */
static tide_status ks_resize_slots(tide_keyset_t *ks, uint64_t nslots) {
  uint64_t *slots = tide_malloc(nslots * sizeof *slots);
  if (!slots) return TIDE_ERR_NOMEM;
  tide__table_mem_advise(slots, nslots * sizeof *slots);
  memset(slots, 0xff, nslots * sizeof *slots);
  const uint64_t mask = nslots - 1;
  const uint64_t *restrict hashes = ks->hashes;
  for (uint32_t g = 0; g < ks->size; g++) {
    uint64_t h = hashes[g];
    uint64_t p = h & mask;
    while (slots[p] != KS_EMPTY) p = (p + 1) & mask;
    slots[p] = (h & 0xffffffff00000000ULL) | g;
  }
  tide_free(ks->slots);
  ks->slots = slots;
  ks->mask = mask;
  return TIDE_OK;
}

/* Make room for `more` new groups: key arrays and a slot array at most half
 * full. Leaves the set unchanged on failure. */
static tide_status ks_reserve(tide_keyset_t *ks, uint32_t more) {
  uint64_t need = (uint64_t)ks->size + more;
  if (need >= (uint64_t)UINT32_MAX - 1) return TIDE_ERR_RANGE;
  if (!ks->dslot && need * 2 > ks->mask + 1)
    TIDE_TRY(ks_resize_slots(ks, ks_pow2_at_least(need * 2)));
  if (need > ks->cap) {
    uint64_t ncap = ks->cap ? (uint64_t)ks->cap * 2 : 64;
    while (ncap < need) ncap *= 2;
    if (ncap > UINT32_MAX - 1) ncap = UINT32_MAX - 1;
    if (!ks->dslot) { /* dense sets keep no hashes */
      uint64_t *h = tide_realloc(ks->hashes, ncap * sizeof *h);
      if (!h) return TIDE_ERR_NOMEM;
      ks->hashes = h;
      tide__table_mem_advise(h, ncap * sizeof *h);
    }
    /* large sets (q10: 1e7 groups of 6 keys, over 1 GB with the slots)
     * fault 2 MB pages, 512 times fewer faults */
    for (size_t k = 0; k < ks->nkeys; k++) {
      void *p = tide_realloc(ks->keys[k], ncap * tide_type_width(ks->types[k]));
      if (!p) return TIDE_ERR_NOMEM;
      ks->keys[k] = p;
      tide__table_mem_advise(p, ncap * tide_type_width(ks->types[k]));
      if (ks->types[k] == TIDE_STRING) {
        ks_str_t *l = tide_realloc(ks->lens[k], ncap * sizeof *l);
        if (!l) return TIDE_ERR_NOMEM;
        ks->lens[k] = l;
        tide__table_mem_advise(l, ncap * sizeof *l);
      }
    }
    ks->cap = (uint32_t)ncap;
  }
  return TIDE_OK;
}

/* Make sure the arena has `bytes` contiguous free bytes. */
static tide_status ks_arena_reserve(tide_keyset_t *ks, size_t bytes) {
  if (ks->arena_left >= bytes) return TIDE_OK;
  size_t sz = bytes > KS_ARENA_BLOCK ? bytes : KS_ARENA_BLOCK;
  ks_arena_block_t *b = tide_malloc(sizeof *b + sz);
  if (!b) return TIDE_ERR_NOMEM;
  b->next = ks->arena;
  ks->arena = b;
  ks->arena_ptr = b->data;
  ks->arena_left = sz;
  return TIDE_OK;
}

static size_t ks_scratch_bytes(size_t B, size_t nkeys, const tide_type_t *types, bool insert) {
  size_t nstr = 0;
  for (size_t k = 0; k < nkeys; k++)
    if (types[k] == TIDE_STRING) nstr++;
  size_t bytes = B * (sizeof(uint64_t) * 2 + sizeof(uint32_t) * 4 + 1);
  if (insert) bytes += B * (sizeof(uint32_t) * 3 + sizeof(uint64_t));
  bytes += nkeys * sizeof(ks_str_t *) + nstr * B * sizeof(ks_str_t) + 64;
  return bytes;
}

/* Carve the scratch arrays for blocks of B rows out of m (8-byte aligned,
 * ks_scratch_bytes long). */
static void ks_scratch_layout(ks_scratch_t *sc, char *m, size_t B, size_t nkeys,
                              const tide_type_t *types, bool insert) {
  memset(sc, 0, sizeof *sc);
  /* 8-byte members first, then 4-byte, then bytes. */
  sc->hash = (uint64_t *)m; m += B * sizeof(uint64_t);
  sc->pos = (uint64_t *)m; m += B * sizeof(uint64_t);
  if (insert) { sc->prov_slot = (uint64_t *)m; m += B * sizeof(uint64_t); }
  sc->lens = (ks_str_t **)m; m += nkeys * sizeof(ks_str_t *);
  for (size_t k = 0; k < nkeys; k++) {
    if (types[k] == TIDE_STRING) {
      sc->lens[k] = (ks_str_t *)m;
      m += B * sizeof(ks_str_t);
    } else {
      sc->lens[k] = NULL;
    }
  }
  sc->sel = (uint32_t *)m; m += B * sizeof(uint32_t);
  sc->rem = (uint32_t *)m; m += B * sizeof(uint32_t);
  sc->cmp = (uint32_t *)m; m += B * sizeof(uint32_t);
  sc->cand = (uint32_t *)m; m += B * sizeof(uint32_t);
  if (insert) {
    sc->newrows = (uint32_t *)m; m += B * sizeof(uint32_t);
    sc->prov_row = (uint32_t *)m; m += B * sizeof(uint32_t);
    sc->final = (uint32_t *)m; m += B * sizeof(uint32_t);
  }
  sc->eq = (uint8_t *)m;
}

static tide_status ks_scratch_init(ks_scratch_t *sc, size_t nkeys, const tide_type_t *types,
                                   bool insert) {
  char *m = tide_malloc(ks_scratch_bytes(KS_BLOCK, nkeys, types, insert));
  if (!m) return TIDE_ERR_NOMEM;
  ks_scratch_layout(sc, m, KS_BLOCK, nkeys, types, insert);
  sc->mem = m;
  return TIDE_OK;
}

static void ks_scratch_free(ks_scratch_t *sc) { tide_free(sc->mem); }

/* Compare candidates: eq[j] = key of input row cmp[j] equals group cand[j].
 * Groups >= base are provisional: their key is input row prov_row[g-base]. */
static void ks_compare(const tide_keyset_t *ks, const void *const *cols, ks_str_t *const *inlens,
                       uint32_t ncmp, const uint32_t *restrict cmp, const uint32_t *restrict cand,
                       uint32_t base, const uint32_t *restrict prov_row, uint8_t *restrict eq) {
  for (uint32_t j = 0; j < ncmp; j++) eq[j] = 1;
  for (size_t k = 0; k < ks->nkeys; k++) {
    switch (ks->types[k]) {
#define KS_CMP_INT(E, ctype)                                               \
  case TIDE_##E: {                                                         \
    const ctype *restrict in = (const ctype *)cols[k];                     \
    const ctype *restrict st = (const ctype *)ks->keys[k];                 \
    for (uint32_t j = 0; j < ncmp; j++) {                                  \
      uint32_t g = cand[j];                                                \
      ctype other = g < base ? st[g] : in[prov_row[g - base]];             \
      eq[j] &= (uint8_t)(in[cmp[j]] == other);                             \
    }                                                                      \
    break;                                                                 \
  }
      KS_INT_TYPES(KS_CMP_INT)
#undef KS_CMP_INT
#define KS_CMP_FLT(E, ctype, bitsfn)                                       \
  case TIDE_##E: {                                                         \
    const ctype *restrict in = (const ctype *)cols[k];                     \
    const ctype *restrict st = (const ctype *)ks->keys[k];                 \
    for (uint32_t j = 0; j < ncmp; j++) {                                  \
      uint32_t g = cand[j];                                                \
      ctype other = g < base ? st[g] : in[prov_row[g - base]];             \
      eq[j] &= (uint8_t)(bitsfn(in[cmp[j]]) == bitsfn(other));             \
    }                                                                      \
    break;                                                                 \
  }
      KS_CMP_FLT(F32, float, ks_bits_f32)
      KS_CMP_FLT(F64, double, ks_bits_f64)
#undef KS_CMP_FLT
      case TIDE_STRING: {
        const char *const *in = (const char *const *)cols[k];
        const char *const *st = (const char *const *)ks->keys[k];
        const ks_str_t *stl = ks->lens[k];
        const ks_str_t *inl = inlens[k];
        for (uint32_t j = 0; j < ncmp; j++) {
          uint32_t g = cand[j];
          uint32_t r = cmp[j];
          ks_str_t x = inl[r], y;
          const char *ys;
          if (g < base) {
            y = stl[g];
            ys = st[g];
          } else {
            uint32_t r2 = prov_row[g - base];
            y = inl[r2];
            ys = in[r2];
          }
          uint32_t len = (uint32_t)x.a;
          bool same = x.a == y.a && x.b == y.b;
          if (same && len > KS_INLINE && len != KS_NULL_LEN)
            same = memcmp(in[r] + KS_INLINE, ys + KS_INLINE, len - KS_INLINE) == 0;
          eq[j] &= (uint8_t)same;
        }
        break;
      }
      default:
        assert(!"keyset: bad key type");
        break;
    }
  }
}

/* Probe the pending rows sel[0..nsel) from their positions: rows reaching
 * an empty slot go to newrows (or get ABSENT when newrows is NULL), rows
 * reaching a slot with their tag become candidates. */
static void ks_probe(const tide_keyset_t *ks, const uint32_t *restrict sel, uint32_t nsel,
                     const uint64_t *restrict hash, uint64_t *restrict pos, uint32_t *restrict cmp,
                     uint32_t *restrict cand, uint32_t *ncmp_out, uint32_t *restrict newrows,
                     uint32_t *nnew_out, uint32_t *restrict ids) {
  const uint64_t *restrict slots = ks->slots;
  const uint64_t mask = ks->mask;
  /* the first key column's stored values, prefetched for the compare */
  const char *key0 = NULL;
  size_t w0 = 0;
  if (ks->nkeys && ks->types[0] == TIDE_STRING) {
    key0 = (const char *)ks->lens[0];
    w0 = sizeof(ks_str_t);
  } else if (ks->nkeys) {
    key0 = (const char *)ks->keys[0];
    w0 = tide_type_width(ks->types[0]);
  }
  uint32_t ncmp = 0, nnew = 0;
  for (uint32_t j = 0; j < nsel; j++) {
    if (j + KS_PREFETCH < nsel) __builtin_prefetch(&slots[pos[sel[j + KS_PREFETCH]]]);
    uint32_t r = sel[j];
    uint64_t p = pos[r];
    const uint64_t tag = hash[r] >> 32;
    for (;;) {
      uint64_t s = slots[p];
      if (s == KS_EMPTY) {
        if (newrows)
          newrows[nnew++] = r;
        else
          ids[r] = TIDE_KEYSET_ABSENT;
        break;
      }
      if ((s >> 32) == tag) {
        uint32_t g = (uint32_t)s;
        cmp[ncmp] = r;
        cand[ncmp] = g;
        ncmp++;
        if (key0 && g < ks->size) __builtin_prefetch(key0 + (size_t)g * w0);
        break;
      }
      p = (p + 1) & mask;
    }
    pos[r] = p;
  }
  *ncmp_out = ncmp;
  *nnew_out = nnew;
}

/* Copy the keys of the new groups (input rows rows[0..m), in final id
 * order) to ids base.. and the strings into the arena (reserved). */
static void ks_copy_keys(tide_keyset_t *ks, const void *const *cols, ks_str_t *const *inlens,
                         const uint32_t *restrict rows, uint32_t m, uint32_t base) {
  for (size_t k = 0; k < ks->nkeys; k++) {
    switch (ks->types[k]) {
#define KS_COPY_INT(E, ctype)                                   \
  case TIDE_##E: {                                              \
    const ctype *restrict in = (const ctype *)cols[k];          \
    ctype *restrict st = (ctype *)ks->keys[k] + base;           \
    for (uint32_t q = 0; q < m; q++) st[q] = in[rows[q]];       \
    break;                                                      \
  }
      KS_INT_TYPES(KS_COPY_INT)
      KS_COPY_INT(F32, float)
      KS_COPY_INT(F64, double)
#undef KS_COPY_INT
      case TIDE_STRING: {
        const char *const *in = (const char *const *)cols[k];
        const char **st = (const char **)ks->keys[k] + base;
        ks_str_t *stl = ks->lens[k] + base;
        const ks_str_t *inl = inlens[k];
        for (uint32_t q = 0; q < m; q++) {
          uint32_t r = rows[q];
          const char *s = in[r];
          stl[q] = inl[r];
          if (!s) {
            st[q] = NULL;
            continue;
          }
          size_t len = strlen(s);
          char *dst = ks->arena_ptr;
          memcpy(dst, s, len);
          dst[len] = '\0';
          ks->arena_ptr += len + 1;
          ks->arena_left -= len + 1;
          st[q] = dst;
        }
        break;
      }
      default:
        assert(!"keyset: bad key type");
        break;
    }
  }
}

static tide_status ks_insert_block(tide_keyset_t *ks, ks_scratch_t *sc, const void *const *cols,
                                   uint32_t n, uint32_t *restrict ids) {
  TIDE_TRY(ks_reserve(ks, n));
  uint64_t *restrict hash = sc->hash;
  uint64_t *restrict pos = sc->pos;
  ks_hash_block(ks->nkeys, ks->types, cols, n, hash, sc->lens);
  const uint64_t mask = ks->mask;
  for (uint32_t i = 0; i < n; i++) {
    pos[i] = hash[i] & mask;
    sc->sel[i] = i;
    __builtin_prefetch(&ks->slots[pos[i]]);
  }
  const uint32_t base = ks->size;
  uint32_t nprov = 0;
  uint32_t *sel = sc->sel, *rem = sc->rem;
  uint32_t nsel = n;
  while (nsel) {
    uint32_t ncmp, nnew;
    ks_probe(ks, sel, nsel, hash, pos, sc->cmp, sc->cand, &ncmp, sc->newrows, &nnew, ids);
    ks_compare(ks, cols, sc->lens, ncmp, sc->cmp, sc->cand, base, sc->prov_row, sc->eq);
    uint32_t nrem = 0;
    for (uint32_t j = 0; j < ncmp; j++) {
      uint32_t r = sc->cmp[j];
      if (sc->eq[j]) {
        ids[r] = sc->cand[j];
      } else {
        pos[r] = (pos[r] + 1) & mask;
        rem[nrem++] = r;
      }
    }
    uint64_t *restrict slots = ks->slots;
    for (uint32_t j = 0; j < nnew; j++) {
      uint32_t r = sc->newrows[j];
      uint64_t p = pos[r];
      if (slots[p] == KS_EMPTY) {
        uint32_t g = base + nprov;
        slots[p] = (hash[r] & 0xffffffff00000000ULL) | g;
        sc->prov_row[nprov] = r;
        sc->prov_slot[nprov] = p;
        nprov++;
        ids[r] = g;
      } else {
        rem[nrem++] = r; /* lost the slot to an earlier row: look again */
      }
    }
    uint32_t *t = sel;
    sel = rem;
    rem = t;
    nsel = nrem;
  }
  if (nprov == 0) return TIDE_OK;

  /* Strings of the new groups must fit in the arena before we commit. */
  if (ks->nstr) {
    size_t bytes = 0;
    for (size_t k = 0; k < ks->nkeys; k++) {
      if (ks->types[k] != TIDE_STRING) continue;
      const char *const *in = (const char *const *)cols[k];
      for (uint32_t q = 0; q < nprov; q++) {
        uint32_t r = sc->prov_row[q];
        if (in[r]) bytes += strlen(in[r]) + 1;
      }
    }
    if (ks_arena_reserve(ks, bytes) != TIDE_OK) {
      for (uint32_t q = 0; q < nprov; q++) ks->slots[sc->prov_slot[q]] = KS_EMPTY;
      return TIDE_ERR_NOMEM;
    }
  }

  /* Final ids in order of the claiming rows. */
  bool sorted = true;
  for (uint32_t q = 1; q < nprov; q++) {
    if (sc->prov_row[q] < sc->prov_row[q - 1]) {
      sorted = false;
      break;
    }
  }
  uint32_t *rows = sc->prov_row;
  if (!sorted) {
    /* order by claiming row: mark each row with its provisional group
     * (cmp is free now), then scan the rows in order */
    uint32_t *restrict mark = sc->cmp;
    memset(mark, 0, n * sizeof *mark);
    for (uint32_t q = 0; q < nprov; q++) mark[sc->prov_row[q]] = q + 1;
    rows = rem; /* rows in final order */
    uint32_t rank = 0;
    for (uint32_t r = 0; r < n; r++) {
      if (mark[r]) {
        sc->final[mark[r] - 1] = base + rank;
        rows[rank++] = r;
      }
    }
    for (uint32_t i = 0; i < n; i++)
      if (ids[i] >= base) ids[i] = sc->final[ids[i] - base];
    for (uint32_t q = 0; q < nprov; q++) {
      uint64_t p = sc->prov_slot[q];
      ks->slots[p] = (ks->slots[p] & 0xffffffff00000000ULL) | sc->final[q];
    }
  }
  for (uint32_t q = 0; q < nprov; q++) ks->hashes[base + q] = hash[rows[q]];
  ks_copy_keys(ks, cols, sc->lens, rows, nprov, base);
  ks->size = base + nprov;
  return TIDE_OK;
}

static void ks_offset_cols(size_t nkeys, const tide_type_t *types, const void *const *keycols,
                           uint32_t start, const void **out) {
  for (size_t k = 0; k < nkeys; k++)
    out[k] = (const char *)keycols[k] + (size_t)start * tide_type_width(types[k]);
}

/* ------------------------------------------------------------ dense sets */

#define KS_HUGE ((size_t)2 << 20)
void *tide__table_mem_alloc(size_t bytes) {
  if (bytes < KS_HUGE) return tide_aligned_malloc(64, bytes ? bytes : 1);
  size_t sz = (bytes + KS_HUGE - 1) & ~(KS_HUGE - 1);
  void *p = tide_aligned_malloc(KS_HUGE, sz);
#ifdef MADV_HUGEPAGE
  if (p) (void)madvise(p, sz, MADV_HUGEPAGE); /* advice only */
#endif
  return p;
}

void tide__table_mem_free(void *p) { tide_aligned_free(p); }

void tide__table_mem_advise(void *p, size_t bytes) {
#ifdef MADV_HUGEPAGE
  if (!p || bytes < 2 * KS_HUGE) return;
  uintptr_t a = ((uintptr_t)p + KS_HUGE - 1) & ~(uintptr_t)(KS_HUGE - 1);
  uintptr_t e = ((uintptr_t)p + bytes) & ~(uintptr_t)(KS_HUGE - 1);
  if (e > a) (void)madvise((void *)a, e - a, MADV_HUGEPAGE); /* advice only */
#else
  (void)p;
  (void)bytes;
#endif
}

static bool ks_dense_type(tide_type_t t, int64_t *null_out) {
  switch (t) {
    case TIDE_BOOL:
    case TIDE_I8: *null_out = INT8_MIN; return true;
    case TIDE_I16: *null_out = INT16_MIN; return true;
    case TIDE_I32: *null_out = INT32_MIN; return true;
    case TIDE_I64:
    case TIDE_TS: *null_out = INT64_MIN; return true;
    case TIDE_SYMBOL: *null_out = TIDE_NULL_SYMBOL; return true;
    default: return false;
  }
}

tide_keyset_t *tide__keyset_create_dense(tide_type_t type, int64_t lo, uint64_t span,
                                         tide_error *err) {
  int64_t nul;
  if (!ks_type_ok(type) || !ks_dense_type(type, &nul)) {
    tide_error_set(err, TIDE_ERR_TYPE, "keyset: a dense key set needs an integer key, not %s",
                   tide_type_name(type));
    return NULL;
  }
  if (span > TIDE_KEYSET_DENSE_MAX_SPAN) {
    tide_error_set(err, TIDE_ERR_RANGE, "keyset: dense key range of %llu values is too large",
                   (unsigned long long)span);
    return NULL;
  }
  tide_keyset_t *ks = tide_calloc(1, sizeof *ks);
  if (!ks) goto oom;
  ks->nkeys = 1;
  ks->types = tide_malloc(sizeof *ks->types);
  ks->keys = tide_calloc(1, sizeof *ks->keys);
  ks->lens = tide_calloc(1, sizeof *ks->lens);
  ks->dslot = tide__table_mem_alloc((size_t)(span + 2) * sizeof *ks->dslot);
  if (!ks->types || !ks->keys || !ks->lens || !ks->dslot) goto oom;
  ks->types[0] = type;
  memset(ks->dslot, 0xff, (size_t)(span + 2) * sizeof *ks->dslot);
  ks->dlo = lo;
  ks->dspan = span;
  ks->dnull = nul;
  return ks;
oom:
  tide__keyset_free(ks);
  tide_error_set(err, TIDE_ERR_NOMEM, "keyset: out of memory");
  return NULL;
}

bool tide__keyset_is_dense(const tide_keyset_t *ks) { return ks->dslot != NULL; }

/* Slot offsets of col[0..n) (the set's key type) in a dense set: value -
 * lo, span for null, span + 1 when out of range. Returns the number of
 * out-of-range values. One typed loop per call. */
static uint32_t ks_dense_offsets(const tide_keyset_t *ks, const void *col, size_t n,
                                 uint32_t *restrict out) {
  const uint64_t lo = (uint64_t)ks->dlo, span = ks->dspan;
  const int64_t nul = ks->dnull;
  uint32_t bad = 0;
  switch (ks->types[0]) {
#define KS_DOFF(E, ctype)                                      \
  case TIDE_##E: {                                             \
    const ctype *restrict v = (const ctype *)col;              \
    for (size_t i = 0; i < n; i++) {                           \
      int64_t x = (int64_t)v[i];                               \
      uint64_t off = (uint64_t)x - lo;                         \
      bool in = off < span;                                    \
      off = in ? off : span + 1;                               \
      bool isnull = x == nul;                                  \
      bad += !in & !isnull;                                    \
      out[i] = (uint32_t)(isnull ? span : off);                \
    }                                                          \
    break;                                                     \
  }
    KS_INT_TYPES(KS_DOFF)
#undef KS_DOFF
    default: assert(!"keyset: dense set of a non-integer type"); break;
  }
  return bad;
}

const uint32_t *tide__keyset_dense_slots(const tide_keyset_t *ks, int64_t *lo, uint64_t *span) {
  if (!ks->dslot) return NULL;
  *lo = ks->dlo;
  *span = ks->dspan;
  return ks->dslot;
}

void tide__keyset_dense_offsets(const tide_keyset_t *ks, const void *col, uint32_t n,
                                uint32_t *off) {
  assert(ks->dslot);
  ks_dense_offsets(ks, col, n, off);
}

/* Leave dense mode: hash the stored keys, build the slot array. The set is
 * unchanged on failure. */
static tide_status ks_undense(tide_keyset_t *ks) {
  uint64_t *h = tide_malloc((ks->cap ? ks->cap : 1) * sizeof *h);
  if (!h) return TIDE_ERR_NOMEM;
  size_t w = tide_type_width(ks->types[0]);
  for (uint32_t start = 0; start < ks->size; start += KS_BLOCK) {
    uint32_t m = TIDE_MIN((uint32_t)KS_BLOCK, ks->size - start);
    const void *c = (const char *)ks->keys[0] + (size_t)start * w;
    ks_hash_block(1, ks->types, &c, m, h + start, NULL);
  }
  uint64_t *old_slots = ks->slots;
  uint64_t old_mask = ks->mask;
  ks->hashes = h;
  tide_status st = ks_resize_slots(ks, ks_pow2_at_least((uint64_t)ks->size * 2));
  if (st != TIDE_OK) {
    ks->hashes = NULL;
    ks->slots = old_slots;
    ks->mask = old_mask;
    tide_free(h);
    return st;
  }
  tide__table_mem_free(ks->dslot);
  ks->dslot = NULL;
  return TIDE_OK;
}

/* Dense insert of one block (n <= KS_BLOCK, every value in range or null). */
static tide_status ks_dense_insert_block(tide_keyset_t *ks, ks_scratch_t *sc, const void *col,
                                         uint32_t n, uint32_t *restrict ids) {
  TIDE_TRY(ks_reserve(ks, n));
  uint32_t *restrict ds = ks->dslot;
  uint32_t *restrict rows = sc->newrows;
  const uint32_t base = ks->size;
  uint32_t g = base, m = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t o = ids[i], id = ds[o];
    if (id == TIDE_KEYSET_ABSENT) {
      id = ds[o] = g++;
      rows[m++] = i;
    }
    ids[i] = id;
  }
  ks_copy_keys(ks, &col, NULL, rows, m, base);
  ks->size = g;
  return TIDE_OK;
}

tide_status tide__keyset_insert(tide_keyset_t *ks, const void *const *keycols, uint32_t n,
                                uint32_t *ids) {
  if (n == 0) return TIDE_OK;
  if (ks->nkeys == 0) {
    /* No key columns: every row is the one empty tuple, group 0. */
    if (ks->size == 0) {
      TIDE_TRY(ks_reserve(ks, 1));
      ks->hashes[0] = KS_SEED;
      ks->size = 1;
    }
    for (uint32_t i = 0; i < n; i++) ids[i] = 0;
    return TIDE_OK;
  }
  if (!ks->ins_scratch) {
    ks->ins_scratch = tide_malloc(ks_scratch_bytes(KS_BLOCK, ks->nkeys, ks->types, true));
    if (!ks->ins_scratch) return TIDE_ERR_NOMEM;
  }
  ks_scratch_t sc;
  ks_scratch_layout(&sc, ks->ins_scratch, KS_BLOCK, ks->nkeys, ks->types, true);
  if (ks->dslot) {
    size_t w = tide_type_width(ks->types[0]);
    uint32_t start = 0;
    for (; start < n && ks->dslot; start += KS_BLOCK) {
      uint32_t m = TIDE_MIN((uint32_t)KS_BLOCK, n - start);
      const void *c = (const char *)keycols[0] + (size_t)start * w;
      if (ks_dense_offsets(ks, c, m, ids + start)) {
        TIDE_TRY(ks_undense(ks)); /* an out-of-range value: hash from now on */
        break;
      }
      TIDE_TRY(ks_dense_insert_block(ks, &sc, c, m, ids + start));
    }
    if (start >= n) return TIDE_OK;
    const void *rest = (const char *)keycols[0] + (size_t)start * w;
    return tide__keyset_insert(ks, &rest, n - start, ids + start);
  }
  const void *colsbuf[16];
  const void **cols = ks->nkeys <= 16 ? colsbuf : tide_malloc(ks->nkeys * sizeof *cols);
  tide_status st = TIDE_OK;
  if (!cols) {
    st = TIDE_ERR_NOMEM;
  } else {
    for (uint32_t start = 0; start < n && st == TIDE_OK; start += KS_BLOCK) {
      uint32_t m = TIDE_MIN((uint32_t)KS_BLOCK, n - start);
      ks_offset_cols(ks->nkeys, ks->types, keycols, start, cols);
      st = ks_insert_block(ks, &sc, cols, m, ids + start);
    }
  }
  if (cols && cols != colsbuf) tide_free(cols);
  return st;
}

static void ks_find_block(const tide_keyset_t *ks, ks_scratch_t *sc, const void *const *cols,
                          uint32_t n, uint32_t *restrict ids) {
  uint64_t *restrict hash = sc->hash;
  uint64_t *restrict pos = sc->pos;
  ks_hash_block(ks->nkeys, ks->types, cols, n, hash, sc->lens);
  const uint64_t mask = ks->mask;
  for (uint32_t i = 0; i < n; i++) {
    pos[i] = hash[i] & mask;
    sc->sel[i] = i;
    __builtin_prefetch(&ks->slots[pos[i]]);
  }
  uint32_t *sel = sc->sel, *rem = sc->rem;
  uint32_t nsel = n;
  while (nsel) {
    uint32_t ncmp, nnew;
    ks_probe(ks, sel, nsel, hash, pos, sc->cmp, sc->cand, &ncmp, NULL, &nnew, ids);
    ks_compare(ks, cols, sc->lens, ncmp, sc->cmp, sc->cand, ks->size, NULL, sc->eq);
    uint32_t nrem = 0;
    for (uint32_t j = 0; j < ncmp; j++) {
      uint32_t r = sc->cmp[j];
      if (sc->eq[j]) {
        ids[r] = sc->cand[j];
      } else {
        pos[r] = (pos[r] + 1) & mask;
        rem[nrem++] = r;
      }
    }
    uint32_t *t = sel;
    sel = rem;
    rem = t;
    nsel = nrem;
  }
}

void tide__keyset_find(const tide_keyset_t *ks, const void *const *keycols, uint32_t n,
                       uint32_t *ids) {
  if (n == 0) return;
  if (ks->nkeys == 0 || ks->size == 0) {
    uint32_t v = (ks->nkeys == 0 && ks->size) ? 0 : TIDE_KEYSET_ABSENT;
    for (uint32_t i = 0; i < n; i++) ids[i] = v;
    return;
  }
  if (ks->dslot) { /* direct addressing: offsets, then one read each */
    ks_dense_offsets(ks, keycols[0], n, ids);
    const uint32_t *restrict ds = ks->dslot;
    for (uint32_t i = 0; i < n; i++) ids[i] = ds[ids[i]];
    return;
  }
  ks_scratch_t sc;
  uint32_t block = KS_BLOCK;
  /* This API cannot fail: when out of memory, probe one row at a time with
   * scratch on the stack. */
  const size_t small_words = (ks_scratch_bytes(1, ks->nkeys, ks->types, false) + 7) / 8;
  uint64_t small[small_words + ks->nkeys];
  const void *colsbuf[16];
  const void **cols = colsbuf;
  bool heap_cols = false;
  if (ks->nkeys > 16) {
    cols = tide_malloc(ks->nkeys * sizeof *cols);
    heap_cols = cols != NULL;
    if (!cols) cols = (const void **)(small + small_words);
  }
  if (ks_scratch_init(&sc, ks->nkeys, ks->types, false) != TIDE_OK) {
    block = 1;
    ks_scratch_layout(&sc, (char *)small, 1, ks->nkeys, ks->types, false);
  }
  for (uint32_t start = 0; start < n; start += block) {
    uint32_t m = TIDE_MIN(block, n - start);
    ks_offset_cols(ks->nkeys, ks->types, keycols, start, cols);
    ks_find_block(ks, &sc, cols, m, ids + start);
  }
  if (heap_cols) tide_free(cols);
  if (block != 1) ks_scratch_free(&sc);
}

/* Parallel bulk insert into an empty dense set (every value in range):
 *   A. each thread's block: slot offsets into ids, and the least position
 *      of every slot by atomic min (dslot holds positions meanwhile);
 *   B. first[p] = (p is its slot's least position); count per block;
 *   C. first rows get ids in position order (block base + rank) into dslot
 *      and their keys into the key array;
 *   D. ids[p] = dslot[offset of p].
 * The result is the serial insert's, for any thread count. */
#define KS_PAR_MIN (1u << 16)
tide_status tide__keyset_insert_all(tide_keyset_t *ks, const void *col, uint64_t n, uint32_t *ids,
                                    int nthreads) {
  if (ks->size != 0 || n >= (uint64_t)UINT32_MAX - 1) return TIDE_ERR_INVALID;
  if (n == 0) return TIDE_OK;
  int nt = nthreads < 1 ? 1 : nthreads;
  if (nt > 64) nt = 64;
  if ((uint64_t)nt > n / KS_PAR_MIN) nt = (int)(n / KS_PAR_MIN);
  if (!ks->dslot || nt <= 1) return tide__keyset_insert(ks, &col, (uint32_t)n, ids);
  uint8_t *first = tide_malloc((size_t)n);
  if (!first) return TIDE_ERR_NOMEM;
  tide_status st = ks_reserve(ks, (uint32_t)n);
  if (st != TIDE_OK) {
    tide_free(first);
    return st;
  }
  const size_t w = tide_type_width(ks->types[0]);
  uint32_t *ds = ks->dslot;
  uint64_t bad = 0, total = 0, cnt[64];
  void *keys = ks->keys[0];
  const tide_type_t type = ks->types[0];
#pragma omp parallel num_threads(nt)
  {
    int b = omp_get_thread_num(), B = omp_get_num_threads();
    uint64_t lo = n * (uint64_t)b / (uint64_t)B, hi = n * (uint64_t)(b + 1) / (uint64_t)B;
    uint32_t *restrict o = ids;
    uint64_t mybad = 0;
    for (uint64_t s0 = lo; s0 < hi; s0 += KS_BLOCK) {
      uint64_t m = TIDE_MIN((uint64_t)KS_BLOCK, hi - s0);
      mybad += ks_dense_offsets(ks, (const char *)col + s0 * w, m, o + s0);
    }
    for (uint64_t p = lo; p < hi && !mybad; p++) {
      uint32_t *slot = &ds[o[p]];
      uint32_t cur = __atomic_load_n(slot, __ATOMIC_RELAXED);
      while ((uint32_t)p < cur &&
             !__atomic_compare_exchange_n(slot, &cur, (uint32_t)p, true, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED)) {
      }
    }
    if (mybad) {
#pragma omp atomic
      bad += mybad;
    }
#pragma omp barrier
    if (!bad) {
      uint64_t c = 0;
      for (uint64_t p = lo; p < hi; p++) {
        uint8_t f = ds[o[p]] == (uint32_t)p;
        first[p] = f;
        c += f;
      }
      cnt[b] = c;
    }
#pragma omp barrier
#pragma omp single
    {
      uint64_t sum = 0;
      for (int q = 0; q < B && !bad; q++) {
        uint64_t c = cnt[q];
        cnt[q] = sum;
        sum += c;
      }
      total = sum;
    }
    if (!bad) {
      uint32_t g = (uint32_t)cnt[b];
      switch (type) {
#define KS_DFIRST(E, ctype)                                    \
  case TIDE_##E: {                                             \
    const ctype *restrict v = (const ctype *)col;              \
    ctype *restrict kst = (ctype *)keys;                       \
    for (uint64_t p = lo; p < hi; p++) {                       \
      if (!first[p]) continue;                                 \
      ds[o[p]] = g;                                            \
      kst[g++] = v[p];                                         \
    }                                                          \
    break;                                                     \
  }
        KS_INT_TYPES(KS_DFIRST)
#undef KS_DFIRST
        default: break;
      }
    }
#pragma omp barrier
    if (!bad)
      for (uint64_t p = lo; p < hi; p++) o[p] = ds[o[p]];
  }
  tide_free(first);
  if (bad) { /* a value outside the range: serially, converting the set */
    memset(ds, 0xff, (size_t)(ks->dspan + 2) * sizeof *ds);
    return tide__keyset_insert(ks, &col, (uint32_t)n, ids);
  }
  ks->size = (uint32_t)total;
  return TIDE_OK;
}

/* ------------------------------------------------------------ symbols */

int32_t *tide__symtab_translate(const tide_symtab_t *from, const tide_symtab_t *to,
                                tide_error *err) {
  uint32_t n = from ? tide_symtab_size(from) : 0;
  int32_t *map = tide_malloc((n ? n : 1) * sizeof *map);
  if (!map) {
    tide_error_set(err, TIDE_ERR_NOMEM, "symbol translation: out of memory");
    return NULL;
  }
  if (from == to) {
    for (uint32_t c = 0; c < n; c++) map[c] = (int32_t)c;
    return map;
  }
  for (uint32_t c = 0; c < n; c++) {
    const char *s = tide_symtab_str(from, (int32_t)c);
    int32_t code = (s && to) ? tide_symtab_find(to, s, strlen(s)) : -1;
    map[c] = code >= 0 ? code : -2;
  }
  return map;
}
