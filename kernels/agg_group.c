/*
 * Grouping of table rows into dense group ids in order of first appearance
 * (kernels/agg.h): direct maps for a single SYMBOL column or a single
 * small-range integer column, the columnar hash table otherwise.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "kernels/agg.h"
#include "kernels/hash.h"
#include "kernels/radix.h"

#define GRP_NONE UINT32_MAX
/* A direct map is used when the key range is at most this many values, or
 * at most twice the row count (whichever is larger, capped at 2^23). */
#define GRP_DIRECT_MIN (1u << 16)
#define GRP_DIRECT_MAX (1u << 23)
/* Parallel direct grouping keeps a first-position array of the map's size
 * per thread: at most this many entries in all. */
#define GRP_PAR_MAP_MAX (1u << 24)

/* Integer-like key types for the direct path: X(ENUM, ctype, NULL). */
#define GRP_INT_TYPES(X)                                  \
  X(BOOL, int8_t, TIDE_NULL_BOOL, INT8_MAX)               \
  X(I8, int8_t, TIDE_NULL_I8, INT8_MAX)                   \
  X(I16, int16_t, TIDE_NULL_I16, INT16_MAX)               \
  X(I32, int32_t, TIDE_NULL_I32, INT32_MAX)               \
  X(I64, int64_t, TIDE_NULL_I64, INT64_MAX)               \
  X(TS, int64_t, TIDE_NULL_TS, INT64_MAX)                 \
  X(SYMBOL, int32_t, TIDE_NULL_SYMBOL, INT32_MAX)

void tide__groups_destroy(tide_groups_t *g) {
  if (!g) return;
  tide_free(g->ids);
  tide_free(g->first_key);
  memset(g, 0, sizeof *g);
}

/* Non-null min and max of an integer-like column over rs; false if every
 * value is null (or there are no rows). Vectorizable: compiled for AVX2 too
 * (64-bit min/max by compares), as tide__direct_slots below. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) && \
    !defined(__SANITIZE_THREAD__)
__attribute__((target_clones("avx2", "default")))
#endif
static bool grp_int_range_pos(const tide_rowset_t *rs, uint64_t pos, uint64_t count,
                              const tide_source_t *src, int64_t *minp, int64_t *maxp, void *buf,
                              uint64_t *keybuf) {
  int64_t mn = INT64_MAX, mx = INT64_MIN;
  bool any = false;
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init_pos(&it, rs, pos, count);
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, keybuf)) {
    const void *vals = tide__source_get(src, &seq, buf);
    switch (src->type) {
#define GRP_RANGE(E, ctype, NUL, MAXV)                   \
  case TIDE_##E: {                                       \
    const ctype *restrict v = (const ctype *)vals;       \
    ctype cmn = MAXV, cmx = NUL;                         \
    /* null is the smallest value: it never raises max, \
     * and max stays null only when every value is; for  \
     * min a null reads as MAXV (by xor: vectorizes) */  \
    for (uint32_t i = 0, n = seq.n; i < n; i++) {        \
      ctype x = v[i];                                    \
      ctype msk = (ctype)((ctype)0 - (ctype)(x == NUL)); \
      ctype y = (ctype)(x ^ (msk & (ctype)(NUL ^ MAXV)));\
      cmx = x > cmx ? x : cmx;                           \
      cmn = y < cmn ? y : cmn;                           \
    }                                                    \
    if (cmx != NUL) {                                    \
      any = true;                                        \
      if ((int64_t)cmn < mn) mn = (int64_t)cmn;          \
      if ((int64_t)cmx > mx) mx = (int64_t)cmx;          \
    }                                                    \
    break;                                               \
  }
      GRP_INT_TYPES(GRP_RANGE)
#undef GRP_RANGE
      default:
        return false;
    }
  }
  *minp = mn;
  *maxp = mx;
  return any;
}

/* Direct-map slots of a chunk of rows: the mixed-radix number of the
 * per-column offsets (value - min + 1; 0 for null). */
static void grp_slots(size_t nby, tide_source_t *const *by, const int64_t *mins,
                      const uint64_t *cards, const tide_rowseq_t *seq, void *buf,
                      uint64_t *restrict sl) {
  const uint32_t n = seq->n;
  for (size_t k = 0; k < nby; k++) {
    const void *vals = tide__source_get(by[k], seq, buf);
    const uint64_t minv = (uint64_t)mins[k];
    const uint64_t card = cards[k];
    switch (by[k]->type) {
#define GRP_SLOT_BODY(E, ctype, NUL, MAXV)                                       \
  case TIDE_##E: {                                                               \
    const ctype *restrict v = (const ctype *)vals;                               \
    if (k == 0) {                                                                \
      for (uint32_t i = 0; i < n; i++) {                                         \
        ctype x = v[i];                                                          \
        sl[i] = x == NUL ? 0 : (uint64_t)(int64_t)x - minv + 1;                  \
      }                                                                          \
    } else {                                                                     \
      for (uint32_t i = 0; i < n; i++) {                                         \
        ctype x = v[i];                                                          \
        sl[i] = sl[i] * card + (x == NUL ? 0 : (uint64_t)(int64_t)x - minv + 1); \
      }                                                                          \
    }                                                                            \
    break;                                                                       \
  }
      GRP_INT_TYPES(GRP_SLOT_BODY)
#undef GRP_SLOT_BODY
      default:
        assert(!"grouping: bad direct type");
        break;
    }
  }
}

/* Parallel direct-map grouping (same ids as the sequential loop):
 *  1. each thread computes the slots of its morsels into ids and the least
 *     position of each slot it saw (thread-local array);
 *  2. the least position of each slot over all threads orders the groups
 *     by first appearance: group ids are ranks of those positions;
 *  3. every row's slot is replaced by its group id.
 * Returns TIDE_ERR_NOMEM (nothing set) when scratch cannot be allocated;
 * the caller then uses the sequential loop. */
