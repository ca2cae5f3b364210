/*
 * Formula language: parsing, typing and evaluation of every operator,
 * function, literal kind and null rule against values computed directly in
 * C over a random table (with nulls, more rows than a chunk); filters
 * (fast paths and selection refinement) against naive selections; error
 * messages with positions.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "core/expr.h"
#include "testutil.h"

#define N 9000
#define NI TIDE_NULL_I64
#define ND TIDE_NULL_F64
#define NB TIDE_NULL_BOOL

static int8_t cB8[N];
static int16_t cS16[N];
static int32_t cI[N];
static int64_t cL[N];
static float cF[N];
static double cD[N];
static int8_t cFlag[N];
static int64_t cT[N];
static const char *cStr[N];
static const char *cSym[N];
static const char *cSym2[N];
/* widened copies (nulls as int64/double sentinels) */
static int64_t wB8[N], wS16[N], wI[N], wL[N];
static double wF[N], wD[N];
static tide_table_t *T;
static uint64_t seed;

static const char *strs[] = {"apple", "banana", "cherry", "apricot", "", "grape", NULL};
static const char *syms[] = {"AAPL", "MSFT", "GOOG", "IBM", NULL};

static void build(void) {
  tu_rng r = {seed};
  for (size_t j = 0; j < N; j++) {
    bool nul = tu_below(&r, 10) == 0;
    cB8[j] = tu_below(&r, 12) == 0 ? TIDE_NULL_I8 : (int8_t)((int)tu_below(&r, 201) - 100);
    cS16[j] = tu_below(&r, 12) == 0 ? TIDE_NULL_I16 : (int16_t)((int)tu_below(&r, 60001) - 30000);
    cI[j] = nul ? TIDE_NULL_I32 : (int32_t)((int)tu_below(&r, 41) - 20);
    cL[j] = tu_below(&r, 10) == 0 ? NI : (int64_t)tu_below(&r, 2000001) - 1000000;
    cF[j] = tu_below(&r, 10) == 0 ? TIDE_NULL_F32 : (float)((int)tu_below(&r, 801) - 400) * 0.25f;
    cD[j] = tu_below(&r, 10) == 0 ? ND : (tu_unit(&r) - 0.5) * 2000.0;
    if (tu_below(&r, 20) == 0) cD[j] = 0.0;
    cFlag[j] = tu_below(&r, 8) == 0 ? NB : (int8_t)tu_below(&r, 2);
    cT[j] = tu_below(&r, 10) == 0 ? NI
                                  : (int64_t)tu_below(&r, UINT64_C(6000000000000000000)) -
                                        INT64_C(3000000000000000000);
    cStr[j] = strs[tu_below(&r, 7)];
    cSym[j] = syms[tu_below(&r, 5)];
    cSym2[j] = syms[tu_below(&r, 5)];
    wB8[j] = cB8[j] == TIDE_NULL_I8 ? NI : cB8[j];
    wS16[j] = cS16[j] == TIDE_NULL_I16 ? NI : cS16[j];
    wI[j] = cI[j] == TIDE_NULL_I32 ? NI : cI[j];
    wL[j] = cL[j];
    wF[j] = cF[j] == TIDE_NULL_F32 ? ND : cF[j];
    wD[j] = cD[j];
  }
  const char *names[] = {"B8", "S16", "I", "L", "F", "D", "Flag", "T", "Str", "Sym", "Sym2"};
  tide_type_t types[] = {TIDE_I8,  TIDE_I16, TIDE_I32, TIDE_I64,    TIDE_F32,   TIDE_F64,
                         TIDE_BOOL, TIDE_TS, TIDE_STRING, TIDE_SYMBOL, TIDE_SYMBOL};
  const void *cols[] = {cB8, cS16, cI, cL, cF, cD, cFlag, cT, cStr, cSym, cSym2};
  T = tu_table(N, 11, names, types, cols);
}

/* Evaluate f over every row of t; returns a malloc'd array of n values.
 * The expression stays alive until the next call (string literals). */
static tide_expr_t *last_e;
static void *ev_all(tide_table_t *t, const char *f, tide_type_t *type) {
  tide_error err;
  tide__expr_free(last_e);
  last_e = NULL;
  tide_expr_schema_t sc = tide__expr_schema_of(t);
  tide_expr_t *e = tide__expr_compile("test", f, 0, &sc, 0, &err);
  CHECK_MSG(e != NULL, "compile %s: %s", f, err.msg);
  if (!e) return NULL;
  *type = tide__expr_type(e);
  uint64_t n = tide_table_size(t);
  size_t w = tide_type_width(*type);
  unsigned char *buf = calloc(n + 1, 8);
  tide_expr_scratch_t *s = tide__expr_scratch_create(e);
  tide_rowset_iter_t it;
  tide_rowset_iter_init(&it, tide_table_rowset(t));
  tide_rowseq_t seq;
  uint64_t kb[TIDE_CHUNK_SIZE];
  int k = 0;
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, kb)) {
    /* alternate between reusable scratch and per-call scratch */
    tide_status st = tide__expr_eval(e, t->cols, &seq, NULL, buf + seq.pos * w, k++ % 2 ? s : NULL);
    CHECK(st == TIDE_OK);
  }
  tide__expr_scratch_free(s);
  last_e = e;
  return buf;
}

/* Filter: returns a 0/1 per-row array. */
static int8_t *filter_all(tide_table_t *t, const char *f) {
  tide_error err;
  tide_expr_schema_t sc = tide__expr_schema_of(t);
  tide_expr_t *e = tide__expr_compile("where", f, 0, &sc, TIDE_EXPR_FILTER, &err);
  CHECK_MSG(e != NULL, "compile %s: %s", f, err.msg);
  if (!e) return NULL;
  uint64_t n = tide_table_size(t);
  int8_t *res = calloc(n + 1, 1);
  tide_rowset_iter_t it;
  tide_rowset_iter_init(&it, tide_table_rowset(t));
  tide_rowseq_t seq;
  uint64_t kb[TIDE_CHUNK_SIZE];
  uint32_t sel[TIDE_CHUNK_SIZE];
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, kb)) {
    uint32_t cnt = 0;
    CHECK(tide__expr_filter(e, t->cols, &seq, NULL, sel, &cnt, NULL) == TIDE_OK);
    for (uint32_t j = 0; j < cnt; j++) {
      CHECK(j == 0 || sel[j] > sel[j - 1]);
      res[seq.pos + sel[j]] = 1;
    }
  }
  tide__expr_free(e);
  return res;
}

