/*
 * `tide backfill` (cli/backfill.c), run as the real binary (TIDE_BIN):
 * six dates of random trades (one date with 0 rows, one with 1 row, null
 * symbols, prices and quantities) written as historical partitions into
 * two partitions; a script with a where, an update formula and sum / avg /
 * count by a symbol, backfilled per date to CSV and to historical
 * partitions. Each output is compared exactly (rows sorted as text) with
 *   - a naive C recomputation from the generated values (grouping by date
 *     and symbol), and
 *   - the same query over the concatenated data: one historical_table()
 *     of all dates, grouped by Date too, run in this process.
 * Prices are multiples of 1/64 and quantities integers, so every sum is
 * exact whatever the summation order (per date, or morsels of the whole
 * table): the comparison can be exact. Also: a date range, the progress
 * lines, --quiet, --dates-of, and the errors (missing db, bad range, bad
 * date, unknown --out variable, a script error on one date with the dates
 * before it kept, an existing date refused before anything runs).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/script.h"
#include "testutil.h"
#include "tide/historical.h"
#include "tide/ops.h"

static char g_dir[256], g_db[320];
static const char *g_bin;

#define NDATES 6
#define NSYMS 7
static const char *g_dates[NDATES] = {"2026-03-02", "2026-03-03", "2026-03-04",
                                      "2026-03-05", "2026-03-06", "2026-03-09"};
static const uint64_t g_nrows[NDATES] = {3000, 0, 4500, 1, 2600, 3700};
static const char *g_syms[NSYMS + 1] = {"AAPL", "MSFT", "GOOG", "IBM", "ORCL", "SAP", "TSLA",
                                        NULL};

/* the generated values, per date */
typedef struct day {
  uint64_t n;
  int *sym;     /* index into g_syms; NSYMS = null */
  double *px;   /* TIDE_NULL_F64 = null */
  int64_t *qty; /* TIDE_NULL_I64 = null */
  int *side;    /* 0 B, 1 S, 2 null, 3 a string with , " and a newline */
} day;
static day g_day[NDATES];

static void run_sh(const char *what, const char *cmd) {
  if (system(cmd) != 0) {
    fprintf(stderr, "backfill: %s failed: %s\n", what, cmd);
    abort();
  }
}

static void mkdirs(const char *rel) {
  char cmd[800];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s'", g_db, rel);
  run_sh("mkdir", cmd);
}

static void link_rel(const char *target, const char *rel) {
  char p[800];
  snprintf(p, sizeof p, "%s/%s", g_db, rel);
  if (symlink(target, p) != 0) abort();
}

/* a namespace with partitions 0 and 1, both writable */
static void make_ns(const char *ns) {
  char r[256];
  snprintf(r, sizeof r, "Systems/%s/Partitions/0", ns);
  mkdirs(r);
  snprintf(r, sizeof r, "Systems/%s/Partitions/1", ns);
  mkdirs(r);
  snprintf(r, sizeof r, "Systems/%s/WritablePartitions", ns);
  mkdirs(r);
  snprintf(r, sizeof r, "Systems/%s/WritablePartitions/0", ns);
  link_rel("../Partitions/0", r);
  snprintf(r, sizeof r, "Systems/%s/WritablePartitions/1", ns);
  link_rel("../Partitions/1", r);
}

