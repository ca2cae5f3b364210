/*
 * Incremental inner join (tide_join) over refreshing inputs.
 *
 * Result row keys: left row k owns the block of keys [k << K, (k + 1) << K);
 * its j-th match (the j-th right row of its group in right row-key order,
 * the static build's order) is row (k << K) | j. The result's left columns
 * read the left column at key >> K (a "block" source); its right columns
 * read through a ticking redirection `rmap` (result key -> right key, a
 * paged int64 source with previous values). K is one more than the bits of
 * the largest right group (any group), so a group may double before a
 * re-key. Static and incremental results
 * list the same rows in the same order (blocks in left order, matches in
 * right order within a block); the row keys are not positions.
 *
 * State: one key set over both sides (ops/asof_incr.c helpers), and per
 * group the sorted keys of its left rows and of its right rows.
 *
 * A cycle:
 *  - left rows removed, or re-keyed (a key column modified): their blocks
 *    are removed (previous key space); added or re-keyed rows get new
 *    blocks; left shifts become result shifts (ranges scaled by 2^K);
 *    left rows modified in other columns: their block rows are modified
 *    (the left's modified columns);
 *  - right changes touch groups: per touched group the positions whose
 *    right row changed (from the first changed position on, a position
 *    keeps its row if the old row, moved by the right's shifts, is the new
 *    one; rows whose joined columns were modified) are modified in the
 *    block of every kept left row of the group, positions past the new
 *    size are removed and positions past the old size are added.
 *  Cost: O(changed rows + left rows of touched groups x changed positions
 *  + the right run's tail after the first changed position).
 *
 * Re-keying: when a group outgrows 2^K right rows, or a left key k no
 * longer fits k << K, the cycle publishes a full replacement (every
 * previous row removed, every current row added, under a new K); the
 * block source serves previous values with the previous K during that
 * cycle. A result whose kind forbids it (append-only, add-only, blink:
 * right static) fails with an error instead.
 *
 * Result kinds: right static: the left's kind; otherwise standard.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>

#include "ops/join_int.h"
#include "sched/graph_int.h"

/* ------------------------------------------------------- block source */

typedef struct kinfo_t {
  _Atomic uint32_t refcount;
  unsigned K, Kprev;
  const _Atomic uint64_t *step;
  uint64_t rekey_step; /* *step during the cycle that changed K */
  bool rekeyed;
} kinfo_t;

static kinfo_t *kinfo_retain(kinfo_t *k) {
  atomic_fetch_add(&k->refcount, 1);
  return k;
}
static void kinfo_release(kinfo_t *k) {
  if (k && atomic_fetch_sub(&k->refcount, 1) == 1) tide_free(k);
}

typedef struct block_source_t {
  tide_source_t base;
  tide_source_t *inner;
  kinfo_t *ki;
} block_source_t;

static void block_fill_impl(const tide_source_t *src, const tide_rowseq_t *seq, void *dst,
                            bool prev) {
  const block_source_t *b = (const block_source_t *)src;
  unsigned K = b->ki->K;
  if (prev && b->ki->rekeyed &&
      atomic_load_explicit(b->ki->step, memory_order_acquire) == b->ki->rekey_step)
    K = b->ki->Kprev;
  uint64_t keys[TIDE_CHUNK_SIZE];
  uint32_t n = seq->n;
  if (seq->keys) {
    for (uint32_t i = 0; i < n; i++) keys[i] = seq->keys[i] >> K;
  } else {
    for (uint32_t i = 0; i < n; i++) keys[i] = (seq->first + i) >> K;
  }
  tide_rowseq_t in = {0, keys, 0, n};
  if (prev)
    tide_source_fill_prev(b->inner, &in, dst);
  else
    tide_source_fill(b->inner, &in, dst);
}
static void block_fill(const tide_source_t *src, const tide_rowseq_t *seq, void *dst) {
  block_fill_impl(src, seq, dst, false);
}
static void block_fill_prev(const tide_source_t *src, const tide_rowseq_t *seq, void *dst) {
  block_fill_impl(src, seq, dst, true);
}
static void block_destroy(tide_source_t *src) {
  block_source_t *b = (block_source_t *)src;
  tide_source_release(b->inner);
  kinfo_release(b->ki);
}
static const tide_source_vt block_vt = {"join block", block_fill, NULL, block_destroy,
                                        block_fill_prev};

static tide_source_t *block_create(tide_source_t *inner, kinfo_t *ki) {
  block_source_t *b = tide_malloc(sizeof *b);
  if (!b) return NULL;
  tide__source_init(&b->base, &block_vt, inner->type);
  b->inner = tide_source_retain(inner);
  b->ki = kinfo_retain(ki);
  b->base.symtab = tide_symtab_retain(inner->symtab);
  return &b->base;
}

/* ------------------------------------------------------------- state */

typedef struct jgroup {
  tide__tkvec_t side[2]; /* sorted row keys (t = 0): left, right */
} jgroup;

