/*  healer_intel.c - error/success counts, patterns, bursts, trends and
    sharing (see healer_intel.h). */

#include "healer_intel.h"
#include "hb_hash.h"
#include "hb_str.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char agent[PROTO_MAX_ID + 1];
    char op[PROTO_MAX_NAME + 1];
    char error_class[PROTO_MAX_CLASS + 1]; // "" for the successes row
    bool successes;   // the op's successes, apart from any error class
                      // (an error whose class is "" must not land here)
    uint32_t hash;
    uint64_t count;
    int64_t first_us, last_us;
    uint64_t used;
    bool live;
} s_series_t;

struct healer_intel {
    healer_intel_cfg_t cfg;
    healer_templates_t *miner;        // borrowed
    hb_log_t *log;                    // borrowed
    s_series_t *series;               // owned, cfg.max_series
    healer_intel_pattern_t *patterns; // owned, cfg.max_patterns
    uint64_t clock;
    uint64_t errors, successes, bursts, evictions, unplaced;
};

static uint32_t
s_hash3(const char *a, const char *b, const char *c)
{
    uint32_t h = HB_HASH32_BASIS;
    h = hb_hash32_sep(hb_hash32_str(h, a));
    h = hb_hash32_sep(hb_hash32_str(h, b));
    return hb_hash32_sep(hb_hash32_str(h, c));
}

void
healer_intel_cfg_defaults(healer_intel_cfg_t *cfg)
{
    *cfg = (healer_intel_cfg_t){4096, 1024, 10000, 5, 4.0};
}

healer_intel_t *
healer_intel_new(const healer_intel_cfg_t *cfg, healer_templates_t *miner,
                 hb_log_t *log)
{
    if (!miner || cfg->max_series < 1 || cfg->max_patterns < 1 ||
        cfg->window_ms < 1 || cfg->burst_min < 1 || cfg->burst_factor < 1)
        return NULL;
    healer_intel_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->miner = miner;
    self->log = log;
    self->series = calloc(cfg->max_series, sizeof *self->series);
    self->patterns = calloc(cfg->max_patterns, sizeof *self->patterns);
    if (!self->series || !self->patterns)
        healer_intel_destroy(&self);
    return self;
}

void
healer_intel_destroy(healer_intel_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->series);
    free((*self_p)->patterns);
    free(*self_p);
    *self_p = NULL;
}

void
healer_intel_set_miner(healer_intel_t *self, healer_templates_t *miner)
{
    assert(miner);
    self->miner = miner;
}

/* -------------------------------------------------------------- series -- */

static s_series_t *
s_series(healer_intel_t *self, const char *agent_in, const char *op_in,
         const char *class_in, bool successes, bool create)
{
    // Keys are compared as they are stored, cut to the protocol's limits:
    // otherwise an overlong name would never find its own row and would
    // take a fresh one on every report.
    char agent[PROTO_MAX_ID + 1], op[PROTO_MAX_NAME + 1];
    char error_class[PROTO_MAX_CLASS + 1];
    hb_str_copy(agent, agent_in, PROTO_MAX_ID);
    hb_str_copy(op, op_in, PROTO_MAX_NAME);
    hb_str_copy(error_class, class_in, PROTO_MAX_CLASS);
    uint32_t h = s_hash3(agent, op, error_class) ^ successes, victim = 0;
    for (uint32_t i = 0; i < self->cfg.max_series; i++) {
        s_series_t *s = &self->series[i];
        if (s->live && s->hash == h && s->successes == successes &&
            strcmp(s->agent, agent) == 0 &&
            strcmp(s->op, op) == 0 && strcmp(s->error_class, error_class) == 0)
            return s;
        if (!s->live ||
            (self->series[victim].live && s->used < self->series[victim].used))
            victim = i;
    }
    if (!create)
        return NULL;
    s_series_t *s = &self->series[victim];
    if (s->live)
        self->evictions++;
    memset(s, 0, sizeof *s);
    hb_str_copy(s->agent, agent, PROTO_MAX_ID);
    hb_str_copy(s->op, op, PROTO_MAX_NAME);
    hb_str_copy(s->error_class, error_class, PROTO_MAX_CLASS);
    s->hash = h;
    s->successes = successes;
    s->live = true;
    return s;
}

