/*  node_main.c - healbus-node: argv, signals, logger; then the runtime.

    Everything long-lived is in node_runtime; this file turns flags into a
    node_runtime_opts_t and a node_config_t, and maps failures to exit
    codes: 2 for usage (bad flag, role, id, config value), 1 for runtime. */

#include "hb_endpoint.h"
#include "hb_log.h"
#include "node_config.h"
#include "node_roles.h"
#include "node_runtime.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_EXIT_USAGE 2
#define S_EXIT_RUNTIME 1

typedef struct {
    const char *role;
    const char *brokers;
    const char *id;
    const char *data_dir;
    const char *config_file;
    const char *on_escalate;
    const char *sets[NODE_CONFIG_MAX_ENTRIES];
    size_t n_sets;
    double heartbeat_s;
    bool verbose;
    bool help;
} s_args_t;

//  The one piece of mutable file-scope state: a signal handler has nowhere
//  else to write.  A lock-free atomic_bool is safe to set from a handler.
static atomic_bool s_stop;

static void
s_on_signal(int sig)
{
    (void)sig;
    atomic_store(&s_stop, true);
}

static void
s_usage(FILE *out)
{
    fprintf(out, "usage: healbus-node --role ROLE [options]\n"
                 "\n"
                 "Runs one healbus node role on the bus.\n"
                 "\n"
                 "roles:\n");
    if (node_roles_count() == 0)
        fprintf(out, "  (none compiled into this build)\n");
    for (size_t i = 0; i < node_roles_count(); i++) {
        const node_role_t *r = node_roles_at(i);
        fprintf(out, "  %-12s %s\n", r->name, r->summary ? r->summary : "");
    }
    fprintf(out,
            "\n"
            "options:\n"
            "  --role ROLE         the role to run (required)\n"
            "  --broker EP[,EP]    broker front endpoints (default "
            "$" HB_ENDPOINT_ENV ", then " HB_ENDPOINT_DEFAULT ")\n"
            "  --id ID             node id (default ROLE-HOSTNAME; keep it "
            "stable so\n"
            "                      data and agent ownership follow restarts)\n"
            "  --data-dir DIR      state directory (default "
            "./.healbus-data/ID)\n"
            "  --config FILE       role settings, 'key = value' lines\n"
            "  --set KEY=VALUE     one setting; overrides --config "
            "(repeatable)\n"
            "  --heartbeat SEC     node heartbeat period (default 2)\n"
            "  --on-escalate CMD   command run on an escalation (healer; "
            "same as\n"
            "                      --set on_escalate=CMD)\n"
            "  --verbose           debug logging on stderr\n"
            "  --help              this text\n");
}

static int s_usage_error(const char *fmt, ...) HB_PRINTF(1, 2);

static int
s_usage_error(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "healbus-node: ");
    vfprintf(stderr, fmt, args);
    fprintf(stderr, "\nTry 'healbus-node --help'.\n");
    va_end(args);
    return S_EXIT_USAGE;
}

