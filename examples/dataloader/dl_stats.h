/*  dl_stats.h - per-column statistics computed in batches.

    Each batch is copied into a working buffer of batch_size rows; the
    buffer must fit the per-batch memory budget (MemoryError otherwise),
    and the whole computation must finish within timeout_ms
    (TimeoutError otherwise).  Both limits are the agent's knobs. */

#ifndef DL_STATS_H
#define DL_STATS_H

#include "dl_table.h"

#define DL_BATCH_BUDGET (64 * 1024) // bytes of working buffer per batch

typedef struct {
    double mean, stddev, min, max, median;
} dl_col_stats_t;

typedef struct {
    size_t rows;
    size_t cols;
    dl_col_stats_t col[DL_MAX_COLS];
} dl_stats_t;

typedef struct {
    int64_t batch_size;  // rows per batch (knob batch_size)
    int64_t timeout_ms;  // deadline for the whole computation (knob)
} dl_stats_opts_t;

bool dl_stats_compute(const dl_table_t *table, const dl_stats_opts_t *opts,
                      dl_stats_t *out, const char **error_class, char *why,
                      size_t why_len);

#endif
