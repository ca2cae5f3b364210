/*
 * perf/hist_io.c: write and read rates of table directories (codec none,
 * lz4, zstd) and of historical partitions, 1e7 rows (Sym symbol(100), Price
 * double (cents random walk), Size int64, Time timestamp). Cold reads: sync
 * + drop_caches when permitted, and every file evicted with
 * posix_fadvise(DONTNEED). Built as build/perf/tide_perf_hist_io with
 * -DTIDE_BUILD_BENCH=ON.
 * Run: hist_io SCRATCH_DIR [ROWS] [hist]   (SCRATCH_DIR is removed and
 * recreated; "hist": only the historical part). The historical part
 * compares the lazy historical_table (creation, first scan cold and warm,
 * a where on 2 dates) with the eager read it replaced (eager_read).
 * SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
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

/* Internal (io/io_int.h, core/core_int.h): counters of the lazy
 * historical reader; one dictionary for every partition's Date. */
uint64_t tide__hist_open_count(void);
uint64_t tide__hist_block_count(void);
void tide__source_set_symtab(tide_source_t *src, tide_symtab_t *st);

/* sum(Price) + sum(Size) over t (agg_by, no keys): a full scan. */
static double sum2(tide_table_t *t) {
  tide_error err;
  const char *c1[] = {"Price"}, *c2[] = {"Size"};
  tide_agg_spec_t a[2] = {{.kind = TIDE_AGG_SUM, .cols = c1, .ncols = 1},
                          {.kind = TIDE_AGG_SUM, .cols = c2, .ncols = 1}};
  tide_table_t *s = tide_agg_by(t, a, 2, NULL, 0, &err);
  if (!s) { fprintf(stderr, "sum: %s\n", err.msg); exit(1); }
  double px, sz;
  int64_t szi;
  tide_table_get(s, 0, 0, &px, &err);
  tide_table_get(s, 1, 0, &szi, &err);
  sz = (double)szi;
  tide_table_free(s);
  return px + sz;
}

/* agg_by Sym: sum(Price), sum(Size), max(Time): reads all 4 columns. */
static double scan4(tide_table_t *t) {
  tide_error err;
  const char *c1[] = {"Price"}, *c2[] = {"Size"}, *c3[] = {"Time"}, *by[] = {"Sym"};
  tide_agg_spec_t a[3] = {{.kind = TIDE_AGG_SUM, .cols = c1, .ncols = 1},
                          {.kind = TIDE_AGG_SUM, .cols = c2, .ncols = 1},
                          {.kind = TIDE_AGG_MAX, .cols = c3, .ncols = 1}};
  tide_table_t *s = tide_agg_by(t, a, 3, by, 1, &err);
  if (!s) { fprintf(stderr, "scan4: %s\n", err.msg); exit(1); }
  double v = (double)tide_table_size(s);
  tide_table_free(s);
  return v;
}

/* The eager historical read this session replaced (kept here as the
 * baseline): each date's table directory read whole (every block verified
 * and decoded), a flat SYMBOL Date column prepended (one shared
 * dictionary), tide_merge into one flat table. */