static void
s_count(healer_intel_t *self, s_series_t *s, int64_t wall_us)
{
    if (s->count++ == 0)
        s->first_us = wall_us;
    s->last_us = wall_us;
    s->used = ++self->clock;
}

/* ------------------------------------------------------------ patterns -- */

static healer_intel_pattern_t *
s_pattern(healer_intel_t *self, const char *class_in, uint32_t id,
          int64_t now_ms)
{
    char error_class[PROTO_MAX_CLASS + 1]; // cut as stored, as in s_series
    hb_str_copy(error_class, class_in, PROTO_MAX_CLASS);
    uint32_t victim = 0;
    for (uint32_t i = 0; i < self->cfg.max_patterns; i++) {
        healer_intel_pattern_t *p = &self->patterns[i];
        if (p->live && p->template_id == id &&
            strcmp(p->error_class, error_class) == 0)
            return p;
        if (!p->live || (self->patterns[victim].live &&
                         p->used < self->patterns[victim].used))
            victim = i;
    }
    healer_intel_pattern_t *p = &self->patterns[victim];
    if (p->live)
        self->evictions++;
    memset(p, 0, sizeof *p);
    p->template_id = id;
    hb_str_copy(p->error_class, error_class, PROTO_MAX_CLASS);
    p->window_start_ms = now_ms;
    p->live = true;
    return p;
}

//  Refresh the pattern's template: the miner may have generalised it since
//  (a group keeps its id), and the learning key moves with it.
static void
s_retemplate(healer_intel_t *self, healer_intel_pattern_t *p)
{
    const char *t = healer_templates_template(self->miner, p->template_id);
    char key[HEALER_LEARN_KEY_MAX + 1];
    // The class takes at most PROTO_MAX_CLASS bytes: cut the template so
    // the key always fits.
    snprintf(key, sizeof key, "%s|%.*s", p->error_class,
             HEALER_LEARN_KEY_MAX - PROTO_MAX_CLASS - 1, t ? t : "");
    p->renamed_from[0] = '\0';
    if (strcmp(key, p->key) == 0)
        return;
    if (p->key[0])
        memcpy(p->renamed_from, p->key, sizeof p->key);
    memcpy(p->key, key, sizeof key);
    hb_str_copy(p->template_text, t, HEALER_INTEL_TEMPLATE_MAX);
}

//  Close the windows that ended before `now_ms`.
static void
s_roll(const healer_intel_t *self, healer_intel_pattern_t *p, int64_t now_ms)
{
    int64_t w = self->cfg.window_ms;
    if (now_ms < p->window_start_ms + w)
        return;
    int64_t closed = (now_ms - p->window_start_ms) / w;
    for (int64_t k = 0; k < closed && k < HEALER_INTEL_HISTORY + 1; k++) {
        uint32_t c = k == 0 ? p->window_count : 0;
        memmove(p->history + 1, p->history,
                (HEALER_INTEL_HISTORY - 1) * sizeof p->history[0]);
        p->history[0] = c;
        if (p->n_history < HEALER_INTEL_HISTORY)
            p->n_history++;
        // Baseline: a slow average of closed windows; a burst window
        // raises it only a little, so a long storm still stands out early.
        p->baseline = 0.8 * p->baseline + 0.2 * c;
    }
    p->window_start_ms += closed * w;
    p->window_count = 0;
    p->in_burst = false;
}

static void
s_burst(healer_intel_t *self, healer_intel_pattern_t *p, const char *agent)
{
    double base = p->baseline > 1.0 ? p->baseline : 1.0;
    if (p->in_burst || p->window_count < self->cfg.burst_min ||
        p->window_count < self->cfg.burst_factor * base)
        return;
    p->in_burst = true;
    p->bursts++;
    self->bursts++;
    hb_log_warn(self->log, "healer: burst of %s errors (%u in a window, "
                "baseline %.1f), %u agent(s) affected, latest %s: %s",
                p->error_class, p->window_count, p->baseline,
                p->n_agents, agent, p->template_text);
}

