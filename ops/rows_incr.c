/*
 * Incremental row selection and concatenation over ticking inputs: head,
 * tail, head_by, tail_by and merge (docs/TICKING.md). The entry points in
 * ops/rows.c and ops/headby.c call the tide__*_ticking functions below
 * when an input is refreshing. Each builds its first result under the
 * graph's snapshot lock and attaches a node that keeps it current.
 *
 * head(n) / tail(n): the result shares the parent's column sources and key
 * space and holds the RowSet of the parent's first / last n rows. Per
 * update: the new RowSet is the positional slice of the parent's new
 * RowSet (O(n + log)); the rows we held that the parent kept and that
 * still qualify form a prefix (head) / suffix (tail) of them in order, so
 * the rows pushed out are found by position without mapping keys back
 * through the shifts. removed = ours the parent removed + pushed out;
 * added = new rows not held before; modified = the parent's modified rows
 * we keep; the parent's shifts pass through (those that move a kept row).
 * Kind: head over append-only stays append-only (it only grows until n
 * rows), over blink is blink; tail over blink is blink; otherwise
 * standard.
 *
 * head_by(n) / tail_by(n): the static output order is groups by first
 * appearance in the current table, then table order; the incremental
 * result matches it row for row. Each row of the result has the key
 * (L << S) | r where L is its group's label, r its rank among the group's
 * selected rows and S the bits needed for ranks below n. Labels follow
 * the order of the groups' first rows F (first appearance): appended
 * groups get labels 256 / 2^S apart; a group whose F moves keeps its label
 * while it stays between its neighbours' and otherwise gets one between
 * them, a window of neighbouring groups being relabeled when there is no
 * room (like a packed-memory array). A ticking redirection
 * (tide__source_tredir_create) maps result keys to parent keys; every
 * output column reads the parent's column through it.
 * State: key tuples -> group ids (kernels/hash.h), a paged int32 source
 * parent key -> group id (moved with the parent's shifts), and per group
 * the sorted array of its member parent keys (appends past the end cost
 * O(rows appended); other edits O(keys after the first edited one) of the
 * group), its F, label and selected count. Per update the changes of
 * membership (removed, shifted, re-keyed and added rows) are batched per
 * group; every touched group's selection is recomputed (O(n) per group)
 * and compared rank by rank with the previous one: the same row at the
 * same rank is unchanged (modified if the parent modified it), another row
 * is a modification of every column, ranks past the end are added or
 * removed. A group whose label changed moves: its old keys are removed and
 * its new ones added. Result keys stay below 2^62 whatever the parent's
 * keys. Blink parents are recomputed every cycle (the result is blink);
 * other inputs give a standard result.
 *
 * merge(tables): input i owns the result keys (i << S) | k for its keys
 * k < 2^S, S = 40, or 4 bits more than the largest input key needs when
 * that is more, at most 62 - bits(number of inputs - 1); an input key that
 * outgrows its slice is an error naming the table and key. Columns are
 * merged sources that dispatch each run of keys to the input's source by the high bits
 * (fill and fill_prev); SYMBOL columns share the inputs' dictionary when
 * they all use the same one, and otherwise keep a merged dictionary with
 * per-input code translations extended each cycle as inputs intern new
 * strings. Per cycle the inputs' updates are offset into their slices and
 * concatenated (removed, shifts, added, modified; the modified column sets
 * are or-ed). Static inputs may be mixed in. Kind: append-only when the
 * only ticking input is append-only and every later input is static and
 * empty; add-only when every ticking input is append-only or add-only;
 * blink when the only ticking input is blink and every static input is
 * empty; standard otherwise (several blink inputs need not all tick in
 * the same cycle, so their merge is standard). The ticking result's row
 * keys differ from the static merge's dense keys; rows and values match.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>

#include "kernels/hash.h"
#include "sched/graph_int.h"

tide_table_t *tide__head_tail_ticking(tide_table_t *t, uint64_t n, bool tail, tide_error *err);
tide_table_t *tide__head_by_ticking(tide_table_t *t, uint64_t n, const char *const *by,
                                    size_t nby, bool tail, tide_error *err);
tide_table_t *tide__merge_ticking(tide_table_t *const *tables, size_t n, tide_error *err);

/* ------------------------------------------------------------- helpers */

static bool rs_empty(const tide_rowset_t *rs) { return !rs || tide_rowset_is_empty(rs); }

static tide_status nomem(const char *op, tide_error *err) {
  return tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
}

static size_t nwords_for(size_t ncols) { return (ncols + 63) / 64; }

static unsigned bits_for(uint64_t x) { return x ? 64u - (unsigned)__builtin_clzll(x) : 0u; }

/* Whether rs holds a key in [first, last]. */
static bool rs_has_in(const tide_rowset_t *rs, uint64_t first, uint64_t last) {
  int64_t p = tide_rowset_find(rs, first);
  if (p >= 0) return true;
  uint64_t k = tide_rowset_key_at(rs, (uint64_t)(-p - 1));
  return k != TIDE_NULL_KEY && k <= last;
}

/* The keys at positions [pos, pos + count) of rs (clamped) as a new
 * RowSet: O(count + log) for every representation (subset_by_pos copies
 * whole bitmap buckets). */
static tide_rowset_t *rs_slice(const tide_rowset_t *rs, uint64_t pos, uint64_t count) {
  tide_rowset_t *out = tide_rowset_create();
  if (!out) return NULL;
  tide_rowset_iter_t it;
  tide_rowset_iter_init_pos(&it, rs, pos, count);
  uint64_t f, l;
  while (tide_rowset_iter_next_range(&it, &f, &l))
    if (tide_rowset_insert_range(out, f, l) != TIDE_OK) {
      tide_rowset_free(out);
      return NULL;
    }
  return out;
}

/* Union b into *acc (taking over b); *acc may be NULL. */
static bool rs_merge_into(tide_rowset_t **acc, tide_rowset_t *b) {
  if (!b) return false;
  if (!*acc) {
    *acc = b;
    return true;
  }
  bool ok = tide_rowset_union_inplace(*acc, b) == TIDE_OK;
  tide_rowset_free(b);
  return ok;
}

/* The graph of the first refreshing table of ts[0..n), or NULL. */
static tide_table_t *first_ticking(tide_table_t *const *ts, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (ts[i] && ts[i]->node) return ts[i];
  return NULL;
}

/* =========================================================== head / tail */

typedef struct ht_state {
  uint64_t n;
  bool tail;
} ht_state;

static void ht_destroy(tide_gnode_t *nd) { tide_free(nd->state); }

static tide_rowset_t *ht_select(const tide_rowset_t *rs, uint64_t n, bool tail) {
  uint64_t size = tide_rowset_size(rs);
  return rs_slice(rs, tail && size > n ? size - n : 0, n);
}

