/*  broker_stats.h - the broker's counters and its periodic stats message.

    The forwarder bumps plain counters (one thread owns them); every stats
    interval broker_stats builds a PROTO_KIND_STATS message "stats.<id>"
    that the forwarder publishes on its back side, and logs one summary
    line when anything changed since the last one. */

#ifndef BROKER_STATS_H
#define BROKER_STATS_H

#include "hb_log.h"
#include "proto_limits.h"
#include <stddef.h>
#include <stdint.h>

/*  Why a message from a publisher was not forwarded. */
typedef enum {
    BROKER_DROP_FRAMES = 0, // not exactly two frames (topic + body)
    BROKER_DROP_TOPIC,      // topic is not "<kind>.<subject>"
    BROKER_DROP_SIZE,       // topic over PROTO_MAX_TOPIC, or empty body
    BROKER_DROP_HWM,        // a matching subscriber's queue was full
    BROKER_DROP_UPSTREAM,   // a subscriber sent something not a (un)sub
    BROKER_DROP_COUNT
} broker_drop_t;

/*  Every message received on the front side is either forwarded (msgs_out)
    or dropped for exactly one reason, so
        msgs_in == msgs_out + dropped[FRAMES] + [TOPIC] + [SIZE] + [HWM].
    DROP_UPSTREAM counts back-side messages and is outside that sum; so are
    the broker's own stats messages (stats_sent). */
typedef struct {
    uint64_t msgs_in;        // messages received from publishers
    uint64_t bytes_in;       // all their frames' bytes
    uint64_t msgs_out;       // messages forwarded to subscribers
    uint64_t bytes_out;
    uint64_t dropped[BROKER_DROP_COUNT];
    uint64_t subscribes;     // subscriptions forwarded to publishers
    uint64_t unsubscribes;
    uint64_t front_connects; // publisher connections accepted
    uint64_t front_disconnects; // includes peers cut for an oversized frame
    uint64_t stats_sent;     // stats messages published
} broker_counters_t;

typedef struct broker_stats broker_stats_t;

/*  One encoded stats message, ready to send as two frames. */
typedef struct {
    char topic[PROTO_MAX_TOPIC + 1];
    size_t topic_len;
    uint8_t body[2048];
    size_t body_len;
} broker_stats_frame_t;

/*  `id` (the broker's id, a valid topic subject) is copied; `log` is
    borrowed.  Returns NULL when out of memory.  Caller destroys. */
broker_stats_t *broker_stats_new(const char *id, hb_log_t *log);
void broker_stats_destroy(broker_stats_t **self_p);

/*  The counters the forwarder bumps (borrowed, valid until destroy). */
broker_counters_t *broker_stats_counters(broker_stats_t *self);

/*  The wire name of a drop reason ("dropped_hwm"). */
const char *broker_stats_drop_name(broker_drop_t reason);

/*  Build the next stats message (sequence numbers from 1) with the
    counters as they are now; `uptime_ms` since the broker started.
    HB_ETOOBIG if it does not fit (a bug: the frame is sized for it). */
hb_err_t broker_stats_encode(broker_stats_t *self, uint64_t uptime_ms,
                             broker_stats_frame_t *out);

/*  Log one info line with the counters if they changed since the last
    call that logged (stats_sent alone does not count as a change). */
void broker_stats_log(broker_stats_t *self);

#endif
