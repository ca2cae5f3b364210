/*
 * Test helpers shared by every ctest suite (see testutil.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int tu_failures = 0;
int tu_checks = 0;

int tu_finish(const char *name) {
  printf("%s: %d checks, %d failed\n", name, tu_checks, tu_failures);
  return tu_failures ? 1 : 0;
}

uint64_t tu_seed(uint64_t dflt) {
  const char *env = getenv("TIDE_SEED");
  uint64_t seed = env && *env ? strtoull(env, NULL, 0) : dflt;
  return seed;
}

uint64_t tu_next(tu_rng *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t tu_below(tu_rng *r, uint64_t n) { return n ? tu_next(r) % n : 0; }
double tu_unit(tu_rng *r) { return (double)(tu_next(r) >> 11) * 0x1.0p-53; }

tide_table_t *tu_table(uint64_t n, size_t ncols, const char *const *names,
                       const tide_type_t *types, const void *const *cols) {
  tide_error err;
  tide_source_t **srcs = calloc(ncols ? ncols : 1, sizeof *srcs);
  for (size_t c = 0; c < ncols; c++) {
    srcs[c] = tide_source_flat_create(types[c], n, &err);
    if (!srcs[c]) {
      fprintf(stderr, "tu_table: %s\n", err.msg);
      abort();
    }
    void *data = tide_source_flat_data(srcs[c]);
    if (types[c] == TIDE_STRING) {
      const char *const *in = cols[c];
      const char **out = data;
      for (uint64_t i = 0; i < n; i++)
        out[i] = in[i] ? tide_source_flat_store_string(srcs[c], in[i], strlen(in[i])) : NULL;
    } else if (types[c] == TIDE_SYMBOL) {
      const char *const *in = cols[c];
      int32_t *out = data;
      tide_symtab_t *st = tide_source_symtab(srcs[c]);
      for (uint64_t i = 0; i < n; i++)
        out[i] = in[i] ? tide_symtab_intern(st, in[i], strlen(in[i])) : TIDE_NULL_SYMBOL;
    } else {
      memcpy(data, cols[c], n * tide_type_width(types[c]));
    }
  }
  tide_table_t *t = tide__table_from_sources(n, ncols, names, srcs, &err);
  free(srcs);
  if (!t) {
    fprintf(stderr, "tu_table: %s\n", err.msg);
    abort();
  }
  return t;
}

static bool is_text(tide_type_t t) { return t == TIDE_STRING || t == TIDE_SYMBOL; }

/* Value at position pos as double for numeric comparison; *null set. */
static double as_double(tide_type_t type, const void *v, bool *null) {
  *null = false;
  switch (type) {
    case TIDE_BOOL: *null = *(const int8_t *)v == TIDE_NULL_BOOL; return *(const int8_t *)v;
    case TIDE_I8: *null = *(const int8_t *)v == TIDE_NULL_I8; return *(const int8_t *)v;
    case TIDE_I16: *null = *(const int16_t *)v == TIDE_NULL_I16; return *(const int16_t *)v;
    case TIDE_I32: *null = *(const int32_t *)v == TIDE_NULL_I32; return *(const int32_t *)v;
    case TIDE_I64:
    case TIDE_TS: *null = *(const int64_t *)v == TIDE_NULL_I64; return (double)*(const int64_t *)v;
    case TIDE_F32: *null = *(const float *)v == TIDE_NULL_F32; return *(const float *)v;
    case TIDE_F64: *null = *(const double *)v == TIDE_NULL_F64; return *(const double *)v;
    default: return 0;
  }
}

bool tu_table_equal(const tide_table_t *a, const tide_table_t *b, double rel_tol, char *msg,
                    size_t cap) {
  size_t nc = tide_table_ncols(a);
  if (nc != tide_table_ncols(b)) {
    snprintf(msg, cap, "column count %zu vs %zu", nc, tide_table_ncols(b));
    return false;
  }
  for (size_t c = 0; c < nc; c++) {
    tide_type_t ta = tide_table_col_type(a, c), tb = tide_table_col_type(b, c);
    if (strcmp(tide_table_col_name(a, c), tide_table_col_name(b, c)) != 0) {
      snprintf(msg, cap, "column %zu named '%s' vs '%s'", c, tide_table_col_name(a, c),
               tide_table_col_name(b, c));
      return false;
    }
    if (ta != tb && !(is_text(ta) && is_text(tb))) {
      snprintf(msg, cap, "column '%s' type %s vs %s", tide_table_col_name(a, c),
               tide_type_name(ta), tide_type_name(tb));
      return false;
    }
  }
  uint64_t n = tide_table_size(a);
  if (n != tide_table_size(b)) {
    snprintf(msg, cap, "row count %llu vs %llu", (unsigned long long)n,
             (unsigned long long)tide_table_size(b));
    return false;
  }
  for (size_t c = 0; c < nc; c++) {
    tide_type_t ta = tide_table_col_type(a, c), tb = tide_table_col_type(b, c);
    tide_source_t *sa = tide_table_col_source(a, c), *sb = tide_table_col_source(b, c);
    for (uint64_t i = 0; i < n; i++) {
      unsigned char va[8], vb[8];
      tide_table_get(a, c, i, va, NULL);
      tide_table_get(b, c, i, vb, NULL);
      bool same;
      if (is_text(ta)) {
        char x[256], y[256];
        tide_value_format(ta, tide_source_symtab(sa), va, true, x, sizeof x);
        tide_value_format(tb, tide_source_symtab(sb), vb, true, y, sizeof y);
        bool xn = ta == TIDE_STRING ? *(const char **)va == NULL : *(int32_t *)va < 0;
        bool yn = tb == TIDE_STRING ? *(const char **)vb == NULL : *(int32_t *)vb < 0;
        same = xn == yn && (xn || strcmp(x, y) == 0);
        if (!same) {
          snprintf(msg, cap, "column '%s' row %llu: '%s' vs '%s'", tide_table_col_name(a, c),
                   (unsigned long long)i, xn ? "null" : x, yn ? "null" : y);
          return false;
        }
        continue;
      }
      if (tide_type_is_floating(ta)) {
        bool an, bn;
        double x = as_double(ta, va, &an), y = as_double(tb, vb, &bn);
        if (an || bn)
          same = an == bn;
        else if (isnan(x) || isnan(y))
          same = isnan(x) && isnan(y);
        else if (x == y)
          same = true;
        else
          same = fabs(x - y) <= rel_tol * fmax(fabs(x), fabs(y));
      } else {
        same = memcmp(va, vb, tide_type_width(ta)) == 0;
      }
      if (!same) {
        char x[64], y[64];
        tide_value_format(ta, NULL, va, true, x, sizeof x);
        tide_value_format(tb, NULL, vb, true, y, sizeof y);
        snprintf(msg, cap, "column '%s' row %llu: %s vs %s", tide_table_col_name(a, c),
                 (unsigned long long)i, x, y);
        return false;
      }
    }
  }
  return true;
}

