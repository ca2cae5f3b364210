/*
 * Builtins of the tide script language: global functions (read_csv,
 * write_csv, print, show, merge, ...), table methods with the Deephaven
 * Python API's names and parameters, and the agg.* aggregation specs.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define TIDE_SCRIPT_INTERNAL 1
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/script.h"
#include "tide/historical.h"
#include "tide/intraday.h"

#define ERR(c, node, st, ...) tide__script_err((c), (node), (st), __VA_ARGS__)

static const char *fname(tide_script_call *c, char *buf, size_t cap) {
  if (c->fn->module == TIDE_MOD_AGG)
    snprintf(buf, cap, "agg.%s", c->fn->name);
  else
    snprintf(buf, cap, "%s", c->fn->name);
  return buf;
}

static bool is_none(const tide_sv *v) { return !v || v->kind == TIDE_SV_NONE; }

static tide_sv *type_err(tide_script_call *c, int i, const char *want) {
  char fn[64];
  return ERR(c, c->an[i], TIDE_ERR_TYPE, "%s(): argument '%s' must be %s, not %s",
             fname(c, fn, sizeof fn), c->fn->params[i], want, tide__sv_kind_name(c->a[i]));
}

/* ------------------------------------------------------ argument helpers */

typedef struct strlist {
  const char **v;
  size_t n;
  const char *one;
} strlist;

static void strlist_free(strlist *l) {
  if (l->v != &l->one) tide_free((void *)l->v);
  l->v = NULL;
  l->n = 0;
}

/* A string (one element) or a list/tuple of strings. Missing/None gives an
 * empty list when optional. */
static bool get_strlist_v(tide_script_call *c, const tide_sv *v, const tide_script_node *node,
                          const char *pname, strlist *out) {
  char fn[64];
  out->v = &out->one;
  out->n = 0;
  if (is_none(v)) return true;
  if (v->kind == TIDE_SV_STR) {
    out->one = v->u.str.s;
    out->n = 1;
    return true;
  }
  if (v->kind != TIDE_SV_LIST) {
    ERR(c, node, TIDE_ERR_TYPE, "%s(): argument '%s' must be a string or a list of strings, not %s",
        fname(c, fn, sizeof fn), pname, tide__sv_kind_name(v));
    return false;
  }
  size_t n = v->u.list.n;
  out->v = tide_malloc((n ? n : 1) * sizeof(char *));
  if (!out->v) {
    out->v = &out->one;
    ERR(c, node, TIDE_ERR_NOMEM, "out of memory");
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    const tide_sv *e = v->u.list.items[i];
    if (e->kind != TIDE_SV_STR) {
      ERR(c, node, TIDE_ERR_TYPE, "%s(): argument '%s' must be a list of strings, but item %zu is %s",
          fname(c, fn, sizeof fn), pname, i, tide__sv_kind_name(e));
      strlist_free(out);
      return false;
    }
    out->v[i] = e->u.str.s;
  }
  out->n = n;
  return true;
}

static bool get_strlist(tide_script_call *c, int i, strlist *out) {
  return get_strlist_v(c, c->a[i], c->an[i], c->fn->params[i], out);
}

static tide_table_t *get_table(tide_script_call *c, int i) {
  if (!c->a[i] || c->a[i]->kind != TIDE_SV_TABLE) {
    type_err(c, i, "a table");
    return NULL;
  }
  return c->a[i]->u.table;
}

static bool get_int(tide_script_call *c, int i, int64_t dflt, int64_t *out) {
  if (is_none(c->a[i])) {
    *out = dflt;
    return true;
  }
  if (c->a[i]->kind == TIDE_SV_INT) {
    *out = c->a[i]->u.i;
    return true;
  }
  type_err(c, i, "an integer");
  return false;
}

static bool get_count(tide_script_call *c, int i, int64_t dflt, uint64_t *out) {
  int64_t v;
  if (!get_int(c, i, dflt, &v)) return false;
  if (v < 0) {
    char fn[64];
    ERR(c, c->an[i], TIDE_ERR_RANGE, "%s(): argument '%s' must not be negative (got %lld)",
        fname(c, fn, sizeof fn), c->fn->params[i], (long long)v);
    return false;
  }
  *out = (uint64_t)v;
  return true;
}

static bool get_bool(tide_script_call *c, int i, bool dflt, bool *out) {
  if (is_none(c->a[i])) {
    *out = dflt;
    return true;
  }
  if (c->a[i]->kind == TIDE_SV_BOOL) {
    *out = c->a[i]->u.b;
    return true;
  }
  type_err(c, i, "True or False");
  return false;
}

static bool get_str(tide_script_call *c, int i, const char **out) {
  if (c->a[i] && c->a[i]->kind == TIDE_SV_STR) {
    *out = c->a[i]->u.str.s;
    return true;
  }
  type_err(c, i, "a string");
  return false;
}

static bool get_number(tide_script_call *c, int i, double *out) {
  const tide_sv *v = c->a[i];
  if (v && v->kind == TIDE_SV_INT) *out = (double)v->u.i;
  else if (v && v->kind == TIDE_SV_FLOAT) *out = v->u.f;
  else {
    type_err(c, i, "a number");
    return false;
  }
  return true;
}

static tide_sv *ret_table(tide_script_call *c, tide_table_t *t, const tide_error *err) {
  if (!t) return tide__script_engine_err(c, err);
  return tide__sv_table(t);
}

static tide_table_t *self_table(tide_script_call *c) { return c->self->u.table; }

/* ================================================================ global */

static tide_sv *b_read_csv(tide_script_call *c) {
  const char *path;
  if (!get_str(c, 0, &path)) return NULL;
  tide_csv_options_t opt;
  tide_csv_options_init(&opt);
  const tide_sv *types = NULL;
  int types_arg = -1;
  /* header: True/False, or (Deephaven) a dict of column types */
  if (!is_none(c->a[1])) {
    if (c->a[1]->kind == TIDE_SV_BOOL) {
      opt.has_header = c->a[1]->u.b;
    } else if (c->a[1]->kind == TIDE_SV_DICT) {
      types = c->a[1];
      types_arg = 1;
    } else {
      return type_err(c, 1, "True/False or a dict of column types");
    }
  }
  bool headless;
  if (!get_bool(c, 2, false, &headless)) return NULL;
  if (headless) opt.has_header = false;
  if (!is_none(c->a[3])) {
    const char *d;
    if (!get_str(c, 3, &d)) return NULL;
    if (strlen(d) != 1)
      return ERR(c, c->an[3], TIDE_ERR_INVALID, "read_csv(): delimiter must be one character");
    opt.delimiter = d[0];
  }
  if (!is_none(c->a[4])) {
    if (types) return ERR(c, c->an[4], TIDE_ERR_INVALID, "read_csv(): types given twice");
    if (c->a[4]->kind != TIDE_SV_DICT) return type_err(c, 4, "a dict of column types");
    types = c->a[4];
    types_arg = 4;
  }
  size_t nt = types ? types->u.list.n / 2 : 0;
  const char **names = NULL;
  tide_type_t *tys = NULL;
  if (nt) {
    names = tide_calloc(nt, sizeof *names);
    tys = tide_calloc(nt, sizeof *tys);
    if (!names || !tys) {
      tide_free(names);
      tide_free(tys);
      return NULL;
    }
    for (size_t i = 0; i < nt; i++) {
      const tide_sv *k = types->u.list.items[2 * i], *v = types->u.list.items[2 * i + 1];
      if (k->kind != TIDE_SV_STR || v->kind != TIDE_SV_STR) {
        tide_free(names);
        tide_free(tys);
        return ERR(c, c->an[types_arg], TIDE_ERR_TYPE,
                   "read_csv(): column types must map column names to type names "
                   "(e.g. {\"Price\": \"double\"})");
      }
      names[i] = k->u.str.s;
      if (!tide_type_from_name(v->u.str.s, &tys[i])) {
        tide_free(names);
        tide_free(tys);
        return ERR(c, c->an[types_arg], TIDE_ERR_TYPE,
                   "read_csv(): unknown type '%s' for column '%s'", v->u.str.s, k->u.str.s);
      }
    }
    opt.ntypes = nt;
    opt.type_names = names;
    opt.types = tys;
  }
  tide_error err;
  tide_error_clear(&err);
  tide_table_t *t = tide_read_csv(path, &opt, &err);
  tide_free(names);
  tide_free(tys);
  return ret_table(c, t, &err);
}

