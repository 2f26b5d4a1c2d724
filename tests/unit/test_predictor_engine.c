/*  Tests of predictor_engine on synthetic series with known answers.
    Time is simulated: every sample carries its own wall-clock ms. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "predictor_engine.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

#define DAY_MS 86400000LL
#define T0 (20000LL * DAY_MS) // 2024-10-04, a whole day

typedef struct {
    int alerts;
    int above_low;            // alerts raising a level above LOW
    int raises;               // alerts raising the level
    proto_level_t last_level;
    int64_t first_critical_ms;
    int predictions;
    int64_t pred_fail_at[16];
    int64_t pred_issued[16];
    char reason[PREDICTOR_REASON_MAX];
    char action[64];
    int hits, misses;
    int64_t now_ms;           // set by the driver before each call
} s_seen_t;

static void
s_alert(void *arg, const predictor_event_t *ev)
{
    s_seen_t *s = arg;
    s->alerts++;
    s->raises += ev->level > ev->previous;
    s->above_low += ev->level > PROTO_LEVEL_LOW && ev->level > ev->previous;
    s->last_level = ev->level;
    if (ev->level == PROTO_LEVEL_CRITICAL && !s->first_critical_ms)
        s->first_critical_ms = s->now_ms;
}

static void
s_prediction(void *arg, const predictor_event_t *ev)
{
    s_seen_t *s = arg;
    if (s->predictions < 16) {
        s->pred_fail_at[s->predictions] = ev->fail_at_ms;
        s->pred_issued[s->predictions] = s->now_ms;
    }
    s->predictions++;
    snprintf(s->reason, sizeof s->reason, "%s", ev->reason);
    snprintf(s->action, sizeof s->action, "%s", ev->action);
    assert_true(ev->confidence > 0 && ev->confidence <= 1);
}

static void
s_outcome(void *arg, uint64_t id, bool hit, double err)
{
    s_seen_t *s = arg;
    (void)id;
    (void)err;
    *(hit ? &s->hits : &s->misses) += 1;
}

static predictor_engine_t *
s_engine(s_seen_t *seen, int64_t bucket_ms)
{
    predictor_engine_cfg_t cfg;
    predictor_engine_cfg_default(&cfg);
    cfg.series.bucket_ms = bucket_ms;
    cfg.alert.hold_ms = 3 * bucket_ms;
    cfg.alert.horizon_ms = 20 * bucket_ms;
    cfg.record.min_window_ms = bucket_ms;
    predictor_engine_hooks_t hooks = {s_alert, s_prediction, s_outcome, NULL,
                                      seen};
    predictor_engine_t *e = predictor_engine_new(&cfg, &hooks);
    assert_non_null(e);
    return e;
}

//  One bucket of `ops` attempts of op "load_csv", `errors` of them failing
//  with `cls`, spread over the bucket starting at t.
static void
s_bucket(predictor_engine_t *e, s_seen_t *seen, int64_t t, int64_t width,
         int ops, int errors, const char *cls)
{
    for (int i = 0; i < ops; i++) {
        int64_t now = t + width * i / ops;
        seen->now_ms = now;
        if (i < errors)
            predictor_engine_error(e, now, "loader", "load_csv", cls);
        else
            predictor_engine_success(e, now, "loader", "load_csv");
    }
}

//  A small deterministic generator (no global state).
static uint32_t
s_rand(uint64_t *st)
{
    *st = *st * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*st >> 33);
}

static void
test_engine_rate_growing_10pct_a_day_predicts_the_crossing(void **state)
{
    (void)state;
    s_seen_t seen = {0};
    predictor_engine_t *e = s_engine(&seen, DAY_MS);
    // r(t) = 0.05 x 1.1^t (t in days): crosses 0.5 at t* = ln 10 / ln 1.1.
    // Each day's bucket gets 10000 attempts at the rate of its midpoint.
    double t_star = log(10) / log(1.1);
    for (int d = 0; d < 12; d++) {
        double r = 0.05 * pow(1.1, d + 0.5);
        s_bucket(e, &seen, T0 + d * DAY_MS, DAY_MS, 10000,
                 (int)lround(r * 10000), "MemoryError");
    }
    seen.now_ms = T0 + 12 * DAY_MS;
    predictor_engine_tick(e, seen.now_ms);
    assert_true(seen.predictions >= 1);
    int64_t truth = T0 + (int64_t)(t_star * DAY_MS);
    for (int i = 0; i < seen.predictions && i < 16; i++) {
        double lead = (double)(truth - seen.pred_issued[i]);
        double err = fabs((double)(seen.pred_fail_at[i] - truth));
        if (err > 0.1 * lead)
            fail_msg("prediction %d off by %.2f days of %.2f", i,
                     err / DAY_MS, lead / DAY_MS);
    }
    assert_non_null(strstr(seen.reason, "error rate of load_csv rose +10%/day over "));
    assert_non_null(strstr(seen.reason, "crosses 50% by "));
    assert_string_equal(seen.action, "increase_memory_allocation");
    predictor_engine_destroy(&e);
}

static void
test_engine_flat_noisy_series_stays_at_low_or_below(void **state)
{
    (void)state;
    s_seen_t seen = {0};
    predictor_engine_t *e = s_engine(&seen, 10000);
    uint64_t rng = 42;
    for (int b = 0; b < 3000; b++) {
        int errors = 0;
        for (int i = 0; i < 50; i++)
            errors += s_rand(&rng) % 100 < 10; // 10% error rate
        s_bucket(e, &seen, T0 + b * 10000LL, 10000, 50, errors,
                 "TimeoutError");
        if (b % 10 == 0)
            predictor_engine_tick(e, T0 + b * 10000LL);
    }
    assert_int_equal(seen.above_low, 0);
    assert_int_equal(seen.predictions, 0);
    assert_true(predictor_engine_stats(e)->analyses > 2000);
    predictor_engine_destroy(&e);
}

static void
test_engine_step_to_60pct_is_critical_once_within_the_hold(void **state)
{
    (void)state;
    s_seen_t seen = {0};
    int64_t w = 10000;
    predictor_engine_t *e = s_engine(&seen, w);
    for (int b = 0; b < 40; b++)
        s_bucket(e, &seen, T0 + b * w, w, 100, 0, "LoadError");
    int64_t step = T0 + 40 * w;
    for (int b = 40; b < 80; b++)
        s_bucket(e, &seen, T0 + b * w, w, 100, 60, "LoadError");
    assert_int_equal(seen.raises, 1);
    assert_int_equal(seen.last_level, PROTO_LEVEL_CRITICAL);
    assert_true(seen.first_critical_ms > step);
    // raised once the hold (3 buckets) passed after the first 60% bucket
    // closed: at most hold + one bucket after the step began
    assert_true(seen.first_critical_ms - step <= 3 * w + w);
    predictor_engine_destroy(&e);
}

static void
test_engine_outlier_spikes_do_not_flap(void **state)
{
    (void)state;
    s_seen_t seen = {0};
    int64_t w = 10000;
    predictor_engine_t *e = s_engine(&seen, w);
    for (int b = 0; b < 600; b++) {
        int errors = b % 50 == 25 ? 95 : 5; // a one-bucket spike now and then
        s_bucket(e, &seen, T0 + b * w, w, 100, errors, "ValueError");
    }
    assert_int_equal(seen.above_low, 0);
    assert_int_equal(seen.first_critical_ms, 0);
    assert_int_equal(seen.predictions, 0);
    assert_true(seen.alerts <= 2); // at most one LOW episode, no flapping
    predictor_engine_destroy(&e);
}

static void
test_engine_rss_rising_to_declared_limit_predicts_time_to_limit(void **state)
{
    (void)state;
    s_seen_t seen = {0};
    int64_t w = 10000;
    predictor_engine_t *e = s_engine(&seen, w);
    double limit = 1000e6;
    predictor_engine_hello(e, T0, "loader", (uint64_t)limit);
    // +10 MB per bucket from 500 MB: the limit is reached 50 buckets in,
    // at the centre convention (bucket b stands for its midpoint)
    int64_t truth = T0 + 50 * w + w / 2;
    for (int b = 0; b < 60; b++) {
        for (int k = 0; k < 4; k++) {
            int64_t now = T0 + b * w + k * w / 4;
            seen.now_ms = now;
            proto_heartbeat_t hb = {0, 0, (uint64_t)(500e6 + 10e6 * b),
                                    (uint64_t)(b * 4 + k) * 1000,
                                    (uint64_t)(now - T0 + 1)};
            predictor_engine_heartbeat(e, now, "loader", &hb);
        }
        predictor_engine_tick(e, T0 + (b + 1) * w);
    }
    assert_true(seen.predictions >= 1);
    for (int i = 0; i < seen.predictions && i < 16; i++) {
        double lead = (double)(truth - seen.pred_issued[i]);
        double err = fabs((double)(seen.pred_fail_at[i] - truth));
        if (err > 0.05 * lead + w)
            fail_msg("prediction %d off by %.0f ms of %.0f", i, err, lead);
    }
    assert_non_null(strstr(seen.reason, "rss_bytes rose"));
    assert_string_equal(seen.action, "increase_memory_allocation");
    // the limit was crossed: the pending prediction resolved as a hit
    assert_int_equal(seen.hits, 1);
    assert_int_equal(seen.misses, 0);
    const predictor_record_stats_t *st = predictor_record_stats(
        predictor_engine_record(e), PREDICTOR_RECORD_METRIC);
    assert_int_equal(st->hits, 1);
    predictor_engine_destroy(&e);
}

static void
test_engine_record_miss_lowers_stated_confidence(void **state)
{
    (void)state;
    s_seen_t seen = {0};
    int64_t w = 10000;
    predictor_engine_t *e = s_engine(&seen, w);
    predictor_record_t *rec = predictor_engine_record(e);
    double before = predictor_record_calibrate(rec, PREDICTOR_RECORD_RATE, 1);
    // errors climb then stop climbing, well below 50%: a miss
    for (int b = 0; b < 12; b++)
        s_bucket(e, &seen, T0 + b * w, w, 100, 5 + 3 * b, "TimeoutError");
    assert_true(seen.predictions >= 1);
    int b = 12;
    for (; b < 200 && seen.misses == 0; b++) {
        s_bucket(e, &seen, T0 + b * w, w, 100, 10, "TimeoutError");
        predictor_engine_tick(e, T0 + (b + 1) * w);
    }
    assert_true(seen.misses >= 1);
    assert_int_equal(seen.hits, 0);
    double after = predictor_record_calibrate(rec, PREDICTOR_RECORD_RATE, 1);
    assert_true(after < before);
    assert_int_equal(predictor_record_stats(rec, PREDICTOR_RECORD_RATE)->misses,
                     (uint64_t)seen.misses);
    predictor_engine_destroy(&e);
}

static void
test_engine_rejects_bad_names_and_values(void **state)
{
    (void)state;
    s_seen_t seen = {0};
    predictor_engine_t *e = s_engine(&seen, 1000);
    char longname[200];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    predictor_engine_error(e, T0, "", "op", "E");
    predictor_engine_success(e, T0, "a", longname);
    predictor_engine_metric(e, T0, "a", "m", NAN);
    predictor_engine_metric(e, T0, "a", "", 1);
    assert_int_equal(predictor_engine_stats(e)->rejected, 4);
    assert_int_equal(predictor_engine_stats(e)->samples, 0);
    predictor_engine_cfg_t cfg;
    predictor_engine_cfg_default(&cfg);
    cfg.min_points = 100; // more than the ring holds
    assert_null(predictor_engine_new(&cfg, NULL));
    predictor_engine_destroy(&e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_rate_growing_10pct_a_day_predicts_the_crossing),
        cmocka_unit_test(test_engine_flat_noisy_series_stays_at_low_or_below),
        cmocka_unit_test(test_engine_step_to_60pct_is_critical_once_within_the_hold),
        cmocka_unit_test(test_engine_outlier_spikes_do_not_flap),
        cmocka_unit_test(test_engine_rss_rising_to_declared_limit_predicts_time_to_limit),
        cmocka_unit_test(test_engine_record_miss_lowers_stated_confidence),
        cmocka_unit_test(test_engine_rejects_bad_names_and_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
