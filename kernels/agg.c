/*
 * Aggregation accumulator kernels (kernels/agg.h): chunk loops that update
 * per-group arrays indexed by group id. Type-specialised bodies are written
 * once as macros and expanded over the numeric types; each entry point
 * switches on the type once per chunk.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>

#include "kernels/agg.h"

/* Integer-like types with their null sentinels: X(ENUM, ctype, NULL). */
#define AGG_INT_TYPES(X)              \
  X(BOOL, int8_t, TIDE_NULL_BOOL)     \
  X(I8, int8_t, TIDE_NULL_I8)         \
  X(I16, int16_t, TIDE_NULL_I16)      \
  X(I32, int32_t, TIDE_NULL_I32)      \
  X(I64, int64_t, TIDE_NULL_I64)      \
  X(TS, int64_t, TIDE_NULL_TS)
#define AGG_FLOAT_TYPES(X)         \
  X(F32, float, TIDE_NULL_F32)     \
  X(F64, double, TIDE_NULL_F64)

bool tide__agg_sum_type_ok(tide_type_t type) {
  return type == TIDE_BOOL || tide_type_is_numeric(type);
}

bool tide__agg_minmax_type_ok(tide_type_t type) { return (unsigned)type < TIDE_TYPE_COUNT; }

bool tide__agg_sum_is_int(tide_type_t type) {
  return type == TIDE_BOOL || tide_type_is_integer(type);
}

void tide__agg_sum(tide_type_t type, bool absval, const uint32_t *restrict ids, const void *vals,
                   uint32_t n, void *sums, uint64_t *restrict counts) {
  switch (type) {
#define AGG_SUM_INT(E, ctype, NUL)                                         \
  case TIDE_##E: {                                                         \
    const ctype *restrict v = (const ctype *)vals;                         \
    uint64_t *restrict s = (uint64_t *)sums;                               \
    if (absval) {                                                          \
      for (uint32_t i = 0; i < n; i++) {                                   \
        ctype x = v[i];                                                    \
        uint64_t nn = x != NUL;                                            \
        uint64_t u = (uint64_t)(int64_t)x;                                 \
        u = x < 0 ? (uint64_t)0 - u : u;                                   \
        s[ids[i]] += nn ? u : 0;                                           \
        counts[ids[i]] += nn;                                              \
      }                                                                    \
    } else {                                                               \
      for (uint32_t i = 0; i < n; i++) {                                   \
        ctype x = v[i];                                                    \
        uint64_t nn = x != NUL;                                            \
        s[ids[i]] += nn ? (uint64_t)(int64_t)x : 0;                        \
        counts[ids[i]] += nn;                                              \
      }                                                                    \
    }                                                                      \
    break;                                                                 \
  }
    AGG_INT_TYPES(AGG_SUM_INT)
#undef AGG_SUM_INT
#define AGG_SUM_FLT(E, ctype, NUL)                                         \
  case TIDE_##E: {                                                         \
    const ctype *restrict v = (const ctype *)vals;                         \
    double *restrict s = (double *)sums;                                   \
    if (absval) {                                                          \
      for (uint32_t i = 0; i < n; i++) {                                   \
        ctype x = v[i];                                                    \
        uint64_t nn = x != NUL;                                            \
        s[ids[i]] += nn ? fabs((double)x) : 0.0;                           \
        counts[ids[i]] += nn;                                              \
      }                                                                    \
    } else {                                                               \
      for (uint32_t i = 0; i < n; i++) {                                   \
        ctype x = v[i];                                                    \
        uint64_t nn = x != NUL;                                            \
        s[ids[i]] += nn ? (double)x : 0.0;                                 \
        counts[ids[i]] += nn;                                              \
      }                                                                    \
    }                                                                      \
    break;                                                                 \
  }
    AGG_FLOAT_TYPES(AGG_SUM_FLT)
#undef AGG_SUM_FLT
    default:
      assert(!"agg sum: unsupported type");
      break;
  }
}

