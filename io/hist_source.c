/*
 * Lazy historical tables (io/io_int.h tide__hist_table; docs/STORAGE.md,
 * "Historical store"): the concatenation of a table's selected partitions
 * without reading them. Partition p owns keys [off[p], off[p + 1]).
 *
 * - Date: a SYMBOL source holding one code per partition (run-length);
 *   it never opens a file, so a `where` on Date costs a pass over codes
 *   and its RowSet then leads every later read to the selected partitions
 *   only.
 * - Every stored column: a source with one slot per partition. A slot's
 *   column file is opened (header and block index verified, table.tdef's
 *   type and row count checked) on the first fill/direct that touches the
 *   partition; each 65,536-row block is then verified (checksum) and, if
 *   compressed or if its symbol codes need translating, decoded on the
 *   first touch of that block, exactly once even when several workers
 *   touch it together (a per-block state: the first worker to claim it
 *   loads it, the others wait for it). Decoded blocks are written by the
 *   worker that touched them into memory nobody touched before (allocated
 *   per partition, pages first touched by the decode; with a team pinned
 *   across several nodes the block is also mbind-preferred on that
 *   worker's node), so a partition's memory lives where it is scanned.
 *   Uncompressed blocks are served from the mapping (no copy): the page
 *   cache decides their node. STRING columns are decoded per partition
 *   (the string arena is not thread-safe) by the first toucher.
 * - SYMBOL columns need their dictionary before any read (operations size
 *   direct maps by it), so their files are opened when the table is
 *   created: the dictionaries are verified and merged (partition order),
 *   each partition's codes translated on load unless they already agree.
 * - A file found missing, damaged, or truncated since it was opened at a
 *   lazy load: the rows read as nulls and the error (naming the file and
 *   the block) is raised as a deferred read error (core/core_int.h), which
 *   the operation that read it reports when it creates its result. The
 *   slot or block stays failed: every later read raises it again.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <numaif.h>
#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io_int.h"
#include "tide/historical.h"

static _Atomic uint64_t g_opens = 0, g_blocks = 0;

uint64_t tide__hist_open_count(void) { return atomic_load(&g_opens); }
uint64_t tide__hist_block_count(void) { return atomic_load(&g_blocks); }

tide_colfile_t *tide__hist_open(const char *path, tide_error *err) {
  atomic_fetch_add(&g_opens, 1);
  return tide_colfile_open(path, err);
}

enum { P_CLOSED = 0, P_OPEN = 1, P_FAILED = 2 };
enum { B_TODO = 0, B_LOADING = 1, B_READY = 2, B_BAD = 3 };

/* One partition's file of one column. */
typedef struct hpart {
  pthread_mutex_t open_mu; /* the first touch (open, allocation) */
  pthread_mutex_t msg_mu;  /* the failure message */
  _Atomic int state;       /* P_* */
  uint64_t rows;
  char *path;
  char date[11];
  tide_colfile_t *f;
  bool have_id;            /* dev/ino/size of the opened file were read */
  dev_t dev;
  ino_t ino;
  const uint8_t *base;     /* values of partition row 0 (mapping or buf) */
  uint8_t *buf;            /* decoded values (owned), NULL when mapped */
  uint64_t brows;          /* rows per block (all rows for STRING) */
  uint64_t nblocks;
  _Atomic uint8_t *bst;    /* B_* per block */
  int16_t *bnode;          /* NUMA node of the CPU that loaded each block (-1: unknown) */
  int32_t *map1;           /* SYMBOL: file code + 1 -> column code (map1[0] = -1) */
  uint32_t nsym;           /* SYMBOL: dictionary size of the file */
  bool translate;          /* SYMBOL: codes differ from the column's */
  tide_source_t *str;      /* STRING: the decoded partition */
  bool failed_msg;         /* msg holds the first failure */
  tide_status fst;
  char msg[TIDE_ERROR_MSG_MAX];
} hpart;

typedef struct hsrc {
  tide_source_t base;
  size_t np;
  uint64_t *off;           /* np + 1 */
  hpart *parts;
  size_t width;
  char label[256];
} hsrc;

typedef struct dsrc {
  tide_source_t base;
  size_t np;
  uint64_t *off;
  int32_t *code;           /* per partition */
} dsrc;

/* Largest p < np with off[p] <= k (k < off[np]): the non-empty partition
 * owning k. */
