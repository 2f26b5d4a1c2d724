/*  test_healer_intel.c - the healer's error intelligence: counts, rates and
    first/last seen per (agent, op, class); texts grouped into templates;
    bursts; trends; patterns shared by agents; bounded tables with LRU
    eviction; hostile input. */

#include "healer_intel.h"

// cmocka needs these three first; keep clang-format from sorting them.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
// clang-format on

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    healer_templates_t *miner;
    healer_intel_t *intel;
} fx_t;

static fx_t *
s_fx(const healer_intel_cfg_t *cfg)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    healer_intel_cfg_t def;
    healer_intel_cfg_defaults(&def);
    fx->miner = healer_templates_new(NULL);
    assert_non_null(fx->miner);
    fx->intel = healer_intel_new(cfg ? cfg : &def, fx->miner, NULL);
    assert_non_null(fx->intel);
    return fx;
}

static void
s_fx_destroy(fx_t **fx_p)
{
    healer_intel_destroy(&(*fx_p)->intel);
    assert_null((*fx_p)->intel);
    healer_templates_destroy(&(*fx_p)->miner);
    free(*fx_p);
    *fx_p = NULL;
}

static uint64_t
s_counter(const healer_intel_t *intel, const char *name)
{
    proto_counter_t c[8];
    uint32_t n = healer_intel_counters(intel, c, 8);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(c[i].name, name) == 0)
            return c[i].value;
    fail_msg("no counter %s", name);
    return 0;
}

static void
test_intel_counts_rates_and_first_last_seen(void **state)
{
    (void)state;
    fx_t *fx = s_fx(NULL);
    healer_intel_error(fx->intel, "a1", "load", "IOError", "disk gone", 0,
                       1000);
    healer_intel_success(fx->intel, "a1", "load", 1500);
    healer_intel_error(fx->intel, "a1", "load", "IOError", "disk gone", 0,
                       2000);
    healer_intel_error(fx->intel, "a1", "load", "IOError", "disk gone", 0,
                       3000);
    healer_intel_error(fx->intel, "a1", "load", "TimeoutError", "slow", 0,
                       4000);
    healer_intel_error(fx->intel, "a2", "load", "IOError", "disk gone", 0,
                       5000);
    healer_intel_series_t s;
    assert_true(healer_intel_series(fx->intel, "a1", "load", "IOError", &s));
    assert_int_equal(s.errors, 3);
    assert_int_equal(s.successes, 1);
    assert_true(s.error_rate == 0.75);
    assert_int_equal(s.first_us, 1000);
    assert_int_equal(s.last_us, 3000);
    assert_true(
        healer_intel_series(fx->intel, "a1", "load", "TimeoutError", &s));
    assert_int_equal(s.errors, 1);
    assert_true(s.error_rate == 0.5);
    assert_true(healer_intel_series(fx->intel, "a2", "load", "IOError", &s));
    assert_int_equal(s.errors, 1);
    assert_int_equal(s.successes, 0);
    assert_true(s.error_rate == 1.0);
    assert_int_equal(s.first_us, 5000);
    // Unknown rows report nothing and are not created by the lookup.
    assert_false(healer_intel_series(fx->intel, "a3", "load", "IOError", &s));
    assert_int_equal(s.errors, 0);
    assert_false(healer_intel_series(fx->intel, "a1", "save", "IOError", &s));
    assert_int_equal(s_counter(fx->intel, "errors_seen"), 5);
    s_fx_destroy(&fx);
}

