/*  predictor_series.c - open-addressing index + LRU list + records with
    their rings, in chunks.

    A record and its ring of buckets are one stride of a chunk (cache-line
    aligned), so a series lives in one place.  Chunks of S_CHUNK strides
    are allocated when the table first needs them and kept until destroy;
    freed slots go on a free list.  The index is an open-addressing array
    (linear probing) of {32-bit fingerprint, slot}: a lookup compares
    fingerprints in the index and reads only the record that matches.  It
    doubles when the load passes 3/4, so it too grows with the series
    actually tracked, not with the cap; a removal shifts the entries after
    it back (no tombstones), so eviction stays O(1) on average. */

#include "predictor_series.h"

#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define S_CHUNK_BITS 10
#define S_CHUNK (1u << S_CHUNK_BITS)
#define S_MIN_INDEX 1024u
#define S_LINE 64
#define S_FNV_BASIS 1469598103934665603ull
#define S_FNV_PRIME 1099511628211ull

// Two cache lines: with the default 32 buckets, record + ring = 384 bytes.
_Static_assert(sizeof(predictor_series_t) <= 2 * S_LINE,
               "predictor_series_t grew past two cache lines");

typedef struct {
    uint32_t tag;  // hash >> 32 of the series in `slot`
    uint32_t slot; // PREDICTOR_SERIES_NONE: empty
} s_entry_t;

struct predictor_series_table {
    predictor_series_cfg_t cfg;
    size_t stride;                   // bytes of a record and its ring
    uint8_t **chunks;                // owned, each S_CHUNK strides
    uint32_t n_chunks;               // allocated so far
    uint32_t max_chunks;
    s_entry_t *index;                // owned
    uint32_t index_mask;
    uint32_t count;                  // live series
    uint32_t slots;                  // slots handed out (scan range)
    uint32_t free_head;              // free list through .lru_next
    uint32_t lru_head;               // most recently used
    uint32_t lru_tail;               // least recently used: evicted first
    uint64_t evictions;
    uint64_t drops;
    size_t key_bytes;                // keys too long to be inline
};

static inline predictor_series_t *
s_rec(const predictor_series_table_t *self, uint32_t slot)
{
    return (predictor_series_t *)(self->chunks[slot >> S_CHUNK_BITS] +
                                  (size_t)(slot & (S_CHUNK - 1)) *
                                      self->stride);
}

static inline predictor_bucket_t *
s_ring(const predictor_series_table_t *self, uint32_t slot)
{
    return (predictor_bucket_t *)(s_rec(self, slot) + 1);
}

static inline const char *
s_key(const predictor_series_t *s)
{
    return s->key_len > PREDICTOR_SERIES_KEY_INLINE ? s->key.out : s->key.in;
}

/* ------------------------------------------------------------ hashing -- */

//  FNV-1a over agent, a NUL, then name: both strings, unambiguously.  The
//  state is mixed (s_mix) before use: FNV's low bits depend only on the
//  low bits of the bytes, and the low bits pick the index position, where
//  keys differing in a digit or two made long linear-probing runs.
static uint64_t
s_fnv(uint64_t h, const char *str)
{
    for (const unsigned char *p = (const unsigned char *)str; *p; p++)
        h = (h ^ *p) * S_FNV_PRIME;
    return h;
}

static inline uint64_t
s_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

uint64_t
predictor_series_key(const char *agent, const char *name)
{
    assert(agent && name);
    return s_fnv(s_fnv(S_FNV_BASIS, agent) * S_FNV_PRIME, name);
}

uint64_t
predictor_series_key_more(uint64_t state, const char *more)
{
    assert(more);
    return s_fnv(state, more);
}

uint64_t
predictor_series_hash(const char *agent, const char *name)
{
    return s_mix(predictor_series_key(agent, name));
}

/* ---------------------------------------------------------- lifecycle -- */

