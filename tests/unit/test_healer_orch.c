/*  test_healer_orch.c - the orchestration state machine with a fake clock
    and a recording publisher: resend the same fix id on timeout, next
    candidate on failure, escalation after N (with the on_escalate command
    run), the intensity limit, hello filtering, and never two in flight. */

#include "healer_orch.h"
#include "test_proc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SENT 64

typedef struct {
    proto_kind_t kind;
    char subject[80];
    char fix_id[80];
    char fix_name[80];
    bool test;
    uint32_t n_steps;
    char reason[160];
    uint32_t n_history;
} sent_t;

typedef struct {
    int64_t now_ms;
    sent_t sent[MAX_SENT];
    int n_sent;
    int n_outcomes;
    healer_orch_outcome_t last;
    char last_outcome[32];
    uint64_t rng;
    healer_catalog_t *catalog;
    healer_learn_t *learn;
    healer_orch_t *orch;
    char *dir;
} fx_t;

static hb_err_t
s_publish(void *arg, proto_msg_t *msg)
{
    fx_t *fx = arg;
    assert_true(fx->n_sent < MAX_SENT);
    sent_t *s = &fx->sent[fx->n_sent++];
    memset(s, 0, sizeof *s);
    s->kind = msg->kind;
    snprintf(s->subject, sizeof s->subject, "%s", msg->subject);
    if (msg->kind == PROTO_KIND_FIX) {
        snprintf(s->fix_id, sizeof s->fix_id, "%s", msg->u.fix.fix_id);
        snprintf(s->fix_name, sizeof s->fix_name, "%s", msg->u.fix.name);
        s->test = msg->u.fix.test;
        s->n_steps = msg->u.fix.n_steps;
    } else if (msg->kind == PROTO_KIND_ESCALATION) {
        snprintf(s->reason, sizeof s->reason, "%s", msg->u.escalation.reason);
        s->n_history = msg->u.escalation.n_history;
    }
    return HB_OK;
}

static int64_t
s_now(void *arg)
{
    return ((fx_t *)arg)->now_ms;
}

static int64_t
s_wall(void *arg)
{
    return 1700000000000000 + ((fx_t *)arg)->now_ms * 1000;
}

static void
s_outcome(void *arg, const healer_orch_outcome_t *o)
{
    fx_t *fx = arg;
    fx->n_outcomes++;
    fx->last = *o;
    snprintf(fx->last_outcome, sizeof fx->last_outcome, "%s", o->outcome);
}

static uint64_t
s_rand(void *arg)
{
    uint64_t *x = arg;
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 2685821657736338717ull;
}

static fx_t *
s_fx(healer_orch_cfg_t *cfg)
{
    fx_t *fx = calloc(1, sizeof *fx);
    fx->now_ms = 1000;
    fx->rng = 77;
    fx->catalog = healer_catalog_builtin();
    fx->learn = healer_learn_new(256, s_rand, &fx->rng);
    healer_orch_cfg_t dflt;
    if (!cfg) {
        healer_orch_cfg_defaults(&dflt);
        cfg = &dflt;
    }
    healer_orch_env_t env = {fx, s_publish, s_now, s_wall, s_outcome, NULL,
                             "healer-t"};
    fx->orch = healer_orch_new(cfg, &env, fx->catalog, fx->learn);
    assert_non_null(fx->orch);
    return fx;
}

static void
s_fx_free(fx_t *fx)
{
    healer_orch_destroy(&fx->orch);
    healer_learn_destroy(&fx->learn);
    healer_catalog_destroy(&fx->catalog);
    if (fx->dir) {
        test_proc_rmtree(fx->dir);
        free(fx->dir);
    }
    free(fx);
}

static void
s_heal(fx_t *fx, const char *agent, const char *op, const char *cls,
       uint64_t req)
{
    proto_heal_t h = {req, op, cls, "it failed", 3, PROTO_HEAL_WAIT};
    char pattern[128];
    snprintf(pattern, sizeof pattern, "%s|it failed", cls);
    healer_orch_heal(fx->orch, agent, &h, pattern, "it failed");
}

static void
s_result(fx_t *fx, const char *agent, const char *op, const char *fix_id,
         proto_outcome_t outcome)
{
    proto_fixres_t r = {fix_id, 1, op, outcome, "test", 10};
    healer_orch_fixres(fx->orch, agent, &r);
}

static const sent_t *
s_last(const fx_t *fx)
{
    assert_true(fx->n_sent > 0);
    return &fx->sent[fx->n_sent - 1];
}

