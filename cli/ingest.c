/*
 * `tide ingest`: append CSV rows to an intraday partition
 * (include/tide/intraday.h).
 *
 *   tide ingest [--db DIR] --ns NS --table T [--date D] --csv FILE|-
 *               [--commit-rows N] [--commit-ms MS] [--quiet]
 *
 * With a file: the whole file is read (tide_read_csv) and committed as one
 * batch. With '-': stdin is streamed. Records are cut at newlines outside
 * double quotes (so quoted fields may hold newlines); a batch is committed
 * every --commit-rows records or --commit-ms milliseconds after its first
 * record arrived, whichever comes first, and at end of input. Each batch
 * is parsed by tide_read_csv_buffer with the header line prepended.
 *
 * Types: an existing partition's schema is given to the CSV reader as
 * explicit types; a new partition takes the types inferred from the file
 * (or from the first streamed batch).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/script.h"
#include "tide/intraday.h"

#define EXIT_USAGE 2

const char tide__ingest_usage[] =
    "usage: tide ingest [--db DIR] --ns NS --table T [--date D] --csv FILE|-\n"
    "                   [--commit-rows N] [--commit-ms MS] [--quiet]\n"
    "\n"
    "Append the rows of a CSV file (with a header row) to the intraday partition\n"
    "DIR/Intraday/NS/T/D/, creating it on first use. Rows become visible to readers\n"
    "(read_intraday, live_table) only when committed; a crash loses no committed row.\n"
    "One ingester per partition: a second one is refused.\n"
    "\n"
    "options:\n"
    "  --db DIR           database root (default ./tide-db)\n"
    "  --ns NS            namespace\n"
    "  --table T          table name\n"
    "  --date D           partition date YYYY-MM-DD (default: today, UTC)\n"
    "  --csv FILE         read FILE and commit its rows at once\n"
    "  --csv -            stream stdin: one record per line (newlines inside quotes\n"
    "                     allowed), committed in batches\n"
    "  --commit-rows N    streaming: commit every N rows (default 10000)\n"
    "  --commit-ms MS     streaming: commit at most MS milliseconds after a row\n"
    "                     arrived (default 1000)\n"
    "  --quiet            no summary on stderr\n"
    "\n"
    "A new partition takes the column types inferred from the file (streaming: from\n"
    "the first batch); an existing partition's types are imposed on the CSV reader.\n";

static int ing_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "tide ingest: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nRun 'tide ingest --help' for usage.\n");
  return EXIT_USAGE;
}

static bool ing_u64(const char *s, uint64_t *out) {
  if (!s || !*s) return false;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (*end || errno || s[0] == '-') return false;
  *out = v;
  return true;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct ingest {
  const char *db, *ns, *table, *date;
  tide_appender_t *app;
  tide_csv_options_t opt;
  const char **type_names;
  tide_type_t *types;
  uint64_t rows, commits;
} ingest;

/* Impose the appender's column types on the CSV reader. */
static tide_status ing_use_types(ingest *g, tide_error *err) {
  size_t nc = tide_appender_ncols(g->app);
  free(g->type_names);
  free(g->types);
  g->type_names = calloc(nc ? nc : 1, sizeof *g->type_names);
  g->types = calloc(nc ? nc : 1, sizeof *g->types);
  if (!g->type_names || !g->types) return tide_error_set(err, TIDE_ERR_NOMEM, "out of memory");
  for (size_t c = 0; c < nc; c++) {
    g->type_names[c] = tide_appender_col_name(g->app, c);
    g->types[c] = tide_appender_col_type(g->app, c);
  }
  g->opt.ntypes = nc;
  g->opt.type_names = g->type_names;
  g->opt.types = g->types;
  return TIDE_OK;
}

/* Open the partition's appender if the partition exists; a missing one is
 * created by the first commit, with the types of the first batch. */
static tide_status ing_open_existing(ingest *g, tide_error *err) {
  g->app = tide_appender_open(g->db, g->ns, g->table, g->date, 0, NULL, NULL, err);
  if (!g->app) return err->status == TIDE_ERR_NOT_FOUND ? TIDE_OK : err->status;
  return ing_use_types(g, err);
}

