/*  predictor_series.c - hash table + LRU list + bucket rings in chunks.

    Series records and their rings live in chunks of S_CHUNK slots that
    are allocated when the table first needs them and kept until destroy;
    freed slots go on a free list.  The hash index is an array of slot
    heads that doubles when the load passes 3/4, so it too grows with the
    series actually tracked, not with the cap. */

#include "predictor_series.h"

#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define S_CHUNK_BITS 10
#define S_CHUNK (1u << S_CHUNK_BITS)
#define S_MIN_INDEX 1024u

struct predictor_series_table {
    predictor_series_cfg_t cfg;
    predictor_series_t **chunks;     // owned, each S_CHUNK records
    predictor_bucket_t **rings;      // owned, each S_CHUNK x buckets
    uint32_t n_chunks;               // allocated so far
    uint32_t max_chunks;
    uint32_t *index;                 // owned: hash bucket heads
    uint32_t index_mask;
    uint32_t count;                  // live series
    uint32_t slots;                  // slots handed out (scan range)
    uint32_t free_head;              // free list through .chain
    uint32_t lru_head;               // most recently used
    uint32_t lru_tail;               // least recently used: evicted first
    uint64_t evictions;
    uint64_t drops;
    size_t key_bytes;
};

static inline predictor_series_t *
s_rec(const predictor_series_table_t *self, uint32_t slot)
{
    return &self->chunks[slot >> S_CHUNK_BITS][slot & (S_CHUNK - 1)];
}

static inline predictor_bucket_t *
s_ring(const predictor_series_table_t *self, uint32_t slot)
{
    return self->rings[slot >> S_CHUNK_BITS] +
           (size_t)(slot & (S_CHUNK - 1)) * self->cfg.buckets;
}

//  FNV-1a over agent, a NUL, then name: both strings, unambiguously.
static uint64_t
s_hash(const char *agent, const char *name)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)agent; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    h = h * 1099511628211ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h ^ (h >> 29);
}

