/*  test_tap.c - `healbus tap` end to end: the real broker and the real
    `healbus` binary, messages published with a raw ZeroMQ PUB socket.

    Synchronisation: a SUB subscription takes a moment to travel through
    the broker to the publisher, so each test publishes probe messages
    until the tap prints one, then a marker; everything published after the
    marker reaches the tap in order (one PUB socket, one broker, one path).
    The tap's stdout is all the test reads (stderr is not captured). */

#include "test_proc.h"

#include "proto_codec.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#define WAIT_MS 10000 // deadline for any one expected event
#define PROBE_MS 100  // how long one probe is given before the next

/* ------------------------------------------------------------ helpers -- */

typedef struct {
    test_proc_t *broker;
    char front[256];
    void *pub; // a raw PUB connected to the broker's front
} bus_t;

/*  Everything a test starts, so the teardown stops it even when an
    assertion ends the test early. */
typedef struct {
    void *ctx;
    bus_t bus[2];
    size_t n_bus;
    test_proc_t *procs[8];
    size_t n_procs;
    uint64_t probe_seq;
    uint64_t marker_seq;
} fx_t;

static void *
s_pub_new(void *ctx, const char *front)
{
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    assert_non_null(pub);
    int linger = 1000;
    assert_int_equal(zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof linger),
                     0);
    assert_int_equal(zmq_connect(pub, front), 0);
    return pub;
}

static bus_t *
s_bus_add(fx_t *fx)
{
    assert_true(fx->n_bus < 2);
    bus_t *bus = &fx->bus[fx->n_bus];
    // The broker's own stats messages would interleave with the exact
    // lines the tests expect: switch them off.
    const char *argv[] = {"healbus-broker",   "--front", "tcp://127.0.0.1:*",
                          "--stats-interval", "0",       NULL};
    bus->broker = test_proc_start(argv, "ready", WAIT_MS);
    assert_non_null(bus->broker);
    assert_true(
        test_proc_field(bus->broker, "front", bus->front, sizeof bus->front));
    fx->n_bus++;
    bus->pub = s_pub_new(fx->ctx, bus->front);
    return bus;
}

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    fx->ctx = zmq_ctx_new();
    *state = fx;
    if (!fx->ctx)
        return -1;
    s_bus_add(fx);
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    int rc = 0;
    for (size_t i = 0; i < fx->n_procs; i++)
        test_proc_destroy(&fx->procs[i]);
    for (size_t i = 0; i < fx->n_bus; i++)
        if (fx->bus[i].pub)
            zmq_close(fx->bus[i].pub);
    if (fx->ctx)
        zmq_ctx_term(fx->ctx);
    for (size_t i = 0; i < fx->n_bus; i++) {
        if (fx->bus[i].broker &&
            test_proc_stop(fx->bus[i].broker, SIGTERM, WAIT_MS) != 0) {
            fprintf(stderr, "test_tap: broker did not exit 0 on SIGTERM\n");
            rc = -1;
        }
        test_proc_destroy(&fx->bus[i].broker);
    }
    free(fx);
    return rc;
}

static test_proc_t *
s_keep(fx_t *fx, test_proc_t *p)
{
    assert_non_null(p);
    assert_true(fx->n_procs < sizeof fx->procs / sizeof fx->procs[0]);
    fx->procs[fx->n_procs++] = p;
    return p;
}

static void
s_send_frames(void *pub, const void *topic, size_t tlen, const void *body,
              size_t blen)
{
    assert_int_equal(zmq_send(pub, topic, tlen, ZMQ_SNDMORE), (int)tlen);
    assert_int_equal(zmq_send(pub, body, blen, 0), (int)blen);
}

static void
s_publish(void *pub, const proto_msg_t *m)
{
    char topic[PROTO_MAX_TOPIC + 1];
    uint8_t body[PROTO_MAX_FRAME];
    size_t tlen = proto_codec_topic(m, topic, sizeof topic);
    assert_true(tlen > 0);
    size_t blen = 0;
    assert_int_equal(proto_codec_encode(m, body, sizeof body, &blen), HB_OK);
    s_send_frames(pub, topic, tlen, body, blen);
}

/*  A header for a message from `sender` (also the subject). */
static void
s_head(proto_msg_t *m, proto_kind_t kind, const char *sender, uint64_t seq)
{
    proto_msg_init(m, kind);
    m->subject = sender;
    m->sender = sender;
    m->seq = seq;
    m->version = PROTO_VERSION;
    m->ts_us = 1700000000123456;
}

static void
s_metric(void *pub, const char *sender, uint64_t seq, const char *name,
         double value)
{
    proto_msg_t m;
    s_head(&m, PROTO_KIND_METRIC, sender, seq);
    m.u.metric.name = name;
    m.u.metric.value = value;
    s_publish(pub, &m);
}

