/*  healer_orch.c - heal episodes per (agent, operation): choose, send,
    wait, resend, learn, next candidate, escalate (see healer_orch.h). */

#include "healer_orch.h"
#include "hb_hash.h"
#include "hb_str.h"
#include "node_json.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define S_TEXT_MAX 512       // bytes of error text kept per episode
#define S_FIX_ID_MAX 64
#define S_ASK_EVERY_MS 5000  // at most one ask per agent this often

typedef struct {
    char name[PROTO_MAX_NAME + 1];
    bool numeric;            // int or double knob (mul/div/add apply)
} s_knob_t;

typedef struct {
    char name[PROTO_MAX_ID + 1];
    uint32_t hash;
    bool live;
    bool hello_known;
    s_knob_t knobs[PROTO_MAX_KNOBS];
    uint32_t n_knobs;
    char actions[PROTO_MAX_ACTIONS][PROTO_MAX_NAME + 1];
    uint32_t n_actions;
    int64_t asked_ms;        // last ask sent, INT64_MIN when never
    int64_t *heals;          // ring of episode start times, intensity+1
    uint32_t heal_head;
    int64_t refused_until_ms; // intensity exceeded: refuse until then
    uint64_t used;           // LRU stamp
} s_agent_t;

typedef struct {
    char fix_id[S_FIX_ID_MAX + 1];
    const healer_fix_t *fix; // borrowed from the catalog
    proto_outcome_t outcome;
    char reason[96];
    bool no_result;
} s_tried_t;

typedef struct {
    char agent[PROTO_MAX_ID + 1];
    char op[PROTO_MAX_NAME + 1];
    uint32_t hash;
    bool live;
    bool in_flight;
    uint64_t req_id;
    proto_heal_mode_t mode;
    char error_class[PROTO_MAX_CLASS + 1];
    char text[S_TEXT_MAX + 1];
    char pattern[HEALER_LEARN_KEY_MAX + 1];
    char template_text[S_TEXT_MAX + 1];
    const healer_fix_t *cands[HEALER_ORCH_MAX_CANDIDATES];
    uint32_t n_cands;
    uint32_t next;           // next candidate to try
    s_tried_t tried[PROTO_MAX_HISTORY];
    uint32_t n_tried;
    int64_t deadline_ms;     // resend or give up then
    int64_t expires_us;
    uint32_t resends;
    uint64_t used;
} s_episode_t;

enum {
    C_HEALS, C_HEAL_BUSY, C_HEAL_REPEAT, C_FIXES_SENT, C_RESENDS, C_COMMITTED,
    C_ROLLED_BACK, C_REJECTED, C_DUPLICATES, C_NO_RESULT, C_STALE,
    C_ESCALATIONS, C_REFUSED, C_ASKS, C_CMD_RUN, C_CMD_SKIPPED,
    C_CMD_FAILED, C_DROPPED, C_COUNT
};

static const char *const s_counter_names[C_COUNT] = {
    "heals", "heal_busy", "heal_repeats", "fixes_sent", "fix_resends", "fixes_committed",
    "fixes_rolled_back", "fixes_rejected", "fix_duplicates", "no_result", "stale_results",
    "escalations", "heals_refused", "asks", "escalate_cmds",
    "escalate_cmds_skipped", "escalate_cmds_failed", "heals_dropped"};

struct healer_orch {
    healer_orch_cfg_t cfg;
    char *on_escalate;           // owned copy of cfg.on_escalate
    healer_orch_env_t env;
    char node_id[40];
    uint64_t boot;               // makes fix ids unique across restarts
    uint64_t fix_seq;
    const healer_catalog_t *catalog; // borrowed
    healer_learn_t *learn;       // borrowed
    s_agent_t *agents;           // owned, cfg.max_agents
    s_episode_t *episodes;       // owned, cfg.max_episodes
    pid_t *children;             // owned, cfg.max_children (0 = free)
    uint64_t clock;
    uint64_t counters[C_COUNT];
};

static uint32_t
s_hash2(const char *a, const char *b)
{
    uint32_t h = hb_hash32_sep(hb_hash32_str(HB_HASH32_BASIS, a));
    return hb_hash32_str(h, b);
}

