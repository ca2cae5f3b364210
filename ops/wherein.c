/*
 * where_in / where_not_in: keep the rows of t whose match columns do (not)
 * appear in filter_table. The filter table's key columns are hashed
 * (ops/join_int.h matching rules: values compare by content across
 * dictionaries, ints of any width, null matches null); t is probed a morsel
 * at a time in parallel. The result shares t's column sources with a
 * subset of t's RowSet.
 *
 * Ticking inputs (either table or both; docs/TICKING.md, decision 5): the
 * key values of both sides are hashed to ids (a value seen on either side
 * keeps its id). Per id: the number of filter rows holding it, and the list
 * of the source rows holding it (current row keys; removed rows leave dead
 * entries, compacted when a list is more than half dead); per source row
 * its id and list position (a paged int64 map keyed by row key, moved
 * through shifts), per filter row its id (same). A cycle applies the
 * filter's update to the counts, then the source's update to the lists
 * (removed rows, shifted rows, modified rows whose match columns changed,
 * added rows), and re-tests: added and re-keyed source rows, and the
 * source rows of every id whose filter count went from 0 to positive or
 * back. Cost follows the change: the changed rows, the rows inside shift
 * ranges, and the source rows holding a value that entered or left the
 * filter set. With a static filter table no lists or maps are kept: the
 * ids are the filter's values only, and added and re-keyed source rows are
 * probed (like where). Symbol columns of different dictionaries are
 * matched by string (new symbols are picked up each cycle).
 *
 * The result's update: the source's removed rows that were in it, shifts
 * as the source's, re-tested rows that leave (removed, in the previous key
 * space) or enter (added), and the source's modified rows that stay
 * (modified, same columns). Result kind: with a static filter table, the
 * source's kind for append-only, add-only and blink sources (only their
 * added rows can enter), else STANDARD; with a ticking filter table,
 * STANDARD (a filter change removes and inserts rows anywhere).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>

#include <omp.h>

#include "ops/join_int.h"
#include "sched/ticking_int.h"

#define W_NAME_CAP 256

/* ------------------------------------------------------------ incremental */

/* Current row keys of the source rows holding one key value (id): live
 * entries and dead ones (TIDE_NULL_KEY, left by removed or re-keyed rows
 * until the list is compacted). */
typedef struct wi_vec {
  uint64_t *k;
  uint32_t n, cap, dead;
} wi_vec;

typedef struct wi_state {
  const char *op;
  bool invert;
  bool index;            /* the filter ticks: per-id lists of source rows */
  int pidx, fidx;        /* node parent index of the source / filter; -1: static */
  tide__jkeys_t jk;      /* left: the source, right: the filter table */
  tide_keyset_t *ks;     /* key values of both sides -> id */
  uint32_t ng, gcap;
  int64_t *fcnt;         /* filter rows per id */
  wi_vec *vec;           /* source rows per id */
  uint64_t *stamp;       /* cycle of the last fcnt change / compaction mark */
  uint64_t *cstamp;
  uint8_t *was;          /* fcnt > 0 before the cycle (touched ids) */
  uint32_t *touched, ntouched;
  uint32_t *compact, ncompact;
  uint64_t cyc;
  tide_source_t *pmap;   /* source row key -> id << 32 | position in vec[id] */
  tide_source_t *fmap;   /* filter row key -> id */
  /* rows to (re)test this cycle, split by their outcome */
  uint64_t *pass, *fail;
  uint64_t npass, nfail, pcap, fcap;
  /* chunk scratch */
  tide__jscratch_t js;
  int64_t *ibuf;
  uint64_t *ukeys;
} wi_state;

static void wi_state_free(wi_state *s) {
  if (!s) return;
  tide__jkeys_free(&s->jk);
  if (s->ks) tide__keyset_free(s->ks);
  tide_free(s->fcnt);
  if (s->vec)
    for (uint32_t i = 0; i < s->gcap; i++) tide_free(s->vec[i].k);
  tide_free(s->vec);
  tide_free(s->stamp);
  tide_free(s->cstamp);
  tide_free(s->was);
  tide_free(s->touched);
  tide_free(s->compact);
  tide_source_release(s->pmap);
  tide_source_release(s->fmap);
  tide_free(s->pass);
  tide_free(s->fail);
  tide__jscratch_free(&s->js);
  tide_free(s->ibuf);
  tide_free(s->ukeys);
  tide_free(s);
}

static tide_status wi_oom(const wi_state *s, tide_error *err) {
  return tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", s->op);
}

static bool wi_grow(void **p, size_t oldn, size_t newn, size_t w) {
  void *q = tide_realloc(*p, newn * w);
  if (!q) return false;
  memset((char *)q + oldn * w, 0, (newn - oldn) * w);
  *p = q;
  return true;
}

