/*  node_runtime.c - sockets, loop, dispatch, heartbeats (node_runtime.h).

    Everything runs on the caller's thread: one SUB connected to every
    broker's back, one PUB connected to every front (a PUB fans each message
    out to all its connections, so one send reaches every broker). */

#include "node_runtime.h"

#include "hb_clock.h"
#include "hb_endpoint.h"
#include "node_dedupe.h"
#include "node_members.h"
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

struct node_runtime {
    char id[PROTO_MAX_ID + 1];
    const node_role_t *role; // borrowed: a static table
    void *state;             // owned through role->destroy
    node_ctx_t *ctx;         // owned
    hb_log_t *log;           // borrowed from opts
    node_config_t *config;   // borrowed from opts, may be NULL
    node_store_t *store;     // owned
    node_dedupe_t *dedupe;   // owned
    node_members_t *members; // owned
    void *zctx;              // owned: the ZeroMQ context
    void *sub;               // owned
    void *pub;               // owned
    node_runtime_clock_t clock;
    void (*on_ready)(void *arg, node_runtime_t *runtime);
    void *ready_arg;
    int64_t heartbeat_ms;
    int64_t tick_ms;
    int64_t start_ms;
    int64_t next_tick_ms;
    int64_t next_beat_ms;
    int64_t next_ask_ms;       // 0: no ask pending
    int64_t not_ready_warn_ms; // when to say the broker is silent
    bool ready;
    uint64_t seq; // last sequence number published
    node_runtime_stats_t stats;
    proto_codec_rejects_t rejects;
    hb_log_complaint_t complaints[HB_ERR_COUNT]; // one per reject code
    hb_log_complaint_t publish_complaint;
    hb_log_complaint_t counter_complaint;
    uint8_t body[PROTO_MAX_FRAME]; // encode buffer: no allocation per send
};

/* ------------------------------------------------------------ clocks -- */

static int64_t
s_sys_mono_ms(void *arg)
{
    (void)arg;
    return hb_clock_mono_ms();
}

static int64_t
s_sys_wall_us(void *arg)
{
    (void)arg;
    return hb_clock_wall_us();
}

int64_t
node_runtime_now_ms(const node_runtime_t *self)
{
    return self->clock.mono_ms(self->clock.arg);
}

int64_t
node_runtime_wall_us(const node_runtime_t *self)
{
    return self->clock.wall_us(self->clock.arg);
}

/* ----------------------------------------------------------- sockets -- */

