/*
 * test_responses_req.c: a Responses request becomes the chat-completions
 * body it means, or a 400 naming the member at fault. Each mapping is
 * shown as the exact chat body it writes; every body written must pass
 * the chat validator (at the request's depth + 2, as the header says)
 * and keep within the size bound the header promises. Stored items come
 * from a fake store of a few ids. Bodies are written with ' for " so
 * they read like the JSON they are.
 */

#include "worker/responses_req.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/errors.h"
#include "common/wire/jdoc.h"
#include "worker/validate.h"
#include "tests/unit/fg_test.h"

#define RESP_TEST_DEPTH 8   /* small, so the depth bound is exercised */

/* The fake store: id -> items (' for "). "big" is made at run time. */
static const struct {
    const char *id;
    const char *items;
} resp_store[] = {
    { "resp_1", "[{'type':'message','role':'user','content':"
                "[{'type':'input_text','text':'Weather?'}]},"
                "{'id':'rs_1','type':'reasoning','summary':[]},"
                "{'id':'fc_1','type':'function_call','status':'completed',"
                "'call_id':'c1','name':'get','arguments':'{}'}]" },
    { "msg_9", "[{'id':'msg_9','type':'message','role':'assistant',"
               "'status':'completed','content':[{'type':'output_text',"
               "'text':'Earlier','annotations':[],'logprobs':[]}]}]" },
    { "nested", "[{'type':'item_reference','id':'msg_9'}]" },
    { "loop", "[{'type':'item_reference','id':'loop'}]" },
    { "broken", "[{'type':'message','role':'robot','content':'x'}]" },
    { "notarray", "{'type':'message'}" },
    { "notjson", "[{" },
};

static char  *resp_big;          /* a ~9 MiB stored array */
static size_t resp_big_len;
static int    resp_lookups;      /* calls of the fake lookup */

static char *
resp_swap(const char *text, size_t *len)
{
    size_t i, n = strlen(text);
    char  *s = malloc(n + 1);

    for (i = 0; i <= n; i++) {
        s[i] = text[i] == '\'' ? '"' : text[i];
    }
    *len = n;
    return s;
}

static int
resp_lookup(void *arg, const char *id, size_t len, char **json,
            size_t *json_len)
{
    size_t i;

    (void) arg;
    resp_lookups++;
    if (strlen(id) != len) {
        return FG_ERR;
    }
    if (strcmp(id, "big") == 0) {
        *json = malloc(resp_big_len);
        memcpy(*json, resp_big, resp_big_len);
        *json_len = resp_big_len;
        return FG_OK;
    }
    for (i = 0; i < sizeof(resp_store) / sizeof(resp_store[0]); i++) {
        if (strcmp(id, resp_store[i].id) == 0) {
            *json = resp_swap(resp_store[i].items, json_len);
            return FG_OK;
        }
    }
    return FG_ERR;
}

static fg_err_t           resp_err;
static fg_responses_req_t resp_out;
static fg_jdoc_t          resp_doc;
static char              *resp_body;     /* what resp_doc points into */
static char              *resp_chat;
static char              *resp_context;  /* the kept conversation */
static size_t             resp_context_len;

/* 1 when "[" + @context + "]" is a JSON array. */
static int
resp_context_is_array(const char *context, size_t len)
{
    fg_jdoc_t doc;
    char     *items = malloc(len + 3);
    int       ok;

    items[0] = '[';
    memcpy(items + 1, context, len);
    items[len + 1] = ']';
    items[len + 2] = '\0';
    ok = fg_jdoc_parse(&doc, items, len + 2, RESP_TEST_DEPTH + 4, NULL)
         == FG_OK;
    if (ok) {
        ok = fg_jdoc_type(&doc, 0) == FG_JARRAY;
        fg_jdoc_free(&doc);
    }
    free(items);
    return ok;
}

/* Expects the kept conversation of the last run to be @items (' for "). */
#define expect_context(items)                                               \
    do {                                                                    \
        size_t n_;                                                          \
        char  *want_ = resp_swap(items, &n_);                               \
        expect_str_eq(resp_context != NULL ? resp_context : "(none)",       \
                      want_);                                               \
        free(want_);                                                        \
    } while (0)

static void
resp_done(void)
{
    free(resp_body);
    free(resp_chat);
    free(resp_context);
    resp_body = resp_chat = resp_context = NULL;
}

/* 1 when @chat (@len bytes) passes the chat validator at @depth. */
static int
resp_chat_valid(const char *chat, size_t len, size_t depth)
{
    fg_jdoc_t         doc;
    fg_chat_request_t req;
    fg_err_t          err;

    if (fg_validate_chat_body(chat, len, depth, &doc, &req, &err) != FG_OK) {
        fprintf(stderr, "    chat body refused: %s (%s)\n", err.msg,
                err.param);
        return 0;
    }
    fg_jdoc_free(&doc);
    return 1;
}

/*
 * Translates @body (' for ") with the fake store; the chat body (" as
 * written) or NULL with resp_err set. An accepted body is checked
 * against the chat validator and the size bound, and its document freed.
 */
static const char *
resp_run_with(const char *body, fg_responses_lookup_pt lookup)
{
    size_t len, chat_len = 0;
    int    rc;

    resp_done();
    memset(&resp_err, 0, sizeof(resp_err));
    memset(&resp_out, 0x5a, sizeof(resp_out));
    resp_body = resp_swap(body, &len);
    resp_lookups = 0;
    rc = fg_responses_to_chat(resp_body, len, RESP_TEST_DEPTH, lookup, NULL,
                              &resp_out, &resp_doc, &resp_chat, &chat_len,
                              &resp_context, &resp_context_len, &resp_err);
    if (rc != FG_OK) {
        expect_true(resp_chat == NULL);
        expect_true(resp_context == NULL);
        return NULL;
    }
    expect_true(resp_context != NULL);
    expect_int_eq(strlen(resp_context), resp_context_len);
    expect_true(resp_context_is_array(resp_context, resp_context_len));
    fg_jdoc_free(&resp_doc);
    expect_int_eq(strlen(resp_chat), chat_len);
    expect_true(resp_chat_valid(resp_chat, chat_len, RESP_TEST_DEPTH + 2));
    return resp_chat;
}

