/*
 * Symbol dictionaries (dense int32 codes <-> strings) and the string arena.
 *
 * Codes are assigned in order of first interning and never change, so a
 * column's codes stay valid while the dictionary grows. Lookup is an
 * open-addressing table of code+1 with the string hash beside it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include "core/core_int.h"

/* ------------------------------------------------------------------ hash */

uint64_t tide__hash_bytes(const void *data, size_t len) {
  /* wyhash-style mixing of 8-byte words; good enough distribution for
   * dictionary and hash-table use, and fast on short keys. */
  const uint8_t *p = data;
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ (len * 0xC2B2AE3D27D4EB4FULL);
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h ^= w * 0x87C37B91114253D5ULL;
    h = (h << 31 | h >> 33) * 0x4CF5AD432745937FULL;
    p += 8;
    len -= 8;
  }
  uint64_t w = 0;
  memcpy(&w, p, len);
  h ^= w * 0x87C37B91114253D5ULL;
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDULL;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ULL;
  h ^= h >> 33;
  return h;
}

/* ----------------------------------------------------------------- arena */

struct tide_arena_block_s {
  tide_arena_block_t *next;
  size_t used, cap;
  char data[];
};

void tide__arena_init(tide_arena_t *a) {
  a->head = NULL;
  a->bytes = 0;
}

void tide__arena_destroy(tide_arena_t *a) {
  tide_arena_block_t *b = a->head;
  while (b) {
    tide_arena_block_t *next = b->next;
    tide_free(b);
    b = next;
  }
  a->head = NULL;
  a->bytes = 0;
}

const char *tide__arena_store(tide_arena_t *a, const char *s, size_t len) {
  tide_arena_block_t *b = a->head;
  if (!b || b->cap - b->used < len + 1) {
    size_t cap = 1u << 16;
    if (a->bytes > cap) cap = a->bytes < (1u << 24) ? a->bytes : (1u << 24);
    if (cap < len + 1) cap = len + 1;
    b = tide_malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->next = a->head;
    b->used = 0;
    b->cap = cap;
    a->head = b;
    a->bytes += cap;
  }
  char *dst = b->data + b->used;
  memcpy(dst, s, len);
  dst[len] = '\0';
  b->used += len + 1;
  return dst;
}

/* ---------------------------------------------------------------- symtab */

struct tide_symtab_s {
  _Atomic uint32_t refcount;
  uint32_t size, cap;
  const char **strs;
  uint32_t *lens;
  uint64_t *hashes;
  uint32_t *slots; /* code + 1; 0 = empty */
  uint32_t nslots; /* power of two */
  tide_arena_t arena;
};

tide_symtab_t *tide_symtab_create(void) {
  tide_symtab_t *st = tide_calloc(1, sizeof *st);
  if (!st) return NULL;
  st->refcount = 1;
  st->nslots = 64;
  st->slots = tide_calloc(st->nslots, sizeof *st->slots);
  if (!st->slots) {
    tide_free(st);
    return NULL;
  }
  tide__arena_init(&st->arena);
  return st;
}

tide_symtab_t *tide_symtab_retain(tide_symtab_t *st) {
  if (st) atomic_fetch_add(&st->refcount, 1);
  return st;
}

void tide_symtab_release(tide_symtab_t *st) {
  if (!st || atomic_fetch_sub(&st->refcount, 1) != 1) return;
  tide_free(st->strs);
  tide_free(st->lens);
  tide_free(st->hashes);
  tide_free(st->slots);
  tide__arena_destroy(&st->arena);
  tide_free(st);
}

static int32_t lookup(const tide_symtab_t *st, const char *s, size_t len, uint64_t h,
                      uint32_t *slot_out) {
  uint32_t mask = st->nslots - 1;
  uint32_t i = (uint32_t)h & mask;
  for (;;) {
    uint32_t c = st->slots[i];
    if (c == 0) {
      *slot_out = i;
      return -1;
    }
    c--;
    if (st->hashes[c] == h && st->lens[c] == len && memcmp(st->strs[c], s, len) == 0)
      return (int32_t)c;
    i = (i + 1) & mask;
  }
}

int32_t tide_symtab_find(const tide_symtab_t *st, const char *s, size_t len) {
  uint32_t slot = 0;
  return lookup(st, s, len, tide__hash_bytes(s, len), &slot);
}

static bool grow_slots(tide_symtab_t *st) {
  uint32_t n = st->nslots * 2;
  uint32_t *slots = tide_calloc(n, sizeof *slots);
  if (!slots) return false;
  for (uint32_t c = 0; c < st->size; c++) {
    uint32_t i = (uint32_t)st->hashes[c] & (n - 1);
    while (slots[i]) i = (i + 1) & (n - 1);
    slots[i] = c + 1;
  }
  tide_free(st->slots);
  st->slots = slots;
  st->nslots = n;
  return true;
}

int32_t tide_symtab_intern(tide_symtab_t *st, const char *s, size_t len) {
  uint64_t h = tide__hash_bytes(s, len);
  uint32_t slot = 0;
  int32_t code = lookup(st, s, len, h, &slot);
  if (code >= 0) return code;
  if (st->size == INT32_MAX) return -1;
  if (st->size == st->cap) {
    uint32_t cap = st->cap ? st->cap * 2 : 64;
    const char **strs = tide_realloc(st->strs, cap * sizeof *strs);
    if (!strs) return -1;
    st->strs = strs;
    uint32_t *lens = tide_realloc(st->lens, cap * sizeof *lens);
    if (!lens) return -1;
    st->lens = lens;
    uint64_t *hashes = tide_realloc(st->hashes, cap * sizeof *hashes);
    if (!hashes) return -1;
    st->hashes = hashes;
    st->cap = cap;
  }
  const char *copy = tide__arena_store(&st->arena, s, len);
  if (!copy) return -1;
  code = (int32_t)st->size;
  st->strs[code] = copy;
  st->lens[code] = (uint32_t)len;
  st->hashes[code] = h;
  st->size++;
  st->slots[slot] = (uint32_t)code + 1;
  if (st->size * 2 > st->nslots && !grow_slots(st)) {
    /* The entry is stored; a full table only slows lookups, but we keep the
     * load factor bound strict: undo. */
    st->slots[slot] = 0;
    st->size--;
    return -1;
  }
  return code;
}

const char *tide_symtab_str(const tide_symtab_t *st, int32_t code) {
  if (code < 0 || (uint32_t)code >= st->size) return NULL;
  return st->strs[code];
}

uint32_t tide__symtab_len(const tide_symtab_t *st, int32_t code) {
  if (code < 0 || (uint32_t)code >= st->size) return 0;
  return st->lens[code];
}

uint32_t tide_symtab_size(const tide_symtab_t *st) { return st->size; }

const char *const *tide__symtab_strs(const tide_symtab_t *st) { return st->strs; }
