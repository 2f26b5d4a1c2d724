/*  cli_tap.c - `healbus tap`: decode and show bus traffic live (see
    cli_tap.h).  Options become a s_opts_t, the run state a s_tap_t; every
    message is printed through one emitter (s_out_t) that writes either
    key=value text or JSON, by a per-kind table of body printers, so text
    and JSON can never disagree about a field. */

#include "cli_tap.h"

#include "cli_json.h"
#include "cli_seqtrack.h"
#include "hb_clock.h"
#include "hb_endpoint.h"
#include "hb_log.h"
#include "proto_codec.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define CLI_TAP_MAX_TOPICS 32
#define CLI_TAP_SENDERS 4096  // sender table cap; oldest forgotten
#define CLI_TAP_RCVHWM 10000  // messages queued before libzmq drops
#define CLI_TAP_BURST 512     // messages handled between clock checks
#define CLI_TAP_BAD_PER_SEC 5 // undecodable reports shown per second
#define CLI_TAP_BAD_SHOW 64   // topic bytes shown in such a report
#define CLI_TAP_MAX_TIMEOUT_S 31536000.0

static const char s_usage[] =
    "usage: healbus tap [--broker EP[,EP]] [--topic PREFIX]... [--json]\n"
    "                   [--count N] [--timeout SEC] [--stats] [--verbose]\n"
    "\n"
    "Show the messages on the healbus bus as they pass, one line each.\n"
    "\n"
    "  -b, --broker EP[,EP]  brokers' front endpoints (the tap connects to\n"
    "                        each one's back endpoint, port + 1); default\n"
    "                        $HEALBUS_BROKER, then " HB_ENDPOINT_DEFAULT "\n"
    "  -t, --topic PREFIX    only topics starting with PREFIX (err., fix.,\n"
    "                        metric.loader-1, ...); repeatable; default all\n"
    "  -j, --json            one JSON object per line, every field\n"
    "  -n, --count N         exit after N messages\n"
    "  -T, --timeout SEC     exit after SEC seconds (decimals allowed)\n"
    "  -s, --stats           print per-kind message rates each second\n"
    "                        instead of the messages\n"
    "  -v, --verbose         debug logs on stderr (duplicates, connects)\n"
    "  -h, --help            this text\n"
    "\n"
    "Lost messages (a jump in a sender's sequence numbers; only without\n"
    "--topic, since a filter hides numbers) and messages that cannot be\n"
    "decoded are reported in the stream: as 'gap: ...' and\n"
    "'bad: ...' lines, or with --json as objects with an \"event\" key\n"
    "(\"gap\", \"restart\", \"undecodable\") instead of \"kind\".  With\n"
    "several brokers, each message is shown once (sender + sequence).\n"
    "\n"
    "Exit status: 0 after --count messages, on SIGINT/SIGTERM, or when\n"
    "--timeout passes without --count; 3 when --timeout passes before\n"
    "--count messages arrived; 2 usage error; 1 runtime error.\n";

typedef struct {
    const char *broker_spec; // borrowed from argv; NULL: env
    hb_endpoint_list_t brokers;
    const char *topics[CLI_TAP_MAX_TOPICS]; // borrowed from argv
    size_t n_topics;
    bool json;
    bool stats;
    bool verbose;
    bool gaps;        // report gaps: only when every topic is seen
    uint64_t count;   // 0: no limit
    double timeout_s; // 0: no limit
} s_opts_t;

/*  The emitter: fields of one line, as ` key=value` or `,"key":value`.
    first[d] tells whether nesting level d has had a field yet. */
typedef struct {
    FILE *f;
    bool json;
    int depth;
    bool first[PROTO_MAX_DEPTH + 2];
} s_out_t;

typedef struct {
    s_opts_t opts;
    FILE *out;               // borrowed: stdout
    hb_log_t *log;           // owned
    cli_seqtrack_t *senders; // owned
    void *ctx;               // owned: zmq context
    void *sub;               // owned: SUB socket
    int sigfd;               // owned: SIGINT/SIGTERM
    sigset_t old_mask;
    uint64_t shown; // messages printed (or counted, --stats)
    uint64_t total[PROTO_KIND_COUNT];
    uint64_t tick[PROTO_KIND_COUNT]; // since the last --stats line
    int64_t tick_start_ms;
    uint64_t lost, gaps, dups, restarts;
    uint64_t bad;        // undecodable, all causes
    uint64_t bad_frames; // of which: not two frames
    proto_codec_rejects_t rejects;
    int64_t bad_window_ms; // start of the current rate-limit second
    unsigned bad_in_window;
    uint64_t bad_suppressed; // not shown since the last report
} s_tap_t;

/* ------------------------------------------------------------ options -- */

static int
s_usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "healbus tap: %s%s%s\n", what, arg ? ": " : "",
            arg ? arg : "");
    fprintf(stderr, "Try 'healbus tap --help'.\n");
    return CLI_TAP_EXIT_USAGE;
}

static bool
s_parse_count(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9') // strtoull would accept "-1" and " 1"
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v == 0)
        return false;
    *out = v;
    return true;
}

static bool
s_parse_seconds(const char *s, double *out)
{
    if (!s || !*s)
        return false;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v <= 0 || v > CLI_TAP_MAX_TIMEOUT_S)
        return false;
    *out = v;
    return true;
}

/*  Match argv[*i] against a long option (and its short form) that takes
    a value, given as "--opt V", "--opt=V" or "-o V".  *value is NULL
    when the value is missing. */