static const char *
resp_run(const char *body)
{
    return resp_run_with(body, resp_lookup);
}

/* Expects @body to become @chat (both ' for "). */
#define expect_chat(body, chat)                                             \
    do {                                                                    \
        size_t      n_;                                                     \
        char       *want_ = resp_swap(chat, &n_);                           \
        const char *got_ = resp_run(body);                                  \
        if (got_ == NULL) {                                                 \
            FG_TEST_FAIL("refused: %s (%s)", resp_err.msg, resp_err.param); \
        } else {                                                            \
            expect_str_eq(got_, want_);                                     \
        }                                                                   \
        free(want_);                                                        \
    } while (0)

/* Expects @body refused with @code at @param. */
#define expect_refused(body, want_code, want_param)                          \
    do {                                                                    \
        const char *got_ = resp_run(body);                                  \
        if (got_ != NULL) {                                                 \
            FG_TEST_FAIL("accepted: %s", got_);                             \
        } else {                                                            \
            expect_int_eq(resp_err.code, want_code);                        \
            expect_str_eq(resp_err.param, want_param);                      \
        }                                                                   \
    } while (0)

/* A request of "model" m, @extra after it. */
#define REQ(extra) "{'model':'m'," extra "}"
/* The chat body of model m: @msgs then @extra. */
#define CHAT(extra, msgs) "{'model':'m'" extra ",'messages':[" msgs "]}"
#define HI "{'role':'user','content':'hi'}"

/* --- input --- */

static void
string_input_becomes_one_user_message(void)
{
    expect_chat(REQ("'input':'Hello'"),
                CHAT("", "{'role':'user','content':'Hello'}"));
    resp_done();
}

static void
instructions_become_a_first_system_message(void)
{
    expect_chat(REQ("'input':'hi','instructions':'Be brief.'"),
                CHAT("", "{'role':'system','content':'Be brief.'}," HI));
    resp_done();
}

static void
message_items_keep_their_role_and_type_may_be_left_out(void)
{
    expect_chat(REQ("'input':[{'role':'developer','content':'d'},"
                    "{'type':'message','role':'system','content':'s'},"
                    "{'role':'assistant','content':'a'},"
                    "{'type':'message','role':'user','content':'u'}]"),
                CHAT("", "{'role':'developer','content':'d'},"
                         "{'role':'system','content':'s'},"
                         "{'role':'assistant','content':'a'},"
                         "{'role':'user','content':'u'}"));
    resp_done();
}

static void
one_text_part_becomes_a_string(void)
{
    expect_chat(REQ("'input':[{'role':'user','content':"
                    "[{'type':'input_text','text':'hi'}]}]"),
                CHAT("", HI));
    resp_done();
}

static void
text_and_image_parts_become_chat_parts(void)
{
    expect_chat(REQ("'input':[{'role':'user','content':["
                    "{'type':'input_text','text':'What is it?'},"
                    "{'type':'input_image','image_url':'https://x/a.png',"
                    "'detail':'low'},"
                    "{'type':'input_image','image_url':'data:image/png;"
                    "base64,AAAA'}]}]"),
                CHAT("", "{'role':'user','content':["
                         "{'type':'text','text':'What is it?'},"
                         "{'type':'image_url','image_url':"
                         "{'url':'https://x/a.png','detail':'low'}},"
                         "{'type':'image_url','image_url':"
                         "{'url':'data:image/png;base64,AAAA'}}]}"));
    resp_done();
}

static void
a_single_image_part_stays_an_array(void)
{
    expect_chat(REQ("'input':[{'role':'user','content':["
                    "{'type':'input_image','image_url':'https://x/a.png'}]}]"),
                CHAT("", "{'role':'user','content':[{'type':'image_url',"
                         "'image_url':{'url':'https://x/a.png'}}]}"));
    resp_done();
}

static void
output_text_and_refusal_parts_become_text(void)
{
    expect_chat(REQ("'input':[" HI ",{'type':'message','role':'assistant',"
                    "'id':'msg_1','status':'completed','content':["
                    "{'type':'output_text','text':'A','annotations':[]},"
                    "{'type':'refusal','refusal':'No'}]}]"),
                CHAT("", HI ",{'role':'assistant','content':["
                         "{'type':'text','text':'A'},"
                         "{'type':'text','text':'No'}]}"));
    resp_done();
}

static void
function_calls_join_the_assistant_message_before_them(void)
{
    expect_chat(REQ("'input':[" HI ","
                    "{'role':'assistant','content':'Looking.'},"
                    "{'type':'function_call','call_id':'c1','name':'f',"
                    "'arguments':'{}','id':'fc_1','status':'completed'},"
                    "{'type':'function_call','call_id':'c2','name':'g',"
                    "'arguments':'{\\'a\\':1}'}]"),
                CHAT("", HI ",{'role':'assistant','content':'Looking.',"
                         "'tool_calls':[{'id':'c1','type':'function',"
                         "'function':{'name':'f','arguments':'{}'}},"
                         "{'id':'c2','type':'function','function':"
                         "{'name':'g','arguments':'{\\'a\\':1}'}}]}"));
    resp_done();
}

static void
a_function_call_alone_is_an_assistant_message_without_content(void)
{
    expect_chat(REQ("'input':[" HI ",{'type':'function_call',"
                    "'call_id':'c1','name':'f','arguments':'{}'},"
                    "{'type':'function_call_output','call_id':'c1',"
                    "'output':'42'}]"),
                CHAT("", HI ",{'role':'assistant','content':null,"
                         "'tool_calls':[{'id':'c1','type':'function',"
                         "'function':{'name':'f','arguments':'{}'}}]},"
                         "{'role':'tool','content':'42',"
                         "'tool_call_id':'c1'}"));
    resp_done();
}

static void
function_output_text_parts_become_tool_content_parts(void)
{
    expect_chat(REQ("'input':[" HI ",{'type':'function_call',"
                    "'call_id':'c1','name':'f','arguments':'{}'},"
                    "{'type':'function_call_output','call_id':'c1',"
                    "'output':[{'type':'input_text','text':'4'},"
                    "{'type':'input_text','text':'2'}]}]"),
                CHAT("", HI ",{'role':'assistant','content':null,"
                         "'tool_calls':[{'id':'c1','type':'function',"
                         "'function':{'name':'f','arguments':'{}'}}]},"
                         "{'role':'tool','content':[{'type':'text',"
                         "'text':'4'},{'type':'text','text':'2'}],"
                         "'tool_call_id':'c1'}"));
    resp_done();
}

