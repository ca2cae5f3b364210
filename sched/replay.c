/*
 * Ticking sources driven by the graph alone: replay of a static table and
 * time tables; plus the helpers every ticking source shares (paged result
 * tables with previous-value tracking, chunk copies, append/blink
 * publication), the simulated clock and duration parsing.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "sched/ticking_int.h"

/* ---------------------------------------------------------------- helpers */

tide_table_t *tide__tick_table_new(tide_graph_t *g, size_t ncols, const char *const *names,
                                   const tide_type_t *types, tide_symtab_t *const *symtabs,
                                   const char *op, tide_error *err) {
  tide_source_t **cols = tide_calloc(ncols ? ncols : 1, sizeof *cols);
  tide_rowset_t *rs = tide_rowset_create();
  tide_table_t *t = NULL;
  if (!cols || !rs) {
    tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
    goto out;
  }
  for (size_t i = 0; i < ncols; i++) {
    if (types[i] >= TIDE_TYPE_COUNT) {
      tide_error_set(err, TIDE_ERR_TYPE, "%s: column '%s' has an invalid type", op,
                     names[i] ? names[i] : "");
      goto out;
    }
    cols[i] = tide__source_paged_create(types[i], symtabs ? symtabs[i] : NULL, err);
    if (!cols[i]) goto out;
    if (tide__source_track_prev(cols[i], tide__graph_step_ptr(g)) != TIDE_OK) {
      tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
      goto out;
    }
  }
  t = tide_table_create(rs, ncols, names, cols, err);
  if (!t) tide_error_prefix(err, "%s", op);
out:
  for (size_t i = 0; cols && i < ncols; i++) tide_source_release(cols[i]);
  tide_free(cols);
  tide_rowset_free(rs);
  return t;
}

tide_status tide__tick_copy_chunk(tide_source_t *dst, const tide_source_t *src,
                                  const tide_rowseq_t *seq, const uint64_t *dst_keys, void *buf) {
  const void *vals = tide__source_get(src, seq, buf);
  return tide__source_paged_set(dst, dst_keys, seq->n, vals);
}

tide_status tide__tick_publish_append(tide_gnode_t *node, uint64_t first, uint64_t n, bool blink,
                                      tide_error *err) {
  tide_table_t *t = node->table;
  tide_update_t u = {0};
  tide_rowset_t *nrs = NULL;
  if (blink) {
    if (n == 0 && tide_rowset_is_empty(t->rowset)) return TIDE_OK;
    if (!tide_rowset_is_empty(t->rowset)) u.removed = tide_rowset_retain(t->rowset);
    nrs = n ? tide_rowset_create_range(first, first + n - 1) : tide_rowset_create();
    if (!nrs) goto oom;
    if (n) {
      u.added = tide_rowset_retain(nrs);
    }
  } else {
    if (n == 0) return TIDE_OK;
    u.added = tide_rowset_create_range(first, first + n - 1);
    nrs = tide_rowset_copy(t->rowset);
    if (!u.added || !nrs || tide_rowset_insert_range(nrs, first, first + n - 1) != TIDE_OK)
      goto oom;
  }
  return tide__gnode_publish(node, &u, nrs, err);
oom:
  tide__update_clear(&u);
  tide_rowset_free(nrs);
  return tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", node->vt->name);
}

/* ------------------------------------------------------------------ clock */

int64_t tide_sim_clock_now(void *sim_clock) {
  const tide_sim_clock_t *c = sim_clock;
  return c->start_ns + (int64_t)tide__graph_current_step(c->graph) * c->step_ns;
}

/* ---------------------------------------------------------------- durations */

/* A decimal number at *p ("12", "0.5", ".25"): integer and fraction parts
 * (at most 9 fraction digits kept). False if no digits. */
static bool parse_decimal(const char **p, int64_t *ip, int64_t *frac_ns_per_unit_e9, bool *ovf) {
  const char *s = *p;
  int64_t v = 0;
  bool any = false;
  while (isdigit((unsigned char)*s)) {
    if (v > (INT64_MAX - 9) / 10) *ovf = true;
    else v = v * 10 + (*s - '0');
    s++;
    any = true;
  }
  int64_t f = 0;
  int nd = 0;
  if (*s == '.' || *s == ',') {
    s++;
    while (isdigit((unsigned char)*s)) {
      if (nd < 9) {
        f = f * 10 + (*s - '0');
        nd++;
      }
      s++;
      any = true;
    }
  }
  while (nd < 9) {
    f *= 10;
    nd++;
  }
  *ip = v;
  *frac_ns_per_unit_e9 = f; /* fraction of one unit, in 1e-9 units */
  *p = s;
  return any;
}

