/*
 * tide merge (io/merge.c, cli/merge.c): intraday partitions of all ten
 * types (nulls, empty strings) merged into the historical store, compared
 * with the rows generated independently (order kept, or a naive stable
 * sort); --delete-intraday; re-runs (already merged: nothing rewritten;
 * different rows: an error); the refusals (names, dates, no
 * WritablePartitions, missing or empty intraday data, an active writer, a
 * bad sort column, a Date column, damaged intraday data: nothing
 * written); the partition choice agrees with tide_historical_write; kill
 * -9 of a merging child at random points and at every crash point
 * (TIDE_MERGE_CRASH_AT), TIDE_CRASH_TRIALS (default 150), each followed by
 * the state check and a re-run; the tide merge command end to end.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "tide/historical.h"
#include "tide/intraday.h"
#include "tide/ops.h"

static char g_db[256];

#define NC 10
static const char *const NAMES[NC] = {"Id", "Flag", "Small", "Short", "Q",
                                      "Px", "F", "T", "Name", "Sym"};
static const tide_type_t TYPES[NC] = {TIDE_I64, TIDE_BOOL, TIDE_I8, TIDE_I16, TIDE_I32,
                                      TIDE_F64, TIDE_F32, TIDE_TS, TIDE_STRING, TIDE_SYMBOL};

/* ------------------------------------------------------------- data */

static uint64_t rmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* The values of row id (a pure function of id). */
static const char *row_sym(uint64_t id, char *buf) {
  uint64_t h = rmix(id * 3 + 1);
  if (h % 9 == 0) return NULL;
  snprintf(buf, 16, "S%02u", (unsigned)(h % 23));
  return buf;
}
static int32_t row_q(uint64_t id) {
  uint64_t h = rmix(id * 3 + 2);
  return h % 10 == 0 ? TIDE_NULL_I32 : (int32_t)(h % 50) - 25;
}

/* A table of the rows ids[0..n) (Id = id). */
static tide_table_t *make_ids(const uint64_t *ids, uint64_t n) {
  int64_t *id = malloc((n + 1) * 8), *ts = malloc((n + 1) * 8);
  int8_t *flag = malloc(n + 1), *small = malloc(n + 1);
  int16_t *sh = malloc((n + 1) * 2);
  int32_t *q = malloc((n + 1) * 4);
  double *px = malloc((n + 1) * 8);
  float *f = malloc((n + 1) * 4);
  const char **name = malloc((n + 1) * sizeof *name), **sym = malloc((n + 1) * sizeof *sym);
  char *store = malloc((n + 1) * 48);
  for (uint64_t k = 0; k < n; k++) {
    uint64_t i = ids[k], h = rmix(i);
    id[k] = (int64_t)i;
    flag[k] = h % 7 == 0 ? TIDE_NULL_BOOL : (int8_t)(h & 1);
    small[k] = h % 11 == 0 ? TIDE_NULL_I8 : (int8_t)(h >> 8);
    sh[k] = h % 13 == 0 ? TIDE_NULL_I16 : (int16_t)(h >> 16);
    q[k] = row_q(i);
    px[k] = h % 17 == 0 ? TIDE_NULL_F64 : h % 19 == 0 ? -0.0 : (double)(int64_t)(h >> 20) * 1e-3;
    f[k] = h % 5 == 0 ? TIDE_NULL_F32 : (float)(h % 1000) * 0.5f;
    ts[k] = h % 23 == 0 ? TIDE_NULL_TS : 1767258000000000000LL + (int64_t)i * 1000;
    char *s = store + k * 48;
    snprintf(s, 24, "name-%llu", (unsigned long long)(h % 100000));
    name[k] = h % 6 == 0 ? NULL : h % 10 == 1 ? "" : s;
    sym[k] = row_sym(i, s + 24);
  }
  const void *cols[NC] = {id, flag, small, sh, q, px, f, ts, name, sym};
  tide_table_t *t = tu_table(n, NC, NAMES, TYPES, cols);
  free(id), free(ts), free(flag), free(small), free(sh), free(q), free(px), free(f);
  free(name), free(sym), free(store);
  return t;
}

static tide_table_t *make_rows(uint64_t start, uint64_t n) {
  uint64_t *ids = malloc((n + 1) * 8);
  for (uint64_t k = 0; k < n; k++) ids[k] = start + k;
  tide_table_t *t = make_ids(ids, n);
  free(ids);
  return t;
}

/* The naive reference of --sort-by Sym,Q: a stable sort of the ids,
 * nulls first, symbols by string. */
static int cmp_sym_q(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
  char ba[16], bb[16];
  const char *sa = row_sym(a, ba), *sb = row_sym(b, bb);
  if (!sa != !sb) return sa ? 1 : -1;
  int c = sa ? strcmp(sa, sb) : 0;
  if (c) return c;
  int32_t qa = row_q(a), qb = row_q(b); /* null is INT32_MIN: first */
  if (qa != qb) return qa < qb ? -1 : 1;
  return a < b ? -1 : a > b; /* stable: ids ascend in commit order */
}

static tide_table_t *make_sorted(uint64_t start, uint64_t n) {
  uint64_t *ids = malloc((n + 1) * 8);
  for (uint64_t k = 0; k < n; k++) ids[k] = start + k;
  qsort(ids, n, 8, cmp_sym_q);
  tide_table_t *t = make_ids(ids, n);
  free(ids);
  return t;
}

static const char *const SORT_BY[] = {"Sym", "Q"};

/* ------------------------------------------------------------ files */

static void rm_rf(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) {
    unlink(dir);
    return;
  }
  struct dirent *de;
  char p[1024];
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
    struct stat sb;
    if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) rm_rf(p);
    else unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

static void mkdirs(const char *rel) {
  char p[700];
  snprintf(p, sizeof p, "%s/%s", g_db, rel);
  for (char *s = p + 1; *s; s++)
    if (*s == '/') {
      *s = '\0';
      mkdir(p, 0777);
      *s = '/';
    }
  mkdir(p, 0777);
}

