/*  test_broker.c - the real healbus-broker on free loopback ports: it
    forwards complete and in order, survives garbage and counts it, counts
    what a slow subscriber cannot take, publishes stats, stops cleanly on
    signals and refuses bad flags and non-loopback binds.

    Publishers here are raw XPUB sockets: an XPUB hears the subscriptions
    the broker passes upstream, so a test waits for that event instead of
    probing, and knows exactly how many messages the broker received. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "healbus.h"
#include "hb_clock.h"
#include "proto_codec.h"
#include "test_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define T_WAIT_MS 10000 // deadline for anything that should happen

typedef struct {
    test_proc_t *broker;
    char front[256];
    char back[256];
    void *ctx;
} t_env_t;

//  Start a broker on tcp://127.0.0.1:* with `extra` flags (NULL-ended).
static void
s_start(t_env_t *env, const char *stats_sec, const char *const *extra)
{
    const char *argv[32] = {"healbus-broker", "--front", "tcp://127.0.0.1:*",
                            "--stats-interval", stats_sec};
    size_t n = 5;
    for (; extra && *extra && n < 31; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    env->broker = test_proc_start(argv, "healbus-broker ready", T_WAIT_MS);
    assert_non_null(env->broker);
    assert_true(test_proc_field(env->broker, "front", env->front,
                                sizeof env->front));
    assert_true(test_proc_field(env->broker, "back", env->back,
                                sizeof env->back));
    env->ctx = zmq_ctx_new();
    assert_non_null(env->ctx);
}

static void
s_stop(t_env_t *env)
{
    zmq_ctx_term(env->ctx);
    assert_int_equal(test_proc_stop(env->broker, SIGTERM, T_WAIT_MS), 0);
    test_proc_destroy(&env->broker);
}

static void *
s_socket(t_env_t *env, int type, const char *ep, int hwm)
{
    void *s = zmq_socket(env->ctx, type);
    assert_non_null(s);
    int zero = 0;
    assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm), 0);
    assert_int_equal(zmq_connect(s, ep), 0);
    return s;
}

static void *
s_sub(t_env_t *env, const char *prefix, int hwm)
{
    void *s = s_socket(env, ZMQ_SUB, env->back, hwm);
    assert_int_equal(
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, prefix, strlen(prefix)), 0);
    return s;
}

//  Wait until `pub` (an XPUB) hears the subscription to `prefix`: from
//  then on the broker forwards what it publishes under that prefix.
static void
s_wait_subscribed(void *pub, const char *prefix)
{
    long long deadline = hb_clock_mono_ms() + T_WAIT_MS;
    char buf[256];
    size_t n = strlen(prefix);
    for (;;) {
        long long left = deadline - hb_clock_mono_ms();
        zmq_pollitem_t it = {pub, 0, ZMQ_POLLIN, 0};
        if (left <= 0 || zmq_poll(&it, 1, (long)left) <= 0)
            fail_msg("the subscription to '%s' never reached the publisher",
                     prefix);
        int rc = zmq_recv(pub, buf, sizeof buf, 0);
        if (rc == (int)n + 1 && buf[0] == 1 && memcmp(buf + 1, prefix, n) == 0)
            return;
    }
}

static void *
s_pub(t_env_t *env, const char *prefix)
{
    void *s = s_socket(env, ZMQ_XPUB, env->front, 1000000);
    s_wait_subscribed(s, prefix);
    return s;
}

static void
s_send2(void *s, const void *topic, size_t tlen, const void *body,
        size_t blen)
{
    assert_int_equal(zmq_send(s, topic, tlen, ZMQ_SNDMORE), (int)tlen);
    assert_int_equal(zmq_send(s, body, blen, 0), (int)blen);
}

//  Publish a valid encoded message of `kind` from `sender` with `seq`.
static void
s_send_msg(void *pub, proto_kind_t kind, const char *sender, uint64_t seq)
{
    proto_msg_t m;
    proto_msg_init(&m, kind);
    m.subject = sender;
    m.version = PROTO_VERSION;
    m.sender = sender;
    m.seq = seq;
    m.ts_us = 1700000000000000;
    if (kind == PROTO_KIND_METRIC) {
        m.u.metric.name = "queue_depth";
        m.u.metric.value = (double)seq;
    } else {
        m.u.error.op = "load_csv";
        m.u.error.error_class = "IOError";
        m.u.error.text = "cannot open /data/in.csv";
        m.u.error.attempt = 1;
        m.u.error.max_attempts = 3;
    }
    char topic[PROTO_MAX_TOPIC + 1];
    uint8_t body[1024];
    size_t blen = 0;
    size_t tlen = proto_codec_topic(&m, topic, sizeof topic);
    assert_true(tlen > 0);
    assert_int_equal(proto_codec_encode(&m, body, sizeof body, &blen), HB_OK);
    s_send2(pub, topic, tlen, body, blen);
}

//  Receive one two-frame message into `out` (decoded); false on timeout.
static bool
s_recv_msg(void *sub, int timeout_ms, proto_msg_t *out)
{
    zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0)
        return false;
    char topic[512];
    static uint8_t body[PROTO_MAX_FRAME]; // too big for a test's stack
    int tlen = zmq_recv(sub, topic, sizeof topic, 0);
    assert_true(tlen > 0);
    int more = 0;
    size_t len = sizeof more;
    zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &len);
    assert_true(more);
    int blen = zmq_recv(sub, body, sizeof body, 0);
    assert_true(blen > 0);
    zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &len);
    assert_false(more);
    assert_int_equal(proto_codec_decode(topic, (size_t)tlen, body,
                                        (size_t)blen, out),
                     HB_OK);
    return true;
}

static uint64_t
s_counter(const proto_msg_t *m, const char *name)
{
    for (uint32_t i = 0; i < m->u.node.n_counters; i++)
        if (strcmp(m->u.node.counters[i].name, name) == 0)
            return m->u.node.counters[i].value;
    fail_msg("stats message has no counter '%s'", name);
    return 0;
}

//  The front-side invariant: every message received is forwarded or
//  dropped for exactly one reason.
static void
s_assert_balanced(const proto_msg_t *m)
{
    assert_int_equal(s_counter(m, "msgs_in"),
                     s_counter(m, "msgs_out") +
                         s_counter(m, "dropped_frames") +
                         s_counter(m, "dropped_topic") +
                         s_counter(m, "dropped_size") +
                         s_counter(m, "dropped_hwm"));
}

//  Read from `sub` until a stats message has counter `name` >= `min`;
//  other messages are skipped.  The caller clears *out.
static void
s_wait_stats(void *sub, const char *name, uint64_t min, proto_msg_t *out)
{
    long long deadline = hb_clock_mono_ms() + T_WAIT_MS;
    for (;;) {
        long long left = deadline - hb_clock_mono_ms();
        if (left <= 0 || !s_recv_msg(sub, (int)left, out))
            fail_msg("no stats message with %s >= %llu", name,
                     (unsigned long long)min);
        if (out->kind == PROTO_KIND_STATS && s_counter(out, name) >= min)
            return;
        proto_msg_clear(out);
    }
}

/* ------------------------------------------------------------ forwarding -- */

