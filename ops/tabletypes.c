/*
 * Table-type conversions (include/tide/tabletypes.h): snapshot,
 * remove_blink, blink_to_append_only, ring_table.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>

#include <omp.h>

#include "sched/graph_int.h"
#include "sched/ticking_int.h"

static tide_rowset_t *rs_ref(tide_rowset_t *rs) { return rs ? tide_rowset_retain(rs) : NULL; }

/* ------------------------------------------------------------- snapshot */

/* Copy t's current rows into new flat sources (srcs[c], n rows each),
 * morsels in parallel. */
static tide_status snapshot_copy(const tide_table_t *t, uint64_t n, tide_source_t **srcs,
                                 tide_error *err) {
  uint64_t nmorsels = (n + TIDE_MORSEL_ROWS - 1) / TIDE_MORSEL_ROWS;
  bool failed = false;
  int nthreads = tide__threads_for(n);
  if ((uint64_t)nthreads > nmorsels) nthreads = nmorsels ? (int)nmorsels : 1;
  tide_morsels_t ms;
  if (tide__morsels_init(&ms, nmorsels, nthreads, NULL) != TIDE_OK)
    return tide_error_set(err, TIDE_ERR_NOMEM, "snapshot: out of memory");
  /* NUMA-aware morsels (numa/morsel.c): worker t copies its own block (the
   * rows of the new columns placed on its node) first. */
#pragma omp parallel num_threads(nthreads)
  {
    uint64_t *keybuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *keybuf);
    if (!keybuf) {
#pragma omp atomic write
      failed = true;
    }
    for (uint64_t m; keybuf && tide__morsels_next(&ms, omp_get_thread_num(), &m);) {
      uint64_t pos = m * TIDE_MORSEL_ROWS;
      uint64_t cnt = TIDE_MIN((uint64_t)TIDE_MORSEL_ROWS, n - pos);
      for (size_t c = 0; c < t->ncols; c++) {
        size_t w = tide_type_width(srcs[c]->type);
        char *data = tide_source_flat_data(srcs[c]);
        tide_rowset_iter_t it;
        tide_rowset_iter_init_pos(&it, t->rowset, pos, cnt);
        tide_rowseq_t seq;
        while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, keybuf))
          tide_source_fill(t->cols[c], &seq, data + (size_t)seq.pos * w);
      }
    }
    tide_free(keybuf);
  }
  tide__morsels_free(&ms);
  if (failed) return tide_error_set(err, TIDE_ERR_NOMEM, "snapshot: out of memory");
  return TIDE_OK;
}

tide_table_t *tide_snapshot(tide_table_t *t, tide_error *err) {
  if (!t) {
    tide_error_set(err, TIDE_ERR_INVALID, "snapshot: no table given");
    return NULL;
  }
  if (!tide_table_is_refreshing(t)) return tide_table_retain(t);
  tide_graph_t *g = tide__graph_snapshot_lock(t);
  tide_table_t *r = NULL;
  size_t nc = t->ncols;
  uint64_t n = tide_rowset_size(t->rowset);
  tide_source_t **srcs = tide_calloc(nc ? nc : 1, sizeof *srcs);
  if (!srcs) {
    tide_error_set(err, TIDE_ERR_NOMEM, "snapshot: out of memory");
    goto done;
  }
  for (size_t c = 0; c < nc; c++) {
    tide_source_t *in = t->cols[c];
    srcs[c] = tide_source_flat_create(in->type, n, err);
    if (!srcs[c]) {
      tide_error_prefix(err, "snapshot: column '%s'", t->names[c]);
      goto fail;
    }
    if (in->type == TIDE_SYMBOL) tide__source_set_symtab(srcs[c], in->symtab);
    if (in->type == TIDE_STRING && tide__source_keep_values_of(srcs[c], in) != TIDE_OK) {
      tide_error_set(err, TIDE_ERR_NOMEM, "snapshot: out of memory");
      goto fail;
    }
  }
  if (snapshot_copy(t, n, srcs, err) != TIDE_OK) goto fail;
  r = tide__table_from_sources(n, nc, (const char *const *)t->names, srcs, err);
  goto done;
fail:
  for (size_t c = 0; c < nc; c++) tide_source_release(srcs[c]);
done:
  tide_free(srcs);
  tide__graph_snapshot_unlock(g);
  return r;
}