static tide_status ht_notify(tide_gnode_t *nd, tide_error *err) {
  ht_state *s = nd->state;
  const char *op = s->tail ? "tail" : "head";
  const tide_update_t *pu = tide__gnode_parent_update(nd, 0);
  if (!pu) return TIDE_OK;
  tide_table_t *p = nd->parents[0], *r = nd->table;
  const tide_rowset_t *old = r->rowset;
  uint64_t oldn = tide_rowset_size(old);
  /* A full head only changes when something happens at or before its last
   * row: appends past it are the common case (append-only inputs). */
  if (!s->tail && oldn == s->n && rs_empty(pu->removed) && !pu->nshifts) {
    uint64_t last = oldn ? tide_rowset_last(old) : 0;
    if ((rs_empty(pu->added) || tide_rowset_first(pu->added) > last) &&
        (rs_empty(pu->modified) || tide_rowset_first(pu->modified) > last))
      return TIDE_OK;
  }
  tide_status st = TIDE_OK;
  tide_update_t u = {0};
  tide_rowset_t *nh = NULL, *kept = NULL, *hs = NULL, *in = NULL, *stays = NULL;
  nh = ht_select(p->rowset, s->n, s->tail);
  if (!nh) goto oom;
  if (!rs_empty(pu->removed)) {
    u.removed = tide_rowset_intersect(old, pu->removed);
    kept = tide_rowset_minus(old, pu->removed);
  } else {
    kept = tide_rowset_copy(old);
  }
  if (!kept || (!rs_empty(pu->removed) && !u.removed)) goto oom;
  hs = tide_rowset_copy(kept);
  if (!hs) goto oom;
  if (pu->nshifts && (st = tide_rowset_shift(hs, pu->shifts, pu->nshifts)) != TIDE_OK) {
    if (st == TIDE_ERR_NOMEM) goto oom;
    st = tide_error_set(err, TIDE_ERR_STATE, "%s: the parent's update has invalid shifts", op);
    goto done;
  }
  in = tide_rowset_intersect(nh, hs);
  if (!in) goto oom;
  uint64_t kc = tide_rowset_size(kept), ki = tide_rowset_size(in);
  /* kept rows pushed out: the last (head) / first (tail) kc - ki of them */
  if (ki < kc) {
    tide_rowset_t *gone = rs_slice(kept, s->tail ? 0 : ki, kc - ki);
    if (!rs_merge_into(&u.removed, gone)) goto oom;
  }
  u.added = tide_rowset_minus(nh, in);
  if (!u.added) goto oom;
  if (!rs_empty(pu->modified) && ki) {
    u.modified = tide_rowset_intersect(pu->modified, in);
    if (!u.modified) goto oom;
    if (!tide_rowset_is_empty(u.modified)) {
      size_t nw = nwords_for(pu->ncols);
      u.modified_cols = tide_calloc(nw ? nw : 1, sizeof *u.modified_cols);
      if (!u.modified_cols) goto oom;
      if (pu->modified_cols) memcpy(u.modified_cols, pu->modified_cols, nw * sizeof(uint64_t));
      u.ncols = pu->ncols;
    }
  }
  if (pu->nshifts && ki) {
    /* the shifts that move a row we keep (previous key space) */
    stays = rs_slice(kept, s->tail ? kc - ki : 0, ki);
    if (!stays) goto oom;
    u.shifts = tide_malloc(pu->nshifts * sizeof *u.shifts);
    if (!u.shifts) goto oom;
    for (size_t i = 0; i < pu->nshifts; i++)
      if (rs_has_in(stays, pu->shifts[i].first, pu->shifts[i].last))
        u.shifts[u.nshifts++] = pu->shifts[i];
  }
  if (tide_update_is_empty(&u)) goto done;
  st = tide__gnode_publish(nd, &u, nh, err);
  nh = NULL;
  goto done;
oom:
  st = nomem(op, err);
done:
  tide__update_clear(&u);
  tide_rowset_free(nh);
  tide_rowset_free(kept);
  tide_rowset_free(hs);
  tide_rowset_free(in);
  tide_rowset_free(stays);
  return st;
}

static const tide_gnode_vt head_vt = {"head", NULL, ht_notify, ht_destroy};
static const tide_gnode_vt tail_vt = {"tail", NULL, ht_notify, ht_destroy};

tide_table_t *tide__head_tail_ticking(tide_table_t *t, uint64_t n, bool tail, tide_error *err) {
  const char *op = tail ? "tail" : "head";
  tide_graph_t *g = tide__graph_snapshot_lock(t);
  tide_table_t *r = NULL;
  tide_rowset_t *rs = ht_select(t->rowset, n, tail);
  ht_state *s = tide_calloc(1, sizeof *s);
  if (!rs || !s) {
    nomem(op, err);
    goto fail;
  }
  s->n = n;
  s->tail = tail;
  r = tide_table_create(rs, t->ncols, (const char *const *)t->names, t->cols, err);
  if (!r) {
    tide_error_prefix(err, "%s", op);
    goto fail;
  }
  tide_table_kind_t kind = TIDE_KIND_STANDARD;
  if (t->kind == TIDE_KIND_BLINK) kind = TIDE_KIND_BLINK;
  if (!tail && t->kind == TIDE_KIND_APPEND_ONLY) kind = TIDE_KIND_APPEND_ONLY;
  if (!tide__gnode_create(tide_table_graph(t), r, kind, tail ? &tail_vt : &head_vt, &t, 1, s,
                          err))
    goto fail;
  tide_rowset_free(rs);
  tide__graph_snapshot_unlock(g);
  return r;
fail:
  tide_table_free(r);
  tide_rowset_free(rs);
  tide_free(s);
  tide__graph_snapshot_unlock(g);
  return NULL;
}

/* ================================================================ merge */

/* A column of a ticking merge: result key (i << S) | k reads key k of
 * input i's source. */
typedef struct msrc {
  tide_source_t base;
  size_t n;
  unsigned S;
  tide_source_t **in;  /* one reference each */
  int32_t **maps;      /* SYMBOL with a merged dictionary: codes per input */
  uint32_t *mapn;      /* entries of maps[i] */
} msrc;

static void msrc_fill_impl(const tide_source_t *src, const tide_rowseq_t *seq, void *dst,
                           bool prev) {
  const msrc *m = (const msrc *)src;
  const uint64_t mask = (UINT64_C(1) << m->S) - 1;
  size_t w = tide_type_width(src->type);
  uint64_t low[TIDE_CHUNK_SIZE];
  uint32_t done = 0;
  while (done < seq->n) {
    uint32_t cnt = TIDE_MIN(seq->n - done, (uint32_t)TIDE_CHUNK_SIZE);
    uint64_t tab;
    tide_rowseq_t sub = {0, NULL, 0, 0};
    if (!seq->keys) {
      uint64_t first = seq->first + done;
      tab = first >> m->S;
      uint64_t room = ((tab + 1) << m->S) - first;
      sub.first = first & mask;
      sub.n = (uint32_t)TIDE_MIN((uint64_t)cnt, room);
    } else {
      const uint64_t *k = seq->keys + done;
      tab = k[0] >> m->S;
      uint32_t run = 0;
      while (run < cnt && (k[run] >> m->S) == tab) {
        low[run] = k[run] & mask;
        run++;
      }
      sub.keys = low;
      sub.n = run;
    }
    char *out = (char *)dst + (size_t)done * w;
    if (tab >= m->n) {
      /* no such input: nulls (never read for keys of the RowSet) */
      unsigned char nv[8];
      tide_type_null(src->type, nv);
      for (uint32_t i = 0; i < sub.n; i++) memcpy(out + (size_t)i * w, nv, w);
    } else {
      const tide_source_t *in = m->in[tab];
      if (prev)
        tide_source_fill_prev(in, &sub, out);
      else
        tide_source_fill(in, &sub, out);
      if (m->maps && m->maps[tab]) {
        int32_t *c = (int32_t *)out;
        const int32_t *map = m->maps[tab];
        const int32_t mn = (int32_t)m->mapn[tab];
        for (uint32_t i = 0; i < sub.n; i++) c[i] = c[i] < 0 ? c[i] : c[i] < mn ? map[c[i]] : -1;
      }
    }
    done += sub.n;
  }
}

static void msrc_fill(const tide_source_t *src, const tide_rowseq_t *seq, void *dst) {
  msrc_fill_impl(src, seq, dst, false);
}
static void msrc_fill_prev(const tide_source_t *src, const tide_rowseq_t *seq, void *dst) {
  msrc_fill_impl(src, seq, dst, true);
}

static const void *msrc_direct(const tide_source_t *src, uint64_t first, uint32_t n) {
  const msrc *m = (const msrc *)src;
  uint64_t tab = first >> m->S;
  if (!n || tab >= m->n || ((first + n - 1) >> m->S) != tab) return NULL;
  if (m->maps && m->maps[tab]) return NULL;
  const tide_source_t *in = m->in[tab];
  if (!in->vt->direct) return NULL;
  return in->vt->direct(in, first & ((UINT64_C(1) << m->S) - 1), n);
}

static void msrc_destroy(tide_source_t *src) {
  msrc *m = (msrc *)src;
  for (size_t i = 0; i < m->n; i++) {
    tide_source_release(m->in[i]);
    if (m->maps) tide_free(m->maps[i]);
  }
  tide_free(m->in);
  tide_free(m->maps);
  tide_free(m->mapn);
}

static const tide_source_vt msrc_vt = {"merged", msrc_fill, msrc_direct, msrc_destroy,
                                       msrc_fill_prev};

/* Extend the code translations of a merged SYMBOL column to the inputs'
 * current dictionaries. */
