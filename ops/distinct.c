/*
 * select_distinct: the distinct combinations of the listed columns, in
 * order of first appearance. Rows are grouped (kernels/agg_group.c) and
 * each group's key is gathered at its first row, so SYMBOL columns keep
 * their dictionary and STRING columns point into the input (kept alive by
 * the output sources). Entries may rename: "New=Old". With no columns,
 * every column of the table is used.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "kernels/agg.h"

#define DISTINCT_NAME_MAX 256

tide_table_t *tide_select_distinct(tide_table_t *t, const char *const *cols, size_t ncols,
                                   tide_error *err) {
  if (t && t->node) {
    tide_error_set(err, TIDE_ERR_UNSUPPORTED,
                   "select_distinct: ticking inputs are not supported yet");
    return NULL;
  }
  const char *op = "select_distinct";
  if (!t) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: no table", op);
    return NULL;
  }
  if (ncols && !cols) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: no columns given", op);
    return NULL;
  }
  const bool all = ncols == 0;
  const size_t n = all ? t->ncols : ncols;
  char (*names)[DISTINCT_NAME_MAX] = tide_calloc(n ? n : 1, sizeof *names);
  const char **np = tide_malloc((n ? n : 1) * sizeof *np);
  tide_source_t **in = tide_malloc((n ? n : 1) * sizeof *in);
  tide_source_t **out = tide_calloc(n ? n : 1, sizeof *out);
  tide_table_t *res = NULL;
  tide_groups_t g;
  memset(&g, 0, sizeof g);
  if (!names || !np || !in || !out) {
    tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
    goto done;
  }
  for (size_t k = 0; k < n; k++) {
    int idx;
    if (all) {
      idx = (int)k;
      snprintf(names[k], DISTINCT_NAME_MAX, "%s", t->names[k]);
    } else {
      char r[DISTINCT_NAME_MAX];
      if (!tide__split_pair(cols[k], names[k], r, DISTINCT_NAME_MAX)) {
        tide_error_set(err, TIDE_ERR_PARSE, "%s: malformed column entry '%s'", op,
                       cols[k] ? cols[k] : "");
        goto done;
      }
      idx = tide__col_lookup(t, r, op, err);
      if (idx < 0) goto done;
    }
    np[k] = names[k];
    in[k] = t->cols[idx];
  }
  if (tide__groups_build(t->rowset, n, in, &g, op, err) != TIDE_OK) goto done;
  for (size_t k = 0; k < n; k++) {
    out[k] = tide_source_flat_create(in[k]->type, g.ngroups, err);
    if (!out[k]) goto done;
    if (in[k]->type == TIDE_SYMBOL) tide__source_set_symtab(out[k], in[k]->symtab);
    if (tide__source_keep_values_of(out[k], in[k]) != TIDE_OK) {
      tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
      goto done;
    }
    char *dst = tide_source_flat_data(out[k]);
    const size_t w = tide_type_width(in[k]->type);
    for (uint64_t off = 0; off < g.ngroups; off += TIDE_CHUNK_SIZE) {
      tide_rowseq_t seq = {0, g.first_key + off, 0,
                           (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, g.ngroups - off)};
      tide_source_fill(in[k], &seq, dst + off * w);
    }
  }
  res = tide__table_from_sources(g.ngroups, n, np, out, err);
  memset(out, 0, n * sizeof *out);
  if (!res) tide_error_prefix(err, "%s", op);
done:
  if (out)
    for (size_t k = 0; k < n; k++) tide_source_release(out[k]);
  tide__groups_destroy(&g);
  tide_free(names);
  tide_free(np);
  tide_free(in);
  tide_free(out);
  return res;
}
