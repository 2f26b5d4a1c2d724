/*  node_role.h - the boundary between the node runtime and a role.

    The runtime (node_runtime.c) owns sockets, timers, heartbeats, the data
    directory and logging, and calls one role from one thread, so roles need
    no locks.  A role is a const table compiled in and chosen by
    `healbus-node --role NAME`. */

#ifndef NODE_ROLE_H
#define NODE_ROLE_H

#include "node_ctx.h"
#include "proto_msg.h"

typedef struct {
    const char *name;                 // "healer"
    const char *summary;              // one line for --help
    const char *const *topics;        // subscription prefixes, NULL-ended
    /*  Create the role's state; NULL on failure (reason already logged).
        Reads its config through ctx (node_ctx_config_*). */
    void *(*create)(node_ctx_t *ctx);
    void (*destroy)(void **state_p);
    /*  One decoded message from the bus (already validated). */
    void (*on_msg)(void *state, const proto_msg_t *msg);
    /*  Called about every tick_ms with the monotonic time. */
    void (*on_tick)(void *state, int64_t now_ms);
    /*  Counters for the node heartbeat: fill up to `cap`, return count.
        Names must be unique and must not repeat the runtime's own
        (received, rejected, duplicates, gaps, published, publish_drops,
        peers); a repeated name is left out of the heartbeat and logged. */
    uint32_t (*counters)(void *state, proto_counter_t *out, uint32_t cap);
} node_role_t;

#endif