static test_proc_t *
s_tap_start(fx_t *fx, const char *const *extra, const char *front)
{
    const char *argv[32] = {"healbus", "tap", "--broker", front};
    size_t n = 4;
    for (size_t i = 0; extra && extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    return s_keep(fx, test_proc_start(argv, NULL, 0));
}

/*  Next stdout line of the tap, or fail saying what never came. */
static void
s_next_line(test_proc_t *tap, char *line, size_t len, const char *what)
{
    if (!test_proc_wait_line(tap, "", line, len, WAIT_MS))
        fail_msg("the tap printed no line within %d ms (waiting for %s)",
                 WAIT_MS, what);
}

/*  Make sure the tap's subscription reaches the publisher on `pub`: probe
    until one shows, then send a marker and read up to it.  Returns how
    many lines were read (probes are messages too: --count sees them). */
static int
s_sync(fx_t *fx, void *pub, test_proc_t *tap, const char *tag)
{
    char line[4096];
    int lines = 0;
    for (int tries = 0;; tries++) {
        if (tries * PROBE_MS > WAIT_MS)
            fail_msg("the tap never showed a probe from %s", tag);
        s_metric(pub, tag, ++fx->probe_seq, "probe", 1);
        if (test_proc_wait_line(tap, "", line, sizeof line, PROBE_MS)) {
            lines++;
            break;
        }
    }
    char marker[64];
    snprintf(marker, sizeof marker, "%s-marker", tag);
    s_metric(pub, marker, ++fx->marker_seq, "marker", 1);
    for (;;) {
        s_next_line(tap, line, sizeof line, "the sync marker");
        lines++;
        if (strstr(line, marker))
            return lines;
    }
}

/* ------------------------------------------------- strict JSON checker -- */

typedef struct {
    const unsigned char *p;
    int depth;
} js_t;

static bool js_value(js_t *j);

static void
js_ws(js_t *j)
{
    while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
        j->p++;
}

static bool
js_lit(js_t *j, const char *lit)
{
    size_t n = strlen(lit);
    if (strncmp((const char *)j->p, lit, n) != 0)
        return false;
    j->p += n;
    return true;
}

static bool
js_hex4(const unsigned char *p)
{
    for (int i = 0; i < 4; i++)
        if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
            return false;
    return true;
}

/*  A well-formed UTF-8 sequence (no overlong, surrogate, > U+10FFFF):
    its length, or 0. */
static size_t
js_utf8(const unsigned char *p)
{
    unsigned c = p[0];
    size_t n = c < 0x80   ? 1
               : c < 0xC2 ? 0
               : c < 0xE0 ? 2
               : c < 0xF0 ? 3
               : c < 0xF5 ? 4
                          : 0;
    if (n <= 1)
        return n;
    unsigned cp = c & (0xFF >> (n + 1));
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static bool
js_string(js_t *j)
{
    if (*j->p != '"')
        return false;
    j->p++;
    for (;;) {
        unsigned char c = *j->p;
        if (c == '"') {
            j->p++;
            return true;
        }
        if (c < 0x20) // raw control characters (and the end) are invalid
            return false;
        if (c == '\\') {
            unsigned char e = j->p[1];
            if (e == 'u') {
                if (!js_hex4(j->p + 2))
                    return false;
                j->p += 6;
            } else if (e && strchr("\"\\/bfnrt", e))
                j->p += 2;
            else
                return false;
            continue;
        }
        size_t n = js_utf8(j->p);
        if (n == 0)
            return false;
        j->p += n;
    }
}

static bool
js_digits(js_t *j)
{
    if (*j->p < '0' || *j->p > '9')
        return false;
    while (*j->p >= '0' && *j->p <= '9')
        j->p++;
    return true;
}

static bool
js_number(js_t *j)
{
    if (*j->p == '-')
        j->p++;
    if (*j->p == '0')
        j->p++;
    else if (!js_digits(j))
        return false;
    if (*j->p == '.') {
        j->p++;
        if (!js_digits(j))
            return false;
    }
    if (*j->p == 'e' || *j->p == 'E') {
        j->p++;
        if (*j->p == '+' || *j->p == '-')
            j->p++;
        if (!js_digits(j))
            return false;
    }
    return true;
}

static bool
js_container(js_t *j, char close, bool object)
{
    j->p++;
    if (++j->depth > 32)
        return false;
    js_ws(j);
    if (*j->p == close) {
        j->p++;
        j->depth--;
        return true;
    }
    for (;;) {
        js_ws(j);
        if (object) {
            if (!js_string(j))
                return false;
            js_ws(j);
            if (*j->p++ != ':')
                return false;
        }
        if (!js_value(j))
            return false;
        js_ws(j);
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p++ != close)
            return false;
        j->depth--;
        return true;
    }
}

static bool
js_value(js_t *j)
{
    js_ws(j);
    switch (*j->p) {
    case '{':
        return js_container(j, '}', true);
    case '[':
        return js_container(j, ']', false);
    case '"':
        return js_string(j);
    case 't':
        return js_lit(j, "true");
    case 'f':
        return js_lit(j, "false");
    case 'n':
        return js_lit(j, "null");
    default:
        return js_number(j);
    }
}

/*  True when `line` is exactly one JSON object. */
static bool
s_json_object(const char *line)
{
    js_t j = {(const unsigned char *)line, 0};
    js_ws(&j);
    if (*j.p != '{' || !js_value(&j))
        return false;
    js_ws(&j);
    return *j.p == '\0';
}

static void
test_json_checker_rejects_what_jq_rejects(void **state)
{
    (void)state;
    assert_true(s_json_object("{\"a\":[1,-2.5e3,true,null,\"\\u00e9\"]}"));
    assert_true(s_json_object("{\"k\":\"\xc3\xa9\"}"));
    assert_false(s_json_object("{\"a\":\"x\ny\"}"));     // raw newline
    assert_false(s_json_object("{\"a\":\"\xff\"}"));     // bad UTF-8
    assert_false(s_json_object("{\"a\":\"\xc0\xaf\"}")); // overlong
    assert_false(s_json_object("{\"a\":\"\\x41\"}"));    // bad escape
    assert_false(s_json_object("{\"a\":nan}"));
    assert_false(s_json_object("{\"a\":01}"));
    assert_false(s_json_object("{\"a\":1,}"));
    assert_false(s_json_object("{\"a\":1} x"));
}

/* ---------------------------------------------------- messages to show -- */

#define HOSTILE_TEXT                                                           \
    "say \"hi\"\\ back\nnew\ttab\x01\x1b[31m \xff \xc0\xaf \xc3\xa9 end"
// What a strict JSON writer must make of it: quotes, backslash and control
// characters escaped, each invalid byte U+FFFD, valid UTF-8 kept.
#define HOSTILE_JSON                                                           \
    "\"text\":\"say \\\"hi\\\"\\\\ back\\nnew\\ttab\\u0001\\u001b[31m "        \
    "\\ufffd \\ufffd\\ufffd \xc3\xa9 end\""

static const char *const s_all_kinds[] = {
    "err",  "ok",    "metric", "hello", "heal", "fix", "fixres",
    "pred", "alert", "esc",    "node",  "hb",   "ask", "stats"};
#define N_KINDS (sizeof s_all_kinds / sizeof s_all_kinds[0])

static void
s_publish_every_kind(void *pub, const char *who)
{
    uint64_t seq = 0;
    proto_msg_t m;
    s_head(&m, PROTO_KIND_ERROR, who, ++seq);
    m.u.error = (proto_error_t){"load_csv", "IOError", HOSTILE_TEXT, 2, 5};
    s_publish(pub, &m);

    s_head(&m, PROTO_KIND_SUCCESS, who, ++seq);
    m.u.success.op = "load_csv";
    m.u.success.duration_us = 1500;
    m.u.success.knobs[0] =
        (proto_pair_t){"batch_size", {.type = PROTO_VAL_INT, .u.i = 100}};
    m.u.success.knobs[1] =
        (proto_pair_t){"parser", {.type = PROTO_VAL_STR, .u.s = "fast"}};
    m.u.success.n_knobs = 2;
    s_publish(pub, &m);

    s_metric(pub, who, ++seq, "rss\"x", 12.5);

    s_head(&m, PROTO_KIND_HELLO, who, ++seq);
    proto_hello_t *h = &m.u.hello;
    h->pid = 42;
    h->host = "h1";
    h->knobs[0] = (proto_knob_t){.name = "batch_size",
                                 .type = PROTO_KNOB_INT,
                                 .value = {.type = PROTO_VAL_INT, .u.i = 100},
                                 .min = {.type = PROTO_VAL_INT, .u.i = 1},
                                 .max = {.type = PROTO_VAL_INT, .u.i = 1000}};
    h->knobs[1] =
        (proto_knob_t){.name = "parser",
                       .type = PROTO_KNOB_ENUM,
                       .value = {.type = PROTO_VAL_STR, .u.s = "fast"},
                       .choices = {"fast", "stream"},
                       .n_choices = 2};
    h->n_knobs = 2;
    h->actions[0] = (proto_action_t){"use_streaming_parser", PROTO_ARG_NONE};
    h->n_actions = 1;
    s_publish(pub, &m);

    s_head(&m, PROTO_KIND_HEAL, who, ++seq);
    m.u.heal = (proto_heal_t){7,         "load_csv", "IOError",
                              "gave up", 5,          PROTO_HEAL_ASYNC};
    s_publish(pub, &m);

    s_head(&m, PROTO_KIND_FIX, who, ++seq);
    proto_fix_t *f = &m.u.fix;
    f->fix_id = "fx-1";
    f->req_id = 7;
    f->op = "load_csv";
    f->name = "raise_timeout";
    f->expires_us = 1700000060000000;
    f->test = true;
    f->steps[0] = (proto_step_t){
        PROTO_STEP_MUL, "timeout_ms", {.type = PROTO_VAL_INT, .u.i = 2}};
    f->steps[1] = (proto_step_t){
        PROTO_STEP_ACTION, "use_streaming_parser", {.type = PROTO_VAL_NIL}};
    f->n_steps = 2;
    s_publish(pub, &m);

    s_head(&m, PROTO_KIND_FIXRES, who, ++seq);
    m.u.fixres = (proto_fixres_t){
        "fx-1", 7, "load_csv", PROTO_OUTCOME_ROLLED_BACK, "test failed", 1200};
    s_publish(pub, &m);

    s_head(&m, PROTO_KIND_PREDICTION, who, ++seq);
    m.u.prediction = (proto_prediction_t){who,
                                          "err:load_csv",
                                          1700000300000000,
                                          0.75,
                                          "error rate doubling",
                                          "raise batch timeout",
                                          PROTO_LEVEL_HIGH};
    s_publish(pub, &m);

    s_head(&m, PROTO_KIND_ALERT, who, ++seq);
    m.u.alert =
        (proto_alert_t){who, "metric:rss", PROTO_LEVEL_HIGH, PROTO_LEVEL_LOW,
                        3.5, "rss growing"};
    s_publish(pub, &m);

    s_head(&m, PROTO_KIND_ESCALATION, who, ++seq);
    proto_escalation_t *e = &m.u.escalation;
    e->agent = who;
    e->op = "load_csv";
    e->error_class = "IOError";
    e->template_text = "cannot open <*>";
    e->reason = "no fix left";
    e->history[0] = (proto_tried_t){"fx-1", "raise_timeout",
                                    PROTO_OUTCOME_ROLLED_BACK, "test failed"};
    e->n_history = 1;
    s_publish(pub, &m);

    s_head(&m, PROTO_KIND_NODE, who, ++seq);
    m.u.node.role = "healer";
    m.u.node.uptime_ms = 5000;
    m.u.node.counters[0] = (proto_counter_t){"fixes_sent", 3};
    m.u.node.counters[1] = (proto_counter_t){"esc\"alations", 1};
    m.u.node.n_counters = 2;
    s_publish(pub, &m);

    s_head(&m, PROTO_KIND_HEARTBEAT, who, ++seq);
    m.u.heartbeat = (proto_heartbeat_t){100, 2, 10485760, 250000, 60000};
    s_publish(pub, &m);

    s_head(&m, PROTO_KIND_ASK, who, ++seq);
    m.u.ask.target = "*";
    s_publish(pub, &m);

    s_head(&m, PROTO_KIND_STATS, who, ++seq);
    m.u.node.role = "broker";
    m.u.node.uptime_ms = 9000;
    m.u.node.counters[0] = (proto_counter_t){"msgs_in", 77};
    m.u.node.n_counters = 1;
    s_publish(pub, &m);
}

/*  Run every line through Python's json module too (strict by default
    about control characters; the C checker above is stricter on UTF-8). */
static void
s_python_parses(char lines[][4096], size_t n)
{
    if (access("/usr/bin/python3", X_OK) != 0) {
        fprintf(stderr, "test_tap: no /usr/bin/python3, C checker only\n");
        return;
    }
    FILE *py = popen("/usr/bin/python3 -c 'import json,sys\n"
                     "for l in sys.stdin.buffer: json.loads(l)'",
                     "w");
    assert_non_null(py);
    for (size_t i = 0; i < n; i++)
        fprintf(py, "%s\n", lines[i]);
    assert_int_equal(pclose(py), 0);
}

/* -------------------------------------------------------------- tests -- */

static void
test_tap_json_lines_are_strict_json_with_hostile_strings_escaped(void **state)
{
    fx_t *fx = *state;
    const char *extra[] = {"--json", NULL};
    test_proc_t *tap = s_tap_start(fx, extra, fx->bus[0].front);
    s_sync(fx, fx->bus[0].pub, tap, "probe");

    s_publish_every_kind(fx->bus[0].pub, "loader-1");
    s_metric(fx->bus[0].pub, "loader-1", 30, "after_gap", 1); // 15..29 lost
    const char topic[] = "err.\x1b]0;owned\x07\xff";
    s_send_frames(fx->bus[0].pub, topic, sizeof topic - 1, "\xc1", 1);

    static char lines[N_KINDS + 3][4096];
    size_t n = 0;
    for (; n < N_KINDS + 3; n++) {
        s_next_line(tap, lines[n], sizeof lines[n], "the published kinds");
        if (!s_json_object(lines[n]))
            fail_msg("not strict JSON: %s", lines[n]);
    }
    for (size_t i = 0; i < N_KINDS; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"kind\":\"%s\"", s_all_kinds[i]);
        if (!strstr(lines[i], want) || !strstr(lines[i], "\"seq\":"))
            fail_msg("line %zu lacks %s: %s", i, want, lines[i]);
    }
    assert_non_null(strstr(lines[0], HOSTILE_JSON));
    assert_non_null(strstr(lines[0], "\"attempt\":2,\"max_attempts\":5"));
    assert_non_null(strstr(lines[2], "\"name\":\"rss\\\"x\",\"value\":12.5"));
    assert_non_null(strstr(lines[5], "{\"op\":\"mul\",\"target\":"
                                     "\"timeout_ms\",\"value\":2}"));
    assert_non_null(strstr(lines[10], "\"esc\\\"alations\":1"));
    assert_non_null(strstr(lines[N_KINDS],
                           "\"event\":\"gap\",\"sender\":\"loader-1\","
                           "\"lost\":15,\"first\":15,\"last\":29"));
    assert_non_null(strstr(lines[N_KINDS + 1], "\"name\":\"after_gap\""));
    assert_non_null(strstr(lines[N_KINDS + 2],
                           "\"event\":\"undecodable\",\"topic\":"
                           "\"err.\\u001b]0;owned\\u0007\\ufffd\""));
    s_python_parses(lines, n);

    assert_int_equal(test_proc_stop(tap, SIGTERM, WAIT_MS), 0);
}

