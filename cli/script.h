/*
 * The script language of `tide run`: Python-like method chaining with the
 * Deephaven Python API's names.
 *
 *   trades = read_csv("trades.csv")
 *   big    = trades.where("Size > 100").update(["Notional = Price * Size"])
 *   vwap   = big.agg_by([agg.sum_(["Notional", "Size"])], by=["Sym"])
 *   write_csv(vwap, "vwap.csv")
 *
 * Statements are assignments (`name = expr`), expressions, or Python import
 * lines (`from deephaven import agg`, accepted and checked, otherwise
 * no-ops), one per line (or separated by ';'). A statement continues over
 * lines inside (), [] and {}, or after a trailing backslash. `#` starts a
 * comment. Values: tables, strings ('...', "...", '''...''' with backslash
 * escapes), integers, floats, True/False/None, lists [..] and tuples (..),
 * dicts {k: v}, aggregation specs (agg.*), sort directions
 * (SortDirection.ASCENDING/DESCENDING). Expressions: calls with positional
 * and keyword arguments, attributes, indexing, unary -, binary + - * / // %
 * on numbers with Python semantics (+ also joins strings and lists).
 *
 * Errors print one line "SCRIPT:LINE:COL: error: MESSAGE" (1-based line and
 * column of the call or token at fault).
 *
 * This header is private to the cli/ folder and the tests. It also
 * declares the db-benchmark data generator (cli/gen.c).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_CLI_SCRIPT_H
#define TIDE_CLI_SCRIPT_H

#include <stdio.h>

#include "tide/tide.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ----------------------------------------------------------- diagnostics */

/* Where and why a script failed. line/col are 1-based (0 when unknown). */
typedef struct tide_script_diag {
  int line;
  int col;
  tide_status status;
  char msg[TIDE_ERROR_MSG_MAX + 128];
} tide_script_diag;

/* Write "NAME:LINE:COL: error: MSG\n" to out. */
void tide_script_diag_print(const tide_script_diag *d, const char *script_name, FILE *out);

/* ----------------------------------------------------------------- lexer */

#define TIDE_SCRIPT_TOKEN_LIST(X) \
  X(EOF, "end of input")          \
  X(NEWLINE, "end of line")       \
  X(NAME, "name")                 \
  X(INT, "integer")               \
  X(FLOAT, "number")              \
  X(STRING, "string")             \
  X(LPAREN, "'('")                \
  X(RPAREN, "')'")                \
  X(LBRACKET, "'['")              \
  X(RBRACKET, "']'")              \
  X(LBRACE, "'{'")                \
  X(RBRACE, "'}'")                \
  X(COMMA, "','")                 \
  X(DOT, "'.'")                   \
  X(COLON, "':'")                 \
  X(SEMI, "';'")                  \
  X(ASSIGN, "'='")                \
  X(PLUS, "'+'")                  \
  X(MINUS, "'-'")                 \
  X(STAR, "'*'")                  \
  X(SLASH, "'/'")                 \
  X(PERCENT, "'%'")               \
  X(DSLASH, "'//'")

typedef enum tide_script_tok_kind {
#define TIDE_X_TOK_ENUM(E, s) TIDE_TOK_##E,
  TIDE_SCRIPT_TOKEN_LIST(TIDE_X_TOK_ENUM)
#undef TIDE_X_TOK_ENUM
  TIDE_TOK_KIND_COUNT
} tide_script_tok_kind;

typedef struct tide_script_token {
  tide_script_tok_kind kind;
  int line, col;
  const char *text;  /* points into the source (the raw token) */
  size_t len;
  /* Decoded values: STRING (escapes applied, NUL-terminated, owned by the
   * token array), INT, FLOAT. */
  char *str;
  size_t str_len;
  int64_t ival;
  double fval;
} tide_script_token;

typedef struct tide_script_tokens {
  tide_script_token *toks;
  size_t n;
} tide_script_tokens;

/* Description of a token kind ("')'", "name"). */
const char *tide_script_tok_name(tide_script_tok_kind k);
/* Tokenise src[0..len). Newlines inside brackets and after a trailing
 * backslash are dropped; blank lines and comments yield no tokens; the list
 * always ends with NEWLINE (if there were tokens) and EOF. Returns
 * TIDE_OK, or an error in diag (unterminated string, bad character,
 * unbalanced bracket). */
