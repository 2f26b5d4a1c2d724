/*  test_proc.c - child processes for integration tests (see test_proc.h). */

#include "test_proc.h"

#include "hb_clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef TEST_BIN_DIR
#error "TEST_BIN_DIR must be defined by the build"
#endif

struct test_proc {
    pid_t pid;
    int out_fd;         // read end of the child's stdout
    bool reaped;
    int status;
    char ready[1024];
    char buf[8192];     // unread stdout bytes
    size_t buf_len;
};

static bool
s_take_line(test_proc_t *self, char *line, size_t len)
{
    char *nl = memchr(self->buf, '\n', self->buf_len);
    if (!nl)
        return false;
    size_t n = (size_t)(nl - self->buf);
    size_t copy = n < len - 1 ? n : len - 1;
    memcpy(line, self->buf, copy);
    line[copy] = '\0';
    memmove(self->buf, nl + 1, self->buf_len - n - 1);
    self->buf_len -= n + 1;
    return true;
}

bool
test_proc_wait_line(test_proc_t *self, const char *needle, char *out,
                    size_t len, int timeout_ms)
{
    long long deadline = hb_clock_mono_ms() + timeout_ms;
    char line[1024];
    for (;;) {
        while (s_take_line(self, line, sizeof line)) {
            if (strstr(line, needle)) {
                snprintf(out, len, "%s", line);
                return true;
            }
        }
        long long left = deadline - hb_clock_mono_ms();
        if (left <= 0)
            return false;
        struct pollfd pfd = {.fd = self->out_fd, .events = POLLIN};
        int rc = poll(&pfd, 1, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return false;
        if (self->buf_len == sizeof self->buf)
            self->buf_len = 0; // a line longer than the buffer: drop it
        ssize_t n = read(self->out_fd, self->buf + self->buf_len,
                         sizeof self->buf - self->buf_len);
        if (n <= 0)
            return false;
        self->buf_len += (size_t)n;
    }
}

test_proc_t *
test_proc_start(const char *const argv[], const char *ready, int timeout_ms)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return NULL;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", TEST_BIN_DIR, argv[0]);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return NULL;
    }
    if (pid == 0) {
        // A crashed test must not leave brokers and nodes running.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fds[1], STDOUT_FILENO);
        execv(path, (char *const *)argv);
        fprintf(stderr, "test_proc: exec %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    test_proc_t *self = calloc(1, sizeof *self);
    if (!self) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(fds[0]);
        return NULL;
    }
    self->pid = pid;
    self->out_fd = fds[0];
    if (ready && !test_proc_wait_line(self, ready, self->ready,
                                      sizeof self->ready, timeout_ms)) {
        fprintf(stderr, "test_proc: %s never printed '%s' within %d ms\n",
                argv[0], ready, timeout_ms);
        test_proc_destroy(&self);
        return NULL;
    }
    return self;
}

const char *
test_proc_ready_line(const test_proc_t *self)
{
    return self->ready;
}

bool
test_proc_field(const test_proc_t *self, const char *key, char *buf,
                size_t len)
{
    char pat[128];
    snprintf(pat, sizeof pat, "%s=", key);
    const char *p = strstr(self->ready, pat);
    if (!p)
        return false;
    p += strlen(pat);
    size_t n = strcspn(p, " \t\r\n");
    if (n >= len)
        return false;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return true;
}

pid_t
test_proc_pid(const test_proc_t *self)
{
    return self->pid;
}

static bool
s_reap(test_proc_t *self, int timeout_ms)
{
    long long deadline = hb_clock_mono_ms() + timeout_ms;
    while (!self->reaped) {
        pid_t r = waitpid(self->pid, &self->status, WNOHANG);
        if (r == self->pid) {
            self->reaped = true;
            break;
        }
        if (r < 0 && errno != EINTR)
            return false;
        if (hb_clock_mono_ms() >= deadline)
            return false;
        struct timespec nap = {0, 2 * 1000 * 1000}; // polling waitpid
        nanosleep(&nap, NULL);
    }
    return true;
}

int
test_proc_stop(test_proc_t *self, int sig, int timeout_ms)
{
    if (!self->reaped)
        kill(self->pid, sig);
    if (!s_reap(self, timeout_ms)) {
        fprintf(stderr, "test_proc: pid %d ignored signal %d for %d ms\n",
                (int)self->pid, sig, timeout_ms);
        kill(self->pid, SIGKILL);
        s_reap(self, 5000);
        return -1;
    }
    if (WIFEXITED(self->status))
        return WEXITSTATUS(self->status);
    return 128 + WTERMSIG(self->status);
}

void
test_proc_destroy(test_proc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    test_proc_t *self = *self_p;
    if (!self->reaped) {
        kill(self->pid, SIGKILL);
        s_reap(self, 5000);
    }
    close(self->out_fd);
    free(self);
    *self_p = NULL;
}

test_proc_t *
test_proc_broker(char *front, size_t len)
{
    const char *argv[] = {"healbus-broker", "--front", "tcp://127.0.0.1:*",
                          NULL};
    test_proc_t *p = test_proc_start(argv, "ready", 10000);
    if (p && !test_proc_field(p, "front", front, len))
        test_proc_destroy(&p);
    return p;
}

char *
test_proc_tmpdir(void)
{
    char tmpl[] = "/tmp/healbus-test-XXXXXX";
    if (!mkdtemp(tmpl))
        return NULL;
    return strdup(tmpl);
}

void
test_proc_rmtree(const char *path)
{
    if (!path || strncmp(path, "/tmp/healbus-test-", 18) != 0)
        return; // never remove anything outside our own temp dirs
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", "--", path, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
}