static void gen_data(void) {
  tu_rng r = {tu_seed(4242)};
  static const tide_codec_t codecs[3] = {TIDE_CODEC_NONE, TIDE_CODEC_LZ4, TIDE_CODEC_ZSTD};
  /* a value the CSV output must quote: comma, quotes, newline */
  static const char *sides[4] = {"B", "S", NULL, "q,\"u\"\nv"};
  for (int d = 0; d < NDATES; d++) {
    day *y = &g_day[d];
    uint64_t n = y->n = g_nrows[d];
    y->sym = malloc((n + 1) * sizeof *y->sym);
    y->px = malloc((n + 1) * sizeof *y->px);
    y->qty = malloc((n + 1) * sizeof *y->qty);
    y->side = malloc((n + 1) * sizeof *y->side);
    const char **symv = malloc((n + 1) * sizeof *symv), **sidev = malloc((n + 1) * sizeof *sidev);
    for (uint64_t i = 0; i < n; i++) {
      y->sym[i] = tu_below(&r, 20) == 0 ? NSYMS : (int)tu_below(&r, NSYMS);
      y->px[i] = tu_below(&r, 15) == 0 ? TIDE_NULL_F64 : (double)tu_below(&r, 64 * 500) / 64.0;
      y->qty[i] = tu_below(&r, 12) == 0 ? TIDE_NULL_I64 : (int64_t)tu_below(&r, 100);
      y->side[i] = (int)tu_below(&r, 4);
      symv[i] = g_syms[y->sym[i]];
      sidev[i] = sides[y->side[i]];
    }
    const char *names[4] = {"Sym", "Px", "Qty", "Side"};
    tide_type_t types[4] = {TIDE_SYMBOL, TIDE_F64, TIDE_I64,
                            TIDE_STRING};
    const void *cols[4] = {symv, y->px, y->qty, sidev};
    tide_table_t *t = tu_table(n, 4, names, types, cols);
    tide_error err;
    tide_error_clear(&err);
    tide_status st = tide_historical_write(g_db, "Mkt", "Trades", g_dates[d], t, codecs[d % 3], &err);
    CHECK_OK(st, err);
    tide_table_free(t);
    free(symv);
    free(sidev);
  }
  /* "Odd": the column Px is called Price on the third date */
  for (int d = 0; d < 4; d++) {
    double px[2] = {1.5, 2.5};
    const char *names[1] = {d == 2 ? "Price" : "Px"};
    tide_type_t types[1] = {TIDE_F64};
    const void *cols[1] = {px};
    tide_table_t *t = tu_table(2, 1, names, types, cols);
    tide_error err;
    tide_error_clear(&err);
    tide_status st = tide_historical_write(g_db, "Mkt", "Odd", g_dates[d], t, TIDE_CODEC_LZ4, &err);
    CHECK_OK(st, err);
    tide_table_free(t);
  }
}

/* ---------------------------------------------------- canonical rows */

typedef struct lines {
  char **v;
  size_t n, cap;
} lines;

static void lines_add(lines *l, const char *s) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 256;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
  }
  l->v[l->n++] = strdup(s);
}

