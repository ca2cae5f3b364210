/*
 * Atomic file writes: temporary file, fsync, rename (io/io_int.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "io/io_int.h"

tide_status tide__file_write_atomic(const char *path, const char *op, tide_file_writer_fn write,
                                    void *ctx, tide_error *err) {
  size_t plen = strlen(path);
  char *tmp = tide_malloc(plen + 32);
  if (!tmp) return tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
  snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    tide_status st =
        tide_error_set(err, TIDE_ERR_IO, "%s: cannot create '%s': %s", op, tmp, strerror(errno));
    tide_free(tmp);
    return st;
  }
  setvbuf(f, NULL, _IOFBF, 1u << 20);
  tide_status st = write(f, ctx, err);
  if (st == TIDE_OK) st = tide__read_error_take(err); /* values read as nulls: write nothing */
  if (st == TIDE_OK && fflush(f) != 0)
    st = tide_error_set(err, TIDE_ERR_IO, "%s: write to '%s' failed: %s", op, tmp, strerror(errno));
  if (st == TIDE_OK && fsync(fileno(f)) != 0 && errno != EINVAL && errno != EROFS)
    st = tide_error_set(err, TIDE_ERR_IO, "%s: cannot sync '%s': %s", op, tmp, strerror(errno));
  if (fclose(f) != 0 && st == TIDE_OK)
    st = tide_error_set(err, TIDE_ERR_IO, "%s: cannot close '%s': %s", op, tmp, strerror(errno));
  if (st == TIDE_OK && rename(tmp, path) != 0)
    st = tide_error_set(err, TIDE_ERR_IO, "%s: cannot rename '%s' to '%s': %s", op, tmp, path,
                        strerror(errno));
  if (st != TIDE_OK) {
    unlink(tmp);
    if (st == TIDE_ERR_IO && err && strstr(err->msg, path) == NULL)
      tide_error_prefix(err, "%s", path);
  }
  tide_free(tmp);
  return st;
}
