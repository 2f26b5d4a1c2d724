/*  test_hb_agent.c - the agent without a broker: publishing never blocks
    and every report is accounted for; knob declarations and bounds; fix
    validation codes; apply, commit, rollback and undo. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hb_agent_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define N_PUBLISH 100000

//  An ipc endpoint nothing listens on: the agent connects and keeps
//  retrying, as with a broker that is down.
static void
s_dead_endpoint(char *buf, size_t len)
{
    snprintf(buf, len, "ipc:///tmp/hb-test-agent-nobody-%d", (int)getpid());
}

static hb_agent_t *
s_agent(const char *name)
{
    char ep[128];
    s_dead_endpoint(ep, sizeof ep);
    hb_err_t why = HB_EINVAL;
    hb_agent_t *a = hb_agent_new(name, ep, &why);
    assert_non_null(a);
    assert_int_equal(why, HB_OK);
    return a;
}

static void
test_new_rejects_bad_names_and_endpoints(void **state)
{
    (void)state;
    hb_err_t why = HB_OK;
    assert_null(hb_agent_new("", NULL, &why));
    assert_int_equal(why, HB_EINVAL);
    why = HB_OK;
    assert_null(hb_agent_new("has space", NULL, &why));
    assert_int_equal(why, HB_EINVAL);
    char long_name[PROTO_MAX_ID + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    why = HB_OK;
    assert_null(hb_agent_new(long_name, NULL, &why));
    assert_int_equal(why, HB_EINVAL);
    why = HB_OK;
    assert_null(hb_agent_new("ok-name", "udp://127.0.0.1:5", &why));
    assert_int_equal(why, HB_EINVAL);
    hb_agent_destroy(NULL); // NULL-safe
}

static void
test_destroy_nulls_the_pointer(void **state)
{
    (void)state;
    hb_agent_t *a = s_agent("destroy-me");
    assert_string_equal(hb_agent_name(a), "destroy-me");
    hb_agent_destroy(&a);
    assert_null(a);
    hb_agent_destroy(&a);
}

static void
test_publish_without_broker_never_blocks_and_counts(void **state)
{
    (void)state;
    hb_agent_t *a = s_agent("flood");
    uint64_t refused = 0;
    for (int i = 0; i < N_PUBLISH; i++) {
        hb_err_t rc = (i % 3 == 0)   ? hb_agent_metric(a, "depth", i)
                      : (i % 3 == 1) ? hb_agent_error(a, "load", "IOError", 1,
                                                      "read %d failed", i)
                                     : hb_agent_success(a, "load", 10);
        assert_true(rc == HB_OK || rc == HB_EFULL);
        refused += rc == HB_EFULL;
    }
    assert_int_equal(hb_agent_flush(a, 60000), HB_OK);
    // Every report the queue accepted (numbered 1..last) was either sent
    // or dropped at a socket; every refused one is counted as a drop.
    uint64_t last = hb_agent_last_seq(a);
    assert_true(last >= N_PUBLISH - refused);
    assert_int_equal(hb_agent_sent(a) + hb_agent_drops(a), last + refused);
    assert_true(hb_agent_drops(a) >= refused);
    hb_agent_destroy(&a);
    assert_null(a);
}

static void *
s_publisher(void *arg)
{
    hb_agent_t *a = arg;
    uintptr_t refused = 0;
    for (int i = 0; i < N_PUBLISH / 4; i++)
        refused += hb_agent_metric(a, "m", i) == HB_EFULL;
    return (void *)refused;
}

static void
test_publish_from_four_threads_accounts_for_all(void **state)
{
    (void)state;
    hb_agent_t *a = s_agent("threads");
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, s_publisher, a), 0);
    uint64_t refused = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        refused += (uintptr_t)r;
    }
    assert_int_equal(hb_agent_flush(a, 60000), HB_OK);
    uint64_t last = hb_agent_last_seq(a);
    assert_true(last >= N_PUBLISH - refused);
    assert_int_equal(hb_agent_sent(a) + hb_agent_drops(a), last + refused);
    hb_agent_destroy(&a);
}

static void
test_publish_rejects_missing_fields(void **state)
{
    (void)state;
    hb_agent_t *a = s_agent("nulls");
    assert_int_equal(hb_agent_metric(a, NULL, 1.0), HB_EINVAL);
    assert_int_equal(hb_agent_success(a, NULL, 1), HB_EINVAL);
    assert_int_equal(hb_agent_error(a, NULL, "E", 1, "x"), HB_EINVAL);
    hb_agent_destroy(&a);
}

/* --------------------------------------------------------------- knobs -- */

