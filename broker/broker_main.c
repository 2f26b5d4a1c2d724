/*  broker_main.c - `healbus-broker`: argv, signals, logger, then the
    forwarder (broker_fwd) until SIGINT or SIGTERM.

    Signals are blocked before any thread exists and read from a signalfd
    that the forwarder polls, so a stop request always wakes the loop and
    no handler or global flag is needed. */

#include "broker_fwd.h"
#include "broker_stats.h"
#include "hb_endpoint.h"
#include "hb_log.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define S_DEFAULT_HWM 10000
#define S_MAX_HWM 1000000
#define S_MAX_STATS_SEC 86400.0

typedef struct {
    const char *front;
    const char *back;
    bool allow_remote;
    double stats_sec;
    char id[PROTO_MAX_ID + 1];
    int hwm;
    bool verbose;
} s_args_t;

static const char s_usage[] =
    "usage: healbus-broker [options]\n"
    "Forward healbus messages from publishers (front, XSUB) to subscribers\n"
    "(back, XPUB), counting every message it forwards or drops.\n"
    "\n"
    "  --front EP            publishers connect here (default "
    HB_ENDPOINT_DEFAULT ");\n"
    "                        tcp://HOST:* picks a free port pair P, P+1\n"
    "  --back EP             subscribers connect here (default: front's "
    "port + 1)\n"
    "  --allow-remote        allow binding a non-loopback address\n"
    "  --stats-interval SEC  publish stats.<id> every SEC seconds (default "
    "5; 0 off)\n"
    "  --id NAME             broker id in stats (default "
    "broker-<host>-<pid>)\n"
    "  --hwm N               high-water mark in messages per peer "
    "(default 10000)\n"
    "  --verbose             debug logging on stderr\n"
    "  --help                this text\n"
    "\n"
    "Prints 'healbus-broker ready front=EP back=EP' on stdout when "
    "listening.\n"
    "Exit status: 0 after SIGINT/SIGTERM, 1 runtime failure, 2 usage "
    "error.\n";

static int s_usage_error(const char *fmt, ...) HB_PRINTF(1, 2);

static int
s_usage_error(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "healbus-broker: ");
    vfprintf(stderr, fmt, args);
    fprintf(stderr, "\nTry 'healbus-broker --help'.\n");
    va_end(args);
    return 2;
}

static bool
s_valid_id(const char *id)
{
    size_t n = strlen(id);
    return n > 0 && n <= PROTO_MAX_ID &&
           strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "0123456789_.-") == n;
}

