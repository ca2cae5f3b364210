/*
 * Input tables: rows added and deleted by key from any thread, applied at
 * the next cycle of the update graph.
 *
 * Keyed tables map key tuples to row keys with the columnar hash table
 * (kernels/hash.h): a key's row key is its dense id in the key set, so a
 * key deleted and later added again comes back at the same row key, and
 * the RowSet is the set of ids whose key is live. `live[id]` is the
 * published state, `next[id]` the state after the queued operations; a
 * cycle applies the queue in order (writing values, setting next), then
 * classifies each touched id: live -> live is a modification (every
 * non-key column marked modified), dead -> live an addition, live -> dead
 * a removal. Deleted rows keep their values, so previous values and the
 * undo log of the paged columns serve listeners.
 *
 * Unkeyed tables are append-only: row keys count up.
 *
 * Queued batches are static tables, which are immutable, so a batch is
 * queued by reference (no copy). STRING values are copied into a holder
 * source per column (kept alive by the column); they accumulate for the
 * life of the table.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/hash.h"
#include "sched/ticking_int.h"

typedef struct in_op_t {
  bool del;
  tide_table_t *rows; /* one reference */
  int *map;           /* input column -> column of rows (-1: not used) */
} in_op_t;

typedef struct input_state_t {
  pthread_mutex_t mu;
  in_op_t *ops;
  size_t nops, opcap;
  size_t nkeys;
  int *keycols;            /* input column index of each key */
  bool *is_key;            /* per input column */
  tide_keyset_t *ks;       /* keyed tables */
  uint8_t *live, *next;    /* per key id */
  uint8_t *seen;           /* per key id: touched in this cycle */
  size_t idcap;
  uint64_t next_key;       /* unkeyed: the next row key */
  tide_source_t **holders; /* STRING columns: a flat source owning copies */
  /* scratch (writer thread) */
  uint64_t *keybuf, *dstkeys;
  uint32_t *ids;
  uint32_t *newidx;        /* rows of the chunk with a new key */
  uint64_t *newkeys;
  void **convbuf;          /* per column, TIDE_CHUNK_SIZE values */
  const void **keyvals;    /* per key */
  uint64_t *touched;
  size_t ntouched, touchcap;
} input_state_t;

static bool type_compatible(tide_type_t want, tide_type_t have) {
  if (want == have) return true;
  return (want == TIDE_STRING || want == TIDE_SYMBOL) &&
         (have == TIDE_STRING || have == TIDE_SYMBOL);
}

/* ------------------------------------------------------- value conversion */

/* Per batch column: translation of the batch's symbol codes into the input
 * column's dictionary (-3: not yet looked up). */
typedef struct symcache_t {
  int32_t *map;
  uint32_t n;
} symcache_t;

/* Values of batch column `bsrc` at seq, in the storage representation of
 * input column c (type `want`, dictionary `dst_st`). Returns a pointer to
 * the values (into buf or storage); NULL on OOM. */
static const void *conv_chunk(tide_type_t want, tide_symtab_t *dst_st, const tide_source_t *bsrc,
                              const tide_rowseq_t *seq, void *buf, void *tmp, symcache_t *sc) {
  tide_type_t have = bsrc->type;
  if (want == have && want != TIDE_SYMBOL) return tide__source_get(bsrc, seq, buf);
  if (want == have && bsrc->symtab == dst_st) return tide__source_get(bsrc, seq, buf);
  uint32_t n = seq->n;
  if (want == TIDE_STRING) { /* from SYMBOL */
    const int32_t *codes = tide__source_get(bsrc, seq, tmp);
    const char *const *strs = tide__symtab_strs(bsrc->symtab);
    const char **out = buf;
    for (uint32_t i = 0; i < n; i++) out[i] = codes[i] < 0 ? NULL : strs[codes[i]];
    return out;
  }
  /* want SYMBOL */
  int32_t *out = buf;
  if (have == TIDE_STRING) {
    const char *const *in = tide__source_get(bsrc, seq, tmp);
    for (uint32_t i = 0; i < n; i++) {
      if (!in[i]) {
        out[i] = TIDE_NULL_SYMBOL;
        continue;
      }
      out[i] = tide_symtab_intern(dst_st, in[i], strlen(in[i]));
      if (out[i] < 0) return NULL;
    }
    return out;
  }
  const int32_t *codes = tide__source_get(bsrc, seq, tmp);
  uint32_t dn = tide_symtab_size(bsrc->symtab);
  if (sc->n < dn) {
    int32_t *m = tide_realloc(sc->map, dn * sizeof *m);
    if (!m) return NULL;
    for (uint32_t c = sc->n; c < dn; c++) m[c] = -3;
    sc->map = m;
    sc->n = dn;
  }
  const char *const *strs = tide__symtab_strs(bsrc->symtab);
  for (uint32_t i = 0; i < n; i++) {
    int32_t c = codes[i];
    if (c < 0) {
      out[i] = TIDE_NULL_SYMBOL;
      continue;
    }
    if (TIDE_UNLIKELY(sc->map[c] == -3)) {
      sc->map[c] = tide_symtab_intern(dst_st, strs[c], tide__symtab_len(bsrc->symtab, c));
      if (sc->map[c] < 0) {
        sc->map[c] = -3;
        return NULL;
      }
    }
    out[i] = sc->map[c];
  }
  return out;
}

