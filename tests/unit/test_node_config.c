/*  test_node_config.c - node_config parsing (each malformed line class with
    its line number, caps, --set overrides) and the node_ctx_config_*
    validation a role sees (range checks, failed flag, refusal to start). */

#include "node_config.h"
#include "node_ctx.h"
#include "node_runtime.h"
#include "test_proc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static node_config_t *
s_parse_ok(const char *text)
{
    node_config_t *c = node_config_new();
    char why[256] = "";
    hb_err_t rc =
        node_config_parse(c, text, strlen(text), "t.conf", why, sizeof why);
    if (rc != HB_OK)
        fprintf(stderr, "unexpected: %s\n", why);
    assert_int_equal(rc, HB_OK);
    return c;
}

static void
s_expect_error(const char *text, hb_err_t code, const char *why_expected)
{
    node_config_t *c = node_config_new();
    assert_int_equal(node_config_put(c, "kept", "yes", "earlier"), HB_OK);
    char why[256] = "";
    assert_int_equal(
        node_config_parse(c, text, strlen(text), "t.conf", why, sizeof why),
        code);
    assert_string_equal(why, why_expected);
    // Nothing of a bad text is kept; earlier settings are untouched.
    assert_int_equal(node_config_size(c), 1);
    assert_string_equal(node_config_get(c, "kept", NULL), "yes");
    node_config_destroy(&c);
}

static void
test_config_parses_values_comments_quotes(void **state)
{
    (void)state;
    node_config_t *c =
        s_parse_ok("# a comment\n"
                   "\n"
                   "   \t\n"
                   "healer.max_candidates = 3\n"
                   "  on_escalate   =   mail -s x ops # not a comment  \r\n"
                   "padded = \"  two spaces  \"\n"
                   "empty =\n"
                   "quoted_empty = \"\"\n"
                   "eq = a=b");
    assert_int_equal(node_config_size(c), 6);
    const char *origin = NULL;
    assert_string_equal(node_config_get(c, "healer.max_candidates", &origin),
                        "3");
    assert_string_equal(origin, "t.conf:4");
    assert_string_equal(node_config_get(c, "on_escalate", NULL),
                        "mail -s x ops # not a comment");
    assert_string_equal(node_config_get(c, "padded", NULL), "  two spaces  ");
    assert_string_equal(node_config_get(c, "empty", NULL), "");
    assert_string_equal(node_config_get(c, "quoted_empty", NULL), "");
    assert_string_equal(node_config_get(c, "eq", NULL), "a=b");
    assert_null(node_config_get(c, "absent", NULL));
    node_config_destroy(&c);
    node_config_destroy(&c);
}

static void
test_config_malformed_lines_name_their_line(void **state)
{
    (void)state;
    s_expect_error("a = 1\njust words\n", HB_ESYNTAX,
                   "t.conf:2: expected 'key = value'");
    s_expect_error("\n\n = 5\n", HB_ESYNTAX,
                   "t.conf:3: missing key before '='");
    s_expect_error("Upper = 1\n", HB_ESYNTAX,
                   "t.conf:1: key may only contain a-z, 0-9, '_' and '.'");
    s_expect_error("a b = 1\n", HB_ESYNTAX,
                   "t.conf:1: key may only contain a-z, 0-9, '_' and '.'");
    s_expect_error("# c\nx = \"open\n", HB_ESYNTAX,
                   "t.conf:2: unterminated quote (a quoted value must end "
                   "with '\"')");
    s_expect_error("x = \"\n", HB_ESYNTAX,
                   "t.conf:1: unterminated quote (a quoted value must end "
                   "with '\"')");
    s_expect_error("x = 1\ny = 2\nx = 3\n", HB_ESYNTAX,
                   "t.conf:3: 'x' is already set at t.conf:1");
    char longkey[100];
    memset(longkey, 'k', 65);
    strcpy(longkey + 65, " = 1\n");
    s_expect_error(longkey, HB_ESYNTAX, "t.conf:1: key longer than 64 bytes");
}

