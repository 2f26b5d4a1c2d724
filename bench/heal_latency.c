/*  heal_latency.c - how long healing takes on the bus, against the bare
    libzmq round trip measured in the same run.

      heal:  this process plays the agents with a raw PUB/SUB pair: it
             publishes a heal request (proto_codec_encode) to a real
             healbus-broker, a real `healbus-node --role healer` answers
             with a fix, and this process answers that with a fix result,
             which it also receives back through the broker.
      raw:   PUB -> zmq_proxy (XSUB/XPUB, own process) -> an echo process
             that answers each request with a body of the fix's size ->
             zmq_proxy -> SUB, then a fix-result-sized message through the
             proxy back to our own SUB.

    Both legs are timed on this process's monotonic clock:
      fix   = request sent -> reply received (one round trip);
      fixres = fix + (fix result sent -> fix result received).
    "fix result reaching the healer" is approximated by the fix result
    reaching a subscriber of the same broker (ours): the healer is one more
    subscriber of that broker, so the bus path is the same but the healer's
    own handling of the result is not included. The agent's work between
    the fix and its result (applying and testing the fix) is excluded from
    both paths. Heal and raw samples alternate, so load from other
    processes falls on both alike.
    Usage: heal_latency [--heals N] [--agents K] [--set KEY=VALUE]...
    [--verbose] */

#include "bench_util.h"
#include "hb_clock.h"
#include "proto_codec.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define BENCH_MAX_AGENTS 256
#define BENCH_WAIT_MS 3000 // a reply later than this counts as lost
#define BENCH_WARMUP 200   // samples of each kind not counted
#define BENCH_OP "fetch"

typedef struct {
    void *pub, *sub; // ours, connected to one forwarder
} bench_pair_t;

typedef struct {
    char names[BENCH_MAX_AGENTS][32];
    uint64_t seq[BENCH_MAX_AGENTS]; // per agent: the node dedupes per sender
    uint32_t n;
    uint64_t req_id;
    size_t heal_len, fix_len, fixres_len, fix_topic_len;
    uint64_t lost;
} bench_agents_t;

typedef struct {
    double *fix, *fixres; // microseconds, one per sample
    size_t n;
} bench_samples_t;

/* ---------------------------------------------------- raw forwarder/echo -- */

//  The raw stand-in for the healer: every "heal.X" request is answered with
//  "fix.X" and a body of `fix_len` bytes; "fixres." is subscribed to and
//  dropped, as the healer subscribes to it.
static int
s_echo_main(const char *front, const char *back, size_t fix_len)
{
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB), *pub = zmq_socket(ctx, ZMQ_PUB);
    if (zmq_connect(sub, back) != 0 || zmq_connect(pub, front) != 0 ||
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "heal.", 5) != 0 ||
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "fixres.", 7) != 0 || fix_len == 0 ||
        fix_len > PROTO_MAX_FRAME)
        return 1;
    static uint8_t body[PROTO_MAX_FRAME];
    memset(body, 0xa5, fix_len);
    printf("echo ready\n");
    fflush(stdout);
    char topic[PROTO_MAX_TOPIC + 8] = "fix.";
    for (;;) {
        char in[PROTO_MAX_TOPIC + 1];
        int tl = zmq_recv(sub, in, sizeof in - 1, 0);
        if (tl < 0)
            break;
        int more = 0;
        size_t ml = sizeof more;
        zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ml);
        // Fix results are taken and dropped: the healer subscribes to them
        // too, so the broker delivers each one twice on both paths.
        if (!more || tl < 5 || strncmp(in, "heal.", 5) != 0) {
            while (more && zmq_recv(sub, body + fix_len, 0, 0) >= 0 &&
                   zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ml) == 0)
                ;
            continue;
        }
        zmq_recv(sub, body + fix_len, 0, 0); // the request body: discarded
        size_t n = (size_t)tl - 5 < PROTO_MAX_TOPIC ? (size_t)tl - 5 : 0;
        memcpy(topic + 4, in + 5, n);
        zmq_send(pub, topic, 4 + n, ZMQ_SNDMORE);
        zmq_send(pub, body, fix_len, 0);
    }
    return 0;
}

/* ------------------------------------------------------------- messages -- */