void
healer_orch_cfg_defaults(healer_orch_cfg_t *cfg)
{
    *cfg = (healer_orch_cfg_t){.max_candidates = 3,
                               .intensity = 5,
                               .period_ms = 60000,
                               .fix_timeout_ms = 2000,
                               .max_resends = 3,
                               .fix_ttl_ms = 60000,
                               .on_escalate = NULL,
                               .max_children = 4,
                               .max_episodes = 1024,
                               .max_agents = 1024};
}

healer_orch_t *
healer_orch_new(const healer_orch_cfg_t *cfg, const healer_orch_env_t *env,
                const healer_catalog_t *catalog, healer_learn_t *learn)
{
    assert(env && env->publish && env->now_ms && env->wall_us && catalog &&
           learn);
    if (cfg->max_candidates < 1 ||
        cfg->max_candidates > HEALER_ORCH_MAX_CANDIDATES ||
        cfg->intensity < 1 || cfg->intensity > HEALER_ORCH_MAX_INTENSITY ||
        cfg->period_ms < 1 || cfg->fix_timeout_ms < 1 ||
        cfg->fix_ttl_ms < 1 || cfg->max_episodes < 1 ||
        cfg->max_agents < 1 || cfg->max_children < 1)
        return NULL;
    healer_orch_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->env = *env;
    hb_str_copy(self->node_id, env->node_id ? env->node_id : "healer",
           sizeof self->node_id - 1);
    self->catalog = catalog;
    self->learn = learn;
    self->boot = (uint64_t)env->wall_us(env->arg) & 0xffffffffffull;
    self->agents = calloc(cfg->max_agents, sizeof *self->agents);
    self->episodes = calloc(cfg->max_episodes, sizeof *self->episodes);
    self->children = calloc(cfg->max_children, sizeof *self->children);
    if (cfg->on_escalate && *cfg->on_escalate)
        self->on_escalate = strdup(cfg->on_escalate);
    bool ok = self->agents && self->episodes && self->children &&
              (!cfg->on_escalate || !*cfg->on_escalate || self->on_escalate);
    for (uint32_t i = 0; ok && i < cfg->max_agents; i++) {
        self->agents[i].heals =
            calloc(cfg->intensity + 1, sizeof *self->agents[i].heals);
        ok = self->agents[i].heals != NULL;
    }
    if (!ok)
        healer_orch_destroy(&self);
    return self;
}

void
healer_orch_destroy(healer_orch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    healer_orch_t *self = *self_p;
    if (self->children)
        healer_orch_reap(self, false);
    for (uint32_t i = 0; self->agents && i < self->cfg.max_agents; i++)
        free(self->agents[i].heals);
    free(self->agents);
    free(self->episodes);
    free(self->children);
    free(self->on_escalate);
    free(self);
    *self_p = NULL;
}

/* -------------------------------------------------------------- tables -- */

static s_agent_t *
s_agent(healer_orch_t *self, const char *name, bool create)
{
    uint32_t h = s_hash2(name, NULL), victim = 0;
    for (uint32_t i = 0; i < self->cfg.max_agents; i++) {
        s_agent_t *a = &self->agents[i];
        if (a->live && a->hash == h && strcmp(a->name, name) == 0) {
            a->used = ++self->clock;
            return a;
        }
        if (!a->live || (self->agents[victim].live && a->used <
                                                         self->agents[victim].used))
            victim = i;
    }
    if (!create)
        return NULL;
    // Evicting an agent forgets its hello and heal history; it will be
    // asked again when it next needs healing.
    s_agent_t *a = &self->agents[victim];
    int64_t *heals = a->heals;
    memset(a, 0, sizeof *a);
    memset(heals, 0, (self->cfg.intensity + 1) * sizeof *heals);
    a->heals = heals;
    hb_str_copy(a->name, name, PROTO_MAX_ID);
    a->hash = h;
    a->live = true;
    a->asked_ms = INT64_MIN;
    a->refused_until_ms = INT64_MIN;
    a->used = ++self->clock;
    return a;
}