static tide_status wi_reserve(wi_state *s, uint32_t need, tide_error *err) {
  if (need <= s->gcap) return TIDE_OK;
  uint32_t cap = s->gcap ? s->gcap : 64;
  while (cap < need) cap *= 2;
  if (!wi_grow((void **)&s->fcnt, s->gcap, cap, sizeof *s->fcnt) ||
      !wi_grow((void **)&s->vec, s->gcap, cap, sizeof *s->vec) ||
      !wi_grow((void **)&s->stamp, s->gcap, cap, sizeof *s->stamp) ||
      !wi_grow((void **)&s->cstamp, s->gcap, cap, sizeof *s->cstamp) ||
      !wi_grow((void **)&s->was, s->gcap, cap, sizeof *s->was) ||
      !wi_grow((void **)&s->touched, s->gcap, cap, sizeof *s->touched) ||
      !wi_grow((void **)&s->compact, s->gcap, cap, sizeof *s->compact))
    return wi_oom(s, err);
  s->gcap = cap;
  return TIDE_OK;
}

/* Symbol columns matched by string: take in the strings of symbols
 * interned since the last cycle (dictionaries only grow). */
static tide_status wi_refresh_strs(wi_state *s, tide_error *err) {
  for (size_t k = 0; k < s->jk.nkeys; k++)
    for (int side = 0; side < 2; side++) {
      tide__jcol_t *c = side ? &s->jk.right[k] : &s->jk.left[k];
      if (c->conv != TIDE_JCONV_SYM_STR) continue;
      const tide_symtab_t *st = tide_source_symtab(c->src);
      uint32_t n = st ? tide_symtab_size(st) : 0;
      if (n <= c->nmap) continue;
      const char **strs = tide_realloc((void *)c->strs, n * sizeof *strs);
      if (!strs) return wi_oom(s, err);
      for (uint32_t i = c->nmap; i < n; i++) strs[i] = tide_symtab_str(st, (int32_t)i);
      c->strs = strs;
      c->nmap = n;
    }
  return TIDE_OK;
}

/* Ids of the key values of rows seq (left: the source, else the filter),
 * inserting new values. Result in s->js.ids. */
static tide_status wi_ids(wi_state *s, bool left, const tide_rowseq_t *seq, tide_error *err) {
  const void *const *cols = tide__jkeys_chunk(&s->jk, left, seq, &s->js);
  if (tide__keyset_insert(s->ks, cols, seq->n, s->js.ids) != TIDE_OK) return wi_oom(s, err);
  uint32_t after = tide__keyset_size(s->ks);
  if (after > s->ng) {
    TIDE_TRY(wi_reserve(s, after, err));
    s->ng = after;
  }
  return TIDE_OK;
}

static const uint64_t *wi_keys(wi_state *s, const tide_rowseq_t *seq) {
  if (seq->keys) return seq->keys;
  tide__tick_iota(s->ukeys, seq->first, seq->n);
  return s->ukeys;
}

/* Filter counts of ids[0..n) change by d. */
static void wi_fcount(wi_state *s, const uint32_t *ids, uint32_t n, int64_t d) {
  for (uint32_t i = 0; i < n; i++) {
    uint32_t g = ids[i];
    if (s->stamp[g] != s->cyc) {
      s->stamp[g] = s->cyc;
      s->was[g] = s->fcnt[g] > 0;
      s->touched[s->ntouched++] = g;
    }
    s->fcnt[g] += d;
  }
}

static bool wi_passes(const wi_state *s, uint32_t id) {
  return (id != TIDE_KEYSET_ABSENT && s->fcnt[id] > 0) != s->invert;
}

static bool wi_push(uint64_t **a, uint64_t *n, uint64_t *cap, uint64_t key) {
  if (*n == *cap) {
    uint64_t nc = *cap ? *cap * 2 : 1024;
    uint64_t *p = tide_realloc(*a, nc * sizeof *p);
    if (!p) return false;
    *a = p;
    *cap = nc;
  }
  (*a)[(*n)++] = key;
  return true;
}

/* Record rows keys[0..n) with ids for re-testing. */
static tide_status wi_retest(wi_state *s, const uint64_t *keys, const uint32_t *ids, uint32_t n,
                             tide_error *err) {
  for (uint32_t i = 0; i < n; i++) {
    bool ok = wi_passes(s, ids[i]) ? wi_push(&s->pass, &s->npass, &s->pcap, keys[i])
                                   : wi_push(&s->fail, &s->nfail, &s->fcap, keys[i]);
    if (!ok) return wi_oom(s, err);
  }
  return TIDE_OK;
}

/* Append source rows keys[0..n) to the lists of ids[0..n); their map
 * entries (id << 32 | position) go to s->ibuf. */
static tide_status wi_vec_append(wi_state *s, const uint64_t *keys, const uint32_t *ids,
                                 uint32_t n, tide_error *err) {
  for (uint32_t i = 0; i < n; i++) {
    wi_vec *v = &s->vec[ids[i]];
    if (v->n == v->cap) {
      uint32_t nc = v->cap ? v->cap * 2 : 4;
      uint64_t *p = tide_realloc(v->k, (size_t)nc * sizeof *p);
      if (!p) return wi_oom(s, err);
      v->k = p;
      v->cap = nc;
    }
    s->ibuf[i] = (int64_t)((uint64_t)ids[i] << 32 | v->n);
    v->k[v->n++] = keys[i];
  }
  return TIDE_OK;
}