static void lines_free(lines *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* a number as compared: %.17g, nulls (and NaN) "null" */
static void num(char *buf, size_t cap, double v) {
  if (isnan(v)) snprintf(buf, cap, "null");
  else snprintf(buf, cap, "%.17g", v + 0.0);
}

/* The rows of t as "v1|v2|..." over cols (numbers as num(), text as is),
 * sorted. */
static lines table_lines(const tide_table_t *t, const char *const *cols, size_t ncols) {
  lines l = {0};
  uint64_t n = tide_table_size(t);
  char row[1024], cell[256];
  int idx[16];
  for (size_t c = 0; c < ncols; c++) {
    idx[c] = tide_table_col_index(t, cols[c]);
    CHECK_MSG(idx[c] >= 0, "no column %s", cols[c]);
    if (idx[c] < 0) return l;
  }
  for (uint64_t i = 0; i < n; i++) {
    size_t o = 0;
    for (size_t c = 0; c < ncols; c++) {
      tide_type_t ty = tide_table_col_type(t, (size_t)idx[c]);
      if (ty == TIDE_STRING || ty == TIDE_SYMBOL)
        snprintf(cell, sizeof cell, "%s", tu_cell(t, cols[c], i));
      else
        num(cell, sizeof cell, tu_cell_f64(t, cols[c], i));
      o += (size_t)snprintf(row + o, sizeof row - o, "%s%s", c ? "|" : "", cell);
    }
    lines_add(&l, row);
  }
  qsort(l.v, l.n, sizeof *l.v, cmp_str);
  return l;
}

/* CHECK that a and b hold the same rows; prints the first difference. */
static void same_lines(const char *what, lines *a, lines *b) {
  bool same = a->n == b->n;
  size_t i = 0;
  for (; same && i < a->n; i++) same = !strcmp(a->v[i], b->v[i]);
  CHECK_MSG(same, "%s: %zu vs %zu rows; first difference at %zu: '%s' vs '%s'", what, a->n, b->n,
            same ? 0 : (i ? i - 1 : 0), i && i - 1 < a->n ? a->v[i - 1] : "-",
            i && i - 1 < b->n ? b->v[i - 1] : "-");
}

/* ------------------------------------------------ naive expectations */

static const char *AGG_COLS[] = {"Date", "Sym", "SumN", "SumQ", "AvgPx", "N"};
static const char *CNT_COLS[] = {"Date", "Sym", "Rows"};
static const char *BIG_COLS[] = {"Date", "Sym", "Px", "Qty", "Side", "Notional"};

static const char *sym_text(int s) { return s == NSYMS ? "null" : g_syms[s]; }

/* dates with index in [d0, d1] */
static lines naive_agg(int d0, int d1) {
  lines l = {0};
  char row[512], a[64], b[64], c[64], e[64];
  for (int d = d0; d <= d1; d++) {
    double sumn[NSYMS + 1] = {0}, sumpx[NSYMS + 1] = {0};
    int64_t sumq[NSYMS + 1] = {0}, n[NSYMS + 1] = {0}, nn[NSYMS + 1] = {0}, npx[NSYMS + 1] = {0};
    const day *y = &g_day[d];
    for (uint64_t i = 0; i < y->n; i++) {
      if (y->qty[i] == TIDE_NULL_I64 || y->qty[i] <= 10) continue; /* where Qty > 10 */
      int s = y->sym[i];
      n[s]++;
      sumq[s] += y->qty[i];
      if (y->px[i] != TIDE_NULL_F64) {
        sumn[s] += y->px[i] * (double)y->qty[i];
        nn[s]++;
        sumpx[s] += y->px[i];
        npx[s]++;
      }
    }
    for (int s = 0; s <= NSYMS; s++) {
      if (!n[s]) continue;
      num(a, sizeof a, nn[s] ? sumn[s] : NAN);
      num(b, sizeof b, (double)sumq[s]);
      num(c, sizeof c, npx[s] ? sumpx[s] / (double)npx[s] : NAN);
      num(e, sizeof e, (double)n[s]);
      snprintf(row, sizeof row, "%s|%s|%s|%s|%s|%s", g_dates[d], sym_text(s), a, b, c, e);
      lines_add(&l, row);
    }
  }
  qsort(l.v, l.n, sizeof *l.v, cmp_str);
  return l;
}

static lines naive_cnt(int d0, int d1) {
  lines l = {0};
  char row[256];
  for (int d = d0; d <= d1; d++) {
    int64_t n[NSYMS + 1] = {0};
    for (uint64_t i = 0; i < g_day[d].n; i++) n[g_day[d].sym[i]]++;
    for (int s = 0; s <= NSYMS; s++)
      if (n[s]) {
        snprintf(row, sizeof row, "%s|%s|%lld", g_dates[d], sym_text(s), (long long)n[s]);
        lines_add(&l, row);
      }
  }
  qsort(l.v, l.n, sizeof *l.v, cmp_str);
  return l;
}

static lines naive_big(int d0, int d1) {
  lines l = {0};
  char row[512], a[64], b[64], c[64];
  static const char *sides[4] = {"B", "S", "null", "q,\"u\"\nv"};
  for (int d = d0; d <= d1; d++) {
    const day *y = &g_day[d];
    for (uint64_t i = 0; i < y->n; i++) {
      if (y->qty[i] == TIDE_NULL_I64 || y->qty[i] <= 10) continue;
      bool pnull = y->px[i] == TIDE_NULL_F64;
      num(a, sizeof a, pnull ? NAN : y->px[i]);
      num(b, sizeof b, (double)y->qty[i]);
      num(c, sizeof c, pnull ? NAN : y->px[i] * (double)y->qty[i]);
      snprintf(row, sizeof row, "%s|%s|%s|%s|%s|%s", g_dates[d], sym_text(y->sym[i]), a, b,
               sides[y->side[i]], c);
      lines_add(&l, row);
    }
  }
  qsort(l.v, l.n, sizeof *l.v, cmp_str);
  return l;
}

/* ------------------------------------------------------- running */

static char g_err_path[400], g_out_path[400];

/* Run `tide ARGS` with stdout and stderr to files; returns the exit code. */
static int tide(const char *args) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s >'%s' 2>'%s'", g_dir, g_bin, args, g_out_path,
           g_err_path);
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char g_errbuf[16384];
static const char *err_text(void) {
  FILE *f = fopen(g_err_path, "r");
  size_t n = f ? fread(g_errbuf, 1, sizeof g_errbuf - 1, f) : 0;
  if (f) fclose(f);
  g_errbuf[n] = 0;
  return g_errbuf;
}

