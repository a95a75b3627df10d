/*
 * test_jsonrepair.c: syntax repair of model output (common/wire/jsonrepair).
 * A corpus of malformed replies as models write them, one repair class per
 * test; valid JSON that must pass untouched; near-misses that must be left
 * alone; then properties over seeded random input and every cut of a
 * document, and pathological 1 MiB inputs (run, never timed).
 */

#include "common/wire/jsonrepair.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire/jdoc.h"
#include "tests/unit/fg_test.h"

#define DEPTH 64

typedef struct {
    fg_jsonrepair_result_t rc;
    char                  *out;
    size_t                 len;
    unsigned               what;
    int                    bound_ok;   /* out_len within the promise */
    int                    out_ok;     /* NUL-terminated, jdoc parses it */
} jr_t;

static jr_t
jr_run_len(const char *in, size_t len, size_t depth)
{
    jr_t      r;
    fg_jdoc_t doc;

    memset(&r, 0, sizeof(r));
    r.what = 0xdead;
    r.rc = fg_json_repair(in, len, depth, &r.out, &r.len, &r.what);
    r.bound_ok = r.len <= 2 * len + depth + 16;
    r.out_ok = r.out == NULL;
    if (r.out != NULL && r.out[r.len] == '\0'
        && fg_jdoc_parse(&doc, r.out, r.len, depth, NULL) == FG_OK)
    {
        fg_jdoc_free(&doc);
        r.out_ok = 1;
    }
    return r;
}

static jr_t
jr_run(const char *in)
{
    return jr_run_len(in, strlen(in), DEPTH);
}

/* @in repairs to exactly @want with exactly the @bits. */
#define expect_repaired(in, want, bits)                                     \
    do {                                                                    \
        jr_t r_ = jr_run(in);                                               \
        expect_int_eq(r_.rc, FG_JSONREPAIR_REPAIRED);                       \
        expect_str_eq(r_.out, want);                                        \
        expect_int_eq(r_.len, strlen(want));                                \
        expect_int_eq(r_.what, bits);                                       \
        expect_true(r_.bound_ok && r_.out_ok);                              \
        free(r_.out);                                                       \
    } while (0)

/* @in is valid already: nothing allocated, the caller passes it on. */
#define expect_valid(in)                                                    \
    do {                                                                    \
        jr_t r_ = jr_run(in);                                               \
        expect_int_eq(r_.rc, FG_JSONREPAIR_VALID);                          \
        expect_true(r_.out == NULL && r_.len == 0 && r_.what == 0);         \
    } while (0)

/* @in is left alone. */
#define expect_failed(in)                                                   \
    do {                                                                    \
        jr_t r_ = jr_run(in);                                               \
        expect_int_eq(r_.rc, FG_JSONREPAIR_FAILED);                         \
        expect_true(r_.out == NULL && r_.len == 0 && r_.what == 0);         \
    } while (0)

#define FENCE   FG_JSONREPAIR_FENCE
#define PROSE   FG_JSONREPAIR_PROSE
#define CLOSED  FG_JSONREPAIR_CLOSED
#define TCOMMA  FG_JSONREPAIR_TRAILING_COMMA
#define SQUOTE  FG_JSONREPAIR_SINGLE_QUOTES
#define UKEYS   FG_JSONREPAIR_UNQUOTED_KEYS
#define COMMENT FG_JSONREPAIR_COMMENTS
#define CTRL    FG_JSONREPAIR_CONTROL_CHARS

/* ---- fences --------------------------------------------------------------- */

static void
repair_strips_a_json_fence(void)
{
    expect_repaired("```json\n{\"city\": \"Paris\", \"temp_c\": 21}\n```",
                    "{\"city\": \"Paris\", \"temp_c\": 21}", FENCE);
    expect_repaired("```JSON\n[1, 2, 3]\n```\n", "[1, 2, 3]", FENCE);
    expect_repaired("```javascript\n{\"a\": null}\n```", "{\"a\": null}",
                    FENCE);
}

static void
repair_strips_a_bare_fence(void)
{
    expect_repaired("```\n{\"ok\": true}\n```", "{\"ok\": true}", FENCE);
    expect_repaired("````\n{}\n````", "{}", FENCE);
}

static void
repair_strips_a_fence_left_open(void)
{
    expect_repaired("```json\n{\"ok\": true}\n", "{\"ok\": true}", FENCE);
}

static void
repair_strips_a_fence_with_prose_around_it(void)
{
    expect_repaired("Here is the JSON:\n```json\n{\n  \"name\": \"Ada\",\n"
                    "  \"born\": 1815\n}\n```\nLet me know if you need "
                    "anything else!",
                    "{\n  \"name\": \"Ada\",\n  \"born\": 1815\n}",
                    FENCE | PROSE);
    expect_repaired("Sure! ```json {\"a\": [true]} ``` Done.",
                    "{\"a\": [true]}", FENCE | PROSE);
}

