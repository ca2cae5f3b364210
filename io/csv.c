/*
 * CSV reader and writer (include/tide/io.h).
 *
 * Reading
 * -------
 * The whole input is mapped (mmap, or read() for non-regular files) and
 * parsed in parallel in four steps:
 *
 *  A. The body (after the header) is cut into byte blocks; the quotes of
 *     each block are counted in parallel (SSE2). The prefix parity tells
 *     whether a block starts inside a quoted field, and each block boundary
 *     is moved forward to just after the next newline outside quotes: these
 *     are the ranges, each starting at a record boundary. An odd total quote
 *     count is an unterminated quoted field (reported at the line of the last
 *     quote, which is the one that opened it).
 *  B. The records of each range are counted in parallel, so every range
 *     knows its first output row and the columns can be allocated once.
 *  C. Every range is parsed by one thread straight into the column arrays
 *     at its rows. Types are inferred speculatively per range and column:
 *     the first non-empty value picks the narrowest of bool < int64 <
 *     double < timestamp < string; a later value that does not fit widens
 *     the column (int64 -> double converts the values already parsed in
 *     place; anything else becomes string, and the range's earlier rows of
 *     that column are re-tokenised to recover their text).
 *     String values go to a per-range, per-column string buffer; while a
 *     range has seen at most limit = min(symbol_max_distinct,
 *     symbol_max_ratio * rows) distinct values of the column, a local
 *     dictionary deduplicates them (so symbol codes need no second pass).
 *  D. Per column the range types are joined (int64 + double = double,
 *     otherwise different types = string); ranges that differ are
 *     converted (in parallel). A string column becomes SYMBOL when every
 *     range kept its dictionary and the merged dictionary (ranges merged in
 *     order, so codes are in order of first appearance whatever the thread
 *     count) holds at most `limit` strings; the codes are then remapped in
 *     parallel. Other string columns copy each range's string buffer in one
 *     block (in parallel, into the arenas of per-range holder sources that
 *     the column keeps alive with tide__source_keep) and point into it.
 *     Once one range overflows its dictionary the others stop building
 *     theirs (the column cannot be a symbol any more).
 *
 * Results are identical for any thread count. Explicit types parse straight
 * into the final source; a value that does not parse is an error naming the
 * line and column. Errors found by several ranges: the first in the file is
 * reported. No table is returned on any error.
 *
 * Limits: a double column whose values are all integer-valued infers as
 * int64 if written without a fraction ("5"; tide's own writer writes "5.0");
 * a string column whose values all look like numbers infers as a number
 * (quoting does not change inference); with one column, null rows at the
 * very end are indistinguishable from trailing blank lines and dropped.
 * Writing a column chunk: every value goes through one type switch per
 * chunk; doubles use a fast exact path for short decimals and
 * tide_value_format otherwise (floats always).
 *
 * Dialect: RFC 4180 with a configurable delimiter. A field is quoted with
 * '"'; inside quotes a doubled quote is a literal quote and delimiters and
 * newlines are literal. Quotes are handled leniently anywhere in a field
 * (a '"' in an unquoted field opens a quoted section), which keeps the quote
 * parity rule of step A exact. Lines end with "\n" or "\r\n"; a final
 * newline is optional; a UTF-8 BOM is skipped; blank lines at the end (and
 * before the header) are ignored; blank lines elsewhere are skipped when the
 * file has more than one column (with one column a blank line is a null).
 * An unquoted empty field is null in every type; a quoted empty field ("")
 * is the empty string in string columns and null otherwise, and does not
 * affect inference. Values are not trimmed: " 1" is a string. Numbers:
 * integers [+-]digits that fit int64 (excluding its minimum, the null
 * sentinel); doubles in decimal/exponent notation plus nan, inf, infinity
 * (any case, optional sign). Booleans: true/false in any case (explicit bool
 * columns also accept 1/0). Timestamps: tide_ts_parse.
 * Rejected: a NUL byte anywhere (strings are C strings; such a file is
 * binary or UTF-16), and a CR outside quotes in the first line that does not
 * end a CRLF (CR-only line ends would read as one long header). A CR inside
 * a later unquoted field is kept as data.
 *
 * Column names: the header names, sanitised into identifiers: every
 * character other than [A-Za-z0-9_] becomes '_', a name starting with a
 * digit gets a '_' prefix, an empty name becomes C<n> (its 1-based
 * position), and a name equal to an earlier one gets the first free suffix
 * _2, _3, ... Without a header the names are C1, C2, ... Explicit types may
 * name a column by its header text or its sanitised name.
 *
 * Writing
 * -------
 * A header row, then the rows formatted like tide_value_format (doubles in
 * the shortest form that reads back exactly, timestamps ISO-8601 UTC, bools
 * true/false), nulls as empty fields. Strings are quoted when they contain
 * the delimiter, a quote, CR or LF, start or end with a space or tab, or are
 * empty (an empty string is written "" to tell it from null). Blocks of
 * rows (a chunk; fewer rows for wide tables, so that the workspace stays
 * small; any RowSet, any source kind: read with tide__source_get) are
 * formatted in parallel, a column at a time, then assembled into lines and
 * written in order. tide_write_csv writes PATH.tmp.<pid>, fsyncs and renames
 * it into place; on failure the temporary file is removed.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "io/io_int.h"
#include "core/core_int.h"

/* ================================================================ helpers */

typedef struct cbuf_t {
  char *p;
  size_t n, cap;
} cbuf_t;

static bool cbuf_reserve(cbuf_t *b, size_t extra) {
  if (b->n + extra <= b->cap) return true;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->n + extra) cap *= 2;
  char *p = tide_realloc(b->p, cap);
  if (!p) return false;
  b->p = p;
  b->cap = cap;
  return true;
}

static void cbuf_free(cbuf_t *b) {
  tide_free(b->p);
  b->p = NULL;
  b->n = b->cap = 0;
}

/* 1-based line number of position pos. */
static uint64_t line_of(const char *data, const char *pos) {
  uint64_t line = 1;
  const char *p = data;
  while (p < pos) {
    const char *nl = memchr(p, '\n', (size_t)(pos - p));
    if (!nl) break;
    line++;
    p = nl + 1;
  }
  return line;
}

/* ========================================================= value parsing */