static bool
s_opt(char **argv, int argc, int *i, const char *lng, const char *shrt,
      const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(lng);
    if (strncmp(a, lng, n) == 0 && a[n] == '=') {
        *value = a + n + 1;
        return true;
    }
    if (strcmp(a, lng) != 0 && strcmp(a, shrt) != 0)
        return false;
    *value = *i + 1 < argc ? argv[++*i] : NULL;
    return true;
}

static bool
s_flag(const char *a, const char *lng, const char *shrt)
{
    return strcmp(a, lng) == 0 || strcmp(a, shrt) == 0;
}

/*  Returns -1 to go on, or an exit code (help, usage error). */
static int
s_parse_value(s_opts_t *o, const char *name, const char *v)
{
    if (!v)
        return s_usage_error("missing value for", name);
    if (strcmp(name, "--broker") == 0)
        o->broker_spec = v;
    else if (strcmp(name, "--topic") == 0) {
        if (o->n_topics == CLI_TAP_MAX_TOPICS)
            return s_usage_error("too many --topic (at most 32)", v);
        if (strlen(v) > PROTO_MAX_TOPIC)
            return s_usage_error("--topic longer than 160 bytes", v);
        o->topics[o->n_topics++] = v;
    } else if (strcmp(name, "--count") == 0) {
        if (!s_parse_count(v, &o->count))
            return s_usage_error("--count wants a positive integer", v);
    } else if (!s_parse_seconds(v, &o->timeout_s))
        return s_usage_error("--timeout wants seconds > 0", v);
    return -1;
}

static int
s_parse_args(s_opts_t *o, int argc, char **argv)
{
    static const struct {
        const char *lng, *shrt;
    } valued[] = {{"--broker", "-b"},
                  {"--topic", "-t"},
                  {"--count", "-n"},
                  {"--timeout", "-T"}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int rc = -1;
        bool matched = false;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
            if (s_opt(argv, argc, &i, valued[k].lng, valued[k].shrt, &v)) {
                rc = s_parse_value(o, valued[k].lng, v);
                matched = true;
                break;
            }
        if (matched) {
            if (rc >= 0)
                return rc;
        } else if (s_flag(a, "--help", "-h")) {
            fputs(s_usage, stdout);
            return CLI_TAP_EXIT_OK;
        } else if (s_flag(a, "--json", "-j"))
            o->json = true;
        else if (s_flag(a, "--stats", "-s"))
            o->stats = true;
        else if (s_flag(a, "--verbose", "-v"))
            o->verbose = true;
        else
            return s_usage_error("unknown option", a);
    }
    // A sender numbers all its messages; behind a topic filter the
    // numbers of the hidden ones would look lost.
    o->gaps = o->n_topics == 0;
    for (size_t i = 0; i < o->n_topics; i++)
        o->gaps = o->gaps || o->topics[i][0] == '\0';
    char why[512];
    if (hb_endpoint_parse(o->broker_spec, &o->brokers, why, sizeof why) !=
        HB_OK)
        return s_usage_error(why, NULL);
    return -1;
}

/* ------------------------------------------------------------ emitter -- */

static void
s_sep(s_out_t *o)
{
    if (!o->first[o->depth])
        fputc(o->json ? ',' : ' ', o->f);
    o->first[o->depth] = false;
}

static void
s_key(s_out_t *o, const char *key)
{
    s_sep(o);
    fprintf(o->f, o->json ? "\"%s\":" : "%s=", key);
}

static void s_text_strn(FILE *f, const char *s, size_t len);

/*  A key that came off the wire (knob or counter name): escaped. */
static void
s_dkey(s_out_t *o, const char *key)
{
    s_sep(o);
    if (o->json) {
        cli_json_str(o->f, key ? key : "");
        fputc(':', o->f);
    } else {
        s_text_strn(o->f, key ? key : "", key ? strlen(key) : 0);
        fputc('=', o->f);
    }
}

/*  Open an array '[' or object '{', as the value of `key` (NULL: an
    array item). */
static void
s_open(s_out_t *o, const char *key, char brace)
{
    if (key)
        s_key(o, key);
    else
        s_sep(o);
    fputc(brace, o->f);
    o->first[++o->depth] = true;
}

static void
s_close(s_out_t *o, char brace)
{
    fputc(brace, o->f);
    o->depth--;
}

/*  Text mode: show the bytes so that no terminal control sequence gets
    through and the line stays one line; quote when needed. */
static void
s_text_strn(FILE *f, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    bool quote = len == 0;
    for (size_t i = 0; i < len && !quote; i++)
        quote = p[i] <= ' ' || p[i] == '"' || p[i] == '\\' || p[i] >= 0x7F;
    if (quote)
        fputc('"', f);
    for (size_t i = 0; i < len;) {
        size_t n = cli_json_utf8_len(p + i, len - i);
        bool c1 = n == 2 && p[i] == 0xC2 && p[i + 1] < 0xA0;
        if (n == 1 && p[i] >= ' ' && p[i] != 0x7F) {
            if (p[i] == '"' || p[i] == '\\')
                fputc('\\', f);
            fputc(p[i], f);
        } else if (n == 1 && (p[i] == '\n' || p[i] == '\t'))
            fputs(p[i] == '\n' ? "\\n" : "\\t", f);
        else if (n > 1 && !c1)
            fwrite(p + i, 1, n, f);
        else if (c1)
            fprintf(f, "\\u%04x", p[i + 1]);
        else
            fprintf(f, "\\x%02x", p[i]);
        i += n ? n : 1;
    }
    if (quote)
        fputc('"', f);
}