static void
test_broker_forwards_complete_and_in_order(void **state)
{
    (void)state;
    t_env_t env;
    s_start(&env, "0.05", NULL);
    void *sub = s_sub(&env, "err.", 100000);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "stats.", 6), 0);
    void *pub = s_pub(&env, "err.");
    enum { N = 5000 };
    for (uint64_t i = 1; i <= N; i++)
        s_send_msg(pub, PROTO_KIND_ERROR, "loader-7", i);
    uint64_t next = 1;
    proto_msg_t m;
    while (next <= N) {
        if (!s_recv_msg(sub, T_WAIT_MS, &m))
            fail_msg("message %llu of %d never came",
                     (unsigned long long)next, N);
        if (m.kind == PROTO_KIND_ERROR) {
            assert_string_equal(m.sender, "loader-7");
            assert_int_equal(m.seq, next);
            assert_string_equal(m.u.error.text, "cannot open /data/in.csv");
            next++;
        }
        proto_msg_clear(&m);
    }
    s_wait_stats(sub, "msgs_out", N, &m);
    assert_int_equal(s_counter(&m, "msgs_in"), N);
    assert_int_equal(s_counter(&m, "msgs_out"), N);
    assert_int_equal(s_counter(&m, "dropped_hwm"), 0);
    assert_int_equal(s_counter(&m, "subscribes"), 2);
    s_assert_balanced(&m);
    proto_msg_clear(&m);
    zmq_close(pub);
    zmq_close(sub);
    s_stop(&env);
}

