/*
 * Private interface of the formula language (Deephaven query-language
 * subset): compile a formula once against a schema into a typed tree, then
 * evaluate it column-at-a-time over chunks of rows (tide_rowseq_t), either
 * as values (update/select/view) or as a filter producing a selection
 * vector (where). Also the formula-view column source used by view and
 * update_view.
 *
 * Evaluation types: every integer column widens to int64, float to double;
 * bool is int8 0/1/TIDE_NULL_BOOL; timestamp int64 ns; string const char *;
 * symbol int32 codes into the column's dictionary (comparisons with string
 * literals are resolved to codes at compile time).
 *
 * Language (Deephaven query-language subset):
 *   literals    42, 10L, 1.5, 2e-3, .5, true, false, null, `text`, "text"
 *               (backslash escapes), '2024-01-02T09:30:00Z' (tide_ts_parse)
 *   names       columns (they shadow i / ii), i and ii (row position, int64)
 *   operators   unary - + !; * / %; + -; < <= > >=; == !=; &&; ||; ?:;
 *               x in a, b, c and x not in a, b (literal lists);
 *               casts (double)x (long)x (int)x ((int) wraps to 32 bits; an
 *               (int) cast at the top of a formula gives an int32 column);
 *               a single '=' is an error
 *   functions   abs sqrt log exp pow min max floor ceil round isNull,
 *               year month dayOfMonth hourOfDay minuteOfHour secondOfMinute
 *               (UTC), methods s.startsWith(x) s.endsWith(x) s.contains(x)
 *               s.length() on strings and symbols
 * Typing: integers widen to int64, float to double; int op double is
 * double; / is always double; % on integers is int64; timestamp +- int64
 * is a timestamp, timestamp - timestamp is int64 nanoseconds; comparisons
 * need compatible operands (numbers, timestamps with time literals or
 * timestamps, strings/symbols with strings/symbols, bools); symbol ==
 * string literal compares codes; ?: branches unify (numbers -> double,
 * symbols of one dictionary stay symbols, other text -> string). Results:
 * int64, double, bool, timestamp, string or symbol; a plain column keeps
 * its own type. round -> int64, floor/ceil/sqrt/log/exp/pow -> double,
 * abs/min/max keep int64/double (min/max also timestamps), date parts and
 * length -> int64.
 * Null rules: arithmetic and functions on null give null; integer % 0 is
 * null, double / 0 is +-inf/NaN; comparisons order null below everything
 * and null == null; && || are three-valued (false && null = false,
 * true || null = true, otherwise null); !null = null; a null ?: condition
 * gives null; filters keep only rows whose value is true.
 *
 * Thread safety: a compiled expression is immutable; any number of threads
 * may evaluate it at once, each with its own scratch (or none: then every
 * call allocates its own scratch once per chunk).
 *
 * Later work hooks:
 *  - incremental updates: tide__expr_ncolumns / tide__expr_column_name list
 *    the referenced columns
 *    (dependency tracking), tide__expr_uses_i says whether i/ii are used
 *    (an error on refreshing tables other than append-only/blink), and
 *    tide__expr_eval / tide__expr_filter accept arbitrary keys (any order)
 *    with optional explicit positions, so only modified rows can be
 *    re-evaluated.
 *  - symbol literals are looked up in the dictionary at compile time; a
 *    ticking symbol column whose dictionary grows must recompile (or the
 *    caller re-binds) when a literal was absent at compile time
 *    (tide__expr_has_missing_symbols).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_EXPR_H
#define TIDE_EXPR_H

#include "core/core_int.h"

typedef struct tide_expr_s tide_expr_t;
typedef struct tide_expr_scratch_s tide_expr_scratch_t;

/* The columns a formula may refer to: names and their sources (types and
 * symbol dictionaries are taken from the sources). Borrowed during compile. */
typedef struct tide_expr_schema_t {
  size_t ncols;
  const char *const *names;
  tide_source_t *const *cols;
} tide_expr_schema_t;

/* Schema view of a table (borrowed pointers into t). */
tide_expr_schema_t tide__expr_schema_of(const tide_table_t *t);

/* Compile flags. */
#define TIDE_EXPR_FILTER 1u /* a where filter: result must be bool */

/* Compile the expression text formula[start..] against schema. `op` names
 * the operation for messages ("where", "update"); messages quote the whole
 * formula and give 1-based character positions within it:
 *   where: "Size >> 3": unexpected '>' at position 7
 * Returns a new expression (free with tide__expr_free) or NULL with err set
 * (TIDE_ERR_PARSE, TIDE_ERR_TYPE, TIDE_ERR_NOT_FOUND, TIDE_ERR_NOMEM). */
tide_expr_t *tide__expr_compile(const char *op, const char *formula, size_t start,
                                const tide_expr_schema_t *schema, unsigned flags,
                                tide_error *err);
