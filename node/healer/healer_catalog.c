/*  healer_catalog.c - strict parser and lookups for the fix catalog (see
    healer_catalog.h and docs/fix-catalog.md). */

#include "healer_catalog.h"

#include "healbus.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct healer_catalog {
    healer_fix_t *fixes; // owned, n_fixes of them
    uint32_t n_fixes;
};

//  The defaults of fixes.conf without its comments; a unit test checks the
//  two define the same fixes.
static const char s_builtin[] =
    "[fix fuzzy_dates]\n"
    "class = DateFormatError\n"
    "step = set date_parser fuzzy\n"
    "[fix streaming_parser]\n"
    "class = FileTooLargeError\n"
    "step = set parser streaming\n"
    "[fix raise_timeout]\n"
    "class = TimeoutError\n"
    "step = mul timeout_ms 2\n"
    "[fix smaller_batches_for_timeout]\n"
    "class = TimeoutError\n"
    "step = div batch_size 2\n"
    "[fix halve_batch]\n"
    "class = MemoryError\n"
    "step = div batch_size 2\n"
    "[fix stream_for_memory]\n"
    "class = MemoryError\n"
    "step = set parser streaming\n";

static const char *const s_op_names[] = {"set", "mul", "div", "add",
                                         "action"};

typedef struct {
    const char *origin;
    uint32_t line;
    char *err;
    size_t errlen;
    healer_fix_t *cur;      // the fix being filled, NULL before the first
    bool cur_has_class;
    bool cur_has_glob;
} parse_t;

static bool
s_fail(parse_t *p, const char *fmt, ...) HB_PRINTF(2, 3);

static bool
s_fail(parse_t *p, const char *fmt, ...)
{
    if (!p->err || p->errlen == 0)
        return false;
    int n = snprintf(p->err, p->errlen, "%s:%u: ", p->origin, p->line);
    if (n >= 0 && (size_t)n < p->errlen) {
        va_list args;
        va_start(args, fmt);
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, args);
        va_end(args);
    }
    return false;
}

static bool
s_name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static char *
s_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

//  Integer or decimal number, whole string, finite.
static bool
s_number(const char *s, proto_value_t *v)
{
    if (!*s)
        return false;
    char *end;
    errno = 0;
    long long i = strtoll(s, &end, 10);
    if (*end == '\0' && errno == 0) {
        v->type = PROTO_VAL_INT;
        v->u.i = i;
        return true;
    }
    errno = 0;
    double d = strtod(s, &end);
    if (*end != '\0' || errno != 0 || !isfinite(d) || strchr(s, 'x') ||
        strchr(s, 'X'))
        return false;
    v->type = PROTO_VAL_DOUBLE;
    v->u.d = d;
    return true;
}

//  Value of `set` or an action argument: number, true/false, or a word.
static bool
s_value(const char *s, healer_step_t *st)
{
    if (s_number(s, &st->value))
        return true;
    if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
        st->value.type = PROTO_VAL_BOOL;
        st->value.u.b = s[0] == 't';
        return true;
    }
    if (!s_name_ok(s, PROTO_MAX_NAME))
        return false;
    strcpy(st->text, s);
    st->value.type = PROTO_VAL_STR;
    st->value.u.s = st->text;
    return true;
}

static bool
s_parse_step(parse_t *p, char *val)
{
    healer_fix_t *fix = p->cur;
    if (fix->n_steps == PROTO_MAX_STEPS)
        return s_fail(p, "too many steps in fix '%s' (at most %d)", fix->name,
                      PROTO_MAX_STEPS);
    char *words[4] = {0};
    int n = 0;
    for (char *tok = strtok(val, " \t"); tok; tok = strtok(NULL, " \t")) {
        if (n == 3)
            return s_fail(p, "step has too many words");
        words[n++] = tok;
    }
    if (n < 2)
        return s_fail(p, "step needs an operation and a target");
    healer_step_t *st = &fix->steps[fix->n_steps];
    memset(st, 0, sizeof *st);
    size_t op = 0;
    while (op < 5 && strcmp(words[0], s_op_names[op]) != 0)
        op++;
    if (op == 5)
        return s_fail(p, "unknown step operation '%s' (set, mul, div, add, "
                         "action)", words[0]);
    st->op = (proto_step_op_t)op;
    if (!s_name_ok(words[1], PROTO_MAX_NAME))
        return s_fail(p, "bad knob or action name '%s'", words[1]);
    strcpy(st->target, words[1]);
    if (st->op == PROTO_STEP_ACTION) {
        if (n == 3 && !s_value(words[2], st))
            return s_fail(p, "bad action argument '%s'", words[2]);
    } else if (n != 3) {
        return s_fail(p, "step '%s' needs a value", words[0]);
    } else if (st->op == PROTO_STEP_SET) {
        if (!s_value(words[2], st))
            return s_fail(p, "bad value '%s'", words[2]);
    } else {
        if (!s_number(words[2], &st->value))
            return s_fail(p, "bad number '%s'", words[2]);
        double d = st->value.type == PROTO_VAL_INT ? (double)st->value.u.i
                                                   : st->value.u.d;
        if ((st->op == PROTO_STEP_MUL || st->op == PROTO_STEP_DIV) && d <= 0)
            return s_fail(p, "%s needs a positive number, not '%s'",
                          words[0], words[2]);
    }
    fix->n_steps++;
    return true;
}

