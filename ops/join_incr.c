/*
 * Incremental natural_join and exact_join (Deephaven semantics) for a
 * refreshing left table, a refreshing right table, or both.
 *
 * The result lives in the left table's key space: its RowSet is the left
 * RowSet (shared, like view), its left columns are the left's sources as
 * they are, and each added right column is a ticking redirection
 * (tide__source_tredir_create) of the right column through `map`, a
 * tracked paged int64 source holding, for each left row key, the key of
 * the matching right row (TIDE_NULL_KEY: no match, reads null).
 *
 * Key tuples of both sides hash into one keyset (kernels/hash.h) with the
 * conversions of ops/join_keys.c: group g stands for one key value and
 * knows its right row (rrow). When the right side ticks, left keys are
 * inserted too, and each group keeps the list of left rows that hold its
 * key (the reverse index), so that a right add / remove / key change / row
 * move rewrites the map of exactly those left rows. Per-row bookkeeping
 * lives in sparse key -> value maps (kmap_t): left row key -> (group,
 * position in the group's list), right row key -> group. With a static
 * right side none of this exists: left changes are looked up and written.
 *
 * One cycle: the left update first (removed, shifts, added, modified rows
 * whose key columns changed), then the right update (removed, shifts,
 * modified, added); groups whose right row changed are marked dirty and
 * their left rows rewritten at the end. The result's update is the left's
 * removed / shifts / added, and as modified: the left's modified rows plus
 * the left rows whose right row changed (all right columns marked) or
 * whose right row's values changed (the right's modified columns). Rows
 * added in the cycle are never also reported modified.
 *
 * Errors (the graph then marks the result failed): a right key held by two
 * right rows after a cycle (both joins), a left row without a match
 * (exact_join); both name the op, the key columns and the key.
 *
 * Symbols: codes of two different dictionaries compare through the
 * strings (dictionaries of ticking tables grow during cycles, so the
 * conversion tables are extended at each cycle); with a static right side
 * the left codes are translated into the right dictionary instead.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>

#include "ops/join_int.h"
#include "sched/graph_int.h"

#define NJ_NAME_CAP 256
#define NJ_NONE UINT64_MAX /* no row / no entry (== TIDE_NULL_KEY) */

/* ----------------------------------------------------------- kmap */

/* Sparse map from row keys to uint64 values (NJ_NONE when never set):
 * pages of 4096 values in an open-addressing table of page ids. */
#define KM_BITS 12
#define KM_PAGE (1u << KM_BITS)
#define KM_MASK ((uint64_t)KM_PAGE - 1)

typedef struct kmap_t {
  uint64_t *ids;    /* page id per slot; UINT64_MAX = empty */
  uint64_t **pages; /* per slot */
  uint64_t nslots;  /* power of two (0: nothing yet) */
  uint64_t npages;
  unsigned shift;   /* 64 - log2(nslots) */
} kmap_t;

static inline uint64_t *km_page(const kmap_t *m, uint64_t id) {
  if (!m->nslots) return NULL;
  uint64_t mask = m->nslots - 1;
  for (uint64_t i = (id * 0x9E3779B97F4A7C15ULL) >> m->shift;; i = (i + 1) & mask) {
    if (m->ids[i] == id) return m->pages[i];
    if (m->ids[i] == UINT64_MAX) return NULL;
  }
}

static inline uint64_t km_get(const kmap_t *m, uint64_t k) {
  const uint64_t *p = km_page(m, k >> KM_BITS);
  return p ? p[k & KM_MASK] : NJ_NONE;
}

static void km_insert_slot(kmap_t *m, uint64_t id, uint64_t *page) {
  uint64_t mask = m->nslots - 1;
  uint64_t i = (id * 0x9E3779B97F4A7C15ULL) >> m->shift;
  while (m->ids[i] != UINT64_MAX) i = (i + 1) & mask;
  m->ids[i] = id;
  m->pages[i] = page;
}

static uint64_t *km_add_page(kmap_t *m, uint64_t id) {
  if ((m->npages + 1) * 2 > m->nslots) {
    uint64_t ns = m->nslots ? m->nslots * 2 : 16;
    unsigned sh = 64;
    for (uint64_t x = ns; x > 1; x >>= 1) sh--;
    uint64_t *ids = tide_malloc(ns * sizeof *ids);
    uint64_t **pages = tide_malloc(ns * sizeof *pages);
    if (!ids || !pages) {
      tide_free(ids);
      tide_free(pages);
      return NULL;
    }
    memset(ids, 0xff, ns * sizeof *ids);
    kmap_t nm = {ids, pages, ns, m->npages, sh};
    for (uint64_t i = 0; i < m->nslots; i++)
      if (m->ids[i] != UINT64_MAX) km_insert_slot(&nm, m->ids[i], m->pages[i]);
    tide_free(m->ids);
    tide_free(m->pages);
    *m = nm;
  }
  uint64_t *page = tide_malloc(KM_PAGE * sizeof *page);
  if (!page) return NULL;
  memset(page, 0xff, KM_PAGE * sizeof *page);
  km_insert_slot(m, id, page);
  m->npages++;
  return page;
}

/* false on OOM */
static inline bool km_set(kmap_t *m, uint64_t k, uint64_t v) {
  uint64_t *p = km_page(m, k >> KM_BITS);
  if (TIDE_UNLIKELY(!p)) {
    p = km_add_page(m, k >> KM_BITS);
    if (!p) return false;
  }
  p[k & KM_MASK] = v;
  return true;
}