void tide__expr_free(tide_expr_t *e); /* NULL ok */

/* Result storage type of the expression's values: BOOL, I64, F64, TS,
 * STRING or SYMBOL (I32 for a top-level (int) cast); a plain column
 * reference keeps the column's own type. */
tide_type_t tide__expr_type(const tide_expr_t *e);
/* Dictionary of a SYMBOL result (borrowed from the referenced column). */
tide_symtab_t *tide__expr_symtab(const tide_expr_t *e);
/* Whether the whole expression is a plain column reference; if so *col
 * receives its schema index. */
bool tide__expr_is_column(const tide_expr_t *e, int *col);
/* Referenced columns (distinct, in order of first reference): names and
 * schema indices. */
size_t tide__expr_ncolumns(const tide_expr_t *e);
const char *tide__expr_column_name(const tide_expr_t *e, size_t i);
int tide__expr_column_index(const tide_expr_t *e, size_t i);
/* Whether the expression uses the row position variables i / ii. */
bool tide__expr_uses_i(const tide_expr_t *e);
/* Whether a symbol literal was absent from a dictionary at compile time. */
bool tide__expr_has_missing_symbols(const tide_expr_t *e);
/* The formula text it was compiled from. */
const char *tide__expr_text(const tide_expr_t *e);

/* Per-thread scratch memory for evaluating e (reusable across chunks).
 * NULL on OOM. */
tide_expr_scratch_t *tide__expr_scratch_create(const tide_expr_t *e);
void tide__expr_scratch_free(tide_expr_scratch_t *s); /* NULL ok */

/* Evaluate e at the keys of seq (<= TIDE_CHUNK_SIZE rows) and write seq->n
 * values of tide__expr_type into dst. cols is indexed like the schema the
 * expression was compiled against (only referenced entries are read).
 * Positions for i/ii are posv[j] when posv is given, else seq->pos + j.
 * scratch may be NULL (one allocation per call). TIDE_ERR_NOMEM only. */
tide_status tide__expr_eval(const tide_expr_t *e, tide_source_t *const *cols,
                            const tide_rowseq_t *seq, const uint64_t *posv, void *dst,
                            tide_expr_scratch_t *scratch);
/* Filter: write the indices j (ascending, within the chunk) of rows where
 * the bool expression is true (null counts as false) to sel (capacity
 * seq->n) and their number to *count. TIDE_ERR_NOMEM only. */
tide_status tide__expr_filter(const tide_expr_t *e, tide_source_t *const *cols,
                              const tide_rowseq_t *seq, const uint64_t *posv, uint32_t *sel,
                              uint32_t *count, tide_expr_scratch_t *scratch);

/* The same over a table's columns (e compiled against t's schema). */
static inline tide_status tide__expr_eval_table(const tide_expr_t *e, const tide_table_t *t,
                                                const tide_rowseq_t *seq, void *dst) {
  return tide__expr_eval(e, t->cols, seq, NULL, dst, NULL);
}
static inline tide_status tide__expr_filter_table(const tide_expr_t *e, const tide_table_t *t,
                                                  const tide_rowseq_t *seq, uint32_t *sel,
                                                  uint32_t *count) {
  return tide__expr_filter(e, t->cols, seq, NULL, sel, count, NULL);
}

/* Split "Name = expr" into the name (written to name, cap bytes) and the
 * offset of the expression; a bare "Name" gives *expr_start = SIZE_MAX.
 * Returns false (err set, naming op and formula) if malformed. */
bool tide__formula_split(const char *op, const char *formula, char *name, size_t cap,
                         size_t *expr_start, tide_error *err);

/* Formula view: a column source whose fill evaluates e (ownership moves to
 * the source, also on failure) over cols (the schema columns; referenced
 * ones are retained) at the same keys. rowset (retained if the expression
 * uses i/ii) gives key -> position. Thread-safe: every fill allocates its
 * scratch once per chunk (on OOM it fills nulls). */
tide_source_t *tide__source_formula_create(tide_expr_t *e, tide_source_t *const *cols,
                                           const tide_rowset_t *rowset, tide_error *err);
bool tide__source_is_formula(const tide_source_t *src);

/* ===================================================================== */
/* Internals shared by core/expr_*.c only.                               */

#define TIDE__EV_NULL TIDE_TYPE_COUNT /* type of the `null` literal */

typedef enum tide_enode_kind_t {
  TIDE_EN_LIT,    /* constant */
  TIDE_EN_COL,    /* column reference (widened) */
  TIDE_EN_POS,    /* i / ii */
  TIDE_EN_NEG,    /* unary - */
  TIDE_EN_NOT,    /* ! */
  TIDE_EN_ARITH,  /* + - * / % (op) */
  TIDE_EN_CMP,    /* < <= > >= == != (op), operands of type otype */
  TIDE_EN_AND,
  TIDE_EN_OR,
  TIDE_EN_TERN,
  TIDE_EN_IN,     /* args[0] in list (op: 1 = not in) */
  TIDE_EN_CALL,   /* function (op: TIDE_FN_*) */
  TIDE_EN_CONV    /* conversion to type: i64->f64, sym->str, casts */
} tide_enode_kind_t;

