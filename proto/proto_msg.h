/*  proto_msg.h - the in-memory form of every healbus message.

    A message is a topic "<kind>.<subject>" plus a body: a header common to
    all kinds (version, sender, sequence, timestamp) and one kind-specific
    part.  Strings are NUL-terminated and live in an arena owned by the
    message (decoded messages) or are borrowed from the caller (messages
    built for encoding); either way they are read-only.  Field meanings,
    wire names, types and limits are documented in PROTOCOL.md. */

#ifndef PROTO_MSG_H
#define PROTO_MSG_H

#include "proto_limits.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    PROTO_KIND_HELLO = 0, // "hello":  agent announces knobs and actions
    PROTO_KIND_HEARTBEAT, // "hb":     agent liveness, drops, RSS, CPU
    PROTO_KIND_ERROR,     // "err":    one failed attempt of an operation
    PROTO_KIND_SUCCESS,   // "ok":     an operation succeeded
    PROTO_KIND_METRIC,    // "metric": a named sample
    PROTO_KIND_HEAL,      // "heal":   retries exhausted, please fix
    PROTO_KIND_FIX,       // "fix":    a fix command for one agent
    PROTO_KIND_FIXRES,    // "fixres": what the agent did with a fix
    PROTO_KIND_PREDICTION,// "pred":   a foreseen failure
    PROTO_KIND_ALERT,     // "alert":  a level change for a series
    PROTO_KIND_ESCALATION,// "esc":    healing gave up; a human is needed
    PROTO_KIND_NODE,      // "node":   node heartbeat with counters
    PROTO_KIND_ASK,       // "ask":    node asks agents to re-announce
    PROTO_KIND_STATS,     // "stats":  broker counters
    PROTO_KIND_COUNT
} proto_kind_t;

/*  A dynamically typed value (knob values, fix arguments). */
typedef enum {
    PROTO_VAL_NIL = 0,
    PROTO_VAL_INT,
    PROTO_VAL_DOUBLE,
    PROTO_VAL_BOOL,
    PROTO_VAL_STR
} proto_vtype_t;

typedef struct {
    proto_vtype_t type;
    union {
        int64_t i;
        double d;
        bool b;
        const char *s;
    } u;
} proto_value_t;

typedef struct {
    const char *name;
    proto_value_t value;
} proto_pair_t;

typedef struct {
    const char *name;
    uint64_t value;
} proto_counter_t;

/* ------------------------------------------------------------- bodies -- */

typedef enum {
    PROTO_KNOB_INT = 0,
    PROTO_KNOB_DOUBLE,
    PROTO_KNOB_BOOL,
    PROTO_KNOB_ENUM
} proto_knob_type_t;

typedef struct {
    const char *name;
    proto_knob_type_t type;
    proto_value_t value; // current value (enum: PROTO_VAL_STR)
    proto_value_t min;   // numeric knobs only, same type as value
    proto_value_t max;
    const char *choices[PROTO_MAX_CHOICES]; // enum knobs only
    uint32_t n_choices;
} proto_knob_t;

typedef enum {
    PROTO_ARG_NONE = 0,
    PROTO_ARG_INT,
    PROTO_ARG_DOUBLE,
    PROTO_ARG_STRING
} proto_arg_type_t;

typedef struct {
    const char *name;
    proto_arg_type_t arg;
} proto_action_t;

typedef struct {
    uint32_t pid;
    const char *host;
    uint64_t memory_limit; // bytes, 0 = unknown
    proto_knob_t knobs[PROTO_MAX_KNOBS];
    uint32_t n_knobs;
    proto_action_t actions[PROTO_MAX_ACTIONS];
    uint32_t n_actions;
} proto_hello_t;

typedef struct {
    uint64_t sent;       // reports accepted so far
    uint64_t drops;      // reports dropped so far (queue/HWM)
    uint64_t rss_bytes;  // resident set size, from /proc
    uint64_t cpu_us;     // user+system CPU time, from /proc
    uint64_t uptime_ms;
} proto_heartbeat_t;

typedef struct {
    const char *op;
    const char *error_class;
    const char *text;
    uint32_t attempt;
    uint32_t max_attempts;
} proto_error_t;

typedef struct {
    const char *op;
    uint64_t duration_us;
    proto_pair_t knobs[PROTO_MAX_KNOBS]; // knob values in force
    uint32_t n_knobs;
} proto_success_t;

typedef struct {
    const char *name;
    double value;
} proto_metric_t;

typedef enum {
    PROTO_HEAL_WAIT = 0, // the agent is waiting for a fix
    PROTO_HEAL_ASYNC     // the agent applies a fix on its next call
} proto_heal_mode_t;

typedef struct {
    uint64_t req_id; // unique per agent
    const char *op;
    const char *error_class;
    const char *text;
    uint32_t attempts;
    proto_heal_mode_t mode;
} proto_heal_t;

typedef enum {
    PROTO_STEP_SET = 0, // knob = value
    PROTO_STEP_MUL,     // knob *= value, clamped to the knob's bounds
    PROTO_STEP_DIV,     // knob /= value, clamped to the knob's bounds
    PROTO_STEP_ADD,     // knob += value, clamped to the knob's bounds
    PROTO_STEP_ACTION   // run the action `target` with `value` as argument
} proto_step_op_t;

