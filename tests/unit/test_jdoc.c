/*
 * test_jdoc.c: the flat JSON document (common/wire/jdoc) accepts exactly what
 * jansson accepts with JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, and reads
 * the same values: every input below goes through both and the results
 * are compared node by node. Then the accessors, one behaviour each.
 */

#include "common/wire/jdoc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tests/unit/fg_test.h"

/* 1 when @j (jansson) and node @i of @doc hold the same value. */
static int
same_value(const fg_jdoc_t *doc, int i, json_t *j)
{
    int          k, n = 0;
    const char  *key;
    json_t      *v;
    char        *s;

    switch (fg_jdoc_type(doc, i)) {
    case FG_JNULL:
        return json_is_null(j);
    case FG_JTRUE:
        return json_is_true(j);
    case FG_JFALSE:
        return json_is_false(j);
    case FG_JINT:
        return json_is_integer(j)
               && json_integer_value(j) == doc->nodes[i].num.i;
    case FG_JREAL:
        return json_is_real(j) && (json_real_value(j) == doc->nodes[i].num.d
                                   || (isnan(json_real_value(j))
                                       && isnan(doc->nodes[i].num.d)));
    case FG_JSTRING:
        if (!json_is_string(j)
            || json_string_length(j) != fg_jdoc_str_len(doc, i)) {
            return 0;
        }
        s = fg_jdoc_str_dup(doc, i);
        n = memcmp(s, json_string_value(j), json_string_length(j)) == 0;
        free(s);
        return n;
    case FG_JARRAY:
        if (!json_is_array(j)
            || json_array_size(j) != doc->nodes[i].count) {
            return 0;
        }
        for (k = fg_jdoc_first(doc, i); k != FG_JNONE;
             k = fg_jdoc_next(doc, i, k), n++) {
            if (!same_value(doc, k, json_array_get(j, (size_t) n))) {
                return 0;
            }
        }
        return n == (int) json_array_size(j);
    case FG_JOBJECT:
        if (!json_is_object(j)
            || json_object_size(j) != doc->nodes[i].count) {
            return 0;
        }
        json_object_foreach(j, key, v) {
            if (!same_value(doc, fg_jdoc_get(doc, i, key), v)) {
                return 0;
            }
        }
        return 1;
    }
    return 0;
}

/* Parses @len bytes both ways; fails the test on any disagreement. */
static void
agree_len(const char *text, size_t len)
{
    fg_jdoc_t     doc;
    fg_err_t      err;
    json_error_t  jerr;
    json_t       *j = json_loadb(text, len, JSON_REJECT_DUPLICATES
                                 | JSON_DECODE_ANY, &jerr);
    int           ok = fg_jdoc_parse(&doc, text, len, 64, &err) == FG_OK;

    if (ok != (j != NULL)) {
        FG_TEST_FAIL("%.*s: jdoc %s, jansson %s (%s / %s)", (int) len, text,
                     ok ? "accepts" : "refuses",
                     j ? "accepts" : "refuses", ok ? "" : err.msg,
                     j ? "" : jerr.text);
    } else if (ok && !same_value(&doc, 0, j)) {
        FG_TEST_FAIL("%.*s: values differ", (int) len, text);
    }
    if (ok) {
        fg_jdoc_free(&doc);
    }
    json_decref(j);
}

static void
agree(const char *text)
{
    agree_len(text, strlen(text));
}

