/*
 * live_table: an append-only ticking table that tails an intraday
 * partition (include/tide/intraday.h).
 *
 * At creation the partition's committed rows form the initial content.
 * Each cycle the refresh stats commit.log; when its size changed it reads
 * the rows committed since the last cycle (tide_intraday_read_from:
 * verified batches), copies them into the paged columns at the next row
 * keys and publishes the append. A cycle without a new commit costs one
 * stat.
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
#include <sys/stat.h>

#include "sched/ticking_int.h"
#include "tide/intraday.h"

typedef struct live_state {
  char *db, *ns, *table, *date;
  char *log_path;
  int64_t log_size; /* commit.log size when last read (-1: never) */
  uint64_t next;    /* partition rows taken = next row key */
  uint64_t *keys;
  void *buf;
} live_state;

static void live_free(live_state *s) {
  if (!s) return;
  tide_free(s->db);
  tide_free(s->ns);
  tide_free(s->table);
  tide_free(s->date);
  tide_free(s->log_path);
  tide_free(s->keys);
  tide_free(s->buf);
  tide_free(s);
}

/* Copy the rows of src (a static table read from the partition) into the
 * paged columns of dst at keys first... */
static tide_status live_copy(live_state *s, tide_table_t *dst, const tide_table_t *src,
                             uint64_t first, tide_error *err) {
  const uint64_t n = tide_table_size(src);
  if (!n) return TIDE_OK;
  for (size_t c = 0; c < dst->ncols; c++) {
    tide_source_t *in = tide_table_col_source(src, c);
    tide_source_t *out = dst->cols[c];
    if (tide_source_type(in) != tide_source_type(out))
      return tide_error_set(err, TIDE_ERR_STATE, "live_table: column '%s' changed type",
                            dst->names[c]);
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
                                dst->names[c], k);
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
  struct stat sb;
  /* stat first: a commit after it changes the size again and is read in
   * the next cycle */
  if (stat(s->log_path, &sb) != 0 || (int64_t)sb.st_size == s->log_size) return TIDE_OK;
  uint64_t committed = 0;
  tide_table_t *t =
      tide_intraday_read_from(s->db, s->ns, s->table, s->date, s->next, &committed, err);
  if (!t) return tide_error_prefix(err, "live_table('%s', '%s')", s->ns, s->table);
  s->log_size = (int64_t)sb.st_size;
  uint64_t first = s->next, cnt = tide_table_size(t);
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
  if (!s || !(s->db = tide_strdup(db)) || !(s->ns = tide_strdup(ns ? ns : "")) ||
      !(s->table = tide_strdup(table ? table : "")) || !(s->date = tide_strdup(date)) ||
      !(s->log_path = tide_malloc(strlen(db) + strlen(s->ns) + strlen(s->table) + 64)) ||
      !(s->keys = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->keys)) ||
      !(s->buf = tide_malloc(TIDE_CHUNK_SIZE * 8))) {
    tide_error_set(err, TIDE_ERR_NOMEM, "live_table: out of memory");
    live_free(s);
    return NULL;
  }
  sprintf(s->log_path, "%s/Intraday/%s/%s/%s/commit.log", db, s->ns, s->table, date);
  /* the size before the read: commits after it are read by the first cycle */
  struct stat sb;
  s->log_size = stat(s->log_path, &sb) == 0 ? (int64_t)sb.st_size : -1;
  uint64_t committed = 0;
  init = tide_intraday_read_from(db, s->ns, s->table, date, 0, &committed, err);
  if (!init) {
    tide_error_prefix(err, "live_table('%s', '%s')", s->ns, s->table);
    live_free(s);
    return NULL;
  }
  size_t nc = tide_table_ncols(init);
  const char **names = tide_calloc(nc ? nc : 1, sizeof *names);
  tide_type_t *types = tide_calloc(nc ? nc : 1, sizeof *types);
  if (!names || !types) {
    tide_error_set(err, TIDE_ERR_NOMEM, "live_table: out of memory");
    goto fail;
  }
  for (size_t c = 0; c < nc; c++) {
    names[c] = tide_table_col_name(init, c);
    types[c] = tide_table_col_type(init, c);
  }
  t = tide__tick_table_new(g, nc, names, types, NULL, "live_table", err);
  if (!t) goto fail;
  /* the committed rows form the initial content */
  if (live_copy(s, t, init, 0, err) != TIDE_OK) goto fail;
  s->next = tide_table_size(init);
  if (s->next) {
    tide_rowset_t *rs = tide_rowset_create_range(0, s->next - 1);
    if (!rs) {
      tide_error_set(err, TIDE_ERR_NOMEM, "live_table: out of memory");
      goto fail;
    }
    tide_rowset_free(t->rowset);
    t->rowset = rs;
  }
  if (!tide__gnode_create(g, t, TIDE_KIND_APPEND_ONLY, &live_vt, NULL, 0, s, err)) goto fail;
  tide_free(names);
  tide_free(types);
  tide_table_free(init);
  return t;
fail:
  tide_free(names);
  tide_free(types);
  tide_table_free(init);
  tide_table_free(t);
  live_free(s);
  return NULL;
}
