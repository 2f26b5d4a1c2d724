/*  test_hb_log.c - the binaries' line logger: one line per event, levels,
    rate-limited complaints, and peer-chosen text that cannot forge lines
    or reach the terminal as control sequences. */

#include "hb_log.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

//  Run `fn` against a logger writing to a temporary file; returns what
//  it wrote (static buffer).
static const char *
s_capture(void (*fn)(hb_log_t *log))
{
    static char text[8192];
    FILE *f = tmpfile();
    assert_non_null(f);
    hb_log_t *log = hb_log_new("test", f, HB_LOG_INFO);
    assert_non_null(log);
    fn(log);
    hb_log_destroy(&log);
    rewind(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static size_t
s_count(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

static void
s_log_hostile(hb_log_t *log)
{
    // An agent name or error text as a peer might send it.
    // (\xc2\x9b is U+009B, the one-byte CSI of 8-bit terminals)
    hb_log_warn(log, "agent %s: %s%s", "evil\n2026-01-01T00:00:00.000Z ERROR x",
                "\x1b[2J\x1b]0;owned\x07 \xc2\x9b", "31m tab\there");
}

static void
test_log_escapes_control_bytes_from_peers(void **state)
{
    (void)state;
    const char *out = s_capture(s_log_hostile);
    assert_int_equal(s_count(out, '\n'), 1); // one event, one line
    assert_null(strchr(out, '\x1b'));
    assert_null(strchr(out, '\x07'));
    assert_null(strchr(out, '\t'));
    assert_null(strstr(out, "\xc2\x9b"));
    assert_non_null(strstr(out, "evil\\x0a2026"));
    assert_non_null(strstr(out, "\\x1b[2J"));
    assert_non_null(strstr(out, "\\x9b31m"));
    assert_non_null(strstr(out, "WARN  test: agent evil"));
}

static void
s_log_utf8(hb_log_t *log)
{
    hb_log_info(log, "caf\xc3\xa9 \xe2\x82\xac ok");
}

static void
test_log_keeps_printable_utf8(void **state)
{
    (void)state;
    const char *out = s_capture(s_log_utf8);
    assert_non_null(strstr(out, "caf\xc3\xa9 \xe2\x82\xac ok\n"));
}

static void
s_log_long(hb_log_t *log)
{
    char big[3000];
    memset(big, '\n', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    hb_log_error(log, "%s", big);
}

static void
test_log_long_escaped_line_stays_bounded(void **state)
{
    (void)state;
    const char *out = s_capture(s_log_long);
    assert_int_equal(s_count(out, '\n'), 1);
    assert_true(strlen(out) <= 1024);
}

static void
s_log_levels(hb_log_t *log)
{
    hb_log_debug(log, "hidden");
    hb_log_info(log, "shown");
}

static void
test_log_skips_levels_below_the_threshold(void **state)
{
    (void)state;
    const char *out = s_capture(s_log_levels);
    assert_null(strstr(out, "hidden"));
    assert_non_null(strstr(out, "shown"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_escapes_control_bytes_from_peers),
        cmocka_unit_test(test_log_keeps_printable_utf8),
        cmocka_unit_test(test_log_long_escaped_line_stays_bounded),
        cmocka_unit_test(test_log_skips_levels_below_the_threshold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