static void write_file(const char *name, const char *text) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", g_dir, name);
  FILE *f = fopen(p, "w");
  if (!f) abort();
  fputs(text, f);
  fclose(f);
}

static bool exists(const char *rel) {
  char p[512];
  struct stat sb;
  snprintf(p, sizeof p, "%s/%s", g_dir, rel);
  return stat(p, &sb) == 0;
}

static tide_table_t *read_out_csv(const char *rel) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", g_dir, rel);
  tide_csv_options_t o;
  tide_csv_options_init(&o);
  const char *tn[3] = {"Date", "Sym", "Side"};
  tide_type_t tt[3] = {TIDE_STRING, TIDE_STRING, TIDE_STRING};
  o.ntypes = strstr(rel, "big") ? 3 : 2; /* Side only in big */
  o.type_names = tn;
  o.types = tt;
  tide_error err;
  tide_error_clear(&err);
  tide_table_t *t = tide_read_csv(p, &o, &err);
  CHECK_OK_PTR(t, err);
  return t;
}

static const char *SCRIPT =
    "t = historical_table(\"Mkt\", \"Trades\")\n"
    "big = t.where(\"Qty > 10\").update([\"Notional = Px * Qty\"])\n"
    "agg1 = big.agg_by([agg.sum_([\"SumN = Notional\", \"SumQ = Qty\"]), agg.avg(\"AvgPx = Px\"),"
    " agg.count_(\"N\")], by=[\"Sym\"])\n"
    "cnt = t.count_by(\"Rows\", by=[\"Sym\"])\n"
    "print(arg(\"date\"))\n";

/* compare a table (CSV read back, or a historical read) with the naive
 * expectation of dates d0..d1, for the three outputs */
static void check_out(const char *what, const char *name, tide_table_t *t, int d0, int d1) {
  if (!t) return;
  lines got, want;
  if (!strcmp(name, "agg1")) {
    got = table_lines(t, AGG_COLS, 6);
    want = naive_agg(d0, d1);
  } else if (!strcmp(name, "cnt")) {
    got = table_lines(t, CNT_COLS, 3);
    want = naive_cnt(d0, d1);
  } else {
    got = table_lines(t, BIG_COLS, 6);
    want = naive_big(d0, d1);
  }
  char w[128];
  snprintf(w, sizeof w, "%s %s vs naive", what, name);
  same_lines(w, &got, &want);
  CHECK_MSG(tide_table_col_index(t, "Date") == 0, "%s %s: Date is not the first column", what,
            name);
  printf("  %s %s: %zu rows compared\n", what, name, got.n);
  lines_free(&got);
  lines_free(&want);
}

/* The same query over the concatenated data (all dates in one
 * historical_table, grouped by Date too), in this process. */
