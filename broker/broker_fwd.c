/*  broker_fwd.c - XSUB/XPUB forwarder with counters (see broker_fwd.h). */

#include "broker_fwd.h"

#include "hb_clock.h"
#include "proto_msg.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

//  Messages handled per socket per poll wake-up.  One per wake-up costs a
//  zmq_poll per message (a quarter of zmq_proxy's rate); a bounded burst
//  keeps that cost amortised without starving the other direction.
#define BROKER_FWD_BURST 512
//  Attempts at finding a free port pair P, P+1 for "tcp://HOST:*".
#define BROKER_FWD_PAIR_TRIES 64

struct broker_fwd {
    void *ctx;                 // owned
    void *front;               // owned: XSUB, publishers connect
    void *back;                // owned: XPUB, subscribers connect
    void *monitor;             // owned: PAIR, front's connect events
    char front_ep[HB_ENDPOINT_MAX];
    char back_ep[HB_ENDPOINT_MAX];
    int stop_fd;
    int stats_interval_ms;
    int64_t started_ms;
    zmq_msg_t topic;           // reused for every message
    zmq_msg_t body;
    broker_stats_t *stats;     // borrowed from main
    broker_counters_t *count;  // borrowed from stats
    hb_log_t *log;             // borrowed from main
    hb_log_complaint_t complaints[BROKER_DROP_COUNT];
    hb_log_complaint_t stats_complaint;
};

static void *
s_socket(broker_fwd_t *self, int type, int hwm)
{
    void *s = zmq_socket(self->ctx, type);
    if (!s)
        return NULL;
    // Peers are untrusted: libzmq drops a peer that sends a bigger frame
    // before any of it is buffered here.
    int64_t max = PROTO_MAX_FRAME;
    int zero = 0;
    if (zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0 ||
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) != 0) {
        zmq_close(s);
        return NULL;
    }
    return s;
}

static bool
s_last_endpoint(void *socket, char *buf, size_t len)
{
    size_t n = len;
    return zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, buf, &n) == 0;
}

static hb_err_t
s_bind(broker_fwd_t *self, void *socket, const char *ep, char *bound,
       size_t len)
{
    if (zmq_bind(socket, ep) != 0 || !s_last_endpoint(socket, bound, len)) {
        hb_log_error(self->log, "cannot bind %s: %s", ep,
                     zmq_strerror(zmq_errno()));
        return HB_EIO;
    }
    return HB_OK;
}

//  "tcp://HOST:*" with no back given: bind the front on a free port P and
//  the back on P + 1; if P + 1 is taken, give P back and try again.
static hb_err_t
s_bind_pair(broker_fwd_t *self, const char *front)
{
    char host[HB_ENDPOINT_MAX - 16];
    int port = 0;
    for (int i = 0; i < BROKER_FWD_PAIR_TRIES; i++) {
        hb_err_t rc = s_bind(self, self->front, front, self->front_ep,
                             sizeof self->front_ep);
        if (rc != HB_OK)
            return rc;
        if (!hb_endpoint_split_tcp(self->front_ep, host, sizeof host,
                                   &port)) {
            hb_log_error(self->log, "cannot read back the port of %s",
                         self->front_ep);
            return HB_EIO;
        }
        char back[HB_ENDPOINT_MAX + 16];
        snprintf(back, sizeof back, "tcp://%s:%d", host, port + 1);
        if (port < 65535 && zmq_bind(self->back, back) == 0 &&
            s_last_endpoint(self->back, self->back_ep, sizeof self->back_ep))
            return HB_OK;
        hb_log_debug(self->log, "port %d is free but %d is not; retrying",
                     port, port + 1);
        zmq_unbind(self->front, self->front_ep);
    }
    hb_log_error(self->log, "no free port pair P, P+1 for %s after %d tries",
                 front, BROKER_FWD_PAIR_TRIES);
    return HB_EIO;
}

