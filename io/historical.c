/*
 * The historical store (include/tide/historical.h): table directories
 * under DB/Systems/<ns>/Partitions/<n>/<date>/<table>/, written through
 * the WritablePartitions links, read as one static table with a Date
 * column, pruned by date range and by zone maps.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io_int.h"
#include "tide/historical.h"
#include "tide/ops.h"

#define DEFAULT_DB "./tide-db"

/* ------------------------------------------------------------- names */

tide_status tide_db_check_name(const char *what, const char *name, tide_error *err) {
  if (!name || !*name)
    return tide_error_set(err, TIDE_ERR_INVALID, "%s name is empty", what);
  size_t n = strlen(name);
  if (n > 255) return tide_error_set(err, TIDE_ERR_INVALID, "%s name is too long", what);
  if (name[0] == '.')
    return tide_error_set(err, TIDE_ERR_INVALID,
                          "%s name '%s' starts with '.' (refused: it could leave the database "
                          "root or hide a temporary file)",
                          what, name);
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)name[i];
    if (ch == '/' || ch == '\\')
      return tide_error_set(err, TIDE_ERR_INVALID,
                            "%s name '%s' contains '%c' (refused: names are single directories)",
                            what, name, ch);
    if (ch < 0x20 || ch == 0x7f)
      return tide_error_set(err, TIDE_ERR_INVALID,
                            "%s name contains a control character (byte %u)", what, ch);
  }
  return TIDE_OK;
}

static bool is_date(const char *d) {
  if (!d || strlen(d) != 10 || d[4] != '-' || d[7] != '-') return false;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && (d[i] < '0' || d[i] > '9')) return false;
  int m = (d[5] - '0') * 10 + (d[6] - '0'), day = (d[8] - '0') * 10 + (d[9] - '0');
  return m >= 1 && m <= 12 && day >= 1 && day <= 31;
}

tide_status tide_db_check_date(const char *date, tide_error *err) {
  if (is_date(date)) return TIDE_OK;
  return tide_error_set(err, TIDE_ERR_INVALID, "date '%s' is not YYYY-MM-DD",
                        date ? date : "(null)");
}

/* ------------------------------------------------------------- helpers */

/* printf into a new tide_malloc-ed string; NULL on OOM. */
static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int n = vsnprintf(NULL, 0, f, ap);
  va_end(ap);
  if (n < 0) return NULL;
  char *s = tide_malloc((size_t)n + 1);
  if (!s) return NULL;
  va_start(ap, f);
  vsnprintf(s, (size_t)n + 1, f, ap);
  va_end(ap);
  return s;
}

static bool is_dir(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool all_digits(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return false;
  return true;
}

/* Partition names: numeric ones numerically (shorter first), then the rest
 * by strcmp. */
static int cmp_part_name(const char *a, const char *b) {
  bool da = all_digits(a), db = all_digits(b);
  if (da != db) return da ? -1 : 1;
  if (da) {
    while (*a == '0' && a[1]) a++;
    while (*b == '0' && b[1]) b++;
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb) return la < lb ? -1 : 1;
  }
  return strcmp(a, b);
}

static int cmp_names_qsort(const void *x, const void *y) {
  return cmp_part_name(*(char *const *)x, *(char *const *)y);
}

static void free_names(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) tide_free(v[i]);
  tide_free(v);
}

/* Sub-directory names of dir accepted by `keep` (symlinks to directories
 * count), sorted with cmp_part_name. */
