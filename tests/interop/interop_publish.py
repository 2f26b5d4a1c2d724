#!/usr/bin/python3
"""interop_publish.py - publish one message of every healbus kind, built
only from proto/PROTOCOL.md, to the endpoint given as argv[1].

The C side (test_interop.c) binds a PULL socket and decodes what arrives
with proto_codec_decode; this script connects a PUSH socket, which queues
until connected, so no message is lost to a slow join.  The frames are the
same two a PUB socket would send: topic, msgpack body.

Exit codes: 0 sent, 2 usage, 3 python3-zmq or python3-msgpack missing."""

import sys
import time

try:
    import msgpack
    import zmq
except ImportError as err:
    print(f"interop_publish: {err}: install python3-zmq and python3-msgpack",
          file=sys.stderr)
    sys.exit(3)

SRC = "py-agent"


def main():
    if len(sys.argv) != 2:
        print("usage: interop_publish.py ENDPOINT", file=sys.stderr)
        return 2
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 5000)
    push.connect(sys.argv[1])
    seqs = {}  # per sender, from 1 (PROTOCOL.md section 4)

    def send(kind, subject, fields, src=SRC):
        seqs[src] = seqs.get(src, 0) + 1
        body = {"v": 1, "src": src, "seq": seqs[src],
                "ts": int(time.time() * 1_000_000)}
        body.update(fields)
        push.send_multipart([f"{kind}.{subject}".encode("ascii"),
                             msgpack.packb(body, use_bin_type=True)])

    send("hello", SRC, {
        "pid": 4242, "host": "py-host", "mem": 2 * 1024 ** 3,
        "knobs": [
            {"name": "batch_size", "type": "int", "value": 500,
             "min": 1, "max": 10000},
            # an int given for a double knob is allowed (section 3.2)
            {"name": "timeout_s", "type": "double", "value": 3,
             "min": 0.5, "max": 60.0},
            {"name": "verbose", "type": "bool", "value": False},
            {"name": "parser", "type": "enum", "value": "strict",
             "choices": ["strict", "fuzzy"]},
        ],
        "actions": [{"name": "use_streaming_parser"},
                    {"name": "resize_pool", "arg": "int"}],
    })
    send("hb", SRC, {"sent": 10, "drops": 1, "rss": 52428800,
                     "cpu": 1500000, "up": 60000})
    send("err", SRC, {"op": "load_csv", "class": "DateFormatError",
                      "text": "bad date '2024-13-01' on row 7",
                      "attempt": 2, "max": 3,
                      "x_future": {"nested": [1, 2.5, None]}})
    send("ok", SRC, {"op": "load_csv", "dur": 15320,
                     "knobs": {"batch_size": 250, "timeout_s": 4.5,
                               "verbose": True, "parser": "fuzzy"}})
    send("metric", SRC, {"name": "queue_depth", "value": 17.5})
    send("metric", SRC, {"name": "workers", "value": 8})
    send("heal", SRC, {"req": 7, "op": "load_csv",
                       "class": "MemoryError", "text": "batch over budget",
                       "attempts": 3, "mode": "async"})
    send("fix", SRC, {"id": "healer-1/7/1", "req": 7, "op": "load_csv",
                      "name": "lower_batch",
                      "exp": int(time.time() * 1_000_000) + 30_000_000,
                      "test": True,
                      "steps": [{"op": "div", "target": "batch_size",
                                 "value": 2},
                                {"op": "set", "target": "parser",
                                 "value": "fuzzy"},
                                {"op": "action",
                                 "target": "use_streaming_parser"}]},
         src="healer-1")
    send("fixres", SRC, {"id": "healer-1/7/1", "req": 7, "op": "load_csv",
                         "outcome": "rolled_back",
                         "reason": "test failed", "test_us": 8100})
    send("pred", SRC, {"agent": SRC, "series": "err:load_csv",
                       "at": 1_800_000_000_000_000, "conf": 0.9,
                       "reason": "errors +10%/day",
                       "action": "increase memory", "level": "HIGH"},
         src="predictor-1")
    send("alert", SRC, {"agent": SRC, "series": "metric:rss",
                        "level": "CRITICAL", "prev": "LOW", "value": 0.61,
                        "reason": "error rate over 50%"},
         src="predictor-1")
    send("esc", SRC, {"agent": SRC, "op": "load_csv", "class": "IOError",
                      "tmpl": "cannot open <*>", "reason": "3 fixes failed",
                      "tried": [{"id": "healer-1/8/1",
                                 "name": "raise_timeout",
                                 "outcome": "rolled_back"},
                                {"id": "healer-1/8/2",
                                 "outcome": "rejected",
                                 "reason": "ENOTFOUND"}]},
         src="healer-1")
    send("node", "healer-1", {"role": "healer", "up": 123456,
                              "counters": {"fixes_sent": 4,
                                           "msgs_in": 99}},
         src="healer-1")
    send("ask", "*", {"target": "*"}, src="healer-1")
    send("stats", "broker-1", {"role": "broker", "up": 5,
                               "counters": {"fwd": 1000, "dropped": 0}},
         src="broker-1")
    push.close()  # linger: flush what is queued
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