/* ---------------------------------------------------------------- applying */

static bool grow_ids(input_state_t *s, size_t need) {
  if (need <= s->idcap) return true;
  size_t cap = s->idcap ? s->idcap : 1024;
  while (cap < need) cap *= 2;
  uint8_t *l = tide_realloc(s->live, cap);
  if (!l) return false;
  s->live = l;
  uint8_t *nx = tide_realloc(s->next, cap);
  if (!nx) return false;
  s->next = nx;
  uint8_t *sn = tide_realloc(s->seen, cap);
  if (!sn) return false;
  s->seen = sn;
  memset(s->live + s->idcap, 0, cap - s->idcap);
  memset(s->next + s->idcap, 0, cap - s->idcap);
  memset(s->seen + s->idcap, 0, cap - s->idcap);
  s->idcap = cap;
  return true;
}

static bool touch(input_state_t *s, const uint32_t *ids, uint32_t n) {
  if (s->ntouched + n > s->touchcap) {
    size_t cap = s->touchcap ? s->touchcap : 4096;
    while (cap < s->ntouched + n) cap *= 2;
    uint64_t *t = tide_realloc(s->touched, cap * sizeof *t);
    if (!t) return false;
    s->touched = t;
    s->touchcap = cap;
  }
  /* each id once (first touch), in no particular order */
  uint64_t *dst = s->touched;
  size_t m = s->ntouched;
  for (uint32_t i = 0; i < n; i++) {
    dst[m] = ids[i];
    m += !s->seen[ids[i]];
    s->seen[ids[i]] = 1;
  }
  s->ntouched = m;
  return true;
}

