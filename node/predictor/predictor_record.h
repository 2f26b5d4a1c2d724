/*  predictor_record.h - the predictor's own track record.

    Every prediction issued is remembered as pending until it resolves: a
    HIT when its series crosses the threshold between the prediction and
    the predicted time plus a tolerance window, a MISS when that window
    passes without a crossing.  Hits also record the time-to-failure error
    (crossing time minus predicted time, relative to the lead time).  Per
    series kind (error rate, metric) the hit rate, smoothed by a Beta prior,
    scales the confidence the predictor states (calibrate).  A revised
    prediction for the same series replaces its pending one unscored. */

#ifndef PREDICTOR_RECORD_H
#define PREDICTOR_RECORD_H

#include "healbus.h"
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    PREDICTOR_RECORD_RATE = 0, // error-rate series (op or class)
    PREDICTOR_RECORD_METRIC,   // metric series
    PREDICTOR_RECORD_KINDS
} predictor_record_kind_t;

typedef struct {
    uint64_t hits;
    uint64_t misses;
    double ttf_err_sum;    // sum of |crossed - predicted| / lead, over hits
    double ttf_bias_sum;   // sum of (crossed - predicted) / lead (< 0: early)
} predictor_record_stats_t;

typedef struct {
    uint32_t max_pending;  // predictions awaiting their outcome, >= 1
    double tolerance;      // window after the predicted time, as a fraction
                           // of the lead time, >= 0
    int64_t min_window_ms; // ... but at least this long
    double prior_hits;     // Beta prior (pseudo-counts), > 0
    double prior_misses;   // > 0
} predictor_record_cfg_t;

/*  Called when a pending prediction resolves. */
typedef void(predictor_record_fn)(void *arg, uint64_t id, bool hit,
                                  double ttf_err);

typedef struct predictor_record predictor_record_t;

/*  NULL when cfg is out of range or out of memory.  Caller destroys. */
predictor_record_t *predictor_record_new(const predictor_record_cfg_t *cfg);
void predictor_record_destroy(predictor_record_t **self_p);

/*  Remember prediction `id` for series `series_hash` made at issued_ms for
    fail_at_ms (> issued_ms).  Replaces a pending one of the same series.
    When full the oldest pending prediction is forgotten unscored. */
void predictor_record_expect(predictor_record_t *self, uint64_t id,
                             uint64_t series_hash,
                             predictor_record_kind_t kind, int64_t issued_ms,
                             int64_t fail_at_ms);

/*  The series crossed its threshold at now_ms: its pending prediction (if
    any) is a hit.  Returns the number resolved (0 or 1). */
uint32_t predictor_record_crossed(predictor_record_t *self,
                                  uint64_t series_hash, int64_t now_ms,
                                  predictor_record_fn *fn, void *arg);

/*  Resolve as misses the predictions whose window ended before now_ms. */
uint32_t predictor_record_expire(predictor_record_t *self, int64_t now_ms,
                                 predictor_record_fn *fn, void *arg);

/*  Confidence to state: fit_conf x (hits + a) / (hits + misses + a + b). */
double predictor_record_calibrate(const predictor_record_t *self,
                                  predictor_record_kind_t kind,
                                  double fit_conf);

/*  Statistics of one kind (borrowed), replaced wholesale by _set (used
    when the journal is reloaded), and pending predictions now. */
const predictor_record_stats_t *
predictor_record_stats(const predictor_record_t *self,
                       predictor_record_kind_t kind);
void predictor_record_set(predictor_record_t *self,
                          predictor_record_kind_t kind,
                          const predictor_record_stats_t *stats);
uint32_t predictor_record_pending(const predictor_record_t *self);

/*  "error_rate" / "metric". */
const char *predictor_record_kind_name(predictor_record_kind_t kind);

#endif
