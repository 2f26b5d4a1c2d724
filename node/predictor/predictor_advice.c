/*  predictor_advice.c - the table behind suggest_preventive_action. */

#include "predictor_advice.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *fragment; // matched case-insensitively anywhere in the name
    const char *action;
    const char *alternative;
} s_rule_t;

//  First match wins, so the specific fragments come first.
static const s_rule_t s_class_rules[] = {
    {"memory", "increase_memory_allocation", "reduce_batch_size"},
    {"oom", "increase_memory_allocation", "reduce_batch_size"},
    {"alloc", "increase_memory_allocation", "reduce_batch_size"},
    {"timeout", "increase_timeout", NULL},
    {"timedout", "increase_timeout", NULL},
    {"deadline", "increase_timeout", NULL},
    {"overload", "add_load_balancing", NULL},
    {"load", "add_load_balancing", NULL},
    {"busy", "add_load_balancing", NULL},
    {"unavailable", "add_load_balancing", NULL},
    {"connection", "add_load_balancing", NULL},
    {"refused", "add_load_balancing", NULL},
    {"throttl", "add_load_balancing", NULL},
};

static const s_rule_t s_metric_rules[] = {
    {"rss", "increase_memory_allocation", "reduce_batch_size"},
    {"mem", "increase_memory_allocation", "reduce_batch_size"},
    {"heap", "increase_memory_allocation", "reduce_batch_size"},
    {"cpu", "add_load_balancing", NULL},
    {"queue", "add_load_balancing", NULL},
    {"latency", "increase_timeout", "add_load_balancing"},
};

static bool
s_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return false;
}

static const s_rule_t *
s_match(const s_rule_t *rules, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++)
        if (s_contains(name, rules[i].fragment))
            return &rules[i];
    return NULL;
}

predictor_advice_t
predictor_advice_suggest(const predictor_advice_in_t *in)
{
    assert(in);
    const s_rule_t *r = s_match(s_class_rules,
                                sizeof s_class_rules / sizeof *s_class_rules,
                                in->error_class);
    if (!r)
        r = s_match(s_metric_rules,
                    sizeof s_metric_rules / sizeof *s_metric_rules,
                    in->metric);
    if (!r)
        return (predictor_advice_t){"investigate", NULL};
    return (predictor_advice_t){r->action, r->alternative};
}