bool
node_runtime_id_ok(const char *id)
{
    size_t len = id ? strlen(id) : 0;
    if (len == 0 || len > PROTO_MAX_ID || id[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static int
s_setopt_int(void *sock, int opt, int value)
{
    return zmq_setsockopt(sock, opt, &value, sizeof value);
}

//  Options every bus socket gets: bounded queues, a short linger so a
//  stopping node does not hang on a dead broker, and (SUB) the frame cap.
static hb_err_t
s_socket_options(node_runtime_t *self)
{
    int64_t max_frame = PROTO_MAX_FRAME;
    if (s_setopt_int(self->pub, ZMQ_SNDHWM, NODE_RUNTIME_HWM) != 0 ||
        s_setopt_int(self->pub, ZMQ_LINGER, 500) != 0 ||
        s_setopt_int(self->sub, ZMQ_RCVHWM, NODE_RUNTIME_HWM) != 0 ||
        s_setopt_int(self->sub, ZMQ_LINGER, 0) != 0 ||
        zmq_setsockopt(self->sub, ZMQ_MAXMSGSIZE, &max_frame,
                       sizeof max_frame) != 0) {
        hb_log_error(self->log, "runtime: socket options: %s",
                     zmq_strerror(zmq_errno()));
        return HB_EIO;
    }
    return HB_OK;
}

static hb_err_t
s_subscribe(node_runtime_t *self)
{
    // The role's prefixes go first and `node.` last: seeing our own
    // heartbeat come back then proves every subscription reached the broker.
    for (const char *const *t = self->role->topics; t && *t; t++) {
        if (zmq_setsockopt(self->sub, ZMQ_SUBSCRIBE, *t, strlen(*t)) != 0)
            return HB_EIO;
    }
    if (zmq_setsockopt(self->sub, ZMQ_SUBSCRIBE, "node.", 5) != 0)
        return HB_EIO;
    return HB_OK;
}

static hb_err_t
s_open_sockets(node_runtime_t *self, const char *brokers)
{
    hb_endpoint_list_t list;
    char why[512];
    if (hb_endpoint_parse(brokers, &list, why, sizeof why) != HB_OK) {
        hb_log_error(self->log, "runtime: %s", why);
        return HB_EINVAL;
    }
    self->zctx = zmq_ctx_new();
    self->sub = self->zctx ? zmq_socket(self->zctx, ZMQ_SUB) : NULL;
    self->pub = self->zctx ? zmq_socket(self->zctx, ZMQ_PUB) : NULL;
    if (!self->sub || !self->pub || s_socket_options(self) != HB_OK ||
        s_subscribe(self) != HB_OK)
        return HB_EIO;
    for (size_t i = 0; i < list.count; i++) {
        const hb_endpoint_t *b = &list.brokers[i];
        // connect() is asynchronous: a broker that is down now is retried
        // by ZeroMQ in the background; only a malformed address fails here.
        if (zmq_connect(self->sub, b->back) != 0 ||
            zmq_connect(self->pub, b->front) != 0) {
            hb_log_error(self->log, "runtime: connecting to broker %s: %s",
                         b->front, zmq_strerror(zmq_errno()));
            return HB_EINVAL;
        }
        hb_log_debug(self->log, "runtime: broker front=%s back=%s", b->front,
                     b->back);
    }
    return HB_OK;
}

/* --------------------------------------------------------- lifecycle -- */

//  Keys no lookup asked for are probably typos.  "other.key" keys whose
//  first part is not our role's name belong to another role: not ours to
//  judge.
static void
s_warn_unused(node_runtime_t *self)
{
    if (!self->config)
        return;
    size_t role_len = strlen(self->role->name);
    for (size_t i = 0; i < node_config_size(self->config); i++) {
        const char *origin = NULL;
        bool used = false;
        const char *key = node_config_key(self->config, i, &origin, &used);
        const char *dot = strchr(key, '.');
        bool ours = !dot || ((size_t)(dot - key) == role_len &&
                             strncmp(key, self->role->name, role_len) == 0);
        if (!used && ours)
            hb_log_warn(self->log,
                        "config: '%s' (set at %s) is not a setting of the "
                        "%s role: check its spelling",
                        key, origin, self->role->name);
    }
}

static hb_err_t
s_setup(node_runtime_t *self, const node_runtime_opts_t *opts)
{
    self->store = node_store_new(opts->data_dir, self->log);
    if (!self->store)
        return HB_EIO;
    self->dedupe = node_dedupe_new(NODE_RUNTIME_SENDERS);
    self->members = node_members_new(self->id, 3 * self->heartbeat_ms);
    self->ctx = node_ctx_new(self);
    if (!self->dedupe || !self->members || !self->ctx)
        return HB_ENOMEM;
    hb_err_t rc = s_open_sockets(self, opts->brokers);
    if (rc != HB_OK)
        return rc;
    self->state = self->role->create(self->ctx);
    if (!self->state || node_ctx_config_failed(self->ctx)) {
        hb_log_error(self->log,
                     "runtime: the %s role did not start (see above); "
                     "fix its settings or data directory %s",
                     self->role->name, node_store_dir(self->store));
        return HB_EINVAL;
    }
    s_warn_unused(self);
    return HB_OK;
}

node_runtime_t *
node_runtime_new(const node_runtime_opts_t *opts, const node_role_t *role,
                 hb_err_t *why)
{
    assert(opts && role && role->name && role->create && role->destroy);
    hb_err_t rc = HB_EINVAL;
    node_runtime_t *self = NULL;
    if (!node_runtime_id_ok(opts->id) || !opts->data_dir || !opts->log) {
        hb_log_error(opts->log,
                     "runtime: node id '%s' is not usable: give 1-%d of "
                     "A-Z a-z 0-9 . _ - (not starting with '.')",
                     opts->id ? opts->id : "", PROTO_MAX_ID);
        goto fail;
    }
    rc = HB_ENOMEM;
    self = calloc(1, sizeof *self);
    if (!self)
        goto fail;
    snprintf(self->id, sizeof self->id, "%s", opts->id);
    self->role = role;
    self->log = opts->log;
    self->config = opts->config;
    self->clock = opts->clock;
    if (!self->clock.mono_ms)
        self->clock.mono_ms = s_sys_mono_ms;
    if (!self->clock.wall_us)
        self->clock.wall_us = s_sys_wall_us;
    self->on_ready = opts->on_ready;
    self->ready_arg = opts->ready_arg;
    self->heartbeat_ms = opts->heartbeat_ms > 0 ? opts->heartbeat_ms : 2000;
    self->tick_ms = opts->tick_ms > 0 ? opts->tick_ms : 100;
    rc = s_setup(self, opts);
    if (rc != HB_OK)
        goto fail;
    int64_t now = node_runtime_now_ms(self);
    self->start_ms = now;
    self->next_tick_ms = now + self->tick_ms;
    self->next_beat_ms = now; // the first heartbeat is the readiness probe
    self->not_ready_warn_ms = now + 5000;
    if (why)
        *why = HB_OK;
    return self;
fail:
    node_runtime_destroy(&self);
    if (why)
        *why = rc;
    return NULL;
}

void
node_runtime_destroy(node_runtime_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    node_runtime_t *self = *self_p;
    // The role goes first: its destroy persists state and may publish.
    if (self->state)
        self->role->destroy(&self->state);
    node_ctx_destroy(&self->ctx);
    if (self->sub)
        zmq_close(self->sub);
    if (self->pub)
        zmq_close(self->pub);
    if (self->zctx)
        zmq_ctx_term(self->zctx);
    node_members_destroy(&self->members);
    node_dedupe_destroy(&self->dedupe);
    node_store_destroy(&self->store);
    free(self);
    *self_p = NULL;
}

/* ----------------------------------------------------------- publish -- */

hb_err_t
node_runtime_publish(node_runtime_t *self, proto_msg_t *msg)
{
    assert(self && msg);
    char topic[PROTO_MAX_TOPIC + 1];
    msg->version = PROTO_VERSION;
    msg->sender = self->id;
    msg->seq = self->seq + 1;
    msg->ts_us = node_runtime_wall_us(self);
    size_t topic_len = proto_codec_topic(msg, topic, sizeof topic);
    size_t len = 0;
    hb_err_t rc =
        topic_len ? proto_codec_encode(msg, self->body, sizeof self->body, &len)
                  : HB_EINVAL;
    if (rc != HB_OK) {
        self->stats.publish_drops++;
        hb_log_complain(self->log, &self->publish_complaint,
                        "runtime: cannot encode a %s message: %s",
                        proto_msg_kind_name(msg->kind), hb_err_str(rc));
        return rc;
    }
    self->seq++; // numbered once it is a message: a later drop is a gap
    // Both frames with DONTWAIT: a slow broker costs a drop, never a stall.
    // Once the first frame is queued ZeroMQ accepts the rest atomically.
    if (zmq_send(self->pub, topic, topic_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(self->pub, self->body, len, ZMQ_DONTWAIT) < 0) {
        self->stats.publish_drops++;
        hb_log_complain(self->log, &self->publish_complaint,
                        "runtime: dropped %s: %s", topic,
                        zmq_strerror(zmq_errno()));
        return HB_EFULL;
    }
    self->stats.published++;
    return HB_OK;
}

//  A role counter named like one of ours (or another of its own) would make
//  the heartbeat a map with a duplicate key, which every receiver rejects:
//  drop such counters and say so once.  Returns the new total.
static uint32_t
s_keep_unique(node_runtime_t *self, proto_counter_t *c, uint32_t ours,
              uint32_t extra)
{
    uint32_t n = ours;
    for (uint32_t i = ours; i < ours + extra; i++) {
        bool clash = !c[i].name;
        for (uint32_t j = 0; j < n && !clash; j++)
            clash = strcmp(c[i].name, c[j].name) == 0;
        if (clash) {
            hb_log_complain(self->log, &self->counter_complaint,
                            "runtime: the %s role's counter '%s' repeats a "
                            "name already in the heartbeat: left out",
                            self->role->name, c[i].name ? c[i].name : "");
            continue;
        }
        c[n++] = c[i];
    }
    return n;
}

static void
s_publish_heartbeat(node_runtime_t *self, int64_t now)
{
    proto_msg_t msg;
    proto_msg_init(&msg, PROTO_KIND_NODE);
    msg.subject = self->id;
    proto_node_t *node = &msg.u.node;
    node->role = self->role->name;
    node->uptime_ms = (uint64_t)(now - self->start_ms);
    node_runtime_stats_t st;
    node_runtime_stats(self, &st);
    const proto_counter_t mine[] = {
        {"received", st.received},     {"rejected", st.rejected},
        {"duplicates", st.duplicates}, {"gaps", st.missing},
        {"published", st.published},   {"publish_drops", st.publish_drops},
        {"peers", st.peers},
    };
    uint32_t n = sizeof mine / sizeof mine[0];
    memcpy(node->counters, mine, sizeof mine);
    if (self->role->counters) {
        uint32_t extra = self->role->counters(self->state, node->counters + n,
                                              PROTO_MAX_COUNTERS - n);
        n = s_keep_unique(
            self, node->counters, n,
            extra < PROTO_MAX_COUNTERS - n ? extra : PROTO_MAX_COUNTERS - n);
    }
    node->n_counters = n;
    node_runtime_publish(self, &msg);
}

static void
s_publish_ask(node_runtime_t *self)
{
    proto_msg_t msg;
    proto_msg_init(&msg, PROTO_KIND_ASK);
    msg.subject = "*";
    msg.u.ask.target = "*";
    node_runtime_publish(self, &msg);
}

/* ----------------------------------------------------------- receive -- */

static void
s_reject(node_runtime_t *self, hb_err_t code)
{
    self->stats.rejected++;
    proto_codec_reject(&self->rejects, code);
    hb_log_complain(self->log, &self->complaints[code],
                    "runtime: rejected a message from the bus: %s",
                    hb_err_str(code));
}

//  Read one message (topic + body frames) into `msg`; HB_ETIMEOUT when
//  none is waiting, a decoder code when it is malformed.
static hb_err_t
s_recv(node_runtime_t *self, proto_msg_t *msg, char *topic, size_t *topic_len)
{
    zmq_msg_t frames[2];
    zmq_msg_init(&frames[0]);
    zmq_msg_init(&frames[1]);
    hb_err_t rc = HB_ETIMEOUT;
    if (zmq_msg_recv(&frames[0], self->sub, ZMQ_DONTWAIT) < 0)
        goto out;
    self->stats.received++;
    rc = HB_ETRUNC; // a topic with no body
    if (!zmq_msg_more(&frames[0]) ||
        zmq_msg_recv(&frames[1], self->sub, ZMQ_DONTWAIT) < 0)
        goto out;
    rc = HB_ETRAILING; // extra frames: drain them, the message is bad
    if (zmq_msg_more(&frames[1])) {
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        while (zmq_msg_recv(&extra, self->sub, ZMQ_DONTWAIT) >= 0 &&
               zmq_msg_more(&extra))
            ;
        zmq_msg_close(&extra);
        goto out;
    }
    size_t tlen = zmq_msg_size(&frames[0]);
    rc = proto_codec_decode(zmq_msg_data(&frames[0]), tlen,
                            zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]),
                            msg);
    if (rc == HB_OK) { // decode checked the topic: it fits PROTO_MAX_TOPIC
        *topic_len = tlen < PROTO_MAX_TOPIC ? tlen : PROTO_MAX_TOPIC;
        memcpy(topic, zmq_msg_data(&frames[0]), *topic_len);
        topic[*topic_len] = '\0';
    }
out:
    zmq_msg_close(&frames[1]);
    zmq_msg_close(&frames[0]);
    return rc;
}

static bool
s_role_wants(const node_runtime_t *self, const char *topic, size_t len)
{
    for (const char *const *t = self->role->topics; t && *t; t++) {
        size_t n = strlen(*t);
        if (n <= len && memcmp(topic, *t, n) == 0)
            return true;
    }
    return false;
}

static void
s_became_ready(node_runtime_t *self, int64_t now)
{
    self->ready = true;
    self->next_beat_ms = now + self->heartbeat_ms;
    hb_log_info(self->log, "runtime: %s ready as %s (data %s)",
                self->role->name, self->id, node_store_dir(self->store));
    s_publish_ask(self);
    self->next_ask_ms = now + self->heartbeat_ms;
    if (self->on_ready)
        self->on_ready(self->ready_arg, self);
}

static void
s_handle(node_runtime_t *self, const proto_msg_t *msg, const char *topic,
         size_t topic_len, int64_t now)
{
    if (strcmp(msg->sender, self->id) == 0) {
        // Our own message came back: the first one proves we are subscribed.
        // Roles never see their own publications.
        if (!self->ready && msg->kind == PROTO_KIND_NODE)
            s_became_ready(self, now);
        return;
    }
    if (!node_dedupe_check(self->dedupe, msg->sender, msg->seq)) {
        self->stats.duplicates++;
        return;
    }
    if (msg->kind == PROTO_KIND_NODE && msg->u.node.role &&
        strcmp(msg->u.node.role, self->role->name) == 0)
        node_members_seen(self->members, msg->sender, now);
    if (!s_role_wants(self, topic, topic_len))
        return;
    self->stats.dispatched++;
    self->role->on_msg(self->state, msg);
}

static void
s_drain(node_runtime_t *self)
{
    char topic[PROTO_MAX_TOPIC + 1];
    for (int i = 0; i < NODE_RUNTIME_BATCH; i++) {
        proto_msg_t msg;
        size_t topic_len = 0;
        hb_err_t rc = s_recv(self, &msg, topic, &topic_len);
        if (rc == HB_ETIMEOUT)
            return;
        if (rc != HB_OK) {
            s_reject(self, rc);
            continue;
        }
        s_handle(self, &msg, topic, topic_len, node_runtime_now_ms(self));
        proto_msg_clear(&msg);
    }
}

/* -------------------------------------------------------------- loop -- */

static void
s_timers(node_runtime_t *self, int64_t now)
{
    if (now >= self->next_tick_ms) {
        self->role->on_tick(self->state, now);
        // After a stall, tick once and resume the cadence (no burst).
        self->next_tick_ms += self->tick_ms;
        if (self->next_tick_ms <= now)
            self->next_tick_ms = now + self->tick_ms;
    }
    if (now >= self->next_beat_ms) {
        s_publish_heartbeat(self, now);
        int64_t period = self->ready || now >= self->not_ready_warn_ms
                             ? self->heartbeat_ms
                             : NODE_RUNTIME_PROBE_MS;
        self->next_beat_ms = now + period;
    }
    if (self->next_ask_ms && now >= self->next_ask_ms) {
        s_publish_ask(self);
        self->next_ask_ms = 0;
    }
    if (!self->ready && self->not_ready_warn_ms &&
        now >= self->not_ready_warn_ms) {
        hb_log_warn(self->log,
                    "runtime: no broker has echoed our heartbeat yet; is a "
                    "healbus-broker running at the endpoints given? still "
                    "trying");
        self->not_ready_warn_ms = 0;
    }
}

static int64_t
s_next_due(const node_runtime_t *self)
{
    int64_t due = self->next_tick_ms;
    if (self->next_beat_ms < due)
        due = self->next_beat_ms;
    if (self->next_ask_ms && self->next_ask_ms < due)
        due = self->next_ask_ms;
    return due;
}

hb_err_t
node_runtime_step(node_runtime_t *self, int max_wait_ms)
{
    int64_t wait = s_next_due(self) - node_runtime_now_ms(self);
    if (wait < 0)
        wait = 0;
    if (wait > max_wait_ms)
        wait = max_wait_ms;
    zmq_pollitem_t item = {.socket = self->sub, .events = ZMQ_POLLIN};
    int rc = zmq_poll(&item, 1, (long)wait);
    if (rc < 0 && zmq_errno() != EINTR) {
        hb_log_error(self->log, "runtime: poll: %s", zmq_strerror(zmq_errno()));
        return HB_EIO;
    }
    if (rc > 0)
        s_drain(self);
    s_timers(self, node_runtime_now_ms(self));
    return HB_OK;
}

hb_err_t
node_runtime_run(node_runtime_t *self, const atomic_bool *stop)
{
    while (!atomic_load(stop)) {
        // Bounded wait so a stop flag set by another thread (no signal to
        // interrupt the poll) is still seen within a tick.
        hb_err_t rc = node_runtime_step(self, (int)self->tick_ms);
        if (rc != HB_OK)
            return rc;
    }
    return HB_OK;
}

/* --------------------------------------------------------- accessors -- */

const char *
node_runtime_id(const node_runtime_t *self)
{
    return self->id;
}

const char *
node_runtime_role_name(const node_runtime_t *self)
{
    return self->role->name;
}

hb_log_t *
node_runtime_log(node_runtime_t *self)
{
    return self->log;
}

node_store_t *
node_runtime_store(node_runtime_t *self)
{
    return self->store;
}

node_config_t *
node_runtime_config(node_runtime_t *self)
{
    return self->config;
}

bool
node_runtime_ready(const node_runtime_t *self)
{
    return self->ready;
}

void
node_runtime_stats(const node_runtime_t *self, node_runtime_stats_t *out)
{
    *out = self->stats;
    out->missing = node_dedupe_missing(self->dedupe);
    out->peers = node_members_expire(self->members, node_runtime_now_ms(self));
}

const proto_codec_rejects_t *
node_runtime_rejects(const node_runtime_t *self)
{
    return &self->rejects;
}

bool
node_runtime_owns(node_runtime_t *self, const char *agent)
{
    if (!agent)
        return false;
    return node_members_owns(self->members, agent, node_runtime_now_ms(self));
}
