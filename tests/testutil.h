/*
 * Test helpers shared by every ctest suite: checks that count failures,
 * a seeded RNG (TIDE_SEED overrides; the seed is printed on failure),
 * builders for small tables, and a table comparator that reports the first
 * difference.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TIDE_TESTUTIL_H
#define TIDE_TESTUTIL_H

#include <stdio.h>

#include "core/core_int.h"

extern int tu_failures;
extern int tu_checks;

#define CHECK(cond)                                                              \
  do {                                                                           \
    tu_checks++;                                                                 \
    if (!(cond)) {                                                               \
      tu_failures++;                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                            \
  } while (0)
#define CHECK_MSG(cond, ...)                                                  \
  do {                                                                        \
    tu_checks++;                                                              \
    if (!(cond)) {                                                            \
      tu_failures++;                                                          \
      fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                           \
      fputc('\n', stderr);                                                    \
    }                                                                         \
  } while (0)
/* Check that a call returning a table pointer succeeded; prints err. */
#define CHECK_OK_PTR(p, err) CHECK_MSG((p) != NULL, "error: %s", (err).msg)
#define CHECK_OK(st, err) CHECK_MSG((st) == TIDE_OK, "error: %s", (err).msg)

/* Print "<name>: N checks, N failed" and return the process exit code. */
int tu_finish(const char *name);

/* splitmix64 RNG. tu_seed() is TIDE_SEED from the environment or `dflt`. */
uint64_t tu_seed(uint64_t dflt);
typedef struct { uint64_t s; } tu_rng;
uint64_t tu_next(tu_rng *r);
uint64_t tu_below(tu_rng *r, uint64_t n); /* uniform in [0, n) */
double tu_unit(tu_rng *r);                 /* uniform in [0, 1) */

/* Build a flat table of n rows from raw arrays: cols[i] points to n values
 * of types[i]'s storage type; STRING columns are const char *[] (NULL =
 * null) and are copied; SYMBOL columns are also given as const char *[]
 * and interned into a fresh dictionary. NULL on failure (aborts the test). */
tide_table_t *tu_table(uint64_t n, size_t ncols, const char *const *names,
                       const tide_type_t *types, const void *const *cols);

/* Compare two tables: same column names and types (STRING and SYMBOL
 * compare equal by content), same row count, same values in order. Doubles
 * compare with relative tolerance rel_tol (0 = exact; nulls equal). On a
 * difference writes a description to msg and returns false. */
bool tu_table_equal(const tide_table_t *a, const tide_table_t *b, double rel_tol, char *msg,
                    size_t cap);
/* CHECK(tu_table_equal(...)) printing the description. */
#define CHECK_TABLES(a, b, tol)                                       \
  do {                                                                \
    char tu_msg_[1024];                                               \
    bool tu_eq_ = tu_table_equal((a), (b), (tol), tu_msg_, sizeof tu_msg_); \
    CHECK_MSG(tu_eq_, "%s", tu_msg_);                                 \
  } while (0)

/* Value of column col at position pos as text (tide_value_format, nulls as
 * "null"), into a static thread-local buffer. */
const char *tu_cell(const tide_table_t *t, const char *col, uint64_t pos);
/* Numeric cell as double (integers converted; null -> NAN). */
double tu_cell_f64(const tide_table_t *t, const char *col, uint64_t pos);

/* Out-of-memory injection through tide_set_memory_hooks. tu_oom_arm
 * installs hooks that let `fail_after` allocations succeed and refuse the
 * next one (-1: never refuse); tu_oom_arm_sticky refuses that one and every
 * later one too. Counting is atomic, so parallel regions may run armed;
 * arm and disarm themselves only between tide calls. tu_oom_disarm restores
 * the libc hooks (memory from either is interchangeable). tu_oom_fired says
 * whether an allocation was refused since arming. */
void tu_oom_arm(long fail_after);
void tu_oom_arm_sticky(long fail_after);
void tu_oom_disarm(void);
bool tu_oom_fired(void);

/* Sweep: for k = 0 .. max_k-1 run op(ctx, err) under tu_oom_arm_sticky(k)
 * until it returns non-NULL. Each NULL on the way must carry
 * TIDE_ERR_NOMEM (a CHECK naming `what` and k; another status ends the
 * sweep). Returns op's first non-NULL result, which the caller checks and
 * frees; NULL if the sweep ended without one (err then holds the last
 * error: TIDE_ERR_NOMEM means max_k ran out). */
typedef void *(*tu_oom_op)(void *ctx, tide_error *err);
void *tu_oom_sweep(const char *what, long max_k, tu_oom_op op, void *ctx, tide_error *err);

/* Threads for a test's parallel section: 1 under ThreadSanitizer, whose
 * runs cannot see libgomp's (uninstrumented) barriers and would report
 * them as races (scripts/test runs the TSan pass single-threaded). */
static inline int tu_par_threads(int n) {
#ifdef __SANITIZE_THREAD__
  (void)n;
  return 1;
#else
  return n;
#endif
}

#endif /* TIDE_TESTUTIL_H */
