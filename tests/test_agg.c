/*
 * Tests of agg_by / agg_all_by / count_by / select_distinct / head_by /
 * tail_by against naive references: groups found by linear search over
 * first-appearance rows, every aggregation recomputed per group with
 * nested loops (qsort for median / pct / count_distinct).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>

#include "kernels/agg.h"
#include "testutil.h"

/* ------------------------------------------------------------ table */

enum { MAXC = 20 };

typedef struct col_t {
  const char *name;
  tide_type_t type;
  void *data;          /* raw values; STRING/SYMBOL: const char *[] */
} col_t;

typedef struct tbl_t {
  uint64_t n;
  size_t ncols;
  col_t c[MAXC];
  tide_table_t *t;
} tbl_t;

static const char *SYMS[] = {"AAPL", "MSFT", "IBM", "GOOG", "a", "", "zz", "Mm", "id0001", "id0002"};
#define NSYMS (sizeof SYMS / sizeof SYMS[0])

static int col_of(const tbl_t *tb, const char *name) {
  for (size_t i = 0; i < tb->ncols; i++)
    if (strcmp(tb->c[i].name, name) == 0) return (int)i;
  return -1;
}

/* Values of a column: ints as int64, floats as double, text as string. */
typedef struct cell_t {
  bool null;
  int64_t i;
  double d;
  const char *s;
} cell_t;

static bool is_text(tide_type_t t) { return t == TIDE_STRING || t == TIDE_SYMBOL; }
static bool is_flt(tide_type_t t) { return t == TIDE_F32 || t == TIDE_F64; }

static cell_t raw_cell(tide_type_t type, const void *p) {
  cell_t c = {0};
  switch (type) {
    case TIDE_BOOL:
    case TIDE_I8: { int8_t v; memcpy(&v, p, 1); c.i = v; c.null = v == INT8_MIN; break; }
    case TIDE_I16: { int16_t v; memcpy(&v, p, 2); c.i = v; c.null = v == INT16_MIN; break; }
    case TIDE_I32: { int32_t v; memcpy(&v, p, 4); c.i = v; c.null = v == INT32_MIN; break; }
    case TIDE_I64:
    case TIDE_TS: { int64_t v; memcpy(&v, p, 8); c.i = v; c.null = v == INT64_MIN; break; }
    case TIDE_F32: { float v; memcpy(&v, p, 4); c.d = v; c.null = v == TIDE_NULL_F32; break; }
    case TIDE_F64: { double v; memcpy(&v, p, 8); c.d = v; c.null = v == TIDE_NULL_F64; break; }
    case TIDE_STRING:
    case TIDE_SYMBOL: { const char *s; memcpy(&s, p, sizeof s); c.s = s; c.null = s == NULL; break; }
    default: break;
  }
  return c;
}

static cell_t tcell(const tbl_t *tb, int col, uint64_t row) {
  const col_t *c = &tb->c[col];
  size_t w = is_text(c->type) ? sizeof(char *) : tide_type_width(c->type);
  return raw_cell(c->type, (const char *)c->data + row * w);
}

/* Result cell (SYMBOL codes turned into strings). */
static cell_t rcell(const tide_table_t *t, size_t col, uint64_t pos) {
  char buf[16];
  tide_error err;
  tide_type_t type = tide_table_col_type(t, col);
  tide_table_get(t, col, pos, buf, &err);
  if (type == TIDE_SYMBOL) {
    int32_t code;
    memcpy(&code, buf, 4);
    cell_t c = {0};
    c.s = code < 0 ? NULL : tide_symtab_str(tide_source_symtab(tide_table_col_source(t, col)), code);
    c.null = c.s == NULL;
    return c;
  }
  return raw_cell(type, buf);
}

static bool cell_eq(tide_type_t type, cell_t a, cell_t b, double tol) {
  if (a.null || b.null) return a.null == b.null;
  if (is_text(type)) return strcmp(a.s, b.s) == 0;
  if (is_flt(type)) {
    if (isnan(a.d) || isnan(b.d)) return isnan(a.d) && isnan(b.d);
    if (a.d == b.d) return true;
    double m = fmax(fabs(a.d), fabs(b.d));
    return fabs(a.d - b.d) <= tol * (m > 1 ? m : 1);
  }
  return a.i == b.i;
}

static void cell_str(tide_type_t type, cell_t c, char *buf, size_t cap) {
  if (c.null) snprintf(buf, cap, "null");
  else if (is_text(type)) snprintf(buf, cap, "'%s'", c.s);
  else if (is_flt(type)) snprintf(buf, cap, "%.17g", c.d);
  else snprintf(buf, cap, "%lld", (long long)c.i);
}

/* Key equality of the hash kernel's semantics. */
static bool key_eq(tide_type_t type, cell_t a, cell_t b) {
  if (a.null || b.null) return a.null == b.null;
  if (is_text(type)) return strcmp(a.s, b.s) == 0;
  if (is_flt(type)) return a.d == b.d || (isnan(a.d) && isnan(b.d));
  return a.i == b.i;
}

static char *STRBUF;

static void gen_col(tu_rng *r, col_t *c, uint64_t n, int dom, double null_rate, bool nan) {
  size_t w = is_text(c->type) ? sizeof(char *) : tide_type_width(c->type);
  c->data = calloc(n ? n : 1, w);
  for (uint64_t i = 0; i < n; i++) {
    bool null = tu_unit(r) < null_rate;
    int64_t x = (int64_t)tu_below(r, (uint64_t)dom);
    char *p = (char *)c->data + i * w;
    switch (c->type) {
      case TIDE_BOOL: { int8_t v = null ? TIDE_NULL_BOOL : (int8_t)(x & 1); memcpy(p, &v, 1); break; }
      case TIDE_I8: { int8_t v = null ? TIDE_NULL_I8 : (int8_t)(x % 100 - 50); memcpy(p, &v, 1); break; }
      case TIDE_I16: { int16_t v = null ? TIDE_NULL_I16 : (int16_t)(x - 300); memcpy(p, &v, 2); break; }
      case TIDE_I32: { int32_t v = null ? TIDE_NULL_I32 : (int32_t)(x * 3 - 100); memcpy(p, &v, 4); break; }
      case TIDE_I64: { int64_t v = null ? TIDE_NULL_I64 : x * 1000003 - 77; memcpy(p, &v, 8); break; }
      case TIDE_TS: { int64_t v = null ? TIDE_NULL_TS : 1700000000000000000LL + x * 1000; memcpy(p, &v, 8); break; }
      case TIDE_F32: { float v = null ? TIDE_NULL_F32 : (float)x * 0.5f - 3.0f; memcpy(p, &v, 4); break; }
      case TIDE_F64: {
        double v = null ? TIDE_NULL_F64 : (double)x * 0.25 - 7.5;
        if (!null && nan && tu_below(r, 50) == 0) v = NAN;
        if (!null && v == 0 && tu_below(r, 2)) v = -0.0;
        memcpy(p, &v, 8);
        break;
      }
      case TIDE_STRING:
      case TIDE_SYMBOL: {
        const char *s = NULL;
        if (!null) s = x < (int64_t)NSYMS ? SYMS[x] : STRBUF + (size_t)x * 16;
        memcpy(p, &s, sizeof s);
        break;
      }
      default: break;
    }
  }
}

/* Build the engine table. SYMBOL dictionaries are pre-filled in reverse
 * order, so codes differ from first-appearance order. */
static void tbl_build(tbl_t *tb) {
  tide_source_t *srcs[MAXC];
  const char *names[MAXC];
  tide_error err;
  for (size_t k = 0; k < tb->ncols; k++) {
    col_t *c = &tb->c[k];
    names[k] = c->name;
    srcs[k] = tide_source_flat_create(c->type, tb->n, &err);
    void *data = tide_source_flat_data(srcs[k]);
    if (c->type == TIDE_STRING) {
      const char **in = c->data, **out = data;
      for (uint64_t i = 0; i < tb->n; i++)
        out[i] = in[i] ? tide_source_flat_store_string(srcs[k], in[i], strlen(in[i])) : NULL;
    } else if (c->type == TIDE_SYMBOL) {
      tide_symtab_t *st = tide_source_symtab(srcs[k]);
      for (int j = (int)NSYMS - 1; j >= 0; j--) tide_symtab_intern(st, SYMS[j], strlen(SYMS[j]));
      const char **in = c->data;
      int32_t *out = data;
      for (uint64_t i = 0; i < tb->n; i++)
        out[i] = in[i] ? tide_symtab_intern(st, in[i], strlen(in[i])) : TIDE_NULL_SYMBOL;
    } else {
      memcpy(data, c->data, tb->n * tide_type_width(c->type));
    }
  }
  tb->t = tide__table_from_sources(tb->n, tb->ncols, names, srcs, &err);
  if (!tb->t) {
    fprintf(stderr, "tbl_build: %s\n", err.msg);
    abort();
  }
}

static void tbl_free(tbl_t *tb) {
  for (size_t k = 0; k < tb->ncols; k++) free(tb->c[k].data);
  tide_table_free(tb->t);
}

/* Random table: key columns K* and value columns. */
static void tbl_random(tbl_t *tb, tu_rng *r, uint64_t n, int kdom, bool nan) {
  memset(tb, 0, sizeof *tb);
  tb->n = n;
  static const struct { const char *name; tide_type_t type; } spec[] = {
      {"KS", TIDE_SYMBOL}, {"KT", TIDE_STRING}, {"KI", TIDE_I64}, {"KH", TIDE_I64},
      {"KD", TIDE_F64},    {"KB", TIDE_BOOL},   {"KTS", TIDE_TS}, {"K32", TIDE_I32},
      {"I", TIDE_I32},     {"L", TIDE_I64},     {"D", TIDE_F64},  {"F", TIDE_F32},
      {"B", TIDE_BOOL},    {"T", TIDE_TS},      {"S", TIDE_STRING}, {"Y", TIDE_SYMBOL},
      {"W", TIDE_I16},     {"E", TIDE_I8}};
  tb->ncols = sizeof spec / sizeof spec[0];
  for (size_t k = 0; k < tb->ncols; k++) {
    col_t *c = &tb->c[k];
    c->name = spec[k].name;
    c->type = spec[k].type;
    bool key = c->name[0] == 'K';
    int dom = key ? kdom : 40;
    if (strcmp(c->name, "KD") == 0) dom = kdom < 40 ? kdom : 40;
    double nr = key ? 0.05 : 0.15;
    gen_col(r, c, n, dom, nr, nan);
    if (strcmp(c->name, "KH") == 0) {
      /* huge range: forces the hash path */
      int64_t *v = c->data;
      for (uint64_t i = 0; i < n; i++)
        if (v[i] != TIDE_NULL_I64) v[i] = v[i] * 0x100001LL + 5;
    }
  }
  tbl_build(tb);
}