static tide_sv *b_write_csv(tide_script_call *c) {
  tide_table_t *t = get_table(c, 0);
  const char *path;
  if (!t || !get_str(c, 1, &path)) return NULL;
  strlist cols;
  if (!get_strlist(c, 2, &cols)) return NULL;
  tide_error err;
  tide_error_clear(&err);
  if (tide_table_is_refreshing(t) &&
      !tide__script_note_output(c->in, 'w', t, 0, path, cols.v, cols.n)) {
    strlist_free(&cols);
    return NULL;
  }
  tide_table_t *v = NULL;
  if (cols.n) {
    v = tide_view(t, cols.v, cols.n, &err);
    strlist_free(&cols);
    if (!v) return tide__script_engine_err(c, &err);
    t = v;
  }
  tide_status st = tide_write_csv(t, path, &err);
  tide_table_free(v);
  if (st) return tide__script_engine_err(c, &err);
  return tide__sv_none();
}

static bool put_value(tide_script_call *c, FILE *out, const tide_sv *v, bool *at_line_start) {
  if (v->kind == TIDE_SV_TABLE || v->kind == TIDE_SV_COLUMN) {
    tide_error err;
    tide_error_clear(&err);
    if (tide_table_print(v->u.table, out, UINT64_MAX, &err)) {
      tide__script_engine_err(c, &err);
      return false;
    }
    *at_line_start = true;
    return true;
  }
  char *s = tide__sv_repr(v, false);
  if (!s) return false;
  size_t l = strlen(s);
  fwrite(s, 1, l, out);
  if (l) *at_line_start = s[l - 1] == '\n';
  tide_free(s);
  return true;
}

/* print(*values, sep=' ', end='\n'): tables print whole, aligned, starting
 * on a line of their own. */
static tide_sv *b_print(tide_script_call *c) {
  FILE *out = tide__script_out(c->in);
  const char *sep = " ", *end = "\n";
  if (!is_none(c->a[0]) && !get_str(c, 0, &sep)) return NULL;
  if (!is_none(c->a[1]) && !get_str(c, 1, &end)) return NULL;
  bool at_start = true;
  bool last_table = false;
  for (size_t i = 0; i < c->nvar; i++) {
    bool is_table = c->var[i]->kind == TIDE_SV_TABLE || c->var[i]->kind == TIDE_SV_COLUMN;
    if (i && is_table) {
      if (!at_start) fputc('\n', out);
      at_start = true;
    } else if (i) {
      fputs(sep, out);
      if (sep[0]) at_start = sep[strlen(sep) - 1] == '\n';
    }
    if (!put_value(c, out, c->var[i], &at_start)) return NULL;
    if (is_table && tide_table_is_refreshing(c->var[i]->u.table) &&
        !tide__script_note_output(c->in, 'p', c->var[i]->u.table, 0, NULL, NULL, 0))
      return NULL;
    last_table = is_table;
  }
  if (!(last_table && strcmp(end, "\n") == 0)) fputs(end, out);
  fflush(out);
  return tide__sv_none();
}

static tide_sv *b_show(tide_script_call *c) {
  tide_table_t *t = get_table(c, 0);
  uint64_t n;
  if (!t || !get_count(c, 1, 10, &n)) return NULL;
  tide_error err;
  tide_error_clear(&err);
  FILE *out = tide__script_out(c->in);
  if (tide_table_print(t, out, n, &err)) return tide__script_engine_err(c, &err);
  fflush(out);
  if (tide_table_is_refreshing(t) && !tide__script_note_output(c->in, 's', t, n, NULL, NULL, 0))
    return NULL;
  return tide__sv_none();
}

static tide_sv *b_merge(tide_script_call *c) {
  /* merge([t1, t2, ...]) or merge(t1, t2, ...) */
  size_t n = 0, cap = c->nvar + 1;
  const tide_sv *first = c->a[0];
  if (first->kind == TIDE_SV_LIST) cap += first->u.list.n;
  tide_table_t **ts = tide_calloc(cap, sizeof *ts);
  if (!ts) return NULL;
  tide_sv *res = NULL;
  if (first->kind == TIDE_SV_LIST) {
    for (size_t i = 0; i < first->u.list.n; i++) {
      const tide_sv *e = first->u.list.items[i];
      if (e->kind != TIDE_SV_TABLE) {
        ERR(c, c->an[0], TIDE_ERR_TYPE, "merge(): item %zu of the list is %s, not a table", i,
            tide__sv_kind_name(e));
        goto out;
      }
      ts[n++] = e->u.table;
    }
  } else if (first->kind == TIDE_SV_TABLE) {
    ts[n++] = first->u.table;
  } else {
    type_err(c, 0, "a list of tables");
    goto out;
  }
  for (size_t i = 0; i < c->nvar; i++) {
    if (c->var[i]->kind != TIDE_SV_TABLE) {
      ERR(c, c->varn[i], TIDE_ERR_TYPE, "merge(): argument %zu is %s, not a table", i + 2,
          tide__sv_kind_name(c->var[i]));
      goto out;
    }
    ts[n++] = c->var[i]->u.table;
  }
  tide_error err;
  tide_error_clear(&err);
  res = ret_table(c, tide_merge(ts, n, &err), &err);
out:
  tide_free(ts);
  return res;
}

static tide_sv *b_len(tide_script_call *c) {
  const tide_sv *v = c->a[0];
  switch (v->kind) {
    case TIDE_SV_TABLE:
    case TIDE_SV_COLUMN: return tide__sv_int((int64_t)tide_table_size(v->u.table));
    case TIDE_SV_LIST: return tide__sv_int((int64_t)v->u.list.n);
    case TIDE_SV_DICT: return tide__sv_int((int64_t)v->u.list.n / 2);
    case TIDE_SV_STR: return tide__sv_int((int64_t)v->u.str.len);
    default:
      return ERR(c, c->an[0], TIDE_ERR_TYPE, "object of type '%s' has no len()",
                 tide__sv_kind_name(v));
  }
}

/* Parse text as the kind of `like` (int, float, bool; else a string). */
static tide_sv *parse_like(tide_script_call *c, const tide_script_node *node, const char *what,
                           const char *text, const tide_sv *like) {
  char *end;
  errno = 0;
  if (like && like->kind == TIDE_SV_INT) {
    long long v = strtoll(text, &end, 10);
    if (end == text || *end || errno)
      return ERR(c, node, TIDE_ERR_INVALID, "%s: '%s' is not an integer", what, text);
    return tide__sv_int(v);
  }
  if (like && like->kind == TIDE_SV_FLOAT) {
    double v = strtod(text, &end);
    if (end == text || *end)
      return ERR(c, node, TIDE_ERR_INVALID, "%s: '%s' is not a number", what, text);
    return tide__sv_float(v);
  }
  if (like && like->kind == TIDE_SV_BOOL) {
    if (!strcmp(text, "True") || !strcmp(text, "true") || !strcmp(text, "1"))
      return tide__sv_bool(true);
    if (!strcmp(text, "False") || !strcmp(text, "false") || !strcmp(text, "0"))
      return tide__sv_bool(false);
    return ERR(c, node, TIDE_ERR_INVALID, "%s: '%s' is not True or False", what, text);
  }
  return tide__sv_str(text, strlen(text));
}

static tide_sv *b_arg(tide_script_call *c) {
  const char *name;
  if (!get_str(c, 0, &name)) return NULL;
  const char *val = tide__script_setting(c->in, name);
  if (!val) {
    if (!c->a[1])
      return ERR(c, NULL, TIDE_ERR_NOT_FOUND,
                 "arg(): no value for '%s' (run with --set %s=VALUE)", name, name);
    return tide__sv_ref(c->a[1]);
  }
  char what[128];
  snprintf(what, sizeof what, "arg(): --set %s", name);
  return parse_like(c, c->node, what, val, c->a[1]);
}

static tide_sv *b_str(tide_script_call *c) {
  char *s = tide__sv_repr(c->a[0], false);
  if (!s) return NULL;
  tide_sv *v = tide__sv_str(s, strlen(s));
  tide_free(s);
  return v;
}

