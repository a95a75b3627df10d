/*
 * test_upstream_body.c: the body sent upstream is the client's bytes with
 * the gateway's edits only: the model's upstream name, a lowered maximum
 * output written in whichever token field the client used (at the span
 * validation recorded), include_usage for a stream, the gateway's own
 * fields cut (worker/routereq.h), and the reasoning asked written in the
 * endpoint's form (a mapped reasoning_effort, or "reasoning" translated).
 * Bodies are written with ' for " so they read like the JSON they are.
 */

#include "worker/upstream_body.h"

#include <stdlib.h>
#include <string.h>

#include "common/base/errors.h"
#include "worker/validate.h"
#include "tests/unit/fg_test.h"

/* The endpoint a body goes to: "up-m" of model "m". */
typedef struct {
    fg_model_t    model;
    fg_endpoint_t e;
} upstream_to_t;

/* The JSON @text (' for "), parsed. */
static json_t *
upstream_json(const char *text)
{
    char   buf[256];
    size_t i;

    for (i = 0; text[i] != '\0' && i + 1 < sizeof(buf); i++) {
        buf[i] = text[i] == '\'' ? '"' : text[i];
    }
    buf[i] = '\0';
    return json_loads(buf, 0, NULL);
}

/*
 * Endpoint "up-m" taking "reasoning" as @format, accepting the efforts
 * @efforts (JSON text, ' for ", an array), its model mapping @map (JSON
 * text, an object; NULL: no map).
 */
static void
upstream_to(upstream_to_t *to, fg_reasoning_format_t format,
            const char *efforts, const char *map)
{
    memset(to, 0, sizeof(*to));
    to->model.id = "m";
    to->model.reasoning_effort_map = map != NULL ? upstream_json(map)
                                                 : NULL;
    to->e.model = &to->model;
    to->e.upstream_id = "up-m";
    to->e.reasoning_effort = upstream_json(efforts);
    to->e.reasoning_format = format;
}

static void
upstream_to_cleanup(upstream_to_t *to)
{
    json_decref(to->model.reasoning_effort_map);
    json_decref(to->e.reasoning_effort);
}

/* The upstream body of @client (' for "), validated first, sent to @to
 * with @lowered, @max_output and @ask_usage. Returns a malloc'd string
 * with " written as '. */
