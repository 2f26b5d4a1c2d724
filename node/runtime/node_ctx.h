/*  node_ctx.h - what the node runtime offers a role.

    A role gets a node_ctx_t in create() and keeps it (borrowed) for its
    life.  Everything here is called from the node's single thread. */

#ifndef NODE_CTX_H
#define NODE_CTX_H

#include "healbus.h"
#include "hb_log.h"
#include "node_store.h"
#include "proto_msg.h"
#include <stdbool.h>
#include <stdint.h>

typedef struct node_ctx node_ctx_t;

/*  This node's id (e.g. "healer-1") and role name. */
const char *node_ctx_id(const node_ctx_t *ctx);
const char *node_ctx_role(const node_ctx_t *ctx);

/*  The node's logger (one line per event, to stderr). */
hb_log_t *node_ctx_log(node_ctx_t *ctx);

/*  The node's data directory store (crash-safe whole-file writes). */
node_store_t *node_ctx_store(node_ctx_t *ctx);

/*  Monotonic milliseconds, and wall-clock microseconds since the epoch.
    Both come from the runtime's injectable clock. */
int64_t node_ctx_now_ms(const node_ctx_t *ctx);
int64_t node_ctx_wall_us(const node_ctx_t *ctx);

/*  Publish `msg` on every broker: the runtime fills version, sender, seq
    and timestamp.  Never blocks; HB_EFULL when dropped (counted). */
hb_err_t node_ctx_publish(node_ctx_t *ctx, proto_msg_t *msg);

/*  Role settings from the config file (--config) and --set KEY=VALUE.
    Lookups return `dflt` when the key is absent; a present but malformed
    or out-of-range value is a start-up error the runtime reports (the
    role's create() then fails with a clear message). */
const char *node_ctx_config_str(node_ctx_t *ctx, const char *key,
                                const char *dflt);
int64_t node_ctx_config_int(node_ctx_t *ctx, const char *key, int64_t dflt,
                            int64_t min, int64_t max);
double node_ctx_config_double(node_ctx_t *ctx, const char *key, double dflt,
                              double min, double max);
bool node_ctx_config_bool(node_ctx_t *ctx, const char *key, bool dflt);
/*  True when some config lookup failed validation (checked after create). */
bool node_ctx_config_failed(const node_ctx_t *ctx);

#endif