static void
test_tap_reports_a_gap_in_a_senders_sequence(void **state)
{
    fx_t *fx = *state;
    test_proc_t *tap = s_tap_start(fx, NULL, fx->bus[0].front);
    s_sync(fx, fx->bus[0].pub, tap, "probe");

    for (uint64_t seq = 1; seq <= 3; seq++)
        s_metric(fx->bus[0].pub, "loader-1", seq, "rows", (double)seq);
    s_metric(fx->bus[0].pub, "loader-1", 20, "rows", 20);
    s_metric(fx->bus[0].pub, "loader-1", 1, "rows",
             1); // a new process, same name

    char line[4096];
    for (int seq = 1; seq <= 3; seq++) {
        char want[64];
        snprintf(want, sizeof want, " metric.loader-1 loader-1#%d rows=%d", seq,
                 seq);
        s_next_line(tap, line, sizeof line, want);
        if (!strstr(line, want))
            fail_msg("wanted '%s', got: %s", want, line);
    }
    s_next_line(tap, line, sizeof line, "the gap report");
    assert_non_null(
        strstr(line, " gap: loader-1 lost 16 messages (seq 4..19)"));
    s_next_line(tap, line, sizeof line, "seq 20");
    assert_non_null(strstr(line, " loader-1#20 rows=20"));
    s_next_line(tap, line, sizeof line, "the restart report");
    assert_non_null(
        strstr(line, " restart: loader-1 started over (seq 1 after 20)"));
    s_next_line(tap, line, sizeof line, "seq 1 again");
    assert_non_null(strstr(line, " loader-1#1 rows=1"));

    assert_int_equal(test_proc_stop(tap, SIGINT, WAIT_MS), 0);
}

