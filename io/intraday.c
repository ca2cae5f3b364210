/*
 * The intraday store (include/tide/intraday.h; layout and crash-safety
 * rules in docs/STORAGE.md, "Intraday partitions").
 *
 * A partition directory DB/Intraday/NS/TABLE/DATE holds
 *   intraday.schema   the columns (text, with a checksum), written once
 *   writer.lock       flock-ed by the one appender (holds its pid)
 *   NAME.dat          per column, fixed-size records appended per commit:
 *                     the values (fixed-width types), u64 heap end offsets
 *                     with bit 63 = null (STRING) or int32 codes (SYMBOL)
 *   NAME.heap         STRING: the bytes of the values; SYMBOL: the
 *                     dictionary, entries (u32 length, bytes) in code order
 *   commit.log        one fixed-size record per commit: row counts, every
 *                     column file's committed size and the checksum of the
 *                     bytes the commit added to it, and its own checksum
 *
 * Commit order: column files written and fsync-ed, then the record
 * appended to commit.log and fsync-ed. Readers trust only complete,
 * checksummed records; the appender cuts everything past the last record
 * off when it opens.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io/io_int.h"
#include "tide/intraday.h"

#define REC_MAGIC "TIDEICR1"
#define SCHEMA_FILE "intraday.schema"
#define LOG_FILE "commit.log"
#define LOCK_FILE "writer.lock"
#define STR_NULL_BIT ((uint64_t)1 << 63)
#define SCHEMA_MAX (1u << 20)
#define MAX_COLS 4096

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
static uint64_t get64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* A commit record read back: REC_OK (magic and checksum right),
 * REC_UNWRITTEN (the last record and all zeros: space allocated, never
 * written, so not a commit), or REC_BAD (damaged). */
enum { REC_OK, REC_UNWRITTEN, REC_BAD };
static int rec_state(const uint8_t *p, size_t R, bool last) {
  if (get64(p + R - 8) == tide__checksum64(p, R - 8) && memcmp(p, REC_MAGIC, 8) == 0)
    return REC_OK;
  bool zero = true;
  for (size_t k = 0; k < R && zero; k++) zero = p[k] == 0;
  return last && zero ? REC_UNWRITTEN : REC_BAD;
}

/* ----------------------------------------------------------- names */

tide_status tide_intraday_check_name(const char *what, const char *name, tide_error *err) {
  if (!name || !*name)
    return tide_error_set(err, TIDE_ERR_INVALID, "intraday: the %s name is empty", what);
  size_t l = strlen(name);
  if (l > 255)
    return tide_error_set(err, TIDE_ERR_INVALID, "intraday: the %s name is longer than 255 bytes",
                          what);
  if (name[0] == '.')
    return tide_error_set(err, TIDE_ERR_INVALID,
                          "intraday: %s name '%s' starts with '.' (refused: it could escape or "
                          "hide in the database root)",
                          what, name);
  for (size_t i = 0; i < l; i++) {
    unsigned char ch = (unsigned char)name[i];
    if (ch == '/' || ch == '\\')
      return tide_error_set(err, TIDE_ERR_INVALID,
                            "intraday: %s name '%s' contains '%c' (refused: names are single "
                            "directory names inside the database root)",
                            what, name, ch);
    if (ch < 0x20 || ch == 0x7f)
      return tide_error_set(err, TIDE_ERR_INVALID,
                            "intraday: %s name contains the control character 0x%02x", what, ch);
  }
  return TIDE_OK;
}

tide_status tide_intraday_check_date(const char *date, tide_error *err) {
  static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool ok = date && strlen(date) == 10 && date[4] == '-' && date[7] == '-';
  for (int i = 0; ok && i < 10; i++)
    if (i != 4 && i != 7 && (date[i] < '0' || date[i] > '9')) ok = false;
  if (ok) {
    int y = atoi(date), m = atoi(date + 5), d = atoi(date + 8);
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    int md = m >= 1 && m <= 12 ? mdays[m - 1] + (m == 2 && leap) : 0;
    ok = y >= 1 && md && d >= 1 && d <= md;
  }
  if (!ok)
    return tide_error_set(err, TIDE_ERR_INVALID,
                          "intraday: date '%s' is not a calendar day YYYY-MM-DD",
                          date ? date : "(null)");
  return TIDE_OK;
}

void tide_intraday_today(char *buf, size_t cap) {
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(buf, cap, "%Y-%m-%d", &tm);
}

/* DB/Intraday/NS/TABLE/DATE after checking every part; NULL with err. */
static char *part_dir(const char *db, const char *ns, const char *table, const char *date,
                      tide_error *err) {
  if (tide_intraday_check_name("namespace", ns, err) != TIDE_OK ||
      tide_intraday_check_name("table", table, err) != TIDE_OK ||
      tide_intraday_check_date(date, err) != TIDE_OK)
    return NULL;
  if (!db || !*db) db = TIDE_DB_DEFAULT;
  size_t n = strlen(db) + strlen(ns) + strlen(table) + 32;
  if (n > 3800) {
    tide_error_set(err, TIDE_ERR_INVALID, "intraday: the database path is too long");
    return NULL;
  }
  char *p = tide_malloc(n);
  if (!p) {
    tide_error_set(err, TIDE_ERR_NOMEM, "intraday: out of memory");
    return NULL;
  }
  snprintf(p, n, "%s/Intraday/%s/%s/%s", db, ns, table, date);
  return p;
}

/* fsync a directory (new entries in it). */
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

/* mkdir -p; every directory created is made durable by an fsync of its
 * parent. */
static tide_status make_dirs(const char *path, tide_error *err) {
  char buf[4096];
  size_t l = strlen(path);
  if (l >= sizeof buf) return tide_error_set(err, TIDE_ERR_INVALID, "intraday: path too long");
  memcpy(buf, path, l + 1);
  for (size_t i = 1; i <= l; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char save = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, 0777) == 0) {
      char *slash = strrchr(buf, '/');
      tide_status st;
      if (!slash) {
        st = sync_dir(".", err);
      } else if (slash == buf) {
        st = sync_dir("/", err);
      } else {
        *slash = '\0';
        st = sync_dir(buf, err);
        *slash = '/';
      }
      if (st != TIDE_OK) return st;
    } else if (errno != EEXIST) {
      return tide_error_set(err, TIDE_ERR_IO, "intraday: cannot create directory '%s': %s", buf,
                            strerror(errno));
    } else {
      struct stat sb;
      if (stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return tide_error_set(err, TIDE_ERR_IO, "intraday: '%s' exists and is not a directory",
                              buf);
    }
    buf[i] = save;
  }
  return TIDE_OK;
}

