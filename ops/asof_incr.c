/*
 * Incremental as-of joins (aj, raj) over refreshing inputs, and the helpers
 * the ticking joins share (ops/join_int.h): argument parsing, key matching
 * through one key set for both sides, sorted per-group runs updated in
 * batches.
 *
 * Semantics are the static build's (ops/join.c): per exact-match group the
 * right rows ordered by (time, right row key); aj takes the greatest time
 * <= (<) the left time, the last such row among equal times; raj the least
 * time >= (>) the left time, the first such row among equal times; null
 * (and NaN) times never match.
 *
 * The result shares the left table's key space, RowSet and columns; the
 * added right columns read the right table through a ticking redirection
 * `map` (left row key -> matched right row key, TIDE_NULL_KEY: none), a
 * paged int64 source with previous values (tide__source_tredir_create).
 *
 * State: one key set over both sides' keys (group ids agree; a group exists
 * from the first time its key is seen on either side). Per group two runs
 * sorted by (time, row key): the left rows and the right rows with a
 * non-null time. A cycle turns each side's update into removals (previous
 * values at previous keys: removed rows, re-keyed rows - those whose key or
 * time column was modified - and shifted rows) and insertions (current
 * values: added, re-keyed and shifted rows), sorts them by (group, time,
 * key) and merges them into the runs from the first changed position on
 * (appends touch only the tail). A shift moves no right row's match: a
 * shifted row is removed and inserted with its new key.
 *
 * Which left rows to re-match: the left rows added or re-keyed, and for
 * every right time c that changed in group g (old and new times of removed,
 * inserted and shifted right rows; times of right rows whose joined columns
 * were modified) the left rows of g whose time lies where the match can
 * depend on c: for aj "Lt >= Rt" the left times in [c, n) where n is the
 * next greater right time of the group after the update (none: to the
 * end); "Lt > Rt": (c, n]; raj "Lt <= Rt": (p, c] with p the previous
 * smaller right time; "Lt < Rt": [p, c). (Proof sketch for [c, n): a left
 * time t whose match changed has a changed right time <= t; take the
 * greatest, c; if a right row with time in (c, t] existed after the update
 * it would be unchanged, and with it every row in (c, t], so the match
 * would not have changed.) A re-matched row that keeps its right row (the
 * same row: not removed, and its old key moved by the right's shifts gives
 * the new one) is reported modified only if that right row's joined
 * columns were modified; its map entry is rewritten when the key moved.
 * Cost per cycle: O(changes log changes + left rows in the dirty ranges +
 * the tails of the runs after the first change).
 *
 * Result kinds: left static: standard; right static: the left's kind
 * (append-only, add-only and blink lefts stay so); both ticking: standard.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>

#include "ops/join_int.h"
#include "sched/graph_int.h"

/* ------------------------------------------------------------ parsing */

#define NCAP TIDE_JSPEC_NAME_CAP

void tide__jspec_free(tide__jspec_t *s) {
  if (!s) return;
  tide_free(s->names);
  tide_free(s->ln);
  tide_free(s->rn);
  tide_free(s->addnames);
  tide_free(s->addcols);
  memset(s, 0, sizeof *s);
}

static int time_class(tide_type_t t) {
  switch (t) {
    case TIDE_I8:
    case TIDE_I16:
    case TIDE_I32:
    case TIDE_I64: return 1;
    case TIDE_TS: return 2;
    case TIDE_F32:
    case TIDE_F64: return 3;
    default: return 0;
  }
}

tide_status tide__jspec_parse(tide__jspec_t *s, const char *op, bool asof, bool is_aj,
                              const tide_table_t *left, const tide_table_t *right,
                              const char *const *on, size_t non, const char *const *joins,
                              size_t njoins, tide_error *err) {
  memset(s, 0, sizeof *s);
  s->op = op;
  s->asof = asof;
  s->is_aj = is_aj;
  if ((non && !on) || (njoins && !joins))
    return tide_error_set(err, TIDE_ERR_INVALID, "%s: NULL column list", op);
  size_t m = non ? non : 1;
  s->names = tide_malloc(2 * m * NCAP);
  s->ln = tide_calloc(m, sizeof(char *));
  s->rn = tide_calloc(m, sizeof(char *));
  if (!s->names || !s->ln || !s->rn) return tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
  if (asof && non == 0)
    return tide_error_set(err, TIDE_ERR_INVALID,
                          "%s: 'on' needs at least the time match (e.g. \"Time\")", op);
  s->nk = asof ? non - 1 : non;
  for (size_t i = 0; i < non; i++) {
    char *l = s->names + (2 * i) * NCAP, *r = s->names + (2 * i + 1) * NCAP;
    s->ln[i] = l;
    s->rn[i] = r;
    if (!on[i]) return tide_error_set(err, TIDE_ERR_INVALID, "%s: NULL 'on' entry", op);
    if (asof && i == non - 1) {
      char dir;
      bool strict;
      if (!tide__join_parse_asof(on[i], l, r, &dir, &strict))
        return tide_error_set(err, TIDE_ERR_PARSE, "%s: malformed time match '%s'", op, on[i]);
      char want = is_aj ? '>' : '<';
      if (dir && dir != want)
        return tide_error_set(err, TIDE_ERR_INVALID,
                              "%s: the time match must be 'Left %c= Right' or 'Left %c Right' "
                              "(got '%s')",
                              op, want, want, on[i]);
      s->strict = strict;
    } else {
      if (strchr(on[i], '<') || strchr(on[i], '>'))
        return tide_error_set(err, TIDE_ERR_INVALID,
                              "%s: only the last match of an as-of join may be an inequality "
                              "(got '%s')",
                              op, on[i]);
      if (!tide__split_pair(on[i], l, r, NCAP))
        return tide_error_set(err, TIDE_ERR_PARSE, "%s: malformed match '%s'", op, on[i]);
    }
  }
  char cols[TIDE_ERROR_MSG_MAX / 2];
  if (asof) {
    const char *l = s->ln[s->nk], *r = s->rn[s->nk];
    int lc = tide_table_col_index(left, l), rc = tide_table_col_index(right, r);
    if (lc < 0) {
      tide__jformat_cols(left, cols, sizeof cols);
      return tide_error_set(err, TIDE_ERR_NOT_FOUND,
                            "%s: no column '%s' in left table (columns: %s)", op, l, cols);
    }
    if (rc < 0) {
      tide__jformat_cols(right, cols, sizeof cols);
      return tide_error_set(err, TIDE_ERR_NOT_FOUND,
                            "%s: no column '%s' in right table (columns: %s)", op, r, cols);
    }
    tide_type_t lt = tide_table_col_type(left, (size_t)lc), rt = tide_table_col_type(right, (size_t)rc);
    int a = time_class(lt), b = time_class(rt);
    if (!a || !b)
      return tide_error_set(err, TIDE_ERR_TYPE,
                            "%s: time column '%s' has type %s (need a numeric or timestamp column)",
                            op, a ? r : l, tide_type_name(a ? rt : lt));
    if (a != b)
      return tide_error_set(err, TIDE_ERR_TYPE,
                            "%s: cannot compare left time column '%s' (%s) with right column '%s' (%s)",
                            op, l, tide_type_name(lt), r, tide_type_name(rt));
  }
  size_t nr = tide_table_ncols(right);
  size_t cap = njoins ? njoins : nr;
  s->addnames = tide_malloc((cap ? cap : 1) * NCAP);
  s->addcols = tide_calloc(cap ? cap : 1, sizeof(int));
  if (!s->addnames || !s->addcols) return tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
  if (njoins) {
    for (size_t i = 0; i < njoins; i++) {
      char *o = s->addnames + i * NCAP;
      char in[NCAP];
      if (!joins[i] || !tide__split_pair(joins[i], o, in, NCAP))
        return tide_error_set(err, TIDE_ERR_PARSE, "%s: malformed join column '%s'", op,
                              joins[i] ? joins[i] : "(null)");
      int rc = tide_table_col_index(right, in);
      if (rc < 0) {
        tide__jformat_cols(right, cols, sizeof cols);
        return tide_error_set(err, TIDE_ERR_NOT_FOUND,
                              "%s: no column '%s' in right table (columns: %s)", op, in, cols);
      }
      s->addcols[s->nadd++] = rc;
    }
  } else {
    for (size_t j = 0; j < nr; j++) {
      const char *name = tide_table_col_name(right, j);
      bool skip = false;
      for (size_t k = 0; k < s->nk && !skip; k++) skip = strcmp(name, s->rn[k]) == 0;
      if (asof && !skip && strcmp(name, s->rn[s->nk]) == 0)
        skip = tide_table_col_index(left, name) >= 0;
      if (skip) continue;
      snprintf(s->addnames + s->nadd * NCAP, NCAP, "%s", name);
      s->addcols[s->nadd++] = (int)j;
    }
  }
  for (size_t i = 0; i < s->nadd; i++) {
    const char *o = s->addnames + i * NCAP;
    const char *rname = tide_table_col_name(right, (size_t)s->addcols[i]);
    if (tide_table_col_index(left, o) >= 0)
      return tide_error_set(err, TIDE_ERR_DUPLICATE,
                            "%s: right column '%s' would be added as '%s', which collides with a "
                            "left column; rename it (e.g. \"Right%s=%s\")",
                            op, rname, o, rname, rname);
    for (size_t j = 0; j < i; j++)
      if (strcmp(o, s->addnames + j * NCAP) == 0)
        return tide_error_set(err, TIDE_ERR_DUPLICATE, "%s: output column '%s' added twice", op,
                              o);
  }
  return TIDE_OK;
}

