/*  test_healer.c - healing end to end with real processes: healbus-broker,
    healbus-node --role healer, and an agent made with libhealbus in this
    process whose operations fail the way the example DataLoader's do. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "healbus.h"
#include "proto_codec.h"
#include "test_bus.h"
#include "test_proc.h"

#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>
#include <zmq.h>

#define T_WAIT_MS 10000

typedef struct {
    char front[128];
    char *dir;
    test_proc_t *broker;
    test_proc_t *healer;
    hb_agent_t *agent;
    hb_knob_t *timeout_ms, *batch_size, *date_parser, *parser;
} env_t;

static void
s_start_healer(env_t *env, const char *id)
{
    char data[512], esc[600];
    snprintf(data, sizeof data, "%s/data", env->dir);
    snprintf(esc, sizeof esc, "cat > %s/escalated.tmp && mv %s/escalated.tmp "
             "%s/escalated", env->dir, env->dir, env->dir);
    const char *argv[] = {"healbus-node", "--role", "healer", "--id", id,
                          "--broker", env->front, "--data-dir", data,
                          "--set", "fix_timeout_ms=500",
                          "--set", "journal_flush_ms=0",
                          "--set", "max_candidates=2",
                          "--set", "catalog=" TEST_SOURCE_DIR
                                   "/node/healer/fixes.conf",
                          "--on-escalate", esc, NULL};
    env->healer = test_proc_start(argv, "healbus-node ready", T_WAIT_MS);
    assert_non_null(env->healer);
}

static void
s_start_agent(env_t *env, const char *name)
{
    hb_err_t why = HB_OK;
    env->agent = hb_agent_new(name, env->front, &why);
    assert_non_null(env->agent);
    static const char *const dates[] = {"strict", "fuzzy", NULL};
    static const char *const parsers[] = {"memory", "streaming", NULL};
    env->timeout_ms = hb_knob_int(env->agent, "timeout_ms", 250, 50, 1000,
                                  &why);
    env->batch_size = hb_knob_int(env->agent, "batch_size", 100, 16, 1024,
                                  &why);
    env->date_parser = hb_knob_enum(env->agent, "date_parser", "strict",
                                    dates, &why);
    env->parser = hb_knob_enum(env->agent, "parser", "memory", parsers, &why);
    assert_non_null(env->parser);
    char back[160];
    test_bus_back_of(env->front, back, sizeof back);
    test_bus_wait_hello(env->agent, back);
}

static int
s_setup(void **state)
{
    env_t *env = calloc(1, sizeof *env);
    env->dir = test_proc_tmpdir();
    env->broker = test_proc_broker(env->front, sizeof env->front);
    assert_non_null(env->broker);
    *state = env;
    return 0;
}

static int
s_teardown(void **state)
{
    env_t *env = *state;
    hb_agent_destroy(&env->agent);
    if (env->healer)
        test_proc_stop(env->healer, SIGTERM, T_WAIT_MS);
    test_proc_destroy(&env->healer);
    test_proc_stop(env->broker, SIGTERM, T_WAIT_MS);
    test_proc_destroy(&env->broker);
    test_proc_rmtree(env->dir);
    free(env->dir);
    free(env);
    return 0;
}

/* ------------------------------------------------ the agent's failures -- */

typedef struct {
    env_t *env;
    int kind; // 0 dates, 1 size, 2 deadline, 3 memory, 4 slow, 5 never
} op_t;

static bool
s_op(void *arg, hb_fail_t *fail)
{
    op_t *o = arg;
    env_t *env = o->env;
    switch (o->kind) {
    case 0:
        if (hb_knob_get_enum(env->date_parser) == 0) {
            hb_fail_set(fail, "DateFormatError", "cannot parse date '%s'",
                        "12/31/2024 or 2024-12-31");
            return false;
        }
        return true;
    case 1:
        if (hb_knob_get_enum(env->parser) == 0) {
            hb_fail_set(fail, "FileTooLargeError",
                        "file /data/in.csv is %d bytes, over the limit",
                        5000000);
            return false;
        }
        return true;
    case 2:
        if (hb_knob_get_int(env->timeout_ms) < 400) {
            hb_fail_set(fail, "TimeoutError", "read timed out after %lld ms",
                        (long long)hb_knob_get_int(env->timeout_ms));
            return false;
        }
        return true;
    case 3:
        if (hb_knob_get_int(env->batch_size) > 64) {
            hb_fail_set(fail, "MemoryError", "batch of %lld rows over budget",
                        (long long)hb_knob_get_int(env->batch_size));
            return false;
        }
        return true;
    case 4: // times out because of the batch size, not the timeout
        if (hb_knob_get_int(env->batch_size) > 64) {
            hb_fail_set(fail, "TimeoutError", "query deadline exceeded");
            return false;
        }
        return true;
    default:
        hb_fail_set(fail, "TimeoutError", "upstream never answers");
        return false;
    }
}

