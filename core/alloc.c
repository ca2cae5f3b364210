/*
 * Allocation hooks: every engine allocation goes through these, so tests can
 * inject failures and the NUMA layer can change placement.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"

static void *default_aligned_malloc(size_t alignment, size_t size) {
  void *p = NULL;
  if (alignment < sizeof(void *)) alignment = sizeof(void *);
  if (posix_memalign(&p, alignment, size ? size : 1) != 0) return NULL;
  return p;
}

static tide_memory_hooks hooks = {malloc, calloc, realloc, free, default_aligned_malloc, free};

void tide_set_memory_hooks(const tide_memory_hooks *h) {
  if (h) {
    hooks = *h;
  } else {
    hooks = (tide_memory_hooks){malloc, calloc, realloc, free, default_aligned_malloc, free};
  }
}

void *tide_malloc(size_t size) { return hooks.malloc_fn(size ? size : 1); }
void *tide_calloc(size_t count, size_t size) {
  return hooks.calloc_fn(count ? count : 1, size ? size : 1);
}
void *tide_realloc(void *ptr, size_t size) { return hooks.realloc_fn(ptr, size ? size : 1); }
void tide_free(void *ptr) {
  if (ptr) hooks.free_fn(ptr);
}
void *tide_aligned_malloc(size_t alignment, size_t size) {
  return hooks.aligned_malloc_fn(alignment, size);
}
void tide_aligned_free(void *ptr) {
  if (ptr) hooks.aligned_free_fn(ptr);
}

char *tide_strndup(const char *s, size_t n) {
  char *p = tide_malloc(n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *tide_strdup(const char *s) { return tide_strndup(s, strlen(s)); }
