/*
 * Column types: widths, names, null sentinels, and ISO-8601 timestamps.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/core_int.h"

static const size_t type_widths[] = {
#define TIDE_X_WIDTH(E, name, ctype) sizeof(ctype),
    TIDE_TYPE_LIST(TIDE_X_WIDTH)
#undef TIDE_X_WIDTH
};

static const char *const type_names[] = {
#define TIDE_X_NAME(E, name, ctype) #name,
    TIDE_TYPE_LIST(TIDE_X_NAME)
#undef TIDE_X_NAME
};

size_t tide_type_width(tide_type_t type) {
  return (unsigned)type < TIDE_TYPE_COUNT ? type_widths[type] : 0;
}

const char *tide_type_name(tide_type_t type) {
  return (unsigned)type < TIDE_TYPE_COUNT ? type_names[type] : "?";
}

bool tide_type_from_name(const char *name, tide_type_t *out) {
  if (!name) return false;
  static const struct {
    const char *name;
    tide_type_t type;
  } aliases[] = {
      {"bool", TIDE_BOOL},       {"boolean", TIDE_BOOL},   {"int8", TIDE_I8},
      {"byte", TIDE_I8},         {"int16", TIDE_I16},      {"short", TIDE_I16},
      {"int32", TIDE_I32},       {"int", TIDE_I32},        {"int64", TIDE_I64},
      {"long", TIDE_I64},        {"float", TIDE_F32},      {"float32", TIDE_F32},
      {"double", TIDE_F64},      {"float64", TIDE_F64},    {"timestamp", TIDE_TS},
      {"datetime", TIDE_TS},     {"instant", TIDE_TS},     {"string", TIDE_STRING},
      {"str", TIDE_STRING},      {"symbol", TIDE_SYMBOL},  {"sym", TIDE_SYMBOL},
  };
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
    if (strcasecmp(name, aliases[i].name) == 0) {
      *out = aliases[i].type;
      return true;
    }
  }
  return false;
}

bool tide_type_is_integer(tide_type_t t) {
  return t == TIDE_I8 || t == TIDE_I16 || t == TIDE_I32 || t == TIDE_I64;
}
bool tide_type_is_floating(tide_type_t t) { return t == TIDE_F32 || t == TIDE_F64; }
bool tide_type_is_numeric(tide_type_t t) {
  return tide_type_is_integer(t) || tide_type_is_floating(t);
}

void tide_type_null(tide_type_t type, void *out) {
  switch (type) {
    case TIDE_BOOL: *(int8_t *)out = TIDE_NULL_BOOL; break;
    case TIDE_I8: *(int8_t *)out = TIDE_NULL_I8; break;
    case TIDE_I16: *(int16_t *)out = TIDE_NULL_I16; break;
    case TIDE_I32: *(int32_t *)out = TIDE_NULL_I32; break;
    case TIDE_I64: *(int64_t *)out = TIDE_NULL_I64; break;
    case TIDE_F32: *(float *)out = TIDE_NULL_F32; break;
    case TIDE_F64: *(double *)out = TIDE_NULL_F64; break;
    case TIDE_TS: *(int64_t *)out = TIDE_NULL_TS; break;
    case TIDE_STRING: *(const char **)out = TIDE_NULL_STRING; break;
    case TIDE_SYMBOL: *(int32_t *)out = TIDE_NULL_SYMBOL; break;
    default: assert(!"bad type");
  }
}

/* ------------------------------------------------------------ timestamps */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

void tide__civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = (unsigned)(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = (int64_t)yoe + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}

static bool digits(const char *s, size_t n, unsigned *out) {
  unsigned v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  *out = v;
  return true;
}

static bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

bool tide_ts_parse(const char *s, size_t len, int64_t *nanos_out) {
  unsigned y, mo, d, h = 0, mi = 0, sec = 0;
  if (len < 10 || s[4] != '-' || s[7] != '-') return false;
  if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d)) return false;
  static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1) return false;
  if (d > mdays[mo - 1] + (mo == 2 && leap(y) ? 1u : 0u)) return false;
  size_t p = 10;
  int64_t frac = 0;
  int64_t offset_s = 0;
  if (p < len && (s[p] == 'T' || s[p] == ' ')) {
    p++;
    if (len < p + 5 || s[p + 2] != ':') return false;
    if (!digits(s + p, 2, &h) || !digits(s + p + 3, 2, &mi)) return false;
    p += 5;
    if (p < len && s[p] == ':') {
      if (len < p + 3 || !digits(s + p + 1, 2, &sec)) return false;
      p += 3;
      if (p < len && (s[p] == '.' || s[p] == ',')) {
        p++;
        size_t nd = 0;
        while (p < len && s[p] >= '0' && s[p] <= '9') {
          if (nd < 9) frac = frac * 10 + (s[p] - '0');
          nd++;
          p++;
        }
        if (nd == 0) return false;
        for (size_t k = nd; k < 9; k++) frac *= 10;
      }
    }
    if (h > 23 || mi > 59 || sec > 60) return false;
    if (p < len && s[p] == 'Z') {
      p++;
    } else if (p < len && (s[p] == '+' || s[p] == '-')) {
      int sign = s[p] == '-' ? -1 : 1;
      unsigned oh, om = 0;
      if (len < p + 3 || !digits(s + p + 1, 2, &oh)) return false;
      p += 3;
      if (p < len && s[p] == ':') p++;
      if (p + 2 <= len && digits(s + p, 2, &om)) p += 2;
      if (oh > 23 || om > 59) return false;
      offset_s = sign * (int64_t)(oh * 3600 + om * 60);
    }
  }
  if (p != len) return false;
  /* Seconds fit easily (|year| < 10000); nanoseconds only cover about
   * 1677-09-21 .. 2262-04-11: reject what does not fit, and the null
   * sentinel itself. */
  int64_t days = days_from_civil(y, mo, d);
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_s;
  if (secs < 0 && frac > 0) { /* keep the product in range near the minimum */
    secs += 1;
    frac -= 1000000000LL;
  }
  int64_t nanos;
  if (__builtin_mul_overflow(secs, (int64_t)1000000000, &nanos) ||
      __builtin_add_overflow(nanos, frac, &nanos) || nanos == TIDE_NULL_TS)
    return false;
  *nanos_out = nanos;
  return true;
}

size_t tide_ts_format(int64_t nanos, char *buf, size_t cap) {
  if (nanos == TIDE_NULL_TS) {
    if (cap) buf[0] = '\0';
    return 0;
  }
  int64_t secs = nanos / 1000000000LL;
  int64_t ns = nanos % 1000000000LL;
  if (ns < 0) {
    ns += 1000000000LL;
    secs -= 1;
  }
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days -= 1;
  }
  int64_t y;
  unsigned m, d;
  tide__civil_from_days(days, &y, &m, &d);
  int n;
  if (ns == 0) {
    n = snprintf(buf, cap, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y, m, d,
                 (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60));
  } else {
    char frac[16];
    snprintf(frac, sizeof frac, "%09lld", (long long)ns);
    int fl = 9;
    while (fl > 3 && frac[fl - 1] == '0') fl--; /* ms, us or ns precision */
    if (fl > 3 && fl < 6) fl = 6;
    if (fl > 6 && fl < 9) fl = 9;
    frac[fl] = '\0';
    n = snprintf(buf, cap, "%04lld-%02u-%02uT%02u:%02u:%02u.%sZ", (long long)y, m, d,
                 (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60), frac);
  }
  if (n < 0) return 0;
  return (size_t)n < cap ? (size_t)n : cap ? cap - 1 : 0;
}