static void
s_hello(bench_agents_t *a, uint32_t i, uint8_t *buf, size_t cap, size_t *len)
{
    proto_msg_t m;
    proto_msg_init(&m, PROTO_KIND_HELLO);
    m.subject = m.sender = a->names[i];
    m.version = PROTO_VERSION;
    m.seq = ++a->seq[i];
    m.ts_us = hb_clock_wall_us();
    proto_hello_t *h = &m.u.hello;
    h->pid = (uint32_t)getpid();
    h->host = "bench";
    h->knobs[0] = (proto_knob_t){"timeout_ms",
                                 PROTO_KNOB_INT,
                                 {PROTO_VAL_INT, {.i = 250}},
                                 {PROTO_VAL_INT, {.i = 50}},
                                 {PROTO_VAL_INT, {.i = 1000000}},
                                 {0},
                                 0};
    h->knobs[1] = (proto_knob_t){"batch_size",
                                 PROTO_KNOB_INT,
                                 {PROTO_VAL_INT, {.i = 100}},
                                 {PROTO_VAL_INT, {.i = 1}},
                                 {PROTO_VAL_INT, {.i = 1024}},
                                 {0},
                                 0};
    h->n_knobs = 2;
    if (proto_codec_encode(&m, buf, cap, len) != HB_OK)
        *len = 0;
}

static void
s_heal(bench_agents_t *a, uint32_t i, uint8_t *buf, size_t cap, size_t *len)
{
    proto_msg_t m;
    proto_msg_init(&m, PROTO_KIND_HEAL);
    m.subject = m.sender = a->names[i];
    m.version = PROTO_VERSION;
    m.seq = ++a->seq[i];
    m.ts_us = hb_clock_wall_us();
    m.u.heal = (proto_heal_t){++a->req_id,
                              BENCH_OP,
                              "TimeoutError",
                              "read timed out after 250 ms",
                              3,
                              PROTO_HEAL_WAIT};
    if (proto_codec_encode(&m, buf, cap, len) != HB_OK)
        *len = 0;
}

static void
s_fixres(bench_agents_t *a, uint32_t i, const proto_fix_t *fix, uint8_t *buf,
         size_t cap, size_t *len)
{
    proto_msg_t m;
    proto_msg_init(&m, PROTO_KIND_FIXRES);
    m.subject = m.sender = a->names[i];
    m.version = PROTO_VERSION;
    m.seq = ++a->seq[i];
    m.ts_us = hb_clock_wall_us();
    m.u.fixres = (proto_fixres_t){fix->fix_id, fix->req_id,
                                  fix->op,     PROTO_OUTCOME_COMMITTED,
                                  "HB_OK",     120};
    if (proto_codec_encode(&m, buf, cap, len) != HB_OK)
        *len = 0;
}

static void
s_send(void *pub, const char *kind, const char *subject, const void *body,
       size_t len)
{
    char topic[PROTO_MAX_TOPIC + 1];
    int n = snprintf(topic, sizeof topic, "%s.%s", kind, subject);
    zmq_send(pub, topic, (size_t)n, ZMQ_SNDMORE);
    zmq_send(pub, body, len, 0);
}

//  Receive one two-frame message within the deadline; the body frame is
//  left in `body`. Returns the time the body arrived, or -1.
static int64_t
s_recv(void *sub, char *topic, size_t cap, zmq_msg_t *body, int64_t deadline)
{
    for (;;) {
        int left = (int)((deadline - bench_now_ns()) / 1000000);
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        if (left < 0 || zmq_poll(&it, 1, left) <= 0)
            return -1;
        int tl = zmq_recv(sub, topic, cap - 1, ZMQ_DONTWAIT);
        if (tl < 0)
            continue;
        topic[(size_t)tl < cap - 1 ? (size_t)tl : cap - 1] = '\0';
        if (zmq_msg_recv(body, sub, 0) >= 0)
            return bench_now_ns();
    }
}

/* -------------------------------------------------------------- samples -- */