void tide__agg_minmax(tide_type_t type, bool is_max, const uint32_t *restrict ids,
                      const void *vals, uint32_t n, const uint32_t *ranks, void *acc) {
  switch (type) {
#define AGG_MINMAX_INT(E, ctype, NUL)                                      \
  case TIDE_##E: {                                                         \
    const ctype *restrict v = (const ctype *)vals;                         \
    ctype *restrict a = (ctype *)acc;                                      \
    if (is_max) {                                                          \
      /* null is the type's minimum: it never wins a max */                \
      for (uint32_t i = 0; i < n; i++) {                                   \
        ctype x = v[i];                                                    \
        ctype cur = a[ids[i]];                                             \
        a[ids[i]] = x > cur ? x : cur;                                     \
      }                                                                    \
    } else {                                                               \
      for (uint32_t i = 0; i < n; i++) {                                   \
        ctype x = v[i];                                                    \
        ctype cur = a[ids[i]];                                             \
        bool take = x != NUL && (cur == NUL || x < cur);                   \
        a[ids[i]] = take ? x : cur;                                        \
      }                                                                    \
    }                                                                      \
    break;                                                                 \
  }
    AGG_INT_TYPES(AGG_MINMAX_INT)
#undef AGG_MINMAX_INT
#define AGG_MINMAX_FLT(E, ctype, NUL)                                      \
  case TIDE_##E: {                                                         \
    const ctype *restrict v = (const ctype *)vals;                         \
    ctype *restrict a = (ctype *)acc;                                      \
    if (is_max) {                                                          \
      for (uint32_t i = 0; i < n; i++) {                                   \
        ctype x = v[i];                                                    \
        ctype cur = a[ids[i]];                                             \
        bool take = x != NUL && x == x && (cur == NUL || x > cur);         \
        a[ids[i]] = take ? x : cur;                                        \
      }                                                                    \
    } else {                                                               \
      for (uint32_t i = 0; i < n; i++) {                                   \
        ctype x = v[i];                                                    \
        ctype cur = a[ids[i]];                                             \
        bool take = x != NUL && x == x && (cur == NUL || x < cur);         \
        a[ids[i]] = take ? x : cur;                                        \
      }                                                                    \
    }                                                                      \
    break;                                                                 \
  }
    AGG_FLOAT_TYPES(AGG_MINMAX_FLT)
#undef AGG_MINMAX_FLT
    case TIDE_SYMBOL: {
      const int32_t *restrict v = (const int32_t *)vals;
      int32_t *restrict a = (int32_t *)acc;
      for (uint32_t i = 0; i < n; i++) {
        int32_t x = v[i];
        int32_t cur = a[ids[i]];
        if (x < 0) continue;
        if (cur < 0 || (is_max ? ranks[x] > ranks[cur] : ranks[x] < ranks[cur])) a[ids[i]] = x;
      }
      break;
    }
    case TIDE_STRING: {
      const char *const *v = (const char *const *)vals;
      const char **a = (const char **)acc;
      for (uint32_t i = 0; i < n; i++) {
        const char *x = v[i];
        const char *cur = a[ids[i]];
        if (!x) continue;
        if (!cur) {
          a[ids[i]] = x;
          continue;
        }
        int c = strcmp(x, cur);
        if (is_max ? c > 0 : c < 0) a[ids[i]] = x;
      }
      break;
    }
    default:
      assert(!"agg min/max: bad type");
      break;
  }
}

void tide__agg_to_f64(tide_type_t type, const void *vals, uint32_t n, double *restrict out,
                      uint8_t *restrict valid) {
  switch (type) {
#define AGG_TO_F64(E, ctype, NUL)                                          \
  case TIDE_##E: {                                                         \
    const ctype *restrict v = (const ctype *)vals;                         \
    for (uint32_t i = 0; i < n; i++) {                                     \
      out[i] = (double)v[i];                                               \
      valid[i] = v[i] != NUL;                                              \
    }                                                                      \
    break;                                                                 \
  }
    AGG_INT_TYPES(AGG_TO_F64)
    AGG_FLOAT_TYPES(AGG_TO_F64)
#undef AGG_TO_F64
    default:
      assert(!"agg: not a numeric type");
      break;
  }
}

void tide__agg_sum_f64(const uint32_t *restrict ids, const double *restrict v,
                       const uint8_t *restrict valid, uint32_t n, double *restrict sums,
                       uint64_t *restrict counts) {
  for (uint32_t i = 0; i < n; i++) {
    uint32_t g = ids[i];
    sums[g] += valid[i] ? v[i] : 0.0;
    counts[g] += valid[i];
  }
}

