/*  bus_throughput.c - messages per second through the bus, two ways:

      healbus: an agent (libhealbus, hb_agent_error) -> a real
               healbus-broker process -> a SUB subscriber;
      raw:     a PUB -> zmq_proxy (XSUB/XPUB, in a child process) -> SUB,
               with bodies of the same size.

    Each run publishes as fast as the publisher can and counts only the
    messages the subscriber receives in a window of --seconds that opens
    after a short warm-up (reports the agent drops never arrive, so they
    never count); runs of the kinds alternate, --runs of each, and the
    medians are compared.  --only agent runs the agent case alone (for a
    profiler).  Usage: bus_throughput [--seconds S] [--runs N] [--only
    agent]; pin it with `taskset -c 0 bus_throughput` to measure on one
    CPU. */

#include "bench_util.h"
#include "healbus.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define BENCH_MAX_RUNS 15
#define BENCH_WARMUP_S 0.3             // received but not counted
#define BENCH_HWM 10000  // the agent's and the broker's high-water mark
#define BENCH_PREFIX "err."            // what the subscriber takes
#define BENCH_TOPIC "err.bench-agent" // the agent's topic, for raw too

typedef struct {
    char front[256];  // publishers connect here
    char back[256];   // subscribers connect here
    bench_proc_t proc; // the forwarder process (broker or zmq_proxy)
} bench_fwd_t;

typedef struct {
    const bench_fwd_t *fwd;
    size_t body_len;  // raw: bytes per body
    atomic_bool stop;
    uint64_t sent, drops; // agent: its counters when it stopped
} bench_pub_t;

/* -------------------------------------------------------- forwarders -- */

//  Start `path` with `argv` and read its ready line from its stdout.
static bool
s_fwd_start(const char *path, char *const argv[], bench_fwd_t *fwd)
{
    return bench_proc_start(&fwd->proc, path, argv, false) &&
           bench_field(fwd->proc.line, "front", fwd->front,
                       sizeof fwd->front) &&
           bench_field(fwd->proc.line, "back", fwd->back, sizeof fwd->back);
}

static void
s_fwd_stop(bench_fwd_t *fwd)
{
    bench_proc_stop(&fwd->proc);
}

/* -------------------------------------------------------- publishers -- */

static void *
s_raw_publisher(void *arg)
{
    bench_pub_t *p = arg;
    void *ctx = zmq_ctx_new();
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    int zero = 0, hwm = BENCH_HWM; // as deep a pipe as the agent's
    zmq_setsockopt(pub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(pub, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_connect(pub, p->fwd->front);
    char body[4096];
    memset(body, 'x', sizeof body);
    while (!atomic_load_explicit(&p->stop, memory_order_relaxed)) {
        zmq_send(pub, BENCH_TOPIC, strlen(BENCH_TOPIC), ZMQ_SNDMORE);
        zmq_send(pub, body, p->body_len, 0);
    }
    zmq_close(pub);
    zmq_ctx_term(ctx);
    return NULL;
}

//  Error text that makes the agent's encoded error body about 128 bytes
//  with the names below (the run prints the size it saw).
static const char s_text[] = "cannot open /data/in-0042.csv: "
                             "gone";

static void *
s_agent_publisher(void *arg)
{
    bench_pub_t *p = arg;
    hb_err_t why = HB_OK;
    hb_agent_t *agent = hb_agent_new("bench-agent", p->fwd->front, &why);
    if (!agent) {
        fprintf(stderr, "bus_throughput: hb_agent_new: %s\n",
                hb_err_str(why));
        return NULL;
    }
    while (!atomic_load_explicit(&p->stop, memory_order_relaxed))
        hb_agent_error(agent, "load_csv", "FileNotFoundError", 1, "%s",
                       s_text);
    p->sent = hb_agent_sent(agent);
    p->drops = hb_agent_drops(agent);
    hb_agent_destroy(&agent);
    return NULL;
}

/* -------------------------------------------------------- one run ----- */

//  Subscribe on fwd->back, run `publisher` until the counting window of
//  `seconds` has passed; returns messages per second received in it
//  (negative when nothing came) and the body size in *body_len.
static double
s_run(bench_pub_t *p, void *(*publisher)(void *), double seconds,
      size_t *body_len)
{
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, BENCH_PREFIX, strlen(BENCH_PREFIX));
    zmq_connect(sub, p->fwd->back);
    atomic_store(&p->stop, false);
    pthread_t thread;
    if (pthread_create(&thread, NULL, publisher, p) != 0)
        return -1;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    // The window opens BENCH_WARMUP_S after the first message (connections
    // up, buffers and caches warm) and closes `seconds` later; only
    // messages received inside it count.
    uint64_t count = 0, counted = 0;
    double first = 0, start = 0, now = 0;
    int timeout_ms = 10000; // a stalled stream ends the run
    zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    for (;;) {
        if (zmq_msg_recv(&msg, sub, 0) < 0)
            break;                                   // the topic frame
        if (zmq_msg_recv(&msg, sub, 0) < 0)
            break;                                   // the body frame
        if (count++ == 0)
            first = bench_now_s();
        // Reading the clock on every message would cost the subscriber
        // more than the receive: look at it every 256 messages.
        if ((count & 255) != 0)
            continue;
        // The agent's bodies grow with the sequence number: keep the
        // latest size, which the raw runs then use.
        *body_len = zmq_msg_size(&msg);
        now = bench_now_s();
        if (start == 0 && now - first >= BENCH_WARMUP_S) {
            start = now;
            counted = count;
        } else if (start > 0 && now - start >= seconds)
            break;
    }
    atomic_store(&p->stop, true);
    pthread_join(thread, NULL);
    zmq_msg_close(&msg);
    int zero = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    if (start == 0 || now <= start || count <= counted)
        return -1;
    return (double)(count - counted) / (now - start);
}

typedef struct {
    double seconds;  // counting window per run
    int runs;
    bool only_agent; // --only agent: no raw cases, for profiling
} bench_opts_t;

static bool
s_parse_args(int argc, char **argv, bench_opts_t *o)
{
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            o->seconds = strtod(argv[++i], &end);
            if (*end || !(o->seconds >= 0.1 && o->seconds <= 60))
                return false;
        } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > BENCH_MAX_RUNS)
                return false;
            o->runs = (int)v;
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc &&
                   strcmp(argv[i + 1], "agent") == 0) {
            o->only_agent = true;
            i++;
        } else
            return false;
    }
    return true;
}