/*  A sender numbers every message it sends; behind --topic most of those
    numbers are hidden, so the tap must not call them lost. */
static void
test_tap_topic_filter_shows_matches_and_claims_no_gap(void **state)
{
    fx_t *fx = *state;
    const char *extra[] = {"--topic", "metric.", NULL};
    test_proc_t *tap = s_tap_start(fx, extra, fx->bus[0].front);
    s_sync(fx, fx->bus[0].pub, tap, "probe");

    void *pub = fx->bus[0].pub;
    proto_msg_t m;
    for (uint64_t seq = 1; seq <= 6; seq++) {
        if (seq % 2) {
            s_head(&m, PROTO_KIND_ERROR, "mixed", seq);
            m.u.error = (proto_error_t){"op", "E", "hidden", 1, 1};
            s_publish(pub, &m);
        } else
            s_metric(pub, "mixed", seq, "shown", (double)seq);
    }
    s_metric(pub, "end", 1, "end", 1);
    char line[4096];
    const char *want[] = {
        " metric.mixed mixed#2 shown=2", " metric.mixed mixed#4 shown=4",
        " metric.mixed mixed#6 shown=6", " metric.end end#1 end=1"};
    for (size_t i = 0; i < 4; i++) {
        s_next_line(tap, line, sizeof line, want[i]);
        if (!strstr(line, want[i]))
            fail_msg("wanted '%s', got: %s", want[i], line);
    }
    assert_int_equal(test_proc_stop(tap, SIGTERM, WAIT_MS), 0);
}

