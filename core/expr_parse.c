/*
 * Formula language front end: lexer, recursive-descent parser and type
 * checker (one pass: nodes are typed as they are built, against the schema),
 * plus the filter fast-path detection and the scratch layout.
 *
 * Precedence, lowest first (Java): ?:  ||  &&  == !=  < <= > >= in  + -
 * * / %  unary (- ! casts)  postfix (.method()).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/expr.h"

/* ----------------------------------------------------------------- lexer */

typedef enum {
  TK_END,
  TK_INT,
  TK_DBL,
  TK_IDENT,
  TK_STR,  /* `x` or "x" */
  TK_TIME, /* 'x' */
  TK_OP
} tk_kind;

typedef struct {
  tk_kind kind;
  uint32_t start, end; /* offsets in the formula */
  char op[3];          /* TK_OP */
  int64_t i;
  double d;
  const char *s; /* TK_STR, TK_IDENT (arena copy); TK_TIME raw text */
  size_t slen;
} token;

typedef struct {
  tide_expr_t *e;
  const tide_expr_schema_t *schema;
  const char *text;
  token *toks;
  size_t ntoks, cap, at;
  unsigned flags;
  tide_error *err;
  bool failed;
  int depth;
} parser;

#define MAX_DEPTH 200

static void perr(parser *P, tide_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void perr(parser *P, tide_status st, const char *fmt, ...) {
  if (P->failed) return;
  P->failed = true;
  char msg[TIDE_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* long formulas are abbreviated so the message itself survives */
  size_t len = strlen(P->text);
  tide_error_set(P->err, st, "%s: \"%.*s%s\": %s", P->e->op, len > 160 ? 157 : (int)len, P->text,
                 len > 160 ? "..." : "", msg);
}

static const char *store_str(parser *P, const char *s, size_t len) {
  const char *c = tide__arena_store(&P->e->arena, s, len);
  if (!c) perr(P, TIDE_ERR_NOMEM, "out of memory");
  return c;
}

static bool push_tok(parser *P, token *t) {
  if (P->ntoks == P->cap) {
    size_t cap = P->cap ? P->cap * 2 : 32;
    token *n = tide_realloc(P->toks, cap * sizeof *n);
    if (!n) {
      perr(P, TIDE_ERR_NOMEM, "out of memory");
      return false;
    }
    P->toks = n;
    P->cap = cap;
  }
  P->toks[P->ntoks++] = *t;
  return true;
}

static bool lex(parser *P, size_t start) {
  const char *s = P->text;
  size_t i = start;
  for (;;) {
    while (s[i] && isspace((unsigned char)s[i])) i++;
    token t;
    memset(&t, 0, sizeof t);
    t.start = (uint32_t)i;
    char c = s[i];
    if (!c) {
      t.kind = TK_END;
      t.end = (uint32_t)i;
      return push_tok(P, &t);
    }
    if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)s[i + 1]))) {
      size_t j = i;
      bool dbl = false;
      while (isdigit((unsigned char)s[j])) j++;
      if (s[j] == '.') {
        dbl = true;
        j++;
        while (isdigit((unsigned char)s[j])) j++;
      }
      if (s[j] == 'e' || s[j] == 'E') {
        size_t k = j + 1;
        if (s[k] == '+' || s[k] == '-') k++;
        if (isdigit((unsigned char)s[k])) {
          dbl = true;
          while (isdigit((unsigned char)s[k])) k++;
          j = k;
        }
      }
      char buf[128];
      size_t len = j - i;
      if (len >= sizeof buf) {
        perr(P, TIDE_ERR_PARSE, "number too long at position %zu", i + 1);
        return false;
      }
      memcpy(buf, s + i, len);
      buf[len] = 0;
      if (s[j] == 'L' || s[j] == 'l') {
        if (dbl) {
          perr(P, TIDE_ERR_PARSE, "bad number at position %zu", i + 1);
          return false;
        }
        j++;
      } else if (s[j] == 'd' || s[j] == 'D' || s[j] == 'f' || s[j] == 'F') {
        dbl = true;
        j++;
      }
      if (isalnum((unsigned char)s[j]) || s[j] == '_') {
        perr(P, TIDE_ERR_PARSE, "bad number at position %zu", i + 1);
        return false;
      }
      if (dbl) {
        t.kind = TK_DBL;
        t.d = strtod(buf, NULL);
      } else {
        errno = 0;
        unsigned long long v = strtoull(buf, NULL, 10);
        if (errno || v > (unsigned long long)INT64_MAX) {
          perr(P, TIDE_ERR_PARSE, "integer literal out of range at position %zu", i + 1);
          return false;
        }
        t.kind = TK_INT;
        t.i = (int64_t)v;
      }
      t.end = (uint32_t)j;
      i = j;
    } else if (isalpha((unsigned char)c) || c == '_' || c == '$') {
      size_t j = i;
      while (isalnum((unsigned char)s[j]) || s[j] == '_' || s[j] == '$') j++;
      t.kind = TK_IDENT;
      t.s = store_str(P, s + i, j - i);
      if (!t.s) return false;
      t.slen = j - i;
      t.end = (uint32_t)j;
      i = j;
    } else if (c == '`' || c == '"' || c == '\'') {
      size_t j = i + 1;
      char *buf = tide_malloc(strlen(s + i) + 1);
      if (!buf) {
        perr(P, TIDE_ERR_NOMEM, "out of memory");
        return false;
      }
      size_t n = 0;
      while (s[j] && s[j] != c) {
        if (c == '"' && s[j] == '\\' && s[j + 1]) {
          j++;
          char e = s[j];
          buf[n++] = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
          j++;
          continue;
        }
        buf[n++] = s[j++];
      }
      if (!s[j]) {
        tide_free(buf);
        perr(P, TIDE_ERR_PARSE, "unterminated %s literal starting at position %zu",
             c == '\'' ? "time" : "string", i + 1);
        return false;
      }
      t.s = store_str(P, buf, n);
      tide_free(buf);
      if (!t.s) return false;
      t.slen = n;
      t.kind = c == '\'' ? TK_TIME : TK_STR;
      t.end = (uint32_t)(j + 1);
      i = j + 1;
      if (t.kind == TK_TIME && !tide_ts_parse(t.s, t.slen, &t.i)) {
        perr(P, TIDE_ERR_PARSE, "bad time literal '%s' at position %u", t.s, t.start + 1);
        return false;
      }
    } else {
      static const char *two[] = {"<=", ">=", "==", "!=", "&&", "||"};
      t.kind = TK_OP;
      size_t len = 0;
      for (size_t k = 0; k < sizeof two / sizeof two[0]; k++)
        if (s[i] == two[k][0] && s[i + 1] == two[k][1]) len = 2;
      if (!len) {
        if (!strchr("+-*/%<>!?:(),.=", c)) {
          if (isprint((unsigned char)c))
            perr(P, TIDE_ERR_PARSE, "unexpected '%c' at position %zu", c, i + 1);
          else
            perr(P, TIDE_ERR_PARSE, "unexpected character 0x%02x at position %zu",
                 (unsigned char)c, i + 1);
          return false;
        }
        len = 1;
      }
      memcpy(t.op, s + i, len);
      t.op[len] = 0;
      t.end = (uint32_t)(i + len);
      i += len;
    }
    if (!push_tok(P, &t)) return false;
  }
}