static tide_status grp_direct_parallel(const tide_rowset_t *rs, size_t nby,
                                       tide_source_t *const *by, const int64_t *mins,
                                       const uint64_t *cards, uint64_t mapsize, int nt,
                                       tide_groups_t *g) {
  const uint64_t nrows = g->nrows;
  const uint64_t nmorsels = (nrows + TIDE_MORSEL_ROWS - 1) / TIDE_MORSEL_ROWS;
  uint64_t *lfirst = tide_malloc((size_t)nt * mapsize * sizeof *lfirst);
  uint32_t *map = tide_malloc(mapsize * sizeof *map);
  tide_morsels_t ms = {0};
  bool oom = !lfirst || !map || tide__morsels_init(&ms, nmorsels, nt, NULL) != TIDE_OK;
  if (!oom) {
#pragma omp parallel num_threads(nt)
    {
      const int tid = omp_get_thread_num();
      uint64_t *restrict lf = lfirst + (size_t)tid * mapsize;
      memset(lf, 0xff, mapsize * sizeof *lf);
      uint64_t *keybuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *keybuf);
      uint64_t *sl = tide_malloc(TIDE_CHUNK_SIZE * sizeof *sl);
      void *buf = tide_malloc(TIDE_CHUNK_SIZE * 8);
      if (!keybuf || !sl || !buf) {
#pragma omp atomic write
        oom = true;
      }
      /* NUMA-aware: own block first (numa/morsel.c) */
      for (uint64_t m; keybuf && sl && buf && tide__morsels_next(&ms, tid, &m);) {
        tide_rowset_iter_t it;
        tide_rowseq_t seq;
        tide_rowset_iter_init_pos(&it, rs, m * TIDE_MORSEL_ROWS, TIDE_MORSEL_ROWS);
        while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, keybuf)) {
          grp_slots(nby, by, mins, cards, &seq, buf, sl);
          uint32_t *restrict cid = g->ids + seq.pos;
          for (uint32_t i = 0; i < seq.n; i++) {
            uint64_t p = seq.pos + i;
            cid[i] = (uint32_t)sl[i];
            lf[sl[i]] = lf[sl[i]] < p ? lf[sl[i]] : p;
          }
        }
      }
      tide_free(keybuf);
      tide_free(sl);
      tide_free(buf);
    }
  }
  tide__morsels_free(&ms);
  if (oom) {
    tide_free(lfirst);
    tide_free(map);
    return TIDE_ERR_NOMEM;
  }
  /* least position per slot (into thread 0's array) and the groups */
  uint64_t ng = 0;
  for (uint64_t sidx = 0; sidx < mapsize; sidx++) {
    uint64_t p = lfirst[sidx];
    for (int t = 1; t < nt; t++) {
      uint64_t q = lfirst[(size_t)t * mapsize + sidx];
      p = q < p ? q : p;
    }
    lfirst[sidx] = p;
    ng += p != UINT64_MAX;
  }
  /* groups in order of first position (radix: up to 65536 * 16 slots) */
  uint64_t *fpos = tide_malloc((ng ? ng : 1) * sizeof *fpos);
  uint64_t *fslot = tide_malloc((ng ? ng : 1) * sizeof *fslot);
  g->first_key = tide_malloc((ng ? ng : 1) * sizeof *g->first_key);
  if (!fpos || !fslot || !g->first_key) goto oom_sort;
  uint64_t q = 0;
  for (uint64_t sidx = 0; sidx < mapsize; sidx++) {
    if (lfirst[sidx] == UINT64_MAX) continue;
    fpos[q] = lfirst[sidx];
    fslot[q++] = sidx;
  }
  if (tide__radix_sort(fpos, fslot, ng, NULL) != TIDE_OK) goto oom_sort;
  for (uint64_t r = 0; r < ng; r++) {
    map[fslot[r]] = (uint32_t)r;
    g->first_key[r] = tide_rowset_key_at(rs, fpos[r]);
  }
  tide_free(fpos);
  tide_free(fslot);
  uint32_t *restrict ids = g->ids;
  const int64_t nr = (int64_t)nrows;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t i = 0; i < nr; i++) ids[i] = map[ids[i]];
  g->ngroups = (uint32_t)ng;
  tide_free(lfirst);
  tide_free(map);
  return TIDE_OK;
oom_sort:
  tide_free(fpos);
  tide_free(fslot);
  tide_free(lfirst);
  tide_free(map);
  tide_free(g->first_key);
  g->first_key = NULL;
  return TIDE_ERR_NOMEM;
}

/* ------------------------------------------------ parallel hash path */

static tide_status grp_int_range_par(const tide_rowset_t *rs, const tide_source_t *src,
                                     int64_t *minp, int64_t *maxp, bool *anyp);

/* Key packing for hash grouping: the SYMBOL and small-range
 * integer key columns become one int64 key (the mixed-radix number of
 * their direct slots, as grp_slots), so a 6-column key like q10's is
 * hashed, compared and stored as 2 columns. The map from key tuples is
 * one-to-one, so the groups and their order do not change. pidx: the
 * packed columns (np of them, at least 2, or none), mins / cards their
 * slots; ridx: the other columns in order (nr). */
typedef struct grp_pack_t {
  size_t np, nr;
  size_t *pidx, *ridx;
  int64_t *mins;
  uint64_t *cards;
  tide_source_t **pby;
} grp_pack_t;

#define GRP_PACK_MAX (UINT64_C(1) << 62) /* the packed value stays a positive int64 */

static void grp_pack_free(grp_pack_t *p) {
  tide_free(p->pidx);
  tide_free(p->ridx);
  tide_free(p->mins);
  tide_free(p->cards);
  tide_free(p->pby);
  memset(p, 0, sizeof *p);
}

