/*  agent_queue.c - bounded MPSC copy queue with lazy wake-ups
    (see agent_queue.h). */

#include "agent_queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct agent_queue {
    pthread_mutex_t lock;         // guards everything below but `drops`
    agent_queue_entry_t *slots;   // owned; capacity + reserve of them
    size_t size;                  // total slots
    size_t limit;                 // slots unreserved pushes may fill
    size_t head;                  // oldest slot
    size_t count;
    uint64_t next_seq;
    bool sleeping;                // consumer is (about to be) waiting
    int wake_fd;                  // owned eventfd
    _Atomic uint64_t drops;
};

agent_queue_t *
agent_queue_new(size_t capacity, size_t reserve)
{
    if (capacity == 0)
        return NULL;
    agent_queue_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->size = capacity + reserve;
    self->limit = capacity;
    self->next_seq = 1;
    self->slots = calloc(self->size, sizeof *self->slots);
    self->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!self->slots || self->wake_fd < 0 ||
        pthread_mutex_init(&self->lock, NULL) != 0) {
        if (self->wake_fd >= 0)
            close(self->wake_fd);
        free(self->slots);
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
    free(self->slots);
    free(self);
    *self_p = NULL;
}

//  Copy a string by length into a bounded field; the wire caps are the
//  field sizes, so a longer string is cut there rather than refused.
static void
s_copy(char *dst, size_t cap, const char *src)
{
    if (!src) {
        dst[0] = '\0';
        return;
    }
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int64_t
s_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
s_signal(agent_queue_t *self)
{
    uint64_t one = 1;
    // EAGAIN means the counter is already non-zero: the consumer will wake.
    if (write(self->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        return;
}

hb_err_t
agent_queue_push(agent_queue_t *self, const agent_queue_msg_t *msg,
                 bool reserved, uint64_t *seq)
{
    int64_t now = s_wall_us();
    pthread_mutex_lock(&self->lock);
    if (self->count >= (reserved ? self->size : self->limit)) {
        pthread_mutex_unlock(&self->lock);
        atomic_fetch_add_explicit(&self->drops, 1, memory_order_relaxed);
        return HB_EFULL;
    }
    agent_queue_entry_t *e = &self->slots[(self->head + self->count) %
                                          self->size];
    e->kind = msg->kind;
    e->seq = self->next_seq++;
    e->ts_us = now;
    e->attempt = msg->attempt;
    e->max_attempts = msg->max_attempts;
    e->mode = msg->mode;
    e->outcome = msg->outcome;
    e->duration_us = msg->duration_us;
    e->req_id = msg->req_id;
    e->value = msg->value;
    s_copy(e->op, sizeof e->op, msg->op);
    s_copy(e->error_class, sizeof e->error_class, msg->error_class);
    s_copy(e->fix_id, sizeof e->fix_id, msg->fix_id);
    s_copy(e->text, sizeof e->text, msg->text);
    if (seq)
        *seq = e->seq;
    self->count++;
    bool wake = self->sleeping;
    self->sleeping = false;
    pthread_mutex_unlock(&self->lock);
    if (wake)
        s_signal(self);
    return HB_OK;
}

const agent_queue_entry_t *
agent_queue_peek(agent_queue_t *self)
{
    pthread_mutex_lock(&self->lock);
    const agent_queue_entry_t *e =
        self->count ? &self->slots[self->head] : NULL;
    pthread_mutex_unlock(&self->lock);
    return e;
}

void
agent_queue_release(agent_queue_t *self)
{
    pthread_mutex_lock(&self->lock);
    if (self->count) {
        self->head = (self->head + 1) % self->size;
        self->count--;
    }
    pthread_mutex_unlock(&self->lock);
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
