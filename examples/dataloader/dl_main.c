/*  healbus-dataloader - the example agent: the seed's DataLoader.

    Loads CSV files (timestamp + numeric columns) and prints per-column
    statistics.  Each file goes through two operations wrapped in
    hb_retry: load_csv and compute_stats.  Their failure modes are real
    code paths steered by four knobs that a healer may change:

      date_parser  strict|fuzzy     strict refuses mixed date layouts
      parser       memory|streaming memory refuses files over 256 KiB
      timeout_ms   1..60000         deadline of compute_stats
      batch_size   16..65536        rows per batch; a batch must fit 64 KiB

    `--make-inputs DIR` writes one input per failure mode (and one with a
    malformed row, which no fix can heal). */

#include "dl_inputs.h"
#include "dl_stats.h"
#include "dl_table.h"
#include "healbus.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const char *broker;
    const char *name;
    hb_heal_mode_t heal;
    int64_t heal_wait_ms;
    int64_t rounds;       // 0 = until stopped
    int64_t interval_ms;
    int64_t attempts;
    const char *make_inputs;
    char **files;
    int n_files;
} dl_args_t;

typedef struct {
    hb_agent_t *agent;
    hb_knob_t *date_parser;
    hb_knob_t *parser;
    hb_knob_t *timeout_ms;
    hb_knob_t *batch_size;
    hb_retry_t *load;
    hb_retry_t *stats;
} dl_app_t;

// What one operation works on: the file, and the table between the two.
typedef struct {
    dl_app_t *app;
    const char *path;
    dl_table_t table;
    dl_stats_t stats;
} dl_job_t;

// Signal handling lives here, in main's file: a stop request ends the
// rounds, and hb_agent_interrupt (async-signal-safe) ends a heal wait or
// backoff pause in progress.
static volatile sig_atomic_t s_stop;
static hb_agent_t *volatile s_agent_to_interrupt;

static void
s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
    if (s_agent_to_interrupt)
        hb_agent_interrupt(s_agent_to_interrupt);
}

static void
s_usage(FILE *out)
{
    fputs(
        "usage: healbus-dataloader [options] FILE...\n"
        "       healbus-dataloader --make-inputs DIR\n"
        "\n"
        "The example healbus agent: loads CSV files (timestamp + numeric\n"
        "columns), prints per-column statistics, and reports errors,\n"
        "successes and metrics on the bus.  Its operations fail for real\n"
        "on mixed date layouts, big files, slow computations and big\n"
        "batches; a healer fixes them through its knobs.\n"
        "\n"
        "options:\n"
        "  --broker EP[,EP]   broker front endpoint(s) (default\n"
        "                     $HEALBUS_BROKER, then tcp://127.0.0.1:7701)\n"
        "  --name NAME        agent name (default dataloader)\n"
        "  --heal MODE        wait | async | off (default wait): what to do\n"
        "                     when retries run out\n"
        "  --heal-wait SEC    how long to wait for fixes (default 5)\n"
        "  --attempts N       attempts per operation (default 3)\n"
        "  --rounds N         process the files N times, 0 = until stopped\n"
        "                     (default 1)\n"
        "  --interval MS      pause between rounds (default 1000)\n"
        "  --make-inputs DIR  write demo inputs into DIR and exit\n"
        "  -h, --help         this text\n"
        "\n"
        "exit: 0 when every file succeeded in the last round or when\n"
        "stopped by SIGINT/SIGTERM, 1 when one failed, 2 on usage errors.\n",
        out);
}

static bool
s_int_arg(const char *flag, const char *text, int64_t min, int64_t max,
          int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text ? text : "", &end, 10);
    if (!text || errno || end == text || *end || v < min || v > max) {
        fprintf(stderr,
                "healbus-dataloader: %s needs an integer in %lld..%lld, "
                "got '%s'\n",
                flag, (long long)min, (long long)max, text ? text : "");
        return false;
    }
    *out = v;
    return true;
}

static bool
s_heal_arg(const char *text, hb_heal_mode_t *mode)
{
    static const char *const names[] = {"off", "wait", "async"};
    for (int i = 0; i < 3; i++)
        if (text && strcmp(text, names[i]) == 0) {
            *mode = (hb_heal_mode_t)i;
            return true;
        }
    fprintf(stderr, "healbus-dataloader: --heal is wait, async or off\n");
    return false;
}

