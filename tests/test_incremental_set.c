/*
 * Incremental select_distinct, where_in / where_not_in (ops/distinct.c,
 * ops/wherein.c) and ring_table (ops/tabletypes.c) over the random ticking
 * sources of tests/checker.h, every input kind, several seeds.
 *
 * - select_distinct: a key keeps its slot for life (Deephaven), so the
 *   result equals the static build exactly for append-only inputs and, for
 *   blink inputs, the static build over every batch seen (whole-stream
 *   semantics); for standard and add-only inputs the rows are compared as
 *   sets (sorted by every column).
 * - where_in / where_not_in: the source ticking with a static filter, a
 *   static source with a ticking filter, both ticking; compared exactly
 *   with the static build over snapshots (tc_run).
 * - ring_table: against a naive model, the last n rows of the stream of
 *   rows the input delivered.
 * Every update each result emits is validated against a mirror
 * (tc_on_update). Hand-written cases check exact updates where the
 * semantics are subtle. TIDE_CYCLES=N sets the cycles per run.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "checker.h"

static uint64_t g_cycles_checked;

/* ------------------------------------------------ comparison as sets */

typedef struct rows_t {
  uint64_t n;
  size_t ncols;
  tide_type_t *types;
  uint64_t **vals;
  const tide_table_t *t;
} rows_t;

static void rows_load(rows_t *r, const tide_table_t *t) {
  uint64_t *keys = tc_keys_of(tide_table_rowset(t), &r->n);
  r->t = t;
  r->ncols = tide_table_ncols(t);
  r->types = calloc(r->ncols + 1, sizeof *r->types);
  r->vals = calloc(r->ncols + 1, sizeof *r->vals);
  for (size_t c = 0; c < r->ncols; c++) {
    tide_source_t *src = tide_table_col_source(t, c);
    r->types[c] = tide_source_type(src);
    r->vals[c] = malloc((r->n ? r->n : 1) * sizeof(uint64_t));
    tc_read(src, keys, r->n, false, r->vals[c]);
  }
  free(keys);
}

static void rows_free(rows_t *r) {
  for (size_t c = 0; c < r->ncols; c++) free(r->vals[c]);
  free(r->vals);
  free(r->types);
}

static const rows_t *g_rows;
/* Compare by content: strings by bytes, symbols by their strings. */
static int cmp_cell(const rows_t *r, size_t c, uint64_t a, uint64_t b) {
  tide_type_t t = r->types[c];
  if (t == TIDE_STRING || t == TIDE_SYMBOL) {
    const char *x, *y;
    if (t == TIDE_STRING) {
      x = (const char *)(uintptr_t)a;
      y = (const char *)(uintptr_t)b;
    } else {
      tide_symtab_t *st = tide_source_symtab(tide_table_col_source(r->t, c));
      x = tide_symtab_str(st, (int32_t)(uint32_t)a);
      y = tide_symtab_str(st, (int32_t)(uint32_t)b);
    }
    if (!x || !y) return (x != NULL) - (y != NULL);
    return strcmp(x, y);
  }
  return (a > b) - (a < b);
}
static int cmp_row(const void *pa, const void *pb) {
  uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
  for (size_t c = 0; c < g_rows->ncols; c++) {
    int d = cmp_cell(g_rows, c, g_rows->vals[c][a], g_rows->vals[c][b]);
    if (d) return d;
  }
  return 0;
}

