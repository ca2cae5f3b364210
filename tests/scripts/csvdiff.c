/*
 * csvdiff A B: compare two small CSV files cell by cell (for the script
 * end-to-end tests). Cells are equal when their text is equal, or when both
 * parse completely as numbers within a relative tolerance of 1e-9 (so
 * "750", "750.0" and "7.5e+02" agree). Quoting is not interpreted. Exit 0
 * when equal, 1 with the first difference on stdout otherwise.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (n + 1024 >= cap) buf = realloc(buf, cap *= 2);
    size_t r = fread(buf + n, 1, cap - n - 1, f);
    if (!r) break;
    n += r;
  }
  fclose(f);
  buf[n] = 0;
  return buf;
}

static bool number(const char *s, size_t len, double *out) {
  char tmp[128];
  if (len == 0 || len >= sizeof tmp) return false;
  memcpy(tmp, s, len);
  tmp[len] = 0;
  char *end;
  *out = strtod(tmp, &end);
  return *end == 0;
}

static bool cell_equal(const char *a, size_t la, const char *b, size_t lb) {
  if (la == lb && memcmp(a, b, la) == 0) return true;
  double x, y;
  if (!number(a, la, &x) || !number(b, lb, &y)) return false;
  if (isnan(x) || isnan(y)) return isnan(x) && isnan(y);
  double m = fabs(x) > fabs(y) ? fabs(x) : fabs(y);
  return fabs(x - y) <= 1e-9 * (m > 1 ? m : 1);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: csvdiff A B\n");
    return 2;
  }
  char *a = slurp(argv[1]), *b = slurp(argv[2]);
  if (!a || !b) {
    printf("cannot read %s\n", !a ? argv[1] : argv[2]);
    return 1;
  }
  const char *pa = a, *pb = b;
  int line = 1;
  while (*pa || *pb) {
    size_t la = strcspn(pa, "\n"), lb = strcspn(pb, "\n");
    /* tolerate \r\n */
    size_t ea = la && pa[la - 1] == '\r' ? la - 1 : la, eb = lb && pb[lb - 1] == '\r' ? lb - 1 : lb;
    const char *ca = pa, *cb = pb, *enda = pa + ea, *endb = pb + eb;
    int col = 1;
    for (;;) {
      size_t fa = strcspn(ca, ",\n"), fb = strcspn(cb, ",\n");
      if (ca + fa > enda) fa = (size_t)(enda - ca);
      if (cb + fb > endb) fb = (size_t)(endb - cb);
      if (!cell_equal(ca, fa, cb, fb)) {
        printf("line %d field %d: '%.*s' vs '%.*s'\n", line, col, (int)fa, ca, (int)fb, cb);
        return 1;
      }
      bool more_a = ca + fa < enda, more_b = cb + fb < endb;
      if (more_a != more_b) {
        printf("line %d: different number of fields\n", line);
        return 1;
      }
      if (!more_a) break;
      ca += fa + 1;
      cb += fb + 1;
      col++;
    }
    pa += la + (pa[la] == '\n');
    pb += lb + (pb[lb] == '\n');
    line++;
  }
  free(a);
  free(b);
  return 0;
}
