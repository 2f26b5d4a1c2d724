/*  test_proc.h - start and stop the real healbus binaries from tests.

    A binary prints one "ready" line on stdout once it is listening (for
    the broker: "healbus-broker ready front=tcp://127.0.0.1:P back=..."),
    so tests wait for that event with a deadline instead of sleeping.  A
    test stops every process it starts; test_proc_destroy kills what is
    still running.  Binaries are looked up in TEST_BIN_DIR (build/bin). */

#ifndef TEST_PROC_H
#define TEST_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct test_proc test_proc_t;

/*  Start build/bin/<argv[0]> with argv (NULL-terminated) and wait up to
    `timeout_ms` for a stdout line containing `ready` (NULL: don't wait).
    Its stderr goes to the test's stderr prefixed by nothing.  NULL on
    failure, with the reason printed. */
test_proc_t *test_proc_start(const char *const argv[], const char *ready,
                             int timeout_ms);

/*  The ready line (borrowed), and the value of "key=" in it copied into
    buf (false when absent). */
const char *test_proc_ready_line(const test_proc_t *self);
bool test_proc_field(const test_proc_t *self, const char *key, char *buf,
                     size_t len);

/*  Wait up to `timeout_ms` for a further stdout line containing `needle`;
    copy it into buf.  False on timeout or EOF. */
bool test_proc_wait_line(test_proc_t *self, const char *needle, char *buf,
                         size_t len, int timeout_ms);

pid_t test_proc_pid(const test_proc_t *self);

/*  Send `sig` and wait up to `timeout_ms` for exit.  Returns the exit
    status (0-255), 128+signal when killed by a signal, or -1 when it did
    not exit in time (it is then SIGKILLed). */
int test_proc_stop(test_proc_t *self, int sig, int timeout_ms);

/*  Kill (if running), reap and free; NULL-safe. */
void test_proc_destroy(test_proc_t **self_p);

/*  Start a broker on free loopback ports; writes its front endpoint
    (what agents and nodes are given) into `front`. */
test_proc_t *test_proc_broker(char *front, size_t len);

/*  Make a fresh temporary directory (mkdtemp) under /tmp; caller frees
    the returned path and removes it with test_proc_rmtree. */
char *test_proc_tmpdir(void);
void test_proc_rmtree(const char *path);

#endif
