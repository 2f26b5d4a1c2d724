/*  cli_seqtrack: per-sender sequence tracking for receivers on the bus.

    Every message carries its sender's sequence number (from 1, +1 per
    message).  The tracker remembers, per sender, the highest number seen
    and which of the 64 numbers below it arrived, so it can tell a new
    message from a duplicate (the same message through a second broker)
    and report the numbers that never came (lost).  With one broker the bus
    keeps each sender's order, so a jump is a loss at once; with several,
    a number may still come through another broker, so a gap is reported
    only when it falls out of the 64-number window.  A number at or below
    the top means the sender restarted (one broker) or, with several, is a
    duplicate when inside the window and a restart when below it.  The sender
   table has a fixed capacity; when full, the sender seen least recently is
    forgotten (and counted).  Used by `healbus tap`. */

#ifndef CLI_SEQTRACK_H
#define CLI_SEQTRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLI_SEQTRACK_WINDOW 64 // sequence numbers remembered below the top

typedef struct cli_seqtrack cli_seqtrack_t;

typedef enum {
    CLI_SEQTRACK_FIRST = 0, // sender not known (new or forgotten): shown
    CLI_SEQTRACK_NEXT,      // a number not seen before: shown
    CLI_SEQTRACK_DUP,       // seen already: drop it
    CLI_SEQTRACK_RESTART    // the sender restarted (see below): shown
} cli_seqtrack_verdict_t;

typedef struct {
    cli_seqtrack_verdict_t verdict;
    uint64_t lost;       // numbers this arrival proves lost (0: none)
    uint64_t lost_first; // lowest and highest of them (when lost > 0)
    uint64_t lost_last;
    uint64_t previous; // RESTART: the top before the restart
} cli_seqtrack_result_t;

/*  A tracker for up to `capacity` senders (> 0).  `defer_gaps`: false for
    one broker (report a jump at once), true for several.  NULL when out
    of memory.  Caller destroys. */
cli_seqtrack_t *cli_seqtrack_new(size_t capacity, bool defer_gaps);

void cli_seqtrack_destroy(cli_seqtrack_t **self_p);

/*  Account for message `seq` from `sender` (NUL-terminated, copied). */
cli_seqtrack_result_t cli_seqtrack_see(cli_seqtrack_t *self, const char *sender,
                                       uint64_t seq);

/*  Senders tracked now, and senders forgotten to make room so far. */
size_t cli_seqtrack_size(const cli_seqtrack_t *self);
uint64_t cli_seqtrack_evictions(const cli_seqtrack_t *self);

#endif
