/*  hb_agent.c - the public agent: reports from any thread into a bounded
    queue, and one background thread (a czmq actor) that owns every socket.

    The actor publishes on one XPUB per broker front (XPUB with NODROP so a
    full pipe says EAGAIN and we count the drop, where a PUB would discard
    in silence), and listens on one SUB connected to every broker back for
    `fix.<name>` and `ask.`.  It validates fixes as they arrive and hands
    valid ones to the pending table that hb_retry_run applies. */

#include "agent_proc.h"
#include "hb_agent_int.h"
#include "hb_clock.h"
#include "hb_endpoint.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define AGENT_QUEUE_BYTES (1024 * 1024) // encoded reports waiting to be sent
#define AGENT_QUEUE_RESERVE (64 * 1024) // of them, for the agent's own
#define AGENT_SNDHWM 10000      // messages per broker pipe before EAGAIN
#define AGENT_LINGER_MS 200     // how long unsent messages outlive destroy
#define AGENT_HEARTBEAT_MS 3000
#define AGENT_ASK_MIN_MS 1000   // at most one ask-triggered hello per second
#define AGENT_DRAIN_BATCH 4096  // reports sent between two polls
#define AGENT_SEEN_MSGS 64      // (sender, seq) pairs kept to drop duplicates

struct hb_agent {
    char name[PROTO_MAX_ID + 1];
    hb_endpoint_list_t brokers;
    agent_queue_t *queue;   // owned
    agent_knobs_t *knobs;   // owned
    agent_fix_t *fixes;     // owned
    zactor_t *actor;        // owned
    hb_err_t start_rc;      // written by the actor before it signals
    uint64_t start_ms;      // monotonic
    _Atomic uint64_t sent;
    _Atomic uint64_t send_drops;    // no broker socket took the report
    _Atomic uint64_t handled_seq;   // last sequence number the actor handled
    _Atomic uint64_t memory_limit;
    _Atomic uint64_t next_req_id;
    _Atomic uint32_t heartbeat_ms;
    _Atomic bool hello_due;
    _Atomic uint64_t fix_rejects[HB_ERR_COUNT];
    _Atomic uint64_t fixes_accepted;
    pthread_mutex_t flush_lock; // flush waiters sleep on `flushed`
    pthread_cond_t flushed;
    _Atomic int flush_waiters;
    pthread_mutex_t log_lock;   // guards log_fn/log_arg
    hb_log_fn *log_fn;
    void *log_arg;              // borrowed from the application
};

//  State only the actor touches.
typedef struct {
    hb_agent_t *agent;
    zsock_t *pipe;
    zsock_t *pubs[HB_ENDPOINT_MAX_BROKERS]; // owned, one per broker
    zsock_t *sub;                           // owned
    proto_msg_t msg;                        // hello/heartbeat being encoded
    uint8_t body[PROTO_MAX_FRAME];
    char topics[PROTO_KIND_COUNT][PROTO_MAX_TOPIC + 1]; // "<kind>.<name>"
    size_t topic_len[PROTO_KIND_COUNT];                 // 0: not ours
    proto_codec_rejects_t rejects;          // undecodable input
    struct { char sender[PROTO_MAX_ID + 1]; uint64_t seq; }
        seen[AGENT_SEEN_MSGS];
    size_t seen_next;
    uint64_t next_heartbeat_ms;
    uint64_t last_ask_hello_ms;
    uint64_t ask_hello_at_ms; // 0: no ask waiting
    char host[PROTO_MAX_ID + 1];
} s_actor_t;

void
hb_agent_log(hb_agent_t *self, hb_log_level_t level, const char *fmt, ...)
{
    pthread_mutex_lock(&self->log_lock);
    hb_log_fn *fn = self->log_fn;
    void *arg = self->log_arg;
    pthread_mutex_unlock(&self->log_lock);
    if (!fn)
        return;
    char line[512];
    int n = snprintf(line, sizeof line, "agent %s: ", self->name);
    va_list args;
    va_start(args, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, args);
    va_end(args);
    fn(arg, level, line);
}