static void
reasoning_items_are_dropped_and_keep_the_turn_open(void)
{
    expect_chat(REQ("'input':[" HI ",{'type':'reasoning','id':'rs_1',"
                    "'summary':[{'type':'summary_text','text':'t'}],"
                    "'encrypted_content':'zz'},"
                    "{'role':'assistant','content':'A'},"
                    "{'type':'reasoning','id':'rs_2','summary':[]},"
                    "{'type':'function_call','call_id':'c1','name':'f',"
                    "'arguments':'{}'}]"),
                CHAT("", HI ",{'role':'assistant','content':'A',"
                         "'tool_calls':[{'id':'c1','type':'function',"
                         "'function':{'name':'f','arguments':'{}'}}]}"));
    resp_done();
}

static void
a_new_message_closes_the_assistant_turn(void)
{
    expect_chat(REQ("'input':[{'role':'assistant','content':'A'},"
                    "{'role':'assistant','content':'B'}," HI "]"),
                CHAT("", "{'role':'assistant','content':'A'},"
                         "{'role':'assistant','content':'B'}," HI));
    resp_done();
}

/* --- stored items --- */

static void
item_reference_is_replaced_by_the_stored_item(void)
{
    expect_chat(REQ("'input':[" HI ",{'type':'item_reference',"
                    "'id':'msg_9'},{'id':'msg_9'}]"),
                CHAT("", HI ",{'role':'assistant','content':'Earlier'},"
                         "{'role':'assistant','content':'Earlier'}"));
    expect_int_eq(resp_lookups, 2);
    resp_done();
}

static void
references_inside_stored_items_are_followed(void)
{
    expect_chat(REQ("'input':[{'type':'item_reference','id':'nested'}]"),
                CHAT("", "{'role':'assistant','content':'Earlier'}"));
    resp_done();
}

static void
previous_response_id_puts_its_conversation_after_the_instructions(void)
{
    expect_chat(REQ("'instructions':'Be brief.',"
                    "'previous_response_id':'resp_1',"
                    "'input':[{'type':'function_call_output',"
                    "'call_id':'c1','output':'sunny'}]"),
                CHAT("", "{'role':'system','content':'Be brief.'},"
                         "{'role':'user','content':'Weather?'},"
                         "{'role':'assistant','content':null,"
                         "'tool_calls':[{'id':'c1','type':'function',"
                         "'function':{'name':'get','arguments':'{}'}}]},"
                         "{'role':'tool','content':'sunny',"
                         "'tool_call_id':'c1'}"));
    resp_done();
}

static void
previous_response_id_alone_needs_no_input(void)
{
    expect_true(resp_run(REQ("'previous_response_id':'msg_9'")) != NULL);
    resp_done();
}

/* --- the conversation kept for the store --- */

static void
a_string_input_is_kept_as_one_user_message_item(void)
{
    expect_true(resp_run(REQ("'instructions':'Be brief.','input':'hi'"))
                != NULL);
    expect_context("{'type':'message','role':'user','content':'hi'}");
    resp_done();
}

static void
input_items_are_kept_as_sent_without_the_instructions(void)
{
    expect_true(resp_run(REQ("'instructions':'Be brief.','input':[" HI ","
                             "{'id':'rs_x','type':'reasoning',"
                             "'summary':[]}]")) != NULL);
    expect_context(HI ",{'id':'rs_x','type':'reasoning','summary':[]}");
    resp_done();
}

static void
the_kept_conversation_holds_references_resolved(void)
{
    expect_true(resp_run(REQ("'input':[{'type':'item_reference',"
                             "'id':'nested'}," HI "]")) != NULL);
    expect_context("{'id':'msg_9','type':'message','role':'assistant',"
                   "'status':'completed','content':[{'type':'output_text',"
                   "'text':'Earlier','annotations':[],'logprobs':[]}]},"
                   HI);
    resp_done();
}

static void
the_kept_conversation_starts_with_the_previous_response_s(void)
{
    expect_true(resp_run(REQ("'previous_response_id':'resp_1',"
                             "'input':'more'")) != NULL);
    expect_context("{'type':'message','role':'user','content':"
                   "[{'type':'input_text','text':'Weather?'}]},"
                   "{'id':'rs_1','type':'reasoning','summary':[]},"
                   "{'id':'fc_1','type':'function_call','status':"
                   "'completed','call_id':'c1','name':'get',"
                   "'arguments':'{}'},"
                   "{'type':'message','role':'user','content':'more'}");
    resp_done();
}

/* --- tools and the other members --- */

static void
function_tools_are_nested_as_chat_wants(void)
{
    expect_chat(REQ("'input':'hi','tools':[{'type':'function','name':'f',"
                    "'description':'F','parameters':{'type':'object',"
                    "'properties':{}},'strict':true},"
                    "{'type':'function','name':'g','parameters':null}]"),
                CHAT(",'tools':[{'type':'function','function':{'name':'f',"
                     "'description':'F','parameters':{'type':'object',"
                     "'properties':{}},'strict':true}},"
                     "{'type':'function','function':{'name':'g'}}]", HI));
    resp_done();
}

static void
tool_choice_and_parallel_tool_calls_go_with_tools(void)
{
    expect_chat(REQ("'input':'hi','tools':[{'type':'function','name':'f'}],"
                    "'tool_choice':{'type':'function','name':'f'},"
                    "'parallel_tool_calls':false"),
                CHAT(",'tools':[{'type':'function','function':{'name':'f'}}]"
                     ",'tool_choice':{'type':'function','function':"
                     "{'name':'f'}},'parallel_tool_calls':false", HI));
    expect_chat(REQ("'input':'hi','tools':[{'type':'function','name':'f'}],"
                    "'tool_choice':'required'"),
                CHAT(",'tools':[{'type':'function','function':{'name':'f'}}]"
                     ",'tool_choice':'required'", HI));
    resp_done();
}

