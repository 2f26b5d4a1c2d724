/*  dl_table.c - CSV loading for the example DataLoader (see dl_table.h). */

#include "dl_table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static int64_t
s_epoch(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                    .tm_hour = h, .tm_min = mi, .tm_sec = s};
    return (int64_t)timegm(&tm);
}

static bool
s_valid(int y, int mo, int d, int h, int mi, int s)
{
    return y >= 1970 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 &&
           d <= 31 && h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && s >= 0 &&
           s <= 60;
}

/*  Date layouts: Y M D h m s stand for one digit each, anything else must
    match literally.  The strict parser knows only the first. */
static const char *const s_layouts[] = {
    "YYYY-MM-DD hh:mm:ss", "YYYY-MM-DDThh:mm:ss", "YYYY-MM-DDThh:mm:ssZ",
    "YYYY/MM/DD hh:mm:ss", "YYYY/MM/DD hh:mm",    "DD.MM.YYYY hh:mm:ss",
    "DD.MM.YYYY hh:mm",    "MM/DD/YYYY hh:mm",
};

static bool
s_match_layout(const char *text, const char *layout, int64_t *epoch_s)
{
    int f[128] = {0}; // value per layout letter
    for (; *layout; layout++, text++) {
        unsigned char l = (unsigned char)*layout;
        if (strchr("YMDhms", l)) {
            if (*text < '0' || *text > '9')
                return false;
            f[l] = f[l] * 10 + (*text - '0');
        } else if (*text != *layout) {
            return false;
        }
    }
    if (*text != '\0' || !s_valid(f['Y'], f['M'], f['D'], f['h'], f['m'],
                                   f['s']))
        return false;
    *epoch_s = s_epoch(f['Y'], f['M'], f['D'], f['h'], f['m'], f['s']);
    return true;
}

bool
dl_table_parse_date(const char *text, bool fuzzy, int64_t *epoch_s)
{
    size_t n = fuzzy ? sizeof s_layouts / sizeof *s_layouts : 1;
    for (size_t i = 0; i < n; i++)
        if (s_match_layout(text, s_layouts[i], epoch_s))
            return true;
    if (!fuzzy)
        return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10); // epoch seconds
    if (!errno && end != text && *end == '\0' && v >= 0) {
        *epoch_s = v;
        return true;
    }
    return false;
}

static bool
s_grow(dl_table_t *t)
{
    if (t->rows < t->cap)
        return true;
    size_t cap = t->cap ? t->cap * 2 : 1024;
    if (cap > DL_MAX_ROWS)
        return false;
    double *v = realloc(t->values, cap * t->cols * sizeof *v);
    if (!v)
        return false;
    t->values = v;
    int64_t *st = realloc(t->stamps, cap * sizeof *st);
    if (!st)
        return false;
    t->stamps = st;
    t->cap = cap;
    return true;
}

typedef struct {
    dl_table_t *table;
    const dl_load_opts_t *opts;
    const char *path;
    size_t line_no;
    const char **error_class;
    char *why;
    size_t why_len;
} s_parse_t;

static bool
s_fail(s_parse_t *p, const char *error_class, const char *what)
{
    *p->error_class = error_class;
    if (p->line_no == 0) // the file as a whole, before any line was read
        snprintf(p->why, p->why_len, "%s: %s", p->path, what);
    else
        snprintf(p->why, p->why_len, "%s:%zu: %s", p->path, p->line_no,
                 what);
    return false;
}

static size_t
s_count_cols(const char *header)
{
    size_t n = 1;
    for (const char *c = header; *c; c++)
        n += *c == ',';
    return n;
}