static bool
s_end_fix(parse_t *p)
{
    if (!p->cur)
        return true;
    if (!p->cur_has_class)
        return s_fail(p, "fix '%s' (line %u) has no class", p->cur->name,
                      p->cur->line);
    if (p->cur->n_steps == 0)
        return s_fail(p, "fix '%s' (line %u) has no step", p->cur->name,
                      p->cur->line);
    return true;
}

static bool
s_parse_header(parse_t *p, healer_catalog_t *self, char *line)
{
    if (!s_end_fix(p))
        return false;
    size_t n = strlen(line);
    if (line[n - 1] != ']' || strncmp(line, "[fix ", 5) != 0)
        return s_fail(p, "expected '[fix NAME]'");
    line[n - 1] = '\0';
    char *name = s_trim(line + 5);
    if (!s_name_ok(name, PROTO_MAX_NAME))
        return s_fail(p, "bad fix name '%s' (1-%d of A-Z a-z 0-9 _ . -)",
                      name, PROTO_MAX_NAME);
    if (healer_catalog_find(self, name))
        return s_fail(p, "duplicate fix name '%s'", name);
    if (self->n_fixes == HEALER_CATALOG_MAX_FIXES)
        return s_fail(p, "too many fixes (at most %d)",
                      HEALER_CATALOG_MAX_FIXES);
    p->cur = &self->fixes[self->n_fixes++];
    memset(p->cur, 0, sizeof *p->cur);
    strcpy(p->cur->name, name);
    p->cur->line = p->line;
    p->cur_has_class = p->cur_has_glob = false;
    return true;
}

static bool
s_parse_pair(parse_t *p, char *line)
{
    char *eq = strchr(line, '=');
    if (!eq)
        return s_fail(p, "expected 'key = value'");
    *eq = '\0';
    char *key = s_trim(line), *val = s_trim(eq + 1);
    if (!p->cur)
        return s_fail(p, "'%s' outside a [fix NAME] section", key);
    if (!*val)
        return s_fail(p, "'%s' has no value", key);
    if (strcmp(key, "class") == 0) {
        if (p->cur_has_class)
            return s_fail(p, "second class in fix '%s'", p->cur->name);
        if (strcmp(val, "*") != 0 && !s_name_ok(val, PROTO_MAX_CLASS))
            return s_fail(p, "bad error class '%s'", val);
        strcpy(p->cur->error_class, val);
        p->cur_has_class = true;
        return true;
    }
    if (strcmp(key, "template") == 0) {
        if (p->cur_has_glob)
            return s_fail(p, "second template in fix '%s'", p->cur->name);
        if (strlen(val) > HEALER_CATALOG_GLOB_MAX)
            return s_fail(p, "template longer than %d bytes",
                          HEALER_CATALOG_GLOB_MAX);
        strcpy(p->cur->glob, val);
        p->cur_has_glob = true;
        return true;
    }
    if (strcmp(key, "step") == 0)
        return s_parse_step(p, val);
    return s_fail(p, "unknown key '%s' (class, template, step)", key);
}

static bool
s_parse_line(parse_t *p, healer_catalog_t *self, const char *start,
             size_t len)
{
    if (len > HEALER_CATALOG_MAX_LINE)
        return s_fail(p, "line longer than %d bytes", HEALER_CATALOG_MAX_LINE);
    char buf[HEALER_CATALOG_MAX_LINE + 1];
    memcpy(buf, start, len);
    buf[len] = '\0';
    if (memchr(start, '\0', len))
        return s_fail(p, "NUL byte in line");
    char *line = s_trim(buf);
    if (*line == '\0' || *line == '#')
        return true;
    if (*line == '[')
        return s_parse_header(p, self, line);
    return s_parse_pair(p, line);
}

