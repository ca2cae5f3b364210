/*
 * tide core: status codes and errors, allocation hooks, column types and
 * their null sentinels, chunk constants, symbol dictionaries.
 *
 * Every fallible function returns a tide_status (0 == TIDE_OK) or a pointer
 * (NULL on failure) and takes a `tide_error *err` last; err may be NULL.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_CORE_H
#define TIDE_CORE_H

#include <float.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(TIDE_DEBUG_WARN_UNUSED)
#define TIDE_MUST_CHECK __attribute__((warn_unused_result))
#else
#define TIDE_MUST_CHECK
#endif

/* Rows per chunk: every operation loops over chunks of at most this many. */
#define TIDE_CHUNK_SIZE 4096

/* ---------------------------------------------------------------- status */

#define TIDE_STATUS_LIST(X)                                   \
  X(OK, "ok")                                                 \
  X(ERR_NOMEM, "out of memory")                               \
  X(ERR_INVALID, "invalid argument")                          \
  X(ERR_PARSE, "parse error")                                 \
  X(ERR_TYPE, "type error")                                   \
  X(ERR_NOT_FOUND, "not found")                               \
  X(ERR_DUPLICATE, "duplicate key")                           \
  X(ERR_RANGE, "out of range")                                \
  X(ERR_IO, "I/O error")                                      \
  X(ERR_CSV, "malformed CSV")                                 \
  X(ERR_CORRUPT, "corrupt data")                              \
  X(ERR_STATE, "invalid state")                               \
  X(ERR_UNSUPPORTED, "unsupported")

typedef enum tide_status {
#define TIDE_X_STATUS_ENUM(name, str) TIDE_##name,
  TIDE_STATUS_LIST(TIDE_X_STATUS_ENUM)
#undef TIDE_X_STATUS_ENUM
  TIDE_STATUS_COUNT
} tide_status;

#define TIDE_ERROR_MSG_MAX 512

/* Caller-owned error record. `msg` holds a complete, human-readable message. */
typedef struct tide_error {
  tide_status status;
  char msg[TIDE_ERROR_MSG_MAX];
} tide_error;

/* Static name of a status ("out of memory"); never NULL. */
const char *tide_status_str(tide_status st);

/* Reset err to OK with an empty message (err may be NULL). */
void tide_error_clear(tide_error *err);