/* Namespace ns with partitions 0..np-1 and WritablePartitions links. */
static void make_ns(const char *ns, int np) {
  char rel[300], tgt[64];
  for (int i = 0; i < np; i++) {
    snprintf(rel, sizeof rel, "Systems/%s/Partitions/%d", ns, i);
    mkdirs(rel);
    snprintf(rel, sizeof rel, "Systems/%s/WritablePartitions", ns);
    mkdirs(rel);
    char p[700];
    snprintf(p, sizeof p, "%s/Systems/%s/WritablePartitions/%d", g_db, ns, i);
    snprintf(tgt, sizeof tgt, "../Partitions/%d", i);
    if (symlink(tgt, p) != 0 && errno != EEXIST) abort();
  }
}

static bool exists(const char *p) {
  struct stat sb;
  return lstat(p, &sb) == 0;
}

static void copy_file(const char *from, const char *to) {
  FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
  if (!a || !b) abort();
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, a)) > 0)
    if (fwrite(buf, 1, n, b) != n) abort();
  fclose(a);
  fclose(b);
}

static void copy_dir(const char *from, const char *to) {
  mkdir(to, 0777);
  DIR *d = opendir(from);
  if (!d) abort();
  struct dirent *de;
  char a[1024], b[1024];
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    snprintf(a, sizeof a, "%s/%s", from, de->d_name);
    snprintf(b, sizeof b, "%s/%s", to, de->d_name);
    copy_file(a, b);
  }
  closedir(d);
}

/* Names starting with '.' in dir (leftovers of a merge). */
static int hidden_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)))
    if (de->d_name[0] == '.' && strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
  closedir(d);
  return n;
}

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)))
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
  closedir(d);
  return n;
}

/* Commit rows [start, start+n) in `batches` commits. */
static void ingest(const char *ns, const char *table, const char *date, uint64_t start,
                   uint64_t n, int batches) {
  tide_error err;
  tide_appender_t *a = tide_appender_open(g_db, ns, table, date, NC, NAMES, TYPES, &err);
  CHECK_OK_PTR(a, err);
  if (!a) return;
  uint64_t done = 0;
  for (int b = 0; b < batches; b++) {
    uint64_t k = b == batches - 1 ? n - done : n / batches;
    tide_table_t *t = make_rows(start + done, k);
    CHECK_OK(tide_appender_append(a, t, &err), err);
    CHECK_OK(tide_appender_commit(a, &err), err);
    tide_table_free(t);
    done += k;
  }
  tide_appender_close(a);
}

/* The stored historical table of (ns, table, date) (NULL if none; more
 * than one is a failure). */
static tide_table_t *read_hist(const char *ns, const char *table, const char *date,
                               char *path_out) {
  tide_historical_query_t q = {0};
  q.from = q.to = date;
  tide_historical_part_t *parts = NULL;
  size_t np = 0;
  tide_error err;
  tide_status st = tide_historical_list(g_db, ns, table, &q, &parts, &np, &err);
  CHECK_MSG(st == TIDE_OK || st == TIDE_ERR_NOT_FOUND, "%s", err.msg);
  CHECK_MSG(np <= 1, "%zu partitions hold %s.%s of %s", np, ns, table, date);
  tide_table_t *t = NULL;
  if (np >= 1) {
    t = tide_table_read_dir(parts[0].path, &err);
    CHECK_OK_PTR(t, err);
    if (path_out) strcpy(path_out, parts[0].path);
  }
  tide_historical_parts_free(parts, np);
  return t;
}

/* Exact equality of two tables (names, types, rows, values bit for bit;
 * strings and symbols by content), a chunk at a time: tu_table_equal reads
 * cell by cell, too slow for the crash loop. */
static bool equal_to(const tide_table_t *t, const tide_table_t *want, char *msg, size_t cap) {
  if (!t) return false;
  size_t nc = tide_table_ncols(want);
  uint64_t n = tide_table_size(want);
  if (tide_table_ncols(t) != nc || tide_table_size(t) != n) {
    snprintf(msg, cap, "%zu columns x %llu rows, want %zu x %llu", tide_table_ncols(t),
             (unsigned long long)tide_table_size(t), nc, (unsigned long long)n);
    return false;
  }
  static uint64_t ka[TIDE_CHUNK_SIZE], kb[TIDE_CHUNK_SIZE], ba[TIDE_CHUNK_SIZE],
      bb[TIDE_CHUNK_SIZE];
  for (size_t c = 0; c < nc; c++) {
    tide_type_t ty = tide_table_col_type(want, c);
    const char *name = tide_table_col_name(want, c);
    if (strcmp(tide_table_col_name(t, c), name) || tide_table_col_type(t, c) != ty) {
      snprintf(msg, cap, "column %zu is %s %s, want %s %s", c, tide_table_col_name(t, c),
               tide_type_name(tide_table_col_type(t, c)), name, tide_type_name(ty));
      return false;
    }
    const tide_source_t *sa = tide_table_col_source(t, c), *sb = tide_table_col_source(want, c);
    const char *const *da = ty == TIDE_SYMBOL ? tide__symtab_strs(tide_source_symtab(sa)) : NULL;
    const char *const *db = ty == TIDE_SYMBOL ? tide__symtab_strs(tide_source_symtab(sb)) : NULL;
    size_t w = tide_type_width(ty);
    tide_rowset_iter_t ia, ib;
    tide_rowset_iter_init(&ia, tide_table_rowset(t));
    tide_rowset_iter_init(&ib, tide_table_rowset(want));
    tide_rowseq_t qa, qb;
    while (tide_rowset_iter_next_chunk(&ia, TIDE_CHUNK_SIZE, &qa, ka) &&
           tide_rowset_iter_next_chunk(&ib, TIDE_CHUNK_SIZE, &qb, kb)) {
      const void *va = tide__source_get(sa, &qa, ba), *vb = tide__source_get(sb, &qb, bb);
      for (uint32_t i = 0; i < qa.n; i++) {
        bool same;
        if (ty == TIDE_STRING) {
          const char *x = ((const char *const *)va)[i], *y = ((const char *const *)vb)[i];
          same = (!x && !y) || (x && y && !strcmp(x, y));
        } else if (ty == TIDE_SYMBOL) {
          int32_t x = ((const int32_t *)va)[i], y = ((const int32_t *)vb)[i];
          same = (x < 0 && y < 0) || (x >= 0 && y >= 0 && !strcmp(da[x], db[y]));
        } else {
          same = !memcmp((const char *)va + i * w, (const char *)vb + i * w, w);
        }
        if (!same) {
          snprintf(msg, cap, "column %s row %llu: %s", name,
                   (unsigned long long)(qa.pos + i), "values differ");
          return false;
        }
      }
    }
  }
  return true;
}