//  "--flag VALUE" and "--flag=VALUE"; returns the value or NULL.
static const char *
s_value(int argc, char **argv, int *i, const char *flag)
{
    size_t n = strlen(flag);
    if (strncmp(argv[*i], flag, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0' || *i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

static bool
s_is_flag(const char *arg, const char *flag)
{
    size_t n = strlen(flag);
    return strncmp(arg, flag, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

static int
s_parse_heartbeat(const char *v, double *out)
{
    char *end = NULL;
    errno = 0;
    double s = strtod(v, &end);
    if (end == v || *end || errno || !(s >= 0.05 && s <= 3600))
        return s_usage_error("--heartbeat '%s': give seconds, 0.05 to 3600", v);
    *out = s;
    return 0;
}

static int
s_parse_args(int argc, char **argv, s_args_t *a)
{
    static const char *const s_valued[] = {
        "--role",   "--broker", "--id",        "--data-dir",
        "--config", "--set",    "--heartbeat", "--on-escalate"};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            a->help = true;
            continue;
        }
        if (strcmp(arg, "--verbose") == 0 || strcmp(arg, "-v") == 0) {
            a->verbose = true;
            continue;
        }
        const char *v = NULL;
        size_t k = 0;
        for (; k < sizeof s_valued / sizeof s_valued[0]; k++)
            if (s_is_flag(arg, s_valued[k]))
                break;
        if (k == sizeof s_valued / sizeof s_valued[0])
            return s_usage_error("unknown option '%s'", arg);
        v = s_value(argc, argv, &i, s_valued[k]);
        if (!v)
            return s_usage_error("%s needs a value", s_valued[k]);
        const char **slots[] = {&a->role,     &a->brokers,     &a->id,
                                &a->data_dir, &a->config_file, NULL,
                                NULL,         &a->on_escalate};
        if (k == 5) {
            if (a->n_sets == NODE_CONFIG_MAX_ENTRIES)
                return s_usage_error("too many --set options (limit %d)",
                                     NODE_CONFIG_MAX_ENTRIES);
            a->sets[a->n_sets++] = v;
        } else if (k == 6) {
            if (s_parse_heartbeat(v, &a->heartbeat_s) != 0)
                return S_EXIT_USAGE;
        } else {
            *slots[k] = v;
        }
    }
    return 0;
}

static int
s_config(const s_args_t *a, node_config_t *config)
{
    char why[512];
    if (a->config_file &&
        node_config_load(config, a->config_file, why, sizeof why) != HB_OK)
        return s_usage_error("config: %s", why);
    for (size_t i = 0; i < a->n_sets; i++)
        if (node_config_set(config, a->sets[i], why, sizeof why) != HB_OK)
            return s_usage_error("%s", why);
    if (a->on_escalate && node_config_put(config, "on_escalate", a->on_escalate,
                                          "--on-escalate") != HB_OK)
        return s_usage_error("--on-escalate: command over %d bytes",
                             NODE_CONFIG_LINE_MAX - 1);
    return 0;
}

//  ROLE-HOSTNAME, with characters an id may not hold replaced by '-', so
//  it is stable across restarts of the same role on the same host.
static void
s_default_id(const char *role, char *id, size_t len)
{
    char host[256] = "localhost";
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(id, len, "%s-%s", role, host);
    for (char *p = id; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
                  *p == '-';
        if (!ok)
            *p = '-';
    }
}

static void
s_ready(void *arg, node_runtime_t *runtime)
{
    (void)arg;
    printf("healbus-node ready role=%s id=%s data=%s\n",
           node_runtime_role_name(runtime), node_runtime_id(runtime),
           node_store_dir(node_runtime_store(runtime)));
    fflush(stdout);
}

static int
s_unknown_role(const char *name)
{
    fprintf(stderr, "healbus-node: unknown role '%s'; this build has:", name);
    for (size_t i = 0; i < node_roles_count(); i++)
        fprintf(stderr, " %s", node_roles_at(i)->name);
    fprintf(stderr, "%s\nTry 'healbus-node --help'.\n",
            node_roles_count() ? "" : " no roles");
    return S_EXIT_USAGE;
}

static int
s_check_args(const s_args_t *a, char *id, size_t id_len, char *dir,
             size_t dir_len)
{
    if (!a->role)
        return s_usage_error("%s", "--role ROLE is required");
    if (!node_roles_find(a->role))
        return s_unknown_role(a->role);
    if (a->id)
        snprintf(id, id_len, "%s", a->id);
    else
        s_default_id(a->role, id, id_len);
    if (!node_runtime_id_ok(id))
        return s_usage_error("--id '%s': use 1-64 of A-Z a-z 0-9 . _ - "
                             "(not starting with '.')",
                             id);
    snprintf(dir, dir_len, "%s", a->data_dir ? a->data_dir : "");
    if (!a->data_dir)
        snprintf(dir, dir_len, ".healbus-data/%s", id);
    hb_endpoint_list_t list;
    char why[512];
    if (hb_endpoint_parse(a->brokers, &list, why, sizeof why) != HB_OK)
        return s_usage_error("%s", why);
    return 0;
}

static void
s_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    // No SA_RESTART: the poll returns EINTR and the loop sees the flag now.
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int
s_run(const s_args_t *a, node_config_t *config, hb_log_t *log)
{
    char id[PROTO_MAX_ID + 64];
    char dir[4096];
    int rc = s_check_args(a, id, sizeof id, dir, sizeof dir);
    if (rc != 0)
        return rc;
    node_runtime_opts_t opts = {
        .id = id,
        .brokers = a->brokers,
        .data_dir = dir,
        .config = config,
        .log = log,
        .heartbeat_ms = a->heartbeat_s > 0 ? (int)(a->heartbeat_s * 1000) : 0,
        .on_ready = s_ready,
    };
    hb_err_t why = HB_OK;
    node_runtime_t *runtime =
        node_runtime_new(&opts, node_roles_find(a->role), &why);
    if (!runtime)
        return why == HB_EINVAL ? S_EXIT_USAGE : S_EXIT_RUNTIME;
    hb_err_t run = node_runtime_run(runtime, &s_stop);
    hb_log_info(log, "node: stopping %s", id);
    node_runtime_destroy(&runtime);
    return run == HB_OK ? 0 : S_EXIT_RUNTIME;
}

int
main(int argc, char **argv)
{
    static s_args_t args; // static: 4 KiB of --set slots, not on the stack
    int rc = s_parse_args(argc, argv, &args);
    if (rc != 0)
        return rc;
    if (args.help) {
        s_usage(stdout);
        return 0;
    }
    s_signals();
    hb_log_t *log =
        hb_log_new("node", stderr, args.verbose ? HB_LOG_DEBUG : HB_LOG_INFO);
    node_config_t *config = node_config_new();
    if (!log || !config) {
        fprintf(stderr, "healbus-node: out of memory\n");
        rc = S_EXIT_RUNTIME;
    } else {
        rc = s_config(&args, config);
        if (rc == 0)
            rc = s_run(&args, config, log);
    }
    node_config_destroy(&config);
    hb_log_destroy(&log);
    return rc;
}