static const double pow10_tab[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static inline bool is_digit(char c) { return (unsigned)(c - '0') < 10u; }

static bool parse_bool(const char *s, size_t len, int8_t *out) {
  if (len == 4 && strncasecmp(s, "true", 4) == 0) {
    *out = 1;
    return true;
  }
  if (len == 5 && strncasecmp(s, "false", 5) == 0) {
    *out = 0;
    return true;
  }
  return false;
}

/* [+-]digits fitting int64, INT64_MIN (the null sentinel) excluded. */
static bool parse_i64(const char *s, size_t len, int64_t *out) {
  size_t i = 0;
  bool neg = false;
  if (i < len && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
  if (i == len) return false;
  uint64_t v = 0;
  for (; i < len; i++) {
    if (!is_digit(s[i])) return false;
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (v > (uint64_t)INT64_MAX) return false;
  *out = neg ? -(int64_t)v : (int64_t)v;
  return true;
}

/* Decimal or exponent notation, or nan/inf/infinity; exact (correctly
 * rounded): a Clinger fast path, else strtod. */
static bool parse_f64(const char *s, size_t len, double *out) {
  size_t i = 0;
  bool neg = false;
  if (i < len && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
  size_t rest = len - i;
  if (rest && !is_digit(s[i]) && s[i] != '.') {
    double v;
    if (rest == 3 && strncasecmp(s + i, "nan", 3) == 0)
      v = NAN;
    else if ((rest == 3 && strncasecmp(s + i, "inf", 3) == 0) ||
             (rest == 8 && strncasecmp(s + i, "infinity", 8) == 0))
      v = INFINITY;
    else
      return false;
    *out = neg ? -v : v;
    return true;
  }
  uint64_t m = 0;
  int sig = 0, exp10 = 0;
  bool exact = true;
  size_t ndig = 0;
  for (; i < len && is_digit(s[i]); i++, ndig++) {
    if (sig < 19) {
      m = m * 10 + (unsigned)(s[i] - '0');
      if (m) sig++;
    } else {
      exact = false;
      exp10++;
    }
  }
  if (i < len && s[i] == '.') {
    i++;
    for (; i < len && is_digit(s[i]); i++, ndig++) {
      if (sig < 19) {
        m = m * 10 + (unsigned)(s[i] - '0');
        if (m) sig++;
        exp10--;
      } else {
        exact = false;
      }
    }
  }
  if (ndig == 0) return false;
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    bool eneg = false;
    if (i < len && (s[i] == '-' || s[i] == '+')) eneg = s[i++] == '-';
    if (i == len) return false;
    int e = 0;
    for (; i < len; i++) {
      if (!is_digit(s[i])) return false;
      if (e < 100000) e = e * 10 + (s[i] - '0');
    }
    exp10 += eneg ? -e : e;
  }
  if (i != len) return false;
  if (exact && m <= (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
    double v = (double)m;
    v = exp10 < 0 ? v / pow10_tab[-exp10] : v * pow10_tab[exp10];
    *out = neg ? -v : v;
    return true;
  }
  char stackbuf[128];
  char *buf = len < sizeof stackbuf ? stackbuf : tide_malloc(len + 1);
  if (!buf) return false;
  memcpy(buf, s, len);
  buf[len] = '\0';
  *out = strtod(buf, NULL);
  if (buf != stackbuf) tide_free(buf);
  return true;
}

static bool parse_f32(const char *s, size_t len, float *out) {
  double d;
  if (!parse_f64(s, len, &d)) return false; /* syntax check */
  if (isnan(d) || isinf(d)) {
    *out = (float)d;
    return true;
  }
  char stackbuf[128];
  char *buf = len < sizeof stackbuf ? stackbuf : tide_malloc(len + 1);
  if (!buf) return false;
  memcpy(buf, s, len);
  buf[len] = '\0';
  *out = strtof(buf, NULL);
  if (buf != stackbuf) tide_free(buf);
  return true;
}

/* ============================================================ tokenising */

/* Per-column parse operations. Inferred columns move along
 * NULL -> {BOOL, I64, F64, TS, STR}, I64 -> F64, any -> STR and use 8-byte
 * slots (BOOL as int64 0/1, STR as an offset into the range's string
 * buffer). Explicit columns are fixed and store the final type. */
enum {
  OP_NULL,
  OP_BOOL,
  OP_I64,
  OP_F64,
  OP_TS,
  OP_STR,
  OP_XBOOL, /* explicit bool: int8 */
  OP_I8,
  OP_I16,
  OP_I32,
  OP_F32
};

#define SLOT_NULL_STR UINT64_MAX

/* Per-range string dictionary (local codes in order of first appearance)
 * over the strings of a range's string buffer: it deduplicates the buffer
 * and gives symbol codes without a second pass. */
typedef struct lent_t {
  uint64_t w0, w1; /* the first 16 bytes, zero padded */
  uint64_t off;    /* offset in the string buffer */
  uint64_t len;
} lent_t;

typedef struct lhash_t {
  uint64_t *slots; /* (hash >> 32) << 32 | (code + 1); 0 = empty */
  uint32_t mask;
  lent_t *ents; /* code -> entry */
  uint32_t n, cap;
  bool off; /* overflowed (more than the limit): no dictionary */
} lhash_t;

static void lhash_free(lhash_t *h) {
  tide_free(h->slots);
  tide_free(h->ents);
  h->slots = NULL;
  h->ents = NULL;
  h->n = h->cap = h->mask = 0;
}

static bool lhash_grow(lhash_t *h) {
  uint32_t nslots = h->mask ? (h->mask + 1) * 2 : 256;
  uint64_t *slots = tide_calloc(nslots, sizeof *slots);
  if (!slots) return false;
  /* rehash from the stored slot words: the index comes from the low hash
   * bits, which are not kept, so probe positions are recomputed from the
   * high bits (both the lookup and this use hi32 * golden >> shift). */
  for (uint32_t i = 0; h->slots && i <= h->mask; i++) {
    uint64_t w = h->slots[i];
    if (!w) continue;
    uint32_t j = (uint32_t)((w >> 32) * 0x9E3779B9u) & (nslots - 1);
    while (slots[j]) j = (j + 1) & (nslots - 1);
    slots[j] = w;
  }
  tide_free(h->slots);
  h->slots = slots;
  h->mask = nslots - 1;
  return true;
}

typedef struct range_t {
  const char *start, *end;
  uint64_t row0, nrows;
  uint8_t *op;     /* per column */
  cbuf_t *sb;      /* per column: [u32 len][u32 code][bytes][NUL] strings */
  lhash_t *dict;   /* per column: dictionary of sb (while within the limit) */
  cbuf_t scratch;  /* unescaped field of the main loop */
  cbuf_t scratch2; /* unescaped field of a re-scan */
  tide_status st;
  const char *errpos;
  char msg[300];
} range_t;

typedef struct csv_ctx_t {
  const char *data; /* whole buffer (for line numbers) */
  const char *name;
  char delim;
  size_t ncols;
  char **names;          /* sanitised */
  void **store;          /* per column: slots (8-byte) or final-width array */
  bool *fixed;           /* explicit type */
  tide_type_t *xtype;    /* explicit type */
  uint8_t *op0;          /* initial op per column */
  uint64_t *dlimit;      /* per column: distinct strings a range may collect
                          * in its dictionary (0: no dictionary) */
  _Atomic uint8_t *dead; /* per column: some range overflowed its dictionary,
                          * so the column will be STRING: others stop too */
} csv_ctx_t;

/* Whether q (< end or == end) is at the end of a field. */
static inline bool at_term(const char *q, const char *end, char delim) {
  if (q == end) return true;
  char c = *q;
  return c == delim || c == '\n' || (c == '\r' && (q + 1 == end || q[1] == '\n'));
}

/* Whether q starts an end of line (or is the end). */
static inline bool at_eol(const char *q, const char *end) {
  return q == end || *q == '\n' || (*q == '\r' && (q + 1 == end || q[1] == '\n'));
}

/* Position just past the end of line at q. */
static inline const char *skip_eol(const char *q, const char *end) {
  if (q == end) return q;
  if (*q == '\r') q++;
  if (q < end && *q == '\n') q++;
  return q;
}

/* Tokenise one field at p: content in *s and *len (pointing into the input, or
 * into scratch when it had quotes), *quoted set if it had quotes. Returns
 * the position of its terminator (delimiter, end of line or end). Returns
 * NULL on OOM. */
static const char *tok_field(const char *p, const char *end, char delim, const char **s,
                             size_t *len, bool *quoted, cbuf_t *scratch) {
  const char *start = p;
  while (p < end) {
    char c = *p;
    if (c == delim || c == '\n') break;
    if (c == '"') goto slow;
    if (c == '\r' && (p + 1 == end || p[1] == '\n')) break;
    p++;
  }
  *s = start;
  *len = (size_t)(p - start);
  *quoted = false;
  return p;
slow:
  scratch->n = 0;
  if (!cbuf_reserve(scratch, (size_t)(p - start) + 64)) return NULL;
  memcpy(scratch->p, start, (size_t)(p - start));
  scratch->n = (size_t)(p - start);
  {
    bool inq = false;
    while (p < end) {
      char c = *p;
      if (inq) {
        if (c == '"') {
          if (p + 1 < end && p[1] == '"') {
            p++;
          } else {
            inq = false;
            p++;
            continue;
          }
        }
      } else {
        if (c == '"') {
          inq = true;
          p++;
          continue;
        }
        if (c == delim || c == '\n' || (c == '\r' && (p + 1 == end || p[1] == '\n'))) break;
      }
      if (scratch->n == scratch->cap && !cbuf_reserve(scratch, 1)) return NULL;
      scratch->p[scratch->n++] = *p;
      p++;
    }
  }
  *s = scratch->p;
  *len = scratch->n;
  *quoted = true;
  return p;
}

#define SB_HDR 8
#define SB_NOCODE UINT32_MAX

static inline uint32_t sb_len(const cbuf_t *b, uint64_t off) {
  uint32_t l;
  memcpy(&l, b->p + off, 4);
  return l;
}

static inline uint32_t sb_code(const cbuf_t *b, uint64_t off) {
  uint32_t l;
  memcpy(&l, b->p + off + 4, 4);
  return l;
}

static inline uint64_t sb_append(cbuf_t *b, const char *s, size_t len, uint32_t code) {
  if (TIDE_UNLIKELY(len > UINT32_MAX - 16)) return SLOT_NULL_STR;
  if (TIDE_UNLIKELY(b->n + len + SB_HDR + 1 > b->cap) && !cbuf_reserve(b, len + SB_HDR + 1))
    return SLOT_NULL_STR;
  uint64_t off = b->n;
  uint32_t l = (uint32_t)len;
  memcpy(b->p + off, &l, 4);
  memcpy(b->p + off + 4, &code, 4);
  memcpy(b->p + off + SB_HDR, s, len);
  b->p[off + SB_HDR + len] = '\0';
  b->n += len + SB_HDR + 1;
  return off;
}

/* ======================================================== per-range parse */

/* Store a string of column c in range r: its offset in the range's string
 * buffer (shared with an equal earlier string while the dictionary is on),
 * or SLOT_NULL_STR on OOM. s[0..lim) is readable. */
static inline __attribute__((always_inline)) uint64_t sb_put(const csv_ctx_t *cx, range_t *r,
                                                             size_t c, const char *s, size_t len,
                                                             const char *lim) {
  cbuf_t *b = &r->sb[c];
  lhash_t *h = &r->dict[c];
  if (h->off || cx->dlimit[c] == 0) return sb_append(b, s, len, SB_NOCODE);
  if (TIDE_UNLIKELY(atomic_load_explicit(&cx->dead[c], memory_order_relaxed))) {
    lhash_free(h);
    h->off = true;
    return sb_append(b, s, len, SB_NOCODE);
  }
  if (TIDE_UNLIKELY(!h->slots) && !lhash_grow(h)) return SLOT_NULL_STR;
  /* the first 16 bytes as two zero-padded words: short strings compare and
   * hash without touching the string buffer */
  uint64_t w0 = 0, w1 = 0;
  if (len <= 16 && lim - s >= 16) {
    memcpy(&w0, s, 8);
    memcpy(&w1, s + 8, 8);
    if (len < 8) {
      w0 &= len ? ~0ULL >> (64 - 8 * len) : 0;
      w1 = 0;
    } else {
      w1 &= len > 8 ? ~0ULL >> (64 - 8 * (len - 8)) : 0;
    }
  } else {
    size_t m = len < 16 ? len : 16;
    for (size_t k = 0; k < m; k++) {
      if (k < 8)
        w0 |= (uint64_t)(uint8_t)s[k] << (8 * k);
      else
        w1 |= (uint64_t)(uint8_t)s[k] << (8 * (k - 8));
    }
  }
  uint64_t hv;
  if (len <= 16) {
    hv = (w0 ^ (len * 0xC2B2AE3D27D4EB4FULL)) * 0x87C37B91114253D5ULL;
    hv ^= (w1 + (hv >> 29)) * 0x4CF5AD432745937FULL;
    hv ^= hv >> 33;
    hv *= 0xFF51AFD7ED558CCDULL;
    hv ^= hv >> 33;
    hv *= 0xC4CEB9FE1A85EC53ULL;
    hv ^= hv >> 33;
  } else {
    hv = tide__hash_bytes(s, len);
  }
  uint64_t hi = hv >> 32 << 32;
  uint32_t i = (uint32_t)((hv >> 32) * 0x9E3779B9u) & h->mask;
  for (;;) {
    uint64_t w = h->slots[i];
    if (w == 0) break;
    if ((w & 0xFFFFFFFF00000000ULL) == hi) {
      const lent_t *e = &h->ents[(uint32_t)w - 1];
      if (e->len == len && e->w0 == w0 && e->w1 == w1 &&
          (len <= 16 || memcmp(b->p + e->off + SB_HDR, s, len) == 0))
        return e->off;
    }
    i = (i + 1) & h->mask;
  }
  if (h->n >= cx->dlimit[c]) {
    /* too many distinct values for a symbol column: plain strings from now */
    lhash_free(h);
    h->off = true;
    atomic_store_explicit(&cx->dead[c], 1, memory_order_relaxed);
    return sb_append(b, s, len, SB_NOCODE);
  }
  if (h->n == h->cap) {
    uint32_t cap = h->cap ? h->cap * 2 : 256;
    lent_t *e = tide_realloc(h->ents, cap * sizeof *e);
    if (!e) return SLOT_NULL_STR;
    h->ents = e;
    h->cap = cap;
  }
  uint64_t off = sb_append(b, s, len, h->n);
  if (off == SLOT_NULL_STR) return off;
  h->ents[h->n] = (lent_t){w0, w1, off, len};
  h->slots[i] = hi | (uint64_t)(h->n + 1);
  h->n++;
  if ((uint64_t)h->n * 2 > (uint64_t)h->mask + 1 && !lhash_grow(h)) return SLOT_NULL_STR;
  return off;
}

static void range_fail(range_t *r, tide_status st, const char *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void range_fail(range_t *r, tide_status st, const char *pos, const char *fmt, ...) {
  if (r->st != TIDE_OK) return;
  r->st = st;
  r->errpos = pos;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->msg, sizeof r->msg, fmt, ap);
  va_end(ap);
}

/* Count the fields of the record starting at rec (for "found N"). */
static size_t count_fields(const csv_ctx_t *cx, const char *rec, const char *end, cbuf_t *scratch) {
  size_t n = 0;
  const char *p = rec;
  for (;;) {
    const char *s;
    size_t len;
    bool q;
    p = tok_field(p, end, cx->delim, &s, &len, &q, scratch);
    if (!p) return n + 1;
    n++;
    if (p < end && *p == cx->delim) {
      p++;
      continue;
    }
    return n;
  }
}

/* Re-tokenise rows [r->row0, upto) of the range and store column c's text
 * as strings (slots become string offsets). */
static bool rescan_strings(const csv_ctx_t *cx, range_t *r, size_t c, uint64_t upto) {
  uint64_t *slots = cx->store[c];
  const char *p = r->start, *end = r->end;
  size_t ncols = cx->ncols;
  for (uint64_t row = r->row0; row < upto; row++) {
    if (ncols > 1) {
      while (p < end && (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')))
        p = skip_eol(p, end);
    }
    for (size_t k = 0; k < ncols; k++) {
      const char *s;
      size_t len;
      bool quoted;
      p = tok_field(p, end, cx->delim, &s, &len, &quoted, &r->scratch2);
      if (!p) return false;
      if (k == c) {
        if (len == 0 && !quoted) {
          slots[row] = SLOT_NULL_STR;
        } else {
          uint64_t off = sb_put(cx, r, c, s, len, s + len);
          if (off == SLOT_NULL_STR) return false;
          slots[row] = off;
        }
      }
      if (k + 1 < ncols) p++; /* the delimiter */
    }
    p = skip_eol(p, end);
  }
  return true;
}

static void fill_slots_null(uint64_t *slots, int op, uint64_t from, uint64_t to) {
  uint64_t v;
  switch (op) {
    case OP_F64: {
      double d = TIDE_NULL_F64;
      memcpy(&v, &d, 8);
      break;
    }
    case OP_STR:
      v = SLOT_NULL_STR;
      break;
    default:
      v = (uint64_t)TIDE_NULL_I64;
      break; /* BOOL, I64, TS */
  }
  for (uint64_t i = from; i < to; i++) slots[i] = v;
}

static void slots_i64_to_f64(uint64_t *slots, uint64_t from, uint64_t to) {
  for (uint64_t i = from; i < to; i++) {
    int64_t x = (int64_t)slots[i];
    double d = x == TIDE_NULL_I64 ? TIDE_NULL_F64 : (double)x;
    memcpy(&slots[i], &d, 8);
  }
}

static const char *op_type_name(int op) {
  switch (op) {
    case OP_BOOL:
    case OP_XBOOL:
      return "bool";
    case OP_I64:
      return "int64";
    case OP_F64:
      return "double";
    case OP_TS:
      return "timestamp";
    case OP_I8:
      return "int8";
    case OP_I16:
      return "int16";
    case OP_I32:
      return "int32";
    case OP_F32:
      return "float";
    default:
      return "string";
  }
}

/* Handle one field value through the general path. Returns false on error
 * (recorded in r). */
static bool put_value(const csv_ctx_t *cx, range_t *r, size_t c, uint64_t row, const char *s,
                      size_t len, bool quoted, const char *fieldpos) {
  int op = r->op[c];
  void *store = cx->store[c];
  uint64_t *slots = store;
  if (len == 0 && !(quoted && op == OP_STR)) {
    switch (op) {
      case OP_NULL:
        return true;
      case OP_BOOL:
      case OP_I64:
      case OP_TS:
        slots[row] = (uint64_t)TIDE_NULL_I64;
        return true;
      case OP_F64: {
        double d = TIDE_NULL_F64;
        memcpy(&slots[row], &d, 8);
        return true;
      }
      case OP_STR:
        slots[row] = SLOT_NULL_STR;
        return true;
      case OP_XBOOL:
        ((int8_t *)store)[row] = TIDE_NULL_BOOL;
        return true;
      case OP_I8:
        ((int8_t *)store)[row] = TIDE_NULL_I8;
        return true;
      case OP_I16:
        ((int16_t *)store)[row] = TIDE_NULL_I16;
        return true;
      case OP_I32:
        ((int32_t *)store)[row] = TIDE_NULL_I32;
        return true;
      case OP_F32:
        ((float *)store)[row] = TIDE_NULL_F32;
        return true;
    }
    return true;
  }
  int8_t b;
  int64_t i;
  double d;
  float f;
  switch (op) {
    case OP_NULL: {
      int nop;
      if (parse_bool(s, len, &b))
        nop = OP_BOOL;
      else if (parse_i64(s, len, &i))
        nop = OP_I64;
      else if (parse_f64(s, len, &d))
        nop = OP_F64;
      else if (tide_ts_parse(s, len, &i))
        nop = OP_TS;
      else
        nop = OP_STR;
      if (nop == OP_STR) {
        /* earlier rows may hold quoted empty strings: recover their text */
        if (!rescan_strings(cx, r, c, row)) {
          range_fail(r, TIDE_ERR_NOMEM, fieldpos, "out of memory");
          return false;
        }
      } else {
        fill_slots_null(slots, nop, r->row0, row);
      }
      r->op[c] = (uint8_t)nop;
      return put_value(cx, r, c, row, s, len, quoted, fieldpos);
    }
    case OP_BOOL:
      if (parse_bool(s, len, &b)) {
        slots[row] = (uint64_t)(int64_t)b;
        return true;
      }
      goto to_string;
    case OP_I64:
      if (parse_i64(s, len, &i)) {
        slots[row] = (uint64_t)i;
        return true;
      }
      if (!cx->fixed[c] && parse_f64(s, len, &d)) {
        slots_i64_to_f64(slots, r->row0, row);
        r->op[c] = OP_F64;
        memcpy(&slots[row], &d, 8);
        return true;
      }
      goto to_string;
    case OP_F64:
      if (parse_f64(s, len, &d)) {
        memcpy(&slots[row], &d, 8);
        return true;
      }
      goto to_string;
    case OP_TS:
      if (tide_ts_parse(s, len, &i)) {
        slots[row] = (uint64_t)i;
        return true;
      }
      goto to_string;
    case OP_STR: {
      uint64_t off = sb_put(cx, r, c, s, len, s + len);
      if (off == SLOT_NULL_STR) {
        range_fail(r, TIDE_ERR_NOMEM, fieldpos, "out of memory");
        return false;
      }
      slots[row] = off;
      return true;
    }
    case OP_XBOOL:
      if (len == 1 && (s[0] == '0' || s[0] == '1')) {
        ((int8_t *)store)[row] = (int8_t)(s[0] - '0');
        return true;
      }
      if (parse_bool(s, len, &b)) {
        ((int8_t *)store)[row] = b;
        return true;
      }
      goto bad;
    case OP_I8:
      if (parse_i64(s, len, &i) && i > INT8_MIN && i <= INT8_MAX) {
        ((int8_t *)store)[row] = (int8_t)i;
        return true;
      }
      goto bad;
    case OP_I16:
      if (parse_i64(s, len, &i) && i > INT16_MIN && i <= INT16_MAX) {
        ((int16_t *)store)[row] = (int16_t)i;
        return true;
      }
      goto bad;
    case OP_I32:
      if (parse_i64(s, len, &i) && i > INT32_MIN && i <= INT32_MAX) {
        ((int32_t *)store)[row] = (int32_t)i;
        return true;
      }
      goto bad;
    case OP_F32:
      if (parse_f32(s, len, &f)) {
        ((float *)store)[row] = f;
        return true;
      }
      goto bad;
  }
  return true;
to_string:
  if (cx->fixed[c]) goto bad;
  if (!rescan_strings(cx, r, c, row)) {
    range_fail(r, TIDE_ERR_NOMEM, fieldpos, "out of memory");
    return false;
  }
  r->op[c] = OP_STR;
  return put_value(cx, r, c, row, s, len, quoted, fieldpos);
bad : {
  int shown = len > 40 ? 40 : (int)len;
  range_fail(r, TIDE_ERR_CSV, fieldpos, "column '%s': cannot parse '%.*s%s' as %s", cx->names[c],
             shown, s, len > 40 ? "..." : "", op_type_name(op));
  return false;
}
}

/* Parse all records of range r into the column stores. */
static void parse_range(const csv_ctx_t *cx, range_t *r) {
  const char *p = r->start, *end = r->end;
  const size_t ncols = cx->ncols;
  const char delim = cx->delim;
  uint64_t row = r->row0;
  const uint64_t rowend = r->row0 + r->nrows;
  uint8_t *ops = r->op;
  while (p < end) {
    if (ncols > 1 && (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))) {
      p = skip_eol(p, end);
      continue;
    }
    if (TIDE_UNLIKELY(row >= rowend)) {
      range_fail(r, TIDE_ERR_CSV, p, "internal error: record count mismatch");
      return;
    }
    const char *rec = p;
    for (size_t c = 0; c < ncols; c++) {
      const char *fstart = p;
      switch (ops[c]) {
        case OP_I64:
        case OP_I32:
        case OP_I16:
        case OP_I8: {
          const char *q = p;
          bool neg = false;
          if (q < end && (*q == '-' || *q == '+')) neg = *q++ == '-';
          const char *d0 = q;
          uint64_t v = 0;
          while (q < end && is_digit(*q) && q - d0 < 18) v = v * 10 + (unsigned)(*q++ - '0');
          if (q > d0 && at_term(q, end, delim)) {
            int64_t x = neg ? -(int64_t)v : (int64_t)v;
            switch (ops[c]) {
              case OP_I64:
                ((int64_t *)cx->store[c])[row] = x;
                p = q;
                goto next_field;
              case OP_I32:
                if (x > INT32_MIN && x <= INT32_MAX) {
                  ((int32_t *)cx->store[c])[row] = (int32_t)x;
                  p = q;
                  goto next_field;
                }
                break;
              case OP_I16:
                if (x > INT16_MIN && x <= INT16_MAX) {
                  ((int16_t *)cx->store[c])[row] = (int16_t)x;
                  p = q;
                  goto next_field;
                }
                break;
              default:
                if (x > INT8_MIN && x <= INT8_MAX) {
                  ((int8_t *)cx->store[c])[row] = (int8_t)x;
                  p = q;
                  goto next_field;
                }
                break;
            }
          }
          break;
        }
        case OP_F64: {
          const char *q = p;
          bool neg = false;
          if (q < end && (*q == '-' || *q == '+')) neg = *q++ == '-';
          const char *d0 = q;
          uint64_t m = 0;
          int exp10 = 0;
          while (q < end && is_digit(*q)) m = m * 10 + (unsigned)(*q++ - '0');
          size_t nd = (size_t)(q - d0);
          if (q < end && *q == '.') {
            const char *f0 = ++q;
            while (q < end && is_digit(*q)) m = m * 10 + (unsigned)(*q++ - '0');
            exp10 = -(int)(q - f0);
            nd += (size_t)(q - f0);
          }
          if (nd > 0 && nd <= 19 && m <= (1ULL << 53) && exp10 >= -22 && at_term(q, end, delim)) {
            double v = exp10 < 0 ? (double)m / pow10_tab[-exp10] : (double)m;
            ((double *)cx->store[c])[row] = neg ? -v : v;
            p = q;
            goto next_field;
          }
          break;
        }
        case OP_STR: {
          const char *q = p;
          while (q < end) {
            char ch = *q;
            if (ch == delim || ch == '\n' || ch == '"' || ch == '\r') break;
            q++;
          }
          if (q == end || *q == delim || *q == '\n') {
            size_t len = (size_t)(q - p);
            uint64_t *slots = cx->store[c];
            if (len == 0) {
              slots[row] = SLOT_NULL_STR;
            } else {
              uint64_t off = sb_put(cx, r, c, p, len, end);
              if (off == SLOT_NULL_STR) {
                range_fail(r, TIDE_ERR_NOMEM, p, "out of memory");
                return;
              }
              slots[row] = off;
            }
            p = q;
            goto next_field;
          }
          break;
        }
        default:
          break;
      }
      /* General path: tokenise, then parse by the column's state. */
      {
        const char *s;
        size_t len;
        bool quoted;
        p = tok_field(fstart, end, delim, &s, &len, &quoted, &r->scratch);
        if (!p) {
          range_fail(r, TIDE_ERR_NOMEM, fstart, "out of memory");
          return;
        }
        if (!put_value(cx, r, c, row, s, len, quoted, fstart)) return;
      }
    next_field:
      if (c + 1 < ncols) {
        if (TIDE_UNLIKELY(p == end || *p != delim)) {
          range_fail(r, TIDE_ERR_CSV, rec, "expected %zu fields, found %zu", ncols, c + 1);
          return;
        }
        p++;
      } else {
        if (TIDE_UNLIKELY(p < end && *p == delim)) {
          range_fail(r, TIDE_ERR_CSV, rec, "expected %zu fields, found %zu", ncols,
                     count_fields(cx, rec, end, &r->scratch2));
          return;
        }
        p = skip_eol(p, end);
      }
    }
    row++;
  }
  if (row != rowend) range_fail(r, TIDE_ERR_CSV, end, "internal error: record count mismatch");
}

/* ================================================== splitting and counting */

static uint64_t count_quotes(const char *p, const char *end) {
  uint64_t n = 0;
#ifdef __SSE2__
  const __m128i q = _mm_set1_epi8('"');
  const __m128i zero = _mm_setzero_si128();
  while (end - p >= 16) {
    /* per-byte counters (cmpeq gives -1), summed every 255 blocks */
    __m128i acc = zero;
    int k = 0;
    for (; k < 255 && end - p >= 16; k++, p += 16)
      acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)p), q));
    __m128i sad = _mm_sad_epu8(acc, zero);
    n += (uint64_t)_mm_cvtsi128_si32(sad) + (uint64_t)_mm_extract_epi16(sad, 4);
  }
#endif
  for (; p < end; p++) n += *p == '"';
  return n;
}

/* Position after the first newline outside quotes at or after p, given the
 * quote state at p; end if none. */
static const char *find_split(const char *p, const char *end, bool inq) {
  for (; p < end; p++) {
    char c = *p;
    if (c == '"')
      inq = !inq;
    else if (c == '\n' && !inq)
      return p + 1;
  }
  return end;
}

/* Records of a range (which starts at a record boundary outside quotes):
 * newlines outside quotes, minus blank records when skip_blank; plus one
 * for the final record when the range ends at the end of the input (that
 * record has no newline; with a long last record it is not the last range:
 * the ranges after it are empty). */
static uint64_t count_records(const char *start, const char *end, bool last, bool skip_blank) {
  uint64_t n = 0, blank = 0;
  const char *p = start;
  const char *rs = start; /* record start */
  bool inq = false;
#ifdef __SSE2__
  const __m128i vq = _mm_set1_epi8('"');
  const __m128i vn = _mm_set1_epi8('\n');
  while (end - p >= 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    unsigned qm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vq));
    unsigned nm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vn));
    if (!inq && qm == 0) {
      while (nm) {
        const char *nl = p + __builtin_ctz(nm);
        nm &= nm - 1;
        if (nl == rs || (nl == rs + 1 && *rs == '\r')) blank++;
        rs = nl + 1;
        n++;
      }
    } else if (nm == 0) {
      inq ^= __builtin_parity(qm) != 0;
    } else {
      for (int k = 0; k < 16; k++) {
        char c = p[k];
        if (c == '"') {
          inq = !inq;
        } else if (c == '\n' && !inq) {
          const char *nl = p + k;
          if (nl == rs || (nl == rs + 1 && *rs == '\r')) blank++;
          rs = nl + 1;
          n++;
        }
      }
    }
    p += 16;
  }