#define CHECK_EQ_TABLE(t, want)                          \
  do {                                                   \
    char m_[1024] = "no table";                          \
    bool ok_ = equal_to((t), (want), m_, sizeof m_);     \
    CHECK_MSG(ok_, "%s", m_);                            \
  } while (0)

static tide_merge_opts_t opts(bool sorted, bool del, tide_codec_t codec) {
  tide_merge_opts_t o;
  tide_merge_opts_init(&o);
  if (sorted) {
    o.sort_by = SORT_BY;
    o.nsort = 2;
  }
  o.delete_intraday = del;
  o.codec = codec;
  return o;
}

/* ------------------------------------------------------ correctness */

static void test_basic(void) {
  make_ns("m", 3);
  const uint64_t N = 70000; /* two column-file blocks */
  ingest("m", "T", "2026-03-02", 0, N, 4);
  tide_table_t *want = make_rows(0, N), *want_s = make_sorted(0, N);
  tide_error err;
  tide_merge_result_t r;
  tide_merge_opts_t o = opts(false, false, TIDE_CODEC_LZ4);
  CHECK_OK(tide_merge_intraday(g_db, "m", "T", "2026-03-02", &o, &r, &err), err);
  CHECK(r.rows == N && !r.already_merged && !r.intraday_deleted);
  char path[700] = "";
  tide_table_t *h = read_hist("m", "T", "2026-03-02", path);
  CHECK_EQ_TABLE(h, want);
  if (h) CHECK_TABLES(h, want, 0); /* and cell by cell */
  CHECK_MSG(!strcmp(path, r.path) || strstr(r.path, "WritablePartitions"), "%s vs %s", path,
            r.path);
  tide_table_free(h);
  /* historical_table sees it with its Date column */
  tide_table_t *all = tide_historical_table(g_db, "m", "T", &err);
  CHECK_OK_PTR(all, err);
  CHECK(all && tide_table_size(all) == N && !strcmp(tu_cell(all, "Date", N - 1), "2026-03-02"));
  tide_table_free(all);
  /* the intraday data is still there */
  tide_table_t *in = tide_intraday_read(g_db, "m", "T", "2026-03-02", &err);
  CHECK_EQ_TABLE(in, want);
  tide_table_free(in);
  /* a re-run: already merged, nothing rewritten (same inode, same files) */
  struct stat s1, s2;
  CHECK(stat(r.path, &s1) == 0);
  char tdef[4200];
  snprintf(tdef, sizeof tdef, "%s/table.tdef", r.path);
  struct stat f1, f2;
  CHECK(stat(tdef, &f1) == 0);
  tide_merge_result_t r2;
  CHECK_OK(tide_merge_intraday(g_db, "m", "T", "2026-03-02", &o, &r2, &err), err);
  CHECK(r2.already_merged && r2.rows == N && !r2.intraday_deleted &&
        !strcmp(r2.partition, r.partition));
  CHECK(stat(r.path, &s2) == 0 && s1.st_ino == s2.st_ino);
  CHECK(stat(tdef, &f2) == 0 && f1.st_ino == f2.st_ino);
  /* a re-run with --sort-by: the same rows in another order is the same data */
  tide_merge_opts_t os = opts(true, false, TIDE_CODEC_LZ4);
  CHECK_OK(tide_merge_intraday(g_db, "m", "T", "2026-03-02", &os, &r2, &err), err);
  CHECK(r2.already_merged);
  /* now delete the intraday data through a re-run */
  tide_merge_opts_t od = opts(false, true, TIDE_CODEC_LZ4);
  CHECK_OK(tide_merge_intraday(g_db, "m", "T", "2026-03-02", &od, &r2, &err), err);
  CHECK(r2.already_merged && r2.intraday_deleted);
  in = tide_intraday_read(g_db, "m", "T", "2026-03-02", &err);
  CHECK(!in && err.status == TIDE_ERR_NOT_FOUND);
  tide_table_free(in);
  char itab[700];
  snprintf(itab, sizeof itab, "%s/Intraday/m/T", g_db);
  CHECK(count_entries(itab) == 0);
  /* and once more: merged, the intraday data gone */
  CHECK_OK(tide_merge_intraday(g_db, "m", "T", "2026-03-02", &od, &r2, &err), err);
  CHECK(r2.already_merged && r2.intraday_missing && r2.rows == N);
  h = read_hist("m", "T", "2026-03-02", NULL);
  CHECK_EQ_TABLE(h, want);
  tide_table_free(h);

  /* sorted merges, with each codec, and --delete-intraday */
  const tide_codec_t codecs[3] = {TIDE_CODEC_NONE, TIDE_CODEC_LZ4, TIDE_CODEC_ZSTD};
  for (int c = 0; c < 3; c++) {
    char date[16];
    snprintf(date, sizeof date, "2026-03-%02d", 10 + c);
    ingest("m", "T", date, 0, N, 1 + c);
    tide_merge_opts_t o2 = opts(true, true, codecs[c]);
    CHECK_OK(tide_merge_intraday(g_db, "m", "T", date, &o2, &r, &err), err);
    CHECK(r.rows == N && r.intraday_deleted && !r.already_merged);
    h = read_hist("m", "T", date, NULL);
    CHECK_EQ_TABLE(h, want_s);
    tide_table_free(h);
    char dd[700];
    snprintf(dd, sizeof dd, "%s/Intraday/m/T/%s", g_db, date);
    CHECK(!exists(dd));
    /* the codec is the one asked for */
    char colp[4200];
    snprintf(colp, sizeof colp, "%s/Px.col", r.path);
    tide_colfile_t *cf = tide_colfile_open(colp, &err);
    CHECK_OK_PTR(cf, err);
    CHECK(cf && tide_colfile_codec(cf) == codecs[c]);
    tide_colfile_close(cf);
  }
  CHECK(hidden_entries(itab) == 0);
  /* small partitions: 1 row, unsorted, zstd */
  ingest("m", "One", "2026-03-02", 77, 1, 1);
  tide_merge_opts_t o3 = opts(false, false, TIDE_CODEC_ZSTD);
  CHECK_OK(tide_merge_intraday(g_db, "m", "One", "2026-03-02", &o3, &r, &err), err);
  tide_table_t *w1 = make_rows(77, 1);
  h = read_hist("m", "One", "2026-03-02", NULL);
  CHECK_EQ_TABLE(h, w1);
  tide_table_free(h);
  tide_table_free(w1);
  tide_table_free(want);
  tide_table_free(want_s);
  printf("basic: %llu-row merges: unsorted, re-runs, sorted x 3 codecs, delete\n",
         (unsigned long long)N);
}