/* ------------------------------------------------------- key matching */

enum { IK_NONE = 0, IK_WIDEN_INT, IK_WIDEN_F32, IK_SYM_STR };

void tide__ikeys_free(tide__ikeys_t *ik) {
  if (!ik) return;
  tide__jkeys_free(&ik->jk);
  tide_free(ik->htype);
  tide_free(ik->conv[0]);
  tide_free(ik->conv[1]);
  if (ik->ks) tide__keyset_free(ik->ks);
  memset(ik, 0, sizeof *ik);
}

tide_status tide__ikeys_init(tide__ikeys_t *ik, const char *op, const tide_table_t *left,
                             const tide_table_t *right, const char *const *lnames,
                             const char *const *rnames, size_t n, tide_error *err) {
  memset(ik, 0, sizeof *ik);
  TIDE_TRY(tide__jkeys_init(&ik->jk, op, left, right, lnames, rnames, n, err));
  ik->nkeys = n;
  size_t m = n ? n : 1;
  ik->htype = tide_calloc(m, sizeof *ik->htype);
  ik->conv[0] = tide_calloc(m, 1);
  ik->conv[1] = tide_calloc(m, 1);
  if (!ik->htype || !ik->conv[0] || !ik->conv[1])
    return tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
  for (size_t k = 0; k < n; k++) {
    const tide__jcol_t *c[2] = {&ik->jk.left[k], &ik->jk.right[k]};
    bool str = c[0]->conv == TIDE_JCONV_SYM_MAP || c[0]->conv == TIDE_JCONV_SYM_STR ||
               c[1]->conv == TIDE_JCONV_SYM_STR;
    ik->htype[k] = str ? TIDE_STRING : ik->jk.types[k];
    for (int s = 0; s < 2; s++) {
      uint8_t v = IK_NONE;
      if (str)
        v = c[s]->src_type == TIDE_SYMBOL ? IK_SYM_STR : IK_NONE;
      else if (c[s]->conv == TIDE_JCONV_WIDEN_INT)
        v = IK_WIDEN_INT;
      else if (c[s]->conv == TIDE_JCONV_WIDEN_F32)
        v = IK_WIDEN_F32;
      ik->conv[s][k] = v;
    }
  }
  if (n) {
    ik->ks = tide__keyset_create(n, ik->htype, 1024, err);
    if (!ik->ks) return tide_error_prefix(err, "%s", op);
  }
  return TIDE_OK;
}

/* Values of one key column converted to its hash type. */
static const void *ikey_col(const tide__jcol_t *c, uint8_t conv, const tide_rowseq_t *seq,
                            bool prev, void *raw, void *out) {
  const void *v;
  if (prev) {
    tide_source_fill_prev(c->src, seq, raw);
    v = raw;
  } else {
    v = tide__source_get(c->src, seq, raw);
  }
  uint32_t n = seq->n;
  switch (conv) {
    case IK_WIDEN_INT: {
      int64_t *o = out;
      switch (c->src_type) {
#define IK_WIDEN(E, name, ctype)                                               \
  case TIDE_##E: {                                                             \
    const ctype *s = v;                                                        \
    for (uint32_t i = 0; i < n; i++)                                           \
      o[i] = s[i] == TIDE_NULL_##E ? TIDE_NULL_I64 : (int64_t)s[i];            \
    break;                                                                     \
  }
        TIDE_INT_TYPES(IK_WIDEN)
#undef IK_WIDEN
        default: break;
      }
      return out;
    }
    case IK_WIDEN_F32: {
      const float *s = v;
      double *o = out;
      for (uint32_t i = 0; i < n; i++) o[i] = s[i] == TIDE_NULL_F32 ? TIDE_NULL_F64 : (double)s[i];
      return out;
    }
    case IK_SYM_STR: {
      const int32_t *s = v;
      const char **o = out;
      const tide_symtab_t *st = tide_source_symtab(c->src);
      uint32_t nm = st ? tide_symtab_size(st) : 0;
      const char *const *strs = st ? tide__symtab_strs(st) : NULL;
      for (uint32_t i = 0; i < n; i++) o[i] = (uint32_t)s[i] < nm ? strs[s[i]] : NULL;
      return out;
    }
    default: return v;
  }
}