static void
test_intel_groups_texts_with_varying_numbers(void **state)
{
    (void)state;
    fx_t *fx = s_fx(NULL);
    const healer_intel_pattern_t *p =
        healer_intel_error(fx->intel, "a1", "fetch", "TimeoutError",
                           "read timed out after 250 ms", 0, 1);
    assert_non_null(p);
    uint32_t id = p->template_id;
    char first_key[HEALER_LEARN_KEY_MAX + 1];
    snprintf(first_key, sizeof first_key, "%s", p->key);
    assert_int_equal(strncmp(p->key, "TimeoutError|", 13), 0);
    for (int ms = 251; ms < 260; ms++) {
        char text[64];
        snprintf(text, sizeof text, "read timed out after %d ms", ms);
        p = healer_intel_error(fx->intel, "a1", "fetch", "TimeoutError", text,
                               0, 2);
        assert_non_null(p);
        assert_int_equal(p->template_id, id);
    }
    assert_int_equal(p->errors, 10);
    assert_string_equal(p->template_text, "read timed out after <*> ms");
    assert_string_equal(p->key, "TimeoutError|read timed out after <*> ms");
    assert_int_equal(p->first_us, 1);
    assert_int_equal(p->last_us, 2);
    // Same text, another class: another pattern (the class is in the key).
    const healer_intel_pattern_t *q = healer_intel_error(
        fx->intel, "a1", "fetch", "IOError", "read timed out after 7 ms", 0, 3);
    assert_non_null(q);
    assert_string_equal(q->key, "IOError|read timed out after <*> ms");
    assert_int_equal(q->errors, 1);
    // A different message is a different template.
    q = healer_intel_error(fx->intel, "a1", "fetch", "TimeoutError",
                           "connection reset by peer", 0, 4);
    assert_int_not_equal(q->template_id, id);
    // classify places a heal request's text without counting an error.
    q = healer_intel_classify(fx->intel, "a1", "TimeoutError",
                              "read timed out after 31337 ms", 0);
    assert_string_equal(q->key, "TimeoutError|read timed out after <*> ms");
    assert_int_equal(q->errors, 10);
    assert_int_equal(s_counter(fx->intel, "patterns"), 3);
    s_fx_destroy(&fx);
}

static void
test_intel_reports_the_key_a_generalised_template_replaced(void **state)
{
    (void)state;
    fx_t *fx = s_fx(NULL);
    // Twenty words: the miner lets a line differ from a template in one
    // word per twenty (docs/fingerprint.md), and generalises that word.
    static const char head[] = "job failed while the scheduler was moving "
                               "the queue to the standby pool on host";
    static const char tail[] = "after the lease ran out again";
    char text[256];
    snprintf(text, sizeof text, "%s alpha %s", head, tail);
    const healer_intel_pattern_t *p =
        healer_intel_error(fx->intel, "a1", "op", "E", text, 0, 1);
    uint32_t id = p->template_id;
    char before[HEALER_LEARN_KEY_MAX + 1];
    snprintf(before, sizeof before, "%s", p->key);
    assert_string_equal(p->renamed_from, "");
    snprintf(text, sizeof text, "%s beta %s", head, tail);
    p = healer_intel_error(fx->intel, "a1", "op", "E", text, 0, 2);
    // The group was generalised in place (same id): the old learning key is
    // named so the healer can move its statistics to the new one.
    assert_int_equal(p->template_id, id);
    assert_string_equal(p->renamed_from, before);
    char want[HEALER_LEARN_KEY_MAX + 1];
    snprintf(want, sizeof want, "E|%s <*> %s", head, tail);
    assert_string_equal(p->key, want);
    assert_int_equal(p->errors, 2);
    snprintf(text, sizeof text, "%s gamma %s", head, tail);
    p = healer_intel_error(fx->intel, "a1", "op", "E", text, 0, 3);
    assert_string_equal(p->renamed_from, ""); // only on the call that moved it
    s_fx_destroy(&fx);
}

static healer_intel_cfg_t
s_small_windows(void)
{
    healer_intel_cfg_t cfg;
    healer_intel_cfg_defaults(&cfg);
    cfg.window_ms = 1000;
    cfg.burst_min = 5;
    cfg.burst_factor = 4;
    return cfg;
}

//  `n` errors of one pattern inside the window starting at `start_ms`.
static const healer_intel_pattern_t *
s_errors(fx_t *fx, const char *agent, int n, int64_t start_ms)
{
    const healer_intel_pattern_t *p = NULL;
    for (int i = 0; i < n; i++)
        p = healer_intel_error(fx->intel, agent, "op", "DiskError",
                               "disk /dev/sda1 is full", start_ms + i, 0);
    return p;
}