static void km_free(kmap_t *m) {
  for (uint64_t i = 0; i < m->nslots; i++)
    if (m->ids[i] != UINT64_MAX) tide_free(m->pages[i]);
  tide_free(m->ids);
  tide_free(m->pages);
  memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------ vectors */

typedef struct u64vec {
  uint64_t *v;
  size_t n, cap;
} u64vec;

static bool uv_reserve(u64vec *x, size_t extra) {
  if (x->n + extra <= x->cap) return true;
  size_t cap = x->cap ? x->cap : 64;
  while (cap < x->n + extra) cap *= 2;
  uint64_t *v = tide_realloc(x->v, cap * sizeof *v);
  if (!v) return false;
  x->v = v;
  x->cap = cap;
  return true;
}

/* ------------------------------------------------------------- state */

#define NJ_REDIR 1u /* the group's right row changed (or appeared / went) */
#define NJ_SHIFT 2u /* the group's right row moved to another right key */
#define NJ_VALUE 4u /* values of the group's right row changed */

typedef struct njgroup_t {
  uint64_t rrow;  /* right row key holding this key, NJ_NONE if none */
  uint64_t *lk;   /* left row keys holding this key (right ticking) */
  uint32_t nl, capl;
  uint32_t stamp; /* notify counter of the last mark */
  uint32_t flags;
} njgroup_t;

typedef struct nj_state {
  bool exact, rtick;
  const char *op;
  tide_table_t *left, *right; /* one reference each */
  int li, ri;                 /* parent index of each side's update; -1: static */
  tide__jkeys_t jk;
  char keynames[TIDE_ERROR_MSG_MAX / 4];
  tide_keyset_t *ks; /* NULL when there are no key columns */
  tide__jscratch_t scr;
  njgroup_t *g;
  uint32_t ng, capg;
  kmap_t lslot; /* left key -> group << 32 | position in the group's list */
  kmap_t rslot; /* right key -> group */
  tide_source_t *map;
  size_t nl, nadd;
  int *addcols;
  uint32_t stamp;
  uint32_t *dirty;
  uint32_t ndirty, capdirty;
  u64vec redir, val, pend, from, to;
  uint64_t *kb, *vb, *ob;
  uint32_t *ids;
} nj_state;

static void nj_state_free(nj_state *s) {
  if (!s) return;
  tide_table_free(s->left);
  tide_table_free(s->right);
  tide__jkeys_free(&s->jk);
  if (s->ks) tide__keyset_free(s->ks);
  tide__jscratch_free(&s->scr);
  for (uint32_t i = 0; i < s->ng; i++) tide_free(s->g[i].lk);
  tide_free(s->g);
  km_free(&s->lslot);
  km_free(&s->rslot);
  tide_source_release(s->map);
  tide_free(s->addcols);
  tide_free(s->dirty);
  tide_free(s->redir.v);
  tide_free(s->val.v);
  tide_free(s->pend.v);
  tide_free(s->from.v);
  tide_free(s->to.v);
  tide_free(s->kb);
  tide_free(s->vb);
  tide_free(s->ob);
  tide_free(s->ids);
  tide_free(s);
}

static tide_status nomem(const nj_state *s, tide_error *err) {
  return tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", s->op);
}

static tide_status internal(const nj_state *s, const char *what, uint64_t key, tide_error *err) {
  return tide_error_set(err, TIDE_ERR_STATE, "%s: internal error: %s (row key %llu)", s->op, what,
                        (unsigned long long)key);
}

static bool ensure_groups(nj_state *s, uint32_t n) {
  if (n <= s->ng) return true;
  if (n > s->capg) {
    uint32_t cap = s->capg ? s->capg : 64;
    while (cap < n) cap *= 2;
    njgroup_t *g = tide_realloc(s->g, (size_t)cap * sizeof *g);
    if (!g) return false;
    s->g = g;
    s->capg = cap;
  }
  for (uint32_t i = s->ng; i < n; i++) {
    njgroup_t *G = &s->g[i];
    memset(G, 0, sizeof *G);
    G->rrow = NJ_NONE;
  }
  s->ng = n;
  return true;
}

/* Mark group g dirty with flag f (false on OOM). */
static inline bool mark(nj_state *s, uint32_t g, uint32_t f) {
  njgroup_t *G = &s->g[g];
  if (G->stamp != s->stamp) {
    if (s->ndirty == s->capdirty) {
      uint32_t cap = s->capdirty ? s->capdirty * 2 : 64;
      uint32_t *d = tide_realloc(s->dirty, (size_t)cap * sizeof *d);
      if (!d) return false;
      s->dirty = d;
      s->capdirty = cap;
    }
    s->dirty[s->ndirty++] = g;
    G->stamp = s->stamp;
    G->flags = 0;
  }
  G->flags |= f;
  return true;
}

/* Append left key k to group g's list; writes its slot value. */
static inline bool group_push(njgroup_t *G, uint32_t g, uint64_t k, uint64_t *slot) {
  if (TIDE_UNLIKELY(G->nl == G->capl)) {
    uint32_t cap = G->capl ? G->capl * 2 : 4;
    uint64_t *lk = tide_realloc(G->lk, (size_t)cap * sizeof *lk);
    if (!lk) return false;
    G->lk = lk;
    G->capl = cap;
  }
  *slot = (uint64_t)g << 32 | G->nl;
  G->lk[G->nl++] = k;
  return true;
}

/* Remove the left key at position pos of group g (the last one moves there). */
static inline bool group_drop(nj_state *s, uint32_t g, uint32_t pos) {
  njgroup_t *G = &s->g[g];
  uint64_t last = G->lk[--G->nl];
  if (pos < G->nl) {
    G->lk[pos] = last;
    return km_set(&s->lslot, last, (uint64_t)g << 32 | pos);
  }
  return true;
}

/* ------------------------------------------------------- key columns */

/* Extend the symbol conversion tables of one key column to the current
 * size of its dictionary (ticking dictionaries grow). */
static tide_status jcol_refresh(tide__jcol_t *c, const tide__jcol_t *other) {
  if (c->conv == TIDE_JCONV_SYM_STR) {
    const tide_symtab_t *st = tide_source_symtab(c->src);
    uint32_t n = st ? tide_symtab_size(st) : 0;
    if (n <= c->nmap) return TIDE_OK;
    const char **strs = tide_realloc((void *)c->strs, (size_t)n * sizeof *strs);
    if (!strs) return TIDE_ERR_NOMEM;
    const char *const *all = tide__symtab_strs(st);
    memcpy(strs + c->nmap, all + c->nmap, (size_t)(n - c->nmap) * sizeof *strs);
    c->strs = strs;
    c->nmap = n;
  } else if (c->conv == TIDE_JCONV_SYM_MAP) {
    const tide_symtab_t *from = tide_source_symtab(c->src), *to = tide_source_symtab(other->src);
    uint32_t n = from ? tide_symtab_size(from) : 0;
    if (n <= c->nmap) return TIDE_OK;
    int32_t *map = tide_realloc(c->map, (size_t)n * sizeof *map);
    if (!map) return TIDE_ERR_NOMEM;
    for (uint32_t code = c->nmap; code < n; code++) {
      const char *str = tide_symtab_str(from, (int32_t)code);
      int32_t f = str ? tide_symtab_find(to, str, tide__symtab_len(from, (int32_t)code)) : -1;
      map[code] = f < 0 ? -2 : f;
    }
    c->map = map;
    c->nmap = n;
  }
  return TIDE_OK;
}

static tide_status jk_refresh(nj_state *s, tide_error *err) {
  for (size_t k = 0; k < s->jk.nkeys; k++)
    if (jcol_refresh(&s->jk.left[k], &s->jk.right[k]) != TIDE_OK ||
        jcol_refresh(&s->jk.right[k], &s->jk.left[k]) != TIDE_OK)
      return nomem(s, err);
  return TIDE_OK;
}

/* Group ids of one chunk of one side: inserting absent keys (insert) or
 * TIDE_KEYSET_ABSENT for them. */
static tide_status chunk_groups(nj_state *s, bool left, const tide_rowseq_t *seq, bool insert,
                                tide_error *err) {
  uint32_t *ids = s->ids;
  if (s->jk.nkeys == 0) {
    for (uint32_t i = 0; i < seq->n; i++) ids[i] = 0;
    return TIDE_OK; /* group 0 exists from the build on */
  }
  const void *const *cols = tide__jkeys_chunk(&s->jk, left, seq, &s->scr);
  if (!insert) {
    tide__keyset_find(s->ks, cols, seq->n, ids);
    return TIDE_OK;
  }
  if (tide__keyset_insert(s->ks, cols, seq->n, ids) != TIDE_OK) return nomem(s, err);
  if (!ensure_groups(s, tide__keyset_size(s->ks))) return nomem(s, err);
  return TIDE_OK;
}

/* The keys of seq as an array (kb when consecutive). */
static inline const uint64_t *seq_keys(const tide_rowseq_t *seq, uint64_t *kb) {
  if (seq->keys) return seq->keys;
  for (uint32_t i = 0; i < seq->n; i++) kb[i] = seq->first + i;
  return kb;
}

/* "(AAPL, 3)" for the row key k of t. */
static void format_key(const nj_state *s, const tide_table_t *t, const int *cols, uint64_t k,
                       char *buf, size_t cap) {
  int64_t pos = tide_rowset_find(tide_table_rowset(t), k);
  if (pos < 0 || s->jk.nkeys == 0) {
    snprintf(buf, cap, "()");
    return;
  }
  tide__jformat_key(t, cols, s->jk.nkeys, (uint64_t)pos, buf, cap);
}

static tide_status no_match(const nj_state *s, uint64_t lkey, tide_error *err) {
  char key[256];
  format_key(s, s->left, s->jk.lcol, lkey, key, sizeof key);
  return tide_error_set(err, TIDE_ERR_NOT_FOUND,
                        "%s: no right row matches left key %s (columns %s) at left row key %llu",
                        s->op, key, s->keynames, (unsigned long long)lkey);
}

static tide_status duplicate(const nj_state *s, uint64_t r1, uint64_t r2, tide_error *err) {
  if (s->jk.nkeys == 0)
    return tide_error_set(err, TIDE_ERR_DUPLICATE,
                          "%s: no key columns and the right table has more than one row (right "
                          "row keys %llu and %llu)",
                          s->op, (unsigned long long)r1, (unsigned long long)r2);
  char key[256];
  format_key(s, s->right, s->jk.rcol, r2, key, sizeof key);
  return tide_error_set(err, TIDE_ERR_DUPLICATE,
                        "%s: duplicate right key %s in columns %s at right row keys %llu and %llu",
                        s->op, key, s->keynames, (unsigned long long)r1, (unsigned long long)r2);
}

/* ------------------------------------------------------------ the left */

/* Left rows added: group them (right ticking: into the reverse index) and
 * write their map entries. */
static tide_status left_add(nj_state *s, const tide_rowset_t *rs, tide_error *err) {
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init(&it, rs);
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->kb)) {
    TIDE_TRY(chunk_groups(s, true, &seq, s->rtick, err));
    const uint64_t *keys = seq_keys(&seq, s->kb);
    const uint32_t *ids = s->ids;
    uint64_t *vals = s->vb;
    const njgroup_t *G = s->g;
    if (s->rtick) {
      for (uint32_t i = 0; i < seq.n; i++) {
        uint32_t g = ids[i];
        uint64_t slot;
        if (!group_push(&s->g[g], g, keys[i], &slot) || !km_set(&s->lslot, keys[i], slot))
          return nomem(s, err);
        vals[i] = s->g[g].rrow;
      }
    } else {
      for (uint32_t i = 0; i < seq.n; i++) {
        uint32_t g = ids[i];
        vals[i] = g == TIDE_KEYSET_ABSENT ? NJ_NONE : G[g].rrow;
      }
    }
    if (s->exact)
      for (uint32_t i = 0; i < seq.n; i++)
        if (vals[i] == NJ_NONE) return no_match(s, keys[i], err);
    if (tide__source_paged_set(s->map, keys, seq.n, vals) != TIDE_OK) return nomem(s, err);
  }
  return TIDE_OK;
}

