/*
 * The intraday store (io/intraday.c, cli/ingest.c): round trips of every
 * type through the appender and the reader, commit visibility, schema and
 * name checks, one writer per partition (in this process and from another
 * one), kill -9 of a child appending and committing in a loop at random
 * points (TIDE_CRASH_TRIALS, default 60) followed by recovery, and damage:
 * bit flips and truncations of the commit log and the column files.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/io_int.h"
#include "testutil.h"
#include "tide/historical.h"
#include "tide/intraday.h"
#include "tide/io.h"
#include "tide/ops.h"
#include "tide/tabletypes.h"

static char g_db[256];

static const char *const NAMES[] = {"Id", "Px", "Flag", "Name", "Sym", "T", "Q", "Small"};
static const tide_type_t TYPES[] = {TIDE_I64, TIDE_F64, TIDE_BOOL, TIDE_STRING,
                                    TIDE_SYMBOL, TIDE_TS, TIDE_I32, TIDE_I8};
#define NC 8

/* Row i of the deterministic test data. */
static tide_table_t *make_rows(uint64_t start, uint64_t n) {
  int64_t *id = malloc((n + 1) * 8), *ts = malloc((n + 1) * 8);
  double *px = malloc((n + 1) * 8);
  int8_t *flag = malloc(n + 1), *small = malloc(n + 1);
  int32_t *q = malloc((n + 1) * 4);
  const char **name = malloc((n + 1) * sizeof *name), **sym = malloc((n + 1) * sizeof *sym);
  char *store = malloc((n + 1) * 48);
  for (uint64_t k = 0; k < n; k++) {
    uint64_t i = start + k;
    id[k] = (int64_t)i;
    px[k] = i % 11 == 0 ? TIDE_NULL_F64 : (double)i * 0.25;
    flag[k] = i % 3 == 0 ? TIDE_NULL_BOOL : (int8_t)(i & 1);
    char *s = store + k * 48;
    snprintf(s, 24, "n%llu", (unsigned long long)i);
    name[k] = i % 13 == 0 ? NULL : i % 5 == 0 ? "" : s;
    snprintf(s + 24, 24, "k%llu", (unsigned long long)(i % 7));
    sym[k] = i % 17 == 0 ? NULL : s + 24;
    ts[k] = 1700000000000000000LL + (int64_t)i;
    q[k] = (int32_t)(i * 3);
    small[k] = (int8_t)(i % 100);
  }
  const void *cols[NC] = {id, px, flag, name, sym, ts, q, small};
  tide_table_t *t = tu_table(n, NC, NAMES, TYPES, cols);
  free(id), free(ts), free(px), free(flag), free(small), free(q), free(name), free(sym);
  free(store);
  return t;
}

static bool rows_ok(const tide_table_t *t, uint64_t start, uint64_t n, char *msg, size_t cap) {
  tide_table_t *want = make_rows(start, n);
  bool ok = tu_table_equal(t, want, 0, msg, cap);
  tide_table_free(want);
  return ok;
}

#define CHECK_ROWS(t, start, n)                            \
  do {                                                     \
    char m_[1024];                                         \
    bool ok_ = (t) && rows_ok((t), (start), (n), m_, sizeof m_); \
    CHECK_MSG(ok_, "%s", (t) ? m_ : "no table");           \
  } while (0)

static tide_appender_t *open_app(const char *table, tide_error *err) {
  return tide_appender_open(g_db, "ns", table, "2026-01-02", NC, NAMES, TYPES, err);
}

static tide_status append_range(tide_appender_t *a, uint64_t start, uint64_t n, tide_error *err) {
  tide_table_t *t = make_rows(start, n);
  tide_status st = tide_appender_append(a, t, err);
  tide_table_free(t);
  return st;
}

static void part_file(char *out, size_t cap, const char *table, const char *file) {
  snprintf(out, cap, "%s/Intraday/ns/%s/2026-01-02/%s", g_db, table, file);
}