static void
repair_ends_a_value_at_its_closing_fence(void)
{
    expect_repaired("```json\n{\"a\": {\"b\": \"c\"}\n```",
                    "{\"a\": {\"b\": \"c\"}\n}", FENCE | CLOSED);
    expect_repaired("```json\n{\"n\": 12\n```", "{\"n\": 12\n}",
                    FENCE | CLOSED);
}

/* ---- prose ---------------------------------------------------------------- */

static void
repair_drops_prose_before_the_value(void)
{
    expect_repaired("Sure! Here is the JSON you asked for: {\"name\": \"Ada\"}",
                    "{\"name\": \"Ada\"}", PROSE);
    expect_repaired("Result:\n[{\"id\": 1}, {\"id\": 2}]",
                    "[{\"id\": 1}, {\"id\": 2}]", PROSE);
}

static void
repair_drops_prose_after_the_value(void)
{
    expect_repaired("{\"ok\": true}\n\nThis object says the call succeeded.",
                    "{\"ok\": true}", PROSE);
    expect_repaired("[\"a\", \"b\"] -- the two labels, in order.",
                    "[\"a\", \"b\"]", PROSE);
}

static void
repair_treats_braces_that_are_not_json_as_prose(void)
{
    expect_repaired("I filled in {name} [citation needed] and {{slot}}: "
                    "{\"name\": \"Ada\"} (see [docs]).",
                    "{\"name\": \"Ada\"}", PROSE);
    expect_repaired("Here's {Bob's} reply: {\"a\": 1}", "{\"a\": 1}",
                    PROSE);
}

static void
repair_fails_on_two_values_in_prose(void)
{
    expect_failed("First: {\"a\": 1} and then: {\"b\": 2}");
    expect_failed("{\"a\": 1}\n{\"b\": 2}");
    expect_failed("```json\n{\"a\": 1}\n```\nor\n```json\n{\"a\": 2}\n```");
    expect_failed("Note [1]: {\"a\": 1}");
    expect_failed("{\"a\": 1} and a cut second one {\"b\": \"x");
}

static void
repair_fails_on_prose_without_a_value(void)
{
    expect_failed("I'm sorry, I can't help with that.");
    expect_failed("Use {name} and [citation needed] as placeholders.");
    expect_failed("The answer is 42.");
    expect_failed("\"just a string\" and more");
    expect_failed("```json\n```");
}

static void
repair_fails_on_a_value_that_is_a_piece_of_a_larger_one(void)
{
    /* Opening brace lost: the one object is a member's value. */
    expect_failed("\"a\": 1, \"b\": {\"c\": 2}");
    expect_failed("1, {\"c\": 2}");
    /* Closed too early: JSON goes on after it. */
    expect_failed("{\"a\": {\"b\": 1}}, \"c\": 2}");
    expect_failed("{\"a\": 1}}");
    expect_failed("{{\"a\": 1}}");
    expect_failed("an open brace {\n{\"a\": 1}");
    expect_failed("[{\"a\": 1}]]");
}

static void
repair_fails_on_a_broken_value_before_another(void)
{
    /* The first is JSON the rules cannot fix, not prose to skip. */
    expect_failed("{\"a\": NaN} {\"b\": 2}");
    expect_failed("{\"a\": 1 \"b\": 2}\nor {\"b\": 2}");
}

/* ---- closing a value cut short ------------------------------------------- */

static void
repair_closes_a_string_and_object_cut_short(void)
{
    expect_repaired("{\"name\": \"Ada Love", "{\"name\": \"Ada Love\"}",
                    CLOSED);
    expect_repaired("{\"location\": \"Paris\", \"unit\": \"celsius\"",
                    "{\"location\": \"Paris\", \"unit\": \"celsius\"}",
                    CLOSED);
    expect_repaired("[\"a\", \"b", "[\"a\", \"b\"]", CLOSED);
}

static void
repair_closes_nested_levels_innermost_first(void)
{
    expect_repaired("{\"a\": [1, {\"b\": [true, false",
                    "{\"a\": [1, {\"b\": [true, false]}]}", CLOSED);
    expect_repaired("{\"a\": {\"b\": {\"c\": null",
                    "{\"a\": {\"b\": {\"c\": null}}}", CLOSED);
}

static void
repair_removes_a_member_whose_value_never_came(void)
{
    expect_repaired("{\"a\": 1, \"b\":", "{\"a\": 1}", CLOSED);
    expect_repaired("{\"a\": 1, \"b\": ", "{\"a\": 1}", CLOSED);
    expect_repaired("{\"a\": 1, \"b\"", "{\"a\": 1}", CLOSED);
    expect_repaired("{\"a\": 1, \"bo", "{\"a\": 1}", CLOSED);
    expect_repaired("{\"a\": 1, bo", "{\"a\": 1}", CLOSED);
    expect_repaired("{\"a\": 1, bo:", "{\"a\": 1}", CLOSED);
    expect_repaired("{\"a\": {\"b\":", "{\"a\": {}}", CLOSED);
    expect_repaired("{\"", "{}", CLOSED);
}

