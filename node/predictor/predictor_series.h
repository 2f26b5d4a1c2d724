/*  predictor_series.h - the predictor's bounded table of time series.

    One series per (agent, name): an operation's error rate ("err:load_csv"),
    one error class's share of it ("err:load_csv:TimeoutError") or a metric
    ("metric:rss_bytes").  Each keeps a fixed ring of buckets of width
    bucket_ms, so a sample costs one hash lookup and one bucket update, and
    nothing is allocated per sample.  The table holds at most max_series
    series; inserting beyond evicts the least recently updated one, where
    recency counts when a series was created or last opened a bucket
    (LRU at bucket granularity: the list is not touched per sample).  Slots are allocated in chunks as the table fills, so the
    memory per series stays the same at 10 series and at millions.
    Used by predictor_engine; single-threaded. */

#ifndef PREDICTOR_SERIES_H
#define PREDICTOR_SERIES_H

#include "healbus.h"
#include "predictor_alert.h"
#include <stdbool.h>
#include <stdint.h>

#define PREDICTOR_SERIES_NONE UINT32_MAX
#define PREDICTOR_SERIES_MIN_BUCKETS 4
#define PREDICTOR_SERIES_MAX_BUCKETS 256
#define PREDICTOR_SERIES_MAX_COUNT (16u * 1024 * 1024)

typedef enum {
    PREDICTOR_SERIES_RATE = 0, // errors / (errors + successes) of an op
    PREDICTOR_SERIES_CLASS,    // errors of one class / all attempts of the op
    PREDICTOR_SERIES_METRIC    // mean of a metric's samples
} predictor_series_kind_t;

/*  One bucket.  RATE: n = attempts, sum = errors.  CLASS: n unused, sum =
    errors of the class (the op's RATE series holds the attempts).
    METRIC: n = samples, sum = their sum.  Floats keep a bucket at 8 bytes;
    counts stay exact up to 2^24 per bucket. */
typedef struct {
    float sum;
    uint32_t n;
} predictor_bucket_t;

/*  A series' fixed part (its ring lives in the table's slab). */
typedef struct {
    uint64_t hash;
    char *key;            // owned: agent '\0' name '\0'; NULL when free
    uint32_t chain;       // next slot in the same hash bucket
    uint32_t lru_prev;    // towards the most recently used
    uint32_t lru_next;    // towards the least recently used
    uint8_t kind;         // predictor_series_kind_t
    predictor_alert_state_t alert;
    int64_t head;         // absolute index of the newest bucket
    int64_t analysed;     // newest bucket already analysed (-1: none)
    double limit;         // failure threshold of a metric (0: none)
    double aux[2];        // per-name scratch (cpu: last cpu_us, uptime_ms)
    uint32_t dom_slot;    // RATE: most frequent error class (Misra-Gries)
    uint32_t dom_count;
    uint64_t dom_hash;    // hash of dom_slot's series, to detect reuse
} predictor_series_t;

typedef struct {
    int64_t bucket_ms;    // bucket width, >= 1
    uint32_t buckets;     // ring length, MIN_BUCKETS..MAX_BUCKETS
    uint32_t max_series;  // cap, 1..MAX_COUNT
} predictor_series_cfg_t;

/*  What one sample did to its series' ring. */
typedef enum {
    PREDICTOR_SERIES_SAME = 0, // added to the newest bucket
    PREDICTOR_SERIES_OPENED,   // opened a newer bucket (older ones closed)
    PREDICTOR_SERIES_LATE,     // added to an older bucket still in the ring
    PREDICTOR_SERIES_DROPPED   // older than the ring: ignored and counted
} predictor_series_add_t;

typedef struct predictor_series_table predictor_series_table_t;

/*  A table; NULL when cfg is out of range or memory runs out.  Caller
    destroys. */
predictor_series_table_t *
predictor_series_new(const predictor_series_cfg_t *cfg);
void predictor_series_destroy(predictor_series_table_t **self_p);
const predictor_series_cfg_t *
predictor_series_cfg(const predictor_series_table_t *self);

/*  Hash of (agent, name), as stored in predictor_series_t.hash. */
uint64_t predictor_series_hash(const char *agent, const char *name);

/*  The slot of (agent, name), or PREDICTOR_SERIES_NONE.  With `create`,
    a missing series is made with `kind` (evicting the least recently used
    one when full; NONE only when out of memory).  A created series is the
    most recently used; a found one moves up when it opens a bucket.  Slots stay valid until the
    series is evicted.  agent and name must be non-empty. */
uint32_t predictor_series_get(predictor_series_table_t *self,
                              const char *agent, const char *name,
                              predictor_series_kind_t kind, bool create);

/*  The series in `slot` (borrowed), and its agent and name. */
predictor_series_t *predictor_series_at(predictor_series_table_t *self,
                                        uint32_t slot);
const char *predictor_series_agent(const predictor_series_t *s);
const char *predictor_series_name(const predictor_series_t *s);

/*  Add (sum, n) to the bucket holding `now_ms` (Unix ms, >= 0). */
predictor_series_add_t predictor_series_add(predictor_series_table_t *self,
                                            uint32_t slot, int64_t now_ms,
                                            double sum, uint32_t n);

/*  The bucket with absolute index `b` of slot's ring: NULL when it is no
    longer (or not yet) in the ring. */
const predictor_bucket_t *
predictor_series_bucket(const predictor_series_table_t *self, uint32_t slot,
                        int64_t b);

/*  Absolute bucket index of time `ms`. */
int64_t predictor_series_index(const predictor_series_table_t *self,
                               int64_t ms);

/*  Number of live series; slots ever allocated (the scan range);
    evictions and dropped samples so far; bytes held by the table. */
uint32_t predictor_series_count(const predictor_series_table_t *self);
uint32_t predictor_series_slots(const predictor_series_table_t *self);
uint64_t predictor_series_evictions(const predictor_series_table_t *self);
uint64_t predictor_series_drops(const predictor_series_table_t *self);
size_t predictor_series_bytes(const predictor_series_table_t *self);

#endif