/* The partition a merge picks is the one tide_historical_write picks. */
static void test_partition_choice(void) {
  make_ns("pc", 3);
  tide_error err;
  tide_table_t *small = make_rows(0, 10);
  int agree = 0;
  for (int d = 1; d <= 9; d++) {
    char date[16];
    snprintf(date, sizeof date, "2026-04-%02d", d);
    CHECK_OK(tide_historical_write(g_db, "pc", "W", date, small, TIDE_CODEC_NONE, &err), err);
    ingest("pc", "M", date, 0, 10, 1);
    tide_merge_result_t r;
    CHECK_OK(tide_merge_intraday(g_db, "pc", "M", date, NULL, &r, &err), err);
    tide_historical_query_t q = {0};
    q.from = q.to = date;
    tide_historical_part_t *parts = NULL;
    size_t np = 0;
    CHECK_OK(tide_historical_list(g_db, "pc", "W", &q, &parts, &np, &err), err);
    CHECK(np == 1);
    if (np == 1) {
      CHECK_MSG(!strcmp(parts[0].partition, r.partition), "%s: merge chose %s, write chose %s",
                date, r.partition, parts[0].partition);
      agree += !strcmp(parts[0].partition, r.partition);
    }
    tide_historical_parts_free(parts, np);
  }
  tide_table_free(small);
  printf("partition choice: %d of 9 dates agree with historical_write\n", agree);
}

/* Merges of several dates of one table at once (forked): all succeed. */
static void test_concurrent(void) {
  make_ns("cc", 2);
  enum { K = 4 };
  char dates[K][16];
  for (int i = 0; i < K; i++) {
    snprintf(dates[i], sizeof dates[i], "2026-08-%02d", 10 + i);
    ingest("cc", "T", dates[i], (uint64_t)i * 1000, 2000, 2);
  }
  fflush(NULL);
  pid_t pids[2 * K];
  for (int i = 0; i < 2 * K; i++) { /* each date twice */
    if ((pids[i] = fork()) == 0) {
      tide_merge_opts_t o = opts(false, i >= K, TIDE_CODEC_LZ4);
      tide_error e;
      tide_merge_result_t r;
      _exit(tide_merge_intraday(g_db, "cc", "T", dates[i % K], &o, &r, &e) == TIDE_OK ? 0 : 1);
    }
  }
  int ok = 0;
  for (int i = 0; i < 2 * K; i++) {
    int ws = 0;
    waitpid(pids[i], &ws, 0);
    ok += WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
  }
  CHECK_MSG(ok == 2 * K, "%d of %d concurrent merges succeeded", ok, 2 * K);
  for (int i = 0; i < K; i++) {
    tide_table_t *h = read_hist("cc", "T", dates[i], NULL);
    tide_table_t *w = make_rows((uint64_t)i * 1000, 2000);
    CHECK_EQ_TABLE(h, w);
    tide_table_free(h);
    tide_table_free(w);
    tide_error err;
    tide_table_t *in = tide_intraday_read(g_db, "cc", "T", dates[i], &err);
    CHECK(!in && err.status == TIDE_ERR_NOT_FOUND); /* the second merge deleted it */
    tide_table_free(in);
  }
  printf("concurrent: %d merges of %d dates of one table at once, all succeeded\n", ok, K);
}

/* ------------------------------------------------------------ refusals */