static tide_status list_subdirs(const char *op, const char *dir, bool (*keep)(const char *),
                                char ***out, size_t *n, tide_error *err) {
  *out = NULL;
  *n = 0;
  DIR *d = opendir(dir);
  if (!d)
    return tide_error_set(err, errno == ENOENT ? TIDE_ERR_NOT_FOUND : TIDE_ERR_IO,
                          "%s: cannot open '%s': %s", op, dir, strerror(errno));
  char **v = NULL;
  size_t cnt = 0, cap = 0;
  tide_status st = TIDE_OK;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.' || !keep(de->d_name)) continue;
    char *p = fmt("%s/%s", dir, de->d_name);
    if (!p) {
      st = tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
      break;
    }
    bool ok = is_dir(p);
    tide_free(p);
    if (!ok) continue;
    if (cnt == cap) {
      size_t nc = cap ? 2 * cap : 16;
      char **nv = tide_realloc(v, nc * sizeof *nv);
      if (!nv) {
        st = tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
        break;
      }
      v = nv;
      cap = nc;
    }
    if (!(v[cnt] = tide_strdup(de->d_name))) {
      st = tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
      break;
    }
    cnt++;
  }
  closedir(d);
  if (st != TIDE_OK) {
    free_names(v, cnt);
    return st;
  }
  if (cnt) qsort(v, cnt, sizeof *v, cmp_names_qsort);
  *out = v;
  *n = cnt;
  return TIDE_OK;
}

static bool keep_any(const char *s) { return tide_db_check_name("partition", s, NULL) == TIDE_OK; }

void tide__hist_names_free(char **names, size_t n) {
  if (names) free_names(names, n);
}

tide_status tide__hist_writable(const char *op, const char *db, const char *ns, const char *date,
                                char **wdir, char ***names, size_t *n, size_t *pick,
                                tide_error *err) {
  *wdir = NULL;
  *names = NULL;
  *n = *pick = 0;
  char *w = fmt("%s/Systems/%s/WritablePartitions", db, ns);
  if (!w) return tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
  tide_status st = TIDE_OK;
  if (!is_dir(w)) {
    st = tide_error_set(err, TIDE_ERR_NOT_FOUND,
                        "%s: namespace '%s' has no WritablePartitions ('%s' is missing: the "
                        "administrator creates Partitions/<n> and the WritablePartitions/<n> "
                        "links)",
                        op, ns, w);
  } else if ((st = list_subdirs(op, w, keep_any, names, n, err)) == TIDE_OK && *n == 0) {
    st = tide_error_set(err, TIDE_ERR_NOT_FOUND,
                        "%s: namespace '%s' has no writable partition (no directory or link "
                        "to one in '%s')",
                        op, ns, w);
  }
  if (st != TIDE_OK) {
    tide_free(w);
    tide__hist_names_free(*names, *n);
    *names = NULL;
    *n = 0;
    return st;
  }
  /* FNV-1a of the date picks the writable partition */
  uint64_t h = 1469598103934665603ull;
  for (const char *c = date; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
  *pick = (size_t)(h % *n);
  *wdir = w;
  return TIDE_OK;
}
static bool keep_date(const char *s) { return is_date(s); }

static tide_status sync_dir(const char *dir, tide_error *err) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return tide_error_set(err, TIDE_ERR_IO, "%s: cannot open: %s", dir, strerror(errno));
  int r = fsync(fd);
  int e = errno;
  close(fd);
  if (r != 0 && e != EINVAL && e != EROFS)
    return tide_error_set(err, TIDE_ERR_IO, "%s: cannot sync: %s", dir, strerror(e));
  return TIDE_OK;
}

static tide_status check_names(const char *op, const char *ns, const char *table,
                               tide_error *err) {
  tide_error e;
  tide_error_clear(&e);
  tide_status st = tide_db_check_name("namespace", ns, &e);
  if (st == TIDE_OK) st = tide_db_check_name("table", table, &e);
  if (st != TIDE_OK) return tide_error_set(err, st, "%s: %s", op, e.msg);
  return TIDE_OK;
}

/* ------------------------------------------------------------- write */