static void rm_rf(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
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

/* ------------------------------------------------------------- names */

static void test_names(void) {
  tide_error err;
  const char *bad[] = {"", ".", "..", ".hidden", "a/b", "../x", "/abs", "a\\b", "tab\there"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    CHECK(tide_intraday_check_name("namespace", bad[i], &err) == TIDE_ERR_INVALID);
    tide_appender_t *a =
        tide_appender_open(g_db, bad[i], "t", "2026-01-02", NC, NAMES, TYPES, &err);
    CHECK_MSG(!a && err.status == TIDE_ERR_INVALID && strstr(err.msg, "namespace"), "'%s': %s",
              bad[i], err.msg);
    tide_appender_close(a);
    a = tide_appender_open(g_db, "ns", bad[i], "2026-01-02", NC, NAMES, TYPES, &err);
    CHECK_MSG(!a && err.status == TIDE_ERR_INVALID && strstr(err.msg, "table"), "'%s': %s",
              bad[i], err.msg);
    tide_appender_close(a);
    CHECK(!tide_intraday_read(g_db, bad[i], "t", "2026-01-02", &err) &&
          err.status == TIDE_ERR_INVALID);
  }
  /* a name that is a long run of bytes */
  char longname[300];
  memset(longname, 'x', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  CHECK(tide_intraday_check_name("table", longname, &err) == TIDE_ERR_INVALID);
  CHECK(tide_intraday_check_name("table", "Trades_2", &err) == TIDE_OK);
  CHECK(tide_intraday_check_name("table", "a..b", &err) == TIDE_OK); /* not a path component */
  const char *bad_dates[] = {"", "2026-1-02", "2026-02-30", "2025-02-29", "2026-13-01",
                             "2026-00-10", "20260102", "2026-01-0x", "../../etc", "2026-01-02/"};
  for (size_t i = 0; i < sizeof bad_dates / sizeof *bad_dates; i++) {
    CHECK_MSG(tide_intraday_check_date(bad_dates[i], &err) == TIDE_ERR_INVALID, "%s",
              bad_dates[i]);
    tide_appender_t *a = tide_appender_open(g_db, "ns", "t", bad_dates[i], NC, NAMES, TYPES, &err);
    CHECK(!a && strstr(err.msg, "date"));
  }
  CHECK(tide_intraday_check_date("2024-02-29", &err) == TIDE_OK);
  CHECK(tide_intraday_check_date("2000-02-29", &err) == TIDE_OK);
  CHECK(tide_intraday_check_date("1900-02-29", &err) == TIDE_ERR_INVALID);
  char today[16];
  tide_intraday_today(today, sizeof today);
  CHECK(tide_intraday_check_date(today, &err) == TIDE_OK);
  /* nothing was created by the refused calls */
  char p[512];
  snprintf(p, sizeof p, "%s/Intraday", g_db);
  struct stat sb;
  CHECK(stat(p, &sb) != 0);
}

/* -------------------------------------------------------- round trip */

static void test_round_trip(void) {
  tide_error err;
  tide_table_t *t = tide_intraday_read(g_db, "ns", "rt", "2026-01-02", &err);
  CHECK(!t && err.status == TIDE_ERR_NOT_FOUND);
  tide_appender_t *a = open_app("rt", &err);
  CHECK_OK_PTR(a, err);
  if (!a) return;
  /* created but nothing committed: an empty table with the schema */
  t = tide_intraday_read(g_db, "ns", "rt", "2026-01-02", &err);
  CHECK_OK_PTR(t, err);
  CHECK(t && tide_table_size(t) == 0 && tide_table_ncols(t) == NC &&
        tide_table_col_type(t, 4) == TIDE_SYMBOL);
  tide_table_free(t);
  uint64_t sizes[] = {1, 4095, 4097, 10000, 3};
  uint64_t total = 0;
  for (size_t b = 0; b < 5; b++) {
    CHECK_OK(append_range(a, total, sizes[b], &err), err);
    /* staged rows are invisible */
    t = tide_intraday_read(g_db, "ns", "rt", "2026-01-02", &err);
    CHECK(t && tide_table_size(t) == total);
    tide_table_free(t);
    CHECK(tide_appender_staged_rows(a) == sizes[b]);
    CHECK_OK(tide_appender_commit(a, &err), err);
    total += sizes[b];
    CHECK(tide_appender_committed_rows(a) == total && tide_appender_staged_rows(a) == 0);
    t = tide_intraday_read(g_db, "ns", "rt", "2026-01-02", &err);
    CHECK_ROWS(t, 0, total);
    tide_table_free(t);
  }
  /* several appends per commit, and an empty commit */
  CHECK_OK(append_range(a, total, 7, &err), err);
  CHECK_OK(append_range(a, total + 7, 9, &err), err);
  CHECK_OK(tide_appender_commit(a, &err), err);
  CHECK_OK(tide_appender_commit(a, &err), err);
  total += 16;
  /* staged then closed: discarded */
  CHECK_OK(append_range(a, 999999, 50, &err), err);
  tide_appender_close(a);
  t = tide_intraday_read(g_db, "ns", "rt", "2026-01-02", &err);
  CHECK_ROWS(t, 0, total);
  tide_table_free(t);
  /* tail reads */
  uint64_t froms[] = {0, 1, 4096, 5000, total - 1, total, total + 5};
  for (size_t i = 0; i < sizeof froms / sizeof *froms; i++) {
    uint64_t committed = 0;
    t = tide_intraday_read_from(g_db, "ns", "rt", "2026-01-02", froms[i], &committed, &err);
    CHECK_OK_PTR(t, err);
    uint64_t f = froms[i] > total ? total : froms[i];
    CHECK(committed == total);
    CHECK_ROWS(t, f, total - f);
    tide_table_free(t);
  }
  /* reopen with the stored schema and continue; STRING and SYMBOL swap */
  a = tide_appender_open(g_db, "ns", "rt", "2026-01-02", 0, NULL, NULL, &err);
  CHECK_OK_PTR(a, err);
  if (!a) return;
  CHECK(tide_appender_committed_rows(a) == total && tide_appender_ncols(a) == NC &&
        !strcmp(tide_appender_col_name(a, 3), "Name"));
  {
    tide_table_t *r = make_rows(total, 100);
    static const tide_type_t swapped[] = {TIDE_I64, TIDE_F64, TIDE_BOOL, TIDE_SYMBOL,
                                          TIDE_STRING, TIDE_TS, TIDE_I32, TIDE_I8};
    /* rebuild with Name as SYMBOL and Sym as STRING */
    const char **name = malloc(100 * sizeof *name), **sym = malloc(100 * sizeof *sym);
    int64_t id[100], ts[100];
    double px[100];
    int8_t flag[100], small[100];
    int32_t q[100];
    char store[100][48];
    for (int k = 0; k < 100; k++) {
      strcpy(store[k], tu_cell(r, "Name", (uint64_t)k));
      name[k] = strcmp(store[k], "null") ? store[k] : NULL;
      strcpy(store[k] + 24, tu_cell(r, "Sym", (uint64_t)k));
      sym[k] = strcmp(store[k] + 24, "null") ? store[k] + 24 : NULL;
      tide_table_get(r, 0, (uint64_t)k, &id[k], &err);
      tide_table_get(r, 1, (uint64_t)k, &px[k], &err);
      tide_table_get(r, 2, (uint64_t)k, &flag[k], &err);
      tide_table_get(r, 5, (uint64_t)k, &ts[k], &err);
      tide_table_get(r, 6, (uint64_t)k, &q[k], &err);
      tide_table_get(r, 7, (uint64_t)k, &small[k], &err);
    }
    const void *cols[NC] = {id, px, flag, name, sym, ts, q, small};
    tide_table_t *sw = tu_table(100, NC, NAMES, swapped, cols);
    CHECK_OK(tide_appender_append(a, sw, &err), err);
    CHECK_OK(tide_appender_commit(a, &err), err);
    total += 100;
    tide_table_free(sw);
    tide_table_free(r);
    free(name);
    free(sym);
  }
  t = tide_intraday_read(g_db, "ns", "rt", "2026-01-02", &err);
  CHECK_ROWS(t, 0, total);
  tide_table_free(t);
  /* schema errors name the column */
  {
    static const char *n2[] = {"Id", "Px"};
    static const tide_type_t t2[] = {TIDE_I64, TIDE_I64};
    int64_t v[2] = {1, 2};
    const void *c2[] = {v, v};
    tide_table_t *bad = tu_table(2, 2, n2, t2, c2);
    CHECK(tide_appender_append(a, bad, &err) == TIDE_ERR_TYPE && strstr(err.msg, "'Px'"));
    tide_table_free(bad);
    static const char *n3[] = {"Id"};
    bad = tu_table(2, 1, n3, t2, c2);
    CHECK(tide_appender_append(a, bad, &err) == TIDE_ERR_TYPE && strstr(err.msg, "'Px'") &&
          strstr(err.msg, "no column"));
    tide_table_free(bad);
    tide_table_t *full = make_rows(0, 2);
    tide_table_t *extra = tide_update(full, (const char *[]){"Extra = Id * 2"}, 1, &err);
    CHECK_OK_PTR(extra, err);
    CHECK(tide_appender_append(a, extra, &err) == TIDE_ERR_TYPE && strstr(err.msg, "'Extra'"));
    tide_table_free(extra);
    tide_table_free(full);
    CHECK(tide_appender_staged_rows(a) == 0);
  }
  tide_appender_close(a);
  {
    static const tide_type_t t3[] = {TIDE_I64, TIDE_F32, TIDE_BOOL, TIDE_STRING,
                                     TIDE_SYMBOL, TIDE_TS, TIDE_I32, TIDE_I8};
    a = tide_appender_open(g_db, "ns", "rt", "2026-01-02", NC, NAMES, t3, &err);
    CHECK_MSG(!a && err.status == TIDE_ERR_TYPE && strstr(err.msg, "'Px'"), "%s", err.msg);
    tide_appender_close(a);
    a = tide_appender_open(g_db, "ns", "nosuch", "2026-01-02", 0, NULL, NULL, &err);
    CHECK(!a && err.status == TIDE_ERR_NOT_FOUND);
  }
}

/* ------------------------------------------------------- one writer */

static void test_one_writer(void) {
  tide_error err;
  tide_appender_t *a = open_app("lock", &err);
  CHECK_OK_PTR(a, err);
  tide_appender_t *b = open_app("lock", &err);
  CHECK_MSG(!b && err.status == TIDE_ERR_STATE && strstr(err.msg, "already has a writer"), "%s",
            err.msg);
  tide_appender_close(b);
  /* from another process too */
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    tide_error e2;
    tide_appender_t *c = open_app("lock", &e2);
    _exit(!c && e2.status == TIDE_ERR_STATE ? 0 : 1);
  }
  int ws = 0;
  waitpid(pid, &ws, 0);
  CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
  /* a different partition of the same table is independent */
  tide_appender_t *d = tide_appender_open(g_db, "ns", "lock", "2026-01-03", NC, NAMES, TYPES, &err);
  CHECK_OK_PTR(d, err);
  tide_appender_close(d);
  tide_appender_close(a);
  b = open_app("lock", &err);
  CHECK_OK_PTR(b, err);
  tide_appender_close(b);
}

/* ------------------------------------------------------------ crash */

static uint64_t file_size(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}


static void crash_trials(int trials, long max_delay_ns);

/* Half the trials on tmpfs (fast commits: many per trial), half on the
 * disk (fsyncs make commits long: kills often land inside one). */
static void test_crash(void) {
  const char *env = getenv("TIDE_CRASH_TRIALS");
  int trials = env ? atoi(env) : 60;
  crash_trials(trials - trials / 2, 8000000);
  char saved[256];
  strcpy(saved, g_db);
  snprintf(g_db, sizeof g_db, "/tmp/tide-intraday-disk-%ld", (long)getpid());
  rm_rf(g_db);
  crash_trials(trials / 2, 80000000);
  rm_rf(g_db);
  strcpy(g_db, saved);
}

static void crash_trials(int trials, long max_delay_ns) {
  tide_error err;
  tu_rng rng = {tu_seed(42)};
  uint64_t committed = 0;
  int recovered_beyond = 0, mid_commit = 0;
  for (int trial = 0; trial < trials; trial++) {
    int fds[2];
    if (pipe(fds) != 0) abort();
    uint64_t seed = tu_next(&rng);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      tu_rng r = {seed};
      tide_error e;
      tide_appender_t *a = open_app("crash", &e);
      if (!a) _exit(3);
      uint64_t next = tide_appender_committed_rows(a);
      for (;;) {
        uint64_t n = 1 + tu_below(&r, 40);
        if (append_range(a, next, n, &e) != TIDE_OK) _exit(4);
        next += n;
        if (tu_below(&r, 3) == 0) continue; /* sometimes several appends per commit */
        if (tide_appender_commit(a, &e) != TIDE_OK) _exit(5);
        if (next != tide_appender_committed_rows(a)) _exit(7);
        if (write(fds[1], &next, sizeof next) != sizeof next) _exit(6);
      }
    }
    close(fds[1]);
    /* let it run for a random while */
    struct timespec ts = {0, (long)tu_below(&rng, (uint64_t)max_delay_ns)};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int ws = 0;
    waitpid(pid, &ws, 0);
    CHECK_MSG(WIFSIGNALED(ws), "trial %d: the child exited with %d", trial,
              WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
    uint64_t v, reported = committed;
    while (read(fds[0], &v, sizeof v) == sizeof v) reported = v;
    close(fds[0]);
    /* readers first (before any recovery) */
    tide_table_t *t = tide_intraday_read(g_db, "ns", "crash", "2026-01-02", &err);
    /* killed before the partition's schema was written: nothing to see */
    bool none = !t && err.status == TIDE_ERR_NOT_FOUND && reported == 0;
    CHECK_MSG(t != NULL || none, "trial %d: %s", trial, err.msg);
    if (!t && !none) break;
    uint64_t n = t ? tide_table_size(t) : 0;
    CHECK_MSG(n >= reported, "trial %d: %llu rows visible, %llu were committed", trial,
              (unsigned long long)n, (unsigned long long)reported);
    if (n > reported) recovered_beyond++; /* committed on disk, killed before reporting */
    if (t) CHECK_ROWS(t, 0, n);
    tide_table_free(t);
    /* killed inside a commit, after the data write and before its record? */
    char idp[512];
    part_file(idp, sizeof idp, "crash", "Id.dat");
    if (file_size(idp) > n * 8) mid_commit++;
    /* recovery, then appending continues */
    tide_appender_t *a = open_app("crash", &err);
    CHECK_MSG(a != NULL, "trial %d: reopen: %s", trial, err.msg);
    if (!a) break;
    CHECK(tide_appender_committed_rows(a) == n);
    if (trial % 10 == 9) {
      CHECK_OK(append_range(a, n, 5, &err), err);
      CHECK_OK(tide_appender_commit(a, &err), err);
      n += 5;
    }
    tide_appender_close(a);
    committed = n;
  }
  tide_table_t *t = tide_intraday_read(g_db, "ns", "crash", "2026-01-02", &err);
  CHECK_ROWS(t, 0, committed);
  tide_table_free(t);
  printf("crash (%s): %d kill -9 trials, %llu rows committed; killed %d times inside a commit "
         "with its data written, %d times after a commit before reporting it\n",
         g_db, trials, (unsigned long long)committed, mid_commit, recovered_beyond);
}

/* ----------------------------------------------------------- damage */

static void flip(const char *p, uint64_t off, uint8_t mask) {
  int fd = open(p, O_RDWR);
  uint8_t b;
  if (fd < 0 || pread(fd, &b, 1, (off_t)off) != 1) abort();
  b ^= mask;
  if (pwrite(fd, &b, 1, (off_t)off) != 1) abort();
  close(fd);
}

static void copy_file(const char *from, const char *to) {
  FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
  if (!a || !b) abort();
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, a)) > 0) fwrite(buf, 1, n, b);
  fclose(a);
  fclose(b);
}

