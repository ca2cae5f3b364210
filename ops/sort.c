/*
 * sort / sort_descending / sort_ex: stable multi-column sort.
 *
 * Plan: every fixed-width sort column is encoded into order-preserving
 * unsigned keys (kernels/radix.h; SYMBOL columns through the rank of each
 * dictionary code in the sorted dictionary). A first parallel pass finds each
 * column's encoded range; columns whose keys never vary are dropped, and
 * consecutive fixed-width columns whose ranges fit together in 64 bits are
 * composed into one key (first column in the high bits). The resulting
 * groups are sorted LSD over columns: the last group first, then stably by
 * each earlier group, carrying the permutation of positions. Fixed-width
 * groups use the radix sort (parallel LSD with per-thread histograms): when
 * the group's key bits plus the bits of a row index fit in 64, the index is
 * packed below the key and single words are sorted (half the memory
 * traffic of key/payload pairs); otherwise pairs. STRING columns use a
 * stable merge sort by strcmp (nulls first; blocks sorted in parallel, then
 * merged pairwise).
 *
 * The result has RowSet [0, n) and redirects every column of the parent
 * through one shared tide_redir_t (outer position -> parent row key).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "core/core_int.h"
#include "kernels/hash.h"
#include "kernels/radix.h"

typedef struct sort_col {
  int idx;            /* column index in the table */
  tide_source_t *src; /* borrowed */
  tide_type_t type;
  bool desc;
  uint32_t *ranks;   /* SYMBOL: code -> rank (owned) */
  uint64_t min, max; /* range of the encoded keys (fixed width) */
  int bits;          /* bits of max - min */
} sort_col;

typedef struct sort_ctx {
  const tide_rowset_t *rs;
  uint64_t n;
  int nthreads;
  sort_col *cols;
  size_t ncols;
} sort_ctx;

static size_t morsel_count(uint64_t n) {
  return (size_t)((n + TIDE_MORSEL_ROWS - 1) / TIDE_MORSEL_ROWS);
}

/* Per-thread chunk buffers. */
typedef struct chunk_bufs {
  uint64_t *keys;
  uint64_t *vals; /* 8-byte aligned room for any storage type */
  uint64_t *enc;
} chunk_bufs;

static bool bufs_init(chunk_bufs *b) {
  b->keys = tide_malloc(TIDE_CHUNK_SIZE * sizeof(uint64_t));
  b->vals = tide_malloc(TIDE_CHUNK_SIZE * sizeof(uint64_t));
  b->enc = tide_malloc(TIDE_CHUNK_SIZE * sizeof(uint64_t));
  return b->keys && b->vals && b->enc;
}

static void bufs_destroy(chunk_bufs *b) {
  tide_free(b->keys);
  tide_free(b->vals);
  tide_free(b->enc);
}

/* Encoded key range of every fixed-width sort column (one parallel pass). */
static tide_status key_ranges(sort_ctx *cx, tide_error *err) {
  size_t nc = cx->ncols;
  for (size_t c = 0; c < nc; c++) {
    cx->cols[c].min = UINT64_MAX;
    cx->cols[c].max = 0;
  }
  size_t nm = morsel_count(cx->n);
  bool failed = false;
  tide_morsels_t ms;
  if (tide__morsels_init(&ms, nm, cx->nthreads, NULL) != TIDE_OK)
    return tide_error_set(err, TIDE_ERR_NOMEM, "sort: out of memory");
  /* NUMA-aware morsels (numa/morsel.c): own block first. */
#pragma omp parallel num_threads(cx->nthreads)
  {
    chunk_bufs b;
    bool ok = bufs_init(&b);
    uint64_t *lmin = tide_malloc(nc * sizeof *lmin), *lmax = tide_malloc(nc * sizeof *lmax);
    ok = ok && lmin && lmax;
    if (!ok) {
#pragma omp atomic write
      failed = true;
    } else {
      for (size_t c = 0; c < nc; c++) {
        lmin[c] = UINT64_MAX;
        lmax[c] = 0;
      }
    }
    for (uint64_t m; ok && tide__morsels_next(&ms, omp_get_thread_num(), &m);) {
      tide_rowset_iter_t it;
      tide_rowset_iter_init_pos(&it, cx->rs, (uint64_t)m * TIDE_MORSEL_ROWS, TIDE_MORSEL_ROWS);
      tide_rowseq_t seq;
      while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, b.keys)) {
        for (size_t c = 0; c < nc; c++) {
          sort_col *sc = &cx->cols[c];
          if (sc->type == TIDE_STRING) continue;
          const void *v = tide__source_get(sc->src, &seq, b.vals);
          tide__radix_encode(sc->type, v, seq.n, sc->desc, sc->ranks, b.enc);
          uint64_t mn = lmin[c], mx = lmax[c];
          const uint64_t *restrict e = b.enc;
          for (uint32_t i = 0; i < seq.n; i++) {
            mn = e[i] < mn ? e[i] : mn;
            mx = e[i] > mx ? e[i] : mx;
          }
          lmin[c] = mn;
          lmax[c] = mx;
        }
      }
    }
    if (ok) {
#pragma omp critical(tide_sort_ranges)
      for (size_t c = 0; c < nc; c++) {
        if (lmin[c] < cx->cols[c].min) cx->cols[c].min = lmin[c];
        if (lmax[c] > cx->cols[c].max) cx->cols[c].max = lmax[c];
      }
    }
    tide_free(lmin);
    tide_free(lmax);
    bufs_destroy(&b);
  }
  tide__morsels_free(&ms);
  if (failed) return tide_error_set(err, TIDE_ERR_NOMEM, "sort: out of memory");
  for (size_t c = 0; c < nc; c++) {
    sort_col *sc = &cx->cols[c];
    uint64_t range = sc->max >= sc->min ? sc->max - sc->min : 0;
    sc->bits = range ? 64 - __builtin_clzll(range) : 0;
  }
  return TIDE_OK;
}