/* Left rows removed (previous key space; right ticking only). */
static tide_status left_remove(nj_state *s, const tide_rowset_t *rs, tide_error *err) {
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init(&it, rs);
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->kb)) {
    const uint64_t *keys = seq_keys(&seq, s->kb);
    for (uint32_t i = 0; i < seq.n; i++) {
      uint64_t slot = km_get(&s->lslot, keys[i]);
      if (slot == NJ_NONE) return internal(s, "removed left row not indexed", keys[i], err);
      if (!group_drop(s, (uint32_t)(slot >> 32), (uint32_t)slot)) return nomem(s, err);
    }
  }
  return TIDE_OK;
}

/* The keys of `kept` that the shifts move, into s->from (old) and s->to
 * (new). */
static tide_status collect_moved(nj_state *s, const tide_shift_t *sh, size_t ns,
                                 const tide_rowset_t *kept, tide_error *err) {
  s->from.n = s->to.n = 0;
  for (size_t i = 0; i < ns; i++) {
    int64_t lo = tide_rowset_find(kept, sh[i].first), hi = tide_rowset_find(kept, sh[i].last);
    uint64_t plo = lo >= 0 ? (uint64_t)lo : (uint64_t)(-lo - 1);
    uint64_t phi = hi >= 0 ? (uint64_t)hi + 1 : (uint64_t)(-hi - 1);
    if (phi <= plo) continue;
    if (!uv_reserve(&s->from, phi - plo) || !uv_reserve(&s->to, phi - plo)) return nomem(s, err);
    tide_rowset_iter_t it;
    tide_rowseq_t seq;
    tide_rowset_iter_init_pos(&it, kept, plo, phi - plo);
    while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->kb)) {
      const uint64_t *keys = seq_keys(&seq, s->kb);
      uint64_t *f = s->from.v + s->from.n, *t = s->to.v + s->to.n;
      for (uint32_t j = 0; j < seq.n; j++) {
        f[j] = keys[j];
        t[j] = (uint64_t)((int64_t)keys[j] + sh[i].delta);
      }
      s->from.n += seq.n;
      s->to.n += seq.n;
    }
  }
  return TIDE_OK;
}

