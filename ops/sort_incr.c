/*
 * Incremental sort / sort_descending of a ticking table (Deephaven's
 * SortListener is the model).
 *
 * The result has its own sparse key space. Output keys are grouped in
 * blocks of S = 2^lb keys (lb = 12 by default, one page of the paged
 * redirection map): key = block id << lb | slot. Blocks hold at most S/2
 * rows; a re-laid-out block holds 3/8 S rows at spacing 2, and block ids
 * are spread with gaps (2^20 + 1 by default) so that new blocks fit between
 * existing ones. Every column of the result is a ticking redirection
 * (tide__source_tredir_create) through `map` (output key -> input key,
 * previous values tracked); `rev` maps input key -> output key.
 *
 * A cycle, for a standard / append-only / add-only input:
 *  1. removed input rows -> their output keys (rev);
 *  2. input shifts: the map entries of shifted rows get their new input
 *     keys and rev is shifted (O(shifted rows));
 *  3. modified rows whose sort columns changed value (previous values read
 *     through the result's redirection) are removed and re-added; other
 *     modified rows stay in place and are reported modified;
 *  4. the added rows (and re-added ones) are sorted with the static sort
 *     (so ties keep input key order, as in the static sort) and their
 *     insertion positions found by a binary search over the result's
 *     positions, all rows in lockstep, one chunk fill per column per round;
 *  5. each run of rows inserting at one place goes into the block of a
 *     neighbour: into the gap if it has room, else a small window of
 *     neighbouring rows of that block is spread evenly (the window grows
 *     until its density is below a bound that tightens with its size,
 *     like a packed-memory array), the moves becoming shifts; a block that
 *     would overflow is re-laid out into new blocks between its
 *     neighbours (a run after all its rows goes into new blocks without
 *     moving any), and when the block ids around it are exhausted the
 *     next blocks join the re-layout. No step touches rows other than the
 *     changed ones and a bounded neighbourhood of each.
 * Blink inputs replace every row each cycle: the result is blink too and
 * is rebuilt with the static sort each cycle (keys 0..n-1).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/radix.h"
#include "sched/graph_int.h"
#include "sched/ticking_int.h"

/* In ops/sort.c. */
tide_status tide__sort_keys(const tide_table_t *t, const tide_rowset_t *rows,
                            const char *const *cols, const bool *descending, size_t ncols,
                            uint64_t *out, tide_error *err);
tide_table_t *tide__sort_incr(tide_table_t *t, const char *const *cols, const bool *descending,
                              size_t ncols, tide_error *err);
/* Layout parameters of results created from now on (tests use tiny blocks
 * to exercise splits and id exhaustion): block_bits in [3, 16] (default
 * 12), gap_bits in [1, 24] (default 20); 0 restores the default. */
void tide__sort_incr_tune(int block_bits, int gap_bits);

static int g_block_bits = 12, g_gap_bits = 20;

void tide__sort_incr_tune(int block_bits, int gap_bits) {
  g_block_bits = block_bits >= 3 && block_bits <= 16 ? block_bits : 12;
  g_gap_bits = gap_bits >= 1 && gap_bits <= 24 ? gap_bits : 20;
}

typedef struct scol {
  int idx;
  tide_type_t type;
  bool desc;
} scol;

typedef struct sstate {
  size_t nsc;
  scol *sc;
  char **names; /* sort column names (owned), for tide__sort_keys */
  bool *desc;
  tide_source_t *map; /* output key -> input key (tracked) */
  tide_source_t *rev; /* input key -> output key (NULL for blink) */
  bool blink;
  int lb;
  uint64_t S, cap, target, gap, small, id_limit, id_start;
} sstate;

/* ------------------------------------------------------------ helpers */

typedef struct vec {
  uint64_t *v;
  size_t n, cap;
} vec;

static bool vec_grow(vec *a, size_t need) {
  if (need <= a->cap) return true;
  size_t c = a->cap ? a->cap * 2 : 256;
  while (c < need) c *= 2;
  uint64_t *p = tide_realloc(a->v, c * sizeof *p);
  if (!p) return false;
  a->v = p;
  a->cap = c;
  return true;
}
static inline bool vec_push(vec *a, uint64_t x) {
  if (TIDE_UNLIKELY(a->n == a->cap) && !vec_grow(a, a->n + 1)) return false;
  a->v[a->n++] = x;
  return true;
}
static void vec_free(vec *a) {
  tide_free(a->v);
  memset(a, 0, sizeof *a);
}

static inline uint64_t lower_bound(const tide_rowset_t *rs, uint64_t key) {
  int64_t f = tide_rowset_find(rs, key);
  return f >= 0 ? (uint64_t)f : (uint64_t)(-(f + 1));
}

static inline unsigned floor_log2(uint64_t x) { return 63u - (unsigned)__builtin_clzll(x); }

/* Sort values of column c at keys (n <= TIDE_CHUNK_SIZE) in comparable
 * form: fixed-width types radix-encoded (descending applied), STRING as
 * pointers, SYMBOL as codes. prev: previous values. buf: 8 * n bytes. */
static void read_enc(const tide_source_t *src, const scol *c, const uint64_t *keys, uint32_t n,
                     bool prev, uint64_t *out, void *buf) {
  tide_rowseq_t seq = {0, keys, 0, n};
  if (!n) return;
  if (prev)
    tide_source_fill_prev(src, &seq, buf);
  else
    tide_source_fill(src, &seq, buf);
  switch (c->type) {
    case TIDE_STRING: {
      const char *const *v = buf;
      for (uint32_t i = 0; i < n; i++) out[i] = (uint64_t)(uintptr_t)v[i];
      break;
    }
    case TIDE_SYMBOL: {
      const int32_t *v = buf;
      for (uint32_t i = 0; i < n; i++) out[i] = (uint64_t)(int64_t)v[i];
      break;
    }
    default: tide__radix_encode(c->type, buf, n, c->desc, NULL, out); break;
  }
}