static void
repair_drops_a_comma_at_the_cut(void)
{
    expect_repaired("[1, 2,", "[1, 2]", CLOSED);
    expect_repaired("[\"x\",\n  ", "[\"x\"]", CLOSED);
    expect_repaired("{\"a\": 1,", "{\"a\": 1}", CLOSED);
}

static void
repair_closes_containers_opened_at_the_cut(void)
{
    expect_repaired("{\"a\": [", "{\"a\": []}", CLOSED);
    expect_repaired("{\"a\": {", "{\"a\": {}}", CLOSED);
    expect_repaired("[\"x\", [", "[\"x\", []]", CLOSED);
}

static void
repair_drops_an_escape_cut_in_half(void)
{
    expect_repaired("{\"a\": \"x\\", "{\"a\": \"x\"}", CLOSED);
    expect_repaired("{\"a\": \"x\\u00", "{\"a\": \"x\"}", CLOSED);
}

static void
repair_keeps_a_number_that_a_byte_ended(void)
{
    expect_repaired("{\"n\": 12 ", "{\"n\": 12 }", CLOSED);
    expect_repaired("[1, 2.5e3\n", "[1, 2.5e3\n]", CLOSED);
}

static void
repair_closes_inside_an_open_block_comment(void)
{
    expect_repaired("{\"a\": 1 /* the rest is", "{\"a\": 1 }",
                    CLOSED | COMMENT);
}

static void
repair_fails_on_a_literal_cut_short(void)
{
    expect_failed("{\"a\": tru");
    expect_failed("{\"a\": nul");
    expect_failed("{\"a\": 1, \"b\": f");
}

static void
repair_fails_on_a_number_cut_mid_way(void)
{
    expect_failed("{\"a\": 1.");
    expect_failed("{\"a\": 1e");
    expect_failed("{\"a\": 1e+");
    expect_failed("{\"a\": -");
}

static void
repair_fails_on_a_number_at_the_cut(void)
{
    /* 12 may be the first digits of 1234. */
    expect_failed("{\"a\": 12");
    expect_failed("[\"x\", 1, 2, 3");
}

static void
repair_fails_on_an_open_bracket_that_committed_to_nothing(void)
{
    expect_failed("{");
    expect_failed("Here: [");
    expect_failed("{ \n");
    expect_failed("[1");
}

/* ---- trailing commas ------------------------------------------------------ */

static void
repair_drops_a_trailing_comma_in_an_object(void)
{
    expect_repaired("{\"a\": 1, \"b\": 2,}", "{\"a\": 1, \"b\": 2}", TCOMMA);
    expect_repaired("{\n  \"a\": 1,\n}", "{\n  \"a\": 1\n}", TCOMMA);
}

static void
repair_drops_a_trailing_comma_in_an_array(void)
{
    expect_repaired("[1, 2, 3,]", "[1, 2, 3]", TCOMMA);
    expect_repaired("[\n  \"x\",\n  \"y\",\n]", "[\n  \"x\",\n  \"y\"\n]",
                    TCOMMA);
}

static void
repair_drops_trailing_commas_at_every_level(void)
{
    expect_repaired("{\"a\": [1,], \"b\": {\"c\": [],},}",
                    "{\"a\": [1], \"b\": {\"c\": []}}", TCOMMA);
}

static void
repair_fails_on_commas_that_are_not_trailing(void)
{
    expect_failed("[1,,2]");
    expect_failed("[,1]");
    expect_failed("{,}");
    expect_failed("{\"a\": 1,,}");
}

/* ---- single quotes -------------------------------------------------------- */

static void
repair_turns_single_quotes_into_double_quotes(void)
{
    expect_repaired("{'name': 'Ada', 'tags': ['math', 'poetry']}",
                    "{\"name\": \"Ada\", \"tags\": [\"math\", \"poetry\"]}",
                    SQUOTE);
    expect_repaired("{'a': \"b\", \"c\": 'd'}", "{\"a\": \"b\", \"c\": \"d\"}",
                    SQUOTE);
}

static void
repair_escapes_double_quotes_inside_single_quotes(void)
{
    expect_repaired("{'quote': 'She said \"hi\"'}",
                    "{\"quote\": \"She said \\\"hi\\\"\"}", SQUOTE);
    expect_repaired("['\\\"already\\\"']", "[\"\\\"already\\\"\"]", SQUOTE);
}

static void
repair_unescapes_an_escaped_apostrophe(void)
{
    expect_repaired("{'text': 'it\\'s'}", "{\"text\": \"it's\"}", SQUOTE);
    expect_repaired("{\"text\": \"it\\'s\"}", "{\"text\": \"it's\"}", SQUOTE);
}

static void
repair_fails_on_an_apostrophe_that_ends_the_string(void)
{
    expect_failed("{'text': 'it's'}");
}

/* ---- unquoted keys -------------------------------------------------------- */

