/*
 * Tables: a RowSet plus named column sources; formatting and printing.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"

bool tide__is_identifier(const char *s) {
  if (!s || !(isalpha((unsigned char)s[0]) || s[0] == '_')) return false;
  for (const char *p = s + 1; *p; p++)
    if (!(isalnum((unsigned char)*p) || *p == '_')) return false;
  return true;
}

/* Open-addressing index of column names (column + 1 per slot), so name
 * lookups and the duplicate check stay O(1) for wide tables. */
static bool build_name_index(tide_table_t *t) {
  uint32_t nslots = 16;
  while (nslots < 2 * t->ncols) nslots *= 2;
  t->name_slots = tide_calloc(nslots, sizeof *t->name_slots);
  if (!t->name_slots) return false;
  t->name_nslots = nslots;
  for (size_t c = 0; c < t->ncols; c++) {
    uint32_t i = (uint32_t)tide__hash_bytes(t->names[c], strlen(t->names[c])) & (nslots - 1);
    while (t->name_slots[i]) i = (i + 1) & (nslots - 1);
    t->name_slots[i] = (uint32_t)c + 1;
  }
  return true;
}

static void table_destroy(tide_table_t *t) {
  if (t->node) t->node->release(t->node);
  tide_rowset_free(t->prev_rowset);
  tide_free(t->name_slots);
  for (size_t i = 0; i < t->ncols; i++) {
    if (t->names) tide_free(t->names[i]);
    if (t->cols) tide_source_release(t->cols[i]);
  }
  tide_free(t->names);
  tide_free(t->cols);
  tide_rowset_free(t->rowset);
  tide_free(t);
}

tide_table_t *tide_table_create(tide_rowset_t *rowset, size_t ncols, const char *const *names,
                                tide_source_t *const *sources, tide_error *err) {
  if (tide__read_error_take(err) != TIDE_OK) return NULL; /* a scan's deferred read error */
  if (ncols > UINT32_MAX / 4) {
    tide_error_set(err, TIDE_ERR_RANGE, "too many columns (%zu)", ncols);
    return NULL;
  }
  for (size_t i = 0; i < ncols; i++) {
    if (!tide__is_identifier(names[i])) {
      tide_error_set(err, TIDE_ERR_INVALID, "invalid column name '%s'", names[i] ? names[i] : "");
      return NULL;
    }
  }
  tide_table_t *t = tide_calloc(1, sizeof *t);
  if (!t) goto oom;
  t->refcount = 1;
  t->kind = TIDE_KIND_STATIC;
  t->ncols = ncols;
  t->names = tide_calloc(ncols ? ncols : 1, sizeof *t->names);
  t->cols = tide_calloc(ncols ? ncols : 1, sizeof *t->cols);
  if (!t->names || !t->cols) goto fail;
  for (size_t i = 0; i < ncols; i++) {
    t->names[i] = tide_strdup(names[i]);
    if (!t->names[i]) goto fail;
    t->cols[i] = tide_source_retain(sources[i]);
  }
  t->rowset = tide_rowset_retain(rowset);
  if (!build_name_index(t)) goto fail;
  for (size_t i = 0; i < ncols; i++) {
    if (tide__col_index(t, names[i]) != (int)i) {
      tide_error_set(err, TIDE_ERR_DUPLICATE, "duplicate column name '%s'", names[i]);
      table_destroy(t);
      return NULL;
    }
  }
  return t;
fail:
  table_destroy(t);
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "out of memory creating a table");
  return NULL;
}

tide_table_t *tide__table_from_sources(uint64_t n, size_t ncols, const char *const *names,
                                       tide_source_t **sources, tide_error *err) {
  tide_table_t *t = NULL;
  tide_rowset_t *rs = n ? tide_rowset_create_range(0, n - 1) : tide_rowset_create();
  if (!rs) {
    tide_error_set(err, TIDE_ERR_NOMEM, "out of memory creating a RowSet");
  } else {
    t = tide_table_create(rs, ncols, names, sources, err);
    tide_rowset_free(rs);
  }
  for (size_t i = 0; i < ncols; i++) tide_source_release(sources[i]);
  return t;
}

