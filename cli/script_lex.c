/*
 * Lexer of the tide script language (see cli/script.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/script.h"

static const char *const tok_names[] = {
#define TIDE_X_TOK_NAME(E, s) s,
    TIDE_SCRIPT_TOKEN_LIST(TIDE_X_TOK_NAME)
#undef TIDE_X_TOK_NAME
};

const char *tide_script_tok_name(tide_script_tok_kind k) {
  if ((unsigned)k >= TIDE_TOK_KIND_COUNT) return "?";
  return tok_names[k];
}

void tide_script_diag_print(const tide_script_diag *d, const char *script_name, FILE *out) {
  /* Keep the diagnostic on one line whatever the engine wrote. */
  char msg[sizeof d->msg];
  size_t i = 0;
  for (; d->msg[i] && i + 1 < sizeof msg; i++)
    msg[i] = (d->msg[i] == '\n' || d->msg[i] == '\r') ? ' ' : d->msg[i];
  msg[i] = 0;
  fprintf(out, "%s:%d:%d: error: %s\n", script_name ? script_name : "<script>", d->line, d->col,
          msg);
  fflush(out);
}

typedef struct lexer {
  const char *src;
  size_t len, pos;
  int line, col;
  tide_script_tokens *out;
  size_t cap;
  tide_script_diag *diag;
  /* open brackets */
  char stack[256];
  int sline[256], scol[256];
  int depth;
} lexer;

static tide_status lex_err(lexer *L, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static tide_status lex_err(lexer *L, int line, int col, const char *fmt, ...) {
  if (L->diag) {
    L->diag->line = line;
    L->diag->col = col;
    L->diag->status = TIDE_ERR_PARSE;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->diag->msg, sizeof L->diag->msg, fmt, ap);
    va_end(ap);
  }
  return TIDE_ERR_PARSE;
}

static tide_script_token *push(lexer *L, tide_script_tok_kind k, int line, int col,
                               const char *text, size_t len) {
  if (L->out->n == L->cap) {
    size_t nc = L->cap ? L->cap * 2 : 64;
    tide_script_token *nt = tide_realloc(L->out->toks, nc * sizeof *nt);
    if (!nt) return NULL;
    L->out->toks = nt;
    L->cap = nc;
  }
  tide_script_token *t = &L->out->toks[L->out->n++];
  memset(t, 0, sizeof *t);
  t->kind = k;
  t->line = line;
  t->col = col;
  t->text = text;
  t->len = len;
  return t;
}

static int peekc(const lexer *L, size_t off) {
  return L->pos + off < L->len ? (unsigned char)L->src[L->pos + off] : -1;
}

static void advance(lexer *L, size_t n) {
  for (size_t i = 0; i < n && L->pos < L->len; i++) {
    if (L->src[L->pos] == '\n') {
      L->line++;
      L->col = 1;
    } else {
      L->col++;
    }
    L->pos++;
  }
}