/* --------------------------------------------------------- remove_blink */

static tide_status rb_notify(tide_gnode_t *n, tide_error *err) {
  const tide_update_t *pu = tide__gnode_parent_update(n, 0);
  tide_table_t *p = n->parents[0], *r = n->table;
  if (!pu) return TIDE_OK;
  tide_update_t u = {0};
  u.removed = rs_ref(pu->removed);
  u.added = rs_ref(pu->added);
  u.modified = rs_ref(pu->modified);
  bool ok = true;
  if (pu->nshifts) {
    u.shifts = tide_malloc(pu->nshifts * sizeof *u.shifts);
    ok = u.shifts != NULL;
    if (ok) {
      memcpy(u.shifts, pu->shifts, pu->nshifts * sizeof *u.shifts);
      u.nshifts = pu->nshifts;
    }
  }
  if (ok && pu->modified_cols) {
    size_t nw = (pu->ncols + 63) / 64;
    u.modified_cols = tide_malloc((nw ? nw : 1) * sizeof *u.modified_cols);
    ok = u.modified_cols != NULL;
    if (ok) {
      memcpy(u.modified_cols, pu->modified_cols, nw * sizeof *u.modified_cols);
      u.ncols = pu->ncols;
    }
  }
  if (!ok) {
    tide__update_clear(&u);
    return tide_error_set(err, TIDE_ERR_NOMEM, "remove_blink: out of memory");
  }
  tide_rowset_t *nrs = p->rowset != r->rowset ? tide_rowset_retain(p->rowset) : NULL;
  return tide__gnode_publish(n, &u, nrs, err);
}

static const tide_gnode_vt rb_vt = {"remove_blink", NULL, rb_notify, NULL};

tide_table_t *tide_remove_blink(tide_table_t *t, tide_error *err) {
  if (!t) {
    tide_error_set(err, TIDE_ERR_INVALID, "remove_blink: no table given");
    return NULL;
  }
  if (t->kind != TIDE_KIND_BLINK) return tide_table_retain(t);
  tide_graph_t *g = tide__graph_snapshot_lock(t);
  tide_table_t *r = tide_table_create(t->rowset, t->ncols, (const char *const *)t->names,
                                      t->cols, err);
  if (r && !tide__gnode_create(tide_table_graph(t), r, TIDE_KIND_STANDARD, &rb_vt, &t, 1, NULL,
                               err)) {
    tide_table_free(r);
    r = NULL;
  }
  if (!r) tide_error_prefix(err, "remove_blink");
  tide__graph_snapshot_unlock(g);
  return r;
}

/* ------------------------------------------------- blink_to_append_only */

typedef struct b2a_state {
  uint64_t next; /* the next row key */
  uint64_t *keybuf, *dstkeys;
  void *valbuf;
} b2a_state;

static void b2a_state_free(b2a_state *s) {
  if (!s) return;
  tide_free(s->keybuf);
  tide_free(s->dstkeys);
  tide_free(s->valbuf);
  tide_free(s);
}

/* Append the rows of `rows` (keys of parent p) to r's sources at keys
 * s->next, s->next + 1, ...; returns how many. */
static tide_status b2a_append(b2a_state *s, tide_table_t *r, const tide_table_t *p,
                              const tide_rowset_t *rows, uint64_t *count, tide_error *err) {
  *count = 0;
  if (!rows || tide_rowset_is_empty(rows)) return TIDE_OK;
  tide_rowset_iter_t it;
  tide_rowset_iter_init(&it, rows);
  tide_rowseq_t seq;
  uint64_t off = 0;
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->keybuf)) {
    tide__tick_iota(s->dstkeys, s->next + off, seq.n);
    for (size_t c = 0; c < r->ncols; c++)
      if (tide__tick_copy_chunk(r->cols[c], p->cols[c], &seq, s->dstkeys, s->valbuf) != TIDE_OK)
        return tide_error_set(err, TIDE_ERR_NOMEM, "blink_to_append_only: out of memory");
    off += seq.n;
  }
  *count = off;
  return TIDE_OK;
}