static void
s_hello(fx_t *fx, const char *agent, const char *const *knobs, int n)
{
    proto_hello_t h;
    memset(&h, 0, sizeof h);
    for (int i = 0; i < n; i++) {
        h.knobs[i].name = knobs[i];
        h.knobs[i].type = PROTO_KNOB_INT;
    }
    h.n_knobs = (uint32_t)n;
    healer_orch_hello(fx->orch, agent, &h);
}

static const char *const s_all_knobs[] = {"timeout_ms", "batch_size",
                                          "date_parser", "parser"};

static void
test_orch_sends_tested_fix_and_never_two_in_flight(void **state)
{
    (void)state;
    fx_t *fx = s_fx(NULL);
    s_hello(fx, "a1", s_all_knobs, 4);
    s_heal(fx, "a1", "load", "TimeoutError", 1);
    assert_int_equal(fx->n_sent, 1);
    const sent_t *fix = s_last(fx);
    assert_int_equal(fix->kind, PROTO_KIND_FIX);
    assert_string_equal(fix->subject, "a1");
    assert_string_equal(fix->fix_name, "raise_timeout");
    assert_true(fix->test);
    assert_int_equal(fix->n_steps, 1);
    assert_int_equal(healer_orch_in_flight(fx->orch), 1);
    s_heal(fx, "a1", "load", "TimeoutError", 2); // busy: nothing new
    assert_int_equal(fx->n_sent, 1);
    s_heal(fx, "a1", "other", "TimeoutError", 3); // another op: its own fix
    assert_int_equal(fx->n_sent, 2);
    assert_string_not_equal(fx->sent[0].fix_id, fx->sent[1].fix_id);
    assert_int_equal(healer_orch_in_flight(fx->orch), 2);
    s_result(fx, "a1", "load", fx->sent[0].fix_id, PROTO_OUTCOME_COMMITTED);
    assert_int_equal(healer_orch_in_flight(fx->orch), 1);
    assert_int_equal(fx->n_outcomes, 1);
    assert_true(fx->last.success);
    assert_int_equal(fx->last.attempt, 1);
    assert_string_equal(fx->last_outcome, "committed");
    uint32_t s, f;
    healer_learn_get(fx->learn, "TimeoutError", "TimeoutError|it failed",
                     "raise_timeout", &s, &f);
    assert_int_equal(s, 1);
    assert_int_equal(f, 0);
    s_fx_free(fx);
}

static void
test_orch_ignores_a_repeated_request_it_answered(void **state)
{
    (void)state;
    fx_t *fx = s_fx(NULL);
    s_hello(fx, "a1", s_all_knobs, 4);
    s_heal(fx, "a1", "load", "TimeoutError", 7);
    assert_int_equal(fx->n_sent, 1);
    s_heal(fx, "a1", "load", "TimeoutError", 7); // repeated while in flight
    assert_int_equal(fx->n_sent, 1);
    s_result(fx, "a1", "load", fx->sent[0].fix_id, PROTO_OUTCOME_COMMITTED);
    // A waiting agent's repeat that crossed the fix on the wire: answered.
    s_heal(fx, "a1", "load", "TimeoutError", 7);
    assert_int_equal(fx->n_sent, 1);
    assert_int_equal(healer_orch_in_flight(fx->orch), 0);
    // A new request of the same operation is a new episode.
    s_heal(fx, "a1", "load", "TimeoutError", 8);
    assert_int_equal(fx->n_sent, 2);
    assert_int_equal(s_last(fx)->kind, PROTO_KIND_FIX);
    s_fx_free(fx);
}

