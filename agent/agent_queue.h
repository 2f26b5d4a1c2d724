/*  agent_queue.h - the bounded queue between an agent's callers and its
    thread.

    Any thread pushes a report: the queue copies its strings into a fixed
    slot and gives it the sender's next sequence number, both under one
    short lock, so sequence numbers are contiguous over what was accepted
    and a full queue refuses (counted) instead of blocking.  One consumer,
    the agent's thread, reads the oldest slot in place without the lock and
    then releases it.  An eventfd wakes the consumer only when it said it
    was going idle, so a burst of pushes costs no system call per report. */

#ifndef AGENT_QUEUE_H
#define AGENT_QUEUE_H

#include "healbus.h"
#include "proto_msg.h"

/*  What a producer hands in: borrowed strings (NULL = empty) and numbers.
    Which fields matter depends on `kind`. */
typedef struct {
    proto_kind_t kind;
    const char *op;          // operation or metric name
    const char *error_class; // error, heal
    const char *text;        // error and heal text, fixres reason
    const char *fix_id;      // fixres
    uint32_t attempt;        // error: attempt; heal: attempts
    uint32_t max_attempts;   // error
    uint32_t mode;           // heal: proto_heal_mode_t
    uint32_t outcome;        // fixres: proto_outcome_t
    uint64_t duration_us;    // success; fixres: test duration
    uint64_t req_id;         // heal, fixres
    double value;            // metric
} agent_queue_msg_t;

/*  A slot as the consumer reads it: the same fields, strings copied
    (truncated to their wire caps), plus sequence number and time. */
typedef struct {
    proto_kind_t kind;
    uint64_t seq;
    int64_t ts_us;
    uint32_t attempt;
    uint32_t max_attempts;
    uint32_t mode;
    uint32_t outcome;
    uint64_t duration_us;
    uint64_t req_id;
    double value;
    char op[PROTO_MAX_NAME + 1];
    char error_class[PROTO_MAX_CLASS + 1];
    char fix_id[PROTO_MAX_ID + 1];
    char text[PROTO_MAX_TEXT + 1];
} agent_queue_entry_t;

typedef struct agent_queue agent_queue_t;

/*  A queue of `capacity` slots for callers plus `reserve` slots only
    reserved pushes may use (the agent's own hello, heartbeat and fix
    results, so a flood of reports cannot starve them).  NULL on failure.
    Caller destroys. */
agent_queue_t *agent_queue_new(size_t capacity, size_t reserve);
void agent_queue_destroy(agent_queue_t **self_p);

/*  Copy `msg` into a free slot with the next sequence number (written to
    *seq if not NULL) and the wall-clock time.  HB_EFULL when no slot is
    free: nothing is queued, the drop is counted and no number is used.
    Any thread; never blocks beyond the copy. */
hb_err_t agent_queue_push(agent_queue_t *self, const agent_queue_msg_t *msg,
                          bool reserved, uint64_t *seq);

/*  Consumer only: the oldest slot, or NULL when empty.  The slot stays
    valid, and untouched by producers, until agent_queue_release. */
const agent_queue_entry_t *agent_queue_peek(agent_queue_t *self);
void agent_queue_release(agent_queue_t *self);

/*  Consumer only: returns true (and arms the wake-up) when the queue is
    empty, so the consumer may wait on agent_queue_fd; false when there is
    work.  After the fd turns readable call agent_queue_woken. */
bool agent_queue_idle(agent_queue_t *self);
int agent_queue_fd(const agent_queue_t *self);
void agent_queue_woken(agent_queue_t *self);

/*  Wake the consumer now (e.g. when other state it watches changed). */
void agent_queue_kick(agent_queue_t *self);

/*  Reports refused because the queue was full; reports in it now. */
uint64_t agent_queue_drops(const agent_queue_t *self);
size_t agent_queue_depth(const agent_queue_t *self);

/*  The sequence number of the last accepted report (0: none yet). */
uint64_t agent_queue_last_seq(const agent_queue_t *self);

#endif
