/*  predictor_alert.h - alert levels for one series (alert_if_critical).

    classify() turns what the analysis saw (current value, predicted
    crossing) into a raw level: over the failure threshold is CRITICAL, a
    confident crossing within the horizon is HIGH, within four horizons is
    MEDIUM, a rising or elevated series is LOW.  Each level is entered at
    its threshold and left only past a lower one (hysteresis).  step() then
    raises or lowers the published level only when the raw level has held
    for hold_ms, so a one-bucket spike or a noisy series does not flap, and
    reports each change once. */

#ifndef PREDICTOR_ALERT_H
#define PREDICTOR_ALERT_H

#include "proto_msg.h"
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint8_t level;          // published level (proto_level_t)
    uint8_t cand;           // raw level being held
    int64_t cand_since_ms;  // when cand was first seen
} predictor_alert_state_t;

typedef struct {
    int64_t hold_ms;        // a raw level must persist this long, >= 0
    int64_t horizon_ms;     // crossing within this is HIGH (x4: MEDIUM)
    double hysteresis;      // in [0, 0.9]: leave a level at (1-h) x entry
    double min_confidence;  // below it a predicted crossing is only LOW
} predictor_alert_cfg_t;

typedef struct {
    double value;           // current value of the series
    double threshold;       // failure threshold; <= 0: none
    bool predicted;         // a crossing is predicted
    int64_t ttf_ms;         // ... this long from now
    double confidence;      // ... with this confidence
    bool rising;            // the trend is significantly upwards
} predictor_alert_input_t;

/*  A state at NONE. */
void predictor_alert_init(predictor_alert_state_t *st);

/*  The raw level for `in`, given the published level `current`. */
proto_level_t predictor_alert_classify(const predictor_alert_cfg_t *cfg,
                                       const predictor_alert_input_t *in,
                                       proto_level_t current);

/*  Feed the raw level seen at `now_ms`.  True when the published level
    changes; then *previous gets the old one and st->level the new. */
bool predictor_alert_step(const predictor_alert_cfg_t *cfg,
                          predictor_alert_state_t *st, proto_level_t raw,
                          int64_t now_ms, proto_level_t *previous);

#endif