static void
s_vstr(s_out_t *o, const char *v)
{
    if (o->json)
        cli_json_str(o->f, v);
    else
        s_text_strn(o->f, v ? v : "", v ? strlen(v) : 0);
}

static void
s_str(s_out_t *o, const char *key, const char *v)
{
    // A readable line leaves out empty strings (a committed fix has no
    // reason); JSON keeps every key so scripts see a fixed shape.
    if (!o->json && (!v || !*v))
        return;
    s_key(o, key);
    s_vstr(o, v);
}

static void
s_u64(s_out_t *o, const char *key, uint64_t v)
{
    s_key(o, key);
    fprintf(o->f, "%" PRIu64, v);
}

static void
s_i64(s_out_t *o, const char *key, int64_t v)
{
    s_key(o, key);
    fprintf(o->f, "%" PRId64, v);
}

static void
s_dbl(s_out_t *o, const char *key, double v)
{
    s_key(o, key);
    if (o->json)
        cli_json_double(o->f, v);
    else
        fprintf(o->f, "%g", v);
}

static void
s_bool(s_out_t *o, const char *key, bool v)
{
    s_key(o, key);
    fputs(v ? "true" : "false", o->f);
}

/*  A dynamically typed value, as its JSON or text form (no key). */
static void
s_vvalue(s_out_t *o, const proto_value_t *v)
{
    switch (v->type) {
    case PROTO_VAL_INT:
        fprintf(o->f, "%" PRId64, v->u.i);
        break;
    case PROTO_VAL_DOUBLE:
        if (o->json)
            cli_json_double(o->f, v->u.d);
        else
            fprintf(o->f, "%g", v->u.d);
        break;
    case PROTO_VAL_BOOL:
        fputs(v->u.b ? "true" : "false", o->f);
        break;
    case PROTO_VAL_STR:
        s_vstr(o, v->u.s);
        break;
    default:
        fputs(o->json ? "null" : "-", o->f);
        break;
    }
}

static void
s_value(s_out_t *o, const char *key, const proto_value_t *v)
{
    s_key(o, key);
    s_vvalue(o, v);
}

static const char *
s_name(const char *const *names, size_t n, unsigned v)
{
    return v < n && names[v] ? names[v] : "?";
}
#define S_NAME(table, v) s_name((table), sizeof(table) / sizeof(*(table)), (v))

/*  The proto_msg_*_name functions return NULL out of range; the decoder
    checks ranges, but a wrong value must still not crash the tap. */
static const char *
s_nz(const char *name)
{
    return name ? name : "?";
}

static const char *
s_level(proto_level_t level)
{
    return s_nz(proto_msg_level_name(level));
}

static const char *
s_outcome(proto_outcome_t outcome)
{
    return s_nz(proto_msg_outcome_name(outcome));
}

/* ------------------------------------------------------ body printers -- */

// How a step reads in text mode: "timeout_ms*=2".
static const char *const s_step_signs[] = {"=", "*=", "/=", "+=", ""};

/*  Text: "attempt=2/5"-style pairs; JSON: two fields. */
static void
s_pair_u32(s_out_t *o, const char *key, uint32_t a, const char *key2,
           uint32_t b)
{
    if (o->json) {
        s_u64(o, key, a);
        s_u64(o, key2, b);
    } else {
        s_key(o, key);
        fprintf(o->f, "%" PRIu32 "/%" PRIu32, a, b);
    }
}

/*  Durations: microseconds in JSON, a readable unit in text. */
static void
s_dur_us(s_out_t *o, const char *json_key, const char *text_key, uint64_t us)
{
    if (o->json)
        s_u64(o, json_key, us);
    else if (us < 1000)
        fprintf(o->f, " %s=%" PRIu64 "us", text_key, us);
    else if (us < 1000000)
        fprintf(o->f, " %s=%.3fms", text_key, (double)us / 1e3);
    else
        fprintf(o->f, " %s=%.3fs", text_key, (double)us / 1e6);
}

static void
s_knob(s_out_t *o, const proto_knob_t *k)
{
    if (!o->json) { // "batch_size:100" in a text list
        s_sep(o);
        s_vstr(o, k->name);
        fputc(':', o->f);
        s_vvalue(o, &k->value);
        return;
    }
    s_open(o, NULL, '{');
    s_str(o, "name", k->name);
    s_str(o, "type", s_nz(proto_msg_knob_type_name(k->type)));
    s_value(o, "value", &k->value);
    if (k->type == PROTO_KNOB_ENUM) {
        s_open(o, "choices", '[');
        for (uint32_t c = 0; c < k->n_choices && c < PROTO_MAX_CHOICES; c++) {
            s_sep(o);
            s_vstr(o, k->choices[c]);
        }
        s_close(o, ']');
    } else if (k->type != PROTO_KNOB_BOOL) {
        s_value(o, "min", &k->min);
        s_value(o, "max", &k->max);
    }
    s_close(o, '}');
}

