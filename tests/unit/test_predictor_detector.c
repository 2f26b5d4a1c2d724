/*  Tests for predictor_detector: quiet on steady noise, one alert per
    episode on steps and spikes, input rejection, determinism, and the
    state blob's round trip and rejections. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../node/predictor/predictor_detector.h"

#define STEP_MS 300000 // five-minute samples, as on most NAB series

//  Deterministic noise of unit variance from a 64-bit LCG: `terms` = 12
//  sums twelve uniforms (close to Gaussian), 1 gives bounded uniform noise.
typedef struct {
    uint64_t state;
    int terms;
} noise_t;

static double
s_noise(noise_t *n)
{
    double sum = 0;
    int terms = n->terms ? n->terms : 1;
    for (int i = 0; i < terms; i++) {
        n->state = n->state * UINT64_C(6364136223846793005) +
                   UINT64_C(1442695040888963407);
        sum += (double)(n->state >> 11) / 9007199254740992.0 - 0.5;
    }
    return sum * sqrt(12.0 / terms);
}

//  Feed `count` samples of 10 + noise (+ `offset`), from sample `start`;
//  returns the number of alerts and the index of the first in *first.
static int
s_feed(predictor_detector_t *d, noise_t *n, int start, int count, double offset,
       int *first)
{
    int alerts = 0;
    for (int i = start; i < start + count; i++) {
        predictor_result_t r;
        assert_int_equal(predictor_detector_update(d, (int64_t)i * STEP_MS,
                                                   10 + offset + s_noise(n),
                                                   &r),
                         PREDICTOR_DETECTOR_OK);
        assert_true(r.score >= 0 && r.score <= 1);
        assert_int_equal(r.alert, r.score >= 0.5);
        assert_int_equal(r.alert, r.level != PREDICTOR_LEVEL_NONE);
        if (r.alert && alerts++ == 0 && first)
            *first = i;
    }
    return alerts;
}

static void
test_steady_bounded_noise_raises_no_alert_after_warm_up(void **state)
{
    (void)state;
    predictor_detector_t *d = predictor_detector_new(NULL, NULL);
    assert_non_null(d);
    noise_t n = {1, 1};
    //  warm-up and run as long as NAB's artificialNoAnomaly files; longer
    //  runs meet chance alerts, see the next test
    s_feed(d, &n, 0, 750, 0, NULL);
    assert_int_equal(s_feed(d, &n, 750, 4000, 0, NULL), 0);
    predictor_detector_destroy(&d);
    assert_null(d);
}

//  Gaussian noise has no edge: its new extremes do look like anomalies now
//  and then. alpha bounds how often (per sample, before the refractory
//  period thins them further).
static void
test_gaussian_noise_alerts_no_more_often_than_alpha(void **state)
{
    (void)state;
    predictor_detector_cfg_t cfg;
    predictor_detector_cfg_default(&cfg);
    predictor_detector_t *d = predictor_detector_new(&cfg, NULL);
    noise_t n = {11, 12};
    s_feed(d, &n, 0, 750, 0, NULL);
    int alerts = s_feed(d, &n, 750, 20000, 0, NULL);
    assert_true(alerts <= 20000 * cfg.alpha);
    predictor_detector_destroy(&d);
}

static void
test_level_step_alerts_once_within_a_few_samples(void **state)
{
    (void)state;
    predictor_detector_t *d = predictor_detector_new(NULL, NULL);
    noise_t n = {2, 1};
    assert_int_equal(s_feed(d, &n, 0, 3000, 0, NULL) <= 1, 1);
    assert_int_equal(s_feed(d, &n, 3000, 1000, 0, NULL), 0);
    int first = -1;
    assert_int_equal(s_feed(d, &n, 4000, 2000, 8, &first), 1);
    assert_true(first >= 4000 && first < 4005);
    predictor_detector_destroy(&d);
}

static void
test_spike_alerts_at_once_and_only_once(void **state)
{
    (void)state;
    predictor_detector_t *d = predictor_detector_new(NULL, NULL);
    noise_t n = {3, 1};
    s_feed(d, &n, 0, 3000, 0, NULL);
    assert_int_equal(s_feed(d, &n, 3000, 1000, 0, NULL), 0);
    predictor_result_t r;
    assert_int_equal(predictor_detector_update(d, 4000LL * STEP_MS, 30, &r),
                     PREDICTOR_DETECTOR_OK);
    assert_true(r.alert);
    assert_true(r.level >= PREDICTOR_LEVEL_HIGH);
    assert_int_equal(s_feed(d, &n, 4001, 2000, 0, NULL), 0);
    predictor_detector_destroy(&d);
}

static void
test_update_rejects_non_finite_values_and_keeps_state(void **state)
{
    (void)state;
    predictor_detector_t *d = predictor_detector_new(NULL, NULL);
    noise_t n = {4, 1};
    s_feed(d, &n, 0, 100, 0, NULL);
    size_t len = predictor_detector_blob_size(d), got;
    unsigned char *before = malloc(len), *after = malloc(len);
    assert_int_equal(predictor_detector_save(d, before, len, &got), 0);
    predictor_result_t r;
    assert_int_equal(predictor_detector_update(d, 0, NAN, &r),
                     PREDICTOR_DETECTOR_EVALUE);
    assert_int_equal(predictor_detector_update(d, 0, INFINITY, &r),
                     PREDICTOR_DETECTOR_EVALUE);
    assert_int_equal(predictor_detector_update(d, 0, -INFINITY, &r),
                     PREDICTOR_DETECTOR_EVALUE);
    assert_int_equal(predictor_detector_save(d, after, len, &got), 0);
    assert_memory_equal(before, after, len);
    assert_int_equal(predictor_detector_samples(d), 100);
    free(before);
    free(after);
    predictor_detector_destroy(&d);
}

static void
test_same_input_gives_same_scores(void **state)
{
    (void)state;
    predictor_detector_t *a = predictor_detector_new(NULL, NULL);
    predictor_detector_t *b = predictor_detector_new(NULL, NULL);
    noise_t n = {5, 1};
    for (int i = 0; i < 5000; i++) {
        double v = 10 + s_noise(&n) + (i > 4000 ? 5 : 0);
        predictor_result_t ra, rb;
        predictor_detector_update(a, (int64_t)i * STEP_MS, v, &ra);
        predictor_detector_update(b, (int64_t)i * STEP_MS, v, &rb);
        assert_memory_equal(&ra.score, &rb.score, sizeof ra.score);
        assert_int_equal(ra.level, rb.level);
    }
    predictor_detector_destroy(&a);
    predictor_detector_destroy(&b);
}

static void
test_new_rejects_bad_configuration(void **state)
{
    (void)state;
    predictor_detector_cfg_t cfg;
    predictor_detector_cfg_default(&cfg);
    cfg.alpha = 0;
    predictor_detector_err_t why = PREDICTOR_DETECTOR_OK;
    assert_null(predictor_detector_new(&cfg, &why));
    assert_int_equal(why, PREDICTOR_DETECTOR_ECFG);
    predictor_detector_cfg_default(&cfg);
    cfg.history = 10;
    assert_null(predictor_detector_new(&cfg, &why));
    assert_int_equal(why, PREDICTOR_DETECTOR_ECFG);
    predictor_detector_destroy(NULL); // harmless
}

static void
test_level_names(void **state)
{
    (void)state;
    assert_string_equal(predictor_level_name(PREDICTOR_LEVEL_NONE), "NONE");
    assert_string_equal(predictor_level_name(PREDICTOR_LEVEL_CRITICAL),
                        "CRITICAL");
    assert_string_equal(predictor_level_name((predictor_level_t)99), "?");
}

//  A detector fed 3000 samples, its blob in *blob_p (caller frees).
static predictor_detector_t *
s_trained(unsigned char **blob_p, size_t *len_p)
{
    predictor_detector_t *d = predictor_detector_new(NULL, NULL);
    noise_t n = {6, 1};
    s_feed(d, &n, 0, 3000, 0, NULL);
    *len_p = predictor_detector_blob_size(d);
    *blob_p = malloc(*len_p);
    size_t got = 0;
    assert_int_equal(predictor_detector_save(d, *blob_p, *len_p, &got),
                     PREDICTOR_DETECTOR_OK);
    assert_int_equal(got, *len_p);
    return d;
}

static void
test_restored_detector_continues_identically(void **state)
{
    (void)state;
    unsigned char *blob;
    size_t len;
    predictor_detector_t *a = s_trained(&blob, &len);
    predictor_detector_err_t why;
    predictor_detector_t *b = predictor_detector_load(blob, len, &why);
    assert_non_null(b);
    assert_int_equal(why, PREDICTOR_DETECTOR_OK);
    assert_int_equal(predictor_detector_samples(b), 3000);
    noise_t n = {7, 1};
    for (int i = 3000; i < 4000; i++) {
        double v = 10 + s_noise(&n) + (i > 3500 ? 6 : 0);
        predictor_result_t ra, rb;
        predictor_detector_update(a, (int64_t)i * STEP_MS, v, &ra);
        predictor_detector_update(b, (int64_t)i * STEP_MS, v, &rb);
        assert_memory_equal(&ra.score, &rb.score, sizeof ra.score);
        assert_int_equal(ra.alert, rb.alert);
    }
    free(blob);
    predictor_detector_destroy(&a);
    predictor_detector_destroy(&b);
}

static void
s_expect_load_error(const unsigned char *blob, size_t len,
                    predictor_detector_err_t want)
{
    predictor_detector_err_t why = PREDICTOR_DETECTOR_OK;
    assert_null(predictor_detector_load(blob, len, &why));
    assert_int_equal(why, want);
}

static void
test_load_rejects_damaged_blobs(void **state)
{
    (void)state;
    unsigned char *blob;
    size_t len;
    predictor_detector_t *d = s_trained(&blob, &len);
    s_expect_load_error(blob, 10, PREDICTOR_DETECTOR_ETRUNC);
    s_expect_load_error(blob, len - 1, PREDICTOR_DETECTOR_ETRUNC);
    s_expect_load_error(NULL, 0, PREDICTOR_DETECTOR_ETRUNC);
    blob[len / 2] ^= 0x40; // a flipped bit in the arrays
    s_expect_load_error(blob, len, PREDICTOR_DETECTOR_ECHECKSUM);
    blob[len / 2] ^= 0x40;
    blob[0] ^= 1;
    s_expect_load_error(blob, len, PREDICTOR_DETECTOR_EMAGIC);
    blob[0] ^= 1;
    blob[4] = 9;
    s_expect_load_error(blob, len, PREDICTOR_DETECTOR_EVERSION);
    size_t got;
    assert_int_equal(predictor_detector_save(d, blob, len - 1, &got),
                     PREDICTOR_DETECTOR_ESPACE);
    free(blob);
    predictor_detector_destroy(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_steady_bounded_noise_raises_no_alert_after_warm_up),
        cmocka_unit_test(test_gaussian_noise_alerts_no_more_often_than_alpha),
        cmocka_unit_test(test_level_step_alerts_once_within_a_few_samples),
        cmocka_unit_test(test_spike_alerts_at_once_and_only_once),
        cmocka_unit_test(test_update_rejects_non_finite_values_and_keeps_state),
        cmocka_unit_test(test_same_input_gives_same_scores),
        cmocka_unit_test(test_new_rejects_bad_configuration),
        cmocka_unit_test(test_level_names),
        cmocka_unit_test(test_restored_detector_continues_identically),
        cmocka_unit_test(test_load_rejects_damaged_blobs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