/* a and b hold the same rows (any order); names and types equal. */
static bool equal_as_sets(const tide_table_t *a, const tide_table_t *b, char *msg, size_t cap) {
  rows_t ra, rb;
  memset(&ra, 0, sizeof ra);
  memset(&rb, 0, sizeof rb);
  rows_load(&ra, a);
  rows_load(&rb, b);
  bool ok = true;
  uint64_t *oa = NULL, *ob = NULL;
  if (ra.ncols != rb.ncols || ra.n != rb.n) {
    snprintf(msg, cap, "shape differs: %llu rows x %zu cols vs %llu x %zu",
             (unsigned long long)ra.n, ra.ncols, (unsigned long long)rb.n, rb.ncols);
    ok = false;
    goto out;
  }
  for (size_t c = 0; c < ra.ncols; c++)
    if (ra.types[c] != rb.types[c] ||
        strcmp(tide_table_col_name(a, c), tide_table_col_name(b, c))) {
      snprintf(msg, cap, "column %zu differs in name or type", c);
      ok = false;
      goto out;
    }
  oa = malloc((ra.n ? ra.n : 1) * sizeof *oa);
  ob = malloc((rb.n ? rb.n : 1) * sizeof *ob);
  for (uint64_t i = 0; i < ra.n; i++) oa[i] = ob[i] = i;
  g_rows = &ra;
  qsort(oa, ra.n, sizeof *oa, cmp_row);
  g_rows = &rb;
  qsort(ob, rb.n, sizeof *ob, cmp_row);
  for (uint64_t i = 0; ok && i < ra.n; i++)
    for (size_t c = 0; ok && c < ra.ncols; c++) {
      uint64_t x = ra.vals[c][oa[i]], y = rb.vals[c][ob[i]];
      bool same;
      if (ra.types[c] == TIDE_SYMBOL) {
        const char *sx = tide_symtab_str(tide_source_symtab(tide_table_col_source(a, c)),
                                         (int32_t)(uint32_t)x);
        const char *sy = tide_symtab_str(tide_source_symtab(tide_table_col_source(b, c)),
                                         (int32_t)(uint32_t)y);
        same = sx == sy || (sx && sy && !strcmp(sx, sy));
      } else {
        same = tc_slot_eq(ra.types[c], x, y);
      }
      if (!same) {
        char s1[64], s2[64];
        tc_slot_str(ra.types[c], tide_table_col_source(a, c), x, s1, sizeof s1);
        tc_slot_str(rb.types[c], tide_table_col_source(b, c), y, s2, sizeof s2);
        snprintf(msg, cap, "sorted row %llu column '%s': %s vs %s", (unsigned long long)i,
                 tide_table_col_name(a, c), s1, s2);
        ok = false;
      }
    }
out:
  free(oa);
  free(ob);
  rows_free(&ra);
  rows_free(&rb);
  return ok;
}

/* ------------------------------------------------ select_distinct */

typedef struct sd_case {
  const char *name;
  const char *const *cols;
  size_t ncols;
} sd_case;

/* With ring > 0 the input is ring_table(source, ring) of an append-only
 * source (a ticking table that removes its oldest rows). */
static bool run_distinct(const sd_case *c, tide_table_kind_t kind, uint64_t seed,
                         uint64_t cycles, uint64_t ring) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  tide_table_t *src0 = tc_source_create(g, kind, seed * 31 + 1, NULL);
  tide_table_t *in = ring ? tide_ring_table(src0, ring, true, &err) : tide_table_retain(src0);
  if (ring) kind = TIDE_KIND_STANDARD; /* a ring is compared like a standard input */
  tc_run_state st;
  memset(&st, 0, sizeof st);
  bool ok = true;
  uint64_t cycle = 0;
  tide_listener_t *l = NULL;
  tide_table_t **batches = NULL;
  size_t nb = 0;
  tide_table_t *res = tide_select_distinct(in, c->cols, c->ncols, &err);
  tu_checks++;
  if (!res) {
    snprintf(st.msg, sizeof st.msg, "op failed: %s", err.msg);
    ok = false;
    goto done;
  }
  tide_table_kind_t want = kind == TIDE_KIND_STANDARD ? TIDE_KIND_STANDARD : TIDE_KIND_APPEND_ONLY;
  if (tide_table_kind(res) != want) {
    snprintf(st.msg, sizeof st.msg, "result kind %s, expected %s",
             tc_kind_name(tide_table_kind(res)), tc_kind_name(want));
    ok = false;
    goto done;
  }
  tc_mirror_load(&st.m, res);
  l = tide_table_listen(res, tc_on_update, &st, &err);
  if (kind == TIDE_KIND_BLINK) {
    batches = malloc((cycles + 1) * sizeof *batches);
    batches[nb++] = tc_snapshot(in);
  }
  for (cycle = 0; cycle <= cycles && ok; cycle++) {
    if (cycle > 0) {
      st.listened = false;
      const tide_rowset_t *before = tide_table_rowset(in);
      if (tide_graph_run_cycles(g, 1, &err) != TIDE_OK) {
        snprintf(st.msg, sizeof st.msg, "cycle failed: %s", err.msg);
        ok = false;
        break;
      }
      if (st.failed) {
        ok = false;
        break;
      }
      if (!st.listened && !tc_mirror_matches(&st.m, res, st.msg, sizeof st.msg)) {
        ok = false;
        break;
      }
      if (kind == TIDE_KIND_BLINK && tide_table_rowset(in) != before)
        batches[nb++] = tc_snapshot(in);
      g_cycles_checked++;
    }
    tide_table_t *src = kind == TIDE_KIND_BLINK ? tide_merge(batches, nb, &err) : tc_snapshot(in);
    tide_table_t *expect = src ? tide_select_distinct(src, c->cols, c->ncols, &err) : NULL;
    if (!expect) {
      snprintf(st.msg, sizeof st.msg, "static op failed: %s", err.msg);
      ok = false;
    } else if (kind == TIDE_KIND_STANDARD || kind == TIDE_KIND_ADD_ONLY) {
      ok = equal_as_sets(res, expect, st.msg, sizeof st.msg);
    } else if (!tu_table_equal(res, expect, 0, st.msg, sizeof st.msg)) {
      ok = false;
    }
    tide_table_free(expect);
    tide_table_free(src);
  }