/* ------------------------------------------------------- reference */

typedef struct refg_t {
  uint32_t ng;
  uint32_t *gid;     /* per row */
  uint64_t *first;   /* per group */
  uint64_t *size;
  uint64_t *off;     /* per group: start in rows (ng + 1) */
  uint64_t *rows;    /* row indices grouped, in row order within a group */
} refg_t;

static void ref_group(const tbl_t *tb, const int *by, size_t nby, refg_t *g) {
  g->ng = 0;
  g->gid = malloc((tb->n ? tb->n : 1) * sizeof *g->gid);
  g->first = malloc((tb->n ? tb->n : 1) * sizeof *g->first);
  g->size = calloc(tb->n ? tb->n : 1, sizeof *g->size);
  for (uint64_t i = 0; i < tb->n; i++) {
    uint32_t found = UINT32_MAX;
    for (uint32_t q = 0; q < g->ng && found == UINT32_MAX; q++) {
      bool eq = true;
      for (size_t k = 0; k < nby && eq; k++)
        eq = key_eq(tb->c[by[k]].type, tcell(tb, by[k], i), tcell(tb, by[k], g->first[q]));
      if (eq) found = q;
    }
    if (found == UINT32_MAX) {
      found = g->ng++;
      g->first[found] = i;
    }
    g->gid[i] = found;
    g->size[found]++;
  }
  g->off = calloc((size_t)g->ng + 2, sizeof *g->off);
  g->rows = malloc((tb->n ? tb->n : 1) * sizeof *g->rows);
  for (uint32_t q = 0; q < g->ng; q++) g->off[q + 1] = g->off[q] + g->size[q];
  uint64_t *cur = calloc((size_t)g->ng + 1, sizeof *cur);
  for (uint64_t i = 0; i < tb->n; i++) g->rows[g->off[g->gid[i]] + cur[g->gid[i]]++] = i;
  free(cur);
}

