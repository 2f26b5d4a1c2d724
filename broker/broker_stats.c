/*  broker_stats.c - counters and the stats message (see broker_stats.h). */

#include "broker_stats.h"

#include "hb_clock.h"
#include "proto_codec.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct broker_stats {
    char id[PROTO_MAX_ID + 1];
    hb_log_t *log;              // borrowed from main
    broker_counters_t now;      // bumped by the forwarder
    broker_counters_t logged;   // as of the last summary line
    uint64_t seq;               // of the last stats message sent
};

/*  Wire names and places of the counters, in the order the stats message
    lists them.  The names are part of the protocol (PROTOCOL.md, tap). */
typedef struct {
    const char *name;
    size_t offset;
} s_counter_field_t;

#define S_FIELD(name, member) {name, offsetof(broker_counters_t, member)}
static const s_counter_field_t s_fields[] = {
    S_FIELD("msgs_in", msgs_in),
    S_FIELD("bytes_in", bytes_in),
    S_FIELD("msgs_out", msgs_out),
    S_FIELD("bytes_out", bytes_out),
    S_FIELD("dropped_frames", dropped[BROKER_DROP_FRAMES]),
    S_FIELD("dropped_topic", dropped[BROKER_DROP_TOPIC]),
    S_FIELD("dropped_size", dropped[BROKER_DROP_SIZE]),
    S_FIELD("dropped_hwm", dropped[BROKER_DROP_HWM]),
    S_FIELD("dropped_upstream", dropped[BROKER_DROP_UPSTREAM]),
    S_FIELD("subscribes", subscribes),
    S_FIELD("unsubscribes", unsubscribes),
    S_FIELD("front_connects", front_connects),
    S_FIELD("front_disconnects", front_disconnects),
    S_FIELD("stats_sent", stats_sent),
};
#define S_NFIELDS (sizeof s_fields / sizeof s_fields[0])
_Static_assert(S_NFIELDS <= PROTO_MAX_COUNTERS, "too many broker counters");

static const char *const s_drop_names[BROKER_DROP_COUNT] = {
    "dropped_frames", "dropped_topic", "dropped_size", "dropped_hwm",
    "dropped_upstream"};

broker_stats_t *
broker_stats_new(const char *id, hb_log_t *log)
{
    assert(id && strlen(id) <= PROTO_MAX_ID);
    broker_stats_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    memcpy(self->id, id, strlen(id) + 1);
    self->log = log;
    return self;
}

void
broker_stats_destroy(broker_stats_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

broker_counters_t *
broker_stats_counters(broker_stats_t *self)
{
    assert(self);
    return &self->now;
}

const char *
broker_stats_drop_name(broker_drop_t reason)
{
    return reason < BROKER_DROP_COUNT ? s_drop_names[reason] : "?";
}

static uint64_t
s_get(const broker_counters_t *c, size_t i)
{
    uint64_t v;
    memcpy(&v, (const char *)c + s_fields[i].offset, sizeof v);
    return v;
}

hb_err_t
broker_stats_encode(broker_stats_t *self, uint64_t uptime_ms,
                    broker_stats_frame_t *out)
{
    assert(self && out);
    proto_msg_t msg;
    proto_msg_init(&msg, PROTO_KIND_STATS);
    msg.subject = self->id;
    msg.version = PROTO_VERSION;
    msg.sender = self->id;
    msg.seq = self->seq + 1;
    msg.ts_us = hb_clock_wall_us();
    msg.u.node.role = "broker";
    msg.u.node.uptime_ms = uptime_ms;
    for (size_t i = 0; i < S_NFIELDS; i++) {
        msg.u.node.counters[i].name = s_fields[i].name;
        msg.u.node.counters[i].value = s_get(&self->now, i);
    }
    msg.u.node.n_counters = (uint32_t)S_NFIELDS;
    out->topic_len = proto_codec_topic(&msg, out->topic, sizeof out->topic);
    if (out->topic_len == 0)
        return HB_ETOOBIG;
    hb_err_t rc = proto_codec_encode(&msg, out->body, sizeof out->body,
                                     &out->body_len);
    if (rc == HB_OK)
        self->seq++;
    return rc;
}

static bool
s_changed(const broker_counters_t *a, const broker_counters_t *b)
{
    for (size_t i = 0; i < S_NFIELDS; i++) {
        if (s_fields[i].offset == offsetof(broker_counters_t, stats_sent))
            continue;
        if (s_get(a, i) != s_get(b, i))
            return true;
    }
    return false;
}

void
broker_stats_log(broker_stats_t *self)
{
    assert(self);
    const broker_counters_t *c = &self->now;
    if (!s_changed(c, &self->logged))
        return;
    self->logged = *c;
    const uint64_t *d = c->dropped;
    hb_log_info(self->log,
                "stats: in %" PRIu64 " msgs %" PRIu64 " B, out %" PRIu64
                " msgs %" PRIu64 " B, dropped frames=%" PRIu64
                " topic=%" PRIu64 " size=%" PRIu64 " hwm=%" PRIu64
                " upstream=%" PRIu64 ", subs +%" PRIu64 " -%" PRIu64
                ", publishers +%" PRIu64 " -%" PRIu64,
                c->msgs_in, c->bytes_in, c->msgs_out, c->bytes_out,
                d[BROKER_DROP_FRAMES], d[BROKER_DROP_TOPIC],
                d[BROKER_DROP_SIZE], d[BROKER_DROP_HWM],
                d[BROKER_DROP_UPSTREAM], c->subscribes, c->unsubscribes,
                c->front_connects, c->front_disconnects);
}
