/*
 * Formula evaluation: the typed tree is evaluated column-at-a-time over one
 * chunk of rows. Every node writes its seq->n values into its own scratch
 * buffer (or returns a pointer straight into column storage); each node
 * kind dispatches once per chunk (switch on operator/type) and then runs a
 * tight loop. Filters produce selection vectors: `col op literal` runs one
 * specialised loop per column storage type (X-macro expanded), and `a && b`
 * evaluates b only on the rows a selected (a sub-chunk of their keys).
 *
 * Null rules (Deephaven): arithmetic and functions on null give null;
 * comparisons order null below every value and null == null; && || use
 * three-valued logic (false && null = false, true || null = true) and a
 * filter drops rows whose value is null; ?: with a null condition is null;
 * integer % by zero is null; / always gives double.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>

#include "core/expr.h"

struct tide_expr_scratch_s {
  size_t bytes;
  unsigned char *mem;
};

/* Scratch layout for a call over n rows: a raw read buffer, the root
 * column cache, one value buffer per node, one refinement area per AND
 * (keys, positions, selection, column cache). */
typedef struct layout_t {
  size_t stride, cache, andstride, nodebase, andbase, total;
} layout_t;

static void lay(const tide_expr_t *e, uint32_t n, layout_t *L) {
  L->stride = ((size_t)n * 8 + 63) & ~(size_t)63;
  L->cache = (e->nrefs * sizeof(void *) + 63) & ~(size_t)63;
  L->andstride = 3 * L->stride + L->cache;
  L->nodebase = L->stride + L->cache;
  L->andbase = L->nodebase + e->nbufs * L->stride;
  L->total = L->andbase + e->nands * L->andstride;
}

typedef struct ectx {
  const tide_expr_t *e;
  tide_source_t *const *cols;
  const tide_rowseq_t *seq;
  const uint64_t *posv;
  unsigned char *mem;
  const void **cache;
  const layout_t *L;
} ectx;

#define NBUF(c, nd) ((void *)((c)->mem + (c)->L->nodebase + (nd)->off * (c)->L->stride))
#define RAWBUF(c) ((void *)(c)->mem)

static const void *ev(ectx *c, const tide_enode_t *nd);

/* ---------------------------------------------------------------- leaves */

#define WIDEN_LOOP(ST, SNULL, DT, DNULL)                          \
  do {                                                            \
    const ST *restrict s_ = raw;                                  \
    DT *restrict d_ = out;                                        \
    for (uint32_t j = 0; j < n; j++)                              \
      d_[j] = s_[j] == (SNULL) ? (DNULL) : (DT)s_[j];             \
  } while (0)

static const void *ev_col(ectx *c, const tide_enode_t *nd) {
  if (c->cache[nd->slot]) return c->cache[nd->slot];
  const tide_source_t *src = c->cols[nd->col];
  uint32_t n = c->seq->n;
  void *out = NBUF(c, nd);
  const void *p;
  const void *raw;
  switch (nd->coltype) {
    case TIDE_I8:
      raw = tide__source_get(src, c->seq, RAWBUF(c));
      WIDEN_LOOP(int8_t, TIDE_NULL_I8, int64_t, TIDE_NULL_I64);
      p = out;
      break;
    case TIDE_I16:
      raw = tide__source_get(src, c->seq, RAWBUF(c));
      WIDEN_LOOP(int16_t, TIDE_NULL_I16, int64_t, TIDE_NULL_I64);
      p = out;
      break;
    case TIDE_I32:
      raw = tide__source_get(src, c->seq, RAWBUF(c));
      WIDEN_LOOP(int32_t, TIDE_NULL_I32, int64_t, TIDE_NULL_I64);
      p = out;
      break;
    case TIDE_F32:
      raw = tide__source_get(src, c->seq, RAWBUF(c));
      WIDEN_LOOP(float, TIDE_NULL_F32, double, TIDE_NULL_F64);
      p = out;
      break;
    default: p = tide__source_get(src, c->seq, out); break;
  }
  c->cache[nd->slot] = p;
  return p;
}

static const void *ev_lit(ectx *c, const tide_enode_t *nd) {
  uint32_t n = c->seq->n;
  void *out = NBUF(c, nd);
  switch (nd->type) {
    case TIDE_BOOL: memset(out, (int)(int8_t)nd->lit.i, n); break;
    case TIDE_SYMBOL: {
      int32_t *o = out;
      for (uint32_t j = 0; j < n; j++) o[j] = nd->lit.sym;
      break;
    }
    default: { /* 8-byte values: copy the bit pattern */
      uint64_t v;
      memcpy(&v, &nd->lit, sizeof v);
      uint64_t *o = out;
      for (uint32_t j = 0; j < n; j++) o[j] = v;
      break;
    }
  }
  return out;
}

