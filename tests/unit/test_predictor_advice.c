/*  Tests of predictor_advice: suggest_preventive_action's table. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "predictor_advice.h"

static const char *
s_action(const char *cls, const char *metric)
{
    predictor_advice_in_t in = {cls, metric};
    return predictor_advice_suggest(&in).action;
}

static void
test_advice_maps_classes_and_metrics(void **state)
{
    (void)state;
    assert_string_equal(s_action("MemoryError", NULL),
                        "increase_memory_allocation");
    predictor_advice_in_t in = {"MemoryError", NULL};
    assert_string_equal(predictor_advice_suggest(&in).alternative,
                        "reduce_batch_size");
    assert_string_equal(s_action("TimeoutError", NULL), "increase_timeout");
    assert_string_equal(s_action("ConnectionRefused", NULL),
                        "add_load_balancing");
    assert_string_equal(s_action("ServerOverloaded", NULL),
                        "add_load_balancing");
    assert_string_equal(s_action(NULL, "rss_bytes"),
                        "increase_memory_allocation");
    assert_string_equal(s_action(NULL, "cpu"), "add_load_balancing");
    assert_string_equal(s_action("ValueError", NULL), "investigate");
    assert_string_equal(s_action(NULL, NULL), "investigate");
    assert_null(predictor_advice_suggest(&(predictor_advice_in_t){NULL, NULL})
                    .alternative);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_advice_maps_classes_and_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
