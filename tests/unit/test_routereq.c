/*
 * test_routereq.c: the gateway's "transforms", "plugins" and "reasoning"
 * (worker/routereq.c), validated through the chat validator as a client
 * sends them: each rule accepted and refused with the exact error code
 * and param, and what validation records of them (fg_transformreq_t).
 * The routing fields' own rules are in test_validate.c. Bodies are
 * written with ' for " so they read like the JSON they are.
 */

#include "worker/routereq.h"

#include <stdlib.h>
#include <string.h>

#include "common/base/errors.h"
#include "worker/validate.h"
#include "tests/unit/fg_test.h"

/* A valid request to which a test appends its fields: REQ(",'n':2"). */
#define REQ(extra)                                                          \
    "{'model':'m','messages':[{'role':'user','content':'hi'}]" extra "}"

static fg_err_t          rr_err;
static fg_chat_request_t rr_req;

/* Validates @body (' for "): 1 when accepted (rr_req filled), 0 when
 * refused (rr_err set). */
static int
rr_run(const char *body)
{
    size_t    i, n = strlen(body);
    char     *s = malloc(n + 1);
    fg_jdoc_t doc;
    int       ok;

    for (i = 0; i <= n; i++) {
        s[i] = body[i] == '\'' ? '"' : body[i];
    }
    memset(&rr_err, 0, sizeof(rr_err));
    memset(&rr_req, 0, sizeof(rr_req));
    ok = fg_validate_chat_body(s, n, 64, &doc, &rr_req, &rr_err) == FG_OK;
    if (ok) {
        fg_jdoc_free(&doc);
    }
    free(s);
    return ok;
}

#define expect_accepted(body_)                                              \
    do {                                                                    \
        if (!rr_run(body_)) {                                               \
            FG_TEST_FAIL("rejected %s: %s [%s] %s", body_,                  \
                         fg_error_code_str(rr_err.code), rr_err.param,      \
                         rr_err.msg);                                       \
        }                                                                   \
    } while (0)

#define expect_rejected(body_, code_, param_)                               \
    do {                                                                    \
        expect_true(!rr_run(body_));                                        \
        expect_str_eq(fg_error_code_str(rr_err.code),                       \
                      fg_error_code_str(code_));                            \
        expect_str_eq(rr_err.param, param_);                                \
    } while (0)

/* The last error's message holds @text. */
#define expect_message_has(text_)                                           \
    do {                                                                    \
        if (strstr(rr_err.msg, (text_)) == NULL) {                          \
            FG_TEST_FAIL("message \"%s\" lacks \"%s\"", rr_err.msg,         \
                         (text_));                                          \
        }                                                                   \
    } while (0)

/* ---- nothing given ---------------------------------------------------- */

static void
routereq_leaves_compression_healing_and_reasoning_unset_when_not_given(void)
{
    expect_accepted(REQ(""));
    expect_int_eq(rr_req.xf.compress, -1);
    expect_int_eq(rr_req.xf.heal, -1);
    expect_int_eq(rr_req.xf.has_reasoning, 0);
    expect_int_eq(rr_req.xf.reasoning_enabled, 0);
    expect_true(rr_req.xf.reasoning_effort.s == NULL);
    expect_int_eq(rr_req.xf.json_mode, 0);
    expect_true(rr_req.route.member[FG_ROUTEREQ_TRANSFORMS] == FG_JNONE);
    expect_true(rr_req.route.member[FG_ROUTEREQ_PLUGINS] == FG_JNONE);
    expect_true(rr_req.route.member[FG_ROUTEREQ_REASONING] == FG_JNONE);
}

static void
routereq_reads_null_fields_as_absent_and_records_them_to_be_cut(void)
{
    expect_accepted(REQ(",'transforms':null,'plugins':null,"
                        "'reasoning':null"));
    expect_int_eq(rr_req.xf.compress, -1);
    expect_int_eq(rr_req.xf.heal, -1);
    expect_int_eq(rr_req.xf.has_reasoning, 0);
    expect_true(rr_req.route.member[FG_ROUTEREQ_TRANSFORMS] != FG_JNONE);
    expect_true(rr_req.route.member[FG_ROUTEREQ_PLUGINS] != FG_JNONE);
    expect_true(rr_req.route.member[FG_ROUTEREQ_REASONING] != FG_JNONE);
}

