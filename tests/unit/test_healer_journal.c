/*  test_healer_journal.c - .auto_healing_log.json: round trip of attempts,
    totals, learning and templates; bounded retention; corrupt or
    mis-shaped files moved aside; malformed entries skipped. */

#include "healer_journal.h"
#include "test_proc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char *dir;
    node_store_t *store;
    uint64_t rng;
} fx_t;

static uint64_t
s_rand(void *arg)
{
    return ++*(uint64_t *)arg * 0x9e3779b97f4a7c15ull;
}

static int
s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    fx->dir = test_proc_tmpdir();
    fx->store = node_store_new(fx->dir, NULL);
    assert_non_null(fx->store);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *fx = *state;
    node_store_destroy(&fx->store);
    test_proc_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

static void
s_add(healer_journal_t *j, int i, bool ok)
{
    char agent[32];
    snprintf(agent, sizeof agent, "agent-%d", i);
    healer_orch_outcome_t o = {agent,
                               "load",
                               "TimeoutError",
                               "TimeoutError|timed out",
                               "timed out",
                               "h-1-1",
                               "raise_timeout",
                               "mul timeout_ms 2",
                               ok ? "committed" : "rolled_back",
                               "test",
                               ok,
                               1,
                               1765485600000000 + i};
    healer_journal_add(j, &o);
}

static json_t *
s_read(fx_t *fx)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fx->dir, HEALER_JOURNAL_FILE);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root)
        fail_msg("%s: %s", path, err.text);
    return root;
}

static void
test_journal_round_trip(void **state)
{
    fx_t *fx = *state;
    healer_journal_t *j = healer_journal_new(fx->store, NULL, 100);
    healer_learn_t *l = healer_learn_new(64, s_rand, &fx->rng);
    healer_templates_t *m = healer_templates_new(NULL);
    uint32_t tid = healer_templates_add(m, "read timed out after 5 ms", 25);
    s_add(j, 1, false);
    s_add(j, 2, true);
    healer_learn_record(l, "TimeoutError", "TimeoutError|timed out",
                        "raise_timeout", true);
    assert_true(healer_journal_dirty(j));
    assert_int_equal(healer_journal_flush(j, l, m), HB_OK);
    assert_false(healer_journal_dirty(j));
    assert_int_equal(healer_journal_writes(j), 1);

    json_t *root = s_read(fx);
    assert_int_equal(
        json_integer_value(json_object_get(root, "total_attempts")), 2);
    assert_int_equal(
        json_integer_value(json_object_get(root, "successful_heals")), 1);
    assert_true(json_real_value(json_object_get(root, "success_rate")) == 0.5);
    json_t *a = json_array_get(json_object_get(root, "healing_attempts"), 1);
    assert_string_equal(json_string_value(json_object_get(a, "agent")),
                        "agent-2");
    assert_string_equal(json_string_value(json_object_get(a, "method")),
                        "load");
    assert_string_equal(json_string_value(json_object_get(a, "error_type")),
                        "TimeoutError");
    assert_string_equal(json_string_value(json_object_get(a, "fix_applied")),
                        "mul timeout_ms 2");
    assert_true(json_is_true(json_object_get(a, "success")));
    assert_int_equal(json_integer_value(json_object_get(a, "attempt_number")),
                     1);
    assert_string_equal(json_string_value(json_object_get(a, "timestamp")),
                        "2025-12-11T20:40:00.000Z");
    json_decref(root);

    healer_journal_t *j2 = healer_journal_new(fx->store, NULL, 100);
    healer_learn_t *l2 = healer_learn_new(64, s_rand, &fx->rng);
    healer_templates_t *m2 = healer_templates_new(NULL);
    assert_int_equal(healer_journal_load(j2, l2, &m2), HB_OK);
    assert_int_equal(healer_journal_count(j2), 2);
    assert_int_equal(healer_journal_total(j2), 2);
    assert_int_equal(healer_journal_successes(j2), 1);
    uint32_t s, f;
    assert_true(healer_learn_get(l2, "TimeoutError", "TimeoutError|timed out",
                                 "raise_timeout", &s, &f));
    assert_int_equal(s, 1);
    assert_true(
        healer_learn_get(l2, "TimeoutError", "", "raise_timeout", &s, &f));
    assert_string_equal(healer_templates_template(m2, tid),
                        healer_templates_template(m, tid));
    assert_int_equal(healer_journal_corrupt(j2), 0);
    healer_templates_destroy(&m2);
    healer_learn_destroy(&l2);
    healer_journal_destroy(&j2);
    healer_templates_destroy(&m);
    healer_learn_destroy(&l);
    healer_journal_destroy(&j);
}

