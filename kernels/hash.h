/*
 * Columnar hash table over one or several key columns of any type: maps key
 * tuples to dense group ids 0..size-1 in order of first insertion. Keys are
 * stored columnar (one array per key column), hashed and probed a chunk at a
 * time. Used by agg_by, select_distinct, head_by/tail_by, where_in and the
 * joins.
 *
 * Matching semantics: values compare by content (strings by bytes; SYMBOL
 * keys by code within the table's dictionary; doubles bitwise after
 * normalising -0.0 to 0.0, so NaN matches NaN); null matches null.
 * Probing with columns from another table whose SYMBOL dictionary differs:
 * translate codes first with tide__symtab_translate.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_KERNELS_HASH_H
#define TIDE_KERNELS_HASH_H

#include "core/core_int.h"

#define TIDE_KEYSET_ABSENT UINT32_MAX

typedef struct tide_keyset_s tide_keyset_t;

/* New empty key set over nkeys columns of the given storage types, sized
 * for about `expected` distinct keys (a hint). NULL with err on OOM. */
tide_keyset_t *tide__keyset_create(size_t nkeys, const tide_type_t *types, uint64_t expected,
                                   tide_error *err);
void tide__keyset_free(tide_keyset_t *ks);

/* For n rows whose key values are keycols[k][0..n) (storage-type arrays),
 * write each row's group id into ids, inserting keys not yet present (new
 * ids are assigned in row order). STRING keys are copied into the set.
 * TIDE_ERR_NOMEM on OOM. */
tide_status tide__keyset_insert(tide_keyset_t *ks, const void *const *keycols, uint32_t n,
                                uint32_t *ids);
/* Like insert but never inserts: ids[i] = TIDE_KEYSET_ABSENT if absent. */
void tide__keyset_find(const tide_keyset_t *ks, const void *const *keycols, uint32_t n,
                       uint32_t *ids);

uint32_t tide__keyset_size(const tide_keyset_t *ks);
/* Stored key column k (size() values of its storage type), in id order. */
const void *tide__keyset_keys(const tide_keyset_t *ks, size_t k);

/* ---- Dense integer key sets (direct addressing instead of hashing).
 *
 * One key column of an integer-like storage type (BOOL, I8, I16, I32, I64,
 * TS, SYMBOL) whose non-null values are expected in [lo, lo + span): a
 * value's group id is found at index value - lo of an array of span + 2
 * ids (index span: the null key; span + 1: always absent), with no hashing
 * or comparing. Same semantics and id order as a hashed set: insert,
 * find, size and keys behave exactly alike. Inserting a value outside the
 * range converts the set to hashing (ids kept). */

/* Largest span tide__keyset_create_dense accepts. */
#define TIDE_KEYSET_DENSE_MAX_SPAN (UINT64_C(1) << 31)

/* New empty dense set (see above). NULL with err: TIDE_ERR_TYPE for a type
 * that is not integer-like, TIDE_ERR_RANGE for span >
 * TIDE_KEYSET_DENSE_MAX_SPAN, TIDE_ERR_NOMEM. The caller frees it with
 * tide__keyset_free. */
tide_keyset_t *tide__keyset_create_dense(tide_type_t type, int64_t lo, uint64_t span,
                                         tide_error *err);
/* Whether ks currently addresses directly (false once converted). */
bool tide__keyset_is_dense(const tide_keyset_t *ks);

/* The direct-address view of a dense set (NULL when ks is not dense):
 * span + 2 ids, [v - lo] for a value v in range, [span] for null, [span +
 * 1] always TIDE_KEYSET_ABSENT; *lo and *span receive the range. Valid
 * until the next insert. Callers may index it with the offsets of
 * tide__keyset_dense_offsets, e.g. to map keys straight to their own
 * per-group data in one array read per row. */
const uint32_t *tide__keyset_dense_slots(const tide_keyset_t *ks, int64_t *lo, uint64_t *span);
/* Offsets into the dense view of n values col (the set's key type):
 * value - lo, span for null, span + 1 when out of range. ks must be
 * dense. One typed loop. */
void tide__keyset_dense_offsets(const tide_keyset_t *ks, const void *col, uint32_t n,
                                uint32_t *off);

/* Bulk insert of n values (`col`, the set's storage type) into an EMPTY
 * set, with up to nthreads OpenMP threads: ids[i] as tide__keyset_insert
 * would give (dense ids in order of first appearance; identical for any
 * thread count). Parallel only for a dense set whose range holds every
 * value; otherwise (hashed set, value out of range) it inserts serially
 * through tide__keyset_insert. TIDE_ERR_NOMEM on OOM; TIDE_ERR_INVALID if
 * the set is not empty or n >= UINT32_MAX. */
tide_status tide__keyset_insert_all(tide_keyset_t *ks, const void *col, uint64_t n, uint32_t *ids,
                                    int nthreads);

/* Memory for a randomly accessed table (dense slots, direct maps): 2 MiB
 * aligned and advised MADV_HUGEPAGE from 2 MiB on, so that random reads
 * do not miss the TLB on every row. NULL on OOM; free with
 * tide__table_mem_free (NULL is fine). */
void *tide__table_mem_alloc(size_t bytes);
void tide__table_mem_free(void *p);
/* Advise MADV_HUGEPAGE for the 2 MiB-aligned interior of a large, not yet
 * touched allocation (p, bytes) from any allocator: fewer page faults
 * when it is first written (one per 2 MiB instead of per 4 KiB) and
 * fewer TLB misses. Advice only; does nothing below 4 MiB. With the
 * kernel's defrag=madvise the first such faults of a process may compact
 * memory (measured: the first 1e7-row sort 0.2-0.6 s slower on the
 * development VM, later ones 0.15-0.25 s faster than without advice). */
void tide__table_mem_advise(void *p, size_t bytes);

/* Hash n key tuples (for partitioning): hashes[i] over all key columns. */
void tide__hash_keys(size_t nkeys, const tide_type_t *types, const void *const *keycols,
                     uint32_t n, uint64_t *hashes);

/* Code translation from dictionary `from` to dictionary `to`: map[c] is the
 * code in `to` of from's string c, or -2 (matches nothing) if absent;
 * map has tide_symtab_size(from) entries; caller frees with tide_free.
 * NULL on OOM. Translate a chunk: out[i] = in[i] < 0 ? in[i] : map[in[i]]. */
int32_t *tide__symtab_translate(const tide_symtab_t *from, const tide_symtab_t *to,
                                tide_error *err);

#endif /* TIDE_KERNELS_HASH_H */