/* Composite keys of fixed-width columns [c0, c1) (constant ones skipped), in
 * position order: out[pos] = (k_c0 - min_c0) << (bits of the rest) | ...;
 * with packbits > 0 the key is shifted up by packbits and pos put below. */
static tide_status compose_keys(sort_ctx *cx, size_t c0, size_t c1, int packbits, uint64_t *out,
                                tide_error *err) {
  size_t nm = morsel_count(cx->n);
  bool failed = false;
  tide_morsels_t ms;
  if (tide__morsels_init(&ms, nm, cx->nthreads, NULL) != TIDE_OK)
    return tide_error_set(err, TIDE_ERR_NOMEM, "sort: out of memory");
  /* NUMA-aware morsels (numa/morsel.c): own block first. */
#pragma omp parallel num_threads(cx->nthreads)
  {
    chunk_bufs b;
    bool ok = bufs_init(&b);
    if (!ok) {
#pragma omp atomic write
      failed = true;
    }
    for (uint64_t m; ok && tide__morsels_next(&ms, omp_get_thread_num(), &m);) {
      tide_rowset_iter_t it;
      tide_rowset_iter_init_pos(&it, cx->rs, (uint64_t)m * TIDE_MORSEL_ROWS, TIDE_MORSEL_ROWS);
      tide_rowseq_t seq;
      while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, b.keys)) {
        uint64_t *restrict o = out + seq.pos;
        bool first = true;
        for (size_t c = c0; c < c1; c++) {
          sort_col *sc = &cx->cols[c];
          if (sc->bits == 0) continue;
          const void *v = tide__source_get(sc->src, &seq, b.vals);
          tide__radix_encode(sc->type, v, seq.n, sc->desc, sc->ranks, b.enc);
          const uint64_t *restrict e = b.enc;
          uint64_t mn = sc->min;
          if (first) {
            for (uint32_t i = 0; i < seq.n; i++) o[i] = e[i] - mn;
            first = false;
          } else {
            int sh = sc->bits; /* < 64: an earlier column holds >= 1 bit */
            for (uint32_t i = 0; i < seq.n; i++) o[i] = (o[i] << sh) | (e[i] - mn);
          }
        }
        if (first) memset(o, 0, seq.n * sizeof *o);
        if (packbits) { /* append each row's position (packed sort) */
          uint64_t pos = seq.pos;
          for (uint32_t i = 0; i < seq.n; i++) o[i] = o[i] << packbits | (pos + i);
        }
      }
    }
    bufs_destroy(&b);
  }
  tide__morsels_free(&ms);
  if (failed) return tide_error_set(err, TIDE_ERR_NOMEM, "sort: out of memory");
  return TIDE_OK;
}