static tide_sv *b_int(tide_script_call *c) {
  const tide_sv *v = c->a[0];
  if (v->kind == TIDE_SV_INT) return tide__sv_ref(c->a[0]);
  if (v->kind == TIDE_SV_BOOL) return tide__sv_int(v->u.b);
  if (v->kind == TIDE_SV_FLOAT) {
    if (!isfinite(v->u.f) || v->u.f >= 9.2233720368547758e18 || v->u.f < -9.2233720368547758e18)
      return ERR(c, c->an[0], TIDE_ERR_RANGE, "int(): cannot convert %g to an integer", v->u.f);
    return tide__sv_int((int64_t)v->u.f);
  }
  if (v->kind == TIDE_SV_STR) {
    tide_sv like = {.kind = TIDE_SV_INT};
    return parse_like(c, c->an[0], "int()", v->u.str.s, &like);
  }
  return type_err(c, 0, "a number or a string");
}

static tide_sv *b_float(tide_script_call *c) {
  const tide_sv *v = c->a[0];
  if (v->kind == TIDE_SV_FLOAT) return tide__sv_ref(c->a[0]);
  if (v->kind == TIDE_SV_INT) return tide__sv_float((double)v->u.i);
  if (v->kind == TIDE_SV_BOOL) return tide__sv_float(v->u.b);
  if (v->kind == TIDE_SV_STR) {
    tide_sv like = {.kind = TIDE_SV_FLOAT};
    return parse_like(c, c->an[0], "float()", v->u.str.s, &like);
  }
  return type_err(c, 0, "a number or a string");
}

static tide_sv *b_empty_table(tide_script_call *c) {
  uint64_t n;
  if (!get_count(c, 0, 0, &n)) return NULL;
  tide_rowset_t *rs = n ? tide_rowset_create_range(0, n - 1) : tide_rowset_create();
  if (!rs) return NULL;
  tide_error err;
  tide_error_clear(&err);
  tide_table_t *t = tide_table_create(rs, 0, NULL, NULL, &err);
  tide_rowset_free(rs);
  return ret_table(c, t, &err);
}

/* int_col(name, data) etc. (deephaven.column): a one-column table. */
static tide_sv *b_col(tide_script_call *c) {
  const char *name;
  if (!get_str(c, 0, &name)) return NULL;
  const tide_sv *data = c->a[1];
  if (data->kind != TIDE_SV_LIST) return type_err(c, 1, "a list of values");
  tide_type_t ty = (tide_type_t)c->fn->tag;
  size_t n = data->u.list.n;
  tide_error err;
  tide_error_clear(&err);
  tide_source_t *src = tide_source_flat_create(ty, n, &err);
  if (!src) return tide__script_engine_err(c, &err);
  void *dst = tide_source_flat_data(src);
  for (size_t i = 0; i < n; i++) {
    const tide_sv *e = data->u.list.items[i];
    if (e->kind == TIDE_SV_NONE) continue; /* the source starts all-null */
    bool ok = true;
    if (ty == TIDE_STRING) {
      if (e->kind != TIDE_SV_STR) ok = false;
      else {
        const char *s = tide_source_flat_store_string(src, e->u.str.s, e->u.str.len);
        if (!s) {
          tide_source_release(src);
          return NULL;
        }
        ((const char **)dst)[i] = s;
      }
    } else if (ty == TIDE_BOOL) {
      if (e->kind != TIDE_SV_BOOL) ok = false;
      else ((int8_t *)dst)[i] = e->u.b ? 1 : 0;
    } else if (ty == TIDE_F64 || ty == TIDE_F32) {
      double f;
      if (e->kind == TIDE_SV_FLOAT) f = e->u.f;
      else if (e->kind == TIDE_SV_INT) f = (double)e->u.i;
      else ok = false;
      if (ok && ty == TIDE_F64) ((double *)dst)[i] = f;
      else if (ok) ((float *)dst)[i] = (float)f;
    } else {
      /* integers: range-checked, the minimum is the null sentinel */
      int64_t lo = ty == TIDE_I8 ? INT8_MIN : ty == TIDE_I16 ? INT16_MIN
                   : ty == TIDE_I32 ? INT32_MIN : INT64_MIN;
      int64_t hi = ty == TIDE_I8 ? INT8_MAX : ty == TIDE_I16 ? INT16_MAX
                   : ty == TIDE_I32 ? INT32_MAX : INT64_MAX;
      if (e->kind != TIDE_SV_INT) ok = false;
      else if (e->u.i <= lo || e->u.i > hi) {
        tide_source_release(src);
        return ERR(c, c->an[1], TIDE_ERR_RANGE, "%s(): value %lld (item %zu) is out of range for %s",
                   c->fn->name, (long long)e->u.i, i, tide_type_name(ty));
      } else {
        switch (ty) {
          case TIDE_I8: ((int8_t *)dst)[i] = (int8_t)e->u.i; break;
          case TIDE_I16: ((int16_t *)dst)[i] = (int16_t)e->u.i; break;
          case TIDE_I32: ((int32_t *)dst)[i] = (int32_t)e->u.i; break;
          default: ((int64_t *)dst)[i] = e->u.i; break;
        }
      }
    }
    if (!ok) {
      tide_source_release(src);
      return ERR(c, c->an[1], TIDE_ERR_TYPE, "%s(): item %zu is %s, not a %s value", c->fn->name,
                 i, tide__sv_kind_name(e), tide_type_name(ty));
    }
  }
  tide_rowset_t *rs = n ? tide_rowset_create_range(0, n - 1) : tide_rowset_create();
  if (!rs) {
    tide_source_release(src);
    return NULL;
  }
  tide_table_t *t = tide_table_create(rs, 1, &name, &src, &err);
  tide_rowset_free(rs);
  tide_source_release(src);
  if (!t) return tide__script_engine_err(c, &err);
  tide_sv *v = tide__sv_new(TIDE_SV_COLUMN);
  if (!v) {
    tide_table_free(t);
    return NULL;
  }
  v->u.table = t;
  return v;
}

static tide_sv *b_new_table(tide_script_call *c) {
  const tide_sv *cols = c->a[0];
  if (cols->kind != TIDE_SV_LIST) return type_err(c, 0, "a list of columns (int_col(...), ...)");
  size_t n = cols->u.list.n;
  if (n == 0) return ERR(c, c->an[0], TIDE_ERR_INVALID, "new_table(): no columns");
  const char **names = tide_calloc(n, sizeof *names);
  tide_source_t **srcs = tide_calloc(n, sizeof *srcs);
  tide_sv *res = NULL;
  if (!names || !srcs) goto out;
  uint64_t rows = 0;
  for (size_t i = 0; i < n; i++) {
    const tide_sv *e = cols->u.list.items[i];
    if (e->kind != TIDE_SV_COLUMN) {
      ERR(c, c->an[0], TIDE_ERR_TYPE, "new_table(): item %zu is %s, not a column", i,
          tide__sv_kind_name(e));
      goto out;
    }
    uint64_t r = tide_table_size(e->u.table);
    if (i == 0) rows = r;
    else if (r != rows) {
      ERR(c, c->an[0], TIDE_ERR_INVALID,
          "new_table(): column '%s' has %llu values but '%s' has %llu",
          tide_table_col_name(e->u.table, 0), (unsigned long long)r, names[0],
          (unsigned long long)rows);
      goto out;
    }
    names[i] = tide_table_col_name(e->u.table, 0);
    srcs[i] = tide_table_col_source(e->u.table, 0);
  }
  tide_rowset_t *rs = rows ? tide_rowset_create_range(0, rows - 1) : tide_rowset_create();
  if (!rs) goto out;
  tide_error err;
  tide_error_clear(&err);
  tide_table_t *t = tide_table_create(rs, n, names, srcs, &err);
  tide_rowset_free(rs);
  res = ret_table(c, t, &err);
out:
  tide_free(names);
  tide_free(srcs);
  return res;
}

/* ============================================================== ticking */

/* time_table(period, start_time=None, blink_table=False): period is an
 * ISO-8601 duration ("PT1S") or "100ms"-style text, or an integer of
 * nanoseconds; start_time a timestamp string. */
