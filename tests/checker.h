/*
 * The randomized incremental-versus-recompute checker (docs/TICKING.md,
 * decision 6), header-only so any test_*.c can include it.
 *
 * An operation under test is a function building its result from input
 * tables (tc_op_fn). tc_run gives it ticking random inputs (tc_source: a
 * source node over paged columns I int64, D double, Sym symbol, S string,
 * B bool, T timestamp that emits, per cycle, random removes, modifies of
 * random column subsets, occasional shifts and adds, or only appends
 * (append-only), adds and shifts (add-only), or a full replacement
 * (blink), keeping a mirror of its rows), then runs cycles and after each:
 *  - compares the incremental result with the same function applied to
 *    static snapshots of the current inputs (tu_table_equal);
 *  - validates every update the result emitted against a mirror of the
 *    result: the previous RowSet, removed within it, the RowSet after =
 *    previous - removed, shifted, + added; values of rows neither added
 *    nor modified, and of unmodified columns of modified rows, unchanged;
 *    previous values (tide_source_fill_prev) of every previous row equal
 *    the mirror's;
 *  - checks that a result that did not publish did not change.
 * Failures print the case, the input kind, the seed and the cycle.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_TESTS_CHECKER_H
#define TIDE_TESTS_CHECKER_H

#include <stdlib.h>
#include <string.h>

#include "sched/graph_int.h"
#include "testutil.h"

#define TC_FN static __attribute__((unused))

#define TC_NCOLS 6
static const char *const tc_names[TC_NCOLS] = {"I", "D", "Sym", "S", "B", "T"};
static const tide_type_t tc_types[TC_NCOLS] = {TIDE_I64,    TIDE_F64,  TIDE_SYMBOL,
                                               TIDE_STRING, TIDE_BOOL, TIDE_TS};
static const char *const tc_strs[] = {"s0", "s1", "s2", "s3", "s4",
                                      "s5", "s6", "s7", "s8", "longer string 9"};
static const char *const tc_syms[] = {"A", "B", "C", "D", "E", "F"};
#define TC_LATE_SYM "ZZ" /* interned only after a few cycles */
#define TC_LATE_CYCLE 6
#define TC_TS_BASE 1704067200000000000LL /* 2024-01-01T00:00:00Z */

static const char *tc_kind_name(tide_table_kind_t k) {
  switch (k) {
    case TIDE_KIND_STATIC: return "static";
    case TIDE_KIND_STANDARD: return "standard";
    case TIDE_KIND_APPEND_ONLY: return "append-only";
    case TIDE_KIND_ADD_ONLY: return "add-only";
    case TIDE_KIND_BLINK: return "blink";
    default: return "ring";
  }
}

/* Values are kept as 8-byte slots (storage value zero-extended). */
static uint64_t tc_to_slot(tide_type_t t, const void *v) {
  switch (tide_type_width(t)) {
    case 1: return *(const uint8_t *)v;
    case 2: return *(const uint16_t *)v;
    case 4: return *(const uint32_t *)v;
    default: return *(const uint64_t *)v;
  }
}
static void tc_from_slot(tide_type_t t, uint64_t s, void *v) {
  switch (tide_type_width(t)) {
    case 1: *(uint8_t *)v = (uint8_t)s; break;
    case 2: *(uint16_t *)v = (uint16_t)s; break;
    case 4: *(uint32_t *)v = (uint32_t)s; break;
    default: *(uint64_t *)v = s; break;
  }
}
static bool tc_slot_eq(tide_type_t t, uint64_t a, uint64_t b) {
  if (t == TIDE_STRING) {
    const char *x = (const char *)(uintptr_t)a, *y = (const char *)(uintptr_t)b;
    return x == y || (x && y && !strcmp(x, y));
  }
  return a == b;
}
static void tc_slot_str(tide_type_t t, const tide_source_t *src, uint64_t s, char *buf,
                        size_t cap) {
  unsigned char v[8];
  tc_from_slot(t, s, v);
  tide_value_format(t, tide_source_symtab(src), v, true, buf, cap);
}

/* Read n values of src at keys (current or previous) into slots. */
static void tc_read(const tide_source_t *src, const uint64_t *keys, uint64_t n, bool prev,
                    uint64_t *out) {
  tide_type_t t = tide_source_type(src);
  size_t w = tide_type_width(t);
  unsigned char *buf = malloc(TIDE_CHUNK_SIZE * 8);
  for (uint64_t i = 0; i < n; i += TIDE_CHUNK_SIZE) {
    tide_rowseq_t seq = {0, keys + i, 0, (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, n - i)};
    if (prev)
      tide_source_fill_prev(src, &seq, buf);
    else
      tide_source_fill(src, &seq, buf);
    for (uint32_t j = 0; j < seq.n; j++) out[i + j] = tc_to_slot(t, buf + (size_t)j * w);
  }
  free(buf);
}

