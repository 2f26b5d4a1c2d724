/*  test_predictor_act.c - a predictor with act = true heals before the
    failure, end to end with real processes: healbus-broker, healbus-node
    --role predictor --set act=true, healbus-node --role healer, and an
    agent made with libhealbus in this process.

    The agent's operation times out more and more often while its knob
    timeout_ms is 100 (never often enough to fail outright).  The predictor
    foresees the failure and publishes heal.<agent> (ASYNC) itself; the
    healer answers with a fix from its catalog (TimeoutError: double
    timeout_ms); the agent applies it on its next hb_retry_run of the
    operation, which then succeeds, and reports fixres committed.  The
    agent never asks for a fix itself (heal mode off), so the fix can only
    be the predictor's doing.  Paced by polls on the bus, no sleeps. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "healbus.h"
#include "hb_clock.h"
#include "proto_codec.h"
#include "test_bus.h"
#include "test_proc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define T_WAIT_MS 10000
#define T_DEADLINE_MS 60000 // upper bound for the whole heal to happen
#define T_BUCKET_MS 200
#define T_AGENT "fetcher-3"
#define T_PREDICTOR "predictor-1"

typedef struct {
    char front[128];
    char back[128];
    char *dir;
    test_proc_t *broker;
    test_proc_t *predictor;
    test_proc_t *healer;
    hb_agent_t *agent;
    hb_knob_t *timeout_ms;
    void *zctx;
    void *sub;
} env_t;

//  What the bus showed of the heal, in order of arrival.
typedef struct {
    bool heal_seen;     // heal.<agent> from the predictor
    uint64_t req_id;
    bool fix_seen;      // fix.<agent> answering it
    char fix_id[PROTO_MAX_ID + 1];
    bool committed;     // fixres.<agent> committed for that fix
} s_seen_t;

//  The op's state: failures per round of 20 calls, and calls so far.
typedef struct {
    env_t *env;
    int fails;
    int call;
} s_op_t;

static test_proc_t *
s_node(env_t *env, const char *role, const char *id, const char *const *set)
{
    char data[600];
    snprintf(data, sizeof data, "%s/%s", env->dir, id);
    const char *argv[32] = {"healbus-node", "--role", role,  "--id",
                            id,             "--broker", env->front,
                            "--data-dir",   data};
    int n = 9;
    for (; *set && n < 30; set++) {
        argv[n++] = "--set";
        argv[n++] = *set;
    }
    argv[n] = NULL;
    return test_proc_start(argv, "healbus-node ready", T_WAIT_MS);
}

static int
s_setup(void **state)
{
    env_t *env = calloc(1, sizeof *env);
    env->dir = test_proc_tmpdir();
    env->broker = test_proc_broker(env->front, sizeof env->front);
    assert_non_null(env->broker);
    assert_true(test_proc_field(env->broker, "back", env->back,
                                sizeof env->back));
    env->zctx = zmq_ctx_new();
    const char *topics[] = {"heal.", "fix.", "fixres.", NULL};
    env->sub = test_bus_sub(env->zctx, env->back, topics);
    *state = env;
    return 0;
}

static int
s_teardown(void **state)
{
    env_t *env = *state;
    hb_agent_destroy(&env->agent);
    zmq_close(env->sub);
    zmq_ctx_term(env->zctx);
    test_proc_t **procs[] = {&env->predictor, &env->healer, &env->broker};
    for (size_t i = 0; i < sizeof procs / sizeof *procs; i++) {
        if (*procs[i])
            test_proc_stop(*procs[i], SIGTERM, T_WAIT_MS);
        test_proc_destroy(procs[i]);
    }
    test_proc_rmtree(env->dir);
    free(env->dir);
    free(env);
    return 0;
}

//  The operation: with timeout_ms below 200 it times out on `fails` of
//  every 20 calls; from 200 on it always succeeds.
static bool
s_fetch(void *arg, hb_fail_t *fail)
{
    s_op_t *op = arg;
    int64_t t = hb_knob_get_int(op->env->timeout_ms);
    if (t >= 200 || op->call++ % 20 >= op->fails)
        return true;
    hb_fail_set(fail, "TimeoutError", "no reply from the store in %lld ms",
                (long long)t);
    return false;
}

static void
s_note(const proto_msg_t *m, s_seen_t *seen)
{
    if (!m->subject || strcmp(m->subject, T_AGENT) != 0)
        return;
    if (m->kind == PROTO_KIND_HEAL && !seen->heal_seen) {
        // only the predictor asks: the agent's heal mode is off
        assert_string_equal(m->sender, T_PREDICTOR);
        assert_string_equal(m->u.heal.op, "fetch");
        assert_string_equal(m->u.heal.error_class, "TimeoutError");
        assert_int_equal(m->u.heal.mode, PROTO_HEAL_ASYNC);
        seen->heal_seen = true;
        seen->req_id = m->u.heal.req_id;
    } else if (m->kind == PROTO_KIND_FIX && seen->heal_seen &&
               !seen->fix_seen) {
        assert_string_equal(m->u.fix.op, "fetch");
        assert_true(m->u.fix.req_id == seen->req_id);
        seen->fix_seen = true;
        snprintf(seen->fix_id, sizeof seen->fix_id, "%s", m->u.fix.fix_id);
    } else if (m->kind == PROTO_KIND_FIXRES && seen->fix_seen &&
               strcmp(m->u.fixres.fix_id, seen->fix_id) == 0) {
        assert_int_equal(m->u.fixres.outcome, PROTO_OUTCOME_COMMITTED);
        assert_true(m->u.fixres.req_id == seen->req_id);
        seen->committed = true;
    }
}

//  Run the op in rounds of 20 calls, its timeout share climbing two
//  points per bucket from 5% (capped at 45%: foreseen, not yet failed),
//  watching the bus between rounds, until the fix is committed.
static void
s_run_until_healed(env_t *env, hb_retry_t *retry, s_seen_t *seen)
{
    s_op_t op = {env, 1, 0};
    int64_t start = hb_clock_mono_ms();
    while (!seen->committed) {
        int64_t elapsed = hb_clock_mono_ms() - start;
        if (elapsed > T_DEADLINE_MS)
            fail_msg("within %d ms: heal request from the predictor %s, "
                     "fix %s, fixres committed %s", T_DEADLINE_MS,
                     seen->heal_seen ? "seen" : "never came",
                     seen->fix_seen ? "seen" : "never came",
                     seen->committed ? "seen" : "never came");
        double rate = 0.05 + 0.02 * (double)(elapsed / T_BUCKET_MS);
        op.fails = (int)((rate > 0.45 ? 0.45 : rate) * 20 + 0.5);
        for (int i = 0; i < 20; i++)
            hb_retry_run(retry, s_fetch, &op);
        proto_msg_t m;
        int wait_ms = 20;
        while (test_bus_recv(env->sub, wait_ms, &m)) {
            s_note(&m, seen);
            proto_msg_clear(&m);
            wait_ms = 0; // drain what is there, then run the op again
        }
    }
}

static void
test_predictor_act_heals_before_the_failure(void **state)
{
    env_t *env = *state;
    const char *pset[] = {"act=true", "bucket_ms=200", "min_points=5",
                          "hold_ms=400", NULL};
    env->predictor = s_node(env, "predictor", T_PREDICTOR, pset);
    assert_non_null(env->predictor);
    const char *hset[] = {"journal_flush_ms=0",
                          "catalog=" TEST_SOURCE_DIR "/node/healer/fixes.conf",
                          NULL};
    env->healer = s_node(env, "healer", "healer-1", hset);
    assert_non_null(env->healer);

    env->agent = hb_agent_new(T_AGENT, env->front, NULL);
    assert_non_null(env->agent);
    env->timeout_ms = hb_knob_int(env->agent, "timeout_ms", 100, 1, 100000,
                                  NULL);
    assert_non_null(env->timeout_ms);
    test_bus_wait_hello(env->agent, env->back);
    hb_retry_t *retry = hb_retry_new(env->agent, "fetch");
    assert_non_null(retry);
    hb_retry_set_attempts(retry, 1);
    hb_retry_set_heal(retry, HB_HEAL_OFF, 0);

    s_seen_t seen = {0};
    s_run_until_healed(env, retry, &seen);
    assert_true(seen.req_id >> 63); // the predictor's mark on its requests
    // doubled at least once (a later prediction may have doubled it again
    // within the same round of calls)
    assert_true(hb_knob_get_int(env->timeout_ms) >= 200);
    assert_true(hb_retry_fixes_committed(retry) >= 1);
    assert_int_equal(hb_retry_fixes_rolled_back(retry), 0);
    hb_retry_destroy(&retry);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_predictor_act_heals_before_the_failure, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