done:
  if (l) tide_listener_remove(l);
  tu_checks++;
  if (!ok) {
    tu_failures++;
    fprintf(stderr, "select_distinct case %s, %s input, seed %llu, cycle %llu: %s\n", c->name,
            tc_kind_name(kind), (unsigned long long)seed, (unsigned long long)cycle, st.msg);
  }
  for (size_t i = 0; i < nb; i++) tide_table_free(batches[i]);
  free(batches);
  tc_mirror_free(&st.m);
  tide_table_free(res);
  tide_table_free(in);
  tide_table_free(src0);
  tide_graph_free(g);
  return ok;
}

/* ------------------------------------------------ where_in */

typedef struct wi_ctx {
  bool invert;
  const char *const *match;
  size_t nmatch;
  int mode;             /* 0: ticking source + static filter, 1: static source + ticking
                         * filter, 2: both ticking, 3: the source filtered by itself */
  const char *ffilter;  /* a where applied to the filter table first (or NULL) */
  tide_table_t *fixed;  /* the static table of modes 0 and 1 */
  uint64_t ring;        /* > 0: the source is ring_table(source, ring) first */
} wi_ctx;

static tide_table_t *wi_op(tide_table_t *const *in, size_t nin, void *ctx, tide_error *err) {
  (void)nin;
  wi_ctx *w = ctx;
  tide_table_t *src = w->mode == 1 ? w->fixed : in[0];
  tide_table_t *filt = w->mode == 0 ? w->fixed : w->mode == 2 ? in[1] : in[0];
  tide_table_t *f2 = NULL, *rg = NULL;
  if (w->ring) {
    /* over an append-only input, the last `ring` rows == its tail */
    rg = tide_ring_table(src, w->ring, true, err);
    if (!rg) return NULL;
    src = rg;
  }
  if (w->ffilter) {
    f2 = tide_where(filt, w->ffilter, err);
    if (!f2) {
      tide_table_free(rg);
      return NULL;
    }
    filt = f2;
  }
  tide_table_t *r = w->invert ? tide_where_not_in(src, filt, w->match, w->nmatch, err)
                              : tide_where_in(src, filt, w->match, w->nmatch, err);
  tide_table_free(f2);
  tide_table_free(rg);
  return r;
}

/* A static random table (a snapshot of a fresh random source). */
static tide_table_t *static_random(uint64_t seed) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide_table_t *t = tc_source_create(g, TIDE_KIND_STANDARD, seed, NULL);
  tide_table_t *s = tc_snapshot(t);
  tide_table_free(t);
  tide_graph_free(g);
  return s;
}

/* ------------------------------------------------ ring_table */

