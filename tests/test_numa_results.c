/*
 * Results do not depend on the worker count or the topology (issue 4):
 * a fixed set of operations (where, update/select formulas, agg_by, sort,
 * joins, where_in, head_by, select_distinct, merge, a ticking update and
 * snapshot) over a generated table of 4 morsels (TIDE_MORSEL_ROWS rows
 * each, the last partial), computed with 1 thread, then with 2 and 4
 * (pinned to this machine), with the team pinned to a two-node synthetic
 * machine bound to this one's CPUs ("pack:2 numa:1 core:1 pu:1",
 * HWLOC_THISSYSTEM=1: the morsel dispenser orders work by node; 2 and 4
 * threads), and with 3 threads on an unbound synthetic four-node machine.
 * Every result must be identical to the 1-thread one: text by content,
 * everything else bit for bit (doubles too: float sums are combined in
 * morsel order). Results are compared through an order-dependent
 * fingerprint read chunk by chunk (tu_table_equal reads cell by cell: too
 * slow for these sizes under ASan); tu_table_equal describes a difference.
 * Then out-of-memory sweeps through the parallel scans at 2 threads.
 * NR_TIME=1 prints timings.
 *
 * Pinning happens on the first parallel use per thread count
 * (numa/pool.c), so a topology change is applied with
 * tide_set_numa(OFF) (unbinds, forgets the pins) then tide_set_numa(AUTO)
 * before the next parallel call. The environment and the NUMA mode are
 * restored at the end.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "tide/numa.h"
#include "tide/tide.h"

#define NROWS ((uint64_t)TIDE_MORSEL_ROWS * 3 + 77777) /* 4 morsels, the last partial */
#define NKEYS 1500

typedef struct inputs {
  tide_table_t *t;      /* NROWS rows: K I64, G I32, S SYMBOL, Str STRING, V F64, I I64 */
  tide_table_t *sparse; /* t where V > 0.25 (a RowSet of many ranges) */
  tide_table_t *right;  /* unique K (a subset of the keys) with R */
  tide_table_t *multi;  /* K with 0..2 rows per key, M */
  tide_table_t *fset;   /* keys for where_in */
  tide_table_t *half;   /* t where K has a row in right and V > 0 (2 morsels) */
} inputs;

static tide_table_t *make_inputs(inputs *in, uint64_t seed) {
  tu_rng r = {seed};
  uint64_t n = NROWS;
  int64_t *k = malloc(n * sizeof *k), *ii = malloc(n * sizeof *ii);
  int32_t *g = malloc(n * sizeof *g);
  double *v = malloc(n * sizeof *v);
  const char **sym = malloc(n * sizeof *sym), **str = malloc(n * sizeof *str);
  static char pool[400][16];
  static const char *syms[] = {"AAPL", "MSFT", "IBM", "GOOG", "AMZN", "NVDA", "TSLA", "META"};
  for (int p = 0; p < 400; p++) snprintf(pool[p], sizeof pool[p], "s%03d_%d", (p * 37) % 400, p);
  for (uint64_t i = 0; i < n; i++) {
    k[i] = (int64_t)tu_below(&r, NKEYS);
    g[i] = tu_below(&r, 50) == 0 ? TIDE_NULL_I32 : (int32_t)tu_below(&r, 40);
    /* values with long fractions: sums depend on their order */
    v[i] = tu_below(&r, 200) == 0 ? TIDE_NULL_F64 : (tu_unit(&r) - 0.3) * 1e3;
    ii[i] = (int64_t)(i * 7919 % n);
    sym[i] = syms[tu_below(&r, 8)];
    str[i] = tu_below(&r, 100) == 0 ? NULL : pool[tu_below(&r, 400)];
  }
  const char *names[] = {"K", "G", "S", "Str", "V", "I"};
  const tide_type_t types[] = {TIDE_I64, TIDE_I32, TIDE_SYMBOL, TIDE_STRING, TIDE_F64, TIDE_I64};
  const void *cols[] = {k, g, sym, str, v, ii};
  in->t = tu_table(n, 6, names, types, cols);

  uint64_t nr = 0;
  for (int64_t key = 0; key < NKEYS; key++)
    if (key % 4 != 3) {
      k[nr] = key;
      v[nr] = (double)key * 0.37 + 0.001;
      nr++;
    }
  const char *rnames[] = {"K", "R"};
  const tide_type_t rtypes[] = {TIDE_I64, TIDE_F64};
  const void *rcols[] = {k, v};
  in->right = tu_table(nr, 2, rnames, rtypes, rcols);

  uint64_t nm = 0;
  for (int64_t key = 0; key < NKEYS; key += 2)
    for (int c = 0; c < (int)(key % 3); c++) {
      k[nm] = key;
      ii[nm] = key * 10 + c;
      nm++;
    }
  const char *mnames[] = {"K", "M"};
  const tide_type_t mtypes[] = {TIDE_I64, TIDE_I64};
  const void *mcols[] = {k, ii};
  in->multi = tu_table(nm, 2, mnames, mtypes, mcols);

  uint64_t nf = 0;
  for (int64_t key = 0; key < NKEYS; key += 5) k[nf++] = key;
  const char *fnames[] = {"K"};
  const tide_type_t ftypes[] = {TIDE_I64};
  const void *fcols[] = {k};
  in->fset = tu_table(nf, 1, fnames, ftypes, fcols);

  tide_error err;
  in->sparse = tide_where(in->t, "V > 0.25 * 1000 - 100", &err);
  CHECK_OK_PTR(in->sparse, err);
  static const char *const byk[] = {"K"};
  tide_table_t *m = tide_where_in(in->t, in->right, byk, 1, &err);
  CHECK_OK_PTR(m, err);
  in->half = m ? tide_where(m, "V > 0", &err) : NULL;
  CHECK_OK_PTR(in->half, err);
  tide_table_free(m);
  free(k);
  free(ii);
  free(g);
  free(v);
  free(sym);
  free(str);
  return in->t;
}

