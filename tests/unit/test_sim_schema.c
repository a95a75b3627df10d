/*
 * test_sim_schema.c: the instances fg-sim builds from a JSON schema
 * (tests/sim/schema.c) satisfy its keywords, and the strings it writes
 * for a pattern match that pattern as PCRE2 reads it (with
 * PCRE2_ALT_BSUX, ECMAScript's \u and \x); outside the
 * documented subset it declines rather than guess.
 */

#include "tests/sim/schema.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <string.h>

#include "tests/unit/fg_test.h"

static json_t *
fill(const char *schema_text)
{
    json_t *schema = json_loads(schema_text, 0, NULL);
    json_t *v;

    expect_true(schema != NULL);
    v = fg_sim_schema_fill(schema);
    json_decref(schema);
    return v;
}

static int
matches(const char *pattern, const char *s)
{
    pcre2_code *re;
    pcre2_match_data *md;
    int errcode, rc;
    PCRE2_SIZE off;

    re = pcre2_compile((PCRE2_SPTR) pattern, PCRE2_ZERO_TERMINATED,
                       PCRE2_UTF | PCRE2_ALT_BSUX, &errcode, &off, NULL);
    if (re == NULL) {
        return 0;
    }
    md = pcre2_match_data_create_from_pattern(re, NULL);
    rc = pcre2_match(re, (PCRE2_SPTR) s, strlen(s), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return rc >= 0;
}

static void
patterns_in_the_subset_give_a_matching_string(void)
{
    static const char *const patterns[] = {
        "^[A-Z]{3}-\\d{4}$", "^\\+?[0-9]{7,15}$", "abc", "^(foo|bar)+$",
        "^[^0-9a-z]+$", "^(?:ab|cd){2,3}x?$", "^[\\w.-]+@[a-z]+\\.com$",
        "^\\u00e9t\\x41$", "^.{5}$", "^(?<year>\\d{4})-(?<m>\\d\\d)$",
        "^[a-f0-9]*$", "^\\$\\d+(\\.\\d{2})?$", "^é+$"
    };
    char out[256];
    size_t i;
    long len;

    for (i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        len = fg_sim_schema_pattern(patterns[i], 0, out, sizeof(out));
        expect_true(len >= 0);
        if (len >= 0 && !matches(patterns[i], out)) {
            FG_TEST_FAIL("\"%s\" does not match %s", out, patterns[i]);
        }
    }
}

static void
patterns_outside_the_subset_are_declined(void)
{
    static const char *const patterns[] = {
        "^(?=a)\\w+$", "(a)\\1", "\\bword\\b", "a(?!b)", "[]", "(ab", "a{2"
    };
    char out[64];
    size_t i;

    for (i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        if (fg_sim_schema_pattern(patterns[i], 0, out, sizeof(out)) >= 0) {
            FG_TEST_FAIL("accepted %s as \"%s\"", patterns[i], out);
        }
    }
}

static void
extra_repeats_open_quantifiers(void)
{
    char out[64];

    expect_int_eq(fg_sim_schema_pattern("^a+b*c?$", 0, out, sizeof(out)), 1);
    expect_int_eq(fg_sim_schema_pattern("^a+b*c?$", 2, out, sizeof(out)), 6);
    expect_str_eq(out, "aaabbc");
}

static void
a_string_too_long_for_the_buffer_is_declined(void)
{
    char out[8];

    expect_int_eq(fg_sim_schema_pattern("^a{100}$", 0, out, sizeof(out)), -1);
}

static void
required_members_only_when_required_is_given(void)
{
    json_t *v = fill("{\"type\":\"object\",\"properties\":{\"a\":{},"
                     "\"b\":{\"type\":\"integer\"}},\"required\":[\"b\","
                     "\"c\"]}");

    expect_int_eq(json_object_size(v), 2);
    expect_int_eq(json_integer_value(json_object_get(v, "b")), 1);
    expect_str_eq(json_string_value(json_object_get(v, "c")), "test");
    json_decref(v);
}

static void
a_self_reference_ends_at_the_depth_bound(void)
{
    json_t *v = fill("{\"type\":\"object\",\"properties\":{\"n\":"
                     "{\"$ref\":\"#\"}},\"required\":[\"n\"]}");
    json_t *at = v;
    int depth = 0;

    while (json_object_get(at, "n") != NULL) {
        at = json_object_get(at, "n");
        depth++;
    }
    expect_true(depth > 1 && depth <= FG_SIM_SCHEMA_MAX_DEPTH);
    json_decref(v);
}

static void
a_wide_recursive_schema_stays_within_the_node_bound(void)
{
    json_t *v = fill("{\"type\":\"object\",\"properties\":{"
                     "\"a\":{\"$ref\":\"#\"},\"b\":{\"$ref\":\"#\"},"
                     "\"c\":{\"$ref\":\"#\"},\"d\":{\"$ref\":\"#\"}}}");
    char *text = json_dumps(v, JSON_COMPACT);

    expect_true(strlen(text) < 64 * FG_SIM_SCHEMA_MAX_NODES);
    free(text);
    json_decref(v);
}

static void
numbers_move_into_their_bounds(void)
{
    json_t *v = fill("{\"type\":\"object\",\"properties\":{"
                     "\"i\":{\"type\":\"integer\",\"exclusiveMinimum\":1},"
                     "\"j\":{\"type\":\"integer\",\"maximum\":-3},"
                     "\"k\":{\"type\":\"integer\",\"minimum\":5,"
                     "\"exclusiveMaximum\":true,\"maximum\":7},"
                     "\"x\":{\"type\":\"number\",\"exclusiveMinimum\":1,"
                     "\"exclusiveMaximum\":2},"
                     "\"m\":{\"type\":\"integer\",\"minimum\":3,"
                     "\"multipleOf\":5}}}");

    expect_int_eq(json_integer_value(json_object_get(v, "i")), 2);
    expect_int_eq(json_integer_value(json_object_get(v, "j")), -3);
    expect_int_eq(json_integer_value(json_object_get(v, "k")), 5);
    expect_true(json_real_value(json_object_get(v, "x")) == 1.5);
    expect_int_eq(json_integer_value(json_object_get(v, "m")), 5);
    json_decref(v);
}

static void
all_of_merges_objects(void)
{
    json_t *v = fill("{\"allOf\":[{\"type\":\"object\",\"properties\":"
                     "{\"a\":{\"const\":1}}},{\"properties\":{\"b\":"
                     "{\"type\":\"boolean\"}}}]}");

    expect_int_eq(json_integer_value(json_object_get(v, "a")), 1);
    expect_true(json_is_true(json_object_get(v, "b")));
    json_decref(v);
}

FG_TEST_MAIN("sim_schema",
    FG_TEST_CASE(patterns_in_the_subset_give_a_matching_string),
    FG_TEST_CASE(patterns_outside_the_subset_are_declined),
    FG_TEST_CASE(extra_repeats_open_quantifiers),
    FG_TEST_CASE(a_string_too_long_for_the_buffer_is_declined),
    FG_TEST_CASE(required_members_only_when_required_is_given),
    FG_TEST_CASE(a_self_reference_ends_at_the_depth_bound),
    FG_TEST_CASE(a_wide_recursive_schema_stays_within_the_node_bound),
    FG_TEST_CASE(numbers_move_into_their_bounds),
    FG_TEST_CASE(all_of_merges_objects))
