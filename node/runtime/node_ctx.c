/*  node_ctx.c - what a role sees of the runtime (node_ctx.h).

    A thin facade over node_runtime plus the validation of config values,
    which lives here because its messages speak the role's language:
    `config: healer.max_candidates = "abc": not an integer (expected
    1..10)`. */

#include "node_ctx.h"

#include "node_runtime.h"
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct node_ctx {
    node_runtime_t *runtime; // borrowed: the runtime owns this context
    bool config_failed;
};

node_ctx_t *
node_ctx_new(struct node_runtime *runtime)
{
    node_ctx_t *self = calloc(1, sizeof *self);
    if (self)
        self->runtime = runtime;
    return self;
}

void
node_ctx_destroy(node_ctx_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

const char *
node_ctx_id(const node_ctx_t *ctx)
{
    return node_runtime_id(ctx->runtime);
}

const char *
node_ctx_role(const node_ctx_t *ctx)
{
    return node_runtime_role_name(ctx->runtime);
}

hb_log_t *
node_ctx_log(node_ctx_t *ctx)
{
    return node_runtime_log(ctx->runtime);
}

node_store_t *
node_ctx_store(node_ctx_t *ctx)
{
    return node_runtime_store(ctx->runtime);
}

int64_t
node_ctx_now_ms(const node_ctx_t *ctx)
{
    return node_runtime_now_ms(ctx->runtime);
}

int64_t
node_ctx_wall_us(const node_ctx_t *ctx)
{
    return node_runtime_wall_us(ctx->runtime);
}

hb_err_t
node_ctx_publish(node_ctx_t *ctx, proto_msg_t *msg)
{
    return node_runtime_publish(ctx->runtime, msg);
}

bool
node_ctx_owns(node_ctx_t *ctx, const char *agent)
{
    return node_runtime_owns(ctx->runtime, agent);
}

bool
node_ctx_config_failed(const node_ctx_t *ctx)
{
    return ctx->config_failed;
}

//  Find "<role>.<key>", then "<key>"; `shown` receives the name found.
static const char *
s_lookup(node_ctx_t *ctx, const char *key, char *shown, size_t shown_len,
         const char **origin_p)
{
    node_config_t *config = node_runtime_config(ctx->runtime);
    if (!config || !key)
        return NULL;
    snprintf(shown, shown_len, "%s.%s", node_ctx_role(ctx), key);
    const char *value = node_config_get(config, shown, origin_p);
    // The plain key is looked up either way: when the role's own key
    // shadows it, it is still a known setting, not a typo to warn about.
    const char *plain = node_config_get(config, key, value ? NULL : origin_p);
    if (!value) {
        snprintf(shown, shown_len, "%s", key);
        value = plain;
    }
    return value;
}

static void
s_bad(node_ctx_t *ctx, const char *key, const char *value, const char *origin,
      const char *what, const char *expected)
{
    ctx->config_failed = true;
    hb_log_error(node_ctx_log(ctx),
                 "config: %s = \"%s\": %s (expected %s), set at %s", key, value,
                 what, expected, origin);
}

const char *
node_ctx_config_str(node_ctx_t *ctx, const char *key, const char *dflt)
{
    char shown[NODE_CONFIG_KEY_MAX * 2 + 2];
    const char *value = s_lookup(ctx, key, shown, sizeof shown, NULL);
    return value ? value : dflt;
}

int64_t
node_ctx_config_int(node_ctx_t *ctx, const char *key, int64_t dflt, int64_t min,
                    int64_t max)
{
    char shown[NODE_CONFIG_KEY_MAX * 2 + 2];
    const char *origin = NULL;
    const char *value = s_lookup(ctx, key, shown, sizeof shown, &origin);
    if (!value)
        return dflt;
    char expected[64];
    snprintf(expected, sizeof expected, "%" PRId64 "..%" PRId64, min, max);
    char *end = NULL;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (end == value || *end != '\0') {
        s_bad(ctx, shown, value, origin, "not an integer", expected);
        return dflt;
    }
    if (errno == ERANGE || v < min || v > max) {
        s_bad(ctx, shown, value, origin, "out of range", expected);
        return dflt;
    }
    return (int64_t)v;
}

double
node_ctx_config_double(node_ctx_t *ctx, const char *key, double dflt,
                       double min, double max)
{
    char shown[NODE_CONFIG_KEY_MAX * 2 + 2];
    const char *origin = NULL;
    const char *value = s_lookup(ctx, key, shown, sizeof shown, &origin);
    if (!value)
        return dflt;
    char expected[96];
    snprintf(expected, sizeof expected, "%g..%g", min, max);
    char *end = NULL;
    errno = 0;
    double v = strtod(value, &end);
    if (end == value || *end != '\0' || !isfinite(v)) {
        s_bad(ctx, shown, value, origin, "not a number", expected);
        return dflt;
    }
    if (errno == ERANGE || v < min || v > max) {
        s_bad(ctx, shown, value, origin, "out of range", expected);
        return dflt;
    }
    return v;
}

bool
node_ctx_config_bool(node_ctx_t *ctx, const char *key, bool dflt)
{
    static const char *const s_true[] = {"true", "yes", "on", "1"};
    static const char *const s_false[] = {"false", "no", "off", "0"};
    char shown[NODE_CONFIG_KEY_MAX * 2 + 2];
    const char *origin = NULL;
    const char *value = s_lookup(ctx, key, shown, sizeof shown, &origin);
    if (!value)
        return dflt;
    for (size_t i = 0; i < sizeof s_true / sizeof s_true[0]; i++) {
        if (strcasecmp(value, s_true[i]) == 0)
            return true;
        if (strcasecmp(value, s_false[i]) == 0)
            return false;
    }
    s_bad(ctx, shown, value, origin, "not a boolean",
          "true/false, yes/no, on/off or 1/0");
    return dflt;
}
