/*
 * Merge (include/tide/historical.h, tide_merge_intraday; docs/STORAGE.md,
 * "Merge"): the committed rows of an intraday partition become a
 * historical table directory, written under a hidden temporary name,
 * validated against the intraday rows by checksums, renamed into place,
 * and only then (optionally) the intraday partition is deleted.
 *
 * Locks: the merge holds a flock on DB/Intraday/<ns>/<table> (one merge of
 * a table at a time: it owns the hidden leftovers of that table) and on
 * the partition's writer.lock (no appender may commit rows the merge would
 * not see, and then lose them with --delete-intraday). The table lock is
 * waited for (merges of a table's dates run one after another); the
 * writer lock is not: a partition being written is refused.
 *
 * Hidden names (a leading '.', which no namespace, table or date can
 * have, so readers never list them):
 *   <WritablePartitions/n>/<date>/.<table>.merging[.tmp.<pid>]
 *       the partition being written (tide_table_write_dir's own temporary
 *       name carries the .tmp.<pid> suffix)
 *   DB/Intraday/<ns>/<table>/.<date>.deleting
 *       an intraday partition being deleted
 * A merge of the same table removes the leftovers of a crashed one.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io/io_int.h"
#include "tide/historical.h"
#include "tide/intraday.h"
#include "tide/ops.h"

#define OP "merge"

void tide_merge_opts_init(tide_merge_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->codec = TIDE_CODEC_LZ4;
}

/* ------------------------------------------------------------ helpers */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int n = vsnprintf(NULL, 0, f, ap);
  va_end(ap);
  if (n < 0) return NULL;
  char *s = tide_malloc((size_t)n + 1);
  if (!s) return NULL;
  va_start(ap, f);
  vsnprintf(s, (size_t)n + 1, f, ap);
  va_end(ap);
  return s;
}

static bool is_dir(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool path_exists(const char *p) {
  struct stat sb;
  return lstat(p, &sb) == 0;
}

static tide_status sync_dir(const char *dir, tide_error *err) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return tide_error_set(err, TIDE_ERR_IO, OP ": %s: cannot open: %s", dir, strerror(errno));
  int r = fsync(fd);
  int e = errno;
  close(fd);
  if (r != 0 && e != EINVAL && e != EROFS)
    return tide_error_set(err, TIDE_ERR_IO, OP ": %s: cannot sync: %s", dir, strerror(e));
  return TIDE_OK;
}

/* Remove a directory tree (never following symlinks). Returns false when
 * something could not be removed. */
static bool remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  bool ok = true;
  if (d) {
    struct dirent *de;
    while ((de = readdir(d))) {
      if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
      char *p = fmt("%s/%s", dir, de->d_name);
      if (!p) {
        ok = false;
        continue;
      }
      struct stat sb;
      if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) ok &= remove_tree(p);
      else if (unlink(p) != 0 && errno != ENOENT) ok = false;
      tide_free(p);
    }
    closedir(d);
  }
  if (rmdir(dir) != 0 && errno != ENOENT) ok = false;
  return ok;
}

/* The crash-point test hook (TIDE_MERGE_CRASH_AT=N): _exit(137) at step N. */
static int g_crash_at;
static void crash_point(int step) {
  if (g_crash_at == step) _exit(137);
}

/* The damage test hook (TIDE_MERGE_DAMAGE=COL): flip one bit of the
 * first data block of the just-written COL.col, as a failing disk would,
 * so that tests see the validation refuse the partition. */
static void damage_hook(const char *dir) {
  const char *col = getenv("TIDE_MERGE_DAMAGE");
  if (!col || !*col || strchr(col, '/')) return;
  char *p = fmt("%s/%s.col", dir, col);
  int fd = p ? open(p, O_RDWR | O_CLOEXEC) : -1;
  uint8_t b;
  if (fd >= 0 && pread(fd, &b, 1, 64) == 1) {
    b ^= 1;
    if (pwrite(fd, &b, 1, 64) != 1) {
      /* the test sees no failure and says so */
    }
  }
  if (fd >= 0) close(fd);
  tide_free(p);
}

/* ------------------------------------------------------------ checksums */

/* Checksums of a table's values, computed from its sources chunk by chunk:
 * per column an order-dependent sum (each value's hash mixed with its
 * position) and an order-independent one, and an order-independent sum
 * over whole rows (so two columns permuted differently are caught). Sums
 * wrap modulo 2^64, so the parallel result does not depend on the
 * scheduling. */
