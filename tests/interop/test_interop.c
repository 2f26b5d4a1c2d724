/*  test_interop.c - a Python publisher written from PROTOCOL.md alone
    (interop_publish.py, Debian's python3-zmq and python3-msgpack) sends one
    message of every kind; the C codec decodes each and the fields match.
    This proves the page is enough to write an agent in another language. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hb_clock.h"
#include "proto_codec.h"

#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <zmq.h>

#define PYTHON "/usr/bin/python3"
#define SCRIPT TEST_SOURCE_DIR "/tests/interop/interop_publish.py"
#define N_MSGS 15
#define DEADLINE_MS 20000

extern char **environ;

typedef struct {
    proto_msg_t msgs[N_MSGS];
    size_t count;
    int script_status; // exit status, -1 while unknown
} got_t;

//  Receive one two-frame message and decode it into got->msgs[count].
static void
s_recv_one(void *pull, got_t *got)
{
    zmq_msg_t topic, body;
    zmq_msg_init(&topic);
    zmq_msg_init(&body);
    assert_true(zmq_msg_recv(&topic, pull, 0) >= 0);
    assert_true(zmq_msg_more(&topic));
    assert_true(zmq_msg_recv(&body, pull, 0) >= 0);
    assert_false(zmq_msg_more(&body));
    proto_msg_t *m = &got->msgs[got->count];
    hb_err_t rc = proto_codec_decode(zmq_msg_data(&topic), zmq_msg_size(&topic),
                                     zmq_msg_data(&body), zmq_msg_size(&body),
                                     m);
    if (rc != HB_OK)
        fail_msg("message %zu (topic %.*s) rejected: %s", got->count + 1,
                 (int)zmq_msg_size(&topic), (char *)zmq_msg_data(&topic),
                 hb_err_str(rc));
    got->count++;
    zmq_msg_close(&topic);
    zmq_msg_close(&body);
}

//  Run the script against a bound PULL socket and collect N_MSGS messages
//  within the deadline; says what never came.
static void
s_collect(got_t *got)
{
    void *ctx = zmq_ctx_new();
    void *pull = zmq_socket(ctx, ZMQ_PULL);
    int maxsize = PROTO_MAX_FRAME;
    zmq_setsockopt(pull, ZMQ_MAXMSGSIZE, &maxsize, sizeof maxsize);
    assert_int_equal(zmq_bind(pull, "tcp://127.0.0.1:*"), 0);
    char ep[256];
    size_t ep_len = sizeof ep;
    assert_int_equal(zmq_getsockopt(pull, ZMQ_LAST_ENDPOINT, ep, &ep_len), 0);

    char *argv[] = {PYTHON, SCRIPT, ep, NULL};
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, PYTHON, NULL, NULL, argv, environ), 0);

    got->script_status = -1;
    int64_t deadline = hb_clock_mono_ms() + DEADLINE_MS;
    while (got->count < N_MSGS && hb_clock_mono_ms() < deadline) {
        zmq_pollitem_t item = {pull, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&item, 1, 100);
        if (n > 0)
            s_recv_one(pull, got);
        int status;
        if (got->script_status < 0 && waitpid(pid, &status, WNOHANG) == pid) {
            got->script_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
            if (got->script_status != 0)
                break; // nothing more will come
        }
    }
    if (got->script_status < 0) {
        int status;
        if (got->count < N_MSGS)
            kill(pid, SIGKILL); // the script we started, by its pid
        waitpid(pid, &status, 0);
        got->script_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    }
    zmq_close(pull);
    zmq_ctx_term(ctx);
    if (got->script_status == 3)
        fail_msg(PYTHON " lacks the zmq or msgpack module: install "
                 "python3-zmq and python3-msgpack (scripts/test does)");
    if (got->count < N_MSGS)
        fail_msg("only %zu of %d messages arrived within %d ms (script "
                 "exit %d)", got->count, N_MSGS, DEADLINE_MS,
                 got->script_status);
    assert_int_equal(got->script_status, 0);
}

static void
s_check_hello(const proto_msg_t *m)
{
    assert_int_equal(m->kind, PROTO_KIND_HELLO);
    assert_string_equal(m->subject, "py-agent");
    assert_int_equal(m->seq, 1);
    const proto_hello_t *h = &m->u.hello;
    assert_int_equal(h->pid, 4242);
    assert_string_equal(h->host, "py-host");
    assert_int_equal(h->memory_limit, 2ull << 30);
    assert_int_equal(h->n_knobs, 4);
    assert_string_equal(h->knobs[0].name, "batch_size");
    assert_int_equal(h->knobs[0].type, PROTO_KNOB_INT);
    assert_int_equal(h->knobs[0].value.u.i, 500);
    assert_int_equal(h->knobs[0].min.u.i, 1);
    assert_int_equal(h->knobs[0].max.u.i, 10000);
    assert_int_equal(h->knobs[1].type, PROTO_KNOB_DOUBLE);
    assert_int_equal(h->knobs[1].value.type, PROTO_VAL_DOUBLE); // int 3 in
    assert_true(h->knobs[1].value.u.d == 3.0);
    assert_true(h->knobs[1].min.u.d == 0.5);
    assert_int_equal(h->knobs[2].value.type, PROTO_VAL_BOOL);
    assert_false(h->knobs[2].value.u.b);
    assert_int_equal(h->knobs[3].type, PROTO_KNOB_ENUM);
    assert_int_equal(h->knobs[3].n_choices, 2);
    assert_string_equal(h->knobs[3].choices[1], "fuzzy");
    assert_int_equal(h->n_actions, 2);
    assert_int_equal(h->actions[0].arg, PROTO_ARG_NONE);
    assert_int_equal(h->actions[1].arg, PROTO_ARG_INT);
}

static void
s_check_agent_reports(const got_t *g)
{
    const proto_msg_t *m = &g->msgs[1];
    assert_int_equal(m->kind, PROTO_KIND_HEARTBEAT);
    assert_int_equal(m->u.heartbeat.drops, 1);
    assert_int_equal(m->u.heartbeat.rss_bytes, 52428800);
    assert_int_equal(m->u.heartbeat.uptime_ms, 60000);

    m = &g->msgs[2];
    assert_int_equal(m->kind, PROTO_KIND_ERROR);
    assert_string_equal(m->sender, "py-agent");
    assert_int_equal(m->seq, 3);
    assert_true(m->ts_us > 1600000000000000); // wall clock, us
    assert_string_equal(m->u.error.op, "load_csv");
    assert_string_equal(m->u.error.error_class, "DateFormatError");
    assert_string_equal(m->u.error.text, "bad date '2024-13-01' on row 7");
    assert_int_equal(m->u.error.attempt, 2);
    assert_int_equal(m->u.error.max_attempts, 3);

    m = &g->msgs[3];
    assert_int_equal(m->kind, PROTO_KIND_SUCCESS);
    assert_int_equal(m->u.success.duration_us, 15320);
    assert_int_equal(m->u.success.n_knobs, 4);
    assert_string_equal(m->u.success.knobs[0].name, "batch_size");
    assert_int_equal(m->u.success.knobs[0].value.u.i, 250);
    assert_true(m->u.success.knobs[1].value.u.d == 4.5);
    assert_true(m->u.success.knobs[2].value.u.b);
    assert_string_equal(m->u.success.knobs[3].value.u.s, "fuzzy");

    assert_int_equal(g->msgs[4].kind, PROTO_KIND_METRIC);
    assert_true(g->msgs[4].u.metric.value == 17.5);
    assert_true(g->msgs[5].u.metric.value == 8.0); // an int sample

    m = &g->msgs[6];
    assert_int_equal(m->kind, PROTO_KIND_HEAL);
    assert_int_equal(m->u.heal.req_id, 7);
    assert_int_equal(m->u.heal.mode, PROTO_HEAL_ASYNC);
    assert_int_equal(m->u.heal.attempts, 3);
}

static void
s_check_fixes(const got_t *g)
{
    const proto_msg_t *m = &g->msgs[7];
    assert_int_equal(m->kind, PROTO_KIND_FIX);
    assert_string_equal(m->sender, "healer-1");
    assert_int_equal(m->seq, 1); // per sender
    assert_string_equal(m->u.fix.fix_id, "healer-1/7/1");
    assert_true(m->u.fix.test);
    assert_true(m->u.fix.expires_us > m->ts_us);
    assert_int_equal(m->u.fix.n_steps, 3);
    assert_int_equal(m->u.fix.steps[0].op, PROTO_STEP_DIV);
    assert_int_equal(m->u.fix.steps[0].value.u.i, 2);
    assert_int_equal(m->u.fix.steps[1].op, PROTO_STEP_SET);
    assert_string_equal(m->u.fix.steps[1].value.u.s, "fuzzy");
    assert_int_equal(m->u.fix.steps[2].op, PROTO_STEP_ACTION);
    assert_int_equal(m->u.fix.steps[2].value.type, PROTO_VAL_NIL);

    m = &g->msgs[8];
    assert_int_equal(m->kind, PROTO_KIND_FIXRES);
    assert_int_equal(m->u.fixres.outcome, PROTO_OUTCOME_ROLLED_BACK);
    assert_string_equal(m->u.fixres.reason, "test failed");
    assert_int_equal(m->u.fixres.test_us, 8100);

    m = &g->msgs[11];
    assert_int_equal(m->kind, PROTO_KIND_ESCALATION);
    assert_string_equal(m->u.escalation.template_text, "cannot open <*>");
    assert_int_equal(m->u.escalation.n_history, 2);
    assert_int_equal(m->u.escalation.history[0].outcome,
                     PROTO_OUTCOME_ROLLED_BACK);
    assert_string_equal(m->u.escalation.history[1].name, ""); // omitted
    assert_string_equal(m->u.escalation.history[1].reason, "ENOTFOUND");
}

static void
s_check_nodes(const got_t *g)
{
    const proto_msg_t *m = &g->msgs[9];
    assert_int_equal(m->kind, PROTO_KIND_PREDICTION);
    assert_string_equal(m->u.prediction.series, "err:load_csv");
    assert_int_equal(m->u.prediction.fail_at_us, 1800000000000000);
    assert_true(m->u.prediction.confidence == 0.9);
    assert_int_equal(m->u.prediction.level, PROTO_LEVEL_HIGH);

    m = &g->msgs[10];
    assert_int_equal(m->kind, PROTO_KIND_ALERT);
    assert_int_equal(m->u.alert.level, PROTO_LEVEL_CRITICAL);
    assert_int_equal(m->u.alert.previous, PROTO_LEVEL_LOW);
    assert_true(m->u.alert.value == 0.61);

    m = &g->msgs[12];
    assert_int_equal(m->kind, PROTO_KIND_NODE);
    assert_string_equal(m->subject, "healer-1");
    assert_string_equal(m->u.node.role, "healer");
    assert_int_equal(m->u.node.n_counters, 2);
    assert_string_equal(m->u.node.counters[0].name, "fixes_sent");
    assert_int_equal(m->u.node.counters[1].value, 99);

    m = &g->msgs[13];
    assert_int_equal(m->kind, PROTO_KIND_ASK);
    assert_string_equal(m->subject, "*");
    assert_string_equal(m->u.ask.target, "*");

    m = &g->msgs[14];
    assert_int_equal(m->kind, PROTO_KIND_STATS);
    assert_string_equal(m->u.node.role, "broker");
    assert_int_equal(m->u.node.counters[0].value, 1000);
}

static void
test_python_publisher_decodes(void **state)
{
    (void)state;
    static got_t got;
    memset(&got, 0, sizeof got);
    s_collect(&got);
    s_check_hello(&got.msgs[0]);
    s_check_agent_reports(&got);
    s_check_fixes(&got);
    s_check_nodes(&got);
    for (size_t i = 0; i < got.count; i++)
        proto_msg_clear(&got.msgs[i]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_python_publisher_decodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
