/*  predictor_engine.c - samples to series, closed buckets to trends,
    trends to alert levels, predictions and advice. */

#include "predictor_engine.h"

#include "predictor_advice.h"
#include "predictor_trend.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_NAME_MAX PROTO_MAX_SERIES

struct predictor_engine {
    predictor_engine_cfg_t cfg;
    predictor_engine_hooks_t hooks;
    predictor_series_table_t *series; // owned
    predictor_record_t *record;       // owned
    double *scratch;                  // owned: trend scratch
    double *x, *y;                    // owned: points of one series
    uint32_t scan_at;                 // round-robin position of tick
    uint64_t last_id;
    predictor_engine_stats_t stats;
};

//  What the analysis of one series found (input to alert and event).
typedef struct {
    uint32_t n;
    double value;
    double threshold;
    predictor_trend_t trend;
    predictor_trend_cross_t cross;
    bool has_trend;
    int64_t fail_at_ms;
    double confidence;
} s_view_t;

void
predictor_engine_cfg_default(predictor_engine_cfg_t *cfg)
{
    assert(cfg);
    memset(cfg, 0, sizeof *cfg);
    cfg->series = (predictor_series_cfg_t){10000, 32, 100000};
    cfg->alert = (predictor_alert_cfg_t){30000, 0, 0.2, 0.5};
    cfg->alert.horizon_ms = 20 * cfg->series.bucket_ms;
    cfg->record = (predictor_record_cfg_t){4096, 0.25, 10000, 4.0, 1.0};
    cfg->rate_threshold = 0.5;
    cfg->period_ms = 86400000;
    cfg->min_points = 5;
    cfg->min_ops = 1;
    cfg->scan_per_tick = 4096;
    cfg->per_class = true;
}

predictor_engine_t *
predictor_engine_new(const predictor_engine_cfg_t *cfg,
                     const predictor_engine_hooks_t *hooks)
{
    if (!cfg || !(cfg->rate_threshold > 0 && cfg->rate_threshold <= 1) ||
        !(cfg->cpu_limit >= 0) || cfg->period_ms < 1 ||
        cfg->min_points < PREDICTOR_TREND_MIN_POINTS ||
        cfg->min_points > cfg->series.buckets || cfg->alert.hold_ms < 0 ||
        cfg->alert.horizon_ms < 0 || !(cfg->alert.hysteresis >= 0) ||
        cfg->alert.hysteresis > 0.9 || cfg->series.buckets >
        PREDICTOR_TREND_MAX_POINTS)
        return NULL;
    predictor_engine_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    if (hooks)
        self->hooks = *hooks;
    uint32_t n = cfg->series.buckets;
    self->series = predictor_series_new(&cfg->series);
    self->record = predictor_record_new(&cfg->record);
    self->scratch = malloc(predictor_trend_scratch_len(n) * sizeof(double));
    self->x = malloc(n * sizeof(double));
    self->y = malloc(n * sizeof(double));
    if (!self->series || !self->record || !self->scratch || !self->x ||
        !self->y)
        predictor_engine_destroy(&self);
    return self;
}

void
predictor_engine_destroy(predictor_engine_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    predictor_engine_t *self = *self_p;
    predictor_series_destroy(&self->series);
    predictor_record_destroy(&self->record);
    free(self->scratch);
    free(self->x);
    free(self->y);
    free(self);
    *self_p = NULL;
}

/* ------------------------------------------------------------ naming -- */

//  name = a + b [+ ':' + c] when it fits in S_NAME_MAX and each part is
//  non-empty.
static bool
s_name(char *buf, const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = c ? strlen(c) : 0;
    if (!lb || (c && !lc) || la + lb + (c ? lc + 1 : 0) > S_NAME_MAX)
        return false;
    memcpy(buf, a, la);
    memcpy(buf + la, b, lb);
    char *end = buf + la + lb;
    if (c) {
        *end++ = ':';
        memcpy(end, c, lc);
        end += lc;
    }
    *end = '\0';
    return true;
}

static bool
s_agent_ok(const char *agent)
{
    return agent && *agent && strlen(agent) <= PROTO_MAX_ID;
}

static predictor_record_kind_t
s_record_kind(const predictor_series_t *s)
{
    return s->kind == PREDICTOR_SERIES_METRIC ? PREDICTOR_RECORD_METRIC
                                              : PREDICTOR_RECORD_RATE;
}