static void
without_tools_auto_choice_and_parallel_calls_send_nothing(void)
{
    expect_chat(REQ("'input':'hi','tools':[],'tool_choice':'auto',"
                    "'parallel_tool_calls':true"), CHAT("", HI));
    expect_chat(REQ("'input':'hi','tool_choice':'none'"), CHAT("", HI));
    resp_done();
}

static void
text_format_becomes_response_format(void)
{
    expect_chat(REQ("'input':'hi','text':{'format':{'type':'text'}}"),
                CHAT("", HI));
    expect_chat(REQ("'input':'hi','text':{'format':{'type':'json_object'}}"),
                CHAT(",'response_format':{'type':'json_object'}", HI));
    expect_chat(REQ("'input':'hi','text':{'format':{'type':'json_schema',"
                    "'name':'S','schema':{'type':'object'},'strict':true,"
                    "'description':'D'},'verbosity':'low'}"),
                CHAT(",'response_format':{'type':'json_schema',"
                     "'json_schema':{'name':'S','schema':{'type':'object'},"
                     "'strict':true,'description':'D'}},'verbosity':'low'",
                     HI));
    resp_done();
}

static void
reasoning_effort_is_sent_and_summary_is_not(void)
{
    expect_chat(REQ("'input':'hi','reasoning':{'effort':'high',"
                    "'summary':'auto'}"),
                CHAT(",'reasoning_effort':'high'", HI));
    expect_chat(REQ("'input':'hi','reasoning':{'summary':'concise'}"),
                CHAT("", HI));
    resp_done();
}

static void
scalars_are_sent_under_their_chat_names(void)
{
    expect_chat(REQ("'input':'hi','max_output_tokens':100,"
                    "'temperature':0.5,'top_p':1,'user':'u','seed':7,"
                    "'stream':true,'safety_identifier':'s',"
                    "'prompt_cache_key':'k',"
                    "'prompt_cache_retention':'24h'"),
                CHAT(",'max_completion_tokens':100,'temperature':0.5,"
                     "'top_p':1,'user':'u','seed':7,'stream':true,"
                     "'safety_identifier':'s','prompt_cache_key':'k',"
                     "'prompt_cache_retention':'24h'", HI));
    resp_done();
}

static void
members_chat_has_no_use_for_are_checked_and_not_sent(void)
{
    expect_chat(REQ("'input':'hi','store':false,'metadata':{'a':'1',"
                    "'b':'2'},'truncation':'auto','include':["
                    "'message.output_text.logprobs',"
                    "'reasoning.encrypted_content'],'service_tier':'flex',"
                    "'stream':true,'stream_options':"
                    "{'include_obfuscation':false},'top_logprobs':3,"
                    "'max_tool_calls':2,'background':false"),
                CHAT(",'stream':true", HI));
    resp_done();
}

static void
the_gateways_own_fields_are_copied_as_sent(void)
{
    expect_chat(REQ("'input':'hi','models':['m','n'],'route':'fallback',"
                    "'provider':{'sort':'price'},'preset':'speed',"
                    "'filters':{'min_speed_tps':1},"
                    "'transforms':['middle-out'],"
                    "'plugins':[{'id':'response-healing'}]"),
                CHAT(",'models':['m','n'],'route':'fallback',"
                     "'provider':{'sort':'price'},'preset':'speed',"
                     "'filters':{'min_speed_tps':1},"
                     "'transforms':['middle-out'],"
                     "'plugins':[{'id':'response-healing'}]", HI));
    resp_done();
}

static void
null_members_count_as_absent(void)
{
    expect_chat(REQ("'input':'hi','instructions':null,'tools':null,"
                    "'tool_choice':null,'text':null,'reasoning':null,"
                    "'temperature':null,'previous_response_id':null,"
                    "'background':null,'prompt':null,'conversation':null,"
                    "'metadata':null,'max_output_tokens':null"),
                CHAT("", HI));
    resp_done();
}

