/*  cli_predict: `healbus predict --csv FILE`. Reads a NAB-layout series
    (`timestamp,value`, timestamp `YYYY-MM-DD HH:MM:SS`) one row at a time,
    feeds each to a predictor_detector and prints `timestamp,value,score,
    level`. Any malformed row stops the run with the file and line named. */

#include "cli_predict.h"

#include "../node/predictor/predictor_detector.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  NAB rows are under 40 bytes; anything near this cap is not a series row
#define CLI_PREDICT_LINE_MAX 256

typedef enum { S_LINE_OK, S_LINE_EOF, S_LINE_LONG, S_LINE_NUL } s_line_t;

typedef struct {
    const char *path; // borrowed from argv
    predictor_detector_cfg_t cfg;
} s_opts_t;

typedef struct {
    const char *path;          // borrowed from argv
    FILE *in;                  // owned by s_run
    FILE *out;                 // borrowed: stdout
    unsigned long line;        // 1-based number of the line just read
    predictor_detector_t *det; // owned by s_run
} s_run_t;

static const char s_usage[] =
    "usage: healbus predict --csv FILE [--history N] [--refractory N]\n"
    "                       [--alpha P]\n"
    "\n"
    "Run the predictor's online anomaly detector over FILE, a CSV with the\n"
    "header 'timestamp,value' and rows 'YYYY-MM-DD HH:MM:SS,number' (the\n"
    "Numenta Anomaly Benchmark layout), one row at a time, never looking\n"
    "ahead. Prints 'timestamp,value,score,level' for every row: score in\n"
    "[0,1], and score >= 0.5 exactly when the detector alerts, in which case\n"
    "level is LOW, MEDIUM, HIGH or CRITICAL (else NONE).\n"
    "\n"
    "  --csv FILE      the series to score (required)\n"
    "  --history N     samples each view remembers (default 2048)\n"
    "  --refractory N  samples after an alert with no new alert (default 288)\n"
    "  --alpha P       tail probability per sample that alerts (default 5e-4)\n"
    "  -h, --help      this text\n"
    "\n"
    "The defaults are the one setting used for every series; the other\n"
    "options exist for experiments. Exit status: 0 done, 1 unreadable or\n"
    "malformed input (file and line named on stderr), 2 usage error.\n";

static int
s_usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "healbus predict: %s%s%s\n%s", what, arg ? ": " : "",
            arg ? arg : "", s_usage);
    return 2;
}

//  Read one line without its end (LF or CRLF) into buf. NUL bytes and lines
//  of CLI_PREDICT_LINE_MAX bytes or more are refused: fgets would hide both.
static s_line_t
s_read_line(FILE *in, char *buf, size_t *len_out)
{
    size_t len = 0;
    int c;
    while ((c = getc(in)) != EOF && c != '\n') {
        if (c == '\0')
            return S_LINE_NUL;
        if (len + 1 >= CLI_PREDICT_LINE_MAX)
            return S_LINE_LONG;
        buf[len++] = (char)c;
    }
    if (c == EOF && len == 0)
        return S_LINE_EOF;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    buf[len] = '\0';
    *len_out = len;
    return S_LINE_OK;
}

//  Parse exactly `width` decimal digits.
static bool
s_digits(const char *s, int width, int *out)
{
    int v = 0;
    for (int i = 0; i < width; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

//  Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
//  (shift the year to start in March so the leap day is last).
static int64_t
s_days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int
s_days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

//  `YYYY-MM-DD HH:MM:SS` with an optional `.fraction` (as in NAB labels),
//  to Unix milliseconds. The whole field must match.
static bool
s_parse_time(const char *s, size_t len, int64_t *ms_out)
{
    int y, mo, d, h, mi, se;
    if (len < 19 || s[4] != '-' || s[7] != '-' || s[10] != ' ' ||
        s[13] != ':' || s[16] != ':')
        return false;
    if (!s_digits(s, 4, &y) || !s_digits(s + 5, 2, &mo) ||
        !s_digits(s + 8, 2, &d) || !s_digits(s + 11, 2, &h) ||
        !s_digits(s + 14, 2, &mi) || !s_digits(s + 17, 2, &se))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > s_days_in_month(y, mo) || h > 23 ||
        mi > 59 || se > 59)
        return false;
    int frac_ms = 0;
    if (len > 19) {
        size_t digits = len - 20;
        if (s[19] != '.' || digits == 0 || digits > 9)
            return false;
        for (size_t i = 0; i < digits; i++) {
            if (s[20 + i] < '0' || s[20 + i] > '9')
                return false;
            if (i < 3)
                frac_ms = frac_ms * 10 + (s[20 + i] - '0');
        }
        for (size_t i = digits; i < 3; i++)
            frac_ms *= 10;
    }
    int64_t secs =
        s_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    *ms_out = secs * 1000 + frac_ms;
    return true;
}

//  A finite decimal number filling the whole field.
static bool
s_parse_value(const char *s, double *out)
{
    if (*s == '\0' || *s == ' ' || *s == '\t')
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || !isfinite(v) || (errno == ERANGE && fabs(v) > 1))
        return false;
    *out = v;
    return true;
}

static int
s_bad_row(const s_run_t *run, const char *what, const char *text)
{
    fprintf(stderr, "healbus predict: %s:%lu: %s%s%s%s\n", run->path, run->line,
            what, text ? " '" : "", text ? text : "", text ? "'" : "");
    return 1;
}

