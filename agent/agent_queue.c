/*  agent_queue.c - bounded MPSC byte ring of encoded reports with lazy
    wake-ups (see agent_queue.h). */

#include "agent_queue.h"

#include "hb_clock.h"
#include "proto_codec.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define S_HDR sizeof(agent_queue_entry_t)
#define S_ALIGN(n) (((n) + 7) & ~(size_t)7)
#define S_SKIP UINT32_MAX // kind of the filler at the ring's end: wrap

//  Bytes a message's body can take beyond its strings: keys, the header
//  (with a PROTO_MAX_ID sender) and every number at its widest.
#define S_FIXED_BOUND 256

struct agent_queue {
    pthread_mutex_t lock; // guards everything below but the atomics
    uint8_t *ring;        // owned, `size` bytes, records 8-aligned
    size_t size;
    size_t limit; // bytes unreserved pushes may fill
    size_t head;  // oldest record
    size_t tail;  // where the next record goes
    size_t used;  // bytes from head to tail, gaps included
    size_t count; // records
    uint64_t next_seq;
    bool sleeping; // consumer is (about to be) waiting
    int wake_fd;   // owned eventfd
    char sender[PROTO_MAX_ID + 1];
    _Atomic size_t used_hint; // `used`, for agent_queue_full
    _Atomic uint64_t drops;
};

agent_queue_t *
agent_queue_new(size_t bytes, size_t reserve, const char *sender)
{
    bytes = S_ALIGN(bytes);
    if (bytes <= reserve || bytes < 4096 || !sender ||
        strlen(sender) > PROTO_MAX_ID)
        return NULL;
    agent_queue_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->size = bytes;
    self->limit = bytes - reserve;
    self->next_seq = 1;
    strcpy(self->sender, sender);
    self->ring = malloc(self->size);
    self->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!self->ring || self->wake_fd < 0 ||
        pthread_mutex_init(&self->lock, NULL) != 0) {
        if (self->wake_fd >= 0)
            close(self->wake_fd);
        free(self->ring);
        free(self);
        return NULL;
    }
    return self;
}

void
agent_queue_destroy(agent_queue_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    agent_queue_t *self = *self_p;
    pthread_mutex_destroy(&self->lock);
    close(self->wake_fd);
    free(self->ring);
    free(self);
    *self_p = NULL;
}

