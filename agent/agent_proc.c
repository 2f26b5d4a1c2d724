/*  agent_proc.c - process RSS and CPU time from /proc (see agent_proc.h). */

#include "agent_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  Read a small /proc file whole; its size is unknown up front.
static hb_err_t
s_slurp(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return HB_EIO;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n <= 0)
        return HB_EIO;
    buf[n] = '\0';
    return HB_OK;
}

//  Parse one unsigned decimal field; advances *p past it.
static bool
s_field(const char **p, uint64_t *out)
{
    while (**p == ' ')
        (*p)++;
    if (**p < '0' || **p > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(*p, &end, 10);
    if (errno != 0)
        return false;
    *p = end;
    *out = v;
    return true;
}

hb_err_t
agent_proc_parse_statm(const char *text, uint64_t page_bytes,
                       uint64_t *rss_bytes)
{
    // statm: size resident shared text lib data dt, in pages.
    const char *p = text;
    uint64_t size, resident;
    if (!s_field(&p, &size) || !s_field(&p, &resident))
        return HB_ESYNTAX;
    *rss_bytes = resident * page_bytes;
    return HB_OK;
}

hb_err_t
agent_proc_parse_stat(const char *text, uint64_t ticks_per_s,
                      uint64_t *cpu_us)
{
    // The command name (field 2) may hold spaces and parentheses, so count
    // fields from the last ')': state is field 3, utime 14, stime 15.
    const char *p = strrchr(text, ')');
    if (!p || ticks_per_s == 0)
        return HB_ESYNTAX;
    p++;
    while (*p == ' ')
        p++;
    if (*p == '\0')
        return HB_ESYNTAX;
    p++; // the one-letter state
    uint64_t v = 0, utime = 0, stime = 0;
    for (int field = 4; field <= 15; field++) {
        if (!s_field(&p, &v)) {
            // fields 4..13 may be negative (tty_nr... are signed ints)
            while (*p == ' ')
                p++;
            if (*p != '-' || field >= 14)
                return HB_ESYNTAX;
            p++;
            if (!s_field(&p, &v))
                return HB_ESYNTAX;
        }
        if (field == 14)
            utime = v;
        else if (field == 15)
            stime = v;
    }
    *cpu_us = (utime + stime) * 1000000 / ticks_per_s;
    return HB_OK;
}

hb_err_t
agent_proc_read(agent_proc_usage_t *usage)
{
    char buf[1024];
    memset(usage, 0, sizeof *usage);
    long page = sysconf(_SC_PAGESIZE), ticks = sysconf(_SC_CLK_TCK);
    if (page <= 0 || ticks <= 0)
        return HB_EIO;
    hb_err_t rc = s_slurp("/proc/self/statm", buf, sizeof buf);
    if (rc == HB_OK)
        rc = agent_proc_parse_statm(buf, (uint64_t)page, &usage->rss_bytes);
    if (rc != HB_OK)
        return rc;
    rc = s_slurp("/proc/self/stat", buf, sizeof buf);
    if (rc == HB_OK)
        rc = agent_proc_parse_stat(buf, (uint64_t)ticks, &usage->cpu_us);
    return rc;
}
