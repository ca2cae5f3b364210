/*
 * Interpreter of the tide script language: values, evaluation of statement
 * trees, argument binding, diagnostics. The builtins and table methods are
 * in script_builtins.c.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define TIDE_SCRIPT_INTERNAL 1
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/script.h"

typedef struct gvar {
  char *name;
  tide_sv *v;
} gvar;

/* An output of a refreshing table, redone after --cycles/--duration. */
typedef struct noted_output {
  char kind; /* 'p' print, 's' show, 'w' write_csv */
  tide_table_t *t;
  uint64_t n;
  char *path;
  char **cols;
  size_t ncols;
} noted_output;

struct tide_script_interp {
  noted_output *outs;
  size_t nouts, outcap;
  gvar *g;
  size_t ng, gcap;
  FILE *out;
  FILE *timings;
  char **set_names, **set_values;
  size_t nsets;
  tide_script_diag *diag;
  tide_script_diag local_diag;
  char *hist_from, *hist_to, *hist_db; /* backfill context (NULL: unset) */
  uint64_t hist_rows;                  /* rows historical_table() returned */
};

/* ================================================================ values */

tide_sv *tide__sv_new(tide_sv_kind k) {
  tide_sv *v = tide_calloc(1, sizeof *v);
  if (!v) return NULL;
  v->kind = k;
  v->refs = 1;
  return v;
}

tide_sv *tide__sv_ref(tide_sv *v) {
  if (v) v->refs++;
  return v;
}

static void agg_free(tide_script_agg *a) {
  if (!a) return;
  for (size_t i = 0; i < a->ncols; i++) tide_free(a->cols[i]);
  tide_free(a->cols);
  tide_free(a->weight);
  tide_free(a);
}

void tide__sv_unref(tide_sv *v) {
  if (!v || --v->refs > 0) return;
  switch (v->kind) {
    case TIDE_SV_STR: tide_free(v->u.str.s); break;
    case TIDE_SV_LIST:
    case TIDE_SV_DICT:
      for (size_t i = 0; i < v->u.list.n; i++) tide__sv_unref(v->u.list.items[i]);
      tide_free(v->u.list.items);
      break;
    case TIDE_SV_TABLE:
    case TIDE_SV_COLUMN: tide_table_free(v->u.table); break;
    case TIDE_SV_AGG: agg_free(v->u.agg); break;
    case TIDE_SV_METHOD: tide__sv_unref(v->u.method.self); break;
    default: break;
  }
  tide_free(v);
}

tide_sv *tide__sv_none(void) { return tide__sv_new(TIDE_SV_NONE); }
tide_sv *tide__sv_bool(bool b) {
  tide_sv *v = tide__sv_new(TIDE_SV_BOOL);
  if (v) v->u.b = b;
  return v;
}
tide_sv *tide__sv_int(int64_t i) {
  tide_sv *v = tide__sv_new(TIDE_SV_INT);
  if (v) v->u.i = i;
  return v;
}
tide_sv *tide__sv_float(double f) {
  tide_sv *v = tide__sv_new(TIDE_SV_FLOAT);
  if (v) v->u.f = f;
  return v;
}
tide_sv *tide__sv_str(const char *s, size_t len) {
  tide_sv *v = tide__sv_new(TIDE_SV_STR);
  if (!v) return NULL;
  v->u.str.s = tide_malloc(len + 1);
  if (!v->u.str.s) {
    tide_free(v);
    return NULL;
  }
  memcpy(v->u.str.s, s, len);
  v->u.str.s[len] = 0;
  v->u.str.len = len;
  return v;
}
tide_sv *tide__sv_table(tide_table_t *t) {
  tide_sv *v = tide__sv_new(TIDE_SV_TABLE);
  if (!v) {
    tide_table_free(t);
    return NULL;
  }
  v->u.table = t;
  return v;
}

bool tide__sv_list_push(tide_sv *list, tide_sv *item) {
  if (!item) return false;
  if (list->u.list.n == list->u.list.cap) {
    size_t nc = list->u.list.cap ? list->u.list.cap * 2 : 8;
    tide_sv **ni = tide_realloc(list->u.list.items, nc * sizeof *ni);
    if (!ni) {
      tide__sv_unref(item);
      return false;
    }
    list->u.list.items = ni;
    list->u.list.cap = nc;
  }
  list->u.list.items[list->u.list.n++] = item;
  return true;
}

const char *tide__sv_kind_name(const tide_sv *v) {
  switch (v->kind) {
    case TIDE_SV_NONE: return "None";
    case TIDE_SV_BOOL: return "bool";
    case TIDE_SV_INT: return "int";
    case TIDE_SV_FLOAT: return "float";
    case TIDE_SV_STR: return "str";
    case TIDE_SV_LIST: return "list";
    case TIDE_SV_DICT: return "dict";
    case TIDE_SV_TABLE: return "table";
    case TIDE_SV_AGG: return "aggregation";
    case TIDE_SV_FUNC: return "function";
    case TIDE_SV_METHOD: return "method";
    case TIDE_SV_MODULE: return "module";
    case TIDE_SV_SORTDIR: return "SortDirection";
    case TIDE_SV_COLUMN: return "column";
  }
  return "?";
}

/* ---------------------------------------------------------------- repr */

typedef struct sb {
  char *p;
  size_t n, cap;
  bool oom;
} sb;

static void sb_add(sb *b, const char *s, size_t len) {
  if (b->oom) return;
  if (b->n + len + 1 > b->cap) {
    size_t nc = b->cap ? b->cap : 64;
    while (nc < b->n + len + 1) nc *= 2;
    char *np = tide_realloc(b->p, nc);
    if (!np) {
      b->oom = true;
      return;
    }
    b->p = np;
    b->cap = nc;
  }
  memcpy(b->p + b->n, s, len);
  b->n += len;
  b->p[b->n] = 0;
}
static void sb_puts(sb *b, const char *s) { sb_add(b, s, strlen(s)); }
static void sb_printf(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sb *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Python's repr of a float: shortest text that reads back exactly. */
static void fmt_float(double f, char *buf, size_t cap) {
  if (isnan(f)) {
    snprintf(buf, cap, "nan");
    return;
  }
  if (isinf(f)) {
    snprintf(buf, cap, f < 0 ? "-inf" : "inf");
    return;
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, cap, "%.*g", prec, f);
    if (strtod(buf, NULL) == f) break;
  }
  if (!strpbrk(buf, ".eEn")) {
    size_t l = strlen(buf);
    if (l + 3 < cap) memcpy(buf + l, ".0", 3);
  }
}

