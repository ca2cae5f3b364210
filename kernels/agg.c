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
    uint64_t c = 0;                                                        \
    uint32_t i = 0;                                                        \
    for (; i + AGG_LANES <= n; i += AGG_LANES) {                           \
      for (uint32_t j = 0; j < AGG_LANES; j++) {                           \
        ctype x = v[i + j];                                                \
        uint64_t nn = x != NUL;                                            \
        a[j] += nn ? CONV(x) : 0.0;                                        \
        c += nn;                                                           \
      }                                                                    \
    }                                                                      \
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
#define AGG_RED_FLT(E, ctype, NUL)                                         \
  case TIDE_##E:                                                           \
    if (absval) AGG_REDUCE_FLT_BODY(ctype, NUL, AGG_CONV_ABS)              \
    else AGG_REDUCE_FLT_BODY(ctype, NUL, AGG_CONV_D)                       \
    break;
    AGG_FLOAT_TYPES(AGG_RED_FLT)
#undef AGG_RED_FLT
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
