/*  predictor_series.h - the predictor's bounded table of time series.

    One series per (agent, name): an operation's error rate ("err:load_csv"),
    one error class's share of it ("err:load_csv:TimeoutError") or a metric
    ("metric:rss_bytes").  Each keeps a fixed ring of buckets of width
    bucket_ms, so a sample costs one hash lookup and one bucket update, and
    nothing is allocated per sample.  The table holds at most max_series
    series; inserting beyond evicts the least recently updated one, where
    recency counts when a series was created or last opened a bucket
    (LRU at bucket granularity: the list is not touched per sample).
    Records (key and ring inline) are allocated in chunks as the table
    fills, so the memory per series stays the same at 10,000 series and at
    millions.
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

#define PREDICTOR_SERIES_KEY_INLINE 40

/*  A series' record.  The first cache line holds what every sample reads
    (hash, newest bucket, the key when it fits); the series' ring follows
    the record in the same allocation, so a sample touches the index, this
    line and one bucket.  Keys longer than PREDICTOR_SERIES_KEY_INLINE
    bytes live on the heap (key.out). */
typedef struct {
    uint64_t hash;        // predictor_series_hash(agent, name)
    int64_t head;         // absolute index of the newest bucket
    uint16_t key_len;     // bytes of agent '\0' name '\0'; 0: slot free
    uint8_t kind;         // predictor_series_kind_t
    uint8_t spare;
    uint32_t lru_prev;    // towards the most recently used
    union {
        char in[PREDICTOR_SERIES_KEY_INLINE]; // key_len <= KEY_INLINE
        char *out;                            // owned, longer keys
    } key;
    uint32_t lru_next;    // towards the least recently used
    predictor_alert_state_t alert;
    int64_t analysed;     // newest bucket already analysed (-1: none)
    double limit;         // failure threshold of a metric (0: none)
    // by kind, so that a record and an 8-byte x 32 ring make 384 bytes
    union {
        struct {              // RATE: most frequent error class
            uint32_t dom_slot;  // (Misra-Gries with one counter)
            uint32_t dom_count;
            uint64_t dom_hash;  // hash of dom_slot's series, to detect reuse
        };
        double aux[2];        // METRIC: scratch (cpu: last cpu_us, uptime_ms)
    };
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

/*  The same hash in steps: predictor_series_key(agent, name) is a key
    state; predictor_series_key_more(state, more) is the state of (agent,
    name + more), so an op's class series ("err:op" + ":Class") does not
    hash the agent and op again.  Pass states to _lookup and _sample. */
uint64_t predictor_series_key(const char *agent, const char *name);
uint64_t predictor_series_key_more(uint64_t state, const char *more);

/*  The slot of (agent, name), or PREDICTOR_SERIES_NONE.  With `create`,
    a missing series is made with `kind` (evicting the least recently used
    one when full; NONE only when out of memory).  A created series is the
    most recently used; a found one moves up when it opens a bucket.  Slots stay valid until the
    series is evicted.  agent and name must be non-empty. */
uint32_t predictor_series_get(predictor_series_table_t *self,
                              const char *agent, const char *name,
                              predictor_series_kind_t kind, bool create);

/*  predictor_series_get with the key state of (agent, name) given. */
uint32_t predictor_series_lookup(predictor_series_table_t *self,
                                 const char *agent, const char *name,
                                 uint64_t key_state,
                                 predictor_series_kind_t kind, bool create);

/*  Get (creating) the series of (agent, name) with key state `key_state`
    and add (sum, n) at now_ms, as _lookup then _add; the record and the
    bucket are fetched together.  Returns its slot (NONE when out of
    memory) and in *what what the sample did. */
uint32_t predictor_series_sample(predictor_series_table_t *self,
                                 const char *agent, const char *name,
                                 uint64_t key_state,
                                 predictor_series_kind_t kind, int64_t now_ms,
                                 double sum, uint32_t n,
                                 predictor_series_add_t *what);

/*  The series in `slot` (borrowed), whether it is live (not evicted or
    never used), and its agent and name. */
predictor_series_t *predictor_series_at(predictor_series_table_t *self,
                                        uint32_t slot);
bool predictor_series_live(const predictor_series_t *s);
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