static void
test_config_nul_and_long_lines_rejected(void **state)
{
    (void)state;
    node_config_t *c = node_config_new();
    char why[256] = "";
    const char nul[] = "a = x\0y\n";
    assert_int_equal(
        node_config_parse(c, nul, sizeof nul - 1, "t.conf", why, sizeof why),
        HB_ESYNTAX);
    assert_string_equal(why, "t.conf:1: NUL byte in value");
    char *line = malloc(NODE_CONFIG_LINE_MAX + 10);
    memset(line, 'v', NODE_CONFIG_LINE_MAX + 9);
    memcpy(line, "ok = 1\nk = ", 11);
    line[NODE_CONFIG_LINE_MAX + 9] = '\0';
    assert_int_equal(
        node_config_parse(c, line, strlen(line), "t.conf", why, sizeof why),
        HB_ETOOBIG);
    assert_string_equal(why, "t.conf:2: line longer than 4095 bytes");
    free(line);
    assert_int_equal(node_config_size(c), 0);
    node_config_destroy(&c);
}

static void
test_config_file_caps_and_missing(void **state)
{
    (void)state;
    char *dir = test_proc_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/node.conf", dir);
    node_config_t *c = node_config_new();
    char why[512] = "";
    assert_int_equal(node_config_load(c, path, why, sizeof why), HB_ENOTFOUND);
    assert_non_null(strstr(why, "node.conf: No such file"));
    FILE *fp = fopen(path, "w");
    for (int i = 0; i < NODE_CONFIG_MAX_BYTES / 8 + 1; i++)
        fputs("#comment\n", fp);
    fclose(fp);
    assert_int_equal(node_config_load(c, path, why, sizeof why), HB_ETOOBIG);
    fp = fopen(path, "w");
    fputs("a = 1\nb=2\n", fp);
    fclose(fp);
    assert_int_equal(node_config_load(c, path, why, sizeof why), HB_OK);
    const char *origin = NULL;
    assert_string_equal(node_config_get(c, "b", &origin), "2");
    char expect[4200];
    snprintf(expect, sizeof expect, "%s:2", path);
    assert_string_equal(origin, expect);
    assert_int_equal(node_config_load(c, dir, why, sizeof why), HB_EIO);
    node_config_destroy(&c);
    test_proc_rmtree(dir);
    free(dir);
}

static void
test_config_too_many_entries(void **state)
{
    (void)state;
    size_t cap = (NODE_CONFIG_MAX_ENTRIES + 1) * 16;
    char *text = malloc(cap);
    size_t n = 0;
    for (int i = 0; i <= NODE_CONFIG_MAX_ENTRIES; i++)
        n += (size_t)snprintf(text + n, cap - n, "k%d = %d\n", i, i);
    node_config_t *c = node_config_new();
    char why[256] = "";
    assert_int_equal(node_config_parse(c, text, n, "t.conf", why, sizeof why),
                     HB_ETOOBIG);
    assert_string_equal(why, "t.conf:513: more than 512 settings");
    assert_int_equal(node_config_size(c), 0);
    node_config_destroy(&c);
    free(text);
}

static void
test_config_set_overrides_file(void **state)
{
    (void)state;
    node_config_t *c = s_parse_ok("x = from_file\ny = 2\n");
    char why[256] = "";
    assert_int_equal(node_config_set(c, "x= \"from set\" ", why, sizeof why),
                     HB_OK);
    const char *origin = NULL;
    assert_string_equal(node_config_get(c, "x", &origin), "from set");
    assert_string_equal(origin, "--set");
    assert_int_equal(node_config_set(c, "x=again", why, sizeof why), HB_OK);
    assert_string_equal(node_config_get(c, "x", NULL), "again");
    assert_int_equal(node_config_size(c), 2);
    assert_int_equal(node_config_set(c, "novalue", why, sizeof why),
                     HB_ESYNTAX);
    assert_string_equal(why, "--set 'novalue': expected 'key = value' "
                             "(expected KEY=VALUE)");
    assert_int_equal(node_config_set(c, "Bad=1", why, sizeof why), HB_ESYNTAX);
    assert_int_equal(node_config_put(c, "on_escalate", "a # b", "--flag"),
                     HB_OK);
    assert_string_equal(node_config_get(c, "on_escalate", NULL), "a # b");
    assert_int_equal(node_config_put(c, "Bad", "v", NULL), HB_ESYNTAX);
    // Lookups mark keys used; the rest are the typo candidates.
    bool used = true;
    const char *key = NULL;
    size_t unused = 0;
    for (size_t i = 0; i < node_config_size(c); i++) {
        key = node_config_key(c, i, NULL, &used);
        if (!used) {
            unused++;
            assert_string_equal(key, "y");
        }
    }
    assert_int_equal(unused, 1);
    node_config_destroy(&c);
}

/* -------------------------------- node_ctx_config_* through a runtime -- */

typedef struct {
    int64_t ints[4];
    double dbl;
    bool b1, b2;
    const char *str;
} s_seen_t;

