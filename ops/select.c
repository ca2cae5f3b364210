/*
 * Filters and formula columns: where, select, view, update, update_view,
 * drop_columns, rename_columns: static builds and incremental listeners.
 *
 * Sharing (Deephaven semantics):
 *  - where: the result shares every column source of its parent with a new
 *    RowSet (the parent's own RowSet when every row passes).
 *  - view / update_view: formula columns are formula-view sources computed
 *    on demand over the parent's columns; the parent's RowSet and untouched
 *    columns are shared; a plain column reference ("B = A", "A") shares A.
 *  - select / update: formula columns are materialized into flat sources
 *    indexed by position. When the parent's RowSet is [0, n) the result has
 *    the same RowSet and update shares the parent's untouched columns (so
 *    does select for flat sources); otherwise the result has RowSet [0, n)
 *    and the parent's columns are re-indexed through one shared redirection
 *    (position -> parent key) built once per call: update keeps them as
 *    redirected sources (cheap, no copy); select materializes the columns
 *    it lists. Plain column references are shared in update, materialized
 *    in select unless already flat over [0, n).
 * Formulas later in a list see columns defined earlier in the same call;
 * redefining a column replaces it in place.
 *
 * Ticking inputs (t->node set; docs/TICKING.md decisions 1, 2, 4, 5): the
 * first snapshot is the static build, then a graph node keeps the result
 * current, cycle by cycle, with work proportional to the change:
 *  - where: the result's RowSet is the matching subset of the parent's
 *    keys. Per update: drop the parent's removed keys, apply its shifts,
 *    filter the added rows, and re-filter modified rows only when the
 *    filter reads a modified column (modified rows that start matching are
 *    added, that stop matching are removed (mapped back through the shifts
 *    to the previous key space), that still match are modified). A new
 *    RowSet is published every cycle (copy + changes). Kind: append-only,
 *    add-only and blink inputs keep their kind; others give standard.
 *  - view / update_view / select / update: the result shares the parent's
 *    RowSet object (taking the new one each cycle) and its untouched
 *    columns; formula views read live values. Stored columns (select and
 *    update formulas, and view formulas that use i/ii or a symbol literal
 *    not yet in its dictionary) are paged sources keyed by the parent's row
 *    keys with previous-value tracking: per update their values move with
 *    the parent's shifts (key by key, so unmoved keys inside a shift's
 *    window are never touched), formulas are evaluated on added rows, and
 *    on modified rows only for the columns that depend on modified ones.
 *  - drop_columns / rename_columns share everything.
 *  The update passes through with the modified-column set mapped: a column
 *  is modified when any parent column it depends on (transitively through
 *  earlier formulas of the same call) is. Symbol literals that were absent
 *  at compile time are compiled again each cycle until they resolve.
 *  i/ii are refused on refreshing inputs other than append-only and blink.
 *
 * Parallelism: where and the materializing ops evaluate morsels of
 * TIDE_MORSEL_ROWS positions on the OpenMP team, taken from the NUMA-aware
 * dispenser (numa/morsel.c: a worker's own block of morsels first, the
 * rows placed on its node); each morsel writes its own slice
 * (where: its own key vector, concatenated in morsel order), so results are
 * identical for any thread count.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>

#include <omp.h>

#include "core/core_int.h"
#include "core/expr.h"
#include "sched/graph_int.h"

#define NAME_CAP 256

/* ------------------------------------------------------------- helpers */

static bool rowset_is_flat(const tide_rowset_t *rs) {
  return tide_rowset_is_empty(rs) || (tide_rowset_is_range(rs) && tide_rowset_first(rs) == 0);
}

/* A growable list of named columns (each source holds one reference). */
typedef struct collist {
  size_t n, cap;
  char **names;
  tide_source_t **cols;
} collist;

static void cl_free(collist *l) {
  for (size_t i = 0; i < l->n; i++) {
    tide_free(l->names[i]);
    tide_source_release(l->cols[i]);
  }
  tide_free(l->names);
  tide_free(l->cols);
  memset(l, 0, sizeof *l);
}

static int cl_find(const collist *l, const char *name) {
  for (size_t i = 0; i < l->n; i++)
    if (!strcmp(l->names[i], name)) return (int)i;
  return -1;
}

/* Set name to src (a new reference is taken): replace in place or append. */
static bool cl_set(collist *l, const char *name, tide_source_t *src) {
  int k = cl_find(l, name);
  if (k >= 0) {
    tide_source_retain(src);
    tide_source_release(l->cols[k]);
    l->cols[k] = src;
    return true;
  }
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    char **nn = tide_realloc(l->names, cap * sizeof *nn);
    if (!nn) return false;
    l->names = nn;
    tide_source_t **nc = tide_realloc(l->cols, cap * sizeof *nc);
    if (!nc) return false;
    l->cols = nc;
    l->cap = cap;
  }
  l->names[l->n] = tide_strdup(name);
  if (!l->names[l->n]) return false;
  l->cols[l->n++] = tide_source_retain(src);
  return true;
}

static void no_column(const char *op, const char *name, const collist *l, tide_error *err) {
  char list[300];
  size_t len = 0;
  list[0] = 0;
  for (size_t i = 0; i < l->n && len < sizeof list - 8; i++) {
    int w = snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", l->names[i]);
    if (w < 0) break;
    len += (size_t)w;
  }
  if (len >= sizeof list - 8) strcpy(list + sizeof list - 8, ", ...");
  tide_error_set(err, TIDE_ERR_NOT_FOUND, "%s: no column '%s' (columns: %s)", op, name,
                 l->n ? list : "none");
}

static bool oom(const char *op, tide_error *err) {
  tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
  return false;
}

static tide_expr_schema_t schema_of(const collist *l) {
  tide_expr_schema_t s = {l->n, (const char *const *)l->names, l->cols};
  return s;
}

/* i / ii are positions: an error on refreshing tables other than
 * append-only and blink ones (positions of existing rows would change). */
static bool check_positions(const char *op, const tide_expr_t *e, const tide_table_t *t,
                            tide_error *err) {
  if (!tide__expr_uses_i(e) || !tide_table_is_refreshing(t)) return true;
  tide_table_kind_t k = tide_table_kind(t);
  if (k == TIDE_KIND_APPEND_ONLY || k == TIDE_KIND_BLINK) return true;
  tide_error_set(err, TIDE_ERR_UNSUPPORTED,
                 "%s: \"%s\": i and ii are only allowed on static, append-only and blink tables",
                 op, tide__expr_text(e));
  return false;
}

/* ---------------------------------------------------------------- where */

typedef struct keyvec {
  uint64_t *keys;
  uint64_t n, cap;
  bool all; /* every row of the morsel passed: n counts them, keys not stored */
} keyvec;

/* The keys of rs at positions [pos, pos + cnt) into dst. */
static void keys_at(const tide_rowset_t *rs, uint64_t pos, uint64_t cnt, uint64_t *dst) {
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  uint64_t kb[TIDE_CHUNK_SIZE];
  tide_rowset_iter_init_pos(&it, rs, pos, cnt);
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, kb)) {
    if (seq.keys)
      memcpy(dst, seq.keys, seq.n * sizeof *dst);
    else
      for (uint32_t j = 0; j < seq.n; j++) dst[j] = seq.first + j;
    dst += seq.n;
  }
}

