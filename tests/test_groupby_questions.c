/*
 * The ten db-benchmark groupby questions (examples/groupby/q*.tide) run
 * through the script interpreter on a small generated G1 dataset, checked
 * against answers computed here by a naive implementation that reads the
 * generated CSV itself (no engine code involved): rows are grouped by the
 * key text with a linear-probing map, and each group's values are
 * aggregated with plain loops and qsort.
 *
 * Also checks the generator: determinism, format, value ranges, null
 * shares.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/script.h"
#include "testutil.h"

/* ---------------------------------------------------------- naive data */

enum { ID1, ID2, ID3, ID4, ID5, ID6, V1, V2, V3, NF };
static const char *const field_names[NF] = {"id1", "id2", "id3", "id4", "id5",
                                            "id6", "v1",  "v2",  "v3"};

typedef struct row {
  char *f[NF]; /* raw text ("" = null) */
} row;

typedef struct dataset {
  row *rows;
  size_t n;
  char *text;
} dataset;

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)sz + 1);
  size_t got = fread(buf, 1, (size_t)sz, f);
  fclose(f);
  buf[got] = 0;
  if (len) *len = got;
  return buf;
}

/* Split text into lines and fields in place (no quoting in these files). */
static size_t split_csv(char *text, char ***fields_out, size_t *nfields) {
  size_t nl = 0;
  for (char *p = text; *p; p++)
    if (*p == '\n') nl++;
  size_t cap = (nl + 1) * 16;
  char **fields = malloc(cap * sizeof *fields);
  size_t nrows = 0, nf = 0, per = 0;
  char *p = text;
  while (*p) {
    char *eol = strchr(p, '\n');
    if (!eol) eol = p + strlen(p);
    char save = *eol;
    *eol = 0;
    size_t cnt = 0;
    char *s = p;
    for (;;) {
      char *comma = strchr(s, ',');
      if (comma) *comma = 0;
      if (nf < cap) fields[nf++] = s;
      cnt++;
      if (!comma) break;
      s = comma + 1;
    }
    if (nrows == 0) per = cnt;
    CHECK_MSG(cnt == per, "line %zu has %zu fields, header %zu", nrows + 1, cnt, per);
    nrows++;
    if (!save) break;
    p = eol + 1;
  }
  *fields_out = fields;
  *nfields = per;
  return nrows;
}

static bool load_dataset(const char *path, dataset *d) {
  d->text = slurp(path, NULL);
  if (!d->text) return false;
  char **fields;
  size_t per;
  size_t nrows = split_csv(d->text, &fields, &per);
  CHECK(per == NF);
  for (int i = 0; i < NF; i++) CHECK(strcmp(fields[i], field_names[i]) == 0);
  d->n = nrows - 1;
  d->rows = calloc(d->n + 1, sizeof *d->rows);
  for (size_t r = 0; r < d->n; r++)
    for (int c = 0; c < NF; c++) d->rows[r].f[c] = fields[(r + 1) * NF + c];
  free(fields);
  return true;
}

static void free_dataset(dataset *d) {
  free(d->rows);
  free(d->text);
}

static bool isnull(const row *r, int c) { return r->f[c][0] == 0; }
static double num(const row *r, int c) { return strtod(r->f[c], NULL); }

/* ------------------------------------------------------------ groups */

typedef struct group {
  char *key;
  size_t *rows;
  size_t n, cap;
} group;

typedef struct groups {
  group *g;
  size_t n, cap;
  long *ht;
  size_t hcap;
} groups;

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static group *groups_get(groups *G, const char *key) {
  if (G->n * 2 >= G->hcap) {
    size_t nc = G->hcap ? G->hcap * 2 : 1024;
    long *nh = malloc(nc * sizeof *nh);
    for (size_t i = 0; i < nc; i++) nh[i] = -1;
    for (size_t i = 0; i < G->n; i++) {
      size_t h = hash_str(G->g[i].key) & (nc - 1);
      while (nh[h] >= 0) h = (h + 1) & (nc - 1);
      nh[h] = (long)i;
    }
    free(G->ht);
    G->ht = nh;
    G->hcap = nc;
  }
  size_t h = hash_str(key) & (G->hcap - 1);
  while (G->ht[h] >= 0) {
    if (strcmp(G->g[G->ht[h]].key, key) == 0) return &G->g[G->ht[h]];
    h = (h + 1) & (G->hcap - 1);
  }
  if (G->n == G->cap) {
    G->cap = G->cap ? G->cap * 2 : 256;
    G->g = realloc(G->g, G->cap * sizeof *G->g);
  }
  group *g = &G->g[G->n];
  memset(g, 0, sizeof *g);
  g->key = strdup(key);
  G->ht[h] = (long)G->n++;
  return g;
}