/* Mark the entry of a source row dead; lists more than half dead are
 * queued for compaction. */
static void wi_vec_kill(wi_state *s, uint32_t id, uint32_t pos) {
  wi_vec *v = &s->vec[id];
  v->k[pos] = TIDE_NULL_KEY;
  v->dead++;
  if (v->dead * 2 > v->n && s->cstamp[id] != s->cyc) {
    s->cstamp[id] = s->cyc;
    s->compact[s->ncompact++] = id;
  }
}

/* Compact the queued lists (current keys, map in the current key space). */
static tide_status wi_compact(wi_state *s, tide_error *err) {
  uint32_t nb = 0;
  for (uint32_t c = 0; c < s->ncompact; c++) {
    uint32_t id = s->compact[c];
    wi_vec *v = &s->vec[id];
    uint32_t o = 0;
    for (uint32_t i = 0; i < v->n; i++) {
      uint64_t k = v->k[i];
      if (k == TIDE_NULL_KEY) continue;
      v->k[o] = k;
      s->ukeys[nb] = k;
      s->ibuf[nb++] = (int64_t)((uint64_t)id << 32 | o);
      o++;
      if (nb == TIDE_CHUNK_SIZE) {
        if (tide__source_paged_set(s->pmap, s->ukeys, nb, s->ibuf) != TIDE_OK)
          return wi_oom(s, err);
        nb = 0;
      }
    }
    v->n = o;
    v->dead = 0;
    if (o == 0) {
      tide_free(v->k);
      v->k = NULL;
      v->cap = 0;
    }
  }
  s->ncompact = 0;
  if (nb && tide__source_paged_set(s->pmap, s->ukeys, nb, s->ibuf) != TIDE_OK)
    return wi_oom(s, err);
  return TIDE_OK;
}

static bool wi_keycols_modified(const tide_update_t *u, const int *cols, size_t n) {
  if (!u->modified || tide_rowset_is_empty(u->modified)) return false;
  for (size_t k = 0; k < n; k++)
    if (tide_update_col_modified(u, (size_t)cols[k])) return true;
  return false;
}

static tide_rowset_t *wi_kept(const tide_table_t *t, const tide_update_t *u) {
  const tide_rowset_t *prev = tide_table_prev_rowset(t);
  return u->removed ? tide_rowset_minus(prev, u->removed) : tide_rowset_copy(prev);
}

/* The filter table's update: counts per id. */
static tide_status wi_filter_update(wi_state *s, const tide_table_t *f, const tide_update_t *fu,
                                    tide_error *err) {
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  uint32_t *ids = s->js.ids;
  if (fu->removed && !tide_rowset_is_empty(fu->removed)) {
    tide_rowset_iter_init(&it, fu->removed);
    while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->js.keybuf)) {
      tide_source_fill(s->fmap, &seq, s->ibuf);
      for (uint32_t i = 0; i < seq.n; i++) {
        if (s->ibuf[i] < 0 || (uint64_t)s->ibuf[i] >= s->ng)
          return tide_error_set(err, TIDE_ERR_STATE, "%s: filter row %llu was never added",
                                s->op, (unsigned long long)wi_keys(s, &seq)[i]);
        ids[i] = (uint32_t)s->ibuf[i];
      }
      wi_fcount(s, ids, seq.n, -1);
    }
  }
  if (fu->nshifts) {
    tide_rowset_t *kept = wi_kept(f, fu);
    if (!kept) return wi_oom(s, err);
    tide_status st = tide__source_paged_shift(s->fmap, fu->shifts, fu->nshifts, kept);
    tide_rowset_free(kept);
    if (st != TIDE_OK)
      return tide_error_set(err, st, "%s: cannot apply the filter table's shifts", s->op);
  }
  if (wi_keycols_modified(fu, s->jk.rcol, s->jk.nkeys)) {
    tide_rowset_iter_init(&it, fu->modified);
    while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->js.keybuf)) {
      tide_source_fill(s->fmap, &seq, s->ibuf);
      TIDE_TRY(wi_ids(s, false, &seq, err));
      const uint64_t *keys = wi_keys(s, &seq);
      for (uint32_t i = 0; i < seq.n; i++) {
        uint32_t old = (uint32_t)s->ibuf[i];
        if (s->ibuf[i] < 0 || old >= s->ng)
          return tide_error_set(err, TIDE_ERR_STATE, "%s: filter row %llu was never added",
                                s->op, (unsigned long long)keys[i]);
        uint32_t nw = ids[i];
        if (old == nw) continue;
        wi_fcount(s, &old, 1, -1);
        wi_fcount(s, &nw, 1, 1);
      }
      for (uint32_t i = 0; i < seq.n; i++) s->ibuf[i] = (int64_t)ids[i];
      if (tide__source_paged_set(s->fmap, keys, seq.n, s->ibuf) != TIDE_OK) return wi_oom(s, err);
    }
  }
  if (fu->added && !tide_rowset_is_empty(fu->added)) {
    tide_rowset_iter_init(&it, fu->added);
    while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->js.keybuf)) {
      TIDE_TRY(wi_ids(s, false, &seq, err));
      wi_fcount(s, ids, seq.n, 1);
      const uint64_t *keys = wi_keys(s, &seq);
      for (uint32_t i = 0; i < seq.n; i++) s->ibuf[i] = (int64_t)ids[i];
      if (tide__source_paged_set(s->fmap, keys, seq.n, s->ibuf) != TIDE_OK) return wi_oom(s, err);
    }
  }
  return TIDE_OK;
}

