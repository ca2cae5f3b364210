/*
 * Row selection and concatenation: head, tail, merge.
 *
 * head/tail share the parent's column sources and keep a positional subset
 * of its RowSet (ticking inputs: ops/rows_incr.c). merge materializes the
 * concatenation of its inputs into flat columns, copying morsels of every
 * input in parallel; SYMBOL columns share their dictionary when every
 * input uses the same one and otherwise get a merged dictionary (codes
 * translated); STRING values are copied as pointers, the result's column
 * keeping the inputs' arenas alive. With a ticking input, merge is
 * incremental (ops/rows_incr.c).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include <omp.h>

#include "core/core_int.h"

/* ops/rows_incr.c: ticking inputs */
tide_table_t *tide__head_tail_ticking(tide_table_t *t, uint64_t n, bool tail, tide_error *err);
tide_table_t *tide__merge_ticking(tide_table_t *const *tables, size_t n, tide_error *err);

/* ------------------------------------------------------------- head/tail */

static tide_table_t *rows_by_pos(tide_table_t *t, uint64_t pos, uint64_t count, const char *op,
                                 tide_error *err) {
  if (!t) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: table is NULL", op);
    return NULL;
  }
  tide_rowset_t *rs = tide_rowset_subset_by_pos(t->rowset, pos, count);
  if (!rs) {
    tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
    return NULL;
  }
  tide_table_t *out = tide_table_create(rs, t->ncols, (const char *const *)t->names, t->cols, err);
  tide_rowset_free(rs);
  if (!out) tide_error_prefix(err, "%s", op);
  return out;
}

tide_table_t *tide_head(tide_table_t *t, uint64_t n, tide_error *err) {
  if (t && t->node) return tide__head_tail_ticking(t, n, false, err);
  return rows_by_pos(t, 0, n, "head", err);
}

tide_table_t *tide_tail(tide_table_t *t, uint64_t n, tide_error *err) {
  if (t && t->node) return tide__head_tail_ticking(t, n, true, err);
  uint64_t size = t ? tide_rowset_size(t->rowset) : 0;
  return rows_by_pos(t, n >= size ? 0 : size - n, n, "tail", err);
}

/* ----------------------------------------------------------------- merge */

/* One unit of parallel copy work: positions [pos, pos + count) of input
 * table `tab`, written at output offset out + pos. */
typedef struct merge_task {
  size_t tab;
  uint64_t pos;
  uint64_t count;
  uint64_t out;
} merge_task;

/* Translate SYMBOL codes in place: c >= 0 -> map[c]. */
static void translate_codes(int32_t *restrict codes, uint32_t n, const int32_t *restrict map) {
  for (uint32_t i = 0; i < n; i++) {
    int32_t c = codes[i];
    codes[i] = c < 0 ? c : map[c];
  }
}

static tide_status check_schemas(tide_table_t *const *tables, size_t n, tide_error *err) {
  for (size_t i = 0; i < n; i++)
    if (!tables[i]) return tide_error_set(err, TIDE_ERR_INVALID, "merge: table %zu is NULL", i);
  const tide_table_t *t0 = tables[0];
  for (size_t i = 1; i < n; i++) {
    const tide_table_t *ti = tables[i];
    size_t nc = TIDE_MIN(t0->ncols, ti->ncols);
    for (size_t c = 0; c < nc; c++) {
      if (strcmp(t0->names[c], ti->names[c]) != 0)
        return tide_error_set(err, TIDE_ERR_INVALID,
                              "merge: table %zu does not match table 0: column %zu is '%s', "
                              "expected '%s'",
                              i, c, ti->names[c], t0->names[c]);
      tide_type_t a = tide_source_type(t0->cols[c]), b = tide_source_type(ti->cols[c]);
      if (a != b)
        return tide_error_set(err, TIDE_ERR_TYPE,
                              "merge: table %zu does not match table 0: column '%s' is %s, "
                              "expected %s",
                              i, t0->names[c], tide_type_name(b), tide_type_name(a));
    }
    if (t0->ncols != ti->ncols) {
      const char *name = t0->ncols > ti->ncols ? t0->names[nc] : ti->names[nc];
      return tide_error_set(err, TIDE_ERR_INVALID,
                            "merge: table %zu does not match table 0: %zu columns instead of "
                            "%zu (column '%s' %s)",
                            i, ti->ncols, t0->ncols, name,
                            t0->ncols > ti->ncols ? "missing" : "extra");
    }
  }
  return TIDE_OK;
}

/* Give the output SYMBOL column dst a dictionary: the inputs' one if they
 * all share it (maps[i] = NULL), else dst's own fresh dictionary filled with
 * every input's strings (maps[i] translates input i's codes, NULL where the
 * translation is the identity). */
static tide_status symbol_maps(tide_table_t *const *tables, size_t n, size_t col,
                               tide_source_t *dst, int32_t **maps, tide_error *err) {
  tide_symtab_t *shared = tide_source_symtab(tables[0]->cols[col]);
  bool same = true;
  for (size_t i = 1; i < n; i++) same &= tide_source_symtab(tables[i]->cols[col]) == shared;
  if (same && shared) {
    tide__source_set_symtab(dst, shared);
    return TIDE_OK;
  }
  tide_symtab_t *out = tide_source_symtab(dst);
  for (size_t i = 0; i < n; i++) {
    const tide_symtab_t *st = tide_source_symtab(tables[i]->cols[col]);
    uint32_t size = st ? tide_symtab_size(st) : 0;
    int32_t *map = tide_malloc((size ? size : 1) * sizeof *map);
    if (!map)
      return tide_error_set(err, TIDE_ERR_NOMEM, "merge: out of memory merging dictionaries");
    bool identity = true;
    for (uint32_t c = 0; c < size; c++) {
      const char *s = tide_symtab_str(st, (int32_t)c);
      int32_t code = tide_symtab_intern(out, s, strlen(s));
      if (code < 0) {
        tide_free(map);
        return tide_error_set(err, TIDE_ERR_NOMEM, "merge: out of memory merging dictionaries");
      }
      map[c] = code;
      identity &= code == (int32_t)c;
    }
    if (identity) {
      tide_free(map);
      map = NULL;
    }
    maps[i] = map;
  }
  return TIDE_OK;
}

