/*  test_node_runtime.c - the node runtime against real brokers.

    A test-only role runs in-process through node_runtime's API on its own
    thread (the runtime owns its sockets there), with two real
    healbus-broker processes: it must see each message once although it
    arrives through both brokers, count garbage and gaps without dying,
    publish heartbeats a plain SUB can read, and share agents with a peer
    by rendezvous ownership that moves when the peer stops.  The
    healbus-node binary is checked for its exit codes and clean SIGTERM. */

#include "hb_clock.h"
#include "node_role.h"
#include "node_runtime.h"
#include "proto_codec.h"
#include "test_bus.h"
#include "test_proc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_WAIT_MS 10000
#define S_AGENTS 60

extern char **environ;

/* ------------------------------------------------- the test-only role -- */

typedef struct {
    node_ctx_t *ctx; // borrowed
    uint64_t seen;
    uint64_t ticks;
} s_probe_t;

static void *
s_probe_create(node_ctx_t *ctx)
{
    s_probe_t *self = calloc(1, sizeof *self);
    if (self)
        self->ctx = ctx;
    return self;
}

static void
s_probe_destroy(void **state_p)
{
    free(*state_p);
    *state_p = NULL;
}

//  Echo each error as a metric "<sender>" = seq, so the test can see
//  exactly what reached the role.
static void
s_probe_msg(void *state, const proto_msg_t *msg)
{
    s_probe_t *self = state;
    self->seen++;
    proto_msg_t echo;
    proto_msg_init(&echo, PROTO_KIND_METRIC);
    echo.subject = node_ctx_id(self->ctx);
    echo.u.metric.name = msg->sender;
    echo.u.metric.value = (double)msg->seq;
    node_ctx_publish(self->ctx, &echo);
}

static void
s_probe_tick(void *state, int64_t now_ms)
{
    (void)now_ms;
    s_probe_t *self = state;
    self->ticks++;
}

//  How many of agent-0..agent-(S_AGENTS-1) this node owns right now.
static uint64_t
s_probe_owned(s_probe_t *self)
{
    char agent[32];
    uint64_t owned = 0;
    for (int i = 0; i < S_AGENTS; i++) {
        snprintf(agent, sizeof agent, "agent-%d", i);
        owned += node_ctx_owns(self->ctx, agent);
    }
    return owned;
}

//  "received" repeats a runtime counter and "seen" repeats itself: the
//  runtime must leave both copies out, or the heartbeat would not decode.
static uint32_t
s_probe_counters(void *state, proto_counter_t *out, uint32_t cap)
{
    s_probe_t *self = state;
    if (cap < 5)
        return 0;
    out[0] = (proto_counter_t){"seen", self->seen};
    out[1] = (proto_counter_t){"owned", s_probe_owned(self)};
    out[2] = (proto_counter_t){"received", 424242};
    out[3] = (proto_counter_t){"seen", 424242};
    out[4] = (proto_counter_t){"ticks", self->ticks};
    return 5;
}

static const char *const s_probe_topics[] = {"err.", NULL};
static const node_role_t s_probe_role = {
    .name = "probe",
    .summary = "test role: echoes errors, counts owned agents",
    .topics = s_probe_topics,
    .create = s_probe_create,
    .destroy = s_probe_destroy,
    .on_msg = s_probe_msg,
    .on_tick = s_probe_tick,
    .counters = s_probe_counters,
};

/* ------------------------------------------ a runtime on its own thread -- */

typedef struct {
    node_runtime_opts_t opts;
    char id[32];
    char brokers[600];
    char data[4200];
    atomic_bool stop;
    int ready_pipe[2];
    pthread_t thread;
    hb_err_t new_rc;
    hb_err_t run_rc;
    node_runtime_stats_t stats;    // copied when the loop ends
    proto_codec_rejects_t rejects; // copied when the loop ends
    hb_log_t *log;
} s_node_t;

