/*  proto_codec.c - msgpack encoding and strict decoding of proto_msg_t.

    One table per kind (a "schema") names every field: wire key, type,
    whether it is required, where it lives in the struct.  The encoder
    walks the table and packs with msgpack-c into the caller's buffer; the
    decoder walks the bytes with its own bounds-checked cursor (msgpack-c's
    unpacker allocates from claimed counts before checking the bytes exist)
    and fills the struct through the same table.  A per-schema check
    enforces what the table cannot say (bounds of a knob, a fix needs a
    step) and runs on both sides, so what encodes also decodes.  Wire
    format: PROTOCOL.md.  Users: agent library, broker, node runtime, tap. */

#include "proto_codec.h"
#include <assert.h>
#include <math.h>
#include <msgpack.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define S_TRY(expr)                                                          \
    do {                                                                     \
        hb_err_t rc_ = (expr);                                               \
        if (rc_ != HB_OK)                                                    \
            return rc_;                                                      \
    } while (0)

//  Enum fields are read and written through an unsigned lvalue: GCC and
//  Clang give enums without negative constants the type unsigned int.
_Static_assert(sizeof(proto_level_t) == sizeof(unsigned), "enum size");
_Static_assert(sizeof(proto_outcome_t) == sizeof(unsigned), "enum size");
_Static_assert(sizeof(proto_step_op_t) == sizeof(unsigned), "enum size");
_Static_assert(sizeof(proto_heal_mode_t) == sizeof(unsigned), "enum size");
_Static_assert(sizeof(proto_knob_type_t) == sizeof(unsigned), "enum size");
_Static_assert(sizeof(proto_arg_type_t) == sizeof(unsigned), "enum size");

/* ------------------------------------------------------------ schemas -- */

typedef enum {
    F_VER,      // the protocol version: PROTO_VERSION on encode
    F_ID,       // string: sender/agent/node/fix id
    F_NAME,     // string: operation, knob, action, metric, role name
    F_CLASS,    // string: error class
    F_TEXT,     // string: free text
    F_SERIES,   // string: series name
    F_U32,
    F_U64,
    F_I64,
    F_DBL,
    F_BOOL,
    F_ENUM,     // aux: s_enum_t; stored as unsigned
    F_VALUE,    // proto_value_t
    F_LIST,     // aux: s_list_t; array of maps, count at off2
    F_CHOICES,  // array of names, count at off2
    F_PAIRS,    // map name -> value (proto_pair_t), count at off2
    F_COUNTERS  // map name -> uint (proto_counter_t), count at off2
} s_ftype_t;

typedef struct {
    const char *key;
    uint8_t klen;    // strlen(key), so the hot path never measures it
    s_ftype_t type;
    bool req;
    size_t off;      // of the field in its struct
    size_t off2;     // of the uint32_t count, for lists and maps
    const void *aux; // s_enum_t or s_list_t
} s_field_t;

typedef struct {
    const s_field_t *fields;
    size_t n;
    //  Consistency the table cannot express; returns HB_EMISSING,
    //  HB_ETYPE, HB_EVALUE or HB_ETOOBIG.  Runs on both sides.
    hb_err_t (*check)(const void *obj);
    //  Decoder only: normalise after check (ints given for doubles).
    void (*norm)(void *obj);
} s_schema_t;

typedef struct {
    const s_schema_t *elem;
    size_t size;
    uint32_t cap;
} s_list_t;

typedef struct {
    const char *(*name)(unsigned value);
    unsigned count;
} s_enum_t;

static const char *
s_level_name(unsigned v)
{
    return proto_msg_level_name((proto_level_t)v);
}
static const char *
s_outcome_name(unsigned v)
{
    return proto_msg_outcome_name((proto_outcome_t)v);
}
static const char *
s_step_name(unsigned v)
{
    return proto_msg_step_name((proto_step_op_t)v);
}
static const char *
s_mode_name(unsigned v)
{
    return proto_msg_mode_name((proto_heal_mode_t)v);
}
static const char *
s_knob_type_name(unsigned v)
{
    return proto_msg_knob_type_name((proto_knob_type_t)v);
}
static const char *
s_arg_name(unsigned v)
{
    return proto_msg_arg_name((proto_arg_type_t)v);
}

static const s_enum_t s_levels = {s_level_name, PROTO_LEVEL_COUNT};
static const s_enum_t s_outcomes = {s_outcome_name, PROTO_OUTCOME_COUNT};
static const s_enum_t s_steps = {s_step_name, PROTO_STEP_ACTION + 1};
static const s_enum_t s_modes = {s_mode_name, PROTO_HEAL_ASYNC + 1};
static const s_enum_t s_knob_types = {s_knob_type_name, PROTO_KNOB_ENUM + 1};
static const s_enum_t s_args = {s_arg_name, PROTO_ARG_STRING + 1};

#define S_N(a) (sizeof(a) / sizeof((a)[0]))
#define REQ true
#define OPT false
#define FLD(key, type, req, st, m)                                           \
    {key, sizeof(key) - 1, type, req, offsetof(st, m), 0, NULL}
#define ENUM(key, req, st, m, e)                                             \
    {key, sizeof(key) - 1, F_ENUM, req, offsetof(st, m), 0, &e}
#define MANY(key, type, req, st, m, n, aux)                                  \
    {key, sizeof(key) - 1, type, req, offsetof(st, m), offsetof(st, n), aux}

static double
s_num(const proto_value_t *v)
{
    return v->type == PROTO_VAL_INT ? (double)v->u.i : v->u.d;
}

static bool
s_is_num(const proto_value_t *v)
{
    return v->type == PROTO_VAL_INT || v->type == PROTO_VAL_DOUBLE;
}

static bool
s_same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static hb_err_t
s_check_header(const void *obj)
{
    const proto_msg_t *msg = obj;
    return msg->seq == 0 ? HB_EVALUE : HB_OK; // sequences start at 1
}

static const s_field_t s_header_fields[] = {
    FLD("v", F_VER, REQ, proto_msg_t, version),
    FLD("src", F_ID, REQ, proto_msg_t, sender),
    FLD("seq", F_U64, REQ, proto_msg_t, seq),
    FLD("ts", F_I64, REQ, proto_msg_t, ts_us),
};
static const s_schema_t s_header = {s_header_fields, S_N(s_header_fields),
                                    s_check_header, NULL};

//  Numeric knobs: min <= value <= max, all numbers of the knob's type.
static hb_err_t
s_check_numeric_knob(const proto_knob_t *k)
{
    const proto_value_t *v[3] = {&k->value, &k->min, &k->max};
    for (int i = 0; i < 3; i++) {
        if (v[i]->type == PROTO_VAL_NIL)
            return HB_EMISSING;
        bool ok = k->type == PROTO_KNOB_INT ? v[i]->type == PROTO_VAL_INT
                                            : s_is_num(v[i]);
        if (!ok)
            return HB_ETYPE;
    }
    if (k->type == PROTO_KNOB_INT)
        return k->min.u.i <= k->value.u.i && k->value.u.i <= k->max.u.i
                   ? HB_OK
                   : HB_EVALUE;
    double lo = s_num(&k->min), x = s_num(&k->value), hi = s_num(&k->max);
    return lo <= x && x <= hi ? HB_OK : HB_EVALUE;
}

static hb_err_t
s_check_knob(const void *obj)
{
    const proto_knob_t *k = obj;
    if (k->n_choices > PROTO_MAX_CHOICES)
        return HB_ETOOBIG;
    if (k->type == PROTO_KNOB_INT || k->type == PROTO_KNOB_DOUBLE)
        return k->n_choices ? HB_EVALUE : s_check_numeric_knob(k);
    // bool and enum knobs have no bounds
    if (k->min.type != PROTO_VAL_NIL || k->max.type != PROTO_VAL_NIL)
        return HB_EVALUE;
    if (k->value.type == PROTO_VAL_NIL)
        return HB_EMISSING;
    if (k->type == PROTO_KNOB_BOOL)
        return k->value.type != PROTO_VAL_BOOL ? HB_ETYPE
               : k->n_choices                  ? HB_EVALUE
                                               : HB_OK;
    if (k->value.type != PROTO_VAL_STR)
        return HB_ETYPE;
    if (k->n_choices == 0)
        return HB_EMISSING;
    for (uint32_t i = 0; i < k->n_choices; i++)
        if (s_same(k->choices[i], k->value.u.s))
            return HB_OK;
    return HB_EVALUE;
}

