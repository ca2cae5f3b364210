/*
 * The `tide` command.
 *
 *   tide run SCRIPT [--threads N] [--timings] [--set NAME=VALUE]...
 *            [--cycles N | --duration D] [--period D] [--realtime]
 *   tide gen-groupby --rows N --k K [--nas PCT] [--seed S] --out FILE
 *   tide --help | --version
 *
 * Subcommands live in one table (`commands` below); later ones (ingest,
 * merge, backfill, serve, topology, bench) are added there.
 *
 * Exit status: 0 success, 1 the command failed (script error, I/O), 2 bad
 * usage.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/script.h"

#define EXIT_USAGE 2

typedef struct command {
  const char *name;
  int (*run)(int argc, char **argv); /* argv[0] is the command name */
  const char *summary;
  const char *usage;
} command;

static int cmd_run(int argc, char **argv);
static int cmd_gen_groupby(int argc, char **argv);
static int cmd_topology(int argc, char **argv);
int tide__cli_gen_join(int argc, char **argv); /* cli/gen.c */
extern const char tide__gen_join_usage[];
int tide__cli_ingest(int argc, char **argv); /* cli/ingest.c */
extern const char tide__ingest_usage[];
int tide__cli_merge(int argc, char **argv); /* cli/merge.c */
extern const char tide__merge_usage[];
int tide__cli_backfill(int argc, char **argv); /* cli/backfill.c */
extern const char tide__backfill_usage[];

static const command commands[] = {
    {"run", cmd_run, "run a tide script",
     "usage: tide run SCRIPT [--threads N] [--timings] [--set NAME=VALUE]...\n"
     "                [--cycles N | --duration D] [--period D] [--realtime]\n"
     "       (SCRIPT - reads the script from stdin)\n"
     "\n"
     "Run a script of table operations (Deephaven Python API names), e.g.\n"
     "  trades = read_csv(\"trades.csv\")\n"
     "  big = trades.where(\"Size > 100\").update([\"Notional = Price * Size\"])\n"
     "  write_csv(big.agg_by([agg.sum_([\"Notional\"])], by=[\"Sym\"]), \"out.csv\")\n"
     "\n"
     "options:\n"
     "  --threads N        worker threads for parallel operations (0 = default)\n"
     "  --timings          print each statement's wall time on stderr as 'LINE: SECONDS s'\n"
     "  --set NAME=VALUE   value returned by arg(\"NAME\", default) in the script\n"
     "\n"
     "ticking tables (time_table, replay, input_table; run_cycles(n) in the script):\n"
     "  --cycles N         after the script, run N update cycles, then print again every\n"
     "                     ticking table the script printed or showed, and write again\n"
     "                     every write_csv() of one (after a line '--- after N cycles ---')\n"
     "  --duration D       the same, cycling in real time for D (e.g. 10s, PT1M)\n"
     "  --period D         target cycle period (default 100ms)\n"
     "  --realtime         ticking sources read the real clock; by default a simulated\n"
     "                     clock starts at 2026-01-01T09:30:00Z and advances by the\n"
     "                     period at every cycle, so runs are reproducible\n"
     "  -h, --help         show this help\n"
     "\n"
     "Errors print 'SCRIPT:LINE:COL: error: MESSAGE' on stderr; the exit status is 1.\n"},
    {"gen-groupby", cmd_gen_groupby, "write the db-benchmark groupby dataset (G1) as CSV",
     "usage: tide gen-groupby --rows N --k K [--nas PCT] [--seed S] --out FILE\n"
     "\n"
     "Write the db-benchmark groupby dataset: id1,id2 (id001..idK), id3 (id0000000001..\n"
     "N/K), id4,id5 (1..K), id6 (1..N/K), v1 (1..5), v2 (1..15), v3 (0..100, 6 decimals).\n"
     "\n"
     "options:\n"
     "  --rows N     number of rows (e.g. 1e7)\n"
     "  --k K        number of groups of id1, id2, id4, id5\n"
     "  --nas PCT    percent of nulls (default 0)\n"
     "  --seed S     random seed (default 108)\n"
     "  --out FILE   output CSV path ('-' for stdout)\n"},
    {"topology", cmd_topology, "print the machine (hwloc) and the worker plan",
     "usage: tide topology [--threads N]\n"
     "\n"
     "Print the packages, NUMA nodes, cores and PUs this process may use (its inherited\n"
     "affinity mask), the node distances, and the plan: worker -> PU, core, node.\n"
     "\n"
     "options:\n"
     "  --threads N  plan for N workers (default: TIDE_THREADS or the usable CPUs)\n"
     "\n"
     "environment:\n"
     "  TIDE_TOPOLOGY=\"pack:2 numa:1 core:1 pu:1\"  an hwloc synthetic machine instead\n"
     "                of this one (with HWLOC_THISSYSTEM=1 workers really bind to it)\n"
     "  TIDE_NUMA=auto|off  pin workers to the plan (auto, the default) or not\n"},
    {"gen-join", tide__cli_gen_join, "write the join benchmark tables (left, right) as CSV",
     tide__gen_join_usage},
    {"ingest", tide__cli_ingest, "append CSV rows to an intraday partition (file or stream)",
     tide__ingest_usage},
    {"merge", tide__cli_merge, "merge an intraday partition into the historical store",
     tide__merge_usage},
    {"backfill", tide__cli_backfill, "run a script per historical date, save tables per date",
     tide__backfill_usage},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out) {
  fprintf(out,
          "usage: tide COMMAND [ARGS...]\n"
          "       tide --help | --version\n"
          "\n"
          "commands:\n");
  for (size_t i = 0; i < NCOMMANDS; i++)
    fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\nRun 'tide COMMAND --help' for the options of a command.\n");
}