/* ------------------------------------------------------------ encoding -- */

static void
s_fill_hello(s_actor_t *a, const agent_queue_entry_t *e, proto_msg_t *m)
{
    (void)e;
    m->u.hello.pid = (uint32_t)getpid();
    m->u.hello.host = a->host;
    m->u.hello.memory_limit = atomic_load(&a->agent->memory_limit);
    agent_knobs_describe(a->agent->knobs, &m->u.hello);
}

static void
s_fill_heartbeat(s_actor_t *a, const agent_queue_entry_t *e, proto_msg_t *m)
{
    (void)e;
    hb_agent_t *self = a->agent;
    agent_proc_usage_t usage;
    // Unreadable /proc leaves zeros: the heartbeat still says we live.
    agent_proc_read(&usage);
    m->u.heartbeat = (proto_heartbeat_t){
        .sent = atomic_load(&self->sent),
        .drops = hb_agent_drops(self),
        .rss_bytes = usage.rss_bytes,
        .cpu_us = usage.cpu_us,
        .uptime_ms = (uint64_t)hb_clock_mono_ms() - self->start_ms};
}

//  Bodies of hello and heartbeat come from the actor's state when sent;
//  every other kind was encoded by the caller that queued it.
static size_t
s_encode_own(s_actor_t *a, const agent_queue_entry_t *e)
{
    hb_agent_t *self = a->agent;
    proto_msg_t *m = &a->msg;
    proto_msg_init(m, (proto_kind_t)e->kind);
    m->subject = self->name;
    m->version = PROTO_VERSION;
    m->sender = self->name;
    m->seq = e->seq;
    m->ts_us = e->ts_us;
    if (e->kind == PROTO_KIND_HELLO)
        s_fill_hello(a, e, m);
    else if (e->kind == PROTO_KIND_HEARTBEAT)
        s_fill_heartbeat(a, e, m);
    size_t len = 0;
    if (proto_codec_encode(m, a->body, sizeof a->body, &len) != HB_OK)
        return 0;
    return len;
}

