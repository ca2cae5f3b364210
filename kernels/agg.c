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