static bool run_ring(tide_table_kind_t kind, uint64_t cap, bool init, uint64_t seed,
                     uint64_t cycles) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  tide_table_t *in = tc_source_create(g, kind, seed * 31 + 7, NULL);
  tc_run_state st;
  memset(&st, 0, sizeof st);
  bool ok = true;
  uint64_t cycle = 0;
  tide_listener_t *l = NULL;
  /* the stream: every batch the input delivered (a static table each) */
  tide_table_t **batches = malloc((cycles + 2) * sizeof *batches);
  size_t nb = 0;
  uint64_t seen = tide_table_size(in); /* append-only: rows already delivered */
  tide_table_t *res = tide_ring_table(in, cap, init, &err);
  tu_checks++;
  if (!res) {
    snprintf(st.msg, sizeof st.msg, "op failed: %s", err.msg);
    ok = false;
    goto done;
  }
  if (tide_table_kind(res) != TIDE_KIND_RING) {
    snprintf(st.msg, sizeof st.msg, "result kind %s", tc_kind_name(tide_table_kind(res)));
    ok = false;
    goto done;
  }
  tc_mirror_load(&st.m, res);
  l = tide_table_listen(res, tc_on_update, &st, &err);
  if (init) batches[nb++] = tc_snapshot(in);
  for (cycle = 0; cycle <= cycles && ok; cycle++) {
    if (cycle > 0) {
      st.listened = false;
      const tide_rowset_t *before = tide_table_rowset(in);
      if (tide_graph_run_cycles(g, 1, &err) != TIDE_OK) {
        snprintf(st.msg, sizeof st.msg, "cycle failed: %s", err.msg);
        ok = false;
        break;
      }
      if (st.failed) {
        ok = false;
        break;
      }
      if (!st.listened && !tc_mirror_matches(&st.m, res, st.msg, sizeof st.msg)) {
        ok = false;
        break;
      }
      if (tide_table_rowset(in) != before) {
        tide_table_t *snap = tc_snapshot(in);
        if (kind == TIDE_KIND_BLINK) {
          batches[nb++] = snap;
        } else {
          /* append-only: the rows after the ones seen */
          uint64_t n = tide_table_size(snap);
          batches[nb++] = tide_tail(snap, n - seen, &err);
          seen = n;
          tide_table_free(snap);
        }
      }
      g_cycles_checked++;
    }
    /* naive model: the last cap rows of the stream */
    tide_table_t *all = NULL, *expect = NULL;
    if (nb) {
      all = tide_merge(batches, nb, &err);
      expect = all ? tide_tail(all, cap, &err) : NULL;
    } else {
      tide_table_t *s = tc_snapshot(in);
      expect = tide_head(s, 0, &err);
      tide_table_free(s);
    }
    if (!expect) {
      snprintf(st.msg, sizeof st.msg, "model failed: %s", err.msg);
      ok = false;
    } else if (!tu_table_equal(res, expect, 0, st.msg, sizeof st.msg)) {
      ok = false;
    }
    tide_table_free(expect);
    tide_table_free(all);
  }
done:
  if (l) tide_listener_remove(l);
  tu_checks++;
  if (!ok) {
    tu_failures++;
    fprintf(stderr, "ring_table cap %llu%s, %s input, seed %llu, cycle %llu: %s\n",
            (unsigned long long)cap, init ? "" : " (not initialized)", tc_kind_name(kind),
            (unsigned long long)seed, (unsigned long long)cycle, st.msg);
  }
  for (size_t i = 0; i < nb; i++) tide_table_free(batches[i]);
  free(batches);
  tc_mirror_free(&st.m);
  tide_table_free(res);
  tide_table_free(in);
  tide_graph_free(g);
  return ok;
}

/* ------------------------------------------------ hand-written cases */

/* A source node the test drives by hand: each cycle publishes `next`. */
typedef struct hand_src {
  tide_update_t next;
  tide_rowset_t *rs;
  bool pending;
} hand_src;

static tide_status hand_refresh(tide_gnode_t *n, tide_error *err) {
  hand_src *h = n->state;
  if (!h->pending) return TIDE_OK;
  h->pending = false;
  tide_rowset_t *rs = h->rs;
  h->rs = NULL;
  return tide__gnode_publish(n, &h->next, rs, err);
}
static void hand_destroy(tide_gnode_t *n) {
  hand_src *h = n->state;
  tide__update_clear(&h->next);
  tide_rowset_free(h->rs);
  free(h);
}
static const tide_gnode_vt hand_vt = {"hand", hand_refresh, NULL, hand_destroy};

