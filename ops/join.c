/*
 * Joins (static builds): natural_join, exact_join, join, aj, raj.
 *
 * Build on the right table (hash its key columns into dense group ids,
 * serially in right-row order; one integer key of a small range instead
 * gets a directly addressed key set, built in parallel: ops/join_keys.c),
 * probe with the left table a morsel at a time in parallel (OpenMP), then
 * write two redirections: output position
 * -> left row key and output position -> right row key (TIDE_NULL_KEY
 * reads as null). Output rows follow the left order; inner join emits the
 * matches of a left row in right-table order. The result's RowSet is
 * [0, n); left columns are shared when the left RowSet is [0, n) and every
 * left row appears exactly once in order (natural/exact join; an inner join
 * whose right keys are distinct and which matched every left row), else
 * redirected. With a directly addressed key set and one right row per key
 * (natural/exact join, inner join with distinct right keys) the key set's
 * slots are first composed with each key's right row, so the probe is one
 * array read per left row that writes the right redirection at once.
 * Large redirections are advised huge pages (fewer page faults).
 *
 * As-of joins: right rows are grouped by the exact keys; each group holds
 * its rows sorted by the right time (stable, so equal times keep right
 * order). aj takes the greatest time <= (<) the left time and, among equal
 * times, the last such row in right-table order; raj takes the least time
 * >= (>) the left time and, among equal times, the first such row. Null
 * (and NaN) times never match. Time columns may be integers of any width,
 * timestamps (with timestamps only) or float/double.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>

#include <omp.h>

#include "ops/join_int.h"

typedef enum jkind_t { J_NATURAL, J_EXACT, J_JOIN, J_AJ, J_RAJ } jkind_t;

static const char *const kind_names[] = {"natural_join", "exact_join", "join", "aj", "raj"};

#define J_NAME_CAP TIDE_JSPEC_NAME_CAP
#define J_UNSET UINT64_MAX

/* ----------------------------------------------------------- time values */

typedef struct jtime_t {
  const tide_source_t *src;
  tide_type_t type;
} jtime_t;

/* Time values at seq as ordered int64 (INT64_MIN: null, never matches). */
static const int64_t *time_get(const jtime_t *t, const tide_rowseq_t *seq, void *raw,
                               int64_t *out) {
  return tide__join_times(t->type, tide__source_get(t->src, seq, raw), seq->n, out);
}

static int time_class(tide_type_t t) {
  switch (t) {
  case TIDE_I8:
  case TIDE_I16:
  case TIDE_I32:
  case TIDE_I64:
    return 1;
  case TIDE_TS:
    return 2;
  case TIDE_F32:
  case TIDE_F64:
    return 3;
  default:
    return 0;
  }
}

/* (time, right row key) of an as-of group member. */
typedef struct jtk_t {
  int64_t t;
  uint64_t k;
} jtk_t;

/* Stable bottom-up merge sort of a[0..n) by t (tmp holds n entries). */
static void sort_tk(jtk_t *a, jtk_t *tmp, uint64_t n) {
  bool sorted = true;
  for (uint64_t i = 1; i < n && sorted; i++) sorted = a[i - 1].t <= a[i].t;
  if (sorted) return;
  jtk_t *src = a, *dst = tmp;
  for (uint64_t w = 1; w < n; w *= 2) {
    for (uint64_t lo = 0; lo < n; lo += 2 * w) {
      uint64_t mid = TIDE_MIN(lo + w, n), hi = TIDE_MIN(lo + 2 * w, n);
      uint64_t i = lo, j = mid, o = lo;
      while (i < mid && j < hi) dst[o++] = src[j].t < src[i].t ? src[j++] : src[i++];
      while (i < mid) dst[o++] = src[i++];
      while (j < hi) dst[o++] = src[j++];
    }
    jtk_t *x = src;
    src = dst;
    dst = x;
  }
  if (src != a) memcpy(a, src, n * sizeof *a);
}

/* ------------------------------------------------------------- parsing */

static void trim_copy(const char *s, size_t len, char *out, size_t cap) {
  while (len && (*s == ' ' || *s == '\t')) s++, len--;
  while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
  if (len >= cap) len = cap - 1;
  memcpy(out, s, len);
  out[len] = '\0';
}

bool tide__join_parse_asof(const char *spec, char *l, char *r, char *dir, bool *strict) {
  const char *p = spec;
  while (*p && *p != '<' && *p != '>') p++;
  if (!*p) {
    *dir = 0;
    *strict = false;
    return tide__split_pair(spec, l, r, J_NAME_CAP);
  }
  *dir = *p;
  const char *after = p + 1;
  if (*after == '=') {
    *strict = false;
    after++;
  } else {
    *strict = true;
  }
  trim_copy(spec, (size_t)(p - spec), l, J_NAME_CAP);
  trim_copy(after, strlen(after), r, J_NAME_CAP);
  return tide__is_identifier(l) && tide__is_identifier(r);
}

