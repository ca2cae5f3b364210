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