static uint64_t *tc_keys_of(const tide_rowset_t *rs, uint64_t *n) {
  *n = rs ? tide_rowset_size(rs) : 0;
  uint64_t *k = malloc((*n ? *n : 1) * sizeof *k);
  if (*n) tide_rowset_export(rs, k);
  return k;
}

/* A static flat copy of t's current rows (same order, values, types;
 * symbols keep their dictionary, strings are copied). */
TC_FN tide_table_t *tc_snapshot(const tide_table_t *t) {
  tide_error err;
  size_t nc = tide_table_ncols(t);
  uint64_t n;
  uint64_t *keys = tc_keys_of(tide_table_rowset(t), &n);
  tide_source_t **srcs = calloc(nc ? nc : 1, sizeof *srcs);
  const char **names = calloc(nc ? nc : 1, sizeof *names);
  for (size_t c = 0; c < nc; c++) {
    tide_source_t *in = tide_table_col_source(t, c);
    tide_type_t ty = tide_source_type(in);
    names[c] = tide_table_col_name(t, c);
    srcs[c] = tide_source_flat_create(ty, n, &err);
    if (!srcs[c]) abort();
    if (ty == TIDE_SYMBOL && tide_source_symtab(in))
      tide__source_set_symtab(srcs[c], tide_source_symtab(in));
    unsigned char *data = tide_source_flat_data(srcs[c]);
    size_t w = tide_type_width(ty);
    for (uint64_t i = 0; i < n; i += TIDE_CHUNK_SIZE) {
      tide_rowseq_t seq = {0, keys + i, i, (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, n - i)};
      tide_source_fill(in, &seq, data + i * w);
    }
    if (ty == TIDE_STRING) {
      const char **v = (const char **)data;
      for (uint64_t i = 0; i < n; i++)
        if (v[i]) v[i] = tide_source_flat_store_string(srcs[c], v[i], strlen(v[i]));
    }
  }
  tide_table_t *s = tide__table_from_sources(n, nc, names, srcs, &err);
  if (!s) {
    fprintf(stderr, "tc_snapshot: %s\n", err.msg);
    abort();
  }
  free(keys);
  free(srcs);
  free(names);
  return s;
}

/* ------------------------------------------------------------------ */
/* The random ticking source.                                          */

typedef struct tc_source {
  tu_rng rng;
  tide_table_kind_t kind;
  uint64_t cycle;
  uint64_t n, cap;
  uint64_t *keys;             /* mirror: sorted keys */
  uint64_t *vals[TC_NCOLS];   /* mirror: slots per column */
  tide_source_t *cols[TC_NCOLS]; /* borrowed from the table */
  uint64_t max_rows;
  bool quiet;                 /* publish nothing (a test may pause a source) */
} tc_source;

static void tc_src_reserve(tc_source *s, uint64_t n) {
  if (n <= s->cap) return;
  uint64_t cap = s->cap ? s->cap : 64;
  while (cap < n) cap *= 2;
  s->keys = realloc(s->keys, cap * sizeof *s->keys);
  for (int c = 0; c < TC_NCOLS; c++) s->vals[c] = realloc(s->vals[c], cap * sizeof(uint64_t));
  s->cap = cap;
}

static uint64_t tc_random_value(tc_source *s, int c) {
  tu_rng *r = &s->rng;
  switch (c) {
    case 0: {
      int64_t v = tu_below(r, 20) == 0 ? TIDE_NULL_I64 : (int64_t)tu_below(r, 101) - 50;
      return (uint64_t)v;
    }
    case 1: {
      double d = tu_below(r, 20) == 0 ? TIDE_NULL_F64 : ((double)tu_below(r, 2001) - 1000) / 10;
      uint64_t u;
      memcpy(&u, &d, 8);
      return u;
    }
    case 2: {
      if (tu_below(r, 20) == 0) return (uint32_t)TIDE_NULL_SYMBOL;
      tide_symtab_t *st = tide_source_symtab(s->cols[2]);
      uint64_t k = tu_below(r, s->cycle >= TC_LATE_CYCLE ? 7 : 6);
      const char *name = k == 6 ? TC_LATE_SYM : tc_syms[k];
      return (uint32_t)tide_symtab_intern(st, name, strlen(name));
    }
    case 3: {
      uint64_t k = tu_below(r, 11);
      return k == 10 ? 0 : (uint64_t)(uintptr_t)tc_strs[k];
    }
    case 4: {
      uint64_t k = tu_below(r, 10);
      return k == 0 ? (uint8_t)TIDE_NULL_BOOL : (uint8_t)(k & 1);
    }
    default: {
      int64_t v = tu_below(r, 20) == 0 ? TIDE_NULL_TS
                                        : TC_TS_BASE + (int64_t)tu_below(r, 1000) * 1000000000LL;
      return (uint64_t)v;
    }
  }
}