static void
s_norm_knob(void *obj)
{
    proto_knob_t *k = obj;
    if (k->type != PROTO_KNOB_DOUBLE)
        return;
    proto_value_t *v[3] = {&k->value, &k->min, &k->max};
    for (int i = 0; i < 3; i++)
        if (v[i]->type == PROTO_VAL_INT) {
            v[i]->u.d = (double)v[i]->u.i;
            v[i]->type = PROTO_VAL_DOUBLE;
        }
}

static const s_field_t s_knob_fields[] = {
    FLD("name", F_NAME, REQ, proto_knob_t, name),
    ENUM("type", REQ, proto_knob_t, type, s_knob_types),
    FLD("value", F_VALUE, REQ, proto_knob_t, value),
    FLD("min", F_VALUE, OPT, proto_knob_t, min),
    FLD("max", F_VALUE, OPT, proto_knob_t, max),
    MANY("choices", F_CHOICES, OPT, proto_knob_t, choices, n_choices, NULL),
};
static const s_schema_t s_knob = {s_knob_fields, S_N(s_knob_fields),
                                  s_check_knob, s_norm_knob};

static const s_field_t s_action_fields[] = {
    FLD("name", F_NAME, REQ, proto_action_t, name),
    ENUM("arg", OPT, proto_action_t, arg, s_args),
};
static const s_schema_t s_action = {s_action_fields, S_N(s_action_fields),
                                    NULL, NULL};

static const s_list_t s_knob_list = {&s_knob, sizeof(proto_knob_t),
                                     PROTO_MAX_KNOBS};
static const s_list_t s_action_list = {&s_action, sizeof(proto_action_t),
                                       PROTO_MAX_ACTIONS};

//  Knob and action names are unique within a hello: a fix names one.
static hb_err_t
s_check_hello(const void *obj)
{
    const proto_hello_t *h = obj;
    if (h->n_knobs > PROTO_MAX_KNOBS || h->n_actions > PROTO_MAX_ACTIONS)
        return HB_ETOOBIG;
    for (uint32_t i = 0; i < h->n_knobs; i++)
        for (uint32_t j = 0; j < i; j++)
            if (s_same(h->knobs[i].name, h->knobs[j].name))
                return HB_EVALUE;
    for (uint32_t i = 0; i < h->n_actions; i++)
        for (uint32_t j = 0; j < i; j++)
            if (s_same(h->actions[i].name, h->actions[j].name))
                return HB_EVALUE;
    return HB_OK;
}

static const s_field_t s_hello_fields[] = {
    FLD("pid", F_U32, OPT, proto_hello_t, pid),
    FLD("host", F_NAME, OPT, proto_hello_t, host),
    FLD("mem", F_U64, OPT, proto_hello_t, memory_limit),
    MANY("knobs", F_LIST, OPT, proto_hello_t, knobs, n_knobs, &s_knob_list),
    MANY("actions", F_LIST, OPT, proto_hello_t, actions, n_actions,
         &s_action_list),
};

static const s_field_t s_heartbeat_fields[] = {
    FLD("sent", F_U64, OPT, proto_heartbeat_t, sent),
    FLD("drops", F_U64, OPT, proto_heartbeat_t, drops),
    FLD("rss", F_U64, OPT, proto_heartbeat_t, rss_bytes),
    FLD("cpu", F_U64, OPT, proto_heartbeat_t, cpu_us),
    FLD("up", F_U64, OPT, proto_heartbeat_t, uptime_ms),
};

static const s_field_t s_error_fields[] = {
    FLD("op", F_NAME, REQ, proto_error_t, op),
    FLD("class", F_CLASS, REQ, proto_error_t, error_class),
    FLD("text", F_TEXT, OPT, proto_error_t, text),
    FLD("attempt", F_U32, OPT, proto_error_t, attempt),
    FLD("max", F_U32, OPT, proto_error_t, max_attempts),
};

static const s_field_t s_success_fields[] = {
    FLD("op", F_NAME, REQ, proto_success_t, op),
    FLD("dur", F_U64, REQ, proto_success_t, duration_us),
    MANY("knobs", F_PAIRS, OPT, proto_success_t, knobs, n_knobs, NULL),
};

static const s_field_t s_metric_fields[] = {
    FLD("name", F_NAME, REQ, proto_metric_t, name),
    FLD("value", F_DBL, REQ, proto_metric_t, value),
};

static const s_field_t s_heal_fields[] = {
    FLD("req", F_U64, REQ, proto_heal_t, req_id),
    FLD("op", F_NAME, REQ, proto_heal_t, op),
    FLD("class", F_CLASS, REQ, proto_heal_t, error_class),
    FLD("text", F_TEXT, OPT, proto_heal_t, text),
    FLD("attempts", F_U32, OPT, proto_heal_t, attempts),
    ENUM("mode", OPT, proto_heal_t, mode, s_modes),
};

//  A step's value: set needs one, arithmetic needs a non-zero divisor.
static hb_err_t
s_check_step(const void *obj)
{
    const proto_step_t *s = obj;
    if (s->op == PROTO_STEP_ACTION)
        return HB_OK;
    if (s->value.type == PROTO_VAL_NIL)
        return HB_EMISSING;
    if (s->op == PROTO_STEP_SET)
        return HB_OK;
    if (!s_is_num(&s->value))
        return HB_ETYPE;
    if (s->op == PROTO_STEP_DIV && s_num(&s->value) == 0)
        return HB_EVALUE;
    return HB_OK;
}

static const s_field_t s_step_fields[] = {
    ENUM("op", REQ, proto_step_t, op, s_steps),
    FLD("target", F_NAME, REQ, proto_step_t, target),
    FLD("value", F_VALUE, OPT, proto_step_t, value),
};
static const s_schema_t s_step = {s_step_fields, S_N(s_step_fields),
                                  s_check_step, NULL};
static const s_list_t s_step_list = {&s_step, sizeof(proto_step_t),
                                     PROTO_MAX_STEPS};

static hb_err_t
s_check_fix(const void *obj)
{
    const proto_fix_t *f = obj;
    if (f->n_steps > PROTO_MAX_STEPS)
        return HB_ETOOBIG;
    return f->n_steps == 0 ? HB_EVALUE : HB_OK;
}

static const s_field_t s_fix_fields[] = {
    FLD("id", F_ID, REQ, proto_fix_t, fix_id),
    FLD("req", F_U64, OPT, proto_fix_t, req_id),
    FLD("op", F_NAME, REQ, proto_fix_t, op),
    FLD("name", F_NAME, OPT, proto_fix_t, name),
    FLD("exp", F_I64, OPT, proto_fix_t, expires_us),
    FLD("test", F_BOOL, REQ, proto_fix_t, test),
    MANY("steps", F_LIST, REQ, proto_fix_t, steps, n_steps, &s_step_list),
};

static const s_field_t s_fixres_fields[] = {
    FLD("id", F_ID, REQ, proto_fixres_t, fix_id),
    FLD("req", F_U64, OPT, proto_fixres_t, req_id),
    FLD("op", F_NAME, REQ, proto_fixres_t, op),
    ENUM("outcome", REQ, proto_fixres_t, outcome, s_outcomes),
    FLD("reason", F_TEXT, OPT, proto_fixres_t, reason),
    FLD("test_us", F_U64, OPT, proto_fixres_t, test_us),
};

static hb_err_t
s_check_prediction(const void *obj)
{
    const proto_prediction_t *p = obj;
    return p->confidence >= 0.0 && p->confidence <= 1.0 ? HB_OK : HB_EVALUE;
}