static void
test_broker_with_explicit_back_endpoint(void **state)
{
    (void)state;
    t_env_t env;
    const char *extra[] = {"--back", "tcp://127.0.0.1:*", NULL};
    s_start(&env, "0", extra);
    assert_string_not_equal(env.front, env.back);
    void *sub = s_sub(&env, "metric.", 1000);
    void *pub = s_pub(&env, "metric.");
    s_send_msg(pub, PROTO_KIND_METRIC, "w1", 1);
    proto_msg_t m;
    assert_true(s_recv_msg(sub, T_WAIT_MS, &m));
    assert_int_equal(m.kind, PROTO_KIND_METRIC);
    assert_int_equal(m.seq, 1);
    proto_msg_clear(&m);
    zmq_close(pub);
    zmq_close(sub);
    s_stop(&env);
}

/* --------------------------------------------------------------- garbage -- */

//  Send every malformed shape the broker must drop; returns how many of
//  each reason were sent through `counts` (frames, topic, size).
static void
s_send_garbage(void *pub, uint64_t counts[3])
{
    static const char body[] = "\x81\xa1v\x01"; // any non-empty bytes
    // wrong frame counts
    assert_int_equal(zmq_send(pub, "err.x", 5, 0), 5);
    assert_int_equal(zmq_send(pub, "err.x", 5, ZMQ_SNDMORE), 5);
    assert_int_equal(zmq_send(pub, "a", 1, ZMQ_SNDMORE), 1);
    assert_int_equal(zmq_send(pub, "b", 1, 0), 1);
    counts[0] = 2;
    // bad topics
    static const char long_subject[] =
        "err.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const struct { const char *t; size_t len; } topics[] = {
        {"", 0},          {"errx", 4},      {"zzz.x", 5},   {"err.", 4},
        {"err.a\0b", 7},  {".x", 2},        {long_subject, sizeof long_subject - 1},
    };
    size_t n_topics = sizeof topics / sizeof topics[0];
    for (size_t i = 0; i < n_topics; i++)
        s_send2(pub, topics[i].t, topics[i].len, body, sizeof body - 1);
    // random bytes: the first byte has its high bit set, so no kind matches
    uint64_t x = 0x9e3779b97f4a7c15u;
    enum { N_RANDOM = 50 };
    for (int i = 0; i < N_RANDOM; i++) {
        uint8_t t[100];
        size_t len = 1 + (x % sizeof t);
        for (size_t j = 0; j < len; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            t[j] = (uint8_t)x;
        }
        t[0] |= 0x80;
        s_send2(pub, t, len, body, sizeof body - 1);
    }
    counts[1] = n_topics + N_RANDOM;
    // sizes: empty body, both frames empty, topic over PROTO_MAX_TOPIC
    char big_topic[PROTO_MAX_TOPIC + 1];
    memset(big_topic, 'a', sizeof big_topic);
    memcpy(big_topic, "err.", 4);
    s_send2(pub, "err.x", 5, "", 0);
    s_send2(pub, "", 0, "", 0);
    s_send2(pub, big_topic, sizeof big_topic, body, sizeof body - 1);
    counts[2] = 3;
}

