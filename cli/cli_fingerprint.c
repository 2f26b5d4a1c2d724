/*  cli_fingerprint: `healbus fingerprint`. Streams stdin through the healer's
    template miner and prints "<group-id>\t<template>" for every input line,
    in order, as soon as its input block is processed. Input arrives in large
    blocks and output leaves in large blocks: the miner, not stdio, should be
    the cost. */

#include "cli_fingerprint.h"

#include "../node/healer/healer_templates.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_FINGERPRINT_IO_BYTES (1u << 20)

static const char s_usage[] =
    "usage: healbus fingerprint [--max-groups N] [--similarity S]\n"
    "\n"
    "Group log or error messages into templates. Reads one message per line\n"
    "on stdin and writes '<group-id><TAB><template>' on stdout for each\n"
    "input line, in input order (an empty line gets a line too). Parts that\n"
    "look variable (anything with a digit, paths, URLs, host names, hex\n"
    "addresses, timestamps, sizes) become '<*>', and a run of them one '<*>'.\n"
    "Ids are stable: a group keeps its id when its template is generalised.\n"
    "Lines are cut at 4096 bytes; NUL and control bytes count as spaces.\n"
    "\n"
    "  --max-groups N  live templates kept; past that the least recently\n"
    "                  used is forgotten and its lines get new ids\n"
    "                  (default 4096)\n"
    "  --similarity S  share of tokens a line must match to join a template,\n"
    "                  in (0,1] (default 0.95)\n"
    "  -h, --help      this text\n"
    "\n"
    "Exit status: 0 done, 1 read/write error or out of memory, 2 usage.\n";

typedef struct {
    healer_templates_t *miner; // owned by s_run
    char *line;                // owned: the line being assembled
    size_t line_len;
    size_t line_cap; // bytes kept per line; the rest is skipped
    bool pending;    // bytes seen since the last newline
    char *out;       // owned: output block
    size_t out_len;
} s_run_t;

static int
s_usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "healbus fingerprint: %s%s%s\n%s", what, arg ? ": " : "",
            arg ? arg : "", s_usage);
    return 2;
}

static int
s_parse_options(int argc, char **argv, healer_templates_cfg_t *cfg)
{
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
            fputs(s_usage, stdout);
            return 0;
        }
        bool is_groups = strcmp(opt, "--max-groups") == 0;
        bool is_sim = strcmp(opt, "--similarity") == 0;
        if (!is_groups && !is_sim)
            return s_usage_error("unknown option", opt);
        if (i + 1 >= argc)
            return s_usage_error("missing value for", opt);
        const char *val = argv[++i];
        char *end;
        errno = 0;
        if (is_groups) {
            unsigned long long n = strtoull(val, &end, 10);
            if (errno || end == val || *end || val[0] == '-' || n == 0 ||
                n > HEALER_TEMPLATES_GROUPS_CEILING)
                return s_usage_error("--max-groups wants 1..1048576, got", val);
            cfg->max_groups = (size_t)n;
        } else {
            double s = strtod(val, &end);
            if (errno || end == val || *end || !(s > 0.0 && s <= 1.0))
                return s_usage_error("--similarity wants (0,1], got", val);
            cfg->similarity = s;
        }
    }
    return -1; // no early exit: run
}

static int
s_flush(s_run_t *run)
{
    if (run->out_len > 0 &&
        fwrite(run->out, 1, run->out_len, stdout) != run->out_len) {
        fprintf(stderr, "healbus fingerprint: write error: %s\n",
                strerror(errno));
        return 1;
    }
    run->out_len = 0;
    return 0;
}

// Decimal digits of v at p; returns the count.
static size_t
s_put_u32(char *p, uint32_t v)
{
    char tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

static int
s_emit(s_run_t *run, const char *text, size_t len)
{
    uint32_t id = healer_templates_add(run->miner, text, len);
    if (id == HEALER_TEMPLATES_NONE) {
        fprintf(stderr, "healbus fingerprint: out of memory\n");
        return 1;
    }
    const char *tpl = healer_templates_template(run->miner, id);
    size_t tlen = strlen(tpl);
    if (run->out_len + tlen + 12 > CLI_FINGERPRINT_IO_BYTES && s_flush(run))
        return 1;
    // A template is at most 4 * max_line_bytes + 8 bytes, far below a block.
    char *p = run->out + run->out_len;
    p += s_put_u32(p, id);
    *p++ = '\t';
    memcpy(p, tpl, tlen);
    p[tlen] = '\n';
    run->out_len = (size_t)(p + tlen + 1 - run->out);
    return 0;
}

// Keep at most line_cap bytes of the current line; the rest is dropped.
static void
s_append(s_run_t *run, const char *p, size_t n)
{
    size_t room = run->line_cap - run->line_len;
    memcpy(run->line + run->line_len, p, n < room ? n : room);
    run->line_len += n < room ? n : room;
}

// Split one input block into lines; a line cut by the block end waits in
// run->line. Whole lines inside the block are passed without copying.
static int
s_feed(s_run_t *run, const char *p, size_t n)
{
    const char *end = p + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        if (nl && !run->pending) {
            if (s_emit(run, p, (size_t)(nl - p)))
                return 1;
        } else {
            s_append(run, p, (size_t)(stop - p));
            run->pending = !nl;
            if (nl && s_emit(run, run->line, run->line_len))
                return 1;
            if (nl)
                run->line_len = 0;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

static int
s_run(s_run_t *run, char *in)
{
    size_t n;
    while ((n = fread(in, 1, CLI_FINGERPRINT_IO_BYTES, stdin)) > 0) {
        if (s_feed(run, in, n))
            return 1;
    }
    if (ferror(stdin)) {
        fprintf(stderr, "healbus fingerprint: read error: %s\n",
                strerror(errno));
        return 1;
    }
    // A last line without a newline is still a line.
    if (run->pending && s_emit(run, run->line, run->line_len))
        return 1;
    if (s_flush(run) || fflush(stdout) != 0) {
        fprintf(stderr, "healbus fingerprint: write error: %s\n",
                strerror(errno));
        return 1;
    }
    return 0;
}

int
cli_fingerprint_main(int argc, char **argv)
{
    healer_templates_cfg_t cfg = {0};
    int rc = s_parse_options(argc, argv, &cfg);
    if (rc >= 0)
        return rc;
    s_run_t run = {0};
    run.line_cap = HEALER_TEMPLATES_MAX_LINE_BYTES;
    run.miner = healer_templates_new(&cfg);
    run.line = malloc(run.line_cap);
    run.out = malloc(CLI_FINGERPRINT_IO_BYTES);
    char *in = malloc(CLI_FINGERPRINT_IO_BYTES);
    if (!run.miner || !run.line || !run.out || !in) {
        fprintf(stderr, "healbus fingerprint: out of memory\n");
        rc = 1;
    } else {
        rc = s_run(&run, in);
    }
    free(in);
    free(run.out);
    free(run.line);
    healer_templates_destroy(&run.miner);
    return rc;
}
