/*
 * test_responses_native.c: a Responses request passed to a provider that
 * speaks Responses (the body it gets), and the counts read from the
 * reply. Texts are written with ' for " so they read like the JSON they
 * are.
 */

#include "worker/responses_native.h"

#include <stdlib.h>
#include <string.h>

#include "tests/unit/fg_test.h"

static char *
native_quotes(const char *s)
{
    size_t i, n = strlen(s);
    char  *out = malloc(n + 1);

    for (i = 0; i <= n; i++) {
        out[i] = s[i] == '\'' ? '"' : s[i];
    }
    return out;
}

/* The body for request @req (' for ") sent to @id with @context and
 * @lowered, checked to parse, with " written back as '. */
static char *
native_body(const char *req, const char *id, const char *context,
            long long lowered)
{
    char      *src = native_quotes(req), *ctx = native_quotes(context);
    char      *out;
    size_t     len, i;
    fg_jdoc_t  doc, check;

    if (fg_jdoc_parse(&doc, src, strlen(src), 16, NULL) != FG_OK) {
        FG_TEST_FAIL("the request does not parse: %s", req);
        free(src);
        free(ctx);
        return NULL;
    }
    out = fg_responses_native_body(&doc, id, strlen(id), ctx, strlen(ctx),
                                   lowered, &len);
    expect_int_eq(strlen(out), len);
    expect_true(fg_jdoc_parse(&check, out, len, 16, NULL) == FG_OK);
    fg_jdoc_free(&check);
    fg_jdoc_free(&doc);
    for (i = 0; i < len; i++) {
        out[i] = out[i] == '"' ? '\'' : out[i];
    }
    free(src);
    free(ctx);
    return out;
}

#define expect_body(req, id, context, lowered, want)                        \
    do {                                                                    \
        char *got_ = native_body(req, id, context, lowered);                \
        expect_str_eq(got_ != NULL ? got_ : "(none)", want);                \
        free(got_);                                                         \
    } while (0)

static void
the_input_becomes_the_whole_conversation_and_store_false(void)
{
    expect_body("{'model':'m','input':'hi','temperature':0.5}", "up-1",
                "{'role':'user','content':'a'},{'role':'user','content':'hi'}",
                0,
                "{'model':'up-1','input':[{'role':'user','content':'a'},"
                "{'role':'user','content':'hi'}],'store':false,"
                "'temperature':0.5}");
}

static void
previous_response_id_and_store_never_reach_the_provider(void)
{
    expect_body("{'store':true,'model':'m','previous_response_id':'resp_1',"
                "'instructions':'Be brief.'}", "up",
                "{'role':'user','content':'x'}", 0,
                "{'model':'up','input':[{'role':'user','content':'x'}],"
                "'store':false,'instructions':'Be brief.'}");
}

static void
the_gateway_s_own_fields_are_cut(void)
{
    expect_body("{'model':'m','input':'x','models':['a'],'provider':"
                "{'order':['p']},'preset':'speed','plugins':[],"
                "'transforms':[],'route':'fallback','filters':{},"
                "'fallbacks':[],'tools':[]}", "up", "", 0,
                "{'model':'up','input':[],'store':false,'tools':[]}");
}

static void
a_request_of_only_rewritten_members_leaves_no_comma(void)
{
    expect_body("{'model':'m','input':'x'}", "up", "{'a':1}", 0,
                "{'model':'up','input':[{'a':1}],'store':false}");
}

static void
a_lowered_limit_is_written_as_max_output_tokens(void)
{
    expect_body("{'model':'m','max_output_tokens':4000,'input':'x',"
                "'stream':true}", "up", "", 300,
                "{'model':'up','input':[],'store':false,"
                "'max_output_tokens':300,'stream':true}");
}

static void
the_upstream_id_is_quoted_as_json(void)
{
    expect_body("{'model':'m'}", "a\"b", "", 0,
                "{'model':'a\\'b','input':[],'store':false}");
}

/* The reply */

static int
native_parse(const char *text, fg_jdoc_t *doc, char **keep)
{
    *keep = native_quotes(text);
    return fg_jdoc_parse(doc, *keep, strlen(*keep), 16, NULL);
}

static void
usage_is_read_with_its_details(void)
{
    fg_jdoc_t            doc;
    char                *text;
    fg_responses_usage_t u;

    expect_true(native_parse("{'output':[],'usage':{'input_tokens':12,"
                             "'input_tokens_details':{'cached_tokens':4},"
                             "'output_tokens':7,'output_tokens_details':"
                             "{'reasoning_tokens':2},'total_tokens':19}}",
                             &doc, &text) == FG_OK);
    expect_int_eq(fg_responses_native_usage(&doc, 0, &u), 1);
    expect_int_eq(u.input_tokens, 12);
    expect_int_eq(u.output_tokens, 7);
    expect_int_eq(u.cached_tokens, 4);
    expect_int_eq(u.reasoning_tokens, 2);
    fg_jdoc_free(&doc);
    free(text);
}