static void repr_str(sb *b, const char *s, size_t len) {
  char q = (memchr(s, '\'', len) && !memchr(s, '"', len)) ? '"' : '\'';
  sb_add(b, &q, 1);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\\') sb_puts(b, "\\\\");
    else if (c == (unsigned char)q) sb_printf(b, "\\%c", q);
    else if (c == '\n') sb_puts(b, "\\n");
    else if (c == '\t') sb_puts(b, "\\t");
    else if (c == '\r') sb_puts(b, "\\r");
    else if (c < 0x20 || c == 0x7f) sb_printf(b, "\\x%02x", c);
    else sb_add(b, (const char *)&c, 1);
  }
  sb_add(b, &q, 1);
}

static const char *module_name(int m) {
  switch (m) {
    case TIDE_MOD_AGG: return "agg";
    case TIDE_MOD_SORTDIR: return "SortDirection";
    case TIDE_MOD_DTYPES: return "dtypes";
    default: return "?";
  }
}

static void repr_into(sb *b, const tide_sv *v, bool quote) {
  char tmp[64];
  switch (v->kind) {
    case TIDE_SV_NONE: sb_puts(b, "None"); break;
    case TIDE_SV_BOOL: sb_puts(b, v->u.b ? "True" : "False"); break;
    case TIDE_SV_INT: sb_printf(b, "%lld", (long long)v->u.i); break;
    case TIDE_SV_FLOAT:
      fmt_float(v->u.f, tmp, sizeof tmp);
      sb_puts(b, tmp);
      break;
    case TIDE_SV_STR:
      if (quote) repr_str(b, v->u.str.s, v->u.str.len);
      else sb_add(b, v->u.str.s, v->u.str.len);
      break;
    case TIDE_SV_LIST:
      sb_puts(b, "[");
      for (size_t i = 0; i < v->u.list.n; i++) {
        if (i) sb_puts(b, ", ");
        repr_into(b, v->u.list.items[i], true);
      }
      sb_puts(b, "]");
      break;
    case TIDE_SV_DICT:
      sb_puts(b, "{");
      for (size_t i = 0; i + 1 < v->u.list.n; i += 2) {
        if (i) sb_puts(b, ", ");
        repr_into(b, v->u.list.items[i], true);
        sb_puts(b, ": ");
        repr_into(b, v->u.list.items[i + 1], true);
      }
      sb_puts(b, "}");
      break;
    case TIDE_SV_TABLE:
    case TIDE_SV_COLUMN: {
      const tide_table_t *t = v->u.table;
      sb_printf(b, "%s(rows=%llu, columns=[", v->kind == TIDE_SV_TABLE ? "Table" : "Column",
                (unsigned long long)tide_table_size(t));
      for (size_t i = 0; i < tide_table_ncols(t); i++)
        sb_printf(b, "%s%s: %s", i ? ", " : "", tide_table_col_name(t, i),
                  tide_type_name(tide_table_col_type(t, i)));
      sb_puts(b, "])");
      break;
    }
    case TIDE_SV_AGG: {
      const tide_script_agg *a = v->u.agg;
      sb_printf(b, "agg.%s(", a->fname);
      bool first = true;
      if (a->kind == TIDE_AGG_PCT) {
        fmt_float(a->pct, tmp, sizeof tmp);
        sb_puts(b, tmp);
        first = false;
      }
      if (a->weight) {
        sb_puts(b, first ? "" : ", ");
        repr_str(b, a->weight, strlen(a->weight));
        first = false;
      }
      if (!a->all) {
        sb_puts(b, first ? "[" : ", [");
        for (size_t i = 0; i < a->ncols; i++) {
          if (i) sb_puts(b, ", ");
          repr_str(b, a->cols[i], strlen(a->cols[i]));
        }
        sb_puts(b, "]");
      }
      sb_puts(b, ")");
      break;
    }
    case TIDE_SV_FUNC:
      if (v->u.fn->module == TIDE_MOD_GLOBAL)
        sb_printf(b, "<built-in function %s>", v->u.fn->name);
      else
        sb_printf(b, "<built-in function %s.%s>", module_name(v->u.fn->module), v->u.fn->name);
      break;
    case TIDE_SV_METHOD: sb_printf(b, "<method %s of table>", v->u.method.fn->name); break;
    case TIDE_SV_MODULE: sb_printf(b, "<module '%s'>", module_name(v->u.module)); break;
    case TIDE_SV_SORTDIR: sb_puts(b, v->u.b ? "SortDirection.DESCENDING" : "SortDirection.ASCENDING"); break;
  }
}

char *tide__sv_repr(const tide_sv *v, bool quote_strings) {
  sb b = {0};
  repr_into(&b, v, quote_strings);
  if (b.oom) {
    tide_free(b.p);
    return NULL;
  }
  if (!b.p) return tide_strdup("");
  return b.p;
}

/* ============================================================ diagnostics */

static tide_sv *diag_set(tide_script_interp *in, int line, int col, tide_status st,
                         const char *fmt, va_list ap) {
  tide_script_diag *d = in->diag;
  if (d->status != TIDE_OK) return NULL; /* keep the first error */
  d->line = line;
  d->col = col;
  d->status = st ? st : TIDE_ERR_INVALID;
  vsnprintf(d->msg, sizeof d->msg, fmt, ap);
  return NULL;
}