/* Source rows of rs (current keys): with a ticking filter their ids are
 * inserted, appended to the lists and mapped; with a static one only
 * looked up (TIDE_KEYSET_ABSENT: not in the filter). Then queued for
 * testing. */
static tide_status wi_source_add(wi_state *s, const tide_rowset_t *rs, tide_error *err) {
  if (!rs || tide_rowset_is_empty(rs)) return TIDE_OK;
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init(&it, rs);
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->js.keybuf)) {
    if (!s->index) {
      const void *const *cols = tide__jkeys_chunk(&s->jk, true, &seq, &s->js);
      tide__keyset_find(s->ks, cols, seq.n, s->js.ids);
      TIDE_TRY(wi_retest(s, wi_keys(s, &seq), s->js.ids, seq.n, err));
      continue;
    }
    TIDE_TRY(wi_ids(s, true, &seq, err));
    const uint64_t *keys = wi_keys(s, &seq);
    TIDE_TRY(wi_vec_append(s, keys, s->js.ids, seq.n, err));
    if (s->pmap && tide__source_paged_set(s->pmap, keys, seq.n, s->ibuf) != TIDE_OK)
      return wi_oom(s, err);
    TIDE_TRY(wi_retest(s, keys, s->js.ids, seq.n, err));
  }
  return TIDE_OK;
}

/* The source table's update, in its order: removed rows leave their lists
 * (previous keys), shifted rows are re-keyed in the lists and the map,
 * re-keyed (modified key columns) and added rows are (re)placed and queued
 * for testing. */
static tide_status wi_source_update(wi_state *s, const tide_table_t *p, const tide_update_t *pu,
                                    tide_error *err) {
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  if (!s->index) {
    /* a static filter: re-keyed and added rows are probed, nothing else */
    if (wi_keycols_modified(pu, s->jk.lcol, s->jk.nkeys))
      TIDE_TRY(wi_source_add(s, pu->modified, err));
    return wi_source_add(s, pu->added, err);
  }
  if (pu->removed && !tide_rowset_is_empty(pu->removed)) {
    tide_rowset_iter_init(&it, pu->removed);
    while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->js.keybuf)) {
      tide_source_fill(s->pmap, &seq, s->ibuf);
      for (uint32_t i = 0; i < seq.n; i++) {
        uint64_t e = (uint64_t)s->ibuf[i];
        uint32_t id = (uint32_t)(e >> 32), pos = (uint32_t)e;
        if (id >= s->ng || pos >= s->vec[id].n)
          return tide_error_set(err, TIDE_ERR_STATE, "%s: source row %llu was never added",
                                s->op, (unsigned long long)wi_keys(s, &seq)[i]);
        wi_vec_kill(s, id, pos);
      }
    }
  }
  if (pu->nshifts) {
    tide_rowset_t *kept = wi_kept(p, pu);
    if (!kept) return wi_oom(s, err);
    tide_status st = TIDE_OK;
    for (size_t h = 0; h < pu->nshifts && st == TIDE_OK; h++) {
      const tide_shift_t *sh = &pu->shifts[h];
      tide_rowset_t *moved = tide_rowset_create_range(sh->first, sh->last);
      if (!moved || tide_rowset_intersect_inplace(moved, kept) != TIDE_OK) {
        tide_rowset_free(moved);
        st = wi_oom(s, err);
        break;
      }
      tide_rowset_iter_init(&it, moved);
      while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->js.keybuf)) {
        tide_source_fill(s->pmap, &seq, s->ibuf);
        const uint64_t *keys = wi_keys(s, &seq);
        for (uint32_t i = 0; i < seq.n; i++) {
          uint64_t e = (uint64_t)s->ibuf[i];
          s->vec[e >> 32].k[(uint32_t)e] = (uint64_t)((int64_t)keys[i] + sh->delta);
        }
      }
      tide_rowset_free(moved);
    }
    if (st == TIDE_OK) {
      st = tide__source_paged_shift(s->pmap, pu->shifts, pu->nshifts, kept);
      if (st != TIDE_OK) tide_error_set(err, st, "%s: cannot apply the source's shifts", s->op);
    }
    tide_rowset_free(kept);
    TIDE_TRY(st);
  }
  if (wi_keycols_modified(pu, s->jk.lcol, s->jk.nkeys)) {
    tide_rowset_iter_init(&it, pu->modified);
    uint32_t *ids = s->js.ids;
    while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->js.keybuf)) {
      tide_source_fill(s->pmap, &seq, s->ibuf);
      const uint64_t *keys = wi_keys(s, &seq);
      for (uint32_t i = 0; i < seq.n; i++) {
        uint64_t e = (uint64_t)s->ibuf[i];
        uint32_t id = (uint32_t)(e >> 32), pos = (uint32_t)e;
        if (id >= s->ng || pos >= s->vec[id].n)
          return tide_error_set(err, TIDE_ERR_STATE, "%s: source row %llu was never added",
                                s->op, (unsigned long long)keys[i]);
        wi_vec_kill(s, id, pos);
      }
      TIDE_TRY(wi_ids(s, true, &seq, err));
      TIDE_TRY(wi_vec_append(s, keys, ids, seq.n, err));
      if (tide__source_paged_set(s->pmap, keys, seq.n, s->ibuf) != TIDE_OK) return wi_oom(s, err);
      TIDE_TRY(wi_retest(s, keys, ids, seq.n, err));
    }
  }
  return wi_source_add(s, pu->added, err);
}

