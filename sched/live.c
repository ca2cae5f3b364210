/*
 * live_table: an append-only ticking table that tails an intraday
 * partition (include/tide/intraday.h).
 *
 * The table keeps an open intraday tail reader (io/io_int.h,
 * tide__itail_*): the commit.log offset of the last record read, the
 * committed size of every column file and the symbol dictionaries read so
 * far. At creation its first poll gives the committed rows (the initial
 * content). Each cycle polls again: one stat of commit.log when nothing
 * was committed; otherwise only the new commit records and the bytes they
 * added to each column file are read and verified, copied into the paged
 * columns at the next row keys (= row numbers in the partition) and
 * published as an append. A cycle's cost follows the rows committed since
 * the previous one, not the partition's size.
 *
 * Date: like historical_table, the table starts with a SYMBOL column
 * `Date` holding the partition's date (a constant column: no storage, no
 * per-row work), so merge([historical_table(ns, t), live_table(ns, t)])
 * lines up column for column. A partition that stores its own `Date`
 * column keeps it and gets no extra one.
 *
 * SYMBOL columns: the partition's dictionary only grows, in code order,
 * and the table's dictionary is interned in the same order (only this
 * node writes it), so codes are copied unchanged. STRING values stay in
 * the read batch's string arena, which the column keeps alive.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "io/io_int.h"
#include "sched/ticking_int.h"
#include "tide/historical.h"
#include "tide/intraday.h"

/* ------------------------------------------------ the constant Date */

/* A SYMBOL column whose every row holds code 0 of its dictionary {date}. */
static const int32_t zero_codes[TIDE_CHUNK_SIZE];

static void csym_fill(const tide_source_t *src, const tide_rowseq_t *seq, void *dst) {
  memset(dst, 0, (size_t)seq->n * sizeof(int32_t));
}

static const void *csym_direct(const tide_source_t *src, uint64_t first, uint32_t n) {
  return n <= TIDE_CHUNK_SIZE ? zero_codes : NULL;
}

static const tide_source_vt csym_vt = {"constant_symbol", csym_fill, csym_direct, NULL, NULL};

static tide_source_t *csym_create(const char *value, tide_error *err) {
  tide_source_t *s = tide_calloc(1, sizeof *s);
  tide_symtab_t *st = tide_symtab_create();
  if (!s || !st || tide_symtab_intern(st, value, strlen(value)) != 0) {
    tide_free(s);
    tide_symtab_release(st);
    tide_error_set(err, TIDE_ERR_NOMEM, "live_table: out of memory");
    return NULL;
  }
  tide__source_init(s, &csym_vt, TIDE_SYMBOL);
  s->symtab = st;
  return s;
}

/* -------------------------------------------------------- the table */

typedef struct live_state {
  char *ns, *table;
  tide__itail_t *tail;
  size_t off;    /* table column of tail column 0 (1 with the Date column) */
  uint64_t next; /* partition rows taken = next row key */
  uint64_t *keys;
  void *buf;
} live_state;

static void live_free(live_state *s) {
  if (!s) return;
  tide_free(s->ns);
  tide_free(s->table);
  tide__itail_close(s->tail);
  tide_free(s->keys);
  tide_free(s->buf);
  tide_free(s);
}

/* Copy the rows of src (new rows of the partition) into the paged columns
 * of dst at keys first... */
static tide_status live_copy(live_state *s, tide_table_t *dst, const tide_table_t *src,
                             uint64_t first, tide_error *err) {
  const uint64_t n = tide_table_size(src);
  if (!n) return TIDE_OK;
  for (size_t c = 0; c < tide_table_ncols(src); c++) {
    tide_source_t *in = tide_table_col_source(src, c);
    tide_source_t *out = dst->cols[c + s->off];
    if (tide_source_type(in) != tide_source_type(out))
      return tide_error_set(err, TIDE_ERR_STATE, "live_table: column '%s' changed type",
                            dst->names[c + s->off]);
    if (tide_source_type(out) == TIDE_SYMBOL) {
      const tide_symtab_t *pd = tide_source_symtab(in);
      tide_symtab_t *td = out->symtab;
      for (uint32_t k = tide_symtab_size(td); k < tide_symtab_size(pd); k++) {
        const char *str = tide_symtab_str(pd, (int32_t)k);
        int32_t code = tide_symtab_intern(td, str, tide__symtab_len(pd, (int32_t)k));
        if (code < 0) return tide_error_set(err, TIDE_ERR_NOMEM, "live_table: out of memory");
        if ((uint32_t)code != k)
          return tide_error_set(err, TIDE_ERR_STATE,
                                "live_table: the dictionary of column '%s' diverged from the "
                                "partition's (code %u)",
                                dst->names[c + s->off], k);
      }
    } else if (tide_source_type(out) == TIDE_STRING) {
      if (tide__source_keep(out, in) != TIDE_OK)
        return tide_error_set(err, TIDE_ERR_NOMEM, "live_table: out of memory");
    }
    for (uint64_t done = 0; done < n;) {
      uint32_t m = (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, n - done);
      tide_rowseq_t seq = {done, NULL, done, m};
      tide__tick_iota(s->keys, first + done, m);
      if (tide__tick_copy_chunk(out, in, &seq, s->keys, s->buf) != TIDE_OK)
        return tide_error_set(err, TIDE_ERR_NOMEM, "live_table: out of memory");
      done += m;
    }
  }
  return TIDE_OK;
}