#endif
  for (; p < end; p++) {
    char c = *p;
    if (c == '"') {
      inq = !inq;
    } else if (c == '\n' && !inq) {
      if (p == rs || (p == rs + 1 && *rs == '\r')) blank++;
      rs = p + 1;
      n++;
    }
  }
  if (last && rs < end) n++; /* final record without newline (never blank) */
  return skip_blank ? n - blank : n;
}

/* ===================================================== column finishing */

typedef struct csv_state_t {
  csv_ctx_t cx;
  range_t *ranges;
  size_t nranges;
  int nthreads;
  uint64_t nrows;
  tide_source_t **src; /* per column: source owning store (or NULL: temp) */
  tide_source_t **out; /* per column: final source */
  const tide_csv_options_t *opt;
} csv_state_t;

/* Symbol or string source for a column whose ranges are all OP_STR. A
 * symbol column when wanted and every range kept its dictionary within the
 * limit: the range dictionaries are merged in range order (codes in order of
 * first appearance whatever the split) and the codes remapped. */
static tide_status finish_text(csv_state_t *S, size_t c, bool want_sym, bool force_sym,
                               tide_error *err) {
  csv_ctx_t *cx = &S->cx;
  const uint64_t nrows = S->nrows;
  const size_t nr = S->nranges;
  const uint64_t *slots = cx->store[c];
  bool sym_ok = want_sym && cx->dlimit[c] > 0;
  for (size_t k = 0; sym_ok && k < nr; k++) sym_ok = !S->ranges[k].dict[c].off;
  if (sym_ok) {
    tide_source_t *sym = tide_source_flat_create(TIDE_SYMBOL, nrows, err);
    if (!sym) return err ? err->status : TIDE_ERR_NOMEM;
    int32_t *codes = tide_source_flat_data(sym);
    tide_symtab_t *st = tide_source_symtab(sym);
    int32_t **maps = tide_calloc(nr, sizeof *maps);
    bool oom = maps == NULL;
    for (size_t k = 0; !oom && sym_ok && k < nr; k++) {
      range_t *r = &S->ranges[k];
      lhash_t *h = &r->dict[c];
      maps[k] = tide_malloc((h->n ? h->n : 1) * sizeof **maps);
      if (!maps[k]) {
        oom = true;
        break;
      }
      for (uint32_t j = 0; j < h->n; j++) {
        uint64_t off = h->ents[j].off;
        int32_t g = tide_symtab_intern(st, r->sb[c].p + off + SB_HDR, sb_len(&r->sb[c], off));
        if (g < 0) {
          oom = true;
          break;
        }
        maps[k][j] = g;
      }
      if (!force_sym && tide_symtab_size(st) > cx->dlimit[c]) sym_ok = false;
    }
    if (!oom && sym_ok) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(S->nthreads) if (nr > 1)
      for (size_t k = 0; k < nr; k++) {
        range_t *r = &S->ranges[k];
        const int32_t *map = maps[k];
        const cbuf_t *sb = &r->sb[c];
        for (uint64_t row = r->row0; row < r->row0 + r->nrows; row++) {
          uint64_t off = slots[row];
          codes[row] = off == SLOT_NULL_STR ? TIDE_NULL_SYMBOL : map[sb_code(sb, off)];
        }
      }
    }
    if (maps)
      for (size_t k = 0; k < nr; k++) tide_free(maps[k]);
    tide_free(maps);
    if (oom) {
      tide_source_release(sym);
      return tide_error_set(err, TIDE_ERR_NOMEM, "read_csv: out of memory building symbols");
    }
    if (sym_ok) {
      S->out[c] = sym;
      return TIDE_OK;
    }
    tide_source_release(sym);
  }
  tide_source_t *str = tide_source_flat_create(TIDE_STRING, nrows, err);
  if (!str) return err ? err->status : TIDE_ERR_NOMEM;
  const char **ptrs = tide_source_flat_data(str);
  tide_source_t **holders = nr > 1 ? tide_calloc(nr, sizeof *holders) : NULL;
  if (nr > 1 && !holders) goto oom;
  /* Each range's string buffer is copied in one block: with one range into
   * the column's own arena; with several, in parallel into the arenas of
   * per-range holder sources that the column keeps alive. */
  for (size_t k = 0; k < nr && holders; k++) {
    holders[k] = tide_source_flat_create(TIDE_STRING, 0, NULL);
    if (!holders[k] || tide__source_keep(str, holders[k]) != TIDE_OK) goto oom;
  }
  bool failed = false;