tide_status tide__ikeys_ids(tide__ikeys_t *ik, int side, const tide_rowseq_t *seq, bool prev,
                            tide__jscratch_t *s, uint32_t *ids) {
  if (ik->nkeys == 0) {
    memset(ids, 0, seq->n * sizeof *ids);
    return TIDE_OK;
  }
  const tide__jcol_t *cs = side ? ik->jk.right : ik->jk.left;
  for (size_t k = 0; k < ik->nkeys; k++)
    s->cols[k] = ikey_col(&cs[k], ik->conv[side][k], seq, prev, s->raw[k], s->out[k]);
  return tide__keyset_insert(ik->ks, s->cols, seq->n, ids);
}

/* ------------------------------------------------------- sorted runs */

tide_status tide__gtk_push(tide__gtkvec_t *v, uint32_t g, int64_t t, uint64_t k) {
  if (v->n == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 256;
    tide__gtk_t *a = tide_realloc(v->a, cap * sizeof *a);
    if (!a) return TIDE_ERR_NOMEM;
    v->a = a;
    v->cap = cap;
  }
  tide__gtk_t *e = &v->a[v->n++];
  e->g = g;
  e->t = t;
  e->k = k;
  return TIDE_OK;
}

static inline bool gtk_less(const tide__gtk_t *a, const tide__gtk_t *b) {
  if (a->g != b->g) return a->g < b->g;
  if (a->t != b->t) return a->t < b->t;
  return a->k < b->k;
}

/* Stable sort of a[0..n) by (g, t, k) with tmp (n entries); returns
 * the buffer holding the result (a or tmp). */
static tide__gtk_t *gtk_msort(tide__gtk_t *a, tide__gtk_t *tmp, size_t n) {
  bool sorted = true;
  for (size_t i = 1; i < n && sorted; i++) sorted = !gtk_less(&a[i], &a[i - 1]);
  if (sorted) return a;
  tide__gtk_t *src = a, *dst = tmp;
  /* runs of 16 by insertion sort, then bottom-up merges */
  const size_t R = 16;
  for (size_t lo = 0; lo < n; lo += R) {
    size_t hi = TIDE_MIN(lo + R, n);
    for (size_t i = lo + 1; i < hi; i++) {
      tide__gtk_t x = src[i];
      size_t j = i;
      while (j > lo && gtk_less(&x, &src[j - 1])) {
        src[j] = src[j - 1];
        j--;
      }
      src[j] = x;
    }
  }
  for (size_t w = R; w < n; w *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * w) {
      size_t mid = TIDE_MIN(lo + w, n), hi = TIDE_MIN(lo + 2 * w, n);
      size_t i = lo, j = mid, o = lo;
      if (mid >= hi || !gtk_less(&src[mid], &src[mid - 1])) {
        memcpy(dst + lo, src + lo, (hi - lo) * sizeof *dst);
        continue;
      }
      while (i < mid && j < hi) dst[o++] = gtk_less(&src[j], &src[i]) ? src[j++] : src[i++];
      while (i < mid) dst[o++] = src[i++];
      while (j < hi) dst[o++] = src[j++];
    }
    tide__gtk_t *x = src;
    src = dst;
    dst = x;
  }
  return src;
}

tide_status tide__gtk_sort(tide__gtkvec_t *v, tide__gtkvec_t *tmp) {
  size_t n = v->n;
  bool sorted = true;
  uint32_t gmax = 0;
  for (size_t i = 0; i < n; i++) {
    if (v->a[i].g > gmax) gmax = v->a[i].g;
    if (i && sorted) sorted = !gtk_less(&v->a[i], &v->a[i - 1]);
  }
  if (sorted) return TIDE_OK;
  if (tmp->cap < n) {
    tide__gtk_t *a = tide_realloc(tmp->a, n * sizeof *a);
    if (!a) return TIDE_ERR_NOMEM;
    tmp->a = a;
    tmp->cap = n;
  }
  tide__gtk_t *res;
  size_t *cnt = (size_t)gmax <= 4 * n + 4096 ? tide_calloc((size_t)gmax + 2, sizeof *cnt) : NULL;
  if (cnt) {
    /* stable counting sort by group, then each group by (t, k) (usually
     * already in order: rows arrive in key order with growing times) */
    for (size_t i = 0; i < n; i++) cnt[v->a[i].g + 1]++;
    for (size_t g = 0; g <= gmax; g++) cnt[g + 1] += cnt[g];
    for (size_t i = 0; i < n; i++) tmp->a[cnt[v->a[i].g]++] = v->a[i];
    /* cnt[g] is now the end of group g */
    size_t lo = 0;
    for (size_t g = 0; g <= gmax; g++) {
      size_t hi = cnt[g];
      if (hi - lo > 1) {
        tide__gtk_t *r = gtk_msort(tmp->a + lo, v->a + lo, hi - lo);
        if (r != tmp->a + lo) memcpy(tmp->a + lo, r, (hi - lo) * sizeof *r);
      }
      lo = hi;
    }
    tide_free(cnt);
    res = tmp->a;
  } else {
    res = gtk_msort(v->a, tmp->a, n);
  }
  if (res != v->a) {
    /* swap buffers instead of copying back */
    tide__gtk_t *a = v->a;
    size_t c = v->cap;
    v->a = tmp->a;
    v->cap = tmp->cap;
    tmp->a = a;
    tmp->cap = c;
  }
  return TIDE_OK;
}

static inline bool tk_less(int64_t at, uint64_t ak, int64_t bt, uint64_t bk) {
  return at < bt || (at == bt && ak < bk);
}