/* Write mirror rows idx[0..n) (all columns, or the columns in mask) to the
 * paged sources. */
static void tc_write_rows(tc_source *s, const uint64_t *idx, uint64_t n, unsigned mask) {
  if (!n) return;
  uint64_t *keys = malloc(n * sizeof *keys);
  unsigned char *buf = malloc(n * 8);
  for (uint64_t i = 0; i < n; i++) keys[i] = s->keys[idx[i]];
  for (int c = 0; c < TC_NCOLS; c++) {
    if (!(mask >> c & 1)) continue;
    size_t w = tide_type_width(tc_types[c]);
    for (uint64_t i = 0; i < n; i++) tc_from_slot(tc_types[c], s->vals[c][idx[i]], buf + i * w);
    for (uint64_t i = 0; i < n; i += TIDE_CHUNK_SIZE) {
      uint32_t cnt = (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, n - i);
      if (tide__source_paged_set(s->cols[c], keys + i, cnt, buf + i * w) != TIDE_OK) abort();
    }
  }
  free(keys);
  free(buf);
}

/* Insert new rows with keys nk[0..na) (sorted, absent) into the mirror with
 * random values; their mirror indices go to idx. */
static void tc_insert_rows(tc_source *s, const uint64_t *nk, uint64_t na, uint64_t *idx) {
  tc_src_reserve(s, s->n + na);
  /* merge from the back */
  uint64_t i = s->n, j = na, o = s->n + na;
  while (j > 0) {
    if (i > 0 && s->keys[i - 1] > nk[j - 1]) {
      i--;
      o--;
      s->keys[o] = s->keys[i];
      for (int c = 0; c < TC_NCOLS; c++) s->vals[c][o] = s->vals[c][i];
    } else {
      j--;
      o--;
      s->keys[o] = nk[j];
      idx[j] = o;
    }
  }
  s->n += na;
  for (uint64_t a = 0; a < na; a++)
    for (int c = 0; c < TC_NCOLS; c++) s->vals[c][idx[a]] = tc_random_value(s, c);
}

static int tc_cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* count random absent keys below limit (or fewer), sorted. */
static uint64_t tc_pick_new_keys(tc_source *s, uint64_t count, uint64_t lo, uint64_t limit,
                                 uint64_t *out) {
  uint64_t got = 0;
  for (uint64_t tries = 0; got < count && tries < count * 8 && limit > lo; tries++) {
    uint64_t k = lo + tu_below(&s->rng, limit - lo);
    bool dup = false;
    for (uint64_t i = 0; i < got && !dup; i++) dup = out[i] == k;
    if (dup) continue;
    /* binary search in the mirror */
    uint64_t a = 0, b = s->n;
    while (a < b) {
      uint64_t m = (a + b) / 2;
      if (s->keys[m] < k) a = m + 1;
      else b = m;
    }
    if (a < s->n && s->keys[a] == k) continue;
    out[got++] = k;
  }
  qsort(out, got, sizeof *out, tc_cmp_u64);
  return got;
}

/* Random shifts of the mirror (at most 2), order-preserving and collision
 * free; ranges may extend into the gaps around the moved keys, so unmoved
 * keys can lie inside a shift's destination window. Applies them to the
 * mirror's keys and returns their number. */
