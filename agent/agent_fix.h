/*  agent_fix.h - fixes an agent receives: validation, the pending table,
    application and rollback.

    The agent's thread validates each decoded fix on arrival (addressed to
    us, declared targets, bounds, argument types, expiry, fix id not seen)
    and offers valid ones to the pending table: one fix per operation, the
    newest wins, bounded.  The thread that runs the operation (hb_retry_run)
    takes the fix, snapshots the knobs, applies the steps, runs the
    operation as the test and commits or rolls back.  The table's lock
    covers only moving a message in or out; no lock is held while steps,
    actions or the operation run. */

#ifndef AGENT_FIX_H
#define AGENT_FIX_H

#include "agent_knobs.h"
#include "healbus.h"
#include "proto_msg.h"

#define AGENT_FIX_MAX_PENDING 16 // operations with a fix waiting
#define AGENT_FIX_SEEN 256       // recent fix ids remembered

typedef struct agent_fix agent_fix_t;

/*  `name` is the agent's (copied); `knobs` is borrowed for the life of
    this object.  NULL on failure.  Caller destroys. */
agent_fix_t *agent_fix_new(const char *name, agent_knobs_t *knobs);
void agent_fix_destroy(agent_fix_t **self_p);

/*  Check a decoded fix message against the declarations and the clock
    (`now_us`: wall clock, us since the epoch).  Returns HB_OK or the
    reason: HB_ENOTMINE, HB_EINVAL (no fix id or operation),
    HB_EEXPIRED, HB_EALREADY, HB_ENOTFOUND, HB_ETYPE, HB_ERANGE,
    HB_ENOEFFECT.  On HB_OK the fix id is remembered, so a resend is
    HB_EALREADY.  Agent thread only. */
hb_err_t agent_fix_validate(agent_fix_t *self, const proto_msg_t *msg,
                            int64_t now_us);

/*  Queue a validated fix for its operation; takes *msg_p (nulled, whether
    or not it succeeds).  A fix already waiting for the same operation is
    replaced: its id is copied into `replaced` (empty when none) so the
    sender can be told.  HB_EFULL when AGENT_FIX_MAX_PENDING other
    operations have fixes waiting (the fix is dropped).  Wakes waiters. */
hb_err_t agent_fix_offer(agent_fix_t *self, proto_msg_t **msg_p,
                         char *replaced, size_t replaced_len);

/*  Take the fix waiting for `op`, waiting up to `wait_us` for one to
    arrive (0: don't wait).  Returns the message (caller clears and frees
    it with agent_fix_free) or NULL.  Any thread. */
proto_msg_t *agent_fix_take(agent_fix_t *self, const char *op,
                            uint64_t wait_us);
void agent_fix_free(proto_msg_t **msg_p);

/*  Like agent_fix_take, but also returns NULL (with *gave_up true) once
    the number of escalations recorded for `op` exceeds `escalations_seen`:
    a healer gave up on it, so no fix is coming.  Any thread. */
proto_msg_t *agent_fix_wait(agent_fix_t *self, const char *op,
                            uint64_t wait_us, uint64_t escalations_seen,
                            bool *gave_up);

/*  Escalations recorded for `op` so far, and record one (the agent's
    thread, on an `esc.<agent>` message); recording wakes waiters. */
uint64_t agent_fix_escalations(agent_fix_t *self, const char *op);
void agent_fix_escalated(agent_fix_t *self, const char *op);

/*  Wake every thread waiting in agent_fix_take (on shutdown). */
void agent_fix_close(agent_fix_t *self);

/*  Make every wait in agent_fix_take, now and later, return at once.
    Async-signal-safe (an atomic store): hb_agent_interrupt calls it. */
void agent_fix_interrupt(agent_fix_t *self);
bool agent_fix_interrupted(const agent_fix_t *self);

/*  What applying a fix did, so it can be undone. */
typedef struct {
    agent_knobs_snap_t snap;                      // knobs before the fix
    const agent_action_t *done[PROTO_MAX_STEPS];  // actions applied, in order
    char args[PROTO_MAX_STEPS][PROTO_MAX_TEXT + 1];
    uint32_t n_done;
} agent_fix_undo_t;

/*  Snapshot, then apply every step of `fix` in order (actions through
    their callbacks, on the calling thread).  Steps are checked again
    against the values now in force.  On failure everything applied is
    undone before returning the step's code (HB_EFAILED when an action
    refused).  Any thread that owns the operation. */
hb_err_t agent_fix_apply(agent_fix_t *self, const proto_fix_t *fix,
                         agent_fix_undo_t *undo);

/*  Restore the snapshot and run the undo callbacks of applied actions in
    reverse order. */
void agent_fix_rollback(agent_fix_t *self, agent_fix_undo_t *undo);

#endif