void tide__agg_moments(const uint32_t *restrict ids, const double *restrict v,
                       const uint8_t *restrict valid, uint32_t n, double *restrict mean,
                       double *restrict m2, uint64_t *restrict counts) {
  for (uint32_t i = 0; i < n; i++) {
    if (!valid[i]) continue;
    uint32_t g = ids[i];
    uint64_t c = ++counts[g];
    double x = v[i];
    double d = x - mean[g];
    mean[g] += d / (double)c;
    m2[g] += d * (x - mean[g]);
  }
}

void tide__agg_weighted(const uint32_t *restrict ids, const double *restrict v,
                        const uint8_t *restrict vvalid, const double *restrict w,
                        const uint8_t *restrict wvalid, uint32_t n, double *restrict wv,
                        double *restrict ws, uint64_t *restrict counts) {
  for (uint32_t i = 0; i < n; i++) {
    uint32_t g = ids[i];
    bool ok = vvalid[i] & wvalid[i];
    wv[g] += ok ? w[i] * v[i] : 0.0;
    ws[g] += ok ? w[i] : 0.0;
    counts[g] += ok;
  }
}

void tide__agg_count(const uint32_t *restrict ids, uint32_t n, uint64_t *restrict counts) {
  for (uint32_t i = 0; i < n; i++) counts[ids[i]]++;
}

/* ------------------------------------------------ fused scan (agg_by) */

/* The vectorizable scan loops below are also compiled for AVX2 (64-bit
 * compares and selects) and picked at load time on x86-64 with GCC (not
 * under ThreadSanitizer: the ifunc resolvers would run before its
 * runtime starts and crash the process at load). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) && \
    !defined(__SANITIZE_THREAD__)
#define AGG_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define AGG_CLONES
#endif

/* Lanes of the no-key float sums: lane j sums the values at i % 8 == j of
 * the chunk, then the lanes are added pairwise (fixed order). */
#define AGG_LANES 8

#define AGG_REDUCE_FLT_BODY(ctype, NUL, CONV)                              \
  {                                                                        \
    const ctype *restrict v = (const ctype *)vals;                         \
    double a[AGG_LANES] = {0};                                             \
    uint64_t cl[AGG_LANES] = {0}; /* per lane: the lanes vectorize */      \
    uint64_t c = 0;                                                        \
    uint32_t i = 0;                                                        \
    for (; i + AGG_LANES <= n; i += AGG_LANES) {                           \
      for (uint32_t j = 0; j < AGG_LANES; j++) {                           \
        ctype x = v[i + j];                                                \
        uint64_t nn = x != NUL;                                            \
        a[j] += nn ? CONV(x) : 0.0;                                        \
        cl[j] += nn;                                                       \
      }                                                                    \
    }                                                                      \
    for (uint32_t j = 0; j < AGG_LANES; j++) c += cl[j];                   \
    for (uint32_t j = 0; i + j < n; j++) {                                 \
      ctype x = v[i + j];                                                  \
      uint64_t nn = x != NUL;                                              \
      a[j] += nn ? CONV(x) : 0.0;                                          \
      c += nn;                                                             \
    }                                                                      \
    *(double *)sum += ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])); \
    *count += c;                                                           \
  }

#define AGG_CONV_D(x) ((double)(x))
#define AGG_CONV_ABS(x) fabs((double)(x))

/* AGG_REDUCE_FLT_BODY for doubles in explicit vectors (GCC vector
 * extensions: the loop above stays scalar for doubles): lanes 0-3 in a0,
 * 4-7 in a1, the same sums in the same order. */