/* prev - removed of a parent (one reference). */
static tide_rowset_t *kept_of(const tide_table_t *t, const tide_update_t *u) {
  const tide_rowset_t *prev = tide_table_prev_rowset(t);
  if (!u->removed || tide_rowset_is_empty(u->removed))
    return tide_rowset_retain((tide_rowset_t *)prev);
  return tide_rowset_minus(prev, u->removed);
}

static tide_status left_shift(nj_state *s, const tide_update_t *u, tide_error *err) {
  tide_rowset_t *kept = kept_of(s->left, u);
  if (!kept) return nomem(s, err);
  tide_status st = tide__source_paged_shift(s->map, u->shifts, u->nshifts, kept);
  if (st != TIDE_OK) {
    tide_rowset_free(kept);
    return st == TIDE_ERR_NOMEM
               ? nomem(s, err)
               : tide_error_set(err, st, "%s: the left table's update has invalid shifts", s->op);
  }
  if (s->rtick) {
    st = collect_moved(s, u->shifts, u->nshifts, kept, err);
    if (st == TIDE_OK) {
      /* read every slot before writing any (a key may move onto the old
       * place of another moving key) */
      uint64_t *f = s->from.v, *t = s->to.v;
      for (size_t i = 0; i < s->from.n; i++) {
        f[i] = km_get(&s->lslot, f[i]);
        if (f[i] == NJ_NONE) {
          st = internal(s, "shifted left row not indexed", t[i], err);
          break;
        }
      }
      for (size_t i = 0; st == TIDE_OK && i < s->from.n; i++) {
        uint64_t slot = f[i];
        s->g[slot >> 32].lk[(uint32_t)slot] = t[i];
        if (!km_set(&s->lslot, t[i], slot)) st = nomem(s, err);
      }
    }
  }
  tide_rowset_free(kept);
  return st;
}

/* Left rows whose key columns changed: look up again. *changed: some
 * row's right row changed. */
static tide_status left_modify(nj_state *s, const tide_rowset_t *rs, bool *changed,
                               tide_error *err) {
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init(&it, rs);
  bool ch = false;
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->kb)) {
    TIDE_TRY(chunk_groups(s, true, &seq, s->rtick, err));
    tide_source_fill(s->map, &seq, s->ob);
    const uint64_t *keys = seq_keys(&seq, s->kb);
    const uint32_t *ids = s->ids;
    uint64_t *vals = s->vb;
    if (s->rtick) {
      for (uint32_t i = 0; i < seq.n; i++) {
        uint32_t g = ids[i];
        uint64_t slot = km_get(&s->lslot, keys[i]);
        if (slot == NJ_NONE) return internal(s, "modified left row not indexed", keys[i], err);
        uint32_t og = (uint32_t)(slot >> 32);
        if (og != g) {
          if (!group_drop(s, og, (uint32_t)slot) || !group_push(&s->g[g], g, keys[i], &slot) ||
              !km_set(&s->lslot, keys[i], slot))
            return nomem(s, err);
        }
        vals[i] = s->g[g].rrow;
      }
    } else {
      const njgroup_t *G = s->g;
      for (uint32_t i = 0; i < seq.n; i++) {
        uint32_t g = ids[i];
        vals[i] = g == TIDE_KEYSET_ABSENT ? NJ_NONE : G[g].rrow;
      }
    }
    const uint64_t *old = s->ob;
    for (uint32_t i = 0; i < seq.n; i++) ch |= vals[i] != old[i];
    if (s->exact)
      for (uint32_t i = 0; i < seq.n; i++)
        if (vals[i] == NJ_NONE) return no_match(s, keys[i], err);
    if (tide__source_paged_set(s->map, keys, seq.n, vals) != TIDE_OK) return nomem(s, err);
  }
  *changed = ch;
  return TIDE_OK;
}