static void
test_journal_keeps_entries_with_invalid_utf8(void **state)
{
    fx_t *fx = *state;
    healer_journal_t *j = healer_journal_new(fx->store, NULL, 100);
    healer_learn_t *l = healer_learn_new(64, s_rand, &fx->rng);
    healer_templates_t *m = healer_templates_new(NULL);
    // A peer's bytes are not always UTF-8; the entry must survive anyway.
    healer_orch_outcome_t o = {"agent-\xff",
                               "lo\xc3",
                               "Timeout\xe2\x82",
                               "T|\xc0\xaf",
                               "timed out",
                               "h-1-1",
                               "raise_timeout",
                               "mul timeout_ms 2",
                               "committed",
                               "cut \xc3",
                               true,
                               1,
                               1765485600000000};
    healer_journal_add(j, &o);
    assert_int_equal(healer_journal_count(j), 1);
    assert_int_equal(healer_journal_flush(j, l, m), HB_OK);
    json_t *root = s_read(fx);
    json_t *a = json_array_get(json_object_get(root, "healing_attempts"), 0);
    assert_string_equal(json_string_value(json_object_get(a, "agent")),
                        "agent-\xef\xbf\xbd");
    assert_string_equal(json_string_value(json_object_get(a, "reason")),
                        "cut \xef\xbf\xbd");
    json_decref(root);
    healer_templates_destroy(&m);
    healer_learn_destroy(&l);
    healer_journal_destroy(&j);
}

static void
test_journal_keeps_newest_entries(void **state)
{
    fx_t *fx = *state;
    healer_journal_t *j = healer_journal_new(fx->store, NULL, 3);
    healer_learn_t *l = healer_learn_new(8, s_rand, &fx->rng);
    for (int i = 0; i < 5; i++)
        s_add(j, i, i % 2 == 0);
    assert_int_equal(healer_journal_count(j), 3);
    assert_int_equal(healer_journal_total(j), 5);
    assert_int_equal(healer_journal_successes(j), 3);
    assert_int_equal(healer_journal_flush(j, l, NULL), HB_OK);
    json_t *root = s_read(fx);
    json_t *att = json_object_get(root, "healing_attempts");
    assert_int_equal(json_array_size(att), 3);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(att, 0), "agent")),
        "agent-2");
    json_decref(root);
    healer_learn_destroy(&l);
    healer_journal_destroy(&j);
    assert_null(healer_journal_new(fx->store, NULL, 0));
}

