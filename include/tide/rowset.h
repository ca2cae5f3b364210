/*
 * RowSet: a sorted set of non-negative 64-bit row keys.
 *
 * Representation (private): either a short sorted array of disjoint key
 * ranges (the common case: one range [0, n) for a flat table) or a sorted
 * array of 32-bit CRoaring bitmaps keyed by the high 32 bits of the key
 * (like Roaring64Map), with cumulative cardinalities for position lookups.
 * Operations pick the representation of their result.
 *
 * Reference counted so tables can share one RowSet: tide_rowset_retain adds
 * a reference and tide_rowset_free drops one. Mutating functions require the
 * caller to hold the only reference (asserted in debug builds).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_ROWSET_H
#define TIDE_ROWSET_H

#include "tide/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tide_rowset_s tide_rowset_t;

/* A chunk of row keys: either the contiguous keys first..first+n-1
 * (keys == NULL) or n explicit keys. `pos` is the position (rank) of the
 * first key within the RowSet it came from, so i/ii and head/tail can be
 * evaluated without lookups. Fill functions also accept unsorted keys. */
typedef struct tide_rowseq_t {
  uint64_t first;
  const uint64_t *keys;
  uint64_t pos;
  uint32_t n;
} tide_rowseq_t;

/* One shift: keys in [first, last] move by delta (Deephaven RowSetShiftData). */
typedef struct tide_shift_t {
  uint64_t first;
  uint64_t last;
  int64_t delta;
} tide_shift_t;

/* All constructors return a new RowSet with one reference (free with
 * tide_rowset_free), or NULL on OOM. */
tide_rowset_t *tide_rowset_create(void);
/* Inclusive range; empty if last < first. */
tide_rowset_t *tide_rowset_create_range(uint64_t first, uint64_t last);
/* Keys in any order; duplicates allowed. */
tide_rowset_t *tide_rowset_from_keys(const uint64_t *keys, size_t n);
/* Copy (a new RowSet with one reference, independent of rs). Bitmap
 * buckets are shared copy-on-write until either set changes them, so a
 * copy costs O(ranges or buckets) and copy + small edit O(edit + buckets
 * touched); safe with rs read, copied or freed on other threads. */
tide_rowset_t *tide_rowset_copy(const tide_rowset_t *rs);

tide_rowset_t *tide_rowset_retain(tide_rowset_t *rs);
void tide_rowset_free(tide_rowset_t *rs); /* drops one reference; NULL ok */

uint64_t tide_rowset_size(const tide_rowset_t *rs);
bool tide_rowset_is_empty(const tide_rowset_t *rs);
/* First/last key; TIDE_NULL_KEY if empty. */
uint64_t tide_rowset_first(const tide_rowset_t *rs);
uint64_t tide_rowset_last(const tide_rowset_t *rs);
bool tide_rowset_contains(const tide_rowset_t *rs, uint64_t key);
/* True if the set is exactly one range (or empty). */
bool tide_rowset_is_range(const tide_rowset_t *rs);
bool tide_rowset_equals(const tide_rowset_t *a, const tide_rowset_t *b);
/* Bytes used, for diagnostics. */
size_t tide_rowset_memory(const tide_rowset_t *rs);

/* In-place mutation (caller holds the only reference). TIDE_ERR_NOMEM on
 * OOM, in which case the set is unchanged. */
tide_status tide_rowset_insert(tide_rowset_t *rs, uint64_t key);
tide_status tide_rowset_insert_range(tide_rowset_t *rs, uint64_t first, uint64_t last);
tide_status tide_rowset_remove(tide_rowset_t *rs, uint64_t key);
tide_status tide_rowset_remove_range(tide_rowset_t *rs, uint64_t first, uint64_t last);
tide_status tide_rowset_union_inplace(tide_rowset_t *rs, const tide_rowset_t *other);
tide_status tide_rowset_intersect_inplace(tide_rowset_t *rs, const tide_rowset_t *other);
tide_status tide_rowset_minus_inplace(tide_rowset_t *rs, const tide_rowset_t *other);

/* New sets (one reference), NULL on OOM. */
tide_rowset_t *tide_rowset_union(const tide_rowset_t *a, const tide_rowset_t *b);
tide_rowset_t *tide_rowset_intersect(const tide_rowset_t *a, const tide_rowset_t *b);
tide_rowset_t *tide_rowset_minus(const tide_rowset_t *a, const tide_rowset_t *b);
/* Keys at positions [pos, pos + count) (clamped to the size). */
tide_rowset_t *tide_rowset_subset_by_pos(const tide_rowset_t *rs, uint64_t pos, uint64_t count);

/* Apply shifts in place. Shifts are sorted by `first`, their ranges are
 * disjoint, and shifted keys must not collide with keys that stay (the
 * Deephaven contract); violations return TIDE_ERR_INVALID and leave the set
 * unchanged. Keys may not go below 0. */
tide_status tide_rowset_shift(tide_rowset_t *rs, const tide_shift_t *shifts, size_t n);
/* Every key + delta (delta may be negative; no key may go below 0). */
tide_status tide_rowset_shift_all(tide_rowset_t *rs, int64_t delta);

/* Key at position pos (0-based); TIDE_NULL_KEY if pos >= size. */
uint64_t tide_rowset_key_at(const tide_rowset_t *rs, uint64_t pos);
/* Position of key, or -(insertion point) - 1 if absent (like Java's
 * binarySearch), so a negative value still tells where it would go. */
int64_t tide_rowset_find(const tide_rowset_t *rs, uint64_t key);

/* Write all keys in order into out (tide_rowset_size elements); returns the
 * count. */
uint64_t tide_rowset_export(const tide_rowset_t *rs, uint64_t *out);

/* Iterator by position. Plain data: copy it freely, no cleanup needed. The
 * RowSet must not change while iterated. */
typedef struct tide_rowset_iter_t {
  const tide_rowset_t *rs;
  size_t part;     /* range index or bitmap bucket index */
  uint64_t off;    /* offset within that part */
  uint64_t pos;    /* position of the next key */
  uint64_t end;    /* position at which iteration stops */
} tide_rowset_iter_t;

/* Iterate the whole set. */
void tide_rowset_iter_init(tide_rowset_iter_t *it, const tide_rowset_t *rs);
/* Iterate positions [pos, pos + count) (clamped), e.g. one morsel. */
void tide_rowset_iter_init_pos(tide_rowset_iter_t *it, const tide_rowset_t *rs, uint64_t pos,
                               uint64_t count);
/* Next maximal run of consecutive keys, limited to the iteration window:
 * returns false at the end. */
bool tide_rowset_iter_next_range(tide_rowset_iter_t *it, uint64_t *first, uint64_t *last);
/* Next chunk of at most max (<= TIDE_CHUNK_SIZE) keys. If the keys are
 * consecutive, seq->keys is NULL and seq->first is set; otherwise the keys
 * are written to keybuf (capacity max) and seq->keys = keybuf. seq->pos is
 * the position of the chunk's first key. Returns false at the end. */
bool tide_rowset_iter_next_chunk(tide_rowset_iter_t *it, uint32_t max, tide_rowseq_t *seq,
                                 uint64_t *keybuf);

#ifdef __cplusplus
}
#endif
#endif /* TIDE_ROWSET_H */
