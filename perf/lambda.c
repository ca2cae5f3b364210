/*
 * The lambda pipeline's cost (issue 5): one query over history (static,
 * computed once) and today's intraday partition (ticking), as
 *
 *   trades = merge([historical_table(ns, "trades"), live_table(ns, "trades")])
 *   vwap   = trades.update(Notional = Price * Size)
 *                  .agg_by([sum(Notional, Size)] by Sym).update(VWAP = Notional / Size)
 *   (aj)     tq = trades.aj(quotes, on Sym, Timestamp >= Timestamp, joins Bid, Ask)
 *            spread = tq.update(Spread = Ask - Bid).agg_by([avg(Spread)] by Sym)
 *
 * Setup (not timed): a scratch database with N trade rows (and N quote
 * rows with `aj`) over 10 dates written by tide_historical_write (LZ4),
 * and today's intraday partition started with 10,000 rows by the C
 * appender. Timed: the initial build (historical_table reads, then the
 * pipeline over history + the live rows), then C cycles, each after the
 * appender committed R more rows (default 10,000) to each live table: the
 * median / p90 / mean / max cycle time (tide_graph_run_cycles(g, 1), i.e.
 * reading the new commits, the merge and every operation below it), and
 * the process CPU time of the same cycles (cpu_*: what other processes on
 * a loaded machine do not inflate). The commit itself (fsyncs) is timed
 * separately. At the end the ticking
 * results are checked against a static recompute over
 * merge([history, tide_intraday_read(today)]) (static_ms / static_cpu_ms:
 * that recompute's time, the same queries as static operations over the
 * final history + today, for comparison with the ticking build).
 *
 *   build/perf/tide_perf_lambda N [cycles] [rows_per_cycle] [agg|aj] [scratch_dir]
 *   (configure with -DTIDE_BUILD_BENCH=ON; one JSON line per run)
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sched/graph_int.h"
#include "tide/historical.h"
#include "tide/intraday.h"

#define NSYM 1000
#define NDATES 10
#define TODAY "2026-11-22"
#define DAY_NS INT64_C(86400000000000)

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static char g_db[4096]; /* the scratch database, removed on exit */
static void rm_rf(const char *dir);

static void die(const char *what, const tide_error *err) {
  fprintf(stderr, "lambda: %s: %s\n", what, err ? err->msg : "failed");
  if (g_db[0]) rm_rf(g_db);
  exit(1);
}