static tide_sv *b_time_table(tide_script_call *c) {
  int64_t period = 0;
  tide_error err;
  tide_error_clear(&err);
  if (c->a[0]->kind == TIDE_SV_INT) {
    period = c->a[0]->u.i;
    if (period <= 0)
      return ERR(c, c->an[0], TIDE_ERR_INVALID,
                 "time_table(): the period must be positive (got %lld ns)", (long long)period);
  } else if (c->a[0]->kind == TIDE_SV_STR) {
    if (tide_duration_parse(c->a[0]->u.str.s, "time_table()", &period, &err) != TIDE_OK)
      return ERR(c, c->an[0], err.status, "%s", err.msg);
  } else {
    return type_err(c, 0, "a duration string (e.g. 'PT1S') or nanoseconds");
  }
  int64_t start = TIDE_NULL_TS;
  if (!is_none(c->a[1])) {
    const char *st;
    if (!get_str(c, 1, &st)) return NULL;
    if (!tide_ts_parse(st, strlen(st), &start))
      return ERR(c, c->an[1], TIDE_ERR_INVALID,
                 "time_table(): start_time '%s' is not a timestamp (e.g. 2026-01-01T09:30:00Z)",
                 st);
  }
  bool blink;
  if (!get_bool(c, 2, false, &blink)) return NULL;
  tide_graph_t *g = tide_graph_default();
  if (!g) return NULL;
  return ret_table(c, tide_time_table(g, period, start, blink, &err), &err);
}

static tide_sv *b_replay(tide_script_call *c) {
  tide_table_t *t = get_table(c, 0);
  int64_t per;
  if (!t || !get_int(c, 1, 0, &per)) return NULL;
  if (per <= 0)
    return ERR(c, c->an[1], TIDE_ERR_INVALID,
               "replay(): rows_per_cycle must be positive (got %lld)", (long long)per);
  bool blink;
  if (!get_bool(c, 2, false, &blink)) return NULL;
  tide_graph_t *g = tide_graph_default();
  if (!g) return NULL;
  tide_error err;
  tide_error_clear(&err);
  return ret_table(c, tide_replay(g, t, (uint64_t)per, blink, &err), &err);
}

/* blink_to_append_only(table) (deephaven.stream.blink_to_append_only). */
static tide_sv *b_blink_to_append_only(tide_script_call *c) {
  tide_table_t *t = get_table(c, 0);
  if (!t) return NULL;
  tide_error err;
  tide_error_clear(&err);
  return ret_table(c, tide_blink_to_append_only(t, &err), &err);
}

/* ring_table(table, capacity, initialize=True) (Deephaven's
 * RingTableTools.of): the last `capacity` rows of a blink or append-only
 * table. */
static tide_sv *b_ring_table(tide_script_call *c) {
  tide_table_t *t = get_table(c, 0);
  int64_t cap;
  bool init;
  if (!t || !get_int(c, 1, 0, &cap) || !get_bool(c, 2, true, &init)) return NULL;
  if (cap <= 0)
    return ERR(c, c->an[1], TIDE_ERR_INVALID,
               "ring_table(): the capacity must be positive (got %lld)", (long long)cap);
  tide_error err;
  tide_error_clear(&err);
  return ret_table(c, tide_ring_table(t, (uint64_t)cap, init, &err), &err);
}

/* t.snapshot(): a static copy of the current rows. */
static tide_sv *m_snapshot(tide_script_call *c) {
  tide_error err;
  tide_error_clear(&err);
  return ret_table(c, tide_snapshot(self_table(c), &err), &err);
}

/* t.remove_blink(): a blink table as a standard table. */
static tide_sv *m_remove_blink(tide_script_call *c) {
  tide_error err;
  tide_error_clear(&err);
  return ret_table(c, tide_remove_blink(self_table(c), &err), &err);
}

/* input_table(col_defs=None, init_table=None, key_cols=None): col_defs is
 * a dict of column types ({"Sym": dtypes.string, "Px": "double"}) or a
 * table whose schema and rows start the input table (as init_table). */
static tide_sv *b_input_table(tide_script_call *c) {
  const tide_sv *defs = is_none(c->a[0]) ? NULL : c->a[0];
  const tide_table_t *init = NULL;
  if (defs && defs->kind == TIDE_SV_TABLE) {
    init = defs->u.table;
    defs = NULL;
  } else if (defs && defs->kind != TIDE_SV_DICT) {
    return type_err(c, 0, "a dict of column types or a table");
  }
  if (!is_none(c->a[1])) {
    if (init)
      return ERR(c, c->an[1], TIDE_ERR_INVALID, "input_table(): init_table given twice");
    if (c->a[1]->kind != TIDE_SV_TABLE) return type_err(c, 1, "a table");
    init = c->a[1]->u.table;
  }
  if (!defs && !init)
    return ERR(c, NULL, TIDE_ERR_INVALID,
               "input_table(): give col_defs (a dict of column types) or init_table");
  strlist keys;
  if (!get_strlist(c, 2, &keys)) return NULL;
  tide_graph_t *g = tide_graph_default();
  tide_error err;
  tide_error_clear(&err);
  tide_table_t *t = NULL;
  tide_sv *res = NULL;
  if (defs) {
    size_t n = defs->u.list.n / 2;
    const char **names = tide_calloc(n ? n : 1, sizeof *names);
    tide_type_t *types = tide_calloc(n ? n : 1, sizeof *types);
    if (!names || !types || !g) {
      tide_free(names);
      tide_free(types);
      strlist_free(&keys);
      return NULL;
    }
    for (size_t i = 0; i < n; i++) {
      const tide_sv *k = defs->u.list.items[2 * i], *v = defs->u.list.items[2 * i + 1];
      if (k->kind != TIDE_SV_STR || v->kind != TIDE_SV_STR ||
          !tide_type_from_name(v->u.str.s, &types[i])) {
        ERR(c, c->an[0], TIDE_ERR_TYPE,
            "input_table(): col_defs must map column names to types (e.g. {\"Px\": "
            "dtypes.double}); bad entry %zu",
            i);
        tide_free(names);
        tide_free(types);
        strlist_free(&keys);
        return NULL;
      }
      names[i] = k->u.str.s;
    }
    t = tide_input_table_create_schema(g, n, names, types, keys.v, keys.n, &err);
    tide_free(names);
    tide_free(types);
  } else {
    if (!g) {
      strlist_free(&keys);
      return NULL;
    }
    t = tide_input_table_create(g, init, keys.v, keys.n, &err);
  }
  strlist_free(&keys);
  res = ret_table(c, t, &err);
  return res;
}

static tide_sv *m_input_change(tide_script_call *c) {
  tide_table_t *self = self_table(c);
  if (!tide_table_is_input_table(self))
    return ERR(c, NULL, TIDE_ERR_INVALID,
               "%s(): the table is not an input table (make one with input_table(...))",
               c->fn->name);
  tide_table_t *rows = get_table(c, 0);
  if (!rows) return NULL;
  tide_error err;
  tide_error_clear(&err);
  tide_status st = c->fn->tag ? tide_input_table_delete(self, rows, &err)
                              : tide_input_table_add(self, rows, &err);
  if (st) return tide__script_engine_err(c, &err);
  return tide__sv_none();
}

static tide_sv *b_run_cycles(tide_script_call *c) {
  int64_t n;
  if (!get_int(c, 0, 1, &n)) return NULL;
  if (n < 0)
    return ERR(c, c->an[0], TIDE_ERR_RANGE, "run_cycles(): n must not be negative (got %lld)",
               (long long)n);
  tide_graph_t *g = tide_graph_default();
  if (!g) return NULL;
  tide_error err;
  tide_error_clear(&err);
  if (tide_graph_run_cycles(g, (uint64_t)n, &err) != TIDE_OK)
    return tide__script_engine_err(c, &err);
  return tide__sv_none();
}

/* sleep(seconds): wait in real time while the default update graph cycles
 * on its background thread (every 100 ms), as time.sleep() in a Deephaven
 * script lets the graph tick: ticking tables printed afterwards show what
 * changed (e.g. live_table rows committed meanwhile). */
static tide_sv *b_sleep(tide_script_call *c) {
  double s;
  if (!get_number(c, 0, &s)) return NULL;
  if (!(s >= 0 && s <= 86400))
    return ERR(c, c->an[0], TIDE_ERR_RANGE, "sleep(): seconds must be within 0..86400 (got %g)",
               s);
  tide_graph_t *g = tide_graph_default();
  if (!g) return NULL;
  tide_error err;
  tide_error_clear(&err);
  if (tide_graph_start(g, 0, &err) != TIDE_OK) return tide__script_engine_err(c, &err);
  struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
  if (tide_graph_stop(g, &err) != TIDE_OK) return tide__script_engine_err(c, &err);
  return tide__sv_none();
}

/* ========================================================= table methods */

