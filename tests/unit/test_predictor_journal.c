/*  Tests of predictor_journal: round trip, bound, hostile files. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "predictor_journal.h"
#include "test_proc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    char *dir;
    hb_log_t *log;
    node_store_t *store;
} s_fix_t;

static int
s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    f->dir = test_proc_tmpdir();
    f->log = hb_log_new("test", NULL, HB_LOG_ERROR);
    f->store = node_store_new(f->dir, f->log);
    assert_non_null(f->store);
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    s_fix_t *f = *state;
    node_store_destroy(&f->store);
    hb_log_destroy(&f->log);
    test_proc_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static predictor_journal_entry_t
s_entry(uint64_t id)
{
    predictor_journal_entry_t e = {.id = id,
                                   .issued_us = 1764000000000000LL,
                                   .fail_at_us = 1764100000000000LL,
                                   .confidence = 0.75,
                                   .level = PROTO_LEVEL_HIGH,
                                   .outcome = PREDICTOR_OUTCOME_PENDING};
    snprintf(e.worker, sizeof e.worker, "loader-%llu", (unsigned long long)id);
    snprintf(e.series, sizeof e.series, "err:load_csv");
    snprintf(e.reason, sizeof e.reason, "error rate rose \"10%%\"/day");
    snprintf(e.action, sizeof e.action, "increase_memory_allocation");
    return e;
}

static void
s_write(s_fix_t *f, const char *text)
{
    assert_int_equal(node_store_write(f->store, PREDICTOR_JOURNAL_FILE, text,
                                      strlen(text)), HB_OK);
}

static void
test_journal_round_trip_keeps_fields_and_record(void **state)
{
    s_fix_t *f = *state;
    predictor_journal_t *j = predictor_journal_new(f->store, 10);
    predictor_journal_entry_t e = s_entry(1);
    predictor_journal_add(j, &e);
    e = s_entry(2);
    predictor_journal_add(j, &e);
    assert_true(predictor_journal_resolve(j, 1, PREDICTOR_OUTCOME_HIT));
    assert_false(predictor_journal_resolve(j, 99, PREDICTOR_OUTCOME_HIT));
    predictor_record_stats_t st[PREDICTOR_RECORD_KINDS] = {{3, 1, 0.5, -0.25},
                                                           {0, 2, 0, 0}};
    assert_int_equal(predictor_journal_save(j, st), HB_OK);
    assert_false(predictor_journal_dirty(j));
    predictor_journal_destroy(&j);

    j = predictor_journal_new(f->store, 10);
    predictor_record_stats_t got[PREDICTOR_RECORD_KINDS];
    assert_int_equal(predictor_journal_load(j, got, NULL, 0), HB_OK);
    assert_int_equal(predictor_journal_count(j), 2);
    const predictor_journal_entry_t *a = predictor_journal_at(j, 0);
    assert_int_equal(a->id, 1);
    assert_int_equal(a->outcome, PREDICTOR_OUTCOME_HIT);
    assert_string_equal(a->worker, "loader-1");
    assert_string_equal(a->series, "err:load_csv");
    assert_string_equal(a->reason, "error rate rose \"10%\"/day");
    assert_string_equal(a->action, "increase_memory_allocation");
    assert_int_equal(a->level, PROTO_LEVEL_HIGH);
    assert_int_equal(a->fail_at_us, 1764100000000000LL);
    assert_float_equal(a->confidence, 0.75, 1e-12);
    assert_int_equal(predictor_journal_at(j, 1)->outcome,
                     PREDICTOR_OUTCOME_PENDING);
    assert_int_equal(got[0].hits, 3);
    assert_int_equal(got[0].misses, 1);
    assert_float_equal(got[0].ttf_bias_sum, -0.25, 1e-12);
    assert_int_equal(got[1].misses, 2);
    assert_int_equal(predictor_journal_last_id(j), 2);
    predictor_journal_destroy(&j);

    // the seed's fields are in the file as written
    char *text = NULL;
    size_t len;
    assert_int_equal(node_store_read(f->store, PREDICTOR_JOURNAL_FILE, 1 << 20,
                                     &text, &len), HB_OK);
    assert_non_null(strstr(text, "\"prediction\": \"will_fail_by_2025-11-25T"));
    assert_non_null(strstr(text, "\"suggested_action\": \"increase_memory"));
    assert_non_null(strstr(text, "\"timestamp\": \"2025-11-24T"));
    free(text);
}

static void
test_journal_keeps_only_the_newest(void **state)
{
    s_fix_t *f = *state;
    predictor_journal_t *j = predictor_journal_new(f->store, 3);
    for (uint64_t i = 1; i <= 5; i++) {
        predictor_journal_entry_t e = s_entry(i);
        predictor_journal_add(j, &e);
    }
    assert_int_equal(predictor_journal_count(j), 3);
    assert_int_equal(predictor_journal_at(j, 0)->id, 3);
    assert_int_equal(predictor_journal_at(j, 2)->id, 5);
    predictor_record_stats_t st[PREDICTOR_RECORD_KINDS] = {{0}};
    assert_int_equal(predictor_journal_save(j, st), HB_OK);
    predictor_journal_destroy(&j);
    // a smaller bound on reload keeps the newest
    j = predictor_journal_new(f->store, 2);
    assert_int_equal(predictor_journal_load(j, st, NULL, 0), HB_OK);
    assert_int_equal(predictor_journal_count(j), 2);
    assert_int_equal(predictor_journal_at(j, 0)->id, 4);
    predictor_journal_destroy(&j);
}

static void
test_journal_bad_json_is_moved_aside_with_line_and_column(void **state)
{
    s_fix_t *f = *state;
    s_write(f, "{\"predictions\": [\n  {\"id\": 1,,}\n]}");
    predictor_journal_t *j = predictor_journal_new(f->store, 10);
    predictor_record_stats_t st[PREDICTOR_RECORD_KINDS];
    char why[256] = "";
    assert_int_equal(predictor_journal_load(j, st, why, sizeof why),
                     HB_ESYNTAX);
    assert_non_null(strstr(why, ".predictions.json:2:"));
    assert_int_equal(predictor_journal_count(j), 0);
    char aside[512];
    snprintf(aside, sizeof aside, "%s/%s", f->dir, PREDICTOR_JOURNAL_ASIDE);
    struct stat sb;
    assert_int_equal(stat(aside, &sb), 0);
    char *text = NULL;
    size_t len;
    assert_int_equal(node_store_read(f->store, PREDICTOR_JOURNAL_FILE, 4096,
                                     &text, &len), HB_ENOTFOUND);
    predictor_journal_destroy(&j);
}

static void
test_journal_schema_violations_are_rejected(void **state)
{
    s_fix_t *f = *state;
    static const struct {
        const char *text;
        const char *why;
    } cases[] = {
        {"[]", "no \"predictions\""},
        {"{\"predictions\": [1]}", "bad not an object"},
        {"{\"predictions\": [{\"id\": 0}]}", "bad id"},
        {"{\"predictions\": [{\"id\": 1, \"timestamp\": \"t\", \"worker\": "
         "\"w\", \"prediction\": \"will_fail_by_x\", \"confidence\": 2}]}",
         "bad confidence"},
        {"{\"predictions\": [{\"id\": 1, \"timestamp\": \"t\", \"worker\": "
         "\"w\", \"prediction\": \"boom\"}]}",
         "bad prediction"},
        {"{\"predictions\": [], \"record\": {\"metric\": {\"hits\": -1}}}",
         "bad record"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        s_write(f, cases[i].text);
        predictor_journal_t *j = predictor_journal_new(f->store, 10);
        predictor_record_stats_t st[PREDICTOR_RECORD_KINDS];
        char why[256] = "";
        assert_int_equal(predictor_journal_load(j, st, why, sizeof why),
                         HB_ESYNTAX);
        if (!strstr(why, cases[i].why))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, why, cases[i].why);
        assert_int_equal(predictor_journal_count(j), 0);
        predictor_journal_destroy(&j);
    }
}

static void
test_journal_absent_file_is_empty_and_bad_args_fail(void **state)
{
    s_fix_t *f = *state;
    assert_null(predictor_journal_new(f->store, 0));
    assert_null(predictor_journal_new(NULL, 10));
    predictor_journal_t *j = predictor_journal_new(f->store, 10);
    predictor_record_stats_t st[PREDICTOR_RECORD_KINDS];
    assert_int_equal(predictor_journal_load(j, st, NULL, 0), HB_OK);
    assert_int_equal(predictor_journal_count(j), 0);
    assert_int_equal(st[0].hits, 0);
    predictor_journal_destroy(&j);
    predictor_journal_destroy(&j);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_journal_round_trip_keeps_fields_and_record, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(test_journal_keeps_only_the_newest,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_journal_bad_json_is_moved_aside_with_line_and_column, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_journal_schema_violations_are_rejected, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_journal_absent_file_is_empty_and_bad_args_fail, s_setup,
            s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