//  "broker-<host>-<pid>", with characters a topic subject may not hold
//  replaced, cut to PROTO_MAX_ID.
static void
s_default_id(char *id, size_t len)
{
    char host[256] = "localhost";
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    for (char *p = host; *p; p++)
        if (!strchr("_.-", *p) && !(*p >= '0' && *p <= '9') &&
            !(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z'))
            *p = '-';
    char pid[24];
    snprintf(pid, sizeof pid, "-%ld", (long)getpid());
    int room = (int)(len - 1 - strlen("broker-") - strlen(pid));
    snprintf(id, len, "broker-%.*s%s", room > 0 ? room : 0, host, pid);
}

//  One tcp://HOST:PORT (PORT 1-65535 or *) or ipc://PATH.  A comma would
//  make it a list, which clients accept but a bind cannot.
static bool
s_valid_endpoint(const char *ep)
{
    if (strchr(ep, ','))
        return false;
    if (strncmp(ep, "ipc://", 6) == 0)
        return ep[6] != '\0' && strlen(ep) < HB_ENDPOINT_MAX - 8;
    size_t n = strlen(ep);
    if (n >= HB_ENDPOINT_MAX - 8)
        return false;
    char host[HB_ENDPOINT_MAX];
    int port;
    if (n > 8 && strncmp(ep, "tcp://", 6) == 0 &&
        strcmp(ep + n - 2, ":*") == 0)
        return true;
    return hb_endpoint_split_tcp(ep, host, sizeof host, &port);
}

//  The whole of `arg` as a finite number in [lo, hi]; the caller says
//  what was wrong, once.
static bool
s_parse_number(const char *arg, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !isfinite(v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int
s_check_args(const s_args_t *a)
{
    if (!s_valid_endpoint(a->front))
        return s_usage_error("--front wants one tcp://HOST:PORT, "
                             "tcp://HOST:* or ipc://PATH, not '%s'",
                             a->front);
    if (a->back && !s_valid_endpoint(a->back))
        return s_usage_error("--back wants one tcp://HOST:PORT, "
                             "tcp://HOST:* or ipc://PATH, not '%s'",
                             a->back);
    char host[HB_ENDPOINT_MAX];
    int port = 0;
    if (!a->back && hb_endpoint_split_tcp(a->front, host, sizeof host, &port) &&
        port == 65535)
        return s_usage_error("--front port 65535 leaves no port + 1 for the "
                             "back side; pick another or give --back");
    if (a->stats_sec > 0 && a->stats_sec < 0.001)
        return s_usage_error("--stats-interval: use 0 (off) or at least "
                             "0.001 s");
    const char *eps[] = {a->front, a->back};
    for (int i = 0; i < 2; i++)
        if (eps[i] && !a->allow_remote && !hb_endpoint_is_local(eps[i]))
            return s_usage_error(
                "refusing to bind non-loopback '%s': anyone who can reach "
                "it could publish and read every message; pass "
                "--allow-remote if that is what you want",
                eps[i]);
    return 0;
}

static int
s_parse(int argc, char **argv, s_args_t *a)
{
    enum { O_FRONT = 1, O_BACK, O_REMOTE, O_STATS, O_ID, O_HWM, O_VERBOSE,
           O_HELP };
    static const struct option opts[] = {
        {"front", required_argument, NULL, O_FRONT},
        {"back", required_argument, NULL, O_BACK},
        {"allow-remote", no_argument, NULL, O_REMOTE},
        {"stats-interval", required_argument, NULL, O_STATS},
        {"id", required_argument, NULL, O_ID},
        {"hwm", required_argument, NULL, O_HWM},
        {"verbose", no_argument, NULL, O_VERBOSE},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0}};
    opterr = 0;
    int o;
    double v;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case O_FRONT: a->front = optarg; break;
        case O_BACK: a->back = optarg; break;
        case O_REMOTE: a->allow_remote = true; break;
        case O_VERBOSE: a->verbose = true; break;
        case O_HELP: fputs(s_usage, stdout); return -1;
        case O_STATS:
            if (!s_parse_number(optarg, 0, S_MAX_STATS_SEC, &a->stats_sec))
                return s_usage_error("--stats-interval wants seconds from 0 "
                                     "to %g, not '%s'",
                                     S_MAX_STATS_SEC, optarg);
            break;
        case O_HWM:
            if (!s_parse_number(optarg, 1, S_MAX_HWM, &v) || v != floor(v))
                return s_usage_error("--hwm wants a whole number from 1 to "
                                     "1000000, not '%s'", optarg);
            a->hwm = (int)v;
            break;
        case O_ID:
            if (!s_valid_id(optarg))
                return s_usage_error("--id wants 1-64 characters of "
                                     "[A-Za-z0-9_.-], not '%s'", optarg);
            snprintf(a->id, sizeof a->id, "%s", optarg);
            break;
        default:
            return s_usage_error("unknown option or missing value: '%s'",
                                 argv[optind - 1]);
        }
    }
    if (optind < argc)
        return s_usage_error("unexpected argument '%s'", argv[optind]);
    return s_check_args(a);
}

static int
s_run(const s_args_t *a, int stop_fd, hb_log_t *log)
{
    int status = 1;
    broker_fwd_t *fwd = NULL;
    broker_stats_t *stats = broker_stats_new(a->id, log);
    if (!stats)
        goto out;
    broker_fwd_config_t config = {
        .front = a->front,
        .back = a->back,
        .hwm = a->hwm,
        .stats_interval_ms = (int)lround(a->stats_sec * 1000),
        .stop_fd = stop_fd};
    fwd = broker_fwd_new(&config, stats, log, NULL);
    if (!fwd)
        goto out;
    printf("healbus-broker ready front=%s back=%s\n", broker_fwd_front(fwd),
           broker_fwd_back(fwd));
    fflush(stdout);
    hb_log_info(log, "id %s, front %s, back %s, hwm %d, stats every %.3g s",
                a->id, broker_fwd_front(fwd), broker_fwd_back(fwd), a->hwm,
                a->stats_sec);
    if (broker_fwd_run(fwd) == HB_OK) {
        struct signalfd_siginfo si;
        if (read(stop_fd, &si, sizeof si) == (ssize_t)sizeof si)
            hb_log_info(log, "stopping on %s", strsignal((int)si.ssi_signo));
        status = 0;
    }
out:
    broker_fwd_destroy(&fwd);
    broker_stats_destroy(&stats);
    return status;
}

int
main(int argc, char **argv)
{
    s_args_t args = {.front = HB_ENDPOINT_DEFAULT,
                     .stats_sec = 5,
                     .hwm = S_DEFAULT_HWM};
    s_default_id(args.id, sizeof args.id);
    int rc = s_parse(argc, argv, &args);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    // Block before libzmq starts its threads, so they inherit the mask and
    // only the signalfd ever sees SIGINT and SIGTERM.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    int stop_fd = -1;
    if (sigprocmask(SIG_BLOCK, &stop, NULL) != 0 ||
        (stop_fd = signalfd(-1, &stop, SFD_CLOEXEC)) < 0) {
        fprintf(stderr, "healbus-broker: signalfd: %s\n", strerror(errno));
        return 1;
    }
    // A subscriber that vanishes must not kill us with SIGPIPE.
    signal(SIGPIPE, SIG_IGN);
    hb_log_t *log = hb_log_new("broker", stderr,
                               args.verbose ? HB_LOG_DEBUG : HB_LOG_INFO);
    if (!log) {
        close(stop_fd);
        return 1;
    }
    int status = s_run(&args, stop_fd, log);
    hb_log_destroy(&log);
    close(stop_fd);
    return status;
}
