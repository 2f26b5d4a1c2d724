/*  test_agent_heal.c - the agent's side of healing over the real broker: a
    test plays the healer with its own PUB and SUB.  Heal request -> fix ->
    applied, tested, committed; a useless candidate rolled back before the
    next one commits; a resent fix is a duplicate; bad fixes are rejected
    and reported; ask.* makes the agent announce itself again. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hb_agent_int.h"
#include "test_proc.h"

#include <czmq.h>
#include <pthread.h>
#include <string.h>

#define AGENT "heal-agent"

typedef struct {
    test_proc_t *broker;
    char front[256], back[256];
    zsock_t *pub;       // the test's "healer" publisher
    zsock_t *sub;       // sees everything on the bus
    hb_agent_t *agent;
    hb_knob_t *batch;   // 1..1000, starts at 800; the op needs <= 200
    int streaming_on, streaming_undone;
    uint64_t healer_seq;
} s_world_t;

static hb_err_t
s_streaming(void *user, const char *arg)
{
    (void)arg;
    ((s_world_t *)user)->streaming_on++;
    return HB_OK;
}

static hb_err_t
s_streaming_undo(void *user, const char *arg)
{
    (void)arg;
    ((s_world_t *)user)->streaming_undone++;
    return HB_OK;
}

static void
s_send(s_world_t *w, proto_msg_t *m)
{
    m->version = PROTO_VERSION;
    m->sender = "test-healer";
    m->seq = ++w->healer_seq;
    m->ts_us = 1;
    char topic[PROTO_MAX_TOPIC + 1];
    uint8_t body[PROTO_MAX_FRAME];
    size_t len;
    size_t tlen = proto_codec_topic(m, topic, sizeof topic);
    assert_true(tlen > 0);
    assert_int_equal(proto_codec_encode(m, body, sizeof body, &len), HB_OK);
    void *s = zsock_resolve(w->pub);
    assert_true(zmq_send(s, topic, tlen, ZMQ_SNDMORE) >= 0);
    assert_true(zmq_send(s, body, len, 0) >= 0);
}

//  Wait for a message of `kind` from the agent; false on timeout.
static bool
s_expect(s_world_t *w, proto_kind_t kind, int timeout_ms, proto_msg_t *out)
{
    zmq_pollitem_t item = {zsock_resolve(w->sub), 0, ZMQ_POLLIN, 0};
    int64_t until = zclock_mono() + timeout_ms;
    while (zclock_mono() < until) {
        if (zmq_poll(&item, 1, (long)(until - zclock_mono())) <= 0)
            continue;
        zframe_t *topic = zframe_recv(w->sub);
        zframe_t *body = zframe_more(topic) ? zframe_recv(w->sub) : NULL;
        assert_non_null(body);
        hb_err_t rc = proto_codec_decode(zframe_data(topic),
                                         zframe_size(topic), zframe_data(body),
                                         zframe_size(body), out);
        zframe_destroy(&topic);
        zframe_destroy(&body);
        if (rc != HB_OK)
            continue; // another component's traffic we cannot read
        if (out->kind == kind && strcmp(out->sender, AGENT) == 0)
            return true;
        proto_msg_clear(out);
    }
    return false;
}

static void
s_ask(s_world_t *w, const char *target)
{
    proto_msg_t m;
    proto_msg_init(&m, PROTO_KIND_ASK);
    m.subject = target;
    m.u.ask.target = target;
    s_send(w, &m);
}

/*  Ask until a hello numbered after `after` comes back: proves the paths
    test -> broker -> agent and agent -> broker -> test are both up. */
static bool
s_ask_until_hello(s_world_t *w, const char *target, int tries)
{
    for (int i = 0; i < tries; i++) {
        assert_int_equal(hb_agent_flush(w->agent, 10000), HB_OK);
        uint64_t after = hb_agent_last_seq(w->agent);
        s_ask(w, target);
        proto_msg_t m;
        while (s_expect(w, PROTO_KIND_HELLO, 1500, &m)) {
            bool fresh = m.seq > after;
            if (fresh) {
                assert_int_equal(m.u.hello.n_knobs, 1);
                assert_string_equal(m.u.hello.knobs[0].name, "batch_size");
                assert_int_equal(m.u.hello.n_actions, 1);
                assert_string_equal(m.u.hello.actions[0].name,
                                    "use_streaming");
                assert_int_equal(m.u.hello.memory_limit, 1 << 20);
            }
            proto_msg_clear(&m);
            if (fresh)
                return true;
        }
    }
    return false;
}