/* A partition of 4 commits (rows 0..3999 in batches of 1000). */
static const uint64_t DMG_ROWS = 4000, DMG_BATCH = 1000;

static void make_damage_partition(void) {
  tide_error err;
  tide_appender_t *a = open_app("dmg", &err);
  if (!a) abort();
  for (uint64_t s = 0; s < DMG_ROWS; s += DMG_BATCH) {
    append_range(a, s, DMG_BATCH, &err);
    tide_appender_commit(a, &err);
  }
  tide_appender_close(a);
}

static void test_damage(void) {
  tide_error err;
  make_damage_partition();
  const char *files[] = {"commit.log", "Id.dat", "Px.dat", "Name.dat", "Name.heap",
                         "Sym.dat",    "Sym.heap", "Small.dat"};
  char p[512], bak[512];
  int flips = 0, cuts = 0;
  for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
    part_file(p, sizeof p, "dmg", files[f]);
    snprintf(bak, sizeof bak, "%s.bak", p);
    copy_file(p, bak);
    uint64_t size = file_size(p);
    bool is_log = f == 0;
    /* bit flips: every byte of the log's first record and every third one
     * after it; sampled bytes of the data files */
    for (uint64_t off = 0; off < size; off += is_log ? (off < 48 + 32 * NC ? 1 : 3) : size / 97 + 1) {
      flip(p, off, (uint8_t)(1u << (off % 8)));
      tide_table_t *t = tide_intraday_read(g_db, "ns", "dmg", "2026-01-02", &err);
      CHECK_MSG(!t && err.status == TIDE_ERR_CORRUPT && strstr(err.msg, files[f]),
                "%s byte %llu flipped: %s", files[f], (unsigned long long)off,
                t ? "read back" : err.msg);
      if (!is_log && !t)
        CHECK_MSG(strstr(err.msg, "commit batch") || strstr(err.msg, "row "), "%s", err.msg);
      tide_table_free(t);
      flips++;
      copy_file(bak, p);
    }
    /* truncations */
    for (uint64_t cut = 0; cut < size; cut += is_log ? 7 : size / 23 + 1) {
      if (truncate(p, (off_t)cut) != 0) abort();
      tide_table_t *t = tide_intraday_read(g_db, "ns", "dmg", "2026-01-02", &err);
      if (is_log) {
        /* a cut log is a shorter history: whole commits only, recovered */
        size_t R = 48 + 32 * NC;
        uint64_t commits = cut / R;
        CHECK_MSG(t != NULL, "log cut at %llu: %s", (unsigned long long)cut, err.msg);
        CHECK_ROWS(t, 0, commits * DMG_BATCH);
      } else {
        CHECK_MSG(!t && err.status == TIDE_ERR_CORRUPT && strstr(err.msg, files[f]) &&
                      strstr(err.msg, "truncated"),
                  "%s cut at %llu: %s", files[f], (unsigned long long)cut, t ? "read" : err.msg);
        /* the appender refuses too: committed rows are gone */
        tide_appender_t *a = open_app("dmg", &err);
        CHECK(!a && err.status == TIDE_ERR_CORRUPT);
        tide_appender_close(a);
      }
      tide_table_free(t);
      cuts++;
      copy_file(bak, p);
    }
    unlink(bak);
  }
  /* a log cut mid-record, and junk after the committed bytes (a crash
   * between the data write and the commit record): recovered by the
   * appender, which cuts the tails off and continues */
  part_file(p, sizeof p, "dmg", "commit.log");
  CHECK(truncate(p, (off_t)(3 * (48 + 32 * NC) + 50)) == 0);
  part_file(p, sizeof p, "dmg", "Name.heap");
  {
    FILE *f = fopen(p, "ab");
    fputs("junk junk junk", f);
    fclose(f);
  }
  tide_appender_t *a = open_app("dmg", &err);
  CHECK_OK_PTR(a, err);
  if (a) {
    CHECK(tide_appender_committed_rows(a) == 3 * DMG_BATCH);
    CHECK_OK(append_range(a, 3 * DMG_BATCH, 10, &err), err);
    CHECK_OK(tide_appender_commit(a, &err), err);
    tide_appender_close(a);
  }
  tide_table_t *t = tide_intraday_read(g_db, "ns", "dmg", "2026-01-02", &err);
  CHECK_ROWS(t, 0, 3 * DMG_BATCH + 10);
  tide_table_free(t);
  /* a flipped byte in the last commit record: the appender refuses */
  part_file(p, sizeof p, "dmg", "commit.log");
  flip(p, file_size(p) - 20, 4);
  a = open_app("dmg", &err);
  CHECK_MSG(!a && err.status == TIDE_ERR_CORRUPT && strstr(err.msg, "commit record"), "%s",
            err.msg);
  tide_appender_close(a);
  flip(p, file_size(p) - 20, 4);
  /* the schema */
  part_file(p, sizeof p, "dmg", "intraday.schema");
  for (uint64_t off = 0; off < file_size(p); off++) {
    flip(p, off, 1);
    t = tide_intraday_read(g_db, "ns", "dmg", "2026-01-02", &err);
    CHECK_MSG(!t && err.status == TIDE_ERR_CORRUPT && strstr(err.msg, "intraday.schema"),
              "schema byte %llu: %s", (unsigned long long)off, t ? "read" : err.msg);
    tide_table_free(t);
    flip(p, off, 1);
  }
  /* a missing column file */
  part_file(p, sizeof p, "dmg", "Q.dat");
  snprintf(bak, sizeof bak, "%s.bak", p);
  CHECK(rename(p, bak) == 0);
  t = tide_intraday_read(g_db, "ns", "dmg", "2026-01-02", &err);
  CHECK_MSG(!t && err.status == TIDE_ERR_CORRUPT && strstr(err.msg, "Q.dat"), "%s", err.msg);
  CHECK(rename(bak, p) == 0);
  t = tide_intraday_read(g_db, "ns", "dmg", "2026-01-02", &err);
  CHECK_ROWS(t, 0, 3 * DMG_BATCH + 10);
  tide_table_free(t);
  printf("damage: %d bit flips, %d truncations\n", flips, cuts);
}