static void
s_expect_bad(test_proc_t *tap, const char *want)
{
    char line[4096];
    s_next_line(tap, line, sizeof line, want);
    if (!strstr(line, want))
        fail_msg("wanted '%s', got: %s", want, line);
}

/*  The decoder's verdict on a frame pair, as the tap names it. */
static const char *
s_decode_error(const void *topic, size_t tlen, const void *body, size_t blen)
{
    proto_msg_t m;
    hb_err_t rc = proto_codec_decode(topic, tlen, body, blen, &m);
    assert_int_not_equal(rc, HB_OK);
    return hb_err_str(rc);
}

/*  The broker drops what is not two frames under a known kind, so this
    test plays the broker: an XPUB bound where the tap looks for a back
    endpoint.  The tap's subscription arriving there is the sync. */
static void
test_tap_reports_undecodable_messages_and_goes_on(void **state)
{
    fx_t *fx = *state;
    void *xpub = zmq_socket(fx->ctx, ZMQ_XPUB);
    assert_non_null(xpub);
    int linger = 1000;
    zmq_setsockopt(xpub, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_bind(xpub, "tcp://127.0.0.1:*"), 0);
    char back[256], front[256];
    size_t blen_ep = sizeof back;
    assert_int_equal(zmq_getsockopt(xpub, ZMQ_LAST_ENDPOINT, back, &blen_ep),
                     0);
    const char *colon = strrchr(back, ':');
    int port = atoi(colon + 1);
    if (port < 2) { // no front port below it to name; never from bind("*")
        zmq_close(xpub);
        fail_msg("bound port %d has no port below it", port);
    }
    snprintf(front, sizeof front, "tcp://127.0.0.1:%d", port - 1);
    test_proc_t *tap = s_tap_start(fx, NULL, front);
    zmq_pollitem_t item = {xpub, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, WAIT_MS) != 1) {
        zmq_close(xpub);
        fail_msg("the tap never subscribed within %d ms", WAIT_MS);
    }
    char sub[64];
    assert_int_equal(zmq_recv(xpub, sub, sizeof sub, 0), 1); // "\x01" + ""

    proto_msg_t m; // a valid body, sent under an unknown kind
    s_head(&m, PROTO_KIND_METRIC, "x", 1);
    m.u.metric.name = "n";
    uint8_t body[256];
    size_t blen = 0;
    assert_int_equal(proto_codec_encode(&m, body, sizeof body, &blen), HB_OK);

    assert_int_equal(zmq_send(xpub, "metric.one", 10, 0), 10);
    s_send_frames(xpub, "metric.junk", 11, "\xc1\x01\x02", 3);
    s_send_frames(xpub, "nokind.x", 8, body, blen);
    assert_int_equal(zmq_send(xpub, "metric.three", 12, ZMQ_SNDMORE), 12);
    assert_int_equal(zmq_send(xpub, "a", 1, ZMQ_SNDMORE), 1);
    assert_int_equal(zmq_send(xpub, "bc", 2, 0), 2);
    s_send_frames(xpub, "metric.\x1b[2J", 11, "\x80", 1);
    s_metric(xpub, "survivor", 1, "alive", 1);

    char want[256];
    s_expect_bad(tap, " bad: undecodable message on topic metric.one "
                      "(0 bytes): one frame, expected topic + body");
    snprintf(want, sizeof want,
             " bad: undecodable message on topic metric.junk (3 bytes): %s",
             s_decode_error("metric.junk", 11, "\xc1\x01\x02", 3));
    s_expect_bad(tap, want);
    snprintf(want, sizeof want,
             " bad: undecodable message on topic nokind.x (%zu bytes): %s",
             blen, s_decode_error("nokind.x", 8, body, blen));
    s_expect_bad(tap, want);
    s_expect_bad(tap, " bad: undecodable message on topic metric.three "
                      "(2 bytes): more than two frames");
    snprintf(want, sizeof want,
             " bad: undecodable message on topic \"metric.\\x1b[2J\" "
             "(1 bytes): %s",
             s_decode_error("metric.\x1b[2J", 11, "\x80", 1));
    s_expect_bad(tap, want);
    s_expect_bad(tap, " metric.survivor survivor#1 alive=1");

    assert_int_equal(test_proc_stop(tap, SIGTERM, WAIT_MS), 0);
    zmq_close(xpub);
}