static void check_whole_query(void) {
  char src[2048];
  snprintf(src, sizeof src,
           "t = historical_table(\"Mkt\", \"Trades\", db=\"%s\")\n"
           "big = t.where(\"Qty > 10\").update([\"Notional = Px * Qty\"])\n"
           "agg1 = big.agg_by([agg.sum_([\"SumN = Notional\", \"SumQ = Qty\"]), "
           "agg.avg(\"AvgPx = Px\"), agg.count_(\"N\")], by=[\"Date\", \"Sym\"])\n"
           "cnt = t.count_by(\"Rows\", by=[\"Date\", \"Sym\"])\n",
           g_db);
  tide_script_interp *in = tide_script_interp_create(NULL);
  tide_script_diag diag;
  memset(&diag, 0, sizeof diag);
  tide_status st = tide_script_exec(in, src, strlen(src), &diag);
  CHECK_MSG(st == TIDE_OK, "whole query: %s", diag.msg);
  if (st == TIDE_OK) {
    const char *names[3] = {"agg1", "cnt", "big"};
    for (int k = 0; k < 3; k++) check_out("whole-table query", names[k],
                                          tide_script_get_table(in, names[k]), 0, NDATES - 1);
    /* and the backfill's CSV equals it row for row */
    tide_table_t *csv = read_out_csv("csv/agg1.csv");
    if (csv) {
      lines a = table_lines(csv, AGG_COLS, 6), b = table_lines(tide_script_get_table(in, "agg1"),
                                                                 AGG_COLS, 6);
      same_lines("backfill CSV agg1 vs whole-table query", &a, &b);
      lines_free(&a);
      lines_free(&b);
    }
    tide_table_free(csv);
  }
  tide_script_interp_free(in);

  /* Literally: the query over the concatenated data as one CSV file
   * (all dates, written and read back), against the backfill's CSV;
   * both files go through the same CSV reader, so their columns have the
   * same types. */
  snprintf(src, sizeof src,
           "write_csv(historical_table(\"Mkt\", \"Trades\", db=\"%s\"), \"%s/concat.csv\")\n"
           "c = read_csv(\"%s/concat.csv\", types={\"Date\": \"string\", \"Sym\": \"string\"})\n"
           "agg1 = (c.where(\"Qty > 10\").update([\"Notional = Px * Qty\"])\n"
           "  .agg_by([agg.sum_([\"SumN = Notional\", \"SumQ = Qty\"]), agg.avg(\"AvgPx = Px\"),\n"
           "           agg.count_(\"N\")], by=[\"Date\", \"Sym\"]))\n",
           g_db, g_dir, g_dir);
  in = tide_script_interp_create(NULL);
  memset(&diag, 0, sizeof diag);
  st = tide_script_exec(in, src, strlen(src), &diag);
  CHECK_MSG(st == TIDE_OK, "query over the concatenated CSV: %s", diag.msg);
  tide_table_t *csv = st == TIDE_OK ? read_out_csv("csv/agg1.csv") : NULL;
  if (csv) {
    lines a = table_lines(csv, AGG_COLS, 6),
          b = table_lines(tide_script_get_table(in, "agg1"), AGG_COLS, 6);
    CHECK(a.n > 0);
    same_lines("backfill CSV agg1 vs the query over the concatenated CSV", &a, &b);
    lines_free(&a);
    lines_free(&b);
  }
  tide_table_free(csv);
  tide_script_interp_free(in);
}

static int count_substr(const char *s, const char *sub) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, sub)); p += strlen(sub)) n++;
  return n;
}

