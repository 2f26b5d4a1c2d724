/*  proto_codec.h - msgpack encoding and strict decoding of proto_msg_t.

    Encoding writes into a caller's fixed buffer (no allocation on the
    publish path).  Decoding treats its input as hostile: every type, size,
    count and nesting level is checked against proto_limits.h before any
    allocation, unknown keys are skipped, duplicate keys and trailing bytes
    rejected, and each malformation has its own hb_err_t code.  The only
    allocation is the message's string arena, sized from the body length
    (itself capped at PROTO_MAX_FRAME). */

#ifndef PROTO_CODEC_H
#define PROTO_CODEC_H

#include "healbus.h"
#include "proto_msg.h"

/*  Write the topic "<kind>.<subject>" (NUL-terminated) into `topic`.
    Returns the topic length, or 0 when it does not fit or the subject is
    invalid (empty, over PROTO_MAX_ID, or contains NUL). */
size_t proto_codec_topic(const proto_msg_t *msg, char *topic, size_t cap);

/*  Encode the body of `msg` into buf[0..cap).  On success stores the length
    in *len.  HB_ETOOBIG when it does not fit in `cap` or breaks a cap of
    proto_limits.h; HB_EINVAL when a required string is NULL. */
hb_err_t proto_codec_encode(const proto_msg_t *msg, uint8_t *buf, size_t cap,
                            size_t *len);

/*  The table-driven encoder alone.  proto_codec_encode takes hand-written
    paths for the hot kinds (err, ok, metric, hb) and this one for the
    rest; both give identical bytes and codes, which tests assert through
    this entry point. */
hb_err_t proto_codec_encode_tables(const proto_msg_t *msg, uint8_t *buf,
                                   size_t cap, size_t *len);

/*  Decode a topic frame and a body frame into `out` (initialised here).
    On HB_OK the caller owns `out` and calls proto_msg_clear(out).  On
    error `out` holds nothing to free. */
hb_err_t proto_codec_decode(const void *topic, size_t topic_len,
                            const void *body, size_t body_len,
                            proto_msg_t *out);

/*  Per-code rejection counters a receiver keeps and publishes in stats. */
typedef struct {
    uint64_t by_code[HB_ERR_COUNT];
    uint64_t total;
} proto_codec_rejects_t;

/*  Count one rejection with `code`. */
void proto_codec_reject(proto_codec_rejects_t *rejects, hb_err_t code);

#endif