static uint64_t nx(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static tide_symtab_t *g_symtab;

/* n rows of trades (quotes: Bid/Ask/BidSize/AskSize) of day `day_ns`
 * (midnight), timestamps from 09:30 increasing by `step_ns` from row
 * number `row0` of the day. A static table, one reference. */
static tide_table_t *make_rows(bool quotes, uint64_t n, int64_t day_ns, uint64_t row0,
                               int64_t step_ns, uint64_t *rng) {
  tide_error err;
  tide_source_t *ts = tide_source_flat_create(TIDE_TS, n, &err);
  tide_source_t *sym = tide_source_flat_create(TIDE_SYMBOL, n, &err);
  tide_source_t *a = tide_source_flat_create(TIDE_F64, n, &err);
  tide_source_t *b = tide_source_flat_create(quotes ? TIDE_F64 : TIDE_I64, n, &err);
  if (!ts || !sym || !a || !b) die("rows", &err);
  int64_t *tv = tide_source_flat_data(ts);
  if (!sym) die("rows", &err);
  tide__source_set_symtab(sym, g_symtab);
  int32_t *sv = tide_source_flat_data(sym);
  double *av = tide_source_flat_data(a);
  for (uint64_t i = 0; i < n; i++) {
    uint64_t r = nx(rng);
    uint32_t s = (uint32_t)(r % NSYM);
    tv[i] = day_ns + INT64_C(34200000000000) + (int64_t)(row0 + i) * step_ns;
    sv[i] = (int32_t)s;
    double px = 10.0 + s + (double)((r >> 20) % 1000) / 1000.0;
    if (quotes) {
      av[i] = px - 0.01;
      ((double *)tide_source_flat_data(b))[i] = px + 0.01 * (double)(1 + (r >> 40) % 5);
    } else {
      av[i] = px;
      ((int64_t *)tide_source_flat_data(b))[i] = (int64_t)(100 * (1 + (r >> 40) % 10));
    }
  }
  tide_source_t *cols[4] = {ts, sym, a, b};
  const char *tn[4] = {"Timestamp", "Sym", "Price", "Size"};
  const char *qn[4] = {"Timestamp", "Sym", "Bid", "Ask"};
  tide_rowset_t *rs = tide_rowset_create_range(0, n - 1);
  tide_table_t *t = tide_table_create(rs, 4, quotes ? qn : tn, cols, &err);
  tide_rowset_free(rs);
  for (int c = 0; c < 4; c++) tide_source_release(cols[c]);
  if (!t) die("table", &err);
  return t;
}

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_d(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

static void rm_rf(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *de;
  char p[4096];
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
    struct stat sb;
    if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) rm_rf(p);
    else unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

typedef struct feed {
  bool quotes;
  tide_appender_t *app;
  uint64_t rows;
  uint64_t rng;
} feed;

static void feed_commit(feed *f, uint64_t n, int64_t today_ns, int64_t step) {
  tide_error err;
  tide_table_t *t = make_rows(f->quotes, n, today_ns, f->rows, step, &f->rng);
  if (tide_appender_append(f->app, t, &err) != TIDE_OK) die("append", &err);
  tide_table_free(t);
  if (tide_appender_commit(f->app, &err) != TIDE_OK) die("commit", &err);
  f->rows += n;
}

/* The static recompute of a ticking result `have` (sorted by Sym). */
static void check_same(tide_table_t *have, tide_table_t *want, const char *what) {
  tide_error err;
  const char *by[] = {"Sym"};
  tide_table_t *a = tide_sort(have, by, 1, &err), *b = tide_sort(want, by, 1, &err);
  if (!a || !b) die("sort", &err);
  uint64_t n = tide_table_size(a);
  if (n != tide_table_size(b) || tide_table_ncols(a) != tide_table_ncols(b)) {
    fprintf(stderr, "lambda: %s: %llu rows, static recompute %llu\n", what,
            (unsigned long long)n, (unsigned long long)tide_table_size(b));
    exit(1);
  }
  double *x = malloc(n * 8 + 8), *y = malloc(n * 8 + 8);
  for (size_t c = 1; c < tide_table_ncols(a); c++) {
    tide_type_t ty = tide_table_col_type(a, c);
    if (ty != TIDE_F64 && ty != TIDE_I64) continue;
    for (uint64_t done = 0; done < n;) {
      uint32_t m = (uint32_t)(n - done < TIDE_CHUNK_SIZE ? n - done : TIDE_CHUNK_SIZE);
      uint64_t kb[TIDE_CHUNK_SIZE];
      tide_rowset_iter_t ia, ib;
      tide_rowseq_t sa, sb;
      tide_rowset_iter_init_pos(&ia, tide_table_rowset(a), done, m);
      tide_rowset_iter_init_pos(&ib, tide_table_rowset(b), done, m);
      tide_rowset_iter_next_chunk(&ia, m, &sa, kb);
      tide_source_fill(tide_table_col_source(a, c), &sa, x + done);
      tide_rowset_iter_next_chunk(&ib, m, &sb, kb);
      tide_source_fill(tide_table_col_source(b, c), &sb, y + done);
      done += m;
    }
    for (uint64_t i = 0; i < n; i++) {
      double u = ty == TIDE_I64 ? (double)((int64_t *)x)[i] : x[i];
      double v = ty == TIDE_I64 ? (double)((int64_t *)y)[i] : y[i];
      if (!(fabs(u - v) <= 1e-9 * fmax(1.0, fabs(v)))) {
        fprintf(stderr, "lambda: %s: column %s row %llu: %.17g vs static %.17g\n", what,
                tide_table_col_name(a, c), (unsigned long long)i, u, v);
        exit(1);
      }
    }
  }
  free(x);
  free(y);
  tide_table_free(a);
  tide_table_free(b);
}

/* The pipeline over trades (and quotes): vwap and, with aj, spread. */
static void build(tide_table_t *trades, tide_table_t *quotes, tide_table_t **vwap,
                  tide_table_t **spread, tide_table_t **keep) {
  tide_error err;
  const char *f1[] = {"Notional = Price * Size"};
  tide_table_t *u = tide_update(trades, f1, 1, &err);
  if (!u) die("update", &err);
  const char *by[] = {"Sym"}, *sc[] = {"Notional", "Size"};
  tide_agg_spec_t sp = {TIDE_AGG_SUM, sc, 2, 0, NULL, false};
  tide_table_t *a = tide_agg_by(u, &sp, 1, by, 1, &err);
  if (!a) die("agg_by", &err);
  const char *f2[] = {"VWAP = Notional / Size"};
  *vwap = tide_update(a, f2, 1, &err);
  if (!*vwap) die("update", &err);
  keep[0] = u;
  keep[1] = a;
  keep[2] = keep[3] = NULL;
  *spread = NULL;
  if (!quotes) return;
  const char *on[] = {"Sym", "Timestamp >= Timestamp"}, *jn[] = {"Bid", "Ask"};
  tide_table_t *tq = tide_aj(trades, quotes, on, 2, jn, 2, &err);
  if (!tq) die("aj", &err);
  const char *f3[] = {"Spread = Ask - Bid"};
  tide_table_t *s = tide_update(tq, f3, 1, &err);
  if (!s) die("update", &err);
  const char *ac[] = {"Spread"};
  tide_agg_spec_t av = {TIDE_AGG_AVG, ac, 1, 0, NULL, false};
  *spread = tide_agg_by(s, &av, 1, by, 1, &err);
  if (!*spread) die("agg_by", &err);
  keep[2] = tq;
  keep[3] = s;
}

/* merge([history without Date, today's rows]) as a static table. */
static tide_table_t *static_union(const char *db, const char *table, tide_table_t *hist) {
  tide_error err;
  tide_table_t *t = tide_intraday_read(db, "bench", table, TODAY, &err);
  if (!t) die("intraday read", &err);
  const char *drop[] = {"Date"};
  tide_table_t *h = tide_drop_columns(hist, drop, 1, &err);
  if (!h) die("drop_columns", &err);
  tide_table_t *parts[2] = {h, t};
  tide_table_t *m = tide_merge(parts, 2, &err);
  tide_table_free(h);
  tide_table_free(t);
  if (!m) die("static merge", &err);
  return m;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s N [cycles] [rows_per_cycle] [agg|aj] [scratch_dir]\n", argv[0]);
    return 2;
  }
  uint64_t N = strtoull(argv[1], NULL, 10);
  int C = argc > 2 ? atoi(argv[2]) : 50;
  uint64_t R = argc > 3 ? strtoull(argv[3], NULL, 10) : 10000;
  bool with_aj = argc > 4 && !strcmp(argv[4], "aj");
  char *db = g_db;
  snprintf(g_db, sizeof g_db, "%s/tide-lambda-%ld", argc > 5 ? argv[5] : "/tmp", (long)getpid());
  if (N < NDATES || C < 1 || R < 1) {
    fprintf(stderr, "lambda: N >= %d, cycles >= 1, rows_per_cycle >= 1\n", NDATES);
    return 2;
  }
  g_symtab = tide_symtab_create();
  for (int s = 0; s < NSYM; s++) {
    char name[8];
    int l = snprintf(name, sizeof name, "S%03d", s);
    if (!g_symtab || tide_symtab_intern(g_symtab, name, (size_t)l) != s) die("symbols", NULL);
  }
  tide_error err;
  /* the scratch database: Partitions/0 and the WritablePartitions link */
  rm_rf(db);
  char p[4200];
  snprintf(p, sizeof p, "mkdir -p '%s/Systems/bench/Partitions/0' '%s/Systems/bench/WritablePartitions'"
                        " && ln -s ../Partitions/0 '%s/Systems/bench/WritablePartitions/0'",
           db, db, db);
  if (system(p) != 0) die("creating the scratch database", NULL);
  int64_t today_ns;
  if (!tide_ts_parse(TODAY "T00:00:00Z", 20, &today_ns)) die("date", NULL);
  double t0 = now();
  uint64_t rng = 42;
  for (int q = 0; q < (with_aj ? 2 : 1); q++)
    for (int d = 0; d < NDATES; d++) {
      char date[16];
      int64_t day = today_ns - (int64_t)(NDATES - d) * DAY_NS;
      time_t secs = (time_t)(day / 1000000000);
      struct tm tm;
      gmtime_r(&secs, &tm);
      strftime(date, sizeof date, "%Y-%m-%d", &tm);
      uint64_t n = N / NDATES + (d < (int)(N % NDATES));
      int64_t step = INT64_C(23400000000000) / (int64_t)(n + 1);
      tide_table_t *t = make_rows(q == 1, n, day, 0, step, &rng);
      if (tide_historical_write(db, "bench", q ? "quotes" : "trades", date, t, TIDE_CODEC_LZ4,
                                &err) != TIDE_OK)
        die("historical write", &err);
      tide_table_free(t);
    }
  double write_s = now() - t0;
  /* today's partitions: started by the appender (10,000 rows each) */
  const int64_t step = 1000000; /* 1 ms apart: room for ~23 million rows */
  feed tf = {false, NULL, 0, 7}, qf = {true, NULL, 0, 8};
  const char *tn[4] = {"Timestamp", "Sym", "Price", "Size"};
  const char *qn[4] = {"Timestamp", "Sym", "Bid", "Ask"};
  tide_type_t tt[4] = {TIDE_TS, TIDE_SYMBOL, TIDE_F64, TIDE_I64};
  tide_type_t qt[4] = {TIDE_TS, TIDE_SYMBOL, TIDE_F64, TIDE_F64};
  tf.app = tide_appender_open(db, "bench", "trades", TODAY, 4, tn, tt, &err);
  if (!tf.app) die("appender", &err);
  feed_commit(&tf, 10000, today_ns, step);
  if (with_aj) {
    qf.app = tide_appender_open(db, "bench", "quotes", TODAY, 4, qn, qt, &err);
    if (!qf.app) die("appender", &err);
    feed_commit(&qf, 10000, today_ns, step);
  }

  tide_graph_t *g = tide_graph_create(&err);
  if (!g) die("graph", &err);
  double b0 = now(), bu0 = cpu_now();
  tide_table_t *ht = tide_historical_table(db, "bench", "trades", &err);
  if (!ht) die("historical_table", &err);
  tide_table_t *hq = NULL;
  if (with_aj && !(hq = tide_historical_table(db, "bench", "quotes", &err)))
    die("historical_table", &err);
  double hist_s = now() - b0;
  tide_table_t *lt = tide_live_table(g, db, "bench", "trades", TODAY, &err);
  if (!lt) die("live_table", &err);
  tide_table_t *lq = NULL;
  if (with_aj && !(lq = tide_live_table(g, db, "bench", "quotes", TODAY, &err)))
    die("live_table", &err);
  tide_table_t *parts[2] = {ht, lt};
  tide_table_t *trades = tide_merge(parts, 2, &err);
  if (!trades) die("merge", &err);
  tide_table_t *quotes = NULL;
  if (with_aj) {
    tide_table_t *qp[2] = {hq, lq};
    if (!(quotes = tide_merge(qp, 2, &err))) die("merge", &err);
  }
  tide_table_t *vwap, *spread, *keep[4];
  build(trades, quotes, &vwap, &spread, keep);
  double build_s = now() - b0, build_cpu_s = cpu_now() - bu0;
  if (tide_table_kind(trades) != TIDE_KIND_APPEND_ONLY) die("merge is not append-only", NULL);

  double *ct = malloc((size_t)C * sizeof *ct), commit_s = 0, sum = 0, mx = 0;
  double *cpu = malloc((size_t)C * sizeof *cpu);
  const int warm = 3;
  for (int c = -warm; c < C; c++) {
    double c0 = now();
    feed_commit(&tf, R, today_ns, step);
    if (with_aj) feed_commit(&qf, R, today_ns, step);
    double c1 = now(), u1 = cpu_now();
    if (tide_graph_run_cycles(g, 1, &err) != TIDE_OK) die("cycle", &err);
    double c2 = now(), u2 = cpu_now();
    if (c < 0) continue;
    cpu[c] = u2 - u1;
    commit_s += c1 - c0;
    ct[c] = c2 - c1;
    sum += ct[c];
    if (ct[c] > mx) mx = ct[c];
  }
  qsort(ct, (size_t)C, sizeof *ct, cmp_d);
  qsort(cpu, (size_t)C, sizeof *cpu, cmp_d);
  uint64_t live_rows = tf.rows, total = tide_table_size(trades);
  if (total != N + live_rows) {
    fprintf(stderr, "lambda: the merge has %llu rows, want %llu\n", (unsigned long long)total,
            (unsigned long long)(N + live_rows));
    return 1;
  }
  /* the ticking results equal a static recompute over the final data */
  double s0 = now(), su0 = cpu_now();
  tide_table_t *st = static_union(db, "trades", ht), *sq = NULL;
  if (with_aj) sq = static_union(db, "quotes", hq);
  tide_table_t *svwap, *sspread, *skeep[4];
  build(st, sq, &svwap, &sspread, skeep);
  double static_s = now() - s0, static_cpu_s = cpu_now() - su0;
  check_same(vwap, svwap, "vwap");
  if (with_aj) check_same(spread, sspread, "spread");
  printf("{\"suite\":\"lambda\",\"history_rows\":%llu,\"dates\":%d,\"aj\":%s,"
         "\"rows_per_cycle\":%llu,\"cycles\":%d,\"write_s\":%.2f,\"hist_read_ms\":%.1f,"
         "\"build_ms\":%.1f,\"build_cpu_ms\":%.1f,\"static_ms\":%.1f,\"static_cpu_ms\":%.1f,\"median_ms\":%.3f,\"p90_ms\":%.3f,\"mean_ms\":%.3f,\"max_ms\":%.3f,"
         "\"cpu_median_ms\":%.3f,\"cpu_p90_ms\":%.3f,"
         "\"commit_ms\":%.3f,\"live_rows\":%llu,\"groups\":%llu,\"checked\":true}\n",
         (unsigned long long)N, NDATES, with_aj ? "true" : "false", (unsigned long long)R, C,
         write_s, hist_s * 1e3, build_s * 1e3, build_cpu_s * 1e3, static_s * 1e3, static_cpu_s * 1e3, ct[C / 2] * 1e3, ct[C * 9 / 10] * 1e3, sum / C * 1e3,
         mx * 1e3, cpu[C / 2] * 1e3, cpu[C * 9 / 10] * 1e3,
         commit_s / C * 1e3, (unsigned long long)live_rows,
         (unsigned long long)tide_table_size(vwap));
  fflush(stdout);
  for (int k = 0; k < 4; k++) {
    tide_table_free(keep[k]);
    tide_table_free(skeep[k]);
  }
  tide_table_free(svwap);
  tide_table_free(sspread);
  tide_table_free(st);
  tide_table_free(sq);
  tide_table_free(vwap);
  tide_table_free(spread);
  tide_table_free(trades);
  tide_table_free(quotes);
  tide_table_free(lt);
  tide_table_free(lq);
  tide_table_free(ht);
  tide_table_free(hq);
  tide_graph_free(g);
  tide_appender_close(tf.app);
  tide_appender_close(qf.app);
  free(ct);
  free(cpu);
  rm_rf(db);
  return 0;
}