static tide_sv *rt_err(tide_script_interp *in, const tide_script_node *n, tide_status st,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static tide_sv *rt_err(tide_script_interp *in, const tide_script_node *n, tide_status st,
                       const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_set(in, n ? n->line : 0, n ? n->col : 0, st, fmt, ap);
  va_end(ap);
  return NULL;
}

tide_sv *tide__script_err(tide_script_call *c, const tide_script_node *node, tide_status st,
                          const char *fmt, ...) {
  const tide_script_node *n = node ? node : c->node;
  va_list ap;
  va_start(ap, fmt);
  diag_set(c->in, n ? n->line : 0, n ? n->col : 0, st, fmt, ap);
  va_end(ap);
  return NULL;
}

tide_sv *tide__script_engine_err(tide_script_call *c, const tide_error *err) {
  if (err->msg[0])
    return tide__script_err(c, NULL, err->status, "%s", err->msg);
  return tide__script_err(c, NULL, err->status, "%s failed: %s", c->fn->name,
                          tide_status_str(err->status));
}

FILE *tide__script_out(tide_script_interp *in) { return in->out; }

void tide__script_hist_context(tide_script_interp *in, const char **from, const char **to,
                               const char **db) {
  *from = in->hist_from;
  *to = in->hist_to;
  *db = in->hist_db;
}

void tide__script_hist_rows_add(tide_script_interp *in, uint64_t rows) { in->hist_rows += rows; }

uint64_t tide_script_hist_rows(const tide_script_interp *in) { return in->hist_rows; }

const char *tide__script_setting(tide_script_interp *in, const char *name) {
  for (size_t i = in->nsets; i-- > 0;)
    if (strcmp(in->set_names[i], name) == 0) return in->set_values[i];
  return NULL;
}

/* ============================================================== globals */

static gvar *gfind(tide_script_interp *in, const char *name) {
  for (size_t i = 0; i < in->ng; i++)
    if (strcmp(in->g[i].name, name) == 0) return &in->g[i];
  return NULL;
}

/* Bind name to v (takes v). */
static bool gset(tide_script_interp *in, const char *name, tide_sv *v) {
  if (!v) return false;
  gvar *g = gfind(in, name);
  if (g) {
    tide__sv_unref(g->v);
    g->v = v;
    return true;
  }
  if (in->ng == in->gcap) {
    size_t nc = in->gcap ? in->gcap * 2 : 64;
    gvar *ng = tide_realloc(in->g, nc * sizeof *ng);
    if (!ng) {
      tide__sv_unref(v);
      return false;
    }
    in->g = ng;
    in->gcap = nc;
  }
  char *nm = tide_strdup(name);
  if (!nm) {
    tide__sv_unref(v);
    return false;
  }
  in->g[in->ng].name = nm;
  in->g[in->ng].v = v;
  in->ng++;
  return true;
}

static tide_sv *module_value(int m) {
  tide_sv *v = tide__sv_new(TIDE_SV_MODULE);
  if (v) v->u.module = m;
  return v;
}

tide_script_interp *tide_script_interp_create(const tide_script_options *opt) {
  tide_script_interp *in = tide_calloc(1, sizeof *in);
  if (!in) return NULL;
  in->out = opt && opt->out ? opt->out : stdout;
  in->timings = opt ? opt->timings : NULL;
  in->diag = &in->local_diag;
  if (opt && opt->nsets) {
    in->set_names = tide_calloc(opt->nsets, sizeof(char *));
    in->set_values = tide_calloc(opt->nsets, sizeof(char *));
    if (!in->set_names || !in->set_values) goto fail;
    for (size_t i = 0; i < opt->nsets; i++) {
      in->set_names[i] = tide_strdup(opt->set_names[i]);
      in->set_values[i] = tide_strdup(opt->set_values[i]);
      in->nsets = i + 1;
      if (!in->set_names[i] || !in->set_values[i]) goto fail;
    }
  }
  if (opt && ((opt->hist_from && !(in->hist_from = tide_strdup(opt->hist_from))) ||
              (opt->hist_to && !(in->hist_to = tide_strdup(opt->hist_to))) ||
              (opt->hist_db && !(in->hist_db = tide_strdup(opt->hist_db)))))
    goto fail;
  for (size_t i = 0; i < tide__script_nbuiltins; i++) {
    const tide_script_builtin *b = &tide__script_builtins[i];
    if (b->module != TIDE_MOD_GLOBAL) continue;
    tide_sv *v = tide__sv_new(TIDE_SV_FUNC);
    if (!v) goto fail;
    v->u.fn = b;
    if (!gset(in, b->name, v)) goto fail;
  }
  if (!gset(in, "agg", module_value(TIDE_MOD_AGG)) ||
      !gset(in, "SortDirection", module_value(TIDE_MOD_SORTDIR)) ||
      !gset(in, "dtypes", module_value(TIDE_MOD_DTYPES)))
    goto fail;
  return in;
fail:
  tide_script_interp_free(in);
  return NULL;
}

static void noted_free(noted_output *o) {
  tide_table_free(o->t);
  tide_free(o->path);
  for (size_t i = 0; i < o->ncols; i++) tide_free(o->cols[i]);
  tide_free(o->cols);
}

bool tide__script_note_output(tide_script_interp *in, char kind, tide_table_t *t, uint64_t n,
                              const char *path, const char *const *cols, size_t ncols) {
  if (in->nouts == in->outcap) {
    size_t cap = in->outcap ? in->outcap * 2 : 8;
    noted_output *o = tide_realloc(in->outs, cap * sizeof *o);
    if (!o) return false;
    in->outs = o;
    in->outcap = cap;
  }
  noted_output o = {kind, NULL, n, NULL, NULL, 0};
  if (path && !(o.path = tide_strdup(path))) return false;
  if (ncols) {
    o.cols = tide_calloc(ncols, sizeof *o.cols);
    if (!o.cols) {
      noted_free(&o);
      return false;
    }
    for (size_t i = 0; i < ncols; i++) {
      o.cols[i] = tide_strdup(cols[i]);
      o.ncols = i + 1;
      if (!o.cols[i]) {
        noted_free(&o);
        return false;
      }
    }
  }
  o.t = tide_table_retain(t);
  in->outs[in->nouts++] = o;
  return true;
}

tide_status tide_script_replay_outputs(tide_script_interp *in, const char *label,
                                       tide_script_diag *diag) {
  tide_script_diag local;
  if (!diag) diag = &local;
  memset(diag, 0, sizeof *diag);
  bool header = false;
  for (size_t i = 0; i < in->nouts; i++) {
    noted_output *o = &in->outs[i];
    tide_error err;
    tide_error_clear(&err);
    tide_status st = TIDE_OK;
    if (o->kind == 'w') {
      tide_table_t *v = NULL, *t = o->t;
      if (o->ncols) {
        v = tide_view(o->t, (const char *const *)o->cols, o->ncols, &err);
        if (!v) st = err.status;
        t = v;
      }
      if (st == TIDE_OK) st = tide_write_csv(t, o->path, &err);
      tide_table_free(v);
    } else {
      if (!header) {
        fprintf(in->out, "--- after %s ---\n", label ? label : "the cycles");
        header = true;
      }
      st = tide_table_print(o->t, in->out, o->kind == 's' ? o->n : UINT64_MAX, &err);
    }
    if (st != TIDE_OK) {
      diag->status = st;
      snprintf(diag->msg, sizeof diag->msg, "after the cycles: %s", err.msg);
      fflush(in->out);
      return st;
    }
  }
  fflush(in->out);
  return TIDE_OK;
}

void tide_script_interp_free(tide_script_interp *in) {
  if (!in) return;
  for (size_t i = 0; i < in->nouts; i++) noted_free(&in->outs[i]);
  tide_free(in->outs);
  /* Free in reverse order of definition. */
  for (size_t i = in->ng; i-- > 0;) {
    tide__sv_unref(in->g[i].v);
    tide_free(in->g[i].name);
  }
  tide_free(in->g);
  for (size_t i = 0; i < in->nsets; i++) {
    tide_free(in->set_names[i]);
    tide_free(in->set_values[i]);
  }
  tide_free(in->set_names);
  tide_free(in->set_values);
  tide_free(in->hist_from);
  tide_free(in->hist_to);
  tide_free(in->hist_db);
  tide_free(in);
}

tide_table_t *tide_script_get_table(tide_script_interp *in, const char *name) {
  gvar *g = gfind(in, name);
  if (!g || g->v->kind != TIDE_SV_TABLE) return NULL;
  return g->v->u.table;
}

bool tide_script_get_repr(tide_script_interp *in, const char *name, char *buf, size_t cap) {
  gvar *g = gfind(in, name);
  if (!g) return false;
  char *r = tide__sv_repr(g->v, true);
  if (!r) return false;
  snprintf(buf, cap, "%s", r);
  tide_free(r);
  return true;
}

/* ============================================================ evaluation */

static tide_sv *eval(tide_script_interp *in, const tide_script_node *n);

static tide_sv *oom(tide_script_interp *in, const tide_script_node *n) {
  return rt_err(in, n, TIDE_ERR_NOMEM, "out of memory");
}

static const tide_script_builtin *find_builtin(int module, const char *name) {
  for (size_t i = 0; i < tide__script_nbuiltins; i++) {
    const tide_script_builtin *b = &tide__script_builtins[i];
    if (b->module == module && strcmp(b->name, name) == 0) return b;
  }
  return NULL;
}

static const char *qual(const tide_script_builtin *b, char *buf, size_t cap) {
  if (b->module == TIDE_MOD_AGG)
    snprintf(buf, cap, "agg.%s", b->name);
  else
    snprintf(buf, cap, "%s", b->name);
  return buf;
}

static tide_sv *call_builtin(tide_script_interp *in, const tide_script_node *call,
                             const tide_script_builtin *fn, tide_sv *self, tide_sv **args,
                             const tide_script_node **argn, char *const *kw, size_t nargs) {
  tide_script_call c;
  memset(&c, 0, sizeof c);
  c.in = in;
  c.node = call;
  c.fn = fn;
  c.self = self;
  size_t np = 0;
  while (np < TIDE_SCRIPT_MAX_PARAMS && fn->params[np]) np++;
  char qn[64];
  tide_sv *res = NULL;
  size_t npos = 0;
  size_t maxpos = fn->varargs ? (size_t)fn->npos : np;
  size_t total_pos = 0;
  for (size_t i = 0; i < nargs; i++)
    if (!(kw && kw[i])) total_pos++;
  for (size_t i = 0; i < nargs; i++) {
    if (kw && kw[i]) {
      /* keyword errors point at the keyword */
      tide_script_node kwpos = {.line = argn[i]->kw_line, .col = argn[i]->kw_col};
      size_t j = 0;
      while (j < np && strcmp(fn->params[j], kw[i]) != 0) j++;
      if (j == np) {
        rt_err(in, &kwpos, TIDE_ERR_INVALID, "%s() got an unexpected keyword argument '%s'",
               qual(fn, qn, sizeof qn), kw[i]);
        goto done;
      }
      if (c.a[j]) {
        rt_err(in, &kwpos, TIDE_ERR_INVALID, "%s() got multiple values for argument '%s'",
               qual(fn, qn, sizeof qn), kw[i]);
        goto done;
      }
      c.a[j] = args[i];
      c.an[j] = argn[i];
    } else if (npos < maxpos) {
      c.a[npos] = args[i];
      c.an[npos] = argn[i];
      npos++;
    } else if (fn->varargs) {
      if (!c.var) {
        c.var = tide_calloc(nargs, sizeof *c.var);
        c.varn = tide_calloc(nargs, sizeof *c.varn);
        if (!c.var || !c.varn) {
          oom(in, call);
          goto done;
        }
      }
      c.var[c.nvar] = args[i];
      c.varn[c.nvar] = argn[i];
      c.nvar++;
    } else {
      rt_err(in, argn[i], TIDE_ERR_INVALID,
             "%s() takes at most %zu positional argument%s (%zu given)", qual(fn, qn, sizeof qn),
             maxpos, maxpos == 1 ? "" : "s", total_pos);
      goto done;
    }
  }
  for (int j = 0; j < fn->nreq; j++) {
    if (!c.a[j]) {
      rt_err(in, call, TIDE_ERR_INVALID, "%s() missing required argument '%s'",
             qual(fn, qn, sizeof qn), fn->params[j]);
      goto done;
    }
  }
  res = fn->fn(&c);
  if (!res && in->diag->status == TIDE_OK) oom(in, call);
done:
  tide_free(c.var);
  tide_free(c.varn);
  return res;
}

/* Attribute of obj. With for_call, methods are returned bound (not run). */
static tide_sv *get_attr(tide_script_interp *in, tide_sv *obj, const tide_script_node *n,
                         bool for_call) {
  const char *name = n->name;
  if (obj->kind == TIDE_SV_TABLE) {
    const tide_script_builtin *b = find_builtin(TIDE_MOD_TABLE, name);
    if (!b)
      return rt_err(in, n, TIDE_ERR_NOT_FOUND, "table has no method or attribute '%s'", name);
    if (!for_call && b->tag == 1) /* property: size, columns */
      return call_builtin(in, n, b, obj, NULL, NULL, NULL, 0);
    tide_sv *m = tide__sv_new(TIDE_SV_METHOD);
    if (!m) return oom(in, n);
    m->u.method.self = tide__sv_ref(obj);
    m->u.method.fn = b;
    return m;
  }
  if (obj->kind == TIDE_SV_MODULE) {
    if (obj->u.module == TIDE_MOD_SORTDIR) {
      if (strcmp(name, "ASCENDING") == 0 || strcmp(name, "DESCENDING") == 0) {
        tide_sv *v = tide__sv_new(TIDE_SV_SORTDIR);
        if (!v) return oom(in, n);
        v->u.b = name[0] == 'D';
        return v;
      }
      return rt_err(in, n, TIDE_ERR_NOT_FOUND,
                    "SortDirection has no attribute '%s' (use ASCENDING or DESCENDING)", name);
    }
    if (obj->u.module == TIDE_MOD_DTYPES) {
      /* dtypes.int64, dtypes.double, dtypes.string, dtypes.bool_, ... -> type name */
      char tn[64];
      snprintf(tn, sizeof tn, "%s", name);
      size_t l = strlen(tn);
      if (l > 1 && tn[l - 1] == '_') tn[l - 1] = 0;
      if (strcmp(tn, "float64") == 0) snprintf(tn, sizeof tn, "double");
      if (strcmp(tn, "float32") == 0) snprintf(tn, sizeof tn, "float");
      if (strcmp(tn, "Instant") == 0) snprintf(tn, sizeof tn, "timestamp");
      if (strcmp(tn, "char") == 0) snprintf(tn, sizeof tn, "int16");
      tide_type_t ty;
      if (!tide_type_from_name(tn, &ty))
        return rt_err(in, n, TIDE_ERR_NOT_FOUND, "dtypes has no type '%s'", name);
      const char *canon = tide_type_name(ty);
      tide_sv *v = tide__sv_str(canon, strlen(canon));
      return v ? v : oom(in, n);
    }
    const tide_script_builtin *b = find_builtin(obj->u.module, name);
    if (!b)
      return rt_err(in, n, TIDE_ERR_NOT_FOUND, "module '%s' has no attribute '%s'",
                    module_name(obj->u.module), name);
    tide_sv *f = tide__sv_new(TIDE_SV_FUNC);
    if (!f) return oom(in, n);
    f->u.fn = b;
    return f;
  }
  return rt_err(in, n, TIDE_ERR_TYPE, "'%s' object has no attribute '%s'",
                tide__sv_kind_name(obj), name);
}

static tide_sv *eval_call(tide_script_interp *in, const tide_script_node *n) {
  const tide_script_node *callee = n->kids[0];
  tide_sv *f = NULL;
  if (callee->kind == TIDE_NODE_ATTR) {
    tide_sv *obj = eval(in, callee->kids[0]);
    if (!obj) return NULL;
    f = get_attr(in, obj, callee, true);
    tide__sv_unref(obj);
  } else {
    f = eval(in, callee);
  }
  if (!f) return NULL;
  if (f->kind != TIDE_SV_FUNC && f->kind != TIDE_SV_METHOD) {
    rt_err(in, callee, TIDE_ERR_TYPE, "'%s' object is not callable", tide__sv_kind_name(f));
    tide__sv_unref(f);
    return NULL;
  }
  size_t nargs = n->nkids - 1;
  tide_sv *argv_local[16];
  const tide_script_node *argn_local[16];
  tide_sv **args = nargs <= 16 ? argv_local : tide_calloc(nargs, sizeof *args);
  const tide_script_node **argn = nargs <= 16 ? argn_local : tide_calloc(nargs, sizeof *argn);
  tide_sv *res = NULL;
  size_t done = 0;
  if (!args || !argn) {
    oom(in, n);
    goto out;
  }
  for (; done < nargs; done++) {
    argn[done] = n->kids[1 + done];
    args[done] = eval(in, argn[done]);
    if (!args[done]) goto out;
  }
  if (f->kind == TIDE_SV_FUNC)
    res = call_builtin(in, n, f->u.fn, NULL, args, argn, n->kwnames, nargs);
  else
    res = call_builtin(in, n, f->u.method.fn, f->u.method.self, args, argn, n->kwnames, nargs);
out:
  for (size_t i = 0; i < done; i++) tide__sv_unref(args[i]);
  if (args != argv_local) tide_free(args);
  if (argn != argn_local) tide_free((void *)argn);
  tide__sv_unref(f);
  return res;
}

static bool as_number(const tide_sv *v, bool *is_int, int64_t *i, double *f) {
  if (v->kind == TIDE_SV_INT || v->kind == TIDE_SV_BOOL) {
    *is_int = true;
    *i = v->kind == TIDE_SV_INT ? v->u.i : v->u.b;
    *f = (double)*i;
    return true;
  }
  if (v->kind == TIDE_SV_FLOAT) {
    *is_int = false;
    *f = v->u.f;
    return true;
  }
  return false;
}

static const char *op_str(int op) {
  switch (op) {
    case TIDE_TOK_PLUS: return "+";
    case TIDE_TOK_MINUS: return "-";
    case TIDE_TOK_STAR: return "*";
    case TIDE_TOK_SLASH: return "/";
    case TIDE_TOK_PERCENT: return "%";
    case TIDE_TOK_DSLASH: return "//";
  }
  return "?";
}

static tide_sv *eval_binary(tide_script_interp *in, const tide_script_node *n, tide_sv *l,
                            tide_sv *r) {
  bool li, ri;
  int64_t a = 0, b = 0;
  double x, y;
  if (as_number(l, &li, &a, &x) && as_number(r, &ri, &b, &y)) {
    if (li && ri && n->op != TIDE_TOK_SLASH) {
      int64_t z = 0;
      bool ovf = false;
      switch (n->op) {
        case TIDE_TOK_PLUS: ovf = __builtin_add_overflow(a, b, &z); break;
        case TIDE_TOK_MINUS: ovf = __builtin_sub_overflow(a, b, &z); break;
        case TIDE_TOK_STAR: ovf = __builtin_mul_overflow(a, b, &z); break;
        case TIDE_TOK_DSLASH:
          if (b == 0) return rt_err(in, n, TIDE_ERR_RANGE, "integer division by zero");
          if (a == INT64_MIN && b == -1) {
            ovf = true;
            break;
          }
          z = a / b;
          if ((a % b != 0) && ((a < 0) != (b < 0))) z--;
          break;
        case TIDE_TOK_PERCENT:
          if (b == 0) return rt_err(in, n, TIDE_ERR_RANGE, "integer modulo by zero");
          if (b == -1) z = 0;
          else {
            z = a % b;
            if (z != 0 && ((z < 0) != (b < 0))) z += b;
          }
          break;
      }
      if (ovf) return rt_err(in, n, TIDE_ERR_RANGE, "integer overflow in '%s'", op_str(n->op));
      return tide__sv_int(z);
    }
    double z = 0;
    switch (n->op) {
      case TIDE_TOK_PLUS: z = x + y; break;
      case TIDE_TOK_MINUS: z = x - y; break;
      case TIDE_TOK_STAR: z = x * y; break;
      case TIDE_TOK_SLASH:
        if (y == 0) return rt_err(in, n, TIDE_ERR_RANGE, "division by zero");
        z = x / y;
        break;
      case TIDE_TOK_DSLASH:
        if (y == 0) return rt_err(in, n, TIDE_ERR_RANGE, "float floor division by zero");
        z = floor(x / y);
        break;
      case TIDE_TOK_PERCENT:
        if (y == 0) return rt_err(in, n, TIDE_ERR_RANGE, "float modulo by zero");
        z = fmod(x, y);
        if (z != 0 && ((z < 0) != (y < 0))) z += y;
        break;
    }
    return tide__sv_float(z);
  }
  if (n->op == TIDE_TOK_PLUS && l->kind == TIDE_SV_STR && r->kind == TIDE_SV_STR) {
    tide_sv *s = tide__sv_new(TIDE_SV_STR);
    if (!s) return NULL;
    s->u.str.len = l->u.str.len + r->u.str.len;
    s->u.str.s = tide_malloc(s->u.str.len + 1);
    if (!s->u.str.s) {
      tide_free(s);
      return NULL;
    }
    memcpy(s->u.str.s, l->u.str.s, l->u.str.len);
    memcpy(s->u.str.s + l->u.str.len, r->u.str.s, r->u.str.len + 1);
    return s;
  }
  if (n->op == TIDE_TOK_PLUS && l->kind == TIDE_SV_LIST && r->kind == TIDE_SV_LIST) {
    tide_sv *s = tide__sv_new(TIDE_SV_LIST);
    if (!s) return NULL;
    for (size_t i = 0; i < l->u.list.n; i++)
      if (!tide__sv_list_push(s, tide__sv_ref(l->u.list.items[i]))) goto fail;
    for (size_t i = 0; i < r->u.list.n; i++)
      if (!tide__sv_list_push(s, tide__sv_ref(r->u.list.items[i]))) goto fail;
    return s;
  fail:
    tide__sv_unref(s);
    return NULL;
  }
  return rt_err(in, n, TIDE_ERR_TYPE, "unsupported operand types for %s: '%s' and '%s'",
                op_str(n->op), tide__sv_kind_name(l), tide__sv_kind_name(r));
}

static bool sv_equal(const tide_sv *a, const tide_sv *b) {
  if (a->kind != b->kind) return false;
  switch (a->kind) {
    case TIDE_SV_STR: return a->u.str.len == b->u.str.len && memcmp(a->u.str.s, b->u.str.s, a->u.str.len) == 0;
    case TIDE_SV_INT: return a->u.i == b->u.i;
    case TIDE_SV_FLOAT: return a->u.f == b->u.f;
    case TIDE_SV_BOOL: return a->u.b == b->u.b;
    case TIDE_SV_NONE: return true;
    default: return a == b;
  }
}

static tide_sv *eval_index(tide_script_interp *in, const tide_script_node *n, tide_sv *o,
                           tide_sv *k) {
  if (o->kind == TIDE_SV_DICT) {
    for (size_t i = 0; i + 1 < o->u.list.n; i += 2)
      if (sv_equal(o->u.list.items[i], k)) return tide__sv_ref(o->u.list.items[i + 1]);
    char *r = tide__sv_repr(k, true);
    rt_err(in, n->kids[1], TIDE_ERR_NOT_FOUND, "key %s not in dict", r ? r : "?");
    tide_free(r);
    return NULL;
  }
  if (o->kind == TIDE_SV_LIST || o->kind == TIDE_SV_STR) {
    if (k->kind != TIDE_SV_INT)
      return rt_err(in, n->kids[1], TIDE_ERR_TYPE, "%s indices must be integers, not %s",
                    tide__sv_kind_name(o), tide__sv_kind_name(k));
    int64_t len = o->kind == TIDE_SV_LIST ? (int64_t)o->u.list.n : (int64_t)o->u.str.len;
    int64_t i = k->u.i < 0 ? k->u.i + len : k->u.i;
    if (i < 0 || i >= len)
      return rt_err(in, n->kids[1], TIDE_ERR_RANGE, "%s index %lld out of range (length %lld)",
                    tide__sv_kind_name(o), (long long)k->u.i, (long long)len);
    if (o->kind == TIDE_SV_LIST) return tide__sv_ref(o->u.list.items[i]);
    return tide__sv_str(o->u.str.s + i, 1);
  }
  return rt_err(in, n, TIDE_ERR_TYPE, "'%s' object is not subscriptable", tide__sv_kind_name(o));
}

static tide_sv *eval(tide_script_interp *in, const tide_script_node *n) {
  tide_sv *v = NULL;
  switch (n->kind) {
    case TIDE_NODE_NAME: {
      gvar *g = gfind(in, n->name);
      if (!g) return rt_err(in, n, TIDE_ERR_NOT_FOUND, "name '%s' is not defined", n->name);
      return tide__sv_ref(g->v);
    }
    case TIDE_NODE_INT: v = tide__sv_int(n->ival); break;
    case TIDE_NODE_FLOAT: v = tide__sv_float(n->fval); break;
    case TIDE_NODE_STRING: v = tide__sv_str(n->str, n->str_len); break;
    case TIDE_NODE_TRUE: v = tide__sv_bool(true); break;
    case TIDE_NODE_FALSE: v = tide__sv_bool(false); break;
    case TIDE_NODE_NONE: v = tide__sv_none(); break;
    case TIDE_NODE_LIST:
    case TIDE_NODE_DICT: {
      v = tide__sv_new(n->kind == TIDE_NODE_LIST ? TIDE_SV_LIST : TIDE_SV_DICT);
      if (!v) break;
      for (size_t i = 0; i < n->nkids; i++) {
        tide_sv *e = eval(in, n->kids[i]);
        if (!e) {
          tide__sv_unref(v);
          return NULL;
        }
        if (n->kind == TIDE_NODE_DICT && i % 2 == 0) {
          /* a repeated key replaces the earlier value (Python) */
          bool replaced = false;
          for (size_t j = 0; j + 1 < v->u.list.n; j += 2) {
            if (sv_equal(v->u.list.items[j], e)) {
              tide__sv_unref(e);
              tide_sv *val = eval(in, n->kids[++i]);
              if (!val) {
                tide__sv_unref(v);
                return NULL;
              }
              tide__sv_unref(v->u.list.items[j + 1]);
              v->u.list.items[j + 1] = val;
              replaced = true;
              break;
            }
          }
          if (replaced) continue;
        }
        if (!tide__sv_list_push(v, e)) {
          tide__sv_unref(v);
          return oom(in, n);
        }
      }
      return v;
    }
    case TIDE_NODE_ATTR: {
      tide_sv *o = eval(in, n->kids[0]);
      if (!o) return NULL;
      v = get_attr(in, o, n, false);
      tide__sv_unref(o);
      return v;
    }
    case TIDE_NODE_CALL: return eval_call(in, n);
    case TIDE_NODE_INDEX: {
      tide_sv *o = eval(in, n->kids[0]);
      if (!o) return NULL;
      tide_sv *k = eval(in, n->kids[1]);
      if (!k) {
        tide__sv_unref(o);
        return NULL;
      }
      v = eval_index(in, n, o, k);
      tide__sv_unref(o);
      tide__sv_unref(k);
      return v;
    }
    case TIDE_NODE_UNARY: {
      tide_sv *o = eval(in, n->kids[0]);
      if (!o) return NULL;
      bool isint;
      int64_t i;
      double f;
      if (!as_number(o, &isint, &i, &f)) {
        rt_err(in, n, TIDE_ERR_TYPE, "bad operand type for unary %s: '%s'", op_str(n->op),
               tide__sv_kind_name(o));
      } else if (n->op == TIDE_TOK_PLUS) {
        v = isint ? tide__sv_int(i) : tide__sv_float(f);
        if (!v) oom(in, n);
      } else if (isint && i == INT64_MIN) {
        rt_err(in, n, TIDE_ERR_RANGE, "integer overflow in unary -");
      } else {
        v = isint ? tide__sv_int(-i) : tide__sv_float(-f);
        if (!v) oom(in, n);
      }
      tide__sv_unref(o);
      return v;
    }
    case TIDE_NODE_BINARY: {
      tide_sv *l = eval(in, n->kids[0]);
      if (!l) return NULL;
      tide_sv *r = eval(in, n->kids[1]);
      if (!r) {
        tide__sv_unref(l);
        return NULL;
      }
      v = eval_binary(in, n, l, r);
      if (!v && in->diag->status == TIDE_OK) oom(in, n);
      tide__sv_unref(l);
      tide__sv_unref(r);
      return v;
    }
    default: return rt_err(in, n, TIDE_ERR_INVALID, "not an expression");
  }
  if (!v) return oom(in, n);
  return v;
}

/* import statements: names must exist; `import x.agg as a` binds modules. */
static bool exec_import(tide_script_interp *in, const tide_script_node *s) {
  const char *mod = s->name;
  const char *last = strrchr(mod, '.');
  last = last ? last + 1 : mod;
  if (!s->kwnames) return true;
  bool is_from = s->op == 1;
  if (!is_from) {
    /* import deephaven.agg as agg: bind known modules */
    const char *bind = s->aliases[0] ? s->aliases[0] : NULL;
    gvar *g = gfind(in, last);
    if (bind) {
      if (!g || g->v->kind != TIDE_SV_MODULE) {
        if (strcmp(last, "deephaven") == 0) return true;
        rt_err(in, s, TIDE_ERR_NOT_FOUND, "no module named '%s' in tide", mod);
        return false;
      }
      return gset(in, bind, tide__sv_ref(g->v)) || (oom(in, s), false);
    }
    return true; /* import deephaven: no-op */
  }
  for (size_t i = 0; i < s->nnames; i++) {
    const char *nm = s->kwnames[i];
    if (strcmp(nm, "*") == 0) continue;
    tide_sv *v = NULL;
    gvar *g = gfind(in, nm);
    if (strcmp(last, "agg") == 0) {
      const tide_script_builtin *b = find_builtin(TIDE_MOD_AGG, nm);
      if (b) {
        v = tide__sv_new(TIDE_SV_FUNC);
        if (!v) return oom(in, s), false;
        v->u.fn = b;
      }
    } else if (g) {
      v = tide__sv_ref(g->v);
    }
    if (!v) {
      rt_err(in, s, TIDE_ERR_NOT_FOUND, "cannot import name '%s' from '%s' (not provided by tide)",
             nm, mod);
      return false;
    }
    const char *bind = s->aliases[i] ? s->aliases[i] : nm;
    if (!gset(in, bind, v)) return oom(in, s), false;
  }
  return true;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

tide_status tide_script_exec(tide_script_interp *in, const char *src, size_t len,
                             tide_script_diag *diag) {
  tide_script_diag local;
  if (!diag) diag = &local;
  memset(diag, 0, sizeof *diag);
  in->diag = diag;
  tide_script_program prog;
  tide_status st = tide_script_parse(src, len, &prog, diag);
  if (st) {
    in->diag = &in->local_diag;
    return st;
  }
  for (size_t i = 0; i < prog.n && st == TIDE_OK; i++) {
    const tide_script_node *s = prog.stmts[i];
    double t0 = in->timings ? now_s() : 0;
    switch (s->kind) {
      case TIDE_NODE_ASSIGN: {
        tide_sv *v = eval(in, s->kids[0]);
        if (!v) break;
        if (!gset(in, s->name, v)) oom(in, s);
        break;
      }
      case TIDE_NODE_EXPR: {
        tide_sv *v = eval(in, s->kids[0]);
        tide__sv_unref(v);
        break;
      }
      case TIDE_NODE_IMPORT: exec_import(in, s); break;
      default: rt_err(in, s, TIDE_ERR_INVALID, "not a statement"); break;
    }
    st = diag->status;
    if (in->timings && st == TIDE_OK) {
      fprintf(in->timings, "%d: %.6f s\n", s->line, now_s() - t0);
      fflush(in->timings);
    }
  }
  fflush(in->out);
  tide_script_program_free(&prog);
  in->diag = &in->local_diag;
  return st;
}

/* --cycles / --duration: cycle the default graph, then redo the outputs
 * of refreshing tables. Errors have no script position (line 0). */
static tide_status run_ticking(tide_script_interp *in, const tide_script_options *opt,
                               tide_script_diag *diag) {
  tide_graph_t *g = tide_graph_default();
  tide_error err;
  tide_error_clear(&err);
  if (!g) {
    diag->status = TIDE_ERR_NOMEM;
    snprintf(diag->msg, sizeof diag->msg, "out of memory creating the update graph");
    return diag->status;
  }
  uint64_t before = tide_graph_step(g);
  tide_status st;
  if (opt->duration_ns) {
    st = tide_graph_start(g, opt->period_ns, &err);
    if (st == TIDE_OK) {
      struct timespec ts = {(time_t)(opt->duration_ns / 1000000000ULL),
                            (long)(opt->duration_ns % 1000000000ULL)};
      while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
      }
      st = tide_graph_stop(g, &err);
    }
  } else {
    st = tide_graph_run_cycles(g, opt->cycles, &err);
  }
  if (st != TIDE_OK) {
    diag->status = st;
    diag->line = 0;
    snprintf(diag->msg, sizeof diag->msg, "in an update cycle: %s", err.msg);
    return st;
  }
  uint64_t ran = tide_graph_step(g) - before;
  char label[64];
  snprintf(label, sizeof label, "%llu cycle%s", (unsigned long long)ran, ran == 1 ? "" : "s");
  return tide_script_replay_outputs(in, label, diag);
}

tide_status tide_script_run_file(const char *path, const tide_script_options *opt,
                                 FILE *errout, tide_script_diag *diag) {
  tide_script_diag local;
  if (!diag) diag = &local;
  memset(diag, 0, sizeof *diag);
  bool is_stdin = strcmp(path, "-") == 0;
  FILE *f = is_stdin ? stdin : fopen(path, "rb");
  const char *shown = is_stdin ? "<stdin>" : path;
  char *buf = NULL;
  size_t n = 0, cap = 0;
  bool ok = f != NULL;
  if (f) {
    for (;;) {
      if (n + 65536 + 1 > cap) {
        cap = cap ? cap * 2 : 131072;
        char *nb = tide_realloc(buf, cap);
        if (!nb) {
          tide_free(buf);
          if (!is_stdin) fclose(f);
          diag->status = TIDE_ERR_NOMEM;
          snprintf(diag->msg, sizeof diag->msg, "out of memory reading the script");
          if (errout) tide_script_diag_print(diag, shown, errout);
          return diag->status;
        }
        buf = nb;
      }
      size_t r = fread(buf + n, 1, cap - n - 1, f);
      n += r;
      if (r == 0) break;
    }
    bool bad = ferror(f);
    if (!is_stdin) fclose(f);
    if (bad) {
      tide_free(buf);
      buf = NULL;
      ok = false;
    }
  }
  if (!ok) {
    diag->status = TIDE_ERR_IO;
    diag->line = 0;
    snprintf(diag->msg, sizeof diag->msg, "cannot read script '%s': %s", path, strerror(errno));
    if (errout) {
      fprintf(errout, "tide: %s\n", diag->msg);
      fflush(errout);
    }
    return diag->status;
  }
  if (!buf) {
    buf = tide_malloc(1);
    if (!buf) return TIDE_ERR_NOMEM;
  }
  buf[n] = 0;
  tide_script_interp *in = tide_script_interp_create(opt);
  tide_status st;
  if (!in) {
    diag->status = st = TIDE_ERR_NOMEM;
    snprintf(diag->msg, sizeof diag->msg, "out of memory");
  } else {
    st = tide_script_exec(in, buf, n, diag);
    if (st == TIDE_OK && opt && (opt->cycles || opt->duration_ns)) st = run_ticking(in, opt, diag);
    tide_script_interp_free(in);
  }
  tide_free(buf);
  if (st && errout) tide_script_diag_print(diag, shown, errout);
  return st;
}