static const s_field_t s_prediction_fields[] = {
    FLD("agent", F_ID, REQ, proto_prediction_t, agent),
    FLD("series", F_SERIES, REQ, proto_prediction_t, series),
    FLD("at", F_I64, REQ, proto_prediction_t, fail_at_us),
    FLD("conf", F_DBL, REQ, proto_prediction_t, confidence),
    FLD("reason", F_TEXT, OPT, proto_prediction_t, reason),
    FLD("action", F_TEXT, OPT, proto_prediction_t, action),
    ENUM("level", REQ, proto_prediction_t, level, s_levels),
};

static const s_field_t s_alert_fields[] = {
    FLD("agent", F_ID, REQ, proto_alert_t, agent),
    FLD("series", F_SERIES, REQ, proto_alert_t, series),
    ENUM("level", REQ, proto_alert_t, level, s_levels),
    ENUM("prev", OPT, proto_alert_t, previous, s_levels),
    FLD("value", F_DBL, OPT, proto_alert_t, value),
    FLD("reason", F_TEXT, OPT, proto_alert_t, reason),
};

static const s_field_t s_tried_fields[] = {
    FLD("id", F_ID, REQ, proto_tried_t, fix_id),
    FLD("name", F_NAME, OPT, proto_tried_t, name),
    ENUM("outcome", REQ, proto_tried_t, outcome, s_outcomes),
    FLD("reason", F_TEXT, OPT, proto_tried_t, reason),
};
static const s_schema_t s_tried = {s_tried_fields, S_N(s_tried_fields), NULL,
                                   NULL};
static const s_list_t s_tried_list = {&s_tried, sizeof(proto_tried_t),
                                      PROTO_MAX_HISTORY};

static const s_field_t s_escalation_fields[] = {
    FLD("agent", F_ID, REQ, proto_escalation_t, agent),
    FLD("op", F_NAME, REQ, proto_escalation_t, op),
    FLD("class", F_CLASS, OPT, proto_escalation_t, error_class),
    FLD("tmpl", F_TEXT, OPT, proto_escalation_t, template_text),
    FLD("reason", F_TEXT, OPT, proto_escalation_t, reason),
    MANY("tried", F_LIST, OPT, proto_escalation_t, history, n_history,
         &s_tried_list),
};

static const s_field_t s_node_fields[] = {
    FLD("role", F_NAME, REQ, proto_node_t, role),
    FLD("up", F_U64, OPT, proto_node_t, uptime_ms),
    MANY("counters", F_COUNTERS, OPT, proto_node_t, counters, n_counters,
         NULL),
};

static const s_field_t s_ask_fields[] = {
    FLD("target", F_ID, REQ, proto_ask_t, target),
};

#define SCHEMA(fields, check) {fields, S_N(fields), check, NULL}
static const s_schema_t s_kinds[PROTO_KIND_COUNT] = {
    [PROTO_KIND_HELLO] = SCHEMA(s_hello_fields, s_check_hello),
    [PROTO_KIND_HEARTBEAT] = SCHEMA(s_heartbeat_fields, NULL),
    [PROTO_KIND_ERROR] = SCHEMA(s_error_fields, NULL),
    [PROTO_KIND_SUCCESS] = SCHEMA(s_success_fields, NULL),
    [PROTO_KIND_METRIC] = SCHEMA(s_metric_fields, NULL),
    [PROTO_KIND_HEAL] = SCHEMA(s_heal_fields, NULL),
    [PROTO_KIND_FIX] = SCHEMA(s_fix_fields, s_check_fix),
    [PROTO_KIND_FIXRES] = SCHEMA(s_fixres_fields, NULL),
    [PROTO_KIND_PREDICTION] = SCHEMA(s_prediction_fields, s_check_prediction),
    [PROTO_KIND_ALERT] = SCHEMA(s_alert_fields, NULL),
    [PROTO_KIND_ESCALATION] = SCHEMA(s_escalation_fields, NULL),
    [PROTO_KIND_NODE] = SCHEMA(s_node_fields, NULL),
    [PROTO_KIND_ASK] = SCHEMA(s_ask_fields, NULL),
    [PROTO_KIND_STATS] = SCHEMA(s_node_fields, NULL),
};

/* ------------------------------------------------------------ strings -- */

//  One rule for both sides: caps per class of string, no NUL anywhere (a C
//  reader would silently cut there), ids printable ASCII without spaces
//  (they become topic subjects), names and ids never empty.
static hb_err_t
s_check_chars(s_ftype_t type, const char *s, size_t len);

static hb_err_t
s_check_str(s_ftype_t type, const char *s, size_t len)
{
    if (memchr(s, '\0', len))
        return HB_EVALUE;
    return s_check_chars(type, s, len);
}

//  Everything but the NUL scan: a length from strnlen has no NUL inside.
static hb_err_t
s_check_chars(s_ftype_t type, const char *s, size_t len)
{
    size_t cap = type == F_TEXT     ? PROTO_MAX_TEXT
                 : type == F_SERIES ? PROTO_MAX_SERIES
                 : type == F_CLASS  ? PROTO_MAX_CLASS
                 : type == F_ID     ? PROTO_MAX_ID
                                    : PROTO_MAX_NAME;
    if (len > cap)
        return HB_ETOOBIG;
    if (type == F_TEXT)
        return HB_OK;
    if (len == 0)
        return HB_EVALUE;
    if (type == F_ID)
        for (size_t i = 0; i < len; i++)
            if (s[i] < 0x21 || s[i] > 0x7e)
                return HB_EVALUE;
    return HB_OK;
}

static bool
s_subject_ok(const char *s, size_t len)
{
    return len >= 1 && s_check_str(F_ID, s, len) == HB_OK;
}

size_t
proto_codec_topic(const proto_msg_t *msg, char *topic, size_t cap)
{
    assert(msg && topic);
    const char *kind = proto_msg_kind_name(msg->kind);
    if (!kind || !msg->subject)
        return 0;
    size_t klen = strlen(kind);
    size_t slen = strnlen(msg->subject, PROTO_MAX_ID + 1);
    if (!s_subject_ok(msg->subject, slen) || klen + 1 + slen + 1 > cap)
        return 0;
    memcpy(topic, kind, klen);
    topic[klen] = '.';
    memcpy(topic + klen + 1, msg->subject, slen);
    topic[klen + 1 + slen] = '\0';
    return klen + 1 + slen;
}

void
proto_codec_reject(proto_codec_rejects_t *rejects, hb_err_t code)
{
    assert(rejects);
    if ((unsigned)code < HB_ERR_COUNT)
        rejects->by_code[code]++;
    rejects->total++;
}

/* ------------------------------------------------------------ encoder -- */

typedef struct {
    uint8_t *buf; // borrowed from the caller
    size_t cap;
    size_t len;
    bool overflow;
    msgpack_packer pk;
} s_enc_t;

//  msgpack-c's write callback: copy into the fixed buffer or flag overflow
//  (later writes are dropped; the encoder reports HB_ETOOBIG at the end).
static int
s_enc_write(void *data, const char *buf, size_t len)
{
    s_enc_t *e = data;
    if (e->overflow || len > e->cap - e->len) {
        e->overflow = true;
        return -1;
    }
    memcpy(e->buf + e->len, buf, len);
    e->len += len;
    return 0;
}

static hb_err_t
s_enc_str(s_enc_t *e, s_ftype_t type, const char *s)
{
    if (!s)
        return HB_EINVAL;
    size_t len = strnlen(s, PROTO_MAX_TEXT + 1);
    hb_err_t rc = s_check_chars(type, s, len);
    if (rc != HB_OK)
        return rc == HB_ETOOBIG ? rc : HB_EINVAL;
    msgpack_pack_str(&e->pk, len);
    msgpack_pack_str_body(&e->pk, s, len);
    return HB_OK;
}