/* ------------------------------------------------------------ the driver */

typedef struct jctx_t {
  jkind_t kind;
  const char *op;
  tide_table_t *left, *right;
  size_t nk;
  char *names;       /* 2 * non names of J_NAME_CAP: left then right */
  const char **ln, **rn;
  bool strict;       /* as-of */
  int ltcol, rtcol;  /* as-of time columns */
  jtime_t ltime, rtime;
  size_t nadd;
  char *addnames;    /* nadd names of J_NAME_CAP */
  int *addcols;      /* right column of each added output */
  tide__jkeys_t jk;
} jctx_t;

static void jctx_free(jctx_t *c) {
  tide_free(c->names);
  tide_free(c->ln);
  tide_free(c->rn);
  tide_free(c->addnames);
  tide_free(c->addcols);
  tide__jkeys_free(&c->jk);
}

static tide_status parse_on(jctx_t *c, const char *const *on, size_t non, tide_error *err) {
  bool asof = c->kind == J_AJ || c->kind == J_RAJ;
  size_t m = non ? non : 1;
  c->names = tide_malloc(2 * m * J_NAME_CAP);
  c->ln = tide_calloc(m, sizeof(char *));
  c->rn = tide_calloc(m, sizeof(char *));
  if (!c->names || !c->ln || !c->rn) return tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", c->op);
  if (asof && non == 0)
    return tide_error_set(err, TIDE_ERR_INVALID,
                          "%s: 'on' needs at least the time match (e.g. \"Time\")", c->op);
  c->nk = asof ? non - 1 : non;
  for (size_t i = 0; i < non; i++) {
    char *l = c->names + (2 * i) * J_NAME_CAP, *r = c->names + (2 * i + 1) * J_NAME_CAP;
    c->ln[i] = l;
    c->rn[i] = r;
    if (!on[i]) return tide_error_set(err, TIDE_ERR_INVALID, "%s: NULL 'on' entry", c->op);
    if (asof && i == non - 1) {
      char dir;
      bool strict;
      if (!tide__join_parse_asof(on[i], l, r, &dir, &strict))
        return tide_error_set(err, TIDE_ERR_PARSE, "%s: malformed time match '%s'", c->op, on[i]);
      char want = c->kind == J_AJ ? '>' : '<';
      if (dir && dir != want)
        return tide_error_set(err, TIDE_ERR_INVALID,
                              "%s: the time match must be 'Left %c= Right' or 'Left %c Right' "
                              "(got '%s')",
                              c->op, want, want, on[i]);
      c->strict = strict;
    } else {
      if (strchr(on[i], '<') || strchr(on[i], '>'))
        return tide_error_set(err, TIDE_ERR_INVALID,
                              "%s: only the last match of an as-of join may be an inequality "
                              "(got '%s')",
                              c->op, on[i]);
      if (!tide__split_pair(on[i], l, r, J_NAME_CAP))
        return tide_error_set(err, TIDE_ERR_PARSE, "%s: malformed match '%s'", c->op, on[i]);
    }
  }
  return TIDE_OK;
}

static tide_status resolve_time(jctx_t *c, tide_error *err) {
  const char *l = c->ln[c->nk], *r = c->rn[c->nk];
  char cols[TIDE_ERROR_MSG_MAX / 2];
  c->ltcol = tide_table_col_index(c->left, l);
  if (c->ltcol < 0) {
    tide__jformat_cols(c->left, cols, sizeof cols);
    return tide_error_set(err, TIDE_ERR_NOT_FOUND, "%s: no column '%s' in left table (columns: %s)",
                          c->op, l, cols);
  }
  c->rtcol = tide_table_col_index(c->right, r);
  if (c->rtcol < 0) {
    tide__jformat_cols(c->right, cols, sizeof cols);
    return tide_error_set(err, TIDE_ERR_NOT_FOUND,
                          "%s: no column '%s' in right table (columns: %s)", c->op, r, cols);
  }
  c->ltime.src = tide_table_col_source(c->left, (size_t)c->ltcol);
  c->rtime.src = tide_table_col_source(c->right, (size_t)c->rtcol);
  c->ltime.type = tide_source_type(c->ltime.src);
  c->rtime.type = tide_source_type(c->rtime.src);
  int lc = time_class(c->ltime.type), rc = time_class(c->rtime.type);
  if (!lc)
    return tide_error_set(err, TIDE_ERR_TYPE,
                          "%s: time column '%s' has type %s (need a numeric or timestamp column)",
                          c->op, l, tide_type_name(c->ltime.type));
  if (!rc)
    return tide_error_set(err, TIDE_ERR_TYPE,
                          "%s: time column '%s' has type %s (need a numeric or timestamp column)",
                          c->op, r, tide_type_name(c->rtime.type));
  if (lc != rc)
    return tide_error_set(err, TIDE_ERR_TYPE,
                          "%s: cannot compare left time column '%s' (%s) with right column '%s' (%s)",
                          c->op, l, tide_type_name(c->ltime.type), r,
                          tide_type_name(c->rtime.type));
  return TIDE_OK;
}