/* ------------------------------------------------------------ points -- */

//  The RATE series of the op a CLASS series belongs to ("err:OP:CLASS").
static uint32_t
s_parent(predictor_engine_t *self, const predictor_series_t *s)
{
    char name[S_NAME_MAX + 1];
    const char *full = predictor_series_name(s);
    const char *colon = strrchr(full, ':');
    size_t len = (size_t)(colon - full);
    memcpy(name, full, len);
    name[len] = '\0';
    return predictor_series_get(self->series, predictor_series_agent(s), name,
                                PREDICTOR_SERIES_RATE, false);
}

//  y of bucket b, or false when the bucket holds no usable point.
static bool
s_point(predictor_engine_t *self, uint32_t slot, uint32_t parent,
        const predictor_series_t *s, int64_t b, double *y)
{
    const predictor_bucket_t *bk =
        predictor_series_bucket(self->series, slot, b);
    if (s->kind == PREDICTOR_SERIES_CLASS) {
        const predictor_bucket_t *pb =
            parent == PREDICTOR_SERIES_NONE
                ? NULL
                : predictor_series_bucket(self->series, parent, b);
        if (!pb || pb->n < self->cfg.min_ops || pb->n == 0)
            return false;
        double errs = bk ? bk->sum : (b > s->head ? 0 : -1);
        if (errs < 0)
            return false;
        *y = errs / pb->n > 1 ? 1 : errs / pb->n;
        return true;
    }
    if (!bk || bk->n == 0 ||
        (s->kind == PREDICTOR_SERIES_RATE && bk->n < self->cfg.min_ops))
        return false;
    *y = bk->sum / bk->n;
    return true;
}

//  Gather the points of buckets up to `last` into self->x / self->y.
static uint32_t
s_points(predictor_engine_t *self, uint32_t slot, int64_t last)
{
    predictor_series_t *s = predictor_series_at(self->series, slot);
    uint32_t parent = s->kind == PREDICTOR_SERIES_CLASS
                          ? s_parent(self, s)
                          : PREDICTOR_SERIES_NONE;
    uint32_t len = self->cfg.series.buckets, n = 0;
    for (int64_t b = last - len + 1; b <= last; b++) {
        double y;
        if (s_point(self, slot, parent, s, b, &y)) {
            self->x[n] = (double)(b - last);
            self->y[n++] = y;
        }
    }
    return n;
}

/* ------------------------------------------------------------ words -- */

static void
s_iso(int64_t ms, char *buf, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) ||
        strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, cap, "?");
}

static const char *
s_period_word(int64_t period_ms, char *buf, size_t cap)
{
    static const struct {
        int64_t ms;
        const char *word;
    } units[] = {{86400000, "day"}, {3600000, "hour"}, {60000, "min"},
                 {1000, "s"}};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (period_ms == units[i].ms)
            return units[i].word;
    snprintf(buf, cap, "%lld ms", (long long)period_ms);
    return buf;
}

//  "error rate of load_csv", "TimeoutError share of load_csv", "rss_bytes"
static void
s_subject(const predictor_series_t *s, char *buf, size_t cap)
{
    const char *name = predictor_series_name(s);
    if (s->kind == PREDICTOR_SERIES_RATE) {
        snprintf(buf, cap, "error rate of %s", name + 4);
    } else if (s->kind == PREDICTOR_SERIES_CLASS) {
        const char *colon = strrchr(name, ':');
        snprintf(buf, cap, "%s share of %.*s", colon + 1,
                 (int)(colon - name - 4), name + 4);
    } else {
        snprintf(buf, cap, "%s", name + 7);
    }
}

static void
s_value_text(const predictor_series_t *s, double v, char *buf, size_t cap)
{
    if (s->kind == PREDICTOR_SERIES_METRIC)
        snprintf(buf, cap, "%.4g", v);
    else
        snprintf(buf, cap, "%.0f%%", v * 100);
}

