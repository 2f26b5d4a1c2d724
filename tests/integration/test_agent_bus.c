/*  test_agent_bus.c - an agent publishing through the real healbus-broker:
    messages arrive complete and in order, and a subscriber that falls
    behind sees the loss as a gap in the sequence numbers. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hb_agent_int.h"
#include "test_proc.h"

#include <czmq.h>
#include <string.h>

typedef struct {
    test_proc_t *broker;
    char front[256];
    char back[256];
} s_bus_t;

static int
s_setup(void **state)
{
    s_bus_t *bus = calloc(1, sizeof *bus);
    bus->broker = test_proc_broker(bus->front, sizeof bus->front);
    assert_non_null(bus->broker);
    assert_true(test_proc_field(bus->broker, "back", bus->back,
                                sizeof bus->back));
    *state = bus;
    return 0;
}

static int
s_teardown(void **state)
{
    s_bus_t *bus = *state;
    assert_int_equal(test_proc_stop(bus->broker, SIGTERM, 10000), 0);
    test_proc_destroy(&bus->broker);
    free(bus);
    return 0;
}

static zsock_t *
s_subscriber(const s_bus_t *bus, int rcvhwm)
{
    zsock_t *sub = zsock_new(ZMQ_SUB);
    assert_non_null(sub);
    zsock_set_rcvhwm(sub, rcvhwm);
    zsock_set_subscribe(sub, "");
    assert_int_equal(zsock_connect(sub, "%s", bus->back), 0);
    return sub;
}

//  Receive and decode one message within `timeout_ms`; false on timeout.
static bool
s_recv(zsock_t *sub, int timeout_ms, proto_msg_t *out)
{
    zmq_pollitem_t item = {zsock_resolve(sub), 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, timeout_ms) <= 0)
        return false;
    zframe_t *topic = zframe_recv(sub);
    zframe_t *body = zframe_more(topic) ? zframe_recv(sub) : NULL;
    assert_non_null(body);
    assert_int_equal(proto_codec_decode(zframe_data(topic),
                                        zframe_size(topic), zframe_data(body),
                                        zframe_size(body), out),
                     HB_OK);
    zframe_destroy(&topic);
    zframe_destroy(&body);
    return true;
}

/*  The slow-joiner problem: publish probes until the subscriber sees one,
    so the path agent -> broker -> subscriber is known to be up.  Returns
    the probe's sequence number. */
static uint64_t
s_join(hb_agent_t *a, zsock_t *sub)
{
    for (int tries = 0; tries < 100; tries++) {
        assert_int_equal(hb_agent_metric(a, "probe", tries), HB_OK);
        proto_msg_t m;
        while (s_recv(sub, 100, &m)) {
            bool probe = m.kind == PROTO_KIND_METRIC &&
                         strcmp(m.sender, hb_agent_name(a)) == 0 &&
                         strcmp(m.u.metric.name, "probe") == 0;
            uint64_t seq = m.seq;
            proto_msg_clear(&m);
            if (probe)
                return seq;
        }
    }
    fail_msg("no probe from %s reached the subscriber in 100 tries",
             hb_agent_name(a));
    return 0;
}

#define N_ORDERED 1000
#define CHUNK 200 // under the queue size, so nothing is refused

static void
test_messages_arrive_complete_and_in_order(void **state)
{
    s_bus_t *bus = *state;
    zsock_t *sub = s_subscriber(bus, 100000);
    hb_agent_t *a = hb_agent_new("bus-agent", bus->front, NULL);
    assert_non_null(a);
    uint64_t last = s_join(a, sub);
    for (int i = 0; i < N_ORDERED; i++) {
        if (i % CHUNK == 0)
            assert_int_equal(hb_agent_flush(a, 10000), HB_OK);
        assert_int_equal(hb_agent_metric(a, "value", i), HB_OK);
    }
    assert_int_equal(hb_agent_flush(a, 10000), HB_OK);
    int next_value = 0;
    while (next_value < N_ORDERED) {
        proto_msg_t m;
        if (!s_recv(sub, 10000, &m))
            fail_msg("value %d never arrived", next_value);
        if (strcmp(m.sender, "bus-agent") == 0) {
            // Everything the agent sends (hello, heartbeats too) is numbered
            // 1, 2, 3...: any hole would be a lost message.
            assert_int_equal(m.seq, last + 1);
            last = m.seq;
            if (m.kind == PROTO_KIND_METRIC &&
                strcmp(m.u.metric.name, "value") == 0) {
                assert_true(m.u.metric.value == (double)next_value);
                assert_string_equal(m.subject, "bus-agent");
                next_value++;
            }
        }
        proto_msg_clear(&m);
    }
    assert_int_equal(hb_agent_drops(a), 0);
    hb_agent_destroy(&a);
    zsock_destroy(&sub);
}