static int
s_read_error(const s_run_t *run, s_line_t got)
{
    if (got == S_LINE_NUL)
        return s_bad_row(run, "NUL byte in line", NULL);
    if (got == S_LINE_LONG)
        return s_bad_row(run, "line too long (limit 255 bytes)", NULL);
    if (ferror(run->in)) {
        fprintf(stderr, "healbus predict: %s:%lu: read error: %s\n", run->path,
                run->line, strerror(errno));
        return 1;
    }
    return 0;
}

static int
s_read_header(s_run_t *run)
{
    char buf[CLI_PREDICT_LINE_MAX];
    size_t len;
    run->line = 1;
    s_line_t got = s_read_line(run->in, buf, &len);
    if (got == S_LINE_EOF)
        return ferror(run->in) ? s_read_error(run, got)
                               : s_bad_row(run,
                                           "empty file, expected header "
                                           "'timestamp,value'",
                                           NULL);
    if (got != S_LINE_OK)
        return s_read_error(run, got);
    if (strcmp(buf, "timestamp,value") != 0)
        return s_bad_row(run, "expected header 'timestamp,value', got", buf);
    fputs("timestamp,value,score,level\n", run->out);
    return 0;
}

//  Split, check, score and print one data row held in buf.
static int
s_do_row(s_run_t *run, char *buf, size_t len)
{
    char *comma = memchr(buf, ',', len);
    if (!comma)
        return s_bad_row(run, "missing comma in", buf);
    *comma = '\0';
    const char *value_text = comma + 1;
    int64_t ts_ms;
    double value;
    if (!s_parse_time(buf, (size_t)(comma - buf), &ts_ms))
        return s_bad_row(run, "bad timestamp (want YYYY-MM-DD HH:MM:SS)", buf);
    if (!s_parse_value(value_text, &value))
        return s_bad_row(run, "bad number", value_text);
    predictor_result_t r;
    predictor_detector_err_t err =
        predictor_detector_update(run->det, ts_ms, value, &r);
    if (err != PREDICTOR_DETECTOR_OK)
        return s_bad_row(run, predictor_detector_strerror(err), value_text);
    fprintf(run->out, "%s,%s,%.4f,%s\n", buf, value_text, r.score,
            predictor_level_name(r.level));
    return 0;
}

static int
s_run_rows(s_run_t *run)
{
    char buf[CLI_PREDICT_LINE_MAX];
    size_t len;
    for (;;) {
        run->line++;
        s_line_t got = s_read_line(run->in, buf, &len);
        if (got != S_LINE_OK)
            return s_read_error(run, got); // 0 at a clean end of file
        int rc = s_do_row(run, buf, len);
        if (rc != 0)
            return rc;
    }
}

static int
s_run(const s_opts_t *opts)
{
    s_run_t run = {.path = opts->path, .out = stdout};
    predictor_detector_err_t why;
    run.det = predictor_detector_new(&opts->cfg, &why);
    if (!run.det) {
        fprintf(stderr, "healbus predict: %s\n",
                predictor_detector_strerror(why));
        return why == PREDICTOR_DETECTOR_ECFG ? 2 : 1;
    }
    int rc = 1;
    run.in = fopen(opts->path, "rb");
    if (!run.in) {
        fprintf(stderr, "healbus predict: %s: %s\n", opts->path,
                strerror(errno));
        goto out;
    }
    rc = s_read_header(&run);
    if (rc == 0)
        rc = s_run_rows(&run);
    if (fflush(run.out) != 0 && rc == 0) {
        fprintf(stderr, "healbus predict: writing output: %s\n",
                strerror(errno));
        rc = 1;
    }
out:
    if (run.in)
        fclose(run.in);
    predictor_detector_destroy(&run.det);
    return rc;
}

//  An unsigned integer option in [lo, hi], whole argument.
static bool
s_parse_u32(const char *s, unsigned long lo, unsigned long hi, uint32_t *out)
{
    if (*s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (*end != '\0' || errno == ERANGE || v < lo || v > hi)
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool
s_parse_alpha(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || !(v > 0 && v <= 0.01))
        return false;
    *out = v;
    return true;
}

//  Apply one option taking a value; returns 0, or 2 after a usage message.
static int
s_option(s_opts_t *opts, const char *name, const char *arg)
{
    bool ok;
    if (strcmp(name, "--csv") == 0) {
        opts->path = arg;
        ok = *arg != '\0';
    } else if (strcmp(name, "--history") == 0)
        ok = s_parse_u32(arg, 64, 65536, &opts->cfg.history);
    else if (strcmp(name, "--refractory") == 0)
        ok = s_parse_u32(arg, 0, 100000000, &opts->cfg.refractory);
    else if (strcmp(name, "--alpha") == 0)
        ok = s_parse_alpha(arg, &opts->cfg.alpha);
    else
        return s_usage_error("unknown option", name);
    return ok ? 0 : s_usage_error("bad value for option", name);
}

int
cli_predict_main(int argc, char **argv)
{
    s_opts_t opts = {.path = NULL};
    predictor_detector_cfg_default(&opts.cfg);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(s_usage, stdout);
            return 0;
        }
        if (strncmp(argv[i], "--", 2) != 0)
            return s_usage_error("unexpected argument", argv[i]);
        if (i + 1 >= argc)
            return s_usage_error("missing value for option", argv[i]);
        int rc = s_option(&opts, argv[i], argv[i + 1]);
        if (rc != 0)
            return rc;
        i++;
    }
    if (!opts.path)
        return s_usage_error("missing --csv FILE", NULL);
    return s_run(&opts);
}