static void
s_reason(predictor_engine_t *self, const predictor_series_t *s,
         const s_view_t *v, proto_level_t level, char *buf, size_t cap)
{
    char subj[160], val[32], thr[32], pw[32], when[32];
    s_subject(s, subj, sizeof subj);
    s_value_text(s, v->value, val, sizeof val);
    s_value_text(s, v->threshold, thr, sizeof thr);
    const char *per = s_period_word(self->cfg.period_ms, pw, sizeof pw);
    if (level == PROTO_LEVEL_CRITICAL) {
        snprintf(buf, cap, "%s is %s, over its failure threshold %s", subj,
                 val, thr);
        return;
    }
    if (!v->has_trend) {
        snprintf(buf, cap, "%s is %s", subj, val);
        return;
    }
    double bpp = (double)self->cfg.period_ms / (double)self->cfg.series.bucket_ms;
    double g = v->trend.multiplicative ? expm1(v->trend.slope * bpp)
                                       : v->trend.growth * bpp;
    double span = v->trend.x_last - self->x[0];
    double periods = span / bpp;
    const char *pace = v->trend.accel > 0.1 * fabs(v->trend.slope)
                           ? ", accelerating"
                       : v->trend.accel < -0.1 * fabs(v->trend.slope)
                           ? ", slowing"
                           : "";
    bool unit = strcmp(per, "day") == 0 || strcmp(per, "hour") == 0 ||
                strcmp(per, "min") == 0;
    int k = snprintf(buf, cap, "%s %s %+.3g%%/%s over %.3g %s%s%s (now %s)",
                     subj, g >= 0 ? "rose" : "fell", g * 100, per, periods,
                     per, unit && periods != 1 ? "s" : "", pace, val);
    if (v->cross.crosses && k > 0 && (size_t)k < cap) {
        s_iso(v->fail_at_ms, when, sizeof when);
        snprintf(buf + k, cap - (size_t)k,
                 "; at this pace it crosses %s by %s", thr, when);
    }
}

/* ---------------------------------------------------------- analysis -- */

static double
s_threshold(const predictor_engine_t *self, const predictor_series_t *s)
{
    return s->kind == PREDICTOR_SERIES_METRIC ? s->limit
                                              : self->cfg.rate_threshold;
}

static void
s_view(predictor_engine_t *self, uint32_t slot, int64_t last, int64_t now_ms,
       s_view_t *v)
{
    predictor_series_t *s = predictor_series_at(self->series, slot);
    memset(v, 0, sizeof *v);
    v->n = s_points(self, slot, last);
    v->threshold = s_threshold(self, s);
    if (v->n == 0)
        return;
    v->value = self->y[v->n - 1];
    if (v->n < self->cfg.min_points ||
        predictor_trend_analyze(self->x, self->y, v->n, self->scratch,
                                &v->trend) != HB_OK)
        return;
    v->has_trend = true;
    self->stats.analyses++;
    if (!(v->threshold > 0))
        return;
    predictor_trend_cross(&v->trend, v->threshold, &v->cross);
    if (!v->cross.crosses)
        return;
    // x is in buckets, 0 = the newest closed one, whose centre is at
    // (last + 0.5) buckets
    double bucket = (double)self->cfg.series.bucket_ms;
    double at = ((double)last + 0.5 + v->cross.dx) * bucket;
    v->fail_at_ms = at > 9e15 ? INT64_MAX / 2 : (int64_t)at;
    if (v->fail_at_ms < now_ms)
        v->fail_at_ms = now_ms;
    v->confidence = predictor_record_calibrate(self->record, s_record_kind(s),
                                               v->cross.confidence);
}

//  The slot of the dominant error class of an op's RATE series, or NONE.
static uint32_t
s_dominant_slot(predictor_engine_t *self, const predictor_series_t *s)
{
    if (s->kind != PREDICTOR_SERIES_RATE ||
        s->dom_slot == PREDICTOR_SERIES_NONE)
        return PREDICTOR_SERIES_NONE;
    predictor_series_t *d = predictor_series_at(self->series, s->dom_slot);
    if (!predictor_series_live(d) || d->hash != s->dom_hash)
        return PREDICTOR_SERIES_NONE; // evicted since
    return s->dom_slot;
}

static const char *
s_dominant(predictor_engine_t *self, const predictor_series_t *s)
{
    if (s->kind == PREDICTOR_SERIES_CLASS)
        return strrchr(predictor_series_name(s), ':') + 1;
    uint32_t slot = s_dominant_slot(self, s);
    if (slot == PREDICTOR_SERIES_NONE)
        return NULL;
    return strrchr(predictor_series_name(predictor_series_at(self->series,
                                                             slot)), ':') + 1;
}