typedef struct cross_state {
  const char *op;
  tide_table_t *tab[2];
  int par[2];
  tide__jspec_t spec;
  tide__ikeys_t ik;
  uint64_t *kbits[2]; /* key columns of each side */
  uint64_t *joinbits; /* right columns added */
  size_t nl;
  kinfo_t *ki;
  jgroup *groups;
  size_t gcap;
  tide_source_t *rmap;
  tide__jscratch_t sc;
  uint32_t *ids;
  tide__gtkvec_t rem, ins, tmp, vmod;
  tide__tkvec_t tktmp, oldtail;
  tide__mapbatch_t mb;    /* rmap writes */
  /* result key sets of the cycle, as sorted-or-not key lists */
  uint64_t *rk_rm, *rk_add, *rk_mod;
  size_t n_rm, n_add, n_mod, c_rm, c_add, c_mod;
} cross_state;

static void cross_state_free(cross_state *s) {
  if (!s) return;
  for (int i = 0; i < 2; i++) {
    tide_table_free(s->tab[i]);
    tide_free(s->kbits[i]);
  }
  tide_free(s->joinbits);
  for (size_t g = 0; g < s->gcap; g++) {
    tide_free(s->groups[g].side[0].a);
    tide_free(s->groups[g].side[1].a);
  }
  tide_free(s->groups);
  tide_source_release(s->rmap);
  kinfo_release(s->ki);
  tide__jscratch_free(&s->sc);
  tide_free(s->ids);
  tide_free(s->rem.a);
  tide_free(s->ins.a);
  tide_free(s->tmp.a);
  tide_free(s->vmod.a);
  tide_free(s->tktmp.a);
  tide_free(s->oldtail.a);
  tide__mapbatch_free(&s->mb);
  tide_free(s->rk_rm);
  tide_free(s->rk_add);
  tide_free(s->rk_mod);
  tide__ikeys_free(&s->ik);
  tide__jspec_free(&s->spec);
  tide_free(s);
}

static tide_status grow_groups(cross_state *s) {
  size_t need = tide__ikeys_ngroups(&s->ik);
  if (need <= s->gcap) return TIDE_OK;
  size_t cap = s->gcap ? s->gcap : 64;
  while (cap < need) cap *= 2;
  jgroup *g = tide_realloc(s->groups, cap * sizeof *g);
  if (!g) return TIDE_ERR_NOMEM;
  memset(g + s->gcap, 0, (cap - s->gcap) * sizeof *g);
  s->groups = g;
  s->gcap = cap;
  return TIDE_OK;
}

/* (group, 0, key) of the rows of rs of one side into v; with shifts also
 * (group, 0, shifted key) into v2. */
static tide_status collect(cross_state *s, int side, const tide_rowset_t *rs, bool prev,
                           tide__gtkvec_t *v, const tide_shift_t *shifts, size_t nshifts,
                           tide__gtkvec_t *v2) {
  if (!rs || tide_rowset_is_empty(rs)) return TIDE_OK;
  tide_rowset_iter_t it;
  tide_rowseq_t seq;
  tide_rowset_iter_init(&it, rs);
  size_t sh = 0;
  while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->sc.keybuf)) {
    TIDE_TRY(tide__ikeys_ids(&s->ik, side, &seq, prev, &s->sc, s->ids));
    for (uint32_t i = 0; i < seq.n; i++) {
      uint64_t k = seq.keys ? seq.keys[i] : seq.first + i;
      TIDE_TRY(tide__gtk_push(v, s->ids[i], 0, k));
      if (v2) {
        while (sh < nshifts && shifts[sh].last < k) sh++;
        uint64_t nk = sh < nshifts && shifts[sh].first <= k ? k + (uint64_t)shifts[sh].delta : k;
        TIDE_TRY(tide__gtk_push(v2, s->ids[i], 0, nk));
      }
    }
  }
  return grow_groups(s);
}

/* Sort and apply s->rem / s->ins to one side's runs; clears them. */
static tide_status apply(cross_state *s, int side) {
  tide__tkvec_t *runs = s->groups ? &s->groups[0].side[side] : NULL;
  TIDE_TRY(tide__gtk_apply_runs(&s->rem, &s->ins, &s->tmp, &s->tktmp, runs, sizeof *s->groups));
  s->rem.n = s->ins.n = 0;
  return TIDE_OK;
}

static uint64_t run_lower(const tide__tkvec_t *v, uint64_t k) {
  uint64_t lo = 0, hi = v->n;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (v->a[mid].k < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

#define GONE (TIDE_NULL_KEY - 1)

static uint64_t shift_fwd(const tide_shift_t *sh, size_t n, uint64_t k) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (sh[mid].last < k) lo = mid + 1;
    else hi = mid;
  }
  if (lo < n && sh[lo].first <= k) return k + (uint64_t)sh[lo].delta;
  return k;
}