/* The right columns to add and their output names. */
static tide_status resolve_adds(jctx_t *c, const char *const *joins, size_t njoins,
                                tide_error *err) {
  bool asof = c->kind == J_AJ || c->kind == J_RAJ;
  size_t nr = tide_table_ncols(c->right);
  size_t cap = njoins ? njoins : nr;
  c->addnames = tide_malloc((cap ? cap : 1) * J_NAME_CAP);
  c->addcols = tide_calloc(cap ? cap : 1, sizeof(int));
  if (!c->addnames || !c->addcols) return tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", c->op);
  char cols[TIDE_ERROR_MSG_MAX / 2];
  c->nadd = 0;
  if (njoins) {
    for (size_t i = 0; i < njoins; i++) {
      char *o = c->addnames + i * J_NAME_CAP;
      char in[J_NAME_CAP];
      if (!joins[i] || !tide__split_pair(joins[i], o, in, J_NAME_CAP))
        return tide_error_set(err, TIDE_ERR_PARSE, "%s: malformed join column '%s'", c->op,
                              joins[i] ? joins[i] : "(null)");
      int rc = tide_table_col_index(c->right, in);
      if (rc < 0) {
        tide__jformat_cols(c->right, cols, sizeof cols);
        return tide_error_set(err, TIDE_ERR_NOT_FOUND,
                              "%s: no column '%s' in right table (columns: %s)", c->op, in, cols);
      }
      c->addcols[c->nadd++] = rc;
    }
  } else {
    for (size_t j = 0; j < nr; j++) {
      const char *name = tide_table_col_name(c->right, j);
      bool skip = false;
      for (size_t k = 0; k < c->nk && !skip; k++) skip = strcmp(name, c->rn[k]) == 0;
      if (asof && !skip && strcmp(name, c->rn[c->nk]) == 0)
        skip = tide_table_col_index(c->left, name) >= 0;
      if (skip) continue;
      snprintf(c->addnames + c->nadd * J_NAME_CAP, J_NAME_CAP, "%s", name);
      c->addcols[c->nadd++] = (int)j;
    }
  }
  for (size_t i = 0; i < c->nadd; i++) {
    const char *o = c->addnames + i * J_NAME_CAP;
    const char *rname = tide_table_col_name(c->right, (size_t)c->addcols[i]);
    if (tide_table_col_index(c->left, o) >= 0)
      return tide_error_set(err, TIDE_ERR_DUPLICATE,
                            "%s: right column '%s' would be added as '%s', which collides with a "
                            "left column; rename it (e.g. \"Right%s=%s\")",
                            c->op, rname, o, rname, rname);
    for (size_t j = 0; j < i; j++)
      if (strcmp(o, c->addnames + j * J_NAME_CAP) == 0)
        return tide_error_set(err, TIDE_ERR_DUPLICATE, "%s: output column '%s' added twice",
                              c->op, o);
  }
  return TIDE_OK;
}

/* Assemble the result: rows [0, n); left columns shared (lmap NULL) or
 * redirected through lmap; added right columns redirected through rmap.
 * Takes over lmap/rmap (may be NULL when n == 0 and shared). */
static tide_table_t *assemble(jctx_t *c, uint64_t n, tide_redir_t *lmap, tide_redir_t *rmap,
                              tide_error *err) {
  size_t nl = tide_table_ncols(c->left);
  size_t ncols = nl + c->nadd;
  const char **names = tide_calloc(ncols ? ncols : 1, sizeof(char *));
  tide_source_t **srcs = tide_calloc(ncols ? ncols : 1, sizeof(tide_source_t *));
  tide_rowset_t *rs = n ? tide_rowset_create_range(0, n - 1) : tide_rowset_create();
  tide_table_t *out = NULL;
  if (!names || !srcs || !rs) {
    tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", c->op);
    goto done;
  }
  for (size_t i = 0; i < nl; i++) {
    names[i] = tide_table_col_name(c->left, i);
    tide_source_t *s = tide_table_col_source(c->left, i);
    srcs[i] = lmap ? tide__source_redirected_create(s, lmap, err) : tide_source_retain(s);
    if (!srcs[i]) goto done;
  }
  for (size_t i = 0; i < c->nadd; i++) {
    names[nl + i] = c->addnames + i * J_NAME_CAP;
    srcs[nl + i] = tide__source_redirected_create(
        tide_table_col_source(c->right, (size_t)c->addcols[i]), rmap, err);
    if (!srcs[nl + i]) goto done;
  }
  out = tide_table_create(rs, ncols, names, srcs, err);
  if (!out) tide_error_prefix(err, "%s", c->op);
done:
  if (srcs)
    for (size_t i = 0; i < ncols; i++) tide_source_release(srcs[i]);
  tide_free(srcs);
  tide_free(names);
  tide_rowset_free(rs);
  if (lmap) tide__redir_release(lmap);
  if (rmap) tide__redir_release(rmap);
  return out;
}