#pragma omp parallel for schedule(dynamic, 1) num_threads(S->nthreads) if (nr > 1)
  for (size_t k = 0; k < nr; k++) {
    range_t *r = &S->ranges[k];
    cbuf_t *sb = &r->sb[c];
    lhash_free(&r->dict[c]);
    if (sb->n == 0) continue;
    const char *base = tide_source_flat_store_string(holders ? holders[k] : str, sb->p, sb->n);
    cbuf_free(sb);
    if (!base) {
#pragma omp atomic write
      failed = true;
      continue;
    }
    for (uint64_t row = r->row0; row < r->row0 + r->nrows; row++) {
      uint64_t off = slots[row];
      ptrs[row] = off == SLOT_NULL_STR ? NULL : base + off + SB_HDR;
    }
  }
  if (failed) goto oom;
  if (holders)
    for (size_t k = 0; k < nr; k++) tide_source_release(holders[k]);
  tide_free(holders);
  S->out[c] = str;
  return TIDE_OK;
oom:
  if (holders)
    for (size_t k = 0; k < nr; k++) tide_source_release(holders[k]);
  tide_free(holders);
  tide_source_release(str);
  return tide_error_set(err, TIDE_ERR_NOMEM, "read_csv: out of memory storing strings");
}

static tide_type_t op_to_type(int op) {
  switch (op) {
    case OP_BOOL:
      return TIDE_BOOL;
    case OP_I64:
      return TIDE_I64;
    case OP_F64:
      return TIDE_F64;
    case OP_TS:
      return TIDE_TS;
    default:
      return TIDE_STRING;
  }
}