/* ----------------------------------------------------------- the right */

/* Right row r now holds group g's key. */
static inline tide_status place(nj_state *s, uint64_t r, uint32_t g, tide_error *err) {
  njgroup_t *G = &s->g[g];
  if (G->rrow != NJ_NONE) return duplicate(s, G->rrow, r, err);
  G->rrow = r;
  if (s->rtick && !km_set(&s->rslot, r, g)) return nomem(s, err);
  if (!mark(s, g, NJ_REDIR)) return nomem(s, err);
  return TIDE_OK;
}

static tide_status right_add(nj_state *s, const tide_rowset_t *rs, tide_error *err) {
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init(&it, rs);
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->kb)) {
    TIDE_TRY(chunk_groups(s, false, &seq, true, err));
    const uint64_t *keys = seq_keys(&seq, s->kb);
    for (uint32_t i = 0; i < seq.n; i++) TIDE_TRY(place(s, keys[i], s->ids[i], err));
  }
  return TIDE_OK;
}

static tide_status right_remove(nj_state *s, const tide_rowset_t *rs, tide_error *err) {
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init(&it, rs);
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->kb)) {
    const uint64_t *keys = seq_keys(&seq, s->kb);
    for (uint32_t i = 0; i < seq.n; i++) {
      uint64_t g = km_get(&s->rslot, keys[i]);
      if (g == NJ_NONE) return internal(s, "removed right row not indexed", keys[i], err);
      njgroup_t *G = &s->g[g];
      if (G->rrow == keys[i]) {
        G->rrow = NJ_NONE;
        if (!mark(s, (uint32_t)g, NJ_REDIR)) return nomem(s, err);
      }
    }
  }
  return TIDE_OK;
}

static tide_status right_shift(nj_state *s, const tide_update_t *u, tide_error *err) {
  tide_rowset_t *kept = kept_of(s->right, u);
  if (!kept) return nomem(s, err);
  tide_status st = collect_moved(s, u->shifts, u->nshifts, kept, err);
  tide_rowset_free(kept);
  TIDE_TRY(st);
  uint64_t *f = s->from.v, *t = s->to.v;
  for (size_t i = 0; i < s->from.n; i++) {
    uint64_t g = km_get(&s->rslot, f[i]);
    if (g == NJ_NONE) return internal(s, "shifted right row not indexed", f[i], err);
    njgroup_t *G = &s->g[g];
    if (G->rrow == f[i]) {
      G->rrow = t[i];
      if (!mark(s, (uint32_t)g, NJ_SHIFT)) return nomem(s, err);
    }
    f[i] = g;
  }
  for (size_t i = 0; i < s->from.n; i++)
    if (!km_set(&s->rslot, t[i], f[i])) return nomem(s, err);
  return TIDE_OK;
}

/* Whether u marks any of the key columns `cols` modified. */
static bool keys_modified(const nj_state *s, const tide_update_t *u, const int *cols) {
  if (!u->modified || tide_rowset_is_empty(u->modified)) return false;
  for (size_t k = 0; k < s->jk.nkeys; k++)
    if (tide_update_col_modified(u, (size_t)cols[k])) return true;
  return false;
}

/* Whether u marks a right column that the result shows modified. */
static bool values_modified(const nj_state *s, const tide_update_t *u) {
  if (!u->modified || tide_rowset_is_empty(u->modified)) return false;
  for (size_t i = 0; i < s->nadd; i++)
    if (tide_update_col_modified(u, (size_t)s->addcols[i])) return true;
  return false;
}

/* Right rows modified (current key space): a key change moves the row to
 * another group (placed later, after every row left its old group); a
 * value change marks the group. */
static tide_status right_modify(nj_state *s, const tide_update_t *u, tide_error *err) {
  bool keymod = keys_modified(s, u, s->jk.rcol), valmod = values_modified(s, u);
  s->pend.n = 0;
  if (!keymod && !valmod) return TIDE_OK;
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init(&it, u->modified);
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->kb)) {
    if (keymod) TIDE_TRY(chunk_groups(s, false, &seq, true, err));
    const uint64_t *keys = seq_keys(&seq, s->kb);
    if (!uv_reserve(&s->pend, 2 * (size_t)seq.n)) return nomem(s, err);
    for (uint32_t i = 0; i < seq.n; i++) {
      uint64_t og = km_get(&s->rslot, keys[i]);
      if (og == NJ_NONE) return internal(s, "modified right row not indexed", keys[i], err);
      if (keymod && s->ids[i] != og) {
        njgroup_t *G = &s->g[og];
        if (G->rrow == keys[i]) {
          G->rrow = NJ_NONE;
          if (!mark(s, (uint32_t)og, NJ_REDIR)) return nomem(s, err);
        }
        s->pend.v[s->pend.n++] = keys[i];
        s->pend.v[s->pend.n++] = s->ids[i];
      } else if (valmod) {
        if (!mark(s, (uint32_t)og, NJ_VALUE)) return nomem(s, err);
      }
    }
  }
  for (size_t i = 0; i < s->pend.n; i += 2)
    TIDE_TRY(place(s, s->pend.v[i], (uint32_t)s->pend.v[i + 1], err));
  return TIDE_OK;
}

/* Rewrite the map of the left rows of dirty groups; collect the left rows
 * to report modified (s->redir: right row changed; s->val: its values). */
