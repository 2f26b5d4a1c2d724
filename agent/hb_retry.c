/*  hb_retry.c - Phase 1 and the caller's side of Phase 3: run an operation
    with exponential backoff and full jitter under a deadline, report every
    failed attempt and the success, and when retries run out ask the bus
    for a fix and apply it safely (snapshot, apply, test, commit or roll
    back) on the caller's own thread. */

#include "hb_agent_int.h"
#include "hb_clock.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// While waiting for a fix, the heal request is repeated this often.
#define HB_RETRY_REASK_US (1000u * 1000u)

struct hb_fail {
    char error_class[PROTO_MAX_CLASS + 1];
    char text[PROTO_MAX_TEXT + 1];
};

struct hb_retry {
    hb_agent_t *agent;          // borrowed; may be NULL
    char op[PROTO_MAX_NAME + 1];
    int max_attempts;
    uint64_t base_us, cap_us;
    uint64_t deadline_us;       // 0 = none
    hb_heal_mode_t mode;
    uint64_t wait_us;
    hb_clock_fn *now;
    hb_sleep_fn *sleep;
    void *clock_arg;            // borrowed
    hb_rand_fn *rand;
    void *rand_arg;             // borrowed
    uint64_t rand_state;        // the default generator's
    uint64_t committed, rolled_back;
    agent_fix_undo_t undo;      // large: kept here, not on the stack
};

void
hb_fail_set(hb_fail_t *fail, const char *error_class, const char *fmt, ...)
{
    assert(fail);
    snprintf(fail->error_class, sizeof fail->error_class, "%s",
             error_class ? error_class : "Error");
    va_list args;
    va_start(args, fmt);
    vsnprintf(fail->text, sizeof fail->text, fmt ? fmt : "", args);
    va_end(args);
}

static uint64_t
s_default_now(void *arg)
{
    (void)arg;
    return (uint64_t)hb_clock_mono_us();
}

