/*
 * Private interface of core/: the column-source vtable, table internals and
 * helpers shared by the engine's modules (kernels, ops, io, cli). Not
 * installed.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_CORE_INT_H
#define TIDE_CORE_INT_H

#include <assert.h>
#include <stdatomic.h>
#include <string.h>

#include "tide/tide.h"

#define TIDE_UNUSED(x) ((void)(x))
#define TIDE_LIKELY(x) __builtin_expect(!!(x), 1)
#define TIDE_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TIDE_MIN(a, b) ((a) < (b) ? (a) : (b))
#define TIDE_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Storage C type of each tide type, for X-macro generated kernels:
 *   #define BODY(E, name, ctype) ...
 *   TIDE_TYPE_LIST(BODY)
 * Numeric-only lists for arithmetic kernels: */
#define TIDE_INT_TYPES(X) \
  X(I8, int8, int8_t)     \
  X(I16, int16, int16_t)  \
  X(I32, int32, int32_t)  \
  X(I64, int64, int64_t)
#define TIDE_FLOAT_TYPES(X) \
  X(F32, float, float)      \
  X(F64, double, double)
#define TIDE_NUMERIC_TYPES(X) TIDE_INT_TYPES(X) TIDE_FLOAT_TYPES(X)

/* Whether a value of a fixed-width type is its null sentinel. */
static inline bool tide__is_null_i8(int8_t v) { return v == TIDE_NULL_I8; }
static inline bool tide__is_null_i16(int16_t v) { return v == TIDE_NULL_I16; }
static inline bool tide__is_null_i32(int32_t v) { return v == TIDE_NULL_I32; }
static inline bool tide__is_null_i64(int64_t v) { return v == TIDE_NULL_I64; }
static inline bool tide__is_null_f32(float v) { return v == TIDE_NULL_F32; }
static inline bool tide__is_null_f64(double v) { return v == TIDE_NULL_F64; }

/* Civil date (UTC) of a day count since 1970-01-01. */
void tide__civil_from_days(int64_t days, int64_t *year, unsigned *month, unsigned *day);

/* 64-bit hash of a byte string (also used by symbol tables and the hash
 * kernel's string keys). */
uint64_t tide__hash_bytes(const void *data, size_t len);

/* Length of a symbol's string (cached by the dictionary). */
uint32_t tide__symtab_len(const tide_symtab_t *st, int32_t code);
/* The string of every code (tide_symtab_size entries) for chunk loops
 * (no call per row); valid until the next intern. */
const char *const *tide__symtab_strs(const tide_symtab_t *st);

/* Append-only arena of NUL-terminated strings with stable addresses. */
typedef struct tide_arena_block_s tide_arena_block_t;
typedef struct tide_arena_t {
  tide_arena_block_t *head;
  size_t bytes;
} tide_arena_t;
void tide__arena_init(tide_arena_t *a);
void tide__arena_destroy(tide_arena_t *a);
/* Copy s[0..len) plus a NUL; returns the copy or NULL on OOM. Not
 * thread-safe. */
const char *tide__arena_store(tide_arena_t *a, const char *s, size_t len);

/* ----------------------------------------------------------- sources */

typedef struct tide_source_vt {
  const char *name;
  /* Values at seq's keys (any order) into dst (seq->n values). */
  void (*fill)(const tide_source_t *src, const tide_rowseq_t *seq, void *dst);
  /* Pointer to the stored values of keys first..first+n-1, or NULL if they
   * are not stored contiguously. May be NULL (never contiguous). */
  const void *(*direct)(const tide_source_t *src, uint64_t first, uint32_t n);
  /* Free kind-specific state (not the struct itself). */
  void (*destroy)(tide_source_t *src);
  /* Previous values (see tide_source_fill_prev); NULL: same as fill
   * (a source never written during a cycle). */
  void (*fill_prev)(const tide_source_t *src, const tide_rowseq_t *seq, void *dst);
} tide_source_vt;

struct tide_source_s {
  const tide_source_vt *vt;
  tide_type_t type;
  _Atomic uint32_t refcount;
  tide_symtab_t *symtab;     /* SYMBOL: the dictionary (one reference) */
  /* Sources whose memory this one points into (STRING values that live in
   * another source's arena); released with this source. */
  tide_source_t **keep;
  uint32_t nkeep;
  uint32_t keepcap;
};

/* Initialise the common header of a freshly allocated source. */
void tide__source_init(tide_source_t *src, const tide_source_vt *vt, tide_type_t type);
/* Make src keep dep alive (dep retained). TIDE_ERR_NOMEM on OOM. */
tide_status tide__source_keep(tide_source_t *src, tide_source_t *dep);
/* Make dst keep alive everything src's values may point into (src itself
 * for STRING sources). Use when copying STRING pointers out of src. */
tide_status tide__source_keep_values_of(tide_source_t *dst, tide_source_t *src);