//  Keys are short constants (fixstr): header and bytes in one append.
static void
s_enc_key(s_enc_t *e, const s_field_t *f)
{
    assert(f->klen < 32);
    if (e->overflow || (size_t)f->klen + 1 > e->cap - e->len) {
        e->overflow = true;
        return;
    }
    e->buf[e->len] = (uint8_t)(0xa0 | f->klen);
    memcpy(e->buf + e->len + 1, f->key, f->klen);
    e->len += (size_t)f->klen + 1;
}

static hb_err_t
s_enc_double(s_enc_t *e, double d)
{
    if (!isfinite(d))
        return HB_EINVAL;
    msgpack_pack_double(&e->pk, d);
    return HB_OK;
}

static hb_err_t
s_enc_value(s_enc_t *e, const proto_value_t *v)
{
    switch (v->type) {
    case PROTO_VAL_NIL:
        msgpack_pack_nil(&e->pk);
        return HB_OK;
    case PROTO_VAL_INT:
        msgpack_pack_int64(&e->pk, v->u.i);
        return HB_OK;
    case PROTO_VAL_DOUBLE:
        return s_enc_double(e, v->u.d);
    case PROTO_VAL_BOOL:
        v->u.b ? msgpack_pack_true(&e->pk) : msgpack_pack_false(&e->pk);
        return HB_OK;
    case PROTO_VAL_STR:
        return s_enc_str(e, F_TEXT, v->u.s);
    }
    return HB_EINVAL;
}

static hb_err_t s_enc_map(s_enc_t *e, const s_schema_t *const *sc,
                          const void *const *base, size_t ns);

static hb_err_t
s_enc_list(s_enc_t *e, const s_field_t *f, const char *obj, uint32_t n)
{
    uint32_t cap = f->type == F_LIST      ? ((const s_list_t *)f->aux)->cap
                   : f->type == F_CHOICES ? PROTO_MAX_CHOICES
                   : f->type == F_PAIRS   ? PROTO_MAX_KNOBS
                                          : PROTO_MAX_COUNTERS;
    if (n > cap)
        return HB_ETOOBIG;
    const char *at = obj + f->off;
    if (f->type == F_LIST) {
        const s_list_t *l = f->aux;
        msgpack_pack_array(&e->pk, n);
        for (uint32_t i = 0; i < n; i++) {
            const void *elem = at + i * l->size;
            S_TRY(s_enc_map(e, &l->elem, &elem, 1));
        }
    } else if (f->type == F_CHOICES) {
        msgpack_pack_array(&e->pk, n);
        for (uint32_t i = 0; i < n; i++)
            S_TRY(s_enc_str(e, F_NAME, ((const char *const *)at)[i]));
    } else if (f->type == F_PAIRS) {
        msgpack_pack_map(&e->pk, n);
        for (uint32_t i = 0; i < n; i++) {
            const proto_pair_t *p = (const proto_pair_t *)at + i;
            S_TRY(s_enc_str(e, F_NAME, p->name));
            S_TRY(s_enc_value(e, &p->value));
        }
    } else {
        msgpack_pack_map(&e->pk, n);
        for (uint32_t i = 0; i < n; i++) {
            const proto_counter_t *c = (const proto_counter_t *)at + i;
            S_TRY(s_enc_str(e, F_NAME, c->name));
            msgpack_pack_uint64(&e->pk, c->value);
        }
    }
    return HB_OK;
}

//  Is the field worth sending?  Optional fields are left out when zero,
//  NULL, NIL or empty; the decoder reads an absent field as exactly that.
static bool
s_enc_present(const s_field_t *f, const char *obj)
{
    const void *p = obj + f->off;
    switch (f->type) {
    case F_VER:
        return true;
    case F_ID: case F_NAME: case F_CLASS: case F_TEXT: case F_SERIES: {
        //  An empty optional string is the same as an absent one: the
        //  decoder gives absent strings as "" (s_dec_absent_strings).
        const char *str = *(const char *const *)p;
        return str && (f->req || *str);
    }
    case F_U32:
        return *(const uint32_t *)p != 0;
    case F_U64:
        return *(const uint64_t *)p != 0;
    case F_I64:
        return *(const int64_t *)p != 0;
    case F_DBL:
        return *(const double *)p != 0.0;
    case F_BOOL:
        return *(const bool *)p;
    case F_ENUM:
        return *(const unsigned *)p != 0;
    case F_VALUE:
        return ((const proto_value_t *)p)->type != PROTO_VAL_NIL;
    default:
        return *(const uint32_t *)(obj + f->off2) != 0;
    }
}

static hb_err_t
s_enc_field(s_enc_t *e, const s_field_t *f, const char *obj)
{
    const void *p = obj + f->off;
    switch (f->type) {
    case F_VER:
        msgpack_pack_uint32(&e->pk, PROTO_VERSION);
        return HB_OK;
    case F_ID: case F_NAME: case F_CLASS: case F_TEXT: case F_SERIES:
        return s_enc_str(e, f->type, *(const char *const *)p);
    case F_U32:
        msgpack_pack_uint32(&e->pk, *(const uint32_t *)p);
        return HB_OK;
    case F_U64:
        msgpack_pack_uint64(&e->pk, *(const uint64_t *)p);
        return HB_OK;
    case F_I64:
        msgpack_pack_int64(&e->pk, *(const int64_t *)p);
        return HB_OK;
    case F_DBL:
        return s_enc_double(e, *(const double *)p);
    case F_BOOL:
        *(const bool *)p ? msgpack_pack_true(&e->pk)
                         : msgpack_pack_false(&e->pk);
        return HB_OK;
    case F_ENUM: {
        const s_enum_t *en = f->aux;
        unsigned v = *(const unsigned *)p;
        if (v >= en->count)
            return HB_EINVAL;
        return s_enc_str(e, F_NAME, en->name(v));
    }
    case F_VALUE:
        return s_enc_value(e, p);
    default:
        return s_enc_list(e, f, obj, *(const uint32_t *)(obj + f->off2));
    }
}

//  Every schema map has at most 15 entries, so its header is one fixmap
//  byte, patched with the count once the optional fields are known.
static hb_err_t
s_enc_map(s_enc_t *e, const s_schema_t *const *sc, const void *const *base,
          size_t ns)
{
    for (size_t s = 0; s < ns; s++) {
        hb_err_t rc = sc[s]->check ? sc[s]->check(base[s]) : HB_OK;
        if (rc != HB_OK)
            return rc == HB_ETOOBIG ? rc : HB_EINVAL;
    }
    size_t at = e->len;
    unsigned n = 0;
    s_enc_write(e, "\x80", 1);
    for (size_t s = 0; s < ns; s++) {
        for (size_t i = 0; i < sc[s]->n; i++) {
            const s_field_t *f = &sc[s]->fields[i];
            if (!s_enc_present(f, base[s])) {
                if (f->req && f->type != F_U32 && f->type != F_U64 &&
                    f->type != F_I64 && f->type != F_DBL &&
                    f->type != F_BOOL && f->type != F_ENUM)
                    return HB_EINVAL; // a required string, value or list
                if (!f->req)
                    continue;
            }
            s_enc_key(e, f);
            S_TRY(s_enc_field(e, f, base[s]));
            n++;
        }
    }
    assert(n <= 15);
    if (at < e->len)
        e->buf[at] = (uint8_t)(0x80 | n);
    return HB_OK;
}

hb_err_t
proto_codec_encode_tables(const proto_msg_t *msg, uint8_t *buf, size_t cap,
                          size_t *len)
{
    assert(msg && buf && len);
    if ((unsigned)msg->kind >= PROTO_KIND_COUNT)
        return HB_EINVAL;
    s_enc_t e = {.buf = buf, .cap = cap};
    msgpack_packer_init(&e.pk, &e, s_enc_write);
    const s_schema_t *sc[2] = {&s_header, &s_kinds[msg->kind]};
    const void *base[2] = {msg, &msg->u};
    S_TRY(s_enc_map(&e, sc, base, 2));
    if (e.overflow || e.len > PROTO_MAX_FRAME)
        return HB_ETOOBIG;
    *len = e.len;
    return HB_OK;
}

