/*  Unit tests of node/healer/healer_templates: masking of value classes,
    grouping, stable ids, hostile lines, the group cap, and the saved-file
    format with each rejection's exact message. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 // fmemopen
#endif

#include "../../node/healer/healer_templates.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static uint32_t
s_add(healer_templates_t *m, const char *text)
{
    return healer_templates_add(m, text, strlen(text));
}

static const char *
s_template_of(healer_templates_t *m, const char *text)
{
    uint32_t id = s_add(m, text);
    assert_int_not_equal(id, HEALER_TEMPLATES_NONE);
    return healer_templates_template(m, id);
}

static void
test_masks_numbers_ids_paths_addresses_and_hex(void **state)
{
    (void)state;
    healer_templates_t *m = healer_templates_new(NULL);
    assert_non_null(m);
    assert_string_equal(s_template_of(m, "took 35 ms, retry=3"),
                        "took <*> ms, retry=<*>");
    assert_string_equal(s_template_of(m, "open /var/run/app.sock failed"),
                        "open <*> failed");
    assert_string_equal(s_template_of(m, "GET /a/b?x=1&y=2 HTTP/1.1 done"),
                        "GET <*> done"); // two values in a row fold to one
    assert_string_equal(
        s_template_of(m, "peer 10.0.0.7:5555 at db.example.org"),
        "peer <*> at <*>");
    assert_string_equal(s_template_of(m, "mac FF:F2:9F:16:E2:23 up"),
                        "mac <*> up");
    assert_string_equal(
        s_template_of(m,
                      "job 123e4567-e89b-12d3-a456-426614174000 at 0xdeadbeef"),
        "job <*> at <*>");
    assert_string_equal(s_template_of(m, "at Sun Jul 17 23:21:54 2005 ok"),
                        "at <*> ok"); // a run of values folds into one
    assert_string_equal(s_template_of(m, "stored 5.2 KB of user_9"),
                        "stored <*> of <*>");
    healer_templates_destroy(&m);
    assert_null(m);
}

static void
test_same_shape_lines_share_a_group(void **state)
{
    (void)state;
    healer_templates_t *m = healer_templates_new(NULL);
    uint32_t a = s_add(m, "connection to 10.1.2.3 refused after 30 ms");
    uint32_t b = s_add(m, "connection to 10.9.9.9 refused after 5 ms");
    uint32_t c = s_add(m, "connection  to 172.16.0.1\trefused after 1 ms\r");
    assert_int_equal(a, b);
    assert_int_equal(a, c);
    assert_int_equal(healer_templates_hits(m, a), 3);
    assert_int_equal(healer_templates_count(m), 1);
    assert_string_equal(healer_templates_template(m, a),
                        "connection to <*> refused after <*> ms");
    healer_templates_destroy(&m);
}

static void
test_different_events_get_different_groups(void **state)
{
    (void)state;
    healer_templates_t *m = healer_templates_new(NULL);
    uint32_t up = s_add(m, "cupsd startup succeeded");
    uint32_t down = s_add(m, "cupsd shutdown succeeded");
    uint32_t longer = s_add(m, "cupsd startup succeeded twice");
    assert_int_not_equal(up, down);
    assert_int_not_equal(up, longer);
    assert_int_not_equal(down, longer);
    assert_int_equal(healer_templates_count(m), 3);
    healer_templates_destroy(&m);
}

static void
test_generalised_group_keeps_its_id(void **state)
{
    (void)state;
    healer_templates_cfg_t cfg = {.similarity = 0.5};
    healer_templates_t *m = healer_templates_new(&cfg);
    uint32_t alice = s_add(m, "session opened for user alice");
    uint32_t bob = s_add(m, "session opened for user bob");
    assert_int_equal(alice, bob);
    assert_string_equal(healer_templates_template(m, alice),
                        "session opened for user <*>");
    assert_int_equal(s_add(m, "session opened for user carol"), alice);
    assert_int_equal(healer_templates_hits(m, alice), 3);
    healer_templates_destroy(&m);
}

static void
test_long_binary_and_empty_lines_are_safe(void **state)
{
    (void)state;
    healer_templates_t *m = healer_templates_new(NULL);
    size_t big = 1 << 20;
    char *text = malloc(big);
    assert_non_null(text);
    for (size_t i = 0; i < big; i++)
        text[i] = (char)((i * 2654435761u) >> 13); // every byte value
    const char *tpl =
        healer_templates_template(m, healer_templates_add(m, text, big));
    assert_non_null(tpl);
    assert_true(strlen(tpl) <= 4 * HEALER_TEMPLATES_MAX_LINE_BYTES + 8);
    for (const char *p = tpl; *p; p++)
        assert_true((unsigned char)*p > ' ' || *p == ' '); // no TAB, no LF
    uint32_t empty = healer_templates_add(m, "", 0);
    assert_string_equal(healer_templates_template(m, empty), "");
    assert_int_equal(healer_templates_add(m, " \t\r\0 ", 5), empty);
    assert_int_equal(healer_templates_add(m, NULL, 0), empty);
    free(text);
    healer_templates_destroy(&m);
}

static void
test_token_cap_folds_the_tail(void **state)
{
    (void)state;
    healer_templates_cfg_t cfg = {.max_tokens = 4};
    healer_templates_t *m = healer_templates_new(&cfg);
    uint32_t a = s_add(m, "alpha beta gamma delta epsilon zeta");
    assert_string_equal(healer_templates_template(m, a),
                        "alpha beta gamma <*>");
    assert_int_equal(s_add(m, "alpha beta gamma x y z w v"), a);
    assert_int_not_equal(s_add(m, "alpha beta gamma omega"), a);
    healer_templates_destroy(&m);
}

static void
test_full_table_evicts_least_recently_used(void **state)
{
    (void)state;
    healer_templates_cfg_t cfg = {.max_groups = 2};
    healer_templates_t *m = healer_templates_new(&cfg);
    uint32_t a = s_add(m, "disk full");
    uint32_t b = s_add(m, "link down");
    assert_int_equal(s_add(m, "disk full"), a); // a is now the newest
    uint32_t c = s_add(m, "fan failed");
    assert_int_equal(healer_templates_count(m), 2);
    assert_int_equal(healer_templates_evictions(m), 1);
    assert_null(healer_templates_template(m, b));
    assert_int_equal(healer_templates_hits(m, b), 0);
    assert_string_equal(healer_templates_template(m, a), "disk full");
    assert_true(c != a && c != b); // ids are never reused
    uint32_t b2 = s_add(m, "link down");
    assert_true(b2 != a && b2 != b && b2 != c);
    assert_null(healer_templates_template(m, a)); // a was oldest by then
    healer_templates_destroy(&m);
}

static void
test_new_rejects_bad_config(void **state)
{
    (void)state;
    healer_templates_cfg_t cfg = {.similarity = 1.5};
    assert_null(healer_templates_new(&cfg));
    cfg = (healer_templates_cfg_t){.similarity = -0.1};
    assert_null(healer_templates_new(&cfg));
    cfg = (healer_templates_cfg_t){.max_groups =
                                       HEALER_TEMPLATES_GROUPS_CEILING + 1};
    assert_null(healer_templates_new(&cfg));
    cfg = (healer_templates_cfg_t){.max_line_bytes =
                                       HEALER_TEMPLATES_LINE_CEILING + 1};
    assert_null(healer_templates_new(&cfg));
    healer_templates_t *m = NULL;
    healer_templates_destroy(&m); // harmless
    healer_templates_destroy(NULL);
}

static void
test_save_load_round_trip(void **state)
{
    (void)state;
    healer_templates_t *m = healer_templates_new(NULL);
    uint32_t a = s_add(m, "user=root uid=0 login failed from 10.0.0.1");
    uint32_t b = s_add(m, "worker 7 exited with status 1");
    s_add(m, "worker 9 exited with status 2");
    uint32_t e = s_add(m, "");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(healer_templates_save(m, f), 0);
    fclose(f);
    assert_string_equal(buf, "healbus-templates 1\n"
                             "0\t1\tuser=root uid=<*> login failed from <*>\n"
                             "1\t2\tworker <*> exited with status <*>\n"
                             "2\t1\t\n");
    f = fmemopen(buf, len, "r");
    char err[128] = "";
    healer_templates_t *back = healer_templates_load(f, NULL, err, sizeof err);
    fclose(f);
    assert_non_null(back);
    assert_string_equal(err, "");
    assert_int_equal(healer_templates_count(back), 3);
    assert_string_equal(healer_templates_template(back, b),
                        healer_templates_template(m, b));
    assert_int_equal(healer_templates_hits(back, b), 2);
    // Known messages land in their old groups; a new one gets a new id.
    assert_int_equal(s_add(back, "worker 3 exited with status 0"), b);
    assert_int_equal(s_add(back, "user=root uid=5 login failed from ::1"), a);
    assert_int_equal(healer_templates_add(back, "", 0), e);
    assert_int_equal(s_add(back, "something else"), 3);
    free(buf);
    healer_templates_destroy(&back);
    healer_templates_destroy(&m);
}

typedef struct {
    const char *text;
    size_t len; // 0: strlen(text)
    const char *err;
} s_bad_file_t;

static void
test_load_rejects_malformed_files(void **state)
{
    (void)state;
    static const char nul_line[] = "healbus-templates 1\n0\t1\ta\0b\n";
    static const s_bad_file_t cases[] = {
        {"", 0, "line 1: not a healbus templates file"},
        {"healbus-templates 2\n", 0, "line 1: not a healbus templates file"},
        {"healbus-templates 1\n0 1 x\n", 0,
         "line 2: expected <id>\\t<hits>\\t<template>"},
        {"healbus-templates 1\n-1\t1\tx\n", 0, "line 2: bad id"},
        {"healbus-templates 1\n4294967295\t1\tx\n", 0, "line 2: bad id"},
        {"healbus-templates 1\n\t1\tx\n", 0, "line 2: bad id"},
        {"healbus-templates 1\n1\t1e3\tx\n", 0, "line 2: bad hit count"},
        {"healbus-templates 1\n1\t99999999999999999999\tx\n", 0,
         "line 2: bad hit count"},
        {"healbus-templates 1\n1\t1\tx\ty\n", 0,
         "line 2: control byte in template"},
        {"healbus-templates 1\n1\t1\tx\n2\t1\ty\n1\t1\tz\n", 0,
         "line 4: duplicate id 1"},
        {"healbus-templates 1\n1\t1\tx", 0,
         "line 2: truncated (no final newline)"},
        {nul_line, sizeof nul_line - 1, "line 2: NUL byte"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        FILE *f = len ? fmemopen((void *)cases[i].text, len, "r")
                      : fopen("/dev/null", "r");
        assert_non_null(f);
        char err[128] = "";
        healer_templates_t *m = healer_templates_load(f, NULL, err, sizeof err);
        fclose(f);
        assert_null(m);
        assert_string_equal(err, cases[i].err);
    }
}

static void
test_load_enforces_the_configured_limits(void **state)
{
    (void)state;
    healer_templates_cfg_t cfg = {
        .max_groups = 1, .max_tokens = 3, .max_line_bytes = 16};
    static const s_bad_file_t cases[] = {
        {"healbus-templates 1\n1\t1\tx\n2\t1\ty\n", 0,
         "line 3: more templates than max_groups"},
        {"healbus-templates 1\n1\t1\ta b c d\n", 0, "line 2: too many tokens"},
        {"healbus-templates "
         "1\n1\t1\taaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
         0, "line 2: line too long"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        FILE *f = fmemopen((void *)cases[i].text, strlen(cases[i].text), "r");
        char err[128] = "";
        assert_null(healer_templates_load(f, &cfg, err, sizeof err));
        fclose(f);
        assert_string_equal(err, cases[i].err);
    }
    // No room for the reason is fine too.
    FILE *f = fmemopen((void *)cases[0].text, strlen(cases[0].text), "r");
    assert_null(healer_templates_load(f, &cfg, NULL, 0));
    fclose(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_masks_numbers_ids_paths_addresses_and_hex),
        cmocka_unit_test(test_same_shape_lines_share_a_group),
        cmocka_unit_test(test_different_events_get_different_groups),
        cmocka_unit_test(test_generalised_group_keeps_its_id),
        cmocka_unit_test(test_long_binary_and_empty_lines_are_safe),
        cmocka_unit_test(test_token_cap_folds_the_tail),
        cmocka_unit_test(test_full_table_evicts_least_recently_used),
        cmocka_unit_test(test_new_rejects_bad_config),
        cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_load_rejects_malformed_files),
        cmocka_unit_test(test_load_enforces_the_configured_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
