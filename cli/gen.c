/*
 * Data generator for the db-benchmark groupby dataset "G1" (see
 * groupby-datagen.R in h2oai/db-benchmark), written as CSV.
 *
 * Values are drawn row by row from a xoshiro256** generator seeded with
 * splitmix64(seed), so a seed gives the same file on every machine. Output
 * is formatted by hand into a large buffer (no printf per field).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/script.h"
#include "io/io_int.h"

typedef struct rng {
  uint64_t s[4];
} rng;

static uint64_t splitmix(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) r->s[i] = splitmix(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next(rng *r) {
  uint64_t *s = r->s;
  uint64_t res = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return res;
}

/* Uniform in [0, n) without bias (Lemire). */
static inline uint64_t rng_below(rng *r, uint64_t n) {
  __uint128_t m = (__uint128_t)rng_next(r) * n;
  uint64_t l = (uint64_t)m;
  if (l < n) {
    uint64_t t = -n % n;
    while (l < t) {
      m = (__uint128_t)rng_next(r) * n;
      l = (uint64_t)m;
    }
  }
  return (uint64_t)(m >> 64);
}

/* Bitmap with `count` distinct set bits among [0, n) (chosen by partial
 * Fisher-Yates for small n, by rejection otherwise). */
static uint64_t *pick_nulls(rng *r, uint64_t n, uint64_t count) {
  uint64_t *bm = tide_calloc(n / 64 + 1, sizeof *bm);
  if (!bm) return NULL;
  if (count > n) count = n;
  if (count * 2 <= n) {
    uint64_t got = 0;
    while (got < count) {
      uint64_t x = rng_below(r, n);
      if (!(bm[x >> 6] >> (x & 63) & 1)) {
        bm[x >> 6] |= 1ull << (x & 63);
        got++;
      }
    }
  } else {
    /* choose the complement */
    for (uint64_t x = 0; x < n; x++) bm[x >> 6] |= 1ull << (x & 63);
    uint64_t keep = n - count, got = 0;
    while (got < keep) {
      uint64_t x = rng_below(r, n);
      if (bm[x >> 6] >> (x & 63) & 1) {
        bm[x >> 6] &= ~(1ull << (x & 63));
        got++;
      }
    }
  }
  return bm;
}

static inline bool bit(const uint64_t *bm, uint64_t x) { return bm && (bm[x >> 6] >> (x & 63) & 1); }

/* Decimal digits of v, zero-padded to at least width; returns the end. */
static inline char *put_u64(char *p, uint64_t v, int width) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n < width) tmp[n++] = '0';
  while (n) *p++ = tmp[--n];
  return p;
}

