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
