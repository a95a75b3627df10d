/*
 * test_json.c: common/wire/json: the lax string scanner, the nesting
 * pre-scan and the compactor built on it, the quoter, the error clip and
 * the untrusted-body loader. The scans' edge cases are strings (brackets
 * inside them do not count, escapes decide where they end) and the
 * buffer's end (never read past it, whatever state the scan is in).
 */

#include "common/wire/json.h"

#include <stdlib.h>
#include <string.h>

#include "tests/unit/fg_test.h"

static int
depth_exceeds(const char *s, size_t max_depth)
{
    return fg_json_depth_exceeds(s, strlen(s), max_depth);
}

/* Returns the owned loader result for a NUL-terminated @s. */
static json_t *
load(const char *s, fg_err_t *err)
{
    memset(err, 0, sizeof(*err));
    return fg_json_load_body(s, strlen(s), 64, err);
}

static void
json_depth_accepts_nesting_equal_to_the_limit(void)
{
    expect_int_eq(depth_exceeds("[[[1]]]", 3), 0);
    expect_int_eq(depth_exceeds("{\"a\":{\"b\":[1]}}", 3), 0);
}

static void
json_depth_rejects_nesting_one_past_the_limit(void)
{
    expect_int_eq(depth_exceeds("[[[[1]]]]", 3), 1);
    expect_int_eq(depth_exceeds("{\"a\":{\"b\":[{}]}}", 3), 1);
}

static void
json_depth_counts_objects_and_arrays_alike(void)
{
    expect_int_eq(depth_exceeds("[{[{}]}]", 4), 0);
    expect_int_eq(depth_exceeds("[{[{}]}]", 3), 1);
}

static void
json_depth_measures_nesting_not_container_count(void)
{
    expect_int_eq(depth_exceeds("[[1],[2],[3],{\"a\":4}]", 2), 0);
}

static void
json_depth_accepts_scalars_at_depth_zero(void)
{
    expect_int_eq(depth_exceeds("\"x\"", 0), 0);
    expect_int_eq(depth_exceeds("[]", 0), 1);
}

static void
json_depth_ignores_brackets_inside_strings(void)
{
    expect_int_eq(depth_exceeds("{\"[[[[{{{{\":\"]]]]}}}}[[[[\"}", 1), 0);
}

static void
json_depth_keeps_escaped_quote_inside_the_string(void)
{
    /* "\"[[[" is one string: the brackets are still inside it. */
    expect_int_eq(depth_exceeds("[\"\\\"[[[\"]", 1), 0);
}

static void
json_depth_ends_string_after_escaped_backslash(void)
{
    /* "\\" ends at the second quote, so the brackets after it count. */
    expect_int_eq(depth_exceeds("[\"\\\\\",[[1]]]", 2), 1);
    expect_int_eq(depth_exceeds("[\"\\\\\",[[1]]]", 3), 0);
}

static void
json_depth_counts_again_after_a_string_closes(void)
{
    expect_int_eq(depth_exceeds("[\"]]]]\",[1]]", 1), 1);
}

static void
json_depth_never_goes_below_zero_on_unbalanced_closers(void)
{
    expect_int_eq(depth_exceeds("]]]]]]]][[", 1), 1);
    expect_int_eq(depth_exceeds("]]]]]]]][", 1), 0);
}

static void
json_depth_rejects_ten_thousand_levels(void)
{
    size_t  n = 10000, i;
    char   *s = malloc(2 * n);

    for (i = 0; i < n; i++) {
        s[i] = '[';
        s[2 * n - 1 - i] = ']';
    }
    expect_int_eq(fg_json_depth_exceeds(s, 2 * n, 64), 1);
    expect_int_eq(fg_json_depth_exceeds(s, 2 * n, 10000), 0);
    free(s);
}

static void
json_depth_stops_at_len(void)
{
    /* The bytes after @len would exceed the limit; they must be unseen. */
    expect_int_eq(fg_json_depth_exceeds("[[[[[[", 2, 2), 0);
}