/* res[j] (if still 0) = order of a[aidx ? aidx[j] : j] against b[j] in
 * column c: -1, 0, 1. strs: the column's dictionary strings (SYMBOL). */
static void cmp_col(const scol *c, const char *const *strs, const uint64_t *a,
                    const uint64_t *aidx, const uint64_t *b, uint32_t n, int8_t *res) {
  int sign = c->desc ? -1 : 1;
  switch (c->type) {
    case TIDE_STRING:
      for (uint32_t j = 0; j < n; j++) {
        if (res[j]) continue;
        const char *x = (const char *)(uintptr_t)a[aidx ? aidx[j] : j];
        const char *y = (const char *)(uintptr_t)b[j];
        int r = x == y ? 0 : !x ? -1 : !y ? 1 : strcmp(x, y);
        res[j] = (int8_t)(((r > 0) - (r < 0)) * sign);
      }
      break;
    case TIDE_SYMBOL:
      for (uint32_t j = 0; j < n; j++) {
        if (res[j]) continue;
        int64_t x = (int64_t)a[aidx ? aidx[j] : j], y = (int64_t)b[j];
        int r = x == y ? 0 : x < 0 ? -1 : y < 0 ? 1 : strcmp(strs[x], strs[y]);
        res[j] = (int8_t)(((r > 0) - (r < 0)) * sign);
      }
      break;
    default:
      for (uint32_t j = 0; j < n; j++) {
        if (res[j]) continue;
        uint64_t x = a[aidx ? aidx[j] : j], y = b[j];
        res[j] = (int8_t)((x > y) - (x < y));
      }
      break;
  }
}

static void sstate_free(sstate *s) {
  if (!s) return;
  if (s->names)
    for (size_t c = 0; c < s->nsc; c++) tide_free(s->names[c]);
  tide_free(s->names);
  tide_free(s->desc);
  tide_free(s->sc);
  tide_source_release(s->map);
  tide_source_release(s->rev);
  tide_free(s);
}

/* ------------------------------------------------------------ one cycle */

typedef struct win {
  uint64_t wa, wb;     /* existing rows at positions [wa, wb) */
  size_t g0, g1;       /* groups [g0, g1) */
  uint64_t knew;       /* new rows of those groups */
  uint64_t lf, rf;     /* fences (exclusive key bounds) */
} win;

typedef struct cyc {
  sstate *s;
  const tide_rowset_t *work; /* previous result rows minus removed */
  uint64_t N;
  /* new rows: input keys in sort order and their output keys */
  uint64_t *a, *outkey;
  uint64_t na;
  /* groups of new rows inserting at one position */
  uint64_t *gp, *gk, *ga, *gB;
  size_t ng;
  /* moves of existing rows: position, old key, new key */
  vec mpos, mold, mnew;
  vec tk; /* target keys scratch */
  win *wins;
  size_t nwins, wcap;
  uint64_t prev_hi;
} cyc;

#define NONE_BLOCK UINT64_MAX

/* Assign tk[0..) to the existing rows at positions [pa, pb) interleaved
 * with the new rows of groups [g0, g1) (a group at position p goes before
 * the existing row p); record moves and output keys. */
static tide_status emit(cyc *c, uint64_t pa, uint64_t pb, size_t g0, size_t g1,
                        const uint64_t *tk) {
  uint64_t t = 0;
  size_t g = g0;
  if (pb > pa) {
    tide_rowset_iter_t it;
    tide_rowset_iter_init_pos(&it, c->work, pa, pb - pa);
    tide_rowseq_t seq;
    uint64_t kb[TIDE_CHUNK_SIZE];
    while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, kb)) {
      for (uint32_t j = 0; j < seq.n; j++) {
        uint64_t q = seq.pos + j;
        while (g < g1 && c->gp[g] == q) {
          for (uint64_t r = 0; r < c->gk[g]; r++) c->outkey[c->ga[g] + r] = tk[t++];
          g++;
        }
        uint64_t old = seq.keys ? seq.keys[j] : seq.first + j;
        uint64_t nk = tk[t++];
        if (nk != old) {
          if (!vec_push(&c->mpos, q) || !vec_push(&c->mold, old) || !vec_push(&c->mnew, nk))
            return TIDE_ERR_NOMEM;
        }
      }
    }
  }
  while (g < g1) {
    assert(c->gp[g] == pb);
    for (uint64_t r = 0; r < c->gk[g]; r++) c->outkey[c->ga[g] + r] = tk[t++];
    g++;
  }
  return TIDE_OK;
}

static uint64_t groups_new(const cyc *c, size_t g0, size_t g1) {
  uint64_t k = 0;
  for (size_t g = g0; g < g1; g++) k += c->gk[g];
  return k;
}

/* Block ids advance by odd steps (at most `bound`, at least 1): ids in
 * arithmetic progression with a power-of-two step would share their low
 * bits, which the paged map's page hash (low bits of id * golden ratio)
 * does not mix, and every page lookup would probe them all. */
static inline uint64_t odd_step(uint64_t bound) {
  if (bound <= 1) return 1;
  return bound & 1 ? bound : bound - 1;
}

/* Lay out rows [bs, be) and groups [g0, g1) into new blocks with ids
 * strictly between lo and hi (hi - lo - 1 >= the number of blocks),
 * around block id `centre`, 3/8 S rows per block at spacing 2. */
