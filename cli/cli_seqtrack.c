/*  cli_seqtrack.c - per-sender sequence windows with LRU eviction (see
    cli_seqtrack.h). */

#include "cli_seqtrack.h"

#include <assert.h>
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

typedef struct s_entry {
    char *name;            // owned; also the key in by_name
    uint64_t top;          // highest sequence number seen
    uint64_t seen;         // bit i: top - i arrived (bit 0 is top itself)
    struct s_entry *newer; // LRU list, most recent at the head
    struct s_entry *older;
} s_entry_t;

struct cli_seqtrack {
    zhashx_t *by_name; // name -> entry (borrowed from pool)
    s_entry_t *pool;   // owned, `capacity` entries
    size_t capacity;
    size_t used; // entries of pool handed out so far
    s_entry_t *newest;
    s_entry_t *oldest;
    bool defer_gaps;
    uint64_t evictions;
};

cli_seqtrack_t *
cli_seqtrack_new(size_t capacity, bool defer_gaps)
{
    assert(capacity > 0);
    cli_seqtrack_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->pool = calloc(capacity, sizeof *self->pool);
    self->by_name = zhashx_new();
    if (!self->pool || !self->by_name) {
        cli_seqtrack_destroy(&self);
        return NULL;
    }
    // Keys point into the entries (which own the names): no copies.
    zhashx_set_key_duplicator(self->by_name, NULL);
    zhashx_set_key_destructor(self->by_name, NULL);
    self->capacity = capacity;
    self->defer_gaps = defer_gaps;
    return self;
}

void
cli_seqtrack_destroy(cli_seqtrack_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cli_seqtrack_t *self = *self_p;
    zhashx_destroy(&self->by_name);
    for (size_t i = 0; self->pool && i < self->used; i++)
        free(self->pool[i].name);
    free(self->pool);
    free(self);
    *self_p = NULL;
}

static void
s_unlink(cli_seqtrack_t *self, s_entry_t *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        self->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        self->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void
s_push_newest(cli_seqtrack_t *self, s_entry_t *e)
{
    e->older = self->newest;
    e->newer = NULL;
    if (self->newest)
        self->newest->newer = e;
    self->newest = e;
    if (!self->oldest)
        self->oldest = e;
}

/*  A fresh entry for `sender`, taking the least recently seen one when
    the pool is full.  NULL when out of memory. */
static s_entry_t *
s_claim(cli_seqtrack_t *self, const char *sender)
{
    char *name = strdup(sender);
    if (!name)
        return NULL;
    s_entry_t *e;
    if (self->used < self->capacity)
        e = &self->pool[self->used++];
    else {
        e = self->oldest;
        s_unlink(self, e);
        zhashx_delete(self->by_name, e->name);
        free(e->name);
        self->evictions++;
    }
    memset(e, 0, sizeof *e);
    e->name = name;
    if (zhashx_insert(self->by_name, e->name, e) != 0) {
        // cannot happen (the name was absent), but never leave a stale key
        free(e->name);
        e->name = NULL;
        return NULL;
    }
    s_push_newest(self, e);
    return e;
}

/*  Restart the window at `seq`; numbers below it count as seen, since
    nothing is known about them. */
static void
s_reset(s_entry_t *e, uint64_t seq)
{
    e->top = seq;
    e->seen = ~(uint64_t)0;
}

static void
s_note_lost(cli_seqtrack_result_t *r, uint64_t first, uint64_t last)
{
    if (r->lost == 0 || first < r->lost_first)
        r->lost_first = first;
    if (r->lost == 0 || last > r->lost_last)
        r->lost_last = last;
    r->lost += last - first + 1;
}

/*  `seq` is above the top by d.  Immediate mode: the numbers jumped over
    are lost now.  Deferred mode: numbers still missing are lost when they
    leave the window, whether they were in it or jumped over it. */
static void
s_advance(const cli_seqtrack_t *self, s_entry_t *e, uint64_t seq,
          cli_seqtrack_result_t *r)
{
    uint64_t d = seq - e->top;
    if (!self->defer_gaps) {
        if (d > 1)
            s_note_lost(r, e->top + 1, seq - 1);
    } else {
        for (uint64_t i = 0; i < CLI_SEQTRACK_WINDOW; i++) {
            if (i + d < CLI_SEQTRACK_WINDOW)
                continue; // stays in the window
            if (!(e->seen & ((uint64_t)1 << i)))
                s_note_lost(r, e->top - i, e->top - i);
        }
        if (d > CLI_SEQTRACK_WINDOW) // jumped straight past the window
            s_note_lost(r, e->top + 1, seq - CLI_SEQTRACK_WINDOW);
    }
    e->seen = d >= CLI_SEQTRACK_WINDOW ? 0 : e->seen << d;
    e->seen |= 1;
    e->top = seq;
}

cli_seqtrack_result_t
cli_seqtrack_see(cli_seqtrack_t *self, const char *sender, uint64_t seq)
{
    cli_seqtrack_result_t r = {.verdict = CLI_SEQTRACK_NEXT};
    s_entry_t *e = zhashx_lookup(self->by_name, sender);
    if (!e) {
        e = s_claim(self, sender);
        if (e)
            s_reset(e, seq);
        // out of memory: show the message, track nothing
        r.verdict = CLI_SEQTRACK_FIRST;
        return r;
    }
    s_unlink(self, e);
    s_push_newest(self, e);
    if (seq > e->top) {
        s_advance(self, e, seq, &r);
        return r;
    }
    uint64_t below = e->top - seq;
    // One broker keeps a sender's order and never repeats a message, so
    // a number at or below the top means a new process under that name.
    if (!self->defer_gaps || below >= CLI_SEQTRACK_WINDOW) {
        r.verdict = CLI_SEQTRACK_RESTART;
        r.previous = e->top;
        s_reset(e, seq);
        return r;
    }
    uint64_t bit = (uint64_t)1 << below;
    if (e->seen & bit) {
        r.verdict = CLI_SEQTRACK_DUP;
        return r;
    }
    e->seen |= bit; // came through the slower broker: still news
    return r;
}

size_t
cli_seqtrack_size(const cli_seqtrack_t *self)
{
    return zhashx_size(self->by_name);
}

uint64_t
cli_seqtrack_evictions(const cli_seqtrack_t *self)
{
    return self->evictions;
}