/* ---- transforms ------------------------------------------------------- */

static void
routereq_turns_compression_on_with_middle_out(void)
{
    expect_accepted(REQ(",'transforms':['middle-out']"));
    expect_int_eq(rr_req.xf.compress, 1);
}

static void
routereq_turns_compression_off_with_an_empty_transforms(void)
{
    expect_accepted(REQ(",'transforms':[]"));
    expect_int_eq(rr_req.xf.compress, 0);
}

static void
routereq_refuses_transforms_that_are_not_an_array_of_strings(void)
{
    expect_rejected(REQ(",'transforms':'middle-out'"), FG_E_INVALID_TYPE,
                    "transforms");
    expect_rejected(REQ(",'transforms':['middle-out',1]"),
                    FG_E_INVALID_TYPE, "transforms[1]");
}

static void
routereq_refuses_an_unknown_transform_naming_it(void)
{
    expect_rejected(REQ(",'transforms':['middle-out','squash']"),
                    FG_E_INVALID_VALUE, "transforms[1]");
    expect_message_has("'middle-out'");
    expect_message_has("got 'squash'");
}

static void
routereq_refuses_more_than_8_transforms(void)
{
    expect_accepted(REQ(",'transforms':['middle-out','middle-out',"
                        "'middle-out','middle-out','middle-out','middle-out',"
                        "'middle-out','middle-out']"));
    expect_rejected(REQ(",'transforms':['middle-out','middle-out',"
                        "'middle-out','middle-out','middle-out','middle-out',"
                        "'middle-out','middle-out','middle-out']"),
                    FG_E_OUT_OF_RANGE, "transforms");
}

/* ---- plugins ---------------------------------------------------------- */

static void
routereq_turns_compression_on_with_the_context_compression_plugin(void)
{
    expect_accepted(REQ(",'plugins':[{'id':'context-compression'}]"));
    expect_int_eq(rr_req.xf.compress, 1);
    expect_int_eq(rr_req.xf.heal, -1);
    expect_accepted(REQ(",'plugins':[{'id':'context-compression',"
                        "'enabled':false}]"));
    expect_int_eq(rr_req.xf.compress, 0);
}

static void
routereq_lets_the_compression_plugin_decide_over_transforms(void)
{
    expect_accepted(REQ(",'plugins':[{'id':'context-compression',"
                        "'enabled':false}],'transforms':['middle-out']"));
    expect_int_eq(rr_req.xf.compress, 0);
    expect_accepted(REQ(",'transforms':[],'plugins':[{'id':"
                        "'context-compression','enabled':null}]"));
    expect_int_eq(rr_req.xf.compress, 1);
}

static void
routereq_turns_healing_on_or_off_with_the_response_healing_plugin(void)
{
    expect_accepted(REQ(",'plugins':[{'id':'response-healing',"
                        "'enabled':true}]"));
    expect_int_eq(rr_req.xf.heal, 1);
    expect_int_eq(rr_req.xf.compress, -1);
    expect_accepted(REQ(",'plugins':[{'id':'response-healing',"
                        "'enabled':false},{'id':'context-compression'}]"));
    expect_int_eq(rr_req.xf.heal, 0);
    expect_int_eq(rr_req.xf.compress, 1);
}

static void
routereq_refuses_the_web_and_file_parser_plugins_as_not_offered(void)
{
    expect_rejected(REQ(",'plugins':[{'id':'web'}]"), FG_E_INVALID_VALUE,
                    "plugins[0].id");
    expect_message_has("does not offer the plugin 'web'");
    expect_rejected(REQ(",'plugins':[{'id':'response-healing'},"
                        "{'id':'file-parser'}]"), FG_E_INVALID_VALUE,
                    "plugins[1].id");
    expect_message_has("does not offer the plugin 'file-parser'");
}

static void
routereq_refuses_an_unknown_plugin_naming_its_id(void)
{
    expect_rejected(REQ(",'plugins':[{'id':'moderation'}]"),
                    FG_E_INVALID_VALUE, "plugins[0].id");
    expect_message_has("Unknown plugin 'moderation'");
}

