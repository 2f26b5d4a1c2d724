/*  Tests of predictor_series: rings, LRU eviction, bounds. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "predictor_series.h"
#include <stdio.h>
#include <string.h>

static predictor_series_table_t *
s_table(uint32_t cap)
{
    predictor_series_cfg_t cfg = {1000, 8, cap};
    predictor_series_table_t *t = predictor_series_new(&cfg);
    assert_non_null(t);
    return t;
}

static void
test_series_new_rejects_bad_config(void **state)
{
    (void)state;
    predictor_series_cfg_t cfg = {0, 8, 10};
    assert_null(predictor_series_new(&cfg));
    cfg = (predictor_series_cfg_t){1000, 3, 10};
    assert_null(predictor_series_new(&cfg));
    cfg = (predictor_series_cfg_t){1000, 8, 0};
    assert_null(predictor_series_new(&cfg));
    assert_null(predictor_series_new(NULL));
}

static void
test_series_buckets_roll_and_close(void **state)
{
    (void)state;
    predictor_series_table_t *t = s_table(10);
    uint32_t s = predictor_series_get(t, "a", "err:op",
                                      PREDICTOR_SERIES_RATE, true);
    assert_int_not_equal(s, PREDICTOR_SERIES_NONE);
    assert_int_equal(predictor_series_add(t, s, 5000, 1, 1),
                     PREDICTOR_SERIES_SAME);
    assert_int_equal(predictor_series_add(t, s, 5999, 0, 1),
                     PREDICTOR_SERIES_SAME);
    assert_int_equal(predictor_series_add(t, s, 7000, 1, 1),
                     PREDICTOR_SERIES_OPENED);
    const predictor_bucket_t *b = predictor_series_bucket(t, s, 5);
    assert_non_null(b);
    assert_int_equal(b->n, 2);
    assert_true(b->sum == 1.0f);
    b = predictor_series_bucket(t, s, 6); // skipped bucket is empty
    assert_non_null(b);
    assert_int_equal(b->n, 0);
    assert_int_equal(predictor_series_add(t, s, 6500, 1, 1),
                     PREDICTOR_SERIES_LATE);
    assert_int_equal(predictor_series_bucket(t, s, 6)->n, 1);
    // older than the ring (8 buckets): dropped and counted
    assert_int_equal(predictor_series_add(t, s, -1000, 1, 1),
                     PREDICTOR_SERIES_DROPPED);
    assert_int_equal(predictor_series_drops(t), 1);
    // a jump past the whole ring clears it
    assert_int_equal(predictor_series_add(t, s, 100000, 0, 1),
                     PREDICTOR_SERIES_OPENED);
    assert_null(predictor_series_bucket(t, s, 7));
    assert_int_equal(predictor_series_bucket(t, s, 99)->n, 0);
    assert_int_equal(predictor_series_bucket(t, s, 100)->n, 1);
    predictor_series_destroy(&t);
    assert_null(t);
    predictor_series_destroy(&t);
}

static void
test_series_cap_evicts_least_recently_used(void **state)
{
    (void)state;
    predictor_series_table_t *t = s_table(3);
    uint32_t a = predictor_series_get(t, "a", "m", PREDICTOR_SERIES_METRIC, 1);
    uint32_t b = predictor_series_get(t, "b", "m", PREDICTOR_SERIES_METRIC, 1);
    predictor_series_get(t, "c", "m", PREDICTOR_SERIES_METRIC, 1);
    assert_int_equal(predictor_series_get(t, "a", "m",
                                          PREDICTOR_SERIES_METRIC, false), a);
    // a sample in the same bucket does not reorder; opening a bucket does
    assert_int_equal(predictor_series_add(t, a, 0, 1, 1),
                     PREDICTOR_SERIES_SAME);
    assert_int_equal(predictor_series_add(t, b, 0, 1, 1),
                     PREDICTOR_SERIES_SAME);
    assert_int_equal(predictor_series_add(t, a, 1000, 1, 1),
                     PREDICTOR_SERIES_OPENED);
    uint32_t d = predictor_series_get(t, "d", "m", PREDICTOR_SERIES_METRIC, 1);
    assert_int_equal(d, b); // b was least recently used: its slot is reused
    assert_int_equal(predictor_series_count(t), 3);
    assert_int_equal(predictor_series_evictions(t), 1);
    assert_int_equal(predictor_series_get(t, "b", "m",
                                          PREDICTOR_SERIES_METRIC, false),
                     PREDICTOR_SERIES_NONE);
    assert_string_equal(predictor_series_agent(predictor_series_at(t, d)),
                        "d");
    assert_string_equal(predictor_series_name(predictor_series_at(t, d)), "m");
    predictor_series_destroy(&t);
}

static void
test_series_keys_do_not_collide_across_the_split(void **state)
{
    (void)state;
    predictor_series_table_t *t = s_table(10);
    uint32_t x = predictor_series_get(t, "ab", "c", PREDICTOR_SERIES_RATE, 1);
    uint32_t y = predictor_series_get(t, "a", "bc", PREDICTOR_SERIES_RATE, 1);
    assert_int_not_equal(x, y);
    assert_int_equal(predictor_series_count(t), 2);
    predictor_series_destroy(&t);
}

static void
test_series_many_series_grow_index_and_stay_findable(void **state)
{
    (void)state;
    predictor_series_table_t *t = s_table(5000);
    char agent[32];
    for (int i = 0; i < 6000; i++) {
        snprintf(agent, sizeof agent, "agent-%d", i);
        assert_int_not_equal(predictor_series_get(t, agent, "m",
                                                  PREDICTOR_SERIES_METRIC, 1),
                             PREDICTOR_SERIES_NONE);
    }
    assert_int_equal(predictor_series_count(t), 5000);
    assert_int_equal(predictor_series_evictions(t), 1000);
    for (int i = 0; i < 6000; i++) {
        snprintf(agent, sizeof agent, "agent-%d", i);
        uint32_t s = predictor_series_get(t, agent, "m",
                                          PREDICTOR_SERIES_METRIC, false);
        if (i < 1000)
            assert_int_equal(s, PREDICTOR_SERIES_NONE);
        else
            assert_int_not_equal(s, PREDICTOR_SERIES_NONE);
    }
    predictor_series_destroy(&t);
}

static void
test_series_churn_keeps_every_live_series_findable(void **state)
{
    (void)state;
    // A small cap and many more keys: each insert evicts, and every
    // removal shifts index entries back; every live series must still be
    // found under its own name and none of the evicted ones.
    predictor_series_table_t *t = s_table(700);
    char agent[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(agent, sizeof agent, "a%d", i);
        uint32_t s = predictor_series_get(t, agent, "err:op",
                                          PREDICTOR_SERIES_RATE, true);
        assert_int_not_equal(s, PREDICTOR_SERIES_NONE);
        assert_string_equal(predictor_series_agent(predictor_series_at(t, s)),
                            agent);
    }
    assert_int_equal(predictor_series_count(t), 700);
    for (int i = 0; i < 20000; i++) {
        snprintf(agent, sizeof agent, "a%d", i);
        uint32_t s = predictor_series_get(t, agent, "err:op",
                                          PREDICTOR_SERIES_RATE, false);
        if (i < 20000 - 700) {
            assert_int_equal(s, PREDICTOR_SERIES_NONE);
            continue;
        }
        assert_int_not_equal(s, PREDICTOR_SERIES_NONE);
        predictor_series_t *r = predictor_series_at(t, s);
        assert_true(predictor_series_live(r));
        assert_string_equal(predictor_series_agent(r), agent);
    }
    predictor_series_destroy(&t);
}

static void
test_series_long_keys_live_outside_the_record(void **state)
{
    (void)state;
    predictor_series_table_t *t = s_table(2);
    char agent[65], name[161];
    memset(agent, 'a', 64);
    agent[64] = '\0';
    memset(name, 'n', 160);
    name[160] = '\0';
    uint32_t s = predictor_series_get(t, agent, name,
                                      PREDICTOR_SERIES_METRIC, true);
    assert_int_not_equal(s, PREDICTOR_SERIES_NONE);
    assert_string_equal(predictor_series_agent(predictor_series_at(t, s)),
                        agent);
    assert_string_equal(predictor_series_name(predictor_series_at(t, s)),
                        name);
    assert_int_equal(predictor_series_get(t, agent, name,
                                          PREDICTOR_SERIES_METRIC, false),
                     s);
    // evicting it frees its key (valgrind and ASan check)
    predictor_series_get(t, "b", "m", PREDICTOR_SERIES_METRIC, true);
    predictor_series_get(t, "c", "m", PREDICTOR_SERIES_METRIC, true);
    assert_int_equal(predictor_series_get(t, agent, name,
                                          PREDICTOR_SERIES_METRIC, false),
                     PREDICTOR_SERIES_NONE);
    predictor_series_get(t, agent, name, PREDICTOR_SERIES_METRIC, true);
    predictor_series_destroy(&t); // frees the long key still held
}

static void
test_series_key_state_extends_to_the_class_series(void **state)
{
    (void)state;
    uint64_t op = predictor_series_key("a", "err:op");
    uint64_t cls = predictor_series_key_more(
        predictor_series_key_more(op, ":"), "TimeoutError");
    assert_true(cls == predictor_series_key("a", "err:op:TimeoutError"));
    predictor_series_table_t *t = s_table(10);
    predictor_series_add_t what;
    uint32_t s = predictor_series_sample(t, "a", "err:op:TimeoutError", cls,
                                         PREDICTOR_SERIES_CLASS, 5000, 1, 0,
                                         &what);
    assert_int_equal(what, PREDICTOR_SERIES_SAME);
    assert_int_equal(predictor_series_get(t, "a", "err:op:TimeoutError",
                                          PREDICTOR_SERIES_CLASS, false),
                     s);
    assert_true(predictor_series_at(t, s)->hash ==
                predictor_series_hash("a", "err:op:TimeoutError"));
    assert_int_equal(predictor_series_sample(t, "a", "err:op:TimeoutError",
                                             cls, PREDICTOR_SERIES_CLASS,
                                             6000, 1, 0, &what),
                     s);
    assert_int_equal(what, PREDICTOR_SERIES_OPENED);
    assert_true(predictor_series_bucket(t, s, 5)->sum == 1);
    assert_true(predictor_series_bucket(t, s, 6)->sum == 1);
    predictor_series_destroy(&t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_series_new_rejects_bad_config),
        cmocka_unit_test(test_series_buckets_roll_and_close),
        cmocka_unit_test(test_series_cap_evicts_least_recently_used),
        cmocka_unit_test(test_series_keys_do_not_collide_across_the_split),
        cmocka_unit_test(test_series_many_series_grow_index_and_stay_findable),
        cmocka_unit_test(test_series_churn_keeps_every_live_series_findable),
        cmocka_unit_test(test_series_long_keys_live_outside_the_record),
        cmocka_unit_test(test_series_key_state_extends_to_the_class_series),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