/* ------------------------------------------- readers during writes */

/* A child appends and commits as fast as it can while this process reads:
 * every read is an exact prefix, and the committed count never goes back. */
static void test_concurrent_read(void) {
  tide_error err;
  tide_appender_t *a = open_app("conc", &err);
  CHECK_OK_PTR(a, err);
  if (!a) return;
  CHECK_OK(append_range(a, 0, 10, &err), err);
  CHECK_OK(tide_appender_commit(a, &err), err);
  tide_appender_close(a);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    tide_error e;
    tide_appender_t *c = open_app("conc", &e);
    if (!c) _exit(3);
    tu_rng r = {99};
    uint64_t next = tide_appender_committed_rows(c);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
      uint64_t n = 1 + tu_below(&r, 60);
      if (append_range(c, next, n, &e) != TIDE_OK || tide_appender_commit(c, &e) != TIDE_OK)
        _exit(4);
      next += n;
      clock_gettime(CLOCK_MONOTONIC, &t1);
    } while ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 400);
    tide_appender_close(c);
    _exit(0);
  }
  tu_rng rng = {tu_seed(5)};
  uint64_t last = 0;
  int reads = 0;
  for (;;) {
    int ws;
    bool done = waitpid(pid, &ws, WNOHANG) == pid;
    uint64_t committed = 0, from = last ? tu_below(&rng, last) : 0;
    tide_table_t *t =
        tide_intraday_read_from(g_db, "ns", "conc", "2026-01-02", from, &committed, &err);
    CHECK_MSG(t != NULL, "read %d: %s", reads, err.msg);
    if (!t) break;
    CHECK(committed >= last && tide_table_size(t) == committed - from);
    CHECK_ROWS(t, from, committed - from);
    tide_table_free(t);
    last = committed;
    reads++;
    if (done) {
      CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
      break;
    }
  }
  printf("concurrent: %d reads while committing, %llu rows\n", reads, (unsigned long long)last);
}

/* ------------------------------------------------------ out of memory */

static void *oom_read(void *ctx, tide_error *err) {
  (void)ctx;
  return tide_intraday_read_from(g_db, "ns", "oom", "2026-01-02", 3, NULL, err);
}

static tide_table_t *g_oom_rows;

static void *oom_write(void *ctx, tide_error *err) {
  (void)ctx;
  tide_appender_t *a = open_app("oom", err);
  if (!a) return NULL;
  tide_status st = tide_appender_append(a, g_oom_rows, err);
  if (st == TIDE_OK) st = tide_appender_commit(a, err);
  tide_appender_close(a);
  return st == TIDE_OK ? (void *)g_oom_rows : NULL;
}

/* Every allocation failure of the appender and of the reader is a clean
 * TIDE_ERR_NOMEM (no crash, no leak under ASan), and a failed write
 * leaves the partition readable and appendable. */
static void test_oom(void) {
  tide_error err;
  g_oom_rows = make_rows(0, 50);
  void *r = tu_oom_sweep("intraday write", 400, oom_write, NULL, &err);
  CHECK_MSG(r != NULL, "%s", err.msg);
  r = tu_oom_sweep("intraday read", 400, oom_read, NULL, &err);
  CHECK_MSG(r != NULL, "%s", err.msg);
  tide_table_free(r);
  tide_table_t *t = tide_intraday_read(g_db, "ns", "oom", "2026-01-02", &err);
  CHECK_OK_PTR(t, err);
  /* each failed attempt before the success committed nothing or whole batches */
  CHECK(t && tide_table_size(t) % 50 == 0 && tide_table_size(t) >= 50);
  tide_table_free(t);
  tide_table_free(g_oom_rows);
}

/* -------------------------------------------------------- live_table */

/* live_table's rows without its Date column, which must hold `date` in
 * every row. A new reference, NULL (and a failed check) otherwise. */
static tide_table_t *live_data(tide_table_t *lt, const char *date) {
  tide_error err;
  uint64_t n = tide_table_size(lt);
  for (uint64_t r = 0; r < n; r += 1 + n / 50) {
    const char *d = tu_cell(lt, "Date", r);
    CHECK_MSG(d && !strcmp(d, date), "Date of row %llu is %s, not %s", (unsigned long long)r,
              d ? d : "null", date);
  }
  const char *drop[] = {"Date"};
  tide_table_t *t = tide_drop_columns(lt, drop, 1, &err);
  CHECK_OK_PTR(t, err);
  return t;
}

#define CHECK_LIVE_ROWS(lt, start, n)                  \
  do {                                                 \
    tide_table_t *d_ = live_data((lt), "2026-01-02");  \
    CHECK_ROWS(d_, (start), (n));                      \
    tide_table_free(d_);                               \
  } while (0)

typedef struct live_seen {
  int updates;
  uint64_t added_first, added_n;
  bool other; /* removed, shifted or modified: never for an append-only tail */
} live_seen;

static void live_listener(tide_table_t *t, const tide_update_t *u, void *ctx) {
  live_seen *s = ctx;
  s->updates++;
  s->added_n = u->added ? tide_rowset_size(u->added) : 0;
  s->added_first = s->added_n ? tide_rowset_first(u->added) : 0;
  if (s->added_n && tide_rowset_last(u->added) != s->added_first + s->added_n - 1) s->other = true;
  if ((u->removed && !tide_rowset_is_empty(u->removed)) || u->nshifts ||
      (u->modified && !tide_rowset_is_empty(u->modified)))
    s->other = true;
}

static void test_live(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  CHECK_OK_PTR(g, err);
  if (!g) return;
  tide_table_t *lt = tide_live_table(g, g_db, "ns", "live", "2026-01-02", &err);
  CHECK(!lt && err.status == TIDE_ERR_NOT_FOUND && strstr(err.msg, "live_table"));
  lt = tide_live_table(g, g_db, "..", "live", "2026-01-02", &err);
  CHECK(!lt && err.status == TIDE_ERR_INVALID);
  tide_appender_t *a = open_app("live", &err);
  CHECK_OK_PTR(a, err);
  if (!a) {
    tide_graph_free(g);
    return;
  }
  CHECK_OK(append_range(a, 0, 100, &err), err);
  CHECK_OK(tide_appender_commit(a, &err), err);
  lt = tide_live_table(g, g_db, "ns", "live", "2026-01-02", &err);
  CHECK_OK_PTR(lt, err);
  if (!lt) {
    tide_appender_close(a);
    tide_graph_free(g);
    return;
  }
  CHECK(tide_table_kind(lt) == TIDE_KIND_APPEND_ONLY);
  CHECK(tide_table_ncols(lt) == NC + 1 && !strcmp(tide_table_col_name(lt, 0), "Date") &&
        tide_table_col_type(lt, 0) == TIDE_SYMBOL);
  CHECK_LIVE_ROWS(lt, 0, 100);
  live_seen seen = {0};
  CHECK(tide_table_listen(lt, live_listener, &seen, &err) != NULL);
  /* a derived table ticks with it */
  tide_table_t *even = tide_where(lt, "Id % 2 == 0", &err);
  CHECK_OK_PTR(even, err);
  tu_rng rng = {tu_seed(7)};
  uint64_t committed = 100, staged = 0;
  int cycles = 60;
  for (int cyc = 0; cyc < cycles; cyc++) {
    /* some rows committed, some only staged (invisible), sometimes none */
    uint64_t k = tu_below(&rng, 3) == 0 ? 0 : tu_below(&rng, 300);
    if (k) CHECK_OK(append_range(a, committed + staged, k, &err), err);
    staged += k;
    bool commit = tu_below(&rng, 4) != 0;
    uint64_t before = committed;
    if (commit) {
      CHECK_OK(tide_appender_commit(a, &err), err);
      committed += staged;
      staged = 0;
    }
    seen.updates = 0;
    CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
    CHECK_MSG(tide_table_size(lt) == committed, "cycle %d: %llu rows, %llu committed", cyc,
              (unsigned long long)tide_table_size(lt), (unsigned long long)committed);
    if (committed > before)
      CHECK_MSG(seen.updates == 1 && seen.added_first == before &&
                    seen.added_n == committed - before,
                "cycle %d: added %llu at %llu, want %llu at %llu", cyc,
                (unsigned long long)seen.added_n, (unsigned long long)seen.added_first,
                (unsigned long long)(committed - before), (unsigned long long)before);
    else
      CHECK(seen.updates == 0);
    if (cyc % 10 == 9 || cyc == cycles - 1) {
      CHECK_LIVE_ROWS(lt, 0, committed);
      CHECK(even && tide_table_size(even) == (committed + 1) / 2);
    }
  }
  CHECK(!seen.other);
  tide_appender_close(a);
  printf("live: %d cycles, %llu rows tailed\n", cycles, (unsigned long long)committed);
  tide_table_free(even);
  tide_table_free(lt);
  tide_graph_free(g);
}

