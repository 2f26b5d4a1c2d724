/*  agent_fix.c - fix validation, pending table, apply and rollback
    (see agent_fix.h). */

#include "agent_fix.h"

#include "hb_clock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char op[PROTO_MAX_NAME + 1];
    proto_msg_t *msg; // owned; NULL when the slot is free
} s_pending_t;

struct agent_fix {
    char name[PROTO_MAX_ID + 1];
    agent_knobs_t *knobs;                 // borrowed from the agent
    char seen[AGENT_FIX_SEEN][PROTO_MAX_ID + 1]; // ring of recent fix ids
    size_t seen_next;
    pthread_mutex_t lock;                 // guards pending and closed
    pthread_cond_t arrived;
    s_pending_t pending[AGENT_FIX_MAX_PENDING];
    //  Escalations per operation, newest AGENT_FIX_MAX_PENDING operations.
    struct {
        char op[PROTO_MAX_NAME + 1];
        uint64_t count;
    } escalated[AGENT_FIX_MAX_PENDING];
    size_t escalated_next;
    bool closed;
    atomic_bool interrupted;              // set from signal handlers too
};

agent_fix_t *
agent_fix_new(const char *name, agent_knobs_t *knobs)
{
    agent_fix_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    snprintf(self->name, sizeof self->name, "%s", name);
    self->knobs = knobs;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&self->arrived, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0 || pthread_mutex_init(&self->lock, NULL) != 0) {
        if (rc == 0)
            pthread_cond_destroy(&self->arrived);
        free(self);
        return NULL;
    }
    return self;
}

void
agent_fix_free(proto_msg_t **msg_p)
{
    if (!msg_p || !*msg_p)
        return;
    proto_msg_clear(*msg_p);
    free(*msg_p);
    *msg_p = NULL;
}