static tide_status msrc_sync(msrc *m) {
  if (!m->maps) return TIDE_OK;
  for (size_t i = 0; i < m->n; i++) {
    const tide_symtab_t *st = tide_source_symtab(m->in[i]);
    uint32_t size = st ? tide_symtab_size(st) : 0;
    if (size <= m->mapn[i]) continue;
    int32_t *map = tide_realloc(m->maps[i], size * sizeof *map);
    if (!map) return TIDE_ERR_NOMEM;
    m->maps[i] = map;
    for (uint32_t c = m->mapn[i]; c < size; c++) {
      const char *s = tide_symtab_str(st, (int32_t)c);
      int32_t code = tide_symtab_intern(m->base.symtab, s, strlen(s));
      if (code < 0) return TIDE_ERR_NOMEM;
      map[c] = code;
    }
    m->mapn[i] = size;
  }
  return TIDE_OK;
}

/* Merged source of column c of tables[0..n). */
static tide_source_t *msrc_create(tide_table_t *const *tables, size_t n, unsigned S, size_t c,
                                  tide_error *err) {
  msrc *m = tide_calloc(1, sizeof *m);
  if (!m) goto oom;
  tide_type_t type = tide_source_type(tables[0]->cols[c]);
  tide__source_init(&m->base, &msrc_vt, type);
  m->n = n;
  m->S = S;
  m->in = tide_calloc(n, sizeof *m->in);
  if (!m->in) {
    tide_free(m);
    goto oom;
  }
  for (size_t i = 0; i < n; i++) m->in[i] = tide_source_retain(tables[i]->cols[c]);
  if (type == TIDE_SYMBOL) {
    tide_symtab_t *shared = tide_source_symtab(tables[0]->cols[c]);
    bool same = shared != NULL;
    for (size_t i = 1; i < n; i++) same &= tide_source_symtab(tables[i]->cols[c]) == shared;
    if (same) {
      m->base.symtab = tide_symtab_retain(shared);
    } else {
      m->base.symtab = tide_symtab_create();
      m->maps = tide_calloc(n, sizeof *m->maps);
      m->mapn = tide_calloc(n, sizeof *m->mapn);
      if (!m->base.symtab || !m->maps || !m->mapn || msrc_sync(m) != TIDE_OK) {
        tide_source_release(&m->base);
        goto oom;
      }
    }
  }
  return &m->base;
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "merge: out of memory creating column '%s'",
                 tables[0]->names[c]);
  return NULL;
}

typedef struct merge_state {
  size_t n;       /* inputs */
  unsigned S;
  size_t *pidx;   /* input index of each parent (ticking input) */
  size_t ncols;
  msrc **cols;    /* the result's columns (borrowed) */
} merge_state;

static void merge_destroy(tide_gnode_t *nd) {
  merge_state *s = nd->state;
  if (!s) return;
  tide_free(s->pidx);
  tide_free(s->cols);
  tide_free(s);
}

/* rs with every key + off (a new RowSet), NULL on OOM. */
static tide_rowset_t *rs_offset(const tide_rowset_t *rs, uint64_t off) {
  tide_rowset_t *c = tide_rowset_copy(rs);
  if (c && off && !tide_rowset_is_empty(c) && tide_rowset_shift_all(c, (int64_t)off) != TIDE_OK) {
    tide_rowset_free(c);
    return NULL;
  }
  return c;
}

static tide_status check_key_room(const tide_table_t *t, size_t i, unsigned S, tide_error *err) {
  uint64_t last = tide_rowset_last(t->rowset);
  if (last != TIDE_NULL_KEY && last >> S)
    return tide_error_set(err, TIDE_ERR_RANGE,
                          "merge: table %zu has row key %llu, above the %u bits each input of a "
                          "merge of this many tables may use",
                          i, (unsigned long long)last, S);
  return TIDE_OK;
}

static tide_status merge_notify(tide_gnode_t *nd, tide_error *err) {
  merge_state *s = nd->state;
  tide_status st = TIDE_OK;
  tide_update_t u = {0};
  tide_rowset_t *cur = NULL;
  size_t nsh = 0, nw = nwords_for(s->ncols);
  for (size_t j = 0; j < nd->nparents; j++) {
    const tide_update_t *pu = tide__gnode_parent_update(nd, j);
    if (pu) nsh += pu->nshifts;
  }
  if (nsh) {
    u.shifts = tide_malloc(nsh * sizeof *u.shifts);
    if (!u.shifts) goto oom;
  }
  for (size_t j = 0; j < nd->nparents; j++) {
    const tide_update_t *pu = tide__gnode_parent_update(nd, j);
    if (!pu) continue;
    size_t i = s->pidx[j];
    uint64_t off = (uint64_t)i << s->S;
    st = check_key_room(nd->parents[j], i, s->S, err);
    if (st != TIDE_OK) goto done;
    if (!rs_empty(pu->removed) && !rs_merge_into(&u.removed, rs_offset(pu->removed, off)))
      goto oom;
    if (!rs_empty(pu->added) && !rs_merge_into(&u.added, rs_offset(pu->added, off))) goto oom;
    if (!rs_empty(pu->modified)) {
      if (!rs_merge_into(&u.modified, rs_offset(pu->modified, off))) goto oom;
      if (!u.modified_cols) {
        u.modified_cols = tide_calloc(nw ? nw : 1, sizeof *u.modified_cols);
        if (!u.modified_cols) goto oom;
        u.ncols = s->ncols;
      }
      if (pu->modified_cols)
        for (size_t w = 0; w < nw && w < nwords_for(pu->ncols); w++)
          u.modified_cols[w] |= pu->modified_cols[w];
    }
    for (size_t k = 0; k < pu->nshifts; k++) {
      tide_shift_t sh = pu->shifts[k];
      sh.first += off;
      sh.last += off;
      u.shifts[u.nshifts++] = sh;
    }
  }
  for (size_t c = 0; c < s->ncols; c++)
    if (msrc_sync(s->cols[c]) != TIDE_OK) goto oom;
  if (tide_update_is_empty(&u)) goto done;
  cur = tide_rowset_copy(nd->table->rowset);
  if (!cur) goto oom;
  if (u.removed && tide_rowset_minus_inplace(cur, u.removed) != TIDE_OK) goto oom;
  if (u.nshifts && (st = tide_rowset_shift(cur, u.shifts, u.nshifts)) != TIDE_OK) {
    if (st == TIDE_ERR_NOMEM) goto oom;
    st = tide_error_set(err, TIDE_ERR_STATE, "merge: an input's update has invalid shifts");
    goto done;
  }
  if (u.added && tide_rowset_union_inplace(cur, u.added) != TIDE_OK) goto oom;
  st = tide__gnode_publish(nd, &u, cur, err);
  cur = NULL;
  goto done;
oom:
  st = nomem("merge", err);
done:
  tide__update_clear(&u);
  tide_rowset_free(cur);
  return st;
}

static const tide_gnode_vt merge_vt = {"merge", NULL, merge_notify, merge_destroy};

