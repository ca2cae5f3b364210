/*
 * The machine's limits, for scripts/perf limits: what a scan or a hash
 * probe could reach at best on this machine.
 *
 *   tide_perf_limits [--mb MB] [--reps R] [--threads N] [--lookups M]
 *
 * - sequential read: each thread sums its own contiguous slice of a large
 *   array of 8-byte words (first touched by that thread), 1 thread and then
 *   all threads (one per usable CPU, pinned); GB/s = bytes read / wall time
 *   of the slowest thread, best of R repetitions. With libnuma and more than
 *   one NUMA node, also per node: memory allocated on the node, read by the
 *   node's CPUs.
 * - random lookups: each thread does M independent 8-byte loads at
 *   pseudo-random positions (xorshift; the next address never depends on a
 *   loaded value, so loads overlap as in a hash probe of a batch of keys),
 *   in an array of MB MiB (DRAM) and of 4 MiB (cache); lookups/s.
 *
 * Prints one JSON object on stdout. Built with -DTIDE_BUILD_BENCH=ON.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <errno.h>
#include <numa.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct job {
  int cpu;             /* pin to this CPU, -1 for none */
  uint64_t *data;      /* the whole array */
  size_t begin, end;   /* this thread's slice (words) for sequential reads */
  size_t mask;         /* words - 1 (a power of two) for random lookups */
  uint64_t lookups;    /* random lookups to do */
  int kind;            /* 0 first touch, 1 sequential sum, 2 random lookups */
  pthread_barrier_t *bar;
  double t0, t1;
  uint64_t sink;
} job;

static uint64_t seq_sum(const uint64_t *a, size_t n) {
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    s0 += a[i];
    s1 += a[i + 1];
    s2 += a[i + 2];
    s3 += a[i + 3];
    s4 += a[i + 4];
    s5 += a[i + 5];
    s6 += a[i + 6];
    s7 += a[i + 7];
  }
  for (; i < n; i++) s0 += a[i];
  return s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7;
}

static uint64_t rand_sum(const uint64_t *a, size_t mask, uint64_t n, uint64_t seed) {
  uint64_t x0 = seed | 1, x1 = (seed * 0x9e3779b97f4a7c15ull) | 1, s = 0;
  for (uint64_t i = 0; i < n; i += 2) {
    x0 ^= x0 << 13, x0 ^= x0 >> 7, x0 ^= x0 << 17;
    x1 ^= x1 << 13, x1 ^= x1 >> 7, x1 ^= x1 << 17;
    s += a[x0 & mask] + a[x1 & mask];
  }
  return s;
}