/* Map keys of `cur` (current key space) that shifts moved back to their
 * previous keys (`kept`: the previous keys that stayed, before shifting). */
static tide_rowset_t *wi_unshift(const tide_rowset_t *cur, const tide_rowset_t *kept,
                                 const tide_shift_t *shifts, size_t nshifts) {
  uint64_t n = tide_rowset_size(cur);
  uint64_t *keys = tide_malloc((n ? n : 1) * sizeof *keys);
  if (!keys) return NULL;
  tide_rowset_export(cur, keys);
  for (uint64_t i = 0; i < n; i++) {
    uint64_t k = keys[i];
    for (size_t h = 0; h < nshifts; h++) {
      int64_t d = shifts[h].delta;
      if (d > 0 && k < (uint64_t)d) continue;
      uint64_t c = (uint64_t)((int64_t)k - d);
      if (c >= shifts[h].first && c <= shifts[h].last && tide_rowset_contains(kept, c)) {
        keys[i] = c;
        break;
      }
    }
  }
  tide_rowset_t *res = tide_rowset_from_keys(keys, n);
  tide_free(keys);
  return res;
}

static tide_status wi_notify(tide_gnode_t *n, tide_error *err) {
  wi_state *s = n->state;
  tide_table_t *r = n->table;
  const tide_update_t *pu = s->pidx >= 0 ? tide__gnode_parent_update(n, (size_t)s->pidx) : NULL;
  const tide_update_t *fu = s->fidx >= 0 ? tide__gnode_parent_update(n, (size_t)s->fidx) : NULL;
  if (!pu && !fu) return TIDE_OK;
  s->cyc++;
  s->ntouched = 0;
  s->npass = s->nfail = 0;
  TIDE_TRY(wi_refresh_strs(s, err));
  if (fu) TIDE_TRY(wi_filter_update(s, n->parents[s->fidx], fu, err));
  if (pu) TIDE_TRY(wi_source_update(s, n->parents[s->pidx], pu, err));
  /* source rows of ids that entered or left the filter set */
  for (uint32_t t = 0; t < s->ntouched; t++) {
    uint32_t id = s->touched[t];
    if ((s->fcnt[id] > 0) == s->was[id]) continue;
    const wi_vec *v = &s->vec[id];
    for (uint32_t i = 0; i < v->n; i++) {
      uint64_t k = v->k[i];
      if (k == TIDE_NULL_KEY) continue;
      bool ok = wi_passes(s, id) ? wi_push(&s->pass, &s->npass, &s->pcap, k)
                                 : wi_push(&s->fail, &s->nfail, &s->fcap, k);
      if (!ok) return wi_oom(s, err);
    }
  }
  if (s->pmap) TIDE_TRY(wi_compact(s, err));
  /* the result's update */
  tide_status st = TIDE_OK;
  tide_update_t u = {0};
  tide_rowset_t *cur = NULL, *kept = NULL, *pass = NULL, *fail = NULL, *gone = NULL;
  const tide_rowset_t *old = r->rowset;
  bool prem = pu && pu->removed && !tide_rowset_is_empty(pu->removed);
  if (prem) {
    u.removed = tide_rowset_intersect(old, pu->removed);
    cur = tide_rowset_minus(old, pu->removed);
  } else {
    cur = tide_rowset_copy(old);
  }
  if (!cur || (prem && !u.removed)) goto oom;
  if (pu && pu->nshifts) {
    kept = tide_rowset_copy(cur);
    if (!kept) goto oom;
    tide_status ss = tide_rowset_shift(cur, pu->shifts, pu->nshifts);
    if (ss == TIDE_ERR_NOMEM) goto oom;
    if (ss != TIDE_OK) {
      st = tide_error_set(err, TIDE_ERR_STATE, "%s: the source's update has invalid shifts", s->op);
      goto done;
    }
    u.shifts = tide_malloc(pu->nshifts * sizeof *u.shifts);
    if (!u.shifts) goto oom;
    memcpy(u.shifts, pu->shifts, pu->nshifts * sizeof *u.shifts);
    u.nshifts = pu->nshifts;
  }
  pass = s->npass ? tide_rowset_from_keys(s->pass, s->npass) : tide_rowset_create();
  fail = s->nfail ? tide_rowset_from_keys(s->fail, s->nfail) : tide_rowset_create();
  if (!pass || !fail) goto oom;
  gone = tide_rowset_intersect(fail, cur);
  u.added = tide_rowset_minus(pass, cur);
  if (!gone || !u.added) goto oom;
  if (!tide_rowset_is_empty(gone)) {
    if (tide_rowset_minus_inplace(cur, gone) != TIDE_OK) goto oom;
    tide_rowset_t *pk = kept ? wi_unshift(gone, kept, pu->shifts, pu->nshifts)
                             : tide_rowset_retain(gone);
    if (!pk) goto oom;
    if (u.removed) {
      tide_status us = tide_rowset_union_inplace(u.removed, pk);
      tide_rowset_free(pk);
      if (us != TIDE_OK) goto oom;
    } else {
      u.removed = pk;
    }
  }
  if (tide_rowset_union_inplace(cur, u.added) != TIDE_OK) goto oom;
  if (pu && pu->modified && !tide_rowset_is_empty(pu->modified)) {
    u.modified = tide_rowset_intersect(pu->modified, cur);
    if (!u.modified || tide_rowset_minus_inplace(u.modified, u.added) != TIDE_OK) goto oom;
    if (!tide_rowset_is_empty(u.modified)) {
      size_t nw = (pu->ncols + 63) / 64;
      u.modified_cols = tide_calloc(nw ? nw : 1, sizeof *u.modified_cols);
      if (!u.modified_cols) goto oom;
      if (pu->modified_cols) memcpy(u.modified_cols, pu->modified_cols, nw * sizeof *u.modified_cols);
      u.ncols = pu->ncols;
    }
  }
  if (tide_update_is_empty(&u)) {
    tide__update_clear(&u);
    goto done;
  }
  st = tide__gnode_publish(n, &u, cur, err);
  cur = NULL;
  goto done;
oom:
  st = wi_oom(s, err);
done:
  tide__update_clear(&u);
  tide_rowset_free(cur);
  tide_rowset_free(kept);
  tide_rowset_free(pass);
  tide_rowset_free(fail);
  tide_rowset_free(gone);
  return st;
}