typedef struct cksum_t {
  uint64_t rows;
  size_t nc;
  uint64_t *ord, *unord;
  uint64_t rowsum;
} cksum_t;

static void cksum_free(cksum_t *c) {
  tide_free(c->ord);
  tide_free(c->unord);
  memset(c, 0, sizeof *c);
}

static inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

#define H_NULL_STRING 0x6a09e667f3bcc909ull
#define H_POS 0x9e3779b97f4a7c15ull
#define H_UNORD 0xd6e8feb86659fd93ull
#define H_ROW 0xa0761d6478bd642full

/* Hashes of one column's values at seq into h (seq->n values). One type
 * switch per chunk. symh: SYMBOL code + 1 -> hash of its string (0: null). */
static void hash_chunk(const tide_source_t *src, const tide_rowseq_t *seq, void *buf,
                       const uint64_t *symh, uint64_t *h) {
  const void *p = tide__source_get(src, seq, buf);
  const uint32_t n = seq->n;
  switch (tide_source_type(src)) {
    case TIDE_BOOL:
    case TIDE_I8: {
      const uint8_t *v = p;
      for (uint32_t i = 0; i < n; i++) h[i] = v[i];
      break;
    }
    case TIDE_I16: {
      const uint16_t *v = p;
      for (uint32_t i = 0; i < n; i++) h[i] = v[i];
      break;
    }
    case TIDE_I32:
    case TIDE_F32: {
      const uint32_t *v = p;
      for (uint32_t i = 0; i < n; i++) h[i] = v[i];
      break;
    }
    case TIDE_I64:
    case TIDE_F64:
    case TIDE_TS: {
      const uint64_t *v = p;
      for (uint32_t i = 0; i < n; i++) h[i] = v[i];
      break;
    }
    case TIDE_SYMBOL: {
      const int32_t *v = p;
      for (uint32_t i = 0; i < n; i++) h[i] = symh[(int64_t)v[i] + 1];
      break;
    }
    case TIDE_STRING: {
      const char *const *v = p;
      for (uint32_t i = 0; i < n; i++)
        h[i] = v[i] ? tide__hash_bytes(v[i], strlen(v[i])) : H_NULL_STRING;
      break;
    }
    default:
      for (uint32_t i = 0; i < n; i++) h[i] = 0;
      break;
  }
}

/* What table_cksum computes: the ordered sums, the order-independent ones
 * (per column and per row), or both. */
#define CK_ORD 1
#define CK_UNORD 2