static s_episode_t *
s_episode(healer_orch_t *self, const char *agent, const char *op, bool create)
{
    uint32_t h = s_hash2(agent, op), victim = UINT32_MAX;
    for (uint32_t i = 0; i < self->cfg.max_episodes; i++) {
        s_episode_t *e = &self->episodes[i];
        if (e->live && e->hash == h && strcmp(e->agent, agent) == 0 &&
            strcmp(e->op, op) == 0)
            return e;
        // Only an idle episode may be reused: one in flight owns a fix.
        if (!e->in_flight &&
            (victim == UINT32_MAX || !e->live ||
             (self->episodes[victim].live &&
              e->used < self->episodes[victim].used)))
            victim = i;
    }
    if (!create || victim == UINT32_MAX)
        return NULL;
    s_episode_t *e = &self->episodes[victim];
    memset(e, 0, sizeof *e);
    hb_str_copy(e->agent, agent, PROTO_MAX_ID);
    hb_str_copy(e->op, op, PROTO_MAX_NAME);
    e->hash = h;
    e->live = true;
    return e;
}

/* --------------------------------------------------------------- hello -- */

void
healer_orch_hello(healer_orch_t *self, const char *agent,
                  const proto_hello_t *hello)
{
    s_agent_t *a = s_agent(self, agent, true);
    a->hello_known = true;
    a->n_knobs = hello->n_knobs < PROTO_MAX_KNOBS ? hello->n_knobs
                                                  : PROTO_MAX_KNOBS;
    for (uint32_t i = 0; i < a->n_knobs; i++) {
        hb_str_copy(a->knobs[i].name, hello->knobs[i].name, PROTO_MAX_NAME);
        a->knobs[i].numeric = hello->knobs[i].type == PROTO_KNOB_INT ||
                              hello->knobs[i].type == PROTO_KNOB_DOUBLE;
    }
    a->n_actions = hello->n_actions < PROTO_MAX_ACTIONS ? hello->n_actions
                                                        : PROTO_MAX_ACTIONS;
    for (uint32_t i = 0; i < a->n_actions; i++)
        hb_str_copy(a->actions[i], hello->actions[i].name, PROTO_MAX_NAME);
}

//  Can the agent apply every step of `fix`? Unknown hello: assume yes and
//  let the agent refuse (it validates every fix anyway).
static bool
s_fits(const s_agent_t *a, const healer_fix_t *fix)
{
    if (!a->hello_known)
        return true;
    for (uint32_t s = 0; s < fix->n_steps; s++) {
        const healer_step_t *st = &fix->steps[s];
        bool found = false;
        if (st->op == PROTO_STEP_ACTION) {
            for (uint32_t i = 0; i < a->n_actions && !found; i++)
                found = strcmp(a->actions[i], st->target) == 0;
        } else {
            for (uint32_t i = 0; i < a->n_knobs && !found; i++)
                found = strcmp(a->knobs[i].name, st->target) == 0 &&
                        (st->op == PROTO_STEP_SET || a->knobs[i].numeric);
        }
        if (!found)
            return false;
    }
    return true;
}

static void
s_ask(healer_orch_t *self, s_agent_t *a, int64_t now)
{
    if (a->asked_ms != INT64_MIN && now - a->asked_ms < S_ASK_EVERY_MS)
        return;
    a->asked_ms = now;
    proto_msg_t msg;
    proto_msg_init(&msg, PROTO_KIND_ASK);
    msg.subject = a->name;
    msg.u.ask.target = a->name;
    self->env.publish(self->env.arg, &msg);
    self->counters[C_ASKS]++;
}

/* ---------------------------------------------------------- escalation -- */

static json_t *
s_escalation_json(const healer_orch_t *self, const s_episode_t *e,
                  const char *reason)
{
    json_t *tried = json_array();
    for (uint32_t i = 0; tried && i < e->n_tried; i++) {
        const s_tried_t *t = &e->tried[i];
        json_array_append_new(
            tried, json_pack("{s:s, s:s, s:s, s:o}", "fix_id", t->fix_id,
                             "fix", t->fix->name, "outcome",
                             t->no_result ? "no_result"
                                          : proto_msg_outcome_name(t->outcome),
                             "reason", node_json_str(t->reason)));
    }
    // Peers' strings may hold any bytes (and `reason` may be cut inside a
    // character): node_json_str keeps the escalation from being lost.
    return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o*}", "node",
                     self->node_id, "agent", node_json_str(e->agent), "op",
                     node_json_str(e->op), "error_class",
                     node_json_str(e->error_class), "template",
                     node_json_str(e->template_text), "text",
                     node_json_str(e->text), "reason", node_json_str(reason),
                     "tried", tried);
}