#define CHECK_VALUES(F, TY, CT, EXPR, EQ, FMT, CAST)                                     \
  do {                                                                                   \
    tide_type_t ty_;                                                                     \
    CT *v_ = ev_all(T, F, &ty_);                                                         \
    if (v_) {                                                                            \
      CHECK_MSG(ty_ == (TY), "%s: type %s", F, tide_type_name(ty_));                     \
      int bad_ = 0;                                                                      \
      for (size_t j = 0; j < N && bad_ < 3 && ty_ == (TY); j++) {                        \
        CT ex_ = (EXPR);                                                                 \
        CT got_ = v_[j];                                                                 \
        if (!(EQ)) {                                                                     \
          bad_++;                                                                        \
          CHECK_MSG(0, "%s row %zu: got " FMT " want " FMT " (seed %llu)", F, j,         \
                    CAST(got_), CAST(ex_), (unsigned long long)seed);                    \
        }                                                                                \
      }                                                                                  \
      tu_checks++;                                                                       \
      free(v_);                                                                          \
    }                                                                                    \
  } while (0)

#define LL(x) ((long long)(x))
#define DD(x) ((double)(x))
#define SS(x) ((x) ? (x) : "(null)")
#define CHECK_I64(F, EXPR) CHECK_VALUES(F, TIDE_I64, int64_t, EXPR, got_ == ex_, "%lld", LL)
#define CHECK_I32(F, EXPR) CHECK_VALUES(F, TIDE_I32, int32_t, EXPR, got_ == ex_, "%lld", LL)
#define CHECK_TS(F, EXPR) CHECK_VALUES(F, TIDE_TS, int64_t, EXPR, got_ == ex_, "%lld", LL)
#define CHECK_BOOL(F, EXPR) CHECK_VALUES(F, TIDE_BOOL, int8_t, EXPR, got_ == ex_, "%lld", LL)
#define CHECK_F64(F, EXPR) CHECK_VALUES(F, TIDE_F64, double, EXPR, deq(got_, ex_), "%.17g", DD)
#define CHECK_STR(F, EXPR) CHECK_VALUES(F, TIDE_STRING, const char *, EXPR, seq_(got_, ex_), "%s", SS)

static bool deq(double a, double b) {
  if (a == b) return true;
  if (isnan(a) && isnan(b)) return true;
  if (a == ND || b == ND) return false;
  return fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b));
}
static bool seq_(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }

/* reference helpers */
static int64_t addi(int64_t a, int64_t b) { return a == NI || b == NI ? NI : a + b; }
static int64_t subi(int64_t a, int64_t b) { return a == NI || b == NI ? NI : a - b; }
static int64_t muli(int64_t a, int64_t b) { return a == NI || b == NI ? NI : a * b; }
static int64_t modi(int64_t a, int64_t b) { return a == NI || b == NI || b == 0 ? NI : a % b; }
static double i2d(int64_t a) { return a == NI ? ND : (double)a; }
static double addd(double a, double b) { return a == ND || b == ND ? ND : a + b; }
static double muld(double a, double b) { return a == ND || b == ND ? ND : a * b; }
static double divd(double a, double b) { return a == ND || b == ND ? ND : a / b; }
/* three-way compare with null lowest */
static int c3i(int64_t a, int64_t b) { return (a > b) - (a < b); }
static int c3d(double a, double b) {
  bool an = a == ND, bn = b == ND;
  if (an || bn) return an && bn ? 0 : an ? -1 : 1;
  return (a > b) - (a < b);
}
static int c3s(const char *a, const char *b) {
  if (!a || !b) return !a && !b ? 0 : !a ? -1 : 1;
  int r = strcmp(a, b);
  return (r > 0) - (r < 0);
}
static int8_t opres(int op, int c) {
  switch (op) {
    case 0: return c < 0;
    case 1: return c <= 0;
    case 2: return c > 0;
    case 3: return c >= 0;
    case 4: return c == 0;
    default: return c != 0;
  }
}
static const char *opnames[] = {"<", "<=", ">", ">=", "==", "!="};
static int8_t and3(int8_t a, int8_t b) {
  return (a == 0 || b == 0) ? 0 : (a == 1 && b == 1) ? 1 : NB;
}
static int8_t or3(int8_t a, int8_t b) {
  return (a == 1 || b == 1) ? 1 : (a == 0 && b == 0) ? 0 : NB;
}
static int8_t not3(int8_t a) { return a == NB ? NB : !a; }
static int8_t bi(bool b) { return (int8_t)b; }

static void test_arith(void) {
  CHECK_I64("L + I", addi(wL[j], wI[j]));
  CHECK_I64("L - I", subi(wL[j], wI[j]));
  CHECK_I64("L * I", muli(wL[j], wI[j]));
  CHECK_I64("L % I", modi(wL[j], wI[j]));
  CHECK_I64("B8 + S16 * 2", addi(wB8[j], muli(wS16[j], 2)));
  CHECK_I64("(B8 + S16) * 2", muli(addi(wB8[j], wS16[j]), 2));
  CHECK_I64("L - I - 3", subi(subi(wL[j], wI[j]), 3));
  CHECK_I64("-L", wL[j] == NI ? NI : -wL[j]);
  CHECK_I64("- -I", wI[j]);
  CHECK_I64("I + null", NI);
  CHECK_F64("L / I", divd(i2d(wL[j]), i2d(wI[j])));
  CHECK_F64("L / 4", divd(i2d(wL[j]), 4.0));
  CHECK_F64("D + I", addd(wD[j], i2d(wI[j])));
  CHECK_F64("F * 2.5", muld(wF[j], 2.5));
  CHECK_F64("D / F", divd(wD[j], wF[j]));
  CHECK_F64("D % 7", wD[j] == ND ? ND : fmod(wD[j], 7.0));
  CHECK_F64("-D", wD[j] == ND ? ND : -wD[j]);
  CHECK_F64("D * null", ND);
  CHECK_F64("1 / 0", INFINITY);
  CHECK_F64("-1 / 0", -INFINITY);
  CHECK_F64("D / 0.0", wD[j] == ND ? ND : wD[j] / 0.0);
  CHECK_I64("I % 0", NI);
  /* timestamps */
  CHECK_TS("T + 1000", wL[0] == wL[0] && cT[j] == NI ? NI : cT[j] + 1000);
  CHECK_TS("T - L", cT[j] == NI || wL[j] == NI ? NI : cT[j] - wL[j]);
  CHECK_I64("T - T", cT[j] == NI ? NI : 0);
}

