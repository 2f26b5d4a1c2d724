/*  bench_util.c - clock, statistics, options and child processes for the
    benchmark programs (see bench_util.h). */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 // pipe2, program_invocation_short_name
#endif

#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* ---------------------------------------------------------------- clock -- */

int64_t
bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double
bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ----------------------------------------------------------- statistics -- */

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void
bench_sort(double *v, size_t n)
{
    qsort(v, n, sizeof *v, s_cmp);
}

double
bench_median(double *v, size_t n)
{
    bench_sort(v, n);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double
bench_pct(const double *v, size_t n, double p)
{
    size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
    return v[k == 0 ? 0 : (k > n ? n - 1 : k - 1)];
}

/* -------------------------------------------------------------- options -- */

long
bench_arg(int argc, char **argv, const char *name, long def, long lo, long hi)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], name) != 0)
            continue;
        char *end;
        errno = 0;
        long v = strtol(argv[i + 1], &end, 10);
        if (errno || *end || v < lo || v > hi) {
            fprintf(stderr, "%s: %s wants %ld..%ld\n",
                    program_invocation_short_name, name, lo, hi);
            exit(2);
        }
        return v;
    }
    return def;
}

/* ------------------------------------------------------ child processes -- */

bool
bench_field(const char *line, const char *key, char *out, size_t len)
{
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *p = strstr(line, pat);
    if (!p)
        return false;
    p += strlen(pat);
    size_t n = strcspn(p, " \r\n");
    if (n >= len)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

//  Read one line from fd within `timeout_ms`, byte by byte so nothing after
//  it is consumed (the children print one line).
static bool
s_read_line(int fd, char *line, size_t len, int timeout_ms)
{
    int64_t deadline = bench_now_ns() + (int64_t)timeout_ms * 1000000;
    size_t n = 0;
    while (n + 1 < len) {
        int left = (int)((deadline - bench_now_ns()) / 1000000);
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, left) <= 0)
            return false;
        char c;
        if (read(fd, &c, 1) != 1)
            return false;
        if (c == '\n')
            break;
        line[n++] = c;
    }
    line[n] = '\0';
    return true;
}

bool
bench_proc_start(bench_proc_t *p, const char *path, char *const argv[],
                 bool quiet)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return false;
    p->pid = fork();
    if (p->pid == 0) {
        dup2(fds[1], STDOUT_FILENO); // dup2 clears O_CLOEXEC on the copy
        int null = quiet ? open("/dev/null", O_WRONLY) : -1;
        if (null >= 0)
            dup2(null, STDERR_FILENO); // the healer logs a line per heal
        execv(path, argv);
        fprintf(stderr, "%s: exec %s: %s\n", program_invocation_short_name,
                path, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    p->out_fd = fds[0];
    if (p->pid > 0 && s_read_line(p->out_fd, p->line, sizeof p->line, 10000))
        return true;
    fprintf(stderr, "%s: %s printed no ready line\n",
            program_invocation_short_name, path);
    return false;
}

//  SIGTERM, then wait for the exit through a pidfd (no polling sleep);
//  SIGKILL if it takes more than five seconds.
void
bench_proc_stop(bench_proc_t *p)
{
    if (p->pid <= 0)
        return;
    kill(p->pid, SIGTERM);
    int pfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
    struct pollfd w = {pfd, POLLIN, 0};
    if (pfd < 0 || poll(&w, 1, 5000) <= 0)
        kill(p->pid, SIGKILL);
    if (pfd >= 0)
        close(pfd);
    while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    close(p->out_fd);
    p->pid = 0;
}

int
bench_proxy_main(int hwm)
{
    void *ctx = zmq_ctx_new();
    void *xsub = zmq_socket(ctx, ZMQ_XSUB);
    void *xpub = zmq_socket(ctx, ZMQ_XPUB);
    if (hwm > 0) {
        zmq_setsockopt(xsub, ZMQ_RCVHWM, &hwm, sizeof hwm);
        zmq_setsockopt(xpub, ZMQ_SNDHWM, &hwm, sizeof hwm);
    }
    char front[256], back[256];
    size_t fl = sizeof front, bl = sizeof back;
    if (zmq_bind(xsub, "tcp://127.0.0.1:*") != 0 ||
        zmq_bind(xpub, "tcp://127.0.0.1:*") != 0 ||
        zmq_getsockopt(xsub, ZMQ_LAST_ENDPOINT, front, &fl) != 0 ||
        zmq_getsockopt(xpub, ZMQ_LAST_ENDPOINT, back, &bl) != 0) {
        fprintf(stderr, "%s: proxy: %s\n", program_invocation_short_name,
                zmq_strerror(zmq_errno()));
        return 1;
    }
    printf("proxy ready front=%s back=%s\n", front, back);
    fflush(stdout);
    zmq_proxy(xsub, xpub, NULL); // until SIGTERM
    return 0;
}
