/*
 * test_fmt.c: number formatting without printf (common/wire/fmt) writes what
 * printf writes: integers at their limits, and "%.6g" compared with
 * snprintf on chosen values (ties, decade edges, the switch to exponent
 * form) and on two million pseudo-random ones of four shapes.
 */

#include "common/wire/fmt.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "tests/unit/fg_test.h"

/* fg_fmt_g6(@v) and snprintf("%.6g", @v) agree; reports the first miss. */
static int
g6_agrees(double v)
{
    char   ours[FG_FMT_G6_MAX + 1], theirs[64];
    size_t n = fg_fmt_g6(ours, v);

    ours[n] = '\0';
    snprintf(theirs, sizeof(theirs), "%.6g", v);
    if (strcmp(ours, theirs) != 0) {
        FG_TEST_FAIL("%.17g: wrote \"%s\", printf writes \"%s\"", v, ours,
                     theirs);
        return 0;
    }
    return 1;
}

static void
i64_writes_zero_negatives_and_both_limits(void)
{
    char   buf[FG_FMT_I64_MAX + 1];
    size_t n;

    n = fg_fmt_i64(buf, 0);
    buf[n] = '\0';
    expect_str_eq(buf, "0");
    n = fg_fmt_i64(buf, -42);
    buf[n] = '\0';
    expect_str_eq(buf, "-42");
    n = fg_fmt_i64(buf, INT64_MAX);
    buf[n] = '\0';
    expect_str_eq(buf, "9223372036854775807");
    n = fg_fmt_i64(buf, INT64_MIN);
    buf[n] = '\0';
    expect_str_eq(buf, "-9223372036854775808");
}

static void
g6_writes_zero_and_negative_zero_as_printf(void)
{
    expect_true(g6_agrees(0.0));
    expect_true(g6_agrees(-0.0));
}

static void
g6_rounds_exact_ties_to_even_as_printf(void)
{
    /* Exactly representable halves: printf rounds these to even. */
    static const double ties[] = { 1234565, 1234575, 100000.5, 999999.5,
                                   0.5, 2.5, 1234.5625, 12345.25 };
    size_t i;

    for (i = 0; i < sizeof(ties) / sizeof(ties[0]); i++) {
        expect_true(g6_agrees(ties[i]));
        expect_true(g6_agrees(-ties[i]));
    }
}

static void
g6_crosses_decades_and_switches_to_exponent_form_as_printf(void)
{
    static const double edges[] = { 99999.95, 999999.4, 999999.6, 9999995,
                                    1e5, 1e6, 1e-4, 9.999995e-5, 1e-5,
                                    0.0001234565, 1e15, 9.9999995e15, 1e-15,
                                    1.0000005, 123456789, 0.1, 0.2, 0.3 };
    size_t i;

    for (i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        expect_true(g6_agrees(edges[i]));
        expect_true(g6_agrees(-edges[i]));
    }
}

static void
g6_leaves_extremes_and_non_finite_values_to_printf(void)
{
    expect_true(g6_agrees(5e-324));
    expect_true(g6_agrees(1.7976931348623157e308));
    expect_true(g6_agrees(1e22));
    expect_true(g6_agrees(INFINITY));
    expect_true(g6_agrees(-INFINITY));
    expect_true(g6_agrees(NAN));
}

static void
g6_agrees_with_printf_on_two_million_values(void)
{
    uint64_t x = 88172645463325252ULL;
    long     misses = 0, i;
    double   v;

    for (i = 0; i < 2000000 && misses < 5; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        switch (i % 4) {
        case 0:    /* any bit pattern */
            memcpy(&v, &x, sizeof(v));
            break;
        case 1:    /* short decimals, as energy and carbon figures are */
            v = (double) (x % 100000000) / pow(10, (double) ((x >> 58) % 12));
            break;
        case 2:    /* binary fractions */
            v = ldexp((double) (x >> 11), -(int) (x % 80));
            break;
        default:   /* halves at every scale: the ties */
            v = (double) (x % 2000000) * 0.5
                * pow(10, (double) ((int) ((x >> 59) % 20) - 10));
            break;
        }
        if (!isnan(v) && !g6_agrees(v)) {
            misses++;
        }
    }
    expect_int_eq(misses, 0);
}

FG_TEST_MAIN("fmt",
             FG_TEST_CASE(i64_writes_zero_negatives_and_both_limits),
             FG_TEST_CASE(g6_writes_zero_and_negative_zero_as_printf),
             FG_TEST_CASE(g6_rounds_exact_ties_to_even_as_printf),
             FG_TEST_CASE(g6_crosses_decades_and_switches_to_exponent_form_as_printf),
             FG_TEST_CASE(g6_leaves_extremes_and_non_finite_values_to_printf),
             FG_TEST_CASE(g6_agrees_with_printf_on_two_million_values))