static void test_backfill_csv(void) {
  write_file("agg.tide", SCRIPT);
  char args[1024];
  snprintf(args, sizeof args, "backfill agg.tide --db db --out agg1,cnt,big --csv csv --threads 2");
  int rc = tide(args);
  CHECK_MSG(rc == 0, "rc %d: %s", rc, err_text());
  const char *e = err_text();
  /* not a terminal: one progress line per date, then the summary */
  CHECK_MSG(count_substr(e, " done: ") == NDATES, "%s", e);
  CHECK_MSG(strstr(e, "6/6 dates") && strstr(e, "rows/s"), "%s", e);
  CHECK_MSG(strstr(e, "6 dates, 13.8K rows"), "%s", e);
  /* arg("date") printed per date, in order */
  {
    FILE *f = fopen(g_out_path, "r");
    char line[64];
    int d = 0;
    while (f && fgets(line, sizeof line, f)) {
      line[strcspn(line, "\n")] = 0;
      CHECK_MSG(d < NDATES && !strcmp(line, g_dates[d]), "stdout line %d: %s", d, line);
      d++;
    }
    if (f) fclose(f);
    CHECK(d == NDATES);
  }
  const char *names[3] = {"agg1", "cnt", "big"};
  for (int k = 0; k < 3; k++) {
    char rel[64];
    snprintf(rel, sizeof rel, "csv/%s.csv", names[k]);
    tide_table_t *t = read_out_csv(rel);
    check_out("CSV", names[k], t, 0, NDATES - 1);
    tide_table_free(t);
  }
  CHECK(!exists("csv/.agg1.csv.tmp"));
  /* a range: --from/--to inclusive, --quiet */
  rc = tide("backfill agg.tide --db db --out agg1,big --csv csv2 --from 2026-03-03 "
            "--to 2026-03-05 --quiet");
  CHECK_MSG(rc == 0, "rc %d: %s", rc, err_text());
  CHECK_MSG(err_text()[0] == 0, "--quiet wrote: %s", err_text());
  tide_table_t *t = read_out_csv("csv2/agg1.csv");
  check_out("CSV range", "agg1", t, 1, 3);
  tide_table_free(t);
  t = read_out_csv("csv2/big.csv");
  check_out("CSV range", "big", t, 1, 3);
  tide_table_free(t);
  CHECK(!exists("csv2/cnt.csv"));
}

static void test_backfill_hist(void) {
  int rc = tide("backfill agg.tide --db db --out agg1,cnt --to-ns Out --codec zstd");
  CHECK_MSG(rc == 0, "rc %d: %s", rc, err_text());
  const char *names[2] = {"agg1", "cnt"};
  for (int k = 0; k < 2; k++) {
    tide_error err;
    tide_error_clear(&err);
    tide_table_t *t = tide_historical_table(g_db, "Out", names[k], &err);
    CHECK_OK_PTR(t, err);
    check_out("partitions", names[k], t, 0, NDATES - 1);
    /* every date has its partition, the empty one included */
    tide_historical_part_t *parts = NULL;
    size_t n = 0;
    CHECK(tide_historical_list(g_db, "Out", names[k], NULL, &parts, &n, &err) == TIDE_OK);
    CHECK_MSG(n == NDATES, "%zu partitions of Out/%s", n, names[k]);
    tide_historical_parts_free(parts, n);
    tide_table_free(t);
  }
  /* again: refused before anything runs, nothing changed */
  rc = tide("backfill agg.tide --db db --out agg1,cnt --to-ns Out --from 2026-03-05");
  const char *e = err_text();
  CHECK_MSG(rc == 1 && strstr(e, "already has date 2026-03-05") && strstr(e, "nothing was run"),
            "rc %d: %s", rc, e);
  FILE *f = fopen(g_out_path, "r");
  CHECK_MSG(f && fgetc(f) == EOF, "a refused backfill ran the script");
  if (f) fclose(f);
}

static void test_dates_of(void) {
  write_file("dyn.tide",
             "t = historical_table(arg(\"ns\"), \"Trades\")\n"
             "cnt = t.count_by(\"Rows\", by=[\"Sym\"])\n");
  int rc = tide("backfill dyn.tide --db db --out cnt --csv csv3 --set ns=Mkt");
  const char *e = err_text();
  CHECK_MSG(rc == 1 && strstr(e, "dyn.tide:1:") && strstr(e, "--dates-of"), "rc %d: %s", rc, e);
  rc = tide("backfill dyn.tide --db db --out cnt --csv csv3 --set ns=Mkt --dates-of Mkt/Trades "
            "--to 2026-03-04");
  CHECK_MSG(rc == 0, "rc %d: %s", rc, err_text());
  tide_table_t *t = read_out_csv("csv3/cnt.csv");
  check_out("CSV --dates-of", "cnt", t, 0, 2);
  tide_table_free(t);
}