static void
test_intel_detects_a_burst_once_per_window(void **state)
{
    (void)state;
    healer_intel_cfg_t cfg = s_small_windows();
    fx_t *fx = s_fx(&cfg);
    const healer_intel_pattern_t *p = NULL;
    for (int w = 0; w < 10; w++) { // one error per window: the baseline
        p = s_errors(fx, "a1", 1, w * 1000);
        assert_false(p->in_burst);
    }
    p = s_errors(fx, "a1", 4, 10000); // under burst_min
    assert_false(p->in_burst);
    p = s_errors(fx, "a1", 1, 10500); // the fifth: 5 >= 4 x baseline
    assert_true(p->in_burst);
    assert_int_equal(p->bursts, 1);
    p = s_errors(fx, "a1", 20, 10600); // same window: still one burst
    assert_int_equal(p->bursts, 1);
    p = s_errors(fx, "a1", 1, 11000); // next window: over
    assert_false(p->in_burst);
    assert_int_equal(s_counter(fx->intel, "bursts"), 1);
    s_fx_destroy(&fx);
}

static void
test_intel_steady_load_is_no_burst(void **state)
{
    (void)state;
    healer_intel_cfg_t cfg = s_small_windows();
    fx_t *fx = s_fx(&cfg);
    const healer_intel_pattern_t *p = NULL;
    // Eight per window every window: over burst_min, but the baseline
    // catches up, so only the first windows (baseline still low) count.
    for (int w = 0; w < 40; w++)
        p = s_errors(fx, "a1", 8, w * 1000);
    uint64_t early = p->bursts;
    for (int w = 40; w < 80; w++)
        p = s_errors(fx, "a1", 8, w * 1000);
    assert_int_equal(p->bursts, early);
    assert_false(p->in_burst);
    s_fx_destroy(&fx);
}

static void
test_intel_trend_over_closed_windows(void **state)
{
    (void)state;
    healer_intel_cfg_t cfg = s_small_windows();
    cfg.burst_min = 1000; // no burst noise here
    fx_t *fx = s_fx(&cfg);
    static const int rising[] = {1, 1, 1, 6, 6, 6, 0};
    static const int falling[] = {6, 6, 6, 1, 1, 1, 0};
    static const int flat[] = {3, 3, 3, 3, 3, 3, 0};
    const int *runs[] = {rising, falling, flat};
    const char *agents[] = {"r", "f", "s"};
    healer_trend_t want[] = {HEALER_TREND_RISING, HEALER_TREND_FALLING,
                             HEALER_TREND_FLAT};
    for (int r = 0; r < 3; r++) {
        healer_intel_destroy(&fx->intel);
        fx->intel = healer_intel_new(&cfg, fx->miner, NULL);
        const healer_intel_pattern_t *p = NULL;
        for (int w = 0; w < 6; w++) {
            p = s_errors(fx, agents[r], runs[r][w], w * 1000);
            if (runs[r][w] > 0)
                assert_int_equal(healer_intel_trend(p), HEALER_TREND_FLAT);
        }
        p = s_errors(fx, agents[r], 1, 6000); // closes the sixth window
        assert_int_equal(p->n_history, HEALER_INTEL_HISTORY);
        assert_int_equal(healer_intel_trend(p), want[r]);
    }
    // A long silence closes windows of zero: the old counts roll out.
    const healer_intel_pattern_t *p = s_errors(fx, "s", 1, 60000);
    assert_int_equal(p->history[0], 0);
    assert_int_equal(healer_intel_trend(p), HEALER_TREND_FLAT);
    s_fx_destroy(&fx);
}