static double g_eager_read_s, g_eager_merge_s; /* phases of the last eager_read */
static tide_table_t *eager_read(const char *db) {
  tide_error err;
  tide_historical_part_t *parts;
  size_t np;
  if (tide_historical_list(db, "P", "Trades", NULL, &parts, &np, &err)) { fprintf(stderr, "%s\n", err.msg); exit(1); }
  tide_symtab_t *dates = tide_symtab_create();
  tide_table_t **ts = calloc(np, sizeof *ts);
  double t_r = now();
  for (size_t p = 0; p < np; p++) {
    tide_table_t *raw = tide_table_read_dir(parts[p].path, &err);
    if (!raw) { fprintf(stderr, "%s\n", err.msg); exit(1); }
    uint64_t rows = tide_table_size(raw);
    size_t nc = tide_table_ncols(raw);
    tide_source_t *ds = tide_source_flat_create(TIDE_SYMBOL, rows, &err);
    tide__source_set_symtab(ds, dates);
    int32_t code = tide_symtab_intern(dates, parts[p].date, 10);
    int32_t *dv = tide_source_flat_data(ds);
    for (uint64_t i = 0; i < rows; i++) dv[i] = code;
    const char *names[16];
    tide_source_t *srcs[16];
    names[0] = "Date";
    srcs[0] = ds;
    for (size_t c = 0; c < nc && c < 15; c++) {
      names[c + 1] = tide_table_col_name(raw, c);
      srcs[c + 1] = tide_table_col_source(raw, c);
    }
    tide_rowset_t *rs = tide_rowset_create_range(0, rows - 1);
    ts[p] = tide_table_create(rs, nc + 1, names, srcs, &err);
    tide_rowset_free(rs);
    tide_source_release(ds);
    tide_table_free(raw);
  }
  double t_m = now();
  tide_table_t *m = tide_merge(ts, np, &err);
  if (!m) { fprintf(stderr, "%s\n", err.msg); exit(1); }
  g_eager_merge_s = now() - t_m;
  g_eager_read_s = t_m - t_r;
  for (size_t p = 0; p < np; p++) tide_table_free(ts[p]);
  free(ts);
  tide_symtab_release(dates);
  tide_historical_parts_free(parts, np);
  return m;
}

