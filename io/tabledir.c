/*
 * Table directories (include/tide/storage.h): one column file per column
 * and the definition file table.tdef, written under a temporary name and
 * renamed into place after every file and the directory are fsync-ed.
 *
 * table.tdef (text, one item per line):
 *   tide-table 1
 *   rows N
 *   columns C
 *   column NAME TYPE CODEC FILE      (C lines)
 *   checksum HEX                     (tide__checksum64 of all lines above)
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io_int.h"
#include "tide/storage.h"

#define TDEF "table.tdef"
#define TDEF_MAX (1u << 20)

/* fsync a directory (its entries: new and renamed files). */
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

static void remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *de;
    char p[4096];
    while ((de = readdir(d))) {
      if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
      snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
      unlink(p);
    }
    closedir(d);
  }
  rmdir(dir);
}

typedef struct tdef_ctx {
  const tide_table_t *t;
  tide_codec_t codec;
} tdef_ctx;

static tide_status tdef_writer(FILE *f, void *ctx, tide_error *err) {
  tdef_ctx *c = ctx;
  size_t nc = tide_table_ncols(c->t);
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  if (!m) return tide_error_set(err, TIDE_ERR_NOMEM, "write_table: out of memory");
  fprintf(m, "tide-table 1\nrows %" PRIu64 "\ncolumns %zu\n", tide_table_size(c->t), nc);
  for (size_t i = 0; i < nc; i++) {
    const char *name = tide_table_col_name(c->t, i);
    fprintf(m, "column %s %s %s %s.col\n", name,
            tide_type_name(tide_source_type(tide_table_col_source(c->t, i))),
            tide_codec_name(c->codec), name);
  }
  if (fclose(m) != 0) {
    free(buf);
    return tide_error_set(err, TIDE_ERR_NOMEM, "write_table: out of memory");
  }
  uint64_t h = tide__checksum64(buf, len);
  int ok = fwrite(buf, 1, len, f) == len && fprintf(f, "checksum %016" PRIx64 "\n", h) > 0;
  free(buf);
  return ok ? TIDE_OK : tide_error_set(err, TIDE_ERR_IO, "write_table: write failed: %s",
                                       strerror(errno));
}

tide_status tide_table_write_dir(const tide_table_t *t, const char *dir, tide_codec_t codec,
                                 tide_error *err) {
  if (!t || !dir || !*dir)
    return tide_error_set(err, TIDE_ERR_INVALID, "write_table: no table or directory");
  if (tide_table_is_refreshing(t))
    return tide_error_set(err, TIDE_ERR_UNSUPPORTED,
                          "write_table: the table is ticking (write a snapshot())");
  struct stat sb;
  if (stat(dir, &sb) == 0)
    return tide_error_set(err, TIDE_ERR_INVALID, "write_table: '%s' already exists", dir);
  size_t dl = strlen(dir);
  char *tmp = tide_malloc(dl + 32), *path = tide_malloc(dl + 64 + 256);
  if (!tmp || !path) {
    tide_free(tmp);
    tide_free(path);
    return tide_error_set(err, TIDE_ERR_NOMEM, "write_table: out of memory");
  }
  snprintf(tmp, dl + 32, "%s.tmp.%ld", dir, (long)getpid());
  remove_tree(tmp); /* a leftover of an earlier crashed write by a process of this pid */
  tide_status st = TIDE_OK;
  if (mkdir(tmp, 0777) != 0) {
    st = tide_error_set(err, TIDE_ERR_IO, "write_table: cannot create '%s': %s", tmp,
                        strerror(errno));
    goto done;
  }
  for (size_t i = 0; i < tide_table_ncols(t) && st == TIDE_OK; i++) {
    snprintf(path, dl + 64 + 256, "%s/%s.col", tmp, tide_table_col_name(t, i));
    st = tide_column_write(t, i, path, codec, err);
  }
  if (st == TIDE_OK) {
    snprintf(path, dl + 64 + 256, "%s/" TDEF, tmp);
    tdef_ctx c = {t, codec};
    st = tide__file_write_atomic(path, "write_table", tdef_writer, &c, err);
  }
  if (st == TIDE_OK) st = sync_dir(tmp, err);
  if (st == TIDE_OK && rename(tmp, dir) != 0)
    st = tide_error_set(err, TIDE_ERR_IO, "write_table: cannot rename '%s' to '%s': %s", tmp, dir,
                        strerror(errno));
  if (st == TIDE_OK) {
    /* the parent directory holds the new entry */
    char *parent = tide_malloc(dl + 2);
    if (parent) {
      strcpy(parent, dir);
      char *slash = strrchr(parent, '/');
      if (!slash)
        strcpy(parent, ".");
      else if (slash == parent)
        parent[1] = '\0';
      else
        *slash = '\0';
      st = sync_dir(parent, err);
      tide_free(parent);
    }
  } else {
    remove_tree(tmp);
  }
done:
  tide_free(tmp);
  tide_free(path);
  return st;
}

static tide_table_t *tdef_error(const char *file, int line, const char *what, tide_error *err) {
  tide_error_set(err, TIDE_ERR_CORRUPT, "%s:%d: %s", file, line, what);
  return NULL;
}

