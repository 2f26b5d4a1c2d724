/*  healer.c - the healer role: reads its config, builds its parts, and
    dispatches bus messages to them by kind (see healer.h). */

#include "healer.h"

#include "healer_catalog.h"
#include "healer_intel.h"
#include "healer_journal.h"
#include "healer_learn.h"
#include "healer_orch.h"
#include "healer_templates.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef HB_HEALER_CATALOG
#define HB_HEALER_CATALOG "/usr/local/share/healbus/fixes.conf"
#endif

typedef struct {
    node_ctx_t *ctx;              // borrowed
    hb_log_t *log;                // borrowed from ctx
    healer_catalog_t *catalog;    // owned
    healer_templates_t *miner;    // owned
    healer_intel_t *intel;        // owned
    healer_learn_t *learn;        // owned
    healer_journal_t *journal;    // owned
    healer_orch_t *orch;          // owned
    uint64_t rng;                 // splitmix64 state for Thompson sampling
    int64_t flush_ms;             // journal debounce
    int64_t last_flush_ms;
    uint64_t not_owner;           // heal requests left to another healer
} healer_t;

typedef void(s_handler_fn)(healer_t *self, const proto_msg_t *msg);

/* ---------------------------------------------------- orchestrator env -- */

static hb_err_t
s_publish(void *arg, proto_msg_t *msg)
{
    return node_ctx_publish(((healer_t *)arg)->ctx, msg);
}

static int64_t
s_now_ms(void *arg)
{
    return node_ctx_now_ms(((healer_t *)arg)->ctx);
}

static int64_t
s_wall_us(void *arg)
{
    return node_ctx_wall_us(((healer_t *)arg)->ctx);
}

static void
s_outcome(void *arg, const healer_orch_outcome_t *o)
{
    healer_t *self = arg;
    healer_journal_add(self->journal, o);
    if (self->flush_ms == 0)
        healer_journal_flush(self->journal, self->learn, self->miner);
}

/* --------------------------------------------------------------- setup -- */

static healer_catalog_t *
s_catalog(healer_t *self)
{
    const char *path = node_ctx_config_str(self->ctx, "catalog", NULL);
    char err[512];
    if (path) { // asked for explicitly: it must load
        healer_catalog_t *c = healer_catalog_load(path, err, sizeof err);
        if (!c)
            hb_log_error(self->log, "healer: catalog: %s", err);
        return c;
    }
    if (access(HB_HEALER_CATALOG, R_OK) == 0) {
        healer_catalog_t *c =
            healer_catalog_load(HB_HEALER_CATALOG, err, sizeof err);
        if (!c)
            hb_log_error(self->log, "healer: catalog: %s", err);
        return c;
    }
    hb_log_info(self->log, "healer: no catalog at %s: using the built-in "
                "defaults", HB_HEALER_CATALOG);
    return healer_catalog_builtin();
}

static void
s_orch_cfg(healer_t *self, healer_orch_cfg_t *cfg)
{
    node_ctx_t *ctx = self->ctx;
    healer_orch_cfg_defaults(cfg);
    cfg->max_candidates = (uint32_t)node_ctx_config_int(
        ctx, "max_candidates", cfg->max_candidates, 1,
        HEALER_ORCH_MAX_CANDIDATES);
    cfg->intensity = (uint32_t)node_ctx_config_int(
        ctx, "intensity", cfg->intensity, 1, HEALER_ORCH_MAX_INTENSITY);
    cfg->period_ms = node_ctx_config_int(ctx, "period_ms", cfg->period_ms, 1,
                                         86400000);
    cfg->fix_timeout_ms = node_ctx_config_int(
        ctx, "fix_timeout_ms", cfg->fix_timeout_ms, 1, 3600000);
    cfg->max_resends = (uint32_t)node_ctx_config_int(
        ctx, "max_resends", cfg->max_resends, 0, 100);
    cfg->fix_ttl_ms = node_ctx_config_int(ctx, "fix_ttl_ms", cfg->fix_ttl_ms,
                                          1, 86400000);
    cfg->on_escalate = node_ctx_config_str(ctx, "on_escalate", NULL);
    cfg->max_children = (uint32_t)node_ctx_config_int(
        ctx, "max_escalate_cmds", cfg->max_children, 1, 64);
    cfg->max_episodes = (uint32_t)node_ctx_config_int(
        ctx, "max_episodes", cfg->max_episodes, 1, 1 << 20);
    cfg->max_agents = (uint32_t)node_ctx_config_int(
        ctx, "max_agents", cfg->max_agents, 1, 1 << 20);
}