static tide_sv *m_size(tide_script_call *c) {
  return tide__sv_int((int64_t)tide_table_size(self_table(c)));
}

static tide_sv *m_columns(tide_script_call *c) {
  tide_table_t *t = self_table(c);
  tide_sv *l = tide__sv_new(TIDE_SV_LIST);
  if (!l) return NULL;
  for (size_t i = 0; i < tide_table_ncols(t); i++) {
    const char *nm = tide_table_col_name(t, i);
    if (!tide__sv_list_push(l, tide__sv_str(nm, strlen(nm)))) {
      tide__sv_unref(l);
      return NULL;
    }
  }
  return l;
}

static tide_sv *m_is_refreshing(tide_script_call *c) {
  return tide__sv_bool(tide_table_is_refreshing(self_table(c)));
}

/* meta_table: one row per column with its Name and DataType. */
static tide_sv *m_meta_table(tide_script_call *c) {
  tide_table_t *t = self_table(c);
  size_t n = tide_table_ncols(t);
  tide_error err;
  tide_error_clear(&err);
  tide_source_t *src[2] = {tide_source_flat_create(TIDE_STRING, n, &err),
                           tide_source_flat_create(TIDE_STRING, n, &err)};
  tide_sv *res = NULL;
  tide_rowset_t *rs = NULL;
  if (!src[0] || !src[1]) {
    tide__script_engine_err(c, &err);
    goto out;
  }
  const char **names = tide_source_flat_data(src[0]), **types = tide_source_flat_data(src[1]);
  for (size_t i = 0; i < n; i++) {
    const char *nm = tide_table_col_name(t, i), *ty = tide_type_name(tide_table_col_type(t, i));
    names[i] = tide_source_flat_store_string(src[0], nm, strlen(nm));
    types[i] = tide_source_flat_store_string(src[1], ty, strlen(ty));
    if (!names[i] || !types[i]) goto out;
  }
  rs = n ? tide_rowset_create_range(0, n - 1) : tide_rowset_create();
  if (!rs) goto out;
  static const char *const cols[2] = {"Name", "DataType"};
  res = ret_table(c, tide_table_create(rs, 2, cols, src, &err), &err);
out:
  tide_rowset_free(rs);
  tide_source_release(src[0]);
  tide_source_release(src[1]);
  return res;
}

static tide_sv *m_where(tide_script_call *c) {
  strlist f;
  if (!get_strlist(c, 0, &f)) return NULL;
  tide_table_t *t = tide_table_retain(self_table(c));
  tide_error err;
  tide_error_clear(&err);
  for (size_t i = 0; i < f.n && t; i++) {
    tide_table_t *nt = tide_where(t, f.v[i], &err);
    tide_table_free(t);
    t = nt;
  }
  strlist_free(&f);
  return ret_table(c, t, &err);
}

static tide_sv *m_where_in(tide_script_call *c) {
  tide_table_t *ft = get_table(c, 0);
  if (!ft) return NULL;
  strlist cols;
  if (!get_strlist(c, 1, &cols)) return NULL;
  tide_error err;
  tide_error_clear(&err);
  tide_table_t *t = c->fn->tag ? tide_where_not_in(self_table(c), ft, cols.v, cols.n, &err)
                               : tide_where_in(self_table(c), ft, cols.v, cols.n, &err);
  strlist_free(&cols);
  return ret_table(c, t, &err);
}

typedef tide_table_t *(*formula_op)(tide_table_t *, const char *const *, size_t, tide_error *);

static tide_sv *m_formulas(tide_script_call *c) {
  static const formula_op ops[] = {tide_select, tide_view, tide_update, tide_update_view,
                                   tide_drop_columns, tide_rename_columns};
  strlist f;
  if (!get_strlist(c, 0, &f)) return NULL;
  tide_error err;
  tide_error_clear(&err);
  tide_table_t *t = ops[c->fn->tag](self_table(c), f.v, f.n, &err);
  strlist_free(&f);
  return ret_table(c, t, &err);
}

static tide_sv *m_head_tail(tide_script_call *c) {
  uint64_t n;
  if (!get_count(c, 0, 0, &n)) return NULL;
  tide_error err;
  tide_error_clear(&err);
  tide_table_t *t = c->fn->tag ? tide_tail(self_table(c), n, &err) : tide_head(self_table(c), n, &err);
  return ret_table(c, t, &err);
}

static tide_sv *m_head_tail_by(tide_script_call *c) {
  uint64_t n;
  if (!get_count(c, 0, 0, &n)) return NULL;
  strlist by;
  if (!get_strlist(c, 1, &by)) return NULL;
  tide_error err;
  tide_error_clear(&err);
  tide_table_t *t = c->fn->tag ? tide_tail_by(self_table(c), n, by.v, by.n, &err)
                               : tide_head_by(self_table(c), n, by.v, by.n, &err);
  strlist_free(&by);
  return ret_table(c, t, &err);
}

static tide_sv *m_sort(tide_script_call *c) {
  strlist cols;
  if (!get_strlist(c, 0, &cols)) return NULL;
  bool *desc = NULL;
  tide_sv *res = NULL;
  tide_error err;
  tide_error_clear(&err);
  if (c->fn->tag) { /* sort_descending */
    res = ret_table(c, tide_sort_descending(self_table(c), cols.v, cols.n, &err), &err);
    goto out;
  }
  if (!is_none(c->a[1])) {
    const tide_sv *o = c->a[1];
    desc = tide_calloc(cols.n ? cols.n : 1, sizeof *desc);
    if (!desc) goto out;
    if (o->kind == TIDE_SV_SORTDIR) {
      for (size_t i = 0; i < cols.n; i++) desc[i] = o->u.b;
    } else if (o->kind == TIDE_SV_LIST) {
      if (o->u.list.n != cols.n) {
        ERR(c, c->an[1], TIDE_ERR_INVALID,
            "sort(): %zu sort directions given for %zu columns", o->u.list.n, cols.n);
        goto out;
      }
      for (size_t i = 0; i < cols.n; i++) {
        if (o->u.list.items[i]->kind != TIDE_SV_SORTDIR) {
          ERR(c, c->an[1], TIDE_ERR_TYPE,
              "sort(): order must be SortDirection values, but item %zu is %s", i,
              tide__sv_kind_name(o->u.list.items[i]));
          goto out;
        }
        desc[i] = o->u.list.items[i]->u.b;
      }
    } else {
      type_err(c, 1, "a SortDirection or a list of them");
      goto out;
    }
  }
  res = ret_table(c, tide_sort_ex(self_table(c), cols.v, desc, cols.n, &err), &err);
out:
  tide_free(desc);
  strlist_free(&cols);
  return res;
}

static tide_sv *m_select_distinct(tide_script_call *c) {
  strlist cols;
  if (!get_strlist(c, 0, &cols)) return NULL;
  tide_table_t *self = self_table(c);
  tide_error err;
  tide_error_clear(&err);
  if (cols.n == 0) { /* all columns */
    strlist_free(&cols);
    size_t n = tide_table_ncols(self);
    cols.v = tide_calloc(n ? n : 1, sizeof(char *));
    if (!cols.v) return NULL;
    for (size_t i = 0; i < n; i++) cols.v[i] = tide_table_col_name(self, i);
    cols.n = n;
  }
  tide_table_t *t = tide_select_distinct(self, cols.v, cols.n, &err);
  strlist_free(&cols);
  return ret_table(c, t, &err);
}

/* Column name part of a by/match entry ("A" or "A=B" -> A). */
static bool by_contains(const strlist *by, const char *col) {
  for (size_t i = 0; i < by->n; i++) {
    const char *e = by->v[i];
    size_t l = strcspn(e, "=");
    while (l && e[l - 1] == ' ') l--;
    while (*e == ' ' && l) e++, l--;
    if (strlen(col) == l && strncmp(col, e, l) == 0) return true;
  }
  return false;
}