/* STRING values of column c in position order into out. */
static tide_status read_strings(sort_ctx *cx, size_t c, const char **out, tide_error *err) {
  size_t nm = morsel_count(cx->n);
  bool failed = false;
  sort_col *sc = &cx->cols[c];
  tide_morsels_t ms;
  if (tide__morsels_init(&ms, nm, cx->nthreads, NULL) != TIDE_OK)
    return tide_error_set(err, TIDE_ERR_NOMEM, "sort: out of memory");
  /* NUMA-aware morsels (numa/morsel.c): own block first. */
#pragma omp parallel num_threads(cx->nthreads)
  {
    chunk_bufs b;
    bool ok = bufs_init(&b);
    if (!ok) {
#pragma omp atomic write
      failed = true;
    }
    for (uint64_t m; ok && tide__morsels_next(&ms, omp_get_thread_num(), &m);) {
      tide_rowset_iter_t it;
      tide_rowset_iter_init_pos(&it, cx->rs, (uint64_t)m * TIDE_MORSEL_ROWS, TIDE_MORSEL_ROWS);
      tide_rowseq_t seq;
      while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, b.keys)) {
        const void *v = tide__source_get(sc->src, &seq, b.vals);
        memcpy(out + seq.pos, v, seq.n * sizeof *out);
      }
    }
    bufs_destroy(&b);
  }
  tide__morsels_free(&ms);
  if (failed) return tide_error_set(err, TIDE_ERR_NOMEM, "sort: out of memory");
  return TIDE_OK;
}

/* The sort permutation: out[i] = position in the parent of output row i
 * (out has n entries: the redirection's map, filled in place). Work arrays
 * are allocated as needed (fresh memory costs page faults: fewer arrays
 * sort faster). */
static tide_status sort_positions(sort_ctx *cx, uint64_t *out, tide_error *err) {
  uint64_t n = cx->n;
  size_t cap = n ? (size_t)n : 1;
  int T = cx->nthreads;
  uint64_t *K = NULL, *TK = NULL, *tp_alloc = NULL;
  uint64_t *P = out, *TP = NULL;
  const char **S = NULL, **TS = NULL;
  tide_status st = TIDE_OK;
  bool have_perm = false; /* false: P is the identity (not yet written) */
  /* work arrays are fresh memory written once in random order: huge
   * pages (advice) cut page faults and TLB misses */
#define SORT_NEED(ptr)                                                   \
  do {                                                                   \
    if (!(ptr)) {                                                        \
      if (!((ptr) = tide_malloc(cap * sizeof *(ptr)))) goto oom;         \
      tide__table_mem_advise((void *)(ptr), cap * sizeof *(ptr));        \
    }                                                                    \
  } while (0)
  if (n > 1) {
    st = key_ranges(cx, err);
    if (st != TIDE_OK) goto done;
    int idxbits = 64 - __builtin_clzll(n - 1); /* bits of the largest index */
    /* Groups, processed from the last: [g0, g1). */
    size_t g1 = cx->ncols;
    while (g1 > 0) {
      size_t g0;
      int gbits = 0;
      if (cx->cols[g1 - 1].type == TIDE_STRING) {
        g0 = g1 - 1;
      } else {
        /* Extend leftwards while the composed key fits in 64 bits. */
        int total = cx->cols[g1 - 1].bits;
        g0 = g1 - 1;
        while (g0 > 0 && cx->cols[g0 - 1].type != TIDE_STRING &&
               total + cx->cols[g0 - 1].bits <= 64) {
          total += cx->cols[g0 - 1].bits;
          g0--;
        }
        if (total == 0) { /* every key constant: no reordering */
          g1 = g0;
          continue;
        }
        gbits = total;
      }
      if (cx->cols[g0].type == TIDE_STRING) {
        SORT_NEED(S);
        SORT_NEED(TS);
        if (!TP) TP = tp_alloc = tide_malloc(cap * sizeof *TP);
        if (!TP) goto oom;
        tide__table_mem_advise(TP, cap * sizeof *TP);
        if (!have_perm) {
          if ((st = read_strings(cx, g0, S, err)) != TIDE_OK) goto done;
#pragma omp parallel for num_threads(T) schedule(static)
          for (uint64_t i = 0; i < n; i++) P[i] = i;
        } else {
          if ((st = read_strings(cx, g0, TS, err)) != TIDE_OK) goto done;
#pragma omp parallel for num_threads(T) schedule(static)
          for (uint64_t i = 0; i < n; i++) S[i] = TS[P[i]];
        }
        tide__sort_strings_par(S, P, (size_t)n, cx->cols[g0].desc, TS, TP, T);
      } else if (gbits + idxbits <= 64) {
        /* Packed: (key << idxbits | index) sorted as single words by the
         * key bits; the index travels along and keeps ties in order. */
        uint64_t low = ((uint64_t)1 << idxbits) - 1;
        SORT_NEED(K);
        SORT_NEED(TK);
        if (!have_perm) {
          if ((st = compose_keys(cx, g0, g1, idxbits, K, err)) != TIDE_OK) goto done;
        } else {
          if ((st = compose_keys(cx, g0, g1, 0, TK, err)) != TIDE_OK) goto done;
#pragma omp parallel for num_threads(T) schedule(static)
          for (uint64_t i = 0; i < n; i++) K[i] = TK[P[i]] << idxbits | i;
        }
        uint64_t *rk;
        tide__radix_sort_packed(K, TK, (size_t)n, idxbits, T, &rk);
        if (rk != K) {
          TK = K;
          K = rk;
        }
        if (!have_perm) {
#pragma omp parallel for num_threads(T) schedule(static)
          for (uint64_t i = 0; i < n; i++) P[i] = K[i] & low;
        } else {
          if (!TP) TP = tp_alloc = tide_malloc(cap * sizeof *TP);
          if (!TP) goto oom;
          tide__table_mem_advise(TP, cap * sizeof *TP);
#pragma omp parallel for num_threads(T) schedule(static)
          for (uint64_t i = 0; i < n; i++) TP[i] = P[K[i] & low];
          uint64_t *tp = P;
          P = TP;
          TP = tp;
        }
      } else {
        SORT_NEED(K);
        SORT_NEED(TK);
        if (!TP) TP = tp_alloc = tide_malloc(cap * sizeof *TP);
        if (!TP) goto oom;
        tide__table_mem_advise(TP, cap * sizeof *TP);
        if (!have_perm) {
          if ((st = compose_keys(cx, g0, g1, 0, K, err)) != TIDE_OK) goto done;
#pragma omp parallel for num_threads(T) schedule(static)
          for (uint64_t i = 0; i < n; i++) P[i] = i;
        } else {
          if ((st = compose_keys(cx, g0, g1, 0, TK, err)) != TIDE_OK) goto done;
#pragma omp parallel for num_threads(T) schedule(static)
          for (uint64_t i = 0; i < n; i++) K[i] = TK[P[i]];
        }
        uint64_t *rk, *rp;
        tide__radix_sort_par(K, P, TK, TP, (size_t)n, T, &rk, &rp);
        if (rk != K) {
          TK = K;
          K = rk;
          TP = P;
          P = rp;
        }
      }
      have_perm = true;
      g1 = g0;
    }
  }
#undef SORT_NEED
  if (!have_perm) {
#pragma omp parallel for num_threads(T) schedule(static)
    for (uint64_t i = 0; i < n; i++) out[i] = i;
  } else if (P != out) {
    memcpy(out, P, (size_t)n * sizeof *out);
  }
  goto done;
oom:
  st =
      tide_error_set(err, TIDE_ERR_NOMEM, "sort: out of memory (%llu rows)", (unsigned long long)n);
done:
  tide_free(K);
  tide_free(TK);
  tide_free(tp_alloc);
  tide_free(S);
  tide_free(TS);
  return st;
}

