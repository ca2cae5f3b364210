/*
 * where_in / where_not_in (static builds): keep the rows of t whose match
 * columns do (not) appear in filter_table. The filter table's key columns
 * are hashed (ops/join_int.h matching rules: values compare by content
 * across dictionaries, ints of any width, null matches null); t is probed
 * a morsel at a time in parallel. The result shares t's column sources
 * with a subset of t's RowSet.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>

#include "ops/join_int.h"

#define W_NAME_CAP 256

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
#pragma omp parallel num_threads(nt)
  {
    tide__jscratch_t s;
    bool ok = tide__jscratch_init(&s, jk.nkeys, NULL) == TIDE_OK;
    if (!ok) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(dynamic, 1)
    for (uint64_t m = 0; m < nm; m++) {
      if (!ok) continue;
      uint64_t pos = m * TIDE_MORSEL_ROWS, cnt = TIDE_MIN((uint64_t)TIDE_MORSEL_ROWS, nl - pos);
      uint32_t *ids = lids + pos;
      tide__jkeys_probe(&jk, ks, ngroups, t, pos, cnt, &s, ids);
      uint64_t kept = 0;
      for (uint64_t i = 0; i < cnt; i++) kept += (ids[i] != TIDE_KEYSET_ABSENT) != invert;
      mcount[m] = kept;
    }
    tide__jscratch_free(&s);
  }
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
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (uint64_t m = 0; m < nm; m++) {
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
  if ((t && t->node) || (filter_table && filter_table->node)) {
    tide_error_set(err, TIDE_ERR_UNSUPPORTED, "where_in: ticking inputs are not supported yet");
    return NULL;
  }
  return where_in_impl("where_in", false, t, filter_table, match, nmatch, err);
}

tide_table_t *tide_where_not_in(tide_table_t *t, tide_table_t *filter_table,
                                const char *const *match, size_t nmatch, tide_error *err) {
  if ((t && t->node) || (filter_table && filter_table->node)) {
    tide_error_set(err, TIDE_ERR_UNSUPPORTED, "where_not_in: ticking inputs are not supported yet");
    return NULL;
  }
  return where_in_impl("where_not_in", true, t, filter_table, match, nmatch, err);
}
