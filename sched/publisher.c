/*
 * Publishers: the C API through which an embedding application feeds rows
 * produced on its own threads into an append-only or blink table.
 *
 * tide_publisher_append copies rows into a pending buffer under the
 * publisher's mutex (STRING values into a holder source that the column
 * keeps alive; SYMBOL strings into a pending arena, interned by the writer
 * thread, which alone touches the dictionary). Each cycle the refresh
 * swaps the pending buffer out under the mutex, writes it to the paged
 * columns at the next row keys, publishes, then calls the flush callback.
 * The publisher is the state of its table's graph node: it lives as long
 * as the table does.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sched/ticking_int.h"

struct tide_publisher_s {
  tide_table_t *table; /* the handle's reference (NULL after tide_publisher_free) */
  pthread_mutex_t mu;
  size_t ncols;
  tide_type_t *types;
  bool blink;
  /* pending rows (under mu): per column an array of the storage type
   * (const char * for STRING and SYMBOL) */
  void **pend;
  uint64_t npend, cap;
  tide_arena_t sym_arena;   /* SYMBOL strings of pending rows */
  tide_source_t **holders;  /* STRING columns: owners of the copies (borrowed) */
  tide_publisher_flush_fn flush;
  void *flush_ctx;
  /* writer thread */
  uint64_t next_key;
  uint64_t *keys;   /* TIDE_CHUNK_SIZE */
  int32_t *codes;   /* TIDE_CHUNK_SIZE */
};

static size_t pend_width(tide_type_t t) {
  return t == TIDE_SYMBOL ? sizeof(const char *) : tide_type_width(t);
}

static void free_pending(void **pend, size_t ncols) {
  if (!pend) return;
  for (size_t c = 0; c < ncols; c++) tide_free(pend[c]);
  tide_free(pend);
}

static tide_status pub_refresh(tide_gnode_t *n, tide_error *err) {
  tide_publisher_t *p = n->state;
  tide_table_t *t = n->table;
  pthread_mutex_lock(&p->mu);
  void **pend = p->pend;
  uint64_t cnt = p->npend;
  tide_arena_t arena = p->sym_arena;
  tide_publisher_flush_fn flush = p->flush; /* set from other threads under mu */
  void *flush_ctx = p->flush_ctx;
  p->pend = NULL;
  p->npend = p->cap = 0;
  tide__arena_init(&p->sym_arena);
  pthread_mutex_unlock(&p->mu);
  tide_status st = TIDE_OK;
  for (uint64_t done = 0; done < cnt && st == TIDE_OK;) {
    uint32_t m = (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, cnt - done);
    tide__tick_iota(p->keys, p->next_key + done, m);
    for (size_t c = 0; c < p->ncols && st == TIDE_OK; c++) {
      const char *src = (const char *)pend[c] + done * pend_width(p->types[c]);
      const void *vals = src;
      if (p->types[c] == TIDE_SYMBOL) {
        const char *const *strs = (const char *const *)src;
        tide_symtab_t *sym = t->cols[c]->symtab;
        for (uint32_t i = 0; i < m; i++) {
          p->codes[i] = strs[i] ? tide_symtab_intern(sym, strs[i], strlen(strs[i]))
                                : TIDE_NULL_SYMBOL;
          if (strs[i] && p->codes[i] < 0) st = TIDE_ERR_NOMEM;
        }
        vals = p->codes;
      }
      if (st == TIDE_OK) st = tide__source_paged_set(t->cols[c], p->keys, m, vals);
    }
    done += m;
  }
  free_pending(pend, p->ncols);
  tide__arena_destroy(&arena);
  if (st != TIDE_OK) return tide_error_set(err, TIDE_ERR_NOMEM, "publisher: out of memory");
  uint64_t first = p->next_key;
  p->next_key += cnt;
  TIDE_TRY(tide__tick_publish_append(n, first, cnt, p->blink, err));
  if (cnt && flush) flush(p, cnt, flush_ctx);
  return TIDE_OK;
}

static void pub_free_state(tide_publisher_t *p) {
  if (!p) return;
  free_pending(p->pend, p->ncols);
  tide__arena_destroy(&p->sym_arena);
  pthread_mutex_destroy(&p->mu);
  tide_free(p->types);
  tide_free(p->holders);
  tide_free(p->keys);
  tide_free(p->codes);
  tide_free(p);
}

static void pub_destroy(tide_gnode_t *n) { pub_free_state(n->state); }

static const tide_gnode_vt pub_vt = {"publisher", pub_refresh, NULL, pub_destroy};