static hb_err_t
s_run(env_t *env, const char *name, int kind, uint64_t wait_us,
      hb_retry_t **retry_p)
{
    hb_retry_t *r = hb_retry_new(env->agent, name);
    hb_retry_set_attempts(r, 2);
    hb_retry_set_backoff(r, 1000, 1000);
    hb_retry_set_heal(r, HB_HEAL_WAIT, wait_us);
    op_t o = {env, kind};
    hb_err_t rc = hb_retry_run(r, s_op, &o);
    *retry_p = r;
    return rc;
}

//  Wait for `name` to appear in `dir` (created or renamed in): inotify,
//  so no polling sleep; false after the deadline.
static bool
s_wait_file(const char *dir, const char *name, int timeout_ms)
{
    int fd = inotify_init1(IN_CLOEXEC);
    assert_true(fd >= 0);
    int wd = inotify_add_watch(fd, dir, IN_MOVED_TO | IN_CLOSE_WRITE);
    assert_true(wd >= 0);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    bool found = access(path, F_OK) == 0;
    struct pollfd p = {fd, POLLIN, 0};
    while (!found && poll(&p, 1, timeout_ms) > 0) {
        char buf[4096] __attribute__((aligned(8)));
        ssize_t n = read(fd, buf, sizeof buf);
        for (ssize_t at = 0; n > 0 && at < n;) {
            struct inotify_event *ev = (struct inotify_event *)(buf + at);
            if (ev->len && strcmp(ev->name, name) == 0)
                found = true;
            at += (ssize_t)sizeof *ev + ev->len;
        }
    }
    close(fd);
    return found;
}

static json_t *s_journal(env_t *env);

//  Wait until the healing log says `want` attempts: watch for the store's
//  rename first, then read, so no write can slip between the two.
static bool
s_wait_total(env_t *env, json_int_t want, int timeout_ms)
{
    char data[1024];
    snprintf(data, sizeof data, "%s/data", env->dir);
    int fd = inotify_init1(IN_CLOEXEC);
    assert_true(inotify_add_watch(fd, data, IN_MOVED_TO) >= 0);
    bool ok = false;
    struct pollfd p = {fd, POLLIN, 0};
    for (;;) {
        json_t *root = s_journal(env);
        ok = json_integer_value(json_object_get(root, "total_attempts")) ==
             want;
        json_decref(root);
        if (ok || poll(&p, 1, timeout_ms) <= 0)
            break;
        char buf[4096] __attribute__((aligned(8)));
        if (read(fd, buf, sizeof buf) <= 0)
            break;
    }
    close(fd);
    return ok;
}

static json_t *
s_journal(env_t *env)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/data/.auto_healing_log.json", env->dir);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root)
        fail_msg("%s: line %d: %s", path, err.line, err.text);
    return root;
}

/* --------------------------------------------------------------- tests -- */

static void
test_healer_heals_the_four_seed_failures(void **state)
{
    env_t *env = *state;
    s_start_healer(env, "healer-a");
    s_start_agent(env, "loader-a");
    const char *names[] = {"parse_dates", "load_file", "fetch", "batch"};
    for (int kind = 0; kind < 4; kind++) {
        hb_retry_t *r = NULL;
        hb_err_t rc = s_run(env, names[kind], kind, 10000000, &r);
        if (rc != HB_OK)
            fail_msg("%s not healed: %s", names[kind], hb_err_str(rc));
        assert_int_equal(hb_retry_fixes_committed(r), 1);
        assert_int_equal(hb_retry_fixes_rolled_back(r), 0);
        hb_retry_destroy(&r);
    }
    assert_int_equal(hb_knob_get_enum(env->date_parser), 1);
    assert_int_equal(hb_knob_get_enum(env->parser), 1);
    assert_int_equal(hb_knob_get_int(env->timeout_ms), 500);
    assert_int_equal(hb_knob_get_int(env->batch_size), 50);
}