static char *
s_env_var(const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s=%s", name, value);
    return s;
}

//  fork + exec /bin/sh -c CMD, the escalation as JSON on its stdin. The
//  environment is built before fork: after fork only async-signal-safe
//  calls are allowed (the node has ZeroMQ threads).
static void
s_spawn(healer_orch_t *self, const s_episode_t *e, const char *reason)
{
    uint32_t slot = 0;
    while (slot < self->cfg.max_children && self->children[slot] != 0)
        slot++;
    if (slot == self->cfg.max_children) {
        self->counters[C_CMD_SKIPPED]++;
        hb_log_warn(self->env.log, "healer: on_escalate for %s/%s skipped: "
                    "%u commands still running", e->agent, e->op,
                    self->cfg.max_children);
        return;
    }
    size_t n_env = 0;
    while (environ && environ[n_env])
        n_env++;
    char **envp = calloc(n_env + 6, sizeof *envp);
    json_t *j = s_escalation_json(self, e, reason);
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    int fds[2] = {-1, -1};
    char *extra[5] = {
        s_env_var("HEALBUS_AGENT", e->agent), s_env_var("HEALBUS_OP", e->op),
        s_env_var("HEALBUS_ERROR_CLASS", e->error_class),
        s_env_var("HEALBUS_REASON", reason),
        s_env_var("HEALBUS_NODE", self->node_id)};
    bool ok = envp && body && pipe2(fds, O_CLOEXEC) == 0;
    for (int i = 0; i < 5; i++)
        ok = ok && extra[i];
    pid_t pid = -1;
    if (ok) {
        for (size_t i = 0; i < n_env; i++)
            envp[i] = environ[i];
        for (int i = 0; i < 5; i++)
            envp[n_env + (size_t)i] = extra[i];
        char *const argv[] = {"sh", "-c", self->on_escalate, NULL};
        pid = fork();
        if (pid == 0) {
            if (dup2(fds[0], 0) < 0)
                _exit(127);
            execve("/bin/sh", argv, envp);
            _exit(127);
        }
    }
    if (pid < 0) {
        self->counters[C_CMD_FAILED]++;
        hb_log_error(self->env.log, "healer: on_escalate for %s: %s",
                     e->agent, ok ? strerror(errno) : "out of memory");
    } else {
        self->children[slot] = pid;
        self->counters[C_CMD_RUN]++;
        // The JSON is far below the pipe's capacity (64 KiB), so one write
        // to the fresh pipe cannot block; the child reads it at its pace.
        size_t len = strlen(body);
        if (write(fds[1], body, len) != (ssize_t)len)
            hb_log_warn(self->env.log, "healer: on_escalate stdin: %s",
                        strerror(errno));
    }
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    for (int i = 0; i < 5; i++)
        free(extra[i]);
    free(envp);
    free(body);
}

static void
s_escalate(healer_orch_t *self, s_episode_t *e, const char *reason)
{
    proto_msg_t msg;
    proto_msg_init(&msg, PROTO_KIND_ESCALATION);
    msg.subject = e->agent;
    proto_escalation_t *esc = &msg.u.escalation;
    esc->agent = e->agent;
    esc->op = e->op;
    esc->error_class = e->error_class;
    esc->template_text = e->template_text;
    esc->reason = reason;
    for (uint32_t i = 0; i < e->n_tried; i++) {
        const s_tried_t *t = &e->tried[i];
        esc->history[i] = (proto_tried_t){t->fix_id, t->fix->name,
                                          t->outcome, t->reason};
    }
    esc->n_history = e->n_tried;
    self->env.publish(self->env.arg, &msg);
    self->counters[C_ESCALATIONS]++;
    e->in_flight = false;
    hb_log_warn(self->env.log, "healer: escalated %s/%s (%s): %s after %u "
                "fixes", e->agent, e->op, e->error_class, reason, e->n_tried);
    if (self->on_escalate)
        s_spawn(self, e, reason);
}