static tide_status relayout(cyc *c, uint64_t bs, uint64_t be, size_t g0, size_t g1, uint64_t lo,
                            uint64_t hi, uint64_t centre) {
  const sstate *s = c->s;
  uint64_t m = be - bs + groups_new(c, g0, g1);
  uint64_t nb = (m + s->target - 1) / s->target;
  uint64_t step = odd_step(TIDE_MIN((hi - lo) / (nb + 1), s->gap));
  uint64_t span = (nb - 1) * step;
  uint64_t base = centre > span / 2 ? centre - span / 2 : 0;
  if (base <= lo) base = lo + 1;
  if (base + span >= hi) base = hi - 1 - span;
  if (!vec_grow(&c->tk, m)) return TIDE_ERR_NOMEM;
  uint64_t *tk = c->tk.v;
  for (uint64_t j = 0; j < nb; j++) {
    uint64_t r0 = j * m / nb, r1 = (j + 1) * m / nb, cnt = r1 - r0;
    uint64_t sp = TIDE_MIN(s->S / cnt, 2);
    uint64_t start = ((base + j * step) << s->lb) + (s->S - cnt * sp) / 2;
    for (uint64_t t = 0; t < cnt; t++) tk[r0 + t] = start + t * sp;
  }
  c->prev_hi = base + (nb - 1) * step;
  return emit(c, bs, be, g0, g1, tk);
}

/* New blocks for groups [g0, g1) only (no existing row moves), with ids
 * after `from` (dir > 0: from + step, ...) or before it (dir < 0), rows
 * packed from the block start (after) or up to its end (before). */
static tide_status new_blocks(cyc *c, uint64_t at, size_t g0, size_t g1, uint64_t from,
                              uint64_t room, int dir) {
  const sstate *s = c->s;
  uint64_t m = groups_new(c, g0, g1);
  uint64_t nb = (m + s->target - 1) / s->target;
  uint64_t step = odd_step(TIDE_MIN(room / (nb + 1), s->small));
  if (!vec_grow(&c->tk, m)) return TIDE_ERR_NOMEM;
  uint64_t *tk = c->tk.v;
  for (uint64_t j = 0; j < nb; j++) {
    uint64_t r0 = j * m / nb, r1 = (j + 1) * m / nb, cnt = r1 - r0;
    uint64_t id = dir > 0 ? from + (j + 1) * step : from - (nb - j) * step;
    uint64_t start = (id << s->lb) + (dir > 0 ? 0 : s->S - cnt);
    for (uint64_t t = 0; t < cnt; t++) tk[r0 + t] = start + t;
    if (dir > 0) c->prev_hi = id;
  }
  return emit(c, at, at, g0, g1, tk);
}

/* Whether cnt rows may be spread over span free keys: the allowed density
 * goes from 1 for a span of 1 down to 7/8 for a whole block (blocks split
 * above 1/2, so windows stay small). */
static bool dens_ok(const sstate *s, uint64_t cnt, uint64_t span) {
  if (cnt > span || span == 0) return false;
  uint64_t L = 8 * (uint64_t)s->lb;
  unsigned l2 = floor_log2(span);
  if (l2 > s->lb) l2 = (unsigned)s->lb;
  return L * cnt <= span * (L - l2);
}

static tide_status push_win(cyc *c, const win *w) {
  if (c->nwins == c->wcap) {
    size_t nc = c->wcap ? c->wcap * 2 : 16;
    win *p = tide_realloc(c->wins, nc * sizeof *p);
    if (!p) return TIDE_ERR_NOMEM;
    c->wins = p;
    c->wcap = nc;
  }
  c->wins[c->nwins++] = *w;
  return TIDE_OK;
}

/* Groups [g0, g1) insert into block B (rows [bs, be)), which has room for
 * them: spread each into its gap or a window around it. */
static tide_status in_block(cyc *c, uint64_t B, uint64_t bs, uint64_t be, size_t g0, size_t g1) {
  const sstate *s = c->s;
  c->nwins = 0;
  const uint64_t bfirst = B << s->lb, blast = bfirst + s->S - 1;
  size_t g = g0;
  while (g < g1) {
    win w = {c->gp[g], c->gp[g], g, g + 1, c->gk[g], 0, 0};
    uint64_t step = 1;
    for (;;) {
      while (w.g1 < g1 && c->gp[w.g1] <= w.wb) w.knew += c->gk[w.g1++];
      if (c->nwins && w.wa <= c->wins[c->nwins - 1].wb) {
        win *p = &c->wins[--c->nwins];
        w.wa = p->wa;
        w.wb = TIDE_MAX(w.wb, p->wb);
        w.g0 = p->g0;
        w.knew += p->knew;
        continue;
      }
      w.lf = w.wa > bs ? tide_rowset_key_at(c->work, w.wa - 1) : bfirst - 1;
      w.rf = w.wb < be ? tide_rowset_key_at(c->work, w.wb) : blast + 1;
      uint64_t cnt = w.wb - w.wa + w.knew, span = w.rf - w.lf - 1;
      if (dens_ok(s, cnt, span)) break;
      if (w.wa == bs && w.wb == be) {
        if (cnt <= span) break;
        return TIDE_ERR_STATE; /* cannot happen: the block has room */
      }
      w.wa = w.wa > bs + step ? w.wa - step : bs;
      w.wb = TIDE_MIN(be, w.wb + step);
      step *= 2;
    }
    TIDE_TRY(push_win(c, &w));
    g = w.g1;
  }
  for (size_t i = 0; i < c->nwins; i++) {
    const win *w = &c->wins[i];
    uint64_t cnt = w->wb - w->wa + w->knew, span = w->rf - w->lf - 1;
    bool lv = w->wa == bs, rv = w->wb == be;
    if (!vec_grow(&c->tk, cnt)) return TIDE_ERR_NOMEM;
    uint64_t *tk = c->tk.v;
    uint64_t sp = TIDE_MIN(span / cnt, 2);
    if (lv && rv) {
      uint64_t start = w->lf + 1 + (span - cnt * sp) / 2;
      for (uint64_t t = 0; t < cnt; t++) tk[t] = start + t * sp;
    } else if (rv) {
      for (uint64_t t = 0; t < cnt; t++) tk[t] = w->lf + (t + 1) * sp;
    } else if (lv) {
      for (uint64_t t = 0; t < cnt; t++) tk[t] = w->rf - (cnt - t) * sp;
    } else {
      uint64_t q = span / cnt, off = (q - 1) / 2;
      for (uint64_t t = 0; t < cnt; t++) tk[t] = w->lf + 1 + t * span / cnt + off;
    }
    TIDE_TRY(emit(c, w->wa, w->wb, w->g0, w->g1, tk));
  }
  c->prev_hi = B;
  return TIDE_OK;
}