static tide_status finish_column_impl(csv_state_t *S, size_t c, tide_error *err);

/* Finish column c, then drop its parse storage (keeps peak memory down). */
static tide_status finish_column(csv_state_t *S, size_t c, tide_error *err) {
  tide_status st = finish_column_impl(S, c, err);
  if (S->src[c]) {
    tide_source_release(S->src[c]);
    S->src[c] = NULL;
  } else if (S->out[c] == NULL || !S->cx.store[c] || !tide__source_is_flat(S->out[c]) ||
             tide_source_flat_data(S->out[c]) != S->cx.store[c]) {
    tide_free(S->cx.store[c]);
  }
  S->cx.store[c] = NULL;
  return st;
}

/* Join the range types, convert, build the final source. */
static tide_status finish_column_impl(csv_state_t *S, size_t c, tide_error *err) {
  csv_ctx_t *cx = &S->cx;
  const size_t nr = S->nranges;
  if (cx->fixed[c] && cx->xtype[c] != TIDE_STRING && cx->xtype[c] != TIDE_SYMBOL) {
    S->out[c] = S->src[c]; /* parsed straight into the final source */
    S->src[c] = NULL;
    return TIDE_OK;
  }
  int J = OP_NULL;
  bool all_empty = false;
  if (cx->fixed[c]) {
    J = OP_STR;
  } else {
    for (size_t k = 0; k < nr; k++) {
      int o = S->ranges[k].op[c];
      if (o == OP_NULL || o == J) continue;
      if (J == OP_NULL)
        J = o;
      else if ((J == OP_I64 && o == OP_F64) || (J == OP_F64 && o == OP_I64))
        J = OP_F64;
      else
        J = OP_STR;
    }
    if (J == OP_NULL) {
      J = OP_STR; /* only empty fields: string (quoted "" kept), never symbol */
      all_empty = true;
    }
  }
  bool oom = false;
#pragma omp parallel for schedule(dynamic, 1) num_threads(S->nthreads) if (nr > 1)
  for (size_t k = 0; k < nr; k++) {
    range_t *r = &S->ranges[k];
    int o = r->op[c];
    if (o == J) continue;
    uint64_t *slots = cx->store[c];
    if (J == OP_STR) {
      if (!rescan_strings(cx, r, c, r->row0 + r->nrows)) {
#pragma omp atomic write
        oom = true;
      }
    } else if (o == OP_NULL) {
      fill_slots_null(slots, J, r->row0, r->row0 + r->nrows);
    } else { /* I64 -> F64 */
      slots_i64_to_f64(slots, r->row0, r->row0 + r->nrows);
    }
    r->op[c] = (uint8_t)J;
  }
  if (oom) return tide_error_set(err, TIDE_ERR_NOMEM, "read_csv: out of memory");
  tide_type_t T = op_to_type(J);
  tide_status st = TIDE_OK;
  if (J == OP_STR) {
    bool force = cx->fixed[c] && cx->xtype[c] == TIDE_SYMBOL;
    bool want = force || (!cx->fixed[c] && !all_empty && S->opt->symbol_max_distinct > 0 &&
                          S->ranges && S->nrows > 0);
    st = finish_text(S, c, want, force, err);
  } else if (S->src[c] && tide_source_type(S->src[c]) == T) {
    S->out[c] = S->src[c];
    S->src[c] = NULL;
  } else {
    tide_source_t *dst = tide_source_flat_create(T, S->nrows, err);
    if (!dst) return err ? err->status : TIDE_ERR_NOMEM;
    void *ddata = tide_source_flat_data(dst);
    const uint64_t *slots = cx->store[c];
#pragma omp parallel for schedule(dynamic, 1) num_threads(S->nthreads) if (nr > 1)
    for (size_t k = 0; k < nr; k++) {
      range_t *r = &S->ranges[k];
      if (T == TIDE_BOOL) {
        int8_t *b = ddata;
        for (uint64_t row = r->row0; row < r->row0 + r->nrows; row++)
          b[row] = (int64_t)slots[row] == TIDE_NULL_I64 ? TIDE_NULL_BOOL : (int8_t)slots[row];
      } else {
        memcpy((uint64_t *)ddata + r->row0, slots + r->row0, r->nrows * 8);
      }
    }
    S->out[c] = dst;
  }
  return st;
}

/* ============================================================ read driver */

void tide_csv_options_init(tide_csv_options_t *opt) {
  memset(opt, 0, sizeof *opt);
  opt->has_header = true;
  opt->delimiter = ',';
  opt->symbol_max_distinct = 65536;
  opt->symbol_max_ratio = 0.5;
  opt->nthreads = 0;
}

/* Sanitised, unique identifiers from raw header names. */
/* Name set for make_names: open addressing over borrowed strings. */
typedef struct nset_t {
  const char **key;
  uint8_t *flag; /* NS_ANY: some column's sanitised name; NS_TAKEN: assigned */
  uint32_t *next; /* next suffix to try for a duplicated base name */
  size_t mask;
} nset_t;
enum { NS_ANY = 1, NS_TAKEN = 2 };

/* Slot of s (existing, or the empty one where it would go). */
static size_t nset_slot(const nset_t *h, const char *s) {
  size_t i = (size_t)tide__hash_bytes(s, strlen(s)) & h->mask;
  while (h->key[i] && strcmp(h->key[i], s) != 0) i = (i + 1) & h->mask;
  return i;
}

/* Sanitised header name of column i (0-based): see the file comment. */
static char *sanitise_name(const char *r, size_t i) {
  size_t len = strlen(r);
  if (len == 0) {
    char tmp[32];
    snprintf(tmp, sizeof tmp, "C%zu", i + 1);
    return tide_strdup(tmp);
  }
  bool lead = is_digit(r[0]);
  char *s = tide_malloc(len + 2);
  if (!s) return NULL;
  size_t k = 0;
  if (lead) s[k++] = '_';
  for (size_t j = 0; j < len; j++) {
    char ch = r[j];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || is_digit(ch) || ch == '_';
    s[k++] = ok ? ch : '_';
  }
  s[k] = '\0';
  return s;
}

/* Column names (linear time: a file may have a million columns). A name
 * equal to an earlier one gets the first suffix _2, _3, ... that is neither
 * assigned already nor the sanitised name of any column. */
static char **make_names(char **raw, size_t n) {
  char **out = tide_calloc(n ? n : 1, sizeof *out);
  char **san = tide_calloc(n ? n : 1, sizeof *san);
  nset_t h = {0};
  size_t nslots = 16;
  while (nslots < 4 * n) nslots *= 2;
  h.mask = nslots - 1;
  h.key = tide_calloc(nslots, sizeof *h.key);
  h.flag = tide_calloc(nslots, sizeof *h.flag);
  h.next = tide_calloc(nslots, sizeof *h.next);
  if (!out || !san || !h.key || !h.flag || !h.next) goto oom;
  for (size_t i = 0; i < n; i++) {
    san[i] = sanitise_name(raw ? raw[i] : "", i);
    if (!san[i]) goto oom;
    size_t j = nset_slot(&h, san[i]);
    h.key[j] = san[i];
    h.flag[j] |= NS_ANY;
  }
  for (size_t i = 0; i < n; i++) {
    size_t j = nset_slot(&h, san[i]);
    if (!(h.flag[j] & NS_TAKEN)) {
      h.flag[j] |= NS_TAKEN;
      out[i] = san[i];
      san[i] = NULL;
      continue;
    }
    size_t base = strlen(san[i]);
    char *t = tide_malloc(base + 24);
    if (!t) goto oom;
    uint32_t k = h.next[j] ? h.next[j] : 2;
    size_t tj;
    for (;; k++) {
      snprintf(t, base + 24, "%s_%" PRIu32, san[i], k);
      tj = nset_slot(&h, t);
      if (!h.key[tj]) break; /* neither assigned nor any column's name */
    }
    h.next[j] = k + 1;
    h.key[tj] = t; /* at most n names are added: the table stays at most half full */
    h.flag[tj] = NS_TAKEN;
    out[i] = t;
  }
  for (size_t i = 0; i < n; i++) tide_free(san[i]);
  tide_free(san);
  tide_free(h.key);
  tide_free(h.flag);
  tide_free(h.next);
  return out;
oom:
  for (size_t i = 0; out && san && i < n; i++) {
    tide_free(out[i]);
    tide_free(san[i]);
  }
  tide_free(out);
  tide_free(san);
  tide_free(h.key);
  tide_free(h.flag);
  tide_free(h.next);
  return NULL;
}

