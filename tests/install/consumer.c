/* An embedding application: builds a table, aggregates it, checks the answer. */
#include <stdio.h>
#include <string.h>

#include <tide/tide.h>

int main(void) {
  tide_error err;
  const char csv[] = "Sym,Size\nA,1\nB,2\nA,3\n";
  tide_table_t *t = tide_read_csv_buffer(csv, strlen(csv), "inline", NULL, &err);
  if (!t) {
    fprintf(stderr, "read: %s\n", err.msg);
    return 1;
  }
  const char *cols[] = {"Size"}, *by[] = {"Sym"};
  tide_agg_spec_t sum = {.kind = TIDE_AGG_SUM, .cols = cols, .ncols = 1};
  tide_table_t *v = tide_agg_by(t, &sum, 1, by, 1, &err);
  if (!v) {
    fprintf(stderr, "agg_by: %s\n", err.msg);
    return 1;
  }
  int64_t a = 0;
  tide_table_get(v, 1, 0, &a, &err);
  printf("tide %s: A=%lld rows=%llu\n", TIDE_VERSION_STRING, (long long)a,
         (unsigned long long)tide_table_size(v));
  int ok = a == 4 && tide_table_size(v) == 2;
  tide_table_free(v);
  tide_table_free(t);
  return ok ? 0 : 1;
}