static hb_err_t
s_bind_both(broker_fwd_t *self, const broker_fwd_config_t *config)
{
    size_t n = strlen(config->front);
    bool any_port = strncmp(config->front, "tcp://", 6) == 0 && n > 2 &&
                    strcmp(config->front + n - 2, ":*") == 0;
    if (any_port && !config->back)
        return s_bind_pair(self, config->front);
    char back[HB_ENDPOINT_MAX];
    if (config->back)
        snprintf(back, sizeof back, "%s", config->back);
    else {
        hb_endpoint_list_t list;
        char why[512] = "";
        hb_err_t rc = hb_endpoint_parse(config->front, &list, why, sizeof why);
        if (rc == HB_OK && list.count != 1)
            snprintf(why, sizeof why,
                     "cannot bind '%.200s': give one endpoint, not a list",
                     config->front);
        if (rc != HB_OK || list.count != 1) {
            hb_log_error(self->log, "%s", why);
            return HB_EINVAL;
        }
        snprintf(back, sizeof back, "%s", list.brokers[0].back);
    }
    hb_err_t rc = s_bind(self, self->front, config->front, self->front_ep,
                         sizeof self->front_ep);
    if (rc == HB_OK)
        rc = s_bind(self, self->back, back, self->back_ep,
                    sizeof self->back_ep);
    return rc;
}

//  Connection events of the front side, so that a publisher cut off by
//  libzmq (an oversized frame) leaves a trace in the counters.
static hb_err_t
s_monitor_start(broker_fwd_t *self)
{
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://broker-front-monitor-%p",
             (void *)self);
    if (zmq_socket_monitor(self->front, ep,
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) !=
        0)
        return HB_EIO;
    self->monitor = zmq_socket(self->ctx, ZMQ_PAIR);
    if (!self->monitor || zmq_connect(self->monitor, ep) != 0)
        return HB_EIO;
    return HB_OK;
}

static hb_err_t
s_open(broker_fwd_t *self, const broker_fwd_config_t *config)
{
    self->ctx = zmq_ctx_new();
    if (!self->ctx)
        return HB_EIO;
    self->front = s_socket(self, ZMQ_XSUB, config->hwm);
    self->back = s_socket(self, ZMQ_XPUB, config->hwm);
    if (!self->front || !self->back)
        return HB_EIO;
    // Without NODROP the XPUB drops at a subscriber's HWM and says nothing;
    // with it, a send returns EAGAIN and we drop and count instead.
    int one = 1;
    if (zmq_setsockopt(self->back, ZMQ_XPUB_NODROP, &one, sizeof one) != 0)
        return HB_EIO;
    hb_err_t rc = s_bind_both(self, config);
    if (rc != HB_OK)
        return rc;
    return s_monitor_start(self);
}

broker_fwd_t *
broker_fwd_new(const broker_fwd_config_t *config, broker_stats_t *stats,
               hb_log_t *log, hb_err_t *why)
{
    assert(config && config->front && config->hwm > 0 && stats);
    broker_fwd_t *self = calloc(1, sizeof *self);
    if (!self) {
        if (why)
            *why = HB_ENOMEM;
        return NULL;
    }
    self->stop_fd = config->stop_fd;
    self->stats_interval_ms = config->stats_interval_ms;
    self->started_ms = hb_clock_mono_ms();
    self->stats = stats;
    self->count = broker_stats_counters(stats);
    self->log = log;
    zmq_msg_init(&self->topic);
    zmq_msg_init(&self->body);
    hb_err_t rc = s_open(self, config);
    if (rc != HB_OK) {
        if (rc == HB_EIO && self->ctx)
            hb_log_error(log, "cannot set up the sockets: %s",
                         zmq_strerror(zmq_errno()));
        broker_fwd_destroy(&self);
        if (why)
            *why = rc;
        return NULL;
    }
    return self;
}

void
broker_fwd_destroy(broker_fwd_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_fwd_t *self = *self_p;
    zmq_msg_close(&self->topic);
    zmq_msg_close(&self->body);
    if (self->front && self->monitor)
        zmq_socket_monitor(self->front, NULL, 0);
    if (self->monitor)
        zmq_close(self->monitor);
    if (self->front)
        zmq_close(self->front);
    if (self->back)
        zmq_close(self->back);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    free(self);
    *self_p = NULL;
}

const char *
broker_fwd_front(const broker_fwd_t *self)
{
    return self->front_ep;
}

const char *
broker_fwd_back(const broker_fwd_t *self)
{
    return self->back_ep;
}

static void
s_drop(broker_fwd_t *self, broker_drop_t reason, size_t frames)
{
    static const char *const why[BROKER_DROP_COUNT] = {
        "not two frames (topic + body)",
        "topic is not <kind>.<subject>",
        "topic over the size limit, or empty body",
        "a subscriber's queue is full (slow subscriber)",
        "a subscriber sent something other than a subscription"};
    self->count->dropped[reason]++;
    hb_log_complain(self->log, &self->complaints[reason],
                    "dropped a %zu-frame message: %s (%s)", frames,
                    why[reason], broker_stats_drop_name(reason));
}