static void
s_default_sleep(void *arg, uint64_t us)
{
    (void)arg;
    struct timespec ts = {.tv_sec = (time_t)(us / 1000000),
                          .tv_nsec = (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0)
        ; // interrupted: sleep what remains
}

//  hb_agent_interrupt was called: the application is stopping.
static bool
s_interrupted(const hb_retry_t *self)
{
    return self->agent && agent_fix_interrupted(hb_agent_fixes(self->agent));
}

//  The backoff pause.  The default sleep is cut into slices so that an
//  interrupt (from a signal handler, say) ends it promptly; an injected
//  sleep is the test's business.
static void
s_pause(hb_retry_t *self, uint64_t us)
{
    if (self->sleep != s_default_sleep) {
        self->sleep(self->clock_arg, us);
        return;
    }
    const uint64_t slice_us = 50 * 1000;
    while (us > 0 && !s_interrupted(self)) {
        uint64_t step = us < slice_us ? us : slice_us;
        s_default_sleep(NULL, step);
        us -= step;
    }
}

//  xorshift64*: enough for jitter, and per policy so no global state.
static uint64_t
s_default_rand(void *arg)
{
    uint64_t *x = arg;
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 0x2545F4914F6CDD1DULL;
}

hb_retry_t *
hb_retry_new(hb_agent_t *agent, const char *operation)
{
    if (!agent_knobs_name_ok(operation))
        return NULL;
    hb_retry_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->agent = agent;
    snprintf(self->op, sizeof self->op, "%s", operation);
    self->max_attempts = 3;
    self->base_us = 100000;
    self->cap_us = 10000000;
    self->now = s_default_now;
    self->sleep = s_default_sleep;
    self->rand = s_default_rand;
    self->rand_state =
        ((uint64_t)hb_clock_mono_us() ^ (uint64_t)(uintptr_t)self) | 1;
    self->rand_arg = &self->rand_state;
    return self;
}

void
hb_retry_destroy(hb_retry_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

void
hb_retry_set_attempts(hb_retry_t *self, int max_attempts)
{
    assert(self);
    self->max_attempts = max_attempts > 0 ? max_attempts : 1;
}

void
hb_retry_set_backoff(hb_retry_t *self, uint64_t base_us, uint64_t cap_us)
{
    assert(self);
    self->base_us = base_us;
    self->cap_us = cap_us;
}

void
hb_retry_set_deadline(hb_retry_t *self, uint64_t deadline_us)
{
    assert(self);
    self->deadline_us = deadline_us;
}

void
hb_retry_set_heal(hb_retry_t *self, hb_heal_mode_t mode, uint64_t wait_us)
{
    assert(self);
    self->mode = mode;
    self->wait_us = wait_us;
}

void
hb_retry_set_clock(hb_retry_t *self, hb_clock_fn *now, hb_sleep_fn *sleep,
                   void *arg)
{
    assert(self);
    self->now = now ? now : s_default_now;
    self->sleep = sleep ? sleep : s_default_sleep;
    self->clock_arg = arg;
}

void
hb_retry_set_rand(hb_retry_t *self, hb_rand_fn *rand, void *arg)
{
    assert(self);
    self->rand = rand ? rand : s_default_rand;
    self->rand_arg = rand ? arg : &self->rand_state;
}

uint64_t
hb_retry_fixes_committed(const hb_retry_t *self)
{
    assert(self);
    return self->committed;
}

uint64_t
hb_retry_fixes_rolled_back(const hb_retry_t *self)
{
    assert(self);
    return self->rolled_back;
}

/*  The backoff before attempt k+1: uniform in [0, min(cap, base*2^(k-1))].
    Scaling the 64-bit draw (not taking a modulus) maps the generator's
    extremes onto the interval's ends. */
uint64_t
hb_retry_backoff(const hb_retry_t *self, int k, uint64_t draw)
{
    uint64_t bound = self->cap_us;
    unsigned shift = k > 1 ? (unsigned)(k - 1) : 0;
    if (shift < 63 && self->base_us <= (self->cap_us >> shift))
        bound = self->base_us << shift;
    if (bound == UINT64_MAX)
        return draw;
    return (uint64_t)(((unsigned __int128)draw * (bound + 1)) >> 64);
}

/* ----------------------------------------------------------- reporting -- */

static void
s_report_error(hb_retry_t *self, const hb_fail_t *fail, int attempt)
{
    if (!self->agent)
        return;
    agent_queue_msg_t m = {.kind = PROTO_KIND_ERROR,
                           .op = self->op,
                           .error_class = fail->error_class,
                           .text = fail->text,
                           .attempt = (uint32_t)attempt,
                           .max_attempts = (uint32_t)self->max_attempts};
    hb_agent_push(self->agent, &m, false);
}

static void
s_report_success(hb_retry_t *self, uint64_t duration_us)
{
    if (self->agent)
        hb_agent_success(self->agent, self->op, duration_us);
}

static void
s_report_fix(hb_retry_t *self, const proto_fix_t *fix,
             proto_outcome_t outcome, const char *reason, uint64_t test_us)
{
    agent_queue_msg_t m = {.kind = PROTO_KIND_FIXRES,
                           .fix_id = fix->fix_id,
                           .req_id = fix->req_id,
                           .op = self->op,
                           .outcome = outcome,
                           .text = reason,
                           .duration_us = test_us};
    hb_agent_push(self->agent, &m, true);
}

//  Run the operation once; its failure description goes to `fail`.
static bool
s_attempt(hb_retry_t *self, hb_op_fn *op, void *arg, hb_fail_t *fail,
          uint64_t *took_us)
{
    snprintf(fail->error_class, sizeof fail->error_class, "UnknownError");
    snprintf(fail->text, sizeof fail->text, "%s failed without a reason",
             self->op);
    uint64_t t0 = self->now(self->clock_arg);
    bool ok = op(arg, fail);
    *took_us = self->now(self->clock_arg) - t0;
    return ok;
}

/* --------------------------------------------------------------- fixes -- */

/*  Apply `msg` (taken), run the operation as its test, then commit or roll
    back and report.  Returns true when the operation succeeded. */
static bool
s_try_fix(hb_retry_t *self, proto_msg_t *msg, hb_op_fn *op, void *arg,
          int attempt, hb_fail_t *fail)
{
    const proto_fix_t *fix = &msg->u.fix;
    agent_fix_t *fixes = hb_agent_fixes(self->agent);
    int64_t now_us = hb_clock_wall_us();
    hb_err_t rc = fix->expires_us > 0 && fix->expires_us <= now_us
                      ? HB_EEXPIRED
                      : agent_fix_apply(fixes, fix, &self->undo);
    if (rc != HB_OK) {
        s_report_fix(self, fix, PROTO_OUTCOME_REJECTED, hb_err_str(rc), 0);
        return false;
    }
    uint64_t took_us;
    bool ok = s_attempt(self, op, arg, fail, &took_us);
    if (ok || !fix->test) {
        // An untested fix (test=false) is kept whatever the run says.
        self->committed++;
        s_report_fix(self, fix, PROTO_OUTCOME_COMMITTED, "", took_us);
    } else {
        agent_fix_rollback(fixes, &self->undo);
        self->rolled_back++;
        s_report_fix(self, fix, PROTO_OUTCOME_ROLLED_BACK, fail->text,
                     took_us);
    }
    if (ok)
        s_report_success(self, took_us);
    else
        s_report_error(self, fail, attempt);
    return ok;
}

/*  Retries are spent: ask for a fix and, in WAIT mode, try the fixes the
    healer sends until one works or the wait budget is gone.  The budget
    is real time (a condition-variable wait), clipped by the deadline. */
static hb_err_t
s_heal(hb_retry_t *self, hb_op_fn *op, void *arg, hb_fail_t *fail,
       uint64_t start, int attempts)
{
    if (!self->agent || self->mode == HB_HEAL_OFF)
        return HB_EFAILED;
    agent_fix_t *fixes = hb_agent_fixes(self->agent);
    // Counted before the request leaves: an escalation can come back fast.
    uint64_t escalations = agent_fix_escalations(fixes, self->op);
    agent_queue_msg_t m = {
        .kind = PROTO_KIND_HEAL,
        .req_id = hb_agent_next_req_id(self->agent),
        .op = self->op,
        .error_class = fail->error_class,
        .text = fail->text,
        .attempt = (uint32_t)attempts,
        .mode = self->mode == HB_HEAL_WAIT ? PROTO_HEAL_WAIT
                                           : PROTO_HEAL_ASYNC};
    hb_agent_push(self->agent, &m, true);
    if (self->mode != HB_HEAL_WAIT)
        return HB_EFAILED;
    uint64_t budget = self->wait_us;
    if (self->deadline_us) {
        uint64_t used = self->now(self->clock_arg) - start;
        if (used >= self->deadline_us)
            return HB_ETIMEOUT;
        if (self->deadline_us - used < budget)
            budget = self->deadline_us - used;
    }
    uint64_t until = (uint64_t)hb_clock_mono_us() + budget;
    //  No fix for a while: ask again with the same request id.  The first
    //  request can be lost (a healer that was not yet subscribed, a broker
    //  that died); the healer ignores a request id it has handled.
    uint64_t ask_again = (uint64_t)hb_clock_mono_us() + HB_RETRY_REASK_US;
    int k = attempts + 1;
    while (!s_interrupted(self)) {
        uint64_t now = (uint64_t)hb_clock_mono_us();
        if (now >= until)
            break;
        if (now >= ask_again) {
            hb_agent_push(self->agent, &m, true);
            ask_again = now + HB_RETRY_REASK_US;
        }
        uint64_t wait = until - now;
        if (ask_again - now < wait)
            wait = ask_again - now;
        bool gave_up = false;
        proto_msg_t *msg =
            agent_fix_wait(fixes, self->op, wait, escalations, &gave_up);
        if (gave_up)
            break; // the healer escalated: no fix is coming
        if (!msg)
            continue;
        bool ok = s_try_fix(self, msg, op, arg, k++, fail);
        agent_fix_free(&msg);
        if (ok)
            return HB_OK;
        // The healer sends its next candidate by itself.
        ask_again = (uint64_t)hb_clock_mono_us() + HB_RETRY_REASK_US;
    }
    if (s_interrupted(self))
        return HB_ECLOSED;
    if (self->deadline_us &&
        self->now(self->clock_arg) - start >= self->deadline_us)
        return HB_ETIMEOUT;
    return HB_EFAILED;
}

hb_err_t
hb_retry_run(hb_retry_t *self, hb_op_fn *op, void *arg)
{
    assert(self && op);
    hb_fail_t fail;
    uint64_t start = self->now(self->clock_arg), took_us;
    int attempt = 0;
    // A fix that arrived since the last call (async healing) is this
    // call's first attempt.
    proto_msg_t *msg =
        self->agent ? agent_fix_take(hb_agent_fixes(self->agent), self->op, 0)
                    : NULL;
    if (msg) {
        attempt = 1;
        bool ok = s_try_fix(self, msg, op, arg, attempt, &fail);
        agent_fix_free(&msg);
        if (ok)
            return HB_OK;
    }
    while (attempt < self->max_attempts) {
        if (attempt > 0) {
            uint64_t pause = hb_retry_backoff(self, attempt,
                                              self->rand(self->rand_arg));
            uint64_t used = self->now(self->clock_arg) - start;
            // A pause that ends past the deadline cannot lead to a useful
            // attempt: give up now rather than sleep for nothing.
            if (self->deadline_us && used + pause >= self->deadline_us)
                return HB_ETIMEOUT;
            if (pause)
                s_pause(self, pause);
        }
        if (s_interrupted(self))
            return HB_ECLOSED;
        if (self->deadline_us &&
            self->now(self->clock_arg) - start >= self->deadline_us)
            return HB_ETIMEOUT;
        attempt++;
        if (s_attempt(self, op, arg, &fail, &took_us)) {
            s_report_success(self, took_us);
            return HB_OK;
        }
        s_report_error(self, &fail, attempt);
    }
    return s_heal(self, op, arg, &fail, start, attempt);
}
