/*
 * Formula-view column sources (view / update_view): fill evaluates the
 * compiled expression over the parent's columns at the requested keys.
 * The source owns the expression and holds references to the columns it
 * reads, so it outlives the table it was made from. Fills are thread-safe:
 * each allocates its evaluation scratch once per chunk.
 *
 * i / ii are the row's position in the parent's RowSet: computed from the
 * keys (key - first for a single range, a RowSet search otherwise), so the
 * view stays correct when read through a child with another RowSet.
 *
 * Previous values (tide_source_fill_prev, docs/TICKING.md decision 2):
 * the formula evaluated over the inputs' previous values, read through
 * per-input views whose fill is the input's fill_prev (no change to the
 * evaluator); i / ii then come from seq->pos (positions in the previous
 * RowSet, passed by the caller).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "core/expr.h"

/* A column read for fill_prev: a view of one input whose fill is the
 * input's fill_prev. The evaluator reads columns through the vtable
 * (tide__source_get / tide_source_fill), so evaluating the formula over
 * these views computes it over the inputs' previous values with no change
 * to the evaluator. Owned by the formula source (not reference counted);
 * no direct access, since storage holds current values. */
typedef struct prev_view_t {
  tide_source_t base;
  const tide_source_t *inner;
} prev_view_t;

static void prev_view_fill(const tide_source_t *src, const tide_rowseq_t *seq, void *dst) {
  tide_source_fill_prev(((const prev_view_t *)src)->inner, seq, dst);
}

static const tide_source_vt prev_view_vt = {"prev", prev_view_fill, NULL, NULL, NULL};

typedef struct formula_source_t {
  tide_source_t base;
  tide_expr_t *expr;
  size_t ncols;
  tide_source_t **cols; /* schema-indexed; referenced entries retained */
  tide_rowset_t *rowset; /* for i/ii; NULL otherwise */
  prev_view_t *prev;     /* ncols views (referenced entries used) */
  tide_source_t **pcols; /* schema-indexed pointers to prev, for fill_prev */
} formula_source_t;

static void formula_fill(const tide_source_t *src, const tide_rowseq_t *seq, void *dst) {
  const formula_source_t *f = (const formula_source_t *)src;
  if (seq->n == 0) return;
  uint64_t *posv = NULL;
  tide_status st = TIDE_OK;
  if (f->rowset) {
    posv = tide_malloc((size_t)seq->n * sizeof *posv);
    if (!posv) {
      st = TIDE_ERR_NOMEM;
    } else {
      bool range = tide_rowset_is_range(f->rowset);
      uint64_t first = tide_rowset_first(f->rowset);
      if (!range && !seq->keys) {
        /* Consecutive keys that are all in the RowSet have consecutive
         * positions: two lookups instead of one per row. */
        int64_t p0 = tide_rowset_find(f->rowset, seq->first);
        int64_t p1 = tide_rowset_find(f->rowset, seq->first + seq->n - 1);
        if (p0 >= 0 && p1 - p0 == (int64_t)seq->n - 1) {
          range = true;
          first = seq->first - (uint64_t)p0;
        }
      }
      for (uint32_t j = 0; j < seq->n; j++) {
        uint64_t k = seq->keys ? seq->keys[j] : seq->first + j;
        int64_t p = range ? (int64_t)(k - first) : tide_rowset_find(f->rowset, k);
        posv[j] = p < 0 ? 0 : (uint64_t)p;
      }
    }
  }
  if (st == TIDE_OK) st = tide__expr_eval(f->expr, f->cols, seq, posv, dst, NULL);
  if (st != TIDE_OK) {
    /* No error channel in fill: out of memory reads as nulls. */
    size_t w = tide_type_width(src->type);
    unsigned char nullv[8];
    tide_type_null(src->type, nullv);
    for (uint32_t j = 0; j < seq->n; j++) memcpy((unsigned char *)dst + (size_t)j * w, nullv, w);
  }
  tide_free(posv);
}

static void fill_null_values(tide_type_t type, void *dst, uint32_t n) {
  size_t w = tide_type_width(type);
  unsigned char nullv[8];
  tide_type_null(type, nullv);
  for (uint32_t j = 0; j < n; j++) memcpy((unsigned char *)dst + (size_t)j * w, nullv, w);
}

/* Previous values: the formula over the inputs' previous values (each
 * input's fill_prev: undo logs of paged sources, recursively for inputs
 * that are views themselves). i / ii are the rows' positions in the
 * previous RowSet, which the caller passes as seq->pos (positions
 * seq->pos + j); the view's own RowSet is the current one and is not
 * consulted here. */
static void formula_fill_prev(const tide_source_t *src, const tide_rowseq_t *seq, void *dst) {
  const formula_source_t *f = (const formula_source_t *)src;
  if (seq->n == 0) return;
  if (tide__expr_eval(f->expr, f->pcols, seq, NULL, dst, NULL) != TIDE_OK)
    fill_null_values(src->type, dst, seq->n); /* out of memory reads as nulls */
}

static void formula_destroy(tide_source_t *src) {
  formula_source_t *f = (formula_source_t *)src;
  tide_free(f->prev);
  tide_free(f->pcols);
  for (size_t c = 0; c < f->ncols; c++) tide_source_release(f->cols[c]);
  tide_free(f->cols);
  tide_rowset_free(f->rowset);
  tide__expr_free(f->expr);
}

static const tide_source_vt formula_vt = {"formula", formula_fill, NULL, formula_destroy,
                                          formula_fill_prev};

bool tide__source_is_formula(const tide_source_t *src) { return src->vt == &formula_vt; }

tide_source_t *tide__source_formula_create(tide_expr_t *e, tide_source_t *const *cols,
                                           const tide_rowset_t *rowset, tide_error *err) {
  formula_source_t *f = tide_calloc(1, sizeof *f);
  size_t ncols = 0;
  for (size_t i = 0; i < e->nrefs; i++)
    if ((size_t)e->ref_cols[i] + 1 > ncols) ncols = (size_t)e->ref_cols[i] + 1;
  tide_source_t **cc = tide_calloc(ncols ? ncols : 1, sizeof *cc);
  prev_view_t *pv = tide_calloc(ncols ? ncols : 1, sizeof *pv);
  tide_source_t **pc = tide_calloc(ncols ? ncols : 1, sizeof *pc);
  if (!f || !cc || !pv || !pc) {
    tide_free(f);
    tide_free(cc);
    tide_free(pv);
    tide_free(pc);
    tide__expr_free(e);
    tide_error_set(err, TIDE_ERR_NOMEM, "out of memory creating a formula column");
    return NULL;
  }
  tide__source_init(&f->base, &formula_vt, e->type);
  f->expr = e;
  f->ncols = ncols;
  f->cols = cc;
  f->prev = pv;
  f->pcols = pc;
  for (size_t i = 0; i < e->nrefs; i++) {
    int c = e->ref_cols[i];
    cc[c] = tide_source_retain(cols[c]);
    tide__source_init(&pv[c].base, &prev_view_vt, cols[c]->type);
    pv[c].base.symtab = cols[c]->symtab; /* borrowed: never released */
    pv[c].inner = cols[c];
    pc[c] = &pv[c].base;
  }
  if (e->uses_i && rowset) f->rowset = tide_rowset_retain((tide_rowset_t *)rowset);
  if (e->type == TIDE_SYMBOL && e->symtab) f->base.symtab = tide_symtab_retain(e->symtab);
  return &f->base;
}