tide_table_t *tide_table_create_empty(size_t ncols, const char *const *names,
                                      const tide_type_t *types, tide_error *err) {
  tide_source_t **srcs = tide_calloc(ncols ? ncols : 1, sizeof *srcs);
  if (!srcs) {
    tide_error_set(err, TIDE_ERR_NOMEM, "out of memory creating a table");
    return NULL;
  }
  for (size_t i = 0; i < ncols; i++) {
    srcs[i] = tide_source_flat_create(types[i], 0, err);
    if (!srcs[i]) {
      for (size_t j = 0; j < i; j++) tide_source_release(srcs[j]);
      tide_free(srcs);
      return NULL;
    }
  }
  tide_table_t *t = tide__table_from_sources(0, ncols, names, srcs, err);
  tide_free(srcs);
  return t;
}

tide_table_t *tide_table_retain(tide_table_t *t) {
  if (t) atomic_fetch_add(&t->refcount, 1);
  return t;
}

void tide_table_free(tide_table_t *t) {
  if (!t || atomic_fetch_sub(&t->refcount, 1) != 1) return;
  table_destroy(t);
}

uint64_t tide_table_size(const tide_table_t *t) { return tide_rowset_size(t->rowset); }
size_t tide_table_ncols(const tide_table_t *t) { return t->ncols; }
const char *tide_table_col_name(const tide_table_t *t, size_t col) {
  return col < t->ncols ? t->names[col] : NULL;
}
tide_type_t tide_table_col_type(const tide_table_t *t, size_t col) {
  return col < t->ncols ? t->cols[col]->type : TIDE_TYPE_COUNT;
}
tide_source_t *tide_table_col_source(const tide_table_t *t, size_t col) {
  return col < t->ncols ? t->cols[col] : NULL;
}
const tide_rowset_t *tide_table_rowset(const tide_table_t *t) { return t->rowset; }
tide_table_kind_t tide_table_kind(const tide_table_t *t) { return t->kind; }
bool tide_table_is_refreshing(const tide_table_t *t) { return t->kind != TIDE_KIND_STATIC; }

int tide__col_index(const tide_table_t *t, const char *name) {
  if (!name) return -1;
  if (t->name_slots) {
    uint32_t mask = t->name_nslots - 1;
    for (uint32_t i = (uint32_t)tide__hash_bytes(name, strlen(name)) & mask; t->name_slots[i];
         i = (i + 1) & mask) {
      uint32_t c = t->name_slots[i] - 1;
      if (strcmp(t->names[c], name) == 0) return (int)c;
    }
    return -1;
  }
  if (!name) return -1;
  for (size_t i = 0; i < t->ncols; i++)
    if (strcmp(t->names[i], name) == 0) return (int)i;
  return -1;
}

int tide_table_col_index(const tide_table_t *t, const char *name) {
  return tide__col_index(t, name);
}

int tide__col_lookup(const tide_table_t *t, const char *name, const char *op, tide_error *err) {
  int idx = tide__col_index(t, name);
  if (idx >= 0) return idx;
  if (!name) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: NULL column name", op);
    return -1;
  }
  char list[256];
  size_t len = 0;
  list[0] = '\0';
  for (size_t i = 0; i < t->ncols && len < sizeof list - 1; i++) {
    int w = snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", t->names[i]);
    if (w < 0) break;
    len += (size_t)w;
  }
  if (len >= sizeof list - 1) strcpy(list + sizeof list - 5, "...");
  tide_error_set(err, TIDE_ERR_NOT_FOUND, "%s: no column '%s' (columns: %s)", op, name, list);
  return -1;
}

static size_t trim_copy(const char *s, size_t n, char *out, size_t cap) {
  while (n && isspace((unsigned char)*s)) s++, n--;
  while (n && isspace((unsigned char)s[n - 1])) n--;
  if (n >= cap) return (size_t)-1;
  memcpy(out, s, n);
  out[n] = '\0';
  return n;
}

bool tide__split_pair(const char *spec, char *l, char *r, size_t cap) {
  if (!spec) return false;
  const char *eq = strchr(spec, '=');
  if (!eq) {
    if (trim_copy(spec, strlen(spec), l, cap) == (size_t)-1 || !tide__is_identifier(l))
      return false;
    strcpy(r, l);
    return true;
  }
  if (strchr(eq + 1, '=')) return false;
  if (trim_copy(spec, (size_t)(eq - spec), l, cap) == (size_t)-1) return false;
  if (trim_copy(eq + 1, strlen(eq + 1), r, cap) == (size_t)-1) return false;
  return tide__is_identifier(l) && tide__is_identifier(r);
}

