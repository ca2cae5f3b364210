/*
 * Column files (include/tide/storage.h; byte layout in docs/STORAGE.md).
 *
 *   [header 64 B][block 0][block 1]...[dictionary (SYMBOL)][index: 64 B per block]
 *
 * Little-endian only (the header records it; a big-endian reader refuses).
 * Every header, index entry, block and dictionary carries a checksum
 * (tide__checksum64); sizes and offsets are cross-checked so that a
 * truncated file is caught before any block is read.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lz4.h>
#include <zstd.h>

#include "io/io_int.h"
#include "tide/storage.h"

#define COL_MAGIC "TIDECOL1"
#define COL_VERSION 1u
#define HDR_SIZE 64u
#define IDX_SIZE 64u
#define ZSTD_LEVEL 3

/* ----------------------------------------------------------- checksum */

/* 64-bit checksum: four independent multiply-rotate lanes over 32-byte
 * stripes (throughput-bound, several GB/s), then the tail and the length.
 * Detects bit flips and truncation; not a cryptographic hash. */
uint64_t tide__checksum64(const void *data, size_t len) {
  const uint8_t *p = data;
  const uint64_t K1 = 0x9E3779B185EBCA87ULL, K2 = 0xC2B2AE3D27D4EB4FULL;
  uint64_t a = 0x243F6A8885A308D3ULL, b = 0x13198A2E03707344ULL, c = 0xA4093822299F31D0ULL,
           d = 0x082EFA98EC4E6C89ULL;
  size_t n = len;
  while (n >= 32) {
    uint64_t w[4];
    memcpy(w, p, 32);
    a = ((a + w[0] * K2) << 31 | (a + w[0] * K2) >> 33) * K1;
    b = ((b + w[1] * K2) << 31 | (b + w[1] * K2) >> 33) * K1;
    c = ((c + w[2] * K2) << 31 | (c + w[2] * K2) >> 33) * K1;
    d = ((d + w[3] * K2) << 31 | (d + w[3] * K2) >> 33) * K1;
    p += 32;
    n -= 32;
  }
  uint64_t h = (a << 1 | a >> 63) + (b << 7 | b >> 57) + (c << 12 | c >> 52) + (d << 18 | d >> 46);
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h ^= ((w * K2) << 31 | (w * K2) >> 33) * K1;
    h = (h << 27 | h >> 37) * K1 + 0x85EBCA77C2B2AE63ULL;
    p += 8;
    n -= 8;
  }
  while (n) {
    h ^= (uint64_t)*p++ * 0x27D4EB2F165667C5ULL;
    h = (h << 11 | h >> 53) * K1;
    n--;
  }
  h ^= (uint64_t)len * K2;
  h ^= h >> 33;
  h *= K2;
  h ^= h >> 29;
  h *= 0x165667B19E3779F9ULL;
  h ^= h >> 32;
  return h;
}

/* ------------------------------------------------------------- layout */

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
static uint64_t get64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

typedef struct idx_entry {
  uint64_t offset, stored, raw;
  uint32_t rows, nulls;
  uint64_t min, max, checksum;
} idx_entry;

static void idx_encode(const idx_entry *e, uint8_t *p) {
  put64(p, e->offset);
  put64(p + 8, e->stored);
  put64(p + 16, e->raw);
  put32(p + 24, e->rows);
  put32(p + 28, e->nulls);
  put64(p + 32, e->min);
  put64(p + 40, e->max);
  put64(p + 48, e->checksum);
  put64(p + 56, tide__checksum64(p, 56));
}

static void idx_decode(const uint8_t *p, idx_entry *e) {
  e->offset = get64(p);
  e->stored = get64(p + 8);
  e->raw = get64(p + 16);
  e->rows = get32(p + 24);
  e->nulls = get32(p + 28);
  e->min = get64(p + 32);
  e->max = get64(p + 40);
  e->checksum = get64(p + 48);
}

const char *tide_codec_name(tide_codec_t c) {
  switch (c) {
    case TIDE_CODEC_NONE: return "none";
    case TIDE_CODEC_LZ4: return "lz4";
    case TIDE_CODEC_ZSTD: return "zstd";
  }
  return "?";
}

