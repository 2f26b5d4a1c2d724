/*  hb_clock.h - the system clocks, read the one way every component needs.

    Monotonic time for deadlines and durations, wall time (Unix epoch) for
    timestamps that leave the process.  Header-only on purpose: each read is
    one clock_gettime call, so inlining costs nothing, and tests, benches and
    examples can use it without linking libhealbus objects.  Code that must be
    deterministic keeps its injected clock (hb_retry_set_clock, the node
    runtime's options); only the defaults of those call these. */

#ifndef HB_CLOCK_H
#define HB_CLOCK_H

#include <stdint.h>
#include <time.h>

//  Microseconds on CLOCK_MONOTONIC (arbitrary origin, never steps back).
static inline int64_t
hb_clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

//  Milliseconds on CLOCK_MONOTONIC.
static inline int64_t
hb_clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Microseconds since the Unix epoch on CLOCK_REALTIME (may step).
static inline int64_t
hb_clock_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
