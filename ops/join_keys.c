/*
 * Key matching across two tables for the joins and where_in (see
 * ops/join_int.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>

#include <omp.h>

#include "ops/join_int.h"

static bool is_int_type(tide_type_t t) {
  return t == TIDE_I8 || t == TIDE_I16 || t == TIDE_I32 || t == TIDE_I64;
}

void tide__jformat_cols(const tide_table_t *t, char *buf, size_t cap) {
  size_t len = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < tide_table_ncols(t) && len + 1 < cap; i++) {
    int w = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", tide_table_col_name(t, i));
    if (w < 0) break;
    len += (size_t)w;
  }
}

void tide__jformat_key(const tide_table_t *t, const int *cols, size_t n, uint64_t pos, char *buf,
                       size_t cap) {
  size_t len = 0;
  if (cap < 3) {
    if (cap) buf[0] = '\0';
    return;
  }
  buf[len++] = '(';
  for (size_t k = 0; k < n && len + 2 < cap; k++) {
    union {
      int64_t i;
      double d;
      const char *s;
      char pad[16];
    } v;
    memset(&v, 0, sizeof v);
    char tmp[128];
    tmp[0] = '\0';
    const tide_source_t *src = tide_table_col_source(t, (size_t)cols[k]);
    if (tide_table_get(t, (size_t)cols[k], pos, &v, NULL) == TIDE_OK)
      tide_value_format(tide_source_type(src), tide_source_symtab(src), &v, true, tmp, sizeof tmp);
    int w = snprintf(buf + len, cap - len, "%s%s", k ? ", " : "", tmp);
    if (w < 0) break;
    len = TIDE_MIN(len + (size_t)w, cap - 2);
  }
  buf[len++] = ')';
  buf[len] = '\0';
}

static void jcol_clear(tide__jcol_t *c) {
  tide_free((void *)c->strs);
  tide_free(c->map);
  c->strs = NULL;
  c->map = NULL;
}

void tide__jkeys_free(tide__jkeys_t *jk) {
  if (!jk) return;
  for (size_t k = 0; k < jk->nkeys; k++) {
    if (jk->left) jcol_clear(&jk->left[k]);
    if (jk->right) jcol_clear(&jk->right[k]);
  }
  tide_free(jk->lcol);
  tide_free(jk->rcol);
  tide_free(jk->types);
  tide_free(jk->left);
  tide_free(jk->right);
  memset(jk, 0, sizeof *jk);
}

/* String of every code of a dictionary (for SYMBOL -> STRING keys). */
static tide_status sym_strings(tide__jcol_t *c, const tide_symtab_t *st, tide_error *err) {
  uint32_t n = st ? tide_symtab_size(st) : 0;
  c->strs = tide_malloc(sizeof(char *) * (n ? n : 1));
  if (!c->strs) return tide_error_set(err, TIDE_ERR_NOMEM, "out of memory");
  for (uint32_t i = 0; i < n; i++) c->strs[i] = tide_symtab_str(st, (int32_t)i);
  c->nmap = n;
  return TIDE_OK;
}