static const void *ev_pos(ectx *c, const tide_enode_t *nd) {
  uint32_t n = c->seq->n;
  int64_t *o = NBUF(c, nd);
  if (c->posv) {
    for (uint32_t j = 0; j < n; j++) o[j] = (int64_t)c->posv[j];
  } else {
    int64_t p0 = (int64_t)c->seq->pos;
    for (uint32_t j = 0; j < n; j++) o[j] = p0 + j;
  }
  return o;
}

/* ----------------------------------------------------------- arithmetic */

#define NI TIDE_NULL_I64
#define ND TIDE_NULL_F64

#define ILOOP(EXPR)                                               \
  for (uint32_t j = 0; j < n; j++) {                              \
    int64_t x = a[j], y = b[j];                                   \
    o[j] = (x == NI || y == NI) ? NI : (EXPR);                    \
  }
#define DLOOP(EXPR)                                               \
  for (uint32_t j = 0; j < n; j++) {                              \
    double x = a[j], y = b[j];                                    \
    o[j] = (x == ND || y == ND) ? ND : (EXPR);                    \
  }

static const void *ev_arith(ectx *c, const tide_enode_t *nd) {
  uint32_t n = c->seq->n;
  const void *pa = ev(c, nd->args[0]);
  const void *pb = ev(c, nd->args[1]);
  if (nd->otype == TIDE_I64) {
    const int64_t *restrict a = pa, *restrict b = pb;
    int64_t *restrict o = NBUF(c, nd);
    switch (nd->op) {
      case TIDE_OP_ADD: ILOOP((int64_t)((uint64_t)x + (uint64_t)y)); break;
      case TIDE_OP_SUB: ILOOP((int64_t)((uint64_t)x - (uint64_t)y)); break;
      case TIDE_OP_MUL: ILOOP((int64_t)((uint64_t)x * (uint64_t)y)); break;
      case TIDE_OP_MOD:
        for (uint32_t j = 0; j < n; j++) {
          int64_t x = a[j], y = b[j];
          o[j] = (x == NI || y == NI || y == 0) ? NI : (y == -1 ? 0 : x % y);
        }
        break;
      default: assert(!"bad int op");
    }
    return o;
  }
  const double *restrict a = pa, *restrict b = pb;
  double *restrict o = NBUF(c, nd);
  switch (nd->op) {
    case TIDE_OP_ADD: DLOOP(x + y); break;
    case TIDE_OP_SUB: DLOOP(x - y); break;
    case TIDE_OP_MUL: DLOOP(x * y); break;
    case TIDE_OP_DIV: DLOOP(x / y); break;
    case TIDE_OP_MOD: DLOOP(fmod(x, y)); break;
    default: assert(!"bad double op");
  }
  return o;
}

static const void *ev_neg(ectx *c, const tide_enode_t *nd) {
  uint32_t n = c->seq->n;
  const void *pa = ev(c, nd->args[0]);
  if (nd->type == TIDE_I64) {
    const int64_t *restrict a = pa;
    int64_t *restrict o = NBUF(c, nd);
    for (uint32_t j = 0; j < n; j++) o[j] = a[j] == NI ? NI : (int64_t)(0 - (uint64_t)a[j]);
    return o;
  }
  const double *restrict a = pa;
  double *restrict o = NBUF(c, nd);
  for (uint32_t j = 0; j < n; j++) o[j] = a[j] == ND ? ND : -a[j];
  return o;
}

/* ----------------------------------------------------------- comparisons */

/* Natural order (integer sentinels are the minimum, so null sorts first). */
#define CMP_NATURAL(T)                                                        \
  do {                                                                        \
    const T *restrict a = pa, *restrict b = pb;                               \
    switch (op) {                                                             \
      case TIDE_OP_LT: for (uint32_t j = 0; j < n; j++) o[j] = a[j] < b[j]; break;  \
      case TIDE_OP_LE: for (uint32_t j = 0; j < n; j++) o[j] = a[j] <= b[j]; break; \
      case TIDE_OP_GT: for (uint32_t j = 0; j < n; j++) o[j] = a[j] > b[j]; break;  \
      case TIDE_OP_GE: for (uint32_t j = 0; j < n; j++) o[j] = a[j] >= b[j]; break; \
      case TIDE_OP_EQ: for (uint32_t j = 0; j < n; j++) o[j] = a[j] == b[j]; break; \
      default: for (uint32_t j = 0; j < n; j++) o[j] = a[j] != b[j]; break;        \
    }                                                                         \
  } while (0)

static inline int str3(const char *x, const char *y) {
  if (!x) return y ? -1 : 0;
  if (!y) return 1;
  int r = strcmp(x, y);
  return (r > 0) - (r < 0);
}

