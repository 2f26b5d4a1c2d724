/*  hb_log.c - line logger for the healbus binaries (see hb_log.h). */

#include "hb_log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct hb_log {
    char *component;       // owned
    FILE *out;             // borrowed
    hb_log_level_t level;
};

static const char *const s_level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

hb_log_t *
hb_log_new(const char *component, FILE *out, hb_log_level_t level)
{
    hb_log_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->component = strdup(component ? component : "healbus");
    if (!self->component) {
        free(self);
        return NULL;
    }
    self->out = out ? out : stderr;
    self->level = level;
    return self;
}

void
hb_log_destroy(hb_log_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->component);
    free(*self_p);
    *self_p = NULL;
}

void
hb_log_set_level(hb_log_t *self, hb_log_level_t level)
{
    self->level = level;
}

bool
hb_log_enabled(const hb_log_t *self, hb_log_level_t level)
{
    return self && level >= self->level;
}

//  Copy `in` to `out` (cap bytes, NUL-terminated) with control bytes
//  shown as \xNN: log lines quote names and texts that peers chose, and a
//  newline or an escape sequence in one must not forge a line or drive
//  the operator's terminal.  C1 controls (U+0080..U+009F) count too.
static void
s_escape(const char *in, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t n = 0;
    for (; *p && n + 5 <= cap; p++) {
        bool c1 = p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F;
        if (*p < 0x20 || *p == 0x7F || c1) {
            unsigned char c = c1 ? *++p : *p;
            snprintf(out + n, cap - n, "\\x%02x", c);
            n += 4;
        } else
            out[n++] = (char)*p;
    }
    out[n] = '\0';
}

static void
s_vwrite(hb_log_t *self, hb_log_level_t level, const char *suffix,
         const char *fmt, va_list args)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char line[1024];
    int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, ".%03ldZ %-5s %s: ",
                  ts.tv_nsec / 1000000, s_level_names[level], self->component);
    if (n < 0 || n >= (int)sizeof line) // a very long component name
        n = (int)sizeof line - 1;
    char msg[sizeof line];
    msg[0] = '\0';
    if (n < (int)sizeof line)
        vsnprintf(msg, sizeof line - (size_t)n, fmt, args);
    s_escape(msg, line + n, sizeof line - (size_t)n);
    // One fputs per line, so lines from two threads never interleave.
    fprintf(self->out, "%s%s\n", line, suffix ? suffix : "");
    fflush(self->out);
}

void
hb_log_write(hb_log_t *self, hb_log_level_t level, const char *fmt, ...)
{
    if (!hb_log_enabled(self, level))
        return;
    va_list args;
    va_start(args, fmt);
    s_vwrite(self, level, NULL, fmt, args);
    va_end(args);
}

void
hb_log_complain(hb_log_t *self, hb_log_complaint_t *c, const char *fmt, ...)
{
    c->count++;
    if (c->count < c->next_at || !hb_log_enabled(self, HB_LOG_WARN))
        return;
    // Log the 1st, 10th, 100th... occurrence: counters keep the full record.
    c->next_at = c->next_at ? c->next_at * 10 : 10;
    char suffix[64];
    snprintf(suffix, sizeof suffix, " (%llu times so far)",
             (unsigned long long)c->count);
    va_list args;
    va_start(args, fmt);
    s_vwrite(self, HB_LOG_WARN, suffix, fmt, args);
    va_end(args);
}
