/*
 * head_by / tail_by: the first / last n rows of each group of the key
 * columns. Rows are grouped (kernels/agg_group.c); a running count per
 * group keeps a row while it is among the group's first n (head) or last n
 * (tail: rank >= size - n). Like Deephaven (group, take, ungroup), the
 * output is grouped by key, groups in order of first appearance and rows
 * in table order within a group, key columns first. A stable counting sort
 * by group id gives one redirection shared by every output column.
 * Ticking inputs: ops/rows_incr.c (same row order, its own key space).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernels/agg.h"

/* ops/rows_incr.c: ticking inputs */
tide_table_t *tide__head_by_ticking(tide_table_t *t, uint64_t n, const char *const *by,
                                    size_t nby, bool tail, tide_error *err);

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
  tide_groups_t g;
  memset(&g, 0, sizeof g);
  uint64_t *seen = NULL, *sizes = NULL, *keep = NULL, *keybuf = NULL, *offs = NULL;
  uint32_t *keep_gid = NULL;
  const char **names = NULL;
  tide_source_t **outs = NULL;
  tide_redir_t *redir = NULL;
  tide_rowset_t *rs = NULL;
  tide_table_t *res = NULL;
  size_t nout = 0;
  if (!in) goto oom;
  for (size_t k = 0; k < nby; k++) {
    int idx = tide__col_lookup(t, by[k], op, err);
    if (idx < 0) goto done;
    in[k] = t->cols[idx];
  }
  if (tide__groups_build(t->rowset, nby, in, &g, op, err) != TIDE_OK) goto done;
  seen = tide_calloc(g.ngroups ? g.ngroups : 1, sizeof *seen);
  keep = tide_malloc((g.nrows ? g.nrows : 1) * sizeof *keep);
  keep_gid = tide_malloc((g.nrows ? g.nrows : 1) * sizeof *keep_gid);
  keybuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *keybuf);
  if (!seen || !keep || !keep_gid || !keybuf) goto oom;
  if (tail) {
    sizes = tide__groups_sizes(&g, err);
    if (!sizes) goto oom;
    /* keep when rank >= size - n: turn sizes into the first kept rank */
    for (uint32_t gi = 0; gi < g.ngroups; gi++) sizes[gi] = sizes[gi] > n ? sizes[gi] - n : 0;
  }
  uint64_t nkeep = 0;
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init(&it, t->rowset);
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, keybuf)) {
    const uint32_t *restrict ids = g.ids + seq.pos;
    for (uint32_t i = 0; i < seq.n; i++) {
      uint32_t gi = ids[i];
      uint64_t rank = seen[gi]++;
      bool k = tail ? rank >= sizes[gi] : rank < n;
      keep[nkeep] = seq.keys ? seq.keys[i] : seq.first + i;
      keep_gid[nkeep] = gi;
      nkeep += k;
    }
  }
  /* Stable counting sort of the kept rows by group id. */
  offs = tide_calloc((size_t)g.ngroups + 1, sizeof *offs);
  redir = tide__redir_create(nkeep, err);
  if (!offs || !redir) goto oom;
  for (uint64_t r = 0; r < nkeep; r++) offs[keep_gid[r] + 1]++;
  for (uint32_t gi = 0; gi < g.ngroups; gi++) offs[gi + 1] += offs[gi];
  for (uint64_t r = 0; r < nkeep; r++) redir->map[offs[keep_gid[r]]++] = keep[r];
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
  tide_free(keep_gid);
  tide_rowset_free(rs);
  tide__groups_destroy(&g);
  tide_free(in);
  tide_free(seen);
  tide_free(sizes);
  tide_free(keep);
  tide_free(keybuf);
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