/* Place every group (c->gp/gk/ga, positions in c->work). */
static tide_status place_all(cyc *c, tide_error *err) {
  const sstate *s = c->s;
  const uint64_t N = c->N;
  if (c->ng == 0) return TIDE_OK;
  if (N == 0) {
    tide_status st = relayout(c, 0, 0, 0, c->ng, 0, s->id_limit, s->id_start);
    if (st != TIDE_OK) return tide_error_set(err, st, "sort: out of memory");
    return TIDE_OK;
  }
  /* the block each group goes into */
  for (size_t g = 0; g < c->ng; g++) {
    uint64_t p = c->gp[g], k = c->gk[g];
    uint64_t Lk = p > 0 ? tide_rowset_key_at(c->work, p - 1) : TIDE_NULL_KEY;
    uint64_t Rk = p < N ? tide_rowset_key_at(c->work, p) : TIDE_NULL_KEY;
    if (Lk == TIDE_NULL_KEY) {
      c->gB[g] = Rk >> s->lb;
    } else if (Rk == TIDE_NULL_KEY) {
      c->gB[g] = Lk >> s->lb;
    } else {
      uint64_t X = Lk >> s->lb, Y = Rk >> s->lb;
      if (X == Y) {
        c->gB[g] = X;
      } else {
        uint64_t fx = ((X + 1) << s->lb) - 1 - Lk, fy = Rk - (Y << s->lb);
        c->gB[g] = fx >= k ? X : fy >= k ? Y : fx >= fy ? X : Y;
      }
    }
  }
  c->prev_hi = 0;
  size_t g = 0;
  tide_status st = TIDE_OK;
  while (g < c->ng && st == TIDE_OK) {
    uint64_t B = c->gB[g];
    size_t ge = g;
    while (ge < c->ng && c->gB[ge] == B) ge++;
    uint64_t bs = lower_bound(c->work, B << s->lb), be = lower_bound(c->work, (B + 1) << s->lb);
    uint64_t knew = groups_new(c, g, ge);
    if (be - bs + knew <= s->cap) {
      st = in_block(c, B, bs, be, g, ge);
      g = ge;
      continue;
    }
    uint64_t Bprev = bs > 0 ? tide_rowset_key_at(c->work, bs - 1) >> s->lb : 0;
    uint64_t lo = TIDE_MAX(Bprev, c->prev_hi);
    uint64_t Bnext = be < N ? tide_rowset_key_at(c->work, be) >> s->lb : s->id_limit;
    bool tail = true, head = true;
    for (size_t i = g; i < ge; i++) {
      tail = tail && c->gp[i] == be;
      head = head && c->gp[i] == bs;
    }
    uint64_t nbn = (knew + s->target - 1) / s->target;
    if (tail && Bnext - B - 1 >= nbn) {
      st = new_blocks(c, be, g, ge, B, Bnext - B, 1);
      g = ge;
      continue;
    }
    if (head && B > lo && B - lo - 1 >= nbn) {
      st = new_blocks(c, bs, g, ge, B, B - lo, -1);
      c->prev_hi = B;
      g = ge;
      continue;
    }
    /* re-lay out B, joined by the next blocks until ids suffice */
    uint64_t ext = be, hi = Bnext;
    size_t g1 = ge;
    for (;;) {
      uint64_t m = ext - bs + groups_new(c, g, g1);
      uint64_t nb = (m + s->target - 1) / s->target;
      if (hi > lo && hi - lo - 1 >= nb) break;
      if (hi >= s->id_limit)
        return tide_error_set(err, TIDE_ERR_RANGE, "sort: output key space exhausted");
      uint64_t Bn = hi;
      ext = lower_bound(c->work, (Bn + 1) << s->lb);
      while (g1 < c->ng && c->gB[g1] == Bn) g1++;
      hi = ext < N ? tide_rowset_key_at(c->work, ext) >> s->lb : s->id_limit;
    }
    st = relayout(c, bs, ext, g, g1, lo, hi, B);
    g = g1;
  }
  if (st != TIDE_OK)
    return tide_error_set(err, st, st == TIDE_ERR_NOMEM ? "sort: out of memory"
                                                        : "sort: internal layout error");
  return TIDE_OK;
}

/* Insertion positions of the sorted new rows a[0..na) in c->work:
 * pos[i] = number of rows of work ordered before a[i]. nenc[col] holds the
 * new rows' encoded sort values. Binary searches run in lockstep (one
 * chunk fill per column per round) and level by level: since a is sorted,
 * the rows at odd multiples of a stride search only between the positions
 * of their neighbours at the coarser level, so the total work is about
 * na * log2(N / na) probes rather than na * log2(N). */
