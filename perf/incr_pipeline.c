/*
 * The incremental cost benchmark of issue 3: a ticking source of N rows
 * (Sym: 1,000 symbols, Price double, Size int64) feeds
 *   where(Size > 10) -> update(Notional = Price * Size)
 *   -> natural_join(ref on Sym: Sector, Weight)   (ref: static, 1,000 rows)
 *   -> agg_by([sum(Notional, Size), avg(Price)] by Sym)
 * and each cycle changes 10,000 rows: `append` adds 10,000 rows (an
 * append-only source), `modify` gives 10,000 random existing rows new
 * Price and Size values (a standard source, previous values tracked).
 * Prints the initial build time and the median / mean / max cycle time
 * over C cycles (after 5 warm-up cycles), as one JSON line per run.
 *
 *   build/perf/tide_perf_incr_pipeline N append|modify [cycles]
 *   (configure with -DTIDE_BUILD_BENCH=ON; scripts/perf-incr runs the sizes)
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/graph_int.h"

#define NSYM 1000
#define CHANGE 10000

typedef struct bsrc {
  tide_source_t *sym, *price, *size;
  uint64_t n;
  bool modify;
  uint64_t rng;
  int32_t codes[NSYM];
  uint64_t *keys;
  int32_t *sv;
  double *pv;
  int64_t *zv;
} bsrc;

static uint64_t nx(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/* Write rows at keys[0..m): new Price and Size, and Sym when with_sym. */
static void write_rows(bsrc *b, uint32_t m, bool with_sym) {
  for (uint32_t j = 0; j < m; j++) {
    b->sv[j] = b->codes[nx(&b->rng) % NSYM];
    b->pv[j] = (double)(nx(&b->rng) % 100000) / 100;
    b->zv[j] = (int64_t)(nx(&b->rng) % 100) + 1;
  }
  if (with_sym) tide__source_paged_set(b->sym, b->keys, m, b->sv);
  tide__source_paged_set(b->price, b->keys, m, b->pv);
  tide__source_paged_set(b->size, b->keys, m, b->zv);
}