/* Sorted order of the rows `rows` (a subset of t's RowSet) of t: out[i] is
 * the row key of the i-th row in sort order (ties in key order). Reads t's
 * current values whether t is static or ticking (ops/sort_incr.c uses it for
 * the first snapshot and for each cycle's added rows). */
tide_status tide__sort_keys(const tide_table_t *t, const tide_rowset_t *rows,
                            const char *const *cols, const bool *descending, size_t ncols,
                            uint64_t *out, tide_error *err);
tide_status tide__sort_keys(const tide_table_t *t, const tide_rowset_t *rows,
                            const char *const *cols, const bool *descending, size_t ncols,
                            uint64_t *out, tide_error *err) {
  sort_ctx cx = {0};
  cx.rs = rows;
  cx.n = tide_rowset_size(rows);
  cx.nthreads = tide__threads_for(cx.n);
  if (cx.nthreads < 1) cx.nthreads = 1;
  cx.ncols = ncols;
  cx.cols = tide_calloc(ncols ? ncols : 1, sizeof *cx.cols);
  tide_status st = TIDE_OK;
  if (!cx.cols) return tide_error_set(err, TIDE_ERR_NOMEM, "sort: out of memory");
  for (size_t c = 0; c < ncols; c++) {
    if (!cols[c]) {
      st = tide_error_set(err, TIDE_ERR_INVALID, "sort: sort column %zu is NULL", c);
      goto done;
    }
    int idx = tide__col_lookup(t, cols[c], "sort", err);
    if (idx < 0) {
      st = err ? err->status : TIDE_ERR_NOT_FOUND;
      goto done;
    }
    sort_col *sc = &cx.cols[c];
    sc->idx = idx;
    sc->src = t->cols[idx];
    sc->type = tide_source_type(sc->src);
    sc->desc = descending ? descending[c] : false;
    if (sc->type == TIDE_SYMBOL && cx.n > 1) {
      sc->ranks = tide__radix_symbol_ranks(tide_source_symtab(sc->src), err);
      if (!sc->ranks) {
        st = TIDE_ERR_NOMEM;
        goto done;
      }
    }
  }
  if ((st = sort_positions(&cx, out, err)) != TIDE_OK) goto done;
  {
    /* Positions -> row keys, in place. */
    uint64_t n = cx.n;
    if (tide_rowset_is_range(rows)) {
      uint64_t first = n ? tide_rowset_first(rows) : 0;
      if (first != 0) {
#pragma omp parallel for num_threads(cx.nthreads) schedule(static)
        for (uint64_t i = 0; i < n; i++) out[i] += first;
      }
    } else {
      uint64_t *keys = tide_malloc((n ? n : 1) * sizeof *keys);
      if (!keys) {
        st = tide_error_set(err, TIDE_ERR_NOMEM, "sort: out of memory");
        goto done;
      }
      tide_rowset_export(rows, keys);
#pragma omp parallel for num_threads(cx.nthreads) schedule(static)
      for (uint64_t i = 0; i < n; i++) out[i] = keys[out[i]];
      tide_free(keys);
    }
  }
done:
  for (size_t c = 0; c < ncols; c++) tide_free(cx.cols[c].ranks);
  tide_free(cx.cols);
  return st;
}