static void
repair_quotes_identifier_keys(void)
{
    expect_repaired("{name: \"Ada\", age_years: 36, $id: \"x1\", _p: null}",
                    "{\"name\": \"Ada\", \"age_years\": 36, \"$id\": \"x1\", "
                    "\"_p\": null}", UKEYS);
    expect_repaired("{user: {firstName: \"Ada\", n2: [1]}}",
                    "{\"user\": {\"firstName\": \"Ada\", \"n2\": [1]}}",
                    UKEYS);
    expect_repaired("{true: 1, null: 2}", "{\"true\": 1, \"null\": 2}", UKEYS);
}

static void
repair_fails_on_keys_that_are_not_identifiers(void)
{
    expect_failed("{first-name: 1}");
    expect_failed("{1st: 2}");
    expect_failed("{\"a b\": 1, c d: 2}");
}

static void
repair_fails_on_a_bare_word_value(void)
{
    expect_failed("{\"a\": value}");
    expect_failed("{a: b}");
}

/* ---- comments ------------------------------------------------------------- */

static void
repair_drops_line_comments(void)
{
    expect_repaired("{\n  // the user's name\n  \"name\": \"Ada\"\n}",
                    "{\n  \n  \"name\": \"Ada\"\n}", COMMENT);
    expect_repaired("[1, 2 // last one\r\n]", "[1, 2 \r\n]", COMMENT);
}

static void
repair_drops_block_comments(void)
{
    expect_repaired("{\"a\": /* one */ 1}", "{\"a\":  1}", COMMENT);
    expect_repaired("[/**/1/* a\n b */,2]", "[1,2]", COMMENT);
}

static void
repair_keeps_comment_marks_inside_strings(void)
{
    expect_repaired("{'url': 'http://example.com/*x*/'}",
                    "{\"url\": \"http://example.com/*x*/\"}", SQUOTE);
}

static void
repair_fails_on_a_slash_that_starts_no_comment(void)
{
    expect_failed("{\"a\": 1 / 2}");
    expect_failed("{\"a\": 1 /");
}

static void
repair_fails_on_a_comment_that_joins_numbers(void)
{
    expect_failed("[1/**/2]");
}

/* ---- raw control characters ----------------------------------------------- */

static void
repair_escapes_raw_newlines_and_tabs_in_strings(void)
{
    expect_repaired("{\"poem\": \"roses\nviolets\"}",
                    "{\"poem\": \"roses\\nviolets\"}", CTRL);
    expect_repaired("{\"a\": \"x\ty\r\n\"}", "{\"a\": \"x\\ty\\r\\n\"}",
                    CTRL);
}

static void
repair_fails_on_other_raw_control_characters(void)
{
    expect_failed("{\"a\": \"x\x01y\"}");
    expect_failed("{\"a\": \"x\x1b[0m\"}");
}

/* ---- combinations --------------------------------------------------------- */

static void
repair_combines_fence_trailing_comma_and_cut(void)
{
    expect_repaired("Sure:\n```json\n{\n  \"items\": [\"a\", \"b\",],\n"
                    "  \"next\": \"c",
                    "{\n  \"items\": [\"a\", \"b\"],\n  \"next\": \"c\"}",
                    FENCE | PROSE | TCOMMA | CLOSED);
}

static void
repair_combines_a_javascript_object_literal(void)
{
    expect_repaired("{name: 'Ada', tags: ['x', 'y',], /* done */}",
                    "{\"name\": \"Ada\", \"tags\": [\"x\", \"y\"] }",
                    SQUOTE | UKEYS | TCOMMA | COMMENT);
}

static void
repair_combines_comments_quotes_and_a_cut_in_a_fence(void)
{
    expect_repaired("```json\n{\n  // plan\n  steps: ['one', 'two'],\n"
                    "  note: 'multi\nline",
                    "{\n  \n  \"steps\": [\"one\", \"two\"],\n"
                    "  \"note\": \"multi\\nline\"}",
                    FENCE | COMMENT | UKEYS | SQUOTE | CTRL | CLOSED);
}

static void
repair_reports_no_bits_of_a_member_it_took_back(void)
{
    /* The cut key was unquoted; it is gone, so is its bit. */
    expect_repaired("{\"a\": \"b\", c", "{\"a\": \"b\"}", CLOSED);
}

/* ---- valid input passes untouched ----------------------------------------- */

static void
repair_passes_valid_objects_and_arrays(void)
{
    expect_valid("{\"a\": 1}");
    expect_valid("[]");
    expect_valid("{}");
    expect_valid("{\"a\": {\"b\": [1, {\"c\": [[], {}]}]}, \"d\": null}");
}

static void
repair_passes_valid_json_with_whitespace_around(void)
{
    expect_valid("  \n\t{\"a\": [1, 2]}\r\n  ");
}

static void
repair_passes_valid_scalars(void)
{
    expect_valid("\"text\"");
    expect_valid("42");
    expect_valid("true");
    expect_valid("null");
}