typedef double agg_v4d __attribute__((vector_size(32)));
typedef int64_t agg_v4i __attribute__((vector_size(32)));
static inline __attribute__((always_inline)) void agg_red_f64(const double *restrict v, uint32_t n,
                                                              bool absval, double *sum,
                                                              uint64_t *count) {
  const agg_v4d nulv = {TIDE_NULL_F64, TIDE_NULL_F64, TIDE_NULL_F64, TIDE_NULL_F64};
  const agg_v4i absm = {INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX};
  agg_v4d a0 = {0, 0, 0, 0}, a1 = {0, 0, 0, 0};
  agg_v4i c0 = {0, 0, 0, 0}, c1 = {0, 0, 0, 0};
  uint32_t i = 0;
  for (; i + AGG_LANES <= n; i += AGG_LANES) {
    agg_v4d x0, x1;
    memcpy(&x0, v + i, sizeof x0);
    memcpy(&x1, v + i + 4, sizeof x1);
    agg_v4i m0 = x0 != nulv, m1 = x1 != nulv; /* -1: not null */
    agg_v4i b0 = (agg_v4i)x0 & m0, b1 = (agg_v4i)x1 & m1;
    if (absval) {
      b0 &= absm;
      b1 &= absm;
    }
    a0 += (agg_v4d)b0;
    a1 += (agg_v4d)b1;
    c0 -= m0;
    c1 -= m1;
  }
  double a[AGG_LANES] = {a0[0], a0[1], a0[2], a0[3], a1[0], a1[1], a1[2], a1[3]};
  uint64_t c = (uint64_t)(c0[0] + c0[1] + c0[2] + c0[3] + c1[0] + c1[1] + c1[2] + c1[3]);
  for (uint32_t j = 0; i + j < n; j++) {
    double x = v[i + j];
    uint64_t nn = x != TIDE_NULL_F64;
    a[j] += nn ? (absval ? fabs(x) : x) : 0.0;
    c += nn;
  }
  *sum += ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
  *count += c;
}

AGG_CLONES
void tide__agg_reduce_sum(tide_type_t type, bool absval, const void *vals, uint32_t n, void *sum,
                          uint64_t *count) {
  switch (type) {
#define AGG_RED_INT(E, ctype, NUL)                                         \
  case TIDE_##E: {                                                         \
    const ctype *restrict v = (const ctype *)vals;                         \
    uint64_t s = 0, c = 0;                                                 \
    if (absval) {                                                          \
      for (uint32_t i = 0; i < n; i++) {                                   \
        ctype x = v[i];                                                    \
        uint64_t nn = x != NUL;                                            \
        uint64_t u = (uint64_t)(int64_t)x;                                 \
        u = x < 0 ? (uint64_t)0 - u : u;                                   \
        s += nn ? u : 0;                                                   \
        c += nn;                                                           \
      }                                                                    \
    } else {                                                               \
      for (uint32_t i = 0; i < n; i++) {                                   \
        ctype x = v[i];                                                    \
        uint64_t nn = x != NUL;                                            \
        s += nn ? (uint64_t)(int64_t)x : 0;                                \
        c += nn;                                                           \
      }                                                                    \
    }                                                                      \
    *(uint64_t *)sum += s;                                                 \
    *count += c;                                                           \
    break;                                                                 \
  }
    AGG_INT_TYPES(AGG_RED_INT)
#undef AGG_RED_INT
    case TIDE_F32:
      if (absval) AGG_REDUCE_FLT_BODY(float, TIDE_NULL_F32, AGG_CONV_ABS)
      else AGG_REDUCE_FLT_BODY(float, TIDE_NULL_F32, AGG_CONV_D)
      break;
    case TIDE_F64:
      agg_red_f64((const double *)vals, n, absval, sum, count);
      break;
    default:
      assert(!"agg sum: unsupported type");
      break;
  }
}

AGG_CLONES
void tide__agg_reduce_sum_dbl(tide_type_t type, const void *vals, uint32_t n, double *sum,
                              uint64_t *count) {
  switch (type) {
#define AGG_RED_DBL(E, ctype, NUL)                                         \
  case TIDE_##E:                                                           \
    AGG_REDUCE_FLT_BODY(ctype, NUL, AGG_CONV_D)                            \
    break;
    AGG_INT_TYPES(AGG_RED_DBL)
    AGG_FLOAT_TYPES(AGG_RED_DBL)
#undef AGG_RED_DBL
    default:
      assert(!"agg sum: unsupported type");
      break;
  }
}