static bool add_units(__int128 *acc, int64_t ip, int64_t frac, int64_t unit_ns) {
  *acc += (__int128)ip * unit_ns + ((__int128)frac * unit_ns) / 1000000000;
  return *acc <= INT64_MAX;
}

tide_status tide_duration_parse(const char *s, const char *what, int64_t *ns_out,
                                tide_error *err) {
  const char *w = what ? what : "duration";
#define BAD()                                                                                  \
  return tide_error_set(err, TIDE_ERR_INVALID,                                                 \
                        "%s: bad duration '%s' (use ISO-8601 like 'PT1S', 'PT0.1S', 'PT1M', " \
                        "'PT1H30M', or '100ms', '10s')",                                       \
                        w, s ? s : "(null)")
  if (!s) BAD();
  const char *p = s;
  while (isspace((unsigned char)*p)) p++;
  __int128 acc = 0;
  bool ovf = false;
  if (*p == 'P' || *p == 'p') {
    p++;
    bool in_time = false, any = false;
    int last_rank = -1; /* D=0, then H=1, M=2, S=3 (order enforced) */
    while (*p && !isspace((unsigned char)*p)) {
      if ((*p == 'T' || *p == 't') && !in_time) {
        in_time = true;
        p++;
        if (!*p) BAD();
        continue;
      }
      int64_t ip, frac;
      if (!parse_decimal(&p, &ip, &frac, &ovf)) BAD();
      char d = (char)toupper((unsigned char)*p);
      int64_t unit;
      int rank;
      if (!in_time && d == 'D') unit = 86400000000000LL, rank = 0;
      else if (!in_time && d == 'W') unit = 7 * 86400000000000LL, rank = 0;
      else if (in_time && d == 'H') unit = 3600000000000LL, rank = 1;
      else if (in_time && d == 'M') unit = 60000000000LL, rank = 2;
      else if (in_time && d == 'S') unit = 1000000000LL, rank = 3;
      else BAD();
      if (rank <= last_rank) BAD();
      last_rank = rank;
      p++;
      any = true;
      if (!add_units(&acc, ip, frac, unit)) ovf = true;
    }
    if (!any) BAD();
  } else {
    int64_t ip, frac;
    if (!parse_decimal(&p, &ip, &frac, &ovf)) BAD();
    while (*p == ' ') p++;
    int64_t unit;
    if (strncmp(p, "ns", 2) == 0) unit = 1, p += 2;
    else if (strncmp(p, "us", 2) == 0) unit = 1000, p += 2;
    else if (strncmp(p, "ms", 2) == 0) unit = 1000000, p += 2;
    else if (*p == 's') unit = 1000000000LL, p += 1;
    else if (*p == 'm') unit = 60000000000LL, p += 1;
    else if (*p == 'h') unit = 3600000000000LL, p += 1;
    else if (*p == 'd') unit = 86400000000000LL, p += 1;
    else BAD();
    if (!add_units(&acc, ip, frac, unit)) ovf = true;
  }
  while (isspace((unsigned char)*p)) p++;
  if (*p) BAD();
  if (ovf)
    return tide_error_set(err, TIDE_ERR_RANGE, "%s: duration '%s' is too long", w, s);
  if (acc <= 0)
    return tide_error_set(err, TIDE_ERR_INVALID, "%s: duration '%s' must be positive", w, s);
  *ns_out = (int64_t)acc;
  return TIDE_OK;
#undef BAD
}

/* ----------------------------------------------------------------- replay */

typedef struct replay_state_t {
  tide_table_t *src; /* one reference */
  uint64_t per_cycle;
  uint64_t pos;      /* rows of src delivered so far */
  bool blink;
  uint64_t *keybuf;  /* TIDE_CHUNK_SIZE */
  uint64_t *dstkeys; /* TIDE_CHUNK_SIZE */
  void *valbuf;      /* TIDE_CHUNK_SIZE values of the widest type */
} replay_state_t;