/* Apply one queued operation to the columns and `next`. */
static tide_status apply_op(input_state_t *s, tide_table_t *t, const in_op_t *op,
                            tide_error *err) {
  tide_table_t *b = op->rows;
  size_t nc = t->ncols;
  symcache_t *sc = tide_calloc(nc ? nc : 1, sizeof *sc);
  void *tmp = tide_malloc(TIDE_CHUNK_SIZE * 8);
  const void **vals = tide_calloc(nc ? nc : 1, sizeof *vals);
  tide_status st = TIDE_OK;
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  if (!sc || !tmp || !vals) goto oom_vals;
  tide_rowset_iter_init(&it, b->rowset);
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->keybuf)) {
    uint32_t n = seq.n, nnew = n;
    for (size_t c = 0; c < nc; c++) {
      vals[c] = NULL;
      if (op->map[c] < 0) continue;
      vals[c] = conv_chunk(t->cols[c]->type, t->cols[c]->symtab, b->cols[op->map[c]], &seq,
                           s->convbuf[c], tmp, &sc[c]);
      if (!vals[c]) goto oom_vals;
    }
    if (s->nkeys) {
      for (size_t k = 0; k < s->nkeys; k++) s->keyvals[k] = vals[s->keycols[k]];
      if (op->del) {
        tide__keyset_find(s->ks, s->keyvals, n, s->ids);
        uint32_t m = 0;
        for (uint32_t i = 0; i < n; i++) {
          uint32_t id = s->ids[i];
          if (id == TIDE_KEYSET_ABSENT) continue;
          s->next[id] = 0;
          s->ids[m++] = id;
        }
        if (!touch(s, s->ids, m)) goto oom_vals;
        continue;
      }
      uint32_t before = tide__keyset_size(s->ks);
      if (tide__keyset_insert(s->ks, s->keyvals, n, s->ids) != TIDE_OK) goto oom_vals;
      if (!grow_ids(s, tide__keyset_size(s->ks))) goto oom_vals;
      nnew = 0;
      for (uint32_t i = 0; i < n; i++) {
        s->dstkeys[i] = s->ids[i];
        s->next[s->ids[i]] = 1;
        s->newidx[nnew] = i;
        nnew += s->ids[i] >= before;
      }
      if (!touch(s, s->ids, n)) goto oom_vals;
    } else {
      tide__tick_iota(s->dstkeys, s->next_key, n);
      s->next_key += n;
    }
    for (size_t c = 0; c < nc; c++) {
      const void *v = vals[c];
      const uint64_t *wk = s->dstkeys;
      uint32_t wn = n;
      if (s->nkeys && s->is_key[c]) {
        /* a key's key columns never change: write them for new keys only
         * (no undo-log entries for upserts of existing keys) */
        size_t w = tide_type_width(t->cols[c]->type);
        switch (w) {
#define IN_COMPACT(W, T)                                                        \
  case W:                                                                       \
    for (uint32_t j = 0; j < nnew; j++) ((T *)tmp)[j] = ((const T *)v)[s->newidx[j]]; \
    break;
          IN_COMPACT(1, uint8_t)
          IN_COMPACT(2, uint16_t)
          IN_COMPACT(4, uint32_t)
          IN_COMPACT(8, uint64_t)
#undef IN_COMPACT
        }
        for (uint32_t j = 0; j < nnew; j++) s->newkeys[j] = s->dstkeys[s->newidx[j]];
        v = tmp;
        wk = s->newkeys;
        wn = nnew;
      }
      if (t->cols[c]->type == TIDE_STRING) {
        /* own a copy of every string */
        const char *const *in = v;
        const char **out = v == tmp ? s->convbuf[c]
                                    : (s->convbuf[c] == v ? (const char **)tmp : s->convbuf[c]);
        for (uint32_t i = 0; i < wn; i++) {
          out[i] = NULL;
          if (in[i]) {
            out[i] = tide_source_flat_store_string(s->holders[c], in[i], strlen(in[i]));
            if (!out[i]) goto oom_vals;
          }
        }
        v = out;
      }
      if (wn && tide__source_paged_set(t->cols[c], wk, wn, v) != TIDE_OK) goto oom_vals;
    }
  }
  goto done;
oom_vals:
  st = tide_error_set(err, TIDE_ERR_NOMEM, "input_table: out of memory applying changes");
done:
  tide_free(vals);
  for (size_t c = 0; sc && c < nc; c++) tide_free(sc[c].map);
  tide_free(sc);
  tide_free(tmp);
  return st;
}

static void op_clear(in_op_t *op) {
  tide_table_free(op->rows);
  tide_free(op->map);
  op->rows = NULL;
  op->map = NULL;
}

/* Apply ops[0..nops) and compute the change. For keyed tables fills
 * added/removed/modified (sorted keys); unkeyed: first and count of
 * the appended range. */
typedef struct in_change_t {
  tide_rowset_t *added, *removed, *modified;
  uint64_t first, count;
} in_change_t;