/* Record st and a printf-style message in err (err may be NULL); returns st. */
tide_status tide_error_set(tide_error *err, tide_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Prepend context to an existing message: "ctx: old message". Returns err->status. */
tide_status tide_error_prefix(tide_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Return from the enclosing function if expr is not TIDE_OK. */
#define TIDE_TRY(expr)                        \
  do {                                        \
    tide_status tide_try_st_ = (expr);        \
    if (tide_try_st_ != TIDE_OK) return tide_try_st_; \
  } while (0)

/* ------------------------------------------------------------ allocation */

/* All engine allocation goes through these hooks, so tests can inject
 * failures and the NUMA layer can change placement. */
typedef struct tide_memory_hooks {
  void *(*malloc_fn)(size_t size);
  void *(*calloc_fn)(size_t count, size_t size);
  void *(*realloc_fn)(void *ptr, size_t size);
  void (*free_fn)(void *ptr);
  void *(*aligned_malloc_fn)(size_t alignment, size_t size);
  void (*aligned_free_fn)(void *ptr);
} tide_memory_hooks;

/* Install hooks (NULL restores the libc defaults). Not thread-safe: call
 * before any other tide function. */
void tide_set_memory_hooks(const tide_memory_hooks *hooks);

void *tide_malloc(size_t size);
void *tide_calloc(size_t count, size_t size);
void *tide_realloc(void *ptr, size_t size);
void tide_free(void *ptr);
/* 64-byte aligned by default usage; free with tide_aligned_free. */
void *tide_aligned_malloc(size_t alignment, size_t size);
void tide_aligned_free(void *ptr);
/* strdup through the hooks; NULL on OOM. */
char *tide_strdup(const char *s);
char *tide_strndup(const char *s, size_t n);

/* ----------------------------------------------------------------- types */

/* X(ENUM, name, C storage type). Order is part of the ABI. */
#define TIDE_TYPE_LIST(X)              \
  X(BOOL, bool, int8_t)                \
  X(I8, int8, int8_t)                  \
  X(I16, int16, int16_t)               \
  X(I32, int32, int32_t)               \
  X(I64, int64, int64_t)               \
  X(F32, float, float)                 \
  X(F64, double, double)               \
  X(TS, timestamp, int64_t)            \
  X(STRING, string, const char *)      \
  X(SYMBOL, symbol, int32_t)

typedef enum tide_type_t {
#define TIDE_X_TYPE_ENUM(E, name, ctype) TIDE_##E,
  TIDE_TYPE_LIST(TIDE_X_TYPE_ENUM)
#undef TIDE_X_TYPE_ENUM
  TIDE_TYPE_COUNT
} tide_type_t;

/* Null sentinels (Deephaven style: the minimum value for integers). */
#define TIDE_NULL_BOOL ((int8_t)INT8_MIN)
#define TIDE_NULL_I8 ((int8_t)INT8_MIN)
#define TIDE_NULL_I16 ((int16_t)INT16_MIN)
#define TIDE_NULL_I32 ((int32_t)INT32_MIN)
#define TIDE_NULL_I64 ((int64_t)INT64_MIN)
#define TIDE_NULL_F32 (-FLT_MAX)
#define TIDE_NULL_F64 (-DBL_MAX)
#define TIDE_NULL_TS ((int64_t)INT64_MIN)
#define TIDE_NULL_STRING ((const char *)0)
#define TIDE_NULL_SYMBOL ((int32_t)-1)

/* A row key that means "no row" (e.g. an unmatched join redirection). */
#define TIDE_NULL_KEY UINT64_MAX

/* Bytes per value of the storage type. */
size_t tide_type_width(tide_type_t type);
/* Lower-case name ("int64", "double", "symbol"); "?" for an invalid type. */
const char *tide_type_name(tide_type_t type);
/* Parse a type name (also accepts "long"->int64, "int"->int32, "short",
 * "byte", "boolean", "datetime"/"instant", "str"). Returns false if unknown. */
bool tide_type_from_name(const char *name, tide_type_t *out);
/* Numeric: bool excluded; int8..int64, float, double. */
bool tide_type_is_integer(tide_type_t type);
bool tide_type_is_floating(tide_type_t type);
bool tide_type_is_numeric(tide_type_t type);

/* Write the type's null sentinel into *out (width tide_type_width). */
void tide_type_null(tide_type_t type, void *out);

/* --------------------------------------------------------- symbol table */

/* A dictionary for SYMBOL columns: dense int32 codes 0..size-1 to strings.
 * Reference counted; codes are stable for the life of the dictionary and
 * new strings only append, so readers of existing codes are never
 * disturbed. Intern/find are not thread-safe against concurrent interning. */
typedef struct tide_symtab_s tide_symtab_t;

/* New empty dictionary, refcount 1; NULL on OOM. */
tide_symtab_t *tide_symtab_create(void);
tide_symtab_t *tide_symtab_retain(tide_symtab_t *st);
void tide_symtab_release(tide_symtab_t *st); /* NULL is a no-op */
/* Code of s (interning it if new); -1 on OOM. */
int32_t tide_symtab_intern(tide_symtab_t *st, const char *s, size_t len);
/* Code of s, or -1 (TIDE_NULL_SYMBOL) if absent. */
int32_t tide_symtab_find(const tide_symtab_t *st, const char *s, size_t len);
/* The string of a code (owned by the dictionary); NULL for a null or
 * out-of-range code. */
const char *tide_symtab_str(const tide_symtab_t *st, int32_t code);
uint32_t tide_symtab_size(const tide_symtab_t *st);

/* ------------------------------------------------------------ timestamps */

/* Parse ISO-8601 "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS[.fffffffff]]" with an
 * optional 'Z' or +HH:MM offset (a space may replace 'T'; no zone means
 * UTC). Returns false if s[0..len) is not such a timestamp. */
bool tide_ts_parse(const char *s, size_t len, int64_t *nanos_out);
/* Format as "YYYY-MM-DDTHH:MM:SS[.fraction]Z" into buf (>= 40 bytes);
 * returns the length. Null prints as "". */
size_t tide_ts_format(int64_t nanos, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* TIDE_CORE_H */