static void
s_body_hello(s_out_t *o, const proto_msg_t *m)
{
    const proto_hello_t *h = &m->u.hello;
    s_u64(o, "pid", h->pid);
    s_str(o, "host", h->host);
    if (o->json)
        s_u64(o, "memory_limit", h->memory_limit);
    s_open(o, "knobs", '[');
    for (uint32_t i = 0; i < h->n_knobs && i < PROTO_MAX_KNOBS; i++)
        s_knob(o, &h->knobs[i]);
    s_close(o, ']');
    s_open(o, "actions", '[');
    for (uint32_t i = 0; i < h->n_actions && i < PROTO_MAX_ACTIONS; i++) {
        if (o->json) {
            s_open(o, NULL, '{');
            s_str(o, "name", h->actions[i].name);
            s_str(o, "arg", s_nz(proto_msg_arg_name(h->actions[i].arg)));
            s_close(o, '}');
        } else {
            s_sep(o);
            s_vstr(o, h->actions[i].name);
        }
    }
    s_close(o, ']');
}

static void
s_body_heartbeat(s_out_t *o, const proto_msg_t *m)
{
    const proto_heartbeat_t *h = &m->u.heartbeat;
    if (o->json) {
        s_u64(o, "rss_bytes", h->rss_bytes);
        s_u64(o, "cpu_us", h->cpu_us);
    } else {
        fprintf(o->f, " rss=%.1fMiB", (double)h->rss_bytes / 1048576.0);
        fprintf(o->f, " cpu=%.3fs", (double)h->cpu_us / 1e6);
    }
    s_u64(o, "drops", h->drops);
    s_u64(o, "sent", h->sent);
    s_dur_us(o, "uptime_ms", "up",
             o->json ? h->uptime_ms : h->uptime_ms * 1000);
}

static void
s_body_error(s_out_t *o, const proto_msg_t *m)
{
    const proto_error_t *e = &m->u.error;
    s_str(o, "op", e->op);
    s_str(o, o->json ? "error_class" : "class", e->error_class);
    s_pair_u32(o, "attempt", e->attempt, "max_attempts", e->max_attempts);
    s_str(o, "text", e->text);
}

static void
s_body_success(s_out_t *o, const proto_msg_t *m)
{
    const proto_success_t *s = &m->u.success;
    s_str(o, "op", s->op);
    s_dur_us(o, "duration_us", "duration", s->duration_us);
    if (!o->json)
        return;
    s_open(o, "knobs", '{');
    for (uint32_t i = 0; i < s->n_knobs && i < PROTO_MAX_KNOBS; i++) {
        s_dkey(o, s->knobs[i].name);
        s_vvalue(o, &s->knobs[i].value);
    }
    s_close(o, '}');
}

static void
s_body_metric(s_out_t *o, const proto_msg_t *m)
{
    if (o->json) {
        s_str(o, "name", m->u.metric.name);
        s_dbl(o, "value", m->u.metric.value);
    } else {
        s_sep(o);
        s_vstr(o, m->u.metric.name);
        fprintf(o->f, "=%g", m->u.metric.value);
    }
}

static void
s_body_heal(s_out_t *o, const proto_msg_t *m)
{
    const proto_heal_t *h = &m->u.heal;
    s_u64(o, o->json ? "req_id" : "req", h->req_id);
    s_str(o, "op", h->op);
    s_str(o, o->json ? "error_class" : "class", h->error_class);
    s_u64(o, "attempts", h->attempts);
    s_str(o, "mode", s_nz(proto_msg_mode_name(h->mode)));
    if (o->json)
        s_str(o, "text", h->text);
}

static void
s_step(s_out_t *o, const proto_step_t *st)
{
    if (o->json) {
        s_open(o, NULL, '{');
        s_str(o, "op", s_nz(proto_msg_step_name(st->op)));
        s_str(o, "target", st->target);
        s_value(o, "value", &st->value);
        s_close(o, '}');
        return;
    }
    s_sep(o); // "timeout_ms*=2", "!use_streaming_parser(arg)"
    if (st->op == PROTO_STEP_ACTION)
        fputc('!', o->f);
    s_vstr(o, st->target);
    fputs(S_NAME(s_step_signs, st->op), o->f);
    if (st->op == PROTO_STEP_ACTION && st->value.type == PROTO_VAL_NIL)
        return;
    if (st->op == PROTO_STEP_ACTION)
        fputc('(', o->f);
    s_vvalue(o, &st->value);
    if (st->op == PROTO_STEP_ACTION)
        fputc(')', o->f);
}

static void
s_body_fix(s_out_t *o, const proto_msg_t *m)
{
    const proto_fix_t *f = &m->u.fix;
    s_str(o, o->json ? "fix_id" : "id", f->fix_id);
    s_str(o, "name", f->name);
    s_str(o, "op", f->op);
    if (o->json) {
        s_u64(o, "req_id", f->req_id);
        s_i64(o, "expires_us", f->expires_us);
        s_bool(o, "test", f->test);
    }
    s_open(o, "steps", '[');
    for (uint32_t i = 0; i < f->n_steps && i < PROTO_MAX_STEPS; i++)
        s_step(o, &f->steps[i]);
    s_close(o, ']');
}

static void
s_body_fixres(s_out_t *o, const proto_msg_t *m)
{
    const proto_fixres_t *r = &m->u.fixres;
    s_str(o, o->json ? "fix_id" : "id", r->fix_id);
    s_str(o, "outcome", s_outcome(r->outcome));
    s_str(o, "reason", r->reason);
    if (o->json) {
        s_u64(o, "req_id", r->req_id);
        s_str(o, "op", r->op);
    }
    s_dur_us(o, "test_us", "test", r->test_us);
}

/*  Absolute microseconds since the epoch as local time; false when the
    value is outside what the C library can convert. */