static tide_status apply_ops(input_state_t *s, tide_table_t *t, in_op_t *ops, size_t nops,
                             in_change_t *ch, tide_error *err) {
  memset(ch, 0, sizeof *ch);
  ch->first = s->next_key;
  s->ntouched = 0;
  tide_status st = TIDE_OK;
  for (size_t i = 0; i < nops && st == TIDE_OK; i++) st = apply_op(s, t, &ops[i], err);
  if (st != TIDE_OK) {
    /* forget the partial change (the cycle fails with st) */
    for (size_t i = 0; s->nkeys && i < s->ntouched; i++) {
      s->next[s->touched[i]] = s->live[s->touched[i]];
      s->seen[s->touched[i]] = 0;
    }
    return st;
  }
  if (!s->nkeys) {
    ch->count = s->next_key - ch->first;
    return TIDE_OK;
  }
  /* classify the touched ids (RowSet construction sorts them) */
  size_t m = s->ntouched;
  uint64_t *keys = tide_malloc((m ? m : 1) * 3 * sizeof *keys);
  if (!keys) return tide_error_set(err, TIDE_ERR_NOMEM, "input_table: out of memory");
  uint64_t *ad = keys, *rm = keys + m, *md = keys + 2 * m;
  size_t na = 0, nr = 0, nm = 0;
  for (size_t i = 0; i < m; i++) {
    uint64_t id = s->touched[i];
    uint8_t was = s->live[id], now = s->next[id];
    ad[na] = id;
    rm[nr] = id;
    md[nm] = id;
    na += (size_t)(!was && now);
    nr += (size_t)(was && !now);
    nm += (size_t)(was && now);
    s->live[id] = now;
    s->seen[id] = 0;
  }
  ch->added = tide_rowset_from_keys(ad, na);
  ch->removed = tide_rowset_from_keys(rm, nr);
  ch->modified = tide_rowset_from_keys(md, nm);
  tide_free(keys);
  if (!ch->added || !ch->removed || !ch->modified) {
    tide_rowset_free(ch->added);
    tide_rowset_free(ch->removed);
    tide_rowset_free(ch->modified);
    memset(ch, 0, sizeof *ch);
    return tide_error_set(err, TIDE_ERR_NOMEM, "input_table: out of memory");
  }
  return TIDE_OK;
}

static tide_status input_refresh(tide_gnode_t *n, tide_error *err) {
  input_state_t *s = n->state;
  tide_table_t *t = n->table;
  pthread_mutex_lock(&s->mu);
  in_op_t *ops = s->ops;
  size_t nops = s->nops;
  s->ops = NULL;
  s->nops = s->opcap = 0;
  pthread_mutex_unlock(&s->mu);
  if (!nops) {
    tide_free(ops);
    return TIDE_OK;
  }
  in_change_t ch;
  tide_status st = apply_ops(s, t, ops, nops, &ch, err);
  for (size_t i = 0; i < nops; i++) op_clear(&ops[i]);
  tide_free(ops);
  if (st != TIDE_OK) return st;
  if (!s->nkeys) return tide__tick_publish_append(n, ch.first, ch.count, false, err);
  tide_update_t u = {0};
  tide_rowset_t *nrs = NULL;
  bool nonkey = false;
  for (size_t c = 0; c < t->ncols; c++) nonkey |= !s->is_key[c];
  if (!tide_rowset_is_empty(ch.modified) && nonkey) {
    u.ncols = t->ncols;
    u.modified_cols = tide_calloc((t->ncols + 63) / 64, sizeof *u.modified_cols);
    if (!u.modified_cols) goto oom;
    for (size_t c = 0; c < t->ncols; c++)
      if (!s->is_key[c]) u.modified_cols[c / 64] |= 1ULL << (c % 64);
    u.modified = ch.modified;
  } else {
    tide_rowset_free(ch.modified);
  }
  ch.modified = NULL;
  u.added = ch.added;
  u.removed = ch.removed;
  ch.added = ch.removed = NULL;
  if (!tide_rowset_is_empty(u.added) || !tide_rowset_is_empty(u.removed)) {
    nrs = tide_rowset_minus(t->rowset, u.removed);
    if (!nrs || tide_rowset_union_inplace(nrs, u.added) != TIDE_OK) goto oom;
  }
  return tide__gnode_publish(n, &u, nrs, err);
oom:
  tide__update_clear(&u);
  tide_rowset_free(ch.modified);
  tide_rowset_free(nrs);
  return tide_error_set(err, TIDE_ERR_NOMEM, "input_table: out of memory");
}

static void state_free(input_state_t *s, size_t ncols) {
  if (!s) return;
  for (size_t i = 0; i < s->nops; i++) op_clear(&s->ops[i]);
  tide_free(s->ops);
  pthread_mutex_destroy(&s->mu);
  tide_free(s->keycols);
  tide_free(s->is_key);
  if (s->ks) tide__keyset_free(s->ks);
  tide_free(s->live);
  tide_free(s->next);
  tide_free(s->seen);
  tide_free(s->holders); /* borrowed: the columns keep them */
  tide_free(s->keybuf);
  tide_free(s->dstkeys);
  tide_free(s->ids);
  tide_free(s->newidx);
  tide_free(s->newkeys);
  for (size_t c = 0; s->convbuf && c < ncols; c++) tide_free(s->convbuf[c]);
  tide_free(s->convbuf);
  tide_free(s->keyvals);
  tide_free(s->touched);
  tide_free(s);
}

