/*  predictor_trend.h - robust trend of a bucket series (analyze_patterns)
    and the time until it crosses a threshold (predict_failure).

    The slope is Theil-Sen's: the median of the slopes between every pair
    of points, so up to ~29% of the points can be outliers without moving
    it.  Two models are fitted, additive (y = a + b x) and multiplicative
    (ln y = a + b x, for growth such as "+10%/day"), and the one whose
    residuals are smaller (median absolute, in y) is kept.  The spread of
    the pairwise slopes gives an interval for the slope and so for the
    crossing time; the confidence says how narrow it is.  Acceleration is
    the change of slope between the older and the newer half. */

#ifndef PREDICTOR_TREND_H
#define PREDICTOR_TREND_H

#include "healbus.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PREDICTOR_TREND_MIN_POINTS 3
#define PREDICTOR_TREND_MAX_POINTS 256

typedef struct {
    uint32_t n;         // points used
    bool multiplicative;// true: slopes are of ln y
    double level;       // fitted value at the newest point (in y)
    double slope;       // Theil-Sen slope per x unit (of ln y when mult.)
    double slope_lo;    // 10th percentile of the pairwise slopes
    double slope_hi;    // 90th percentile
    double p_rising;    // fraction of pairwise slopes above zero
    double growth;      // relative growth per x unit at the newest point
    double accel;       // newer half's slope minus the older half's
    double spread;      // median absolute residual, in y
    double x_last;      // x of the newest point
} predictor_trend_t;

typedef struct {
    bool crosses;       // the fit reaches the threshold in the future
    double dx;          // ... after this many x units (0: already over)
    double dx_early;    // at the 90th percentile slope
    double dx_late;     // at the 10th (INFINITY when it may never cross)
    double confidence;  // [0, 1] from the fit alone
} predictor_trend_cross_t;

/*  Doubles of scratch space predictor_trend_analyze needs for n points. */
size_t predictor_trend_scratch_len(uint32_t n);

/*  Fit points (x[i], y[i]), x strictly increasing, n in MIN..MAX_POINTS,
    using `scratch` (predictor_trend_scratch_len(n) doubles).  HB_EINVAL
    when n is out of range or a value is not finite. */
hb_err_t predictor_trend_analyze(const double *x, const double *y, uint32_t n,
                                 double *scratch, predictor_trend_t *out);

/*  When does the fit reach `threshold` (> 0)?  A series already at or
    over it crosses at dx 0 with confidence 1. */
void predictor_trend_cross(const predictor_trend_t *t, double threshold,
                           predictor_trend_cross_t *out);

#endif