healer_catalog_t *
healer_catalog_parse(const char *text, size_t len, const char *origin,
                     char *err, size_t errlen)
{
    healer_catalog_t *self = calloc(1, sizeof *self);
    if (self)
        self->fixes = calloc(HEALER_CATALOG_MAX_FIXES, sizeof *self->fixes);
    parse_t p = {origin ? origin : "catalog", 0, err, errlen, NULL, false,
                 false};
    if (!self || !self->fixes) {
        s_fail(&p, "out of memory");
        healer_catalog_destroy(&self);
        return NULL;
    }
    size_t pos = 0;
    bool ok = true;
    while (ok && pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        p.line++;
        ok = s_parse_line(&p, self, text + pos, n);
        pos += n + 1;
    }
    if (ok)
        ok = s_end_fix(&p);
    if (ok && self->n_fixes == 0) {
        p.line = p.line ? p.line : 1;
        ok = s_fail(&p, "no fix defined");
    }
    if (!ok)
        healer_catalog_destroy(&self);
    return self;
}

healer_catalog_t *
healer_catalog_load(const char *path, char *err, size_t errlen)
{
    parse_t p = {path, 0, err, errlen, NULL, false, false};
    FILE *f = fopen(path, "rb");
    if (!f) {
        s_fail(&p, "cannot open: %s", strerror(errno));
        return NULL;
    }
    char *buf = malloc(HEALER_CATALOG_MAX_FILE + 1);
    size_t n = buf ? fread(buf, 1, HEALER_CATALOG_MAX_FILE + 1, f) : 0;
    bool bad = !buf || ferror(f);
    fclose(f);
    healer_catalog_t *self = NULL;
    if (bad)
        s_fail(&p, "cannot read: %s", buf ? "read error" : "out of memory");
    else if (n > HEALER_CATALOG_MAX_FILE)
        s_fail(&p, "file larger than %u bytes", HEALER_CATALOG_MAX_FILE);
    else
        self = healer_catalog_parse(buf, n, path, err, errlen);
    free(buf);
    return self;
}

healer_catalog_t *
healer_catalog_builtin(void)
{
    return healer_catalog_parse(s_builtin, sizeof s_builtin - 1, "builtin",
                                NULL, 0);
}

const char *
healer_catalog_builtin_text(void)
{
    return s_builtin;
}

void
healer_catalog_destroy(healer_catalog_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->fixes);
    free(*self_p);
    *self_p = NULL;
}

uint32_t
healer_catalog_count(const healer_catalog_t *self)
{
    return self->n_fixes;
}

const healer_fix_t *
healer_catalog_fix(const healer_catalog_t *self, uint32_t i)
{
    return i < self->n_fixes ? &self->fixes[i] : NULL;
}

const healer_fix_t *
healer_catalog_find(const healer_catalog_t *self, const char *name)
{
    for (uint32_t i = 0; i < self->n_fixes; i++)
        if (strcmp(self->fixes[i].name, name) == 0)
            return &self->fixes[i];
    return NULL;
}

bool
healer_catalog_glob(const char *glob, const char *s)
{
    // Iterative matcher: remember the last '*' and retry from one byte
    // further on a mismatch, so the cost stays O(len(glob) * len(s)).
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*glob == '*') {
            star = glob++;
            resume = s;
        } else if (*glob == '?' || *glob == *s) {
            glob++;
            s++;
        } else if (star) {
            glob = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*glob == '*')
        glob++;
    return *glob == '\0';
}

uint32_t
healer_catalog_candidates(const healer_catalog_t *self,
                          const char *error_class, const char *text,
                          const char *template_text,
                          const healer_fix_t **out, uint32_t cap)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < self->n_fixes && n < cap; i++) {
        const healer_fix_t *fix = &self->fixes[i];
        if (strcmp(fix->error_class, "*") != 0 &&
            (!error_class || strcmp(fix->error_class, error_class) != 0))
            continue;
        if (fix->glob[0] &&
            !(text && healer_catalog_glob(fix->glob, text)) &&
            !(template_text && healer_catalog_glob(fix->glob, template_text)))
            continue;
        out[n++] = fix;
    }
    return n;
}

static int
s_value_text(const proto_value_t *v, char *buf, size_t len)
{
    switch (v->type) {
    case PROTO_VAL_INT:
        return snprintf(buf, len, " %lld", (long long)v->u.i);
    case PROTO_VAL_DOUBLE:
        return snprintf(buf, len, " %g", v->u.d);
    case PROTO_VAL_BOOL:
        return snprintf(buf, len, " %s", v->u.b ? "true" : "false");
    case PROTO_VAL_STR:
        return snprintf(buf, len, " %s", v->u.s);
    default:
        return 0;
    }
}

const char *
healer_catalog_describe(const healer_fix_t *fix, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < fix->n_steps && at < len; i++) {
        const healer_step_t *st = &fix->steps[i];
        int n = snprintf(buf + at, len - at, "%s%s %s", i ? "; " : "",
                         s_op_names[st->op], st->target);
        if (n < 0 || (size_t)n >= len - at)
            break;
        at += (size_t)n;
        n = s_value_text(&st->value, buf + at, len - at);
        if (n < 0 || (size_t)n >= len - at)
            break;
        at += (size_t)n;
    }
    return buf;
}
