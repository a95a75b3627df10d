/*
 * test_upstream_body.c: the body sent upstream is the client's bytes with
 * the gateway's edits only: the model's upstream name, a lowered maximum
 * output written in whichever token field the client used (at the span
 * validation recorded), include_usage for a stream, and the gateway's
 * routing fields cut (worker/routereq.h). Bodies are
 * written with ' for " so they read like the JSON they are.
 */

#include "worker/upstream_body.h"

#include <stdlib.h>
#include <string.h>

#include "common/base/errors.h"
#include "worker/validate.h"
#include "tests/unit/fg_test.h"

/* The upstream body of @client (' for "), validated first, with the
 * model named "up-m". Returns a malloc'd string with " written as '. */
static char *
upstream_of(const char *client, int64_t lowered, int ask_usage)
{
    size_t             i, n = strlen(client), len;
    char              *body = malloc(n + 1), *out;
    fg_jdoc_t          doc;
    fg_chat_request_t  chat;
    fg_err_t           err;

    for (i = 0; i <= n; i++) {
        body[i] = client[i] == '\'' ? '"' : client[i];
    }
    if (fg_validate_chat_body(body, n, 64, &doc, &chat, &err) != FG_OK) {
        FG_TEST_FAIL("rejected %s: %s", client, err.msg);
        free(body);
        return NULL;
    }
    out = fg_upstream_body(&doc, &chat, "up-m", lowered, ask_usage, &len);
    if (strlen(out) != len) {
        FG_TEST_FAIL("length %zu, string %zu", len, strlen(out));
    }
    for (i = 0; i < len; i++) {
        out[i] = out[i] == '"' ? '\'' : out[i];
    }
    fg_jdoc_free(&doc);
    free(body);
    return out;
}

#define M "'messages':[{'role':'user','content':'hi'}]"

#define expect_upstream(client, lowered, ask_usage, want)                   \
    do {                                                                    \
        char *got_ = upstream_of(client, lowered, ask_usage);               \
        expect_str_eq(got_, want);                                          \
        free(got_);                                                         \
    } while (0)

static void
upstream_body_renames_the_model_and_keeps_every_other_byte(void)
{
    expect_upstream("{ 'model' : 'm', " M ",'max_tokens':9 }", 0, 0,
                    "{ 'model' : 'up-m', " M ",'max_tokens':9 }");
}

static void
upstream_body_writes_lowered_max_tokens_where_the_client_put_it(void)
{
    expect_upstream("{'model':'m','max_tokens': 1000 ," M "}", 42, 0,
                    "{'model':'up-m','max_tokens': 42 ," M "}");
}

static void
upstream_body_writes_lowered_max_completion_tokens_in_that_field_only(void)
{
    expect_upstream("{'model':'m'," M ",'max_completion_tokens':1000}", 42,
                    0, "{'model':'up-m'," M ",'max_completion_tokens':42}");
}

static void
upstream_body_writes_both_token_fields_when_the_client_sent_both(void)
{
    expect_upstream("{'max_tokens':900,'model':'m'," M
                    ",'max_completion_tokens':1000}", 7, 0,
                    "{'max_tokens':7,'model':'up-m'," M
                    ",'max_completion_tokens':7}");
}

static void
upstream_body_adds_max_completion_tokens_when_the_client_named_none(void)
{
    expect_upstream("{'model':'m'," M "}", 42, 0,
                    "{'max_completion_tokens':42,'model':'up-m'," M "}");
}

static void
upstream_body_writes_a_lowered_value_over_a_null_token_field(void)
{
    expect_upstream("{'model':'m'," M ",'max_tokens':null}", 42, 0,
                    "{'model':'up-m'," M ",'max_tokens':42}");
}

static void
upstream_body_leaves_the_token_field_alone_when_not_lowered(void)
{
    expect_upstream("{'model':'m'," M ",'max_tokens':1000}", 0, 0,
                    "{'model':'up-m'," M ",'max_tokens':1000}");
}

static void
upstream_body_asks_for_usage_with_no_stream_options(void)
{
    expect_upstream("{'model':'m','stream':true," M "}", 0, 1,
                    "{'stream_options':{'include_usage':true},'model':'up-m',"
                    "'stream':true," M "}");
}