const char *tu_cell(const tide_table_t *t, const char *col, uint64_t pos) {
  static _Thread_local char buf[512];
  int c = tide_table_col_index(t, col);
  if (c < 0) return "<no such column>";
  unsigned char v[8];
  if (tide_table_get(t, (size_t)c, pos, v, NULL) != TIDE_OK) return "<out of range>";
  tide_value_format(tide_table_col_type(t, c), tide_source_symtab(tide_table_col_source(t, c)), v,
                    true, buf, sizeof buf);
  return buf;
}

double tu_cell_f64(const tide_table_t *t, const char *col, uint64_t pos) {
  int c = tide_table_col_index(t, col);
  if (c < 0) return NAN;
  unsigned char v[8];
  if (tide_table_get(t, (size_t)c, pos, v, NULL) != TIDE_OK) return NAN;
  bool null;
  double d = as_double(tide_table_col_type(t, c), v, &null);
  return null ? NAN : d;
}

/* ------------------------------------------------------ out of memory */

enum { OOM_OFF, OOM_ONCE, OOM_STICKY };
static _Atomic int oom_mode = OOM_OFF;
static _Atomic long oom_count = -1; /* allocations left before the refused one */
static atomic_bool oom_fired_flag = false;

static bool oom_refuse(void) {
  int mode = atomic_load(&oom_mode);
  if (mode == OOM_OFF) return false;
  long v = atomic_fetch_sub(&oom_count, 1);
  if (v > 0 || (mode == OOM_ONCE && v < 0)) return false;
  atomic_store(&oom_fired_flag, true);
  return true;
}
static void *oom_malloc(size_t s) { return oom_refuse() ? NULL : malloc(s ? s : 1); }
static void *oom_calloc(size_t a, size_t b) {
  return oom_refuse() ? NULL : calloc(a ? a : 1, b ? b : 1);
}
static void *oom_realloc(void *p, size_t s) { return oom_refuse() ? NULL : realloc(p, s ? s : 1); }
static void *oom_aligned(size_t al, size_t s) {
  void *p = NULL;
  if (oom_refuse() || posix_memalign(&p, al < sizeof(void *) ? sizeof(void *) : al, s ? s : 1))
    return NULL;
  return p;
}

static void oom_install(long fail_after, int mode) {
  static const tide_memory_hooks hooks = {oom_malloc, oom_calloc, oom_realloc,
                                          free,       oom_aligned, free};
  atomic_store(&oom_mode, OOM_OFF);
  atomic_store(&oom_count, fail_after);
  atomic_store(&oom_fired_flag, false);
  if (fail_after >= 0) atomic_store(&oom_mode, mode);
  tide_set_memory_hooks(&hooks);
}

void tu_oom_arm(long fail_after) { oom_install(fail_after, OOM_ONCE); }
void tu_oom_arm_sticky(long fail_after) { oom_install(fail_after, OOM_STICKY); }

void tu_oom_disarm(void) {
  tide_set_memory_hooks(NULL);
  atomic_store(&oom_mode, OOM_OFF);
}

bool tu_oom_fired(void) { return atomic_load(&oom_fired_flag); }

void *tu_oom_sweep(const char *what, long max_k, tu_oom_op op, void *ctx, tide_error *err) {
  for (long k = 0; k < max_k; k++) {
    tide_error_clear(err);
    tu_oom_arm_sticky(k);
    void *out = op(ctx, err);
    tu_oom_disarm();
    if (out) return out;
    CHECK_MSG(err->status == TIDE_ERR_NOMEM, "%s: allocation %ld failed: status %d: %s", what, k,
              (int)err->status, err->msg);
    if (err->status != TIDE_ERR_NOMEM) break;
  }
  return NULL;
}