static void
s_on_ready(void *arg, node_runtime_t *runtime)
{
    (void)runtime;
    s_node_t *n = arg;
    assert_int_equal(write(n->ready_pipe[1], "r", 1), 1);
}

static void *
s_node_main(void *arg)
{
    s_node_t *n = arg;
    node_runtime_t *rt = node_runtime_new(&n->opts, &s_probe_role, &n->new_rc);
    if (!rt) {
        assert_int_equal(write(n->ready_pipe[1], "x", 1), 1);
        return NULL;
    }
    n->run_rc = node_runtime_run(rt, &n->stop);
    node_runtime_stats(rt, &n->stats);
    n->rejects = *node_runtime_rejects(rt);
    node_runtime_destroy(&rt);
    return NULL;
}

static s_node_t *
s_node_start(const char *id, const char *brokers, const char *dir)
{
    s_node_t *n = calloc(1, sizeof *n);
    snprintf(n->id, sizeof n->id, "%s", id);
    snprintf(n->brokers, sizeof n->brokers, "%s", brokers);
    snprintf(n->data, sizeof n->data, "%s/%s", dir, id);
    assert_int_equal(pipe(n->ready_pipe), 0);
    n->log = hb_log_new(id, stderr, HB_LOG_WARN);
    n->opts = (node_runtime_opts_t){.id = n->id,
                                    .brokers = n->brokers,
                                    .data_dir = n->data,
                                    .log = n->log,
                                    .heartbeat_ms = 100,
                                    .tick_ms = 20,
                                    .on_ready = s_on_ready,
                                    .ready_arg = n};
    assert_int_equal(pthread_create(&n->thread, NULL, s_node_main, n), 0);
    struct pollfd pfd = {.fd = n->ready_pipe[0], .events = POLLIN};
    if (poll(&pfd, 1, S_WAIT_MS) != 1)
        fail_msg("node %s never printed ready (no heartbeat echo)", id);
    char c = 0;
    assert_int_equal(read(n->ready_pipe[0], &c, 1), 1);
    assert_int_equal(c, 'r');
    assert_int_equal(n->new_rc, HB_OK);
    return n;
}

//  Stop the loop and wait for the thread; the copies of its counters are
//  then readable.
static void
s_node_join(s_node_t *n)
{
    atomic_store(&n->stop, true);
    assert_int_equal(pthread_join(n->thread, NULL), 0);
    assert_int_equal(n->run_rc, HB_OK);
}

static void
s_node_free(s_node_t **n_p)
{
    s_node_t *n = *n_p;
    close(n->ready_pipe[0]);
    close(n->ready_pipe[1]);
    hb_log_destroy(&n->log);
    free(n);
    *n_p = NULL;
}

static void
s_node_stop(s_node_t **n_p)
{
    s_node_join(*n_p);
    s_node_free(n_p);
}

/* -------------------------------------------------- fixture: 2 brokers -- */

typedef struct {
    test_proc_t *broker[2];
    char front[2][256];
    char back[2][256];
    char both[600];
    char *dir;
    void *zctx;
    void *socks[16]; // closed by the teardown, even after a failure
    size_t n_socks;
    s_node_t *nodes[4]; // stopped by the teardown if still running
} fixture_t;

static int
s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    for (int i = 0; i < 2; i++) {
        f->broker[i] = test_proc_broker(f->front[i], sizeof f->front[i]);
        assert_non_null(f->broker[i]);
        test_bus_back_of(f->front[i], f->back[i], sizeof f->back[i]);
    }
    snprintf(f->both, sizeof f->both, "%s,%s", f->front[0], f->front[1]);
    f->dir = test_proc_tmpdir();
    f->zctx = zmq_ctx_new();
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    fixture_t *f = *state;
    for (size_t i = 0; i < f->n_socks; i++)
        zmq_close(f->socks[i]);
    zmq_ctx_term(f->zctx);
    for (size_t i = 0; i < 4; i++)
        if (f->nodes[i])
            s_node_stop(&f->nodes[i]);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(test_proc_stop(f->broker[i], SIGTERM, 5000), 0);
        test_proc_destroy(&f->broker[i]);
    }
    test_proc_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void *
