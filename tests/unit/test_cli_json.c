/*  test_cli_json.c - strict JSON output of hostile strings and numbers
    (cli/cli_json). */

#include "cli_json.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/*  What cli_json_strn writes for `len` bytes at `s`. */
static char *
s_str(const char *s, size_t len)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    assert_non_null(f);
    cli_json_strn(f, s, len);
    fclose(f);
    return buf;
}

static void
s_expect(const char *in, size_t len, const char *want)
{
    char *got = s_str(in, len);
    assert_string_equal(got, want);
    free(got);
}

static void
test_json_escapes_quotes_backslashes_and_controls(void **state)
{
    (void)state;
    s_expect("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    s_expect("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"");
    s_expect("\x01\x1b\x1f\x7f", 4, "\"\\u0001\\u001b\\u001f\\u007f\"");
    s_expect("a\0b", 3, "\"a\\u0000b\"");
    s_expect("", 0, "\"\"");
}

static void
test_json_keeps_valid_utf8_and_replaces_each_bad_byte(void **state)
{
    (void)state;
    s_expect("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9,
             "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    s_expect("\xff", 1, "\"\\ufffd\"");
    s_expect("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");            // overlong '/'
    s_expect("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""); // surrogate
    s_expect("\xf4\x90\x80\x80", 4,
             "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // above U+10FFFF
    s_expect("\xe2\x82", 2, "\"\\ufffd\\ufffd\""); // truncated
    s_expect("x\x80y", 3, "\"x\\ufffdy\"");        // lone continuation
}

static void
test_json_utf8_len_rejects_malformed_sequences(void **state)
{
    (void)state;
    const unsigned char ok3[] = {0xe2, 0x82, 0xac};
    assert_int_equal(cli_json_utf8_len(ok3, 3), 3);
    assert_int_equal(cli_json_utf8_len(ok3, 2), 0);
    const unsigned char over3[] = {0xe0, 0x80, 0x80};
    assert_int_equal(cli_json_utf8_len(over3, 3), 0);
    const unsigned char max4[] = {0xf4, 0x8f, 0xbf, 0xbf};
    assert_int_equal(cli_json_utf8_len(max4, 4), 4);
    const unsigned char f5[] = {0xf5, 0x80, 0x80, 0x80};
    assert_int_equal(cli_json_utf8_len(f5, 4), 0);
    assert_int_equal(cli_json_utf8_len(ok3, 0), 0);
}

static char *
s_num(double v)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    assert_non_null(f);
    cli_json_double(f, v);
    fclose(f);
    return buf;
}

static void
test_json_numbers_are_finite_or_null(void **state)
{
    (void)state;
    const struct {
        double v;
        const char *want;
    } cases[] = {{12.5, "12.5"},     {0.1, "0.1"},  {-3, "-3"},
                 {1e300, "1e+300"},  {NAN, "null"}, {INFINITY, "null"},
                 {-INFINITY, "null"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = s_num(cases[i].v);
        assert_string_equal(got, cases[i].want);
        free(got);
    }
    char *got = s_num(0.1 + 0.2); // needs 17 digits to read back
    assert_true(strtod(got, NULL) == 0.1 + 0.2);
    free(got);
}

static void
test_json_str_writes_null_for_null(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    cli_json_str(f, NULL);
    cli_json_str(f, "ok");
    fclose(f);
    assert_string_equal(buf, "null\"ok\"");
    free(buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_escapes_quotes_backslashes_and_controls),
        cmocka_unit_test(test_json_keeps_valid_utf8_and_replaces_each_bad_byte),
        cmocka_unit_test(test_json_utf8_len_rejects_malformed_sequences),
        cmocka_unit_test(test_json_numbers_are_finite_or_null),
        cmocka_unit_test(test_json_str_writes_null_for_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