static void
test_intel_counts_agents_sharing_a_pattern(void **state)
{
    (void)state;
    fx_t *fx = s_fx(NULL);
    const healer_intel_pattern_t *p = s_errors(fx, "a1", 3, 0);
    assert_int_equal(p->n_agents, 1);
    assert_int_equal(healer_intel_shared_patterns(fx->intel), 0);
    p = s_errors(fx, "a2", 1, 0);
    assert_int_equal(p->n_agents, 2);
    assert_string_equal(p->agents[0], "a1");
    assert_string_equal(p->agents[1], "a2");
    assert_false(p->more_agents);
    assert_int_equal(healer_intel_shared_patterns(fx->intel), 1);
    assert_int_equal(s_counter(fx->intel, "shared_patterns"), 1);
    for (int i = 0; i < 20; i++) {
        char agent[16];
        snprintf(agent, sizeof agent, "x%d", i);
        p = s_errors(fx, agent, 1, 0);
    }
    assert_int_equal(p->n_agents, HEALER_INTEL_AGENTS);
    assert_true(p->more_agents);
    // Another pattern seen by one agent only is not shared.
    healer_intel_error(fx->intel, "a1", "op", "IOError", "bad sector", 0, 0);
    assert_int_equal(healer_intel_shared_patterns(fx->intel), 1);
    s_fx_destroy(&fx);
}

static void
test_intel_series_table_evicts_least_recently_used(void **state)
{
    (void)state;
    healer_intel_cfg_t cfg;
    healer_intel_cfg_defaults(&cfg);
    cfg.max_series = 2;
    fx_t *fx = s_fx(&cfg);
    healer_intel_series_t s;
    healer_intel_error(fx->intel, "a1", "op", "E", "x", 0, 1);
    healer_intel_error(fx->intel, "a2", "op", "E", "x", 0, 2);
    healer_intel_error(fx->intel, "a1", "op", "E", "x", 0, 3); // a1 fresh
    healer_intel_error(fx->intel, "a3", "op", "E", "x", 0, 4); // evicts a2
    assert_true(healer_intel_series(fx->intel, "a1", "op", "E", &s));
    assert_int_equal(s.errors, 2);
    assert_false(healer_intel_series(fx->intel, "a2", "op", "E", &s));
    assert_true(healer_intel_series(fx->intel, "a3", "op", "E", &s));
    // An evicted row starts again from zero.
    healer_intel_error(fx->intel, "a2", "op", "E", "x", 0, 5); // evicts a1
    assert_true(healer_intel_series(fx->intel, "a2", "op", "E", &s));
    assert_int_equal(s.errors, 1);
    assert_int_equal(s.first_us, 5);
    assert_false(healer_intel_series(fx->intel, "a1", "op", "E", &s));
    s_fx_destroy(&fx);
}

static void
test_intel_pattern_table_evicts_least_recently_used(void **state)
{
    (void)state;
    healer_intel_cfg_t cfg;
    healer_intel_cfg_defaults(&cfg);
    cfg.max_patterns = 2;
    fx_t *fx = s_fx(&cfg);
    const healer_intel_pattern_t *p;
    p = healer_intel_error(fx->intel, "a", "op", "A", "alpha failed", 0, 1);
    uint32_t alpha = p->template_id;
    healer_intel_error(fx->intel, "a", "op", "B", "beta failed", 0, 1);
    healer_intel_error(fx->intel, "a", "op", "A", "alpha failed", 0, 1);
    healer_intel_error(fx->intel, "a", "op", "C", "gamma failed", 0, 1);
    assert_int_equal(s_counter(fx->intel, "patterns"), 2);
    p = healer_intel_error(fx->intel, "a", "op", "A", "alpha failed", 0, 1);
    assert_int_equal(p->template_id, alpha);
    assert_int_equal(p->errors, 3); // kept: it was used more recently
    p = healer_intel_error(fx->intel, "a", "op", "B", "beta failed", 0, 1);
    assert_int_equal(p->errors, 1); // evicted, counted afresh
    assert_int_equal(s_counter(fx->intel, "patterns"), 2);
    s_fx_destroy(&fx);
}