static tide_status apply_dirty(nj_state *s, tide_error *err) {
  for (uint32_t d = 0; d < s->ndirty; d++) {
    njgroup_t *G = &s->g[s->dirty[d]];
    uint32_t f = G->flags;
    G->flags = 0;
    if (!G->nl) continue;
    if (s->exact && G->rrow == NJ_NONE) return no_match(s, G->lk[0], err);
    if (f & (NJ_REDIR | NJ_SHIFT)) {
      uint64_t *vals = s->vb;
      for (uint32_t i = 0; i < TIDE_MIN(G->nl, (uint32_t)TIDE_CHUNK_SIZE); i++) vals[i] = G->rrow;
      for (uint32_t off = 0; off < G->nl; off += TIDE_CHUNK_SIZE) {
        uint32_t n = TIDE_MIN(G->nl - off, (uint32_t)TIDE_CHUNK_SIZE);
        if (tide__source_paged_set(s->map, G->lk + off, n, vals) != TIDE_OK) return nomem(s, err);
      }
    }
    u64vec *out = (f & NJ_REDIR) ? &s->redir : (f & NJ_VALUE) ? &s->val : NULL;
    if (out) {
      if (!uv_reserve(out, G->nl)) return nomem(s, err);
      memcpy(out->v + out->n, G->lk, (size_t)G->nl * sizeof *out->v);
      out->n += G->nl;
    }
  }
  s->ndirty = 0;
  return TIDE_OK;
}

/* keys (n, any order) as a RowSet minus `added` (NULL when empty). */
static tide_status keys_minus(const uint64_t *keys, size_t n, const tide_rowset_t *added,
                              tide_rowset_t **out) {
  *out = NULL;
  if (!n) return TIDE_OK;
  tide_rowset_t *rs = tide_rowset_from_keys(keys, n);
  if (!rs) return TIDE_ERR_NOMEM;
  if (added && !tide_rowset_is_empty(added) && tide_rowset_minus_inplace(rs, added) != TIDE_OK) {
    tide_rowset_free(rs);
    return TIDE_ERR_NOMEM;
  }
  if (tide_rowset_is_empty(rs)) {
    tide_rowset_free(rs);
    return TIDE_OK;
  }
  *out = rs;
  return TIDE_OK;
}

/* ------------------------------------------------------------ notify */

static bool rs_some(const tide_rowset_t *rs) { return rs && !tide_rowset_is_empty(rs); }

static tide_status nj_notify(tide_gnode_t *n, tide_error *err) {
  nj_state *s = n->state;
  const tide_update_t *lu = s->li >= 0 ? tide__gnode_parent_update(n, (size_t)s->li) : NULL;
  const tide_update_t *ru = s->ri >= 0 ? tide__gnode_parent_update(n, (size_t)s->ri) : NULL;
  if (!lu && !ru) return TIDE_OK;
  if (++s->stamp == 0) { /* wrapped: no group may look marked */
    for (uint32_t i = 0; i < s->ng; i++) s->g[i].stamp = 0;
    s->stamp = 1;
  }
  s->ndirty = 0;
  s->redir.n = s->val.n = 0;
  TIDE_TRY(jk_refresh(s, err));
  bool lchanged = false;
  if (lu) {
    if (s->rtick && rs_some(lu->removed)) TIDE_TRY(left_remove(s, lu->removed, err));
    if (lu->nshifts) TIDE_TRY(left_shift(s, lu, err));
    if (rs_some(lu->added)) TIDE_TRY(left_add(s, lu->added, err));
    if (keys_modified(s, lu, s->jk.lcol)) TIDE_TRY(left_modify(s, lu->modified, &lchanged, err));
  }
  if (ru) {
    if (rs_some(ru->removed)) TIDE_TRY(right_remove(s, ru->removed, err));
    if (ru->nshifts) TIDE_TRY(right_shift(s, ru, err));
    TIDE_TRY(right_modify(s, ru, err));
    if (rs_some(ru->added)) TIDE_TRY(right_add(s, ru->added, err));
  }
  TIDE_TRY(apply_dirty(s, err));

  tide_update_t u = {0};
  tide_rowset_t *R = NULL, *V = NULL;
  const tide_rowset_t *added = lu ? lu->added : NULL;
  tide_table_t *r = n->table;
  size_t ncols = s->nl + s->nadd, nw = (ncols + 63) / 64;
  if (keys_minus(s->redir.v, s->redir.n, added, &R) != TIDE_OK ||
      keys_minus(s->val.v, s->val.n, added, &V) != TIDE_OK)
    goto oom;
  if (lu) {
    if (lu->removed) u.removed = tide_rowset_retain(lu->removed);
    if (lu->added) u.added = tide_rowset_retain(lu->added);
    if (lu->nshifts) {
      u.shifts = tide_malloc(lu->nshifts * sizeof *u.shifts);
      if (!u.shifts) goto oom;
      memcpy(u.shifts, lu->shifts, lu->nshifts * sizeof *u.shifts);
      u.nshifts = lu->nshifts;
    }
  }
  bool lmod = lu && rs_some(lu->modified);
  if (lmod || R || V) {
    u.modified_cols = tide_calloc(nw ? nw : 1, sizeof *u.modified_cols);
    if (!u.modified_cols) goto oom;
    u.ncols = ncols;
    if (lmod && lu->modified_cols)
      for (size_t c = 0; c < s->nl; c++)
        if (tide_update_col_modified(lu, c)) u.modified_cols[c / 64] |= 1ull << (c % 64);
    bool all_right = R || (lmod && lchanged);
    for (size_t i = 0; i < s->nadd; i++) {
      size_t c = s->nl + i;
      if (all_right || (V && tide_update_col_modified(ru, (size_t)s->addcols[i])))
        u.modified_cols[c / 64] |= 1ull << (c % 64);
    }
    if (lmod) {
      u.modified = (R || V) ? tide_rowset_copy(lu->modified) : tide_rowset_retain(lu->modified);
      if (!u.modified) goto oom;
    }
    if (R) {
      if (!u.modified) {
        u.modified = R;
        R = NULL;
      } else if (tide_rowset_union_inplace(u.modified, R) != TIDE_OK) {
        goto oom;
      }
    }
    if (V) {
      if (!u.modified) {
        u.modified = V;
        V = NULL;
      } else if (tide_rowset_union_inplace(u.modified, V) != TIDE_OK) {
        goto oom;
      }
    }
  }
  tide_rowset_free(R);
  tide_rowset_free(V);
  R = V = NULL;
  tide_rowset_t *nrs = s->left->rowset != r->rowset ? tide_rowset_retain(s->left->rowset) : NULL;
  return tide__gnode_publish(n, &u, nrs, err);
oom:
  tide_rowset_free(R);
  tide_rowset_free(V);
  tide__update_clear(&u);
  return nomem(s, err);
}