predictor_series_table_t *
predictor_series_new(const predictor_series_cfg_t *cfg)
{
    if (!cfg || cfg->bucket_ms < 1 ||
        cfg->buckets < PREDICTOR_SERIES_MIN_BUCKETS ||
        cfg->buckets > PREDICTOR_SERIES_MAX_BUCKETS || cfg->max_series < 1 ||
        cfg->max_series > PREDICTOR_SERIES_MAX_COUNT)
        return NULL;
    predictor_series_table_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    size_t bytes = sizeof(predictor_series_t) +
                   (size_t)cfg->buckets * sizeof(predictor_bucket_t);
    self->stride = (bytes + S_LINE - 1) / S_LINE * S_LINE;
    self->max_chunks = (cfg->max_series + S_CHUNK - 1) / S_CHUNK;
    self->chunks = calloc(self->max_chunks, sizeof *self->chunks);
    self->index = malloc(S_MIN_INDEX * sizeof *self->index);
    if (!self->chunks || !self->index) {
        predictor_series_destroy(&self);
        return NULL;
    }
    memset(self->index, 0xff, S_MIN_INDEX * sizeof *self->index);
    self->index_mask = S_MIN_INDEX - 1;
    self->free_head = PREDICTOR_SERIES_NONE;
    self->lru_head = self->lru_tail = PREDICTOR_SERIES_NONE;
    return self;
}

void
predictor_series_destroy(predictor_series_table_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    predictor_series_table_t *self = *self_p;
    for (uint32_t slot = 0; slot < self->slots; slot++) {
        predictor_series_t *s = s_rec(self, slot);
        if (s->key_len > PREDICTOR_SERIES_KEY_INLINE)
            free(s->key.out);
    }
    for (uint32_t c = 0; c < self->n_chunks; c++)
        free(self->chunks[c]);
    free(self->chunks);
    free(self->index);
    free(self);
    *self_p = NULL;
}

const predictor_series_cfg_t *
predictor_series_cfg(const predictor_series_table_t *self)
{
    assert(self);
    return &self->cfg;
}

/* ---------------------------------------------------------------- LRU -- */

static void
s_lru_unlink(predictor_series_table_t *self, uint32_t slot)
{
    predictor_series_t *s = s_rec(self, slot);
    if (s->lru_prev != PREDICTOR_SERIES_NONE)
        s_rec(self, s->lru_prev)->lru_next = s->lru_next;
    else
        self->lru_head = s->lru_next;
    if (s->lru_next != PREDICTOR_SERIES_NONE)
        s_rec(self, s->lru_next)->lru_prev = s->lru_prev;
    else
        self->lru_tail = s->lru_prev;
}

static void
s_lru_front(predictor_series_table_t *self, uint32_t slot)
{
    predictor_series_t *s = s_rec(self, slot);
    s->lru_prev = PREDICTOR_SERIES_NONE;
    s->lru_next = self->lru_head;
    if (self->lru_head != PREDICTOR_SERIES_NONE)
        s_rec(self, self->lru_head)->lru_prev = slot;
    self->lru_head = slot;
    if (self->lru_tail == PREDICTOR_SERIES_NONE)
        self->lru_tail = slot;
}

/* -------------------------------------------------------------- index -- */

static bool
s_key_eq(const predictor_series_t *s, const char *agent, const char *name)
{
    const char *key = s_key(s);
    size_t la = strlen(agent);
    return memcmp(key, agent, la + 1) == 0 && strcmp(key + la + 1, name) == 0;
}

//  Remove `slot` from the index (it must be there), then move each entry
//  of the run after it back when its home position allows, so that every
//  entry stays reachable from its home without tombstones.
static void
s_unindex(predictor_series_table_t *self, uint32_t slot)
{
    uint32_t mask = self->index_mask;
    uint32_t i = (uint32_t)s_rec(self, slot)->hash & mask;
    while (self->index[i].slot != slot)
        i = (i + 1) & mask;
    for (uint32_t j = (i + 1) & mask;; j = (j + 1) & mask) {
        s_entry_t e = self->index[j];
        if (e.slot == PREDICTOR_SERIES_NONE)
            break;
        uint32_t home = (uint32_t)s_rec(self, e.slot)->hash & mask;
        // e may fill the hole at i unless its home lies in (i, j]
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            self->index[i] = e;
            i = j;
        }
    }
    self->index[i].slot = PREDICTOR_SERIES_NONE;
}