static void
s_signal(agent_queue_t *self)
{
    uint64_t one = 1;
    // EAGAIN means the counter is already non-zero: the consumer will wake.
    if (write(self->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        return;
}

/* ------------------------------------------------------ the message -- */

//  A string cut to its wire cap (into `tmp` only when it is longer, which
//  is rare); NULL reads as empty.  Adds its worst encoded size to *bound.
static const char *
s_cut(const char *s, size_t cap, char *tmp, size_t *bound)
{
    if (!s)
        s = "";
    size_t n = strnlen(s, cap + 1);
    if (n > cap) {
        memcpy(tmp, s, cap);
        tmp[cap] = '\0';
        s = tmp;
        n = cap;
    }
    *bound += n + 3;
    return s;
}

typedef struct {
    char op[PROTO_MAX_NAME + 1];
    char error_class[PROTO_MAX_CLASS + 1];
    char fix_id[PROTO_MAX_ID + 1];
    char text[PROTO_MAX_TEXT + 1];
} s_cuts_t;

//  Fill the kind's part of `m` from `in`; returns the most bytes the body
//  can take.  Hello and heartbeat have no part: the consumer fills them.
static size_t
s_prepare(const agent_queue_msg_t *in, proto_msg_t *m, s_cuts_t *c)
{
    size_t b = S_FIXED_BOUND;
    const char *op = s_cut(in->op, PROTO_MAX_NAME, c->op, &b);
    switch (in->kind) {
    case PROTO_KIND_ERROR:
        m->u.error = (proto_error_t){
            .op = op,
            .error_class =
                s_cut(in->error_class, PROTO_MAX_CLASS, c->error_class, &b),
            .text = s_cut(in->text, PROTO_MAX_TEXT, c->text, &b),
            .attempt = in->attempt,
            .max_attempts = in->max_attempts};
        break;
    case PROTO_KIND_SUCCESS:
        m->u.success.op = op;
        m->u.success.duration_us = in->duration_us;
        m->u.success.n_knobs =
            in->n_knobs < PROTO_MAX_KNOBS ? in->n_knobs : PROTO_MAX_KNOBS;
        for (uint32_t i = 0; i < m->u.success.n_knobs; i++) {
            const proto_pair_t *p = &in->knobs[i];
            m->u.success.knobs[i] = *p;
            b += 3 + strnlen(p->name ? p->name : "", PROTO_MAX_TEXT + 1) + 3 +
                 (p->value.type == PROTO_VAL_STR && p->value.u.s
                      ? strnlen(p->value.u.s, PROTO_MAX_TEXT + 1)
                      : 9);
        }
        break;
    case PROTO_KIND_METRIC:
        m->u.metric = (proto_metric_t){.name = op, .value = in->value};
        break;
    case PROTO_KIND_HEAL:
        m->u.heal = (proto_heal_t){
            .req_id = in->req_id,
            .op = op,
            .error_class =
                s_cut(in->error_class, PROTO_MAX_CLASS, c->error_class, &b),
            .text = s_cut(in->text, PROTO_MAX_TEXT, c->text, &b),
            .attempts = in->attempt,
            .mode = (proto_heal_mode_t)in->mode};
        break;
    case PROTO_KIND_FIXRES:
        m->u.fixres = (proto_fixres_t){
            .fix_id = s_cut(in->fix_id, PROTO_MAX_ID, c->fix_id, &b),
            .req_id = in->req_id,
            .op = op,
            .outcome = (proto_outcome_t)in->outcome,
            .reason = s_cut(in->text, PROTO_MAX_TEXT, c->text, &b),
            .test_us = in->duration_us};
        break;
    default:
        return 0;
    }
    return b;
}

/* ------------------------------------------------------------- ring -- */

//  Where a record of up to `need` bytes goes, or SIZE_MAX when there is
//  no room within `budget`; *gap: bytes skipped at the ring's end.
static size_t
s_place(const agent_queue_t *self, size_t need, size_t budget, size_t *gap)
{
    *gap = 0;
    if (self->count == 0)
        return need <= budget ? 0 : SIZE_MAX; // empty: head = tail = 0
    size_t at = self->tail;
    if (self->tail > self->head && need > self->size - self->tail) {
        *gap = self->size - self->tail; // wrap: the end is too short
        at = 0;
    }
    size_t room = at >= self->head ? self->size - at : self->head - at;
    if (at == self->head || need > room || self->used + *gap + need > budget)
        return SIZE_MAX;
    return at;
}

hb_err_t
agent_queue_push(agent_queue_t *self, const agent_queue_msg_t *msg,
                 bool reserved, uint64_t *seq)
{
    proto_msg_t m; // only the header and the kind's part are read
    s_cuts_t cuts;
    size_t bound = s_prepare(msg, &m, &cuts);
    m.kind = msg->kind;
    m.version = PROTO_VERSION;
    m.sender = self->sender;
    m.ts_us = hb_clock_wall_us();
    size_t gap, need = S_HDR + S_ALIGN(bound);
    pthread_mutex_lock(&self->lock);
    size_t at = s_place(self, need, reserved ? self->size : self->limit, &gap);
    if (at == SIZE_MAX) {
        pthread_mutex_unlock(&self->lock);
        atomic_fetch_add_explicit(&self->drops, 1, memory_order_relaxed);
        return HB_EFULL;
    }
    agent_queue_entry_t *e = (agent_queue_entry_t *)(self->ring + at);
    m.seq = self->next_seq;
    size_t len = 0;
    // Encoding here is the copy into the slot: the body is the strings
    // plus a few header bytes, and the number must be in it.
    if (bound > 0) {
        hb_err_t rc = proto_codec_encode(&m, e->body, bound, &len);
        if (rc != HB_OK) {
            pthread_mutex_unlock(&self->lock);
            return rc == HB_ETOOBIG ? HB_EINVAL : rc;
        }
    }
    if (gap >= S_HDR)
        ((agent_queue_entry_t *)(self->ring + self->tail))->kind = S_SKIP;
    *e = (agent_queue_entry_t){.kind = msg->kind,
                               .len = (uint32_t)len,
                               .seq = self->next_seq++,
                               .ts_us = m.ts_us};
    size_t rec = S_HDR + S_ALIGN(len);
    self->tail = at + rec;
    self->used += gap + rec;
    self->count++;
    atomic_store_explicit(&self->used_hint, self->used, memory_order_relaxed);
    if (seq)
        *seq = e->seq;
    bool wake = self->sleeping;
    self->sleeping = false;
    pthread_mutex_unlock(&self->lock);
    if (wake)
        s_signal(self);
    return HB_OK;
}

bool
agent_queue_full(const agent_queue_t *self)
{
    agent_queue_t *q = (agent_queue_t *)self;
    size_t used = atomic_load_explicit(&q->used_hint, memory_order_relaxed);
    return used + S_HDR + S_FIXED_BOUND > q->limit;
}

void
agent_queue_count_drop(agent_queue_t *self)
{
    atomic_fetch_add_explicit(&self->drops, 1, memory_order_relaxed);
}

size_t
agent_queue_begin(agent_queue_t *self, agent_queue_batch_t *batch, size_t max)
{
    pthread_mutex_lock(&self->lock);
    *batch = (agent_queue_batch_t){
        .pos = self->head, .left = self->count < max ? self->count : max};
    pthread_mutex_unlock(&self->lock);
    return batch->left;
}

const agent_queue_entry_t *
agent_queue_next(agent_queue_t *self, agent_queue_batch_t *batch)
{
    if (batch->left == 0)
        return NULL;
    // The end of the ring too short for a header, or a filler: wrap.
    if (self->size - batch->pos < S_HDR ||
        ((agent_queue_entry_t *)(self->ring + batch->pos))->kind == S_SKIP) {
        batch->bytes += self->size - batch->pos;
        batch->pos = 0;
    }
    agent_queue_entry_t *e = (agent_queue_entry_t *)(self->ring + batch->pos);
    size_t rec = S_HDR + S_ALIGN(e->len);
    batch->pos += rec;
    batch->bytes += rec;
    batch->left--;
    batch->taken++;
    return e;
}

void
agent_queue_end(agent_queue_t *self, agent_queue_batch_t *batch)
{
    if (batch->taken == 0)
        return;
    pthread_mutex_lock(&self->lock);
    assert(batch->taken <= self->count && batch->bytes <= self->used);
    self->count -= batch->taken;
    self->used -= batch->bytes;
    self->head = batch->pos;
    if (self->count == 0) { // start over at 0: no wrap for a while
        assert(self->used == 0);
        self->head = self->tail = 0;
    }
    atomic_store_explicit(&self->used_hint, self->used, memory_order_relaxed);
    pthread_mutex_unlock(&self->lock);
    *batch = (agent_queue_batch_t){0};
}

bool
agent_queue_idle(agent_queue_t *self)
{
    pthread_mutex_lock(&self->lock);
    bool empty = self->count == 0;
    if (empty)
        self->sleeping = true;
    pthread_mutex_unlock(&self->lock);
    return empty;
}

int
agent_queue_fd(const agent_queue_t *self)
{
    return self->wake_fd;
}

void
agent_queue_woken(agent_queue_t *self)
{
    uint64_t n;
    // Non-blocking read resets the eventfd counter; EAGAIN: nothing to clear.
    if (read(self->wake_fd, &n, sizeof n) < 0 && errno != EAGAIN)
        return;
    pthread_mutex_lock(&self->lock);
    self->sleeping = false;
    pthread_mutex_unlock(&self->lock);
}

void
agent_queue_kick(agent_queue_t *self)
{
    s_signal(self);
}

uint64_t
agent_queue_drops(const agent_queue_t *self)
{
    return atomic_load_explicit(&((agent_queue_t *)self)->drops,
                                memory_order_relaxed);
}

size_t
agent_queue_depth(const agent_queue_t *self)
{
    agent_queue_t *q = (agent_queue_t *)self;
    pthread_mutex_lock(&q->lock);
    size_t n = q->count;
    pthread_mutex_unlock(&q->lock);
    return n;
}

uint64_t
agent_queue_last_seq(const agent_queue_t *self)
{
    agent_queue_t *q = (agent_queue_t *)self;
    pthread_mutex_lock(&q->lock);
    uint64_t seq = q->next_seq - 1;
    pthread_mutex_unlock(&q->lock);
    return seq;
}