static void
a_count_that_is_not_an_integer_reads_as_malformed(void)
{
    fg_jdoc_t            doc;
    char                *text;
    fg_responses_usage_t u;

    expect_true(native_parse("{'usage':{'input_tokens':'5','output_tokens':"
                             "1e9}}", &doc, &text) == FG_OK);
    expect_int_eq(fg_responses_native_usage(&doc, 0, &u), 1);
    expect_int_eq(u.input_tokens, -1);
    expect_int_eq(u.output_tokens, -1);
    fg_jdoc_free(&doc);
    free(text);
}

static void
no_usage_object_reads_as_none(void)
{
    fg_jdoc_t            doc;
    char                *text;
    fg_responses_usage_t u;

    expect_true(native_parse("{'output':[],'usage':null}", &doc, &text)
                == FG_OK);
    expect_int_eq(fg_responses_native_usage(&doc, 0, &u), 0);
    expect_true(fg_responses_native_is_response(&doc, 0));
    fg_jdoc_free(&doc);
    free(text);
}

static void
a_response_needs_an_output_array(void)
{
    fg_jdoc_t doc;
    char     *text;

    expect_true(native_parse("{'output':{}}", &doc, &text) == FG_OK);
    expect_true(!fg_responses_native_is_response(&doc, 0));
    fg_jdoc_free(&doc);
    free(text);
}

static void
generated_text_counts_every_kind_of_output(void)
{
    fg_jdoc_t doc;
    char     *text;

    expect_true(native_parse("{'output':[{'type':'reasoning','summary':"
                             "[{'type':'summary_text','text':'ab'}]},"
                             "{'type':'message','content':[{'type':"
                             "'output_text','text':'cde'},{'type':"
                             "'refusal','refusal':'f'}]},{'type':"
                             "'function_call','arguments':'{}'}]}",
                             &doc, &text) == FG_OK);
    expect_int_eq(fg_responses_native_text_bytes(&doc, 0), 8);
    fg_jdoc_free(&doc);
    free(text);
}

static void
the_client_s_store_is_echoed_in_place_of_the_provider_s(void)
{
    fg_jdoc_t doc;
    char     *text, *out;
    size_t    len;

    expect_true(native_parse("{'id':'r','store':false,'output':[]}", &doc,
                             &text) == FG_OK);
    out = fg_responses_native_store_echo(&doc, 0, 1, &len);
    expect_str_eq(out != NULL ? out : "(none)",
                  "{\"id\":\"r\",\"store\":true,\"output\":[]}");
    expect_int_eq(len, strlen("{'id':'r','store':true,'output':[]}"));
    free(out);
    expect_true(fg_responses_native_store_echo(&doc, 0, 0, &len) == NULL);
    fg_jdoc_free(&doc);
    free(text);
}

static void
a_response_without_store_is_left_as_it_came(void)
{
    fg_jdoc_t doc;
    char     *text;
    size_t    len;

    expect_true(native_parse("{'type':'x','response':{'output':[]}}", &doc,
                             &text) == FG_OK);
    expect_true(fg_responses_native_store_echo(
        &doc, fg_jdoc_get(&doc, 0, "response"), 1, &len) == NULL);
    fg_jdoc_free(&doc);
    free(text);
}

FG_TEST_MAIN("responses_native",
    FG_TEST_CASE(the_client_s_store_is_echoed_in_place_of_the_provider_s),
    FG_TEST_CASE(a_response_without_store_is_left_as_it_came),
    FG_TEST_CASE(the_input_becomes_the_whole_conversation_and_store_false),
    FG_TEST_CASE(previous_response_id_and_store_never_reach_the_provider),
    FG_TEST_CASE(the_gateway_s_own_fields_are_cut),
    FG_TEST_CASE(a_request_of_only_rewritten_members_leaves_no_comma),
    FG_TEST_CASE(a_lowered_limit_is_written_as_max_output_tokens),
    FG_TEST_CASE(the_upstream_id_is_quoted_as_json),
    FG_TEST_CASE(usage_is_read_with_its_details),
    FG_TEST_CASE(a_count_that_is_not_an_integer_reads_as_malformed),
    FG_TEST_CASE(no_usage_object_reads_as_none),
    FG_TEST_CASE(a_response_needs_an_output_array),
    FG_TEST_CASE(generated_text_counts_every_kind_of_output))