//  Offer one queued report to every broker without waiting; true when
//  at least one took it.
static bool
s_send(s_actor_t *a, const agent_queue_entry_t *e)
{
    hb_agent_t *self = a->agent;
    if (e->kind >= PROTO_KIND_COUNT || a->topic_len[e->kind] == 0)
        return false;
    const void *body = e->body;
    size_t len = e->len;
    if (len == 0) {
        body = a->body;
        len = s_encode_own(a, e);
        if (len == 0)
            return false;
    }
    const char *topic = a->topics[e->kind];
    size_t topic_len = a->topic_len[e->kind];
    bool taken = false;
    for (size_t i = 0; i < self->brokers.count; i++) {
        void *s = zsock_resolve(a->pubs[i]);
        // NODROP XPUB refuses the first frame when the pipe is full, so
        // a multipart message is either sent whole or not at all.
        if (zmq_send(s, topic, topic_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            continue;
        if (zmq_send(s, body, len, ZMQ_DONTWAIT) >= 0)
            taken = true;
    }
    return taken;
}

//  Send every report queued now (up to `max`), then publish the counts
//  once for the whole batch.
static size_t
s_drain(s_actor_t *a, size_t max)
{
    hb_agent_t *self = a->agent;
    agent_queue_batch_t batch;
    size_t n = agent_queue_begin(self->queue, &batch, max);
    uint64_t sent = 0, last = 0;
    const agent_queue_entry_t *e;
    while ((e = agent_queue_next(self->queue, &batch))) {
        sent += s_send(a, e);
        last = e->seq;
    }
    agent_queue_end(self->queue, &batch);
    if (n) {
        atomic_fetch_add(&self->sent, sent);
        atomic_fetch_add(&self->send_drops, n - sent);
        atomic_store(&self->handled_seq, last);
    }
    if (atomic_load(&self->flush_waiters) > 0) {
        pthread_mutex_lock(&self->flush_lock);
        pthread_cond_broadcast(&self->flushed);
        pthread_mutex_unlock(&self->flush_lock);
    }
    return n;
}

static void
s_push_own(s_actor_t *a, proto_kind_t kind)
{
    agent_queue_msg_t msg = {.kind = kind};
    hb_agent_push(a->agent, &msg, true);
}

/* ------------------------------------------------------------- inbound -- */

static void
s_reply(s_actor_t *a, const proto_fix_t *fix, proto_outcome_t outcome,
        const char *reason)
{
    agent_queue_msg_t r = {.kind = PROTO_KIND_FIXRES,
                           .fix_id = fix->fix_id,
                           .req_id = fix->req_id,
                           .op = fix->op,
                           .outcome = outcome,
                           .text = reason};
    hb_agent_push(a->agent, &r, true);
}

static void
s_on_fix(s_actor_t *a, proto_msg_t *msg)
{
    hb_agent_t *self = a->agent;
    hb_err_t rc = agent_fix_validate(self->fixes, msg, hb_clock_wall_us());
    if (rc != HB_OK) {
        uint64_t n = atomic_fetch_add(&self->fix_rejects[rc], 1) + 1;
        // Log the 1st, 10th, 100th... rejection for a reason: the counters
        // keep the record, the log keeps samples.
        if ((n & (n - 1)) == 0 || n == 1)
            hb_agent_log(self, HB_LOG_WARN, "fix %s for %s refused: %s (%llu)",
                         msg->u.fix.fix_id ? msg->u.fix.fix_id : "?",
                         msg->u.fix.op ? msg->u.fix.op : "?", hb_err_str(rc),
                         (unsigned long long)n);
        if (rc == HB_EALREADY)
            s_reply(a, &msg->u.fix, PROTO_OUTCOME_DUPLICATE, hb_err_str(rc));
        else if (rc != HB_ENOTMINE) // another agent's fix is not ours to answer
            s_reply(a, &msg->u.fix, PROTO_OUTCOME_REJECTED, hb_err_str(rc));
        proto_msg_clear(msg);
        return;
    }
    proto_msg_t *kept = malloc(sizeof *kept);
    if (!kept) {
        s_reply(a, &msg->u.fix, PROTO_OUTCOME_REJECTED, hb_err_str(HB_ENOMEM));
        proto_msg_clear(msg);
        return;
    }
    *kept = *msg; // the arena moves with it
    memset(msg, 0, sizeof *msg);
    proto_fix_t fix = kept->u.fix; // borrowed strings stay valid until offer
    char replaced[PROTO_MAX_ID + 1];
    char fix_id[PROTO_MAX_ID + 1], op[PROTO_MAX_NAME + 1];
    snprintf(fix_id, sizeof fix_id, "%s", fix.fix_id);
    snprintf(op, sizeof op, "%s", fix.op);
    fix.fix_id = fix_id;
    fix.op = op;
    rc = agent_fix_offer(self->fixes, &kept, replaced, sizeof replaced);
    if (rc != HB_OK) {
        atomic_fetch_add(&self->fix_rejects[rc], 1);
        s_reply(a, &fix, PROTO_OUTCOME_REJECTED, hb_err_str(rc));
        return;
    }
    atomic_fetch_add(&self->fixes_accepted, 1);
    if (replaced[0]) {
        proto_fix_t old = {.fix_id = replaced, .op = op};
        s_reply(a, &old, PROTO_OUTCOME_REJECTED, "superseded by a newer fix");
    }
}

static void
s_on_ask(s_actor_t *a, const proto_msg_t *msg)
{
    const char *t = msg->u.ask.target ? msg->u.ask.target : msg->subject;
    if (!t || (strcmp(t, "*") != 0 && strcmp(t, a->agent->name) != 0))
        return;
    // Several nodes may ask at once: answer the first now, the rest once
    // per AGENT_ASK_MIN_MS, so an ask storm costs one hello per second.
    uint64_t now = (uint64_t)hb_clock_mono_ms();
    if (a->ask_hello_at_ms == 0)
        a->ask_hello_at_ms = a->last_ask_hello_ms + AGENT_ASK_MIN_MS > now
                                 ? a->last_ask_hello_ms + AGENT_ASK_MIN_MS
                                 : now;
}

//  True when (sender, seq) came already (the same message via a second
//  broker); remembers it otherwise.
static bool
s_duplicate(s_actor_t *a, const proto_msg_t *msg)
{
    for (size_t i = 0; i < AGENT_SEEN_MSGS; i++)
        if (a->seen[i].seq == msg->seq &&
            strcmp(a->seen[i].sender, msg->sender) == 0)
            return true;
    snprintf(a->seen[a->seen_next].sender, sizeof a->seen[0].sender, "%s",
             msg->sender);
    a->seen[a->seen_next].seq = msg->seq;
    a->seen_next = (a->seen_next + 1) % AGENT_SEEN_MSGS;
    return false;
}

//  A healer gave up on one of our operations: whoever waits for a fix for
//  it stops waiting.  ("esc.<name>" also matches longer names: check.)
static void
s_on_escalation(s_actor_t *a, const proto_msg_t *msg)
{
    if (strcmp(msg->subject, a->agent->name) != 0 ||
        strcmp(msg->u.escalation.agent, a->agent->name) != 0)
        return;
    agent_fix_escalated(a->agent->fixes, msg->u.escalation.op);
}

static void
s_on_message(s_actor_t *a, zmq_msg_t *topic, zmq_msg_t *body)
{
    proto_msg_t msg;
    hb_err_t rc = proto_codec_decode(zmq_msg_data(topic), zmq_msg_size(topic),
                                     zmq_msg_data(body), zmq_msg_size(body),
                                     &msg);
    if (rc != HB_OK) {
        proto_codec_reject(&a->rejects, rc);
        if (a->rejects.by_code[rc] == 1)
            hb_agent_log(a->agent, HB_LOG_WARN, "undecodable message: %s",
                         hb_err_str(rc));
        return;
    }
    if (!s_duplicate(a, &msg)) {
        if (msg.kind == PROTO_KIND_FIX)
            s_on_fix(a, &msg);
        else if (msg.kind == PROTO_KIND_ASK)
            s_on_ask(a, &msg);
        else if (msg.kind == PROTO_KIND_ESCALATION)
            s_on_escalation(a, &msg);
    }
    proto_msg_clear(&msg);
}

//  Read what the SUB socket holds, a bounded number per wake-up.
static void
s_recv(s_actor_t *a)
{
    void *s = zsock_resolve(a->sub);
    for (int i = 0; i < 64; i++) {
        zmq_msg_t topic, body;
        zmq_msg_init(&topic);
        zmq_msg_init(&body);
        bool got = zmq_msg_recv(&topic, s, ZMQ_DONTWAIT) >= 0;
        if (got && zmq_msg_more(&topic) &&
            zmq_msg_recv(&body, s, ZMQ_DONTWAIT) >= 0) {
            if (zmq_msg_more(&body)) // three frames or more: not ours
                proto_codec_reject(&a->rejects, HB_ETRAILING);
            else
                s_on_message(a, &topic, &body);
        }
        // Drop any further frames of a malformed multipart message.
        while (got && zmq_msg_more(&body) &&
               zmq_msg_recv(&body, s, ZMQ_DONTWAIT) >= 0)
            ;
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
        if (!got)
            return;
    }
}

//  Subscription notices arriving on an XPUB: nothing to do with them, but
//  they must be read so they don't pile up.
static void
s_discard(zsock_t *sock)
{
    void *s = zsock_resolve(sock);
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) >= 0)
        ;
    zmq_msg_close(&m);
}