static void
test_knob_int_bounds(void **state)
{
    (void)state;
    hb_agent_t *a = s_agent("knobs");
    hb_err_t why = HB_OK;
    assert_null(hb_knob_int(a, "bad", 5, 10, 1, &why));
    assert_int_equal(why, HB_EINVAL);
    assert_null(hb_knob_int(a, "outside", 50, 1, 10, &why));
    assert_int_equal(why, HB_EINVAL);
    assert_null(hb_knob_int(a, "bad name", 5, 1, 10, &why));
    assert_int_equal(why, HB_EINVAL);
    hb_knob_t *k = hb_knob_int(a, "batch_size", 100, 1, 1000, &why);
    assert_non_null(k);
    assert_int_equal(why, HB_OK);
    assert_int_equal(hb_knob_get_int(k), 100);
    assert_null(hb_knob_int(a, "batch_size", 5, 1, 10, &why));
    assert_int_equal(why, HB_EEXISTS);
    assert_int_equal(hb_knob_set_int(k, 1001), HB_ERANGE);
    assert_int_equal(hb_knob_set_int(k, 0), HB_ERANGE);
    assert_int_equal(hb_knob_set_int(k, 1000), HB_OK);
    assert_int_equal(hb_knob_get_int(k), 1000);
    assert_int_equal(hb_knob_set_double(k, 3.0), HB_EINVAL);
    hb_agent_destroy(&a);
}

static void
test_knob_double_bool_enum(void **state)
{
    (void)state;
    hb_agent_t *a = s_agent("knobs2");
    hb_err_t why;
    hb_knob_t *d = hb_knob_double(a, "ratio", 0.5, 0.0, 1.0, &why);
    assert_non_null(d);
    assert_true(hb_knob_get_double(d) == 0.5);
    assert_int_equal(hb_knob_set_double(d, 1.5), HB_ERANGE);
    assert_int_equal(hb_knob_set_double(d, 0.25), HB_OK);
    assert_true(hb_knob_get_double(d) == 0.25);
    hb_knob_t *b = hb_knob_bool(a, "fuzzy", false, &why);
    assert_non_null(b);
    assert_false(hb_knob_get_bool(b));
    assert_int_equal(hb_knob_set_int(b, 2), HB_ERANGE);
    assert_int_equal(hb_knob_set_int(b, 1), HB_OK);
    assert_true(hb_knob_get_bool(b));
    const char *const choices[] = {"strict", "fuzzy", NULL};
    assert_null(hb_knob_enum(a, "parser", "lenient", choices, &why));
    assert_int_equal(why, HB_EINVAL);
    hb_knob_t *e = hb_knob_enum(a, "parser", "strict", choices, &why);
    assert_non_null(e);
    assert_int_equal(hb_knob_get_enum(e), 0);
    assert_string_equal(hb_knob_get_enum_name(e), "strict");
    assert_int_equal(hb_knob_set_int(e, 1), HB_OK);
    assert_string_equal(hb_knob_get_enum_name(e), "fuzzy");
    assert_int_equal(hb_knob_set_int(e, 2), HB_ERANGE);
    assert_int_equal(hb_knob_get_enum(d), -1);
    assert_null(hb_knob_get_enum_name(d));
    hb_agent_destroy(&a);
}