static tide_status write_full(int fd, const void *p, size_t n, uint64_t off, const char *path,
                              tide_error *err) {
  const uint8_t *q = p;
  while (n) {
    ssize_t w = pwrite(fd, q, n, (off_t)off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return tide_error_set(err, TIDE_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    }
    q += w;
    n -= (size_t)w;
    off += (uint64_t)w;
  }
  return TIDE_OK;
}

/* Read exactly n bytes at off; false on a short file or an error (errno
 * 0 for a short file). */
static bool read_full(int fd, void *p, size_t n, uint64_t off) {
  uint8_t *q = p;
  while (n) {
    ssize_t r = pread(fd, q, n, (off_t)off);
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (r == 0) {
      errno = 0;
      return false;
    }
    q += r;
    n -= (size_t)r;
    off += (uint64_t)r;
  }
  return true;
}

static tide_status sync_fd(int fd, const char *path, tide_error *err) {
  if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
    return tide_error_set(err, TIDE_ERR_IO, "%s: cannot sync: %s", path, strerror(errno));
  return TIDE_OK;
}

/* ----------------------------------------------------------- schema */

typedef struct schema {
  size_t ncols;
  char **names;
  tide_type_t *types;
} schema;

static void schema_free(schema *s) {
  for (size_t i = 0; s->names && i < s->ncols; i++) tide_free(s->names[i]);
  tide_free(s->names);
  tide_free(s->types);
  memset(s, 0, sizeof *s);
}

static tide_status schema_init(schema *s, size_t ncols, const char *const *names,
                               const tide_type_t *types, tide_error *err) {
  memset(s, 0, sizeof *s);
  if (ncols > MAX_COLS)
    return tide_error_set(err, TIDE_ERR_INVALID, "intraday: %zu columns (at most %d)", ncols,
                          MAX_COLS);
  s->names = tide_calloc(ncols ? ncols : 1, sizeof *s->names);
  s->types = tide_calloc(ncols ? ncols : 1, sizeof *s->types);
  if (!s->names || !s->types) {
    schema_free(s);
    return tide_error_set(err, TIDE_ERR_NOMEM, "intraday: out of memory");
  }
  s->ncols = ncols;
  for (size_t i = 0; i < ncols; i++) {
    if (!names[i] || !tide__is_identifier(names[i]) || strlen(names[i]) > 200) {
      tide_error_set(err, TIDE_ERR_INVALID,
                     "intraday: column name '%s' is not an identifier (letters, digits, '_')",
                     names[i] ? names[i] : "(null)");
      schema_free(s);
      return TIDE_ERR_INVALID;
    }
    if ((unsigned)types[i] >= TIDE_TYPE_COUNT) {
      tide_error_set(err, TIDE_ERR_INVALID, "intraday: column '%s' has an invalid type %d",
                     names[i], (int)types[i]);
      schema_free(s);
      return TIDE_ERR_INVALID;
    }
    for (size_t j = 0; j < i; j++)
      if (!strcmp(names[j], names[i])) {
        tide_error_set(err, TIDE_ERR_INVALID, "intraday: duplicate column '%s'", names[i]);
        schema_free(s);
        return TIDE_ERR_INVALID;
      }
    if (!(s->names[i] = tide_strdup(names[i]))) {
      schema_free(s);
      return tide_error_set(err, TIDE_ERR_NOMEM, "intraday: out of memory");
    }
    s->types[i] = types[i];
  }
  return TIDE_OK;
}

static tide_status schema_writer(FILE *f, void *ctx, tide_error *err) {
  const schema *s = ctx;
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  if (!m) return tide_error_set(err, TIDE_ERR_NOMEM, "intraday: out of memory");
  fprintf(m, "tide-intraday 1\ncolumns %zu\n", s->ncols);
  for (size_t i = 0; i < s->ncols; i++)
    fprintf(m, "column %s %s\n", s->names[i], tide_type_name(s->types[i]));
  if (fclose(m) != 0) {
    free(buf);
    return tide_error_set(err, TIDE_ERR_NOMEM, "intraday: out of memory");
  }
  uint64_t h = tide__checksum64(buf, len);
  int ok = fwrite(buf, 1, len, f) == len && fprintf(f, "checksum %016" PRIx64 "\n", h) > 0;
  free(buf);
  return ok ? TIDE_OK
            : tide_error_set(err, TIDE_ERR_IO, "intraday: writing the schema failed: %s",
                             strerror(errno));
}

/* Read DIR/intraday.schema; TIDE_ERR_NOT_FOUND when absent. */
static tide_status schema_read(const char *dir, schema *s, tide_error *err) {
  memset(s, 0, sizeof *s);
  char file[4096];
  snprintf(file, sizeof file, "%s/" SCHEMA_FILE, dir);
  FILE *f = fopen(file, "rb");
  if (!f)
    return tide_error_set(err, errno == ENOENT ? TIDE_ERR_NOT_FOUND : TIDE_ERR_IO,
                          "%s: cannot open: %s", file, strerror(errno));
  char *text = tide_malloc(SCHEMA_MAX + 1);
  size_t len = text ? fread(text, 1, SCHEMA_MAX + 1, f) : 0;
  fclose(f);
  if (!text) return tide_error_set(err, TIDE_ERR_NOMEM, "intraday: out of memory");
  tide_status st = TIDE_OK;
  char **names = NULL;
  tide_type_t *types = NULL;
  size_t ncols = 0, made = 0;
  if (len > SCHEMA_MAX) {
    st = tide_error_set(err, TIDE_ERR_CORRUPT, "%s: too large (not a tide schema)", file);
    goto done;
  }
  text[len] = '\0';
  char *cl = len ? strstr(text, "checksum ") : NULL;
  while (cl && cl != text && cl[-1] != '\n') cl = strstr(cl + 1, "checksum ");
  char *endp = NULL;
  uint64_t want = 0;
  if (!cl || (want = strtoull(cl + 9, &endp, 16), endp == cl + 9) || strcmp(endp, "\n") != 0) {
    st = tide_error_set(err, TIDE_ERR_CORRUPT,
                        "%s: no checksum line at the end (truncated or not a tide schema)", file);
    goto done;
  }
  if (tide__checksum64(text, (size_t)(cl - text)) != want) {
    st = tide_error_set(err, TIDE_ERR_CORRUPT, "%s: checksum mismatch (the file is damaged)",
                        file);
    goto done;
  }
  *cl = '\0';
  int line = 0;
  char *save = NULL;
  for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    line++;
    char a[256], b[256];
    unsigned v;
    if (line == 1) {
      if (sscanf(l, "tide-intraday %u", &v) != 1 || v != 1) {
        st = tide_error_set(err, TIDE_ERR_CORRUPT,
                            "%s:1: not a version 1 tide intraday schema", file);
        goto done;
      }
    } else if (line == 2) {
      if (sscanf(l, "columns %zu", &ncols) != 1 || ncols > MAX_COLS) {
        st = tide_error_set(err, TIDE_ERR_CORRUPT, "%s:2: expected 'columns C'", file);
        goto done;
      }
      names = tide_calloc(ncols ? ncols : 1, sizeof *names);
      types = tide_calloc(ncols ? ncols : 1, sizeof *types);
      if (!names || !types) {
        st = tide_error_set(err, TIDE_ERR_NOMEM, "intraday: out of memory");
        goto done;
      }
    } else {
      if (made >= ncols || sscanf(l, "column %255s %255s", a, b) != 2 ||
          !tide_type_from_name(b, &types[made])) {
        st = tide_error_set(err, TIDE_ERR_CORRUPT, "%s:%d: expected 'column NAME TYPE'", file,
                            line);
        goto done;
      }
      if (!(names[made] = tide_strdup(a))) {
        st = tide_error_set(err, TIDE_ERR_NOMEM, "intraday: out of memory");
        goto done;
      }
      made++;
    }
  }
  if (line < 2 || made != ncols) {
    st = tide_error_set(err, TIDE_ERR_CORRUPT, "%s: lists %zu of its %zu columns", file, made,
                        ncols);
    goto done;
  }
  st = schema_init(s, ncols, (const char *const *)names, types, err);
  if (st != TIDE_OK) tide_error_prefix(err, "%s", file);
done:
  for (size_t i = 0; names && i < ncols; i++) tide_free(names[i]);
  tide_free(names);
  tide_free(types);
  tide_free(text);
  return st;
}

/* Bytes per row in NAME.dat. */
static size_t dat_width(tide_type_t t) {
  return t == TIDE_STRING ? 8 : t == TIDE_SYMBOL ? 4 : tide_type_width(t);
}
static bool has_heap(tide_type_t t) { return t == TIDE_STRING || t == TIDE_SYMBOL; }

/* -------------------------------------------------------- commit log */

/* Record: magic(8) seq(8) rows_before(8) rows_after(8) ncols(4) reserved(4)
 * then per column dat_end, heap_end, dat_sum, heap_sum (u64 each), then a
 * checksum of everything before it. */
static size_t rec_size(size_t ncols) { return 48 + 32 * ncols; }

typedef struct colrec {
  uint64_t dat_end, heap_end, dat_sum, heap_sum;
} colrec;

typedef struct commit_log {
  uint64_t nrec;
  uint64_t *rows; /* nrec + 1: rows[0] = 0, rows[i + 1] after commit i */
  colrec *cr;     /* nrec * ncols */
  uint64_t file_bytes;
} commit_log;

static void log_free(commit_log *l) {
  tide_free(l->rows);
  tide_free(l->cr);
  memset(l, 0, sizeof *l);
}

static const colrec *log_col(const commit_log *l, size_t ncols, uint64_t rec, size_t c) {
  return &l->cr[rec * ncols + c];
}

/* Committed end of column c's files (after every record). */
static void log_ends(const commit_log *l, size_t ncols, size_t c, uint64_t *dat, uint64_t *heap) {
  if (!l->nrec) {
    *dat = *heap = 0;
    return;
  }
  const colrec *r = log_col(l, ncols, l->nrec - 1, c);
  *dat = r->dat_end;
  *heap = r->heap_end;
}

/* Load DIR/commit.log. A partial last record and an all-zero last record
 * (a write or a power loss that did not complete) are not commits. A last
 * full record with a bad checksum is TIDE_ERR_CORRUPT with *tail_bad set:
 * a write in progress for a concurrent reader, damage otherwise. Any other
 * bad or inconsistent record is TIDE_ERR_CORRUPT. A missing file is an
 * empty log. */
