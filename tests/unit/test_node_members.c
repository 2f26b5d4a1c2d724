/*  test_node_members.c - live peers from heartbeats and rendezvous
    ownership: every agent has exactly one owner among live members, all
    members agree, and only a dead member's agents move. */

#include "node_members.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#define S_AGENTS 2000

static const char *const s_ids[] = {"healer-a", "healer-b", "healer-c"};

//  Three members, each seeing the other two at time `now`.
static void
s_cluster(node_members_t *m[3], int64_t now)
{
    for (int i = 0; i < 3; i++) {
        m[i] = node_members_new(s_ids[i], 6000);
        assert_non_null(m[i]);
        for (int j = 0; j < 3; j++)
            node_members_seen(m[i], s_ids[j], now); // self is ignored
    }
}

static void
test_members_alone_owns_everything(void **state)
{
    (void)state;
    node_members_t *m = node_members_new("solo", 6000);
    assert_true(node_members_owns(m, "loader-1", 0));
    assert_string_equal(node_members_owner(m, "x", 0), "solo");
    assert_int_equal(node_members_expire(m, 0), 0);
    node_members_destroy(&m);
    node_members_destroy(&m);
    assert_null(node_members_new("", 1));
}

static void
test_members_exactly_one_owner_and_agreement(void **state)
{
    (void)state;
    node_members_t *m[3];
    s_cluster(m, 1000);
    int per_member[3] = {0, 0, 0};
    char agent[32];
    for (int a = 0; a < S_AGENTS; a++) {
        snprintf(agent, sizeof agent, "loader-%d", a);
        int owners = 0;
        for (int i = 0; i < 3; i++) {
            if (node_members_owns(m[i], agent, 2000)) {
                owners++;
                per_member[i]++;
            }
            assert_string_equal(node_members_owner(m[i], agent, 2000),
                                node_members_owner(m[0], agent, 2000));
        }
        assert_int_equal(owners, 1);
    }
    // Rendezvous hashing spreads agents: each gets a fair share (1/3 of
    // 2000 is 667; a member under 500 would mean a broken hash).
    for (int i = 0; i < 3; i++)
        assert_true(per_member[i] > 500);
    for (int i = 0; i < 3; i++)
        node_members_destroy(&m[i]);
}

static void
test_members_only_dead_members_agents_move(void **state)
{
    (void)state;
    node_members_t *m[3];
    s_cluster(m, 1000);
    char before[S_AGENTS][16];
    char agent[32];
    for (int a = 0; a < S_AGENTS; a++) {
        snprintf(agent, sizeof agent, "w%d", a);
        snprintf(before[a], sizeof before[a], "%s",
                 node_members_owner(m[0], agent, 2000));
    }
    // healer-c stops; a and b keep hearing each other.
    node_members_seen(m[0], "healer-b", 7000);
    node_members_seen(m[1], "healer-a", 7000);
    int64_t later = 7500; // c last seen at 1000: older than the 6 s ttl
    assert_int_equal(node_members_expire(m[0], later), 1);
    int moved = 0;
    for (int a = 0; a < S_AGENTS; a++) {
        snprintf(agent, sizeof agent, "w%d", a);
        const char *now_owner = node_members_owner(m[0], agent, later);
        assert_string_equal(now_owner, node_members_owner(m[1], agent, later));
        assert_true(strcmp(now_owner, "healer-c") != 0);
        if (strcmp(before[a], "healer-c") != 0)
            assert_string_equal(now_owner, before[a]); // stable
        else
            moved++;
        assert_true(node_members_owns(m[0], agent, later) !=
                    node_members_owns(m[1], agent, later));
    }
    assert_true(moved > 0);
    // c comes back: it owns exactly what it owned before.
    node_members_seen(m[0], "healer-c", 8000);
    for (int a = 0; a < S_AGENTS; a++) {
        snprintf(agent, sizeof agent, "w%d", a);
        assert_string_equal(node_members_owner(m[0], agent, 8000), before[a]);
    }
    for (int i = 0; i < 3; i++)
        node_members_destroy(&m[i]);
}

static void
test_members_table_is_bounded(void **state)
{
    (void)state;
    node_members_t *m = node_members_new("me", 1000);
    char id[32];
    for (int i = 0; i < NODE_MEMBERS_MAX + 50; i++) {
        snprintf(id, sizeof id, "peer-%d", i);
        node_members_seen(m, id, 10);
    }
    assert_int_equal(node_members_expire(m, 10), NODE_MEMBERS_MAX);
    // Once they expire, new peers fit again.
    node_members_seen(m, "fresh", 5000);
    assert_int_equal(node_members_expire(m, 5000), 1);
    // Ids that cannot be ids are ignored.
    char longid[100];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    node_members_seen(m, longid, 5000);
    node_members_seen(m, "", 5000);
    assert_int_equal(node_members_expire(m, 5000), 1);
    node_members_destroy(&m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members_alone_owns_everything),
        cmocka_unit_test(test_members_exactly_one_owner_and_agreement),
        cmocka_unit_test(test_members_only_dead_members_agents_move),
        cmocka_unit_test(test_members_table_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
