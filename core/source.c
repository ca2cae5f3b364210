/*
 * Column sources: the common header, flat arrays, paged sparse arrays and
 * redirected sources. (Formula views live with the expression evaluator.)
 *
 * Fill loops are specialised by value width (1, 2, 4, 8 bytes: every tide
 * type's storage is one of these), one switch per chunk.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/core_int.h"

/* ---------------------------------------------------------------- common */

void tide__source_init(tide_source_t *src, const tide_source_vt *vt, tide_type_t type) {
  src->vt = vt;
  src->type = type;
  src->refcount = 1;
  src->symtab = NULL;
  src->keep = NULL;
  src->nkeep = src->keepcap = 0;
}

tide_source_t *tide_source_retain(tide_source_t *src) {
  if (src) atomic_fetch_add(&src->refcount, 1);
  return src;
}

void tide_source_release(tide_source_t *src) {
  if (!src || atomic_fetch_sub(&src->refcount, 1) != 1) return;
  if (src->vt->destroy) src->vt->destroy(src);
  for (uint32_t i = 0; i < src->nkeep; i++) tide_source_release(src->keep[i]);
  tide_free(src->keep);
  tide_symtab_release(src->symtab);
  tide_free(src);
}

tide_type_t tide_source_type(const tide_source_t *src) { return src->type; }
tide_symtab_t *tide_source_symtab(const tide_source_t *src) { return src->symtab; }

void tide_source_fill(const tide_source_t *src, const tide_rowseq_t *seq, void *dst) {
  src->vt->fill(src, seq, dst);
}

void tide_source_fill_prev(const tide_source_t *src, const tide_rowseq_t *seq, void *dst) {
  if (src->vt->fill_prev)
    src->vt->fill_prev(src, seq, dst);
  else
    src->vt->fill(src, seq, dst);
}

tide_status tide__source_keep(tide_source_t *src, tide_source_t *dep) {
  if (src == dep) return TIDE_OK;
  for (uint32_t i = 0; i < src->nkeep; i++)
    if (src->keep[i] == dep) return TIDE_OK;
  if (src->nkeep == src->keepcap) {
    uint32_t cap = src->keepcap ? src->keepcap * 2 : 4;
    tide_source_t **k = tide_realloc(src->keep, cap * sizeof *k);
    if (!k) return TIDE_ERR_NOMEM;
    src->keep = k;
    src->keepcap = cap;
  }
  src->keep[src->nkeep++] = tide_source_retain(dep);
  return TIDE_OK;
}

tide_status tide__source_keep_values_of(tide_source_t *dst, tide_source_t *src) {
  if (src->type != TIDE_STRING) return TIDE_OK;
  return tide__source_keep(dst, src);
}

/* Gather values of width W at keys into dst. */
#define TIDE_GATHER_BODY(W, T)                                 \
  static void gather_##W(const void *base, const uint64_t *keys, uint32_t n, void *dst) { \
    const T *restrict b = base;                                \
    T *restrict d = dst;                                       \
    for (uint32_t i = 0; i < n; i++) d[i] = b[keys[i]];        \
  }
TIDE_GATHER_BODY(1, uint8_t)
TIDE_GATHER_BODY(2, uint16_t)
TIDE_GATHER_BODY(4, uint32_t)
TIDE_GATHER_BODY(8, uint64_t)

static void gather(size_t width, const void *base, const uint64_t *keys, uint32_t n, void *dst) {
  switch (width) {
    case 1: gather_1(base, keys, n, dst); break;
    case 2: gather_2(base, keys, n, dst); break;
    case 4: gather_4(base, keys, n, dst); break;
    default: gather_8(base, keys, n, dst); break;
  }
}

/* Scatter n values of width W: dst[pos[i]] = src[i]. */
#define TIDE_SCATTER_BODY(W, T)                                                 \
  static void scatter_##W(const void *src, const uint32_t *pos, uint32_t n, void *dst) { \
    const T *restrict s = src;                                                 \
    T *restrict d = dst;                                                       \
    for (uint32_t i = 0; i < n; i++) d[pos[i]] = s[i];                         \
  }
TIDE_SCATTER_BODY(1, uint8_t)
TIDE_SCATTER_BODY(2, uint16_t)
TIDE_SCATTER_BODY(4, uint32_t)
TIDE_SCATTER_BODY(8, uint64_t)
#undef TIDE_SCATTER_BODY

static void scatter(size_t width, const void *src, const uint32_t *pos, uint32_t n, void *dst) {
  switch (width) {
    case 1: scatter_1(src, pos, n, dst); break;
    case 2: scatter_2(src, pos, n, dst); break;
    case 4: scatter_4(src, pos, n, dst); break;
    default: scatter_8(src, pos, n, dst); break;
  }
}

/* ------------------------------------------------------------------ flat */

typedef struct flat_source_t {
  tide_source_t base;
  uint64_t n;
  void *data;
  tide_arena_t arena; /* STRING values */
} flat_source_t;

static void flat_fill(const tide_source_t *src, const tide_rowseq_t *seq, void *dst) {
  const flat_source_t *f = (const flat_source_t *)src;
  size_t w = tide_type_width(src->type);
  if (seq->keys == NULL) {
    assert(seq->first + seq->n <= f->n);
    memcpy(dst, (const char *)f->data + seq->first * w, (size_t)seq->n * w);
  } else {
    gather(w, f->data, seq->keys, seq->n, dst);
  }
}

static const void *flat_direct(const tide_source_t *src, uint64_t first, uint32_t n) {
  const flat_source_t *f = (const flat_source_t *)src;
  assert(first + n <= f->n);
  return (const char *)f->data + first * tide_type_width(src->type);
}

static void flat_destroy(tide_source_t *src) {
  flat_source_t *f = (flat_source_t *)src;
  tide_aligned_free(f->data);
  tide__arena_destroy(&f->arena);
}

/* Flat sources never change once built: fill_prev is fill (NULL entry). */
static const tide_source_vt flat_vt = {"flat", flat_fill, flat_direct, flat_destroy, NULL};

bool tide__source_is_flat(const tide_source_t *src) { return src->vt == &flat_vt; }

/* Fill n values of type at dst with the null sentinel (one thread). */
static void fill_nulls_serial(tide_type_t type, void *dst, uint64_t n) {
  size_t w = tide_type_width(type);
  if (type == TIDE_STRING) {
    memset(dst, 0, n * w);
    return;
  }
  unsigned char null[8];
  tide_type_null(type, null);
  switch (w) {
    case 1: memset(dst, null[0], n); break;
#define FILL_NULLS_W(W, T)                     \
  case W: {                                    \
    T v, *restrict d = dst;                    \
    memcpy(&v, null, W);                       \
    for (uint64_t i = 0; i < n; i++) d[i] = v; \
    break;                                     \
  }
      FILL_NULLS_W(2, uint16_t)
      FILL_NULLS_W(4, uint32_t)
      FILL_NULLS_W(8, uint64_t)
#undef FILL_NULLS_W
  }
}

/* Large columns are filled by the worker team in static blocks, which is
 * also their first touch: pages land on the nodes of the workers that
 * will scan the same morsels. */
static void fill_nulls(tide_type_t type, void *dst, uint64_t n) {
  if (n < ((uint64_t)1 << 20)) {
    fill_nulls_serial(type, dst, n);
    return;
  }
  size_t w = tide_type_width(type);
  int64_t blocks = (int64_t)((n + TIDE_MORSEL_ROWS - 1) / TIDE_MORSEL_ROWS);
#pragma omp parallel for num_threads(tide__threads_for(n)) schedule(static)
  for (int64_t b = 0; b < blocks; b++) {
    uint64_t first = (uint64_t)b * TIDE_MORSEL_ROWS;
    uint64_t cnt = TIDE_MIN((uint64_t)TIDE_MORSEL_ROWS, n - first);
    fill_nulls_serial(type, (char *)dst + first * w, cnt);
  }
}

