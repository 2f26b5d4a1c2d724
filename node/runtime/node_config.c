/*  node_config.c - `key = value` files and --set overrides (node_config.h).

    Settings are kept in a flat array: a node has tens of them, looked up
    once at start, so a linear search is the simplest correct table. */

#include "node_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *key;    // owned
    char *value;  // owned
    char *origin; // owned: "file:line" or "--set"
    bool used;
} s_entry_t;

struct node_config {
    s_entry_t *entries; // owned, `size` of `cap` used
    size_t size;
    size_t cap;
};

node_config_t *
node_config_new(void)
{
    return calloc(1, sizeof(node_config_t));
}

static void
s_entry_free(s_entry_t *e)
{
    free(e->key);
    free(e->value);
    free(e->origin);
}

void
node_config_destroy(node_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    node_config_t *self = *self_p;
    for (size_t i = 0; i < self->size; i++)
        s_entry_free(&self->entries[i]);
    free(self->entries);
    free(self);
    *self_p = NULL;
}

static void s_why(char *why, size_t why_len, const char *fmt, ...)
    HB_PRINTF(3, 4);

static void
s_why(char *why, size_t why_len, const char *fmt, ...)
{
    if (!why || !why_len)
        return;
    va_list args;
    va_start(args, fmt);
    vsnprintf(why, why_len, fmt, args);
    va_end(args);
}

static bool
s_key_ok(const char *key, size_t len)
{
    if (len == 0 || len > NODE_CONFIG_KEY_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = key[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.'))
            return false;
    }
    return true;
}

static s_entry_t *
s_find(const node_config_t *self, const char *key)
{
    for (size_t i = 0; i < self->size; i++)
        if (strcmp(self->entries[i].key, key) == 0)
            return &self->entries[i];
    return NULL;
}

//  Insert or replace key.
static hb_err_t
s_store(node_config_t *self, const char *key, const char *value,
        const char *origin)
{
    char *v = strdup(value);
    char *o = strdup(origin);
    if (!v || !o)
        goto nomem;
    s_entry_t *e = s_find(self, key);
    if (e) {
        free(e->value);
        free(e->origin);
        e->value = v;
        e->origin = o;
        return HB_OK;
    }
    if (self->size == NODE_CONFIG_MAX_ENTRIES) {
        free(v);
        free(o);
        return HB_ETOOBIG;
    }
    if (self->size == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        s_entry_t *grown = realloc(self->entries, cap * sizeof *grown);
        if (!grown)
            goto nomem;
        self->entries = grown;
        self->cap = cap;
    }
    char *k = strdup(key);
    if (!k)
        goto nomem;
    self->entries[self->size++] =
        (s_entry_t){.key = k, .value = v, .origin = o};
    return HB_OK;
nomem:
    free(v);
    free(o);
    return HB_ENOMEM;
}

hb_err_t
node_config_put(node_config_t *self, const char *key, const char *value,
                const char *origin)
{
    if (!key || !value || !s_key_ok(key, strlen(key)))
        return HB_ESYNTAX;
    if (strlen(value) >= NODE_CONFIG_LINE_MAX)
        return HB_ETOOBIG;
    return s_store(self, key, value, origin ? origin : "program");
}

static const char *
s_trim(const char *p, const char *end, const char **end_p)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    *end_p = end;
    return p;
}

//  Parse one "key = value" line into key/value buffers; NULL on success,
//  else what is wrong with it.
static const char *
s_parse_assignment(const char *line, size_t len, char *key, char *value)
{
    const char *eq = memchr(line, '=', len);
    if (!eq)
        return "expected 'key = value'";
    const char *kend;
    const char *k = s_trim(line, eq, &kend);
    if (k == kend)
        return "missing key before '='";
    if ((size_t)(kend - k) > NODE_CONFIG_KEY_MAX)
        return "key longer than 64 bytes";
    if (!s_key_ok(k, (size_t)(kend - k)))
        return "key may only contain a-z, 0-9, '_' and '.'";
    const char *vend;
    const char *v = s_trim(eq + 1, line + len, &vend);
    if (memchr(v, '\0', (size_t)(vend - v)))
        return "NUL byte in value";
    if (v < vend && *v == '"') {
        if (vend - v < 2 || vend[-1] != '"')
            return "unterminated quote (a quoted value must end with '\"')";
        v++;
        vend--;
    }
    memcpy(key, k, (size_t)(kend - k));
    key[kend - k] = '\0';
    memcpy(value, v, (size_t)(vend - v));
    value[vend - v] = '\0';
    return NULL;
}

