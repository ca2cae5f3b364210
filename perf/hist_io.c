/*
 * perf/hist_io.c: write and read rates of table directories (codec none,
 * lz4, zstd) and of historical partitions, 1e7 rows (Sym symbol(100), Price
 * double (cents random walk), Size int64, Time timestamp). Cold reads: sync
 * + drop_caches when permitted, and every file evicted with
 * posix_fadvise(DONTNEED). Built as build/perf/tide_perf_hist_io with
 * -DTIDE_BUILD_BENCH=ON.
 * Run: hist_io SCRATCH_DIR [ROWS]   (SCRATCH_DIR is removed and recreated)
 * SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "tide/tide.h"
#include "tide/historical.h"

static double now(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + ts.tv_nsec * 1e-9; }

static uint64_t dir_bytes_evict(const char *dir, int evict) {
  DIR *d = opendir(dir); if (!d) return 0;
  struct dirent *de; uint64_t tot = 0; char p[4096];
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
    struct stat sb; if (stat(p, &sb) != 0) continue;
    if (S_ISDIR(sb.st_mode)) { tot += dir_bytes_evict(p, evict); continue; }
    tot += sb.st_size;
    if (evict) { int fd = open(p, O_RDONLY); if (fd >= 0) { fdatasync(fd); posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED); close(fd); } }
  }
  closedir(d); return tot;
}

static tide_table_t *gen(uint64_t n, uint64_t seed) {
  tide_error err;
  tide_source_t *s[4] = {tide_source_flat_create(TIDE_SYMBOL, n, &err), tide_source_flat_create(TIDE_F64, n, &err),
                         tide_source_flat_create(TIDE_I64, n, &err), tide_source_flat_create(TIDE_TS, n, &err)};
  int32_t codes[100]; char b[16];
  for (int i = 0; i < 100; i++) { snprintf(b, sizeof b, "S%03d", i); codes[i] = tide_symtab_intern(tide_source_symtab(s[0]), b, strlen(b)); }
  int32_t *sym = tide_source_flat_data(s[0]); double *px = tide_source_flat_data(s[1]);
  int64_t *sz = tide_source_flat_data(s[2]), *tm = tide_source_flat_data(s[3]);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1; double p = 100;
  int64_t t0 = 1767258000000000000ll;
  for (uint64_t i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    sym[i] = codes[x % 100];
    p += ((int)((x >> 8) % 21) - 10) * 0.01; if (p < 1) p = 1;
    px[i] = (double)(int64_t)(p * 100 + 0.5) / 100;
    sz[i] = 100 * (int64_t)(1 + (x >> 20) % 50);
    tm[i] = t0 + (int64_t)i * 2000000 + (int64_t)((x >> 40) % 1000);
  }
  const char *names[4] = {"Sym", "Price", "Size", "Time"};
  tide_rowset_t *rs = tide_rowset_create_range(0, n - 1);
  tide_table_t *t = tide_table_create(rs, 4, names, s, &err);
  tide_rowset_free(rs);
  for (int i = 0; i < 4; i++) tide_source_release(s[i]);
  return t;
}


static int drop_caches(void) {
  sync();
  FILE *f = fopen("/proc/sys/vm/drop_caches", "w");
  if (!f) return 0;
  int ok = fputs("3\n", f) >= 0;
  return fclose(f) == 0 && ok;
}

int main(int argc, char **argv) {
  const char *base = argc > 1 ? argv[1] : "/tmp/histperf/db";
  uint64_t n = argc > 2 ? strtoull(argv[2], 0, 10) : 10000000;
  tide_error err;
  char cmd[600]; snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", base, base); if (system(cmd)) return 1;
  double t0 = now();
  tide_table_t *t = gen(n, 1);
  double raw = (double)n * (4 + 8 + 8 + 8);
  printf("generated %llu rows (%.0f MB in memory) in %.2f s; threads %d\n", (unsigned long long)n, raw / 1e6, now() - t0, tide_get_threads());
  int dc = drop_caches();
  printf("drop_caches: %s\n", dc ? "permitted" : "not permitted (cold = posix_fadvise DONTNEED per file)");
  const char *codecs[3] = {"none", "lz4", "zstd"};
  for (int c = 0; c < 3; c++) {
    char dir[600]; snprintf(dir, sizeof dir, "%s/t_%s", base, codecs[c]);
    double a = now();
    if (tide_table_write_dir(t, dir, (tide_codec_t)c, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    double w = now() - a;
    uint64_t bytes = dir_bytes_evict(dir, 0);
    double best_warm = 1e9, best_cold = 1e9;
    for (int rep = 0; rep < 3; rep++) {
      dir_bytes_evict(dir, 1);
      if (dc) drop_caches();
      a = now();
      tide_table_t *r = tide_table_read_dir(dir, &err);
      double cold = now() - a;
      if (!r) { fprintf(stderr, "%s\n", err.msg); return 1; }
      tide_table_free(r);
      a = now();
      r = tide_table_read_dir(dir, &err);
      double warm = now() - a;
      tide_table_free(r);
      if (cold < best_cold) best_cold = cold;
      if (warm < best_warm) best_warm = warm;
    }
    printf("codec %-4s  on disk %6.1f MB (%.2fx)  write %.3f s = %5.1f Mrows/s %6.0f MB/s raw | "
           "read cold %.3f s = %5.1f Mrows/s %6.0f MB/s raw | warm %.3f s = %6.1f Mrows/s %6.0f MB/s raw\n",
           codecs[c], bytes / 1e6, raw / bytes, w, n / w / 1e6, raw / w / 1e6, best_cold, n / best_cold / 1e6,
           raw / best_cold / 1e6, best_warm, n / best_warm / 1e6, raw / best_warm / 1e6);
  }
  /* historical: 10 dates of n/10 rows into 2 partitions, read back whole */
  snprintf(cmd, sizeof cmd, "mkdir -p %s/h/Systems/P/Partitions/0 %s/h/Systems/P/Partitions/1 %s/h/Systems/P/WritablePartitions && ln -s ../Partitions/0 %s/h/Systems/P/WritablePartitions/0 && ln -s ../Partitions/1 %s/h/Systems/P/WritablePartitions/1", base, base, base, base, base);
  if (system(cmd)) return 1;
  char db[600]; snprintf(db, sizeof db, "%s/h", base);
  tide_table_t *parts[10];
  for (int d = 0; d < 10; d++) parts[d] = gen(n / 10, d + 2);
  double a = now();
  for (int d = 0; d < 10; d++) {
    char date[16]; snprintf(date, sizeof date, "2026-01-%02d", d + 1);
    if (tide_historical_write(db, "P", "Trades", date, parts[d], TIDE_CODEC_LZ4, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
  }
  double w = now() - a;
  for (int d = 0; d < 10; d++) tide_table_free(parts[d]);
  double best_cold = 1e9, best_warm = 1e9, best_range = 1e9, best_proj = 1e9; uint64_t rows = 0, rrows = 0;
  for (int rep = 0; rep < 3; rep++) {
    dir_bytes_evict(db, 1);
    if (dc) drop_caches();
    a = now();
    tide_table_t *h = tide_historical_table(db, "P", "Trades", &err);
    double cold = now() - a;
    if (!h) { fprintf(stderr, "%s\n", err.msg); return 1; }
    rows = tide_table_size(h);
    tide_table_free(h);
    a = now();
    h = tide_historical_table(db, "P", "Trades", &err);
    double warm = now() - a;
    tide_table_free(h);
    tide_historical_query_t q = {.from = "2026-01-04", .to = "2026-01-05"};
    a = now();
    h = tide_historical_query(db, "P", "Trades", &q, &err);
    double rg = now() - a;
    rrows = tide_table_size(h);
    tide_table_free(h);
    const char *pc[] = {"Price"};
    tide_historical_query_t pq = {.cols = pc, .ncols = 1};
    a = now();
    h = tide_historical_query(db, "P", "Trades", &pq, &err);
    double pj = now() - a;
    tide_table_free(h);
    if (cold < best_cold) best_cold = cold;
    if (warm < best_warm) best_warm = warm;
    if (rg < best_range) best_range = rg;
    if (pj < best_proj) best_proj = pj;
  }
  printf("historical lz4, 10 dates x %llu rows in 2 partitions: write %.3f s = %.1f Mrows/s | "
         "historical_table cold %.3f s = %.1f Mrows/s, warm %.3f s = %.1f Mrows/s (%llu rows) | "
         "2-date range (warm) %.3f s (%llu rows) | columns=[Price] (warm) %.3f s\n",
         (unsigned long long)(n / 10), w, n / w / 1e6, best_cold, rows / best_cold / 1e6, best_warm,
         rows / best_warm / 1e6, (unsigned long long)rows, best_range, (unsigned long long)rrows, best_proj);
  tide_table_free(t);
  snprintf(cmd, sizeof cmd, "rm -rf %s", base); if (system(cmd)) return 1;
  return 0;
}
