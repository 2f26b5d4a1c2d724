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
    role's create() then fails with a clear message).
    A key is looked up as "<role>.<key>" first, then as "<key>", so one
    file can serve several roles ("healer.max_candidates = 3") while flags
    mapped to keys stay short (--on-escalate sets "on_escalate").  A bad
    value logs `config: KEY = "VALUE": what is wrong (expected ...)`,
    returns `dflt` and sets the failed flag; the runtime then refuses to
    start (exit 2).  Booleans accept true/false, yes/no, on/off, 1/0.  Keys
    no lookup asked for are reported as probable typos after create(). */
const char *node_ctx_config_str(node_ctx_t *ctx, const char *key,
                                const char *dflt);
int64_t node_ctx_config_int(node_ctx_t *ctx, const char *key, int64_t dflt,
                            int64_t min, int64_t max);
double node_ctx_config_double(node_ctx_t *ctx, const char *key, double dflt,
                              double min, double max);
bool node_ctx_config_bool(node_ctx_t *ctx, const char *key, bool dflt);
/*  True when some config lookup failed validation (checked after create). */
bool node_ctx_config_failed(const node_ctx_t *ctx);

/*  Work sharing between nodes of one role (several healers, say): true
    when this node owns `agent` among the live nodes of its role, by
    rendezvous (highest random weight) hashing of the agent name over the
    members, self included.  Members are known from their `node.<id>`
    heartbeats and count as alive while one was seen within three
    heartbeat intervals, so each agent is owned by exactly one live node
    and only a dead node's agents move.  Roles call it before acting on an
    agent (and may keep observing agents they do not own).  A node that
    has not yet heard its peers owns everything for a heartbeat or two. */
bool node_ctx_owns(node_ctx_t *ctx, const char *agent);

/* ------------------------------------------------ runtime side only -- */
/*  The node runtime makes one context per role instance; roles never call
    these.  The context borrows everything from `runtime`. */
struct node_runtime;
node_ctx_t *node_ctx_new(struct node_runtime *runtime);
void node_ctx_destroy(node_ctx_t **self_p);

#endif