tide_table_t *tide__merge_ticking(tide_table_t *const *tables, size_t n, tide_error *err) {
  tide_table_t *t0 = first_ticking(tables, n);
  tide_graph_t *graph = tide_table_graph(t0);
  for (size_t i = 0; i < n; i++)
    if (tables[i]->node && tide_table_graph(tables[i]) != graph) {
      tide_error_set(err, TIDE_ERR_INVALID,
                     "merge: table %zu ticks in another update graph than table 0's", i);
      return NULL;
    }
  tide_graph_t *g = tide__graph_snapshot_lock(t0);
  /* 40 bits per input (or more when an input's keys need it), so that
   * results over the merge (head_by, another merge) keep room above */
  unsigned S = 40;
  for (size_t i = 0; i < n; i++) {
    uint64_t last = tide_rowset_last(tables[i]->rowset);
    if (last != TIDE_NULL_KEY) S = TIDE_MAX(S, bits_for(last) + 4);
  }
  S = TIDE_MIN(S, 62 - bits_for(n - 1));
  size_t ncols = tables[0]->ncols, nt = 0;
  tide_table_t *r = NULL, **parents = NULL;
  tide_source_t **srcs = tide_calloc(ncols ? ncols : 1, sizeof *srcs);
  tide_rowset_t *rs = tide_rowset_create();
  merge_state *s = tide_calloc(1, sizeof *s);
  parents = tide_calloc(n, sizeof *parents);
  if (!srcs || !rs || !s || !parents) goto oom;
  s->n = n;
  s->S = S;
  s->ncols = ncols;
  s->pidx = tide_calloc(n, sizeof *s->pidx);
  s->cols = tide_calloc(ncols ? ncols : 1, sizeof *s->cols);
  if (!s->pidx || !s->cols) goto oom;
  bool all_add = true;
  size_t nblink = 0, nappend = 0, last_tick = 0;
  bool static_rows = false;
  for (size_t i = 0; i < n; i++) {
    if (check_key_room(tables[i], i, S, err) != TIDE_OK) goto fail;
    if (!rs_empty(tables[i]->rowset) &&
        !rs_merge_into(&rs, rs_offset(tables[i]->rowset, (uint64_t)i << S)))
      goto oom;
    if (!tables[i]->node) {
      static_rows |= !rs_empty(tables[i]->rowset);
      continue;
    }
    s->pidx[nt] = i;
    parents[nt++] = tables[i];
    last_tick = i;
    tide_table_kind_t k = tables[i]->kind;
    all_add &= k == TIDE_KIND_APPEND_ONLY || k == TIDE_KIND_ADD_ONLY;
    nblink += k == TIDE_KIND_BLINK;
    nappend += k == TIDE_KIND_APPEND_ONLY;
  }
  bool later_rows = false;
  for (size_t i = last_tick + 1; i < n; i++) later_rows |= !rs_empty(tables[i]->rowset);
  tide_table_kind_t kind = TIDE_KIND_STANDARD;
  if (nt == 1 && nappend == 1 && !later_rows)
    kind = TIDE_KIND_APPEND_ONLY;
  else if (all_add)
    kind = TIDE_KIND_ADD_ONLY;
  else if (nt == 1 && nblink == 1 && !static_rows)
    kind = TIDE_KIND_BLINK;
  for (size_t c = 0; c < ncols; c++) {
    srcs[c] = msrc_create(tables, n, S, c, err);
    if (!srcs[c]) goto fail;
    s->cols[c] = (msrc *)srcs[c];
  }
  r = tide_table_create(rs, ncols, (const char *const *)tables[0]->names, srcs, err);
  if (!r) {
    tide_error_prefix(err, "merge");
    goto fail;
  }
  if (!tide__gnode_create(graph, r, kind, &merge_vt, parents, nt, s, err)) goto fail;
  s = NULL;
  goto done;
oom:
  nomem("merge", err);
fail:
  tide_table_free(r);
  r = NULL;
  merge_destroy(&(tide_gnode_t){.state = s});
done:
  if (srcs)
    for (size_t c = 0; c < ncols; c++) tide_source_release(srcs[c]);
  tide_free(srcs);
  tide_free(parents);
  tide_rowset_free(rs);
  tide__graph_snapshot_unlock(g);
  return r;
}

/* ============================================================= head_by */

/* (group id, key) pairs, batched per cycle. */
typedef struct pairs {
  uint64_t *keys;
  uint32_t *gids;
  size_t n, cap;
} pairs;

static bool pairs_reserve(pairs *p, size_t extra) {
  if (p->n + extra <= p->cap) return true;
  size_t cap = p->cap ? p->cap : 1024;
  while (cap < p->n + extra) cap *= 2;
  uint64_t *k = tide_realloc(p->keys, cap * sizeof *k);
  if (!k) return false;
  p->keys = k;
  uint32_t *g = tide_realloc(p->gids, cap * sizeof *g);
  if (!g) return false;
  p->gids = g;
  p->cap = cap;
  return true;
}

static void pairs_free(pairs *p) {
  tide_free(p->keys);
  tide_free(p->gids);
  memset(p, 0, sizeof *p);
}

/* A growable key vector. */
typedef struct kvec {
  uint64_t *v;
  size_t n, cap;
} kvec;

static bool kv_reserve(kvec *k, size_t extra) {
  if (k->n + extra <= k->cap) return true;
  size_t cap = k->cap ? k->cap : 1024;
  while (cap < k->n + extra) cap *= 2;
  uint64_t *v = tide_realloc(k->v, cap * sizeof *v);
  if (!v) return false;
  k->v = v;
  k->cap = cap;
  return true;
}

/* A group's member parent keys, sorted. */
typedef struct gvec {
  uint64_t *v;
  uint64_t n, cap;
} gvec;

/* Remove the sorted keys b[0..m) (all present) from g. O(keys after
 * b[0] + m). */
static void gvec_remove(gvec *g, const uint64_t *b, uint64_t m) {
  uint64_t lo = 0, hi = g->n;
  while (lo < hi) {
    uint64_t mid = (lo + hi) / 2;
    if (g->v[mid] < b[0])
      lo = mid + 1;
    else
      hi = mid;
  }
  uint64_t o = lo, j = 0;
  uint64_t *v = g->v;
  for (uint64_t i = lo; i < g->n; i++) {
    if (j < m && v[i] == b[j]) {
      j++;
      continue;
    }
    v[o++] = v[i];
  }
  g->n = o;
}

/* Insert the sorted keys b[0..m) (all absent) into g. O(keys after b[0] +
 * m); appends past the last key are O(m). */
static bool gvec_insert(gvec *g, const uint64_t *b, uint64_t m) {
  if (g->n + m > g->cap) {
    uint64_t cap = g->cap ? g->cap * 2 : 4;
    while (cap < g->n + m) cap *= 2;
    uint64_t *v = tide_realloc(g->v, cap * sizeof *v);
    if (!v) return false;
    g->v = v;
    g->cap = cap;
  }
  uint64_t *v = g->v;
  if (!g->n || b[0] > v[g->n - 1]) {
    memcpy(v + g->n, b, m * sizeof *v);
    g->n += m;
    return true;
  }
  /* merge from the back */
  uint64_t i = g->n, j = m, o = g->n + m;
  while (j > 0) {
    if (i > 0 && v[i - 1] > b[j - 1])
      v[--o] = v[--i];
    else
      v[--o] = b[--j];
  }
  g->n += m;
  return true;
}

typedef struct hb_state {
  const char *op;
  bool tail, blink;
  uint64_t n;
  unsigned S;
  size_t nby;
  int *byidx;
  tide_keyset_t *ks;     /* NULL without key columns (one group) */
  void **kvals;          /* nby chunk buffers of key values */
  tide_source_t *gidmap; /* parent key -> group id (int32) */
  tide_source_t *map;    /* result key -> parent key (int64, tracked) */
  size_t ncols;
  size_t *outcol;        /* output column -> parent column */
  /* per group */
  uint32_t ng, gcap;
  gvec *members;
  uint64_t *F;           /* parent key of the group's first row; NULL_KEY: none */
  uint64_t *L;           /* label (result keys (L << S) | 0..nsel-1); NULL_KEY: none */
  uint64_t *Lold;        /* label before this cycle (touched groups) */
  uint8_t *pend;         /* needs a label this cycle */
  uint64_t *nsel;        /* rows selected */
  tide_rowset_t *Fset;   /* F of every group with rows */
  uint64_t Lmax, gap;    /* labels below Lmax; spacing of appended labels */
  kvec fdel, fadd;       /* Fset edits */
  uint32_t *P;           /* groups needing a label, then sorted by F */
  uint64_t *Ppos;        /* their positions in Fset */
  uint64_t *stamp;
  uint32_t *lidx;        /* index in `touched` while touched */
  uint64_t cyc;
  uint32_t *touched, ntouched;
  uint32_t *live, nlive; /* blink: groups holding rows */
  /* scratch */
  uint64_t *keybuf;
  uint32_t *ids, *ids2;
  pairs rem, ins, mod;
  uint64_t *off, *moff, *roff;     /* per touched group offsets into: */
  size_t offcap, moffcap, roffcap;
  uint64_t *sorted, *msorted, *rsorted; /* keys to edit, modified, removed */
  size_t sortcap, msortcap, rsortcap;
  uint32_t nt_r;                   /* groups touched when rsorted was made */
  /* per cycle output */
  kvec o_rem, o_add, o_mod, mapk, mapv;
  bool mod_all;
  kvec oldsel;
} hb_state;