static int
s_count_corrupt(const char *dir, const char *name)
{
    DIR *d = opendir(dir);
    int n = 0;
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s.corrupt-", name);
    for (struct dirent *e; (e = readdir(d));)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static void
s_expect_fresh_after(fx_t *fx, const char *content)
{
    assert_int_equal(node_store_write(fx->store, HEALER_JOURNAL_FILE, content,
                                      strlen(content)),
                     HB_OK);
    healer_journal_t *j = healer_journal_new(fx->store, NULL, 10);
    healer_learn_t *l = healer_learn_new(8, s_rand, &fx->rng);
    assert_int_equal(healer_journal_load(j, l, NULL), HB_OK);
    assert_int_equal(healer_journal_corrupt(j), 1);
    assert_int_equal(healer_journal_count(j), 0);
    assert_int_equal(healer_journal_total(j), 0);
    assert_int_equal(healer_learn_count(l), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fx->dir, HEALER_JOURNAL_FILE);
    assert_int_not_equal(access(path, F_OK), 0); // moved away
    healer_learn_destroy(&l);
    healer_journal_destroy(&j);
}

static void
test_journal_moves_corrupt_files_aside(void **state)
{
    fx_t *fx = *state;
    s_expect_fresh_after(fx, "{\"healing_attempts\": [\n{\"agent\": }");
    assert_int_equal(s_count_corrupt(fx->dir, HEALER_JOURNAL_FILE), 1);
    s_expect_fresh_after(fx, "[1, 2, 3]");
    s_expect_fresh_after(fx, "{\"healing_attempts\": [], "
                             "\"total_attempts\": -4, "
                             "\"successful_heals\": 0}");
    s_expect_fresh_after(fx, "{\"healing_attempts\": [], "
                             "\"total_attempts\": 1, "
                             "\"successful_heals\": 5}");
    s_expect_fresh_after(fx, "{\"a\": 1, \"a\": 2}");
    // A broken templates file is moved aside as well.
    const char *junk = "not a template file\n";
    node_store_write(fx->store, HEALER_JOURNAL_TEMPLATES, junk, strlen(junk));
    healer_journal_t *j = healer_journal_new(fx->store, NULL, 10);
    healer_learn_t *l = healer_learn_new(8, s_rand, &fx->rng);
    healer_templates_t *m = healer_templates_new(NULL);
    healer_templates_t *before = m;
    assert_int_equal(healer_journal_load(j, l, &m), HB_OK);
    assert_ptr_equal(m, before);
    assert_int_equal(healer_journal_corrupt(j), 1);
    assert_int_equal(s_count_corrupt(fx->dir, HEALER_JOURNAL_TEMPLATES), 1);
    healer_templates_destroy(&m);
    healer_learn_destroy(&l);
    healer_journal_destroy(&j);
}

static void
test_journal_skips_malformed_entries(void **state)
{
    fx_t *fx = *state;
    const char *text =
        "{\"healing_attempts\": [{\"agent\": 5}, {\"timestamp\": \"t\", "
        "\"agent\": \"a\", \"method\": \"m\", \"error_type\": \"E\", "
        "\"fix_applied\": \"f\", \"fix\": \"f\", \"fix_id\": \"i\", "
        "\"template\": \"t\", \"outcome\": \"committed\", \"reason\": \"\", "
        "\"success\": true, \"attempt_number\": 2, \"extra\": [1]}], "
        "\"total_attempts\": 9, \"successful_heals\": 4, "
        "\"learned_fixes\": [{\"error_class\": \"E\", \"pattern\": \"p\", "
        "\"fix\": \"f\", \"successes\": 3, \"failures\": 1}, "
        "{\"error_class\": \"E\", \"pattern\": \"p\", \"fix\": \"g\", "
        "\"successes\": -1, \"failures\": 1}]}";
    node_store_write(fx->store, HEALER_JOURNAL_FILE, text, strlen(text));
    healer_journal_t *j = healer_journal_new(fx->store, NULL, 10);
    healer_learn_t *l = healer_learn_new(8, s_rand, &fx->rng);
    assert_int_equal(healer_journal_load(j, l, NULL), HB_OK);
    assert_int_equal(healer_journal_corrupt(j), 0);
    assert_int_equal(healer_journal_count(j), 1);
    assert_int_equal(healer_journal_total(j), 9);
    assert_int_equal(healer_journal_successes(j), 4);
    assert_int_equal(healer_learn_count(l), 1);
    uint32_t s, f;
    assert_true(healer_learn_get(l, "E", "p", "f", &s, &f));
    assert_int_equal(s, 3);
    assert_int_equal(f, 1);
    healer_learn_destroy(&l);
    healer_journal_destroy(&j);
}

static void
test_journal_background_write(void **state)
{
    fx_t *fx = *state;
    healer_journal_t *j = healer_journal_new(fx->store, NULL, 100);
    healer_learn_t *l = healer_learn_new(64, s_rand, &fx->rng);
    healer_templates_t *m = healer_templates_new(NULL);
    s_add(j, 1, true);
    assert_int_equal(healer_journal_flush_bg(j, l, m), HB_OK);
    assert_false(healer_journal_dirty(j)); // the child has the snapshot
    s_add(j, 2, false);                    // after the snapshot
    assert_true(healer_journal_dirty(j));
    assert_false(healer_journal_reap(j, true));
    assert_int_equal(healer_journal_writes(j), 1);
    json_t *root = s_read(fx); // the child's file: the snapshot only
    assert_int_equal(
        json_integer_value(json_object_get(root, "total_attempts")), 1);
    json_decref(root);
    assert_false(healer_journal_reap(j, false)); // nothing left to reap
    // A synchronous flush waits for a writer still running, then writes.
    assert_int_equal(healer_journal_flush_bg(j, l, m), HB_OK);
    s_add(j, 3, true);
    assert_int_equal(healer_journal_flush(j, l, m), HB_OK);
    assert_int_equal(healer_journal_writes(j), 3);
    root = s_read(fx);
    assert_int_equal(
        json_integer_value(json_object_get(root, "total_attempts")), 3);
    json_decref(root);
    // A writer that fails leaves the journal dirty for the next flush.
    test_proc_rmtree(fx->dir);
    s_add(j, 4, true);
    assert_int_equal(healer_journal_flush_bg(j, l, m), HB_OK);
    assert_false(healer_journal_reap(j, true));
    assert_true(healer_journal_dirty(j));
    assert_int_equal(healer_journal_writes(j), 3);
    healer_templates_destroy(&m);
    healer_learn_destroy(&l);
    healer_journal_destroy(&j);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_journal_round_trip, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(
            test_journal_keeps_entries_with_invalid_utf8, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_journal_keeps_newest_entries,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_journal_moves_corrupt_files_aside,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_journal_skips_malformed_entries,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_journal_background_write, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