static token *peek(parser *P) { return &P->toks[P->at]; }
static token *peek2(parser *P) {
  return &P->toks[P->at + 1 < P->ntoks ? P->at + 1 : P->ntoks - 1];
}
static bool is_op(const token *t, const char *op) { return t->kind == TK_OP && !strcmp(t->op, op); }
static bool is_kw(const token *t, const char *kw) { return t->kind == TK_IDENT && !strcmp(t->s, kw); }

static void describe(const token *t, char *buf, size_t cap) {
  switch (t->kind) {
    case TK_END: snprintf(buf, cap, "end of formula"); break;
    case TK_OP: snprintf(buf, cap, "'%s'", t->op); break;
    case TK_IDENT: snprintf(buf, cap, "'%s'", t->s); break;
    default: snprintf(buf, cap, "literal"); break;
  }
}

static void unexpected(parser *P, const token *t) {
  char d[80];
  describe(t, d, sizeof d);
  if (t->kind == TK_OP && !strcmp(t->op, "="))
    perr(P, TIDE_ERR_PARSE, "unexpected '=' at position %u (use '==' to compare)", t->start + 1);
  else
    perr(P, TIDE_ERR_PARSE, "unexpected %s at position %u", d, t->start + 1);
}

static bool expect(parser *P, const char *op) {
  token *t = peek(P);
  if (!is_op(t, op)) {
    char d[80];
    describe(t, d, sizeof d);
    perr(P, TIDE_ERR_PARSE, "expected '%s' but found %s at position %u", op, d, t->start + 1);
    return false;
  }
  P->at++;
  return true;
}

/* ------------------------------------------------------------------ nodes */

static tide_enode_t *mk(parser *P, tide_enode_kind_t kind, uint32_t start, uint32_t end) {
  tide_expr_t *e = P->e;
  if (e->nnodes == e->capnodes) {
    size_t cap = e->capnodes ? e->capnodes * 2 : 16;
    tide_enode_t **n = tide_realloc(e->nodes, cap * sizeof *n);
    if (!n) {
      perr(P, TIDE_ERR_NOMEM, "out of memory");
      return NULL;
    }
    e->nodes = n;
    e->capnodes = cap;
  }
  tide_enode_t *nd = tide_calloc(1, sizeof *nd);
  if (!nd) {
    perr(P, TIDE_ERR_NOMEM, "out of memory");
    return NULL;
  }
  e->nodes[e->nnodes++] = nd;
  nd->kind = kind;
  nd->start = start;
  nd->end = end;
  nd->col = -1;
  nd->slot = -1;
  return nd;
}

static tide_enode_t *mk1(parser *P, tide_enode_kind_t kind, int op, tide_type_t type,
                         tide_enode_t *a, uint32_t start, uint32_t end) {
  tide_enode_t *n = mk(P, kind, start, end);
  if (!n) return NULL;
  n->op = op;
  n->type = type;
  n->nargs = 1;
  n->args[0] = a;
  return n;
}

static const char *tname(tide_type_t t) {
  return t == TIDE__EV_NULL ? "null" : tide_type_name(t);
}

/* Operand text for messages: "'Sym'" (truncated). */
static const char *otext(parser *P, const tide_enode_t *n, char *buf, size_t cap) {
  size_t len = n->end - n->start;
  if (len > 40) snprintf(buf, cap, "'%.37s...'", P->text + n->start);
  else snprintf(buf, cap, "'%.*s'", (int)len, P->text + n->start);
  return buf;
}

static bool is_numeric(tide_type_t t) { return t == TIDE_I64 || t == TIDE_F64; }
static bool is_null_lit(const tide_enode_t *n) { return n->type == TIDE__EV_NULL; }

static void set_null_lit(tide_enode_t *n, tide_type_t t, tide_symtab_t *st) {
  n->type = t;
  n->symtab = st;
  switch (t) {
    case TIDE_F64: n->lit.d = TIDE_NULL_F64; break;
    case TIDE_STRING: n->lit.s = NULL; break;
    case TIDE_SYMBOL: n->lit.sym = TIDE_NULL_SYMBOL; break;
    case TIDE_BOOL: n->lit.i = TIDE_NULL_BOOL; break;
    default: n->lit.i = TIDE_NULL_I64; break;
  }
}

/* Coerce n to type t (which it must be convertible to); NULL on OOM. */
static tide_enode_t *coerce(parser *P, tide_enode_t *n, tide_type_t t, tide_symtab_t *st) {
  if (!n) return NULL;
  if (is_null_lit(n)) {
    set_null_lit(n, t, st);
    return n;
  }
  if (n->type == t) return n;
  if (n->type == TIDE_I64 && t == TIDE_F64) {
    if (n->kind == TIDE_EN_LIT) {
      n->lit.d = n->lit.i == TIDE_NULL_I64 ? TIDE_NULL_F64 : (double)n->lit.i;
      n->type = TIDE_F64;
      return n;
    }
    return mk1(P, TIDE_EN_CONV, TIDE_CV_I2D, TIDE_F64, n, n->start, n->end);
  }
  if (n->type == TIDE_SYMBOL && t == TIDE_STRING)
    return mk1(P, TIDE_EN_CONV, TIDE_CV_SYM2STR, TIDE_STRING, n, n->start, n->end);
  if (n->type == TIDE_STRING && t == TIDE_TS && n->kind == TIDE_EN_LIT) {
    int64_t v;
    if (n->lit.s && tide_ts_parse(n->lit.s, strlen(n->lit.s), &v)) {
      n->type = TIDE_TS;
      n->lit.i = v;
      return n;
    }
  }
  assert(!"bad coercion");
  return NULL;
}

/* String literal -> symbol code of st (or -2 when absent). */
static void lit_to_sym(parser *P, tide_enode_t *n, tide_symtab_t *st) {
  int32_t code = TIDE_NULL_SYMBOL;
  if (n->lit.s) {
    code = tide_symtab_find(st, n->lit.s, strlen(n->lit.s));
    if (code < 0) {
      code = -2;
      P->e->missing_syms = true;
    }
  }
  n->type = TIDE_SYMBOL;
  n->symtab = st;
  n->lit.sym = code;
}

static bool str_lit_is_ts(const tide_enode_t *n) {
  int64_t v;
  return n->kind == TIDE_EN_LIT && n->type == TIDE_STRING && n->lit.s &&
         tide_ts_parse(n->lit.s, strlen(n->lit.s), &v);
}

/* Decide the common operand type of a comparison; coerces both sides.
 * Returns false (error set) if incompatible. */
