/*  test_healer_catalog.c - the fix catalog: defaults, the installed file
    equals the built-in copy, candidate order and globs, and every parser
    rejection with its file:line message. */

#include "healer_catalog.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_expect_error(const char *text, const char *message)
{
    char err[256] = "";
    healer_catalog_t *c =
        healer_catalog_parse(text, strlen(text), "t.conf", err, sizeof err);
    if (c)
        fail_msg("accepted: %s", text);
    assert_string_equal(err, message);
}

static void
test_catalog_builtin_covers_the_seed_four(void **state)
{
    (void)state;
    healer_catalog_t *c = healer_catalog_builtin();
    assert_non_null(c);
    const healer_fix_t *f = healer_catalog_find(c, "fuzzy_dates");
    assert_non_null(f);
    assert_string_equal(f->error_class, "DateFormatError");
    assert_int_equal(f->steps[0].op, PROTO_STEP_SET);
    assert_string_equal(f->steps[0].target, "date_parser");
    assert_int_equal(f->steps[0].value.type, PROTO_VAL_STR);
    assert_string_equal(f->steps[0].value.u.s, "fuzzy");
    f = healer_catalog_find(c, "raise_timeout");
    assert_int_equal(f->steps[0].op, PROTO_STEP_MUL);
    assert_int_equal(f->steps[0].value.type, PROTO_VAL_INT);
    assert_int_equal(f->steps[0].value.u.i, 2);
    f = healer_catalog_find(c, "halve_batch");
    assert_int_equal(f->steps[0].op, PROTO_STEP_DIV);
    assert_string_equal(f->steps[0].target, "batch_size");
    f = healer_catalog_find(c, "streaming_parser");
    assert_string_equal(f->steps[0].value.u.s, "streaming");
    char buf[128];
    assert_string_equal(healer_catalog_describe(f, buf, sizeof buf),
                        "set parser streaming");
    healer_catalog_destroy(&c);
    healer_catalog_destroy(&c); // harmless twice
    assert_null(c);
}

static void
test_catalog_file_matches_builtin(void **state)
{
    (void)state;
    char err[256];
    healer_catalog_t *file = healer_catalog_load(
        TEST_SOURCE_DIR "/node/healer/fixes.conf", err, sizeof err);
    if (!file)
        fail_msg("%s", err);
    healer_catalog_t *mem = healer_catalog_builtin();
    assert_int_equal(healer_catalog_count(file), healer_catalog_count(mem));
    for (uint32_t i = 0; i < healer_catalog_count(mem); i++) {
        const healer_fix_t *a = healer_catalog_fix(file, i);
        const healer_fix_t *b = healer_catalog_fix(mem, i);
        char da[256], db[256];
        assert_string_equal(a->name, b->name);
        assert_string_equal(a->error_class, b->error_class);
        assert_string_equal(a->glob, b->glob);
        assert_string_equal(healer_catalog_describe(a, da, sizeof da),
                            healer_catalog_describe(b, db, sizeof db));
    }
    assert_null(healer_catalog_fix(mem, healer_catalog_count(mem)));
    healer_catalog_destroy(&file);
    healer_catalog_destroy(&mem);
}

static void
test_catalog_candidates_in_file_order_with_globs(void **state)
{
    (void)state;
    const char *text = "[fix a]\nclass = TimeoutError\nstep = mul t 2\n"
                       "# comment\n\n"
                       "[fix b]\nclass = TimeoutError\n"
                       "template = *socket*\nstep = action reconnect\n"
                       "[fix c]\nclass = *\nstep = set mode safe\n"
                       "[fix d]\nclass = MemoryError\nstep = div n 2.5\n";
    healer_catalog_t *c =
        healer_catalog_parse(text, strlen(text), "t", NULL, 0);
    assert_non_null(c);
    const healer_fix_t *out[8];
    uint32_t n = healer_catalog_candidates(c, "TimeoutError",
                                           "read timed out", NULL, out, 8);
    assert_int_equal(n, 2);
    assert_string_equal(out[0]->name, "a");
    assert_string_equal(out[1]->name, "c");
    n = healer_catalog_candidates(c, "TimeoutError", "x",
                                  "socket <*> timed out", out, 8);
    assert_int_equal(n, 3);
    assert_string_equal(out[1]->name, "b");
    assert_int_equal(out[1]->steps[0].op, PROTO_STEP_ACTION);
    assert_int_equal(out[1]->steps[0].value.type, PROTO_VAL_NIL);
    n = healer_catalog_candidates(c, "MemoryError", NULL, NULL, out, 1);
    assert_int_equal(n, 1); // capped
    assert_string_equal(out[0]->name, "c");
    n = healer_catalog_candidates(c, "MemoryError", NULL, NULL, out, 8);
    assert_int_equal(n, 2);
    assert_string_equal(out[1]->name, "d");
    assert_true(out[1]->steps[0].value.u.d == 2.5);
    healer_catalog_destroy(&c);
}

