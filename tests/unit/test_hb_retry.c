/*  test_hb_retry.c - the retry policy with an injected clock, sleep and
    random source: backoff sequence, cap, jitter bounds, deadline, success
    after k failures, attempt counting, and the heal modes. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hb_agent_int.h"

#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SLEEPS 16

typedef struct {
    uint64_t now_us;            // the fake clock
    uint64_t sleeps[MAX_SLEEPS];
    int n_sleeps;
    uint64_t draw;              // what the fake random source returns
    int fail_first;             // the operation fails this many times
    int runs;
    uint64_t run_cost_us;       // each run advances the clock this much
} s_world_t;

static uint64_t
s_now(void *arg)
{
    return ((s_world_t *)arg)->now_us;
}

static void
s_sleep(void *arg, uint64_t us)
{
    s_world_t *w = arg;
    if (w->n_sleeps < MAX_SLEEPS)
        w->sleeps[w->n_sleeps++] = us;
    w->now_us += us;
}

static uint64_t
s_rand(void *arg)
{
    return ((s_world_t *)arg)->draw;
}

static bool
s_op(void *arg, hb_fail_t *fail)
{
    s_world_t *w = arg;
    w->runs++;
    w->now_us += w->run_cost_us;
    if (w->runs <= w->fail_first) {
        hb_fail_set(fail, "TimeoutError", "run %d timed out", w->runs);
        return false;
    }
    return true;
}

static hb_retry_t *
s_policy(s_world_t *w, int attempts, uint64_t base, uint64_t cap)
{
    hb_retry_t *r = hb_retry_new(NULL, "load");
    assert_non_null(r);
    hb_retry_set_attempts(r, attempts);
    hb_retry_set_backoff(r, base, cap);
    hb_retry_set_clock(r, s_now, s_sleep, w);
    hb_retry_set_rand(r, s_rand, w);
    return r;
}

static void
test_new_rejects_bad_operation_names(void **state)
{
    (void)state;
    assert_null(hb_retry_new(NULL, ""));
    assert_null(hb_retry_new(NULL, "two words"));
    assert_null(hb_retry_new(NULL, NULL));
    hb_retry_destroy(NULL);
}

static void
test_backoff_doubles_at_the_top_of_the_jitter(void **state)
{
    (void)state;
    s_world_t w = {.draw = UINT64_MAX, .fail_first = 100};
    hb_retry_t *r = s_policy(&w, 5, 100, 1000000);
    assert_int_equal(hb_retry_run(r, s_op, &w), HB_EFAILED);
    assert_int_equal(w.runs, 5);
    assert_int_equal(w.n_sleeps, 4); // between attempts only
    assert_int_equal(w.sleeps[0], 100);
    assert_int_equal(w.sleeps[1], 200);
    assert_int_equal(w.sleeps[2], 400);
    assert_int_equal(w.sleeps[3], 800);
    hb_retry_destroy(&r);
    assert_null(r);
}

static void
test_backoff_is_capped(void **state)
{
    (void)state;
    s_world_t w = {.draw = UINT64_MAX, .fail_first = 100};
    hb_retry_t *r = s_policy(&w, 6, 100, 300);
    assert_int_equal(hb_retry_run(r, s_op, &w), HB_EFAILED);
    assert_int_equal(w.n_sleeps, 5);
    uint64_t want[] = {100, 200, 300, 300, 300};
    for (int i = 0; i < 5; i++)
        assert_int_equal(w.sleeps[i], want[i]);
    hb_retry_destroy(&r);
}

static void
test_jitter_spans_zero_to_the_bound(void **state)
{
    (void)state;
    s_world_t w = {.draw = 0, .fail_first = 100};
    hb_retry_t *r = s_policy(&w, 4, 100, 1000);
    assert_int_equal(hb_retry_run(r, s_op, &w), HB_EFAILED);
    for (int i = 0; i < w.n_sleeps; i++)
        assert_int_equal(w.sleeps[i], 0);
    // The middle of the draw lands in the middle of [0, bound].
    assert_int_equal(hb_retry_backoff(r, 3, UINT64_MAX / 2), 200);
    assert_int_equal(hb_retry_backoff(r, 3, UINT64_MAX), 400);
    assert_int_equal(hb_retry_backoff(r, 3, 0), 0);
    // Huge attempt numbers neither overflow nor pass the cap.
    assert_int_equal(hb_retry_backoff(r, 200, UINT64_MAX), 1000);
    hb_retry_destroy(&r);
}

static void
test_success_after_k_failures(void **state)
{
    (void)state;
    s_world_t w = {.draw = UINT64_MAX, .fail_first = 2};
    hb_retry_t *r = s_policy(&w, 5, 10, 1000);
    assert_int_equal(hb_retry_run(r, s_op, &w), HB_OK);
    assert_int_equal(w.runs, 3);
    assert_int_equal(w.n_sleeps, 2);
    assert_int_equal(w.sleeps[1], 20);
    hb_retry_destroy(&r);
}

static void
test_single_attempt_never_sleeps(void **state)
{
    (void)state;
    s_world_t w = {.draw = UINT64_MAX, .fail_first = 1};
    hb_retry_t *r = s_policy(&w, 1, 10, 1000);
    assert_int_equal(hb_retry_run(r, s_op, &w), HB_EFAILED);
    assert_int_equal(w.runs, 1);
    assert_int_equal(w.n_sleeps, 0);
    hb_retry_set_attempts(r, 0); // clamps to one attempt
    w.runs = 0;
    w.fail_first = 0;
    assert_int_equal(hb_retry_run(r, s_op, &w), HB_OK);
    assert_int_equal(w.runs, 1);
    hb_retry_destroy(&r);
}

static void
test_deadline_stops_retrying(void **state)
{
    (void)state;
    // Runs cost 100 us, pauses 100, 200, 400...: attempt 1 ends at 100,
    // pause to 200, attempt 2 ends at 300; the next pause (200) would end
    // at 500, past the 450 us deadline, so no third attempt.
    s_world_t w = {.draw = UINT64_MAX, .fail_first = 100, .run_cost_us = 100};
    hb_retry_t *r = s_policy(&w, 10, 100, 100000);
    hb_retry_set_deadline(r, 450);
    assert_int_equal(hb_retry_run(r, s_op, &w), HB_ETIMEOUT);
    assert_int_equal(w.runs, 2);
    assert_int_equal(w.n_sleeps, 1);
    hb_retry_destroy(&r);
}

static void
test_deadline_already_spent_runs_nothing_more(void **state)
{
    (void)state;
    s_world_t w = {.draw = 0, .fail_first = 100, .run_cost_us = 1000};
    hb_retry_t *r = s_policy(&w, 10, 100, 100000);
    hb_retry_set_deadline(r, 500);
    assert_int_equal(hb_retry_run(r, s_op, &w), HB_ETIMEOUT);
    assert_int_equal(w.runs, 1);
    hb_retry_destroy(&r);
}

/* ---------------------------------------------------------- heal modes -- */