s_sub(fixture_t *f, int broker, const char *prefix)
{
    void *sub = zmq_socket(f->zctx, ZMQ_SUB);
    int zero = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, prefix, strlen(prefix));
    assert_int_equal(zmq_connect(sub, f->back[broker]), 0);
    assert_true(f->n_socks < 16);
    f->socks[f->n_socks++] = sub;
    return sub;
}

//  Receive and decode the next message within the deadline.
static bool
s_recv(void *sub, int64_t deadline, proto_msg_t *msg)
{
    for (;;) {
        int64_t left = deadline - hb_clock_mono_ms();
        if (left <= 0)
            return false;
        zmq_pollitem_t item = {.socket = sub, .events = ZMQ_POLLIN};
        if (zmq_poll(&item, 1, (long)left) <= 0)
            continue;
        char topic[256];
        uint8_t body[PROTO_MAX_FRAME];
        int tn = zmq_recv(sub, topic, sizeof topic, 0);
        int bn = zmq_recv(sub, body, sizeof body, 0);
        assert_true(tn > 0 && bn > 0);
        if (proto_codec_decode(topic, (size_t)tn, body, (size_t)bn, msg) ==
            HB_OK)
            return true;
    }
}

static uint64_t
s_counter(const proto_msg_t *msg, const char *name)
{
    for (uint32_t i = 0; i < msg->u.node.n_counters; i++)
        if (strcmp(msg->u.node.counters[i].name, name) == 0)
            return msg->u.node.counters[i].value;
    return UINT64_MAX;
}

/* ------------------------------------------------------------- tests -- */

static void
test_runtime_ready_heartbeat_and_ask(void **state)
{
    fixture_t *f = *state;
    void *hb = s_sub(f, 0, "node.probe-1");
    void *ask = s_sub(f, 1, "ask.");
    f->nodes[0] = s_node_start("probe-1", f->both, f->dir);
    // The first ask.* may predate our subscription; the runtime repeats it
    // one heartbeat later, and a heartbeat comes every 100 ms.
    proto_msg_t msg;
    int64_t deadline = hb_clock_mono_ms() + S_WAIT_MS;
    assert_true(s_recv(hb, deadline, &msg));
    assert_int_equal(msg.kind, PROTO_KIND_NODE);
    assert_string_equal(msg.subject, "probe-1");
    assert_string_equal(msg.sender, "probe-1");
    assert_string_equal(msg.u.node.role, "probe");
    assert_true(msg.seq >= 1);
    assert_int_equal(s_counter(&msg, "rejected"), 0);
    assert_int_equal(s_counter(&msg, "seen"), 0);         // the role's counters
    assert_int_equal(s_counter(&msg, "owned"), S_AGENTS); // alone: all
    assert_int_equal(s_counter(&msg, "peers"), 0);
    assert_int_equal(msg.u.node.n_counters, 7 + 3); // runtime's + role's
    assert_int_not_equal(s_counter(&msg, "received"), 424242);
    proto_msg_clear(&msg);
    if (!s_recv(ask, deadline, &msg))
        fail_msg("no ask.* within %d ms", S_WAIT_MS);
    assert_int_equal(msg.kind, PROTO_KIND_ASK);
    assert_string_equal(msg.u.ask.target, "*");
    proto_msg_clear(&msg);
    // on_tick runs (every 20 ms here): a later heartbeat shows ticks.
    bool ticked = false;
    while (!ticked && s_recv(hb, deadline, &msg)) {
        uint64_t ticks = s_counter(&msg, "ticks");
        ticked = ticks >= 2 && ticks != UINT64_MAX;
        proto_msg_clear(&msg);
    }
    assert_true(ticked);
    s_node_stop(&f->nodes[0]);
}