static void free_strv(char **v, size_t n) {
  if (!v) return;
  for (size_t i = 0; i < n; i++) tide_free(v[i]);
  tide_free(v);
}

static tide_table_t *csv_parse(const char *data, size_t len, const char *name,
                               const tide_csv_options_t *opt_in, tide_error *err) {
  tide_csv_options_t defopt;
  if (!opt_in) {
    tide_csv_options_init(&defopt);
    opt_in = &defopt;
  }
  const tide_csv_options_t *opt = opt_in;
  const char delim = opt->delimiter ? opt->delimiter : ',';
  if (delim == '"' || delim == '\n' || delim == '\r') {
    tide_error_set(err, TIDE_ERR_INVALID, "read_csv: %s: invalid delimiter", name);
    return NULL;
  }
  tide_table_t *result = NULL;
  csv_state_t S;
  memset(&S, 0, sizeof S);
  S.opt = opt;
  csv_ctx_t *cx = &S.cx;
  cx->data = data;
  cx->name = name;
  cx->delim = delim;
  char **raw = NULL;
  size_t nraw = 0;
  cbuf_t scratch = {0};

  const char *p = data, *end = data + len;
  if (len >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
      (unsigned char)p[2] == 0xBF)
    p += 3;
  int nthreads = opt->nthreads > 0 ? opt->nthreads : tide_get_threads();
  if (opt->nthreads <= 0) {
    /* Default: one thread per 1 MiB of input at most; small buffers (a
     * streaming ingest batch) cost tens of ms in thread start-up and
     * per-thread setup otherwise. */
    size_t cap = (size_t)(end - p) / ((size_t)1 << 20) + 1;
    if ((size_t)nthreads > cap) nthreads = (int)cap;
  }
  if (nthreads < 1) nthreads = 1;

  /* Unterminated quote check over the whole input (parallel count). */
  {
    size_t total = (size_t)(end - p);
    size_t nb = nthreads > 1 ? (size_t)nthreads * 4 : 1;
    if (total / nb < (1u << 16)) nb = total / (1u << 16) ? total / (1u << 16) : 1;
    uint64_t q = 0;
    size_t nulpos = SIZE_MAX; /* first NUL byte (strings would be cut there) */
#pragma omp parallel for reduction(+ : q) reduction(min : nulpos) num_threads(nthreads) if (nb > 1)
    for (size_t k = 0; k < nb; k++) {
      const char *b0 = p + total / nb * k, *b1 = k + 1 == nb ? end : p + total / nb * (k + 1);
      q += count_quotes(b0, b1);
      const char *z = memchr(b0, '\0', (size_t)(b1 - b0));
      if (z && (size_t)(z - p) < nulpos) nulpos = (size_t)(z - p);
    }
    if (nulpos != SIZE_MAX) {
      tide_error_set(err, TIDE_ERR_CSV,
                     "read_csv: %s:%" PRIu64 ": NUL byte in the input (not a text CSV file?)", name,
                     line_of(data, p + nulpos));
      return NULL;
    }
    if (q & 1) {
      const char *lq = end;
      while (lq > p && *--lq != '"') {
      }
      tide_error_set(err, TIDE_ERR_CSV, "read_csv: %s:%" PRIu64 ": unterminated quoted field", name,
                     line_of(data, lq));
      return NULL;
    }
  }
  /* Trailing blank lines, leading blank lines. */
  while (end > p && (end[-1] == '\n' || end[-1] == '\r')) end--;
  while (p < end && (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')))
    p = skip_eol(p, end);
  if (p == end) {
    tide_error_set(err, TIDE_ERR_CSV, "read_csv: %s: empty file", name);
    return NULL;
  }

  /* First record: the header (or the column count). */
  const char *body = p;
  {
    size_t cap = 0;
    for (;;) {
      const char *s;
      size_t flen;
      bool quoted;
      p = tok_field(p, end, delim, &s, &flen, &quoted, &scratch);
      if (!p) goto oom;
      if (nraw == cap) {
        cap = cap ? cap * 2 : 16;
        char **nr = tide_realloc(raw, cap * sizeof *nr);
        if (!nr) goto oom;
        raw = nr;
      }
      raw[nraw] = tide_strndup(s, flen);
      if (!raw[nraw]) goto oom;
      nraw++;
      if (p < end && *p == delim) {
        p++;
        continue;
      }
      break;
    }
    /* A CR outside quotes that ends no CRLF: old Mac line ends, which would
     * read as one huge header line. */
    bool inq = false;
    for (const char *h = body; h < p; h++) {
      if (*h == '"') inq = !inq;
      if (*h == '\r' && !inq && !(h + 1 < end && h[1] == '\n') && h + 1 != end) {
        tide_error_set(err, TIDE_ERR_CSV,
                       "read_csv: %s:1: bare CR in the first line (CR-only line ends are not "
                       "supported; use LF or CRLF)", name);
        goto fail;
      }
    }
    p = skip_eol(p, end);
    if (opt->has_header) body = p;
  }
  cx->ncols = nraw;
  const size_t ncols = nraw;
  cx->names = make_names(opt->has_header ? raw : NULL, ncols);
  if (!cx->names) goto oom;
  cx->store = tide_calloc(ncols, sizeof *cx->store);
  cx->fixed = tide_calloc(ncols, sizeof *cx->fixed);
  cx->xtype = tide_calloc(ncols, sizeof *cx->xtype);
  cx->op0 = tide_calloc(ncols, sizeof *cx->op0);
  cx->dlimit = tide_calloc(ncols, sizeof *cx->dlimit);
  cx->dead = tide_calloc(ncols, sizeof *cx->dead);
  S.src = tide_calloc(ncols, sizeof *S.src);
  S.out = tide_calloc(ncols, sizeof *S.out);
  if (!cx->store || !cx->fixed || !cx->xtype || !cx->op0 || !cx->dlimit || !cx->dead || !S.src ||
      !S.out)
    goto oom;

  /* Explicit types. */
  for (size_t i = 0; i < opt->ntypes; i++) {
    const char *tn = opt->type_names ? opt->type_names[i] : NULL;
    tide_type_t ty = opt->types ? opt->types[i] : TIDE_TYPE_COUNT;
    if (!tn || (unsigned)ty >= TIDE_TYPE_COUNT) {
      tide_error_set(err, TIDE_ERR_INVALID, "read_csv: %s: invalid explicit type #%zu", name, i);
      goto fail;
    }
    size_t c = 0;
    for (; c < ncols; c++)
      if ((opt->has_header && strcmp(raw[c], tn) == 0) || strcmp(cx->names[c], tn) == 0) break;
    if (c == ncols) {
      char cols[256];
      size_t o = 0;
      cols[0] = '\0';
      for (size_t k = 0; k < ncols && o < sizeof cols - 8; k++)
        o += (size_t)snprintf(cols + o, sizeof cols - o, "%s%s", k ? ", " : "", cx->names[k]);
      tide_error_set(err, TIDE_ERR_NOT_FOUND,
                     "read_csv: %s: no column '%s' for an explicit type (columns: %s)", name, tn,
                     cols);
      goto fail;
    }
    cx->fixed[c] = true;
    cx->xtype[c] = ty;
  }

  /* Ranges: A (split at record boundaries) and B (count records). */
  const char *bend = end;
  size_t blen = (size_t)(bend - body);
  size_t nr = 1;
  if (nthreads > 1) {
    nr = (size_t)nthreads * 4;
    size_t minr = 1u << 16;
    if (blen / nr < minr) nr = blen / minr ? blen / minr : 1;
  }
  S.nranges = nr;
  S.nthreads = nthreads;
  S.ranges = tide_calloc(nr, sizeof *S.ranges);
  if (!S.ranges) goto oom;
  {
    uint64_t *qc = tide_calloc(nr, sizeof *qc);
    if (!qc) goto oom;
#pragma omp parallel for num_threads(nthreads) if (nr > 1)
    for (size_t k = 0; k < nr; k++) {
      const char *b0 = body + blen / nr * k;
      const char *b1 = k + 1 == nr ? bend : body + blen / nr * (k + 1);
      qc[k] = count_quotes(b0, b1);
    }
    /* qc[k] becomes the quote parity at block k's start. */
    uint64_t acc = 0;
    for (size_t k = 0; k < nr; k++) {
      uint64_t n = qc[k];
      qc[k] = acc & 1;
      acc += n;
    }
    const char **splits = tide_malloc((nr + 1) * sizeof *splits);
    if (!splits) {
      tide_free(qc);
      goto oom;
    }
    splits[0] = body;
    splits[nr] = bend;
#pragma omp parallel for num_threads(nthreads) if (nr > 1)
    for (size_t k = 1; k < nr; k++) splits[k] = find_split(body + blen / nr * k, bend, qc[k] != 0);
    for (size_t k = 1; k <= nr; k++)
      if (splits[k] < splits[k - 1]) splits[k] = splits[k - 1];
    for (size_t k = 0; k < nr; k++) {
      S.ranges[k].start = splits[k];
      S.ranges[k].end = splits[k + 1];
    }
    tide_free(splits);
    tide_free(qc);
  }
#pragma omp parallel for num_threads(nthreads) if (nr > 1)
  for (size_t k = 0; k < nr; k++)
    S.ranges[k].nrows =
        count_records(S.ranges[k].start, S.ranges[k].end, S.ranges[k].end == bend, ncols > 1);
  for (size_t k = 0; k < nr; k++) {
    S.ranges[k].row0 = S.nrows;
    S.nrows += S.ranges[k].nrows;
  }
  const uint64_t nrows = S.nrows;

  /* Column storage: explicit fixed-width types parse into their final
   * source; inferred columns guess from the first data record (an int64,
   * double or timestamp guess parses into a source of that type). */
  {
    const char *q = body;
    while (ncols > 1 && q < end && (*q == '\n' || (*q == '\r' && q + 1 < end && q[1] == '\n')))
      q = skip_eol(q, end);
    for (size_t c = 0; c < ncols; c++) {
      int op = OP_NULL;
      tide_type_t guess = TIDE_TYPE_COUNT;
      if (cx->fixed[c]) {
        switch (cx->xtype[c]) {
          case TIDE_BOOL:
            op = OP_XBOOL;
            break;
          case TIDE_I8:
            op = OP_I8;
            break;
          case TIDE_I16:
            op = OP_I16;
            break;
          case TIDE_I32:
            op = OP_I32;
            break;
          case TIDE_I64:
            op = OP_I64;
            break;
          case TIDE_F32:
            op = OP_F32;
            break;
          case TIDE_F64:
            op = OP_F64;
            break;
          case TIDE_TS:
            op = OP_TS;
            break;
          default:
            op = OP_STR;
            break;
        }
        if (op != OP_STR) guess = cx->xtype[c];
      } else if (q < end) {
        const char *s;
        size_t flen;
        bool quoted;
        const char *q2 = tok_field(q, end, delim, &s, &flen, &quoted, &scratch);
        if (!q2) goto oom;
        int8_t b;
        int64_t iv;
        double dv;
        if (flen == 0 || parse_bool(s, flen, &b))
          guess = TIDE_TYPE_COUNT;
        else if (parse_i64(s, flen, &iv))
          guess = TIDE_I64;
        else if (parse_f64(s, flen, &dv))
          guess = TIDE_F64;
        else if (tide_ts_parse(s, flen, &iv))
          guess = TIDE_TS;
        q = q2 < end && *q2 == delim ? q2 + 1 : end;
      }
      cx->op0[c] = (uint8_t)op;
      if (cx->fixed[c]) {
        cx->dlimit[c] = cx->xtype[c] == TIDE_SYMBOL ? (uint64_t)INT32_MAX : 0;
      } else if (opt->symbol_max_distinct > 0) {
        double byratio = floor(opt->symbol_max_ratio * (double)nrows);
        uint64_t lim = opt->symbol_max_distinct;
        if (byratio < (double)lim) lim = byratio < 0 ? 0 : (uint64_t)byratio;
        cx->dlimit[c] = lim > (uint64_t)INT32_MAX ? (uint64_t)INT32_MAX : lim;
      }
      if (guess != TIDE_TYPE_COUNT) {
        S.src[c] = tide_source_flat_create(guess, nrows, err);
        if (!S.src[c]) goto fail;
        cx->store[c] = tide_source_flat_data(S.src[c]);
      } else {
        cx->store[c] = tide_malloc(nrows ? nrows * 8 : 8);
        if (!cx->store[c]) goto oom;
      }
    }
  }
  for (size_t k = 0; k < nr; k++) {
    S.ranges[k].op = tide_malloc(ncols);
    S.ranges[k].sb = tide_calloc(ncols, sizeof(cbuf_t));
    S.ranges[k].dict = tide_calloc(ncols, sizeof(lhash_t));
    if (!S.ranges[k].op || !S.ranges[k].sb || !S.ranges[k].dict) goto oom;
    memcpy(S.ranges[k].op, cx->op0, ncols);
  }

  /* C: parse. */
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads) if (nr > 1)
  for (size_t k = 0; k < nr; k++) parse_range(cx, &S.ranges[k]);
  for (size_t k = 0; k < nr; k++) {
    range_t *r = &S.ranges[k];
    if (r->st == TIDE_OK) continue;
    if (r->st == TIDE_ERR_NOMEM) goto oom;
    tide_error_set(err, r->st, "read_csv: %s:%" PRIu64 ": %s", name, line_of(data, r->errpos),
                   r->msg);
    goto fail;
  }

  /* D: finish the columns. */
  for (size_t c = 0; c < ncols; c++) {
    if (finish_column(&S, c, err) != TIDE_OK) goto fail;
  }
  result = tide__table_from_sources(nrows, ncols, (const char *const *)cx->names, S.out, err);
  for (size_t c = 0; c < ncols; c++) S.out[c] = NULL; /* moved (or released on failure) */
  if (!result) tide_error_prefix(err, "read_csv: %s", name);
  goto cleanup;

oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "read_csv: %s: out of memory", name);
fail:
  result = NULL;
cleanup:
  if (S.ranges) {
    for (size_t k = 0; k < S.nranges; k++) {
      range_t *r = &S.ranges[k];
      if (r->sb)
        for (size_t c = 0; c < cx->ncols; c++) cbuf_free(&r->sb[c]);
      if (r->dict)
        for (size_t c = 0; c < cx->ncols; c++) lhash_free(&r->dict[c]);
      tide_free(r->sb);
      tide_free(r->dict);
      tide_free(r->op);
      cbuf_free(&r->scratch);
      cbuf_free(&r->scratch2);
    }
    tide_free(S.ranges);
  }
  for (size_t c = 0; c < cx->ncols; c++) {
    if (S.src && S.src[c]) {
      tide_source_release(S.src[c]);
    } else if (cx->store && cx->store[c]) {
      tide_free(cx->store[c]); /* a temporary slot array */
    }
    if (cx->store) cx->store[c] = NULL;
    if (S.out && S.out[c]) tide_source_release(S.out[c]);
  }
  tide_free(S.src);
  tide_free(S.out);
  tide_free(cx->store);
  tide_free(cx->fixed);
  tide_free(cx->xtype);
  tide_free(cx->op0);
  tide_free(cx->dlimit);
  tide_free((void *)cx->dead);
  free_strv(cx->names, cx->ncols);
  free_strv(raw, nraw);
  cbuf_free(&scratch);
  return result;
}