static group *groups_find(groups *G, const char *key) {
  if (!G->hcap) return NULL;
  size_t h = hash_str(key) & (G->hcap - 1);
  while (G->ht[h] >= 0) {
    if (strcmp(G->g[G->ht[h]].key, key) == 0) return &G->g[G->ht[h]];
    h = (h + 1) & (G->hcap - 1);
  }
  return NULL;
}

static void groups_free(groups *G) {
  for (size_t i = 0; i < G->n; i++) {
    free(G->g[i].key);
    free(G->g[i].rows);
  }
  free(G->g);
  free(G->ht);
}

static void make_key(char *buf, size_t cap, char *const *vals, size_t nk) {
  size_t o = 0;
  buf[0] = 0;
  for (size_t i = 0; i < nk; i++) o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? "|" : "", vals[i]);
}

/* Group the rows (those with the `need` fields non-null) by key columns. */
static void group_rows(const dataset *d, const int *keys, size_t nk, const int *need, size_t nneed,
                       groups *G) {
  memset(G, 0, sizeof *G);
  char key[512];
  for (size_t r = 0; r < d->n; r++) {
    bool skip = false;
    for (size_t j = 0; j < nneed; j++) skip |= isnull(&d->rows[r], need[j]);
    if (skip) continue;
    char *kv[NF];
    for (size_t j = 0; j < nk; j++) kv[j] = d->rows[r].f[keys[j]];
    make_key(key, sizeof key, kv, nk);
    group *g = groups_get(G, key);
    if (g->n == g->cap) {
      g->cap = g->cap ? g->cap * 2 : 8;
      g->rows = realloc(g->rows, g->cap * sizeof *g->rows);
    }
    g->rows[g->n++] = r;
  }
}

/* Expected values of one group: NAN with null=true for a null. */
typedef struct expect {
  double v[4];
  bool null[4];
  int nv;
  double list[2]; /* q8 */
  int nlist;
} expect;

typedef enum { A_SUM, A_AVG, A_MAX, A_MIN } agg_kind;

