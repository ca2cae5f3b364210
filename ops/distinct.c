/*
 * select_distinct: the distinct combinations of the listed columns, in
 * order of first appearance. Rows are grouped (kernels/agg_group.c) and
 * each group's key is gathered at its first row, so SYMBOL columns keep
 * their dictionary and STRING columns point into the input (kept alive by
 * the output sources). Entries may rename: "New=Old". With no columns,
 * every column of the table is used.
 *
 * Ticking inputs (docs/TICKING.md, decision 5): the key tuples are hashed
 * (kernels/hash.h) to ids 0, 1, 2, ... in order of first appearance ever;
 * ids are never reused. Per id the number of input rows holding it; per
 * input row its id (a paged int64 map keyed by the input's row key, moved
 * through the input's shifts), so removed and re-keyed rows need no
 * previous values. A cycle uncounts removed rows, moves modified rows
 * whose key columns changed, counts added rows (O(changed rows), plus the
 * rows inside shift ranges); an id whose count drops to 0 is removed from
 * the result, an id whose count becomes positive is added. The result's
 * row key is the id and its key values are written once, when the id is
 * created (paged columns tracking previous values), so rows are never
 * modified or shifted.
 *
 * Row order: as in Deephaven (an aggregation without operators), a key
 * keeps its slot for its whole life: a key that disappears and comes back
 * returns at its old position, and a key first seen in a row added before
 * older rows still comes after them. The result is therefore in order of
 * first appearance over the whole history, which equals the static order
 * (first appearance among the current rows) for append-only inputs and,
 * over the concatenated stream, for blink inputs; for standard and add-only
 * inputs (rows added before older ones, removals) compare as sets of rows.
 *
 * Result kind: STANDARD for standard inputs; APPEND_ONLY for append-only,
 * add-only and blink inputs (ids are only ever added, in increasing
 * order). Blink inputs: like Deephaven's aggregations over blink tables,
 * the result holds every distinct key of the whole observed stream
 * (removals of a blink input are not uncounted).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>

#include "kernels/agg.h"
#include "kernels/hash.h"
#include "sched/ticking_int.h"

#define DISTINCT_NAME_MAX 256

/* ------------------------------------------------------------ incremental */

/* State of a ticking select_distinct (see the header comment). */
typedef struct sd_state {
  size_t nk;
  int *idx;               /* input column of each key */
  tide_type_t *types;
  tide_keyset_t *ks;      /* key tuple -> id (first appearance ever) */
  tide_source_t *map;     /* input row key -> id (paged int64; not for blink) */
  bool blink;
  uint32_t ng, gcap;
  int64_t *cnt;           /* input rows per id */
  uint64_t *stamp;        /* cycle of the last touch */
  uint8_t *was;           /* present before the cycle (touched ids) */
  uint32_t *touched;
  uint32_t ntouched;
  uint64_t cyc;
  /* chunk scratch */
  uint64_t *keybuf, *gk, *ukeys;
  int64_t *ibuf;
  uint32_t *ids, *rowof;
  void **kvals;           /* nk buffers of TIDE_CHUNK_SIZE * 8 bytes */
  void *wbuf;
} sd_state;

static void sd_state_free(sd_state *s) {
  if (!s) return;
  tide_free(s->idx);
  tide_free(s->types);
  if (s->ks) tide__keyset_free(s->ks);
  tide_source_release(s->map);
  tide_free(s->cnt);
  tide_free(s->stamp);
  tide_free(s->was);
  tide_free(s->touched);
  tide_free(s->keybuf);
  tide_free(s->gk);
  tide_free(s->ukeys);
  tide_free(s->ibuf);
  tide_free(s->ids);
  tide_free(s->rowof);
  if (s->kvals)
    for (size_t k = 0; k < s->nk; k++) tide_free(s->kvals[k]);
  tide_free(s->kvals);
  tide_free(s->wbuf);
  tide_free(s);
}

static tide_status sd_oom(tide_error *err) {
  return tide_error_set(err, TIDE_ERR_NOMEM, "select_distinct: out of memory");
}

static bool sd_grow(void **p, size_t oldn, size_t newn, size_t w) {
  void *q = tide_realloc(*p, newn * w);
  if (!q) return false;
  memset((char *)q + oldn * w, 0, (newn - oldn) * w);
  *p = q;
  return true;
}