static size_t tc_random_shifts(tc_source *s, tide_shift_t *sh, uint64_t **moved, uint64_t *nmoved) {
  size_t ns = 0;
  *nmoved = 0;
  if (s->n < 2) return 0;
  uint64_t half = s->n / 2;
  int want = tu_below(&s->rng, 2) ? 2 : 1;
  uint64_t regions[2][2] = {{0, want == 2 ? half - 1 : s->n - 1}, {half + 1, s->n - 1}};
  *moved = malloc(s->n * sizeof **moved);
  for (int r = 0; r < want; r++) {
    uint64_t lo = regions[r][0], hi = regions[r][1];
    if (lo > hi || hi >= s->n) continue;
    uint64_t i = lo + tu_below(&s->rng, hi - lo + 1);
    uint64_t j = i + tu_below(&s->rng, TIDE_MIN(hi - i + 1, 6));
    uint64_t gap_lo = i > 0 ? s->keys[i] - s->keys[i - 1] - 1 : s->keys[i];
    uint64_t gap_hi = j + 1 < s->n ? s->keys[j + 1] - s->keys[j] - 1 : 1 + tu_below(&s->rng, 40);
    /* keep one unmoved row between the two regions: region 0 ends at half-1
     * and region 1 starts at half+1 */
    int64_t d;
    if (gap_hi && (!gap_lo || tu_below(&s->rng, 2)))
      d = (int64_t)(1 + tu_below(&s->rng, gap_hi));
    else if (gap_lo)
      d = -(int64_t)(1 + tu_below(&s->rng, gap_lo));
    else
      continue;
    uint64_t ext_lo = tu_below(&s->rng, gap_lo + 1);
    if (d < 0 && ext_lo + (uint64_t)-d > s->keys[i]) ext_lo = s->keys[i] - (uint64_t)-d;
    uint64_t ext_hi = tu_below(&s->rng, gap_hi + 1);
    if (j + 1 < s->n && ext_hi >= gap_hi + 1) ext_hi = gap_hi;
    sh[ns].first = s->keys[i] - ext_lo;
    sh[ns].last = s->keys[j] + ext_hi;
    sh[ns].delta = d;
    /* a range must not reach the previous shift's range */
    if (ns && sh[ns].first <= sh[ns - 1].last) sh[ns].first = sh[ns - 1].last + 1;
    if (sh[ns].first > s->keys[i]) continue;
    for (uint64_t k = i; k <= j; k++) {
      s->keys[k] = (uint64_t)((int64_t)s->keys[k] + d);
      (*moved)[(*nmoved)++] = k;
    }
    ns++;
  }
  return ns;
}

static tide_status tc_src_refresh(tide_gnode_t *node, tide_error *err) {
  tc_source *s = node->state;
  s->cycle++;
  if (s->quiet) return TIDE_OK;
  tu_rng *r = &s->rng;
  tide_update_t u = {0};
  uint64_t *tmp = NULL, *idx = NULL, *moved = NULL, nmoved = 0;
  tide_shift_t sh[2];
  size_t ns = 0;
  if (tu_below(r, 20) == 0) return TIDE_OK; /* a quiet cycle */
  uint64_t oldlast = s->n ? s->keys[s->n - 1] : 0;
  /* removes */
  if (s->kind == TIDE_KIND_STANDARD || s->kind == TIDE_KIND_BLINK) {
    uint64_t pr = s->kind == TIDE_KIND_BLINK ? 1000 : s->n > s->max_rows ? 200 : 50;
    tmp = malloc((s->n ? s->n : 1) * sizeof *tmp);
    uint64_t nr = 0, o = 0;
    for (uint64_t i = 0; i < s->n; i++) {
      if (tu_below(r, 1000) < pr) {
        tmp[nr++] = s->keys[i];
        continue;
      }
      s->keys[o] = s->keys[i];
      for (int c = 0; c < TC_NCOLS; c++) s->vals[c][o] = s->vals[c][i];
      o++;
    }
    s->n = o;
    u.removed = tide_rowset_from_keys(tmp, nr);
    free(tmp);
    tmp = NULL;
  }
  /* shifts */
  if ((s->kind == TIDE_KIND_STANDARD || s->kind == TIDE_KIND_ADD_ONLY) && tu_below(r, 5) == 0) {
    ns = tc_random_shifts(s, sh, &moved, &nmoved);
    if (ns) {
      u.shifts = malloc(ns * sizeof *u.shifts);
      memcpy(u.shifts, sh, ns * sizeof *sh);
      u.nshifts = ns;
    }
  }
  tc_write_rows(s, moved, nmoved, (1u << TC_NCOLS) - 1);
  /* modifies */
  if (s->kind == TIDE_KIND_STANDARD && s->n && tu_below(r, 4) != 0) {
    unsigned mask = 0;
    while (!mask)
      for (int c = 0; c < TC_NCOLS; c++)
        if (tu_below(r, 3) == 0) mask |= 1u << c;
    idx = malloc(s->n * sizeof *idx);
    tmp = malloc(s->n * sizeof *tmp);
    uint64_t nm = 0;
    for (uint64_t i = 0; i < s->n; i++)
      if (tu_below(r, 100) < 8) {
        idx[nm] = i;
        tmp[nm++] = s->keys[i];
        for (int c = 0; c < TC_NCOLS; c++)
          if (mask >> c & 1) s->vals[c][i] = tc_random_value(s, c);
      }
    tc_write_rows(s, idx, nm, mask);
    if (nm) {
      u.modified = tide_rowset_from_keys(tmp, nm);
      u.modified_cols = calloc(1, sizeof *u.modified_cols);
      u.modified_cols[0] = mask;
      u.ncols = TC_NCOLS;
    }
    free(idx);
    free(tmp);
    idx = tmp = NULL;
  }
  /* adds */
  uint64_t want = tu_below(r, s->kind == TIDE_KIND_BLINK ? 30 : 12);
  if (s->n < 10 && s->kind != TIDE_KIND_BLINK) want += 10;
  tmp = malloc((want ? want : 1) * sizeof *tmp);
  uint64_t na;
  if (s->kind == TIDE_KIND_APPEND_ONLY) {
    uint64_t k = s->n ? oldlast + 1 + tu_below(r, 3) : tu_below(r, 3);
    for (na = 0; na < want; na++) {
      tmp[na] = k;
      k += 1 + (tu_below(r, 8) == 0 ? tu_below(r, 5) : 0);
    }
  } else {
    uint64_t limit = (s->n ? s->keys[s->n - 1] : 0) + 60;
    if (s->kind == TIDE_KIND_BLINK) limit = 80;
    na = tc_pick_new_keys(s, want, 0, limit, tmp);
  }
  idx = malloc((na ? na : 1) * sizeof *idx);
  tc_insert_rows(s, tmp, na, idx);
  tc_write_rows(s, idx, na, (1u << TC_NCOLS) - 1);
  if (na) u.added = tide_rowset_from_keys(tmp, na);
  free(tmp);
  free(idx);
  free(moved);
  tide_rowset_t *rs = tide_rowset_from_keys(s->keys, s->n);
  return tide__gnode_publish(node, &u, rs, err);
}