static void
test_knob_table_is_bounded(void **state)
{
    (void)state;
    hb_agent_t *a = s_agent("many");
    hb_err_t why;
    char name[32];
    for (int i = 0; i < PROTO_MAX_KNOBS; i++) {
        snprintf(name, sizeof name, "k%d", i);
        assert_non_null(hb_knob_int(a, name, 0, 0, 1, &why));
    }
    assert_null(hb_knob_int(a, "one_more", 0, 0, 1, &why));
    assert_int_equal(why, HB_EFULL);
    hb_agent_destroy(&a);
}

/* --------------------------------------------------------------- fixes -- */

typedef struct {
    int applied, undone;
    char last_arg[64];
    hb_err_t answer;
} s_calls_t;

static hb_err_t
s_apply(void *user, const char *arg)
{
    s_calls_t *c = user;
    c->applied++;
    snprintf(c->last_arg, sizeof c->last_arg, "%s", arg ? arg : "(null)");
    return c->answer;
}

static hb_err_t
s_undo(void *user, const char *arg)
{
    s_calls_t *c = user;
    (void)arg;
    c->undone++;
    return HB_OK;
}

typedef struct {
    hb_agent_t *agent;
    hb_knob_t *batch;   // int 1..1000, starts at 100
    hb_knob_t *timeout; // double 1..60, starts at 10
    hb_knob_t *parser;  // enum strict/fuzzy
    s_calls_t calls;
} s_fixture_t;

static int
s_setup(void **state)
{
    s_fixture_t *f = calloc(1, sizeof *f);
    f->agent = s_agent("loader-7");
    hb_err_t why;
    f->batch = hb_knob_int(f->agent, "batch_size", 100, 1, 1000, &why);
    f->timeout = hb_knob_double(f->agent, "timeout_s", 10, 1, 60, &why);
    const char *const choices[] = {"strict", "fuzzy", NULL};
    f->parser = hb_knob_enum(f->agent, "parser", "strict", choices, &why);
    f->calls.answer = HB_OK;
    assert_int_equal(hb_agent_action(f->agent, "use_streaming", HB_ARG_INT,
                                     s_apply, s_undo, &f->calls),
                     HB_OK);
    assert_int_equal(hb_agent_action(f->agent, "use_streaming", HB_ARG_NONE,
                                     s_apply, NULL, NULL),
                     HB_EEXISTS);
    assert_int_equal(hb_agent_action(f->agent, "batch_size", HB_ARG_NONE,
                                     s_apply, NULL, NULL),
                     HB_EEXISTS);
    assert_int_equal(hb_agent_action(f->agent, "no_fn", HB_ARG_NONE, NULL,
                                     NULL, NULL),
                     HB_EINVAL);
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    s_fixture_t *f = *state;
    hb_agent_destroy(&f->agent);
    free(f);
    return 0;
}

//  A fix message addressed to `to` with one step.
static proto_msg_t
s_fix(const char *to, const char *id, proto_step_op_t op, const char *target,
      proto_value_t value)
{
    proto_msg_t m;
    proto_msg_init(&m, PROTO_KIND_FIX);
    m.subject = to;
    m.sender = "healer-1";
    m.seq = 1;
    m.u.fix.fix_id = id;
    m.u.fix.op = "load";
    m.u.fix.name = "test";
    m.u.fix.test = true;
    m.u.fix.steps[0] = (proto_step_t){.op = op, .target = target,
                                      .value = value};
    m.u.fix.n_steps = 1;
    return m;
}

#define INT(v) ((proto_value_t){.type = PROTO_VAL_INT, .u.i = (v)})
#define DBL(v) ((proto_value_t){.type = PROTO_VAL_DOUBLE, .u.d = (v)})
#define STR(v) ((proto_value_t){.type = PROTO_VAL_STR, .u.s = (v)})
#define NIL ((proto_value_t){.type = PROTO_VAL_NIL})

static hb_err_t
s_validate(s_fixture_t *f, proto_msg_t m)
{
    return agent_fix_validate(hb_agent_fixes(f->agent), &m, 1000);
}

