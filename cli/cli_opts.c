/*
 * Command-line option parsing shared by the `tide` commands (cli/main.c,
 * cli/backfill.c).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include "cli/script.h"

const char *tide__cli_opt_value(int argc, char **argv, int *i, const char *name, bool *missing) {
  size_t l = strlen(name);
  const char *a = argv[*i];
  if (strncmp(a, name, l) != 0) return NULL;
  if (a[l] == '=') return a + l + 1;
  if (a[l] != 0) return NULL;
  if (*i + 1 >= argc) {
    *missing = true;
    return NULL;
  }
  (*i)++;
  return argv[*i];
}