tide_status tide_gen_groupby_stream(const tide_gen_groupby_opts *o, FILE *out, tide_error *err) {
  if (o->k == 0) return tide_error_set(err, TIDE_ERR_INVALID, "gen-groupby: --k must be at least 1");
  if (!(o->nas_pct >= 0 && o->nas_pct <= 100))
    return tide_error_set(err, TIDE_ERR_INVALID, "gen-groupby: --nas must be in [0, 100]");
  const uint64_t N = o->rows, K = o->k;
  const uint64_t NK = N / K ? N / K : 1;
  rng r;
  rng_seed(&r, o->seed);
  /* Null sets: id columns null a share of their distinct values, v columns
   * a share of their rows (groupby-datagen.R). Index 0 = value 1. */
  uint64_t *nulls[9] = {0};
  const uint64_t card[6] = {K, K, NK, K, K, NK};
  tide_status st = TIDE_OK;
  if (o->nas_pct > 0) {
    for (int c = 0; c < 6; c++) {
      uint64_t cnt = (uint64_t)((double)card[c] * (o->nas_pct / 100.0));
      if (cnt && !(nulls[c] = pick_nulls(&r, card[c], cnt))) goto oom;
    }
    uint64_t cnt = (uint64_t)((double)N * (o->nas_pct / 100.0));
    for (int c = 6; c < 9; c++)
      if (cnt && N && !(nulls[c] = pick_nulls(&r, N, cnt))) goto oom;
  }
  const size_t cap = 1u << 20;
  char *buf = tide_malloc(cap);
  if (!buf) goto oom;
  static const char header[] = "id1,id2,id3,id4,id5,id6,v1,v2,v3\n";
  memcpy(buf, header, sizeof header - 1);
  char *p = buf + sizeof header - 1;
  for (uint64_t i = 0; i < N; i++) {
    uint64_t id1 = rng_below(&r, K), id2 = rng_below(&r, K), id3 = rng_below(&r, NK);
    uint64_t id4 = rng_below(&r, K), id5 = rng_below(&r, K), id6 = rng_below(&r, NK);
    uint64_t v1 = rng_below(&r, 5) + 1, v2 = rng_below(&r, 15) + 1;
    uint64_t v3 = rng_below(&r, 100000000); /* micro-units of [0, 100) */
    if (!bit(nulls[0], id1)) { *p++ = 'i'; *p++ = 'd'; p = put_u64(p, id1 + 1, 3); }
    *p++ = ',';
    if (!bit(nulls[1], id2)) { *p++ = 'i'; *p++ = 'd'; p = put_u64(p, id2 + 1, 3); }
    *p++ = ',';
    if (!bit(nulls[2], id3)) { *p++ = 'i'; *p++ = 'd'; p = put_u64(p, id3 + 1, 10); }
    *p++ = ',';
    if (!bit(nulls[3], id4)) p = put_u64(p, id4 + 1, 1);
    *p++ = ',';
    if (!bit(nulls[4], id5)) p = put_u64(p, id5 + 1, 1);
    *p++ = ',';
    if (!bit(nulls[5], id6)) p = put_u64(p, id6 + 1, 1);
    *p++ = ',';
    if (!bit(nulls[6], i)) p = put_u64(p, v1, 1);
    *p++ = ',';
    if (!bit(nulls[7], i)) p = put_u64(p, v2, 1);
    *p++ = ',';
    if (!bit(nulls[8], i)) {
      p = put_u64(p, v3 / 1000000, 1);
      uint64_t frac = v3 % 1000000;
      *p++ = '.';
      if (frac == 0) {
        *p++ = '0';
      } else {
        int w = 6;
        while (frac % 10 == 0) {
          frac /= 10;
          w--;
        }
        p = put_u64(p, frac, w);
      }
    }
    *p++ = '\n';
    if ((size_t)(p - buf) > cap - 256) {
      if (fwrite(buf, 1, (size_t)(p - buf), out) != (size_t)(p - buf)) goto ioerr;
      p = buf;
    }
  }
  if (p > buf && fwrite(buf, 1, (size_t)(p - buf), out) != (size_t)(p - buf)) goto ioerr;
  if (fflush(out) != 0) goto ioerr;
  tide_free(buf);
  for (int c = 0; c < 9; c++) tide_free(nulls[c]);
  return TIDE_OK;
ioerr:
  st = tide_error_set(err, TIDE_ERR_IO, "gen-groupby: write failed: %s", strerror(errno));
  tide_free(buf);
  for (int c = 0; c < 9; c++) tide_free(nulls[c]);
  return st;
oom:
  for (int c = 0; c < 9; c++) tide_free(nulls[c]);
  return tide_error_set(err, TIDE_ERR_NOMEM, "gen-groupby: out of memory");
}

static tide_status gen_to(FILE *f, void *ctx, tide_error *err) {
  return tide_gen_groupby_stream(ctx, f, err);
}

tide_status tide_gen_groupby(const tide_gen_groupby_opts *o, const char *path, tide_error *err) {
  return tide__file_write_atomic(path, "gen-groupby", gen_to, (void *)o, err);
}

/* ------------------------------------------------------------- gen-join */

/* Join benchmark data: a left table of `left` rows "id,v1" (id uniform in
 * 1..key_range, v1 int 1..100) and a right table of `right` rows "id,v2"
 * (the keys 1..right each once, in random order; v2 uniform [0,100) with 2
 * decimals). With key_range == right every left row has exactly one match.
 * Deterministic for a seed. */
typedef struct gen_join_opts {
  uint64_t left, right, key_range, seed;
  uint64_t *perm; /* right keys in output order (0-based) */
} gen_join_opts;