/* ------------------------------------------------------- fast encoder -- */

//  The kinds every agent sends all the time (err, ok, metric, hb) get a
//  hand-written encoder: the same bytes as the tables produce (msgpack-c's
//  choice of the smallest format for each number, fields in table order,
//  absent optional fields left out), without the per-field dispatch and
//  the write callback.  tests/unit/test_proto_codec.c holds the two to
//  identical bytes and error codes.  Errors follow the tables' order: a
//  bad field returns at once; running out of room only flags overflow, so
//  a later bad field still says HB_EINVAL, and HB_ETOOBIG comes last.

typedef struct {
    uint8_t *p;   // next byte to write, inside the caller's buffer
    uint8_t *end;
    bool overflow;
} s_fw_t;

static inline uint8_t *
s_fw_room(s_fw_t *w, size_t n)
{
    if (w->overflow || n > (size_t)(w->end - w->p)) {
        w->overflow = true;
        return NULL;
    }
    uint8_t *at = w->p;
    w->p += n;
    return at;
}

static inline void
s_fw_be(uint8_t *at, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--) {
        at[i] = (uint8_t)v;
        v >>= 8;
    }
}

//  A tag byte followed by `bytes` big-endian bytes of `v`.
static inline void
s_fw_tagged(s_fw_t *w, uint8_t tag, uint64_t v, int bytes)
{
    uint8_t *at = s_fw_room(w, 1 + (size_t)bytes);
    if (at) {
        at[0] = tag;
        s_fw_be(at + 1, v, bytes);
    }
}

static void
s_fw_uint(s_fw_t *w, uint64_t v)
{
    if (v < 128)
        s_fw_tagged(w, (uint8_t)v, 0, 0);
    else if (v < 256)
        s_fw_tagged(w, 0xcc, v, 1);
    else if (v < 65536)
        s_fw_tagged(w, 0xcd, v, 2);
    else if (v <= UINT32_MAX)
        s_fw_tagged(w, 0xce, v, 4);
    else
        s_fw_tagged(w, 0xcf, v, 8);
}

//  msgpack-c's choice for an int64: negative fixint from -32, the smallest
//  signed format below that, and an unsigned format for v >= 0.
static void
s_fw_int(s_fw_t *w, int64_t v)
{
    if (v >= 0)
        s_fw_uint(w, (uint64_t)v);
    else if (v >= -32)
        s_fw_tagged(w, (uint8_t)v, 0, 0); // 0xe0..0xff
    else if (v >= -128)
        s_fw_tagged(w, 0xd0, (uint64_t)v, 1);
    else if (v >= -32768)
        s_fw_tagged(w, 0xd1, (uint64_t)v, 2);
    else if (v >= INT32_MIN)
        s_fw_tagged(w, 0xd2, (uint64_t)v, 4);
    else
        s_fw_tagged(w, 0xd3, (uint64_t)v, 8);
}

static hb_err_t
s_fw_double(s_fw_t *w, double d)
{
    if (!isfinite(d))
        return HB_EINVAL;
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    s_fw_tagged(w, 0xcb, bits, 8);
    return HB_OK;
}

//  A constant key: fixstr header and bytes (keys are under 32 bytes).
#define S_FW_KEY(w, k)                                                       \
    s_fw_key(w, "\xa0" k, sizeof(k) - 1)

static inline void
s_fw_key(s_fw_t *w, const char *fixstr_k, size_t klen)
{
    uint8_t *at = s_fw_room(w, klen + 1);
    if (at) {
        memcpy(at, fixstr_k, klen + 1);
        at[0] = (uint8_t)(0xa0 | klen);
    }
}

static hb_err_t
s_fw_str(s_fw_t *w, s_ftype_t type, const char *s)
{
    if (!s)
        return HB_EINVAL;
    size_t len = strnlen(s, PROTO_MAX_TEXT + 1);
    hb_err_t rc = s_check_chars(type, s, len);
    if (rc != HB_OK)
        return rc == HB_ETOOBIG ? rc : HB_EINVAL;
    if (len < 32)
        s_fw_tagged(w, (uint8_t)(0xa0 | len), 0, 0);
    else if (len < 256)
        s_fw_tagged(w, 0xd9, len, 1);
    else
        s_fw_tagged(w, 0xda, len, 2); // PROTO_MAX_TEXT < 65536
    uint8_t *at = s_fw_room(w, len);
    if (at)
        memcpy(at, s, len);
    return HB_OK;
}

static hb_err_t
s_fw_value(s_fw_t *w, const proto_value_t *v)
{
    switch (v->type) {
    case PROTO_VAL_NIL:
        s_fw_tagged(w, 0xc0, 0, 0);
        return HB_OK;
    case PROTO_VAL_INT:
        s_fw_int(w, v->u.i);
        return HB_OK;
    case PROTO_VAL_DOUBLE:
        return s_fw_double(w, v->u.d);
    case PROTO_VAL_BOOL:
        s_fw_tagged(w, v->u.b ? 0xc3 : 0xc2, 0, 0);
        return HB_OK;
    case PROTO_VAL_STR:
        return s_fw_str(w, F_TEXT, v->u.s);
    }
    return HB_EINVAL;
}

//  Optional unsigned field: left out when zero.  Returns 1 if written.
static unsigned
s_fw_opt_uint(s_fw_t *w, const char *fixstr_k, size_t klen, uint64_t v)
{
    if (v == 0)
        return 0;
    s_fw_key(w, fixstr_k, klen);
    s_fw_uint(w, v);
    return 1;
}
#define S_FW_OPT(w, k, v) s_fw_opt_uint(w, "\xa0" k, sizeof(k) - 1, v)

//  Returns the number of body fields written through *n.
typedef hb_err_t(s_fw_body_fn)(s_fw_t *w, const proto_msg_t *m, unsigned *n);

static hb_err_t
s_fw_error(s_fw_t *w, const proto_msg_t *m, unsigned *n)
{
    const proto_error_t *b = &m->u.error;
    S_FW_KEY(w, "op");
    S_TRY(s_fw_str(w, F_NAME, b->op));
    S_FW_KEY(w, "class");
    S_TRY(s_fw_str(w, F_CLASS, b->error_class));
    *n = 2;
    if (b->text && *b->text) { // as s_enc_present: "" is omitted
        S_FW_KEY(w, "text");
        S_TRY(s_fw_str(w, F_TEXT, b->text));
        (*n)++;
    }
    *n += S_FW_OPT(w, "attempt", b->attempt);
    *n += S_FW_OPT(w, "max", b->max_attempts);
    return HB_OK;
}

static hb_err_t
s_fw_success(s_fw_t *w, const proto_msg_t *m, unsigned *n)
{
    const proto_success_t *b = &m->u.success;
    S_FW_KEY(w, "op");
    S_TRY(s_fw_str(w, F_NAME, b->op));
    S_FW_KEY(w, "dur");
    s_fw_uint(w, b->duration_us);
    *n = 2;
    if (b->n_knobs == 0)
        return HB_OK;
    if (b->n_knobs > PROTO_MAX_KNOBS)
        return HB_ETOOBIG;
    S_FW_KEY(w, "knobs");
    if (b->n_knobs < 16)
        s_fw_tagged(w, (uint8_t)(0x80 | b->n_knobs), 0, 0);
    else
        s_fw_tagged(w, 0xde, b->n_knobs, 2);
    for (uint32_t i = 0; i < b->n_knobs; i++) {
        S_TRY(s_fw_str(w, F_NAME, b->knobs[i].name));
        S_TRY(s_fw_value(w, &b->knobs[i].value));
    }
    (*n)++;
    return HB_OK;
}

static hb_err_t
s_fw_metric(s_fw_t *w, const proto_msg_t *m, unsigned *n)
{
    S_FW_KEY(w, "name");
    S_TRY(s_fw_str(w, F_NAME, m->u.metric.name));
    S_FW_KEY(w, "value");
    S_TRY(s_fw_double(w, m->u.metric.value));
    *n = 2;
    return HB_OK;
}