/* ================================================================ reading */

tide_table_t *tide_read_csv_buffer(const char *data, size_t len, const char *name,
                                   const tide_csv_options_t *opt, tide_error *err) {
  if (!name) name = "<buffer>";
  if (!data && len) {
    tide_error_set(err, TIDE_ERR_INVALID, "read_csv: %s: NULL data", name);
    return NULL;
  }
  return csv_parse(data ? data : "", len, name, opt, err);
}

tide_table_t *tide_read_csv(const char *path, const tide_csv_options_t *opt, tide_error *err) {
  if (!path) {
    tide_error_set(err, TIDE_ERR_INVALID, "read_csv: NULL path");
    return NULL;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    tide_error_set(err, TIDE_ERR_IO, "read_csv: cannot open '%s': %s", path, strerror(errno));
    return NULL;
  }
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    tide_error_set(err, TIDE_ERR_IO, "read_csv: cannot stat '%s': %s", path, strerror(errno));
    close(fd);
    return NULL;
  }
  tide_table_t *t = NULL;
  if (S_ISREG(sb.st_mode) && sb.st_size > 0) {
    size_t len = (size_t)sb.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map != MAP_FAILED) {
      close(fd);
      (void)madvise(map, len, MADV_WILLNEED);
      t = csv_parse(map, len, path, opt, err);
      munmap(map, len);
      return t;
    }
  }
  /* Not mappable (pipe, empty file, ...): read it. */
  cbuf_t buf = {0};
  for (;;) {
    if (!cbuf_reserve(&buf, 1 << 16)) {
      tide_error_set(err, TIDE_ERR_NOMEM, "read_csv: %s: out of memory", path);
      goto out;
    }
    ssize_t n = read(fd, buf.p + buf.n, buf.cap - buf.n);
    if (n < 0) {
      if (errno == EINTR) continue;
      tide_error_set(err, TIDE_ERR_IO, "read_csv: cannot read '%s': %s", path, strerror(errno));
      goto out;
    }
    if (n == 0) break;
    buf.n += (size_t)n;
  }
  t = csv_parse(buf.p ? buf.p : "", buf.n, path, opt, err);
out:
  close(fd);
  cbuf_free(&buf);
  return t;
}

/* ================================================================ writing */

static inline size_t fmt_u64(uint64_t v, char *out);

/* Doubles are written exactly as tide_value_format writes them (shortest
 * digits that read back, in plain notation: "12.5", "10.0", "0.001").
 * Fast path for values in [1e-4, 1e15) that have a short exact decimal form
 * m / 10^k with m < 10^15: m / 10^k is then one correctly rounded division
 * that reads back to v, the smallest such k gives the fewest digits, and a
 * round-tripping form of at most 15 digits is unique (two would differ by
 * far more than an ulp), so this is the same text. Returns -1 when not
 * applicable (the caller then uses tide_value_format). */
static int fmt_double_fast(double v, char *out) {
  double a = fabs(v);
  if (!(a >= 1e-4 && a < 1e15)) return -1;
  for (int k = 0; k <= 17; k++) {
    double sc = a * pow10_tab[k];
    /* at most 15 significant digits: then the round-tripping form of that
     * length is unique (two would differ by far more than an ulp) */
    if (sc >= 1e15) return -1;
    uint64_t m = (uint64_t)(sc + 0.5);
    if ((double)m / pow10_tab[k] != a) continue;
    char dig[24];
    size_t nd = fmt_u64(m, dig);
    char *o = out;
    if (v < 0) *o++ = '-';
    if (k == 0) {
      memcpy(o, dig, nd);
      o += nd;
      *o++ = '.';
      *o++ = '0';
    } else if ((size_t)k >= nd) {
      *o++ = '0';
      *o++ = '.';
      for (size_t z = nd; z < (size_t)k; z++) *o++ = '0';
      memcpy(o, dig, nd);
      o += nd;
    } else {
      memcpy(o, dig, nd - (size_t)k);
      o += nd - (size_t)k;
      *o++ = '.';
      memcpy(o, dig + nd - (size_t)k, (size_t)k);
      o += k;
    }
    return (int)(o - out);
  }
  return -1;
}

static inline size_t fmt_u64(uint64_t v, char *out) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  return n;
}

static inline size_t fmt_i64(int64_t v, char *out) {
  if (v < 0) {
    out[0] = '-';
    return 1 + fmt_u64((uint64_t)0 - (uint64_t)v, out + 1);
  }
  return fmt_u64((uint64_t)v, out);
}

static bool needs_quotes(const char *s, size_t len, char delim) {
  if (len == 0) return true;
  if (s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' || s[len - 1] == '\t') return true;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (c == delim || c == '"' || c == '\n' || c == '\r') return true;
  }
  return false;
}

/* Append a text value (quoted when needed). */
static bool put_text(cbuf_t *b, const char *s, size_t len, char delim) {
  if (!needs_quotes(s, len, delim)) {
    if (!cbuf_reserve(b, len)) return false;
    memcpy(b->p + b->n, s, len);
    b->n += len;
    return true;
  }
  if (!cbuf_reserve(b, 2 * len + 2)) return false;
  char *o = b->p + b->n;
  *o++ = '"';
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '"') *o++ = '"';
    *o++ = s[i];
  }
  *o++ = '"';
  b->n = (size_t)(o - b->p);
  return true;
}

