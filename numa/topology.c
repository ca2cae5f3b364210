/*
 * Topology from hwloc and the worker plan (include/tide/numa.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hwloc.h>
#include <omp.h>

#include "core/core_int.h"
#include "numa/numa_int.h"

typedef struct core_info {
  int logical;   /* hwloc logical core index */
  int node;      /* index into nodes[] (usable nodes) */
  int package;   /* index into packages[] */
  int npus;      /* usable PUs of the core */
  int pus[8];    /* their OS indexes (first 8) */
} core_info;

struct tide_topology_s {
  hwloc_topology_t topo;
  bool synthetic;
  char desc[256];
  int npackages, nnodes, ncores, npus;
  int *node_os;      /* usable node -> OS index */
  int *node_logical; /* usable node -> hwloc logical index */
  int *node_ncores;
  int *pkg_logical;
  core_info *cores;  /* ordered by node, then logical core index */
  int *dist;         /* nnodes x nnodes, or NULL */
};

static int cmp_core(const void *a, const void *b) {
  const core_info *x = a, *y = b;
  if (x->node != y->node) return x->node < y->node ? -1 : 1;
  return x->logical < y->logical ? -1 : x->logical > y->logical;
}

void tide_topology_free(tide_topology_t *t) {
  if (!t) return;
  if (t->topo) hwloc_topology_destroy(t->topo);
  tide_free(t->node_os);
  tide_free(t->node_logical);
  tide_free(t->node_ncores);
  tide_free(t->pkg_logical);
  tide_free(t->cores);
  tide_free(t->dist);
  tide_free(t);
}

/* The node a core belongs to: the first NUMA node of its nodeset. */
static hwloc_obj_t core_node(hwloc_topology_t topo, hwloc_obj_t core) {
  int os = core->nodeset ? hwloc_bitmap_first(core->nodeset) : -1;
  if (os < 0) return hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, 0);
  return hwloc_get_numanode_obj_by_os_index(topo, (unsigned)os);
}

