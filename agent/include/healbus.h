/*  healbus.h - the public API of libhealbus, the thin agent library.

    A service ("agent") links libhealbus, creates one hb_agent_t, and reports
    errors, successes and metrics on the healbus bus with one call each.  It
    declares knobs (typed, bounded settings) and actions (named callbacks) so
    that healer nodes can send it fixes, and wraps fallible operations in an
    hb_retry_t, which retries with backoff, asks the bus for a fix when the
    retries run out, and applies fixes safely (snapshot, apply, test, commit
    or roll back).

    This header has no dependencies beyond the C standard library: no zmq,
    czmq or msgpack type appears here.  Build with
        cc app.c $(pkg-config --cflags --libs healbus)

    Threads: every hb_agent_* call is safe from any thread unless its comment
    says otherwise.  Publishing never blocks: reports are copied into a
    bounded queue that the agent's own thread drains; when the queue or the
    socket is full the report is dropped and counted (hb_agent_drops).  */

#ifndef HEALBUS_H
#define HEALBUS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HB_VERSION_MAJOR 0
#define HB_VERSION_MINOR 1
#define HB_VERSION_PATCH 0

#if defined(__GNUC__)
#define HB_EXPORT __attribute__((visibility("default")))
#define HB_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define HB_EXPORT
#define HB_PRINTF(fmt, args)
#endif

/*  Error codes.  HB_OK is zero; every other code is distinct and stable, so
    tests and callers can assert the exact reason.  hb_err_str() names it. */
typedef enum {
    HB_OK = 0,
    HB_EINVAL,    // a caller's argument is invalid (NULL, empty, bad name)
    HB_ENOMEM,    // out of memory
    HB_EIO,       // a system call or socket failed
    HB_EFULL,     // a bounded queue or table is full: dropped and counted
    HB_ETIMEOUT,  // a deadline passed
    HB_ECLOSED,   // the agent or node is shutting down
    HB_ETRUNC,    // decoder: input ends before the value it announced
    HB_ETYPE,     // decoder: a field has the wrong msgpack type
    HB_ETOOBIG,   // decoder: a string, count or frame is over its cap
    HB_EDEPTH,    // decoder: nesting deeper than allowed
    HB_EMISSING,  // decoder: a required field is absent
    HB_ETRAILING, // decoder: bytes follow the body
    HB_EVERSION,  // decoder: unsupported protocol version
    HB_EDUPKEY,   // decoder: a map repeats a key
    HB_EKIND,     // decoder: unknown message kind in the topic
    HB_ETOPIC,    // decoder: malformed topic frame
    HB_EVALUE,    // decoder: a field's value is out of its allowed range
    HB_ENOTFOUND, // fix: names a knob or action this agent did not declare
    HB_ERANGE,    // fix: a value outside the declared bounds
    HB_EEXPIRED,  // fix: arrived after its expiry time
    HB_EALREADY,  // fix: this fix id was applied already
    HB_ENOTMINE,  // fix: addressed to another agent
    HB_EFAILED,   // an operation failed (retries and healing exhausted)
    HB_ESYNTAX,   // a config or data file is malformed
    HB_EEXISTS,   // a knob or action with this name is already declared
    HB_ENOEFFECT, // fix: would change nothing (knob already at its bound)
    HB_ERR_COUNT
} hb_err_t;

/*  Static, human-readable text for an error code (never NULL). */
HB_EXPORT const char *hb_err_str(hb_err_t err);

/*  Library version as MAJOR*10000 + MINOR*100 + PATCH; compare with the
    HB_VERSION_* macros to catch a header/library mismatch. */
HB_EXPORT int hb_version(void);

/* ---------------------------------------------------------------- agent -- */

typedef struct hb_agent hb_agent_t;

/*  Log levels passed to a logger callback. */
typedef enum {
    HB_LOG_DEBUG = 0,
    HB_LOG_INFO,
    HB_LOG_WARN,
    HB_LOG_ERROR
} hb_log_level_t;

/*  A logger callback: receives one formatted line without newline.  Called
    from the agent's own thread and from callers' threads; must be
    thread-safe and must not call back into the agent. */
typedef void(hb_log_fn)(void *arg, hb_log_level_t level, const char *line);

/*  Create an agent called `name` (1-64 bytes of [A-Za-z0-9_.-]) publishing
    to `endpoints`: a comma-separated list of broker "front" endpoints that
    publishers connect to (e.g. "tcp://127.0.0.1:7701"); the matching
    subscriber endpoint of each broker is the port plus one.  NULL means
    $HEALBUS_BROKER, then "tcp://127.0.0.1:7701".  Starts the agent's thread
    and announces the agent (hello).  Returns NULL on failure and, if `why`
    is not NULL, the reason.  Caller destroys.  Any thread. */
HB_EXPORT hb_agent_t *hb_agent_new(const char *name, const char *endpoints,
                                   hb_err_t *why);

/*  Stop the agent's thread, flush what can be sent within a short linger,
    free everything and set *self_p to NULL.  NULL-safe.  Must not race with
    other calls on the same agent. */