static void test_literals(void) {
  CHECK_I64("42", 42);
  CHECK_I64("10L", 10);
  CHECK_I64("-7", -7);
  CHECK_I64("9223372036854775807", INT64_MAX);
  CHECK_F64("1e3", 1000.0);
  CHECK_F64("2.5e-1", 0.25);
  CHECK_F64(".5", 0.5);
  CHECK_F64("3.", 3.0);
  CHECK_F64("1.5E+2", 150.0);
  CHECK_F64("2f", 2.0);
  CHECK_BOOL("true", 1);
  CHECK_BOOL("false", 0);
  CHECK_STR("`abc`", "abc");
  CHECK_STR("\"dq \\\"x\\\"\"", "dq \"x\"");
  CHECK_STR("``", "");
  int64_t ts;
  CHECK(tide_ts_parse("2024-01-02T09:30:00Z", 20, &ts));
  CHECK_TS("'2024-01-02T09:30:00Z'", ts);
  CHECK_TS("'2024-01-02T09:30:00Z' + 5", ts + 5);
  CHECK_BOOL("'2024-01-02T09:30:00Z' < '2024-01-03'", 1);
  CHECK_I64("i", (int64_t)j);
  CHECK_I64("ii * 2", (int64_t)j * 2);
  CHECK_I64("((((1))))", 1);
}

static void test_compare(void) {
  char f[128];
  const char *lhs[] = {"I", "L", "B8", "S16"};
  const int64_t *lv[] = {wI, wL, wB8, wS16};
  for (int op = 0; op < 6; op++) {
    for (int a = 0; a < 4; a++) {
      snprintf(f, sizeof f, "%s %s L", lhs[a], opnames[op]);
      CHECK_BOOL(f, opres(op, c3i(lv[a][j], wL[j])));
      snprintf(f, sizeof f, "%s %s 3", lhs[a], opnames[op]);
      CHECK_BOOL(f, opres(op, c3i(lv[a][j], 3)));
      snprintf(f, sizeof f, "%s %s D", lhs[a], opnames[op]);
      CHECK_BOOL(f, opres(op, c3d(i2d(lv[a][j]), wD[j])));
    }
    snprintf(f, sizeof f, "D %s F", opnames[op]);
    CHECK_BOOL(f, opres(op, c3d(wD[j], wF[j])));
    snprintf(f, sizeof f, "F %s 2.5", opnames[op]);
    CHECK_BOOL(f, opres(op, c3d(wF[j], 2.5)));
    snprintf(f, sizeof f, "D %s null", opnames[op]);
    CHECK_BOOL(f, opres(op, c3d(wD[j], ND)));
    snprintf(f, sizeof f, "null %s I", opnames[op]);
    CHECK_BOOL(f, opres(op, c3i(NI, wI[j])));
    snprintf(f, sizeof f, "Str %s `banana`", opnames[op]);
    CHECK_BOOL(f, opres(op, c3s(cStr[j], "banana")));
    snprintf(f, sizeof f, "Sym %s Sym2", opnames[op]);
    CHECK_BOOL(f, opres(op, c3s(cSym[j], cSym2[j])));
    snprintf(f, sizeof f, "Sym %s `GOOG`", opnames[op]);
    CHECK_BOOL(f, opres(op, c3s(cSym[j], "GOOG")));
    snprintf(f, sizeof f, "Sym %s Str", opnames[op]);
    CHECK_BOOL(f, opres(op, c3s(cSym[j], cStr[j])));
    snprintf(f, sizeof f, "T %s T", opnames[op]);
    CHECK_BOOL(f, opres(op, 0));
    snprintf(f, sizeof f, "T %s '2000-01-01'", opnames[op]);
    CHECK_BOOL(f, opres(op, c3i(cT[j], INT64_C(946684800000000000))));
    snprintf(f, sizeof f, "Flag %s true", opnames[op]);
    CHECK_BOOL(f, opres(op, c3i(cFlag[j], 1)));
  }
  CHECK_BOOL("Sym == `NOPE`", 0);
  CHECK_BOOL("Sym != `NOPE`", 1);
  CHECK_BOOL("Sym == Sym", 1);
  CHECK_BOOL("Sym == null", cSym[j] == NULL);
  CHECK_BOOL("Str != null", cStr[j] != NULL);
  CHECK_BOOL("null == null", 1);
  CHECK_BOOL("1 < 2.5", 1);
}