tide_status tide__jkeys_init(tide__jkeys_t *jk, const char *op, const tide_table_t *left,
                             const tide_table_t *right, const char *const *lnames,
                             const char *const *rnames, size_t n, tide_error *err) {
  memset(jk, 0, sizeof *jk);
  jk->nkeys = n;
  size_t m = n ? n : 1;
  jk->lcol = tide_calloc(m, sizeof(int));
  jk->rcol = tide_calloc(m, sizeof(int));
  jk->types = tide_calloc(m, sizeof(tide_type_t));
  jk->left = tide_calloc(m, sizeof(tide__jcol_t));
  jk->right = tide_calloc(m, sizeof(tide__jcol_t));
  if (!jk->lcol || !jk->rcol || !jk->types || !jk->left || !jk->right)
    return tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
  char cols[TIDE_ERROR_MSG_MAX / 2];
  for (size_t k = 0; k < n; k++) {
    int lc = tide_table_col_index(left, lnames[k]);
    if (lc < 0) {
      tide__jformat_cols(left, cols, sizeof cols);
      return tide_error_set(err, TIDE_ERR_NOT_FOUND, "%s: no column '%s' in left table (columns: %s)",
                            op, lnames[k], cols);
    }
    int rc = tide_table_col_index(right, rnames[k]);
    if (rc < 0) {
      tide__jformat_cols(right, cols, sizeof cols);
      return tide_error_set(err, TIDE_ERR_NOT_FOUND,
                            "%s: no column '%s' in right table (columns: %s)", op, rnames[k], cols);
    }
    jk->lcol[k] = lc;
    jk->rcol[k] = rc;
    tide__jcol_t *L = &jk->left[k], *R = &jk->right[k];
    L->src = tide_table_col_source(left, (size_t)lc);
    R->src = tide_table_col_source(right, (size_t)rc);
    tide_type_t lt = tide_source_type(L->src), rt = tide_source_type(R->src);
    L->src_type = lt;
    R->src_type = rt;
    tide_type_t ht;
    if (lt == rt) {
      ht = lt;
      if (lt == TIDE_SYMBOL) {
        const tide_symtab_t *ls = tide_source_symtab(L->src), *rs = tide_source_symtab(R->src);
        if (ls != rs) {
          if (!ls || !rs) {
            /* A symbol column without a dictionary holds only nulls: compare strings. */
            ht = TIDE_STRING;
            L->conv = R->conv = TIDE_JCONV_SYM_STR;
            TIDE_TRY(sym_strings(L, ls, err));
            TIDE_TRY(sym_strings(R, rs, err));
          } else {
            L->conv = TIDE_JCONV_SYM_MAP;
            L->map = tide__symtab_translate(ls, rs, err);
            if (!L->map) return tide_error_prefix(err, "%s", op);
            L->nmap = tide_symtab_size(ls);
          }
        }
      }
    } else if ((lt == TIDE_SYMBOL && rt == TIDE_STRING) || (lt == TIDE_STRING && rt == TIDE_SYMBOL)) {
      ht = TIDE_STRING;
      tide__jcol_t *s = lt == TIDE_SYMBOL ? L : R;
      s->conv = TIDE_JCONV_SYM_STR;
      TIDE_TRY(sym_strings(s, tide_source_symtab(s->src), err));
    } else if (is_int_type(lt) && is_int_type(rt)) {
      ht = TIDE_I64;
      if (lt != TIDE_I64) L->conv = TIDE_JCONV_WIDEN_INT;
      if (rt != TIDE_I64) R->conv = TIDE_JCONV_WIDEN_INT;
    } else if (tide_type_is_floating(lt) && tide_type_is_floating(rt)) {
      ht = TIDE_F64;
      if (lt == TIDE_F32) L->conv = TIDE_JCONV_WIDEN_F32;
      if (rt == TIDE_F32) R->conv = TIDE_JCONV_WIDEN_F32;
    } else {
      return tide_error_set(err, TIDE_ERR_TYPE,
                            "%s: cannot match left column '%s' (%s) with right column '%s' (%s): "
                            "incompatible types",
                            op, lnames[k], tide_type_name(lt), rnames[k], tide_type_name(rt));
    }
    L->hash_type = R->hash_type = ht;
    jk->types[k] = ht;
  }
  return TIDE_OK;
}

const void *tide__jcol_get(const tide__jcol_t *c, const tide_rowseq_t *seq, void *raw, void *out) {
  const void *v = tide__source_get(c->src, seq, raw);
  uint32_t n = seq->n;
  switch (c->conv) {
  case TIDE_JCONV_NONE:
    return v;
  case TIDE_JCONV_WIDEN_INT: {
    int64_t *o = out;
    switch (c->src_type) {
#define TIDE_J_WIDEN(E, name, ctype)                                             \
  case TIDE_##E: {                                                               \
    const ctype *s = v;                                                          \
    for (uint32_t i = 0; i < n; i++)                                             \
      o[i] = s[i] == TIDE_NULL_##E ? TIDE_NULL_I64 : (int64_t)s[i];              \
    break;                                                                       \
  }
      TIDE_INT_TYPES(TIDE_J_WIDEN)
#undef TIDE_J_WIDEN
    default:
      assert(0 && "widen of a non-integer type");
    }
    return out;
  }
  case TIDE_JCONV_WIDEN_F32: {
    const float *s = v;
    double *o = out;
    for (uint32_t i = 0; i < n; i++) o[i] = s[i] == TIDE_NULL_F32 ? TIDE_NULL_F64 : (double)s[i];
    return out;
  }
  case TIDE_JCONV_SYM_STR: {
    const int32_t *s = v;
    const char **o = out;
    const char **strs = c->strs;
    uint32_t nm = c->nmap;
    for (uint32_t i = 0; i < n; i++) o[i] = (uint32_t)s[i] < nm ? strs[s[i]] : NULL;
    return out;
  }
  case TIDE_JCONV_SYM_MAP: {
    const int32_t *s = v;
    int32_t *o = out;
    const int32_t *map = c->map;
    uint32_t nm = c->nmap;
    for (uint32_t i = 0; i < n; i++)
      o[i] = s[i] < 0 ? s[i] : ((uint32_t)s[i] < nm ? map[s[i]] : -2);
    return out;
  }
  }
  return v;
}

