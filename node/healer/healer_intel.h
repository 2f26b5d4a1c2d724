/*  healer_intel - the healer's error intelligence (the seed's Phase 2).
    Counts errors and successes per (agent, operation, error class) with
    first/last seen; groups error texts into patterns (error class plus the
    template the online miner gives the text); per pattern it watches for
    bursts (a window far above the pattern's baseline), the trend over the
    last windows, and which agents share it. Patterns key the healer's
    learning. Tables are bounded; the least recently used row is evicted.
    Single-threaded. */
#ifndef HEALER_INTEL_H
#define HEALER_INTEL_H

#include "healer_learn.h"
#include "healer_templates.h"
#include "hb_log.h"
#include "proto_msg.h"
#include <stdbool.h>
#include <stdint.h>

#define HEALER_INTEL_TEMPLATE_MAX 256 // bytes of a template kept
#define HEALER_INTEL_AGENTS 8         // agent names kept per pattern
#define HEALER_INTEL_HISTORY 6        // closed windows kept per pattern

typedef enum {
    HEALER_TREND_FLAT = 0,
    HEALER_TREND_RISING,
    HEALER_TREND_FALLING
} healer_trend_t;

typedef struct {
    uint32_t max_series;    // (agent, op, class) rows (4096)
    uint32_t max_patterns;  // patterns (1024)
    int64_t window_ms;      // burst/trend window (10000)
    uint32_t burst_min;     // errors in a window before it can be a burst (5)
    double burst_factor;    // ... and this many times the baseline (4)
} healer_intel_cfg_t;

typedef struct {
    uint32_t template_id;
    char error_class[PROTO_MAX_CLASS + 1];
    char template_text[HEALER_INTEL_TEMPLATE_MAX + 1];
    char key[HEALER_LEARN_KEY_MAX + 1];     // "<class>|<template>"
    char renamed_from[HEALER_LEARN_KEY_MAX + 1]; // key before this call's
                                            // generalisation, else ""
    uint64_t errors;                        // error reports seen
    int64_t first_us, last_us;              // wall clock
    // windows
    int64_t window_start_ms;
    uint32_t window_count;
    uint32_t history[HEALER_INTEL_HISTORY]; // closed windows, newest first
    uint32_t n_history;
    double baseline;                        // errors per window (EWMA)
    bool in_burst;
    uint64_t bursts;
    // sharing
    char agents[HEALER_INTEL_AGENTS][PROTO_MAX_ID + 1];
    uint32_t n_agents;                      // distinct agents kept
    bool more_agents;                       // more than HEALER_INTEL_AGENTS
    uint64_t used;
    bool live;
} healer_intel_pattern_t;

typedef struct {
    uint64_t errors;
    uint64_t successes;     // of the (agent, op), all classes
    double error_rate;      // errors / (errors + successes of the op)
    int64_t first_us, last_us;
} healer_intel_series_t;

typedef struct healer_intel healer_intel_t;

void
healer_intel_cfg_defaults(healer_intel_cfg_t *cfg);

/*  `miner` is borrowed (healer_intel_set_miner replaces it). NULL on bad
    config or out of memory. Caller destroys. */
healer_intel_t *
healer_intel_new(const healer_intel_cfg_t *cfg, healer_templates_t *miner,
                 hb_log_t *log);
void
healer_intel_destroy(healer_intel_t **self_p);
void
healer_intel_set_miner(healer_intel_t *self, healer_templates_t *miner);

/*  One error report. Returns its pattern (borrowed until the next call),
    or NULL if the miner could not place the text. */
const healer_intel_pattern_t *
healer_intel_error(healer_intel_t *self, const char *agent, const char *op,
                   const char *error_class, const char *text, int64_t now_ms,
                   int64_t wall_us);

/*  One success report. */
void
healer_intel_success(healer_intel_t *self, const char *agent, const char *op,
                     int64_t wall_us);

/*  The pattern of a heal request's error (not counted as an error: its
    attempts were reported one by one). Borrowed; NULL as above. */
const healer_intel_pattern_t *
healer_intel_classify(healer_intel_t *self, const char *agent,
                      const char *error_class, const char *text,
                      int64_t now_ms);

/*  Counts for (agent, op, class); false when unknown. */
bool
healer_intel_series(const healer_intel_t *self, const char *agent,
                    const char *op, const char *error_class,
                    healer_intel_series_t *out);

/*  Trend of a pattern over its last closed windows. */
healer_trend_t
healer_intel_trend(const healer_intel_pattern_t *pattern);

/*  Live patterns shared by at least two agents. */
uint32_t
healer_intel_shared_patterns(const healer_intel_t *self);

/*  Counters for the node heartbeat. */
uint32_t
healer_intel_counters(const healer_intel_t *self, proto_counter_t *out,
                      uint32_t cap);

#endif