static bool
s_build(healer_t *self)
{
    node_ctx_t *ctx = self->ctx;
    healer_intel_cfg_t icfg;
    healer_intel_cfg_defaults(&icfg);
    icfg.window_ms = node_ctx_config_int(ctx, "window_ms", icfg.window_ms, 1,
                                         86400000);
    icfg.burst_min = (uint32_t)node_ctx_config_int(ctx, "burst_min",
                                                   icfg.burst_min, 1, 1000000);
    icfg.burst_factor = node_ctx_config_double(ctx, "burst_factor",
                                               icfg.burst_factor, 1, 1000);
    uint32_t learn_max = (uint32_t)node_ctx_config_int(ctx, "learn_max", 4096,
                                                       16, 1 << 20);
    uint32_t journal_max = (uint32_t)node_ctx_config_int(
        ctx, "journal_max", 1000, 1, HEALER_JOURNAL_MAX_ENTRIES);
    // A write re-serialises the whole log (6-16 ms of CPU for 1000
    // attempts on a loaded 2-core machine): once a second at most by
    // default, so a busy healer does not spend a tenth of a core on it.
    self->flush_ms = node_ctx_config_int(ctx, "journal_flush_ms", 1000, 0,
                                         60000);
    healer_orch_cfg_t ocfg;
    s_orch_cfg(self, &ocfg);
    if (node_ctx_config_failed(ctx))
        return false;
    self->catalog = s_catalog(self);
    self->miner = healer_templates_new(NULL);
    self->learn =
        healer_learn_new(learn_max, healer_learn_splitmix, &self->rng);
    self->journal = healer_journal_new(node_ctx_store(ctx), self->log,
                                       journal_max);
    if (!self->catalog || !self->miner || !self->learn || !self->journal ||
        healer_journal_load(self->journal, self->learn, &self->miner) != HB_OK)
        return false;
    self->intel = healer_intel_new(&icfg, self->miner, self->log);
    healer_orch_env_t env = {self,      s_publish, s_now_ms, s_wall_us,
                             s_outcome, self->log, node_ctx_id(ctx)};
    self->orch = healer_orch_new(&ocfg, &env, self->catalog, self->learn);
    return self->intel && self->orch;
}

static void s_destroy(void **state_p);

static void *
s_create(node_ctx_t *ctx)
{
    healer_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ctx = ctx;
    self->log = node_ctx_log(ctx);
    self->rng = (uint64_t)node_ctx_wall_us(ctx) ^ ((uint64_t)getpid() << 32);
    if (!s_build(self)) {
        hb_log_error(self->log, "healer: cannot start (see above)");
        void *state = self;
        s_destroy(&state);
        return NULL;
    }
    hb_log_info(self->log, "healer: %u fixes in the catalog",
                healer_catalog_count(self->catalog));
    return self;
}

static void
s_destroy(void **state_p)
{
    if (!state_p || !*state_p)
        return;
    healer_t *self = *state_p;
    if (self->journal && self->learn && self->miner &&
        healer_journal_dirty(self->journal))
        healer_journal_flush(self->journal, self->learn, self->miner);
    healer_orch_destroy(&self->orch);
    healer_intel_destroy(&self->intel);
    healer_journal_destroy(&self->journal);
    healer_learn_destroy(&self->learn);
    healer_templates_destroy(&self->miner);
    healer_catalog_destroy(&self->catalog);
    free(self);
    *state_p = NULL;
}

/* ------------------------------------------------------------ messages -- */