static void hb_free(hb_state *s) {
  if (!s) return;
  if (s->ks) tide__keyset_free(s->ks);
  if (s->kvals)
    for (size_t k = 0; k < s->nby; k++) tide_free(s->kvals[k]);
  tide_free(s->kvals);
  tide_free(s->byidx);
  tide_source_release(s->gidmap);
  tide_source_release(s->map);
  tide_free(s->outcol);
  if (s->members)
    for (uint32_t g = 0; g < s->ng; g++) tide_free(s->members[g].v);
  tide_free(s->members);
  tide_free(s->F);
  tide_free(s->L);
  tide_free(s->Lold);
  tide_free(s->pend);
  tide_free(s->P);
  tide_free(s->Ppos);
  tide_free(s->fdel.v);
  tide_free(s->fadd.v);
  tide_rowset_free(s->Fset);
  tide_free(s->nsel);
  tide_free(s->stamp);
  tide_free(s->lidx);
  tide_free(s->touched);
  tide_free(s->live);
  tide_free(s->keybuf);
  tide_free(s->ids);
  tide_free(s->ids2);
  pairs_free(&s->rem);
  pairs_free(&s->ins);
  pairs_free(&s->mod);
  tide_free(s->off);
  tide_free(s->moff);
  tide_free(s->roff);
  tide_free(s->rsorted);
  tide_free(s->sorted);
  tide_free(s->msorted);
  tide_free(s->o_rem.v);
  tide_free(s->o_add.v);
  tide_free(s->o_mod.v);
  tide_free(s->mapk.v);
  tide_free(s->mapv.v);
  tide_free(s->oldsel.v);
  tide_free(s);
}

static void hb_destroy(tide_gnode_t *nd) { hb_free(nd->state); }

/* Room for ng groups. */
static bool hb_grow(hb_state *s, uint32_t ng) {
  if (ng > s->gcap) {
    uint32_t cap = s->gcap ? s->gcap : 64;
    while (cap < ng) cap *= 2;
#define HB_GROW(f)                                    \
  do {                                                \
    void *q = tide_realloc(s->f, cap * sizeof *s->f); \
    if (!q) return false;                             \
    s->f = q;                                         \
  } while (0)
    HB_GROW(members);
    HB_GROW(F);
    HB_GROW(L);
    HB_GROW(Lold);
    HB_GROW(pend);
    HB_GROW(P);
    HB_GROW(Ppos);
    HB_GROW(nsel);
    HB_GROW(stamp);
    HB_GROW(lidx);
    HB_GROW(touched);
    HB_GROW(live);
#undef HB_GROW
    s->gcap = cap;
  }
  for (uint32_t g = s->ng; g < ng; g++) {
    memset(&s->members[g], 0, sizeof s->members[g]);
    s->F[g] = TIDE_NULL_KEY;
    s->L[g] = TIDE_NULL_KEY;
    s->pend[g] = 0;
    s->nsel[g] = 0;
    s->stamp[g] = 0;
  }
  if (ng > s->ng) s->ng = ng;
  return true;
}

static inline void hb_touch(hb_state *s, uint32_t g) {
  if (s->stamp[g] == s->cyc) return;
  s->stamp[g] = s->cyc;
  s->Lold[g] = s->L[g];
  s->lidx[g] = s->ntouched;
  s->touched[s->ntouched++] = g;
}

/* Group ids of the rows of seq from their current key values (new groups
 * are created). */
static tide_status hb_ids_current(hb_state *s, const tide_table_t *p, const tide_rowseq_t *seq,
                                  uint32_t *ids, tide_error *err) {
  if (s->nby == 0) {
    memset(ids, 0, seq->n * sizeof *ids);
    if (!hb_grow(s, 1)) return nomem(s->op, err);
    return TIDE_OK;
  }
  for (size_t k = 0; k < s->nby; k++) tide_source_fill(p->cols[s->byidx[k]], seq, s->kvals[k]);
  if (tide__keyset_insert(s->ks, (const void *const *)s->kvals, seq->n, ids) != TIDE_OK)
    return nomem(s->op, err);
  uint32_t ng = tide__keyset_size(s->ks);
  if (ng >= (uint32_t)INT32_MAX)
    return tide_error_set(err, TIDE_ERR_RANGE, "%s: too many groups", s->op);
  if (!hb_grow(s, ng)) return nomem(s->op, err);
  return TIDE_OK;
}

/* Group ids of the keys of seq from the key -> group map. */
static void hb_ids_mapped(hb_state *s, const tide_rowseq_t *seq, uint32_t *ids) {
  tide_source_fill(s->gidmap, seq, ids);
}

/* Counting sort of the pairs' keys by touched index: offsets off[0..nt]
 * and keys in *sorted. */
static bool hb_bucket(hb_state *s, const pairs *p, uint64_t **off, size_t *offcap,
                      uint64_t **sorted, size_t *sortcap) {
  uint32_t nt = s->ntouched;
  if ((size_t)nt + 1 > *offcap) {
    size_t cap = (size_t)nt + 1 > 2 * *offcap ? (size_t)nt + 1 : 2 * *offcap;
    uint64_t *a = tide_realloc(*off, cap * sizeof *a);
    if (!a) return false;
    *off = a;
    *offcap = cap;
  }
  if (p->n > *sortcap) {
    uint64_t *q = tide_realloc(*sorted, p->n * sizeof *q);
    if (!q) return false;
    *sorted = q;
    *sortcap = p->n;
  }
  uint64_t *o = *off;
  memset(o, 0, ((size_t)nt + 1) * sizeof *o);
  const uint32_t *lidx = s->lidx;
  for (size_t i = 0; i < p->n; i++) o[lidx[p->gids[i]] + 1]++;
  for (uint32_t t = 0; t < nt; t++) o[t + 1] += o[t];
  uint64_t *dst = *sorted;
  for (size_t i = 0; i < p->n; i++) dst[o[lidx[p->gids[i]]]++] = p->keys[i];
  for (uint32_t t = nt; t > 0; t--) o[t] = o[t - 1];
  o[0] = 0;
  return true;
}

/* Remove the `rem` pairs from their groups' members, then insert `ins`;
 * each list holds every group's keys in ascending order. */
static tide_status hb_apply(hb_state *s, pairs *rem, pairs *ins, tide_error *err) {
  for (int side = 0; side < 2; side++) {
    pairs *p = side ? ins : rem;
    if (!p->n) continue;
    if (!hb_bucket(s, p, &s->off, &s->offcap, &s->sorted, &s->sortcap))
      return nomem(s->op, err);
    for (uint32_t t = 0; t < s->ntouched; t++) {
      uint64_t a = s->off[t], b = s->off[t + 1];
      if (a == b) continue;
      gvec *m = &s->members[s->touched[t]];
      if (side == 0)
        gvec_remove(m, s->sorted + a, b - a);
      else if (!gvec_insert(m, s->sorted + a, b - a))
        return nomem(s->op, err);
    }
    p->n = 0;
  }
  return TIDE_OK;
}

/* Where a previous key is after the shifts (kept keys only). */
static inline uint64_t shift_key(const tide_shift_t *sh, size_t n, uint64_t k) {
  size_t a = 0, b = n;
  while (a < b) {
    size_t m = (a + b) / 2;
    if (sh[m].last < k)
      a = m + 1;
    else
      b = m;
  }
  if (a < n && sh[a].first <= k) return (uint64_t)((int64_t)k + sh[a].delta);
  return k;
}

/* The group whose first row is the pos-th key of Fset. */
static uint32_t hb_group_at(hb_state *s, uint64_t pos) {
  uint64_t k = tide_rowset_key_at(s->Fset, pos);
  tide_rowseq_t q = {0, &k, 0, 1};
  int32_t g;
  tide_source_fill(s->gidmap, &q, &g);
  return (uint32_t)g;
}

static int cmp_pos(const void *a, const void *b) {
  uint64_t x = ((const uint64_t *)a)[0], y = ((const uint64_t *)b)[0];
  return (x > y) - (x < y);
}

/* Labels: groups are ordered by F (first appearance), and labels follow
 * that order. After the members changed: update F and Fset for the
 * touched groups; every group whose F changed needs its place checked.
 * Runs of such groups adjacent in F order between two groups that keep
 * their labels keep their own labels when those still fit in order, else
 * get labels spread evenly between the neighbours' (or appended at `gap`
 * spacing after the last group); without room, a window of neighbouring
 * groups around the run (doubling) is relabeled, its groups moving (like
 * a packed-memory array). Groups whose label changes are touched, so the
 * diff moves their rows. */
