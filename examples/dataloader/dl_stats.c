/*  dl_stats.c - batched column statistics (see dl_stats.h).

    Medians are exact per batch and averaged over batches (weighted by
    rows): the sort per batch is the expensive part and what the deadline
    guards. */

#include "dl_stats.h"
#include "hb_clock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/*  Accumulate one batch of `n` rows starting at `first` into the sums. */
static void
s_batch(const dl_table_t *t, size_t first, size_t n, double *work,
        double *sum, double *sq, double *med, dl_stats_t *out)
{
    for (size_t c = 0; c < t->cols; c++) {
        for (size_t r = 0; r < n; r++) {
            double v = t->values[(first + r) * t->cols + c];
            work[r] = v;
            sum[c] += v;
            sq[c] += v * v;
            if (v < out->col[c].min)
                out->col[c].min = v;
            if (v > out->col[c].max)
                out->col[c].max = v;
        }
        qsort(work, n, sizeof *work, s_cmp);
        med[c] += work[n / 2] * (double)n;
    }
}

bool
dl_stats_compute(const dl_table_t *t, const dl_stats_opts_t *opts,
                 dl_stats_t *out, const char **error_class, char *why,
                 size_t why_len)
{
    size_t batch = opts->batch_size > 0 ? (size_t)opts->batch_size : 1;
    size_t need = batch * sizeof(double) * t->cols;
    if (need > DL_BATCH_BUDGET) {
        *error_class = "MemoryError";
        snprintf(why, why_len,
                 "a batch of %zu rows x %zu columns needs %zu bytes, over "
                 "the %d byte budget",
                 batch, t->cols, need, DL_BATCH_BUDGET);
        return false;
    }
    double *work = malloc(batch * sizeof *work);
    if (!work) {
        *error_class = "MemoryError";
        snprintf(why, why_len, "cannot allocate %zu bytes", need);
        return false;
    }
    double sum[DL_MAX_COLS] = {0}, sq[DL_MAX_COLS] = {0}, med[DL_MAX_COLS] = {0};
    memset(out, 0, sizeof *out);
    out->rows = t->rows;
    out->cols = t->cols;
    for (size_t c = 0; c < t->cols; c++) {
        out->col[c].min = INFINITY;
        out->col[c].max = -INFINITY;
    }
    int64_t start = hb_clock_mono_ms();
    bool ok = true;
    for (size_t first = 0; first < t->rows && ok; first += batch) {
        size_t n = t->rows - first < batch ? t->rows - first : batch;
        s_batch(t, first, n, work, sum, sq, med, out);
        int64_t spent = hb_clock_mono_ms() - start;
        if (spent > opts->timeout_ms) {
            *error_class = "TimeoutError";
            snprintf(why, why_len,
                     "statistics over %zu rows timed out: %lld ms spent, "
                     "deadline %lld ms", t->rows, (long long)spent,
                     (long long)opts->timeout_ms);
            ok = false;
        }
    }
    free(work);
    for (size_t c = 0; ok && c < t->cols; c++) {
        double n = (double)t->rows;
        double mean = sum[c] / n;
        out->col[c].mean = mean;
        out->col[c].stddev = sqrt(fmax(0.0, sq[c] / n - mean * mean));
        out->col[c].median = med[c] / n;
    }
    return ok;
}
