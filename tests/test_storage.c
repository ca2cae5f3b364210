/*
 * Column files and table directories (io/colfile.c, io/tabledir.c):
 * round trips of every type with nulls at block-boundary sizes and every
 * codec, zone maps against a naive min/max, and damage: every single-bit
 * flip of small files and sampled flips of large ones must be refused
 * with TIDE_ERR_CORRUPT naming the file (no crash, no wrong data), as must
 * every truncation and a foreign file.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core_int.h"
#include "testutil.h"
#include "tide/storage.h"

static char g_dir[256];

/* A static table over sources (references taken). */
static tide_table_t *tbl(uint64_t n, size_t nc, const char *const *names, tide_source_t *const *srcs) {
  tide_error err;
  tide_rowset_t *rs = n ? tide_rowset_create_range(0, n - 1) : tide_rowset_create();
  tide_table_t *t = tide_table_create(rs, nc, names, srcs, &err);
  tide_rowset_free(rs);
  if (!t) abort();
  return t;
}

static const char *tmp_path(const char *name) {
  static char p[512];
  snprintf(p, sizeof p, "%s/%s", g_dir, name);
  return p;
}

/* A random table of n rows: every type, ~10% nulls, strings incl. "". */
static tide_table_t *random_table(uint64_t n, uint64_t seed) {
  tu_rng r = {seed};
  static const char *names[] = {"B", "I8", "I16", "I32", "I64", "F32", "F64", "T", "S", "Sym"};
  static const tide_type_t types[] = {TIDE_BOOL, TIDE_I8, TIDE_I16, TIDE_I32, TIDE_I64,
                                      TIDE_F32,  TIDE_F64, TIDE_TS, TIDE_STRING, TIDE_SYMBOL};
  tide_error err;
  tide_source_t *cols[10];
  static const char *strs[] = {"", "a", "hello", "longer string with spaces", "ü€"};
  for (int c = 0; c < 10; c++) {
    cols[c] = tide_source_flat_create(types[c], n, &err);
    void *d = tide_source_flat_data(cols[c]);
    tide_symtab_t *st = tide_source_symtab(cols[c]);
    int32_t codes[5];
    if (types[c] == TIDE_SYMBOL)
      for (int i = 0; i < 5; i++) codes[i] = tide_symtab_intern(st, strs[i], strlen(strs[i]));
    for (uint64_t i = 0; i < n; i++) {
      bool null = tu_below(&r, 10) == 0;
      uint64_t v = tu_next(&r);
      switch (types[c]) {
        case TIDE_BOOL: ((int8_t *)d)[i] = null ? TIDE_NULL_BOOL : (int8_t)(v & 1); break;
        case TIDE_I8: ((int8_t *)d)[i] = null ? TIDE_NULL_I8 : (int8_t)(v % 200 - 100); break;
        case TIDE_I16: ((int16_t *)d)[i] = null ? TIDE_NULL_I16 : (int16_t)(v % 60000 - 30000); break;
        case TIDE_I32: ((int32_t *)d)[i] = null ? TIDE_NULL_I32 : (int32_t)(v % 2000000 - 1000000); break;
        case TIDE_I64: ((int64_t *)d)[i] = null ? TIDE_NULL_I64 : (int64_t)(v >> 1) - (INT64_MAX / 2); break;
        case TIDE_F32: ((float *)d)[i] = null ? TIDE_NULL_F32 : (float)(v % 100000) / 7.0f; break;
        case TIDE_F64:
          ((double *)d)[i] = null ? TIDE_NULL_F64 : (v % 97 == 0 ? NAN : (double)(v % 1000000) / 3.0);
          break;
        case TIDE_TS: ((int64_t *)d)[i] = null ? TIDE_NULL_TS : (int64_t)(v % 1000000000000LL); break;
        case TIDE_STRING: {
          const char *s = strs[v % 5];
          ((const char **)d)[i] = null ? NULL : tide_source_flat_store_string(cols[c], s, strlen(s));
          break;
        }
        case TIDE_SYMBOL: ((int32_t *)d)[i] = null ? -1 : codes[v % 5]; break;
        default: break;
      }
    }
  }
  tide_table_t *t = tbl(n, 10, names, cols);
  for (int c = 0; c < 10; c++) tide_source_release(cols[c]);
  return t;
}

