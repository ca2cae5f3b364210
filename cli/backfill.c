/*
 * `tide backfill`: run a script once per historical date and save chosen
 * tables of each run as historical partitions or CSV (issue 5, "The lambda
 * pipeline and backfills"; docs/STORAGE.md "Backfill").
 *
 *   tide backfill SCRIPT [--db DIR] [--from D1] [--to D2] --out NAME[,NAME...]
 *                 (--csv DIR | --to-ns NS [--codec C]) [--dates-of NS/TABLE]...
 *                 [--set NAME=VALUE]... [--threads N] [--timings] [--quiet]
 *
 * Dates: the union of the dates (within [--from, --to]) of the historical
 * tables the script reads, found by parsing the script for
 * historical_table("NS", "TABLE"[, db="..."]) calls with literal names (or
 * given with --dates-of). Per date D, in date order, the script runs in a
 * fresh interpreter whose historical_table() reads only D (the backfill
 * context of cli/script.h: tide_script_options.hist_*), with arg("date")
 * returning D. The --out tables are then saved: without their Date column
 * (if any), as historical table NAME of date D in NS's writable partitions
 * (--to-ns), or appended to DIR/NAME.csv with a leading Date column (--csv;
 * written under a temporary name, renamed at the end).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/script.h"
#include "tide/historical.h"
#include "tide/intraday.h"

#define EXIT_USAGE 2

const char tide__backfill_usage[] =
    "usage: tide backfill SCRIPT [--db DIR] [--from D1] [--to D2] --out NAME[,NAME...]\n"
    "                     (--csv DIR | --to-ns NS [--codec C]) [--dates-of NS/TABLE]...\n"
    "                     [--set NAME=VALUE]... [--threads N] [--timings] [--quiet]\n"
    "\n"
    "Run SCRIPT once per historical date and save tables it computes.\n"
    "\n"
    "Dates: every date in [D1, D2] (inclusive; default: all) holding one of the\n"
    "historical tables the script reads, i.e. its historical_table(\"NS\", \"TABLE\")\n"
    "calls (names must be string literals; or list the tables with --dates-of).\n"
    "Dates run one after another in date order; each run uses the engine's worker\n"
    "threads. In the run for date D:\n"
    "  - historical_table(...) reads only D (intersected with its own from_date/\n"
    "    to_date); its db defaults to --db;\n"
    "  - arg(\"date\") returns D (so --set date=... is refused);\n"
    "  - globals start empty (every date is an independent run).\n"
    "After the run, each --out variable must be a static table with the same columns\n"
    "(names, types) as on the first date. Its Date column, if it has one, is dropped\n"
    "(the date is the run's), then:\n"
    "  --to-ns NS   it is written as historical table NAME of date D into NS's\n"
    "               WritablePartitions (as write_historical). Before any run, every\n"
    "               (NAME, date) is checked: one that already exists is refused.\n"
    "  --csv DIR    its rows are appended to DIR/NAME.csv after a leading Date column\n"
    "               (D), dates in order, one header. The file is written as DIR/.NAME.csv.tmp.PID and renamed\n"
    "               over DIR/NAME.csv when all dates are done: a failed or interrupted\n"
    "               backfill leaves no partial NAME.csv (DIR is created if missing).\n"
    "\n"
    "options:\n"
    "  --db DIR             database root (default ./tide-db)\n"
    "  --from D1, --to D2   date range YYYY-MM-DD, inclusive (default: unbounded)\n"
    "  --out NAME[,NAME..]  script variables (tables) to save after each date\n"
    "  --csv DIR            save as CSV files DIR/NAME.csv\n"
    "  --to-ns NS           save as historical partitions of namespace NS\n"
    "  --codec C            column codec of --to-ns: none, lz4 (default), zstd\n"
    "  --dates-of NS/TABLE  take the dates of this historical table instead of\n"
    "                       parsing the script (repeatable: the union is used)\n"
    "  --set NAME=VALUE     value returned by arg(\"NAME\", default) in the script\n"
    "  --threads N          worker threads for each date's operations (0 = default)\n"
    "  --timings            each statement's wall time on stderr ('LINE: SECONDS s'),\n"
    "                       then 'save: SECONDS s' (writing the --out tables), per date\n"
    "  --quiet              no progress on stderr\n"
    "  -h, --help           show this help\n"
    "\n"
    "Progress (stderr): on a terminal one line redrawn in place,\n"
    "  [=========>          ] 4/10 dates  4.0M rows  2.1M rows/s  ETA 3s\n"
    "otherwise one line per date. Rows are those of the historical tables the runs\n"
    "read; the rate is rows over elapsed time; ETA = mean time per date so far x\n"
    "dates left.\n"
    "\n"
    "Errors: a run that fails stops the backfill with the date and the script error\n"
    "(SCRIPT:LINE:COL); with --to-ns the dates already done stay written (complete\n"
    "partitions) and are named; with --csv no file is written. Exit status: 0 done,\n"
    "1 failure, 2 bad usage.\n";

static int bf_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "tide backfill: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nRun 'tide backfill --help' for usage.\n");
  return EXIT_USAGE;
}


static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------- tables the script reads */

typedef struct bf_src {
  char *db, *ns, *table;
} bf_src;

typedef struct bf_srcs {
  bf_src *v;
  size_t n, cap;
} bf_srcs;

static void srcs_free(bf_srcs *s) {
  for (size_t i = 0; i < s->n; i++) {
    tide_free(s->v[i].db);
    tide_free(s->v[i].ns);
    tide_free(s->v[i].table);
  }
  tide_free(s->v);
  s->v = NULL;
  s->n = s->cap = 0;
}

