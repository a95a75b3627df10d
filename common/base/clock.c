/*
 * clock.c: the wall clock and the monotonic clock, in the units callers use.
 */

#include <time.h>

#include "common/base/clock.h"

int64_t
fg_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
fg_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
fg_mono_us(void)
{
    return fg_mono_ns() / 1000;
}

int64_t
fg_mono_ms(void)
{
    return fg_mono_ns() / 1000000;
}