//  Append the dominant class's own trend to an op's reason: analyze_patterns
//  per error class ("; mostly TimeoutError: 30% of attempts, +12%/day").
static void
s_class_words(predictor_engine_t *self, const predictor_series_t *s,
              int64_t last, int64_t now_ms, char *buf, size_t cap)
{
    uint32_t slot = s_dominant_slot(self, s);
    size_t len = strlen(buf);
    if (slot == PREDICTOR_SERIES_NONE || len + 1 >= cap)
        return;
    s_view_t cv;
    s_view(self, slot, last, now_ms, &cv);
    const char *cls = s_dominant(self, s);
    if (cv.n == 0)
        return;
    char pw[32];
    const char *per = s_period_word(self->cfg.period_ms, pw, sizeof pw);
    double bpp =
        (double)self->cfg.period_ms / (double)self->cfg.series.bucket_ms;
    if (!cv.has_trend) {
        snprintf(buf + len, cap - len, "; mostly %s (%.0f%% of attempts)",
                 cls, cv.value * 100);
        return;
    }
    double g = cv.trend.multiplicative ? expm1(cv.trend.slope * bpp)
                                       : cv.trend.growth * bpp;
    snprintf(buf + len, cap - len, "; mostly %s (%.0f%% of attempts, %+.3g%%/%s)",
             cls, cv.value * 100, g * 100, per);
}

static void
s_emit(predictor_engine_t *self, uint32_t slot, const s_view_t *v,
       proto_level_t previous, int64_t now_ms)
{
    predictor_series_t *s = predictor_series_at(self->series, slot);
    const char *agent = predictor_series_agent(s);
    if (self->hooks.owns && !self->hooks.owns(self->hooks.arg, agent))
        return; // another predictor of the fleet speaks for this agent
    char reason[PREDICTOR_REASON_MAX], op[S_NAME_MAX + 1] = "";
    proto_level_t level = (proto_level_t)s->alert.level;
    s_reason(self, s, v, level, reason, sizeof reason);
    s_class_words(self, s, s->analysed, now_ms, reason, sizeof reason);
    const char *name = predictor_series_name(s);
    const char *dom = s_dominant(self, s);
    if (s->kind != PREDICTOR_SERIES_METRIC) {
        const char *end = s->kind == PREDICTOR_SERIES_CLASS
                              ? strrchr(name, ':')
                              : name + strlen(name);
        snprintf(op, sizeof op, "%.*s", (int)(end - name - 4), name + 4);
    }
    predictor_advice_in_t in = {
        dom, s->kind == PREDICTOR_SERIES_METRIC ? name + 7 : NULL};
    predictor_advice_t adv = predictor_advice_suggest(&in);
    bool foresees = v->cross.crosses && v->fail_at_ms > now_ms &&
                    (level == PROTO_LEVEL_HIGH || level == PROTO_LEVEL_MEDIUM);
    predictor_event_t ev = {
        agent, name, *op ? op : NULL, dom, level, previous, v->value,
        foresees, v->fail_at_ms, v->confidence, s_record_kind(s),
        adv.action, reason, 0};
    self->stats.alerts++;
    if (self->hooks.on_alert)
        self->hooks.on_alert(self->hooks.arg, &ev);
    if (!foresees)
        return;
    ev.id = ++self->last_id;
    self->stats.predictions++;
    predictor_record_expect(self->record, ev.id, s->hash, ev.kind, now_ms,
                            v->fail_at_ms);
    if (self->hooks.on_prediction)
        self->hooks.on_prediction(self->hooks.arg, &ev);
}

static void
s_outcome(void *arg, uint64_t id, bool hit, double ttf_err)
{
    predictor_engine_t *self = arg;
    if (self->hooks.on_outcome)
        self->hooks.on_outcome(self->hooks.arg, id, hit, ttf_err);
}

//  Analyse `slot` with buckets up to `last` closed.
static void
s_analyse(predictor_engine_t *self, uint32_t slot, int64_t last,
          int64_t now_ms)
{
    predictor_series_t *s = predictor_series_at(self->series, slot);
    s->analysed = last;
    s_view_t v;
    s_view(self, slot, last, now_ms, &v);
    if (v.n == 0)
        return;
    if (v.threshold > 0 && v.value > v.threshold)
        predictor_record_crossed(self->record, s->hash, now_ms, s_outcome,
                                 self);
    predictor_alert_input_t in = {
        v.value,
        v.threshold,
        v.cross.crosses && v.fail_at_ms > now_ms,
        v.fail_at_ms - now_ms,
        v.confidence,
        v.has_trend && v.trend.slope_lo > 0};
    proto_level_t raw = predictor_alert_classify(
        &self->cfg.alert, &in, (proto_level_t)s->alert.level);
    proto_level_t previous;
    if (predictor_alert_step(&self->cfg.alert, &s->alert, raw, now_ms,
                             &previous))
        s_emit(self, slot, &v, previous, now_ms);
}