static void
repair_passes_valid_numbers_with_exponents(void)
{
    expect_valid("[0, -0, 1.5, -2.25e-3, 1E10, 6.02e+23, 9007199254740993]");
}

static void
repair_passes_valid_unicode(void)
{
    expect_valid("{\"s\": \"\\u00e9\\ud83d\\ude00\\n\\\"\\\\\\/\"}");
    expect_valid("{\"s\": \"caf\xc3\xa9 \xf0\x9f\x98\x80\"}");
}

static void
repair_passes_valid_strings_that_look_like_repairs(void)
{
    expect_valid("{\"s\": \"// not a comment /* nor this */ it's `code` "
                 "{braces} [brackets], ```json trailing,}\"}");
    expect_valid("[\"'single'\", \"a,]\", \"{x: 1}\"]");
}

static void
repair_passes_valid_json_at_the_depth_limit(void)
{
    char   buf[2 * DEPTH + 1];
    jr_t   r;

    memset(buf, '[', DEPTH);
    memset(buf + DEPTH, ']', DEPTH);
    r = jr_run_len(buf, 2 * DEPTH, DEPTH);
    expect_int_eq(r.rc, FG_JSONREPAIR_VALID);
}

/* ---- near-misses left alone ----------------------------------------------- */

static void
repair_fails_on_nan_and_infinity(void)
{
    expect_failed("{\"a\": NaN}");
    expect_failed("{\"a\": Infinity}");
    expect_failed("{\"a\": -Infinity}");
    expect_failed("[NaN]");
}

static void
repair_fails_on_python_literals(void)
{
    expect_failed("{'a': True, 'b': None}");
    expect_failed("{'ok': False}");
    expect_failed("{\"a\": undefined}");
}

static void
repair_fails_on_numbers_json_does_not_have(void)
{
    expect_failed("{\"a\": 0x1F,}");
    expect_failed("{\"a\": 01,}");
    expect_failed("{\"a\": +1,}");
    expect_failed("{\"a\": .5,}");
    expect_failed("{\"a\": 1.2.3,}");
}

static void
repair_fails_on_a_missing_comma_or_colon(void)
{
    expect_failed("{\"a\": 1 \"b\": 2}");
    expect_failed("{\"a\" 1}");
    expect_failed("[1 2]");
}

static void
repair_fails_on_mismatched_brackets(void)
{
    expect_failed("{\"a\": [1, 2}");
    expect_failed("[{\"a\": 1]]");
}

static void
repair_fails_beyond_the_depth_limit(void)
{
    char buf[2 * DEPTH + 8];
    jr_t r;

    /* Valid JSON one level too deep is neither valid nor repairable. */
    memset(buf, '[', DEPTH + 1);
    memset(buf + DEPTH + 1, ']', DEPTH + 1);
    r = jr_run_len(buf, 2 * DEPTH + 2, DEPTH);
    expect_int_eq(r.rc, FG_JSONREPAIR_FAILED);
    expect_true(r.out == NULL);
    /* One to repair at the limit, then one level more. */
    memset(buf, '[', DEPTH);
    memcpy(buf + DEPTH, "1,", 2);
    r = jr_run_len(buf, DEPTH + 2, DEPTH);
    expect_int_eq(r.rc, FG_JSONREPAIR_REPAIRED);
    free(r.out);
    memset(buf, '[', DEPTH + 1);
    memcpy(buf + DEPTH + 1, "1,", 2);
    r = jr_run_len(buf, DEPTH + 3, DEPTH);
    expect_int_eq(r.rc, FG_JSONREPAIR_FAILED);
    r = jr_run_len("{a: 1}", 6, 0);
    expect_int_eq(r.rc, FG_JSONREPAIR_FAILED);
}

static void
repair_fails_on_invalid_utf8(void)
{
    expect_failed("{'a': '\xff'}");
    expect_failed("{\"a\": \"\xc3\x28\",}");
    expect_failed("{\"a\": \"\xed\xa0\x80\",}");       /* a surrogate */
    expect_failed("{\"a\": \"caf\xc3");                /* cut mid-character */
    expect_failed("{\"a\": 1, \xc3\xa9: 2}");
}

static void
repair_fails_on_what_the_strict_parser_refuses(void)
{
    expect_failed("{a: 1, a: 2}");                     /* duplicate key */
    expect_failed("{\"a\": 1, \"a\": 2}");
    expect_failed("{'a': '\\u0000'}");
    expect_failed("{'a': 123456789012345678901234567890}");
}

static void
repair_fails_on_empty_input(void)
{
    jr_t r;

    expect_failed("");
    expect_failed(" \n\t ");
    r = jr_run_len(NULL, 0, DEPTH);
    expect_int_eq(r.rc, FG_JSONREPAIR_FAILED);
}

