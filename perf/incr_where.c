/*
 * Incremental cost of where over a ticking table with sparse keys (the
 * RowSet is in its bitmap representation): N rows at keys 0, 100, 200, ...
 * (below 2^30 for N = 1e7: 60 buckets, 15,259 array containers), column V
 * uniform in [0, 1), filter `V > 0.5`. Per cycle 10,000 rows change:
 *   append  10,000 new rows after the last key (one bucket touched)
 *   modify  10,000 random rows get new V values (about 5,000 enter or
 *           leave the filter, all over the key space)
 * Prints the mean CPU time per cycle (of the cycling thread; run with
 * TIDE_THREADS=1: the 2-core VM is shared) and the wall time, over C
 * cycles, with and without the where. With K > 1, K where nodes over the
 * source (one graph level; run with TIDE_GRAPH_PARALLEL=0 and =1 to
 * compare serial and parallel notification by wall time).
 *   build/release/perf/tide_perf_incr_where 10000000 append [cycles [K]]  # -DTIDE_BUILD_BENCH=ON
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/graph_int.h"

#define STRIDE 100
#define PER 10000

typedef struct {
  tide_source_t *v;
  uint64_t n;
  uint64_t rng;
  int modify;
} bsrc;

static uint64_t nx(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static void write_rows(bsrc *b, const uint64_t *keys, uint32_t m) {
  double dv[4096];
  for (uint32_t j = 0; j < m; j++) dv[j] = (double)(nx(&b->rng) >> 11) * 0x1.0p-53;
  tide__source_paged_set(b->v, keys, m, dv);
}

static void append(bsrc *b, uint64_t cnt) {
  uint64_t keys[4096];
  for (uint64_t i = 0; i < cnt; i += 4096) {
    uint32_t m = cnt - i < 4096 ? (uint32_t)(cnt - i) : 4096;
    for (uint32_t j = 0; j < m; j++) keys[j] = (b->n + i + j) * STRIDE;
    write_rows(b, keys, m);
  }
  b->n += cnt;
}

static tide_status refresh(tide_gnode_t *n, tide_error *err) {
  bsrc *b = n->state;
  tide_update_t u = {0};
  if (b->modify) {
    uint64_t keys[PER];
    for (int i = 0; i < PER; i++) keys[i] = (nx(&b->rng) % b->n) * STRIDE;
    for (int i = 0; i < PER; i += 4096) write_rows(b, keys + i, PER - i < 4096 ? PER - i : 4096);
    u.modified = tide_rowset_from_keys(keys, PER);
    u.modified_cols = calloc(1, sizeof *u.modified_cols);
    u.modified_cols[0] = 1;
    u.ncols = 1;
    return tide__gnode_publish(n, &u, NULL, err);
  }
  uint64_t first = b->n;
  append(b, PER);
  uint64_t *keys = malloc(PER * sizeof *keys);
  for (int i = 0; i < PER; i++) keys[i] = (first + i) * STRIDE;
  u.added = tide_rowset_from_keys(keys, PER);
  free(keys);
  tide_rowset_t *rs = tide_rowset_union(n->table->rowset, u.added);
  return tide__gnode_publish(n, &u, rs, err);
}

static void destroy(tide_gnode_t *n) { free(n->state); }
static const tide_gnode_vt vt = {"bench", refresh, NULL, destroy};

static double now(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* mean CPU time of this thread per cycle; *wall: mean wall time */
static double run(tide_graph_t *g, int C, double *wall) {
  tide_error err;
  tide_graph_run_cycles(g, 3, &err);
  double t0 = now(CLOCK_THREAD_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
  if (tide_graph_run_cycles(g, C, &err) != TIDE_OK) {
    printf("%s\n", err.msg);
    exit(1);
  }
  *wall = (now(CLOCK_MONOTONIC) - w0) / C;
  return (now(CLOCK_THREAD_CPUTIME_ID) - t0) / C;
}

int main(int argc, char **argv) {
  uint64_t N = argc > 1 ? strtoull(argv[1], 0, 10) : 1000000;
  int modify = argc > 2 && strcmp(argv[2], "modify") == 0;
  int C = argc > 3 ? atoi(argv[3]) : 100;
  int K = argc > 4 ? atoi(argv[4]) : 1;
  if (K < 1 || K > 64) K = 1;
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, false);
  bsrc *b = calloc(1, sizeof *b);
  b->rng = 42;
  b->modify = modify;
  b->v = tide__source_paged_create(TIDE_F64, NULL, &err);
  if (modify) tide__source_track_prev(b->v, tide__graph_step_ptr(g));
  append(b, N);
  uint64_t *keys = malloc(N * sizeof *keys);
  for (uint64_t i = 0; i < N; i++) keys[i] = i * STRIDE;
  tide_rowset_t *rs = tide_rowset_from_keys(keys, N);
  free(keys);
  tide_source_t *cols[1] = {b->v};
  const char *names[1] = {"V"};
  tide_table_t *t = tide_table_create(rs, 1, names, cols, &err);
  tide_rowset_free(rs);
  if (!tide__gnode_create(g, t, modify ? TIDE_KIND_STANDARD : TIDE_KIND_APPEND_ONLY, &vt, NULL, 0,
                          b, &err)) {
    printf("%s\n", err.msg);
    return 1;
  }
  double srcw, totw;
  double src = run(g, C, &srcw);
  tide_table_t *r[64];
  for (int k = 0; k < K; k++) {
    char f[32];
    snprintf(f, sizeof f, "V > %.3f", 0.5 + 0.001 * k);
    r[k] = tide_where(t, f, &err);
    if (!r[k]) {
      printf("%s\n", err.msg);
      return 1;
    }
  }
  double tot = run(g, C, &totw);
  printf("N=%llu %s: CPU per cycle: source %.3f ms, source + %d where %.3f ms (where %.3f ms; "
         "%llu rows); wall: %.3f ms, %.3f ms\n",
         (unsigned long long)N, modify ? "modify" : "append", src * 1e3, K, tot * 1e3,
         (tot - src) * 1e3, (unsigned long long)tide_rowset_size(r[0]->rowset), srcw * 1e3,
         totw * 1e3);
  for (int k = 0; k < K; k++) tide_table_free(r[k]);
  tide_table_free(t);
  tide_graph_free(g);
  return 0;
}