//  One heal of agent i. Returns false when a reply never came.
static bool
s_heal_sample(bench_agents_t *a, bench_pair_t *bus, uint32_t i, double *fix_us,
              double *fixres_us)
{
    static uint8_t buf[PROTO_MAX_FRAME];
    char topic[PROTO_MAX_TOPIC + 1];
    size_t len = 0;
    s_heal(a, i, buf, sizeof buf, &len);
    uint64_t want = a->req_id;
    a->heal_len = len;
    zmq_msg_t body;
    zmq_msg_init(&body);
    int64_t t0 = bench_now_ns(), deadline = t0 + BENCH_WAIT_MS * 1000000ll;
    s_send(bus->pub, "heal", a->names[i], buf, len);
    proto_msg_t fix;
    for (;;) {
        int64_t t1 = s_recv(bus->sub, topic, sizeof topic, &body, deadline);
        if (t1 < 0) {
            zmq_msg_close(&body);
            return false;
        }
        if (proto_codec_decode(topic, strlen(topic), zmq_msg_data(&body),
                               zmq_msg_size(&body), &fix) != HB_OK)
            continue;
        if (fix.kind == PROTO_KIND_FIX && fix.u.fix.req_id == want &&
            strcmp(fix.subject, a->names[i]) == 0) {
            *fix_us = (double)(t1 - t0) / 1000.0;
            a->fix_len = zmq_msg_size(&body);
            a->fix_topic_len = strlen(topic);
            break;
        }
        proto_msg_clear(&fix); // a resent fix of an earlier heal
    }
    s_fixres(a, i, &fix.u.fix, buf, sizeof buf, &len);
    proto_msg_clear(&fix);
    a->fixres_len = len;
    int64_t t2 = bench_now_ns();
    s_send(bus->pub, "fixres", a->names[i], buf, len);
    deadline = t2 + BENCH_WAIT_MS * 1000000ll;
    int64_t t3;
    while ((t3 = s_recv(bus->sub, topic, sizeof topic, &body, deadline)) >= 0)
        if (strncmp(topic, "fixres.", 7) == 0 &&
            strcmp(topic + 7, a->names[i]) == 0)
            break;
    zmq_msg_close(&body);
    *fixres_us = *fix_us + (double)(t3 - t2) / 1000.0;
    return t3 >= 0;
}

//  One raw round trip with the same sizes, then the fix-result-sized hop.
static bool
s_raw_sample(const bench_agents_t *a, bench_pair_t *raw, uint32_t i,
             double *fix_us, double *fixres_us)
{
    static uint8_t buf[PROTO_MAX_FRAME];
    char topic[PROTO_MAX_TOPIC + 1];
    memset(buf, 0x5a,
           a->heal_len > a->fixres_len ? a->heal_len : a->fixres_len);
    zmq_msg_t body;
    zmq_msg_init(&body);
    int64_t t0 = bench_now_ns(), deadline = t0 + BENCH_WAIT_MS * 1000000ll;
    s_send(raw->pub, "heal", a->names[i], buf, a->heal_len);
    int64_t t1, t3 = -1;
    while ((t1 = s_recv(raw->sub, topic, sizeof topic, &body, deadline)) >= 0)
        if (strncmp(topic, "fix.", 4) == 0)
            break;
    if (t1 >= 0) {
        int64_t t2 = bench_now_ns();
        s_send(raw->pub, "fixres", a->names[i], buf, a->fixres_len);
        deadline = t2 + BENCH_WAIT_MS * 1000000ll;
        while ((t3 = s_recv(raw->sub, topic, sizeof topic, &body, deadline)) >=
               0)
            if (strncmp(topic, "fixres.", 7) == 0)
                break;
        *fix_us = (double)(t1 - t0) / 1000.0;
        *fixres_us = *fix_us + (double)(t3 - t2) / 1000.0;
    }
    zmq_msg_close(&body);
    return t1 >= 0 && t3 >= 0;
}

/* ---------------------------------------------------------------- setup -- */