tide_status tide_table_get(const tide_table_t *t, size_t col, uint64_t pos, void *out,
                           tide_error *err) {
  if (col >= t->ncols)
    return tide_error_set(err, TIDE_ERR_RANGE, "column index %zu out of range (%zu columns)", col,
                          t->ncols);
  uint64_t key = tide_rowset_key_at(t->rowset, pos);
  if (key == TIDE_NULL_KEY)
    return tide_error_set(err, TIDE_ERR_RANGE, "row %llu out of range (%llu rows)",
                          (unsigned long long)pos, (unsigned long long)tide_table_size(t));
  tide_rowseq_t seq = {key, NULL, pos, 1};
  tide_source_fill(t->cols[col], &seq, out);
  return tide__read_error_take(err);
}

/* Shortest decimal text that reads back exactly: find the fewest
 * significant digits that round-trip, then print them in plain notation
 * ("12.5", "10", "0.001") unless the exponent is extreme ("1e+300"). */
static int format_shortest(double v, int maxprec, bool is_float, char *buf, size_t cap) {
  if (isnan(v)) return snprintf(buf, cap, "NaN");
  if (isinf(v)) return snprintf(buf, cap, v > 0 ? "Infinity" : "-Infinity");
  /* Round-tripping is monotonic in the digit count: binary search. */
  int lo = 1, hi = maxprec;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    snprintf(buf, cap, "%.*e", mid - 1, v);
    if (is_float ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v)
      hi = mid;
    else
      lo = mid + 1;
  }
  int prec = lo;
  if (v == 0) return snprintf(buf, cap, "%s", signbit(v) ? "-0.0" : "0.0");
  /* Rebuild plain notation from the digits of the shortest %e form. */
  char sci[64];
  snprintf(sci, sizeof sci, "%.*e", prec - 1, v);
  const char *e = strchr(sci, 'e');
  int exp10 = e ? atoi(e + 1) : 0;
  if (exp10 < -6 || exp10 > 20) return snprintf(buf, cap, "%s", sci);
  char digs[32];
  int nd = 0;
  for (const char *p = sci; p < e; p++)
    if (*p >= '0' && *p <= '9') digs[nd++] = *p;
  char out[64];
  int n = 0;
  if (v < 0) out[n++] = '-';
  if (exp10 < 0) {
    out[n++] = '0';
    out[n++] = '.';
    for (int z = 0; z < -exp10 - 1; z++) out[n++] = '0';
    for (int d = 0; d < nd; d++) out[n++] = digs[d];
  } else {
    for (int d = 0; d <= exp10; d++) out[n++] = d < nd ? digs[d] : '0';
    out[n++] = '.';
    if (nd > exp10 + 1) {
      for (int d = exp10 + 1; d < nd; d++) out[n++] = digs[d];
    } else {
      out[n++] = '0';
    }
  }
  out[n] = '\0';
  return snprintf(buf, cap, "%s", out);
}

static int format_double(double v, char *buf, size_t cap) {
  return format_shortest(v, 17, false, buf, cap);
}

static int format_float(float v, char *buf, size_t cap) {
  return format_shortest((double)v, 9, true, buf, cap);
}