static void tc_src_destroy(tide_gnode_t *node) {
  tc_source *s = node->state;
  free(s->keys);
  for (int c = 0; c < TC_NCOLS; c++) free(s->vals[c]);
  free(s);
}

static const tide_gnode_vt tc_src_vt = {"tc_source", tc_src_refresh, NULL, tc_src_destroy};

/* A new random ticking source of the given kind in g (one reference). */
TC_FN tide_table_t *tc_source_create(tide_graph_t *g, tide_table_kind_t kind, uint64_t seed,
                                     tc_source **state_out) {
  tide_error err;
  tc_source *s = calloc(1, sizeof *s);
  s->rng.s = seed;
  s->kind = kind;
  s->max_rows = 150;
  tide_source_t *cols[TC_NCOLS];
  for (int c = 0; c < TC_NCOLS; c++) {
    cols[c] = tide__source_paged_create(tc_types[c], NULL, &err);
    if (!cols[c] || tide__source_track_prev(cols[c], tide__graph_step_ptr(g)) != TIDE_OK) abort();
    s->cols[c] = cols[c];
  }
  uint64_t n0 = tu_below(&s->rng, 4) == 0 ? 0 : tu_below(&s->rng, 80);
  uint64_t *nk = malloc((n0 ? n0 : 1) * sizeof *nk);
  uint64_t na;
  if (kind == TIDE_KIND_APPEND_ONLY) {
    for (na = 0; na < n0; na++) nk[na] = na + (tu_below(&s->rng, 2) ? 0 : 3);
    for (na = 1; na < n0; na++)
      if (nk[na] <= nk[na - 1]) nk[na] = nk[na - 1] + 1;
    na = n0; /* (the loop above leaves na == 1 when n0 == 0) */
  } else {
    na = tc_pick_new_keys(s, n0, 0, 2 * n0 + 10, nk);
  }
  uint64_t *idx = malloc((na ? na : 1) * sizeof *idx);
  tc_insert_rows(s, nk, na, idx);
  tc_write_rows(s, idx, na, (1u << TC_NCOLS) - 1);
  free(nk);
  free(idx);
  tide_rowset_t *rs = tide_rowset_from_keys(s->keys, s->n);
  tide_table_t *t = tide_table_create(rs, TC_NCOLS, tc_names, cols, &err);
  tide_rowset_free(rs);
  for (int c = 0; c < TC_NCOLS; c++) tide_source_release(cols[c]);
  if (!t || !tide__gnode_create(g, t, kind, &tc_src_vt, NULL, 0, s, &err)) {
    fprintf(stderr, "tc_source_create: %s\n", err.msg);
    abort();
  }
  if (state_out) *state_out = s;
  return t;
}

