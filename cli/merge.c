/*
 * `tide merge`: move one day of an intraday partition into the historical
 * store (tide_merge_intraday, include/tide/historical.h).
 *
 *   tide merge [--db DIR] --ns NS --table T --date D [--sort-by COL[,COL...]]
 *              [--delete-intraday] [--codec none|lz4|zstd] [--quiet]
 *
 * Prints one summary line on stdout (rows, partition, seconds, rows/s).
 * Exit status: 0 merged (or already merged with the same rows), 1 the
 * merge failed (message on stderr; nothing visible was changed), 2 bad
 * usage or a bad name/date.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "cli/script.h"
#include "tide/historical.h"
#include "tide/intraday.h"

#define EXIT_USAGE 2

const char tide__merge_usage[] =
    "usage: tide merge [--db DIR] --ns NS --table T --date D [--sort-by COL[,COL...]]\n"
    "                  [--delete-intraday] [--codec none|lz4|zstd] [--quiet]\n"
    "\n"
    "Merge the committed rows of the intraday partition DIR/Intraday/NS/T/D/ into the\n"
    "historical store: DIR/Systems/NS/WritablePartitions/<n>/D/T/ (the administrator\n"
    "creates Partitions/<n> and the WritablePartitions/<n> links). The partition is\n"
    "written under a hidden temporary name, fsync-ed, read back and checked against\n"
    "the intraday rows (row count and per-column checksums), then renamed into place;\n"
    "only then is the intraday partition deleted (--delete-intraday). An interrupted\n"
    "merge leaves nothing visible and can be re-run; re-running a finished merge\n"
    "reports it (same rows: success, nothing rewritten; different rows: an error).\n"
    "A partition still being written (an ingester holds it) is refused.\n"
    "\n"
    "options:\n"
    "  --db DIR            database root (default ./tide-db)\n"
    "  --ns NS             namespace\n"
    "  --table T           table name\n"
    "  --date D            partition date YYYY-MM-DD\n"
    "  --sort-by COLS      sort the rows by these columns (stable, ascending;\n"
    "                      comma-separated); default: commit order\n"
    "  --delete-intraday   delete the intraday partition once the merge is durable\n"
    "  --codec C           column compression: none, lz4 (default), zstd\n"
    "  --quiet             no summary line\n";

static int mg_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "tide merge: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nRun 'tide merge --help' for usage.\n");
  return EXIT_USAGE;
}

int tide__cli_merge(int argc, char **argv);
int tide__cli_merge(int argc, char **argv) {
  const char *db = NULL, *ns = NULL, *table = NULL, *date = NULL, *sort = NULL, *codec = NULL;
  bool quiet = false, del = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(tide__merge_usage, stdout);
      return 0;
    }
    if (!strcmp(a, "--quiet")) {
      quiet = true;
      continue;
    }
    if (!strcmp(a, "--delete-intraday")) {
      del = true;
      continue;
    }
    static const char *const opts[] = {"--db", "--ns", "--table", "--date", "--sort-by",
                                       "--codec"};
    const char **dst[] = {&db, &ns, &table, &date, &sort, &codec};
    int which = -1;
    for (int k = 0; k < 6 && which < 0; k++) {
      size_t l = strlen(opts[k]);
      if (strncmp(a, opts[k], l) != 0) continue;
      if (a[l] == '=') {
        which = k;
        *dst[k] = a + l + 1;
      } else if (a[l] == '\0') {
        which = k;
        if (i + 1 >= argc) return mg_usage("option '%s' needs a value", opts[k]);
        *dst[k] = argv[++i];
      }
    }
    if (which < 0) return mg_usage("unknown argument '%s'", a);
  }
  if (!ns) return mg_usage("%s", "missing --ns NS");
  if (!table) return mg_usage("%s", "missing --table T");
  if (!date) return mg_usage("%s", "missing --date D");
  if (!db) db = TIDE_DB_DEFAULT;
  tide_error err;
  tide_error_clear(&err);
  if (tide_db_check_name("namespace", ns, &err) != TIDE_OK ||
      tide_db_check_name("table", table, &err) != TIDE_OK ||
      tide_intraday_check_date(date, &err) != TIDE_OK) {
    fprintf(stderr, "tide merge: %s\n", err.msg);
    return EXIT_USAGE;
  }
  tide_merge_opts_t o;
  tide_merge_opts_init(&o);
  o.delete_intraday = del;
  if (codec && tide_codec_parse(codec, &o.codec, &err) != TIDE_OK) {
    fprintf(stderr, "tide merge: %s\n", err.msg);
    return EXIT_USAGE;
  }
  /* --sort-by A,B,C */
  char *sbuf = NULL;
  const char **cols = NULL;
  size_t ncols = 0;
  if (sort) {
    sbuf = strdup(sort);
    cols = calloc(strlen(sort) / 2 + 2, sizeof *cols);
    if (!sbuf || !cols) {
      free(sbuf);
      free(cols);
      fprintf(stderr, "tide merge: out of memory\n");
      return 1;
    }
    for (char *p = sbuf;;) {
      char *comma = strchr(p, ',');
      if (comma) *comma = '\0';
      if (!*p) {
        free(sbuf);
        free(cols);
        return mg_usage("--sort-by wants column names separated by commas, not '%s'", sort);
      }
      cols[ncols++] = p;
      if (!comma) break;
      p = comma + 1;
    }
    o.sort_by = cols;
    o.nsort = ncols;
  }
  tide_merge_result_t r;
  tide_status st = tide_merge_intraday(db, ns, table, date, &o, &r, &err);
  free(sbuf);
  free(cols);
  if (st != TIDE_OK) {
    /* the library's messages start with "merge: " */
    fprintf(stderr, "tide %s%s\n", strncmp(err.msg, "merge: ", 7) ? "merge: " : "", err.msg);
    return 1;
  }
  if (!quiet) {
    if (r.already_merged)
      printf("tide merge: %s.%s %s already merged: %llu rows in partition %s (%s)%s%s\n", ns,
             table, date, (unsigned long long)r.rows, r.partition, r.path,
             r.intraday_missing ? "; the intraday data was already deleted" : "",
             r.intraday_deleted ? "; intraday data deleted" : "");
    else
      printf("tide merge: %s.%s %s: %llu rows to partition %s (%s) in %.3f s, %.0f rows/s%s\n", ns,
             table, date, (unsigned long long)r.rows, r.partition, r.path, r.seconds,
             r.seconds > 0 ? (double)r.rows / r.seconds : 0.0,
             r.intraday_deleted ? "; intraday data deleted" : "");
  }
  return 0;
}