static tide_status table_cksum(const tide_table_t *t, int mode, cksum_t *out, tide_error *err) {
  memset(out, 0, sizeof *out);
  const size_t nc = tide_table_ncols(t);
  const uint64_t rows = tide_table_size(t);
  out->rows = rows;
  out->nc = nc;
  out->ord = tide_calloc(nc + 1, sizeof *out->ord);
  out->unord = tide_calloc(nc + 1, sizeof *out->unord);
  uint64_t **symh = tide_calloc(nc + 1, sizeof *symh);
  tide_status st = TIDE_OK;
  if (!out->ord || !out->unord || !symh) {
    st = tide_error_set(err, TIDE_ERR_NOMEM, OP ": out of memory (checksums)");
    goto done;
  }
  /* symbol dictionaries: one hash per code, by string (codes differ
   * between the intraday dictionary and the written one) */
  for (size_t c = 0; c < nc; c++) {
    const tide_source_t *src = tide_table_col_source(t, c);
    if (tide_source_type(src) != TIDE_SYMBOL) continue;
    const tide_symtab_t *stb = tide_source_symtab(src);
    uint32_t ns = stb ? tide_symtab_size(stb) : 0;
    symh[c] = tide_malloc(((size_t)ns + 1) * sizeof **symh);
    if (!symh[c]) {
      st = tide_error_set(err, TIDE_ERR_NOMEM, OP ": out of memory (checksums)");
      goto done;
    }
    symh[c][0] = H_NULL_STRING;
    const char *const *strs = ns ? tide__symtab_strs(stb) : NULL;
    for (uint32_t k = 0; k < ns; k++)
      symh[c][k + 1] = tide__hash_bytes(strs[k], tide__symtab_len(stb, (int32_t)k));
  }
  const tide_rowset_t *rs = tide_table_rowset(t);
  const uint64_t nmorsel = (rows + TIDE_MORSEL_ROWS - 1) / TIDE_MORSEL_ROWS;
  uint64_t *ord = out->ord, *unord = out->unord, rowsum = 0;
  int failed = 0;
#pragma omp parallel num_threads(tide__threads_for(rows)) reduction(+ : rowsum)
  {
    uint64_t *keys = tide_malloc(TIDE_CHUNK_SIZE * sizeof *keys);
    uint64_t *h = tide_malloc(TIDE_CHUNK_SIZE * sizeof *h);
    uint64_t *rh = tide_malloc(TIDE_CHUNK_SIZE * sizeof *rh);
    uint64_t *buf = tide_malloc(TIDE_CHUNK_SIZE * 8);
    uint64_t *lo = tide_calloc(nc + 1, sizeof *lo), *lu = tide_calloc(nc + 1, sizeof *lu);
    if (!keys || !h || !rh || !buf || !lo || !lu) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(dynamic, 1)
    for (uint64_t m = 0; m < nmorsel; m++) {
      int f;
#pragma omp atomic read
      f = failed;
      if (f) continue;
      tide_rowset_iter_t it;
      tide_rowset_iter_init_pos(&it, rs, m * TIDE_MORSEL_ROWS, TIDE_MORSEL_ROWS);
      tide_rowseq_t seq;
      while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, keys)) {
        const uint32_t n = seq.n;
        if (mode & CK_UNORD)
          for (uint32_t i = 0; i < n; i++) rh[i] = H_ROW;
        for (size_t c = 0; c < nc; c++) {
          hash_chunk(tide_table_col_source(t, c), &seq, buf, symh[c], h);
          uint64_t so = 0, su = 0;
          if (mode & CK_ORD)
            for (uint32_t i = 0; i < n; i++) so += mix64(h[i] ^ ((seq.pos + i + 1) * H_POS));
          if (mode & CK_UNORD)
            for (uint32_t i = 0; i < n; i++) {
              su += mix64(h[i] ^ H_UNORD);
              uint64_t x = rh[i] ^ h[i];
              rh[i] = ((x << 23) | (x >> 41)) * H_POS; /* finished by mix64 below */
            }
          lo[c] += so;
          lu[c] += su;
        }
        if (mode & CK_UNORD)
          for (uint32_t i = 0; i < n; i++) rowsum += mix64(rh[i] ^ H_ROW);
      }
    }
    if (lo && lu)
      for (size_t c = 0; c < nc; c++) {
#pragma omp atomic
        ord[c] += lo[c];
#pragma omp atomic
        unord[c] += lu[c];
      }
    tide_free(keys);
    tide_free(h);
    tide_free(rh);
    tide_free(buf);
    tide_free(lo);
    tide_free(lu);
  }
  out->rowsum = rowsum;
  if (failed) st = tide_error_set(err, TIDE_ERR_NOMEM, OP ": out of memory (checksums)");
done:
  for (size_t c = 0; symh && c < nc; c++) tide_free(symh[c]);
  tide_free(symh);
  if (st != TIDE_OK) cksum_free(out);
  return st;
}

/* Same column names and types, in order; else a message into why. */
static bool same_columns(const tide_table_t *a, const tide_table_t *b, char *why, size_t cap) {
  size_t na = tide_table_ncols(a), nb = tide_table_ncols(b);
  if (na != nb) {
    snprintf(why, cap, "%zu columns instead of %zu", nb, na);
    return false;
  }
  for (size_t c = 0; c < na; c++) {
    tide_type_t ta = tide_table_col_type(a, c), tb = tide_table_col_type(b, c);
    if (strcmp(tide_table_col_name(a, c), tide_table_col_name(b, c)) != 0 || ta != tb) {
      snprintf(why, cap, "column %zu is '%s' %s instead of '%s' %s", c,
               tide_table_col_name(b, c), tide_type_name(tb), tide_table_col_name(a, c),
               tide_type_name(ta));
      return false;
    }
  }
  return true;
}

/* Compare checksums: the row count, then per column (ordered: position
 * sensitive; otherwise the order-independent sums and the row sum). */