static void ref_free(refg_t *g) {
  free(g->gid);
  free(g->first);
  free(g->size);
  free(g->off);
  free(g->rows);
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  if (isnan(x) || isnan(y)) return isnan(x) - isnan(y); /* NaN last */
  return (x > y) - (x < y);
}
static int cmp_i(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}
static int cmp_s(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool is_numeric(tide_type_t t) { return tide_type_is_numeric(t); }

/* Expected value of aggregation kind over the rows of group q. */
static cell_t ref_agg(const tbl_t *tb, const refg_t *g, uint32_t q, tide_agg_kind_t kind, int col,
                      int wcol, double pct, bool count_nulls) {
  cell_t res = {0};
  res.null = true;
  const uint64_t *rows = g->ng ? g->rows + g->off[q] : NULL;
  uint64_t nr = g->ng ? g->off[q + 1] - g->off[q] : 0;
  if (kind == TIDE_AGG_COUNT) {
    res.null = false;
    res.i = (int64_t)nr;
    return res;
  }
  tide_type_t type = tb->c[col].type;
  /* non-null values */
  cell_t *v = malloc((nr ? nr : 1) * sizeof *v);
  uint64_t nv = 0;
  for (uint64_t j = 0; j < nr; j++) {
    cell_t c = tcell(tb, col, rows[j]);
    if (!c.null) v[nv++] = c;
  }
  bool flt = is_flt(type);
  switch (kind) {
    case TIDE_AGG_SUM:
    case TIDE_AGG_ABS_SUM:
      if (nv) {
        res.null = false;
        uint64_t si = 0;
        double sd = 0;
        for (uint64_t j = 0; j < nv; j++) {
          if (flt) sd += kind == TIDE_AGG_ABS_SUM ? fabs(v[j].d) : v[j].d;
          else si += (uint64_t)(kind == TIDE_AGG_ABS_SUM ? llabs(v[j].i) : v[j].i);
        }
        res.i = (int64_t)si;
        res.d = sd;
      }
      break;
    case TIDE_AGG_AVG:
    case TIDE_AGG_STD:
    case TIDE_AGG_VAR:
      if (nv) {
        res.null = false;
        double s = 0;
        for (uint64_t j = 0; j < nv; j++) s += flt ? v[j].d : (double)v[j].i;
        double mean = s / (double)nv;
        if (kind == TIDE_AGG_AVG) {
          res.d = mean;
        } else {
          double ss = 0;
          for (uint64_t j = 0; j < nv; j++) {
            double x = (flt ? v[j].d : (double)v[j].i) - mean;
            ss += x * x;
          }
          double var = nv > 1 ? ss / (double)(nv - 1) : NAN;
          res.d = kind == TIDE_AGG_VAR ? var : sqrt(var);
        }
      }
      break;
    case TIDE_AGG_MIN:
    case TIDE_AGG_MAX: {
      bool max = kind == TIDE_AGG_MAX;
      for (uint64_t j = 0; j < nv; j++) {
        cell_t c = v[j];
        if (flt && isnan(c.d)) continue;
        if (res.null) {
          res = c;
          continue;
        }
        int cmp;
        if (is_text(type)) cmp = strcmp(c.s, res.s);
        else if (flt) cmp = (c.d > res.d) - (c.d < res.d);
        else cmp = (c.i > res.i) - (c.i < res.i);
        if (max ? cmp > 0 : cmp < 0) res = c;
      }
      break;
    }
    case TIDE_AGG_FIRST:
      if (nr) res = tcell(tb, col, rows[0]);
      break;
    case TIDE_AGG_LAST:
      if (nr) res = tcell(tb, col, rows[nr - 1]);
      break;
    case TIDE_AGG_MEDIAN:
    case TIDE_AGG_PCT:
    case TIDE_AGG_COUNT_DISTINCT: {
      double *dv = malloc((nv ? nv : 1) * sizeof *dv);
      int64_t *iv = malloc((nv ? nv : 1) * sizeof *iv);
      const char **sv = malloc((nv ? nv : 1) * sizeof *sv);
      for (uint64_t j = 0; j < nv; j++) {
        dv[j] = v[j].d;
        iv[j] = v[j].i;
        sv[j] = v[j].s;
      }
      if (is_text(type)) qsort(sv, nv, sizeof *sv, cmp_s);
      else if (flt) qsort(dv, nv, sizeof *dv, cmp_d);
      else qsort(iv, nv, sizeof *iv, cmp_i);
      if (kind == TIDE_AGG_COUNT_DISTINCT) {
        int64_t d = 0;
        for (uint64_t j = 0; j < nv; j++) {
          bool same;
          if (j == 0) same = false;
          else if (is_text(type)) same = strcmp(sv[j], sv[j - 1]) == 0;
          else if (flt) same = dv[j] == dv[j - 1] || (isnan(dv[j]) && isnan(dv[j - 1]));
          else same = iv[j] == iv[j - 1];
          d += !same;
        }
        if (count_nulls && nv < nr) d++;
        res.null = false;
        res.i = d;
      } else if (nv) {
        res.null = false;
        uint64_t lo = kind == TIDE_AGG_PCT ? (uint64_t)floor(pct * (double)(nv - 1)) : (nv - 1) / 2;
        if (kind == TIDE_AGG_MEDIAN && is_numeric(type)) {
          uint64_t hi = nv / 2;
          double a = flt ? dv[lo] : (double)iv[lo], b = flt ? dv[hi] : (double)iv[hi];
          res.d = a == b ? a : (a + b) / 2;
        } else {
          res.s = sv[lo];
          res.d = dv[lo];
          res.i = iv[lo];
        }
      }
      free(dv);
      free(iv);
      free(sv);
      break;
    }
    case TIDE_AGG_WAVG:
    case TIDE_AGG_WSUM: {
      double wv = 0, ws = 0;
      uint64_t cnt = 0;
      bool wflt = is_flt(tb->c[wcol].type);
      for (uint64_t j = 0; j < nr; j++) {
        cell_t a = tcell(tb, col, rows[j]), w = tcell(tb, wcol, rows[j]);
        if (a.null || w.null) continue;
        double x = flt ? a.d : (double)a.i, y = wflt ? w.d : (double)w.i;
        wv += x * y;
        ws += y;
        cnt++;
      }
      if (cnt) {
        res.null = false;
        res.d = kind == TIDE_AGG_WAVG ? wv / ws : wv;
      }
      break;
    }
    default:
      break;
  }
  free(v);
  return res;
}

/* Result type of an aggregation over a column of type t. */
static tide_type_t ref_type(tide_agg_kind_t kind, tide_type_t t) {
  switch (kind) {
    case TIDE_AGG_SUM:
    case TIDE_AGG_ABS_SUM:
      return is_flt(t) ? TIDE_F64 : TIDE_I64;
    case TIDE_AGG_AVG:
    case TIDE_AGG_STD:
    case TIDE_AGG_VAR:
    case TIDE_AGG_WAVG:
    case TIDE_AGG_WSUM:
      return TIDE_F64;
    case TIDE_AGG_COUNT:
    case TIDE_AGG_COUNT_DISTINCT:
      return TIDE_I64;
    case TIDE_AGG_MEDIAN:
      return is_numeric(t) ? TIDE_F64 : t;
    default:
      return t;
  }
}

/* ------------------------------------------------------ agg_by check */

typedef struct item_t {
  tide_agg_kind_t kind;
  int col, wcol;
  double pct;
  bool count_nulls;
  char out[64];
} item_t;

static const char *KIND_NAMES[] = {"sum", "avg", "count", "min", "max", "first", "last", "std",
                                   "var", "median", "pct", "cdist", "abssum", "wavg", "wsum"};

static bool kind_ok(tide_agg_kind_t k, tide_type_t t) {
  bool num = t == TIDE_BOOL || is_numeric(t);
  switch (k) {
    case TIDE_AGG_SUM: case TIDE_AGG_ABS_SUM: case TIDE_AGG_AVG: case TIDE_AGG_STD:
    case TIDE_AGG_VAR: case TIDE_AGG_WAVG: case TIDE_AGG_WSUM:
      return num;
    default:
      return true;
  }
}

static int g_bad;

/* Run agg_by with every applicable aggregation over the value columns and
 * compare with the reference. */
static void check_agg(const tbl_t *tb, const char *const *by, size_t nby, uint64_t seed,
                      const char *what) {
  int byidx[8];
  for (size_t k = 0; k < nby; k++) byidx[k] = col_of(tb, by[k]);
  static const char *vals[] = {"I", "L", "D", "F", "B", "T", "S", "Y", "E"};
  item_t items[200];
  size_t ni = 0;
  tide_agg_spec_t specs[200];
  const char *colsp[200];
  char specbuf[200][80];
  for (int k = 0; k < TIDE_AGG_KIND_COUNT; k++) {
    if (k == TIDE_AGG_COUNT) {
      item_t *it = &items[ni];
      it->kind = TIDE_AGG_COUNT;
      it->col = it->wcol = -1;
      snprintf(it->out, sizeof it->out, "Cnt");
      ni++;
      continue;
    }
    for (size_t v = 0; v < sizeof vals / sizeof vals[0]; v++) {
      int col = col_of(tb, vals[v]);
      if (!kind_ok((tide_agg_kind_t)k, tb->c[col].type)) continue;
      item_t *it = &items[ni++];
      it->kind = (tide_agg_kind_t)k;
      it->col = col;
      it->wcol = (k == TIDE_AGG_WAVG || k == TIDE_AGG_WSUM) ? col_of(tb, v % 2 ? "W" : "D") : -1;
      it->pct = (double)(v % 5) / 4.0 * 0.9 + 0.05 * (v % 2);
      it->count_nulls = v % 2;
      snprintf(it->out, sizeof it->out, "%s_%s", KIND_NAMES[k], vals[v]);
    }
  }
  for (size_t i = 0; i < ni; i++) {
    snprintf(specbuf[i], sizeof specbuf[i], "%s=%s", items[i].out,
             items[i].col >= 0 ? tb->c[items[i].col].name : "");
    colsp[i] = items[i].kind == TIDE_AGG_COUNT ? items[i].out : specbuf[i];
    specs[i] = (tide_agg_spec_t){items[i].kind, &colsp[i], 1, items[i].pct,
                                 items[i].wcol >= 0 ? tb->c[items[i].wcol].name : NULL,
                                 items[i].count_nulls};
  }
  tide_error err;
  tide_table_t *res = tide_agg_by(tb->t, specs, ni, by, nby, &err);
  CHECK_OK_PTR(res, err);
  if (!res) return;
  refg_t g;
  ref_group(tb, byidx, nby, &g);
  uint32_t ng = nby == 0 ? 1 : g.ng;
  CHECK_MSG(tide_table_size(res) == ng, "%s seed %llu: %llu groups, expected %u", what,
            (unsigned long long)seed, (unsigned long long)tide_table_size(res), ng);
  CHECK(tide_table_ncols(res) == nby + ni);
  if (tide_table_size(res) != ng || tide_table_ncols(res) != nby + ni) goto out;
  /* keys */
  for (size_t k = 0; k < nby; k++) {
    CHECK(tide_table_col_type(res, k) == tb->c[byidx[k]].type);
    CHECK(strcmp(tide_table_col_name(res, k), by[k]) == 0);
    for (uint32_t q = 0; q < ng; q++) {
      cell_t a = rcell(res, k, q), e = tcell(tb, byidx[k], g.first[q]);
      if (!cell_eq(tb->c[byidx[k]].type, a, e, 0) && g_bad++ < 10) {
        char sa[64], se[64];
        cell_str(tb->c[byidx[k]].type, a, sa, sizeof sa);
        cell_str(tb->c[byidx[k]].type, e, se, sizeof se);
        CHECK_MSG(false, "%s seed %llu: key %s group %u: %s, expected %s", what,
                  (unsigned long long)seed, by[k], q, sa, se);
      }
    }
  }
  /* aggregations */
  for (size_t i = 0; i < ni; i++) {
    const item_t *it = &items[i];
    size_t rc = nby + i;
    tide_type_t in_t = it->col >= 0 ? tb->c[it->col].type : TIDE_I64;
    tide_type_t et = ref_type(it->kind, in_t);
    CHECK_MSG(tide_table_col_type(res, rc) == et, "%s: %s type %s, expected %s", what, it->out,
              tide_type_name(tide_table_col_type(res, rc)), tide_type_name(et));
    CHECK(strcmp(tide_table_col_name(res, rc), it->out) == 0);
    for (uint32_t q = 0; q < ng; q++) {
      cell_t e = ref_agg(tb, &g, q, it->kind, it->col, it->wcol, it->pct, it->count_nulls);
      cell_t a = rcell(res, rc, q);
      if (et == TIDE_F32) e.d = (float)e.d;
      tu_checks++;
      if (!cell_eq(et, a, e, 1e-9)) {
        tu_failures++;
        if (g_bad++ < 10) {
          char sa[64], se[64];
          cell_str(et, a, sa, sizeof sa);
          cell_str(et, e, se, sizeof se);
          fprintf(stderr, "%s seed %llu: %s group %u: %s, expected %s\n", what,
                  (unsigned long long)seed, it->out, q, sa, se);
        }
      }
    }
  }
  /* threads: 1 vs 2 identical */
  {
    tide_set_threads(2, NULL);
    tide_table_t *r2 = tide_agg_by(tb->t, specs, ni, by, nby, &err);
    tide_set_threads(1, NULL);
    tide_table_t *r1 = tide_agg_by(tb->t, specs, ni, by, nby, &err);
    tide_set_threads(0, NULL);
    CHECK(r1 && r2);
    if (r1 && r2) CHECK_TABLES(r1, r2, 0);
    if (r1) CHECK_TABLES(r1, res, 0);
    tide_table_free(r1);
    tide_table_free(r2);
  }
  /* count_by */
  {
    tide_table_t *cb = tide_count_by(tb->t, "N", by, nby, &err);
    CHECK_OK_PTR(cb, err);
    if (cb) {
      CHECK(tide_table_size(cb) == ng && tide_table_ncols(cb) == nby + 1);
      CHECK(tide_table_col_type(cb, nby) == TIDE_I64);
      for (uint32_t q = 0; q < ng && tide_table_size(cb) == ng; q++) {
        cell_t a = rcell(cb, nby, q);
        if (a.i != (int64_t)(g.ng ? g.size[q] : 0)) {
          CHECK_MSG(false, "%s: count_by group %u: %lld", what, q, (long long)a.i);
          break;
        }
      }
      tide_table_free(cb);
    }
  }
  /* select_distinct */
  if (nby) {
    tide_table_t *sd = tide_select_distinct(tb->t, by, nby, &err);
    CHECK_OK_PTR(sd, err);
    if (sd) {
      CHECK(tide_table_size(sd) == g.ng && tide_table_ncols(sd) == nby);
      for (size_t k = 0; k < nby && tide_table_size(sd) == g.ng; k++)
        for (uint32_t q = 0; q < g.ng; q++)
          if (!cell_eq(tb->c[byidx[k]].type, rcell(sd, k, q), tcell(tb, byidx[k], g.first[q]), 0)) {
            CHECK_MSG(false, "%s: select_distinct %s row %u", what, by[k], q);
            break;
          }
      tide_table_free(sd);
    }
  }
  /* head_by / tail_by */
  static const uint64_t ns[] = {0, 1, 3};
  for (int tail = 0; tail < 2; tail++) {
    for (size_t j = 0; j < 3; j++) {
      uint64_t n = ns[j];
      tide_table_t *hb = tail ? tide_tail_by(tb->t, n, by, nby, &err) : tide_head_by(tb->t, n, by, nby, &err);
      CHECK_OK_PTR(hb, err);
      if (!hb) continue;
      /* Reference: kept rows (table-order ranks), then grouped by key in
       * order of first appearance, table order within a group. */
      uint64_t *seen = calloc(g.ng ? g.ng : 1, sizeof *seen);
      uint64_t *offs = calloc((size_t)g.ng + 1, sizeof *offs);
      uint64_t *rows = malloc((tb->n ? tb->n : 1) * sizeof *rows);
      bool *kept = calloc(tb->n ? tb->n : 1, sizeof *kept);
      uint64_t nk = 0;
      for (uint64_t i = 0; i < tb->n; i++) {
        uint32_t q = g.gid[i];
        uint64_t rank = seen[q]++;
        kept[i] = tail ? rank + n >= g.size[q] : rank < n;
        if (kept[i]) offs[q + 1]++, nk++;
      }
      for (uint32_t q = 0; q < g.ng; q++) offs[q + 1] += offs[q];
      for (uint64_t i = 0; i < tb->n; i++)
        if (kept[i]) rows[offs[g.gid[i]]++] = i;
      bool ok = nk == tide_table_size(hb) && tide_table_ncols(hb) == tide_table_ncols(tb->t);
      for (size_t k = 0; ok && k < nby; k++) ok = strcmp(tide_table_col_name(hb, k), by[k]) == 0;
      for (size_t c = 0; ok && c < tide_table_ncols(hb); c++) {
        int ic = tide_table_col_index(tb->t, tide_table_col_name(hb, c));
        ok = ic >= 0;
        for (uint64_t p = 0; ok && p < nk; p++)
          ok = cell_eq(tb->c[ic].type, rcell(hb, c, p), tcell(tb, (size_t)ic, rows[p]), 0);
      }
      CHECK_MSG(ok, "%s: %s n=%llu rows differ", what, tail ? "tail_by" : "head_by",
                (unsigned long long)n);
      free(offs);
      free(rows);
      free(kept);
      free(seen);
      tide_table_free(hb);
    }
  }
out:
  ref_free(&g);
  tide_table_free(res);
}

static void test_random(uint64_t seed) {
  tu_rng r = {seed};
  static const char *const by_sets[][3] = {
      {"KS"}, {"KT"}, {"KI"}, {"KH"}, {"KD"}, {"KB"}, {"KTS"}, {"K32"},
      {"KS", "K32", "KT"}, {"KD", "KB"}, {"KS", "KB", "K32"}, {"KB", "KS"}, {"KI", "KB"}};
  static const size_t by_n[] = {1, 1, 1, 1, 1, 1, 1, 1, 3, 2, 3, 2, 2};
  static const uint64_t sizes[] = {0, 1, 7, 300, 1200};
  for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
    for (int kd = 0; kd < 2; kd++) {
      tbl_t tb;
      uint64_t n = sizes[si];
      if (n > 1000 && kd == 1) n = 700;
      tbl_random(&tb, &r, n, kd ? 300 : 6, si % 2 == 1);
      char what[64];
      for (size_t b = 0; b < sizeof by_n / sizeof by_n[0]; b++) {
        snprintf(what, sizeof what, "n=%llu kdom=%d by=%s%s", (unsigned long long)n, kd ? 300 : 6,
                 by_sets[b][0], by_n[b] > 1 ? "+" : "");
        check_agg(&tb, by_sets[b], by_n[b], seed, what);
      }
      snprintf(what, sizeof what, "n=%llu no-by", (unsigned long long)n);
      check_agg(&tb, NULL, 0, seed, what);
      tbl_free(&tb);
    }
  }
}

