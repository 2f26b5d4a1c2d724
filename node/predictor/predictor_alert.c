/*  predictor_alert.c - levels with hold time and hysteresis. */

#include "predictor_alert.h"

#include <assert.h>

#define S_MEDIUM_HORIZONS 4.0 // MEDIUM: crossing within 4 horizons

void
predictor_alert_init(predictor_alert_state_t *st)
{
    assert(st);
    st->level = PROTO_LEVEL_NONE;
    st->cand = PROTO_LEVEL_NONE;
    st->cand_since_ms = 0;
}

//  True when a crossing predicted `ttf_ms` ahead is within `span_ms`; a
//  level already held keeps it up to (1 + h) x span.
static bool
s_within(const predictor_alert_input_t *in, double span_ms, bool held,
         double h)
{
    double limit = held ? span_ms * (1.0 + h) : span_ms;
    return in->predicted && (double)in->ttf_ms <= limit;
}

proto_level_t
predictor_alert_classify(const predictor_alert_cfg_t *cfg,
                         const predictor_alert_input_t *in,
                         proto_level_t current)
{
    assert(cfg && in);
    double h = cfg->hysteresis;
    bool has_thr = in->threshold > 0;
    // Each level: entered at its own bound, kept down to (1 - h) x bound.
    double crit = in->threshold * (current >= PROTO_LEVEL_CRITICAL ? 1 - h : 1);
    if (has_thr && (current >= PROTO_LEVEL_CRITICAL ? in->value >= crit
                                                     : in->value > crit))
        return PROTO_LEVEL_CRITICAL;
    double min_conf = cfg->min_confidence *
                      (current >= PROTO_LEVEL_MEDIUM ? 1 - h : 1);
    if (in->confidence >= min_conf) {
        double horizon = (double)cfg->horizon_ms;
        if (s_within(in, horizon, current >= PROTO_LEVEL_HIGH, h))
            return PROTO_LEVEL_HIGH;
        if (s_within(in, horizon * S_MEDIUM_HORIZONS,
                     current >= PROTO_LEVEL_MEDIUM, h))
            return PROTO_LEVEL_MEDIUM;
    }
    // LOW: rising, or at half the threshold (kept down to (1-h) x half).
    double half = in->threshold * 0.5 *
                  (current >= PROTO_LEVEL_LOW ? 1 - h : 1);
    if (in->rising || (has_thr && in->value >= half))
        return PROTO_LEVEL_LOW;
    return PROTO_LEVEL_NONE;
}

bool
predictor_alert_step(const predictor_alert_cfg_t *cfg,
                     predictor_alert_state_t *st, proto_level_t raw,
                     int64_t now_ms, proto_level_t *previous)
{
    assert(cfg && st && previous);
    if (raw == st->level) {
        st->cand = (uint8_t)raw; // whatever was building up is forgotten
        return false;
    }
    if (raw != st->cand) {
        st->cand = (uint8_t)raw;
        st->cand_since_ms = now_ms;
    }
    if (now_ms - st->cand_since_ms < cfg->hold_ms)
        return false;
    *previous = (proto_level_t)st->level;
    st->level = (uint8_t)raw;
    return true;
}
