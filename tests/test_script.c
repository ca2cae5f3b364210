/*
 * Script language: lexer, parser and interpreter unit tests (values, kwargs,
 * method chains, comments, multi-line statements, error positions), plus
 * table operations run from scripts and checked against naive loops.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/script.h"
#include "testutil.h"

/* ---------------------------------------------------------------- lexer */

static void test_lexer(void) {
  tide_script_tokens t;
  tide_script_diag d;
  const char *src =
      "x = read_csv('a.csv')  # comment\n"
      "\n"
      "y = x.where([\"A > 1\",\n"
      "             \"B < `z`\"]) \\\n"
      "  .head(1_000)\n"
      "z = -2.5e3 + .5 * 7 % 2 / 1.\n";
  CHECK(tide_script_lex(src, strlen(src), &t, &d) == TIDE_OK);
  static const tide_script_tok_kind want[] = {
      TIDE_TOK_NAME, TIDE_TOK_ASSIGN, TIDE_TOK_NAME, TIDE_TOK_LPAREN, TIDE_TOK_STRING,
      TIDE_TOK_RPAREN, TIDE_TOK_NEWLINE,
      TIDE_TOK_NAME, TIDE_TOK_ASSIGN, TIDE_TOK_NAME, TIDE_TOK_DOT, TIDE_TOK_NAME, TIDE_TOK_LPAREN,
      TIDE_TOK_LBRACKET, TIDE_TOK_STRING, TIDE_TOK_COMMA, TIDE_TOK_STRING, TIDE_TOK_RBRACKET,
      TIDE_TOK_RPAREN, TIDE_TOK_DOT, TIDE_TOK_NAME, TIDE_TOK_LPAREN, TIDE_TOK_INT,
      TIDE_TOK_RPAREN, TIDE_TOK_NEWLINE,
      TIDE_TOK_NAME, TIDE_TOK_ASSIGN, TIDE_TOK_MINUS, TIDE_TOK_FLOAT, TIDE_TOK_PLUS,
      TIDE_TOK_FLOAT, TIDE_TOK_STAR, TIDE_TOK_INT, TIDE_TOK_PERCENT, TIDE_TOK_INT,
      TIDE_TOK_SLASH, TIDE_TOK_FLOAT, TIDE_TOK_NEWLINE, TIDE_TOK_EOF};
  size_t nw = sizeof want / sizeof want[0];
  CHECK_MSG(t.n == nw, "%zu tokens", t.n);
  for (size_t i = 0; i < t.n && i < nw; i++)
    CHECK_MSG(t.toks[i].kind == want[i], "token %zu is %s, want %s", i,
              tide_script_tok_name(t.toks[i].kind), tide_script_tok_name(want[i]));
  if (t.n == nw) {
    CHECK(t.toks[4].line == 1 && t.toks[4].col == 14);
    CHECK(strcmp(t.toks[4].str, "a.csv") == 0);
    CHECK(t.toks[7].line == 3 && t.toks[7].col == 1);
    CHECK(t.toks[16].line == 4 && t.toks[16].col == 14);
    CHECK(strcmp(t.toks[16].str, "B < `z`") == 0); /* backticks are plain */
    CHECK(t.toks[20].line == 5 && t.toks[20].col == 4);
    CHECK(t.toks[22].ival == 1000);
    CHECK(t.toks[28].fval == 2500.0);
    CHECK(t.toks[30].fval == 0.5);
    CHECK(t.toks[32].ival == 7);
    CHECK(t.toks[36].fval == 1.0);
  }
  tide_script_tokens_free(&t);

  /* escapes, both quote kinds, triple quotes, adjacent strings */
  const char *s2 = "'a\\'b\\n\\t\\\\\\x41\\q' \"it's\" '''multi\nline'''";
  CHECK(tide_script_lex(s2, strlen(s2), &t, &d) == TIDE_OK);
  CHECK(t.n == 5);
  if (t.n == 5) {
    CHECK(strcmp(t.toks[0].str, "a'b\n\t\\A\\q") == 0);
    CHECK(strcmp(t.toks[1].str, "it's") == 0);
    CHECK(strcmp(t.toks[2].str, "multi\nline") == 0);
  }
  tide_script_tokens_free(&t);

  /* empty input and comment-only input: just EOF */
  CHECK(tide_script_lex("", 0, &t, &d) == TIDE_OK && t.n == 1 && t.toks[0].kind == TIDE_TOK_EOF);
  tide_script_tokens_free(&t);
  const char *s3 = "# nothing\n   \n# here";
  CHECK(tide_script_lex(s3, strlen(s3), &t, &d) == TIDE_OK && t.n == 1);
  tide_script_tokens_free(&t);

  /* errors with positions */
  struct {
    const char *src;
    int line, col;
    const char *msg;
  } bad[] = {
      {"x = 'abc\n", 1, 5, "unterminated string"},
      {"x = 1\ny = \"abc", 2, 5, "unterminated string"},
      {"x = 1 $ 2", 1, 7, "unexpected character '$'"},
      {"x = f(1))", 1, 9, "unmatched ')'"},
      {"x = f(1,\n  [2, 3)", 2, 8, "does not match '['"},
      {"x = f(1,\n  2", 1, 6, "'(' was never closed"},
      {"x = 12ab", 1, 5, "invalid number"},
      {"x = 99999999999999999999", 1, 5, "too large"},
      {"x = '\\x4'", 1, 6, "\\x escape"},
      {"x = 1 \\ y", 1, 7, "unexpected character '\\'"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memset(&d, 0, sizeof d);
    tide_status st = tide_script_lex(bad[i].src, strlen(bad[i].src), &t, &d);
    CHECK_MSG(st == TIDE_ERR_PARSE, "case %zu", i);
    CHECK_MSG(d.line == bad[i].line && d.col == bad[i].col, "case %zu: %d:%d want %d:%d (%s)",
              i, d.line, d.col, bad[i].line, bad[i].col, d.msg);
    CHECK_MSG(strstr(d.msg, bad[i].msg) != NULL, "case %zu: '%s' lacks '%s'", i, d.msg,
              bad[i].msg);
  }
}

/* --------------------------------------------------------------- parser */

static void test_parser(void) {
  tide_script_program p;
  tide_script_diag d;
  const char *src =
      "from deephaven import agg as a, read_csv\n"
      "import deephaven.agg\n"
      "t = x.where(\"A > 1\").agg_by([agg.sum_('B')], by=['C'])  ; y = 3\n"
      "f(1, 'two', k=[1, 2,], m={'a': 1, 'b': (1, 2)})\n"
      "z = -(1 + 2) * 3 - 4 / 2\n"
      "w = 'ab' 'cd'\n"
      "v = t.columns[0]\n";
  CHECK_MSG(tide_script_parse(src, strlen(src), &p, &d) == TIDE_OK, "%d:%d %s", d.line, d.col,
            d.msg);
  CHECK(p.n == 8);
  if (p.n == 8) {
    tide_script_node *s = p.stmts[0];
    CHECK(s->kind == TIDE_NODE_IMPORT && s->op == 1 && strcmp(s->name, "deephaven") == 0);
    CHECK(s->nnames == 2 && strcmp(s->kwnames[0], "agg") == 0 &&
          strcmp(s->aliases[0], "a") == 0 && s->aliases[1] == NULL);
    s = p.stmts[1];
    CHECK(s->kind == TIDE_NODE_IMPORT && s->op == 0 && strcmp(s->name, "deephaven.agg") == 0);
    s = p.stmts[2];
    CHECK(s->kind == TIDE_NODE_ASSIGN && strcmp(s->name, "t") == 0);
    tide_script_node *call = s->kids[0];
    CHECK(call->kind == TIDE_NODE_CALL && call->nkids == 3);
    CHECK(call->kids[0]->kind == TIDE_NODE_ATTR && strcmp(call->kids[0]->name, "agg_by") == 0);
    CHECK(call->line == 3 && call->col == 22); /* reported at the method name */
    CHECK(call->kwnames[0] == NULL && strcmp(call->kwnames[1], "by") == 0);
    tide_script_node *inner = call->kids[0]->kids[0];
    CHECK(inner->kind == TIDE_NODE_CALL && strcmp(inner->kids[0]->name, "where") == 0);
    CHECK(inner->col == 7);
    CHECK(p.stmts[3]->kind == TIDE_NODE_ASSIGN && p.stmts[3]->kids[0]->ival == 3);
    s = p.stmts[4];
    CHECK(s->kind == TIDE_NODE_EXPR && s->kids[0]->nkids == 5);
    CHECK(s->kids[0]->kids[3]->kind == TIDE_NODE_LIST && s->kids[0]->kids[3]->nkids == 2);
    CHECK(s->kids[0]->kids[4]->kind == TIDE_NODE_DICT && s->kids[0]->kids[4]->nkids == 4);
    s = p.stmts[5]->kids[0];
    CHECK(s->kind == TIDE_NODE_BINARY && s->op == TIDE_TOK_MINUS);
    CHECK(s->kids[0]->kind == TIDE_NODE_BINARY && s->kids[0]->op == TIDE_TOK_STAR);
    CHECK(s->kids[0]->kids[0]->kind == TIDE_NODE_UNARY);
    s = p.stmts[6]->kids[0];
    CHECK(s->kind == TIDE_NODE_STRING && strcmp(s->str, "abcd") == 0);
    CHECK(p.stmts[7]->kids[0]->kind == TIDE_NODE_INDEX);
  }
  tide_script_program_free(&p);

  struct {
    const char *src;
    int line, col;
    const char *msg;
  } bad[] = {
      {"x = = 3", 1, 5, "expected an expression"},
      {"x = f(a=1, 2)", 1, 12, "positional argument follows keyword"},
      {"x = f(a=1, a=2)", 1, 12, "repeated"},
      {"x = f(1 2)", 1, 9, "expected ',' or ')'"},
      {"x = [1, 2\n]\ny = 3 4", 3, 7, "expected end of line"},
      {"x.y = 3", 1, 5, "cannot assign"},
      {"True = 3", 1, 1, "cannot assign"},
      {"x = t.", 1, 7, "attribute name"},
      {"x = {1: 2, 3}", 1, 13, "expected ':'"},
      {"x = lambda: 1", 1, 5, "not supported"},
      {"x = 1\n\n  y = (3 +)", 3, 11, "expected an expression"},
      {"from deephaven agg", 1, 16, "'import'"},
      {"a = 1 = 2", 1, 7, "unexpected '='"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memset(&d, 0, sizeof d);
    tide_status st = tide_script_parse(bad[i].src, strlen(bad[i].src), &p, &d);
    CHECK_MSG(st == TIDE_ERR_PARSE, "case %zu", i);
    CHECK_MSG(d.line == bad[i].line && d.col == bad[i].col, "case %zu: %d:%d want %d:%d (%s)",
              i, d.line, d.col, bad[i].line, bad[i].col, d.msg);
    CHECK_MSG(strstr(d.msg, bad[i].msg) != NULL, "case %zu: '%s' lacks '%s'", i, d.msg,
              bad[i].msg);
    CHECK(p.n == 0 && p.stmts == NULL);
  }
}

/* ---------------------------------------------------------- interpreter */

static char capture_buf[1 << 16];

/* Run src in a fresh interpreter; print output goes to capture_buf. */
static tide_status run(const char *src, tide_script_diag *d, tide_script_interp **keep) {
  FILE *out = tmpfile();
  tide_script_options opt = {0};
  opt.out = out;
  tide_script_interp *in = tide_script_interp_create(&opt);
  tide_status st = tide_script_exec(in, src, strlen(src), d);
  fflush(out);
  rewind(out);
  size_t n = fread(capture_buf, 1, sizeof capture_buf - 1, out);
  capture_buf[n] = 0;
  fclose(out);
  if (keep) *keep = in;
  else tide_script_interp_free(in);
  return st;
}

static void check_repr(tide_script_interp *in, const char *name, const char *want) {
  char buf[512] = "";
  bool ok = tide_script_get_repr(in, name, buf, sizeof buf);
  CHECK_MSG(ok && strcmp(buf, want) == 0, "%s = %s, want %s", name, ok ? buf : "<unbound>", want);
}

static void expect_error(const char *src, int line, int col, const char *msg) {
  tide_script_diag d;
  tide_status st = run(src, &d, NULL);
  CHECK_MSG(st != TIDE_OK, "no error for: %s", src);
  CHECK_MSG(d.line == line && d.col == col, "%d:%d want %d:%d (%s) for: %s", d.line, d.col, line,
            col, d.msg, src);
  CHECK_MSG(strstr(d.msg, msg) != NULL, "'%s' lacks '%s' for: %s", d.msg, msg, src);
}

static void test_values(void) {
  tide_script_interp *in;
  tide_script_diag d;
  const char *src =
      "# every value kind\n"
      "i = 42\n"
      "neg = -7\n"
      "f = 2.5\n"
      "f2 = 1e20\n"
      "f3 = 0.1 + 0.2\n"
      "whole = 3.0\n"
      "s = 'he said \"hi\"'\n"
      "s2 = \"it's\"\n"
      "b = True\n"
      "nb = False\n"
      "n = None\n"
      "l = [1, 'a', [2.5, None], (3, 4)]\n"
      "empty = []\n"
      "d = {'x': 1, \"y\": [True]}\n"
      "arith = (1 + 2) * 3 - 10 / 4\n"
      "idiv = 7 % 3 + -7 % 3 + -7 // 2 + 7 // 2 + 7.5 // 2\n"
      "cat = 'ab' + \"cd\"\n"
      "lcat = [1] + [2, 3]\n"
      "idx = l[1] + l[-1][0] * 0 * 0 * 0 * 0 * 0 * 0 * 0 * 0 * 0 * 0 * 0 * 0 * 0 * 0 * 0 * 0 * 0 * 0 * 0 * 0 * 0 * 0 * 0 * 0 * 0 * 0 * 0 * 0\n";
  /* the last line deliberately fails: str + int */
  CHECK(run(src, &d, &in) != TIDE_OK);
  CHECK(d.line == 20);
  check_repr(in, "i", "42");
  check_repr(in, "neg", "-7");
  check_repr(in, "f", "2.5");
  check_repr(in, "f2", "1e+20");
  check_repr(in, "f3", "0.30000000000000004");
  check_repr(in, "whole", "3.0");
  check_repr(in, "s", "'he said \"hi\"'");
  check_repr(in, "s2", "\"it's\"");
  check_repr(in, "b", "True");
  check_repr(in, "nb", "False");
  check_repr(in, "n", "None");
  check_repr(in, "l", "[1, 'a', [2.5, None], [3, 4]]");
  check_repr(in, "empty", "[]");
  check_repr(in, "d", "{'x': 1, 'y': [True]}");
  check_repr(in, "arith", "6.5");
  check_repr(in, "idiv", "5.0");
  check_repr(in, "cat", "'abcd'");
  check_repr(in, "lcat", "[1, 2, 3]");
  CHECK(!tide_script_get_repr(in, "idx", capture_buf, 16));
  check_repr(in, "agg", "<module 'agg'>");
  check_repr(in, "read_csv", "<built-in function read_csv>");
  tide_script_interp_free(in);

  /* globals persist across exec calls; reassignment replaces */
  in = tide_script_interp_create(NULL);
  const char *p1 = "a = 1\nb = a + 1", *p2 = "a = b * 10";
  CHECK(tide_script_exec(in, p1, strlen(p1), &d) == TIDE_OK);
  CHECK(tide_script_exec(in, p2, strlen(p2), &d) == TIDE_OK);
  check_repr(in, "a", "20");
  tide_script_interp_free(in);

  /* diagnostics print on exactly one line */
  {
    tide_script_diag dd = {.line = 3, .col = 4, .status = TIDE_ERR_INVALID};
    snprintf(dd.msg, sizeof dd.msg, "two\nlines\r");
    FILE *tf = tmpfile();
    tide_script_diag_print(&dd, "s.tide", tf);
    rewind(tf);
    char line[128] = "";
    size_t got = fread(line, 1, sizeof line - 1, tf);
    line[got] = 0;
    fclose(tf);
    CHECK_MSG(strcmp(line, "s.tide:3:4: error: two lines \n") == 0, "'%s'", line);
  }

  /* Python imports of the names tide provides */
  const char *imp = "import deephaven\nfrom deephaven.column import int_col, string_col as sc\n"
                    "from deephaven.agg import sum_, avg as mean\nfrom deephaven import dtypes as dht\n"
                    "from deephaven import *\nx = mean('A')\ny = dht.float64\n";
  CHECK_MSG(run(imp, &d, &in) == TIDE_OK, "%d:%d %s", d.line, d.col, d.msg);
  check_repr(in, "x", "agg.avg(['A'])");
  check_repr(in, "y", "'double'");
  check_repr(in, "sc", "<built-in function string_col>");
  tide_script_interp_free(in);
  expect_error("x = 1\nimport deephaven.nosuch as q", 2, 1, "no module named 'deephaven.nosuch'");

  /* agg specs and sort directions */
  const char *s2 =
      "from deephaven import agg as A, SortDirection\n"
      "a1 = A.sum_(['X', 'Y = Z'])\n"
      "a2 = agg.count_('N')\n"
      "a3 = agg.pct(0.25, cols='P')\n"
      "a4 = agg.weighted_avg('W', ['V'])\n"
      "a5 = agg.avg()\n"
      "sd = SortDirection.DESCENDING\n"
      "ty = dtypes.double\n"
      "ty2 = dtypes.int64\n"
      "import deephaven.agg as g2\n"
      "a6 = g2.max_('M')\n";
  CHECK_MSG(run(s2, &d, &in) == TIDE_OK, "%d:%d %s", d.line, d.col, d.msg);
  check_repr(in, "a1", "agg.sum_(['X', 'Y = Z'])");
  check_repr(in, "a2", "agg.count_(['N'])");
  check_repr(in, "a3", "agg.pct(0.25, ['P'])");
  check_repr(in, "a4", "agg.weighted_avg('W', ['V'])");
  check_repr(in, "a5", "agg.avg()");
  check_repr(in, "sd", "SortDirection.DESCENDING");
  check_repr(in, "ty", "'double'");
  check_repr(in, "ty2", "'int64'");
  check_repr(in, "a6", "agg.max_(['M'])");
  tide_script_interp_free(in);

  /* print: Python-like */
  const char *s3 =
      "print('x', 1, 2.0, None, [1, 'a'])\n"
      "print('a', 'b', sep='-', end='!\\n')\n"
      "print()\n"
      "print(str(3) + 'x', int('12') + 1, float(2), int(3.9), len([1, 2]), len('abc'))\n";
  CHECK_MSG(run(s3, &d, NULL) == TIDE_OK, "%d:%d %s", d.line, d.col, d.msg);
  CHECK_MSG(strcmp(capture_buf, "x 1 2.0 None [1, 'a']\na-b!\n\n3x 13 2.0 3 2 3\n") == 0, "got '%s'",
            capture_buf);

  /* arg() with --set values */
  const char *names[] = {"n", "name", "ratio", "flag"};
  const char *vals[] = {"12", "abc", "0.5", "true"};
  tide_script_options opt = {0};
  opt.nsets = 4;
  opt.set_names = names;
  opt.set_values = vals;
  in = tide_script_interp_create(&opt);
  const char *s4 =
      "n = arg('n', 1)\nname = arg('name')\nr = arg('ratio', 1.0)\nfl = arg('flag', False)\n"
      "dflt = arg('missing', [1])\nsn = arg('n')\n";
  CHECK_MSG(tide_script_exec(in, s4, strlen(s4), &d) == TIDE_OK, "%s", d.msg);
  check_repr(in, "n", "12");
  check_repr(in, "name", "'abc'");
  check_repr(in, "r", "0.5");
  check_repr(in, "fl", "True");
  check_repr(in, "dflt", "[1]");
  check_repr(in, "sn", "'12'");
  const char *s5 = "x = arg('name', 3)";
  CHECK(tide_script_exec(in, s5, strlen(s5), &d) != TIDE_OK);
  CHECK(strstr(d.msg, "not an integer") != NULL && d.line == 1 && d.col == 5);
  const char *s6 = "x = 1\ny = arg('nope')";
  CHECK(tide_script_exec(in, s6, strlen(s6), &d) != TIDE_OK);
  CHECK(strstr(d.msg, "--set nope=VALUE") != NULL && d.line == 2 && d.col == 5);
  tide_script_interp_free(in);
}

static void test_runtime_errors(void) {
  expect_error("x = 1\ny = nope + 1", 2, 5, "name 'nope' is not defined");
  expect_error("x = 1 + 'a'", 1, 7, "unsupported operand types for +: 'int' and 'str'");
  expect_error("x = 1 / 0", 1, 7, "division by zero");
  expect_error("x = 5 % 0", 1, 7, "modulo by zero");
  expect_error("x = 9223372036854775807 + 1", 1, 25, "integer overflow");
  expect_error("x = 3\ny = x(1)", 2, 5, "'int' object is not callable");
  expect_error("x = [1, 2]\ny = x[5]", 2, 7, "out of range");
  expect_error("x = {'a': 1}\ny = x['b']", 2, 7, "key 'b' not in dict");
  expect_error("x = 'a'.foo", 1, 9, "'str' object has no attribute 'foo'");
  expect_error("x = agg.nosuch('a')", 1, 9, "module 'agg' has no attribute 'nosuch'");
  expect_error("x = read_csv()", 1, 5, "read_csv() missing required argument 'path'");
  expect_error("x = read_csv(12)", 1, 14, "argument 'path' must be a string, not int");
  expect_error("x = read_csv('a', nope=1)", 1, 19, "unexpected keyword argument 'nope'");
  expect_error("x = read_csv('a', path='b')", 1, 19, "multiple values for argument 'path'");
  expect_error("x = len(1, 2)", 1, 12, "takes at most 1 positional argument (2 given)");
  expect_error("x = len(3)", 1, 9, "object of type 'int' has no len()");
  expect_error("x = agg.sum_(3)", 1, 14, "must be a string or a list of strings, not int");
  expect_error("x = agg.sum_(['a', 3])", 1, 14, "item 1 is int");
  expect_error("x = agg.pct(1.5, 'a')", 1, 13, "percentile must be in [0, 1]");
  expect_error("x = SortDirection.UP", 1, 19, "SortDirection has no attribute 'UP'");
  expect_error("from deephaven import nosuch", 1, 1, "cannot import name 'nosuch'");
  expect_error("x = int('1.5')", 1, 9, "not an integer");
  expect_error("x = int_col('A', [1, 'b'])", 1, 18, "item 1 is str");
  expect_error("x = byte_col('A', [1000])", 1, 19, "out of range for int8");
  expect_error("x = new_table([int_col('A', [1]), int_col('B', [1, 2])])", 1, 15,
               "has 2 values but 'A' has 1");
  expect_error("x = merge([1])", 1, 11, "not a table");
  expect_error("x = empty_table(-1)", 1, 17, "must not be negative");
}

/* Tables built in scripts (no CSV), compared against naive loops. */
static void test_tables(void) {
  tide_script_interp *in;
  tide_script_diag d;
  const char *src =
      "t = new_table([int_col('A', [3, 1, 2, None]), double_col('B', [1.5, 2.5, 3.5, 4.5]),\n"
      "               string_col('S', ['x', 'y', None, 'x']), bool_col('F', [True, False, None, True]),\n"
      "               long_col('L', [10, 20, 30, 40]), float_col('G', [1, 2, 3, 4]),\n"
      "               short_col('H', [1, 2, 3, 4]), byte_col('I', [5, 6, 7, 8])])\n"
      "n = t.size\n"
      "n2 = t.size()\n"
      "n3 = len(t)\n"
      "cols = t.columns\n"
      "e = empty_table(5)\n"
      "ne = e.size\n";
  CHECK_MSG(run(src, &d, &in) == TIDE_OK, "%d:%d %s", d.line, d.col, d.msg);
  check_repr(in, "n", "4");
  check_repr(in, "n2", "4");
  check_repr(in, "n3", "4");
  check_repr(in, "cols", "['A', 'B', 'S', 'F', 'L', 'G', 'H', 'I']");
  check_repr(in, "ne", "5");
  check_repr(in, "t",
             "Table(rows=4, columns=[A: int32, B: double, S: string, F: bool, L: int64, "
             "G: float, H: int16, I: int8])");
  tide_table_t *t = tide_script_get_table(in, "t");
  CHECK(t != NULL);
  if (t) {
    CHECK(strcmp(tu_cell(t, "A", 0), "3") == 0);
    CHECK(strcmp(tu_cell(t, "A", 3), "null") == 0);
    CHECK(strcmp(tu_cell(t, "S", 2), "null") == 0);
    CHECK(strcmp(tu_cell(t, "S", 1), "y") == 0);
    CHECK(tu_cell_f64(t, "B", 2) == 3.5);
    CHECK(tu_cell_f64(t, "I", 3) == 8);
  }
  CHECK(tide_script_get_table(in, "n") == NULL);
  tide_script_interp_free(in);

  /* random data: where/update/sort/head/agg through scripts vs naive loops */
  tu_rng r = {tu_seed(77)};
  enum { N = 300 };
  int a[N], b[N];
  char srcbuf[16384];
  size_t o = 0;
  o += (size_t)snprintf(srcbuf + o, sizeof srcbuf - o, "t = new_table([long_col('A', [");
  for (int i = 0; i < N; i++) {
    a[i] = (int)tu_below(&r, 50) - 10;
    o += (size_t)snprintf(srcbuf + o, sizeof srcbuf - o, "%s%d", i ? ", " : "", a[i]);
  }
  o += (size_t)snprintf(srcbuf + o, sizeof srcbuf - o, "]),\n  long_col('K', [");
  for (int i = 0; i < N; i++) {
    b[i] = (int)tu_below(&r, 7);
    o += (size_t)snprintf(srcbuf + o, sizeof srcbuf - o, "%s%d", i ? ", " : "", b[i]);
  }
  o += (size_t)snprintf(srcbuf + o, sizeof srcbuf - o,
                        "])])\n"
                        "f = t.where('A > 5')  # filter\n"
                        "f2 = t.where(['A > 5', 'K != 3'])\n"
                        "u = t.update(['C = A * 2 + K'])\n"
                        "s = t.sort_descending('A').head(5)\n"
                        "s2 = t.sort(['K', 'A'], order=[SortDirection.ASCENDING, SortDirection.DESCENDING])\n"
                        "g = t.agg_by([agg.sum_('SA = A'), agg.count_('N'), agg.max_('MA = A')], by='K').sort('K')\n"
                        "g2 = t.agg_by(agg.sum_(), by=['K']).sort(order_by='K')\n"
                        "c = t.count_by('N', by=['K']).sort('K')\n"
                        "tot = t.view('A').sum_by()\n");
  CHECK_MSG(run(srcbuf, &d, &in) == TIDE_OK, "%d:%d %s", d.line, d.col, d.msg);
  tide_table_t *f = tide_script_get_table(in, "f"), *f2 = tide_script_get_table(in, "f2");
  tide_table_t *u = tide_script_get_table(in, "u"), *s = tide_script_get_table(in, "s");
  tide_table_t *s2 = tide_script_get_table(in, "s2"), *g = tide_script_get_table(in, "g");
  tide_table_t *g2 = tide_script_get_table(in, "g2"), *c = tide_script_get_table(in, "c");
  tide_table_t *tot = tide_script_get_table(in, "tot");
  if (f && f2) {
    uint64_t k = 0, k2 = 0;
    bool ok = true;
    for (int i = 0; i < N; i++) {
      if (a[i] > 5) ok &= k < tide_table_size(f) && tu_cell_f64(f, "A", k++) == a[i];
      if (a[i] > 5 && b[i] != 3) ok &= k2 < tide_table_size(f2) && tu_cell_f64(f2, "K", k2++) == b[i];
    }
    CHECK(ok && k == tide_table_size(f) && k2 == tide_table_size(f2));
  }
  if (u) {
    bool ok = tide_table_size(u) == N && tide_table_ncols(u) == 3;
    for (int i = 0; ok && i < N; i++) ok &= tu_cell_f64(u, "C", (uint64_t)i) == a[i] * 2 + b[i];
    CHECK(ok);
  }
  if (s && s2) {
    int sorted[N];
    memcpy(sorted, a, sizeof a);
    for (int i = 0; i < N; i++) /* insertion sort, descending */
      for (int j = i; j > 0 && sorted[j] > sorted[j - 1]; j--) {
        int tmp = sorted[j];
        sorted[j] = sorted[j - 1];
        sorted[j - 1] = tmp;
      }
    CHECK(tide_table_size(s) == 5);
    for (int i = 0; i < 5 && tide_table_size(s) == 5; i++) CHECK(tu_cell_f64(s, "A", (uint64_t)i) == sorted[i]);
    bool ok = tide_table_size(s2) == N;
    for (uint64_t i = 1; ok && i < N; i++) {
      double k0 = tu_cell_f64(s2, "K", i - 1), k1 = tu_cell_f64(s2, "K", i);
      ok &= k0 < k1 || (k0 == k1 && tu_cell_f64(s2, "A", i - 1) >= tu_cell_f64(s2, "A", i));
    }
    CHECK(ok);
  }
  if (g && g2 && c) {
    int64_t sum[7] = {0}, cnt[7] = {0}, mx[7];
    for (int k = 0; k < 7; k++) mx[k] = INT64_MIN;
    for (int i = 0; i < N; i++) {
      sum[b[i]] += a[i];
      cnt[b[i]]++;
      if (a[i] > mx[b[i]]) mx[b[i]] = a[i];
    }
    uint64_t row = 0;
    for (int k = 0; k < 7; k++) {
      if (!cnt[k]) continue;
      CHECK(row < tide_table_size(g));
      if (row >= tide_table_size(g)) break;
      CHECK(tu_cell_f64(g, "K", row) == k);
      CHECK(tu_cell_f64(g, "SA", row) == (double)sum[k]);
      CHECK(tu_cell_f64(g, "N", row) == (double)cnt[k]);
      CHECK(tu_cell_f64(g, "MA", row) == (double)mx[k]);
      CHECK(tu_cell_f64(g2, "A", row) == (double)sum[k]);
      CHECK(tu_cell_f64(c, "N", row) == (double)cnt[k]);
      row++;
    }
    CHECK(row == tide_table_size(g) && row == tide_table_size(g2) && row == tide_table_size(c));
    CHECK(tide_table_ncols(g2) == 2);
  }
  if (tot) {
    int64_t all = 0;
    for (int i = 0; i < N; i++) all += a[i];
    CHECK(tide_table_size(tot) == 1 && tu_cell_f64(tot, "A", 0) == (double)all);
  }
  tide_script_interp_free(in);

  /* the other methods, on a hand-checked table */
  const char *m =
      "t = new_table([string_col('K', ['a', 'b', 'a', 'c', 'b', 'a']),\n"
      "               long_col('V', [1, -2, 3, 4, -5, 6]),\n"
      "               double_col('W', [1.0, 2.0, 1.0, 0.5, 1.0, 2.0])])\n"
      "f = new_table([string_col('K', ['a', 'c'])])\n"
      "r = new_table([string_col('K', ['a', 'b']), long_col('X', [10, 20])])\n"
      "wi = t.where_in(f, 'K')\n"
      "wni = t.where_not_in(filter_table=f, cols=['K'])\n"
      "sd = t.select_distinct('K')\n"
      "hb = t.head_by(2, 'K')\n"
      "tb = t.tail_by(1, by='K')\n"
      "tl = t.tail(2)\n"
      "mg = merge(t.head(1), t.tail(1))\n"
      "ab = t.agg_by([agg.abs_sum('AS = V'), agg.count_distinct('CD = W'),\n"
      "               agg.weighted_avg('W', 'WA = V'), agg.weighted_sum('W', ['WS = V']),\n"
      "               agg.pct(0.5, 'P = V'), agg.var('VV = V'), agg.median('MD = V')], by='K').sort('K')\n"
      "fb = t.first_by('K').sort('K')\n"
      "lb = t.last_by(['K']).sort('K')\n"
      "mx = t.max_by('K').sort('K')\n"
      "mn = t.view(['K', 'V']).min_by('K').sort('K')\n"
      "av = t.view(['K', 'V']).avg_by('K').sort('K')\n"
      "nj = t.natural_join(r, 'K')\n"
      "ej = t.where('K != `c`').exact_join(r, on='K', joins='Y = X')\n"
      "ij = t.join(r, ['K'])\n"
      "sel = t.select(['K', 'D = V * 2'])\n"
      "allsel = t.select()\n"
      "uv = t.update_view('E = V + 1')\n"
      "rn = t.rename_columns('Val = V').drop_columns(['W'])\n"
      "srt = t.sort('V', order=SortDirection.DESCENDING)\n"
      "lz = t.lazy_update(['Z = W * 2'])\n"
      "meta = t.meta_table\n"
      "rf = t.is_refreshing\n";
  CHECK_MSG(run(m, &d, &in) == TIDE_OK, "%d:%d %s", d.line, d.col, d.msg);
#define COLVALS(tab, col, ...)                                                          \
  do {                                                                                  \
    tide_table_t *tt_ = tide_script_get_table(in, tab);                                 \
    const char *w_[] = {__VA_ARGS__};                                                   \
    size_t nw_ = sizeof w_ / sizeof w_[0];                                              \
    CHECK_MSG(tt_ && tide_table_size(tt_) == nw_, "%s: %llu rows, want %zu", tab,       \
              tt_ ? (unsigned long long)tide_table_size(tt_) : 0ull, nw_);              \
    for (size_t i_ = 0; tt_ && i_ < nw_ && i_ < tide_table_size(tt_); i_++) {           \
      const char *g_ = tu_cell(tt_, col, i_);                                           \
      bool eq_ = strcmp(g_, w_[i_]) == 0 ||                                             \
                 (strcmp(w_[i_], "null") && strcmp(g_, "null") &&                       \
                  fabs(strtod(g_, NULL) - strtod(w_[i_], NULL)) < 1e-9);                \
      CHECK_MSG(eq_, "%s.%s[%zu] = %s, want %s", tab, col, i_, g_, w_[i_]);             \
    }                                                                                   \
  } while (0)
  COLVALS("wi", "V", "1", "3", "4", "6");
  COLVALS("wni", "V", "-2", "-5");
  COLVALS("sd", "K", "a", "b", "c");
  /* head_by / tail_by: grouped like Deephaven (groups in order of first
   * appearance, table order within a group) */
  COLVALS("hb", "V", "1", "3", "-2", "-5", "4");
  COLVALS("tb", "V", "6", "-5", "4");
  COLVALS("tl", "V", "-5", "6");
  COLVALS("mg", "V", "1", "6");
  COLVALS("ab", "K", "a", "b", "c");
  COLVALS("ab", "AS", "10", "7", "4");
  COLVALS("ab", "CD", "2", "2", "1");
  COLVALS("ab", "WA", "4", "-3", "4");
  COLVALS("ab", "WS", "16", "-9", "2");
  COLVALS("ab", "MD", "3", "-3.5", "4");
  {
    tide_table_t *ab = tide_script_get_table(in, "ab");
    if (ab && tide_table_size(ab) == 3) {
      CHECK(tu_cell_f64(ab, "P", 0) == 3 && tu_cell_f64(ab, "P", 2) == 4);
      CHECK(fabs(tu_cell_f64(ab, "VV", 0) - 19.0 / 3.0) < 1e-12);
      CHECK(fabs(tu_cell_f64(ab, "VV", 1) - 4.5) < 1e-12);
    }
  }
  COLVALS("fb", "V", "1", "-2", "4");
  COLVALS("fb", "W", "1", "2", "0.5");
  COLVALS("lb", "V", "6", "-5", "4");
  COLVALS("mx", "W", "2", "2", "0.5");
  COLVALS("mn", "V", "1", "-5", "4");
  COLVALS("av", "V", "3.3333333333333335", "-3.5", "4");
  COLVALS("nj", "X", "10", "20", "10", "null", "20", "10");
  COLVALS("ej", "Y", "10", "20", "10", "20", "10");
  COLVALS("ij", "X", "10", "20", "10", "20", "10");
  COLVALS("sel", "D", "2", "-4", "6", "8", "-10", "12");
  COLVALS("allsel", "W", "1", "2", "1", "0.5", "1", "2");
  COLVALS("uv", "E", "2", "-1", "4", "5", "-4", "7");
  COLVALS("rn", "Val", "1", "-2", "3", "4", "-5", "6");
  COLVALS("srt", "V", "6", "4", "3", "1", "-2", "-5");
  check_repr(in, "sel", "Table(rows=6, columns=[K: string, D: int64])");
  COLVALS("lz", "Z", "2", "4", "2", "1", "2", "4");
  COLVALS("meta", "Name", "K", "V", "W");
  COLVALS("meta", "DataType", "string", "int64", "double");
  check_repr(in, "rf", "False");
  check_repr(in, "rn", "Table(rows=6, columns=[K: string, Val: int64])");
#undef COLVALS
  tide_script_interp_free(in);

  /* engine errors are reported at the failing method with its message */
  expect_error("t = new_table([int_col('A', [1])])\n"
               "u = t.update('B = A')\n"
               "v = u.where('Nope > 1')",
               3, 7, "Nope");
  expect_error("t = new_table([int_col('A', [1])])\n"
               "v = (t\n"
               "  .update('B = A')\n"
               "  .sort('Zzz'))",
               4, 4, "Zzz");
  expect_error("t = empty_table(3)\nx = t.nosuch(1)", 2, 7, "table has no method or attribute 'nosuch'");
  expect_error("t = empty_table(3)\nx = t.head('a')", 2, 12, "must be an integer");
  expect_error("t = empty_table(3)\nx = t.head(-1)", 2, 12, "must not be negative");
  expect_error("t = empty_table(3)\nx = t.agg_by([1])", 2, 14, "item 0 is int");
  expect_error("t = empty_table(3)\nx = t.natural_join(1, 'A')", 2, 20, "must be a table");
  expect_error("x = read_csv('/nonexistent/file.csv')", 1, 5, "/nonexistent/file.csv");
}

/* print/show of tables, CSV round trip, timings, run_file. */
static void test_io(void) {
  char dir[] = "/tmp/tide_script_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char csv[256], out[256], script[256];
  snprintf(csv, sizeof csv, "%s/in.csv", dir);
  snprintf(out, sizeof out, "%s/out.csv", dir);
  snprintf(script, sizeof script, "%s/s.tide", dir);
  FILE *f = fopen(csv, "w");
  fputs("Sym,Price,Size\nA,1.5,100\nB,2.0,300\nA,3.0,200\n", f);
  fclose(f);
  f = fopen(script, "w");
  fprintf(f,
          "# script file\n"
          "t = read_csv(arg('in'), types={'Size': 'double'})\n"
          "v = t.update(['N = Price * Size'])\n"
          "  # indented comment\n"
          "w = v.agg_by([agg.sum_(['N', 'Size'])],\n"
          "             by=['Sym'])\n"
          "write_csv(w.update('VWAP = N / Size'), arg('out'))\n"
          "print(w.size)\n");
  fclose(f);
  const char *names[] = {"in", "out"};
  const char *vals[] = {csv, out};
  FILE *cap = tmpfile(), *tim = tmpfile();
  tide_script_options opt = {0};
  opt.out = cap;
  opt.timings = tim;
  opt.nsets = 2;
  opt.set_names = names;
  opt.set_values = vals;
  tide_script_diag d;
  tide_status st = tide_script_run_file(script, &opt, stderr, &d);
  CHECK_MSG(st == TIDE_OK, "%d:%d %s", d.line, d.col, d.msg);
  char buf[4096];
  rewind(cap);
  size_t n = fread(buf, 1, sizeof buf - 1, cap);
  buf[n] = 0;
  CHECK_MSG(strcmp(buf, "2\n") == 0, "print: '%s'", buf);
  rewind(tim);
  n = fread(buf, 1, sizeof buf - 1, tim);
  buf[n] = 0;
  /* one "LINE: SECONDS s" per statement: lines 2, 3, 5, 7, 8 */
  int lines[8], nl = 0;
  char *p = buf;
  while (*p && nl < 8) {
    int line;
    double secs;
    int used = 0;
    if (sscanf(p, "%d: %lf s\n%n", &line, &secs, &used) != 2 || used == 0) break;
    CHECK(secs >= 0);
    lines[nl++] = line;
    p += used;
  }
  CHECK_MSG(nl == 5 && *p == 0, "timings: '%s'", buf);
  if (nl == 5) CHECK(lines[0] == 2 && lines[1] == 3 && lines[2] == 5 && lines[3] == 7 && lines[4] == 8);
  fclose(cap);
  fclose(tim);
  if (st == TIDE_OK) {
    f = fopen(out, "r");
    CHECK(f != NULL);
    if (f) {
      n = fread(buf, 1, sizeof buf - 1, f);
      buf[n] = 0;
      fclose(f);
      /* compare numerically: the writer may format doubles either way */
      const char *want_rows[3][4] = {{"Sym", "N", "Size", "VWAP"},
                                     {"A", "750", "300", "2.5"},
                                     {"B", "600", "300", "2"}};
      char *save = NULL, *line = strtok_r(buf, "\n", &save);
      int r = 0;
      bool ok = true;
      for (; line && r < 3; r++, line = strtok_r(NULL, "\n", &save)) {
        char *save2 = NULL, *fld = strtok_r(line, ",", &save2);
        for (int c = 0; c < 4; c++, fld = strtok_r(NULL, ",", &save2)) {
          if (!fld) ok = false;
          else if (r == 0 || c == 0) ok &= strcmp(fld, want_rows[r][c]) == 0;
          else ok &= strtod(fld, NULL) == strtod(want_rows[r][c], NULL);
        }
      }
      CHECK_MSG(ok && r == 3 && line == NULL, "unexpected CSV output");
    }
  }

  /* print and show of a table use the aligned table printer */
  tide_script_interp *in;
  const char *s = "t = new_table([int_col('A', [1, 2, 3]), string_col('S', ['x', 'y', 'z'])])\n"
                  "print(t)\nshow(t, n=2)\nprint('n', t)\n";
  st = run(s, &d, &in);
  CHECK_MSG(st == TIDE_OK, "%d:%d %s", d.line, d.col, d.msg);
  tide_table_t *t = tide_script_get_table(in, "t");
  if (st == TIDE_OK && t) {
    FILE *exp = tmpfile();
    tide_error err;
    CHECK(tide_table_print(t, exp, UINT64_MAX, &err) == TIDE_OK);
    CHECK(tide_table_print(t, exp, 2, &err) == TIDE_OK);
    fputs("n\n", exp);
    CHECK(tide_table_print(t, exp, UINT64_MAX, &err) == TIDE_OK);
    rewind(exp);
    n = fread(buf, 1, sizeof buf - 1, exp);
    buf[n] = 0;
    fclose(exp);
    CHECK_MSG(strcmp(buf, capture_buf) == 0, "print/show:\n%s\nwant:\n%s", capture_buf, buf);
  }
  tide_script_interp_free(in);

  /* run_file on a missing file, and a failing file prints one line */
  CHECK(tide_script_run_file("/nonexistent/x.tide", NULL, NULL, &d) == TIDE_ERR_IO);
  f = fopen(script, "w");
  fputs("x = 1\ny = [1,\n  2, zz]\n", f);
  fclose(f);
  FILE *errs = tmpfile();
  CHECK(tide_script_run_file(script, NULL, errs, &d) == TIDE_ERR_NOT_FOUND);
  rewind(errs);
  n = fread(buf, 1, sizeof buf - 1, errs);
  buf[n] = 0;
  fclose(errs);
  char want[512];
  snprintf(want, sizeof want, "%s:3:6: error: name 'zz' is not defined\n", script);
  CHECK_MSG(strcmp(buf, want) == 0, "got '%s' want '%s'", buf, want);
  remove(csv);
  remove(out);
  remove(script);
  rmdir(dir);
}

/* Random mutations of a valid script: parse and run must never crash or
 * leak (ASan), and every failure must carry a position and a message. */
static void test_fuzz(void) {
  static const char base[] =
      "from deephaven import agg\n"
      "t = new_table([string_col('K', ['a', 'b', 'a']), long_col('V', [1, 2, 3]),\n"
      "               double_col('W', [0.5, 1.5, None])])\n"
      "u = t.where(\"V > 1\").update([\"X = V * 2\"])  # comment\n"
      "g = t.agg_by([agg.sum_('V'), agg.count_('N')], by=['K']).sort('K')\n"
      "h = t.head_by(1, by='K').tail(2)\n"
      "x = [1, 2.5, 'a', None, True, {'k': (1, 2)}][-1]['k'][0] + 3 * -2 / 4 % 5\n"
      "s = 'a' + \"b\" + '''c'''\n"
      "print(len(t), t.size, x, s, sep='-')\n";
  static const char alphabet[] = "()[]{},.:;=+-*/%#'\"\\\n \tabxyzKVW0123456789_`";
  tu_rng r = {tu_seed(99)};
  size_t n = strlen(base);
  char buf[sizeof base + 64];
  FILE *devnull = fopen("/dev/null", "w");
  int ok_runs = 0, failed_runs = 0;
  for (int iter = 0; iter < 1500; iter++) {
    memcpy(buf, base, n + 1);
    size_t len = n;
    int muts = 1 + (int)tu_below(&r, 4);
    for (int m = 0; m < muts; m++) {
      size_t pos = tu_below(&r, len);
      switch (tu_below(&r, 3)) {
        case 0: buf[pos] = alphabet[tu_below(&r, sizeof alphabet - 1)]; break;
        case 1: /* delete */
          memmove(buf + pos, buf + pos + 1, len - pos);
          len--;
          break;
        default: /* insert */
          if (len + 1 < sizeof buf) {
            memmove(buf + pos + 1, buf + pos, len - pos + 1);
            buf[pos] = alphabet[tu_below(&r, sizeof alphabet - 1)];
            len++;
          }
      }
    }
    tide_script_options opt = {0};
    opt.out = devnull;
    tide_script_interp *in = tide_script_interp_create(&opt);
    tide_script_diag d;
    tide_status st = tide_script_exec(in, buf, len, &d);
    if (st == TIDE_OK) {
      ok_runs++;
    } else {
      failed_runs++;
      CHECK_MSG(d.line >= 1 && d.col >= 1 && d.msg[0], "iter %d: %d:%d '%s'", iter, d.line, d.col,
                d.msg);
    }
    tide_script_interp_free(in);
  }
  fclose(devnull);
  CHECK(ok_runs > 0 && failed_runs > 0);
}

/* Hostile scripts: very deep expressions are errors (not stack overflows),
 * NUL characters in strings are errors (C strings would be cut there). */
static void expect_deep_error(const char *prefix, const char *unit, const char *suffix, int n,
                              const char *msg) {
  size_t pl = strlen(prefix), ul = strlen(unit), sl = strlen(suffix);
  char *src = malloc(pl + ul * (size_t)n + sl + 1);
  memcpy(src, prefix, pl);
  for (int i = 0; i < n; i++) memcpy(src + pl + ul * (size_t)i, unit, ul);
  memcpy(src + pl + ul * (size_t)n, suffix, sl + 1);
  tide_script_diag d;
  tide_status st = run(src, &d, NULL);
  CHECK_MSG(st != TIDE_OK, "no error for %s%s x %d", prefix, unit, n);
  CHECK_MSG(d.line == 1 && d.col >= 1 && strstr(d.msg, msg), "%d:%d '%s' for %s%s x %d", d.line,
            d.col, d.msg, prefix, unit, n);
  free(src);
}

static void test_hostile(void) {
  expect_deep_error("x = ", "-", "1", 200000, "too deeply");
  expect_deep_error("x = 1", "+1", "", 200000, "too deeply");
  expect_deep_error("x = agg", ".a", "", 100000, "too deeply");
  expect_deep_error("x = print", "()", "", 100000, "too deeply");
  expect_deep_error("x = [1]", "[0]", "", 100000, "too deeply");
  expect_deep_error("x = ", "(", "", 100000, "too deeply");
  /* long but reasonable expressions still work */
  char src[8192];
  size_t o = (size_t)sprintf(src, "x = 1");
  for (int i = 0; i < 500; i++) o += (size_t)sprintf(src + o, "+1");
  sprintf(src + o, "\ny = %s1", "- - - - - - - - - - - - - - - - - - - - ");
  tide_script_interp *in;
  tide_script_diag d;
  CHECK_MSG(run(src, &d, &in) == TIDE_OK, "%s", d.msg);
  check_repr(in, "x", "501");
  check_repr(in, "y", "1");
  tide_script_interp_free(in);
  expect_error("x = 'a\\0b'", 1, 7, "NUL");
  expect_error("x = 'a\\x00b'", 1, 7, "NUL");
  static const char raw[] = "x = 'a\0b'";
  tide_script_options opt = {0};
  opt.out = stdout;
  in = tide_script_interp_create(&opt);
  CHECK(tide_script_exec(in, raw, sizeof raw - 1, &d) != TIDE_OK);
  CHECK_MSG(d.line == 1 && d.col == 7 && strstr(d.msg, "NUL"), "%d:%d %s", d.line, d.col, d.msg);
  tide_script_interp_free(in);
}

int main(void) {
  test_fuzz();
  test_lexer();
  test_parser();
  test_values();
  test_runtime_errors();
  test_tables();
  test_io();
  test_hostile();
  return tu_finish("test_script");
}