static void
test_tap_count_exits_zero_after_exactly_n_messages(void **state)
{
    fx_t *fx = *state;
    const char *extra[] = {"--json", "--count", "20", NULL};
    test_proc_t *tap = s_tap_start(fx, extra, fx->bus[0].front);
    int seen = s_sync(fx, fx->bus[0].pub, tap, "probe");
    assert_true(seen < 20);

    // five more than --count: the tap must stop at the 20th
    for (int i = 1; i <= 20 - seen + 5; i++)
        s_metric(fx->bus[0].pub, "counter", (uint64_t)i, "n", i);
    char line[4096];
    for (int i = 1; i <= 20 - seen; i++) {
        s_next_line(tap, line, sizeof line, "a counted message");
        assert_true(s_json_object(line));
        char want[32];
        snprintf(want, sizeof want, "\"seq\":%d,", i);
        assert_non_null(strstr(line, want));
    }
    assert_int_equal(test_proc_stop(tap, 0, WAIT_MS), 0);
    assert_false(test_proc_wait_line(tap, "", line, sizeof line, WAIT_MS));
}

static void
test_tap_timeout_exit_codes(void **state)
{
    fx_t *fx = *state;
    const char *alone[] = {"--timeout", "0.2", NULL};
    test_proc_t *tap = s_tap_start(fx, alone, fx->bus[0].front);
    assert_int_equal(test_proc_stop(tap, 0, WAIT_MS), 0);

    const char *short_of_count[] = {"--timeout=0.2", "--count", "5", NULL};
    tap = s_tap_start(fx, short_of_count, fx->bus[0].front);
    assert_int_equal(test_proc_stop(tap, 0, WAIT_MS), 3);
}