tide_status tide_codec_parse(const char *name, tide_codec_t *out, tide_error *err) {
  for (int c = TIDE_CODEC_NONE; c <= TIDE_CODEC_ZSTD; c++)
    if (name && !strcmp(name, tide_codec_name((tide_codec_t)c))) {
      *out = (tide_codec_t)c;
      return TIDE_OK;
    }
  return tide_error_set(err, TIDE_ERR_INVALID, "unknown codec '%s' (none, lz4 or zstd)",
                        name ? name : "");
}

/* ------------------------------------------------------------- writer */

typedef struct wctx {
  const tide_table_t *t;
  tide_source_t *src;
  tide_type_t type;
  tide_codec_t codec;
  uint64_t rows, nblocks;
  idx_entry *idx;
  const char *path;
} wctx;

/* Zone map of a fixed-width block: min/max of non-null values (int64 for
 * integers, timestamps and bool; double bits for floats, NaN skipped). */
static void block_stats(tide_type_t type, const void *v, uint32_t n, idx_entry *e) {
  uint32_t nulls = 0;
  bool any = false;
  int64_t imin = 0, imax = 0;
  double dmin = 0, dmax = 0;
  switch (type) {
#define STATS_INT(E, T, NULLV)                               \
  case TIDE_##E: {                                           \
    const T *x = v;                                          \
    for (uint32_t i = 0; i < n; i++) {                       \
      if (x[i] == (NULLV)) {                                 \
        nulls++;                                             \
        continue;                                            \
      }                                                      \
      int64_t y = (int64_t)x[i];                             \
      if (!any || y < imin) imin = y;                        \
      if (!any || y > imax) imax = y;                        \
      any = true;                                            \
    }                                                        \
    break;                                                   \
  }
    STATS_INT(BOOL, int8_t, TIDE_NULL_BOOL)
    STATS_INT(I8, int8_t, TIDE_NULL_I8)
    STATS_INT(I16, int16_t, TIDE_NULL_I16)
    STATS_INT(I32, int32_t, TIDE_NULL_I32)
    STATS_INT(I64, int64_t, TIDE_NULL_I64)
    STATS_INT(TS, int64_t, TIDE_NULL_TS)
    STATS_INT(SYMBOL, int32_t, -1)
#undef STATS_INT
#define STATS_FLT(E, T, NULLV)                               \
  case TIDE_##E: {                                           \
    const T *x = v;                                          \
    for (uint32_t i = 0; i < n; i++) {                       \
      if (x[i] == (NULLV)) {                                 \
        nulls++;                                             \
        continue;                                            \
      }                                                      \
      double y = (double)x[i];                               \
      if (isnan(y)) continue;                                \
      if (!any || y < dmin) dmin = y;                        \
      if (!any || y > dmax) dmax = y;                        \
      any = true;                                            \
    }                                                        \
    break;                                                   \
  }
    STATS_FLT(F32, float, TIDE_NULL_F32)
    STATS_FLT(F64, double, TIDE_NULL_F64)
#undef STATS_FLT
    default: break;
  }
  e->nulls = nulls;
  if (type == TIDE_F32 || type == TIDE_F64) {
    memcpy(&e->min, &dmin, 8);
    memcpy(&e->max, &dmax, 8);
  } else {
    e->min = (uint64_t)imin;
    e->max = (uint64_t)imax;
  }
}

/* Compress raw into out (capacity cap); returns the stored size, or raw
 * size with the bytes copied when compression does not help. */
static size_t block_pack(tide_codec_t codec, const void *raw, size_t n, void *out, size_t cap) {
  size_t z = 0;
  if (codec == TIDE_CODEC_LZ4 && n <= (size_t)LZ4_MAX_INPUT_SIZE) {
    int r = LZ4_compress_default(raw, out, (int)n, (int)TIDE_MIN(cap, (size_t)INT_MAX));
    z = r > 0 ? (size_t)r : 0;
  } else if (codec == TIDE_CODEC_ZSTD) {
    size_t r = ZSTD_compress(out, cap, raw, n, ZSTD_LEVEL);
    z = ZSTD_isError(r) ? 0 : r;
  }
  if (z == 0 || z >= n) {
    memcpy(out, raw, n);
    return n;
  }
  return z;
}

static tide_status write_all(FILE *f, const void *p, size_t n, const wctx *w, tide_error *err) {
  if (n && fwrite(p, 1, n, f) != n)
    return tide_error_set(err, TIDE_ERR_IO, "write_column: writing '%s' failed: %s", w->path,
                          strerror(errno));
  return TIDE_OK;
}