static bool kv_reserve(keyvec *v, uint64_t extra) {
  if (v->n + extra <= v->cap) return true;
  uint64_t cap = v->cap ? v->cap : 4096;
  while (cap < v->n + extra) cap *= 2;
  uint64_t *k = tide_realloc(v->keys, cap * sizeof *k);
  if (!k) return false;
  v->keys = k;
  v->cap = cap;
  return true;
}

/* Rows of rs (over cols) where e holds: a new RowSet, or NULL (err set). */
static tide_rowset_t *filter_rowset(const char *op, const tide_expr_t *e,
                                    tide_source_t *const *cols, tide_rowset_t *rs, uint64_t pos0,
                                    tide_error *err) {
  uint64_t n = tide_rowset_size(rs);
  uint64_t nm = (n + TIDE_MORSEL_ROWS - 1) / TIDE_MORSEL_ROWS;
  keyvec *out = tide_calloc(nm ? nm : 1, sizeof *out);
  if (!out) {
    oom(op, err);
    return NULL;
  }
  int failed = 0;
  const int nt = tide__threads_for(n);
  tide_morsels_t ms;
  if (tide__morsels_init(&ms, nm, nt, NULL) != TIDE_OK) {
    tide_free(out);
    oom(op, err);
    return NULL;
  }
  /* NUMA-aware morsels (numa/morsel.c): own block first; morsel m's keys
   * go to out[m], concatenated in morsel order below. */
#pragma omp parallel num_threads(nt)
  {
    tide_expr_scratch_t *s = tide__expr_scratch_create(e);
    uint64_t *kb = tide_malloc(TIDE_CHUNK_SIZE * sizeof *kb);
    uint32_t *sel = tide_malloc(TIDE_CHUNK_SIZE * sizeof *sel);
    bool ok = s && kb && sel;
    for (uint64_t m; ok && tide__morsels_next(&ms, omp_get_thread_num(), &m);) {
      int bad;
#pragma omp atomic read
      bad = failed;
      if (bad) break;
      /* While every row passes, no key is stored (a filter that keeps
       * everything, as !isNull over a column without nulls, then costs no
       * key writes); at the first row that fails, the keys so far are
       * written from rs. The morsel's size is reserved at that point:
       * pages are only touched as keys are written, the vector never
       * moves. */
      uint64_t mrows = TIDE_MIN((uint64_t)TIDE_MORSEL_ROWS, n - m * TIDE_MORSEL_ROWS);
      keyvec *v = &out[m];
      bool all = true;
      uint64_t passed = 0;
      tide_rowset_iter_t it;
      tide_rowset_iter_init_pos(&it, rs, m * TIDE_MORSEL_ROWS, TIDE_MORSEL_ROWS);
      tide_rowseq_t seq;
      while (ok && tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, kb)) {
        uint32_t cnt;
        seq.pos += pos0;
        ok = tide__expr_filter(e, cols, &seq, NULL, sel, &cnt, s) == TIDE_OK;
        if (!ok) break;
        if (all) {
          if (cnt == seq.n) {
            passed += cnt;
            continue;
          }
          all = false;
          ok = kv_reserve(v, mrows);
          if (!ok) break;
          keys_at(rs, m * TIDE_MORSEL_ROWS, passed, v->keys);
          v->n = passed;
        }
        uint64_t *dst = v->keys + v->n;
        if (seq.keys)
          for (uint32_t j = 0; j < cnt; j++) dst[j] = seq.keys[sel[j]];
        else
          for (uint32_t j = 0; j < cnt; j++) dst[j] = seq.first + sel[j];
        v->n += cnt;
      }
      if (ok && all) {
        v->all = true;
        v->n = passed;
      }
    }
    if (!ok) {
#pragma omp atomic write
      failed = 1;
    }
    tide__expr_scratch_free(s);
    tide_free(kb);
    tide_free(sel);
  }
  tide__morsels_free(&ms);
  tide_rowset_t *res = NULL;
  uint64_t total = 0;
  for (uint64_t m = 0; m < nm; m++) total += out[m].n;
  if (!failed) {
    if (total == n) {
      res = tide_rowset_retain(rs);
    } else if (nm == 1) {
      res = tide_rowset_from_keys(out[0].keys, out[0].n);
    } else {
      uint64_t *all = tide_malloc((total ? total : 1) * sizeof *all);
      if (all) {
        uint64_t k = 0;
        for (uint64_t m = 0; m < nm; m++) {
          if (out[m].all)
            keys_at(rs, m * TIDE_MORSEL_ROWS, out[m].n, all + k);
          else if (out[m].n)
            memcpy(all + k, out[m].keys, out[m].n * sizeof *all);
          k += out[m].n;
        }
        res = tide_rowset_from_keys(all, total);
        tide_free(all);
      }
    }
  }
  for (uint64_t m = 0; m < nm; m++) tide_free(out[m].keys);
  tide_free(out);
  if (!res) oom(op, err);
  return res;
}

/* ------------------------------------------------ incremental: common */

static bool rs_empty(const tide_rowset_t *rs) { return !rs || tide_rowset_is_empty(rs); }

static tide_rowset_t *rs_ref(tide_rowset_t *rs) { return rs ? tide_rowset_retain(rs) : NULL; }

static tide_status nomem(const char *op, tide_error *err) {
  return tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
}

static size_t nwords_for(size_t ncols) { return (ncols + 63) / 64; }

/* Whether u modified rows in any column of the parent-column bitset deps. */
static bool deps_hit(const uint64_t *deps, size_t nwords, const tide_update_t *u) {
  if (!u->modified_cols || rs_empty(u->modified)) return false;
  size_t uw = nwords_for(u->ncols);
  for (size_t i = 0; i < nwords && i < uw; i++)
    if (deps[i] & u->modified_cols[i]) return true;
  return false;
}

static bool copy_shifts(tide_update_t *dst, const tide_update_t *src) {
  if (!src->nshifts) return true;
  dst->shifts = tide_malloc(src->nshifts * sizeof *dst->shifts);
  if (!dst->shifts) return false;
  memcpy(dst->shifts, src->shifts, src->nshifts * sizeof *dst->shifts);
  dst->nshifts = src->nshifts;
  return true;
}

/* Position of the first added row in the parent (i/ii on append-only and
 * blink inputs, where added rows are the parent's last rows). */
static uint64_t added_pos0(const tide_table_t *parent, const tide_update_t *u) {
  uint64_t na = rs_empty(u->added) ? 0 : tide_rowset_size(u->added);
  uint64_t np = tide_rowset_size(parent->rowset);
  return np >= na ? np - na : 0;
}

/* Keys of `cur` (current key space, after pu's shifts) mapped back to the
 * previous key space: `kept` holds the previous keys that stayed (before
 * shifting). A key that some shift moved comes from the kept key that the
 * shift maps onto it; any other key did not move. Rare path (modified rows
 * that leave a filter in a cycle with shifts). */
static tide_rowset_t *unshift_keys(const tide_rowset_t *cur, const tide_rowset_t *kept,
                                   const tide_shift_t *shifts, size_t nshifts) {
  uint64_t n = tide_rowset_size(cur);
  uint64_t *keys = tide_malloc((n ? n : 1) * sizeof *keys);
  if (!keys) return NULL;
  tide_rowset_export(cur, keys);
  for (uint64_t i = 0; i < n; i++) {
    uint64_t k = keys[i];
    for (size_t s = 0; s < nshifts; s++) {
      int64_t d = shifts[s].delta;
      if (d > 0 && k < (uint64_t)d) continue;
      uint64_t c = k - (uint64_t)d;
      if (c >= shifts[s].first && c <= shifts[s].last && tide_rowset_contains(kept, c)) {
        keys[i] = c;
        break;
      }
    }
  }
  tide_rowset_t *res = tide_rowset_from_keys(keys, n);
  tide_free(keys);
  return res;
}