/* Fill map[pos..pos+count) with the left row keys at those positions
 * (keybuf: TIDE_CHUNK_SIZE scratch). */
static void fill_left_keys(const tide_rowset_t *rs, uint64_t pos, uint64_t count, uint64_t *map,
                           uint64_t *keybuf) {
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init_pos(&it, rs, pos, count);
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, keybuf)) {
    uint64_t *o = map + seq.pos;
    if (seq.keys) {
      memcpy(o, seq.keys, seq.n * sizeof(uint64_t));
    } else {
      for (uint32_t i = 0; i < seq.n; i++) o[i] = seq.first + i;
    }
  }
}

static tide_table_t *join_impl(jkind_t kind, tide_table_t *left, tide_table_t *right,
                               const char *const *on, size_t non, const char *const *joins,
                               size_t njoins, tide_error *err) {
  jctx_t c;
  memset(&c, 0, sizeof c);
  c.kind = kind;
  c.op = kind_names[kind];
  c.left = left;
  c.right = right;
  bool asof = kind == J_AJ || kind == J_RAJ;
  tide_table_t *result = NULL;
  tide_keyset_t *ks = NULL;
  uint32_t *rg = NULL, *lids = NULL;
  uint64_t *rkeys = NULL, *first = NULL, *gstart = NULL, *grows = NULL, *mcount = NULL;
  tide_morsels_t ms = {0};
  jtk_t *gtk = NULL;
  tide_redir_t *lmap = NULL, *rmap = NULL;
  uint64_t *dmap = NULL;
  uint32_t *dmap32 = NULL;

  if (!left || !right) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: NULL table", c.op);
    return NULL;
  }
  if ((non && !on) || (njoins && !joins)) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: NULL column list", c.op);
    return NULL;
  }
  if (parse_on(&c, on, non, err) != TIDE_OK) goto fail;
  if (tide__jkeys_init(&c.jk, c.op, left, right, c.ln, c.rn, c.nk, err) != TIDE_OK) goto fail;
  if (asof && resolve_time(&c, err) != TIDE_OK) goto fail;
  if (resolve_adds(&c, joins, njoins, err) != TIDE_OK) goto fail;

  const tide_rowset_t *lrs = tide_table_rowset(left), *rrs = tide_table_rowset(right);
  uint64_t nl = tide_rowset_size(lrs), nr = tide_rowset_size(rrs);

  /* ---- build */
  rg = tide_malloc(sizeof(uint32_t) * (nr ? nr : 1));
  rkeys = tide_malloc(sizeof(uint64_t) * (nr ? nr : 1));
  if (!rg || !rkeys) goto oom;
  tide_rowset_export(rrs, rkeys);
  uint32_t ngroups = 0;
  if (tide__jkeys_build(&c.jk, right, &ks, rg, &ngroups, err) != TIDE_OK) {
    tide_error_prefix(err, "%s", c.op);
    goto fail;
  }
  if (kind == J_NATURAL || kind == J_EXACT) {
    first = tide_malloc(sizeof(uint64_t) * (ngroups ? ngroups : 1));
    if (!first) goto oom;
    for (uint32_t g = 0; g < ngroups; g++) first[g] = J_UNSET;
    for (uint64_t p = 0; p < nr; p++) {
      uint32_t g = rg[p];
      if (TIDE_LIKELY(first[g] == J_UNSET)) {
        first[g] = p;
        continue;
      }
      char key[256];
      tide__jformat_key(right, c.jk.rcol, c.nk, p, key, sizeof key);
      tide_error_set(err, TIDE_ERR_DUPLICATE, "%s: duplicate right key %s at right rows %llu and %llu",
                     c.op, key, (unsigned long long)first[g], (unsigned long long)p);
      goto fail;
    }
    for (uint32_t g = 0; g < ngroups; g++) first[g] = rkeys[first[g]];
  } else {
    /* Per-group row lists in right order (as-of: non-null times only). */
    gstart = tide_calloc((size_t)ngroups + 1, sizeof(uint64_t));
    if (!gstart) goto oom;
    int64_t *rt = NULL;
    if (asof) {
      rt = tide_malloc(sizeof(int64_t) * (nr ? nr : 1));
      tide__jscratch_t s;
      if (!rt || tide__jscratch_init(&s, 0, err) != TIDE_OK) {
        tide_free(rt);
        goto oom;
      }
      tide_rowset_iter_t it;
      tide_rowseq_t seq;
      tide_rowset_iter_init(&it, rrs);
      while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s.keybuf)) {
        const int64_t *t = time_get(&c.rtime, &seq, s.t_raw, s.t_out);
        memcpy(rt + seq.pos, t, seq.n * sizeof(int64_t));
      }
      tide__jscratch_free(&s);
      for (uint64_t p = 0; p < nr; p++) gstart[rg[p] + 1] += rt[p] != INT64_MIN;
    } else {
      for (uint64_t p = 0; p < nr; p++) gstart[rg[p] + 1]++;
    }
    for (uint32_t g = 0; g < ngroups; g++) gstart[g + 1] += gstart[g];
    uint64_t nmem = gstart[ngroups];
    uint64_t *fill = tide_malloc(sizeof(uint64_t) * ((size_t)ngroups + 1));
    if (asof) {
      gtk = tide_malloc(sizeof(jtk_t) * (nmem ? nmem : 1));
      jtk_t *tmp = tide_malloc(sizeof(jtk_t) * (nmem ? nmem : 1));
      if (!fill || !gtk || !tmp) {
        tide_free(fill);
        tide_free(tmp);
        tide_free(rt);
        goto oom;
      }
      memcpy(fill, gstart, sizeof(uint64_t) * ((size_t)ngroups + 1));
      for (uint64_t p = 0; p < nr; p++) {
        if (rt[p] == INT64_MIN) continue;
        jtk_t *e = &gtk[fill[rg[p]]++];
        e->t = rt[p];
        e->k = rkeys[p];
      }
      for (uint32_t g = 0; g < ngroups; g++)
        sort_tk(gtk + gstart[g], tmp + gstart[g], gstart[g + 1] - gstart[g]);
      tide_free(tmp);
      tide_free(rt);
    } else {
      grows = tide_malloc(sizeof(uint64_t) * (nmem ? nmem : 1));
      if (!fill || !grows) {
        tide_free(fill);
        goto oom;
      }
      memcpy(fill, gstart, sizeof(uint64_t) * ((size_t)ngroups + 1));
      for (uint64_t p = 0; p < nr; p++) grows[fill[rg[p]]++] = rkeys[p];
    }
    tide_free(fill);
  }
  tide_free(rg);
  rg = NULL;
  /* ---- probe */
  const bool left_flat = tide_rowset_is_range(lrs) && (nl == 0 || tide_rowset_first(lrs) == 0);
  bool share = kind != J_JOIN && left_flat;
  /* inner join with distinct right keys: every group has exactly one row */
  const bool unique = kind == J_JOIN && (uint64_t)ngroups == nr;
  /* Group ids of every left row are kept only where a second pass needs
   * them (inner join with repeated right keys) or the as-of search reads
   * them; otherwise each thread probes into a morsel-sized buffer and
   * writes the right row keys at once. */
  const bool keep_ids = (kind == J_JOIN && !unique) || asof;
  if (keep_ids) {
    lids = tide_malloc(sizeof(uint32_t) * (nl ? nl : 1));
    if (!lids) goto oom;
  }
  uint64_t nm = (nl + TIDE_MORSEL_ROWS - 1) / TIDE_MORSEL_ROWS;
  mcount = tide_malloc(sizeof(uint64_t) * (nm ? nm : 1));
  if (!mcount) goto oom;
  if (kind != J_JOIN || unique) {
    /* unique inner join: the right row of every left row (null key when
     * unmatched), compacted afterwards unless every row matched */
    rmap = tide__redir_create(nl, err);
    if (rmap) tide__table_mem_advise(rmap->map, rmap->n * sizeof(uint64_t));
    if (!rmap) goto fail;
    if (!share && kind != J_JOIN) {
      lmap = tide__redir_create(nl, err);
      if (lmap) tide__table_mem_advise(lmap->map, lmap->n * sizeof(uint64_t));
      if (!lmap) goto fail;
    }
  }
  int nt = tide__threads_for(nl);
  int failed = 0;
  /* Dense integer keys with one right row per key (natural/exact join,
   * inner join with distinct right keys): compose the key set's direct
   * view with that row, so the probe is one array read per left row:
   * dmap[key - lo] = right row key (TIDE_NULL_KEY: none); dmap32 instead
   * when every right row key fits 32 bits (UINT32_MAX: none), half the
   * cache footprint. */
  {
    int64_t dlo;
    uint64_t dspan;
    const uint32_t *dslots = ks ? tide__keyset_dense_slots(ks, &dlo, &dspan) : NULL;
    const uint64_t *rowof = kind == J_JOIN ? grows : first;
    if (dslots && (kind == J_NATURAL || kind == J_EXACT || unique)) {
      int64_t nd = (int64_t)dspan + 2;
      int dt = tide__threads_for((uint64_t)nd);
      if (nr == 0 || tide_rowset_last(rrs) < UINT32_MAX) {
        dmap32 = tide__table_mem_alloc((size_t)nd * sizeof *dmap32);
        if (!dmap32) goto oom;
#pragma omp parallel for num_threads(dt) schedule(static)
        for (int64_t o = 0; o < nd; o++)
          dmap32[o] = dslots[o] == TIDE_KEYSET_ABSENT ? UINT32_MAX : (uint32_t)rowof[dslots[o]];
      } else {
        dmap = tide__table_mem_alloc((size_t)nd * sizeof *dmap);
        if (!dmap) goto oom;
#pragma omp parallel for num_threads(dt) schedule(static)
        for (int64_t o = 0; o < nd; o++)
          dmap[o] = dslots[o] == TIDE_KEYSET_ABSENT ? TIDE_NULL_KEY : rowof[dslots[o]];
      }
    }
  }
  const bool upper = (kind == J_AJ && !c.strict) || (kind == J_RAJ && c.strict);
  if (tide__morsels_init(&ms, nm, nt, NULL) != TIDE_OK) goto oom;
  /* NUMA-aware morsels (numa/morsel.c); morsel m writes positions
   * [m * M, (m + 1) * M) of lids/maps and mcount[m] only. */