static inline size_t find_part(const uint64_t *off, size_t np, uint64_t k) {
  size_t lo = 0, hi = np;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (off[mid] <= k)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

static void fill_nulls(tide_type_t type, void *dst, uint64_t n) {
  size_t w = tide_type_width(type);
  unsigned char nv[8];
  tide_type_null(type, nv);
  unsigned char *d = dst;
  for (uint64_t i = 0; i < n; i++) memcpy(d + i * w, nv, w);
}

/* Record a failure of slot pc (the first one is kept). */
static void part_fail(const hsrc *s, hpart *pc, tide_status st, const char *what) {
  pthread_mutex_lock(&pc->msg_mu);
  if (!pc->failed_msg) {
    pc->fst = st == TIDE_OK ? TIDE_ERR_IO : st;
    snprintf(pc->msg, sizeof pc->msg, "%s (%s): %s", s->label, pc->date, what);
    pc->failed_msg = true;
  }
  pthread_mutex_unlock(&pc->msg_mu);
}

/* Raise slot pc's failure as the pending read error. */
static void part_raise(hpart *pc) {
  char msg[TIDE_ERROR_MSG_MAX];
  pthread_mutex_lock(&pc->msg_mu);
  tide_status st = pc->failed_msg ? pc->fst : TIDE_ERR_IO;
  snprintf(msg, sizeof msg, "%s", pc->failed_msg ? pc->msg : "historical column: read failed");
  pthread_mutex_unlock(&pc->msg_mu);
  tide__read_error_raise(st, msg);
}

/* NUMA: prefer the pages wholly inside [p, p + len) on the calling
 * worker's node when the team is pinned across several nodes (first touch
 * puts fresh pages there anyway; this also moves reused heap pages). */
static void place_here(void *p, size_t len) {
  int team = tide_get_threads();
  if (team < 2 || team > 1024) return;
  int nodes[1024];
  tide__pool_worker_nodes(nodes, team);
  bool multi = false;
  for (int w = 1; w < team; w++) multi |= nodes[w] != nodes[0];
  int me = omp_get_thread_num();
  if (!multi || me < 0 || me >= team || nodes[me] < 0 || nodes[me] >= 1024) return;
  uintptr_t lo = ((uintptr_t)p + 4095) & ~(uintptr_t)4095;
  uintptr_t hi = ((uintptr_t)p + len) & ~(uintptr_t)4095;
  if (hi <= lo) return;
  unsigned long mask[1024 / (8 * sizeof(unsigned long))] = {0};
  unsigned node = (unsigned)nodes[me];
  mask[node / (8 * sizeof(unsigned long))] |= 1UL << (node % (8 * sizeof(unsigned long)));
  (void)mbind((void *)lo, hi - lo, MPOL_PREFERRED, mask, 1024, MPOL_MF_MOVE);
}

/* Open slot pc's file if it is not open yet and check it against
 * table.tdef's type and row count. */
static tide_status open_file(const hsrc *s, hpart *pc, tide_error *e) {
  if (pc->f) return TIDE_OK;
  tide_colfile_t *f = tide__hist_open(pc->path, e);
  if (!f) return e->status;
  if (tide_colfile_type(f) != s->base.type || tide_colfile_rows(f) != pc->rows) {
    tide_error_set(e, TIDE_ERR_CORRUPT, "%s: holds %llu %s values; table.tdef says %llu %s values",
                   pc->path, (unsigned long long)tide_colfile_rows(f),
                   tide_type_name(tide_colfile_type(f)), (unsigned long long)pc->rows,
                   tide_type_name(s->base.type));
    tide_colfile_close(f);
    return TIDE_ERR_CORRUPT;
  }
  struct stat sb;
  if (stat(pc->path, &sb) == 0 && (size_t)sb.st_size == tide__colfile_size(f)) {
    pc->have_id = true;
    pc->dev = sb.st_dev;
    pc->ino = sb.st_ino;
  }
  pc->f = f;
  return TIDE_OK;
}

/* The first touch of slot pc (caller holds open_mu): open the file,
 * allocate the decode buffer, or (STRING) decode the whole partition. */
static void part_open_locked(const hsrc *s, hpart *pc) {
  tide_error e;
  tide_error_clear(&e);
  tide_status st = open_file(s, pc, &e);
  if (st != TIDE_OK) goto fail;
  if (s->base.type == TIDE_STRING) {
    pc->str = tide_colfile_source(pc->f, &e);
    if (!pc->str) {
      st = e.status;
      goto fail;
    }
    atomic_fetch_add(&g_blocks, tide_colfile_nblocks(pc->f));
    pc->base = tide_source_flat_data(pc->str);
    pc->brows = pc->rows ? pc->rows : 1;
    pc->nblocks = 1;
    pc->bst = tide_calloc(1, sizeof *pc->bst);
    pc->bnode = tide_calloc(1, sizeof *pc->bnode);
    if (!pc->bst || !pc->bnode) goto oom;
    pc->bnode[0] = -1;
    atomic_store(&pc->bst[0], B_READY);
  } else {
    pc->brows = tide__colfile_block_rows(pc->f);
    pc->nblocks = tide_colfile_nblocks(pc->f);
    pc->bst = tide_calloc(pc->nblocks ? pc->nblocks : 1, sizeof *pc->bst);
    pc->bnode = tide_calloc(pc->nblocks ? pc->nblocks : 1, sizeof *pc->bnode);
    if (!pc->bst || !pc->bnode) goto oom;
    if (tide_colfile_codec(pc->f) != TIDE_CODEC_NONE || pc->translate) {
      /* not touched here: each block's pages are first touched by its
       * decode, in the worker that needs it */
      pc->buf = tide_aligned_malloc(4096, pc->rows * s->width + 64);
      if (!pc->buf) goto oom;
      pc->base = pc->buf;
    } else {
      pc->base = tide__colfile_mapped_values(pc->f);
    }
  }
  atomic_store_explicit(&pc->state, P_OPEN, memory_order_release);
  return;
oom:
  st = tide_error_set(&e, TIDE_ERR_NOMEM, "%s: out of memory loading the column", pc->path);
fail:
  part_fail(s, pc, st, e.msg);
  atomic_store_explicit(&pc->state, P_FAILED, memory_order_release);
}

static bool part_ready_slow(const hsrc *s, hpart *pc) {
  pthread_mutex_lock(&pc->open_mu);
  if (atomic_load_explicit(&pc->state, memory_order_acquire) == P_CLOSED) part_open_locked(s, pc);
  pthread_mutex_unlock(&pc->open_mu);
  return atomic_load_explicit(&pc->state, memory_order_acquire) == P_OPEN;
}

static inline bool part_ready(const hsrc *s, hpart *pc) {
  return TIDE_LIKELY(atomic_load_explicit(&pc->state, memory_order_acquire) == P_OPEN) ||
         part_ready_slow(s, pc);
}

/* Verify (and decode, translate) block b of an open slot. */
static bool block_load(const hsrc *s, hpart *pc, uint64_t b) {
  tide_error e;
  tide_error_clear(&e);
  const uint64_t r0 = b * pc->brows, n = TIDE_MIN(pc->brows, pc->rows - r0);
  /* the mapping must still be backed: a file truncated since it was opened
   * would fault (SIGBUS) on the missing pages */
  struct stat sb;
  if (pc->have_id && stat(pc->path, &sb) == 0 && sb.st_dev == pc->dev && sb.st_ino == pc->ino &&
      (size_t)sb.st_size < tide__colfile_size(pc->f)) {
    char what[TIDE_ERROR_MSG_MAX];
    snprintf(what, sizeof what,
             "%s: block %llu (rows %llu..%llu) not read: the file holds %llu bytes, %llu when it "
             "was opened (truncated since)",
             pc->path, (unsigned long long)b, (unsigned long long)r0,
             (unsigned long long)(r0 + n - 1), (unsigned long long)sb.st_size,
             (unsigned long long)tide__colfile_size(pc->f));
    part_fail(s, pc, TIDE_ERR_CORRUPT, what);
    return false;
  }
  uint8_t *dst = pc->buf ? pc->buf + r0 * s->width : NULL;
  if (dst) place_here(dst, n * s->width);
  const void *v = tide__colfile_block(pc->f, b, dst, &e);
  if (!v) {
    part_fail(s, pc, e.status, e.msg);
    return false;
  }
  if (s->base.type == TIDE_SYMBOL) {
    /* codes must index the file's dictionary (a crafted file could pass
     * the checksums); then translate them to the column's codes */
    const int32_t *c = v;
    uint32_t bad = 0;
    for (uint64_t i = 0; i < n; i++) bad |= (uint32_t)((uint64_t)((int64_t)c[i] + 1) > pc->nsym);
    if (bad) {
      char what[TIDE_ERROR_MSG_MAX];
      snprintf(what, sizeof what,
               "%s: block %llu (rows %llu..%llu): a symbol code outside the dictionary (the "
               "file is damaged)",
               pc->path, (unsigned long long)b, (unsigned long long)r0,
               (unsigned long long)(r0 + n - 1));
      part_fail(s, pc, TIDE_ERR_CORRUPT, what);
      return false;
    }
    if (pc->translate) {
      int32_t *d = (int32_t *)dst;
      const int32_t *m1 = pc->map1;
      for (uint64_t i = 0; i < n; i++) d[i] = m1[c[i] + 1];
    }
  }
  unsigned cpu, node;
  pc->bnode[b] = getcpu(&cpu, &node) == 0 ? (int16_t)node : -1;
  return true;
}

static bool block_slow(const hsrc *s, hpart *pc, uint64_t b) {
  for (;;) {
    uint8_t v = atomic_load_explicit(&pc->bst[b], memory_order_acquire);
    if (v == B_READY) return true;
    if (v == B_BAD) return false;
    if (v == B_TODO) {
      uint8_t want = B_TODO;
      if (atomic_compare_exchange_strong(&pc->bst[b], &want, (uint8_t)B_LOADING)) {
        bool ok = block_load(s, pc, b);
        if (ok) atomic_fetch_add(&g_blocks, 1);
        atomic_store_explicit(&pc->bst[b], ok ? B_READY : B_BAD, memory_order_release);
        return ok;
      }
      continue;
    }
    sched_yield(); /* another worker is loading it */
  }
}

static inline bool block_ok(const hsrc *s, hpart *pc, uint64_t b) {
  return TIDE_LIKELY(atomic_load_explicit(&pc->bst[b], memory_order_acquire) == B_READY) ||
         block_slow(s, pc, b);
}

/* Values at partition-local keys (base-relative: keys[i] - lo) of width w. */
static void gather(size_t w, const uint8_t *base, uint64_t lo, const uint64_t *keys, uint32_t n,
                   uint8_t *dst) {
  switch (w) {
#define HGATHER(W, T)                                                     \
  case W: {                                                               \
    const T *restrict b = (const T *)base;                                \
    T *restrict d = (T *)dst;                                             \
    for (uint32_t i = 0; i < n; i++) d[i] = b[keys[i] - lo];              \
    break;                                                                \
  }
    HGATHER(1, uint8_t)
    HGATHER(2, uint16_t)
    HGATHER(4, uint32_t)
    default: HGATHER(8, uint64_t)
#undef HGATHER
  }
}

/* Partition-local rows [l, l + cnt) of slot pc into d. */
static void run_copy(const hsrc *s, hpart *pc, uint64_t l, uint64_t cnt, uint8_t *d) {
  const size_t w = s->width;
  if (!part_ready(s, pc)) {
    part_raise(pc);
    fill_nulls(s->base.type, d, cnt);
    return;
  }
  const uint64_t br = pc->brows;
  while (cnt) {
    uint64_t b = l / br, m = TIDE_MIN(cnt, (b + 1) * br - l);
    if (block_ok(s, pc, b)) {
      memcpy(d, pc->base + l * w, m * w);
    } else {
      part_raise(pc);
      fill_nulls(s->base.type, d, m);
    }
    d += m * w;
    l += m;
    cnt -= m;
  }
}

static void hsrc_fill(const tide_source_t *src, const tide_rowseq_t *seq, void *dst) {
  const hsrc *s = (const hsrc *)src;
  const size_t w = s->width, np = s->np;
  const uint64_t *off = s->off, end = off[np];
  uint8_t *d = dst;
  const uint32_t n = seq->n;
  if (!seq->keys) {
    uint64_t k = seq->first;
    for (uint32_t i = 0; i < n;) {
      if (k >= end) {
        fill_nulls(src->type, d + (size_t)i * w, n - i);
        break;
      }
      size_t p = find_part(off, np, k);
      uint32_t cnt = (uint32_t)TIDE_MIN((uint64_t)(n - i), off[p + 1] - k);
      run_copy(s, &s->parts[p], k - off[p], cnt, d + (size_t)i * w);
      i += cnt;
      k += cnt;
    }
    return;
  }
  const uint64_t *keys = seq->keys;
  for (uint32_t i = 0; i < n;) {
    uint64_t k = keys[i];
    if (k >= end) {
      fill_nulls(src->type, d + (size_t)i * w, 1);
      i++;
      continue;
    }
    size_t p = find_part(off, np, k);
    const uint64_t lo = off[p], hi = off[p + 1];
    hpart *pc = &s->parts[p];
    bool ready = part_ready(s, pc);
    if (!ready) part_raise(pc);
    while (i < n && keys[i] >= lo && keys[i] < hi) {
      uint64_t b = 0, blo = lo, bhi = hi;
      if (ready) {
        b = (keys[i] - lo) / pc->brows;
        blo = lo + b * pc->brows;
        bhi = TIDE_MIN(blo + pc->brows, hi);
      }
      uint32_t j = i;
      while (j < n && keys[j] >= blo && keys[j] < bhi) j++;
      if (ready && block_ok(s, pc, b)) {
        gather(w, pc->base, lo, keys + i, j - i, d + (size_t)i * w);
      } else {
        if (ready) part_raise(pc);
        fill_nulls(src->type, d + (size_t)i * w, j - i);
      }
      i = j;
    }
  }
}

static const void *hsrc_direct(const tide_source_t *src, uint64_t first, uint32_t n) {
  const hsrc *s = (const hsrc *)src;
  if (n == 0 || first >= s->off[s->np]) return NULL;
  size_t p = find_part(s->off, s->np, first);
  if (first + n > s->off[p + 1]) return NULL; /* spans two partitions: fill copies */
  hpart *pc = &s->parts[p];
  if (!part_ready(s, pc)) return NULL;
  uint64_t l = first - s->off[p];
  for (uint64_t b = l / pc->brows; b <= (l + n - 1) / pc->brows; b++)
    if (!block_ok(s, pc, b)) return NULL; /* fill reads nulls and raises */
  return pc->base + l * s->width;
}

static void hsrc_destroy(tide_source_t *src) {
  hsrc *s = (hsrc *)src;
  for (size_t p = 0; s->parts && p < s->np; p++) {
    hpart *pc = &s->parts[p];
    tide_colfile_close(pc->f);
    tide_aligned_free(pc->buf);
    tide_free((void *)pc->bst);
    tide_free(pc->bnode);
    tide_free(pc->map1);
    tide_source_release(pc->str);
    tide_free(pc->path);
    pthread_mutex_destroy(&pc->open_mu);
    pthread_mutex_destroy(&pc->msg_mu);
  }
  tide_free(s->parts);
  tide_free(s->off);
}

static const tide_source_vt hsrc_vt = {"historical", hsrc_fill, hsrc_direct, hsrc_destroy, NULL};

/* ----------------------------------------------------------------- Date */

static void dsrc_fill(const tide_source_t *src, const tide_rowseq_t *seq, void *dst) {
  const dsrc *s = (const dsrc *)src;
  const uint64_t *off = s->off, end = off[s->np];
  int32_t *d = dst;
  const uint32_t n = seq->n;
  if (!seq->keys) {
    uint64_t k = seq->first;
    for (uint32_t i = 0; i < n;) {
      if (k >= end) {
        for (; i < n; i++) d[i] = -1;
        break;
      }
      size_t p = find_part(off, s->np, k);
      uint32_t cnt = (uint32_t)TIDE_MIN((uint64_t)(n - i), off[p + 1] - k);
      const int32_t c = s->code[p];
      for (uint32_t j = 0; j < cnt; j++) d[i + j] = c;
      i += cnt;
      k += cnt;
    }
    return;
  }
  const uint64_t *keys = seq->keys;
  for (uint32_t i = 0; i < n;) {
    if (keys[i] >= end) {
      d[i++] = -1;
      continue;
    }
    size_t p = find_part(off, s->np, keys[i]);
    const uint64_t lo = off[p], hi = off[p + 1];
    const int32_t c = s->code[p];
    for (; i < n && keys[i] >= lo && keys[i] < hi; i++) d[i] = c;
  }
}

static void dsrc_destroy(tide_source_t *src) {
  dsrc *s = (dsrc *)src;
  tide_free(s->off);
  tide_free(s->code);
}

static const tide_source_vt dsrc_vt = {"historical date", dsrc_fill, NULL, dsrc_destroy, NULL};

/* ----------------------------------------------------------------- table */

static uint64_t *copy_off(const uint64_t *off, size_t np) {
  uint64_t *o = tide_malloc((np + 1) * sizeof *o);
  if (o) memcpy(o, off, (np + 1) * sizeof *o);
  return o;
}

static tide_source_t *date_source(const tide__hist_part_in *parts, size_t np, const uint64_t *off,
                                  tide_error *err) {
  dsrc *s = tide_calloc(1, sizeof *s);
  if (!s) goto oom;
  tide__source_init(&s->base, &dsrc_vt, TIDE_SYMBOL);
  s->np = np;
  s->off = copy_off(off, np);
  s->code = tide_calloc(np ? np : 1, sizeof *s->code);
  s->base.symtab = tide_symtab_create();
  if (!s->off || !s->code || !s->base.symtab) goto oom;
  for (size_t p = 0; p < np; p++) {
    s->code[p] = tide_symtab_intern(s->base.symtab, parts[p].date, strlen(parts[p].date));
    if (s->code[p] < 0) goto oom;
  }
  return &s->base;
oom:
  if (s) tide_source_release(&s->base);
  tide_error_set(err, TIDE_ERR_NOMEM, "historical_table: out of memory");
  return NULL;
}

/* Column c's source; SYMBOL: every partition's dictionary read now. */
static tide_source_t *col_source(const char *label, const tide__hist_part_in *parts, size_t np,
                                 const uint64_t *off, size_t c, tide_type_t type,
                                 tide_error *err) {
  hsrc *s = tide_calloc(1, sizeof *s);
  if (!s) {
    tide_error_set(err, TIDE_ERR_NOMEM, "historical_table: out of memory");
    return NULL;
  }
  tide__source_init(&s->base, &hsrc_vt, type);
  snprintf(s->label, sizeof s->label, "%s", label);
  s->width = tide_type_width(type);
  s->off = copy_off(off, np);
  s->parts = tide_calloc(np ? np : 1, sizeof *s->parts);
  if (!s->off || !s->parts) goto oom;
  for (size_t p = 0; p < np; p++) {
    hpart *pc = &s->parts[p];
    pthread_mutex_init(&pc->open_mu, NULL);
    pthread_mutex_init(&pc->msg_mu, NULL);
    s->np = p + 1; /* destroy cleans up to here */
    pc->rows = parts[p].rows;
    snprintf(pc->date, sizeof pc->date, "%s", parts[p].date);
    if (!(pc->path = tide_strdup(parts[p].files[c]))) goto oom;
    if (parts[p].open && parts[p].open[c]) {
      pc->f = parts[p].open[c];
      parts[p].open[c] = NULL;
      struct stat sb;
      if (stat(pc->path, &sb) == 0 && (size_t)sb.st_size == tide__colfile_size(pc->f)) {
        pc->have_id = true;
        pc->dev = sb.st_dev;
        pc->ino = sb.st_ino;
      }
      if (tide_colfile_type(pc->f) != type || tide_colfile_rows(pc->f) != pc->rows) {
        tide_colfile_close(pc->f);
        pc->f = NULL; /* reopened below or on first touch: the mismatch is reported there */
      }
    }
  }
  s->np = np;
  if (type == TIDE_SYMBOL) {
    if (!(s->base.symtab = tide_symtab_create())) goto oom;
    for (size_t p = 0; p < np; p++) {
      hpart *pc = &s->parts[p];
      tide_error e;
      tide_error_clear(&e);
      tide_symtab_t *dict = NULL;
      if (open_file(s, pc, &e) != TIDE_OK || !(dict = tide__colfile_dict(pc->f, &e))) {
        tide_error_set(err, e.status, "%s (%s): %s", label, pc->date, e.msg);
        goto fail;
      }
      pc->nsym = tide_symtab_size(dict);
      pc->map1 = tide_malloc(((size_t)pc->nsym + 1) * sizeof *pc->map1);
      if (!pc->map1) {
        tide_symtab_release(dict);
        goto oom;
      }
      pc->map1[0] = -1;
      for (uint32_t k = 0; k < pc->nsym; k++) {
        int32_t g = tide_symtab_intern(s->base.symtab, tide_symtab_str(dict, (int32_t)k),
                                       tide__symtab_len(dict, (int32_t)k));
        if (g < 0) {
          tide_symtab_release(dict);
          goto oom;
        }
        pc->map1[k + 1] = g;
        pc->translate |= g != (int32_t)k;
      }
      tide_symtab_release(dict);
    }
  }
  return &s->base;
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "historical_table: out of memory");
fail:
  tide_source_release(&s->base);
  return NULL;
}