static tide_status find_positions(cyc *c, tide_table_t *in, uint64_t **nenc,
                                  const char *const *const *strs, uint64_t *pos) {
  const sstate *s = c->s;
  uint64_t na = c->na, N = c->N;
  uint64_t *lo = pos; /* converged: lo == hi == the position */
  uint64_t *hi = tide_malloc((na ? na : 1) * sizeof *hi);
  uint64_t *act = tide_malloc((na ? na : 1) * sizeof *act);
  uint64_t *buf = tide_malloc(TIDE_CHUNK_SIZE * 4 * sizeof *buf);
  int8_t *res = tide_malloc(TIDE_CHUNK_SIZE);
  tide_status st = TIDE_OK;
  if (!hi || !act || !buf || !res) {
    st = TIDE_ERR_NOMEM;
    goto done;
  }
  uint64_t *pk = buf, *pin = buf + TIDE_CHUNK_SIZE, *penc = buf + 2 * TIDE_CHUNK_SIZE,
           *vbuf = buf + 3 * TIDE_CHUNK_SIZE;
  uint64_t top = 1;
  while (top * 2 < na) top *= 2;
  for (uint64_t stride = top;; stride /= 2) {
    size_t nact = 0;
    for (uint64_t i = 0; i < na; i += stride) {
      if (stride != top && (i / stride) % 2 == 0) continue; /* done at a coarser level */
      if (stride == top) {
        lo[i] = 0;
        hi[i] = N;
      } else {
        lo[i] = lo[i - stride];
        hi[i] = i + stride < na ? lo[i + stride] : N;
      }
      if (lo[i] < hi[i]) act[nact++] = i;
    }
    while (nact) {
      for (size_t j0 = 0; j0 < nact; j0 += TIDE_CHUNK_SIZE) {
        uint32_t n = (uint32_t)TIDE_MIN((size_t)TIDE_CHUNK_SIZE, nact - j0);
        const uint64_t *ai = act + j0;
        for (uint32_t j = 0; j < n; j++)
          pk[j] = tide_rowset_key_at(c->work, (lo[ai[j]] + hi[ai[j]]) / 2);
        tide_rowseq_t seq = {0, pk, 0, n};
        tide_source_fill(s->map, &seq, pin);
        memset(res, 0, n);
        for (size_t col = 0; col < s->nsc; col++) {
          const scol *sc = &s->sc[col];
          read_enc(in->cols[sc->idx], sc, pin, n, false, penc, vbuf);
          cmp_col(sc, strs[col], nenc[col], ai, penc, n, res);
        }
        for (uint32_t j = 0; j < n; j++) {
          uint64_t i = ai[j], mid = (lo[i] + hi[i]) / 2;
          int r = res[j] ? res[j] : (c->a[i] > pin[j] ? 1 : -1);
          if (r > 0)
            lo[i] = mid + 1;
          else
            hi[i] = mid;
        }
      }
      size_t o = 0;
      for (size_t j = 0; j < nact; j++)
        if (lo[act[j]] < hi[act[j]]) act[o++] = act[j];
      nact = o;
    }
    if (stride == 1) break;
  }
done:
  tide_free(hi);
  tide_free(act);
  tide_free(buf);
  tide_free(res);
  return st;
}

/* Output keys of the input keys of `rows` (through rev) appended to out. */
static tide_status rev_lookup(const sstate *s, const tide_rowset_t *rows, vec *out) {
  if (!rows || tide_rowset_is_empty(rows)) return TIDE_OK;
  if (!vec_grow(out, out->n + tide_rowset_size(rows))) return TIDE_ERR_NOMEM;
  tide_rowset_iter_t it;
  tide_rowset_iter_init(&it, rows);
  tide_rowseq_t seq;
  uint64_t kb[TIDE_CHUNK_SIZE];
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, kb)) {
    tide_source_fill(s->rev, &seq, out->v + out->n);
    out->n += seq.n;
  }
  return TIDE_OK;
}

/* Write map[keys[i]] = vals[i] (or rev) in chunks. */
static tide_status set_all(tide_source_t *dst, const uint64_t *keys, const uint64_t *vals,
                           uint64_t n) {
  for (uint64_t i = 0; i < n; i += TIDE_CHUNK_SIZE)
    TIDE_TRY(tide__source_paged_set(dst, keys + i,
                                    (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, n - i),
                                    vals + i));
  return TIDE_OK;
}

static tide_status blink_notify(tide_gnode_t *node, tide_error *err) {
  sstate *s = node->state;
  tide_table_t *in = node->parents[0], *r = node->table;
  uint64_t n = tide_rowset_size(in->rowset);
  tide_update_t u = {0};
  tide_rowset_t *nrs = NULL;
  uint64_t *keys = tide_malloc((n ? n : 1) * sizeof *keys);
  uint64_t *ok = tide_malloc(TIDE_CHUNK_SIZE * sizeof *ok);
  if (!keys || !ok) goto oom;
  if (tide__sort_keys(in, in->rowset, (const char *const *)s->names, s->desc, s->nsc, keys,
                      err) != TIDE_OK)
    goto fail;
  for (uint64_t i = 0; i < n; i += TIDE_CHUNK_SIZE) {
    uint32_t cnt = (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, n - i);
    tide__tick_iota(ok, i, cnt);
    if (tide__source_paged_set(s->map, ok, cnt, keys + i) != TIDE_OK) goto oom;
  }
  if (!tide_rowset_is_empty(r->rowset)) u.removed = tide_rowset_retain(r->rowset);
  nrs = n ? tide_rowset_create_range(0, n - 1) : tide_rowset_create();
  if (!nrs) goto oom;
  if (n && !(u.added = tide_rowset_create_range(0, n - 1))) goto oom;
  tide_free(keys);
  tide_free(ok);
  return tide__gnode_publish(node, &u, nrs, err);
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "sort: out of memory");
fail:
  tide__update_clear(&u);
  tide_rowset_free(nrs);
  tide_free(keys);
  tide_free(ok);
  return err ? err->status : TIDE_ERR_NOMEM;
}