tide_status tide_historical_write(const char *db, const char *ns, const char *table,
                                  const char *date, const tide_table_t *t, tide_codec_t codec,
                                  tide_error *err) {
  static const char op[] = "historical_write";
  if (!db) db = DEFAULT_DB;
  tide_status st = check_names(op, ns, table, err);
  if (st != TIDE_OK) return st;
  if (!is_date(date))
    return tide_error_set(err, TIDE_ERR_INVALID, "%s: date '%s' is not YYYY-MM-DD", op,
                          date ? date : "(null)");
  if (!t) return tide_error_set(err, TIDE_ERR_INVALID, "%s: no table", op);
  if (tide_table_col_index(t, TIDE_HISTORICAL_DATE_COL) >= 0)
    return tide_error_set(err, TIDE_ERR_INVALID,
                          "%s: the table has a column '" TIDE_HISTORICAL_DATE_COL
                          "', which is the partitioning column of historical tables "
                          "(rename or drop it)",
                          op);
  char *wdir = NULL;
  char *pdir = fmt("%s/Systems/%s/Partitions", db, ns);
  char **wn = NULL, **pn = NULL;
  size_t nw = 0, np = 0, pick = 0;
  char *datedir = NULL, *tdir = NULL;
  if (!pdir) {
    st = tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
    goto done;
  }
  st = tide__hist_writable(op, db, ns, date, &wdir, &wn, &nw, &pick, err);
  if (st != TIDE_OK) goto done;
  /* the date must not hold the table already, in any partition */
  if (is_dir(pdir)) {
    st = list_subdirs(op, pdir, keep_any, &pn, &np, err);
    if (st != TIDE_OK) goto done;
    for (size_t i = 0; i < np; i++) {
      char *p = fmt("%s/%s/%s/%s", pdir, pn[i], date, table);
      if (!p) {
        st = tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
        goto done;
      }
      struct stat sb;
      bool exists = lstat(p, &sb) == 0;
      if (exists)
        st = tide_error_set(err, TIDE_ERR_INVALID, "%s: %s.%s of %s already exists ('%s')", op,
                            ns, table, date, p);
      tide_free(p);
      if (exists) goto done;
    }
  }
  const char *part = wn[pick];
  datedir = fmt("%s/%s/%s", wdir, part, date);
  tdir = fmt("%s/%s/%s/%s", wdir, part, date, table);
  if (!datedir || !tdir) {
    st = tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
    goto done;
  }
  if (!is_dir(datedir)) {
    if (mkdir(datedir, 0777) != 0 && errno != EEXIST) {
      st = tide_error_set(err, TIDE_ERR_IO, "%s: cannot create '%s': %s", op, datedir,
                          strerror(errno));
      goto done;
    }
    char *parent = fmt("%s/%s", wdir, part);
    if (!parent) {
      st = tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
      goto done;
    }
    st = sync_dir(parent, err);
    tide_free(parent);
    if (st != TIDE_OK) goto done;
  }
  st = tide_table_write_dir(t, tdir, codec, err);
done:
  free_names(wn, nw);
  free_names(pn, np);
  tide_free(wdir);
  tide_free(pdir);
  tide_free(datedir);
  tide_free(tdir);
  return st;
}

/* -------------------------------------------------------------- list */

void tide_historical_parts_free(tide_historical_part_t *parts, size_t n) {
  for (size_t i = 0; parts && i < n; i++) {
    tide_free(parts[i].partition);
    tide_free(parts[i].path);
  }
  tide_free(parts);
}

static int cmp_parts(const void *x, const void *y) {
  const tide_historical_part_t *a = x, *b = y;
  int c = strcmp(a->date, b->date);
  return c ? c : cmp_part_name(a->partition, b->partition);
}