/* live_table over many small commits, compared after every cycle with a
 * full tide_intraday_read; and the tail reader's cost: a poll reads only
 * the new commit records and the bytes they added, however large the
 * partition already is. */
static void test_live_tail(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  CHECK_OK_PTR(g, err);
  tide_appender_t *a = tide_appender_open(g_db, "ns", "tail", "2026-01-02", NC, NAMES, TYPES,
                                          &err);
  CHECK_OK_PTR(a, err);
  if (!g || !a) {
    tide_appender_close(a);
    tide_graph_free(g);
    return;
  }
  CHECK_OK(append_range(a, 0, 7, &err), err);
  CHECK_OK(tide_appender_commit(a, &err), err);
  tide_table_t *lt = tide_live_table(g, g_db, "ns", "tail", "2026-01-02", &err);
  CHECK_OK_PTR(lt, err);
  /* a second tail reader, polled by hand, for the byte counts */
  tide__itail_t *tail = tide__itail_open(g_db, "ns", "tail", "2026-01-02", &err);
  CHECK_OK_PTR(tail, err);
  if (!lt || !tail) {
    tide__itail_close(tail);
    tide_table_free(lt);
    tide_appender_close(a);
    tide_graph_free(g);
    return;
  }
  tide_table_t *first = NULL;
  uint64_t at = 99;
  CHECK_OK(tide__itail_poll(tail, &first, &at, &err), err);
  CHECK(first && at == 0 && tide_table_size(first) == 7);
  tide_table_free(first);
  tu_rng rng = {tu_seed(11)};
  uint64_t committed = 7, commits = 1, compared = 0, max_poll_bytes = 0;
  const uint64_t R = 48 + 32 * NC;
  const int cycles = 100;
  for (int cyc = 0; cyc < cycles; cyc++) {
    /* 0..4 commits of 1..40 rows between two cycles */
    int k = (int)tu_below(&rng, 5);
    uint64_t cyc_rows = 0;
    for (int j = 0; j < k; j++) {
      uint64_t m = 1 + tu_below(&rng, 40);
      CHECK_OK(append_range(a, committed, m, &err), err);
      CHECK_OK(tide_appender_commit(a, &err), err);
      committed += m;
      cyc_rows += m;
      commits++;
    }
    CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
    /* against an independent full read of the partition */
    tide_table_t *want = tide_intraday_read(g_db, "ns", "tail", "2026-01-02", &err);
    CHECK_OK_PTR(want, err);
    tide_table_t *have = live_data(lt, "2026-01-02");
    if (want && have) {
      char m_[1024];
      bool ok = tide_table_size(want) == committed && tu_table_equal(have, want, 0, m_, sizeof m_);
      CHECK_MSG(ok, "cycle %d (%llu rows): %s", cyc, (unsigned long long)committed,
                tide_table_size(want) == committed ? m_ : "row count");
      compared += committed;
    }
    tide_table_free(want);
    tide_table_free(have);
    /* the hand-polled tail: bytes read follow the new commits only */
    uint64_t b0 = tide__itail_bytes_read(tail);
    tide_table_t *got = NULL;
    CHECK_OK(tide__itail_poll(tail, &got, &at, &err), err);
    uint64_t read = tide__itail_bytes_read(tail) - b0;
    /* per row at most 42 data bytes + ~22 string/dictionary bytes */
    uint64_t bound = (uint64_t)k * R + cyc_rows * 64 + 64;
    CHECK_MSG(read <= bound, "cycle %d: a poll after %d commits of %llu rows read %llu bytes "
              "(bound %llu; the partition holds %llu commits)", cyc, k,
              (unsigned long long)cyc_rows, (unsigned long long)read, (unsigned long long)bound,
              (unsigned long long)commits);
    if (read > max_poll_bytes) max_poll_bytes = read;
    CHECK(k ? got && tide_table_size(got) == cyc_rows && at == committed - cyc_rows : !got);
    if (got) CHECK_ROWS(got, committed - cyc_rows, cyc_rows);
    tide_table_free(got);
  }
  CHECK(tide__itail_rows(tail) == committed);
  printf("live tail: %d cycles, %llu commits, %llu rows; %llu rows compared with full reads; "
         "largest poll %llu bytes (the log alone is %llu)\n",
         cycles, (unsigned long long)commits, (unsigned long long)committed,
         (unsigned long long)compared, (unsigned long long)max_poll_bytes,
         (unsigned long long)(commits * R));
  tide__itail_close(tail);
  tide_table_free(lt);
  tide_appender_close(a);
  tide_graph_free(g);
}

/* Write bytes at off of a file (creating it). */
static void put_bytes(const char *p, uint64_t off, const void *b, size_t n) {
  int fd = open(p, O_RDWR | O_CREAT, 0666);
  if (fd < 0 || pwrite(fd, b, n, (off_t)off) != (ssize_t)n) abort();
  close(fd);
}

/* The tail reader and live_table facing a torn, zeroed or corrupt last
 * record, damaged or cut column data, a cut log and a removed partition. */