static void test_errors(void) {
  int rc;
  const char *e;
  /* missing db */
  rc = tide("backfill agg.tide --db nodb --out agg1 --csv e1");
  e = err_text();
  CHECK_MSG(rc == 1 && strstr(e, "nodb"), "rc %d: %s", rc, e);
  CHECK(!exists("e1/agg1.csv"));
  /* a namespace without partitions */
  write_file("nons.tide", "t = historical_table(\"Nope\", \"Trades\")\n");
  rc = tide("backfill nons.tide --db db --out t --csv e1");
  e = err_text();
  CHECK_MSG(rc == 1 && strstr(e, "Nope"), "rc %d: %s", rc, e);
  /* bad range, bad dates, usage */
  rc = tide("backfill agg.tide --db db --out agg1 --csv e1 --from 2026-03-06 --to 2026-03-03");
  e = err_text();
  CHECK_MSG(rc == 2 && strstr(e, "bad date range"), "rc %d: %s", rc, e);
  rc = tide("backfill agg.tide --db db --out agg1 --csv e1 --from 2026-13-01");
  e = err_text();
  CHECK_MSG(rc == 2 && strstr(e, "2026-13-01"), "rc %d: %s", rc, e);
  rc = tide("backfill agg.tide --db db --out agg1");
  e = err_text();
  CHECK_MSG(rc == 2 && strstr(e, "--csv DIR or --to-ns NS"), "rc %d: %s", rc, e);
  rc = tide("backfill agg.tide --db db --out ../x --csv e1");
  CHECK_MSG(rc == 2, "rc %d: %s", rc, err_text());
  rc = tide("backfill agg.tide --db db --out agg1 --csv e1 --set date=2026-01-01");
  CHECK_MSG(rc == 2 && strstr(err_text(), "date"), "rc %d: %s", rc, err_text());
  /* no date in the range */
  rc = tide("backfill agg.tide --db db --out agg1 --csv e1 --from 2027-01-01");
  e = err_text();
  CHECK_MSG(rc == 1 && strstr(e, "nothing to do"), "rc %d: %s", rc, e);
  /* unknown --out variable: nothing of the first date is written */
  rc = tide("backfill agg.tide --db db --out agg1,nosuch --csv e1");
  e = err_text();
  CHECK_MSG(rc == 1 && strstr(e, "2026-03-02") && strstr(e, "no variable 'nosuch'"), "rc %d: %s",
            rc, e);
  CHECK(!exists("e1/agg1.csv") && !exists("e1/nosuch.csv"));
  rc = tide("backfill agg.tide --db db --out agg1,nosuch --to-ns Out2");
  e = err_text();
  CHECK_MSG(rc == 1 && strstr(e, "no variable 'nosuch'") && strstr(e, "no date was written"),
            "rc %d: %s", rc, e);
  {
    tide_historical_part_t *parts = NULL;
    size_t n = 9;
    tide_error err;
    CHECK(tide_historical_list(g_db, "Out2", "agg1", NULL, &parts, &n, &err) == TIDE_OK && n == 0);
    tide_historical_parts_free(parts, n);
  }
  /* --out naming a value that is not a table */
  write_file("notab.tide", "t = historical_table(\"Mkt\", \"Trades\")\nx = 3\n");
  rc = tide("backfill notab.tide --db db --out x --csv e1");
  e = err_text();
  CHECK_MSG(rc == 1 && strstr(e, "not a table"), "rc %d: %s", rc, e);
  /* a script error on one date (Odd's third date has Price, not Px): the
   * run stops there; the dates before stay written (--to-ns) */
  write_file("odd.tide",
             "t = historical_table(\"Mkt\", \"Odd\")\n"
             "u = t.update(\"Y = Px * 2\")\n");
  rc = tide("backfill odd.tide --db db --out u --to-ns Out2");
  e = err_text();
  CHECK_MSG(rc == 1 && strstr(e, "date 2026-03-04 failed: odd.tide:2:") && strstr(e, "Px") &&
                strstr(e, "2026-03-02..2026-03-03 (2 of 4)"),
            "rc %d: %s", rc, e);
  {
    tide_error err;
    tide_error_clear(&err);
    tide_table_t *t = tide_historical_table(g_db, "Out2", "u", &err);
    CHECK_OK_PTR(t, err);
    CHECK(t && tide_table_size(t) == 4);
    if (t && tide_table_size(t) == 4) {
      CHECK(!strcmp(tu_cell(t, "Date", 0), "2026-03-02") &&
            !strcmp(tu_cell(t, "Date", 3), "2026-03-03"));
      CHECK(tu_cell_f64(t, "Y", 1) == 5.0);
    }
    tide_table_free(t);
  }
  /* the same to CSV: no file, no temporary left */
  rc = tide("backfill odd.tide --db db --out u --csv e2");
  e = err_text();
  CHECK_MSG(rc == 1 && strstr(e, "date 2026-03-04 failed") && strstr(e, "no CSV file"),
            "rc %d: %s", rc, e);
  {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s/e2')\"", g_dir);
    CHECK_MSG(system(cmd) == 0, "e2 is not empty");
  }
  /* a date whose table has other columns: stops there (CSV header and
   * partitions alike) */
  write_file("cols.tide", "t = historical_table(\"Mkt\", \"Odd\")\n");
  rc = tide("backfill cols.tide --db db --out t --csv e3");
  e = err_text();
  CHECK_MSG(rc == 1 && strstr(e, "date 2026-03-04: --out t: its columns differ from date 2026-03-02") &&
                strstr(e, "Price"),
            "rc %d: %s", rc, e);
  CHECK(!exists("e3/t.csv"));
  rc = tide("backfill cols.tide --db db --out t --to-ns Out2 --to 2026-03-04");
  e = err_text();
  CHECK_MSG(rc == 1 && strstr(e, "its columns differ") && strstr(e, "(2 of 3)"), "rc %d: %s", rc,
            e);
  /* a parse error is reported before anything runs */
  write_file("bad.tide", "t = historical_table(\"Mkt\", \"Trades\"\n");
  rc = tide("backfill bad.tide --db db --out t --csv e1");
  e = err_text();
  CHECK_MSG(rc == 1 && strstr(e, "bad.tide:"), "rc %d: %s", rc, e);
  /* a script reading no historical table */
  write_file("none.tide", "x = 1\n");
  rc = tide("backfill none.tide --db db --out x --csv e1");
  e = err_text();
  CHECK_MSG(rc == 1 && strstr(e, "reads no historical table"), "rc %d: %s", rc, e);
  /* a missing script */
  rc = tide("backfill missing.tide --db db --out x --csv e1");
  e = err_text();
  CHECK_MSG(rc == 1 && strstr(e, "missing.tide"), "rc %d: %s", rc, e);
}