static hb_err_t
s_fw_heartbeat(s_fw_t *w, const proto_msg_t *m, unsigned *n)
{
    const proto_heartbeat_t *b = &m->u.heartbeat;
    *n = S_FW_OPT(w, "sent", b->sent);
    *n += S_FW_OPT(w, "drops", b->drops);
    *n += S_FW_OPT(w, "rss", b->rss_bytes);
    *n += S_FW_OPT(w, "cpu", b->cpu_us);
    *n += S_FW_OPT(w, "up", b->uptime_ms);
    return HB_OK;
}

static s_fw_body_fn *const s_fast[PROTO_KIND_COUNT] = {
    [PROTO_KIND_HEARTBEAT] = s_fw_heartbeat,
    [PROTO_KIND_ERROR] = s_fw_error,
    [PROTO_KIND_SUCCESS] = s_fw_success,
    [PROTO_KIND_METRIC] = s_fw_metric,
};

//  The header map (v, src, seq, ts) then the kind's fields, in one fixmap
//  whose count byte is patched at the end, as the tables do.
static hb_err_t
s_fw_encode(const proto_msg_t *msg, uint8_t *buf, size_t cap, size_t *len)
{
    if (msg->seq == 0)
        return HB_EINVAL; // sequences start at 1 (s_check_header)
    s_fw_t w = {.p = buf, .end = buf + cap};
    uint8_t *map = s_fw_room(&w, 1);
    S_FW_KEY(&w, "v");
    s_fw_uint(&w, PROTO_VERSION);
    S_FW_KEY(&w, "src");
    S_TRY(s_fw_str(&w, F_ID, msg->sender));
    S_FW_KEY(&w, "seq");
    s_fw_uint(&w, msg->seq);
    S_FW_KEY(&w, "ts");
    s_fw_int(&w, msg->ts_us);
    unsigned n = 0;
    S_TRY(s_fast[msg->kind](&w, msg, &n));
    size_t used = (size_t)(w.p - buf);
    if (w.overflow || used > PROTO_MAX_FRAME)
        return HB_ETOOBIG;
    *map = (uint8_t)(0x80 | (4 + n));
    *len = used;
    return HB_OK;
}

hb_err_t
proto_codec_encode(const proto_msg_t *msg, uint8_t *buf, size_t cap,
                   size_t *len)
{
    assert(msg && buf && len);
    if ((unsigned)msg->kind < PROTO_KIND_COUNT && s_fast[msg->kind])
        return s_fw_encode(msg, buf, cap, len);
    return proto_codec_encode_tables(msg, buf, cap, len);
}

/* ------------------------------------------------------------- reader -- */

typedef struct {
    const uint8_t *p;
    size_t left;
} s_rd_t;

typedef enum {
    MP_NIL,
    MP_BOOL,
    MP_UINT, // any integer >= 0, whatever its format
    MP_INT,  // a negative integer
    MP_FLOAT,
    MP_STR,
    MP_BIN,
    MP_EXT,
    MP_ARRAY,
    MP_MAP
} s_mptype_t;

typedef struct {
    s_mptype_t type;
    bool b;
    uint64_t u;
    int64_t i;
    double d;
    uint32_t n;        // container count, or payload length
    const uint8_t *s;  // str/bin/ext payload
} s_item_t;

static hb_err_t
s_take(s_rd_t *rd, size_t n, const uint8_t **out)
{
    if (n > rd->left)
        return HB_ETRUNC;
    *out = rd->p;
    rd->p += n;
    rd->left -= n;
    return HB_OK;
}

static hb_err_t
s_be(s_rd_t *rd, size_t n, uint64_t *out)
{
    const uint8_t *p;
    S_TRY(s_take(rd, n, &p));
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    *out = v;
    return HB_OK;
}

//  A payload of `len` bytes follows; `extra` bytes first (ext's type).
static hb_err_t
s_payload(s_rd_t *rd, s_item_t *it, s_mptype_t type, size_t lenlen,
          uint64_t len, size_t extra)
{
    if (lenlen)
        S_TRY(s_be(rd, lenlen, &len));
    it->type = type;
    it->n = (uint32_t)len;
    return s_take(rd, (size_t)len + extra, &it->s);
}

static hb_err_t
s_count(s_rd_t *rd, s_item_t *it, s_mptype_t type, size_t lenlen)
{
    uint64_t n;
    S_TRY(s_be(rd, lenlen, &n));
    it->type = type;
    it->n = (uint32_t)n;
    return HB_OK;
}

static hb_err_t
s_signed(s_rd_t *rd, s_item_t *it, size_t size)
{
    uint64_t u;
    S_TRY(s_be(rd, size, &u));
    int64_t v = size == 1   ? (int8_t)u
                : size == 2 ? (int16_t)u
                : size == 4 ? (int32_t)u
                            : (int64_t)u;
    it->type = v < 0 ? MP_INT : MP_UINT;
    it->i = v;
    it->u = (uint64_t)v;
    return HB_OK;
}

static hb_err_t
s_float(s_rd_t *rd, s_item_t *it, size_t size)
{
    uint64_t u;
    S_TRY(s_be(rd, size, &u));
    it->type = MP_FLOAT;
    if (size == 4) {
        uint32_t u32 = (uint32_t)u;
        float f;
        memcpy(&f, &u32, sizeof f);
        it->d = f;
    } else {
        memcpy(&it->d, &u, sizeof it->d);
    }
    return HB_OK;
}

//  Read one item's header (and a str/bin/ext payload) with every byte
//  bounds-checked.  Containers report their count; elements follow.
static hb_err_t
s_read(s_rd_t *rd, s_item_t *it)
{
    const uint8_t *p;
    S_TRY(s_take(rd, 1, &p));
    uint8_t b = *p;
    memset(it, 0, sizeof *it);
    if (b <= 0x7f) {
        it->type = MP_UINT;
        it->u = b;
        it->i = b;
        return HB_OK;
    }
    if (b >= 0xe0) {
        it->type = MP_INT;
        it->i = (int8_t)b;
        return HB_OK;
    }
    if (b <= 0x8f || (b >= 0x90 && b <= 0x9f)) {
        it->type = b <= 0x8f ? MP_MAP : MP_ARRAY;
        it->n = b & 0x0f;
        return HB_OK;
    }
    if (b <= 0xbf)
        return s_payload(rd, it, MP_STR, 0, b & 0x1f, 0);
    switch (b) {
    case 0xc0: it->type = MP_NIL; return HB_OK;
    case 0xc2: case 0xc3:
        it->type = MP_BOOL;
        it->b = b == 0xc3;
        return HB_OK;
    case 0xc4: return s_payload(rd, it, MP_BIN, 1, 0, 0);
    case 0xc5: return s_payload(rd, it, MP_BIN, 2, 0, 0);
    case 0xc6: return s_payload(rd, it, MP_BIN, 4, 0, 0);
    case 0xc7: return s_payload(rd, it, MP_EXT, 1, 0, 1);
    case 0xc8: return s_payload(rd, it, MP_EXT, 2, 0, 1);
    case 0xc9: return s_payload(rd, it, MP_EXT, 4, 0, 1);
    case 0xca: return s_float(rd, it, 4);
    case 0xcb: return s_float(rd, it, 8);
    case 0xcc: case 0xcd: case 0xce: case 0xcf:
        it->type = MP_UINT;
        S_TRY(s_be(rd, (size_t)1 << (b - 0xcc), &it->u));
        it->i = (int64_t)it->u;
        return HB_OK;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3:
        return s_signed(rd, it, (size_t)1 << (b - 0xd0));
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
        return s_payload(rd, it, MP_EXT, 0, (uint64_t)1 << (b - 0xd4), 1);
    case 0xd9: return s_payload(rd, it, MP_STR, 1, 0, 0);
    case 0xda: return s_payload(rd, it, MP_STR, 2, 0, 0);
    case 0xdb: return s_payload(rd, it, MP_STR, 4, 0, 0);
    case 0xdc: return s_count(rd, it, MP_ARRAY, 2);
    case 0xdd: return s_count(rd, it, MP_ARRAY, 4);
    case 0xde: return s_count(rd, it, MP_MAP, 2);
    case 0xdf: return s_count(rd, it, MP_MAP, 4);
    default: return HB_ETYPE; // 0xc1: never used by msgpack
    }
}

