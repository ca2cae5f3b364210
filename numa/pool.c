/*
 * The worker pool's placement (include/tide/numa.h): tide's parallel
 * operations run on the OpenMP team of tide_get_threads() threads; on
 * first parallel use (and again after the thread count changes) each
 * team member w is bound to the plan's PU for worker w with hwloc.
 * libgomp keeps its pool threads in team order between parallel regions,
 * so the binding holds for later regions of the same size (checked by
 * tests/test_numa.c).
 *
 * Not pinned: TIDE_NUMA=off; when the embedding process binds OpenMP
 * itself (OMP_PROC_BIND set: omp_get_proc_bind() != false); when called
 * inside someone else's parallel region; when the topology is synthetic
 * and not "this system" (binding would be meaningless).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <hwloc.h>
#include <numaif.h>
#include <omp.h>

#include "core/core_int.h"
#include "tide/engine.h"
#include "numa/numa_int.h"

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int numa_mode = -1;  /* -1: not resolved from TIDE_NUMA yet */
static _Atomic int pinned_for = 0;  /* team size the pins were made for */
static _Atomic int pin_tried_for = 0;
static _Atomic bool warned_over = false;
/* The plan the team is pinned to: OS NUMA node of each worker (pinned_for
 * entries), and whether it spans more than one node. */
static int *pinned_node_os = NULL;
static _Atomic bool pinned_multi = false;

static tide_numa_mode_t mode_from_env(void) {
  const char *e = getenv("TIDE_NUMA");
  if (e && !strcmp(e, "off")) return TIDE_NUMA_OFF;
  return TIDE_NUMA_AUTO;
}

tide_status tide_set_numa(tide_numa_mode_t mode, tide_error *err) {
  if (mode != TIDE_NUMA_AUTO && mode != TIDE_NUMA_OFF)
    return tide_error_set(err, TIDE_ERR_RANGE, "NUMA mode %d out of range (auto or off)", (int)mode);
  pthread_mutex_lock(&pool_mu);
  numa_mode = (int)mode;
  pin_tried_for = 0;
  if (mode == TIDE_NUMA_OFF && pinned_for) {
    /* Unbind the team: back to the process's mask. */
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) == 0 && hwloc_topology_load(topo) == 0) {
      hwloc_bitmap_t set = hwloc_bitmap_alloc();
      if (set && hwloc_get_cpubind(topo, set, HWLOC_CPUBIND_PROCESS) == 0) {
#pragma omp parallel num_threads(pinned_for)
        hwloc_set_cpubind(topo, set, HWLOC_CPUBIND_THREAD);
      }
      hwloc_bitmap_free(set);
      hwloc_topology_destroy(topo);
    }
    pinned_for = 0;
    pinned_multi = false;
  }
  pthread_mutex_unlock(&pool_mu);
  return TIDE_OK;
}

tide_numa_mode_t tide_get_numa(void) {
  int m = numa_mode;
  if (m < 0) {
    m = (int)mode_from_env();
    numa_mode = m;
  }
  return (tide_numa_mode_t)m;
}

bool tide_workers_pinned(void) { return pinned_for == tide_get_threads(); }

int tide_worker_plan(tide_worker_place_t *out, int cap, tide_error *err) {
  tide_topology_t *t = tide_topology_load(err);
  if (!t) return -1;
  int n = tide_get_threads();
  tide_worker_place_t *pl = tide_malloc((size_t)n * sizeof *pl);
  if (!pl) {
    tide_topology_free(t);
    tide_error_set(err, TIDE_ERR_NOMEM, "worker plan: out of memory");
    return -1;
  }
  tide_topology_plan(t, n, pl);
  memcpy(out, pl, (size_t)TIDE_MIN(n, cap) * sizeof *pl);
  tide_free(pl);
  tide_topology_free(t);
  return n;
}