static inline int8_t cmp_result(int op, int r) {
  switch (op) {
    case TIDE_OP_LT: return r < 0;
    case TIDE_OP_LE: return r <= 0;
    case TIDE_OP_GT: return r > 0;
    case TIDE_OP_GE: return r >= 0;
    case TIDE_OP_EQ: return r == 0;
    default: return r != 0;
  }
}

static void cmp_values(tide_type_t t, int op, const void *pa, const void *pb, int8_t *restrict o,
                       uint32_t n) {
  switch (t) {
    case TIDE_I64:
    case TIDE_TS: CMP_NATURAL(int64_t); break;
    case TIDE_BOOL: CMP_NATURAL(int8_t); break;
    case TIDE_SYMBOL: CMP_NATURAL(int32_t); break; /* == / != only */
    case TIDE_F64: {
      const double *restrict a = pa, *restrict b = pb;
      /* three-way with null lowest; NaN compares unordered (false) */
#define TIDE_F64_CMP(EXPR)                                    \
  for (uint32_t j = 0; j < n; j++) {                          \
    double x = a[j], y = b[j];                                \
    int xn = x == ND, yn = y == ND;                           \
    int lt = xn ? !yn : (!yn && x < y);                       \
    int gt = yn ? !xn : (!xn && x > y);                       \
    int eq = (xn && yn) || (!xn && !yn && x == y);            \
    (void)lt, (void)gt, (void)eq;                             \
    o[j] = (int8_t)(EXPR);                                    \
  }
      switch (op) {
        case TIDE_OP_LT: TIDE_F64_CMP(lt); break;
        case TIDE_OP_LE: TIDE_F64_CMP(lt || eq); break;
        case TIDE_OP_GT: TIDE_F64_CMP(gt); break;
        case TIDE_OP_GE: TIDE_F64_CMP(gt || eq); break;
        case TIDE_OP_EQ: TIDE_F64_CMP(eq); break;
        default: TIDE_F64_CMP(!eq); break;
      }
#undef TIDE_F64_CMP
      break;
    }
    case TIDE_STRING: {
      const char *const *a = pa, *const *b = pb;
      for (uint32_t j = 0; j < n; j++) o[j] = cmp_result(op, str3(a[j], b[j]));
      break;
    }
    default: assert(!"bad compare type");
  }
}

static const void *ev_cmp(ectx *c, const tide_enode_t *nd) {
  const void *pa = ev(c, nd->args[0]);
  const void *pb = ev(c, nd->args[1]);
  int8_t *o = NBUF(c, nd);
  cmp_values(nd->otype, nd->op, pa, pb, o, c->seq->n);
  return o;
}

/* ------------------------------------------------------------ logic, ?: */

#define NB TIDE_NULL_BOOL

typedef const char *cstr_t;

static const void *ev_logic(ectx *c, const tide_enode_t *nd) {
  uint32_t n = c->seq->n;
  const int8_t *restrict a = ev(c, nd->args[0]);
  int8_t *restrict o = NBUF(c, nd);
  if (nd->kind == TIDE_EN_NOT) {
    for (uint32_t j = 0; j < n; j++) o[j] = a[j] == NB ? NB : !a[j];
    return o;
  }
  const int8_t *restrict b = ev(c, nd->args[1]);
  if (nd->kind == TIDE_EN_AND) {
    for (uint32_t j = 0; j < n; j++)
      o[j] = (a[j] == 0 || b[j] == 0) ? 0 : (a[j] == 1 && b[j] == 1) ? 1 : NB;
  } else {
    for (uint32_t j = 0; j < n; j++)
      o[j] = (a[j] == 1 || b[j] == 1) ? 1 : (a[j] == 0 && b[j] == 0) ? 0 : NB;
  }
  return o;
}

#define TERN_LOOP(T, NULLV)                                                 \
  do {                                                                      \
    const T *restrict x = pa, *restrict y = pb;                             \
    T *restrict o = out;                                                    \
    for (uint32_t j = 0; j < n; j++)                                        \
      o[j] = cond[j] == 1 ? x[j] : cond[j] == 0 ? y[j] : (NULLV);           \
  } while (0)

static const void *ev_tern(ectx *c, const tide_enode_t *nd) {
  uint32_t n = c->seq->n;
  const int8_t *restrict cond = ev(c, nd->args[0]);
  const void *pa = ev(c, nd->args[1]);
  const void *pb = ev(c, nd->args[2]);
  void *out = NBUF(c, nd);
  switch (nd->type) {
    case TIDE_BOOL: TERN_LOOP(int8_t, NB); break;
    case TIDE_SYMBOL: TERN_LOOP(int32_t, TIDE_NULL_SYMBOL); break;
    case TIDE_F64: TERN_LOOP(double, ND); break;
    case TIDE_STRING: TERN_LOOP(cstr_t, NULL); break;
    default: TERN_LOOP(int64_t, NI); break;
  }
  return out;
}

