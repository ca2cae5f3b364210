/*
 * Private interface of numa/.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_NUMA_INT_H
#define TIDE_NUMA_INT_H

#include <hwloc.h>

#include "tide/numa.h"

/* The hwloc topology behind t (owned by t). */
hwloc_topology_t tide__topology_hwloc(const tide_topology_t *t);

/* The OS index of usable node `node` (-1 if out of range). */
int tide__topology_node_os(const tide_topology_t *t, int node);

#endif /* TIDE_NUMA_INT_H */