static void
routereq_refuses_a_plugin_listed_twice(void)
{
    expect_rejected(REQ(",'plugins':[{'id':'response-healing'},"
                        "{'id':'response-healing','enabled':false}]"),
                    FG_E_INVALID_VALUE, "plugins[1].id");
    expect_message_has("listed twice");
}

static void
routereq_refuses_an_unknown_member_of_a_plugin_naming_its_path(void)
{
    expect_rejected(REQ(",'plugins':[{'id':'response-healing',"
                        "'max_results':3}]"), FG_E_INVALID_VALUE,
                    "plugins[0].max_results");
}

static void
routereq_refuses_a_plugin_without_a_string_id(void)
{
    expect_rejected(REQ(",'plugins':[{'enabled':true}]"),
                    FG_E_REQUIRED_FIELD, "plugins[0].id");
    expect_rejected(REQ(",'plugins':[{'id':null}]"), FG_E_REQUIRED_FIELD,
                    "plugins[0].id");
    expect_rejected(REQ(",'plugins':[{'id':7}]"), FG_E_INVALID_TYPE,
                    "plugins[0].id");
}

static void
routereq_refuses_plugins_of_the_wrong_shape(void)
{
    expect_rejected(REQ(",'plugins':{'id':'web'}"), FG_E_INVALID_TYPE,
                    "plugins");
    expect_rejected(REQ(",'plugins':['response-healing']"),
                    FG_E_INVALID_TYPE, "plugins[0]");
    expect_rejected(REQ(",'plugins':[{'id':'response-healing',"
                        "'enabled':'yes'}]"), FG_E_INVALID_TYPE,
                    "plugins[0].enabled");
}

static void
routereq_refuses_more_than_8_plugins(void)
{
    expect_rejected(REQ(",'plugins':[{},{},{},{},{},{},{},{},{}]"),
                    FG_E_OUT_OF_RANGE, "plugins");
}

/* An id of 200 bytes is quoted cut to 64, control bytes replaced. */
static void
routereq_quotes_at_most_64_bytes_of_a_plugin_id(void)
{
    char   body[512], id[201], quoted[70];

    memset(id, 'x', 200);
    id[0] = '\\';
    id[1] = 'n';                /* a newline, once decoded */
    id[200] = '\0';
    snprintf(body, sizeof(body), REQ(",'plugins':[{'id':'%s'}]"), id);
    expect_rejected(body, FG_E_INVALID_VALUE, "plugins[0].id");
    /* '?', 63 x of the 198, and the closing quote. */
    quoted[0] = '\'';
    quoted[1] = '?';
    memset(quoted + 2, 'x', 63);
    quoted[65] = '\'';
    quoted[66] = '\0';
    expect_message_has(quoted);
}

/* ---- reasoning -------------------------------------------------------- */

static void
routereq_records_reasoning_effort_and_exclude(void)
{
    expect_accepted(REQ(",'reasoning':{'effort':'high','exclude':true}"));
    expect_int_eq(rr_req.xf.has_reasoning, 1);
    expect_int_eq(rr_req.xf.reasoning_enabled, 1);
    expect_int_eq(rr_req.xf.reasoning_exclude, 1);
    expect_int_eq(rr_req.xf.reasoning_effort.len, 4);
    expect_true(rr_req.xf.reasoning_effort.s != NULL
                && memcmp(rr_req.xf.reasoning_effort.s, "high", 4) == 0);
    expect_int_eq(rr_req.xf.reasoning_max_tokens, 0);
}

static void
routereq_accepts_every_reasoning_effort(void)
{
    static const char *const bodies[] = {
        REQ(",'reasoning':{'effort':'none'}"),
        REQ(",'reasoning':{'effort':'minimal'}"),
        REQ(",'reasoning':{'effort':'low'}"),
        REQ(",'reasoning':{'effort':'medium'}"),
        REQ(",'reasoning':{'effort':'high'}"),
        REQ(",'reasoning':{'effort':'xhigh'}"),
    };
    size_t i;

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        expect_accepted(bodies[i]);
        expect_int_eq(fg_routereq_effort_rank(rr_req.xf.reasoning_effort.s,
                                              rr_req.xf.reasoning_effort.len),
                      (long long) i);
    }
}