static bool unify_cmp(parser *P, tide_enode_t **pa, tide_enode_t **pb, int op, uint32_t oppos,
                      const char *opname, tide_type_t *otype) {
  tide_enode_t *a = *pa, *b = *pb;
  tide_type_t ta = a->type, tb = b->type;
  char b1[64], b2[64];
  if (ta == TIDE__EV_NULL && tb == TIDE__EV_NULL) {
    set_null_lit(a, TIDE_I64, NULL);
    set_null_lit(b, TIDE_I64, NULL);
    *otype = TIDE_I64;
    return true;
  }
  if (ta == TIDE__EV_NULL) {
    *pa = coerce(P, a, tb, b->symtab);
    *otype = tb;
    return *pa != NULL;
  }
  if (tb == TIDE__EV_NULL) {
    *pb = coerce(P, b, ta, a->symtab);
    *otype = ta;
    return *pb != NULL;
  }
  if (is_numeric(ta) && is_numeric(tb)) {
    tide_type_t t = (ta == TIDE_F64 || tb == TIDE_F64) ? TIDE_F64 : TIDE_I64;
    *pa = coerce(P, a, t, NULL);
    *pb = coerce(P, b, t, NULL);
    *otype = t;
    return *pa && *pb;
  }
  if (ta == tb && ta != TIDE_SYMBOL) {
    *otype = ta;
    return true;
  }
  bool eq = op == TIDE_OP_EQ || op == TIDE_OP_NE;
  if (ta == TIDE_SYMBOL && tb == TIDE_SYMBOL) {
    if (a->symtab == b->symtab && eq) {
      *otype = TIDE_SYMBOL;
      return true;
    }
    *pa = coerce(P, a, TIDE_STRING, NULL);
    *pb = coerce(P, b, TIDE_STRING, NULL);
    *otype = TIDE_STRING;
    return *pa && *pb;
  }
  if ((ta == TIDE_SYMBOL && tb == TIDE_STRING) || (ta == TIDE_STRING && tb == TIDE_SYMBOL)) {
    tide_enode_t *sym = ta == TIDE_SYMBOL ? a : b, *str = ta == TIDE_SYMBOL ? b : a;
    if (eq && str->kind == TIDE_EN_LIT) {
      lit_to_sym(P, str, sym->symtab);
      *otype = TIDE_SYMBOL;
      return true;
    }
    *pa = coerce(P, a, TIDE_STRING, NULL);
    *pb = coerce(P, b, TIDE_STRING, NULL);
    *otype = TIDE_STRING;
    return *pa && *pb;
  }
  if ((ta == TIDE_TS && str_lit_is_ts(b)) || (tb == TIDE_TS && str_lit_is_ts(a))) {
    *pa = coerce(P, a, TIDE_TS, NULL);
    *pb = coerce(P, b, TIDE_TS, NULL);
    *otype = TIDE_TS;
    return *pa && *pb;
  }
  perr(P, TIDE_ERR_TYPE, "cannot compare %s %s with %s %s using '%s' at position %u", tname(ta),
       otext(P, a, b1, sizeof b1), tname(tb), otext(P, b, b2, sizeof b2), opname, oppos + 1);
  return false;
}

/* ---------------------------------------------------------------- parser */

static tide_enode_t *p_ternary(parser *P);
static tide_enode_t *p_unary(parser *P);

static const char *fn_names[] = {
#define TIDE_X_FN_NAME(E, name, nargs) name,
    TIDE_FN_LIST(TIDE_X_FN_NAME)
#undef TIDE_X_FN_NAME
};
static const int fn_nargs[] = {
#define TIDE_X_FN_NARGS(E, name, nargs) nargs,
    TIDE_FN_LIST(TIDE_X_FN_NARGS)
#undef TIDE_X_FN_NARGS
};

static int add_ref(parser *P, int col, tide_type_t type) {
  tide_expr_t *e = P->e;
  for (size_t i = 0; i < e->nrefs; i++)
    if (e->ref_cols[i] == col) return (int)i;
  if (e->nrefs == e->caprefs) {
    size_t cap = e->caprefs ? e->caprefs * 2 : 8;
    char **nm = tide_realloc(e->ref_names, cap * sizeof *nm);
    if (nm) e->ref_names = nm;
    int *rc = tide_realloc(e->ref_cols, cap * sizeof *rc);
    if (rc) e->ref_cols = rc;
    tide_type_t *rt = tide_realloc(e->ref_types, cap * sizeof *rt);
    if (rt) e->ref_types = rt;
    if (!nm || !rc || !rt) {
      perr(P, TIDE_ERR_NOMEM, "out of memory");
      return -1;
    }
    e->caprefs = cap;
  }
  e->ref_names[e->nrefs] = tide_strdup(P->schema->names[col]);
  if (!e->ref_names[e->nrefs]) {
    perr(P, TIDE_ERR_NOMEM, "out of memory");
    return -1;
  }
  e->ref_cols[e->nrefs] = col;
  e->ref_types[e->nrefs] = type;
  return (int)e->nrefs++;
}

static tide_type_t widen(tide_type_t t) {
  switch (t) {
    case TIDE_I8:
    case TIDE_I16:
    case TIDE_I32:
    case TIDE_I64: return TIDE_I64;
    case TIDE_F32:
    case TIDE_F64: return TIDE_F64;
    default: return t;
  }
}

static void no_column(parser *P, const token *t) {
  char cols[300];
  size_t n = 0;
  cols[0] = 0;
  for (size_t i = 0; i < P->schema->ncols && n < sizeof cols - 8; i++) {
    int w = snprintf(cols + n, sizeof cols - n, "%s%s", i ? ", " : "", P->schema->names[i]);
    if (w < 0) break;
    n += (size_t)w;
  }
  if (n >= sizeof cols - 8) snprintf(cols + sizeof cols - 8, 8, ", ...");
  perr(P, TIDE_ERR_NOT_FOUND, "no column '%s' at position %u (columns: %s)", t->s, t->start + 1,
       P->schema->ncols ? cols : "none");
}

/* Parse "(args)" after a function name; fills args (max 3). */
static int p_args(parser *P, tide_enode_t **args, int max, uint32_t *end) {
  if (!expect(P, "(")) return -1;
  int n = 0;
  if (is_op(peek(P), ")")) {
    *end = peek(P)->end;
    P->at++;
    return 0;
  }
  for (;;) {
    tide_enode_t *a = p_ternary(P);
    if (!a) return -1;
    if (n < max) args[n] = a;
    n++;
    if (is_op(peek(P), ",")) {
      P->at++;
      continue;
    }
    *end = peek(P)->end;
    if (!expect(P, ")")) return -1;
    return n;
  }
}