static void
s_index_put(s_entry_t *index, uint32_t mask, uint64_t hash, uint32_t slot)
{
    uint32_t i = (uint32_t)hash & mask;
    while (index[i].slot != PREDICTOR_SERIES_NONE)
        i = (i + 1) & mask;
    index[i] = (s_entry_t){(uint32_t)(hash >> 32), slot};
}

//  Double the index (amortised O(1) per insert; never per sample).
static bool
s_grow_index(predictor_series_table_t *self)
{
    uint32_t size = (self->index_mask + 1) * 2;
    s_entry_t *index = malloc((size_t)size * sizeof *index);
    if (!index)
        return false;
    memset(index, 0xff, (size_t)size * sizeof *index);
    for (uint32_t i = 0; i <= self->index_mask; i++) {
        uint32_t slot = self->index[i].slot;
        if (slot != PREDICTOR_SERIES_NONE)
            s_index_put(index, size - 1, s_rec(self, slot)->hash, slot);
    }
    free(self->index);
    self->index = index;
    self->index_mask = size - 1;
    return true;
}

/* ------------------------------------------------------ insert, evict -- */

static void
s_evict(predictor_series_table_t *self, uint32_t slot)
{
    predictor_series_t *s = s_rec(self, slot);
    s_unindex(self, slot);
    s_lru_unlink(self, slot);
    if (s->key_len > PREDICTOR_SERIES_KEY_INLINE) {
        self->key_bytes -= s->key_len;
        free(s->key.out);
    }
    s->key_len = 0;
    s->lru_next = self->free_head;
    self->free_head = slot;
    self->count--;
    self->evictions++;
}

//  A free slot: from the free list, a fresh one, or the LRU victim.
static uint32_t
s_take_slot(predictor_series_table_t *self)
{
    if (self->count >= self->cfg.max_series)
        s_evict(self, self->lru_tail);
    if (self->free_head != PREDICTOR_SERIES_NONE) {
        uint32_t slot = self->free_head;
        self->free_head = s_rec(self, slot)->lru_next;
        return slot;
    }
    uint32_t c = self->slots >> S_CHUNK_BITS;
    if (c == self->n_chunks) {
        if (c == self->max_chunks)
            return PREDICTOR_SERIES_NONE;
        // a small cap needs a small chunk: tests and tiny nodes stay small
        uint32_t n = self->cfg.max_series < S_CHUNK ? self->cfg.max_series
                                                    : S_CHUNK;
        self->chunks[c] = aligned_alloc(S_LINE, (size_t)n * self->stride);
        if (!self->chunks[c])
            return PREDICTOR_SERIES_NONE;
        self->n_chunks++;
    }
    return self->slots++;
}

//  Store the key agent '\0' name '\0' in s (inline when it fits).
static bool
s_set_key(predictor_series_table_t *self, predictor_series_t *s,
          const char *agent, const char *name)
{
    size_t la = strlen(agent), ln = strlen(name), len = la + ln + 2;
    char *key = s->key.in;
    if (len > UINT16_MAX)
        return false;
    if (len > PREDICTOR_SERIES_KEY_INLINE) {
        key = malloc(len);
        if (!key)
            return false;
        s->key.out = key;
        self->key_bytes += len;
    }
    memcpy(key, agent, la + 1);
    memcpy(key + la + 1, name, ln + 1);
    s->key_len = (uint16_t)len;
    return true;
}