#define N_FLOOD 20000

static void
test_slow_subscriber_sees_a_sequence_gap(void **state)
{
    s_bus_t *bus = *state;
    zsock_t *sub = s_subscriber(bus, 10);
    hb_agent_t *a = hb_agent_new("flood-agent", bus->front, NULL);
    assert_non_null(a);
    uint64_t last = s_join(a, sub);
    // 1 KiB texts: the flood is far more than the pipes and TCP buffers
    // between the broker and a subscriber that is not reading hold.
    char text[1024];
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    for (int i = 0; i < N_FLOOD; i++) {
        if (i % CHUNK == 0)
            assert_int_equal(hb_agent_flush(a, 10000), HB_OK);
        assert_int_equal(hb_agent_error(a, "flood", "FloodError", 1, "%d %s",
                                        i, text),
                         HB_OK);
    }
    assert_int_equal(hb_agent_flush(a, 10000), HB_OK);
    int received = 0, gaps = 0;
    bool end = false;
    while (!end) {
        proto_msg_t m;
        if (!s_recv(sub, 500, &m)) {
            // Drained: now a marker can get through.
            assert_int_equal(hb_agent_metric(a, "end", 0), HB_OK);
            if (!s_recv(sub, 10000, &m))
                fail_msg("the end marker never arrived");
        }
        if (strcmp(m.sender, "flood-agent") == 0) {
            gaps += m.seq != last + 1;
            assert_true(m.seq > last); // lost, never reordered
            last = m.seq;
            received += m.kind == PROTO_KIND_ERROR;
            end = m.kind == PROTO_KIND_METRIC &&
                  strcmp(m.u.metric.name, "end") == 0;
        }
        proto_msg_clear(&m);
    }
    assert_true(gaps > 0);
    assert_true(received < N_FLOOD);
    hb_agent_destroy(&a);
    zsock_destroy(&sub);
}

static void
test_two_brokers_both_get_every_message(void **state)
{
    s_bus_t *bus = *state;
    s_bus_t second;
    second.broker = test_proc_broker(second.front, sizeof second.front);
    assert_non_null(second.broker);
    assert_true(test_proc_field(second.broker, "back", second.back,
                                sizeof second.back));
    zsock_t *sub1 = s_subscriber(bus, 100000);
    zsock_t *sub2 = s_subscriber(&second, 100000);
    char both[600];
    snprintf(both, sizeof both, "%s,%s", bus->front, second.front);
    hb_agent_t *a = hb_agent_new("twin-agent", both, NULL);
    assert_non_null(a);
    // Each path joins on its own: the second subscriber may hold a probe
    // older than the one the first saw (its broker's path was up sooner),
    // so the two numbers are not ordered; both are real sequence numbers.
    assert_true(s_join(a, sub1) >= 1);
    assert_true(s_join(a, sub2) >= 1);
    assert_int_equal(hb_agent_success(a, "op", 42), HB_OK);
    zsock_t *subs[] = {sub1, sub2};
    for (int i = 0; i < 2; i++) {
        bool seen = false;
        while (!seen) {
            proto_msg_t m;
            if (!s_recv(subs[i], 10000, &m))
                fail_msg("broker %d never delivered the success", i + 1);
            seen = m.kind == PROTO_KIND_SUCCESS &&
                   strcmp(m.sender, "twin-agent") == 0;
            if (seen)
                assert_int_equal(m.u.success.duration_us, 42);
            proto_msg_clear(&m);
        }
    }
    hb_agent_destroy(&a);
    zsock_destroy(&sub1);
    zsock_destroy(&sub2);
    assert_int_equal(test_proc_stop(second.broker, SIGTERM, 10000), 0);
    test_proc_destroy(&second.broker);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_messages_arrive_complete_and_in_order, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_slow_subscriber_sees_a_sequence_gap, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_two_brokers_both_get_every_message,
                                        s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