static void test_refusals(void) {
  tide_error err;
  tide_merge_result_t r;
  make_ns("m", 3);
  int refused = 0;
  /* names and dates: refused before anything is touched */
  int before = count_entries(g_db);
  const char *bad_names[] = {"", ".", "..", "../x", "a/b", ".hidden", "a\\b", "ta\tb"};
  for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
    CHECK(tide_merge_intraday(g_db, bad_names[i], "T", "2026-03-02", NULL, &r, &err) ==
          TIDE_ERR_INVALID);
    CHECK(tide_merge_intraday(g_db, "m", bad_names[i], "2026-03-02", NULL, &r, &err) ==
          TIDE_ERR_INVALID);
    refused += 2;
  }
  CHECK(tide_merge_intraday(g_db, NULL, "T", "2026-03-02", NULL, &r, &err) == TIDE_ERR_INVALID);
  const char *bad_dates[] = {"", "2026-3-02", "2026-02-30", "2026-13-01", "x026-01-01",
                             "2026-01-01x", "../../etc"};
  for (size_t i = 0; i < sizeof bad_dates / sizeof *bad_dates; i++) {
    CHECK_MSG(tide_merge_intraday(g_db, "m", "T", bad_dates[i], NULL, &r, &err) ==
                  TIDE_ERR_INVALID,
              "date '%s'", bad_dates[i]);
    refused++;
  }
  CHECK(tide_merge_intraday(g_db, "m", "T", NULL, NULL, &r, &err) == TIDE_ERR_INVALID);
  CHECK(count_entries(g_db) == before);

  /* no WritablePartitions: refused, the intraday data untouched */
  ingest("nowp", "T", "2026-03-02", 0, 100, 1);
  mkdirs("Systems/nowp/Partitions/0");
  tide_merge_opts_t od = opts(false, true, TIDE_CODEC_LZ4);
  CHECK(tide_merge_intraday(g_db, "nowp", "T", "2026-03-02", &od, &r, &err) ==
        TIDE_ERR_NOT_FOUND);
  CHECK_MSG(strstr(err.msg, "WritablePartitions"), "%s", err.msg);
  mkdirs("Systems/nowp/WritablePartitions"); /* empty */
  CHECK(tide_merge_intraday(g_db, "nowp", "T", "2026-03-02", &od, &r, &err) ==
        TIDE_ERR_NOT_FOUND);
  CHECK_MSG(strstr(err.msg, "no writable partition"), "%s", err.msg);
  tide_table_t *in = tide_intraday_read(g_db, "nowp", "T", "2026-03-02", &err);
  CHECK(in && tide_table_size(in) == 100);
  tide_table_free(in);
  refused += 2;

  /* missing intraday data */
  CHECK(tide_merge_intraday(g_db, "m", "Nope", "2026-03-02", NULL, &r, &err) ==
        TIDE_ERR_NOT_FOUND);
  CHECK_MSG(strstr(err.msg, "no intraday"), "%s", err.msg);
  ingest("m", "Other", "2026-03-02", 0, 5, 1); /* the table exists, not that date */
  CHECK(tide_merge_intraday(g_db, "m", "Other", "2026-03-03", NULL, &r, &err) ==
        TIDE_ERR_NOT_FOUND);
  /* empty: a partition with a schema and no commit */
  tide_appender_t *a =
      tide_appender_open(g_db, "m", "Empty", "2026-03-02", NC, NAMES, TYPES, &err);
  CHECK_OK_PTR(a, err);
  tide_appender_close(a);
  CHECK(tide_merge_intraday(g_db, "m", "Empty", "2026-03-02", NULL, &r, &err) ==
        TIDE_ERR_INVALID);
  CHECK_MSG(strstr(err.msg, "no committed rows"), "%s", err.msg);
  refused += 3;

  /* an active writer: refused (in this process and from another one) */
  ingest("m", "Busy", "2026-03-02", 0, 50, 1);
  a = tide_appender_open(g_db, "m", "Busy", "2026-03-02", 0, NULL, NULL, &err);
  CHECK_OK_PTR(a, err);
  CHECK(tide_merge_intraday(g_db, "m", "Busy", "2026-03-02", &od, &r, &err) == TIDE_ERR_STATE);
  CHECK_MSG(strstr(err.msg, "being written"), "%s", err.msg);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    tide_error e2;
    tide_merge_result_t r3;
    _exit(tide_merge_intraday(g_db, "m", "Busy", "2026-03-02", NULL, &r3, &e2) == TIDE_ERR_STATE
              ? 0
              : 1);
  }
  int ws = 0;
  waitpid(pid, &ws, 0);
  CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
  tide_appender_close(a);
  CHECK(read_hist("m", "Busy", "2026-03-02", NULL) == NULL);
  CHECK_OK(tide_merge_intraday(g_db, "m", "Busy", "2026-03-02", NULL, &r, &err), err);
  CHECK(r.rows == 50);
  /* and after the merge (without delete) an appender may continue */
  a = tide_appender_open(g_db, "m", "Busy", "2026-03-02", 0, NULL, NULL, &err);
  CHECK_OK_PTR(a, err);
  /* ... and rows added after a merge make the re-run differ: an error */
  tide_table_t *more = make_rows(50, 3);
  CHECK_OK(tide_appender_append(a, more, &err), err);
  CHECK_OK(tide_appender_commit(a, &err), err);
  tide_table_free(more);
  tide_appender_close(a);
  CHECK(tide_merge_intraday(g_db, "m", "Busy", "2026-03-02", &od, &r, &err) == TIDE_ERR_STATE);
  CHECK_MSG(strstr(err.msg, "different data") && strstr(err.msg, "has 53"), "%s", err.msg);
  in = tide_intraday_read(g_db, "m", "Busy", "2026-03-02", &err);
  CHECK(in && tide_table_size(in) == 53); /* not deleted */
  tide_table_free(in);
  tide_table_t *h = read_hist("m", "Busy", "2026-03-02", NULL);
  CHECK(h && tide_table_size(h) == 50); /* not rewritten */
  tide_table_free(h);
  refused += 3;

  /* a bad sort column: nothing written, no leftover */
  ingest("m", "S", "2026-03-02", 0, 100, 1);
  const char *bad_sort[] = {"Nope"};
  tide_merge_opts_t ob = opts(false, true, TIDE_CODEC_LZ4);
  ob.sort_by = bad_sort;
  ob.nsort = 1;
  CHECK(tide_merge_intraday(g_db, "m", "S", "2026-03-02", &ob, &r, &err) != TIDE_OK);
  CHECK_MSG(strstr(err.msg, "Nope"), "%s", err.msg);
  CHECK(read_hist("m", "S", "2026-03-02", NULL) == NULL);
  in = tide_intraday_read(g_db, "m", "S", "2026-03-02", &err);
  CHECK(in && tide_table_size(in) == 100);
  tide_table_free(in);
  refused++;

  /* a column named Date */
  {
    const char *nm[] = {"Date", "X"};
    const tide_type_t ty[] = {TIDE_STRING, TIDE_I64};
    a = tide_appender_open(g_db, "m", "D", "2026-03-02", 2, nm, ty, &err);
    CHECK_OK_PTR(a, err);
    const char *dv[] = {"x"};
    int64_t xv[] = {1};
    const void *cols[] = {dv, xv};
    tide_table_t *t = tu_table(1, 2, nm, ty, cols);
    CHECK_OK(tide_appender_append(a, t, &err), err);
    CHECK_OK(tide_appender_commit(a, &err), err);
    tide_table_free(t);
    tide_appender_close(a);
    CHECK(tide_merge_intraday(g_db, "m", "D", "2026-03-02", NULL, &r, &err) == TIDE_ERR_INVALID);
    CHECK_MSG(strstr(err.msg, "'Date'"), "%s", err.msg);
    refused++;
  }

  /* damaged intraday data: TIDE_ERR_CORRUPT, nothing written, no leftover */
  ingest("m", "Bad", "2026-03-02", 0, 3000, 3);
  char p[700];
  snprintf(p, sizeof p, "%s/Intraday/m/Bad/2026-03-02/Px.dat", g_db);
  {
    FILE *f = fopen(p, "r+b");
    CHECK(f != NULL);
    if (f) {
      fseek(f, 1500 * 8 + 3, SEEK_SET);
      int ch = fgetc(f);
      fseek(f, 1500 * 8 + 3, SEEK_SET);
      fputc(ch ^ 0x10, f);
      fclose(f);
    }
  }
  CHECK(tide_merge_intraday(g_db, "m", "Bad", "2026-03-02", &od, &r, &err) == TIDE_ERR_CORRUPT);
  CHECK_MSG(strstr(err.msg, "Px.dat") && strstr(err.msg, "nothing was merged"), "%s", err.msg);
  CHECK(read_hist("m", "Bad", "2026-03-02", NULL) == NULL);
  CHECK(exists(p)); /* not deleted */
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s/Systems/m/Partitions/%d/2026-03-02", g_db, i);
    CHECK(hidden_entries(p) == 0);
  }
  /* a truncated column file too */
  ingest("m", "Cut", "2026-03-02", 0, 3000, 3);
  snprintf(p, sizeof p, "%s/Intraday/m/Cut/2026-03-02/Name.heap", g_db);
  CHECK(truncate(p, 100) == 0);
  CHECK(tide_merge_intraday(g_db, "m", "Cut", "2026-03-02", &od, &r, &err) == TIDE_ERR_CORRUPT);
  CHECK_MSG(strstr(err.msg, "Name.heap"), "%s", err.msg);
  CHECK(read_hist("m", "Cut", "2026-03-02", NULL) == NULL);
  refused += 2;

  /* the written partition is damaged before validation (the disk lied):
   * refused, removed, the intraday data kept; then a clean merge works */
  ingest("m", "Lie", "2026-03-02", 0, 2000, 2);
  setenv("TIDE_MERGE_DAMAGE", "Px", 1);
  CHECK(tide_merge_intraday(g_db, "m", "Lie", "2026-03-02", &od, &r, &err) == TIDE_ERR_CORRUPT);
  unsetenv("TIDE_MERGE_DAMAGE");
  CHECK_MSG(strstr(err.msg, "does not match") && strstr(err.msg, "Px.col"), "%s", err.msg);
  CHECK(read_hist("m", "Lie", "2026-03-02", NULL) == NULL);
  snprintf(p, sizeof p, "%s/Systems/m/Partitions/%s/2026-03-02", g_db, r.partition);
  CHECK(hidden_entries(p) == 0);
  in = tide_intraday_read(g_db, "m", "Lie", "2026-03-02", &err);
  CHECK(in && tide_table_size(in) == 2000);
  tide_table_free(in);
  CHECK_OK(tide_merge_intraday(g_db, "m", "Lie", "2026-03-02", &od, &r, &err), err);
  CHECK(r.rows == 2000 && r.intraday_deleted);
  refused++;

  /* a damaged earlier merge: the re-run reports it */
  ingest("m", "Dmg", "2026-03-02", 0, 1000, 1);
  CHECK_OK(tide_merge_intraday(g_db, "m", "Dmg", "2026-03-02", NULL, &r, &err), err);
  snprintf(p, sizeof p, "%s/Id.col", r.path);
  {
    FILE *f = fopen(p, "r+b");
    if (f) {
      fseek(f, 200, SEEK_SET);
      int ch = fgetc(f);
      fseek(f, 200, SEEK_SET);
      fputc(ch ^ 1, f);
      fclose(f);
    }
  }
  CHECK(tide_merge_intraday(g_db, "m", "Dmg", "2026-03-02", &od, &r, &err) == TIDE_ERR_STATE);
  CHECK_MSG(strstr(err.msg, "cannot be read") && strstr(err.msg, "Id.col"), "%s", err.msg);
  in = tide_intraday_read(g_db, "m", "Dmg", "2026-03-02", &err);
  CHECK(in && tide_table_size(in) == 1000);
  tide_table_free(in);
  refused++;
  printf("refusals: %d refused merges, intraday data kept in each\n", refused);
}

