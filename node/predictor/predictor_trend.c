/*  predictor_trend.c - Theil-Sen fits, additive and multiplicative. */

#include "predictor_trend.h"

#include <assert.h>
#include <math.h>
#include <string.h>

//  The k-th smallest of a[0..n) (Hoare's selection; reorders a).
static double
s_select(double *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        double pivot = a[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i <= j) {
                double t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return a[k];
    }
    return a[k];
}

static double
s_median(double *a, size_t n)
{
    double hi = s_select(a, n, n / 2);
    if (n % 2)
        return hi;
    double lo = s_select(a, n / 2, n / 2 - 1); // the lower half is below
    return (lo + hi) / 2;
}

size_t
predictor_trend_scratch_len(uint32_t n)
{
    return (size_t)n * (n - 1) / 2 + 2 * (size_t)n;
}

typedef struct {
    double slope, lo, hi, p_rising, icept;
} s_fit_t;

//  Theil-Sen over points [from, to) of (x, v); pairs go in `pairs`.
static void
s_theil_sen(const double *x, const double *v, uint32_t from, uint32_t to,
            double *pairs, double *resid, s_fit_t *fit)
{
    size_t m = 0, up = 0;
    for (uint32_t i = from; i < to; i++)
        for (uint32_t j = i + 1; j < to; j++) {
            double s = (v[j] - v[i]) / (x[j] - x[i]);
            pairs[m++] = s;
            up += s > 0;
        }
    fit->p_rising = (double)up / (double)m;
    fit->lo = s_select(pairs, m, (size_t)(0.1 * (double)(m - 1)));
    fit->hi = s_select(pairs, m, (size_t)ceil(0.9 * (double)(m - 1)));
    fit->slope = s_median(pairs, m);
    uint32_t k = 0;
    for (uint32_t i = from; i < to; i++)
        resid[k++] = v[i] - fit->slope * x[i];
    fit->icept = s_median(resid, k);
}

//  Median absolute residual, in y, of a fit in model space (log or not).
static double
s_spread(const double *x, const double *y, uint32_t n, const s_fit_t *fit,
         bool mult, double *resid)
{
    for (uint32_t i = 0; i < n; i++) {
        double f = fit->icept + fit->slope * x[i];
        resid[i] = fabs(y[i] - (mult ? exp(f) : f));
    }
    return s_median(resid, n);
}

hb_err_t
predictor_trend_analyze(const double *x, const double *y, uint32_t n,
                        double *scratch, predictor_trend_t *out)
{
    assert(x && y && scratch && out);
    if (n < PREDICTOR_TREND_MIN_POINTS || n > PREDICTOR_TREND_MAX_POINTS)
        return HB_EINVAL;
    bool positive = true;
    for (uint32_t i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]) || (i && x[i] <= x[i - 1]))
            return HB_EINVAL;
        positive = positive && y[i] > 0;
    }
    double *pairs = scratch, *logs = scratch + (size_t)n * (n - 1) / 2,
           *resid = logs + n;
    s_fit_t lin, fit;
    s_theil_sen(x, y, 0, n, pairs, resid, &lin);
    double lin_spread = s_spread(x, y, n, &lin, false, resid);
    bool mult = false;
    fit = lin;
    double spread = lin_spread;
    if (positive) {
        for (uint32_t i = 0; i < n; i++)
            logs[i] = log(y[i]);
        s_fit_t lg;
        s_theil_sen(x, logs, 0, n, pairs, resid, &lg);
        double lg_spread = s_spread(x, y, n, &lg, true, resid);
        if (lg_spread < lin_spread) {
            mult = true;
            fit = lg;
            spread = lg_spread;
        }
    }
    const double *v = mult ? logs : y;
    memset(out, 0, sizeof *out);
    out->n = n;
    out->multiplicative = mult;
    out->slope = fit.slope;
    out->slope_lo = fit.lo;
    out->slope_hi = fit.hi;
    out->p_rising = fit.p_rising;
    out->spread = spread;
    out->x_last = x[n - 1];
    double f = fit.icept + fit.slope * x[n - 1];
    out->level = mult ? exp(f) : f;
    out->growth = mult ? expm1(fit.slope)
                       : (out->level > 0 ? fit.slope / out->level : 0);
    if (n >= 6) {
        s_fit_t older, newer;
        s_theil_sen(x, v, 0, n / 2, pairs, resid, &older);
        s_theil_sen(x, v, n / 2, n, pairs, resid, &newer);
        out->accel = newer.slope - older.slope;
    }
    return HB_OK;
}

//  x units to go from `level` to `thr` at `slope` (model space).
static double
s_dx(const predictor_trend_t *t, double thr, double slope)
{
    if (!(slope > 0))
        return INFINITY;
    double gap = t->multiplicative ? log(thr) - log(t->level)
                                   : thr - t->level;
    return gap / slope;
}

void
predictor_trend_cross(const predictor_trend_t *t, double threshold,
                      predictor_trend_cross_t *out)
{
    assert(t && out && threshold > 0);
    memset(out, 0, sizeof *out);
    if (t->level >= threshold) {
        out->crosses = true;
        out->confidence = 1;
        return;
    }
    if (t->multiplicative && !(t->level > 0))
        return;
    out->dx = s_dx(t, threshold, t->slope);
    out->dx_early = s_dx(t, threshold, t->slope_hi);
    out->dx_late = s_dx(t, threshold, t->slope_lo);
    out->crosses = isfinite(out->dx);
    if (!out->crosses)
        return;
    // Narrow interval relative to the distance and nearly all pairwise
    // slopes rising: confident.  An open-ended interval (the 10th
    // percentile slope is not rising) halves it at least.
    double width = isfinite(out->dx_late) ? (out->dx_late - out->dx_early)
                                          : 4 * out->dx;
    double sharp = 1.0 / (1.0 + width / (2.0 * out->dx));
    out->confidence = sharp * t->p_rising;
}