//  The test role reads settings in create() and hands them out through
//  the state; it refuses (NULL) when asked to by its config.
static void *
s_role_create(node_ctx_t *ctx)
{
    s_seen_t *seen = calloc(1, sizeof *seen);
    seen->ints[0] = node_ctx_config_int(ctx, "max_candidates", 3, 1, 10);
    seen->ints[1] = node_ctx_config_int(ctx, "absent", -7, -10, 10);
    seen->ints[2] = node_ctx_config_int(ctx, "window", 5, 1, 100);
    seen->ints[3] = node_ctx_config_int(ctx, "big", 1, 0, INT64_MAX);
    seen->dbl = node_ctx_config_double(ctx, "ratio", 0.5, 0.0, 1.0);
    seen->b1 = node_ctx_config_bool(ctx, "flag", false);
    seen->b2 = node_ctx_config_bool(ctx, "flag2", true);
    seen->str = node_ctx_config_str(ctx, "name", "dflt");
    if (node_ctx_config_bool(ctx, "refuse", false)) {
        free(seen);
        return NULL;
    }
    // Hand what was read to the test through the node's own store.
    char line[512];
    int n = snprintf(line, sizeof line, "%lld %lld %lld %lld %g %d %d %s",
                     (long long)seen->ints[0], (long long)seen->ints[1],
                     (long long)seen->ints[2], (long long)seen->ints[3],
                     seen->dbl, seen->b1, seen->b2, seen->str);
    node_store_write(node_ctx_store(ctx), "seen", line, (size_t)n);
    return seen;
}

static void
s_role_destroy(void **state_p)
{
    free(*state_p);
    *state_p = NULL;
}

static void
s_role_msg(void *state, const proto_msg_t *msg)
{
    (void)state;
    (void)msg;
}

static void
s_role_tick(void *state, int64_t now_ms)
{
    (void)state;
    (void)now_ms;
}

static const char *const s_topics[] = {"err.", NULL};
static const node_role_t s_role = {
    .name = "probe",
    .summary = "test role reading settings",
    .topics = s_topics,
    .create = s_role_create,
    .destroy = s_role_destroy,
    .on_msg = s_role_msg,
    .on_tick = s_role_tick,
};

typedef struct {
    char *dir;
    char broker[4200];
    char data[4200];
    hb_log_t *log;
    char *log_text;
    size_t log_len;
    FILE *log_fp;
} rt_fixture_t;

static int
s_rt_setup(void **state)
{
    rt_fixture_t *f = calloc(1, sizeof *f);
    f->dir = test_proc_tmpdir();
    // An ipc endpoint nobody binds: connect is asynchronous, so the runtime
    // can be built without a broker and no port is involved.
    snprintf(f->broker, sizeof f->broker, "ipc://%s/nobroker", f->dir);
    snprintf(f->data, sizeof f->data, "%s/data", f->dir);
    f->log_fp = open_memstream(&f->log_text, &f->log_len);
    f->log = hb_log_new("node", f->log_fp, HB_LOG_INFO);
    *state = f;
    return 0;
}