tide_publisher_t *tide_publisher_create(tide_graph_t *g, size_t ncols, const char *const *names,
                                        const tide_type_t *types, tide_table_kind_t kind,
                                        tide_error *err) {
  if (!g) {
    tide_error_set(err, TIDE_ERR_INVALID, "publisher: no update graph given");
    return NULL;
  }
  if (kind != TIDE_KIND_APPEND_ONLY && kind != TIDE_KIND_BLINK) {
    tide_error_set(err, TIDE_ERR_INVALID,
                   "publisher: the table kind must be append-only or blink");
    return NULL;
  }
  if (ncols == 0) {
    tide_error_set(err, TIDE_ERR_INVALID, "publisher: the table needs at least one column");
    return NULL;
  }
  if (!names || !types) {
    tide_error_set(err, TIDE_ERR_INVALID, "publisher: no column %s given", names ? "types" : "names");
    return NULL;
  }
  tide_table_t *t = tide__tick_table_new(g, ncols, names, types, NULL, "publisher", err);
  if (!t) return NULL;
  tide_publisher_t *p = tide_calloc(1, sizeof *p);
  if (!p) goto oom;
  pthread_mutex_init(&p->mu, NULL);
  tide__arena_init(&p->sym_arena);
  p->ncols = ncols;
  p->blink = kind == TIDE_KIND_BLINK;
  p->types = tide_calloc(ncols, sizeof *p->types);
  p->holders = tide_calloc(ncols, sizeof *p->holders);
  p->keys = tide_malloc(TIDE_CHUNK_SIZE * sizeof *p->keys);
  p->codes = tide_malloc(TIDE_CHUNK_SIZE * sizeof *p->codes);
  if (!p->types || !p->holders || !p->keys || !p->codes) goto oom;
  for (size_t c = 0; c < ncols; c++) {
    p->types[c] = types[c];
    if (types[c] != TIDE_STRING) continue;
    tide_source_t *h = tide_source_flat_create(TIDE_STRING, 0, err);
    if (!h) goto fail;
    tide_status ks = tide__source_keep(t->cols[c], h);
    tide_source_release(h);
    if (ks != TIDE_OK) goto oom;
    p->holders[c] = h;
  }
  if (!tide__gnode_create(g, t, kind, &pub_vt, NULL, 0, p, err)) goto fail;
  p->table = t;
  return p;
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "publisher: out of memory");
fail:
  pub_free_state(p);
  tide_table_free(t);
  return NULL;
}

tide_table_t *tide_publisher_table(const tide_publisher_t *pub) { return pub->table; }

void tide_publisher_on_flush(tide_publisher_t *pub, tide_publisher_flush_fn fn, void *ctx) {
  pthread_mutex_lock(&pub->mu);
  pub->flush = fn;
  pub->flush_ctx = ctx;
  pthread_mutex_unlock(&pub->mu);
}

/* Most rows pending at once: the byte size of every buffer fits a size_t
 * (and doubling cannot overflow). */
#define PUB_MAX_PENDING ((uint64_t)1 << 40)

static bool reserve(tide_publisher_t *p, uint64_t need) {
  if (need <= p->cap) return true;
  uint64_t cap = p->cap ? p->cap : 1024;
  while (cap < need) cap *= 2;
  if (cap > PUB_MAX_PENDING || cap > SIZE_MAX / sizeof(uint64_t)) return false;
  if (!p->pend) {
    p->pend = tide_calloc(p->ncols, sizeof *p->pend);
    if (!p->pend) return false;
  }
  for (size_t c = 0; c < p->ncols; c++) {
    void *a = tide_realloc(p->pend[c], cap * pend_width(p->types[c]));
    if (!a) return false; /* columns already grown keep their larger size */
    p->pend[c] = a;
  }
  p->cap = cap;
  return true;
}

tide_status tide_publisher_append(tide_publisher_t *pub, const void *const *cols, uint64_t n,
                                  tide_error *err) {
  if (!pub || !pub->table)
    return tide_error_set(err, TIDE_ERR_INVALID, "publisher.append: the publisher was freed");
  if (n == 0) return TIDE_OK;
  if (!cols) return tide_error_set(err, TIDE_ERR_INVALID, "publisher.append: no columns given");
  for (size_t c = 0; c < pub->ncols; c++)
    if (!cols[c])
      return tide_error_set(err, TIDE_ERR_INVALID, "publisher.append: no values for column '%s'",
                            pub->table->names[c]);
  if (n > PUB_MAX_PENDING)
    return tide_error_set(err, TIDE_ERR_RANGE,
                          "publisher.append: %llu rows in one call (at most %llu pending)",
                          (unsigned long long)n, (unsigned long long)PUB_MAX_PENDING);
  pthread_mutex_lock(&pub->mu);
  tide_status st = TIDE_OK;
  if (!reserve(pub, pub->npend + n)) {
    st = TIDE_ERR_NOMEM;
    goto out;
  }
  for (size_t c = 0; c < pub->ncols && st == TIDE_OK; c++) {
    size_t w = pend_width(pub->types[c]);
    char *dst = (char *)pub->pend[c] + pub->npend * w;
    if (pub->types[c] == TIDE_STRING || pub->types[c] == TIDE_SYMBOL) {
      const char *const *in = cols[c];
      const char **out = (const char **)dst;
      for (uint64_t i = 0; i < n; i++) {
        out[i] = NULL;
        if (!in[i]) continue;
        size_t l = strlen(in[i]);
        out[i] = pub->types[c] == TIDE_STRING
                     ? tide_source_flat_store_string(pub->holders[c], in[i], l)
                     : tide__arena_store(&pub->sym_arena, in[i], l);
        if (!out[i]) {
          st = TIDE_ERR_NOMEM;
          break;
        }
      }
    } else {
      memcpy(dst, cols[c], n * w);
    }
  }
  if (st == TIDE_OK) pub->npend += n;
out:
  pthread_mutex_unlock(&pub->mu);
  if (st != TIDE_OK) return tide_error_set(err, st, "publisher.append: out of memory");
  return TIDE_OK;
}

void tide_publisher_free(tide_publisher_t *pub) {
  if (!pub) return;
  tide_table_t *t = pub->table;
  pthread_mutex_lock(&pub->mu);
  pub->table = NULL;
  pthread_mutex_unlock(&pub->mu);
  tide_table_free(t); /* may free pub (the node's state) */
}