static tide_sv *m_agg_by(tide_script_call *c) {
  const tide_sv *aggs = c->a[0];
  const tide_sv *const *items;
  size_t naggs;
  if (aggs->kind == TIDE_SV_AGG) {
    items = (const tide_sv *const *)&c->a[0];
    naggs = 1;
  } else if (aggs->kind == TIDE_SV_LIST) {
    items = (const tide_sv *const *)aggs->u.list.items;
    naggs = aggs->u.list.n;
    for (size_t i = 0; i < naggs; i++)
      if (items[i]->kind != TIDE_SV_AGG)
        return ERR(c, c->an[0], TIDE_ERR_TYPE,
                   "agg_by(): aggs must be agg.* specs, but item %zu is %s", i,
                   tide__sv_kind_name(items[i]));
  } else {
    return type_err(c, 0, "an aggregation (agg.*) or a list of them");
  }
  if (naggs == 0) return ERR(c, c->an[0], TIDE_ERR_INVALID, "agg_by(): no aggregations");
  if (!is_none(c->a[2]) && !(c->a[2]->kind == TIDE_SV_BOOL && !c->a[2]->u.b))
    return ERR(c, c->an[2], TIDE_ERR_UNSUPPORTED, "agg_by(): preserve_empty is not supported");
  if (!is_none(c->a[3]))
    return ERR(c, c->an[3], TIDE_ERR_UNSUPPORTED, "agg_by(): initial_groups is not supported");
  strlist by;
  if (!get_strlist(c, 1, &by)) return NULL;
  tide_table_t *self = self_table(c);
  size_t ncols = tide_table_ncols(self);
  tide_agg_spec_t *specs = tide_calloc(naggs, sizeof *specs);
  const char **allcols = tide_calloc(naggs * (ncols + 1), sizeof *allcols);
  tide_sv *res = NULL;
  if (!specs || !allcols) goto out;
  for (size_t i = 0; i < naggs; i++) {
    const tide_script_agg *a = items[i]->u.agg;
    tide_agg_spec_t *s = &specs[i];
    s->kind = a->kind;
    s->pct = a->pct;
    s->weight = a->weight;
    s->count_nulls = a->count_nulls;
    if (a->all) {
      const char **cols = allcols + i * (ncols + 1);
      size_t m = 0;
      for (size_t j = 0; j < ncols; j++) {
        const char *nm = tide_table_col_name(self, j);
        if (by_contains(&by, nm) || (a->weight && strcmp(a->weight, nm) == 0)) continue;
        cols[m++] = nm;
      }
      s->cols = cols;
      s->ncols = m;
    } else {
      s->cols = (const char *const *)a->cols;
      s->ncols = a->ncols;
    }
  }
  tide_error err;
  tide_error_clear(&err);
  res = ret_table(c, tide_agg_by(self, specs, naggs, by.v, by.n, &err), &err);
out:
  tide_free(specs);
  tide_free(allcols);
  strlist_free(&by);
  return res;
}

static tide_sv *m_agg_all_by(tide_script_call *c) {
  strlist by;
  if (!get_strlist(c, 0, &by)) return NULL;
  tide_error err;
  tide_error_clear(&err);
  tide_table_t *t =
      tide_agg_all_by(self_table(c), (tide_agg_kind_t)c->fn->tag, by.v, by.n, &err);
  strlist_free(&by);
  return ret_table(c, t, &err);
}

static tide_sv *m_count_by(tide_script_call *c) {
  const char *col;
  if (!get_str(c, 0, &col)) return NULL;
  strlist by;
  if (!get_strlist(c, 1, &by)) return NULL;
  tide_error err;
  tide_error_clear(&err);
  tide_table_t *t = tide_count_by(self_table(c), col, by.v, by.n, &err);
  strlist_free(&by);
  return ret_table(c, t, &err);
}

typedef tide_table_t *(*join_op)(tide_table_t *, tide_table_t *, const char *const *, size_t,
                                 const char *const *, size_t, tide_error *);

static tide_sv *m_join(tide_script_call *c) {
  static const join_op ops[] = {tide_natural_join, tide_exact_join, tide_join, tide_aj, tide_raj};
  tide_table_t *right = get_table(c, 0);
  if (!right) return NULL;
  strlist on, joins;
  if (!get_strlist(c, 1, &on)) return NULL;
  if (!get_strlist(c, 2, &joins)) {
    strlist_free(&on);
    return NULL;
  }
  tide_error err;
  tide_error_clear(&err);
  tide_table_t *t = ops[c->fn->tag](self_table(c), right, on.v, on.n, joins.v, joins.n, &err);
  strlist_free(&on);
  strlist_free(&joins);
  return ret_table(c, t, &err);
}

/* ====================================== storage (io/tabledir.c, io/historical.c) */

/* A string argument without an embedded NUL (paths and names). */
static bool get_path_arg(tide_script_call *c, int i, const char **out) {
  if (!get_str(c, i, out)) return false;
  if (strlen(*out) != c->a[i]->u.str.len) {
    char fn[64];
    ERR(c, c->an[i], TIDE_ERR_INVALID, "%s(): argument '%s' contains a NUL character",
        fname(c, fn, sizeof fn), c->fn->params[i]);
    return false;
  }
  return true;
}

/* live_table(namespace, table_name, db="./tide-db", date=today UTC): the
 * ticking append-only tail of an intraday partition (tide_live_table). */
static tide_sv *b_live_table(tide_script_call *c) {
  const char *ns, *tn, *db = TIDE_DB_DEFAULT, *date = NULL;
  if (!get_path_arg(c, 0, &ns) || !get_path_arg(c, 1, &tn)) return NULL;
  if (!is_none(c->a[2]) && !get_path_arg(c, 2, &db)) return NULL;
  if (!is_none(c->a[3]) && !get_path_arg(c, 3, &date)) return NULL;
  tide_graph_t *g = tide_graph_default();
  if (!g) return NULL;
  tide_error err;
  tide_error_clear(&err);
  return ret_table(c, tide_live_table(g, db, ns, tn, date, &err), &err);
}

/* write_table(table, dir, codec="lz4") */
static tide_sv *b_write_table(tide_script_call *c) {
  tide_table_t *t = get_table(c, 0);
  const char *dir, *cname = "lz4";
  if (!t || !get_path_arg(c, 1, &dir)) return NULL;
  if (!is_none(c->a[2]) && !get_str(c, 2, &cname)) return NULL;
  tide_error err;
  tide_error_clear(&err);
  tide_codec_t codec;
  if (tide_codec_parse(cname, &codec, &err) != TIDE_OK)
    return ERR(c, c->an[2], err.status, "write_table(): %s", err.msg);
  if (tide_table_write_dir(t, dir, codec, &err) != TIDE_OK)
    return tide__script_engine_err(c, &err);
  return tide__sv_none();
}

/* read_table(dir) */
static tide_sv *b_read_table(tide_script_call *c) {
  const char *dir;
  if (!get_path_arg(c, 0, &dir)) return NULL;
  tide_error err;
  tide_error_clear(&err);
  return ret_table(c, tide_table_read_dir(dir, &err), &err);
}

/* historical_table(namespace, table_name, db="./tide-db", from_date=None,
 * to_date=None, columns=None): dates outside [from_date, to_date] and
 * columns not listed are never opened. Under tide backfill the run's date
 * range is intersected with [from_date, to_date] and db defaults to the
 * backfill's --db (tide__script_hist_context). */
static tide_sv *b_historical_table(tide_script_call *c) {
  const char *ns, *tn, *db = "./tide-db", *cfrom, *cto, *cdb;
  tide__script_hist_context(c->in, &cfrom, &cto, &cdb);
  if (cdb) db = cdb;
  if (!get_path_arg(c, 0, &ns) || !get_path_arg(c, 1, &tn)) return NULL;
  if (!is_none(c->a[2]) && !get_path_arg(c, 2, &db)) return NULL;
  tide_historical_query_t q = {0};
  if (!is_none(c->a[3]) && !get_str(c, 3, &q.from)) return NULL;
  if (!is_none(c->a[4]) && !get_str(c, 4, &q.to)) return NULL;
  /* a bad from_date/to_date is still reported by the query */
  if (cfrom && (!q.from || (!tide_db_check_date(q.from, NULL) && strcmp(cfrom, q.from) > 0)))
    q.from = cfrom;
  if (cto && (!q.to || (!tide_db_check_date(q.to, NULL) && strcmp(cto, q.to) < 0)))
    q.to = cto;
  strlist cols;
  if (!get_strlist(c, 5, &cols)) return NULL;
  if (!is_none(c->a[5])) {
    q.cols = cols.v;
    q.ncols = cols.n;
  }
  tide_error err;
  tide_error_clear(&err);
  tide_table_t *t = tide_historical_query(db, ns, tn, &q, &err);
  strlist_free(&cols);
  if (t) tide__script_hist_rows_add(c->in, tide_table_size(t));
  return ret_table(c, t, &err);
}