static void *run_job(void *arg) {
  job *j = arg;
  if (j->cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(j->cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  }
  pthread_barrier_wait(j->bar);
  j->t0 = now();
  if (j->kind == 0) {
    for (size_t i = j->begin; i < j->end; i++) j->data[i] = i * 0x9e3779b97f4a7c15ull;
  } else if (j->kind == 1) {
    j->sink = seq_sum(j->data + j->begin, j->end - j->begin);
  } else {
    j->sink = rand_sum(j->data, j->mask, j->lookups, (uint64_t)(j->cpu + 1) * 0x2545f4914f6cdd1dull);
  }
  j->t1 = now();
  return NULL;
}

/* Runs `kind` on nthreads threads pinned to cpus[]; returns the wall time
 * from the first start to the last end. */
static double run_threads(int kind, uint64_t *data, size_t words, const int *cpus, int nthreads,
                          uint64_t lookups, uint64_t *sink) {
  job *jobs = calloc((size_t)nthreads, sizeof *jobs);
  pthread_t *tid = calloc((size_t)nthreads, sizeof *tid);
  pthread_barrier_t bar;
  if (!jobs || !tid) {
    fprintf(stderr, "tide_perf_limits: out of memory\n");
    exit(1);
  }
  pthread_barrier_init(&bar, NULL, (unsigned)nthreads);
  for (int t = 0; t < nthreads; t++) {
    jobs[t] = (job){.cpu = cpus ? cpus[t] : -1,
                    .data = data,
                    .begin = words * (size_t)t / (size_t)nthreads,
                    .end = words * (size_t)(t + 1) / (size_t)nthreads,
                    .mask = words - 1,
                    .lookups = lookups,
                    .kind = kind,
                    .bar = &bar};
    if (pthread_create(&tid[t], NULL, run_job, &jobs[t]) != 0) {
      fprintf(stderr, "tide_perf_limits: pthread_create: %s\n", strerror(errno));
      exit(1);
    }
  }
  double t0 = 1e300, t1 = 0;
  for (int t = 0; t < nthreads; t++) {
    pthread_join(tid[t], NULL);
    if (jobs[t].t0 < t0) t0 = jobs[t].t0;
    if (jobs[t].t1 > t1) t1 = jobs[t].t1;
    *sink += jobs[t].sink;
  }
  pthread_barrier_destroy(&bar);
  free(jobs);
  free(tid);
  return t1 - t0;
}

static int g_reps = 5;

/* Best sequential GB/s over g_reps runs; the array is first touched by the
 * same threads (so, with pinning, by the node that reads it). */
static double seq_gbs(uint64_t *data, size_t words, const int *cpus, int n, uint64_t *sink) {
  run_threads(0, data, words, cpus, n, 0, sink);
  double best = 1e300;
  for (int r = 0; r < g_reps; r++) {
    double t = run_threads(1, data, words, cpus, n, 0, sink);
    if (t < best) best = t;
  }
  return (double)words * 8.0 / best / 1e9;
}

/* Best random lookups/s (all threads together) over g_reps runs. */
static double rand_lps(uint64_t *data, size_t words, const int *cpus, int n, uint64_t lookups,
                       uint64_t *sink) {
  run_threads(0, data, words, cpus, n, 0, sink);
  double best = 1e300;
  for (int r = 0; r < g_reps; r++) {
    double t = run_threads(2, data, words, cpus, n, lookups, sink);
    if (t < best) best = t;
  }
  return (double)lookups * (double)n / best;
}

static uint64_t *alloc_words(size_t words) {
  void *p = NULL;
  if (posix_memalign(&p, 2u << 20, words * 8)) {
    fprintf(stderr, "tide_perf_limits: cannot allocate %zu MiB\n", words * 8 >> 20);
    exit(1);
  }
  return p;
}

static size_t pow2_floor(size_t x) {
  size_t p = 1;
  while (p * 2 <= x) p *= 2;
  return p;
}

static void usage(FILE *f) {
  fputs("usage: tide_perf_limits [--mb MB] [--reps R] [--threads N] [--lookups M]\n"
        "  --mb MB       array size for the DRAM probes (default 1024)\n"
        "  --reps R      repetitions, the best is kept (default 5)\n"
        "  --threads N   threads for the all-cores figures (default: usable CPUs)\n"
        "  --lookups M   random lookups per thread per repetition (default 2e7)\n",
        f);
}

int main(int argc, char **argv) {
  size_t mb = 1024;
  uint64_t lookups = 20000000;
  int want_threads = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--mb") && v) {
      mb = strtoull(v, NULL, 10), i++;
    } else if (!strcmp(a, "--reps") && v) {
      g_reps = atoi(v), i++;
    } else if (!strcmp(a, "--threads") && v) {
      want_threads = atoi(v), i++;
    } else if (!strcmp(a, "--lookups") && v) {
      lookups = (uint64_t)strtod(v, NULL), i++;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (mb < 8 || g_reps < 1 || lookups < 2 || want_threads < 0) {
    usage(stderr);
    return 2;
  }
  lookups &= ~(uint64_t)1;

  /* the CPUs this process may use (its inherited affinity mask) */
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof mask, &mask) != 0) {
    fprintf(stderr, "tide_perf_limits: sched_getaffinity: %s\n", strerror(errno));
    return 1;
  }
  int cpus[CPU_SETSIZE], ncpu = 0;
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &mask)) cpus[ncpu++] = c;
  int nall = want_threads && want_threads < ncpu ? want_threads : ncpu;
  uint64_t sink = 0;

  size_t words = pow2_floor(mb << 17); /* MiB -> 8-byte words */
  uint64_t *data = alloc_words(words);
  double seq1 = seq_gbs(data, words, cpus, 1, &sink);
  double seqn = seq_gbs(data, words, cpus, nall, &sink);
  double rnd1 = rand_lps(data, words, cpus, 1, lookups, &sink);
  double rndn = rand_lps(data, words, cpus, nall, lookups, &sink);
  free(data);
  size_t cwords = (4u << 20) / 8;
  uint64_t *cdata = alloc_words(cwords);
  double crnd1 = rand_lps(cdata, cwords, cpus, 1, lookups, &sink);
  double crndn = rand_lps(cdata, cwords, cpus, nall, lookups, &sink);
  free(cdata);

  printf("{\n  \"cpus\": %d,\n  \"threads\": %d,\n  \"array_mib\": %zu,\n  \"reps\": %d,\n", ncpu,
         nall, words * 8 >> 20, g_reps);
  printf("  \"seq_read_gbs_1_thread\": %.3f,\n  \"seq_read_gbs_all_threads\": %.3f,\n", seq1,
         seqn);
  printf("  \"random_lookups_per_s_1_thread\": %.4g,\n", rnd1);
  printf("  \"random_lookups_per_s_all_threads\": %.4g,\n", rndn);
  printf("  \"random_lookups_4mib_per_s_1_thread\": %.4g,\n", crnd1);
  printf("  \"random_lookups_4mib_per_s_all_threads\": %.4g,\n", crndn);

  /* per NUMA node, when there is more than one */
  printf("  \"numa_nodes\": [");
  if (numa_available() >= 0 && numa_max_node() > 0) {
    struct bitmask *bm = numa_allocate_cpumask();
    const char *sep = "";
    for (int node = 0; node <= numa_max_node(); node++) {
      if (numa_node_to_cpus(node, bm) != 0) continue;
      int ncpus = 0, ncpus_all[CPU_SETSIZE];
      for (int k = 0; k < ncpu; k++)
        if (numa_bitmask_isbitset(bm, (unsigned)cpus[k])) ncpus_all[ncpus++] = cpus[k];
      if (!ncpus) continue;
      uint64_t *nd = numa_alloc_onnode(words * 8, node);
      if (!nd) continue;
      double g1 = seq_gbs(nd, words, ncpus_all, 1, &sink);
      double gn = seq_gbs(nd, words, ncpus_all, ncpus, &sink);
      numa_free(nd, words * 8);
      printf("%s\n    {\"node\": %d, \"cpus\": %d, \"seq_read_gbs_1_thread\": %.3f, "
             "\"seq_read_gbs_node_threads\": %.3f}",
             sep, node, ncpus, g1, gn);
      sep = ",";
    }
    numa_free_cpumask(bm);
    printf("\n  ");
  }
  printf("],\n  \"checksum\": %llu\n}\n", (unsigned long long)(sink & 0xffff));
  return 0;
}
