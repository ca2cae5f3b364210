/*
 * head_by / tail_by: the first / last n rows of each group of the key
 * columns. Rows are grouped (kernels/agg_group.c); a running count per
 * group keeps a row while it is among the group's first n (head) or last n
 * (tail: rank >= size - n). Like Deephaven (group, take, ungroup), the
 * output is grouped by key, groups in order of first appearance and rows
 * in table order within a group, key columns first. A kept row's place
 * in the output follows from its group and its rank within the group, so
 * blocks of rows write the one redirection shared by every output column
 * in parallel (after a per-block count per group).
 * Ticking inputs: ops/rows_incr.c (same row order, its own key space).
 *
 * Key columns that are not stored contiguously (e.g. read through a
 * sort's redirection, where every row is a random read) are first copied
 * once, in parallel, into flat columns: grouping reads its keys twice
 * (range, then slots), and sequential reads of a copy are much cheaper
 * than random reads.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <omp.h>

#include "kernels/agg.h"

/* ops/rows_incr.c: ticking inputs */
tide_table_t *tide__head_by_ticking(tide_table_t *t, uint64_t n, const char *const *by,
                                    size_t nby, bool tail, tide_error *err);

/* A flat copy of src over the rows [0, n) of rs (which must be that
 * range), read in parallel by morsels. NULL with err on OOM. */
static tide_source_t *flat_copy(const tide_rowset_t *rs, uint64_t n, tide_source_t *src,
                                tide_error *err) {
  tide_type_t type = tide_source_type(src);
  tide_source_t *dst = tide_source_flat_create(type, n, err);
  if (!dst) return NULL;
  if (type == TIDE_SYMBOL) tide__source_set_symtab(dst, src->symtab);
  char *data = tide_source_flat_data(dst);
  size_t w = tide_type_width(type);
  uint64_t nm = (n + TIDE_MORSEL_ROWS - 1) / TIDE_MORSEL_ROWS;
  int nt = tide__threads_for(n);
  tide_morsels_t ms;
  if (tide__morsels_init(&ms, nm, nt, err) != TIDE_OK) {
    tide_source_release(dst);
    return NULL;
  }
#pragma omp parallel num_threads(nt)
  {
    uint64_t keybuf[TIDE_CHUNK_SIZE];
    for (uint64_t m; tide__morsels_next(&ms, omp_get_thread_num(), &m);) {
      tide_rowset_iter_t it;
      tide_rowseq_t seq;
      tide_rowset_iter_init_pos(&it, rs, m * TIDE_MORSEL_ROWS, TIDE_MORSEL_ROWS);
      while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, keybuf)) {
        void *o = data + seq.pos * w;
        const void *v = tide__source_get(src, &seq, o);
        if (v != o) memcpy(o, v, (size_t)seq.n * w);
      }
    }
  }
  tide__morsels_free(&ms);
  return dst;
}