/* Values of seq: a pointer straight into storage when seq is a contiguous
 * range the source stores contiguously, else filled into buf (seq->n
 * values) and buf returned. The hot-path read of every operation. */
static inline const void *tide__source_get(const tide_source_t *src, const tide_rowseq_t *seq,
                                           void *buf) {
  if (seq->keys == NULL && src->vt->direct) {
    const void *p = src->vt->direct(src, seq->first, seq->n);
    if (p) return p;
  }
  src->vt->fill(src, seq, buf);
  return buf;
}

/* Deferred read errors (core/read_error.c). fill cannot fail, so a source
 * whose values cannot be read (a lazily loaded column file found damaged
 * or missing: io/hist_source.c) fills nulls and raises the error here
 * (process-wide; the first raise wins while one is pending; thread-safe).
 * tide_table_create, tide_table_get, tide_table_print and
 * tide__file_write_atomic take it and fail with it, so the operation that
 * triggered the read (it creates its result after its scan) reports it and
 * no file is written from the nulls. take: TIDE_OK when none is pending,
 * else the error's status with err set (and the slot cleared). */
void tide__read_error_raise(tide_status st, const char *msg);
tide_status tide__read_error_take(tide_error *err);

/* Replace a source's dictionary (st retained; the old one released). */
void tide__source_set_symtab(tide_source_t *src, tide_symtab_t *st);

/* Flat sources: `data` holds n values; key k is data[k]. */
bool tide__source_is_flat(const tide_source_t *src);

/* Paged sparse source for any key space (pages of TIDE_PAGE_SIZE values,
 * allocated on first write, null-initialised). Used by ticking tables. */
#define TIDE_PAGE_BITS 12
#define TIDE_PAGE_SIZE (1u << TIDE_PAGE_BITS)
tide_source_t *tide__source_paged_create(tide_type_t type, tide_symtab_t *symtab,
                                         tide_error *err);
/* Write n values (storage type) at keys (any order). */
tide_status tide__source_paged_set(tide_source_t *src, const uint64_t *keys, uint32_t n,
                                   const void *values);

/* Previous values for ticking tables (docs/TICKING.md, decision 2). After
 * tide__source_track_prev(src, step), the first write of a key while
 * *step holds a given value records the key's old value in the source's
 * undo log; tide_source_fill_prev serves logged keys from the log and all
 * others from the current values. Entries of older steps are ignored, so
 * nothing needs clearing at the end of a cycle. Paged sources only
 * (TIDE_ERR_INVALID otherwise); step == NULL stops tracking and frees the
 * log. TIDE_ERR_NOMEM on OOM. */
tide_status tide__source_track_prev(tide_source_t *src, const _Atomic uint64_t *step);
/* tide_source_fill into cur and tide_source_fill_prev into prev (seq->n
 * values each, distinct buffers), reading each key's current value once:
 * an op that needs both for the same rows (agg_by over modified rows)
 * halves its random reads of large columns. */
void tide__source_fill_both(const tide_source_t *src, const tide_rowseq_t *seq, void *cur,
                            void *prev);
/* Move the values of shifted keys of a paged source (Deephaven shift
 * semantics: sorted disjoint ranges), logging previous values as writes
 * do. With `kept` (the keys present before the shift, i.e. previous
 * RowSet minus removed) only those keys move, so keys that do not move
 * are never touched even when they lie inside a shift's destination
 * window: the form updates use. With kept == NULL every key of each range
 * moves, gaps included (whole-range moves, page at a time). */
tide_status tide__source_paged_shift(tide_source_t *src, const tide_shift_t *shifts, size_t n,
                                     const tide_rowset_t *kept);

/* Redirection index: outer key -> inner key (TIDE_NULL_KEY: no row, reads
 * null), for outer keys 0..n-1. Shared by all columns of a sorted or joined
 * table; reference counted. */
typedef struct tide_redir_s {
  _Atomic uint32_t refcount;
  uint64_t n;
  uint64_t *map;
  /* One-entry cache of this redirection composed with an inner one, so
   * that every column of a table redirected over a redirected table shares
   * one composed map (built once, not once per column). Guarded by
   * compose_lock. */
  struct tide_redir_s *compose_inner;
  struct tide_redir_s *compose_result;
  _Atomic int compose_lock;
} tide_redir_t;

/* New redirection of n entries (uninitialised map), one reference. */
tide_redir_t *tide__redir_create(uint64_t n, tide_error *err);
tide_redir_t *tide__redir_retain(tide_redir_t *r);
void tide__redir_release(tide_redir_t *r);

/* Source reading inner through redir (both retained). If inner is itself
 * redirected, the two redirections are composed so reads take one hop. */
tide_source_t *tide__source_redirected_create(tide_source_t *inner, tide_redir_t *redir,
                                              tide_error *err);