static bool
s_local_time(int64_t us, bool iso, char *buf, size_t len)
{
    int64_t sec = us / 1000000, rem = us % 1000000;
    if (rem < 0) {
        sec -= 1;
        rem += 1000000;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if ((int64_t)t != sec || !localtime_r(&t, &tm))
        return false;
    char date[64], zone[16] = "";
    if (!strftime(date, sizeof date, iso ? "%Y-%m-%dT%H:%M:%S" : "%H:%M:%S",
                  &tm))
        return false;
    if (iso)
        strftime(zone, sizeof zone, "%z", &tm);
    snprintf(buf, len, "%s.%03d%s", date, (int)(rem / 1000), zone);
    return true;
}

static void
s_body_prediction(s_out_t *o, const proto_msg_t *m)
{
    const proto_prediction_t *p = &m->u.prediction;
    s_str(o, "agent", p->agent);
    s_str(o, "series", p->series);
    char when[80];
    if (o->json)
        s_i64(o, "fail_at_us", p->fail_at_us);
    else if (s_local_time(p->fail_at_us, true, when, sizeof when))
        s_str(o, "fail_at", when);
    else
        s_i64(o, "fail_at_us", p->fail_at_us);
    s_dbl(o, "confidence", p->confidence);
    s_str(o, "level", s_level(p->level));
    s_str(o, "reason", p->reason);
    s_str(o, "action", p->action);
}

static void
s_body_alert(s_out_t *o, const proto_msg_t *m)
{
    const proto_alert_t *a = &m->u.alert;
    s_str(o, "agent", a->agent);
    s_str(o, "series", a->series);
    if (o->json) {
        s_str(o, "previous", s_level(a->previous));
        s_str(o, "level", s_level(a->level));
    } else {
        s_key(o, "level");
        fprintf(o->f, "%s->%s", s_level(a->previous), s_level(a->level));
    }
    s_dbl(o, "value", a->value);
    s_str(o, "reason", a->reason);
}

static void
s_body_escalation(s_out_t *o, const proto_msg_t *m)
{
    const proto_escalation_t *e = &m->u.escalation;
    s_str(o, "agent", e->agent);
    s_str(o, "op", e->op);
    s_str(o, o->json ? "error_class" : "class", e->error_class);
    s_str(o, "reason", e->reason);
    if (!o->json) {
        s_u64(o, "tried", e->n_history);
        return;
    }
    s_str(o, "template", e->template_text);
    s_open(o, "tried", '[');
    for (uint32_t i = 0; i < e->n_history && i < PROTO_MAX_HISTORY; i++) {
        const proto_tried_t *t = &e->history[i];
        s_open(o, NULL, '{');
        s_str(o, "fix_id", t->fix_id);
        s_str(o, "name", t->name);
        s_str(o, "outcome", s_outcome(t->outcome));
        s_str(o, "reason", t->reason);
        s_close(o, '}');
    }
    s_close(o, ']');
}

static void
s_body_node(s_out_t *o, const proto_msg_t *m)
{
    const proto_node_t *n = &m->u.node;
    s_str(o, "role", n->role);
    s_dur_us(o, "uptime_ms", "up",
             o->json ? n->uptime_ms : n->uptime_ms * 1000);
    if (o->json)
        s_open(o, "counters", '{');
    for (uint32_t i = 0; i < n->n_counters && i < PROTO_MAX_COUNTERS; i++) {
        s_dkey(o, n->counters[i].name);
        fprintf(o->f, "%" PRIu64, n->counters[i].value);
    }
    if (o->json)
        s_close(o, '}');
}

static void
s_body_ask(s_out_t *o, const proto_msg_t *m)
{
    s_str(o, "target", m->u.ask.target);
}

typedef void(s_body_fn)(s_out_t *o, const proto_msg_t *m);

/*  One printer per kind; "stats" (broker counters) shares the node's. */
static s_body_fn *const s_bodies[PROTO_KIND_COUNT] = {
    [PROTO_KIND_HELLO] = s_body_hello,
    [PROTO_KIND_HEARTBEAT] = s_body_heartbeat,
    [PROTO_KIND_ERROR] = s_body_error,
    [PROTO_KIND_SUCCESS] = s_body_success,
    [PROTO_KIND_METRIC] = s_body_metric,
    [PROTO_KIND_HEAL] = s_body_heal,
    [PROTO_KIND_FIX] = s_body_fix,
    [PROTO_KIND_FIXRES] = s_body_fixres,
    [PROTO_KIND_PREDICTION] = s_body_prediction,
    [PROTO_KIND_ALERT] = s_body_alert,
    [PROTO_KIND_ESCALATION] = s_body_escalation,
    [PROTO_KIND_NODE] = s_body_node,
    [PROTO_KIND_ASK] = s_body_ask,
    [PROTO_KIND_STATS] = s_body_node,
};

/* ------------------------------------------------------------- output -- */

/*  Start a line: JSON opens the object and writes "time"; text writes the
    time alone.  `ts_us` is the message's own timestamp (0: now). */
static void
s_line_begin(s_tap_t *self, s_out_t *o, int64_t ts_us)
{
    *o = (s_out_t){.f = self->out, .json = self->opts.json};
    o->first[0] = true;
    if (ts_us == 0)
        ts_us = hb_clock_wall_us();
    char when[80];
    if (!s_local_time(ts_us, o->json, when, sizeof when))
        snprintf(when, sizeof when, "?");
    if (o->json) {
        fputc('{', o->f);
        s_str(o, "time", when);
    } else {
        fputs(when, o->f);
        o->first[0] = false;
    }
}

static void
s_line_end(s_out_t *o)
{
    if (o->json)
        fputc('}', o->f);
    fputc('\n', o->f);
}

static void
s_show_msg(s_tap_t *self, const proto_msg_t *m)
{
    s_out_t o;
    s_line_begin(self, &o, m->ts_us);
    const char *kind = proto_msg_kind_name(m->kind);
    if (o.json) {
        s_str(&o, "kind", kind);
        s_str(&o, "subject", m->subject);
        s_str(&o, "sender", m->sender);
        s_u64(&o, "seq", m->seq);
        s_i64(&o, "ts_us", m->ts_us);
        s_u64(&o, "version", m->version);
    } else {
        fprintf(o.f, " %s.", kind ? kind : "?");
        s_text_strn(o.f, m->subject, strlen(m->subject));
        fputc(' ', o.f);
        s_text_strn(o.f, m->sender, strlen(m->sender));
        fprintf(o.f, "#%" PRIu64, m->seq);
    }
    if ((unsigned)m->kind < PROTO_KIND_COUNT && s_bodies[m->kind])
        s_bodies[m->kind](&o, m);
    s_line_end(&o);
}

static void
s_show_gap(s_tap_t *self, const char *sender, const cli_seqtrack_result_t *r)
{
    s_out_t o;
    s_line_begin(self, &o, 0);
    if (o.json) {
        s_str(&o, "event", "gap");
        s_str(&o, "sender", sender);
        s_u64(&o, "lost", r->lost);
        s_u64(&o, "first", r->lost_first);
        s_u64(&o, "last", r->lost_last);
    } else {
        fputs(" gap: ", o.f);
        s_text_strn(o.f, sender, strlen(sender));
        fprintf(o.f,
                " lost %" PRIu64 " message%s (seq %" PRIu64 "..%" PRIu64 ")",
                r->lost, r->lost == 1 ? "" : "s", r->lost_first, r->lost_last);
    }
    s_line_end(&o);
}

static void
s_show_restart(s_tap_t *self, const char *sender, uint64_t seq,
               uint64_t previous)
{
    s_out_t o;
    s_line_begin(self, &o, 0);
    if (o.json) {
        s_str(&o, "event", "restart");
        s_str(&o, "sender", sender);
        s_u64(&o, "seq", seq);
        s_u64(&o, "previous", previous);
    } else {
        fputs(" restart: ", o.f);
        s_text_strn(o.f, sender, strlen(sender));
        fprintf(o.f, " started over (seq %" PRIu64 " after %" PRIu64 ")", seq,
                previous);
    }
    s_line_end(&o);
}

/*  Report an undecodable message, at most CLI_TAP_BAD_PER_SEC a second;
    the rest are counted and the next report says how many were not. */
static void
s_show_bad(s_tap_t *self, const void *topic, size_t topic_len, size_t body_len,
           const char *why)
{
    self->bad++;
    int64_t now = hb_clock_mono_ms();
    if (now - self->bad_window_ms >= 1000) {
        self->bad_window_ms = now;
        self->bad_in_window = 0;
    }
    if (self->opts.stats || self->bad_in_window >= CLI_TAP_BAD_PER_SEC) {
        self->bad_suppressed++;
        return;
    }
    self->bad_in_window++;
    size_t show = topic_len < CLI_TAP_BAD_SHOW ? topic_len : CLI_TAP_BAD_SHOW;
    s_out_t o;
    s_line_begin(self, &o, 0);
    if (o.json) {
        s_str(&o, "event", "undecodable");
        s_key(&o, "topic");
        cli_json_strn(o.f, topic, show);
        s_u64(&o, "bytes", body_len);
        s_str(&o, "error", why);
        s_u64(&o, "suppressed", self->bad_suppressed);
    } else {
        fputs(" bad: undecodable message on topic ", o.f);
        s_text_strn(o.f, topic, show);
        fprintf(o.f, "%s (%zu bytes): %s", show < topic_len ? "..." : "",
                body_len, why);
        if (self->bad_suppressed)
            fprintf(o.f, " (%" PRIu64 " more not shown)", self->bad_suppressed);
    }
    s_line_end(&o);
    self->bad_suppressed = 0;
}

/*  --stats: per-kind rates over the last interval, then totals. */
static void
s_show_stats(s_tap_t *self, int64_t now_ms)
{
    double secs = (double)(now_ms - self->tick_start_ms) / 1000.0;
    if (secs <= 0)
        secs = 1;
    uint64_t all = 0, tick_all = 0;
    s_out_t o;
    s_line_begin(self, &o, 0);
    s_open(&o, "rates", '{');
    for (int k = 0; k < PROTO_KIND_COUNT; k++) {
        all += self->total[k];
        tick_all += self->tick[k];
        if (self->total[k] == 0)
            continue; // kinds never seen would only be noise
        s_key(&o, proto_msg_kind_name((proto_kind_t)k));
        fprintf(o.f, o.json ? "%.1f" : "%.1f/s", (double)self->tick[k] / secs);
    }
    s_close(&o, '}');
    s_key(&o, "rate");
    fprintf(o.f, o.json ? "%.1f" : "%.1f/s", (double)tick_all / secs);
    s_open(&o, "totals", '{');
    for (int k = 0; k < PROTO_KIND_COUNT; k++)
        if (self->total[k]) {
            s_u64(&o, proto_msg_kind_name((proto_kind_t)k), self->total[k]);
        }
    s_close(&o, '}');
    s_u64(&o, "messages", all);
    s_u64(&o, "lost", self->lost);
    s_u64(&o, "duplicates", self->dups);
    s_u64(&o, "undecodable", self->bad);
    s_line_end(&o);
    memset(self->tick, 0, sizeof self->tick);
    self->tick_start_ms = now_ms;
}

/* ---------------------------------------------------------- receiving -- */

static void
s_handle(s_tap_t *self, zmq_msg_t *topic, zmq_msg_t *body)
{
    const void *t = zmq_msg_data(topic);
    size_t tlen = zmq_msg_size(topic);
    proto_msg_t m;
    hb_err_t rc =
        proto_codec_decode(t, tlen, zmq_msg_data(body), zmq_msg_size(body), &m);
    if (rc != HB_OK) {
        proto_codec_reject(&self->rejects, rc);
        s_show_bad(self, t, tlen, zmq_msg_size(body), hb_err_str(rc));
        return;
    }
    cli_seqtrack_result_t r = cli_seqtrack_see(self->senders, m.sender, m.seq);
    if (r.verdict == CLI_SEQTRACK_DUP) {
        self->dups++;
        hb_log_debug(self->log, "duplicate %s#%" PRIu64 " dropped", m.sender,
                     m.seq);
        proto_msg_clear(&m);
        return;
    }
    if (r.lost && self->opts.gaps) {
        self->gaps++;
        self->lost += r.lost;
        if (!self->opts.stats)
            s_show_gap(self, m.sender, &r);
    }
    if (r.verdict == CLI_SEQTRACK_RESTART) {
        self->restarts++;
        if (!self->opts.stats)
            s_show_restart(self, m.sender, m.seq, r.previous);
    }
    self->total[m.kind]++;
    self->tick[m.kind]++;
    self->shown++;
    if (!self->opts.stats)
        s_show_msg(self, &m);
    proto_msg_clear(&m);
}

/*  Receive and handle one message without waiting.  Returns 1 when one
    was handled, 0 when none was waiting, -1 on a socket error. */
static int
s_recv_one(s_tap_t *self)
{
    zmq_msg_t topic, body;
    zmq_msg_init(&topic);
    zmq_msg_init(&body);
    int rc = 1;
    if (zmq_msg_recv(&topic, self->sub, ZMQ_DONTWAIT) < 0) {
        rc = errno == EAGAIN || errno == EINTR ? 0 : -1;
        if (rc < 0)
            hb_log_error(self->log, "receiving: %s", zmq_strerror(errno));
        goto out;
    }
    size_t frames = 1;
    // The rest of a multipart message is already here: no waiting.
    while (zmq_msg_more(frames == 1 ? &topic : &body)) {
        zmq_msg_close(&body);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&body, self->sub, 0) < 0) {
            hb_log_error(self->log, "receiving: %s", zmq_strerror(errno));
            rc = -1;
            goto out;
        }
        frames++;
    }
    if (frames == 2)
        s_handle(self, &topic, &body);
    else {
        self->bad_frames++;
        s_show_bad(self, zmq_msg_data(&topic), zmq_msg_size(&topic),
                   frames == 1 ? 0 : zmq_msg_size(&body),
                   frames == 1 ? "one frame, expected topic + body"
                               : "more than two frames");
    }