tide_table_t *tide_table_read_dir(const char *dir, tide_error *err) {
  if (!dir || !*dir) {
    tide_error_set(err, TIDE_ERR_INVALID, "read_table: no directory");
    return NULL;
  }
  size_t dl = strlen(dir);
  char file[4352];
  if (dl > 4000) {
    tide_error_set(err, TIDE_ERR_INVALID, "read_table: path too long");
    return NULL;
  }
  snprintf(file, sizeof file, "%s/" TDEF, dir);
  FILE *f = fopen(file, "rb");
  if (!f) {
    struct stat sb;
    bool isdir = stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode);
    tide_error_set(err, errno == ENOENT ? TIDE_ERR_NOT_FOUND : TIDE_ERR_IO,
                   isdir ? "read_table: '%s' is not a tide table (no " TDEF ")"
                         : "read_table: no table directory '%s'",
                   dir);
    return NULL;
  }
  char *text = tide_malloc(TDEF_MAX + 1);
  size_t len = text ? fread(text, 1, TDEF_MAX + 1, f) : 0;
  fclose(f);
  if (!text) {
    tide_error_set(err, TIDE_ERR_NOMEM, "read_table: out of memory");
    return NULL;
  }
  if (len > TDEF_MAX) {
    tide_free(text);
    return tdef_error(file, 1, "definition file too large", err);
  }
  text[len] = '\0';
  tide_table_t *res = NULL;
  char **names = NULL;
  tide_source_t **srcs = NULL;
  size_t ncols = 0, made = 0;
  uint64_t rows = 0;
  /* checksum: the last line covers everything before it */
  char *cl = len ? strstr(text, "checksum ") : NULL;
  while (cl && cl != text && cl[-1] != '\n') cl = strstr(cl + 1, "checksum ");
  uint64_t want = 0;
  char *endp = NULL;
  if (!cl || (want = strtoull(cl + 9, &endp, 16), endp == cl + 9) || strcmp(endp, "\n") != 0) {
    tdef_error(file, 0, "no checksum line at the end (truncated or not a tide table)", err);
    goto done;
  }
  if (tide__checksum64(text, (size_t)(cl - text)) != want) {
    tdef_error(file, 0, "checksum mismatch (the file is damaged)", err);
    goto done;
  }
  *cl = '\0';
  int line = 0;
  char *save = NULL;
  for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    line++;
    char a[256], b[256], c[256], d[256];
    if (line == 1) {
      unsigned v;
      if (sscanf(l, "tide-table %u", &v) != 1) {
        tdef_error(file, line, "not a tide table definition", err);
        goto done;
      }
      if (v != 1) {
        tide_error_set(err, TIDE_ERR_CORRUPT, "%s:1: table format version %u (this tide reads 1)",
                       file, v);
        goto done;
      }
    } else if (line == 2) {
      if (sscanf(l, "rows %" SCNu64, &rows) != 1) {
        tdef_error(file, line, "expected 'rows N'", err);
        goto done;
      }
    } else if (line == 3) {
      if (sscanf(l, "columns %zu", &ncols) != 1 || ncols > 100000) {
        tdef_error(file, line, "expected 'columns C'", err);
        goto done;
      }
      names = tide_calloc(ncols ? ncols : 1, sizeof *names);
      srcs = tide_calloc(ncols ? ncols : 1, sizeof *srcs);
      if (!names || !srcs) {
        tide_error_set(err, TIDE_ERR_NOMEM, "read_table: out of memory");
        goto done;
      }
    } else {
      tide_type_t ty;
      tide_codec_t co;
      if (made >= ncols || sscanf(l, "column %255s %255s %255s %255s", a, b, c, d) != 4 ||
          !tide_type_from_name(b, &ty) || tide_codec_parse(c, &co, NULL) != TIDE_OK ||
          strchr(d, '/') || !strcmp(d, "..") || !strcmp(d, ".")) {
        tdef_error(file, line, "expected 'column NAME TYPE CODEC FILE' (a file inside the table)",
                   err);
        goto done;
      }
      names[made] = tide_malloc(strlen(a) + 1);
      if (!names[made]) {
        tide_error_set(err, TIDE_ERR_NOMEM, "read_table: out of memory");
        goto done;
      }
      strcpy(names[made], a);
      char cpath[4352];
      snprintf(cpath, sizeof cpath, "%s/%s", dir, d);
      tide_colfile_t *cf = tide_colfile_open(cpath, err);
      if (!cf) goto done;
      if (tide_colfile_type(cf) != ty || tide_colfile_rows(cf) != rows) {
        tide_error_set(err, TIDE_ERR_CORRUPT,
                       "%s: holds %llu %s values; %s says %llu %s values", cpath,
                       (unsigned long long)tide_colfile_rows(cf),
                       tide_type_name(tide_colfile_type(cf)), file, (unsigned long long)rows,
                       tide_type_name(ty));
        tide_colfile_close(cf);
        goto done;
      }
      srcs[made] = tide_colfile_source(cf, err);
      tide_colfile_close(cf);
      if (!srcs[made]) goto done;
      made++;
    }
  }
  if (line < 3 || made != ncols) {
    tdef_error(file, line, "the definition lists fewer columns than it says", err);
    goto done;
  }
  tide_rowset_t *rs = rows ? tide_rowset_create_range(0, rows - 1) : tide_rowset_create();
  if (!rs) {
    tide_error_set(err, TIDE_ERR_NOMEM, "read_table: out of memory");
    goto done;
  }
  res = tide_table_create(rs, ncols, (const char *const *)names, srcs, err);
  tide_rowset_free(rs);
done:
  for (size_t i = 0; i < ncols && names; i++) tide_free(names[i]);
  for (size_t i = 0; i < ncols && srcs; i++) tide_source_release(srcs[i]);
  tide_free(names);
  tide_free(srcs);
  tide_free(text);
  return res;
}