/* ------------------------------------------------------- other cases */

static void test_all_by_and_errors(void) {
  tu_rng r = {99};
  tbl_t tb;
  tbl_random(&tb, &r, 500, 5, false);
  tide_error err;
  const char *by[] = {"KS"};
  /* agg_all_by(SUM) on a numeric-only view equals agg_by of each column */
  const char *keep[] = {"KS", "I", "D", "F", "E"};
  tide_table_t *v = tide_view(tb.t, keep, 5, &err);
  if (v) {
    static const tide_agg_kind_t kinds[] = {TIDE_AGG_SUM, TIDE_AGG_AVG, TIDE_AGG_MIN,
                                            TIDE_AGG_MAX, TIDE_AGG_FIRST, TIDE_AGG_LAST,
                                            TIDE_AGG_STD, TIDE_AGG_VAR, TIDE_AGG_MEDIAN,
                                            TIDE_AGG_ABS_SUM, TIDE_AGG_COUNT_DISTINCT};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
      tide_table_t *a = tide_agg_all_by(v, kinds[k], by, 1, &err);
      CHECK_OK_PTR(a, err);
      const char *cols[] = {"I", "D", "F", "E"};
      tide_agg_spec_t sp = {kinds[k], cols, 4, 0.5, NULL, false};
      tide_table_t *b = tide_agg_by(v, &sp, 1, by, 1, &err);
      CHECK_OK_PTR(b, err);
      if (a && b) CHECK_TABLES(a, b, 0);
      tide_table_free(a);
      tide_table_free(b);
    }
    tide_table_free(v);
  }
  /* agg_all_by on strings: sum is a type error, first works */
  tide_table_t *a = tide_agg_all_by(tb.t, TIDE_AGG_SUM, by, 1, &err);
  CHECK(a == NULL && err.status == TIDE_ERR_TYPE);
  CHECK_MSG(strstr(err.msg, "agg_all_by") && strstr(err.msg, "sum"), "msg: %s", err.msg);
  a = tide_agg_all_by(tb.t, TIDE_AGG_LAST, by, 1, &err);
  CHECK_OK_PTR(a, err);
  if (a) CHECK(tide_table_ncols(a) == tb.ncols);
  tide_table_free(a);
  a = tide_agg_all_by(tb.t, TIDE_AGG_WAVG, by, 1, &err);
  CHECK(a == NULL);
  /* errors: missing key, missing value column, bad type, bad pct, count
   * with 2 columns, missing weight, duplicate output */
  const char *bad_by[] = {"Nope"};
  const char *c1[] = {"I"};
  tide_agg_spec_t sp = {TIDE_AGG_SUM, c1, 1, 0, NULL, false};
  CHECK(tide_agg_by(tb.t, &sp, 1, bad_by, 1, &err) == NULL);
  CHECK_MSG(err.status == TIDE_ERR_NOT_FOUND && strstr(err.msg, "Nope"), "msg: %s", err.msg);
  const char *c2[] = {"Zzz"};
  sp.cols = c2;
  CHECK(tide_agg_by(tb.t, &sp, 1, by, 1, &err) == NULL);
  CHECK_MSG(strstr(err.msg, "Zzz") != NULL, "msg: %s", err.msg);
  const char *c3[] = {"X=S"};
  sp.cols = c3;
  CHECK(tide_agg_by(tb.t, &sp, 1, by, 1, &err) == NULL);
  CHECK_MSG(err.status == TIDE_ERR_TYPE && strstr(err.msg, "'S'"), "msg: %s", err.msg);
  const char *c4[] = {"I"};
  tide_agg_spec_t pp = {TIDE_AGG_PCT, c4, 1, 1.5, NULL, false};
  CHECK(tide_agg_by(tb.t, &pp, 1, by, 1, &err) == NULL);
  const char *c5[] = {"A", "B"};
  tide_agg_spec_t cc = {TIDE_AGG_COUNT, c5, 2, 0, NULL, false};
  CHECK(tide_agg_by(tb.t, &cc, 1, by, 1, &err) == NULL);
  tide_agg_spec_t ww = {TIDE_AGG_WAVG, c4, 1, 0, NULL, false};
  CHECK(tide_agg_by(tb.t, &ww, 1, by, 1, &err) == NULL);
  ww.weight = "S";
  CHECK(tide_agg_by(tb.t, &ww, 1, by, 1, &err) == NULL);
  const char *c6[] = {"KS"};
  tide_agg_spec_t dd = {TIDE_AGG_MIN, c6, 1, 0, NULL, false};
  CHECK(tide_agg_by(tb.t, &dd, 1, by, 1, &err) == NULL);
  CHECK_MSG(err.status == TIDE_ERR_DUPLICATE, "msg: %s", err.msg);
  const char *by2[] = {"KS", "KS"};
  CHECK(tide_count_by(tb.t, "N", by2, 2, &err) == NULL);
  CHECK(tide_head_by(tb.t, 1, bad_by, 1, &err) == NULL);
  CHECK(tide_select_distinct(tb.t, bad_by, 1, &err) == NULL);
  CHECK(tide_count_by(tb.t, "KS", by, 1, &err) == NULL);
  /* select_distinct with renames and with no columns (= all columns) */
  const char *ren[] = {"Sym=KS", "KB"};
  tide_table_t *sd = tide_select_distinct(tb.t, ren, 2, &err);
  CHECK_OK_PTR(sd, err);
  if (sd) CHECK(strcmp(tide_table_col_name(sd, 0), "Sym") == 0);
  tide_table_free(sd);
  sd = tide_select_distinct(tb.t, NULL, 0, &err);
  CHECK_OK_PTR(sd, err);
  if (sd) CHECK(tide_table_ncols(sd) == tb.ncols && tide_table_size(sd) <= tb.n);
  tide_table_free(sd);
  tbl_free(&tb);
}

/* Empty table, no keys: one row; sum null, count 0. */
static void test_empty(void) {
  const char *names[] = {"K", "V"};
  tide_type_t types[] = {TIDE_SYMBOL, TIDE_F64};
  tide_error err;
  tide_table_t *t = tide_table_create_empty(2, names, types, &err);
  CHECK_OK_PTR(t, err);
  if (!t) return;
  const char *v[] = {"V"};
  const char *cn[] = {"N"};
  tide_agg_spec_t sp[] = {{TIDE_AGG_SUM, v, 1, 0, NULL, false},
                          {TIDE_AGG_COUNT, cn, 1, 0, NULL, false}};
  tide_table_t *r = tide_agg_by(t, sp, 2, NULL, 0, &err);
  CHECK_OK_PTR(r, err);
  if (r) {
    CHECK(tide_table_size(r) == 1);
    CHECK(strcmp(tu_cell(r, "V", 0), "null") == 0);
    CHECK(tu_cell_f64(r, "N", 0) == 0);
  }
  tide_table_free(r);
  const char *by[] = {"K"};
  r = tide_agg_by(t, sp, 2, by, 1, &err);
  CHECK_OK_PTR(r, err);
  if (r) CHECK(tide_table_size(r) == 0 && tide_table_ncols(r) == 3);
  tide_table_free(r);
  tide_table_free(t);
}

/* Grouping internals: the direct and hash paths agree on a table where a
 * small-range column and its huge-range copy group identically. */