/* --------------------------------------------------------------- actor -- */

static zsock_t *
s_socket(int type, const char *endpoint)
{
    zsock_t *s = zsock_new(type);
    if (!s)
        return NULL;
    zsock_set_linger(s, AGENT_LINGER_MS);
    zsock_set_maxmsgsize(s, PROTO_MAX_FRAME);
    if (type == ZMQ_XPUB) {
        zsock_set_sndhwm(s, AGENT_SNDHWM);
        zsock_set_xpub_nodrop(s, 1);
    }
    if (endpoint && zsock_connect(s, "%s", endpoint) != 0)
        zsock_destroy(&s);
    return s;
}

static hb_err_t
s_actor_open(s_actor_t *a)
{
    hb_agent_t *self = a->agent;
    for (size_t i = 0; i < self->brokers.count; i++) {
        a->pubs[i] = s_socket(ZMQ_XPUB, self->brokers.brokers[i].front);
        if (!a->pubs[i])
            return HB_EIO;
    }
    a->sub = s_socket(ZMQ_SUB, NULL);
    if (!a->sub)
        return HB_EIO;
    zsock_set_subscribe(a->sub, "ask.");
    char topic[PROTO_MAX_TOPIC + 1];
    snprintf(topic, sizeof topic, "fix.%s", self->name);
    zsock_set_subscribe(a->sub, topic);
    snprintf(topic, sizeof topic, "esc.%s", self->name);
    zsock_set_subscribe(a->sub, topic);
    for (size_t i = 0; i < self->brokers.count; i++)
        if (zsock_connect(a->sub, "%s", self->brokers.brokers[i].back) != 0)
            return HB_EIO;
    // Topics are fixed per kind for an agent: made once, not per report.
    proto_msg_t *m = &a->msg;
    for (int k = 0; k < PROTO_KIND_COUNT; k++) {
        proto_msg_init(m, (proto_kind_t)k);
        m->subject = self->name;
        a->topic_len[k] = proto_codec_topic(m, a->topics[k],
                                            sizeof a->topics[k]);
    }
    if (gethostname(a->host, sizeof a->host - 1) != 0)
        snprintf(a->host, sizeof a->host, "unknown");
    return HB_OK;
}

