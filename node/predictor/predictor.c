/*  predictor.c - wiring between the node runtime and predictor_engine:
    config, message dispatch, publishing, the journal. */

#include "predictor.h"

#include "predictor_engine.h"
#include "predictor_journal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_HEAL_REQ_BIT (1ull << 63) // marks heal requests made by a predictor

typedef struct {
    node_ctx_t *ctx;              // borrowed from the runtime
    hb_log_t *log;                // borrowed
    predictor_engine_t *engine;   // owned
    predictor_journal_t *journal; // owned
    bool act;                     // ask the healer to act on predictions
    uint64_t heal_requests;
    uint64_t publish_drops;
    uint64_t hits, misses;
} predictor_t;

static const char *const s_topics[] = {"err.", "ok.", "metric.", "hello.",
                                       "hb.", NULL};

static int64_t
s_now_ms(predictor_t *self)
{
    return node_ctx_wall_us(self->ctx) / 1000;
}

/* ------------------------------------------------------------ output -- */

static void
s_publish(predictor_t *self, proto_msg_t *msg)
{
    if (node_ctx_publish(self->ctx, msg) != HB_OK)
        self->publish_drops++;
}

static void
s_on_alert(void *arg, const predictor_event_t *ev)
{
    predictor_t *self = arg;
    proto_msg_t msg;
    proto_msg_init(&msg, PROTO_KIND_ALERT);
    msg.subject = ev->agent;
    msg.u.alert = (proto_alert_t){ev->agent, ev->series, ev->level,
                                  ev->previous, ev->value, ev->reason};
    s_publish(self, &msg);
    hb_log_info(self->log, "predictor: %s %s %s -> %s: %s", ev->agent,
                ev->series, proto_msg_level_name(ev->previous),
                proto_msg_level_name(ev->level), ev->reason);
}

//  act = true: a heal request on the agent's behalf, so the healer applies
//  the preventive fix before the failure (the agent applies it, ASYNC, on
//  its next call of the operation).
static void
s_ask_healer(predictor_t *self, const predictor_event_t *ev)
{
    if (!self->act || !ev->op)
        return;
    proto_msg_t msg;
    proto_msg_init(&msg, PROTO_KIND_HEAL);
    msg.subject = ev->agent;
    msg.u.heal = (proto_heal_t){S_HEAL_REQ_BIT | ev->id, ev->op,
                                ev->error_class ? ev->error_class
                                                : "PredictedFailure",
                                ev->reason, 0, PROTO_HEAL_ASYNC};
    s_publish(self, &msg);
    self->heal_requests++;
}

static void
s_on_prediction(void *arg, const predictor_event_t *ev)
{
    predictor_t *self = arg;
    proto_msg_t msg;
    proto_msg_init(&msg, PROTO_KIND_PREDICTION);
    msg.subject = ev->agent;
    msg.u.prediction = (proto_prediction_t){
        ev->agent, ev->series, ev->fail_at_ms * 1000, ev->confidence,
        ev->reason, ev->action, ev->level};
    s_publish(self, &msg);
    predictor_journal_entry_t e = {.id = ev->id,
                                   .issued_us = node_ctx_wall_us(self->ctx),
                                   .fail_at_us = ev->fail_at_ms * 1000,
                                   .confidence = ev->confidence,
                                   .level = ev->level,
                                   .outcome = PREDICTOR_OUTCOME_PENDING};
    snprintf(e.worker, sizeof e.worker, "%s", ev->agent);
    snprintf(e.series, sizeof e.series, "%s", ev->series);
    snprintf(e.reason, sizeof e.reason, "%s", ev->reason);
    snprintf(e.action, sizeof e.action, "%s", ev->action);
    predictor_journal_add(self->journal, &e);
    s_ask_healer(self, ev);
}

static void
s_on_outcome(void *arg, uint64_t id, bool hit, double ttf_err)
{
    predictor_t *self = arg;
    (void)ttf_err;
    *(hit ? &self->hits : &self->misses) += 1;
    predictor_journal_resolve(self->journal, id,
                              hit ? PREDICTOR_OUTCOME_HIT
                                  : PREDICTOR_OUTCOME_MISS);
}

static bool
s_owns(void *arg, const char *agent)
{
    predictor_t *self = arg;
    return node_ctx_owns(self->ctx, agent);
}

/* ------------------------------------------------------------- input -- */

typedef void(s_handler_fn)(predictor_t *self, const proto_msg_t *msg,
                           int64_t now_ms);

static void
s_on_error(predictor_t *self, const proto_msg_t *msg, int64_t now_ms)
{
    predictor_engine_error(self->engine, now_ms, msg->subject,
                           msg->u.error.op, msg->u.error.error_class);
}

static void
s_on_success(predictor_t *self, const proto_msg_t *msg, int64_t now_ms)
{
    predictor_engine_success(self->engine, now_ms, msg->subject,
                             msg->u.success.op);
}