AGG_CLONES
uint64_t tide__agg_int_mag(tide_type_t type, const void *vals, uint32_t n) {
  switch (type) {
#define AGG_MAG(E, ctype, NUL)                                             \
  case TIDE_##E: {                                                         \
    const ctype *restrict v = (const ctype *)vals;                         \
    uint64_t m = 0;                                                        \
    for (uint32_t i = 0; i < n; i++) {                                     \
      ctype x = v[i];                                                      \
      uint64_t u = (uint64_t)(int64_t)x;                                   \
      u = x < 0 ? (uint64_t)0 - u : u;                                     \
      m |= x != NUL ? u : 0;                                               \
    }                                                                      \
    return m;                                                              \
  }
    AGG_INT_TYPES(AGG_MAG)
#undef AGG_MAG
    default:
      return 0;
  }
}

/* Body of the *_nulls sums: accumulate (nulls add 0), note whether the
 * chunk had a null, and only then count the nulls per group. */
#define AGG_NULLS_BODY(ctype, NUL, STYPE, CONV)                            \
  {                                                                        \
    const ctype *restrict v = (const ctype *)vals;                         \
    STYPE *restrict s = (STYPE *)sums;                                     \
    uint32_t anynull = 0;                                                  \
    for (uint32_t i = 0; i < n; i++) {                                     \
      ctype x = v[i];                                                      \
      uint32_t isnull = x == NUL;                                          \
      s[ids[i]] += isnull ? (STYPE)0 : CONV(x);                            \
      anynull |= isnull;                                                   \
    }                                                                      \
    if (anynull)                                                           \
      for (uint32_t i = 0; i < n; i++)                                     \
        if (v[i] == NUL) nulls[ids[i]]++;                                  \
  }

#define AGG_CONV_U64(x) ((uint64_t)(int64_t)(x))
#define AGG_CONV_UABS(x) ((x) < 0 ? (uint64_t)0 - (uint64_t)(int64_t)(x) : (uint64_t)(int64_t)(x))

void tide__agg_sum_nulls(tide_type_t type, bool absval, const uint32_t *restrict ids,
                         const void *vals, uint32_t n, void *sums, uint64_t *restrict nulls) {
  switch (type) {
#define AGG_SN_INT(E, ctype, NUL)                                          \
  case TIDE_##E:                                                           \
    if (absval) AGG_NULLS_BODY(ctype, NUL, uint64_t, AGG_CONV_UABS)        \
    else AGG_NULLS_BODY(ctype, NUL, uint64_t, AGG_CONV_U64)                \
    break;
    AGG_INT_TYPES(AGG_SN_INT)
#undef AGG_SN_INT
#define AGG_SN_FLT(E, ctype, NUL)                                          \
  case TIDE_##E:                                                           \
    if (absval) AGG_NULLS_BODY(ctype, NUL, double, AGG_CONV_ABS)           \
    else AGG_NULLS_BODY(ctype, NUL, double, AGG_CONV_D)                    \
    break;
    AGG_FLOAT_TYPES(AGG_SN_FLT)
#undef AGG_SN_FLT
    default:
      assert(!"agg sum: unsupported type");
      break;
  }
}

void tide__agg_sum_dbl_nulls(tide_type_t type, const uint32_t *restrict ids, const void *vals,
                             uint32_t n, double *sums, uint64_t *restrict nulls) {
  switch (type) {
#define AGG_SDN(E, ctype, NUL)                                             \
  case TIDE_##E:                                                           \
    AGG_NULLS_BODY(ctype, NUL, double, AGG_CONV_D)                         \
    break;
    AGG_INT_TYPES(AGG_SDN)
    AGG_FLOAT_TYPES(AGG_SDN)
#undef AGG_SDN
    default:
      assert(!"agg sum: unsupported type");
      break;
  }
}

/* ------------------------------------------------ one-pass keyed sums */

/* One item's update in fz_body: J is a constant, so the branch on the
 * double mask folds away. */
#define FZ_ITEM(J)                                                   \
  if (M > J) {                                                       \
    if (DBL >> J & 1) {                                              \
      double x = vd##J[i];                                           \
      uint32_t isn = x == TIDE_NULL_F64;                             \
      nul |= isn;                                                    \
      ((double *)e)[J] += isn ? 0.0 : x;                             \
    } else {                                                         \
      int64_t x = vi##J[i];                                          \
      uint32_t isn = x == TIDE_NULL_I64;                             \
      nul |= isn;                                                    \
      e[J] += isn ? 0 : (uint64_t)x;                                 \
      mag##J |= (uint64_t)(x ^ (x >> 63));                           \
    }                                                                \
  }