//  Before walking a container: depth, cap, and whether the bytes left can
//  hold what it claims (each element costs at least one byte).
static hb_err_t
s_open(const s_rd_t *rd, const s_item_t *it, uint32_t cap, int depth)
{
    if (depth > PROTO_MAX_DEPTH)
        return HB_EDEPTH;
    if (it->n > cap)
        return HB_ETOOBIG;
    uint64_t least = (uint64_t)it->n * (it->type == MP_MAP ? 2 : 1);
    if (least > rd->left)
        return HB_ETRUNC;
    return HB_OK;
}

//  Skip an item already read; a container here sits at `depth`.
static hb_err_t
s_skip_item(s_rd_t *rd, const s_item_t *it, int depth)
{
    if (it->type != MP_ARRAY && it->type != MP_MAP)
        return HB_OK;
    S_TRY(s_open(rd, it,
                 it->type == MP_MAP ? PROTO_MAX_MAP : PROTO_MAX_ARRAY, depth));
    uint64_t items = (uint64_t)it->n * (it->type == MP_MAP ? 2 : 1);
    for (uint64_t k = 0; k < items; k++) {
        s_item_t sub;
        S_TRY(s_read(rd, &sub));
        S_TRY(s_skip_item(rd, &sub, depth + 1));
    }
    return HB_OK;
}

static bool
s_is_key(const s_item_t *it, const char *key, size_t klen)
{
    return it->type == MP_STR && it->n == klen && memcmp(it->s, key, klen) == 0;
}

//  Pass 1: the structure of the whole body (truncation, caps, depth,
//  trailing bytes) and its version, before any field is trusted: a body
//  of another version may lay its fields out differently.
static hb_err_t
s_scan(const uint8_t *body, size_t len)
{
    s_rd_t rd = {body, len};
    s_item_t map, key, val, ver = {.type = MP_NIL};
    bool found = false;
    S_TRY(s_read(&rd, &map));
    if (map.type != MP_MAP)
        return HB_ETYPE;
    S_TRY(s_open(&rd, &map, PROTO_MAX_MAP, 1));
    for (uint32_t i = 0; i < map.n; i++) {
        S_TRY(s_read(&rd, &key));
        S_TRY(s_skip_item(&rd, &key, 2));
        S_TRY(s_read(&rd, &val));
        S_TRY(s_skip_item(&rd, &val, 2));
        if (!found && s_is_key(&key, "v", 1)) {
            found = true;
            ver = val;
        }
    }
    if (rd.left)
        return HB_ETRAILING;
    if (!found)
        return HB_EMISSING;
    if (ver.type != MP_UINT)
        return HB_ETYPE;
    return ver.u == PROTO_VERSION ? HB_OK : HB_EVERSION;
}

/* ------------------------------------------------------------ decoder -- */

typedef struct {
    s_rd_t rd;
    char *arena; // owned by the message being built
    size_t used;
    size_t cap;
} s_dec_t;

//  Each stored string came from a distinct msgpack string of at least
//  len + 1 bytes (header included), so an arena of body_len bytes (plus
//  the topic's subject) always has room: the assert states that invariant.
static const char *
s_store(s_dec_t *d, const uint8_t *s, size_t len)
{
    assert(d->used + len + 1 <= d->cap);
    char *out = d->arena + d->used;
    memcpy(out, s, len);
    out[len] = '\0';
    d->used += len + 1;
    return out;
}

static hb_err_t
s_dec_str(s_dec_t *d, const s_item_t *it, s_ftype_t type, const char **out)
{
    if (it->type != MP_STR)
        return HB_ETYPE;
    S_TRY(s_check_str(type, (const char *)it->s, it->n));
    *out = s_store(d, it->s, it->n);
    return HB_OK;
}

static hb_err_t
s_dec_double(const s_item_t *it, double *out)
{
    double v;
    if (it->type == MP_FLOAT)
        v = it->d;
    else if (it->type == MP_UINT)
        v = (double)it->u;
    else if (it->type == MP_INT)
        v = (double)it->i;
    else
        return HB_ETYPE;
    if (!isfinite(v))
        return HB_EVALUE;
    *out = v;
    return HB_OK;
}

static hb_err_t
s_dec_value(s_dec_t *d, const s_item_t *it, proto_value_t *v)
{
    memset(v, 0, sizeof *v);
    switch (it->type) {
    case MP_NIL:
        return HB_OK;
    case MP_BOOL:
        v->type = PROTO_VAL_BOOL;
        v->u.b = it->b;
        return HB_OK;
    case MP_UINT:
        if (it->u > INT64_MAX)
            return HB_ETYPE;
        v->type = PROTO_VAL_INT;
        v->u.i = (int64_t)it->u;
        return HB_OK;
    case MP_INT:
        v->type = PROTO_VAL_INT;
        v->u.i = it->i;
        return HB_OK;
    case MP_FLOAT:
        v->type = PROTO_VAL_DOUBLE;
        return s_dec_double(it, &v->u.d);
    case MP_STR:
        v->type = PROTO_VAL_STR;
        return s_dec_str(d, it, F_TEXT, &v->u.s);
    default:
        return HB_ETYPE;
    }
}

static hb_err_t
s_dec_enum(const s_field_t *f, const s_item_t *it, unsigned *out)
{
    if (it->type != MP_STR)
        return HB_ETYPE;
    const s_enum_t *en = f->aux;
    for (unsigned v = 0; v < en->count; v++) {
        const char *name = en->name(v);
        if (strlen(name) == it->n && memcmp(name, it->s, it->n) == 0) {
            *out = v;
            return HB_OK;
        }
    }
    return HB_EVALUE;
}

static hb_err_t
s_dec_scalar(s_dec_t *d, const s_field_t *f, const s_item_t *it, void *p)
{
    switch (f->type) {
    case F_VER: case F_U32:
        if (it->type != MP_UINT || it->u > UINT32_MAX)
            return HB_ETYPE;
        *(uint32_t *)p = (uint32_t)it->u;
        return HB_OK;
    case F_U64:
        if (it->type != MP_UINT)
            return HB_ETYPE;
        *(uint64_t *)p = it->u;
        return HB_OK;
    case F_I64:
        if ((it->type != MP_UINT || it->u > INT64_MAX) && it->type != MP_INT)
            return HB_ETYPE;
        *(int64_t *)p = it->i;
        return HB_OK;
    case F_DBL:
        return s_dec_double(it, p);
    case F_BOOL:
        if (it->type != MP_BOOL)
            return HB_ETYPE;
        *(bool *)p = it->b;
        return HB_OK;
    case F_ENUM:
        return s_dec_enum(f, it, p);
    case F_VALUE:
        return s_dec_value(d, it, p);
    default:
        return s_dec_str(d, it, f->type, p);
    }
}

//  Names used as keys of a dynamic map (knob values, counters) are unique.
static hb_err_t
s_dec_named(s_dec_t *d, const s_item_t *key, const char **names,
            size_t stride, uint32_t i)
{
    const char *name;
    S_TRY(s_dec_str(d, key, F_NAME, &name));
    for (uint32_t j = 0; j < i; j++)
        if (strcmp(*(const char **)((char *)names + j * stride), name) == 0)
            return HB_EDUPKEY;
    *(const char **)((char *)names + i * stride) = name;
    return HB_OK;
}

static hb_err_t s_dec_map(s_dec_t *d, const s_item_t *map,
                          const s_schema_t *const *sc, void *const *base,
                          size_t ns, int depth);

