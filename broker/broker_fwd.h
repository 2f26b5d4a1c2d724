/*  broker_fwd.h - the broker's forwarder: XSUB front, XPUB back.

    Publishers connect to the front, subscribers to the back.  Messages go
    front -> back, subscriptions back -> front, both drained in bursts per
    poll wake-up on raw zmq_msg_t.  A message that is not two frames with a
    "<kind>.<subject>" topic is dropped and counted; so is one that a
    subscriber's full queue cannot take (ZMQ_XPUB_NODROP makes libzmq say
    so instead of losing it silently), so the broker never blocks and never
    loses a message without counting it.  Bodies are not decoded.  One
    thread owns a forwarder from _new to _destroy. */

#ifndef BROKER_FWD_H
#define BROKER_FWD_H

#include "broker_stats.h"
#include "hb_endpoint.h"
#include "hb_log.h"

typedef struct {
    const char *front;     // bind endpoint; "tcp://HOST:*" picks a free
                           // pair P, P+1 when `back` is NULL
    const char *back;      // NULL: derived from front (tcp port + 1)
    int hwm;               // high-water mark (messages) on every pipe
    int stats_interval_ms; // 0: publish no stats messages
    int stop_fd;           // readable means stop (a signalfd); -1: none
} broker_fwd_config_t;

typedef struct broker_fwd broker_fwd_t;

/*  Bind both sides.  `stats` and `log` are borrowed for the forwarder's
    life.  Returns NULL (and the reason in *why when not NULL) when a bind
    fails: HB_EIO, logged with the endpoint and libzmq's reason.  Caller
    destroys. */
broker_fwd_t *broker_fwd_new(const broker_fwd_config_t *config,
                             broker_stats_t *stats, hb_log_t *log,
                             hb_err_t *why);

/*  Close both sides (pending messages are discarded) and set *self_p to
    NULL.  NULL-safe. */
void broker_fwd_destroy(broker_fwd_t **self_p);

/*  The endpoints actually bound, with the chosen ports (borrowed). */
const char *broker_fwd_front(const broker_fwd_t *self);
const char *broker_fwd_back(const broker_fwd_t *self);

/*  Forward until stop_fd becomes readable (HB_OK) or polling fails
    (HB_EIO, logged).  Publishes a stats message every interval. */
hb_err_t broker_fwd_run(broker_fwd_t *self);

#endif