/* A ticking table of one SYMBOL column K and one int64 column V. */
static tide_table_t *hand_table(tide_graph_t *g, tide_table_kind_t kind, hand_src **out) {
  tide_error err;
  const char *names[] = {"K", "V"};
  tide_source_t *cols[2] = {tide__source_paged_create(TIDE_SYMBOL, NULL, &err),
                            tide__source_paged_create(TIDE_I64, NULL, &err)};
  for (int c = 0; c < 2; c++) tide__source_track_prev(cols[c], tide__graph_step_ptr(g));
  tide_rowset_t *rs = tide_rowset_create();
  tide_table_t *t = tide_table_create(rs, 2, names, cols, &err);
  tide_rowset_free(rs);
  tide_source_release(cols[0]);
  tide_source_release(cols[1]);
  hand_src *h = calloc(1, sizeof *h);
  tide__gnode_create(g, t, kind, &hand_vt, NULL, 0, h, &err);
  *out = h;
  return t;
}

static void hand_set(tide_table_t *t, uint64_t key, const char *k, int64_t v) {
  tide_source_t *ks = tide_table_col_source(t, 0), *vs = tide_table_col_source(t, 1);
  int32_t code = tide_symtab_intern(tide_source_symtab(ks), k, strlen(k));
  tide__source_paged_set(ks, &key, 1, &code);
  tide__source_paged_set(vs, &key, 1, &v);
}

/* Queue an update: removed/added/modified given as key lists (-1 ends). */
static void hand_queue(hand_src *h, tide_table_t *t, const int64_t *rm, const int64_t *ad,
                       const int64_t *md, unsigned modcols) {
  tide_rowset_t *rs = tide_rowset_copy(tide_table_rowset(t));
  h->next.removed = tide_rowset_create();
  h->next.added = tide_rowset_create();
  h->next.modified = tide_rowset_create();
  for (; rm && *rm >= 0; rm++) {
    tide_rowset_insert(h->next.removed, (uint64_t)*rm);
    tide_rowset_remove(rs, (uint64_t)*rm);
  }
  for (; ad && *ad >= 0; ad++) {
    tide_rowset_insert(h->next.added, (uint64_t)*ad);
    tide_rowset_insert(rs, (uint64_t)*ad);
  }
  for (; md && *md >= 0; md++) tide_rowset_insert(h->next.modified, (uint64_t)*md);
  if (modcols) {
    h->next.modified_cols = calloc(1, sizeof(uint64_t));
    h->next.modified_cols[0] = modcols;
    h->next.ncols = 2;
  }
  h->rs = rs;
  h->pending = true;
}

typedef struct capture {
  int n;
  tide_rowset_t *removed, *added, *modified;
} capture;
static void cap_fn(tide_table_t *t, const tide_update_t *u, void *ctx) {
  (void)t;
  capture *c = ctx;
  c->n++;
  tide_rowset_free(c->removed);
  tide_rowset_free(c->added);
  tide_rowset_free(c->modified);
  c->removed = u->removed ? tide_rowset_copy(u->removed) : tide_rowset_create();
  c->added = u->added ? tide_rowset_copy(u->added) : tide_rowset_create();
  c->modified = u->modified ? tide_rowset_copy(u->modified) : tide_rowset_create();
}
static void cap_clear(capture *c) {
  tide_rowset_free(c->removed);
  tide_rowset_free(c->added);
  tide_rowset_free(c->modified);
  memset(c, 0, sizeof *c);
}
static bool rs_is(const tide_rowset_t *rs, const int64_t *keys) {
  tide_rowset_t *e = tide_rowset_create();
  for (; *keys >= 0; keys++) tide_rowset_insert(e, (uint64_t)*keys);
  bool eq = rs && tide_rowset_equals(rs, e);
  tide_rowset_free(e);
  return eq;
}
#define K(...) ((const int64_t[]){__VA_ARGS__, -1})
#define NONE ((const int64_t[]){-1})