static bool same_cksum(const tide_table_t *ta, const cksum_t *a, const cksum_t *b, bool ordered,
                       char *why, size_t cap) {
  if (a->rows != b->rows) {
    snprintf(why, cap, "%" PRIu64 " rows where the intraday data has %" PRIu64, b->rows,
             a->rows);
    return false;
  }
  for (size_t c = 0; c < a->nc; c++) {
    bool ok = ordered ? a->ord[c] == b->ord[c] : a->unord[c] == b->unord[c];
    if (!ok) {
      snprintf(why, cap, "the values of column '%s' differ (%s checksum %016" PRIx64
                         " instead of %016" PRIx64 ")",
               tide_table_col_name(ta, c), ordered ? "ordered" : "order-independent",
               ordered ? b->ord[c] : b->unord[c], ordered ? a->ord[c] : a->unord[c]);
      return false;
    }
  }
  if (!ordered && a->rowsum != b->rowsum) {
    snprintf(why, cap, "the rows differ (row checksum %016" PRIx64 " instead of %016" PRIx64 ")",
             b->rowsum, a->rowsum);
    return false;
  }
  return true;
}

/* ---------------------------------------------------------------- locks */

/* flock(LOCK_EX) on an open fd, waiting for it when `busy` is NULL, else
 * (LOCK_NB) TIDE_ERR_STATE with `busy` when it is held. */
static tide_status lock_fd(int fd, const char *path, const char *busy, tide_error *err) {
  int rc;
  do rc = flock(fd, busy ? LOCK_EX | LOCK_NB : LOCK_EX);
  while (rc != 0 && errno == EINTR);
  if (rc == 0) return TIDE_OK;
  int e = errno;
  if (busy && e == EWOULDBLOCK) {
    char pid[32] = "";
    struct stat sb;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
      ssize_t r = pread(fd, pid, sizeof pid - 1, 0);
      if (r > 0) pid[r] = '\0';
      pid[strcspn(pid, "\n")] = '\0';
    }
    return tide_error_set(err, TIDE_ERR_STATE, OP ": %s%s%s%s (lock %s is held)", busy,
                          *pid ? " (pid " : "", pid, *pid ? ")" : "", path);
  }
  return tide_error_set(err, TIDE_ERR_IO, OP ": %s: cannot lock: %s", path, strerror(e));
}

/* ------------------------------------------------------ intraday delete */

/* Delete the intraday partition idir (locked by us): rename it to the
 * hidden itab/.<date>.deleting (atomic: readers see it gone), fsync itab,
 * remove its files, rmdir, fsync itab. */
static tide_status delete_intraday(const char *idir, const char *itab, const char *date,
                                   tide_error *err) {
  char *hidden = fmt("%s/.%s.deleting", itab, date);
  if (!hidden) return tide_error_set(err, TIDE_ERR_NOMEM, OP ": out of memory");
  tide_status st = TIDE_OK;
  if (rename(idir, hidden) != 0) {
    st = tide_error_set(err, TIDE_ERR_IO,
                        OP ": cannot rename the intraday partition '%s' to '%s' (to delete it): "
                        "%s",
                        idir, hidden, strerror(errno));
    goto done;
  }
  if ((st = sync_dir(itab, err)) != TIDE_OK) goto done;
  crash_point(6);
  DIR *d = opendir(hidden);
  if (!d) {
    st = tide_error_set(err, TIDE_ERR_IO, OP ": cannot open '%s': %s", hidden, strerror(errno));
    goto done;
  }
  struct dirent *de;
  int removed = 0;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    char *p = fmt("%s/%s", hidden, de->d_name);
    if (!p) {
      st = tide_error_set(err, TIDE_ERR_NOMEM, OP ": out of memory");
      break;
    }
    struct stat sb;
    bool ok = lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode) ? remove_tree(p)
                                                          : unlink(p) == 0 || errno == ENOENT;
    if (!ok)
      st = tide_error_set(err, TIDE_ERR_IO, OP ": cannot remove '%s': %s", p, strerror(errno));
    tide_free(p);
    if (st != TIDE_OK) break;
    if (++removed == 1) crash_point(7);
  }
  closedir(d);
  if (st != TIDE_OK) goto done;
  if (rmdir(hidden) != 0) {
    st = tide_error_set(err, TIDE_ERR_IO, OP ": cannot remove '%s': %s", hidden, strerror(errno));
    goto done;
  }
  st = sync_dir(itab, err);
done:
  tide_free(hidden);
  return st;
}

/* Remove hidden leftovers of crashed merges of table `table` and date:
 * <wdir>/<n>/<date>/.<table>.merging[.tmp.<digits>] for every writable
 * partition n, and <itab>/.<date>.deleting. The caller holds itab's lock. */
static bool all_digits(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return false;
  return true;
}