static int
s_setup(void **state)
{
    s_world_t *w = calloc(1, sizeof *w);
    w->broker = test_proc_broker(w->front, sizeof w->front);
    assert_non_null(w->broker);
    assert_true(test_proc_field(w->broker, "back", w->back, sizeof w->back));
    w->pub = zsock_new_pub(NULL);
    assert_int_equal(zsock_connect(w->pub, "%s", w->front), 0);
    w->sub = zsock_new_sub(NULL, "");
    assert_int_equal(zsock_connect(w->sub, "%s", w->back), 0);
    w->agent = hb_agent_new(AGENT, w->front, NULL);
    assert_non_null(w->agent);
    hb_agent_set_memory_limit(w->agent, 1 << 20);
    w->batch = hb_knob_int(w->agent, "batch_size", 800, 1, 1000, NULL);
    assert_non_null(w->batch);
    assert_int_equal(hb_agent_action(w->agent, "use_streaming", HB_ARG_NONE,
                                     s_streaming, s_streaming_undo, w),
                     HB_OK);
    if (!s_ask_until_hello(w, "*", 20))
        fail_msg("the agent never answered ask.*");
    *state = w;
    return 0;
}

static int
s_teardown(void **state)
{
    s_world_t *w = *state;
    hb_agent_destroy(&w->agent);
    zsock_destroy(&w->pub);
    zsock_destroy(&w->sub);
    assert_int_equal(test_proc_stop(w->broker, SIGTERM, 10000), 0);
    test_proc_destroy(&w->broker);
    free(w);
    return 0;
}

static proto_msg_t
s_fix(const char *id, uint64_t req_id, proto_step_op_t op, const char *target,
      proto_value_t value)
{
    proto_msg_t m;
    proto_msg_init(&m, PROTO_KIND_FIX);
    m.subject = AGENT;
    m.u.fix = (proto_fix_t){.fix_id = id,
                            .req_id = req_id,
                            .op = "load",
                            .name = "test",
                            .test = true,
                            .n_steps = 1};
    m.u.fix.steps[0] = (proto_step_t){.op = op, .target = target,
                                      .value = value};
    return m;
}

#define INT(v) ((proto_value_t){.type = PROTO_VAL_INT, .u.i = (v)})

static void
s_expect_fixres(s_world_t *w, const char *id, proto_outcome_t outcome,
                const char *reason)
{
    proto_msg_t m;
    for (;;) {
        if (!s_expect(w, PROTO_KIND_FIXRES, 10000, &m))
            fail_msg("no fix result for %s", id);
        bool match = strcmp(m.u.fixres.fix_id, id) == 0;
        if (match) {
            assert_int_equal(m.u.fixres.outcome, outcome);
            if (reason)
                assert_string_equal(m.u.fixres.reason, reason);
        }
        proto_msg_clear(&m);
        if (match)
            return;
    }
}

/* ------------------------------------------------------------- the op -- */

typedef struct {
    s_world_t *w;
    hb_retry_t *retry;
    hb_err_t rc;
    int runs;
} s_run_t;

static bool
s_load(void *arg, hb_fail_t *fail)
{
    s_run_t *r = arg;
    r->runs++;
    int64_t batch = hb_knob_get_int(r->w->batch);
    if (batch <= 200)
        return true;
    hb_fail_set(fail, "MemoryError", "batch of %lld rows over budget",
                (long long)batch);
    return false;
}

static void *
s_runner(void *arg)
{
    s_run_t *r = arg;
    r->rc = hb_retry_run(r->retry, s_load, r);
    return NULL;
}

static void
s_start(s_world_t *w, s_run_t *r, pthread_t *t)
{
    *r = (s_run_t){.w = w, .retry = hb_retry_new(w->agent, "load")};
    hb_retry_set_attempts(r->retry, 2);
    hb_retry_set_backoff(r->retry, 1000, 1000);
    hb_retry_set_heal(r->retry, HB_HEAL_WAIT, 30000000);
    assert_int_equal(pthread_create(t, NULL, s_runner, r), 0);
}

//  The heal request the retry publishes after its attempts: its req_id.
static uint64_t
s_heal_request(s_world_t *w)
{
    proto_msg_t m;
    if (!s_expect(w, PROTO_KIND_HEAL, 10000, &m))
        fail_msg("no heal request");
    assert_string_equal(m.u.heal.op, "load");
    assert_string_equal(m.u.heal.error_class, "MemoryError");
    assert_int_equal(m.u.heal.attempts, 2);
    assert_int_equal(m.u.heal.mode, PROTO_HEAL_WAIT);
    uint64_t req = m.u.heal.req_id;
    proto_msg_clear(&m);
    return req;
}