static uint64_t right_forward(const tide_update_t *ru, uint64_t old) {
  if (ru->removed && tide_rowset_contains(ru->removed, old)) return GONE;
  return shift_fwd(ru->shifts, ru->nshifts, old);
}

static unsigned bits_for(uint64_t m) {
  unsigned b = 0;
  while (b < 62 && (UINT64_C(1) << b) < m) b++;
  return b;
}

/* Block of left row k (current values, group g) into the add list. */
static tide_status add_block(cross_state *s, uint64_t k, uint32_t g) {
  const tide__tkvec_t *R = &s->groups[g].side[1];
  unsigned K = s->ki->K;
  for (uint64_t j = 0; j < R->n; j++) {
    TIDE_TRY(tide__u64_push(&s->rk_add, &s->n_add, &s->c_add, (k << K) | j));
    TIDE_TRY(tide__mapbatch_add(&s->mb, (k << K) | j, R->a[j].k));
  }
  return TIDE_OK;
}

/* Rows of `all` inside the blocks of the left keys of rs, into a list. */
static tide_status block_rows(cross_state *s, const tide_rowset_t *rs, const tide_rowset_t *all,
                              unsigned K, uint64_t **out, size_t *n, size_t *cap) {
  if (!rs || tide_rowset_is_empty(rs) || tide_rowset_is_empty(all)) return TIDE_OK;
  tide_rowset_t *ranges = tide_rowset_create();
  if (!ranges) return TIDE_ERR_NOMEM;
  tide_rowset_iter_t it;
  uint64_t a, b;
  tide_rowset_iter_init(&it, rs);
  uint64_t mask = (UINT64_C(1) << K) - 1;
  tide_status st = TIDE_OK;
  while (st == TIDE_OK && tide_rowset_iter_next_range(&it, &a, &b))
    st = tide_rowset_insert_range(ranges, a << K, (b << K) | mask);
  if (st == TIDE_OK) st = tide_rowset_intersect_inplace(ranges, all);
  if (st == TIDE_OK) {
    tide_rowset_iter_init(&it, ranges);
    while (st == TIDE_OK && tide_rowset_iter_next_range(&it, &a, &b))
      for (uint64_t k = a; st == TIDE_OK && k <= b; k++) st = tide__u64_push(out, n, cap, k);
  }
  tide_rowset_free(ranges);
  return st;
}

/* Largest key a left row may have under K. */
static inline bool key_fits(uint64_t k, unsigned K) { return K < 63 && k < (UINT64_C(1) << (62 - K)); }

/* Full replacement under a new K (see the header). */
static tide_status rekey_all(cross_state *s, tide_gnode_t *n, tide_error *err) {
  tide_table_t *res = n->table;
  if (res->kind != TIDE_KIND_STANDARD)
    return tide_error_set(err, TIDE_ERR_UNSUPPORTED,
                          "join: the result's row keys overflow (a left row key or a group's "
                          "match count grew too large) and a %s result cannot be re-keyed",
                          res->kind == TIDE_KIND_BLINK ? "blink" : "append-only or add-only");
  uint64_t mx = 1;
  for (size_t g = 0; g < tide__ikeys_ngroups(&s->ik); g++)
    if (s->groups[g].side[1].n > mx) mx = s->groups[g].side[1].n;
  unsigned K = bits_for(mx) + 1;
  uint64_t lmax = tide_rowset_is_empty(s->tab[0]->rowset) ? 0 : tide_rowset_last(s->tab[0]->rowset);
  if (!key_fits(lmax, K))
    return tide_error_set(err, TIDE_ERR_RANGE,
                          "join: left row key %llu with up to %llu matches does not fit a 64-bit "
                          "result row key",
                          (unsigned long long)lmax, (unsigned long long)mx);
  s->ki->Kprev = s->ki->K;
  s->ki->K = K;
  s->ki->rekey_step = atomic_load(s->ki->step);
  s->ki->rekeyed = true;
  s->n_add = s->mb.n = 0;
  for (size_t g = 0; g < tide__ikeys_ngroups(&s->ik); g++) {
    const tide__tkvec_t *L = &s->groups[g].side[0];
    for (uint64_t i = 0; i < L->n; i++) TIDE_TRY(add_block(s, L->a[i].k, (uint32_t)g));
  }
  TIDE_TRY(tide__mapbatch_flush(&s->mb, s->rmap));
  tide_update_t u = {0};
  u.removed = tide_rowset_retain(res->rowset);
  u.added = tide_rowset_from_keys(s->rk_add, s->n_add);
  if (!u.added) {
    tide__update_clear(&u);
    return TIDE_ERR_NOMEM;
  }
  tide_rowset_t *nrs = tide_rowset_retain(u.added);
  return tide__gnode_publish(n, &u, nrs, err);
}