/* Adds (db, ns, table) unless already there. false on OOM. */
static bool srcs_add(bf_srcs *s, const char *db, const char *ns, const char *table) {
  for (size_t i = 0; i < s->n; i++)
    if (!strcmp(s->v[i].db, db) && !strcmp(s->v[i].ns, ns) && !strcmp(s->v[i].table, table))
      return true;
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 4;
    bf_src *nv = tide_realloc(s->v, cap * sizeof *nv);
    if (!nv) return false;
    s->v = nv;
    s->cap = cap;
  }
  bf_src *e = &s->v[s->n];
  e->db = tide_strdup(db);
  e->ns = tide_strdup(ns);
  e->table = tide_strdup(table);
  if (!e->db || !e->ns || !e->table) {
    tide_free(e->db);
    tide_free(e->ns);
    tide_free(e->table);
    return false;
  }
  s->n++;
  return true;
}

/* The argument of a historical_table call for parameter `pos`/`kw`, or NULL. */
static const tide_script_node *call_arg(const tide_script_node *call, size_t pos, const char *kw) {
  size_t npos = 0;
  for (size_t i = 1; i < call->nkids; i++) {
    const char *k = call->kwnames ? call->kwnames[i - 1] : NULL;
    if (!k) {
      if (npos++ == pos) return call->kids[i];
    } else if (!strcmp(k, kw)) {
      return call->kids[i];
    }
  }
  return NULL;
}

/* Collect the historical_table("NS", "T", db=...) calls under node. On a
 * call whose names are not literals: prints where, returns false. */
static bool find_sources(const tide_script_node *nd, const char *script, const char *db,
                         bf_srcs *out, bool *oom) {
  if (!nd) return true;
  if (nd->kind == TIDE_NODE_CALL && nd->nkids >= 1 && nd->kids[0]->kind == TIDE_NODE_NAME &&
      !strcmp(nd->kids[0]->name, "historical_table")) {
    const tide_script_node *ns = call_arg(nd, 0, "namespace");
    const tide_script_node *tn = call_arg(nd, 1, "table_name");
    const tide_script_node *dbn = call_arg(nd, 2, "db");
    bool lit = ns && tn && ns->kind == TIDE_NODE_STRING && tn->kind == TIDE_NODE_STRING &&
               strlen(ns->str) == ns->str_len && strlen(tn->str) == tn->str_len &&
               (!dbn || dbn->kind == TIDE_NODE_NONE ||
                (dbn->kind == TIDE_NODE_STRING && strlen(dbn->str) == dbn->str_len));
    if (!lit) {
      fprintf(stderr,
              "tide backfill: %s:%d:%d: historical_table() whose namespace, table_name or db "
              "is not a string literal: cannot tell which dates to run; give the tables "
              "with --dates-of NS/TABLE\n",
              script, nd->line, nd->col);
      return false;
    }
    const char *d = dbn && dbn->kind == TIDE_NODE_STRING ? dbn->str : db;
    if (!srcs_add(out, d, ns->str, tn->str)) {
      *oom = true;
      return false;
    }
  }
  for (size_t i = 0; i < nd->nkids; i++)
    if (!find_sources(nd->kids[i], script, db, out, oom)) return false;
  return true;
}

/* ------------------------------------------------------------ dates */

typedef struct bf_dates {
  char (*v)[11];
  size_t n, cap;
} bf_dates;

static int cmp_date(const void *a, const void *b) { return strcmp(a, b); }

/* Union of the dates of every source within [from, to]; sorted, unique. */
static bool collect_dates(const bf_srcs *s, const char *from, const char *to, bf_dates *out) {
  tide_historical_query_t q = {0};
  q.from = from;
  q.to = to;
  for (size_t i = 0; i < s->n; i++) {
    tide_historical_part_t *parts = NULL;
    size_t n = 0;
    tide_error err;
    tide_error_clear(&err);
    if (tide_historical_list(s->v[i].db, s->v[i].ns, s->v[i].table, &q, &parts, &n, &err) !=
        TIDE_OK) {
      fprintf(stderr, "tide backfill: historical table %s/%s (db %s): %s\n", s->v[i].ns,
              s->v[i].table, s->v[i].db, err.msg);
      return false;
    }
    if (out->n + n > out->cap) {
      size_t cap = out->cap * 2 > out->n + n ? out->cap * 2 : out->n + n;
      char(*nv)[11] = tide_realloc(out->v, cap * sizeof *nv);
      if (!nv) {
        tide_historical_parts_free(parts, n);
        fprintf(stderr, "tide backfill: out of memory\n");
        return false;
      }
      out->v = nv;
      out->cap = cap;
    }
    for (size_t j = 0; j < n; j++) memcpy(out->v[out->n++], parts[j].date, 11);
    tide_historical_parts_free(parts, n);
  }
  if (out->n) qsort(out->v, out->n, sizeof *out->v, cmp_date);
  size_t k = 0;
  for (size_t j = 0; j < out->n; j++)
    if (!k || strcmp(out->v[k - 1], out->v[j]) != 0) memcpy(out->v[k++], out->v[j], 11);
  out->n = k;
  return true;
}

/* ------------------------------------------------- CSV output with Date */

/* One --csv output: the temporary file, and a stream filter (fopencookie)
 * that tide_write_csv_stream writes a date's table through: the header
 * record is checked against the first date's and written once with
 * "Date," in front; every other record gets "D," in front. Records are cut
 * at newlines outside double quotes. */
typedef struct bf_csv {
  char *path, *tmp;
  FILE *f;              /* the temporary file */
  char *obuf;           /* staging buffer of what goes to f */
  size_t olen;
  char *hdr;            /* the first date's header record (without "\n") */
  size_t hlen;
  char *cur;            /* the header record of the date being written */
  size_t clen, ccap;
  bool in_header, in_quote, at_start;
  bool bad_header;      /* this date's header differs from the first's */
  const char *date;
} bf_csv;

