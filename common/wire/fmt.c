/*
 * fmt.c: decimal integers, written back to front into a small buffer and
 * copied once; and "%.6g" by scaling to six digits in double arithmetic,
 * exact but for the ties it cannot call, which it leaves to snprintf.
 */

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/wire/fmt.h"

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

/* 10^0 .. 10^22: every one exactly representable as a double. */
static const double fmt_pow10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

static size_t
fmt_g6_slow(char *dst, double v)
{
    char buf[64];
    int  n = snprintf(buf, sizeof(buf), "%.6g", v);

    memcpy(dst, buf, (size_t) n);
    return (size_t) n;
}

/*
 * |v| times 10^(5 - e), correctly rounded: one multiplication or one
 * division by an exact power of ten, so the error is half an ulp of a
 * number below 10^6, about 1e-10.
 */
static double
fmt_scale(double a, int e)
{
    return e <= 5 ? a * fmt_pow10[5 - e] : a / fmt_pow10[e - 5];
}

size_t
fg_fmt_g6(char *dst, double v)
{
    char   digits[6];
    double a = fabs(v), scaled, frac;
    long   r;
    int    e, i, last, n = 0;

    if (v == 0) {
        if (signbit(v)) {
            dst[n++] = '-';
        }
        dst[n++] = '0';
        return (size_t) n;
    }
    if (!isfinite(v) || a < 1e-15 || a >= 1e16) {
        return fmt_g6_slow(dst, v);
    }
    e = (int) floor(log10(a));
    scaled = fmt_scale(a, e);
    /* log10 may be a decade off near powers of ten; the digits decide. */
    if (scaled < 100000.0) {
        scaled = fmt_scale(a, --e);
    } else if (scaled >= 1000000.0) {
        scaled = fmt_scale(a, ++e);
    }
    if (scaled < 99999.0 || scaled >= 1000000.0) {
        return fmt_g6_slow(dst, v);
    }
    frac = scaled - floor(scaled);
    if (fabs(frac - 0.5) < 1e-7) {
        return fmt_g6_slow(dst, v);   /* a tie, or too near one to call */
    }
    r = lround(scaled);
    if (r >= 1000000) {   /* 999999.7 rounds up a decade */
        r /= 10;
        e++;
    }
    for (i = 5; i >= 0; i--) {
        digits[i] = (char) ('0' + r % 10);
        r /= 10;
    }
    for (last = 5; last > 0 && digits[last] == '0'; last--) {
    }
    if (v < 0) {
        dst[n++] = '-';
    }
    if (e < -4 || e >= 6) {
        /* d[.ddddd]e±XX */
        dst[n++] = digits[0];
        if (last > 0) {
            dst[n++] = '.';
            memcpy(dst + n, digits + 1, (size_t) last);
            n += last;
        }
        dst[n++] = 'e';
        dst[n++] = e < 0 ? '-' : '+';
        e = e < 0 ? -e : e;
        dst[n++] = (char) ('0' + e / 10);
        dst[n++] = (char) ('0' + e % 10);
    } else if (e >= 0) {
        /* e + 1 integer digits, then what is left of the six */
        memcpy(dst + n, digits, (size_t) e + 1);
        n += e + 1;
        if (last > e) {
            dst[n++] = '.';
            memcpy(dst + n, digits + e + 1, (size_t) (last - e));
            n += last - e;
        }
    } else {
        /* 0.000ddd: -e - 1 zeros after the point */
        dst[n++] = '0';
        dst[n++] = '.';
        for (i = 0; i < -e - 1; i++) {
            dst[n++] = '0';
        }
        memcpy(dst + n, digits, (size_t) last + 1);
        n += last + 1;
    }
    return (size_t) n;
}