static int usage_error(const char *cmd, const char *fmt, const char *arg) {
  fprintf(stderr, "tide%s%s: ", cmd ? " " : "", cmd ? cmd : "");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nRun 'tide %s%s--help' for usage.\n", cmd ? cmd : "", cmd ? " " : "");
  return EXIT_USAGE;
}


static bool parse_u64(const char *s, uint64_t *out) {
  /* accepts 1000000, 1e7, 1_000_000 */
  char buf[64];
  size_t n = 0;
  for (const char *p = s; *p && n < sizeof buf - 1; p++)
    if (*p != '_') buf[n++] = *p;
  buf[n] = 0;
  if (!n) return false;
  char *end;
  errno = 0;
  if (strpbrk(buf, "eE.")) {
    double d = strtod(buf, &end);
    if (*end || errno || d < 0 || d > 1.8e19 || d != (double)(uint64_t)d) return false;
    *out = (uint64_t)d;
    return true;
  }
  if (buf[0] == '-') return false;
  unsigned long long v = strtoull(buf, &end, 10);
  if (*end || errno) return false;
  *out = v;
  return true;
}

/* The simulated clock of `tide run` (see --realtime). */
static tide_sim_clock_t sim_clock;

static int cmd_run(int argc, char **argv) {
  const char *script = NULL;
  int threads = -1;
  bool timings = false, realtime = false;
  uint64_t cycles = 0;
  int64_t duration_ns = 0, period_ns = 100000000LL;
  bool have_cycles = false;
  const char **set_names = calloc((size_t)argc, sizeof *set_names);
  const char **set_values = calloc((size_t)argc, sizeof *set_values);
  char **owned = calloc((size_t)argc, sizeof *owned);
  size_t nsets = 0;
  int rc = EXIT_USAGE;
  if (!set_names || !set_values || !owned) {
    fprintf(stderr, "tide run: out of memory\n");
    rc = 1;
    goto out;
  }
  bool only_pos = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool missing = false;
    const char *v;
    if (only_pos || a[0] != '-' || strcmp(a, "-") == 0) {
      if (script) {
        usage_error("run", "unexpected argument '%s' (only one script)", a);
        goto out;
      }
      script = a;
    } else if (strcmp(a, "--") == 0) {
      only_pos = true;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(commands[0].usage, stdout);
      rc = 0;
      goto out;
    } else if (strcmp(a, "--timings") == 0) {
      timings = true;
    } else if (strcmp(a, "--realtime") == 0) {
      realtime = true;
    } else if ((v = tide__cli_opt_value(argc, argv, &i, "--cycles", &missing)) || missing) {
      if (missing || !parse_u64(v, &cycles)) {
        usage_error("run", "--cycles wants a non-negative number, not '%s'", missing ? "" : v);
        goto out;
      }
      have_cycles = true;
    } else if ((v = tide__cli_opt_value(argc, argv, &i, "--duration", &missing)) ||
               (!missing && (v = tide__cli_opt_value(argc, argv, &i, "--period", &missing))) || missing) {
      bool is_period = strncmp(a, "--period", 8) == 0;
      const char *what = is_period ? "--period" : "--duration";
      if (missing) {
        usage_error("run", "option '%s' needs a duration (e.g. 100ms, 10s, PT1S)", what);
        goto out;
      }
      tide_error err;
      tide_error_clear(&err);
      int64_t ns;
      if (tide_duration_parse(v, what, &ns, &err) != TIDE_OK) {
        usage_error("run", "%s", err.msg);
        goto out;
      }
      if (is_period) period_ns = ns;
      else duration_ns = ns;
    } else if ((v = tide__cli_opt_value(argc, argv, &i, "--threads", &missing)) || missing) {
      uint64_t n;
      if (missing) {
        usage_error("run", "option '%s' needs a value", "--threads");
        goto out;
      }
      if (!parse_u64(v, &n) || n > 1024) {
        usage_error("run", "--threads wants a number from 0 to 1024, not '%s'", v);
        goto out;
      }
      threads = (int)n;
    } else if ((v = tide__cli_opt_value(argc, argv, &i, "--set", &missing)) || missing) {
      if (missing) {
        usage_error("run", "option '%s' needs NAME=VALUE", "--set");
        goto out;
      }
      const char *eq = strchr(v, '=');
      if (!eq || eq == v) {
        usage_error("run", "--set wants NAME=VALUE, not '%s'", v);
        goto out;
      }
      owned[nsets] = strndup(v, (size_t)(eq - v));
      if (!owned[nsets]) {
        rc = 1;
        goto out;
      }
      set_names[nsets] = owned[nsets];
      set_values[nsets] = eq + 1;
      nsets++;
    } else {
      usage_error("run", "unknown option '%s'", a);
      goto out;
    }
  }
  if (!script) {
    usage_error("run", "%s", "missing SCRIPT");
    goto out;
  }
  if (have_cycles && duration_ns) {
    usage_error("run", "%s", "give --cycles or --duration, not both");
    goto out;
  }
  if (!realtime) {
    tide_graph_t *g = tide_graph_default();
    if (!g) {
      fprintf(stderr, "tide run: out of memory\n");
      rc = 1;
      goto out;
    }
    tide_ts_parse("2026-01-01T09:30:00Z", 20, &sim_clock.start_ns);
    sim_clock.graph = g;
    sim_clock.step_ns = period_ns;
    tide_graph_set_clock(g, tide_sim_clock_now, &sim_clock);
  }
  if (threads >= 0) {
    tide_error err;
    tide_error_clear(&err);
    if (tide_set_threads(threads, &err) != TIDE_OK) {
      fprintf(stderr, "tide run: %s\n", err.msg);
      rc = EXIT_USAGE;
      goto out;
    }
  }
  tide_script_options opt = {0};
  opt.out = stdout;
  opt.timings = timings ? stderr : NULL;
  opt.nsets = nsets;
  opt.set_names = set_names;
  opt.set_values = set_values;
  opt.cycles = cycles;
  opt.duration_ns = (uint64_t)duration_ns;
  opt.period_ns = (uint64_t)period_ns;
  tide_script_diag diag;
  rc = tide_script_run_file(script, &opt, stderr, &diag) == TIDE_OK ? 0 : 1;
  /* print()/show() output that could not be written (full disk, closed
   * pipe) is an error, not a silent success */
  if (fflush(stdout) != 0 || ferror(stdout)) {
    if (rc == 0) fprintf(stderr, "tide run: cannot write the output: %s\n", strerror(errno));
    rc = 1;
  }
