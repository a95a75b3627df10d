/*
 * test_uri.c: percent-decoding and query strings (common/wire/uri), as
 * the admin API's query parameters and the public /v1/models/{id} use
 * them.
 */

#include "common/wire/uri.h"

#include <string.h>

#include "tests/unit/fg_test.h"

static void
decode_turns_escapes_into_bytes(void)
{
    char out[64];

    expect_int_eq(fg_uri_decode("a%2Fb%3a", 8, out, sizeof(out), 0), 4);
    expect_str_eq(out, "a/b:");
}

static void
decode_keeps_plus_outside_a_query(void)
{
    char out[64];

    expect_int_eq(fg_uri_decode("a+b", 3, out, sizeof(out), 0), 3);
    expect_str_eq(out, "a+b");
    expect_int_eq(fg_uri_decode("a+b", 3, out, sizeof(out), 1), 3);
    expect_str_eq(out, "a b");
}

static void
decode_refuses_a_short_or_bad_escape(void)
{
    char out[64];

    expect_int_eq(fg_uri_decode("ab%4", 4, out, sizeof(out), 0), -1);
    expect_int_eq(fg_uri_decode("ab%", 3, out, sizeof(out), 0), -1);
    expect_int_eq(fg_uri_decode("%zz", 3, out, sizeof(out), 0), -1);
}

static void
decode_refuses_a_nul_byte(void)
{
    char out[64];

    expect_int_eq(fg_uri_decode("a%00b", 5, out, sizeof(out), 0), -1);
}

static void
decode_refuses_what_does_not_fit(void)
{
    char out[4];

    expect_int_eq(fg_uri_decode("abc", 3, out, sizeof(out), 0), 3);
    expect_int_eq(fg_uri_decode("abcd", 4, out, sizeof(out), 0), -1);
}

static void
query_walk_yields_each_pair_decoded(void)
{
    const char     q[] = "owner=a%20b&&limit=5&flag&status=";
    fg_uri_query_t walk;
    char           name[16], value[16];

    fg_uri_query_init(&walk, q, strlen(q));
    expect_int_eq(fg_uri_query_next(&walk, name, 16, value, 16), 1);
    expect_str_eq(name, "owner");
    expect_str_eq(value, "a b");
    expect_int_eq(fg_uri_query_next(&walk, name, 16, value, 16), 1);
    expect_str_eq(name, "limit");
    expect_str_eq(value, "5");
    expect_int_eq(fg_uri_query_next(&walk, name, 16, value, 16), 1);
    expect_str_eq(name, "flag");
    expect_str_eq(value, "");
    expect_int_eq(fg_uri_query_next(&walk, name, 16, value, 16), 1);
    expect_str_eq(name, "status");
    expect_str_eq(value, "");
    expect_int_eq(fg_uri_query_next(&walk, name, 16, value, 16), 0);
}

static void
query_walk_stops_at_a_malformed_pair(void)
{
    const char     q[] = "a=%zz&b=1";
    fg_uri_query_t walk;
    char           name[16], value[16];

    fg_uri_query_init(&walk, q, strlen(q));
    expect_int_eq(fg_uri_query_next(&walk, name, 16, value, 16), -1);
}

static void
query_walk_of_no_query_ends_at_once(void)
{
    fg_uri_query_t walk;
    char           name[16], value[16];

    fg_uri_query_init(&walk, NULL, 0);
    expect_int_eq(fg_uri_query_next(&walk, name, 16, value, 16), 0);
}

FG_TEST_MAIN("uri",
             FG_TEST_CASE(decode_turns_escapes_into_bytes),
             FG_TEST_CASE(decode_keeps_plus_outside_a_query),
             FG_TEST_CASE(decode_refuses_a_short_or_bad_escape),
             FG_TEST_CASE(decode_refuses_a_nul_byte),
             FG_TEST_CASE(decode_refuses_what_does_not_fit),
             FG_TEST_CASE(query_walk_yields_each_pair_decoded),
             FG_TEST_CASE(query_walk_stops_at_a_malformed_pair),
             FG_TEST_CASE(query_walk_of_no_query_ends_at_once))