//  Newest bucket of `s` that is closed at now_ms (class series: their
//  op's buckets keep closing even when the class stopped).
static int64_t
s_closed(const predictor_engine_t *self, const predictor_series_t *s,
         int64_t now_ms)
{
    int64_t cur = predictor_series_index(self->series, now_ms);
    if (s->kind == PREDICTOR_SERIES_CLASS)
        return cur - 1;
    return s->head < cur ? s->head : s->head - 1;
}

//  Analyse `slot` when a sample opened a bucket and so closed the
//  previous one.
static void
s_after_add(predictor_engine_t *self, uint32_t slot,
            predictor_series_add_t what, int64_t now_ms)
{
    self->stats.samples++;
    predictor_series_t *s = predictor_series_at(self->series, slot);
    if (what != PREDICTOR_SERIES_OPENED || s->kind == PREDICTOR_SERIES_CLASS)
        return;
    int64_t last = s_closed(self, s, now_ms);
    if (last > s->analysed)
        s_analyse(self, slot, last, now_ms);
}

//  Add one sample to (agent, name), whose key state is `key` (one index
//  lookup, which also fetches the record and its bucket).
static uint32_t
s_sample(predictor_engine_t *self, int64_t now_ms, const char *agent,
         const char *name, uint64_t key, predictor_series_kind_t kind,
         double sum, uint32_t n)
{
    predictor_series_add_t what;
    uint32_t slot = predictor_series_sample(self->series, agent, name, key,
                                            kind, now_ms, sum, n, &what);
    if (slot == PREDICTOR_SERIES_NONE)
        self->stats.rejected++;
    else
        s_after_add(self, slot, what, now_ms);
    return slot;
}

/* ----------------------------------------------------------- samples -- */

void
predictor_engine_error(predictor_engine_t *self, int64_t now_ms,
                       const char *agent, const char *op,
                       const char *error_class)
{
    assert(self);
    char name[S_NAME_MAX + 1], cname[S_NAME_MAX + 1];
    if (!s_agent_ok(agent) || !op || !s_name(name, "err:", op, NULL)) {
        self->stats.rejected++;
        return;
    }
    uint64_t key = predictor_series_key(agent, name);
    uint32_t slot = s_sample(self, now_ms, agent, name, key,
                             PREDICTOR_SERIES_RATE, 1, 1);
    if (slot == PREDICTOR_SERIES_NONE || !self->cfg.per_class ||
        !error_class || !s_name(cname, "err:", op, error_class))
        return;
    // "err:op:Class" is "err:op" + ":Class": continue the op's key state
    // rather than hash agent and op again
    uint64_t ckey = predictor_series_key_more(
        predictor_series_key_more(key, ":"), error_class);
    uint32_t cslot = s_sample(self, now_ms, agent, cname, ckey,
                              PREDICTOR_SERIES_CLASS, 1, 0);
    if (cslot == PREDICTOR_SERIES_NONE)
        return;
    // The class sample may have evicted the op's series: look again.
    predictor_series_t *s = predictor_series_at(self->series, slot);
    if (!predictor_series_live(s) || s->kind != PREDICTOR_SERIES_RATE ||
        strcmp(predictor_series_name(s), name) != 0 ||
        strcmp(predictor_series_agent(s), agent) != 0)
        return;
    // Misra-Gries with one counter: the majority class of the op's errors.
    predictor_series_t *c = predictor_series_at(self->series, cslot);
    if (s->dom_slot == cslot && s->dom_hash == c->hash) {
        s->dom_count++;
    } else if (s->dom_count == 0 || s->dom_slot == PREDICTOR_SERIES_NONE) {
        s->dom_slot = cslot;
        s->dom_hash = c->hash;
        s->dom_count = 1;
    } else {
        s->dom_count--;
    }
}