static void wi_destroy(tide_gnode_t *n) { wi_state_free(n->state); }

static const tide_gnode_vt wi_vt = {"where_in", NULL, wi_notify, wi_destroy};
static const tide_gnode_vt wni_vt = {"where_not_in", NULL, wi_notify, wi_destroy};

static tide_table_kind_t wi_kind(const tide_table_t *t, const tide_table_t *filter) {
  if (filter->node) return TIDE_KIND_STANDARD; /* filter changes remove and insert rows */
  switch (t->kind) {
    case TIDE_KIND_APPEND_ONLY:
    case TIDE_KIND_BLINK:
    case TIDE_KIND_ADD_ONLY: return t->kind;
    default: return TIDE_KIND_STANDARD;
  }
}

/* The ticking build (caller holds the graph's read lock). */
static tide_table_t *wi_ticking(const char *op, bool invert, tide_table_t *t, tide_table_t *filter,
                                const char *const *ln, const char *const *rn, size_t nmatch,
                                tide_error *err) {
  tide_graph_t *g = t->node ? tide_table_graph(t) : tide_table_graph(filter);
  if (t->node && filter->node && tide_table_graph(filter) != g) {
    tide_error_set(err, TIDE_ERR_INVALID,
                   "%s: the table and the filter table belong to different update graphs", op);
    return NULL;
  }
  tide_table_t *r = NULL;
  tide_rowset_t *rs = NULL;
  wi_state *s = tide_calloc(1, sizeof *s);
  if (!s) {
    tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
    return NULL;
  }
  s->op = op;
  s->invert = invert;
  if (tide__jkeys_init(&s->jk, op, t, filter, ln, rn, nmatch, err) != TIDE_OK) goto fail;
  /* symbols of different dictionaries are matched by string (a code map
   * would go stale as the dictionaries grow) */
  for (size_t k = 0; k < nmatch; k++) {
    tide__jcol_t *L = &s->jk.left[k], *R = &s->jk.right[k];
    if (L->conv != TIDE_JCONV_SYM_MAP) continue;
    tide_free(L->map);
    L->map = NULL;
    L->nmap = R->nmap = 0;
    L->conv = R->conv = TIDE_JCONV_SYM_STR;
    L->hash_type = R->hash_type = s->jk.types[k] = TIDE_STRING;
  }
  if (wi_refresh_strs(s, err) != TIDE_OK) goto fail;
  s->index = filter->node != NULL;
  s->ks = tide__keyset_create(nmatch, s->jk.types,
                              tide_table_size(filter) + (s->index ? tide_table_size(t) : 0), err);
  if (!s->ks) goto fail;
  if (tide__jscratch_init(&s->js, nmatch, err) != TIDE_OK) goto oom;
  s->ibuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->ibuf);
  s->ukeys = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->ukeys);
  if (!s->ibuf || !s->ukeys) goto oom;
  if (filter->node) {
    s->fmap = tide__source_paged_create(TIDE_I64, NULL, err);
    if (!s->fmap) goto fail;
  }
  if (t->node && s->index) {
    s->pmap = tide__source_paged_create(TIDE_I64, NULL, err);
    if (!s->pmap) goto fail;
  }
  /* the filter's rows, then the source's */
  s->cyc = 1;
  {
    tide_update_t init = {0};
    init.added = filter->rowset;
    if (filter->node) {
      if (wi_filter_update(s, filter, &init, err) != TIDE_OK) goto fail;
    } else {
      tide_rowset_iter_t it;
      tide_rowseq_t seq;
      tide_rowset_iter_init(&it, filter->rowset);
      while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->js.keybuf)) {
        if (wi_ids(s, false, &seq, err) != TIDE_OK) goto fail;
        wi_fcount(s, s->js.ids, seq.n, 1);
      }
    }
  }
  s->ntouched = 0;
  if (wi_source_add(s, t->rowset, err) != TIDE_OK) goto fail;
  rs = s->npass ? tide_rowset_from_keys(s->pass, s->npass) : tide_rowset_create();
  if (!rs) goto oom;
  s->npass = s->nfail = 0;
  r = tide_table_create(rs, t->ncols, (const char *const *)t->names, t->cols, err);
  if (!r) {
    tide_error_prefix(err, "%s", op);
    goto fail;
  }
  tide_rowset_free(rs);
  rs = NULL;
  tide_table_t *parents[2];
  size_t np = 0;
  s->pidx = s->fidx = -1;
  if (t->node) {
    s->pidx = (int)np;
    parents[np++] = t;
  }
  if (filter->node) {
    s->fidx = (int)np;
    parents[np++] = filter;
  }
  if (!tide__gnode_create(g, r, wi_kind(t, filter), invert ? &wni_vt : &wi_vt, parents, np, s,
                          err)) {
    tide_error_prefix(err, "%s", op);
    goto fail;
  }
  return r;
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
fail:
  tide_rowset_free(rs);
  tide_table_free(r);
  wi_state_free(s);
  return NULL;
}