static tide_enode_t *make_call(parser *P, int fn, tide_enode_t **args, int nargs, uint32_t start,
                               uint32_t end, uint32_t namepos) {
  char b1[64], b2[64];
  if (nargs != fn_nargs[fn]) {
    perr(P, TIDE_ERR_PARSE, "%s() takes %d argument%s but got %d at position %u", fn_names[fn],
         fn_nargs[fn] - (fn >= TIDE_FN_STARTS), fn_nargs[fn] - (fn >= TIDE_FN_STARTS) == 1 ? "" : "s",
         nargs - (fn >= TIDE_FN_STARTS), namepos + 1);
    return NULL;
  }
  tide_enode_t *n = mk(P, TIDE_EN_CALL, start, end);
  if (!n) return NULL;
  n->op = fn;
  n->nargs = (uint32_t)nargs;
  for (int k = 0; k < nargs; k++) n->args[k] = args[k];
  tide_enode_t *a = args[0];
  tide_type_t ta = a->type;
  switch (fn) {
    case TIDE_FN_ISNULL:
      if (ta == TIDE__EV_NULL) set_null_lit(a, TIDE_I64, NULL);
      n->type = TIDE_BOOL;
      return n;
    case TIDE_FN_ABS:
      if (ta == TIDE__EV_NULL) set_null_lit(a, ta = TIDE_I64, NULL);
      if (!is_numeric(ta)) goto bad1;
      n->type = ta;
      return n;
    case TIDE_FN_ROUND:
      if (ta == TIDE__EV_NULL) set_null_lit(a, ta = TIDE_I64, NULL);
      if (!is_numeric(ta)) goto bad1;
      n->type = TIDE_I64;
      return n;
    case TIDE_FN_SQRT:
    case TIDE_FN_LOG:
    case TIDE_FN_EXP:
    case TIDE_FN_FLOOR:
    case TIDE_FN_CEIL:
      if (ta != TIDE__EV_NULL && !is_numeric(ta)) goto bad1;
      n->args[0] = coerce(P, a, TIDE_F64, NULL);
      n->type = TIDE_F64;
      return n->args[0] ? n : NULL;
    case TIDE_FN_POW:
    case TIDE_FN_MIN:
    case TIDE_FN_MAX: {
      tide_type_t tb = args[1]->type;
      if (fn != TIDE_FN_POW && (ta == TIDE_TS || tb == TIDE_TS) &&
          (ta == TIDE_TS || ta == TIDE__EV_NULL) && (tb == TIDE_TS || tb == TIDE__EV_NULL)) {
        n->args[0] = coerce(P, a, TIDE_TS, NULL);
        n->args[1] = coerce(P, args[1], TIDE_TS, NULL);
        n->type = TIDE_TS;
        return n;
      }
      if ((ta != TIDE__EV_NULL && !is_numeric(ta)) || (tb != TIDE__EV_NULL && !is_numeric(tb))) {
        perr(P, TIDE_ERR_TYPE, "%s() needs numeric arguments, got %s %s and %s %s at position %u",
             fn_names[fn], tname(ta), otext(P, a, b1, sizeof b1), tname(tb),
             otext(P, args[1], b2, sizeof b2), namepos + 1);
        return NULL;
      }
      tide_type_t t = (fn == TIDE_FN_POW || ta == TIDE_F64 || tb == TIDE_F64) ? TIDE_F64 : TIDE_I64;
      n->args[0] = coerce(P, a, t, NULL);
      n->args[1] = coerce(P, args[1], t, NULL);
      n->type = t;
      return n->args[0] && n->args[1] ? n : NULL;
    }
    case TIDE_FN_YEAR:
    case TIDE_FN_MONTH:
    case TIDE_FN_DAY:
    case TIDE_FN_HOUR:
    case TIDE_FN_MINUTE:
    case TIDE_FN_SECOND:
      if (ta == TIDE__EV_NULL) set_null_lit(a, ta = TIDE_TS, NULL);
      if (ta != TIDE_TS) {
        perr(P, TIDE_ERR_TYPE, "%s() needs a timestamp argument, got %s %s at position %u",
             fn_names[fn], tname(ta), otext(P, a, b1, sizeof b1), namepos + 1);
        return NULL;
      }
      n->type = TIDE_I64;
      return n;
    case TIDE_FN_STARTS:
    case TIDE_FN_ENDS:
    case TIDE_FN_CONTAINS:
    case TIDE_FN_LENGTH:
      for (int k = 0; k < nargs; k++) {
        tide_type_t t = n->args[k]->type;
        if (t == TIDE__EV_NULL) set_null_lit(n->args[k], t = TIDE_STRING, NULL);
        if (t != TIDE_STRING && t != TIDE_SYMBOL) {
          perr(P, TIDE_ERR_TYPE, "%s() needs %s, got %s %s at position %u", fn_names[fn],
               k == 0 ? "a string receiver" : "a string argument", tname(t),
               otext(P, n->args[k], b1, sizeof b1), namepos + 1);
          return NULL;
        }
        n->args[k] = coerce(P, n->args[k], TIDE_STRING, NULL);
        if (!n->args[k]) return NULL;
      }
      n->type = fn == TIDE_FN_LENGTH ? TIDE_I64 : TIDE_BOOL;
      return n;
    default: break;
  }
bad1:
  perr(P, TIDE_ERR_TYPE, "%s() needs a numeric argument, got %s %s at position %u", fn_names[fn],
       tname(ta), otext(P, a, b1, sizeof b1), namepos + 1);
  return NULL;
}

static int find_fn(const char *name) {
  for (int k = 0; k < TIDE_FN_COUNT; k++)
    if (!strcmp(fn_names[k], name)) return k;
  return -1;
}

static tide_enode_t *p_primary(parser *P) {
  token *t = peek(P);
  tide_enode_t *n = NULL;
  switch (t->kind) {
    case TK_INT:
    case TK_DBL:
      P->at++;
      n = mk(P, TIDE_EN_LIT, t->start, t->end);
      if (!n) return NULL;
      if (t->kind == TK_INT) {
        n->type = TIDE_I64;
        n->lit.i = t->i;
      } else {
        n->type = TIDE_F64;
        n->lit.d = t->d;
      }
      return n;
    case TK_STR:
    case TK_TIME:
      P->at++;
      n = mk(P, TIDE_EN_LIT, t->start, t->end);
      if (!n) return NULL;
      if (t->kind == TK_STR) {
        n->type = TIDE_STRING;
        n->lit.s = t->s;
      } else {
        n->type = TIDE_TS;
        n->lit.i = t->i;
      }
      return n;
    case TK_OP:
      if (is_op(t, "(")) {
        P->at++;
        n = p_ternary(P);
        if (!n) return NULL;
        token *close = peek(P);
        if (!expect(P, ")")) return NULL;
        n->start = t->start; /* span includes the parentheses */
        n->end = close->end;
        return n;
      }
      unexpected(P, t);
      return NULL;
    case TK_END: unexpected(P, t); return NULL;
    case TK_IDENT: break;
  }
  /* identifiers */
  P->at++;
  if (is_kw(t, "true") || is_kw(t, "false")) {
    n = mk(P, TIDE_EN_LIT, t->start, t->end);
    if (!n) return NULL;
    n->type = TIDE_BOOL;
    n->lit.i = is_kw(t, "true");
    return n;
  }
  if (is_kw(t, "null")) {
    n = mk(P, TIDE_EN_LIT, t->start, t->end);
    if (!n) return NULL;
    n->type = TIDE__EV_NULL;
    n->lit.i = TIDE_NULL_I64;
    return n;
  }
  if (is_op(peek(P), "(")) {
    int fn = find_fn(t->s);
    if (fn < 0 || fn >= TIDE_FN_STARTS) {
      perr(P, TIDE_ERR_PARSE, "unknown function '%s' at position %u", t->s, t->start + 1);
      return NULL;
    }
    tide_enode_t *args[3];
    uint32_t end = 0;
    int na = p_args(P, args, 3, &end);
    if (na < 0) return NULL;
    return make_call(P, fn, args, na, t->start, end, t->start);
  }
  const tide_expr_schema_t *sc = P->schema;
  for (size_t c = 0; c < sc->ncols; c++) {
    if (strcmp(sc->names[c], t->s) != 0) continue;
    n = mk(P, TIDE_EN_COL, t->start, t->end);
    if (!n) return NULL;
    tide_source_t *src = sc->cols[c];
    n->col = (int)c;
    n->coltype = tide_source_type(src);
    n->type = widen(n->coltype);
    n->symtab = tide_source_symtab(src);
    n->slot = add_ref(P, (int)c, n->coltype);
    return n->slot < 0 ? NULL : n;
  }
  if (is_kw(t, "i") || is_kw(t, "ii")) {
    n = mk(P, TIDE_EN_POS, t->start, t->end);
    if (!n) return NULL;
    n->type = TIDE_I64;
    P->e->uses_i = true;
    return n;
  }
  no_column(P, t);
  return NULL;
}

