/*
 * Column sources: the common header, flat arrays, paged sparse arrays and
 * redirected sources. (Formula views live with the expression evaluator.)
 *
 * Fill loops are specialised by value width (1, 2, 4, 8 bytes: every tide
 * type's storage is one of these), one switch per chunk.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

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
 * linear probing); pages are allocated null-filled on first write. */
typedef struct paged_source_t {
  tide_source_t base;
  uint64_t *page_ids; /* UINT64_MAX = empty slot */
  void **pages;
  uint64_t nslots;    /* power of two */
  uint64_t npages;
  void *null_page;    /* a page of nulls for reads of unwritten pages */
  tide_arena_t arena;
} paged_source_t;

static inline uint64_t page_hash(uint64_t id) { return id * 0x9E3779B97F4A7C15ULL; }

static const void *paged_page(const paged_source_t *p, uint64_t id) {
  uint64_t mask = p->nslots - 1;
  for (uint64_t i = page_hash(id) & mask;; i = (i + 1) & mask) {
    if (p->page_ids[i] == id) return p->pages[i];
    if (p->page_ids[i] == UINT64_MAX) return p->null_page;
  }
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

static const void *paged_direct(const tide_source_t *src, uint64_t first, uint32_t n) {
  const paged_source_t *p = (const paged_source_t *)src;
  uint64_t id = first >> TIDE_PAGE_BITS;
  if (((first + n - 1) >> TIDE_PAGE_BITS) != id) return NULL;
  return (const char *)paged_page(p, id) +
         (first & (TIDE_PAGE_SIZE - 1)) * tide_type_width(src->type);
}

static void paged_destroy(tide_source_t *src) {
  paged_source_t *p = (paged_source_t *)src;
  for (uint64_t i = 0; i < p->nslots; i++)
    if (p->page_ids[i] != UINT64_MAX) tide_aligned_free(p->pages[i]);
  tide_free(p->page_ids);
  tide_free(p->pages);
  tide_aligned_free(p->null_page);
  tide__arena_destroy(&p->arena);
}

static const tide_source_vt paged_vt = {"paged", paged_fill, paged_direct, paged_destroy, NULL};

tide_source_t *tide__source_paged_create(tide_type_t type, tide_symtab_t *symtab,
                                         tide_error *err) {
  paged_source_t *p = tide_calloc(1, sizeof *p);
  if (!p) goto oom;
  tide__source_init(&p->base, &paged_vt, type);
  tide__arena_init(&p->arena);
  p->nslots = 16;
  p->page_ids = tide_malloc(p->nslots * sizeof *p->page_ids);
  p->pages = tide_calloc(p->nslots, sizeof *p->pages);
  p->null_page = tide_aligned_malloc(64, TIDE_PAGE_SIZE * tide_type_width(type));
  if (!p->page_ids || !p->pages || !p->null_page) {
    tide_free(p->page_ids);
    tide_free(p->pages);
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

static void *paged_page_for_write(paged_source_t *p, uint64_t id) {
  uint64_t mask = p->nslots - 1;
  uint64_t i = page_hash(id) & mask;
  for (;; i = (i + 1) & mask) {
    if (p->page_ids[i] == id) return p->pages[i];
    if (p->page_ids[i] == UINT64_MAX) break;
  }
  if ((p->npages + 1) * 2 > p->nslots) {
    uint64_t n = p->nslots * 2;
    uint64_t *ids = tide_malloc(n * sizeof *ids);
    void **pages = tide_calloc(n, sizeof *pages);
    if (!ids || !pages) {
      tide_free(ids);
      tide_free(pages);
      return NULL;
    }
    memset(ids, 0xff, n * sizeof *ids);
    for (uint64_t s = 0; s < p->nslots; s++) {
      if (p->page_ids[s] == UINT64_MAX) continue;
      uint64_t j = page_hash(p->page_ids[s]) & (n - 1);
      while (ids[j] != UINT64_MAX) j = (j + 1) & (n - 1);
      ids[j] = p->page_ids[s];
      pages[j] = p->pages[s];
    }
    tide_free(p->page_ids);
    tide_free(p->pages);
    p->page_ids = ids;
    p->pages = pages;
    p->nslots = n;
    mask = n - 1;
    for (i = page_hash(id) & mask; p->page_ids[i] != UINT64_MAX; i = (i + 1) & mask) {
    }
  }
  void *page = tide_aligned_malloc(64, TIDE_PAGE_SIZE * tide_type_width(p->base.type));
  if (!page) return NULL;
  fill_nulls(p->base.type, page, TIDE_PAGE_SIZE);
  p->page_ids[i] = id;
  p->pages[i] = page;
  p->npages++;
  return page;
}

tide_status tide__source_paged_set(tide_source_t *src, const uint64_t *keys, uint32_t n,
                                   const void *values) {
  assert(src->vt == &paged_vt);
  paged_source_t *p = (paged_source_t *)src;
  size_t w = tide_type_width(src->type);
  const char *v = values;
  uint32_t i = 0;
  while (i < n) {
    uint64_t id = keys[i] >> TIDE_PAGE_BITS;
    char *page = paged_page_for_write(p, id);
    if (!page) return TIDE_ERR_NOMEM;
    for (; i < n && (keys[i] >> TIDE_PAGE_BITS) == id; i++)
      memcpy(page + (keys[i] & (TIDE_PAGE_SIZE - 1)) * w, v + (size_t)i * w, w);
  }
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

static void redir_fill(const tide_source_t *src, const tide_rowseq_t *seq, void *dst) {
  const redir_source_t *r = (const redir_source_t *)src;
  const uint64_t *map = r->redir->map;
  uint64_t keys[TIDE_CHUNK_SIZE];
  uint32_t pos[TIDE_CHUNK_SIZE];
  uint32_t n = seq->n, m = 0;
  bool any_null = false;
  /* Translate outer keys; compact away the unmatched (null) ones. */
  if (seq->keys == NULL) {
    const uint64_t *src_keys = map + seq->first;
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
    r->inner->vt->fill(r->inner, &inner, dst);
    return;
  }
  size_t w = tide_type_width(src->type);
  unsigned char tmp[TIDE_CHUNK_SIZE * 8];
  if (m) r->inner->vt->fill(r->inner, &inner, tmp);
  fill_nulls(src->type, dst, n);
  scatter(w, tmp, pos, m, dst);
}

static void redir_destroy(tide_source_t *src) {
  redir_source_t *r = (redir_source_t *)src;
  tide_source_release(r->inner);
  tide__redir_release(r->redir);
}

static const tide_source_vt redir_vt = {"redirected", redir_fill, NULL, redir_destroy, NULL};

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
