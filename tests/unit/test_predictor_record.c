/*  Tests of predictor_record: hits, misses, calibration. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "predictor_record.h"

typedef struct {
    int calls;
    uint64_t id;
    bool hit;
    double err;
} s_seen_t;

static void
s_seen(void *arg, uint64_t id, bool hit, double err)
{
    s_seen_t *s = arg;
    s->calls++;
    s->id = id;
    s->hit = hit;
    s->err = err;
}

static const predictor_record_cfg_t s_cfg = {4, 0.25, 10, 4.0, 1.0};

static void
test_record_rejects_bad_config(void **state)
{
    (void)state;
    predictor_record_cfg_t cfg = s_cfg;
    cfg.max_pending = 0;
    assert_null(predictor_record_new(&cfg));
    cfg = s_cfg;
    cfg.prior_hits = 0;
    assert_null(predictor_record_new(&cfg));
}

static void
test_record_hit_and_miss_update_stats_and_confidence(void **state)
{
    (void)state;
    predictor_record_t *r = predictor_record_new(&s_cfg);
    s_seen_t seen = {0};
    assert_float_equal(
        predictor_record_calibrate(r, PREDICTOR_RECORD_RATE, 0.9), 0.9 * 0.8,
        1e-12);
    predictor_record_expect(r, 1, 111, PREDICTOR_RECORD_RATE, 0, 1000);
    assert_int_equal(predictor_record_crossed(r, 222, 500, s_seen, &seen), 0);
    assert_int_equal(predictor_record_crossed(r, 111, 1100, s_seen, &seen), 1);
    assert_int_equal(seen.calls, 1);
    assert_true(seen.hit);
    assert_float_equal(seen.err, 0.1, 1e-12);
    const predictor_record_stats_t *st =
        predictor_record_stats(r, PREDICTOR_RECORD_RATE);
    assert_int_equal(st->hits, 1);
    assert_float_equal(predictor_record_calibrate(r, PREDICTOR_RECORD_RATE, 1),
                       5.0 / 6.0, 1e-12);
    // a miss: the window (0.25 x 1000 after fail_at) passes
    predictor_record_expect(r, 2, 111, PREDICTOR_RECORD_RATE, 2000, 3000);
    assert_int_equal(predictor_record_expire(r, 3250, s_seen, &seen), 0);
    assert_int_equal(predictor_record_expire(r, 3251, s_seen, &seen), 1);
    assert_int_equal(seen.id, 2);
    assert_false(seen.hit);
    assert_int_equal(st->misses, 1);
    assert_float_equal(predictor_record_calibrate(r, PREDICTOR_RECORD_RATE, 1),
                       5.0 / 7.0, 1e-12);
    // the metric kind is separate
    assert_float_equal(
        predictor_record_calibrate(r, PREDICTOR_RECORD_METRIC, 1), 0.8, 1e-12);
    predictor_record_destroy(&r);
    assert_null(r);
}

static void
test_record_revision_replaces_and_full_drops_oldest(void **state)
{
    (void)state;
    predictor_record_t *r = predictor_record_new(&s_cfg);
    predictor_record_expect(r, 1, 7, PREDICTOR_RECORD_METRIC, 0, 100);
    predictor_record_expect(r, 2, 7, PREDICTOR_RECORD_METRIC, 10, 200);
    assert_int_equal(predictor_record_pending(r), 1);
    for (uint64_t i = 3; i < 8; i++)
        predictor_record_expect(r, i, 100 + i, PREDICTOR_RECORD_METRIC, 0, 50);
    assert_int_equal(predictor_record_pending(r), 4);
    s_seen_t seen = {0};
    // series 7 was the oldest: dropped unscored
    assert_int_equal(predictor_record_crossed(r, 7, 150, s_seen, &seen), 0);
    assert_int_equal(seen.calls, 0);
    predictor_record_destroy(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_rejects_bad_config),
        cmocka_unit_test(test_record_hit_and_miss_update_stats_and_confidence),
        cmocka_unit_test(test_record_revision_replaces_and_full_drops_oldest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