#pragma omp parallel num_threads(nt)
  {
    tide__jscratch_t s;
    bool ok = tide__jscratch_init(&s, c.jk.nkeys, NULL) == TIDE_OK;
    uint32_t *mids = NULL; /* this thread's morsel of ids (!keep_ids) */
    if (ok && !keep_ids) {
      mids = tide_malloc(sizeof(uint32_t) * TIDE_MORSEL_ROWS);
      ok = mids != NULL;
    }
    if (!ok) {
#pragma omp atomic write
      failed = 1;
    }
    for (uint64_t m; ok && tide__morsels_next(&ms, omp_get_thread_num(), &m);) {
      uint64_t pos = m * TIDE_MORSEL_ROWS, cnt = TIDE_MIN((uint64_t)TIDE_MORSEL_ROWS, nl - pos);
      if (dmap || dmap32) {
        /* key -> right row in one read; count hits / find the first miss */
        if (lmap) fill_left_keys(lrs, pos, cnt, lmap->map, s.keybuf);
        uint64_t hits = 0, miss = J_UNSET;
        tide_rowset_iter_t it;
        tide_rowseq_t seq;
        tide_rowset_iter_init_pos(&it, lrs, pos, cnt);
        while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s.keybuf)) {
          const void *const *cols = tide__jkeys_chunk(&c.jk, true, &seq, &s);
          uint32_t *restrict off = s.ids;
          tide__keyset_dense_offsets(ks, cols[0], seq.n, off);
          uint64_t *restrict o = rmap->map + seq.pos;
          if (dmap32) {
            for (uint32_t i = 0; i < seq.n; i++) {
              uint32_t r = dmap32[off[i]];
              o[i] = r == UINT32_MAX ? TIDE_NULL_KEY : r;
              hits += r != UINT32_MAX;
            }
          } else {
            for (uint32_t i = 0; i < seq.n; i++) {
              uint64_t r = dmap[off[i]];
              o[i] = r;
              hits += r != TIDE_NULL_KEY;
            }
          }
          if (miss == J_UNSET && hits != seq.pos + seq.n - pos)
            for (uint32_t i = 0; i < seq.n && miss == J_UNSET; i++)
              if (o[i] == TIDE_NULL_KEY) miss = seq.pos + i;
        }
        mcount[m] = kind == J_JOIN ? hits : miss;
        continue;
      }
      uint32_t *ids = keep_ids ? lids + pos : mids;
      tide__jkeys_probe(&c.jk, ks, ngroups, left, pos, cnt, &s, ids);
      if (lmap) fill_left_keys(lrs, pos, cnt, lmap->map, s.keybuf);
      uint64_t *rm = rmap ? rmap->map + pos : NULL;
      switch (kind) {
      case J_NATURAL:
      case J_EXACT: {
        uint64_t miss = J_UNSET;
        for (uint64_t i = 0; i < cnt; i++) {
          uint32_t g = ids[i];
          rm[i] = g == TIDE_KEYSET_ABSENT ? TIDE_NULL_KEY : first[g];
          if (g == TIDE_KEYSET_ABSENT && miss == J_UNSET) miss = pos + i;
        }
        mcount[m] = miss;
        break;
      }
      case J_JOIN: {
        uint64_t total = 0;
        if (unique) {
          for (uint64_t i = 0; i < cnt; i++) {
            uint32_t g = ids[i];
            bool hit = g != TIDE_KEYSET_ABSENT;
            rm[i] = hit ? grows[g] : TIDE_NULL_KEY;
            total += hit;
          }
        } else {
          for (uint64_t i = 0; i < cnt; i++) {
            uint32_t g = ids[i];
            if (g != TIDE_KEYSET_ABSENT) total += gstart[g + 1] - gstart[g];
          }
        }
        mcount[m] = total;
        break;
      }
      case J_AJ:
      case J_RAJ: {
        tide_rowset_iter_t it;
        tide_rowseq_t seq;
        tide_rowset_iter_init_pos(&it, lrs, pos, cnt);
        while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s.keybuf)) {
          const int64_t *lt = time_get(&c.ltime, &seq, s.t_raw, s.t_out);
          const uint32_t *cid = lids + seq.pos;
          uint64_t *out = rmap->map + seq.pos;
          for (uint32_t i = 0; i < seq.n; i++) {
            uint32_t g = cid[i];
            int64_t t = lt[i];
            uint64_t r = TIDE_NULL_KEY;
            if (g != TIDE_KEYSET_ABSENT && t != INT64_MIN) {
              const jtk_t *b = gtk + gstart[g];
              uint64_t lo = 0, hi = gstart[g + 1] - gstart[g];
              /* first index with time > t (upper) or >= t (lower) */
              if (upper) {
                while (lo < hi) {
                  uint64_t mid = lo + (hi - lo) / 2;
                  if (b[mid].t <= t) lo = mid + 1; else hi = mid;
                }
              } else {
                while (lo < hi) {
                  uint64_t mid = lo + (hi - lo) / 2;
                  if (b[mid].t < t) lo = mid + 1; else hi = mid;
                }
              }
              if (kind == J_AJ) {
                if (lo > 0) r = b[lo - 1].k;
              } else if (lo < gstart[g + 1] - gstart[g]) {
                r = b[lo].k;
              }
            }
            out[i] = r;
          }
        }
        break;
      }
      }
    }
    tide_free(mids);
    tide__jscratch_free(&s);
  }
  tide__morsels_free(&ms);
  if (failed) goto oom;

  uint64_t nout = nl;
  if (kind == J_EXACT) {
    for (uint64_t m = 0; m < nm; m++) {
      if (mcount[m] == J_UNSET) continue;
      char key[256];
      tide__jformat_key(left, c.jk.lcol, c.nk, mcount[m], key, sizeof key);
      tide_error_set(err, TIDE_ERR_NOT_FOUND,
                     "%s: no right row matches left key %s at left row %llu", c.op, key,
                     (unsigned long long)mcount[m]);
      goto fail;
    }
  } else if (kind == J_JOIN) {
    nout = 0;
    for (uint64_t m = 0; m < nm; m++) {
      uint64_t x = mcount[m];
      mcount[m] = nout;
      nout += x;
    }
    if (unique && nout == nl) {
      /* every left row matched exactly once, in left order: rmap is the
       * answer's, and the left columns are shared (or redirected through
       * the left row keys) */
      if (!left_flat) {
        lmap = tide__redir_create(nl, err);
        if (lmap) tide__table_mem_advise(lmap->map, lmap->n * sizeof(uint64_t));
        if (!lmap) goto fail;
        if (tide__morsels_init(&ms, nm, nt, NULL) != TIDE_OK) goto oom;
#pragma omp parallel num_threads(nt)
        {
          uint64_t kb[TIDE_CHUNK_SIZE];
          for (uint64_t m; tide__morsels_next(&ms, omp_get_thread_num(), &m);) {
            uint64_t pos = m * TIDE_MORSEL_ROWS;
            fill_left_keys(lrs, pos, TIDE_MIN((uint64_t)TIDE_MORSEL_ROWS, nl - pos), lmap->map, kb);
          }
        }
        tide__morsels_free(&ms);
      }
      goto build_result;
    }
    tide_redir_t *full = rmap; /* unique: right row key per left position */
    rmap = NULL;
    lmap = tide__redir_create(nout, err);
    if (lmap) tide__table_mem_advise(lmap->map, lmap->n * sizeof(uint64_t));
    if (!lmap) {
      if (full) tide__redir_release(full);
      goto fail;
    }
    if (!lmap) goto fail;
    rmap = tide__redir_create(nout, err);
    if (rmap) tide__table_mem_advise(rmap->map, rmap->n * sizeof(uint64_t));
    if (!rmap || tide__morsels_init(&ms, nm, nt, NULL) != TIDE_OK) {
      if (full) tide__redir_release(full);
      if (!rmap) goto fail;
      goto oom;
    }
    uint64_t *lm = lmap->map, *rm = rmap->map;
    const uint64_t *fm = full ? full->map : NULL;
    /* morsel m writes its matches from output position mcount[m] on */
#pragma omp parallel num_threads(nt)
    for (uint64_t m; tide__morsels_next(&ms, omp_get_thread_num(), &m);) {
      uint64_t pos = m * TIDE_MORSEL_ROWS, cnt = TIDE_MIN((uint64_t)TIDE_MORSEL_ROWS, nl - pos);
      uint64_t o = mcount[m];
      uint64_t kb[TIDE_CHUNK_SIZE];
      tide_rowset_iter_t it;
      tide_rowseq_t seq;
      tide_rowset_iter_init_pos(&it, lrs, pos, cnt);
      while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, kb)) {
        if (unique) {
          /* the right row of each matched left row is in fm */
          const uint64_t *f = fm + seq.pos;
          for (uint32_t i = 0; i < seq.n; i++) {
            if (f[i] == TIDE_NULL_KEY) continue;
            lm[o] = seq.keys ? seq.keys[i] : seq.first + i;
            rm[o] = f[i];
            o++;
          }
          continue;
        }
        const uint32_t *cid = lids + seq.pos;
        for (uint32_t i = 0; i < seq.n; i++) {
          uint32_t g = cid[i];
          if (g == TIDE_KEYSET_ABSENT) continue;
          uint64_t k = seq.keys ? seq.keys[i] : seq.first + i;
          for (uint64_t j = gstart[g]; j < gstart[g + 1]; j++) {
            lm[o] = k;
            rm[o] = grows[j];
            o++;
          }
        }
      }
    }
    tide__morsels_free(&ms);
    if (full) tide__redir_release(full);
  }