//  Receive and throw away the rest of a multipart message; returns the
//  number of frames and adds their bytes to *bytes.
static size_t
s_discard_rest(void *socket, zmq_msg_t *scratch, uint64_t *bytes)
{
    size_t frames = 0;
    while (zmq_msg_more(scratch)) {
        if (zmq_msg_recv(scratch, socket, 0) < 0)
            break;
        frames++;
        *bytes += zmq_msg_size(scratch);
    }
    return frames;
}

//  The cheap topic check: size, a known kind, a subject of 1..PROTO_MAX_ID
//  bytes without NUL (what proto_codec requires).  Bodies are not decoded.
static bool
s_check(zmq_msg_t *topic, zmq_msg_t *body, broker_drop_t *reason)
{
    size_t len = zmq_msg_size(topic);
    size_t body_len = zmq_msg_size(body);
    if (len > PROTO_MAX_TOPIC || body_len == 0 || body_len > PROTO_MAX_FRAME) {
        *reason = BROKER_DROP_SIZE;
        return false;
    }
    const char *t = zmq_msg_data(topic);
    const char *dot = memchr(t, '.', len);
    proto_kind_t kind;
    *reason = BROKER_DROP_TOPIC;
    if (!dot || !proto_msg_kind_parse(t, (size_t)(dot - t), &kind))
        return false;
    size_t subject = len - (size_t)(dot - t) - 1;
    return subject > 0 && subject <= PROTO_MAX_ID &&
           !memchr(dot + 1, '\0', subject);
}

//  Forward one message front -> back; false when there is none waiting.
static bool
s_front_one(broker_fwd_t *self)
{
    broker_counters_t *c = self->count;
    if (zmq_msg_recv(&self->topic, self->front, ZMQ_DONTWAIT) < 0)
        return false;
    c->msgs_in++;
    c->bytes_in += zmq_msg_size(&self->topic);
    if (!zmq_msg_more(&self->topic)) {
        s_drop(self, BROKER_DROP_FRAMES, 1);
        return true;
    }
    // A message arrives whole, so the second frame is already here.
    if (zmq_msg_recv(&self->body, self->front, 0) < 0)
        return false;
    c->bytes_in += zmq_msg_size(&self->body);
    if (zmq_msg_more(&self->body)) {
        size_t frames = 2 + s_discard_rest(self->front, &self->body,
                                           &c->bytes_in);
        s_drop(self, BROKER_DROP_FRAMES, frames);
        return true;
    }
    broker_drop_t reason;
    if (!s_check(&self->topic, &self->body, &reason)) {
        s_drop(self, reason, 2);
        return true;
    }
    size_t bytes = zmq_msg_size(&self->topic) + zmq_msg_size(&self->body);
    if (zmq_msg_send(&self->topic, self->back, ZMQ_SNDMORE | ZMQ_DONTWAIT) <
        0) {
        s_drop(self, BROKER_DROP_HWM, 2);
        return true;
    }
    // The XPUB checks the HWM per whole message: once the first frame is
    // accepted the last one is too, so this send cannot block; it must
    // not fail either, or the next message would be glued to this one.
    if (zmq_msg_send(&self->body, self->back, 0) < 0) {
        hb_log_error(self->log, "sending a body frame: %s",
                     zmq_strerror(zmq_errno()));
        return false;
    }
    c->msgs_out++;
    c->bytes_out += bytes;
    return true;
}