tide_status tide__jscratch_init(tide__jscratch_t *s, size_t nkeys, tide_error *err) {
  memset(s, 0, sizeof *s);
  s->nkeys = nkeys;
  size_t cb = (size_t)TIDE_CHUNK_SIZE * 8; /* one chunk of 8-byte values */
  size_t ptrs = (3 * nkeys + 1) * sizeof(void *);
  ptrs = (ptrs + 63) & ~(size_t)63;
  size_t total = ptrs + cb * (2 * nkeys + 3) + (size_t)TIDE_CHUNK_SIZE * 4;
  char *mem = tide_aligned_malloc(64, total);
  if (!mem) return tide_error_set(err, TIDE_ERR_NOMEM, "out of memory");
  s->mem = mem;
  s->raw = (void **)mem;
  s->out = s->raw + nkeys;
  s->cols = (const void **)(s->out + nkeys);
  char *p = mem + ptrs;
  for (size_t k = 0; k < nkeys; k++) {
    s->raw[k] = p;
    p += cb;
    s->out[k] = p;
    p += cb;
  }
  s->keybuf = (uint64_t *)p;
  p += cb;
  s->t_raw = (int64_t *)p;
  p += cb;
  s->t_out = (int64_t *)p;
  p += cb;
  s->ids = (uint32_t *)p;
  return TIDE_OK;
}

void tide__jscratch_free(tide__jscratch_t *s) {
  if (s && s->mem) tide_aligned_free(s->mem);
  if (s) memset(s, 0, sizeof *s);
}

/* Integer-like hash types that a dense key set can address directly. */
static bool dense_type(tide_type_t t) {
  switch (t) {
    case TIDE_BOOL:
    case TIDE_I8:
    case TIDE_I16:
    case TIDE_I32:
    case TIDE_I64:
    case TIDE_TS:
    case TIDE_SYMBOL: return true;
    default: return false;
  }
}

/* Least and greatest non-null value of v[0..n) (hash type t), merged into *mn and *mx. */
static void int_range(tide_type_t t, const void *v, uint32_t n, int64_t *mn, int64_t *mx) {
  int64_t lo = *mn, hi = *mx;
  switch (t) {
#define JK_RANGE(E, ctype, nul)                            \
  case TIDE_##E: {                                         \
    const ctype *restrict x = v;                           \
    for (uint32_t i = 0; i < n; i++) {                     \
      int64_t y = x[i];                                    \
      bool ok = x[i] != (nul);                             \
      lo = ok && y < lo ? y : lo;                          \
      hi = ok && y > hi ? y : hi;                          \
    }                                                      \
    break;                                                 \
  }
    JK_RANGE(BOOL, int8_t, TIDE_NULL_BOOL)
    JK_RANGE(I8, int8_t, TIDE_NULL_I8)
    JK_RANGE(I16, int16_t, TIDE_NULL_I16)
    JK_RANGE(I32, int32_t, TIDE_NULL_I32)
    JK_RANGE(I64, int64_t, TIDE_NULL_I64)
    JK_RANGE(TS, int64_t, TIDE_NULL_TS)
    JK_RANGE(SYMBOL, int32_t, TIDE_NULL_SYMBOL)
#undef JK_RANGE
    default: break;
  }
  *mn = lo;
  *mx = hi;
}