static tide_status grp_pack_plan(const tide_rowset_t *rs, size_t nby, tide_source_t *const *by,
                                 const tide_direct_plan_t *ranges, grp_pack_t *p) {
  memset(p, 0, sizeof *p);
  size_t cand = 0; /* columns that could pack: no range scans for fewer than 2 */
  for (size_t k = 0; k < nby; k++)
    cand += by[k]->type == TIDE_SYMBOL ||
            (by[k]->type != TIDE_STRING && !tide_type_is_floating(by[k]->type));
  p->pidx = tide_malloc(nby * sizeof *p->pidx);
  p->ridx = tide_malloc(nby * sizeof *p->ridx);
  p->mins = tide_malloc(nby * sizeof *p->mins);
  p->cards = tide_malloc(nby * sizeof *p->cards);
  p->pby = tide_malloc(nby * sizeof *p->pby);
  if (!p->pidx || !p->ridx || !p->mins || !p->cards || !p->pby) {
    grp_pack_free(p);
    return TIDE_ERR_NOMEM;
  }
  uint64_t prod = 1;
  for (size_t k = 0; k < nby && cand >= 2; k++) {
    tide_type_t ty = by[k]->type;
    int64_t mn = 0;
    uint64_t card = 0; /* 0: not packable */
    if (ty == TIDE_SYMBOL) {
      if (by[k]->symtab) card = (uint64_t)tide_symtab_size(by[k]->symtab) + 1;
    } else if (ty != TIDE_STRING && !tide_type_is_floating(ty) && ty < TIDE_TYPE_COUNT) {
      int64_t mx;
      bool any;
      if (ranges && ranges->has && ranges->has[k]) {
        any = ranges->has[k] == 2;
        mn = ranges->lo[k];
        mx = ranges->hi[k];
      } else if (grp_int_range_par(rs, by[k], &mn, &mx, &any) != TIDE_OK) {
        grp_pack_free(p);
        return TIDE_ERR_NOMEM;
      }
      if (!any) {
        mn = 0;
        card = 1;
      } else if ((uint64_t)mx - (uint64_t)mn < GRP_PACK_MAX) {
        card = (uint64_t)mx - (uint64_t)mn + 2;
      }
    }
    if (card && card <= GRP_PACK_MAX / prod) {
      prod *= card;
      p->mins[p->np] = mn;
      p->cards[p->np] = card;
      p->pby[p->np] = by[k];
      p->pidx[p->np++] = k;
    } else {
      p->ridx[p->nr++] = k;
    }
  }
  if (cand < 2 || p->np < 2) { /* nothing gained */
    p->np = 0;
    p->nr = nby;
    for (size_t k = 0; k < nby; k++) p->ridx[k] = k;
  }
  return TIDE_OK;
}

/* The key set's columns for a chunk: the packed key (into packed) and the
 * other columns, or every key column as it is. bufs: nby chunk buffers. */
static void grp_key_cols(const grp_pack_t *pk, size_t nby, tide_source_t *const *by,
                         const tide_rowseq_t *seq, char *bufs, uint64_t *packed,
                         const void **cols) {
  if (pk->np) {
    grp_slots(pk->np, pk->pby, pk->mins, pk->cards, seq, bufs, packed);
    cols[0] = packed;
    for (size_t j = 0; j < pk->nr; j++)
      cols[1 + j] = tide__source_get(by[pk->ridx[j]], seq, bufs + (1 + j) * TIDE_CHUNK_SIZE * 8);
  } else {
    for (size_t k = 0; k < nby; k++)
      cols[k] = tide__source_get(by[k], seq, bufs + k * TIDE_CHUNK_SIZE * 8);
  }
}

/* Thread-local pre-grouping of one contiguous range of positions. */
typedef struct grp_local_t {
  tide_keyset_t *ks;
  uint64_t start, count;  /* positions */
  uint64_t nloc;          /* local groups */
  uint64_t *first_pos;    /* local group -> position of its first row */
  uint64_t *first_key;    /* local group -> row key of its first row */
  uint32_t *part;         /* local group -> partition */
  uint32_t *map;          /* local group -> id in its partition, then global id */
  tide_status st;
  /* probe (2 threads): after check_rows rows, give up (every thread, via
   * *abandon) when more than half of them started a group */
  uint64_t check_rows;
  _Atomic bool *abandon;
} grp_local_t;

/* grp_local_run's status when the probe gave up (not an error). */
#define GRP_ABANDONED TIDE_ERR_STATE

/* One partition of the merge: the groups whose hash falls in it. */
typedef struct grp_part_t {
  tide_keyset_t *ks;
  uint64_t *first_pos;    /* partition group -> first position overall */
  uint64_t *first_key;
  uint32_t *gid;          /* partition group -> global id */
  tide_status st;
} grp_part_t;

/* Copy n elements of width w at indices idx of src into dst. */
static void grp_gather(size_t w, const void *src, const uint32_t *idx, uint32_t n, void *dst) {
  switch (w) {
#define GRP_GATHER(W, T)                                          \
  case W: {                                                       \
    const T *restrict sv = (const T *)src;                        \
    T *restrict dv = (T *)dst;                                    \
    for (uint32_t i = 0; i < n; i++) dv[i] = sv[idx[i]];          \
    break;                                                        \
  }
    GRP_GATHER(1, uint8_t)
    GRP_GATHER(2, uint16_t)
    GRP_GATHER(4, uint32_t)
    GRP_GATHER(8, uint64_t)
#undef GRP_GATHER
    default:
      break;
  }
}

