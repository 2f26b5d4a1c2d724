/*  node_dedupe.c - bounded (sender, seq) duplicate filter (node_dedupe.h).

    A czmq hash finds a sender; an intrusive doubly-linked list keeps the
    senders in order of last use, so eviction of the least recently seen is
    O(1) however hostile the stream of sender ids. */

#include "node_dedupe.h"

#include "proto_limits.h"
#include <assert.h>
#include <czmq.h>

typedef struct s_sender s_sender_t;
struct s_sender {
    char id[PROTO_MAX_ID + 1];
    uint64_t high;    // highest sequence number accepted
    uint64_t window;  // bit i set: high - i was seen (bit 0 is `high`)
    uint64_t missing; // holes below high not yet filled
    s_sender_t *prev; // towards the most recently seen
    s_sender_t *next; // towards the least recently seen
};

struct node_dedupe {
    zhashx_t *by_id;  // id -> s_sender_t, owns them (destructor set)
    s_sender_t *head; // most recently seen
    s_sender_t *tail; // least recently seen: evicted first
    size_t cap;
    uint64_t missing; // sum of the senders' `missing`
    uint64_t evicted;
};

static void
s_sender_free(void **item_p)
{
    free(*item_p);
    *item_p = NULL;
}

node_dedupe_t *
node_dedupe_new(size_t cap)
{
    assert(cap >= 1);
    node_dedupe_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->by_id = zhashx_new();
    if (!self->by_id) {
        free(self);
        return NULL;
    }
    zhashx_set_destructor(self->by_id, s_sender_free);
    self->cap = cap;
    return self;
}

void
node_dedupe_destroy(node_dedupe_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->by_id);
    free(*self_p);
    *self_p = NULL;
}

static void
s_unlink(node_dedupe_t *self, s_sender_t *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        self->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        self->tail = s->prev;
    s->prev = s->next = NULL;
}

static void
s_push_front(node_dedupe_t *self, s_sender_t *s)
{
    s->next = self->head;
    if (self->head)
        self->head->prev = s;
    self->head = s;
    if (!self->tail)
        self->tail = s;
}

static s_sender_t *
s_add(node_dedupe_t *self, const char *sender)
{
    if (zhashx_size(self->by_id) >= self->cap && self->tail) {
        s_sender_t *old = self->tail;
        s_unlink(self, old);
        self->missing -= old->missing;
        self->evicted++;
        zhashx_delete(self->by_id, old->id); // frees `old`
    }
    s_sender_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    snprintf(s->id, sizeof s->id, "%s", sender);
    if (zhashx_insert(self->by_id, s->id, s) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

//  A number above `high`: slide the window; the numbers skipped are holes.
static void
s_advance(node_dedupe_t *self, s_sender_t *s, uint64_t seq)
{
    uint64_t step = seq - s->high;
    uint64_t holes = step - 1;
    s->window = step >= 64 ? 1 : (s->window << step) | 1;
    s->high = seq;
    s->missing += holes;
    self->missing += holes;
}

static void
s_restart(node_dedupe_t *self, s_sender_t *s, uint64_t seq)
{
    self->missing -= s->missing;
    s->missing = 0;
    s->high = seq;
    s->window = 1;
}

bool
node_dedupe_check(node_dedupe_t *self, const char *sender, uint64_t seq)
{
    s_sender_t *s = zhashx_lookup(self->by_id, sender);
    if (!s) {
        s = s_add(self, sender);
        if (!s)
            return true;
        s->high = seq;
        s->window = 1;
        s_push_front(self, s);
        return true;
    }
    s_unlink(self, s);
    s_push_front(self, s);
    if (seq > s->high && seq - s->high > NODE_DEDUPE_MAX_JUMP) {
        // No sender loses a million messages between two that arrive: a
        // jump that far is a restart or a forged number, not a gap, and
        // must not swamp the gap counter.
        s_restart(self, s, seq);
        return true;
    }
    if (seq > s->high) {
        s_advance(self, s, seq);
        return true;
    }
    uint64_t back = s->high - seq;
    if (back >= NODE_DEDUPE_WINDOW) {
        s_restart(self, s, seq);
        return true;
    }
    uint64_t bit = (uint64_t)1 << back;
    if (s->window & bit)
        return false;
    s->window |= bit; // a late copy fills a hole
    if (s->missing) {
        s->missing--;
        self->missing--;
    }
    return true;
}

uint64_t
node_dedupe_missing(const node_dedupe_t *self)
{
    return self->missing;
}

size_t
node_dedupe_size(const node_dedupe_t *self)
{
    return zhashx_size(self->by_id);
}

uint64_t
node_dedupe_evicted(const node_dedupe_t *self)
{
    return self->evicted;
}