static void
s_actor_close(s_actor_t *a)
{
    for (size_t i = 0; i < HB_ENDPOINT_MAX_BROKERS; i++)
        zsock_destroy(&a->pubs[i]);
    zsock_destroy(&a->sub);
}

//  Queue the agent's own messages that are due; returns ms until the next.
static int
s_timers(s_actor_t *a)
{
    hb_agent_t *self = a->agent;
    uint64_t now = (uint64_t)hb_clock_mono_ms();
    bool ask_due = a->ask_hello_at_ms && a->ask_hello_at_ms <= now;
    if (atomic_exchange(&self->hello_due, false) || ask_due) {
        s_push_own(a, PROTO_KIND_HELLO);
        if (ask_due) {
            a->last_ask_hello_ms = now;
            a->ask_hello_at_ms = 0;
        }
    }
    if (now >= a->next_heartbeat_ms) {
        s_push_own(a, PROTO_KIND_HEARTBEAT);
        a->next_heartbeat_ms = now + atomic_load(&self->heartbeat_ms);
    }
    uint64_t next = a->next_heartbeat_ms;
    if (a->ask_hello_at_ms && a->ask_hello_at_ms < next)
        next = a->ask_hello_at_ms;
    return next > now ? (int)(next - now) : 0;
}

//  True to go on, false on $TERM (or a dead pipe).
static bool
s_on_pipe(s_actor_t *a)
{
    char *cmd = zstr_recv(a->pipe);
    bool go_on = cmd && strcmp(cmd, "$TERM") != 0;
    zstr_free(&cmd);
    return go_on;
}

