/*  test_bus.h - what the integration tests do on the bus itself: read a
    decoded message from a SUB socket with a deadline, and wait until an
    agent's hello has come back through a broker (its first messages can
    leave before its connection is up).  Failures are cmocka failures that
    say what never came. */

#ifndef TEST_BUS_H
#define TEST_BUS_H

#include "healbus.h"
#include "proto_msg.h"

#include <stdbool.h>
#include <stddef.h>

/*  The back endpoint of the broker whose front is `front`
    ("tcp://HOST:PORT"): the same host at port + 1. */
void test_bus_back_of(const char *front, char *back, size_t len);

/*  A SUB socket in `ctx` connected to `back` and subscribed to each prefix
    in `prefixes` (NULL-terminated); both asserted to succeed. Caller
    closes it. */
void *test_bus_sub(void *ctx, const char *back, const char *const *prefixes);

/*  One two-frame message from `sub` within `wait_ms`, decoded into *msg
    (asserted to decode); false when none came.  *msg is zeroed first, so
    proto_msg_clear on it is safe either way. */
bool test_bus_recv(void *sub, int wait_ms, proto_msg_t *msg);

/*  Announce `agent` every 100 ms, up to 100 times, until one of its hellos
    arrives on a SUB of its own connected to `back` (the broker's back
    endpoint); fails the test when none does. */
void test_bus_wait_hello(hb_agent_t *agent, const char *back);

#endif