static void nj_destroy(tide_gnode_t *n) { nj_state_free(n->state); }

static const tide_gnode_vt natural_vt = {"natural_join", NULL, nj_notify, nj_destroy};
static const tide_gnode_vt exact_vt = {"exact_join", NULL, nj_notify, nj_destroy};

/* ------------------------------------------------------------- build */

/* Parse "L=R" entries into names (2 * non names of NJ_NAME_CAP). */
static tide_status parse_on(const char *op, const char *const *on, size_t non, char *names,
                            const char **ln, const char **rn, tide_error *err) {
  for (size_t i = 0; i < non; i++) {
    char *l = names + (2 * i) * NJ_NAME_CAP, *r = names + (2 * i + 1) * NJ_NAME_CAP;
    ln[i] = l;
    rn[i] = r;
    if (!on[i]) return tide_error_set(err, TIDE_ERR_INVALID, "%s: NULL 'on' entry", op);
    if (strchr(on[i], '<') || strchr(on[i], '>'))
      return tide_error_set(err, TIDE_ERR_INVALID,
                            "%s: only as-of joins take an inequality (got '%s')", op, on[i]);
    if (!tide__split_pair(on[i], l, r, NJ_NAME_CAP))
      return tide_error_set(err, TIDE_ERR_PARSE, "%s: malformed match '%s'", op, on[i]);
  }
  return TIDE_OK;
}

/* The right columns to add (s->addcols) and their names (addnames). */
static tide_status resolve_adds(nj_state *s, const char *const *joins, size_t njoins,
                                const char *const *rn, char **addnames_out, tide_error *err) {
  size_t nr = tide_table_ncols(s->right);
  size_t cap = njoins ? njoins : nr;
  char *names = tide_malloc((cap ? cap : 1) * NJ_NAME_CAP);
  s->addcols = tide_calloc(cap ? cap : 1, sizeof(int));
  *addnames_out = names;
  if (!names || !s->addcols) return nomem(s, err);
  char cols[TIDE_ERROR_MSG_MAX / 2];
  s->nadd = 0;
  if (njoins) {
    for (size_t i = 0; i < njoins; i++) {
      char *o = names + i * NJ_NAME_CAP;
      char in[NJ_NAME_CAP];
      if (!joins[i] || !tide__split_pair(joins[i], o, in, NJ_NAME_CAP))
        return tide_error_set(err, TIDE_ERR_PARSE, "%s: malformed join column '%s'", s->op,
                              joins[i] ? joins[i] : "(null)");
      int rc = tide_table_col_index(s->right, in);
      if (rc < 0) {
        tide__jformat_cols(s->right, cols, sizeof cols);
        return tide_error_set(err, TIDE_ERR_NOT_FOUND,
                              "%s: no column '%s' in right table (columns: %s)", s->op, in, cols);
      }
      s->addcols[s->nadd++] = rc;
    }
  } else {
    for (size_t j = 0; j < nr; j++) {
      const char *name = tide_table_col_name(s->right, j);
      bool skip = false;
      for (size_t k = 0; k < s->jk.nkeys && !skip; k++) skip = strcmp(name, rn[k]) == 0;
      if (skip) continue;
      snprintf(names + s->nadd * NJ_NAME_CAP, NJ_NAME_CAP, "%s", name);
      s->addcols[s->nadd++] = (int)j;
    }
  }
  for (size_t i = 0; i < s->nadd; i++) {
    const char *o = names + i * NJ_NAME_CAP;
    const char *rname = tide_table_col_name(s->right, (size_t)s->addcols[i]);
    if (tide_table_col_index(s->left, o) >= 0)
      return tide_error_set(err, TIDE_ERR_DUPLICATE,
                            "%s: right column '%s' would be added as '%s', which collides with a "
                            "left column; rename it (e.g. \"Right%s=%s\")",
                            s->op, rname, o, rname, rname);
    for (size_t j = 0; j < i; j++)
      if (strcmp(o, names + j * NJ_NAME_CAP) == 0)
        return tide_error_set(err, TIDE_ERR_DUPLICATE, "%s: output column '%s' added twice",
                              s->op, o);
  }
  return TIDE_OK;
}

/* With a ticking right side, left keys go into the keyset too, so symbol
 * codes of two different dictionaries must compare by string (a code
 * translation would lose the left strings the right does not hold yet). */
static void symbols_by_string(nj_state *s) {
  for (size_t k = 0; k < s->jk.nkeys; k++) {
    tide__jcol_t *L = &s->jk.left[k], *R = &s->jk.right[k];
    if (L->conv != TIDE_JCONV_SYM_MAP) continue;
    tide_free(L->map);
    L->map = NULL;
    L->nmap = R->nmap = 0;
    L->conv = R->conv = TIDE_JCONV_SYM_STR;
    L->hash_type = R->hash_type = s->jk.types[k] = TIDE_STRING;
  }
}