/* --------------------------------------------------------------- crash */

#define CRASH_ROWS 6000
#define CRASH_DATE "2026-05-04"
#define NSTEPS 7

/* Run one merge in a child; TIDE_MERGE_CRASH_AT=step when step > 0, kill
 * -9 after delay_ns when delay_ns >= 0. Returns the wait status. */
static int child_merge(bool sorted, bool del, int step, long delay_ns) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    if (step > 0) {
      char s[16];
      snprintf(s, sizeof s, "%d", step);
      setenv("TIDE_MERGE_CRASH_AT", s, 1);
    }
    tide_merge_opts_t o = opts(sorted, del, TIDE_CODEC_LZ4);
    tide_error e;
    tide_merge_result_t r;
    _exit(tide_merge_intraday(g_db, "crash", "T", CRASH_DATE, &o, &r, &e) == TIDE_OK ? 0 : 3);
  }
  if (delay_ns >= 0) {
    struct timespec ts = {delay_ns / 1000000000L, delay_ns % 1000000000L};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
  }
  int ws = 0;
  waitpid(pid, &ws, 0);
  return ws;
}

static void crash_trials(int trials);

/* On /dev/shm (fsync is free there, so many trials fit); with
 * TIDE_MERGE_DISK_TRIALS=N, N more on the disk (/tmp), where the fsyncs
 * are real and kills land inside them. */
static void test_crash(void) {
  const char *env = getenv("TIDE_CRASH_TRIALS");
  crash_trials(env ? atoi(env) : 150);
  const char *disk = getenv("TIDE_MERGE_DISK_TRIALS");
  if (disk && atoi(disk) > 0) {
    char saved[256];
    strcpy(saved, g_db);
    snprintf(g_db, sizeof g_db, "/tmp/tide-merge-disk-%ld", (long)getpid());
    rm_rf(g_db);
    mkdir(g_db, 0777);
    crash_trials(atoi(disk));
    rm_rf(g_db);
    strcpy(g_db, saved);
  }
}