static void test_logic(void) {
  CHECK_BOOL("Flag && I > 0", and3(cFlag[j], bi(c3i(wI[j], 0) > 0)));
  CHECK_BOOL("Flag || I > 0", or3(cFlag[j], bi(c3i(wI[j], 0) > 0)));
  CHECK_BOOL("!Flag", not3(cFlag[j]));
  CHECK_BOOL("!(I > 0)", !(c3i(wI[j], 0) > 0));
  CHECK_BOOL("Flag && null", and3(cFlag[j], NB));
  CHECK_BOOL("Flag || null", or3(cFlag[j], NB));
  CHECK_BOOL("I > 0 || L < 0 && Flag",
             or3(bi(c3i(wI[j], 0) > 0), and3(bi(c3i(wL[j], 0) < 0), cFlag[j])));
  CHECK_BOOL("(I > 0 || L < 0) && Flag",
             and3(or3(bi(c3i(wI[j], 0) > 0), bi(c3i(wL[j], 0) < 0)), cFlag[j]));
  CHECK_BOOL("1 < 2 == true", 1);
  /* ternary */
  CHECK_I64("I > 0 ? L : I", wI[j] > 0 ? wL[j] : wI[j]);
  CHECK_F64("I > 0 ? D : I", wI[j] > 0 ? wD[j] : i2d(wI[j]));
  CHECK_I64("Flag ? 1 : 2", cFlag[j] == NB ? NI : cFlag[j] ? 1 : 2);
  CHECK_STR("Flag ? Str : `x`", cFlag[j] == NB ? NULL : cFlag[j] ? cStr[j] : "x");
  CHECK_STR("I > 0 ? Sym : Sym2", wI[j] > 0 ? cSym[j] : cSym2[j]);
  CHECK_I64("I > 0 ? 1 : I < 0 ? -1 : 0", wI[j] > 0 ? 1 : wI[j] < 0 ? -1 : 0 /* null < 0 */);
  CHECK_I64("I > 0 ? L : null", wI[j] > 0 ? wL[j] : NI);
  /* in */
  CHECK_BOOL("I in 1, 2, 3", wI[j] == 1 || wI[j] == 2 || wI[j] == 3);
  CHECK_BOOL("I not in 1, -2", !(wI[j] == 1 || wI[j] == -2));
  CHECK_BOOL("I in 1, 2.0", wI[j] == 1 || wI[j] == 2);
  CHECK_BOOL("I in null, 0", wI[j] == NI || wI[j] == 0);
  CHECK_BOOL("Sym in `AAPL`, `IBM`, `ZZZ`",
             cSym[j] && (!strcmp(cSym[j], "AAPL") || !strcmp(cSym[j], "IBM")));
  CHECK_BOOL("Sym not in `AAPL`", !(cSym[j] && !strcmp(cSym[j], "AAPL")));
  CHECK_BOOL("Str in `apple`, ``", cStr[j] && (!strcmp(cStr[j], "apple") || !*cStr[j]));
  CHECK_BOOL("D in 0.0, 1.5", wD[j] == 0.0);
  CHECK_BOOL("Flag in true", cFlag[j] == 1);
  CHECK_BOOL("I in 1, 2 && Flag", and3(bi(wI[j] == 1 || wI[j] == 2), cFlag[j]));
}

static void test_functions(void) {
  CHECK_I64("abs(I)", wI[j] == NI ? NI : llabs(wI[j]));
  CHECK_F64("abs(D)", wD[j] == ND ? ND : fabs(wD[j]));
  CHECK_F64("sqrt(abs(D))", wD[j] == ND ? ND : sqrt(fabs(wD[j])));
  CHECK_F64("sqrt(I)", wI[j] == NI ? ND : sqrt((double)wI[j]));
  CHECK_F64("log(D)", wD[j] == ND ? ND : log(wD[j]));
  CHECK_F64("exp(F / 100)", wF[j] == ND ? ND : exp(wF[j] / 100));
  CHECK_F64("pow(I, 2)", wI[j] == NI ? ND : pow((double)wI[j], 2.0));
  CHECK_F64("pow(D, 0.5)", wD[j] == ND ? ND : pow(wD[j], 0.5));
  CHECK_I64("min(I, B8)", wI[j] == NI || wB8[j] == NI ? NI : wI[j] < wB8[j] ? wI[j] : wB8[j]);
  CHECK_I64("max(I, B8)", wI[j] == NI || wB8[j] == NI ? NI : wI[j] > wB8[j] ? wI[j] : wB8[j]);
  CHECK_F64("max(I, D)", wI[j] == NI || wD[j] == ND ? ND : fmax((double)wI[j], wD[j]));
  CHECK_F64("min(F, D)", wF[j] == ND || wD[j] == ND ? ND : fmin(wF[j], wD[j]));
  CHECK_TS("max(T, T)", cT[j]);
  CHECK_F64("floor(D)", wD[j] == ND ? ND : floor(wD[j]));
  CHECK_F64("ceil(F)", wF[j] == ND ? ND : ceil(wF[j]));
  CHECK_F64("floor(I)", i2d(wI[j]));
  CHECK_I64("round(D)", wD[j] == ND ? NI : (int64_t)floor(wD[j] + 0.5));
  CHECK_I64("round(F)", wF[j] == ND ? NI : (int64_t)floor(wF[j] + 0.5));
  CHECK_I64("round(L)", wL[j]);
  CHECK_BOOL("isNull(I)", wI[j] == NI);
  CHECK_BOOL("!isNull(D)", wD[j] != ND);
  CHECK_BOOL("isNull(F)", wF[j] == ND);
  CHECK_BOOL("isNull(Flag)", cFlag[j] == NB);
  CHECK_BOOL("isNull(T)", cT[j] == NI);
  CHECK_BOOL("isNull(Str)", cStr[j] == NULL);
  CHECK_BOOL("isNull(Sym)", cSym[j] == NULL);
  CHECK_BOOL("isNull(L + I)", wL[j] == NI || wI[j] == NI);
  CHECK_BOOL("isNull(null)", 1);
  /* strings */
  CHECK_BOOL("Str.startsWith(`ap`)", cStr[j] ? !strncmp(cStr[j], "ap", 2) : NB);
  CHECK_BOOL("Str.endsWith(`e`)",
             cStr[j] ? (strlen(cStr[j]) >= 1 && cStr[j][strlen(cStr[j]) - 1] == 'e') : NB);
  CHECK_BOOL("Str.contains(`an`)", cStr[j] ? strstr(cStr[j], "an") != NULL : NB);
  CHECK_BOOL("Str.contains(``)", cStr[j] ? 1 : NB);
  CHECK_I64("Str.length()", cStr[j] ? (int64_t)strlen(cStr[j]) : NI);
  CHECK_BOOL("Sym.startsWith(`A`)", cSym[j] ? cSym[j][0] == 'A' : NB);
  CHECK_BOOL("Sym.contains(`O`)", cSym[j] ? strchr(cSym[j], 'O') != NULL : NB);
  CHECK_I64("Sym.length() + 1", cSym[j] ? (int64_t)strlen(cSym[j]) + 1 : NI);
  CHECK_BOOL("Str.startsWith(Str)", cStr[j] ? 1 : NB);
  /* timestamp parts (UTC) against gmtime_r */
  struct tm tms[N];
  for (size_t j = 0; j < N; j++) {
    if (cT[j] == NI) continue;
    int64_t s = cT[j] / 1000000000, rem = cT[j] % 1000000000;
    if (rem < 0) s--;
    time_t tt = (time_t)s;
    gmtime_r(&tt, &tms[j]);
  }
  CHECK_I64("year(T)", cT[j] == NI ? NI : tms[j].tm_year + 1900);
  CHECK_I64("month(T)", cT[j] == NI ? NI : tms[j].tm_mon + 1);
  CHECK_I64("dayOfMonth(T)", cT[j] == NI ? NI : tms[j].tm_mday);
  CHECK_I64("hourOfDay(T)", cT[j] == NI ? NI : tms[j].tm_hour);
  CHECK_I64("minuteOfHour(T)", cT[j] == NI ? NI : tms[j].tm_min);
  CHECK_I64("secondOfMinute(T)", cT[j] == NI ? NI : tms[j].tm_sec);
  CHECK_I64("year('2024-02-29T23:59:59Z')", 2024);
  CHECK_I64("dayOfMonth('2024-02-29T23:59:59Z')", 29);
  CHECK_I64("secondOfMinute('1969-12-31T23:59:58.5Z')", 58);
  /* casts */
  CHECK_F64("(double)I", i2d(wI[j]));
  CHECK_F64("(double)I / 2", wI[j] == NI ? ND : wI[j] / 2.0);
  CHECK_I64("(long)D", wD[j] == ND ? NI : (int64_t)wD[j]);
  CHECK_I32("(int)D", wD[j] == ND ? TIDE_NULL_I32 : (int32_t)wD[j]);
  CHECK_I64("(int)D + 0", wD[j] == ND ? NI : (int64_t)(int32_t)wD[j]);
  CHECK_I32("(int)(L * 5000)", wL[j] == NI ? TIDE_NULL_I32 : (int32_t)(uint32_t)(wL[j] * 5000));
  CHECK_I64("(int)(L * 5000) * 1", wL[j] == NI ? NI : (int64_t)(int32_t)(uint32_t)(wL[j] * 5000));
  CHECK_I32("(int)1e20", INT32_MAX);
  CHECK_I64("(long)T", cT[j]);
  CHECK_I64("(long)1e30", INT64_MAX);
}