/* One integer key: copy the right keys (in the hash type) into one array
 * and find their range, in parallel over morsels; then a dense key set
 * when the range is at most TIDE_JKEYS_DENSE_FACTOR times the row count
 * (plus slack), else a hashed one; then the bulk (parallel when dense)
 * insert. Group ids are those of the serial insert either way. */
#define TIDE_JKEYS_DENSE_FACTOR 4
#define TIDE_JKEYS_DENSE_SLACK 4096
static tide_status jkeys_build_int(const tide__jkeys_t *jk, const tide_table_t *right,
                                   tide_keyset_t **ks_out, uint32_t *gids, uint32_t *ngroups,
                                   tide_error *err) {
  const tide_rowset_t *rs = tide_table_rowset(right);
  uint64_t n = tide_rowset_size(rs);
  tide_type_t ht = jk->types[0];
  size_t w = tide_type_width(ht);
  char *vals = tide_malloc((size_t)n * w);
  if (!vals) return tide_error_set(err, TIDE_ERR_NOMEM, "out of memory reading join keys");
  uint64_t nm = (n + TIDE_MORSEL_ROWS - 1) / TIDE_MORSEL_ROWS;
  int nt = tide__threads_for(n);
  if (nt < 1) nt = 1;
  int64_t mn = INT64_MAX, mx = INT64_MIN;
  int failed = 0;
  tide_morsels_t ms;
  if (tide__morsels_init(&ms, nm, nt, NULL) != TIDE_OK) {
    tide_free(vals);
    return tide_error_set(err, TIDE_ERR_NOMEM, "out of memory reading join keys");
  }
#pragma omp parallel num_threads(nt)
  {
    tide__jscratch_t s;
    bool ok = tide__jscratch_init(&s, 1, NULL) == TIDE_OK;
    if (!ok) {
#pragma omp atomic write
      failed = 1;
    }
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (uint64_t m; ok && tide__morsels_next(&ms, omp_get_thread_num(), &m);) {
      tide_rowset_iter_t it;
      tide_rowseq_t seq;
      tide_rowset_iter_init_pos(&it, rs, m * TIDE_MORSEL_ROWS, TIDE_MORSEL_ROWS);
      while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s.keybuf)) {
        const void *const *cols = tide__jkeys_chunk(jk, false, &seq, &s);
        memcpy(vals + seq.pos * w, cols[0], (size_t)seq.n * w);
        int_range(ht, cols[0], seq.n, &lo, &hi);
      }
    }
#pragma omp critical(tide_jkeys_range)
    {
      if (lo < mn) mn = lo;
      if (hi > mx) mx = hi;
    }
    tide__jscratch_free(&s);
  }
  tide__morsels_free(&ms);
  if (failed) {
    tide_free(vals);
    return tide_error_set(err, TIDE_ERR_NOMEM, "out of memory reading join keys");
  }
  /* span of the non-null values (0 when every key is null) */
  uint64_t span = mx >= mn ? (uint64_t)mx - (uint64_t)mn + 1 : 0;
  bool dense = span != 0 || mx < mn;
  if (mx >= mn && (span == 0 || span > TIDE_KEYSET_DENSE_MAX_SPAN ||
                   span > TIDE_JKEYS_DENSE_FACTOR * n + TIDE_JKEYS_DENSE_SLACK))
    dense = false;
  tide_keyset_t *ks = dense ? tide__keyset_create_dense(ht, mx >= mn ? mn : 0, span, err)
                            : tide__keyset_create(1, &ht, n, err);
  if (!ks) {
    tide_free(vals);
    return err ? err->status : TIDE_ERR_NOMEM;
  }
  tide_status st = tide__keyset_insert_all(ks, vals, n, gids, nt);
  tide_free(vals);
  if (st != TIDE_OK) {
    tide__keyset_free(ks);
    return tide_error_set(err, st, "out of memory hashing join keys");
  }
  *ngroups = tide__keyset_size(ks);
  *ks_out = ks;
  return TIDE_OK;
}

