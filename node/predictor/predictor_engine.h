/*  predictor_engine.h - the predictor without the bus: series in, alerts
    and predictions out.

    Each sample goes to its series (predictor_series); when a series closes
    a bucket the engine fits its trend (predictor_trend), predicts the
    crossing of its failure threshold, calibrates the confidence by its
    record (predictor_record), classifies and holds the alert level
    (predictor_alert) and, on a level change, calls on_alert, and when the
    new level foresees a failure, on_prediction with the suggested action
    (predictor_advice).  Time is the caller's wall clock in Unix ms, passed
    in, so tests drive it.  The role (predictor.c) wires this to the node;
    the bench drives it directly.  Single-threaded. */

#ifndef PREDICTOR_ENGINE_H
#define PREDICTOR_ENGINE_H

#include "predictor_alert.h"
#include "predictor_record.h"
#include "predictor_series.h"
#include "proto_msg.h"
#include <stdbool.h>
#include <stdint.h>

#define PREDICTOR_REASON_MAX 320

typedef struct {
    predictor_series_cfg_t series;
    predictor_alert_cfg_t alert;
    predictor_record_cfg_t record;
    double rate_threshold; // error rate that counts as failing (0.5)
    double cpu_limit;      // CPU share (1 = one core) failing; 0: none
    int64_t period_ms;     // growth is stated per this period (a day)
    uint32_t min_points;   // buckets a trend needs (>= 3)
    uint32_t min_ops;      // attempts a bucket needs to count for a rate
    uint32_t scan_per_tick;// series checked per tick for closed buckets
    bool per_class;        // also track each error class of an op
} predictor_engine_cfg_t;

/*  One alert or prediction (strings borrowed for the call only). */
typedef struct {
    const char *agent;
    const char *series;     // "err:load_csv", "metric:rss_bytes"
    const char *op;         // operation (error series), else NULL
    const char *error_class;// dominant error class, or NULL
    proto_level_t level;
    proto_level_t previous;
    double value;           // current value of the series
    bool predicted;         // fail_at_ms / confidence are meaningful
    int64_t fail_at_ms;     // predicted crossing (Unix ms)
    double confidence;      // calibrated
    predictor_record_kind_t kind;
    const char *action;     // suggested preventive action
    const char *reason;     // in words
    uint64_t id;            // prediction id (on_prediction only)
} predictor_event_t;

typedef struct {
    void (*on_alert)(void *arg, const predictor_event_t *ev);
    void (*on_prediction)(void *arg, const predictor_event_t *ev);
    void (*on_outcome)(void *arg, uint64_t id, bool hit, double ttf_err);
    bool (*owns)(void *arg, const char *agent); // NULL: owns every agent
    void *arg;
} predictor_engine_hooks_t;

typedef struct {
    uint64_t samples;      // samples taken
    uint64_t analyses;     // trend fits run
    uint64_t alerts;       // level changes reported
    uint64_t predictions;  // predictions issued
    uint64_t rejected;     // samples refused (bad name, NaN, ...)
} predictor_engine_stats_t;

typedef struct predictor_engine predictor_engine_t;

/*  Defaults for every field (bucket 10 s, 32 buckets, 100000 series). */
void predictor_engine_cfg_default(predictor_engine_cfg_t *cfg);

/*  NULL when cfg is out of range or memory runs out.  `hooks` is copied
    (members may be NULL).  Caller destroys. */
predictor_engine_t *predictor_engine_new(const predictor_engine_cfg_t *cfg,
                                         const predictor_engine_hooks_t *hooks);
void predictor_engine_destroy(predictor_engine_t **self_p);

/*  Samples, at wall time now_ms.  Names come from validated messages;
    empty or over-long ones are counted as rejected. */
void predictor_engine_error(predictor_engine_t *self, int64_t now_ms,
                            const char *agent, const char *op,
                            const char *error_class);
void predictor_engine_success(predictor_engine_t *self, int64_t now_ms,
                              const char *agent, const char *op);
void predictor_engine_metric(predictor_engine_t *self, int64_t now_ms,
                             const char *agent, const char *name,
                             double value);
/*  An agent's hello: its memory limit (bytes, 0 unknown) becomes the
    failure threshold of its "metric:rss_bytes" series. */
void predictor_engine_hello(predictor_engine_t *self, int64_t now_ms,
                            const char *agent, uint64_t memory_limit);
/*  An agent heartbeat: RSS and the CPU share since the previous one. */
void predictor_engine_heartbeat(predictor_engine_t *self, int64_t now_ms,
                                const char *agent,
                                const proto_heartbeat_t *hb);

/*  Periodic work: analyse series whose bucket closed without a newer
    sample (scan_per_tick of them, round robin) and resolve predictions
    whose time has passed. */
void predictor_engine_tick(predictor_engine_t *self, int64_t now_ms);

/*  Next prediction id is above `id` (after reloading a journal). */
void predictor_engine_set_last_id(predictor_engine_t *self, uint64_t id);

predictor_record_t *predictor_engine_record(predictor_engine_t *self);
predictor_series_table_t *predictor_engine_series(predictor_engine_t *self);
const predictor_engine_stats_t *
predictor_engine_stats(const predictor_engine_t *self);

#endif