/* Room for ids < need. */
static tide_status sd_reserve(sd_state *s, uint32_t need, tide_error *err) {
  if (need <= s->gcap) return TIDE_OK;
  uint32_t cap = s->gcap ? s->gcap : 64;
  while (cap < need) cap *= 2;
  if (!sd_grow((void **)&s->cnt, s->gcap, cap, sizeof *s->cnt) ||
      !sd_grow((void **)&s->stamp, s->gcap, cap, sizeof *s->stamp) ||
      !sd_grow((void **)&s->was, s->gcap, cap, sizeof *s->was) ||
      !sd_grow((void **)&s->touched, s->gcap, cap, sizeof *s->touched))
    return sd_oom(err);
  s->gcap = cap;
  return TIDE_OK;
}

/* Key tuples of the rows seq of t (current values) into ids, inserting new
 * tuples; new ids get their key values written to the result r at row key
 * = id. */
static tide_status sd_ids(sd_state *s, const tide_table_t *t, tide_table_t *r,
                          const tide_rowseq_t *seq, tide_error *err) {
  const uint32_t n = seq->n;
  for (size_t k = 0; k < s->nk; k++) tide_source_fill(t->cols[s->idx[k]], seq, s->kvals[k]);
  uint32_t before = tide__keyset_size(s->ks);
  if (tide__keyset_insert(s->ks, (const void *const *)s->kvals, n, s->ids) != TIDE_OK)
    return sd_oom(err);
  uint32_t after = tide__keyset_size(s->ks);
  if (after == before) return TIDE_OK;
  TIDE_TRY(sd_reserve(s, after, err));
  /* new ids are assigned in row order */
  uint32_t nn = 0, next = before;
  for (uint32_t i = 0; i < n; i++)
    if (s->ids[i] == next) {
      s->gk[nn] = next++;
      s->rowof[nn++] = i;
    }
  for (size_t k = 0; k < s->nk; k++) {
    size_t w = tide_type_width(s->types[k]);
    unsigned char *dst = s->wbuf;
    const unsigned char *src = s->kvals[k];
    for (uint32_t j = 0; j < nn; j++) memcpy(dst + (size_t)j * w, src + (size_t)s->rowof[j] * w, w);
    if (tide__source_paged_set(r->cols[k], s->gk, nn, dst) != TIDE_OK) return sd_oom(err);
  }
  s->ng = after;
  return TIDE_OK;
}

/* Count d for the ids ids[0..n), remembering touched ids' presence. */
static void sd_count(sd_state *s, const uint32_t *ids, uint32_t n, int64_t d) {
  for (uint32_t i = 0; i < n; i++) {
    uint32_t g = ids[i];
    if (s->stamp[g] != s->cyc) {
      s->stamp[g] = s->cyc;
      s->was[g] = s->cnt[g] > 0;
      s->touched[s->ntouched++] = g;
    }
    s->cnt[g] += d;
  }
}

/* The rows of rs as keys of s->keybuf chunks: ids of current values
 * inserted and counted, the map written (non-blink). */
static tide_status sd_add_rows(sd_state *s, const tide_table_t *t, tide_table_t *r,
                               const tide_rowset_t *rs, tide_error *err) {
  if (!rs || tide_rowset_is_empty(rs)) return TIDE_OK;
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init(&it, rs);
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->keybuf)) {
    TIDE_TRY(sd_ids(s, t, r, &seq, err));
    sd_count(s, s->ids, seq.n, 1);
    if (s->map) {
      const uint64_t *keys = seq.keys;
      if (!keys) {
        tide__tick_iota(s->ukeys, seq.first, seq.n);
        keys = s->ukeys;
      }
      for (uint32_t i = 0; i < seq.n; i++) s->ibuf[i] = (int64_t)s->ids[i];
      if (tide__source_paged_set(s->map, keys, seq.n, s->ibuf) != TIDE_OK) return sd_oom(err);
    }
  }
  return TIDE_OK;
}

