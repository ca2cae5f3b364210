/*
 * NUMA placement of column memory (tide__numa_place, numa/pool.c): on a
 * machine with two or more NUMA nodes, a large column is created with the
 * team pinned one worker per node, and move_pages reports where each page
 * of each worker's morsel blocks lives: at least 90% must be on the
 * worker's node. On a one-node machine (this VM) only the no-op path runs;
 * tests/qemu/numa-guest.sh runs this test in a real two-node qemu guest.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core_int.h"
#include "testutil.h"
#include "tide/numa.h"

/* Pages of [lo, hi) on `node`, on another node, and not reported.
 * move_pages(2) reports -ENOENT/-EFAULT for parts of transparent huge
 * pages on the Debian 6.1 kernel (seen in the qemu guest), so each page's
 * node is read with get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR) instead. */
static void count_pages(const char *lo, const char *hi, int node, long *on, long *total,
                        long *other, long *err, int *first_err) {
  long ps = sysconf(_SC_PAGESIZE);
  uintptr_t a = ((uintptr_t)lo + (uintptr_t)ps - 1) & ~((uintptr_t)ps - 1);
  *on = *total = *other = *err = 0;
  *first_err = 0;
  for (; a + (uintptr_t)ps <= (uintptr_t)hi; a += (uintptr_t)ps) {
    int nd = -1;
    *total += 1;
    if (get_mempolicy(&nd, NULL, 0, (void *)a, MPOL_F_NODE | MPOL_F_ADDR) != 0) {
      if (!*err) *first_err = errno;
      (*err)++;
    } else {
      *on += nd == node;
      *other += nd != node;
    }
  }
}

int main(void) {
  tide_error err;
  int nodes = numa_available() < 0 ? 1 : numa_num_configured_nodes();
  if (nodes < 2) {
    /* Not pinned across nodes: placement must do nothing. */
    int x[16];
    CHECK(tide__numa_place(x, 16, sizeof *x) == 0);
    fprintf(stderr, "numa_place: %d NUMA node(s): placement is checked in the qemu guest "
                    "(tests/qemu/numa-guest.sh)\n", nodes);
    return tu_finish("numa_place");
  }
  CHECK(tide_set_threads(nodes, &err) == TIDE_OK);
  tide_worker_place_t pl[64];
  int nw = tide_worker_plan(pl, 64, &err);
  CHECK(nw == nodes);
  const uint64_t n = UINT64_C(8) << 20; /* 8M int64: 64 MiB */
  tide_source_t *s = tide_source_flat_create(TIDE_I64, n, &err);
  CHECK(s != NULL);
  CHECK(tide_workers_pinned());
  const char *data = tide_source_flat_data(s);
  int team = tide__threads_for(n);
  /* placing again finds every range already placed (and moves nothing) */
  int placed = tide__numa_place((void *)data, n, 8);
  CHECK_MSG(placed == team, "placed %d of %d ranges (errno %d)", placed, team, errno);
  uint64_t blocks = (n + TIDE_MORSEL_ROWS - 1) / TIDE_MORSEL_ROWS;
  for (int t = 0; t < team; t++) {
    uint64_t q = blocks / (uint64_t)team, r = blocks % (uint64_t)team;
    uint64_t b0 = (uint64_t)t * q + ((uint64_t)t < r ? (uint64_t)t : r);
    uint64_t b1 = b0 + q + ((uint64_t)t < r);
    long on, total, other, nerr;
    int first_err;
    int node_os = numa_node_of_cpu(pl[t].pu_os);
    count_pages(data + b0 * TIDE_MORSEL_ROWS * 8, data + TIDE_MIN(b1 * TIDE_MORSEL_ROWS, n) * 8,
                node_os, &on, &total, &other, &nerr, &first_err);
    fprintf(stderr,
            "numa_place: worker %d (CPU %d, node %d): %ld of %ld pages on its node, %ld on "
            "another, %ld not reported (errno %d)\n",
            t, pl[t].pu_os, node_os, on, total, other, nerr, first_err);
    CHECK_MSG(total > 0 && on * 10 >= total * 9, "worker %d: only %ld of %ld pages on node %d", t,
              on, total, node_os);
  }
  tide_source_release(s);
  return tu_finish("numa_place");
}
