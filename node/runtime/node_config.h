/*  node_config.h - a node's role settings: a `key = value` file plus
    `--set KEY=VALUE` overrides.

    Format, one setting per line:
        # a comment line (only whole lines are comments: a '#' after a
        # value is part of the value, so commands and URLs survive)
        healer.max_candidates = 3
        on_escalate = "mail -s healbus ops@example.com"
    Keys are [a-z0-9_.]+ (at most NODE_CONFIG_KEY_MAX bytes); values are
    trimmed, and may be wrapped in double quotes to keep leading or trailing
    spaces (no escapes inside).  Blank lines are ignored.  A key given twice
    in one file is an error; --set (and any later source) overrides.  The
    node runtime (node_ctx_config_*) validates the values and tracks which
    keys were looked up, so typos can be reported. */

#ifndef NODE_CONFIG_H
#define NODE_CONFIG_H

#include "healbus.h"
#include <stdbool.h>
#include <stddef.h>

#define NODE_CONFIG_MAX_BYTES (256 * 1024) // file size cap
#define NODE_CONFIG_LINE_MAX 4096          // bytes in one line
#define NODE_CONFIG_KEY_MAX 64             // bytes in a key
#define NODE_CONFIG_MAX_ENTRIES 512        // settings in all sources

typedef struct node_config node_config_t;

/*  An empty configuration; NULL when out of memory.  Caller destroys. */
node_config_t *node_config_new(void);
void node_config_destroy(node_config_t **self_p);

/*  Parse `text` (len bytes; need not be NUL-terminated) as a config file
    named `origin` (used in messages).  On error nothing from this text is
    kept and `why` (if not NULL) says "origin:line: what is wrong".
    HB_ESYNTAX for malformed lines, HB_ETOOBIG past a cap, HB_ENOMEM. */
hb_err_t node_config_parse(node_config_t *self, const char *text, size_t len,
                           const char *origin, char *why, size_t why_len);

/*  Read and parse the file at `path` (at most NODE_CONFIG_MAX_BYTES).
    HB_ENOTFOUND when absent, HB_EIO when unreadable, else as _parse. */
hb_err_t node_config_load(node_config_t *self, const char *path, char *why,
                          size_t why_len);

/*  Apply one "KEY=VALUE" override (the --set syntax; value as in a file:
    trimmed, optionally quoted).  Replaces an earlier value of KEY.
    HB_ESYNTAX with `why` on a malformed assignment. */
hb_err_t node_config_set(node_config_t *self, const char *assignment, char *why,
                         size_t why_len);

/*  Set KEY to VALUE verbatim (for flags mapped to keys, e.g.
    --on-escalate).  HB_ESYNTAX for a bad key, HB_ETOOBIG, HB_ENOMEM. */
hb_err_t node_config_put(node_config_t *self, const char *key,
                         const char *value, const char *origin);

/*  The value of `key` (borrowed until the config changes), or NULL.  When
    `origin_p` is not NULL it receives where the value came from
    ("node.conf:3", "--set").  Marks the key as used. */
const char *node_config_get(node_config_t *self, const char *key,
                            const char **origin_p);

/*  Number of settings, and the i-th key, origin and whether some lookup
    used it (for the "unknown key" warning); i < node_config_size(). */
size_t node_config_size(const node_config_t *self);
const char *node_config_key(const node_config_t *self, size_t i,
                            const char **origin_p, bool *used_p);

#endif