static tide_table_t *headby_run(tide_table_t *t, uint64_t n, const char *const *by, size_t nby,
                                bool tail, const char *op, tide_error *err) {
  if (!t) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: no table", op);
    return NULL;
  }
  if (nby && !by) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: no key columns given", op);
    return NULL;
  }
  tide_source_t **in = tide_malloc((nby ? nby : 1) * sizeof *in);
  tide_source_t **copies = tide_calloc(nby ? nby : 1, sizeof *copies);
  tide_groups_t g;
  memset(&g, 0, sizeof g);
  uint64_t *cnt = NULL, *offs = NULL, *fk = NULL, *kept = NULL;
  const char **names = NULL;
  tide_source_t **outs = NULL;
  tide_redir_t *redir = NULL;
  tide_rowset_t *rs = NULL;
  tide_table_t *res = NULL;
  size_t nout = 0;
  if (!in || !copies) goto oom;
  uint64_t nrows = tide_rowset_size(t->rowset);
  bool flat_rows = tide_rowset_is_range(t->rowset) && (nrows == 0 || tide_rowset_first(t->rowset) == 0);
  for (size_t k = 0; k < nby; k++) {
    int idx = tide__col_lookup(t, by[k], op, err);
    if (idx < 0) goto done;
    in[k] = t->cols[idx];
    /* not contiguous (no direct reads): copy it once */
    if (flat_rows && nrows >= TIDE_MORSEL_ROWS && !in[k]->vt->direct &&
        tide_source_type(in[k]) != TIDE_STRING) {
      copies[k] = flat_copy(t->rowset, nrows, in[k], err);
      if (!copies[k]) goto done;
      in[k] = copies[k];
    }
  }
  if (tide__groups_build(t->rowset, nby, in, &g, op, err) != TIDE_OK) goto done;
  /* Every kept row's output position follows from its group and its rank
   * in the group: groups in id order (first appearance), group gi's kept
   * ranks [fk, fk + kept) at offs[gi]... So: count rows per group per
   * block of positions, turn the counts into each block's starting rank
   * per group, then each block writes its kept rows straight into the
   * redirection (no stable sort needed; identical for any block count).
   * Blocks are one per thread when T x groups counters stay below the row
   * count. */
  uint64_t nkeep = 0;
  {
    const uint64_t nr = g.nrows;
    const uint32_t ng = g.ngroups;
    int T = tide__threads_for(nr);
    if (T < 1) T = 1;
    while (T > 1 && (uint64_t)T * ng > (nr > 65536 ? nr : 65536)) T--;
    cnt = tide_calloc((size_t)T * (ng ? ng : 1), sizeof *cnt);
    offs = tide_malloc(((size_t)ng + 1) * sizeof *offs);
    fk = tide_malloc(((size_t)ng + 1) * sizeof *fk);
    kept = tide_malloc(((size_t)ng + 1) * sizeof *kept);
    if (!cnt || !offs || !fk || !kept) goto oom;
#pragma omp parallel for num_threads(T) schedule(static, 1)
    for (int b = 0; b < T; b++) {
      uint64_t lo = nr * (uint64_t)b / (uint64_t)T, hi = nr * (uint64_t)(b + 1) / (uint64_t)T;
      uint64_t *restrict c = cnt + (size_t)b * ng;
      const uint32_t *restrict ids = g.ids;
      for (uint64_t p = lo; p < hi; p++) c[ids[p]]++;
    }
    for (uint32_t gi = 0; gi < ng; gi++) {
      uint64_t size = 0;
      for (int b = 0; b < T; b++) {
        uint64_t *c = &cnt[(size_t)b * ng + gi];
        uint64_t v = *c;
        *c = size; /* block b's first rank in group gi */
        size += v;
      }
      kept[gi] = size < n ? size : n;
      fk[gi] = tail ? size - kept[gi] : 0;
      offs[gi] = nkeep;
      nkeep += kept[gi];
    }
    redir = tide__redir_create(nkeep, err);
    if (!redir) goto done;
    uint64_t *map = redir->map;
    const tide_rowset_t *trs = t->rowset;
#pragma omp parallel for num_threads(T) schedule(static, 1)
    for (int b = 0; b < T; b++) {
      uint64_t lo = nr * (uint64_t)b / (uint64_t)T, hi = nr * (uint64_t)(b + 1) / (uint64_t)T;
      uint64_t *restrict c = cnt + (size_t)b * ng;
      uint64_t kb[TIDE_CHUNK_SIZE];
      tide_rowset_iter_t it;
      tide_rowseq_t seq;
      tide_rowset_iter_init_pos(&it, trs, lo, hi - lo);
      while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, kb)) {
        const uint32_t *restrict ids = g.ids + seq.pos;
        for (uint32_t i = 0; i < seq.n; i++) {
          uint32_t gi = ids[i];
          uint64_t r = c[gi]++ - fk[gi]; /* wraps above kept when below fk */
          if (r < kept[gi]) map[offs[gi] + r] = seq.keys ? seq.keys[i] : seq.first + i;
        }
      }
    }
  }
  /* Key columns first (in by order), then the others in table order. */
  names = tide_malloc((t->ncols ? t->ncols : 1) * sizeof *names);
  outs = tide_calloc(t->ncols ? t->ncols : 1, sizeof *outs);
  bool *placed = tide_calloc(t->ncols ? t->ncols : 1, sizeof *placed);
  if (!names || !outs || !placed) {
    tide_free(placed);
    goto oom;
  }
  for (size_t j = 0; j < nby + t->ncols; j++) {
    size_t c = j < nby ? (size_t)tide__col_index(t, by[j]) : j - nby;
    if (placed[c]) continue;
    placed[c] = true;
    names[nout] = t->names[c];
    outs[nout] = tide__source_redirected_create(t->cols[c], redir, err);
    if (!outs[nout]) {
      tide_free(placed);
      goto done;
    }
    nout++;
  }
  tide_free(placed);
  rs = nkeep ? tide_rowset_create_range(0, nkeep - 1) : tide_rowset_create();
  if (!rs) goto oom;
  res = tide_table_create(rs, nout, names, outs, err);
  if (!res) tide_error_prefix(err, "%s", op);
  goto done;
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
done:
  for (size_t c = 0; c < nout; c++) tide_source_release(outs[c]);
  tide_free(outs);
  tide_free(names);
  tide__redir_release(redir);
  tide_free(offs);
  tide_free(cnt);
  tide_free(fk);
  tide_free(kept);
  tide_rowset_free(rs);
  tide__groups_destroy(&g);
  tide_free(in);
  if (copies)
    for (size_t k = 0; k < nby; k++)
      if (copies[k]) tide_source_release(copies[k]);
  tide_free(copies);
  return res;
}

tide_table_t *tide_head_by(tide_table_t *t, uint64_t n, const char *const *by, size_t nby,
                           tide_error *err) {
  if (t && t->node) {
    if (nby && !by) {
      tide_error_set(err, TIDE_ERR_INVALID, "head_by: no key columns given");
      return NULL;
    }
    return tide__head_by_ticking(t, n, by, nby, false, err);
  }
  return headby_run(t, n, by, nby, false, "head_by", err);
}

tide_table_t *tide_tail_by(tide_table_t *t, uint64_t n, const char *const *by, size_t nby,
                           tide_error *err) {
  if (t && t->node) {
    if (nby && !by) {
      tide_error_set(err, TIDE_ERR_INVALID, "tail_by: no key columns given");
      return NULL;
    }
    return tide__head_by_ticking(t, n, by, nby, true, err);
  }
  return headby_run(t, n, by, nby, true, "tail_by", err);
}