//  Send one message (or raw frames) on `pub`.
static void
s_send_err(void *pub, const char *sender, uint64_t seq)
{
    proto_msg_t msg;
    proto_msg_init(&msg, PROTO_KIND_ERROR);
    msg.subject = sender;
    msg.version = PROTO_VERSION;
    msg.sender = sender;
    msg.seq = seq;
    msg.ts_us = 1;
    msg.u.error.op = "load";
    msg.u.error.error_class = "TimeoutError";
    char topic[PROTO_MAX_TOPIC + 1];
    uint8_t body[1024];
    size_t len = 0;
    size_t tlen = proto_codec_topic(&msg, topic, sizeof topic);
    assert_true(tlen > 0);
    assert_int_equal(proto_codec_encode(&msg, body, sizeof body, &len), HB_OK);
    assert_int_equal(zmq_send(pub, topic, tlen, ZMQ_SNDMORE), (int)tlen);
    assert_int_equal(zmq_send(pub, body, len, 0), (int)len);
}

static void *
s_pub(fixture_t *f, int broker)
{
    void *pub = zmq_socket(f->zctx, ZMQ_PUB);
    int zero = 0;
    zmq_setsockopt(pub, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(pub, f->front[broker]), 0);
    assert_true(f->n_socks < 16);
    f->socks[f->n_socks++] = pub;
    return pub;
}

//  Our PUBs learn the node's subscription through the broker some time
//  after connecting: send probes until the role echoes one.
static void
s_wait_path(void *pub, void *echo, const char *sender)
{
    int64_t deadline = hb_clock_mono_ms() + S_WAIT_MS;
    uint64_t seq = 0;
    proto_msg_t msg;
    for (;;) {
        s_send_err(pub, sender, ++seq);
        if (s_recv(echo, hb_clock_mono_ms() + 50, &msg)) {
            proto_msg_clear(&msg);
            return;
        }
        if (hb_clock_mono_ms() > deadline)
            fail_msg("no echo from the node through %s", sender);
    }
}

//  Two-frame messages with well-formed topics and non-empty bodies (so
//  they pass the broker) that the decoder must refuse: a map claiming 4
//  billion entries, not msgpack, an empty map, a byte after the body.
typedef struct {
    const char *topic;
    const char *body;
    size_t len;
} s_garbage_t;

static const s_garbage_t s_garbage[] = {
    {"err.g1", "\xdf\xff\xff\xff\xff", 5},
    {"err.g2", "\xc1\xc1", 2},
    {"err.g3", "\x80", 1},
    {"err.g4", "\x81\xa1v\x01\x00", 5},
};
#define S_N_GARBAGE (sizeof s_garbage / sizeof s_garbage[0])

static void
s_send_garbage(void *pub)
{
    for (size_t i = 0; i < S_N_GARBAGE; i++) {
        const s_garbage_t *g = &s_garbage[i];
        assert_int_equal(zmq_send(pub, g->topic, strlen(g->topic), ZMQ_SNDMORE),
                         (int)strlen(g->topic));
        assert_int_equal(zmq_send(pub, g->body, g->len, 0), (int)g->len);
    }
}