static tide_status b2a_notify(tide_gnode_t *n, tide_error *err) {
  const tide_update_t *pu = tide__gnode_parent_update(n, 0);
  b2a_state *s = n->state;
  if (!pu || !pu->added) return TIDE_OK;
  uint64_t cnt;
  if (b2a_append(s, n->table, n->parents[0], pu->added, &cnt, err) != TIDE_OK) return TIDE_ERR_NOMEM;
  uint64_t first = s->next;
  s->next += cnt;
  return tide__tick_publish_append(n, first, cnt, false, err);
}

static void b2a_destroy(tide_gnode_t *n) { b2a_state_free(n->state); }

static const tide_gnode_vt b2a_vt = {"blink_to_append_only", NULL, b2a_notify, b2a_destroy};

tide_table_t *tide_blink_to_append_only(tide_table_t *t, tide_error *err) {
  if (!t) {
    tide_error_set(err, TIDE_ERR_INVALID, "blink_to_append_only: no table given");
    return NULL;
  }
  if (t->kind != TIDE_KIND_BLINK) {
    tide_error_set(err, TIDE_ERR_INVALID,
                   "blink_to_append_only: the table must be a blink table (it is %s)",
                   tide_table_is_refreshing(t) ? "a refreshing non-blink table" : "static");
    return NULL;
  }
  tide_graph_t *lk = tide__graph_snapshot_lock(t);
  tide_graph_t *g = tide_table_graph(t);
  size_t nc = t->ncols;
  tide_table_t *r = NULL;
  tide_type_t *types = tide_calloc(nc ? nc : 1, sizeof *types);
  tide_symtab_t **st = tide_calloc(nc ? nc : 1, sizeof *st);
  b2a_state *s = tide_calloc(1, sizeof *s);
  if (!types || !st || !s) goto oom;
  s->keybuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->keybuf);
  s->dstkeys = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->dstkeys);
  s->valbuf = tide_malloc(TIDE_CHUNK_SIZE * 8);
  if (!s->keybuf || !s->dstkeys || !s->valbuf) goto oom;
  for (size_t c = 0; c < nc; c++) {
    types[c] = t->cols[c]->type;
    st[c] = t->cols[c]->symtab;
  }
  r = tide__tick_table_new(g, nc, (const char *const *)t->names, types, st,
                           "blink_to_append_only", err);
  if (!r) goto fail;
  for (size_t c = 0; c < nc; c++)
    if (tide__source_keep_values_of(r->cols[c], t->cols[c]) != TIDE_OK) goto oom;
  /* the rows the blink table holds now */
  uint64_t cnt;
  if (b2a_append(s, r, t, t->rowset, &cnt, err) != TIDE_OK) goto fail;
  if (cnt) {
    tide_rowset_t *rs = tide_rowset_create_range(0, cnt - 1);
    if (!rs) goto oom;
    tide_rowset_free(r->rowset);
    r->rowset = rs;
    s->next = cnt;
  }
  if (!tide__gnode_create(g, r, TIDE_KIND_APPEND_ONLY, &b2a_vt, &t, 1, s, err)) goto fail;
  tide_free(types);
  tide_free(st);
  tide__graph_snapshot_unlock(lk);
  return r;
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "blink_to_append_only: out of memory");
fail:
  b2a_state_free(s);
  tide_table_free(r);
  tide_free(types);
  tide_free(st);
  tide__graph_snapshot_unlock(lk);
  return NULL;
}

/* ----------------------------------------------------------- ring_table */

/* A ring column: row key k reads slot k % cap of a paged source of cap
 * slots (previous values through the slot's undo log). */
typedef struct ring_source {
  tide_source_t base;
  tide_source_t *inner; /* one reference */
  uint64_t cap;
} ring_source;

#define RING_SUB 512

static void ring_fill_any(const tide_source_t *src, const tide_rowseq_t *seq, void *dst, bool prev) {
  const ring_source *r = (const ring_source *)src;
  size_t w = tide_type_width(src->type);
  uint64_t slots[RING_SUB];
  for (uint32_t off = 0; off < seq->n; off += RING_SUB) {
    uint32_t n = TIDE_MIN((uint32_t)RING_SUB, seq->n - off);
    if (seq->keys)
      for (uint32_t i = 0; i < n; i++) slots[i] = seq->keys[off + i] % r->cap;
    else
      for (uint32_t i = 0; i < n; i++) slots[i] = (seq->first + off + i) % r->cap;
    tide_rowseq_t sub = {0, slots, seq->pos + off, n};
    if (prev)
      tide_source_fill_prev(r->inner, &sub, (char *)dst + (size_t)off * w);
    else
      tide_source_fill(r->inner, &sub, (char *)dst + (size_t)off * w);
  }
}