static void
repair_accepts_a_null_what(void)
{
    char  *out = (char *) 1;
    size_t len = 1;

    expect_int_eq(fg_json_repair("{a: 1}", 6, DEPTH, &out, &len, NULL),
                  FG_JSONREPAIR_REPAIRED);
    expect_str_eq(out, "{\"a\": 1}");
    free(out);
    expect_int_eq(fg_json_repair("{", 1, DEPTH, &out, &len, NULL),
                  FG_JSONREPAIR_FAILED);
    expect_true(out == NULL && len == 0);
}

/* ---- properties ----------------------------------------------------------- */

static uint64_t
next_random(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* Pieces of JSON, of its near-misses and of prose. */
static const char *const jr_pieces[] = {
    "{", "}", "[", "]", ",", ":", "\"", "'", "\\", " ", "\n", "\t", "\r",
    "a", "key", "1", "0", "-", ".", "e", "12.5e-3", "true", "tru", "null",
    "NaN", "None", "\"s\"", "'s'", "\"k\":", "//", "/*", "*/", "```",
    "```json\n", "\\u00e9", "\\u12", "\xc3\xa9", "\xff", "\x01", "Here: ",
    "{\"a\": 1}", "[1, 2]", ",}", ",]", "$_", "`",
};

static size_t
random_input(uint64_t *state, char *buf, size_t max)
{
    size_t n = 0, pieces = 1 + next_random(state) % 24, i, k;

    for (i = 0; i < pieces; i++) {
        const char *piece = jr_pieces[next_random(state)
                                      % (sizeof(jr_pieces)
                                         / sizeof(jr_pieces[0]))];
        k = strlen(piece);
        if (n + k > max) {
            break;
        }
        memcpy(buf + n, piece, k);
        n += k;
    }
    return n;
}

static void
repair_is_valid_exactly_when_the_strict_parser_accepts(void)
{
    uint64_t  state = 0x9e3779b97f4a7c15ull;
    char      buf[512];
    size_t    len, depth;
    int       i, bad_valid = 0, bad_out = 0, bad_bound = 0, repaired = 0;
    fg_jdoc_t doc;
    jr_t      r;

    for (i = 0; i < 50000; i++) {
        len = random_input(&state, buf, sizeof(buf));
        depth = 1 + next_random(&state) % 8;
        r = jr_run_len(buf, len, depth);
        if ((r.rc == FG_JSONREPAIR_VALID)
            != (fg_jdoc_parse(&doc, buf, len, depth, NULL) == FG_OK)) {
            bad_valid++;
        }
        fg_jdoc_free(&doc);
        if (!r.out_ok || (r.rc == FG_JSONREPAIR_REPAIRED) != (r.out != NULL)
            || (r.rc != FG_JSONREPAIR_REPAIRED && r.what != 0)
            || (r.rc == FG_JSONREPAIR_REPAIRED && r.what == 0)) {
            bad_out++;
        }
        if (!r.bound_ok) {
            bad_bound++;
        }
        repaired += r.rc == FG_JSONREPAIR_REPAIRED;
        free(r.out);
    }
    expect_int_eq(bad_valid, 0);
    expect_int_eq(bad_out, 0);
    expect_int_eq(bad_bound, 0);
    expect_true(repaired > 1000);    /* the generator reaches the repairs */
}

static const char jr_document[] =
    "{\"id\": \"call_1\", \"items\": [\"a\", {\"b\": \"c\", \"d\": []}, "
    "[\"e\\n\", \"\\u00e9\"]], \"note\": \"x\", \"empty\": {}}";

static void
repair_closes_every_cut_of_a_string_document(void)
{
    size_t len = sizeof(jr_document) - 1, i;
    int    not_closed = 0;
    jr_t   r;

    /* From the first quote on, every prefix is cut-short JSON. */
    for (i = 2; i < len; i++) {
        r = jr_run_len(jr_document, i, DEPTH);
        if (r.rc != FG_JSONREPAIR_REPAIRED || !r.out_ok || !r.bound_ok
            || (r.what & FG_JSONREPAIR_CLOSED) == 0) {
            not_closed++;
        }
        free(r.out);
    }
    expect_int_eq(not_closed, 0);
    r = jr_run_len(jr_document, len, DEPTH);
    expect_int_eq(r.rc, FG_JSONREPAIR_VALID);
}

static void
repair_keeps_every_byte_of_the_value_it_closes(void)
{
    jr_t r = jr_run("{\"a\": [\"x\", {\"b\": \"yz");

    /* The repaired text starts with the input: only closers were added. */
    expect_str_eq(r.out, "{\"a\": [\"x\", {\"b\": \"yz\"}]}");
    free(r.out);
}

/* ---- pathological inputs (1 MiB each; run, not timed) --------------------- */

#define MIB (1024 * 1024)

/* @prefix, then @unit repeated to a mebibyte. */
static fg_jsonrepair_result_t
jr_repeat_rc(const char *prefix, const char *unit, size_t depth)
{
    size_t  k = strlen(prefix), u = strlen(unit), len = k, n;
    char   *buf = malloc(k + MIB);
    jr_t    r;

    memcpy(buf, prefix, k);
    for (n = 0; n < MIB / u; n++) {
        memcpy(buf + len, unit, u);
        len += u;
    }
    r = jr_run_len(buf, len, depth);
    free(buf);
    free(r.out);
    /* 99: an output the strict parser refuses, or over the bound. */
    return r.out_ok && r.bound_ok ? r.rc : (fg_jsonrepair_result_t) 99;
}

static void
repair_handles_a_mebibyte_of_open_brackets(void)
{
    expect_int_eq(jr_repeat_rc("", "{", DEPTH), FG_JSONREPAIR_FAILED);
    expect_int_eq(jr_repeat_rc("", "[", DEPTH), FG_JSONREPAIR_FAILED);
    /* Deep enough to hold them all: never committed, so prose. */
    expect_int_eq(jr_repeat_rc("", "[", 2 * MIB), FG_JSONREPAIR_FAILED);
    /* Committed: all closed, at the bound. */
    expect_int_eq(jr_repeat_rc("[\"\",", "[", 2 * MIB),
                  FG_JSONREPAIR_REPAIRED);
}

static void
repair_handles_a_mebibyte_of_quotes(void)
{
    expect_int_eq(jr_repeat_rc("", "'", DEPTH), FG_JSONREPAIR_FAILED);
    expect_int_eq(jr_repeat_rc("", "\"", DEPTH), FG_JSONREPAIR_FAILED);
    /* A single-quoted string of double quotes: the output doubles. */
    expect_int_eq(jr_repeat_rc("{'a':'", "\"", DEPTH),
                  FG_JSONREPAIR_REPAIRED);
    expect_int_eq(jr_repeat_rc("{'", "'", DEPTH), FG_JSONREPAIR_FAILED);
}

static void
repair_handles_a_mebibyte_of_comment_openers(void)
{
    expect_int_eq(jr_repeat_rc("", "/*", DEPTH), FG_JSONREPAIR_FAILED);
    /* One block comment open to the end, then comments back to back. */
    expect_int_eq(jr_repeat_rc("[\"\"", "/* ", DEPTH), FG_JSONREPAIR_REPAIRED);
    expect_int_eq(jr_repeat_rc("[\"\"", "/**/", DEPTH),
                  FG_JSONREPAIR_REPAIRED);
    expect_int_eq(jr_repeat_rc("[\"\"", "/*", DEPTH), FG_JSONREPAIR_FAILED);
    expect_int_eq(jr_repeat_rc("", "//", DEPTH), FG_JSONREPAIR_FAILED);
}

static void
repair_handles_a_mebibyte_of_backticks(void)
{
    expect_int_eq(jr_repeat_rc("", "`", DEPTH), FG_JSONREPAIR_FAILED);
    expect_int_eq(jr_repeat_rc("", "``` {", DEPTH), FG_JSONREPAIR_FAILED);
    expect_int_eq(jr_repeat_rc("{\"a\": \"", "`", DEPTH),
                  FG_JSONREPAIR_REPAIRED);
}

static void
repair_handles_prose_with_thousands_of_braces(void)
{
    expect_int_eq(jr_repeat_rc("", "{x} [y] {{z", DEPTH),
                  FG_JSONREPAIR_FAILED);
    expect_int_eq(jr_repeat_rc("", "{a", DEPTH), FG_JSONREPAIR_FAILED);
    expect_int_eq(jr_repeat_rc("", "{\"a\": 1} ", DEPTH),
                  FG_JSONREPAIR_FAILED);
    expect_int_eq(jr_repeat_rc("", "}]", DEPTH), FG_JSONREPAIR_FAILED);
}

static void
repair_handles_a_mebibyte_value_to_repair(void)
{
    expect_int_eq(jr_repeat_rc("[", "'x', ", DEPTH), FG_JSONREPAIR_REPAIRED);
    expect_int_eq(jr_repeat_rc("[", "{a: 1,}, ", DEPTH),
                  FG_JSONREPAIR_REPAIRED);
    expect_int_eq(jr_repeat_rc("{\"s\": \"", "line\n", DEPTH),
                  FG_JSONREPAIR_REPAIRED);
}

FG_TEST_MAIN("jsonrepair",
    FG_TEST_CASE(repair_strips_a_json_fence),
    FG_TEST_CASE(repair_strips_a_bare_fence),
    FG_TEST_CASE(repair_strips_a_fence_left_open),
    FG_TEST_CASE(repair_strips_a_fence_with_prose_around_it),
    FG_TEST_CASE(repair_ends_a_value_at_its_closing_fence),
    FG_TEST_CASE(repair_drops_prose_before_the_value),
    FG_TEST_CASE(repair_drops_prose_after_the_value),
    FG_TEST_CASE(repair_treats_braces_that_are_not_json_as_prose),
    FG_TEST_CASE(repair_fails_on_two_values_in_prose),
    FG_TEST_CASE(repair_fails_on_prose_without_a_value),
    FG_TEST_CASE(repair_fails_on_a_value_that_is_a_piece_of_a_larger_one),
    FG_TEST_CASE(repair_fails_on_a_broken_value_before_another),
    FG_TEST_CASE(repair_closes_a_string_and_object_cut_short),
    FG_TEST_CASE(repair_closes_nested_levels_innermost_first),
    FG_TEST_CASE(repair_removes_a_member_whose_value_never_came),
    FG_TEST_CASE(repair_drops_a_comma_at_the_cut),
    FG_TEST_CASE(repair_closes_containers_opened_at_the_cut),
    FG_TEST_CASE(repair_drops_an_escape_cut_in_half),
    FG_TEST_CASE(repair_keeps_a_number_that_a_byte_ended),
    FG_TEST_CASE(repair_closes_inside_an_open_block_comment),
    FG_TEST_CASE(repair_fails_on_a_literal_cut_short),
    FG_TEST_CASE(repair_fails_on_a_number_cut_mid_way),
    FG_TEST_CASE(repair_fails_on_a_number_at_the_cut),
    FG_TEST_CASE(repair_fails_on_an_open_bracket_that_committed_to_nothing),
    FG_TEST_CASE(repair_drops_a_trailing_comma_in_an_object),
    FG_TEST_CASE(repair_drops_a_trailing_comma_in_an_array),
    FG_TEST_CASE(repair_drops_trailing_commas_at_every_level),
    FG_TEST_CASE(repair_fails_on_commas_that_are_not_trailing),
    FG_TEST_CASE(repair_turns_single_quotes_into_double_quotes),
    FG_TEST_CASE(repair_escapes_double_quotes_inside_single_quotes),
    FG_TEST_CASE(repair_unescapes_an_escaped_apostrophe),
    FG_TEST_CASE(repair_fails_on_an_apostrophe_that_ends_the_string),
    FG_TEST_CASE(repair_quotes_identifier_keys),
    FG_TEST_CASE(repair_fails_on_keys_that_are_not_identifiers),
    FG_TEST_CASE(repair_fails_on_a_bare_word_value),
    FG_TEST_CASE(repair_drops_line_comments),
    FG_TEST_CASE(repair_drops_block_comments),
    FG_TEST_CASE(repair_keeps_comment_marks_inside_strings),
    FG_TEST_CASE(repair_fails_on_a_slash_that_starts_no_comment),
    FG_TEST_CASE(repair_fails_on_a_comment_that_joins_numbers),
    FG_TEST_CASE(repair_escapes_raw_newlines_and_tabs_in_strings),
    FG_TEST_CASE(repair_fails_on_other_raw_control_characters),
    FG_TEST_CASE(repair_combines_fence_trailing_comma_and_cut),
    FG_TEST_CASE(repair_combines_a_javascript_object_literal),
    FG_TEST_CASE(repair_combines_comments_quotes_and_a_cut_in_a_fence),
    FG_TEST_CASE(repair_reports_no_bits_of_a_member_it_took_back),
    FG_TEST_CASE(repair_passes_valid_objects_and_arrays),
    FG_TEST_CASE(repair_passes_valid_json_with_whitespace_around),
    FG_TEST_CASE(repair_passes_valid_scalars),
    FG_TEST_CASE(repair_passes_valid_numbers_with_exponents),
    FG_TEST_CASE(repair_passes_valid_unicode),
    FG_TEST_CASE(repair_passes_valid_strings_that_look_like_repairs),
    FG_TEST_CASE(repair_passes_valid_json_at_the_depth_limit),
    FG_TEST_CASE(repair_fails_on_nan_and_infinity),
    FG_TEST_CASE(repair_fails_on_python_literals),
    FG_TEST_CASE(repair_fails_on_numbers_json_does_not_have),
    FG_TEST_CASE(repair_fails_on_a_missing_comma_or_colon),
    FG_TEST_CASE(repair_fails_on_mismatched_brackets),
    FG_TEST_CASE(repair_fails_beyond_the_depth_limit),
    FG_TEST_CASE(repair_fails_on_invalid_utf8),
    FG_TEST_CASE(repair_fails_on_what_the_strict_parser_refuses),
    FG_TEST_CASE(repair_fails_on_empty_input),
    FG_TEST_CASE(repair_accepts_a_null_what),
    FG_TEST_CASE(repair_is_valid_exactly_when_the_strict_parser_accepts),
    FG_TEST_CASE(repair_closes_every_cut_of_a_string_document),
    FG_TEST_CASE(repair_keeps_every_byte_of_the_value_it_closes),
    FG_TEST_CASE(repair_handles_a_mebibyte_of_open_brackets),
    FG_TEST_CASE(repair_handles_a_mebibyte_of_quotes),
    FG_TEST_CASE(repair_handles_a_mebibyte_of_comment_openers),
    FG_TEST_CASE(repair_handles_a_mebibyte_of_backticks),
    FG_TEST_CASE(repair_handles_prose_with_thousands_of_braces),
    FG_TEST_CASE(repair_handles_a_mebibyte_value_to_repair))