/* Removed rows (previous keys): their ids from the map, uncounted. */
static tide_status sd_remove_rows(sd_state *s, const tide_rowset_t *rs, tide_error *err) {
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init(&it, rs);
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->keybuf)) {
    tide_source_fill(s->map, &seq, s->ibuf);
    for (uint32_t i = 0; i < seq.n; i++) {
      if (s->ibuf[i] < 0 || (uint64_t)s->ibuf[i] >= s->ng)
        return tide_error_set(err, TIDE_ERR_STATE,
                              "select_distinct: removed row %llu was never added",
                              (unsigned long long)(seq.keys ? seq.keys[i] : seq.first + i));
      s->ids[i] = (uint32_t)s->ibuf[i];
    }
    sd_count(s, s->ids, seq.n, -1);
  }
  return TIDE_OK;
}

/* Modified rows (current keys, key columns changed): move rows whose key
 * tuple changed to their new id. */
static tide_status sd_modify_rows(sd_state *s, const tide_table_t *t, tide_table_t *r,
                                  const tide_rowset_t *rs, tide_error *err) {
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init(&it, rs);
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->keybuf)) {
    tide_source_fill(s->map, &seq, s->ibuf);
    TIDE_TRY(sd_ids(s, t, r, &seq, err));
    const uint64_t *keys = seq.keys;
    if (!keys) {
      tide__tick_iota(s->ukeys, seq.first, seq.n);
      keys = s->ukeys;
    }
    uint32_t nc = 0;
    for (uint32_t i = 0; i < seq.n; i++) {
      if (s->ibuf[i] < 0 || (uint64_t)s->ibuf[i] >= s->ng)
        return tide_error_set(err, TIDE_ERR_STATE,
                              "select_distinct: modified row %llu was never added",
                              (unsigned long long)keys[i]);
      uint32_t old = (uint32_t)s->ibuf[i];
      if (old == s->ids[i]) continue;
      /* compact the changed rows: old ids into rowof, new into ids, keys
       * into gk */
      s->rowof[nc] = old;
      s->ids[nc] = s->ids[i];
      s->gk[nc++] = keys[i];
    }
    sd_count(s, s->rowof, nc, -1);
    sd_count(s, s->ids, nc, 1);
    for (uint32_t i = 0; i < nc; i++) s->ibuf[i] = (int64_t)s->ids[i];
    if (nc && tide__source_paged_set(s->map, s->gk, nc, s->ibuf) != TIDE_OK) return sd_oom(err);
  }
  return TIDE_OK;
}

static int sd_cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Publish the ids that appeared or disappeared in this cycle. */
static tide_status sd_finish(sd_state *s, tide_gnode_t *n, tide_error *err) {
  tide_table_t *r = n->table;
  uint64_t *add = NULL, *rem = NULL;
  uint64_t na = 0, nr = 0;
  tide_update_t u = {0};
  tide_rowset_t *nrs = NULL;
  if (s->ntouched) {
    add = tide_malloc(s->ntouched * sizeof *add);
    rem = tide_malloc(s->ntouched * sizeof *rem);
    if (!add || !rem) goto oom;
  }
  for (uint32_t i = 0; i < s->ntouched; i++) {
    uint32_t g = s->touched[i];
    bool now = s->cnt[g] > 0;
    if (now && !s->was[g]) add[na++] = g;
    if (!now && s->was[g]) rem[nr++] = g;
  }
  s->ntouched = 0;
  if (!na && !nr) goto done;
  qsort(add, na, sizeof *add, sd_cmp_u64);
  qsort(rem, nr, sizeof *rem, sd_cmp_u64);
  nrs = tide_rowset_copy(r->rowset);
  if (!nrs) goto oom;
  if (na) {
    u.added = tide_rowset_from_keys(add, na);
    if (!u.added || tide_rowset_union_inplace(nrs, u.added) != TIDE_OK) goto oom;
  }
  if (nr) {
    u.removed = tide_rowset_from_keys(rem, nr);
    if (!u.removed || tide_rowset_minus_inplace(nrs, u.removed) != TIDE_OK) goto oom;
  }
  tide_free(add);
  tide_free(rem);
  return tide__gnode_publish(n, &u, nrs, err);
oom:
  tide__update_clear(&u);
  tide_rowset_free(nrs);
  tide_free(add);
  tide_free(rem);
  return sd_oom(err);
done:
  tide_free(add);
  tide_free(rem);
  return TIDE_OK;
}