#define BF_OBUF (1u << 20)

static bool csv_flush(bf_csv *c) {
  if (c->olen && fwrite(c->obuf, 1, c->olen, c->f) != c->olen) return false;
  c->olen = 0;
  return true;
}

static bool csv_put(bf_csv *c, const char *p, size_t n) {
  if (c->olen + n > BF_OBUF) {
    if (!csv_flush(c)) return false;
    if (n > BF_OBUF) return fwrite(p, 1, n, c->f) == n;
  }
  memcpy(c->obuf + c->olen, p, n);
  c->olen += n;
  return true;
}

/* Length of the record part at p[0..n): up to and including the first
 * newline outside quotes (*end set), or all of it. Updates the quote
 * state. */
static size_t record_part(bf_csv *c, const char *p, size_t n, bool *end) {
  *end = false;
  size_t j = 0;
  if (!c->in_quote) { /* fast path: no quote before the newline */
    const char *nl = memchr(p, '\n', n);
    size_t seg = nl ? (size_t)(nl - p) : n;
    if (!memchr(p, '"', seg)) {
      *end = nl != NULL;
      return nl ? seg + 1 : n;
    }
  }
  for (; j < n; j++) {
    if (p[j] == '"') c->in_quote = !c->in_quote;
    else if (p[j] == '\n' && !c->in_quote) {
      *end = true;
      return j + 1;
    }
  }
  return n;
}

static ssize_t csv_filter_write(void *cookie, const char *buf, size_t size) {
  bf_csv *c = cookie;
  size_t i = 0;
  while (i < size) {
    if (c->in_header) {
      /* collect the header record */
      for (; i < size; i++) {
        char ch = buf[i];
        if (ch == '"') c->in_quote = !c->in_quote;
        if (ch == '\n' && !c->in_quote) break;
        if (c->clen == c->ccap) {
          size_t cap = c->ccap ? c->ccap * 2 : 256;
          char *nb = tide_realloc(c->cur, cap);
          if (!nb) {
            errno = ENOMEM;
            return -1;
          }
          c->cur = nb;
          c->ccap = cap;
        }
        c->cur[c->clen++] = ch;
      }
      if (i == size) break;
      i++; /* the newline */
      c->in_header = false;
      c->at_start = true;
      if (!c->hdr) {
        c->hdr = tide_malloc(c->clen + 1);
        if (!c->hdr) {
          errno = ENOMEM;
          return -1;
        }
        memcpy(c->hdr, c->cur, c->clen);
        c->hdr[c->clen] = 0;
        c->hlen = c->clen;
        if (!csv_put(c, "Date,", 5) || !csv_put(c, c->hdr, c->hlen) || !csv_put(c, "\n", 1))
          return -1;
      } else if (c->clen != c->hlen || memcmp(c->cur, c->hdr, c->hlen) != 0) {
        c->bad_header = true;
        errno = EINVAL;
        return -1;
      }
      continue;
    }
    /* body: "D," at each record start, then the record's bytes */
    if (c->at_start) {
      if (!csv_put(c, c->date, 10) || !csv_put(c, ",", 1)) return -1;
      c->at_start = false;
    }
    bool end;
    size_t m = record_part(c, buf + i, size - i, &end);
    if (!csv_put(c, buf + i, m)) return -1;
    c->at_start = end;
    i += m;
  }
  return (ssize_t)size;
}

/* Append t's rows for `date` to c. */
static tide_status csv_append(bf_csv *c, const tide_table_t *t, const char *date,
                              tide_error *err) {
  c->date = date;
  c->in_header = true;
  c->in_quote = false;
  c->at_start = false;
  c->bad_header = false;
  c->clen = 0;
  cookie_io_functions_t io = {.write = csv_filter_write};
  FILE *s = fopencookie(c, "w", io);
  if (!s) return tide_error_set(err, TIDE_ERR_NOMEM, "cannot open a stream: %s", strerror(errno));
  tide_status st = tide_write_csv_stream(t, s, err);
  bool closed = fclose(s) == 0 && csv_flush(c);
  int e = errno;
  if (c->bad_header)
    return tide_error_set(err, TIDE_ERR_INVALID,
                          "the table has columns '%.*s' but the first date's had '%s' (every "
                          "date must give the same columns)",
                          (int)c->clen, c->cur ? c->cur : "", c->hdr);
  if (st == TIDE_OK && (!closed || ferror(c->f)))
    return tide_error_set(err, TIDE_ERR_IO, "cannot write '%s': %s", c->tmp, strerror(e));
  if (st == TIDE_OK && c->in_header)
    return tide_error_set(err, TIDE_ERR_IO, "the CSV writer gave no header record");
  return st;
}

/* Temporary files to remove when interrupted (SIGINT, SIGTERM, SIGHUP). */
static char **g_tmp_paths;
static size_t g_ntmp;
static volatile sig_atomic_t g_tmp_live;

static void on_signal(int sig) {
  if (g_tmp_live)
    for (size_t i = 0; i < g_ntmp; i++)
      if (g_tmp_paths[i]) unlink(g_tmp_paths[i]);
  signal(sig, SIG_DFL);
  raise(sig);
}

/* ----------------------------------------------------------- progress */

static void fmt_count(double v, char *buf, size_t cap) {
  if (v < 1e4) snprintf(buf, cap, "%.0f", v);
  else if (v < 1e6) snprintf(buf, cap, "%.1fK", v / 1e3);
  else if (v < 1e9) snprintf(buf, cap, "%.1fM", v / 1e6);
  else snprintf(buf, cap, "%.1fG", v / 1e9);
}