static void loadavg(const char *when) {
  FILE *f = fopen("/proc/loadavg", "r");
  char b[128] = "?";
  if (f) { if (!fgets(b, sizeof b, f)) b[0] = 0; fclose(f); }
  printf("load average %s: %s", when, b);
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
  bool hist_only = argc > 3 && !strcmp(argv[3], "hist");
  loadavg("at start");
  for (int c = 0; c < 3 && !hist_only; c++) {
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
  /* historical: 10 dates of n/10 rows (lz4) into 2 partitions */
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
  printf("historical lz4, 10 dates x %llu rows in 2 partitions: write %.3f s = %.1f Mrows/s\n",
         (unsigned long long)(n / 10), w, n / w / 1e6);
  /* Lazy (tide_historical_table now) against the eager read it replaced
   * (every partition read whole by tide_table_read_dir, Date prepended,
   * tide_merge into one flat table: eager_read() above), 3 rounds. Sum =
   * agg_by sum(Price), sum(Size) over all rows. */
  enum { CREATE_COLD, SUM_COLD, SUM_AGAIN, CREATE_WARM, SUM_WARM, WHERE2_SUM, WHERE2_ONLY,
         SCAN4_WARM, SCAN4_AGAIN, EAGER_COLD, EAGER_WARM, EAGER_SUM, EAGER_SCAN4, NT };
  static const char *what[NT] = {
      "lazy: historical_table, cold cache", "lazy: first sum, cold cache (loads + decodes all)",
      "lazy: second sum, same table (all loaded)", "lazy: historical_table, warm cache",
      "lazy: first sum, warm cache (decodes all)", "lazy: where Date in 2 dates + sum, fresh table",
      "lazy: where Date in 2 dates (no sum)",
      "lazy: first 4-column agg_by Sym, warm (decodes all)", "lazy: second 4-column agg_by Sym",
      "eager: read all 10 dates + merge, cold cache",
      "eager: read all 10 dates + merge, warm cache", "eager: sum over the merged table",
      "eager: 4-column agg_by Sym over the merged table"};
  double best[NT], worst[NT];
  for (int i = 0; i < NT; i++) { best[i] = 1e9; worst[i] = 0; }
  uint64_t opens2 = 0, blocks2 = 0, blocks_all = 0, rows2 = 0;
  double chk_lazy = 0, chk_eager = 0;
#define REC(i, t) do { double t_ = (t); if (t_ < best[i]) best[i] = t_; if (t_ > worst[i]) worst[i] = t_; } while (0)
  for (int rep = 0; rep < 3; rep++) {
    dir_bytes_evict(db, 1);
    if (dc) drop_caches();
    a = now();
    tide_table_t *h = tide_historical_table(db, "P", "Trades", &err);
    REC(CREATE_COLD, now() - a);
    if (!h) { fprintf(stderr, "%s\n", err.msg); return 1; }
    uint64_t b0 = tide__hist_block_count();
    a = now();
    double v = sum2(h);
    REC(SUM_COLD, now() - a);
    blocks_all = tide__hist_block_count() - b0;
    chk_lazy = v;
    a = now();
    sum2(h);
    REC(SUM_AGAIN, now() - a);
    tide_table_free(h);
    a = now();
    h = tide_historical_table(db, "P", "Trades", &err);
    REC(CREATE_WARM, now() - a);
    a = now();
    sum2(h);
    REC(SUM_WARM, now() - a);
    tide_table_free(h);
    h = tide_historical_table(db, "P", "Trades", &err);
    uint64_t o0 = tide__hist_open_count();
    b0 = tide__hist_block_count();
    a = now();
    tide_table_t *wd = tide_where(h, "Date == `2026-01-04` || Date == `2026-01-05`", &err);
    REC(WHERE2_ONLY, now() - a);
    if (!wd) { fprintf(stderr, "%s\n", err.msg); return 1; }
    sum2(wd);
    REC(WHERE2_SUM, now() - a);
    opens2 = tide__hist_open_count() - o0;
    blocks2 = tide__hist_block_count() - b0;
    rows2 = tide_table_size(wd);
    tide_table_free(wd);
    tide_table_free(h);
    h = tide_historical_table(db, "P", "Trades", &err);
    a = now();
    scan4(h);
    REC(SCAN4_WARM, now() - a);
    a = now();
    scan4(h);
    REC(SCAN4_AGAIN, now() - a);
    tide_table_free(h);
    dir_bytes_evict(db, 1);
    if (dc) drop_caches();
    a = now();
    tide_table_t *e = eager_read(db);
    REC(EAGER_COLD, now() - a);
    tide_table_free(e);
    a = now();
    e = eager_read(db);
    REC(EAGER_WARM, now() - a);
    printf("  (eager warm round %d: read_dir x10 %.3f s, tide_merge %.3f s)\n", rep, g_eager_read_s,
           g_eager_merge_s);
    a = now();
    chk_eager = sum2(e);
    REC(EAGER_SUM, now() - a);
    a = now();
    scan4(e);
    REC(EAGER_SCAN4, now() - a);
    tide_table_free(e);
  }
  for (int i = 0; i < NT; i++)
    printf("  %-52s %8.4f s .. %8.4f s%s\n", what[i], best[i], worst[i],
           i == SUM_COLD || i == SUM_WARM || i == EAGER_SUM ? "" : "");
  printf("  full scan: %.1f Mrows/s cold, %.1f warm (decode), %.1f loaded; %llu blocks loaded by "
         "the first sum\n", n / best[SUM_COLD] / 1e6, n / best[SUM_WARM] / 1e6,
         n / best[SUM_AGAIN] / 1e6, (unsigned long long)blocks_all);
  printf("  2-date where: %llu rows, %llu column files opened, %llu blocks loaded; sums lazy %.6g "
         "eager %.6g (%s)\n", (unsigned long long)rows2, (unsigned long long)opens2,
         (unsigned long long)blocks2, chk_lazy, chk_eager, chk_lazy == chk_eager ? "equal" : "DIFFER");
  loadavg("at end");
  tide_table_free(t);
  if (getenv("HIST_IO_KEEP")) return 0; /* keep the data for other probes */
  snprintf(cmd, sizeof cmd, "rm -rf %s", base); if (system(cmd)) return 1;
  return 0;
}
