/*
 * Topology and worker plan (numa/): plans checked against counts computed
 * independently, the inherited affinity mask respected, and real pinning
 * on an hwloc synthetic two-node machine bound to this one's CPUs
 * (HWLOC_THISSYSTEM=1), checked with sched_getcpu in later parallel
 * regions.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "core/core_int.h"
#include "testutil.h"
#include "tide/numa.h"

static tide_topology_t *load(const char *desc, bool thissystem) {
  tide_error err;
  if (desc)
    setenv("TIDE_TOPOLOGY", desc, 1);
  else
    unsetenv("TIDE_TOPOLOGY");
  if (thissystem)
    setenv("HWLOC_THISSYSTEM", "1", 1);
  else
    unsetenv("HWLOC_THISSYSTEM");
  tide_topology_t *t = tide_topology_load(&err);
  CHECK_MSG(t != NULL, "load %s: %s", desc ? desc : "(machine)", t ? "" : err.msg);
  return t;
}

/* Plans on a synthetic 2 packages x 2 nodes x 4 cores x 2 PUs machine. */
static void test_plan_synthetic(void) {
  tide_topology_t *t = load("pack:2 numa:2 core:4 pu:2", false);
  if (!t) return;
  CHECK(tide_topology_npackages(t) == 2);
  CHECK(tide_topology_nnodes(t) == 4);
  CHECK(tide_topology_ncores(t) == 16);
  CHECK(tide_topology_npus(t) == 32);
  tide_worker_place_t pl[48];
  for (int n = 1; n <= 48; n++) {
    int shared = tide_topology_plan(t, n, pl);
    CHECK_MSG(shared == (n > 32 ? n - 32 : 0), "n=%d shared=%d", n, shared);
    int per_node[4] = {0}, pu_use[32] = {0}, core_use[16] = {0};
    for (int w = 0; w < n; w++) {
      CHECK(pl[w].worker == w);
      CHECK(pl[w].pu_os >= 0 && pl[w].pu_os < 32);
      CHECK(pl[w].node >= 0 && pl[w].node < 4);
      /* the synthetic machine numbers PUs node by node: 8 per node, 2 per core */
      CHECK_MSG(pl[w].pu_os / 8 == pl[w].node, "n=%d worker %d PU %d node %d", n, w, pl[w].pu_os,
                pl[w].node);
      CHECK(pl[w].pu_os / 2 == pl[w].core);
      CHECK(pl[w].package == pl[w].node / 2);
      if (w) CHECK_MSG(pl[w].node >= pl[w - 1].node, "n=%d: workers not numbered by node", n);
      per_node[pl[w].node]++;
      pu_use[pl[w].pu_os]++;
      core_use[pl[w].core]++;
    }
    /* balanced over the four equal nodes */
    for (int i = 0; i < 4; i++)
      CHECK_MSG(per_node[i] == n / 4 || per_node[i] == n / 4 + 1, "n=%d node %d has %d", n, i,
                per_node[i]);
    /* one worker per core before any core gets a second, one per PU before sharing */
    for (int c = 0; c < 16; c++) {
      int expect_min = n >= 16 ? 1 : 0;
      CHECK(core_use[c] >= expect_min);
      if (n <= 16) CHECK(core_use[c] <= 1);
    }
    if (n <= 32)
      for (int p = 0; p < 32; p++) CHECK(pu_use[p] <= 1);
  }
  char buf[4096];
  FILE *f = fmemopen(buf, sizeof buf, "w");
  tide_error err;
  CHECK(tide_topology_print(t, 5, f, &err) == TIDE_OK);
  fclose(f);
  CHECK(strstr(buf, "2 package(s), 4 NUMA node(s), 16 core(s), 32 PU(s)") != NULL);
  CHECK(strstr(buf, "worker 4 -> PU 24, core 12, node 3, package 1") != NULL);
  tide_topology_free(t);
}

/* Unequal nodes: workers follow the core counts; bad descriptions fail. */
static void test_errors(void) {
  tide_error err;
  setenv("TIDE_TOPOLOGY", "numa:2 bogus:7", 1);
  tide_topology_t *t = tide_topology_load(&err);
  CHECK(t == NULL);
  CHECK(err.status == TIDE_ERR_INVALID && strstr(err.msg, "bogus:7") != NULL);
  unsetenv("TIDE_TOPOLOGY");
}

/* The process's affinity mask limits the plan to its CPUs. */
static void test_mask(void) {
  cpu_set_t old, one;
  if (sched_getaffinity(0, sizeof old, &old) != 0 || CPU_COUNT(&old) < 2) {
    fprintf(stderr, "numa: fewer than 2 CPUs; mask test skipped\n");
    return;
  }
  int last = -1;
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &old)) last = c;
  CPU_ZERO(&one);
  CPU_SET(last, &one);
  CHECK(sched_setaffinity(0, sizeof one, &one) == 0);
  tide_topology_t *t = load(NULL, false);
  if (t) {
    CHECK(tide_topology_npus(t) == 1);
    tide_worker_place_t pl[3];
    CHECK(tide_topology_plan(t, 3, pl) == 2); /* two workers share the only CPU */
    for (int w = 0; w < 3; w++) CHECK(pl[w].pu_os == last);
    tide_topology_free(t);
  }
  CHECK(sched_setaffinity(0, sizeof old, &old) == 0);
}