static void test_groups(void) {
  tu_rng r = {4242};
  const uint64_t n = 300000; /* several morsels: the parallel direct path */
  int64_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
  int32_t *cc = malloc(n * sizeof *cc);
  for (uint64_t i = 0; i < n; i++) {
    a[i] = tu_below(&r, 20) == 0 ? TIDE_NULL_I64 : (int64_t)tu_below(&r, 3000) - 1500;
    b[i] = a[i] == TIDE_NULL_I64 ? a[i] : a[i] * 0x100000001LL;
    cc[i] = (int32_t)tu_below(&r, 7);
  }
  /* S: the text of A (null where A is null) */
  char *sbuf = malloc(n * 16);
  const char **sv = malloc(n * sizeof *sv);
  for (uint64_t i = 0; i < n; i++) {
    snprintf(sbuf + i * 16, 16, "s%lld", (long long)a[i]);
    sv[i] = a[i] == TIDE_NULL_I64 ? NULL : sbuf + i * 16;
  }
  const char *names[] = {"A", "B", "C", "S"};
  tide_type_t types[] = {TIDE_I64, TIDE_I64, TIDE_I32, TIDE_STRING};
  const void *cols[] = {a, b, cc, sv};
  tide_table_t *t = tu_table(n, 4, names, types, cols);
  tide_error err;
  tide_groups_t ga, gb;
  tide_source_t *sa = tide_table_col_source(t, 0), *sb = tide_table_col_source(t, 1);
  tide_set_threads(3, NULL);
  CHECK(tide__groups_build(tide_table_rowset(t), 1, &sa, &ga, "test", &err) == TIDE_OK);
  tide_set_threads(0, NULL);
  CHECK(tide__groups_build(tide_table_rowset(t), 1, &sb, &gb, "test", &err) == TIDE_OK);
  CHECK(ga.ngroups == gb.ngroups);
  CHECK(memcmp(ga.ids, gb.ids, n * sizeof *ga.ids) == 0);
  CHECK(memcmp(ga.first_key, gb.first_key, ga.ngroups * sizeof *ga.first_key) == 0);
  tide__groups_destroy(&ga);
  tide__groups_destroy(&gb);
  /* hash paths (parallel with 2 and 3 threads, sequential with 1) equal
   * the direct path: strings, and two columns */
  {
    tide_source_t *ss = tide_table_col_source(t, 3), *sc = tide_table_col_source(t, 2);
    tide_source_t *da[2] = {sc, sa}, *hb[2] = {sc, sb}, *hs[2] = {ss, sc};
    for (int th = 1; th <= 3; th++) {
      tide_set_threads(th, NULL);
      CHECK(tide__groups_build(tide_table_rowset(t), 1, &sa, &ga, "test", &err) == TIDE_OK);
      CHECK(tide__groups_build(tide_table_rowset(t), 1, &ss, &gb, "test", &err) == TIDE_OK);
      CHECK_MSG(ga.ngroups == gb.ngroups && memcmp(ga.ids, gb.ids, n * sizeof *ga.ids) == 0 &&
                    memcmp(ga.first_key, gb.first_key, ga.ngroups * sizeof *ga.first_key) == 0,
                "string key, %d threads", th);
      tide__groups_destroy(&ga);
      tide__groups_destroy(&gb);
      CHECK(tide__groups_build(tide_table_rowset(t), 2, da, &ga, "test", &err) == TIDE_OK);
      CHECK(tide__groups_build(tide_table_rowset(t), 2, hb, &gb, "test", &err) == TIDE_OK);
      CHECK_MSG(ga.ngroups == gb.ngroups && memcmp(ga.ids, gb.ids, n * sizeof *ga.ids) == 0 &&
                    memcmp(ga.first_key, gb.first_key, ga.ngroups * sizeof *ga.first_key) == 0,
                "two columns, %d threads", th);
      tide__groups_destroy(&gb);
      /* (S, C) groups like (C, A) */
      CHECK(tide__groups_build(tide_table_rowset(t), 2, hs, &gb, "test", &err) == TIDE_OK);
      CHECK_MSG(ga.ngroups == gb.ngroups && memcmp(ga.ids, gb.ids, n * sizeof *ga.ids) == 0,
                "string + int, %d threads", th);
      tide__groups_destroy(&ga);
      tide__groups_destroy(&gb);
    }
    tide_set_threads(0, NULL);
  }
  /* packed keys (C and A become one int64, S stays a column): the
   * sequential loop (1 thread), the 2-thread probe and the parallel plan
   * (3 threads) agree with each other, and all with the direct path over
   * (C, A), which packs nothing (the independent reference) */
  {
    tide_source_t *sc = tide_table_col_source(t, 2), *ss = tide_table_col_source(t, 3);
    tide_source_t *three[3] = {ss, sc, sa};
    tide_groups_t g1, g2, g3;
    tide_set_threads(1, NULL);
    CHECK(tide__groups_build(tide_table_rowset(t), 3, three, &g1, "test", &err) == TIDE_OK);
    tide_set_threads(2, NULL);
    CHECK(tide__groups_build(tide_table_rowset(t), 3, three, &g2, "test", &err) == TIDE_OK);
    tide_set_threads(3, NULL);
    CHECK(tide__groups_build(tide_table_rowset(t), 3, three, &g3, "test", &err) == TIDE_OK);
    tide_set_threads(0, NULL);
    CHECK_MSG(g1.ngroups == g3.ngroups && memcmp(g1.ids, g3.ids, n * sizeof *g1.ids) == 0 &&
                  memcmp(g1.first_key, g3.first_key, g1.ngroups * sizeof *g1.first_key) == 0,
              "packed (S, C, A): 1 vs 3 threads");
    CHECK_MSG(g2.ngroups == g3.ngroups && memcmp(g2.ids, g3.ids, n * sizeof *g2.ids) == 0,
              "packed (S, C, A): 2 vs 3 threads");
    /* (S, C, A) groups like (C, A): S is A's text */
    tide_source_t *two[2] = {sc, sa};
    tide_groups_t gd;
    CHECK(tide__groups_build(tide_table_rowset(t), 2, two, &gd, "test", &err) == TIDE_OK);
    CHECK_MSG(gd.ngroups == g1.ngroups && memcmp(gd.ids, g1.ids, n * sizeof *gd.ids) == 0,
              "packed (S, C, A) vs direct (C, A)");
    tide__groups_destroy(&g1);
    tide__groups_destroy(&g2);
    tide__groups_destroy(&g3);
    tide__groups_destroy(&gd);
  }
  /* nearly every row a new group (a wide int key: the hash path): on 2
   * threads the parallel plan gives up after its probe and the sequential
   * loop runs; with a few repeats late in the table, ids and first keys
   * must equal the 1-thread ones and a naive first-appearance numbering */
  {
    int64_t *u = malloc(n * sizeof *u);
    for (uint64_t i = 0; i < n; i++)
      u[i] = i > n / 2 && tu_below(&r, 4) == 0 ? (int64_t)tu_below(&r, (uint32_t)i) * 1000003
                                                : (int64_t)i * 1000003;
    const char *un[] = {"U"};
    tide_type_t ut[] = {TIDE_I64};
    const void *uc[] = {u};
    tide_table_t *tu = tu_table(n, 1, un, ut, uc);
    tide_source_t *su = tide_table_col_source(tu, 0);
    uint32_t *ref = malloc(n * sizeof *ref);
    uint32_t *first_of = malloc(n * sizeof *first_of); /* by i: the value's id */
    uint32_t nref = 0;
    for (uint64_t i = 0; i < n; i++) first_of[i] = UINT32_MAX;
    for (uint64_t i = 0; i < n; i++) {
      uint64_t v = (uint64_t)(u[i] / 1000003);
      if (first_of[v] == UINT32_MAX) first_of[v] = nref++;
      ref[i] = first_of[v];
    }
    for (int th = 1; th <= 3; th++) {
      tide_set_threads(th, NULL);
      CHECK(tide__groups_build(tide_table_rowset(tu), 1, &su, &ga, "test", &err) == TIDE_OK);
      CHECK_MSG(ga.ngroups == nref && memcmp(ga.ids, ref, n * sizeof *ref) == 0,
                "new group per row, %d threads: %u groups, expected %u", th, ga.ngroups, nref);
      tide__groups_destroy(&ga);
    }
    tide_set_threads(0, NULL);
    free(ref);
    free(first_of);
    tide_table_free(tu);
    free(u);
  }
  /* two columns (direct, parallel) with 1 and 3 threads */
  {
    tide_source_t *two[2] = {tide_table_col_source(t, 2), sa};
    tide_set_threads(1, NULL);
    CHECK(tide__groups_build(tide_table_rowset(t), 2, two, &ga, "test", &err) == TIDE_OK);
    tide_set_threads(3, NULL);
    CHECK(tide__groups_build(tide_table_rowset(t), 2, two, &gb, "test", &err) == TIDE_OK);
    tide_set_threads(0, NULL);
    CHECK(ga.ngroups == gb.ngroups && ga.ngroups > 100);
    CHECK(memcmp(ga.ids, gb.ids, n * sizeof *ga.ids) == 0);
    CHECK(memcmp(ga.first_key, gb.first_key, ga.ngroups * sizeof *ga.first_key) == 0);
    tide__groups_destroy(&ga);
    tide__groups_destroy(&gb);
  }
  /* a sparse RowSet (every second row) */
  uint64_t *keys = malloc(n * sizeof *keys);
  uint64_t nk = 0;
  for (uint64_t i = 0; i < n; i += 2) keys[nk++] = i;
  tide_rowset_t *rs = tide_rowset_from_keys(keys, nk);
  free(keys);
  tide_source_t *srcs2[] = {sa, sb};
  tide_table_t *w = tide_table_create(rs, 2, names, srcs2, &err);
  tide_rowset_free(rs);
  CHECK_OK_PTR(w, err);
  if (w) {
    tide_source_t *s2 = tide_table_col_source(w, 0);
    tide_set_threads(2, NULL);
    CHECK(tide__groups_build(tide_table_rowset(w), 1, &s2, &ga, "test", &err) == TIDE_OK);
    tide_set_threads(0, NULL);
    uint32_t ng = 0;
    bool ok = true;
    for (uint64_t p = 0; p < ga.nrows; p++) {
      uint64_t key = tide_rowset_key_at(tide_table_rowset(w), p);
      uint32_t id = ga.ids[p];
      if (id == ng) {
        ok &= ga.first_key[ng] == key;
        ng++;
      }
      ok &= a[ga.first_key[id]] == a[key];
    }
    CHECK(ok && ng == ga.ngroups);
    tide__groups_destroy(&ga);
    tide_table_free(w);
  }
  tide_table_free(t);
  free(a);
  free(b);
  free(cc);
  free(sbuf);
  free(sv);
}

/* Several morsels: sum/min/max/avg take the parallel partial path. Check
 * against a one-pass reference (tolerance for float sums) and 1 vs 3
 * threads exactly. */