static uint32_t
s_insert(predictor_series_table_t *self, const char *agent, const char *name,
         predictor_series_kind_t kind, uint64_t hash)
{
    if (self->count + 1 > (self->index_mask + 1) / 4 * 3 &&
        !s_grow_index(self))
        return PREDICTOR_SERIES_NONE;
    uint32_t slot = s_take_slot(self);
    if (slot == PREDICTOR_SERIES_NONE)
        return slot;
    predictor_series_t *s = s_rec(self, slot);
    memset(s, 0, sizeof *s);
    if (!s_set_key(self, s, agent, name)) {
        s->lru_next = self->free_head;
        self->free_head = slot;
        return PREDICTOR_SERIES_NONE;
    }
    s->hash = hash;
    s->kind = (uint8_t)kind;
    s->head = INT64_MIN;
    s->analysed = -1;
    if (kind != PREDICTOR_SERIES_METRIC) // aux shares the place
        s->dom_slot = PREDICTOR_SERIES_NONE;
    predictor_alert_init(&s->alert);
    s_index_put(self->index, self->index_mask, hash, slot);
    s_lru_front(self, slot);
    self->count++;
    return slot;
}

/* ------------------------------------------------------------- lookup -- */

//  Find (agent, name) of mixed hash `hash`; before reading a candidate's
//  record, start fetching it and, when ring_at >= 0, its bucket for that
//  bucket index, so the two cache misses overlap.
static uint32_t
s_find(predictor_series_table_t *self, const char *agent, const char *name,
       uint64_t hash, int64_t ring_at)
{
    uint32_t mask = self->index_mask, tag = (uint32_t)(hash >> 32);
    for (uint32_t i = (uint32_t)hash & mask;; i = (i + 1) & mask) {
        s_entry_t e = self->index[i];
        if (e.slot == PREDICTOR_SERIES_NONE)
            return PREDICTOR_SERIES_NONE;
        if (e.tag != tag)
            continue;
        predictor_series_t *s = s_rec(self, e.slot);
        __builtin_prefetch(s);
        if (ring_at >= 0)
            __builtin_prefetch(s_ring(self, e.slot) +
                               (uint64_t)ring_at % self->cfg.buckets);
        if (s->hash == hash && s_key_eq(s, agent, name))
            return e.slot;
    }
}

uint32_t
predictor_series_lookup(predictor_series_table_t *self, const char *agent,
                        const char *name, uint64_t key_state,
                        predictor_series_kind_t kind, bool create)
{
    assert(self && agent && name && *agent && *name);
    uint64_t hash = s_mix(key_state);
    uint32_t slot = s_find(self, agent, name, hash, -1);
    if (slot == PREDICTOR_SERIES_NONE && create)
        slot = s_insert(self, agent, name, kind, hash);
    return slot;
}

uint32_t
predictor_series_get(predictor_series_table_t *self, const char *agent,
                     const char *name, predictor_series_kind_t kind,
                     bool create)
{
    assert(agent && name);
    return predictor_series_lookup(self, agent, name,
                                   predictor_series_key(agent, name), kind,
                                   create);
}

uint32_t
predictor_series_sample(predictor_series_table_t *self, const char *agent,
                        const char *name, uint64_t key_state,
                        predictor_series_kind_t kind, int64_t now_ms,
                        double sum, uint32_t n, predictor_series_add_t *what)
{
    assert(self && agent && name && *agent && *name && what);
    uint64_t hash = s_mix(key_state);
    int64_t b = predictor_series_index(self, now_ms);
    uint32_t slot = s_find(self, agent, name, hash, b >= 0 ? b : -1);
    if (slot == PREDICTOR_SERIES_NONE)
        slot = s_insert(self, agent, name, kind, hash);
    if (slot != PREDICTOR_SERIES_NONE)
        *what = predictor_series_add(self, slot, now_ms, sum, n);
    return slot;
}

predictor_series_t *
predictor_series_at(predictor_series_table_t *self, uint32_t slot)
{
    assert(self && slot < self->slots);
    return s_rec(self, slot);
}

