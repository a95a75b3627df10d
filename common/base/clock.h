#ifndef FG_COMMON_CLOCK_H
#define FG_COMMON_CLOCK_H

/*
 * The two clocks every process reads: the wall clock, for instants that
 * are stored or compared across processes and restarts (key expiry, usage
 * records, regeneration), and the monotonic clock, for durations and
 * deadlines. Both are clock_gettime() through the vDSO: no syscall.
 */

#include <stdint.h>

/* Unix time in milliseconds (CLOCK_REALTIME). */
int64_t fg_wall_ms(void);

/* CLOCK_MONOTONIC in nanoseconds, microseconds and milliseconds. */
int64_t fg_mono_ns(void);
int64_t fg_mono_us(void);
int64_t fg_mono_ms(void);

#endif