static void test_morsels(void) {
  tu_rng r = {5150};
  const uint64_t n = 140000; /* two morsels */
  int32_t *k = malloc(n * sizeof *k), *iv = malloc(n * sizeof *iv);
  double *dv = malloc(n * sizeof *dv);
  char *sb = malloc(n * 8);
  const char **sv = malloc(n * sizeof *sv);
  for (uint64_t i = 0; i < n; i++) {
    snprintf(sb + i * 8, 8, "v%d", (int)tu_below(&r, 300));
    sv[i] = tu_below(&r, 20) == 0 ? NULL : sb + i * 8;
    k[i] = tu_below(&r, 50) == 0 ? TIDE_NULL_I32 : (int32_t)tu_below(&r, 2000);
    iv[i] = tu_below(&r, 10) == 0 ? TIDE_NULL_I32 : (int32_t)tu_below(&r, 2000001) - 1000000;
    dv[i] = tu_below(&r, 10) == 0 ? TIDE_NULL_F64 : tu_unit(&r) * 200 - 100;
  }
  const char *names[] = {"K", "I", "D", "S"};
  tide_type_t types[] = {TIDE_I32, TIDE_I32, TIDE_F64, TIDE_STRING};
  const void *cols[] = {k, iv, dv, sv};
  tide_table_t *t = tu_table(n, 4, names, types, cols);
  /* order statistics: groups sorted / selected in parallel */
  {
    const char *m1[] = {"MedD=D"}, *m2[] = {"PctI=I"}, *m3[] = {"CdI=I"}, *m4[] = {"MedI=I"},
               *m5[] = {"CdS=S"}, *m6[] = {"MedS=S"};
    tide_agg_spec_t os[] = {{TIDE_AGG_MEDIAN, m1, 1, 0, NULL, false},
                            {TIDE_AGG_PCT, m2, 1, 0.3, NULL, false},
                            {TIDE_AGG_COUNT_DISTINCT, m3, 1, 0, NULL, true},
                            {TIDE_AGG_MEDIAN, m4, 1, 0, NULL, false},
                            {TIDE_AGG_COUNT_DISTINCT, m5, 1, 0, NULL, false},
                            {TIDE_AGG_MEDIAN, m6, 1, 0, NULL, false}};
    const char *byk[] = {"K"};
    tide_error e2;
    tide_set_threads(3, NULL);
    tide_table_t *o3 = tide_agg_by(t, os, 6, byk, 1, &e2);
    tide_set_threads(1, NULL);
    tide_table_t *o1 = tide_agg_by(t, os, 6, byk, 1, &e2);
    tide_set_threads(0, NULL);
    CHECK_OK_PTR(o1, e2);
    CHECK_OK_PTR(o3, e2);
    if (o1 && o3) CHECK_TABLES(o1, o3, 0);
    /* median of D against qsort per group */
    if (o1) {
      int32_t gid2[2001];
      for (int j = 0; j < 2001; j++) gid2[j] = -1;
      int32_t ng2 = 0;
      int32_t *rg = malloc(n * sizeof *rg);
      for (uint64_t i = 0; i < n; i++) {
        int slot = k[i] == TIDE_NULL_I32 ? 2000 : k[i];
        if (gid2[slot] < 0) gid2[slot] = ng2++;
        rg[i] = gid2[slot];
      }
      double *vals = malloc(n * sizeof *vals);
      int bad = 0;
      for (int32_t g = 0; g < ng2; g += 97) { /* a sample of groups */
        uint64_t m = 0;
        for (uint64_t i = 0; i < n; i++)
          if (rg[i] == g && dv[i] != TIDE_NULL_F64) vals[m++] = dv[i];
        qsort(vals, m, sizeof *vals, cmp_d);
        double e = m == 0 ? NAN : (vals[(m - 1) / 2] + vals[m / 2]) / 2;
        double a = tu_cell_f64(o1, "MedD", (uint64_t)g);
        if (!(a == e || (isnan(a) && isnan(e))) && bad++ < 3)
          CHECK_MSG(false, "morsels median group %d: %g vs %g", g, a, e);
      }
      free(vals);
      free(rg);
    }
    tide_table_free(o1);
    tide_table_free(o3);
  }
  const char *c1[] = {"SI=I"}, *c2[] = {"SD=D"}, *c3[] = {"MinD=D"}, *c4[] = {"MaxI=I"},
             *c5[] = {"AvgD=D"}, *c6[] = {"AbsI=I"}, *c7[] = {"MinI=I"}, *c8[] = {"MaxD=D"};
  tide_agg_spec_t sp[] = {{TIDE_AGG_SUM, c1, 1, 0, NULL, false},    {TIDE_AGG_SUM, c2, 1, 0, NULL, false},
                          {TIDE_AGG_MIN, c3, 1, 0, NULL, false},    {TIDE_AGG_MAX, c4, 1, 0, NULL, false},
                          {TIDE_AGG_AVG, c5, 1, 0, NULL, false},    {TIDE_AGG_ABS_SUM, c6, 1, 0, NULL, false},
                          {TIDE_AGG_MIN, c7, 1, 0, NULL, false},    {TIDE_AGG_MAX, c8, 1, 0, NULL, false}};
  const char *by[] = {"K"};
  tide_error err;
  tide_set_threads(3, NULL);
  tide_table_t *r3 = tide_agg_by(t, sp, 8, by, 1, &err);
  tide_set_threads(1, NULL);
  tide_table_t *r1 = tide_agg_by(t, sp, 8, by, 1, &err);
  tide_set_threads(0, NULL);
  CHECK_OK_PTR(r3, err);
  CHECK_OK_PTR(r1, err);
  if (r1 && r3) CHECK_TABLES(r1, r3, 0);
  /* reference: groups by first appearance of K (slot 2000 = null) */
  int32_t gid[2001];
  for (int j = 0; j < 2001; j++) gid[j] = -1;
  int32_t ng = 0;
  int64_t si[2001] = {0}, ai[2001] = {0}, mxi[2001], mni[2001];
  double sd[2001] = {0}, mnd[2001], mxd[2001];
  uint64_t ci[2001] = {0}, cd[2001] = {0};
  for (uint64_t i = 0; i < n; i++) {
    int slot = k[i] == TIDE_NULL_I32 ? 2000 : k[i];
    if (gid[slot] < 0) gid[slot] = ng++;
    int g = gid[slot];
    if (iv[i] != TIDE_NULL_I32) {
      if (!ci[g] || iv[i] > mxi[g]) mxi[g] = iv[i];
      if (!ci[g] || iv[i] < mni[g]) mni[g] = iv[i];
      si[g] += iv[i];
      ai[g] += iv[i] < 0 ? -iv[i] : iv[i];
      ci[g]++;
    }
    if (dv[i] != TIDE_NULL_F64) {
      if (!cd[g] || dv[i] > mxd[g]) mxd[g] = dv[i];
      if (!cd[g] || dv[i] < mnd[g]) mnd[g] = dv[i];
      sd[g] += dv[i];
      cd[g]++;
    }
  }
  if (r1) {
    CHECK(tide_table_size(r1) == (uint64_t)ng);
    int bad = 0;
    for (int32_t g = 0; g < ng && tide_table_size(r1) == (uint64_t)ng; g++) {
      bool ok = tu_cell_f64(r1, "SI", g) == (double)si[g] && tu_cell_f64(r1, "AbsI", g) == (double)ai[g] &&
                tu_cell_f64(r1, "MaxI", g) == (double)mxi[g] && tu_cell_f64(r1, "MinI", g) == (double)mni[g] &&
                tu_cell_f64(r1, "MinD", g) == mnd[g] && tu_cell_f64(r1, "MaxD", g) == mxd[g] &&
                fabs(tu_cell_f64(r1, "SD", g) - sd[g]) <= 1e-9 * (1 + fabs(sd[g])) &&
                fabs(tu_cell_f64(r1, "AvgD", g) - sd[g] / (double)cd[g]) <= 1e-9 * (1 + fabs(sd[g]));
      if (!ok && bad++ < 3) CHECK_MSG(false, "morsels: group %d differs", g);
    }
  }
  tide_table_free(r1);
  tide_table_free(r3);
  tide_table_free(t);
  free(k);
  free(iv);
  free(dv);
  free(sb);
  free(sv);
}

/* The fused scan of agg_by (sum, abs_sum, avg, count with no key or
 * directly mapped keys: ops/agg.c "fused direct scan") against a naive
 * row loop, over several morsels, several key sets (integer, bool and
 * symbol keys with nulls, a key range too wide for the fused path), a
 * filtered RowSet, and int64 values large enough that integer avg falls
 * back to doubles. Also: 1 vs 2 threads exactly, and the same sums and
 * averages (exactly, with keys) when a min forces the grouping path. */
#define FZ_N 150000u /* two morsels */
static int cmp_pair_u64(const void *a, const void *b) {
  const uint64_t *x = a, *y = b;
  if (x[0] != y[0]) return (x[0] > y[0]) - (x[0] < y[0]);
  return (x[1] > y[1]) - (x[1] < y[1]);
}

/* An int avg whose magnitudes force the double pass, alone in its
 * query: the second pass must keep the row counts (it wiped them once,
 * leaving no groups: found in review). With and without a key. */
static void test_fused_avg_alone(void) {
  const int64_t big = (int64_t)1 << 61; /* 3 rows: |x| * 3 >= 2^62 */
  int64_t k[] = {1, 1, 2}, v[] = {big, big, 5};
  const char *names[] = {"K", "V"};
  tide_type_t types[] = {TIDE_I64, TIDE_I64};
  const void *cols[] = {k, v};
  tide_table_t *t = tu_table(3, 2, names, types, cols);
  const char *av[] = {"A=V"}, *by[] = {"K"};
  tide_agg_spec_t sp[] = {{TIDE_AGG_AVG, av, 1, 0, NULL, false}};
  tide_error err;
  for (int th = 1; th <= 2; th++) {
    tide_set_threads(th, NULL);
    tide_table_t *o = tide_agg_by(t, sp, 1, by, 1, &err);
    CHECK_OK_PTR(o, err);
    if (o) {
      CHECK_MSG(tide_table_size(o) == 2, "avg alone by K: %llu rows",
                (unsigned long long)tide_table_size(o));
      if (tide_table_size(o) == 2) {
        CHECK(tu_cell_f64(o, "A", 0) == (double)big);
        CHECK(tu_cell_f64(o, "A", 1) == 5.0);
      }
    }
    tide_table_free(o);
    o = tide_agg_by(t, sp, 1, NULL, 0, &err);
    CHECK_OK_PTR(o, err);
    if (o) {
      CHECK_MSG(tide_table_size(o) == 1, "avg alone, no key: %llu rows",
                (unsigned long long)tide_table_size(o));
      if (tide_table_size(o) == 1)
        CHECK(fabs(tu_cell_f64(o, "A", 0) - ((double)big * 2 + 5) / 3) <= 1e3);
    }
    tide_table_free(o);
  }
  tide_set_threads(0, NULL);
  tide_table_free(t);
}