out:
  for (size_t i = 0; owned && i < nsets; i++) free(owned[i]);
  free(owned);
  free(set_names);
  free(set_values);
  fflush(stdout);
  return rc;
}

static int cmd_gen_groupby(int argc, char **argv) {
  tide_gen_groupby_opts o = {.rows = 0, .k = 0, .nas_pct = 0, .seed = 108};
  bool have_rows = false, have_k = false;
  const char *outpath = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool missing = false;
    const char *v;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(commands[1].usage, stdout);
      return 0;
    } else if ((v = tide__cli_opt_value(argc, argv, &i, "--rows", &missing)) || missing) {
      if (missing || !parse_u64(v, &o.rows))
        return usage_error("gen-groupby", "--rows wants a non-negative number, not '%s'",
                           missing ? "" : v);
      have_rows = true;
    } else if ((v = tide__cli_opt_value(argc, argv, &i, "--k", &missing)) || missing) {
      if (missing || !parse_u64(v, &o.k) || o.k == 0)
        return usage_error("gen-groupby", "--k wants a positive number, not '%s'",
                           missing ? "" : v);
      have_k = true;
    } else if ((v = tide__cli_opt_value(argc, argv, &i, "--nas", &missing)) || missing) {
      char *end = NULL;
      double d = missing ? -1 : strtod(v, &end);
      if (missing || *end || !(d >= 0 && d <= 100))
        return usage_error("gen-groupby", "--nas wants a percentage 0..100, not '%s'",
                           missing ? "" : v);
      o.nas_pct = d;
    } else if ((v = tide__cli_opt_value(argc, argv, &i, "--seed", &missing)) || missing) {
      if (missing || !parse_u64(v, &o.seed))
        return usage_error("gen-groupby", "--seed wants a non-negative integer, not '%s'",
                           missing ? "" : v);
    } else if ((v = tide__cli_opt_value(argc, argv, &i, "--out", &missing)) || missing) {
      if (missing) return usage_error("gen-groupby", "option '%s' needs a path", "--out");
      outpath = v;
    } else {
      return usage_error("gen-groupby", "unknown argument '%s'", a);
    }
  }
  if (!have_rows) return usage_error("gen-groupby", "%s", "missing --rows N");
  if (!have_k) return usage_error("gen-groupby", "%s", "missing --k K");
  if (!outpath) return usage_error("gen-groupby", "%s", "missing --out FILE");
  tide_error err;
  tide_error_clear(&err);
  tide_status st = strcmp(outpath, "-") == 0 ? tide_gen_groupby_stream(&o, stdout, &err)
                                             : tide_gen_groupby(&o, outpath, &err);
  if (st) {
    fprintf(stderr, "tide %s\n", err.msg);
    return 1;
  }
  return 0;
}