static void
test_heal_request_fix_commit(void **state)
{
    s_world_t *w = *state;
    s_run_t r;
    pthread_t t;
    s_start(w, &r, &t);
    uint64_t req = s_heal_request(w);
    proto_msg_t fix = s_fix("fix-div", req, PROTO_STEP_DIV, "batch_size",
                            INT(4));
    s_send(w, &fix);
    s_expect_fixres(w, "fix-div", PROTO_OUTCOME_COMMITTED, NULL);
    pthread_join(t, NULL);
    assert_int_equal(r.rc, HB_OK);
    assert_int_equal(r.runs, 3);
    assert_int_equal(hb_knob_get_int(w->batch), 200);
    assert_int_equal(hb_retry_fixes_committed(r.retry), 1);
    // The success that follows carries the knob value now in force.
    proto_msg_t ok;
    assert_true(s_expect(w, PROTO_KIND_SUCCESS, 10000, &ok));
    assert_int_equal(ok.u.success.n_knobs, 1);
    assert_int_equal(ok.u.success.knobs[0].value.u.i, 200);
    proto_msg_clear(&ok);
    // The healer resends (it missed the result): applied once, DUPLICATE.
    s_send(w, &fix);
    s_expect_fixres(w, "fix-div", PROTO_OUTCOME_DUPLICATE,
                    hb_err_str(HB_EALREADY));
    assert_int_equal(hb_knob_get_int(w->batch), 200);
    hb_retry_destroy(&r.retry);
}

static void
test_useless_candidate_rolls_back_then_next_commits(void **state)
{
    s_world_t *w = *state;
    s_run_t r;
    pthread_t t;
    s_start(w, &r, &t);
    uint64_t req = s_heal_request(w);
    proto_msg_t useless = s_fix("cand-1", req, PROTO_STEP_ACTION,
                                "use_streaming", (proto_value_t){0});
    s_send(w, &useless);
    s_expect_fixres(w, "cand-1", PROTO_OUTCOME_ROLLED_BACK, NULL);
    assert_int_equal(w->streaming_on, 1);
    assert_int_equal(w->streaming_undone, 1);
    assert_int_equal(hb_knob_get_int(w->batch), 800);
    proto_msg_t good = s_fix("cand-2", req, PROTO_STEP_SET, "batch_size",
                             INT(100));
    s_send(w, &good);
    s_expect_fixres(w, "cand-2", PROTO_OUTCOME_COMMITTED, NULL);
    pthread_join(t, NULL);
    assert_int_equal(r.rc, HB_OK);
    assert_int_equal(hb_retry_fixes_rolled_back(r.retry), 1);
    assert_int_equal(hb_retry_fixes_committed(r.retry), 1);
    assert_int_equal(hb_knob_get_int(w->batch), 100);
    hb_retry_destroy(&r.retry);
}

static void
test_bad_fixes_are_rejected_and_reported(void **state)
{
    s_world_t *w = *state;
    proto_msg_t out = s_fix("oob", 0, PROTO_STEP_SET, "batch_size",
                            INT(5000));
    s_send(w, &out);
    s_expect_fixres(w, "oob", PROTO_OUTCOME_REJECTED, hb_err_str(HB_ERANGE));
    proto_msg_t undeclared = s_fix("undeclared", 0, PROTO_STEP_SET,
                                   "threads", INT(4));
    s_send(w, &undeclared);
    s_expect_fixres(w, "undeclared", PROTO_OUTCOME_REJECTED,
                    hb_err_str(HB_ENOTFOUND));
    proto_msg_t expired = s_fix("expired", 0, PROTO_STEP_SET, "batch_size",
                                INT(10));
    expired.u.fix.expires_us = 1; // long ago
    s_send(w, &expired);
    s_expect_fixres(w, "expired", PROTO_OUTCOME_REJECTED,
                    hb_err_str(HB_EEXPIRED));
    // Garbage on fix.<name> is counted, never answered, never fatal.
    void *s = zsock_resolve(w->pub);
    assert_true(zmq_send(s, "fix." AGENT, strlen("fix." AGENT),
                         ZMQ_SNDMORE) >= 0);
    assert_true(zmq_send(s, "\xc1\xff garbage", 10, 0) >= 0);
    proto_msg_t after = s_fix("after", 0, PROTO_STEP_SET, "batch_size",
                              INT(0));
    s_send(w, &after);
    s_expect_fixres(w, "after", PROTO_OUTCOME_REJECTED,
                    hb_err_str(HB_ERANGE));
    assert_int_equal(hb_agent_fix_rejects(w->agent, HB_ERANGE), 2);
    assert_int_equal(hb_agent_fix_rejects(w->agent, HB_ENOTFOUND), 1);
    assert_int_equal(hb_agent_fix_rejects(w->agent, HB_EEXPIRED), 1);
    assert_int_equal(hb_knob_get_int(w->batch), 800);
    assert_int_equal(hb_agent_fixes_accepted(w->agent), 0);
}

static void
test_ask_by_name_makes_the_agent_announce_again(void **state)
{
    s_world_t *w = *state;
    assert_true(s_ask_until_hello(w, AGENT, 5));
    assert_true(s_ask_until_hello(w, "*", 5));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_heal_request_fix_commit, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(
            test_useless_candidate_rolls_back_then_next_commits, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_bad_fixes_are_rejected_and_reported, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_ask_by_name_makes_the_agent_announce_again, s_setup,
            s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