/* ------------------------------------------------ incremental: where */

typedef struct where_state {
  tide_expr_t *e;
  char *filter;
  size_t nwords;
  uint64_t *deps; /* parent columns the filter reads */
} where_state;

static void where_state_free(where_state *s) {
  if (!s) return;
  tide__expr_free(s->e);
  tide_free(s->filter);
  tide_free(s->deps);
  tide_free(s);
}

static void where_destroy(tide_gnode_t *n) { where_state_free(n->state); }

/* A symbol literal absent from its column's dictionary at compile time may
 * have been interned since: compile again against the current dictionary. */
static tide_status where_refresh_expr(where_state *s, const tide_table_t *p, tide_error *err) {
  if (!tide__expr_has_missing_symbols(s->e)) return TIDE_OK;
  tide_expr_schema_t sc = tide__expr_schema_of(p);
  tide_expr_t *e = tide__expr_compile("where", s->filter, 0, &sc, TIDE_EXPR_FILTER, err);
  if (!e) return err ? err->status : TIDE_ERR_PARSE;
  tide__expr_free(s->e);
  s->e = e;
  return TIDE_OK;
}

static tide_status where_notify(tide_gnode_t *n, tide_error *err) {
  static const char *op = "where";
  where_state *s = n->state;
  tide_table_t *p = n->parents[0], *r = n->table;
  const tide_update_t *pu = tide__gnode_parent_update(n, 0);
  if (!pu) return TIDE_OK;
  TIDE_TRY(where_refresh_expr(s, p, err));
  tide_status st = TIDE_OK;
  tide_update_t u = {0};
  tide_rowset_t *cur = NULL, *kept = NULL, *m = NULL, *pm = NULL, *newm = NULL;
  const tide_rowset_t *old = r->rowset;
  /* removed rows that were ours, then the shifts */
  if (!rs_empty(pu->removed)) {
    u.removed = tide_rowset_intersect(old, pu->removed);
    cur = tide_rowset_minus(old, pu->removed);
    if (!u.removed || !cur) goto oom;
  } else {
    cur = tide_rowset_copy(old);
    if (!cur) goto oom;
  }
  if (pu->nshifts) {
    kept = tide_rowset_copy(cur);
    if (!kept) goto oom;
    tide_status ss = tide_rowset_shift(cur, pu->shifts, pu->nshifts);
    if (ss == TIDE_ERR_NOMEM) goto oom;
    if (ss != TIDE_OK) {
      st = tide_error_set(err, TIDE_ERR_STATE, "where: the parent's update has invalid shifts");
      goto done;
    }
    if (!copy_shifts(&u, pu)) goto oom;
  }
  /* modified rows: re-filter only if the filter reads a modified column */
  if (!rs_empty(pu->modified)) {
    pm = tide_rowset_intersect(pu->modified, cur); /* matched before */
    if (!pm) goto oom;
    if (deps_hit(s->deps, s->nwords, pu)) {
      m = filter_rowset(op, s->e, p->cols, pu->modified, 0, err);
      if (!m) {
        st = err ? err->status : TIDE_ERR_NOMEM;
        goto done;
      }
      tide_rowset_t *gone = tide_rowset_minus(pm, m);
      newm = tide_rowset_minus(m, pm);
      u.modified = tide_rowset_intersect(pm, m);
      if (!gone || !newm || !u.modified) {
        tide_rowset_free(gone);
        goto oom;
      }
      if (!tide_rowset_is_empty(gone)) {
        bool ok = tide_rowset_minus_inplace(cur, gone) == TIDE_OK;
        tide_rowset_t *prevk = ok ? (kept ? unshift_keys(gone, kept, pu->shifts, pu->nshifts)
                                          : tide_rowset_retain(gone))
                                  : NULL;
        ok = prevk != NULL;
        if (ok) {
          if (u.removed) {
            ok = tide_rowset_union_inplace(u.removed, prevk) == TIDE_OK;
            tide_rowset_free(prevk);
          } else {
            u.removed = prevk;
          }
        }
        if (!ok) {
          tide_rowset_free(gone);
          goto oom;
        }
      }
      tide_rowset_free(gone);
      if (!tide_rowset_is_empty(newm) && tide_rowset_union_inplace(cur, newm) != TIDE_OK)
        goto oom;
    } else {
      u.modified = pm;
      pm = NULL;
    }
    if (!tide_rowset_is_empty(u.modified)) {
      size_t nw = nwords_for(pu->ncols);
      u.modified_cols = tide_calloc(nw ? nw : 1, sizeof *u.modified_cols);
      if (!u.modified_cols) goto oom;
      memcpy(u.modified_cols, pu->modified_cols, nw * sizeof *u.modified_cols);
      u.ncols = pu->ncols;
    }
  }
  /* added rows */
  if (!rs_empty(pu->added)) {
    tide_rowset_t *a = filter_rowset(op, s->e, p->cols, pu->added, added_pos0(p, pu), err);
    if (!a) {
      st = err ? err->status : TIDE_ERR_NOMEM;
      goto done;
    }
    if (tide_rowset_union_inplace(cur, a) != TIDE_OK) {
      tide_rowset_free(a);
      goto oom;
    }
    if (!rs_empty(newm)) {
      u.added = tide_rowset_union(a, newm);
      tide_rowset_free(a);
      if (!u.added) goto oom;
    } else {
      u.added = a;
    }
  } else if (!rs_empty(newm)) {
    u.added = tide_rowset_retain(newm);
  }
  if (tide_update_is_empty(&u)) {
    tide__update_clear(&u);
    goto done;
  }
  st = tide__gnode_publish(n, &u, cur, err);
  cur = NULL;
  goto done;
oom:
  st = nomem(op, err);
done:
  tide__update_clear(&u);
  tide_rowset_free(cur);
  tide_rowset_free(kept);
  tide_rowset_free(m);
  tide_rowset_free(pm);
  tide_rowset_free(newm);
  return st;
}

static const tide_gnode_vt where_vt = {"where", NULL, where_notify, where_destroy};

static tide_table_kind_t where_kind(tide_table_kind_t k) {
  switch (k) {
    case TIDE_KIND_APPEND_ONLY:
    case TIDE_KIND_BLINK:
    case TIDE_KIND_ADD_ONLY: return k;
    default: return TIDE_KIND_STANDARD;
  }
}

/* Make r (the static build of where over the refreshing t) tick: takes e
 * and r (freed on failure). */
static tide_table_t *where_attach(tide_table_t *t, tide_table_t *r, tide_expr_t *e,
                                  const char *filter, tide_error *err) {
  where_state *s = tide_calloc(1, sizeof *s);
  if (!s) {
    tide__expr_free(e);
    tide_table_free(r);
    nomem("where", err);
    return NULL;
  }
  s->e = e;
  s->nwords = nwords_for(t->ncols);
  s->deps = tide_calloc(s->nwords ? s->nwords : 1, sizeof *s->deps);
  s->filter = tide_strdup(filter);
  if (!s->deps || !s->filter) {
    where_state_free(s);
    tide_table_free(r);
    nomem("where", err);
    return NULL;
  }
  for (size_t i = 0; i < tide__expr_ncolumns(e); i++) {
    int c = tide__expr_column_index(e, i);
    if (c >= 0) s->deps[c / 64] |= 1ull << (c % 64);
  }
  tide_gnode_t *n = tide__gnode_create(tide_table_graph(t), r, where_kind(t->kind), &where_vt, &t,
                                       1, s, err);
  if (!n) {
    where_state_free(s);
    tide_table_free(r);
    return NULL;
  }
  n->parallel = true; /* reads its parent, writes its own RowSet and state */
  return r;
}

