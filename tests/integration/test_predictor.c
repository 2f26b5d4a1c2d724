/*  test_predictor.c - the predictor end to end with real processes:
    healbus-broker, healbus-node --role predictor, and an agent made with
    libhealbus in this process whose error rate climbs.  A prediction must
    arrive on the bus (`pred.` SUB) and in the node's .predictions.json,
    and survive a SIGKILL and restart of the node.

    The agent's reports are paced by the waits for the prediction itself
    (zmq_poll on the SUB socket with a short timeout), so nothing sleeps to
    synchronise; the only deadline is an upper bound on the whole wait. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "healbus.h"
#include "hb_clock.h"
#include "proto_codec.h"
#include "test_bus.h"
#include "test_proc.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zmq.h>

#define T_WAIT_MS 10000
#define T_DEADLINE_MS 60000 // upper bound for the prediction to come
#define T_BUCKET_MS 200

typedef struct {
    char front[128];
    char back[128];
    char data[512];
    char *dir;
    test_proc_t *broker;
    test_proc_t *node;
    hb_agent_t *agent;
    void *zctx;
    void *sub;
} env_t;

static void
s_start_node(env_t *env)
{
    const char *argv[] = {"healbus-node", "--role", "predictor",
                          "--id", "predictor-1", "--broker", env->front,
                          "--data-dir", env->data,
                          "--set", "bucket_ms=200",
                          "--set", "min_points=5",
                          "--set", "hold_ms=400",
                          "--set", "journal_max=50", NULL};
    env->node = test_proc_start(argv, "healbus-node ready", T_WAIT_MS);
    assert_non_null(env->node);
}

static int
s_setup(void **state)
{
    env_t *env = calloc(1, sizeof *env);
    env->dir = test_proc_tmpdir();
    snprintf(env->data, sizeof env->data, "%s/data", env->dir);
    env->broker = test_proc_broker(env->front, sizeof env->front);
    assert_non_null(env->broker);
    assert_true(test_proc_field(env->broker, "back", env->back,
                                sizeof env->back));
    env->zctx = zmq_ctx_new();
    const char *topics[] = {"pred.", NULL};
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
    if (env->node)
        test_proc_stop(env->node, SIGTERM, T_WAIT_MS);
    test_proc_destroy(&env->node);
    test_proc_stop(env->broker, SIGTERM, T_WAIT_MS);
    test_proc_destroy(&env->broker);
    test_proc_rmtree(env->dir);
    free(env->dir);
    free(env);
    return 0;
}

//  Receive one message from the SUB socket within `wait_ms`; true and
//  *msg decoded when it was a prediction.
static bool
s_recv_prediction(env_t *env, int wait_ms, proto_msg_t *msg)
{
    return test_bus_recv(env->sub, wait_ms, msg) &&
           msg->kind == PROTO_KIND_PREDICTION;
}

//  The agent reports load_csv attempts whose error rate climbs by two
//  points per bucket from 5%, until a prediction arrives.
static void
s_climb_until_predicted(env_t *env, proto_msg_t *pred)
{
    int64_t start = hb_clock_mono_ms();
    for (;;) {
        int64_t elapsed = hb_clock_mono_ms() - start;
        if (elapsed > T_DEADLINE_MS)
            fail_msg("no prediction on pred. within %d ms", T_DEADLINE_MS);
        double rate = 0.05 + 0.02 * (double)(elapsed / T_BUCKET_MS);
        if (rate > 0.45)
            rate = 0.45; // stays under the threshold: a foreseen failure
        for (int i = 0; i < 20; i++) {
            if (i < (int)(rate * 20 + 0.5))
                hb_agent_error(env->agent, "load_csv", "MemoryError", 1,
                               "batch of %d rows over budget", 512);
            else
                hb_agent_success(env->agent, "load_csv", 1000);
        }
        if (s_recv_prediction(env, 20, pred))
            return;
        proto_msg_clear(pred);
    }
}

//  The node's journal, parsed (NULL while absent).
static json_t *
s_journal(env_t *env)
{
    char path[700];
    snprintf(path, sizeof path, "%s/.predictions.json", env->data);
    return json_load_file(path, 0, NULL);
}

static json_t *
s_wait_journal(env_t *env)
{
    int64_t start = hb_clock_mono_ms();
    proto_msg_t other;
    while (hb_clock_mono_ms() - start < T_WAIT_MS) {
        json_t *doc = s_journal(env);
        if (doc && json_array_size(json_object_get(doc, "predictions")) > 0)
            return doc;
        json_decref(doc);
        // wait on the bus meanwhile: the node writes on its next tick
        s_recv_prediction(env, 50, &other);
        proto_msg_clear(&other);
    }
    fail_msg("no prediction in %s/.predictions.json", env->data);
    return NULL;
}

static void
s_check_entry(const json_t *e)
{
    assert_string_equal(json_string_value(json_object_get(e, "worker")),
                        "loader-9");
    assert_string_equal(json_string_value(json_object_get(e, "series")),
                        "err:load_csv");
    const char *p = json_string_value(json_object_get(e, "prediction"));
    assert_non_null(p);
    assert_int_equal(strncmp(p, "will_fail_by_", 13), 0);
    double c = json_number_value(json_object_get(e, "confidence"));
    assert_true(c > 0 && c <= 1);
    assert_string_equal(
        json_string_value(json_object_get(e, "suggested_action")),
        "increase_memory_allocation");
    assert_non_null(strstr(json_string_value(json_object_get(e, "reason")),
                           "error rate of load_csv rose"));
}

static void
test_predictor_foresees_climbing_error_rate_and_keeps_its_file(void **state)
{
    env_t *env = *state;
    s_start_node(env);
    hb_err_t why = HB_OK;
    env->agent = hb_agent_new("loader-9", env->front, &why);
    assert_non_null(env->agent);

    proto_msg_t pred;
    s_climb_until_predicted(env, &pred);
    assert_string_equal(pred.subject, "loader-9");
    assert_string_equal(pred.u.prediction.agent, "loader-9");
    assert_string_equal(pred.u.prediction.series, "err:load_csv");
    assert_string_equal(pred.u.prediction.action,
                        "increase_memory_allocation");
    assert_true(pred.u.prediction.confidence > 0 &&
                pred.u.prediction.confidence <= 1);
    assert_true(pred.u.prediction.fail_at_us > pred.ts_us);
    assert_true(pred.u.prediction.level == PROTO_LEVEL_MEDIUM ||
                pred.u.prediction.level == PROTO_LEVEL_HIGH);
    proto_msg_clear(&pred);

    json_t *doc = s_wait_journal(env);
    size_t n = json_array_size(json_object_get(doc, "predictions"));
    s_check_entry(json_array_get(json_object_get(doc, "predictions"), 0));
    assert_non_null(json_object_get(json_object_get(doc, "record"),
                                    "error_rate"));
    json_decref(doc);

    // SIGKILL: the file written so far stays whole and is reloaded
    assert_int_equal(test_proc_stop(env->node, SIGKILL, T_WAIT_MS),
                     128 + SIGKILL);
    test_proc_destroy(&env->node);
    s_start_node(env);
    doc = s_journal(env);
    assert_non_null(doc);
    assert_true(json_array_size(json_object_get(doc, "predictions")) >= n);
    s_check_entry(json_array_get(json_object_get(doc, "predictions"), 0));
    json_decref(doc);
    char aside[700];
    snprintf(aside, sizeof aside, "%s/.predictions.json.corrupt", env->data);
    struct stat sb;
    assert_int_not_equal(stat(aside, &sb), 0); // it was not rejected
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_predictor_foresees_climbing_error_rate_and_keeps_its_file,
            s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
