/*  agent_queue.h - the bounded queue between an agent's callers and its
    thread.

    Any thread pushes a report: under one short lock the queue gives it the
    sender's next sequence number and writes its wire body (msgpack, by
    proto_codec) into a byte ring, so sequence numbers are contiguous over
    what was accepted, a full queue refuses (counted) instead of blocking,
    and the agent's thread only hands finished bytes to its sockets.  The
    one consumer, the agent's thread, takes every record present in one
    batch, reads them in place without the lock and releases them
    together.  An eventfd wakes the consumer only when it said it was going
    idle, so a burst of pushes costs no system call per report. */

#ifndef AGENT_QUEUE_H
#define AGENT_QUEUE_H

#include "healbus.h"
#include "proto_msg.h"

/*  What a producer hands in: borrowed strings (NULL = empty) and numbers.
    Which fields matter depends on `kind`.  Strings longer than their wire
    caps are cut there. */
typedef struct {
    proto_kind_t kind;
    const char *op;            // operation or metric name
    const char *error_class;   // error, heal
    const char *text;          // error and heal text, fixres reason
    const char *fix_id;        // fixres
    uint32_t attempt;          // error: attempt; heal: attempts
    uint32_t max_attempts;     // error
    uint32_t mode;             // heal: proto_heal_mode_t
    uint32_t outcome;          // fixres: proto_outcome_t
    uint64_t duration_us;      // success; fixres: test duration
    uint64_t req_id;           // heal, fixres
    double value;              // metric
    const proto_pair_t *knobs; // success: knob values in force
    uint32_t n_knobs;
} agent_queue_msg_t;

/*  A record as the consumer reads it.  Hello and heartbeat carry no body
    (len 0): the consumer builds them from its own state when it sends. */
typedef struct {
    uint32_t kind; // proto_kind_t
    uint32_t len;  // bytes in body
    uint64_t seq;
    int64_t ts_us;
    uint8_t body[]; // the encoded msgpack body
} agent_queue_entry_t;

typedef struct agent_queue agent_queue_t;

/*  A queue of `bytes` bytes of records, of which the last `reserve` only
    reserved pushes may use (the agent's own hello, heartbeat and fix
    results, so a flood of reports cannot starve them); `sender` (a valid
    id, copied) is the sender every body names.  NULL on failure.  Caller
    destroys. */
agent_queue_t *agent_queue_new(size_t bytes, size_t reserve,
                               const char *sender);
void agent_queue_destroy(agent_queue_t **self_p);

/*  Give `msg` the next sequence number (written to *seq if not NULL) and
    the wall-clock time and encode it into the queue.  HB_EFULL when there
    is no room: nothing is queued, the drop is counted and no number is
    used.  HB_EINVAL when the message cannot be encoded (e.g. an empty
    operation): nothing is queued or counted.  Any thread; never blocks
    beyond the encoding. */
hb_err_t agent_queue_push(agent_queue_t *self, const agent_queue_msg_t *msg,
                          bool reserved, uint64_t *seq);

/*  True when an unreserved push would certainly be refused now; a hint
    read without the lock, so callers can skip formatting a report that
    would be dropped.  Any thread. */
bool agent_queue_full(const agent_queue_t *self);

/*  Count a report refused before it reached agent_queue_push. */
void agent_queue_count_drop(agent_queue_t *self);

/*  Consumer only: a batch of the records present now.  Read them with
    agent_queue_next (NULL after the last); they stay valid, and untouched
    by producers, until agent_queue_end releases them all. */
typedef struct {
    size_t pos;   // offset of the next record
    size_t left;  // records still to read
    size_t taken; // records read
    size_t bytes; // ring bytes they span (with wrap-around gaps)
} agent_queue_batch_t;

size_t agent_queue_begin(agent_queue_t *self, agent_queue_batch_t *batch,
                         size_t max);
const agent_queue_entry_t *agent_queue_next(agent_queue_t *self,
                                            agent_queue_batch_t *batch);
void agent_queue_end(agent_queue_t *self, agent_queue_batch_t *batch);

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