static void input_destroy(tide_gnode_t *n) { state_free(n->state, n->table->ncols); }

static const tide_gnode_vt input_vt = {"input_table", input_refresh, NULL, input_destroy};

bool tide_table_is_input_table(const tide_table_t *t) {
  return t && t->node && ((const tide_gnode_t *)t->node)->vt == &input_vt;
}

/* Column map of a batch for `op` ("input_table.add"/"input_table.delete"):
 * every needed column by name, with a compatible type. */
static int *batch_map(const tide_table_t *in, const input_state_t *s, const tide_table_t *b,
                      bool keys_only, const char *op, tide_error *err) {
  if (tide_table_is_refreshing(b) && strcmp(op, "input_table") != 0) {
    tide_error_set(err, TIDE_ERR_INVALID,
                   "%s: the rows must be a static table (this one is refreshing)", op);
    return NULL;
  }
  int *map = tide_malloc((in->ncols ? in->ncols : 1) * sizeof *map);
  if (!map) {
    tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
    return NULL;
  }
  for (size_t c = 0; c < in->ncols; c++) {
    map[c] = -1;
    if (keys_only && !s->is_key[c]) continue;
    int j = tide__col_index(b, in->names[c]);
    if (j < 0) {
      char have[256];
      size_t l = 0;
      have[0] = 0;
      for (size_t k = 0; k < b->ncols && l + 1 < sizeof have; k++) {
        int w = snprintf(have + l, sizeof have - l, "%s%s", k ? ", " : "", b->names[k]);
        if (w < 0) break;
        l += (size_t)w;
      }
      tide_error_set(err, TIDE_ERR_NOT_FOUND, "%s: the rows have no %scolumn '%s' (they have: %s)",
                     op, s->is_key[c] ? "key " : "", in->names[c], b->ncols ? have : "no columns");
      tide_free(map);
      return NULL;
    }
    if (!type_compatible(in->cols[c]->type, b->cols[j]->type)) {
      tide_error_set(err, TIDE_ERR_TYPE, "%s: column '%s' is %s in the rows but %s in the input table",
                     op, in->names[c], tide_type_name(b->cols[j]->type),
                     tide_type_name(in->cols[c]->type));
      tide_free(map);
      return NULL;
    }
    map[c] = j;
  }
  return map;
}

/* A static copy of a refreshing table's current rows, read under its
 * graph's read lock (unless on its writer inside a cycle). STRING values
 * stay in (and keep alive) the original sources; SYMBOL columns share the
 * dictionaries. */
static tide_table_t *static_copy(tide_table_t *t, const char *op, tide_error *err) {
  tide_graph_t *g = tide_table_graph(t);
  bool locked = g && !tide__graph_in_cycle(g);
  if (locked) tide_graph_read_lock(g);
  uint64_t n = tide_table_size(t);
  size_t nc = t->ncols;
  tide_source_t **srcs = tide_calloc(nc ? nc : 1, sizeof *srcs);
  uint64_t *keybuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *keybuf);
  tide_table_t *res = NULL;
  bool ok = srcs && keybuf;
  for (size_t c = 0; ok && c < nc; c++) {
    tide_source_t *in = t->cols[c];
    srcs[c] = tide_source_flat_create(in->type, n, err);
    if (!srcs[c]) break;
    if (in->symtab) tide__source_set_symtab(srcs[c], in->symtab);
    if (in->type == TIDE_STRING && tide__source_keep_values_of(srcs[c], in) != TIDE_OK) {
      ok = false;
      break;
    }
    char *dst = tide_source_flat_data(srcs[c]);
    size_t w = tide_type_width(in->type);
    tide_rowset_iter_t it;
    tide_rowseq_t seq;
    tide_rowset_iter_init(&it, t->rowset);
    while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, keybuf))
      tide_source_fill(in, &seq, dst + seq.pos * w);
  }
  if (locked) tide_graph_read_unlock(g);
  bool all = ok;
  for (size_t c = 0; all && c < nc; c++) all = srcs[c] != NULL;
  if (all) {
    res = tide__table_from_sources(n, nc, (const char *const *)t->names, srcs, err);
  } else {
    for (size_t c = 0; srcs && c < nc; c++) tide_source_release(srcs[c]);
    tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory copying the rows", op);
  }
  tide_free(srcs);
  tide_free(keybuf);
  return res;
}

