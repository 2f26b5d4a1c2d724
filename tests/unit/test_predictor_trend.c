/*  Tests of predictor_trend: exact fits, robustness, crossing times. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "predictor_trend.h"
#include <math.h>
#include <stdlib.h>

static double s_scratch[PREDICTOR_TREND_MAX_POINTS * PREDICTOR_TREND_MAX_POINTS];

static void
test_trend_linear_series_is_exact(void **state)
{
    (void)state;
    double x[10], y[10];
    for (int i = 0; i < 10; i++) {
        x[i] = i - 9;
        y[i] = 100 + 5 * i;
    }
    predictor_trend_t t;
    assert_int_equal(predictor_trend_analyze(x, y, 10, s_scratch, &t), HB_OK);
    assert_false(t.multiplicative);
    assert_float_equal(t.slope, 5, 1e-9);
    assert_float_equal(t.level, 145, 1e-9);
    assert_float_equal(t.p_rising, 1, 1e-12);
    predictor_trend_cross_t c;
    predictor_trend_cross(&t, 200, &c);
    assert_true(c.crosses);
    assert_float_equal(c.dx, 11, 1e-9);
    assert_float_equal(c.confidence, 1, 1e-9);
}

static void
test_trend_multiplicative_growth_is_found(void **state)
{
    (void)state;
    double x[8], y[8];
    for (int i = 0; i < 8; i++) {
        x[i] = i - 7;
        y[i] = 0.05 * pow(1.1, i);
    }
    predictor_trend_t t;
    assert_int_equal(predictor_trend_analyze(x, y, 8, s_scratch, &t), HB_OK);
    assert_true(t.multiplicative);
    assert_float_equal(t.growth, 0.1, 1e-9);
    predictor_trend_cross_t c;
    predictor_trend_cross(&t, 0.5, &c);
    // 0.05 * 1.1^(7 + dx) = 0.5
    assert_float_equal(c.dx, log(10) / log(1.1) - 7, 1e-6);
}

static void
test_trend_ignores_an_outlier(void **state)
{
    (void)state;
    double x[12], y[12];
    for (int i = 0; i < 12; i++) {
        x[i] = i;
        y[i] = 0.1;
    }
    y[6] = 0.95;
    predictor_trend_t t;
    assert_int_equal(predictor_trend_analyze(x, y, 12, s_scratch, &t), HB_OK);
    assert_float_equal(t.slope, 0, 1e-12);
    assert_float_equal(t.level, 0.1, 1e-12);
    predictor_trend_cross_t c;
    predictor_trend_cross(&t, 0.5, &c);
    assert_false(c.crosses);
}

static void
test_trend_rejects_bad_input(void **state)
{
    (void)state;
    double x[4] = {0, 1, 1, 2}, y[4] = {1, 2, 3, 4};
    predictor_trend_t t;
    assert_int_equal(predictor_trend_analyze(x, y, 4, s_scratch, &t),
                     HB_EINVAL); // x not increasing
    x[2] = 1.5;
    y[1] = NAN;
    assert_int_equal(predictor_trend_analyze(x, y, 4, s_scratch, &t),
                     HB_EINVAL);
    assert_int_equal(predictor_trend_analyze(x, y, 2, s_scratch, &t),
                     HB_EINVAL);
}

static void
test_trend_median_matches_sorting(void **state)
{
    (void)state;
    // Random points: the Theil-Sen slope equals the median of the sorted
    // pairwise slopes computed the slow way.
    srand(7);
    for (int round = 0; round < 50; round++) {
        int n = 3 + rand() % 30;
        double x[40], y[40], slopes[800] = {0};
        int m = 0;
        for (int i = 0; i < n; i++) {
            x[i] = i;
            y[i] = rand() % 100;
        }
        y[0] = 0; // a zero rules out the multiplicative model
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                slopes[m++] = (y[j] - y[i]) / (x[j] - x[i]);
        for (int i = 1; i < m; i++) // insertion sort: tiny and obviously right
            for (int j = i; j > 0 && slopes[j - 1] > slopes[j]; j--) {
                double tmp = slopes[j];
                slopes[j] = slopes[j - 1];
                slopes[j - 1] = tmp;
            }
        double med = m % 2 ? slopes[m / 2]
                           : (slopes[m / 2 - 1] + slopes[m / 2]) / 2;
        predictor_trend_t t;
        assert_int_equal(predictor_trend_analyze(x, y, (uint32_t)n, s_scratch,
                                                 &t), HB_OK);
        assert_false(t.multiplicative);
        assert_float_equal(t.slope, med, 1e-9);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trend_linear_series_is_exact),
        cmocka_unit_test(test_trend_multiplicative_growth_is_found),
        cmocka_unit_test(test_trend_ignores_an_outlier),
        cmocka_unit_test(test_trend_rejects_bad_input),
        cmocka_unit_test(test_trend_median_matches_sorting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