//  Forward one (un)subscription back -> front; false when none waits.
static bool
s_back_one(broker_fwd_t *self)
{
    zmq_msg_t *sub = &self->topic;
    if (zmq_msg_recv(sub, self->back, ZMQ_DONTWAIT) < 0)
        return false;
    const uint8_t *d = zmq_msg_data(sub);
    size_t n = zmq_msg_size(sub);
    if (zmq_msg_more(sub) || n == 0 || (d[0] != 0 && d[0] != 1)) {
        uint64_t ignored = 0;
        size_t frames = 1 + s_discard_rest(self->back, sub, &ignored);
        s_drop(self, BROKER_DROP_UPSTREAM, frames);
        return true;
    }
    if (d[0] == 1)
        self->count->subscribes++;
    else
        self->count->unsubscribes++;
    if (hb_log_enabled(self->log, HB_LOG_DEBUG))
        hb_log_debug(self->log, "%s '%.*s'",
                     d[0] == 1 ? "subscribe" : "unsubscribe", (int)(n - 1),
                     (const char *)d + 1);
    // An XSUB never blocks on send: it keeps the subscription for
    // publishers that connect later and passes it to those connected now.
    if (zmq_msg_send(sub, self->front, ZMQ_DONTWAIT) < 0)
        hb_log_warn(self->log, "forwarding a subscription: %s",
                    zmq_strerror(zmq_errno()));
    return true;
}

static void
s_monitor_event(broker_fwd_t *self)
{
    zmq_msg_t ev;
    zmq_msg_init(&ev);
    if (zmq_msg_recv(&ev, self->monitor, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&ev);
        return;
    }
    uint16_t event = 0;
    if (zmq_msg_size(&ev) >= sizeof event)
        memcpy(&event, zmq_msg_data(&ev), sizeof event);
    uint64_t ignored = 0;
    s_discard_rest(self->monitor, &ev, &ignored); // the endpoint frame
    zmq_msg_close(&ev);
    if (event == ZMQ_EVENT_ACCEPTED)
        self->count->front_connects++;
    else if (event == ZMQ_EVENT_DISCONNECTED) {
        self->count->front_disconnects++;
        hb_log_debug(self->log, "a publisher disconnected (it closed, or it "
                                "sent a frame over %d bytes)",
                     PROTO_MAX_FRAME);
    }
}

static void
s_publish_stats(broker_fwd_t *self)
{
    broker_stats_frame_t f;
    hb_err_t rc = broker_stats_encode(
        self->stats, (uint64_t)(hb_clock_mono_ms() - self->started_ms), &f);
    if (rc != HB_OK) {
        hb_log_complain(self->log, &self->stats_complaint,
                        "cannot encode the stats message: %s",
                        hb_err_str(rc));
        return;
    }
    if (zmq_send(self->back, f.topic, f.topic_len,
                 ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        hb_log_complain(self->log, &self->stats_complaint,
                        "stats message not sent: a stats subscriber's "
                        "queue is full");
        return;
    }
    zmq_send(self->back, f.body, f.body_len, 0); // cannot block: see above
    self->count->stats_sent++;
    broker_stats_log(self->stats);
}

static int64_t
s_poll_timeout(const broker_fwd_t *self, int64_t next_stats_ms)
{
    if (self->stats_interval_ms == 0)
        return -1;
    int64_t left = next_stats_ms - hb_clock_mono_ms();
    return left > 0 ? left : 0;
}

hb_err_t
broker_fwd_run(broker_fwd_t *self)
{
    assert(self);
    zmq_pollitem_t items[] = {{self->front, 0, ZMQ_POLLIN, 0},
                              {self->back, 0, ZMQ_POLLIN, 0},
                              {self->monitor, 0, ZMQ_POLLIN, 0},
                              {NULL, self->stop_fd, ZMQ_POLLIN, 0}};
    int n_items = self->stop_fd >= 0 ? 4 : 3;
    int64_t next_stats = hb_clock_mono_ms() + self->stats_interval_ms;
    for (;;) {
        int rc = zmq_poll(items, n_items, (long)s_poll_timeout(self, next_stats));
        if (rc < 0 && zmq_errno() == EINTR)
            continue;
        if (rc < 0) {
            hb_log_error(self->log, "poll: %s", zmq_strerror(zmq_errno()));
            return HB_EIO;
        }
        if (n_items == 4 && items[3].revents)
            return HB_OK;
        if (items[0].revents & ZMQ_POLLIN)
            for (int i = 0; i < BROKER_FWD_BURST && s_front_one(self); i++)
                ;
        if (items[1].revents & ZMQ_POLLIN)
            for (int i = 0; i < BROKER_FWD_BURST && s_back_one(self); i++)
                ;
        if (items[2].revents & ZMQ_POLLIN)
            s_monitor_event(self);
        if (self->stats_interval_ms > 0 && hb_clock_mono_ms() >= next_stats) {
            s_publish_stats(self);
            next_stats = hb_clock_mono_ms() + self->stats_interval_ms;
        }
    }
}