/* ------------------------------------------------------------ builds */

static tide_table_t *where_in_impl(const char *op, bool invert, tide_table_t *t,
                                   tide_table_t *filter, const char *const *match, size_t nmatch,
                                   tide_error *err) {
  if (!t || !filter) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: NULL table", op);
    return NULL;
  }
  if (nmatch == 0 || !match) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: no match columns given", op);
    return NULL;
  }
  tide_table_t *result = NULL;
  tide__jkeys_t jk;
  memset(&jk, 0, sizeof jk);
  tide_keyset_t *ks = NULL;
  uint32_t *gids = NULL, *lids = NULL;
  uint64_t *mcount = NULL, *keys = NULL;
  tide_rowset_t *rs = NULL;
  tide_morsels_t ms = {0};
  char *names = tide_malloc(2 * nmatch * W_NAME_CAP);
  const char **ln = tide_calloc(nmatch, sizeof(char *));
  const char **rn = tide_calloc(nmatch, sizeof(char *));
  const char **cnames = NULL;
  if (!names || !ln || !rn) goto oom;
  for (size_t i = 0; i < nmatch; i++) {
    char *l = names + 2 * i * W_NAME_CAP, *r = l + W_NAME_CAP;
    ln[i] = l;
    rn[i] = r;
    if (!match[i] || !tide__split_pair(match[i], l, r, W_NAME_CAP)) {
      tide_error_set(err, TIDE_ERR_PARSE, "%s: malformed match '%s'", op,
                     match[i] ? match[i] : "(null)");
      goto fail;
    }
  }
  if (t->node || filter->node) {
    result = wi_ticking(op, invert, t, filter, ln, rn, nmatch, err);
    goto done;
  }
  if (tide__jkeys_init(&jk, op, t, filter, ln, rn, nmatch, err) != TIDE_OK) goto fail;

  const tide_rowset_t *lrs = tide_table_rowset(t);
  uint64_t nl = tide_rowset_size(lrs), nr = tide_table_size(filter);
  gids = tide_malloc(sizeof(uint32_t) * (nr ? nr : 1));
  if (!gids) goto oom;
  uint32_t ngroups = 0;
  if (tide__jkeys_build(&jk, filter, &ks, gids, &ngroups, err) != TIDE_OK) {
    tide_error_prefix(err, "%s", op);
    goto fail;
  }
  tide_free(gids);
  gids = NULL;

  lids = tide_malloc(sizeof(uint32_t) * (nl ? nl : 1));
  uint64_t nm = (nl + TIDE_MORSEL_ROWS - 1) / TIDE_MORSEL_ROWS;
  mcount = tide_malloc(sizeof(uint64_t) * (nm ? nm : 1));
  if (!lids || !mcount) goto oom;
  int nt = tide__threads_for(nl);
  int failed = 0;
  if (tide__morsels_init(&ms, nm, nt, NULL) != TIDE_OK) goto oom;
  /* NUMA-aware morsels (numa/morsel.c); morsel m writes lids at its
   * positions and mcount[m] only. */