static void
s_actor_loop(s_actor_t *a)
{
    hb_agent_t *self = a->agent;
    size_t n_pubs = self->brokers.count;
    zmq_pollitem_t items[3 + HB_ENDPOINT_MAX_BROKERS] = {
        {zsock_resolve(a->pipe), 0, ZMQ_POLLIN, 0},
        {zsock_resolve(a->sub), 0, ZMQ_POLLIN, 0},
        {NULL, agent_queue_fd(self->queue), ZMQ_POLLIN, 0},
    };
    for (size_t i = 0; i < n_pubs; i++)
        items[3 + i] = (zmq_pollitem_t){zsock_resolve(a->pubs[i]), 0,
                                        ZMQ_POLLIN, 0};
    for (;;) {
        int wait_ms = s_timers(a);
        if (s_drain(a, AGENT_DRAIN_BATCH) == AGENT_DRAIN_BATCH ||
            !agent_queue_idle(self->queue))
            wait_ms = 0; // more to send: only look at the sockets
        if (zmq_poll(items, (int)(3 + n_pubs), wait_ms) < 0 &&
            zmq_errno() != EINTR)
            return;
        if ((items[0].revents & ZMQ_POLLIN) && !s_on_pipe(a))
            return;
        if (items[1].revents & ZMQ_POLLIN)
            s_recv(a);
        if (items[2].revents & ZMQ_POLLIN)
            agent_queue_woken(self->queue);
        for (size_t i = 0; i < n_pubs; i++)
            if (items[3 + i].revents & ZMQ_POLLIN)
                s_discard(a->pubs[i]);
    }
}

static void
s_actor(zsock_t *pipe, void *arg)
{
    s_actor_t *a = calloc(1, sizeof *a);
    hb_agent_t *self = arg;
    self->start_rc = a ? HB_OK : HB_ENOMEM;
    if (a) {
        a->agent = self;
        a->pipe = pipe;
        self->start_rc = s_actor_open(a);
    }
    zsock_signal(pipe, 0);
    if (self->start_rc == HB_OK) {
        s_actor_loop(a);
        // Offer what is still queued once, without waiting: destroy stays
        // prompt and the sockets' linger bounds the rest.
        s_drain(a, SIZE_MAX);
    }
    if (a)
        s_actor_close(a);
    free(a);
}

/* -------------------------------------------------------------- public -- */

//  czmq installs SIGINT/SIGTERM handlers when it first starts; a library
//  must not take over its host's signals, so put back what was there.
static zactor_t *
s_start_actor(hb_agent_t *self)
{
    //  czmq installs its own SIGINT/SIGTERM handlers when it first starts;
    //  the application's are put back afterwards.  The signals stay blocked
    //  meanwhile, so one arriving in that window waits and then reaches the
    //  application's handler, not czmq's.  Threads started here inherit the
    //  blocked mask: the library's threads never take the host's signals.
    sigset_t block, old_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old_mask);
    struct sigaction old_int, old_term;
    sigaction(SIGINT, NULL, &old_int);
    sigaction(SIGTERM, NULL, &old_term);
    zactor_t *actor = zactor_new(s_actor, self);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    return actor;
}

static hb_err_t
s_init(hb_agent_t *self, const char *name, const char *endpoints)
{
    if (!agent_knobs_name_ok(name) || strlen(name) > PROTO_MAX_ID)
        return HB_EINVAL;
    snprintf(self->name, sizeof self->name, "%s", name);
    if (hb_endpoint_parse(endpoints, &self->brokers, NULL, 0) != HB_OK)
        return HB_EINVAL;
    if (pthread_mutex_init(&self->log_lock, NULL) != 0 ||
        pthread_mutex_init(&self->flush_lock, NULL) != 0 ||
        pthread_cond_init(&self->flushed, NULL) != 0)
        return HB_ENOMEM;
    self->queue =
        agent_queue_new(AGENT_QUEUE_BYTES, AGENT_QUEUE_RESERVE, self->name);
    self->knobs = agent_knobs_new();
    self->fixes = self->knobs ? agent_fix_new(name, self->knobs) : NULL;
    if (!self->queue || !self->fixes)
        return HB_ENOMEM;
    self->start_ms = (uint64_t)hb_clock_mono_ms();
    atomic_init(&self->heartbeat_ms, AGENT_HEARTBEAT_MS);
    atomic_init(&self->hello_due, true);
    atomic_init(&self->next_req_id, 1);
    self->actor = s_start_actor(self);
    if (!self->actor)
        return HB_EIO;
    return self->start_rc;
}

