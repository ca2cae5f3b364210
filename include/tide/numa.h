/*
 * Machine topology and the worker plan (issue 4): which packages, NUMA
 * nodes, cores and PUs this process may use, and where each worker thread
 * runs.
 *
 * The topology comes from hwloc. TIDE_TOPOLOGY="pack:2 numa:1 core:1 pu:1"
 * (an hwloc synthetic description) replaces the machine, for tests; with
 * HWLOC_THISSYSTEM=1 in the environment hwloc binds for real on it. Only
 * PUs in the affinity mask the process inherited are used (an embedding
 * job's or mpirun's binding is respected).
 *
 * The plan gives worker w a core (one worker per core while there are
 * cores, then further PUs of the same cores) and that core's NUMA node;
 * workers are spread over the nodes in proportion to their usable cores
 * and numbered node by node (workers of node 0 first), so morsels of a
 * node's memory go to consecutive workers.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_NUMA_H
#define TIDE_NUMA_H

#include <stdio.h>

#include "tide/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tide_topology_s tide_topology_t;

/* Where one worker runs. Indexes are hwloc logical indexes of the
 * topology; pu_os is the operating system's CPU number. */
typedef struct tide_worker_place_t {
  int worker;
  int pu_os;    /* OS CPU number the worker is bound to */
  int core;     /* logical core index */
  int node;     /* logical NUMA node index */
  int package;  /* logical package index */
} tide_worker_place_t;

/* Load the topology (TIDE_TOPOLOGY or the machine) restricted to the
 * inherited affinity mask. One reference: free with tide_topology_free.
 * NULL with err if hwloc fails, the synthetic description is invalid
 * (the message quotes it) or no PU of the mask is in the topology. */
tide_topology_t *tide_topology_load(tide_error *err);
void tide_topology_free(tide_topology_t *t);

/* Counts of usable objects (those with a PU in the mask). */
int tide_topology_npackages(const tide_topology_t *t);
int tide_topology_nnodes(const tide_topology_t *t);
int tide_topology_ncores(const tide_topology_t *t);
int tide_topology_npus(const tide_topology_t *t);
/* Whether the topology is synthetic (TIDE_TOPOLOGY). */
bool tide_topology_is_synthetic(const tide_topology_t *t);
/* Relative distance between usable nodes a and b (10 = local) as hwloc
 * reports it; 0 when hwloc has no distance matrix. */
int tide_topology_distance(const tide_topology_t *t, int a, int b);

/* The plan for n workers (n >= 1) into out[0..n). Returns the number of
 * workers that share a PU with another (0 unless n exceeds the usable
 * PUs: the caller must not oversubscribe silently). */
int tide_topology_plan(const tide_topology_t *t, int n, tide_worker_place_t *out);

/* Print the machine and the plan for n workers (what `tide topology`
 * shows). TIDE_ERR_IO if writing fails. */
tide_status tide_topology_print(const tide_topology_t *t, int n, FILE *out, tide_error *err);

/* NUMA policy of the worker pool: TIDE_NUMA=auto (default: pin workers to
 * the plan's PUs unless the embedding process already binds OpenMP
 * threads, i.e. OMP_PROC_BIND is set) or off (no pinning). */
typedef enum tide_numa_mode_t { TIDE_NUMA_AUTO = 0, TIDE_NUMA_OFF } tide_numa_mode_t;
tide_status tide_set_numa(tide_numa_mode_t mode, tide_error *err);
tide_numa_mode_t tide_get_numa(void);

/* The plan the worker pool runs under now (tide_get_threads() workers),
 * copied into out (cap entries); returns the worker count, or -1 with err
 * if the topology cannot be loaded. Workers are pinned on first parallel
 * use when the mode is auto. */
int tide_worker_plan(tide_worker_place_t *out, int cap, tide_error *err);
/* Whether the workers are pinned now. */
bool tide_workers_pinned(void);

#ifdef __cplusplus
}
#endif
#endif /* TIDE_NUMA_H */