tide_status tide_script_lex(const char *src, size_t len, tide_script_tokens *out,
                            tide_script_diag *diag);
void tide_script_tokens_free(tide_script_tokens *t);

/* ---------------------------------------------------------------- parser */

typedef enum tide_script_node_kind {
  TIDE_NODE_NAME,   /* name */
  TIDE_NODE_INT,    /* ival */
  TIDE_NODE_FLOAT,  /* fval */
  TIDE_NODE_STRING, /* str, str_len */
  TIDE_NODE_TRUE,
  TIDE_NODE_FALSE,
  TIDE_NODE_NONE,
  TIDE_NODE_LIST,   /* kids = items (tuples too) */
  TIDE_NODE_DICT,   /* kids = k0, v0, k1, v1, ... */
  TIDE_NODE_ATTR,   /* kids[0] = object; name; line/col of the name */
  TIDE_NODE_CALL,   /* kids[0] = callee, kids[1..] = args; kwnames[i] for
                       kids[1+i] is NULL for a positional argument */
  TIDE_NODE_INDEX,  /* kids[0][kids[1]] */
  TIDE_NODE_UNARY,  /* op (TIDE_TOK_MINUS / PLUS), kids[0] */
  TIDE_NODE_BINARY, /* op, kids[0], kids[1] */
  TIDE_NODE_ASSIGN, /* statement: name = kids[0] */
  TIDE_NODE_EXPR,   /* statement: kids[0] */
  TIDE_NODE_IMPORT  /* statement: kwnames = imported names, name = module;
                       kids empty; aliases in str (NUL-separated list) */
} tide_script_node_kind;

typedef struct tide_script_node tide_script_node;
struct tide_script_node {
  tide_script_node_kind kind;
  int line, col;
  int op;                 /* tide_script_tok_kind for UNARY / BINARY */
  char *name;             /* NAME, ATTR, ASSIGN, IMPORT (module) */
  char *str;              /* STRING */
  size_t str_len;
  int64_t ival;
  double fval;
  tide_script_node **kids;
  size_t nkids;
  char **kwnames;         /* CALL: nkids - 1 entries; IMPORT: names */
  char **aliases;         /* IMPORT: alias per name (NULL = same) */
  size_t nnames;          /* IMPORT */
  int kw_line, kw_col;    /* a keyword argument's value: where its keyword is */
  int depth;              /* height of the subtree (a leaf is 1) */
};

typedef struct tide_script_program {
  tide_script_node **stmts;
  size_t n;
} tide_script_program;

/* Parse src into statements. TIDE_OK or TIDE_ERR_PARSE with diag set. */
tide_status tide_script_parse(const char *src, size_t len, tide_script_program *out,
                              tide_script_diag *diag);
void tide_script_program_free(tide_script_program *p);

/* ----------------------------------------------------------- interpreter */

typedef struct tide_script_interp tide_script_interp;

typedef struct tide_script_options {
  FILE *out;          /* print/show output (default stdout) */
  FILE *timings;      /* if set: "LINE: SECONDS s" per statement */
  /* --set NAME=VALUE pairs read by arg("NAME", default). */
  size_t nsets;
  const char *const *set_names;
  const char *const *set_values;
  /* Ticking (tide run --cycles/--duration): after the script, run `cycles`
   * cycles of tide_graph_default() on this thread, or, with duration_ns,
   * cycle on the graph's background thread every period_ns (0: 100 ms)
   * for that long; then print again every refreshing table the script
   * print()ed or show()ed and re-write every write_csv() of one
   * (tide_script_replay_outputs). */
  uint64_t cycles;
  uint64_t duration_ns;
  uint64_t period_ns;
  /* Backfill context (tide backfill, cli/backfill.c; NULL: unset):
   * historical_table() reads only dates within [hist_from, hist_to]
   * (intersected with its own from_date/to_date) and its db defaults to
   * hist_db instead of "./tide-db". The strings are copied. */
  const char *hist_from, *hist_to, *hist_db;
} tide_script_options;