static void clean_leftovers(const char *wdir, char *const *wn, size_t nw, const char *itab,
                            const char *table, const char *date) {
  size_t tl = strlen(table);
  for (size_t i = 0; i < nw; i++) {
    char *dd = fmt("%s/%s/%s", wdir, wn[i], date);
    DIR *d = dd ? opendir(dd) : NULL;
    bool removed = false;
    if (d) {
      struct dirent *de;
      while ((de = readdir(d))) {
        const char *s = de->d_name;
        if (s[0] != '.' || strncmp(s + 1, table, tl) != 0 || strncmp(s + 1 + tl, ".merging", 8))
          continue;
        const char *rest = s + 1 + tl + 8;
        if (*rest && !(strncmp(rest, ".tmp.", 5) == 0 && all_digits(rest + 5))) continue;
        char *p = fmt("%s/%s", dd, s);
        if (p) {
          remove_tree(p);
          removed = true;
        }
        tide_free(p);
      }
      closedir(d);
    }
    if (removed) sync_dir(dd, NULL);
    tide_free(dd);
  }
  char *hidden = fmt("%s/.%s.deleting", itab, date);
  if (hidden && path_exists(hidden)) {
    remove_tree(hidden);
    sync_dir(itab, NULL);
  }
  tide_free(hidden);
}

/* ---------------------------------------------------------------- merge */

static void set_result_path(tide_merge_result_t *r, const char *part, const char *path) {
  snprintf(r->partition, sizeof r->partition, "%s", part);
  snprintf(r->path, sizeof r->path, "%s", path);
}

/* The existing table directories of (ns, table, date): the listed ones
 * under Partitions/, plus `final` when it exists and nothing was listed
 * (a WritablePartitions entry that is a plain directory). */
static tide_status find_existing(const char *db, const char *ns, const char *table,
                                 const char *date, const char *part, const char *final,
                                 tide_historical_part_t **parts, size_t *np, tide_error *err) {
  tide_historical_query_t q = {0};
  q.from = q.to = date;
  tide_error e;
  tide_error_clear(&e);
  tide_status st = tide_historical_list(db, ns, table, &q, parts, np, &e);
  if (st == TIDE_ERR_NOT_FOUND) {
    *parts = NULL;
    *np = 0;
  } else if (st != TIDE_OK) {
    return tide_error_set(err, st, "%s", e.msg);
  }
  if (*np == 0 && path_exists(final)) {
    tide_historical_part_t *v = tide_calloc(1, sizeof *v);
    if (!v) return tide_error_set(err, TIDE_ERR_NOMEM, OP ": out of memory");
    memcpy(v->date, date, 11);
    v->partition = tide_strdup(part);
    v->path = tide_strdup(final);
    *parts = v;
    *np = 1;
    if (!v->partition || !v->path)
      return tide_error_set(err, TIDE_ERR_NOMEM, OP ": out of memory");
  }
  return TIDE_OK;
}

/* An earlier merge wrote parts: each must hold the rows of `src` (any
 * order); src NULL (the intraday data is gone): each must read back. */
static tide_status check_existing(const tide_historical_part_t *parts, size_t np,
                                  const tide_table_t *src, const cksum_t *sck, const char *ns,
                                  const char *table, const char *date,
                                  tide_merge_result_t *res, tide_error *err) {
  for (size_t i = 0; i < np; i++) {
    tide_error e;
    tide_error_clear(&e);
    tide_table_t *h = tide_table_read_dir(parts[i].path, &e);
    if (!h)
      return tide_error_set(err, e.status == TIDE_ERR_NOMEM ? TIDE_ERR_NOMEM : TIDE_ERR_STATE,
                            OP ": %s.%s of %s was merged before, but the historical table "
                            "cannot be read: %s",
                            ns, table, date, e.msg);
    char why[256];
    tide_status st = TIDE_OK;
    if (src) {
      cksum_t hc;
      st = table_cksum(h, CK_UNORD, &hc, err);
      if (st == TIDE_OK) {
        if (!same_columns(src, h, why, sizeof why) ||
            !same_cksum(src, sck, &hc, false, why, sizeof why))
          st = tide_error_set(err, TIDE_ERR_STATE,
                              OP ": %s.%s of %s is already in the historical store ('%s') with "
                              "different data than the intraday partition: %s (nothing was "
                              "changed; remove one of them to merge)",
                              ns, table, date, parts[i].path, why);
        cksum_free(&hc);
      }
    }
    if (i == 0) {
      set_result_path(res, parts[i].partition, parts[i].path);
      res->rows = tide_table_size(h);
    }
    tide_table_free(h);
    if (st != TIDE_OK) return st;
  }
  return TIDE_OK;
}

