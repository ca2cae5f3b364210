/*
 * Filters and formula columns: where, select, view, update, update_view,
 * drop_columns, rename_columns (static builds).
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
 * Parallelism: where and the materializing ops evaluate morsels of
 * TIDE_MORSEL_ROWS positions with OpenMP; each morsel writes its own slice
 * (where: its own key vector, concatenated in morsel order), so results are
 * identical for any thread count.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>

#include "core/core_int.h"
#include "core/expr.h"

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
} keyvec;

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
                                    tide_source_t *const *cols, tide_rowset_t *rs,
                                    tide_error *err) {
  uint64_t n = tide_rowset_size(rs);
  uint64_t nm = (n + TIDE_MORSEL_ROWS - 1) / TIDE_MORSEL_ROWS;
  keyvec *out = tide_calloc(nm ? nm : 1, sizeof *out);
  if (!out) {
    oom(op, err);
    return NULL;
  }
  int failed = 0;
#pragma omp parallel for num_threads(tide__threads_for(n)) schedule(dynamic)
  for (int64_t m = 0; m < (int64_t)nm; m++) {
    int bad;
#pragma omp atomic read
    bad = failed;
    if (bad) continue;
    tide_expr_scratch_t *s = tide__expr_scratch_create(e);
    uint64_t *kb = tide_malloc(TIDE_CHUNK_SIZE * sizeof *kb);
    uint32_t *sel = tide_malloc(TIDE_CHUNK_SIZE * sizeof *sel);
    /* Reserve the morsel's size up front: pages are only touched as keys
     * are written, and the vector never moves. */
    uint64_t mrows = TIDE_MIN((uint64_t)TIDE_MORSEL_ROWS, n - (uint64_t)m * TIDE_MORSEL_ROWS);
    keyvec *v = &out[m];
    bool ok = s && kb && sel && kv_reserve(v, mrows);
    if (ok) {
      tide_rowset_iter_t it;
      tide_rowset_iter_init_pos(&it, rs, (uint64_t)m * TIDE_MORSEL_ROWS, TIDE_MORSEL_ROWS);
      tide_rowseq_t seq;
      while (ok && tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, kb)) {
        uint32_t cnt;
        ok = tide__expr_filter(e, cols, &seq, NULL, sel, &cnt, s) == TIDE_OK &&
             kv_reserve(v, cnt);
        if (!ok) break;
        uint64_t *dst = v->keys + v->n;
        if (seq.keys)
          for (uint32_t j = 0; j < cnt; j++) dst[j] = seq.keys[sel[j]];
        else
          for (uint32_t j = 0; j < cnt; j++) dst[j] = seq.first + sel[j];
        v->n += cnt;
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

tide_table_t *tide_where(tide_table_t *t, const char *filter, tide_error *err) {
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
  tide_rowset_t *rs = filter_rowset("where", e, t->cols, t->rowset, err);
  tide__expr_free(e);
  if (!rs) return NULL;
  tide_table_t *r =
      tide_table_create(rs, t->ncols, (const char *const *)t->names, t->cols, err);
  tide_rowset_free(rs);
  if (r) r->kind = t->kind;
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
#pragma omp parallel for num_threads(tide__threads_for(n)) schedule(dynamic)
  for (int64_t m = 0; m < (int64_t)nm; m++) {
    int bad;
#pragma omp atomic read
    bad = failed;
    if (bad) continue;
    tide_expr_scratch_t *s = tide__expr_scratch_create(e);
    uint64_t *kb = tide_malloc(TIDE_CHUNK_SIZE * sizeof *kb);
    bool ok = s && kb;
    if (ok) {
      tide_rowset_iter_t it;
      tide_rowset_iter_init_pos(&it, rs, (uint64_t)m * TIDE_MORSEL_ROWS, TIDE_MORSEL_ROWS);
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

static tide_table_t *formulas(tide_table_t *t, const char *const *fs, size_t nf, fmode mode,
                              tide_error *err) {
  const char *op = mode_name(mode);
  if (!t || (nf && !fs)) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: NULL %s", op, t ? "formulas" : "table");
    return NULL;
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

tide_table_t *tide_drop_columns(tide_table_t *t, const char *const *names, size_t n,
                                tide_error *err) {
  if (!t || (n && !names)) {
    tide_error_set(err, TIDE_ERR_INVALID, "drop_columns: NULL %s", t ? "names" : "table");
    return NULL;
  }
  bool *drop = tide_calloc(t->ncols ? t->ncols : 1, sizeof *drop);
  const char **keep_names = tide_calloc(t->ncols ? t->ncols : 1, sizeof *keep_names);
  tide_source_t **keep = tide_calloc(t->ncols ? t->ncols : 1, sizeof *keep);
  tide_table_t *res = NULL;
  if (!drop || !keep_names || !keep) {
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
      keep[m++] = t->cols[c];
    }
  res = tide_table_create(t->rowset, m, keep_names, keep, err);
  if (!res) tide_error_prefix(err, "drop_columns");
  else res->kind = t->kind;
done:
  tide_free(drop);
  tide_free(keep_names);
  tide_free(keep);
  return res;
}

tide_table_t *tide_rename_columns(tide_table_t *t, const char *const *pairs, size_t n,
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
done:
  if (newn)
    for (size_t c = 0; c < t->ncols; c++) tide_free(newn[c]);
  tide_free(newn);
  tide_free(names);
  return res;
}