static tide_status hb_label(hb_state *s, tide_error *err) {
  uint32_t np = 0;
  s->fdel.n = s->fadd.n = 0;
  uint32_t nt0 = s->ntouched;
  for (uint32_t t = 0; t < nt0; t++) {
    uint32_t g = s->touched[t];
    const gvec *m = &s->members[g];
    uint64_t nf = m->n ? m->v[0] : TIDE_NULL_KEY;
    if (nf == s->F[g]) continue;
    if (!kv_reserve(&s->fdel, 1) || !kv_reserve(&s->fadd, 1)) return nomem(s->op, err);
    if (s->F[g] != TIDE_NULL_KEY) s->fdel.v[s->fdel.n++] = s->F[g];
    s->F[g] = nf;
    if (nf == TIDE_NULL_KEY) {
      s->L[g] = TIDE_NULL_KEY;
      continue;
    }
    s->fadd.v[s->fadd.n++] = nf;
    s->pend[g] = 1;
    s->P[np++] = g;
  }
  if (!s->Fset && !(s->Fset = tide_rowset_create())) return nomem(s->op, err);
  if (s->fdel.n) {
    tide_rowset_t *d = tide_rowset_from_keys(s->fdel.v, s->fdel.n);
    bool ok = d && tide_rowset_minus_inplace(s->Fset, d) == TIDE_OK;
    tide_rowset_free(d);
    if (!ok) return nomem(s->op, err);
  }
  if (s->fadd.n) {
    tide_rowset_t *a = tide_rowset_from_keys(s->fadd.v, s->fadd.n);
    bool ok = a && tide_rowset_union_inplace(s->Fset, a) == TIDE_OK;
    tide_rowset_free(a);
    if (!ok) return nomem(s->op, err);
  }
  if (!np) return TIDE_OK;
  /* positions in F order: (position, group) pairs sorted */
  uint64_t *pp = s->Ppos;
  uint64_t *pairs2 = tide_malloc((size_t)np * 2 * sizeof *pairs2);
  if (!pairs2) return nomem(s->op, err);
  for (uint32_t i = 0; i < np; i++) {
    pairs2[2 * i] = (uint64_t)tide_rowset_find(s->Fset, s->F[s->P[i]]);
    pairs2[2 * i + 1] = s->P[i];
  }
  qsort(pairs2, np, 2 * sizeof *pairs2, cmp_pos);
  for (uint32_t i = 0; i < np; i++) {
    pp[i] = pairs2[2 * i];
    s->P[i] = (uint32_t)pairs2[2 * i + 1];
  }
  tide_free(pairs2);
  const uint64_t nf = tide_rowset_size(s->Fset);
  tide_status st = TIDE_OK;
  for (uint32_t i = 0; i < np;) {
    uint32_t j = i + 1;
    while (j < np && pp[j] == pp[j - 1] + 1) j++;
    /* run P[i..j) at positions pp[i] .. pp[j-1]; neighbours keep labels */
    uint64_t lo = pp[i], hi = pp[j - 1]; /* window of positions, inclusive */
    int64_t a = lo ? (int64_t)s->L[hb_group_at(s, lo - 1)] : 0; /* labels start at 1 */
    int64_t b = hi + 1 < nf ? (int64_t)s->L[hb_group_at(s, hi + 1)] : (int64_t)s->Lmax;
    uint64_t k = j - i;
    /* keep the old labels when they still fit */
    bool keep = true;
    int64_t prev = a;
    for (uint32_t q = i; q < j && keep; q++) {
      uint64_t lo2 = s->Lold[s->P[q]];
      keep = lo2 != TIDE_NULL_KEY && (int64_t)lo2 > prev && (int64_t)lo2 < b;
      prev = (int64_t)lo2;
    }
    if (keep) {
      for (uint32_t q = i; q < j; q++) s->L[s->P[q]] = s->Lold[s->P[q]];
    } else if (b == (int64_t)s->Lmax && a + (int64_t)(k * s->gap) < b) {
      for (uint32_t q = i; q < j; q++)
        s->L[s->P[q]] = (uint64_t)a + (uint64_t)(q - i + 1) * s->gap;
    } else if ((uint64_t)(b - a - 1) >= k) {
      uint64_t step = (uint64_t)(b - a) / (k + 1);
      for (uint32_t q = i; q < j; q++) s->L[s->P[q]] = (uint64_t)a + step * (q - i + 1);
    } else {
      /* widen the window until its label range has room for twice its
       * groups (or it covers every group) */
      uint64_t w = 1;
      for (;;) {
        lo = pp[i] > w ? pp[i] - w : 0;
        hi = pp[j - 1] + w < nf ? pp[j - 1] + w : nf - 1;
        /* unplaced groups above join the window (no label to bound it) */
        while (hi + 1 < nf && s->pend[hb_group_at(s, hi + 1)]) hi++;
        a = lo ? (int64_t)s->L[hb_group_at(s, lo - 1)] : 0;
        b = hi + 1 < nf ? (int64_t)s->L[hb_group_at(s, hi + 1)] : (int64_t)s->Lmax;
        uint64_t cnt = hi - lo + 1;
        if ((uint64_t)(b - a - 1) >= 2 * cnt || (lo == 0 && hi == nf - 1)) break;
        w *= 2;
      }
      uint64_t cnt = hi - lo + 1;
      if ((uint64_t)(b - a - 1) < cnt) {
        st = tide_error_set(err, TIDE_ERR_RANGE, "%s: too many groups for n = %llu", s->op,
                            (unsigned long long)s->n);
        break;
      }
      uint64_t step = (uint64_t)(b - a) / (cnt + 1);
      if (b == (int64_t)s->Lmax && step > s->gap) step = s->gap; /* stay dense at the end */
      for (uint64_t q = 0; q < cnt; q++) {
        uint32_t g = hb_group_at(s, lo + q);
        hb_touch(s, g); /* keeps Lold when already touched */
        s->L[g] = (uint64_t)a + step * (q + 1);
        s->pend[g] = 0;
      }
      /* later runs inside the window are placed already */
      while (j < np && pp[j] <= hi) j++;
    }
    for (uint32_t q = i; q < j; q++) s->pend[s->P[q]] = 0;
    i = j;
  }
  for (uint32_t q = 0; q < np; q++) s->pend[s->P[q]] = 0;
  return st;
}

/* Apply the parent's update (NULL: the first build, every row added) to
 * the groups, then recompute the selection of every touched group,
 * filling o_rem / o_add / o_mod (result keys) and mapk / mapv (map
 * writes). */
