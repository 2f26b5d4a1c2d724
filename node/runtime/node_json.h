/*  node_json.h - a role's JSON files in the node's data directory.

    Roles keep their state (.auto_healing_log.json, .predictions.json, ...)
    as JSON documents.  These helpers pair jansson with node_store: saving
    is crash-safe (old or new file, never torn), loading is bounded in size
    and reports where a damaged file is wrong (line and column), so a role
    can log it and start empty instead of crashing or trusting garbage. */

#ifndef NODE_JSON_H
#define NODE_JSON_H

#include "healbus.h"
#include "node_store.h"
#include <jansson.h>

/*  Serialise `doc` (compact when `compact`, else indented) and replace file
    `name` with it.  HB_ETOOBIG when the text is over `max` bytes (nothing
    written), HB_ENOMEM, or node_store_write's code. */
hb_err_t node_json_save(node_store_t *store, const char *name,
                        const json_t *doc, size_t max, bool compact);

/*  Load file `name` (at most `max` bytes) into a new document (caller
    json_decref()s it).  HB_ENOTFOUND when absent, HB_ETOOBIG, HB_EIO, or
    HB_ESYNTAX when it is not JSON, with `why` (if not NULL) saying
    "NAME:LINE:COLUMN: what is wrong". */
hb_err_t node_json_load(node_store_t *store, const char *name, size_t max,
                        json_t **doc_p, char *why, size_t why_len);

/*  A JSON string for `text` (NULL = ""), which may come from a peer: bytes
    that are not valid UTF-8 become U+FFFD, since jansson refuses them and
    a whole journal entry or escalation would be lost.  New reference, or
    NULL when out of memory (json_pack's "o" then fails cleanly). */
json_t *node_json_str(const char *text);

#endif