#define NOPS 22

/* Result i of the fixed operation set (NULL with err set on failure). */
static tide_table_t *run_op(int i, const inputs *in, const char **label, tide_error *err) {
  static const char *const upd[] = {"W = V * 2.5 + K", "X = I % 7", "Y = W / 3.0 - X"};
  static const char *const sel[] = {"K", "Z = V * V - I", "U = Str"};
  static const char *const byk[] = {"K"};
  static const char *const bykg[] = {"K", "G"};
  static const char *const sv[] = {"V"};
  static const char *const sstr[] = {"Str", "I"};
  static const char *const ssym[] = {"S", "G", "V"};
  static const bool desc3[] = {true, false, true};
  static const char *const vcol[] = {"V"};
  static const char *const avgc[] = {"A=V"};
  static const char *const minc[] = {"Mn=V"};
  static const char *const medc[] = {"Md=V"};
  static const char *const cnt[] = {"N"};
  const tide_agg_spec_t aggs[] = {
      {TIDE_AGG_SUM, vcol, 1, 0, NULL, false},   {TIDE_AGG_AVG, avgc, 1, 0, NULL, false},
      {TIDE_AGG_MIN, minc, 1, 0, NULL, false},   {TIDE_AGG_MEDIAN, medc, 1, 0.5, NULL, false},
      {TIDE_AGG_COUNT, cnt, 1, 0, NULL, false},
  };
  tide_table_t *t = in->t, *sp = in->sparse;
  switch (i) {
    case 0: *label = "where"; return tide_where(t, "V > 0.3 && K % 3 != 1", err);
    case 1: *label = "where (sparse)"; return tide_where(sp, "G > 10 || Str == `s100_123`", err);
    case 2: *label = "update"; return tide_update(t, upd, 3, err);
    case 3: *label = "update (sparse)"; return tide_update(sp, upd, 3, err);
    case 4: *label = "select"; return tide_select(t, sel, 3, err);
    case 5: *label = "agg_by K"; return tide_agg_by(t, aggs, 5, byk, 1, err);
    case 6: *label = "agg_by none"; return tide_agg_by(t, aggs, 5, NULL, 0, err);
    case 7: *label = "agg_by K,G (sparse)"; return tide_agg_by(sp, aggs, 5, bykg, 2, err);
    case 8: *label = "exact_join (half)"; return tide_exact_join(in->half, in->right, byk, 1, NULL, 0, err);
    case 9: *label = "sort V"; return tide_sort(t, sv, 1, err);
    case 10: *label = "sort Str, I (half)"; return tide_sort(in->half, sstr, 2, err);
    case 11: *label = "sort S desc, G, V desc (sparse)"; return tide_sort_ex(sp, ssym, desc3, 3, err);
    case 12: *label = "natural_join"; return tide_natural_join(t, in->right, byk, 1, NULL, 0, err);
    case 13: *label = "join"; return tide_join(t, in->multi, byk, 1, NULL, 0, err);
    case 14: *label = "join (sparse)"; return tide_join(sp, in->right, byk, 1, NULL, 0, err);
    case 15: *label = "where_in"; return tide_where_in(t, in->fset, byk, 1, err);
    case 16: *label = "where_not_in (sparse)"; return tide_where_not_in(sp, in->fset, byk, 1, err);
    case 17: *label = "head_by 3 K"; return tide_head_by(t, 3, byk, 1, err);
    case 18: *label = "select_distinct K,G"; return tide_select_distinct(t, bykg, 2, err);
    case 19: {
      *label = "merge";
      tide_table_t *parts[] = {t, sp};
      return tide_merge(parts, 2, err);
    }
    case 20: *label = "count_by S (sparse)"; {
      static const char *const bys[] = {"S"};
      return tide_count_by(sp, "N", bys, 1, err);
    }
    case 21: *label = "update + snapshot (ticking)"; {
      /* update over a ticking table evaluates its first snapshot in
       * parallel morsels (mat_eval_parallel); snapshot copies morsels */
      tide_graph_t *g = tide_graph_create(err);
      if (!g) return NULL;
      tide_table_t *it = tide_input_table_create(g, t, NULL, 0, err);
      tide_table_t *u = it ? tide_update(it, upd, 3, err) : NULL;
      tide_table_t *s = u ? tide_snapshot(u, err) : NULL;
      tide_table_free(u);
      tide_table_free(it);
      tide_graph_free(g);
      return s;
    }
  }
  return NULL;
}

