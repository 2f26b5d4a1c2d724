/*  Tests of predictor_alert: levels, hold time, hysteresis. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "predictor_alert.h"

static const predictor_alert_cfg_t s_cfg = {300, 1000, 0.2, 0.5};

static void
test_alert_classify_levels(void **state)
{
    (void)state;
    predictor_alert_input_t in = {0.1, 0.5, false, 0, 0, false};
    assert_int_equal(predictor_alert_classify(&s_cfg, &in, PROTO_LEVEL_NONE),
                     PROTO_LEVEL_NONE);
    in.value = 0.6;
    assert_int_equal(predictor_alert_classify(&s_cfg, &in, PROTO_LEVEL_NONE),
                     PROTO_LEVEL_CRITICAL);
    in = (predictor_alert_input_t){0.2, 0.5, true, 900, 0.9, true};
    assert_int_equal(predictor_alert_classify(&s_cfg, &in, PROTO_LEVEL_NONE),
                     PROTO_LEVEL_HIGH);
    in.ttf_ms = 3000;
    assert_int_equal(predictor_alert_classify(&s_cfg, &in, PROTO_LEVEL_NONE),
                     PROTO_LEVEL_MEDIUM);
    in.confidence = 0.3; // unsure: only rising
    assert_int_equal(predictor_alert_classify(&s_cfg, &in, PROTO_LEVEL_NONE),
                     PROTO_LEVEL_LOW);
}

static void
test_alert_hysteresis_keeps_a_level_until_the_lower_bound(void **state)
{
    (void)state;
    predictor_alert_input_t in = {0.45, 0.5, false, 0, 0, false};
    // 0.45 does not enter CRITICAL but keeps it (exit at 0.4)
    assert_int_equal(predictor_alert_classify(&s_cfg, &in, PROTO_LEVEL_NONE),
                     PROTO_LEVEL_LOW);
    assert_int_equal(
        predictor_alert_classify(&s_cfg, &in, PROTO_LEVEL_CRITICAL),
        PROTO_LEVEL_CRITICAL);
    in.value = 0.39;
    assert_int_equal(
        predictor_alert_classify(&s_cfg, &in, PROTO_LEVEL_CRITICAL),
        PROTO_LEVEL_LOW);
    in = (predictor_alert_input_t){0.1, 0.5, true, 1100, 0.9, false};
    assert_int_equal(predictor_alert_classify(&s_cfg, &in, PROTO_LEVEL_NONE),
                     PROTO_LEVEL_MEDIUM);
    assert_int_equal(predictor_alert_classify(&s_cfg, &in, PROTO_LEVEL_HIGH),
                     PROTO_LEVEL_HIGH);
}

static void
test_alert_step_waits_for_the_hold_time(void **state)
{
    (void)state;
    predictor_alert_state_t st;
    predictor_alert_init(&st);
    proto_level_t prev = PROTO_LEVEL_COUNT;
    assert_false(predictor_alert_step(&s_cfg, &st, PROTO_LEVEL_CRITICAL, 1000,
                                      &prev));
    assert_false(predictor_alert_step(&s_cfg, &st, PROTO_LEVEL_CRITICAL, 1299,
                                      &prev));
    assert_true(predictor_alert_step(&s_cfg, &st, PROTO_LEVEL_CRITICAL, 1300,
                                     &prev));
    assert_int_equal(prev, PROTO_LEVEL_NONE);
    assert_int_equal(st.level, PROTO_LEVEL_CRITICAL);
    // once raised, staying raised reports nothing
    assert_false(predictor_alert_step(&s_cfg, &st, PROTO_LEVEL_CRITICAL, 5000,
                                      &prev));
}

static void
test_alert_step_ignores_a_short_spike(void **state)
{
    (void)state;
    predictor_alert_state_t st;
    predictor_alert_init(&st);
    proto_level_t prev;
    assert_false(predictor_alert_step(&s_cfg, &st, PROTO_LEVEL_CRITICAL, 0,
                                      &prev));
    assert_false(predictor_alert_step(&s_cfg, &st, PROTO_LEVEL_NONE, 100,
                                      &prev));
    assert_false(predictor_alert_step(&s_cfg, &st, PROTO_LEVEL_CRITICAL, 200,
                                      &prev));
    // the hold restarts: 200 + 300
    assert_false(predictor_alert_step(&s_cfg, &st, PROTO_LEVEL_CRITICAL, 499,
                                      &prev));
    assert_true(predictor_alert_step(&s_cfg, &st, PROTO_LEVEL_CRITICAL, 500,
                                     &prev));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alert_classify_levels),
        cmocka_unit_test(test_alert_hysteresis_keeps_a_level_until_the_lower_bound),
        cmocka_unit_test(test_alert_step_waits_for_the_hold_time),
        cmocka_unit_test(test_alert_step_ignores_a_short_spike),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