static void fmt_secs(double s, char *buf, size_t cap) {
  if (s < 10) snprintf(buf, cap, "%.1fs", s);
  else if (s < 60) snprintf(buf, cap, "%.0fs", s);
  else if (s < 3600) snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)s % 60);
  else snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
}

static void progress(bool tty, const char *date, size_t done, size_t total, uint64_t rows,
                     double elapsed) {
  char r[32], rate[32], eta[32], el[32];
  fmt_count((double)rows, r, sizeof r);
  fmt_count(elapsed > 0 ? (double)rows / elapsed : 0, rate, sizeof rate);
  if (done) fmt_secs(elapsed / (double)done * (double)(total - done), eta, sizeof eta);
  else snprintf(eta, sizeof eta, "-");
  fmt_secs(elapsed, el, sizeof el);
  if (tty) {
    enum { W = 24 };
    char bar[W + 1];
    size_t fill = total ? done * W / total : W;
    for (size_t i = 0; i < W; i++) bar[i] = i < fill ? '=' : ' ';
    if (fill > 0 && fill < W) bar[fill - 1] = '>';
    bar[W] = 0;
    fprintf(stderr, "\r[%s] %zu/%zu dates  %s rows  %s rows/s  %s %s\033[K", bar, done, total, r,
            rate, done == total ? "in" : "ETA", done == total ? el : eta);
  } else {
    fprintf(stderr, "tide backfill: %s done: %zu/%zu dates  %s rows  %s rows/s  %s %s\n", date,
            done, total, r, rate, done == total ? "in" : "ETA", done == total ? el : eta);
  }
  fflush(stderr);
}

/* --------------------------------------------------------------- main */

typedef struct bf_args {
  const char *script, *db, *from, *to, *csv_dir, *to_ns, *codec_name;
  char **outs;
  size_t nouts;
  char *outs_buf;
  const char **set_names, **set_values;
  char **owned;
  size_t nsets;
  const char **dates_of;
  size_t ndates_of;
  int threads;
  bool timings, quiet;
} bf_args;

static void args_free(bf_args *a) {
  for (size_t i = 0; a->owned && i < a->nsets; i++) tide_free(a->owned[i]);
  tide_free(a->owned);
  tide_free(a->set_names);
  tide_free(a->set_values);
  tide_free(a->dates_of);
  tide_free(a->outs);
  tide_free(a->outs_buf);
}