static void
test_broker_survives_garbage_and_counts_it(void **state)
{
    (void)state;
    t_env_t env;
    s_start(&env, "0.05", NULL);
    void *sub = s_sub(&env, "", 100000);
    void *pub = s_pub(&env, "");
    s_send_msg(pub, PROTO_KIND_ERROR, "before", 1);
    uint64_t counts[3];
    s_send_garbage(pub, counts);
    s_send_msg(pub, PROTO_KIND_ERROR, "after", 1);
    // Only the two valid messages (and stats) come out, in order.
    proto_msg_t m;
    const char *want[] = {"before", "after"};
    for (int i = 0; i < 2;) {
        assert_true(s_recv_msg(sub, T_WAIT_MS, &m));
        if (m.kind != PROTO_KIND_STATS) {
            assert_int_equal(m.kind, PROTO_KIND_ERROR);
            assert_string_equal(m.sender, want[i++]);
        }
        proto_msg_clear(&m);
    }
    // A stats message sent after "after" counts all of the garbage.
    s_wait_stats(sub, "msgs_out", 2, &m);
    uint64_t garbage = counts[0] + counts[1] + counts[2];
    assert_int_equal(s_counter(&m, "msgs_in"), 2 + garbage);
    assert_int_equal(s_counter(&m, "dropped_frames"), counts[0]);
    assert_int_equal(s_counter(&m, "dropped_topic"), counts[1]);
    assert_int_equal(s_counter(&m, "dropped_size"), counts[2]);
    assert_int_equal(s_counter(&m, "dropped_hwm"), 0);
    assert_int_equal(s_counter(&m, "front_disconnects"), 0);
    s_assert_balanced(&m);
    proto_msg_clear(&m);

    // A frame over PROTO_MAX_FRAME: libzmq cuts that publisher off before
    // buffering it; the broker counts the disconnect and goes on.
    void *bad = s_pub(&env, "");
    static uint8_t huge[PROTO_MAX_FRAME + 1];
    s_send2(bad, "err.huge", 8, huge, sizeof huge);
    s_wait_stats(sub, "front_disconnects", 1, &m);
    assert_int_equal(s_counter(&m, "front_disconnects"), 1);
    assert_int_equal(s_counter(&m, "msgs_in"), 2 + garbage);
    proto_msg_clear(&m);
    s_send_msg(pub, PROTO_KIND_ERROR, "still-forwarding", 2);
    for (;;) {
        assert_true(s_recv_msg(sub, T_WAIT_MS, &m));
        bool done = m.kind == PROTO_KIND_ERROR;
        if (done)
            assert_string_equal(m.sender, "still-forwarding");
        proto_msg_clear(&m);
        if (done)
            break;
    }
    zmq_close(bad);
    zmq_close(pub);
    zmq_close(sub);
    s_stop(&env);
}

static void
test_broker_drops_upstream_garbage_from_subscribers(void **state)
{
    (void)state;
    t_env_t env;
    s_start(&env, "0.05", NULL);
    void *stats = s_sub(&env, "stats.", 1000);
    void *xsub = s_socket(&env, ZMQ_XSUB, env.back, 1000);
    // Neither a subscribe (1) nor an unsubscribe (0) message.
    assert_int_equal(zmq_send(xsub, "\x07junk", 5, 0), 5);
    assert_int_equal(zmq_send(xsub, "\x01x", 2, ZMQ_SNDMORE), 2);
    assert_int_equal(zmq_send(xsub, "y", 1, 0), 1);
    proto_msg_t m;
    s_wait_stats(stats, "dropped_upstream", 2, &m);
    assert_int_equal(s_counter(&m, "dropped_upstream"), 2);
    proto_msg_clear(&m);
    zmq_close(xsub);
    zmq_close(stats);
    s_stop(&env);
}

/* ----------------------------------------------------------------- stats -- */

static void
test_broker_publishes_stats(void **state)
{
    (void)state;
    t_env_t env;
    const char *extra[] = {"--id", "test-broker-7", NULL};
    s_start(&env, "0.05", extra);
    void *sub = s_sub(&env, "stats.", 1000);
    proto_msg_t a, b;
    assert_true(s_recv_msg(sub, T_WAIT_MS, &a));
    assert_true(s_recv_msg(sub, T_WAIT_MS, &b));
    assert_int_equal(a.kind, PROTO_KIND_STATS);
    assert_string_equal(a.subject, "test-broker-7");
    assert_string_equal(a.sender, "test-broker-7");
    assert_int_equal(a.version, PROTO_VERSION);
    assert_string_equal(a.u.node.role, "broker");
    assert_int_equal(b.seq, a.seq + 1);
    assert_true(b.u.node.uptime_ms >= a.u.node.uptime_ms);
    assert_int_equal(a.u.node.n_counters, 14);
    assert_int_equal(s_counter(&a, "subscribes"), 1);
    assert_int_equal(s_counter(&b, "stats_sent"),
                     s_counter(&a, "stats_sent") + 1);
    s_assert_balanced(&a);
    proto_msg_clear(&a);
    proto_msg_clear(&b);
    zmq_close(sub);
    s_stop(&env);
}

/* ------------------------------------------------------- slow subscriber -- */