void
agent_fix_destroy(agent_fix_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    agent_fix_t *self = *self_p;
    for (size_t i = 0; i < AGENT_FIX_MAX_PENDING; i++)
        agent_fix_free(&self->pending[i].msg);
    pthread_cond_destroy(&self->arrived);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

static bool
s_seen(const agent_fix_t *self, const char *id)
{
    for (size_t i = 0; i < AGENT_FIX_SEEN; i++)
        if (strcmp(self->seen[i], id) == 0)
            return true;
    return false;
}

//  Does an action's declared argument type accept `v`?
static bool
s_arg_ok(hb_arg_type_t want, const proto_value_t *v)
{
    switch (want) {
    case HB_ARG_NONE:
        return v->type == PROTO_VAL_NIL;
    case HB_ARG_INT:
        return v->type == PROTO_VAL_INT;
    case HB_ARG_DOUBLE:
        return v->type == PROTO_VAL_INT || v->type == PROTO_VAL_DOUBLE;
    case HB_ARG_STRING:
        return v->type == PROTO_VAL_STR && v->u.s;
    }
    return false;
}

static hb_err_t
s_check_step(agent_fix_t *self, const proto_step_t *step)
{
    if (step->op != PROTO_STEP_ACTION) {
        hb_knob_t *k;
        uint64_t bits;
        return agent_knobs_step(self->knobs, step, &k, &bits);
    }
    const agent_action_t *a =
        step->target ? agent_knobs_find_action(self->knobs, step->target)
                     : NULL;
    if (!a)
        return HB_ENOTFOUND;
    return s_arg_ok(a->arg, &step->value) ? HB_OK : HB_ETYPE;
}

hb_err_t
agent_fix_validate(agent_fix_t *self, const proto_msg_t *msg, int64_t now_us)
{
    if (msg->kind != PROTO_KIND_FIX || !msg->subject ||
        strcmp(msg->subject, self->name) != 0)
        return HB_ENOTMINE;
    const proto_fix_t *fix = &msg->u.fix;
    if (!fix->fix_id || !*fix->fix_id || !fix->op || !*fix->op ||
        strlen(fix->fix_id) > PROTO_MAX_ID || strlen(fix->op) > PROTO_MAX_NAME)
        return HB_EINVAL;
    if (s_seen(self, fix->fix_id))
        return HB_EALREADY;
    if (fix->expires_us > 0 && fix->expires_us <= now_us)
        return HB_EEXPIRED;
    if (fix->n_steps == 0 || fix->n_steps > PROTO_MAX_STEPS)
        return HB_EINVAL;
    for (uint32_t i = 0; i < fix->n_steps; i++) {
        hb_err_t rc = s_check_step(self, &fix->steps[i]);
        if (rc != HB_OK)
            return rc;
    }
    strcpy(self->seen[self->seen_next], fix->fix_id);
    self->seen_next = (self->seen_next + 1) % AGENT_FIX_SEEN;
    return HB_OK;
}

static s_pending_t *
s_slot(agent_fix_t *self, const char *op, bool make)
{
    s_pending_t *free_slot = NULL;
    for (size_t i = 0; i < AGENT_FIX_MAX_PENDING; i++) {
        s_pending_t *p = &self->pending[i];
        if (p->msg && strcmp(p->op, op) == 0)
            return p;
        if (!p->msg && !free_slot)
            free_slot = p;
    }
    return make ? free_slot : NULL;
}

hb_err_t
agent_fix_offer(agent_fix_t *self, proto_msg_t **msg_p, char *replaced,
                size_t replaced_len)
{
    proto_msg_t *msg = *msg_p;
    *msg_p = NULL;
    if (replaced_len)
        replaced[0] = '\0';
    proto_msg_t *old = NULL;
    hb_err_t rc = HB_OK;
    pthread_mutex_lock(&self->lock);
    s_pending_t *p = s_slot(self, msg->u.fix.op, true);
    if (!p)
        rc = HB_EFULL;
    else {
        old = p->msg; // the newest fix wins
        snprintf(p->op, sizeof p->op, "%s", msg->u.fix.op);
        p->msg = msg;
        msg = NULL;
        pthread_cond_broadcast(&self->arrived);
    }
    pthread_mutex_unlock(&self->lock);
    if (old && replaced_len)
        snprintf(replaced, replaced_len, "%s", old->u.fix.fix_id);
    agent_fix_free(&old);
    agent_fix_free(&msg);
    return rc;
}

static struct timespec
s_deadline(uint64_t wait_us)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + (wait_us % 1000000) * 1000;
    ts.tv_sec += (time_t)(wait_us / 1000000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return ts;
}

//  Caller holds the lock.
static uint64_t
s_escalations(const agent_fix_t *self, const char *op)
{
    for (size_t i = 0; i < AGENT_FIX_MAX_PENDING; i++)
        if (self->escalated[i].count &&
            strcmp(self->escalated[i].op, op) == 0)
            return self->escalated[i].count;
    return 0;
}

uint64_t
agent_fix_escalations(agent_fix_t *self, const char *op)
{
    pthread_mutex_lock(&self->lock);
    uint64_t n = s_escalations(self, op);
    pthread_mutex_unlock(&self->lock);
    return n;
}

void
agent_fix_escalated(agent_fix_t *self, const char *op)
{
    pthread_mutex_lock(&self->lock);
    size_t at = AGENT_FIX_MAX_PENDING;
    for (size_t i = 0; i < AGENT_FIX_MAX_PENDING && at == AGENT_FIX_MAX_PENDING;
         i++)
        if (self->escalated[i].count && strcmp(self->escalated[i].op, op) == 0)
            at = i;
    if (at == AGENT_FIX_MAX_PENDING) { // a new operation replaces the oldest
        at = self->escalated_next;
        self->escalated_next = (at + 1) % AGENT_FIX_MAX_PENDING;
        snprintf(self->escalated[at].op, sizeof self->escalated[at].op, "%s",
                 op);
        self->escalated[at].count = 0;
    }
    self->escalated[at].count++;
    pthread_cond_broadcast(&self->arrived);
    pthread_mutex_unlock(&self->lock);
}

proto_msg_t *
agent_fix_take(agent_fix_t *self, const char *op, uint64_t wait_us)
{
    bool gave_up;
    return agent_fix_wait(self, op, wait_us, UINT64_MAX, &gave_up);
}

proto_msg_t *
agent_fix_wait(agent_fix_t *self, const char *op, uint64_t wait_us,
               uint64_t escalations_seen, bool *gave_up)
{
    *gave_up = false;
    //  Waits in slices so an interrupt raised from a signal handler, which
    //  cannot take the lock to signal the condition, is seen promptly.
    const uint64_t slice_us = 50 * 1000;
    uint64_t start_us = (uint64_t)hb_clock_mono_us();
    proto_msg_t *msg = NULL;
    pthread_mutex_lock(&self->lock);
    for (;;) {
        s_pending_t *p = s_slot(self, op, false);
        if (p) {
            msg = p->msg;
            p->msg = NULL;
            break;
        }
        uint64_t spent = (uint64_t)hb_clock_mono_us() - start_us;
        if (spent >= wait_us || self->closed ||
            atomic_load(&self->interrupted))
            break;
        if (escalations_seen != UINT64_MAX &&
            s_escalations(self, op) > escalations_seen) {
            *gave_up = true;
            break;
        }
        uint64_t left = wait_us - spent;
        struct timespec until = s_deadline(left < slice_us ? left : slice_us);
        pthread_cond_timedwait(&self->arrived, &self->lock, &until);
    }
    pthread_mutex_unlock(&self->lock);
    return msg;
}

void
agent_fix_interrupt(agent_fix_t *self)
{
    atomic_store(&self->interrupted, true);
}

bool
agent_fix_interrupted(const agent_fix_t *self)
{
    return atomic_load(&((agent_fix_t *)self)->interrupted);
}

void
agent_fix_close(agent_fix_t *self)
{
    pthread_mutex_lock(&self->lock);
    self->closed = true;
    pthread_cond_broadcast(&self->arrived);
    pthread_mutex_unlock(&self->lock);
}

//  An action's argument as the text its callback receives.
static const char *
s_arg_text(const proto_value_t *v, char *buf, size_t len)
{
    switch (v->type) {
    case PROTO_VAL_INT:
        snprintf(buf, len, "%" PRId64, v->u.i);
        return buf;
    case PROTO_VAL_DOUBLE:
        snprintf(buf, len, "%.17g", v->u.d);
        return buf;
    case PROTO_VAL_STR:
        snprintf(buf, len, "%s", v->u.s);
        return buf;
    default:
        return NULL;
    }
}

static hb_err_t
s_apply_step(agent_fix_t *self, const proto_step_t *step,
             agent_fix_undo_t *undo)
{
    if (step->op != PROTO_STEP_ACTION) {
        hb_knob_t *k;
        uint64_t bits;
        hb_err_t rc = agent_knobs_step(self->knobs, step, &k, &bits);
        if (rc == HB_OK)
            atomic_store(&k->bits, bits);
        return rc;
    }
    hb_err_t rc = s_check_step(self, step);
    if (rc != HB_OK)
        return rc;
    const agent_action_t *a = agent_knobs_find_action(self->knobs,
                                                      step->target);
    char *buf = undo->args[undo->n_done];
    const char *arg = s_arg_text(&step->value, buf, PROTO_MAX_TEXT + 1);
    if (a->apply(a->user, arg) != HB_OK)
        return HB_EFAILED;
    if (!arg)
        buf[0] = '\0';
    undo->done[undo->n_done++] = a;
    return HB_OK;
}

hb_err_t
agent_fix_apply(agent_fix_t *self, const proto_fix_t *fix,
                agent_fix_undo_t *undo)
{
    agent_knobs_snapshot(self->knobs, &undo->snap);
    undo->n_done = 0;
    for (uint32_t i = 0; i < fix->n_steps && i < PROTO_MAX_STEPS; i++) {
        hb_err_t rc = s_apply_step(self, &fix->steps[i], undo);
        if (rc != HB_OK) {
            agent_fix_rollback(self, undo);
            return rc;
        }
    }
    return HB_OK;
}

void
agent_fix_rollback(agent_fix_t *self, agent_fix_undo_t *undo)
{
    agent_knobs_restore(self->knobs, &undo->snap);
    while (undo->n_done > 0) {
        const agent_action_t *a = undo->done[--undo->n_done];
        if (a->undo) {
            const char *arg = a->arg == HB_ARG_NONE ? NULL
                                                    : undo->args[undo->n_done];
            a->undo(a->user, arg);
        }
    }
}