/* ------------------------------------------------------------------ in */

#define IN_LOOP(T, FIELD)                                                   \
  do {                                                                      \
    const T *restrict x = pa;                                               \
    for (uint32_t j = 0; j < n; j++) {                                      \
      int8_t f = 0;                                                         \
      for (uint32_t k = 0; k < nl; k++) f |= x[j] == (T)list[k].FIELD;      \
      o[j] = f ^ neg;                                                       \
    }                                                                       \
  } while (0)

static const void *ev_in(ectx *c, const tide_enode_t *nd) {
  uint32_t n = c->seq->n, nl = nd->nlist;
  const tide_evalue_t *list = nd->list;
  const void *pa = ev(c, nd->args[0]);
  int8_t *restrict o = NBUF(c, nd);
  int8_t neg = (int8_t)nd->op;
  switch (nd->otype) {
    case TIDE_I64:
    case TIDE_TS: IN_LOOP(int64_t, i); break;
    case TIDE_BOOL: IN_LOOP(int8_t, i); break;
    case TIDE_F64: IN_LOOP(double, d); break;
    case TIDE_SYMBOL: IN_LOOP(int32_t, sym); break;
    case TIDE_STRING: {
      const char *const *x = pa;
      for (uint32_t j = 0; j < n; j++) {
        int8_t f = 0;
        for (uint32_t k = 0; k < nl; k++) f |= str3(x[j], list[k].s) == 0;
        o[j] = f ^ neg;
      }
      break;
    }
    default: assert(!"bad in type");
  }
  return o;
}

/* ------------------------------------------------------------ functions */

/* Days since 1970-01-01 -> civil date (Howard Hinnant's algorithm). */
static inline void civil(int64_t days, int64_t *y, int64_t *m, int64_t *d) {
  days += 719468;
  int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  int64_t doe = days - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yoe + era * 400 + (*m <= 2);
}

#define NS_PER_DAY INT64_C(86400000000000)
#define NS_PER_SEC INT64_C(1000000000)

static inline int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return q - ((a % b != 0) & ((a < 0) != (b < 0)));
}

#define D1LOOP(EXPR)                                                       \
  do {                                                                     \
    const double *restrict a = pa;                                         \
    double *restrict o = out;                                              \
    for (uint32_t j = 0; j < n; j++) {                                     \
      double x = a[j];                                                     \
      o[j] = x == ND ? ND : (EXPR);                                        \
    }                                                                      \
  } while (0)

#define TSLOOP(EXPR)                                                       \
  do {                                                                     \
    const int64_t *restrict a = pa;                                        \
    int64_t *restrict o = out;                                             \
    for (uint32_t j = 0; j < n; j++) {                                     \
      int64_t x = a[j];                                                    \
      if (x == NI) {                                                       \
        o[j] = NI;                                                         \
        continue;                                                          \
      }                                                                    \
      int64_t days = floordiv(x, NS_PER_DAY);                              \
      int64_t sod = (int64_t)((uint64_t)x - (uint64_t)days * NS_PER_DAY) / NS_PER_SEC; \
      int64_t y_, m_, d_;                                                  \
      civil(days, &y_, &m_, &d_);                                          \
      (void)y_, (void)m_, (void)d_, (void)sod;                             \
      o[j] = (EXPR);                                                       \
    }                                                                      \
  } while (0)

static inline int64_t d2l(double x) {
  if (x != x) return 0;
  if (x >= 9223372036854775807.0) return INT64_MAX;
  if (x <= -9223372036854775807.0) return INT64_MIN + 1;
  return (int64_t)x;
}

