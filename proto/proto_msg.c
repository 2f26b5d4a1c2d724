/*  proto_msg.c - wire names of the message kinds and enums, and the life
    cycle of a proto_msg_t.  The codec, the tap and the nodes all name
    things through these tables, so a wire name is spelled in one place. */

#include "proto_msg.h"
#include <stdlib.h>
#include <string.h>

static const char *const s_kinds[PROTO_KIND_COUNT] = {
    [PROTO_KIND_HELLO] = "hello",   [PROTO_KIND_HEARTBEAT] = "hb",
    [PROTO_KIND_ERROR] = "err",     [PROTO_KIND_SUCCESS] = "ok",
    [PROTO_KIND_METRIC] = "metric", [PROTO_KIND_HEAL] = "heal",
    [PROTO_KIND_FIX] = "fix",       [PROTO_KIND_FIXRES] = "fixres",
    [PROTO_KIND_PREDICTION] = "pred", [PROTO_KIND_ALERT] = "alert",
    [PROTO_KIND_ESCALATION] = "esc", [PROTO_KIND_NODE] = "node",
    [PROTO_KIND_ASK] = "ask",       [PROTO_KIND_STATS] = "stats",
};

static const char *const s_levels[PROTO_LEVEL_COUNT] = {
    [PROTO_LEVEL_NONE] = "NONE",     [PROTO_LEVEL_LOW] = "LOW",
    [PROTO_LEVEL_MEDIUM] = "MEDIUM", [PROTO_LEVEL_HIGH] = "HIGH",
    [PROTO_LEVEL_CRITICAL] = "CRITICAL",
};

static const char *const s_outcomes[PROTO_OUTCOME_COUNT] = {
    [PROTO_OUTCOME_COMMITTED] = "committed",
    [PROTO_OUTCOME_ROLLED_BACK] = "rolled_back",
    [PROTO_OUTCOME_REJECTED] = "rejected",
    [PROTO_OUTCOME_DUPLICATE] = "duplicate",
};

static const char *const s_steps[] = {
    [PROTO_STEP_SET] = "set", [PROTO_STEP_MUL] = "mul",
    [PROTO_STEP_DIV] = "div", [PROTO_STEP_ADD] = "add",
    [PROTO_STEP_ACTION] = "action",
};

static const char *const s_modes[] = {
    [PROTO_HEAL_WAIT] = "wait",
    [PROTO_HEAL_ASYNC] = "async",
};

static const char *const s_knob_types[] = {
    [PROTO_KNOB_INT] = "int",
    [PROTO_KNOB_DOUBLE] = "double",
    [PROTO_KNOB_BOOL] = "bool",
    [PROTO_KNOB_ENUM] = "enum",
};

static const char *const s_args[] = {
    [PROTO_ARG_NONE] = "none",
    [PROTO_ARG_INT] = "int",
    [PROTO_ARG_DOUBLE] = "double",
    [PROTO_ARG_STRING] = "string",
};

#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))

//  Enums are compared as unsigned so a negative value cast in is also out
//  of range rather than an index below the table.
static const char *
s_name(const char *const *table, size_t count, unsigned value)
{
    return value < count ? table[value] : NULL;
}

const char *
proto_msg_kind_name(proto_kind_t kind)
{
    return s_name(s_kinds, S_COUNT(s_kinds), (unsigned)kind);
}

bool
proto_msg_kind_parse(const char *name, size_t len, proto_kind_t *kind)
{
    if (!name)
        return false;
    for (size_t i = 0; i < S_COUNT(s_kinds); i++) {
        if (strlen(s_kinds[i]) == len && memcmp(s_kinds[i], name, len) == 0) {
            if (kind)
                *kind = (proto_kind_t)i;
            return true;
        }
    }
    return false;
}

const char *
proto_msg_level_name(proto_level_t level)
{
    return s_name(s_levels, S_COUNT(s_levels), (unsigned)level);
}

const char *
proto_msg_outcome_name(proto_outcome_t outcome)
{
    return s_name(s_outcomes, S_COUNT(s_outcomes), (unsigned)outcome);
}

const char *
proto_msg_step_name(proto_step_op_t op)
{
    return s_name(s_steps, S_COUNT(s_steps), (unsigned)op);
}

const char *
proto_msg_mode_name(proto_heal_mode_t mode)
{
    return s_name(s_modes, S_COUNT(s_modes), (unsigned)mode);
}

const char *
proto_msg_knob_type_name(proto_knob_type_t type)
{
    return s_name(s_knob_types, S_COUNT(s_knob_types), (unsigned)type);
}

const char *
proto_msg_arg_name(proto_arg_type_t arg)
{
    return s_name(s_args, S_COUNT(s_args), (unsigned)arg);
}

void
proto_msg_init(proto_msg_t *msg, proto_kind_t kind)
{
    memset(msg, 0, sizeof *msg);
    msg->kind = kind;
}

void
proto_msg_clear(proto_msg_t *msg)
{
    if (!msg)
        return;
    free(msg->arena);
    memset(msg, 0, sizeof *msg);
}