static tide_status grp_local_run(grp_local_t *L, const tide_rowset_t *rs, size_t nby,
                                 tide_source_t *const *by, const grp_pack_t *pk, size_t nk,
                                 const tide_type_t *types, uint32_t np, uint32_t *ids) {
  uint64_t *keybuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *keybuf);
  char *bufs = tide_malloc(nby * TIDE_CHUNK_SIZE * 8);
  const void **cols = tide_malloc(nby * sizeof *cols);
  uint64_t *packed = tide_malloc(TIDE_CHUNK_SIZE * sizeof *packed);
  uint64_t *hash = NULL;
  uint64_t fcap = 0;
  tide_status st = TIDE_OK;
  L->ks = tide__keyset_create(nk, types, 0, NULL);
  if (!keybuf || !bufs || !cols || !packed || !L->ks) st = TIDE_ERR_NOMEM;
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init_pos(&it, rs, L->start, L->count);
  uint64_t done_rows = 0;
  while (st == TIDE_OK && tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, keybuf)) {
    if (L->abandon) {
      if (atomic_load_explicit(L->abandon, memory_order_relaxed)) {
        st = GRP_ABANDONED;
        break;
      }
      if (done_rows >= L->check_rows && L->check_rows) {
        if (L->nloc * 2 > done_rows) {
          atomic_store_explicit(L->abandon, true, memory_order_relaxed);
          st = GRP_ABANDONED;
          break;
        }
        L->check_rows = 0; /* checked once */
      }
      done_rows += seq.n;
    }
    grp_key_cols(pk, nby, by, &seq, bufs, packed, cols);
    uint32_t *restrict cid = ids + seq.pos;
    st = tide__keyset_insert(L->ks, cols, seq.n, cid);
    if (st != TIDE_OK) break;
    uint64_t ng = L->nloc;
    if (ng + seq.n > fcap) {
      uint64_t ncap = fcap ? fcap * 2 : 1024;
      while (ncap < ng + seq.n) ncap *= 2;
      uint64_t *a = tide_realloc(L->first_pos, ncap * sizeof *a);
      if (a) L->first_pos = a;
      uint64_t *b = tide_realloc(L->first_key, ncap * sizeof *b);
      if (b) L->first_key = b;
      if (!a || !b) {
        st = TIDE_ERR_NOMEM;
        break;
      }
      fcap = ncap;
    }
    for (uint32_t i = 0; i < seq.n; i++) {
      if (cid[i] == ng) {
        L->first_pos[ng] = seq.pos + i;
        L->first_key[ng] = seq.keys ? seq.keys[i] : seq.first + i;
        ng++;
      }
    }
    L->nloc = ng;
  }
  if (st == TIDE_OK) {
    const uint64_t nl = L->nloc;
    hash = tide_malloc((nl ? nl : 1) * sizeof *hash);
    L->part = tide_malloc((nl ? nl : 1) * sizeof *L->part);
    L->map = tide_malloc((nl ? nl : 1) * sizeof *L->map);
    if (!hash || !L->part || !L->map) {
      st = TIDE_ERR_NOMEM;
    } else {
      for (size_t k = 0; k < nk; k++) cols[k] = tide__keyset_keys(L->ks, k);
      tide__hash_keys(nk, types, cols, (uint32_t)nl, hash);
      /* partition by the hash's top bits (slots use the low bits) */
      for (uint64_t l = 0; l < nl; l++) L->part[l] = (uint32_t)(((hash[l] >> 32) * np) >> 32);
    }
  }
  tide_free(hash);
  tide_free(keybuf);
  tide_free(bufs);
  tide_free(cols);
  tide_free(packed);
  return st;
}

/* Merge partition p: insert the local groups that hash into it, thread by
 * thread (so in order of first appearance within the partition). */
static tide_status grp_part_run(grp_part_t *P, uint32_t p, grp_local_t *locs, int nt, size_t nby,
                                const tide_type_t *types) {
  uint32_t *idx = tide_malloc(TIDE_CHUNK_SIZE * sizeof *idx);
  uint32_t *out = tide_malloc(TIDE_CHUNK_SIZE * sizeof *out);
  char *tmp = tide_malloc(nby * TIDE_CHUNK_SIZE * 8);
  const void **cols = tide_malloc(nby * sizeof *cols);
  uint64_t cap = 0, ng = 0;
  tide_status st = TIDE_OK;
  P->ks = tide__keyset_create(nby, types, 0, NULL);
  if (!idx || !out || !tmp || !cols || !P->ks) st = TIDE_ERR_NOMEM;
  for (int t = 0; t < nt && st == TIDE_OK; t++) {
    grp_local_t *L = &locs[t];
    uint64_t l = 0;
    while (l < L->nloc && st == TIDE_OK) {
      uint32_t m = 0;
      for (; l < L->nloc && m < TIDE_CHUNK_SIZE; l++)
        if (L->part[l] == p) idx[m++] = (uint32_t)l;
      if (!m) continue;
      for (size_t k = 0; k < nby; k++) {
        grp_gather(tide_type_width(types[k]), tide__keyset_keys(L->ks, k), idx, m,
                   tmp + k * TIDE_CHUNK_SIZE * 8);
        cols[k] = tmp + k * TIDE_CHUNK_SIZE * 8;
      }
      st = tide__keyset_insert(P->ks, cols, m, out);
      if (st != TIDE_OK) break;
      if (ng + m > cap) {
        uint64_t ncap = cap ? cap * 2 : 1024;
        while (ncap < ng + m) ncap *= 2;
        uint64_t *a = tide_realloc(P->first_pos, ncap * sizeof *a);
        if (a) P->first_pos = a;
        uint64_t *b = tide_realloc(P->first_key, ncap * sizeof *b);
        if (b) P->first_key = b;
        if (!a || !b) {
          st = TIDE_ERR_NOMEM;
          break;
        }
        cap = ncap;
      }
      for (uint32_t j = 0; j < m; j++) {
        L->map[idx[j]] = out[j];
        if (out[j] == ng) {
          P->first_pos[ng] = L->first_pos[idx[j]];
          P->first_key[ng] = L->first_key[idx[j]];
          ng++;
        }
      }
    }
  }
  tide_free(idx);
  tide_free(out);
  tide_free(tmp);
  tide_free(cols);
  return st;
}