static tide_enode_t *p_postfix(parser *P) {
  tide_enode_t *n = p_primary(P);
  while (n && is_op(peek(P), ".")) {
    P->at++;
    token *m = peek(P);
    if (m->kind != TK_IDENT) {
      unexpected(P, m);
      return NULL;
    }
    P->at++;
    int fn = find_fn(m->s);
    if (fn < TIDE_FN_STARTS) {
      perr(P, TIDE_ERR_PARSE, "unknown method '%s' at position %u", m->s, m->start + 1);
      return NULL;
    }
    tide_enode_t *args[3];
    args[0] = n;
    uint32_t end = 0;
    int na = p_args(P, args + 1, 2, &end);
    if (na < 0) return NULL;
    n = make_call(P, fn, args, na + 1, n->start, end, m->start);
  }
  return n;
}

static tide_enode_t *p_unary1(parser *P);

static tide_enode_t *p_unary(parser *P) {
  if (++P->depth > MAX_DEPTH) {
    perr(P, TIDE_ERR_PARSE, "formula nested too deeply at position %u", peek(P)->start + 1);
    return NULL;
  }
  tide_enode_t *n = p_unary1(P);
  P->depth--;
  return n;
}

static tide_enode_t *p_unary1(parser *P) {
  token *t = peek(P);
  char b1[64];
  if (is_op(t, "-") || is_op(t, "+")) {
    P->at++;
    tide_enode_t *a = p_unary(P);
    if (!a) return NULL;
    if (a->type == TIDE__EV_NULL) return a;
    if (!is_numeric(a->type)) {
      perr(P, TIDE_ERR_TYPE, "unary '%s' needs a numeric operand, got %s %s at position %u", t->op,
           tname(a->type), otext(P, a, b1, sizeof b1), t->start + 1);
      return NULL;
    }
    if (is_op(t, "+")) return a;
    if (a->kind == TIDE_EN_LIT) { /* fold -literal */
      if (a->type == TIDE_I64) a->lit.i = (int64_t)(0 - (uint64_t)a->lit.i);
      else a->lit.d = -a->lit.d;
      a->start = t->start;
      return a;
    }
    return mk1(P, TIDE_EN_NEG, 0, a->type, a, t->start, a->end);
  }
  if (is_op(t, "!")) {
    P->at++;
    tide_enode_t *a = p_unary(P);
    if (!a) return NULL;
    if (a->type == TIDE__EV_NULL) set_null_lit(a, TIDE_BOOL, NULL);
    if (a->type != TIDE_BOOL) {
      perr(P, TIDE_ERR_TYPE, "'!' needs a boolean operand, got %s %s at position %u",
           tname(a->type), otext(P, a, b1, sizeof b1), t->start + 1);
      return NULL;
    }
    return mk1(P, TIDE_EN_NOT, 0, TIDE_BOOL, a, t->start, a->end);
  }
  if (is_op(t, "(") && peek2(P)->kind == TK_IDENT && P->at + 2 < P->ntoks &&
      is_op(&P->toks[P->at + 2], ")")) {
    const char *ty = peek2(P)->s;
    int cast = !strcmp(ty, "double") || !strcmp(ty, "float") ? 1
               : !strcmp(ty, "long")                         ? 2
               : !strcmp(ty, "int")                          ? 3
                                                             : 0;
    bool is_col = false;
    for (size_t c = 0; c < P->schema->ncols; c++)
      if (!strcmp(P->schema->names[c], ty)) is_col = true;
    if (!cast && !is_col && (!strcmp(ty, "short") || !strcmp(ty, "byte") ||
                             !strcmp(ty, "boolean") || !strcmp(ty, "char") ||
                             !strcmp(ty, "String"))) {
      perr(P, TIDE_ERR_TYPE, "unsupported cast to %s at position %u", ty, t->start + 1);
      return NULL;
    }
    if (cast && !is_col) {
      P->at += 3;
      tide_enode_t *a = p_unary(P);
      if (!a) return NULL;
      tide_type_t ta = a->type;
      if (ta == TIDE__EV_NULL) {
        set_null_lit(a, cast == 1 ? TIDE_F64 : TIDE_I64, NULL);
        a->start = t->start;
        return a;
      }
      bool ok = is_numeric(ta) || (cast == 2 && ta == TIDE_TS);
      if (!ok) {
        perr(P, TIDE_ERR_TYPE, "cannot cast %s %s to %s at position %u", tname(ta),
             otext(P, a, b1, sizeof b1), ty, t->start + 1);
        return NULL;
      }
      if (cast == 1) {
        tide_enode_t *r = coerce(P, a, TIDE_F64, NULL);
        if (r && r == a) /* already double: keep a distinct node for spans */
          return mk1(P, TIDE_EN_CONV, TIDE_CV_ID, TIDE_F64, a, t->start, a->end);
        if (r) r->start = t->start;
        return r;
      }
      int cv = cast == 2 ? (ta == TIDE_F64 ? TIDE_CV_D2L : TIDE_CV_ID)
                         : (ta == TIDE_F64 ? TIDE_CV_D2I : TIDE_CV_L2I);
      return mk1(P, TIDE_EN_CONV, cv, TIDE_I64, a, t->start, a->end);
    }
  }
  return p_postfix(P);
}

static int arith_op(const token *t) {
  if (t->kind != TK_OP || t->op[1]) return -1;
  switch (t->op[0]) {
    case '+': return TIDE_OP_ADD;
    case '-': return TIDE_OP_SUB;
    case '*': return TIDE_OP_MUL;
    case '/': return TIDE_OP_DIV;
    case '%': return TIDE_OP_MOD;
    default: return -1;
  }
}

