/*  predictor_journal.h - `.predictions.json`, the predictor's journal.

    The seed's schema, one object per prediction: timestamp, worker,
    prediction ("will_fail_by_<ISO time>"), confidence, reason,
    suggested_action; plus id, series, level, outcome (pending/hit/miss),
    issued_us and fail_at_us, and a top-level "record" with the hit/miss
    statistics per series kind.  Only the newest `max` predictions are
    kept.  Saving goes through node_store (old or new file after a crash,
    never torn).  Loading trusts nothing: a file that is not JSON or breaks
    the schema is moved aside to `.predictions.json.corrupt`, the reason
    (with line and column for bad JSON) is returned, and the journal starts
    empty. */

#ifndef PREDICTOR_JOURNAL_H
#define PREDICTOR_JOURNAL_H

#include "healbus.h"
#include "node_store.h"
#include "predictor_record.h"
#include "proto_msg.h"
#include <stdbool.h>
#include <stdint.h>

#define PREDICTOR_JOURNAL_FILE ".predictions.json"
#define PREDICTOR_JOURNAL_ASIDE ".predictions.json.corrupt"
#define PREDICTOR_JOURNAL_MAX 100000
#define PREDICTOR_JOURNAL_TEXT 320   // bytes of a reason, with the NUL
#define PREDICTOR_JOURNAL_ACTION 64

typedef enum {
    PREDICTOR_OUTCOME_PENDING = 0,
    PREDICTOR_OUTCOME_HIT,
    PREDICTOR_OUTCOME_MISS
} predictor_outcome_t;

typedef struct {
    uint64_t id;
    int64_t issued_us;   // wall clock, us since the epoch
    int64_t fail_at_us;
    char worker[PROTO_MAX_ID + 1];
    char series[PROTO_MAX_SERIES + 1];
    double confidence;
    char reason[PREDICTOR_JOURNAL_TEXT];
    char action[PREDICTOR_JOURNAL_ACTION];
    proto_level_t level;
    predictor_outcome_t outcome;
} predictor_journal_entry_t;

typedef struct predictor_journal predictor_journal_t;

/*  A journal of at most `max` (1..PREDICTOR_JOURNAL_MAX) entries saved in
    `store` (borrowed).  NULL on bad arguments or out of memory.  Caller
    destroys. */
predictor_journal_t *predictor_journal_new(node_store_t *store, uint32_t max);
void predictor_journal_destroy(predictor_journal_t **self_p);

/*  Load the file.  HB_OK (also when absent: empty journal); HB_ESYNTAX
    when it was damaged (moved aside, journal empty, `why` says where);
    HB_ETOOBIG / HB_EIO as node_json_load.  `stats` (PREDICTOR_RECORD_KINDS
    entries) receives the saved record statistics (zeros when none). */
hb_err_t predictor_journal_load(predictor_journal_t *self,
                                predictor_record_stats_t *stats, char *why,
                                size_t why_len);

/*  Append a prediction (copied, strings truncated to their fields),
    dropping the oldest when full. */
void predictor_journal_add(predictor_journal_t *self,
                           const predictor_journal_entry_t *entry);

/*  Set the outcome of prediction `id`; false when it is no longer kept. */
bool predictor_journal_resolve(predictor_journal_t *self, uint64_t id,
                               predictor_outcome_t outcome);

/*  Write the file now with `stats` (PREDICTOR_RECORD_KINDS entries). */
hb_err_t predictor_journal_save(predictor_journal_t *self,
                                const predictor_record_stats_t *stats);

/*  True when changed since the last save or load. */
bool predictor_journal_dirty(const predictor_journal_t *self);

/*  Entries kept (oldest first: i = 0), and the largest id seen. */
uint32_t predictor_journal_count(const predictor_journal_t *self);
const predictor_journal_entry_t *
predictor_journal_at(const predictor_journal_t *self, uint32_t i);
uint64_t predictor_journal_last_id(const predictor_journal_t *self);

const char *predictor_journal_outcome_name(predictor_outcome_t outcome);

#endif