static void test_roundtrip(uint64_t seed) {
  const uint64_t sizes[] = {0, 1, 4095, 65536, 65537, 140000};
  for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
    tide_table_t *t = random_table(sizes[si], seed + si);
    for (int codec = TIDE_CODEC_NONE; codec <= TIDE_CODEC_ZSTD; codec++) {
      tide_error err;
      char name[64];
      snprintf(name, sizeof name, "rt_%zu_%d", si, codec);
      const char *dir = tmp_path(name);
      CHECK_OK(tide_table_write_dir(t, dir, (tide_codec_t)codec, &err), err);
      tide_table_t *back = tide_table_read_dir(dir, &err);
      CHECK_OK_PTR(back, err);
      if (back) CHECK_TABLES(t, back, 0);
      /* zone maps of the I64 and F64 columns against a naive scan */
      for (int c = 4; c <= 6; c += 2) {
        char cp[600];
        snprintf(cp, sizeof cp, "%s/%s.col", dir, c == 4 ? "I64" : "F64");
        tide_colfile_t *f = tide_colfile_open(cp, &err);
        CHECK_OK_PTR(f, err);
        if (!f) continue;
        CHECK(tide_colfile_codec(f) == (tide_codec_t)codec);
        const void *d = tide_source_flat_data(tide_table_col_source(t, (size_t)c));
        for (uint64_t b = 0; b < tide_colfile_nblocks(f); b++) {
          tide_block_stats_t s = tide_colfile_block_stats(f, b);
          uint32_t nulls = 0;
          double mn = INFINITY, mx = -INFINITY;
          for (uint64_t i = s.first_row; i < s.first_row + s.rows; i++) {
            double v;
            if (c == 4) {
              int64_t x = ((const int64_t *)d)[i];
              if (x == TIDE_NULL_I64) { nulls++; continue; }
              v = (double)x;
            } else {
              v = ((const double *)d)[i];
              if (v == TIDE_NULL_F64) { nulls++; continue; }
              if (isnan(v)) continue;
            }
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
          }
          CHECK(s.nulls == nulls);
          if (mn <= mx) {
            double smin, smax;
            if (c == 4) {
              smin = (double)(int64_t)s.min;
              smax = (double)(int64_t)s.max;
            } else {
              memcpy(&smin, &s.min, 8);
              memcpy(&smax, &s.max, 8);
            }
            CHECK_MSG(smin == mn && smax == mx, "block %llu zone map", (unsigned long long)b);
          }
        }
        tide_colfile_close(f);
      }
      tide_table_free(back);
      /* an existing directory is refused and left alone */
      CHECK(tide_table_write_dir(t, dir, (tide_codec_t)codec, &err) == TIDE_ERR_INVALID);
    }
    tide_table_free(t);
  }
}

static unsigned char *slurp(const char *p, size_t *n) {
  FILE *f = fopen(p, "rb");
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(*n ? *n : 1);
  if (fread(b, 1, *n, f) != *n) abort();
  fclose(f);
  return b;
}
static void spit(const char *p, const unsigned char *b, size_t n) {
  FILE *f = fopen(p, "wb");
  if (n && fwrite(b, 1, n, f) != n) abort();
  fclose(f);
}

/* Open + read a column file; returns the status (the source is checked
 * against the expected column when it succeeds). */
static tide_status read_col(const char *p, const tide_table_t *t, size_t col, char *msg) {
  tide_error err;
  tide_colfile_t *f = tide_colfile_open(p, &err);
  if (!f) {
    snprintf(msg, 512, "%s", err.msg);
    return err.status;
  }
  tide_source_t *s = tide_colfile_source(f, &err);
  tide_colfile_close(f);
  if (!s) {
    snprintf(msg, 512, "%s", err.msg);
    return err.status;
  }
  const char *nm[1] = {"X"};
  tide_table_t *a = tbl(tide_table_size(t), 1, nm, &s);
  tide_source_t *ts = tide_table_col_source(t, col);
  tide_table_t *b = tbl(tide_table_size(t), 1, nm, &ts);
  char m[1024];
  bool eq = tu_table_equal(a, b, 0, m, sizeof m);
  tide_table_free(a);
  tide_table_free(b);
  tide_source_release(s);
  snprintf(msg, 512, "read back %s", eq ? "equal" : "DIFFERENT");
  return eq ? TIDE_OK : TIDE_ERR_STATE;
}