static void append(bsrc *b, uint64_t cnt) {
  for (uint64_t i = 0; i < cnt; i += TIDE_CHUNK_SIZE) {
    uint32_t m = (uint32_t)(cnt - i < TIDE_CHUNK_SIZE ? cnt - i : TIDE_CHUNK_SIZE);
    for (uint32_t j = 0; j < m; j++) b->keys[j] = b->n + i + j;
    write_rows(b, m, true);
  }
  b->n += cnt;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static tide_status refresh(tide_gnode_t *node, tide_error *err) {
  bsrc *b = node->state;
  tide_update_t u = {0};
  if (!b->modify) {
    uint64_t first = b->n;
    append(b, CHANGE);
    u.added = tide_rowset_create_range(first, b->n - 1);
    return tide__gnode_publish(node, &u, tide_rowset_create_range(0, b->n - 1), err);
  }
  /* 10,000 distinct random existing rows (CHANGE <= TIDE_CHUNK_SIZE * 3). */
  uint64_t *all = malloc(CHANGE * sizeof *all);
  for (uint64_t i = 0; i < CHANGE; i++) all[i] = nx(&b->rng) % b->n;
  qsort(all, CHANGE, sizeof *all, cmp_u64);
  uint64_t m = 0;
  for (uint64_t i = 0; i < CHANGE; i++)
    if (!m || all[m - 1] != all[i]) all[m++] = all[i];
  for (uint64_t i = 0; i < m; i += TIDE_CHUNK_SIZE) {
    uint32_t c = (uint32_t)(m - i < TIDE_CHUNK_SIZE ? m - i : TIDE_CHUNK_SIZE);
    memcpy(b->keys, all + i, c * sizeof *all);
    write_rows(b, c, false);
  }
  u.modified = tide_rowset_from_keys(all, m);
  free(all);
  if (!u.modified) return tide_error_set(err, TIDE_ERR_NOMEM, "bench source: out of memory");
  uint64_t mc = (1u << 1) | (1u << 2); /* Price, Size */
  u.modified_cols = malloc(sizeof mc);
  *u.modified_cols = mc;
  u.ncols = 3;
  return tide__gnode_publish(node, &u, NULL, err);
}

static void destroy(tide_gnode_t *n) { (void)n; }
static const tide_gnode_vt vt = {"bench_source", refresh, NULL, destroy};

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void die(const char *what, const tide_error *err) {
  fprintf(stderr, "incr_pipeline: %s: %s\n", what, err->msg);
  exit(1);
}

int main(int argc, char **argv) {
  if (argc < 3 || (strcmp(argv[2], "append") && strcmp(argv[2], "modify"))) {
    fprintf(stderr, "usage: %s N append|modify [cycles]\n", argv[0]);
    return 2;
  }
  uint64_t N = strtoull(argv[1], NULL, 10);
  int C = argc > 3 ? atoi(argv[3]) : 100;
  if (N < CHANGE || C < 1) {
    fprintf(stderr, "incr_pipeline: N must be >= %d and cycles >= 1\n", CHANGE);
    return 2;
  }
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  if (!g) die("graph", &err);
  static bsrc b;
  b.modify = !strcmp(argv[2], "modify");
  b.rng = 42;
  b.keys = malloc(TIDE_CHUNK_SIZE * sizeof *b.keys);
  b.sv = malloc(TIDE_CHUNK_SIZE * sizeof *b.sv);
  b.pv = malloc(TIDE_CHUNK_SIZE * sizeof *b.pv);
  b.zv = malloc(TIDE_CHUNK_SIZE * sizeof *b.zv);
  b.sym = tide__source_paged_create(TIDE_SYMBOL, NULL, &err);
  b.price = tide__source_paged_create(TIDE_F64, NULL, &err);
  b.size = tide__source_paged_create(TIDE_I64, NULL, &err);
  if (!b.sym || !b.price || !b.size) die("sources", &err);
  tide_symtab_t *st = tide_source_symtab(b.sym);
  for (int i = 0; i < NSYM; i++) {
    char s[16];
    int l = snprintf(s, sizeof s, "S%d", i);
    b.codes[i] = tide_symtab_intern(st, s, (size_t)l);
  }
  append(&b, N);
  if (b.modify) /* modified rows need their previous values */
    for (int c = 0; c < 3; c++) {
      tide_source_t *s = c == 0 ? b.sym : c == 1 ? b.price : b.size;
      if (tide__source_track_prev(s, tide__graph_step_ptr(g)) != TIDE_OK) die("track", &err);
    }
  tide_source_t *cols[3] = {b.sym, b.price, b.size};
  const char *names[3] = {"Sym", "Price", "Size"};
  tide_rowset_t *rs = tide_rowset_create_range(0, N - 1);
  tide_table_t *t = tide_table_create(rs, 3, names, cols, &err);
  tide_rowset_free(rs);
  if (!t) die("table", &err);
  for (int c = 0; c < 3; c++) tide_source_release(cols[c]);
  if (!tide__gnode_create(g, t, b.modify ? TIDE_KIND_STANDARD : TIDE_KIND_APPEND_ONLY, &vt, NULL,
                          0, &b, &err))
    die("node", &err);

  /* The static reference table: Sym -> Sector, Weight. */
  tide_source_t *rsym = tide_source_flat_create(TIDE_SYMBOL, NSYM, &err);
  tide_source_t *rsec = tide_source_flat_create(TIDE_I64, NSYM, &err);
  tide_source_t *rw = tide_source_flat_create(TIDE_F64, NSYM, &err);
  if (!rsym || !rsec || !rw) die("ref", &err);
  tide__source_set_symtab(rsym, st);
  for (int i = 0; i < NSYM; i++) {
    ((int32_t *)tide_source_flat_data(rsym))[i] = b.codes[i];
    ((int64_t *)tide_source_flat_data(rsec))[i] = i % 11;
    ((double *)tide_source_flat_data(rw))[i] = 1.0 / (i + 1);
  }
  tide_source_t *rcols[3] = {rsym, rsec, rw};
  const char *rnames[3] = {"Sym", "Sector", "Weight"};
  tide_rowset_t *rrs = tide_rowset_create_range(0, NSYM - 1);
  tide_table_t *ref = tide_table_create(rrs, 3, rnames, rcols, &err);
  tide_rowset_free(rrs);
  if (!ref) die("ref table", &err);
  for (int c = 0; c < 3; c++) tide_source_release(rcols[c]);

  /* TIDE_PIPE_STAGES=0..4 (default 4) keeps only the first stages (0: the
   * source alone), to see what each op adds to a cycle. */
  const char *se = getenv("TIDE_PIPE_STAGES");
  int stages = se ? atoi(se) : 4;
  double t0 = now();
  tide_table_t *w = NULL, *u = NULL, *j = NULL, *a = NULL;
  if (stages >= 1 && !(w = tide_where(t, "Size > 10", &err))) die("where", &err);
  const char *f[] = {"Notional = Price * Size"};
  if (stages >= 2 && !(u = tide_update(w, f, 1, &err))) die("update", &err);
  const char *on[] = {"Sym"};
  const char *jn[] = {"Sector", "Weight"};
  if (stages >= 3 && !(j = tide_natural_join(u, ref, on, 1, jn, 2, &err)))
    die("natural_join", &err);
  const char *by[] = {"Sym"};
  const char *sc[] = {"Notional", "Size"};
  const char *ac[] = {"Price"};
  tide_agg_spec_t sp[2] = {{TIDE_AGG_SUM, sc, 2, 0, NULL, false},
                           {TIDE_AGG_AVG, ac, 1, 0, NULL, false}};
  if (stages >= 4 && !(a = tide_agg_by(j, sp, 2, by, 1, &err))) die("agg_by", &err);
  double build = now() - t0;

  if (tide_graph_run_cycles(g, 5, &err) != TIDE_OK) die("warm-up", &err);
  double *ct = malloc((size_t)C * sizeof *ct);
  double sum = 0, mx = 0;
  for (int c = 0; c < C; c++) {
    double s0 = now();
    if (tide_graph_run_cycles(g, 1, &err) != TIDE_OK) die("cycle", &err);
    ct[c] = now() - s0;
    sum += ct[c];
    if (ct[c] > mx) mx = ct[c];
  }
  qsort(ct, (size_t)C, sizeof *ct, cmp_d);
  printf("{\"suite\":\"incr_pipeline\",\"rows\":%llu,\"change\":\"%s\",\"changed_rows\":%d,"
         "\"cycles\":%d,\"build_ms\":%.2f,\"median_ms\":%.3f,\"mean_ms\":%.3f,\"max_ms\":%.3f,"
         "\"stages\":%d,\"final_rows\":%llu,\"groups\":%llu}\n",
         (unsigned long long)N, argv[2], CHANGE, C, build * 1e3, ct[C / 2] * 1e3, sum / C * 1e3,
         mx * 1e3, stages, (unsigned long long)(j ? tide_table_size(j) : 0),
         (unsigned long long)(a ? tide_table_size(a) : 0));
  free(ct);
  tide_table_free(a);
  tide_table_free(j);
  tide_table_free(u);
  tide_table_free(w);
  tide_table_free(ref);
  tide_table_free(t);
  tide_graph_free(g);
  free(b.keys);
  free(b.sv);
  free(b.pv);
  free(b.zv);
  return 0;
}