/* Incremental sort of a ticking table (ops/sort_incr.c). */
tide_table_t *tide__sort_incr(tide_table_t *t, const char *const *cols, const bool *descending,
                              size_t ncols, tide_error *err);

tide_table_t *tide_sort_ex(tide_table_t *t, const char *const *cols, const bool *descending,
                           size_t ncols, tide_error *err) {
  if (!t) {
    tide_error_set(err, TIDE_ERR_INVALID, "sort: table is NULL");
    return NULL;
  }
  if (ncols > 0 && !cols) {
    tide_error_set(err, TIDE_ERR_INVALID, "sort: %zu sort columns but no column list", ncols);
    return NULL;
  }
  if (ncols == 0) return tide_table_retain(t); /* nothing to sort by: the same table */
  if (t->node) return tide__sort_incr(t, cols, descending, ncols, err);
  uint64_t n = tide_rowset_size(t->rowset);
  tide_table_t *out = NULL;
  tide_redir_t *redir = NULL;
  tide_source_t **srcs = NULL;
  tide_rowset_t *rs = NULL;
  redir = tide__redir_create(n, err);
  if (!redir) goto done;
  tide__table_mem_advise(redir->map, (size_t)n * sizeof *redir->map);
  if (tide__sort_keys(t, t->rowset, cols, descending, ncols, redir->map, err) != TIDE_OK)
    goto done;
  srcs = tide_calloc(t->ncols ? t->ncols : 1, sizeof *srcs);
  if (!srcs) {
    tide_error_set(err, TIDE_ERR_NOMEM, "sort: out of memory");
    goto done;
  }
  for (size_t c = 0; c < t->ncols; c++) {
    srcs[c] = tide__source_redirected_create(t->cols[c], redir, err);
    if (!srcs[c]) {
      tide_error_prefix(err, "sort: column '%s'", t->names[c]);
      goto done;
    }
  }
  rs = n ? tide_rowset_create_range(0, n - 1) : tide_rowset_create();
  if (!rs) {
    tide_error_set(err, TIDE_ERR_NOMEM, "sort: out of memory");
    goto done;
  }
  out = tide_table_create(rs, t->ncols, (const char *const *)t->names, srcs, err);
  if (!out) tide_error_prefix(err, "sort");
done:
  if (srcs)
    for (size_t c = 0; c < t->ncols; c++) tide_source_release(srcs[c]);
  tide_free(srcs);
  tide_rowset_free(rs);
  if (redir) tide__redir_release(redir);
  return out;
}

tide_table_t *tide_sort(tide_table_t *t, const char *const *cols, size_t ncols, tide_error *err) {
  return tide_sort_ex(t, cols, NULL, ncols, err);
}

tide_table_t *tide_sort_descending(tide_table_t *t, const char *const *cols, size_t ncols,
                                   tide_error *err) {
  bool stackd[16] = {0};
  bool *desc = ncols <= 16 ? stackd : tide_malloc(ncols * sizeof *desc);
  if (!desc) {
    tide_error_set(err, TIDE_ERR_NOMEM, "sort_descending: out of memory");
    return NULL;
  }
  for (size_t c = 0; c < ncols; c++) desc[c] = true;
  tide_table_t *out = tide_sort_ex(t, cols, desc, ncols, err);
  if (desc != stackd) tide_free(desc);
  return out;
}