tide_source_t *tide_source_flat_create(tide_type_t type, uint64_t n, tide_error *err) {
  if ((unsigned)type >= TIDE_TYPE_COUNT) {
    tide_error_set(err, TIDE_ERR_INVALID, "invalid column type %d", (int)type);
    return NULL;
  }
  if (n > (SIZE_MAX - 64) / tide_type_width(type)) {
    tide_error_set(err, TIDE_ERR_RANGE, "a %s column of %llu rows is too large",
                   tide_type_name(type), (unsigned long long)n);
    return NULL;
  }
  flat_source_t *f = tide_malloc(sizeof *f);
  if (!f) goto oom;
  tide__source_init(&f->base, &flat_vt, type);
  f->n = n;
  tide__arena_init(&f->arena);
  f->data = tide_aligned_malloc(64, n * tide_type_width(type) + 64);
  if (!f->data) {
    tide_free(f);
    goto oom;
  }
  if (n >= ((uint64_t)1 << 20)) tide__numa_place(f->data, n, tide_type_width(type));
  fill_nulls(type, f->data, n);
  if (type == TIDE_SYMBOL) {
    f->base.symtab = tide_symtab_create();
    if (!f->base.symtab) {
      tide_source_release(&f->base);
      goto oom;
    }
  }
  return &f->base;
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "out of memory allocating a %s column of %llu rows",
                 tide_type_name(type), (unsigned long long)n);
  return NULL;
}

void *tide_source_flat_data(tide_source_t *src) {
  assert(tide__source_is_flat(src));
  return ((flat_source_t *)src)->data;
}

uint64_t tide_source_flat_size(const tide_source_t *src) {
  assert(tide__source_is_flat(src));
  return ((const flat_source_t *)src)->n;
}

const char *tide_source_flat_store_string(tide_source_t *src, const char *s, size_t len) {
  assert(tide__source_is_flat(src));
  return tide__arena_store(&((flat_source_t *)src)->arena, s, len);
}

void tide__source_set_symtab(tide_source_t *src, tide_symtab_t *st) {
  tide_symtab_retain(st);
  tide_symtab_release(src->symtab);
  src->symtab = st;
}

/* ----------------------------------------------------------------- paged */

/* Pages are found through a hash map page-number -> page (open addressing,
 * linear probing); pages are allocated null-filled on first write.
 *
 * Previous values (docs/TICKING.md, decision 2): after
 * tide__source_track_prev the source keeps an undo log of the current
 * step. The first write of a key in a step records (key, old value): an
 * entry in append order (keys, values, the entry's hash slot, and a link
 * to the previous entry of the same page) found through an open-addressing
 * hash key -> entry. The log belongs to the step it was started in
 * (log.step); a write in a later step first resets it (O(entries of the
 * old step): only their hash slots are cleared) and bumps log.gen, the
 * generation that per-page bookkeeping (page_meta_t) is stamped with, so
 * no per-page state needs clearing. fill_prev serves the current values
 * and patches the logged keys over them: for a range it walks the logged
 * entries of each page it reads (O(entries)), for keys it probes the hash
 * per key, or binary-searches sorted runs per entry when the page has few
 * entries. Pages allocated in the current step (page_meta_t.born) held
 * only nulls at its start: their writes are not logged and fill_prev
 * reads nulls for them, so appends to fresh pages cost no logging.
 * String values are logged as pointers (stored strings are immutable and
 * live as long as the source's arena). Writers are single-threaded; fills
 * (current and previous) may run concurrently while no writer runs. Row
 * keys are below TIDE_NULL_KEY (the empty mark of the log's hash). */

#define LOG_END UINT32_MAX

typedef struct page_meta_t {
  uint64_t born;  /* log generation in which the page was allocated */
  uint64_t lgen;  /* generation of lhead/lcount (stale otherwise) */
  uint32_t lhead; /* newest log entry of this page; LOG_END ends */
  uint32_t lcount;
} page_meta_t;

/* A hash slot: key (TIDE_NULL_KEY: empty) and its entry, in one line. */
typedef struct log_slot_t {
  uint64_t key;
  uint64_t idx;
} log_slot_t;

typedef struct prevlog_t {
  const _Atomic uint64_t *step; /* NULL: not tracking */
  uint64_t step_val;            /* the step the entries belong to */
  bool live;                    /* step_val is valid */
  uint64_t gen;                 /* bumped at every reset; 0 before tracking */
  uint64_t born_gen;            /* last generation in which a page was allocated */
  uint32_t n, cap;              /* entries */
  uint64_t *keys;
  uint32_t *hslot;              /* the entry's hash slot */
  uint32_t *next;               /* previous entry of the same page */
  void *vals;                   /* cap values of the source's width */
  log_slot_t *h;                /* hcap hash slots */
  uint32_t hcap;                /* 0 or a power of two >= 2 * cap */
  unsigned hshift;              /* 64 - log2(hcap) */
} prevlog_t;

/* Pages are carved from slabs: the first slabs hold 1, 2, 4, ... pages
 * (small tables stay small), then every slab is one 2 MiB huge-page-aligned
 * block advised MADV_HUGEPAGE. A ticking column of 1e7 rows spans 80 MB:
 * with 4 KiB pages each random row of a cycle's change costs a TLB miss
 * (and in a VM a nested page walk); measured on the 2-vCPU VM, writing
 * 10,000 random rows of a 1e7-row column took 4x as long as of a 1e5-row
 * one before slabs (perf/RESULTS.md, issue 3 modify cost). */
#define SLAB_BYTES ((size_t)2 << 20)

typedef struct page_slab_t {
  struct page_slab_t *next;
  void *mem;
} page_slab_t;

typedef struct paged_source_t {
  tide_source_t base;
  page_slab_t *slabs;  /* every slab, newest first */
  char *slab_next;     /* the next free page of the newest slab */
  uint32_t slab_left;  /* free pages left in it */
  uint32_t slab_pages; /* pages of the newest slab */
  uint64_t *page_ids; /* UINT64_MAX = empty slot */
  void **pages;
  page_meta_t *meta;  /* per slot */
  uint64_t nslots;    /* power of two */
  uint64_t npages;
  /* Dense directory: dir[id] = slot of page id, or -1, for id < ndir.
   * Kept while the page ids are dense (ids below 4x the page count, as in
   * every table whose keys are positions), so a page lookup is one array
   * read instead of a hash probe; sparse key spaces (sort, joins) use the
   * hash only. */
  int64_t *dir;
  uint64_t ndir;
  void *null_page;    /* a page of nulls for reads of unwritten pages */
  tide_arena_t arena;
  prevlog_t log;
} paged_source_t;

/* Slots come from the low bits, so the product's high bits are folded in:
 * page ids in arithmetic progression with a power-of-two step (sparse key
 * spaces of sort and joins) would otherwise share one slot. */
static inline uint64_t page_hash(uint64_t id) {
  uint64_t h = id * 0x9E3779B97F4A7C15ULL;
  return h ^ (h >> 29) ^ (h >> 47);
}
static inline uint64_t log_hash(const prevlog_t *L, uint64_t key) {
  return (key * 0x9E3779B97F4A7C15ULL) >> L->hshift;
}

/* Slot of page id, or -1 if the page was never written. */
static inline int64_t paged_slot(const paged_source_t *p, uint64_t id) {
  if (id < p->ndir) return p->dir[id];
  uint64_t mask = p->nslots - 1;
  for (uint64_t i = page_hash(id) & mask;; i = (i + 1) & mask) {
    if (p->page_ids[i] == id) return (int64_t)i;
    if (p->page_ids[i] == UINT64_MAX) return -1;
  }
}

static const void *paged_page(const paged_source_t *p, uint64_t id) {
  int64_t s = paged_slot(p, id);
  return s < 0 ? p->null_page : p->pages[s];
}

