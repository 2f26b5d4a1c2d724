/*  predictor.h - the predictor role (the seed's PredictionEngine).

    `healbus-node --role predictor` subscribes to errors, successes,
    metrics, hellos and heartbeats, keeps bounded per-series trends
    (predictor_engine), publishes `alert.<agent>` on each level change and
    `pred.<agent>` when it foresees a failure, journals predictions and its
    hit rate in `.predictions.json`, and with `act = true` asks the healer
    to apply the suggested action early.  Config keys: docs/prediction.md. */

#ifndef PREDICTOR_H
#define PREDICTOR_H

#include "node_role.h"

extern const node_role_t predictor_role;

#endif