/* New interpreter with the builtins bound; opt may be NULL. */
tide_script_interp *tide_script_interp_create(const tide_script_options *opt);
void tide_script_interp_free(tide_script_interp *in);

/* Run the statements of src (globals persist across calls). */
tide_status tide_script_exec(tide_script_interp *in, const char *src, size_t len,
                             tide_script_diag *diag);

/* Print again each refreshing table that print()/show() wrote, and write
 * again each write_csv() of a refreshing table, in script order, preceded
 * (when anything is printed) by a line "--- after LABEL ---". */
tide_status tide_script_replay_outputs(tide_script_interp *in, const char *label,
                                       tide_script_diag *diag);

/* Rows of all the tables historical_table() returned so far. */
uint64_t tide_script_hist_rows(const tide_script_interp *in);

/* A global's table (borrowed; NULL if missing or not a table). */
tide_table_t *tide_script_get_table(tide_script_interp *in, const char *name);
/* repr() of a global into buf; false if the name is unbound. */
bool tide_script_get_repr(tide_script_interp *in, const char *name, char *buf, size_t cap);

/* Convenience: read and run a script file ("-" reads stdin, shown as
 * <stdin>; otherwise diagnostics name the path as given). On error prints
 * the diagnostic line to `errout` (if not NULL). */
tide_status tide_script_run_file(const char *path, const tide_script_options *opt,
                                 FILE *errout, tide_script_diag *diag);

/* ------------------------------------------- interpreter internals (cli/) */
#ifdef TIDE_SCRIPT_INTERNAL

typedef enum tide_sv_kind {
  TIDE_SV_NONE,
  TIDE_SV_BOOL,
  TIDE_SV_INT,
  TIDE_SV_FLOAT,
  TIDE_SV_STR,
  TIDE_SV_LIST,
  TIDE_SV_DICT,    /* keys and values in list (k0, v0, k1, v1...) */
  TIDE_SV_TABLE,
  TIDE_SV_AGG,
  TIDE_SV_FUNC,    /* a builtin function */
  TIDE_SV_METHOD,  /* a builtin bound to self */
  TIDE_SV_MODULE,  /* agg, SortDirection, dtypes */
  TIDE_SV_SORTDIR, /* b: descending */
  TIDE_SV_COLUMN   /* int_col(...) etc.: a one-column table */
} tide_sv_kind;

typedef struct tide_script_agg {
  tide_agg_kind_t kind;
  const char *fname;   /* "sum_", ... */
  char **cols;         /* owned; NULL with all == true for "every other column" */
  size_t ncols;
  bool all;
  double pct;
  char *weight;
  bool count_nulls;
} tide_script_agg;

typedef struct tide_sv tide_sv;
typedef struct tide_script_builtin tide_script_builtin;

struct tide_sv {
  tide_sv_kind kind;
  uint32_t refs;
  union {
    bool b;
    int64_t i;
    double f;
    struct {
      char *s;
      size_t len;
    } str;
    struct {
      tide_sv **items;
      size_t n, cap;
    } list;
    tide_table_t *table;
    tide_script_agg *agg;
    const tide_script_builtin *fn;
    struct {
      tide_sv *self;
      const tide_script_builtin *fn;
    } method;
    int module;
  } u;
};

enum { TIDE_MOD_GLOBAL = 0, TIDE_MOD_TABLE, TIDE_MOD_AGG, TIDE_MOD_SORTDIR, TIDE_MOD_DTYPES };

#define TIDE_SCRIPT_MAX_PARAMS 8

typedef struct tide_script_call {
  tide_script_interp *in;
  const tide_script_node *node;      /* the call (position of errors) */
  const tide_script_builtin *fn;
  tide_sv *self;                     /* methods: the receiver */
  tide_sv *a[TIDE_SCRIPT_MAX_PARAMS];                 /* bound params (NULL: omitted) */
  const tide_script_node *an[TIDE_SCRIPT_MAX_PARAMS]; /* their argument nodes */
  tide_sv **var;                     /* extra positional args (varargs builtins) */
  const tide_script_node **varn;
  size_t nvar;
} tide_script_call;

typedef tide_sv *(*tide_script_fn)(tide_script_call *c);