static tide_table_t *where_build(tide_table_t *t, const char *filter, tide_error *err);

tide_table_t *tide_where(tide_table_t *t, const char *filter, tide_error *err) {
  tide_graph_t *g = tide__graph_snapshot_lock(t);
  tide_table_t *r = where_build(t, filter, err);
  tide__graph_snapshot_unlock(g);
  return r;
}

static tide_table_t *where_build(tide_table_t *t, const char *filter, tide_error *err) {
  if (!t || !filter) {
    tide_error_set(err, TIDE_ERR_INVALID, "where: NULL %s", t ? "filter" : "table");
    return NULL;
  }
  tide_expr_schema_t sc = tide__expr_schema_of(t);
  tide_expr_t *e = tide__expr_compile("where", filter, 0, &sc, TIDE_EXPR_FILTER, err);
  if (!e) return NULL;
  if (!check_positions("where", e, t, err)) {
    tide__expr_free(e);
    return NULL;
  }
  tide_rowset_t *rs = filter_rowset("where", e, t->cols, t->rowset, 0, err);
  if (!rs) {
    tide__expr_free(e);
    return NULL;
  }
  tide_table_t *r =
      tide_table_create(rs, t->ncols, (const char *const *)t->names, t->cols, err);
  tide_rowset_free(rs);
  if (r) r->kind = t->kind;
  if (r && t->node) return where_attach(t, r, e, filter, err); /* takes e */
  tide__expr_free(e);
  return r;
}

/* ------------------------------------------------------- materializing */

/* Evaluate e over rs = [0, n) (positions == keys) into a new flat source. */
static tide_source_t *materialize(const char *op, const tide_expr_t *e,
                                  tide_source_t *const *cols, const tide_rowset_t *rs,
                                  uint64_t n, tide_error *err) {
  tide_type_t type = tide__expr_type(e);
  tide_source_t *dst = tide_source_flat_create(type, n, err);
  if (!dst) {
    tide_error_prefix(err, "%s", op);
    return NULL;
  }
  if (type == TIDE_SYMBOL && tide__expr_symtab(e)) tide__source_set_symtab(dst, tide__expr_symtab(e));
  unsigned char *data = tide_source_flat_data(dst);
  size_t w = tide_type_width(type);
  uint64_t nm = (n + TIDE_MORSEL_ROWS - 1) / TIDE_MORSEL_ROWS;
  int failed = 0;
  const int nt = tide__threads_for(n);
  tide_morsels_t ms;
  if (tide__morsels_init(&ms, nm, nt, NULL) != TIDE_OK) {
    tide_source_release(dst);
    oom(op, err);
    return NULL;
  }
  /* NUMA-aware morsels: worker t's own block first (the rows of dst that
   * tide__numa_place put on its node). */
#pragma omp parallel num_threads(nt)
  {
    tide_expr_scratch_t *s = tide__expr_scratch_create(e);
    uint64_t *kb = tide_malloc(TIDE_CHUNK_SIZE * sizeof *kb);
    bool ok = s && kb;
    for (uint64_t m; ok && tide__morsels_next(&ms, omp_get_thread_num(), &m);) {
      int bad;
#pragma omp atomic read
      bad = failed;
      if (bad) break;
      tide_rowset_iter_t it;
      tide_rowset_iter_init_pos(&it, rs, m * TIDE_MORSEL_ROWS, TIDE_MORSEL_ROWS);
      tide_rowseq_t seq;
      while (ok && tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, kb))
        ok = tide__expr_eval(e, cols, &seq, NULL, data + seq.pos * w, s) == TIDE_OK;
    }
    if (!ok) {
#pragma omp atomic write
      failed = 1;
    }
    tide__expr_scratch_free(s);
    tide_free(kb);
  }
  tide__morsels_free(&ms);
  if (!failed && type == TIDE_STRING) {
    /* The values point into other sources' arenas or the expression's
     * literals: copy them into the new column's own arena. */
    const char **v = (const char **)data;
    for (uint64_t k = 0; k < n && !failed; k++) {
      if (!v[k]) continue;
      v[k] = tide_source_flat_store_string(dst, v[k], strlen(v[k]));
      failed = v[k] == NULL;
    }
  }
  if (failed) {
    tide_source_release(dst);
    oom(op, err);
    return NULL;
  }
  return dst;
}

/* The working column list for a formula call: the parent's columns,
 * re-indexed to [0, n) through a redirection when `reindex`. */
static bool base_columns(const char *op, tide_table_t *t, bool reindex, collist *w,
                         tide_error *err) {
  tide_redir_t *redir = NULL;
  if (reindex) {
    redir = tide__redir_create(tide_rowset_size(t->rowset), err);
    if (!redir) return false;
    tide_rowset_export(t->rowset, redir->map);
  }
  bool ok = true;
  for (size_t c = 0; c < t->ncols && ok; c++) {
    tide_source_t *src = t->cols[c];
    if (redir) {
      src = tide__source_redirected_create(t->cols[c], redir, err);
      if (!src) {
        ok = false;
        break;
      }
    } else {
      tide_source_retain(src);
    }
    ok = cl_set(w, t->names[c], src);
    tide_source_release(src);
    if (!ok) oom(op, err);
  }
  tide__redir_release(redir);
  return ok;
}

typedef enum { MODE_SELECT, MODE_VIEW, MODE_UPDATE, MODE_UPDATE_VIEW } fmode;

static const char *mode_name(fmode m) {
  switch (m) {
    case MODE_SELECT: return "select";
    case MODE_VIEW: return "view";
    case MODE_UPDATE: return "update";
    default: return "update_view";
  }
}

/* ------------------------------------- incremental: formulas, drop, rename */

/* A materialized column of a ticking select/update (or a view formula that
 * must be stored: one using i/ii, whose positions change every cycle, or one
 * with a symbol literal not yet in its dictionary): a paged source keyed by
 * the parent's row keys. */
typedef struct fcol {
  tide_expr_t *e;
  char *formula;        /* for recompiling (missing symbols) */
  size_t start;
  size_t ncols;         /* working schema when the formula was defined */
  char **names;
  tide_source_t **cols; /* one reference each */
  tide_source_t *dst;   /* the paged column (one reference) */
  tide_source_t *holder; /* STRING: arena owner of the stored strings */
  uint64_t *deps;       /* parent columns it depends on */
} fcol;

typedef struct fstate {
  const char *op;
  size_t nwords;  /* words of a parent-column bitset */
  size_t nres;    /* result columns */
  uint64_t *deps; /* nres * nwords: parent columns each result column reads */
  size_t nmat, matcap;
  fcol *mat;
} fstate;

static void fcol_free(fcol *m) {
  tide__expr_free(m->e);
  tide_free(m->formula);
  for (size_t i = 0; i < m->ncols; i++) {
    if (m->names) tide_free(m->names[i]);
    if (m->cols) tide_source_release(m->cols[i]);
  }
  tide_free(m->names);
  tide_free(m->cols);
  tide_source_release(m->dst);
  tide_source_release(m->holder);
  tide_free(m->deps);
}