static void
test_intel_survives_hostile_strings(void **state)
{
    (void)state;
    fx_t *fx = s_fx(NULL);
    char big[8192];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const healer_intel_pattern_t *p = NULL;
    for (int i = 0; i < 3; i++)
        p = healer_intel_error(fx->intel, big, big, big, big, 0, 7);
    assert_non_null(p);
    assert_int_equal(strlen(p->error_class), PROTO_MAX_CLASS);
    assert_true(strlen(p->template_text) <= HEALER_INTEL_TEMPLATE_MAX);
    assert_true(strlen(p->key) <= HEALER_LEARN_KEY_MAX);
    assert_int_equal(strlen(p->agents[0]), PROTO_MAX_ID);
    assert_int_equal(p->n_agents, 1);
    assert_int_equal(p->errors, 3);
    // Overlong names are cut to the protocol's limits, so the same agent
    // keeps one row, found by its full name or by its cut one.
    healer_intel_series_t s;
    assert_true(healer_intel_series(fx->intel, big, big, big, &s));
    assert_int_equal(s.errors, 3);
    char cut[PROTO_MAX_ID + 1];
    memcpy(cut, big, PROTO_MAX_ID);
    cut[PROTO_MAX_ID] = '\0';
    assert_true(healer_intel_series(fx->intel, cut, cut, cut, &s));
    assert_int_equal(s.errors, 3);
    // Empty strings are one more row and pattern, nothing special.
    p = healer_intel_error(fx->intel, "", "", "", "", 0, 8);
    assert_non_null(p);
    assert_string_equal(p->error_class, "");
    healer_intel_success(fx->intel, "", "", 9);
    assert_true(healer_intel_series(fx->intel, "", "", "", &s));
    assert_int_equal(s.errors, 1);
    assert_int_equal(s.successes, 1);
    // Control bytes and a text of spaces only.
    p = healer_intel_error(fx->intel, "a", "op", "E", "\x01\x02\t\r\n ", 0, 1);
    assert_non_null(p);
    p = healer_intel_classify(fx->intel, "a", "E", "     ", 0);
    assert_non_null(p);
    s_fx_destroy(&fx);
}

static void
test_intel_rejects_bad_config(void **state)
{
    (void)state;
    healer_templates_t *miner = healer_templates_new(NULL);
    healer_intel_cfg_t cfg;
    healer_intel_cfg_defaults(&cfg);
    assert_int_equal(cfg.max_series, 4096);
    assert_int_equal(cfg.max_patterns, 1024);
    assert_int_equal(cfg.window_ms, 10000);
    assert_null(healer_intel_new(&cfg, NULL, NULL));
    healer_intel_cfg_t bad = cfg;
    bad.max_series = 0;
    assert_null(healer_intel_new(&bad, miner, NULL));
    bad = cfg;
    bad.max_patterns = 0;
    assert_null(healer_intel_new(&bad, miner, NULL));
    bad = cfg;
    bad.window_ms = 0;
    assert_null(healer_intel_new(&bad, miner, NULL));
    bad = cfg;
    bad.burst_min = 0;
    assert_null(healer_intel_new(&bad, miner, NULL));
    bad = cfg;
    bad.burst_factor = 0.5;
    assert_null(healer_intel_new(&bad, miner, NULL));
    healer_intel_t *intel = NULL;
    healer_intel_destroy(&intel); // NULL-safe
    healer_intel_destroy(NULL);
    healer_templates_destroy(&miner);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intel_counts_rates_and_first_last_seen),
        cmocka_unit_test(test_intel_groups_texts_with_varying_numbers),
        cmocka_unit_test(
            test_intel_reports_the_key_a_generalised_template_replaced),
        cmocka_unit_test(test_intel_detects_a_burst_once_per_window),
        cmocka_unit_test(test_intel_steady_load_is_no_burst),
        cmocka_unit_test(test_intel_trend_over_closed_windows),
        cmocka_unit_test(test_intel_counts_agents_sharing_a_pattern),
        cmocka_unit_test(test_intel_series_table_evicts_least_recently_used),
        cmocka_unit_test(test_intel_pattern_table_evicts_least_recently_used),
        cmocka_unit_test(test_intel_survives_hostile_strings),
        cmocka_unit_test(test_intel_rejects_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