static int
s_rt_teardown(void **state)
{
    rt_fixture_t *f = *state;
    hb_log_destroy(&f->log);
    fclose(f->log_fp);
    free(f->log_text);
    test_proc_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static node_runtime_t *
s_runtime(rt_fixture_t *f, node_config_t *config, hb_err_t *why)
{
    node_runtime_opts_t opts = {.id = "probe-1",
                                .brokers = f->broker,
                                .data_dir = f->data,
                                .config = config,
                                .log = f->log};
    node_runtime_t *rt = node_runtime_new(&opts, &s_role, why);
    fflush(f->log_fp);
    return rt;
}

static void
test_ctx_config_valid_values(void **state)
{
    rt_fixture_t *f = *state;
    node_config_t *c = s_parse_ok("probe.max_candidates = 10\n"
                                  "max_candidates = 2\n" // role key wins
                                  "window = 1\n"
                                  "big = 9223372036854775807\n"
                                  "ratio = 1e-1\n"
                                  "flag = YES\n"
                                  "flag2 = off\n"
                                  "name = \"x y\"\n"
                                  "other.key = 1\n" // another role's
                                  "typo_key = 1\n");
    hb_err_t why = HB_EIO;
    node_runtime_t *rt = s_runtime(f, c, &why);
    assert_non_null(rt);
    assert_int_equal(why, HB_OK);
    node_runtime_destroy(&rt);
    assert_null(rt);
    node_store_t *store = node_store_new(f->data, NULL);
    char *seen = NULL;
    assert_int_equal(node_store_read(store, "seen", 512, &seen, NULL), HB_OK);
    assert_string_equal(seen, "10 -7 1 9223372036854775807 0.1 1 0 x y");
    free(seen);
    node_store_destroy(&store);
    // Unused keys of this role (or unprefixed) are reported; other roles'
    // are not.
    assert_non_null(strstr(f->log_text, "'typo_key' (set at t.conf:10)"));
    assert_null(strstr(f->log_text, "'other.key'"));
    assert_null(strstr(f->log_text, "'max_candidates'"));
    node_config_destroy(&c);
}

static void
s_expect_refusal(rt_fixture_t *f, const char *text, const char *message)
{
    node_config_t *c = s_parse_ok(text);
    hb_err_t why = HB_OK;
    rewind(f->log_fp);
    node_runtime_t *rt = s_runtime(f, c, &why);
    assert_null(rt);
    assert_int_equal(why, HB_EINVAL);
    if (!strstr(f->log_text, message))
        fprintf(stderr, "log was: %s\nwanted: %s\n", f->log_text, message);
    assert_non_null(strstr(f->log_text, message));
    node_config_destroy(&c);
}

static void
test_ctx_config_bad_values_refuse_start(void **state)
{
    rt_fixture_t *f = *state;
    s_expect_refusal(f, "probe.max_candidates = abc\n",
                     "config: probe.max_candidates = \"abc\": not an integer "
                     "(expected 1..10), set at t.conf:1");
    s_expect_refusal(f, "max_candidates = 11\n",
                     "config: max_candidates = \"11\": out of range "
                     "(expected 1..10)");
    s_expect_refusal(f, "max_candidates = 0\n", "out of range");
    s_expect_refusal(f, "max_candidates = 3x\n", "not an integer");
    s_expect_refusal(f, "max_candidates =\n", "not an integer");
    s_expect_refusal(f, "big = 9223372036854775808\n",
                     "config: big = \"9223372036854775808\": out of range");
    s_expect_refusal(f, "ratio = 1.5\n",
                     "config: ratio = \"1.5\": out of range (expected 0..1)");
    s_expect_refusal(f, "ratio = nan\n", "not a number");
    s_expect_refusal(f, "ratio = 0.5.1\n", "not a number");
    s_expect_refusal(f, "flag = maybe\n",
                     "config: flag = \"maybe\": not a boolean");
    // A role that refuses without a config error also stops the start.
    s_expect_refusal(f, "refuse = 1\n", "the probe role did not start");
}

static void
test_runtime_rejects_bad_ids_and_brokers(void **state)
{
    rt_fixture_t *f = *state;
    const char *ids[] = {"", "a/b", ".hidden", "sp ace",
                         "x234567890123456789012345678901234567890123456789"
                         "0123456789012345"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        node_runtime_opts_t opts = {.id = ids[i],
                                    .brokers = f->broker,
                                    .data_dir = f->data,
                                    .log = f->log};
        hb_err_t why = HB_OK;
        assert_null(node_runtime_new(&opts, &s_role, &why));
        assert_int_equal(why, HB_EINVAL);
        assert_false(node_runtime_id_ok(ids[i]));
    }
    node_runtime_opts_t opts = {
        .id = "ok-1", .brokers = "udp://x", .data_dir = f->data, .log = f->log};
    hb_err_t why = HB_OK;
    assert_null(node_runtime_new(&opts, &s_role, &why));
    assert_int_equal(why, HB_EINVAL);
    assert_true(node_runtime_id_ok("healer-host.example_1"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_parses_values_comments_quotes),
        cmocka_unit_test(test_config_malformed_lines_name_their_line),
        cmocka_unit_test(test_config_nul_and_long_lines_rejected),
        cmocka_unit_test(test_config_file_caps_and_missing),
        cmocka_unit_test(test_config_too_many_entries),
        cmocka_unit_test(test_config_set_overrides_file),
        cmocka_unit_test_setup_teardown(test_ctx_config_valid_values,
                                        s_rt_setup, s_rt_teardown),
        cmocka_unit_test_setup_teardown(test_ctx_config_bad_values_refuse_start,
                                        s_rt_setup, s_rt_teardown),
        cmocka_unit_test_setup_teardown(
            test_runtime_rejects_bad_ids_and_brokers, s_rt_setup,
            s_rt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