static const void *ev_call(ectx *c, const tide_enode_t *nd) {
  uint32_t n = c->seq->n;
  void *out = NBUF(c, nd);
  const void *pa = ev(c, nd->args[0]);
  const void *pb = nd->nargs > 1 ? ev(c, nd->args[1]) : NULL;
  tide_type_t ta = nd->args[0]->type;
  switch (nd->op) {
    case TIDE_FN_ABS:
      if (ta == TIDE_I64) {
        const int64_t *restrict a = pa;
        int64_t *restrict o = out;
        for (uint32_t j = 0; j < n; j++)
          o[j] = a[j] == NI ? NI : a[j] < 0 ? (int64_t)(0 - (uint64_t)a[j]) : a[j];
      } else {
        D1LOOP(fabs(x));
      }
      break;
    case TIDE_FN_SQRT: D1LOOP(sqrt(x)); break;
    case TIDE_FN_LOG: D1LOOP(log(x)); break;
    case TIDE_FN_EXP: D1LOOP(exp(x)); break;
    case TIDE_FN_FLOOR: D1LOOP(floor(x)); break;
    case TIDE_FN_CEIL: D1LOOP(ceil(x)); break;
    case TIDE_FN_ROUND:
      if (ta == TIDE_I64) return pa;
      {
        const double *restrict a = pa;
        int64_t *restrict o = out;
        for (uint32_t j = 0; j < n; j++) o[j] = a[j] == ND ? NI : d2l(floor(a[j] + 0.5));
      }
      break;
    case TIDE_FN_POW: {
      const double *restrict a = pa, *restrict b = pb;
      double *restrict o = out;
      DLOOP(pow(x, y));
      break;
    }
    case TIDE_FN_MIN:
    case TIDE_FN_MAX: {
      bool mx = nd->op == TIDE_FN_MAX;
      if (nd->type == TIDE_F64) {
        const double *restrict a = pa, *restrict b = pb;
        double *restrict o = out;
        if (mx) {
          DLOOP(x >= y ? x : y);
        } else {
          DLOOP(x <= y ? x : y);
        }
      } else {
        const int64_t *restrict a = pa, *restrict b = pb;
        int64_t *restrict o = out;
        if (mx) {
          ILOOP(x >= y ? x : y);
        } else {
          ILOOP(x <= y ? x : y);
        }
      }
      break;
    }
    case TIDE_FN_ISNULL: {
      int8_t *restrict o = out;
      switch (ta) {
        case TIDE_BOOL: {
          const int8_t *a = pa;
          for (uint32_t j = 0; j < n; j++) o[j] = a[j] == NB;
          break;
        }
        case TIDE_F64: {
          const double *a = pa;
          for (uint32_t j = 0; j < n; j++) o[j] = a[j] == ND;
          break;
        }
        case TIDE_STRING: {
          const char *const *a = pa;
          for (uint32_t j = 0; j < n; j++) o[j] = a[j] == NULL;
          break;
        }
        case TIDE_SYMBOL: {
          const int32_t *a = pa;
          for (uint32_t j = 0; j < n; j++) o[j] = a[j] == TIDE_NULL_SYMBOL;
          break;
        }
        default: {
          const int64_t *a = pa;
          for (uint32_t j = 0; j < n; j++) o[j] = a[j] == NI;
          break;
        }
      }
      break;
    }
    case TIDE_FN_YEAR: TSLOOP(y_); break;
    case TIDE_FN_MONTH: TSLOOP(m_); break;
    case TIDE_FN_DAY: TSLOOP(d_); break;
    case TIDE_FN_HOUR: TSLOOP(sod / 3600); break;
    case TIDE_FN_MINUTE: TSLOOP(sod / 60 % 60); break;
    case TIDE_FN_SECOND: TSLOOP(sod % 60); break;
    case TIDE_FN_STARTS:
    case TIDE_FN_ENDS:
    case TIDE_FN_CONTAINS: {
      const char *const *a = pa, *const *b = pb;
      int8_t *o = out;
      for (uint32_t j = 0; j < n; j++) {
        const char *x = a[j], *y = b[j];
        if (!x || !y) {
          o[j] = NB;
          continue;
        }
        if (nd->op == TIDE_FN_CONTAINS) {
          o[j] = strstr(x, y) != NULL;
        } else {
          size_t lx = strlen(x), ly = strlen(y);
          o[j] = ly <= lx &&
                 memcmp(nd->op == TIDE_FN_STARTS ? x : x + lx - ly, y, ly) == 0;
        }
      }
      break;
    }
    case TIDE_FN_LENGTH: {
      const char *const *a = pa;
      int64_t *o = out;
      for (uint32_t j = 0; j < n; j++) o[j] = a[j] ? (int64_t)strlen(a[j]) : NI;
      break;
    }
    default: assert(!"bad function");
  }
  return out;
}

static const void *ev_conv(ectx *c, const tide_enode_t *nd) {
  uint32_t n = c->seq->n;
  const void *pa = ev(c, nd->args[0]);
  void *out = NBUF(c, nd);
  switch (nd->op) {
    case TIDE_CV_I2D: {
      const int64_t *restrict a = pa;
      double *restrict o = out;
      for (uint32_t j = 0; j < n; j++) o[j] = a[j] == NI ? ND : (double)a[j];
      break;
    }
    case TIDE_CV_SYM2STR: {
      const int32_t *a = pa;
      const char **o = out;
      const tide_symtab_t *st = nd->args[0]->symtab;
      const char *const *strs = st ? tide__symtab_strs(st) : NULL;
      const uint32_t size = st ? tide_symtab_size(st) : 0;
      for (uint32_t j = 0; j < n; j++) o[j] = (uint32_t)a[j] < size ? strs[a[j]] : NULL;
      break;
    }
    case TIDE_CV_D2L: {
      const double *restrict a = pa;
      int64_t *restrict o = out;
      for (uint32_t j = 0; j < n; j++) o[j] = a[j] == ND ? NI : d2l(a[j]);
      break;
    }
    case TIDE_CV_D2I: {
      const double *restrict a = pa;
      int64_t *restrict o = out;
      for (uint32_t j = 0; j < n; j++) {
        double x = a[j];
        o[j] = x == ND ? NI
               : x != x ? 0
               : x >= 2147483647.0 ? INT32_MAX
               : x <= -2147483648.0 ? INT32_MIN
                                    : (int64_t)(int32_t)x;
      }
      break;
    }
    case TIDE_CV_L2I: {
      const int64_t *restrict a = pa;
      int64_t *restrict o = out;
      for (uint32_t j = 0; j < n; j++)
        o[j] = a[j] == NI ? NI : (int64_t)(int32_t)(uint32_t)(uint64_t)a[j];
      break;
    }
    default: return pa; /* identity (reinterpretation) */
  }
  return out;
}