//  A subscriber left unread while the test floods the broker: a small kernel
//  buffer as well as a small HWM (set before connecting), so that the way
//  to it fills long before the test's N messages.
static void *
s_slow_sub(t_env_t *env, const char *prefix)
{
    void *slow = zmq_socket(env->ctx, ZMQ_SUB);
    int ten = 10, rcvbuf = 4096, zero = 0;
    assert_int_equal(zmq_setsockopt(slow, ZMQ_RCVHWM, &ten, sizeof ten), 0);
    assert_int_equal(
        zmq_setsockopt(slow, ZMQ_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
    assert_int_equal(zmq_setsockopt(slow, ZMQ_LINGER, &zero, sizeof zero), 0);
    assert_int_equal(
        zmq_setsockopt(slow, ZMQ_SUBSCRIBE, prefix, strlen(prefix)), 0);
    assert_int_equal(zmq_connect(slow, env->back), 0);
    return slow;
}

static void
test_broker_counts_drops_for_a_slow_subscriber(void **state)
{
    (void)state;
    t_env_t env;
    const char *extra[] = {"--hwm", "10", NULL};
    s_start(&env, "0.05", extra);
    void *slow = s_slow_sub(&env, "metric.");
    void *stats = s_sub(&env, "stats.", 1000);
    void *pub = s_pub(&env, "metric.");
    enum { N = 50000 };
    for (uint64_t i = 1; i <= N; i++)
        s_send_msg(pub, PROTO_KIND_METRIC, "w1", i);
    proto_msg_t m;
    s_wait_stats(stats, "msgs_in", N, &m);
    uint64_t out = s_counter(&m, "msgs_out");
    uint64_t hwm = s_counter(&m, "dropped_hwm");
    assert_int_equal(s_counter(&m, "msgs_in"), N);
    assert_true(hwm > 0);
    assert_int_equal(out + hwm, N);
    s_assert_balanced(&m);
    proto_msg_clear(&m);
    // The slow subscriber now reads everything the broker forwarded; what
    // was dropped shows as gaps in the sender's sequence numbers.
    uint64_t last = 0, missing = 0;
    for (uint64_t got = 0; got < out; got++) {
        if (!s_recv_msg(slow, T_WAIT_MS, &m))
            fail_msg("got %llu of %llu forwarded messages",
                     (unsigned long long)got, (unsigned long long)out);
        assert_true(m.seq > last);
        missing += m.seq - last - 1;
        last = m.seq;
        proto_msg_clear(&m);
    }
    missing += N - last;
    assert_int_equal(missing, hwm);
    zmq_close(pub);
    zmq_close(stats);
    zmq_close(slow);
    s_stop(&env);
}

/* ------------------------------------------------------ agent library -- */

//  Publish "sync" metrics from `agent` until `sub` receives one from it;
//  returns that message's sequence number.  (A publisher's messages are
//  lost until the subscription reaches it.)
static uint64_t
s_agent_sync(hb_agent_t *agent, void *sub)
{
    long long deadline = hb_clock_mono_ms() + T_WAIT_MS;
    proto_msg_t m;
    while (hb_clock_mono_ms() < deadline) {
        assert_int_equal(hb_agent_metric(agent, "sync", 0), HB_OK);
        assert_int_equal(hb_agent_flush(agent, T_WAIT_MS), HB_OK);
        while (s_recv_msg(sub, 50, &m)) {
            bool mine = m.kind == PROTO_KIND_METRIC &&
                        strcmp(m.sender, hb_agent_name(agent)) == 0;
            uint64_t seq = m.seq;
            proto_msg_clear(&m);
            if (mine)
                return seq;
        }
    }
    fail_msg("no message from agent %s reached the subscriber",
             hb_agent_name(agent));
    return 0;
}

static void
test_broker_forwards_agent_messages_in_order(void **state)
{
    (void)state;
    t_env_t env;
    s_start(&env, "0", NULL);
    // Everything: the agent numbers its hellos and heartbeats too.
    void *sub = s_sub(&env, "", 100000);
    hb_agent_t *agent = hb_agent_new("a1", env.front, NULL);
    assert_non_null(agent);
    uint64_t seq = s_agent_sync(agent, sub);
    // Fewer than the agent's queue holds, so every report is accepted.
    enum { N = 300 };
    for (int i = 0; i < N; i++)
        assert_int_equal(hb_agent_metric(agent, "rows", i), HB_OK);
    assert_int_equal(hb_agent_flush(agent, T_WAIT_MS), HB_OK);
    proto_msg_t m;
    for (int i = 0; i < N;) {
        if (!s_recv_msg(sub, T_WAIT_MS, &m))
            fail_msg("agent metric %d of %d never came", i, N);
        assert_string_equal(m.sender, "a1");
        assert_int_equal(m.seq, seq + 1);
        seq = m.seq;
        if (m.kind == PROTO_KIND_METRIC &&
            strcmp(m.u.metric.name, "rows") == 0) {
            assert_true(m.u.metric.value == (double)i);
            i++;
        }
        proto_msg_clear(&m);
    }
    assert_int_equal(hb_agent_drops(agent), 0);
    hb_agent_destroy(&agent);
    zmq_close(sub);
    s_stop(&env);
}

static void
test_broker_slow_subscriber_sees_agent_sequence_gap(void **state)
{
    (void)state;
    t_env_t env;
    const char *extra[] = {"--hwm", "10", NULL};
    s_start(&env, "0.05", extra);
    void *slow = s_slow_sub(&env, "metric.a2");
    void *stats = s_sub(&env, "stats.", 1000);
    hb_agent_t *agent = hb_agent_new("a2", env.front, NULL);
    assert_non_null(agent);
    uint64_t last = s_agent_sync(agent, slow);
    enum { N = 50000 };
    for (int i = 0; i < N; i++)
        while (hb_agent_metric(agent, "rows", i) == HB_EFULL)
            assert_int_equal(hb_agent_flush(agent, T_WAIT_MS), HB_OK);
    assert_int_equal(hb_agent_flush(agent, T_WAIT_MS), HB_OK);
    proto_msg_t m;
    s_wait_stats(stats, "dropped_hwm", 1, &m);
    uint64_t dropped = s_counter(&m, "dropped_hwm");
    proto_msg_clear(&m);
    // Read on until the first gap: the broker's drops show up there.
    uint64_t gap = 0;
    while (gap == 0) {
        if (!s_recv_msg(slow, T_WAIT_MS, &m))
            fail_msg("the slow subscriber never saw a gap after seq %llu",
                     (unsigned long long)last);
        assert_true(m.seq > last);
        gap = m.seq - last - 1;
        last = m.seq;
        proto_msg_clear(&m);
    }
    assert_true(gap <= dropped + hb_agent_drops(agent));
    hb_agent_destroy(&agent);
    zmq_close(stats);
    zmq_close(slow);
    s_stop(&env);
}

/* ------------------------------------------------------ signals and argv -- */

static void
s_stops_on(int sig)
{
    t_env_t env;
    s_start(&env, "0.05", NULL);
    void *sub = s_sub(&env, "", 1000);
    void *pub = s_pub(&env, "");
    zmq_close(pub);
    zmq_close(sub);
    zmq_ctx_term(env.ctx);
    assert_int_equal(test_proc_stop(env.broker, sig, T_WAIT_MS), 0);
    test_proc_destroy(&env.broker);
}

static void
test_broker_exits_0_on_sigterm(void **state)
{
    (void)state;
    s_stops_on(SIGTERM);
}

static void
test_broker_exits_0_on_sigint(void **state)
{
    (void)state;
    s_stops_on(SIGINT);
}

//  Run the broker with `args` (NULL-ended) to completion; returns its exit
//  status and its stdout + stderr in `out`.
static int
s_run(const char *const *args, char *out, size_t len)
{
    const char *argv[16] = {"healbus-broker"};
    size_t n = 1;
    for (; *args && n < 15; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        execv(TEST_BIN_DIR "/healbus-broker", (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    size_t used = 0;
    long long deadline = hb_clock_mono_ms() + T_WAIT_MS;
    for (;;) {
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        long long left = deadline - hb_clock_mono_ms();
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            kill(pid, SIGKILL);
            break;
        }
        ssize_t r = read(fds[0], out + used, len - 1 - used);
        if (r <= 0)
            break;
        used += (size_t)r;
        if (used == len - 1)
            break;
    }
    out[used] = '\0';
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void
test_broker_help_exits_0(void **state)
{
    (void)state;
    char out[4096];
    const char *args[] = {"--help", NULL};
    assert_int_equal(s_run(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "--front"));
    assert_non_null(strstr(out, "--allow-remote"));
}

static void
test_broker_refuses_non_loopback_without_allow_remote(void **state)
{
    (void)state;
    const char *cases[][3] = {
        {"--front", "tcp://0.0.0.0:*", NULL},
        {"--front", "tcp://*:7701", NULL},
        {"--back", "tcp://10.1.2.3:7702", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[4096];
        assert_int_equal(s_run(cases[i], out, sizeof out), 2);
        assert_non_null(strstr(out, "non-loopback"));
        assert_non_null(strstr(out, "--allow-remote"));
        assert_null(strstr(out, "ready"));
    }
}

static void
test_broker_binds_any_address_with_allow_remote(void **state)
{
    (void)state;
    const char *argv[] = {"healbus-broker", "--allow-remote", "--front",
                          "tcp://0.0.0.0:*", "--stats-interval", "0", NULL};
    test_proc_t *p = test_proc_start(argv, "healbus-broker ready", T_WAIT_MS);
    assert_non_null(p);
    char front[256];
    assert_true(test_proc_field(p, "front", front, sizeof front));
    assert_int_equal(strncmp(front, "tcp://0.0.0.0:", 14), 0);
    assert_int_equal(test_proc_stop(p, SIGTERM, T_WAIT_MS), 0);
    test_proc_destroy(&p);
}

static void
test_broker_rejects_bad_flags(void **state)
{
    (void)state;
    const char *cases[][3] = {
        {"--bogus", NULL, NULL},
        {"--front", NULL, NULL},
        {"--hwm", "0", NULL},
        {"--hwm", "abc", NULL},
        {"--hwm", "1.5", NULL},
        {"--hwm", "2000000", NULL},
        {"--stats-interval", "-1", NULL},
        {"--stats-interval", "5s", NULL},
        {"--stats-interval", "nan", NULL},
        {"--id", "bad id", NULL},
        {"--id", "", NULL},
        {"--id",
         "a234567890123456789012345678901234567890123456789012345678901234"
         "5",
         NULL},
        {"--front", "nonsense", NULL},
        {"--front", "tcp://127.0.0.1:99999", NULL},
        {"--front", "tcp://127.0.0.1:65535", NULL},
        {"--front", "tcp://127.0.0.1:7001,tcp://127.0.0.1:7003", NULL},
        {"--back", "tcp://127.0.0.1:7002,tcp://127.0.0.1:7004", NULL},
        {"stray", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[4096];
        int status = s_run(cases[i], out, sizeof out);
        if (status != 2)
            fail_msg("'%s %s' exited %d, not 2: %s", cases[i][0],
                     cases[i][1] ? cases[i][1] : "", status, out);
        // One clear complaint per mistake, not two.
        const char *hint = strstr(out, "healbus-broker --help");
        assert_non_null(hint);
        if (strstr(hint + 1, "healbus-broker --help"))
            fail_msg("'%s %s' complained twice: %s", cases[i][0],
                     cases[i][1] ? cases[i][1] : "", out);
        assert_null(strstr(out, "ready"));
    }
}

static void
test_broker_exits_1_when_the_port_is_taken(void **state)
{
    (void)state;
    t_env_t env;
    s_start(&env, "0", NULL);
    char out[4096];
    const char *args[] = {"--front", env.front, NULL};
    assert_int_equal(s_run(args, out, sizeof out), 1);
    assert_non_null(strstr(out, "cannot bind"));
    s_stop(&env);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broker_forwards_complete_and_in_order),
        cmocka_unit_test(test_broker_with_explicit_back_endpoint),
        cmocka_unit_test(test_broker_survives_garbage_and_counts_it),
        cmocka_unit_test(test_broker_drops_upstream_garbage_from_subscribers),
        cmocka_unit_test(test_broker_publishes_stats),
        cmocka_unit_test(test_broker_counts_drops_for_a_slow_subscriber),
        cmocka_unit_test(test_broker_forwards_agent_messages_in_order),
        cmocka_unit_test(test_broker_slow_subscriber_sees_agent_sequence_gap),
        cmocka_unit_test(test_broker_exits_0_on_sigterm),
        cmocka_unit_test(test_broker_exits_0_on_sigint),
        cmocka_unit_test(test_broker_help_exits_0),
        cmocka_unit_test(test_broker_refuses_non_loopback_without_allow_remote),
        cmocka_unit_test(test_broker_binds_any_address_with_allow_remote),
        cmocka_unit_test(test_broker_rejects_bad_flags),
        cmocka_unit_test(test_broker_exits_1_when_the_port_is_taken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