tide_status tide_merge_intraday(const char *db, const char *ns, const char *table,
                                const char *date, const tide_merge_opts_t *opts,
                                tide_merge_result_t *out, tide_error *err) {
  const double t0 = now_s();
  tide_merge_result_t res;
  memset(&res, 0, sizeof res);
  tide_merge_opts_t dflt;
  tide_merge_opts_init(&dflt);
  if (!opts) opts = &dflt;
  if (!db || !*db) db = TIDE_DB_DEFAULT;
  {
    const char *env = getenv("TIDE_MERGE_CRASH_AT");
    g_crash_at = env ? atoi(env) : 0;
  }
  tide_error e;
  tide_error_clear(&e);
  if (tide_db_check_name("namespace", ns, &e) != TIDE_OK ||
      tide_db_check_name("table", table, &e) != TIDE_OK || tide_db_check_date(date, &e) != TIDE_OK)
    return tide_error_set(err, TIDE_ERR_INVALID, OP ": %s", e.msg);
  if (tide_intraday_check_date(date, NULL) != TIDE_OK)
    return tide_error_set(err, TIDE_ERR_INVALID, OP ": date '%s' is not a calendar day", date);
  if ((unsigned)opts->codec > TIDE_CODEC_ZSTD)
    return tide_error_set(err, TIDE_ERR_INVALID, OP ": unknown codec %d", (int)opts->codec);
  if (opts->nsort && !opts->sort_by)
    return tide_error_set(err, TIDE_ERR_INVALID, OP ": %zu sort columns but no names",
                          opts->nsort);
  for (size_t i = 0; i < opts->nsort; i++)
    if (!opts->sort_by[i] || !*opts->sort_by[i])
      return tide_error_set(err, TIDE_ERR_INVALID, OP ": sort column %zu has no name", i);
  if (strlen(db) > 3000)
    return tide_error_set(err, TIDE_ERR_INVALID, OP ": database path too long");

  tide_status st = TIDE_OK;
  char *wdir = NULL, *itab = NULL, *idir = NULL, *datedir = NULL, *tmpdir = NULL, *final = NULL,
       *partdir = NULL, *lockp = NULL;
  char **wn = NULL;
  size_t nw = 0;
  int tab_fd = -1, wl_fd = -1;
  tide_historical_part_t *parts = NULL;
  size_t np = 0;
  tide_table_t *src = NULL, *sorted = NULL, *back = NULL;
  cksum_t sck = {0}, wck = {0}, bck = {0};

  itab = fmt("%s/Intraday/%s/%s", db, ns, table);
  idir = fmt("%s/Intraday/%s/%s/%s", db, ns, table, date);
  lockp = fmt("%s/writer.lock", idir ? idir : "");
  if (!itab || !idir || !lockp) goto oom;

  /* 1. where the partition goes (the rule tide_historical_write uses) */
  size_t pick = 0;
  if ((st = tide__hist_writable(OP, db, ns, date, &wdir, &wn, &nw, &pick, err)) != TIDE_OK)
    goto done;
  const char *part = wn[pick];
  partdir = fmt("%s/%s", wdir, part);
  datedir = fmt("%s/%s/%s", wdir, part, date);
  tmpdir = fmt("%s/%s/%s/.%s.merging", wdir, part, date, table);
  final = fmt("%s/%s/%s/%s", wdir, part, date, table);
  if (!partdir || !datedir || !tmpdir || !final) goto oom;
  set_result_path(&res, part, final);

  /* 2. locks: the table (waited for: one merge of the table at a time),
   * then the partition's writer (refused when held) */
  bool have_itab = is_dir(itab);
  if (have_itab) {
    tab_fd = open(itab, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (tab_fd < 0) {
      st = tide_error_set(err, TIDE_ERR_IO, OP ": cannot open '%s': %s", itab, strerror(errno));
      goto done;
    }
    if ((st = lock_fd(tab_fd, itab, NULL, err)) != TIDE_OK) goto done;
    clean_leftovers(wdir, wn, nw, itab, table, date);
  }
  bool have_intraday = have_itab && is_dir(idir);
  if (have_intraday) {
    wl_fd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (wl_fd < 0) {
      st = tide_error_set(err, TIDE_ERR_IO, OP ": cannot open '%s': %s", lockp, strerror(errno));
      goto done;
    }
    if ((st = lock_fd(wl_fd, lockp,
                      "the intraday partition is being written (an ingester or appender holds "
                      "it; stop it, or wait for the day to end, before merging)",
                      err)) != TIDE_OK)
      goto done;
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(wl_fd, 0) != 0 || pwrite(wl_fd, pid, (size_t)n, 0) != n) {
      /* informational only (names the holder in an appender's error) */
    }
  }

  /* 3. an earlier merge? */
  if ((st = find_existing(db, ns, table, date, part, final, &parts, &np, err)) != TIDE_OK)
    goto done;

  /* 4. the committed intraday rows */
  double t1 = now_s();
  if (have_intraday) {
    tide_error_clear(&e);
    src = tide_intraday_read(db, ns, table, date, &e);
    if (!src) {
      if (e.status == TIDE_ERR_NOT_FOUND && np == 0)
        st = tide_error_set(err, TIDE_ERR_NOT_FOUND,
                            OP ": no intraday data for %s.%s of %s ('%s' has no committed "
                            "partition); nothing was merged",
                            ns, table, date, idir);
      else if (e.status == TIDE_ERR_NOT_FOUND)
        have_intraday = false; /* an empty directory left by a crashed first commit */
      else
        st = tide_error_set(err, e.status,
                            OP ": cannot read the intraday partition (nothing was merged): %s",
                            e.msg);
      if (st != TIDE_OK) goto done;
    }
  }
  res.t_read = now_s() - t1;
  crash_point(1);
  if (!have_intraday) {
    if (np == 0) {
      st = tide_error_set(err, TIDE_ERR_NOT_FOUND,
                          OP ": no intraday partition '%s' and nothing merged for %s.%s of %s",
                          idir, ns, table, date);
      goto done;
    }
    /* merged before and the intraday data deleted: verify it reads */
    st = check_existing(parts, np, NULL, NULL, ns, table, date, &res, err);
    if (st == TIDE_OK) res.already_merged = res.intraday_missing = true;
    goto done;
  }
  if (tide_table_size(src) == 0) {
    st = tide_error_set(err, TIDE_ERR_INVALID,
                        OP ": the intraday partition '%s' has no committed rows: nothing to merge",
                        idir);
    goto done;
  }
  if (tide_table_col_index(src, TIDE_HISTORICAL_DATE_COL) >= 0) {
    st = tide_error_set(err, TIDE_ERR_INVALID,
                        OP ": %s.%s has a column '" TIDE_HISTORICAL_DATE_COL
                        "', which is the partitioning column of historical tables",
                        ns, table);
    goto done;
  }
  double tc = now_s();
  /* ordered sums to compare with the written table when it keeps the
   * intraday order; order-independent ones for a sorted merge or an
   * earlier merge */
  int smode = (opts->nsort ? 0 : CK_ORD) | (opts->nsort || np ? CK_UNORD : 0);
  if ((st = table_cksum(src, smode, &sck, err)) != TIDE_OK) goto done;
  res.t_verify = now_s() - tc; /* the intraday side of the validation */

  if (np) {
    /* 5a. merged before: the same rows is success; else an error */
    st = check_existing(parts, np, src, &sck, ns, table, date, &res, err);
    if (st != TIDE_OK) goto done;
    res.already_merged = true;
  } else {
    /* 5b. sort, write hidden, validate, rename */
    double t2 = now_s();
    const tide_table_t *w = src;
    if (opts->nsort) {
      tide_table_t *perm = tide_sort(src, opts->sort_by, opts->nsort, &e);
      if (!perm) {
        st = tide_error_set(err, e.status, OP ": --sort-by: %s", e.msg);
        goto done;
      }
      /* materialized once (a parallel gather per column): the checksum and
       * the column writer then read memory in order, not through the
       * sort's redirection */
      sorted = tide_select(perm, NULL, 0, &e);
      tide_table_free(perm);
      if (!sorted) {
        st = tide_error_set(err, e.status, OP ": --sort-by: %s", e.msg);
        goto done;
      }
      w = sorted;
      res.t_sort = now_s() - t2;
      double tw = now_s();
      if ((st = table_cksum(sorted, CK_ORD, &wck, err)) != TIDE_OK) goto done;
      res.t_verify += now_s() - tw;
    }
    double t3 = now_s();
    if (!is_dir(datedir)) {
      if (mkdir(datedir, 0777) != 0 && errno != EEXIST) {
        st = tide_error_set(err, TIDE_ERR_IO, OP ": cannot create '%s': %s", datedir,
                            strerror(errno));
        goto done;
      }
      if ((st = sync_dir(partdir, err)) != TIDE_OK) goto done;
    }
    /* files and the directory fsync-ed; the hidden name renamed into the
     * date directory, which is fsync-ed */
    if ((st = tide_table_write_dir(w, tmpdir, opts->codec, &e)) != TIDE_OK) {
      st = tide_error_set(err, st, OP ": writing the partition: %s", e.msg);
      remove_tree(tmpdir);
      goto done;
    }
    double t4 = now_s();
    res.t_write = t4 - t3;
    crash_point(2);
    damage_hook(tmpdir);
    /* validate: re-read (every block verified) and compare */
    back = tide_table_read_dir(tmpdir, &e);
    char why[320];
    bool ok = false;
    if (!back && e.status == TIDE_ERR_NOMEM) {
      st = tide_error_set(err, TIDE_ERR_NOMEM, OP ": reading the written partition back: %s",
                          e.msg);
      remove_tree(tmpdir);
      goto done;
    } else if (!back) {
      snprintf(why, sizeof why, "it cannot be read back: %s", e.msg);
    } else if ((st = table_cksum(back, CK_ORD | (opts->nsort ? CK_UNORD : 0), &bck, err)) !=
               TIDE_OK) {
      remove_tree(tmpdir);
      goto done;
    } else if (!same_columns(src, back, why, sizeof why)) {
    } else if (!same_cksum(src, opts->nsort ? &wck : &sck, &bck, true, why, sizeof why)) {
    } else if (opts->nsort && !same_cksum(src, &sck, &bck, false, why, sizeof why)) {
    } else {
      ok = true;
    }
    if (!ok) {
      st = tide_error_set(err, TIDE_ERR_CORRUPT,
                          OP ": the written partition '%s' does not match the intraday data: %s "
                          "(it was removed; the intraday data is untouched)",
                          tmpdir, why);
      remove_tree(tmpdir);
      sync_dir(datedir, NULL);
      goto done;
    }
    double t5 = now_s();
    res.t_verify += t5 - t4;
    crash_point(3);
    /* atomic and never over an existing table */
    int rr = renameat2(AT_FDCWD, tmpdir, AT_FDCWD, final, RENAME_NOREPLACE);
    if (rr != 0 && (errno == EINVAL || errno == ENOSYS)) {
      rr = path_exists(final) ? (errno = EEXIST, -1) : rename(tmpdir, final);
    }
    if (rr != 0) {
      st = tide_error_set(err, TIDE_ERR_IO, OP ": cannot rename '%s' to '%s': %s", tmpdir, final,
                          strerror(errno));
      remove_tree(tmpdir);
      goto done;
    }
    crash_point(4);
    if ((st = sync_dir(datedir, err)) != TIDE_OK) goto done;
    crash_point(5);
    res.rows = tide_table_size(back);
  }

  /* 6. only now may the intraday data go */
  if (opts->delete_intraday) {
    double t6 = now_s();
    if ((st = delete_intraday(idir, itab, date, &e)) != TIDE_OK) {
      st = tide_error_set(err, st,
                          OP ": %s.%s of %s is merged ('%s'), but deleting the intraday data "
                          "failed (re-run the merge to finish): %s",
                          ns, table, date, res.path,
                          strncmp(e.msg, OP ": ", 7) ? e.msg : e.msg + 7);
      goto done;
    }
    res.intraday_deleted = true;
    res.t_delete = now_s() - t6;
  }
  goto done;
oom:
  st = tide_error_set(err, TIDE_ERR_NOMEM, OP ": out of memory");
done:
  cksum_free(&sck);
  cksum_free(&wck);
  cksum_free(&bck);
  tide_table_free(back);
  tide_table_free(sorted);
  tide_table_free(src);
  tide_historical_parts_free(parts, np);
  if (wl_fd >= 0) close(wl_fd); /* releases the flocks */
  if (tab_fd >= 0) close(tab_fd);
  tide__hist_names_free(wn, nw);
  tide_free(wdir);
  tide_free(itab);
  tide_free(idir);
  tide_free(lockp);
  tide_free(partdir);
  tide_free(datedir);
  tide_free(tmpdir);
  tide_free(final);
  res.seconds = now_s() - t0;
  if (out) *out = res;
  return st;
}