static void
test_catalog_glob(void **state)
{
    (void)state;
    assert_true(healer_catalog_glob("*timed out*", "read timed out after 3"));
    assert_true(healer_catalog_glob("a?c", "abc"));
    assert_true(healer_catalog_glob("*", ""));
    assert_false(healer_catalog_glob("a?c", "ac"));
    assert_false(healer_catalog_glob("*x", "abc"));
    assert_true(healer_catalog_glob("*a*b*c", "zzazzbzzc"));
}

static void
test_catalog_rejects_bad_files_with_line(void **state)
{
    (void)state;
    s_expect_error("[fix a]\nclas = X\n",
                   "t.conf:2: unknown key 'clas' (class, template, step)");
    s_expect_error("[fix a]\nclass = X\nstep = shout k 1\n",
                   "t.conf:3: unknown step operation 'shout' (set, mul, "
                   "div, add, action)");
    s_expect_error("[fix a]\nstep = set k v\n[fix b]\n",
                   "t.conf:3: fix 'a' (line 1) has no class");
    s_expect_error("[fix a]\nclass = X\n",
                   "t.conf:2: fix 'a' (line 1) has no step");
    s_expect_error("[fix a]\nclass = X\nstep = set k v\n[fix a]\n",
                   "t.conf:4: duplicate fix name 'a'");
    s_expect_error("[fix a]\nclass = X\nstep = mul k 2x\n",
                   "t.conf:3: bad number '2x'");
    s_expect_error("[fix a]\nclass = X\nstep = div k 0\n",
                   "t.conf:3: div needs a positive number, not '0'");
    s_expect_error("[fix a]\nclass = X\nstep = mul k\n",
                   "t.conf:3: step 'mul' needs a value");
    s_expect_error("class = X\n",
                   "t.conf:1: 'class' outside a [fix NAME] section");
    s_expect_error("[fix a b]\n", "t.conf:1: bad fix name 'a b' (1-64 of "
                                  "A-Z a-z 0-9 _ . -)");
    s_expect_error("[fox a]\n", "t.conf:1: expected '[fix NAME]'");
    s_expect_error("[fix a]\nclass X\n", "t.conf:2: expected 'key = value'");
    s_expect_error("[fix a]\nclass = X\nclass = Y\n",
                   "t.conf:3: second class in fix 'a'");
    s_expect_error("# nothing\n", "t.conf:1: no fix defined");
    s_expect_error("[fix a]\nclass = X\nstep = set k 1 2\n",
                   "t.conf:3: step has too many words");
    s_expect_error("[fix a]\nclass = X\nstep = set k a/b\n",
                   "t.conf:3: bad value 'a/b'");
}

static void
test_catalog_rejects_limits(void **state)
{
    (void)state;
    char *text = malloc(64 * 1024);
    assert_non_null(text);
    // Nine steps: one over PROTO_MAX_STEPS.
    strcpy(text, "[fix a]\nclass = X\n");
    for (int i = 0; i < 9; i++)
        strcat(text, "step = add k 1\n");
    s_expect_error(text, "t.conf:11: too many steps in fix 'a' (at most 8)");
    // An overlong line.
    memset(text, '#', 600);
    text[600] = '\0';
    s_expect_error(text, "t.conf:1: line longer than 512 bytes");
    // One fix too many.
    text[0] = '\0';
    size_t at = 0;
    for (int i = 0; i <= HEALER_CATALOG_MAX_FIXES; i++)
        at += (size_t)sprintf(text + at,
                              "[fix f%d]\nclass = X\nstep = add k 1\n", i);
    s_expect_error(text, "t.conf:769: too many fixes (at most 256)");
    free(text);
    char err[256];
    assert_null(healer_catalog_load("/nonexistent/fixes.conf", err,
                                    sizeof err));
    assert_string_equal(err, "/nonexistent/fixes.conf:0: cannot open: No "
                             "such file or directory");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalog_builtin_covers_the_seed_four),
        cmocka_unit_test(test_catalog_file_matches_builtin),
        cmocka_unit_test(test_catalog_candidates_in_file_order_with_globs),
        cmocka_unit_test(test_catalog_glob),
        cmocka_unit_test(test_catalog_rejects_bad_files_with_line),
        cmocka_unit_test(test_catalog_rejects_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