static void test_tail_damage(void) {
  tide_error err;
  const uint64_t R = 48 + 32 * NC;
  char logp[512], pxp[512];
  part_file(logp, sizeof logp, "tdmg", "commit.log");
  part_file(pxp, sizeof pxp, "tdmg", "Px.dat");
  tide_appender_t *a = open_app("tdmg", &err);
  CHECK_OK_PTR(a, err);
  if (!a) return;
  CHECK_OK(append_range(a, 0, 100, &err), err);
  CHECK_OK(tide_appender_commit(a, &err), err);
  CHECK_OK(append_range(a, 100, 50, &err), err);
  CHECK_OK(tide_appender_commit(a, &err), err);
  tide_appender_close(a);
  /* keep the second record aside and cut it off: the partition has one
   * commit, and its column files carry batch 1's bytes uncommitted */
  uint8_t rec[48 + 32 * NC];
  {
    int fd = open(logp, O_RDWR);
    CHECK(fd >= 0 && pread(fd, rec, R, (off_t)R) == (ssize_t)R && ftruncate(fd, (off_t)R) == 0);
    close(fd);
  }
  tide_graph_t *g = tide_graph_create(&err);
  tide__itail_t *t = tide__itail_open(g_db, "ns", "tdmg", "2026-01-02", &err);
  tide_table_t *lt = g ? tide_live_table(g, g_db, "ns", "tdmg", "2026-01-02", &err) : NULL;
  CHECK_OK_PTR(t, err);
  CHECK_OK_PTR(lt, err);
  if (!t || !lt || !g) {
    tide__itail_close(t);
    tide_table_free(lt);
    tide_graph_free(g);
    return;
  }
  tide_table_t *got = NULL;
  uint64_t at = 0;
  int checks = 0;
  CHECK_OK(tide__itail_poll(t, &got, &at, &err), err);
  CHECK(got && tide_table_size(got) == 100);
  tide_table_free(got);
  CHECK(tide_table_size(lt) == 100);
  /* a torn record: every partial length is not a commit (no error) */
  for (uint64_t part = 1; part < R; part += 1 + part / 4) {
    put_bytes(logp, R, rec, part);
    CHECK_OK(tide__itail_poll(t, &got, &at, &err), err);
    CHECK_MSG(!got, "a record torn after %llu of %llu bytes was read", (unsigned long long)part,
              (unsigned long long)R);
    tide_table_free(got);
    CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
    CHECK(tide_table_size(lt) == 100);
    checks += 2;
    int fd = open(logp, O_RDWR);
    CHECK(fd >= 0 && ftruncate(fd, (off_t)R) == 0);
    close(fd);
  }
  /* an all-zero record (space allocated, never written) */
  {
    uint8_t zero[48 + 32 * NC] = {0};
    put_bytes(logp, R, zero, R);
    CHECK_OK(tide__itail_poll(t, &got, &at, &err), err);
    CHECK(!got);
    checks++;
  }
  /* a corrupt last record: a clear error (after the re-reads), nothing
   * consumed; repaired, it is read */
  for (uint64_t off = 0; off < R; off += 37) {
    uint8_t bad[48 + 32 * NC];
    memcpy(bad, rec, R);
    bad[off] ^= (uint8_t)(1u << (off % 8));
    put_bytes(logp, R, bad, R);
    tide_error_clear(&err);
    tide_status st = tide__itail_poll(t, &got, &at, &err);
    CHECK_MSG(st == TIDE_ERR_CORRUPT && !got && strstr(err.msg, "commit.log") &&
                  (strstr(err.msg, "commit record 1") || strstr(err.msg, "inconsistent")),
              "flipped byte %llu of the record: %s", (unsigned long long)off, err.msg);
    checks++;
  }
  {
    uint8_t bad[48 + 32 * NC];
    memcpy(bad, rec, R);
    bad[60] ^= 4;
    put_bytes(logp, R, bad, R);
    tide_error_clear(&err);
    CHECK(tide_graph_run_cycles(g, 1, &err) != TIDE_OK && strstr(err.msg, "live_table('ns', "
                                                                            "'tdmg')") &&
          strstr(err.msg, "checksum mismatch"));
    CHECK(tide_table_size(lt) == 100);
  }
  /* damaged column data of the new batch: the batch and file named */
  put_bytes(logp, R, rec, R);
  flip(pxp, 100 * 8 + 17, 0x10);
  tide_error_clear(&err);
  CHECK(tide__itail_poll(t, &got, &at, &err) == TIDE_ERR_CORRUPT && !got &&
        strstr(err.msg, "Px.dat: commit batch 1 (rows 100..149): checksum mismatch"));
  CHECK(tide_graph_run_cycles(g, 1, &err) != TIDE_OK && strstr(err.msg, "Px.dat"));
  flip(pxp, 100 * 8 + 17, 0x10);
  /* a column file cut below the new commit */
  uint64_t pxsize = file_size(pxp);
  {
    int fd = open(pxp, O_RDWR);
    CHECK(fd >= 0 && ftruncate(fd, (off_t)(120 * 8)) == 0);
    close(fd);
  }
  tide_error_clear(&err);
  CHECK(tide__itail_poll(t, &got, &at, &err) == TIDE_ERR_CORRUPT &&
        strstr(err.msg, "the file was truncated") && strstr(err.msg, "Px.dat"));
  checks += 3;
  /* restored: both read the batch */
  {
    tide_table_t *rows = make_rows(100, 50);
    const tide_source_t *px = tide_table_col_source(rows, 1);
    double v[50];
    tide_rowseq_t seq = {0, NULL, 0, 50};
    tide_source_fill(px, &seq, v);
    put_bytes(pxp, 100 * 8, v, sizeof v);
    tide_table_free(rows);
  }
  CHECK(file_size(pxp) == pxsize);
  CHECK_OK(tide__itail_poll(t, &got, &at, &err), err);
  CHECK(got && at == 100 && tide_table_size(got) == 50);
  if (got) CHECK_ROWS(got, 100, 50);
  tide_table_free(got);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK_LIVE_ROWS(lt, 0, 150);
  /* the log cut below what was read: committed rows lost */
  {
    int fd = open(logp, O_RDWR);
    CHECK(fd >= 0 && ftruncate(fd, (off_t)R) == 0);
    close(fd);
  }
  tide_error_clear(&err);
  CHECK(tide__itail_poll(t, &got, &at, &err) == TIDE_ERR_CORRUPT &&
        strstr(err.msg, "committed rows are lost"));
  put_bytes(logp, R, rec, R);
  CHECK_OK(tide__itail_poll(t, &got, &at, &err), err);
  CHECK(!got);
  /* the partition removed (and the log replaced) */
  {
    char moved[600];
    snprintf(moved, sizeof moved, "%s.old", logp);
    CHECK(rename(logp, moved) == 0);
    tide_error_clear(&err);
    CHECK(tide__itail_poll(t, &got, &at, &err) == TIDE_ERR_STATE && strstr(err.msg, "removed"));
    copy_file(moved, logp);
    tide_error_clear(&err);
    CHECK(tide__itail_poll(t, &got, &at, &err) == TIDE_ERR_STATE && strstr(err.msg, "replaced"));
    checks += 4;
  }
  tide__itail_close(t);
  tide_table_free(lt);
  tide_graph_free(g);
  /* a poll that fails in a column after a SYMBOL column whose dictionary
   * grew: once repaired, the next poll reads the new symbols right */
  {
    static const char *const dn[] = {"Sym", "Small"};
    static const tide_type_t dt[] = {TIDE_SYMBOL, TIDE_I8};
    const char *s0[] = {"a", "b", "a"}, *s1[] = {"c", "a", "d", "c"};
    int8_t v0[] = {1, 2, 3}, v1[] = {4, 5, 6, 7};
    const void *c0[] = {s0, v0}, *c1[] = {s1, v1};
    tide_table_t *b0 = tu_table(3, 2, dn, dt, c0), *b1 = tu_table(4, 2, dn, dt, c1);
    tide_appender_t *da = tide_appender_open(g_db, "ns", "tdict", "2026-01-02", 2, dn, dt, &err);
    CHECK_OK_PTR(da, err);
    if (da) {
      CHECK_OK(tide_appender_append(da, b0, &err), err);
      CHECK_OK(tide_appender_commit(da, &err), err);
    }
    tide__itail_t *dtl = tide__itail_open(g_db, "ns", "tdict", "2026-01-02", &err);
    CHECK_OK_PTR(dtl, err);
    if (da && dtl) {
      CHECK_OK(tide__itail_poll(dtl, &got, &at, &err), err);
      CHECK(got && tide_table_size(got) == 3);
      tide_table_free(got);
      CHECK_OK(tide_appender_append(da, b1, &err), err);
      CHECK_OK(tide_appender_commit(da, &err), err);
      char smp[512];
      part_file(smp, sizeof smp, "tdict", "Small.dat");
      flip(smp, 4, 0x01);
      tide_error_clear(&err);
      CHECK(tide__itail_poll(dtl, &got, &at, &err) == TIDE_ERR_CORRUPT && !got &&
            strstr(err.msg, "Small.dat: commit batch 1 (rows 3..6)"));
      flip(smp, 4, 0x01);
      CHECK_OK(tide__itail_poll(dtl, &got, &at, &err), err);
      CHECK_MSG(got && at == 3 && tide_table_size(got) == 4, "%s", err.msg);
      if (got && tide_table_size(got) == 4) CHECK_TABLES(got, b1, 0);
      tide_table_free(got);
      checks += 4;
    }
    tide__itail_close(dtl);
    tide_appender_close(da);
    tide_table_free(b0);
    tide_table_free(b1);
  }
  printf("tail damage: %d checks (torn, zeroed, corrupt records; damaged and cut data; cut and "
         "replaced log; a retry after new symbols)\n", checks);
}

/* The lambda pipeline: merge([historical_table, live_table]) then update,
 * agg_by and aj, ticking as the appenders commit; after every cycle the
 * results equal the same queries over a static merge of the history and a
 * full read of today's partition. */
static const char *const LT_NAMES[] = {"Timestamp", "Sym", "Price", "Size"};
static const tide_type_t LT_TYPES[] = {TIDE_TS, TIDE_SYMBOL, TIDE_F64, TIDE_I64};
static const char *const LQ_NAMES[] = {"Timestamp", "Sym", "Bid", "Ask"};
static const tide_type_t LQ_TYPES[] = {TIDE_TS, TIDE_SYMBOL, TIDE_F64, TIDE_F64};

/* n trades (quotes) of day `day` (ns at midnight), row numbers row0.. of
 * the day, 1 ms apart from 09:30. */
static tide_table_t *lam_rows(bool quotes, uint64_t n, int64_t day, uint64_t row0, tu_rng *rng) {
  int64_t *ts = malloc((n + 1) * 8), *size = malloc((n + 1) * 8);
  double *a = malloc((n + 1) * 8), *b = malloc((n + 1) * 8);
  const char **sym = malloc((n + 1) * sizeof *sym);
  static const char *const syms[] = {"S0", "S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9"};
  for (uint64_t i = 0; i < n; i++) {
    ts[i] = day + INT64_C(34200000000000) + (int64_t)(row0 + i) * 1000000;
    uint64_t s = tu_below(rng, 10);
    sym[i] = syms[s];
    a[i] = 10.0 * (double)(s + 1) + (double)tu_below(rng, 100) / 100;
    b[i] = a[i] + 0.01 * (double)(1 + tu_below(rng, 5));
    size[i] = (int64_t)(1 + tu_below(rng, 1000));
  }
  const void *cols[4] = {ts, sym, a, quotes ? (const void *)b : (const void *)size};
  tide_table_t *t = tu_table(n, 4, quotes ? LQ_NAMES : LT_NAMES, quotes ? LQ_TYPES : LT_TYPES, cols);
  free(ts), free(size), free(a), free(b), free(sym);
  return t;
}

typedef struct lam_q {
  tide_table_t *u, *agg, *vwap, *tq;
} lam_q;