static tide_status enqueue(tide_table_t *input, tide_table_t *rows, bool del, tide_error *err) {
  const char *op = del ? "input_table.delete" : "input_table.add";
  if (!tide_table_is_input_table(input))
    return tide_error_set(err, TIDE_ERR_INVALID, "%s: the table is not an input table", op);
  if (!rows) return tide_error_set(err, TIDE_ERR_INVALID, "%s: no rows given", op);
  tide_gnode_t *n = (tide_gnode_t *)input->node;
  input_state_t *s = n->state;
  if (del && !s->nkeys)
    return tide_error_set(err, TIDE_ERR_INVALID,
                          "%s: the input table has no key columns, so rows cannot be deleted "
                          "(it is append-only)",
                          op);
  tide_table_t *copy = NULL;
  if (tide_table_is_refreshing(rows)) {
    /* queued batches must not change: copy the current rows */
    copy = static_copy(rows, op, err);
    if (!copy) return err ? err->status : TIDE_ERR_NOMEM;
    rows = copy;
  }
  int *map = batch_map(input, s, rows, del, op, err);
  if (!map) {
    tide_table_free(copy);
    return err ? err->status : TIDE_ERR_INVALID;
  }
  pthread_mutex_lock(&s->mu);
  if (s->nops == s->opcap) {
    size_t cap = s->opcap ? s->opcap * 2 : 8;
    in_op_t *o = tide_realloc(s->ops, cap * sizeof *o);
    if (!o) {
      pthread_mutex_unlock(&s->mu);
      tide_free(map);
      tide_table_free(copy);
      return tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
    }
    s->ops = o;
    s->opcap = cap;
  }
  s->ops[s->nops].del = del;
  s->ops[s->nops].rows = tide_table_retain(rows);
  s->ops[s->nops].map = map;
  s->nops++;
  pthread_mutex_unlock(&s->mu);
  tide_table_free(copy);
  return TIDE_OK;
}

tide_status tide_input_table_add(tide_table_t *input, tide_table_t *rows, tide_error *err) {
  return enqueue(input, rows, false, err);
}

tide_status tide_input_table_delete(tide_table_t *input, tide_table_t *keys, tide_error *err) {
  return enqueue(input, keys, true, err);
}

