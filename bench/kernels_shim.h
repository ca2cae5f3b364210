/* C entry points for the kernel micro-benchmarks (bench_kernels.cc): the
 * kernels' headers are C11 (stdatomic) and cannot be included from C++.
 * Each setup builds the input once; each run does one full pass.
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef TIDE_BENCH_KERNELS_SHIM_H
#define TIDE_BENCH_KERNELS_SHIM_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
typedef struct bk_ctx bk_ctx;
/* n int64 keys uniform in [0, card), a double value column, group ids. */
bk_ctx *bk_setup(uint64_t n, uint64_t card);
void bk_free(bk_ctx *c);
uint64_t bk_hash_insert(bk_ctx *c);  /* build a key set of all n keys; returns its size */
uint64_t bk_hash_probe(bk_ctx *c);   /* find n keys in a prebuilt set; returns hits */
uint64_t bk_radix_sort(bk_ctx *c, int threads); /* sort (key, row) pairs */
double bk_sum_by(bk_ctx *c);         /* sum of the double column per group id */
double bk_max_by(bk_ctx *c);         /* max of the double column per group id */
double bk_gather(bk_ctx *c);         /* fill values at n random row keys */
#ifdef __cplusplus
}
#endif
#endif