/* ------------------------------------------------------------------ */
/* The harness.                                                        */

/* An operation under test: builds its result from the inputs (ticking or
 * static snapshots); a new reference or NULL with err. */
typedef tide_table_t *(*tc_op_fn)(tide_table_t *const *in, size_t nin, void *ctx,
                                  tide_error *err);

typedef struct tc_case {
  const char *name;
  tc_op_fn fn;
  void *ctx;
  size_t ninputs; /* 1 or more random sources */
  double tol;     /* relative tolerance for doubles (0: exact) */
} tc_case;

/* Updates validated so far (all runs). */
static uint64_t tc_total_updates;

/* Mirror of a result table. */
typedef struct tc_mirror {
  uint64_t n;
  uint64_t *keys;
  size_t ncols;
  uint64_t **vals;
} tc_mirror;

typedef struct tc_run_state {
  const tc_case *c;
  tc_mirror m;
  bool listened; /* the listener ran this cycle */
  bool failed;
  char msg[1024];
  uint64_t updates;
} tc_run_state;

static void tc_mirror_free(tc_mirror *m) {
  for (size_t c = 0; c < m->ncols; c++) free(m->vals[c]);
  free(m->vals);
  free(m->keys);
  memset(m, 0, sizeof *m);
}

static void tc_mirror_load(tc_mirror *m, const tide_table_t *t) {
  tc_mirror_free(m);
  m->keys = tc_keys_of(tide_table_rowset(t), &m->n);
  m->ncols = tide_table_ncols(t);
  m->vals = calloc(m->ncols ? m->ncols : 1, sizeof *m->vals);
  for (size_t c = 0; c < m->ncols; c++) {
    m->vals[c] = malloc((m->n ? m->n : 1) * sizeof(uint64_t));
    tc_read(tide_table_col_source(t, c), m->keys, m->n, false, m->vals[c]);
  }
}

#define TC_FAIL(st, ...)                                        \
  do {                                                          \
    if (!(st)->failed) snprintf((st)->msg, sizeof (st)->msg, __VA_ARGS__); \
    (st)->failed = true;                                        \
    goto out;                                                   \
  } while (0)

typedef struct tc_pair {
  uint64_t key, idx;
} tc_pair;
static int tc_cmp_pair(const void *a, const void *b) {
  return tc_cmp_u64(&((const tc_pair *)a)->key, &((const tc_pair *)b)->key);
}