/* Real binding on "pack:2 numa:1 core:1 pu:1" (two nodes of one CPU). */
static void test_pinning(void) {
  cpu_set_t old;
  if (sched_getaffinity(0, sizeof old, &old) != 0 || !CPU_ISSET(0, &old) || !CPU_ISSET(1, &old)) {
    fprintf(stderr, "numa: CPUs 0 and 1 not both usable; pinning test skipped\n");
    return;
  }
  tide_error err;
  setenv("TIDE_TOPOLOGY", "pack:2 numa:1 core:1 pu:1", 1);
  setenv("HWLOC_THISSYSTEM", "1", 1);
  CHECK(tide_set_numa(TIDE_NUMA_AUTO, &err) == TIDE_OK);
  CHECK(tide_set_threads(2, &err) == TIDE_OK);
  tide_worker_place_t pl[2];
  CHECK(tide_worker_plan(pl, 2, &err) == 2);
  CHECK(pl[0].node == 0 && pl[1].node == 1 && pl[0].pu_os == 0 && pl[1].pu_os == 1);
  (void)tide__threads_for(UINT64_C(1) << 40); /* first parallel use pins */
  CHECK(tide_workers_pinned());
  for (int rep = 0; rep < 20; rep++) {
    int cpu[2] = {-1, -1};
#pragma omp parallel num_threads(2)
    {
      int w = omp_get_thread_num();
      volatile double x = 0;
      for (int i = 0; i < 20000; i++) x += i; /* run a little */
      cpu[w] = sched_getcpu();
    }
    CHECK_MSG(cpu[0] == 0 && cpu[1] == 1, "rep %d: workers ran on CPUs %d, %d (plan 0, 1)", rep,
              cpu[0], cpu[1]);
  }
  /* off: the team goes back to the process mask */
  CHECK(tide_set_numa(TIDE_NUMA_OFF, &err) == TIDE_OK);
  CHECK(!tide_workers_pinned());
  int both = 1;
#pragma omp parallel num_threads(2)
  {
    cpu_set_t s;
    if (pthread_getaffinity_np(pthread_self(), sizeof s, &s) != 0 || CPU_COUNT(&s) < 2) {
#pragma omp atomic write
      both = 0;
    }
  }
  CHECK_MSG(both, "after TIDE_NUMA=off a worker is still bound to one CPU");
  CHECK(tide_set_numa(TIDE_NUMA_AUTO, &err) == TIDE_OK);
  CHECK(tide_set_numa((tide_numa_mode_t)7, &err) == TIDE_ERR_RANGE);
  unsetenv("TIDE_TOPOLOGY");
  unsetenv("HWLOC_THISSYSTEM");
  CHECK(tide_set_threads(0, &err) == TIDE_OK);
}

/* The morsel dispenser hands out every morsel exactly once, own block
 * first, for any team size, also when only some workers ask. */
static void test_morsels(void) {
  tide_error err;
  for (int team = 1; team <= 6; team++)
    for (uint64_t nm = 0; nm <= 70; nm += (nm < 10 ? 1 : 13)) {
      tide_morsels_t ms;
      CHECK(tide__morsels_init(&ms, nm, team, &err) == TIDE_OK);
      int *seen = calloc(nm + 1, sizeof *seen);
#pragma omp parallel num_threads(team)
      {
        uint64_t m;
        while (tide__morsels_next(&ms, omp_get_thread_num(), &m)) {
          if (m < nm) {
#pragma omp atomic
            seen[m]++;
          } else {
#pragma omp atomic
            seen[nm]++;
          }
        }
      }
      for (uint64_t i = 0; i <= nm; i++)
        CHECK_MSG(seen[i] == (i < nm), "team %d, %llu morsels: morsel %llu taken %d times", team,
                  (unsigned long long)nm, (unsigned long long)i, seen[i]);
      free(seen);
      tide__morsels_free(&ms);
      /* one worker alone: its own block in order, then everything else */
      CHECK(tide__morsels_init(&ms, nm, team, &err) == TIDE_OK);
      int last = team - 1;
      uint64_t q = nm / (uint64_t)team, r = nm % (uint64_t)team;
      uint64_t b0 = (uint64_t)last * q + ((uint64_t)last < r ? (uint64_t)last : r);
      uint64_t m, k = 0;
      int *got = calloc(nm + 1, sizeof *got);
      while (tide__morsels_next(&ms, last, &m)) {
        if (k < nm - b0) CHECK_MSG(m == b0 + k, "alone: morsel %llu at step %llu",
                                   (unsigned long long)m, (unsigned long long)k);
        got[m < nm ? m : nm]++;
        k++;
      }
      CHECK(k == nm);
      for (uint64_t i = 0; i < nm; i++) CHECK(got[i] == 1);
      free(got);
      tide__morsels_free(&ms);
    }
}

int main(void) {
  test_mask(); /* first: before any OpenMP thread exists (the mask read is the process's) */
  test_morsels();
  test_plan_synthetic();
  test_errors();
  test_pinning();
  return tu_finish("numa");
}