static void
s_on_metric(predictor_t *self, const proto_msg_t *msg, int64_t now_ms)
{
    predictor_engine_metric(self->engine, now_ms, msg->subject,
                            msg->u.metric.name, msg->u.metric.value);
}

static void
s_on_hello(predictor_t *self, const proto_msg_t *msg, int64_t now_ms)
{
    predictor_engine_hello(self->engine, now_ms, msg->subject,
                           msg->u.hello.memory_limit);
}

static void
s_on_heartbeat(predictor_t *self, const proto_msg_t *msg, int64_t now_ms)
{
    predictor_engine_heartbeat(self->engine, now_ms, msg->subject,
                               &msg->u.heartbeat);
}

//  By kind; kinds we did not subscribe to (node heartbeats) stay NULL.
static s_handler_fn *const s_handlers[PROTO_KIND_COUNT] = {
    [PROTO_KIND_HELLO] = s_on_hello,
    [PROTO_KIND_HEARTBEAT] = s_on_heartbeat,
    [PROTO_KIND_ERROR] = s_on_error,
    [PROTO_KIND_SUCCESS] = s_on_success,
    [PROTO_KIND_METRIC] = s_on_metric,
};

static void
s_on_msg(void *state, const proto_msg_t *msg)
{
    predictor_t *self = state;
    if ((unsigned)msg->kind < PROTO_KIND_COUNT && s_handlers[msg->kind])
        s_handlers[msg->kind](self, msg, s_now_ms(self));
}

/* ---------------------------------------------------------- lifecycle -- */

static void
s_save(predictor_t *self)
{
    predictor_record_t *rec = predictor_engine_record(self->engine);
    predictor_record_stats_t stats[PREDICTOR_RECORD_KINDS];
    for (int k = 0; k < PREDICTOR_RECORD_KINDS; k++)
        stats[k] = *predictor_record_stats(rec, (predictor_record_kind_t)k);
    hb_err_t rc = predictor_journal_save(self->journal, stats);
    if (rc != HB_OK)
        hb_log_warn(self->log, "predictor: saving %s: %s",
                    PREDICTOR_JOURNAL_FILE, hb_err_str(rc));
}

static void
s_on_tick(void *state, int64_t now_ms)
{
    predictor_t *self = state;
    (void)now_ms; // series live on the wall clock
    predictor_engine_tick(self->engine, s_now_ms(self));
    if (predictor_journal_dirty(self->journal))
        s_save(self);
}

static void
s_read_config(node_ctx_t *ctx, predictor_engine_cfg_t *cfg, bool *act,
              int64_t *journal_max)
{
    predictor_engine_cfg_default(cfg);
    int64_t bucket = node_ctx_config_int(ctx, "bucket_ms", 10000, 1,
                                         7 * 86400000LL);
    cfg->series.bucket_ms = bucket;
    cfg->series.buckets = (uint32_t)node_ctx_config_int(
        ctx, "buckets", 32, PREDICTOR_SERIES_MIN_BUCKETS,
        PREDICTOR_SERIES_MAX_BUCKETS);
    cfg->series.max_series = (uint32_t)node_ctx_config_int(
        ctx, "max_series", 100000, 1, PREDICTOR_SERIES_MAX_COUNT);
    cfg->rate_threshold =
        node_ctx_config_double(ctx, "threshold", 0.5, 0.01, 1.0);
    cfg->cpu_limit = node_ctx_config_double(ctx, "cpu_limit", 0, 0, 1024);
    // growth is told per a period a few buckets long at least: per day
    // for hourly or daily buckets, per hour, minute or second below
    int64_t period = bucket >= 3600000 ? 86400000
                     : bucket >= 60000 ? 3600000
                     : bucket >= 1000  ? 60000
                                       : 1000;
    cfg->period_ms = node_ctx_config_int(ctx, "period_ms", period, 1,
                                         365 * 86400000LL);
    cfg->min_points = (uint32_t)node_ctx_config_int(
        ctx, "min_points", 5, 3, cfg->series.buckets);
    cfg->min_ops =
        (uint32_t)node_ctx_config_int(ctx, "min_ops", 1, 1, 1000000);
    cfg->alert.hold_ms =
        node_ctx_config_int(ctx, "hold_ms", 3 * bucket, 0, INT32_MAX);
    cfg->alert.horizon_ms = node_ctx_config_int(ctx, "horizon_ms", 20 * bucket,
                                                1, 365 * 86400000LL);
    cfg->alert.hysteresis =
        node_ctx_config_double(ctx, "hysteresis", 0.2, 0, 0.9);
    cfg->alert.min_confidence =
        node_ctx_config_double(ctx, "min_confidence", 0.5, 0, 1);
    cfg->record.tolerance =
        node_ctx_config_double(ctx, "tolerance", 0.25, 0, 10);
    cfg->record.min_window_ms = bucket;
    cfg->per_class = node_ctx_config_bool(ctx, "per_class", true);
    cfg->scan_per_tick = (uint32_t)node_ctx_config_int(
        ctx, "scan_per_tick", 4096, 1, 1 << 24);
    *act = node_ctx_config_bool(ctx, "act", false);
    *journal_max = node_ctx_config_int(ctx, "journal_max", 500, 1,
                                       PREDICTOR_JOURNAL_MAX);
}