static void test_damage(uint64_t seed) {
  tu_rng r = {seed};
  tide_table_t *small = random_table(300, seed);
  tide_table_t *big = random_table(140000, seed + 1);
  tide_error err;
  const char *cols[] = {"I64", "F64", "S", "Sym", "B"};
  const size_t colidx[] = {4, 6, 8, 9, 0};
  char msg[512];
  int files = 0;
  for (int codec = TIDE_CODEC_NONE; codec <= TIDE_CODEC_ZSTD; codec++)
    for (int which = 0; which < 2; which++)
      for (size_t ci = 0; ci < 5; ci++) {
        const tide_table_t *t = which ? big : small;
        char path[600];
        snprintf(path, sizeof path, "%s/dmg_%d_%d_%s.col", g_dir, codec, which, cols[ci]);
        CHECK_OK(tide_column_write(t, colidx[ci], path, (tide_codec_t)codec, &err), err);
        size_t n;
        unsigned char *orig = slurp(path, &n);
        CHECK(read_col(path, t, colidx[ci], msg) == TIDE_OK);
        /* bit flips: every header byte and the last 256 bytes (index,
         * dictionary), then random bytes anywhere */
        uint64_t trials = 64 + 256 + (which ? 100 : 200);
        unsigned char *mod = malloc(n);
        for (uint64_t k = 0; k < trials; k++) {
          size_t pos = k < 64 ? (size_t)k
                       : k < 320 && n > 64 + (320 - k) ? n - (size_t)(320 - k)
                                                       : (size_t)tu_below(&r, n);
          memcpy(mod, orig, n);
          mod[pos] ^= (unsigned char)(1u << tu_below(&r, 8));
          spit(path, mod, n);
          tide_status st = read_col(path, t, colidx[ci], msg);
          CHECK_MSG(st == TIDE_ERR_CORRUPT && strstr(msg, path) != NULL,
                    "%s: flip at byte %zu of %zu: status %d: %s", path, pos, n, (int)st, msg);
        }
        /* truncations: 0..80 bytes, the last 80, and random lengths */
        trials = 160 + 60;
        for (uint64_t k = 0; k < trials; k++) {
          size_t len = k < 80 ? TIDE_MIN((size_t)k, n - 1)
                       : k < 160 ? n - 1 - TIDE_MIN((size_t)(k - 80), n - 1)
                                 : (size_t)tu_below(&r, n);
          spit(path, orig, len);
          tide_status st = read_col(path, t, colidx[ci], msg);
          CHECK_MSG(st == TIDE_ERR_CORRUPT && strstr(msg, path) != NULL,
                    "%s: truncated to %zu of %zu: status %d: %s", path, len, n, (int)st, msg);
        }
        free(mod);
        free(orig);
        files++;
      }
  /* a foreign file and a missing one */
  const char *csv = tmp_path("foreign.col");
  const char *fc = "Sym,Price\nA,1.5\nB,2.5\nC,3.5\nD,4.5\nE,5.5\nF,6.5\nG,7.5\n";
  spit(csv, (const unsigned char *)fc, strlen(fc));
  CHECK(tide_colfile_open(csv, &err) == NULL && err.status == TIDE_ERR_CORRUPT &&
        strstr(err.msg, "not a tide column file"));
  CHECK(tide_colfile_open(tmp_path("missing.col"), &err) == NULL &&
        err.status == TIDE_ERR_NOT_FOUND);
  fprintf(stderr, "storage: damaged %d files in every way listed\n", files);
  tide_table_free(small);
  tide_table_free(big);
}

static void test_tabledir_errors(uint64_t seed) {
  tide_error err;
  tide_table_t *t = random_table(1000, seed);
  char dir[512];
  snprintf(dir, sizeof dir, "%s", tmp_path("tdir"));
  CHECK_OK(tide_table_write_dir(t, dir, TIDE_CODEC_LZ4, &err), err);
  char p[600];
  snprintf(p, sizeof p, "%s/table.tdef", dir);
  size_t n;
  unsigned char *orig = slurp(p, &n);
  /* any change of the definition is refused, naming it */
  for (size_t i = 0; i < n; i++) {
    unsigned char *m = malloc(n);
    memcpy(m, orig, n);
    m[i] ^= 0x04;
    spit(p, m, n);
    free(m);
    tide_table_t *b = tide_table_read_dir(dir, &err);
    CHECK_MSG(b == NULL && strstr(err.msg, "table.tdef"), "tdef byte %zu flipped: %s", i,
              b ? "accepted" : err.msg);
    tide_table_free(b);
  }
  spit(p, orig, n);
  /* a missing column file */
  snprintf(p, sizeof p, "%s/F64.col", dir);
  rename(p, tmp_path("F64.moved"));
  tide_table_t *b = tide_table_read_dir(dir, &err);
  CHECK(b == NULL && err.status == TIDE_ERR_NOT_FOUND && strstr(err.msg, "F64.col"));
  rename(tmp_path("F64.moved"), p);
  b = tide_table_read_dir(dir, &err);
  CHECK_OK_PTR(b, err);
  if (b) CHECK_TABLES(t, b, 0);
  tide_table_free(b);
  /* not a table / no directory */
  CHECK(tide_table_read_dir(g_dir, &err) == NULL && strstr(err.msg, "not a tide table"));
  CHECK(tide_table_read_dir(tmp_path("nope"), &err) == NULL && strstr(err.msg, "no table"));
  free(orig);
  tide_table_free(t);
}

static void rm_rf(const char *d) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
  if (system(cmd) != 0) fprintf(stderr, "storage: could not remove %s\n", d);
}

int main(void) {
  /* tmpfs when there is one: the damage loop rewrites files thousands of
   * times, and ext4 flushes a truncated-and-rewritten file on close */
  struct stat sb;
  const char *base = stat("/dev/shm", &sb) == 0 && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(g_dir, sizeof g_dir, "%s/tide-test-storage-%ld", base, (long)getpid());
  rm_rf(g_dir);
  mkdir(g_dir, 0777);
  uint64_t seed = tu_seed(20261121);
  tide_error err;
  test_roundtrip(seed);
  /* thousands of small reads: one thread keeps them fast on a loaded machine */
  CHECK(tide_set_threads(1, &err) == TIDE_OK);
  test_damage(seed + 10);
  test_tabledir_errors(seed + 20);
  rm_rf(g_dir);
  return tu_finish("storage");
}
