/*  test_failover.c - two real healbus-broker processes, and one of them
    SIGKILLed while the bus is in use: an agent given both fronts still
    gets every report through (receivers drop the duplicates by sender and
    sequence number), and a healer given both still heals it. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "healbus.h"
#include "proto_codec.h"
#include "test_bus.h"
#include "test_proc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define T_WAIT_MS 10000
#define N_METRICS 2000
#define CHUNK 200       // reports between two flushes: the queue takes them
#define KILL_AFTER 1000 // values published before broker A dies
#define CONFIRMED 100   // of them, seen by the subscribers before the kill

typedef struct {
    test_proc_t *broker;
    char front[128];
    char back[128];
} s_broker_t;

typedef struct {
    s_broker_t a, b;
    char both[300]; // "frontA,frontB"
    char *dir;
    test_proc_t *healer;
    hb_agent_t *agent;
    void *zctx;
    void *socks[4]; // open in zctx: closed in teardown after a failure
    void *seen;     // the first test's record (s_seen_t)
} env_t;

static void
s_broker_start(s_broker_t *b)
{
    b->broker = test_proc_broker(b->front, sizeof b->front);
    assert_non_null(b->broker);
    assert_true(test_proc_field(b->broker, "back", b->back, sizeof b->back));
}

static void
s_broker_kill(s_broker_t *b)
{
    assert_int_equal(test_proc_stop(b->broker, SIGKILL, T_WAIT_MS),
                     128 + SIGKILL);
    test_proc_destroy(&b->broker);
}

static int
s_setup(void **state)
{
    env_t *env = calloc(1, sizeof *env);
    assert_non_null(env);
    s_broker_start(&env->a);
    s_broker_start(&env->b);
    snprintf(env->both, sizeof env->both, "%s,%s", env->a.front, env->b.front);
    env->dir = test_proc_tmpdir();
    assert_non_null(env->dir);
    env->zctx = zmq_ctx_new();
    assert_non_null(env->zctx);
    *state = env;
    return 0;
}

static int
s_teardown(void **state)
{
    env_t *env = *state;
    hb_agent_destroy(&env->agent);
    for (size_t i = 0; i < sizeof env->socks / sizeof *env->socks; i++)
        if (env->socks[i])
            zmq_close(env->socks[i]);
    free(env->seen);
    if (env->healer)
        assert_int_equal(test_proc_stop(env->healer, SIGTERM, T_WAIT_MS), 0);
    test_proc_destroy(&env->healer);
    s_broker_t *brokers[] = {&env->a, &env->b};
    for (int i = 0; i < 2; i++) {
        if (brokers[i]->broker)
            assert_int_equal(
                test_proc_stop(brokers[i]->broker, SIGTERM, T_WAIT_MS), 0);
        test_proc_destroy(&brokers[i]->broker);
    }
    zmq_ctx_term(env->zctx);
    test_proc_rmtree(env->dir);
    free(env->dir);
    free(env);
    return 0;
}

//  A socket of `type` in the test's context, closed by s_close or, when
//  the test fails first, by the teardown (zmq_ctx_term waits for it).
static void *
s_open(env_t *env, int type)
{
    void *sock = zmq_socket(env->zctx, type);
    assert_non_null(sock);
    int linger = 0;
    assert_int_equal(
        zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger), 0);
    for (size_t i = 0; i < sizeof env->socks / sizeof *env->socks; i++)
        if (!env->socks[i]) {
            env->socks[i] = sock;
            return sock;
        }
    zmq_close(sock);
    fail_msg("more sockets open than env_t keeps");
    return NULL;
}

static void
s_close(env_t *env, void *sock)
{
    for (size_t i = 0; i < sizeof env->socks / sizeof *env->socks; i++)
        if (env->socks[i] == sock)
            env->socks[i] = NULL;
    zmq_close(sock);
}

//  A SUB on `back` for `prefix`, with room for every report of the test
//  so a subscriber that reads in bursts loses nothing to its own queue.
static void *
s_sub(env_t *env, const char *back, const char *prefix)
{
    void *sub = s_open(env, ZMQ_SUB);
    int hwm = 100000;
    assert_int_equal(zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm), 0);
    assert_int_equal(zmq_connect(sub, back), 0);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, prefix, strlen(prefix)),
                     0);
    return sub;
}

/* ------------------------------------------- what the subscribers saw -- */

//  The metrics "value" of one agent as the subscriber side saw them, one
//  entry per sequence number however many brokers delivered it.
typedef struct {
    const char *sender;
    uint64_t seq_of[N_METRICS]; // 0: value not seen yet
    int distinct;               // values seen
    int duplicates;             // copies dropped by sequence number
    uint64_t probe_seq;         // last probe seen (join)
} s_seen_t;