tide_topology_t *tide_topology_load(tide_error *err) {
  tide_topology_t *t = tide_calloc(1, sizeof *t);
  hwloc_bitmap_t mask = hwloc_bitmap_alloc();
  if (!t || !mask) goto oom;
  if (hwloc_topology_init(&t->topo) != 0) {
    tide_error_set(err, TIDE_ERR_IO, "topology: hwloc_topology_init failed");
    goto fail;
  }
  const char *syn = getenv("TIDE_TOPOLOGY");
  if (syn && *syn) {
    t->synthetic = true;
    snprintf(t->desc, sizeof t->desc, "%s", syn);
    if (hwloc_topology_set_synthetic(t->topo, syn) != 0) {
      tide_error_set(err, TIDE_ERR_INVALID,
                     "topology: TIDE_TOPOLOGY=\"%s\" is not a valid hwloc synthetic description "
                     "(example: \"pack:2 numa:1 core:1 pu:1\")",
                     syn);
      goto fail;
    }
  }
  if (hwloc_topology_load(t->topo) != 0) {
    tide_error_set(err, TIDE_ERR_IO, "topology: hwloc could not load the topology: %s",
                   strerror(errno));
    goto fail;
  }
  /* The inherited affinity mask; a synthetic topology that is not "this
   * system" cannot be bound: all of it is usable. */
  if (hwloc_get_cpubind(t->topo, mask, HWLOC_CPUBIND_PROCESS) != 0 || hwloc_bitmap_iszero(mask))
    hwloc_bitmap_copy(mask, hwloc_topology_get_complete_cpuset(t->topo));
  hwloc_bitmap_and(mask, mask, hwloc_topology_get_topology_cpuset(t->topo));
  if (hwloc_bitmap_iszero(mask)) {
    tide_error_set(err, TIDE_ERR_INVALID,
                   "topology: none of the CPUs this process may run on is in the topology%s%s",
                   t->synthetic ? " TIDE_TOPOLOGY=" : "", t->synthetic ? t->desc : "");
    goto fail;
  }
  int ncore_all = hwloc_get_nbobjs_by_type(t->topo, HWLOC_OBJ_CORE);
  int nnode_all = hwloc_get_nbobjs_by_type(t->topo, HWLOC_OBJ_NUMANODE);
  int npkg_all = hwloc_get_nbobjs_by_type(t->topo, HWLOC_OBJ_PACKAGE);
  if (nnode_all < 1) nnode_all = 1;
  if (npkg_all < 1) npkg_all = 1;
  hwloc_obj_type_t ctype = HWLOC_OBJ_CORE;
  if (ncore_all < 1) { /* no core level: PUs act as cores */
    ctype = HWLOC_OBJ_PU;
    ncore_all = hwloc_get_nbobjs_by_type(t->topo, HWLOC_OBJ_PU);
  }
  t->cores = tide_calloc((size_t)ncore_all, sizeof *t->cores);
  t->node_os = tide_calloc((size_t)nnode_all, sizeof(int));
  t->node_logical = tide_calloc((size_t)nnode_all, sizeof(int));
  t->node_ncores = tide_calloc((size_t)nnode_all, sizeof(int));
  t->pkg_logical = tide_calloc((size_t)npkg_all, sizeof(int));
  int *node_map = tide_calloc((size_t)nnode_all, sizeof(int)); /* logical -> usable+1 */
  int *pkg_map = tide_calloc((size_t)npkg_all, sizeof(int));
  if (!t->cores || !t->node_os || !t->node_logical || !t->node_ncores || !t->pkg_logical ||
      !node_map || !pkg_map) {
    tide_free(node_map);
    tide_free(pkg_map);
    goto oom;
  }
  for (int i = 0; i < ncore_all; i++) {
    hwloc_obj_t c = hwloc_get_obj_by_type(t->topo, ctype, (unsigned)i);
    if (!c || !hwloc_bitmap_intersects(c->cpuset, mask)) continue;
    core_info *ci = &t->cores[t->ncores];
    ci->logical = (int)c->logical_index;
    hwloc_obj_t nd = core_node(t->topo, c);
    int nl = nd ? (int)nd->logical_index : 0;
    if (nl >= nnode_all) nl = 0;
    if (!node_map[nl]) {
      t->node_logical[t->nnodes] = nl;
      t->node_os[t->nnodes] = nd ? (int)nd->os_index : 0;
      node_map[nl] = ++t->nnodes;
    }
    ci->node = node_map[nl] - 1;
    hwloc_obj_t pk = hwloc_get_ancestor_obj_by_type(t->topo, HWLOC_OBJ_PACKAGE, c);
    int pl = pk ? (int)pk->logical_index : 0;
    if (pl >= npkg_all) pl = 0;
    if (!pkg_map[pl]) {
      t->pkg_logical[t->npackages] = pl;
      pkg_map[pl] = ++t->npackages;
    }
    ci->package = pkg_map[pl] - 1;
    int pu;
    hwloc_bitmap_foreach_begin(pu, c->cpuset) {
      if (hwloc_bitmap_isset(mask, (unsigned)pu)) {
        if (ci->npus < 8) ci->pus[ci->npus] = pu;
        ci->npus++;
      }
    }
    hwloc_bitmap_foreach_end();
    if (ci->npus > 8) ci->npus = 8;
    t->npus += ci->npus;
    t->ncores++;
  }
  tide_free(node_map);
  tide_free(pkg_map);
  qsort(t->cores, (size_t)t->ncores, sizeof *t->cores, cmp_core);
  for (int i = 0; i < t->ncores; i++) t->node_ncores[t->cores[i].node]++;
  /* Distances between the usable nodes, when hwloc knows them. */
  unsigned nr = 1;
  struct hwloc_distances_s *d = NULL;
  if (t->nnodes > 1 &&
      hwloc_distances_get_by_type(t->topo, HWLOC_OBJ_NUMANODE, &nr, &d,
                                  HWLOC_DISTANCES_KIND_MEANS_LATENCY, 0) == 0 &&
      nr >= 1 && d) {
    t->dist = tide_calloc((size_t)t->nnodes * (size_t)t->nnodes, sizeof(int));
    if (t->dist)
      for (int a = 0; a < t->nnodes; a++)
        for (int b = 0; b < t->nnodes; b++) {
          int ia = -1, ib = -1;
          for (unsigned k = 0; k < d->nbobjs; k++) {
            if ((int)d->objs[k]->logical_index == t->node_logical[a]) ia = (int)k;
            if ((int)d->objs[k]->logical_index == t->node_logical[b]) ib = (int)k;
          }
          t->dist[a * t->nnodes + b] =
              ia < 0 || ib < 0 ? 0 : (int)d->values[(unsigned)ia * d->nbobjs + (unsigned)ib];
        }
    hwloc_distances_release(t->topo, d);
  } else if (d) {
    hwloc_distances_release(t->topo, d);
  }
  hwloc_bitmap_free(mask);
  return t;
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "topology: out of memory");
fail:
  hwloc_bitmap_free(mask);
  tide_topology_free(t);
  return NULL;
}

int tide_topology_npackages(const tide_topology_t *t) { return t->npackages; }
int tide_topology_nnodes(const tide_topology_t *t) { return t->nnodes; }
int tide_topology_ncores(const tide_topology_t *t) { return t->ncores; }
int tide_topology_npus(const tide_topology_t *t) { return t->npus; }
bool tide_topology_is_synthetic(const tide_topology_t *t) { return t->synthetic; }

int tide_topology_distance(const tide_topology_t *t, int a, int b) {
  if (!t->dist || a < 0 || b < 0 || a >= t->nnodes || b >= t->nnodes) return 0;
  return t->dist[a * t->nnodes + b];
}