static tide_status hb_update(hb_state *s, const tide_table_t *p, const tide_update_t *pu,
                             tide_error *err) {
  tide_status st = TIDE_OK;
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_t *moving = NULL;
  s->cyc++;
  s->ntouched = 0;
  s->nt_r = 0;
  s->rem.n = s->ins.n = s->mod.n = 0;
  s->o_rem.n = s->o_add.n = s->o_mod.n = s->mapk.n = s->mapv.n = 0;
  s->mod_all = false;
  const tide_rowset_t *added = pu ? pu->added : p->rowset;
  if (s->blink) {
    /* every row of the previous batch is gone */
    for (uint32_t i = 0; i < s->nlive; i++) {
      uint32_t g = s->live[i];
      s->members[g].n = 0;
      s->F[g] = TIDE_NULL_KEY;
      s->L[g] = TIDE_NULL_KEY;
      s->nsel[g] = 0;
    }
    s->nlive = 0;
    tide_rowset_free(s->Fset);
    s->Fset = tide_rowset_create();
    if (!s->Fset) goto oom;
  } else if (pu) {
    if (!rs_empty(pu->removed)) {
      tide_rowset_iter_init(&it, pu->removed);
      while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->keybuf)) {
        hb_ids_mapped(s, &seq, s->ids);
        if (!pairs_reserve(&s->rem, seq.n)) goto oom;
        for (uint32_t i = 0; i < seq.n; i++) {
          uint32_t g = s->ids[i];
          if (g >= s->ng) {
            uint64_t k = seq.keys ? seq.keys[i] : seq.first + i;
            st = tide_error_set(err, TIDE_ERR_STATE, "%s: removed row %llu was never seen",
                                s->op, (unsigned long long)k);
            goto done;
          }
          hb_touch(s, g);
          s->rem.gids[s->rem.n] = g;
          s->rem.keys[s->rem.n++] = seq.keys ? seq.keys[i] : seq.first + i;
        }
      }
      /* kept by group (ascending) to tell removed rows in the diff */
      if (!hb_bucket(s, &s->rem, &s->roff, &s->roffcap, &s->rsorted, &s->rsortcap)) goto oom;
      s->nt_r = s->ntouched;
      for (uint32_t t = 0; t < s->nt_r; t++)
        if (s->roff[t + 1] > s->roff[t])
          gvec_remove(&s->members[s->touched[t]], s->rsorted + s->roff[t],
                      s->roff[t + 1] - s->roff[t]);
      s->rem.n = 0;
    }
    if (pu->nshifts) {
      /* kept rows in the shifts' ranges move within their groups */
      moving = tide_rowset_create();
      if (!moving) goto oom;
      for (size_t i = 0; i < pu->nshifts; i++)
        if (tide_rowset_insert_range(moving, pu->shifts[i].first, pu->shifts[i].last) != TIDE_OK)
          goto oom;
      if (tide_rowset_intersect_inplace(moving, tide_table_prev_rowset(p)) != TIDE_OK) goto oom;
      if (!rs_empty(pu->removed) && tide_rowset_minus_inplace(moving, pu->removed) != TIDE_OK)
        goto oom;
      if (tide__source_paged_shift(s->gidmap, pu->shifts, pu->nshifts, moving) != TIDE_OK)
        goto oom;
      tide_rowset_iter_init(&it, moving);
      while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->keybuf)) {
        uint64_t *nk = s->keybuf; /* rewritten in place below */
        if (!seq.keys) {
          for (uint32_t i = 0; i < seq.n; i++) nk[i] = seq.first + i;
          seq.keys = nk;
        }
        if (!pairs_reserve(&s->rem, seq.n) || !pairs_reserve(&s->ins, seq.n)) goto oom;
        for (uint32_t i = 0; i < seq.n; i++) {
          s->rem.keys[s->rem.n++] = nk[i];
          nk[i] = shift_key(pu->shifts, pu->nshifts, nk[i]);
        }
        hb_ids_mapped(s, &seq, s->ids);
        for (uint32_t i = 0; i < seq.n; i++) {
          uint32_t g = s->ids[i];
          hb_touch(s, g);
          s->rem.gids[s->rem.n - seq.n + i] = g;
          s->ins.gids[s->ins.n] = g;
          s->ins.keys[s->ins.n++] = nk[i];
        }
      }
      st = hb_apply(s, &s->rem, &s->ins, err);
      if (st != TIDE_OK) goto done;
    }
    if (!rs_empty(pu->modified)) {
      bool keys_mod = false;
      for (size_t k = 0; k < s->nby; k++)
        keys_mod |= tide_update_col_modified(pu, (size_t)s->byidx[k]);
      tide_rowset_iter_init(&it, pu->modified);
      while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->keybuf)) {
        hb_ids_mapped(s, &seq, s->ids);
        if (keys_mod) {
          st = hb_ids_current(s, p, &seq, s->ids2, err);
          if (st != TIDE_OK) goto done;
        }
        if (!pairs_reserve(&s->rem, seq.n) || !pairs_reserve(&s->ins, seq.n) ||
            !pairs_reserve(&s->mod, seq.n))
          goto oom;
        bool moved = false;
        for (uint32_t i = 0; i < seq.n; i++) {
          uint64_t k = seq.keys ? seq.keys[i] : seq.first + i;
          uint32_t g = s->ids[i], g2 = keys_mod ? s->ids2[i] : g;
          hb_touch(s, g);
          if (g2 == g) {
            s->mod.gids[s->mod.n] = g;
            s->mod.keys[s->mod.n++] = k;
            continue;
          }
          hb_touch(s, g2);
          moved = true;
          s->rem.gids[s->rem.n] = g;
          s->rem.keys[s->rem.n++] = k;
          s->ins.gids[s->ins.n] = g2;
          s->ins.keys[s->ins.n++] = k;
        }
        if (moved) {
          const uint64_t *ks = seq.keys;
          if (!ks) {
            for (uint32_t i = 0; i < seq.n; i++) s->keybuf[i] = seq.first + i;
            ks = s->keybuf;
          }
          if (tide__source_paged_set(s->gidmap, ks, seq.n, s->ids2) != TIDE_OK) goto oom;
        }
      }
      st = hb_apply(s, &s->rem, &s->ins, err);
      if (st != TIDE_OK) goto done;
    }
  }
  if (!rs_empty(added)) {
    tide_rowset_iter_init(&it, added);
    while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->keybuf)) {
      st = hb_ids_current(s, p, &seq, s->ids, err);
      if (st != TIDE_OK) goto done;
      if (!seq.keys) {
        for (uint32_t i = 0; i < seq.n; i++) s->keybuf[i] = seq.first + i;
        seq.keys = s->keybuf;
      }
      if (tide__source_paged_set(s->gidmap, seq.keys, seq.n, s->ids) != TIDE_OK) goto oom;
      if (!pairs_reserve(&s->ins, seq.n)) goto oom;
      for (uint32_t i = 0; i < seq.n; i++) {
        hb_touch(s, s->ids[i]);
        s->ins.gids[s->ins.n] = s->ids[i];
        s->ins.keys[s->ins.n++] = seq.keys[i];
      }
    }
  }
  st = hb_apply(s, &s->rem, &s->ins, err);
  if (st != TIDE_OK) goto done;
  st = hb_label(s, err);
  if (st != TIDE_OK) goto done;
  /* modified rows that stayed in their group, by group (ascending keys) */
  if (!hb_bucket(s, &s->mod, &s->moff, &s->moffcap, &s->msorted, &s->msortcap)) goto oom;

  /* the touched groups' previous selections, read from the map before
   * any of it is rewritten */
  s->oldsel.n = 0;
  for (uint32_t t = 0; t < s->ntouched; t++) {
    uint32_t g = s->touched[t];
    uint64_t nold = s->nsel[g];
    if (!nold) continue;
    if (!kv_reserve(&s->oldsel, nold)) goto oom;
    uint64_t base = s->Lold[g] << s->S;
    for (uint64_t r = 0; r < nold; r += TIDE_CHUNK_SIZE) {
      uint32_t cnt = (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, nold - r);
      tide_rowseq_t q = {base + r, NULL, 0, cnt};
      tide_source_fill(s->map, &q, s->oldsel.v + s->oldsel.n);
      s->oldsel.n += cnt;
    }
  }
  /* new selections and the differences */
  size_t opos = 0;
  for (uint32_t t = 0; t < s->ntouched; t++) {
    uint32_t g = s->touched[t];
    const gvec *mem = &s->members[g];
    uint64_t size = mem->n;
    uint64_t newn = TIDE_MIN(size, s->n);
    uint64_t newl = s->L[g];
    uint64_t oldn = s->nsel[g], oldl = s->Lold[g];
    const uint64_t *old = s->oldsel.v + opos;
    opos += oldn;
    if (newn > (UINT64_C(1) << s->S)) {
      st = tide_error_set(err, TIDE_ERR_RANGE, "%s: a group has more than 2^%u rows to keep",
                          s->op, s->S);
      goto done;
    }
    const uint64_t *nw = mem->v + (s->tail ? size - newn : 0);
    if (!kv_reserve(&s->o_rem, oldn) || !kv_reserve(&s->o_add, newn) ||
        !kv_reserve(&s->o_mod, TIDE_MIN(oldn, newn)) || !kv_reserve(&s->mapk, newn) ||
        !kv_reserve(&s->mapv, newn))
      goto oom;
    uint64_t from = 0; /* first rank that is new */
    if (oldn && newn && oldl == newl) {
      uint64_t base = newl << s->S, both = TIDE_MIN(oldn, newn);
      const uint64_t *mk = s->msorted + s->moff[t], *mend = s->msorted + s->moff[t + 1];
      const uint64_t *rk = NULL, *rend = NULL; /* the group's removed rows */
      if (t < s->nt_r) {
        rk = s->rsorted + s->roff[t];
        rend = s->rsorted + s->roff[t + 1];
      }
      for (uint64_t r = 0; r < both; r++) {
        uint64_t o = old[r], k = nw[r];
        while (rk < rend && *rk < o) rk++;
        bool same = (pu && pu->nshifts ? shift_key(pu->shifts, pu->nshifts, o) : o) == k &&
                    !(rk < rend && *rk == o);
        if (same) {
          if (o != k) {
            s->mapk.v[s->mapk.n++] = base | r;
            s->mapv.v[s->mapv.n++] = k;
          }
          while (mk < mend && *mk < k) mk++;
          if (mk < mend && *mk == k) s->o_mod.v[s->o_mod.n++] = base | r;
        } else {
          s->mapk.v[s->mapk.n++] = base | r;
          s->mapv.v[s->mapv.n++] = k;
          s->o_mod.v[s->o_mod.n++] = base | r;
          s->mod_all = true;
        }
      }
      for (uint64_t r = newn; r < oldn; r++) s->o_rem.v[s->o_rem.n++] = base | r;
      from = both;
    } else {
      for (uint64_t r = 0; r < oldn; r++) s->o_rem.v[s->o_rem.n++] = (oldl << s->S) | r;
    }
    for (uint64_t r = from; r < newn; r++) {
      uint64_t key = (newl << s->S) | r;
      s->o_add.v[s->o_add.n++] = key;
      s->mapk.v[s->mapk.n++] = key;
      s->mapv.v[s->mapv.n++] = nw[r];
    }
    s->nsel[g] = newn;
    if (s->blink && size) s->live[s->nlive++] = g;
  }
  for (size_t i = 0; i < s->mapk.n; i += TIDE_CHUNK_SIZE) {
    uint32_t cnt = (uint32_t)TIDE_MIN((size_t)TIDE_CHUNK_SIZE, s->mapk.n - i);
    if (tide__source_paged_set(s->map, s->mapk.v + i, cnt, s->mapv.v + i) != TIDE_OK) goto oom;
  }
  goto done;
