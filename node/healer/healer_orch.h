/*  healer_orch - the healer's orchestration (the seed's AutoHealer): heal
    request -> choose a candidate fix -> send it -> wait for its result ->
    learn, try the next candidate, or escalate to a human. Never two fixes
    in flight for one (agent, operation); a fix without a result in time is
    resent with the same fix id; healing per agent is rate-limited like an
    OTP supervisor (intensity per period). Everything it sends goes out from
    the call that caused it, so latency is one message hop. Time, publishing
    and journaling are injected (healer_orch_env_t) so unit tests drive it
    with a fake clock. Single-threaded. */
#ifndef HEALER_ORCH_H
#define HEALER_ORCH_H

#include "hb_log.h"
#include "healbus.h"
#include "healer_catalog.h"
#include "healer_learn.h"
#include "proto_msg.h"
#include <stdbool.h>
#include <stdint.h>

typedef struct healer_orch healer_orch_t;

/*  One finished fix attempt, reported to the journal. Borrowed strings. */
typedef struct {
    const char *agent;
    const char *op;
    const char *error_class;
    const char *pattern;       // learning key
    const char *template_text; // the error's template
    const char *fix_id;
    const char *fix_name;      // catalog name
    const char *fix_text;      // the steps, e.g. "mul timeout_ms 2"
    const char *outcome;       // "committed", "rolled_back", "rejected",
                               // "no_result"
    const char *reason;        // the agent's reason, or ours
    bool success;
    uint32_t attempt;          // 1 for the first candidate of an episode
    int64_t wall_us;
} healer_orch_outcome_t;

typedef struct {
    void *arg; // passed to every callback, borrowed
    /*  Publish (the runtime fills the header); never blocks. */
    hb_err_t (*publish)(void *arg, proto_msg_t *msg);
    int64_t (*now_ms)(void *arg);  // monotonic
    int64_t (*wall_us)(void *arg); // since the epoch
    /*  Told about every finished attempt; may be NULL. */
    void (*outcome)(void *arg, const healer_orch_outcome_t *o);
    hb_log_t *log;                 // borrowed, may be NULL
    const char *node_id;           // copied
} healer_orch_env_t;

typedef struct {
    uint32_t max_candidates; // failed candidates before escalating (3)
    uint32_t intensity;      // heals per agent allowed per period (5)
    int64_t period_ms;       // (60000)
    int64_t fix_timeout_ms;  // resend when no result by then (2000)
    uint32_t max_resends;    // resends of one fix id before giving up (3)
    int64_t fix_ttl_ms;      // a fix expires this long after it is sent,
                             // and an ASYNC agent has this long to answer
                             // (60000)
    const char *on_escalate; // shell command run per escalation, or NULL
    uint32_t max_children;   // on_escalate commands running at once (4)
    uint32_t max_episodes;   // (agent, op) pairs tracked (1024)
    uint32_t max_agents;     // agents tracked (1024)
} healer_orch_cfg_t;

#define HEALER_ORCH_MAX_INTENSITY 1000
#define HEALER_ORCH_MAX_CANDIDATES 16

/*  Fill `cfg` with the defaults above. */
void
healer_orch_cfg_defaults(healer_orch_cfg_t *cfg);

/*  Create an orchestrator using `catalog` and `learn` (both borrowed, must
    outlive it). NULL on bad config or out of memory. Caller destroys. */
healer_orch_t *
healer_orch_new(const healer_orch_cfg_t *cfg, const healer_orch_env_t *env,
                const healer_catalog_t *catalog, healer_learn_t *learn);

/*  Free everything; escalation commands still running are left to finish
    (they are reaped by init once the node exits). */
void
healer_orch_destroy(healer_orch_t **self_p);

/*  An agent announced its knobs and actions. */
void
healer_orch_hello(healer_orch_t *self, const char *agent,
                  const proto_hello_t *hello);

/*  A heal request from `agent`. `pattern` keys the learning and
    `template_text` picks catalog candidates (with the raw text). */
void
healer_orch_heal(healer_orch_t *self, const char *agent,
                 const proto_heal_t *heal, const char *pattern,
                 const char *template_text);

/*  A fix result from `agent`. */
void
healer_orch_fixres(healer_orch_t *self, const char *agent,
                   const proto_fixres_t *res);

/*  Resend or give up on overdue fixes; reap escalation commands. */
void
healer_orch_tick(healer_orch_t *self, int64_t now_ms);

/*  Reap finished escalation commands; with `block`, wait for all of them.
    Returns how many are still running. */
uint32_t
healer_orch_reap(healer_orch_t *self, bool block);

/*  Fixes in flight (all episodes). */
uint32_t
healer_orch_in_flight(const healer_orch_t *self);

/*  Counters for the node heartbeat; returns how many were written. */
uint32_t
healer_orch_counters(const healer_orch_t *self, proto_counter_t *out,
                     uint32_t cap);

#endif
