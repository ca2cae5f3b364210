/*
 * Private interface of io/ shared with the tide command: writing a file
 * so that a failure never leaves a partial file at its path.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_IO_INT_H
#define TIDE_IO_INT_H

#include <stdio.h>

#include "core/core_int.h"

/* Writes the content of a file to an open stream. */
typedef tide_status (*tide_file_writer_fn)(FILE *f, void *ctx, tide_error *err);

/* Write `path` through `write` into PATH.tmp.<pid> (1 MiB buffered), fsync
 * it, close it and rename it into place; on any failure the temporary file
 * is removed and err names the operation `op` and the path. */
tide_status tide__file_write_atomic(const char *path, const char *op, tide_file_writer_fn write,
                                    void *ctx, tide_error *err);

/* 64-bit checksum of column files and table definitions (io/colfile.c):
 * four multiply-rotate lanes, several GB/s; catches bit flips and
 * truncation, not an adversary. */
uint64_t tide__checksum64(const void *data, size_t len);

#endif /* TIDE_IO_INT_H */