HB_EXPORT void hb_agent_destroy(hb_agent_t **self_p);

/*  The application is stopping: every hb_retry_run of this agent that is
    waiting for a fix or pausing between attempts returns HB_ECLOSED within
    about 50 ms, and later runs return HB_ECLOSED before their next attempt.
    Async-signal-safe (one atomic store): call it from a SIGINT/SIGTERM
    handler.  Publishing keeps working until hb_agent_destroy. */
HB_EXPORT void hb_agent_interrupt(hb_agent_t *self);

/*  Give the agent a logger (the library is silent until then). */
HB_EXPORT void hb_agent_set_logger(hb_agent_t *self, hb_log_fn *fn,
                                   void *arg);

/*  The agent's name (borrowed, valid until destroy). */
HB_EXPORT const char *hb_agent_name(const hb_agent_t *self);

/*  Report that attempt `attempt` of `operation` failed with `error_class`
    (e.g. "TimeoutError") and a printf-formatted text (cut at 2048 bytes).
    Never blocks.  Returns HB_EFULL when the report was dropped (and
    counted), HB_EINVAL when it cannot be encoded (an empty or overlong
    operation or class, a NUL byte): such a report takes no sequence
    number.  The same holds for hb_agent_success and hb_agent_metric. */
HB_EXPORT hb_err_t hb_agent_error(hb_agent_t *self, const char *operation,
                                  const char *error_class, int attempt,
                                  const char *fmt, ...) HB_PRINTF(5, 6);
HB_EXPORT hb_err_t hb_agent_verror(hb_agent_t *self, const char *operation,
                                   const char *error_class, int attempt,
                                   const char *fmt, va_list args);

/*  Report that `operation` succeeded after `duration_us` microseconds; the
    message also carries the knob values in force.  Never blocks. */
HB_EXPORT hb_err_t hb_agent_success(hb_agent_t *self, const char *operation,
                                    uint64_t duration_us);

/*  Report a metric sample (e.g. "queue_depth", 17).  Never blocks. */
HB_EXPORT hb_err_t hb_agent_metric(hb_agent_t *self, const char *name,
                                   double value);

/*  Declare the memory limit the agent runs under (bytes), announced in its
    hello and used by predictors to foresee exhaustion.  0 means unknown. */
HB_EXPORT void hb_agent_set_memory_limit(hb_agent_t *self, uint64_t bytes);

/*  Counters: reports handed to the broker sockets, and reports dropped
    because the queue was full (never numbered) or no broker socket would
    take them without waiting (numbered: subscribers see a gap).  Every
    accepted report ends up in exactly one of the two. */
HB_EXPORT uint64_t hb_agent_sent(const hb_agent_t *self);
HB_EXPORT uint64_t hb_agent_drops(const hb_agent_t *self);

/*  Wait up to `timeout_ms` until every report accepted before the call has
    been sent or dropped by the agent's thread.  Returns HB_OK, or
    HB_ETIMEOUT.  This one call blocks, on purpose: for shutdown paths and
    tests.  Any thread. */
HB_EXPORT hb_err_t hb_agent_flush(hb_agent_t *self, int timeout_ms);

/*  Heartbeat period (`hb.<name>`: sent, drops, RSS, CPU, uptime); default
    3000 ms.  Any thread; takes effect after the next heartbeat. */
HB_EXPORT void hb_agent_set_heartbeat(hb_agent_t *self, uint32_t interval_ms);

/* ----------------------------------------------------------------- knobs -- */

/*  A knob is a typed, bounded setting that fixes may change.  Declaring
    returns a handle borrowed from the agent (valid until destroy); reading
    through it is a lock-free atomic load, cheap from any thread. */
typedef struct hb_knob hb_knob_t;

HB_EXPORT hb_knob_t *hb_knob_int(hb_agent_t *self, const char *name,
                                 int64_t value, int64_t min, int64_t max,
                                 hb_err_t *why);
HB_EXPORT hb_knob_t *hb_knob_double(hb_agent_t *self, const char *name,
                                    double value, double min, double max,
                                    hb_err_t *why);
HB_EXPORT hb_knob_t *hb_knob_bool(hb_agent_t *self, const char *name,
                                  bool value, hb_err_t *why);
/*  `choices` is a NULL-terminated list (copied); `value` must be one. */
HB_EXPORT hb_knob_t *hb_knob_enum(hb_agent_t *self, const char *name,
                                  const char *value,
                                  const char *const *choices, hb_err_t *why);

HB_EXPORT int64_t hb_knob_get_int(const hb_knob_t *knob);
HB_EXPORT double hb_knob_get_double(const hb_knob_t *knob);
HB_EXPORT bool hb_knob_get_bool(const hb_knob_t *knob);
/*  Index of the current choice of an enum knob, and its name (static for
    the agent's life). */
HB_EXPORT int hb_knob_get_enum(const hb_knob_t *knob);
HB_EXPORT const char *hb_knob_get_enum_name(const hb_knob_t *knob);

/*  Set a knob from the application (bounds are checked: HB_ERANGE). */
HB_EXPORT hb_err_t hb_knob_set_int(hb_knob_t *knob, int64_t value);
HB_EXPORT hb_err_t hb_knob_set_double(hb_knob_t *knob, double value);