static void test_fused(void) {
  tu_rng r = {90210};
  const uint64_t n = FZ_N;
  int8_t *k8 = malloc(n), *kb = malloc(n), *v8 = malloc(n), *vb = malloc(n);
  int64_t *k64 = malloc(n * 8), *kw = malloc(n * 8), *v64 = malloc(n * 8), *vh = malloc(n * 8);
  int32_t *v32 = malloc(n * 4), *k32 = malloc(n * 4);
  int64_t *vn = malloc(n * 8), *vg = malloc(n * 8);
  float *vf = malloc(n * 4);
  double *vd = malloc(n * 8), *ve = malloc(n * 8);
  const char **ks = malloc(n * sizeof *ks);
  static const char *SY[] = {"b", "a", "d", "c", "e"};
  for (uint64_t i = 0; i < n; i++) {
    k8[i] = tu_below(&r, 40) == 0 ? TIDE_NULL_I8 : (int8_t)((int)tu_below(&r, 30) - 10);
    kb[i] = tu_below(&r, 30) == 0 ? TIDE_NULL_BOOL : (int8_t)tu_below(&r, 2);
    k64[i] = tu_below(&r, 50) == 0 ? TIDE_NULL_I64 : (int64_t)1000000000000LL + (int64_t)tu_below(&r, 25);
    /* rare new keys late in the table: groups first seen in later morsels */
    if (i > n / 2 && tu_below(&r, 20000) == 0) k64[i] = (int64_t)1000000000025LL + (int64_t)tu_below(&r, 5);
    /* too wide for the fused path, direct for the grouping path */
    kw[i] = (int64_t)tu_below(&r, 100000) * 2;
    ks[i] = tu_below(&r, 25) == 0 ? NULL : SY[tu_below(&r, 5)];
    v8[i] = tu_below(&r, 10) == 0 ? TIDE_NULL_I8 : (int8_t)((int)tu_below(&r, 200) - 100);
    vb[i] = tu_below(&r, 10) == 0 ? TIDE_NULL_BOOL : (int8_t)tu_below(&r, 2);
    v32[i] = tu_below(&r, 10) == 0 ? TIDE_NULL_I32 : (int32_t)tu_below(&r, 2000001) - 1000000;
    v64[i] = tu_below(&r, 10) == 0 ? TIDE_NULL_I64 : (int64_t)tu_below(&r, 1u << 30) - (1 << 29);
    vh[i] = tu_below(&r, 10) == 0 ? TIDE_NULL_I64
                                  : (int64_t)(tu_next(&r) >> 3) - ((int64_t)1 << 60); /* ~2^60 */
    vf[i] = tu_below(&r, 10) == 0 ? TIDE_NULL_F32 : (float)(tu_unit(&r) * 100 - 50);
    vd[i] = tu_below(&r, 10) == 0 ? TIDE_NULL_F64 : tu_unit(&r) * 2000 - 1000;
    k32[i] = tu_below(&r, 50) == 0 ? TIDE_NULL_I32 : (int32_t)tu_below(&r, 26) - 5;
    /* no nulls: the one-pass loop's null-free path (and its magnitude
     * bound: VG's avg must take the double fallback from it) */
    vn[i] = (int64_t)tu_below(&r, 2000001) - 1000000;
    vg[i] = (int64_t)(tu_next(&r) >> 3) - ((int64_t)1 << 60);
    ve[i] = tu_unit(&r) * 200 - 100;
  }
  /* the groups whose key is null in k8 hold no V32 value: an all-null sum */
  for (uint64_t i = 0; i < n; i++)
    if (k8[i] == TIDE_NULL_I8) v32[i] = TIDE_NULL_I32;
  const char *names[] = {"K8", "KB", "K64", "KW", "KS", "V8", "VB", "V32", "V64",
                         "VH", "VF", "VD", "K32", "VN", "VG", "VE"};
  tide_type_t types[] = {TIDE_I8,  TIDE_BOOL, TIDE_I64, TIDE_I64, TIDE_SYMBOL, TIDE_I8,
                         TIDE_BOOL, TIDE_I32, TIDE_I64, TIDE_I64, TIDE_F32,    TIDE_F64,
                         TIDE_I32,  TIDE_I64, TIDE_I64, TIDE_F64};
  const void *cols[] = {k8, kb, k64, kw, ks, v8, vb, v32, v64, vh, vf, vd, k32, vn, vg, ve};
  tide_table_t *full = tu_table(n, 16, names, types, cols);
  tide_error err;
  tide_table_t *filt = tide_where(full, "(V8 % 3) != 0", &err);
  CHECK_OK_PTR(filt, err);
  const char *a1[] = {"V8", "VB", "V32", "V64", "VH", "VF", "VD", "VN", "VE"};
  const char *a2[] = {"AV8=V8", "AV32=V32", "AV64=V64", "AVH=VH", "AVF=VF",
                      "AVD=VD", "AVB=VB",   "AVN=VN",   "AVG=VG", "AVE=VE"};
  const char *a3[] = {"SA32=V32", "SAD=VD", "SAH=VH"};
  const char *a4[] = {"MinD=VD"}, *a5[] = {"N"};
  tide_agg_spec_t sp[] = {{TIDE_AGG_SUM, a1, 9, 0, NULL, false},
                          {TIDE_AGG_AVG, a2, 10, 0, NULL, false},
                          {TIDE_AGG_ABS_SUM, a3, 3, 0, NULL, false},
                          {TIDE_AGG_COUNT, a5, 1, 0, NULL, false},
                          {TIDE_AGG_MIN, a4, 1, 0, NULL, false}};
  const char *by0[] = {NULL}, *by1[] = {"K8"}, *by2[] = {"K64"}, *by3[] = {"KB", "K8"},
             *by4[] = {"K8", "K64", "KB"}, *by5[] = {"KS"}, *by6[] = {"KW"}, *by7[] = {"KS", "K8"},
             *by8[] = {"K32"};
  const char *const *bys[] = {by0, by1, by2, by3, by4, by5, by6, by7, by8};
  const size_t nbys[] = {0, 1, 1, 2, 3, 1, 1, 2, 1};
  long checks = 0;
  for (int ti = 0; ti < 2; ti++) {
    tide_table_t *t = ti ? filt : full;
    if (!t) continue;
    /* positions of the table's rows in the arrays (null != 0 holds: nulls stay) */
    uint64_t m = 0;
    uint32_t *rowpos = malloc(n * sizeof *rowpos);
    for (uint64_t i = 0; i < n; i++)
      if (!ti || v8[i] == TIDE_NULL_I8 || v8[i] % 3 != 0) rowpos[m++] = (uint32_t)i;
    CHECK(tide_table_size(t) == m);
    for (size_t b = 0; b < 9; b++) {
      if ((ti && b != 4) || b == 3) continue; /* filtered: one key set */
      tide_set_threads(2, NULL);
      tide_table_t *o3 = tide_agg_by(t, sp, 4, bys[b], nbys[b], &err);
      CHECK_OK_PTR(o3, err);
      tide_set_threads(1, NULL);
      tide_table_t *o1 = tide_agg_by(t, sp, 4, bys[b], nbys[b], &err);
      CHECK_OK_PTR(o1, err);
      tide_table_t *og = tide_agg_by(t, sp, 5, bys[b], nbys[b], &err); /* grouping path */
      CHECK_OK_PTR(og, err);
      tide_set_threads(0, NULL);
      if (!o1 || !o3 || !og) {
        tide_table_free(o1);
        tide_table_free(o3);
        tide_table_free(og);
        continue;
      }
      CHECK_TABLES(o1, o3, 0);
      const char *drop[] = {"MinD"};
      tide_table_t *ogv = tide_drop_columns(og, drop, 1, &err);
      CHECK_OK_PTR(ogv, err);
      /* without keys the fused float sums use lanes: not the same order */
      if (ogv) CHECK_TABLES(o1, ogv, nbys[b] ? 0 : 1e-6);
      tide_table_free(ogv);
      /* naive reference: groups by first appearance of the key tuple */
      uint64_t *code = malloc(m * sizeof *code);
      for (uint64_t j = 0; j < m; j++) {
        uint64_t i = rowpos[j], c = 0;
        for (size_t k = 0; k < nbys[b]; k++) {
          const char *kn = bys[b][k];
          uint64_t v, card;
          if (!strcmp(kn, "K8")) v = k8[i] == TIDE_NULL_I8 ? 0 : (uint64_t)(k8[i] + 11), card = 64;
          else if (!strcmp(kn, "KB")) v = kb[i] == TIDE_NULL_BOOL ? 0 : (uint64_t)kb[i] + 1, card = 3;
          else if (!strcmp(kn, "K32")) v = k32[i] == TIDE_NULL_I32 ? 0 : (uint64_t)(k32[i] + 6), card = 64;
          else if (!strcmp(kn, "K64"))
            v = k64[i] == TIDE_NULL_I64 ? 0 : (uint64_t)(k64[i] - 999999999999LL), card = 64;
          else if (!strcmp(kn, "KS")) {
            v = 0;
            for (int q = 0; q < 5; q++)
              if (ks[i] == SY[q]) v = (uint64_t)q + 1;
            card = 6;
          } else v = (uint64_t)kw[i], card = 400001;
          c = c * card + v;
        }
        code[j] = c;
      }
      /* group ids by first appearance (quadratic-free: sort codes) */
      uint64_t *gid = malloc(m * sizeof *gid);
      uint64_t ng = 0;
      {
        uint64_t *srt = malloc(m * 2 * sizeof *srt);
        for (uint64_t j = 0; j < m; j++) srt[2 * j] = code[j], srt[2 * j + 1] = j;
        qsort(srt, m, 16, cmp_pair_u64);
        uint64_t *firstpos = malloc(m * sizeof *firstpos);
        for (uint64_t j = 0; j < m;) {
          uint64_t e = j;
          while (e < m && srt[2 * e] == srt[2 * j]) e++;
          for (uint64_t q = j; q < e; q++) firstpos[srt[2 * q + 1]] = srt[2 * j + 1];
          j = e;
        }
        uint64_t *rank = malloc(m * sizeof *rank);
        for (uint64_t j = 0; j < m; j++) {
          if (firstpos[j] == j) rank[j] = ng++;
          gid[j] = rank[firstpos[j]];
        }
        free(rank);
        free(firstpos);
        free(srt);
      }
      CHECK_MSG(tide_table_size(o1) == (nbys[b] ? ng : 1), "fused: %llu groups, expected %llu",
                (unsigned long long)tide_table_size(o1), (unsigned long long)ng);
      if (tide_table_size(o1) == ng && ng <= 1000) {
        /* columns: sums of 9, avgs of 10 (VG: avg only), abs sums of 3, count */
        const void *vals[] = {v8, vb, v32, v64, vh, vf, vd, vn, ve, vg};
        const tide_type_t vt[] = {TIDE_I8,  TIDE_BOOL, TIDE_I32, TIDE_I64, TIDE_I64,
                                  TIDE_F32, TIDE_F64,  TIDE_I64, TIDE_F64, TIDE_I64};
        const char *sname[] = {"V8", "VB", "V32", "V64", "VH", "VF", "VD", "VN", "VE", NULL};
        const char *aname[] = {"AV8", "AVB", "AV32", "AV64", "AVH",
                               "AVF", "AVD", "AVN",  "AVE",  "AVG"};
        uint64_t *isum = calloc(ng, 8), *cnt = calloc(ng, 8), *rows = calloc(ng, 8);
        long double *dsum = calloc(ng, sizeof *dsum), *dabs = calloc(ng, sizeof *dabs);
        for (uint64_t j = 0; j < m; j++) rows[gid[j]]++;
        for (int c = 0; c < 10; c++) {
          memset(isum, 0, ng * 8);
          memset(cnt, 0, ng * 8);
          for (uint64_t g = 0; g < ng; g++) dsum[g] = dabs[g] = 0;
          for (uint64_t j = 0; j < m; j++) {
            uint64_t i = rowpos[j];
            long double x;
            bool nul;
            switch (vt[c]) {
              case TIDE_I8: case TIDE_BOOL: nul = ((const int8_t *)vals[c])[i] == INT8_MIN; x = ((const int8_t *)vals[c])[i]; break;
              case TIDE_I32: nul = ((const int32_t *)vals[c])[i] == TIDE_NULL_I32; x = ((const int32_t *)vals[c])[i]; break;
              case TIDE_I64: nul = ((const int64_t *)vals[c])[i] == TIDE_NULL_I64; x = (long double)((const int64_t *)vals[c])[i]; break;
              case TIDE_F32: nul = ((const float *)vals[c])[i] == TIDE_NULL_F32; x = ((const float *)vals[c])[i]; break;
              default: nul = ((const double *)vals[c])[i] == TIDE_NULL_F64; x = ((const double *)vals[c])[i]; break;
            }
            if (nul) continue;
            if (vt[c] == TIDE_I64) isum[gid[j]] += (uint64_t)((const int64_t *)vals[c])[i];
            else if (vt[c] != TIDE_F32 && vt[c] != TIDE_F64) isum[gid[j]] += (uint64_t)(int64_t)x;
            dsum[gid[j]] += x;
            dabs[gid[j]] += x < 0 ? -x : x;
            cnt[gid[j]]++;
          }
          const bool isint = vt[c] != TIDE_F32 && vt[c] != TIDE_F64;
          for (uint64_t g = 0; g < ng; g++) {
            double s = sname[c] ? tu_cell_f64(o1, sname[c], g) : NAN;
            double a = tu_cell_f64(o1, aname[c], g);
            bool ok;
            if (!cnt[g]) {
              ok = isnan(s) && isnan(a);
            } else if (c == 9) { /* VG: ~2^60 without nulls, avg through doubles */
              double ea = (double)(dsum[g] / (long double)cnt[g]);
              ok = fabs(a - ea) <= 1e-12 * (1 + fabs(ea));
            } else {
              double es = isint ? (double)(int64_t)isum[g] : (double)dsum[g];
              double ea = (double)(dsum[g] / (long double)cnt[g]);
              double tol = 1e-9 * (1 + (double)dabs[g]);
              ok = (isint ? s == es : fabs(s - es) <= tol) &&
                   fabs(a - ea) <= 1e-12 * (1 + fabs(ea)) + tol / (double)cnt[g];
              if (vt[c] == TIDE_I64 && c == 4) { /* VH: wrapping int64 sum, exact text */
                char buf[32];
                snprintf(buf, sizeof buf, "%lld", (long long)(int64_t)isum[g]);
                ok = strcmp(tu_cell(o1, sname[c], g), buf) == 0 &&
                     fabs(a - ea) <= 1e-12 * (1 + fabs(ea));
              }
            }
            checks++;
            if (!ok) {
              CHECK_MSG(false, "fused %s by#%zu table %d group %llu: sum %.17g avg %.17g",
                        aname[c], b, ti, (unsigned long long)g, s, a);
              break;
            }
          }
          /* abs sums of V32, VD, VH */
          const char *abn = c == 2 ? "SA32" : c == 6 ? "SAD" : c == 4 ? "SAH" : NULL;
          for (uint64_t g = 0; abn && g < ng; g++) {
            if (c == 4) {
              uint64_t ea = 0;
              for (uint64_t j = 0; j < m; j++) {
                int64_t x = vh[rowpos[j]];
                if (gid[j] == g && x != TIDE_NULL_I64) ea += x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
              }
              char buf[32];
              snprintf(buf, sizeof buf, "%lld", (long long)(int64_t)ea);
              CHECK_MSG(!cnt[g] || strcmp(tu_cell(o1, abn, g), buf) == 0, "fused SAH group %llu",
                        (unsigned long long)g);
              if (g >= 3) break; /* the quadratic loop: a few groups */
              continue;
            }
            double x = tu_cell_f64(o1, abn, g);
            bool ok = cnt[g] ? fabs(x - (double)dabs[g]) <= 1e-9 * (1 + (double)dabs[g]) : isnan(x);
            CHECK_MSG(ok, "fused %s group %llu: %.17g vs %.17g", abn, (unsigned long long)g, x,
                      (double)dabs[g]);
            checks++;
          }
        }
        for (uint64_t g = 0; g < ng; g++) {
          CHECK_MSG(tu_cell_f64(o1, "N", g) == (double)rows[g], "fused count group %llu",
                    (unsigned long long)g);
          checks++;
        }
        free(isum);
        free(cnt);
        free(rows);
        free(dsum);
        free(dabs);
      }
      free(code);
      free(gid);
      tide_table_free(o1);
      tide_table_free(o3);
      tide_table_free(og);
    }
    free(rowpos);
  }
  printf("test_agg fused: %ld reference checks\n", checks);
  tide_table_free(filt);
  tide_table_free(full);
  free(k8); free(kb); free(v8); free(vb); free(k64); free(kw); free(v64); free(vh);
  free(v32); free(vf); free(vd); free(ks); free(k32); free(vn); free(vg); free(ve);
}