int tide_topology_plan(const tide_topology_t *t, int n, tide_worker_place_t *out) {
  if (n < 1) return 0;
  /* Workers per node in proportion to the node's usable cores (largest
   * remainder), capped by its cores while n <= ncores. */
  int nn = t->nnodes;
  int *quota = tide_calloc((size_t)nn, sizeof(int));
  int *first = tide_calloc((size_t)nn, sizeof(int));
  if (!quota || !first) {
    tide_free(quota);
    tide_free(first);
    /* Degenerate but valid: everything on the first core. */
    for (int w = 0; w < n; w++)
      out[w] = (tide_worker_place_t){w, t->cores[0].pus[0], t->cores[0].logical,
                                     t->cores[0].node, t->cores[0].package};
    return n - 1;
  }
  for (int i = 0, acc = 0; i < nn; i++) {
    first[i] = acc;
    acc += t->node_ncores[i];
  }
  int assigned = 0;
  for (int i = 0; i < nn; i++) {
    quota[i] = (int)((int64_t)n * t->node_ncores[i] / t->ncores);
    assigned += quota[i];
  }
  for (int i = 0; assigned < n; i = (i + 1) % nn) { /* remainders, node order */
    if (n > t->ncores || quota[i] < t->node_ncores[i]) {
      quota[i]++;
      assigned++;
    }
  }
  int w = 0, shared = 0;
  for (int i = 0; i < nn; i++) {
    for (int q = 0; q < quota[i]; q++, w++) {
      /* q-th worker of node i: core q mod cores, then the next PU of it */
      int nc = t->node_ncores[i];
      const core_info *c = &t->cores[first[i] + q % nc];
      int round = q / nc;
      out[w].worker = w;
      out[w].pu_os = c->pus[round % c->npus];
      out[w].core = c->logical;
      out[w].node = i;
      out[w].package = c->package;
      if (round >= c->npus) shared++;
    }
  }
  tide_free(quota);
  tide_free(first);
  return shared;
}

tide_status tide_topology_print(const tide_topology_t *t, int n, FILE *out, tide_error *err) {
  fprintf(out, "machine: %d package(s), %d NUMA node(s), %d core(s), %d PU(s) usable%s%s%s\n",
          t->npackages, t->nnodes, t->ncores, t->npus, t->synthetic ? " (synthetic: " : "",
          t->synthetic ? t->desc : "", t->synthetic ? ")" : "");
  for (int i = 0; i < t->nnodes; i++) {
    fprintf(out, "  node %d (os %d): %d core(s):", i, t->node_os[i], t->node_ncores[i]);
    for (int c = 0; c < t->ncores; c++) {
      if (t->cores[c].node != i) continue;
      fprintf(out, " core %d [PU", t->cores[c].logical);
      for (int p = 0; p < t->cores[c].npus; p++) fprintf(out, " %d", t->cores[c].pus[p]);
      fputc(']', out);
    }
    fputc('\n', out);
  }
  if (t->nnodes > 1) {
    if (t->dist) {
      fprintf(out, "  distances:");
      for (int a = 0; a < t->nnodes; a++) {
        fprintf(out, "%s", a ? "; " : " ");
        for (int b = 0; b < t->nnodes; b++) fprintf(out, "%s%d", b ? " " : "", t->dist[a * t->nnodes + b]);
      }
      fputc('\n', out);
    } else {
      fprintf(out, "  distances: not reported by hwloc\n");
    }
  }
  tide_worker_place_t *pl = tide_malloc((size_t)(n > 0 ? n : 1) * sizeof *pl);
  if (!pl) return tide_error_set(err, TIDE_ERR_NOMEM, "topology: out of memory");
  int shared = tide_topology_plan(t, n, pl);
  const char *ts = getenv("HWLOC_THISSYSTEM");
  bool bindable = !t->synthetic || (ts && !strcmp(ts, "1"));
  fprintf(out, "plan: %d worker(s), NUMA %s%s\n", n,
          tide_get_numa() == TIDE_NUMA_OFF ? "off (not pinned)"
          : omp_get_proc_bind() != omp_proc_bind_false
              ? "auto (OMP_PROC_BIND is set: the embedding process binds, tide does not pin)"
          : bindable ? "auto (pinned)"
                     : "auto (synthetic topology: not bound; set HWLOC_THISSYSTEM=1)",
          shared ? " - OVERSUBSCRIBED: more workers than usable PUs" : "");
  for (int w = 0; w < n; w++)
    fprintf(out, "  worker %d -> PU %d, core %d, node %d, package %d\n", w, pl[w].pu_os,
            pl[w].core, pl[w].node, pl[w].package);
  tide_free(pl);
  if (fflush(out) != 0 || ferror(out))
    return tide_error_set(err, TIDE_ERR_IO, "topology: writing the report failed: %s",
                          strerror(errno));
  return TIDE_OK;
}

hwloc_topology_t tide__topology_hwloc(const tide_topology_t *t) { return t->topo; }

int tide__topology_node_os(const tide_topology_t *t, int node) {
  return node >= 0 && node < t->nnodes ? t->node_os[node] : -1;
}
