/*  hb_log.h - the logger binaries make in main() and pass down.

    One line per event on a FILE (stderr by default): ISO time, level,
    component, message.  Nothing is formatted unless the level is on.
    hb_log_complain() rate-limits a repeating condition: logged the first
    time, then at growing intervals with the count of occurrences. */

#ifndef HB_LOG_H
#define HB_LOG_H

#include "healbus.h"
#include <stdint.h>
#include <stdio.h>

typedef struct hb_log hb_log_t;

/*  `component` is copied; `out` is borrowed (NULL = stderr). */
hb_log_t *hb_log_new(const char *component, FILE *out, hb_log_level_t level);
void hb_log_destroy(hb_log_t **self_p);
void hb_log_set_level(hb_log_t *self, hb_log_level_t level);
bool hb_log_enabled(const hb_log_t *self, hb_log_level_t level);

void hb_log_write(hb_log_t *self, hb_log_level_t level, const char *fmt, ...)
    HB_PRINTF(3, 4);

#define hb_log_debug(log, ...) hb_log_write((log), HB_LOG_DEBUG, __VA_ARGS__)
#define hb_log_info(log, ...) hb_log_write((log), HB_LOG_INFO, __VA_ARGS__)
#define hb_log_warn(log, ...) hb_log_write((log), HB_LOG_WARN, __VA_ARGS__)
#define hb_log_error(log, ...) hb_log_write((log), HB_LOG_ERROR, __VA_ARGS__)

/*  State of one repeating condition (zero-initialise it). */
typedef struct {
    uint64_t count;    // occurrences so far
    uint64_t next_at;  // log again when count reaches this
} hb_log_complaint_t;

/*  Count one occurrence; log it (warn) when it is the 1st, 10th, 100th...,
    with the running count appended. */
void hb_log_complain(hb_log_t *self, hb_log_complaint_t *c, const char *fmt,
                     ...) HB_PRINTF(3, 4);

#endif
