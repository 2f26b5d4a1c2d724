/*  dl_inputs.c - deterministic demo inputs for the DataLoader example. */

#include "dl_inputs.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

typedef void(s_row_fn)(FILE *f, long i);

static void
s_stamp(FILE *f, long i)
{
    time_t t = (time_t)(1700000000L + i * 300); // a row every five minutes
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    fputs(buf, f);
}

static double
s_wave(long i)
{
    return 50.0 + 20.0 * sin((double)i / 288.0 * 6.283185307) +
           (double)((i * 7919) % 101) / 25.0;
}

static void
s_row_plain(FILE *f, long i)
{
    s_stamp(f, i);
    fprintf(f, ",%.3f\n", s_wave(i));
}

static void
s_row_mixed(FILE *f, long i)
{
    if (i % 17 == 5) // an export from another tool: day-first layout
        fprintf(f, "%02ld.11.2023 %02ld:%02ld", 14 + i / 288, i / 12 % 24,
                i * 5 % 60);
    else if (i % 23 == 9)
        fprintf(f, "2023/11/%02ld %02ld:%02ld", 14 + i / 288, i / 12 % 24,
                i * 5 % 60);
    else
        s_stamp(f, i);
    fprintf(f, ",%.3f\n", s_wave(i));
}

static void
s_row_wide(FILE *f, long i)
{
    s_stamp(f, i);
    fprintf(f, ",%.3f,%.3f,%.1f\n", s_wave(i), s_wave(i + 100) / 2,
            (double)(i % 500));
}

static void
s_row_bad(FILE *f, long i)
{
    s_stamp(f, i);
    if (i == 120)
        fprintf(f, ",12.5.7\n"); // a corrupted number
    else
        fprintf(f, ",%.3f\n", s_wave(i));
}

static int
s_write(const char *dir, const char *name, const char *header, long rows,
        s_row_fn *row)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "healbus-dataloader: cannot write %s: %s\n", path,
                strerror(errno));
        return 1;
    }
    fprintf(f, "%s\n", header);
    for (long i = 0; i < rows; i++)
        row(f, i);
    if (fclose(f) != 0) {
        fprintf(stderr, "healbus-dataloader: writing %s: %s\n", path,
                strerror(errno));
        return 1;
    }
    printf("wrote %s (%ld rows)\n", path, rows);
    return 0;
}

int
dl_inputs_make(const char *dir)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "healbus-dataloader: cannot create %s: %s\n", dir,
                strerror(errno));
        return 1;
    }
    return s_write(dir, "dates_mixed.csv", "timestamp,value", 600,
                   s_row_mixed) |
           s_write(dir, "big_series.csv", "timestamp,value", 12000,
                   s_row_plain) |
           s_write(dir, "wide_metrics.csv", "timestamp,load,latency,queue",
                   3000, s_row_wide) |
           s_write(dir, "slow_series.csv", "timestamp,value", 300000,
                   s_row_plain) |
           s_write(dir, "bad_rows.csv", "timestamp,value", 400, s_row_bad);
}