void
predictor_engine_success(predictor_engine_t *self, int64_t now_ms,
                         const char *agent, const char *op)
{
    assert(self);
    char name[S_NAME_MAX + 1];
    if (!s_agent_ok(agent) || !op || !s_name(name, "err:", op, NULL)) {
        self->stats.rejected++;
        return;
    }
    s_sample(self, now_ms, agent, name, predictor_series_key(agent, name),
             PREDICTOR_SERIES_RATE, 0, 1);
}

void
predictor_engine_metric(predictor_engine_t *self, int64_t now_ms,
                        const char *agent, const char *metric, double value)
{
    assert(self);
    char name[S_NAME_MAX + 1];
    if (!s_agent_ok(agent) || !metric || !isfinite(value) ||
        !s_name(name, "metric:", metric, NULL)) {
        self->stats.rejected++;
        return;
    }
    s_sample(self, now_ms, agent, name, predictor_series_key(agent, name),
             PREDICTOR_SERIES_METRIC, value, 1);
}

void
predictor_engine_hello(predictor_engine_t *self, int64_t now_ms,
                       const char *agent, uint64_t memory_limit)
{
    assert(self);
    (void)now_ms;
    if (!s_agent_ok(agent)) {
        self->stats.rejected++;
        return;
    }
    uint32_t slot = predictor_series_get(self->series, agent,
                                         "metric:rss_bytes",
                                         PREDICTOR_SERIES_METRIC, true);
    if (slot != PREDICTOR_SERIES_NONE)
        predictor_series_at(self->series, slot)->limit = (double)memory_limit;
}

void
predictor_engine_heartbeat(predictor_engine_t *self, int64_t now_ms,
                           const char *agent, const proto_heartbeat_t *hb)
{
    assert(self && hb);
    if (!s_agent_ok(agent)) {
        self->stats.rejected++;
        return;
    }
    s_sample(self, now_ms, agent, "metric:rss_bytes",
             predictor_series_key(agent, "metric:rss_bytes"),
             PREDICTOR_SERIES_METRIC, (double)hb->rss_bytes, 1);
    uint32_t slot = predictor_series_get(self->series, agent, "metric:cpu",
                                         PREDICTOR_SERIES_METRIC, true);
    if (slot == PREDICTOR_SERIES_NONE) {
        self->stats.rejected++;
        return;
    }
    predictor_series_t *s = predictor_series_at(self->series, slot);
    if (s->kind != PREDICTOR_SERIES_METRIC)
        return; // aux is a metric's
    double cpu = (double)hb->cpu_us, up = (double)hb->uptime_ms;
    bool have_prev = s->aux[1] > 0 && up > s->aux[1] && cpu >= s->aux[0];
    double share = have_prev ? (cpu - s->aux[0]) / 1000.0 / (up - s->aux[1])
                             : 0;
    s->aux[0] = cpu;
    s->aux[1] = up;
    s->limit = self->cfg.cpu_limit;
    // the slot is at hand: add to it directly rather than look it up again
    if (have_prev)
        s_after_add(self, slot,
                    predictor_series_add(self->series, slot, now_ms, share, 1),
                    now_ms);
}

void
predictor_engine_tick(predictor_engine_t *self, int64_t now_ms)
{
    assert(self);
    uint32_t slots = predictor_series_slots(self->series);
    for (uint32_t i = 0; i < self->cfg.scan_per_tick && i < slots; i++) {
        if (self->scan_at >= slots)
            self->scan_at = 0;
        uint32_t slot = self->scan_at++;
        predictor_series_t *s = predictor_series_at(self->series, slot);
        if (!predictor_series_live(s) || s->head == INT64_MIN ||
            s->kind == PREDICTOR_SERIES_CLASS)
            continue;
        int64_t last = s_closed(self, s, now_ms);
        if (last > s->analysed)
            s_analyse(self, slot, last, now_ms);
    }
    predictor_record_expire(self->record, now_ms, s_outcome, self);
}

void
predictor_engine_set_last_id(predictor_engine_t *self, uint64_t id)
{
    assert(self);
    if (id > self->last_id)
        self->last_id = id;
}

predictor_record_t *
predictor_engine_record(predictor_engine_t *self)
{
    return self->record;
}

predictor_series_table_t *
predictor_engine_series(predictor_engine_t *self)
{
    return self->series;
}

const predictor_engine_stats_t *
predictor_engine_stats(const predictor_engine_t *self)
{
    return &self->stats;
}
