/*  node_json.c - crash-safe, bounded JSON files (node_json.h). */

#include "node_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

hb_err_t
node_json_save(node_store_t *store, const char *name, const json_t *doc,
               size_t max, bool compact)
{
    if (!store || !name || !doc)
        return HB_EINVAL;
    size_t flags = JSON_ENSURE_ASCII | JSON_REAL_PRECISION(17) |
                   (compact ? JSON_COMPACT : JSON_INDENT(2));
    // Measure first: a document over the cap is refused before we
    // allocate its text.
    size_t len = json_dumpb(doc, NULL, 0, flags);
    if (len == 0)
        return HB_EINVAL;
    if (len > max)
        return HB_ETOOBIG;
    char *text = malloc(len + 1);
    if (!text)
        return HB_ENOMEM;
    size_t written = json_dumpb(doc, text, len, flags);
    hb_err_t rc = HB_ENOMEM;
    if (written == len) {
        text[len] = '\n';
        rc = node_store_write(store, name, text, len + 1);
    }
    free(text);
    return rc;
}

hb_err_t
node_json_load(node_store_t *store, const char *name, size_t max,
               json_t **doc_p, char *why, size_t why_len)
{
    if (!store || !doc_p)
        return HB_EINVAL;
    *doc_p = NULL;
    char *text = NULL;
    size_t len = 0;
    hb_err_t rc = node_store_read(store, name, max, &text, &len);
    if (rc != HB_OK) {
        if (why && why_len)
            snprintf(why, why_len, "%s: %s", name, hb_err_str(rc));
        return rc;
    }
    json_error_t err;
    *doc_p = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    free(text);
    if (!*doc_p) {
        if (why && why_len)
            snprintf(why, why_len, "%s:%d:%d: %s", name, err.line, err.column,
                     err.text);
        return HB_ESYNTAX;
    }
    return HB_OK;
}

//  Length of the valid UTF-8 sequence at p (at most `left` bytes), or 0:
//  rejects overlong forms, surrogates and code points past U+10FFFF.
static size_t
s_utf8_len(const unsigned char *p, size_t left)
{
    if (p[0] < 0x80)
        return 1;
    size_t n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
    if (n == 0 || n > left || p[0] > 0xf4)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
        (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
        return 0;
    return n;
}

json_t *
node_json_str(const char *text)
{
    const unsigned char *in = (const unsigned char *)(text ? text : "");
    size_t len = strlen((const char *)in);
    char *out = malloc(len * 3 + 1); // each bad byte becomes 3 bytes
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = s_utf8_len(in + i, len - i);
        if (n == 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, in + i, n);
            o += n;
            i += n;
        }
    }
    json_t *s = json_stringn(out, o);
    free(out);
    return s;
}
