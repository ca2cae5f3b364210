/*
 * Private RowSet introspection (core/rowset.c), for tests and diagnostics.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_ROWSET_INT_H
#define TIDE_ROWSET_INT_H

#include "tide/rowset.h"

/* Representation: 0 = sorted ranges, 1 = bitmap buckets. */
int tide__rowset_kind(const tide_rowset_t *rs);
/* Number of ranges or bitmap buckets. */
size_t tide__rowset_parts(const tide_rowset_t *rs);
/* Number of bitmap buckets shared with another RowSet (copy-on-write). */
size_t tide__rowset_shared_parts(const tide_rowset_t *rs);

#endif /* TIDE_ROWSET_INT_H */