/*  Returns -1 to go on, or an exit code. */
static int
s_parse_args(int argc, char **argv, dl_args_t *a)
{
    *a = (dl_args_t){.name = "dataloader", .heal = HB_HEAL_WAIT,
                     .heal_wait_ms = 5000, .rounds = 1, .interval_ms = 1000,
                     .attempts = 3};
    int64_t sec = 5;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            s_usage(stdout);
            return 0;
        }
        if (!v) {
            fprintf(stderr, "healbus-dataloader: %s needs a value\n", f);
            return 2;
        }
        if (!strcmp(f, "--broker"))
            a->broker = v;
        else if (!strcmp(f, "--name"))
            a->name = v;
        else if (!strcmp(f, "--make-inputs"))
            a->make_inputs = v;
        else if (!strcmp(f, "--heal"))
            ok = s_heal_arg(v, &a->heal);
        else if (!strcmp(f, "--heal-wait"))
            ok = s_int_arg(f, v, 0, 3600, &sec);
        else if (!strcmp(f, "--attempts"))
            ok = s_int_arg(f, v, 1, 100, &a->attempts);
        else if (!strcmp(f, "--rounds"))
            ok = s_int_arg(f, v, 0, 1000000, &a->rounds);
        else if (!strcmp(f, "--interval"))
            ok = s_int_arg(f, v, 0, 3600000, &a->interval_ms);
        else {
            fprintf(stderr, "healbus-dataloader: unknown option '%s' "
                            "(see --help)\n", f);
            return 2;
        }
        if (!ok)
            return 2;
        i++;
    }
    a->heal_wait_ms = sec * 1000;
    a->files = argv + i;
    a->n_files = argc - i;
    if (!a->make_inputs && a->n_files == 0) {
        fprintf(stderr, "healbus-dataloader: no input files (see --help)\n");
        return 2;
    }
    return -1;
}

/* --------------------------------------------------------- operations -- */

static bool
s_op_load(void *arg, hb_fail_t *fail)
{
    dl_job_t *job = arg;
    dl_app_t *app = job->app;
    dl_load_opts_t opts = {
        .streaming = hb_knob_get_enum(app->parser) == 1,
        .fuzzy_dates = hb_knob_get_enum(app->date_parser) == 1};
    const char *error_class = "Error";
    char why[512];
    dl_table_free(&job->table);
    if (!dl_table_load(&job->table, job->path, &opts, &error_class, why,
                       sizeof why)) {
        hb_fail_set(fail, error_class, "%s", why);
        return false;
    }
    hb_agent_metric(app->agent, "rows_loaded", (double)job->table.rows);
    return true;
}

static bool
s_op_stats(void *arg, hb_fail_t *fail)
{
    dl_job_t *job = arg;
    dl_stats_opts_t opts = {
        .batch_size = hb_knob_get_int(job->app->batch_size),
        .timeout_ms = hb_knob_get_int(job->app->timeout_ms)};
    const char *error_class = "Error";
    char why[512];
    if (!dl_stats_compute(&job->table, &opts, &job->stats, &error_class, why,
                          sizeof why)) {
        hb_fail_set(fail, error_class, "%s", why);
        return false;
    }
    return true;
}

static void
s_print_stats(const dl_job_t *job)
{
    printf("ok     %s: %zu rows", job->path, job->stats.rows);
    for (size_t c = 0; c < job->stats.cols && c < 3; c++) {
        const dl_col_stats_t *s = &job->stats.col[c];
        printf(" | col%zu mean=%.4g sd=%.4g min=%.4g max=%.4g", c + 1,
               s->mean, s->stddev, s->min, s->max);
    }
    printf("\n");
    fflush(stdout);
}

static bool
s_process(dl_app_t *app, const char *path)
{
    dl_job_t job = {.app = app, .path = path};
    hb_err_t rc = hb_retry_run(app->load, s_op_load, &job);
    if (rc == HB_OK && !s_stop)
        rc = hb_retry_run(app->stats, s_op_stats, &job);
    if (rc == HB_OK && s_stop)
        rc = HB_ECLOSED; // stopped between the two operations
    if (rc == HB_OK)
        s_print_stats(&job);
    else
        printf("FAILED %s: %s (knobs: date_parser=%s parser=%s "
               "timeout_ms=%lld batch_size=%lld)\n",
               path, hb_err_str(rc), hb_knob_get_enum_name(app->date_parser),
               hb_knob_get_enum_name(app->parser),
               (long long)hb_knob_get_int(app->timeout_ms),
               (long long)hb_knob_get_int(app->batch_size));
    fflush(stdout);
    dl_table_free(&job.table);
    return rc == HB_OK;
}