bool
predictor_series_live(const predictor_series_t *s)
{
    assert(s);
    return s->key_len != 0;
}

const char *
predictor_series_agent(const predictor_series_t *s)
{
    assert(s && s->key_len);
    return s_key(s);
}

const char *
predictor_series_name(const predictor_series_t *s)
{
    assert(s && s->key_len);
    const char *key = s_key(s);
    return key + strlen(key) + 1;
}

/* ------------------------------------------------------------ buckets -- */

int64_t
predictor_series_index(const predictor_series_table_t *self, int64_t ms)
{
    int64_t w = self->cfg.bucket_ms;
    return ms >= 0 ? ms / w : -((-ms + w - 1) / w); // floor division
}

predictor_series_add_t
predictor_series_add(predictor_series_table_t *self, uint32_t slot,
                     int64_t now_ms, double sum, uint32_t n)
{
    assert(self && slot < self->slots);
    predictor_series_t *s = s_rec(self, slot);
    predictor_bucket_t *ring = s_ring(self, slot);
    uint32_t len = self->cfg.buckets;
    int64_t b = predictor_series_index(self, now_ms);
    predictor_series_add_t what = PREDICTOR_SERIES_SAME;
    if (s->head == INT64_MIN || b - s->head >= (int64_t)len) {
        memset(ring, 0, len * sizeof *ring); // everything older is gone
        what = s->head == INT64_MIN ? PREDICTOR_SERIES_SAME
                                    : PREDICTOR_SERIES_OPENED;
        s->head = b;
    } else if (b > s->head) {
        for (int64_t i = s->head + 1; i <= b; i++)
            ring[(uint64_t)i % len] = (predictor_bucket_t){0, 0};
        s->head = b;
        what = PREDICTOR_SERIES_OPENED;
    } else if (b < s->head) {
        if (s->head - b >= (int64_t)len) {
            self->drops++;
            return PREDICTOR_SERIES_DROPPED;
        }
        what = PREDICTOR_SERIES_LATE;
    }
    // Recency is kept per bucket, not per sample: a series moves to the
    // front of the LRU list when it opens a bucket, which spares the list
    // (three scattered cache lines) on nearly every sample.
    if (what == PREDICTOR_SERIES_OPENED && self->lru_head != slot) {
        s_lru_unlink(self, slot);
        s_lru_front(self, slot);
    }
    predictor_bucket_t *bk = &ring[(uint64_t)b % len];
    bk->sum += (float)sum;
    bk->n += n;
    return what;
}

const predictor_bucket_t *
predictor_series_bucket(const predictor_series_table_t *self, uint32_t slot,
                        int64_t b)
{
    assert(self && slot < self->slots);
    const predictor_series_t *s = s_rec(self, slot);
    if (s->head == INT64_MIN || b > s->head ||
        s->head - b >= (int64_t)self->cfg.buckets)
        return NULL;
    return &s_ring(self, slot)[(uint64_t)b % self->cfg.buckets];
}

/* ------------------------------------------------------------ figures -- */

uint32_t
predictor_series_count(const predictor_series_table_t *self)
{
    return self->count;
}

uint32_t
predictor_series_slots(const predictor_series_table_t *self)
{
    return self->slots;
}

uint64_t
predictor_series_evictions(const predictor_series_table_t *self)
{
    return self->evictions;
}

uint64_t
predictor_series_drops(const predictor_series_table_t *self)
{
    return self->drops;
}

size_t
predictor_series_bytes(const predictor_series_table_t *self)
{
    uint32_t per_chunk =
        self->cfg.max_series < S_CHUNK ? self->cfg.max_series : S_CHUNK;
    return sizeof *self +
           (size_t)self->n_chunks * per_chunk * self->stride +
           (size_t)(self->index_mask + 1) * sizeof *self->index +
           self->key_bytes + (size_t)self->max_chunks * sizeof(void *);
}