/* write_historical(table, namespace, table_name, date, db="./tide-db",
 * codec="lz4") */
static tide_sv *b_write_historical(tide_script_call *c) {
  tide_table_t *t = get_table(c, 0);
  const char *ns, *tn, *date, *db = "./tide-db", *cname = "lz4";
  if (!t || !get_path_arg(c, 1, &ns) || !get_path_arg(c, 2, &tn) || !get_path_arg(c, 3, &date))
    return NULL;
  if (!is_none(c->a[4]) && !get_path_arg(c, 4, &db)) return NULL;
  if (!is_none(c->a[5]) && !get_str(c, 5, &cname)) return NULL;
  tide_error err;
  tide_error_clear(&err);
  tide_codec_t codec;
  if (tide_codec_parse(cname, &codec, &err) != TIDE_OK)
    return ERR(c, c->an[5], err.status, "write_historical(): %s", err.msg);
  if (tide_historical_write(db, ns, tn, date, t, codec, &err) != TIDE_OK)
    return tide__script_engine_err(c, &err);
  return tide__sv_none();
}

/* ================================================================== agg */

static bool dup_strlist(tide_script_call *c, int i, char ***out, size_t *n) {
  strlist l;
  if (!get_strlist(c, i, &l)) return false;
  *out = tide_calloc(l.n ? l.n : 1, sizeof(char *));
  if (!*out) {
    strlist_free(&l);
    return false;
  }
  for (size_t j = 0; j < l.n; j++) {
    (*out)[j] = tide_strdup(l.v[j]);
    if (!(*out)[j]) {
      for (size_t k = 0; k < j; k++) tide_free((*out)[k]);
      tide_free(*out);
      *out = NULL;
      strlist_free(&l);
      return false;
    }
  }
  *n = l.n;
  strlist_free(&l);
  return true;
}

static tide_sv *agg_value(tide_script_call *c, tide_script_agg *a) {
  tide_sv *v = tide__sv_new(TIDE_SV_AGG);
  if (!v) {
    for (size_t i = 0; i < a->ncols; i++) tide_free(a->cols[i]);
    tide_free(a->cols);
    tide_free(a->weight);
    tide_free(a);
    return NULL;
  }
  v->u.agg = a;
  return v;
}

/* Aggregations whose only parameter is cols (plus flags checked below). */
static tide_sv *a_cols(tide_script_call *c) {
  tide_script_agg *a = tide_calloc(1, sizeof *a);
  if (!a) return NULL;
  a->kind = (tide_agg_kind_t)c->fn->tag;
  a->fname = c->fn->name;
  int ci = 0; /* index of the cols param */
  if (a->kind == TIDE_AGG_PCT) {
    double p;
    if (!get_number(c, 0, &p)) goto fail;
    if (!(p >= 0 && p <= 1)) {
      ERR(c, c->an[0], TIDE_ERR_RANGE, "agg.pct(): percentile must be in [0, 1], got %g", p);
      goto fail;
    }
    a->pct = p;
    ci = 1;
    bool avg;
    if (!get_bool(c, 2, false, &avg)) goto fail;
    if (avg) {
      ERR(c, c->an[2], TIDE_ERR_UNSUPPORTED,
          "agg.pct(): average_evenly_divided=True is not supported (use agg.median)");
      goto fail;
    }
  } else if (a->kind == TIDE_AGG_WAVG || a->kind == TIDE_AGG_WSUM) {
    const char *w;
    if (!get_str(c, 0, &w)) goto fail;
    a->weight = tide_strdup(w);
    if (!a->weight) goto fail;
    ci = 1;
  } else if (a->kind == TIDE_AGG_COUNT_DISTINCT) {
    if (!get_bool(c, 1, false, &a->count_nulls)) goto fail;
  } else if (a->kind == TIDE_AGG_MEDIAN) {
    bool avg;
    if (!get_bool(c, 1, true, &avg)) goto fail;
    if (!avg) { /* the lower middle value: percentile 0.5 */
      a->kind = TIDE_AGG_PCT;
      a->pct = 0.5;
    } else {
      a->pct = 0.5;
    }
  }
  if (a->kind == TIDE_AGG_COUNT) {
    const char *col;
    if (!get_str(c, 0, &col)) goto fail;
    a->cols = tide_calloc(1, sizeof(char *));
    if (!a->cols || !(a->cols[0] = tide_strdup(col))) goto fail;
    a->ncols = 1;
    return agg_value(c, a);
  }
  if (is_none(c->a[ci])) {
    a->all = true;
  } else if (!dup_strlist(c, ci, &a->cols, &a->ncols)) {
    goto fail;
  }
  return agg_value(c, a);
fail:
  for (size_t i = 0; i < a->ncols; i++) tide_free(a->cols[i]);
  tide_free(a->cols);
  tide_free(a->weight);
  tide_free(a);
  return NULL;
}

/* ================================================================= table */

#define P(...) {__VA_ARGS__, NULL}
#define G TIDE_MOD_GLOBAL
#define T TIDE_MOD_TABLE
#define A TIDE_MOD_AGG

