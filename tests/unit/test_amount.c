/*
 * test_amount.c: credits on fluxgate-admin's command line, decimal text
 * to int64_t micro-units and back.
 *
 * Unit tests link only common/ and worker/ (libfgcommon, libfgworker);
 * admin/ objects go into fluxgate-admin alone. admin/amount.c is a pure
 * module with no dependency beyond libc, so it is compiled into this test
 * directly, h2o-style, rather than moved into common/ where no other
 * process needs it.
 */

#include "admin/amount.c"

#include <stdint.h>

#include "tests/unit/fg_test.h"

static int64_t
parsed(const char *text)
{
    int64_t     micro = -42;
    const char *why = fg_amount_parse(text, &micro);

    if (why != NULL) {
        FG_TEST_FAIL("\"%s\" refused: %s", text, why);
    }
    return micro;
}

static const char *
refusal(const char *text)
{
    int64_t     micro = -42;
    const char *why = fg_amount_parse(text, &micro);

    if (micro != -42) {
        FG_TEST_FAIL("\"%s\" refused but the output was written", text);
    }
    return why;
}

static void
amount_parses_whole_credits(void)
{
    expect_int_eq(parsed("0"), 0);
    expect_int_eq(parsed("1"), 1000000);
    expect_int_eq(parsed("12"), 12000000);
    expect_int_eq(parsed("1000000"), 1000000000000LL);
}

static void
amount_parses_each_number_of_decimals_exactly(void)
{
    expect_int_eq(parsed("12.5"), 12500000);
    expect_int_eq(parsed("0.1"), 100000);
    expect_int_eq(parsed("0.01"), 10000);
    expect_int_eq(parsed("0.001"), 1000);
    expect_int_eq(parsed("0.0001"), 100);
    expect_int_eq(parsed("0.00001"), 10);
    expect_int_eq(parsed("0.000001"), 1);
    expect_int_eq(parsed("1.000000"), 1000000);
    expect_int_eq(parsed("3.141592"), 3141592);
}

static void
amount_takes_values_a_double_would_round(void)
{
    /* 0.1 + 0.2 style traps, and more digits than a double holds. */
    expect_int_eq(parsed("0.3"), 300000);
    expect_int_eq(parsed("9007199254.740993"), 9007199254740993LL);
    expect_int_eq(parsed("1234567890.123457"), 1234567890123457LL);
}

static void
amount_accepts_leading_zeros_without_overflow(void)
{
    expect_int_eq(parsed("007.5"), 7500000);
    expect_int_eq(parsed("000000000000000000000000000000001"), 1000000);
    expect_int_eq(parsed("0.000000"), 0);
}

static void
amount_reaches_int64_max_and_no_further(void)
{
    expect_int_eq(parsed("9223372036854.775807"), INT64_MAX);
    expect_true(refusal("9223372036854.775808") == fg_amount_err_overflow);
    expect_true(refusal("9223372036855") == fg_amount_err_overflow);
    expect_true(refusal("9223372036854.78") == fg_amount_err_overflow);
    expect_true(refusal("99999999999999999999999999") ==
                fg_amount_err_overflow);
    expect_int_eq(parsed("9223372036854"), 9223372036854000000LL);
}

static void
amount_refuses_a_seventh_decimal_even_a_zero(void)
{
    expect_true(refusal("1.1234567") == fg_amount_err_decimals);
    expect_true(refusal("1.0000000") == fg_amount_err_decimals);
    expect_true(refusal("0.0000001") == fg_amount_err_decimals);
}

static void
amount_refuses_signs_blanks_and_other_syntax(void)
{
    static const char *const bad[] = {
        "-1", "+1", "-0", ".5", "5.", ".", " 1", "1 ", "1\n", "1e6",
        "1E6", "1,5", "0x10", "1.2.3", "1..2", "12a", "a12", "inf", "nan",
        "\xef\xbc\x91",     /* FULLWIDTH DIGIT ONE */
        "1.-5", "1.+5", "--1",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (refusal(bad[i]) != fg_amount_err_syntax) {
            FG_TEST_FAIL("\"%s\" was not refused as syntax", bad[i]);
        }
    }
}

static void
amount_refuses_empty_and_null(void)
{
    expect_true(refusal("") == fg_amount_err_empty);
    expect_true(refusal(NULL) == fg_amount_err_empty);
}

static void
amount_formats_six_decimals(void)
{
    char buf[FG_AMOUNT_TEXT_SIZE];

    expect_str_eq(fg_amount_format(0, buf, sizeof(buf)), "0.000000");
    expect_str_eq(fg_amount_format(1, buf, sizeof(buf)), "0.000001");
    expect_str_eq(fg_amount_format(12500000, buf, sizeof(buf)),
                  "12.500000");
    expect_str_eq(fg_amount_format(5000000, buf, sizeof(buf)), "5.000000");
    expect_str_eq(fg_amount_format(-1, buf, sizeof(buf)), "-0.000001");
    expect_str_eq(fg_amount_format(-12500000, buf, sizeof(buf)),
                  "-12.500000");
}

static void
amount_formats_the_int64_extremes(void)
{
    char buf[FG_AMOUNT_TEXT_SIZE];

    expect_str_eq(fg_amount_format(INT64_MAX, buf, sizeof(buf)),
                  "9223372036854.775807");
    expect_str_eq(fg_amount_format(INT64_MIN, buf, sizeof(buf)),
                  "-9223372036854.775808");
}

static void
amount_format_truncates_to_the_buffer(void)
{
    char buf[5];

    memset(buf, 'x', sizeof(buf));
    expect_str_eq(fg_amount_format(12500000, buf, sizeof(buf)), "12.5");
    expect_str_eq(fg_amount_format(12500000, buf, 1), "");
}

static void
amount_round_trips_through_text(void)
{
    static const int64_t values[] = {
        0, 1, 9, 10, 999999, 1000000, 1000001, 12500000, 123456789012LL,
        INT64_MAX
    };
    char    buf[FG_AMOUNT_TEXT_SIZE];
    size_t  i;

    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        expect_int_eq(parsed(fg_amount_format(values[i], buf, sizeof(buf))),
                      values[i]);
    }
}

FG_TEST_MAIN("amount",
    FG_TEST_CASE(amount_parses_whole_credits),
    FG_TEST_CASE(amount_parses_each_number_of_decimals_exactly),
    FG_TEST_CASE(amount_takes_values_a_double_would_round),
    FG_TEST_CASE(amount_accepts_leading_zeros_without_overflow),
    FG_TEST_CASE(amount_reaches_int64_max_and_no_further),
    FG_TEST_CASE(amount_refuses_a_seventh_decimal_even_a_zero),
    FG_TEST_CASE(amount_refuses_signs_blanks_and_other_syntax),
    FG_TEST_CASE(amount_refuses_empty_and_null),
    FG_TEST_CASE(amount_formats_six_decimals),
    FG_TEST_CASE(amount_formats_the_int64_extremes),
    FG_TEST_CASE(amount_format_truncates_to_the_buffer),
    FG_TEST_CASE(amount_round_trips_through_text))