static tide_status replay_refresh(tide_gnode_t *n, tide_error *err) {
  replay_state_t *s = n->state;
  uint64_t total = tide_table_size(s->src);
  uint64_t cnt = TIDE_MIN(s->per_cycle, total - s->pos);
  tide_table_t *t = n->table;
  if (cnt) {
    tide_rowset_iter_t it;
    tide_rowseq_t seq;
    tide_rowset_iter_init_pos(&it, s->src->rowset, s->pos, cnt);
    while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->keybuf)) {
      tide__tick_iota(s->dstkeys, seq.pos, seq.n);
      for (size_t c = 0; c < t->ncols; c++) {
        if (tide__tick_copy_chunk(t->cols[c], s->src->cols[c], &seq, s->dstkeys, s->valbuf) !=
            TIDE_OK)
          return tide_error_set(err, TIDE_ERR_NOMEM, "replay: out of memory");
      }
    }
  }
  uint64_t first = s->pos;
  s->pos += cnt;
  return tide__tick_publish_append(n, first, cnt, s->blink, err);
}

static void replay_destroy(tide_gnode_t *n) {
  replay_state_t *s = n->state;
  if (!s) return;
  tide_table_free(s->src);
  tide_free(s->keybuf);
  tide_free(s->dstkeys);
  tide_free(s->valbuf);
  tide_free(s);
}

static const tide_gnode_vt replay_vt = {"replay", replay_refresh, NULL, replay_destroy};

tide_table_t *tide_replay(tide_graph_t *g, tide_table_t *src, uint64_t rows_per_cycle, bool blink,
                          tide_error *err) {
  if (!g || !src) {
    tide_error_set(err, TIDE_ERR_INVALID, "replay: no %s given", g ? "table" : "update graph");
    return NULL;
  }
  if (rows_per_cycle == 0) {
    tide_error_set(err, TIDE_ERR_INVALID, "replay: rows_per_cycle must be positive (got 0)");
    return NULL;
  }
  if (tide_table_is_refreshing(src)) {
    tide_error_set(err, TIDE_ERR_INVALID,
                   "replay: the table to replay must be static (it is refreshing)");
    return NULL;
  }
  size_t nc = src->ncols;
  tide_type_t *types = tide_calloc(nc ? nc : 1, sizeof *types);
  tide_symtab_t **st = tide_calloc(nc ? nc : 1, sizeof *st);
  replay_state_t *s = tide_calloc(1, sizeof *s);
  tide_table_t *t = NULL;
  if (!types || !st || !s) goto oom;
  for (size_t i = 0; i < nc; i++) {
    types[i] = src->cols[i]->type;
    st[i] = src->cols[i]->symtab;
  }
  t = tide__tick_table_new(g, nc, (const char *const *)src->names, types, st, "replay", err);
  if (!t) goto fail;
  for (size_t i = 0; i < nc; i++)
    if (tide__source_keep_values_of(t->cols[i], src->cols[i]) != TIDE_OK) goto oom;
  s->keybuf = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->keybuf);
  s->dstkeys = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->dstkeys);
  s->valbuf = tide_malloc(TIDE_CHUNK_SIZE * 8);
  if (!s->keybuf || !s->dstkeys || !s->valbuf) goto oom;
  s->src = tide_table_retain(src);
  s->per_cycle = rows_per_cycle;
  s->blink = blink;
  if (!tide__gnode_create(g, t, blink ? TIDE_KIND_BLINK : TIDE_KIND_APPEND_ONLY, &replay_vt, NULL,
                          0, s, err))
    goto fail;
  tide_free(types);
  tide_free(st);
  return t;
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "replay: out of memory");
fail:
  if (s) {
    tide_table_free(s->src);
    tide_free(s->keybuf);
    tide_free(s->dstkeys);
    tide_free(s->valbuf);
    tide_free(s);
  }
  tide_table_free(t);
  tide_free(types);
  tide_free(st);
  return NULL;
}

/* ------------------------------------------------------------- time table */

typedef struct tt_state_t {
  int64_t period;
  int64_t next_ts;  /* timestamp of the next row */
  uint64_t next_key;
  bool blink;
  uint64_t *keys;   /* TIDE_CHUNK_SIZE */
  int64_t *vals;    /* TIDE_CHUNK_SIZE */
} tt_state_t;

/* Rows for every timestamp from next_ts up to now (inclusive), written at
 * keys from next_key; returns how many in *count. */
