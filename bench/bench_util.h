/*  bench_util.h - what the benchmark programs share: a monotonic clock,
    sorting and order statistics of samples, a bounded integer option, and
    child processes that announce themselves with a ready line (the real
    healbus binaries, or the bench re-run as a bare zmq_proxy).  Messages
    are prefixed with the program's name. */

#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*  Monotonic time in nanoseconds, and in seconds. */
int64_t bench_now_ns(void);
double bench_now_s(void);

/*  Sort `n` samples ascending in place. */
void bench_sort(double *v, size_t n);
/*  Median of `n` > 0 samples (mean of the middle two when n is even);
    sorts v. */
double bench_median(double *v, size_t n);
/*  Nearest-rank percentile `p` (0-100) of `n` > 0 sorted samples. */
double bench_pct(const double *v, size_t n, double p);

/*  The value after `name` in argv, `def` when absent; a value that is not
    an integer in lo..hi is a usage error: says so and exits 2. */
long bench_arg(int argc, char **argv, const char *name, long def, long lo,
               long hi);

typedef struct {
    pid_t pid;
    int out_fd;      // the child's stdout, for its ready line
    char line[1024]; // its ready line
} bench_proc_t;

/*  Fork and exec `path` with `argv` (its stderr to /dev/null if `quiet`)
    and read its first stdout line into p->line within ten seconds. */
bool bench_proc_start(bench_proc_t *p, const char *path, char *const argv[],
                      bool quiet);
/*  SIGTERM, wait for the exit (SIGKILL after five seconds), close its
    stdout.  Does nothing for a process not started. */
void bench_proc_stop(bench_proc_t *p);
/*  Value of " key=" in a ready line, up to the next space. */
bool bench_field(const char *line, const char *key, char *out, size_t len);

/*  The child side of a raw comparison: zmq_proxy between an XSUB and an
    XPUB on free loopback ports, announced like the broker's ready line
    ("proxy ready front=... back=..."); `hwm` > 0 sets both sockets'
    high-water marks.  Runs until the process is terminated; 1 when it
    cannot bind. */
int bench_proxy_main(int hwm);

#endif
