/*  agent_proc.h - what the agent's heartbeat says about its process:
    resident memory from /proc/self/statm and CPU time from
    /proc/self/stat.  Linux only; this is the one file that reads /proc. */

#ifndef AGENT_PROC_H
#define AGENT_PROC_H

#include "healbus.h"

typedef struct {
    uint64_t rss_bytes; // resident set size
    uint64_t cpu_us;    // user + system CPU time
} agent_proc_usage_t;

/*  Read the usage of the calling process.  HB_EIO when /proc cannot be
    read, HB_ESYNTAX when its contents do not parse (fields left 0). */
hb_err_t agent_proc_read(agent_proc_usage_t *usage);

/*  Parsers for the two files' contents, exposed for tests. */
hb_err_t agent_proc_parse_statm(const char *text, uint64_t page_bytes,
                                uint64_t *rss_bytes);
hb_err_t agent_proc_parse_stat(const char *text, uint64_t ticks_per_s,
                               uint64_t *cpu_us);

#endif