#define FZ_PTRS(J)                                                   \
  const int64_t *restrict vi##J = (const int64_t *)a->vals[J];       \
  const double *restrict vd##J = (const double *)a->vals[J];         \
  uint64_t mag##J = 0;

/* The loop of tide__agg_fused for one combination of key form (KF),
 * row counting (CNT), slot storing (ST), number of sums (M) and double
 * mask (DBL): every argument but a and n is a constant at each call, so
 * each expansion is a plain loop with no per-row switch. A slot's sums
 * share a cache line and one address computation (the row counts are an
 * array of their own: measured faster for one sum); few registers live per
 * item (spilled accumulators made the loop carry a store-load chain per
 * row): one null flag for all items and, per int item, the OR of
 * x ^ (x >> 63). */
static inline __attribute__((always_inline)) uint32_t fz_body(tide_fz_args_t *a, uint32_t n,
                                                              const int KF, const int CNT,
                                                              const int ST, const uint32_t M,
                                                              const uint32_t DBL) {
  const uint32_t *restrict ks = (const uint32_t *)a->keys;
  const int64_t *restrict k64 = (const int64_t *)a->keys;
  const int32_t *restrict k32 = (const int32_t *)a->keys;
  const uint64_t minv = a->minv;
  const uint64_t stride = a->stride;
  uint32_t *restrict so = a->sl_out;
  uint64_t *restrict rows = a->rows;
  uint64_t *restrict acc = a->acc;
  FZ_PTRS(0)
  FZ_PTRS(1)
  FZ_PTRS(2)
  FZ_PTRS(3)
  uint32_t nul = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t q;
    if (KF == TIDE_FZK_SLOTS) {
      q = ks[i];
    } else if (KF == TIDE_FZK_I64) {
      int64_t x = k64[i];
      q = x == TIDE_NULL_I64 ? 0 : (uint32_t)((uint64_t)x - minv + 1);
    } else if (KF == TIDE_FZK_I32) {
      int32_t x = k32[i];
      q = x == TIDE_NULL_I32 ? 0 : (uint32_t)((uint64_t)(int64_t)x - minv + 1);
    } else {
      q = (uint32_t)(k32[i] + 1);
    }
    if (ST) so[i] = q;
    if (CNT) rows[q]++;
    uint64_t *restrict e = acc + (size_t)q * stride;
    FZ_ITEM(0)
    FZ_ITEM(1)
    FZ_ITEM(2)
    FZ_ITEM(3)
  }
  const uint64_t mags[TIDE_FZ_MAX] = {mag0, mag1, mag2, mag3};
  for (uint32_t j = 0; j < M; j++) {
    if (DBL >> j & 1) continue;
    /* a null's x ^ (x >> 63) is INT64_MAX: then the bound is redone exactly */
    a->mag[j] |= nul ? tide__agg_int_mag(TIDE_I64, a->vals[j], n) : mags[j];
  }
  return nul;
}
#undef FZ_ITEM
#undef FZ_PTRS

/* The (M, DBL) combinations: case index (1 << M) - 1 + DBL. */
#define FZ_COMBOS(H)                                                                      \
  H(0, 0)                                                                                 \
  H(1, 0) H(1, 1)                                                                         \
  H(2, 0) H(2, 1) H(2, 2) H(2, 3)                                                         \
  H(3, 0) H(3, 1) H(3, 2) H(3, 3) H(3, 4) H(3, 5) H(3, 6) H(3, 7)                         \
  H(4, 0) H(4, 1) H(4, 2) H(4, 3) H(4, 4) H(4, 5) H(4, 6) H(4, 7) H(4, 8) H(4, 9)         \
  H(4, 10) H(4, 11) H(4, 12) H(4, 13) H(4, 14) H(4, 15)