static void paged_fill(const tide_source_t *src, const tide_rowseq_t *seq, void *dst) {
  const paged_source_t *p = (const paged_source_t *)src;
  size_t w = tide_type_width(src->type);
  char *d = dst;
  if (seq->keys == NULL) {
    uint64_t k = seq->first;
    uint32_t done = 0;
    while (done < seq->n) {
      uint64_t id = k >> TIDE_PAGE_BITS;
      uint32_t off = (uint32_t)(k & (TIDE_PAGE_SIZE - 1));
      uint32_t take = TIDE_MIN(seq->n - done, TIDE_PAGE_SIZE - off);
      memcpy(d + (size_t)done * w, (const char *)paged_page(p, id) + (size_t)off * w,
             (size_t)take * w);
      done += take;
      k += take;
    }
    return;
  }
  /* Sparse keys (on average more than 64 keys apart: modified rows of a
   * big table) miss the cache one by one: resolve every key's address
   * first, then gather with software prefetch 16 keys ahead, so the misses
   * overlap instead of queueing behind each other. */
  if (seq->n >= 32 && (seq->keys[seq->n - 1] - seq->keys[0]) / seq->n > 64 &&
      seq->keys[seq->n - 1] > seq->keys[0]) {
    const char *ptr[TIDE_CHUNK_SIZE];
    uint64_t cur = UINT64_MAX;
    const char *page = NULL;
    for (uint32_t i = 0; i < seq->n; i++) {
      uint64_t id = seq->keys[i] >> TIDE_PAGE_BITS;
      if (id != cur) {
        page = paged_page(p, id);
        cur = id;
      }
      ptr[i] = page + (size_t)(seq->keys[i] & (TIDE_PAGE_SIZE - 1)) * w;
    }
    uint32_t n = seq->n;
    switch (w) {
#define PAGED_PF(W, T)                                                   \
  case W:                                                                \
    for (uint32_t i = 0; i < n; i++) {                                   \
      if (i + 16 < n) __builtin_prefetch(ptr[i + 16]);                   \
      ((T *)d)[i] = *(const T *)ptr[i];                                  \
    }                                                                    \
    break;
      PAGED_PF(1, uint8_t)
      PAGED_PF(2, uint16_t)
      PAGED_PF(4, uint32_t)
      PAGED_PF(8, uint64_t)
#undef PAGED_PF
    }
    return;
  }
  /* Runs of keys on the same page share one page lookup. */
  uint32_t i = 0;
  while (i < seq->n) {
    uint64_t id = seq->keys[i] >> TIDE_PAGE_BITS;
    const char *page = paged_page(p, id);
    uint32_t j = i;
    switch (w) {
#define PAGED_RUN(W, T)                                                           \
  case W:                                                                         \
    while (j < seq->n && (seq->keys[j] >> TIDE_PAGE_BITS) == id) {                \
      ((T *)d)[j] = ((const T *)page)[seq->keys[j] & (TIDE_PAGE_SIZE - 1)];       \
      j++;                                                                        \
    }                                                                             \
    break;
      PAGED_RUN(1, uint8_t)
      PAGED_RUN(2, uint16_t)
      PAGED_RUN(4, uint32_t)
      PAGED_RUN(8, uint64_t)
#undef PAGED_RUN
    }
    i = j;
  }
}

/* Overwrite d[pos] with logged values: entries of one page (list from
 * head) whose key lies in [lo, lo + cnt) go to d[key - base]. */
#define LOG_PATCH_LIST(W, T)                                                          \
  static void log_patch_list_##W(const prevlog_t *L, uint32_t head, uint64_t lo,        \
                                 uint32_t cnt, uint64_t base, void *dst) {              \
    const T *restrict v = L->vals;                                                    \
    T *restrict d = dst;                                                              \
    for (uint32_t e = head; e != LOG_END; e = L->next[e]) {                           \
      uint64_t k = L->keys[e];                                                        \
      if (k - lo < cnt) d[k - base] = v[e];                                           \
    }                                                                                 \
  }
/* Probe the hash for each of keys[0..cnt) and patch d[j] when logged. */
#define LOG_PATCH_PROBE(W, T)                                                         \
  static void log_patch_probe_##W(const prevlog_t *L, const uint64_t *keys,             \
                                  uint32_t cnt, void *dst) {                            \
    const T *restrict v = L->vals;                                                    \
    T *restrict d = dst;                                                              \
    const log_slot_t *restrict hs = L->h;                                             \
    uint64_t mask = L->hcap - 1;                                                      \
    for (uint32_t j = 0; j < cnt; j++) {                                              \
      if (j + 8 < cnt) __builtin_prefetch(&hs[log_hash(L, keys[j + 8])]);             \
      uint64_t key = keys[j];                                                         \
      uint64_t h = log_hash(L, key);                                                  \
      while (hs[h].key != key && hs[h].key != TIDE_NULL_KEY) h = (h + 1) & mask;      \
      if (hs[h].key == key) d[j] = v[hs[h].idx];                                      \
    }                                                                                 \
  }
/* Probe keys[idx[t]] for t < cnt and patch d[idx[t]] when logged; the
 * hash slots of later keys are prefetched (random lines). */
#define LOG_PATCH_PROBE_IDX(W, T)                                                     \
  static void log_patch_probe_idx_##W(const prevlog_t *L, const uint64_t *keys,         \
                                      const uint32_t *idx, uint32_t cnt, void *dst) {   \
    const T *restrict v = L->vals;                                                    \
    T *restrict d = dst;                                                              \
    const log_slot_t *restrict hs = L->h;                                             \
    uint64_t mask = L->hcap - 1;                                                      \
    for (uint32_t t = 0; t < cnt; t++) {                                              \
      if (t + 8 < cnt) __builtin_prefetch(&hs[log_hash(L, keys[idx[t + 8]])]);        \
      uint64_t key = keys[idx[t]];                                                    \
      uint64_t h = log_hash(L, key);                                                  \
      while (hs[h].key != key && hs[h].key != TIDE_NULL_KEY) h = (h + 1) & mask;      \
      if (hs[h].key == key) d[idx[t]] = v[hs[h].idx];                                 \
    }                                                                                 \
  }
/* Sorted keys[0..cnt): for each entry of the page list, binary-search its
 * key and patch every occurrence. */
#define LOG_PATCH_SEARCH(W, T)                                                        \
  static void log_patch_search_##W(const prevlog_t *L, uint32_t head,                  \
                                   const uint64_t *keys, uint32_t cnt, void *dst) {     \
    const T *restrict v = L->vals;                                                    \
    T *restrict d = dst;                                                              \
    for (uint32_t e = head; e != LOG_END; e = L->next[e]) {                           \
      uint64_t k = L->keys[e];                                                        \
      uint32_t lo = 0, hi = cnt;                                                      \
      while (lo < hi) {                                                               \
        uint32_t mid = lo + (hi - lo) / 2;                                            \
        if (keys[mid] < k) lo = mid + 1; else hi = mid;                               \
      }                                                                               \
      for (; lo < cnt && keys[lo] == k; lo++) d[lo] = v[e];                           \
    }                                                                                 \
  }
#define LOG_PATCH_ALL(W, T) \
  LOG_PATCH_LIST(W, T) LOG_PATCH_PROBE(W, T) LOG_PATCH_PROBE_IDX(W, T) LOG_PATCH_SEARCH(W, T)
LOG_PATCH_ALL(1, uint8_t)
LOG_PATCH_ALL(2, uint16_t)
LOG_PATCH_ALL(4, uint32_t)
LOG_PATCH_ALL(8, uint64_t)
#undef LOG_PATCH_ALL
#undef LOG_PATCH_LIST
#undef LOG_PATCH_PROBE
#undef LOG_PATCH_PROBE_IDX
#undef LOG_PATCH_SEARCH

#define LOG_DISPATCH(w, fn, ...)                 \
  do {                                           \
    switch (w) {                                 \
      case 1: fn##_1(__VA_ARGS__); break;        \
      case 2: fn##_2(__VA_ARGS__); break;        \
      case 4: fn##_4(__VA_ARGS__); break;        \
      default: fn##_8(__VA_ARGS__); break;       \
    }                                            \
  } while (0)

/* Sparse keys (far apart on average): gathers rather than page runs. */
static inline bool paged_sparse(const tide_rowseq_t *seq) {
  return seq->keys && seq->n >= 32 && seq->keys[seq->n - 1] > seq->keys[0] &&
         (seq->keys[seq->n - 1] - seq->keys[0]) / seq->n > 64;
}