static void aggregate(const dataset *d, const group *g, int col, agg_kind k, double *out,
                      bool *null) {
  double acc = 0;
  size_t cnt = 0;
  for (size_t i = 0; i < g->n; i++) {
    const row *r = &d->rows[g->rows[i]];
    if (isnull(r, col)) continue;
    double x = num(r, col);
    if (cnt == 0 && (k == A_MAX || k == A_MIN)) acc = x;
    else if (k == A_MAX) acc = x > acc ? x : acc;
    else if (k == A_MIN) acc = x < acc ? x : acc;
    else acc += x;
    cnt++;
  }
  *null = cnt == 0;
  *out = cnt == 0 ? NAN : k == A_AVG ? acc / (double)cnt : acc;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Question definitions. */
typedef struct question {
  int q;
  int keys[6];
  size_t nk;
  const char *vals[4];
  int nv;
} question;

static const question questions[] = {
    {1, {ID1}, 1, {"v1"}, 1},
    {2, {ID1, ID2}, 2, {"v1"}, 1},
    {3, {ID3}, 1, {"v1", "v3"}, 2},
    {4, {ID4}, 1, {"v1", "v2", "v3"}, 3},
    {5, {ID6}, 1, {"v1", "v2", "v3"}, 3},
    {6, {ID4, ID5}, 2, {"median_v3", "sd_v3"}, 2},
    {7, {ID3}, 1, {"range_v1_v2"}, 1},
    {8, {ID6}, 1, {"largest2_v3"}, 1},
    {9, {ID2, ID4}, 2, {"r2"}, 1},
    {10, {ID1, ID2, ID3, ID4, ID5, ID6}, 6, {"v3", "count"}, 2},
};

static void expected(const dataset *d, const question *q, const group *g, expect *e) {
  memset(e, 0, sizeof *e);
  e->nv = q->nv;
  switch (q->q) {
    case 1:
    case 2: aggregate(d, g, V1, A_SUM, &e->v[0], &e->null[0]); break;
    case 3:
      aggregate(d, g, V1, A_SUM, &e->v[0], &e->null[0]);
      aggregate(d, g, V3, A_AVG, &e->v[1], &e->null[1]);
      break;
    case 4:
    case 5:
      for (int c = 0; c < 3; c++)
        aggregate(d, g, V1 + c, q->q == 4 ? A_AVG : A_SUM, &e->v[c], &e->null[c]);
      break;
    case 6: {
      double *xs = malloc((g->n + 1) * sizeof *xs);
      size_t m = 0;
      for (size_t i = 0; i < g->n; i++)
        if (!isnull(&d->rows[g->rows[i]], V3)) xs[m++] = num(&d->rows[g->rows[i]], V3);
      qsort(xs, m, sizeof *xs, cmp_double);
      e->null[0] = e->null[1] = m == 0;
      if (m) e->v[0] = m % 2 ? xs[m / 2] : (xs[m / 2 - 1] + xs[m / 2]) / 2;
      double mean = 0, ss = 0;
      for (size_t i = 0; i < m; i++) mean += xs[i];
      mean /= (double)(m ? m : 1);
      for (size_t i = 0; i < m; i++) ss += (xs[i] - mean) * (xs[i] - mean);
      e->v[1] = m >= 2 ? sqrt(ss / (double)(m - 1)) : NAN;
      free(xs);
      break;
    }
    case 7: {
      double mx, mn;
      bool nx, nn;
      aggregate(d, g, V1, A_MAX, &mx, &nx);
      aggregate(d, g, V2, A_MIN, &mn, &nn);
      e->null[0] = nx || nn;
      e->v[0] = mx - mn;
      break;
    }
    case 8: {
      double *xs = malloc((g->n + 1) * sizeof *xs);
      size_t m = 0;
      for (size_t i = 0; i < g->n; i++) xs[m++] = num(&d->rows[g->rows[i]], V3);
      qsort(xs, m, sizeof *xs, cmp_double);
      for (size_t i = 0; i < m && i < 2; i++) e->list[e->nlist++] = xs[m - 1 - i];
      free(xs);
      break;
    }
    case 9: {
      /* textbook two-pass Pearson correlation, squared (the script uses
       * one-pass sums: a different formula on purpose) */
      double mx = 0, my = 0;
      for (size_t i = 0; i < g->n; i++) {
        mx += num(&d->rows[g->rows[i]], V1);
        my += num(&d->rows[g->rows[i]], V2);
      }
      mx /= (double)(g->n ? g->n : 1);
      my /= (double)(g->n ? g->n : 1);
      double cxy = 0, cxx = 0, cyy = 0;
      for (size_t i = 0; i < g->n; i++) {
        double dx = num(&d->rows[g->rows[i]], V1) - mx, dy = num(&d->rows[g->rows[i]], V2) - my;
        cxy += dx * dy;
        cxx += dx * dx;
        cyy += dy * dy;
      }
      double r = cxy / sqrt(cxx * cyy);
      e->v[0] = r * r;
      break;
    }
    case 10:
      aggregate(d, g, V3, A_SUM, &e->v[0], &e->null[0]);
      e->v[1] = (double)g->n;
      break;
  }
}

static bool close_enough(double a, double b) {
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
  double m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
  return fabs(a - b) <= 1e-9 * (m > 1 ? m : 1);
}

/* Compare the script's output CSV with the naive answers. */
static void check_output(const char *tag, const dataset *d, const question *q, const char *path) {
  int need[2];
  size_t nneed = 0;
  if (q->q == 8) need[nneed++] = V3;
  if (q->q == 9) {
    need[nneed++] = V1;
    need[nneed++] = V2;
  }
  groups G;
  group_rows(d, q->keys, q->nk, need, nneed, &G);
  char *text = slurp(path, NULL);
  CHECK_MSG(text != NULL, "%s q%d: no output file %s", tag, q->q, path);
  if (!text) {
    groups_free(&G);
    return;
  }
  char **fields;
  size_t per;
  size_t nrows = split_csv(text, &fields, &per);
  int kidx[6], vidx[4];
  bool cols_ok = true;
  for (size_t k = 0; k < q->nk; k++) {
    kidx[k] = -1;
    for (size_t c = 0; c < per; c++)
      if (strcmp(fields[c], field_names[q->keys[k]]) == 0) kidx[k] = (int)c;
    cols_ok &= kidx[k] >= 0;
  }
  for (int v = 0; v < q->nv; v++) {
    vidx[v] = -1;
    for (size_t c = 0; c < per; c++)
      if (strcmp(fields[c], q->vals[v]) == 0) vidx[v] = (int)c;
    cols_ok &= vidx[v] >= 0;
  }
  CHECK_MSG(cols_ok && per == q->nk + (size_t)q->nv, "%s q%d: unexpected columns in %s", tag,
            q->q, path);
  size_t *seen = calloc(G.n + 1, sizeof *seen);
  double **got_lists = calloc(G.n + 1, sizeof *got_lists);
  int failures = 0;
  size_t out_rows = nrows ? nrows - 1 : 0;
  size_t expect_rows = 0;
  for (size_t i = 0; i < G.n; i++)
    expect_rows += q->q == 8 ? (G.g[i].n < 2 ? G.g[i].n : 2) : 1;
  CHECK_MSG(out_rows == expect_rows, "%s q%d: %zu result rows, expected %zu", tag, q->q,
            out_rows, expect_rows);
  for (size_t r = 1; cols_ok && r < nrows && failures < 5; r++) {
    char **f = fields + r * per;
    char *kv[6];
    for (size_t k = 0; k < q->nk; k++) kv[k] = f[kidx[k]];
    char key[512];
    make_key(key, sizeof key, kv, q->nk);
    group *g = groups_find(&G, key);
    if (!g) {
      CHECK_MSG(false, "%s q%d: result key '%s' is not a group of the data", tag, q->q, key);
      failures++;
      continue;
    }
    size_t gi = (size_t)(g - G.g);
    expect e;
    expected(d, q, g, &e);
    if (q->q == 8) {
      if (!got_lists[gi]) got_lists[gi] = calloc(3, sizeof(double));
      if (seen[gi] < 2) got_lists[gi][seen[gi]] = strtod(f[vidx[0]], NULL);
      seen[gi]++;
      continue;
    }
    seen[gi]++;
    for (int v = 0; v < q->nv; v++) {
      const char *txt = f[vidx[v]];
      bool gnull = txt[0] == 0;
      double gv = gnull ? NAN : strtod(txt, NULL);
      bool ok;
      if (e.null[v]) ok = gnull;
      else if (isnan(e.v[v])) ok = gnull || isnan(gv); /* std of one value: null or NaN */
      else ok = !gnull && close_enough(gv, e.v[v]);
      if (!ok) {
        CHECK_MSG(false, "%s q%d: key %s column %s = '%s', expected %s%.17g", tag, q->q, key,
                  q->vals[v], txt, e.null[v] ? "null " : "", e.v[v]);
        failures++;
      }
    }
  }
  for (size_t i = 0; cols_ok && i < G.n && failures < 5; i++) {
    group *g = &G.g[i];
    if (q->q == 8) {
      expect e;
      expected(d, q, g, &e);
      bool ok = seen[i] == (size_t)e.nlist;
      if (ok && e.nlist) {
        qsort(got_lists[i], seen[i], sizeof(double), cmp_double);
        /* expected list is descending */
        for (int j = 0; j < e.nlist; j++)
          ok &= close_enough(got_lists[i][e.nlist - 1 - j], e.list[j]);
      }
      if (!ok) {
        CHECK_MSG(false, "%s q8: group %s: %zu rows, expected top %d (%.9g, %.9g)", tag, g->key,
                  seen[i], e.nlist, e.list[0], e.list[1]);
        failures++;
      }
    } else if (seen[i] != 1) {
      CHECK_MSG(false, "%s q%d: group %s appears %zu times in the result", tag, q->q, g->key,
                seen[i]);
      failures++;
    }
  }
  for (size_t i = 0; i < G.n; i++) free(got_lists[i]);
  free(got_lists);
  free(seen);
  free(fields);
  free(text);
  groups_free(&G);
}

static const char *source_dir(void) {
  const char *s = getenv("TIDE_SOURCE_DIR");
  return s && *s ? s : "..";
}

static void run_questions(const char *dir, const char *tag, const char *data_path, int threads) {
  dataset d;
  CHECK_MSG(load_dataset(data_path, &d), "cannot load %s", data_path);
  tide_error err;
  tide_error_clear(&err);
  CHECK_OK(tide_set_threads(threads, &err), err);
  for (size_t i = 0; i < sizeof questions / sizeof questions[0]; i++) {
    const question *q = &questions[i];
    char script[1024], out[1024];
    snprintf(script, sizeof script, "%s/examples/groupby/q%d.tide", source_dir(), q->q);
    snprintf(out, sizeof out, "%s/%s_q%d_t%d.csv", dir, tag, q->q, threads);
    const char *names[] = {"input", "output"};
    const char *values[] = {data_path, out};
    tide_script_options opt = {0};
    opt.nsets = 2;
    opt.set_names = names;
    opt.set_values = values;
    tide_script_diag diag;
    tide_status st = tide_script_run_file(script, &opt, stderr, &diag);
    CHECK_MSG(st == TIDE_OK, "%s q%d (threads %d): %d:%d: %s", tag, q->q, threads, diag.line,
              diag.col, diag.msg);
    if (st == TIDE_OK) check_output(tag, &d, q, out);
    remove(out);
  }
  tide_set_threads(0, &err);
  free_dataset(&d);
}

/* ----------------------------------------------------------- generator */

static void test_generator(const char *dir) {
  char a[1024], b[1024], c[1024];
  snprintf(a, sizeof a, "%s/gen_a.csv", dir);
  snprintf(b, sizeof b, "%s/gen_b.csv", dir);
  snprintf(c, sizeof c, "%s/gen_c.csv", dir);
  tide_error err;
  tide_error_clear(&err);
  tide_gen_groupby_opts o = {.rows = 5000, .k = 7, .nas_pct = 0, .seed = 42};
  CHECK_OK(tide_gen_groupby(&o, a, &err), err);
  CHECK_OK(tide_gen_groupby(&o, b, &err), err);
  o.seed = 43;
  CHECK_OK(tide_gen_groupby(&o, c, &err), err);
  size_t la, lb, lc;
  char *ta = slurp(a, &la), *tb = slurp(b, &lb), *tc = slurp(c, &lc);
  CHECK(ta && tb && tc);
  if (ta && tb && tc) {
    CHECK(la == lb && memcmp(ta, tb, la) == 0); /* deterministic */
    CHECK(la != lc || memcmp(ta, tc, la) != 0); /* seed matters */
  }
  free(ta);
  free(tb);
  free(tc);
  dataset d;
  CHECK(load_dataset(a, &d));
  CHECK(d.n == 5000);
  /* ranges and formats */
  const uint64_t nk = 5000 / 7;
  bool seen_v1[6] = {0}, seen_v2[16] = {0};
  size_t bad = 0;
  for (size_t r = 0; r < d.n; r++) {
    const row *w = &d.rows[r];
    for (int f = ID1; f <= ID2; f++) {
      int v = atoi(w->f[f] + 2);
      bad += strncmp(w->f[f], "id", 2) != 0 || strlen(w->f[f]) != 5 || v < 1 || v > 7;
    }
    long v3id = atol(w->f[ID3] + 2);
    bad += strncmp(w->f[ID3], "id", 2) != 0 || strlen(w->f[ID3]) != 12 || v3id < 1 ||
           v3id > (long)nk;
    for (int f = ID4; f <= ID5; f++) bad += atoi(w->f[f]) < 1 || atoi(w->f[f]) > 7;
    bad += atol(w->f[ID6]) < 1 || atol(w->f[ID6]) > (long)nk;
    int v1 = atoi(w->f[V1]), v2 = atoi(w->f[V2]);
    bad += v1 < 1 || v1 > 5 || v2 < 1 || v2 > 15;
    if (v1 >= 1 && v1 <= 5) seen_v1[v1] = true;
    if (v2 >= 1 && v2 <= 15) seen_v2[v2] = true;
    double v3 = num(w, V3);
    const char *dot = strchr(w->f[V3], '.');
    bad += v3 < 0 || v3 >= 100 || !dot || strlen(dot + 1) > 6 || strlen(dot + 1) < 1;
  }
  CHECK_MSG(bad == 0, "%zu malformed generated values", bad);
  for (int v = 1; v <= 5; v++) CHECK(seen_v1[v]);
  for (int v = 1; v <= 15; v++) CHECK(seen_v2[v]);
  free_dataset(&d);

  /* nulls: 10% of the rows of each v column, 10% of the distinct values
   * of each id column (every occurrence) */
  o.seed = 7;
  o.nas_pct = 10;
  o.rows = 4000;
  o.k = 20;
  CHECK_OK(tide_gen_groupby(&o, a, &err), err);
  CHECK(load_dataset(a, &d));
  size_t nulls[NF] = {0};
  for (size_t r = 0; r < d.n; r++)
    for (int f = 0; f < NF; f++) nulls[f] += isnull(&d.rows[r], f);
  for (int f = V1; f <= V3; f++) CHECK_MSG(nulls[f] == 400, "%s nulls %zu", field_names[f], nulls[f]);
  /* id1 has 20 values, 2 of them null: roughly 10% of the rows */
  for (int f = ID1; f <= ID6; f++)
    CHECK_MSG(nulls[f] > 150 && nulls[f] < 700, "%s nulls %zu", field_names[f], nulls[f]);
  /* distinct non-null id1 values: 18 */
  groups G;
  int key = ID1;
  group_rows(&d, &key, 1, &key, 1, &G);
  CHECK_MSG(G.n == 18, "id1 distinct non-null %zu", G.n);
  groups_free(&G);
  free_dataset(&d);

  /* bad options */
  o.k = 0;
  CHECK(tide_gen_groupby(&o, a, &err) == TIDE_ERR_INVALID);
  o.k = 3;
  o.nas_pct = 101;
  CHECK(tide_gen_groupby(&o, a, &err) == TIDE_ERR_INVALID);
  CHECK(tide_gen_groupby(&o, "/nonexistent-dir/x.csv", &err) != TIDE_OK);
  remove(a);
  remove(b);
  remove(c);
}

int main(void) {
  char dir[] = "/tmp/tide_gbq_XXXXXX";
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_generator(dir);

  char data[1024];
  tide_error err;
  tide_error_clear(&err);
  /* no nulls */
  snprintf(data, sizeof data, "%s/g1_nonull.csv", dir);
  tide_gen_groupby_opts o = {.rows = 2000, .k = 10, .nas_pct = 0, .seed = tu_seed(2024)};
  CHECK_OK(tide_gen_groupby(&o, data, &err), err);
  run_questions(dir, "nonull", data, 1);
  run_questions(dir, "nonull", data, 2);
  remove(data);
  /* with nulls */
  snprintf(data, sizeof data, "%s/g1_nas.csv", dir);
  o.rows = 3000;
  o.k = 8;
  o.nas_pct = 5;
  o.seed = tu_seed(2024) + 1;
  CHECK_OK(tide_gen_groupby(&o, data, &err), err);
  run_questions(dir, "nas", data, 1);
  run_questions(dir, "nas", data, 3);
  remove(data);
  rmdir(dir);
  return tu_finish("test_groupby_questions");
}