typedef struct {
    proto_step_op_t op;
    const char *target;  // knob or action name
    proto_value_t value; // NIL for an action without argument
} proto_step_t;

typedef struct {
    const char *fix_id;  // unique; the agent applies a fix id at most once
    uint64_t req_id;     // the heal request answered (0 = unsolicited)
    const char *op;      // the operation the fix is for
    const char *name;    // catalog name, e.g. "raise_timeout"
    int64_t expires_us;  // absolute wall-clock expiry (us since epoch)
    bool test;           // true: test-then-commit; false: apply directly
    proto_step_t steps[PROTO_MAX_STEPS];
    uint32_t n_steps;
} proto_fix_t;

typedef enum {
    PROTO_OUTCOME_COMMITTED = 0, // applied, test passed, kept
    PROTO_OUTCOME_ROLLED_BACK,   // applied, test failed, restored
    PROTO_OUTCOME_REJECTED,      // refused before applying (see reason)
    PROTO_OUTCOME_DUPLICATE,     // fix id already handled; not reapplied
    PROTO_OUTCOME_COUNT
} proto_outcome_t;

typedef struct {
    const char *fix_id;
    uint64_t req_id;
    const char *op;
    proto_outcome_t outcome;
    const char *reason; // hb_err_str() code name or free text
    uint64_t test_us;   // duration of the test run
} proto_fixres_t;

typedef enum {
    PROTO_LEVEL_NONE = 0,
    PROTO_LEVEL_LOW,
    PROTO_LEVEL_MEDIUM,
    PROTO_LEVEL_HIGH,
    PROTO_LEVEL_CRITICAL,
    PROTO_LEVEL_COUNT
} proto_level_t;

typedef struct {
    const char *agent;      // the worker predicted to fail
    const char *series;     // e.g. "err:load_csv" or "metric:rss"
    int64_t fail_at_us;     // predicted failure time (us since epoch)
    double confidence;      // [0, 1]
    const char *reason;     // in words
    const char *action;     // suggested preventive action
    proto_level_t level;
} proto_prediction_t;

typedef struct {
    const char *agent;
    const char *series;
    proto_level_t level;
    proto_level_t previous;
    double value;           // the value that triggered the change
    const char *reason;
} proto_alert_t;

typedef struct {
    const char *fix_id;
    const char *name;
    proto_outcome_t outcome;
    const char *reason;
} proto_tried_t;

typedef struct {
    const char *agent;
    const char *op;
    const char *error_class;
    const char *template_text;  // the error's template
    const char *reason;         // why healing gave up
    proto_tried_t history[PROTO_MAX_HISTORY];
    uint32_t n_history;
} proto_escalation_t;

typedef struct {
    const char *role;       // "healer", "predictor", "broker", ...
    uint64_t uptime_ms;
    proto_counter_t counters[PROTO_MAX_COUNTERS];
    uint32_t n_counters;
} proto_node_t;             // used by both "node" and "stats" kinds

typedef struct {
    const char *target;     // agent name, or "*" for every agent
} proto_ask_t;

/* ------------------------------------------------------------ message -- */

typedef struct {
    proto_kind_t kind;
    const char *subject;   // topic after "<kind>." (agent or node id)
    uint32_t version;      // PROTO_VERSION on encode
    const char *sender;    // sender id
    uint64_t seq;          // per-sender sequence number, from 1
    int64_t ts_us;         // wall clock, microseconds since the Unix epoch
    union {
        proto_hello_t hello;
        proto_heartbeat_t heartbeat;
        proto_error_t error;
        proto_success_t success;
        proto_metric_t metric;
        proto_heal_t heal;
        proto_fix_t fix;
        proto_fixres_t fixres;
        proto_prediction_t prediction;
        proto_alert_t alert;
        proto_escalation_t escalation;
        proto_node_t node;  // PROTO_KIND_NODE and PROTO_KIND_STATS
        proto_ask_t ask;
    } u;
    char *arena;           // owned by decoded messages: holds the strings
} proto_msg_t;

/*  Wire name of a kind ("err"), or NULL when out of range. */
const char *proto_msg_kind_name(proto_kind_t kind);
/*  Kind for a wire name of `len` bytes; returns false when unknown. */
bool proto_msg_kind_parse(const char *name, size_t len, proto_kind_t *kind);

const char *proto_msg_level_name(proto_level_t level);     // "HIGH"
const char *proto_msg_outcome_name(proto_outcome_t outcome); // "committed"
/*  Wire names of the other enums ("mul", "async", "double", "string"), or
    NULL when out of range. */
const char *proto_msg_step_name(proto_step_op_t op);
const char *proto_msg_mode_name(proto_heal_mode_t mode);
const char *proto_msg_knob_type_name(proto_knob_type_t type);
const char *proto_msg_arg_name(proto_arg_type_t arg);

/*  Reset `msg` to an empty message of `kind` (all fields zero). */
void proto_msg_init(proto_msg_t *msg, proto_kind_t kind);

/*  Free the arena of a decoded message and zero it.  Safe on messages
    built for encoding (arena NULL). */
void proto_msg_clear(proto_msg_t *msg);

#endif