/* --------------------------------------------------------------- actions -- */

/*  The type of the single argument an action declares. */
typedef enum {
    HB_ARG_NONE = 0,
    HB_ARG_INT,
    HB_ARG_DOUBLE,
    HB_ARG_STRING
} hb_arg_type_t;

/*  An action callback.  `arg` is the fix's argument as text (NULL for
    HB_ARG_NONE; already validated against the declared type).  Return HB_OK
    when the action took effect.  Actions run on the thread that calls
    hb_retry_run for the healed operation, never concurrently with it. */
typedef hb_err_t(hb_action_fn)(void *user, const char *arg);

/*  Declare an action `name`.  `undo` (may be NULL) reverses `apply` when a
    fix fails its test; knobs are restored automatically either way.  `user`
    is passed back and never freed by the library. */
HB_EXPORT hb_err_t hb_agent_action(hb_agent_t *self, const char *name,
                                   hb_arg_type_t arg_type, hb_action_fn *apply,
                                   hb_action_fn *undo, void *user);

/*  Re-announce knobs and actions now (the agent also does it at start, when
    a node asks, and after every change of declarations). */
HB_EXPORT void hb_agent_announce(hb_agent_t *self);

/* ----------------------------------------------------------------- retry -- */

/*  A failure description filled in by an operation that fails. */
typedef struct hb_fail hb_fail_t;

/*  Describe the failure: error class (e.g. "MemoryError") and text. */
HB_EXPORT void hb_fail_set(hb_fail_t *fail, const char *error_class,
                           const char *fmt, ...) HB_PRINTF(3, 4);

/*  An operation: return true on success; on failure call hb_fail_set and
    return false. */
typedef bool(hb_op_fn)(void *arg, hb_fail_t *fail);

/*  How hb_retry_run treats a failure that survives all retries. */
typedef enum {
    HB_HEAL_OFF = 0, // no heal request; just fail
    HB_HEAL_WAIT,    // publish a heal request and wait (bounded) for a fix,
                     // repeating the request each second; an escalation
                     // of the operation ends the wait at once
    HB_HEAL_ASYNC    // publish a heal request, fail now, apply the fix on a
                     // later call
} hb_heal_mode_t;

/*  Injectable time and randomness, for deterministic tests. */
typedef uint64_t(hb_clock_fn)(void *arg);       // monotonic microseconds
typedef void(hb_sleep_fn)(void *arg, uint64_t us);
typedef uint64_t(hb_rand_fn)(void *arg);        // uniform 64-bit value

/*  A retry policy for one named operation of an agent.  One thread at a
    time may use an hb_retry_t (give each thread its own).  Defaults: 3
    attempts, base 100 ms, cap 10 s, no deadline, HB_HEAL_OFF.
    `agent` may be NULL (pure retry, nothing published).  Caller destroys. */
typedef struct hb_retry hb_retry_t;

HB_EXPORT hb_retry_t *hb_retry_new(hb_agent_t *agent, const char *operation);
HB_EXPORT void hb_retry_destroy(hb_retry_t **self_p);
HB_EXPORT void hb_retry_set_attempts(hb_retry_t *self, int max_attempts);
/*  Exponential backoff with full jitter: before attempt k+1 the retry sleeps
    a uniform random time in [0, min(cap, base * 2^(k-1))]. */
HB_EXPORT void hb_retry_set_backoff(hb_retry_t *self, uint64_t base_us,
                                    uint64_t cap_us);
/*  Overall deadline for one hb_retry_run, retries and waiting included
    (0 = none). */
HB_EXPORT void hb_retry_set_deadline(hb_retry_t *self, uint64_t deadline_us);
HB_EXPORT void hb_retry_set_heal(hb_retry_t *self, hb_heal_mode_t mode,
                                 uint64_t wait_us);
HB_EXPORT void hb_retry_set_clock(hb_retry_t *self, hb_clock_fn *now,
                                  hb_sleep_fn *sleep, void *arg);
HB_EXPORT void hb_retry_set_rand(hb_retry_t *self, hb_rand_fn *rand,
                                 void *arg);

/*  Run `op(arg)` under the policy: publish an error per failed attempt
    ("attempt k of n") and a success with its duration.  When a fix is
    pending for this operation it is applied first (snapshot knobs, apply,
    run op as the test, commit or roll back, publish the fix result).
    Returns HB_OK on success, HB_ETIMEOUT when the deadline passed,
    HB_EFAILED when every attempt (and healing) failed, HB_ECLOSED after
    hb_agent_interrupt. */
HB_EXPORT hb_err_t hb_retry_run(hb_retry_t *self, hb_op_fn *op, void *arg);

/*  Counters of this policy: fixes applied and committed, rolled back. */
HB_EXPORT uint64_t hb_retry_fixes_committed(const hb_retry_t *self);
HB_EXPORT uint64_t hb_retry_fixes_rolled_back(const hb_retry_t *self);

#ifdef __cplusplus
}
#endif

#endif