out:
    zmq_msg_close(&body);
    zmq_msg_close(&topic);
    return rc;
}

/* -------------------------------------------------------------- setup -- */

/*  Block SIGINT/SIGTERM before libzmq starts its threads (they inherit
    the mask), then read them from a signalfd in the poll loop: no handler,
    no global flag. */
static int
s_signals_open(s_tap_t *self)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &mask, &self->old_mask) != 0)
        return -1;
    self->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (self->sigfd < 0) {
        sigprocmask(SIG_SETMASK, &self->old_mask, NULL);
        return -1;
    }
    return 0;
}

static int
s_sockets_open(s_tap_t *self)
{
    self->ctx = zmq_ctx_new();
    if (!self->ctx)
        return -1;
    self->sub = zmq_socket(self->ctx, ZMQ_SUB);
    if (!self->sub)
        return -1;
    int64_t maxmsg = PROTO_MAX_FRAME; // bigger frames never reach us
    int hwm = CLI_TAP_RCVHWM, linger = 0;
    if (zmq_setsockopt(self->sub, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) ||
        zmq_setsockopt(self->sub, ZMQ_RCVHWM, &hwm, sizeof hwm) ||
        zmq_setsockopt(self->sub, ZMQ_LINGER, &linger, sizeof linger))
        return -1;
    const s_opts_t *o = &self->opts;
    for (size_t i = 0; i < o->n_topics; i++)
        if (zmq_setsockopt(self->sub, ZMQ_SUBSCRIBE, o->topics[i],
                           strlen(o->topics[i])))
            return -1;
    if (o->n_topics == 0 && zmq_setsockopt(self->sub, ZMQ_SUBSCRIBE, "", 0))
        return -1;
    for (size_t i = 0; i < o->brokers.count; i++) {
        if (zmq_connect(self->sub, o->brokers.brokers[i].back) != 0) {
            hb_log_error(self->log, "connecting to %s: %s",
                         o->brokers.brokers[i].back, zmq_strerror(errno));
            return -1;
        }
        hb_log_debug(self->log, "connected to %s", o->brokers.brokers[i].back);
    }
    return 0;
}

