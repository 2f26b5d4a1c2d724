/*  hb_endpoint.c - parsing broker endpoint lists (see hb_endpoint.h). */

#include "hb_endpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_why(char *why, size_t why_len, const char *item, const char *what)
{
    if (why && why_len)
        snprintf(why, why_len, "bad broker endpoint '%.200s': %s", item,
                 what);
}

bool
hb_endpoint_split_tcp(const char *ep, char *host, size_t host_len, int *port)
{
    if (strncmp(ep, "tcp://", 6) != 0)
        return false;
    const char *h = ep + 6;
    const char *colon = strrchr(h, ':');
    if (!colon || colon == h || (size_t)(colon - h) >= host_len)
        return false;
    char *end = NULL;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || p < 1 || p > 65535)
        return false;
    memcpy(host, h, (size_t)(colon - h));
    host[colon - h] = '\0';
    *port = (int)p;
    return true;
}

bool
hb_endpoint_is_local(const char *ep)
{
    if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0)
        return true;
    char host[HB_ENDPOINT_MAX];
    if (strncmp(ep, "tcp://", 6) != 0)
        return false;
    // "tcp://127.0.0.1:*" is legal for binds: check the host part only.
    const char *h = ep + 6;
    const char *colon = strrchr(h, ':');
    if (!colon || (size_t)(colon - h) >= sizeof host)
        return false;
    memcpy(host, h, (size_t)(colon - h));
    host[colon - h] = '\0';
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "localhost") == 0 ||
           strcmp(host, "::1") == 0 || strcmp(host, "[::1]") == 0;
}

static hb_err_t
s_parse_one(const char *item, hb_endpoint_t *out, char *why, size_t why_len)
{
    size_t len = strlen(item);
    if (len == 0 || len + 5 > HB_ENDPOINT_MAX) {
        s_why(why, why_len, item, "empty or too long");
        return HB_EINVAL;
    }
    if (strncmp(item, "ipc://", 6) == 0 || strncmp(item, "inproc://", 9) == 0) {
        snprintf(out->front, sizeof out->front, "%s", item);
        snprintf(out->back, sizeof out->back, "%s-sub", item);
        return HB_OK;
    }
    char host[HB_ENDPOINT_MAX - 32];
    int port;
    if (!hb_endpoint_split_tcp(item, host, sizeof host, &port) ||
        port > 65534) {
        s_why(why, why_len, item,
              "expected tcp://HOST:PORT (PORT 1-65534; PORT+1 is the "
              "broker's subscriber side), ipc://PATH or inproc://NAME");
        return HB_EINVAL;
    }
    snprintf(out->front, sizeof out->front, "%s", item);
    snprintf(out->back, sizeof out->back, "tcp://%s:%d", host, port + 1);
    return HB_OK;
}

hb_err_t
hb_endpoint_parse(const char *spec, hb_endpoint_list_t *out, char *why,
                  size_t why_len)
{
    memset(out, 0, sizeof *out);
    if (!spec || !*spec)
        spec = getenv(HB_ENDPOINT_ENV);
    if (!spec || !*spec)
        spec = HB_ENDPOINT_DEFAULT;
    char item[HB_ENDPOINT_MAX];
    const char *p = spec;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n >= sizeof item) {
            s_why(why, why_len, p, "too long");
            return HB_EINVAL;
        }
        if (out->count == HB_ENDPOINT_MAX_BROKERS) {
            s_why(why, why_len, spec, "more than 4 brokers");
            return HB_EINVAL;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        hb_err_t rc = s_parse_one(item, &out->brokers[out->count], why,
                                  why_len);
        if (rc != HB_OK)
            return rc;
        out->count++;
        p = comma ? comma + 1 : p + n;
    }
    if (out->count == 0) {
        s_why(why, why_len, spec, "no endpoint given");
        return HB_EINVAL;
    }
    return HB_OK;
}