static char *
upstream_at(const char *client, const upstream_to_t *to, int64_t lowered,
            int64_t max_output, int ask_usage)
{
    size_t                i, n = strlen(client), len;
    char                 *body = malloc(n + 1), *out;
    fg_jdoc_t             doc;
    fg_chat_request_t     chat;
    fg_err_t              err;
    fg_upstream_body_in_t in;

    for (i = 0; i <= n; i++) {
        body[i] = client[i] == '\'' ? '"' : client[i];
    }
    if (fg_validate_chat_body(body, n, 64, &doc, &chat, &err) != FG_OK) {
        FG_TEST_FAIL("rejected %s: %s", client, err.msg);
        free(body);
        return NULL;
    }
    memset(&in, 0, sizeof(in));
    in.endpoint = &to->e;
    in.lowered_max_tokens = lowered;
    in.max_output = max_output;
    in.ask_usage = ask_usage;
    out = fg_upstream_body(&doc, &chat, &in, &len);
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

/* The upstream body at an endpoint that takes no reasoning. */
static char *
upstream_of(const char *client, int64_t lowered, int ask_usage)
{
    upstream_to_t to;
    char         *out;

    upstream_to(&to, FG_REASONING_NONE, "[]", NULL);
    out = upstream_at(client, &to, lowered, 4096, ask_usage);
    upstream_to_cleanup(&to);
    return out;
}

#define M "'messages':[{'role':'user','content':'hi'}]"

#define expect_upstream(client, lowered, ask_usage, want)                   \
    do {                                                                    \
        char *got_ = upstream_of(client, lowered, ask_usage);               \
        expect_str_eq(got_, want);                                          \
        free(got_);                                                         \
    } while (0)

/* @client sent at an endpoint of @format accepting @efforts, its model
 * mapping @map, the limit lowered to @lowered (0: not), the candidate's
 * maximum output @max_output: the body is @want. */
#define expect_at(format, efforts, map, client, lowered, max_output, want) \
    do {                                                                    \
        upstream_to_t to_;                                                  \
        char         *got_;                                                 \
                                                                            \
        upstream_to(&to_, (format), (efforts), (map));                      \
        got_ = upstream_at((client), &to_, (lowered), (max_output), 0);     \
        expect_str_eq(got_, (want));                                        \
        free(got_);                                                         \
        upstream_to_cleanup(&to_);                                          \
    } while (0)

#define EFFORT   FG_REASONING_EFFORT
#define THINKING FG_REASONING_THINKING
#define BUDGET   FG_REASONING_THINKING_BUDGET

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

/* ---- the gateway's transforms, plugins and reasoning are cut --------- */

static void
upstream_body_cuts_transforms_that_come_first(void)
{
    expect_upstream("{'transforms':['middle-out'],'model':'m'," M "}", 0, 0,
                    "{'model':'up-m'," M "}");
}

static void
upstream_body_cuts_plugins_between_kept_members(void)
{
    expect_upstream("{'model':'m', 'plugins':[{'id':'response-healing',"
                    "'enabled':true}], " M "}", 0, 0,
                    "{'model':'up-m', " M "}");
}

static void
upstream_body_cuts_reasoning_that_comes_last(void)
{
    expect_upstream("{'model':'m'," M ", 'reasoning':{'exclude':true} }", 0,
                    0, "{'model':'up-m'," M "}");
}

static void
upstream_body_cuts_transforms_plugins_and_reasoning_with_routing_fields(void)
{
    expect_upstream("{'transforms':[],'model':'m','plugins':null,"
                    "'reasoning':{'enabled':false},'preset':'price'," M
                    ",'top_k':1,'provider':{},'filters':null}", 0, 0,
                    "{'model':'up-m'," M ",'top_k':1}");
}

/* Every edit at once, the cuts in as many runs as there can be: the
 * edit list's bound (UPSTREAM_BODY_EDITS_MAX) holds. */
static void
upstream_body_makes_every_edit_at_once(void)
{
    expect_at(EFFORT, "['low','high']", NULL,
              "{'models':['x'],'model':'m','route':'fallback',"
              "'stream':true,'provider':{},'n':1,'preset':'speed',"
              "'top_k':1,'filters':{},'seed':1,'transforms':[],"
              "'top_p':1,'plugins':[],'temperature':1,"
              "'reasoning':{'effort':'high'},'max_tokens':900,"
              "'max_completion_tokens':1000," M "}", 12, 4096,
              "{'reasoning_effort':'high','model':'up-m','stream':true,"
              "'n':1,'top_k':1,'seed':1,'top_p':1,'temperature':1,"
              "'max_tokens':12,'max_completion_tokens':12," M "}");
}

/* ---- reasoning: the reasoning_effort form ---------------------------- */

static void
upstream_body_sends_an_accepted_effort_as_reasoning_effort(void)
{
    expect_at(EFFORT, "['low','medium','high']", NULL,
              "{'model':'m'," M ",'reasoning':{'effort':'medium'}}", 0,
              4096, "{'reasoning_effort':'medium','model':'up-m'," M "}");
}

static void
upstream_body_sends_the_nearest_accepted_effort_ties_going_up(void)
{
    expect_at(EFFORT, "['low','high']", NULL,
              "{'model':'m'," M ",'reasoning':{'effort':'medium'}}", 0,
              4096, "{'reasoning_effort':'high','model':'up-m'," M "}");
    expect_at(EFFORT, "['low','high']", NULL,
              "{'model':'m'," M ",'reasoning':{'effort':'xhigh'}}", 0,
              4096, "{'reasoning_effort':'high','model':'up-m'," M "}");
    expect_at(EFFORT, "['low','high']", NULL,
              "{'model':'m'," M ",'reasoning':{'effort':'minimal'}}", 0,
              4096, "{'reasoning_effort':'low','model':'up-m'," M "}");
}

static void
upstream_body_never_sends_none_for_a_reasoning_asked(void)
{
    expect_at(EFFORT, "['none','high']", NULL,
              "{'model':'m'," M ",'reasoning':{'effort':'minimal'}}", 0,
              4096, "{'reasoning_effort':'high','model':'up-m'," M "}");
}

static void
upstream_body_sends_effort_none_only_where_it_is_accepted(void)
{
    expect_at(EFFORT, "['none','low']", NULL,
              "{'model':'m'," M ",'reasoning':{'effort':'none'}}", 0,
              4096, "{'reasoning_effort':'none','model':'up-m'," M "}");
    expect_at(EFFORT, "['low','high']", NULL,
              "{'model':'m'," M ",'reasoning':{'effort':'none'}}", 0,
              4096, "{'model':'up-m'," M "}");
}

static void
upstream_body_sends_no_reasoning_when_it_is_disabled(void)
{
    expect_at(EFFORT, "['low','high']", NULL,
              "{'model':'m'," M ",'reasoning':{'effort':'high',"
              "'enabled':false}}", 0, 4096, "{'model':'up-m'," M "}");
    expect_at(THINKING, "[]", NULL,
              "{'model':'m'," M ",'reasoning':{'enabled':false}}", 0,
              4096, "{'model':'up-m'," M "}");
}

static void
upstream_body_reads_reasoning_without_effort_or_budget_as_medium(void)
{
    expect_at(EFFORT, "['low','medium','high']", NULL,
              "{'model':'m'," M ",'reasoning':{'enabled':true}}", 0, 4096,
              "{'reasoning_effort':'medium','model':'up-m'," M "}");
    expect_at(EFFORT, "['low','medium','high']", NULL,
              "{'model':'m'," M ",'reasoning':{'exclude':true}}", 0, 4096,
              "{'reasoning_effort':'medium','model':'up-m'," M "}");
}

/* max_tokens / L: >= 0.8 high, >= 0.5 medium, >= 0.2 low, else minimal. */
static void
upstream_body_sends_a_budget_as_the_effort_of_its_share_of_the_limit(void)
{
    static const struct {
        const char *client, *want;
    } cases[] = {
        { "{'model':'m'," M ",'max_tokens':1000,'reasoning':"
          "{'max_tokens':800}}", "{'reasoning_effort':'high','model':'up-m',"
          M ",'max_tokens':1000}" },
        { "{'model':'m'," M ",'max_tokens':1000,'reasoning':"
          "{'max_tokens':799}}", "{'reasoning_effort':'medium','model':"
          "'up-m'," M ",'max_tokens':1000}" },
        { "{'model':'m'," M ",'max_tokens':1000,'reasoning':"
          "{'max_tokens':500}}", "{'reasoning_effort':'medium','model':"
          "'up-m'," M ",'max_tokens':1000}" },
        { "{'model':'m'," M ",'max_tokens':1000,'reasoning':"
          "{'max_tokens':200}}", "{'reasoning_effort':'low','model':'up-m',"
          M ",'max_tokens':1000}" },
        { "{'model':'m'," M ",'max_tokens':1000,'reasoning':"
          "{'max_tokens':199}}", "{'reasoning_effort':'minimal','model':"
          "'up-m'," M ",'max_tokens':1000}" },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_at(EFFORT, "['minimal','low','medium','high']", NULL,
                  cases[i].client, 0, 4096, cases[i].want);
    }
}

static void
upstream_body_measures_a_budget_against_the_lowered_limit(void)
{
    expect_at(EFFORT, "['low','medium','high']", NULL,
              "{'model':'m'," M ",'max_tokens':1000,'reasoning':"
              "{'max_tokens':400}}", 500, 4096,
              "{'reasoning_effort':'high','model':'up-m'," M
              ",'max_tokens':500}");
}

static void
upstream_body_measures_a_budget_against_the_candidates_maximum(void)
{
    expect_at(EFFORT, "['low','medium','high']", NULL,
              "{'model':'m'," M ",'reasoning':{'max_tokens':500}}", 0, 1000,
              "{'reasoning_effort':'medium','model':'up-m'," M "}");
}

/* ---- reasoning: the token-budget forms ------------------------------- */

static void
upstream_body_sends_an_effort_as_a_thinking_budget_share_of_the_limit(void)
{
    expect_at(THINKING, "[]", NULL,
              "{'model':'m'," M ",'max_tokens':10000,'reasoning':"
              "{'effort':'high'}}", 0, 4096,
              "{'thinking':{'type':'enabled','budget_tokens':8000},"
              "'model':'up-m'," M ",'max_tokens':10000}");
    expect_at(THINKING, "[]", NULL,
              "{'model':'m'," M ",'max_tokens':10000,'reasoning':"
              "{'effort':'xhigh'}}", 0, 4096,
              "{'thinking':{'type':'enabled','budget_tokens':9500},"
              "'model':'up-m'," M ",'max_tokens':10000}");
    expect_at(THINKING, "[]", NULL,
              "{'model':'m'," M ",'max_tokens':10000,'reasoning':"
              "{'effort':'low'}}", 0, 4096,
              "{'thinking':{'type':'enabled','budget_tokens':2000},"
              "'model':'up-m'," M ",'max_tokens':10000}");
}

static void
upstream_body_clamps_a_thinking_budget_to_1024_and_32000(void)
{
    expect_at(THINKING, "[]", NULL,
              "{'model':'m'," M ",'max_tokens':100000,'reasoning':"
              "{'effort':'high'}}", 0, 4096,
              "{'thinking':{'type':'enabled','budget_tokens':32000},"
              "'model':'up-m'," M ",'max_tokens':100000}");
    expect_at(THINKING, "[]", NULL,
              "{'model':'m'," M ",'max_tokens':2000,'reasoning':"
              "{'effort':'minimal'}}", 0, 4096,
              "{'thinking':{'type':'enabled','budget_tokens':1024},"
              "'model':'up-m'," M ",'max_tokens':2000}");
}

static void
upstream_body_sends_no_budget_for_an_effort_within_a_limit_of_1024(void)
{
    expect_at(THINKING, "[]", NULL,
              "{'model':'m'," M ",'max_tokens':1024,'reasoning':"
              "{'effort':'high'}}", 0, 4096,
              "{'model':'up-m'," M ",'max_tokens':1024}");
    expect_at(THINKING, "[]", NULL,
              "{'model':'m'," M ",'max_tokens':1025,'reasoning':"
              "{'effort':'minimal'}}", 0, 4096,
              "{'thinking':{'type':'enabled','budget_tokens':1024},"
              "'model':'up-m'," M ",'max_tokens':1025}");
    expect_at(BUDGET, "[]", NULL,
              "{'model':'m'," M ",'reasoning':{'effort':'high'}}", 0, 1000,
              "{'model':'up-m'," M "}");
}

static void
upstream_body_sends_a_budget_asked_as_it_is(void)
{
    expect_at(THINKING, "[]", NULL,
              "{'model':'m'," M ",'max_tokens':10000,'reasoning':"
              "{'max_tokens':3000}}", 0, 4096,
              "{'thinking':{'type':'enabled','budget_tokens':3000},"
              "'model':'up-m'," M ",'max_tokens':10000}");
}

static void
upstream_body_cuts_a_budget_asked_below_a_lowered_limit(void)
{
    expect_at(THINKING, "[]", NULL,
              "{'model':'m'," M ",'max_tokens':10000,'reasoning':"
              "{'max_tokens':5000}}", 2000, 4096,
              "{'thinking':{'type':'enabled','budget_tokens':1999},"
              "'model':'up-m'," M ",'max_tokens':2000}");
    expect_at(THINKING, "[]", NULL,
              "{'model':'m'," M ",'max_tokens':10000,'reasoning':"
              "{'max_tokens':5000}}", 1000, 4096,
              "{'model':'up-m'," M ",'max_tokens':1000}");
}

static void
upstream_body_sends_qwens_enable_thinking_and_thinking_budget(void)
{
    expect_at(BUDGET, "[]", NULL,
              "{'model':'m'," M ",'max_tokens':10000,'reasoning':"
              "{'effort':'medium'}}", 0, 4096,
              "{'enable_thinking':true,'thinking_budget':5000,"
              "'model':'up-m'," M ",'max_tokens':10000}");
    expect_at(BUDGET, "[]", NULL,
              "{'model':'m'," M ",'reasoning':{'max_tokens':2048}}", 0,
              4096, "{'enable_thinking':true,'thinking_budget':2048,"
              "'model':'up-m'," M "}");
}

static void
upstream_body_sends_no_budget_for_effort_none(void)
{
    expect_at(THINKING, "[]", NULL,
              "{'model':'m'," M ",'max_tokens':10000,'reasoning':"
              "{'effort':'none'}}", 0, 4096,
              "{'model':'up-m'," M ",'max_tokens':10000}");
}

static void
upstream_body_leaves_a_thinking_member_the_client_sent_itself(void)
{
    expect_at(THINKING, "[]", NULL,
              "{'model':'m'," M ",'thinking':{'type':'disabled'},"
              "'reasoning':{'effort':'high'}}", 0, 4096,
              "{'model':'up-m'," M ",'thinking':{'type':'disabled'}}");
    expect_at(BUDGET, "[]", NULL,
              "{'model':'m'," M ",'thinking_budget':10,"
              "'reasoning':{'effort':'high'}}", 0, 4096,
              "{'model':'up-m'," M ",'thinking_budget':10}");
}

static void
upstream_body_writes_the_effort_over_a_null_reasoning_effort(void)
{
    expect_at(EFFORT, "['low','high']", NULL,
              "{'model':'m','reasoning_effort':null," M ",'reasoning':"
              "{'effort':'high'}}", 0, 4096,
              "{'model':'up-m','reasoning_effort':'high'," M "}");
}

static void
upstream_body_sends_nothing_for_reasoning_at_an_endpoint_without_a_form(void)
{
    expect_at(FG_REASONING_NONE, "[]", NULL,
              "{'model':'m'," M ",'max_tokens':10000,'reasoning':"
              "{'effort':'high'}}", 0, 4096,
              "{'model':'up-m'," M ",'max_tokens':10000}");
}

/* ---- the top-level reasoning_effort and the model's map -------------- */

static void
upstream_body_rewrites_reasoning_effort_to_the_mapped_value(void)
{
    expect_at(EFFORT, "['low','high']", "{'xhigh':'high','minimal':'low'}",
              "{'model':'m','reasoning_effort':'xhigh'," M "}", 0, 4096,
              "{'model':'up-m','reasoning_effort':'high'," M "}");
}

static void
upstream_body_keeps_a_reasoning_effort_the_endpoint_takes_itself(void)
{
    expect_at(EFFORT, "['low','high']", "{'low':'high'}",
              "{'model':'m','reasoning_effort':'low'," M "}", 0, 4096,
              "{'model':'up-m','reasoning_effort':'low'," M "}");
    expect_at(EFFORT, "['low','high']", NULL,
              "{'model':'m','reasoning_effort':'high'," M "}", 0, 4096,
              "{'model':'up-m','reasoning_effort':'high'," M "}");
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
        upstream_body_cuts_routing_fields_and_asks_for_usage_in_one_copy),
    FG_TEST_CASE(upstream_body_cuts_transforms_that_come_first),
    FG_TEST_CASE(upstream_body_cuts_plugins_between_kept_members),
    FG_TEST_CASE(upstream_body_cuts_reasoning_that_comes_last),
    FG_TEST_CASE(
        upstream_body_cuts_transforms_plugins_and_reasoning_with_routing_fields),
    FG_TEST_CASE(upstream_body_makes_every_edit_at_once),
    FG_TEST_CASE(upstream_body_sends_an_accepted_effort_as_reasoning_effort),
    FG_TEST_CASE(
        upstream_body_sends_the_nearest_accepted_effort_ties_going_up),
    FG_TEST_CASE(upstream_body_never_sends_none_for_a_reasoning_asked),
    FG_TEST_CASE(upstream_body_sends_effort_none_only_where_it_is_accepted),
    FG_TEST_CASE(upstream_body_sends_no_reasoning_when_it_is_disabled),
    FG_TEST_CASE(
        upstream_body_reads_reasoning_without_effort_or_budget_as_medium),
    FG_TEST_CASE(
        upstream_body_sends_a_budget_as_the_effort_of_its_share_of_the_limit),
    FG_TEST_CASE(upstream_body_measures_a_budget_against_the_lowered_limit),
    FG_TEST_CASE(
        upstream_body_measures_a_budget_against_the_candidates_maximum),
    FG_TEST_CASE(
        upstream_body_sends_an_effort_as_a_thinking_budget_share_of_the_limit),
    FG_TEST_CASE(upstream_body_clamps_a_thinking_budget_to_1024_and_32000),
    FG_TEST_CASE(
        upstream_body_sends_no_budget_for_an_effort_within_a_limit_of_1024),
    FG_TEST_CASE(upstream_body_sends_a_budget_asked_as_it_is),
    FG_TEST_CASE(upstream_body_cuts_a_budget_asked_below_a_lowered_limit),
    FG_TEST_CASE(upstream_body_sends_qwens_enable_thinking_and_thinking_budget),
    FG_TEST_CASE(upstream_body_sends_no_budget_for_effort_none),
    FG_TEST_CASE(upstream_body_leaves_a_thinking_member_the_client_sent_itself),
    FG_TEST_CASE(upstream_body_writes_the_effort_over_a_null_reasoning_effort),
    FG_TEST_CASE(
        upstream_body_sends_nothing_for_reasoning_at_an_endpoint_without_a_form),
    FG_TEST_CASE(upstream_body_rewrites_reasoning_effort_to_the_mapped_value),
    FG_TEST_CASE(
        upstream_body_keeps_a_reasoning_effort_the_endpoint_takes_itself))