static tide_status gen_join_left(FILE *out, void *ctx, tide_error *err) {
  const gen_join_opts *o = ctx;
  rng r;
  rng_seed(&r, o->seed);
  const size_t cap = 1u << 20;
  char *buf = tide_malloc(cap);
  if (!buf) return tide_error_set(err, TIDE_ERR_NOMEM, "gen-join: out of memory");
  static const char header[] = "id,v1\n";
  memcpy(buf, header, sizeof header - 1);
  char *p = buf + sizeof header - 1;
  for (uint64_t i = 0; i < o->left; i++) {
    p = put_u64(p, rng_below(&r, o->key_range) + 1, 1);
    *p++ = ',';
    p = put_u64(p, rng_below(&r, 100) + 1, 1);
    *p++ = '\n';
    if ((size_t)(p - buf) > cap - 64) {
      if (fwrite(buf, 1, (size_t)(p - buf), out) != (size_t)(p - buf)) goto ioerr;
      p = buf;
    }
  }
  if (p > buf && fwrite(buf, 1, (size_t)(p - buf), out) != (size_t)(p - buf)) goto ioerr;
  if (fflush(out) != 0) goto ioerr;
  tide_free(buf);
  return TIDE_OK;
ioerr:
  tide_free(buf);
  return tide_error_set(err, TIDE_ERR_IO, "gen-join: write failed: %s", strerror(errno));
}

static tide_status gen_join_right(FILE *out, void *ctx, tide_error *err) {
  const gen_join_opts *o = ctx;
  rng r;
  rng_seed(&r, o->seed ^ 0x5bd1e9955bd1e995ull);
  const size_t cap = 1u << 20;
  char *buf = tide_malloc(cap);
  if (!buf) return tide_error_set(err, TIDE_ERR_NOMEM, "gen-join: out of memory");
  static const char header[] = "id,v2\n";
  memcpy(buf, header, sizeof header - 1);
  char *p = buf + sizeof header - 1;
  for (uint64_t i = 0; i < o->right; i++) {
    uint64_t v2 = rng_below(&r, 10000); /* hundredths of [0, 100) */
    p = put_u64(p, o->perm[i] + 1, 1);
    *p++ = ',';
    p = put_u64(p, v2 / 100, 1);
    *p++ = '.';
    p = put_u64(p, v2 % 100, 2);
    *p++ = '\n';
    if ((size_t)(p - buf) > cap - 64) {
      if (fwrite(buf, 1, (size_t)(p - buf), out) != (size_t)(p - buf)) goto ioerr;
      p = buf;
    }
  }
  if (p > buf && fwrite(buf, 1, (size_t)(p - buf), out) != (size_t)(p - buf)) goto ioerr;
  if (fflush(out) != 0) goto ioerr;
  tide_free(buf);
  return TIDE_OK;
ioerr:
  tide_free(buf);
  return tide_error_set(err, TIDE_ERR_IO, "gen-join: write failed: %s", strerror(errno));
}

const char tide__gen_join_usage[] =
    "usage: tide gen-join --left N --right M [--key-range R] [--seed S]\n"
    "                     --out-left FILE --out-right FILE\n"
    "\n"
    "Write the join benchmark tables as CSV: the left table 'id,v1' of N rows (id uniform\n"
    "in 1..R, v1 int 1..100) and the right table 'id,v2' of M rows (the keys 1..M each\n"
    "once, in random order; v2 uniform in [0,100) with 2 decimals). By default R = M, so\n"
    "every left row matches exactly one right row.\n"
    "\n"
    "options:\n"
    "  --left N          rows of the left table (e.g. 1e7)\n"
    "  --right M         rows (unique keys) of the right table (e.g. 1e6)\n"
    "  --key-range R     left keys are drawn from 1..R (default M)\n"
    "  --seed S          random seed (default 108)\n"
    "  --out-left FILE   left CSV path\n"
    "  --out-right FILE  right CSV path\n";

/* --name VALUE or --name=VALUE (as in main.c). */
static const char *gj_opt(int argc, char **argv, int *i, const char *name, bool *missing) {
  size_t l = strlen(name);
  const char *a = argv[*i];
  if (strncmp(a, name, l) != 0) return NULL;
  if (a[l] == '=') return a + l + 1;
  if (a[l] != 0) return NULL;
  if (*i + 1 >= argc) {
    *missing = true;
    return NULL;
  }
  return argv[++*i];
}