static tide_status cross_notify(tide_gnode_t *n, tide_error *err) {
  cross_state *s = n->state;
  const char *op = s->op;
  tide_table_t *res = n->table;
  const tide_update_t *lu = s->par[0] >= 0 ? tide__gnode_parent_update(n, (size_t)s->par[0]) : NULL;
  const tide_update_t *ru = s->par[1] >= 0 ? tide__gnode_parent_update(n, (size_t)s->par[1]) : NULL;
  if (!lu && !ru) return TIDE_OK;
  tide_status st = TIDE_OK;
  tide_update_t u = {0};
  tide_rowset_t *lkept = NULL, *mold = NULL, *lrekey = NULL, *lsh = NULL, *newrs = NULL,
                *kept_res = NULL, *lmodonly = NULL;
  bool need_rekey = false;
  unsigned K = s->ki->K;
  uint64_t mask = (UINT64_C(1) << K) - 1;
  s->n_rm = s->n_add = s->n_mod = 0;
  s->mb.n = 0;
  s->rem.n = s->ins.n = s->vmod.n = 0;
  bool lrk = lu && tide__update_hits(lu, s->kbits[0], tide_table_ncols(s->tab[0]));
  bool rrk = ru && tide__update_hits(ru, s->kbits[1], tide_table_ncols(s->tab[1]));
  bool rjoinmod = ru && tide__update_hits(ru, s->joinbits, tide_table_ncols(s->tab[1]));
  const tide_rowset_t *prev_res = tide_table_prev_rowset(res);

  /* ---- left phase A: removed and re-keyed rows leave their runs and blocks */
  if (lu) {
    const tide_rowset_t *lprev = tide_table_prev_rowset(s->tab[0]);
    bool has_rm = lu->removed && !tide_rowset_is_empty(lu->removed);
    if (lu->nshifts || lrk) {
      lkept = has_rm ? tide_rowset_minus(lprev, lu->removed) : tide_rowset_retain((tide_rowset_t *)lprev);
      if (!lkept) goto oom;
    }
    if ((st = collect(s, 0, lu->removed, true, &s->rem, NULL, 0, NULL)) != TIDE_OK) goto fail_st;
    if ((st = block_rows(s, lu->removed, prev_res, K, &s->rk_rm, &s->n_rm, &s->c_rm)) != TIDE_OK)
      goto fail_st;
    if (lrk) {
      mold = lu->nshifts ? tide__unshift_keys(lu->modified, lkept, lu->shifts, lu->nshifts)
                         : tide_rowset_retain(lu->modified);
      if (!mold) goto oom;
      lrekey = tide_rowset_retain(lu->modified);
      if ((st = collect(s, 0, mold, true, &s->rem, NULL, 0, NULL)) != TIDE_OK) goto fail_st;
      if ((st = block_rows(s, mold, prev_res, K, &s->rk_rm, &s->n_rm, &s->c_rm)) != TIDE_OK)
        goto fail_st;
    }
    if ((st = apply(s, 0)) != TIDE_OK) goto fail_st;
  }

  /* ---- right changes, then the blocks of the kept left rows of touched groups */
  if (ru) {
    const tide_rowset_t *rprev = tide_table_prev_rowset(s->tab[1]);
    bool has_rm = ru->removed && !tide_rowset_is_empty(ru->removed);
    tide_rowset_t *rkept = NULL, *rmold = NULL, *rsh = NULL;
    if (ru->nshifts || rrk) {
      rkept = has_rm ? tide_rowset_minus(rprev, ru->removed) : tide_rowset_retain((tide_rowset_t *)rprev);
      if (!rkept) goto oom;
    }
    st = collect(s, 1, ru->removed, true, &s->rem, NULL, 0, NULL);
    if (st == TIDE_OK && rrk) {
      rmold = ru->nshifts ? tide__unshift_keys(ru->modified, rkept, ru->shifts, ru->nshifts)
                          : tide_rowset_retain(ru->modified);
      st = rmold ? collect(s, 1, rmold, true, &s->rem, NULL, 0, NULL) : TIDE_ERR_NOMEM;
      if (st == TIDE_OK) st = collect(s, 1, ru->modified, false, &s->ins, NULL, 0, NULL);
    }
    if (st == TIDE_OK && ru->nshifts) {
      rsh = tide_rowset_create();
      st = rsh ? TIDE_OK : TIDE_ERR_NOMEM;
      for (size_t i = 0; st == TIDE_OK && i < ru->nshifts; i++)
        st = tide_rowset_insert_range(rsh, ru->shifts[i].first, ru->shifts[i].last);
      if (st == TIDE_OK) st = tide_rowset_intersect_inplace(rsh, rkept);
      if (st == TIDE_OK && rmold) st = tide_rowset_minus_inplace(rsh, rmold);
      if (st == TIDE_OK) st = collect(s, 1, rsh, true, &s->rem, ru->shifts, ru->nshifts, &s->ins);
    }
    if (st == TIDE_OK) st = collect(s, 1, ru->added, false, &s->ins, NULL, 0, NULL);
    if (st == TIDE_OK && rjoinmod) st = collect(s, 1, ru->modified, false, &s->vmod, NULL, 0, NULL);
    tide_rowset_free(rkept);
    tide_rowset_free(rmold);
    tide_rowset_free(rsh);
    if (st != TIDE_OK) goto fail_st;
    if ((st = tide__gtk_sort(&s->rem, &s->tmp)) != TIDE_OK) goto fail_st;
    if ((st = tide__gtk_sort(&s->ins, &s->tmp)) != TIDE_OK) goto fail_st;
    if ((st = tide__gtk_sort(&s->vmod, &s->tmp)) != TIDE_OK) goto fail_st;
    const tide__gtkvec_t *rem = &s->rem, *ins = &s->ins, *vm = &s->vmod;
    size_t i = 0, j = 0, v = 0;
    while (i < rem->n || j < ins->n || v < vm->n) {
      uint32_t g = i < rem->n ? rem->a[i].g : UINT32_MAX;
      if (j < ins->n && ins->a[j].g < g) g = ins->a[j].g;
      if (v < vm->n && vm->a[v].g < g) g = vm->a[v].g;
      size_t i2 = i, j2 = j, v2 = v;
      while (i2 < rem->n && rem->a[i2].g == g) i2++;
      while (j2 < ins->n && ins->a[j2].g == g) j2++;
      while (v2 < vm->n && vm->a[v2].g == g) v2++;
      tide__tkvec_t *R = &s->groups[g].side[1];
      const tide__tkvec_t *L = &s->groups[g].side[0];
      uint64_t nold = R->n;
      /* first changed position and the old tail from there */
      uint64_t p0 = nold;
      if (i2 > i) p0 = TIDE_MIN(p0, run_lower(R, rem->a[i].k));
      if (j2 > j) p0 = TIDE_MIN(p0, run_lower(R, ins->a[j].k));
      uint64_t tn = nold - p0;
      if (s->oldtail.cap < tn) {
        tide__tk_t *a = tide_realloc(s->oldtail.a, tn * sizeof *a);
        if (!a) goto oom;
        s->oldtail.a = a;
        s->oldtail.cap = tn;
      }
      if (tn) memcpy(s->oldtail.a, R->a + p0, tn * sizeof *R->a);
      st = tide__tk_apply(R, rem->a + i, i2 - i, ins->a + j, j2 - j, &s->tktmp);
      if (st != TIDE_OK) goto fail_st;
      uint64_t nnew = R->n;
      if (L->n && nnew > (UINT64_C(1) << K)) need_rekey = true;
      if (L->n && !need_rekey) {
        /* changed positions of this group: tail positions whose row
         * changed, and positions of rows with modified joined columns */
        uint64_t *chg = NULL, *rew = NULL;
        size_t nchg = 0, cchg = 0, nrew = 0, crew = 0;
        uint64_t lim = TIDE_MIN(nold, nnew);
        for (uint64_t p = p0; p < lim && st == TIDE_OK; p++) {
          uint64_t o = s->oldtail.a[p - p0].k;
          if (right_forward(ru, o) != R->a[p].k)
            st = tide__u64_push(&chg, &nchg, &cchg, p);
          else if (o != R->a[p].k) /* the same row under a new key */
            st = tide__u64_push(&rew, &nrew, &crew, p);
        }
        for (size_t q = v; q < v2 && st == TIDE_OK; q++) {
          uint64_t p = run_lower(R, vm->a[q].k);
          if (p < lim && R->a[p].k == vm->a[q].k) st = tide__u64_push(&chg, &nchg, &cchg, p);
        }
        for (uint64_t x = 0; x < L->n && st == TIDE_OK; x++) {
          uint64_t kold = L->a[x].k;
          uint64_t knew = lu ? shift_fwd(lu->shifts, lu->nshifts, kold) : kold;
          for (size_t c = 0; c < nchg && st == TIDE_OK; c++) {
            st = tide__u64_push(&s->rk_mod, &s->n_mod, &s->c_mod, (knew << K) | chg[c]);
            if (st == TIDE_OK) st = tide__mapbatch_add(&s->mb, (knew << K) | chg[c], R->a[chg[c]].k);
          }
          for (size_t c = 0; c < nrew && st == TIDE_OK; c++)
            st = tide__mapbatch_add(&s->mb, (knew << K) | rew[c], R->a[rew[c]].k);
          for (uint64_t p = nnew; p < nold && st == TIDE_OK; p++)
            st = tide__u64_push(&s->rk_rm, &s->n_rm, &s->c_rm, (kold << K) | p);
          for (uint64_t p = nold; p < nnew && st == TIDE_OK; p++) {
            st = tide__u64_push(&s->rk_add, &s->n_add, &s->c_add, (knew << K) | p);
            if (st == TIDE_OK) st = tide__mapbatch_add(&s->mb, (knew << K) | p, R->a[p].k);
          }
        }
        tide_free(chg);
        tide_free(rew);
        if (st != TIDE_OK) goto fail_st;
      }
      i = i2;
      j = j2;
      v = v2;
    }
    s->rem.n = s->ins.n = 0;
  }

  /* ---- left phase B: shifted rows move, added and re-keyed rows join */
  if (lu && !need_rekey) {
    if (lu->nshifts) {
      lsh = tide_rowset_create();
      if (!lsh) goto oom;
      for (size_t i = 0; i < lu->nshifts; i++)
        if (tide_rowset_insert_range(lsh, lu->shifts[i].first, lu->shifts[i].last) != TIDE_OK) goto oom;
      if (tide_rowset_intersect_inplace(lsh, lkept) != TIDE_OK) goto oom;
      if (mold && tide_rowset_minus_inplace(lsh, mold) != TIDE_OK) goto oom;
      if ((st = collect(s, 0, lsh, true, &s->rem, lu->shifts, lu->nshifts, &s->ins)) != TIDE_OK)
        goto fail_st;
    }
    size_t first_new = s->ins.n;
    if ((st = collect(s, 0, lu->added, false, &s->ins, NULL, 0, NULL)) != TIDE_OK) goto fail_st;
    if ((st = collect(s, 0, lrekey, false, &s->ins, NULL, 0, NULL)) != TIDE_OK) goto fail_st;
    /* new blocks (the groups' right runs are final) */
    for (size_t x = first_new; x < s->ins.n; x++) {
      const tide__gtk_t *e = &s->ins.a[x];
      if (!key_fits(e->k, K) || s->groups[e->g].side[1].n > (UINT64_C(1) << K)) {
        need_rekey = true;
        break;
      }
      if ((st = add_block(s, e->k, e->g)) != TIDE_OK) goto fail_st;
    }
    for (size_t x = 0; x < first_new && !need_rekey; x++)
      if (!key_fits(s->ins.a[x].k, K)) need_rekey = true;
    if ((st = apply(s, 0)) != TIDE_OK) goto fail_st;
  } else if (lu) {
    /* re-keying: bring the left runs up to date all the same */
    if (lu->nshifts) {
      lsh = tide_rowset_create();
      if (!lsh) goto oom;
      for (size_t i = 0; i < lu->nshifts; i++)
        if (tide_rowset_insert_range(lsh, lu->shifts[i].first, lu->shifts[i].last) != TIDE_OK) goto oom;
      if (tide_rowset_intersect_inplace(lsh, lkept) != TIDE_OK) goto oom;
      if (mold && tide_rowset_minus_inplace(lsh, mold) != TIDE_OK) goto oom;
      if ((st = collect(s, 0, lsh, true, &s->rem, lu->shifts, lu->nshifts, &s->ins)) != TIDE_OK)
        goto fail_st;
    }
    if ((st = collect(s, 0, lu->added, false, &s->ins, NULL, 0, NULL)) != TIDE_OK) goto fail_st;
    if ((st = collect(s, 0, lrekey, false, &s->ins, NULL, 0, NULL)) != TIDE_OK) goto fail_st;
    if ((st = apply(s, 0)) != TIDE_OK) goto fail_st;
  }
  if (need_rekey) {
    st = rekey_all(s, n, err);
    goto done;
  }

  /* ---- the update */
  u.removed = tide_rowset_from_keys(s->rk_rm, s->n_rm);
  u.added = tide_rowset_from_keys(s->rk_add, s->n_add);
  if (!u.removed || !u.added) goto oom;
  if (lu && lu->nshifts) {
    u.shifts = tide_malloc(lu->nshifts * sizeof *u.shifts);
    if (!u.shifts) goto oom;
    for (size_t i = 0; i < lu->nshifts; i++) {
      u.shifts[i].first = lu->shifts[i].first << K;
      u.shifts[i].last = (lu->shifts[i].last << K) | mask;
      u.shifts[i].delta = (int64_t)((uint64_t)lu->shifts[i].delta << K);
    }
    u.nshifts = lu->nshifts;
    kept_res = tide_rowset_minus(prev_res, u.removed);
    if (!kept_res) goto oom;
    st = tide__source_paged_shift(s->rmap, u.shifts, u.nshifts, kept_res);
    if (st == TIDE_ERR_NOMEM) goto oom;
    if (st != TIDE_OK) {
      st = tide_error_set(err, TIDE_ERR_STATE, "%s: the left table's update has invalid shifts", op);
      goto done;
    }
  }
  if ((st = tide__mapbatch_flush(&s->mb, s->rmap)) != TIDE_OK) goto fail_st;
  newrs = tide_rowset_minus(res->rowset, u.removed);
  if (!newrs) goto oom;
  if (u.nshifts && tide_rowset_shift(newrs, u.shifts, u.nshifts) != TIDE_OK) goto oom;
  if (tide_rowset_union_inplace(newrs, u.added) != TIDE_OK) goto oom;
  /* modified: right-driven positions, and the blocks of left rows modified
   * in other columns */
  size_t nres = s->nl + s->spec.nadd, nwords = (nres + 63) / 64;
  bool rmodrows = s->n_mod > 0;
  bool lmod = lu && lu->modified && !tide_rowset_is_empty(lu->modified);
  if (lmod) {
    lmodonly = lrekey ? tide_rowset_minus(lu->modified, lrekey) : tide_rowset_retain(lu->modified);
    if (!lmodonly) goto oom;
    size_t before = s->n_mod;
    if ((st = block_rows(s, lmodonly, newrs, K, &s->rk_mod, &s->n_mod, &s->c_mod)) != TIDE_OK)
      goto fail_st;
    lmod = s->n_mod > before;
  }
  if (s->n_mod) {
    u.modified = tide_rowset_from_keys(s->rk_mod, s->n_mod);
    if (!u.modified || tide_rowset_minus_inplace(u.modified, u.added) != TIDE_OK) goto oom;
    u.modified_cols = tide_calloc(nwords ? nwords : 1, sizeof *u.modified_cols);
    if (!u.modified_cols) goto oom;
    u.ncols = nres;
    if (lmod && lu->modified_cols)
      for (size_t c = 0; c < s->nl && c < lu->ncols; c++)
        if (lu->modified_cols[c / 64] >> (c % 64) & 1) u.modified_cols[c / 64] |= 1ull << (c % 64);
    if (rmodrows)
      for (size_t c = s->nl; c < nres; c++) u.modified_cols[c / 64] |= 1ull << (c % 64);
  }
  st = tide__gnode_publish(n, &u, newrs, err);
  newrs = NULL;
  goto done;
fail_st:
  if (st == TIDE_ERR_NOMEM) goto oom;
  st = tide_error_set(err, st, "%s: internal error updating the join state", op);
  goto done;
oom:
  st = tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
done:
  tide__update_clear(&u);
  tide_rowset_free(lkept);
  tide_rowset_free(mold);
  tide_rowset_free(lrekey);
  tide_rowset_free(lsh);
  tide_rowset_free(newrs);
  tide_rowset_free(kept_res);
  tide_rowset_free(lmodonly);
  return st;
}

