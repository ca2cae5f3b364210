/*
 * Private helpers shared by the ticking sources of sched/ (replay,
 * time_table, input tables, publishers).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_SCHED_TICKING_INT_H
#define TIDE_SCHED_TICKING_INT_H

#include "sched/graph_int.h"

/* A new table with no rows and one paged column per name (types[i];
 * SYMBOL columns use symtabs[i] when symtabs and symtabs[i] are set, a new
 * dictionary otherwise), each tracking previous values on g's step.
 * `op` names the caller in errors. One reference; NULL with err. */
tide_table_t *tide__tick_table_new(tide_graph_t *g, size_t ncols, const char *const *names,
                                   const tide_type_t *types, tide_symtab_t *const *symtabs,
                                   const char *op, tide_error *err);

/* Copy the values of `src` at the keys of seq into the paged source dst at
 * dst_keys (seq->n keys). buf holds TIDE_CHUNK_SIZE values of any type.
 * Values are copied as stored: STRING pointers are not duplicated (the
 * caller keeps src's values alive) and SYMBOL codes are not translated. */
tide_status tide__tick_copy_chunk(tide_source_t *dst, const tide_source_t *src,
                                  const tide_rowseq_t *seq, const uint64_t *dst_keys, void *buf);

/* The keys first..first+n-1 into out. */
static inline void tide__tick_iota(uint64_t *out, uint64_t first, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) out[i] = first + i;
}

/* tide__gnode_publish of an update whose RowSet parts are built here: the
 * append of [first, first + n) (n may be 0), removing `removed_all` rows
 * first for blink tables. Handles allocation failures. */
tide_status tide__tick_publish_append(tide_gnode_t *node, uint64_t first, uint64_t n, bool blink,
                                      tide_error *err);

#endif /* TIDE_SCHED_TICKING_INT_H */
