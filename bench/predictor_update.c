/*  predictor_update - speed and memory of the predictor's update path.

    Drives predictor_engine directly (no bus): every sample is a series
    lookup and a bucket update, and each series closes a bucket every
    SAMPLES_PER_BUCKET of its samples, which moves it in the LRU list and
    runs its trend fit, alert and advice (the periodic work, amortised over
    the samples).  One error in ten also updates its error-class series.
    Prints samples per second on one core (per wall second and per CPU
    second of the process) and memory per tracked series
    (malloc'ed bytes per series, from mallinfo2, and the table's own
    accounting), at 10,000 and 1,000,000 series, with the same number of
    samples per series at both sizes (so the same share of trend fits).
    Usage: predictor_update [samples_per_series, default 120]. */

#include "predictor_engine.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SAMPLES_PER_BUCKET 20
#define BUCKET_MS 10000
#define T0_MS 1700000000000LL

static double
s_now_s(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t
s_heap(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd; // small blocks + mmapped ones
}

static int
s_run(uint32_t n_series, uint32_t per_series)
{
    char (*names)[24] = malloc((size_t)n_series * sizeof *names);
    if (!names)
        return 1;
    for (uint32_t i = 0; i < n_series; i++)
        snprintf(names[i], sizeof names[i], "agent-%07u", i);

    predictor_engine_cfg_t cfg;
    predictor_engine_cfg_default(&cfg);
    cfg.series.bucket_ms = BUCKET_MS;
    cfg.series.max_series = n_series * 2; // room for the class series
    cfg.alert.hold_ms = 3 * BUCKET_MS;
    cfg.alert.horizon_ms = 20 * BUCKET_MS;
    size_t before = s_heap();
    predictor_engine_t *e = predictor_engine_new(&cfg, NULL);
    if (!e) {
        free(names);
        return 1;
    }
    size_t empty = s_heap();
    for (uint32_t i = 0; i < n_series; i++)
        predictor_engine_success(e, T0_MS, names[i], "load_csv");
    size_t full = s_heap();
    predictor_series_table_t *t = predictor_engine_series(e);
    printf("series %8u: %6.1f bytes/series malloc'ed (table says %.1f), "
           "engine fixed part %zu bytes\n",
           n_series, (double)(full - empty) / n_series,
           (double)predictor_series_bytes(t) / n_series, empty - before);

    // Samples visit series in a scattered order; simulated time advances
    // so that each series sees SAMPLES_PER_BUCKET samples per bucket.
    uint64_t total = (uint64_t)n_series * per_series;
    double ms_per_sample =
        (double)BUCKET_MS / ((double)SAMPLES_PER_BUCKET * n_series);
    double start = s_now_s(CLOCK_MONOTONIC);
    double cpu0 = s_now_s(CLOCK_PROCESS_CPUTIME_ID);
    for (uint64_t i = 0; i < total; i++) {
        uint32_t k = (uint32_t)((i * 2654435761u) % n_series);
        int64_t now = T0_MS + BUCKET_MS + (int64_t)((double)i * ms_per_sample);
        if (i % 10 == 0)
            predictor_engine_error(e, now, names[k], "load_csv",
                                   "TimeoutError");
        else
            predictor_engine_success(e, now, names[k], "load_csv");
    }
    double secs = s_now_s(CLOCK_MONOTONIC) - start;
    double cpu = s_now_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    const predictor_engine_stats_t *st = predictor_engine_stats(e);
    // per CPU second as well: on a shared machine the wall clock also
    // counts the time other jobs held the core
    printf("series %8u: %.2f M samples/s wall, %.2f M per CPU s (%llu "
           "samples in %.2f s, %.2f s CPU, %llu trend fits, %llu series)\n",
           n_series, (double)total / secs / 1e6, (double)total / cpu / 1e6,
           (unsigned long long)total, secs, cpu,
           (unsigned long long)st->analyses,
           (unsigned long long)predictor_series_count(t));
    predictor_engine_destroy(&e);
    free(names);
    return 0;
}

int
main(int argc, char **argv)
{
    uint32_t per_series = 120;
    if (argc > 1) {
        char *end;
        unsigned long v = strtoul(argv[1], &end, 10);
        if (*end || v < 1 || v > 100000) {
            fprintf(stderr, "usage: predictor_update [samples_per_series "
                            "1..100000]\n");
            return 2;
        }
        per_series = (uint32_t)v;
    }
    if (s_run(10000, per_series) || s_run(1000000, per_series)) {
        fprintf(stderr, "predictor_update: out of memory\n");
        return 1;
    }
    return 0;
}