/* dst holds the current values of seq's sparse keys and the log is live:
 * per key, pages born in this step read null, keys of pages with log
 * entries are probed in batches. */
static void paged_patch_sparse(const paged_source_t *p, const tide_rowseq_t *seq, void *dst) {
  const prevlog_t *L = &p->log;
  const size_t w = tide_type_width(p->base.type);
  char *d = dst;
  const uint64_t gen = L->gen;
  if (L->born_gen != gen) {
    /* no page was allocated in this step: every key's previous value is
     * its current one unless logged, so probe the log for each key
     * without looking its page up (one random read fewer per key); a
     * step that logged nothing may have no hash yet */
    if (L->n && L->hcap) LOG_DISPATCH(w, log_patch_probe, L, seq->keys, seq->n, dst);
    return;
  }
  uint32_t probe[TIDE_CHUNK_SIZE];
  uint32_t np = 0;
  uint64_t cur = UINT64_MAX;
  const page_meta_t *m = NULL;
  for (uint32_t i = 0; i < seq->n; i++) {
    uint64_t id = seq->keys[i] >> TIDE_PAGE_BITS;
    if (id != cur) {
      int64_t s = paged_slot(p, id);
      m = s < 0 ? NULL : &p->meta[s];
      cur = id;
    }
    if (!m) continue; /* never written: null now and before */
    if (m->born == gen)
      memcpy(d + (size_t)i * w, p->null_page, w);
    else if (m->lgen == gen && m->lcount)
      probe[np++] = i;
  }
  if (np) LOG_DISPATCH(w, log_patch_probe_idx, L, seq->keys, probe, np, dst);
}

static void paged_fill_prev(const tide_source_t *src, const tide_rowseq_t *seq, void *dst) {
  const paged_source_t *p = (const paged_source_t *)src;
  const prevlog_t *L = &p->log;
  /* Fast path: nothing written (and tracked) in this step. */
  if (!L->step || !L->live ||
      L->step_val != atomic_load_explicit(L->step, memory_order_acquire)) {
    paged_fill(src, seq, dst);
    return;
  }
  size_t w = tide_type_width(src->type);
  char *d = dst;
  const uint64_t gen = L->gen;
  if (seq->keys == NULL) {
    uint64_t k = seq->first;
    uint32_t done = 0;
    while (done < seq->n) {
      uint64_t id = k >> TIDE_PAGE_BITS;
      uint32_t off = (uint32_t)(k & (TIDE_PAGE_SIZE - 1));
      uint32_t take = TIDE_MIN(seq->n - done, TIDE_PAGE_SIZE - off);
      int64_t s = paged_slot(p, id);
      const page_meta_t *m = s < 0 ? NULL : &p->meta[s];
      const char *page = (!m || m->born == gen) ? p->null_page : p->pages[s];
      memcpy(d + (size_t)done * w, page + (size_t)off * w, (size_t)take * w);
      if (m && m->born != gen && m->lgen == gen && m->lcount) {
        if (m->lcount <= take) {
          LOG_DISPATCH(w, log_patch_list, L, m->lhead, k, take, seq->first, dst);
        } else {
          uint64_t keys[TIDE_PAGE_SIZE];
          for (uint32_t j = 0; j < take; j++) keys[j] = k + j;
          LOG_DISPATCH(w, log_patch_probe, L, keys, take, d + (size_t)done * w);
        }
      }
      done += take;
      k += take;
    }
    return;
  }
  /* Sparse keys: the current values through the prefetching gather of
   * paged_fill, then per key: pages born in this step read null, keys of
   * pages with log entries are probed in batches. */
  if (paged_sparse(seq)) {
    paged_fill(src, seq, dst);
    paged_patch_sparse(p, seq, dst);
    return;
  }
  /* Keys: runs on one page share the page lookup; keys to probe are
   * collected and probed in batches. */
  const uint64_t *keys = seq->keys;
  uint32_t probe[TIDE_CHUNK_SIZE];
  uint32_t nprobe = 0;
  uint32_t i = 0;
  while (i < seq->n) {
    uint64_t id = keys[i] >> TIDE_PAGE_BITS;
    int64_t s = paged_slot(p, id);
    const page_meta_t *m = s < 0 ? NULL : &p->meta[s];
    const char *page = (!m || m->born == gen) ? p->null_page : p->pages[s];
    uint32_t j = i;
    bool sorted = true;
    switch (w) {
#define PAGED_RUN(W, T)                                                           \
  case W:                                                                         \
    while (j < seq->n && (keys[j] >> TIDE_PAGE_BITS) == id) {                     \
      ((T *)d)[j] = ((const T *)page)[keys[j] & (TIDE_PAGE_SIZE - 1)];            \
      sorted &= j == i || keys[j - 1] <= keys[j];                                 \
      j++;                                                                        \
    }                                                                             \
    break;
      PAGED_RUN(1, uint8_t)
      PAGED_RUN(2, uint16_t)
      PAGED_RUN(4, uint32_t)
      PAGED_RUN(8, uint64_t)
#undef PAGED_RUN
    }
    if (m && m->born != gen && m->lgen == gen && m->lcount) {
      uint32_t cnt = j - i;
      char *dd = d + (size_t)i * w;
      if (sorted && (uint64_t)m->lcount * 8 <= cnt) {
        LOG_DISPATCH(w, log_patch_search, L, m->lhead, keys + i, cnt, dd);
      } else {
        for (uint32_t t = i; t < j; t++) {
          if (nprobe == TIDE_CHUNK_SIZE) {
            LOG_DISPATCH(w, log_patch_probe_idx, L, keys, probe, nprobe, dst);
            nprobe = 0;
          }
          probe[nprobe++] = t;
        }
      }
    }
    i = j;
  }
  if (nprobe) LOG_DISPATCH(w, log_patch_probe_idx, L, keys, probe, nprobe, dst);
}

static void paged_fill_both(const tide_source_t *src, const tide_rowseq_t *seq, void *cur,
                            void *prev) {
  const paged_source_t *p = (const paged_source_t *)src;
  const prevlog_t *L = &p->log;
  bool live = L->step && L->live &&
              L->step_val == atomic_load_explicit(L->step, memory_order_acquire);
  if (live && !paged_sparse(seq)) { /* runs: a second pass is cheap */
    paged_fill(src, seq, cur);
    paged_fill_prev(src, seq, prev);
    return;
  }
  paged_fill(src, seq, cur);
  memcpy(prev, cur, (size_t)seq->n * tide_type_width(src->type));
  if (live) paged_patch_sparse(p, seq, prev);
}

static const void *paged_direct(const tide_source_t *src, uint64_t first, uint32_t n) {
  const paged_source_t *p = (const paged_source_t *)src;
  uint64_t id = first >> TIDE_PAGE_BITS;
  if (((first + n - 1) >> TIDE_PAGE_BITS) != id) return NULL;
  return (const char *)paged_page(p, id) +
         (first & (TIDE_PAGE_SIZE - 1)) * tide_type_width(src->type);
}

static void log_free(prevlog_t *L) {
  tide_free(L->keys);
  tide_free(L->hslot);
  tide_free(L->next);
  tide_free(L->vals);
  tide_free(L->h);
  L->keys = NULL;
  L->hslot = L->next = NULL;
  L->vals = NULL;
  L->h = NULL;
  L->n = L->cap = L->hcap = 0;
}

static void paged_destroy(tide_source_t *src) {
  paged_source_t *p = (paged_source_t *)src;
  for (page_slab_t *sl = p->slabs, *nx; sl; sl = nx) {
    nx = sl->next;
    tide_aligned_free(sl->mem);
    tide_free(sl);
  }
  tide_free(p->page_ids);
  tide_free(p->pages);
  tide_free(p->meta);
  tide_free(p->dir);
  tide_aligned_free(p->null_page);
  tide__arena_destroy(&p->arena);
  log_free(&p->log);
}

static const tide_source_vt paged_vt = {"paged", paged_fill, paged_direct, paged_destroy,
                                        paged_fill_prev};

