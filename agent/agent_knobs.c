/*  agent_knobs.c - declared knobs and actions, lock-free reads, fix-step
    arithmetic (see agent_knobs.h). */

#include "agent_knobs.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct agent_knobs {
    pthread_mutex_t lock; // serialises declarations; readers never take it
    hb_knob_t knobs[PROTO_MAX_KNOBS];
    _Atomic uint32_t n_knobs; // published with release after the entry
    agent_action_t actions[PROTO_MAX_ACTIONS];
    _Atomic uint32_t n_actions;
};

agent_knobs_t *
agent_knobs_new(void)
{
    agent_knobs_t *self = calloc(1, sizeof *self);
    if (self && pthread_mutex_init(&self->lock, NULL) != 0) {
        free(self);
        return NULL;
    }
    return self;
}

void
agent_knobs_destroy(agent_knobs_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    agent_knobs_t *self = *self_p;
    uint32_t n = atomic_load(&self->n_knobs);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t c = 0; c < self->knobs[i].n_choices; c++)
            free(self->knobs[i].choices[c]);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

bool
agent_knobs_name_ok(const char *name)
{
    if (!name)
        return false;
    size_t n = strnlen(name, PROTO_MAX_NAME + 1);
    if (n == 0 || n > PROTO_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

uint64_t
agent_knobs_bits_d(double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    return bits;
}

double
agent_knobs_d(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

//  Fill `k` from `decl`: bounds and initial value checked by type.
static hb_err_t
s_fill(hb_knob_t *k, const agent_knobs_decl_t *decl)
{
    strcpy(k->name, decl->name);
    k->type = decl->type;
    switch (decl->type) {
    case PROTO_KNOB_INT:
        if (decl->min_i > decl->max_i || decl->value_i < decl->min_i ||
            decl->value_i > decl->max_i)
            return HB_EINVAL;
        k->min_i = decl->min_i;
        k->max_i = decl->max_i;
        atomic_init(&k->bits, (uint64_t)decl->value_i);
        return HB_OK;
    case PROTO_KNOB_DOUBLE:
        if (!isfinite(decl->min_d) || !isfinite(decl->max_d) ||
            !(decl->min_d <= decl->value_d && decl->value_d <= decl->max_d))
            return HB_EINVAL;
        k->min_d = decl->min_d;
        k->max_d = decl->max_d;
        atomic_init(&k->bits, agent_knobs_bits_d(decl->value_d));
        return HB_OK;
    case PROTO_KNOB_BOOL:
        k->min_i = 0;
        k->max_i = 1;
        atomic_init(&k->bits, (uint64_t)(decl->value_i != 0));
        return HB_OK;
    case PROTO_KNOB_ENUM:
        break;
    }
    if (!decl->choices || !decl->value_s)
        return HB_EINVAL;
    int64_t current = -1;
    for (uint32_t c = 0; decl->choices[c]; c++) {
        if (c == PROTO_MAX_CHOICES || !agent_knobs_name_ok(decl->choices[c]))
            return HB_EINVAL;
        k->choices[c] = strdup(decl->choices[c]);
        if (!k->choices[c])
            return HB_ENOMEM;
        k->n_choices = c + 1;
        if (strcmp(decl->choices[c], decl->value_s) == 0)
            current = c;
    }
    if (current < 0)
        return HB_EINVAL;
    k->min_i = 0;
    k->max_i = (int64_t)k->n_choices - 1;
    atomic_init(&k->bits, (uint64_t)current);
    return HB_OK;
}

static bool
s_taken(agent_knobs_t *self, const char *name)
{
    return agent_knobs_find(self, name) ||
           agent_knobs_find_action(self, name);
}

hb_knob_t *
agent_knobs_declare(agent_knobs_t *self, const agent_knobs_decl_t *decl,
                    hb_err_t *why)
{
    hb_err_t rc = HB_OK;
    hb_knob_t *k = NULL;
    if (!agent_knobs_name_ok(decl->name)) {
        rc = HB_EINVAL;
        goto out;
    }
    pthread_mutex_lock(&self->lock);
    uint32_t n = atomic_load_explicit(&self->n_knobs, memory_order_relaxed);
    if (s_taken(self, decl->name))
        rc = HB_EEXISTS;
    else if (n == PROTO_MAX_KNOBS)
        rc = HB_EFULL;
    else {
        k = &self->knobs[n];
        rc = s_fill(k, decl);
        if (rc == HB_OK) // publish only a complete entry
            atomic_store_explicit(&self->n_knobs, n + 1,
                                  memory_order_release);
        else {
            for (uint32_t c = 0; c < k->n_choices; c++)
                free(k->choices[c]);
            memset(k, 0, sizeof *k);
            k = NULL;
        }
    }
    pthread_mutex_unlock(&self->lock);
out:
    if (why)
        *why = rc;
    return k;
}

hb_err_t
agent_knobs_action(agent_knobs_t *self, const char *name, hb_arg_type_t arg,
                   hb_action_fn *apply, hb_action_fn *undo, void *user)
{
    if (!agent_knobs_name_ok(name) || !apply || (int)arg < HB_ARG_NONE ||
        arg > HB_ARG_STRING)
        return HB_EINVAL;
    hb_err_t rc = HB_OK;
    pthread_mutex_lock(&self->lock);
    uint32_t n = atomic_load_explicit(&self->n_actions, memory_order_relaxed);
    if (s_taken(self, name))
        rc = HB_EEXISTS;
    else if (n == PROTO_MAX_ACTIONS)
        rc = HB_EFULL;
    else {
        agent_action_t *a = &self->actions[n];
        strcpy(a->name, name);
        a->arg = arg;
        a->apply = apply;
        a->undo = undo;
        a->user = user;
        atomic_store_explicit(&self->n_actions, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&self->lock);
    return rc;
}

hb_knob_t *
agent_knobs_find(agent_knobs_t *self, const char *name)
{
    uint32_t n = atomic_load_explicit(&self->n_knobs, memory_order_acquire);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(self->knobs[i].name, name) == 0)
            return &self->knobs[i];
    return NULL;
}

const agent_action_t *
agent_knobs_find_action(agent_knobs_t *self, const char *name)
{
    uint32_t n = atomic_load_explicit(&self->n_actions, memory_order_acquire);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(self->actions[i].name, name) == 0)
            return &self->actions[i];
    return NULL;
}

//  The current value of `k` as a wire value (enum: its choice's name).
static proto_value_t
s_value(const hb_knob_t *k)
{
    uint64_t bits = atomic_load_explicit(&((hb_knob_t *)k)->bits,
                                         memory_order_relaxed);
    proto_value_t v = {.type = PROTO_VAL_INT};
    switch (k->type) {
    case PROTO_KNOB_INT:
        v.u.i = (int64_t)bits;
        break;
    case PROTO_KNOB_DOUBLE:
        v.type = PROTO_VAL_DOUBLE;
        v.u.d = agent_knobs_d(bits);
        break;
    case PROTO_KNOB_BOOL:
        v.type = PROTO_VAL_BOOL;
        v.u.b = bits != 0;
        break;
    case PROTO_KNOB_ENUM:
        v.type = PROTO_VAL_STR;
        v.u.s = k->choices[bits < k->n_choices ? bits : 0];
        break;
    }
    return v;
}

void
agent_knobs_describe(agent_knobs_t *self, proto_hello_t *hello)
{
    uint32_t n = atomic_load_explicit(&self->n_knobs, memory_order_acquire);
    for (uint32_t i = 0; i < n; i++) {
        const hb_knob_t *k = &self->knobs[i];
        proto_knob_t *pk = &hello->knobs[i];
        pk->name = k->name;
        pk->type = k->type;
        pk->value = s_value(k);
        if (k->type == PROTO_KNOB_INT) {
            pk->min = (proto_value_t){.type = PROTO_VAL_INT, .u.i = k->min_i};
            pk->max = (proto_value_t){.type = PROTO_VAL_INT, .u.i = k->max_i};
        } else if (k->type == PROTO_KNOB_DOUBLE) {
            pk->min = (proto_value_t){.type = PROTO_VAL_DOUBLE, .u.d = k->min_d};
            pk->max = (proto_value_t){.type = PROTO_VAL_DOUBLE, .u.d = k->max_d};
        }
        for (uint32_t c = 0; c < k->n_choices; c++)
            pk->choices[c] = k->choices[c];
        pk->n_choices = k->n_choices;
    }
    hello->n_knobs = n;
    uint32_t na = atomic_load_explicit(&self->n_actions, memory_order_acquire);
    for (uint32_t i = 0; i < na; i++) {
        hello->actions[i].name = self->actions[i].name;
        hello->actions[i].arg = (proto_arg_type_t)self->actions[i].arg;
    }
    hello->n_actions = na;
}

uint32_t
agent_knobs_values(agent_knobs_t *self, proto_pair_t *pairs, uint32_t cap)
{
    uint32_t n = atomic_load_explicit(&self->n_knobs, memory_order_acquire);
    if (n > cap)
        n = cap;
    for (uint32_t i = 0; i < n; i++) {
        pairs[i].name = self->knobs[i].name;
        pairs[i].value = s_value(&self->knobs[i]);
    }
    return n;
}

void
agent_knobs_snapshot(agent_knobs_t *self, agent_knobs_snap_t *snap)
{
    snap->n = atomic_load_explicit(&self->n_knobs, memory_order_acquire);
    for (uint32_t i = 0; i < snap->n; i++)
        snap->bits[i] = atomic_load(&self->knobs[i].bits);
}

void
agent_knobs_restore(agent_knobs_t *self, const agent_knobs_snap_t *snap)
{
    for (uint32_t i = 0; i < snap->n; i++)
        atomic_store(&self->knobs[i].bits, snap->bits[i]);
}

//  A numeric step value as double (ints widen); false for other types.
static bool
s_number(const proto_value_t *v, double *out)
{
    if (v->type == PROTO_VAL_INT)
        *out = (double)v->u.i;
    else if (v->type == PROTO_VAL_DOUBLE && isfinite(v->u.d))
        *out = v->u.d;
    else
        return false;
    return true;
}

static hb_err_t
s_step_int(const hb_knob_t *k, const proto_step_t *step, uint64_t *bits)
{
    int64_t cur = (int64_t)atomic_load(&((hb_knob_t *)k)->bits);
    if (step->op == PROTO_STEP_SET) {
        if (step->value.type != PROTO_VAL_INT)
            return HB_ETYPE;
        if (step->value.u.i < k->min_i || step->value.u.i > k->max_i)
            return HB_ERANGE;
        *bits = (uint64_t)step->value.u.i;
        return HB_OK;
    }
    double x, r;
    if (!s_number(&step->value, &x))
        return HB_ETYPE;
    if (step->op == PROTO_STEP_MUL)
        r = (double)cur * x;
    else if (step->op == PROTO_STEP_DIV) {
        if (x == 0.0)
            return HB_ERANGE;
        r = (double)cur / x;
    } else
        r = (double)cur + x;
    // Clamp in double first: the product may not fit in int64.
    r = isnan(r) ? (double)cur : round(r);
    int64_t v = r <= (double)k->min_i   ? k->min_i
                : r >= (double)k->max_i ? k->max_i
                                        : (int64_t)r;
    if (v == cur)
        return HB_ENOEFFECT;
    *bits = (uint64_t)v;
    return HB_OK;
}

static hb_err_t
s_step_double(const hb_knob_t *k, const proto_step_t *step, uint64_t *bits)
{
    double cur = agent_knobs_d(atomic_load(&((hb_knob_t *)k)->bits));
    double x, r;
    if (!s_number(&step->value, &x))
        return HB_ETYPE;
    switch (step->op) {
    case PROTO_STEP_SET:
        if (x < k->min_d || x > k->max_d)
            return HB_ERANGE;
        *bits = agent_knobs_bits_d(x);
        return HB_OK;
    case PROTO_STEP_MUL:
        r = cur * x;
        break;
    case PROTO_STEP_DIV:
        if (x == 0.0)
            return HB_ERANGE;
        r = cur / x;
        break;
    default:
        r = cur + x;
        break;
    }
    r = isnan(r) ? cur : fmin(fmax(r, k->min_d), k->max_d);
    if (r == cur)
        return HB_ENOEFFECT;
    *bits = agent_knobs_bits_d(r);
    return HB_OK;
}

//  Bool and enum knobs only take SET, of a bool or a declared choice.
static hb_err_t
s_step_choice(const hb_knob_t *k, const proto_step_t *step, uint64_t *bits)
{
    if (step->op != PROTO_STEP_SET)
        return HB_ETYPE;
    if (k->type == PROTO_KNOB_BOOL) {
        if (step->value.type != PROTO_VAL_BOOL)
            return HB_ETYPE;
        *bits = step->value.u.b;
        return HB_OK;
    }
    if (step->value.type != PROTO_VAL_STR || !step->value.u.s)
        return HB_ETYPE;
    for (uint32_t c = 0; c < k->n_choices; c++)
        if (strcmp(k->choices[c], step->value.u.s) == 0) {
            *bits = c;
            return HB_OK;
        }
    return HB_ERANGE;
}

hb_err_t
agent_knobs_step(agent_knobs_t *self, const proto_step_t *step,
                 hb_knob_t **knob, uint64_t *bits)
{
    hb_knob_t *k = step->target ? agent_knobs_find(self, step->target) : NULL;
    if (!k)
        return HB_ENOTFOUND;
    *knob = k;
    switch (k->type) {
    case PROTO_KNOB_INT:
        return s_step_int(k, step, bits);
    case PROTO_KNOB_DOUBLE:
        return s_step_double(k, step, bits);
    default:
        return s_step_choice(k, step, bits);
    }
}
