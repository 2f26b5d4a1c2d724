/*  hb_agent_int.h - what the rest of libhealbus (hb_retry, hb_knob, tests)
    reaches inside an agent.  Not installed; every name here is hidden from
    the shared library's exports. */

#ifndef HB_AGENT_INT_H
#define HB_AGENT_INT_H

#include "agent_fix.h"
#include "agent_knobs.h"
#include "agent_queue.h"
#include "healbus.h"
#include "proto_codec.h"

/*  Queue a report built by the library itself (errors with a maximum
    attempt count, heal requests, fix results).  `reserved`: may use the
    queue's reserve (fix results must not be crowded out by a flood).
    Counts a drop on HB_EFULL like the public calls. */
hb_err_t hb_agent_push(hb_agent_t *self, const agent_queue_msg_t *msg,
                       bool reserved);

agent_knobs_t *hb_agent_knobs(hb_agent_t *self);
agent_fix_t *hb_agent_fixes(hb_agent_t *self);

/*  A fresh heal request id, unique for this agent. */
uint64_t hb_agent_next_req_id(hb_agent_t *self);

/*  Declarations changed: announce them (the agent's thread sends the hello
    soon, coalescing bursts of declarations). */
void hb_agent_declared(hb_agent_t *self);

/*  Fixes the agent's thread rejected, by reason, and ones it took. */
uint64_t hb_agent_fix_rejects(const hb_agent_t *self, hb_err_t code);
uint64_t hb_agent_fixes_accepted(const hb_agent_t *self);

/*  Sequence number of the last report accepted into the queue. */
uint64_t hb_agent_last_seq(const hb_agent_t *self);

/*  Log through the application's logger, if any (formats nothing
    otherwise). */
void hb_agent_log(hb_agent_t *self, hb_log_level_t level, const char *fmt,
                  ...) HB_PRINTF(3, 4);

/*  hb_retry: the pause before attempt k+1 for a random `draw`, uniform in
    [0, min(cap, base * 2^(k-1))]; exposed for tests. */
uint64_t hb_retry_backoff(const hb_retry_t *self, int k, uint64_t draw);

#endif