static int
s_exit_of(const char *const argv[], char *first_line, size_t len)
{
    test_proc_t *p = test_proc_start(argv, NULL, 0);
    assert_non_null(p);
    if (first_line) {
        first_line[0] = '\0';
        test_proc_wait_line(p, "", first_line, len, WAIT_MS);
    }
    int rc = test_proc_stop(p, 0, WAIT_MS);
    test_proc_destroy(&p);
    return rc;
}

static void
test_tap_bad_flags_exit_two(void **state)
{
    (void)state;
    static const char *const bad[][5] = {
        {"healbus", "tap", "--bogus", NULL},
        {"healbus", "tap", "--count", "0", NULL},
        {"healbus", "tap", "--count", "-1", NULL},
        {"healbus", "tap", "--count", "12x", NULL},
        {"healbus", "tap", "--count", "99999999999999999999999", NULL},
        {"healbus", "tap", "--count", NULL},
        {"healbus", "tap", "--timeout", "0", NULL},
        {"healbus", "tap", "--timeout", "nan", NULL},
        {"healbus", "tap", "--timeout", "-3", NULL},
        {"healbus", "tap", "--broker", "http://nowhere", NULL},
        {"healbus", "tap", "--broker=tcp://127.0.0.1:0", NULL},
        {"healbus", "tap", "extra", NULL},
        {"healbus", "nosuch", NULL},
        {"healbus", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char out[256];
        int rc = s_exit_of(bad[i], out, sizeof out);
        if (rc != 2)
            fail_msg("case %zu (%s %s): exit %d, wanted 2", i, bad[i][1],
                     bad[i][2] ? bad[i][2] : "", rc);
        assert_string_equal(out, ""); // usage errors go to stderr
    }
}

static void
test_help_exits_zero_and_lists_commands(void **state)
{
    fx_t *fx = *state;
    char line[4096];
    const char *tap_help[] = {"healbus", "tap", "--help", NULL};
    assert_int_equal(s_exit_of(tap_help, line, sizeof line), 0);
    assert_non_null(strstr(line, "usage: healbus tap"));

    const char *variants[][3] = {{"healbus", "--help", NULL},
                                 {"healbus", "help", NULL}};
    for (size_t v = 0; v < 2; v++) {
        test_proc_t *p = s_keep(fx, test_proc_start(variants[v], NULL, 0));
        const char *cmds[] = {"  tap ", "  fingerprint ", "  predict ",
                              "  version ", "  help "};
        for (size_t c = 0; c < 5; c++)
            if (!test_proc_wait_line(p, cmds[c], line, sizeof line, WAIT_MS))
                fail_msg("'%s' does not list '%s'", variants[v][1], cmds[c]);
        assert_int_equal(test_proc_stop(p, 0, WAIT_MS), 0);
    }
    const char *version[] = {"healbus", "version", NULL};
    assert_int_equal(s_exit_of(version, line, sizeof line), 0);
    assert_non_null(strstr(line, "healbus 0."));
}

/*  Count "<sender>#<seq>" in `line` into counts[seq]. */
static void
s_count_seq(const char *line, const char *sender, int counts[], int max)
{
    char pat[64];
    snprintf(pat, sizeof pat, " %s#", sender);
    const char *p = strstr(line, pat);
    if (!p)
        return;
    int seq = atoi(p + strlen(pat));
    assert_true(seq >= 1 && seq <= max);
    counts[seq]++;
}

static void
test_tap_two_brokers_show_each_message_once(void **state)
{
    fx_t *fx = *state;
    bus_t *a = &fx->bus[0], *b = s_bus_add(fx);
    char both[600];
    snprintf(both, sizeof both, "%s,%s", a->front, b->front);
    test_proc_t *tap = s_tap_start(fx, NULL, both);
    s_sync(fx, a->pub, tap, "probe-a");
    s_sync(fx, b->pub, tap, "probe-b");

    enum { N = 10 };
    for (int seq = 1; seq <= N; seq++) { // the same message on both buses
        s_metric(a->pub, "twin", (uint64_t)seq, "x", seq);
        s_metric(b->pub, "twin", (uint64_t)seq, "x", seq);
    }
    // Each broker keeps order: past its fence, all its copies were handled.
    s_metric(a->pub, "fence-a", 1, "f", 1);
    s_metric(b->pub, "fence-b", 1, "f", 1);
    int counts[N + 1] = {0};
    bool fa = false, fb = false;
    char line[4096];
    while (!fa || !fb) {
        s_next_line(tap, line, sizeof line, "both fences");
        fa = fa || strstr(line, " fence-a#1 ");
        fb = fb || strstr(line, " fence-b#1 ");
        s_count_seq(line, "twin", counts, N);
    }
    for (int seq = 1; seq <= N; seq++)
        if (counts[seq] != 1)
            fail_msg("twin#%d shown %d times, wanted once", seq, counts[seq]);

    assert_int_equal(test_proc_stop(tap, SIGTERM, WAIT_MS), 0);
}

/*  The value of "err" in the "totals" object of a --stats --json line,
    or -1. */
static long
s_total_of(const char *line, const char *kind)
{
    const char *t = strstr(line, "\"totals\":{");
    if (!t)
        return -1;
    const char *end = strchr(t, '}');
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\":", kind);
    const char *k = strstr(t, pat);
    if (!k || k > end)
        return -1;
    return strtol(k + strlen(pat), NULL, 10);
}