static void
test_healer_rolls_back_and_tries_next_candidate(void **state)
{
    env_t *env = *state;
    s_start_healer(env, "healer-b");
    s_start_agent(env, "loader-b");
    hb_retry_t *r = NULL;
    assert_int_equal(s_run(env, "query", 4, 10000000, &r), HB_OK);
    assert_int_equal(hb_retry_fixes_rolled_back(r), 1); // raise_timeout
    assert_int_equal(hb_retry_fixes_committed(r), 1);   // smaller batches
    assert_int_equal(hb_knob_get_int(env->timeout_ms), 250); // restored
    assert_int_equal(hb_knob_get_int(env->batch_size), 50);
    hb_retry_destroy(&r);
}

static void
test_healer_escalates_and_runs_command(void **state)
{
    env_t *env = *state;
    s_start_healer(env, "healer-c");
    s_start_agent(env, "loader-c");
    hb_retry_t *r = NULL;
    // An hour's wait budget: only the escalation, which tells the agent no
    // fix is coming, can end the wait in time for the test.
    assert_int_equal(s_run(env, "upstream", 5, 3600ull * 1000000, &r),
                     HB_EFAILED);
    assert_int_equal(hb_retry_fixes_rolled_back(r), 2);
    hb_retry_destroy(&r);
    if (!s_wait_file(env->dir, "escalated", T_WAIT_MS))
        fail_msg("the on_escalate command never wrote its file");
    char path[1024];
    snprintf(path, sizeof path, "%s/escalated", env->dir);
    json_error_t err;
    json_t *esc = json_load_file(path, 0, &err);
    assert_non_null(esc);
    assert_string_equal(json_string_value(json_object_get(esc, "agent")),
                        "loader-c");
    assert_string_equal(json_string_value(json_object_get(esc, "reason")),
                        "2 fixes tried, none worked");
    assert_int_equal(json_array_size(json_object_get(esc, "tried")), 2);
    json_decref(esc);
}

static void
test_healer_keeps_learning_after_sigkill(void **state)
{
    env_t *env = *state;
    s_start_healer(env, "healer-d");
    s_start_agent(env, "loader-d");
    hb_retry_t *r = NULL;
    assert_int_equal(s_run(env, "fetch", 2, 10000000, &r), HB_OK);
    hb_retry_destroy(&r);
    char data[1024];
    snprintf(data, sizeof data, "%s/data", env->dir);
    if (!s_wait_file(data, ".auto_healing_log.json", T_WAIT_MS))
        fail_msg("the healing log was never written");
    assert_int_equal(test_proc_stop(env->healer, SIGKILL, T_WAIT_MS),
                     128 + SIGKILL);
    test_proc_destroy(&env->healer);
    json_t *root = s_journal(env);
    assert_int_equal(
        json_integer_value(json_object_get(root, "total_attempts")), 1);
    assert_int_equal(
        json_integer_value(json_object_get(root, "successful_heals")), 1);
    assert_true(json_array_size(json_object_get(root, "learned_fixes")) >= 2);
    json_decref(root);
    // Restarted: it resumes, and a healer that starts after the agent
    // (it never saw its hello) still heals it.
    s_start_healer(env, "healer-d");
    assert_int_equal(s_run(env, "batch", 3, 10000000, &r), HB_OK);
    hb_retry_destroy(&r);
    // The new outcome is added to the old ones, not a fresh file.
    if (!s_wait_total(env, 2, T_WAIT_MS))
        fail_msg("total_attempts never reached 2");
}

typedef struct {
    env_t *env;
    hb_retry_t *retry;
    hb_err_t rc;
} s_bg_run_t;

static void *
s_bg_run(void *arg)
{
    s_bg_run_t *b = arg;
    b->rc = s_run(b->env, "load_late", 2, 30 * 1000000ull, &b->retry);
    return NULL;
}