void tide__source_fill_both(const tide_source_t *src, const tide_rowseq_t *seq, void *cur,
                            void *prev) {
  if (src->vt == &paged_vt) {
    paged_fill_both(src, seq, cur, prev);
  } else if (!src->vt->fill_prev) {
    src->vt->fill(src, seq, cur);
    memcpy(prev, cur, (size_t)seq->n * tide_type_width(src->type));
  } else {
    src->vt->fill(src, seq, cur);
    src->vt->fill_prev(src, seq, prev);
  }
}

tide_source_t *tide__source_paged_create(tide_type_t type, tide_symtab_t *symtab,
                                         tide_error *err) {
  paged_source_t *p = tide_calloc(1, sizeof *p);
  if (!p) goto oom;
  tide__source_init(&p->base, &paged_vt, type);
  tide__arena_init(&p->arena);
  p->nslots = 16;
  p->page_ids = tide_malloc(p->nslots * sizeof *p->page_ids);
  p->pages = tide_calloc(p->nslots, sizeof *p->pages);
  p->meta = tide_calloc(p->nslots, sizeof *p->meta);
  p->null_page = tide_aligned_malloc(64, TIDE_PAGE_SIZE * tide_type_width(type));
  if (!p->page_ids || !p->pages || !p->meta || !p->null_page) {
    tide_free(p->page_ids);
    tide_free(p->pages);
    tide_free(p->meta);
    tide_aligned_free(p->null_page);
    tide_free(p);
    goto oom;
  }
  memset(p->page_ids, 0xff, p->nslots * sizeof *p->page_ids);
  fill_nulls(type, p->null_page, TIDE_PAGE_SIZE);
  if (type == TIDE_SYMBOL) {
    p->base.symtab = symtab ? tide_symtab_retain(symtab) : tide_symtab_create();
    if (!p->base.symtab) {
      tide_source_release(&p->base);
      goto oom;
    }
  }
  return &p->base;
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "out of memory creating a paged %s column",
                 tide_type_name(type));
  return NULL;
}

/* A new page (not yet filled) from the slabs; NULL on OOM. */
static void *page_alloc(paged_source_t *p) {
  size_t pb = (size_t)TIDE_PAGE_SIZE * tide_type_width(p->base.type);
  if (!p->slab_left) {
    uint32_t max = (uint32_t)(SLAB_BYTES / pb);
    uint32_t np = p->slab_pages ? TIDE_MIN(p->slab_pages * 2, max) : 1;
    size_t bytes = (size_t)np * pb;
    page_slab_t *sl = tide_malloc(sizeof *sl);
    void *mem = sl ? tide_aligned_malloc(bytes >= SLAB_BYTES ? SLAB_BYTES : 64, bytes) : NULL;
    if (!mem) {
      tide_free(sl);
      return NULL;
    }
#ifdef MADV_HUGEPAGE
    if (bytes >= SLAB_BYTES) (void)madvise(mem, bytes, MADV_HUGEPAGE); /* advice only */
#endif
    sl->mem = mem;
    sl->next = p->slabs;
    p->slabs = sl;
    p->slab_next = mem;
    p->slab_left = np;
    p->slab_pages = np;
  }
  void *page = p->slab_next;
  p->slab_next += pb;
  p->slab_left--;
  return page;
}

/* Slot of page id, allocating the page (null-filled, born in the current
 * log generation) if needed; -1 on OOM. */
/* The directory after page id was allocated (or after every slot moved,
 * `all`): set its entry, growing the directory while the ids are dense.
 * On OOM the directory keeps its size (lookups beyond it use the hash). */
static void dir_note(paged_source_t *p, uint64_t id, bool all) {
  uint64_t from = all ? 0 : p->ndir;
  if (id >= p->ndir) {
    uint64_t limit = 4 * (p->npages + 16);
    if (id < limit) {
      /* not clipped to limit: ids hovering just under it would grow the
       * directory by one step per page (up to 2x the limit is cheap) */
      uint64_t n = TIDE_MAX(TIDE_MAX(p->ndir * 2, id + 1), (uint64_t)64);
      int64_t *d = tide_realloc(p->dir, n * sizeof *d);
      if (d) {
        memset(d + p->ndir, 0xff, (n - p->ndir) * sizeof *d);
        p->dir = d;
        from = all ? 0 : p->ndir;
        p->ndir = n;
      }
    }
  }
  if (!p->ndir) return;
  if (all || from < p->ndir) {
    if (all) memset(p->dir, 0xff, p->ndir * sizeof *p->dir);
    for (uint64_t sl = 0; sl < p->nslots; sl++) {
      uint64_t k = p->page_ids[sl];
      if (k != UINT64_MAX && k >= from && k < p->ndir) p->dir[k] = (int64_t)sl;
    }
  }
}

static int64_t paged_slot_for_write(paged_source_t *p, uint64_t id) {
  if (id < p->ndir && p->dir[id] >= 0) return p->dir[id];
  uint64_t mask = p->nslots - 1;
  uint64_t i = page_hash(id) & mask;
  bool moved = false;
  for (;; i = (i + 1) & mask) {
    if (p->page_ids[i] == id) return (int64_t)i;
    if (p->page_ids[i] == UINT64_MAX) break;
  }
  if ((p->npages + 1) * 2 > p->nslots) {
    uint64_t n = p->nslots * 2;
    uint64_t *ids = tide_malloc(n * sizeof *ids);
    void **pages = tide_calloc(n, sizeof *pages);
    page_meta_t *meta = tide_calloc(n, sizeof *meta);
    if (!ids || !pages || !meta) {
      tide_free(ids);
      tide_free(pages);
      tide_free(meta);
      return -1;
    }
    memset(ids, 0xff, n * sizeof *ids);
    for (uint64_t s = 0; s < p->nslots; s++) {
      if (p->page_ids[s] == UINT64_MAX) continue;
      uint64_t j = page_hash(p->page_ids[s]) & (n - 1);
      while (ids[j] != UINT64_MAX) j = (j + 1) & (n - 1);
      ids[j] = p->page_ids[s];
      pages[j] = p->pages[s];
      meta[j] = p->meta[s];
    }
    tide_free(p->page_ids);
    tide_free(p->pages);
    tide_free(p->meta);
    p->page_ids = ids;
    p->pages = pages;
    p->meta = meta;
    p->nslots = n;
    mask = n - 1;
    for (i = page_hash(id) & mask; p->page_ids[i] != UINT64_MAX; i = (i + 1) & mask) {
    }
    moved = true;
  }
  void *page = page_alloc(p);
  if (!page) {
    if (moved) dir_note(p, UINT64_MAX, true); /* the slots moved: re-point the directory */
    return -1;
  }
  fill_nulls(p->base.type, page, TIDE_PAGE_SIZE);
  p->page_ids[i] = id;
  p->pages[i] = page;
  p->meta[i].born = p->log.step ? p->log.gen : 0;
  p->log.born_gen = p->meta[i].born;
  p->meta[i].lgen = 0;
  p->meta[i].lhead = LOG_END;
  p->meta[i].lcount = 0;
  p->npages++;
  if (moved || id < p->ndir || id < 4 * (p->npages + 16)) {
    if (id < p->ndir && !moved) p->dir[id] = (int64_t)i;
    else dir_note(p, id, moved);
  }
  return (int64_t)i;
}

/* Empty the log: clear the used hash slots (all of them at once when
 * they are many). */
static void log_clear(prevlog_t *L) {
  if ((uint64_t)L->n * 16 >= L->hcap) {
    if (L->hcap) memset(L->h, 0xff, L->hcap * sizeof *L->h);
  } else {
    for (uint32_t e = 0; e < L->n; e++) L->h[L->hslot[e]].key = TIDE_NULL_KEY;
  }
  L->n = 0;
}

/* Start of every write: a write in a new step resets the log. */
static void log_begin(paged_source_t *p) {
  prevlog_t *L = &p->log;
  if (!L->step) return;
  uint64_t cur = atomic_load_explicit(L->step, memory_order_acquire);
  if (L->live && L->step_val == cur) return;
  if (L->cap > (1u << 16) && L->n < L->cap / 16) {
    /* A big step is over: give its memory back. */
    log_free(L);
  } else {
    log_clear(L);
  }
  L->gen++;
  L->step_val = cur;
  L->live = true;
}