static hb_agent_t *
s_agent(void)
{
    char ep[128];
    snprintf(ep, sizeof ep, "ipc:///tmp/hb-test-retry-nobody-%d",
             (int)getpid());
    hb_agent_t *a = hb_agent_new("retry-agent", ep, NULL);
    assert_non_null(a);
    return a;
}

static void
s_offer(hb_agent_t *a, const char *id, int64_t value)
{
    proto_msg_t m;
    proto_msg_init(&m, PROTO_KIND_FIX);
    m.subject = "retry-agent";
    m.u.fix.fix_id = id;
    m.u.fix.op = "load";
    m.u.fix.test = true;
    m.u.fix.steps[0] = (proto_step_t){
        .op = PROTO_STEP_SET,
        .target = "level",
        .value = {.type = PROTO_VAL_INT, .u.i = value}};
    m.u.fix.n_steps = 1;
    assert_int_equal(agent_fix_validate(hb_agent_fixes(a), &m, 0), HB_OK);
    proto_msg_t *copy = malloc(sizeof *copy);
    *copy = m;
    char replaced[PROTO_MAX_ID + 1];
    assert_int_equal(
        agent_fix_offer(hb_agent_fixes(a), &copy, replaced, sizeof replaced),
        HB_OK);
}

typedef struct {
    hb_knob_t *level;
    atomic_int runs; // read by a second thread in the interrupt test
} s_levelled_t;

//  Succeeds only when the knob `level` is at least 3.
static bool
s_needs_level(void *arg, hb_fail_t *fail)
{
    s_levelled_t *l = arg;
    l->runs++;
    if (hb_knob_get_int(l->level) >= 3)
        return true;
    hb_fail_set(fail, "LevelError", "level %lld too low",
                (long long)hb_knob_get_int(l->level));
    return false;
}

static void
test_async_heal_fails_now_and_applies_the_fix_next_call(void **state)
{
    (void)state;
    hb_agent_t *a = s_agent();
    s_levelled_t l = {.level = hb_knob_int(a, "level", 1, 0, 5, NULL)};
    s_world_t w = {0};
    hb_retry_t *r = hb_retry_new(a, "load");
    hb_retry_set_attempts(r, 2);
    hb_retry_set_clock(r, s_now, s_sleep, &w);
    hb_retry_set_heal(r, HB_HEAL_ASYNC, 0);
    assert_int_equal(hb_retry_run(r, s_needs_level, &l), HB_EFAILED);
    assert_int_equal(l.runs, 2);
    s_offer(a, "async-1", 4);
    assert_int_equal(hb_retry_run(r, s_needs_level, &l), HB_OK);
    assert_int_equal(l.runs, 3); // the fix's test run was the first attempt
    assert_int_equal(hb_knob_get_int(l.level), 4);
    assert_int_equal(hb_retry_fixes_committed(r), 1);
    hb_retry_destroy(&r);
    hb_agent_destroy(&a);
}

