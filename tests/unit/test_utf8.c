/*
 * test_utf8.c: fg_utf8_len (common/utf8) takes exactly the well-formed
 * sequences of RFC 3629, at the edges of each range.
 */

#include "common/wire/utf8.h"

#include "tests/unit/fg_test.h"

/* fg_utf8_len of the bytes of @s (all @n of them readable). */
static size_t
len_of(const char *s, size_t n)
{
    return fg_utf8_len((const unsigned char *) s, n);
}

static void
ascii_is_one_byte(void)
{
    expect_int_eq(len_of("A", 1), 1);
    expect_int_eq(len_of("\x7f", 1), 1);
}

static void
each_length_is_taken_at_its_first_and_last_value(void)
{
    expect_int_eq(len_of("\xc2\x80", 2), 2);           /* U+0080 */
    expect_int_eq(len_of("\xdf\xbf", 2), 2);           /* U+07FF */
    expect_int_eq(len_of("\xe0\xa0\x80", 3), 3);       /* U+0800 */
    expect_int_eq(len_of("\xef\xbf\xbf", 3), 3);       /* U+FFFF */
    expect_int_eq(len_of("\xf0\x90\x80\x80", 4), 4);   /* U+10000 */
    expect_int_eq(len_of("\xf4\x8f\xbf\xbf", 4), 4);   /* U+10FFFF */
}

static void
overlong_forms_are_refused(void)
{
    expect_int_eq(len_of("\xc0\x80", 2), 0);
    expect_int_eq(len_of("\xc1\xbf", 2), 0);
    expect_int_eq(len_of("\xe0\x9f\xbf", 3), 0);
    expect_int_eq(len_of("\xf0\x8f\xbf\xbf", 4), 0);
}

static void
surrogates_and_values_above_u10ffff_are_refused(void)
{
    expect_int_eq(len_of("\xed\xa0\x80", 3), 0);       /* U+D800 */
    expect_int_eq(len_of("\xed\xbf\xbf", 3), 0);       /* U+DFFF */
    expect_int_eq(len_of("\xed\x9f\xbf", 3), 3);       /* U+D7FF */
    expect_int_eq(len_of("\xf4\x90\x80\x80", 4), 0);   /* U+110000 */
    expect_int_eq(len_of("\xf5\x80\x80\x80", 4), 0);
    expect_int_eq(len_of("\xff", 1), 0);
}

static void
stray_and_missing_continuation_bytes_are_refused(void)
{
    expect_int_eq(len_of("\x80", 1), 0);
    expect_int_eq(len_of("\xe2\x82", 2), 0);           /* cut short */
    expect_int_eq(len_of("\xe2\x82\x41", 3), 0);       /* not a continuation */
    expect_int_eq(len_of("\xf0\x9f\x98", 3), 0);
    expect_int_eq(len_of("\xe2\x82\xac", 3), 3);       /* the euro sign, whole */
}

static void
count_is_code_points_not_bytes(void)
{
    expect_int_eq(fg_utf8_count((const unsigned char *) "", 0), 0);
    expect_int_eq(fg_utf8_count((const unsigned char *) "abc", 3), 3);
    expect_int_eq(fg_utf8_count((const unsigned char *) "\xc3\xa9t\xe2\x82\xac"
                                "\xf0\x9f\x98\x80", 10), 4);
}

FG_TEST_MAIN("utf8",
             FG_TEST_CASE(count_is_code_points_not_bytes),
             FG_TEST_CASE(ascii_is_one_byte),
             FG_TEST_CASE(each_length_is_taken_at_its_first_and_last_value),
             FG_TEST_CASE(overlong_forms_are_refused),
             FG_TEST_CASE(surrogates_and_values_above_u10ffff_are_refused),
             FG_TEST_CASE(stray_and_missing_continuation_bytes_are_refused))