/* First index of v with (t, k) >= (t0, k0). */
static uint64_t tk_lower(const tide__tkvec_t *v, int64_t t0, uint64_t k0) {
  uint64_t lo = 0, hi = v->n;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (tk_less(v->a[mid].t, v->a[mid].k, t0, k0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static tide_status tk_reserve(tide__tkvec_t *v, uint64_t n) {
  if (n <= v->cap) return TIDE_OK;
  uint64_t cap = v->cap ? v->cap : 4;
  while (cap < n) cap *= 2;
  tide__tk_t *a = tide_realloc(v->a, cap * sizeof *a);
  if (!a) return TIDE_ERR_NOMEM;
  v->a = a;
  v->cap = cap;
  return TIDE_OK;
}

tide_status tide__tk_apply(tide__tkvec_t *v, const tide__gtk_t *rem, size_t nr,
                           const tide__gtk_t *ins, size_t ni, tide__tkvec_t *tmp) {
  if (!nr && !ni) return TIDE_OK;
  uint64_t p0 = v->n;
  if (nr) p0 = tk_lower(v, rem[0].t, rem[0].k);
  if (ni) {
    uint64_t q = v->n == 0 || !tk_less(ins[0].t, ins[0].k, v->a[v->n - 1].t, v->a[v->n - 1].k)
                     ? v->n
                     : tk_lower(v, ins[0].t, ins[0].k);
    if (q < p0) p0 = q;
  }
  if (p0 == v->n && !nr) {
    /* pure append at the tail */
    TIDE_TRY(tk_reserve(v, v->n + ni));
    for (size_t j = 0; j < ni; j++) {
      v->a[v->n + j].t = ins[j].t;
      v->a[v->n + j].k = ins[j].k;
    }
    v->n += ni;
    return TIDE_OK;
  }
  uint64_t tn = v->n - p0;
  TIDE_TRY(tk_reserve(tmp, tn));
  if (tn) memcpy(tmp->a, v->a + p0, tn * sizeof *tmp->a);
  if (v->n + ni > nr) TIDE_TRY(tk_reserve(v, v->n - nr + ni));
  uint64_t i = 0, o = p0;
  size_t r = 0, j = 0;
  const tide__tk_t *tail = tmp->a;
  while (i < tn) {
    const tide__tk_t *e = &tail[i];
    if (r < nr) {
      if (rem[r].t == e->t && rem[r].k == e->k) {
        i++;
        r++;
        continue;
      }
      if (tk_less(rem[r].t, rem[r].k, e->t, e->k)) return TIDE_ERR_STATE;
    }
    while (j < ni && tk_less(ins[j].t, ins[j].k, e->t, e->k)) {
      v->a[o].t = ins[j].t;
      v->a[o++].k = ins[j++].k;
    }
    v->a[o++] = *e;
    i++;
  }
  if (r < nr) return TIDE_ERR_STATE;
  while (j < ni) {
    v->a[o].t = ins[j].t;
    v->a[o++].k = ins[j++].k;
  }
  v->n = o;
  return TIDE_OK;
}

tide_status tide__gtk_apply_runs(tide__gtkvec_t *rem, tide__gtkvec_t *ins, tide__gtkvec_t *tmp,
                                 tide__tkvec_t *tktmp, tide__tkvec_t *runs, size_t stride) {
  TIDE_TRY(tide__gtk_sort(rem, tmp));
  TIDE_TRY(tide__gtk_sort(ins, tmp));
  size_t i = 0, j = 0;
  while (i < rem->n || j < ins->n) {
    uint32_t g = i < rem->n ? rem->a[i].g : UINT32_MAX;
    if (j < ins->n && ins->a[j].g < g) g = ins->a[j].g;
    size_t i2 = i, j2 = j;
    while (i2 < rem->n && rem->a[i2].g == g) i2++;
    while (j2 < ins->n && ins->a[j2].g == g) j2++;
    tide__tkvec_t *run = (tide__tkvec_t *)((char *)runs + (size_t)g * stride);
    TIDE_TRY(tide__tk_apply(run, rem->a + i, i2 - i, ins->a + j, j2 - j, tktmp));
    i = i2;
    j = j2;
  }
  return TIDE_OK;
}

tide_rowset_t *tide__unshift_keys(const tide_rowset_t *cur, const tide_rowset_t *kept,
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

bool tide__update_hits(const tide_update_t *u, const uint64_t *bits, size_t ncols) {
  if (!u || !u->modified || tide_rowset_is_empty(u->modified) || !u->modified_cols) return false;
  size_t nw = (TIDE_MIN(ncols, u->ncols) + 63) / 64;
  for (size_t i = 0; i < nw; i++)
    if (bits[i] & u->modified_cols[i]) return true;
  return false;
}

/* ------------------------------------------------------- as-of state */

/* Time values (ordered int64, INT64_MIN: null) at seq. */
static const int64_t *time_read(const tide_source_t *src, const tide_rowseq_t *seq, bool prev,
                                void *raw, int64_t *out) {
  const void *v = raw;
  if (prev)
    tide_source_fill_prev(src, seq, raw);
  else
    v = tide__source_get(src, seq, raw);
  return tide__join_times(src->type, v, seq->n, out);
}

typedef struct agroup {
  tide__tkvec_t side[2]; /* 0: left rows, 1: right rows */
} agroup;

/* match modes */
enum { M_AJ = 0, M_AJ_STRICT, M_RAJ, M_RAJ_STRICT };

typedef struct asof_state {
  const char *op;
  int mode;
  tide_table_t *tab[2];        /* left, right (one reference each) */
  int par[2];                  /* parent index of each side, -1 if static */
  tide__jspec_t spec;
  tide__ikeys_t ik;
  const tide_source_t *tsrc[2]; /* time columns */
  uint64_t *ktbits[2];         /* key and time columns of each side */
  uint64_t *joinbits;          /* right columns added to the result */
  size_t nl;                   /* left columns */
  agroup *groups;
  size_t gcap;
  tide_source_t *map;
  tide__jscratch_t sc;
  uint32_t *ids;
  tide__gtkvec_t rem[2], ins[2], fresh, cv, dirty, tmp;
  tide__tkvec_t tktmp;
  tide__mapbatch_t mb;         /* map writes */
  uint64_t *chkeys;            /* re-matched rows whose value changed */
  size_t nch, chcap;
} asof_state;

static void asof_state_free(asof_state *s) {
  if (!s) return;
  for (int i = 0; i < 2; i++) {
    tide_table_free(s->tab[i]);
    tide_free(s->ktbits[i]);
    tide_free(s->rem[i].a);
    tide_free(s->ins[i].a);
  }
  tide_free(s->joinbits);
  for (size_t g = 0; g < s->gcap; g++) {
    tide_free(s->groups[g].side[0].a);
    tide_free(s->groups[g].side[1].a);
  }
  tide_free(s->groups);
  tide_source_release(s->map);
  tide__jscratch_free(&s->sc);
  tide_free(s->ids);
  tide_free(s->cv.a);
  tide_free(s->fresh.a);
  tide_free(s->dirty.a);
  tide_free(s->tmp.a);
  tide_free(s->tktmp.a);
  tide__mapbatch_free(&s->mb);
  tide_free(s->chkeys);
  tide__ikeys_free(&s->ik);
  tide__jspec_free(&s->spec);
  tide_free(s);
}

static tide_status grow_groups(asof_state *s) {
  size_t need = tide__ikeys_ngroups(&s->ik);
  if (need <= s->gcap) return TIDE_OK;
  size_t cap = s->gcap ? s->gcap : 64;
  while (cap < need) cap *= 2;
  agroup *g = tide_realloc(s->groups, cap * sizeof *g);
  if (!g) return TIDE_ERR_NOMEM;
  memset(g + s->gcap, 0, (cap - s->gcap) * sizeof *g);
  s->groups = g;
  s->gcap = cap;
  return TIDE_OK;
}

/* Append (group, time, key) of the rows of rs (one side; previous or
 * current values) with a non-null time to v. With shifts, also append the
 * same entries at their shifted keys to v2 (rs: kept keys inside shifts).
 * With all_keys (left rows to match), rows with a null time are kept too
 * (time INT64_MIN). */
static tide_status collect(asof_state *s, int side, const tide_rowset_t *rs, bool prev,
                           tide__gtkvec_t *v, const tide_shift_t *shifts, size_t nshifts,
                           tide__gtkvec_t *v2, bool all_keys) {
  if (!rs || tide_rowset_is_empty(rs)) return TIDE_OK;
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init(&it, rs);
  size_t sh = 0;
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->sc.keybuf)) {
    TIDE_TRY(tide__ikeys_ids(&s->ik, side, &seq, prev, &s->sc, s->ids));
    const int64_t *t = time_read(s->tsrc[side], &seq, prev, s->sc.t_raw, s->sc.t_out);
    for (uint32_t i = 0; i < seq.n; i++) {
      if (t[i] == INT64_MIN && !all_keys) continue;
      uint64_t k = seq.keys ? seq.keys[i] : seq.first + i;
      TIDE_TRY(tide__gtk_push(v, s->ids[i], t[i], k));
      if (v2) {
        while (sh < nshifts && shifts[sh].last < k) sh++;
        uint64_t nk = sh < nshifts && shifts[sh].first <= k ? k + (uint64_t)shifts[sh].delta : k;
        TIDE_TRY(tide__gtk_push(v2, s->ids[i], t[i], nk));
      }
    }
  }
  return grow_groups(s);
}

/* Turn one side's update into removals and insertions of its runs:
 * removed, re-keyed (key or time modified) and shifted rows leave at their
 * previous keys, shifted rows come back at their new keys (s->ins[side]),
 * added and re-keyed rows go to `fresh` (left: with null times too).
 * *rekeyed gets the current keys of the re-keyed rows. */
static tide_status side_changes(asof_state *s, int side, const tide_update_t *u,
                                tide_rowset_t **rekeyed, tide__gtkvec_t *fresh) {
  const tide_table_t *t = s->tab[side];
  const tide_rowset_t *prev = tide_table_prev_rowset(t);
  tide__gtkvec_t *rem = &s->rem[side], *ins = &s->ins[side];
  tide_status st = TIDE_OK;
  tide_rowset_t *kept = NULL, *mold = NULL, *sh = NULL;
  bool has_rm = u->removed && !tide_rowset_is_empty(u->removed);
  TIDE_TRY(collect(s, side, u->removed, true, rem, NULL, 0, NULL, false));
  bool rk = tide__update_hits(u, s->ktbits[side], tide_table_ncols(t));
  if (u->nshifts || rk) {
    kept = has_rm ? tide_rowset_minus(prev, u->removed) : tide_rowset_retain((tide_rowset_t *)prev);
    if (!kept) return TIDE_ERR_NOMEM;
  }
  if (rk) {
    mold = u->nshifts ? tide__unshift_keys(u->modified, kept, u->shifts, u->nshifts)
                      : tide_rowset_retain(u->modified);
    if (!mold) goto oom;
    if ((st = collect(s, side, mold, true, rem, NULL, 0, NULL, false)) != TIDE_OK) goto done;
    if ((st = collect(s, side, u->modified, false, fresh, NULL, 0, NULL, side == 0)) != TIDE_OK)
      goto done;
    *rekeyed = tide_rowset_retain(u->modified);
  }
  if (u->nshifts) {
    sh = tide_rowset_create();
    if (!sh) goto oom;
    for (size_t i = 0; i < u->nshifts; i++)
      if (tide_rowset_insert_range(sh, u->shifts[i].first, u->shifts[i].last) != TIDE_OK) goto oom;
    if (tide_rowset_intersect_inplace(sh, kept) != TIDE_OK) goto oom;
    if (mold && tide_rowset_minus_inplace(sh, mold) != TIDE_OK) goto oom;
    if ((st = collect(s, side, sh, true, rem, u->shifts, u->nshifts, ins, false)) != TIDE_OK)
      goto done;
  }
  st = collect(s, side, u->added, false, fresh, NULL, 0, NULL, side == 0);
  goto done;
oom:
  st = TIDE_ERR_NOMEM;
done:
  tide_rowset_free(kept);
  tide_rowset_free(mold);
  tide_rowset_free(sh);
  return st;
}

/* Sort and apply removals and insertions to one side's runs. */
static tide_status runs_apply(asof_state *s, int side, tide__gtkvec_t *rem, tide__gtkvec_t *ins,
                              tide_error *err) {
  tide__tkvec_t *runs = s->groups ? &s->groups[0].side[side] : NULL;
  tide_status st = tide__gtk_apply_runs(rem, ins, &s->tmp, &s->tktmp, runs, sizeof *s->groups);
  if (st == TIDE_ERR_NOMEM) return tide_error_set(err, st, "%s: out of memory", s->op);
  if (st != TIDE_OK)
    return tide_error_set(err, TIDE_ERR_STATE,
                          "%s: internal error: a %s row to remove is not in its group", s->op,
                          side ? "right" : "left");
  return TIDE_OK;
}

static tide_status side_apply(asof_state *s, int side, tide_error *err) {
  return runs_apply(s, side, &s->rem[side], &s->ins[side], err);
}

/* The matched right key of a left time in group run r. */
static inline uint64_t match_one(const tide__tkvec_t *r, int64_t t, int mode) {
  if (t == INT64_MIN) return TIDE_NULL_KEY;
  const tide__tk_t *b = r->a;
  uint64_t lo = 0, hi = r->n;
  bool upper = mode == M_AJ || mode == M_RAJ_STRICT;
  if (upper) {
    while (lo < hi) {
      uint64_t mid = lo + (hi - lo) / 2;
      if (b[mid].t <= t) lo = mid + 1;
      else hi = mid;
    }
  } else {
    while (lo < hi) {
      uint64_t mid = lo + (hi - lo) / 2;
      if (b[mid].t < t) lo = mid + 1;
      else hi = mid;
    }
  }
  if (mode == M_AJ || mode == M_AJ_STRICT) return lo > 0 ? b[lo - 1].k : TIDE_NULL_KEY;
  return lo < r->n ? b[lo].k : TIDE_NULL_KEY;
}

/* First index of run v with time >= t (lower) or > t (!lower). */
static inline uint64_t t_bound(const tide__tkvec_t *v, int64_t t, bool lower) {
  uint64_t lo = 0, hi = v->n;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (lower ? v->a[mid].t < t : v->a[mid].t <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* The left rows whose match may depend on the right times in s->cv
 * (sorted by group, time) go to s->dirty. */
static tide_status find_dirty(asof_state *s) {
  const tide__gtkvec_t *cv = &s->cv;
  size_t i = 0;
  while (i < cv->n) {
    uint32_t g = cv->a[i].g;
    const tide__tkvec_t *L = &s->groups[g].side[0], *R = &s->groups[g].side[1];
    uint64_t done = 0; /* left positions below this were emitted */
    for (; i < cv->n && cv->a[i].g == g; i++) {
      if (L->n == 0) continue;
      int64_t c = cv->a[i].t;
      uint64_t lo, hi;
      switch (s->mode) {
        case M_AJ: { /* [c, next greater) */
          uint64_t p = t_bound(R, c, false);
          lo = t_bound(L, c, true);
          hi = p < R->n ? t_bound(L, R->a[p].t, true) : L->n;
          break;
        }
        case M_AJ_STRICT: { /* (c, next greater] */
          uint64_t p = t_bound(R, c, false);
          lo = t_bound(L, c, false);
          hi = p < R->n ? t_bound(L, R->a[p].t, false) : L->n;
          break;
        }
        case M_RAJ: { /* (previous smaller, c] */
          uint64_t p = t_bound(R, c, true);
          lo = p > 0 ? t_bound(L, R->a[p - 1].t, false) : 0;
          hi = t_bound(L, c, false);
          break;
        }
        default: { /* [previous smaller, c) */
          uint64_t p = t_bound(R, c, true);
          lo = p > 0 ? t_bound(L, R->a[p - 1].t, true) : 0;
          hi = t_bound(L, c, true);
          break;
        }
      }
      if (lo < done) lo = done;
      for (uint64_t q = lo; q < hi; q++)
        TIDE_TRY(tide__gtk_push(&s->dirty, g, L->a[q].t, L->a[q].k));
      if (hi > done) done = hi;
    }
  }
  return TIDE_OK;
}

/* A right row that no longer exists (never equal to a match). */
#define GONE (TIDE_NULL_KEY - 1)

/* The right key `old` (previous key space) moved through the right's
 * update: the same row's current key, or GONE if removed. */
static uint64_t right_forward(const tide_update_t *ru, uint64_t old) {
  if (!ru || old >= TIDE_TREDIR_NONE) return old;
  if (ru->removed && tide_rowset_contains(ru->removed, old)) return GONE;
  size_t lo = 0, hi = ru->nshifts;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (ru->shifts[mid].last < old) lo = mid + 1;
    else hi = mid;
  }
  if (lo < ru->nshifts && ru->shifts[lo].first <= old) return old + (uint64_t)ru->shifts[lo].delta;
  return old;
}

/* Re-match the dirty (kept or added) left rows: write changed map entries
 * and collect the rows whose values changed. */
static tide_status rematch_dirty(asof_state *s, const tide_update_t *ru, bool rjoinmod) {
  const tide__gtkvec_t *d = &s->dirty;
  uint64_t old[TIDE_CHUNK_SIZE];
  for (size_t i = 0; i < d->n; i += TIDE_CHUNK_SIZE) {
    uint32_t n = (uint32_t)TIDE_MIN((size_t)TIDE_CHUNK_SIZE, d->n - i);
    for (uint32_t j = 0; j < n; j++) s->sc.keybuf[j] = d->a[i + j].k;
    tide_rowseq_t seq = {0, s->sc.keybuf, 0, n};
    tide_source_fill(s->map, &seq, old);
    for (uint32_t j = 0; j < n; j++) {
      const tide__gtk_t *e = &d->a[i + j];
      uint64_t r = match_one(&s->groups[e->g].side[1], e->t, s->mode);
      uint64_t o = old[j] >= TIDE_TREDIR_NONE ? TIDE_NULL_KEY : old[j];
      if (r != o) TIDE_TRY(tide__mapbatch_add(&s->mb, e->k, r));
      bool same = right_forward(ru, o) == r;
      if (!same || (rjoinmod && r != TIDE_NULL_KEY && tide_rowset_contains(ru->modified, r)))
        TIDE_TRY(tide__u64_push(&s->chkeys, &s->nch, &s->chcap, e->k));
    }
  }
  return TIDE_OK;
}

/* Match the fresh left rows (added or re-keyed: s->fresh, sorted here),
 * then insert those with a time into the left runs. */
static tide_status match_fresh(asof_state *s, tide_error *err) {
  tide__gtkvec_t *f = &s->fresh;
  if (tide__gtk_sort(f, &s->tmp) != TIDE_OK)
    return tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", s->op);
  size_t o = 0;
  for (size_t i = 0; i < f->n; i++) {
    const tide__gtk_t e = f->a[i];
    uint64_t r = match_one(&s->groups[e.g].side[1], e.t, s->mode);
    if (tide__mapbatch_add(&s->mb, e.k, r) != TIDE_OK)
      return tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", s->op);
    if (e.t != INT64_MIN) f->a[o++] = e;
  }
  f->n = o;
  s->rem[0].n = 0;
  return runs_apply(s, 0, &s->rem[0], f, err);
}

static void reset_cycle(asof_state *s) {
  for (int i = 0; i < 2; i++) s->rem[i].n = s->ins[i].n = 0;
  s->cv.n = s->dirty.n = s->fresh.n = 0;
  s->mb.n = s->nch = 0;
}

static tide_status asof_notify(tide_gnode_t *n, tide_error *err) {
  asof_state *s = n->state;
  const char *op = s->op;
  tide_table_t *res = n->table;
  const tide_update_t *lu = s->par[0] >= 0 ? tide__gnode_parent_update(n, (size_t)s->par[0]) : NULL;
  const tide_update_t *ru = s->par[1] >= 0 ? tide__gnode_parent_update(n, (size_t)s->par[1]) : NULL;
  if (!lu && !ru) return TIDE_OK;
  reset_cycle(s);
  tide_status st = TIDE_OK;
  tide_rowset_t *lrekey = NULL, *rrekey = NULL, *kept = NULL, *chg = NULL;
  tide_update_t u = {0};
  bool rjoinmod = ru && tide__update_hits(ru, s->joinbits, tide_table_ncols(s->tab[1]));
  /* the runs */
  if (lu && (st = side_changes(s, 0, lu, &lrekey, &s->fresh)) != TIDE_OK) goto fail_st;
  if (ru && (st = side_changes(s, 1, ru, &rrekey, &s->ins[1])) != TIDE_OK) goto fail_st;
  if (lu && (st = side_apply(s, 0, err)) != TIDE_OK) goto done;
  if (ru) {
    if ((st = side_apply(s, 1, err)) != TIDE_OK) goto done;
    /* changed right times: removals, insertions, value changes */
    for (size_t i = 0; i < s->rem[1].n; i++)
      if ((st = tide__gtk_push(&s->cv, s->rem[1].a[i].g, s->rem[1].a[i].t, 0)) != TIDE_OK) goto fail_st;
    for (size_t i = 0; i < s->ins[1].n; i++)
      if ((st = tide__gtk_push(&s->cv, s->ins[1].a[i].g, s->ins[1].a[i].t, 0)) != TIDE_OK) goto fail_st;
    if (rjoinmod && !rrekey) {
      /* joined columns changed in place: collect the rows' times */
      tide__gtkvec_t *tmpv = &s->rem[1];
      tmpv->n = 0;
      if ((st = collect(s, 1, ru->modified, false, tmpv, NULL, 0, NULL, false)) != TIDE_OK)
        goto fail_st;
      for (size_t i = 0; i < tmpv->n; i++)
        if ((st = tide__gtk_push(&s->cv, tmpv->a[i].g, tmpv->a[i].t, 0)) != TIDE_OK) goto fail_st;
    }
    if ((st = tide__gtk_sort(&s->cv, &s->tmp)) != TIDE_OK) goto fail_st;
  }
  /* the map follows the left's shifts */
  if (lu && lu->nshifts) {
    const tide_rowset_t *prev = tide_table_prev_rowset(s->tab[0]);
    kept = lu->removed && !tide_rowset_is_empty(lu->removed) ? tide_rowset_minus(prev, lu->removed)
                                                             : tide_rowset_retain((tide_rowset_t *)prev);
    if (!kept) goto oom;
    st = tide__source_paged_shift(s->map, lu->shifts, lu->nshifts, kept);
    if (st == TIDE_ERR_NOMEM) goto oom;
    if (st != TIDE_OK) {
      st = tide_error_set(err, TIDE_ERR_STATE, "%s: the left table's update has invalid shifts", op);
      goto done;
    }
  }
  if (ru) {
    if ((st = find_dirty(s)) != TIDE_OK) goto fail_st;
    if ((st = rematch_dirty(s, ru, rjoinmod)) != TIDE_OK) goto fail_st;
  }
  /* the left rows that are new to their runs */
  if (lu && (st = match_fresh(s, err)) != TIDE_OK) goto done;
  if ((st = tide__mapbatch_flush(&s->mb, s->map)) != TIDE_OK) goto fail_st;
  /* the update */
  if (s->nch) {
    /* kept rows only: the dirty ranges were taken before fresh rows
     * joined the runs */
    chg = tide_rowset_from_keys(s->chkeys, s->nch);
    if (!chg) goto oom;
  }
  size_t nres = s->nl + s->spec.nadd, nwords = (nres + 63) / 64;
  bool lmod = lu && lu->modified && !tide_rowset_is_empty(lu->modified);
  if (lmod || chg) {
    u.modified_cols = tide_calloc(nwords ? nwords : 1, sizeof *u.modified_cols);
    if (!u.modified_cols) goto oom;
    u.ncols = nres;
    if (lmod && lu->modified_cols)
      for (size_t c = 0; c < s->nl && c < lu->ncols; c++)
        if (lu->modified_cols[c / 64] >> (c % 64) & 1) u.modified_cols[c / 64] |= 1ull << (c % 64);
    if (chg || lrekey)
      for (size_t c = s->nl; c < nres; c++) u.modified_cols[c / 64] |= 1ull << (c % 64);
    if (lmod && chg) {
      u.modified = tide_rowset_union(lu->modified, chg);
      if (!u.modified) goto oom;
    } else {
      u.modified = lmod ? tide_rowset_retain(lu->modified) : tide_rowset_retain(chg);
    }
  }
  if (lu) {
    u.removed = lu->removed ? tide_rowset_retain(lu->removed) : NULL;
    u.added = lu->added ? tide_rowset_retain(lu->added) : NULL;
    if (lu->nshifts) {
      u.shifts = tide_malloc(lu->nshifts * sizeof *u.shifts);
      if (!u.shifts) goto oom;
      memcpy(u.shifts, lu->shifts, lu->nshifts * sizeof *u.shifts);
      u.nshifts = lu->nshifts;
    }
  }
  {
    tide_rowset_t *nrs = s->tab[0]->rowset != res->rowset ? tide_rowset_retain(s->tab[0]->rowset) : NULL;
    st = tide__gnode_publish(n, &u, nrs, err);
  }
  goto done;
fail_st:
  if (st == TIDE_ERR_NOMEM) goto oom;
  st = tide_error_set(err, st, "%s: internal error updating the join state", op);
  goto done;
oom:
  st = tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
done:
  tide__update_clear(&u);
  tide_rowset_free(lrekey);
  tide_rowset_free(rrekey);
  tide_rowset_free(kept);
  tide_rowset_free(chg);
  return st;
}

static void asof_destroy(tide_gnode_t *n) { asof_state_free(n->state); }

static const tide_gnode_vt aj_vt = {"aj", NULL, asof_notify, asof_destroy};
static const tide_gnode_vt raj_vt = {"raj", NULL, asof_notify, asof_destroy};

static void set_bit(uint64_t *b, int c) { b[c / 64] |= 1ull << (c % 64); }

static tide_table_t *asof_build(bool raj, tide_table_t *left, tide_table_t *right,
                                const char *const *on, size_t non, const char *const *joins,
                                size_t njoins, tide_error *err) {
  const char *op = raj ? "raj" : "aj";
  tide_graph_t *g = tide_table_graph(left->node ? left : right);
  if (left->node && right->node && tide_table_graph(left) != tide_table_graph(right)) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: the left and right tables tick in different update graphs", op);
    return NULL;
  }
  asof_state *s = tide_calloc(1, sizeof *s);
  tide_table_t *res = NULL;
  const char **names = NULL;
  tide_source_t **srcs = NULL;
  size_t ncols = 0;
  if (!s) goto oom;
  s->op = op;
  s->tab[0] = tide_table_retain(left);
  s->tab[1] = tide_table_retain(right);
  if (tide__jspec_parse(&s->spec, op, true, !raj, left, right, on, non, joins, njoins, err) != TIDE_OK)
    goto fail;
  s->mode = raj ? (s->spec.strict ? M_RAJ_STRICT : M_RAJ) : (s->spec.strict ? M_AJ_STRICT : M_AJ);
  if (tide__ikeys_init(&s->ik, op, left, right, s->spec.ln, s->spec.rn, s->spec.nk, err) != TIDE_OK)
    goto fail;
  if (tide__jscratch_init(&s->sc, s->spec.nk, err) != TIDE_OK) goto fail;
  s->ids = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->ids);
  if (!s->ids) goto oom;
  s->nl = tide_table_ncols(left);
  for (int side = 0; side < 2; side++) {
    const tide_table_t *t = s->tab[side];
    size_t nw = (tide_table_ncols(t) + 63) / 64;
    s->ktbits[side] = tide_calloc(nw ? nw : 1, sizeof(uint64_t));
    if (!s->ktbits[side]) goto oom;
    for (size_t k = 0; k < s->spec.nk; k++)
      set_bit(s->ktbits[side], side ? s->ik.jk.rcol[k] : s->ik.jk.lcol[k]);
    int tc = tide_table_col_index(t, side ? s->spec.rn[s->spec.nk] : s->spec.ln[s->spec.nk]);
    set_bit(s->ktbits[side], tc);
    s->tsrc[side] = tide_table_col_source(t, (size_t)tc);
  }
  {
    size_t nw = (tide_table_ncols(right) + 63) / 64;
    s->joinbits = tide_calloc(nw ? nw : 1, sizeof(uint64_t));
    if (!s->joinbits) goto oom;
    for (size_t i = 0; i < s->spec.nadd; i++) set_bit(s->joinbits, s->spec.addcols[i]);
  }
  if (grow_groups(s) != TIDE_OK) goto oom;
  s->map = tide__source_paged_create(TIDE_I64, NULL, err);
  if (!s->map) goto fail;
  if (tide__source_track_prev(s->map, tide__graph_step_ptr(g)) != TIDE_OK) goto oom;
  /* initial state: every row inserted, every left row matched */
  tide_status st = collect(s, 0, left->rowset, false, &s->fresh, NULL, 0, NULL, true);
  if (st == TIDE_OK) st = collect(s, 1, right->rowset, false, &s->ins[1], NULL, 0, NULL, false);
  if (st != TIDE_OK) goto oom;
  if (side_apply(s, 1, err) != TIDE_OK || match_fresh(s, err) != TIDE_OK) goto fail;
  if (tide__mapbatch_flush(&s->mb, s->map) != TIDE_OK) goto oom;
  reset_cycle(s);
  /* the result */
  ncols = s->nl + s->spec.nadd;
  names = tide_calloc(ncols ? ncols : 1, sizeof *names);
  srcs = tide_calloc(ncols ? ncols : 1, sizeof *srcs);
  if (!names || !srcs) goto oom;
  for (size_t c = 0; c < s->nl; c++) {
    names[c] = tide_table_col_name(left, c);
    srcs[c] = tide_source_retain(tide_table_col_source(left, c));
  }
  for (size_t i = 0; i < s->spec.nadd; i++) {
    names[s->nl + i] = s->spec.addnames + i * NCAP;
    srcs[s->nl + i] = tide__source_tredir_create(
        tide_table_col_source(right, (size_t)s->spec.addcols[i]), s->map, err);
    if (!srcs[s->nl + i]) goto fail;
  }
  res = tide_table_create(left->rowset, ncols, names, srcs, err);
  if (!res) goto fail;
  {
    tide_table_t *parents[2];
    size_t np = 0;
    s->par[0] = s->par[1] = -1;
    if (left->node) {
      s->par[0] = (int)np;
      parents[np++] = left;
    }
    if (right->node) {
      s->par[1] = (int)np;
      parents[np++] = right;
    }
    tide_table_kind_t kind = TIDE_KIND_STANDARD;
    if (!right->node) kind = left->kind;
    if (kind == TIDE_KIND_RING || kind == TIDE_KIND_STATIC) kind = TIDE_KIND_STANDARD;
    if (!tide__gnode_create(g, res, kind, raj ? &raj_vt : &aj_vt, parents, np, s, err)) goto fail;
  }
  s = NULL;
  goto done;
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
fail:
  tide_table_free(res);
  res = NULL;
done:
  asof_state_free(s);
  if (srcs)
    for (size_t c = 0; c < ncols; c++) tide_source_release(srcs[c]);
  tide_free(srcs);
  tide_free(names);
  return res;
}

tide_table_t *tide__asof_incr(bool raj, tide_table_t *left, tide_table_t *right,
                              const char *const *on, size_t non, const char *const *joins,
                              size_t njoins, tide_error *err) {
  if (!left || !right) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: NULL table", raj ? "raj" : "aj");
    return NULL;
  }
  tide_graph_t *lk = tide__graph_snapshot_lock(left->node ? left : right);
  tide_table_t *r = asof_build(raj, left, right, on, non, joins, njoins, err);
  tide__graph_snapshot_unlock(lk);
  return r;
}

