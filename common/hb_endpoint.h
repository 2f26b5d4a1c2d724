/*  hb_endpoint.h - broker endpoint lists, as every client gives them.

    A broker is named by its front endpoint, where publishers connect
    (its XSUB side), e.g. "tcp://127.0.0.1:7701"; its back endpoint, where
    subscribers connect (XPUB side), is the same host with the port plus
    one.  A list is comma-separated: with two brokers every message is
    published to both and receivers drop duplicates by sender + sequence. */

#ifndef HB_ENDPOINT_H
#define HB_ENDPOINT_H

#include "healbus.h"
#include <stddef.h>

#define HB_ENDPOINT_MAX 256      // bytes in one endpoint
#define HB_ENDPOINT_MAX_BROKERS 4
#define HB_ENDPOINT_DEFAULT "tcp://127.0.0.1:7701"
#define HB_ENDPOINT_ENV "HEALBUS_BROKER"

typedef struct {
    char front[HB_ENDPOINT_MAX]; // publishers connect here
    char back[HB_ENDPOINT_MAX];  // subscribers connect here
} hb_endpoint_t;

typedef struct {
    hb_endpoint_t brokers[HB_ENDPOINT_MAX_BROKERS];
    size_t count;
} hb_endpoint_list_t;

/*  Parse `spec` (NULL: $HEALBUS_BROKER, then HB_ENDPOINT_DEFAULT).  Each
    item must be tcp://HOST:PORT (PORT 1-65534), ipc://PATH or
    inproc://NAME (back gets the suffix "-sub" for ipc and inproc).
    Returns HB_EINVAL with a message in `why` (if not NULL) on error. */
hb_err_t hb_endpoint_parse(const char *spec, hb_endpoint_list_t *out,
                           char *why, size_t why_len);

/*  Split "tcp://HOST:PORT" into host and port; false when malformed. */
bool hb_endpoint_split_tcp(const char *ep, char *host, size_t host_len,
                           int *port);

/*  True when a tcp:// endpoint's host is a loopback address or name
    ("127.x.y.z", "localhost", "::1", "[::1]"); ipc and inproc are local. */
bool hb_endpoint_is_local(const char *ep);

#endif