static tide_status log_load(const char *dir, const schema *s, commit_log *out, bool *tail_bad,
                            tide_error *err) {
  memset(out, 0, sizeof *out);
  *tail_bad = false;
  char file[4096];
  snprintf(file, sizeof file, "%s/" LOG_FILE, dir);
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      out->rows = tide_calloc(1, sizeof *out->rows);
      return out->rows ? TIDE_OK : tide_error_set(err, TIDE_ERR_NOMEM, "intraday: out of memory");
    }
    return tide_error_set(err, TIDE_ERR_IO, "%s: cannot open: %s", file, strerror(errno));
  }
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    close(fd);
    return tide_error_set(err, TIDE_ERR_IO, "%s: cannot stat: %s", file, strerror(errno));
  }
  const size_t nc = s->ncols, R = rec_size(nc);
  uint64_t size = (uint64_t)sb.st_size, nfull = size / R;
  uint8_t *buf = tide_malloc(nfull * R + 1);
  out->rows = tide_calloc(nfull + 1, sizeof *out->rows);
  out->cr = tide_calloc(nfull * nc + 1, sizeof *out->cr);
  if (!buf || !out->rows || !out->cr) {
    close(fd);
    tide_free(buf);
    log_free(out);
    return tide_error_set(err, TIDE_ERR_NOMEM, "intraday: out of memory reading %s", file);
  }
  bool got = nfull == 0 || read_full(fd, buf, nfull * R, 0);
  int e = errno;
  close(fd);
  tide_status st = TIDE_OK;
  if (!got) {
    /* shrank under us: only the appender's recovery truncates, and only
     * past the committed records; read again */
    *tail_bad = !e;
    st = tide_error_set(err, e ? TIDE_ERR_IO : TIDE_ERR_CORRUPT, "%s: read failed: %s", file,
                        e ? strerror(e) : "the file shrank while being read");
    goto done;
  }
  out->file_bytes = size;
  for (uint64_t i = 0; i < nfull; i++) {
    const uint8_t *p = buf + i * R;
    bool last = i + 1 == nfull;
    int rs = rec_state(p, R, last);
    if (rs == REC_UNWRITTEN) break;
    if (rs == REC_BAD) {
      *tail_bad = last;
      st = tide_error_set(err, TIDE_ERR_CORRUPT,
                          "%s: commit record %" PRIu64 " of %" PRIu64
                          ": checksum mismatch (the file is damaged)",
                          file, i, nfull);
      goto done;
    }
    uint64_t before = get64(p + 16), after = get64(p + 24);
    bool bad = get64(p + 8) != i || before != out->rows[i] || after < before ||
               get32(p + 32) != nc;
    for (size_t c = 0; c < nc && !bad; c++) {
      colrec *r = &out->cr[i * nc + c];
      const uint8_t *q = p + 40 + 32 * c;
      r->dat_end = get64(q);
      r->heap_end = get64(q + 8);
      r->dat_sum = get64(q + 16);
      r->heap_sum = get64(q + 24);
      uint64_t prev_heap = i ? out->cr[(i - 1) * nc + c].heap_end : 0;
      bad = r->dat_end / dat_width(s->types[c]) != after ||
            r->dat_end % dat_width(s->types[c]) != 0 || r->heap_end < prev_heap ||
            (!has_heap(s->types[c]) && r->heap_end != 0);
    }
    if (bad) {
      st = tide_error_set(err, TIDE_ERR_CORRUPT,
                          "%s: commit record %" PRIu64 " is inconsistent with the ones before it",
                          file, i);
      goto done;
    }
    out->rows[i + 1] = after;
    out->nrec = i + 1;
  }
done:
  tide_free(buf);
  if (st != TIDE_OK) log_free(out);
  return st;
}

/* The reader's load: a bad last record may be a commit being written;
 * look again a few times before calling it damage. */