tide_status tide__jkeys_build(const tide__jkeys_t *jk, const tide_table_t *right,
                              tide_keyset_t **ks_out, uint32_t *gids, uint32_t *ngroups,
                              tide_error *err) {
  const tide_rowset_t *rs = tide_table_rowset(right);
  uint64_t n = tide_rowset_size(rs);
  *ks_out = NULL;
  *ngroups = 0;
  if (jk->nkeys == 0) {
    for (uint64_t i = 0; i < n; i++) gids[i] = 0;
    *ngroups = n ? 1 : 0;
    return TIDE_OK;
  }
  if (jk->nkeys == 1 && dense_type(jk->types[0]) && n > 0 && n < (uint64_t)UINT32_MAX - 1)
    return jkeys_build_int(jk, right, ks_out, gids, ngroups, err);
  tide_keyset_t *ks = tide__keyset_create(jk->nkeys, jk->types, n, err);
  if (!ks) return err ? err->status : TIDE_ERR_NOMEM;
  tide__jscratch_t s;
  tide_status st = tide__jscratch_init(&s, jk->nkeys, err);
  if (st != TIDE_OK) {
    tide__keyset_free(ks);
    return st;
  }
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init(&it, rs);
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s.keybuf)) {
    const void *const *cols = tide__jkeys_chunk(jk, false, &seq, &s);
    st = tide__keyset_insert(ks, cols, seq.n, gids + seq.pos);
    if (st != TIDE_OK) {
      tide_error_set(err, st, "out of memory hashing join keys");
      break;
    }
  }
  tide__jscratch_free(&s);
  if (st != TIDE_OK) {
    tide__keyset_free(ks);
    return st;
  }
  *ngroups = tide__keyset_size(ks);
  *ks_out = ks;
  return TIDE_OK;
}

void tide__jkeys_probe(const tide__jkeys_t *jk, const tide_keyset_t *ks, uint32_t ngroups,
                       const tide_table_t *left, uint64_t pos, uint64_t count,
                       tide__jscratch_t *s, uint32_t *ids) {
  if (jk->nkeys == 0) {
    uint32_t v = ngroups ? 0 : TIDE_KEYSET_ABSENT;
    for (uint64_t i = 0; i < count; i++) ids[i] = v;
    return;
  }
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init_pos(&it, tide_table_rowset(left), pos, count);
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->keybuf)) {
    const void *const *cols = tide__jkeys_chunk(jk, true, &seq, s);
    tide__keyset_find(ks, cols, seq.n, ids + (seq.pos - pos));
  }
}

/* ----------------------------------------------------------- time values */

/* Order-preserving int64 image of a double; INT64_MIN for null and NaN. */
static inline int64_t f64_ordered(double d) {
  if (d != d || d == TIDE_NULL_F64) return INT64_MIN;
  if (d == 0.0) d = 0.0; /* -0.0 == 0.0 */
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  u = (u >> 63) ? ~u : (u | (UINT64_C(1) << 63));
  return (int64_t)(u ^ (UINT64_C(1) << 63));
}

const int64_t *tide__join_times(tide_type_t type, const void *v, uint32_t n, int64_t *out) {
  switch (type) {
    case TIDE_I64:
    case TIDE_TS: return v;
#define J_TWIDEN(E, ctype)                                            \
  case TIDE_##E: {                                                    \
    const ctype *s = v;                                               \
    for (uint32_t i = 0; i < n; i++)                                  \
      out[i] = s[i] == TIDE_NULL_##E ? INT64_MIN : (int64_t)s[i];     \
    return out;                                                       \
  }
      J_TWIDEN(I8, int8_t)
      J_TWIDEN(I16, int16_t)
      J_TWIDEN(I32, int32_t)
#undef J_TWIDEN
    case TIDE_F32: {
      const float *s = v;
      for (uint32_t i = 0; i < n; i++)
        out[i] = s[i] == TIDE_NULL_F32 ? INT64_MIN : f64_ordered((double)s[i]);
      return out;
    }
    case TIDE_F64: {
      const double *s = v;
      for (uint32_t i = 0; i < n; i++) out[i] = f64_ordered(s[i]);
      return out;
    }
    default:
      assert(!"as-of time column of a type the op refused at creation");
      for (uint32_t i = 0; i < n; i++) out[i] = INT64_MIN;
      return out;
  }
}