static void
test_wait_heal_tries_candidates_until_one_works(void **state)
{
    (void)state;
    hb_agent_t *a = s_agent();
    s_levelled_t l = {.level = hb_knob_int(a, "level", 1, 0, 5, NULL)};
    s_world_t w = {0};
    hb_retry_t *r = hb_retry_new(a, "load");
    hb_retry_set_attempts(r, 1);
    hb_retry_set_clock(r, s_now, s_sleep, &w);
    hb_retry_set_heal(r, HB_HEAL_WAIT, 5000);
    // No fix arrives: the wait budget (real time, 5 ms) runs out.
    assert_int_equal(hb_retry_run(r, s_needs_level, &l), HB_EFAILED);
    assert_int_equal(l.runs, 1);
    // A useless candidate is rolled back; nothing else comes.
    s_offer(a, "cand-1", 2);
    assert_int_equal(hb_retry_run(r, s_needs_level, &l), HB_EFAILED);
    assert_int_equal(hb_retry_fixes_rolled_back(r), 1);
    assert_int_equal(hb_knob_get_int(l.level), 1);
    hb_retry_destroy(&r);
    hb_agent_destroy(&a);
}

typedef struct {
    hb_agent_t *agent;
    hb_retry_t *retry;
    s_levelled_t *levelled;
    hb_err_t rc;
} s_waiter_t;

static void *
s_wait_run(void *arg)
{
    s_waiter_t *w = arg;
    w->rc = hb_retry_run(w->retry, s_needs_level, w->levelled);
    return NULL;
}

static void
test_interrupt_ends_a_heal_wait(void **state)
{
    (void)state;
    hb_agent_t *a = s_agent();
    s_levelled_t l = {.level = hb_knob_int(a, "level", 1, 0, 5, NULL)};
    hb_retry_t *r = hb_retry_new(a, "load");
    hb_retry_set_attempts(r, 1);
    // An hour's wait for a fix that never comes: only the interrupt can
    // end it (the test's own timeout would catch a hang).
    hb_retry_set_heal(r, HB_HEAL_WAIT, 3600ull * 1000000);
    s_waiter_t w = {a, r, &l, HB_OK};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, s_wait_run, &w), 0);
    // The heal request is published only after the single attempt failed.
    while (l.runs == 0 || hb_agent_sent(a) + hb_agent_drops(a) < 2)
        sched_yield();
    hb_agent_interrupt(a);
    pthread_join(t, NULL);
    assert_int_equal(w.rc, HB_ECLOSED);
    // Later runs stop before their next attempt.
    assert_int_equal(hb_retry_run(r, s_needs_level, &l), HB_ECLOSED);
    hb_retry_destroy(&r);
    hb_agent_destroy(&a);
}

static void
test_heal_off_publishes_nothing_extra(void **state)
{
    (void)state;
    hb_agent_t *a = s_agent();
    assert_int_equal(hb_agent_flush(a, 10000), HB_OK);
    uint64_t before = hb_agent_last_seq(a);
    s_world_t w = {.fail_first = 100};
    hb_retry_t *r = hb_retry_new(a, "load");
    hb_retry_set_attempts(r, 3);
    hb_retry_set_clock(r, s_now, s_sleep, &w);
    assert_int_equal(hb_retry_run(r, s_op, &w), HB_EFAILED);
    // Exactly one error report per failed attempt, no heal request.
    assert_int_equal(hb_agent_last_seq(a) - before, 3);
    hb_retry_destroy(&r);
    hb_agent_destroy(&a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects_bad_operation_names),
        cmocka_unit_test(test_backoff_doubles_at_the_top_of_the_jitter),
        cmocka_unit_test(test_backoff_is_capped),
        cmocka_unit_test(test_jitter_spans_zero_to_the_bound),
        cmocka_unit_test(test_success_after_k_failures),
        cmocka_unit_test(test_single_attempt_never_sleeps),
        cmocka_unit_test(test_deadline_stops_retrying),
        cmocka_unit_test(test_deadline_already_spent_runs_nothing_more),
        cmocka_unit_test(test_async_heal_fails_now_and_applies_the_fix_next_call),
        cmocka_unit_test(test_wait_heal_tries_candidates_until_one_works),
        cmocka_unit_test(test_interrupt_ends_a_heal_wait),
        cmocka_unit_test(test_heal_off_publishes_nothing_extra),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