static tide_table_t *create(tide_graph_t *g, size_t ncols, const char *const *names,
                            const tide_type_t *types, const tide_table_t *init,
                            const char *const *key_cols, size_t nkeys, tide_error *err) {
  const char *op = "input_table";
  if (!g) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: no update graph given", op);
    return NULL;
  }
  if (ncols == 0) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: the table needs at least one column", op);
    return NULL;
  }
  if (!names || !types) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: no column %s given", op, names ? "types" : "names");
    return NULL;
  }
  if (nkeys && !key_cols) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: %zu key columns but no key names given", op, nkeys);
    return NULL;
  }
  for (size_t k = 0; k < nkeys; k++) {
    if (!key_cols[k]) {
      tide_error_set(err, TIDE_ERR_INVALID, "%s: key column %zu has no name", op, k);
      return NULL;
    }
  }
  tide_table_t *t = tide__tick_table_new(g, ncols, names, types, NULL, op, err);
  if (!t) return NULL;
  input_state_t *s = tide_calloc(1, sizeof *s);
  if (!s) goto oom;
  pthread_mutex_init(&s->mu, NULL);
  s->is_key = tide_calloc(ncols, sizeof *s->is_key);
  s->keycols = tide_calloc(nkeys ? nkeys : 1, sizeof *s->keycols);
  s->holders = tide_calloc(ncols, sizeof *s->holders);
  s->convbuf = tide_calloc(ncols, sizeof *s->convbuf);
  s->keyvals = tide_calloc(nkeys ? nkeys : 1, sizeof *s->keyvals);
  s->keybuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->keybuf);
  s->dstkeys = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->dstkeys);
  s->ids = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->ids);
  s->newidx = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->newidx);
  s->newkeys = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->newkeys);
  if (!s->newidx || !s->newkeys || !s->is_key || !s->keycols || !s->holders || !s->convbuf || !s->keyvals || !s->keybuf ||
      !s->dstkeys || !s->ids)
    goto oom;
  for (size_t k = 0; k < nkeys; k++) {
    int c = tide__col_lookup(t, key_cols[k], "input_table: key column", err);
    if (c < 0) goto fail;
    if (s->is_key[c]) {
      tide_error_set(err, TIDE_ERR_DUPLICATE, "%s: key column '%s' given twice", op, key_cols[k]);
      goto fail;
    }
    s->is_key[c] = true;
    s->keycols[k] = c;
  }
  s->nkeys = nkeys;
  if (nkeys) {
    tide_type_t *kt = tide_calloc(nkeys, sizeof *kt);
    if (!kt) goto oom;
    for (size_t k = 0; k < nkeys; k++) kt[k] = types[s->keycols[k]];
    s->ks = tide__keyset_create(nkeys, kt, 1024, err);
    tide_free(kt);
    if (!s->ks) goto fail;
  }
  for (size_t c = 0; c < ncols; c++) {
    s->convbuf[c] = tide_malloc(TIDE_CHUNK_SIZE * 8);
    if (!s->convbuf[c]) goto oom;
    if (types[c] == TIDE_STRING) {
      tide_source_t *h = tide_source_flat_create(TIDE_STRING, 0, err);
      if (!h) goto fail;
      tide_status ks = tide__source_keep(t->cols[c], h);
      tide_source_release(h);
      if (ks != TIDE_OK) goto oom;
      s->holders[c] = h;
    }
  }
  if (init && tide_table_size(init)) {
    in_op_t op0 = {false, (tide_table_t *)init, NULL};
    op0.map = batch_map(t, s, init, false, op, err);
    if (!op0.map) goto fail;
    in_change_t ch;
    /* a refreshing initial table is read as of now, under its graph's
     * read lock (unless this is its writer, inside a cycle) */
    tide_graph_t *ig = tide_table_graph(init);
    bool locked = ig && !tide__graph_in_cycle(ig);
    if (locked) tide_graph_read_lock(ig);
    tide_status st = apply_ops(s, t, &op0, 1, &ch, err);
    if (locked) tide_graph_read_unlock(ig);
    tide_free(op0.map);
    if (st != TIDE_OK) goto fail;
    tide_rowset_t *rs =
        s->nkeys ? tide_rowset_retain(ch.added)
                 : (ch.count ? tide_rowset_create_range(0, ch.count - 1) : tide_rowset_create());
    tide_rowset_free(ch.added);
    tide_rowset_free(ch.removed);
    tide_rowset_free(ch.modified);
    if (!rs) goto oom;
    tide_rowset_free(t->rowset);
    t->rowset = rs;
  }
  if (!tide__gnode_create(g, t, nkeys ? TIDE_KIND_STANDARD : TIDE_KIND_APPEND_ONLY, &input_vt,
                          NULL, 0, s, err))
    goto fail;
  return t;
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
fail:
  state_free(s, ncols);
  tide_table_free(t);
  return NULL;
}

tide_table_t *tide_input_table_create_schema(tide_graph_t *g, size_t ncols,
                                             const char *const *names, const tide_type_t *types,
                                             const char *const *key_cols, size_t nkeys,
                                             tide_error *err) {
  return create(g, ncols, names, types, NULL, key_cols, nkeys, err);
}

tide_table_t *tide_input_table_create(tide_graph_t *g, const tide_table_t *init,
                                      const char *const *key_cols, size_t nkeys, tide_error *err) {
  if (!init) {
    tide_error_set(err, TIDE_ERR_INVALID, "input_table: no table or schema given");
    return NULL;
  }
  tide_type_t *types = tide_calloc(init->ncols ? init->ncols : 1, sizeof *types);
  if (!types) {
    tide_error_set(err, TIDE_ERR_NOMEM, "input_table: out of memory");
    return NULL;
  }
  for (size_t c = 0; c < init->ncols; c++) types[c] = init->cols[c]->type;
  tide_table_t *t = create(g, init->ncols, (const char *const *)init->names, types, init, key_cols,
                           nkeys, err);
  tide_free(types);
  return t;
}
