/*  test_dataloader.c - the example agent as an operator runs it: usage
    errors exit 2, and SIGINT/SIGTERM stop it with exit 0 even while its
    files are failing (a stop is not a failure). */

#include "test_proc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_WAIT_MS 10000

typedef struct {
    char front[256];
    test_proc_t *broker;
    char *dir;
    char inputs[4200];
} fixture_t;

static int
s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = test_proc_tmpdir();
    snprintf(f->inputs, sizeof f->inputs, "%s/in", f->dir);
    const char *make[] = {"healbus-dataloader", "--make-inputs", f->inputs,
                          NULL};
    test_proc_t *p = test_proc_start(make, NULL, 0);
    assert_non_null(p);
    assert_int_equal(test_proc_stop(p, 0, T_WAIT_MS), 0);
    test_proc_destroy(&p);
    f->broker = test_proc_broker(f->front, sizeof f->front);
    assert_non_null(f->broker);
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    fixture_t *f = *state;
    test_proc_destroy(&f->broker);
    test_proc_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

//  A file no fix can heal (a malformed row), processed round after round
//  with healing off; stop it with `sig` once it has failed at least once.
static void
s_stop_while_failing(fixture_t *f, int sig)
{
    char bad[4300];
    snprintf(bad, sizeof bad, "%s/bad_rows.csv", f->inputs);
    const char *argv[] = {"healbus-dataloader",
                          "--broker",
                          f->front,
                          "--heal",
                          "off",
                          "--rounds",
                          "0",
                          "--interval",
                          "50",
                          bad,
                          NULL};
    test_proc_t *p = test_proc_start(argv, "--- round 1", T_WAIT_MS);
    assert_non_null(p);
    char line[1024];
    if (!test_proc_wait_line(p, "FAILED", line, sizeof line, T_WAIT_MS))
        fail_msg("the malformed file never failed");
    assert_int_equal(test_proc_stop(p, sig, T_WAIT_MS), 0);
    test_proc_destroy(&p);
}

static void
test_dataloader_exits_0_on_sigterm_while_files_fail(void **state)
{
    s_stop_while_failing(*state, SIGTERM);
}

static void
test_dataloader_exits_0_on_sigint_while_files_fail(void **state)
{
    s_stop_while_failing(*state, SIGINT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)
        T(test_dataloader_exits_0_on_sigterm_while_files_fail),
        T(test_dataloader_exits_0_on_sigint_while_files_fail),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