/* Append t and commit (creating the partition from t's schema). */
static tide_status ing_commit(ingest *g, tide_table_t *t, tide_error *err) {
  if (!g->app) {
    size_t nc = tide_table_ncols(t);
    const char **names = calloc(nc ? nc : 1, sizeof *names);
    tide_type_t *types = calloc(nc ? nc : 1, sizeof *types);
    if (!names || !types) {
      free(names);
      free(types);
      return tide_error_set(err, TIDE_ERR_NOMEM, "out of memory");
    }
    for (size_t c = 0; c < nc; c++) {
      names[c] = tide_table_col_name(t, c);
      types[c] = tide_table_col_type(t, c);
    }
    g->app = tide_appender_open(g->db, g->ns, g->table, g->date, nc, names, types, err);
    free(names);
    free(types);
    if (!g->app) return err->status;
    TIDE_TRY(ing_use_types(g, err));
  }
  TIDE_TRY(tide_appender_append(g->app, t, err));
  TIDE_TRY(tide_appender_commit(g->app, err));
  g->rows += tide_table_size(t);
  g->commits++;
  return TIDE_OK;
}

typedef struct bytes {
  char *p;
  size_t len, cap;
} bytes;

static bool bytes_add(bytes *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return false;
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
  return true;
}

/* Parse the batch (header + records) and commit it. */
static tide_status ing_flush(ingest *g, bytes *batch, size_t hdr_len, uint64_t *nrec,
                             uint64_t first_line, tide_error *err) {
  if (*nrec == 0) return TIDE_OK;
  char name[96];
  snprintf(name, sizeof name, "stdin (batch from input line %llu; lines count from its header)",
           (unsigned long long)first_line);
  tide_table_t *t = tide_read_csv_buffer(batch->p, batch->len, name, &g->opt, err);
  if (!t) return err->status;
  tide_status st = ing_commit(g, t, err);
  tide_table_free(t);
  batch->len = hdr_len;
  *nrec = 0;
  return st;
}

static tide_status ing_stream(ingest *g, uint64_t commit_rows, int64_t commit_ms,
                              tide_error *err) {
  bytes in = {0}, batch = {0};
  size_t rec_start = 0, scan = 0, hdr_len = 0;
  bool in_quote = false, have_hdr = false, eof = false;
  uint64_t nrec = 0, line = 0, batch_line = 0;
  int64_t deadline = 0;
  tide_status st = TIDE_OK;
  char chunk[65536];
  while (st == TIDE_OK && !eof) {
    int timeout = -1;
    if (nrec) {
      int64_t left = deadline - now_ms();
      timeout = left < 0 ? 0 : (int)left;
    }
    struct pollfd pfd = {0, POLLIN, 0};
    int pr = poll(&pfd, 1, timeout);
    if (pr < 0 && errno != EINTR) {
      st = tide_error_set(err, TIDE_ERR_IO, "reading stdin: %s", strerror(errno));
      break;
    }
    if (pr == 0) { /* the commit interval passed */
      st = ing_flush(g, &batch, hdr_len, &nrec, batch_line, err);
      continue;
    }
    if (pr < 0) continue;
    ssize_t n = read(0, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      st = tide_error_set(err, TIDE_ERR_IO, "reading stdin: %s", strerror(errno));
      break;
    }
    if (n == 0) {
      eof = true;
      if (rec_start < in.len && !bytes_add(&in, "\n", 1)) goto oom; /* last line unterminated */
    } else if (!bytes_add(&in, chunk, (size_t)n)) {
      goto oom;
    }
    for (; scan < in.len && st == TIDE_OK; scan++) {
      char ch = in.p[scan];
      if (ch == '"') in_quote = !in_quote;
      if (ch != '\n' || in_quote) continue;
      const char *r = in.p + rec_start;
      size_t rl = scan + 1 - rec_start;
      line++;
      rec_start = scan + 1;
      if (rl == 1 || (rl == 2 && r[0] == '\r')) continue; /* blank line */
      if (!have_hdr) {
        if (!bytes_add(&batch, r, rl)) goto oom;
        hdr_len = batch.len;
        have_hdr = true;
        continue;
      }
      if (!bytes_add(&batch, r, rl)) goto oom;
      if (nrec++ == 0) {
        deadline = now_ms() + commit_ms;
        batch_line = line;
      }
      if (nrec >= commit_rows) st = ing_flush(g, &batch, hdr_len, &nrec, batch_line, err);
    }
    /* keep only the unfinished record */
    if (rec_start) memmove(in.p, in.p + rec_start, in.len - rec_start);
    in.len -= rec_start;
    scan -= rec_start;
    rec_start = 0;
  }
  if (st == TIDE_OK) st = ing_flush(g, &batch, hdr_len, &nrec, batch_line, err);
  if (st == TIDE_OK && in_quote)
    st = tide_error_set(err, TIDE_ERR_CSV, "stdin: the input ends inside a quoted field");
  if (st == TIDE_OK && !have_hdr)
    st = tide_error_set(err, TIDE_ERR_CSV, "stdin: no header line");
  free(in.p);
  free(batch.p);
  return st;
oom:
  free(in.p);
  free(batch.p);
  return tide_error_set(err, TIDE_ERR_NOMEM, "out of memory");
}