#pragma omp parallel num_threads(nt)
  {
    tide__jscratch_t s;
    bool ok = tide__jscratch_init(&s, jk.nkeys, NULL) == TIDE_OK;
    if (!ok) {
#pragma omp atomic write
      failed = 1;
    }
    for (uint64_t m; ok && tide__morsels_next(&ms, omp_get_thread_num(), &m);) {
      uint64_t pos = m * TIDE_MORSEL_ROWS, cnt = TIDE_MIN((uint64_t)TIDE_MORSEL_ROWS, nl - pos);
      uint32_t *ids = lids + pos;
      tide__jkeys_probe(&jk, ks, ngroups, t, pos, cnt, &s, ids);
      uint64_t kept = 0;
      for (uint64_t i = 0; i < cnt; i++) kept += (ids[i] != TIDE_KEYSET_ABSENT) != invert;
      mcount[m] = kept;
    }
    tide__jscratch_free(&s);
  }
  tide__morsels_free(&ms);
  if (failed) goto oom;
  uint64_t total = 0;
  for (uint64_t m = 0; m < nm; m++) {
    uint64_t x = mcount[m];
    mcount[m] = total;
    total += x;
  }
  if (total == nl) {
    rs = tide_rowset_retain((tide_rowset_t *)lrs);
  } else if (total == 0) {
    rs = tide_rowset_create();
    if (!rs) goto oom;
  } else {
    keys = tide_malloc(sizeof(uint64_t) * total);
    if (!keys) goto oom;
    if (tide__morsels_init(&ms, nm, nt, NULL) != TIDE_OK) goto oom;
    /* morsel m writes its kept keys from position mcount[m] on */
#pragma omp parallel num_threads(nt)
    for (uint64_t m; tide__morsels_next(&ms, omp_get_thread_num(), &m);) {
      uint64_t pos = m * TIDE_MORSEL_ROWS, cnt = TIDE_MIN((uint64_t)TIDE_MORSEL_ROWS, nl - pos);
      uint64_t o = mcount[m];
      uint64_t kb[TIDE_CHUNK_SIZE];
      tide_rowset_iter_t it;
      tide_rowseq_t seq;
      tide_rowset_iter_init_pos(&it, lrs, pos, cnt);
      while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, kb)) {
        const uint32_t *cid = lids + seq.pos;
        if (seq.keys) {
          for (uint32_t i = 0; i < seq.n; i++)
            if ((cid[i] != TIDE_KEYSET_ABSENT) != invert) keys[o++] = seq.keys[i];
        } else {
          for (uint32_t i = 0; i < seq.n; i++)
            if ((cid[i] != TIDE_KEYSET_ABSENT) != invert) keys[o++] = seq.first + i;
        }
      }
    }
    tide__morsels_free(&ms);
    rs = tide_rowset_from_keys(keys, total);
    if (!rs) goto oom;
  }
  size_t ncols = tide_table_ncols(t);
  cnames = tide_calloc(ncols ? ncols : 1, sizeof(char *));
  if (!cnames) goto oom;
  for (size_t i = 0; i < ncols; i++) cnames[i] = tide_table_col_name(t, i);
  result = tide_table_create(rs, ncols, cnames, t->cols, err);
  if (!result) tide_error_prefix(err, "%s", op);
  goto done;

oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
fail:
  result = NULL;
done:
  tide__morsels_free(&ms);
  tide_rowset_free(rs);
  if (ks) tide__keyset_free(ks);
  tide__jkeys_free(&jk);
  tide_free(gids);
  tide_free(lids);
  tide_free(mcount);
  tide_free(keys);
  tide_free(cnames);
  tide_free(names);
  tide_free(ln);
  tide_free(rn);
  return result;
}

tide_table_t *tide_where_in(tide_table_t *t, tide_table_t *filter_table,
                            const char *const *match, size_t nmatch, tide_error *err) {
  tide_graph_t *lk = tide__graph_snapshot_lock(t && t->node ? t : filter_table);
  tide_table_t *r = where_in_impl("where_in", false, t, filter_table, match, nmatch, err);
  tide__graph_snapshot_unlock(lk);
  return r;
}

tide_table_t *tide_where_not_in(tide_table_t *t, tide_table_t *filter_table,
                                const char *const *match, size_t nmatch, tide_error *err) {
  tide_graph_t *lk = tide__graph_snapshot_lock(t && t->node ? t : filter_table);
  tide_table_t *r = where_in_impl("where_not_in", true, t, filter_table, match, nmatch, err);
  tide__graph_snapshot_unlock(lk);
  return r;
}