/* Result types and plain column references keeping their type. */
static void test_types(void) {
  tide_error err;
  tide_expr_schema_t sc = tide__expr_schema_of(T);
  struct {
    const char *f;
    tide_type_t t;
  } cases[] = {{"I", TIDE_I32},       {"B8", TIDE_I8},       {"F", TIDE_F32},
               {"Sym", TIDE_SYMBOL},  {"Str", TIDE_STRING},  {"I + 0", TIDE_I64},
               {"F + 0", TIDE_F64},   {"Flag", TIDE_BOOL},   {"T", TIDE_TS},
               {"I > 1 ? Sym : Sym", TIDE_SYMBOL},           {"I > 1 ? Sym : Sym2", TIDE_STRING},
               {"I > 1 ? Sym : `x`", TIDE_STRING},           {"(I)", TIDE_I32},
               {"(double)D", TIDE_F64},     {"(int)D", TIDE_I32},
               {"(long)I", TIDE_I64}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    tide_expr_t *e = tide__expr_compile("t", cases[k].f, 0, &sc, 0, &err);
    CHECK_MSG(e && tide__expr_type(e) == cases[k].t, "%s: %s", cases[k].f,
              e ? tide_type_name(tide__expr_type(e)) : err.msg);
    if (e && cases[k].t == TIDE_SYMBOL)
      CHECK(tide__expr_symtab(e) == tide_source_symtab(T->cols[9]));
    tide__expr_free(e);
  }
  /* plain column values keep storage type */
  tide_type_t ty;
  int32_t *vi = ev_all(T, "I", &ty);
  if (vi) {
    CHECK(memcmp(vi, cI, sizeof cI) == 0);
    free(vi);
  }
  int32_t *vs = ev_all(T, "Flag ? Sym : Sym", &ty);
  if (vs) {
    const tide_symtab_t *st = tide_source_symtab(T->cols[9]);
    int bad = 0;
    for (size_t j = 0; j < N; j++) {
      const char *ex = cFlag[j] == NB ? NULL : cSym[j];
      bad += !seq_(tide_symtab_str(st, vs[j]), ex);
    }
    CHECK_MSG(bad == 0, "symbol ternary: %d bad", bad);
    free(vs);
  }
  /* referenced columns */
  tide_expr_t *e = tide__expr_compile("t", "L + I * L > D && Sym == `A` || i > 3", 0, &sc, 0, &err);
  CHECK_OK_PTR(e, err);
  if (e) {
    CHECK(tide__expr_ncolumns(e) == 4);
    const char *want[] = {"L", "I", "D", "Sym"};
    for (size_t k = 0; k < 4 && k < tide__expr_ncolumns(e); k++) {
      CHECK(!strcmp(tide__expr_column_name(e, k), want[k]));
      CHECK(tide__expr_column_index(e, k) == tide_table_col_index(T, want[k]));
    }
    CHECK(tide__expr_uses_i(e));
    CHECK(tide__expr_has_missing_symbols(e));
    tide__expr_free(e);
  }
  e = tide__expr_compile("t", "Sym", 0, &sc, 0, &err);
  int col = -1;
  CHECK(e && tide__expr_is_column(e, &col) && col == 9 && !tide__expr_uses_i(e));
  tide__expr_free(e);
  /* table wrappers */
  e = tide__expr_compile("t", "I + 1", 0, &sc, 0, &err);
  tide_expr_t *ef = tide__expr_compile("t", "I > 0", 0, &sc, TIDE_EXPR_FILTER, &err);
  if (e && ef) {
    int64_t out[100];
    uint32_t sel[100], cnt = 0, m = 0;
    tide_rowseq_t sq = {0, NULL, 0, 100};
    CHECK(tide__expr_eval_table(e, T, &sq, out) == TIDE_OK);
    CHECK(tide__expr_filter_table(ef, T, &sq, sel, &cnt) == TIDE_OK);
    bool ok = true;
    for (uint32_t j = 0; j < 100; j++) {
      ok = ok && out[j] == (wI[j] == NI ? NI : wI[j] + 1);
      if (wI[j] > 0) ok = ok && m < cnt && sel[m++] == j;
    }
    CHECK(ok && m == cnt);
  }
  tide__expr_free(e);
  tide__expr_free(ef);
  /* a start offset: positions stay relative to the whole formula */
  e = tide__expr_compile("update", "X = I +", 3, &sc, 0, &err);
  CHECK(e == NULL);
  CHECK_MSG(strstr(err.msg, "update: \"X = I +\": unexpected end of formula at position 8"), "%s",
            err.msg);
}