/* ---------------------------------------------------------------- fixes -- */

static void
s_publish_fix(healer_orch_t *self, s_episode_t *e)
{
    const s_tried_t *t = &e->tried[e->n_tried - 1];
    proto_msg_t msg;
    proto_msg_init(&msg, PROTO_KIND_FIX);
    msg.subject = e->agent;
    proto_fix_t *fix = &msg.u.fix;
    fix->fix_id = t->fix_id;
    fix->req_id = e->req_id;
    fix->op = e->op;
    fix->name = t->fix->name;
    fix->expires_us = e->expires_us;
    fix->test = true; // every fix is tested by the agent before it is kept
    for (uint32_t i = 0; i < t->fix->n_steps; i++)
        fix->steps[i] = (proto_step_t){t->fix->steps[i].op,
                                       t->fix->steps[i].target,
                                       t->fix->steps[i].value};
    fix->n_steps = t->fix->n_steps;
    hb_err_t rc = self->env.publish(self->env.arg, &msg);
    if (rc != HB_OK)
        hb_log_warn(self->env.log, "healer: fix %s to %s not sent: %s",
                    t->fix_id, e->agent, hb_err_str(rc));
}

//  Send the next untried candidate, or escalate when there is none or the
//  episode used up its tries.
static void
s_next(healer_orch_t *self, s_episode_t *e, int64_t now)
{
    uint32_t failed = e->n_tried;
    if (failed >= self->cfg.max_candidates || e->next >= e->n_cands ||
        e->n_tried == PROTO_MAX_HISTORY) {
        char reason[128];
        if (e->n_cands == 0)
            snprintf(reason, sizeof reason, "no candidate fix for %s",
                     e->error_class);
        else
            snprintf(reason, sizeof reason, "%u fixes tried, none worked",
                     failed);
        s_escalate(self, e, reason);
        return;
    }
    s_tried_t *t = &e->tried[e->n_tried++];
    memset(t, 0, sizeof *t);
    t->fix = e->cands[e->next++];
    snprintf(t->fix_id, sizeof t->fix_id, "%s-%llx-%llu", self->node_id,
             (unsigned long long)self->boot,
             (unsigned long long)++self->fix_seq);
    e->in_flight = true;
    e->resends = 0;
    e->expires_us = self->env.wall_us(self->env.arg) +
                    self->cfg.fix_ttl_ms * 1000;
    e->deadline_ms = now + (e->mode == PROTO_HEAL_ASYNC
                                ? self->cfg.fix_ttl_ms
                                : self->cfg.fix_timeout_ms);
    s_publish_fix(self, e);
    self->counters[C_FIXES_SENT]++;
}

static void
s_rank(healer_orch_t *self, s_episode_t *e, const s_agent_t *a)
{
    const healer_fix_t *all[HEALER_ORCH_MAX_CANDIDATES];
    uint32_t n = healer_catalog_candidates(self->catalog, e->error_class,
                                           e->text, e->template_text, all,
                                           HEALER_ORCH_MAX_CANDIDATES);
    const healer_fix_t *fit[HEALER_ORCH_MAX_CANDIDATES];
    const char *names[HEALER_ORCH_MAX_CANDIDATES];
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++)
        if (s_fits(a, all[i])) {
            fit[m] = all[i];
            names[m++] = all[i]->name;
        }
    uint32_t order[HEALER_ORCH_MAX_CANDIDATES];
    healer_learn_rank(self->learn, e->error_class, e->pattern, names, m,
                      order);
    for (uint32_t i = 0; i < m; i++)
        e->cands[i] = fit[order[i]];
    e->n_cands = m;
}

//  Intensity (OTP supervisor style): true when this agent may start one
//  more heal now; records it.
static bool
s_admit(healer_orch_t *self, s_agent_t *a, int64_t now)
{
    uint32_t ring = self->cfg.intensity;
    if (now < a->refused_until_ms)
        return false;
    // The ring holds the last `intensity` starts; the slot after the head
    // is the oldest. If it is inside the period, this start would be heal
    // number intensity+1 in the window.
    int64_t oldest = a->heals[(a->heal_head + 1) % ring];
    uint32_t used = 0;
    for (uint32_t i = 0; i < ring; i++)
        used += a->heals[i] != 0;
    if (used >= self->cfg.intensity && now - oldest < self->cfg.period_ms) {
        a->refused_until_ms = oldest + self->cfg.period_ms;
        return false;
    }
    a->heal_head = (a->heal_head + 1) % ring;
    a->heals[a->heal_head] = now ? now : 1;
    return true;
}

