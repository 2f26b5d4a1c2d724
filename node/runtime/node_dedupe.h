/*  node_dedupe.h - drop messages seen twice, by (sender, sequence number).

    With several brokers every message arrives once per broker; the node
    runtime passes each one through this table so a role sees it once.  The
    table is bounded: at most `cap` senders, the least recently seen evicted
    first.  Per sender it keeps the highest sequence number and a window of
    the NODE_DEDUPE_WINDOW numbers below it, and counts sequence numbers
    that are still missing (loss), correcting the count when a late copy
    fills a hole.  A sequence number further below the highest than the
    window is taken as the sender restarting (its numbers start again at 1):
    the entry is reset and the message accepted. */

#ifndef NODE_DEDUPE_H
#define NODE_DEDUPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NODE_DEDUPE_WINDOW 64
#define NODE_DEDUPE_MAX_JUMP (1u << 20) // a larger jump is a restart, not a gap

typedef struct node_dedupe node_dedupe_t;

/*  A table for up to `cap` senders (cap >= 1); NULL when out of memory. */
node_dedupe_t *node_dedupe_new(size_t cap);
void node_dedupe_destroy(node_dedupe_t **self_p);

/*  True when (sender, seq) is new: remember it and accept the message;
    false for a duplicate.  Marks the sender as the most recently seen.  A
    sender that cannot be added (out of memory) is accepted unremembered. */
bool node_dedupe_check(node_dedupe_t *self, const char *sender, uint64_t seq);

/*  Sequence numbers currently missing over all senders (holes not filled
    by a late copy), and senders tracked / evicted so far. */
uint64_t node_dedupe_missing(const node_dedupe_t *self);
size_t node_dedupe_size(const node_dedupe_t *self);
uint64_t node_dedupe_evicted(const node_dedupe_t *self);

#endif