/* Filters: fast paths for every column type and operator against naive
 * selections; refinement of && ; generic filters. */
static void test_filters(void) {
  tu_rng r = {seed ^ 0x5555};
  char f[160];
  const char *icols[] = {"B8", "S16", "I", "L"};
  const int64_t *iv[] = {wB8, wS16, wI, wL};
  for (int op = 0; op < 6; op++) {
    for (int c = 0; c < 4; c++) {
      int64_t lit = c == 0 ? (int64_t)tu_below(&r, 300) - 150 : (int64_t)tu_below(&r, 41) - 20;
      if (c == 1) lit *= 1000;
      if (c == 3) lit *= 50000;
      snprintf(f, sizeof f, "%s %s %lld", icols[c], opnames[op], (long long)lit);
      int8_t *s = filter_all(T, f);
      int bad = 0;
      for (size_t j = 0; s && j < N; j++) bad += s[j] != opres(op, c3i(iv[c][j], lit));
      CHECK_MSG(s && bad == 0, "%s: %d bad (seed %llu)", f, bad, (unsigned long long)seed);
      free(s);
      /* literal on the left */
      snprintf(f, sizeof f, "%lld %s %s", (long long)lit, opnames[op], icols[c]);
      s = filter_all(T, f);
      bad = 0;
      for (size_t j = 0; s && j < N; j++) bad += s[j] != opres(op, c3i(lit, iv[c][j]));
      CHECK_MSG(s && bad == 0, "%s: %d bad", f, bad);
      free(s);
      /* against a double literal */
      double dl = (double)lit + 0.5;
      snprintf(f, sizeof f, "%s %s %.1f", icols[c], opnames[op], dl);
      s = filter_all(T, f);
      bad = 0;
      for (size_t j = 0; s && j < N; j++) bad += s[j] != opres(op, c3d(i2d(iv[c][j]), dl));
      CHECK_MSG(s && bad == 0, "%s: %d bad", f, bad);
      free(s);
    }
    double dl = (double)((int)tu_below(&r, 400) - 200) * 0.25;
    snprintf(f, sizeof f, "F %s %.2f", opnames[op], dl);
    int8_t *s = filter_all(T, f);
    int bad = 0;
    for (size_t j = 0; s && j < N; j++) bad += s[j] != opres(op, c3d(wF[j], dl));
    CHECK_MSG(s && bad == 0, "%s: %d bad", f, bad);
    free(s);
    snprintf(f, sizeof f, "D %s %.2f", opnames[op], dl * 4);
    s = filter_all(T, f);
    bad = 0;
    for (size_t j = 0; s && j < N; j++) bad += s[j] != opres(op, c3d(wD[j], dl * 4));
    CHECK_MSG(s && bad == 0, "%s: %d bad", f, bad);
    free(s);
    snprintf(f, sizeof f, "T %s '1990-06-01T12:00:00Z'", opnames[op]);
    int64_t tl;
    CHECK(tide_ts_parse("1990-06-01T12:00:00Z", 20, &tl));
    s = filter_all(T, f);
    bad = 0;
    for (size_t j = 0; s && j < N; j++) bad += s[j] != opres(op, c3i(cT[j], tl));
    CHECK_MSG(s && bad == 0, "%s: %d bad", f, bad);
    free(s);
    snprintf(f, sizeof f, "Flag %s false", opnames[op]);
    s = filter_all(T, f);
    bad = 0;
    for (size_t j = 0; s && j < N; j++) bad += s[j] != opres(op, c3i(cFlag[j], 0));
    CHECK_MSG(s && bad == 0, "%s: %d bad", f, bad);
    free(s);
    snprintf(f, sizeof f, "Str %s `banana`", opnames[op]);
    s = filter_all(T, f);
    bad = 0;
    for (size_t j = 0; s && j < N; j++) bad += s[j] != opres(op, c3s(cStr[j], "banana"));
    CHECK_MSG(s && bad == 0, "%s: %d bad", f, bad);
    free(s);
    snprintf(f, sizeof f, "`IBM` %s Sym", opnames[op]);
    s = filter_all(T, f);
    bad = 0;
    for (size_t j = 0; s && j < N; j++) bad += s[j] != opres(op, c3s("IBM", cSym[j]));
    CHECK_MSG(s && bad == 0, "%s: %d bad", f, bad);
    free(s);
  }
  /* the fast path is taken for `col op literal` on every column type */
  {
    const char *fast[] = {"I > 3",         "3 < L",        "B8 == 1",      "S16 != -5",
                          "F <= 2.5",      "D >= 1",       "I > 2.5",      "Flag == true",
                          "T > '2020-01-01'", "Str == `a`", "Sym == `AAPL`", "`IBM` != Sym"};
    const char *slow[] = {"I > L", "Flag", "D > null", "Str > null", "isNull(I)"};
    const char *fast2[] = {"I + 1 > 3", "3 >= abs(L)", "Str.length() == 5",
                           "D * 2 < 1.5", "year(T) != 2000", "(Flag || I > 0) == false",
                           "(I > 0 ? Sym : Sym) == `IBM`", "`b` < (Flag ? Str : `a`)"};
    tide_error err2;
    tide_expr_schema_t sc2 = tide__expr_schema_of(T);
    for (size_t k = 0; k < sizeof fast / sizeof fast[0]; k++) {
      tide_expr_t *e = tide__expr_compile("where", fast[k], 0, &sc2, TIDE_EXPR_FILTER, &err2);
      CHECK_MSG(e && e->root->fast == 1, "%s: no fast path", fast[k]);
      tide__expr_free(e);
    }
    /* ordered comparisons of a symbol with a string literal: per code */
    const char *fast3[] = {"Sym < `B`", "`IBM` <= Sym", "Sym >= `MSFT`", "Sym > ``",
                           "(I > 0 ? Sym : Sym) >= `IBM`", "`zzz` > Sym"};
    for (size_t k = 0; k < sizeof fast3 / sizeof fast3[0]; k++) {
      tide_expr_t *e = tide__expr_compile("where", fast3[k], 0, &sc2, TIDE_EXPR_FILTER, &err2);
      CHECK_MSG(e && e->root->fast == 3, "%s: no per-code fast path", fast3[k]);
      tide__expr_free(e);
      int8_t *sv = filter_all(T, fast3[k]);
      tide_type_t ty;
      int8_t *v = ev_all(T, fast3[k], &ty);
      int bad = 0;
      for (size_t j = 0; sv && v && j < N; j++) bad += sv[j] != (v[j] == 1);
      CHECK_MSG(sv && v && bad == 0, "%s: %d bad", fast3[k], bad);
      free(sv);
      free(v);
    }
    for (size_t k = 0; k < sizeof fast2 / sizeof fast2[0]; k++) {
      tide_expr_t *e = tide__expr_compile("where", fast2[k], 0, &sc2, TIDE_EXPR_FILTER, &err2);
      CHECK_MSG(e && e->root->fast == 2, "%s: no expression fast path", fast2[k]);
      tide__expr_free(e);
      /* and the selection equals the value evaluation */
      int8_t *sv = filter_all(T, fast2[k]);
      tide_type_t ty;
      int8_t *v = ev_all(T, fast2[k], &ty);
      int bad = 0;
      for (size_t j = 0; sv && v && j < N; j++) bad += sv[j] != (v[j] == 1);
      CHECK_MSG(sv && v && bad == 0, "%s: %d bad", fast2[k], bad);
      free(sv);
      free(v);
    }
    for (size_t k = 0; k < sizeof slow / sizeof slow[0]; k++) {
      tide_expr_t *e = tide__expr_compile("where", slow[k], 0, &sc2, TIDE_EXPR_FILTER, &err2);
      CHECK_MSG(e && !e->root->fast, "%s: fast path", slow[k]);
      tide__expr_free(e);
    }
    /* symbol equality compares codes found at compile time */
    tide_expr_t *e = tide__expr_compile("where", "Sym == `MSFT`", 0, &sc2, TIDE_EXPR_FILTER, &err2);
    CHECK(e && e->root->otype == TIDE_SYMBOL &&
          e->root->flit.sym == tide_symtab_find(tide_source_symtab(T->cols[9]), "MSFT", 4));
    tide__expr_free(e);
  }
  /* generic filters, conjunction refinement (with i), null -> false */
  struct {
    const char *f;
  } gen[] = {{"Flag"},
             {"!Flag"},
             {"Flag && I > 0"},
             {"I > 0 && L < 0 && Sym == `AAPL`"},
             {"I > 0 && (L < 0 && i % 3 == 0)"},
             {"(I > 0 && L < 0) && i % 3 == 0"},
             {"I > 0 || Flag"},
             {"i % 2 == 0 && ii > 100"},
             {"Sym in `AAPL`, `IBM` && Str.startsWith(`a`)"},
             {"isNull(D) && !isNull(I)"},
             {"!isNull(L) && I > -15 && i % 3 == 0"},
             {"!isNull(L) && (I > -15 && (!isNull(D) && Sym != `IBM`))"},
             {"I > -18 && i % 5 != 0 && Flag"},
             {"I > 0 ? Flag : L > 0"}};
  for (size_t k = 0; k < sizeof gen / sizeof gen[0]; k++) {
    int8_t *s = filter_all(T, gen[k].f);
    tide_type_t ty;
    int8_t *v = ev_all(T, gen[k].f, &ty);
    int bad = 0;
    for (size_t j = 0; s && v && j < N; j++) bad += s[j] != (v[j] == 1);
    CHECK_MSG(s && v && bad == 0, "%s: %d bad", gen[k].f, bad);
    free(s);
    free(v);
  }
  /* direct naive check of a refined conjunction using i */
  int8_t *s = filter_all(T, "I > 0 && L < 0 && i % 3 == 0");
  int bad = 0;
  for (size_t j = 0; s && j < N; j++)
    bad += s[j] != (wI[j] > 0 && wL[j] < 0 /* null too */ && j % 3 == 0);
  CHECK_MSG(s && bad == 0, "refined conjunction: %d bad", bad);
  free(s);
  /* explicit sparse keys with explicit positions */
  tide_error err;
  tide_expr_schema_t sc = tide__expr_schema_of(T);
  tide_expr_t *e = tide__expr_compile("where", "I >= 0 && i % 2 == 1", 0, &sc, TIDE_EXPR_FILTER, &err);
  CHECK_OK_PTR(e, err);
  if (e) {
    uint64_t keys[100], posv[100];
    uint32_t sel[100], cnt = 0;
    for (int k = 0; k < 100; k++) {
      keys[k] = (uint64_t)(k * 37 % N);
      posv[k] = (uint64_t)k;
    }
    tide_rowseq_t seqk = {0, keys, 0, 100};
    CHECK(tide__expr_filter(e, T->cols, &seqk, posv, sel, &cnt, NULL) == TIDE_OK);
    uint32_t m = 0;
    bool ok = true;
    for (uint32_t k = 0; k < 100; k++) {
      bool want = wI[keys[k]] >= 0 && k % 2 == 1;
      if (want) ok = ok && m < cnt && sel[m++] == k;
    }
    CHECK_MSG(ok && m == cnt, "sparse filter");
    tide__expr_free(e);
  }
}

