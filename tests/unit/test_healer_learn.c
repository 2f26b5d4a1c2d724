/*  test_healer_learn.c - Beta counts, decay, class fallback, renames, the
    bounded table, and Thompson selection with a seeded generator. */

#include "healer_learn.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

static uint64_t
s_rand(void *arg)
{
    uint64_t *x = arg; // xorshift64*
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 2685821657736338717ull;
}

static const char *const s_fixes[] = {"A", "B", "C"};

static void
test_learn_counts_and_decay(void **state)
{
    (void)state;
    uint64_t seed = 1;
    healer_learn_t *l = healer_learn_new(64, s_rand, &seed);
    assert_non_null(l);
    healer_learn_record(l, "E", "E|p", "A", true);
    healer_learn_record(l, "E", "E|p", "A", false);
    healer_learn_record(l, "E", "E|p", "A", false);
    uint32_t s, f;
    assert_true(healer_learn_get(l, "E", "E|p", "A", &s, &f));
    assert_int_equal(s, 1);
    assert_int_equal(f, 2);
    assert_true(healer_learn_get(l, "E", "", "A", &s, &f)); // class record
    assert_int_equal(s, 1);
    assert_int_equal(f, 2);
    assert_false(healer_learn_get(l, "E", "E|q", "A", &s, &f));
    assert_int_equal(s + f, 0);
    for (int i = 0; i < HEALER_LEARN_DECAY_AT - 3; i++)
        healer_learn_record(l, "E", "E|p", "A", true);
    healer_learn_get(l, "E", "E|p", "A", &s, &f);
    assert_int_equal(s, 99); // 198 successes and 2 failures, halved
    assert_int_equal(f, 1);
    assert_int_equal(healer_learn_count(l), 2);
    healer_learn_destroy(&l);
    assert_null(l);
    assert_null(healer_learn_new(1, s_rand, &seed));
    assert_null(healer_learn_new(8, NULL, NULL));
}

static void
test_learn_cold_start_keeps_catalog_order(void **state)
{
    (void)state;
    uint64_t seed = 7;
    healer_learn_t *l = healer_learn_new(64, s_rand, &seed);
    uint32_t order[3];
    healer_learn_rank(l, "E", "E|p", s_fixes, 3, order);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 2);
    healer_learn_destroy(&l);
}

static void
test_learn_prefers_the_fix_that_works(void **state)
{
    (void)state;
    uint64_t seed = 42;
    healer_learn_t *l = healer_learn_new(64, s_rand, &seed);
    for (int i = 0; i < 4; i++) {
        healer_learn_record(l, "E", "E|p", "A", false);
        healer_learn_record(l, "E", "E|p", "B", true);
    }
    int b_first = 0;
    for (int draw = 0; draw < 1000; draw++) {
        uint32_t order[3];
        healer_learn_rank(l, "E", "E|p", s_fixes, 3, order);
        b_first += order[0] == 1;
    }
    // B ~ Beta(5, 1) against A ~ Beta(1, 5) and C at its prior mean 0.5:
    // B leads unless its draw falls under 0.5 (p = 1/32) or under A's.
    assert_in_range(b_first, 930, 1000);
    healer_learn_destroy(&l);
}

static void
test_learn_failing_fix_drops_behind_untried(void **state)
{
    (void)state;
    uint64_t seed = 99;
    healer_learn_t *l = healer_learn_new(64, s_rand, &seed);
    for (int i = 0; i < 6; i++)
        healer_learn_record(l, "E", "E|p", "A", false);
    int a_first = 0;
    for (int draw = 0; draw < 1000; draw++) {
        uint32_t order[3];
        healer_learn_rank(l, "E", "E|p", s_fixes, 3, order);
        a_first += order[0] == 0;
    }
    // A ~ Beta(1, 7) beats B's prior mean 0.5 with p = 0.5^7.
    assert_in_range(a_first, 0, 30);
    healer_learn_destroy(&l);
}

static void
test_learn_class_evidence_helps_new_patterns(void **state)
{
    (void)state;
    uint64_t seed = 5;
    healer_learn_t *l = healer_learn_new(64, s_rand, &seed);
    for (int i = 0; i < 40; i++) {
        healer_learn_record(l, "E", "E|old", "A", false);
        healer_learn_record(l, "E", "E|old", "B", true);
    }
    int b_first = 0;
    for (int draw = 0; draw < 1000; draw++) {
        uint32_t order[2];
        healer_learn_rank(l, "E", "E|new", s_fixes, 2, order);
        b_first += order[0] == 1;
    }
    assert_in_range(b_first, 950, 1000);
    healer_learn_destroy(&l);
}

static void
test_learn_rename_merges(void **state)
{
    (void)state;
    uint64_t seed = 3;
    healer_learn_t *l = healer_learn_new(64, s_rand, &seed);
    healer_learn_record(l, "E", "E|x 1", "A", true);
    healer_learn_record(l, "E", "E|x <*>", "A", true);
    healer_learn_record(l, "E", "E|x <*>", "A", false);
    healer_learn_rename(l, "E|x 1", "E|x <*>");
    uint32_t s, f;
    assert_false(healer_learn_get(l, "E", "E|x 1", "A", &s, &f));
    assert_true(healer_learn_get(l, "E", "E|x <*>", "A", &s, &f));
    assert_int_equal(s, 2);
    assert_int_equal(f, 1);
    healer_learn_destroy(&l);
}

static void
test_learn_table_is_bounded_lru(void **state)
{
    (void)state;
    uint64_t seed = 11;
    healer_learn_t *l = healer_learn_new(4, s_rand, &seed);
    healer_learn_set(l, "E", "E|keep", "A", 3, 0);
    char key[32];
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "E|p%d", i);
        healer_learn_set(l, "E", key, "A", 1, 1);
        uint32_t s, f; // touch the one we keep
        healer_learn_set(l, "E", "E|keep", "A", 3, 0);
        (void)s, (void)f;
    }
    assert_int_equal(healer_learn_count(l), 4);
    assert_int_equal(healer_learn_evictions(l), 7);
    uint32_t s, f;
    assert_true(healer_learn_get(l, "E", "E|keep", "A", &s, &f));
    assert_int_equal(s, 3);
    assert_true(healer_learn_get(l, "E", "E|p9", "A", &s, &f));
    assert_false(healer_learn_get(l, "E", "E|p0", "A", &s, &f));
    healer_learn_entry_t e;
    int seen = 0;
    for (uint32_t i = 0; healer_learn_entry(l, i, &e); i++)
        seen++;
    assert_int_equal(seen, 4);
    healer_learn_destroy(&l);
}

static void
test_learn_beta_mean(void **state)
{
    (void)state;
    uint64_t seed = 123;
    double sum = 0;
    for (int i = 0; i < 20000; i++) {
        double x = healer_learn_beta(s_rand, &seed, 3, 7);
        assert_true(x > 0 && x < 1);
        sum += x;
    }
    double mean = sum / 20000;
    assert_true(mean > 0.29 && mean < 0.31); // 3 / (3 + 7)
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learn_counts_and_decay),
        cmocka_unit_test(test_learn_cold_start_keeps_catalog_order),
        cmocka_unit_test(test_learn_prefers_the_fix_that_works),
        cmocka_unit_test(test_learn_failing_fix_drops_behind_untried),
        cmocka_unit_test(test_learn_class_evidence_helps_new_patterns),
        cmocka_unit_test(test_learn_rename_merges),
        cmocka_unit_test(test_learn_table_is_bounded_lru),
        cmocka_unit_test(test_learn_beta_mean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