static bool lam_build(tide_table_t *trades, tide_table_t *quotes, lam_q *q, tide_error *err) {
  const char *f1[] = {"Notional = Price * Size"}, *f2[] = {"VWAP = Notional / Size"};
  const char *by[] = {"Sym"}, *sc[] = {"Notional", "Size"};
  tide_agg_spec_t sp = {TIDE_AGG_SUM, sc, 2, 0, NULL, false};
  const char *on[] = {"Sym", "Timestamp >= Timestamp"}, *jn[] = {"Bid", "Ask"};
  memset(q, 0, sizeof *q);
  return (q->u = tide_update(trades, f1, 1, err)) && (q->agg = tide_agg_by(q->u, &sp, 1, by, 1, err)) &&
         (q->vwap = tide_update(q->agg, f2, 1, err)) &&
         (q->tq = tide_aj(trades, quotes, on, 2, jn, 2, err));
}

static void lam_free(lam_q *q) {
  tide_table_free(q->tq);
  tide_table_free(q->vwap);
  tide_table_free(q->agg);
  tide_table_free(q->u);
}

/* t's current rows as a static table without Date, sorted by `sort`
 * when given. */
static tide_table_t *lam_static(tide_table_t *t, const char *sort) {
  tide_error err;
  tide_table_t *s = tide_snapshot(t, &err), *d = NULL, *o = NULL;
  const char *drop[] = {"Date"};
  if (s) d = tide_table_col_index(s, "Date") >= 0 ? tide_drop_columns(s, drop, 1, &err)
                                                  : tide_table_retain(s);
  if (d) o = sort ? tide_sort(d, &sort, 1, &err) : tide_table_retain(d);
  CHECK_OK_PTR(o, err);
  tide_table_free(s);
  tide_table_free(d);
  return o;
}

typedef struct lam_seen {
  uint64_t added, first_key, modified;
  bool other; /* removed or shifted rows */
} lam_seen;

static void lam_listener(tide_table_t *t, const tide_update_t *u, void *ctx) {
  lam_seen *s = ctx;
  uint64_t n = u->added ? tide_rowset_size(u->added) : 0;
  if (n && !s->added) s->first_key = tide_rowset_first(u->added);
  s->added += n;
  if (u->modified) s->modified += tide_rowset_size(u->modified);
  if ((u->removed && !tide_rowset_is_empty(u->removed)) || u->nshifts) s->other = true;
}

static void test_lambda(void) {
  tide_error err;
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "mkdir -p '%s/Systems/lam/Partitions/0' '%s/Systems/lam/WritablePartitions' && ln -sfn "
           "../Partitions/0 '%s/Systems/lam/WritablePartitions/0'",
           g_db, g_db, g_db);
  CHECK(system(cmd) == 0);
  int64_t today;
  CHECK(tide_ts_parse("2026-01-04", 10, &today));
  const int64_t DAY = INT64_C(86400000000000);
  const char *dates[] = {"2026-01-01", "2026-01-02", "2026-01-03"};
  tu_rng rng = {tu_seed(21)};
  uint64_t hist_rows = 0;
  for (int d = 0; d < 3; d++)
    for (int q = 0; q < 2; q++) {
      uint64_t n = 1500 + tu_below(&rng, 1000);
      tide_table_t *t = lam_rows(q, n, today - (3 - d) * DAY, 0, &rng);
      CHECK_OK(tide_historical_write(g_db, "lam", q ? "quotes" : "trades", dates[d], t,
                                     TIDE_CODEC_LZ4, &err), err);
      if (!q) hist_rows += n;
      tide_table_free(t);
    }
  tide_appender_t *at = tide_appender_open(g_db, "lam", "trades", "2026-01-04", 4, LT_NAMES,
                                           LT_TYPES, &err);
  tide_appender_t *aq = tide_appender_open(g_db, "lam", "quotes", "2026-01-04", 4, LQ_NAMES,
                                           LQ_TYPES, &err);
  CHECK_OK_PTR(at && aq ? at : NULL, err);
  tide_graph_t *g = tide_graph_create(&err);
  if (!at || !aq || !g) {
    tide_appender_close(at);
    tide_appender_close(aq);
    tide_graph_free(g);
    return;
  }
  uint64_t nt = 0, nq = 0;
  tide_table_t *t0 = lam_rows(false, 50, today, 0, &rng), *q0 = lam_rows(true, 80, today, 0, &rng);
  CHECK_OK(tide_appender_append(at, t0, &err), err);
  CHECK_OK(tide_appender_append(aq, q0, &err), err);
  CHECK_OK(tide_appender_commit(at, &err), err);
  CHECK_OK(tide_appender_commit(aq, &err), err);
  nt = 50, nq = 80;
  tide_table_free(t0);
  tide_table_free(q0);
  tide_table_t *ht = tide_historical_table(g_db, "lam", "trades", &err);
  tide_table_t *hq = tide_historical_table(g_db, "lam", "quotes", &err);
  tide_table_t *lt = tide_live_table(g, g_db, "lam", "trades", "2026-01-04", &err);
  tide_table_t *lq = tide_live_table(g, g_db, "lam", "quotes", "2026-01-04", &err);
  tide_table_t *mt = NULL, *mq = NULL;
  if (ht && hq && lt && lq) {
    tide_table_t *p1[2] = {ht, lt}, *p2[2] = {hq, lq};
    mt = tide_merge(p1, 2, &err);
    mq = mt ? tide_merge(p2, 2, &err) : NULL;
  }
  CHECK_OK_PTR(mq, err);
  lam_q tq = {0};
  bool built = mq && lam_build(mt, mq, &tq, &err);
  CHECK_MSG(built, "lambda pipeline: %s", err.msg);
  lam_seen seen_m = {0}, seen_tq = {0};
  int cycles = 0;
  uint64_t compared = 0;
  if (built) {
    CHECK(tide_table_kind(mt) == TIDE_KIND_APPEND_ONLY &&
          tide_table_kind(mq) == TIDE_KIND_APPEND_ONLY);
    CHECK(tide_table_size(mt) == hist_rows + nt);
    CHECK(tide_table_listen(mt, lam_listener, &seen_m, &err) != NULL);
    CHECK(tide_table_listen(tq.tq, lam_listener, &seen_tq, &err) != NULL);
    for (; cycles < 40; cycles++) {
      uint64_t kt = tu_below(&rng, 4) ? tu_below(&rng, 300) : 0, kq = tu_below(&rng, 400);
      if (kt) {
        tide_table_t *r = lam_rows(false, kt, today, nt, &rng);
        CHECK_OK(tide_appender_append(at, r, &err), err);
        CHECK_OK(tide_appender_commit(at, &err), err);
        tide_table_free(r);
      }
      if (kq) {
        tide_table_t *r = lam_rows(true, kq, today, nq, &rng);
        CHECK_OK(tide_appender_append(aq, r, &err), err);
        CHECK_OK(tide_appender_commit(aq, &err), err);
        tide_table_free(r);
      }
      seen_m = (lam_seen){0};
      seen_tq = (lam_seen){0};
      CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
      /* the merge appends exactly today's new rows, in input 1's key slice */
      CHECK_MSG(seen_m.added == kt && !seen_m.other && !seen_m.modified &&
                    (!kt || seen_m.first_key == ((UINT64_C(1) << 40) | nt)),
                "cycle %d: merge added %llu (first key %llx), %llu committed", cycles,
                (unsigned long long)seen_m.added, (unsigned long long)seen_m.first_key,
                (unsigned long long)kt);
      /* the as-of join adds the new trades; new quotes may re-match
       * today's trades (modifies), never history's */
      CHECK(seen_tq.added == kt && !seen_tq.other && seen_tq.modified <= nt);
      nt += kt;
      nq += kq;
      if (cycles % 8 != 7 && cycles != 39) continue;
      /* against a static recompute */
      tide_table_t *st = tide_intraday_read(g_db, "lam", "trades", "2026-01-04", &err);
      tide_table_t *sq = tide_intraday_read(g_db, "lam", "quotes", "2026-01-04", &err);
      tide_table_t *hts = lam_static(ht, NULL), *hqs = lam_static(hq, NULL);
      lam_q ref = {0};
      if (st && sq && hts && hqs) {
        tide_table_t *p1[2] = {hts, st}, *p2[2] = {hqs, sq};
        tide_table_t *rt = tide_merge(p1, 2, &err), *rq = tide_merge(p2, 2, &err);
        CHECK(rt && rq && lam_build(rt, rq, &ref, &err));
        tide_table_t *a = lam_static(tq.vwap, "Sym"), *b = ref.vwap ? lam_static(ref.vwap, "Sym") : NULL;
        if (a && b) CHECK_TABLES(a, b, 1e-12);
        tide_table_free(a);
        tide_table_free(b);
        a = lam_static(tq.tq, NULL);
        b = ref.tq ? lam_static(ref.tq, NULL) : NULL;
        if (a && b) CHECK_TABLES(a, b, 0);
        compared += a ? tide_table_size(a) : 0;
        tide_table_free(a);
        tide_table_free(b);
        lam_free(&ref);
        tide_table_free(rt);
        tide_table_free(rq);
      }
      tide_table_free(st);
      tide_table_free(sq);
      tide_table_free(hts);
      tide_table_free(hqs);
    }
    /* Date: the history's dates, then today's */
    tide_table_t *days = NULL;
    const char *by[] = {"Date"};
    tide_agg_spec_t cnt = {TIDE_AGG_COUNT, (const char *const[]){"N"}, 1, 0, NULL, false};
    days = tide_agg_by(mt, &cnt, 1, by, 1, &err);
    CHECK_OK_PTR(days, err);
    if (days) {
      CHECK(tide_table_size(days) == 4 && !strcmp(tu_cell(days, "Date", 3), "2026-01-04") &&
            tu_cell_f64(days, "N", 3) == (double)nt);
    }
    tide_table_free(days);
  }
  printf("lambda: %llu history + %llu live trades, %llu + %llu live quotes over %d cycles; "
         "%llu as-of joined rows compared with static recomputes\n",
         (unsigned long long)hist_rows, (unsigned long long)nt,
         (unsigned long long)(hq ? tide_table_size(hq) : 0), (unsigned long long)nq, cycles,
         (unsigned long long)compared);
  lam_free(&tq);
  tide_table_free(mt);
  tide_table_free(mq);
  tide_table_free(lt);
  tide_table_free(lq);
  tide_table_free(ht);
  tide_table_free(hq);
  tide_graph_free(g);
  tide_appender_close(at);
  tide_appender_close(aq);
}