tide_status tide_historical_list(const char *db, const char *ns, const char *table,
                                 const tide_historical_query_t *q,
                                 tide_historical_part_t **parts, size_t *n, tide_error *err) {
  static const char op[] = "historical_table";
  *parts = NULL;
  *n = 0;
  if (!db) db = DEFAULT_DB;
  tide_status st = check_names(op, ns, table, err);
  if (st != TIDE_OK) return st;
  const char *from = q ? q->from : NULL, *to = q ? q->to : NULL;
  if ((from && !is_date(from)) || (to && !is_date(to)))
    return tide_error_set(err, TIDE_ERR_INVALID, "%s: date '%s' is not YYYY-MM-DD", op,
                          from && !is_date(from) ? from : to);
  char *pdir = fmt("%s/Systems/%s/Partitions", db, ns);
  if (!pdir) return tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
  if (!is_dir(pdir)) {
    st = tide_error_set(err, TIDE_ERR_NOT_FOUND, "%s: namespace '%s' has no historical data ('%s' is missing)", op, ns, pdir);
    tide_free(pdir);
    return st;
  }
  char **pn = NULL;
  size_t np = 0;
  st = list_subdirs(op, pdir, keep_any, &pn, &np, err);
  tide_historical_part_t *v = NULL;
  size_t cnt = 0, cap = 0;
  for (size_t i = 0; i < np && st == TIDE_OK; i++) {
    char *pp = fmt("%s/%s", pdir, pn[i]);
    char **dn = NULL;
    size_t nd = 0;
    if (!pp) st = tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
    if (st == TIDE_OK) st = list_subdirs(op, pp, keep_date, &dn, &nd, err);
    for (size_t j = 0; j < nd && st == TIDE_OK; j++) {
      if ((from && strcmp(dn[j], from) < 0) || (to && strcmp(dn[j], to) > 0)) continue;
      char *tp = fmt("%s/%s/%s", pp, dn[j], table);
      if (!tp) {
        st = tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
        break;
      }
      if (!is_dir(tp)) {
        tide_free(tp);
        continue;
      }
      if (cnt == cap) {
        size_t nc = cap ? 2 * cap : 16;
        tide_historical_part_t *nv = tide_realloc(v, nc * sizeof *nv);
        if (!nv) {
          tide_free(tp);
          st = tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
          break;
        }
        v = nv;
        cap = nc;
      }
      memcpy(v[cnt].date, dn[j], 11);
      v[cnt].path = tp;
      v[cnt].partition = tide_strdup(pn[i]);
      cnt++;
      if (!v[cnt - 1].partition)
        st = tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
    }
    free_names(dn, nd);
    tide_free(pp);
  }
  free_names(pn, np);
  tide_free(pdir);
  if (st != TIDE_OK) {
    tide_historical_parts_free(v, cnt);
    return st;
  }
  if (cnt) qsort(v, cnt, sizeof *v, cmp_parts);
  *parts = v;
  *n = cnt;
  return TIDE_OK;
}

/* -------------------------------------------------------------- read */

/* A parsed table.tdef (checksum verified): rows and the columns' names,
 * types and files (pointing into text). */
typedef struct tdef_t {
  char *text;
  uint64_t rows;
  size_t nc;
  const char **names, **files;
  tide_type_t *types;
} tdef_t;

static void tdef_free(tdef_t *d) {
  tide_free(d->text);
  tide_free(d->names);
  tide_free(d->files);
  tide_free(d->types);
  memset(d, 0, sizeof *d);
}