static void ring_fill(const tide_source_t *src, const tide_rowseq_t *seq, void *dst) {
  ring_fill_any(src, seq, dst, false);
}

static void ring_fill_prev(const tide_source_t *src, const tide_rowseq_t *seq, void *dst) {
  ring_fill_any(src, seq, dst, true);
}

static const void *ring_direct(const tide_source_t *src, uint64_t first, uint32_t n) {
  const ring_source *r = (const ring_source *)src;
  uint64_t slot = first % r->cap;
  if (!r->inner->vt->direct || slot + n > r->cap) return NULL;
  return r->inner->vt->direct(r->inner, slot, n);
}

static void ring_destroy(tide_source_t *src) { tide_source_release(((ring_source *)src)->inner); }

static const tide_source_vt ring_vt = {"ring", ring_fill, ring_direct, ring_destroy,
                                       ring_fill_prev};

/* A ring column over inner (reference moved in; released on failure). */
static tide_source_t *ring_source_create(tide_source_t *inner, uint64_t cap) {
  ring_source *r = tide_malloc(sizeof *r);
  if (!r) {
    tide_source_release(inner);
    return NULL;
  }
  tide__source_init(&r->base, &ring_vt, inner->type);
  r->inner = inner;
  r->cap = cap;
  if (inner->symtab) tide__source_set_symtab(&r->base, inner->symtab);
  return &r->base;
}

typedef struct ring_state {
  uint64_t cap;
  uint64_t next;     /* the row key the next arriving row gets */
  uint64_t size;     /* rows held: keys [next - size, next) */
  tide_source_t **slots; /* per column: the paged slot source (borrowed) */
  uint64_t *keybuf, *dstkeys;
  void *valbuf;
} ring_state;

static void ring_state_free(ring_state *s) {
  if (!s) return;
  tide_free(s->slots);
  tide_free(s->keybuf);
  tide_free(s->dstkeys);
  tide_free(s->valbuf);
  tide_free(s);
}

/* Take in the rows of `rows` (keys of p, in arrival order): the last cap
 * of them are written to their slots. Returns how many arrived. */
static tide_status ring_take(ring_state *s, size_t ncols, const tide_table_t *p,
                             const tide_rowset_t *rows, uint64_t *count, tide_error *err) {
  uint64_t m = rows ? tide_rowset_size(rows) : 0;
  *count = m;
  if (!m) return TIDE_OK;
  uint64_t take = TIDE_MIN(m, s->cap);
  uint64_t first = s->next + (m - take); /* row key of the first kept row */
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init_pos(&it, rows, m - take, take);
  uint64_t off = 0;
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->keybuf)) {
    for (uint32_t i = 0; i < seq.n; i++) s->dstkeys[i] = (first + off + i) % s->cap;
    for (size_t c = 0; c < ncols; c++)
      if (tide__tick_copy_chunk(s->slots[c], p->cols[c], &seq, s->dstkeys, s->valbuf) != TIDE_OK)
        return tide_error_set(err, TIDE_ERR_NOMEM, "ring_table: out of memory");
    off += seq.n;
  }
  return TIDE_OK;
}

static tide_status ring_notify(tide_gnode_t *n, tide_error *err) {
  const tide_update_t *pu = tide__gnode_parent_update(n, 0);
  ring_state *s = n->state;
  tide_table_t *r = n->table;
  if (!pu || !pu->added || tide_rowset_is_empty(pu->added)) return TIDE_OK;
  uint64_t m;
  TIDE_TRY(ring_take(s, r->ncols, n->parents[0], pu->added, &m, err));
  uint64_t old_first = s->next - s->size, old_next = s->next;
  s->next += m;
  s->size = TIDE_MIN(s->cap, s->size + m);
  uint64_t new_first = s->next - s->size;
  tide_update_t u = {0};
  tide_rowset_t *nrs = tide_rowset_create_range(new_first, s->next - 1);
  uint64_t add_first = TIDE_MAX(new_first, old_next);
  u.added = tide_rowset_create_range(add_first, s->next - 1);
  if (!nrs || !u.added) goto oom;
  if (new_first > old_first && old_next > old_first) {
    u.removed = tide_rowset_create_range(old_first, TIDE_MIN(new_first, old_next) - 1);
    if (!u.removed) goto oom;
  }
  return tide__gnode_publish(n, &u, nrs, err);
oom:
  tide__update_clear(&u);
  tide_rowset_free(nrs);
  return tide_error_set(err, TIDE_ERR_NOMEM, "ring_table: out of memory");
}

