/*  hb_knob.c - the public face of knobs: declaring them on an agent and
    reading or setting them from any thread (lock-free atomic words; the
    registry lives in agent_knobs.c). */

#include "hb_agent_int.h"

#include <assert.h>
#include <math.h>

static hb_knob_t *
s_declare(hb_agent_t *self, const agent_knobs_decl_t *decl, hb_err_t *why)
{
    assert(self);
    hb_err_t rc;
    hb_knob_t *k = agent_knobs_declare(hb_agent_knobs(self), decl, &rc);
    if (k)
        hb_agent_declared(self);
    if (why)
        *why = rc;
    return k;
}

hb_knob_t *
hb_knob_int(hb_agent_t *self, const char *name, int64_t value, int64_t min,
            int64_t max, hb_err_t *why)
{
    agent_knobs_decl_t d = {.name = name,
                            .type = PROTO_KNOB_INT,
                            .value_i = value,
                            .min_i = min,
                            .max_i = max};
    return s_declare(self, &d, why);
}

hb_knob_t *
hb_knob_double(hb_agent_t *self, const char *name, double value, double min,
               double max, hb_err_t *why)
{
    agent_knobs_decl_t d = {.name = name,
                            .type = PROTO_KNOB_DOUBLE,
                            .value_d = value,
                            .min_d = min,
                            .max_d = max};
    return s_declare(self, &d, why);
}

hb_knob_t *
hb_knob_bool(hb_agent_t *self, const char *name, bool value, hb_err_t *why)
{
    agent_knobs_decl_t d = {
        .name = name, .type = PROTO_KNOB_BOOL, .value_i = value};
    return s_declare(self, &d, why);
}

hb_knob_t *
hb_knob_enum(hb_agent_t *self, const char *name, const char *value,
             const char *const *choices, hb_err_t *why)
{
    agent_knobs_decl_t d = {.name = name,
                            .type = PROTO_KNOB_ENUM,
                            .value_s = value,
                            .choices = choices};
    return s_declare(self, &d, why);
}

static uint64_t
s_bits(const hb_knob_t *knob)
{
    assert(knob);
    return atomic_load_explicit(&((hb_knob_t *)knob)->bits,
                                memory_order_relaxed);
}

int64_t
hb_knob_get_int(const hb_knob_t *knob)
{
    uint64_t bits = s_bits(knob);
    if (knob->type == PROTO_KNOB_DOUBLE)
        return (int64_t)llround(agent_knobs_d(bits));
    return (int64_t)bits;
}

double
hb_knob_get_double(const hb_knob_t *knob)
{
    uint64_t bits = s_bits(knob);
    if (knob->type == PROTO_KNOB_DOUBLE)
        return agent_knobs_d(bits);
    return (double)(int64_t)bits;
}

bool
hb_knob_get_bool(const hb_knob_t *knob)
{
    return s_bits(knob) != 0;
}

int
hb_knob_get_enum(const hb_knob_t *knob)
{
    return knob->type == PROTO_KNOB_ENUM ? (int)s_bits(knob) : -1;
}

const char *
hb_knob_get_enum_name(const hb_knob_t *knob)
{
    if (knob->type != PROTO_KNOB_ENUM)
        return NULL;
    return knob->choices[s_bits(knob)];
}

hb_err_t
hb_knob_set_int(hb_knob_t *knob, int64_t value)
{
    assert(knob);
    if (knob->type == PROTO_KNOB_DOUBLE)
        return hb_knob_set_double(knob, (double)value);
    // int, bool and enum knobs all hold an integer within [min_i, max_i]
    if (value < knob->min_i || value > knob->max_i)
        return HB_ERANGE;
    atomic_store(&knob->bits, (uint64_t)value);
    return HB_OK;
}

hb_err_t
hb_knob_set_double(hb_knob_t *knob, double value)
{
    assert(knob);
    if (knob->type != PROTO_KNOB_DOUBLE)
        return HB_EINVAL;
    if (!(value >= knob->min_d && value <= knob->max_d))
        return HB_ERANGE;
    atomic_store(&knob->bits, agent_knobs_bits_d(value));
    return HB_OK;
}
