/*
 * perf/merge_rate.c: rows/s of tide_merge_intraday (intraday partition ->
 * historical table directory, validated), by phase: read the committed
 * intraday rows, sort (optional), write + fsync, re-read + checksum
 * validation, rename. Five columns: Sym symbol(100), Time timestamp,
 * Price double, Size int64, Exch string (8 short values). The intraday
 * partition is ingested once per size (commits of 1e6 rows) and is warm
 * in the page cache, as for a merge right after the day ends; each merge
 * writes a fresh historical directory (removed between runs).
 * Built as build/perf/tide_perf_merge_rate with -DTIDE_BUILD_BENCH=ON.
 * Run: merge_rate SCRATCH_DIR [ROWS...] [--reps N] [--sort]
 *      (SCRATCH_DIR is removed and recreated; default ROWS 1e6 1e7)
 * SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tide/historical.h"
#include "tide/intraday.h"
#include "tide/tide.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, const tide_error *err) {
  fprintf(stderr, "merge_rate: %s: %s\n", what, err ? err->msg : "");
  exit(1);
}

static void rm_rf(const char *dir) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "merge_rate: cannot remove %s\n", dir);
}

/* Rows [start, start+n) of the synthetic trades. */
static tide_table_t *gen(uint64_t start, uint64_t n) {
  tide_error err;
  static const char *const names[5] = {"Sym", "Time", "Price", "Size", "Exch"};
  static const tide_type_t types[5] = {TIDE_SYMBOL, TIDE_TS, TIDE_F64, TIDE_I64, TIDE_STRING};
  static const char *const exch[8] = {"NYSE", "NASDAQ", "ARCA", "BATS", "IEX", "EDGX", "BYX",
                                      "AMEX"};
  tide_source_t *s[5];
  for (int c = 0; c < 5; c++)
    if (!(s[c] = tide_source_flat_create(types[c], n, &err))) die("alloc", &err);
  int32_t codes[100];
  char b[16];
  for (int i = 0; i < 100; i++) {
    snprintf(b, sizeof b, "S%03d", i);
    codes[i] = tide_symtab_intern(tide_source_symtab(s[0]), b, strlen(b));
  }
  int32_t *sym = tide_source_flat_data(s[0]);
  int64_t *tm = tide_source_flat_data(s[1]), *sz = tide_source_flat_data(s[3]);
  double *px = tide_source_flat_data(s[2]);
  const char **ex = tide_source_flat_data(s[4]);
  for (uint64_t k = 0; k < n; k++) {
    uint64_t i = start + k, x = (i + 1) * 0x9E3779B97F4A7C15ull;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    sym[k] = codes[x % 100];
    tm[k] = 1767258000000000000ll + (int64_t)i * 2000000 + (int64_t)((x >> 40) % 1000);
    px[k] = (double)(10000 + (int64_t)((x >> 8) % 5000)) / 100;
    sz[k] = 100 * (int64_t)(1 + (x >> 20) % 50);
    ex[k] = tide_source_flat_store_string(s[4], exch[(x >> 50) % 8], strlen(exch[(x >> 50) % 8]));
    if (!ex[k]) die("alloc", NULL);
  }
  tide_rowset_t *rs = tide_rowset_create_range(0, n - 1);
  tide_table_t *t = tide_table_create(rs, 5, names, s, &err);
  tide_rowset_free(rs);
  for (int c = 0; c < 5; c++) tide_source_release(s[c]);
  if (!t) die("table", &err);
  return t;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: merge_rate SCRATCH_DIR [ROWS...] [--reps N] [--sort]\n");
    return 2;
  }
  const char *db = argv[1];
  uint64_t sizes[8];
  int nsizes = 0, reps = 3;
  bool sort = false;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--sort")) sort = true;
    else if (nsizes < 8) sizes[nsizes++] = (uint64_t)strtod(argv[i], NULL);
  }
  if (!nsizes) {
    sizes[0] = 1000000;
    sizes[1] = 10000000;
    nsizes = 2;
  }
  if (reps < 1) reps = 1;
  rm_rf(db);
  char p[1024];
  snprintf(p, sizeof p, "mkdir -p '%s/Systems/perf/Partitions/0' && ln -s ../Partitions/0 "
                        "'%s/Systems/perf/WritablePartitions/0' 2>/dev/null || (mkdir -p "
                        "'%s/Systems/perf/WritablePartitions' && ln -s ../Partitions/0 "
                        "'%s/Systems/perf/WritablePartitions/0')",
           db, db, db, db);
  if (system(p) != 0) die("setting up the namespace", NULL);
  tide_error err;
  static const char *const sort_by[2] = {"Sym", "Time"};
  printf("# merge_rate: 5 columns (symbol, timestamp, double, int64, string), %d threads, "
         "db %s%s\n",
         tide_get_threads(), db, sort ? ", --sort-by Sym,Time" : "");
  printf("%-10s %-5s %4s %8s %8s %8s %8s %8s %8s %12s %9s\n", "rows", "codec", "rep", "total_s",
         "read_s", "sort_s", "write_s", "verify_s", "other_s", "rows/s", "MB");
  for (int si = 0; si < nsizes; si++) {
    uint64_t n = sizes[si];
    char date[16];
    snprintf(date, sizeof date, "2026-01-%02d", 2 + si);
    /* ingest: commits of up to 1e6 rows */
    double t0 = now();
    tide_appender_t *a = NULL;
    for (uint64_t done = 0; done < n;) {
      uint64_t k = n - done < 1000000 ? n - done : 1000000;
      tide_table_t *t = gen(done, k);
      if (!a) {
        const char *nm[5];
        tide_type_t ty[5];
        for (int c = 0; c < 5; c++) {
          nm[c] = tide_table_col_name(t, c);
          ty[c] = tide_table_col_type(t, c);
        }
        if (!(a = tide_appender_open(db, "perf", "Trades", date, 5, nm, ty, &err)))
          die("appender", &err);
      }
      if (tide_appender_append(a, t, &err) != TIDE_OK || tide_appender_commit(a, &err) != TIDE_OK)
        die("ingest", &err);
      tide_table_free(t);
      done += k;
    }
    tide_appender_close(a);
    printf("# %llu rows ingested in %.2f s\n", (unsigned long long)n, now() - t0);
    const tide_codec_t codecs[2] = {TIDE_CODEC_NONE, TIDE_CODEC_LZ4};
    for (int ci = 0; ci < 2; ci++) {
      double rates[16];
      int nr = 0;
      for (int r = 0; r < reps; r++) {
        tide_merge_opts_t o;
        tide_merge_opts_init(&o);
        o.codec = codecs[ci];
        if (sort) {
          o.sort_by = sort_by;
          o.nsort = 2;
        }
        tide_merge_result_t res;
        if (tide_merge_intraday(db, "perf", "Trades", date, &o, &res, &err) != TIDE_OK)
          die("merge", &err);
        if (res.already_merged || res.rows != n) die("merge: unexpected result", NULL);
        /* size of what was written */
        uint64_t bytes = 0;
        DIR *d = opendir(res.path);
        struct dirent *de;
        while (d && (de = readdir(d))) {
          struct stat sb;
          snprintf(p, sizeof p, "%s/%s", res.path, de->d_name);
          if (de->d_name[0] != '.' && stat(p, &sb) == 0) bytes += (uint64_t)sb.st_size;
        }
        if (d) closedir(d);
        double other = res.seconds - res.t_read - res.t_sort - res.t_write - res.t_verify;
        double rate = (double)n / res.seconds;
        if (nr < 16) rates[nr++] = rate;
        printf("%-10llu %-5s %4d %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f %12.0f %9.1f\n",
               (unsigned long long)n, tide_codec_name(codecs[ci]), r, res.seconds, res.t_read,
               res.t_sort, res.t_write, res.t_verify, other, rate, (double)bytes / 1e6);
        fflush(stdout);
        rm_rf(res.path);
      }
      qsort(rates, (size_t)nr, sizeof *rates, cmp_d);
      printf("# %llu rows, %s: %.0f .. %.0f rows/s (median %.0f) over %d runs\n",
             (unsigned long long)n, tide_codec_name(codecs[ci]), rates[0], rates[nr - 1],
             rates[nr / 2], nr);
    }
  }
  rm_rf(db);
  return 0;
}