static void crash_trials(int trials) {
  make_ns("crash", 2);
  char tmpl[700], idir[700], itab[700], dd[2][700];
  snprintf(tmpl, sizeof tmpl, "%s/crash-template", g_db);
  snprintf(itab, sizeof itab, "%s/Intraday/crash/T", g_db);
  snprintf(idir, sizeof idir, "%s/%s", itab, CRASH_DATE);
  for (int i = 0; i < 2; i++)
    snprintf(dd[i], sizeof dd[i], "%s/Systems/crash/Partitions/%d/%s", g_db, i, CRASH_DATE);
  ingest("crash", "T", CRASH_DATE, 1000, CRASH_ROWS, 3);
  copy_dir(idir, tmpl);
  tide_table_t *want = make_rows(1000, CRASH_ROWS), *want_s = make_sorted(1000, CRASH_ROWS);
  /* how long a merge takes (for the random kill delays) */
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int ws = child_merge(false, true, 0, -1);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
  long dur = (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec);
  tu_rng rng = {tu_seed(77)};
  int none_visible = 0, visible_kept = 0, visible_deleted = 0, mid_delete = 0, completed = 0;
  int hooked = 0, killed = 0, hidden_part = 0;
  tide_error err;
  for (int trial = 0; trial < trials; trial++) {
    /* reset: no historical table, the intraday partition as committed */
    for (int i = 0; i < 2; i++) rm_rf(dd[i]);
    rm_rf(itab);
    mkdirs("Intraday/crash/T");
    copy_dir(tmpl, idir);
    bool del = trial & 1, sorted = (trial >> 1) & 1;
    int step = 0;
    long delay = -1;
    if (trial % 3 != 2) {
      step = 1 + (int)tu_below(&rng, NSTEPS);
      hooked++;
    } else {
      delay = (long)tu_below(&rng, (uint64_t)(dur + dur / 4 + 1));
      killed++;
    }
    ws = child_merge(sorted, del, step, delay);
    bool finished = WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
    CHECK_MSG(finished || WIFSIGNALED(ws) || (WIFEXITED(ws) && WEXITSTATUS(ws) == 137),
              "trial %d: the child exited with %d", trial, WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
    completed += finished;
    const tide_table_t *w = sorted ? want_s : want;
    /* the state a reader sees now */
    tide_table_t *h = read_hist("crash", "T", CRASH_DATE, NULL);
    tide_table_t *in = tide_intraday_read(g_db, "crash", "T", CRASH_DATE, &err);
    if (!h) {
      none_visible++;
      CHECK_MSG(in != NULL, "trial %d: no partition visible and the intraday data is gone: %s",
                trial, err.msg);
      CHECK_EQ_TABLE(in, want);
    } else {
      CHECK_EQ_TABLE(h, w);
      if (in) {
        visible_kept++;
        CHECK_EQ_TABLE(in, want);
      } else {
        visible_deleted++;
        CHECK_MSG(del && err.status == TIDE_ERR_NOT_FOUND, "trial %d: %s", trial, err.msg);
      }
    }
    char hidden[800];
    snprintf(hidden, sizeof hidden, "%s/.%s.deleting", itab, CRASH_DATE);
    mid_delete += exists(hidden);
    for (int i = 0; i < 2; i++) hidden_part += hidden_entries(dd[i]) > 0;
    tide_table_free(h);
    tide_table_free(in);
    /* the re-run succeeds with exactly the intraday rows */
    tide_merge_opts_t o = opts(sorted, del, TIDE_CODEC_LZ4);
    tide_merge_result_t r;
    CHECK_MSG(tide_merge_intraday(g_db, "crash", "T", CRASH_DATE, &o, &r, &err) == TIDE_OK,
              "trial %d (step %d, delay %ld): re-run: %s", trial, step, delay, err.msg);
    CHECK(r.rows == CRASH_ROWS);
    h = read_hist("crash", "T", CRASH_DATE, NULL);
    CHECK_EQ_TABLE(h, w);
    tide_table_free(h);
    in = tide_intraday_read(g_db, "crash", "T", CRASH_DATE, &err);
    if (del) CHECK(!in && err.status == TIDE_ERR_NOT_FOUND);
    else CHECK_EQ_TABLE(in, want);
    tide_table_free(in);
    /* no leftovers */
    CHECK(hidden_entries(itab) == 0);
    for (int i = 0; i < 2; i++) CHECK_MSG(hidden_entries(dd[i]) == 0, "trial %d", trial);
  }
  tide_table_free(want);
  tide_table_free(want_s);
  printf("crash (%s): %d kill -9 trials (%d at crash points, %d after a random delay up to "
         "%.1f ms): "
         "%d left nothing visible (%d with a hidden partial or unvalidated partition), %d the "
         "partition with the intraday data, %d the partition with the intraday data deleted (%d "
         "mid-delete), %d had finished; every re-run succeeded\n",
         g_db, trials, hooked, killed, dur * 1.25e-6, none_visible, hidden_part, visible_kept,
         visible_deleted, mid_delete, completed);
}

/* ----------------------------------------------------------------- OOM */

/* Every allocation failure (sticky from the k-th, k stepping through the
 * merge) gives TIDE_ERR_NOMEM and the state a crash would leave; the merge
 * then completes. */
static void test_oom(void) {
  make_ns("oom", 2);
  const char *date = "2026-07-01";
  tide_table_t *want = make_rows(0, 300), *want_s = make_sorted(0, 300);
  int attempts = 0, nomem = 0, misreported = 0;
  for (int variant = 0; variant < 2; variant++) {
    char table[8];
    snprintf(table, sizeof table, "T%d", variant);
    ingest("oom", table, date, 0, 300, 2);
    tide_merge_opts_t o = opts(variant == 1, variant == 1, TIDE_CODEC_LZ4);
    const tide_table_t *w = variant == 1 ? want_s : want;
    bool ok = false;
    for (long k = 0; k < 100000 && !ok; k += 1 + k / 64) {
      tide_error err;
      tide_merge_result_t r;
      tu_oom_arm_sticky(k);
      tide_status st = tide_merge_intraday(g_db, "oom", table, date, &o, &r, &err);
      tu_oom_disarm();
      attempts++;
      if (st == TIDE_OK) {
        ok = true;
        break;
      }
      nomem += st == TIDE_ERR_NOMEM;
      /* known, outside the merge: io/colfile.c reports a failed
       * tide_symtab_intern (-1 on OOM) while loading a dictionary as
       * "symbol dictionary damaged" (TIDE_ERR_CORRUPT); the merge then
       * refuses the partition it wrote, which is safe */
      bool known = st == TIDE_ERR_CORRUPT && strstr(err.msg, "symbol dictionary damaged");
      misreported += known;
      CHECK_MSG(st == TIDE_ERR_NOMEM || known, "variant %d, allocation %ld: %s", variant, k,
                err.msg);
      tide_table_t *h = read_hist("oom", table, date, NULL);
      tide_table_t *in = tide_intraday_read(g_db, "oom", table, date, &err);
      if (!h) {
        CHECK_EQ_TABLE(in, want);
      } else {
        CHECK_EQ_TABLE(h, w);
        if (in) CHECK_EQ_TABLE(in, want);
        else CHECK(err.status == TIDE_ERR_NOT_FOUND && o.delete_intraday);
      }
      tide_table_free(h);
      tide_table_free(in);
    }
    CHECK(ok);
    tide_table_t *h = read_hist("oom", table, date, NULL);
    CHECK_EQ_TABLE(h, w);
    tide_table_free(h);
  }
  tide_table_free(want);
  tide_table_free(want_s);
  printf("oom: %d merges with allocation failures (%d out of memory, %d reported as a damaged "
         "dictionary by io/colfile.c), then complete\n",
         attempts, nomem, misreported);
}

/* ----------------------------------------------------------------- CLI */

static int run_cmd(const char *cmd) {
  int rc = system(cmd);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void read_text(const char *p, char *buf, size_t cap) {
  FILE *f = fopen(p, "r");
  size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
  buf[n] = '\0';
  if (f) fclose(f);
}

static void test_cli(void) {
  const char *bin = getenv("TIDE_BIN");
  if (!bin || access(bin, X_OK) != 0) {
    printf("cli: skipped (TIDE_BIN not set)\n");
    return;
  }
  make_ns("cli", 2);
  char cmd[2048], out[600], text[2048];
  snprintf(out, sizeof out, "%s/cli.out", g_db);
  ingest("cli", "T", "2026-06-01", 0, 5000, 2);
  ingest("cli", "T", "2026-06-02", 0, 5000, 2);
  /* the interface of the issue */
  snprintf(cmd, sizeof cmd,
           "%s merge --db %s --ns cli --table T --date 2026-06-01 --delete-intraday >%s 2>&1", bin,
           g_db, out);
  CHECK(run_cmd(cmd) == 0);
  read_text(out, text, sizeof text);
  CHECK_MSG(strstr(text, "5000 rows to partition") && strstr(text, "rows/s"), "%s", text);
  tide_table_t *want = make_rows(0, 5000), *want_s = make_sorted(0, 5000);
  tide_table_t *h = read_hist("cli", "T", "2026-06-01", NULL);
  CHECK_EQ_TABLE(h, want);
  tide_table_free(h);
  char p[700];
  snprintf(p, sizeof p, "%s/Intraday/cli/T/2026-06-01", g_db);
  CHECK(!exists(p));
  /* re-run: reported, exit 0 */
  CHECK(run_cmd(cmd) == 0);
  read_text(out, text, sizeof text);
  CHECK_MSG(strstr(text, "already merged"), "%s", text);
  /* --sort-by and --codec */
  snprintf(cmd, sizeof cmd,
           "%s merge --db %s --ns cli --table T --date 2026-06-02 --sort-by Sym,Q --codec zstd "
           ">%s 2>&1",
           bin, g_db, out);
  CHECK(run_cmd(cmd) == 0);
  h = read_hist("cli", "T", "2026-06-02", NULL);
  CHECK_EQ_TABLE(h, want_s);
  tide_table_free(h);
  /* errors: exit 1 with the message on stderr */
  snprintf(cmd, sizeof cmd, "%s merge --db %s --ns nowhere --table T --date 2026-06-02 2>%s", bin,
           g_db, out);
  CHECK(run_cmd(cmd) == 1);
  read_text(out, text, sizeof text);
  CHECK_MSG(strstr(text, "WritablePartitions"), "%s", text);
  snprintf(cmd, sizeof cmd, "%s merge --db %s --ns cli --table Nope --date 2026-06-02 2>%s", bin,
           g_db, out);
  CHECK(run_cmd(cmd) == 1);
  read_text(out, text, sizeof text);
  CHECK_MSG(strstr(text, "no intraday"), "%s", text);
  /* bad usage: exit 2 */
  snprintf(cmd, sizeof cmd, "%s merge --db %s --ns .. --table T --date 2026-06-02 2>/dev/null",
           bin, g_db);
  CHECK(run_cmd(cmd) == 2);
  snprintf(cmd, sizeof cmd, "%s merge --db %s --ns cli --table T 2>/dev/null", bin, g_db);
  CHECK(run_cmd(cmd) == 2);
  snprintf(cmd, sizeof cmd,
           "%s merge --db %s --ns cli --table T --date 2026-06-02 --codec lzma 2>/dev/null", bin,
           g_db);
  CHECK(run_cmd(cmd) == 2);
  tide_table_free(want);
  tide_table_free(want_s);
  printf("cli: tide merge (delete, re-run, sort + zstd, 2 errors, 3 usage errors)\n");
}

/* CPU seconds of this process and its waited-for children. */
static double cpu_s(void) {
  struct rusage a, b;
  getrusage(RUSAGE_SELF, &a);
  getrusage(RUSAGE_CHILDREN, &b);
  return (double)(a.ru_utime.tv_sec + a.ru_stime.tv_sec + b.ru_utime.tv_sec + b.ru_stime.tv_sec) +
         (double)(a.ru_utime.tv_usec + a.ru_stime.tv_usec + b.ru_utime.tv_usec +
                  b.ru_stime.tv_usec) * 1e-6;
}

int main(void) {
  const char *shm = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(g_db, sizeof g_db, "%s/tide-merge-%ld", shm, (long)getpid());
  rm_rf(g_db);
  mkdir(g_db, 0777);
  /* crash first: its hundreds of forks copy the page tables of all this
   * process has touched (the sanitizers' quarantine grows with the larger
   * tables of the others) */
  void (*tests[])(void) = {test_crash,    test_basic, test_partition_choice, test_concurrent,
                           test_refusals, test_oom,   test_cli};
  const char *tnames[] = {"crash",    "basic", "partition choice", "concurrent",
                          "refusals", "oom",   "cli"};
  for (size_t i = 0; i < sizeof tests / sizeof *tests; i++) {
    struct timespec t0, t1;
    double c0 = cpu_s();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    tests[i]();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("  %s: %.2f s (cpu %.2f s with children)\n", tnames[i],
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9,
           cpu_s() - c0);
  }
  rm_rf(g_db);
  return tu_finish("merge");
}