int main(void) {
  g_bin = getenv("TIDE_BIN");
  if (!g_bin || access(g_bin, X_OK) != 0) {
    printf("backfill: skipped (TIDE_BIN not set: run through ctest)\n");
    return tu_finish("backfill");
  }
  struct stat sb;
  const char *base = stat("/dev/shm", &sb) == 0 ? "/dev/shm" : "/tmp";
  snprintf(g_dir, sizeof g_dir, "%s/tide-backfill-%ld", base, (long)getpid());
  snprintf(g_db, sizeof g_db, "%s/db", g_dir);
  snprintf(g_err_path, sizeof g_err_path, "%s/stderr.txt", g_dir);
  snprintf(g_out_path, sizeof g_out_path, "%s/stdout.txt", g_dir);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  run_sh("clean", cmd);
  make_ns("Mkt");
  make_ns("Out");
  make_ns("Out2");
  gen_data();
  test_backfill_csv();
  test_backfill_hist();
  check_whole_query();
  test_dates_of();
  test_errors();
  uint64_t rows = 0;
  for (int d = 0; d < NDATES; d++) rows += g_nrows[d];
  printf("backfill: %d dates, %llu rows; CSV, partitions, a range, --dates-of and the "
         "whole-table query compared exactly with a naive recompute; 19 error cases\n",
         NDATES, (unsigned long long)rows);
  if (tu_failures == 0) run_sh("clean", cmd);
  for (int d = 0; d < NDATES; d++) {
    free(g_day[d].sym);
    free(g_day[d].px);
    free(g_day[d].qty);
    free(g_day[d].side);
  }
  return tu_finish("backfill");
}