static void
s_log_listening(s_tap_t *self)
{
    char eps[HB_ENDPOINT_MAX_BROKERS * (HB_ENDPOINT_MAX + 2)] = "";
    size_t n = 0;
    for (size_t i = 0; i < self->opts.brokers.count && n < sizeof eps; i++)
        n += (size_t)snprintf(eps + n, sizeof eps - n, "%s%s", i ? ", " : "",
                              self->opts.brokers.brokers[i].back);
    size_t n_topics = self->opts.n_topics;
    if (n_topics == 0)
        hb_log_info(self->log, "listening on %s (all topics)", eps);
    else
        hb_log_info(self->log, "listening on %s (%zu topic prefix%s%s)", eps,
                    n_topics, n_topics == 1 ? "" : "es",
                    self->opts.gaps ? ""
                                    : "; gaps not reported behind a filter");
}

static void
s_close_all(s_tap_t *self)
{
    if (self->sub)
        zmq_close(self->sub);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    if (self->sigfd >= 0) {
        close(self->sigfd);
        sigprocmask(SIG_SETMASK, &self->old_mask, NULL);
    }
    cli_seqtrack_destroy(&self->senders);
    hb_log_destroy(&self->log);
}

/* --------------------------------------------------------------- loop -- */

/*  Milliseconds zmq_poll may wait: until the next --stats line or the
    --timeout, whichever is first; -1 for neither. */