static void fstate_free(fstate *s) {
  if (!s) return;
  for (size_t i = 0; i < s->nmat; i++) fcol_free(&s->mat[i]);
  tide_free(s->mat);
  tide_free(s->deps);
  tide_free(s);
}

static void fstate_destroy(tide_gnode_t *n) { fstate_free(n->state); }

/* Copy STRING values into the column's own arena (they point into other
 * sources' arenas or the expression's literals). */
static tide_status mat_store_strings(fcol *m, const char **v, uint64_t n) {
  for (uint64_t j = 0; j < n; j++) {
    if (!v[j]) continue;
    v[j] = tide_source_flat_store_string(m->holder, v[j], strlen(v[j]));
    if (!v[j]) return TIDE_ERR_NOMEM;
  }
  return TIDE_OK;
}

/* mat_eval for large row sets (the first snapshot, big cycles): morsels
 * are evaluated in parallel into one buffer, then stored serially (page
 * allocation is single-writer). */
static tide_status mat_eval_parallel(const char *op, fcol *m, const tide_rowset_t *rs,
                                     uint64_t pos0, tide_error *err) {
  uint64_t n = tide_rowset_size(rs);
  tide_type_t type = tide__expr_type(m->e);
  size_t w = tide_type_width(type);
  uint64_t *keys = tide_malloc(n * sizeof *keys);
  unsigned char *vals = tide_malloc(n * w);
  if (!keys || !vals) {
    tide_free(keys);
    tide_free(vals);
    return nomem(op, err);
  }
  uint64_t nm = (n + TIDE_MORSEL_ROWS - 1) / TIDE_MORSEL_ROWS;
  int failed = 0;
  const int nt = tide__threads_for(n);
  tide_morsels_t ms;
  if (tide__morsels_init(&ms, nm, nt, NULL) != TIDE_OK) {
    tide_free(keys);
    tide_free(vals);
    return nomem(op, err);
  }
  /* NUMA-aware morsels; morsel mo writes positions [mo * M, (mo + 1) * M). */
#pragma omp parallel num_threads(nt)
  {
    tide_expr_scratch_t *sc = tide__expr_scratch_create(m->e);
    bool ok = sc != NULL;
    for (uint64_t mo; ok && tide__morsels_next(&ms, omp_get_thread_num(), &mo);) {
      int bad;
#pragma omp atomic read
      bad = failed;
      if (bad) break;
      tide_rowset_iter_t it;
      tide_rowset_iter_init_pos(&it, rs, mo * TIDE_MORSEL_ROWS, TIDE_MORSEL_ROWS);
      tide_rowseq_t seq;
      while (ok && tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, keys + it.pos)) {
        uint64_t *kb = keys + seq.pos;
        if (!seq.keys)
          for (uint32_t j = 0; j < seq.n; j++) kb[j] = seq.first + j;
        seq.keys = kb;
        uint64_t at = seq.pos;
        seq.pos += pos0;
        ok = tide__expr_eval(m->e, m->cols, &seq, NULL, vals + at * w, sc) == TIDE_OK;
      }
    }
    if (!ok) {
#pragma omp atomic write
      failed = 1;
    }
    tide__expr_scratch_free(sc);
  }
  tide__morsels_free(&ms);
  tide_status st = failed ? TIDE_ERR_NOMEM : TIDE_OK;
  if (st == TIDE_OK && type == TIDE_STRING) st = mat_store_strings(m, (const char **)vals, n);
  for (uint64_t i = 0; i < n && st == TIDE_OK; i += TIDE_MORSEL_ROWS) {
    uint32_t cnt = (uint32_t)TIDE_MIN((uint64_t)TIDE_MORSEL_ROWS, n - i);
    st = tide__source_paged_set(m->dst, keys + i, cnt, vals + i * w);
  }
  tide_free(keys);
  tide_free(vals);
  return st == TIDE_OK ? TIDE_OK : nomem(op, err);
}

/* Evaluate m at the keys of rs (positions for i/ii from pos0 on) and store
 * the values in m->dst. */
static tide_status mat_eval(const char *op, fcol *m, const tide_rowset_t *rs, uint64_t pos0,
                            tide_error *err) {
  if (rs_empty(rs)) return TIDE_OK;
  if (tide_rowset_size(rs) > TIDE_MORSEL_ROWS && tide__threads_for(tide_rowset_size(rs)) > 1)
    return mat_eval_parallel(op, m, rs, pos0, err);
  tide_type_t type = tide__expr_type(m->e);
  tide_expr_scratch_t *sc = tide__expr_scratch_create(m->e);
  uint64_t *kb = tide_malloc(TIDE_CHUNK_SIZE * sizeof *kb);
  uint64_t *vals = tide_malloc(TIDE_CHUNK_SIZE * sizeof *vals);
  tide_status st = (sc && kb && vals) ? TIDE_OK : TIDE_ERR_NOMEM;
  tide_rowset_iter_t it;
  tide_rowset_iter_init(&it, rs);
  tide_rowseq_t seq;
  while (st == TIDE_OK && tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, kb)) {
    if (!seq.keys) {
      for (uint32_t j = 0; j < seq.n; j++) kb[j] = seq.first + j;
      seq.keys = kb;
    }
    seq.pos += pos0;
    st = tide__expr_eval(m->e, m->cols, &seq, NULL, vals, sc);
    if (st == TIDE_OK && type == TIDE_STRING)
      st = mat_store_strings(m, (const char **)vals, seq.n);
    if (st == TIDE_OK) st = tide__source_paged_set(m->dst, seq.keys, seq.n, vals);
  }
  tide__expr_scratch_free(sc);
  tide_free(kb);
  tide_free(vals);
  if (st != TIDE_OK) return nomem(op, err);
  return TIDE_OK;
}

/* Move the stored values of shifted rows: only the parent's previous keys
 * that stayed (prev - removed) move, so unmoved keys inside a shift's
 * destination window are never touched (tide__source_paged_shift with a
 * kept set). */
static tide_status mat_shift(const char *op, fstate *s, const tide_table_t *p,
                             const tide_update_t *pu, tide_error *err) {
  if (!pu->nshifts || !s->nmat) return TIDE_OK;
  tide_rowset_t *kept = rs_empty(pu->removed)
                            ? tide_rowset_retain((tide_rowset_t *)tide_table_prev_rowset(p))
                            : tide_rowset_minus(tide_table_prev_rowset(p), pu->removed);
  if (!kept) return nomem(op, err);
  tide_status st = TIDE_OK;
  for (size_t c = 0; c < s->nmat && st == TIDE_OK; c++)
    st = tide__source_paged_shift(s->mat[c].dst, pu->shifts, pu->nshifts, kept);
  tide_rowset_free(kept);
  if (st == TIDE_ERR_NOMEM) return nomem(op, err);
  if (st != TIDE_OK)
    return tide_error_set(err, st, "%s: the parent's update has invalid shifts", op);
  return TIDE_OK;
}

static tide_status mat_recompile(const char *op, fcol *m, tide_error *err) {
  if (!tide__expr_has_missing_symbols(m->e)) return TIDE_OK;
  tide_expr_schema_t sc = {m->ncols, (const char *const *)m->names, m->cols};
  tide_expr_t *e = tide__expr_compile(op, m->formula, m->start, &sc, 0, err);
  if (!e) return err ? err->status : TIDE_ERR_PARSE;
  tide__expr_free(m->e);
  m->e = e;
  return TIDE_OK;
}