static void
test_orch_resends_same_fix_id_then_moves_on(void **state)
{
    (void)state;
    healer_orch_cfg_t cfg;
    healer_orch_cfg_defaults(&cfg);
    cfg.fix_timeout_ms = 100;
    cfg.max_resends = 2;
    fx_t *fx = s_fx(&cfg);
    s_hello(fx, "a1", s_all_knobs, 4);
    s_heal(fx, "a1", "load", "TimeoutError", 1);
    char first[80];
    snprintf(first, sizeof first, "%s", s_last(fx)->fix_id);
    healer_orch_tick(fx->orch, fx->now_ms += 99); // not yet
    assert_int_equal(fx->n_sent, 1);
    healer_orch_tick(fx->orch, fx->now_ms += 1);
    assert_int_equal(fx->n_sent, 2);
    assert_string_equal(s_last(fx)->fix_id, first);
    healer_orch_tick(fx->orch, fx->now_ms += 100);
    assert_int_equal(fx->n_sent, 3);
    assert_string_equal(s_last(fx)->fix_id, first);
    // A duplicate answer to a resend changes nothing.
    s_result(fx, "a1", "load", first, PROTO_OUTCOME_DUPLICATE);
    assert_int_equal(fx->n_outcomes, 0);
    healer_orch_tick(fx->orch, fx->now_ms += 100); // gives up: next one
    assert_int_equal(fx->n_sent, 4);
    assert_string_equal(s_last(fx)->fix_name, "smaller_batches_for_timeout");
    assert_string_not_equal(s_last(fx)->fix_id, first);
    assert_int_equal(fx->n_outcomes, 1);
    assert_string_equal(fx->last_outcome, "no_result");
    assert_string_equal(fx->last.reason, "no result after 3 sends");
    // The late result of the abandoned fix is stale.
    s_result(fx, "a1", "load", first, PROTO_OUTCOME_COMMITTED);
    assert_int_equal(fx->n_outcomes, 1);
    assert_int_equal(healer_orch_in_flight(fx->orch), 1);
    s_fx_free(fx);
}

static void
test_orch_next_candidate_then_escalates_with_command(void **state)
{
    (void)state;
    char *dir = test_proc_tmpdir();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cat > %s/esc.json; echo \"$HEALBUS_AGENT "
             "$HEALBUS_OP $HEALBUS_ERROR_CLASS\" > %s/env.txt", dir, dir);
    healer_orch_cfg_t cfg;
    healer_orch_cfg_defaults(&cfg);
    cfg.max_candidates = 2;
    cfg.on_escalate = cmd;
    fx_t *fx = s_fx(&cfg);
    fx->dir = dir;
    s_hello(fx, "a1", s_all_knobs, 4);
    s_heal(fx, "a1", "load", "MemoryError", 1);
    assert_string_equal(s_last(fx)->fix_name, "halve_batch");
    s_result(fx, "a1", "load", s_last(fx)->fix_id,
             PROTO_OUTCOME_ROLLED_BACK);
    assert_int_equal(fx->n_sent, 2);
    assert_string_equal(s_last(fx)->fix_name, "stream_for_memory");
    assert_string_equal(fx->last_outcome, "rolled_back");
    assert_false(fx->last.success);
    s_result(fx, "a1", "load", s_last(fx)->fix_id, PROTO_OUTCOME_REJECTED);
    assert_int_equal(fx->last.attempt, 2);
    assert_int_equal(fx->n_sent, 3);
    const sent_t *esc = s_last(fx);
    assert_int_equal(esc->kind, PROTO_KIND_ESCALATION);
    assert_string_equal(esc->reason, "2 fixes tried, none worked");
    assert_int_equal(esc->n_history, 2);
    assert_int_equal(healer_orch_in_flight(fx->orch), 0);
    assert_int_equal(healer_orch_reap(fx->orch, true), 0);
    char path[512], buf[2048] = "";
    snprintf(path, sizeof path, "%s/env.txt", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "a1 load MemoryError\n");
    snprintf(path, sizeof path, "%s/esc.json", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_non_null(strstr(buf, "\"agent\":\"a1\""));
    assert_non_null(strstr(buf, "\"fix\":\"halve_batch\""));
    assert_non_null(strstr(buf, "\"outcome\":\"rolled_back\""));
    // Learning saw both failures.
    uint32_t s, fl;
    healer_learn_get(fx->learn, "MemoryError", "MemoryError|it failed",
                     "stream_for_memory", &s, &fl);
    assert_int_equal(fl, 1);
    s_fx_free(fx);
}

static void
test_orch_intensity_limit_escalates_once_per_window(void **state)
{
    (void)state;
    healer_orch_cfg_t cfg;
    healer_orch_cfg_defaults(&cfg);
    cfg.intensity = 2;
    cfg.period_ms = 1000;
    fx_t *fx = s_fx(&cfg);
    s_hello(fx, "a1", s_all_knobs, 4);
    for (int i = 0; i < 2; i++) {
        s_heal(fx, "a1", "load", "TimeoutError", (uint64_t)i + 1);
        s_result(fx, "a1", "load", s_last(fx)->fix_id,
                 PROTO_OUTCOME_COMMITTED);
        fx->now_ms += 10;
    }
    int before = fx->n_sent;
    s_heal(fx, "a1", "load", "TimeoutError", 3);
    assert_int_equal(fx->n_sent, before + 1);
    assert_int_equal(s_last(fx)->kind, PROTO_KIND_ESCALATION);
    assert_string_equal(s_last(fx)->reason, "more than 2 heals in 1000 ms");
    s_heal(fx, "a1", "load", "TimeoutError", 4); // refused quietly
    assert_int_equal(fx->n_sent, before + 1);
    s_heal(fx, "a2", "load", "TimeoutError", 1); // other agents unaffected
    assert_int_equal(s_last(fx)->kind, PROTO_KIND_FIX);
    assert_string_equal(s_last(fx)->subject, "a2");
    fx->now_ms += 1000; // the window has passed
    s_heal(fx, "a1", "load", "TimeoutError", 5);
    assert_int_equal(s_last(fx)->kind, PROTO_KIND_FIX);
    assert_string_equal(s_last(fx)->subject, "a1");
    s_fx_free(fx);
}