static void
s_take(s_seen_t *seen, const proto_msg_t *m)
{
    if (m->kind != PROTO_KIND_METRIC || strcmp(m->sender, seen->sender) != 0)
        return;
    if (strcmp(m->u.metric.name, "probe") == 0) {
        seen->probe_seq = m->seq;
        return;
    }
    assert_string_equal(m->u.metric.name, "value");
    double v = m->u.metric.value;
    assert_true(v >= 0 && v < N_METRICS && v == (double)(int)v);
    int i = (int)v;
    if (seen->seq_of[i]) { // the other broker's copy
        assert_int_equal(seen->seq_of[i], m->seq);
        seen->duplicates++;
        return;
    }
    // One value, one number: no two values share a sequence number.
    for (int k = 0; k < N_METRICS; k++)
        if (seen->seq_of[k] == m->seq)
            fail_msg("seq %llu carries both value %d and %d",
                     (unsigned long long)m->seq, k, i);
    seen->seq_of[i] = m->seq;
    seen->distinct++;
}

//  Read from either subscriber for up to `wait_ms`; false when neither
//  had anything.
static bool
s_read_any(void *subs[2], int wait_ms, s_seen_t *seen)
{
    zmq_pollitem_t items[2] = {{subs[0], 0, ZMQ_POLLIN, 0},
                               {subs[1], 0, ZMQ_POLLIN, 0}};
    if (zmq_poll(items, 2, wait_ms) <= 0)
        return false;
    for (int i = 0; i < 2; i++) {
        if (!(items[i].revents & ZMQ_POLLIN))
            continue;
        proto_msg_t m;
        assert_true(test_bus_recv(subs[i], 0, &m));
        s_take(seen, &m);
        proto_msg_clear(&m);
    }
    return true;
}

//  Publish probes until one comes back on `sub`: the path agent ->
//  broker -> this subscriber is then up (a SUB's first messages can be
//  lost while its subscription travels).
static void
s_join(hb_agent_t *agent, void *sub, s_seen_t *seen, const char *which)
{
    for (int tries = 0; tries < 100; tries++) {
        seen->probe_seq = 0;
        assert_int_equal(hb_agent_metric(agent, "probe", tries), HB_OK);
        proto_msg_t m;
        while (test_bus_recv(sub, 100, &m)) {
            s_take(seen, &m);
            proto_msg_clear(&m);
            if (seen->probe_seq)
                return;
        }
    }
    fail_msg("no probe from %s came through broker %s in 100 tries",
             hb_agent_name(agent), which);
}

static void
s_publish(hb_agent_t *agent, void *subs[2], s_seen_t *seen, int from, int to)
{
    for (int i = from; i < to; i++) {
        if (i % CHUNK == 0) {
            assert_int_equal(hb_agent_flush(agent, T_WAIT_MS), HB_OK);
            while (s_read_any(subs, 0, seen)) // keep the pipes short
                ;
        }
        assert_int_equal(hb_agent_metric(agent, "value", i), HB_OK);
    }
    assert_int_equal(hb_agent_flush(agent, T_WAIT_MS), HB_OK);
}

/* --------------------------------------------------------------- tests -- */

static void
test_broker_death_loses_no_report(void **state)
{
    env_t *env = *state;
    s_seen_t *seen = calloc(1, sizeof *seen);
    assert_non_null(seen);
    env->seen = seen;
    seen->sender = "fo-agent";
    void *subs[2] = {s_sub(env, env->a.back, "metric.fo-agent"),
                     s_sub(env, env->b.back, "metric.fo-agent")};
    hb_err_t why = HB_OK;
    env->agent = hb_agent_new("fo-agent", env->both, &why);
    if (!env->agent)
        fail_msg("agent with brokers %s: %s", env->both, hb_err_str(why));
    s_join(env->agent, subs[0], seen, "A");
    s_join(env->agent, subs[1], seen, "B");

    s_publish(env->agent, subs, seen, 0, KILL_AFTER);
    // Confirmed: the first values came through both brokers (the second
    // copy of each was dropped by its sequence number).
    while (seen->distinct < CONFIRMED || seen->duplicates < CONFIRMED)
        if (!s_read_any(subs, T_WAIT_MS, seen))
            fail_msg("before the kill only %d values arrived, %d of them "
                     "twice; %d were published",
                     seen->distinct, seen->duplicates, KILL_AFTER);
    // The rest of the first half may be in flight, some only in broker A.
    s_broker_kill(&env->a);
    s_publish(env->agent, subs, seen, KILL_AFTER, N_METRICS);

    while (seen->distinct < N_METRICS)
        if (!s_read_any(subs, T_WAIT_MS, seen))
            break;
    for (int i = 0; i < N_METRICS; i++)
        if (!seen->seq_of[i])
            fail_msg("value %d never arrived (%d of %d did)", i, seen->distinct,
                     N_METRICS);
    // Numbered in the order they were published.
    for (int i = 1; i < N_METRICS; i++)
        assert_true(seen->seq_of[i] > seen->seq_of[i - 1]);
    assert_int_equal(hb_agent_drops(env->agent), 0);
    s_close(env, subs[0]);
    s_close(env, subs[1]);
}