static void cross_destroy(tide_gnode_t *n) { cross_state_free(n->state); }
static const tide_gnode_vt cross_vt = {"join", NULL, cross_notify, cross_destroy};

static void set_bit(uint64_t *b, int c) { b[c / 64] |= 1ull << (c % 64); }

static tide_table_t *cross_build(tide_table_t *left, tide_table_t *right, const char *const *on,
                                 size_t non, const char *const *joins, size_t njoins,
                                 tide_error *err) {
  const char *op = "join";
  tide_graph_t *g = tide_table_graph(left->node ? left : right);
  if (left->node && right->node && tide_table_graph(left) != tide_table_graph(right)) {
    tide_error_set(err, TIDE_ERR_INVALID, "%s: the left and right tables tick in different update graphs", op);
    return NULL;
  }
  cross_state *s = tide_calloc(1, sizeof *s);
  tide_table_t *res = NULL;
  tide_rowset_t *rs = NULL;
  const char **names = NULL;
  tide_source_t **srcs = NULL;
  size_t ncols = 0;
  if (!s) goto oom;
  s->op = op;
  s->tab[0] = tide_table_retain(left);
  s->tab[1] = tide_table_retain(right);
  if (tide__jspec_parse(&s->spec, op, false, false, left, right, on, non, joins, njoins, err) != TIDE_OK)
    goto fail;
  if (tide__ikeys_init(&s->ik, op, left, right, s->spec.ln, s->spec.rn, s->spec.nk, err) != TIDE_OK)
    goto fail;
  if (tide__jscratch_init(&s->sc, s->spec.nk, err) != TIDE_OK) goto fail;
  s->ids = tide_malloc(TIDE_CHUNK_SIZE * sizeof *s->ids);
  s->ki = tide_calloc(1, sizeof *s->ki);
  if (!s->ids || !s->ki) goto oom;
  atomic_init(&s->ki->refcount, 1);
  s->ki->step = tide__graph_step_ptr(g);
  s->nl = tide_table_ncols(left);
  for (int side = 0; side < 2; side++) {
    size_t nw = (tide_table_ncols(s->tab[side]) + 63) / 64;
    s->kbits[side] = tide_calloc(nw ? nw : 1, sizeof(uint64_t));
    if (!s->kbits[side]) goto oom;
    for (size_t k = 0; k < s->spec.nk; k++)
      set_bit(s->kbits[side], side ? s->ik.jk.rcol[k] : s->ik.jk.lcol[k]);
  }
  {
    size_t nw = (tide_table_ncols(right) + 63) / 64;
    s->joinbits = tide_calloc(nw ? nw : 1, sizeof(uint64_t));
    if (!s->joinbits) goto oom;
    for (size_t i = 0; i < s->spec.nadd; i++) set_bit(s->joinbits, s->spec.addcols[i]);
  }
  if (grow_groups(s) != TIDE_OK) goto oom;
  s->rmap = tide__source_paged_create(TIDE_I64, NULL, err);
  if (!s->rmap) goto fail;
  if (tide__source_track_prev(s->rmap, tide__graph_step_ptr(g)) != TIDE_OK) goto oom;
  /* initial runs */
  if (collect(s, 1, right->rowset, false, &s->ins, NULL, 0, NULL) != TIDE_OK || apply(s, 1) != TIDE_OK)
    goto oom;
  if (collect(s, 0, left->rowset, false, &s->ins, NULL, 0, NULL) != TIDE_OK || apply(s, 0) != TIDE_OK)
    goto oom;
  {
    uint64_t mx = 1;
    for (size_t gi = 0; gi < tide__ikeys_ngroups(&s->ik); gi++)
      if (s->groups[gi].side[1].n > mx) mx = s->groups[gi].side[1].n;
    s->ki->K = s->ki->Kprev = bits_for(mx) + 1;
    uint64_t lmax = tide_rowset_is_empty(left->rowset) ? 0 : tide_rowset_last(left->rowset);
    if (!key_fits(lmax, s->ki->K)) {
      tide_error_set(err, TIDE_ERR_RANGE,
                     "%s: left row key %llu with up to %llu matches does not fit a 64-bit result "
                     "row key",
                     op, (unsigned long long)lmax, (unsigned long long)mx);
      goto fail;
    }
  }
  /* initial blocks, in left order */
  {
    tide_rowset_iter_t it;
    tide_rowseq_t seq;
    tide_rowset_iter_init(&it, left->rowset);
    while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, s->sc.keybuf)) {
      if (tide__ikeys_ids(&s->ik, 0, &seq, false, &s->sc, s->ids) != TIDE_OK) goto oom;
      for (uint32_t i = 0; i < seq.n; i++)
        if (add_block(s, seq.keys ? seq.keys[i] : seq.first + i, s->ids[i]) != TIDE_OK) goto oom;
    }
  }
  if (tide__mapbatch_flush(&s->mb, s->rmap) != TIDE_OK) goto oom;
  rs = tide_rowset_from_keys(s->rk_add, s->n_add);
  if (!rs) goto oom;
  s->n_add = 0;
  ncols = s->nl + s->spec.nadd;
  names = tide_calloc(ncols ? ncols : 1, sizeof *names);
  srcs = tide_calloc(ncols ? ncols : 1, sizeof *srcs);
  if (!names || !srcs) goto oom;
  for (size_t c = 0; c < s->nl; c++) {
    names[c] = tide_table_col_name(left, c);
    srcs[c] = block_create(tide_table_col_source(left, c), s->ki);
    if (!srcs[c]) goto oom;
  }
  for (size_t i = 0; i < s->spec.nadd; i++) {
    names[s->nl + i] = s->spec.addnames + i * TIDE_JSPEC_NAME_CAP;
    srcs[s->nl + i] = tide__source_tredir_create(
        tide_table_col_source(right, (size_t)s->spec.addcols[i]), s->rmap, err);
    if (!srcs[s->nl + i]) goto fail;
  }
  res = tide_table_create(rs, ncols, names, srcs, err);
  if (!res) goto fail;
  {
    tide_table_t *parents[2];
    size_t np = 0;
    s->par[0] = s->par[1] = -1;
    if (left->node) {
      s->par[0] = (int)np;
      parents[np++] = left;
    }
    if (right->node) {
      s->par[1] = (int)np;
      parents[np++] = right;
    }
    tide_table_kind_t kind = TIDE_KIND_STANDARD;
    if (!right->node) kind = left->kind;
    if (kind == TIDE_KIND_RING || kind == TIDE_KIND_STATIC) kind = TIDE_KIND_STANDARD;
    if (!tide__gnode_create(g, res, kind, &cross_vt, parents, np, s, err)) goto fail;
  }
  s = NULL;
  goto done;
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
fail:
  tide_table_free(res);
  res = NULL;
done:
  cross_state_free(s);
  tide_rowset_free(rs);
  if (srcs)
    for (size_t c = 0; c < ncols; c++) tide_source_release(srcs[c]);
  tide_free(srcs);
  tide_free(names);
  return res;
}

tide_table_t *tide__join_incr(tide_table_t *left, tide_table_t *right, const char *const *on,
                              size_t non, const char *const *joins, size_t njoins,
                              tide_error *err) {
  if (!left || !right) {
    tide_error_set(err, TIDE_ERR_INVALID, "join: NULL table");
    return NULL;
  }
  tide_graph_t *lk = tide__graph_snapshot_lock(left->node ? left : right);
  tide_table_t *r = cross_build(left, right, on, non, joins, njoins, err);
  tide__graph_snapshot_unlock(lk);
  return r;
}