static void
s_share(healer_intel_pattern_t *p, const char *agent)
{
    for (uint32_t i = 0; i < p->n_agents; i++)
        if (strncmp(p->agents[i], agent, PROTO_MAX_ID) == 0)
            return;
    if (p->n_agents == HEALER_INTEL_AGENTS) {
        p->more_agents = true;
        return;
    }
    hb_str_copy(p->agents[p->n_agents++], agent, PROTO_MAX_ID);
}

static healer_intel_pattern_t *
s_place(healer_intel_t *self, const char *agent, const char *error_class,
        const char *text, int64_t now_ms)
{
    uint32_t id = healer_templates_add(self->miner, text, strlen(text));
    if (id == HEALER_TEMPLATES_NONE) {
        self->unplaced++;
        return NULL;
    }
    healer_intel_pattern_t *p = s_pattern(self, error_class, id, now_ms);
    p->used = ++self->clock;
    s_retemplate(self, p);
    s_share(p, agent);
    return p;
}

const healer_intel_pattern_t *
healer_intel_error(healer_intel_t *self, const char *agent, const char *op,
                   const char *error_class, const char *text, int64_t now_ms,
                   int64_t wall_us)
{
    self->errors++;
    s_count(self, s_series(self, agent, op, error_class, false, true),
            wall_us);
    healer_intel_pattern_t *p = s_place(self, agent, error_class, text,
                                        now_ms);
    if (!p)
        return NULL;
    if (p->errors++ == 0)
        p->first_us = wall_us;
    p->last_us = wall_us;
    s_roll(self, p, now_ms);
    p->window_count++;
    s_burst(self, p, agent);
    return p;
}

void
healer_intel_success(healer_intel_t *self, const char *agent, const char *op,
                     int64_t wall_us)
{
    self->successes++;
    s_count(self, s_series(self, agent, op, "", true, true), wall_us);
}

const healer_intel_pattern_t *
healer_intel_classify(healer_intel_t *self, const char *agent,
                      const char *error_class, const char *text,
                      int64_t now_ms)
{
    return s_place(self, agent, error_class, text, now_ms);
}

bool
healer_intel_series(const healer_intel_t *self, const char *agent,
                    const char *op, const char *error_class,
                    healer_intel_series_t *out)
{
    healer_intel_t *me = (healer_intel_t *)self; // lookups do not create
    const s_series_t *e = s_series(me, agent, op, error_class, false, false);
    const s_series_t *ok = s_series(me, agent, op, "", true, false);
    memset(out, 0, sizeof *out);
    if (!e)
        return false;
    out->errors = e->count;
    out->successes = ok ? ok->count : 0;
    out->error_rate = (double)e->count / (double)(e->count + out->successes);
    out->first_us = e->first_us;
    out->last_us = e->last_us;
    return true;
}

healer_trend_t
healer_intel_trend(const healer_intel_pattern_t *p)
{
    if (p->n_history < HEALER_INTEL_HISTORY)
        return HEALER_TREND_FLAT;
    uint32_t recent = 0, older = 0;
    for (int i = 0; i < HEALER_INTEL_HISTORY / 2; i++) {
        recent += p->history[i];
        older += p->history[i + HEALER_INTEL_HISTORY / 2];
    }
    // Half again more (plus a little, so 0 -> 1 is noise) is a trend.
    if (2 * recent >= 3 * older + 4)
        return HEALER_TREND_RISING;
    if (2 * older >= 3 * recent + 4)
        return HEALER_TREND_FALLING;
    return HEALER_TREND_FLAT;
}

uint32_t
healer_intel_shared_patterns(const healer_intel_t *self)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < self->cfg.max_patterns; i++)
        n += self->patterns[i].live && self->patterns[i].n_agents >= 2;
    return n;
}

uint32_t
healer_intel_counters(const healer_intel_t *self, proto_counter_t *out,
                      uint32_t cap)
{
    uint32_t live = 0;
    for (uint32_t i = 0; i < self->cfg.max_patterns; i++)
        live += self->patterns[i].live;
    const proto_counter_t all[] = {
        {"errors_seen", self->errors},
        {"patterns", live},
        {"shared_patterns", healer_intel_shared_patterns(self)},
        {"bursts", self->bursts}};
    uint32_t n = 0;
    for (; n < cap && n < sizeof all / sizeof all[0]; n++)
        out[n] = all[n];
    return n;
}