void
healer_orch_heal(healer_orch_t *self, const char *agent,
                 const proto_heal_t *heal, const char *pattern,
                 const char *template_text)
{
    int64_t now = self->env.now_ms(self->env.arg);
    s_agent_t *a = s_agent(self, agent, true);
    if (!a->hello_known)
        s_ask(self, a, now); // learn its knobs for the next time; go on
    s_episode_t *e = s_episode(self, agent, heal->op, false);
    if (e && !e->in_flight && heal->req_id && e->req_id == heal->req_id) {
        // A waiting agent repeats its request until a fix comes; this one
        // was answered already (healed, or escalated).
        self->counters[C_HEAL_REPEAT]++;
        return;
    }
    if (e && e->in_flight) {
        // Never two fixes in flight for one (agent, op): the one in flight
        // answers this request too.
        self->counters[C_HEAL_BUSY]++;
        return;
    }
    self->counters[C_HEALS]++;
    bool was_refusing = now < a->refused_until_ms;
    bool admitted = s_admit(self, a, now);
    if (!e)
        e = s_episode(self, agent, heal->op, true);
    if (!e) {
        self->counters[C_DROPPED]++;
        hb_log_warn(self->env.log, "healer: heal of %s/%s dropped: %u "
                    "episodes in flight", agent, heal->op,
                    self->cfg.max_episodes);
        return;
    }
    e->used = ++self->clock;
    e->req_id = heal->req_id;
    e->mode = heal->mode;
    hb_str_copy(e->error_class, heal->error_class, PROTO_MAX_CLASS);
    hb_str_copy(e->text, heal->text, S_TEXT_MAX);
    hb_str_copy(e->pattern, pattern, HEALER_LEARN_KEY_MAX);
    hb_str_copy(e->template_text, template_text, S_TEXT_MAX);
    e->n_tried = e->next = e->n_cands = 0;
    if (!admitted) {
        self->counters[C_REFUSED]++;
        if (!was_refusing) {
            char reason[128];
            snprintf(reason, sizeof reason,
                     "more than %u heals in %lld ms", self->cfg.intensity,
                     (long long)self->cfg.period_ms);
            s_escalate(self, e, reason);
        }
        return;
    }
    s_rank(self, e, a);
    s_next(self, e, now);
}

static const char *
s_outcome_word(const s_tried_t *t)
{
    return t->no_result ? "no_result" : proto_msg_outcome_name(t->outcome);
}

static void
s_report(healer_orch_t *self, const s_episode_t *e, const s_tried_t *t,
         bool success)
{
    if (!self->env.outcome)
        return;
    char text[256];
    healer_catalog_describe(t->fix, text, sizeof text);
    healer_orch_outcome_t o = {e->agent, e->op, e->error_class, e->pattern,
                               e->template_text, t->fix_id, t->fix->name,
                               text, s_outcome_word(t), t->reason, success,
                               e->n_tried, self->env.wall_us(self->env.arg)};
    self->env.outcome(self->env.arg, &o);
}