static void
test_runtime_dedupes_two_brokers_counts_garbage_and_gaps(void **state)
{
    fixture_t *f = *state;
    void *echo = s_sub(f, 0, "metric.probe-1");
    void *beats = s_sub(f, 0, "node.probe-1");
    f->nodes[0] = s_node_start("probe-1", f->both, f->dir);
    void *pub[2] = {s_pub(f, 0), s_pub(f, 1)};
    // Separate probe senders prove both paths are open before counting.
    s_wait_path(pub[0], echo, "path-0");
    s_wait_path(pub[1], echo, "path-1");
    // Each message goes through both brokers; the role must see it once.
    enum { N = 50 };
    for (uint64_t seq = 1; seq <= N; seq++)
        for (int b = 0; b < 2; b++)
            s_send_err(pub[b], "agent-1", seq);
    s_send_err(pub[0], "agent-1", N + 3); // N+1 and N+2 never sent: a gap
    // Garbage bodies, on broker 0 only so each counts once (the broker
    // itself drops wrong frame counts and malformed topics).
    s_send_garbage(pub[0]);
    // The echo shows what reached the role: 1..N once each, then N+3.
    bool got[N + 4] = {false};
    proto_msg_t msg;
    int64_t deadline = hb_clock_mono_ms() + S_WAIT_MS;
    int echoes = 0;
    while (!got[N + 3]) {
        if (!s_recv(echo, deadline, &msg))
            fail_msg("only %d echoes arrived", echoes);
        if (strcmp(msg.u.metric.name, "agent-1") == 0) {
            uint64_t seq = (uint64_t)msg.u.metric.value;
            assert_true(seq >= 1 && seq <= N + 3);
            assert_false(got[seq]); // a second echo = a duplicate let in
            got[seq] = true;
            echoes++;
        }
        proto_msg_clear(&msg);
    }
    // The heartbeat's counters settle at the exact figures.
    bool settled = false;
    while (!settled && s_recv(beats, deadline, &msg)) {
        settled = s_counter(&msg, "rejected") == S_N_GARBAGE &&
                  s_counter(&msg, "duplicates") == N &&
                  s_counter(&msg, "gaps") == 2;
        proto_msg_clear(&msg);
    }
    assert_true(settled);
    s_node_stop(&f->nodes[0]);
}

static void
test_runtime_rejections_counted_per_code(void **state)
{
    fixture_t *f = *state;
    void *beats = s_sub(f, 0, "node.probe-9");
    f->nodes[0] = s_node_start("probe-9", f->front[0], f->dir);
    void *pub = s_pub(f, 0);
    void *echo = s_sub(f, 0, "metric.probe-9");
    s_wait_path(pub, echo, "path-9");
    s_send_garbage(pub);
    // The codes the runtime must have counted are the decoder's own.
    proto_codec_rejects_t expect = {{0}, 0};
    for (size_t i = 0; i < S_N_GARBAGE; i++) {
        const s_garbage_t *g = &s_garbage[i];
        proto_msg_t out;
        hb_err_t code = proto_codec_decode(g->topic, strlen(g->topic), g->body,
                                           g->len, &out);
        assert_int_not_equal(code, HB_OK);
        proto_codec_reject(&expect, code);
    }
    proto_msg_t msg;
    int64_t deadline = hb_clock_mono_ms() + S_WAIT_MS;
    bool settled = false;
    while (!settled && s_recv(beats, deadline, &msg)) {
        settled = s_counter(&msg, "rejected") == S_N_GARBAGE;
        proto_msg_clear(&msg);
    }
    assert_true(settled);
    s_node_join(f->nodes[0]);
    assert_int_equal(f->nodes[0]->stats.rejected, S_N_GARBAGE);
    assert_int_equal(f->nodes[0]->rejects.total, S_N_GARBAGE);
    assert_memory_equal(f->nodes[0]->rejects.by_code, expect.by_code,
                        sizeof expect.by_code);
    assert_int_equal(f->nodes[0]->stats.duplicates, 0);
    s_node_free(&f->nodes[0]);
}

//  Wait for a heartbeat of `id` whose "owned" is `owned` and "peers" is
//  `peers`.
static void
s_wait_ownership(void *beats, const char *id, uint64_t owned, uint64_t peers,
                 uint64_t *got_owned)
{
    int64_t deadline = hb_clock_mono_ms() + S_WAIT_MS;
    proto_msg_t msg;
    while (s_recv(beats, deadline, &msg)) {
        bool match = strcmp(msg.sender, id) == 0 &&
                     s_counter(&msg, "peers") == peers &&
                     (owned == UINT64_MAX || s_counter(&msg, "owned") == owned);
        if (match && got_owned)
            *got_owned = s_counter(&msg, "owned");
        proto_msg_clear(&msg);
        if (match)
            return;
    }
    fail_msg("%s never reported owned=%llu peers=%llu", id,
             (unsigned long long)owned, (unsigned long long)peers);
}