static tide_status sort_notify(tide_gnode_t *node, tide_error *err) {
  sstate *s = node->state;
  const tide_update_t *pu = tide__gnode_parent_update(node, 0);
  if (!pu) return TIDE_OK;
  if (s->blink) return blink_notify(node, err);
  tide_table_t *in = node->parents[0], *r = node->table;
  tide_status st = TIDE_OK;
  cyc c;
  memset(&c, 0, sizeof c);
  c.s = s;
  vec rem = {0}, mv_in = {0}, mv_out = {0}, tmp = {0};
  tide_rowset_t *removed = NULL, *work = NULL, *added_in = NULL, *mvset = NULL, *kept = NULL;
  tide_rowset_t *added_out = NULL, *modified_out = NULL, *moved_old = NULL, *moved_new = NULL,
                *modrest = NULL;
  tide_shift_t *shifts = NULL;
  size_t nshifts = 0;
  uint64_t **nenc = NULL;
  const char *const **strs = NULL;
  uint64_t *pos = NULL, *kb = NULL, *vb = NULL, *e1 = NULL, *e2 = NULL;
  int8_t *res = NULL;
  tide_update_t u = {0};
  kb = tide_malloc(TIDE_CHUNK_SIZE * sizeof *kb);
  vb = tide_malloc(TIDE_CHUNK_SIZE * sizeof *vb);
  e1 = tide_malloc(TIDE_CHUNK_SIZE * sizeof *e1);
  e2 = tide_malloc(TIDE_CHUNK_SIZE * sizeof *e2);
  res = tide_malloc(TIDE_CHUNK_SIZE);
  strs = tide_calloc(s->nsc, sizeof *strs);
  nenc = tide_calloc(s->nsc, sizeof *nenc);
  if (!kb || !vb || !e1 || !e2 || !res || !strs || !nenc) goto oom;
  for (size_t col = 0; col < s->nsc; col++) {
    tide_symtab_t *sy = tide_source_symtab(in->cols[s->sc[col].idx]);
    strs[col] = s->sc[col].type == TIDE_SYMBOL && sy ? tide__symtab_strs(sy) : NULL;
  }
  /* 1. removed input rows */
  if (rev_lookup(s, pu->removed, &rem) != TIDE_OK) goto oom;
  /* 2. input shifts: map entries get the new input keys; rev moves */
  if (pu->nshifts) {
    const tide_rowset_t *prev_in = tide_table_prev_rowset(in);
    kept = pu->removed ? tide_rowset_minus(prev_in, pu->removed) : tide_rowset_copy(prev_in);
    if (!kept) goto oom;
    for (size_t i = 0; i < pu->nshifts; i++) {
      const tide_shift_t *sh = &pu->shifts[i];
      uint64_t p0 = lower_bound(kept, sh->first);
      uint64_t p1 = sh->last == UINT64_MAX ? tide_rowset_size(kept) : lower_bound(kept, sh->last + 1);
      if (p1 <= p0) continue;
      tide_rowset_iter_t it;
      tide_rowset_iter_init_pos(&it, kept, p0, p1 - p0);
      tide_rowseq_t seq;
      while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, kb)) {
        tide_source_fill(s->rev, &seq, e1); /* output keys */
        for (uint32_t j = 0; j < seq.n; j++)
          e2[j] = (seq.keys ? seq.keys[j] : seq.first + j) + (uint64_t)sh->delta;
        if (tide__source_paged_set(s->map, e1, seq.n, e2) != TIDE_OK) goto oom;
      }
    }
    if (tide__source_paged_shift(s->rev, pu->shifts, pu->nshifts, kept) != TIDE_OK) goto oom;
  }
  /* 3. modified rows whose sort values changed move */
  bool sortmod = false;
  for (size_t col = 0; col < s->nsc; col++)
    sortmod = sortmod || tide_update_col_modified(pu, (size_t)s->sc[col].idx);
  if (pu->modified && !tide_rowset_is_empty(pu->modified) && sortmod) {
    tide_rowset_iter_t it;
    tide_rowset_iter_init(&it, pu->modified);
    tide_rowseq_t seq;
    uint64_t ok[TIDE_CHUNK_SIZE];
    while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, kb)) {
      const uint64_t *keys = seq.keys;
      if (!keys) {
        for (uint32_t j = 0; j < seq.n; j++) kb[j] = seq.first + j;
        keys = kb;
      }
      tide_rowseq_t ks = {0, keys, 0, seq.n};
      tide_source_fill(s->rev, &ks, ok);
      memset(res, 0, seq.n);
      for (size_t col = 0; col < s->nsc; col++) {
        const scol *sc = &s->sc[col];
        read_enc(in->cols[sc->idx], sc, keys, seq.n, false, e1, vb);
        read_enc(r->cols[sc->idx], sc, ok, seq.n, true, e2, vb);
        cmp_col(sc, strs[col], e1, NULL, e2, seq.n, res);
      }
      for (uint32_t j = 0; j < seq.n; j++)
        if (res[j] && (!vec_push(&mv_in, keys[j]) || !vec_push(&mv_out, ok[j]))) goto oom;
    }
  }
  /* 4. the rows left after removal */
  for (size_t i = 0; i < mv_out.n; i++)
    if (!vec_push(&rem, mv_out.v[i])) goto oom;
  if (rem.n) {
    removed = tide_rowset_from_keys(rem.v, rem.n);
    if (!removed) goto oom;
    work = tide_rowset_minus(r->rowset, removed);
  } else {
    work = tide_rowset_copy(r->rowset);
  }
  if (!work) goto oom;
  /* 5. the rows to insert, in sort order */
  const tide_rowset_t *adds = pu->added;
  if (mv_in.n) {
    mvset = tide_rowset_from_keys(mv_in.v, mv_in.n);
    if (!mvset) goto oom;
    added_in = pu->added ? tide_rowset_union(pu->added, mvset) : tide_rowset_copy(mvset);
    if (!added_in) goto oom;
    adds = added_in;
  }
  c.work = work;
  c.N = tide_rowset_size(work);
  c.na = adds ? tide_rowset_size(adds) : 0;
  if (c.na) {
    uint64_t na = c.na;
    c.a = tide_malloc(na * sizeof *c.a);
    c.outkey = tide_malloc(na * sizeof *c.outkey);
    pos = tide_malloc(na * sizeof *pos);
    c.gp = tide_malloc(na * sizeof *c.gp);
    c.gk = tide_malloc(na * sizeof *c.gk);
    c.ga = tide_malloc(na * sizeof *c.ga);
    c.gB = tide_malloc(na * sizeof *c.gB);
    if (!c.a || !c.outkey || !pos || !c.gp || !c.gk || !c.ga || !c.gB) goto oom;
    st = tide__sort_keys(in, adds, (const char *const *)s->names, s->desc, s->nsc, c.a, err);
    if (st != TIDE_OK) goto fail;
    for (size_t col = 0; col < s->nsc; col++) {
      nenc[col] = tide_malloc(na * sizeof **nenc);
      if (!nenc[col]) goto oom;
      const scol *sc = &s->sc[col];
      for (uint64_t i = 0; i < na; i += TIDE_CHUNK_SIZE)
        read_enc(in->cols[sc->idx], sc, c.a + i,
                 (uint32_t)TIDE_MIN((uint64_t)TIDE_CHUNK_SIZE, na - i), false, nenc[col] + i, vb);
    }
    /* 6. insertion positions */
    if (find_positions(&c, in, nenc, strs, pos) != TIDE_OK) goto oom;
    for (uint64_t i = 0; i < na;) {
      uint64_t j = i;
      while (j < na && pos[j] == pos[i]) j++;
      c.gp[c.ng] = pos[i];
      c.gk[c.ng] = j - i;
      c.ga[c.ng] = i;
      c.ng++;
      i = j;
    }
    /* 7. output keys */
    st = place_all(&c, err);
    if (st != TIDE_OK) goto fail;
  }
  /* 8. shifts of moved rows: runs of consecutive positions in one block with
   * equal delta */
  if (c.mpos.n) {
    shifts = tide_malloc(c.mpos.n * sizeof *shifts);
    if (!shifts) goto oom;
    for (size_t i = 0; i < c.mpos.n; i++) {
      int64_t d = (int64_t)(c.mnew.v[i] - c.mold.v[i]);
      /* a range never spans blocks: readers may materialize its keys */
      if (nshifts && shifts[nshifts - 1].delta == d && c.mpos.v[i] == c.mpos.v[i - 1] + 1 &&
          (shifts[nshifts - 1].first >> s->lb) == (c.mold.v[i] >> s->lb)) {
        shifts[nshifts - 1].last = c.mold.v[i];
      } else {
        shifts[nshifts++] = (tide_shift_t){c.mold.v[i], c.mold.v[i], d};
      }
    }
    /* 9. map: the moved rows' input keys (gathered first: a new key may be
     * another moved row's old key) go to their new keys; rev follows */
    if (!vec_grow(&tmp, c.mold.n)) goto oom;
    for (size_t i = 0; i < c.mold.n; i += TIDE_CHUNK_SIZE) {
      uint32_t n = (uint32_t)TIDE_MIN((size_t)TIDE_CHUNK_SIZE, c.mold.n - i);
      tide_rowseq_t seq = {0, c.mold.v + i, 0, n};
      tide_source_fill(s->map, &seq, tmp.v + i);
    }
    if (set_all(s->map, c.mnew.v, tmp.v, c.mnew.n) != TIDE_OK) goto oom;
    if (set_all(s->rev, tmp.v, c.mnew.v, c.mnew.n) != TIDE_OK) goto oom;
  }
  if (c.na) {
    if (set_all(s->map, c.outkey, c.a, c.na) != TIDE_OK) goto oom;
    if (set_all(s->rev, c.a, c.outkey, c.na) != TIDE_OK) goto oom;
  }
  /* 10. the new RowSet: minus the moved rows' old keys, plus their new
   * keys and the added keys (one union) */
  if (c.na) {
    added_out = tide_rowset_from_keys(c.outkey, c.na);
    if (!added_out) goto oom;
  }
  if (c.mold.n) {
    moved_old = tide_rowset_from_keys(c.mold.v, c.mold.n);
    if (!moved_old || !vec_grow(&c.mnew, c.mnew.n + c.na)) goto oom;
    if (c.na) memcpy(c.mnew.v + c.mnew.n, c.outkey, c.na * sizeof *c.outkey);
    moved_new = tide_rowset_from_keys(c.mnew.v, c.mnew.n + c.na);
    if (!moved_new) goto oom;
    if (tide_rowset_minus_inplace(work, moved_old) != TIDE_OK) goto oom;
    if (tide_rowset_union_inplace(work, moved_new) != TIDE_OK) goto oom;
  } else if (added_out && tide_rowset_union_inplace(work, added_out) != TIDE_OK) {
    goto oom;
  }
  /* 11. modified rows that stayed */
  if (pu->modified && !tide_rowset_is_empty(pu->modified)) {
    modrest = mvset ? tide_rowset_minus(pu->modified, mvset) : tide_rowset_copy(pu->modified);
    if (!modrest) goto oom;
    if (!tide_rowset_is_empty(modrest)) {
      if (rev_lookup(s, modrest, &tmp) != TIDE_OK) goto oom;
      modified_out = tide_rowset_from_keys(tmp.v, tmp.n);
      if (!modified_out) goto oom;
      size_t nw = (pu->ncols + 63) / 64;
      u.modified_cols = tide_calloc(nw ? nw : 1, sizeof *u.modified_cols);
      if (!u.modified_cols) goto oom;
      if (pu->modified_cols) memcpy(u.modified_cols, pu->modified_cols, nw * sizeof *u.modified_cols);
      u.ncols = pu->ncols;
    }
  }
  u.removed = removed;
  removed = NULL;
  u.shifts = shifts;
  u.nshifts = nshifts;
  shifts = NULL;
  u.added = added_out;
  added_out = NULL;
  u.modified = modified_out;
  modified_out = NULL;
  {
    bool changed = u.removed || u.nshifts || u.added;
    tide_rowset_t *nrs = changed ? work : NULL;
    if (changed) work = NULL;
    st = tide__gnode_publish(node, &u, nrs, err);
  }
  goto done;
