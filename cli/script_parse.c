/*
 * Parser of the tide script language: tokens -> statement trees.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdarg.h>
#include <string.h>

#include "cli/script.h"

typedef struct parser {
  const tide_script_token *t;
  size_t n, i;
  tide_script_diag *diag;
  bool failed;
  int unary_depth; /* nesting of parse_unary (a run of unary signs) */
} parser;

/* Deepest expression tree: the parser, the evaluator and node_free recurse
 * over it, so an absurd expression ("1+1+...", "a.b.c...", "- - -...") is
 * an error rather than a stack overflow. */
#define MAX_EXPR_DEPTH 1000

static tide_status perr(parser *P, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static tide_status perr(parser *P, int line, int col, const char *fmt, ...) {
  if (P->failed) return TIDE_ERR_PARSE;
  P->failed = true;
  if (P->diag) {
    P->diag->line = line;
    P->diag->col = col;
    P->diag->status = TIDE_ERR_PARSE;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(P->diag->msg, sizeof P->diag->msg, fmt, ap);
    va_end(ap);
  }
  return TIDE_ERR_PARSE;
}

static const tide_script_token *cur(parser *P) { return &P->t[P->i]; }
static const tide_script_token *peek_at(parser *P, size_t k) {
  size_t j = P->i + k;
  return &P->t[j < P->n ? j : P->n - 1];
}
static void next(parser *P) {
  if (P->i + 1 < P->n) P->i++;
}

static bool is_name(const tide_script_token *t, const char *s) {
  return t->kind == TIDE_TOK_NAME && t->len == strlen(s) && memcmp(t->text, s, t->len) == 0;
}

static bool is_keyword(const tide_script_token *t) {
  static const char *const kw[] = {"True", "False", "None", "import", "from", "as",
                                   "def", "if", "else", "for", "while", "return",
                                   "lambda", "and", "or", "not", "in", "is"};
  for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
    if (is_name(t, kw[i])) return true;
  return false;
}

/* "name 'foo'", "string \"abc\"", "')'" */
static void describe(const tide_script_token *t, char *buf, size_t cap) {
  switch (t->kind) {
    case TIDE_TOK_NAME:
      snprintf(buf, cap, "name '%.*s'", (int)(t->len > 40 ? 40 : t->len), t->text);
      break;
    case TIDE_TOK_INT:
    case TIDE_TOK_FLOAT:
      snprintf(buf, cap, "number %.*s", (int)(t->len > 40 ? 40 : t->len), t->text);
      break;
    case TIDE_TOK_STRING:
      snprintf(buf, cap, "string %.*s%s", (int)(t->len > 40 ? 40 : t->len), t->text,
               t->len > 40 ? "..." : "");
      break;
    default:
      snprintf(buf, cap, "%s", tide_script_tok_name(t->kind));
  }
}

static tide_status unexpected(parser *P, const char *what) {
  char d[96];
  const tide_script_token *t = cur(P);
  describe(t, d, sizeof d);
  if (what)
    return perr(P, t->line, t->col, "expected %s, found %s", what, d);
  return perr(P, t->line, t->col, "unexpected %s", d);
}

static tide_script_node *node_new(parser *P, tide_script_node_kind k, int line, int col) {
  tide_script_node *n = tide_calloc(1, sizeof *n);
  if (!n) {
    perr(P, line, col, "out of memory");
    return NULL;
  }
  n->kind = k;
  n->line = line;
  n->col = col;
  n->depth = 1;
  return n;
}

static void node_free(tide_script_node *n) {
  if (!n) return;
  for (size_t i = 0; i < n->nkids; i++) node_free(n->kids[i]);
  tide_free(n->kids);
  if (n->kwnames) {
    size_t m = n->kind == TIDE_NODE_IMPORT ? n->nnames : (n->nkids ? n->nkids - 1 : 0);
    for (size_t i = 0; i < m; i++) tide_free(n->kwnames[i]);
    tide_free(n->kwnames);
  }
  if (n->aliases) {
    for (size_t i = 0; i < n->nnames; i++) tide_free(n->aliases[i]);
    tide_free(n->aliases);
  }
  tide_free(n->name);
  tide_free(n->str);
  tide_free(n);
}

/* Append kid (and for CALL its keyword name) to n. Frees kid on failure. */
static bool add_kid(parser *P, tide_script_node *n, tide_script_node *kid, char *kw) {
  if (kid->depth >= MAX_EXPR_DEPTH) {
    node_free(kid);
    tide_free(kw);
    perr(P, n->line, n->col, "expression nested too deeply (more than %d levels)", MAX_EXPR_DEPTH);
    return false;
  }
  if (kid->depth + 1 > n->depth) n->depth = kid->depth + 1;
  tide_script_node **nk = tide_realloc(n->kids, (n->nkids + 1) * sizeof *nk);
  if (!nk) goto oom;
  n->kids = nk;
  if (n->kind == TIDE_NODE_CALL && n->nkids >= 1) {
    char **kn = tide_realloc(n->kwnames, n->nkids * sizeof *kn);
    if (!kn) goto oom;
    n->kwnames = kn;
    kn[n->nkids - 1] = kw;
  }
  n->kids[n->nkids++] = kid;
  return true;
oom:
  node_free(kid);
  tide_free(kw);
  perr(P, n->line, n->col, "out of memory");
  return false;
}

static char *tok_strdup(parser *P, const tide_script_token *t) {
  char *s = tide_strndup(t->text, t->len);
  if (!s) perr(P, t->line, t->col, "out of memory");
  return s;
}

static tide_script_node *parse_expr(parser *P);

/* Parse a comma-separated sequence up to `close` into n (LIST/DICT/CALL). */
static bool parse_seq(parser *P, tide_script_node *n, tide_script_tok_kind close, bool dict,
                      bool call) {
  bool seen_kw = false;
  while (cur(P)->kind != close) {
    char *kw = NULL;
    const tide_script_token *start = cur(P);
    if (call && start->kind == TIDE_TOK_NAME && peek_at(P, 1)->kind == TIDE_TOK_ASSIGN) {
      if (is_keyword(start)) {
        unexpected(P, NULL);
        return false;
      }
      kw = tok_strdup(P, start);
      if (!kw) return false;
      for (size_t i = 0; i + 1 < n->nkids; i++) {
        if (n->kwnames[i] && strcmp(n->kwnames[i], kw) == 0) {
          perr(P, start->line, start->col, "keyword argument '%s' repeated", kw);
          tide_free(kw);
          return false;
        }
      }
      next(P);
      next(P);
      seen_kw = true;
    } else if (call && seen_kw) {
      perr(P, start->line, start->col, "positional argument follows keyword argument");
      return false;
    }
    tide_script_node *e = parse_expr(P);
    if (!e) {
      tide_free(kw);
      return false;
    }
    if (kw) {
      e->kw_line = start->line;
      e->kw_col = start->col;
    }
    if (!add_kid(P, n, e, kw)) return false;
    if (dict) {
      if (cur(P)->kind != TIDE_TOK_COLON) {
        unexpected(P, "':'");
        return false;
      }
      next(P);
      tide_script_node *v = parse_expr(P);
      if (!v || !add_kid(P, n, v, NULL)) return false;
    }
    if (cur(P)->kind == TIDE_TOK_COMMA) {
      next(P);
      continue;
    }
    if (cur(P)->kind != close) {
      char want[48];
      snprintf(want, sizeof want, "',' or %s", tide_script_tok_name(close));
      unexpected(P, want);
      return false;
    }
  }
  next(P); /* close */
  return true;
}

static tide_script_node *parse_primary(parser *P) {
  const tide_script_token *t = cur(P);
  tide_script_node *n = NULL;
  switch (t->kind) {
    case TIDE_TOK_NAME:
      if (is_name(t, "True") || is_name(t, "False") || is_name(t, "None")) {
        n = node_new(P,
                     is_name(t, "True")    ? TIDE_NODE_TRUE
                     : is_name(t, "False") ? TIDE_NODE_FALSE
                                           : TIDE_NODE_NONE,
                     t->line, t->col);
        next(P);
        return n;
      }
      if (is_keyword(t)) {
        perr(P, t->line, t->col, "'%.*s' is not supported in tide scripts", (int)t->len,
             t->text);
        return NULL;
      }
      n = node_new(P, TIDE_NODE_NAME, t->line, t->col);
      if (!n) return NULL;
      n->name = tok_strdup(P, t);
      if (!n->name) {
        node_free(n);
        return NULL;
      }
      next(P);
      return n;
    case TIDE_TOK_INT:
      n = node_new(P, TIDE_NODE_INT, t->line, t->col);
      if (n) n->ival = t->ival;
      next(P);
      return n;
    case TIDE_TOK_FLOAT:
      n = node_new(P, TIDE_NODE_FLOAT, t->line, t->col);
      if (n) n->fval = t->fval;
      next(P);
      return n;
    case TIDE_TOK_STRING: {
      n = node_new(P, TIDE_NODE_STRING, t->line, t->col);
      if (!n) return NULL;
      /* Adjacent literals concatenate, as in Python. */
      size_t total = 0;
      size_t j = P->i;
      while (j < P->n && P->t[j].kind == TIDE_TOK_STRING) total += P->t[j++].str_len;
      n->str = tide_malloc(total + 1);
      if (!n->str) {
        node_free(n);
        perr(P, t->line, t->col, "out of memory");
        return NULL;
      }
      size_t off = 0;
      while (cur(P)->kind == TIDE_TOK_STRING) {
        memcpy(n->str + off, cur(P)->str, cur(P)->str_len);
        off += cur(P)->str_len;
        next(P);
      }
      n->str[off] = 0;
      n->str_len = off;
      return n;
    }
    case TIDE_TOK_LPAREN: {
      next(P);
      if (cur(P)->kind == TIDE_TOK_RPAREN) { /* () empty tuple */
        next(P);
        return node_new(P, TIDE_NODE_LIST, t->line, t->col);
      }
      tide_script_node *e = parse_expr(P);
      if (!e) return NULL;
      if (cur(P)->kind == TIDE_TOK_RPAREN) {
        next(P);
        return e;
      }
      if (cur(P)->kind != TIDE_TOK_COMMA) {
        node_free(e);
        unexpected(P, "',' or ')'");
        return NULL;
      }
      next(P);
      n = node_new(P, TIDE_NODE_LIST, t->line, t->col);
      if (!n) {
        node_free(e);
        return NULL;
      }
      if (!add_kid(P, n, e, NULL) || !parse_seq(P, n, TIDE_TOK_RPAREN, false, false)) {
        node_free(n);
        return NULL;
      }
      return n;
    }
    case TIDE_TOK_LBRACKET:
      next(P);
      n = node_new(P, TIDE_NODE_LIST, t->line, t->col);
      if (!n || !parse_seq(P, n, TIDE_TOK_RBRACKET, false, false)) {
        node_free(n);
        return NULL;
      }
      return n;
    case TIDE_TOK_LBRACE:
      next(P);
      n = node_new(P, TIDE_NODE_DICT, t->line, t->col);
      if (!n || !parse_seq(P, n, TIDE_TOK_RBRACE, true, false)) {
        node_free(n);
        return NULL;
      }
      return n;
    default:
      unexpected(P, "an expression");
      return NULL;
  }
}

static tide_script_node *parse_postfix(parser *P) {
  tide_script_node *e = parse_primary(P);
  while (e) {
    const tide_script_token *t = cur(P);
    if (t->kind == TIDE_TOK_DOT) {
      next(P);
      const tide_script_token *nm = cur(P);
      if (nm->kind != TIDE_TOK_NAME || is_keyword(nm)) {
        unexpected(P, "an attribute name after '.'");
        node_free(e);
        return NULL;
      }
      tide_script_node *a = node_new(P, TIDE_NODE_ATTR, nm->line, nm->col);
      if (!a) {
        node_free(e);
        return NULL;
      }
      a->name = tok_strdup(P, nm);
      if (!a->name || !add_kid(P, a, e, NULL)) {
        node_free(a);
        return NULL;
      }
      next(P);
      e = a;
    } else if (t->kind == TIDE_TOK_LPAREN) {
      next(P);
      /* A call is reported at its callee: the method name for t.m(...). */
      tide_script_node *c = node_new(P, TIDE_NODE_CALL, e->line, e->col);
      if (!c) {
        node_free(e);
        return NULL;
      }
      if (!add_kid(P, c, e, NULL) || !parse_seq(P, c, TIDE_TOK_RPAREN, false, true)) {
        node_free(c);
        return NULL;
      }
      e = c;
    } else if (t->kind == TIDE_TOK_LBRACKET) {
      next(P);
      tide_script_node *x = node_new(P, TIDE_NODE_INDEX, t->line, t->col);
      if (!x) {
        node_free(e);
        return NULL;
      }
      if (!add_kid(P, x, e, NULL)) {
        node_free(x);
        return NULL;
      }
      tide_script_node *k = parse_expr(P);
      if (!k || !add_kid(P, x, k, NULL)) {
        node_free(x);
        return NULL;
      }
      if (cur(P)->kind != TIDE_TOK_RBRACKET) {
        unexpected(P, "']'");
        node_free(x);
        return NULL;
      }
      next(P);
      e = x;
    } else {
      break;
    }
  }
  return e;
}

static tide_script_node *parse_unary(parser *P) {
  const tide_script_token *t = cur(P);
  if (t->kind == TIDE_TOK_MINUS || t->kind == TIDE_TOK_PLUS) {
    if (P->unary_depth >= MAX_EXPR_DEPTH) {
      perr(P, t->line, t->col, "expression nested too deeply (more than %d levels)",
           MAX_EXPR_DEPTH);
      return NULL;
    }
    next(P);
    P->unary_depth++;
    tide_script_node *k = parse_unary(P);
    P->unary_depth--;
    if (!k) return NULL;
    tide_script_node *n = node_new(P, TIDE_NODE_UNARY, t->line, t->col);
    if (!n) {
      node_free(k);
      return NULL;
    }
    n->op = t->kind;
    if (!add_kid(P, n, k, NULL)) {
      node_free(n);
      return NULL;
    }
    return n;
  }
  return parse_postfix(P);
}

static tide_script_node *parse_binary(parser *P, int level) {
  tide_script_node *l = level == 0 ? parse_binary(P, 1) : parse_unary(P);
  while (l) {
    const tide_script_token *t = cur(P);
    bool match = level == 0 ? (t->kind == TIDE_TOK_PLUS || t->kind == TIDE_TOK_MINUS)
                            : (t->kind == TIDE_TOK_STAR || t->kind == TIDE_TOK_SLASH ||
                               t->kind == TIDE_TOK_PERCENT || t->kind == TIDE_TOK_DSLASH);
    if (!match) break;
    next(P);
    tide_script_node *r = level == 0 ? parse_binary(P, 1) : parse_unary(P);
    if (!r) {
      node_free(l);
      return NULL;
    }
    tide_script_node *n = node_new(P, TIDE_NODE_BINARY, t->line, t->col);
    if (!n) {
      node_free(l);
      node_free(r);
      return NULL;
    }
    n->op = t->kind;
    if (!add_kid(P, n, l, NULL)) {
      node_free(n);
      node_free(r);
      return NULL;
    }
    if (!add_kid(P, n, r, NULL)) {
      node_free(n);
      return NULL;
    }
    l = n;
  }
  return l;
}

static tide_script_node *parse_expr(parser *P) { return parse_binary(P, 0); }

/* dotted.module.name -> malloc'd string */
static char *parse_dotted(parser *P) {
  if (cur(P)->kind != TIDE_TOK_NAME) {
    unexpected(P, "a module name");
    return NULL;
  }
  char buf[256];
  size_t n = 0;
  for (;;) {
    const tide_script_token *t = cur(P);
    if (t->kind != TIDE_TOK_NAME) {
      unexpected(P, "a module name");
      return NULL;
    }
    if (n + t->len + 2 < sizeof buf) {
      memcpy(buf + n, t->text, t->len);
      n += t->len;
    }
    next(P);
    if (cur(P)->kind != TIDE_TOK_DOT) break;
    buf[n++] = '.';
    next(P);
  }
  buf[n] = 0;
  char *s = tide_strdup(buf);
  if (!s) perr(P, cur(P)->line, cur(P)->col, "out of memory");
  return s;
}

static bool import_add(parser *P, tide_script_node *n, const tide_script_token *nm,
                       const tide_script_token *alias) {
  char **kn = tide_realloc(n->kwnames, (n->nnames + 1) * sizeof *kn);
  if (!kn) return perr(P, nm->line, nm->col, "out of memory"), false;
  n->kwnames = kn;
  char **al = tide_realloc(n->aliases, (n->nnames + 1) * sizeof *al);
  if (!al) return perr(P, nm->line, nm->col, "out of memory"), false;
  n->aliases = al;
  kn[n->nnames] = tok_strdup(P, nm);
  al[n->nnames] = alias ? tok_strdup(P, alias) : NULL;
  n->nnames++;
  return kn[n->nnames - 1] != NULL && (!alias || al[n->nnames - 1] != NULL);
}

/* import a.b [as c]  |  from a.b import x [as y], ...  |  from a import (x, y) */
static tide_script_node *parse_import(parser *P) {
  const tide_script_token *t = cur(P);
  bool from = is_name(t, "from");
  next(P);
  tide_script_node *n = node_new(P, TIDE_NODE_IMPORT, t->line, t->col);
  if (!n) return NULL;
  n->op = from ? 1 : 0;
  if (!from) {
    const tide_script_token *first = cur(P);
    n->name = parse_dotted(P);
    if (!n->name) goto fail;
    const tide_script_token *alias = NULL;
    if (is_name(cur(P), "as")) {
      next(P);
      if (cur(P)->kind != TIDE_TOK_NAME || is_keyword(cur(P))) {
        unexpected(P, "a name after 'as'");
        goto fail;
      }
      alias = cur(P);
      next(P);
    }
    if (!import_add(P, n, first, alias)) goto fail;
    return n;
  }
  n->name = parse_dotted(P);
  if (!n->name) goto fail;
  if (!is_name(cur(P), "import")) {
    unexpected(P, "'import'");
    goto fail;
  }
  next(P);
  bool paren = cur(P)->kind == TIDE_TOK_LPAREN;
  if (paren) next(P);
  for (;;) {
    const tide_script_token *nm = cur(P);
    if (nm->kind == TIDE_TOK_STAR) {
      next(P);
      if (!import_add(P, n, nm, NULL)) goto fail;
    } else {
      if (nm->kind != TIDE_TOK_NAME || is_keyword(nm)) {
        unexpected(P, "a name to import");
        goto fail;
      }
      next(P);
      const tide_script_token *alias = NULL;
      if (is_name(cur(P), "as")) {
        next(P);
        if (cur(P)->kind != TIDE_TOK_NAME || is_keyword(cur(P))) {
          unexpected(P, "a name after 'as'");
          goto fail;
        }
        alias = cur(P);
        next(P);
      }
      if (!import_add(P, n, nm, alias)) goto fail;
    }
    if (cur(P)->kind != TIDE_TOK_COMMA) break;
    next(P);
    if (paren && cur(P)->kind == TIDE_TOK_RPAREN) break;
  }
  if (paren) {
    if (cur(P)->kind != TIDE_TOK_RPAREN) {
      unexpected(P, "')'");
      goto fail;
    }
    next(P);
  }
  return n;
fail:
  node_free(n);
  return NULL;
}

static tide_script_node *parse_stmt(parser *P) {
  const tide_script_token *t = cur(P);
  tide_script_node *s = NULL;
  if (is_name(t, "import") || is_name(t, "from")) {
    s = parse_import(P);
  } else if (t->kind == TIDE_TOK_NAME && peek_at(P, 1)->kind == TIDE_TOK_ASSIGN) {
    if (is_keyword(t)) {
      perr(P, t->line, t->col, "cannot assign to '%.*s'", (int)t->len, t->text);
      return NULL;
    }
    s = node_new(P, TIDE_NODE_ASSIGN, t->line, t->col);
    if (!s) return NULL;
    s->name = tok_strdup(P, t);
    if (!s->name) {
      node_free(s);
      return NULL;
    }
    next(P);
    next(P);
    tide_script_node *e = parse_expr(P);
    if (!e || !add_kid(P, s, e, NULL)) {
      node_free(s);
      return NULL;
    }
  } else {
    tide_script_node *e = parse_expr(P);
    if (!e) return NULL;
    if (cur(P)->kind == TIDE_TOK_ASSIGN) {
      perr(P, cur(P)->line, cur(P)->col,
           "cannot assign to an expression (only 'name = ...' is supported)");
      node_free(e);
      return NULL;
    }
    s = node_new(P, TIDE_NODE_EXPR, e->line, e->col);
    if (!s) {
      node_free(e);
      return NULL;
    }
    if (!add_kid(P, s, e, NULL)) {
      node_free(s);
      return NULL;
    }
  }
  if (!s) return NULL;
  tide_script_tok_kind k = cur(P)->kind;
  if (k == TIDE_TOK_NEWLINE || k == TIDE_TOK_SEMI) {
    next(P);
  } else if (k != TIDE_TOK_EOF) {
    if (k == TIDE_TOK_ASSIGN)
      perr(P, cur(P)->line, cur(P)->col, "unexpected '=' (use '==' inside formula strings)");
    else
      unexpected(P, "end of line");
    node_free(s);
    return NULL;
  }
  return s;
}

tide_status tide_script_parse(const char *src, size_t len, tide_script_program *out,
                              tide_script_diag *diag) {
  out->stmts = NULL;
  out->n = 0;
  tide_script_tokens toks;
  tide_status st = tide_script_lex(src, len, &toks, diag);
  if (st) return st;
  parser P = {toks.toks, toks.n, 0, diag, false, 0};
  size_t cap = 0;
  while (cur(&P)->kind != TIDE_TOK_EOF) {
    if (cur(&P)->kind == TIDE_TOK_NEWLINE || cur(&P)->kind == TIDE_TOK_SEMI) {
      next(&P);
      continue;
    }
    tide_script_node *s = parse_stmt(&P);
    if (!s) {
      st = TIDE_ERR_PARSE;
      break;
    }
    if (out->n == cap) {
      cap = cap ? cap * 2 : 16;
      tide_script_node **ns = tide_realloc(out->stmts, cap * sizeof *ns);
      if (!ns) {
        int l = s->line, c = s->col;
        node_free(s);
        st = perr(&P, l, c, "out of memory");
        break;
      }
      out->stmts = ns;
    }
    out->stmts[out->n++] = s;
  }
  tide_script_tokens_free(&toks);
  if (st) tide_script_program_free(out);
  return st;
}

void tide_script_program_free(tide_script_program *p) {
  if (!p) return;
  for (size_t i = 0; i < p->n; i++) node_free(p->stmts[i]);
  tide_free(p->stmts);
  p->stmts = NULL;
  p->n = 0;
}