hb_agent_t *
hb_agent_new(const char *name, const char *endpoints, hb_err_t *why)
{
    hb_agent_t *self = calloc(1, sizeof *self);
    hb_err_t rc = self ? s_init(self, name, endpoints) : HB_ENOMEM;
    if (rc != HB_OK)
        hb_agent_destroy(&self);
    if (why)
        *why = rc;
    return self;
}

void
hb_agent_interrupt(hb_agent_t *self)
{
    if (self && self->fixes)
        agent_fix_interrupt(self->fixes);
}

void
hb_agent_destroy(hb_agent_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_agent_t *self = *self_p;
    if (self->fixes)
        agent_fix_close(self->fixes);
    zactor_destroy(&self->actor);
    agent_fix_destroy(&self->fixes);
    agent_knobs_destroy(&self->knobs);
    agent_queue_destroy(&self->queue);
    // calloc zeroes: destroying never-initialised primitives is harmless
    // on Linux, and s_init initialises them before anything can fail later.
    pthread_cond_destroy(&self->flushed);
    pthread_mutex_destroy(&self->flush_lock);
    pthread_mutex_destroy(&self->log_lock);
    free(self);
    *self_p = NULL;
}

void
hb_agent_set_logger(hb_agent_t *self, hb_log_fn *fn, void *arg)
{
    assert(self);
    pthread_mutex_lock(&self->log_lock);
    self->log_fn = fn;
    self->log_arg = arg;
    pthread_mutex_unlock(&self->log_lock);
}

const char *
hb_agent_name(const hb_agent_t *self)
{
    assert(self);
    return self->name;
}

hb_err_t
hb_agent_push(hb_agent_t *self, const agent_queue_msg_t *msg, bool reserved)
{
    return agent_queue_push(self->queue, msg, reserved, NULL);
}

hb_err_t
hb_agent_verror(hb_agent_t *self, const char *operation,
                const char *error_class, int attempt, const char *fmt,
                va_list args)
{
    assert(self);
    if (!operation || !error_class || !fmt)
        return HB_EINVAL;
    // A report the queue would refuse anyway is not worth formatting.
    if (agent_queue_full(self->queue)) {
        agent_queue_count_drop(self->queue);
        return HB_EFULL;
    }
    char text[PROTO_MAX_TEXT + 1];
    vsnprintf(text, sizeof text, fmt, args);
    agent_queue_msg_t msg = {.kind = PROTO_KIND_ERROR,
                             .op = operation,
                             .error_class = error_class,
                             .text = text,
                             .attempt = attempt > 0 ? (uint32_t)attempt : 0};
    return agent_queue_push(self->queue, &msg, false, NULL);
}

hb_err_t
hb_agent_error(hb_agent_t *self, const char *operation,
               const char *error_class, int attempt, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    hb_err_t rc =
        hb_agent_verror(self, operation, error_class, attempt, fmt, args);
    va_end(args);
    return rc;
}

hb_err_t
hb_agent_success(hb_agent_t *self, const char *operation,
                 uint64_t duration_us)
{
    assert(self);
    if (!operation)
        return HB_EINVAL;
    if (agent_queue_full(self->queue)) {
        agent_queue_count_drop(self->queue);
        return HB_EFULL;
    }
    proto_pair_t knobs[PROTO_MAX_KNOBS];
    agent_queue_msg_t msg = {
        .kind = PROTO_KIND_SUCCESS,
        .op = operation,
        .duration_us = duration_us,
        .knobs = knobs,
        .n_knobs = agent_knobs_values(self->knobs, knobs, PROTO_MAX_KNOBS)};
    return agent_queue_push(self->queue, &msg, false, NULL);
}