static void
s_on_error(healer_t *self, const proto_msg_t *msg)
{
    const proto_error_t *e = &msg->u.error;
    const healer_intel_pattern_t *p = healer_intel_error(
        self->intel, msg->subject, e->op, e->error_class, e->text,
        node_ctx_now_ms(self->ctx), node_ctx_wall_us(self->ctx));
    if (p && p->renamed_from[0])
        healer_learn_rename(self->learn, p->renamed_from, p->key);
}

static void
s_on_success(healer_t *self, const proto_msg_t *msg)
{
    healer_intel_success(self->intel, msg->subject, msg->u.success.op,
                         node_ctx_wall_us(self->ctx));
}

static void
s_on_heal(healer_t *self, const proto_msg_t *msg)
{
    if (!node_ctx_owns(self->ctx, msg->subject)) {
        self->not_owner++;
        return;
    }
    const proto_heal_t *h = &msg->u.heal;
    const healer_intel_pattern_t *p = healer_intel_classify(
        self->intel, msg->subject, h->error_class, h->text,
        node_ctx_now_ms(self->ctx));
    if (p && p->renamed_from[0])
        healer_learn_rename(self->learn, p->renamed_from, p->key);
    healer_orch_heal(self->orch, msg->subject, h, p ? p->key : "",
                     p ? p->template_text : h->text);
}

static void
s_on_fixres(healer_t *self, const proto_msg_t *msg)
{
    healer_orch_fixres(self->orch, msg->subject, &msg->u.fixres);
}

static void
s_on_hello(healer_t *self, const proto_msg_t *msg)
{
    healer_orch_hello(self->orch, msg->subject, &msg->u.hello);
}

static s_handler_fn *const s_handlers[PROTO_KIND_COUNT] = {
    [PROTO_KIND_HELLO] = s_on_hello,   [PROTO_KIND_ERROR] = s_on_error,
    [PROTO_KIND_SUCCESS] = s_on_success, [PROTO_KIND_HEAL] = s_on_heal,
    [PROTO_KIND_FIXRES] = s_on_fixres};

static void
s_on_msg(void *state, const proto_msg_t *msg)
{
    healer_t *self = state;
    if (msg->kind < PROTO_KIND_COUNT && s_handlers[msg->kind] && msg->subject)
        s_handlers[msg->kind](self, msg);
}

static void
s_on_tick(void *state, int64_t now_ms)
{
    healer_t *self = state;
    healer_orch_tick(self->orch, now_ms);
    // Debounced: one crash-safe write per flush_ms at most, and in a child
    // process: serialising the log and its four fsyncs took 5-30 ms, and a
    // heal request arriving meanwhile waited that long for its fix.
    bool writing = healer_journal_reap(self->journal, false);
    if (!writing && healer_journal_dirty(self->journal) &&
        now_ms - self->last_flush_ms >= self->flush_ms) {
        healer_journal_flush_bg(self->journal, self->learn, self->miner);
        self->last_flush_ms = now_ms;
    }
}

static uint32_t
s_counters(void *state, proto_counter_t *out, uint32_t cap)
{
    healer_t *self = state;
    uint32_t n = healer_orch_counters(self->orch, out, cap);
    n += healer_intel_counters(self->intel, out + n, cap - n);
    const proto_counter_t mine[] = {
        {"journal_attempts", healer_journal_total(self->journal)},
        {"journal_healed", healer_journal_successes(self->journal)},
        {"journal_writes", healer_journal_writes(self->journal)},
        {"journal_corrupt", healer_journal_corrupt(self->journal)},
        {"learned", healer_learn_count(self->learn)},
        {"heals_not_owner", self->not_owner}};
    for (size_t i = 0; i < sizeof mine / sizeof mine[0] && n < cap; i++)
        out[n++] = mine[i];
    return n;
}

static const char *const s_topics[] = {"err.", "ok.", "heal.", "fixres.",
                                       "hello.", NULL};

const node_role_t healer_role = {
    .name = "healer",
    .summary = "error intelligence and automatic healing (fix, test, learn, "
               "escalate)",
    .topics = s_topics,
    .create = s_create,
    .destroy = s_destroy,
    .on_msg = s_on_msg,
    .on_tick = s_on_tick,
    .counters = s_counters};