static void
test_runtime_two_nodes_share_agents_then_one_takes_all(void **state)
{
    fixture_t *f = *state;
    void *beats = s_sub(f, 0, "node.probe-");
    f->nodes[0] = s_node_start("probe-a", f->both, f->dir);
    f->nodes[1] = s_node_start("probe-b", f->both, f->dir);
    uint64_t owned_a = 0, owned_b = 0;
    // Each sees the other; ownership splits the agents with no overlap.
    // Each heartbeat carries the node's view at that moment: wait until
    // a pair of heartbeats (one per node) agrees.
    for (int round = 0; round < 50; round++) {
        s_wait_ownership(beats, "probe-a", UINT64_MAX, 1, &owned_a);
        s_wait_ownership(beats, "probe-b", UINT64_MAX, 1, &owned_b);
        if (owned_a + owned_b == S_AGENTS)
            break;
    }
    assert_int_equal(owned_a + owned_b, S_AGENTS);
    assert_true(owned_a > 0 && owned_b > 0);
    // b stops: after three heartbeat intervals a owns everything.
    s_node_stop(&f->nodes[1]);
    s_wait_ownership(beats, "probe-a", S_AGENTS, 0, NULL);
    s_node_stop(&f->nodes[0]);
}

/* ---------------------------------------------------------- the binary -- */