/* Parallel hash grouping (same ids as the sequential loop):
 *  1. each thread groups one contiguous range of positions with its own
 *     key set (ids local to the range, in first-appearance order);
 *  2. partitions (by key hash) merge the local groups, thread by thread,
 *     each into its own key set, remembering every group's first position;
 *  3. global ids are the ranks of the groups' first positions;
 *  4. every row's local id is replaced by its global id.
 * The merge re-inserts every thread's distinct keys: when nearly every row
 * is a new group, the plan does twice the sequential work, which only
 * three threads or more repay. With `probe` (2 threads) each thread gives
 * up after the first 1/16 of its range if more than half of those rows
 * started a group (about 3% of the work lost; GRP_ABANDONED). Other
 * failures: TIDE_ERR_NOMEM when memory is short. Either way the caller
 * falls back to the sequential loop. */
static tide_status grp_hash_parallel(const tide_rowset_t *rs, size_t nby,
                                     tide_source_t *const *by, const grp_pack_t *pack,
                                     size_t nk, const tide_type_t *types, int nt, bool probe,
                                     tide_groups_t *g) {
  _Atomic bool abandon = false;
  const uint64_t nrows = g->nrows;
  const uint32_t np = (uint32_t)nt;
  grp_local_t *locs = tide_calloc((size_t)nt, sizeof *locs);
  grp_part_t *parts = tide_calloc(np, sizeof *parts);
  uint64_t *pk = NULL, *pv = NULL;
  tide_status st = TIDE_OK;
  if (!locs || !parts) {
    st = TIDE_ERR_NOMEM;
    goto done;
  }
  /* ranges of whole chunks */
  uint64_t per = (nrows + (uint64_t)nt - 1) / (uint64_t)nt;
  per = (per + TIDE_CHUNK_SIZE - 1) / TIDE_CHUNK_SIZE * TIDE_CHUNK_SIZE;
  for (int t = 0; t < nt; t++) {
    uint64_t a = per * (uint64_t)t;
    locs[t].start = a < nrows ? a : nrows;
    locs[t].count = a < nrows ? TIDE_MIN(per, nrows - a) : 0;
    if (probe) {
      locs[t].abandon = &abandon;
      locs[t].check_rows = locs[t].count / 16 ? locs[t].count / 16 : 1;
    }
  }
#pragma omp parallel for num_threads(nt) schedule(static, 1)
  for (int t = 0; t < nt; t++)
    locs[t].st = grp_local_run(&locs[t], rs, nby, by, pack, nk, types, np, g->ids);
  for (int t = 0; t < nt; t++)
    if (locs[t].st != TIDE_OK) st = locs[t].st;
  if (st != TIDE_OK) goto done;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
  for (int p = 0; p < (int)np; p++)
    parts[p].st = grp_part_run(&parts[p], (uint32_t)p, locs, nt, nk, types);
  uint64_t total = 0;
  for (uint32_t p = 0; p < np; p++) {
    if (parts[p].st != TIDE_OK) st = parts[p].st;
    else total += tide__keyset_size(parts[p].ks);
  }
  if (st != TIDE_OK) goto done;
  if (total >= UINT32_MAX) {
    st = TIDE_ERR_RANGE;
    goto done;
  }
  /* global order: sort (first position, partition << 32 | id) */
  pk = tide_malloc((total ? total : 1) * sizeof *pk);
  pv = tide_malloc((total ? total : 1) * sizeof *pv);
  g->first_key = tide_malloc((total ? total : 1) * sizeof *g->first_key);
  if (!pk || !pv || !g->first_key) {
    st = TIDE_ERR_NOMEM;
    goto done;
  }
  uint64_t q = 0;
  for (uint32_t p = 0; p < np; p++) {
    uint32_t n = tide__keyset_size(parts[p].ks);
    parts[p].gid = tide_malloc((n ? n : 1) * sizeof *parts[p].gid);
    if (!parts[p].gid) {
      st = TIDE_ERR_NOMEM;
      goto done;
    }
    for (uint32_t i = 0; i < n; i++, q++) {
      pk[q] = parts[p].first_pos[i];
      pv[q] = (uint64_t)p << 32 | i;
    }
  }
  if (tide__radix_sort(pk, pv, total, NULL) != TIDE_OK) {
    st = TIDE_ERR_NOMEM;
    goto done;
  }
  for (uint64_t r = 0; r < total; r++) {
    grp_part_t *P = &parts[pv[r] >> 32];
    uint32_t i = (uint32_t)pv[r];
    P->gid[i] = (uint32_t)r;
    g->first_key[r] = P->first_key[i];
  }
#pragma omp parallel for num_threads(nt) schedule(static, 1)
  for (int t = 0; t < nt; t++) {
    grp_local_t *L = &locs[t];
    for (uint64_t l = 0; l < L->nloc; l++) L->map[l] = parts[L->part[l]].gid[L->map[l]];
    uint32_t *restrict ids = g->ids + L->start;
    const uint32_t *restrict map = L->map;
    for (uint64_t i = 0; i < L->count; i++) ids[i] = map[ids[i]];
  }
  g->ngroups = (uint32_t)total;
done:
  if (st != TIDE_OK) {
    tide_free(g->first_key);
    g->first_key = NULL;
  }
  for (int t = 0; locs && t < nt; t++) {
    tide__keyset_free(locs[t].ks);
    tide_free(locs[t].first_pos);
    tide_free(locs[t].first_key);
    tide_free(locs[t].part);
    tide_free(locs[t].map);
  }
  for (uint32_t p = 0; parts && p < np; p++) {
    tide__keyset_free(parts[p].ks);
    tide_free(parts[p].first_pos);
    tide_free(parts[p].first_key);
    tide_free(parts[p].gid);
  }
  tide_free(locs);
  tide_free(parts);
  tide_free(pk);
  tide_free(pv);
  return st;
}