int tide__cli_ingest(int argc, char **argv);
int tide__cli_ingest(int argc, char **argv) {
  ingest g = {0};
  const char *csv = NULL;
  uint64_t commit_rows = 10000, commit_ms = 1000;
  bool quiet = false;
  char today[16];
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(tide__ingest_usage, stdout);
      return 0;
    }
    if (!strcmp(a, "--quiet")) {
      quiet = true;
      continue;
    }
    static const char *const opts[] = {"--db", "--ns", "--table", "--date", "--csv",
                                       "--commit-rows", "--commit-ms"};
    int which = -1;
    const char *v = NULL;
    for (int k = 0; k < 7 && which < 0; k++) {
      size_t l = strlen(opts[k]);
      if (strncmp(a, opts[k], l) != 0) continue;
      if (a[l] == '=') {
        which = k;
        v = a + l + 1;
      } else if (a[l] == '\0') {
        which = k;
        if (i + 1 >= argc) return ing_usage("option '%s' needs a value", opts[k]);
        v = argv[++i];
      }
    }
    switch (which) {
      case 0: g.db = v; break;
      case 1: g.ns = v; break;
      case 2: g.table = v; break;
      case 3: g.date = v; break;
      case 4: csv = v; break;
      case 5:
        if (!ing_u64(v, &commit_rows) || commit_rows == 0)
          return ing_usage("--commit-rows wants a positive number, not '%s'", v);
        break;
      case 6:
        if (!ing_u64(v, &commit_ms) || commit_ms > 86400000)
          return ing_usage("--commit-ms wants milliseconds (0 to 86400000), not '%s'", v);
        break;
      default: return ing_usage("unknown argument '%s'", a);
    }
  }
  if (!g.ns) return ing_usage("%s", "missing --ns NS");
  if (!g.table) return ing_usage("%s", "missing --table T");
  if (!csv) return ing_usage("%s", "missing --csv FILE|-");
  if (!g.db) g.db = TIDE_DB_DEFAULT;
  if (!g.date) {
    tide_intraday_today(today, sizeof today);
    g.date = today;
  }
  tide_error err;
  tide_error_clear(&err);
  if (tide_intraday_check_name("namespace", g.ns, &err) != TIDE_OK ||
      tide_intraday_check_name("table", g.table, &err) != TIDE_OK ||
      tide_intraday_check_date(g.date, &err) != TIDE_OK) {
    fprintf(stderr, "tide ingest: %s\n", err.msg);
    return EXIT_USAGE;
  }
  tide_csv_options_init(&g.opt);
  tide_status st = ing_open_existing(&g, &err);
  if (st == TIDE_OK) {
    if (strcmp(csv, "-") == 0) {
      /* batches are small: one parsing thread (a parallel parse per batch
       * costs more in thread start-up and spinning than it saves) */
      g.opt.nthreads = 1;
      st = ing_stream(&g, commit_rows, (int64_t)commit_ms, &err);
    } else {
      tide_table_t *t = tide_read_csv(csv, &g.opt, &err);
      st = t ? ing_commit(&g, t, &err) : err.status;
      tide_table_free(t);
    }
  }
  uint64_t total = g.app ? tide_appender_committed_rows(g.app) : 0;
  tide_appender_close(g.app);
  free(g.type_names);
  free(g.types);
  if (st != TIDE_OK) {
    fprintf(stderr, "tide ingest: %s\n", err.msg);
    if (g.commits)
      fprintf(stderr, "tide ingest: %llu rows were committed (in %llu commits) before the error\n",
              (unsigned long long)g.rows, (unsigned long long)g.commits);
    return 1;
  }
  if (!quiet)
    fprintf(stderr, "tide ingest: %llu rows in %llu commits to %s/Intraday/%s/%s/%s (%llu rows)\n",
            (unsigned long long)g.rows, (unsigned long long)g.commits, g.db, g.ns, g.table,
            g.date, (unsigned long long)total);
  return 0;
}