static void
json_depth_stops_at_len_inside_an_escape(void)
{
    /* An exact-size heap copy, so ASan catches a read past the end. */
    const char *src = "[\"abc\\";
    size_t      n = strlen(src);
    char       *s = malloc(n);

    memcpy(s, src, n);
    expect_int_eq(fg_json_depth_exceeds(s, n, 1), 0);
    free(s);
}

static void
json_depth_accepts_empty_input(void)
{
    expect_int_eq(fg_json_depth_exceeds("", 0, 0), 0);
}

static void
json_load_returns_any_json_value(void)
{
    fg_err_t  err;
    json_t   *v = load("[1, \"x\"]", &err);

    expect_true(json_is_array(v));
    json_decref(v);
    v = load("\"x\"", &err);
    expect_true(json_is_string(v));
    json_decref(v);
}

static void
json_load_rejects_empty_body(void)
{
    fg_err_t  err;
    json_t   *v;

    memset(&err, 0, sizeof(err));
    v = fg_json_load_body("", 0, 64, &err);
    expect_true(v == NULL);
    expect_int_eq(err.code, FG_E_EMPTY_BODY);
    expect_str_eq(err.param, "");
}

static void
json_load_rejects_whitespace_only_body(void)
{
    fg_err_t  err;
    json_t   *v = load(" \t\r\n ", &err);

    expect_true(v == NULL);
    expect_int_eq(err.code, FG_E_EMPTY_BODY);
}

static void
json_load_rejects_nesting_past_the_limit(void)
{
    fg_err_t  err;
    json_t   *v;

    memset(&err, 0, sizeof(err));
    v = fg_json_load_body("[[[1]]]", 7, 2, &err);
    expect_true(v == NULL);
    expect_int_eq(err.code, FG_E_NESTING_TOO_DEEP);
}

static void
json_load_rejects_duplicate_key_naming_it(void)
{
    fg_err_t  err;
    json_t   *v = load("{\"a\":{\"model\":1,\"model\":2}}", &err);

    expect_true(v == NULL);
    expect_int_eq(err.code, FG_E_DUPLICATE_KEY);
    expect_true(strstr(err.msg, "model") != NULL);
    expect_str_eq(err.param, "");
}

static void
json_load_reports_line_and_column_of_a_syntax_error(void)
{
    fg_err_t  err;
    json_t   *v = load("{\n  \"a\": tru\n}", &err);

    expect_true(v == NULL);
    expect_int_eq(err.code, FG_E_INVALID_JSON);
    expect_true(strstr(err.msg, "line 2") != NULL);
    expect_true(strstr(err.msg, "column") != NULL);
}

static void
json_load_rejects_invalid_utf8_quoting_only_printable_ascii(void)
{
    fg_err_t       err;
    json_t        *v = load("{\"a\":\"\xff\xfe\"}", &err);
    const unsigned char *p;

    expect_true(v == NULL);
    expect_int_eq(err.code, FG_E_INVALID_JSON);
    for (p = (const unsigned char *) err.msg; *p; p++) {
        expect_true(*p >= 0x20 && *p < 0x7f);
    }
}

static void
json_load_rejects_nul_escape(void)
{
    fg_err_t  err;
    json_t   *v = load("{\"a\":\"x\\u0000y\"}", &err);

    expect_true(v == NULL);
    expect_int_eq(err.code, FG_E_INVALID_JSON);
}

