/*  agent_knobs.h - the knobs and actions an agent declares.

    Declarations append to fixed tables (PROTO_MAX_KNOBS, PROTO_MAX_ACTIONS)
    under a lock; entries never move or change after they are published, so
    a knob handle is a stable pointer and readers on any thread need no
    lock: the value is one atomic word (int64 or the bits of a double).
    This file also owns the arithmetic of fix steps (set, multiply, divide,
    add with clamping to the declared bounds), used both to validate a fix
    on arrival and to apply it. */

#ifndef AGENT_KNOBS_H
#define AGENT_KNOBS_H

#include "healbus.h"
#include "proto_msg.h"

#include <stdatomic.h>

struct hb_knob {
    char name[PROTO_MAX_NAME + 1];
    proto_knob_type_t type;
    _Atomic uint64_t bits;       // int64 (int, bool, enum index) or double
    int64_t min_i, max_i;        // int knobs; enum: 0..n_choices-1
    double min_d, max_d;         // double knobs
    char *choices[PROTO_MAX_CHOICES]; // enum knobs; owned
    uint32_t n_choices;
};

typedef struct {
    char name[PROTO_MAX_NAME + 1];
    hb_arg_type_t arg;
    hb_action_fn *apply;
    hb_action_fn *undo;         // may be NULL
    void *user;                 // borrowed from the application
} agent_action_t;

typedef struct agent_knobs agent_knobs_t;

/*  A snapshot of every knob value, for rollback. */
typedef struct {
    uint64_t bits[PROTO_MAX_KNOBS];
    uint32_t n;
} agent_knobs_snap_t;

agent_knobs_t *agent_knobs_new(void);
void agent_knobs_destroy(agent_knobs_t **self_p);

/*  True when `name` is 1..PROTO_MAX_NAME bytes of [A-Za-z0-9_.-]. */
bool agent_knobs_name_ok(const char *name);

/*  Declare a knob; the spec's `min`/`max`/`value` are read by type.
    Returns the handle or NULL with HB_EINVAL (bad name, value outside its
    bounds, bad choices), HB_EEXISTS or HB_EFULL in *why. */
typedef struct {
    const char *name;
    proto_knob_type_t type;
    int64_t value_i, min_i, max_i;
    double value_d, min_d, max_d;
    const char *value_s;               // enum
    const char *const *choices;        // enum, NULL-terminated
} agent_knobs_decl_t;
hb_knob_t *agent_knobs_declare(agent_knobs_t *self,
                               const agent_knobs_decl_t *decl, hb_err_t *why);

hb_err_t agent_knobs_action(agent_knobs_t *self, const char *name,
                            hb_arg_type_t arg, hb_action_fn *apply,
                            hb_action_fn *undo, void *user);

/*  Lookups; NULL when not declared.  Any thread. */
hb_knob_t *agent_knobs_find(agent_knobs_t *self, const char *name);
const agent_action_t *agent_knobs_find_action(agent_knobs_t *self,
                                              const char *name);

/*  Describe every knob and action into a hello body (strings borrowed from
    this registry), and the values in force into `pairs` (for successes). */
void agent_knobs_describe(agent_knobs_t *self, proto_hello_t *hello);
uint32_t agent_knobs_values(agent_knobs_t *self, proto_pair_t *pairs,
                            uint32_t cap);

void agent_knobs_snapshot(agent_knobs_t *self, agent_knobs_snap_t *snap);
void agent_knobs_restore(agent_knobs_t *self, const agent_knobs_snap_t *snap);

/*  The value a knob step would give: HB_OK and the new bits, or
    HB_ENOTFOUND (no such knob), HB_ETYPE (value type does not suit the
    knob or step), HB_ERANGE (SET outside the bounds, unknown choice,
    division by zero), HB_ENOEFFECT (clamped result equals the current
    value: the knob is at its bound already).  Does not change the knob. */
hb_err_t agent_knobs_step(agent_knobs_t *self, const proto_step_t *step,
                          hb_knob_t **knob, uint64_t *bits);

/*  Value conversions of the atomic word. */
uint64_t agent_knobs_bits_d(double d);
double agent_knobs_d(uint64_t bits);

#endif