static tide_status log_load_reader(const char *dir, const schema *s, commit_log *out,
                                   tide_error *err) {
  for (int attempt = 0;; attempt++) {
    bool tail_bad;
    tide_status st = log_load(dir, s, out, &tail_bad, err);
    if (!tail_bad || attempt == 8) return st;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
}

/* ------------------------------------------------------ column loading */

/* Open DIR/NAME.EXT read-only (or read-write); -1 with err set. */
static int open_col(const char *dir, const char *name, const char *ext, int flags, char *path,
                    size_t cap, tide_error *err) {
  snprintf(path, cap, "%s/%s.%s", dir, name, ext);
  int fd = open(path, flags | O_CLOEXEC, 0666);
  if (fd < 0)
    tide_error_set(err, errno == ENOENT ? TIDE_ERR_CORRUPT : TIDE_ERR_IO,
                   "%s: cannot open: %s%s", path, strerror(errno),
                   errno == ENOENT ? " (a committed column file is missing)" : "");
  return fd;
}

/* First commit batch holding row `from` (nrec when from >= committed). */
static uint64_t batch_of(const commit_log *l, uint64_t from) {
  uint64_t lo = 0, hi = l->nrec;
  while (lo < hi) { /* first i with rows[i + 1] > from */
    uint64_t mid = (lo + hi) / 2;
    if (l->rows[mid + 1] > from) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/* Read bytes [lo, hi) of a column file into buf and verify the checksums
 * of batches b0.. (which start at lo) that end by hi; `heap` selects the
 * heap file's sums. */
static tide_status read_verified(int fd, const char *path, const commit_log *l, size_t nc,
                                 size_t c, bool heap, uint64_t b0, uint64_t lo, uint64_t hi,
                                 uint8_t *buf, tide_error *err) {
  struct stat sb;
  if (fstat(fd, &sb) != 0)
    return tide_error_set(err, TIDE_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
  if ((uint64_t)sb.st_size < hi) {
    /* name the first batch that is cut */
    uint64_t b = b0;
    while (b < l->nrec) {
      const colrec *r = log_col(l, nc, b, c);
      if ((heap ? r->heap_end : r->dat_end) > (uint64_t)sb.st_size) break;
      b++;
    }
    if (b >= l->nrec) b = l->nrec ? l->nrec - 1 : 0;
    return tide_error_set(err, TIDE_ERR_CORRUPT,
                          "%s: holds %llu bytes; commit batch %" PRIu64 " (rows %" PRIu64
                          "..%" PRIu64 ") needs %llu (the file was truncated)",
                          path, (unsigned long long)sb.st_size, b, l->rows[b],
                          l->rows[b + 1] ? l->rows[b + 1] - 1 : 0, (unsigned long long)hi);
  }
  if (hi > lo && !read_full(fd, buf, hi - lo, lo))
    return tide_error_set(err, TIDE_ERR_IO, "%s: read failed: %s", path,
                          errno ? strerror(errno) : "short read");
  uint64_t start = lo;
  for (uint64_t b = b0; b < l->nrec; b++) {
    const colrec *r = log_col(l, nc, b, c);
    uint64_t end = heap ? r->heap_end : r->dat_end;
    if (end > hi) break;
    uint64_t sum = tide__checksum64(buf + (start - lo), end - start);
    if (sum != (heap ? r->heap_sum : r->dat_sum))
      return tide_error_set(err, TIDE_ERR_CORRUPT,
                            "%s: commit batch %" PRIu64 " (rows %" PRIu64 "..%" PRIu64
                            "): checksum mismatch (the file is damaged)",
                            path, b, l->rows[b], l->rows[b + 1] ? l->rows[b + 1] - 1 : 0);
    start = end;
  }
  return TIDE_OK;
}

/* Parse a symbol dictionary heap (entries u32 length + bytes) into st. */
static tide_status parse_dict(const uint8_t *h, uint64_t n, tide_symtab_t *st, const char *path,
                              tide_error *err) {
  uint64_t off = 0;
  while (off < n) {
    uint32_t l = n - off >= 4 ? get32(h + off) : UINT32_MAX;
    if (l == UINT32_MAX || l > n - off - 4)
      return tide_error_set(err, TIDE_ERR_CORRUPT,
                            "%s: symbol dictionary entry %u overruns the file (damaged)", path,
                            tide_symtab_size(st));
    int32_t before = (int32_t)tide_symtab_size(st);
    int32_t code = tide_symtab_intern(st, (const char *)h + off + 4, l);
    if (code < 0) return tide_error_set(err, TIDE_ERR_NOMEM, "intraday: out of memory");
    if (code != before)
      return tide_error_set(err, TIDE_ERR_CORRUPT,
                            "%s: symbol dictionary entry %d duplicates entry %d (damaged)", path,
                            before, code);
    off += 4 + (uint64_t)l;
  }
  return TIDE_OK;
}

/* Column c, rows [from, committed), as a flat source. */
static tide_source_t *load_column(const char *dir, const schema *s, const commit_log *l, size_t c,
                                  uint64_t from, tide_error *err) {
  const size_t nc = s->ncols;
  const tide_type_t ty = s->types[c];
  const size_t dw = dat_width(ty);
  const uint64_t total = l->rows[l->nrec];
  const uint64_t b0 = batch_of(l, from);
  const uint64_t row0 = b0 < l->nrec ? l->rows[b0] : total; /* first row read back */
  const uint64_t n = total - from;
  char path[4352], hpath[4352];
  tide_source_t *src = NULL;
  uint8_t *dat = NULL, *heap = NULL;
  int fd = -1, hfd = -1;
  bool dat_owned = false;
  tide_symtab_t *dict = NULL;
  src = tide_source_flat_create(ty, n, err);
  if (!src) return NULL;
  if (!l->nrec) return src;
  fd = open_col(dir, s->names[c], "dat", O_RDONLY, path, sizeof path, err);
  if (fd < 0) goto fail;
  uint64_t dlo = row0 * dw, dhi = total * dw;
  bool direct = ty != TIDE_STRING && row0 == from;
  dat = direct ? tide_source_flat_data(src) : tide_malloc(dhi - dlo + 1);
  dat_owned = !direct;
  if (!dat) goto oom;
  if (read_verified(fd, path, l, nc, c, false, b0, dlo, dhi, dat, err) != TIDE_OK) goto fail;
  uint64_t hlo = 0, hhi = 0;
  if (has_heap(ty)) {
    uint64_t dummy;
    log_ends(l, nc, c, &dummy, &hhi);
    /* symbols: the whole dictionary; strings: from the first batch read */
    uint64_t hb0 = ty == TIDE_SYMBOL ? 0 : b0;
    hlo = hb0 == 0 ? 0 : log_col(l, nc, hb0 - 1, c)->heap_end;
    hfd = open_col(dir, s->names[c], "heap", O_RDONLY, hpath, sizeof hpath, err);
    if (hfd < 0) goto fail;
    heap = tide_malloc(hhi - hlo + 1);
    if (!heap) goto oom;
    if (read_verified(hfd, hpath, l, nc, c, true, hb0, hlo, hhi, heap, err) != TIDE_OK) goto fail;
  }
  if (ty == TIDE_STRING) {
    const char **out = tide_source_flat_data(src);
    uint64_t prev = hlo;
    for (uint64_t r = row0; r < total; r++) {
      uint64_t v = get64(dat + (r - row0) * 8), end = v & ~STR_NULL_BIT;
      if (end < prev || end > hhi || ((v & STR_NULL_BIT) && end != prev)) {
        tide_error_set(err, TIDE_ERR_CORRUPT, "%s: row %" PRIu64 ": bad string offset (damaged)",
                       path, r);
        goto fail;
      }
      if (r >= from) {
        if (v & STR_NULL_BIT) {
          out[r - from] = NULL;
        } else {
          out[r - from] =
              tide_source_flat_store_string(src, (const char *)heap + (prev - hlo), end - prev);
          if (!out[r - from]) goto oom;
        }
      }
      prev = end;
    }
  } else if (ty == TIDE_SYMBOL) {
    dict = tide_symtab_create();
    if (!dict) goto oom;
    if (parse_dict(heap, hhi, dict, hpath, err) != TIDE_OK) goto fail;
    const int32_t *codes = (const int32_t *)(dat + (from - row0) * 4);
    int64_t nd = (int64_t)tide_symtab_size(dict);
    for (uint64_t i = 0; i < n; i++)
      if (codes[i] < -1 || codes[i] >= nd) {
        tide_error_set(err, TIDE_ERR_CORRUPT,
                       "%s: row %" PRIu64 ": symbol code %d outside the dictionary (damaged)",
                       path, from + i, codes[i]);
        goto fail;
      }
    if (!direct) memcpy(tide_source_flat_data(src), codes, n * 4);
    tide__source_set_symtab(src, dict);
    tide_symtab_release(dict);
    dict = NULL;
  } else if (!direct) {
    memcpy(tide_source_flat_data(src), dat + (from - row0) * dw, n * dw);
  }
  goto done;
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "intraday: out of memory reading %s", path);
fail:
  tide_source_release(src);
  src = NULL;
done:
  if (dat_owned) tide_free(dat);
  tide_free(heap);
  tide_symtab_release(dict);
  if (fd >= 0) close(fd);
  if (hfd >= 0) close(hfd);
  return src;
}

/* ------------------------------------------------------------ reader */

tide_table_t *tide_intraday_read_from(const char *db, const char *ns, const char *table,
                                      const char *date, uint64_t from, uint64_t *committed,
                                      tide_error *err) {
  tide_error local;
  if (!err) err = &local;
  char *dir = part_dir(db, ns, table, date, err);
  if (!dir) return NULL;
  schema s;
  commit_log l = {0};
  tide_table_t *res = NULL;
  tide_source_t **srcs = NULL;
  tide_status st = schema_read(dir, &s, err);
  if (st != TIDE_OK) {
    if (st == TIDE_ERR_NOT_FOUND)
      tide_error_set(err, TIDE_ERR_NOT_FOUND, "intraday: no partition %s (nothing written yet)",
                     dir);
    tide_free(dir);
    return NULL;
  }
  if (log_load_reader(dir, &s, &l, err) != TIDE_OK) goto done;
  uint64_t total = l.rows[l.nrec];
  if (committed) *committed = total;
  if (from > total) from = total;
  srcs = tide_calloc(s.ncols ? s.ncols : 1, sizeof *srcs);
  if (!srcs) {
    tide_error_set(err, TIDE_ERR_NOMEM, "intraday: out of memory");
    goto done;
  }
  for (size_t c = 0; c < s.ncols; c++)
    if (!(srcs[c] = load_column(dir, &s, &l, c, from, err))) goto done;
  tide_rowset_t *rs =
      total > from ? tide_rowset_create_range(0, total - from - 1) : tide_rowset_create();
  if (!rs) {
    tide_error_set(err, TIDE_ERR_NOMEM, "intraday: out of memory");
    goto done;
  }
  res = tide_table_create(rs, s.ncols, (const char *const *)s.names, srcs, err);
  tide_rowset_free(rs);
done:
  for (size_t c = 0; srcs && c < s.ncols; c++) tide_source_release(srcs[c]);
  tide_free(srcs);
  log_free(&l);
  schema_free(&s);
  tide_free(dir);
  return res;
}

tide_table_t *tide_intraday_read(const char *db, const char *ns, const char *table,
                                 const char *date, tide_error *err) {
  return tide_intraday_read_from(db, ns, table, date, 0, NULL, err);
}

/* ------------------------------------------------------- tail reader */

struct tide__itail_s {
  char *dir;
  schema s;
  char log_path[4352];
  int log_fd;
  dev_t log_dev;
  ino_t log_ino;
  int *dat_fd, *heap_fd;
  char **dat_path, **heap_path;
  uint64_t nrec, rows;          /* records and rows consumed */
  uint64_t *dat_end, *heap_end; /* committed sizes consumed */
  tide_symtab_t **dict;         /* SYMBOL columns: the dictionary read so far */
  uint64_t *dict_end;           /* heap bytes parsed into dict (may pass heap_end
                                 * after a poll that failed in a later column) */
  uint64_t bytes_read;
  tide_status sticky;           /* a damaged dictionary: every poll fails */
  char sticky_msg[512];
};

size_t tide__itail_ncols(const tide__itail_t *t) { return t->s.ncols; }
const char *tide__itail_col_name(const tide__itail_t *t, size_t c) {
  return c < t->s.ncols ? t->s.names[c] : NULL;
}
tide_type_t tide__itail_col_type(const tide__itail_t *t, size_t c) {
  return c < t->s.ncols ? t->s.types[c] : TIDE_TYPE_COUNT;
}
uint64_t tide__itail_rows(const tide__itail_t *t) { return t->rows; }
uint64_t tide__itail_bytes_read(const tide__itail_t *t) { return t->bytes_read; }

void tide__itail_close(tide__itail_t *t) {
  if (!t) return;
  for (size_t c = 0; c < t->s.ncols; c++) {
    if (t->dat_fd && t->dat_fd[c] >= 0) close(t->dat_fd[c]);
    if (t->heap_fd && t->heap_fd[c] >= 0) close(t->heap_fd[c]);
    if (t->dat_path) tide_free(t->dat_path[c]);
    if (t->heap_path) tide_free(t->heap_path[c]);
    if (t->dict) tide_symtab_release(t->dict[c]);
  }
  if (t->log_fd >= 0) close(t->log_fd);
  tide_free(t->dat_fd);
  tide_free(t->heap_fd);
  tide_free(t->dat_path);
  tide_free(t->heap_path);
  tide_free(t->dat_end);
  tide_free(t->heap_end);
  tide_free(t->dict);
  tide_free(t->dict_end);
  schema_free(&t->s);
  tide_free(t->dir);
  tide_free(t);
}

tide__itail_t *tide__itail_open(const char *db, const char *ns, const char *table,
                                const char *date, tide_error *err) {
  tide_error local;
  if (!err) err = &local;
  char *dir = part_dir(db, ns, table, date, err);
  if (!dir) return NULL;
  tide__itail_t *t = tide_calloc(1, sizeof *t);
  if (!t) {
    tide_free(dir);
    tide_error_set(err, TIDE_ERR_NOMEM, "intraday: out of memory");
    return NULL;
  }
  t->dir = dir;
  t->log_fd = -1;
  tide_status st = schema_read(dir, &t->s, err);
  if (st != TIDE_OK) {
    if (st == TIDE_ERR_NOT_FOUND)
      tide_error_set(err, TIDE_ERR_NOT_FOUND, "intraday: no partition %s (nothing written yet)",
                     dir);
    tide__itail_close(t);
    return NULL;
  }
  const size_t nc = t->s.ncols;
  t->dat_fd = tide_malloc((nc ? nc : 1) * sizeof *t->dat_fd);
  t->heap_fd = tide_malloc((nc ? nc : 1) * sizeof *t->heap_fd);
  t->dat_path = tide_calloc(nc ? nc : 1, sizeof *t->dat_path);
  t->heap_path = tide_calloc(nc ? nc : 1, sizeof *t->heap_path);
  t->dat_end = tide_calloc(nc ? nc : 1, sizeof *t->dat_end);
  t->heap_end = tide_calloc(nc ? nc : 1, sizeof *t->heap_end);
  t->dict = tide_calloc(nc ? nc : 1, sizeof *t->dict);
  t->dict_end = tide_calloc(nc ? nc : 1, sizeof *t->dict_end);
  if (!t->dat_fd || !t->heap_fd || !t->dat_path || !t->heap_path || !t->dat_end ||
      !t->heap_end || !t->dict || !t->dict_end)
    goto oom;
  for (size_t c = 0; c < nc; c++) t->dat_fd[c] = t->heap_fd[c] = -1;
  /* the log first: a partition whose schema exists but whose appender has
   * not opened its files yet has no log and is empty */
  snprintf(t->log_path, sizeof t->log_path, "%s/" LOG_FILE, dir);
  t->log_fd = open(t->log_path, O_RDONLY | O_CLOEXEC);
  struct stat sb;
  if (t->log_fd < 0 || fstat(t->log_fd, &sb) != 0) {
    tide_error_set(err, errno == ENOENT ? TIDE_ERR_NOT_FOUND : TIDE_ERR_IO,
                   "%s: cannot open: %s%s", t->log_path, strerror(errno),
                   errno == ENOENT ? " (the partition's appender has not opened it yet)" : "");
    tide__itail_close(t);
    return NULL;
  }
  t->log_dev = sb.st_dev;
  t->log_ino = sb.st_ino;
  char path[4352];
  for (size_t c = 0; c < nc; c++) {
    t->dat_fd[c] = open_col(dir, t->s.names[c], "dat", O_RDONLY, path, sizeof path, err);
    if (t->dat_fd[c] < 0) goto fail;
    if (!(t->dat_path[c] = tide_strdup(path))) goto oom;
    if (has_heap(t->s.types[c])) {
      t->heap_fd[c] = open_col(dir, t->s.names[c], "heap", O_RDONLY, path, sizeof path, err);
      if (t->heap_fd[c] < 0) goto fail;
      if (!(t->heap_path[c] = tide_strdup(path))) goto oom;
    }
    if (t->s.types[c] == TIDE_SYMBOL && !(t->dict[c] = tide_symtab_create())) goto oom;
  }
  return t;
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "intraday: out of memory opening %s", dir);
fail:
  tide__itail_close(t);
  return NULL;
}

/* New records of the log after t's place: *nb complete valid records in
 * recs (nb * R bytes, caller frees). A partial or all-zero last record is
 * not counted; a full last record with a bad checksum sets *tail_bad. */
static tide_status itail_load(tide__itail_t *t, uint8_t **recs, uint64_t *nb, bool *tail_bad,
                              tide_error *err) {
  const size_t nc = t->s.ncols, R = rec_size(nc);
  *recs = NULL;
  *nb = 0;
  *tail_bad = false;
  struct stat sb;
  if (fstat(t->log_fd, &sb) != 0)
    return tide_error_set(err, TIDE_ERR_IO, "%s: cannot stat: %s", t->log_path, strerror(errno));
  const uint64_t off = t->nrec * R, size = (uint64_t)sb.st_size;
  if (size < off)
    return tide_error_set(err, TIDE_ERR_CORRUPT,
                          "%s: holds %llu bytes; its %" PRIu64
                          " commits already read need %" PRIu64
                          " (the file was truncated: committed rows are lost)",
                          t->log_path, (unsigned long long)size, t->nrec, off);
  uint64_t n = (size - off) / R;
  if (!n) return TIDE_OK;
  uint8_t *buf = tide_malloc(n * R);
  if (!buf) return tide_error_set(err, TIDE_ERR_NOMEM, "intraday: out of memory reading %s",
                                  t->log_path);
  if (!read_full(t->log_fd, buf, n * R, off)) {
    int e = errno;
    tide_free(buf);
    return tide_error_set(err, e ? TIDE_ERR_IO : TIDE_ERR_CORRUPT, "%s: read failed: %s",
                          t->log_path, e ? strerror(e) : "the file shrank while being read");
  }
  t->bytes_read += n * R;
  uint64_t rows = t->rows, good = 0;
  tide_status st = TIDE_OK;
  for (uint64_t i = 0; i < n; i++) {
    const uint8_t *p = buf + i * R;
    const uint64_t rec = t->nrec + i;
    bool last = i + 1 == n;
    int rs = rec_state(p, R, last);
    if (rs == REC_UNWRITTEN) break;
    if (rs == REC_BAD) {
      *tail_bad = last;
      st = tide_error_set(err, TIDE_ERR_CORRUPT,
                          "%s: commit record %" PRIu64 " of %" PRIu64
                          ": checksum mismatch (the file is damaged)",
                          t->log_path, rec, t->nrec + n);
      break;
    }
    uint64_t before = get64(p + 16), after = get64(p + 24);
    bool bad = get64(p + 8) != rec || before != rows || after < before || get32(p + 32) != nc;
    for (size_t c = 0; c < nc && !bad; c++) {
      const uint8_t *q = p + 40 + 32 * c;
      uint64_t dat_end = get64(q), heap_end = get64(q + 8);
      uint64_t prev_heap = i ? get64(p - R + 40 + 32 * c + 8) : t->heap_end[c];
      size_t w = dat_width(t->s.types[c]);
      bad = dat_end / w != after || dat_end % w != 0 || heap_end < prev_heap ||
            (!has_heap(t->s.types[c]) && heap_end != 0);
    }
    if (bad) {
      st = tide_error_set(err, TIDE_ERR_CORRUPT,
                          "%s: commit record %" PRIu64 " is inconsistent with the ones before it",
                          t->log_path, rec);
      break;
    }
    rows = after;
    good = i + 1;
  }
  if (st != TIDE_OK || !good) {
    tide_free(buf);
    return st;
  }
  *recs = buf;
  *nb = good;
  return TIDE_OK;
}

/* Read bytes [lo, hi) of one column file and verify the nb batches that
 * the records add to it (heap: the heap file's sums). */
static tide_status itail_read_file(tide__itail_t *t, int fd, const char *path, size_t c,
                                   bool heap, const uint8_t *recs, uint64_t nb, uint64_t lo,
                                   uint64_t hi, uint8_t *buf, tide_error *err) {
  const size_t R = rec_size(t->s.ncols);
  if (hi > lo && !read_full(fd, buf, hi - lo, lo)) {
    if (errno)
      return tide_error_set(err, TIDE_ERR_IO, "%s: read failed: %s", path, strerror(errno));
    struct stat sb;
    uint64_t have = fstat(fd, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    uint64_t b = 0, rows0 = t->rows;
    for (; b + 1 < nb; b++) {
      const uint8_t *q = recs + b * R + 40 + 32 * c;
      if ((heap ? get64(q + 8) : get64(q)) > have) break;
      rows0 = get64(recs + b * R + 24);
    }
    return tide_error_set(err, TIDE_ERR_CORRUPT,
                          "%s: holds %llu bytes; commit batch %" PRIu64 " (rows %" PRIu64
                          "..%" PRIu64 ") needs %llu (the file was truncated)",
                          path, (unsigned long long)have, t->nrec + b, rows0,
                          get64(recs + b * R + 24) - 1, (unsigned long long)hi);
  }
  t->bytes_read += hi - lo;
  uint64_t start = lo;
  for (uint64_t b = 0; b < nb; b++) {
    const uint8_t *p = recs + b * R, *q = p + 40 + 32 * c;
    uint64_t end = heap ? get64(q + 8) : get64(q);
    if (get64(q + (heap ? 24 : 16)) != tide__checksum64(buf + (start - lo), end - start)) {
      uint64_t r0 = get64(p + 16), r1 = get64(p + 24);
      return tide_error_set(err, TIDE_ERR_CORRUPT,
                            "%s: commit batch %" PRIu64 " (rows %" PRIu64 "..%" PRIu64
                            "): checksum mismatch (the file is damaged)",
                            path, t->nrec + b, r0, r1 ? r1 - 1 : 0);
    }
    start = end;
  }
  return TIDE_OK;
}

tide_status tide__itail_poll(tide__itail_t *t, tide_table_t **out, uint64_t *first,
                             tide_error *err) {
  tide_error local;
  if (!err) err = &local;
  *out = NULL;
  *first = t->rows;
  if (t->sticky != TIDE_OK) return tide_error_set(err, t->sticky, "%s", t->sticky_msg);
  /* the partition must still be the one opened (not deleted or replaced) */
  struct stat sb;
  if (stat(t->log_path, &sb) != 0) {
    if (errno != ENOENT)
      return tide_error_set(err, TIDE_ERR_IO, "%s: cannot stat: %s", t->log_path,
                            strerror(errno));
    return tide_error_set(err, TIDE_ERR_STATE,
                          "%s: removed since the tail reader opened it (the partition was "
                          "deleted)",
                          t->log_path);
  }
  if (sb.st_dev != t->log_dev || sb.st_ino != t->log_ino)
    return tide_error_set(err, TIDE_ERR_STATE,
                          "%s: replaced since the tail reader opened it (the partition was "
                          "deleted and written again)",
                          t->log_path);
  const size_t nc = t->s.ncols, R = rec_size(nc);
  /* no new complete record (a shorter file is reported by itail_load) */
  if ((uint64_t)sb.st_size >= t->nrec * R && (uint64_t)sb.st_size < t->nrec * R + R)
    return TIDE_OK;
  uint8_t *recs = NULL;
  uint64_t nb = 0;
  for (int attempt = 0;; attempt++) {
    bool tail_bad;
    tide_status st = itail_load(t, &recs, &nb, &tail_bad, err);
    if (st == TIDE_OK) break;
    if (!tail_bad || attempt == 8) return st;
    /* a commit record being written: look again */
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  if (!nb) return TIDE_OK;
  const uint8_t *lastrec = recs + (nb - 1) * R;
  const uint64_t total = get64(lastrec + 24), n = total - t->rows;
  tide_source_t **srcs = tide_calloc(nc ? nc : 1, sizeof *srcs);
  uint64_t *new_heap = tide_calloc(nc ? nc : 1, sizeof *new_heap);
  uint8_t *dat = NULL, *own = NULL, *heap = NULL;
  tide_table_t *res = NULL;
  tide_status st = TIDE_OK;
  if (!srcs || !new_heap) goto oom;
  for (size_t c = 0; c < nc; c++) {
    const tide_type_t ty = t->s.types[c];
    const size_t dw = dat_width(ty);
    const uint8_t *q = lastrec + 40 + 32 * c;
    const uint64_t dhi = get64(q), hlo = t->heap_end[c], hhi = get64(q + 8);
    new_heap[c] = hhi;
    if (!(srcs[c] = tide_source_flat_create(ty, n, err))) goto fail;
    bool direct = ty != TIDE_STRING;
    dat = direct ? tide_source_flat_data(srcs[c]) : (own = tide_malloc(n * dw + 1));
    if (!dat) goto oom;
    st = itail_read_file(t, t->dat_fd[c], t->dat_path[c], c, false, recs, nb, t->dat_end[c], dhi,
                         dat, err);
    if (st != TIDE_OK) goto fail;
    if (has_heap(ty)) {
      heap = tide_malloc(hhi - hlo + 1);
      if (!heap) goto oom;
      st = itail_read_file(t, t->heap_fd[c], t->heap_path[c], c, true, recs, nb, hlo, hhi, heap,
                           err);
      if (st != TIDE_OK) goto fail;
    }
    if (ty == TIDE_STRING) {
      const char **o = tide_source_flat_data(srcs[c]);
      uint64_t prev = hlo;
      for (uint64_t r = 0; r < n; r++) {
        uint64_t v = get64(dat + r * 8), end = v & ~STR_NULL_BIT;
        if (end < prev || end > hhi || ((v & STR_NULL_BIT) && end != prev)) {
          st = tide_error_set(err, TIDE_ERR_CORRUPT,
                              "%s: row %" PRIu64 ": bad string offset (damaged)", t->dat_path[c],
                              t->rows + r);
          goto fail;
        }
        if (v & STR_NULL_BIT) {
          o[r] = NULL;
        } else if (!(o[r] = tide_source_flat_store_string(srcs[c], (const char *)heap +
                                                                      (prev - hlo),
                                                          end - prev))) {
          goto oom;
        }
        prev = end;
      }
    } else if (ty == TIDE_SYMBOL) {
      /* the new dictionary entries (whole entries per verified batch);
       * an earlier poll that failed in a later column may have parsed
       * some of them already */
      uint64_t from = TIDE_MAX(hlo, t->dict_end[c]);
      if (from < hhi) {
        st = parse_dict(heap + (from - hlo), hhi - from, t->dict[c], t->heap_path[c], err);
        if (st != TIDE_OK) {
          /* the dictionary may hold part of the damage: no later poll can
           * trust it */
          t->sticky = st;
          snprintf(t->sticky_msg, sizeof t->sticky_msg, "%s", err->msg);
          goto fail;
        }
        t->dict_end[c] = hhi;
      }
      const int32_t *codes = (const int32_t *)dat;
      const int64_t nd = (int64_t)tide_symtab_size(t->dict[c]);
      int32_t lo = 0, hi = -1;
      for (uint64_t r = 0; r < n; r++) {
        lo = codes[r] < lo ? codes[r] : lo;
        hi = codes[r] > hi ? codes[r] : hi;
      }
      if (lo < -1 || hi >= nd) {
        uint64_t r = 0;
        while (codes[r] >= -1 && codes[r] < nd) r++;
        st = tide_error_set(err, TIDE_ERR_CORRUPT,
                            "%s: row %" PRIu64 ": symbol code %d outside the dictionary (damaged)",
                            t->dat_path[c], t->rows + r, codes[r]);
        goto fail;
      }
      tide__source_set_symtab(srcs[c], t->dict[c]);
    }
    tide_free(own);
    tide_free(heap);
    own = heap = NULL;
  }
  {
    tide_rowset_t *rs = n ? tide_rowset_create_range(0, n - 1) : tide_rowset_create();
    if (!rs) goto oom;
    res = tide_table_create(rs, nc, (const char *const *)t->s.names, srcs, err);
    tide_rowset_free(rs);
    if (!res) goto fail;
  }
  /* consumed */
  for (size_t c = 0; c < nc; c++) {
    t->dat_end[c] = get64(lastrec + 40 + 32 * c);
    t->heap_end[c] = new_heap[c];
  }
  t->nrec += nb;
  t->rows = total;
  *out = res;
  goto done;
oom:
  st = tide_error_set(err, TIDE_ERR_NOMEM, "intraday: out of memory reading %s", t->dir);
fail:
  if (st == TIDE_OK) st = err->status ? err->status : TIDE_ERR_NOMEM;
done:
  for (size_t c = 0; srcs && c < nc; c++) tide_source_release(srcs[c]);
  tide_free(srcs);
  tide_free(new_heap);
  tide_free(own);
  tide_free(heap);
  tide_free(recs);
  return st;
}

/* ---------------------------------------------------------- appender */

typedef struct buf_t {
  uint8_t *p;
  size_t len, cap;
} buf_t;

static bool buf_reserve(buf_t *b, size_t more) {
  if (b->len + more <= b->cap) return true;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + more) {
    if (cap > SIZE_MAX / 2) return false;
    cap *= 2;
  }
  uint8_t *p = tide_realloc(b->p, cap);
  if (!p) return false;
  b->p = p;
  b->cap = cap;
  return true;
}

struct tide_appender_s {
  char *dir;
  schema s;
  int lock_fd, log_fd;
  int *dat_fd, *heap_fd;
  char **dat_path, **heap_path;
  char log_path[4352];
  uint64_t nrec, rows;       /* committed */
  uint64_t *dat_end, *heap_end; /* committed sizes */
  buf_t *sdat, *sheap;       /* staged bytes per column */
  uint64_t staged;
  tide_symtab_t **dict;      /* SYMBOL columns: the partition's dictionary */
  bool failed;
};

size_t tide_appender_ncols(const tide_appender_t *a) { return a->s.ncols; }
const char *tide_appender_col_name(const tide_appender_t *a, size_t col) {
  return col < a->s.ncols ? a->s.names[col] : NULL;
}
tide_type_t tide_appender_col_type(const tide_appender_t *a, size_t col) {
  return col < a->s.ncols ? a->s.types[col] : TIDE_TYPE_COUNT;
}
uint64_t tide_appender_committed_rows(const tide_appender_t *a) { return a ? a->rows : 0; }
uint64_t tide_appender_staged_rows(const tide_appender_t *a) { return a ? a->staged : 0; }

void tide_appender_close(tide_appender_t *a) {
  if (!a) return;
  for (size_t c = 0; c < a->s.ncols; c++) {
    if (a->dat_fd && a->dat_fd[c] >= 0) close(a->dat_fd[c]);
    if (a->heap_fd && a->heap_fd[c] >= 0) close(a->heap_fd[c]);
    if (a->dat_path) tide_free(a->dat_path[c]);
    if (a->heap_path) tide_free(a->heap_path[c]);
    if (a->sdat) tide_free(a->sdat[c].p);
    if (a->sheap) tide_free(a->sheap[c].p);
    if (a->dict) tide_symtab_release(a->dict[c]);
  }
  if (a->log_fd >= 0) close(a->log_fd);
  if (a->lock_fd >= 0) close(a->lock_fd); /* releases the flock */
  tide_free(a->dat_fd);
  tide_free(a->heap_fd);
  tide_free(a->dat_path);
  tide_free(a->heap_path);
  tide_free(a->sdat);
  tide_free(a->sheap);
  tide_free(a->dict);
  tide_free(a->dat_end);
  tide_free(a->heap_end);
  schema_free(&a->s);
  tide_free(a->dir);
  tide_free(a);
}

/* Take the partition's writer lock; TIDE_ERR_STATE naming the holder. */
static tide_status take_lock(tide_appender_t *a, tide_error *err) {
  char path[4352];
  snprintf(path, sizeof path, "%s/" LOCK_FILE, a->dir);
  a->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (a->lock_fd < 0)
    return tide_error_set(err, TIDE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  if (flock(a->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    char pid[32] = "";
    ssize_t r = pread(a->lock_fd, pid, sizeof pid - 1, 0);
    if (r > 0) pid[r] = '\0';
    pid[strcspn(pid, "\n")] = '\0';
    if (e == EWOULDBLOCK)
      return tide_error_set(err, TIDE_ERR_STATE,
                            "intraday: partition %s already has a writer%s%s%s (lock %s held); "
                            "one appender per partition",
                            a->dir, *pid ? " (pid " : "", pid, *pid ? ")" : "", path);
    return tide_error_set(err, TIDE_ERR_IO, "%s: cannot lock: %s", path, strerror(e));
  }
  char pid[32];
  int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(a->lock_fd, 0) != 0 || pwrite(a->lock_fd, pid, (size_t)n, 0) != n) {
    /* informational only */
  }
  return TIDE_OK;
}

static tide_status schema_match(const schema *have, const schema *want, const char *dir,
                                tide_error *err) {
  if (have->ncols != want->ncols)
    return tide_error_set(err, TIDE_ERR_TYPE,
                          "intraday: partition %s has %zu columns; the appender was given %zu",
                          dir, have->ncols, want->ncols);
  for (size_t c = 0; c < have->ncols; c++) {
    if (strcmp(have->names[c], want->names[c]) != 0)
      return tide_error_set(err, TIDE_ERR_TYPE,
                            "intraday: column %zu of partition %s is '%s', not '%s'", c, dir,
                            have->names[c], want->names[c]);
    if (have->types[c] != want->types[c])
      return tide_error_set(err, TIDE_ERR_TYPE,
                            "intraday: column '%s' of partition %s is %s, not %s",
                            have->names[c], dir, tide_type_name(have->types[c]),
                            tide_type_name(want->types[c]));
  }
  return TIDE_OK;
}

/* Cut a file back to its committed size (a crash left an uncommitted
 * tail); a file shorter than that lost committed data. */
static tide_status recover_file(int fd, const char *path, uint64_t end, const commit_log *l,
                                tide_error *err) {
  struct stat sb;
  if (fstat(fd, &sb) != 0)
    return tide_error_set(err, TIDE_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
  if ((uint64_t)sb.st_size < end)
    return tide_error_set(err, TIDE_ERR_CORRUPT,
                          "%s: holds %llu bytes; the %" PRIu64 " commits need %" PRIu64
                          " (the file was truncated: committed rows are lost)",
                          path, (unsigned long long)sb.st_size, l->nrec, end);
  if ((uint64_t)sb.st_size > end) {
    if (ftruncate(fd, (off_t)end) != 0)
      return tide_error_set(err, TIDE_ERR_IO, "%s: cannot truncate: %s", path, strerror(errno));
    return sync_fd(fd, path, err);
  }
  return TIDE_OK;
}

tide_appender_t *tide_appender_open(const char *db, const char *ns, const char *table,
                                    const char *date, size_t ncols, const char *const *names,
                                    const tide_type_t *types, tide_error *err) {
  tide_error local;
  if (!err) err = &local;
  schema want = {0};
  if (ncols && (!names || !types)) {
    tide_error_set(err, TIDE_ERR_INVALID, "intraday: no column %s given",
                   names ? "types" : "names");
    return NULL;
  }
  char *dir = part_dir(db, ns, table, date, err);
  if (!dir) return NULL;
  if (ncols && schema_init(&want, ncols, names, types, err) != TIDE_OK) {
    tide_free(dir);
    return NULL;
  }
  commit_log l = {0};
  tide_appender_t *a = tide_calloc(1, sizeof *a);
  if (!a) {
    tide_free(dir);
    schema_free(&want);
    tide_error_set(err, TIDE_ERR_NOMEM, "intraday: out of memory");
    return NULL;
  }
  a->dir = dir;
  a->lock_fd = a->log_fd = -1;
  struct stat sb;
  if (ncols == 0 && stat(dir, &sb) != 0) {
    tide_error_set(err, TIDE_ERR_NOT_FOUND,
                   "intraday: no partition %s, and no schema given to create it", dir);
    goto fail;
  }
  if (make_dirs(dir, err) != TIDE_OK || take_lock(a, err) != TIDE_OK) goto fail;
  tide_status st = schema_read(dir, &a->s, err);
  if (st == TIDE_ERR_NOT_FOUND) {
    if (!ncols) {
      tide_error_set(err, TIDE_ERR_NOT_FOUND,
                     "intraday: partition %s has no schema, and none was given", dir);
      goto fail;
    }
    char path[4352];
    snprintf(path, sizeof path, "%s/" SCHEMA_FILE, dir);
    if (tide__file_write_atomic(path, "intraday", schema_writer, &want, err) != TIDE_OK) goto fail;
    a->s = want;
    memset(&want, 0, sizeof want);
  } else if (st != TIDE_OK) {
    goto fail;
  } else if (ncols && schema_match(&a->s, &want, dir, err) != TIDE_OK) {
    goto fail;
  }
  const size_t nc = a->s.ncols;
  a->dat_fd = tide_malloc((nc ? nc : 1) * sizeof *a->dat_fd);
  a->heap_fd = tide_malloc((nc ? nc : 1) * sizeof *a->heap_fd);
  for (size_t c = 0; c < nc; c++) {
    if (a->dat_fd) a->dat_fd[c] = -1;
    if (a->heap_fd) a->heap_fd[c] = -1;
  }
  a->dat_path = tide_calloc(nc ? nc : 1, sizeof *a->dat_path);
  a->heap_path = tide_calloc(nc ? nc : 1, sizeof *a->heap_path);
  a->sdat = tide_calloc(nc ? nc : 1, sizeof *a->sdat);
  a->sheap = tide_calloc(nc ? nc : 1, sizeof *a->sheap);
  a->dict = tide_calloc(nc ? nc : 1, sizeof *a->dict);
  a->dat_end = tide_calloc(nc ? nc : 1, sizeof *a->dat_end);
  a->heap_end = tide_calloc(nc ? nc : 1, sizeof *a->heap_end);
  if (!a->dat_fd || !a->heap_fd || !a->dat_path || !a->heap_path || !a->sdat || !a->sheap ||
      !a->dict || !a->dat_end || !a->heap_end)
    goto oom;
  /* files (created on first open) and the directory entries made durable */
  char path[4352];
  for (size_t c = 0; c < nc; c++) {
    a->dat_fd[c] = open_col(dir, a->s.names[c], "dat", O_RDWR | O_CREAT, path, sizeof path, err);
    if (a->dat_fd[c] < 0) goto fail;
    if (!(a->dat_path[c] = tide_strdup(path))) goto oom;
    if (has_heap(a->s.types[c])) {
      a->heap_fd[c] =
          open_col(dir, a->s.names[c], "heap", O_RDWR | O_CREAT, path, sizeof path, err);
      if (a->heap_fd[c] < 0) goto fail;
      if (!(a->heap_path[c] = tide_strdup(path))) goto oom;
    }
    if (a->s.types[c] == TIDE_SYMBOL && !(a->dict[c] = tide_symtab_create())) goto oom;
  }
  snprintf(a->log_path, sizeof a->log_path, "%s/" LOG_FILE, dir);
  a->log_fd = open(a->log_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (a->log_fd < 0) {
    tide_error_set(err, TIDE_ERR_IO, "%s: cannot open: %s", a->log_path, strerror(errno));
    goto fail;
  }
  if (sync_dir(dir, err) != TIDE_OK) goto fail;
  /* recovery: the commit log, then each file cut back to its committed size */
  bool tail_bad; /* we hold the lock: nobody is writing, so this is damage */
  if (log_load(dir, &a->s, &l, &tail_bad, err) != TIDE_OK) goto fail;
  if (recover_file(a->log_fd, a->log_path, l.nrec * rec_size(nc), &l, err) != TIDE_OK) goto fail;
  a->nrec = l.nrec;
  a->rows = l.rows[l.nrec];
  for (size_t c = 0; c < nc; c++) {
    log_ends(&l, nc, c, &a->dat_end[c], &a->heap_end[c]);
    if (recover_file(a->dat_fd[c], a->dat_path[c], a->dat_end[c], &l, err) != TIDE_OK) goto fail;
    if (a->heap_fd[c] >= 0 &&
        recover_file(a->heap_fd[c], a->heap_path[c], a->heap_end[c], &l, err) != TIDE_OK)
      goto fail;
    if (!l.nrec) continue;
    /* the last batch is verified (the appender continues after it) */
    uint64_t b = l.nrec - 1;
    uint64_t lo = b ? log_col(&l, nc, b - 1, c)->dat_end : 0;
    uint8_t *tmp = tide_malloc(a->dat_end[c] - lo + 1);
    if (!tmp) goto oom;
    st = read_verified(a->dat_fd[c], a->dat_path[c], &l, nc, c, false, b, lo, a->dat_end[c], tmp,
                       err);
    tide_free(tmp);
    if (st != TIDE_OK) goto fail;
    if (a->s.types[c] == TIDE_STRING) {
      lo = b ? log_col(&l, nc, b - 1, c)->heap_end : 0;
      tmp = tide_malloc(a->heap_end[c] - lo + 1);
      if (!tmp) goto oom;
      st = read_verified(a->heap_fd[c], a->heap_path[c], &l, nc, c, true, b, lo, a->heap_end[c],
                         tmp, err);
      tide_free(tmp);
      if (st != TIDE_OK) goto fail;
    } else if (a->s.types[c] == TIDE_SYMBOL) {
      /* the dictionary, every batch verified */
      tmp = tide_malloc(a->heap_end[c] + 1);
      if (!tmp) goto oom;
      st = read_verified(a->heap_fd[c], a->heap_path[c], &l, nc, c, true, 0, 0, a->heap_end[c],
                         tmp, err);
      if (st == TIDE_OK) st = parse_dict(tmp, a->heap_end[c], a->dict[c], a->heap_path[c], err);
      tide_free(tmp);
      if (st != TIDE_OK) goto fail;
    }
  }
  log_free(&l);
  schema_free(&want);
  return a;
oom:
  tide_error_set(err, TIDE_ERR_NOMEM, "intraday: out of memory opening %s", dir);
fail:
  log_free(&l);
  schema_free(&want);
  tide_appender_close(a);
  return NULL;
}

/* Stage a symbol string: its partition code (a new dictionary entry is
 * staged in the heap). -2 on OOM. */
static int32_t stage_symbol(tide_appender_t *a, size_t c, const char *s, size_t l) {
  int32_t before = (int32_t)tide_symtab_size(a->dict[c]);
  int32_t code = tide_symtab_intern(a->dict[c], s, l);
  if (code < 0) return -2;
  if (code == before) {
    buf_t *h = &a->sheap[c];
    if (l > UINT32_MAX - 1 || !buf_reserve(h, 4 + l)) return -2;
    put32(h->p + h->len, (uint32_t)l);
    memcpy(h->p + h->len + 4, s, l);
    h->len += 4 + l;
  }
  return code;
}

tide_status tide_appender_append(tide_appender_t *a, const tide_table_t *rows, tide_error *err) {
  tide_error local;
  if (!err) err = &local;
  if (!a || !rows) return tide_error_set(err, TIDE_ERR_INVALID, "intraday.append: no appender or rows");
  if (a->failed)
    return tide_error_set(err, TIDE_ERR_STATE,
                          "intraday.append: an earlier commit to %s failed; reopen the appender",
                          a->dir);
  if (tide_table_is_refreshing(rows))
    return tide_error_set(err, TIDE_ERR_UNSUPPORTED,
                          "intraday.append: the rows are a ticking table (append a snapshot())");
  const size_t nc = a->s.ncols;
  /* the schema first: nothing is staged unless every column matches */
  int *map = tide_malloc((nc ? nc : 1) * sizeof *map);
  if (!map) return tide_error_set(err, TIDE_ERR_NOMEM, "intraday.append: out of memory");
  for (size_t c = 0; c < nc; c++) {
    int i = tide_table_col_index(rows, a->s.names[c]);
    if (i < 0) {
      tide_free(map);
      return tide_error_set(err, TIDE_ERR_TYPE,
                            "intraday.append: the rows have no column '%s' (partition %s)",
                            a->s.names[c], a->dir);
    }
    tide_type_t have = tide_table_col_type(rows, (size_t)i), want = a->s.types[c];
    if (have != want && !(has_heap(have) && has_heap(want))) {
      tide_free(map);
      return tide_error_set(err, TIDE_ERR_TYPE,
                            "intraday.append: column '%s' is %s in the rows, %s in partition %s",
                            a->s.names[c], tide_type_name(have), tide_type_name(want), a->dir);
    }
    map[c] = i;
  }
  if (tide_table_ncols(rows) != nc) {
    for (size_t i = 0; i < tide_table_ncols(rows); i++) {
      bool found = false;
      for (size_t c = 0; c < nc && !found; c++) found = map[c] == (int)i;
      if (!found) {
        const char *name = tide_table_col_name(rows, i);
        tide_free(map);
        return tide_error_set(err, TIDE_ERR_TYPE,
                              "intraday.append: column '%s' is not in the schema of partition %s",
                              name, a->dir);
      }
    }
  }
  const uint64_t n = tide_table_size(rows);
  uint64_t *keys = tide_malloc(TIDE_CHUNK_SIZE * sizeof *keys);
  uint8_t *vals = tide_malloc(TIDE_CHUNK_SIZE * 8);
  int32_t *xlat = NULL;
  tide_status st = TIDE_OK;
  if (!keys || !vals) goto oom;
  for (size_t c = 0; c < nc; c++) {
    const tide_source_t *src = tide_table_col_source(rows, (size_t)map[c]);
    const tide_type_t have = tide_source_type(src), want = a->s.types[c];
    const size_t dw = dat_width(want);
    buf_t *d = &a->sdat[c], *h = &a->sheap[c];
    if (!buf_reserve(d, (size_t)n * dw)) goto oom;
    const tide_symtab_t *ss = have == TIDE_SYMBOL ? tide_source_symtab(src) : NULL;
    uint32_t nss = ss ? tide_symtab_size(ss) : 0;
    if (want == TIDE_SYMBOL && have == TIDE_SYMBOL) {
      /* incoming code -> partition code, filled on first use */
      tide_free(xlat);
      xlat = tide_malloc((nss ? nss : 1) * sizeof *xlat);
      if (!xlat) goto oom;
      for (uint32_t k = 0; k < nss; k++) xlat[k] = -2;
    }
    tide_rowset_iter_t it;
    tide_rowset_iter_init(&it, tide_table_rowset(rows));
    tide_rowseq_t seq;
    while (tide_rowset_iter_next_chunk(&it, TIDE_CHUNK_SIZE, &seq, keys)) {
      const void *v = tide__source_get(src, &seq, vals);
      uint8_t *out = d->p + d->len;
      if (!has_heap(want)) {
        memcpy(out, v, (size_t)seq.n * dw);
      } else if (want == TIDE_STRING) {
        const char *const *strs = have == TIDE_STRING ? v : NULL;
        const int32_t *codes = have == TIDE_SYMBOL ? v : NULL;
        const char *const *sstr = ss ? tide__symtab_strs(ss) : NULL;
        for (uint32_t i = 0; i < seq.n; i++) {
          const char *s = strs ? strs[i] : (codes[i] >= 0 && (uint32_t)codes[i] < nss ? sstr[codes[i]] : NULL);
          uint64_t pos = a->heap_end[c] + h->len;
          if (!s) {
            put64(out + (size_t)i * 8, pos | STR_NULL_BIT);
            continue;
          }
          size_t l = strlen(s);
          if (l) {
            if (!buf_reserve(h, l)) goto oom;
            memcpy(h->p + h->len, s, l);
            h->len += l;
          }
          put64(out + (size_t)i * 8, pos + l);
        }
      } else {
        int32_t *oc = (int32_t *)out;
        if (have == TIDE_SYMBOL) {
          const int32_t *codes = v;
          const char *const *sstr = ss ? tide__symtab_strs(ss) : NULL;
          for (uint32_t i = 0; i < seq.n; i++) {
            int32_t k = codes[i];
            if (k < 0 || (uint32_t)k >= nss) {
              oc[i] = TIDE_NULL_SYMBOL;
              continue;
            }
            if (xlat[k] == -2) {
              xlat[k] = stage_symbol(a, c, sstr[k], strlen(sstr[k]));
              if (xlat[k] == -2) goto oom;
            }
            oc[i] = xlat[k];
          }
        } else {
          const char *const *strs = v;
          for (uint32_t i = 0; i < seq.n; i++) {
            if (!strs[i]) {
              oc[i] = TIDE_NULL_SYMBOL;
              continue;
            }
            oc[i] = stage_symbol(a, c, strs[i], strlen(strs[i]));
            if (oc[i] == -2) goto oom;
          }
        }
      }
      d->len += (size_t)seq.n * dw;
    }
  }
  a->staged += n;
  goto done;
oom:
  /* columns before this one were staged: the appender cannot continue */
  a->failed = true;
  st = tide_error_set(err, TIDE_ERR_NOMEM, "intraday.append: out of memory staging rows for %s",
                      a->dir);
done:
  tide_free(keys);
  tide_free(vals);
  tide_free(xlat);
  tide_free(map);
  return st;
}

tide_status tide_appender_commit(tide_appender_t *a, tide_error *err) {
  tide_error local;
  if (!err) err = &local;
  if (!a) return tide_error_set(err, TIDE_ERR_INVALID, "intraday.commit: no appender");
  if (a->failed)
    return tide_error_set(err, TIDE_ERR_STATE,
                          "intraday.commit: an earlier failure on %s; reopen the appender",
                          a->dir);
  if (a->staged == 0) return TIDE_OK;
  const size_t nc = a->s.ncols, R = rec_size(nc);
  uint8_t *rec = tide_calloc(1, R);
  if (!rec) return tide_error_set(err, TIDE_ERR_NOMEM, "intraday.commit: out of memory");
  tide_status st = TIDE_OK;
  /* 1. the column files: write the batch after the committed bytes */
  for (size_t c = 0; c < nc && st == TIDE_OK; c++) {
    st = write_full(a->dat_fd[c], a->sdat[c].p, a->sdat[c].len, a->dat_end[c], a->dat_path[c], err);
    if (st == TIDE_OK && a->heap_fd[c] >= 0 && a->sheap[c].len)
      st = write_full(a->heap_fd[c], a->sheap[c].p, a->sheap[c].len, a->heap_end[c],
                      a->heap_path[c], err);
  }
  /* 2. durable before the record that makes them visible */
  for (size_t c = 0; c < nc && st == TIDE_OK; c++) {
    st = sync_fd(a->dat_fd[c], a->dat_path[c], err);
    if (st == TIDE_OK && a->heap_fd[c] >= 0 && a->sheap[c].len)
      st = sync_fd(a->heap_fd[c], a->heap_path[c], err);
  }
  /* 3. the commit record, one write at the end of the log, fsync-ed */
  if (st == TIDE_OK) {
    memcpy(rec, REC_MAGIC, 8);
    put64(rec + 8, a->nrec);
    put64(rec + 16, a->rows);
    put64(rec + 24, a->rows + a->staged);
    put32(rec + 32, (uint32_t)nc);
    for (size_t c = 0; c < nc; c++) {
      uint8_t *q = rec + 40 + 32 * c;
      put64(q, a->dat_end[c] + a->sdat[c].len);
      put64(q + 8, a->heap_end[c] + a->sheap[c].len);
      put64(q + 16, tide__checksum64(a->sdat[c].p, a->sdat[c].len));
      put64(q + 24, tide__checksum64(a->sheap[c].p, a->sheap[c].len));
    }
    put64(rec + R - 8, tide__checksum64(rec, R - 8));
    st = write_full(a->log_fd, rec, R, a->nrec * R, a->log_path, err);
    if (st == TIDE_OK) st = sync_fd(a->log_fd, a->log_path, err);
  }
  tide_free(rec);
  if (st != TIDE_OK) {
    a->failed = true;
    return tide_error_prefix(err, "intraday.commit");
  }
  for (size_t c = 0; c < nc; c++) {
    a->dat_end[c] += a->sdat[c].len;
    a->heap_end[c] += a->sheap[c].len;
    a->sdat[c].len = a->sheap[c].len = 0;
  }
  a->nrec++;
  a->rows += a->staged;
  a->staged = 0;
  return TIDE_OK;
}