static bool
s_pair(void *ctx, bench_pair_t *p, const char *front, const char *back)
{
    p->pub = zmq_socket(ctx, ZMQ_PUB);
    p->sub = zmq_socket(ctx, ZMQ_SUB);
    int zero = 0;
    zmq_setsockopt(p->pub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(p->sub, ZMQ_LINGER, &zero, sizeof zero);
    return zmq_setsockopt(p->sub, ZMQ_SUBSCRIBE, "fix.", 4) == 0 &&
           zmq_setsockopt(p->sub, ZMQ_SUBSCRIBE, "fixres.", 7) == 0 &&
           zmq_connect(p->sub, back) == 0 && zmq_connect(p->pub, front) == 0;
}

static void
s_pair_close(bench_pair_t *p)
{
    if (p->pub)
        zmq_close(p->pub);
    if (p->sub)
        zmq_close(p->sub);
}

//  Subscriptions travel asynchronously: repeat hellos and heals until the
//  healer's first fix comes back (the first requests may be dropped by a
//  PUB that has not heard the subscriptions yet).
static bool
s_warm_heal(bench_agents_t *a, bench_pair_t *bus)
{
    static uint8_t buf[PROTO_MAX_FRAME];
    bool up = false;
    for (int round = 0; round < 50 && !up; round++) {
        for (uint32_t i = 0; i < a->n; i++) {
            size_t len = 0;
            s_hello(a, i, buf, sizeof buf, &len);
            s_send(bus->pub, "hello", a->names[i], buf, len);
        }
        // A fresh agent name per round: a heal that did arrive leaves its
        // episode in flight, and the healer would not answer a second one.
        snprintf(a->names[a->n], sizeof a->names[0], "bench-probe-%d", round);
        double f, r;
        up = s_heal_sample(a, bus, a->n, &f, &r);
    }
    for (int k = 0; up && k < BENCH_WARMUP; k++) {
        double f, r;
        s_heal_sample(a, bus, (uint32_t)k % a->n, &f, &r);
    }
    return up;
}

static bool
s_warm_raw(const bench_agents_t *a, bench_pair_t *raw)
{
    bool up = false;
    double f, r;
    for (int round = 0; round < 50 && !up; round++)
        up = s_raw_sample(a, raw, 0, &f, &r);
    for (int k = 0; up && k < BENCH_WARMUP; k++)
        s_raw_sample(a, raw, (uint32_t)k % a->n, &f, &r);
    return up;
}

static int
s_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* --------------------------------------------------------------- report -- */

static void
s_row(const char *name, double *v, size_t n, double q[3])
{
    bench_sort(v, n);
    q[0] = bench_pct(v, n, 50), q[1] = bench_pct(v, n, 99),
    q[2] = bench_pct(v, n, 99.9);
    printf("  %-28s %9.1f %9.1f %9.1f\n", name, q[0], q[1], q[2]);
}

static void
s_report(const char *what, bench_samples_t *heal, bench_samples_t *raw,
         bool fixres)
{
    double h[3], r[3];
    printf("%s\n", what);
    s_row("raw zmq_proxy", fixres ? raw->fixres : raw->fix, raw->n, r);
    s_row("healbus broker + healer", fixres ? heal->fixres : heal->fix, heal->n,
          h);
    printf("  %-28s %8.2fx %8.2fx %8.2fx   (target p50 <= 1.30x, p99 <= "
           "1.50x: %s)\n",
           "ratio", h[0] / r[0], h[1] / r[1], h[2] / r[2],
           h[0] <= 1.3 * r[0] && h[1] <= 1.5 * r[1] ? "met" : "missed");
}

/* ----------------------------------------------------------------- main -- */

typedef struct {
    bench_proc_t broker, healer, proxy, echo;
    char front[256], back[256], rfront[256], rback[256];
    char dir[64];
    char *sets[16]; // extra --set KEY=VALUE for the healer
    int n_sets;
    bool quiet; // children's logs to /dev/null (no --verbose)
    char bin[PATH_MAX];
    char self_exe[PATH_MAX];
} bench_env_t;

static bool
s_bin_dir(bench_env_t *env)
{
    ssize_t n =
        readlink("/proc/self/exe", env->self_exe, sizeof env->self_exe - 1);
    if (n <= 0)
        return false;
    env->self_exe[n] = '\0';
    snprintf(env->bin, sizeof env->bin, "%s", env->self_exe);
    char *slash = strrchr(env->bin, '/');
    if (!slash)
        return false;
    *slash = '\0';
    return true;
}

static bool
s_start_healbus(bench_env_t *env)
{
    char path[PATH_MAX + 32], data[128];
    snprintf(path, sizeof path, "%s/healbus-broker", env->bin);
    char *bargv[] = {"healbus-broker", "--front", "tcp://127.0.0.1:*", NULL};
    if (!bench_proc_start(&env->broker, path, bargv, env->quiet) ||
        !bench_field(env->broker.line, "front", env->front,
                     sizeof env->front) ||
        !bench_field(env->broker.line, "back", env->back, sizeof env->back))
        return false;
    snprintf(data, sizeof data, "%s/data", env->dir);
    snprintf(path, sizeof path, "%s/healbus-node", env->bin);
    // Thousands of heals from a few agents in seconds would trip the
    // intensity limit (5 per minute per agent by default) and escalate
    // instead of fixing: lift it for the bench.
    char *hargv[16 + 2 * 16] = {
        "healbus-node",   "--role",   "healer",     "--id", "bench-healer",
        "--broker",       env->front, "--data-dir", data,   "--set",
        "intensity=1000", "--set",    "period_ms=1"};
    int n = 13;
    for (int i = 0; i < env->n_sets; i++) {
        hargv[n++] = "--set";
        hargv[n++] = env->sets[i];
    }
    hargv[n] = NULL;
    return bench_proc_start(&env->healer, path, hargv, env->quiet);
}

static bool
s_start_raw(bench_env_t *env, size_t fix_len)
{
    char *pargv[] = {"heal_latency", "--proxy", NULL};
    if (!bench_proc_start(&env->proxy, env->self_exe, pargv, false) ||
        !bench_field(env->proxy.line, "front", env->rfront,
                     sizeof env->rfront) ||
        !bench_field(env->proxy.line, "back", env->rback, sizeof env->rback))
        return false;
    char len[32];
    snprintf(len, sizeof len, "%zu", fix_len);
    char *eargv[] = {"heal_latency", "--echo", env->rfront,
                     env->rback,     len,      NULL};
    return bench_proc_start(&env->echo, env->self_exe, eargv, false);
}

//  User + system CPU time of a process so far, in microseconds (-1 if
//  /proc cannot tell), including the children it has reaped.
static double
s_cpu_us(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); // the command name may hold spaces
    unsigned long long ticks[4];
    // Fields after the name: state, then 10 numbers, then utime stime
    // cutime cstime.
    if (!p || sscanf(p + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                     "%llu %llu %llu %llu",
                     &ticks[0], &ticks[1], &ticks[2], &ticks[3]) != 4)
        return -1;
    return (double)(ticks[0] + ticks[1] + ticks[2] + ticks[3]) * 1e6 /
           (double)sysconf(_SC_CLK_TCK);
}