struct tide_script_builtin {
  const char *name;
  int module;        /* TIDE_MOD_*: where the name lives */
  const char *params[TIDE_SCRIPT_MAX_PARAMS]; /* NULL-terminated */
  int nreq;          /* required leading params */
  bool varargs;      /* extra positional args go to var */
  int npos;          /* varargs builtins: params taking positional args */
  tide_script_fn fn;
  int tag;           /* handler-specific (agg kind, column type...) */
};

extern const tide_script_builtin tide__script_builtins[];
extern const size_t tide__script_nbuiltins;

/* Values (reference counted; constructors return NULL on OOM). */
tide_sv *tide__sv_new(tide_sv_kind k);
tide_sv *tide__sv_ref(tide_sv *v);
void tide__sv_unref(tide_sv *v);
tide_sv *tide__sv_none(void);
tide_sv *tide__sv_bool(bool b);
tide_sv *tide__sv_int(int64_t i);
tide_sv *tide__sv_float(double f);
tide_sv *tide__sv_str(const char *s, size_t len);
tide_sv *tide__sv_table(tide_table_t *t); /* takes the reference */
bool tide__sv_list_push(tide_sv *list, tide_sv *item); /* takes item */
const char *tide__sv_kind_name(const tide_sv *v);
/* Python-like repr (quote_strings false: str() of a string). Returns a
 * tide_malloc'd string or NULL on OOM. */
char *tide__sv_repr(const tide_sv *v, bool quote_strings);

/* Runtime error at node (or at the call when node is NULL); returns NULL. */
tide_sv *tide__script_err(tide_script_call *c, const tide_script_node *node, tide_status st,
                          const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* Report an engine error of the call (err.msg). Returns NULL. */
tide_sv *tide__script_engine_err(tide_script_call *c, const tide_error *err);
FILE *tide__script_out(tide_script_interp *in);
/* The backfill context of historical_table() (tide_script_options.hist_*,
 * borrowed, NULL when unset), and the count of rows it returned. */
void tide__script_hist_context(tide_script_interp *in, const char **from, const char **to,
                               const char **db);
void tide__script_hist_rows_add(tide_script_interp *in, uint64_t rows);
/* Value of --set NAME (NULL if not given). */
const char *tide__script_setting(tide_script_interp *in, const char *name);
/* Remember an output of a refreshing table for tide_script_replay_outputs:
 * kind 'p' print (all rows), 's' show (n rows), 'w' write_csv (path,
 * cols: ncols names, NULL/0 for all). Returns false on OOM. */
bool tide__script_note_output(tide_script_interp *in, char kind, tide_table_t *t, uint64_t n,
                              const char *path, const char *const *cols, size_t ncols);

#endif /* TIDE_SCRIPT_INTERNAL */

/* ------------------------------------------------------- data generator */

/* db-benchmark groupby dataset "G1": columns id1,id2 ("id%03d", 1..k),
 * id3 ("id%010d", 1..rows/k), id4,id5 (1..k), id6 (1..rows/k), v1 (1..5),
 * v2 (1..15), v3 (uniform [0,100) rounded to 6 decimals). With nas_pct > 0,
 * nas_pct% of the distinct values of each id column are null everywhere
 * and nas_pct% of the rows of each v column are null (empty fields), as in
 * db-benchmark's groupby-datagen.R. Deterministic for a seed. */
typedef struct tide_gen_groupby_opts {
  uint64_t rows;
  uint64_t k;
  double nas_pct;
  uint64_t seed;
} tide_gen_groupby_opts;

tide_status tide_gen_groupby_stream(const tide_gen_groupby_opts *o, FILE *out, tide_error *err);
tide_status tide_gen_groupby(const tide_gen_groupby_opts *o, const char *path, tide_error *err);

#ifdef __cplusplus
}
#endif
/* `tide` command lines (cli/cli_opts.c): --name VALUE or --name=VALUE at
 * argv[*i]: returns the value (advancing *i past it), or NULL if argv[*i]
 * is not this option; sets *missing when the value is absent. */
const char *tide__cli_opt_value(int argc, char **argv, int *i, const char *name, bool *missing);

#endif /* TIDE_CLI_SCRIPT_H */