/* Validate one update of the result against the mirror, then reload it. */
static void tc_on_update(tide_table_t *t, const tide_update_t *u, void *ctx) {
  tc_run_state *st = ctx;
  tc_mirror *m = &st->m;
  st->listened = true;
  st->updates++;
  tc_total_updates++;
  uint64_t np = 0, nc = 0, *pk = NULL, *ck = NULL, *cv = NULL, *pv = NULL;
  tc_pair *map = NULL;
  size_t ncols = tide_table_ncols(t);
  pk = tc_keys_of(tide_table_prev_rowset(t), &np);
  ck = tc_keys_of(tide_table_rowset(t), &nc);
  if (np != m->n) TC_FAIL(st, "previous RowSet has %llu rows, mirror %llu", (unsigned long long)np,
                          (unsigned long long)m->n);
  for (uint64_t i = 0; i < np; i++)
    if (pk[i] != m->keys[i])
      TC_FAIL(st, "previous RowSet key %llu is %llu, mirror %llu", (unsigned long long)i,
              (unsigned long long)pk[i], (unsigned long long)m->keys[i]);
  /* previous values of every previous row */
  pv = malloc((np ? np : 1) * sizeof *pv);
  for (size_t c = 0; c < ncols; c++) {
    tide_source_t *src = tide_table_col_source(t, c);
    tide_type_t ty = tide_source_type(src);
    tc_read(src, pk, np, true, pv);
    for (uint64_t i = 0; i < np; i++)
      if (!tc_slot_eq(ty, pv[i], m->vals[c][i])) {
        char a[64], b[64];
        tc_slot_str(ty, src, pv[i], a, sizeof a);
        tc_slot_str(ty, src, m->vals[c][i], b, sizeof b);
        TC_FAIL(st, "previous value of column '%s' at key %llu is %s, was %s",
                tide_table_col_name(t, c), (unsigned long long)pk[i], a, b);
      }
  }
  /* prev - removed, shifted: key -> mirror index */
  map = malloc((np ? np : 1) * sizeof *map);
  uint64_t nk = 0;
  size_t s = 0;
  for (uint64_t i = 0; i < np; i++) {
    if (u->removed && tide_rowset_contains(u->removed, pk[i])) continue;
    uint64_t k = pk[i];
    while (s < u->nshifts && u->shifts[s].last < k) s++;
    if (s < u->nshifts && u->shifts[s].first <= k) k = (uint64_t)((int64_t)k + u->shifts[s].delta);
    map[nk].key = k;
    map[nk++].idx = i;
  }
  if (u->removed && tide_rowset_size(u->removed) != np - nk)
    TC_FAIL(st, "update removes %llu keys, %llu of them in the previous RowSet",
            (unsigned long long)tide_rowset_size(u->removed), (unsigned long long)(np - nk));
  qsort(map, nk, sizeof *map, tc_cmp_pair);
  uint64_t na = u->added ? tide_rowset_size(u->added) : 0;
  if (nc != nk + na)
    TC_FAIL(st, "RowSet after the update has %llu rows, expected %llu kept + %llu added",
            (unsigned long long)nc, (unsigned long long)nk, (unsigned long long)na);
  /* every current key: added, or a kept one with unchanged values except
   * modified columns of modified rows */
  cv = malloc((nc ? nc : 1) * sizeof *cv);
  uint64_t *oi = malloc((nc ? nc : 1) * sizeof *oi);
  bool *ismod = calloc(nc ? nc : 1, sizeof *ismod);
  uint64_t mpos = 0;
  for (uint64_t i = 0; i < nc; i++) {
    oi[i] = UINT64_MAX;
    if (u->added && tide_rowset_contains(u->added, ck[i])) continue;
    while (mpos < nk && map[mpos].key < ck[i]) mpos++;
    if (mpos >= nk || map[mpos].key != ck[i]) {
      free(oi);
      free(ismod);
      TC_FAIL(st, "key %llu is in the RowSet but neither added nor kept",
              (unsigned long long)ck[i]);
    }
    oi[i] = map[mpos].idx;
    ismod[i] = u->modified && tide_rowset_contains(u->modified, ck[i]);
  }
  for (size_t c = 0; c < ncols && !st->failed; c++) {
    tide_source_t *src = tide_table_col_source(t, c);
    tide_type_t ty = tide_source_type(src);
    bool colmod = tide_update_col_modified(u, c);
    tc_read(src, ck, nc, false, cv);
    for (uint64_t i = 0; i < nc; i++) {
      if (oi[i] == UINT64_MAX || (ismod[i] && colmod)) continue;
      if (!tc_slot_eq(ty, cv[i], m->vals[c][oi[i]])) {
        char a[64], b[64];
        tc_slot_str(ty, src, cv[i], a, sizeof a);
        tc_slot_str(ty, src, m->vals[c][oi[i]], b, sizeof b);
        snprintf(st->msg, sizeof st->msg,
                 "column '%s' at key %llu changed from %s to %s but is not reported modified%s",
                 tide_table_col_name(t, c), (unsigned long long)ck[i], b, a,
                 ismod[i] ? " (row modified, column not)" : "");
        st->failed = true;
        break;
      }
    }
  }
  free(oi);
  free(ismod);
out:
  free(pk);
  free(ck);
  free(cv);
  free(pv);
  free(map);
  tc_mirror_load(m, t);
}

/* Whether t's current rows equal the mirror exactly. */
static bool tc_mirror_matches(const tc_mirror *m, const tide_table_t *t, char *msg, size_t cap) {
  uint64_t n;
  uint64_t *k = tc_keys_of(tide_table_rowset(t), &n);
  bool ok = n == m->n && tide_table_ncols(t) == m->ncols;
  for (uint64_t i = 0; ok && i < n; i++) ok = k[i] == m->keys[i];
  if (!ok) snprintf(msg, cap, "RowSet changed without an update");
  uint64_t *v = malloc((n ? n : 1) * sizeof *v);
  for (size_t c = 0; ok && c < m->ncols; c++) {
    tide_source_t *src = tide_table_col_source(t, c);
    tc_read(src, k, n, false, v);
    for (uint64_t i = 0; ok && i < n; i++)
      if (!tc_slot_eq(tide_source_type(src), v[i], m->vals[c][i])) {
        snprintf(msg, cap, "column '%s' at key %llu changed without an update",
                 tide_table_col_name(t, c), (unsigned long long)k[i]);
        ok = false;
      }
  }
  free(k);
  free(v);
  return ok;
}