/* NULL entries in user column lists are reported as errors (no crash). */
static void test_null_names(void) {
  int64_t k[4] = {1, 2, 1, 3};
  double v[4] = {1.0, 2.0, 3.0, 4.0};
  const char *names[] = {"K", "V"};
  const tide_type_t types[] = {TIDE_I64, TIDE_F64};
  tide_table_t *t = tu_table(4, 2, names, types, (const void *const[]){k, v});
  tide_error err;
  const char *by_null[] = {NULL};
  const char *by_mixed[] = {"K", NULL};
  const char *sum_cols[] = {"V"};
  tide_agg_spec_t spec = {TIDE_AGG_SUM, sum_cols, 1, 0, NULL, false};
  tide_error_clear(&err);
  CHECK(tide_agg_by(t, &spec, 1, by_null, 1, &err) == NULL && err.status != TIDE_OK);
  tide_error_clear(&err);
  CHECK(tide_agg_by(t, &spec, 1, by_mixed, 2, &err) == NULL && err.status != TIDE_OK);
  tide_error_clear(&err);
  CHECK(tide_agg_all_by(t, TIDE_AGG_SUM, by_null, 1, &err) == NULL && err.status != TIDE_OK);
  tide_error_clear(&err);
  CHECK(tide_count_by(t, "N", by_mixed, 2, &err) == NULL && err.status != TIDE_OK);
  tide_error_clear(&err);
  CHECK(tide_head_by(t, 1, by_null, 1, &err) == NULL && err.status != TIDE_OK);
  tide_error_clear(&err);
  CHECK(tide_tail_by(t, 1, by_mixed, 2, &err) == NULL && err.status != TIDE_OK);
  tide_error_clear(&err);
  CHECK(tide_select_distinct(t, by_null, 1, &err) == NULL && err.status != TIDE_OK);
  /* weighted aggregation whose weight names a missing column */
  tide_agg_spec_t w = {TIDE_AGG_WAVG, sum_cols, 1, 0, "Nope", false};
  tide_error_clear(&err);
  CHECK(tide_agg_by(t, &w, 1, NULL, 0, &err) == NULL && err.status == TIDE_ERR_NOT_FOUND);
  tide_table_free(t);
}

/* ------------------------------------------------------ out of memory */

/* Run op with the k-th allocation failing for k = 0, 1, ... until it
 * succeeds: each failure must be a clean TIDE_ERR_NOMEM (ASan checks leaks
 * and bad frees) and the final result must equal the unhindered one. */
static void oom_sweep(const char *what, tu_oom_op op, tide_table_t *t) {
  tide_error err;
  tide_table_t *want = op(t, &err);
  CHECK_OK_PTR(want, err);
  if (want) {
    tide_table_t *out = tu_oom_sweep(what, 100000, op, t, &err);
    if (out) CHECK_TABLES(out, want, 0);
    tide_table_free(out);
  }
  tide_table_free(want);
}

static tide_table_t *oom_agg(tide_table_t *t, const char *const *by, size_t nby, tide_error *err) {
  static const char *const sum[] = {"SI=I", "SD=D"}, *const mm[] = {"MinS=S", "MaxY=Y"};
  static const char *const med[] = {"MedI=I", "MedS=S"}, *const pct[] = {"P=D"};
  static const char *const cd[] = {"CdY=Y", "CdD=D"}, *const sd[] = {"Sd=D"};
  static const char *const w[] = {"Wa=D"}, *const fl[] = {"Fs=S", "Fl=L"}, *const cnt[] = {"N"};
  static const char *const avg[] = {"Av=I"}, *const lst[] = {"Ls=Y"};
  const tide_agg_spec_t specs[] = {
      {TIDE_AGG_SUM, sum, 2, 0, NULL, false},    {TIDE_AGG_MIN, mm, 1, 0, NULL, false},
      {TIDE_AGG_MAX, mm + 1, 1, 0, NULL, false}, {TIDE_AGG_MEDIAN, med, 2, 0, NULL, false},
      {TIDE_AGG_PCT, pct, 1, 0.3, NULL, false},  {TIDE_AGG_COUNT_DISTINCT, cd, 2, 0, NULL, true},
      {TIDE_AGG_STD, sd, 1, 0, NULL, false},     {TIDE_AGG_WAVG, w, 1, 0, "I", false},
      {TIDE_AGG_FIRST, fl, 2, 0, NULL, false},   {TIDE_AGG_COUNT, cnt, 1, 0, NULL, false},
      {TIDE_AGG_AVG, avg, 1, 0, NULL, false},    {TIDE_AGG_LAST, lst, 1, 0, NULL, false}};
  return tide_agg_by(t, specs, sizeof specs / sizeof specs[0], by, nby, err);
}
static void *oom_agg_sym(void *t, tide_error *err) {
  const char *by[] = {"KS"};
  return oom_agg(t, by, 1, err);
}
static void *oom_agg_hash(void *t, tide_error *err) {
  const char *by[] = {"KT", "KH"};
  return oom_agg(t, by, 2, err);
}
static void *oom_agg_none(void *t, tide_error *err) { return oom_agg(t, NULL, 0, err); }
static void *oom_distinct(void *t, tide_error *err) {
  const char *by[] = {"KT", "KI"};
  return tide_select_distinct(t, by, 2, err);
}
static void *oom_tail_by(void *t, tide_error *err) {
  const char *by[] = {"KS", "KD"};
  return tide_tail_by(t, 2, by, 2, err);
}
static void *oom_all_by(void *t, tide_error *err) {
  const char *keep[] = {"KI", "I", "D", "S"};
  tide_table_t *v = tide_view(t, keep, 4, err);
  if (!v) return NULL;
  const char *by[] = {"KI"};
  tide_table_t *r = tide_agg_all_by(v, TIDE_AGG_MEDIAN, by, 1, err);
  tide_table_free(v);
  return r;
}

static void test_oom(void) {
  tide_set_threads(1, NULL);
  tu_rng r = {4242};
  tbl_t tb;
  tbl_random(&tb, &r, 300, 12, true);
  oom_sweep("agg_by symbol keys", oom_agg_sym, tb.t);
  oom_sweep("agg_by hash keys", oom_agg_hash, tb.t);
  oom_sweep("agg_by no keys", oom_agg_none, tb.t);
  oom_sweep("select_distinct", oom_distinct, tb.t);
  oom_sweep("tail_by", oom_tail_by, tb.t);
  oom_sweep("median_by", oom_all_by, tb.t);
  tbl_free(&tb);
  tide_set_threads(0, NULL);
}

int main(void) {
  STRBUF = calloc(400, 16);
  for (int i = 0; i < 400; i++) snprintf(STRBUF + i * 16, 16, "str%03d", (i * 37) % 400);
  uint64_t seed = tu_seed(777);
  test_random(seed);
  test_all_by_and_errors();
  test_empty();
  test_groups();
  test_morsels();
  test_fused();
  test_fused_avg_alone();
  test_null_names();
  test_oom();
  free(STRBUF);
  return tu_finish("test_agg");
}