static tide_status live_refresh(tide_gnode_t *n, tide_error *err) {
  live_state *s = n->state;
  tide_table_t *t = NULL;
  uint64_t first = 0;
  if (tide__itail_poll(s->tail, &t, &first, err) != TIDE_OK)
    return tide_error_prefix(err, "live_table('%s', '%s')", s->ns, s->table);
  if (!t) return TIDE_OK; /* nothing committed since the last cycle */
  if (first != s->next) {
    tide_table_free(t);
    return tide_error_set(err, TIDE_ERR_STATE,
                          "live_table('%s', '%s'): the tail reader is at row %llu, the table at "
                          "%llu",
                          s->ns, s->table, (unsigned long long)first,
                          (unsigned long long)s->next);
  }
  uint64_t cnt = tide_table_size(t);
  tide_status st = live_copy(s, n->table, t, first, err);
  tide_table_free(t);
  if (st != TIDE_OK) return st;
  s->next += cnt;
  return tide__tick_publish_append(n, first, cnt, false, err);
}

static void live_destroy(tide_gnode_t *n) { live_free(n->state); }

static const tide_gnode_vt live_vt = {"live_table", live_refresh, NULL, live_destroy};

tide_table_t *tide_live_table(tide_graph_t *g, const char *db, const char *ns, const char *table,
                              const char *date, tide_error *err) {
  tide_error local;
  if (!err) err = &local;
  if (!g) {
    tide_error_set(err, TIDE_ERR_INVALID, "live_table: no update graph given");
    return NULL;
  }
  char today[16];
  if (!date || !*date) {
    tide_intraday_today(today, sizeof today);
    date = today;
  }
  if (!db || !*db) db = TIDE_DB_DEFAULT;
  live_state *s = tide_calloc(1, sizeof *s);
  tide_table_t *t = NULL, *init = NULL;
  const char **names = NULL;
  tide_source_t **cols = NULL;
  size_t nc = 0, ncols = 0;
  if (!s || !(s->ns = tide_strdup(ns ? ns : "")) ||
      !(s->table = tide_strdup(table ? table : "")) ||
      !(s->keys = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->keys)) ||
      !(s->buf = tide_malloc(TIDE_CHUNK_SIZE * 8))) {
    tide_error_set(err, TIDE_ERR_NOMEM, "live_table: out of memory");
    live_free(s);
    return NULL;
  }
  s->tail = tide__itail_open(db, s->ns, s->table, date, err);
  uint64_t first = 0;
  if (!s->tail || tide__itail_poll(s->tail, &init, &first, err) != TIDE_OK) {
    tide_error_prefix(err, "live_table('%s', '%s')", s->ns, s->table);
    live_free(s);
    return NULL;
  }
  /* the columns: Date (unless stored), then the partition's */
  nc = tide__itail_ncols(s->tail);
  s->off = 1;
  for (size_t c = 0; c < nc; c++)
    if (!strcmp(tide__itail_col_name(s->tail, c), TIDE_HISTORICAL_DATE_COL)) s->off = 0;
  ncols = nc + s->off;
  names = tide_calloc(ncols, sizeof *names);
  cols = tide_calloc(ncols, sizeof *cols);
  tide_rowset_t *rs = tide_rowset_create();
  if (!names || !cols || !rs) {
    tide_rowset_free(rs);
    tide_error_set(err, TIDE_ERR_NOMEM, "live_table: out of memory");
    goto fail;
  }
  if (s->off) {
    names[0] = TIDE_HISTORICAL_DATE_COL;
    if (!(cols[0] = csym_create(date, err))) {
      tide_rowset_free(rs);
      goto fail;
    }
  }
  for (size_t c = 0; c < nc; c++) {
    names[c + s->off] = tide__itail_col_name(s->tail, c);
    tide_source_t *p =
        tide__source_paged_create(tide__itail_col_type(s->tail, c), NULL, err);
    cols[c + s->off] = p;
    if (!p || tide__source_track_prev(p, tide__graph_step_ptr(g)) != TIDE_OK) {
      if (p) tide_error_set(err, TIDE_ERR_NOMEM, "live_table: out of memory");
      tide_rowset_free(rs);
      goto fail;
    }
  }
  t = tide_table_create(rs, ncols, names, cols, err);
  tide_rowset_free(rs);
  if (!t) {
    tide_error_prefix(err, "live_table");
    goto fail;
  }
  /* the committed rows form the initial content */
  if (init && live_copy(s, t, init, 0, err) != TIDE_OK) goto fail;
  s->next = init ? tide_table_size(init) : 0;
  if (s->next) {
    tide_rowset_t *all = tide_rowset_create_range(0, s->next - 1);
    if (!all) {
      tide_error_set(err, TIDE_ERR_NOMEM, "live_table: out of memory");
      goto fail;
    }
    tide_rowset_free(t->rowset);
    t->rowset = all;
  }
  if (!tide__gnode_create(g, t, TIDE_KIND_APPEND_ONLY, &live_vt, NULL, 0, s, err)) goto fail;
  for (size_t c = 0; c < ncols; c++) tide_source_release(cols[c]);
  tide_free(cols);
  tide_free(names);
  tide_table_free(init);
  return t;
fail:
  live_free(s);
  for (size_t c = 0; cols && c < ncols; c++) tide_source_release(cols[c]);
  tide_free(cols);
  tide_free(names);
  tide_table_free(init);
  tide_table_free(t);
  return NULL;
}
