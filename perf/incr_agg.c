/*
 * Incremental cost of agg_by: an append-only source of N rows (symbol key
 * of 1,000 values, a double) grows by 10,000 rows per cycle; prints the
 * initial build time and the mean cycle time over 200 cycles of
 * sum(V) by Sym, or of the source alone with a second argument.
 *   build/release/perf/tide_perf_incr_agg 10000000        # with -DTIDE_BUILD_BENCH=ON
 *   build/release/perf/tide_perf_incr_agg 10000000 source
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sched/graph_int.h"
typedef struct {
  tide_source_t *sym, *v;
  uint64_t n;
  uint64_t per;
  uint64_t rng;
} bsrc;
static uint64_t nx(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
static int32_t codes[1000];
static void append(bsrc *b, uint64_t cnt) {
  uint64_t keys[4096];
  int32_t sv[4096];
  double dv[4096];
  for (uint64_t i = 0; i < cnt; i += 4096) {
    uint32_t m = cnt - i < 4096 ? cnt - i : 4096;
    for (uint32_t j = 0; j < m; j++) {
      keys[j] = b->n + i + j;
      sv[j] = codes[nx(&b->rng) % 1000];
      dv[j] = (double)(nx(&b->rng) % 1000) / 10;
    }
    tide__source_paged_set(b->sym, keys, m, sv);
    tide__source_paged_set(b->v, keys, m, dv);
  }
  b->n += cnt;
}
static tide_status refresh(tide_gnode_t *n, tide_error *err) {
  bsrc *b = n->state;
  uint64_t first = b->n;
  append(b, b->per);
  tide_update_t u = {0};
  u.added = tide_rowset_create_range(first, b->n - 1);
  return tide__gnode_publish(n, &u, tide_rowset_create_range(0, b->n - 1), err);
}
static void destroy(tide_gnode_t *n) { free(n->state); }
static const tide_gnode_vt vt = {"bench", refresh, NULL, destroy};
static double now() {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}
int main(int argc, char **argv) {
  uint64_t N = argc > 1 ? strtoull(argv[1], 0, 10) : 1000000;
  int noagg = argc > 2;
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  bsrc *b = calloc(1, sizeof *b);
  b->per = 10000;
  b->rng = 42;
  b->sym = tide__source_paged_create(TIDE_SYMBOL, NULL, &err);
  b->v = tide__source_paged_create(TIDE_F64, NULL, &err);
  tide_symtab_t *st = tide_source_symtab(b->sym);
  for (int i = 0; i < 1000; i++) {
    char s[16];
    int l = snprintf(s, 16, "S%d", i);
    codes[i] = tide_symtab_intern(st, s, l);
  }
  append(b, N);
  tide_source_t *cols[2] = {b->sym, b->v};
  const char *names[2] = {"Sym", "V"};
  tide_rowset_t *rs = tide_rowset_create_range(0, N - 1);
  tide_table_t *t = tide_table_create(rs, 2, names, cols, &err);
  tide_rowset_free(rs);
  if (!tide__gnode_create(g, t, TIDE_KIND_APPEND_ONLY, &vt, NULL, 0, b, &err)) {
    printf("%s\n", err.msg);
    return 1;
  }
  tide_table_t *r = NULL;
  if (!noagg) {
    const char *by[] = {"Sym"};
    const char *c[] = {"V"};
    tide_agg_spec_t sp = {TIDE_AGG_SUM, c, 1, 0, NULL, false};
    double t0 = now();
    r = tide_agg_by(t, &sp, 1, by, 1, &err);
    if (!r) {
      printf("%s\n", err.msg);
      return 1;
    }
    printf("initial build %.1f ms\n", (now() - t0) * 1e3);
  }
  tide_graph_run_cycles(g, 5, &err);
  int C = 200;
  double t0 = now();
  if (tide_graph_run_cycles(g, C, &err) != TIDE_OK) {
    printf("%s\n", err.msg);
    return 1;
  }
  double dt = (now() - t0) / C;
  printf("N=%llu %s: %.3f ms per cycle (10,000 appended rows)\n", (unsigned long long)N,
         noagg ? "source only" : "sum by Sym", dt * 1e3);
  tide_table_free(r);
  tide_table_free(t);
  tide_graph_free(g);
  return 0;
}
