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

#define FG_FMT_G6_MAX 24   /* "-1.23457e-300", "nan", with room */

/*
 * Writes @v to @dst (no NUL) exactly as printf's "%.6g" does, and returns
 * the length. Values whose sixth digit is decided by a tie too close to
 * call in double arithmetic, very large or small ones, and non-finite
 * ones go through snprintf; the rest cost a few dozen instructions
 * instead of a few thousand.
 */
size_t fg_fmt_g6(char *dst, double v);

#endif