static long
s_wait_ms(const s_tap_t *self, int64_t now, int64_t deadline)
{
    int64_t wait = -1;
    if (deadline >= 0)
        wait = deadline > now ? deadline - now : 0;
    if (self->opts.stats) {
        int64_t next = self->tick_start_ms + 1000;
        int64_t w = next > now ? next - now : 0;
        if (wait < 0 || w < wait)
            wait = w;
    }
    return (long)wait;
}

/*  Flush stdout; false (with a log) when it cannot be written. */
static bool
s_flush(s_tap_t *self)
{
    if (fflush(self->out) == 0 && !ferror(self->out))
        return true;
    hb_log_error(self->log, "writing stdout: %s", strerror(errno));
    return false;
}

static int
s_run(s_tap_t *self)
{
    const s_opts_t *o = &self->opts;
    int64_t start = hb_clock_mono_ms();
    int64_t deadline =
        o->timeout_s > 0 ? start + (int64_t)llround(o->timeout_s * 1000) : -1;
    self->tick_start_ms = start;
    for (;;) {
        for (int i = 0; i < CLI_TAP_BURST; i++) {
            int rc = s_recv_one(self);
            if (rc < 0)
                return CLI_TAP_EXIT_RUNTIME;
            if (o->count && self->shown >= o->count)
                return s_flush(self) ? CLI_TAP_EXIT_OK : CLI_TAP_EXIT_RUNTIME;
            if (rc == 0)
                break;
        }
        // Nothing waiting (or a burst done): make the lines visible now.
        if (!s_flush(self))
            return CLI_TAP_EXIT_RUNTIME;
        int64_t now = hb_clock_mono_ms();
        if (o->stats && now - self->tick_start_ms >= 1000)
            s_show_stats(self, now);
        if (deadline >= 0 && now >= deadline)
            return o->count ? CLI_TAP_EXIT_SHORT : CLI_TAP_EXIT_OK;
        zmq_pollitem_t items[] = {{self->sub, 0, ZMQ_POLLIN, 0},
                                  {NULL, self->sigfd, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, s_wait_ms(self, now, deadline)) < 0 &&
            errno != EINTR) {
            hb_log_error(self->log, "poll: %s", zmq_strerror(errno));
            return CLI_TAP_EXIT_RUNTIME;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            struct signalfd_siginfo si;
            if (read(self->sigfd, &si, sizeof si) == (ssize_t)sizeof si)
                hb_log_debug(self->log, "signal %u: stopping",
                             (unsigned)si.ssi_signo);
            return s_flush(self) ? CLI_TAP_EXIT_OK : CLI_TAP_EXIT_RUNTIME;
        }
    }
}

int
cli_tap_main(int argc, char **argv)
{
    s_tap_t self = {.out = stdout, .sigfd = -1};
    int rc = s_parse_args(&self.opts, argc, argv);
    if (rc >= 0)
        return rc;
    self.log = hb_log_new("tap", stderr,
                          self.opts.verbose ? HB_LOG_DEBUG : HB_LOG_INFO);
    self.senders =
        cli_seqtrack_new(CLI_TAP_SENDERS, self.opts.brokers.count > 1);
    if (!self.log || !self.senders) {
        fprintf(stderr, "healbus tap: out of memory\n");
        s_close_all(&self);
        return CLI_TAP_EXIT_RUNTIME;
    }
    if (s_signals_open(&self) != 0) {
        hb_log_error(self.log, "signals: %s", strerror(errno));
        s_close_all(&self);
        return CLI_TAP_EXIT_RUNTIME;
    }
    if (s_sockets_open(&self) != 0) {
        hb_log_error(self.log, "cannot open the SUB socket: %s",
                     zmq_strerror(errno));
        s_close_all(&self);
        return CLI_TAP_EXIT_RUNTIME;
    }
    s_log_listening(&self);
    rc = s_run(&self);
    hb_log_info(self.log,
                "%" PRIu64 " messages, %" PRIu64 " gaps (%" PRIu64
                " lost), %" PRIu64 " duplicates, %" PRIu64
                " undecodable, %" PRIu64 " restarts, %" PRIu64
                " senders forgotten",
                self.shown, self.gaps, self.lost, self.dups, self.bad,
                self.restarts, cli_seqtrack_evictions(self.senders));
    s_close_all(&self);
    return rc;
}