oom:
  st = tide_error_set(err, TIDE_ERR_NOMEM, "sort: out of memory");
fail:
  tide__update_clear(&u);
done:
  vec_free(&rem);
  vec_free(&mv_in);
  vec_free(&mv_out);
  vec_free(&tmp);
  vec_free(&c.mpos);
  vec_free(&c.mold);
  vec_free(&c.mnew);
  vec_free(&c.tk);
  tide_free(c.wins);
  tide_free(c.a);
  tide_free(c.outkey);
  tide_free(c.gp);
  tide_free(c.gk);
  tide_free(c.ga);
  tide_free(c.gB);
  tide_free(pos);
  if (nenc)
    for (size_t col = 0; col < s->nsc; col++) tide_free(nenc[col]);
  tide_free(nenc);
  tide_free(strs);
  tide_free(kb);
  tide_free(vb);
  tide_free(e1);
  tide_free(e2);
  tide_free(res);
  tide_free(shifts);
  tide_rowset_free(removed);
  tide_rowset_free(work);
  tide_rowset_free(added_in);
  tide_rowset_free(mvset);
  tide_rowset_free(kept);
  tide_rowset_free(added_out);
  tide_rowset_free(modified_out);
  tide_rowset_free(moved_old);
  tide_rowset_free(moved_new);
  tide_rowset_free(modrest);
  return st;
}