static tide_enode_t *make_arith(parser *P, const token *t, int op, tide_enode_t *a,
                                tide_enode_t *b) {
  tide_type_t ta = a->type, tb = b->type;
  /* null literal takes the other side's type (null propagates) */
  if (ta == TIDE__EV_NULL && tb == TIDE__EV_NULL) {
    set_null_lit(a, ta = TIDE_I64, NULL);
    set_null_lit(b, tb = TIDE_I64, NULL);
  } else if (ta == TIDE__EV_NULL && (is_numeric(tb) || tb == TIDE_TS)) {
    set_null_lit(a, ta = tb == TIDE_TS ? TIDE_I64 : tb, NULL);
  } else if (tb == TIDE__EV_NULL && (is_numeric(ta) || ta == TIDE_TS)) {
    set_null_lit(b, tb = ta == TIDE_TS ? TIDE_I64 : ta, NULL);
  }
  tide_type_t rt;
  tide_type_t ot; /* operand type */
  if (is_numeric(ta) && is_numeric(tb)) {
    ot = (ta == TIDE_F64 || tb == TIDE_F64 || op == TIDE_OP_DIV) ? TIDE_F64 : TIDE_I64;
    rt = ot;
  } else if (op == TIDE_OP_ADD && ((ta == TIDE_TS && tb == TIDE_I64) || (ta == TIDE_I64 && tb == TIDE_TS))) {
    ot = TIDE_I64;
    rt = TIDE_TS;
  } else if (op == TIDE_OP_SUB && ta == TIDE_TS && tb == TIDE_I64) {
    ot = TIDE_I64;
    rt = TIDE_TS;
  } else if (op == TIDE_OP_SUB && ta == TIDE_TS && tb == TIDE_TS) {
    ot = TIDE_I64;
    rt = TIDE_I64;
  } else {
    char b1[64], b2[64];
    perr(P, TIDE_ERR_TYPE, "cannot apply '%s' to %s %s and %s %s at position %u", t->op, tname(ta),
         otext(P, a, b1, sizeof b1), tname(tb), otext(P, b, b2, sizeof b2), t->start + 1);
    return NULL;
  }
  if (ot == TIDE_F64) {
    a = coerce(P, a, TIDE_F64, NULL);
    b = coerce(P, b, TIDE_F64, NULL);
    if (!a || !b) return NULL;
  }
  tide_enode_t *n = mk(P, TIDE_EN_ARITH, a->start, b->end);
  if (!n) return NULL;
  n->op = op;
  n->type = rt;
  n->otype = ot;
  n->nargs = 2;
  n->args[0] = a;
  n->args[1] = b;
  return n;
}

static tide_enode_t *p_mul(parser *P) {
  tide_enode_t *a = p_unary(P);
  while (a) {
    token *t = peek(P);
    int op = arith_op(t);
    if (op != TIDE_OP_MUL && op != TIDE_OP_DIV && op != TIDE_OP_MOD) break;
    P->at++;
    tide_enode_t *b = p_unary(P);
    if (!b) return NULL;
    a = make_arith(P, t, op, a, b);
  }
  return a;
}

static tide_enode_t *p_add(parser *P) {
  tide_enode_t *a = p_mul(P);
  while (a) {
    token *t = peek(P);
    int op = arith_op(t);
    if (op != TIDE_OP_ADD && op != TIDE_OP_SUB) break;
    P->at++;
    tide_enode_t *b = p_mul(P);
    if (!b) return NULL;
    a = make_arith(P, t, op, a, b);
  }
  return a;
}

static int cmp_op(const token *t) {
  if (t->kind != TK_OP) return -1;
  if (!strcmp(t->op, "<")) return TIDE_OP_LT;
  if (!strcmp(t->op, "<=")) return TIDE_OP_LE;
  if (!strcmp(t->op, ">")) return TIDE_OP_GT;
  if (!strcmp(t->op, ">=")) return TIDE_OP_GE;
  if (!strcmp(t->op, "==")) return TIDE_OP_EQ;
  if (!strcmp(t->op, "!=")) return TIDE_OP_NE;
  return -1;
}

static tide_enode_t *make_cmp(parser *P, const token *t, int op, tide_enode_t *a,
                              tide_enode_t *b) {
  tide_type_t ot;
  if (!unify_cmp(P, &a, &b, op, t->start, t->op, &ot)) return NULL;
  tide_enode_t *n = mk(P, TIDE_EN_CMP, a->start, b->end);
  if (!n) return NULL;
  n->op = op;
  n->type = TIDE_BOOL;
  n->otype = ot;
  n->nargs = 2;
  n->args[0] = a;
  n->args[1] = b;
  if (ot == TIDE_SYMBOL) n->symtab = a->symtab ? a->symtab : b->symtab;
  return n;
}

/* x in lit, lit, ... */
static tide_enode_t *p_in(parser *P, tide_enode_t *x, const token *kw, bool negate) {
  tide_enode_t *items[256];
  size_t n = 0;
  uint32_t end = kw->end;
  char b1[64], b2[64];
  for (;;) {
    tide_enode_t *it = p_unary(P);
    if (!it) return NULL;
    if (it->kind != TIDE_EN_LIT) {
      perr(P, TIDE_ERR_PARSE, "'in' needs literal values, got %s at position %u",
           otext(P, it, b1, sizeof b1), it->start + 1);
      return NULL;
    }
    if (n == sizeof items / sizeof items[0]) {
      perr(P, TIDE_ERR_PARSE, "too many values for 'in' at position %u", it->start + 1);
      return NULL;
    }
    items[n++] = it;
    end = it->end;
    if (!is_op(peek(P), ",")) break;
    P->at++;
  }
  tide_type_t tx = x->type;
  if (tx == TIDE__EV_NULL) {
    perr(P, TIDE_ERR_TYPE, "'in' needs a typed left operand at position %u", kw->start + 1);
    return NULL;
  }
  tide_type_t ot = tx;
  if (tx == TIDE_I64)
    for (size_t k = 0; k < n; k++)
      if (items[k]->type == TIDE_F64) ot = TIDE_F64;
  if (ot != tx) x = coerce(P, x, ot, NULL);
  if (!x) return NULL;
  tide_enode_t *node = mk(P, TIDE_EN_IN, x->start, end);
  if (!node) return NULL;
  node->list = tide_calloc(n, sizeof *node->list);
  if (!node->list) {
    perr(P, TIDE_ERR_NOMEM, "out of memory");
    return NULL;
  }
  for (size_t k = 0; k < n; k++) {
    tide_enode_t *it = items[k];
    tide_type_t ti = it->type;
    bool ok;
    if (ti == TIDE__EV_NULL) {
      set_null_lit(it, ot, x->symtab);
      ok = true;
    } else if (ot == TIDE_SYMBOL) {
      ok = ti == TIDE_STRING;
      if (ok) lit_to_sym(P, it, x->symtab);
    } else if (ot == TIDE_F64) {
      ok = is_numeric(ti);
      if (ok) it = coerce(P, it, TIDE_F64, NULL);
    } else if (ot == TIDE_TS) {
      ok = ti == TIDE_TS || str_lit_is_ts(it);
      if (ok) it = coerce(P, it, TIDE_TS, NULL);
    } else {
      ok = ti == ot;
    }
    if (!ok) {
      perr(P, TIDE_ERR_TYPE, "cannot compare %s %s with %s %s in 'in' at position %u", tname(tx),
           otext(P, x, b1, sizeof b1), tname(ti), otext(P, it, b2, sizeof b2), it->start + 1);
      return NULL;
    }
    node->list[k] = it->lit;
  }
  node->nlist = (uint32_t)n;
  node->op = negate;
  node->type = TIDE_BOOL;
  node->otype = ot;
  node->symtab = x->symtab;
  node->nargs = 1;
  node->args[0] = x;
  return node;
}