static const void *ev(ectx *c, const tide_enode_t *nd) {
  switch (nd->kind) {
    case TIDE_EN_LIT: return ev_lit(c, nd);
    case TIDE_EN_COL: return ev_col(c, nd);
    case TIDE_EN_POS: return ev_pos(c, nd);
    case TIDE_EN_NEG: return ev_neg(c, nd);
    case TIDE_EN_NOT:
    case TIDE_EN_AND:
    case TIDE_EN_OR: return ev_logic(c, nd);
    case TIDE_EN_ARITH: return ev_arith(c, nd);
    case TIDE_EN_CMP: return ev_cmp(c, nd);
    case TIDE_EN_TERN: return ev_tern(c, nd);
    case TIDE_EN_IN: return ev_in(c, nd);
    case TIDE_EN_CALL: return ev_call(c, nd);
    case TIDE_EN_CONV: return ev_conv(c, nd);
  }
  assert(!"bad node");
  return NULL;
}

/* --------------------------------------------------------------- filters */

/* One loop per (storage type, comparison domain, operator): null rows give
 * nullres (null is below every literal), others compare the widened value. */
#define FAST_OPS(T, NULLV, W, LIT)                                                   \
  do {                                                                               \
    const T *restrict p = raw;                                                       \
    W lit_ = (LIT);                                                                  \
    switch (op) {                                                                    \
      case TIDE_OP_LT: FAST_LOOP(T, NULLV, W, <, 1); break;                          \
      case TIDE_OP_LE: FAST_LOOP(T, NULLV, W, <=, 1); break;                         \
      case TIDE_OP_GT: FAST_LOOP(T, NULLV, W, >, 0); break;                          \
      case TIDE_OP_GE: FAST_LOOP(T, NULLV, W, >=, 0); break;                         \
      case TIDE_OP_EQ: FAST_LOOP(T, NULLV, W, ==, 0); break;                         \
      default: FAST_LOOP(T, NULLV, W, !=, 1); break;                                 \
    }                                                                                \
  } while (0)
#define FAST_LOOP(T, NULLV, W, OP, NULLRES)                                          \
  for (uint32_t j = 0; j < n; j++) {                                                 \
    T v_ = p[j];                                                                     \
    sel[k] = j;                                                                      \
    k += (v_ == (NULLV)) ? (NULLRES) : ((W)v_ OP lit_);                              \
  }

/* Integer-domain columns (compared as int64) and float-domain columns. */
#define TIDE_FAST_I64_TYPES(X) \
  X(BOOL, int8_t, TIDE_NULL_BOOL) \
  X(I8, int8_t, TIDE_NULL_I8)     \
  X(I16, int16_t, TIDE_NULL_I16)  \
  X(I32, int32_t, TIDE_NULL_I32)  \
  X(I64, int64_t, TIDE_NULL_I64)  \
  X(TS, int64_t, TIDE_NULL_TS)
#define TIDE_FAST_F64_TYPES(X) \
  TIDE_INT_TYPES_NULL(X)       \
  X(F32, float, TIDE_NULL_F32) \
  X(F64, double, TIDE_NULL_F64)
#define TIDE_INT_TYPES_NULL(X)   \
  X(I8, int8_t, TIDE_NULL_I8)    \
  X(I16, int16_t, TIDE_NULL_I16) \
  X(I32, int32_t, TIDE_NULL_I32) \
  X(I64, int64_t, TIDE_NULL_I64)

/* Rows of raw (n values of storage type stype) whose comparison with the
 * literal holds, compared in `domain` (I64 / F64 widened, SYMBOL codes,
 * STRING). */