static void expect_error(const char *f, unsigned flags, tide_status st, const char *msg) {
  tide_error err;
  tide_error_clear(&err);
  tide_expr_schema_t sc = tide__expr_schema_of(T);
  tide_expr_t *e = tide__expr_compile("where", f, 0, &sc, flags, &err);
  CHECK_MSG(e == NULL, "%s: compiled", f);
  tide__expr_free(e);
  CHECK_MSG(err.status == st, "%s: status %s (%s)", f, tide_status_str(err.status), err.msg);
  CHECK_MSG(strstr(err.msg, msg) != NULL, "%s: message '%s' lacks '%s'", f, err.msg, msg);
}

static void test_errors(void) {
  const unsigned F = TIDE_EXPR_FILTER;
  expect_error("I >> 3", F, TIDE_ERR_PARSE, "where: \"I >> 3\": unexpected '>' at position 4");
  expect_error("Size >> 3", F, TIDE_ERR_NOT_FOUND, "no column 'Size' at position 1");
  expect_error("Szie > 3", F, TIDE_ERR_NOT_FOUND, "(columns: B8, S16, I, L, F, D, Flag, T, Str, Sym, Sym2)");
  expect_error("Sym + 1", 0, TIDE_ERR_TYPE, "cannot apply '+' to symbol 'Sym' and int64 '1' at position 5");
  expect_error("D > `abc`", F, TIDE_ERR_TYPE,
               "cannot compare double 'D' with string '`abc`' using '>' at position 3");
  expect_error("I = 3", F, TIDE_ERR_PARSE, "unexpected '=' at position 3");
  expect_error("I + 1", F, TIDE_ERR_TYPE, "a filter must be a boolean expression");
  expect_error("`abc", 0, TIDE_ERR_PARSE, "unterminated string literal starting at position 1");
  expect_error("T > '2024-13-45'", F, TIDE_ERR_PARSE, "bad time literal '2024-13-45' at position 5");
  expect_error("foo(I)", 0, TIDE_ERR_PARSE, "unknown function 'foo' at position 1");
  expect_error("Str.bar()", 0, TIDE_ERR_PARSE, "unknown method 'bar' at position 5");
  expect_error("sqrt(I, 2)", 0, TIDE_ERR_PARSE, "sqrt() takes 1 argument but got 2");
  expect_error("sqrt(Str)", 0, TIDE_ERR_TYPE, "sqrt() needs a numeric argument, got string 'Str'");
  expect_error("year(I)", 0, TIDE_ERR_TYPE, "year() needs a timestamp argument");
  expect_error("I.startsWith(`a`)", 0, TIDE_ERR_TYPE, "needs a string receiver");
  expect_error("", 0, TIDE_ERR_PARSE, "empty expression at position 1");
  expect_error("I I", 0, TIDE_ERR_PARSE, "unexpected 'I' at position 3");
  expect_error("(I + 1", 0, TIDE_ERR_PARSE, "expected ')' but found end of formula at position 7");
  expect_error("I + #", 0, TIDE_ERR_PARSE, "unexpected '#' at position 5");
  expect_error("Flag && I", F, TIDE_ERR_TYPE, "'&&' needs boolean operands, but the right operand 'I' is int64");
  expect_error("!I", 0, TIDE_ERR_TYPE, "'!' needs a boolean operand");
  expect_error("-Str", 0, TIDE_ERR_TYPE, "unary '-' needs a numeric operand");
  expect_error("I ? 1 : 2", 0, TIDE_ERR_TYPE, "'?:' needs a boolean condition");
  expect_error("Flag ? 1 : `x`", 0, TIDE_ERR_TYPE, "'?:' branches have incompatible types");
  expect_error("I in 1, `x`", F, TIDE_ERR_TYPE, "cannot compare int64 'I' with string '`x`' in 'in'");
  expect_error("I in L", F, TIDE_ERR_PARSE, "'in' needs literal values");
  expect_error("null", 0, TIDE_ERR_TYPE, "cannot infer the type of null");
  expect_error("99999999999999999999", 0, TIDE_ERR_PARSE, "integer literal out of range at position 1");
  expect_error("T + T", 0, TIDE_ERR_TYPE, "cannot apply '+' to timestamp 'T' and timestamp 'T'");
  expect_error("(String)I", 0, TIDE_ERR_TYPE, "unsupported cast to String");
  expect_error("(long)Str", 0, TIDE_ERR_TYPE, "cannot cast string 'Str' to long");
  {
    char deep[1200];
    memset(deep, '(', 600);
    strcpy(deep + 600, "I");
    expect_error(deep, 0, TIDE_ERR_PARSE, "formula nested too deeply");
    memset(deep, '-', 600);
    strcpy(deep + 600, "I");
    expect_error(deep, 0, TIDE_ERR_PARSE, "formula nested too deeply");
  }
  expect_error("Flag && (I > 1 || Str)", F, TIDE_ERR_TYPE, "'||' needs boolean operands");
  /* formula split */
  tide_error err;
  char name[64];
  size_t start = 0;
  CHECK(tide__formula_split("update", " X  = I + 1", name, sizeof name, &start, &err) &&
        !strcmp(name, "X") && start == 5);
  CHECK(tide__formula_split("update", "X", name, sizeof name, &start, &err) && start == SIZE_MAX);
  CHECK(!tide__formula_split("update", "X == 1", name, sizeof name, &start, &err));
  CHECK(strstr(err.msg, "update: \"X == 1\": expected 'Name = expression'") != NULL);
  CHECK(!tide__formula_split("update", "1X = 2", name, sizeof name, &start, &err));
}