//  Run build/bin/healbus-node with `args`, stdout+stderr into `out`;
//  returns the exit status.
static int
s_run_node(const char *const *args, char *out, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/healbus-node", TEST_BIN_DIR);
    const char *argv[16] = {"healbus-node"};
    int argc = 1;
    for (; args[argc - 1]; argc++)
        argv[argc] = args[argc - 1];
    argv[argc] = NULL;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, path, &fa, NULL, (char **)argv, environ),
                     0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < len && (r = read(fds[0], out + n, len - n - 1)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

//  The first role listed by --help, or false when none is compiled in.
static bool
s_first_role(char *role, size_t len)
{
    char out[8192];
    const char *args[] = {"--help", NULL};
    assert_int_equal(s_run_node(args, out, sizeof out), 0);
    const char *p = strstr(out, "roles:\n  ");
    if (!p || strncmp(p + 9, "(none", 5) == 0)
        return false;
    p += 9;
    size_t n = strcspn(p, " \n");
    snprintf(role, len, "%.*s", (int)n, p);
    return true;
}

static void
test_binary_help_and_usage_errors(void **state)
{
    (void)state;
    char out[8192];
    const char *help[] = {"--help", NULL};
    assert_int_equal(s_run_node(help, out, sizeof out), 0);
    assert_non_null(strstr(out, "usage: healbus-node --role ROLE"));
    assert_non_null(strstr(out, "roles:\n"));
    assert_non_null(strstr(out, "--data-dir DIR"));
    const char *bad_flag[] = {"--role", "healer", "--frobnicate", NULL};
    assert_int_equal(s_run_node(bad_flag, out, sizeof out), 2);
    assert_non_null(strstr(out, "unknown option '--frobnicate'"));
    const char *no_value[] = {"--role", NULL};
    assert_int_equal(s_run_node(no_value, out, sizeof out), 2);
    assert_non_null(strstr(out, "--role needs a value"));
    const char *no_role[] = {"--id", "x", NULL};
    assert_int_equal(s_run_node(no_role, out, sizeof out), 2);
    assert_non_null(strstr(out, "--role ROLE is required"));
    const char *unknown[] = {"--role", "wizard", NULL};
    assert_int_equal(s_run_node(unknown, out, sizeof out), 2);
    assert_non_null(strstr(out, "unknown role 'wizard'; this build has:"));
    char role[64];
    if (s_first_role(role, sizeof role))
        assert_non_null(strstr(out, role));
    const char *bad_beat[] = {"--role", "x", "--heartbeat", "0", NULL};
    assert_int_equal(s_run_node(bad_beat, out, sizeof out), 2);
    assert_non_null(strstr(out, "--heartbeat '0': give seconds"));
    const char *bad_set[] = {"--set", "NoEquals", "--role", "x", NULL};
    assert_int_equal(s_run_node(bad_set, out, sizeof out), 2);
    assert_non_null(strstr(out, "--set 'NoEquals'"));
    const char *bad_conf[] = {"--config", "/nonexistent/node.conf", "--role",
                              "x", NULL};
    assert_int_equal(s_run_node(bad_conf, out, sizeof out), 2);
    assert_non_null(strstr(out, "config: /nonexistent/node.conf: No such"));
}

static void
test_binary_usage_errors_need_a_role(void **state)
{
    fixture_t *f = *state;
    char role[64];
    if (!s_first_role(role, sizeof role))
        fail_msg("healbus-node --help lists no role");
    char out[8192];
    const char *bad_id[] = {"--role", role, "--id", "../up", NULL};
    assert_int_equal(s_run_node(bad_id, out, sizeof out), 2);
    assert_non_null(strstr(out, "--id '../up'"));
    const char *bad_broker[] = {"--role", role, "--broker", "udp://h:1", NULL};
    assert_int_equal(s_run_node(bad_broker, out, sizeof out), 2);
    assert_non_null(strstr(out, "bad broker endpoint 'udp://h:1'"));
    // A data directory that cannot be made is a runtime failure: exit 1.
    char file[4200], under[4300];
    snprintf(file, sizeof file, "%s/plain-file", f->dir);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    snprintf(under, sizeof under, "%s/data", file);
    const char *bad_dir[] = {"--role",     role,   "--broker",
                             f->front[0],  "--id", "dir-1",
                             "--data-dir", under,  NULL};
    assert_int_equal(s_run_node(bad_dir, out, sizeof out), 1);
    assert_non_null(strstr(out, "Not a directory"));
}

static void
test_binary_ready_line_and_sigterm(void **state)
{
    fixture_t *f = *state;
    char role[64];
    if (!s_first_role(role, sizeof role))
        fail_msg("healbus-node --help lists no role");
    char data[4200];
    snprintf(data, sizeof data, "%s/bin-node", f->dir);
    const char *argv[] = {"healbus-node", "--role",      role,    "--broker",
                          f->both,        "--id",        "bin-1", "--data-dir",
                          data,           "--heartbeat", "0.2",   NULL};
    test_proc_t *p = test_proc_start(argv, "healbus-node ready", S_WAIT_MS);
    assert_non_null(p);
    char buf[4200];
    assert_true(test_proc_field(p, "role", buf, sizeof buf));
    assert_string_equal(buf, role);
    assert_true(test_proc_field(p, "id", buf, sizeof buf));
    assert_string_equal(buf, "bin-1");
    assert_true(test_proc_field(p, "data", buf, sizeof buf));
    assert_string_equal(buf, data); // under /tmp, already absolute
    assert_int_equal(test_proc_stop(p, SIGTERM, S_WAIT_MS), 0);
    test_proc_destroy(&p);
    // Restarted with the same id and directory, and stopped by SIGINT.
    p = test_proc_start(argv, "healbus-node ready", S_WAIT_MS);
    assert_non_null(p);
    assert_true(test_proc_field(p, "data", buf, sizeof buf));
    assert_string_equal(buf, data);
    assert_int_equal(test_proc_stop(p, SIGINT, S_WAIT_MS), 0);
    test_proc_destroy(&p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)
        T(test_runtime_ready_heartbeat_and_ask),
        T(test_runtime_dedupes_two_brokers_counts_garbage_and_gaps),
        T(test_runtime_rejections_counted_per_code),
        T(test_runtime_two_nodes_share_agents_then_one_takes_all),
        cmocka_unit_test(test_binary_help_and_usage_errors),
        T(test_binary_usage_errors_need_a_role),
        T(test_binary_ready_line_and_sigterm),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
