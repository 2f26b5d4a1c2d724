/*  fingerprint_speed: lines per second of healer_templates_add over the
    Content column of the Loghub 2k samples (8 systems, 16,000 messages).
    Each run feeds a fresh miner the whole set again and again for about a
    second and a half; the figure is the median of five runs, on whatever
    core the scheduler gives us. Usage: fingerprint_speed [LOGHUB2K_DIR]. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 // sched_getcpu, clock_gettime
#endif

#include "../node/healer/healer_templates.h"
#include "bench_util.h"

#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef FINGERPRINT_DATA_DIR
#define FINGERPRINT_DATA_DIR "../shared/data/loghub2k"
#endif
#define S_RUNS 5
#define S_RUN_SECONDS 1.5
#define S_MAX_MESSAGES 100000

static const char *const s_systems[] = {"Apache", "BGL",      "HDFS",
                                        "Hadoop", "Linux",    "OpenStack",
                                        "Spark",  "Zookeeper"};

typedef struct {
    char *text[S_MAX_MESSAGES]; // owned
    size_t len[S_MAX_MESSAGES];
    size_t count;
} s_corpus_t;

// Read one CSV field (RFC 4180 quoting) at *p into a new string.
static char *
s_csv_field(const char **p, size_t *len_out)
{
    const char *s = *p;
    char *out = malloc(strlen(s) + 1);
    size_t n = 0;
    if (!out)
        return NULL;
    if (*s == '"') {
        for (s++; *s; s++) {
            if (*s == '"' && s[1] == '"')
                out[n++] = *s++;
            else if (*s == '"')
                break;
            else
                out[n++] = *s;
        }
        if (*s == '"')
            s++;
    } else {
        while (*s && *s != ',' && *s != '\n' && *s != '\r')
            out[n++] = *s++;
    }
    out[n] = '\0';
    *p = *s == ',' ? s + 1 : s;
    *len_out = n;
    return out;
}

// Index of column `name` in a header line, or -1.
static int
s_column(const char *header, const char *name)
{
    const char *p = header;
    for (int col = 0; *p && *p != '\n'; col++) {
        size_t n;
        char *f = s_csv_field(&p, &n);
        bool hit = f && strcmp(f, name) == 0;
        free(f);
        if (hit)
            return col;
    }
    return -1;
}

static int
s_load_system(s_corpus_t *c, const char *dir, const char *sys)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s_2k.log_structured.csv", dir, sys,
             sys);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "fingerprint_speed: cannot open %s\n", path);
        return -1;
    }
    size_t cap = 1 << 16; // Loghub rows are far shorter
    char *line = malloc(cap);
    int col = line && fgets(line, (int)cap, f) ? s_column(line, "Content") : -1;
    while (col >= 0 && c->count < S_MAX_MESSAGES && fgets(line, (int)cap, f)) {
        const char *p = line;
        for (int i = 0; i < col; i++) {
            size_t n;
            free(s_csv_field(&p, &n));
        }
        c->text[c->count] = s_csv_field(&p, &c->len[c->count]);
        c->count += c->text[c->count] != NULL;
    }
    free(line);
    fclose(f);
    if (col < 0)
        fprintf(stderr, "fingerprint_speed: no Content column in %s\n", path);
    return col >= 0 ? 0 : -1;
}

// One run: a fresh miner fed `passes` times over the corpus; lines/s.
static double
s_run(const s_corpus_t *c, int passes, size_t *groups)
{
    healer_templates_t *m = healer_templates_new(NULL);
    if (!m)
        return 0.0;
    double t0 = bench_now_s();
    for (int k = 0; k < passes; k++) {
        for (size_t i = 0; i < c->count; i++)
            healer_templates_add(m, c->text[i], c->len[i]);
    }
    double dt = bench_now_s() - t0;
    *groups = healer_templates_count(m);
    healer_templates_destroy(&m);
    return (double)passes * (double)c->count / dt;
}

static void
s_print_cpu(void)
{
    char line[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0)
            break;
    }
    if (f)
        fclose(f);
    const char *colon = strchr(line, ':');
    printf("cpu: %s", colon ? colon + 2 : "unknown\n");
    printf("core: %d (not pinned)\n", sched_getcpu());
}

int
main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : FINGERPRINT_DATA_DIR;
    s_corpus_t *c = calloc(1, sizeof *c); // too big for the stack
    if (!c)
        return 1;
    for (size_t i = 0; i < sizeof s_systems / sizeof *s_systems; i++) {
        if (s_load_system(c, dir, s_systems[i]) != 0)
            return 1;
    }
    size_t groups = 0;
    double probe = s_run(c, 1, &groups);
    int passes = (int)(S_RUN_SECONDS * probe / (double)c->count) + 1;
    double rate[S_RUNS];
    for (int r = 0; r < S_RUNS; r++)
        rate[r] = s_run(c, passes, &groups);
    bench_sort(rate, S_RUNS);
    s_print_cpu();
    printf("messages: %zu x %d passes per run, %zu templates\n", c->count,
           passes, groups);
    printf("healer_templates_add: %.0f lines/s (median of %d runs; "
           "min %.0f, max %.0f)\n",
           rate[S_RUNS / 2], S_RUNS, rate[0], rate[S_RUNS - 1]);
    for (size_t i = 0; i < c->count; i++)
        free(c->text[i]);
    free(c);
    return 0;
}