/* Cycles run by tc_run / tc_run_kinds so far (all runs). */
static uint64_t tc_total_cycles;

/* Run `cycles` random cycles of case c over inputs of kinds[i] (one per
 * input). Returns true if every check passed (failures are counted in
 * tu_failures and printed with the kinds, the seed and the cycle). */
TC_FN bool tc_run_kinds(const tc_case *c, const tide_table_kind_t *kinds, uint64_t seed,
                        uint64_t cycles) {
  tide_error err;
  tide_graph_t *g = tide_graph_create(&err);
  tide__graph_set_validate(g, true);
  tide_table_t *in[4] = {0};
  size_t nin = c->ninputs ? c->ninputs : 1;
  if (nin > 4) nin = 4;
  for (size_t i = 0; i < nin; i++)
    in[i] = tc_source_create(g, kinds[i], seed * 31 + i * 0x9E3779B97F4A7C15ULL + 1, NULL);
  tc_run_state st;
  memset(&st, 0, sizeof st);
  st.c = c;
  bool ok = true;
  uint64_t cycle = 0;
  tide_listener_t *l = NULL;
  tide_table_t *res = c->fn(in, nin, c->ctx, &err);
  tu_checks++;
  if (!res) {
    snprintf(st.msg, sizeof st.msg, "op failed: %s", err.msg);
    ok = false;
    goto done;
  }
  tc_mirror_load(&st.m, res);
  l = tide_table_listen(res, tc_on_update, &st, &err);
  if (!l) {
    snprintf(st.msg, sizeof st.msg, "result is not refreshing: %s", err.msg);
    ok = false;
    goto done;
  }
  for (cycle = 1; cycle <= cycles && ok; cycle++) {
    st.listened = false;
    if (tide_graph_run_cycles(g, 1, &err) != TIDE_OK) {
      snprintf(st.msg, sizeof st.msg, "cycle failed: %s", err.msg);
      ok = false;
      break;
    }
    tc_total_cycles++;
    if (st.failed) {
      ok = false;
      break;
    }
    if (!st.listened && !tc_mirror_matches(&st.m, res, st.msg, sizeof st.msg)) {
      ok = false;
      break;
    }
    tide_table_t *snap[4] = {0};
    for (size_t i = 0; i < nin; i++) snap[i] = tc_snapshot(in[i]);
    tide_table_t *expect = c->fn(snap, nin, c->ctx, &err);
    if (!expect) {
      snprintf(st.msg, sizeof st.msg, "static op failed: %s", err.msg);
      ok = false;
    } else if (!tu_table_equal(res, expect, c->tol, st.msg, sizeof st.msg)) {
      char m2[1024];
      snprintf(m2, sizeof m2, "incremental result differs from the static one: %s", st.msg);
      memcpy(st.msg, m2, sizeof st.msg);
      ok = false;
    }
    tide_table_free(expect);
    for (size_t i = 0; i < nin; i++) tide_table_free(snap[i]);
  }
done:
  if (l) tide_listener_remove(l);
  tu_checks++;
  if (!ok) {
    char kn[128] = "";
    for (size_t i = 0; i < nin; i++)
      snprintf(kn + strlen(kn), sizeof kn - strlen(kn), "%s%s", i ? "/" : "",
               tc_kind_name(kinds[i]));
    tu_failures++;
    fprintf(stderr, "checker: case %s, %s inputs, seed %llu, cycle %llu: %s\n", c->name, kn,
            (unsigned long long)seed, (unsigned long long)cycle, st.msg);
  }
  tc_mirror_free(&st.m);
  tide_table_free(res);
  for (size_t i = 0; i < nin; i++) tide_table_free(in[i]);
  tide_graph_free(g);
  return ok;
}

/* tc_run_kinds with every input of the given kind. */
TC_FN bool tc_run(const tc_case *c, tide_table_kind_t kind, uint64_t seed, uint64_t cycles) {
  tide_table_kind_t kinds[4] = {kind, kind, kind, kind};
  return tc_run_kinds(c, kinds, seed, cycles);
}

#endif /* TIDE_TESTS_CHECKER_H */