/* Room for `extra` more entries (hash load at most 1/2). */
static tide_status log_reserve(prevlog_t *L, size_t w, uint32_t extra) {
  uint64_t need = (uint64_t)L->n + extra;
  if (need <= L->cap) return TIDE_OK;
  if (need > (UINT32_MAX >> 2)) return TIDE_ERR_NOMEM;
  uint32_t cap = L->cap ? L->cap : 1024;
  while (cap < need) cap *= 2;
  uint64_t *keys = tide_realloc(L->keys, cap * sizeof *keys);
  if (keys) L->keys = keys;
  uint32_t *hslot = tide_realloc(L->hslot, cap * sizeof *hslot);
  if (hslot) L->hslot = hslot;
  uint32_t *next = tide_realloc(L->next, cap * sizeof *next);
  if (next) L->next = next;
  void *vals = tide_realloc(L->vals, cap * w);
  if (vals) L->vals = vals;
  uint32_t hcap = cap * 2;
  log_slot_t *hs = tide_malloc(hcap * sizeof *hs);
  if (!keys || !hslot || !next || !vals || !hs) {
    tide_free(hs);
    return TIDE_ERR_NOMEM;
  }
  L->cap = cap;
  tide_free(L->h);
  memset(hs, 0xff, hcap * sizeof *hs);
  L->h = hs;
  L->hcap = hcap;
  L->hshift = 64u - (unsigned)__builtin_ctz(hcap);
  for (uint32_t e = 0; e < L->n; e++) {
    uint64_t h = log_hash(L, L->keys[e]);
    while (hs[h].key != TIDE_NULL_KEY) h = (h + 1) & (hcap - 1);
    hs[h].key = L->keys[e];
    hs[h].idx = e;
    L->hslot[e] = (uint32_t)h;
  }
  return TIDE_OK;
}

/* Write cnt values at keys (all on the page of slot s), logging the old
 * value of each key's first write in this step. */
#define LOGGED_WRITE(W, T)                                                            \
  static void logged_write_##W(prevlog_t *L, page_meta_t *m, T *restrict page,        \
                               const uint64_t *restrict keys, uint32_t cnt,             \
                               const T *restrict v) {                                   \
    log_slot_t *restrict hs = L->h;                                                   \
    uint64_t mask = L->hcap - 1;                                                      \
    T *restrict lv = L->vals;                                                         \
    for (uint32_t j = 0; j < cnt; j++) {                                              \
      uint64_t key = keys[j];                                                         \
      uint32_t off = (uint32_t)(key & (TIDE_PAGE_SIZE - 1));                          \
      uint64_t h = log_hash(L, key);                                                  \
      while (hs[h].key != key && hs[h].key != TIDE_NULL_KEY) h = (h + 1) & mask;      \
      if (hs[h].key == TIDE_NULL_KEY) {                                               \
        uint32_t e = L->n++;                                                          \
        hs[h].key = key;                                                              \
        hs[h].idx = e;                                                                \
        L->keys[e] = key;                                                             \
        L->hslot[e] = (uint32_t)h;                                                    \
        lv[e] = page[off];                                                            \
        L->next[e] = m->lhead;                                                        \
        m->lhead = e;                                                                 \
        m->lcount++;                                                                  \
      }                                                                               \
      page[off] = v[j];                                                               \
    }                                                                                 \
  }                                                                                   \
  static void plain_write_##W(T *restrict page, const uint64_t *restrict keys,         \
                              uint32_t cnt, const T *restrict v) {                      \
    for (uint32_t j = 0; j < cnt; j++) page[keys[j] & (TIDE_PAGE_SIZE - 1)] = v[j];   \
  }
LOGGED_WRITE(1, uint8_t)
LOGGED_WRITE(2, uint16_t)
LOGGED_WRITE(4, uint32_t)
LOGGED_WRITE(8, uint64_t)
#undef LOGGED_WRITE

/* Writes after log_begin. */
static tide_status paged_write(paged_source_t *p, const uint64_t *keys, uint32_t n,
                               const void *values) {
  size_t w = tide_type_width(p->base.type);
  const char *v = values;
  prevlog_t *L = &p->log;
  /* Logging reads every old value: random writes over a large source
   * would stall on each of those reads, so the lines of the next keys
   * (and their hash slots) are prefetched ahead of the run being written. */
  enum { AHEAD = 16 };
  uint32_t pf = 0;
  uint64_t pf_id = UINT64_MAX;
  const char *pf_page = NULL;
  uint32_t i = 0;
  while (i < n) {
    uint64_t id = keys[i] >> TIDE_PAGE_BITS;
    uint32_t j = i + 1;
    while (j < n && (keys[j] >> TIDE_PAGE_BITS) == id) j++;
    if (L->step && L->hcap) {
      for (uint32_t lim = TIDE_MIN(n, j + AHEAD); pf < lim; pf++) {
        uint64_t k = keys[pf];
        if ((k >> TIDE_PAGE_BITS) != pf_id) {
          pf_id = k >> TIDE_PAGE_BITS;
          int64_t s2 = paged_slot(p, pf_id);
          pf_page = s2 < 0 ? NULL : p->pages[s2];
        }
        if (pf_page) __builtin_prefetch(pf_page + (k & (TIDE_PAGE_SIZE - 1)) * w, 1);
        __builtin_prefetch(&L->h[log_hash(L, k)], 1);
      }
    }
    int64_t s = paged_slot_for_write(p, id);
    if (s < 0) return TIDE_ERR_NOMEM;
    void *page = p->pages[s];
    page_meta_t *m = &p->meta[s];
    uint32_t cnt = j - i;
    const char *vi = v + (size_t)i * w;
    if (L->step && m->born != L->gen) {
      TIDE_TRY(log_reserve(L, w, cnt));
      if (m->lgen != L->gen) {
        m->lgen = L->gen;
        m->lhead = LOG_END;
        m->lcount = 0;
      }
      LOG_DISPATCH(w, logged_write, L, m, page, keys + i, cnt, (const void *)vi);
    } else {
      LOG_DISPATCH(w, plain_write, page, keys + i, cnt, (const void *)vi);
    }
    i = j;
  }
  return TIDE_OK;
}

tide_status tide__source_paged_set(tide_source_t *src, const uint64_t *keys, uint32_t n,
                                   const void *values) {
  assert(src->vt == &paged_vt);
  paged_source_t *p = (paged_source_t *)src;
  log_begin(p);
  return paged_write(p, keys, n, values);
}

