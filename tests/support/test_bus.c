/*  test_bus.c - bus reads and agent joins shared by the integration tests
    (see test_bus.h). */

#include "test_bus.h"

#include "proto_codec.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

void
test_bus_back_of(const char *front, char *back, size_t len)
{
    const char *colon = strrchr(front, ':');
    int port = atoi(colon + 1);
    snprintf(back, len, "%.*s:%d", (int)(colon - front), front, port + 1);
}

void *
test_bus_sub(void *ctx, const char *back, const char *const *prefixes)
{
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    assert_int_equal(zmq_connect(sub, back), 0);
    for (; *prefixes; prefixes++)
        assert_int_equal(
            zmq_setsockopt(sub, ZMQ_SUBSCRIBE, *prefixes, strlen(*prefixes)),
            0);
    return sub;
}

bool
test_bus_recv(void *sub, int wait_ms, proto_msg_t *msg)
{
    memset(msg, 0, sizeof *msg); // nothing to clear unless decoded
    zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, wait_ms) <= 0)
        return false;
    char topic[PROTO_MAX_TOPIC + 1];
    static uint8_t body[PROTO_MAX_FRAME]; // too big for a test's stack
    int tl = zmq_recv(sub, topic, sizeof topic, 0);
    int more = 0;
    size_t ml = sizeof more;
    zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ml);
    assert_true(tl > 0 && more);
    int bl = zmq_recv(sub, body, sizeof body, 0);
    assert_true(bl > 0);
    assert_int_equal(
        proto_codec_decode(topic, (size_t)tl, body, (size_t)bl, msg), HB_OK);
    return true;
}

void
test_bus_wait_hello(hb_agent_t *agent, const char *back)
{
    char topic[128];
    snprintf(topic, sizeof topic, "hello.%s", hb_agent_name(agent));
    void *ctx = zmq_ctx_new();
    const char *prefixes[] = {topic, NULL};
    void *sub = test_bus_sub(ctx, back, prefixes);
    bool seen = false;
    for (int i = 0; i < 100 && !seen; i++) {
        hb_agent_announce(agent);
        proto_msg_t m;
        seen = test_bus_recv(sub, 100, &m) && m.kind == PROTO_KIND_HELLO;
        proto_msg_clear(&m);
    }
    zmq_close(sub);
    zmq_ctx_term(ctx);
    if (!seen)
        fail_msg("no hello from %s came through the broker",
                 hb_agent_name(agent));
}