static void test_hand_distinct(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  hand_src *h;
  tide_table_t *t = hand_table(g, TIDE_KIND_STANDARD, &h);
  static const char *const by[] = {"K"};
  /* rows 0:A 1:B 2:A */
  hand_set(t, 0, "A", 1);
  hand_set(t, 1, "B", 2);
  hand_set(t, 2, "A", 3);
  hand_queue(h, t, NULL, K(0, 1, 2), NULL, 0);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  tide_table_t *d = tide_select_distinct(t, by, 1, &err);
  CHECK_OK_PTR(d, err);
  capture c = {0};
  tide_table_listen(d, cap_fn, &c, &err);
  CHECK(tide_table_size(d) == 2 && !strcmp(tu_cell(d, "K", 0), "A") &&
        !strcmp(tu_cell(d, "K", 1), "B"));
  /* remove row 0 (A still held by row 2): nothing changes */
  hand_queue(h, t, K(0), NULL, NULL, 0);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(c.n == 0);
  /* remove row 2: A goes (key 0 removed) */
  hand_queue(h, t, K(2), NULL, NULL, 0);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(c.n == 1 && rs_is(c.removed, K(0)) && rs_is(c.added, NONE));
  /* modify row 1 B -> C: B removed (key 1), C added (key 2) */
  hand_set(t, 1, "C", 2);
  hand_queue(h, t, NULL, NULL, K(1), 1);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(c.n == 2 && rs_is(c.removed, K(1)) && rs_is(c.added, K(2)));
  /* A comes back at row 5 and keeps its slot: first row again */
  hand_set(t, 5, "A", 9);
  hand_queue(h, t, NULL, K(5), NULL, 0);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(c.n == 3 && rs_is(c.added, K(0)) && rs_is(c.removed, NONE));
  CHECK(tide_table_size(d) == 2 && !strcmp(tu_cell(d, "K", 0), "A") &&
        !strcmp(tu_cell(d, "K", 1), "C"));
  /* modifying only V changes nothing */
  hand_set(t, 5, "A", 10);
  hand_queue(h, t, NULL, NULL, K(5), 2);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(c.n == 3);
  cap_clear(&c);
  tide_table_free(d);
  tide_table_free(t);
  tide_graph_free(g);
}

static void test_hand_where_in(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  hand_src *hs, *hf;
  tide_table_t *s = hand_table(g, TIDE_KIND_STANDARD, &hs);
  tide_table_t *f = hand_table(g, TIDE_KIND_STANDARD, &hf);
  static const char *const m[] = {"K"};
  /* source 0:A 1:B 2:A 3:C; filter 0:A */
  hand_set(s, 0, "A", 0);
  hand_set(s, 1, "B", 1);
  hand_set(s, 2, "A", 2);
  hand_set(s, 3, "C", 3);
  hand_queue(hs, s, NULL, K(0, 1, 2, 3), NULL, 0);
  hand_set(f, 0, "A", 0);
  hand_queue(hf, f, NULL, K(0), NULL, 0);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  tide_table_t *r = tide_where_in(s, f, m, 1, &err);
  tide_table_t *rn = tide_where_not_in(s, f, m, 1, &err);
  CHECK_OK_PTR(r, err);
  CHECK_OK_PTR(rn, err);
  capture c = {0}, cn = {0};
  tide_table_listen(r, cap_fn, &c, &err);
  tide_table_listen(rn, cap_fn, &cn, &err);
  CHECK(rs_is(tide_table_rowset(r), K(0, 2)) && rs_is(tide_table_rowset(rn), K(1, 3)));
  /* the filter gains B (a second filter row with A changes nothing) */
  hand_set(f, 1, "B", 0);
  hand_set(f, 2, "A", 0);
  hand_queue(hf, f, NULL, K(1, 2), NULL, 0);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(c.n == 1 && rs_is(c.added, K(1)) && rs_is(c.removed, NONE));
  CHECK(cn.n == 1 && rs_is(cn.removed, K(1)) && rs_is(cn.added, NONE));
  /* the filter loses one A row: nothing; source row 2 modified (V only) */
  hand_set(s, 2, "A", 7);
  hand_queue(hs, s, NULL, NULL, K(2), 2);
  hand_queue(hf, f, K(0), NULL, NULL, 0);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(c.n == 2 && rs_is(c.modified, K(2)) && rs_is(c.added, NONE) && rs_is(c.removed, NONE));
  CHECK(cn.n == 1);
  /* source row 3 C -> A enters; the last A filter row goes: 0, 2, 3 leave */
  hand_set(s, 3, "A", 3);
  hand_queue(hs, s, NULL, NULL, K(3), 1);
  hand_queue(hf, f, K(2), NULL, NULL, 0);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(c.n == 3 && rs_is(c.removed, K(0, 2)) && rs_is(c.added, NONE));
  CHECK(rs_is(tide_table_rowset(r), K(1)));
  CHECK(cn.n == 2 && rs_is(cn.added, K(0, 2)) && rs_is(cn.modified, K(3)));
  CHECK(rs_is(tide_table_rowset(rn), K(0, 2, 3)));
  cap_clear(&c);
  cap_clear(&cn);
  tide_table_free(r);
  tide_table_free(rn);
  tide_table_free(s);
  tide_table_free(f);
  tide_graph_free(g);
}