static void
routereq_records_a_reasoning_budget(void)
{
    expect_accepted(REQ(",'max_tokens':1000,'reasoning':{'max_tokens':999}"));
    expect_int_eq(rr_req.xf.reasoning_max_tokens, 999);
    expect_true(rr_req.xf.reasoning_effort.s == NULL);
    expect_accepted(REQ(",'reasoning':{'max_tokens':2147483647}"));
    expect_int_eq(rr_req.xf.reasoning_max_tokens, 2147483647LL);
}

static void
routereq_reads_disabled_reasoning_and_effort_none_as_no_reasoning(void)
{
    expect_accepted(REQ(",'reasoning':{'enabled':false,'exclude':true}"));
    expect_int_eq(rr_req.xf.has_reasoning, 1);
    expect_int_eq(rr_req.xf.reasoning_enabled, 0);
    expect_int_eq(rr_req.xf.reasoning_exclude, 1);
    expect_accepted(REQ(",'reasoning':{'effort':'none'}"));
    expect_int_eq(rr_req.xf.reasoning_enabled, 0);
    expect_accepted(REQ(",'reasoning':{'enabled':true}"));
    expect_int_eq(rr_req.xf.reasoning_enabled, 1);
    expect_true(rr_req.xf.reasoning_effort.s == NULL);
    expect_accepted(REQ(",'reasoning':{}"));
    expect_int_eq(rr_req.xf.reasoning_enabled, 1);
}

static void
routereq_refuses_reasoning_that_is_not_an_object(void)
{
    expect_rejected(REQ(",'reasoning':'high'"), FG_E_INVALID_TYPE,
                    "reasoning");
}

static void
routereq_refuses_an_unknown_member_of_reasoning_naming_its_path(void)
{
    expect_rejected(REQ(",'reasoning':{'budget_tokens':100}"),
                    FG_E_INVALID_VALUE, "reasoning.budget_tokens");
    expect_rejected(REQ(",'reasoning':{'summary':null}"),
                    FG_E_INVALID_VALUE, "reasoning.summary");
}

static void
routereq_refuses_an_unknown_reasoning_effort(void)
{
    expect_rejected(REQ(",'reasoning':{'effort':'max'}"),
                    FG_E_INVALID_VALUE, "reasoning.effort");
    expect_message_has("got 'max'");
    expect_rejected(REQ(",'reasoning':{'effort':3}"), FG_E_INVALID_TYPE,
                    "reasoning.effort");
}

static void
routereq_refuses_a_reasoning_budget_out_of_range_or_type(void)
{
    expect_rejected(REQ(",'reasoning':{'max_tokens':0}"), FG_E_OUT_OF_RANGE,
                    "reasoning.max_tokens");
    expect_rejected(REQ(",'reasoning':{'max_tokens':2147483648}"),
                    FG_E_OUT_OF_RANGE, "reasoning.max_tokens");
    expect_rejected(REQ(",'reasoning':{'max_tokens':10.5}"),
                    FG_E_INVALID_TYPE, "reasoning.max_tokens");
    expect_rejected(REQ(",'reasoning':{'max_tokens':'1000'}"),
                    FG_E_INVALID_TYPE, "reasoning.max_tokens");
}

static void
routereq_refuses_reasoning_flags_that_are_not_booleans(void)
{
    expect_rejected(REQ(",'reasoning':{'exclude':1}"), FG_E_INVALID_TYPE,
                    "reasoning.exclude");
    expect_rejected(REQ(",'reasoning':{'enabled':'true'}"),
                    FG_E_INVALID_TYPE, "reasoning.enabled");
}

static void
routereq_refuses_a_reasoning_effort_and_budget_together(void)
{
    expect_rejected(REQ(",'reasoning':{'effort':'low','max_tokens':100}"),
                    FG_E_INVALID_VALUE, "reasoning");
}

static void
routereq_refuses_reasoning_beside_a_top_level_reasoning_effort(void)
{
    expect_rejected(REQ(",'reasoning_effort':'low','reasoning':{}"),
                    FG_E_INVALID_VALUE, "reasoning");
    expect_accepted(REQ(",'reasoning_effort':null,'reasoning':{}"));
    expect_accepted(REQ(",'reasoning_effort':'low','reasoning':null"));
}

