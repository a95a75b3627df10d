#ifndef FG_COMMON_FMT_H
#define FG_COMMON_FMT_H

/*
 * Number formatting without printf, for the lines written once per
 * request (access log, usage journal): vfprintf costs more than the rest
 * of such a line together.
 */

#include <stddef.h>
#include <stdint.h>

#define FG_FMT_I64_MAX 20   /* "-9223372036854775808" */

/* Writes @v in decimal to @dst (no NUL) and returns the length. */
size_t fg_fmt_i64(char *dst, int64_t v);

#endif