const tide_script_builtin tide__script_builtins[] = {
    /* global functions */
    {.name = "read_csv", .module = G, .params = P("path", "header", "headless", "delimiter", "types"), .nreq = 1, .fn = b_read_csv},
    {.name = "write_csv", .module = G, .params = P("table", "path", "cols"), .nreq = 2, .fn = b_write_csv},
    {.name = "print", .module = G, .params = P("sep", "end"), .varargs = true, .npos = 0, .fn = b_print},
    {.name = "show", .module = G, .params = P("table", "n"), .nreq = 1, .fn = b_show},
    {.name = "merge", .module = G, .params = P("tables"), .nreq = 1, .varargs = true, .npos = 1, .fn = b_merge},
    {.name = "len", .module = G, .params = P("obj"), .nreq = 1, .fn = b_len},
    {.name = "arg", .module = G, .params = P("name", "default"), .nreq = 1, .fn = b_arg},
    {.name = "str", .module = G, .params = P("obj"), .nreq = 1, .fn = b_str},
    {.name = "int", .module = G, .params = P("x"), .nreq = 1, .fn = b_int},
    {.name = "float", .module = G, .params = P("x"), .nreq = 1, .fn = b_float},
    {.name = "empty_table", .module = G, .params = P("size"), .nreq = 1, .fn = b_empty_table},
    {.name = "new_table", .module = G, .params = P("cols"), .nreq = 1, .fn = b_new_table},
    {.name = "bool_col", .module = G, .params = P("name", "data"), .nreq = 2, .fn = b_col, .tag = TIDE_BOOL},
    {.name = "byte_col", .module = G, .params = P("name", "data"), .nreq = 2, .fn = b_col, .tag = TIDE_I8},
    {.name = "short_col", .module = G, .params = P("name", "data"), .nreq = 2, .fn = b_col, .tag = TIDE_I16},
    {.name = "int_col", .module = G, .params = P("name", "data"), .nreq = 2, .fn = b_col, .tag = TIDE_I32},
    {.name = "long_col", .module = G, .params = P("name", "data"), .nreq = 2, .fn = b_col, .tag = TIDE_I64},
    {.name = "float_col", .module = G, .params = P("name", "data"), .nreq = 2, .fn = b_col, .tag = TIDE_F32},
    {.name = "double_col", .module = G, .params = P("name", "data"), .nreq = 2, .fn = b_col, .tag = TIDE_F64},
    {.name = "time_table", .module = G, .params = P("period", "start_time", "blink_table"), .nreq = 1, .fn = b_time_table},
    {.name = "replay", .module = G, .params = P("table", "rows_per_cycle", "blink"), .nreq = 2, .fn = b_replay},
    {.name = "input_table", .module = G, .params = P("col_defs", "init_table", "key_cols"), .fn = b_input_table},
    {.name = "run_cycles", .module = G, .params = P("n"), .fn = b_run_cycles},
    {.name = "sleep", .module = G, .params = P("seconds"), .nreq = 1, .fn = b_sleep},
    {.name = "blink_to_append_only", .module = G, .params = P("table"), .nreq = 1, .fn = b_blink_to_append_only},
    {.name = "ring_table", .module = G, .params = P("table", "capacity", "initialize"), .nreq = 2, .fn = b_ring_table},
    {.name = "string_col", .module = G, .params = P("name", "data"), .nreq = 2, .fn = b_col, .tag = TIDE_STRING},
    {.name = "write_table", .module = G, .params = P("table", "dir", "codec"), .nreq = 2, .fn = b_write_table},
    {.name = "read_table", .module = G, .params = P("dir"), .nreq = 1, .fn = b_read_table},
    {.name = "historical_table", .module = G, .params = P("namespace", "table_name", "db", "from_date", "to_date", "columns"), .nreq = 2, .fn = b_historical_table},
    {.name = "live_table", .module = G, .params = P("namespace", "table_name", "db", "date"), .nreq = 2, .fn = b_live_table},
    {.name = "write_historical", .module = G, .params = P("table", "namespace", "table_name", "date", "db", "codec"), .nreq = 4, .fn = b_write_historical},

    /* table attributes (tag 1: also readable without a call) */
    {.name = "size", .module = T, .params = {NULL}, .fn = m_size, .tag = 1},
    {.name = "columns", .module = T, .params = {NULL}, .fn = m_columns, .tag = 1},
    {.name = "is_refreshing", .module = T, .params = {NULL}, .fn = m_is_refreshing, .tag = 1},
    {.name = "meta_table", .module = T, .params = {NULL}, .fn = m_meta_table, .tag = 1},
    /* table methods */
    {.name = "add", .module = T, .params = P("table"), .nreq = 1, .fn = m_input_change, .tag = 0},
    {.name = "delete", .module = T, .params = P("table"), .nreq = 1, .fn = m_input_change, .tag = 1},
    {.name = "snapshot", .module = T, .params = {NULL}, .fn = m_snapshot},
    {.name = "remove_blink", .module = T, .params = {NULL}, .fn = m_remove_blink},
    {.name = "where", .module = T, .params = P("filters"), .nreq = 1, .fn = m_where},
    {.name = "where_in", .module = T, .params = P("filter_table", "cols"), .nreq = 2, .fn = m_where_in, .tag = 0},
    {.name = "where_not_in", .module = T, .params = P("filter_table", "cols"), .nreq = 2, .fn = m_where_in, .tag = 1},
    {.name = "select", .module = T, .params = P("formulas"), .fn = m_formulas, .tag = 0},
    {.name = "view", .module = T, .params = P("formulas"), .nreq = 1, .fn = m_formulas, .tag = 1},
    {.name = "update", .module = T, .params = P("formulas"), .nreq = 1, .fn = m_formulas, .tag = 2},
    {.name = "lazy_update", .module = T, .params = P("formulas"), .nreq = 1, .fn = m_formulas, .tag = 2},
    {.name = "update_view", .module = T, .params = P("formulas"), .nreq = 1, .fn = m_formulas, .tag = 3},
    {.name = "drop_columns", .module = T, .params = P("cols"), .nreq = 1, .fn = m_formulas, .tag = 4},
    {.name = "rename_columns", .module = T, .params = P("cols"), .nreq = 1, .fn = m_formulas, .tag = 5},
    {.name = "head", .module = T, .params = P("num_rows"), .nreq = 1, .fn = m_head_tail, .tag = 0},
    {.name = "tail", .module = T, .params = P("num_rows"), .nreq = 1, .fn = m_head_tail, .tag = 1},
    {.name = "head_by", .module = T, .params = P("num_rows", "by"), .nreq = 1, .fn = m_head_tail_by, .tag = 0},
    {.name = "tail_by", .module = T, .params = P("num_rows", "by"), .nreq = 1, .fn = m_head_tail_by, .tag = 1},
    {.name = "sort", .module = T, .params = P("order_by", "order"), .nreq = 1, .fn = m_sort, .tag = 0},
    {.name = "sort_descending", .module = T, .params = P("order_by"), .nreq = 1, .fn = m_sort, .tag = 1},
    {.name = "select_distinct", .module = T, .params = P("formulas"), .fn = m_select_distinct},
    {.name = "agg_by", .module = T, .params = P("aggs", "by", "preserve_empty", "initial_groups"), .nreq = 1, .fn = m_agg_by},
    {.name = "sum_by", .module = T, .params = P("by"), .fn = m_agg_all_by, .tag = TIDE_AGG_SUM},
    {.name = "abs_sum_by", .module = T, .params = P("by"), .fn = m_agg_all_by, .tag = TIDE_AGG_ABS_SUM},
    {.name = "avg_by", .module = T, .params = P("by"), .fn = m_agg_all_by, .tag = TIDE_AGG_AVG},
    {.name = "min_by", .module = T, .params = P("by"), .fn = m_agg_all_by, .tag = TIDE_AGG_MIN},
    {.name = "max_by", .module = T, .params = P("by"), .fn = m_agg_all_by, .tag = TIDE_AGG_MAX},
    {.name = "first_by", .module = T, .params = P("by"), .fn = m_agg_all_by, .tag = TIDE_AGG_FIRST},
    {.name = "last_by", .module = T, .params = P("by"), .fn = m_agg_all_by, .tag = TIDE_AGG_LAST},
    {.name = "std_by", .module = T, .params = P("by"), .fn = m_agg_all_by, .tag = TIDE_AGG_STD},
    {.name = "var_by", .module = T, .params = P("by"), .fn = m_agg_all_by, .tag = TIDE_AGG_VAR},
    {.name = "median_by", .module = T, .params = P("by"), .fn = m_agg_all_by, .tag = TIDE_AGG_MEDIAN},
    {.name = "count_by", .module = T, .params = P("col", "by"), .nreq = 1, .fn = m_count_by},
    {.name = "natural_join", .module = T, .params = P("table", "on", "joins"), .nreq = 2, .fn = m_join, .tag = 0},
    {.name = "exact_join", .module = T, .params = P("table", "on", "joins"), .nreq = 2, .fn = m_join, .tag = 1},
    {.name = "join", .module = T, .params = P("table", "on", "joins"), .nreq = 1, .fn = m_join, .tag = 2},
    {.name = "aj", .module = T, .params = P("table", "on", "joins"), .nreq = 2, .fn = m_join, .tag = 3},
    {.name = "raj", .module = T, .params = P("table", "on", "joins"), .nreq = 2, .fn = m_join, .tag = 4},

    /* deephaven.agg */
    {.name = "sum_", .module = A, .params = P("cols"), .fn = a_cols, .tag = TIDE_AGG_SUM},
    {.name = "abs_sum", .module = A, .params = P("cols"), .fn = a_cols, .tag = TIDE_AGG_ABS_SUM},
    {.name = "avg", .module = A, .params = P("cols"), .fn = a_cols, .tag = TIDE_AGG_AVG},
    {.name = "count_", .module = A, .params = P("col"), .nreq = 1, .fn = a_cols, .tag = TIDE_AGG_COUNT},
    {.name = "count_distinct", .module = A, .params = P("cols", "count_nulls"), .fn = a_cols, .tag = TIDE_AGG_COUNT_DISTINCT},
    {.name = "first", .module = A, .params = P("cols"), .fn = a_cols, .tag = TIDE_AGG_FIRST},
    {.name = "last", .module = A, .params = P("cols"), .fn = a_cols, .tag = TIDE_AGG_LAST},
    {.name = "max_", .module = A, .params = P("cols"), .fn = a_cols, .tag = TIDE_AGG_MAX},
    {.name = "min_", .module = A, .params = P("cols"), .fn = a_cols, .tag = TIDE_AGG_MIN},
    {.name = "median", .module = A, .params = P("cols", "average_evenly_divided"), .fn = a_cols, .tag = TIDE_AGG_MEDIAN},
    {.name = "pct", .module = A, .params = P("percentile", "cols", "average_evenly_divided"), .nreq = 1, .fn = a_cols, .tag = TIDE_AGG_PCT},
    {.name = "std", .module = A, .params = P("cols"), .fn = a_cols, .tag = TIDE_AGG_STD},
    {.name = "var", .module = A, .params = P("cols"), .fn = a_cols, .tag = TIDE_AGG_VAR},
    {.name = "weighted_avg", .module = A, .params = P("wcol", "cols"), .nreq = 1, .fn = a_cols, .tag = TIDE_AGG_WAVG},
    {.name = "weighted_sum", .module = A, .params = P("wcol", "cols"), .nreq = 1, .fn = a_cols, .tag = TIDE_AGG_WSUM},
};

const size_t tide__script_nbuiltins = sizeof tide__script_builtins / sizeof tide__script_builtins[0];