static void
json_load_never_quotes_a_long_token(void)
{
    fg_err_t  err;
    char      body[256];
    json_t   *v;

    /* A 100-byte invalid token: at most 32 bytes of it may be quoted. */
    memset(body, 0, sizeof(body));
    strcpy(body, "{\"a\":");
    memset(body + 5, 'x', 100);
    strcat(body, "}");
    v = load(body, &err);
    expect_true(v == NULL);
    expect_int_eq(err.code, FG_E_INVALID_JSON);
    expect_true(strstr(err.msg, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
                == NULL);
}

static void
json_load_rejects_trailing_bytes(void)
{
    fg_err_t  err;
    json_t   *v = load("{} {}", &err);

    expect_true(v == NULL);
    expect_int_eq(err.code, FG_E_INVALID_JSON);
}

static void
json_load_rejects_numbers_that_overflow(void)
{
    fg_err_t  err;
    json_t   *v = load("[1e400]", &err);

    expect_true(v == NULL);
    expect_int_eq(err.code, FG_E_INVALID_JSON);
    v = load("[99999999999999999999999]", &err);
    expect_true(v == NULL);
    expect_int_eq(err.code, FG_E_INVALID_JSON);
}

static void
json_load_accepts_null_err(void)
{
    expect_true(fg_json_load_body("", 0, 64, NULL) == NULL);
}

/* The scanner's answer for a string literal @s (its opening quote first). */
static size_t
string_end(const char *s)
{
    return fg_json_string_end(s, strlen(s), 1);
}

static void
json_string_end_is_just_past_the_closing_quote(void)
{
    expect_int_eq(string_end("\"abc\" tail"), 5);
    expect_int_eq(string_end("\"\""), 2);
}

static void
json_string_end_passes_over_an_escaped_quote(void)
{
    expect_int_eq(string_end("\"a\\\"b\""), 6);
}

static void
json_string_end_ends_after_an_escaped_backslash(void)
{
    /* "a\\" then a quote: the backslash escapes the backslash only. */
    expect_int_eq(string_end("\"a\\\\\"b\""), 5);
}

static void
json_string_end_counts_backslash_runs_by_parity(void)
{
    /* Three backslashes escape the quote, four do not. */
    expect_int_eq(string_end("\"\\\\\\\"x\\\\\\\\\"y\""), 11);
    /* A run at the very start of the contents counts too. */
    expect_int_eq(string_end("\"\\\"\""), 4);
}

static void
json_string_end_is_right_with_an_escape_at_every_position(void)
{
    char   s[128];
    size_t pos, wrong = 0;

    /* Short strings are read byte by byte, long ones quote to quote: an
     * escape at each offset, across the change-over, must end right. */
    for (pos = 0; pos < 64; pos++) {
        memset(s, 'a', sizeof(s));
        s[0] = '"';
        memcpy(s + 1 + pos, "\\\"b\"", 4);        /* escaped quote */
        s[1 + pos + 4] = '\0';
        wrong += string_end(s) != 1 + pos + 4;
        memcpy(s + 1 + pos, "\\\\\"", 3);          /* escaped backslash */
        s[1 + pos + 3] = 'x';
        s[1 + pos + 4] = '"';
        s[1 + pos + 5] = '\0';
        wrong += string_end(s) != 1 + pos + 3;
    }
    expect_int_eq(wrong, 0);
}

/* The scanner's definition, one byte at a time: the end of the string
 * whose contents start at @i, or @len. */
static size_t
reference_string_end(const char *s, size_t len, size_t i)
{
    int escaped = 0;

    for (; i < len; i++) {
        if (escaped) {
            escaped = 0;
        } else if (s[i] == '\\') {
            escaped = 1;
        } else if (s[i] == '"') {
            return i + 1;
        }
    }
    return len;
}

static void
json_string_end_agrees_with_its_definition_on_random_text(void)
{
    static const char alphabet[] = "\"\\\\a[]{} \n\x01";
    char              s[96];
    unsigned          seed = 12345, n, k, wrong = 0;
    size_t            len, i;

    /* Quotes and backslashes in every arrangement, strings short and
     * long, cut anywhere. */
    for (n = 0; n < 20000; n++) {
        len = (seed = seed * 1103515245u + 12345u) >> 16 & 63;
        len += n % 2 ? 32 : 0;
        for (k = 0; k < len; k++) {
            seed = seed * 1103515245u + 12345u;
            s[k] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }
        for (i = 0; i <= len; i++) {
            wrong += fg_json_string_end(s, len, i)
                     != reference_string_end(s, len, i);
        }
    }
    expect_int_eq(wrong, 0);
}

static void
json_string_end_passes_unicode_escapes_and_surrogates_as_they_are(void)
{
    expect_int_eq(string_end("\"\\u0022\\ud83d\\ude00\""), 20);
    /* A lone surrogate is not its business: jdoc refuses it, not this. */
    expect_int_eq(string_end("\"\\udc00\""), 8);
}

static void
json_string_end_passes_control_bytes_and_invalid_utf8(void)
{
    expect_int_eq(string_end("\"a\nb\x01\xff\xc0\" x"), 8);
}

static void
json_string_end_runs_to_len_when_unterminated(void)
{
    const char s[] = "\"abc\"";

    expect_int_eq(fg_json_string_end(s, 4, 1), 4);   /* quote not read */
    expect_int_eq(fg_json_string_end(s, 1, 1), 1);   /* nothing to read */
}

static void
json_string_end_runs_to_len_when_cut_inside_an_escape(void)
{
    const char s[] = "\"ab\\\"";

    /* The backslash is the last byte in reach: the quote is not read. */
    expect_int_eq(fg_json_string_end(s, 4, 1), 4);
    expect_int_eq(fg_json_string_end(s, 5, 1), 5);
}

static void
json_compact_drops_whitespace_between_tokens_only(void)
{
    const char *s = "{ \"a b\" :\n [ 1 ,\t\"x \\\" y\" ] }";
    char        out[64];
    size_t      n = fg_json_compact(s, strlen(s), out);

    out[n] = '\0';
    expect_str_eq(out, "{\"a b\":[1,\"x \\\" y\"]}");
}

static void
json_quote_escapes_quotes_backslashes_and_controls(void)
{
    char   out[64];
    size_t n = fg_json_quote("a\"b\\c\n\x01", 7, out);

    out[n] = '\0';
    expect_str_eq(out, "\"a\\\"b\\\\c\\n\\u0001\"");
}

static void
json_compact_ends_a_string_after_an_escaped_backslash(void)
{
    const char *s = "[\"a\\\\\" , \"b \"]";
    char        out[64];
    size_t      n = fg_json_compact(s, strlen(s), out);

    out[n] = '\0';
    expect_str_eq(out, "[\"a\\\\\",\"b \"]");
}

static void
json_compact_copies_an_unterminated_string_to_the_end(void)
{
    const char *s = "[ \"a , b";
    char        out[64];
    size_t      n = fg_json_compact(s, strlen(s), out);

    out[n] = '\0';
    expect_str_eq(out, "[\"a , b");
}

static void
json_compact_copies_strings_of_every_length_exactly(void)
{
    char   src[160], out[160], want[160];
    size_t len, n, wrong = 0;

    /* Around the 16 bytes a short string is copied as. */
    for (len = 0; len < 40; len++) {
        memset(src, 0, sizeof(src));
        memcpy(src, "[ \"", 3);
        memset(src + 3, 's', len);
        memcpy(src + 3 + len, "\" , 1 ]", 7);
        memcpy(want, "[\"", 2);
        memset(want + 2, 's', len);
        memcpy(want + 2 + len, "\",1]", 5);
        n = fg_json_compact(src, strlen(src), out);
        out[n] = '\0';
        wrong += strcmp(out, want) != 0;
    }
    expect_int_eq(wrong, 0);
}

static void
json_is_blank_takes_only_the_four_json_white_space_bytes(void)
{
    expect_int_eq(fg_json_is_blank(" \t\r\n", 4), 1);
    expect_int_eq(fg_json_is_blank("", 0), 1);
    expect_int_eq(fg_json_is_blank(" \v", 2), 0);
    expect_int_eq(fg_json_is_blank(" x", 2), 0);
}

static void
json_clip_keeps_printable_ascii_and_marks_a_cut(void)
{
    char out[8];

    fg_json_clip(out, sizeof(out), "ab\x01\xc3\xa9", 5);
    expect_str_eq(out, "ab???");
    fg_json_clip(out, sizeof(out), "abcdefghij", 10);
    expect_str_eq(out, "abcd...");
    fg_json_clip(out, sizeof(out), "abcdefg", 7);
    expect_str_eq(out, "abcdefg");
    fg_json_clip(out, 3, "abcdefg", 7);
    expect_str_eq(out, "ab");
}

FG_TEST_MAIN("json",
    FG_TEST_CASE(json_depth_accepts_nesting_equal_to_the_limit),
    FG_TEST_CASE(json_depth_rejects_nesting_one_past_the_limit),
    FG_TEST_CASE(json_depth_counts_objects_and_arrays_alike),
    FG_TEST_CASE(json_depth_measures_nesting_not_container_count),
    FG_TEST_CASE(json_depth_accepts_scalars_at_depth_zero),
    FG_TEST_CASE(json_depth_ignores_brackets_inside_strings),
    FG_TEST_CASE(json_depth_keeps_escaped_quote_inside_the_string),
    FG_TEST_CASE(json_depth_ends_string_after_escaped_backslash),
    FG_TEST_CASE(json_depth_counts_again_after_a_string_closes),
    FG_TEST_CASE(json_depth_never_goes_below_zero_on_unbalanced_closers),
    FG_TEST_CASE(json_depth_rejects_ten_thousand_levels),
    FG_TEST_CASE(json_depth_stops_at_len),
    FG_TEST_CASE(json_depth_stops_at_len_inside_an_escape),
    FG_TEST_CASE(json_depth_accepts_empty_input),
    FG_TEST_CASE(json_load_returns_any_json_value),
    FG_TEST_CASE(json_load_rejects_empty_body),
    FG_TEST_CASE(json_load_rejects_whitespace_only_body),
    FG_TEST_CASE(json_load_rejects_nesting_past_the_limit),
    FG_TEST_CASE(json_load_rejects_duplicate_key_naming_it),
    FG_TEST_CASE(json_load_reports_line_and_column_of_a_syntax_error),
    FG_TEST_CASE(json_load_rejects_invalid_utf8_quoting_only_printable_ascii),
    FG_TEST_CASE(json_load_rejects_nul_escape),
    FG_TEST_CASE(json_load_never_quotes_a_long_token),
    FG_TEST_CASE(json_load_rejects_trailing_bytes),
    FG_TEST_CASE(json_load_rejects_numbers_that_overflow),
    FG_TEST_CASE(json_load_accepts_null_err),
    FG_TEST_CASE(json_string_end_is_just_past_the_closing_quote),
    FG_TEST_CASE(json_string_end_passes_over_an_escaped_quote),
    FG_TEST_CASE(json_string_end_ends_after_an_escaped_backslash),
    FG_TEST_CASE(json_string_end_counts_backslash_runs_by_parity),
    FG_TEST_CASE(json_string_end_is_right_with_an_escape_at_every_position),
    FG_TEST_CASE(json_string_end_agrees_with_its_definition_on_random_text),
    FG_TEST_CASE(json_string_end_passes_unicode_escapes_and_surrogates_as_they_are),
    FG_TEST_CASE(json_string_end_passes_control_bytes_and_invalid_utf8),
    FG_TEST_CASE(json_string_end_runs_to_len_when_unterminated),
    FG_TEST_CASE(json_string_end_runs_to_len_when_cut_inside_an_escape),
    FG_TEST_CASE(json_compact_drops_whitespace_between_tokens_only),
    FG_TEST_CASE(json_compact_ends_a_string_after_an_escaped_backslash),
    FG_TEST_CASE(json_compact_copies_an_unterminated_string_to_the_end),
    FG_TEST_CASE(json_compact_copies_strings_of_every_length_exactly),
    FG_TEST_CASE(json_quote_escapes_quotes_backslashes_and_controls),
    FG_TEST_CASE(json_is_blank_takes_only_the_four_json_white_space_bytes),
    FG_TEST_CASE(json_clip_keeps_printable_ascii_and_marks_a_cut))