static void
the_request_echo_is_filled(void)
{
    const char *chat = resp_run(REQ("'input':'hi','instructions':'I',"
                                    "'tools':[],'tool_choice':'auto',"
                                    "'text':{'format':{'type':'text'}},"
                                    "'reasoning':{'effort':'low'},"
                                    "'metadata':{'k':'v'},'user':'u',"
                                    "'previous_response_id':'msg_9',"
                                    "'temperature':0.25,'top_p':1,"
                                    "'max_output_tokens':64,'stream':true,"
                                    "'store':false,"
                                    "'parallel_tool_calls':false"));

    expect_true(chat != NULL);
#define expect_span(m, text)                                                \
    do {                                                                    \
        size_t n_;                                                          \
        char  *want_ = resp_swap(text, &n_);                                \
        expect_int_eq(resp_out.m##_len, n_);                                \
        expect_true(resp_out.m != NULL                                      \
                    && memcmp(resp_out.m, want_, n_) == 0);                 \
        free(want_);                                                        \
    } while (0)
    expect_span(instructions, "'I'");
    expect_span(tools, "[]");
    expect_span(tool_choice, "'auto'");
    expect_span(text, "{'format':{'type':'text'}}");
    expect_span(reasoning, "{'effort':'low'}");
    expect_span(metadata, "{'k':'v'}");
    expect_span(user, "'u'");
    expect_span(previous_response_id, "'msg_9'");
    expect_int_eq(resp_out.is_stream, 1);
    expect_int_eq(resp_out.store, 0);
    expect_int_eq(resp_out.parallel_tool_calls, 0);
    expect_int_eq(resp_out.has_temperature, 1);
    expect_true(resp_out.temperature == 0.25);
    expect_int_eq(resp_out.has_top_p, 1);
    expect_true(resp_out.top_p == 1.0);
    expect_int_eq(resp_out.max_output_tokens, 64);
    resp_done();
}

static void
the_echo_defaults_when_members_are_absent(void)
{
    expect_true(resp_run(REQ("'input':'hi'")) != NULL);
    expect_true(resp_out.instructions == NULL);
    expect_int_eq(resp_out.tools_len, 0);
    expect_true(resp_out.user == NULL);
    expect_int_eq(resp_out.is_stream, 0);
    expect_int_eq(resp_out.store, 1);
    expect_int_eq(resp_out.parallel_tool_calls, 1);
    expect_int_eq(resp_out.has_temperature, 0);
    expect_int_eq(resp_out.has_top_p, 0);
    expect_int_eq(resp_out.max_output_tokens, 0);
    resp_done();
}

/* --- refusals at the top level --- */

static void
model_is_required(void)
{
    expect_refused("{'input':'hi'}", FG_E_REQUIRED_FIELD, "model");
    expect_refused(REQ("'model':''"), FG_E_DUPLICATE_KEY, "");
    expect_refused("{'model':'','input':'hi'}", FG_E_REQUIRED_FIELD,
                   "model");
    expect_refused("{'model':3,'input':'hi'}", FG_E_INVALID_TYPE, "model");
    resp_done();
}

static void
the_body_must_be_a_json_object(void)
{
    expect_refused("['model']", FG_E_INVALID_TYPE, "");
    expect_refused("", FG_E_EMPTY_BODY, "");
    expect_refused("{'model':'m'", FG_E_INVALID_JSON, "");
    resp_done();
}

static void
input_is_required_unless_a_conversation_is_stored(void)
{
    expect_refused(REQ("'stream':false"), FG_E_REQUIRED_FIELD, "input");
    expect_refused(REQ("'input':[]"), FG_E_REQUIRED_FIELD, "input");
    expect_refused(REQ("'input':[{'type':'reasoning','summary':[]}]"),
                   FG_E_REQUIRED_FIELD, "input");
    expect_refused(REQ("'input':5"), FG_E_INVALID_TYPE, "input");
    resp_done();
}

static void
an_unknown_member_is_refused_by_name(void)
{
    expect_refused(REQ("'input':'hi','messages':[]"),
                   FG_E_UNSUPPORTED_PARAMETER, "messages");
    expect_true(strstr(resp_err.msg, "Unknown parameter: 'messages'")
                != NULL);
    expect_refused(REQ("'input':'hi','api_base':'http://x'"),
                   FG_E_UNSUPPORTED_PARAMETER, "api_base");
    expect_refused(REQ("'input':'hi','reasoning_effort':'low'"),
                   FG_E_UNSUPPORTED_PARAMETER, "reasoning_effort");
    resp_done();
}

static void
an_unknown_member_is_quoted_at_most_64_bytes(void)
{
    expect_refused(REQ("'input':'hi','aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                       "':1"), FG_E_UNSUPPORTED_PARAMETER,
                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "aaaa...");
    resp_done();
}

static void
background_prompt_and_conversation_are_refused(void)
{
    expect_refused(REQ("'input':'hi','background':true"),
                   FG_E_UNSUPPORTED_PARAMETER, "background");
    expect_refused(REQ("'input':'hi','prompt':{'id':'p'}"),
                   FG_E_UNSUPPORTED_PARAMETER, "prompt");
    expect_refused(REQ("'input':'hi','conversation':'conv_1'"),
                   FG_E_UNSUPPORTED_PARAMETER, "conversation");
    resp_done();
}

static void
scalars_out_of_range_or_of_the_wrong_type_are_refused(void)
{
    expect_refused(REQ("'input':'hi','max_output_tokens':15"),
                   FG_E_OUT_OF_RANGE, "max_output_tokens");
    expect_refused(REQ("'input':'hi','max_output_tokens':1.5"),
                   FG_E_INVALID_TYPE, "max_output_tokens");
    expect_refused(REQ("'input':'hi','temperature':2.5"),
                   FG_E_OUT_OF_RANGE, "temperature");
    expect_refused(REQ("'input':'hi','top_p':'1'"), FG_E_INVALID_TYPE,
                   "top_p");
    expect_refused(REQ("'input':'hi','store':1"), FG_E_INVALID_TYPE,
                   "store");
    expect_refused(REQ("'input':'hi','truncation':'middle'"),
                   FG_E_INVALID_VALUE, "truncation");
    expect_refused(REQ("'input':'hi','service_tier':'gold'"),
                   FG_E_INVALID_VALUE, "service_tier");
    expect_refused(REQ("'input':'hi','top_logprobs':21"), FG_E_OUT_OF_RANGE,
                   "top_logprobs");
    expect_refused(REQ("'input':'hi','instructions':['x']"),
                   FG_E_INVALID_TYPE, "instructions");
    resp_done();
}

static void
tools_other_than_functions_are_refused(void)
{
    expect_refused(REQ("'input':'hi','tools':[{'type':'function',"
                       "'name':'f'},{'type':'web_search_preview'}]"),
                   FG_E_UNSUPPORTED_PARAMETER, "tools[1].type");
    expect_true(strstr(resp_err.msg, "built-in tools") != NULL);
    expect_refused(REQ("'input':'hi','tools':[{'type':'mcp',"
                       "'server_label':'x'}]"),
                   FG_E_UNSUPPORTED_PARAMETER, "tools[0].type");
    resp_done();
}

static void
a_function_tool_is_checked(void)
{
    expect_refused(REQ("'input':'hi','tools':[{'type':'function'}]"),
                   FG_E_REQUIRED_FIELD, "tools[0].name");
    expect_refused(REQ("'input':'hi','tools':[{'type':'function',"
                       "'name':'a b'}]"),
                   FG_E_INVALID_VALUE, "tools[0].name");
    expect_refused(REQ("'input':'hi','tools':[{'type':'function',"
                       "'name':'f','function':{}}]"),
                   FG_E_UNSUPPORTED_PARAMETER, "tools[0].function");
    expect_refused(REQ("'input':'hi','tools':[{'type':'function',"
                       "'name':'f','parameters':[]}]"),
                   FG_E_INVALID_TYPE, "tools[0].parameters");
    expect_refused(REQ("'input':'hi','tools':[{'type':'function',"
                       "'name':'f','strict':'yes'}]"),
                   FG_E_INVALID_TYPE, "tools[0].strict");
    expect_refused(REQ("'input':'hi','tools':['f']"), FG_E_INVALID_TYPE,
                   "tools[0]");
    expect_refused(REQ("'input':'hi','tools':{}"), FG_E_INVALID_TYPE,
                   "tools");
    resp_done();
}

static void
tool_choice_is_checked(void)
{
    expect_refused(REQ("'input':'hi','tool_choice':'any'"),
                   FG_E_INVALID_VALUE, "tool_choice");
    expect_refused(REQ("'input':'hi','tool_choice':'required'"),
                   FG_E_INVALID_VALUE, "tool_choice");
    expect_refused(REQ("'input':'hi','tool_choice':{'type':'function',"
                       "'name':'f'}"), FG_E_INVALID_VALUE, "tool_choice");
    expect_refused(REQ("'input':'hi','tools':[{'type':'function',"
                       "'name':'f'}],'tool_choice':{'type':'file_search'}"),
                   FG_E_UNSUPPORTED_PARAMETER, "tool_choice.type");
    expect_refused(REQ("'input':'hi','tools':[{'type':'function',"
                       "'name':'f'}],'tool_choice':{'type':'function'}"),
                   FG_E_REQUIRED_FIELD, "tool_choice.name");
    expect_refused(REQ("'input':'hi','tool_choice':1"), FG_E_INVALID_TYPE,
                   "tool_choice");
    resp_done();
}

static void
text_is_checked(void)
{
    expect_refused(REQ("'input':'hi','text':{'format':{'type':'yaml'}}"),
                   FG_E_INVALID_VALUE, "text.format.type");
    expect_refused(REQ("'input':'hi','text':{'format':{'type':"
                       "'json_schema','name':'S'}}"),
                   FG_E_REQUIRED_FIELD, "text.format.schema");
    expect_refused(REQ("'input':'hi','text':{'format':{'type':"
                       "'json_schema','schema':{}}}"),
                   FG_E_REQUIRED_FIELD, "text.format.name");
    expect_refused(REQ("'input':'hi','text':{'format':{'type':"
                       "'json_schema','name':'S','schema':{},'x':1}}"),
                   FG_E_UNSUPPORTED_PARAMETER, "text.format.x");
    expect_refused(REQ("'input':'hi','text':{'verbosity':'loud'}"),
                   FG_E_INVALID_VALUE, "text.verbosity");
    expect_refused(REQ("'input':'hi','text':{'format':'json'}"),
                   FG_E_INVALID_TYPE, "text.format");
    expect_refused(REQ("'input':'hi','text':{'fmt':{}}"),
                   FG_E_UNSUPPORTED_PARAMETER, "text.fmt");
    resp_done();
}

static void
reasoning_is_checked(void)
{
    expect_refused(REQ("'input':'hi','reasoning':{'effort':'max'}"),
                   FG_E_INVALID_VALUE, "reasoning.effort");
    expect_refused(REQ("'input':'hi','reasoning':{'summary':'long'}"),
                   FG_E_INVALID_VALUE, "reasoning.summary");
    expect_refused(REQ("'input':'hi','reasoning':{'max_tokens':10}"),
                   FG_E_UNSUPPORTED_PARAMETER, "reasoning.max_tokens");
    resp_done();
}

static void
metadata_include_and_stream_options_are_checked(void)
{
    expect_refused(REQ("'input':'hi','metadata':{'a':'1','b':'2','c':'3',"
                       "'d':'4','e':'5','f':'6','g':'7','h':'8','i':'9',"
                       "'j':'10','k':'11','l':'12','m':'13','n':'14',"
                       "'o':'15','p':'16','q':'17'}"),
                   FG_E_OUT_OF_RANGE, "metadata");
    expect_refused(REQ("'input':'hi','metadata':{'a':1}"),
                   FG_E_INVALID_TYPE, "metadata.a");
    expect_refused(REQ("'input':'hi','include':['everything']"),
                   FG_E_INVALID_VALUE, "include[0]");
    expect_refused(REQ("'input':'hi','stream_options':"
                       "{'include_usage':true}"),
                   FG_E_UNSUPPORTED_PARAMETER,
                   "stream_options.include_usage");
    resp_done();
}

/* --- refusals inside input items --- */

static void
too_many_items_are_refused(void)
{
    size_t n = 3000, i, at;
    char  *body = malloc(n * 16 + 64);

    at = (size_t) sprintf(body, "{'model':'m','input':[");
    for (i = 0; i < n; i++) {
        at += (size_t) sprintf(body + at, "%s{'id':'x'}", i ? "," : "");
    }
    sprintf(body + at, "]}");
    expect_refused(body, FG_E_OUT_OF_RANGE, "input");
    expect_int_eq(resp_lookups, 0);
    free(body);
    resp_done();
}

static void
a_message_item_is_checked(void)
{
    expect_refused(REQ("'input':[{'role':'tool','content':'x'}]"),
                   FG_E_INVALID_VALUE, "input[0].role");
    expect_refused(REQ("'input':[" HI ",{'role':'user'}]"),
                   FG_E_REQUIRED_FIELD, "input[1].content");
    expect_refused(REQ("'input':[{'role':'user','content':[]}]"),
                   FG_E_OUT_OF_RANGE, "input[0].content");
    expect_refused(REQ("'input':[{'role':'user','content':{}}]"),
                   FG_E_INVALID_TYPE, "input[0].content");
    expect_refused(REQ("'input':[{'content':'x'}]"), FG_E_REQUIRED_FIELD,
                   "input[0].role");
    expect_refused(REQ("'input':['hi']"), FG_E_INVALID_TYPE, "input[0]");
    expect_refused(REQ("'input':[{'role':'user','content':[{'type':"
                       "'input_text'}]}]"),
                   FG_E_REQUIRED_FIELD, "input[0].content[0].text");
    expect_refused(REQ("'input':[{'role':'user','content':[{'type':"
                       "'text','text':'x'}]}]"),
                   FG_E_INVALID_VALUE, "input[0].content[0].type");
    resp_done();
}

static void
file_and_audio_parts_are_refused(void)
{
    expect_refused(REQ("'input':[{'role':'user','content':[{'type':"
                       "'input_file','file_id':'file-1'}]}]"),
                   FG_E_UNSUPPORTED_PARAMETER, "input[0].content[0].type");
    expect_refused(REQ("'input':[{'role':'user','content':["
                       "{'type':'input_text','text':'x'},{'type':"
                       "'input_audio','input_audio':{}}]}]"),
                   FG_E_UNSUPPORTED_PARAMETER, "input[0].content[1].type");
    resp_done();
}

static void
an_image_part_is_checked(void)
{
    expect_refused(REQ("'input':[{'role':'user','content':[{'type':"
                       "'input_image','file_id':'file-1'}]}]"),
                   FG_E_UNSUPPORTED_PARAMETER,
                   "input[0].content[0].file_id");
    expect_refused(REQ("'input':[{'role':'user','content':[{'type':"
                       "'input_image'}]}]"),
                   FG_E_REQUIRED_FIELD, "input[0].content[0].image_url");
    expect_refused(REQ("'input':[{'role':'user','content':[{'type':"
                       "'input_image','image_url':'u','detail':'max'}]}]"),
                   FG_E_INVALID_VALUE, "input[0].content[0].detail");
    expect_refused(REQ("'input':[{'role':'system','content':[{'type':"
                       "'input_image','image_url':'u'}]}]"),
                   FG_E_INVALID_VALUE, "input[0].content[0].type");
    resp_done();
}

static void
item_types_chat_cannot_carry_are_refused(void)
{
    expect_refused(REQ("'input':[" HI ",{'type':'web_search_call',"
                       "'id':'ws_1','status':'completed'}]"),
                   FG_E_UNSUPPORTED_PARAMETER, "input[1].type");
    expect_refused(REQ("'input':[{'type':'computer_call_output',"
                       "'call_id':'c'}]"),
                   FG_E_UNSUPPORTED_PARAMETER, "input[0].type");
    expect_refused(REQ("'input':[{'type':7}]"), FG_E_INVALID_TYPE,
                   "input[0].type");
    resp_done();
}

static void
function_call_items_are_checked(void)
{
    expect_refused(REQ("'input':[{'type':'function_call','call_id':'c',"
                       "'name':'f'}]"),
                   FG_E_REQUIRED_FIELD, "input[0].arguments");
    expect_refused(REQ("'input':[{'type':'function_call','call_id':'c',"
                       "'name':'f','arguments':{}}]"),
                   FG_E_INVALID_TYPE, "input[0].arguments");
    expect_refused(REQ("'input':[{'type':'function_call_output',"
                       "'output':'x'}]"),
                   FG_E_REQUIRED_FIELD, "input[0].call_id");
    expect_refused(REQ("'input':[{'type':'function_call_output',"
                       "'call_id':'c'}]"),
                   FG_E_REQUIRED_FIELD, "input[0].output");
    expect_refused(REQ("'input':[{'type':'function_call_output',"
                       "'call_id':'c','output':[{'type':'input_image',"
                       "'image_url':'u'}]}]"),
                   FG_E_UNSUPPORTED_PARAMETER, "input[0].output[0].type");
    resp_done();
}

/* --- lookups that miss or fail --- */

static void
an_unknown_item_reference_is_refused_naming_the_id(void)
{
    expect_refused(REQ("'input':[" HI ",{'type':'item_reference',"
                       "'id':'msg_gone'}]"),
                   FG_E_INVALID_VALUE, "input[1].id");
    expect_true(strstr(resp_err.msg, "'msg_gone'") != NULL);
    expect_refused(REQ("'input':[{'type':'item_reference'}]"),
                   FG_E_REQUIRED_FIELD, "input[0].id");
    resp_done();
}

static void
an_unknown_previous_response_is_refused_naming_it(void)
{
    expect_refused(REQ("'input':'hi','previous_response_id':'resp_gone'"),
                   FG_E_INVALID_VALUE, "previous_response_id");
    expect_true(strstr(resp_err.msg, "'resp_gone'") != NULL);
    expect_refused(REQ("'input':'hi','previous_response_id':''"),
                   FG_E_INVALID_VALUE, "previous_response_id");
    resp_done();
}

static void
without_a_lookup_nothing_is_stored(void)
{
    expect_true(resp_run_with(REQ("'input':'hi',"
                                  "'previous_response_id':'resp_1'"),
                              NULL) == NULL);
    expect_int_eq(resp_err.code, FG_E_INVALID_VALUE);
    expect_str_eq(resp_err.param, "previous_response_id");
    resp_done();
}

static void
stored_items_that_do_not_translate_are_reported_where_named(void)
{
    expect_refused(REQ("'input':[{'id':'broken'}]"), FG_E_INVALID_VALUE,
                   "input[0].id");
    expect_true(strstr(resp_err.msg, "stored[0].role") != NULL);
    expect_refused(REQ("'input':'hi','previous_response_id':'notarray'"),
                   FG_E_INTERNAL, "previous_response_id");
    expect_refused(REQ("'input':'hi','previous_response_id':'notjson'"),
                   FG_E_INTERNAL, "previous_response_id");
    resp_done();
}

static void
references_that_loop_stop_at_the_depth_bound(void)
{
    expect_refused(REQ("'input':[{'id':'loop'}]"), FG_E_INVALID_VALUE,
                   "input[0].id");
    expect_int_eq(resp_lookups, FG_RESPONSES_REF_DEPTH_MAX);
    resp_done();
}

static void
looked_up_bytes_are_bounded_for_the_whole_request(void)
{
    size_t fill = 9u * 1024 * 1024;

    resp_big = malloc(fill + 64);
    resp_big_len = (size_t) sprintf(resp_big,
                                    "[{\"role\":\"user\",\"content\":\"");
    memset(resp_big + resp_big_len, 'x', fill);
    resp_big_len += fill;
    resp_big_len += (size_t) sprintf(resp_big + resp_big_len, "\"}]");

    expect_true(resp_run(REQ("'input':[{'id':'big'}]")) != NULL);
    expect_refused(REQ("'input':[{'id':'big'},{'id':'big'}]"),
                   FG_E_OUT_OF_RANGE, "input[1].id");
    free(resp_big);
    resp_big = NULL;
    resp_done();
}

/* --- bounds --- */

static void
the_chat_body_keeps_within_twice_the_request(void)
{
    static const char *const bodies[] = {
        REQ("'input':[{'type':'function_call','call_id':'c','name':'f',"
            "'arguments':''},{'type':'function_call','call_id':'d',"
            "'name':'f','arguments':''}]"),
        REQ("'input':[{'role':'user','content':[{'type':'input_image',"
            "'image_url':'u'},{'type':'input_text','text':''}]}]"),
        REQ("'input':[{'type':'function_call_output','call_id':'c',"
            "'output':''}]"),
        REQ("'input':'','tools':[{'type':'function','name':'f'}],"
            "'tool_choice':{'type':'function','name':'f'}"),
    };
    size_t i, len;

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        const char *chat = resp_run(bodies[i]);

        len = strlen(bodies[i]);
        expect_true(chat != NULL && strlen(chat) <= 2 * len + 1024);
    }
    resp_done();
}

static void
the_chat_body_nests_at_most_one_level_deeper(void)
{
    /* parameters' innermost object is at depth 8, the request's limit;
     * chat nests it under "function", one deeper. */
    const char *chat = resp_run(REQ("'input':'hi','tools':[{'type':"
                                    "'function','name':'f','parameters':"
                                    "{'a':{'b':{'c':{'d':{}}}}}}]"));

    expect_true(chat != NULL);
    expect_true(chat != NULL
                && resp_chat_valid(chat, strlen(chat), RESP_TEST_DEPTH + 1));
    resp_done();
}

static void
nesting_beyond_max_depth_is_refused_before_anything_is_read(void)
{
    expect_refused(REQ("'input':'hi','metadata':{'a':[[[[[[[[1]]]]]]]]}"),
                   FG_E_NESTING_TOO_DEEP, "");
    resp_done();
}

FG_TEST_MAIN("responses_req",
    FG_TEST_CASE(string_input_becomes_one_user_message),
    FG_TEST_CASE(instructions_become_a_first_system_message),
    FG_TEST_CASE(message_items_keep_their_role_and_type_may_be_left_out),
    FG_TEST_CASE(one_text_part_becomes_a_string),
    FG_TEST_CASE(text_and_image_parts_become_chat_parts),
    FG_TEST_CASE(a_single_image_part_stays_an_array),
    FG_TEST_CASE(output_text_and_refusal_parts_become_text),
    FG_TEST_CASE(function_calls_join_the_assistant_message_before_them),
    FG_TEST_CASE(a_function_call_alone_is_an_assistant_message_without_content),
    FG_TEST_CASE(function_output_text_parts_become_tool_content_parts),
    FG_TEST_CASE(reasoning_items_are_dropped_and_keep_the_turn_open),
    FG_TEST_CASE(a_new_message_closes_the_assistant_turn),
    FG_TEST_CASE(item_reference_is_replaced_by_the_stored_item),
    FG_TEST_CASE(references_inside_stored_items_are_followed),
    FG_TEST_CASE(previous_response_id_puts_its_conversation_after_the_instructions),
    FG_TEST_CASE(previous_response_id_alone_needs_no_input),
    FG_TEST_CASE(a_string_input_is_kept_as_one_user_message_item),
    FG_TEST_CASE(input_items_are_kept_as_sent_without_the_instructions),
    FG_TEST_CASE(the_kept_conversation_holds_references_resolved),
    FG_TEST_CASE(the_kept_conversation_starts_with_the_previous_response_s),
    FG_TEST_CASE(function_tools_are_nested_as_chat_wants),
    FG_TEST_CASE(tool_choice_and_parallel_tool_calls_go_with_tools),
    FG_TEST_CASE(without_tools_auto_choice_and_parallel_calls_send_nothing),
    FG_TEST_CASE(text_format_becomes_response_format),
    FG_TEST_CASE(reasoning_effort_is_sent_and_summary_is_not),
    FG_TEST_CASE(scalars_are_sent_under_their_chat_names),
    FG_TEST_CASE(members_chat_has_no_use_for_are_checked_and_not_sent),
    FG_TEST_CASE(the_gateways_own_fields_are_copied_as_sent),
    FG_TEST_CASE(null_members_count_as_absent),
    FG_TEST_CASE(the_request_echo_is_filled),
    FG_TEST_CASE(the_echo_defaults_when_members_are_absent),
    FG_TEST_CASE(model_is_required),
    FG_TEST_CASE(the_body_must_be_a_json_object),
    FG_TEST_CASE(input_is_required_unless_a_conversation_is_stored),
    FG_TEST_CASE(an_unknown_member_is_refused_by_name),
    FG_TEST_CASE(an_unknown_member_is_quoted_at_most_64_bytes),
    FG_TEST_CASE(background_prompt_and_conversation_are_refused),
    FG_TEST_CASE(scalars_out_of_range_or_of_the_wrong_type_are_refused),
    FG_TEST_CASE(tools_other_than_functions_are_refused),
    FG_TEST_CASE(a_function_tool_is_checked),
    FG_TEST_CASE(tool_choice_is_checked),
    FG_TEST_CASE(text_is_checked),
    FG_TEST_CASE(reasoning_is_checked),
    FG_TEST_CASE(metadata_include_and_stream_options_are_checked),
    FG_TEST_CASE(too_many_items_are_refused),
    FG_TEST_CASE(a_message_item_is_checked),
    FG_TEST_CASE(file_and_audio_parts_are_refused),
    FG_TEST_CASE(an_image_part_is_checked),
    FG_TEST_CASE(item_types_chat_cannot_carry_are_refused),
    FG_TEST_CASE(function_call_items_are_checked),
    FG_TEST_CASE(an_unknown_item_reference_is_refused_naming_the_id),
    FG_TEST_CASE(an_unknown_previous_response_is_refused_naming_it),
    FG_TEST_CASE(without_a_lookup_nothing_is_stored),
    FG_TEST_CASE(stored_items_that_do_not_translate_are_reported_where_named),
    FG_TEST_CASE(references_that_loop_stop_at_the_depth_bound),
    FG_TEST_CASE(looked_up_bytes_are_bounded_for_the_whole_request),
    FG_TEST_CASE(the_chat_body_keeps_within_twice_the_request),
    FG_TEST_CASE(the_chat_body_nests_at_most_one_level_deeper),
    FG_TEST_CASE(nesting_beyond_max_depth_is_refused_before_anything_is_read))