static void test_hand_ring(void) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  hand_src *h;
  tide_table_t *t = hand_table(g, TIDE_KIND_APPEND_ONLY, &h);
  for (int i = 0; i < 3; i++) hand_set(t, (uint64_t)i, "A", i);
  hand_queue(h, t, NULL, K(0, 1, 2), NULL, 0);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  tide_table_t *r = tide_ring_table(t, 4, true, &err);
  tide_table_t *r0 = tide_ring_table(t, 4, false, &err);
  CHECK_OK_PTR(r, err);
  CHECK_OK_PTR(r0, err);
  CHECK(tide_table_size(r) == 3 && tide_table_size(r0) == 0);
  capture c = {0};
  tide_table_listen(r, cap_fn, &c, &err);
  /* 3 more rows: 3 is added, 0 and 1 pushed out... */
  for (int i = 3; i < 6; i++) hand_set(t, (uint64_t)i, "B", i);
  hand_queue(h, t, NULL, K(3, 4, 5), NULL, 0);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(c.n == 1 && rs_is(c.added, K(3, 4, 5)) && rs_is(c.removed, K(0, 1)));
  CHECK(tide_table_size(r) == 4 && !strcmp(tu_cell(r, "V", 0), "2") &&
        !strcmp(tu_cell(r, "V", 3), "5"));
  /* a batch larger than the ring: only its last 4 rows arrive */
  for (int i = 6; i < 16; i++) hand_set(t, (uint64_t)i, "C", i);
  hand_queue(h, t, NULL, K(6, 7, 8, 9, 10, 11, 12, 13, 14, 15), NULL, 0);
  CHECK_OK(tide_graph_run_cycles(g, 1, &err), err);
  CHECK(c.n == 2 && rs_is(c.added, K(12, 13, 14, 15)) && rs_is(c.removed, K(2, 3, 4, 5)));
  CHECK(!strcmp(tu_cell(r, "V", 0), "12") && !strcmp(tu_cell(r, "K", 3), "C"));
  CHECK(tide_table_size(r0) == 4 && !strcmp(tu_cell(r0, "V", 0), "12"));
  /* refused kinds and arguments */
  hand_src *h2;
  tide_table_t *std = hand_table(g, TIDE_KIND_STANDARD, &h2);
  tide_table_t *bad = tide_ring_table(std, 4, true, &err);
  CHECK(bad == NULL && err.status == TIDE_ERR_INVALID);
  CHECK_MSG(strstr(err.msg, "ring_table") && strstr(err.msg, "standard"), "%s", err.msg);
  bad = tide_ring_table(t, 0, true, &err);
  CHECK(bad == NULL && strstr(err.msg, "capacity"));
  /* a static table: its last rows */
  tide_table_t *snap = tc_snapshot(t);
  tide_table_t *st = tide_ring_table(snap, 3, true, &err);
  CHECK(st && !tide_table_is_refreshing(st) && tide_table_size(st) == 3 &&
        !strcmp(tu_cell(st, "V", 0), "13"));
  tide_table_free(st);
  tide_table_free(snap);
  cap_clear(&c);
  tide_table_free(std);
  tide_table_free(r);
  tide_table_free(r0);
  tide_table_free(t);
  tide_graph_free(g);
}

/* ------------------------------------------------ main */