static uint32_t select_cmp(tide_type_t stype, tide_type_t domain, int op, tide_evalue_t lit,
                           const void *raw, uint32_t n, uint32_t *restrict sel) {
  uint32_t k = 0;
  if (domain == TIDE_SYMBOL) {
    const int32_t *restrict p = raw;
    int32_t code = lit.sym;
    if (op == TIDE_OP_EQ)
      for (uint32_t j = 0; j < n; j++) {
        sel[k] = j;
        k += p[j] == code;
      }
    else
      for (uint32_t j = 0; j < n; j++) {
        sel[k] = j;
        k += p[j] != code;
      }
    return k;
  }
  if (domain == TIDE_STRING) {
    const char *const *p = raw;
    for (uint32_t j = 0; j < n; j++) {
      sel[k] = j;
      k += cmp_result(op, str3(p[j], lit.s));
    }
    return k;
  }
  if (domain == TIDE_F64) {
    switch (stype) {
#define TIDE_X_FAST_F(E, T, NULLV) \
  case TIDE_##E: FAST_OPS(T, NULLV, double, lit.d); break;
      TIDE_FAST_F64_TYPES(TIDE_X_FAST_F)
#undef TIDE_X_FAST_F
      default: assert(!"bad fast column");
    }
    return k;
  }
  switch (stype) {
#define TIDE_X_FAST_I(E, T, NULLV) \
  case TIDE_##E: FAST_OPS(T, NULLV, int64_t, lit.i); break;
    TIDE_FAST_I64_TYPES(TIDE_X_FAST_I)
#undef TIDE_X_FAST_I
    default: assert(!"bad fast column");
  }
  return k;
}

/* `col op literal` reads the column's storage directly; `expr op literal`
 * evaluates expr and compares its values without materializing the
 * literal or the boolean result. */
/* Rows whose symbol's string compares with the literal (fast = 3): the
 * result of a code is computed once per chunk (codes below 4096 are
 * memoized, long runs of one code reuse the last result); codes outside
 * the dictionary read as null strings, as TIDE_CV_SYM2STR gives them. */
static uint32_t select_symcmp(const tide_symtab_t *st, int op, const char *lit,
                              const int32_t *restrict codes, uint32_t n,
                              uint32_t *restrict sel) {
  enum { MEMO = 4096 };
  const char *const *strs = st ? tide__symtab_strs(st) : NULL;
  const uint32_t size = st ? tide_symtab_size(st) : 0;
  const uint32_t msize = size < MEMO ? size : MEMO;
  int8_t memo[MEMO];
  memset(memo, -1, msize);
  const int8_t nullr = cmp_result(op, str3(NULL, lit));
  int32_t lastc = TIDE_NULL_SYMBOL;
  int8_t lastr = nullr;
  uint32_t k = 0;
  for (uint32_t j = 0; j < n; j++) {
    int32_t code = codes[j];
    if (code != lastc) {
      uint32_t u = (uint32_t)code;
      if (u >= size) {
        lastr = nullr;
      } else if (u < msize) {
        if (memo[u] < 0) memo[u] = cmp_result(op, str3(strs[u], lit));
        lastr = memo[u];
      } else {
        lastr = cmp_result(op, str3(strs[u], lit));
      }
      lastc = code;
    }
    sel[k] = j;
    k += lastr == 1;
  }
  return k;
}

static uint32_t filter_fast(ectx *c, const tide_enode_t *nd, uint32_t *restrict sel) {
  const tide_enode_t *x = nd->fcol;
  if (nd->fast == 3)
    return select_symcmp(x->symtab, nd->fop, nd->flit.s, ev(c, x), c->seq->n, sel);
  if (nd->fast == 1) {
    const void *raw = tide__source_get(c->cols[x->col], c->seq, RAWBUF(c));
    return select_cmp(x->coltype, nd->otype, nd->fop, nd->flit, raw, c->seq->n, sel);
  }
  const void *vals = ev(c, x);
  return select_cmp(x->type, nd->otype, nd->fop, nd->flit, vals, c->seq->n, sel);
}