tide_table_t *tide_merge(tide_table_t *const *tables, size_t n, tide_error *err) {
  if (n == 0 || !tables) {
    tide_error_set(err, TIDE_ERR_INVALID, "merge: no tables to merge");
    return NULL;
  }
  if (check_schemas(tables, n, err) != TIDE_OK) return NULL;
  if (n == 1) return tide_table_retain(tables[0]);
  for (size_t i = 0; i < n; i++)
    if (tables[i]->node) return tide__merge_ticking(tables, n, err);

  const tide_table_t *t0 = tables[0];
  size_t ncols = t0->ncols;
  uint64_t total = 0;
  size_t ntasks = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t size = tide_rowset_size(tables[i]->rowset);
    total += size;
    ntasks += (size_t)((size + TIDE_MORSEL_ROWS - 1) / TIDE_MORSEL_ROWS);
  }
  tide_table_t *out = NULL;
  tide_source_t **srcs = tide_calloc(ncols ? ncols : 1, sizeof *srcs);
  int32_t **maps = tide_calloc(ncols > 0 ? ncols * n : 1, sizeof *maps);
  merge_task *tasks = tide_malloc((ntasks ? ntasks : 1) * sizeof *tasks);
  if (!srcs || !maps || !tasks) {
    tide_error_set(err, TIDE_ERR_NOMEM, "merge: out of memory");
    goto done;
  }
  {
    size_t k = 0;
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
      uint64_t size = tide_rowset_size(tables[i]->rowset);
      for (uint64_t p = 0; p < size; p += TIDE_MORSEL_ROWS)
        tasks[k++] = (merge_task){i, p, TIDE_MIN((uint64_t)TIDE_MORSEL_ROWS, size - p), off};
      off += size;
    }
  }
  for (size_t c = 0; c < ncols; c++) {
    tide_type_t type = tide_source_type(t0->cols[c]);
    srcs[c] = tide_source_flat_create(type, total, err);
    if (!srcs[c]) {
      tide_error_prefix(err, "merge: column '%s'", t0->names[c]);
      goto done;
    }
    if (type == TIDE_SYMBOL) {
      if (symbol_maps(tables, n, c, srcs[c], maps + c * n, err) != TIDE_OK) goto done;
    } else if (type == TIDE_STRING) {
      for (size_t i = 0; i < n; i++)
        if (tide__source_keep_values_of(srcs[c], tables[i]->cols[c]) != TIDE_OK) {
          tide_error_set(err, TIDE_ERR_NOMEM, "merge: out of memory");
          goto done;
        }
    }
  }
  {
    bool failed = false;
    int nthreads = tide__threads_for(total);
    if ((size_t)nthreads > ntasks) nthreads = ntasks ? (int)ntasks : 1;
    /* Tasks are morsels of the inputs in output order: the NUMA-aware
     * dispenser (numa/morsel.c) gives worker t its own block of the output
     * first. */
    tide_morsels_t ms;
    if (tide__morsels_init(&ms, ntasks, nthreads, NULL) != TIDE_OK) {
      tide_error_set(err, TIDE_ERR_NOMEM, "merge: out of memory");
      goto done;
    }
#pragma omp parallel num_threads(nthreads)
    {
      uint64_t *keybuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *keybuf);
      if (!keybuf) {
#pragma omp atomic write
        failed = true;
      }
      for (uint64_t k; keybuf && tide__morsels_next(&ms, omp_get_thread_num(), &k);) {
        const merge_task *tk = &tasks[k];
        const tide_table_t *ti = tables[tk->tab];
        for (size_t c = 0; c < ncols; c++) {
          tide_source_t *s = ti->cols[c];
          size_t w = tide_type_width(tide_source_type(s));
          char *data = tide_source_flat_data(srcs[c]);
          const int32_t *map = maps[c * n + tk->tab];
          tide_rowset_iter_t it;
          tide_rowset_iter_init_pos(&it, ti->rowset, tk->pos, tk->count);
          tide_rowseq_t seq;
          while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, keybuf)) {
            void *dst = data + (size_t)(tk->out + seq.pos) * w;
            tide_source_fill(s, &seq, dst);
            if (map) translate_codes(dst, seq.n, map);
          }
        }
      }
      tide_free(keybuf);
    }
    tide__morsels_free(&ms);
    if (failed) {
      tide_error_set(err, TIDE_ERR_NOMEM, "merge: out of memory");
      goto done;
    }
  }
  out = tide__table_from_sources(total, ncols, (const char *const *)t0->names, srcs, err);
  tide_free(srcs); /* references moved into the table (or released) */
  srcs = NULL;
  if (!out) tide_error_prefix(err, "merge");
done:
  if (srcs)
    for (size_t c = 0; c < ncols; c++) tide_source_release(srcs[c]);
  tide_free(srcs);
  if (maps)
    for (size_t k = 0; k < ncols * n; k++) tide_free(maps[k]);
  tide_free(maps);
  tide_free(tasks);
  return out;
}