static tide_enode_t *p_rel(parser *P) {
  tide_enode_t *a = p_add(P);
  while (a) {
    token *t = peek(P);
    if (is_kw(t, "in")) {
      P->at++;
      a = p_in(P, a, t, false);
      continue;
    }
    if (is_kw(t, "not") && is_kw(peek2(P), "in")) {
      P->at += 2;
      a = p_in(P, a, peek(P) - 1, true);
      continue;
    }
    int op = cmp_op(t);
    if (op < 0 || op == TIDE_OP_EQ || op == TIDE_OP_NE) break;
    P->at++;
    tide_enode_t *b = p_add(P);
    if (!b) return NULL;
    a = make_cmp(P, t, op, a, b);
  }
  return a;
}

static tide_enode_t *p_eq(parser *P) {
  tide_enode_t *a = p_rel(P);
  while (a) {
    token *t = peek(P);
    int op = cmp_op(t);
    if (is_op(t, "=")) {
      unexpected(P, t);
      return NULL;
    }
    if (op != TIDE_OP_EQ && op != TIDE_OP_NE) break;
    P->at++;
    tide_enode_t *b = p_rel(P);
    if (!b) return NULL;
    a = make_cmp(P, t, op, a, b);
  }
  return a;
}

static tide_enode_t *make_logic(parser *P, const token *t, tide_enode_kind_t kind,
                                tide_enode_t *a, tide_enode_t *b) {
  char b1[64];
  tide_enode_t *ab[2] = {a, b};
  for (int k = 0; k < 2; k++) {
    if (ab[k]->type == TIDE__EV_NULL) set_null_lit(ab[k], TIDE_BOOL, NULL);
    if (ab[k]->type != TIDE_BOOL) {
      perr(P, TIDE_ERR_TYPE, "'%s' needs boolean operands, but the %s operand %s is %s at position %u",
           t->op, k ? "right" : "left", otext(P, ab[k], b1, sizeof b1), tname(ab[k]->type),
           t->start + 1);
      return NULL;
    }
  }
  tide_enode_t *n = mk(P, kind, a->start, b->end);
  if (!n) return NULL;
  n->type = TIDE_BOOL;
  n->nargs = 2;
  n->args[0] = a;
  n->args[1] = b;
  return n;
}

static tide_enode_t *p_and(parser *P) {
  tide_enode_t *a = p_eq(P);
  while (a && is_op(peek(P), "&&")) {
    token *t = peek(P);
    P->at++;
    tide_enode_t *b = p_eq(P);
    if (!b) return NULL;
    a = make_logic(P, t, TIDE_EN_AND, a, b);
  }
  return a;
}

static tide_enode_t *p_or(parser *P) {
  tide_enode_t *a = p_and(P);
  while (a && is_op(peek(P), "||")) {
    token *t = peek(P);
    P->at++;
    tide_enode_t *b = p_and(P);
    if (!b) return NULL;
    a = make_logic(P, t, TIDE_EN_OR, a, b);
  }
  return a;
}

static tide_enode_t *p_ternary1(parser *P);

static tide_enode_t *p_ternary(parser *P) {
  if (++P->depth > MAX_DEPTH) {
    perr(P, TIDE_ERR_PARSE, "formula nested too deeply at position %u", peek(P)->start + 1);
    return NULL;
  }
  tide_enode_t *n = p_ternary1(P);
  P->depth--;
  return n;
}

static tide_enode_t *p_ternary1(parser *P) {
  tide_enode_t *c = p_or(P);
  if (!c || !is_op(peek(P), "?")) return c;
  token *q = peek(P);
  P->at++;
  char b1[64], b2[64];
  if (c->type == TIDE__EV_NULL) set_null_lit(c, TIDE_BOOL, NULL);
  if (c->type != TIDE_BOOL) {
    perr(P, TIDE_ERR_TYPE, "'?:' needs a boolean condition, got %s %s at position %u",
         tname(c->type), otext(P, c, b1, sizeof b1), q->start + 1);
    return NULL;
  }
  tide_enode_t *a = p_ternary(P);
  if (!a || !expect(P, ":")) return NULL;
  tide_enode_t *b = p_ternary(P);
  if (!b) return NULL;
  tide_type_t ta = a->type, tb = b->type, t;
  tide_symtab_t *st = NULL;
  if (ta == TIDE__EV_NULL && tb == TIDE__EV_NULL) {
    perr(P, TIDE_ERR_TYPE, "cannot infer the type of '?:' with two null branches at position %u",
         q->start + 1);
    return NULL;
  } else if (ta == TIDE__EV_NULL) {
    t = tb;
    st = b->symtab;
  } else if (tb == TIDE__EV_NULL) {
    t = ta;
    st = a->symtab;
  } else if (ta == tb && (ta != TIDE_SYMBOL || a->symtab == b->symtab)) {
    t = ta;
    st = a->symtab;
  } else if (is_numeric(ta) && is_numeric(tb)) {
    t = TIDE_F64;
  } else if ((ta == TIDE_SYMBOL || ta == TIDE_STRING) && (tb == TIDE_SYMBOL || tb == TIDE_STRING)) {
    t = TIDE_STRING;
  } else {
    perr(P, TIDE_ERR_TYPE, "'?:' branches have incompatible types: %s %s and %s %s at position %u",
         tname(ta), otext(P, a, b1, sizeof b1), tname(tb), otext(P, b, b2, sizeof b2),
         q->start + 1);
    return NULL;
  }
  a = coerce(P, a, t, st);
  b = coerce(P, b, t, st);
  if (!a || !b) return NULL;
  tide_enode_t *n = mk(P, TIDE_EN_TERN, c->start, b->end);
  if (!n) return NULL;
  n->type = t;
  n->symtab = t == TIDE_SYMBOL ? st : NULL;
  n->nargs = 3;
  n->args[0] = c;
  n->args[1] = a;
  n->args[2] = b;
  return n;
}

/* ----------------------------------------------------- fast path, layout */

static int flip(int op) {
  switch (op) {
    case TIDE_OP_LT: return TIDE_OP_GT;
    case TIDE_OP_LE: return TIDE_OP_GE;
    case TIDE_OP_GT: return TIDE_OP_LT;
    case TIDE_OP_GE: return TIDE_OP_LE;
    default: return op;
  }
}

/* Filter fast paths for comparisons with a (non-null) literal:
 * fast = 1: `col op lit` on the column's storage type (integer columns
 * compared as int64 or double, floats as double, bool/timestamp as int64,
 * symbols by code, strings by strcmp); fast = 2: `expr op lit` on the
 * evaluated values. */
static bool lit_usable(const tide_enode_t *n, const tide_enode_t *l) {
  switch (n->otype) {
    case TIDE_SYMBOL: return n->op == TIDE_OP_EQ || n->op == TIDE_OP_NE;
    case TIDE_STRING: return l->lit.s != NULL;
    case TIDE_F64: return l->lit.d != TIDE_NULL_F64;
    case TIDE_BOOL: return l->lit.i != TIDE_NULL_BOOL;
    case TIDE_I64:
    case TIDE_TS: return l->lit.i != TIDE_NULL_I64;
    default: return false;
  }
}