/* Format n values of one column chunk into b; off[i]..off[i+1] is value i. */
static bool format_chunk(tide_type_t type, const tide_symtab_t *st, const void *vals, uint32_t n,
                         cbuf_t *b, uint32_t *off) {
  b->n = 0;
  switch (type) {
    case TIDE_BOOL: {
      const int8_t *v = vals;
      if (!cbuf_reserve(b, (size_t)n * 5)) return false;
      for (uint32_t i = 0; i < n; i++) {
        off[i] = (uint32_t)b->n;
        if (v[i] == TIDE_NULL_BOOL) continue;
        const char *w = v[i] ? "true" : "false";
        size_t l = v[i] ? 4 : 5;
        memcpy(b->p + b->n, w, l);
        b->n += l;
      }
      break;
    }
#define CSV_FMT_INT(E, name, ctype)                     \
  case TIDE_##E: {                                      \
    const ctype *v = vals;                              \
    if (!cbuf_reserve(b, (size_t)n * 21)) return false; \
    for (uint32_t i = 0; i < n; i++) {                  \
      off[i] = (uint32_t)b->n;                          \
      if (v[i] == TIDE_NULL_##E) continue;              \
      b->n += fmt_i64((int64_t)v[i], b->p + b->n);      \
    }                                                   \
    break;                                              \
  }
      TIDE_INT_TYPES(CSV_FMT_INT)
#undef CSV_FMT_INT
    case TIDE_F32: {
      const float *v = vals;
      if (!cbuf_reserve(b, (size_t)n * 64)) return false;
      for (uint32_t i = 0; i < n; i++) {
        off[i] = (uint32_t)b->n;
        if (v[i] == TIDE_NULL_F32) continue;
        b->n += tide_value_format(TIDE_F32, NULL, &v[i], false, b->p + b->n, 64);
      }
      break;
    }
    case TIDE_F64: {
      const double *v = vals;
      if (!cbuf_reserve(b, (size_t)n * 64)) return false;
      for (uint32_t i = 0; i < n; i++) {
        off[i] = (uint32_t)b->n;
        if (v[i] == TIDE_NULL_F64) continue;
        double x = v[i];
        int fk = fmt_double_fast(x, b->p + b->n);
        if (fk > 0) {
          b->n += (size_t)fk;
          continue;
        }
        b->n += tide_value_format(TIDE_F64, NULL, &v[i], false, b->p + b->n, 64);
      }
      break;
    }
    case TIDE_TS: {
      const int64_t *v = vals;
      if (!cbuf_reserve(b, (size_t)n * 40)) return false;
      for (uint32_t i = 0; i < n; i++) {
        off[i] = (uint32_t)b->n;
        if (v[i] == TIDE_NULL_TS) continue;
        b->n += tide_ts_format(v[i], b->p + b->n, 40);
      }
      break;
    }
    case TIDE_STRING: {
      const char *const *v = vals;
      for (uint32_t i = 0; i < n; i++) {
        off[i] = (uint32_t)b->n;
        if (!v[i]) continue;
        if (!put_text(b, v[i], strlen(v[i]), ',')) return false;
      }
      break;
    }
    case TIDE_SYMBOL: {
      const int32_t *v = vals;
      for (uint32_t i = 0; i < n; i++) {
        off[i] = (uint32_t)b->n;
        const char *s = v[i] < 0 ? NULL : tide_symtab_str(st, v[i]);
        if (!s) continue;
        if (!put_text(b, s, tide__symtab_len(st, v[i]), ',')) return false;
      }
      break;
    }
    default:
      return false;
  }
  off[n] = (uint32_t)b->n;
  return true;
}

/* Per-thread formatting workspace for blocks of `blk` rows. */
typedef struct wspace_t {
  cbuf_t *text;   /* per column: formatted values of one block */
  uint32_t *offs; /* per column: blk + 1 offsets */
  char *vbuf;     /* per column: blk values */
  uint64_t *keybuf;
} wspace_t;

/* Rows per formatting block: a chunk, fewer for wide tables so that the
 * per-thread workspace (about 12 bytes per row and column) stays near
 * 3 MiB whatever the column count. */
static uint32_t write_block_rows(size_t ncols) {
  size_t cells = (size_t)TIDE_CHUNK_SIZE * 64;
  size_t blk = ncols > 64 ? cells / ncols : TIDE_CHUNK_SIZE;
  return blk ? (uint32_t)blk : 1;
}

/* Format the rows at positions [pos, pos + blk) into out. */
static bool format_rows(const tide_table_t *t, uint64_t pos, uint32_t blk, wspace_t *w,
                        cbuf_t *out) {
  const size_t ncols = tide_table_ncols(t);
  tide_rowset_iter_t it;
  tide_rowset_iter_init_pos(&it, tide_table_rowset(t), pos, blk);
  tide_rowseq_t seq;
  out->n = 0;
  if (!tide_rowset_iter_next_chunk(&it, blk, &seq, w->keybuf)) return true;
  size_t total = 0;
  for (size_t c = 0; c < ncols; c++) {
    const tide_source_t *src = tide_table_col_source(t, c);
    const void *vals = tide__source_get(src, &seq, w->vbuf + c * (size_t)blk * 8);
    if (!format_chunk(src->type, src->symtab, vals, seq.n, &w->text[c],
                      w->offs + c * ((size_t)blk + 1)))
      return false;
    total += w->text[c].n;
  }
  /* rows: fields, delimiters, newline; with one column a null value gives
   * an empty line (read back as null, except at the very end) */
  if (!cbuf_reserve(out, total + (size_t)seq.n * (ncols + 1))) return false;
  char *o = out->p;
  for (uint32_t i = 0; i < seq.n; i++) {
    for (size_t c = 0; c < ncols; c++) {
      const uint32_t *off = w->offs + c * ((size_t)blk + 1);
      uint32_t l = off[i + 1] - off[i];
      if (c) *o++ = ',';
      memcpy(o, w->text[c].p + off[i], l);
      o += l;
    }
    *o++ = '\n';
  }
  out->n = (size_t)(o - out->p);
  return true;
}

tide_status tide_write_csv_stream(const tide_table_t *t, FILE *out, tide_error *err) {
  if (!t || !out) return tide_error_set(err, TIDE_ERR_INVALID, "write_csv: NULL table or stream");
  const size_t ncols = tide_table_ncols(t);
  const uint64_t nrows = tide_table_size(t);
  const uint32_t blk = write_block_rows(ncols);
  const uint64_t nchunks = (nrows + blk - 1) / blk;
  int nthreads = tide_get_threads();
  if ((uint64_t)nthreads > nchunks) nthreads = nchunks ? (int)nchunks : 1;
  const size_t batch = (size_t)nthreads * 8;
  const size_t nc1 = ncols ? ncols : 1;
  tide_status st = TIDE_OK;
  cbuf_t head = {0};
  wspace_t *ws = tide_calloc((size_t)nthreads, sizeof *ws);
  cbuf_t *outs = tide_calloc(batch, sizeof *outs);
  if (!ws || !outs) goto oom;
  for (int k = 0; k < nthreads; k++) {
    ws[k].text = tide_calloc(nc1, sizeof(cbuf_t));
    ws[k].offs = tide_malloc(nc1 * ((size_t)blk + 1) * sizeof(uint32_t));
    ws[k].vbuf = tide_malloc(nc1 * (size_t)blk * 8);
    ws[k].keybuf = tide_malloc((size_t)blk * sizeof(uint64_t));
    if (!ws[k].text || !ws[k].offs || !ws[k].vbuf || !ws[k].keybuf) goto oom;
  }
  for (size_t c = 0; c < ncols; c++) {
    if (c && !cbuf_reserve(&head, 1)) goto oom;
    if (c) head.p[head.n++] = ',';
    const char *nm = tide_table_col_name(t, c);
    if (!put_text(&head, nm, strlen(nm), ',')) goto oom;
  }
  if (!cbuf_reserve(&head, 1)) goto oom;
  head.p[head.n++] = '\n';
  if (fwrite(head.p, 1, head.n, out) != head.n) goto ioerr;

  /* Batches of chunks formatted in parallel, written in order. */
  for (uint64_t c0 = 0; c0 < nchunks; c0 += batch) {
    size_t nb = (size_t)TIDE_MIN((uint64_t)batch, nchunks - c0);
    bool ok = true;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads) if (nb > 1)
    for (size_t j = 0; j < nb; j++) {
      wspace_t *w = &ws[omp_get_thread_num()];
      if (!format_rows(t, (c0 + j) * blk, blk, w, &outs[j])) {
#pragma omp atomic write
        ok = false;
      }
    }
    if (!ok) goto oom;
    for (size_t j = 0; j < nb; j++)
      if (outs[j].n && fwrite(outs[j].p, 1, outs[j].n, out) != outs[j].n) goto ioerr;
  }
  if (fflush(out) != 0 || ferror(out)) goto ioerr;
  goto done;
ioerr:
  st = tide_error_set(err, TIDE_ERR_IO, "write_csv: write failed: %s", strerror(errno));
  goto done;
oom:
  st = tide_error_set(err, TIDE_ERR_NOMEM, "write_csv: out of memory");
done:
  if (ws) {
    for (int k = 0; k < nthreads; k++) {
      if (ws[k].text)
        for (size_t c = 0; c < nc1; c++) cbuf_free(&ws[k].text[c]);
      tide_free(ws[k].text);
      tide_free(ws[k].offs);
      tide_free(ws[k].vbuf);
      tide_free(ws[k].keybuf);
    }
    tide_free(ws);
  }
  if (outs)
    for (size_t j = 0; j < batch; j++) cbuf_free(&outs[j]);
  tide_free(outs);
  cbuf_free(&head);
  return st;
}

static tide_status write_csv_to(FILE *f, void *ctx, tide_error *err) {
  return tide_write_csv_stream(ctx, f, err);
}

tide_status tide_write_csv(const tide_table_t *t, const char *path, tide_error *err) {
  if (!t || !path) return tide_error_set(err, TIDE_ERR_INVALID, "write_csv: NULL table or path");
  return tide__file_write_atomic(path, "write_csv", write_csv_to, (void *)t, err);
}