static tide_status tdef_load(const char *dir, tdef_t *d, tide_error *err) {
  static const char op[] = "historical_table";
  memset(d, 0, sizeof *d);
  char *file = fmt("%s/table.tdef", dir);
  if (!file) return tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
  tide_status st = TIDE_OK;
  FILE *f = fopen(file, "rb");
  d->text = tide_malloc((1u << 20) + 1);
  size_t len = f && d->text ? fread(d->text, 1, 1u << 20, f) : 0;
  if (f) fclose(f);
  if (!f || !d->text) {
    st = tide_error_set(err, f ? TIDE_ERR_NOMEM : TIDE_ERR_NOT_FOUND, "%s: cannot read '%s'", op,
                        file);
    goto done;
  }
  d->text[len] = '\0';
  char *cl = strstr(d->text, "\nchecksum ");
  uint64_t want = cl ? strtoull(cl + 10, NULL, 16) : 0;
  if (!cl || tide__checksum64(d->text, (size_t)(cl + 1 - d->text)) != want) {
    st = tide_error_set(err, TIDE_ERR_CORRUPT, "%s: checksum mismatch or truncated definition",
                        file);
    goto done;
  }
  cl[1] = '\0';
  if (strncmp(d->text, "tide-table 1\n", 13) != 0) {
    st = tide_error_set(err, TIDE_ERR_CORRUPT, "%s: not a version 1 tide table definition", file);
    goto done;
  }
  size_t cap = 0;
  for (char *l = d->text; *l; l++)
    if (*l == '\n') cap++;
  d->names = tide_calloc(cap + 1, sizeof *d->names);
  d->files = tide_calloc(cap + 1, sizeof *d->files);
  d->types = tide_calloc(cap + 1, sizeof *d->types);
  if (!d->names || !d->files || !d->types) {
    st = tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
    goto done;
  }
  char *save = NULL;
  bool have_rows = false;
  for (char *l = strtok_r(d->text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    if (strncmp(l, "rows ", 5) == 0) {
      d->rows = strtoull(l + 5, NULL, 10);
      have_rows = true;
      continue;
    }
    if (strncmp(l, "column ", 7) != 0) continue;
    char *f1 = l + 7, *f2 = strchr(f1, ' '), *f3 = f2 ? strchr(f2 + 1, ' ') : NULL,
         *f4 = f3 ? strchr(f3 + 1, ' ') : NULL;
    if (!f4 || strchr(f4 + 1, '/') || f4[1] == '.') {
      st = tide_error_set(err, TIDE_ERR_CORRUPT, "%s: bad column line '%s'", file, l);
      goto done;
    }
    *f2 = *f3 = *f4 = '\0';
    if (!tide_type_from_name(f2 + 1, &d->types[d->nc])) {
      st = tide_error_set(err, TIDE_ERR_CORRUPT, "%s: unknown type '%s'", file, f2 + 1);
      goto done;
    }
    d->names[d->nc] = f1;
    d->files[d->nc++] = f4 + 1;
  }
  if (!have_rows) st = tide_error_set(err, TIDE_ERR_CORRUPT, "%s: no 'rows' line", file);
done:
  if (st != TIDE_OK) tdef_free(d);
  tide_free(file);
  return st;
}

/* The columns of a table directory (all, or `cols`) from its table.tdef,
 * without opening the column files: an empty table. */
static tide_table_t *empty_from_tdef(const char *dir, const char *const *cols, size_t ncols,
                                     tide_error *err) {
  tdef_t d;
  if (tdef_load(dir, &d, err) != TIDE_OK) return NULL;
  tide_table_t *res = NULL;
  if (!cols) {
    res = tide_table_create_empty(d.nc, d.names, d.types, err);
  } else {
    tide_type_t *types = tide_calloc(ncols + 1, sizeof *types);
    size_t k = 0;
    for (; types && k < ncols; k++) {
      size_t c = 0;
      while (c < d.nc && strcmp(d.names[c], cols[k]) != 0) c++;
      if (c == d.nc) {
        tide_error_set(err, TIDE_ERR_NOT_FOUND, "historical_table: no column '%s' in '%s'",
                       cols[k], dir);
        break;
      }
      types[k] = d.types[c];
    }
    if (!types) tide_error_set(err, TIDE_ERR_NOMEM, "historical_table: out of memory");
    else if (k == ncols) res = tide_table_create_empty(ncols, cols, types, err);
    tide_free(types);
  }
  tdef_free(&d);
  return res;
}

static bool zone_type(tide_type_t t) {
  return t == TIDE_I8 || t == TIDE_I16 || t == TIDE_I32 || t == TIDE_I64 || t == TIDE_F32 ||
         t == TIDE_F64;
}

/* Partition-local keys of the blocks of open file f whose zone map
 * overlaps [lo, hi] (NULL and *skip when none). Reads the verified index
 * only. */
static tide_status zone_rows(tide_colfile_t *f, const char *path, const tide_historical_query_t *q,
                             tide_rowset_t **rs, bool *skip, tide_error *err) {
  *rs = NULL;
  *skip = false;
  tide_type_t ty = tide_colfile_type(f);
  if (!zone_type(ty))
    return tide_error_set(err, TIDE_ERR_TYPE,
                          "historical_table: range filter on column '%s' of type %s (integers "
                          "and floats only; '%s')",
                          q->col, tide_type_name(ty), path);
  bool isf = ty == TIDE_F32 || ty == TIDE_F64;
  tide_rowset_t *r = tide_rowset_create();
  if (!r) return tide_error_set(err, TIDE_ERR_NOMEM, "historical_table: out of memory");
  tide_status st = TIDE_OK;
  uint64_t nb = tide_colfile_nblocks(f);
  for (uint64_t b = 0; b < nb && st == TIDE_OK; b++) {
    tide_block_stats_t s = tide_colfile_block_stats(f, b);
    if (s.rows == 0 || s.nulls >= s.rows) continue;
    double mn, mx;
    if (isf) {
      memcpy(&mn, &s.min, 8);
      memcpy(&mx, &s.max, 8);
    } else {
      mn = (double)(int64_t)s.min; /* rounding is monotone: never prunes a match */
      mx = (double)(int64_t)s.max;
    }
    if (mx < q->lo || mn > q->hi) continue;
    if (tide_rowset_insert_range(r, s.first_row, s.first_row + s.rows - 1) != TIDE_OK)
      st = tide_error_set(err, TIDE_ERR_NOMEM, "historical_table: out of memory");
  }
  if (st != TIDE_OK || tide_rowset_is_empty(r)) {
    *skip = st == TIDE_OK;
    tide_rowset_free(r);
  } else {
    *rs = r;
  }
  return st;
}

/* Index of column `name` in d, or -1. */
static int tdef_col(const tdef_t *d, const char *name) {
  for (size_t c = 0; c < d->nc; c++)
    if (!strcmp(d->names[c], name)) return (int)c;
  return -1;
}

/* No rows: Date then the columns. */
static tide_table_t *empty_with_date(size_t nc, const char *const *names, const tide_type_t *types,
                                     tide_error *err) {
  const char **nm = tide_calloc(nc + 1, sizeof *nm);
  tide_type_t *ty = tide_calloc(nc + 1, sizeof *ty);
  tide_table_t *res = NULL;
  if (nm && ty) {
    nm[0] = TIDE_HISTORICAL_DATE_COL;
    ty[0] = TIDE_SYMBOL;
    for (size_t c = 0; c < nc; c++) {
      nm[c + 1] = names[c];
      ty[c + 1] = types[c];
    }
    res = tide_table_create_empty(nc + 1, nm, ty, err);
  } else {
    tide_error_set(err, TIDE_ERR_NOMEM, "historical_table: out of memory");
  }
  tide_free(nm);
  tide_free(ty);
  return res;
}

/* Nothing selected by the date range: the columns of one stored table
 * (its table.tdef only), no rows. */
static tide_table_t *empty_result(const char *db, const char *ns, const char *table,
                                  const tide_historical_query_t *q, tide_error *err) {
  tide_historical_part_t *all = NULL;
  size_t na = 0;
  if (tide_historical_list(db, ns, table, NULL, &all, &na, err) != TIDE_OK) return NULL;
  tide_table_t *res = NULL;
  if (na == 0) {
    tide_error_set(err, TIDE_ERR_NOT_FOUND, "historical_table: no historical data for %s.%s under '%s'",
                   ns, table, db ? db : DEFAULT_DB);
  } else {
    tide_table_t *e = empty_from_tdef(all[0].path, q && q->cols ? q->cols : NULL,
                                      q && q->cols ? q->ncols : 0, err);
    if (e) {
      size_t nc = tide_table_ncols(e);
      const char **names = tide_calloc(nc + 1, sizeof *names);
      tide_type_t *types = tide_calloc(nc + 1, sizeof *types);
      if (names && types) {
        for (size_t c = 0; c < nc; c++) {
          names[c] = tide_table_col_name(e, c);
          types[c] = tide_table_col_type(e, c);
        }
        res = empty_with_date(nc, names, types, err);
      } else {
        tide_error_set(err, TIDE_ERR_NOMEM, "historical_table: out of memory");
      }
      tide_free(names);
      tide_free(types);
      tide_table_free(e);
    }
  }
  tide_historical_parts_free(all, na);
  return res;
}

/* The lazy read (docs/STORAGE.md, "Historical store"): every selected
 * partition's table.tdef is read and checked now (columns, types, row
 * counts); column files are opened only for a zone-map filter's index and
 * SYMBOL dictionaries; values are read on first touch (io/hist_source.c). */
tide_table_t *tide_historical_query(const char *db, const char *ns, const char *table,
                                    const tide_historical_query_t *q, tide_error *err) {
  static const char op[] = "historical_table";
  if (q && q->col) {
    if (tide_db_check_name("column", q->col, NULL) != TIDE_OK || isnan(q->lo) || isnan(q->hi)) {
      tide_error_set(err, TIDE_ERR_INVALID, "%s: bad range filter on column '%s'", op, q->col);
      return NULL;
    }
  }
  if (q && q->cols) {
    for (size_t i = 0; i < q->ncols; i++) {
      bool dup = false;
      for (size_t j = 0; j < i; j++) dup |= q->cols[i] && q->cols[j] && !strcmp(q->cols[i], q->cols[j]);
      if (!q->cols[i] || !strcmp(q->cols[i], TIDE_HISTORICAL_DATE_COL) || dup) {
        tide_error_set(err, TIDE_ERR_INVALID,
                       "%s: column '%s' listed twice or is the partitioning column (Date "
                       "always comes first)",
                       op, q->cols[i] ? q->cols[i] : "(null)");
        return NULL;
      }
    }
  }
  tide_historical_part_t *parts = NULL;
  size_t np = 0;
  if (tide_historical_list(db, ns, table, q, &parts, &np, err) != TIDE_OK) return NULL;
  if (np == 0) return empty_result(db, ns, table, q, err);

  tide_table_t *res = NULL, *lazy = NULL;
  tdef_t *defs = tide_calloc(np, sizeof *defs);
  tide__hist_part_in *in = tide_calloc(np, sizeof *in);
  char ***files = tide_calloc(np, sizeof *files);
  tide_colfile_t ***open = tide_calloc(np, sizeof *open);
  tide_rowset_t **keep = tide_calloc(np, sizeof *keep);
  const char **names = NULL;
  tide_type_t *types = NULL;
  size_t nc = 0, nin = 0;
  char label[600];
  snprintf(label, sizeof label, "%s %s.%s", op, ns, table);
  if (!defs || !in || !files || !open || !keep) goto oom;
  for (size_t p = 0; p < np; p++) {
    if (tdef_load(parts[p].path, &defs[p], err) != TIDE_OK) goto done;
    if (tdef_col(&defs[p], TIDE_HISTORICAL_DATE_COL) >= 0) {
      tide_error_set(err, TIDE_ERR_CORRUPT,
                     "%s: '%s' has a column '" TIDE_HISTORICAL_DATE_COL
                     "' (the partitioning column)",
                     op, parts[p].path);
      goto done;
    }
  }
  /* the columns: the projection, or the first partition's */
  nc = q && q->cols ? q->ncols : defs[0].nc;
  names = tide_calloc(nc + 1, sizeof *names);
  types = tide_calloc(nc + 1, sizeof *types);
  if (!names || !types) goto oom;
  for (size_t k = 0; k < nc; k++) names[k] = q && q->cols ? q->cols[k] : defs[0].names[k];
  for (size_t p = 0; p < np; p++) {
    const tdef_t *d = &defs[p];
    files[p] = tide_calloc(nc + 1, sizeof *files[p]);
    open[p] = tide_calloc(nc + 1, sizeof *open[p]);
    if (!files[p] || !open[p]) goto oom;
    if (!(q && q->cols) && d->nc != nc) goto mismatch;
    for (size_t k = 0; k < nc; k++) {
      int c = tdef_col(d, names[k]);
      if (c < 0) {
        if (q && q->cols) {
          tide_error_set(err, TIDE_ERR_NOT_FOUND, "%s: no column '%s' in '%s'", op, names[k],
                         parts[p].path);
          goto done;
        }
        goto mismatch;
      }
      if (p == 0) types[k] = d->types[c];
      if (d->types[c] != types[k]) goto mismatch;
      if (!(files[p][k] = fmt("%s/%s", parts[p].path, d->files[c]))) goto oom;
    }
  }
  /* zone maps: the filter column's index in each partition */
  for (size_t p = 0; p < np; p++) {
    if (q && q->col) {
      int c = tdef_col(&defs[p], q->col);
      if (c < 0) {
        tide_error_set(err, TIDE_ERR_NOT_FOUND, "%s: no column '%s' in '%s'", op, q->col,
                       parts[p].path);
        goto done;
      }
      char *path = fmt("%s/%s", parts[p].path, defs[p].files[c]);
      if (!path) goto oom;
      tide_colfile_t *f = tide__hist_open(path, err);
      bool skip = false;
      tide_status st = f ? zone_rows(f, path, q, &keep[p], &skip, err) : TIDE_ERR_IO;
      tide_free(path);
      if (st != TIDE_OK) {
        tide_colfile_close(f);
        goto done;
      }
      if (skip) {
        tide_colfile_close(f);
        continue;
      }
      size_t k = 0;
      while (k < nc && strcmp(names[k], q->col)) k++;
      if (k < nc)
        open[p][k] = f; /* the table takes it over */
      else
        tide_colfile_close(f);
    }
    in[nin].date = parts[p].date;
    in[nin].rows = defs[p].rows;
    in[nin].files = (const char *const *)files[p];
    in[nin].open = open[p];
    in[nin].keep = keep[p];
    nin++;
  }
  if (nin == 0) {
    res = empty_with_date(nc, names, types, err); /* every date pruned by its zone map */
    goto done;
  }
  lazy = tide__hist_table(label, in, nin, nc, names, types, err);
  if (!lazy) goto done;
  if (q && q->col) {
    char filt[512];
    int k = snprintf(filt, sizeof filt, "!isNull(%s)", q->col);
    if (isfinite(q->lo)) k += snprintf(filt + k, sizeof filt - k, " && %s >= %.17g", q->col, q->lo);
    if (isfinite(q->hi)) k += snprintf(filt + k, sizeof filt - k, " && %s <= %.17g", q->col, q->hi);
    if (q->lo == INFINITY || q->hi == -INFINITY)
      snprintf(filt + k, sizeof filt - k, " && false");
    res = tide_where(lazy, filt, err);
  } else {
    res = tide_table_retain(lazy);
  }
  goto done;
mismatch:
  tide_error_set(err, TIDE_ERR_INVALID,
                 "%s: %s.%s: the partitions do not have the same columns ('%s' and '%s')", op, ns,
                 table, parts[0].path, parts[nin < np ? np - 1 : 0].path);
  for (size_t p = 1; p < np; p++) {
    bool same = defs[p].nc == defs[0].nc;
    for (size_t c = 0; same && c < defs[0].nc; c++) {
      int x = tdef_col(&defs[p], defs[0].names[c]);
      same = x >= 0 && defs[p].types[x] == defs[0].types[c];
    }
    if (!same) {
      tide_error_set(err, TIDE_ERR_INVALID,
                     "%s: %s.%s: the partitions do not have the same columns ('%s' and '%s')", op,
                     ns, table, parts[0].path, parts[p].path);
      break;
    }
  }
  goto done;
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "%s: out of memory", op);
done:
  tide_table_free(lazy);
  for (size_t p = 0; p < np; p++) {
    if (files && files[p]) {
      for (size_t k = 0; k < nc; k++) tide_free(files[p][k]);
      tide_free(files[p]);
    }
    if (open && open[p]) {
      for (size_t k = 0; k < nc; k++) tide_colfile_close(open[p][k]);
      tide_free(open[p]);
    }
    if (keep) tide_rowset_free(keep[p]);
    if (defs) tdef_free(&defs[p]);
  }
  tide_free(defs);
  tide_free(in);
  tide_free(files);
  tide_free(open);
  tide_free(keep);
  tide_free(names);
  tide_free(types);
  tide_historical_parts_free(parts, np);
  return res;
}

tide_table_t *tide_historical_table(const char *db, const char *ns, const char *table,
                                    tide_error *err) {
  return tide_historical_query(db, ns, table, NULL, err);
}