static const char *labels[NOPS];

static void run_all(const inputs *in, tide_table_t **out) {
  for (int i = 0; i < NOPS; i++) {
    tide_error err;
    labels[i] = "?";
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    out[i] = run_op(i, in, &labels[i], &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (getenv("NR_TIME"))
      fprintf(stderr, "%-32s %.3f s\n", labels[i],
              (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    CHECK_MSG(out[i] != NULL, "%s: %s", labels[i], err.msg);
  }
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Order-dependent 64-bit fingerprint of a table: schema, row count and
 * every value in position order (text by content, other values bit for
 * bit: stricter than tu_table_equal with tolerance 0). Read chunk by chunk:
 * tu_table_equal reads cell by cell, too slow for 600k rows x 24 results
 * under ASan; it describes the first difference when fingerprints differ. */
static uint64_t mix(uint64_t h, uint64_t x) {
  h ^= x + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
  h *= 0xBF58476D1CE4E5B9ULL;
  return h ^ (h >> 31);
}
static uint64_t mix_str(uint64_t h, const char *s) {
  if (!s) return mix(h, 0xDEADBEEFULL);
  uint64_t x = 1469598103934665603ULL;
  for (; *s; s++) x = (x ^ (unsigned char)*s) * 1099511628211ULL;
  return mix(h, x);
}

static uint64_t fingerprint(const tide_table_t *t) {
  uint64_t n = tide_table_size(t);
  size_t nc = tide_table_ncols(t);
  uint64_t h = mix(mix(0, n), nc);
  uint64_t kb[TIDE_CHUNK_SIZE], vals[TIDE_CHUNK_SIZE];
  for (size_t c = 0; c < nc; c++) {
    tide_source_t *src = tide_table_col_source(t, c);
    tide_type_t type = tide_source_type(src);
    h = mix_str(mix(h, (uint64_t)type), tide_table_col_name(t, c));
    size_t w = tide_type_width(type);
    tide_rowset_iter_t it;
    tide_rowset_iter_init_pos(&it, tide_table_rowset(t), 0, n);
    tide_rowseq_t seq;
    while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, kb)) {
      tide_source_fill(src, &seq, vals);
      if (type == TIDE_STRING) {
        const char **v = (const char **)vals;
        for (uint32_t j = 0; j < seq.n; j++) h = mix_str(h, v[j]);
      } else if (type == TIDE_SYMBOL) {
        const int32_t *v = (const int32_t *)vals;
        tide_symtab_t *st = tide_source_symtab(src);
        for (uint32_t j = 0; j < seq.n; j++) h = mix_str(h, v[j] < 0 ? NULL : tide_symtab_str(st, v[j]));
      } else {
        const unsigned char *v = (const unsigned char *)vals;
        for (uint32_t j = 0; j < seq.n; j++) {
          uint64_t x = 0;
          memcpy(&x, v + (size_t)j * w, w);
          h = mix(h, x);
        }
      }
    }
  }
  return h;
}


static uint64_t ref_fp[NOPS];

static void compare_all(const inputs *in, tide_table_t *const *ref, const char *config) {
  tide_table_t *got[NOPS];
  double t0 = now_s();
  run_all(in, got);
  double t1 = now_s();
  for (int i = 0; i < NOPS; i++) {
    char msg[1024];
    if (ref[i] && got[i]) {
      bool eq = fingerprint(got[i]) == ref_fp[i];
      if (!eq && tu_table_equal(ref[i], got[i], 0.0, msg, sizeof msg))
        snprintf(msg, sizeof msg, "equal values, different bits (e.g. -0.0 / NaN payload)");
      CHECK_MSG(eq, "%s: %s differs from the 1-thread result: %s", config, labels[i], msg);
    }
    tide_table_free(got[i]);
  }
  if (getenv("NR_TIME"))
    fprintf(stderr, "%s: ops %.2f s, compare %.2f s\n", config, t1 - t0, now_s() - t1);
}

/* Out of memory inside the morsel scans: every refused allocation fails
 * the op with TIDE_ERR_NOMEM (never a crash or a wrong result), and the
 * first run that gets all its memory equals the 1-thread result. On the
 * first rows of t (2 morsels, the second short) with 2 threads. */
typedef struct oom_ctx {
  const inputs *in;
  tide_table_t *small;
  int op;
} oom_ctx;
static void *oom_run(void *ctx, tide_error *err) {
  const oom_ctx *c = ctx;
  const inputs *in = c->in;
  tide_table_t *sm = c->small;
  static const char *const upd[] = {"W = V * 2.5 + K"};
  static const char *const byk[] = {"K"};
  switch (c->op) {
    case 0: return tide_where(sm, "V > 300", err);
    case 1: return tide_update(sm, upd, 1, err);
    case 2: return tide_join(sm, in->multi, byk, 1, NULL, 0, err);
    case 3: return tide_where_in(sm, in->fset, byk, 1, err);
    default: {
      tide_table_t *parts[] = {sm, sm};
      return tide_merge(parts, 2, err);
    }
  }
}

static void test_oom(const inputs *in) {
  /* (sort's OOM paths are swept in test_sort: too slow here) */
  static const char *const what[] = {"where", "update", "join", "where_in", "merge"};
  tide_error err;
  tide_table_t *small = tide_head(in->t, TIDE_MORSEL_ROWS + 3000, &err);
  CHECK_OK_PTR(small, err);
  if (!small) return;
  for (int op = 0; op < 5; op++) {
    oom_ctx c = {in, small, op};
    CHECK(tide_set_threads(1, &err) == TIDE_OK);
    tide_table_t *want = oom_run(&c, &err);
    CHECK_OK_PTR(want, err);
    CHECK(tide_set_threads(2, &err) == TIDE_OK);
    double t0 = now_s();
    tide_table_t *got = tu_oom_sweep(what[op], 2000, oom_run, &c, &err);
    if (getenv("NR_TIME")) fprintf(stderr, "oom %s %.2f s\n", what[op], now_s() - t0);
    CHECK_MSG(got != NULL, "%s: %s", what[op], err.msg);
    if (got && want) CHECK_MSG(fingerprint(got) == fingerprint(want), "%s after OOM sweep", what[op]);
    tide_table_free(got);
    tide_table_free(want);
  }
  tide_table_free(small);
}

static char *saved(const char *name) {
  const char *v = getenv(name);
  return v ? strdup(v) : NULL;
}
static void restore(const char *name, char *v) {
  if (v)
    setenv(name, v, 1);
  else
    unsetenv(name);
  free(v);
}

/* Apply the topology now in the environment: forget the pins so that the
 * next parallel call pins again under it. */
static void repin(int threads) {
  tide_error err;
  CHECK(tide_set_numa(TIDE_NUMA_OFF, &err) == TIDE_OK);
  CHECK(tide_set_numa(TIDE_NUMA_AUTO, &err) == TIDE_OK);
  CHECK(tide_set_threads(threads, &err) == TIDE_OK);
}

int main(void) {
  char *old_topo = saved("TIDE_TOPOLOGY"), *old_this = saved("HWLOC_THISSYSTEM");
  tide_numa_mode_t old_mode = tide_get_numa();
  tide_error err;
  unsetenv("TIDE_TOPOLOGY");
  unsetenv("HWLOC_THISSYSTEM");

  inputs in;
  double t0 = now_s();
  make_inputs(&in, tu_seed(20261121));
  if (getenv("NR_TIME")) fprintf(stderr, "inputs %.2f s\n", now_s() - t0);
  tide_table_t *ref[NOPS];
  CHECK(tide_set_threads(1, &err) == TIDE_OK);
  run_all(&in, ref);
  for (int i = 0; i < NOPS; i++) {
    double f0 = now_s();
    ref_fp[i] = ref[i] ? fingerprint(ref[i]) : 0;
    if (getenv("NR_TIME")) fprintf(stderr, "fingerprint %-32s %.3f\n", labels[i], now_s() - f0);
  }
  int configs = 1;

  char cfg[128];
  /* 3 threads: the unbound synthetic machine below (not pinned, so the
   * same schedule as a plain team of 3). */
  for (int th = 2; th <= 4; th += 2) {
    repin(th);
    snprintf(cfg, sizeof cfg, "%d threads", th);
    compare_all(&in, ref, cfg);
    configs++;
  }

  /* Two one-CPU nodes bound to CPUs 0 and 1: the dispenser orders morsels
   * by node (2 threads: one per node; 4: two per node, sharing a CPU). */
  cpu_set_t mask;
  bool two_cpus = sched_getaffinity(0, sizeof mask, &mask) == 0 && CPU_ISSET(0, &mask) &&
                  CPU_ISSET(1, &mask) && !getenv("OMP_PROC_BIND");
  setenv("TIDE_TOPOLOGY", "pack:2 numa:1 core:1 pu:1", 1);
  setenv("HWLOC_THISSYSTEM", "1", 1);
  for (int th = 2; th <= 4; th += 2) {
    repin(th);
    (void)tide__threads_for(UINT64_C(1) << 40); /* pins */
    if (two_cpus) {
      CHECK_MSG(tide_workers_pinned(), "%d threads on pack:2 numa:1 core:1 pu:1 not pinned", th);
      int nodes[4];
      tide__pool_worker_nodes(nodes, th);
      CHECK_MSG(nodes[0] != nodes[th - 1], "workers 0 and %d on the same node %d", th - 1,
                nodes[0]);
    }
    snprintf(cfg, sizeof cfg, "%d threads, pack:2 numa:1 core:1 pu:1 (bound)", th);
    compare_all(&in, ref, cfg);
    configs++;
  }

  /* A synthetic four-node machine, not bound. */
  setenv("TIDE_TOPOLOGY", "pack:2 numa:2 core:2 pu:1", 1);
  unsetenv("HWLOC_THISSYSTEM");
  {
    int th = 3; /* blocks of 2, 1 and 1 morsels: one worker gets two */
    repin(th);
    snprintf(cfg, sizeof cfg, "%d threads, pack:2 numa:2 core:2 pu:1 (synthetic)", th);
    compare_all(&in, ref, cfg);
    configs++;
  }

  double o0 = now_s();
  test_oom(&in);
  if (getenv("NR_TIME")) fprintf(stderr, "oom sweeps %.2f s\n", now_s() - o0);

  /* Back to how the process started. */
  CHECK(tide_set_numa(TIDE_NUMA_OFF, &err) == TIDE_OK);
  restore("TIDE_TOPOLOGY", old_topo);
  restore("HWLOC_THISSYSTEM", old_this);
  CHECK(tide_set_numa(old_mode, &err) == TIDE_OK);
  CHECK(tide_set_threads(0, &err) == TIDE_OK);

  for (int i = 0; i < NOPS; i++) tide_table_free(ref[i]);
  tide_table_free(in.t);
  tide_table_free(in.sparse);
  tide_table_free(in.right);
  tide_table_free(in.multi);
  tide_table_free(in.fset);
  tide_table_free(in.half);
  printf("numa_results: %d operations x %d configurations over %llu rows\n", NOPS, configs,
         (unsigned long long)NROWS);
  return tu_finish("numa_results");
}
