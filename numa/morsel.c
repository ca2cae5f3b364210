/*
 * Morsel dispenser (core/core_int.h, tide_morsels_t): NUMA-aware dynamic
 * scheduling of a parallel scan's morsels.
 *
 * Worker t owns the contiguous block of morsels OpenMP's static schedule
 * would give it, which is also the block tide__numa_place put on t's node.
 * A worker takes morsels from its own block first, then from the blocks of
 * the other workers of its node, and steals from other nodes' blocks only
 * when its node has nothing left. Taking is one atomic fetch-add on the
 * block's cursor (cache-line padded), so a morsel is handed out once.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>

#include "core/core_int.h"

tide_status tide__morsels_init(tide_morsels_t *m, uint64_t nmorsels, int team, tide_error *err) {
  m->n = nmorsels;
  m->team = team < 1 ? 1 : team;
  m->blocks = tide_aligned_malloc(64, (size_t)m->team * sizeof *m->blocks);
  m->order = tide_malloc((size_t)m->team * (size_t)m->team * sizeof *m->order);
  if (!m->blocks || !m->order) {
    tide_aligned_free(m->blocks);
    tide_free(m->order);
    m->blocks = NULL;
    m->order = NULL;
    return tide_error_set(err, TIDE_ERR_NOMEM, "out of memory scheduling %llu morsels",
                          (unsigned long long)nmorsels);
  }
  uint64_t q = nmorsels / (uint64_t)m->team, r = nmorsels % (uint64_t)m->team;
  for (int t = 0; t < m->team; t++) {
    uint64_t b0 = (uint64_t)t * q + ((uint64_t)t < r ? (uint64_t)t : r);
    atomic_init(&m->blocks[t].next, b0);
    m->blocks[t].end = b0 + q + ((uint64_t)t < r);
  }
  /* Visit order per worker: itself, its node's workers, then the others
   * (nearest worker index first, as a proxy for the next node). */
  int nodes[1024];
  int team_n = m->team < 1024 ? m->team : 1024;
  tide__pool_worker_nodes(nodes, team_n);
  for (int t = 0; t < m->team; t++) {
    int *o = m->order + (size_t)t * (size_t)m->team, k = 0;
    int nt = t < team_n ? nodes[t] : -1;
    o[k++] = t;
    for (int d = 1; d < m->team; d++) {
      int u = (t + d) % m->team;
      if ((u < team_n ? nodes[u] : -2) == nt && nt >= 0) o[k++] = u;
    }
    for (int d = 1; d < m->team; d++) {
      int u = (t + d) % m->team;
      if (!((u < team_n ? nodes[u] : -2) == nt && nt >= 0)) o[k++] = u;
    }
  }
  return TIDE_OK;
}

void tide__morsels_free(tide_morsels_t *m) {
  tide_aligned_free(m->blocks);
  tide_free(m->order);
  m->blocks = NULL;
  m->order = NULL;
}

bool tide__morsels_next(tide_morsels_t *m, int worker, uint64_t *morsel) {
  if (worker < 0 || worker >= m->team) worker = 0;
  const int *o = m->order + (size_t)worker * (size_t)m->team;
  for (int k = 0; k < m->team; k++) {
    tide_morsel_block_t *b = &m->blocks[o[k]];
    if (atomic_load_explicit(&b->next, memory_order_relaxed) >= b->end) continue;
    uint64_t i = atomic_fetch_add_explicit(&b->next, 1, memory_order_relaxed);
    if (i < b->end) {
      *morsel = i;
      return true;
    }
  }
  return false;
}