tide_table_t *tide__hist_table(const char *label, const tide__hist_part_in *parts, size_t np,
                               size_t ncols, const char *const *names, const tide_type_t *types,
                               tide_error *err) {
  tide_table_t *res = NULL;
  uint64_t *off = tide_malloc((np + 1) * sizeof *off);
  tide_source_t **srcs = tide_calloc(ncols + 1, sizeof *srcs);
  const char **nm = tide_calloc(ncols + 1, sizeof *nm);
  tide_rowset_t *rs = NULL;
  size_t made = 0;
  if (!off || !srcs || !nm) {
    tide_error_set(err, TIDE_ERR_NOMEM, "historical_table: out of memory");
    goto done;
  }
  off[0] = 0;
  for (size_t p = 0; p < np; p++) off[p + 1] = off[p] + parts[p].rows;
  nm[0] = TIDE_HISTORICAL_DATE_COL;
  if (!(srcs[0] = date_source(parts, np, off, err))) goto done;
  made = 1;
  for (size_t c = 0; c < ncols; c++, made++) {
    nm[c + 1] = names[c];
    if (!(srcs[c + 1] = col_source(label, parts, np, off, c, types[c], err))) goto done;
  }
  rs = tide_rowset_create();
  if (!rs) goto oom;
  for (size_t p = 0; p < np; p++) {
    if (!parts[p].rows) continue;
    if (!parts[p].keep) {
      if (tide_rowset_insert_range(rs, off[p], off[p + 1] - 1) != TIDE_OK) goto oom;
      continue;
    }
    tide_rowset_iter_t it;
    tide_rowset_iter_init(&it, parts[p].keep);
    uint64_t a, b;
    while (tide_rowset_iter_next_range(&it, &a, &b)) {
      if (b >= parts[p].rows) b = parts[p].rows - 1;
      if (a <= b && tide_rowset_insert_range(rs, off[p] + a, off[p] + b) != TIDE_OK) goto oom;
    }
  }
  res = tide_table_create(rs, ncols + 1, nm, srcs, err);
  goto done;
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "historical_table: out of memory");
done:
  for (size_t i = 0; i < made; i++) tide_source_release(srcs[i]);
  tide_free(srcs);
  tide_free(nm);
  tide_free(off);
  tide_rowset_free(rs);
  return res;
}