static uint32_t filt(ectx *c, const tide_enode_t *nd, uint32_t *sel) {
  uint32_t n = c->seq->n;
  if (nd->fast) return filter_fast(c, nd, sel);
  if (nd->kind == TIDE_EN_AND) {
    uint32_t m = filt(c, nd->args[0], sel);
    if (m == 0) return 0;
    if (m == n) return filt(c, nd->args[1], sel);
    const layout_t *L = c->L;
    unsigned char *area = c->mem + L->andbase + nd->off2 * L->andstride;
    uint64_t *keys = (uint64_t *)area;
    uint64_t *posv = (uint64_t *)(area + L->stride);
    uint32_t *sel2 = (uint32_t *)(area + 2 * L->stride);
    const void **cache = (const void **)(area + 3 * L->stride);
    if ((uint64_t)m * 4 >= (uint64_t)n * 3) {
      /* Most rows survive: gathering them would cost more than evaluating
       * the right side over the whole chunk (reusing the columns already
       * read); intersect the two selections. */
      uint32_t m2 = filt(c, nd->args[1], sel2), a = 0, b = 0, k = 0;
      while (a < m && b < m2) {
        uint32_t x = sel[a], y = sel2[b];
        sel[k] = x;
        k += x == y;
        a += x <= y;
        b += y <= x;
      }
      return k;
    }
    /* Refine: evaluate the right side only at the selected rows. */
    const tide_rowseq_t *s = c->seq;
    if (s->keys)
      for (uint32_t j = 0; j < m; j++) keys[j] = s->keys[sel[j]];
    else
      for (uint32_t j = 0; j < m; j++) keys[j] = s->first + sel[j];
    if (c->posv)
      for (uint32_t j = 0; j < m; j++) posv[j] = c->posv[sel[j]];
    else
      for (uint32_t j = 0; j < m; j++) posv[j] = s->pos + sel[j];
    memset(cache, 0, c->e->nrefs * sizeof *cache);
    tide_rowseq_t sub = {0, keys, posv[0], m};
    ectx sc = {c->e, c->cols, &sub, posv, c->mem, cache, c->L};
    uint32_t m2 = filt(&sc, nd->args[1], sel2);
    for (uint32_t j = 0; j < m2; j++) sel[j] = sel[sel2[j]];
    return m2;
  }
  const int8_t *restrict v = ev(c, nd);
  uint32_t k = 0;
  for (uint32_t j = 0; j < n; j++) {
    sel[k] = j;
    k += v[j] == 1;
  }
  return k;
}

/* ------------------------------------------------------------------ API */

tide_expr_scratch_t *tide__expr_scratch_create(const tide_expr_t *e) {
  tide_expr_scratch_t *s = tide_malloc(sizeof *s);
  if (!s) return NULL;
  layout_t L;
  lay(e, TIDE_CHUNK_SIZE, &L);
  s->bytes = L.total;
  s->mem = tide_aligned_malloc(64, s->bytes);
  if (!s->mem) {
    tide_free(s);
    return NULL;
  }
  return s;
}

void tide__expr_scratch_free(tide_expr_scratch_t *s) {
  if (!s) return;
  tide_aligned_free(s->mem);
  tide_free(s);
}

static unsigned char *scratch_mem(const layout_t *L, tide_expr_scratch_t *s, bool *owned) {
  *owned = false;
  if (s && s->bytes >= L->total) return s->mem;
  *owned = true;
  return tide_aligned_malloc(64, L->total);
}

tide_status tide__expr_eval(const tide_expr_t *e, tide_source_t *const *cols,
                            const tide_rowseq_t *seq, const uint64_t *posv, void *dst,
                            tide_expr_scratch_t *scratch) {
  if (seq->n == 0) return TIDE_OK;
  assert(seq->n <= TIDE_CHUNK_SIZE);
  if (e->plain_col) {
    tide_source_fill(cols[e->root->col], seq, dst);
    return TIDE_OK;
  }
  layout_t L;
  lay(e, seq->n, &L);
  bool owned;
  unsigned char *mem = scratch_mem(&L, scratch, &owned);
  if (!mem) return TIDE_ERR_NOMEM;
  const void **cache = (const void **)(mem + L.stride);
  memset(cache, 0, e->nrefs * sizeof *cache);
  ectx c = {e, cols, seq, posv, mem, cache, &L};
  const void *p = ev(&c, e->root);
  if (e->narrow_i32) { /* values are already within int32 range */
    const int64_t *restrict v = p;
    int32_t *restrict o = dst;
    for (uint32_t j = 0; j < seq->n; j++) o[j] = v[j] == NI ? TIDE_NULL_I32 : (int32_t)v[j];
  } else if (p != dst) {
    memcpy(dst, p, (size_t)seq->n * tide_type_width(e->type));
  }
  if (owned) tide_aligned_free(mem);
  return TIDE_OK;
}

tide_status tide__expr_filter(const tide_expr_t *e, tide_source_t *const *cols,
                              const tide_rowseq_t *seq, const uint64_t *posv, uint32_t *sel,
                              uint32_t *count, tide_expr_scratch_t *scratch) {
  *count = 0;
  if (seq->n == 0) return TIDE_OK;
  assert(seq->n <= TIDE_CHUNK_SIZE);
  assert(e->root->type == TIDE_BOOL);
  layout_t L;
  lay(e, seq->n, &L);
  bool owned;
  unsigned char *mem = scratch_mem(&L, scratch, &owned);
  if (!mem) return TIDE_ERR_NOMEM;
  const void **cache = (const void **)(mem + L.stride);
  memset(cache, 0, e->nrefs * sizeof *cache);
  ectx c = {e, cols, seq, posv, mem, cache, &L};
  *count = filt(&c, e->root, sel);
  if (owned) tide_aligned_free(mem);
  return TIDE_OK;
}