//  Reload the journal; pending predictions are awaited again.
static void
s_restore(predictor_t *self)
{
    predictor_record_stats_t stats[PREDICTOR_RECORD_KINDS];
    char why[256] = "";
    hb_err_t rc = predictor_journal_load(self->journal, stats, why,
                                         sizeof why);
    if (rc != HB_OK)
        hb_log_warn(self->log, "predictor: %s (%s); moved aside as %s, "
                    "starting with an empty journal", why, hb_err_str(rc),
                    PREDICTOR_JOURNAL_ASIDE);
    predictor_record_t *rec = predictor_engine_record(self->engine);
    for (int k = 0; k < PREDICTOR_RECORD_KINDS; k++)
        predictor_record_set(rec, (predictor_record_kind_t)k, &stats[k]);
    for (uint32_t i = 0; i < predictor_journal_count(self->journal); i++) {
        const predictor_journal_entry_t *e =
            predictor_journal_at(self->journal, i);
        if (e->outcome != PREDICTOR_OUTCOME_PENDING)
            continue;
        predictor_record_kind_t kind = strncmp(e->series, "metric:", 7) == 0
                                           ? PREDICTOR_RECORD_METRIC
                                           : PREDICTOR_RECORD_RATE;
        predictor_record_expect(rec, e->id,
                                predictor_series_hash(e->worker, e->series),
                                kind, e->issued_us / 1000,
                                e->fail_at_us / 1000);
    }
    predictor_engine_set_last_id(self->engine,
                                 predictor_journal_last_id(self->journal));
}

static void s_destroy(void **state_p);

static void *
s_create(node_ctx_t *ctx)
{
    predictor_engine_cfg_t cfg;
    bool act;
    int64_t journal_max;
    s_read_config(ctx, &cfg, &act, &journal_max);
    if (node_ctx_config_failed(ctx))
        return NULL;
    predictor_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ctx = ctx;
    self->log = node_ctx_log(ctx);
    self->act = act;
    predictor_engine_hooks_t hooks = {s_on_alert, s_on_prediction,
                                      s_on_outcome, s_owns, self};
    self->engine = predictor_engine_new(&cfg, &hooks);
    self->journal =
        predictor_journal_new(node_ctx_store(ctx), (uint32_t)journal_max);
    if (!self->engine || !self->journal) {
        hb_log_error(self->log, "predictor: cannot start: settings out of "
                     "range (min_points > buckets?) or out of memory");
        void *state = self;
        s_destroy(&state);
        return NULL;
    }
    s_restore(self);
    hb_log_info(self->log, "predictor: bucket %lld ms x %u, up to %u series, "
                "%u predictions kept, act=%s",
                (long long)cfg.series.bucket_ms, cfg.series.buckets,
                cfg.series.max_series, (unsigned)journal_max,
                act ? "true" : "false");
    return self;
}

static void
s_destroy(void **state_p)
{
    if (!state_p || !*state_p)
        return;
    predictor_t *self = *state_p;
    if (self->journal && self->engine && predictor_journal_dirty(self->journal))
        s_save(self);
    predictor_journal_destroy(&self->journal);
    predictor_engine_destroy(&self->engine);
    free(self);
    *state_p = NULL;
}

static uint32_t
s_counters(void *state, proto_counter_t *out, uint32_t cap)
{
    predictor_t *self = state;
    const predictor_engine_stats_t *st = predictor_engine_stats(self->engine);
    predictor_series_table_t *series = predictor_engine_series(self->engine);
    // prefixed: the runtime's own counters share the map (no duplicates)
    proto_counter_t all[] = {
        {"pred_samples", st->samples},
        {"pred_rejected", st->rejected},
        {"pred_analyses", st->analyses},
        {"pred_alerts", st->alerts},
        {"pred_predictions", st->predictions},
        {"pred_series", predictor_series_count(series)},
        {"pred_evictions", predictor_series_evictions(series)},
        {"pred_late_drops", predictor_series_drops(series)},
        {"pred_hits", self->hits},
        {"pred_misses", self->misses},
        {"pred_heal_requests", self->heal_requests},
        {"pred_publish_drops", self->publish_drops},
    };
    uint32_t n = 0;
    for (; n < cap && n < sizeof all / sizeof *all; n++)
        out[n] = all[n];
    return n;
}

const node_role_t predictor_role = {
    .name = "predictor",
    .summary = "foresees failures from error-rate and metric trends",
    .topics = s_topics,
    .create = s_create,
    .destroy = s_destroy,
    .on_msg = s_on_msg,
    .on_tick = s_on_tick,
    .counters = s_counters,
};