/* Large blocks from the heap instead of a fresh mmap each (glibc): a
 * query that allocates and frees gigabytes (q10: key set arrays, slot
 * tables, output columns) otherwise spends up to 40% of its time in the
 * kernel faulting and zeroing new pages and in TLB shootdowns when they
 * are unmapped; reused heap memory skips all of it (q10 at 2 threads
 * 1.72 -> 1.01 s, perf/RESULTS.md). The threshold is a glibc tunable read
 * at process start (mallopt caps it at 32 MB), so tide re-executes itself
 * once with it set. The CLI only: an embedding process keeps its own
 * malloc settings. Off with TIDE_MALLOC=system, and when GLIBC_TUNABLES
 * already sets the threshold. NUMA placement is unaffected: large columns
 * are mbind-ed with MPOL_MF_MOVE, which moves reused pages too. */
static void malloc_tune(char **argv) {
#if defined(__GLIBC__) && defined(__linux__)
  const char *mode = getenv("TIDE_MALLOC");
  if ((mode && strcmp(mode, "system") == 0) || getenv("TIDE_MALLOC_TUNED")) return;
  const char *cur = getenv("GLIBC_TUNABLES");
  if (cur && strstr(cur, "glibc.malloc.mmap_threshold")) return;
  char buf[4096];
  int len = snprintf(buf, sizeof buf, "%s%sglibc.malloc.mmap_threshold=4294967295", cur ? cur : "",
                     cur && *cur ? ":" : "");
  if (len < 0 || (size_t)len >= sizeof buf) return;
  char *saved = cur ? strdup(cur) : NULL;
  if (cur && !saved) return;
  if (setenv("GLIBC_TUNABLES", buf, 1) == 0 && setenv("TIDE_MALLOC_TUNED", "1", 1) == 0)
    execv("/proc/self/exe", argv);
  /* no re-exec: go on with the defaults */
  if (saved) setenv("GLIBC_TUNABLES", saved, 1);
  else unsetenv("GLIBC_TUNABLES");
  unsetenv("TIDE_MALLOC_TUNED");
  free(saved);
#else
  (void)argv;
#endif
}

int main(int argc, char **argv) {
  malloc_tune(argv);
  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
    if (argc > 2) {
      for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[2], commands[i].name) == 0) {
          fputs(commands[i].usage, stdout);
          return 0;
        }
    }
    usage(stdout);
    return 0;
  }
  if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
    printf("tide %s\n", TIDE_VERSION_STRING);
    return 0;
  }
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (strcmp(cmd, commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
  if (cmd[0] == '-') return usage_error(NULL, "unknown option '%s'", cmd);
  return usage_error(NULL, "unknown command '%s'", cmd);
}

static int cmd_topology(int argc, char **argv) {
  int threads = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool missing = false;
    const char *v;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(commands[2].usage, stdout);
      return 0;
    } else if ((v = tide__cli_opt_value(argc, argv, &i, "--threads", &missing)) || missing) {
      uint64_t n;
      if (missing || !parse_u64(v, &n) || n > 1024)
        return usage_error("topology", "--threads wants a number from 0 to 1024, not '%s'",
                           missing ? "" : v);
      threads = (int)n;
    } else {
      return usage_error("topology", "unknown argument '%s'", a);
    }
  }
  tide_error err;
  if (threads && tide_set_threads(threads, &err) != TIDE_OK) {
    fprintf(stderr, "tide topology: %s\n", err.msg);
    return 1;
  }
  tide_topology_t *t = tide_topology_load(&err);
  if (!t) {
    fprintf(stderr, "tide topology: %s\n", err.msg);
    return 1;
  }
  tide_status st = tide_topology_print(t, tide_get_threads(), stdout, &err);
  tide_topology_free(t);
  if (st != TIDE_OK) {
    fprintf(stderr, "tide topology: %s\n", err.msg);
    return 1;
  }
  return 0;
}
