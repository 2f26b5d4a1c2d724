/*  test_cli_seqtrack.c - per-sender sequence tracking (cli/cli_seqtrack). */

#include "cli_seqtrack.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static cli_seqtrack_result_t
s_see(cli_seqtrack_t *t, const char *who, uint64_t seq)
{
    return cli_seqtrack_see(t, who, seq);
}

static void
test_seqtrack_in_order_reports_nothing(void **state)
{
    (void)state;
    cli_seqtrack_t *t = cli_seqtrack_new(8, false);
    assert_non_null(t);
    assert_int_equal(s_see(t, "a", 5).verdict, CLI_SEQTRACK_FIRST);
    for (uint64_t s = 6; s < 200; s++) {
        cli_seqtrack_result_t r = s_see(t, "a", s);
        assert_int_equal(r.verdict, CLI_SEQTRACK_NEXT);
        assert_int_equal(r.lost, 0);
    }
    cli_seqtrack_destroy(&t);
    assert_null(t);
    cli_seqtrack_destroy(&t); // harmless twice
}

static void
test_seqtrack_one_broker_reports_a_jump_at_once(void **state)
{
    (void)state;
    cli_seqtrack_t *t = cli_seqtrack_new(8, false);
    s_see(t, "loader-1", 99);
    cli_seqtrack_result_t r = s_see(t, "loader-1", 117);
    assert_int_equal(r.verdict, CLI_SEQTRACK_NEXT);
    assert_int_equal(r.lost, 17);
    assert_int_equal(r.lost_first, 100);
    assert_int_equal(r.lost_last, 116);
    cli_seqtrack_destroy(&t);
}

static void
test_seqtrack_one_broker_treats_a_step_back_as_restart(void **state)
{
    (void)state;
    cli_seqtrack_t *t = cli_seqtrack_new(8, false);
    for (uint64_t s = 1; s <= 5; s++)
        s_see(t, "a", s);
    cli_seqtrack_result_t r = s_see(t, "a", 1);
    assert_int_equal(r.verdict, CLI_SEQTRACK_RESTART);
    assert_int_equal(r.previous, 5);
    assert_int_equal(r.lost, 0);
    assert_int_equal(s_see(t, "a", 2).verdict, CLI_SEQTRACK_NEXT);
    cli_seqtrack_destroy(&t);
}

static void
test_seqtrack_two_brokers_drop_duplicates(void **state)
{
    (void)state;
    cli_seqtrack_t *t = cli_seqtrack_new(8, true);
    s_see(t, "a", 1);
    assert_int_equal(s_see(t, "a", 1).verdict, CLI_SEQTRACK_DUP);
    assert_int_equal(s_see(t, "a", 2).verdict, CLI_SEQTRACK_NEXT);
    assert_int_equal(s_see(t, "a", 3).verdict, CLI_SEQTRACK_NEXT);
    assert_int_equal(s_see(t, "a", 2).verdict, CLI_SEQTRACK_DUP);
    assert_int_equal(s_see(t, "a", 3).verdict, CLI_SEQTRACK_DUP);
    cli_seqtrack_destroy(&t);
}

static void
test_seqtrack_two_brokers_wait_before_calling_a_loss(void **state)
{
    (void)state;
    cli_seqtrack_t *t = cli_seqtrack_new(8, true);
    s_see(t, "a", 1);
    // 2 and 3 come late through the other broker: no loss
    assert_int_equal(s_see(t, "a", 4).lost, 0);
    assert_int_equal(s_see(t, "a", 3).verdict, CLI_SEQTRACK_NEXT);
    assert_int_equal(s_see(t, "a", 2).verdict, CLI_SEQTRACK_NEXT);
    // 5 never comes: lost once it leaves the window
    uint64_t lost = 0;
    for (uint64_t s = 6; s < 6 + CLI_SEQTRACK_WINDOW; s++) {
        cli_seqtrack_result_t r = s_see(t, "a", s);
        if (r.lost) {
            assert_int_equal(r.lost, 1);
            assert_int_equal(r.lost_first, 5);
            assert_int_equal(r.lost_last, 5);
            assert_int_equal(s, 5 + CLI_SEQTRACK_WINDOW);
        }
        lost += r.lost;
    }
    assert_int_equal(lost, 1);
    cli_seqtrack_destroy(&t);
}

static void
test_seqtrack_two_brokers_count_a_jump_past_the_window(void **state)
{
    (void)state;
    cli_seqtrack_t *t = cli_seqtrack_new(8, true);
    s_see(t, "a", 10);
    cli_seqtrack_result_t r = s_see(t, "a", 1010);
    // 11..946 left the window at once; 947..1009 may still come
    assert_int_equal(r.lost, 1010 - CLI_SEQTRACK_WINDOW - 10);
    assert_int_equal(r.lost_first, 11);
    assert_int_equal(r.lost_last, 1010 - CLI_SEQTRACK_WINDOW);
    // far below the window: a restarted sender
    assert_int_equal(s_see(t, "a", 1).verdict, CLI_SEQTRACK_RESTART);
    cli_seqtrack_destroy(&t);
}

static void
test_seqtrack_forgets_the_least_recent_sender_when_full(void **state)
{
    (void)state;
    cli_seqtrack_t *t = cli_seqtrack_new(3, false);
    s_see(t, "a", 1);
    s_see(t, "b", 1);
    s_see(t, "c", 1);
    s_see(t, "a", 2); // a is now the most recent; b the least
    assert_int_equal(s_see(t, "d", 1).verdict, CLI_SEQTRACK_FIRST);
    assert_int_equal(cli_seqtrack_size(t), 3);
    assert_int_equal(cli_seqtrack_evictions(t), 1);
    assert_int_equal(s_see(t, "a", 3).verdict, CLI_SEQTRACK_NEXT);
    assert_int_equal(s_see(t, "c", 2).verdict, CLI_SEQTRACK_NEXT);
    // b was forgotten: its next message starts afresh, no gap claimed
    cli_seqtrack_result_t r = s_see(t, "b", 50);
    assert_int_equal(r.verdict, CLI_SEQTRACK_FIRST);
    assert_int_equal(r.lost, 0);
    assert_int_equal(cli_seqtrack_evictions(t), 2); // d went to make room
    assert_int_equal(cli_seqtrack_size(t), 3);
    cli_seqtrack_destroy(&t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seqtrack_in_order_reports_nothing),
        cmocka_unit_test(test_seqtrack_one_broker_reports_a_jump_at_once),
        cmocka_unit_test(
            test_seqtrack_one_broker_treats_a_step_back_as_restart),
        cmocka_unit_test(test_seqtrack_two_brokers_drop_duplicates),
        cmocka_unit_test(test_seqtrack_two_brokers_wait_before_calling_a_loss),
        cmocka_unit_test(
            test_seqtrack_two_brokers_count_a_jump_past_the_window),
        cmocka_unit_test(
            test_seqtrack_forgets_the_least_recent_sender_when_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