/* ------------------------------------------------------ placement probe */

tide_status tide__hist_placement(const tide_table_t *t, size_t col, uint64_t out[4],
                                 tide_error *err) {
  memset(out, 0, 4 * sizeof *out);
  if (col >= tide_table_ncols(t))
    return tide_error_set(err, TIDE_ERR_RANGE, "hist_placement: no column %zu", col);
  const tide_source_t *src = tide_table_col_source(t, col);
  if (src->vt != &hsrc_vt)
    return tide_error_set(err, TIDE_ERR_INVALID, "hist_placement: not a lazy historical column");
  const hsrc *s = (const hsrc *)src;
  for (size_t p = 0; p < s->np; p++) {
    hpart *pc = &s->parts[p];
    if (atomic_load_explicit(&pc->state, memory_order_acquire) != P_OPEN || !pc->buf) continue;
    for (uint64_t b = 0; b < pc->nblocks; b++) {
      if (atomic_load_explicit(&pc->bst[b], memory_order_acquire) != B_READY) continue;
      int want = pc->bnode[b];
      out[want > 0 ? 3 : 2]++;
      uint64_t r0 = b * pc->brows, n = TIDE_MIN(pc->brows, pc->rows - r0);
      uintptr_t lo = ((uintptr_t)(pc->buf + r0 * s->width) + 4095) & ~(uintptr_t)4095;
      uintptr_t hi = ((uintptr_t)(pc->buf + (r0 + n) * s->width)) & ~(uintptr_t)4095;
      for (uintptr_t a = lo; a < hi; a += 4096) {
        int node = -1;
        if (get_mempolicy(&node, NULL, 0, (void *)a, MPOL_F_NODE | MPOL_F_ADDR) != 0) continue;
        out[1]++;
        out[0] += node == want;
      }
    }
  }
  return TIDE_OK;
}