static void
routereq_refuses_a_budget_that_fills_a_token_limit(void)
{
    expect_rejected(REQ(",'max_tokens':1000,'reasoning':{'max_tokens':1000}"),
                    FG_E_OUT_OF_RANGE, "reasoning.max_tokens");
    expect_message_has("below max_tokens (1000)");
    expect_rejected(REQ(",'max_completion_tokens':500,'max_tokens':5000,"
                        "'reasoning':{'max_tokens':600}"),
                    FG_E_OUT_OF_RANGE, "reasoning.max_tokens");
    expect_message_has("below max_completion_tokens (500)");
    expect_accepted(REQ(",'max_tokens':null,'reasoning':{'max_tokens':5}"));
}

/* ---- the JSON mode ---------------------------------------------------- */

static void
routereq_records_the_json_mode_of_response_format(void)
{
    expect_accepted(REQ(",'response_format':{'type':'json_object'}"));
    expect_int_eq(rr_req.xf.json_mode, 1);
    expect_accepted(REQ(",'response_format':{'type':'json_schema',"
                        "'json_schema':{'name':'x'}}"));
    expect_int_eq(rr_req.xf.json_mode, 1);
    expect_accepted(REQ(",'response_format':{'type':'text'}"));
    expect_int_eq(rr_req.xf.json_mode, 0);
}

FG_TEST_MAIN("routereq",
    FG_TEST_CASE(
        routereq_leaves_compression_healing_and_reasoning_unset_when_not_given),
    FG_TEST_CASE(
        routereq_reads_null_fields_as_absent_and_records_them_to_be_cut),
    FG_TEST_CASE(routereq_turns_compression_on_with_middle_out),
    FG_TEST_CASE(routereq_turns_compression_off_with_an_empty_transforms),
    FG_TEST_CASE(routereq_refuses_transforms_that_are_not_an_array_of_strings),
    FG_TEST_CASE(routereq_refuses_an_unknown_transform_naming_it),
    FG_TEST_CASE(routereq_refuses_more_than_8_transforms),
    FG_TEST_CASE(
        routereq_turns_compression_on_with_the_context_compression_plugin),
    FG_TEST_CASE(routereq_lets_the_compression_plugin_decide_over_transforms),
    FG_TEST_CASE(
        routereq_turns_healing_on_or_off_with_the_response_healing_plugin),
    FG_TEST_CASE(
        routereq_refuses_the_web_and_file_parser_plugins_as_not_offered),
    FG_TEST_CASE(routereq_refuses_an_unknown_plugin_naming_its_id),
    FG_TEST_CASE(routereq_refuses_a_plugin_listed_twice),
    FG_TEST_CASE(
        routereq_refuses_an_unknown_member_of_a_plugin_naming_its_path),
    FG_TEST_CASE(routereq_refuses_a_plugin_without_a_string_id),
    FG_TEST_CASE(routereq_refuses_plugins_of_the_wrong_shape),
    FG_TEST_CASE(routereq_refuses_more_than_8_plugins),
    FG_TEST_CASE(routereq_quotes_at_most_64_bytes_of_a_plugin_id),
    FG_TEST_CASE(routereq_records_reasoning_effort_and_exclude),
    FG_TEST_CASE(routereq_accepts_every_reasoning_effort),
    FG_TEST_CASE(routereq_records_a_reasoning_budget),
    FG_TEST_CASE(
        routereq_reads_disabled_reasoning_and_effort_none_as_no_reasoning),
    FG_TEST_CASE(routereq_refuses_reasoning_that_is_not_an_object),
    FG_TEST_CASE(
        routereq_refuses_an_unknown_member_of_reasoning_naming_its_path),
    FG_TEST_CASE(routereq_refuses_an_unknown_reasoning_effort),
    FG_TEST_CASE(routereq_refuses_a_reasoning_budget_out_of_range_or_type),
    FG_TEST_CASE(routereq_refuses_reasoning_flags_that_are_not_booleans),
    FG_TEST_CASE(routereq_refuses_a_reasoning_effort_and_budget_together),
    FG_TEST_CASE(
        routereq_refuses_reasoning_beside_a_top_level_reasoning_effort),
    FG_TEST_CASE(routereq_refuses_a_budget_that_fills_a_token_limit),
    FG_TEST_CASE(routereq_records_the_json_mode_of_response_format))
