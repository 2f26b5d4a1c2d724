/*  Tests for `healbus predict`: a good file scores every row, and each kind
    of malformed input is refused with its file, exact line number and exit
    code. Calls cli_predict_main directly with temporary files. */

#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../cli/cli_predict.h"

typedef struct {
    char csv[64];    // input file
    char out[64];    // captured stdout
    char err[64];    // captured stderr
    char text[1024]; // stderr contents after a run
} fixture_t;

static int
s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    const char *names[] = {f->csv, f->out, f->err};
    for (int i = 0; i < 3; i++) {
        char *name = (char *)names[i];
        strcpy(name, "/tmp/test_cli_predict_XXXXXX");
        int fd = mkstemp(name);
        if (fd < 0)
            return -1;
        close(fd);
    }
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    fixture_t *f = *state;
    unlink(f->csv);
    unlink(f->out);
    unlink(f->err);
    free(f);
    return 0;
}

static void
s_write(const fixture_t *f, const char *bytes, size_t len)
{
    FILE *fp = fopen(f->csv, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(bytes, 1, len, fp), len);
    fclose(fp);
}

//  Run `predict` with argv, stdout and stderr sent to files; stderr's text
//  ends up in f->text.
static int
s_run(fixture_t *f, int argc, char **argv)
{
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(1), saved_err = dup(2);
    assert_non_null(freopen(f->out, "w", stdout));
    assert_non_null(freopen(f->err, "w", stderr));
    int rc = cli_predict_main(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    FILE *fp = fopen(f->err, "r");
    size_t n = fread(f->text, 1, sizeof f->text - 1, fp);
    f->text[n] = '\0';
    fclose(fp);
    return rc;
}

static int
s_run_csv(fixture_t *f)
{
    char *argv[] = {"predict", "--csv", f->csv, NULL};
    return s_run(f, 3, argv);
}

//  Write `bytes`, run, expect exit 1 and "<file>:<line>: <what>" on stderr.
static void
s_expect_bad(fixture_t *f, const char *bytes, size_t len, int line,
             const char *what)
{
    s_write(f, bytes, len);
    assert_int_equal(s_run_csv(f), 1);
    char want[256];
    snprintf(want, sizeof want, "%s:%d: %s", f->csv, line, what);
    if (!strstr(f->text, want))
        fail_msg("stderr '%s' lacks '%s'", f->text, want);
}

#define S_GOOD "timestamp,value\n2014-04-01 00:00:00,1.5\n"

static void
test_good_file_scores_every_row(void **state)
{
    fixture_t *f = *state;
    const char csv[] = S_GOOD "2014-04-01 00:05:00,2\r\n"
                              "2014-04-01 00:10:00,-3e2\n";
    s_write(f, csv, sizeof csv - 1);
    assert_int_equal(s_run_csv(f), 0);
    FILE *fp = fopen(f->out, "r");
    char line[128];
    assert_non_null(fgets(line, sizeof line, fp));
    assert_string_equal(line, "timestamp,value,score,level\n");
    int rows = 0;
    while (fgets(line, sizeof line, fp))
        rows++;
    fclose(fp);
    assert_int_equal(rows, 3);
}

static void
test_rejects_bad_number_with_line(void **state)
{
    const char csv[] = S_GOOD "2014-04-01 00:05:00,12x\n";
    s_expect_bad(*state, csv, sizeof csv - 1, 3, "bad number");
}

static void
test_rejects_nan_value_with_line(void **state)
{
    const char nan_csv[] = "timestamp,value\n2014-04-01 00:00:00,nan\n";
    s_expect_bad(*state, nan_csv, sizeof nan_csv - 1, 2, "bad number");
}

static void
test_rejects_missing_comma_with_line(void **state)
{
    const char csv[] = S_GOOD "2014-04-01 00:05:00 7\n";
    s_expect_bad(*state, csv, sizeof csv - 1, 3, "missing comma");
}

static void
test_rejects_bad_timestamp_with_line(void **state)
{
    const char csv[] = S_GOOD "2014-04-01 00:05:00,1\n2014-02-30 00:00:00,1\n";
    s_expect_bad(*state, csv, sizeof csv - 1, 4, "bad timestamp");
}

static void
test_rejects_oversized_line_with_line(void **state)
{
    char csv[600];
    int n = snprintf(csv, sizeof csv, "%s2014-04-01 00:05:00,", S_GOOD);
    memset(csv + n, '1', 400);
    csv[n + 400] = '\n';
    s_expect_bad(*state, csv, (size_t)n + 401, 3, "line too long");
}

static void
test_rejects_nul_byte_with_line(void **state)
{
    const char csv[] = S_GOOD "2014-04-01 00:05:00,1\0\n";
    s_expect_bad(*state, csv, sizeof csv - 1, 3, "NUL byte");
}

static void
test_rejects_empty_file(void **state)
{
    s_expect_bad(*state, "", 0, 1, "empty file");
}

static void
test_rejects_missing_header(void **state)
{
    const char csv[] = "2014-04-01 00:00:00,1.5\n";
    s_expect_bad(*state, csv, sizeof csv - 1, 1, "expected header");
}

static void
test_missing_file_exits_1(void **state)
{
    fixture_t *f = *state;
    char *argv[] = {"predict", "--csv", "/nonexistent/x.csv", NULL};
    assert_int_equal(s_run(f, 3, argv), 1);
    assert_non_null(strstr(f->text, "/nonexistent/x.csv"));
}

static void
test_usage_errors_exit_2(void **state)
{
    fixture_t *f = *state;
    char *none[] = {"predict", NULL};
    assert_int_equal(s_run(f, 1, none), 2);
    char *unknown[] = {"predict", "--frobnicate", "1", NULL};
    assert_int_equal(s_run(f, 3, unknown), 2);
    char *dangling[] = {"predict", "--csv", NULL};
    assert_int_equal(s_run(f, 2, dangling), 2);
    char *bad_alpha[] = {"predict", "--alpha", "0.5", "--csv", f->csv, NULL};
    assert_int_equal(s_run(f, 5, bad_alpha), 2);
    char *help[] = {"predict", "--help", NULL};
    assert_int_equal(s_run(f, 2, help), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)
        T(test_good_file_scores_every_row),
        T(test_rejects_bad_number_with_line),
        T(test_rejects_nan_value_with_line),
        T(test_rejects_missing_comma_with_line),
        T(test_rejects_bad_timestamp_with_line),
        T(test_rejects_oversized_line_with_line),
        T(test_rejects_nul_byte_with_line),
        T(test_rejects_empty_file),
        T(test_rejects_missing_header),
        T(test_missing_file_exits_1),
        T(test_usage_errors_exit_2),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