void
healer_orch_fixres(healer_orch_t *self, const char *agent,
                   const proto_fixres_t *res)
{
    s_episode_t *e = s_episode(self, agent, res->op, false);
    s_tried_t *t = e && e->in_flight ? &e->tried[e->n_tried - 1] : NULL;
    if (!t || strcmp(t->fix_id, res->fix_id) != 0) {
        self->counters[C_STALE]++; // late, resent twice, or not ours
        return;
    }
    if (res->outcome == PROTO_OUTCOME_DUPLICATE ||
        res->outcome >= PROTO_OUTCOME_COUNT) {
        // The agent has handled this fix id already: its first result is
        // on its way or was lost; the deadline decides.
        self->counters[C_DUPLICATES]++;
        return;
    }
    t->outcome = res->outcome;
    hb_str_copy(t->reason, res->reason, sizeof t->reason - 1);
    bool success = res->outcome == PROTO_OUTCOME_COMMITTED;
    healer_learn_record(self->learn, e->error_class, e->pattern,
                        t->fix->name, success);
    e->in_flight = false;
    s_report(self, e, t, success);
    if (success) {
        self->counters[C_COMMITTED]++;
        hb_log_info(self->env.log, "healer: healed %s/%s (%s) with %s "
                    "(fix %s, attempt %u)", e->agent, e->op, e->error_class,
                    t->fix->name, t->fix_id, e->n_tried);
        return;
    }
    self->counters[res->outcome == PROTO_OUTCOME_REJECTED ? C_REJECTED
                                                          : C_ROLLED_BACK]++;
    hb_log_info(self->env.log, "healer: fix %s (%s) for %s/%s %s: %s",
                t->fix_id, t->fix->name, e->agent, e->op,
                proto_msg_outcome_name(res->outcome), t->reason);
    s_next(self, e, self->env.now_ms(self->env.arg));
}

//  An overdue fix: resend the same fix id (the agent applies it at most
//  once), or give up on it and move on.
static void
s_overdue(healer_orch_t *self, s_episode_t *e, int64_t now)
{
    if (e->mode != PROTO_HEAL_ASYNC && e->resends < self->cfg.max_resends) {
        e->resends++;
        e->deadline_ms = now + self->cfg.fix_timeout_ms;
        s_publish_fix(self, e);
        self->counters[C_RESENDS]++;
        return;
    }
    s_tried_t *t = &e->tried[e->n_tried - 1];
    t->no_result = true;
    // The protocol has no "no result" outcome: escalations carry it as a
    // rejection whose reason says what happened.
    t->outcome = PROTO_OUTCOME_REJECTED;
    snprintf(t->reason, sizeof t->reason, "no result after %u sends",
             e->resends + 1);
    e->in_flight = false;
    self->counters[C_NO_RESULT]++;
    s_report(self, e, t, false);
    s_next(self, e, now);
}

void
healer_orch_tick(healer_orch_t *self, int64_t now_ms)
{
    for (uint32_t i = 0; i < self->cfg.max_episodes; i++) {
        s_episode_t *e = &self->episodes[i];
        if (e->live && e->in_flight && now_ms >= e->deadline_ms)
            s_overdue(self, e, now_ms);
    }
    healer_orch_reap(self, false);
}

uint32_t
healer_orch_reap(healer_orch_t *self, bool block)
{
    uint32_t running = 0;
    for (uint32_t i = 0; i < self->cfg.max_children; i++) {
        pid_t pid = self->children[i];
        if (pid == 0)
            continue;
        int st = 0;
        pid_t got = waitpid(pid, &st, block ? 0 : WNOHANG);
        if (got == 0) {
            running++;
            continue;
        }
        self->children[i] = 0;
        if (got < 0)
            hb_log_warn(self->env.log, "healer: on_escalate pid %d: %s",
                        (int)pid, strerror(errno));
        else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
            hb_log_info(self->env.log, "healer: on_escalate pid %d exited 0",
                        (int)pid);
        else {
            self->counters[C_CMD_FAILED]++;
            hb_log_warn(self->env.log, "healer: on_escalate pid %d %s %d",
                        (int)pid, WIFEXITED(st) ? "exited" : "killed by signal",
                        WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        }
    }
    return running;
}

uint32_t
healer_orch_in_flight(const healer_orch_t *self)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < self->cfg.max_episodes; i++)
        n += self->episodes[i].live && self->episodes[i].in_flight;
    return n;
}

uint32_t
healer_orch_counters(const healer_orch_t *self, proto_counter_t *out,
                     uint32_t cap)
{
    // The heartbeat has room for PROTO_MAX_COUNTERS in all (the runtime's
    // own included): the rare ones stay in the logs only.
    uint32_t n = 0;
    for (uint32_t i = 0; i < C_COUNT && n < cap; i++)
        if (i != C_ASKS && i != C_CMD_SKIPPED && i != C_DROPPED)
            out[n++] = (proto_counter_t){s_counter_names[i],
                                         self->counters[i]};
    return n;
}