typedef enum grp_path_t { GRP_ALL, GRP_DIRECT, GRP_HASH } grp_path_t;

tide_status tide__groups_build(const tide_rowset_t *rs, size_t nby, tide_source_t *const *by,
                               tide_groups_t *g, const char *op, tide_error *err) {
  return tide__groups_build_ranged(rs, nby, by, NULL, g, op, err);
}

tide_status tide__groups_build_ranged(const tide_rowset_t *rs, size_t nby,
                                      tide_source_t *const *by, const tide_direct_plan_t *ranges,
                                      tide_groups_t *g, const char *op, tide_error *err) {
  memset(g, 0, sizeof *g);
  const uint64_t nrows = tide_rowset_size(rs);
  if (nrows >= (uint64_t)UINT32_MAX * 16) {
    return tide_error_set(err, TIDE_ERR_RANGE, "%s: too many rows (%llu)", op,
                          (unsigned long long)nrows);
  }
  g->nrows = nrows;
  tide_status st = TIDE_OK;
  uint64_t fcap = 0;
  uint32_t *map = NULL;
  tide_keyset_t *ks = NULL;
  char *bufs = NULL;
  uint64_t *keybuf = NULL;
  const void **cols = NULL;
  tide_type_t *types = NULL;
  int64_t *mins = NULL;
  uint64_t *cards = NULL;
  uint64_t *slots = NULL;
  grp_pack_t pk;
  memset(&pk, 0, sizeof pk);
  /* key ranges known so far (given, or scanned by the direct check):
   * the pack plan reuses them instead of scanning again */
  tide_direct_plan_t known;
  memset(&known, 0, sizeof known);

  g->ids = tide_malloc((nrows ? nrows : 1) * sizeof *g->ids);
  /* 40 MB at 1e7 rows, written once by the workers: 2 MB pages fault
   * 512 times less often */
  tide__table_mem_advise(g->ids, (nrows ? nrows : 1) * sizeof *g->ids);
  keybuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *keybuf);
  bufs = tide_malloc((nby ? nby : 1) * TIDE_CHUNK_SIZE * 8);
  cols = tide_malloc((nby ? nby : 1) * sizeof *cols);
  types = tide_malloc((nby ? nby : 1) * sizeof *types);
  if (!g->ids || !keybuf || !bufs || !cols || !types) goto oom;
  for (size_t k = 0; k < nby; k++) types[k] = by[k]->type;

  /* Choose the path: a direct map when every key column is a SYMBOL or an
   * integer-like column and the product of their cardinalities (distinct
   * codes / value range, plus one for null) is small. Slot of a row:
   * mixed-radix number of its per-column slots (0 = null). */
  grp_path_t path = GRP_HASH;
  uint64_t mapsize = 1;
  if (nby == 0) {
    path = GRP_ALL;
  } else {
    mins = tide_malloc(nby * sizeof *mins);
    cards = tide_malloc(nby * sizeof *cards);
    known.nby = nby;
    known.by = by;
    known.lo = tide_malloc(nby * sizeof *known.lo);
    known.hi = tide_malloc(nby * sizeof *known.hi);
    known.has = tide_calloc(nby, sizeof *known.has);
    if (!mins || !cards || !known.lo || !known.hi || !known.has) goto oom;
    if (ranges && ranges->has)
      for (size_t k = 0; k < nby; k++) {
        known.has[k] = ranges->has[k];
        known.lo[k] = ranges->lo[k];
        known.hi[k] = ranges->hi[k];
      }
    uint64_t limit = nrows * 2 > GRP_DIRECT_MIN ? nrows * 2 : GRP_DIRECT_MIN;
    if (limit > GRP_DIRECT_MAX) limit = GRP_DIRECT_MAX;
    bool direct = true;
    for (size_t k = 0; k < nby && direct; k++) {
      tide_type_t ty = by[k]->type;
      uint64_t card;
      if (ty == TIDE_SYMBOL) {
        if (!by[k]->symtab) {
          direct = false;
          break;
        }
        mins[k] = 0;
        card = (uint64_t)tide_symtab_size(by[k]->symtab) + 1;
      } else if (ty == TIDE_STRING || tide_type_is_floating(ty)) {
        direct = false;
        break;
      } else {
        int64_t mn, mx;
        bool any;
        if (known.has[k]) {
          any = known.has[k] == 2;
          mn = known.lo[k];
          mx = known.hi[k];
        } else if (grp_int_range_par(rs, by[k], &mn, &mx, &any) != TIDE_OK) {
          goto oom;
        } else {
          known.has[k] = any ? 2 : 1;
          known.lo[k] = mn;
          known.hi[k] = mx;
        }
        if (!any) {
          mins[k] = 0; /* all null (or no rows): one slot */
          card = 1;
        } else if ((uint64_t)mx - (uint64_t)mn < limit) {
          mins[k] = mn;
          card = (uint64_t)mx - (uint64_t)mn + 2;
        } else {
          direct = false;
          break;
        }
      }
      cards[k] = card;
      if (card > limit || mapsize * card > limit) direct = false;
      else mapsize *= card;
    }
    if (direct) path = GRP_DIRECT;
  }
  if (path == GRP_DIRECT) {
    /* Parallel when there are several morsels and the per-thread
     * first-position arrays stay small. */
    int nt = tide__threads_for(nrows);
    if (nt > 1 && mapsize * (uint64_t)nt <= GRP_PAR_MAP_MAX &&
        grp_direct_parallel(rs, nby, by, mins, cards, mapsize, nt, g) == TIDE_OK)
      goto done;
    map = tide_malloc(mapsize * sizeof *map);
    slots = tide_malloc(TIDE_CHUNK_SIZE * sizeof *slots);
    if (!map || !slots) goto oom;
    memset(map, 0xff, mapsize * sizeof *map);
  } else if (path == GRP_HASH) {
    /* In parallel (on 2 threads only while most rows repeat a key: see
     * grp_hash_parallel) */
    int nt = tide__threads_for(nrows);
    if (grp_pack_plan(rs, nby, by, &known, &pk) != TIDE_OK) goto oom;
    size_t nk = nby;
    if (pk.np) {
      /* key set columns: the packed key, then the others */
      nk = 1 + pk.nr;
      types[0] = TIDE_I64;
      for (size_t j = 0; j < pk.nr; j++) types[1 + j] = by[pk.ridx[j]]->type;
    }
    slots = tide_malloc(TIDE_CHUNK_SIZE * sizeof *slots);
    if (!slots) goto oom;
    if (nt >= 2 && grp_hash_parallel(rs, nby, by, &pk, nk, types, nt, nt < 3, g) == TIDE_OK)
      goto done;
    ks = tide__keyset_create(nk, types, 0, err);
    if (!ks) {
      st = err ? err->status : TIDE_ERR_NOMEM;
      goto fail;
    }
  }

  uint32_t next = 0; /* groups created by the direct path */
  uint64_t ng = 0;   /* groups seen by the first-key scan */
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init(&it, rs);
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, keybuf)) {
    uint32_t *restrict cid = g->ids + seq.pos;
    const uint32_t n = seq.n;
    switch (path) {
      case GRP_ALL:
        for (uint32_t i = 0; i < n; i++) cid[i] = 0;
        break;
      case GRP_DIRECT: {
        uint64_t *restrict sl = slots;
        grp_slots(nby, by, mins, cards, &seq, bufs, sl);
        for (uint32_t i = 0; i < n; i++) {
          uint32_t gid = map[sl[i]];
          if (TIDE_UNLIKELY(gid == GRP_NONE)) {
            gid = next++;
            map[sl[i]] = gid;
          }
          cid[i] = gid;
        }
        break;
      }
      case GRP_HASH: {
        grp_key_cols(&pk, nby, by, &seq, bufs, slots, cols);
        st = tide__keyset_insert(ks, cols, n, cid);
        if (st != TIDE_OK) {
          tide_error_set(err, st, "%s: grouping failed: %s", op, tide_status_str(st));
          goto fail;
        }
        break;
      }
    }
    /* Record the first row of each new group (ids are assigned in row
     * order, so new groups appear as ng, ng+1, ...). */
    if (ng + n > fcap) {
      uint64_t ncap = fcap ? fcap * 2 : 256;
      while (ncap < ng + n) ncap *= 2;
      uint64_t *f = tide_realloc(g->first_key, ncap * sizeof *f);
      if (!f) goto oom;
      g->first_key = f;
      fcap = ncap;
    }
    uint64_t *restrict fk = g->first_key;
    if (seq.keys) {
      for (uint32_t i = 0; i < n; i++)
        if (cid[i] == ng) fk[ng++] = seq.keys[i];
    } else {
      for (uint32_t i = 0; i < n; i++)
        if (cid[i] == ng) fk[ng++] = seq.first + i;
    }
  }
  g->ngroups = (uint32_t)ng;
  goto done;