tide_status tide__mapbatch_add(tide__mapbatch_t *b, uint64_t key, uint64_t val) {
  if (b->n == b->cap) {
    size_t c = b->cap ? b->cap * 2 : 1024;
    uint64_t *k = tide_realloc(b->keys, c * sizeof *k);
    if (!k) return TIDE_ERR_NOMEM;
    b->keys = k;
    uint64_t *v = tide_realloc(b->vals, c * sizeof *v);
    if (!v) return TIDE_ERR_NOMEM;
    b->vals = v;
    b->cap = c;
  }
  b->keys[b->n] = key;
  b->vals[b->n++] = val;
  return TIDE_OK;
}

tide_status tide__mapbatch_flush(tide__mapbatch_t *b, tide_source_t *map) {
  for (size_t i = 0; i < b->n; i += TIDE_CHUNK_SIZE) {
    uint32_t n = (uint32_t)TIDE_MIN((size_t)TIDE_CHUNK_SIZE, b->n - i);
    TIDE_TRY(tide__source_paged_set(map, b->keys + i, n, b->vals + i));
  }
  b->n = 0;
  return TIDE_OK;
}

void tide__mapbatch_free(tide__mapbatch_t *b) {
  tide_free(b->keys);
  tide_free(b->vals);
  memset(b, 0, sizeof *b);
}

tide_status tide__u64_push(uint64_t **a, size_t *n, size_t *cap, uint64_t v) {
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 1024;
    uint64_t *x = tide_realloc(*a, c * sizeof *x);
    if (!x) return TIDE_ERR_NOMEM;
    *a = x;
    *cap = c;
  }
  (*a)[(*n)++] = v;
  return TIDE_OK;
}