/* --------------------------------------------------- tide ingest (CLI) */

static void test_cli(void) {
  const char *bin = getenv("TIDE_BIN");
  if (!bin || access(bin, X_OK) != 0) {
    printf("cli: skipped (TIDE_BIN not set)\n");
    return;
  }
  char csv[512], cmd[2048];
  snprintf(csv, sizeof csv, "%s/in.csv", g_db);
  FILE *f = fopen(csv, "w");
  fprintf(f, "Sym,Px,Qty\n");
  for (int i = 0; i < 2500; i++) fprintf(f, "S%d,%d.5,%d\n", i % 4, i, i * 10);
  fclose(f);
  snprintf(cmd, sizeof cmd, "%s ingest --db %s --ns cli --table T --date 2026-01-05 --csv %s",
           bin, g_db, csv);
  CHECK(system(cmd) == 0);
  /* streaming: commit every 1000 rows, twice more data */
  snprintf(cmd, sizeof cmd,
           "cat %s %s | grep -v '^Sym' | (echo Sym,Px,Qty; cat) | %s ingest --db %s --ns cli "
           "--table T --date 2026-01-05 --csv - --commit-rows 1000",
           csv, csv, bin, g_db);
  CHECK(system(cmd) == 0);
  tide_error err;
  tide_table_t *t = tide_intraday_read(g_db, "cli", "T", "2026-01-05", &err);
  CHECK_OK_PTR(t, err);
  CHECK(t && tide_table_size(t) == 7500);
  if (t && tide_table_size(t) == 7500) {
    CHECK(!strcmp(tu_cell(t, "Sym", 7499), "S3"));
    CHECK(tu_cell_f64(t, "Px", 2500) == 0.5 && tu_cell_f64(t, "Qty", 7499) == 24990);
  }
  tide_table_free(t);
  /* --commit-ms: an idle stream still commits (two rows 0.4 s apart: two
   * commits with a 100 ms interval) */
  char out[512];
  snprintf(out, sizeof out, "%s/ingest.err", g_db);
  snprintf(cmd, sizeof cmd,
           "(echo A,B; echo 1,x; sleep 0.4; echo 2,y) | %s ingest --db %s --ns cli --table U "
           "--date 2026-01-05 --csv - --commit-ms 100 2>%s",
           bin, g_db, out);
  CHECK(system(cmd) == 0);
  {
    FILE *ef = fopen(out, "r");
    char line[512] = "";
    if (ef) {
      if (!fgets(line, sizeof line, ef)) line[0] = '\0';
      fclose(ef);
    }
    CHECK_MSG(strstr(line, "2 rows in 2 commits"), "%s", line);
  }
  /* live_table from a script */
  char script[512];
  snprintf(script, sizeof script, "%s/live.tide", g_db);
  f = fopen(script, "w");
  fprintf(f, "t = live_table(\"cli\", \"T\", db=\"%s\", date=\"2026-01-05\")\n"
             "print(t.size)\nprint(t.where(\"Sym == `S3`\").size)\n", g_db);
  fclose(f);
  snprintf(cmd, sizeof cmd, "%s run %s --cycles 1 > %s 2>&1", bin, script, out);
  CHECK(system(cmd) == 0);
  {
    FILE *of = fopen(out, "r");
    char text[512] = "";
    size_t n = of ? fread(text, 1, sizeof text - 1, of) : 0;
    text[n] = '\0';
    if (of) fclose(of);
    CHECK_MSG(strstr(text, "7500\n1875\n"), "%s", text);
  }
  /* the lambda pipeline from a script (the partitions test_lambda made),
   * sleep() cycling the graph, and sleep()'s argument check */
  {
    tide_table_t *lt = tide_intraday_read(g_db, "lam", "trades", "2026-01-04", &err);
    tide_table_t *h = tide_historical_table(g_db, "lam", "trades", &err);
    uint64_t want = lt && h ? tide_table_size(lt) + tide_table_size(h) : 0;
    tide_table_free(lt);
    tide_table_free(h);
    f = fopen(script, "w");
    fprintf(f,
            "t = merge([historical_table(\"lam\", \"trades\", db=\"%s\"), live_table(\"lam\", "
            "\"trades\", db=\"%s\", date=\"2026-01-04\")])\n"
            "d = t.agg_by([agg.count_(\"N\")], by=[\"Date\"])\n"
            "sleep(0.05)\nprint(t.size)\nprint(d.size)\nsleep(-1)\n",
            g_db, g_db);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s run %s > %s 2>&1", bin, script, out);
    int rc3 = system(cmd);
    FILE *of = fopen(out, "r");
    char text[1024] = "", expect[64];
    size_t n = of ? fread(text, 1, sizeof text - 1, of) : 0;
    text[n] = '\0';
    if (of) fclose(of);
    snprintf(expect, sizeof expect, "%llu\n4\n", (unsigned long long)want);
    CHECK_MSG(want && WIFEXITED(rc3) && WEXITSTATUS(rc3) == 1 && strstr(text, expect) &&
                  strstr(text, ":6:") && strstr(text, "sleep(): seconds must be within"),
              "%s", text);
  }
  /* a second writer is refused */
  {
    tide_appender_t *a = tide_appender_open(g_db, "cli", "T", "2026-01-05", 0, NULL, NULL, &err);
    CHECK_OK_PTR(a, err);
    snprintf(cmd, sizeof cmd,
             "%s ingest --db %s --ns cli --table T --date 2026-01-05 --csv %s 2>%s", bin, g_db,
             csv, out);
    int rc2 = system(cmd);
    CHECK(WIFEXITED(rc2) && WEXITSTATUS(rc2) == 1);
    FILE *ef = fopen(out, "r");
    char line[512] = "";
    if (ef) {
      if (!fgets(line, sizeof line, ef)) line[0] = '\0';
      fclose(ef);
    }
    CHECK_MSG(strstr(line, "already has a writer"), "%s", line);
    tide_appender_close(a);
  }
  /* bad names are refused with exit status 2 */
  snprintf(cmd, sizeof cmd, "%s ingest --db %s --ns .. --table T --csv %s 2>/dev/null", bin, g_db,
           csv);
  int rc = system(cmd);
  CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
}

int main(void) {
  const char *shm = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(g_db, sizeof g_db, "%s/tide-intraday-%ld", shm, (long)getpid());
  rm_rf(g_db);
  void (*tests[])(void) = {test_names, test_round_trip, test_one_writer, test_crash, test_damage,
                           test_concurrent_read, test_oom, test_live, test_live_tail,
                           test_tail_damage, test_lambda, test_cli};
  const char *tnames[] = {"names", "round trip", "one writer", "crash", "damage", "concurrent",
                          "oom", "live", "live tail", "tail damage", "lambda", "cli"};
  for (size_t i = 0; i < sizeof tests / sizeof *tests; i++) {
    struct timespec t0, t1;
    clock_t c0 = clock();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    tests[i]();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("  %s: %.2f s (cpu %.2f s)\n", tnames[i],
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9,
           (double)(clock() - c0) / CLOCKS_PER_SEC);
  }
  rm_rf(g_db);
  return tu_finish("intraday");
}