static void
test_fix_validation_codes(void **state)
{
    s_fixture_t *f = *state;
    assert_int_equal(
        s_validate(f, s_fix("loader-8", "a", PROTO_STEP_SET, "batch_size",
                            INT(5))),
        HB_ENOTMINE);
    assert_int_equal(s_validate(f, s_fix("loader-7", "b", PROTO_STEP_SET,
                                         "nope", INT(5))),
                     HB_ENOTFOUND);
    assert_int_equal(s_validate(f, s_fix("loader-7", "c", PROTO_STEP_ACTION,
                                         "nope", NIL)),
                     HB_ENOTFOUND);
    assert_int_equal(s_validate(f, s_fix("loader-7", "d", PROTO_STEP_SET,
                                         "batch_size", INT(1001))),
                     HB_ERANGE);
    assert_int_equal(s_validate(f, s_fix("loader-7", "e", PROTO_STEP_SET,
                                         "batch_size", STR("x"))),
                     HB_ETYPE);
    assert_int_equal(s_validate(f, s_fix("loader-7", "f", PROTO_STEP_SET,
                                         "parser", STR("lenient"))),
                     HB_ERANGE);
    assert_int_equal(s_validate(f, s_fix("loader-7", "g", PROTO_STEP_ACTION,
                                         "use_streaming", STR("x"))),
                     HB_ETYPE);
    assert_int_equal(s_validate(f, s_fix("loader-7", "h", PROTO_STEP_DIV,
                                         "batch_size", INT(0))),
                     HB_ERANGE);
    proto_msg_t expired = s_fix("loader-7", "i", PROTO_STEP_SET,
                                "batch_size", INT(5));
    expired.u.fix.expires_us = 999; // the validation clock says 1000
    assert_int_equal(s_validate(f, expired), HB_EEXPIRED);
    proto_msg_t no_steps = s_fix("loader-7", "j", PROTO_STEP_SET,
                                 "batch_size", INT(5));
    no_steps.u.fix.n_steps = 0;
    assert_int_equal(s_validate(f, no_steps), HB_EINVAL);
    // Rejections do not consume ids: a corrected fix may reuse one.
    assert_int_equal(s_validate(f, s_fix("loader-7", "d", PROTO_STEP_SET,
                                         "batch_size", INT(1000))),
                     HB_OK);
    assert_int_equal(s_validate(f, s_fix("loader-7", "d", PROTO_STEP_SET,
                                         "batch_size", INT(1000))),
                     HB_EALREADY);
}

static void
test_fix_at_bound_has_no_effect(void **state)
{
    s_fixture_t *f = *state;
    assert_int_equal(hb_knob_set_int(f->batch, 1), HB_OK);
    assert_int_equal(s_validate(f, s_fix("loader-7", "a", PROTO_STEP_DIV,
                                         "batch_size", INT(2))),
                     HB_ENOEFFECT);
    assert_int_equal(hb_knob_set_double(f->timeout, 60), HB_OK);
    assert_int_equal(s_validate(f, s_fix("loader-7", "b", PROTO_STEP_MUL,
                                         "timeout_s", DBL(2))),
                     HB_ENOEFFECT);
    // Clamping is fine when it still changes the value.
    assert_int_equal(hb_knob_set_double(f->timeout, 40), HB_OK);
    assert_int_equal(s_validate(f, s_fix("loader-7", "c", PROTO_STEP_MUL,
                                         "timeout_s", DBL(2))),
                     HB_OK);
}

//  Validate and queue a fix as the agent's thread would on arrival.
static void
s_deliver(s_fixture_t *f, proto_msg_t m)
{
    assert_int_equal(s_validate(f, m), HB_OK);
    proto_msg_t *copy = malloc(sizeof *copy);
    *copy = m; // strings are literals: nothing for clear to free
    char replaced[PROTO_MAX_ID + 1];
    assert_int_equal(agent_fix_offer(hb_agent_fixes(f->agent), &copy,
                                     replaced, sizeof replaced),
                     HB_OK);
    assert_null(copy);
}