/* ---------------------------------------------------------------- app -- */

static void
s_logger(void *arg, hb_log_level_t level, const char *line)
{
    (void)arg;
    static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (level >= HB_LOG_INFO)
        fprintf(stderr, "dataloader %s: %s\n", names[level], line);
}

static bool
s_declare(dl_app_t *app, hb_err_t *why)
{
    static const char *const dates[] = {"strict", "fuzzy", NULL};
    static const char *const parsers[] = {"memory", "streaming", NULL};
    app->date_parser = hb_knob_enum(app->agent, "date_parser", "strict",
                                    dates, why);
    app->parser = hb_knob_enum(app->agent, "parser", "memory", parsers, why);
    app->timeout_ms = hb_knob_int(app->agent, "timeout_ms", 20, 1, 60000,
                                  why);
    app->batch_size = hb_knob_int(app->agent, "batch_size", 4096, 16, 65536,
                                  why);
    return app->date_parser && app->parser && app->timeout_ms &&
           app->batch_size;
}

static hb_retry_t *
s_policy(dl_app_t *app, const char *op, const dl_args_t *args)
{
    hb_retry_t *r = hb_retry_new(app->agent, op);
    if (!r)
        return NULL;
    hb_retry_set_attempts(r, (int)args->attempts);
    hb_retry_set_backoff(r, 20 * 1000, 200 * 1000);
    hb_retry_set_heal(r, args->heal, (uint64_t)args->heal_wait_ms * 1000);
    return r;
}

static void
s_app_destroy(dl_app_t *app)
{
    hb_retry_destroy(&app->load);
    hb_retry_destroy(&app->stats);
    hb_agent_destroy(&app->agent);
}

static bool
s_app_init(dl_app_t *app, const dl_args_t *args)
{
    hb_err_t why = HB_OK;
    *app = (dl_app_t){0};
    app->agent = hb_agent_new(args->name, args->broker, &why);
    if (!app->agent) {
        fprintf(stderr, "healbus-dataloader: cannot start the agent: %s\n",
                hb_err_str(why));
        return false;
    }
    hb_agent_set_logger(app->agent, s_logger, NULL);
    hb_agent_set_memory_limit(app->agent, 512ull * 1024 * 1024);
    if (!s_declare(app, &why)) {
        fprintf(stderr, "healbus-dataloader: declaring knobs: %s\n",
                hb_err_str(why));
        s_app_destroy(app);
        return false;
    }
    app->load = s_policy(app, "load_csv", args);
    app->stats = s_policy(app, "compute_stats", args);
    if (!app->load || !app->stats) {
        fprintf(stderr, "healbus-dataloader: out of memory\n");
        s_app_destroy(app);
        return false;
    }
    return true;
}

static void
s_pause(int64_t ms)
{
    // Sliced so a signal stops the pause promptly.
    for (int64_t left = ms; left > 0 && !s_stop; left -= 50) {
        struct timespec ts = {0, (left < 50 ? left : 50) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int
main(int argc, char **argv)
{
    dl_args_t args;
    int rc = s_parse_args(argc, argv, &args);
    if (rc >= 0)
        return rc;
    if (args.make_inputs)
        return dl_inputs_make(args.make_inputs);
    signal(SIGINT, s_on_signal);
    signal(SIGTERM, s_on_signal);
    dl_app_t app;
    if (!s_app_init(&app, &args))
        return 1;
    s_agent_to_interrupt = app.agent;
    if (s_stop) // a signal that came while the agent started
        hb_agent_interrupt(app.agent);
    bool all_ok = false;
    for (int64_t round = 1; !s_stop && (args.rounds == 0 ||
                                        round <= args.rounds); round++) {
        printf("--- round %lld\n", (long long)round);
        all_ok = true;
        for (int f = 0; f < args.n_files && !s_stop; f++)
            all_ok &= s_process(&app, args.files[f]);
        if (args.rounds == 0 || round < args.rounds)
            s_pause(args.interval_ms);
    }
    s_agent_to_interrupt = NULL;
    s_app_destroy(&app);
    // Stopped by SIGINT/SIGTERM: a clean stop, whatever the files did.
    return s_stop || all_ok ? 0 : 1;
}