/* Evaluation over explicit keys (any order) equals evaluation at those rows. */
static void test_keys(void) {
  tide_error err;
  tide_expr_schema_t sc = tide__expr_schema_of(T);
  const char *fs[] = {"L * 2 + I", "D / F", "Sym == `MSFT` ? Str : `z`", "I", "Sym", "i + 1"};
  tu_rng r = {seed ^ 77};
  for (size_t k = 0; k < sizeof fs / sizeof fs[0]; k++) {
    tide_expr_t *e = tide__expr_compile("t", fs[k], 0, &sc, 0, &err);
    CHECK_OK_PTR(e, err);
    if (!e) continue;
    tide_type_t ty;
    unsigned char *full = ev_all(T, fs[k], &ty);
    size_t w = tide_type_width(ty);
    uint64_t keys[500], posv[500];
    for (int j = 0; j < 500; j++) {
      keys[j] = tu_below(&r, N);
      posv[j] = keys[j];
    }
    unsigned char out[500 * 8];
    tide_rowseq_t sq = {0, keys, 0, 500};
    CHECK(tide__expr_eval(e, T->cols, &sq, posv, out, NULL) == TIDE_OK);
    int bad = 0;
    for (int j = 0; full && j < 500; j++) {
      if (ty == TIDE_STRING) {
        const char *a = *(const char **)(out + j * w), *b = *(const char **)(full + keys[j] * w);
        bad += !seq_(a, b);
      } else {
        bad += memcmp(out + j * w, full + keys[j] * w, w) != 0;
      }
    }
    CHECK_MSG(bad == 0, "%s over keys: %d bad", fs[k], bad);
    free(full);
    tide__expr_free(e);
  }
}

int main(void) {
  seed = tu_seed(20261121);
  build();
  test_arith();
  test_literals();
  test_compare();
  test_logic();
  test_functions();
  test_types();
  test_filters();
  test_errors();
  test_keys();
  tide__expr_free(last_e);
  tide_table_free(T);
  if (tu_failures) fprintf(stderr, "seed %llu\n", (unsigned long long)seed);
  return tu_finish("test_expr");
}