static void ring_destroy_node(tide_gnode_t *n) { ring_state_free(n->state); }

static const tide_gnode_vt ring_node_vt = {"ring_table", NULL, ring_notify, ring_destroy_node};

tide_table_t *tide_ring_table(tide_table_t *t, uint64_t capacity, bool initialize,
                              tide_error *err) {
  if (!t) {
    tide_error_set(err, TIDE_ERR_INVALID, "ring_table: no table given");
    return NULL;
  }
  if (capacity == 0) {
    tide_error_set(err, TIDE_ERR_INVALID, "ring_table: the capacity must be positive");
    return NULL;
  }
  if (!tide_table_is_refreshing(t)) {
    tide_table_t *r = tide_tail(t, initialize ? capacity : 0, err);
    if (!r) tide_error_prefix(err, "ring_table");
    return r;
  }
  if (t->kind != TIDE_KIND_BLINK && t->kind != TIDE_KIND_APPEND_ONLY) {
    static const char *const kn[] = {"static", "standard", "append-only", "add-only", "blink",
                                     "ring"};
    tide_error_set(err, TIDE_ERR_INVALID,
                   "ring_table: the table must be a blink or append-only table (it is a %s "
                   "table, whose rows have no arrival order)",
                   (size_t)t->kind < sizeof kn / sizeof kn[0] ? kn[t->kind] : "?");
    return NULL;
  }
  tide_graph_t *lk = tide__graph_snapshot_lock(t);
  tide_graph_t *g = tide_table_graph(t);
  size_t nc = t->ncols;
  tide_table_t *r = NULL;
  tide_rowset_t *rs = NULL;
  tide_source_t **cols = tide_calloc(nc ? nc : 1, sizeof *cols);
  ring_state *s = tide_calloc(1, sizeof *s);
  if (!cols || !s) goto oom;
  s->cap = capacity;
  s->slots = tide_calloc(nc ? nc : 1, sizeof *s->slots);
  s->keybuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->keybuf);
  s->dstkeys = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->dstkeys);
  s->valbuf = tide_malloc(TIDE_CHUNK_SIZE * 8);
  if (!s->slots || !s->keybuf || !s->dstkeys || !s->valbuf) goto oom;
  for (size_t c = 0; c < nc; c++) {
    tide_source_t *in = t->cols[c];
    tide_source_t *p = tide__source_paged_create(in->type, in->symtab, err);
    if (!p) goto fail;
    if (tide__source_track_prev(p, tide__graph_step_ptr(g)) != TIDE_OK ||
        tide__source_keep_values_of(p, in) != TIDE_OK) {
      tide_source_release(p);
      goto oom;
    }
    s->slots[c] = p;
    cols[c] = ring_source_create(p, capacity); /* takes p */
    if (!cols[c]) goto oom;
  }
  if (initialize) {
    uint64_t m;
    if (ring_take(s, nc, t, t->rowset, &m, err) != TIDE_OK) goto fail;
    s->next = m;
    s->size = TIDE_MIN(m, capacity);
  }
  rs = s->size ? tide_rowset_create_range(s->next - s->size, s->next - 1) : tide_rowset_create();
  if (!rs) goto oom;
  r = tide_table_create(rs, nc, (const char *const *)t->names, cols, err);
  if (!r) {
    tide_error_prefix(err, "ring_table");
    goto fail;
  }
  if (!tide__gnode_create(g, r, TIDE_KIND_RING, &ring_node_vt, &t, 1, s, err)) {
    tide_error_prefix(err, "ring_table");
    goto fail;
  }
  s = NULL;
  goto done;
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "ring_table: out of memory");
fail:
  tide_table_free(r);
  r = NULL;
done:
  ring_state_free(s);
  for (size_t c = 0; cols && c < nc; c++) tide_source_release(cols[c]);
  tide_free(cols);
  tide_rowset_free(rs);
  tide__graph_snapshot_unlock(lk);
  return r;
}
