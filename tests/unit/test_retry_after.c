/*
 * test_retry_after.c: Retry-After's two forms (common/wire/retry_after)
 * into milliseconds, the cap, and the values that are neither form.
 */

#include "common/wire/retry_after.h"

#include <string.h>

#include "tests/unit/fg_test.h"

/* Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example date. */
#define RFC_DATE_UNIX 784111777

static int64_t
ra(const char *v, int64_t now)
{
    return fg_retry_after_ms(v, strlen(v), now);
}

static void
delta_seconds_become_milliseconds(void)
{
    expect_int_eq(ra("1", 0), 1000);
    expect_int_eq(ra("0", 0), 0);
    expect_int_eq(ra(" 120 ", 0), 120000);
}

static void
an_imf_fixdate_is_the_wait_from_now(void)
{
    expect_int_eq(ra("Sun, 06 Nov 1994 08:49:37 GMT", RFC_DATE_UNIX - 30),
                  30000);
}

static void
the_obsolete_rfc850_and_asctime_dates_are_read_too(void)
{
    expect_int_eq(ra("Sunday, 06-Nov-94 08:49:37 GMT", RFC_DATE_UNIX - 5),
                  5000);
    expect_int_eq(ra("Sun Nov  6 08:49:37 1994", RFC_DATE_UNIX - 7), 7000);
}

static void
a_date_in_the_past_is_no_wait(void)
{
    expect_int_eq(ra("Sun, 06 Nov 1994 08:49:37 GMT", RFC_DATE_UNIX + 100),
                  0);
}

static void
a_wait_beyond_the_cap_is_cut_to_it(void)
{
    expect_int_eq(ra("86400", 0), FG_RETRY_AFTER_MAX_MS);
    expect_int_eq(ra("99999999999999999999999999", 0),
                  FG_RETRY_AFTER_MAX_MS);
    expect_int_eq(ra("Sun, 06 Nov 1994 08:49:37 GMT", 0),
                  FG_RETRY_AFTER_MAX_MS);
}

static void
values_of_neither_form_are_minus_one(void)
{
    static const char *const bad[] = {
        "", "  ", "-1", "1.5", "1s", "soon", "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT",
        "Sun, 32 Nov 1994 08:49:37 GMT", "Sun Nov  6 08:49:37 1994 GMT",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ra(bad[i], 0) != -1) {
            FG_TEST_FAIL("\"%s\" gave %lld, expected -1", bad[i],
                         (long long) ra(bad[i], 0));
        }
    }
}

static void
the_gateway_says_whole_seconds_rounded_up_and_the_exact_ms(void)
{
    static const struct {
        int64_t     ms;
        const char *secs, *msv;
    } c[] = {
        { 1000, "1", "1000" }, { 8572, "9", "8572" }, { 6000, "6", "6000" },
        { 1, "1", "1" }, { 0, "0", "0" }, { -5, "0", "0" },
        { 3600000, "3600", "3600000" },
    };
    char   secs[FG_RETRY_AFTER_VALUE_MAX], msv[FG_RETRY_AFTER_VALUE_MAX];
    size_t i;

    for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        fg_retry_after_values(c[i].ms, secs, msv);
        expect_str_eq(secs, c[i].secs);
        expect_str_eq(msv, c[i].msv);
    }
    expect_str_eq(FG_RETRY_AFTER_1S_LINES,
                  "Retry-After: 1\r\nretry-after-ms: 1000\r\n");
}

FG_TEST_MAIN("retry_after",
             FG_TEST_CASE(the_gateway_says_whole_seconds_rounded_up_and_the_exact_ms),
             FG_TEST_CASE(delta_seconds_become_milliseconds),
             FG_TEST_CASE(an_imf_fixdate_is_the_wait_from_now),
             FG_TEST_CASE(the_obsolete_rfc850_and_asctime_dates_are_read_too),
             FG_TEST_CASE(a_date_in_the_past_is_no_wait),
             FG_TEST_CASE(a_wait_beyond_the_cap_is_cut_to_it),
             FG_TEST_CASE(values_of_neither_form_are_minus_one))