static void
test_tap_stats_prints_rates_and_totals(void **state)
{
    fx_t *fx = *state;
    const char *extra[] = {"--stats", "--json", NULL};
    test_proc_t *tap = s_tap_start(fx, extra, fx->bus[0].front);
    char line[4096];
    // Stats lines come each second; probe until one counts a metric.
    for (int tries = 0;; tries++) {
        if (tries > 10)
            fail_msg("no stats line counted a probe");
        s_metric(fx->bus[0].pub, "probe", ++fx->probe_seq, "probe", 1);
        s_next_line(tap, line, sizeof line, "a stats line");
        assert_true(s_json_object(line));
        assert_non_null(strstr(line, "\"rates\":{"));
        if (s_total_of(line, "metric") > 0)
            break;
    }
    proto_msg_t m;
    for (uint64_t seq = 1; seq <= 3; seq++) {
        s_head(&m, PROTO_KIND_ERROR, "stat-err", seq);
        m.u.error = (proto_error_t){"op", "E", "t", 1, 1};
        s_publish(fx->bus[0].pub, &m);
    }
    for (;;) {
        s_next_line(tap, line, sizeof line, "a stats line with 3 errors");
        assert_true(s_json_object(line));
        long errs = s_total_of(line, "err");
        assert_true(errs <= 3);
        if (errs == 3)
            break;
    }
    assert_non_null(strstr(line, "\"lost\":0,\"duplicates\":0,"
                                 "\"undecodable\":0}"));
    assert_int_equal(test_proc_stop(tap, SIGTERM, WAIT_MS), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_checker_rejects_what_jq_rejects),
        cmocka_unit_test_setup_teardown(
            test_tap_json_lines_are_strict_json_with_hostile_strings_escaped,
            s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_tap_reports_a_gap_in_a_senders_sequence, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_tap_topic_filter_shows_matches_and_claims_no_gap, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_tap_reports_undecodable_messages_and_goes_on, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_tap_count_exits_zero_after_exactly_n_messages, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(test_tap_timeout_exit_codes, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_tap_bad_flags_exit_two, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_help_exits_zero_and_lists_commands,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_tap_two_brokers_show_each_message_once, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tap_stats_prints_rates_and_totals,
                                        s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
