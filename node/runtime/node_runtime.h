/*  node_runtime.h - the engine of healbus-node: sockets, loop, dispatch.

    One runtime runs one role on one thread.  It connects a SUB socket to
    every broker's back endpoint (the role's topic prefixes plus `node.`)
    and a PUB socket to every front, decodes each message (rejections are
    counted per code and logged rate-limited, never fatal), drops
    duplicates by (sender, seq) so a role sees a message once however many
    brokers carried it, calls the role's on_msg / on_tick, publishes the
    node heartbeat (`node.<id>`) and tracks live peers of the same role for
    node_ctx_owns().

    Readiness: the runtime counts as subscribed once its own first
    heartbeat comes back through a broker (that proves the subscription
    reached the broker, and the role's prefixes were sent before `node.`).
    Until then it re-sends the heartbeat every NODE_RUNTIME_PROBE_MS.  On
    ready it calls opts.on_ready once and publishes `ask.*` so agents that
    started earlier re-announce themselves, and asks again one heartbeat
    interval later, because a PUB's first messages can be lost while a new
    connection is set up.

    new, run and destroy must be called on the same thread (the sockets
    belong to it). */

#ifndef NODE_RUNTIME_H
#define NODE_RUNTIME_H

#include "hb_log.h"
#include "healbus.h"
#include "node_config.h"
#include "node_role.h"
#include "node_store.h"
#include "proto_codec.h"
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define NODE_RUNTIME_PROBE_MS 250 // heartbeat period until ready
#define NODE_RUNTIME_HWM 10000    // messages queued per socket
#define NODE_RUNTIME_SENDERS 4096 // senders the dedupe table tracks
#define NODE_RUNTIME_BATCH 256    // messages drained per wakeup

typedef struct node_runtime node_runtime_t;

/*  An injectable clock: monotonic milliseconds and wall-clock
    microseconds since the epoch.  Any member NULL means the system's. */
typedef struct {
    int64_t (*mono_ms)(void *arg);
    int64_t (*wall_us)(void *arg);
    void *arg;
} node_runtime_clock_t;

typedef struct {
    const char *id;             // required: [A-Za-z0-9._-], 1..PROTO_MAX_ID
    const char *brokers;        // endpoint list; NULL: $HEALBUS_BROKER, default
    const char *data_dir;       // required: created if missing
    node_config_t *config;      // borrowed, may be NULL; lookups mark keys used
    hb_log_t *log;              // borrowed, required
    int heartbeat_ms;           // node heartbeat period; 0 means 2000
    int tick_ms;                // on_tick period; 0 means 100
    node_runtime_clock_t clock; // zero: the system clocks
    /*  Called once, on the runtime's thread, when subscribed. */
    void (*on_ready)(void *arg, node_runtime_t *runtime);
    void *ready_arg;
} node_runtime_opts_t;

/*  Counters of the runtime (the role's come from its counters()). */
typedef struct {
    uint64_t received;      // frames sets read from the SUB socket
    uint64_t rejected;      // undecodable (see rejects)
    uint64_t duplicates;    // dropped as seen before
    uint64_t missing;       // sequence numbers never received (gaps)
    uint64_t dispatched;    // handed to the role's on_msg
    uint64_t published;     // messages sent
    uint64_t publish_drops; // messages not sent (full, encode error)
    uint64_t peers;         // live peers of the same role
} node_runtime_stats_t;

/*  Open the data directory, the sockets and create the role.  NULL on
    failure with *why set (if not NULL): HB_EINVAL for a usage problem
    (bad id, broker list, role create() failed or a config value did not
    validate: a binary exits 2), HB_EIO or HB_ENOMEM for a runtime failure
    (exit 1).  The reason is logged.  Caller destroys. */
node_runtime_t *node_runtime_new(const node_runtime_opts_t *opts,
                                 const node_role_t *role, hb_err_t *why);

/*  Destroy the role (which persists its state), close the sockets. */
void node_runtime_destroy(node_runtime_t **self_p);

/*  Run the loop until *stop becomes true (a signal handler or another
    thread may set it; a signal also interrupts the wait at once).
    Returns HB_OK when stopped, HB_EIO when the sockets failed. */
hb_err_t node_runtime_run(node_runtime_t *self, const atomic_bool *stop);

/*  One pass of the loop: wait up to `max_wait_ms` for messages, handle
    them, run the tick and heartbeat if due.  For tests driving the clock. */
hb_err_t node_runtime_step(node_runtime_t *self, int max_wait_ms);

/*  The accessors node_ctx.c builds on (borrowed pointers). */
const char *node_runtime_id(const node_runtime_t *self);
const char *node_runtime_role_name(const node_runtime_t *self);
hb_log_t *node_runtime_log(node_runtime_t *self);
node_store_t *node_runtime_store(node_runtime_t *self);
node_config_t *node_runtime_config(node_runtime_t *self);
int64_t node_runtime_now_ms(const node_runtime_t *self);
int64_t node_runtime_wall_us(const node_runtime_t *self);
bool node_runtime_ready(const node_runtime_t *self);
void node_runtime_stats(const node_runtime_t *self, node_runtime_stats_t *out);

/*  Per-code counts of rejected messages (borrowed). */
const proto_codec_rejects_t *node_runtime_rejects(const node_runtime_t *self);

/*  Fill the header (version, sender = id, seq, ts) and send on every
    broker without blocking.  HB_EFULL when dropped, the encoder's code
    when `msg` does not encode; both counted as publish drops. */
hb_err_t node_runtime_publish(node_runtime_t *self, proto_msg_t *msg);

/*  True when this node owns `agent` among the live nodes of its role. */
bool node_runtime_owns(node_runtime_t *self, const char *agent);

/*  True when `id` can name a node: 1..PROTO_MAX_ID bytes of
    [A-Za-z0-9._-], not starting with '.' (it is also a directory name). */
bool node_runtime_id_ok(const char *id);

#endif