oom:
  st = nomem(s->op, err);
done:
  tide_rowset_free(moving);
  return st;
}

static tide_status hb_notify(tide_gnode_t *nd, tide_error *err) {
  hb_state *s = nd->state;
  const tide_update_t *pu = tide__gnode_parent_update(nd, 0);
  if (!pu) return TIDE_OK;
  tide_table_t *r = nd->table;
  TIDE_TRY(hb_update(s, nd->parents[0], pu, err));
  tide_update_t u = {0};
  tide_rowset_t *cur = NULL;
  tide_status st = TIDE_OK;
  if (s->blink) {
    if (!rs_empty(r->rowset)) {
      u.removed = tide_rowset_copy(r->rowset);
      if (!u.removed) goto oom;
    }
  } else if (s->o_rem.n) {
    u.removed = tide_rowset_from_keys(s->o_rem.v, s->o_rem.n);
    if (!u.removed) goto oom;
  }
  if (s->o_add.n) {
    u.added = tide_rowset_from_keys(s->o_add.v, s->o_add.n);
    if (!u.added) goto oom;
  }
  if (s->o_mod.n) {
    u.modified = tide_rowset_from_keys(s->o_mod.v, s->o_mod.n);
    size_t nw = nwords_for(s->ncols);
    u.modified_cols = tide_calloc(nw ? nw : 1, sizeof *u.modified_cols);
    if (!u.modified || !u.modified_cols) goto oom;
    u.ncols = s->ncols;
    for (size_t c = 0; c < s->ncols; c++)
      if (s->mod_all || tide_update_col_modified(pu, s->outcol[c]))
        u.modified_cols[c / 64] |= UINT64_C(1) << (c % 64);
  }
  if (tide_update_is_empty(&u)) return TIDE_OK;
  if (s->blink) {
    cur = u.added ? tide_rowset_copy(u.added) : tide_rowset_create();
  } else {
    cur = tide_rowset_copy(r->rowset);
    if (cur && u.removed && tide_rowset_minus_inplace(cur, u.removed) != TIDE_OK) goto oom;
    if (cur && u.added && tide_rowset_union_inplace(cur, u.added) != TIDE_OK) goto oom;
  }
  if (!cur) goto oom;
  st = tide__gnode_publish(nd, &u, cur, err);
  cur = NULL;
  goto done;
oom:
  st = nomem(s->op, err);
done:
  tide__update_clear(&u);
  tide_rowset_free(cur);
  return st;
}

static const tide_gnode_vt head_by_vt = {"head_by", NULL, hb_notify, hb_destroy};
static const tide_gnode_vt tail_by_vt = {"tail_by", NULL, hb_notify, hb_destroy};

tide_table_t *tide__head_by_ticking(tide_table_t *t, uint64_t n, const char *const *by,
                                    size_t nby, bool tail, tide_error *err) {
  const char *op = tail ? "tail_by" : "head_by";
  tide_graph_t *graph = tide_table_graph(t);
  tide_graph_t *g = tide__graph_snapshot_lock(t);
  tide_table_t *r = NULL;
  tide_rowset_t *rs = NULL;
  const char **names = NULL;
  tide_source_t **outs = NULL;
  bool *placed = NULL;
  size_t nout = 0;
  tide_type_t *types = NULL;
  hb_state *s = tide_calloc(1, sizeof *s);
  if (!s) goto oom;
  s->op = op;
  s->tail = tail;
  s->blink = t->kind == TIDE_KIND_BLINK;
  s->n = n;
  s->S = n <= 1 ? 0 : TIDE_MIN(bits_for(n - 1), 32u);
  s->Lmax = UINT64_C(1) << (62 - s->S);
  s->gap = TIDE_MAX(UINT64_C(1), UINT64_C(256) >> s->S);
  s->nby = nby;
  s->ncols = t->ncols;
  s->byidx = tide_calloc(nby ? nby : 1, sizeof *s->byidx);
  s->kvals = tide_calloc(nby ? nby : 1, sizeof *s->kvals);
  types = tide_calloc(nby ? nby : 1, sizeof *types);
  s->keybuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->keybuf);
  s->ids = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->ids);
  s->ids2 = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->ids2);
  s->outcol = tide_calloc(t->ncols ? t->ncols : 1, sizeof *s->outcol);
  if (!s->byidx || !s->kvals || !types || !s->keybuf || !s->ids || !s->ids2 || !s->outcol)
    goto oom;
  for (size_t k = 0; k < nby; k++) {
    int idx = tide__col_lookup(t, by[k], op, err);
    if (idx < 0) goto fail;
    s->byidx[k] = idx;
    types[k] = tide_source_type(t->cols[idx]);
    s->kvals[k] = tide_malloc(TIDE_CHUNK_SIZE * 8);
    if (!s->kvals[k]) goto oom;
  }
  if (nby) {
    s->ks = tide__keyset_create(nby, types, 1024, err);
    if (!s->ks) goto fail;
  }
  s->gidmap = tide__source_paged_create(TIDE_I32, NULL, err);
  s->map = tide__source_paged_create(TIDE_I64, NULL, err);
  if (!s->gidmap || !s->map) goto fail;
  if (tide__source_track_prev(s->map, tide__graph_step_ptr(graph)) != TIDE_OK) goto oom;
  if (hb_update(s, t, NULL, err) != TIDE_OK) goto fail;
  rs = tide_rowset_from_keys(s->o_add.v, s->o_add.n);
  if (!rs) goto oom;
  /* key columns first (in by order), then the others in table order */
  names = tide_malloc((t->ncols ? t->ncols : 1) * sizeof *names);
  outs = tide_calloc(t->ncols ? t->ncols : 1, sizeof *outs);
  placed = tide_calloc(t->ncols ? t->ncols : 1, sizeof *placed);
  if (!names || !outs || !placed) goto oom;
  for (size_t j = 0; j < nby + t->ncols; j++) {
    size_t c = j < nby ? (size_t)s->byidx[j] : j - nby;
    if (placed[c]) continue;
    placed[c] = true;
    names[nout] = t->names[c];
    s->outcol[nout] = c;
    outs[nout] = tide__source_tredir_create(t->cols[c], s->map, err);
    if (!outs[nout]) goto fail;
    nout++;
  }
  r = tide_table_create(rs, nout, names, outs, err);
  if (!r) {
    tide_error_prefix(err, "%s", op);
    goto fail;
  }
  if (!tide__gnode_create(graph, r, s->blink ? TIDE_KIND_BLINK : TIDE_KIND_STANDARD,
                          tail ? &tail_by_vt : &head_by_vt, &t, 1, s, err))
    goto fail;
  s = NULL;
  goto done;
oom:
  nomem(op, err);
fail:
  tide_table_free(r);
  r = NULL;
done:
  hb_free(s);
  for (size_t c = 0; c < nout; c++) tide_source_release(outs[c]);
  tide_free(outs);
  tide_free(names);
  tide_free(placed);
  tide_free(types);
  tide_rowset_free(rs);
  tide__graph_snapshot_unlock(g);
  return r;
}