static void
jdoc_agrees_with_jansson_on_valid_documents(void)
{
    agree("{}");
    agree("[]");
    agree(" { \"a\" : [ 1 , 2.5 , -3 , true , false , null ] } ");
    agree("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
          "\"content\":\"hi\"}],\"max_tokens\":48,\"temperature\":0.7}");
    agree("\"just a string\"");
    agree("0");
    agree("-0");
    agree("1e5");
    agree("1E-5");
    agree("-1.25e+3");
    agree("9223372036854775807");
    agree("-9223372036854775808");
    agree("[[[[[[[[[[]]]]]]]]]]");
    agree("{\"a\":{\"b\":{\"c\":[{},[],\"\"]}}}");
    agree("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"");
    agree("\"\\u00e9\\u4e2d\\ud83d\\ude00\"");
    agree("\"caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80\"");
    agree("{\"\\u0061\":1,\"b\":2}");
    agree("[1.7976931348623157e308, 4.9e-324, 1e-400]");
}

static void
jdoc_agrees_with_jansson_on_invalid_documents(void)
{
    agree("{");
    agree("[1,]");
    agree("{\"a\":1,}");
    agree("{\"a\" 1}");
    agree("{a:1}");
    agree("'single'");
    agree("tru");
    agree("truex");
    agree("nul");
    agree("01");
    agree("1.");
    agree(".5");
    agree("1e");
    agree("-");
    agree("+1");
    agree("[1 2]");
    agree("{} {}");
    agree("\"unterminated");
    agree("\"bad \\x escape\"");
    agree("\"\\u12\"");
    agree("\"\\u0000\"");
    agree("\"\\udc00\"");
    agree("\"\\ud800\"");
    agree("\"\\ud800\\u0041\"");
    agree("\"tab\there\"");
    agree("\"\xff\"");
    agree("\"\xc0\xaf\"");          /* overlong '/' */
    agree("\"\xed\xa0\x80\"");      /* a surrogate in UTF-8 */
    agree("\"\xf4\x90\x80\x80\"");  /* above U+10FFFF */
    agree("\"\xe4\xb8\"");          /* cut sequence */
    agree("9223372036854775808");
    agree("-9223372036854775809");
    agree("99999999999999999999999");
    agree("1e400");
    agree("-1e400");
    agree("{\"a\":1,\"a\":2}");
    agree("{\"a\":1,\"\\u0061\":2}");
    agree("{\"x\":{\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,"
          "\"k7\":7,\"k8\":8,\"k9\":9,\"k10\":10,\"k3\":11}}");
    agree("\xef\xbb\xbf{}");        /* BOM */
    agree_len("{\"a\":\"x\0y\"}", 11);
    agree_len("{}\0", 3);
}

static void
jdoc_refuses_nesting_past_the_limit(void)
{
    fg_jdoc_t doc;
    fg_err_t  err;

    expect_int_eq(fg_jdoc_parse(&doc, "[[1]]", 5, 2, &err), FG_OK);
    fg_jdoc_free(&doc);
    expect_int_eq(fg_jdoc_parse(&doc, "[[[1]]]", 7, 2, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_NESTING_TOO_DEEP);
}

static void
jdoc_refuses_an_empty_or_blank_body(void)
{
    fg_jdoc_t doc;
    fg_err_t  err;

    expect_int_eq(fg_jdoc_parse(&doc, "", 0, 8, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_EMPTY_BODY);
    expect_int_eq(fg_jdoc_parse(&doc, " \r\n\t", 4, 8, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_EMPTY_BODY);
}

static void
jdoc_names_a_duplicate_key_with_its_line(void)
{
    fg_jdoc_t   doc;
    fg_err_t    err;
    const char *s = "{\"a\":{\"model\":1,\n\"model\":2}}";

    expect_int_eq(fg_jdoc_parse(&doc, s, strlen(s), 8, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_DUPLICATE_KEY);
    expect_true(strstr(err.msg, "'model'") != NULL);
    expect_true(strstr(err.msg, "line 2") != NULL);
}

static void
jdoc_finds_a_duplicate_in_a_large_object(void)
{
    char      buf[64 * 1024];
    size_t    n = 0;
    int       i;
    fg_jdoc_t doc;
    fg_err_t  err;

    buf[n++] = '{';
    for (i = 0; i < 5000; i++) {
        n += (size_t) snprintf(buf + n, sizeof(buf) - n, "\"k%d\":%d,", i, i);
    }
    n += (size_t) snprintf(buf + n, sizeof(buf) - n, "\"k4321\":0}");
    expect_int_eq(fg_jdoc_parse(&doc, buf, n, 8, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_DUPLICATE_KEY);
    expect_true(strstr(err.msg, "'k4321'") != NULL);
    buf[n - 8] = '9';   /* "k9321" is new: accepted */
    expect_int_eq(fg_jdoc_parse(&doc, buf, n, 8, &err), FG_OK);
    expect_int_eq(doc.nodes[0].count, 5001);
    fg_jdoc_free(&doc);
}

static void
jdoc_reports_line_and_column_and_quotes_only_printable_ascii(void)
{
    fg_jdoc_t            doc;
    fg_err_t             err;
    const char          *s = "{\n  \"a\": \xff\xfe tru\n}";
    const unsigned char *p;

    expect_int_eq(fg_jdoc_parse(&doc, s, strlen(s), 8, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_INVALID_JSON);
    expect_true(strstr(err.msg, "line 2, column 8") != NULL);
    for (p = (const unsigned char *) err.msg; *p; p++) {
        expect_true(*p >= 0x20 && *p < 0x7f);
    }
}

static void
jdoc_never_quotes_more_than_32_bytes(void)
{
    char      body[256];
    fg_jdoc_t doc;
    fg_err_t  err;

    memset(body, 'x', sizeof(body));
    memcpy(body, "{\"a\":", 5);
    expect_int_eq(fg_jdoc_parse(&doc, body, sizeof(body), 8, &err), FG_ERR);
    expect_true(strstr(err.msg, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
                == NULL);
}

static void
jdoc_spans_point_into_the_original_bytes(void)
{
    const char *s = "{ \"model\" : \"gpt\" , \"n\" : [1, 2] }";
    fg_jdoc_t   doc;
    int         m, n;

    expect_int_eq(fg_jdoc_parse(&doc, s, strlen(s), 8, NULL), FG_OK);
    m = fg_jdoc_get(&doc, 0, "model");
    n = fg_jdoc_get(&doc, 0, "n");
    expect_true(memcmp(s + doc.nodes[m].start, "\"gpt\"",
                       doc.nodes[m].len) == 0);
    expect_true(memcmp(s + doc.nodes[n].start, "[1, 2]",
                       doc.nodes[n].len) == 0);
    expect_int_eq(doc.nodes[0].start, 0);
    expect_int_eq(doc.nodes[0].len, strlen(s));
    fg_jdoc_free(&doc);
}

static void
jdoc_get_compares_keys_decoded(void)
{
    const char *s = "{\"mod\\u0065l\":\"a\\u00e9\"}";
    fg_jdoc_t   doc;
    char        buf[8];
    int         v;

    expect_int_eq(fg_jdoc_parse(&doc, s, strlen(s), 8, NULL), FG_OK);
    v = fg_jdoc_get(&doc, 0, "model");
    expect_true(v != FG_JNONE);
    expect_true(fg_jdoc_str_eq(&doc, v, "a\xc3\xa9"));
    expect_int_eq(fg_jdoc_str_len(&doc, v), 3);
    expect_int_eq(fg_jdoc_str_copy(&doc, v, buf, 2), 3);
    expect_str_eq(buf, "a");
    expect_true(fg_jdoc_get(&doc, 0, "mode") == FG_JNONE);
    expect_true(fg_jdoc_get(&doc, v, "x") == FG_JNONE);
    fg_jdoc_free(&doc);
}

static void
jdoc_absent_nodes_read_as_null(void)
{
    fg_jdoc_t doc;

    expect_int_eq(fg_jdoc_parse(&doc, "{}", 2, 8, NULL), FG_OK);
    expect_int_eq(fg_jdoc_type(&doc, FG_JNONE), FG_JNULL);
    expect_int_eq(fg_jdoc_first(&doc, 0), FG_JNONE);
    fg_jdoc_free(&doc);
}

FG_TEST_MAIN("jdoc",
    FG_TEST_CASE(jdoc_agrees_with_jansson_on_valid_documents),
    FG_TEST_CASE(jdoc_agrees_with_jansson_on_invalid_documents),
    FG_TEST_CASE(jdoc_refuses_nesting_past_the_limit),
    FG_TEST_CASE(jdoc_refuses_an_empty_or_blank_body),
    FG_TEST_CASE(jdoc_names_a_duplicate_key_with_its_line),
    FG_TEST_CASE(jdoc_finds_a_duplicate_in_a_large_object),
    FG_TEST_CASE(jdoc_reports_line_and_column_and_quotes_only_printable_ascii),
    FG_TEST_CASE(jdoc_never_quotes_more_than_32_bytes),
    FG_TEST_CASE(jdoc_spans_point_into_the_original_bytes),
    FG_TEST_CASE(jdoc_get_compares_keys_decoded),
    FG_TEST_CASE(jdoc_absent_nodes_read_as_null))
