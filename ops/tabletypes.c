/*
 * Table-type conversions (include/tide/tabletypes.h): snapshot,
 * remove_blink, blink_to_append_only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>

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
#pragma omp parallel num_threads(nthreads)
  {
    uint64_t *keybuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *keybuf);
    if (!keybuf) {
#pragma omp atomic write
      failed = true;
    }
#pragma omp for schedule(dynamic, 1)
    for (int64_t m = 0; m < (int64_t)nmorsels; m++) {
      if (!keybuf) continue;
      uint64_t pos = (uint64_t)m * TIDE_MORSEL_ROWS;
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