static tide_status col_writer(FILE *f, void *ctx, tide_error *err) {
  wctx *w = ctx;
  const size_t wd = tide_type_width(w->type);
  const uint32_t br = TIDE_COLFILE_BLOCK_ROWS;
  tide_status st = TIDE_OK;
  uint8_t hdr[HDR_SIZE] = {0};
  uint64_t *keys = tide_malloc(TIDE_CHUNK_SIZE * sizeof *keys);
  uint8_t *vals = tide_malloc((size_t)br * wd);
  size_t rawcap = (size_t)br * (w->type == TIDE_STRING ? 4 : wd), outcap = 0;
  uint8_t *raw = tide_malloc(rawcap), *out = NULL;
  if (!keys || !vals || !raw) goto oom;
  if ((st = write_all(f, hdr, HDR_SIZE, w, err)) != TIDE_OK) goto done;
  uint64_t off = HDR_SIZE;
  tide_rowset_iter_t it;
  tide_rowset_iter_init(&it, tide_table_rowset(w->t));
  for (uint64_t b = 0; b < w->nblocks; b++) {
    uint32_t n = (uint32_t)TIDE_MIN((uint64_t)br, w->rows - b * br);
    for (uint32_t got = 0; got < n;) {
      tide_rowseq_t seq;
      if (!tide_rowset_iter_next_chunk(&it, TIDE_MIN((uint32_t)TIDE_CHUNK_SIZE, n - got), &seq,
                                       keys)) {
        st = tide_error_set(err, TIDE_ERR_STATE, "write_column: the table changed while writing");
        goto done;
      }
      tide_source_fill(w->src, &seq, vals + (size_t)got * wd);
      got += seq.n;
    }
    idx_entry *e = &w->idx[b];
    memset(e, 0, sizeof *e);
    e->rows = n;
    size_t rawn;
    if (w->type == TIDE_STRING) {
      const char **s = (const char **)vals;
      size_t bytes = (size_t)n * 4;
      for (uint32_t i = 0; i < n; i++) bytes += s[i] ? strlen(s[i]) : 0;
      if (bytes > UINT32_MAX) {
        st = tide_error_set(err, TIDE_ERR_RANGE,
                            "write_column: block %llu of '%s' holds more than 4 GiB of strings",
                            (unsigned long long)b, w->path);
        goto done;
      }
      if (bytes > rawcap) {
        uint8_t *r2 = tide_realloc(raw, bytes);
        if (!r2) goto oom;
        raw = r2;
        rawcap = bytes;
      }
      uint8_t *q = raw + (size_t)n * 4;
      for (uint32_t i = 0; i < n; i++) {
        if (!s[i]) {
          put32(raw + (size_t)i * 4, UINT32_MAX);
          e->nulls++;
          continue;
        }
        size_t l = strlen(s[i]);
        put32(raw + (size_t)i * 4, (uint32_t)l);
        memcpy(q, s[i], l);
        q += l;
      }
      rawn = bytes;
    } else {
      memcpy(raw, vals, (size_t)n * wd);
      rawn = (size_t)n * wd;
      block_stats(w->type, raw, n, e);
    }
    const uint8_t *stored = raw;
    size_t sn = rawn;
    if (w->codec != TIDE_CODEC_NONE) {
      size_t need = w->codec == TIDE_CODEC_LZ4 ? (size_t)LZ4_compressBound((int)TIDE_MIN(rawn, (size_t)LZ4_MAX_INPUT_SIZE))
                                               : ZSTD_compressBound(rawn);
      need = TIDE_MAX(need, rawn);
      if (need > outcap) {
        uint8_t *o2 = tide_realloc(out, need);
        if (!o2) goto oom;
        out = o2;
        outcap = need;
      }
      sn = block_pack(w->codec, raw, rawn, out, outcap);
      stored = out;
    }
    e->offset = off;
    e->stored = sn;
    e->raw = rawn;
    e->checksum = tide__checksum64(stored, sn);
    if ((st = write_all(f, stored, sn, w, err)) != TIDE_OK) goto done;
    off += sn;
  }
  uint64_t dict_off = 0;
  if (w->type == TIDE_SYMBOL) {
    /* dictionary: u64 count, u64 bytes, u64 checksum of what follows,
     * then u32 lengths and the strings */
    const tide_symtab_t *stb = tide_source_symtab(w->src);
    uint32_t cnt = stb ? tide_symtab_size(stb) : 0;
    size_t bytes = (size_t)cnt * 4;
    for (uint32_t c = 0; c < cnt; c++) bytes += strlen(tide_symtab_str(stb, (int32_t)c));
    uint8_t *d = tide_malloc(bytes + 24);
    if (!d) goto oom;
    uint8_t *q = d + 24 + (size_t)cnt * 4;
    for (uint32_t c = 0; c < cnt; c++) {
      const char *s = tide_symtab_str(stb, (int32_t)c);
      size_t l = strlen(s);
      put32(d + 24 + (size_t)c * 4, (uint32_t)l);
      memcpy(q, s, l);
      q += l;
    }
    put64(d, cnt);
    put64(d + 8, bytes);
    put64(d + 16, tide__checksum64(d + 24, bytes));
    dict_off = off;
    st = write_all(f, d, bytes + 24, w, err);
    tide_free(d);
    if (st != TIDE_OK) goto done;
    off += bytes + 24;
  }
  uint64_t index_off = off;
  for (uint64_t b = 0; b < w->nblocks; b++) {
    uint8_t ent[IDX_SIZE];
    idx_encode(&w->idx[b], ent);
    if ((st = write_all(f, ent, IDX_SIZE, w, err)) != TIDE_OK) goto done;
  }
  memcpy(hdr, COL_MAGIC, 8);
  put32(hdr + 8, COL_VERSION);
  put32(hdr + 12, HDR_SIZE);
  hdr[16] = (uint8_t)w->type;
  hdr[17] = 1; /* little-endian */
  hdr[18] = (uint8_t)w->codec;
  put32(hdr + 20, br);
  put64(hdr + 24, w->rows);
  put64(hdr + 32, w->nblocks);
  put64(hdr + 40, index_off);
  put64(hdr + 48, dict_off);
  put64(hdr + 56, tide__checksum64(hdr, 56));
  if (fseek(f, 0, SEEK_SET) != 0) {
    st = tide_error_set(err, TIDE_ERR_IO, "write_column: seek in '%s' failed: %s", w->path,
                        strerror(errno));
    goto done;
  }
  st = write_all(f, hdr, HDR_SIZE, w, err);
  goto done;
oom:
  st = tide_error_set(err, TIDE_ERR_NOMEM, "write_column: out of memory writing '%s'", w->path);
done:
  tide_free(keys);
  tide_free(vals);
  tide_free(raw);
  tide_free(out);
  return st;
}

