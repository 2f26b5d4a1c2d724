/*  publish_cost.c - what one publish costs the caller.

    Median nanoseconds per hb_agent_error and hb_agent_metric call on the
    calling thread, and in the same run the median cost of the bare
    alternative: format and encode the same message (proto codec, msgpack)
    and zmq_send it with ZMQ_DONTWAIT on a PUB.  Both publish into one sink
    in this process (an XSUB subscribed to everything, drained by a thread,
    standing in for a broker), so both pay a real send into a live pipe.
    Usage: publish_cost [--rounds N]   (prints one line per figure) */

#include "bench_util.h"
#include "hb_agent_int.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 32       // calls timed together (clock cost amortised)
#define FLUSH_EVERY 8  // batches between flushes, so the queue never fills

//  The sink: an XSUB that subscribes to everything and reads until $TERM.
static void
s_sink(zsock_t *pipe, void *arg)
{
    zsock_t *xsub = zsock_new(ZMQ_XSUB);
    int port = zsock_bind(xsub, "tcp://127.0.0.1:*");
    *(int *)arg = port;
    zsock_send(xsub, "b", "\x01", (size_t)1); // subscribe to all
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, xsub, NULL);
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (;;) {
        void *which = zpoller_wait(poller, -1);
        if (which != xsub)
            break;
        while (zmq_msg_recv(&m, zsock_resolve(xsub), ZMQ_DONTWAIT) >= 0)
            ;
    }
    zmq_msg_close(&m);
    zpoller_destroy(&poller);
    zsock_destroy(&xsub);
}

typedef struct {
    void *pub;          // bare PUB
    uint8_t body[PROTO_MAX_FRAME];
    uint64_t seq;
} s_bare_t;

static void
s_bare_send(s_bare_t *b, proto_msg_t *m)
{
    char topic[PROTO_MAX_TOPIC + 1];
    size_t len = 0;
    size_t tlen = proto_codec_topic(m, topic, sizeof topic);
    if (tlen == 0 || proto_codec_encode(m, b->body, sizeof b->body, &len))
        return;
    zmq_send(b->pub, topic, tlen, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(b->pub, b->body, len, ZMQ_DONTWAIT);
}

//  The bare error: same fields, same formatting, as the agent would send.
static void
s_bare_error(s_bare_t *b, int i)
{
    char text[PROTO_MAX_TEXT + 1];
    snprintf(text, sizeof text, "read of block %d failed: short count", i);
    proto_msg_t m;
    proto_msg_init(&m, PROTO_KIND_ERROR);
    m.subject = m.sender = "bench-agent";
    m.version = PROTO_VERSION;
    m.seq = ++b->seq;
    m.ts_us = bench_now_ns() / 1000;
    m.u.error = (proto_error_t){.op = "load_csv",
                                .error_class = "IOError",
                                .text = text,
                                .attempt = 1};
    s_bare_send(b, &m);
}

static void
s_bare_metric(s_bare_t *b, int i)
{
    proto_msg_t m;
    proto_msg_init(&m, PROTO_KIND_METRIC);
    m.subject = m.sender = "bench-agent";
    m.version = PROTO_VERSION;
    m.seq = ++b->seq;
    m.ts_us = bench_now_ns() / 1000;
    m.u.metric = (proto_metric_t){.name = "queue_depth", .value = i};
    s_bare_send(b, &m);
}

typedef enum { S_AGENT_ERROR, S_AGENT_METRIC, S_BARE_ERROR, S_BARE_METRIC } s_what_t;

static double
s_measure(s_what_t what, hb_agent_t *a, s_bare_t *b, size_t rounds,
          double *samples)
{
    int i = 0;
    for (size_t r = 0; r < rounds; r++) {
        if (a && r % FLUSH_EVERY == 0)
            hb_agent_flush(a, 10000); // outside the timed batches
        int64_t t0 = bench_now_ns();
        for (int k = 0; k < BATCH; k++, i++) {
            switch (what) {
            case S_AGENT_ERROR:
                hb_agent_error(a, "load_csv", "IOError", 1,
                               "read of block %d failed: short count", i);
                break;
            case S_AGENT_METRIC:
                hb_agent_metric(a, "queue_depth", i);
                break;
            case S_BARE_ERROR:
                s_bare_error(b, i);
                break;
            case S_BARE_METRIC:
                s_bare_metric(b, i);
                break;
            }
        }
        samples[r] = (double)(bench_now_ns() - t0) / BATCH;
    }
    return bench_median(samples, rounds);
}

int
main(int argc, char **argv)
{
    size_t rounds = 20000;
    if (argc == 3 && strcmp(argv[1], "--rounds") == 0) {
        char *end;
        long v = strtol(argv[2], &end, 10);
        if (*end || v < 10 || v > 10000000) {
            fprintf(stderr, "publish_cost: --rounds wants 10..10000000\n");
            return 2;
        }
        rounds = (size_t)v;
    } else if (argc != 1) {
        fprintf(stderr, "usage: publish_cost [--rounds N]\n");
        return 2;
    }
    int port = 0;
    zactor_t *sink = zactor_new(s_sink, &port);
    if (!sink || port <= 0) {
        fprintf(stderr, "publish_cost: cannot bind the sink\n");
        return 1;
    }
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    hb_err_t why;
    hb_agent_t *a = hb_agent_new("bench-agent", ep, &why);
    zsock_t *pub = zsock_new(ZMQ_PUB);
    double *samples = malloc(rounds * sizeof *samples);
    if (!a || !pub || !samples || zsock_connect(pub, "%s", ep) != 0) {
        fprintf(stderr, "publish_cost: setup failed (%s)\n",
                a ? "socket" : hb_err_str(why));
        return 1;
    }
    zsock_set_sndhwm(pub, 10000);
    s_bare_t *bare = calloc(1, sizeof *bare);
    bare->pub = zsock_resolve(pub);
    // Warm up both paths (connections, caches, page faults).
    s_measure(S_AGENT_ERROR, a, bare, rounds / 10, samples);
    s_measure(S_BARE_ERROR, NULL, bare, rounds / 10, samples);
    double ae = s_measure(S_AGENT_ERROR, a, bare, rounds, samples);
    double be = s_measure(S_BARE_ERROR, NULL, bare, rounds, samples);
    double am = s_measure(S_AGENT_METRIC, a, bare, rounds, samples);
    double bm = s_measure(S_BARE_METRIC, NULL, bare, rounds, samples);
    hb_agent_flush(a, 10000);
    printf("publish_cost: hb_agent_error  median %.0f ns/call, bare pack+send "
           "%.0f ns, ratio %.2f (target <= 1.5)\n", ae, be, ae / be);
    printf("publish_cost: hb_agent_metric median %.0f ns/call, bare pack+send "
           "%.0f ns, ratio %.2f (target <= 1.5)\n", am, bm, am / bm);
    printf("publish_cost: agent sent %llu, dropped %llu; %zu batches of %d "
           "calls per figure\n",
           (unsigned long long)hb_agent_sent(a),
           (unsigned long long)hb_agent_drops(a), rounds, BATCH);
    hb_agent_destroy(&a);
    zsock_destroy(&pub);
    zactor_destroy(&sink);
    free(bare);
    free(samples);
    return 0;
}