typedef struct {
    s_fixture_t *f;
    int runs;
    bool pass;
    int64_t seen_batch; // knob value during the run
} s_op_t;

static bool
s_op(void *arg, hb_fail_t *fail)
{
    s_op_t *o = arg;
    o->runs++;
    o->seen_batch = hb_knob_get_int(o->f->batch);
    if (!o->pass)
        hb_fail_set(fail, "MemoryError", "batch of %lld rows too large",
                    (long long)o->seen_batch);
    return o->pass;
}

static void
test_fix_commits_when_the_test_passes(void **state)
{
    s_fixture_t *f = *state;
    proto_msg_t m = s_fix("loader-7", "fix-1", PROTO_STEP_DIV, "batch_size",
                          INT(4));
    m.u.fix.steps[1] = (proto_step_t){.op = PROTO_STEP_ACTION,
                                      .target = "use_streaming",
                                      .value = INT(7)};
    m.u.fix.n_steps = 2;
    s_deliver(f, m);
    hb_retry_t *r = hb_retry_new(f->agent, "load");
    s_op_t o = {.f = f, .pass = true};
    assert_int_equal(hb_retry_run(r, s_op, &o), HB_OK);
    assert_int_equal(o.runs, 1);
    assert_int_equal(o.seen_batch, 25);
    assert_int_equal(hb_knob_get_int(f->batch), 25);
    assert_int_equal(f->calls.applied, 1);
    assert_string_equal(f->calls.last_arg, "7");
    assert_int_equal(f->calls.undone, 0);
    assert_int_equal(hb_retry_fixes_committed(r), 1);
    assert_int_equal(hb_retry_fixes_rolled_back(r), 0);
    hb_retry_destroy(&r);
}

static void
test_fix_rolls_back_and_undoes_when_the_test_fails(void **state)
{
    s_fixture_t *f = *state;
    proto_msg_t m = s_fix("loader-7", "fix-2", PROTO_STEP_SET, "parser",
                          STR("fuzzy"));
    m.u.fix.steps[1] = (proto_step_t){.op = PROTO_STEP_ACTION,
                                      .target = "use_streaming",
                                      .value = INT(3)};
    m.u.fix.steps[2] = (proto_step_t){
        .op = PROTO_STEP_MUL, .target = "batch_size", .value = DBL(2.5)};
    m.u.fix.n_steps = 3;
    s_deliver(f, m);
    hb_retry_t *r = hb_retry_new(f->agent, "load");
    hb_retry_set_attempts(r, 1);
    s_op_t o = {.f = f, .pass = false};
    assert_int_equal(hb_retry_run(r, s_op, &o), HB_EFAILED);
    assert_int_equal(o.runs, 1);     // the test run was the only attempt
    assert_int_equal(o.seen_batch, 250);
    assert_int_equal(hb_knob_get_int(f->batch), 100);
    assert_string_equal(hb_knob_get_enum_name(f->parser), "strict");
    assert_int_equal(f->calls.applied, 1);
    assert_int_equal(f->calls.undone, 1);
    assert_int_equal(hb_retry_fixes_rolled_back(r), 1);
    assert_int_equal(hb_retry_fixes_committed(r), 0);
    // The same id again is a duplicate and is never applied twice.
    assert_int_equal(s_validate(f, m), HB_EALREADY);
    hb_retry_destroy(&r);
}

static void
test_fix_whose_action_refuses_is_undone(void **state)
{
    s_fixture_t *f = *state;
    proto_msg_t m = s_fix("loader-7", "fix-3", PROTO_STEP_ADD, "batch_size",
                          INT(5));
    m.u.fix.steps[1] = (proto_step_t){.op = PROTO_STEP_ACTION,
                                      .target = "use_streaming",
                                      .value = INT(1)};
    m.u.fix.n_steps = 2;
    s_deliver(f, m);
    f->calls.answer = HB_EFAILED;
    agent_fix_undo_t *undo = malloc(sizeof *undo);
    proto_msg_t *taken = agent_fix_take(hb_agent_fixes(f->agent), "load", 0);
    assert_non_null(taken);
    assert_int_equal(agent_fix_apply(hb_agent_fixes(f->agent), &taken->u.fix,
                                     undo),
                     HB_EFAILED);
    assert_int_equal(hb_knob_get_int(f->batch), 100);
    assert_int_equal(f->calls.undone, 0); // it never took effect
    assert_null(agent_fix_take(hb_agent_fixes(f->agent), "load", 0));
    agent_fix_free(&taken);
    free(undo);
}