/*  Wait until broker B has passed on a subscription to each of `prefixes`
    (NULL-terminated) to a publisher of ours: some process subscribed to it
    through B.  An XPUB hears the broker's subscriptions, the ones it held
    before we connected included, each one once and in any order. */
static void
s_wait_subscribed(env_t *env, const char *const *prefixes)
{
    void *xpub = s_open(env, ZMQ_XPUB);
    assert_int_equal(zmq_connect(xpub, env->b.front), 0);
    size_t n = 0, heard = 0;
    while (prefixes[n])
        n++;
    bool got[8] = {false};
    assert_true(n <= sizeof got / sizeof *got);
    while (heard < n) {
        zmq_pollitem_t item = {xpub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, T_WAIT_MS) != 1)
            break;
        char frame[256];
        int len = zmq_recv(xpub, frame, sizeof frame, 0);
        for (size_t i = 0; i < n; i++)
            if (!got[i] && len == (int)strlen(prefixes[i]) + 1 &&
                frame[0] == 1 &&
                memcmp(frame + 1, prefixes[i], (size_t)len - 1) == 0) {
                got[i] = true;
                heard++;
            }
    }
    s_close(env, xpub);
    for (size_t i = 0; i < n; i++)
        if (!got[i])
            fail_msg("broker %s never passed on a subscription to '%s'",
                     env->b.front, prefixes[i]);
}

//  Wait until a node heartbeat of `id` comes through broker B.
static void
s_wait_node_via_b(env_t *env, const char *id)
{
    void *sub = s_sub(env, env->b.back, "node.");
    bool seen = false;
    proto_msg_t m;
    while (!seen && test_bus_recv(sub, T_WAIT_MS, &m)) {
        seen = strcmp(m.sender, id) == 0;
        proto_msg_clear(&m);
    }
    s_close(env, sub);
    if (!seen)
        fail_msg("no heartbeat of %s came through broker %s", id, env->b.front);
}

typedef struct {
    hb_knob_t *timeout_ms;
} s_fetch_t;

//  Times out while the timeout is short, the way a slow upstream does.
static bool
s_fetch(void *arg, hb_fail_t *fail)
{
    s_fetch_t *f = arg;
    int64_t t = hb_knob_get_int(f->timeout_ms);
    if (t < 400) {
        hb_fail_set(fail, "TimeoutError", "read timed out after %lld ms",
                    (long long)t);
        return false;
    }
    return true;
}

static void
test_healing_survives_broker_death(void **state)
{
    env_t *env = *state;
    char data[512];
    snprintf(data, sizeof data, "%s/data", env->dir);
    const char *argv[] = {"healbus-node", "--role", "healer",
                          "--id", "healer-fo", "--broker", env->both,
                          "--data-dir", data, "--heartbeat", "0.1",
                          "--set", "journal_flush_ms=0",
                          "--set", "catalog=" TEST_SOURCE_DIR
                                   "/node/healer/fixes.conf",
                          NULL};
    env->healer = test_proc_start(argv, "healbus-node ready", T_WAIT_MS);
    assert_non_null(env->healer);
    hb_err_t why = HB_OK;
    env->agent = hb_agent_new("fo-healed", env->both, &why);
    if (!env->agent)
        fail_msg("agent with brokers %s: %s", env->both, hb_err_str(why));
    s_fetch_t f = {hb_knob_int(env->agent, "timeout_ms", 250, 50, 1000, &why)};
    assert_non_null(f.timeout_ms);
    test_bus_wait_hello(env->agent, env->a.back);
    test_bus_wait_hello(env->agent, env->b.back);

    s_broker_kill(&env->a);

    // Everything healing needs now goes through B alone: the agent's
    // reports reach it, the healer and the agent are subscribed there
    // (heal requests, fixes), and the healer publishes through it.
    test_bus_wait_hello(env->agent, env->b.back);
    static const char *const wanted[] = {"heal.", "fix.fo-healed", NULL};
    s_wait_subscribed(env, wanted);
    s_wait_node_via_b(env, "healer-fo");

    hb_retry_t *r = hb_retry_new(env->agent, "fetch");
    assert_non_null(r);
    hb_retry_set_attempts(r, 2);
    hb_retry_set_backoff(r, 1000, 1000);
    hb_retry_set_heal(r, HB_HEAL_WAIT, 10000000);
    hb_err_t rc = hb_retry_run(r, s_fetch, &f);
    if (rc != HB_OK)
        fail_msg("fetch not healed with broker A dead: %s", hb_err_str(rc));
    assert_int_equal(hb_retry_fixes_committed(r), 1);
    assert_int_equal(hb_knob_get_int(f.timeout_ms), 500); // raise_timeout
    hb_retry_destroy(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_broker_death_loses_no_report,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_healing_survives_broker_death,
                                        s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