static tide_status sd_notify(tide_gnode_t *n, tide_error *err) {
  sd_state *s = n->state;
  tide_table_t *t = n->parents[0], *r = n->table;
  const tide_update_t *pu = tide__gnode_parent_update(n, 0);
  if (!pu) return TIDE_OK;
  s->cyc++;
  s->ntouched = 0;
  if (!s->blink) {
    if (pu->removed && !tide_rowset_is_empty(pu->removed))
      TIDE_TRY(sd_remove_rows(s, pu->removed, err));
    if (pu->nshifts) {
      /* the previous keys that stay */
      const tide_rowset_t *prev = tide_table_prev_rowset(t);
      tide_rowset_t *kept =
          pu->removed ? tide_rowset_minus(prev, pu->removed) : tide_rowset_copy(prev);
      if (!kept) return sd_oom(err);
      tide_status st = tide__source_paged_shift(s->map, pu->shifts, pu->nshifts, kept);
      tide_rowset_free(kept);
      if (st != TIDE_OK)
        return tide_error_set(err, st, "select_distinct: cannot apply the input's shifts");
    }
    bool keymod = false;
    for (size_t k = 0; k < s->nk && !keymod; k++)
      keymod = tide_update_col_modified(pu, (size_t)s->idx[k]);
    if (keymod && pu->modified && !tide_rowset_is_empty(pu->modified))
      TIDE_TRY(sd_modify_rows(s, t, r, pu->modified, err));
  }
  TIDE_TRY(sd_add_rows(s, t, r, pu->added, err));
  return sd_finish(s, n, err);
}

static void sd_destroy(tide_gnode_t *n) { sd_state_free(n->state); }

static const tide_gnode_vt sd_vt = {"select_distinct", NULL, sd_notify, sd_destroy};

/* The ticking build: under the graph's read lock. */
static tide_table_t *sd_ticking(tide_table_t *t, size_t n, const char *const *np, const int *idx,
                                tide_error *err) {
  const char *op = "select_distinct";
  tide_graph_t *g = tide_table_graph(t);
  tide_table_t *r = NULL;
  tide_symtab_t **st = tide_calloc(n ? n : 1, sizeof *st);
  sd_state *s = tide_calloc(1, sizeof *s);
  if (!st || !s) goto oom;
  s->nk = n;
  s->blink = t->kind == TIDE_KIND_BLINK;
  s->idx = tide_calloc(n ? n : 1, sizeof *s->idx);
  s->types = tide_calloc(n ? n : 1, sizeof *s->types);
  s->kvals = tide_calloc(n ? n : 1, sizeof *s->kvals);
  s->keybuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->keybuf);
  s->gk = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->gk);
  s->ukeys = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->ukeys);
  s->ibuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->ibuf);
  s->ids = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->ids);
  s->rowof = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->rowof);
  s->wbuf = tide_malloc(TIDE_CHUNK_SIZE * 8);
  if (!s->idx || !s->types || !s->kvals || !s->keybuf || !s->gk || !s->ukeys || !s->ibuf ||
      !s->ids || !s->rowof || !s->wbuf)
    goto oom;
  for (size_t k = 0; k < n; k++) {
    s->idx[k] = idx[k];
    s->types[k] = t->cols[idx[k]]->type;
    st[k] = t->cols[idx[k]]->symtab;
    s->kvals[k] = tide_malloc(TIDE_CHUNK_SIZE * 8);
    if (!s->kvals[k]) goto oom;
  }
  s->ks = tide__keyset_create(n, s->types, tide_rowset_size(t->rowset), err);
  if (!s->ks) goto fail;
  if (!s->blink) {
    s->map = tide__source_paged_create(TIDE_I64, NULL, err);
    if (!s->map) goto fail;
  }
  r = tide__tick_table_new(g, n, np, s->types, st, op, err);
  if (!r) goto fail;
  for (size_t k = 0; k < n; k++)
    if (tide__source_keep_values_of(r->cols[k], t->cols[idx[k]]) != TIDE_OK) goto oom;
  s->cyc = 1;
  if (sd_add_rows(s, t, r, t->rowset, err) != TIDE_OK) goto fail;
  s->ntouched = 0;
  if (s->ng) {
    tide_rowset_t *rs = tide_rowset_create_range(0, s->ng - 1);
    if (!rs) goto oom;
    tide_rowset_free(r->rowset);
    r->rowset = rs;
  }
  /* ids only ever get appended unless the input removes or modifies rows */
  tide_table_kind_t kind = t->kind == TIDE_KIND_STANDARD || t->kind == TIDE_KIND_RING
                               ? TIDE_KIND_STANDARD
                               : TIDE_KIND_APPEND_ONLY;
  if (!tide__gnode_create(g, r, kind, &sd_vt, &t, 1, s, err)) goto fail;
  tide_free(st);
  return r;
