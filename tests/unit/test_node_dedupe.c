/*  test_node_dedupe.c - the (sender, seq) duplicate filter: copies from a
    second broker dropped, late copies filling holes, gaps counted, sender
    restarts, and the bounded table evicting the least recently seen. */

#include "node_dedupe.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>

static void
test_dedupe_drops_second_copies(void **state)
{
    (void)state;
    node_dedupe_t *d = node_dedupe_new(8);
    for (uint64_t seq = 1; seq <= 100; seq++) {
        assert_true(node_dedupe_check(d, "a", seq));  // via broker 1
        assert_false(node_dedupe_check(d, "a", seq)); // via broker 2
    }
    assert_int_equal(node_dedupe_missing(d), 0);
    assert_int_equal(node_dedupe_size(d), 1);
    node_dedupe_destroy(&d);
    node_dedupe_destroy(&d);
}

static void
test_dedupe_reordered_copies_fill_holes(void **state)
{
    (void)state;
    node_dedupe_t *d = node_dedupe_new(8);
    assert_true(node_dedupe_check(d, "a", 1));
    assert_true(node_dedupe_check(d, "a", 4)); // 2 and 3 missing so far
    assert_int_equal(node_dedupe_missing(d), 2);
    assert_true(node_dedupe_check(d, "a", 3)); // the other broker was slower
    assert_int_equal(node_dedupe_missing(d), 1);
    assert_false(node_dedupe_check(d, "a", 3));
    assert_false(node_dedupe_check(d, "a", 4));
    assert_true(node_dedupe_check(d, "a", 2));
    assert_int_equal(node_dedupe_missing(d), 0);
    // A hole never filled stays counted, per sender.
    assert_true(node_dedupe_check(d, "a", 10));
    assert_true(node_dedupe_check(d, "b", 5));
    assert_true(node_dedupe_check(d, "b", 7));
    assert_int_equal(node_dedupe_missing(d), 6);
    // 63 below the highest is still inside the window.
    assert_true(node_dedupe_check(d, "c", 100));
    assert_true(node_dedupe_check(d, "c", 37));
    assert_false(node_dedupe_check(d, "c", 37));
    node_dedupe_destroy(&d);
}

static void
test_dedupe_far_jump_and_restart(void **state)
{
    (void)state;
    node_dedupe_t *d = node_dedupe_new(8);
    assert_true(node_dedupe_check(d, "a", 1));
    assert_true(node_dedupe_check(d, "a", 1001)); // 999 lost
    assert_int_equal(node_dedupe_missing(d), 999);
    // Far below the window: the sender restarted and counts from 1 again.
    assert_true(node_dedupe_check(d, "a", 1));
    assert_int_equal(node_dedupe_missing(d), 0);
    assert_false(node_dedupe_check(d, "a", 1));
    assert_true(node_dedupe_check(d, "a", 2));
    // A forged number near 2^64 is a restart, not 2^64 lost messages.
    assert_true(node_dedupe_check(d, "a", UINT64_MAX - 1));
    assert_int_equal(node_dedupe_missing(d), 0);
    assert_false(node_dedupe_check(d, "a", UINT64_MAX - 1));
    node_dedupe_destroy(&d);
}

static void
test_dedupe_evicts_least_recently_seen(void **state)
{
    (void)state;
    node_dedupe_t *d = node_dedupe_new(3);
    assert_true(node_dedupe_check(d, "a", 5));
    assert_true(node_dedupe_check(d, "b", 5));
    assert_true(node_dedupe_check(d, "c", 5));
    assert_false(node_dedupe_check(d, "a", 5)); // a is now the most recent
    assert_true(node_dedupe_check(d, "d", 1));  // evicts b
    assert_int_equal(node_dedupe_size(d), 3);
    assert_int_equal(node_dedupe_evicted(d), 1);
    assert_false(node_dedupe_check(d, "a", 5));  // a kept
    assert_false(node_dedupe_check(d, "c", 5));  // c kept
    assert_true(node_dedupe_check(d, "b", 5));   // b forgotten: new again
    assert_int_equal(node_dedupe_evicted(d), 2); // ... evicting d
    assert_true(node_dedupe_check(d, "d", 1));
    // A flood of distinct senders stays within the cap.
    char id[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof id, "s%d", i);
        assert_true(node_dedupe_check(d, id, 1));
    }
    assert_int_equal(node_dedupe_size(d), 3);
    node_dedupe_destroy(&d);
}

static void
test_dedupe_eviction_forgets_missing(void **state)
{
    (void)state;
    node_dedupe_t *d = node_dedupe_new(1);
    assert_true(node_dedupe_check(d, "a", 1));
    assert_true(node_dedupe_check(d, "a", 5));
    assert_int_equal(node_dedupe_missing(d), 3);
    assert_true(node_dedupe_check(d, "b", 1));
    assert_int_equal(node_dedupe_missing(d), 0);
    node_dedupe_destroy(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dedupe_drops_second_copies),
        cmocka_unit_test(test_dedupe_reordered_copies_fill_holes),
        cmocka_unit_test(test_dedupe_far_jump_and_restart),
        cmocka_unit_test(test_dedupe_evicts_least_recently_seen),
        cmocka_unit_test(test_dedupe_eviction_forgets_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