int main(void) {
  uint64_t seed = tu_seed(20261122);
  const char *env = getenv("TIDE_CYCLES");
  uint64_t cycles = env && *env ? strtoull(env, NULL, 0) : 24;
  const tide_table_kind_t kinds[] = {TIDE_KIND_STANDARD, TIDE_KIND_APPEND_ONLY,
                                     TIDE_KIND_ADD_ONLY, TIDE_KIND_BLINK};
  test_hand_distinct();
  test_hand_where_in();
  test_hand_ring();

  static const char *const c_sym[] = {"Sym"};
  static const char *const c_symb[] = {"Sym", "B"};
  static const char *const c_i[] = {"I"};
  static const char *const c_ren[] = {"X=S", "T"};
  const sd_case sd[] = {
      {"by Sym", c_sym, 1}, {"by Sym,B", c_symb, 2}, {"by I", c_i, 1},
      {"X=S,T", c_ren, 2},  {"all columns", NULL, 0},
  };
  for (size_t c = 0; c < sizeof sd / sizeof sd[0]; c++)
    for (size_t k = 0; k < 4; k++)
      for (uint64_t s = 0; s < 2; s++)
        run_distinct(&sd[c], kinds[k], seed + s * 1000 + c * 17 + k, cycles, 0);
  for (size_t c = 0; c < 3; c++)
    run_distinct(&sd[c], TIDE_KIND_APPEND_ONLY, seed + 500 + c, cycles, 10 + c * 15);

  static const char *const m_i[] = {"I"};
  static const char *const m_sym[] = {"Sym"};
  static const char *const m_symb[] = {"Sym", "B"};
  static const char *const m_ren[] = {"T=T", "I"};
  wi_ctx wc[] = {
      {false, m_i, 1, 0, NULL, NULL, 0},         {true, m_i, 1, 0, NULL, NULL, 0},
      {false, m_sym, 1, 0, "I > 35", NULL, 0},    {false, m_i, 1, 1, NULL, NULL, 0},
      {true, m_i, 1, 1, NULL, NULL, 0},           {false, m_sym, 1, 1, "I > 35", NULL, 0},
      {true, m_symb, 2, 1, "I > 30", NULL, 0},    {false, m_i, 1, 2, NULL, NULL, 0},
      {true, m_i, 1, 2, NULL, NULL, 0},           {false, m_sym, 1, 2, "I > 35", NULL, 0},
      {true, m_symb, 2, 2, "I > 30", NULL, 0},    {false, m_ren, 2, 2, NULL, NULL, 0},
      {false, m_sym, 1, 3, "I > 40", NULL, 0},    {true, m_i, 1, 3, NULL, NULL, 0},
  };
  const char *wname[] = {"in I (static filter)",       "not_in I (static filter)",
                         "in Sym (static filter)",     "in I (static source)",
                         "not_in I (static source)",   "in Sym (static source)",
                         "not_in Sym,B (static source)", "in I (both ticking)",
                         "not_in I (both ticking)",    "in Sym (both ticking)",
                         "not_in Sym,B (both ticking)", "in T,I (both ticking)",
                         "in Sym (filtered self)",     "not_in I (self)"};
  for (size_t c = 0; c < sizeof wc / sizeof wc[0]; c++)
    for (size_t k = 0; k < 4; k++)
      for (uint64_t s = 0; s < 2; s++) {
        uint64_t sd2 = seed + 7 + s * 1000 + c * 23 + k;
        wc[c].fixed = wc[c].mode >= 2 ? NULL : static_random(sd2 * 3 + 5);
        tc_case tcase = {wname[c], wi_op, &wc[c], wc[c].mode == 2 ? 2 : 1, 0};
        tc_run(&tcase, kinds[k], sd2, cycles);
        g_cycles_checked += cycles;
        tide_table_free(wc[c].fixed);
        wc[c].fixed = NULL;
      }

  /* where_in over a ring table (which removes its oldest rows) */
  for (uint64_t s = 0; s < 3; s++) {
    wi_ctx rc = {s == 1, m_i, 1, 2, NULL, NULL, 5 + s * 20};
    tc_case tcase = {"where_in over ring_table", wi_op, &rc, 2, 0};
    tc_run(&tcase, TIDE_KIND_APPEND_ONLY, seed + 900 + s, cycles);
    g_cycles_checked += cycles;
  }

  const uint64_t caps[] = {1, 7, 40, 500};
  for (size_t k = 0; k < 4; k++) {
    if (kinds[k] != TIDE_KIND_APPEND_ONLY && kinds[k] != TIDE_KIND_BLINK) continue;
    for (size_t c = 0; c < 4; c++)
      for (int init = 0; init < 2; init++)
        run_ring(kinds[k], caps[c], init, seed + k * 101 + c * 7 + (uint64_t)init, cycles);
  }
  printf("test_incremental_set: %llu cycles checked, %llu result updates validated\n",
         (unsigned long long)g_cycles_checked, (unsigned long long)tc_total_updates);
  return tu_finish("incremental_set");
}