tide_status tide__source_track_prev(tide_source_t *src, const _Atomic uint64_t *step) {
  if (src->vt != &paged_vt) return TIDE_ERR_INVALID;
  paged_source_t *p = (paged_source_t *)src;
  prevlog_t *L = &p->log;
  if (L->step == step) return TIDE_OK;
  /* A new clock: forget the old log (entries of another clock's step). */
  log_clear(L);
  L->live = false;
  L->gen++;
  L->step = step;
  if (!step) log_free(L);
  return TIDE_OK;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Move one range by its delta, page by page: each page segment is read
 * whole before it is written, and segments go from high to low for a
 * positive delta (low to high for a negative one), so nothing is
 * overwritten before it moves. Segments whose source and destination
 * pages were never written are skipped (all nulls onto all nulls). */
static tide_status shift_range(paged_source_t *p, const tide_shift_t *r) {
  if (r->delta == 0) return TIDE_OK;
  const uint64_t d = (uint64_t)r->delta;
  const uint64_t P0 = r->first >> TIDE_PAGE_BITS, P1 = r->last >> TIDE_PAGE_BITS;
  const uint64_t npg = P1 - P0 + 1;
  uint64_t *ids = NULL;
  uint64_t nids = npg;
  if (npg > 4 * (p->npages + 1)) {
    /* Sparse key space: visit only pages that exist at the source or
     * under the destination. */
    ids = tide_malloc((3 * p->npages + 1) * sizeof *ids);
    if (!ids) return TIDE_ERR_NOMEM;
    nids = 0;
    const uint64_t Q0 = (r->first + d) >> TIDE_PAGE_BITS, Q1 = (r->last + d) >> TIDE_PAGE_BITS;
    for (uint64_t s = 0; s < p->nslots; s++) {
      uint64_t id = p->page_ids[s];
      if (id == UINT64_MAX) continue;
      if (id >= P0 && id <= P1) ids[nids++] = id;
      if (id >= Q0 && id <= Q1) {
        uint64_t lo = TIDE_MAX(r->first, (id << TIDE_PAGE_BITS) - d);
        uint64_t hi = TIDE_MIN(r->last, (id << TIDE_PAGE_BITS) + (TIDE_PAGE_SIZE - 1) - d);
        if (lo <= hi) {
          ids[nids++] = lo >> TIDE_PAGE_BITS;
          ids[nids++] = hi >> TIDE_PAGE_BITS;
        }
      }
    }
    qsort(ids, nids, sizeof *ids, cmp_u64);
    uint64_t u = 0;
    for (uint64_t k = 0; k < nids; k++)
      if (u == 0 || ids[u - 1] != ids[k]) ids[u++] = ids[k];
    nids = u;
  }
  uint64_t buf[TIDE_PAGE_SIZE];
  uint64_t keys[TIDE_PAGE_SIZE];
  tide_status st = TIDE_OK;
  for (uint64_t t = 0; t < nids && st == TIDE_OK; t++) {
    uint64_t idx = r->delta > 0 ? nids - 1 - t : t;
    uint64_t pg = ids ? ids[idx] : P0 + idx;
    uint64_t lo = TIDE_MAX(r->first, pg << TIDE_PAGE_BITS);
    uint64_t hi = TIDE_MIN(r->last, (pg << TIDE_PAGE_BITS) + (TIDE_PAGE_SIZE - 1));
    uint32_t cnt = (uint32_t)(hi - lo + 1);
    if (paged_slot(p, pg) < 0 && paged_slot(p, (lo + d) >> TIDE_PAGE_BITS) < 0 &&
        paged_slot(p, (hi + d) >> TIDE_PAGE_BITS) < 0)
      continue;
    tide_rowseq_t seq = {lo, NULL, 0, cnt};
    paged_fill(&p->base, &seq, buf);
    for (uint32_t j = 0; j < cnt; j++) keys[j] = lo + j + d;
    st = paged_write(p, keys, cnt, buf);
  }
  tide_free(ids);
  return st;
}

/* Move only the kept keys that lie in shift ranges: gather every moving
 * value first, then write them at their new keys, so no value is
 * overwritten before it is read and unmoved keys are never written. */
static tide_status shift_kept(paged_source_t *p, const tide_shift_t *shifts, size_t n,
                              const tide_rowset_t *kept) {
  tide_status st = TIDE_OK;
  tide_rowset_t *moving = tide_rowset_create();
  for (size_t i = 0; moving && i < n; i++) {
    if (tide_rowset_insert_range(moving, shifts[i].first, shifts[i].last) != TIDE_OK) {
      tide_rowset_free(moving);
      moving = NULL;
    }
  }
  if (!moving || tide_rowset_intersect_inplace(moving, kept) != TIDE_OK) {
    tide_rowset_free(moving);
    return TIDE_ERR_NOMEM;
  }
  uint64_t nk = tide_rowset_size(moving);
  size_t w = tide_type_width(p->base.type);
  uint64_t *from = tide_malloc((nk ? nk : 1) * sizeof *from);
  uint64_t *to = tide_malloc((nk ? nk : 1) * sizeof *to);
  char *vals = tide_malloc((nk ? nk : 1) * w);
  if (!from || !to || !vals) {
    st = TIDE_ERR_NOMEM;
    goto done;
  }
  tide_rowset_export(moving, from);
  size_t sh = 0;
  for (uint64_t i = 0; i < nk; i++) {
    while (shifts[sh].last < from[i]) sh++;
    to[i] = from[i] + (uint64_t)shifts[sh].delta;
  }
  for (uint64_t i = 0; i < nk; i += TIDE_CHUNK_SIZE) {
    tide_rowseq_t seq = {0, from + i, 0, (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, nk - i)};
    paged_fill(&p->base, &seq, vals + i * w);
  }
  for (uint64_t i = 0; i < nk && st == TIDE_OK; i += TIDE_CHUNK_SIZE)
    st = paged_write(p, to + i, (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, nk - i),
                     vals + i * w);
done:
  tide_free(from);
  tide_free(to);
  tide_free(vals);
  tide_rowset_free(moving);
  return st;
}

tide_status tide__source_paged_shift(tide_source_t *src, const tide_shift_t *shifts, size_t n,
                                     const tide_rowset_t *kept) {
  assert(src->vt == &paged_vt);
  paged_source_t *p = (paged_source_t *)src;
  for (size_t i = 0; i < n; i++) {
    const tide_shift_t *r = &shifts[i];
    if (r->last < r->first || (r->delta < 0 && (uint64_t)-r->delta > r->first) ||
        (r->delta > 0 && r->last > TIDE_NULL_KEY - 1 - (uint64_t)r->delta) ||
        (i > 0 && shifts[i - 1].last >= r->first))
      return TIDE_ERR_INVALID;
  }
  log_begin(p);
  if (kept) return shift_kept(p, shifts, n, kept);
  /* Negative deltas first to last, then positive ones last to first:
   * neither group can write over a range of the other that has yet to
   * move (results keep the ranges' order). */
  for (size_t i = 0; i < n; i++)
    if (shifts[i].delta < 0) TIDE_TRY(shift_range(p, &shifts[i]));
  for (size_t i = n; i-- > 0;)
    if (shifts[i].delta > 0) TIDE_TRY(shift_range(p, &shifts[i]));
  return TIDE_OK;
}

/* ------------------------------------------------------------ redirected */

tide_redir_t *tide__redir_create(uint64_t n, tide_error *err) {
  if (n > SIZE_MAX / sizeof(uint64_t)) {
    tide_error_set(err, TIDE_ERR_RANGE, "a redirection of %llu rows is too large",
                   (unsigned long long)n);
    return NULL;
  }
  tide_redir_t *r = tide_malloc(sizeof *r);
  uint64_t *map = tide_aligned_malloc(64, (n ? n : 1) * sizeof *map);
  if (!r || !map) {
    tide_free(r);
    tide_aligned_free(map);
    tide_error_set(err, TIDE_ERR_NOMEM, "out of memory allocating a redirection of %llu rows",
                   (unsigned long long)n);
    return NULL;
  }
  r->refcount = 1;
  r->n = n;
  r->map = map;
  r->compose_inner = r->compose_result = NULL;
  r->compose_lock = 0;
  return r;
}

tide_redir_t *tide__redir_retain(tide_redir_t *r) {
  if (r) atomic_fetch_add(&r->refcount, 1);
  return r;
}

void tide__redir_release(tide_redir_t *r) {
  if (!r || atomic_fetch_sub(&r->refcount, 1) != 1) return;
  tide__redir_release(r->compose_inner);
  tide__redir_release(r->compose_result);
  tide_aligned_free(r->map);
  tide_free(r);
}

typedef struct redir_source_t {
  tide_source_t base;
  tide_source_t *inner;
  tide_redir_t *redir;
} redir_source_t;

/* Values of the inner source (current or previous) through the current
 * redirection. */
static void redir_fill_impl(const tide_source_t *src, const tide_rowseq_t *seq, void *dst,
                            bool prev) {
  const redir_source_t *r = (const redir_source_t *)src;
  void (*inner_fill)(const tide_source_t *, const tide_rowseq_t *, void *) =
      prev && r->inner->vt->fill_prev ? r->inner->vt->fill_prev : r->inner->vt->fill;
  const uint64_t *map = r->redir->map;
  uint64_t keys[TIDE_CHUNK_SIZE];
  uint32_t pos[TIDE_CHUNK_SIZE];
  uint32_t n = seq->n, m = 0;
  bool any_null = false;
  /* Translate outer keys; compact away the unmatched (null) ones. */
  if (seq->keys == NULL) {
    const uint64_t *src_keys = map + seq->first;
    /* a run of the map with no null key is the inner keys as they are
     * (the usual case: one vectorized check instead of a copy) */
    uint64_t nulls = 0;
    for (uint32_t i = 0; i < n; i++) nulls |= src_keys[i] == TIDE_NULL_KEY;
    if (!nulls) {
      tide_rowseq_t direct = {0, src_keys, 0, n};
      inner_fill(r->inner, &direct, dst);
      return;
    }
    for (uint32_t i = 0; i < n; i++) {
      uint64_t k = src_keys[i];
      keys[m] = k;
      pos[m] = i;
      m += k != TIDE_NULL_KEY;
    }
  } else {
    for (uint32_t i = 0; i < n; i++) {
      uint64_t k = map[seq->keys[i]];
      keys[m] = k;
      pos[m] = i;
      m += k != TIDE_NULL_KEY;
    }
  }
  any_null = m != n;
  tide_rowseq_t inner = {0, keys, 0, m};
  if (!any_null) {
    inner_fill(r->inner, &inner, dst);
    return;
  }
  size_t w = tide_type_width(src->type);
  unsigned char tmp[TIDE_CHUNK_SIZE * 8];
  if (m) inner_fill(r->inner, &inner, tmp);
  fill_nulls(src->type, dst, n);
  scatter(w, tmp, pos, m, dst);
}

static void redir_fill(const tide_source_t *src, const tide_rowseq_t *seq, void *dst) {
  redir_fill_impl(src, seq, dst, false);
}

/* Previous values: the inner source's previous values through the
 * current redirection. Correct while the redirection itself does not
 * change within a cycle (static sort/join outputs over ticking inputs);
 * a redirection with its own previous state (a paged int64 key source
 * with an undo log, docs/TICKING.md decision 2) comes with incremental
 * sort and join. */
static void redir_fill_prev(const tide_source_t *src, const tide_rowseq_t *seq, void *dst) {
  redir_fill_impl(src, seq, dst, true);
}

static void redir_destroy(tide_source_t *src) {
  redir_source_t *r = (redir_source_t *)src;
  tide_source_release(r->inner);
  tide__redir_release(r->redir);
}

static const tide_source_vt redir_vt = {"redirected", redir_fill, NULL, redir_destroy,
                                        redir_fill_prev};

/* redir composed with inner (a new reference), cached in redir. */
static tide_redir_t *compose(tide_redir_t *redir, tide_redir_t *inner, tide_error *err) {
  while (atomic_exchange(&redir->compose_lock, 1)) {
  }
  tide_redir_t *c = NULL;
  if (redir->compose_inner == inner) {
    c = tide__redir_retain(redir->compose_result);
  } else {
    c = tide__redir_create(redir->n, err);
    if (c) {
      const uint64_t *restrict m = inner->map;
      const uint64_t *restrict o = redir->map;
      uint64_t *restrict out = c->map;
      int64_t n = (int64_t)redir->n;
#pragma omp parallel for num_threads(tide__threads_for((uint64_t)n)) schedule(static)
      for (int64_t i = 0; i < n; i++) {
        uint64_t k = o[i];
        out[i] = k == TIDE_NULL_KEY ? TIDE_NULL_KEY : m[k];
      }
      tide__redir_release(redir->compose_inner);
      tide__redir_release(redir->compose_result);
      redir->compose_inner = tide__redir_retain(inner);
      redir->compose_result = tide__redir_retain(c);
    }
  }
  atomic_store(&redir->compose_lock, 0);
  return c;
}

tide_source_t *tide__source_redirected_create(tide_source_t *inner, tide_redir_t *redir,
                                              tide_error *err) {
  redir_source_t *r = tide_malloc(sizeof *r);
  if (!r) {
    tide_error_set(err, TIDE_ERR_NOMEM, "out of memory creating a redirected column");
    return NULL;
  }
  tide__source_init(&r->base, &redir_vt, inner->type);
  if (inner->vt == &redir_vt) {
    /* Compose: outer -> middle -> inner becomes outer -> inner, once per
     * (outer, middle) pair of redirections. */
    const redir_source_t *mid = (const redir_source_t *)inner;
    tide_redir_t *c = compose(redir, mid->redir, err);
    if (!c) {
      tide_free(r);
      return NULL;
    }
    r->inner = tide_source_retain(mid->inner);
    r->redir = c;
  } else {
    r->inner = tide_source_retain(inner);
    r->redir = tide__redir_retain(redir);
  }
  r->base.symtab = tide_symtab_retain(inner->symtab);
  return &r->base;
}

/* ------------------------------------------- ticking redirected source */

/* Outer key -> inner key through a paged int64 source (`map`) that the
 * owning operation writes during cycles. Previous values read the map's
 * previous entries and the inner source's previous values, so a row whose
 * redirection changed in this cycle reports what it showed before. */
typedef struct tredir_source_t {
  tide_source_t base;
  tide_source_t *inner;
  tide_source_t *map;
} tredir_source_t;

static void tredir_fill_impl(const tide_source_t *src, const tide_rowseq_t *seq, void *dst,
                             bool prev) {
  const tredir_source_t *r = (const tredir_source_t *)src;
  void (*inner_fill)(const tide_source_t *, const tide_rowseq_t *, void *) =
      prev && r->inner->vt->fill_prev ? r->inner->vt->fill_prev : r->inner->vt->fill;
  void (*map_fill)(const tide_source_t *, const tide_rowseq_t *, void *) =
      prev && r->map->vt->fill_prev ? r->map->vt->fill_prev : r->map->vt->fill;
  uint64_t keys[TIDE_CHUNK_SIZE];
  uint32_t pos[TIDE_CHUNK_SIZE];
  uint32_t n = seq->n, m = 0;
  map_fill(r->map, seq, keys);
  /* Compact away the keys that map to no row (never-written entries read
   * as the int64 null, explicit ones as TIDE_NULL_KEY: both >= 2^63). */
  for (uint32_t i = 0; i < n; i++) {
    uint64_t k = keys[i];
    keys[m] = k;
    pos[m] = i;
    m += k < TIDE_TREDIR_NONE;
  }
  tide_rowseq_t inner = {0, keys, 0, m};
  if (m == n) {
    if (m) inner_fill(r->inner, &inner, dst);
    return;
  }
  size_t w = tide_type_width(src->type);
  unsigned char tmp[TIDE_CHUNK_SIZE * 8];
  if (m) inner_fill(r->inner, &inner, tmp);
  fill_nulls(src->type, dst, n);
  scatter(w, tmp, pos, m, dst);
}

static void tredir_fill(const tide_source_t *src, const tide_rowseq_t *seq, void *dst) {
  tredir_fill_impl(src, seq, dst, false);
}
static void tredir_fill_prev(const tide_source_t *src, const tide_rowseq_t *seq, void *dst) {
  tredir_fill_impl(src, seq, dst, true);
}
static void tredir_destroy(tide_source_t *src) {
  tredir_source_t *r = (tredir_source_t *)src;
  tide_source_release(r->inner);
  tide_source_release(r->map);
}

static const tide_source_vt tredir_vt = {"ticking redirected", tredir_fill, NULL, tredir_destroy,
                                         tredir_fill_prev};

tide_source_t *tide__source_tredir_create(tide_source_t *inner, tide_source_t *map,
                                          tide_error *err) {
  if (map->type != TIDE_I64) {
    tide_error_set(err, TIDE_ERR_INVALID, "redirection map must be int64");
    return NULL;
  }
  tredir_source_t *r = tide_malloc(sizeof *r);
  if (!r) {
    tide_error_set(err, TIDE_ERR_NOMEM, "out of memory creating a redirected column");
    return NULL;
  }
  tide__source_init(&r->base, &tredir_vt, inner->type);
  r->inner = tide_source_retain(inner);
  r->map = tide_source_retain(map);
  r->base.symtab = tide_symtab_retain(inner->symtab);
  return &r->base;
}