tide_status tide_column_write(const tide_table_t *t, size_t col, const char *path,
                              tide_codec_t codec, tide_error *err) {
  if (!t || !path) return tide_error_set(err, TIDE_ERR_INVALID, "write_column: no table or path");
  if (col >= tide_table_ncols(t))
    return tide_error_set(err, TIDE_ERR_RANGE, "write_column: no column %zu (the table has %zu)",
                          col, tide_table_ncols(t));
  if ((unsigned)codec > TIDE_CODEC_ZSTD)
    return tide_error_set(err, TIDE_ERR_INVALID, "write_column: unknown codec %d", (int)codec);
  if (tide_table_is_refreshing(t))
    return tide_error_set(err, TIDE_ERR_UNSUPPORTED,
                          "write_column: the table is ticking (write a snapshot())");
  wctx w = {t, tide_table_col_source(t, col), TIDE_BOOL, codec, tide_table_size(t), 0, NULL, path};
  w.type = tide_source_type(w.src);
  w.nblocks = (w.rows + TIDE_COLFILE_BLOCK_ROWS - 1) / TIDE_COLFILE_BLOCK_ROWS;
  w.idx = tide_calloc(w.nblocks ? w.nblocks : 1, sizeof *w.idx);
  if (!w.idx) return tide_error_set(err, TIDE_ERR_NOMEM, "write_column: out of memory");
  tide_status st = tide__file_write_atomic(path, "write_column", col_writer, &w, err);
  tide_free(w.idx);
  return st;
}

/* ------------------------------------------------------------- reader */

struct tide_colfile_s {
  _Atomic uint32_t refcount;
  char *path;
  const uint8_t *map;
  size_t size;
  tide_type_t type;
  tide_codec_t codec;
  uint32_t block_rows;
  uint64_t rows, nblocks, dict_off, index_off;
  idx_entry *idx;
};

