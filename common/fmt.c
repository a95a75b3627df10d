/*
 * fmt.c: decimal integers, written back to front into a small buffer and
 * copied once.
 */

#include <string.h>

#include "common/fmt.h"

size_t
fg_fmt_i64(char *dst, int64_t v)
{
    char     digits[FG_FMT_I64_MAX];
    size_t   n = sizeof(digits);
    uint64_t u = v < 0 ? 0 - (uint64_t) v : (uint64_t) v;

    do {
        digits[--n] = (char) ('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (v < 0) {
        digits[--n] = '-';
    }
    memcpy(dst, digits + n, sizeof(digits) - n);
    return sizeof(digits) - n;
}