static void
test_escalation_ends_only_its_operations_wait(void **state)
{
    s_fixture_t *f = *state;
    agent_fix_t *fixes = hb_agent_fixes(f->agent);
    uint64_t seen = agent_fix_escalations(fixes, "load");
    assert_int_equal(seen, 0);
    agent_fix_escalated(fixes, "other_op");
    bool gave_up = true;
    // Another operation's escalation: the wait runs out (1 ms), not given up.
    assert_null(agent_fix_wait(fixes, "load", 1000, seen, &gave_up));
    assert_false(gave_up);
    agent_fix_escalated(fixes, "load");
    assert_int_equal(agent_fix_escalations(fixes, "load"), 1);
    // An hour's wait ends at once: the test's timeout would catch a hang.
    assert_null(agent_fix_wait(fixes, "load", 3600ull * 1000000, seen,
                               &gave_up));
    assert_true(gave_up);
    // A pending fix still wins over an escalation counted earlier.
    s_deliver(f, s_fix("loader-7", "late", PROTO_STEP_SET, "batch_size",
                       INT(10)));
    proto_msg_t *taken = agent_fix_wait(fixes, "load", 0, seen, &gave_up);
    assert_non_null(taken);
    assert_false(gave_up);
    agent_fix_free(&taken);
    // Many operations escalating: the table keeps the newest, never grows.
    char op[32];
    for (int i = 0; i < 100; i++) {
        snprintf(op, sizeof op, "op-%d", i);
        agent_fix_escalated(fixes, op);
    }
    assert_int_equal(agent_fix_escalations(fixes, "op-99"), 1);
    assert_int_equal(agent_fix_escalations(fixes, "op-0"), 0);
}

static void
test_newest_pending_fix_wins(void **state)
{
    s_fixture_t *f = *state;
    s_deliver(f, s_fix("loader-7", "old", PROTO_STEP_SET, "batch_size",
                       INT(10)));
    proto_msg_t m = s_fix("loader-7", "new", PROTO_STEP_SET, "batch_size",
                          INT(20));
    assert_int_equal(s_validate(f, m), HB_OK);
    proto_msg_t *copy = malloc(sizeof *copy);
    *copy = m;
    char replaced[PROTO_MAX_ID + 1];
    assert_int_equal(agent_fix_offer(hb_agent_fixes(f->agent), &copy,
                                     replaced, sizeof replaced),
                     HB_OK);
    assert_string_equal(replaced, "old");
    proto_msg_t *taken = agent_fix_take(hb_agent_fixes(f->agent), "load", 0);
    assert_non_null(taken);
    assert_string_equal(taken->u.fix.fix_id, "new");
    agent_fix_free(&taken);
}