/* 1000000, 1e7, 1_000_000 */
static bool gj_u64(const char *s, uint64_t *out) {
  char buf[64];
  size_t n = 0;
  for (const char *p = s; *p && n < sizeof buf - 1; p++)
    if (*p != '_') buf[n++] = *p;
  buf[n] = 0;
  if (!n || buf[0] == '-') return false;
  char *end;
  errno = 0;
  if (strpbrk(buf, "eE.")) {
    double d = strtod(buf, &end);
    if (*end || errno || d < 0 || d > 1.8e19 || d != (double)(uint64_t)d) return false;
    *out = (uint64_t)d;
    return true;
  }
  unsigned long long v = strtoull(buf, &end, 10);
  if (*end || errno) return false;
  *out = v;
  return true;
}

static int gj_usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "tide gen-join: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nRun 'tide gen-join --help' for usage.\n");
  return 2;
}

int tide__cli_gen_join(int argc, char **argv);
int tide__cli_gen_join(int argc, char **argv) {
  gen_join_opts o = {.seed = 108};
  bool have_left = false, have_right = false;
  const char *outl = NULL, *outr = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool missing = false;
    const char *v;
    uint64_t *dst = NULL;
    const char *what = NULL;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(tide__gen_join_usage, stdout);
      return 0;
    } else if ((v = gj_opt(argc, argv, &i, "--left", &missing)) || missing) {
      dst = &o.left, what = "--left wants a non-negative number, not '%s'", have_left = true;
    } else if ((v = gj_opt(argc, argv, &i, "--right", &missing)) || missing) {
      dst = &o.right, what = "--right wants a positive number, not '%s'", have_right = true;
    } else if ((v = gj_opt(argc, argv, &i, "--key-range", &missing)) || missing) {
      dst = &o.key_range, what = "--key-range wants a positive number, not '%s'";
    } else if ((v = gj_opt(argc, argv, &i, "--seed", &missing)) || missing) {
      dst = &o.seed, what = "--seed wants a non-negative integer, not '%s'";
    } else if ((v = gj_opt(argc, argv, &i, "--out-left", &missing)) || missing) {
      if (missing) return gj_usage_error("option '%s' needs a path", "--out-left");
      outl = v;
    } else if ((v = gj_opt(argc, argv, &i, "--out-right", &missing)) || missing) {
      if (missing) return gj_usage_error("option '%s' needs a path", "--out-right");
      outr = v;
    } else {
      return gj_usage_error("unknown argument '%s'", a);
    }
    if (dst && (missing || !gj_u64(v, dst))) return gj_usage_error(what, missing ? "" : v);
  }
  if (!have_left) return gj_usage_error("%s", "missing --left N");
  if (!have_right || o.right == 0) return gj_usage_error("%s", "missing --right M (at least 1)");
  if (!outl) return gj_usage_error("%s", "missing --out-left FILE");
  if (!outr) return gj_usage_error("%s", "missing --out-right FILE");
  if (o.key_range == 0) o.key_range = o.right;
  if (o.right > ((uint64_t)1 << 40)) return gj_usage_error("%s", "--right is too large");
  tide_error err;
  tide_error_clear(&err);
  o.perm = tide_malloc(o.right * sizeof *o.perm);
  if (!o.perm) {
    fprintf(stderr, "tide gen-join: out of memory\n");
    return 1;
  }
  rng r;
  rng_seed(&r, o.seed ^ 0x9e3779b97f4a7c15ull);
  for (uint64_t i = 0; i < o.right; i++) o.perm[i] = i;
  for (uint64_t i = o.right - 1; i > 0; i--) { /* Fisher-Yates */
    uint64_t j = rng_below(&r, i + 1), t = o.perm[i];
    o.perm[i] = o.perm[j];
    o.perm[j] = t;
  }
  tide_status st = tide__file_write_atomic(outl, "gen-join", gen_join_left, &o, &err);
  if (st == TIDE_OK) st = tide__file_write_atomic(outr, "gen-join", gen_join_right, &o, &err);
  tide_free(o.perm);
  if (st) {
    fprintf(stderr, "tide %s\n", err.msg);
    return 1;
  }
  return 0;
}