//  One round: the agent through the broker, a raw PUB through the broker
//  (which tells the broker's share from the agent library's), a raw PUB
//  through zmq_proxy.  Returns false when a forwarder does not start or
//  nothing arrives.
static bool
s_round(const char *dir, const bench_opts_t *o, double rate[3],
        size_t *body_len)
{
    char broker[PATH_MAX + 32], self[PATH_MAX + 32];
    snprintf(broker, sizeof broker, "%s/healbus-broker", dir);
    snprintf(self, sizeof self, "%s/bus_throughput", dir);
    char *broker_argv[] = {broker, "--front", "tcp://127.0.0.1:*",
                           "--stats-interval", "0", NULL};
    char *proxy_argv[] = {self, "--proxy", NULL};
    bench_fwd_t fwd;
    bench_pub_t p = {.fwd = &fwd};
    size_t seen = 0;
    if (!s_fwd_start(broker, broker_argv, &fwd))
        return false;
    rate[0] = s_run(&p, s_agent_publisher, o->seconds, body_len);
    uint64_t calls = p.sent + p.drops;
    printf("  agent: %.0f msg/s delivered; of its %llu calls %.1f%% were "
           "dropped (queue full or socket full)\n",
           rate[0], (unsigned long long)calls,
           calls ? 100.0 * (double)p.drops / (double)calls : 0.0);
    if (o->only_agent) {
        s_fwd_stop(&fwd);
        return rate[0] > 0;
    }
    p.body_len = *body_len; // raw bodies: the size of the agent's
    if (rate[0] > 0)
        rate[1] = s_run(&p, s_raw_publisher, o->seconds, &seen);
    s_fwd_stop(&fwd);
    if (rate[0] <= 0 || rate[1] <= 0 ||
        !s_fwd_start(self, proxy_argv, &fwd))
        return false;
    rate[2] = s_run(&p, s_raw_publisher, o->seconds, &seen);
    s_fwd_stop(&fwd);
    return rate[2] > 0;
}

int
main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--proxy") == 0)
        return bench_proxy_main(BENCH_HWM);
    bench_opts_t o = {.seconds = 1.5, .runs = 5};
    if (!s_parse_args(argc, argv, &o)) {
        fprintf(stderr, "usage: bus_throughput [--seconds 0.1-60] "
                        "[--runs 1-15] [--only agent]\n");
        return 2;
    }
    char dir[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n <= 0)
        return 1;
    dir[n] = '\0';
    *strrchr(dir, '/') = '\0';
    signal(SIGPIPE, SIG_IGN);
    double rate[4][BENCH_MAX_RUNS];
    size_t body_len = 0;
    for (int i = 0; i < o.runs; i++) {
        double r[3] = {0, 0, 0};
        if (!s_round(dir, &o, r, &body_len)) {
            fprintf(stderr, "bus_throughput: run %d failed\n", i + 1);
            return 1;
        }
        for (int k = 0; k < 3; k++)
            rate[k][i] = r[k];
        // Other load comes and goes: the ratio within one round compares
        // cases measured seconds apart, so its median is reported too.
        rate[3][i] = r[2] > 0 ? r[0] / r[2] : 0;
        printf("run %d: agent+broker %.0f, pub+broker %.0f, pub+zmq_proxy "
               "%.0f msg/s\n",
               i + 1, r[0], r[1], r[2]);
        fflush(stdout);
    }
    double agent = bench_median(rate[0], (size_t)o.runs);
    printf("body %zu bytes, %d runs of %.1f s each (after %.1f s warm-up), "
           "medians:\n",
           body_len, o.runs, o.seconds, BENCH_WARMUP_S);
    printf("healbus agent -> healbus-broker -> SUB: %10.0f msg/s\n", agent);
    if (o.only_agent)
        return 0;
    double pub = bench_median(rate[1], (size_t)o.runs);
    double proxy = bench_median(rate[2], (size_t)o.runs);
    printf("raw PUB       -> healbus-broker -> SUB: %10.0f msg/s\n", pub);
    printf("raw PUB       -> zmq_proxy      -> SUB: %10.0f msg/s\n", proxy);
    printf("ratio healbus / raw zmq_proxy: %.3f  (broker alone: %.3f; "
           "median of per-run ratios: %.3f)\n",
           agent / proxy, pub / proxy,
           bench_median(rate[3], (size_t)o.runs));
    return 0;
}