static void
test_healer_started_after_the_heal_request_still_heals(void **state)
{
    env_t *env = *state;
    s_start_agent(env, "loader-late"); // no healer on the bus yet
    char back[160];
    test_bus_back_of(env->front, back, sizeof back);
    void *ctx = zmq_ctx_new();
    const char *const prefixes[] = {"heal.loader-late", NULL};
    void *sub = test_bus_sub(ctx, back, prefixes);
    s_bg_run_t b = {env, NULL, HB_OK};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, s_bg_run, &b), 0);
    // The request goes out while nobody can answer it...
    proto_msg_t m;
    bool seen = test_bus_recv(sub, T_WAIT_MS, &m);
    proto_msg_clear(&m);
    if (!seen)
        fail_msg("the agent never published its heal request");
    // ...and a healer started now still heals: the waiting agent asks again.
    s_start_healer(env, "healer-late");
    pthread_join(t, NULL);
    assert_int_equal(b.rc, HB_OK);
    assert_int_equal(hb_retry_fixes_committed(b.retry), 1);
    assert_true(hb_knob_get_int(env->timeout_ms) >= 400);
    hb_retry_destroy(&b.retry);
    zmq_close(sub);
    zmq_ctx_term(ctx);
}

static void
test_healer_ignores_garbage_on_the_bus(void **state)
{
    env_t *env = *state;
    s_start_healer(env, "healer-e");
    s_start_agent(env, "loader-e");
    void *ctx = zmq_ctx_new();
    // An XPUB, not a PUB: it hears the broker pass on the healer's
    // subscriptions, so the garbage below is sent only once it can arrive.
    void *pub = zmq_socket(ctx, ZMQ_XPUB);
    assert_int_equal(zmq_connect(pub, env->front), 0);
    zmq_pollitem_t sub_item = {pub, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&sub_item, 1, T_WAIT_MS) != 1)
        fail_msg("the broker never passed a subscription to the publisher");
    static const char *const topics[] = {"heal.loader-e", "fixres.loader-e",
                                         "hello.loader-e", "err.x", "heal."};
    for (int round = 0; round < 20; round++)
        for (int i = 0; i < 5; i++) {
            zmq_send(pub, topics[i], strlen(topics[i]), ZMQ_SNDMORE);
            char junk[64];
            for (size_t k = 0; k < sizeof junk; k++)
                junk[k] = (char)(round * 31 + i * 7 + (int)k * 13);
            zmq_send(pub, junk, sizeof junk, 0);
        }
    // Valid but minimal messages: every optional field left out (an error
    // and a heal request without text once crashed the healer).
    static const proto_kind_t kinds[] = {PROTO_KIND_ERROR, PROTO_KIND_HEAL,
                                         PROTO_KIND_FIXRES, PROTO_KIND_HELLO,
                                         PROTO_KIND_SUCCESS};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        proto_msg_t m;
        proto_msg_init(&m, kinds[i]);
        m.subject = "ghost-1";
        m.sender = "ghost-1";
        m.seq = i + 1;
        switch (kinds[i]) {
        case PROTO_KIND_ERROR:
            m.u.error.op = "op";
            m.u.error.error_class = "TimeoutError";
            break;
        case PROTO_KIND_HEAL:
            m.u.heal.req_id = 1;
            m.u.heal.op = "op";
            m.u.heal.error_class = "TimeoutError";
            break;
        case PROTO_KIND_FIXRES:
            m.u.fixres.fix_id = "no-such-fix";
            m.u.fixres.op = "op";
            break;
        case PROTO_KIND_SUCCESS:
            m.u.success.op = "op";
            break;
        default: // a hello with no knobs, actions or host
            break;
        }
        char topic[PROTO_MAX_TOPIC];
        uint8_t body[1024];
        size_t len = 0, tlen = proto_codec_topic(&m, topic, sizeof topic);
        assert_true(tlen > 0);
        assert_int_equal(proto_codec_encode(&m, body, sizeof body, &len),
                         HB_OK);
        zmq_send(pub, topic, tlen, ZMQ_SNDMORE);
        zmq_send(pub, body, len, 0);
    }
    hb_retry_t *r = NULL;
    assert_int_equal(s_run(env, "load_file", 1, 10000000, &r), HB_OK);
    assert_int_equal(hb_retry_fixes_committed(r), 1);
    hb_retry_destroy(&r);
    zmq_close(pub);
    zmq_ctx_term(ctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_healer_heals_the_four_seed_failures, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_healer_rolls_back_and_tries_next_candidate, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(test_healer_escalates_and_runs_command,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_healer_keeps_learning_after_sigkill, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_healer_started_after_the_heal_request_still_heals, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(test_healer_ignores_garbage_on_the_bus,
                                        s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