/* Bind the team of n threads to the plan. Called with pool_mu held. */
static void pin_team(int n) {
  tide_error err;
  tide_topology_t *t = tide_topology_load(&err);
  if (!t) return;
  if (tide_topology_is_synthetic(t)) {
    const char *ts = getenv("HWLOC_THISSYSTEM");
    if (!ts || strcmp(ts, "1")) {
      tide_topology_free(t);
      return;
    }
  }
  tide_worker_place_t *pl = tide_malloc((size_t)n * sizeof *pl);
  if (!pl) {
    tide_topology_free(t);
    return;
  }
  int shared = tide_topology_plan(t, n, pl);
  if (shared && !warned_over) {
    warned_over = true;
    fprintf(stderr,
            "tide: warning: %d worker threads but only %d usable CPUs: %d workers share a CPU "
            "(set TIDE_THREADS or --threads to at most %d)\n",
            n, tide_topology_npus(t), shared, tide_topology_npus(t));
  }
  hwloc_topology_t topo = tide__topology_hwloc(t);
  _Atomic int ok = 1;
#pragma omp parallel num_threads(n)
  {
    int w = omp_get_thread_num();
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set || omp_get_num_threads() != n) {
      ok = 0;
    } else {
      hwloc_bitmap_only(set, (unsigned)pl[w].pu_os);
      if (hwloc_set_cpubind(topo, set, HWLOC_CPUBIND_THREAD) != 0) ok = 0;
    }
    hwloc_bitmap_free(set);
  }
  if (ok) {
    int *nodes = tide_malloc((size_t)n * sizeof *nodes);
    if (nodes) {
      bool multi = false;
      for (int w = 0; w < n; w++) {
        nodes[w] = tide__topology_node_os(t, pl[w].node);
        multi |= nodes[w] != nodes[0];
      }
      tide_free(pinned_node_os);
      pinned_node_os = nodes;
      pinned_multi = multi;
    }
    pinned_for = n;
  }
  tide_free(pl);
  tide_topology_free(t);
}

void tide__pool_prepare(void) {
  int n = tide_get_threads();
  if (pinned_for == n || pin_tried_for == n) return;
  if (tide_get_numa() == TIDE_NUMA_OFF || omp_in_parallel()) return;
  if (omp_get_proc_bind() != omp_proc_bind_false) return; /* the embedder binds */
  pthread_mutex_lock(&pool_mu);
  if (pin_tried_for != n && pinned_for != n) {
    pin_tried_for = n;
    pin_team(n);
  }
  pthread_mutex_unlock(&pool_mu);
}

/* Worker t's first block under OpenMP's static schedule of `blocks`
 * iterations over `team` threads (libgomp: the first blocks % team
 * threads get one more). */
static uint64_t static_first(uint64_t blocks, int team, int t) {
  uint64_t q = blocks / (uint64_t)team, r = blocks % (uint64_t)team;
  return (uint64_t)t * q + ((uint64_t)t < r ? (uint64_t)t : r);
}

int tide__numa_place(void *p, uint64_t n, size_t width) {
  if (!pinned_multi || !p || n == 0) return 0;
  int team = tide__threads_for(n);
  if (team > pinned_for || !pinned_node_os) return 0;
  long page = 4096;
  uint64_t blocks = (n + TIDE_MORSEL_ROWS - 1) / TIDE_MORSEL_ROWS;
  int placed = 0;
  for (int t = 0; t < team; t++) {
    uint64_t b0 = static_first(blocks, team, t), b1 = static_first(blocks, team, t + 1);
    if (b1 <= b0) continue;
    uintptr_t lo = (uintptr_t)p + b0 * TIDE_MORSEL_ROWS * width;
    uintptr_t hi = (uintptr_t)p + TIDE_MIN(b1 * TIDE_MORSEL_ROWS, n) * width;
    lo = (lo + (uintptr_t)page - 1) & ~((uintptr_t)page - 1); /* whole pages inside */
    hi &= ~((uintptr_t)page - 1);
    if (hi <= lo) continue;
    int node = pinned_node_os[t];
    if (node < 0 || node >= 1024) continue;
    unsigned long mask[1024 / (8 * sizeof(unsigned long))] = {0};
    mask[(unsigned)node / (8 * sizeof(unsigned long))] |= 1UL << ((unsigned)node % (8 * sizeof(unsigned long)));
    /* Preferred, not bound: a full node spills over instead of failing. */
    if (mbind((void *)lo, hi - lo, MPOL_PREFERRED, mask, 1024, MPOL_MF_MOVE) == 0) placed++;
  }
  return placed;
}

void tide__pool_worker_nodes(int *nodes, int n) {
  pthread_mutex_lock(&pool_mu);
  for (int w = 0; w < n; w++) nodes[w] = pinned_node_os && w < pinned_for ? pinned_node_os[w] : -1;
  pthread_mutex_unlock(&pool_mu);
}