static void
upstream_body_asks_for_usage_in_the_clients_stream_options(void)
{
    expect_upstream("{'model':'m','stream':true,'stream_options':{}," M "}",
                    0, 1, "{'model':'up-m','stream':true,'stream_options':"
                    "{'include_usage':true}," M "}");
    expect_upstream("{'model':'m','stream':true,'stream_options':"
                    "{'include_usage':false}," M "}", 0, 1,
                    "{'model':'up-m','stream':true,'stream_options':"
                    "{'include_usage':true}," M "}");
    expect_upstream("{'model':'m','stream':true,'stream_options':null,"
                    M "}", 0, 1, "{'model':'up-m','stream':true,"
                    "'stream_options':{'include_usage':true}," M "}");
}

static void
upstream_body_lowers_and_asks_for_usage_in_one_copy(void)
{
    expect_upstream("{'model':'m','stream':true," M ",'max_tokens':500}",
                    12, 1, "{'stream_options':{'include_usage':true},"
                    "'model':'up-m','stream':true," M ",'max_tokens':12}");
}

static void
upstream_body_cuts_a_routing_field_between_kept_members(void)
{
    expect_upstream("{'model':'m', 'provider':{'order':['a']}, " M "}", 0, 0,
                    "{'model':'up-m', " M "}");
}

static void
upstream_body_cuts_a_routing_field_that_comes_first(void)
{
    expect_upstream("{'preset':'price','model':'m'," M "}", 0, 0,
                    "{'model':'up-m'," M "}");
}

static void
upstream_body_cuts_a_routing_field_that_comes_last(void)
{
    expect_upstream("{'model':'m'," M ", 'filters':{'countries':['SE']} }",
                    0, 0, "{'model':'up-m'," M "}");
}

static void
upstream_body_cuts_adjacent_routing_fields_as_one_run(void)
{
    expect_upstream("{'models':['x'],'route':'fallback','model':'m'," M
                    ",'provider':{},'preset':'speed','top_k':3,"
                    "'fallbacks':null,'filters':{}}", 0, 0,
                    "{'model':'up-m'," M ",'top_k':3}");
}

static void
upstream_body_cuts_routing_fields_and_asks_for_usage_in_one_copy(void)
{
    expect_upstream("{'provider':{'sort':'price'},'model':'m','stream':true,"
                    M ",'max_tokens':500}", 12, 1,
                    "{'stream_options':{'include_usage':true},"
                    "'model':'up-m','stream':true," M ",'max_tokens':12}");
}

FG_TEST_MAIN("upstream_body",
    FG_TEST_CASE(upstream_body_renames_the_model_and_keeps_every_other_byte),
    FG_TEST_CASE(
        upstream_body_writes_lowered_max_tokens_where_the_client_put_it),
    FG_TEST_CASE(
        upstream_body_writes_lowered_max_completion_tokens_in_that_field_only),
    FG_TEST_CASE(
        upstream_body_writes_both_token_fields_when_the_client_sent_both),
    FG_TEST_CASE(
        upstream_body_adds_max_completion_tokens_when_the_client_named_none),
    FG_TEST_CASE(upstream_body_writes_a_lowered_value_over_a_null_token_field),
    FG_TEST_CASE(upstream_body_leaves_the_token_field_alone_when_not_lowered),
    FG_TEST_CASE(upstream_body_asks_for_usage_with_no_stream_options),
    FG_TEST_CASE(upstream_body_asks_for_usage_in_the_clients_stream_options),
    FG_TEST_CASE(upstream_body_lowers_and_asks_for_usage_in_one_copy),
    FG_TEST_CASE(upstream_body_cuts_a_routing_field_between_kept_members),
    FG_TEST_CASE(upstream_body_cuts_a_routing_field_that_comes_first),
    FG_TEST_CASE(upstream_body_cuts_a_routing_field_that_comes_last),
    FG_TEST_CASE(upstream_body_cuts_adjacent_routing_fields_as_one_run),
    FG_TEST_CASE(
        upstream_body_cuts_routing_fields_and_asks_for_usage_in_one_copy))