#define FZ_HEADER(NAME, KF, CNT, ST)                                           \
  static uint32_t NAME(tide_fz_args_t *a, uint32_t n) {                        \
    switch ((1u << a->m) - 1 + a->dbl) {                                       \
      FZ_COMBOS(FZ_CASE_##NAME)                                                \
      default:                                                                 \
        assert(!"agg fused: bad combination");                                 \
        return 0;                                                              \
    }                                                                          \
  }

#define FZ_CASE_fz_slots(M, D) \
  case (1u << M) - 1 + D: return fz_body(a, n, TIDE_FZK_SLOTS, 1, 0, M, D);
#define FZ_CASE_fz_slots_nc(M, D) \
  case (1u << M) - 1 + D: return fz_body(a, n, TIDE_FZK_SLOTS, 0, 0, M, D);
#define FZ_CASE_fz_i64(M, D) \
  case (1u << M) - 1 + D: return fz_body(a, n, TIDE_FZK_I64, 1, 0, M, D);
#define FZ_CASE_fz_i64_st(M, D) \
  case (1u << M) - 1 + D: return fz_body(a, n, TIDE_FZK_I64, 1, 1, M, D);
#define FZ_CASE_fz_i32(M, D) \
  case (1u << M) - 1 + D: return fz_body(a, n, TIDE_FZK_I32, 1, 0, M, D);
#define FZ_CASE_fz_i32_st(M, D) \
  case (1u << M) - 1 + D: return fz_body(a, n, TIDE_FZK_I32, 1, 1, M, D);
#define FZ_CASE_fz_sym(M, D) \
  case (1u << M) - 1 + D: return fz_body(a, n, TIDE_FZK_SYM, 1, 0, M, D);
#define FZ_CASE_fz_sym_st(M, D) \
  case (1u << M) - 1 + D: return fz_body(a, n, TIDE_FZK_SYM, 1, 1, M, D);

FZ_HEADER(fz_slots, TIDE_FZK_SLOTS, 1, 0)
FZ_HEADER(fz_slots_nc, TIDE_FZK_SLOTS, 0, 0)
FZ_HEADER(fz_i64, TIDE_FZK_I64, 1, 0)
FZ_HEADER(fz_i64_st, TIDE_FZK_I64, 1, 1)
FZ_HEADER(fz_i32, TIDE_FZK_I32, 1, 0)
FZ_HEADER(fz_i32_st, TIDE_FZK_I32, 1, 1)
FZ_HEADER(fz_sym, TIDE_FZK_SYM, 1, 0)
FZ_HEADER(fz_sym_st, TIDE_FZK_SYM, 1, 1)

uint32_t tide__agg_fused(tide_fz_args_t *a, uint32_t n) {
  assert(a->m <= TIDE_FZ_MAX && a->dbl < (1u << a->m));
  const bool st = a->sl_out != NULL;
  switch (a->kform) {
    case TIDE_FZK_SLOTS:
      assert(!st);
      return a->rows ? fz_slots(a, n) : fz_slots_nc(a, n);
    case TIDE_FZK_I64:
      assert(a->rows);
      return st ? fz_i64_st(a, n) : fz_i64(a, n);
    case TIDE_FZK_I32:
      assert(a->rows);
      return st ? fz_i32_st(a, n) : fz_i32(a, n);
    case TIDE_FZK_SYM:
      assert(a->rows);
      return st ? fz_sym_st(a, n) : fz_sym(a, n);
  }
  assert(!"agg fused: bad key form");
  return 0;
}

void tide__agg_null_count(tide_type_t type, const uint32_t *restrict ids, const void *vals,
                          uint32_t n, uint64_t *restrict nulls) {
  switch (type) {
#define AGG_NC(E, ctype, NUL)                                              \
  case TIDE_##E: {                                                         \
    const ctype *restrict v = (const ctype *)vals;                         \
    for (uint32_t i = 0; i < n; i++) nulls[ids[i]] += v[i] == NUL;         \
    break;                                                                 \
  }
    AGG_INT_TYPES(AGG_NC)
    AGG_FLOAT_TYPES(AGG_NC)
#undef AGG_NC
    default:
      assert(!"agg null count: unsupported type");
      break;
  }
}

AGG_CLONES
void tide__agg_i64_to_f64(const int64_t *v, uint32_t n, double *out) {
  for (uint32_t i = 0; i < n; i++) out[i] = v[i] == TIDE_NULL_I64 ? TIDE_NULL_F64 : (double)v[i];
}