static void mark_fast(tide_enode_t *n) {
  if (n->kind != TIDE_EN_CMP) return;
  for (int side = 0; side < 2; side++) {
    tide_enode_t *c = n->args[side], *l = n->args[1 - side];
    if (l->kind != TIDE_EN_LIT || !lit_usable(n, l)) continue;
    n->fop = side == 0 ? n->op : flip(n->op);
    n->flit = l->lit;
    if (n->otype == TIDE_STRING && c->kind == TIDE_EN_CONV && c->op == TIDE_CV_SYM2STR) {
      /* Date >= "2026-11-18" over a symbol: compare per code, not per row */
      n->fast = 3;
      n->fcol = c->args[0];
      return;
    }
    tide_enode_t *col = c;
    if (col->kind == TIDE_EN_CONV && col->op == TIDE_CV_I2D) col = col->args[0];
    tide_type_t ct = col->coltype;
    bool col_ok =
        col->kind == TIDE_EN_COL &&
        (n->otype == TIDE_SYMBOL   ? ct == TIDE_SYMBOL
         : n->otype == TIDE_STRING ? ct == TIDE_STRING
         : n->otype == TIDE_F64    ? tide_type_is_numeric(ct)
                                   : (tide_type_is_integer(ct) || ct == TIDE_TS || ct == TIDE_BOOL));
    n->fast = col_ok ? 1 : 2;
    n->fcol = col_ok ? col : c;
    return;
  }
}

static void layout(tide_expr_t *e) {
  e->nbufs = e->nands = 0;
  for (size_t k = 0; k < e->nnodes; k++) {
    tide_enode_t *n = e->nodes[k];
    mark_fast(n);
    n->off = e->nbufs++;
    if (n->kind == TIDE_EN_AND) n->off2 = e->nands++;
  }
}

/* ------------------------------------------------------------------ API */

tide_expr_schema_t tide__expr_schema_of(const tide_table_t *t) {
  tide_expr_schema_t s = {t->ncols, (const char *const *)t->names, t->cols};
  return s;
}

void tide__expr_free(tide_expr_t *e) {
  if (!e) return;
  for (size_t k = 0; k < e->nnodes; k++) {
    tide_free(e->nodes[k]->list);
    tide_free(e->nodes[k]);
  }
  tide_free(e->nodes);
  for (size_t k = 0; k < e->nrefs; k++) tide_free(e->ref_names[k]);
  tide_free(e->ref_names);
  tide_free(e->ref_cols);
  tide_free(e->ref_types);
  tide__arena_destroy(&e->arena);
  tide_free(e->text);
  tide_free(e);
}

tide_expr_t *tide__expr_compile(const char *op, const char *formula, size_t start,
                                const tide_expr_schema_t *schema, unsigned flags,
                                tide_error *err) {
  if (!formula || !schema) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: NULL %s", op, formula ? "schema" : "formula");
    return NULL;
  }
  tide_expr_t *e = tide_calloc(1, sizeof *e);
  if (!e) {
    tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
    return NULL;
  }
  e->op = op;
  tide__arena_init(&e->arena);
  e->text = tide_strdup(formula);
  if (!e->text) {
    tide__expr_free(e);
    tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
    return NULL;
  }
  parser P;
  memset(&P, 0, sizeof P);
  P.e = e;
  P.schema = schema;
  P.text = e->text;
  P.flags = flags;
  P.err = err;
  tide_enode_t *root = NULL;
  if (start > strlen(formula)) start = strlen(formula);
  if (lex(&P, start)) {
    if (peek(&P)->kind == TK_END) {
      perr(&P, TIDE_ERR_PARSE, "empty expression at position %u", peek(&P)->start + 1);
    } else {
      root = p_ternary(&P);
      if (root && peek(&P)->kind != TK_END) {
        unexpected(&P, peek(&P));
        root = NULL;
      }
    }
  }
  char b1[64];
  if (root && !P.failed) {
    if (flags & TIDE_EXPR_FILTER) {
      if (root->type == TIDE__EV_NULL) set_null_lit(root, TIDE_BOOL, NULL);
      if (root->type != TIDE_BOOL)
        perr(&P, TIDE_ERR_TYPE, "a filter must be a boolean expression, but %s is %s",
             otext(&P, root, b1, sizeof b1), tname(root->type));
    } else if (root->type == TIDE__EV_NULL) {
      perr(&P, TIDE_ERR_TYPE, "cannot infer the type of null at position %u", root->start + 1);
    }
  }
  tide_free(P.toks);
  if (!root || P.failed) {
    if (!P.failed) tide_error_set(err, TIDE_ERR_PARSE, "%s: \"%s\": parse error", op, formula);
    tide__expr_free(e);
    return NULL;
  }
  e->root = root;
  e->plain_col = root->kind == TIDE_EN_COL;
  e->narrow_i32 = root->kind == TIDE_EN_CONV && (root->op == TIDE_CV_D2I || root->op == TIDE_CV_L2I);
  e->type = e->plain_col ? root->coltype : e->narrow_i32 ? TIDE_I32 : root->type;
  e->symtab = e->type == TIDE_SYMBOL ? root->symtab : NULL;
  layout(e);
  return e;
}

tide_type_t tide__expr_type(const tide_expr_t *e) { return e->type; }
tide_symtab_t *tide__expr_symtab(const tide_expr_t *e) { return e->symtab; }
bool tide__expr_is_column(const tide_expr_t *e, int *col) {
  if (e->plain_col && col) *col = e->root->col;
  return e->plain_col;
}
size_t tide__expr_ncolumns(const tide_expr_t *e) { return e->nrefs; }
const char *tide__expr_column_name(const tide_expr_t *e, size_t i) { return e->ref_names[i]; }
int tide__expr_column_index(const tide_expr_t *e, size_t i) { return e->ref_cols[i]; }
bool tide__expr_uses_i(const tide_expr_t *e) { return e->uses_i; }
bool tide__expr_has_missing_symbols(const tide_expr_t *e) { return e->missing_syms; }
const char *tide__expr_text(const tide_expr_t *e) { return e->text; }

bool tide__formula_split(const char *op, const char *formula, char *name, size_t cap,
                         size_t *expr_start, tide_error *err) {
  if (!formula) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: NULL formula", op);
    return false;
  }
  const char *s = formula;
  size_t i = 0;
  while (s[i] && isspace((unsigned char)s[i])) i++;
  size_t b = i;
  while (isalnum((unsigned char)s[i]) || s[i] == '_') i++;
  size_t e = i;
  while (s[i] && isspace((unsigned char)s[i])) i++;
  bool ident = e > b && !isdigit((unsigned char)s[b]);
  if (ident && s[i] == 0) {
    *expr_start = SIZE_MAX;
  } else if (ident && s[i] == '=' && s[i + 1] != '=') {
    *expr_start = i + 1;
  } else {
    tide_error_set(err, TIDE_ERR_PARSE,
                   "%s: \"%s\": expected 'Name = expression' or a column name", op, formula);
    return false;
  }
  if (e - b >= cap) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: \"%s\": column name too long", op, formula);
    return false;
  }
  memcpy(name, s + b, e - b);
  name[e - b] = 0;
  return true;
}