/* Returns -1 when the arguments are fine, else the exit status. */
static int parse_args(int argc, char **argv, bf_args *a) {
  a->db = TIDE_DB_DEFAULT;
  a->threads = -1;
  a->codec_name = "lz4";
  size_t cap = (size_t)argc + 1;
  a->set_names = tide_calloc(cap, sizeof *a->set_names);
  a->set_values = tide_calloc(cap, sizeof *a->set_values);
  a->owned = tide_calloc(cap, sizeof *a->owned);
  a->dates_of = tide_calloc(cap, sizeof *a->dates_of);
  if (!a->set_names || !a->set_values || !a->owned || !a->dates_of) {
    fprintf(stderr, "tide backfill: out of memory\n");
    return 1;
  }
  const char *outs = NULL;
  bool only_pos = false;
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i], *v;
    bool missing = false;
    if (only_pos || s[0] != '-' || strcmp(s, "-") == 0) {
      if (a->script) return bf_usage("unexpected argument '%s' (only one script)", s);
      a->script = s;
    } else if (!strcmp(s, "--")) {
      only_pos = true;
    } else if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
      fputs(tide__backfill_usage, stdout);
      return 0;
    } else if (!strcmp(s, "--quiet")) {
      a->quiet = true;
    } else if (!strcmp(s, "--timings")) {
      a->timings = true;
    } else if ((v = tide__cli_opt_value(argc, argv, &i, "--db", &missing)) || missing) {
      if (missing || !*v) return bf_usage("%s", "--db needs a directory");
      a->db = v;
    } else if ((v = tide__cli_opt_value(argc, argv, &i, "--from", &missing)) || missing) {
      if (missing || tide_db_check_date(v, NULL) != TIDE_OK)
        return bf_usage("--from wants a date YYYY-MM-DD, not '%s'", missing ? "" : v);
      a->from = v;
    } else if ((v = tide__cli_opt_value(argc, argv, &i, "--to-ns", &missing)) || missing) {
      if (missing) return bf_usage("%s", "--to-ns needs a namespace");
      tide_error err;
      if (tide_db_check_name("namespace", v, &err) != TIDE_OK) return bf_usage("--to-ns: %s", err.msg);
      a->to_ns = v;
    } else if ((v = tide__cli_opt_value(argc, argv, &i, "--to", &missing)) || missing) {
      if (missing || tide_db_check_date(v, NULL) != TIDE_OK)
        return bf_usage("--to wants a date YYYY-MM-DD, not '%s'", missing ? "" : v);
      a->to = v;
    } else if ((v = tide__cli_opt_value(argc, argv, &i, "--out", &missing)) || missing) {
      if (missing || !*v) return bf_usage("%s", "--out needs NAME[,NAME...]");
      if (outs) return bf_usage("%s", "give --out once, with the names separated by commas");
      outs = v;
    } else if ((v = tide__cli_opt_value(argc, argv, &i, "--csv", &missing)) || missing) {
      if (missing || !*v) return bf_usage("%s", "--csv needs a directory");
      a->csv_dir = v;
    } else if ((v = tide__cli_opt_value(argc, argv, &i, "--codec", &missing)) || missing) {
      tide_codec_t codec;
      if (missing || tide_codec_parse(v, &codec, NULL) != TIDE_OK)
        return bf_usage("--codec wants none, lz4 or zstd, not '%s'", missing ? "" : v);
      a->codec_name = v;
    } else if ((v = tide__cli_opt_value(argc, argv, &i, "--dates-of", &missing)) || missing) {
      const char *sl = missing ? NULL : strchr(v, '/');
      if (!sl || sl == v || !sl[1] || strchr(sl + 1, '/'))
        return bf_usage("--dates-of wants NS/TABLE, not '%s'", missing ? "" : v);
      a->dates_of[a->ndates_of++] = v;
    } else if ((v = tide__cli_opt_value(argc, argv, &i, "--threads", &missing)) || missing) {
      char *end = NULL;
      long n = missing ? -1 : strtol(v, &end, 10);
      if (missing || !*v || *end || n < 0 || n > 1024)
        return bf_usage("--threads wants a number from 0 to 1024, not '%s'", missing ? "" : v);
      a->threads = (int)n;
    } else if ((v = tide__cli_opt_value(argc, argv, &i, "--set", &missing)) || missing) {
      const char *eq = missing ? NULL : strchr(v, '=');
      if (!eq || eq == v) return bf_usage("--set wants NAME=VALUE, not '%s'", missing ? "" : v);
      char *name = tide_malloc((size_t)(eq - v) + 1);
      if (!name) {
        fprintf(stderr, "tide backfill: out of memory\n");
        return 1;
      }
      memcpy(name, v, (size_t)(eq - v));
      name[eq - v] = 0;
      a->owned[a->nsets] = name;
      if (!strcmp(name, "date")) {
        a->nsets++;
        return bf_usage("%s", "--set date=... is not allowed: arg(\"date\") is each run's date");
      }
      a->set_names[a->nsets] = name;
      a->set_values[a->nsets] = eq + 1;
      a->nsets++;
    } else {
      return bf_usage("unknown option '%s'", s);
    }
  }
  if (!a->script) return bf_usage("%s", "missing SCRIPT");
  if (!outs) return bf_usage("%s", "missing --out NAME[,NAME...] (the tables to save)");
  if (!a->csv_dir == !a->to_ns)
    return bf_usage("%s", a->csv_dir ? "give --csv DIR or --to-ns NS, not both"
                                     : "missing --csv DIR or --to-ns NS (where to save)");
  if (a->from && a->to && strcmp(a->from, a->to) > 0) {
    fprintf(stderr, "tide backfill: bad date range: --from %s is after --to %s\n", a->from,
            a->to);
    return EXIT_USAGE;
  }
  /* split --out */
  size_t len = strlen(outs);
  a->outs_buf = tide_malloc(len + 1);
  a->outs = tide_calloc(len + 1, sizeof *a->outs);
  if (!a->outs_buf || !a->outs) {
    fprintf(stderr, "tide backfill: out of memory\n");
    return 1;
  }
  memcpy(a->outs_buf, outs, len + 1);
  for (char *p = a->outs_buf;;) {
    char *c = strchr(p, ',');
    if (c) *c = 0;
    tide_error err;
    if (tide_db_check_name("table", p, &err) != TIDE_OK)
      return bf_usage("--out: %s (names are script variables and file/table names)", err.msg);
    for (size_t k = 0; k < a->nouts; k++)
      if (!strcmp(a->outs[k], p)) return bf_usage("--out names '%s' twice", p);
    a->outs[a->nouts++] = p;
    if (!c) break;
    p = c + 1;
  }
  return -1;
}