static tide_status formula_notify(tide_gnode_t *n, tide_error *err) {
  fstate *s = n->state;
  tide_table_t *p = n->parents[0], *r = n->table;
  const tide_update_t *pu = tide__gnode_parent_update(n, 0);
  if (!pu) return TIDE_OK;
  TIDE_TRY(mat_shift(s->op, s, p, pu, err));
  for (size_t c = 0; c < s->nmat; c++) {
    fcol *m = &s->mat[c];
    TIDE_TRY(mat_recompile(s->op, m, err));
    TIDE_TRY(mat_eval(s->op, m, pu->added, added_pos0(p, pu), err));
    if (deps_hit(m->deps, s->nwords, pu)) TIDE_TRY(mat_eval(s->op, m, pu->modified, 0, err));
  }
  tide_update_t u = {0};
  u.removed = rs_ref(pu->removed);
  u.added = rs_ref(pu->added);
  bool ok = copy_shifts(&u, pu);
  if (ok && !rs_empty(pu->modified)) {
    size_t rw = nwords_for(s->nres);
    u.modified_cols = tide_calloc(rw ? rw : 1, sizeof *u.modified_cols);
    ok = u.modified_cols != NULL;
    bool any = false;
    for (size_t c = 0; ok && c < s->nres; c++)
      if (deps_hit(s->deps + c * s->nwords, s->nwords, pu)) {
        u.modified_cols[c / 64] |= 1ull << (c % 64);
        any = true;
      }
    if (any) {
      u.modified = tide_rowset_retain(pu->modified);
      u.ncols = s->nres;
    } else {
      tide_free(u.modified_cols);
      u.modified_cols = NULL;
    }
  }
  if (!ok) {
    tide__update_clear(&u);
    return nomem(s->op, err);
  }
  tide_rowset_t *nrs = p->rowset != r->rowset ? tide_rowset_retain(p->rowset) : NULL;
  return tide__gnode_publish(n, &u, nrs, err);
}

static const tide_gnode_vt formula_vt = {"select", NULL, formula_notify, fstate_destroy};
static const tide_gnode_vt update_vt = {"update", NULL, formula_notify, fstate_destroy};
static const tide_gnode_vt view_vt = {"view", NULL, formula_notify, fstate_destroy};
static const tide_gnode_vt update_view_vt = {"update_view", NULL, formula_notify,
                                             fstate_destroy};
static const tide_gnode_vt drop_vt = {"drop_columns", NULL, formula_notify, fstate_destroy};
static const tide_gnode_vt rename_vt = {"rename_columns", NULL, formula_notify, fstate_destroy};

static fstate *fstate_new(const char *op, size_t parent_cols, size_t nres) {
  fstate *s = tide_calloc(1, sizeof *s);
  if (!s) return NULL;
  s->op = op;
  s->nwords = nwords_for(parent_cols);
  s->nres = nres;
  size_t cells = nres * s->nwords;
  s->deps = tide_calloc(cells ? cells : 1, sizeof *s->deps);
  if (!s->deps) {
    tide_free(s);
    return NULL;
  }
  return s;
}

/* Attach the pass-through node of r (a refreshing result sharing parent t's
 * RowSet): s->deps filled in. Frees r and s on failure. */
static tide_table_t *attach(tide_table_t *t, tide_table_t *r, fstate *s, const tide_gnode_vt *vt,
                            tide_error *err) {
  tide_gnode_t *n =
      tide__gnode_create(tide_table_graph(t), r, t->kind, vt, &t, 1, s, err);
  if (!n) {
    fstate_free(s);
    tide_table_free(r);
    return NULL;
  }
  /* reads its parent; writes only its own materialized columns (and their
   * string arenas) and state: may run beside its level's other nodes */
  n->parallel = true;
  return r;
}

/* Attach a node to drop_columns/rename_columns result r: result column c is
 * parent column map[c]. */
static tide_table_t *attach_map(tide_table_t *t, tide_table_t *r, const size_t *map,
                                const char *op, const tide_gnode_vt *vt, tide_error *err) {
  fstate *s = fstate_new(op, t->ncols, r->ncols);
  if (!s) {
    tide_table_free(r);
    nomem(op, err);
    return NULL;
  }
  for (size_t c = 0; c < r->ncols; c++)
    s->deps[c * s->nwords + map[c] / 64] |= 1ull << (map[c] % 64);
  return attach(t, r, s, vt, err);
}

/* Working column dependency bitsets (parallel to a collist). */
typedef struct depvec {
  size_t n, cap, nwords;
  uint64_t *bits; /* n * nwords */
} depvec;

static bool dv_set(depvec *d, size_t i, const uint64_t *bits) {
  if (i >= d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 8;
    while (cap <= i) cap *= 2;
    uint64_t *b = tide_realloc(d->bits, cap * d->nwords * sizeof *b + 8);
    if (!b) return false;
    d->bits = b;
    d->cap = cap;
  }
  memcpy(d->bits + i * d->nwords, bits, d->nwords * sizeof *bits);
  if (i >= d->n) d->n = i + 1;
  return true;
}

static fcol *mat_push(fstate *s) {
  if (s->nmat == s->matcap) {
    size_t cap = s->matcap ? s->matcap * 2 : 4;
    fcol *m = tide_realloc(s->mat, cap * sizeof *m);
    if (!m) return NULL;
    s->mat = m;
    s->matcap = cap;
  }
  fcol *m = &s->mat[s->nmat++];
  memset(m, 0, sizeof *m);
  return m;
}

/* Materialize e (defined against working list w) for the refreshing t:
 * a new paged source filled over t's RowSet, recorded in s. Takes e. */
static tide_source_t *mat_create(const char *op, fstate *s, tide_expr_t *e, const char *formula,
                                 size_t start, const collist *w, const uint64_t *deps,
                                 tide_table_t *t, tide_error *err) {
  fcol *m = mat_push(s);
  if (!m) {
    tide__expr_free(e);
    nomem(op, err);
    return NULL;
  }
  m->e = e;
  m->start = start;
  m->formula = tide_strdup(formula);
  m->deps = tide_calloc(s->nwords ? s->nwords : 1, sizeof *m->deps);
  m->names = tide_calloc(w->n ? w->n : 1, sizeof *m->names);
  m->cols = tide_calloc(w->n ? w->n : 1, sizeof *m->cols);
  if (!m->formula || !m->deps || !m->names || !m->cols) goto oom;
  memcpy(m->deps, deps, s->nwords * sizeof *deps);
  m->ncols = w->n;
  for (size_t i = 0; i < w->n; i++) {
    m->cols[i] = tide_source_retain(w->cols[i]);
    m->names[i] = tide_strdup(w->names[i]);
    if (!m->names[i]) goto oom;
  }
  tide_type_t type = tide__expr_type(e);
  m->dst = tide__source_paged_create(type, type == TIDE_SYMBOL ? tide__expr_symtab(e) : NULL, err);
  if (!m->dst) {
    tide_error_prefix(err, "%s", op);
    return NULL;
  }
  if (type == TIDE_STRING) {
    m->holder = tide_source_flat_create(TIDE_STRING, 0, err);
    if (!m->holder || tide__source_keep(m->dst, m->holder) != TIDE_OK) goto oom;
  }
  /* the result has t's kind: an append-only one needs no undo log */
  if (!tide__kind_keeps_rows(t->kind) &&
      tide__source_track_prev(m->dst, tide__graph_step_ptr(tide_table_graph(t))) != TIDE_OK)
    goto oom;
  if (mat_eval(op, m, t->rowset, 0, err) != TIDE_OK) return NULL;
  return tide_source_retain(m->dst);
oom:
  nomem(op, err);
  return NULL;
}