enum {
  TIDE_OP_ADD, TIDE_OP_SUB, TIDE_OP_MUL, TIDE_OP_DIV, TIDE_OP_MOD,
  TIDE_OP_LT, TIDE_OP_LE, TIDE_OP_GT, TIDE_OP_GE, TIDE_OP_EQ, TIDE_OP_NE
};

#define TIDE_FN_LIST(X)                 \
  X(ABS, "abs", 1)                      \
  X(SQRT, "sqrt", 1)                    \
  X(LOG, "log", 1)                      \
  X(EXP, "exp", 1)                      \
  X(POW, "pow", 2)                      \
  X(MIN, "min", 2)                      \
  X(MAX, "max", 2)                      \
  X(FLOOR, "floor", 1)                  \
  X(CEIL, "ceil", 1)                    \
  X(ROUND, "round", 1)                  \
  X(ISNULL, "isNull", 1)                \
  X(YEAR, "year", 1)                    \
  X(MONTH, "month", 1)                  \
  X(DAY, "dayOfMonth", 1)               \
  X(HOUR, "hourOfDay", 1)               \
  X(MINUTE, "minuteOfHour", 1)          \
  X(SECOND, "secondOfMinute", 1)        \
  X(STARTS, "startsWith", 2)            \
  X(ENDS, "endsWith", 2)                \
  X(CONTAINS, "contains", 2)            \
  X(LENGTH, "length", 1)

enum {
#define TIDE_X_FN_ENUM(E, name, nargs) TIDE_FN_##E,
  TIDE_FN_LIST(TIDE_X_FN_ENUM)
#undef TIDE_X_FN_ENUM
  TIDE_FN_COUNT
};

/* Conversions (TIDE_EN_CONV op). */
enum { TIDE_CV_I2D, TIDE_CV_SYM2STR, TIDE_CV_D2L, TIDE_CV_D2I, TIDE_CV_L2I, TIDE_CV_ID };

typedef union tide_evalue_t {
  int64_t i; /* I64, TS, BOOL (0/1/null as int8 value) */
  double d;
  const char *s;
  int32_t sym;
} tide_evalue_t;

typedef struct tide_enode_s tide_enode_t;
struct tide_enode_s {
  tide_enode_kind_t kind;
  int op;
  tide_type_t type;       /* evaluation type of the result */
  tide_type_t otype;      /* CMP / IN: operand type */
  tide_symtab_t *symtab;  /* SYMBOL results/operands: dictionary (borrowed) */
  uint32_t start, end;    /* source span [start, end) in the formula */
  uint32_t nargs;
  tide_enode_t *args[3];
  /* COL */
  int col;                /* schema index */
  int slot;               /* referenced-column slot */
  tide_type_t coltype;    /* storage type */
  /* LIT */
  tide_evalue_t lit;
  /* IN: list of constants of otype */
  uint32_t nlist;
  tide_evalue_t *list;
  /* Filter fast path `col op literal`: fast != 0, fcol is the COL node,
   * flit the literal in the comparison domain (otype: I64 for integer,
   * bool and timestamp columns against integer literals, F64 otherwise;
   * SYMBOL codes; STRING). fast = 3: `symbol-expr op string literal`
   * with an ordered op (the symbol side converted to strings): fcol is
   * the symbol-typed node, compared once per distinct code of a chunk. */
  int fast;
  tide_enode_t *fcol;
  tide_evalue_t flit;
  int fop;
  /* Scratch: index of the node's value buffer; AND nodes also the index of
   * their refinement area (buffers are sized for the chunk at eval time). */
  size_t off;
  size_t off2;
};

struct tide_expr_s {
  char *text;             /* the whole formula */
  const char *op;         /* operation name for messages (static string) */
  tide_enode_t *root;
  tide_enode_t **nodes;   /* every node (for freeing) */
  size_t nnodes, capnodes;
  tide_arena_t arena;     /* string literals */
  /* referenced columns */
  size_t nrefs, caprefs;
  char **ref_names;
  int *ref_cols;
  tide_type_t *ref_types;
  tide_type_t type;       /* result storage type */
  tide_symtab_t *symtab;
  bool plain_col;
  bool narrow_i32;        /* root is an (int) cast: int64 values stored as int32 */
  bool uses_i;
  bool missing_syms;
  size_t nbufs;           /* value buffers (one per node) */
  size_t nands;           /* AND refinement areas */
};


#endif /* TIDE_EXPR_H */