static char *read_script(const char *path, size_t *len) {
  bool is_stdin = !strcmp(path, "-");
  FILE *f = is_stdin ? stdin : fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "tide backfill: cannot read script '%s': %s\n", path, strerror(errno));
    return NULL;
  }
  size_t n = 0, cap = 65536;
  char *buf = tide_malloc(cap);
  while (buf) {
    if (n + 1 >= cap) {
      char *nb = tide_realloc(buf, cap * 2);
      if (!nb) {
        tide_free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t r = fread(buf + n, 1, cap - n - 1, f);
    n += r;
    if (r == 0) break;
  }
  bool bad = ferror(f);
  if (!is_stdin) fclose(f);
  if (!buf || bad) {
    fprintf(stderr, "tide backfill: cannot read script '%s': %s\n", path,
            buf ? strerror(errno) : "out of memory");
    tide_free(buf);
    return NULL;
  }
  buf[n] = 0;
  *len = n;
  return buf;
}

/* A static table of the run without its Date column (new reference), or
 * NULL with a message on stderr. */
static tide_table_t *out_table(tide_script_interp *in, const char *name, const char *date) {
  tide_table_t *t = tide_script_get_table(in, name);
  if (!t) {
    char repr[64];
    if (tide_script_get_repr(in, name, repr, sizeof repr))
      fprintf(stderr, "tide backfill: %s: --out %s: the variable is not a table (it is %s)\n",
              date, name, repr);
    else
      fprintf(stderr, "tide backfill: %s: --out %s: the script defines no variable '%s'\n", date,
              name, name);
    return NULL;
  }
  if (tide_table_is_refreshing(t)) {
    fprintf(stderr,
            "tide backfill: %s: --out %s: a ticking table; backfill saves static tables\n", date,
            name);
    return NULL;
  }
  tide_error err;
  tide_error_clear(&err);
  if (tide_table_col_index(t, TIDE_HISTORICAL_DATE_COL) < 0) return tide_table_retain(t);
  if (tide_table_ncols(t) == 1) {
    fprintf(stderr, "tide backfill: %s: --out %s: the table has no column besides Date\n", date,
            name);
    return NULL;
  }
  const char *dc = TIDE_HISTORICAL_DATE_COL;
  tide_table_t *r = tide_drop_columns(t, &dc, 1, &err);
  if (!r) fprintf(stderr, "tide backfill: %s: --out %s: %s\n", date, name, err.msg);
  return r;
}

/* The columns of an --out table on the first date; every later date must
 * give the same names and types (the partitions of one historical table,
 * or one CSV file). */
typedef struct bf_schema {
  size_t ncols;
  char **names;
  tide_type_t *types;
  char date[11];
} bf_schema;

static void schema_free(bf_schema *s) {
  for (size_t i = 0; s->names && i < s->ncols; i++) tide_free(s->names[i]);
  tide_free(s->names);
  tide_free(s->types);
  memset(s, 0, sizeof *s);
}

/* false (message printed) when t's columns differ from the first date's
 * or on OOM */
static bool schema_check(bf_schema *s, const tide_table_t *t, const char *name,
                         const char *date) {
  size_t n = tide_table_ncols(t);
  if (!s->names) {
    s->names = tide_calloc(n ? n : 1, sizeof *s->names);
    s->types = tide_calloc(n ? n : 1, sizeof *s->types);
    bool ok = s->names && s->types;
    for (size_t i = 0; ok && i < n; i++) {
      ok = (s->names[i] = tide_strdup(tide_table_col_name(t, i))) != NULL;
      s->types[i] = tide_table_col_type(t, i);
      s->ncols = i + 1;
    }
    if (!ok) {
      fprintf(stderr, "tide backfill: %s: out of memory\n", date);
      schema_free(s);
      return false;
    }
    memcpy(s->date, date, 11);
    return true;
  }
  size_t i = 0;
  while (i < n && i < s->ncols && !strcmp(s->names[i], tide_table_col_name(t, i)) &&
         s->types[i] == tide_table_col_type(t, i))
    i++;
  if (i == n && n == s->ncols) return true;
  fprintf(stderr,
          "tide backfill: date %s: --out %s: its columns differ from date %s's (every date must "
          "give the same columns and types): ",
          date, name, s->date);
  if (i < n && i < s->ncols)
    fprintf(stderr, "column %zu is %s (%s), was %s (%s)\n", i + 1, tide_table_col_name(t, i),
            tide_type_name(tide_table_col_type(t, i)), s->names[i], tide_type_name(s->types[i]));
  else
    fprintf(stderr, "%zu columns, was %zu\n", n, s->ncols);
  return false;
}

static void report_done(const bf_args *a, const bf_dates *d, size_t done) {
  if (a->to_ns) {
    if (done == 0)
      fprintf(stderr, "tide backfill: no date was written\n");
    else
      fprintf(stderr,
              "tide backfill: dates done before the failure: %s..%s (%zu of %zu); their "
              "tables in %s stay written\n",
              d->v[0], d->v[done - 1], done, d->n, a->to_ns);
  } else {
    fprintf(stderr,
            "tide backfill: %zu of %zu dates were done; no CSV file was written (the "
            "previous files, if any, are unchanged)\n",
            done, d->n);
  }
}

int tide__cli_backfill(int argc, char **argv) {
  bf_args a = {0};
  bf_srcs srcs = {0};
  bf_dates dates = {0};
  bf_csv *csvs = NULL;
  bf_schema *schemas = NULL;
  char *src = NULL;
  tide_script_program prog = {0};
  int rc = parse_args(argc, argv, &a);
  if (rc >= 0) goto out;
  rc = 1;
  size_t srclen = 0;
  src = read_script(a.script, &srclen);
  if (!src) goto out;
  const char *shown = strcmp(a.script, "-") ? a.script : "<stdin>";

  /* 1. the tables whose dates to run */
  if (a.ndates_of) {
    for (size_t i = 0; i < a.ndates_of; i++) {
      const char *sl = strchr(a.dates_of[i], '/');
      char ns[256];
      size_t nl = (size_t)(sl - a.dates_of[i]);
      if (nl >= sizeof ns) {
        rc = bf_usage("--dates-of: namespace '%s' is longer than 255 bytes", a.dates_of[i]);
        goto out;
      }
      memcpy(ns, a.dates_of[i], nl);
      ns[nl] = 0;
      if (!srcs_add(&srcs, a.db, ns, sl + 1)) {
        fprintf(stderr, "tide backfill: out of memory\n");
        goto out;
      }
    }
  } else {
    tide_script_diag diag;
    memset(&diag, 0, sizeof diag);
    if (tide_script_parse(src, srclen, &prog, &diag) != TIDE_OK) {
      fprintf(stderr, "tide backfill: ");
      tide_script_diag_print(&diag, shown, stderr);
      goto out;
    }
    bool oom = false, ok = true;
    for (size_t i = 0; ok && i < prog.n; i++)
      ok = find_sources(prog.stmts[i], shown, a.db, &srcs, &oom);
    if (!ok) { /* find_sources printed where, unless out of memory */
      if (oom) fprintf(stderr, "tide backfill: out of memory\n");
      goto out;
    }
    if (srcs.n == 0) {
      fprintf(stderr,
              "tide backfill: %s reads no historical table (no historical_table(\"NS\", "
              "\"TABLE\") call): no dates to run; give --dates-of NS/TABLE\n",
              shown);
      goto out;
    }
  }
  for (size_t i = 0; i < srcs.n; i++) {
    tide_error err;
    if (tide_db_check_name("namespace", srcs.v[i].ns, &err) != TIDE_OK ||
        tide_db_check_name("table", srcs.v[i].table, &err) != TIDE_OK) {
      fprintf(stderr, "tide backfill: %s\n", err.msg);
      goto out;
    }
  }

  /* 2. the dates */
  struct stat sb;
  if (stat(a.db, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    fprintf(stderr, "tide backfill: database root '%s': %s\n", a.db,
            stat(a.db, &sb) != 0 ? strerror(errno) : "not a directory");
    goto out;
  }
  if (!collect_dates(&srcs, a.from, a.to, &dates)) goto out;
  if (dates.n == 0) {
    fprintf(stderr, "tide backfill: no date of");
    for (size_t i = 0; i < srcs.n; i++)
      fprintf(stderr, "%s %s/%s", i ? "," : "", srcs.v[i].ns, srcs.v[i].table);
    fprintf(stderr, " in [%s, %s] (db %s): nothing to do\n", a.from ? a.from : "-",
            a.to ? a.to : "-", a.db);
    goto out;
  }

  /* 3. check the destination before running anything */
  tide_codec_t codec = TIDE_CODEC_LZ4;
  if (a.to_ns) {
    tide_codec_parse(a.codec_name, &codec, NULL);
    char wp[4096];
    snprintf(wp, sizeof wp, "%s/Systems/%s/WritablePartitions", a.db, a.to_ns);
    if (stat(wp, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
      fprintf(stderr,
              "tide backfill: --to-ns %s: no directory '%s' (the administrator creates "
              "Partitions/<n> and the WritablePartitions links)\n",
              a.to_ns, wp);
      goto out;
    }
    size_t conflicts = 0;
    for (size_t k = 0; k < a.nouts; k++) {
      tide_historical_query_t q = {0};
      q.from = dates.v[0];
      q.to = dates.v[dates.n - 1];
      tide_historical_part_t *parts = NULL;
      size_t n = 0;
      tide_error err;
      tide_error_clear(&err);
      if (tide_historical_list(a.db, a.to_ns, a.outs[k], &q, &parts, &n, &err) != TIDE_OK) {
        fprintf(stderr, "tide backfill: --to-ns %s: %s\n", a.to_ns, err.msg);
        goto out;
      }
      for (size_t j = 0, d = 0; j < n; j++) {
        while (d < dates.n && strcmp(dates.v[d], parts[j].date) < 0) d++;
        if (d < dates.n && !strcmp(dates.v[d], parts[j].date)) {
          if (conflicts++ < 5)
            fprintf(stderr, "tide backfill: %s/%s already has date %s (%s)\n", a.to_ns,
                    a.outs[k], parts[j].date, parts[j].path);
        }
      }
      tide_historical_parts_free(parts, n);
    }
    if (conflicts) {
      fprintf(stderr,
              "tide backfill: refused: %zu (table, date) pair%s of this backfill already "
              "exist%s in %s; nothing was run (remove them or choose other dates)\n",
              conflicts, conflicts == 1 ? "" : "s", conflicts == 1 ? "s" : "", a.to_ns);
      goto out;
    }
  } else {
    if (mkdir(a.csv_dir, 0777) != 0 && errno != EEXIST) {
      fprintf(stderr, "tide backfill: cannot create --csv directory '%s': %s\n", a.csv_dir,
              strerror(errno));
      goto out;
    }
    if (stat(a.csv_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
      fprintf(stderr, "tide backfill: --csv '%s' is not a directory\n", a.csv_dir);
      goto out;
    }
    csvs = tide_calloc(a.nouts, sizeof *csvs);
    g_tmp_paths = tide_calloc(a.nouts, sizeof *g_tmp_paths);
    if (!csvs || !g_tmp_paths) {
      fprintf(stderr, "tide backfill: out of memory\n");
      goto out;
    }
    for (size_t k = 0; k < a.nouts; k++) {
      size_t l = strlen(a.csv_dir) + strlen(a.outs[k]) + 64;
      csvs[k].path = tide_malloc(l);
      csvs[k].tmp = tide_malloc(l);
      if (!csvs[k].path || !csvs[k].tmp) {
        fprintf(stderr, "tide backfill: out of memory\n");
        goto out;
      }
      snprintf(csvs[k].path, l, "%s/%s.csv", a.csv_dir, a.outs[k]);
      snprintf(csvs[k].tmp, l, "%s/.%s.csv.tmp.%ld", a.csv_dir, a.outs[k], (long)getpid());
      g_tmp_paths[k] = csvs[k].tmp;
      g_ntmp = k + 1;
      csvs[k].obuf = tide_malloc(BF_OBUF);
      if (!csvs[k].obuf) {
        fprintf(stderr, "tide backfill: out of memory\n");
        goto out;
      }
      csvs[k].f = fopen(csvs[k].tmp, "w");
      if (!csvs[k].f) {
        fprintf(stderr, "tide backfill: cannot create '%s': %s\n", csvs[k].tmp,
                strerror(errno));
        goto out;
      }
    }
    g_tmp_live = 1;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
  }

  if (a.threads >= 0) {
    tide_error err;
    tide_error_clear(&err);
    if (tide_set_threads(a.threads, &err) != TIDE_OK) {
      fprintf(stderr, "tide backfill: %s\n", err.msg);
      rc = EXIT_USAGE;
      goto out;
    }
  }

  /* 4. one run per date */
  schemas = tide_calloc(a.nouts, sizeof *schemas);
  if (!schemas) {
    fprintf(stderr, "tide backfill: out of memory\n");
    goto out;
  }
  a.set_names[a.nsets] = "date";
  bool tty = !a.quiet && isatty(STDERR_FILENO);
  uint64_t rows = 0;
  double t0 = now_s();
  size_t done = 0;
  if (tty) progress(tty, NULL, 0, dates.n, 0, 0);
  for (; done < dates.n; done++) {
    const char *d = dates.v[done];
    a.set_values[a.nsets] = d;
    tide_script_options opt = {0};
    opt.out = stdout;
    opt.timings = a.timings ? stderr : NULL;
    opt.nsets = a.nsets + 1;
    opt.set_names = a.set_names;
    opt.set_values = a.set_values;
    opt.hist_from = d;
    opt.hist_to = d;
    opt.hist_db = a.db;
    tide_script_interp *in = tide_script_interp_create(&opt);
    if (!in) {
      if (tty) fputc('\n', stderr);
      fprintf(stderr, "tide backfill: %s: out of memory\n", d);
      break;
    }
    tide_script_diag diag;
    memset(&diag, 0, sizeof diag);
    if (a.timings) fprintf(stderr, "%s--- %s ---\n", tty ? "\n" : "", d);
    tide_status st = tide_script_exec(in, src, srclen, &diag);
    if (st != TIDE_OK) {
      fflush(stdout);
      if (tty) fputc('\n', stderr);
      fprintf(stderr, "tide backfill: date %s failed: ", d);
      tide_script_diag_print(&diag, shown, stderr);
      tide_script_interp_free(in);
      break;
    }
    /* every --out table first, so a missing one writes nothing of D */
    tide_table_t **ts = tide_calloc(a.nouts, sizeof *ts);
    bool ok = ts != NULL;
    if (!ok) fprintf(stderr, "tide backfill: %s: out of memory\n", d);
    for (size_t k = 0; ok && k < a.nouts; k++) {
      if (!(ts[k] = out_table(in, a.outs[k], d)) || !schema_check(&schemas[k], ts[k], a.outs[k], d)) {
        if (tty) fputc('\n', stderr);
        ok = false;
      }
    }
    double ts0 = now_s();
    for (size_t k = 0; ok && k < a.nouts; k++) {
      tide_error err;
      tide_error_clear(&err);
      st = a.to_ns ? tide_historical_write(a.db, a.to_ns, a.outs[k], d, ts[k], codec, &err)
                   : csv_append(&csvs[k], ts[k], d, &err);
      if (st != TIDE_OK) {
        if (tty) fputc('\n', stderr);
        fprintf(stderr, "tide backfill: date %s: --out %s: %s\n", d, a.outs[k], err.msg);
        if (a.to_ns && k > 0) {
          fprintf(stderr, "tide backfill: date %s is incomplete: written", d);
          for (size_t j = 0; j < k; j++) fprintf(stderr, " %s/%s", a.to_ns, a.outs[j]);
          fprintf(stderr, "\n");
        }
        ok = false;
      }
    }
    if (ok && a.timings) fprintf(stderr, "save: %.6f s\n", now_s() - ts0);
    for (size_t k = 0; ts && k < a.nouts; k++) tide_table_free(ts[k]);
    tide_free(ts);
    rows += tide_script_hist_rows(in);
    tide_script_interp_free(in);
    if (!ok) break;
    fflush(stdout);
    if (!a.quiet) progress(tty, d, done + 1, dates.n, rows, now_s() - t0);
  }
  if (tty && done == dates.n) fputc('\n', stderr);
  if (done < dates.n) {
    report_done(&a, &dates, done);
    goto out;
  }

  /* 5. publish the CSV files */
  for (size_t k = 0; csvs && k < a.nouts; k++) {
    FILE *f = csvs[k].f;
    csvs[k].f = NULL;
    bool okw = fflush(f) == 0 && !ferror(f) && fsync(fileno(f)) == 0;
    int e = errno;
    if (fclose(f) != 0 && okw) {
      okw = false;
      e = errno;
    }
    if (!okw || rename(csvs[k].tmp, csvs[k].path) != 0) {
      if (okw) e = errno;
      fprintf(stderr, "tide backfill: cannot write '%s': %s\n", csvs[k].path, strerror(e));
      if (k > 0) fprintf(stderr, "tide backfill: written before the failure:");
      for (size_t j = 0; j < k; j++) fprintf(stderr, " %s", csvs[j].path);
      if (k > 0) fputc('\n', stderr);
      goto out;
    }
  }
  if (csvs) {
    int dfd = open(a.csv_dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
      fsync(dfd);
      close(dfd);
    }
    g_tmp_live = 0;
  }
  if (!a.quiet) {
    double el = now_s() - t0;
    char r[32], rate[32], es[32];
    fmt_count((double)rows, r, sizeof r);
    fmt_count(el > 0 ? (double)rows / el : 0, rate, sizeof rate);
    fmt_secs(el, es, sizeof es);
    fprintf(stderr, "tide backfill: %zu dates, %s rows in %s (%s rows/s); saved", dates.n, r, es,
            rate);
    for (size_t k = 0; k < a.nouts; k++)
      if (a.to_ns) fprintf(stderr, " %s/%s", a.to_ns, a.outs[k]);
      else fprintf(stderr, " %s", csvs[k].path);
    fputc('\n', stderr);
  }
  rc = fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
  if (rc) fprintf(stderr, "tide backfill: cannot write the output: %s\n", strerror(errno));
out:
  for (size_t k = 0; csvs && k < a.nouts; k++) {
    if (csvs[k].f) {
      fclose(csvs[k].f);
      unlink(csvs[k].tmp);
    }
    tide_free(csvs[k].path);
    tide_free(csvs[k].tmp);
    tide_free(csvs[k].hdr);
    tide_free(csvs[k].cur);
    tide_free(csvs[k].obuf);
  }
  g_tmp_live = 0;
  g_ntmp = 0;
  tide_free(g_tmp_paths);
  g_tmp_paths = NULL;
  tide_free(csvs);
  for (size_t k = 0; schemas && k < a.nouts; k++) schema_free(&schemas[k]);
  tide_free(schemas);
  tide_script_program_free(&prog);
  tide_free(src);
  tide_free(dates.v);
  srcs_free(&srcs);
  args_free(&a);
  fflush(stdout);
  return rc;
}