/* Ticking redirection (incremental sort, joins): outer key -> inner key
 * held in `map`, a paged TIDE_I64 source with previous-value tracking
 * (tide__source_track_prev) that the owning operation writes with
 * tide__source_paged_set / tide__source_paged_shift during cycles, and
 * that every column of the result shares. An entry >= TIDE_TREDIR_NONE
 * (TIDE_NULL_KEY, or the int64 null of a never-written entry) means "no
 * row": the column reads null there. fill_prev reads the map's previous
 * entries and the inner source's previous values. inner and map are
 * retained. NULL with err on OOM or if map is not int64. */
#define TIDE_TREDIR_NONE (UINT64_C(1) << 63)
tide_source_t *tide__source_tredir_create(tide_source_t *inner, tide_source_t *map,
                                          tide_error *err);

/* ----------------------------------------------------------- tables */

/* The header every update-graph node (sched/) starts with, so core can
 * release a table's node without depending on sched/. */
struct tide_node_s {
  void (*release)(struct tide_node_s *node);
};

struct tide_table_s {
  _Atomic uint32_t refcount;
  tide_table_kind_t kind;
  tide_rowset_t *rowset;   /* one reference */
  /* Refreshing tables: the graph node that updates this table (owned),
   * and during a cycle the RowSet it replaced (one reference; NULL when
   * unchanged this cycle). */
  struct tide_node_s *node;
  tide_rowset_t *prev_rowset;
  size_t ncols;
  char **names;            /* owned */
  tide_source_t **cols;    /* one reference each */
  uint32_t *name_slots;    /* name index: column + 1 per slot, 0 empty */
  uint32_t name_nslots;    /* power of two */
};

/* Index of column name or -1 (same as tide_table_col_index). */
int tide__col_index(const tide_table_t *t, const char *name);
/* Look up a column, setting err "<op>: no column 'X' in table (columns: A, B, ...)"
 * when missing. Returns the index or -1. */
int tide__col_lookup(const tide_table_t *t, const char *name, const char *op, tide_error *err);

/* Validate an identifier (letters, digits, '_', not starting with a digit). */
bool tide__is_identifier(const char *s);

/* Split "A=B" (spaces allowed) into left/right names; "A" gives A/A.
 * Writes NUL-terminated names into l and r (cap each). Returns false if
 * malformed. */
bool tide__split_pair(const char *spec, char *l, char *r, size_t cap);

/* Build a flat table (rowset [0,n)) taking over the given sources (their
 * references move into the table). On failure releases them. */
tide_table_t *tide__table_from_sources(uint64_t n, size_t ncols, const char *const *names,
                                       tide_source_t **sources, tide_error *err);

/* ----------------------------------------------------------- parallel */

/* Morsel of a parallel scan: positions [pos, pos + count) of a RowSet. */
#define TIDE_MORSEL_ROWS (1u << 17)

/* Pin the worker team to the NUMA plan on first use (numa/pool.c). */
void tide__pool_prepare(void);
/* NUMA placement of a column buffer of n values of `width` bytes that the
 * team scans in static morsel blocks (tide__threads_for(n) threads,
 * schedule(static) over TIDE_MORSEL_ROWS blocks): each worker's pages are
 * preferred on (and moved to) its node. Does nothing unless the team is
 * pinned to a plan spanning several nodes. Returns the ranges placed. */
int tide__numa_place(void *p, uint64_t n, size_t width);
/* NUMA-aware morsel scheduling (numa/morsel.c): worker t first takes the
 * morsels of its static block (placed on its node by tide__numa_place),
 * then its node's other blocks, then steals from other nodes.
 *   tide_morsels_t ms;  tide__morsels_init(&ms, nmorsels, team, err);
 *   #pragma omp parallel num_threads(team)
 *   for (uint64_t m; tide__morsels_next(&ms, omp_get_thread_num(), &m);) ...
 *   tide__morsels_free(&ms);
 * Every morsel is handed out exactly once; results must not depend on
 * which worker ran it. */
typedef struct tide_morsel_block_t {
  _Alignas(64) _Atomic uint64_t next;
  uint64_t end;
} tide_morsel_block_t;
typedef struct tide_morsels_t {
  uint64_t n;
  int team;
  tide_morsel_block_t *blocks; /* one per worker */
  int *order;                  /* team x team visit order */
} tide_morsels_t;
tide_status tide__morsels_init(tide_morsels_t *m, uint64_t nmorsels, int team, tide_error *err);
bool tide__morsels_next(tide_morsels_t *m, int worker, uint64_t *morsel);
void tide__morsels_free(tide_morsels_t *m);
/* The OS NUMA node of each of the first n workers of the pinned team
 * (-1 for all when the team is not pinned). */
void tide__pool_worker_nodes(int *nodes, int n);

/* Number of worker threads for a parallel region over `rows` rows (never
 * more than one per morsel; 1 for small inputs). Pins the team first
 * (tide__pool_prepare). */
int tide__threads_for(uint64_t rows);

#endif /* TIDE_CORE_INT_H */