static hb_err_t
s_parse_line(node_config_t *self, const char *line, size_t len,
             const char *origin, unsigned lineno, char *why, size_t why_len)
{
    const char *end;
    const char *p = s_trim(line, line + len, &end);
    if (p == end || *p == '#')
        return HB_OK;
    char key[NODE_CONFIG_KEY_MAX + 1];
    char value[NODE_CONFIG_LINE_MAX];
    const char *bad = s_parse_assignment(p, (size_t)(end - p), key, value);
    if (bad) {
        s_why(why, why_len, "%s:%u: %s", origin, lineno, bad);
        return HB_ESYNTAX;
    }
    s_entry_t *dup = s_find(self, key);
    if (dup) {
        s_why(why, why_len, "%s:%u: '%s' is already set at %s", origin, lineno,
              key, dup->origin);
        return HB_ESYNTAX;
    }
    char where[512];
    snprintf(where, sizeof where, "%s:%u", origin, lineno);
    hb_err_t rc = s_store(self, key, value, where);
    if (rc == HB_ETOOBIG)
        s_why(why, why_len, "%s:%u: more than %d settings", origin, lineno,
              NODE_CONFIG_MAX_ENTRIES);
    else if (rc != HB_OK)
        s_why(why, why_len, "%s:%u: out of memory", origin, lineno);
    return rc;
}

hb_err_t
node_config_parse(node_config_t *self, const char *text, size_t len,
                  const char *origin, char *why, size_t why_len)
{
    origin = origin ? origin : "config";
    if (len > NODE_CONFIG_MAX_BYTES) {
        s_why(why, why_len, "%s: %zu bytes, over the %d-byte limit", origin,
              len, NODE_CONFIG_MAX_BYTES);
        return HB_ETOOBIG;
    }
    // Parse into a scratch table and merge only a wholly valid text, so a
    // bad file leaves earlier settings untouched.
    node_config_t *scratch = node_config_new();
    if (!scratch)
        return HB_ENOMEM;
    hb_err_t rc = HB_OK;
    unsigned lineno = 0;
    const char *p = text;
    const char *end = text + len;
    while (p < end && rc == HB_OK) {
        lineno++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n >= NODE_CONFIG_LINE_MAX) {
            s_why(why, why_len, "%s:%u: line longer than %d bytes", origin,
                  lineno, NODE_CONFIG_LINE_MAX - 1);
            rc = HB_ETOOBIG;
            break;
        }
        rc = s_parse_line(scratch, p, n, origin, lineno, why, why_len);
        p += n + (nl ? 1 : 0);
    }
    for (size_t i = 0; rc == HB_OK && i < scratch->size; i++) {
        s_entry_t *e = &scratch->entries[i];
        rc = s_store(self, e->key, e->value, e->origin);
        if (rc != HB_OK)
            s_why(why, why_len, "%s: %s", origin, hb_err_str(rc));
    }
    node_config_destroy(&scratch);
    return rc;
}

hb_err_t
node_config_load(node_config_t *self, const char *path, char *why,
                 size_t why_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        s_why(why, why_len, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? HB_ENOTFOUND : HB_EIO;
    }
    hb_err_t rc = HB_EIO;
    char *text = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        s_why(why, why_len, "%s: not a regular file", path);
        goto out;
    }
    if (st.st_size > NODE_CONFIG_MAX_BYTES) {
        s_why(why, why_len, "%s: %lld bytes, over the %d-byte limit", path,
              (long long)st.st_size, NODE_CONFIG_MAX_BYTES);
        rc = HB_ETOOBIG;
        goto out;
    }
    text = malloc((size_t)st.st_size + 1);
    size_t len = 0;
    while (text && len < (size_t)st.st_size) {
        ssize_t n = read(fd, text + len, (size_t)st.st_size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    if (!text || len != (size_t)st.st_size) {
        s_why(why, why_len, "%s: read failed", path);
        goto out;
    }
    rc = node_config_parse(self, text, len, path, why, why_len);
out:
    free(text);
    close(fd);
    return rc;
}

hb_err_t
node_config_set(node_config_t *self, const char *assignment, char *why,
                size_t why_len)
{
    size_t len = strlen(assignment);
    if (len >= NODE_CONFIG_LINE_MAX) {
        s_why(why, why_len, "--set: longer than %d bytes",
              NODE_CONFIG_LINE_MAX - 1);
        return HB_ETOOBIG;
    }
    char key[NODE_CONFIG_KEY_MAX + 1];
    char value[NODE_CONFIG_LINE_MAX];
    const char *bad = s_parse_assignment(assignment, len, key, value);
    if (bad) {
        s_why(why, why_len, "--set '%s': %s (expected KEY=VALUE)", assignment,
              bad);
        return HB_ESYNTAX;
    }
    hb_err_t rc = s_store(self, key, value, "--set");
    if (rc != HB_OK)
        s_why(why, why_len, "--set '%s': %s", assignment, hb_err_str(rc));
    return rc;
}

const char *
node_config_get(node_config_t *self, const char *key, const char **origin_p)
{
    s_entry_t *e = s_find(self, key);
    if (!e)
        return NULL;
    e->used = true;
    if (origin_p)
        *origin_p = e->origin;
    return e->value;
}

size_t
node_config_size(const node_config_t *self)
{
    return self->size;
}

const char *
node_config_key(const node_config_t *self, size_t i, const char **origin_p,
                bool *used_p)
{
    const s_entry_t *e = &self->entries[i];
    if (origin_p)
        *origin_p = e->origin;
    if (used_p)
        *used_p = e->used;
    return e->key;
}