static bool
s_measure(bench_agents_t *a, bench_pair_t *bus, bench_pair_t *raw, size_t heals,
          bench_samples_t *h, bench_samples_t *r)
{
    for (size_t k = 0; k < heals; k++) {
        uint32_t i = (uint32_t)(k % a->n);
        if (s_heal_sample(a, bus, i, &h->fix[h->n], &h->fixres[h->n]))
            h->n++;
        else
            a->lost++;
        if (s_raw_sample(a, raw, i, &r->fix[r->n], &r->fixres[r->n]))
            r->n++;
        else
            a->lost++;
    }
    return h->n > 0 && r->n > 0;
}

static int
s_bench(bench_env_t *env, size_t heals, uint32_t n_agents)
{
    static bench_agents_t a;
    a.n = n_agents;
    for (uint32_t i = 0; i < n_agents; i++)
        snprintf(a.names[i], sizeof a.names[i], "bench-agent-%03u", i);
    bench_samples_t h = {calloc(heals, sizeof(double)),
                         calloc(heals, sizeof(double)), 0};
    bench_samples_t r = {calloc(heals, sizeof(double)),
                         calloc(heals, sizeof(double)), 0};
    void *ctx = zmq_ctx_new();
    bench_pair_t bus = {0}, raw = {0};
    int rc = 1;
    if (!h.fix || !h.fixres || !r.fix || !r.fixres ||
        !s_pair(ctx, &bus, env->front, env->back) || !s_warm_heal(&a, &bus) ||
        !s_start_raw(env, a.fix_len) ||
        !s_pair(ctx, &raw, env->rfront, env->rback) || !s_warm_raw(&a, &raw)) {
        fprintf(stderr, "heal_latency: setup failed (no fix or no echo)\n");
        goto out;
    }
    bench_proc_t *procs[4] = {&env->healer, &env->broker, &env->echo,
                              &env->proxy};
    double cpu[4];
    for (int i = 0; i < 4; i++)
        cpu[i] = s_cpu_us(procs[i]->pid);
    if (!s_measure(&a, &bus, &raw, heals, &h, &r))
        goto out;
    for (int i = 0; i < 4; i++)
        cpu[i] = (s_cpu_us(procs[i]->pid) - cpu[i]) / (double)heals;
    printf("heal_latency: %zu heals and %zu raw round trips (interleaved) "
           "from %u agents, %llu lost\n  bodies: heal %zu B, fix %zu B "
           "(topic %zu B), fix result %zu B\n\n  %-28s %9s %9s %9s\n",
           h.n, r.n, n_agents, (unsigned long long)a.lost, a.heal_len,
           a.fix_len, a.fix_topic_len, a.fixres_len, "microseconds", "p50",
           "p99", "p99.9");
    s_report("heal request -> fix arrives at the agent:", &h, &r, false);
    s_report("heal request -> fix result reaches a subscriber:", &h, &r, true);
    // Per heal: the healer handles heal + fixres, the broker forwards four
    // messages (heal, fix, fixres twice); likewise the echo and zmq_proxy.
    // Clock ticks are coarse: these are averages over the whole run.
    printf("\nCPU per heal (us): healer %.1f, healbus-broker %.1f; raw echo "
           "%.1f, zmq_proxy %.1f\n",
           cpu[0], cpu[1], cpu[2], cpu[3]);
    rc = 0;
out:
    s_pair_close(&bus);
    s_pair_close(&raw);
    zmq_ctx_term(ctx);
    free(h.fix), free(h.fixres), free(r.fix), free(r.fixres);
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--proxy") == 0)
        return bench_proxy_main(0);
    if (argc == 5 && strcmp(argv[1], "--echo") == 0)
        return s_echo_main(argv[2], argv[3], strtoul(argv[4], NULL, 10));
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf(
            "usage: heal_latency [--heals N] [--agents K] "
            "[--set KEY=VALUE]... [--verbose]\n  --set passes a setting to the "
            "healer (e.g. journal_flush_ms=100); --verbose shows the "
            "broker's and healer's logs\n");
        return 0;
    }
    size_t heals = (size_t)bench_arg(argc, argv, "--heals", 5000, 10, 10000000);
    uint32_t agents = (uint32_t)bench_arg(argc, argv, "--agents", 16, 1,
                                          BENCH_MAX_AGENTS - 1);
    signal(SIGPIPE, SIG_IGN);
    static bench_env_t env;
    env.quiet = true;
    for (int i = 1; i < argc; i++) {
        bool valued = !strcmp(argv[i], "--heals") ||
                      !strcmp(argv[i], "--agents") || !strcmp(argv[i], "--set");
        if (!strcmp(argv[i], "--verbose")) {
            env.quiet = false;
        } else if (!valued || i + 1 == argc ||
                   (!strcmp(argv[i], "--set") && env.n_sets == 16)) {
            fprintf(stderr,
                    "heal_latency: bad or extra argument '%s' (see "
                    "--help)\n",
                    argv[i]);
            return 2;
        } else if (!strcmp(argv[i++], "--set")) {
            env.sets[env.n_sets++] = argv[i];
        }
    }
    snprintf(env.dir, sizeof env.dir, "/tmp/heal-latency-XXXXXX");
    if (!s_bin_dir(&env) || !mkdtemp(env.dir)) {
        fprintf(stderr, "heal_latency: no bin dir or temp dir\n");
        return 1;
    }
    int rc = 1;
    if (s_start_healbus(&env))
        rc = s_bench(&env, heals, agents);
    bench_proc_stop(&env.echo);
    bench_proc_stop(&env.proxy);
    bench_proc_stop(&env.healer);
    bench_proc_stop(&env.broker);
    nftw(env.dir, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