static void
test_orch_skips_undeclared_knobs_and_asks_unknown_agents(void **state)
{
    (void)state;
    fx_t *fx = s_fx(NULL);
    static const char *const only_timeout[] = {"timeout_ms"};
    s_hello(fx, "a1", only_timeout, 1);
    s_heal(fx, "a1", "load", "TimeoutError", 1);
    assert_int_equal(fx->n_sent, 1);
    s_result(fx, "a1", "load", s_last(fx)->fix_id,
             PROTO_OUTCOME_ROLLED_BACK);
    // smaller_batches_for_timeout needs batch_size: not declared.
    assert_int_equal(s_last(fx)->kind, PROTO_KIND_ESCALATION);
    assert_string_equal(s_last(fx)->reason, "1 fixes tried, none worked");
    // An agent never heard of: ask it, and heal it anyway.
    s_heal(fx, "new", "load", "DateFormatError", 1);
    assert_int_equal(fx->sent[fx->n_sent - 2].kind, PROTO_KIND_ASK);
    assert_string_equal(s_last(fx)->fix_name, "fuzzy_dates");
    // No candidate at all.
    s_heal(fx, "new", "parse", "KeyError", 2);
    assert_int_equal(s_last(fx)->kind, PROTO_KIND_ESCALATION);
    assert_string_equal(s_last(fx)->reason, "no candidate fix for KeyError");
    assert_int_equal(s_last(fx)->n_history, 0);
    s_fx_free(fx);
}

static void
test_orch_ignores_results_not_in_flight(void **state)
{
    (void)state;
    fx_t *fx = s_fx(NULL);
    s_result(fx, "ghost", "load", "x-1", PROTO_OUTCOME_COMMITTED);
    s_heal(fx, "a1", "load", "TimeoutError", 1);
    s_result(fx, "a1", "load", "not-the-id", PROTO_OUTCOME_ROLLED_BACK);
    s_result(fx, "a2", "load", s_last(fx)->fix_id, PROTO_OUTCOME_COMMITTED);
    assert_int_equal(fx->n_outcomes, 0);
    assert_int_equal(healer_orch_in_flight(fx->orch), 1);
    proto_counter_t c[32];
    uint32_t n = healer_orch_counters(fx->orch, c, 32);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(c[i].name, "stale_results") == 0)
            assert_int_equal(c[i].value, 3);
    s_fx_free(fx);
}

static void
test_orch_rejects_bad_config(void **state)
{
    (void)state;
    healer_orch_cfg_t cfg;
    healer_orch_cfg_defaults(&cfg);
    cfg.max_candidates = 0;
    healer_catalog_t *c = healer_catalog_builtin();
    uint64_t rng = 1;
    healer_learn_t *l = healer_learn_new(8, s_rand, &rng);
    healer_orch_env_t env = {NULL, s_publish, s_now, s_wall, NULL, NULL, "x"};
    assert_null(healer_orch_new(&cfg, &env, c, l));
    healer_orch_cfg_defaults(&cfg);
    cfg.intensity = HEALER_ORCH_MAX_INTENSITY + 1;
    assert_null(healer_orch_new(&cfg, &env, c, l));
    healer_learn_destroy(&l);
    healer_catalog_destroy(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orch_sends_tested_fix_and_never_two_in_flight),
        cmocka_unit_test(test_orch_ignores_a_repeated_request_it_answered),
        cmocka_unit_test(test_orch_resends_same_fix_id_then_moves_on),
        cmocka_unit_test(test_orch_next_candidate_then_escalates_with_command),
        cmocka_unit_test(test_orch_intensity_limit_escalates_once_per_window),
        cmocka_unit_test(test_orch_skips_undeclared_knobs_and_asks_unknown_agents),
        cmocka_unit_test(test_orch_ignores_results_not_in_flight),
        cmocka_unit_test(test_orch_rejects_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