static tide_colfile_t *colfile_retain(tide_colfile_t *f) {
  atomic_fetch_add(&f->refcount, 1);
  return f;
}

void tide_colfile_close(tide_colfile_t *f) {
  if (!f || atomic_fetch_sub(&f->refcount, 1) != 1) return;
  if (f->map && f->map != MAP_FAILED) munmap((void *)f->map, f->size);
  tide_free(f->path);
  tide_free(f->idx);
  tide_free(f);
}

static void *corrupt(tide_colfile_t *f, tide_error *err, const char *fmt, const char *what,
                     unsigned long long a, unsigned long long b) {
  char msg[256];
  snprintf(msg, sizeof msg, fmt, what, a, b);
  tide_error_set(err, TIDE_ERR_CORRUPT, "%s: %s", f->path, msg);
  tide_colfile_close(f);
  return NULL;
}

tide_colfile_t *tide_colfile_open(const char *path, tide_error *err) {
  tide_colfile_t *f = tide_calloc(1, sizeof *f);
  if (!f || !(f->path = tide_malloc(strlen(path) + 1))) {
    tide_free(f);
    tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", path);
    return NULL;
  }
  atomic_init(&f->refcount, 1);
  strcpy(f->path, path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat sb;
  if (fd < 0 || fstat(fd, &sb) != 0) {
    tide_error_set(err, errno == ENOENT ? TIDE_ERR_NOT_FOUND : TIDE_ERR_IO, "%s: cannot open: %s",
                   path, strerror(errno));
    if (fd >= 0) close(fd);
    tide_colfile_close(f);
    return NULL;
  }
  f->size = (size_t)sb.st_size;
  if (f->size < HDR_SIZE) {
    close(fd);
    return corrupt(f, err, "%s (%llu bytes; a column file has at least %llu)",
                   "truncated or not a tide column file", (unsigned long long)sb.st_size, HDR_SIZE);
  }
  f->map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (f->map == MAP_FAILED) {
    f->map = NULL;
    tide_error_set(err, TIDE_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
    tide_colfile_close(f);
    return NULL;
  }
  const uint8_t *h = f->map;
  if (memcmp(h, COL_MAGIC, 8) != 0)
    return corrupt(f, err, "%s%.0llu%.0llu", "not a tide column file (bad magic)", 0, 0);
  if (get32(h + 8) != COL_VERSION)
    return corrupt(f, err, "%s %llu (this tide reads version %llu)",
                   "unsupported column file format version", get32(h + 8), COL_VERSION);
  if (get64(h + 56) != tide__checksum64(h, 56))
    return corrupt(f, err, "%s%.0llu%.0llu", "header checksum mismatch", 0, 0);
  if (h[17] != 1)
    return corrupt(f, err, "%s%.0llu%.0llu", "big-endian column files are not supported", 0, 0);
  f->type = (tide_type_t)h[16];
  f->codec = (tide_codec_t)h[18];
  f->block_rows = get32(h + 20);
  f->rows = get64(h + 24);
  f->nblocks = get64(h + 32);
  f->index_off = get64(h + 40);
  f->dict_off = get64(h + 48);
  if ((unsigned)f->type >= TIDE_TYPE_COUNT || (unsigned)f->codec > TIDE_CODEC_ZSTD ||
      f->block_rows == 0 || f->block_rows > (1u << 24))
    return corrupt(f, err, "%s (type %llu, codec %llu)", "invalid header", h[16], h[18]);
  if (f->nblocks != (f->rows + f->block_rows - 1) / f->block_rows)
    return corrupt(f, err, "%s: %llu blocks for %llu rows", "invalid header", f->nblocks, f->rows);
  if (f->index_off < HDR_SIZE || f->index_off > f->size ||
      (f->size - f->index_off) / IDX_SIZE != f->nblocks || (f->size - f->index_off) % IDX_SIZE)
    return corrupt(f, err, "%s (%llu bytes, index at %llu)",
                   "truncated or damaged: the block index does not end the file",
                   (unsigned long long)f->size, f->index_off);
  f->idx = tide_malloc((f->nblocks ? f->nblocks : 1) * sizeof *f->idx);
  if (!f->idx) {
    tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", path);
    tide_colfile_close(f);
    return NULL;
  }
  const size_t wd = tide_type_width(f->type);
  const uint64_t data_end = f->dict_off ? f->dict_off : f->index_off;
  uint64_t expect_off = HDR_SIZE;
  for (uint64_t b = 0; b < f->nblocks; b++) {
    const uint8_t *p = f->map + f->index_off + b * IDX_SIZE;
    if (get64(p + 56) != tide__checksum64(p, 56))
      return corrupt(f, err, "%s %llu: index entry checksum mismatch%.0llu", "block", b, 0);
    idx_entry *e = &f->idx[b];
    idx_decode(p, e);
    uint64_t rows = TIDE_MIN((uint64_t)f->block_rows, f->rows - b * f->block_rows);
    bool bad = e->rows != rows || e->offset != expect_off || e->stored > data_end - e->offset ||
               e->nulls > e->rows || e->stored > e->raw ||
               (f->type != TIDE_STRING ? e->raw != rows * wd : e->raw < rows * 4);
    if (bad)
      return corrupt(f, err, "%s %llu: index entry inconsistent with the file (offset %llu)",
                     "block", b, e->offset);
    expect_off += e->stored;
  }
  if (expect_off != data_end)
    return corrupt(f, err, "%s: %llu bytes of blocks, %llu expected",
                   "damaged", expect_off - HDR_SIZE, data_end - HDR_SIZE);
  if ((f->type == TIDE_SYMBOL) != (f->dict_off != 0))
    return corrupt(f, err, "%s%.0llu%.0llu", "invalid header: dictionary offset", 0, 0);
  return f;
}

tide_type_t tide_colfile_type(const tide_colfile_t *f) { return f->type; }
uint64_t tide_colfile_rows(const tide_colfile_t *f) { return f->rows; }
tide_codec_t tide_colfile_codec(const tide_colfile_t *f) { return f->codec; }
uint64_t tide_colfile_nblocks(const tide_colfile_t *f) { return f->nblocks; }

tide_block_stats_t tide_colfile_block_stats(const tide_colfile_t *f, uint64_t b) {
  tide_block_stats_t s = {0};
  if (b >= f->nblocks) return s;
  s.first_row = b * f->block_rows;
  s.rows = f->idx[b].rows;
  s.nulls = f->idx[b].nulls;
  s.min = f->idx[b].min;
  s.max = f->idx[b].max;
  return s;
}

/* A fixed-width column served from the mapping (uncompressed files). */
typedef struct mapped_source_t {
  tide_source_t base;
  const uint8_t *data;
  uint64_t n;
  tide_colfile_t *file;
} mapped_source_t;

static void mapped_fill(const tide_source_t *src, const tide_rowseq_t *seq, void *dst) {
  const mapped_source_t *m = (const mapped_source_t *)src;
  size_t w = tide_type_width(src->type);
  if (!seq->keys) {
    memcpy(dst, m->data + seq->first * w, (size_t)seq->n * w);
    return;
  }
  switch (w) {
#define MAPPED_GATHER(W, T)                                          \
  case W: {                                                          \
    const T *restrict b = (const T *)m->data;                        \
    T *restrict d = dst;                                             \
    for (uint32_t i = 0; i < seq->n; i++) d[i] = b[seq->keys[i]];    \
    break;                                                           \
  }
    MAPPED_GATHER(1, uint8_t)
    MAPPED_GATHER(2, uint16_t)
    MAPPED_GATHER(4, uint32_t)
    default: MAPPED_GATHER(8, uint64_t)
#undef MAPPED_GATHER
  }
}

static const void *mapped_direct(const tide_source_t *src, uint64_t first, uint32_t n) {
  (void)n;
  const mapped_source_t *m = (const mapped_source_t *)src;
  return m->data + first * tide_type_width(src->type);
}

static void mapped_destroy(tide_source_t *src) {
  tide_colfile_close(((mapped_source_t *)src)->file);
}

static const tide_source_vt mapped_vt = {"mapped", mapped_fill, mapped_direct, mapped_destroy,
                                         NULL};

/* Unpack block b into dst (raw bytes); false if it does not decode to
 * exactly its raw size. */
static bool block_unpack(const tide_colfile_t *f, uint64_t b, uint8_t *dst) {
  const idx_entry *e = &f->idx[b];
  const uint8_t *s = f->map + e->offset;
  if (e->stored == e->raw) {
    memcpy(dst, s, e->raw);
    return true;
  }
  if (f->codec == TIDE_CODEC_LZ4) {
    if (e->stored > INT_MAX || e->raw > INT_MAX) return false;
    int r = LZ4_decompress_safe((const char *)s, (char *)dst, (int)e->stored, (int)e->raw);
    return r >= 0 && (uint64_t)r == e->raw;
  }
  if (f->codec == TIDE_CODEC_ZSTD) {
    size_t r = ZSTD_decompress(dst, e->raw, s, e->stored);
    return !ZSTD_isError(r) && r == e->raw;
  }
  return false;
}

tide_source_t *tide_colfile_source(tide_colfile_t *f, tide_error *err) {
  const size_t wd = tide_type_width(f->type);
  /* 1. every block's checksum (in parallel); the first bad one wins */
  uint64_t bad = UINT64_MAX;
  int64_t nb = (int64_t)f->nblocks;
#pragma omp parallel for num_threads(tide__threads_for(f->rows)) schedule(dynamic, 1)
  for (int64_t b = 0; b < nb; b++) {
    const idx_entry *e = &f->idx[b];
    if (tide__checksum64(f->map + e->offset, e->stored) != e->checksum) {
#pragma omp critical(tide_colfile_bad)
      if ((uint64_t)b < bad) bad = (uint64_t)b;
    }
  }
  if (bad != UINT64_MAX) {
    tide_error_set(err, TIDE_ERR_CORRUPT,
                   "%s: block %llu (rows %llu..%llu): checksum mismatch (the file is damaged)",
                   f->path, (unsigned long long)bad, (unsigned long long)(bad * f->block_rows),
                   (unsigned long long)(bad * f->block_rows + f->idx[bad].rows - 1));
    return NULL;
  }
  /* 2. the dictionary of a symbol column */
  tide_symtab_t *st = NULL;
  uint64_t ncodes = 0;
  if (f->type == TIDE_SYMBOL) {
    st = tide__colfile_dict(f, err);
    if (!st) return NULL;
    ncodes = tide_symtab_size(st);
  }
  tide_source_t *src = NULL;
  if (f->codec == TIDE_CODEC_NONE && f->type != TIDE_STRING) {
    mapped_source_t *m = tide_malloc(sizeof *m);
    if (!m) goto oom;
    tide__source_init(&m->base, &mapped_vt, f->type);
    m->data = f->map + HDR_SIZE;
    m->n = f->rows;
    m->file = colfile_retain(f);
    src = &m->base;
  } else {
    src = tide_source_flat_create(f->type, f->rows, err);
    if (!src) {
      tide_symtab_release(st);
      return NULL;
    }
    uint8_t *data = tide_source_flat_data(src);
    if (f->type == TIDE_STRING) {
      /* serial: the string arena is not thread-safe */
      uint8_t *raw = NULL;
      size_t cap = 0;
      const char **out = (const char **)data;
      for (uint64_t b = 0; b < f->nblocks && bad == UINT64_MAX; b++) {
        const idx_entry *e = &f->idx[b];
        if (e->raw > cap) {
          uint8_t *r2 = tide_realloc(raw, e->raw);
          if (!r2) {
            tide_free(raw);
            tide_source_release(src);
            goto oom;
          }
          raw = r2;
          cap = e->raw;
        }
        if (!block_unpack(f, b, raw)) {
          bad = b;
          break;
        }
        const uint8_t *q = raw + (size_t)e->rows * 4, *end = raw + e->raw;
        uint64_t base = b * f->block_rows;
        for (uint32_t i = 0; i < e->rows; i++) {
          uint32_t l = get32(raw + (size_t)i * 4);
          if (l == UINT32_MAX) {
            out[base + i] = NULL;
            continue;
          }
          if (l > (size_t)(end - q)) {
            bad = b;
            break;
          }
          out[base + i] = tide_source_flat_store_string(src, (const char *)q, l);
          if (!out[base + i]) {
            tide_free(raw);
            tide_source_release(src);
            goto oom;
          }
          q += l;
        }
      }
      tide_free(raw);
    } else {
#pragma omp parallel for num_threads(tide__threads_for(f->rows)) schedule(dynamic, 1)
      for (int64_t b = 0; b < nb; b++) {
        if (!block_unpack(f, (uint64_t)b, data + (uint64_t)b * f->block_rows * wd)) {
#pragma omp critical(tide_colfile_bad)
          if ((uint64_t)b < bad) bad = (uint64_t)b;
        }
      }
    }
  }
  if (bad == UINT64_MAX && f->type == TIDE_SYMBOL) {
    /* codes must index the dictionary (a crafted file could pass checksums) */
    const int32_t *codes = (const int32_t *)(f->codec == TIDE_CODEC_NONE
                                                 ? f->map + HDR_SIZE
                                                 : (const uint8_t *)tide_source_flat_data(src));
    for (uint64_t i = 0; i < f->rows; i++)
      if (codes[i] < -1 || codes[i] >= (int64_t)ncodes) {
        bad = i / f->block_rows;
        break;
      }
    if (bad == UINT64_MAX) tide__source_set_symtab(src, st);
  }
  tide_symtab_release(st);
  if (bad != UINT64_MAX) {
    tide_source_release(src);
    tide_error_set(err, TIDE_ERR_CORRUPT, "%s: block %llu does not decode (the file is damaged)",
                   f->path, (unsigned long long)bad);
    return NULL;
  }
  return src;
oom:
  tide_symtab_release(st);
  tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory reading the column", f->path);
  return NULL;
}

/* ------------------------------------------- block-wise reads (io_int.h) */

const char *tide__colfile_path(const tide_colfile_t *f) { return f->path; }
size_t tide__colfile_size(const tide_colfile_t *f) { return f->size; }
uint32_t tide__colfile_block_rows(const tide_colfile_t *f) { return f->block_rows; }
const void *tide__colfile_mapped_values(const tide_colfile_t *f) {
  return f->codec == TIDE_CODEC_NONE && f->type != TIDE_STRING ? f->map + HDR_SIZE : NULL;
}

const void *tide__colfile_block(const tide_colfile_t *f, uint64_t b, void *dst, tide_error *err) {
  const idx_entry *e = &f->idx[b];
  if (tide__checksum64(f->map + e->offset, e->stored) != e->checksum) {
    tide_error_set(err, TIDE_ERR_CORRUPT,
                   "%s: block %llu (rows %llu..%llu): checksum mismatch (the file is damaged)",
                   f->path, (unsigned long long)b, (unsigned long long)(b * f->block_rows),
                   (unsigned long long)(b * f->block_rows + e->rows - 1));
    return NULL;
  }
  if (f->codec == TIDE_CODEC_NONE) return f->map + e->offset;
  if (!block_unpack(f, b, dst)) {
    tide_error_set(err, TIDE_ERR_CORRUPT, "%s: block %llu does not decode (the file is damaged)",
                   f->path, (unsigned long long)b);
    return NULL;
  }
  return dst;
}

tide_symtab_t *tide__colfile_dict(const tide_colfile_t *f, tide_error *err) {
  if (f->type != TIDE_SYMBOL) {
    tide_error_set(err, TIDE_ERR_TYPE, "%s: not a symbol column", f->path);
    return NULL;
  }
  const uint8_t *d = f->map + f->dict_off;
  uint64_t avail = f->index_off - f->dict_off;
  uint64_t ncodes = avail >= 24 ? get64(d) : 0;
  uint64_t bytes = avail >= 24 ? get64(d + 8) : 0;
  if (avail < 24 || bytes != avail - 24 || ncodes > bytes / 4 ||
      get64(d + 16) != tide__checksum64(d + 24, bytes)) {
    tide_error_set(err, TIDE_ERR_CORRUPT, "%s: symbol dictionary damaged", f->path);
    return NULL;
  }
  tide_symtab_t *st = tide_symtab_create();
  if (!st) {
    tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory reading the dictionary", f->path);
    return NULL;
  }
  const uint8_t *q = d + 24 + ncodes * 4, *end = d + 24 + bytes;
  for (uint64_t c = 0; c < ncodes; c++) {
    uint32_t l = get32(d + 24 + c * 4);
    int32_t code = l > (uint64_t)(end - q) ? -2 : tide_symtab_intern(st, (const char *)q, l);
    if (code != (int32_t)c) {
      tide_symtab_release(st);
      if (code == -1) /* intern's OOM: the file is fine */
        tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory reading the dictionary", f->path);
      else
        tide_error_set(err, TIDE_ERR_CORRUPT,
                       "%s: symbol dictionary damaged at entry %llu (duplicate or overrun)",
                       f->path, (unsigned long long)c);
      return NULL;
    }
    q += l;
  }
  return st;
}