oom:
  st = tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory grouping %llu rows", op,
                      (unsigned long long)nrows);
fail:
  tide__groups_destroy(g);
done:
  tide__keyset_free(ks);
  grp_pack_free(&pk);
  tide_free(known.lo);
  tide_free(known.hi);
  tide_free(known.has);
  tide_free(map);
  tide_free(mins);
  tide_free(cards);
  tide_free(slots);
  tide_free(bufs);
  tide_free(keybuf);
  tide_free(cols);
  tide_free(types);
  return st;
}

uint64_t *tide__groups_last_keys(const tide_groups_t *g, const tide_rowset_t *rs,
                                 tide_error *err) {
  uint64_t *last = tide_malloc((g->ngroups ? g->ngroups : 1) * sizeof *last);
  uint64_t *keybuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *keybuf);
  if (!last || !keybuf) {
    tide_free(last);
    tide_free(keybuf);
    tide_error_set(err, TIDE_ERR_NOMEM, "out of memory");
    return NULL;
  }
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init(&it, rs);
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, keybuf)) {
    const uint32_t *restrict cid = g->ids + seq.pos;
    if (seq.keys) {
      for (uint32_t i = 0; i < seq.n; i++) last[cid[i]] = seq.keys[i];
    } else {
      for (uint32_t i = 0; i < seq.n; i++) last[cid[i]] = seq.first + i;
    }
  }
  tide_free(keybuf);
  return last;
}

uint64_t *tide__groups_sizes(const tide_groups_t *g, tide_error *err) {
  uint64_t *c = tide_calloc(g->ngroups ? g->ngroups : 1, sizeof *c);
  if (!c) {
    tide_error_set(err, TIDE_ERR_NOMEM, "out of memory");
    return NULL;
  }
  const uint32_t *restrict ids = g->ids;
  for (uint64_t i = 0; i < g->nrows; i++) c[ids[i]]++;
  return c;
}

/* ------------------------------------------------ fused scan (agg_by) */

/* Non-null range of an integer-like column, over morsels in parallel
 * (min and max do not depend on the split). */