/* select/view/update/update_view over a refreshing t: the result shares t's
 * RowSet (no re-indexing); formula views read t's live columns; stored
 * columns are paged sources keyed by t's row keys. */
static tide_table_t *formulas_ticking(tide_table_t *t, const char *const *fs, size_t nf,
                                      fmode mode, tide_error *err) {
  const char *op = mode_name(mode);
  bool materialize_mode = mode == MODE_SELECT || mode == MODE_UPDATE;
  bool keep_all = mode == MODE_UPDATE || mode == MODE_UPDATE_VIEW;
  collist w = {0}, out = {0};
  size_t nw = nwords_for(t->ncols);
  depvec wd = {0, 0, nw, NULL}, od = {0, 0, nw, NULL};
  uint64_t *dep = tide_calloc(nw ? nw : 1, sizeof *dep);
  fstate *s = fstate_new(op, t->ncols, 0);
  tide_table_t *res = NULL;
  if (!dep || !s) {
    nomem(op, err);
    goto fail;
  }
  if (!base_columns(op, t, false, &w, err)) goto fail;
  for (size_t c = 0; c < t->ncols; c++) {
    memset(dep, 0, nw * sizeof *dep);
    dep[c / 64] |= 1ull << (c % 64);
    if (!dv_set(&wd, c, dep)) {
      nomem(op, err);
      goto fail;
    }
  }
  bool all = mode == MODE_SELECT && nf == 0;
  size_t count = all ? t->ncols : nf;
  for (size_t k = 0; k < count; k++) {
    const char *f = all ? t->names[k] : fs[k];
    char name[NAME_CAP];
    size_t start;
    if (!tide__formula_split(op, f, name, sizeof name, &start, err)) goto fail;
    if (start == SIZE_MAX) {
      if (cl_find(&w, name) < 0) {
        no_column(op, name, &w, err);
        goto fail;
      }
      start = 0;
    }
    tide_expr_schema_t sc = schema_of(&w);
    tide_expr_t *e = tide__expr_compile(op, f, start, &sc, 0, err);
    if (!e) goto fail;
    if (!check_positions(op, e, t, err)) {
      tide__expr_free(e);
      goto fail;
    }
    memset(dep, 0, nw * sizeof *dep);
    for (size_t i = 0; i < tide__expr_ncolumns(e); i++) {
      int c = tide__expr_column_index(e, i);
      if (c < 0) continue;
      for (size_t j = 0; j < nw; j++) dep[j] |= wd.bits[(size_t)c * nw + j];
    }
    int pc;
    tide_source_t *src;
    if (tide__expr_is_column(e, &pc)) {
      src = tide_source_retain(w.cols[pc]);
      tide__expr_free(e);
    } else if (materialize_mode || tide__expr_uses_i(e) || tide__expr_has_missing_symbols(e)) {
      src = mat_create(op, s, e, f, start, &w, dep, t, err); /* takes e */
      if (!src) goto fail;
    } else {
      src = tide__source_formula_create(e, w.cols, NULL, err); /* takes e */
      if (!src) {
        tide_error_prefix(err, "%s", op);
        goto fail;
      }
    }
    bool ok = cl_set(&w, name, src) && dv_set(&wd, (size_t)cl_find(&w, name), dep);
    if (ok && !keep_all)
      ok = cl_set(&out, name, src) && dv_set(&od, (size_t)cl_find(&out, name), dep);
    tide_source_release(src);
    if (!ok) {
      nomem(op, err);
      goto fail;
    }
  }
  {
    collist *rl = keep_all ? &w : &out;
    depvec *rd = keep_all ? &wd : &od;
    res = tide_table_create(t->rowset, rl->n, (const char *const *)rl->names, rl->cols, err);
    if (!res) {
      tide_error_prefix(err, "%s", op);
      goto fail;
    }
    res->kind = t->kind;
    uint64_t *d = tide_realloc(s->deps, (rl->n ? rl->n : 1) * nw * sizeof *d + 8);
    if (!d) {
      nomem(op, err);
      goto fail;
    }
    s->deps = d;
    s->nres = rl->n;
    if (rl->n) memcpy(d, rd->bits, rl->n * nw * sizeof *d);
  }
  cl_free(&w);
  cl_free(&out);
  tide_free(wd.bits);
  tide_free(od.bits);
  tide_free(dep);
  {
    const tide_gnode_vt *vt = mode == MODE_SELECT   ? &formula_vt
                              : mode == MODE_UPDATE ? &update_vt
                              : mode == MODE_VIEW   ? &view_vt
                                                    : &update_view_vt;
    return attach(t, res, s, vt, err);
  }
fail:
  tide_table_free(res);
  cl_free(&w);
  cl_free(&out);
  tide_free(wd.bits);
  tide_free(od.bits);
  tide_free(dep);
  fstate_free(s);
  return NULL;
}

static tide_table_t *formulas(tide_table_t *t, const char *const *fs, size_t nf, fmode mode,
                              tide_error *err) {
  const char *op = mode_name(mode);
  if (!t || (nf && !fs)) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: NULL %s", op, t ? "formulas" : "table");
    return NULL;
  }
  if (t->node) {
    tide_graph_t *g = tide__graph_snapshot_lock(t);
    tide_table_t *r = formulas_ticking(t, fs, nf, mode, err);
    tide__graph_snapshot_unlock(g);
    return r;
  }
  bool materialize_mode = mode == MODE_SELECT || mode == MODE_UPDATE;
  bool flat = rowset_is_flat(t->rowset);
  bool reindex = materialize_mode && !flat;
  uint64_t n = tide_rowset_size(t->rowset);
  tide_rowset_t *rs = NULL; /* the result's RowSet */
  collist w = {0}, out = {0};
  tide_table_t *res = NULL;
  if (reindex) rs = n ? tide_rowset_create_range(0, n - 1) : tide_rowset_create();
  else rs = tide_rowset_retain(t->rowset);
  if (!rs) {
    oom(op, err);
    goto done;
  }
  if (!base_columns(op, t, reindex, &w, err)) goto done;
  bool all = mode == MODE_SELECT && nf == 0; /* select(): every column */
  size_t count = all ? t->ncols : nf;
  for (size_t k = 0; k < count; k++) {
    const char *f = all ? t->names[k] : fs[k];
    char name[NAME_CAP];
    size_t start;
    if (!tide__formula_split(op, f, name, sizeof name, &start, err)) goto done;
    tide_source_t *src = NULL;
    if (start == SIZE_MAX) {
      /* "Name": an existing column */
      int c = cl_find(&w, name);
      if (c < 0) {
        no_column(op, name, &w, err);
        goto done;
      }
      start = 0;
    }
    tide_expr_schema_t sc = schema_of(&w);
    tide_expr_t *e = tide__expr_compile(op, f, start, &sc, 0, err);
    if (!e) goto done;
    if (!check_positions(op, e, t, err)) {
      tide__expr_free(e);
      goto done;
    }
    int pc;
    bool plain = tide__expr_is_column(e, &pc);
    if (plain && (mode != MODE_SELECT || (flat && tide__source_is_flat(w.cols[pc])))) {
      src = tide_source_retain(w.cols[pc]);
      tide__expr_free(e);
    } else if (materialize_mode) {
      src = materialize(op, e, w.cols, rs, n, err);
      tide__expr_free(e);
      if (!src) goto done;
    } else {
      src = tide__source_formula_create(e, w.cols, rs, err); /* takes e */
      if (!src) {
        tide_error_prefix(err, "%s", op);
        goto done;
      }
    }
    bool ok = cl_set(&w, name, src);
    if (ok && (mode == MODE_SELECT || mode == MODE_VIEW)) ok = cl_set(&out, name, src);
    tide_source_release(src);
    if (!ok) {
      oom(op, err);
      goto done;
    }
  }
  {
    collist *r = (mode == MODE_SELECT || mode == MODE_VIEW) ? &out : &w;
    res = tide_table_create(rs, r->n, (const char *const *)r->names, r->cols, err);
    if (!res) tide_error_prefix(err, "%s", op);
    else res->kind = t->kind;
  }