static bool last_is_newline_or_empty(const lexer *L) {
  return L->out->n == 0 || L->out->toks[L->out->n - 1].kind == TIDE_TOK_NEWLINE ||
         L->out->toks[L->out->n - 1].kind == TIDE_TOK_SEMI;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static tide_status lex_string(lexer *L) {
  int line = L->line, col = L->col;
  size_t start = L->pos;
  char q = L->src[L->pos];
  bool triple = peekc(L, 1) == q && peekc(L, 2) == q;
  advance(L, triple ? 3 : 1);
  /* decoded length <= raw length */
  char *buf = tide_malloc(L->len - L->pos + 1);
  if (!buf) return lex_err(L, line, col, "out of memory");
  size_t n = 0;
  for (;;) {
    int c = peekc(L, 0);
    if (c < 0 || (c == '\n' && !triple)) {
      tide_free(buf);
      return lex_err(L, line, col, "unterminated string literal");
    }
    if (c == 0) { /* strings reach the engine as C strings: no NUL inside */
      tide_free(buf);
      return lex_err(L, L->line, L->col, "NUL byte in string literal");
    }
    if (c == q) {
      if (!triple) {
        advance(L, 1);
        break;
      }
      if (peekc(L, 1) == q && peekc(L, 2) == q) {
        advance(L, 3);
        break;
      }
    }
    if (c == '\\') {
      int e = peekc(L, 1);
      int eline = L->line, ecol = L->col;
      switch (e) {
        case 'n': buf[n++] = '\n'; advance(L, 2); continue;
        case 't': buf[n++] = '\t'; advance(L, 2); continue;
        case 'r': buf[n++] = '\r'; advance(L, 2); continue;
        case '0':
          tide_free(buf);
          return lex_err(L, eline, ecol, "NUL character (\\0) in string literal is not supported");
        case '\\': buf[n++] = '\\'; advance(L, 2); continue;
        case '\'': buf[n++] = '\''; advance(L, 2); continue;
        case '"': buf[n++] = '"'; advance(L, 2); continue;
        case '`': buf[n++] = '`'; advance(L, 2); continue;
        case '\n': advance(L, 2); continue; /* line continuation */
        case 'x': {
          int h1 = hexval(peekc(L, 2)), h2 = hexval(peekc(L, 3));
          if (h1 < 0 || h2 < 0) {
            tide_free(buf);
            return lex_err(L, eline, ecol, "invalid \\x escape in string literal");
          }
          if (h1 == 0 && h2 == 0) {
            tide_free(buf);
            return lex_err(L, eline, ecol,
                           "NUL character (\\x00) in string literal is not supported");
          }
          buf[n++] = (char)(h1 * 16 + h2);
          advance(L, 4);
          continue;
        }
        default:
          /* Python keeps unknown escapes verbatim. */
          buf[n++] = '\\';
          advance(L, 1);
          continue;
      }
    }
    buf[n++] = (char)c;
    advance(L, 1);
  }
  buf[n] = 0;
  tide_script_token *t = push(L, TIDE_TOK_STRING, line, col, L->src + start, L->pos - start);
  if (!t) {
    tide_free(buf);
    return lex_err(L, line, col, "out of memory");
  }
  t->str = buf;
  t->str_len = n;
  return TIDE_OK;
}

static tide_status lex_number(lexer *L) {
  int line = L->line, col = L->col;
  size_t start = L->pos;
  bool is_float = false;
  char tmp[128];
  size_t n = 0;
  while (L->pos < L->len) {
    int c = peekc(L, 0);
    if (isdigit(c) || c == '_') {
      if (c != '_' && n < sizeof tmp - 1) tmp[n++] = (char)c;
      advance(L, 1);
    } else if (c == '.' && !is_float && isdigit(peekc(L, 1) < 0 ? 0 : peekc(L, 1))) {
      is_float = true;
      if (n < sizeof tmp - 1) tmp[n++] = '.';
      advance(L, 1);
    } else if (c == '.' && !is_float && !(isalpha(peekc(L, 1) < 0 ? 0 : peekc(L, 1)) ||
                                          peekc(L, 1) == '_')) {
      /* "1." is a float */
      is_float = true;
      if (n < sizeof tmp - 1) tmp[n++] = '.';
      advance(L, 1);
    } else if ((c == 'e' || c == 'E') &&
               (isdigit(peekc(L, 1) < 0 ? 0 : peekc(L, 1)) ||
                ((peekc(L, 1) == '+' || peekc(L, 1) == '-') &&
                 isdigit(peekc(L, 2) < 0 ? 0 : peekc(L, 2))))) {
      is_float = true;
      if (n < sizeof tmp - 2) {
        tmp[n++] = 'e';
        tmp[n++] = L->src[L->pos + 1];
      }
      advance(L, 2);
      while (isdigit(peekc(L, 0) < 0 ? 0 : peekc(L, 0))) {
        if (n < sizeof tmp - 1) tmp[n++] = L->src[L->pos];
        advance(L, 1);
      }
      break;
    } else {
      break;
    }
  }
  tmp[n] = 0;
  int c = peekc(L, 0);
  if (c >= 0 && (isalnum(c) || c == '_'))
    return lex_err(L, line, col, "invalid number literal '%.*s%c'", (int)(L->pos - start),
                   L->src + start, c);
  tide_script_token *t = push(L, is_float ? TIDE_TOK_FLOAT : TIDE_TOK_INT, line, col,
                              L->src + start, L->pos - start);
  if (!t) return lex_err(L, line, col, "out of memory");
  errno = 0;
  if (is_float) {
    t->fval = strtod(tmp, NULL);
  } else {
    unsigned long long v = strtoull(tmp, NULL, 10);
    if (errno == ERANGE || v > (unsigned long long)INT64_MAX)
      return lex_err(L, line, col, "integer literal %.*s is too large", (int)(L->pos - start),
                     L->src + start);
    t->ival = (int64_t)v;
  }
  return TIDE_OK;
}

static char closer_of(char open) { return open == '(' ? ')' : open == '[' ? ']' : '}'; }

tide_status tide_script_lex(const char *src, size_t len, tide_script_tokens *out,
                            tide_script_diag *diag) {
  lexer L;
  memset(&L, 0, sizeof L);
  L.src = src;
  L.len = len;
  L.line = 1;
  L.col = 1;
  L.out = out;
  L.diag = diag;
  out->toks = NULL;
  out->n = 0;
  tide_status st = TIDE_OK;
  /* skip a UTF-8 BOM */
  if (len >= 3 && (unsigned char)src[0] == 0xEF && (unsigned char)src[1] == 0xBB &&
      (unsigned char)src[2] == 0xBF)
    L.pos = 3;
  while (L.pos < L.len) {
    int c = peekc(&L, 0);
    int line = L.line, col = L.col;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f') {
      advance(&L, 1);
      continue;
    }
    if (c == '#') {
      while (L.pos < L.len && L.src[L.pos] != '\n') advance(&L, 1);
      continue;
    }
    if (c == '\\') {
      size_t k = 1;
      while (peekc(&L, k) == ' ' || peekc(&L, k) == '\t' || peekc(&L, k) == '\r') k++;
      if (peekc(&L, k) == '\n' || peekc(&L, k) < 0) {
        advance(&L, k + 1);
        continue;
      }
      st = lex_err(&L, line, col, "unexpected character '\\'");
      goto fail;
    }
    if (c == '\n') {
      if (L.depth == 0 && !last_is_newline_or_empty(&L)) {
        if (!push(&L, TIDE_TOK_NEWLINE, line, col, L.src + L.pos, 1)) goto oom;
      }
      advance(&L, 1);
      continue;
    }
    if (c == '"' || c == '\'') {
      st = lex_string(&L);
      if (st) goto fail;
      continue;
    }
    if (isdigit(c) || (c == '.' && isdigit(peekc(&L, 1) < 0 ? 0 : peekc(&L, 1)))) {
      st = lex_number(&L);
      if (st) goto fail;
      continue;
    }
    if (isalpha(c) || c == '_') {
      size_t s = L.pos;
      while (L.pos < L.len && (isalnum((unsigned char)L.src[L.pos]) || L.src[L.pos] == '_'))
        advance(&L, 1);
      if (!push(&L, TIDE_TOK_NAME, line, col, L.src + s, L.pos - s)) goto oom;
      continue;
    }
    tide_script_tok_kind k;
    switch (c) {
      case '(': k = TIDE_TOK_LPAREN; break;
      case ')': k = TIDE_TOK_RPAREN; break;
      case '[': k = TIDE_TOK_LBRACKET; break;
      case ']': k = TIDE_TOK_RBRACKET; break;
      case '{': k = TIDE_TOK_LBRACE; break;
      case '}': k = TIDE_TOK_RBRACE; break;
      case ',': k = TIDE_TOK_COMMA; break;
      case '.': k = TIDE_TOK_DOT; break;
      case ':': k = TIDE_TOK_COLON; break;
      case ';': k = TIDE_TOK_SEMI; break;
      case '=': k = TIDE_TOK_ASSIGN; break;
      case '+': k = TIDE_TOK_PLUS; break;
      case '-': k = TIDE_TOK_MINUS; break;
      case '*': k = TIDE_TOK_STAR; break;
      case '/': k = TIDE_TOK_SLASH; break;
      case '%': k = TIDE_TOK_PERCENT; break;
      default:
        if (c >= 0x20 && c < 0x7f)
          st = lex_err(&L, line, col, "unexpected character '%c'", c);
        else
          st = lex_err(&L, line, col, "unexpected character (byte 0x%02x)", (unsigned)c);
        goto fail;
    }
    if (c == '(' || c == '[' || c == '{') {
      if (L.depth == (int)sizeof L.stack) {
        st = lex_err(&L, line, col, "brackets nested too deeply");
        goto fail;
      }
      L.stack[L.depth] = (char)c;
      L.sline[L.depth] = line;
      L.scol[L.depth] = col;
      L.depth++;
    } else if (c == ')' || c == ']' || c == '}') {
      if (L.depth == 0) {
        st = lex_err(&L, line, col, "unmatched '%c'", c);
        goto fail;
      }
      char open = L.stack[L.depth - 1];
      if (closer_of(open) != c) {
        st = lex_err(&L, line, col, "closing '%c' does not match '%c' at line %d column %d", c,
                     open, L.sline[L.depth - 1], L.scol[L.depth - 1]);
        goto fail;
      }
      L.depth--;
    }
    if (k == TIDE_TOK_SLASH && peekc(&L, 1) == '/') {
      if (!push(&L, TIDE_TOK_DSLASH, line, col, L.src + L.pos, 2)) goto oom;
      advance(&L, 2);
      continue;
    }
    if (k == TIDE_TOK_SEMI && last_is_newline_or_empty(&L)) {
      advance(&L, 1);
      continue;
    }
    if (!push(&L, k, line, col, L.src + L.pos, 1)) goto oom;
    advance(&L, 1);
  }
  if (L.depth > 0) {
    st = lex_err(&L, L.sline[L.depth - 1], L.scol[L.depth - 1], "'%c' was never closed",
                 L.stack[L.depth - 1]);
    goto fail;
  }
  if (!last_is_newline_or_empty(&L)) {
    if (!push(&L, TIDE_TOK_NEWLINE, L.line, L.col, L.src + L.pos, 0)) goto oom;
  }
  if (!push(&L, TIDE_TOK_EOF, L.line, L.col, L.src + L.pos, 0)) goto oom;
  return TIDE_OK;
oom:
  st = lex_err(&L, L.line, L.col, "out of memory");
fail:
  tide_script_tokens_free(out);
  return st;
}

void tide_script_tokens_free(tide_script_tokens *t) {
  if (!t) return;
  for (size_t i = 0; i < t->n; i++) tide_free(t->toks[i].str);
  tide_free(t->toks);
  t->toks = NULL;
  t->n = 0;
}
