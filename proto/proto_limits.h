/*  proto_limits.h - every cap the wire protocol enforces, in one place.
    PROTOCOL.md quotes these numbers; a test checks the decoder rejects
    anything past them.  Sockets facing the network set ZMQ_MAXMSGSIZE to
    PROTO_MAX_FRAME so oversized frames never reach the decoder. */

#ifndef PROTO_LIMITS_H
#define PROTO_LIMITS_H

#define PROTO_VERSION 1

#define PROTO_MAX_FRAME 65536   // bytes in a body frame
#define PROTO_MAX_TOPIC 160     // bytes in a topic frame
#define PROTO_MAX_ID 64         // bytes in a sender/agent/node id
#define PROTO_MAX_NAME 64       // bytes in an operation/knob/metric name
#define PROTO_MAX_CLASS 64      // bytes in an error class
#define PROTO_MAX_TEXT 2048     // bytes in a free text (error text, reason)
#define PROTO_MAX_SERIES 160    // bytes in a series name ("err:<op>:<class>")
#define PROTO_MAX_MAP 32        // entries in any map
#define PROTO_MAX_ARRAY 32      // items in any array
#define PROTO_MAX_DEPTH 4       // nesting of maps/arrays (body is depth 1)
#define PROTO_MAX_KNOBS 32      // knobs in a hello
#define PROTO_MAX_ACTIONS 32    // actions in a hello
#define PROTO_MAX_CHOICES 16    // choices of an enum knob
#define PROTO_MAX_STEPS 8       // steps in a fix
#define PROTO_MAX_HISTORY 16    // tried fixes in an escalation
#define PROTO_MAX_COUNTERS 32   // counters in a stats/node heartbeat

#endif