build_result:
  result = assemble(&c, nout, lmap, rmap, err);
  lmap = rmap = NULL;
  goto done;

oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", c.op);
fail:
  result = NULL;
done:
  tide__morsels_free(&ms);
  if (lmap) tide__redir_release(lmap);
  if (rmap) tide__redir_release(rmap);
  if (ks) tide__keyset_free(ks);
  tide_free(rg);
  tide_free(rkeys);
  tide_free(first);
  tide_free(gstart);
  tide_free(grows);
  tide_free(gtk);
  tide_free(lids);
  tide__table_mem_free(dmap);
  tide__table_mem_free(dmap32);
  tide_free(mcount);
  jctx_free(&c);
  return result;
}

tide_table_t *tide_natural_join(tide_table_t *left, tide_table_t *right, const char *const *on,
                                size_t non, const char *const *joins, size_t njoins,
                                tide_error *err) {
  if ((left && left->node) || (right && right->node))
    return tide__natjoin_incr(false, left, right, on, non, joins, njoins, err);
  return join_impl(J_NATURAL, left, right, on, non, joins, njoins, err);
}

tide_table_t *tide_exact_join(tide_table_t *left, tide_table_t *right, const char *const *on,
                              size_t non, const char *const *joins, size_t njoins,
                              tide_error *err) {
  if ((left && left->node) || (right && right->node))
    return tide__natjoin_incr(true, left, right, on, non, joins, njoins, err);
  return join_impl(J_EXACT, left, right, on, non, joins, njoins, err);
}

tide_table_t *tide_join(tide_table_t *left, tide_table_t *right, const char *const *on,
                        size_t non, const char *const *joins, size_t njoins, tide_error *err) {
  if ((left && left->node) || (right && right->node))
    return tide__join_incr(left, right, on, non, joins, njoins, err);
  return join_impl(J_JOIN, left, right, on, non, joins, njoins, err);
}

tide_table_t *tide_aj(tide_table_t *left, tide_table_t *right, const char *const *on, size_t non,
                      const char *const *joins, size_t njoins, tide_error *err) {
  if ((left && left->node) || (right && right->node))
    return tide__asof_incr(false, left, right, on, non, joins, njoins, err);
  return join_impl(J_AJ, left, right, on, non, joins, njoins, err);
}

tide_table_t *tide_raj(tide_table_t *left, tide_table_t *right, const char *const *on,
                       size_t non, const char *const *joins, size_t njoins, tide_error *err) {
  if ((left && left->node) || (right && right->node))
    return tide__asof_incr(true, left, right, on, non, joins, njoins, err);
  return join_impl(J_RAJ, left, right, on, non, joins, njoins, err);
}