oom:
  sd_oom(err);
fail:
  sd_state_free(s);
  tide_table_free(r);
  tide_free(st);
  return NULL;
}

/* ------------------------------------------------------------ builds */

tide_table_t *tide_select_distinct(tide_table_t *t, const char *const *cols, size_t ncols,
                                   tide_error *err) {
  const char *op = "select_distinct";
  if (!t) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: no table", op);
    return NULL;
  }
  if (ncols && !cols) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: no columns given", op);
    return NULL;
  }
  const bool all = ncols == 0;
  const size_t n = all ? t->ncols : ncols;
  char (*names)[DISTINCT_NAME_MAX] = tide_calloc(n ? n : 1, sizeof *names);
  const char **np = tide_malloc((n ? n : 1) * sizeof *np);
  tide_source_t **in = tide_malloc((n ? n : 1) * sizeof *in);
  int *idxs = tide_malloc((n ? n : 1) * sizeof *idxs);
  tide_source_t **out = tide_calloc(n ? n : 1, sizeof *out);
  tide_table_t *res = NULL;
  tide_groups_t g;
  memset(&g, 0, sizeof g);
  tide_graph_t *lk = tide__graph_snapshot_lock(t);
  if (!names || !np || !in || !out || !idxs) {
    tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
    goto done;
  }
  for (size_t k = 0; k < n; k++) {
    int idx;
    if (all) {
      idx = (int)k;
      snprintf(names[k], DISTINCT_NAME_MAX, "%s", t->names[k]);
    } else {
      char r[DISTINCT_NAME_MAX];
      if (!tide__split_pair(cols[k], names[k], r, DISTINCT_NAME_MAX)) {
        tide_error_set(err, TIDE_ERR_PARSE, "%s: malformed column entry '%s'", op,
                       cols[k] ? cols[k] : "");
        goto done;
      }
      idx = tide__col_lookup(t, r, op, err);
      if (idx < 0) goto done;
    }
    np[k] = names[k];
    in[k] = t->cols[idx];
    idxs[k] = idx;
  }
  if (t->node) {
    res = sd_ticking(t, n, np, idxs, err);
    goto done;
  }
  if (tide__groups_build(t->rowset, n, in, &g, op, err) != TIDE_OK) goto done;
  for (size_t k = 0; k < n; k++) {
    out[k] = tide_source_flat_create(in[k]->type, g.ngroups, err);
    if (!out[k]) goto done;
    if (in[k]->type == TIDE_SYMBOL) tide__source_set_symtab(out[k], in[k]->symtab);
    if (tide__source_keep_values_of(out[k], in[k]) != TIDE_OK) {
      tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
      goto done;
    }
    char *dst = tide_source_flat_data(out[k]);
    const size_t w = tide_type_width(in[k]->type);
    for (uint64_t off = 0; off < g.ngroups; off += TIDE_CHUNK_SIZE) {
      tide_rowseq_t seq = {0, g.first_key + off, 0,
                           (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, g.ngroups - off)};
      tide_source_fill(in[k], &seq, dst + off * w);
    }
  }
  res = tide__table_from_sources(g.ngroups, n, np, out, err);
  memset(out, 0, n * sizeof *out);
  if (!res) tide_error_prefix(err, "%s", op);
done:
  if (out)
    for (size_t k = 0; k < n; k++) tide_source_release(out[k]);
  tide__groups_destroy(&g);
  tide_free(names);
  tide_free(np);
  tide_free(in);
  tide_free(idxs);
  tide_free(out);
  tide__graph_snapshot_unlock(lk);
  return res;
}