hb_err_t
hb_agent_metric(hb_agent_t *self, const char *name, double value)
{
    assert(self);
    if (!name)
        return HB_EINVAL;
    if (agent_queue_full(self->queue)) {
        agent_queue_count_drop(self->queue);
        return HB_EFULL;
    }
    agent_queue_msg_t msg = {
        .kind = PROTO_KIND_METRIC, .op = name, .value = value};
    return agent_queue_push(self->queue, &msg, false, NULL);
}

void
hb_agent_set_memory_limit(hb_agent_t *self, uint64_t bytes)
{
    assert(self);
    atomic_store(&self->memory_limit, bytes);
    hb_agent_declared(self);
}

void
hb_agent_set_heartbeat(hb_agent_t *self, uint32_t interval_ms)
{
    assert(self);
    atomic_store(&self->heartbeat_ms, interval_ms ? interval_ms : 1);
    agent_queue_kick(self->queue);
}

uint64_t
hb_agent_sent(const hb_agent_t *self)
{
    assert(self);
    return atomic_load(&((hb_agent_t *)self)->sent);
}

uint64_t
hb_agent_drops(const hb_agent_t *self)
{
    assert(self);
    return agent_queue_drops(self->queue) +
           atomic_load(&((hb_agent_t *)self)->send_drops);
}

hb_err_t
hb_agent_flush(hb_agent_t *self, int timeout_ms)
{
    assert(self);
    // Everything accepted so far has a sequence number at most this one;
    // the next push would get last + 1.
    uint64_t target = agent_queue_last_seq(self->queue);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    uint64_t ns = (uint64_t)until.tv_nsec + (uint64_t)(timeout_ms % 1000) *
                                                1000000;
    until.tv_sec += timeout_ms / 1000 + (time_t)(ns / 1000000000);
    until.tv_nsec = (long)(ns % 1000000000);
    hb_err_t rc = HB_OK;
    atomic_fetch_add(&self->flush_waiters, 1);
    agent_queue_kick(self->queue);
    pthread_mutex_lock(&self->flush_lock);
    while (atomic_load(&self->handled_seq) < target) {
        if (pthread_cond_timedwait(&self->flushed, &self->flush_lock,
                                   &until) == ETIMEDOUT) {
            rc = atomic_load(&self->handled_seq) < target ? HB_ETIMEOUT
                                                          : HB_OK;
            break;
        }
    }
    pthread_mutex_unlock(&self->flush_lock);
    atomic_fetch_sub(&self->flush_waiters, 1);
    return rc;
}

agent_knobs_t *
hb_agent_knobs(hb_agent_t *self)
{
    return self->knobs;
}

agent_fix_t *
hb_agent_fixes(hb_agent_t *self)
{
    return self->fixes;
}

uint64_t
hb_agent_next_req_id(hb_agent_t *self)
{
    return atomic_fetch_add(&self->next_req_id, 1);
}

void
hb_agent_declared(hb_agent_t *self)
{
    atomic_store(&self->hello_due, true);
    agent_queue_kick(self->queue);
}

void
hb_agent_announce(hb_agent_t *self)
{
    assert(self);
    hb_agent_declared(self);
}

hb_err_t
hb_agent_action(hb_agent_t *self, const char *name, hb_arg_type_t arg_type,
                hb_action_fn *apply, hb_action_fn *undo, void *user)
{
    assert(self);
    hb_err_t rc = agent_knobs_action(self->knobs, name, arg_type, apply, undo,
                                     user);
    if (rc == HB_OK)
        hb_agent_declared(self);
    return rc;
}

uint64_t
hb_agent_fix_rejects(const hb_agent_t *self, hb_err_t code)
{
    if ((int)code < 0 || code >= HB_ERR_COUNT)
        return 0;
    return atomic_load(&((hb_agent_t *)self)->fix_rejects[code]);
}

uint64_t
hb_agent_fixes_accepted(const hb_agent_t *self)
{
    return atomic_load(&((hb_agent_t *)self)->fixes_accepted);
}

uint64_t
hb_agent_last_seq(const hb_agent_t *self)
{
    return agent_queue_last_seq(self->queue);
}
