/*  healer_journal - the healer's memory across restarts, in its data
    directory through node_store (crash-safe whole-file writes):
    `.auto_healing_log.json` holds the seed's healing log (attempts with
    timestamp, agent, method, error_type, fix_applied, success,
    attempt_number, plus fix_id, template, outcome, reason; totals and
    success rate; the newest `max_entries` attempts) and the learned
    (pattern, fix) statistics; `.healer_templates.txt` holds the template
    miner. Loading treats both files as hostile: a file that does not parse
    is moved aside to `<name>.corrupt-<unix seconds>` and the healer starts
    fresh, saying so in the log. Single-threaded. */
#ifndef HEALER_JOURNAL_H
#define HEALER_JOURNAL_H

#include "hb_log.h"
#include "healbus.h"
#include "healer_learn.h"
#include "healer_orch.h"
#include "healer_templates.h"
#include "node_store.h"
#include <stdbool.h>
#include <stdint.h>

#define HEALER_JOURNAL_FILE ".auto_healing_log.json"
#define HEALER_JOURNAL_TEMPLATES ".healer_templates.txt"
#define HEALER_JOURNAL_MAX_BYTES (16u << 20) // larger files are refused
#define HEALER_JOURNAL_MAX_ENTRIES 100000    // ceiling for max_entries

typedef struct healer_journal healer_journal_t;

/*  `store` and `log` are borrowed. NULL when max_entries is 0 or above the
    ceiling, or out of memory. Caller destroys. */
healer_journal_t *
healer_journal_new(node_store_t *store, hb_log_t *log, uint32_t max_entries);

void
healer_journal_destroy(healer_journal_t **self_p);

/*  Load the files: attempts and totals into the journal, statistics into
    `learn`, and, when the templates file is there and sound, a new miner
    into *miner_p (the old one destroyed). Missing files are not an error;
    a corrupt file is moved aside and logged (healer_journal_corrupt counts
    them). Returns HB_OK, or HB_ENOMEM. */
hb_err_t
healer_journal_load(healer_journal_t *self, healer_learn_t *learn,
                    healer_templates_t **miner_p);

/*  Append one finished attempt (oldest dropped beyond max_entries) and
    mark the journal dirty. */
void
healer_journal_add(healer_journal_t *self, const healer_orch_outcome_t *o);

/*  Write both files now (learn and miner are read). */
hb_err_t
healer_journal_flush(healer_journal_t *self, const healer_learn_t *learn,
                     const healer_templates_t *miner);

/*  Write both files in a child process (fork), so the caller's event loop
    does not wait for serialising and fsyncing: the child sees a snapshot
    of the journal, learn and miner as they are now. The journal counts as
    clean from now on; if the child fails it becomes dirty again when
    reaped. At most one writer runs: while one does, this returns HB_EFULL
    and writes nothing. If fork fails the files are written here, as
    healer_journal_flush does. The child only serialises, writes and exits
    (with _exit), touching no socket. */
hb_err_t
healer_journal_flush_bg(healer_journal_t *self, const healer_learn_t *learn,
                        const healer_templates_t *miner);

/*  Reap a finished background writer (with `block`, wait for it first).
    Returns true while one is still running. healer_journal_flush and
    healer_journal_destroy wait for a running writer themselves. */
bool
healer_journal_reap(healer_journal_t *self, bool block);

bool
healer_journal_dirty(const healer_journal_t *self);

/*  Attempts held, all-time totals, files written, corrupt files met. */
uint32_t
healer_journal_count(const healer_journal_t *self);
uint64_t
healer_journal_total(const healer_journal_t *self);
uint64_t
healer_journal_successes(const healer_journal_t *self);
uint64_t
healer_journal_writes(const healer_journal_t *self);
uint64_t
healer_journal_corrupt(const healer_journal_t *self);

#endif