static tide_status grp_int_range_par(const tide_rowset_t *rs, const tide_source_t *src,
                                     int64_t *minp, int64_t *maxp, bool *anyp) {
  const uint64_t nrows = tide_rowset_size(rs);
  const int64_t nm = (int64_t)((nrows + TIDE_MORSEL_ROWS - 1) / TIDE_MORSEL_ROWS);
  int64_t mn = INT64_MAX, mx = INT64_MIN;
  bool any = false, oom = false;
#pragma omp parallel num_threads(tide__threads_for(nrows))
  {
    uint64_t *keybuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *keybuf);
    void *buf = tide_malloc(TIDE_CHUNK_SIZE * 8);
    int64_t lmn = INT64_MAX, lmx = INT64_MIN;
    bool lany = false;
    if (!keybuf || !buf) {
#pragma omp atomic write
      oom = true;
    }
#pragma omp for schedule(static)
    for (int64_t m = 0; m < nm; m++) {
      int64_t a, b;
      if (keybuf && buf &&
          grp_int_range_pos(rs, (uint64_t)m * TIDE_MORSEL_ROWS, TIDE_MORSEL_ROWS, src, &a, &b,
                            buf, keybuf)) {
        lany = true;
        lmn = a < lmn ? a : lmn;
        lmx = b > lmx ? b : lmx;
      }
    }
#pragma omp critical(tide_grp_range)
    {
      any |= lany;
      mn = lmn < mn ? lmn : mn;
      mx = lmx > mx ? lmx : mx;
    }
    tide_free(keybuf);
    tide_free(buf);
  }
  *minp = mn;
  *maxp = mx;
  *anyp = any;
  return oom ? TIDE_ERR_NOMEM : TIDE_OK;
}

void tide__direct_plan_free(tide_direct_plan_t *p) {
  if (!p) return;
  tide_free(p->mins);
  tide_free(p->cards);
  tide_free(p->lo);
  tide_free(p->hi);
  tide_free(p->has);
  memset(p, 0, sizeof *p);
}

tide_status tide__direct_plan(const tide_rowset_t *rs, size_t nby, tide_source_t *const *by,
                              uint64_t max_slots, tide_direct_plan_t *p, bool *ok) {
  memset(p, 0, sizeof *p);
  *ok = false;
  p->nby = nby;
  p->by = by;
  p->mapsize = 1;
  const size_t nb = nby ? nby : 1;
  p->mins = tide_malloc(nb * sizeof *p->mins);
  p->cards = tide_malloc(nb * sizeof *p->cards);
  p->lo = tide_malloc(nb * sizeof *p->lo);
  p->hi = tide_malloc(nb * sizeof *p->hi);
  p->has = tide_calloc(nb, sizeof *p->has);
  if (!p->mins || !p->cards || !p->lo || !p->hi || !p->has) {
    tide__direct_plan_free(p);
    return TIDE_ERR_NOMEM;
  }
  /* only SYMBOL (with a dictionary) and integer-like keys map directly */
  for (size_t k = 0; k < nby; k++) {
    tide_type_t ty = by[k]->type;
    if (ty == TIDE_SYMBOL ? !by[k]->symtab
                          : (ty == TIDE_STRING || tide_type_is_floating(ty) || ty >= TIDE_TYPE_COUNT))
      return TIDE_OK;
  }
  bool fits = true;
  for (size_t k = 0; k < nby; k++) {
    uint64_t card;
    if (by[k]->type == TIDE_SYMBOL) {
      p->mins[k] = 0;
      card = (uint64_t)tide_symtab_size(by[k]->symtab) + 1;
    } else {
      bool any;
      if (grp_int_range_par(rs, by[k], &p->lo[k], &p->hi[k], &any) != TIDE_OK) {
        tide__direct_plan_free(p);
        return TIDE_ERR_NOMEM;
      }
      p->has[k] = any ? 2 : 1;
      if (!any) {
        p->mins[k] = 0;
        card = 1;
      } else if ((uint64_t)p->hi[k] - (uint64_t)p->lo[k] < max_slots) {
        p->mins[k] = p->lo[k];
        card = (uint64_t)p->hi[k] - (uint64_t)p->lo[k] + 2;
      } else {
        fits = false;
        continue;
      }
    }
    p->cards[k] = card;
    if (!fits || card > max_slots || p->mapsize * card > max_slots) fits = false;
    else p->mapsize *= card;
  }
  *ok = fits;
  return TIDE_OK;
}

/* Vectorizable: also compiled for AVX2 (64-bit compares), picked at load
 * time on x86-64 with GCC (not under ThreadSanitizer: see kernels/agg.c). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) && \
    !defined(__SANITIZE_THREAD__)
__attribute__((target_clones("avx2", "default")))
#endif
void tide__direct_slots(const tide_direct_plan_t *p, const tide_rowseq_t *seq, void *buf,
                        uint32_t *restrict sl) {
  const uint32_t n = seq->n;
  if (p->nby == 0) {
    memset(sl, 0, n * sizeof *sl);
    return;
  }
  for (size_t k = 0; k < p->nby; k++) {
    const void *vals = tide__source_get(p->by[k], seq, buf);
    const uint64_t minv = (uint64_t)p->mins[k];
    const uint32_t card = (uint32_t)p->cards[k];
    switch (p->by[k]->type) {
#define GRP_SLOT32(E, ctype, NUL, MAXV)                                                  \
  case TIDE_##E: {                                                                       \
    const ctype *restrict v = (const ctype *)vals;                                       \
    if (k == 0) {                                                                        \
      for (uint32_t i = 0; i < n; i++) {                                                 \
        ctype x = v[i];                                                                  \
        sl[i] = x == NUL ? 0 : (uint32_t)((uint64_t)(int64_t)x - minv + 1);              \
      }                                                                                  \
    } else {                                                                             \
      for (uint32_t i = 0; i < n; i++) {                                                 \
        ctype x = v[i];                                                                  \
        sl[i] = sl[i] * card + (x == NUL ? 0 : (uint32_t)((uint64_t)(int64_t)x - minv + 1)); \
      }                                                                                  \
    }                                                                                    \
    break;                                                                               \
  }
      GRP_INT_TYPES(GRP_SLOT32)
#undef GRP_SLOT32
      default:
        assert(!"grouping: bad direct type");
        break;
    }
  }
}