/*  One line (NUL-terminated, no newline).  Line 1 is the header. */
static bool
s_parse_line(s_parse_t *p, char *line)
{
    size_t len = strcspn(line, "\r\n");
    line[len] = '\0';
    if (p->line_no == 1) {
        size_t cols = s_count_cols(line);
        if (cols < 2 || cols - 1 > DL_MAX_COLS)
            return s_fail(p, "ValueError", "header needs a timestamp and "
                                           "1 to 16 numeric columns");
        p->table->cols = cols - 1;
        return true;
    }
    if (len == 0)
        return true;
    dl_table_t *t = p->table;
    if (!s_grow(t))
        return s_fail(p, "MemoryError", "too many rows");
    char *comma = strchr(line, ',');
    if (!comma)
        return s_fail(p, "ValueError", "row has no comma");
    *comma = '\0';
    char what[160];
    if (!dl_table_parse_date(line, p->opts->fuzzy_dates,
                             &t->stamps[t->rows])) {
        snprintf(what, sizeof what, "'%.60s' is not YYYY-MM-DD HH:MM:SS",
                 line);
        return s_fail(p, "DateFormatError", what);
    }
    char *field = comma + 1;
    for (size_t c = 0; c < t->cols; c++) {
        char *end = NULL;
        errno = 0;
        double v = strtod(field, &end);
        if (end == field || errno || (*end != ',' && *end != '\0') ||
            (*end == ',' && c + 1 == t->cols) ||
            (*end == '\0' && c + 1 < t->cols)) {
            snprintf(what, sizeof what,
                     "column %zu: '%.40s' is not a number (or the row has "
                     "the wrong number of fields)", c + 2, field);
            return s_fail(p, "ValueError", what);
        }
        t->values[t->rows * t->cols + c] = v;
        field = end + 1;
    }
    t->rows++;
    return true;
}

static bool
s_load_memory(s_parse_t *p, FILE *f, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return s_fail(p, "MemoryError", "cannot allocate the file buffer");
    bool ok = fread(buf, 1, size, f) == size;
    buf[ok ? size : 0] = '\0';
    if (!ok) {
        free(buf);
        return s_fail(p, "IOError", "short read");
    }
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line && ok;
         line = strtok_r(NULL, "\n", &save)) {
        p->line_no++;
        ok = s_parse_line(p, line);
    }
    free(buf);
    return ok;
}

static bool
s_load_stream(s_parse_t *p, FILE *f)
{
    char line[DL_MAX_LINE];
    while (fgets(line, sizeof line, f)) {
        p->line_no++;
        if (!strchr(line, '\n') && !feof(f))
            return s_fail(p, "ValueError", "line longer than 4096 bytes");
        if (!s_parse_line(p, line))
            return false;
    }
    return true;
}

bool
dl_table_load(dl_table_t *table, const char *path, const dl_load_opts_t *opts,
              const char **error_class, char *why, size_t why_len)
{
    memset(table, 0, sizeof *table);
    s_parse_t p = {table, opts, path, 0, error_class, why, why_len};
    FILE *f = fopen(path, "rb");
    if (!f) {
        *error_class = "FileNotFoundError";
        snprintf(why, why_len, "%s: %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    bool ok;
    if (fstat(fileno(f), &st) != 0) {
        ok = s_fail(&p, "IOError", strerror(errno));
    } else if (!opts->streaming && (size_t)st.st_size > DL_INMEM_LIMIT) {
        char what[128];
        snprintf(what, sizeof what,
                 "%lld bytes is over the in-memory loader's %d byte limit",
                 (long long)st.st_size, DL_INMEM_LIMIT);
        ok = s_fail(&p, "FileTooLargeError", what);
    } else {
        ok = opts->streaming ? s_load_stream(&p, f)
                             : s_load_memory(&p, f, (size_t)st.st_size);
    }
    fclose(f);
    if (ok && table->rows == 0)
        ok = s_fail(&p, "ValueError", "no data rows");
    if (!ok)
        dl_table_free(table);
    return ok;
}

void
dl_table_free(dl_table_t *table)
{
    free(table->values);
    free(table->stamps);
    memset(table, 0, sizeof *table);
}