done:
  cl_free(&w);
  cl_free(&out);
  tide_rowset_free(rs);
  return res;
}

tide_table_t *tide_select(tide_table_t *t, const char *const *fs, size_t n, tide_error *err) {
  return formulas(t, fs, n, MODE_SELECT, err);
}
tide_table_t *tide_view(tide_table_t *t, const char *const *fs, size_t n, tide_error *err) {
  return formulas(t, fs, n, MODE_VIEW, err);
}
tide_table_t *tide_update(tide_table_t *t, const char *const *fs, size_t n, tide_error *err) {
  return formulas(t, fs, n, MODE_UPDATE, err);
}
tide_table_t *tide_update_view(tide_table_t *t, const char *const *fs, size_t n,
                               tide_error *err) {
  return formulas(t, fs, n, MODE_UPDATE_VIEW, err);
}

/* ------------------------------------------------------- drop / rename */

static tide_table_t *drop_columns_build(tide_table_t *t, const char *const *names, size_t n,
                                tide_error *err);

tide_table_t *tide_drop_columns(tide_table_t *t, const char *const *names, size_t n,
                                tide_error *err) {
  tide_graph_t *g = tide__graph_snapshot_lock(t);
  tide_table_t *r = drop_columns_build(t, names, n, err);
  tide__graph_snapshot_unlock(g);
  return r;
}

static tide_table_t *drop_columns_build(tide_table_t *t, const char *const *names, size_t n,
                                tide_error *err) {
  if (!t || (n && !names)) {
    tide_error_set(err, TIDE_ERR_INVALID, "drop_columns: NULL %s", t ? "names" : "table");
    return NULL;
  }
  bool *drop = tide_calloc(t->ncols ? t->ncols : 1, sizeof *drop);
  const char **keep_names = tide_calloc(t->ncols ? t->ncols : 1, sizeof *keep_names);
  tide_source_t **keep = tide_calloc(t->ncols ? t->ncols : 1, sizeof *keep);
  size_t *map = tide_calloc(t->ncols ? t->ncols : 1, sizeof *map);
  tide_table_t *res = NULL;
  if (!drop || !keep_names || !keep || !map) {
    oom("drop_columns", err);
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    if (!names[i]) {
      tide_error_set(err, TIDE_ERR_INVALID, "drop_columns: NULL column name");
      goto done;
    }
    int c = tide__col_lookup(t, names[i], "drop_columns", err);
    if (c < 0) goto done;
    if (drop[c]) {
      tide_error_set(err, TIDE_ERR_DUPLICATE, "drop_columns: column '%s' listed twice",
                     names[i]);
      goto done;
    }
    drop[c] = true;
  }
  size_t m = 0;
  for (size_t c = 0; c < t->ncols; c++)
    if (!drop[c]) {
      keep_names[m] = t->names[c];
      map[m] = c;
      keep[m++] = t->cols[c];
    }
  res = tide_table_create(t->rowset, m, keep_names, keep, err);
  if (!res) tide_error_prefix(err, "drop_columns");
  else res->kind = t->kind;
  if (res && t->node) res = attach_map(t, res, map, "drop_columns", &drop_vt, err);
done:
  tide_free(map);
  tide_free(drop);
  tide_free(keep_names);
  tide_free(keep);
  return res;
}

static tide_table_t *rename_columns_build(tide_table_t *t, const char *const *pairs, size_t n,
                                  tide_error *err);

tide_table_t *tide_rename_columns(tide_table_t *t, const char *const *pairs, size_t n,
                                  tide_error *err) {
  tide_graph_t *g = tide__graph_snapshot_lock(t);
  tide_table_t *r = rename_columns_build(t, pairs, n, err);
  tide__graph_snapshot_unlock(g);
  return r;
}

static tide_table_t *rename_columns_build(tide_table_t *t, const char *const *pairs, size_t n,
                                  tide_error *err) {
  if (!t || (n && !pairs)) {
    tide_error_set(err, TIDE_ERR_INVALID, "rename_columns: NULL %s", t ? "pairs" : "table");
    return NULL;
  }
  size_t nc = t->ncols ? t->ncols : 1;
  char **newn = tide_calloc(nc, sizeof *newn); /* per column: new name or NULL */
  const char **names = tide_calloc(nc, sizeof *names);
  tide_table_t *res = NULL;
  if (!newn || !names) {
    oom("rename_columns", err);
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    char l[NAME_CAP], r[NAME_CAP];
    if (!tide__split_pair(pairs[i], l, r, sizeof l) || !strchr(pairs[i], '=')) {
      tide_error_set(err, TIDE_ERR_INVALID, "rename_columns: bad entry \"%s\" (expected New=Old)",
                     pairs[i] ? pairs[i] : "");
      goto done;
    }
    int c = tide__col_lookup(t, r, "rename_columns", err);
    if (c < 0) goto done;
    if (newn[c]) {
      tide_error_set(err, TIDE_ERR_DUPLICATE, "rename_columns: column '%s' renamed twice", r);
      goto done;
    }
    newn[c] = tide_strdup(l);
    if (!newn[c]) {
      oom("rename_columns", err);
      goto done;
    }
  }
  for (size_t c = 0; c < t->ncols; c++) names[c] = newn[c] ? newn[c] : t->names[c];
  for (size_t c = 0; c < t->ncols; c++)
    for (size_t d = 0; d < c; d++)
      if (!strcmp(names[c], names[d])) {
        tide_error_set(err, TIDE_ERR_DUPLICATE,
                       "rename_columns: duplicate column name '%s' in the result", names[c]);
        goto done;
      }
  res = tide_table_create(t->rowset, t->ncols, names, t->cols, err);
  if (!res) tide_error_prefix(err, "rename_columns");
  else res->kind = t->kind;
  if (res && t->node) {
    size_t *map = tide_calloc(nc, sizeof *map);
    if (!map) {
      tide_table_free(res);
      res = NULL;
      oom("rename_columns", err);
      goto done;
    }
    for (size_t c = 0; c < t->ncols; c++) map[c] = c;
    res = attach_map(t, res, map, "rename_columns", &rename_vt, err);
    tide_free(map);
  }
done:
  if (newn)
    for (size_t c = 0; c < t->ncols; c++) tide_free(newn[c]);
  tide_free(newn);
  tide_free(names);
  return res;
}