size_t tide_value_format(tide_type_t type, const tide_symtab_t *symtab, const void *value,
                         bool null_word, char *buf, size_t cap) {
  int n = 0;
  const char *nul = null_word ? "null" : "";
  if (cap == 0) return 0;
  switch (type) {
    case TIDE_BOOL: {
      int8_t v = *(const int8_t *)value;
      n = snprintf(buf, cap, "%s", v == TIDE_NULL_BOOL ? nul : v ? "true" : "false");
      break;
    }
#define FMT_INT(E, ctype, NULLV)                                             \
  case TIDE_##E: {                                                          \
    ctype v = *(const ctype *)value;                                        \
    if (v == NULLV)                                                         \
      n = snprintf(buf, cap, "%s", nul);                                    \
    else                                                                    \
      n = snprintf(buf, cap, "%" PRId64, (int64_t)v);                        \
    break;                                                                  \
  }
      FMT_INT(I8, int8_t, TIDE_NULL_I8)
      FMT_INT(I16, int16_t, TIDE_NULL_I16)
      FMT_INT(I32, int32_t, TIDE_NULL_I32)
      FMT_INT(I64, int64_t, TIDE_NULL_I64)
#undef FMT_INT
    case TIDE_F32: {
      float v = *(const float *)value;
      n = v == TIDE_NULL_F32 ? snprintf(buf, cap, "%s", nul) : format_float(v, buf, cap);
      break;
    }
    case TIDE_F64: {
      double v = *(const double *)value;
      n = v == TIDE_NULL_F64 ? snprintf(buf, cap, "%s", nul) : format_double(v, buf, cap);
      break;
    }
    case TIDE_TS: {
      int64_t v = *(const int64_t *)value;
      if (v == TIDE_NULL_TS)
        n = snprintf(buf, cap, "%s", nul);
      else
        n = (int)tide_ts_format(v, buf, cap);
      break;
    }
    case TIDE_STRING: {
      const char *s = *(const char *const *)value;
      n = snprintf(buf, cap, "%s", s ? s : nul);
      break;
    }
    case TIDE_SYMBOL: {
      int32_t c = *(const int32_t *)value;
      const char *s = symtab ? tide_symtab_str(symtab, c) : NULL;
      n = snprintf(buf, cap, "%s", s ? s : nul);
      break;
    }
    default: n = snprintf(buf, cap, "?"); break;
  }
  if (n < 0) n = 0;
  return (size_t)n < cap ? (size_t)n : cap - 1;
}

#define PRINT_MAX_WIDTH 40

tide_status tide_table_print(const tide_table_t *t, FILE *out, uint64_t n, tide_error *err) {
  uint64_t size = tide_table_size(t);
  uint64_t rows = n < size ? n : size;
  size_t nc = t->ncols;
  size_t *width = tide_calloc(nc ? nc : 1, sizeof *width);
  if (!width) return tide_error_set(err, TIDE_ERR_NOMEM, "out of memory printing a table");
  char cell[128];
  unsigned char val[8];
  for (size_t c = 0; c < nc; c++) width[c] = strlen(t->names[c]);
  /* Two passes over at most `rows` rows: widths, then output. Printing is
   * for people; it reads values one at a time. */
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1) {
      for (size_t c = 0; c < nc; c++)
        fprintf(out, "%s%-*s", c ? " | " : "", (int)width[c], t->names[c]);
      fputc('\n', out);
      for (size_t c = 0; c < nc; c++) {
        fprintf(out, "%s", c ? "-+-" : "");
        for (size_t k = 0; k < width[c]; k++) fputc('-', out);
      }
      fputc('\n', out);
    }
    tide_rowset_iter_t it;
    tide_rowset_iter_init_pos(&it, t->rowset, 0, rows);
    uint64_t first, last;
    while (tide_rowset_iter_next_range(&it, &first, &last)) {
      for (uint64_t k = first; k <= last; k++) {
        tide_rowseq_t seq = {k, NULL, 0, 1};
        for (size_t c = 0; c < nc; c++) {
          tide_source_fill(t->cols[c], &seq, val);
          size_t len = tide_value_format(t->cols[c]->type, t->cols[c]->symtab, val, true, cell,
                                         sizeof cell);
          if (len > PRINT_MAX_WIDTH) {
            len = PRINT_MAX_WIDTH;
            memcpy(cell + len - 3, "...", 4);
          }
          if (pass == 0) {
            if (len > width[c]) width[c] = len;
          } else {
            bool right = tide_type_is_numeric(t->cols[c]->type);
            fprintf(out, "%s%*s", c ? " | " : "", right ? (int)width[c] : -(int)width[c], cell);
          }
        }
        if (pass == 1) fputc('\n', out);
      }
    }
  }
  if (rows < size)
    fprintf(out, "... %llu more rows (%llu total)\n", (unsigned long long)(size - rows),
            (unsigned long long)size);
  tide_free(width);
  return tide__read_error_take(err);
}