uint64_t
predictor_series_hash(const char *agent, const char *name)
{
    assert(agent && name);
    return s_hash(agent, name);
}

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
    self->max_chunks = (cfg->max_series + S_CHUNK - 1) / S_CHUNK;
    self->chunks = calloc(self->max_chunks, sizeof *self->chunks);
    self->rings = calloc(self->max_chunks, sizeof *self->rings);
    self->index = malloc(S_MIN_INDEX * sizeof *self->index);
    if (!self->chunks || !self->rings || !self->index) {
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
    for (uint32_t c = 0; c < self->n_chunks; c++) {
        for (uint32_t i = 0; i < S_CHUNK; i++)
            free(self->chunks[c][i].key);
        free(self->chunks[c]);
        free(self->rings[c]);
    }
    free(self->chunks);
    free(self->rings);
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

static bool
s_key_eq(const predictor_series_t *s, const char *agent, const char *name)
{
    size_t la = strlen(agent);
    return memcmp(s->key, agent, la + 1) == 0 &&
           strcmp(s->key + la + 1, name) == 0;
}

//  Remove `slot` from its hash chain (it must be there).
static void
s_unindex(predictor_series_table_t *self, uint32_t slot)
{
    predictor_series_t *s = s_rec(self, slot);
    uint32_t *link = &self->index[s->hash & self->index_mask];
    while (*link != slot)
        link = &s_rec(self, *link)->chain;
    *link = s->chain;
}

static void
s_evict(predictor_series_table_t *self, uint32_t slot)
{
    predictor_series_t *s = s_rec(self, slot);
    s_unindex(self, slot);
    s_lru_unlink(self, slot);
    self->key_bytes -= strlen(s->key) + 1 + strlen(predictor_series_name(s)) + 1;
    free(s->key);
    s->key = NULL;
    s->chain = self->free_head;
    self->free_head = slot;
    self->count--;
    self->evictions++;
}

//  Double the hash index (amortised O(1) per insert; never per sample).
static bool
s_grow_index(predictor_series_table_t *self)
{
    uint32_t size = (self->index_mask + 1) * 2;
    uint32_t *index = malloc((size_t)size * sizeof *index);
    if (!index)
        return false;
    memset(index, 0xff, (size_t)size * sizeof *index);
    for (uint32_t slot = 0; slot < self->slots; slot++) {
        predictor_series_t *s = s_rec(self, slot);
        if (!s->key)
            continue;
        s->chain = index[s->hash & (size - 1)];
        index[s->hash & (size - 1)] = slot;
    }
    free(self->index);
    self->index = index;
    self->index_mask = size - 1;
    return true;
}

//  A free slot: from the free list, a fresh one, or the LRU victim.
static uint32_t
s_take_slot(predictor_series_table_t *self)
{
    if (self->count >= self->cfg.max_series)
        s_evict(self, self->lru_tail);
    if (self->free_head != PREDICTOR_SERIES_NONE) {
        uint32_t slot = self->free_head;
        self->free_head = s_rec(self, slot)->chain;
        return slot;
    }
    uint32_t c = self->slots >> S_CHUNK_BITS;
    if (c == self->n_chunks) {
        if (c == self->max_chunks)
            return PREDICTOR_SERIES_NONE;
        self->chunks[c] = calloc(S_CHUNK, sizeof **self->chunks);
        self->rings[c] =
            malloc((size_t)S_CHUNK * self->cfg.buckets * sizeof **self->rings);
        if (!self->chunks[c] || !self->rings[c]) {
            free(self->chunks[c]);
            free(self->rings[c]);
            self->chunks[c] = NULL;
            self->rings[c] = NULL;
            return PREDICTOR_SERIES_NONE;
        }
        self->n_chunks++;
    }
    return self->slots++;
}

static uint32_t
s_insert(predictor_series_table_t *self, const char *agent, const char *name,
         predictor_series_kind_t kind, uint64_t hash)
{
    if (self->count + 1 > (self->index_mask + 1) / 4 * 3 &&
        !s_grow_index(self))
        return PREDICTOR_SERIES_NONE;
    size_t la = strlen(agent), ln = strlen(name);
    char *key = malloc(la + ln + 2);
    if (!key)
        return PREDICTOR_SERIES_NONE;
    uint32_t slot = s_take_slot(self);
    if (slot == PREDICTOR_SERIES_NONE) {
        free(key);
        return slot;
    }
    memcpy(key, agent, la + 1);
    memcpy(key + la + 1, name, ln + 1);
    predictor_series_t *s = s_rec(self, slot);
    memset(s, 0, sizeof *s);
    s->hash = hash;
    s->key = key;
    s->kind = (uint8_t)kind;
    s->head = INT64_MIN;
    s->analysed = -1;
    s->dom_slot = PREDICTOR_SERIES_NONE;
    predictor_alert_init(&s->alert);
    s->chain = self->index[hash & self->index_mask];
    self->index[hash & self->index_mask] = slot;
    s_lru_front(self, slot);
    self->count++;
    self->key_bytes += la + ln + 2;
    return slot;
}

uint32_t
predictor_series_get(predictor_series_table_t *self, const char *agent,
                     const char *name, predictor_series_kind_t kind,
                     bool create)
{
    assert(self && agent && name && *agent && *name);
    uint64_t hash = s_hash(agent, name);
    uint32_t slot = self->index[hash & self->index_mask];
    while (slot != PREDICTOR_SERIES_NONE) {
        predictor_series_t *s = s_rec(self, slot);
        if (s->hash == hash && s_key_eq(s, agent, name))
            return slot;
        slot = s->chain;
    }
    return create ? s_insert(self, agent, name, kind, hash)
                  : PREDICTOR_SERIES_NONE;
}

predictor_series_t *
predictor_series_at(predictor_series_table_t *self, uint32_t slot)
{
    assert(self && slot < self->slots);
    return s_rec(self, slot);
}

const char *
predictor_series_agent(const predictor_series_t *s)
{
    assert(s && s->key);
    return s->key;
}

const char *
predictor_series_name(const predictor_series_t *s)
{
    assert(s && s->key);
    return s->key + strlen(s->key) + 1;
}

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
    size_t per_slot = sizeof(predictor_series_t) +
                      (size_t)self->cfg.buckets * sizeof(predictor_bucket_t);
    return sizeof *self + (size_t)self->n_chunks * S_CHUNK * per_slot +
           (size_t)(self->index_mask + 1) * sizeof *self->index +
           self->key_bytes +
           (size_t)self->max_chunks * 2 * sizeof(void *);
}