static void sort_destroy(tide_gnode_t *n) { sstate_free(n->state); }

static const tide_gnode_vt sort_vt = {"sort", NULL, sort_notify, sort_destroy};

/* ------------------------------------------------------------ creation */

tide_table_t *tide__sort_incr(tide_table_t *t, const char *const *cols, const bool *descending,
                              size_t ncols, tide_error *err) {
  tide_graph_t *lk = tide__graph_snapshot_lock(t);
  tide_graph_t *g = tide_table_graph(t);
  tide_table_t *r = NULL;
  tide_source_t **srcs = NULL;
  uint64_t *keys = NULL, *outk = NULL;
  tide_rowset_t *rs = NULL;
  sstate *s = tide_calloc(1, sizeof *s);
  if (!s) goto oom;
  s->nsc = ncols;
  s->sc = tide_calloc(ncols, sizeof *s->sc);
  s->names = tide_calloc(ncols, sizeof *s->names);
  s->desc = tide_calloc(ncols, sizeof *s->desc);
  if (!s->sc || !s->names || !s->desc) goto oom;
  for (size_t c = 0; c < ncols; c++) {
    if (!cols[c]) {
      tide_error_set(err, TIDE_ERR_INVALID, "sort: sort column %zu is NULL", c);
      goto fail;
    }
    int idx = tide__col_lookup(t, cols[c], "sort", err);
    if (idx < 0) goto fail;
    s->sc[c].idx = idx;
    s->sc[c].type = tide_source_type(t->cols[idx]);
    s->sc[c].desc = s->desc[c] = descending ? descending[c] : false;
    if (!(s->names[c] = tide_strdup(cols[c]))) goto oom;
  }
  s->blink = t->kind == TIDE_KIND_BLINK;
  s->lb = g_block_bits;
  s->S = UINT64_C(1) << s->lb;
  s->cap = s->S / 2;
  s->target = s->S * 3 / 8;
  s->gap = (UINT64_C(1) << g_gap_bits) + 1;
  s->small = (UINT64_C(1) << (g_gap_bits / 2)) + 1;
  s->id_limit = UINT64_C(1) << (62 - s->lb);
  s->id_start = s->id_limit / 4;
  s->map = tide__source_paged_create(TIDE_I64, NULL, err);
  if (!s->map) goto fail;
  if (!s->blink && !(s->rev = tide__source_paged_create(TIDE_I64, NULL, err))) goto fail;
  /* the first snapshot */
  uint64_t n = tide_rowset_size(t->rowset);
  keys = tide_malloc((n ? n : 1) * sizeof *keys);
  outk = tide_malloc((n ? n : 1) * sizeof *outk);
  if (!keys || !outk) goto oom;
  if (tide__sort_keys(t, t->rowset, cols, descending, ncols, keys, err) != TIDE_OK) goto fail;
  if (s->blink) {
    for (uint64_t i = 0; i < n; i++) outk[i] = i;
  } else {
    uint64_t nb = (n + s->target - 1) / s->target;
    for (uint64_t j = 0; j < nb; j++) {
      uint64_t r0 = j * n / nb, r1 = (j + 1) * n / nb, cnt = r1 - r0;
      uint64_t sp = TIDE_MIN(s->S / cnt, 2);
      uint64_t start = ((s->id_start + j * s->gap) << s->lb) + (s->S - cnt * sp) / 2;
      for (uint64_t i = 0; i < cnt; i++) outk[r0 + i] = start + i * sp;
    }
  }
  if (set_all(s->map, outk, keys, n) != TIDE_OK) goto oom;
  if (s->rev && set_all(s->rev, keys, outk, n) != TIDE_OK) goto oom;
  if (tide__source_track_prev(s->map, tide__graph_step_ptr(g)) != TIDE_OK) goto oom;
  rs = tide_rowset_from_keys(outk, n);
  srcs = tide_calloc(t->ncols ? t->ncols : 1, sizeof *srcs);
  if (!rs || !srcs) goto oom;
  for (size_t c = 0; c < t->ncols; c++) {
    srcs[c] = tide__source_tredir_create(t->cols[c], s->map, err);
    if (!srcs[c]) {
      tide_error_prefix(err, "sort: column '%s'", t->names[c]);
      goto fail;
    }
  }
  r = tide_table_create(rs, t->ncols, (const char *const *)t->names, srcs, err);
  if (!r) {
    tide_error_prefix(err, "sort");
    goto fail;
  }
  if (!tide__gnode_create(g, r, s->blink ? TIDE_KIND_BLINK : TIDE_KIND_STANDARD, &sort_vt, &t, 1,
                          s, err)) {
    tide_error_prefix(err, "sort");
    tide_table_free(r);
    r = NULL;
    goto fail;
  }
  s = NULL; /* owned by the node */
  goto done;
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "sort: out of memory");
fail:
  tide_table_free(r);
  r = NULL;
done:
  sstate_free(s);
  if (srcs)
    for (size_t c = 0; c < t->ncols; c++) tide_source_release(srcs[c]);
  tide_free(srcs);
  tide_free(keys);
  tide_free(outk);
  tide_rowset_free(rs);
  tide__graph_snapshot_unlock(lk);
  return r;
}