//  Arrays and maps of a known field; the container sits at `depth`.
static hb_err_t
s_dec_nested(s_dec_t *d, const s_field_t *f, const s_item_t *it, char *obj,
             int depth)
{
    bool want_map = f->type == F_PAIRS || f->type == F_COUNTERS;
    if (it->type != (want_map ? MP_MAP : MP_ARRAY))
        return HB_ETYPE;
    uint32_t cap = f->type == F_LIST      ? ((const s_list_t *)f->aux)->cap
                   : f->type == F_CHOICES ? PROTO_MAX_CHOICES
                   : f->type == F_PAIRS   ? PROTO_MAX_KNOBS
                                          : PROTO_MAX_COUNTERS;
    S_TRY(s_open(&d->rd, it, cap, depth));
    char *at = obj + f->off;
    for (uint32_t i = 0; i < it->n; i++) {
        s_item_t el;
        S_TRY(s_read(&d->rd, &el));
        if (f->type == F_LIST) {
            const s_list_t *l = f->aux;
            void *elem = at + i * l->size;
            if (el.type != MP_MAP)
                return HB_ETYPE;
            S_TRY(s_dec_map(d, &el, &l->elem, &elem, 1, depth + 1));
        } else if (f->type == F_CHOICES) {
            S_TRY(s_dec_str(d, &el, F_NAME, (const char **)at + i));
        } else if (f->type == F_PAIRS) {
            proto_pair_t *p = (proto_pair_t *)at;
            S_TRY(s_dec_named(d, &el, &p->name, sizeof *p, i));
            S_TRY(s_read(&d->rd, &el));
            S_TRY(s_dec_value(d, &el, &p[i].value));
        } else {
            proto_counter_t *c = (proto_counter_t *)at;
            S_TRY(s_dec_named(d, &el, &c->name, sizeof *c, i));
            S_TRY(s_read(&d->rd, &el));
            if (el.type != MP_UINT)
                return HB_ETYPE;
            c[i].value = el.u;
        }
    }
    *(uint32_t *)(obj + f->off2) = it->n;
    return HB_OK;
}

typedef struct {
    const uint8_t *s;
    uint32_t n;
} s_key_t;

//  Find `key` among the schemas' fields; *index counts across schemas.
static const s_field_t *
s_lookup(const s_item_t *key, const s_schema_t *const *sc, size_t ns,
         size_t *schema, size_t *index)
{
    size_t idx = 0;
    for (size_t s = 0; s < ns; s++)
        for (size_t i = 0; i < sc[s]->n; i++, idx++)
            if (s_is_key(key, sc[s]->fields[i].key, sc[s]->fields[i].klen)) {
                *schema = s;
                *index = idx;
                return &sc[s]->fields[i];
            }
    return NULL;
}

static hb_err_t
s_dec_entry(s_dec_t *d, const s_schema_t *const *sc, void *const *base,
            size_t ns, int depth, uint64_t *seen)
{
    s_item_t key, val;
    S_TRY(s_read(&d->rd, &key));
    if (key.type != MP_STR)
        return HB_ETYPE;
    if (key.n > PROTO_MAX_NAME)
        return HB_ETOOBIG;
    size_t s, idx;
    const s_field_t *f = s_lookup(&key, sc, ns, &s, &idx);
    S_TRY(s_read(&d->rd, &val));
    if (!f) // unknown: skipped, but still held to the caps and depth
        return s_skip_item(&d->rd, &val, depth + 1);
    *seen |= (uint64_t)1 << idx;
    if (f->type >= F_LIST)
        return s_dec_nested(d, f, &val, base[s], depth + 1);
    return s_dec_scalar(d, f, &val, (char *)base[s] + f->off);
}

//  Decode a map (already read as `map`, at `depth`) into one or more
//  structs described by schemas; then required fields and checks.
//  Optional strings a message left out read as "", never NULL, so no
//  consumer can be crashed by a peer omitting one.
static void
s_dec_absent_strings(const s_schema_t *const *sc, void *const *base,
                     size_t ns)
{
    for (size_t s = 0; s < ns; s++)
        for (size_t i = 0; i < sc[s]->n; i++) {
            const s_field_t *f = &sc[s]->fields[i];
            if (f->type != F_ID && f->type != F_NAME && f->type != F_CLASS &&
                f->type != F_TEXT && f->type != F_SERIES)
                continue;
            const char **str = (const char **)((char *)base[s] + f->off);
            if (!*str)
                *str = "";
        }
}

static hb_err_t
s_dec_map(s_dec_t *d, const s_item_t *map, const s_schema_t *const *sc,
          void *const *base, size_t ns, int depth)
{
    S_TRY(s_open(&d->rd, map, PROTO_MAX_MAP, depth));
    s_key_t keys[PROTO_MAX_MAP];
    uint64_t seen = 0;
    for (uint32_t i = 0; i < map->n; i++) {
        //  Peek the key for duplicates, then rewind: s_dec_entry reads it.
        s_rd_t at = d->rd;
        s_item_t key;
        S_TRY(s_read(&d->rd, &key));
        if (key.type == MP_STR) {
            for (uint32_t j = 0; j < i; j++)
                if (keys[j].n == key.n && memcmp(keys[j].s, key.s, key.n) == 0)
                    return HB_EDUPKEY;
            keys[i] = (s_key_t){key.s, key.n};
        }
        d->rd = at;
        S_TRY(s_dec_entry(d, sc, base, ns, depth, &seen));
    }
    size_t idx = 0;
    for (size_t s = 0; s < ns; s++)
        for (size_t i = 0; i < sc[s]->n; i++, idx++)
            if (sc[s]->fields[i].req && !(seen & (uint64_t)1 << idx))
                return HB_EMISSING;
    for (size_t s = 0; s < ns; s++) {
        if (sc[s]->check)
            S_TRY(sc[s]->check(base[s]));
        if (sc[s]->norm)
            sc[s]->norm(base[s]);
    }
    s_dec_absent_strings(sc, base, ns);
    return HB_OK;
}

static hb_err_t
s_parse_topic(const uint8_t *t, size_t len, proto_kind_t *kind,
              size_t *subject_at)
{
    if (len == 0 || len > PROTO_MAX_TOPIC)
        return HB_ETOPIC;
    const uint8_t *dot = memchr(t, '.', len);
    if (!dot)
        return HB_ETOPIC;
    if (!proto_msg_kind_parse((const char *)t, (size_t)(dot - t), kind))
        return HB_EKIND;
    *subject_at = (size_t)(dot - t) + 1;
    if (!s_subject_ok((const char *)t + *subject_at, len - *subject_at))
        return HB_ETOPIC;
    return HB_OK;
}

static hb_err_t
s_decode(const uint8_t *topic, size_t topic_len, const uint8_t *body,
         size_t body_len, proto_msg_t *out)
{
    proto_kind_t kind;
    size_t subject_at;
    S_TRY(s_parse_topic(topic, topic_len, &kind, &subject_at));
    if (body_len > PROTO_MAX_FRAME)
        return HB_ETOOBIG;
    S_TRY(s_scan(body, body_len));
    size_t subject_len = topic_len - subject_at;
    s_dec_t d = {.rd = {body, body_len}, .cap = body_len + subject_len + 1};
    d.arena = malloc(d.cap);
    if (!d.arena)
        return HB_ENOMEM;
    proto_msg_init(out, kind);
    out->arena = d.arena;
    out->subject = s_store(&d, topic + subject_at, subject_len);
    s_item_t map;
    S_TRY(s_read(&d.rd, &map));
    const s_schema_t *sc[2] = {&s_header, &s_kinds[kind]};
    void *base[2] = {out, &out->u};
    return s_dec_map(&d, &map, sc, base, 2, 1);
}

hb_err_t
proto_codec_decode(const void *topic, size_t topic_len, const void *body,
                   size_t body_len, proto_msg_t *out)
{
    assert(out);
    assert(topic || topic_len == 0);
    assert(body || body_len == 0);
    proto_msg_init(out, PROTO_KIND_HELLO);
    hb_err_t rc = s_decode(topic, topic_len, body, body_len, out);
    if (rc != HB_OK)
        proto_msg_clear(out); // frees a partly filled arena
    return rc;
}
