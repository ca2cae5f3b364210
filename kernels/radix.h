/*
 * Radix sort kernels: order-preserving key encodings for every fixed-width
 * column type, and a stable LSD radix sort of (uint64 key, uint64 payload)
 * pairs. Used by sort (ops/sort.c) and by anything that needs rows ordered
 * by a key (merges of sorted runs, grouping).
 *
 * Encoding (tide__radix_encode): every value maps to an unsigned 64-bit key
 * whose unsigned order is the value order of Deephaven:
 *   - integers, timestamps, bool (int8): flip the sign bit of the value's
 *     width; the null sentinel (the type minimum) becomes 0, the smallest;
 *   - float/double: bits ^ (negative ? all ones : sign bit); -0.0 encodes as
 *     0.0; every NaN encodes as UINT64_MAX (largest, NaN sorts last); the
 *     null sentinel (-FLT_MAX / -DBL_MAX) encodes as 0, below -infinity;
 *   - SYMBOL: a rank table maps each dictionary code to its position in the
 *     sorted dictionary + 1; the null code -1 encodes as 0.
 * Descending complements the encoded key (~k), so a stable ascending sort of
 * the complemented keys sorts descending with ties in input order, nulls
 * last and NaN first (Deephaven's descending order).
 *
 * Sorting (tide__radix_sort*): stable LSD radix sort by unsigned key. The
 * keys are rebased on their minimum, so only the bits that vary are sorted,
 * in balanced digits of at most TIDE_RADIX_MAX_DIGIT_BITS bits (8 by
 * default: on the development machine 8-bit digits beat 11-bit ones for
 * every key width, e.g. 0.29 s vs 0.47 s for 1e7 random int64 pairs;
 * compile with -DTIDE_RADIX_MAX_DIGIT_BITS=11 to compare); all digit
 * histograms come from one read pass and digits whose histogram has a
 * single bucket are skipped; inputs below TIDE_RADIX_SMALL use insertion
 * sort. The kernel only sees flat arrays, so it can sort one morsel (then
 * tide__radix_merge combines sorted runs) or, with tide__radix_sort_par,
 * the whole array in blocks with per-block histograms, one thread each.
 * From 2^17 keys on, when the keys vary in more than two digits, the sort
 * is MSD first: one stable pass by the top (up to 11) bits scatters into
 * buckets of about 16K keys, then every bucket is sorted LSD where it fits
 * in the L2 cache (buckets in parallel, one thread each, with digits of up
 * to 11 bits; buckets above 2^18 keys one at a time with every thread,
 * recursively): two passes over memory instead of one per digit. The
 * result is the same stable order for any thread count.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_KERNELS_RADIX_H
#define TIDE_KERNELS_RADIX_H

#include "core/core_int.h"

/* Below this many pairs the sort uses insertion sort. */
#define TIDE_RADIX_SMALL 48

/* Encode n values of a fixed-width type (not STRING) into order-preserving
 * keys. SYMBOL needs `ranks` (tide__radix_symbol_ranks of the column's
 * dictionary); other types ignore it. One switch per call; call it per
 * chunk. */
void tide__radix_encode(tide_type_t type, const void *values, size_t n, bool descending,
                        const uint32_t *ranks, uint64_t *keys);

/* Rank of every code of a dictionary when its strings are sorted by strcmp
 * (byte order): ranks[c] in [1, size] (0 is reserved for null). Equal
 * strings cannot occur in one dictionary. Returns a tide_malloc'd array of
 * tide_symtab_size(st) entries (free with tide_free; a 1-entry array for an
 * empty dictionary), or NULL with err on OOM. */
uint32_t *tide__radix_symbol_ranks(const tide_symtab_t *st, tide_error *err);

/* Stable sort of n (keys[i], vals[i]) pairs by unsigned key ascending.
 * tmpk/tmpv are scratch arrays of n entries each. The sorted pairs end up
 * either in keys/vals or in tmpk/tmpv: *out_keys and *out_vals (either may be
 * NULL) point at the result. Never fails (no allocation). */
void tide__radix_sort_buf(uint64_t *keys, uint64_t *vals, uint64_t *tmpk, uint64_t *tmpv, size_t n,
                          uint64_t **out_keys, uint64_t **out_vals);

/* Same, using up to nthreads OpenMP threads (per-thread histograms, each
 * thread scattering its own contiguous block, so the result is identical
 * for any thread count). nthreads <= 1 is tide__radix_sort_buf. */
void tide__radix_sort_par(uint64_t *keys, uint64_t *vals, uint64_t *tmpk, uint64_t *tmpv, size_t n,
                          int nthreads, uint64_t **out_keys, uint64_t **out_vals);

/* Stable sort of n packed keys by keys[i] >> shift (0 <= shift < 64): the
 * low `shift` bits are a payload that travels with the key (e.g. the row's
 * input index, which also makes equal keys keep their input order). Half
 * the memory traffic of pairs when key bits + payload bits fit in 64.
 * Result in keys or tmp (*out_keys). Never fails. */
void tide__radix_sort_packed(uint64_t *keys, uint64_t *tmp, size_t n, int shift, int nthreads,
                             uint64_t **out_keys);

/* In-place convenience: stable sort of keys/vals, result in keys/vals.
 * Allocates scratch; TIDE_ERR_NOMEM (err set) if that fails. */
tide_status tide__radix_sort(uint64_t *keys, uint64_t *vals, size_t n, tide_error *err);

/* Stable merge of two sorted runs a (na pairs) and b (nb pairs) into out
 * (na + nb pairs); on equal keys a's pairs come first. For parallel sorts
 * that radix-sort morsels and merge them. */
void tide__radix_merge(const uint64_t *ak, const uint64_t *av, size_t na, const uint64_t *bk,
                       const uint64_t *bv, size_t nb, uint64_t *outk, uint64_t *outv);

/* Stable merge sort of n (string, payload) pairs by strcmp, NULL (null)
 * first; descending reverses the order of non-equal strings (nulls last)
 * and keeps equal strings in input order. tmps/tmpv are scratch (n each).
 * The result is in strs/vals. */
void tide__sort_strings(const char **strs, uint64_t *vals, size_t n, bool descending,
                        const char **tmps, uint64_t *tmpv);

/* Same, with up to nthreads OpenMP threads: blocks sorted in parallel, then
 * merged pairwise (the result is the same for any thread count). */
void tide__sort_strings_par(const char **strs, uint64_t *vals, size_t n, bool descending,
                            const char **tmps, uint64_t *tmpv, int nthreads);

#endif /* TIDE_KERNELS_RADIX_H */