//  The queue on its own: records of many sizes wrap around the ring many
//  times; every one comes out once, in order, numbered without a gap, as
//  a body that decodes to what went in.
static void
test_queue_wraps_and_keeps_order_and_numbers(void **state)
{
    (void)state;
    agent_queue_t *q = agent_queue_new(16384, 4096, "q-agent");
    assert_non_null(q);
    static char text[PROTO_MAX_TEXT + 100];
    uint64_t pushed = 0, popped = 0, refused = 0;
    uint64_t seed = 42;
    for (int round = 0; round < 3000; round++) {
        // A few pushes of random length (some over the text cap) ...
        for (int k = 0; k < 1 + round % 7; k++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            size_t len = (seed >> 33) % (sizeof text - 1);
            memset(text, 'a' + (int)(pushed % 26), len);
            text[len] = '\0';
            agent_queue_msg_t m = {.kind = PROTO_KIND_ERROR,
                                   .op = "load",
                                   .error_class = "E",
                                   .text = text,
                                   .attempt = (uint32_t)len};
            uint64_t seq = 0;
            hb_err_t rc = agent_queue_push(q, &m, false, &seq);
            if (rc == HB_EFULL) {
                refused++;
                continue;
            }
            assert_int_equal(rc, HB_OK);
            assert_int_equal(seq, ++pushed);
        }
        // ... then the consumer takes a batch (now and then nothing).
        if (round % 3 == 2)
            continue;
        agent_queue_batch_t b;
        agent_queue_begin(q, &b, SIZE_MAX);
        const agent_queue_entry_t *e;
        while ((e = agent_queue_next(q, &b))) {
            assert_int_equal(e->seq, ++popped);
            proto_msg_t msg;
            char topic[] = "err.q-agent";
            assert_int_equal(proto_codec_decode(topic, strlen(topic), e->body,
                                                e->len, &msg),
                             HB_OK);
            assert_int_equal(msg.seq, e->seq);
            assert_string_equal(msg.sender, "q-agent");
            size_t want = msg.u.error.attempt < PROTO_MAX_TEXT
                              ? msg.u.error.attempt
                              : PROTO_MAX_TEXT; // cut at the cap
            assert_int_equal(strlen(msg.u.error.text), want);
            proto_msg_clear(&msg);
        }
        agent_queue_end(q, &b);
    }
    assert_true(refused > 0 && pushed > 3000);
    assert_int_equal(agent_queue_drops(q), refused);
    assert_int_equal(agent_queue_last_seq(q), pushed);
    agent_queue_destroy(&q);
    assert_null(q);
}

//  The reserve: callers fill the queue to its limit, the agent's own
//  messages still fit; a report that cannot be encoded takes no number.
static void
test_queue_reserve_and_invalid_reports(void **state)
{
    (void)state;
    agent_queue_t *q = agent_queue_new(8192, 2048, "q-agent");
    assert_non_null(q);
    agent_queue_msg_t bad = {.kind = PROTO_KIND_ERROR, .op = "",
                             .error_class = "E"};
    assert_int_equal(agent_queue_push(q, &bad, false, NULL), HB_EINVAL);
    agent_queue_msg_t m = {.kind = PROTO_KIND_METRIC, .op = "depth",
                           .value = 1.5};
    uint64_t n = 0;
    while (agent_queue_push(q, &m, false, NULL) == HB_OK)
        n++;
    assert_true(n > 5);
    assert_true(agent_queue_full(q));
    agent_queue_msg_t own = {.kind = PROTO_KIND_HEARTBEAT};
    uint64_t seq = 0;
    assert_int_equal(agent_queue_push(q, &own, true, &seq), HB_OK);
    assert_int_equal(seq, n + 1); // the invalid one used no number
    assert_int_equal(agent_queue_depth(q), n + 1);
    agent_queue_destroy(&q);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects_bad_names_and_endpoints),
        cmocka_unit_test(test_destroy_nulls_the_pointer),
        cmocka_unit_test(test_publish_without_broker_never_blocks_and_counts),
        cmocka_unit_test(test_publish_from_four_threads_accounts_for_all),
        cmocka_unit_test(test_publish_rejects_missing_fields),
        cmocka_unit_test(test_queue_wraps_and_keeps_order_and_numbers),
        cmocka_unit_test(test_queue_reserve_and_invalid_reports),
        cmocka_unit_test(test_knob_int_bounds),
        cmocka_unit_test(test_knob_double_bool_enum),
        cmocka_unit_test(test_knob_table_is_bounded),
        cmocka_unit_test_setup_teardown(test_fix_validation_codes, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_fix_at_bound_has_no_effect,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_fix_commits_when_the_test_passes,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_fix_rolls_back_and_undoes_when_the_test_fails, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_fix_whose_action_refuses_is_undone, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_escalation_ends_only_its_operations_wait, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_newest_pending_fix_wins, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