/* At most this many rows become due at once (creation or one cycle): a
 * start far in the past for the period, or a clock jump, is refused rather
 * than allocated for ever. */
#define TT_MAX_DUE (1ULL << 30)

static tide_status tt_fill(tt_state_t *s, tide_source_t *col, int64_t now, uint64_t *count,
                           tide_error *err) {
  *count = 0;
  if (now < s->next_ts) return TIDE_OK;
  __int128 due = ((__int128)now - s->next_ts) / s->period + 1;
  if (due > (__int128)TT_MAX_DUE)
    return tide_error_set(err, TIDE_ERR_RANGE,
                          "time_table: more than %llu rows are due at once (the start is too "
                          "far in the past for the period, or the clock jumped)",
                          (unsigned long long)TT_MAX_DUE);
  uint64_t total = (uint64_t)due;
  uint64_t done = 0;
  while (done < total) {
    uint32_t m = (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, total - done);
    int64_t ts = s->next_ts;
    for (uint32_t i = 0; i < m; i++) {
      s->keys[i] = s->next_key + i;
      s->vals[i] = ts + (int64_t)i * s->period;
    }
    if (tide__source_paged_set(col, s->keys, m, s->vals) != TIDE_OK)
      return tide_error_set(err, TIDE_ERR_NOMEM, "time_table: out of memory");
    s->next_key += m;
    s->next_ts += (int64_t)m * s->period;
    done += m;
  }
  *count = total;
  return TIDE_OK;
}

static tide_status tt_refresh(tide_gnode_t *n, tide_error *err) {
  tt_state_t *s = n->state;
  uint64_t first = s->next_key, cnt;
  TIDE_TRY(tt_fill(s, n->table->cols[0], tide_graph_now(n->graph), &cnt, err));
  return tide__tick_publish_append(n, first, cnt, s->blink, err);
}

static void tt_free(tt_state_t *s) {
  if (!s) return;
  tide_free(s->keys);
  tide_free(s->vals);
  tide_free(s);
}

static void tt_destroy(tide_gnode_t *n) { tt_free(n->state); }

static const tide_gnode_vt tt_vt = {"time_table", tt_refresh, NULL, tt_destroy};

tide_table_t *tide_time_table(tide_graph_t *g, int64_t period_ns, int64_t start_ns, bool blink,
                              tide_error *err) {
  if (!g) {
    tide_error_set(err, TIDE_ERR_INVALID, "time_table: no update graph given");
    return NULL;
  }
  if (period_ns <= 0) {
    tide_error_set(err, TIDE_ERR_INVALID, "time_table: the period must be positive (got %lld ns)",
                   (long long)period_ns);
    return NULL;
  }
  const char *name = "Timestamp";
  tide_type_t ty = TIDE_TS;
  tt_state_t *s = tide_calloc(1, sizeof *s);
  tide_table_t *t = NULL;
  if (!s || !(s->keys = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->keys)) ||
      !(s->vals = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->vals))) {
    tide_error_set(err, TIDE_ERR_NOMEM, "time_table: out of memory");
    tt_free(s);
    return NULL;
  }
  s->period = period_ns;
  s->blink = blink;
  t = tide__tick_table_new(g, 1, &name, &ty, NULL, "time_table", err);
  if (!t) {
    tt_free(s);
    return NULL;
  }
  int64_t now = tide_graph_now(g);
  s->next_ts = start_ns == TIDE_NULL_TS ? now : start_ns;
  /* The rows already due (the first one at creation) form the initial
   * content. */
  uint64_t cnt;
  if (tt_fill(s, t->cols[0], now, &cnt, err) != TIDE_OK) goto fail;
  if (cnt) {
    tide_rowset_t *rs = tide_rowset_create_range(0, cnt - 1);
    if (!rs) {
      tide_error_set(err, TIDE_ERR_NOMEM, "time_table: out of memory");
      goto fail;
    }
    tide_rowset_free(t->rowset);
    t->rowset = rs;
  }
  if (!tide__gnode_create(g, t, blink ? TIDE_KIND_BLINK : TIDE_KIND_APPEND_ONLY, &tt_vt, NULL, 0,
                          s, err))
    goto fail;
  return t;
fail:
  tt_free(s);
  tide_table_free(t);
  return NULL;
}