static tide_table_t *build(nj_state *s, tide_graph_t *g, const char *const *on, size_t non,
                           const char *const *joins, size_t njoins, tide_error *err) {
  tide_table_t *left = s->left, *right = s->right, *r = NULL;
  size_t m = non ? non : 1;
  char *onnames = tide_malloc(2 * m * NJ_NAME_CAP), *addnames = NULL;
  const char **ln = tide_calloc(m, sizeof *ln), **rn = tide_calloc(m, sizeof *rn);
  const char **names = NULL;
  tide_source_t **srcs = NULL;
  size_t ncols = 0;
  if (!onnames || !ln || !rn) {
    nomem(s, err);
    goto fail;
  }
  if (parse_on(s->op, on, non, onnames, ln, rn, err) != TIDE_OK) goto fail;
  if (tide__jkeys_init(&s->jk, s->op, left, right, ln, rn, non, err) != TIDE_OK) goto fail;
  if (resolve_adds(s, joins, njoins, rn, &addnames, err) != TIDE_OK) goto fail;
  {
    size_t len = 0;
    s->keynames[0] = '\0';
    for (size_t k = 0; k < non && len + 1 < sizeof s->keynames; k++) {
      int w = snprintf(s->keynames + len, sizeof s->keynames - len, "%s%s", k ? ", " : "",
                       strcmp(ln[k], rn[k]) ? on[k] : ln[k]);
      if (w < 0) break;
      len += (size_t)w;
    }
  }
  if (s->rtick) symbols_by_string(s);
  if (jk_refresh(s, err) != TIDE_OK) goto fail;
  uint64_t nl = tide_table_size(left), nr = tide_table_size(right);
  if (s->jk.nkeys) {
    s->ks = tide__keyset_create(s->jk.nkeys, s->jk.types, nr + (s->rtick ? nl : 0) + 16, err);
    if (!s->ks) goto fail;
  } else if (!ensure_groups(s, 1)) {
    nomem(s, err);
    goto fail;
  }
  if (tide__jscratch_init(&s->scr, s->jk.nkeys, err) != TIDE_OK) goto fail;
  s->kb = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->kb);
  s->vb = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->vb);
  s->ob = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->ob);
  s->ids = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->ids);
  if (!s->kb || !s->vb || !s->ob || !s->ids) {
    nomem(s, err);
    goto fail;
  }
  s->map = tide__source_paged_create(TIDE_I64, NULL, err);
  if (!s->map) goto fail;
  /* an append-only left with a static right gives an append-only result:
   * its map needs no undo log */
  if (!(!s->rtick && tide__kind_keeps_rows(left->kind)) &&
      tide__source_track_prev(s->map, tide__graph_step_ptr(g)) != TIDE_OK) {
    nomem(s, err);
    goto fail;
  }
  /* the current state: right rows, then left rows */
  s->stamp = 1;
  if (right_add(s, tide_table_rowset(right), err) != TIDE_OK) goto fail;
  for (uint32_t d = 0; d < s->ndirty; d++) s->g[s->dirty[d]].flags = 0;
  s->ndirty = 0;
  if (left_add(s, tide_table_rowset(left), err) != TIDE_OK) goto fail;

  s->nl = tide_table_ncols(left);
  ncols = s->nl + s->nadd;
  names = tide_calloc(ncols ? ncols : 1, sizeof *names);
  srcs = tide_calloc(ncols ? ncols : 1, sizeof *srcs);
  if (!names || !srcs) {
    nomem(s, err);
    goto fail;
  }
  for (size_t i = 0; i < s->nl; i++) {
    names[i] = tide_table_col_name(left, i);
    srcs[i] = tide_source_retain(tide_table_col_source(left, i));
  }
  for (size_t i = 0; i < s->nadd; i++) {
    names[s->nl + i] = addnames + i * NJ_NAME_CAP;
    srcs[s->nl + i] = tide__source_tredir_create(
        tide_table_col_source(right, (size_t)s->addcols[i]), s->map, err);
    if (!srcs[s->nl + i]) {
      tide_error_prefix(err, "%s", s->op);
      goto fail;
    }
  }
  r = tide_table_create(left->rowset, ncols, names, srcs, err);
  if (!r) tide_error_prefix(err, "%s", s->op);
fail:
  if (srcs)
    for (size_t i = 0; i < ncols; i++) tide_source_release(srcs[i]);
  tide_free(srcs);
  tide_free(names);
  tide_free(onnames);
  tide_free(addnames);
  tide_free(ln);
  tide_free(rn);
  return r;
}

tide_table_t *tide__natjoin_incr(bool exact, tide_table_t *left, tide_table_t *right,
                                 const char *const *on, size_t non, const char *const *joins,
                                 size_t njoins, tide_error *err) {
  const char *op = exact ? "exact_join" : "natural_join";
  if (!left || !right) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: NULL table", op);
    return NULL;
  }
  if ((non && !on) || (njoins && !joins)) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: NULL column list", op);
    return NULL;
  }
  tide_graph_t *gl = tide_table_graph(left), *gr = tide_table_graph(right);
  if (gl && gr && gl != gr) {
    tide_error_set(err, TIDE_ERR_INVALID,
                   "%s: the left and right tables tick in different update graphs", op);
    return NULL;
  }
  tide_graph_t *g = gl ? gl : gr;
  if (!g) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: neither table is refreshing", op);
    return NULL;
  }
  tide_graph_t *lk = tide__graph_snapshot_lock(gl ? left : right);
  tide_table_t *r = NULL;
  nj_state *s = tide_calloc(1, sizeof *s);
  if (!s) {
    tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
    goto done;
  }
  s->exact = exact;
  s->op = op;
  s->rtick = gr != NULL;
  s->left = tide_table_retain(left);
  s->right = tide_table_retain(right);
  s->li = s->ri = -1;
  r = build(s, g, on, non, joins, njoins, err);
  if (!r) goto done;
  tide_table_t *parents[2];
  size_t np = 0;
  if (gl) {
    s->li = (int)np;
    parents[np++] = left;
  }
  if (gr) {
    if (right == left) {
      s->ri = s->li;
    } else {
      s->ri = (int)np;
      parents[np++] = right;
    }
  }
  tide_table_kind_t kind = s->rtick ? TIDE_KIND_STANDARD : left->kind;
  if (!tide__gnode_create(g, r, kind, exact ? &exact_vt : &natural_vt, parents, np, s, err)) {
    tide_table_free(r);
    r = NULL;
    goto done;
  }
  s = NULL; /* owned by the node */
done:
  nj_state_free(s);
  tide__graph_snapshot_unlock(lk);
  return r;
}
