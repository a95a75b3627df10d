/*
 * test_validate.c: every rule of the chat-completions validator, each
 * accepted and rejected where it applies, with the exact error code and
 * param. Bodies are written with ' for " (validate_run() swaps them) so
 * they read like the JSON they are; the few that need a literal quote or
 * raw bytes go through validate_run_raw().
 */

#include "worker/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/errors.h"
#include "tests/unit/fg_test.h"

/* A valid request to which a test appends its fields: REQ(",'n':2"). */
#define REQ(extra)                                                          \
    "{'model':'m','messages':[{'role':'user','content':'hi'}]" extra "}"

/* A request whose only message is @msg. */
#define MSG(msg) "{'model':'m','messages':[" msg "]}"

static fg_err_t          validate_err;
static fg_chat_request_t validate_req;
static fg_jdoc_t         validate_doc;
static char             *validate_body;   /* what validate_doc points into */

/* Releases the last accepted document (tests call it when done). */
static void
validate_done(fg_jdoc_t *doc)
{
    if (doc != NULL) {
        fg_jdoc_free(doc);
    }
    free(validate_body);
    validate_body = NULL;
}

/* Validates @len bytes as they are (copied to a buffer of exactly @len
 * bytes, no NUL: the validator must not need one); the document on
 * acceptance, NULL on rejection. */
static fg_jdoc_t *
validate_run_raw(const char *body, size_t len)
{
    memset(&validate_err, 0, sizeof(validate_err));
    memset(&validate_req, 0, sizeof(validate_req));
    free(validate_body);
    validate_body = malloc(len ? len : 1);
    memcpy(validate_body, body, len);
    if (fg_validate_chat_body(validate_body, len, 64, &validate_doc,
                              &validate_req, &validate_err) != FG_OK) {
        return NULL;
    }
    return &validate_doc;
}

/* Validates @body with every ' turned into ". */
static fg_jdoc_t *
validate_run(const char *body)
{
    size_t     i, n = strlen(body);
    char      *s = malloc(n + 1);
    fg_jdoc_t *root;

    for (i = 0; i <= n; i++) {
        s[i] = body[i] == '\'' ? '"' : body[i];
    }
    root = validate_run_raw(s, n);
    free(s);
    return root;
}

/* The model the last accepted body named. */
static const char *
validate_model_name(void)
{
    static char name[64];

    fg_jdoc_str_copy(&validate_doc, validate_req.model, name, sizeof(name));
    return name;
}

#define expect_accepted(body_)                                              \
    do {                                                                    \
        fg_jdoc_t *r_ = validate_run(body_);                                   \
        if (r_ == NULL) {                                                   \
            FG_TEST_FAIL("rejected %s: %s [%s] %s", body_,                  \
                         fg_error_code_str(validate_err.code),              \
                         validate_err.param, validate_err.msg);             \
        }                                                                   \
        validate_done(r_);                                                    \
    } while (0)

#define expect_rejected(body_, code_, param_)                               \
    do {                                                                    \
        fg_jdoc_t *r_ = validate_run(body_);                                   \
        expect_true(r_ == NULL);                                            \
        validate_done(r_);                                                    \
        expect_str_eq(fg_error_code_str(validate_err.code),                 \
                      fg_error_code_str(code_));                            \
        expect_str_eq(validate_err.param, param_);                          \
    } while (0)

#define expect_raw_rejected(body_, len_, code_)                             \
    do {                                                                    \
        fg_jdoc_t *r_ = validate_run_raw(body_, len_);                         \
        expect_true(r_ == NULL);                                            \
        validate_done(r_);                                                    \
        expect_str_eq(fg_error_code_str(validate_err.code),                 \
                      fg_error_code_str(code_));                            \
    } while (0)

/* ---- bytes to JSON ---------------------------------------------------- */

static void
validate_rejects_empty_body(void)
{
    expect_raw_rejected("", 0, FG_E_EMPTY_BODY);
    expect_str_eq(validate_err.param, "");
    expect_int_eq(fg_validate_chat_body(NULL, 0, 64, &validate_doc, NULL,
                                        NULL), FG_ERR);
}

static void
validate_rejects_whitespace_only_body(void)
{
    expect_raw_rejected("  \r\n\t ", 6, FG_E_EMPTY_BODY);
}

static void
validate_rejects_invalid_json_with_line_and_column(void)
{
    expect_rejected("{'model':'m',\n'messages':[}", FG_E_INVALID_JSON, "");
    expect_true(strstr(validate_err.msg, "line 2") != NULL);
    expect_true(strstr(validate_err.msg, "column") != NULL);
}

static void
validate_rejects_trailing_garbage(void)
{
    expect_rejected(REQ("") " x", FG_E_INVALID_JSON, "");
}

static void
validate_rejects_top_level_array(void)
{
    expect_rejected("[" REQ("") "]", FG_E_INVALID_TYPE, "");
}

static void
validate_rejects_top_level_string(void)
{
    expect_rejected("'hello'", FG_E_INVALID_TYPE, "");
}

static void
validate_rejects_duplicate_top_level_key(void)
{
    expect_rejected(REQ(",'max_tokens':1,'max_tokens':100000"),
                    FG_E_DUPLICATE_KEY, "");
    expect_true(strstr(validate_err.msg, "max_tokens") != NULL);
}

static void
validate_rejects_duplicate_model_key(void)
{
    expect_rejected(REQ(",'model':'other'"), FG_E_DUPLICATE_KEY, "");
}

static void
validate_rejects_duplicate_nested_key(void)
{
    expect_rejected(MSG("{'role':'user','content':'a','role':'system'}"),
                    FG_E_DUPLICATE_KEY, "");
    expect_rejected(REQ(",'metadata':{'a':{'b':1,'b':2}}"),
                    FG_E_DUPLICATE_KEY, "");
}

/* An extra field nested @levels deep inside the request object. */
static char *
validate_nested_body(size_t levels)
{
    const char *head = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                       "\"content\":\"hi\"}],\"x\":";
    size_t      n = strlen(head), i;
    char       *s = malloc(n + 2 * levels + 3);

    memcpy(s, head, n);
    for (i = 0; i < levels; i++) {
        s[n + i] = '[';
        s[n + levels + 1 + i] = ']';
    }
    s[n + levels] = '1';
    s[n + 2 * levels + 1] = '}';
    s[n + 2 * levels + 2] = '\0';
    return s;
}

static void
validate_accepts_nesting_at_the_limit(void)
{
    char   *s = validate_nested_body(63);   /* plus the top-level object */
    fg_jdoc_t *root = validate_run_raw(s, strlen(s));

    expect_true(root != NULL);
    validate_done(root);
    free(s);
}

static void
validate_rejects_nesting_one_past_the_limit(void)
{
    char *s = validate_nested_body(64);

    expect_raw_rejected(s, strlen(s), FG_E_NESTING_TOO_DEEP);
    free(s);
}

static void
validate_rejects_ten_thousand_deep_array(void)
{
    size_t  n = 10000, i;
    char   *s = malloc(2 * n);

    for (i = 0; i < n; i++) {
        s[i] = '[';
        s[2 * n - 1 - i] = ']';
    }
    expect_raw_rejected(s, 2 * n, FG_E_NESTING_TOO_DEEP);
    expect_str_eq(validate_err.param, "");
    free(s);
}

static void
validate_rejects_invalid_utf8(void)
{
    const char s[] = "{\"model\":\"m\xc3\x28\",\"messages\":[{\"role\":"
                     "\"user\",\"content\":\"hi\"}]}";

    expect_raw_rejected(s, sizeof(s) - 1, FG_E_INVALID_JSON);
}

static void
validate_rejects_nul_escape(void)
{
    const char s[] = "{\"model\":\"m\\u0000x\",\"messages\":[{\"role\":"
                     "\"user\",\"content\":\"hi\"}]}";

    expect_raw_rejected(s, sizeof(s) - 1, FG_E_INVALID_JSON);
}

static void
validate_rejects_raw_nul_byte(void)
{
    const char s[] = "{\"model\":\"m\0\",\"messages\":[]}";

    expect_raw_rejected(s, sizeof(s) - 1, FG_E_INVALID_JSON);
}

static void
validate_rejects_overflowing_numbers(void)
{
    expect_rejected(REQ(",'temperature':1e400"), FG_E_INVALID_JSON, "");
    expect_rejected(REQ(",'max_tokens':99999999999999999999"),
                    FG_E_INVALID_JSON, "");
}

/* ---- routing fields --------------------------------------------------- */

static const char *const validate_routing_fields[] = {
    "api_base", "base_url", "api_url", "api_host", "api_key", "api_version",
    "endpoint", "azure_endpoint", "custom_llm_provider", "extra_headers",
    "extra_query", "provider_url",
};

static void
validate_refuses_each_routing_field_at_top_level(void)
{
    size_t i;
    char   body[256];

    for (i = 0; i < sizeof(validate_routing_fields) / sizeof(char *); i++) {
        snprintf(body, sizeof(body), REQ(",'%s':'http://169.254.169.254'"),
                 validate_routing_fields[i]);
        expect_rejected(body, FG_E_FORBIDDEN_FIELD,
                        validate_routing_fields[i]);
    }
}

static void
validate_refuses_each_routing_field_inside_extra_body(void)
{
    size_t i;
    char   body[256], param[64];

    for (i = 0; i < sizeof(validate_routing_fields) / sizeof(char *); i++) {
        snprintf(body, sizeof(body), REQ(",'extra_body':{'%s':{}}"),
                 validate_routing_fields[i]);
        snprintf(param, sizeof(param), "extra_body.%s",
                 validate_routing_fields[i]);
        expect_rejected(body, FG_E_FORBIDDEN_FIELD, param);
    }
}

static void
validate_refuses_routing_field_in_any_letter_case(void)
{
    expect_rejected(REQ(",'API_Base':'http://x'"), FG_E_FORBIDDEN_FIELD,
                    "API_Base");
}

static void
validate_refuses_routing_field_even_as_null(void)
{
    expect_rejected(REQ(",'base_url':null"), FG_E_FORBIDDEN_FIELD,
                    "base_url");
}

static void
validate_refuses_routing_field_before_other_errors(void)
{
    expect_rejected("{'api_key':'sk-x'}", FG_E_FORBIDDEN_FIELD, "api_key");
}

static void
validate_keeps_extra_body_without_routing_fields(void)
{
    fg_jdoc_t *root = validate_run(REQ(",'extra_body':{'top_k':5}"));

    expect_true(root != NULL);
    expect_int_eq(root->nodes[fg_jdoc_get(root, fg_jdoc_get(root, 0,
                                                             "extra_body"),
                                          "top_k")].num.i, 5);
    validate_done(root);
}

static void
validate_keeps_routing_names_below_other_fields(void)
{
    /* Only the top level and extra_body can steer the gateway. */
    expect_accepted(REQ(",'metadata':{'api_key':'x'}"));
}

/* ---- model ------------------------------------------------------------ */

static void
validate_accepts_minimal_request(void)
{
    fg_jdoc_t *root = validate_run(REQ(""));

    expect_true(root != NULL);
    expect_str_eq(validate_model_name(), "m");
    expect_int_eq(validate_req.is_stream, 0);
    expect_int_eq(validate_req.include_usage, 0);
    expect_int_eq(validate_req.max_tokens, 0);
    expect_int_eq(validate_req.n, 1);
    validate_done(root);
}

static void
validate_accepts_null_out(void)
{
    const char *s = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                    "\"content\":\"hi\"}]}";
    fg_jdoc_t   doc;

    expect_int_eq(fg_validate_chat_body(s, strlen(s), 64, &doc, NULL, NULL),
                  FG_OK);
    fg_jdoc_free(&doc);
}

/* The compression's revalidation fills a fresh stack struct: nothing of
 * what it held may survive (inputs multiplies the window in the meter). */
static void
validate_fills_every_member_whatever_out_held(void)
{
    const char       *s = "{\"model\":\"m\",\"messages\":[{\"role\":"
                          "\"user\",\"content\":\"hi\"}]}";
    fg_jdoc_t         doc;
    fg_chat_request_t out;

    memset(&out, 0x5a, sizeof(out));
    expect_int_eq(fg_validate_chat_body(s, strlen(s), 64, &doc, &out, NULL),
                  FG_OK);
    expect_int_eq(out.inputs, 0);
    expect_int_eq(out.wants_base64, 0);
    expect_int_eq(out.n, 1);
    fg_jdoc_free(&doc);
}

static void
validate_requires_model(void)
{
    expect_rejected("{'messages':[{'role':'user','content':'hi'}]}",
                    FG_E_REQUIRED_FIELD, "model");
}

static void
validate_rejects_empty_model(void)
{
    expect_rejected("{'model':'','messages':[{'role':'user','content':'x'}]}",
                    FG_E_REQUIRED_FIELD, "model");
}

static void
validate_rejects_null_model(void)
{
    expect_rejected("{'model':null,'messages':[{'role':'user','content':"
                    "'x'}]}", FG_E_REQUIRED_FIELD, "model");
}

static void
validate_rejects_non_string_model(void)
{
    expect_rejected("{'model':4,'messages':[{'role':'user','content':'x'}]}",
                    FG_E_INVALID_TYPE, "model");
}

/* ---- messages --------------------------------------------------------- */

static void
validate_requires_messages(void)
{
    expect_rejected("{'model':'m'}", FG_E_REQUIRED_FIELD, "messages");
}

static void
validate_rejects_empty_messages(void)
{
    expect_rejected("{'model':'m','messages':[]}", FG_E_REQUIRED_FIELD,
                    "messages");
}

static void
validate_rejects_non_array_messages(void)
{
    expect_rejected("{'model':'m','messages':{'role':'user'}}",
                    FG_E_INVALID_TYPE, "messages");
}

static void
validate_rejects_non_object_message(void)
{
    expect_rejected(MSG("{'role':'user','content':'a'},'hi'"),
                    FG_E_INVALID_TYPE, "messages[1]");
}

static void
validate_requires_role_naming_its_index(void)
{
    expect_rejected(MSG("{'role':'system','content':'a'},"
                        "{'role':'user','content':'b'},"
                        "{'role':'assistant','content':'c'},"
                        "{'content':'d'}"),
                    FG_E_REQUIRED_FIELD, "messages[3].role");
}

static void
validate_rejects_unknown_role(void)
{
    expect_rejected(MSG("{'role':'admin','content':'a'}"),
                    FG_E_INVALID_VALUE, "messages[0].role");
    expect_true(strstr(validate_err.msg, "'admin'") != NULL);
}

static void
validate_rejects_non_string_role(void)
{
    expect_rejected(MSG("{'role':1,'content':'a'}"), FG_E_INVALID_TYPE,
                    "messages[0].role");
}

static void
validate_accepts_every_role(void)
{
    expect_accepted(MSG("{'role':'system','content':'a'},"
                        "{'role':'developer','content':'b'},"
                        "{'role':'user','content':'c'},"
                        "{'role':'assistant','content':'d'},"
                        "{'role':'tool','tool_call_id':'t1','content':'e'}"));
}

static void
validate_requires_content_for_user_system_developer_and_tool(void)
{
    expect_rejected(MSG("{'role':'user'}"), FG_E_REQUIRED_FIELD,
                    "messages[0].content");
    expect_rejected(MSG("{'role':'system','content':null}"),
                    FG_E_REQUIRED_FIELD, "messages[0].content");
    expect_rejected(MSG("{'role':'developer'}"), FG_E_REQUIRED_FIELD,
                    "messages[0].content");
    expect_rejected(MSG("{'role':'tool','tool_call_id':'t'}"),
                    FG_E_REQUIRED_FIELD, "messages[0].content");
}

static void
validate_accepts_empty_string_content(void)
{
    expect_accepted(MSG("{'role':'user','content':''}"));
}

static void
validate_accepts_assistant_without_content_when_calling_tools(void)
{
    expect_accepted(MSG("{'role':'user','content':'q'},"
                        "{'role':'assistant','tool_calls':[{'id':'c1',"
                        "'type':'function','function':{'name':'f',"
                        "'arguments':'{}'}}]}"));
    expect_accepted(MSG("{'role':'assistant','content':null,"
                        "'tool_calls':[{'id':'c1'}]}"));
}

static void
validate_accepts_assistant_without_content_when_calling_a_function(void)
{
    expect_accepted(MSG("{'role':'assistant','function_call':{'name':'f',"
                        "'arguments':'{}'}}"));
}

static void
validate_requires_assistant_content_without_tool_calls(void)
{
    expect_rejected(MSG("{'role':'assistant'}"), FG_E_REQUIRED_FIELD,
                    "messages[0].content");
    expect_rejected(MSG("{'role':'assistant','content':null,"
                        "'tool_calls':[]}"),
                    FG_E_REQUIRED_FIELD, "messages[0].content");
}

static void
validate_rejects_non_array_tool_calls(void)
{
    expect_rejected(MSG("{'role':'assistant','tool_calls':{}}"),
                    FG_E_INVALID_TYPE, "messages[0].tool_calls");
    expect_rejected(MSG("{'role':'assistant','tool_calls':[1]}"),
                    FG_E_INVALID_TYPE, "messages[0].tool_calls[0]");
}

static void
validate_rejects_non_object_function_call(void)
{
    expect_rejected(MSG("{'role':'assistant','function_call':'f'}"),
                    FG_E_INVALID_TYPE, "messages[0].function_call");
}

static void
validate_requires_tool_call_id_on_tool_messages(void)
{
    expect_rejected(MSG("{'role':'tool','content':'42'}"),
                    FG_E_REQUIRED_FIELD, "messages[0].tool_call_id");
}

static void
validate_rejects_non_string_tool_call_id(void)
{
    expect_rejected(MSG("{'role':'tool','tool_call_id':7,'content':'42'}"),
                    FG_E_INVALID_TYPE, "messages[0].tool_call_id");
}

static void
validate_rejects_content_of_wrong_type(void)
{
    expect_rejected(MSG("{'role':'user','content':42}"), FG_E_INVALID_TYPE,
                    "messages[0].content");
    expect_rejected(MSG("{'role':'user','content':{'type':'text'}}"),
                    FG_E_INVALID_TYPE, "messages[0].content");
}

static void
validate_rejects_empty_content_array(void)
{
    expect_rejected(MSG("{'role':'user','content':[]}"), FG_E_OUT_OF_RANGE,
                    "messages[0].content");
}

static void
validate_accepts_text_part(void)
{
    expect_accepted(MSG("{'role':'user','content':[{'type':'text',"
                        "'text':'hi'}]}"));
}

static void
validate_requires_text_of_text_part(void)
{
    expect_rejected(MSG("{'role':'user','content':[{'type':'text'}]}"),
                    FG_E_REQUIRED_FIELD, "messages[0].content[0].text");
    expect_rejected(MSG("{'role':'user','content':[{'type':'text',"
                        "'text':['hi']}]}"),
                    FG_E_INVALID_TYPE, "messages[0].content[0].text");
}

static void
validate_requires_type_of_each_part(void)
{
    expect_rejected(MSG("{'role':'user','content':[{'type':'text',"
                        "'text':'a'},{'text':'b'}]}"),
                    FG_E_REQUIRED_FIELD, "messages[0].content[1].type");
    expect_rejected(MSG("{'role':'user','content':[{'type':5}]}"),
                    FG_E_INVALID_TYPE, "messages[0].content[0].type");
}

static void
validate_rejects_non_object_part(void)
{
    expect_rejected(MSG("{'role':'user','content':[{'type':'text',"
                        "'text':'a'},'b']}"),
                    FG_E_INVALID_TYPE, "messages[0].content[1]");
}

static void
validate_accepts_image_url_part(void)
{
    expect_accepted(MSG("{'role':'user','content':[{'type':'image_url',"
                        "'image_url':{'url':'https://x/y.png',"
                        "'detail':'low'}}]}"));
}

static void
validate_requires_image_url_object_with_url(void)
{
    expect_rejected(MSG("{'role':'user','content':[{'type':'text',"
                        "'text':'a'},{'type':'image_url'}]}"),
                    FG_E_REQUIRED_FIELD, "messages[0].content[1].image_url");
    expect_rejected(MSG("{'role':'user','content':[{'type':'image_url',"
                        "'image_url':'https://x'}]}"),
                    FG_E_INVALID_TYPE, "messages[0].content[0].image_url");
    expect_rejected(MSG("{'role':'user','content':[{'type':'text',"
                        "'text':'a'},{'type':'image_url','image_url':{}}]}"),
                    FG_E_REQUIRED_FIELD,
                    "messages[0].content[1].image_url.url");
    expect_rejected(MSG("{'role':'user','content':[{'type':'image_url',"
                        "'image_url':{'url':1}}]}"),
                    FG_E_INVALID_TYPE,
                    "messages[0].content[0].image_url.url");
}

static void
validate_accepts_input_audio_part(void)
{
    expect_accepted(MSG("{'role':'user','content':[{'type':'input_audio',"
                        "'input_audio':{'data':'AAAA','format':'wav'}}]}"));
}

static void
validate_requires_input_audio_data_and_format(void)
{
    expect_rejected(MSG("{'role':'user','content':[{'type':'input_audio'}]}"),
                    FG_E_REQUIRED_FIELD,
                    "messages[0].content[0].input_audio");
    expect_rejected(MSG("{'role':'user','content':[{'type':'input_audio',"
                        "'input_audio':{'format':'wav'}}]}"),
                    FG_E_REQUIRED_FIELD,
                    "messages[0].content[0].input_audio.data");
    expect_rejected(MSG("{'role':'user','content':[{'type':'input_audio',"
                        "'input_audio':{'data':'AAAA'}}]}"),
                    FG_E_REQUIRED_FIELD,
                    "messages[0].content[0].input_audio.format");
    expect_rejected(MSG("{'role':'user','content':[{'type':'input_audio',"
                        "'input_audio':{'data':'AAAA','format':3}}]}"),
                    FG_E_INVALID_TYPE,
                    "messages[0].content[0].input_audio.format");
}

static void
validate_accepts_file_part(void)
{
    expect_accepted(MSG("{'role':'user','content':[{'type':'file',"
                        "'file':{'file_id':'file-1'}}]}"));
}

static void
validate_requires_file_object_of_file_part(void)
{
    expect_rejected(MSG("{'role':'user','content':[{'type':'file'}]}"),
                    FG_E_REQUIRED_FIELD, "messages[0].content[0].file");
    expect_rejected(MSG("{'role':'user','content':[{'type':'file',"
                        "'file':'file-1'}]}"),
                    FG_E_INVALID_TYPE, "messages[0].content[0].file");
}

static void
validate_requires_refusal_text_of_refusal_part(void)
{
    expect_accepted(MSG("{'role':'assistant','content':[{'type':'refusal',"
                        "'refusal':'no'}]}"));
    expect_rejected(MSG("{'role':'assistant','content':[{'type':"
                        "'refusal'}]}"),
                    FG_E_REQUIRED_FIELD, "messages[0].content[0].refusal");
}

static void
validate_keeps_unknown_part_types(void)
{
    expect_accepted(MSG("{'role':'user','content':[{'type':'video_url',"
                        "'video_url':{'url':'https://x/v.mp4'}}]}"));
}

/* ---- numeric and boolean scalars -------------------------------------- */

static void
validate_accepts_temperature_from_0_to_2(void)
{
    expect_accepted(REQ(",'temperature':0"));
    expect_accepted(REQ(",'temperature':2"));
    expect_accepted(REQ(",'temperature':0.7"));
    expect_accepted(REQ(",'temperature':null"));
}

static void
validate_rejects_temperature_outside_0_to_2(void)
{
    expect_rejected(REQ(",'temperature':2.01"), FG_E_OUT_OF_RANGE,
                    "temperature");
    expect_true(strstr(validate_err.msg, "2.01") != NULL);
    expect_rejected(REQ(",'temperature':-0.5"), FG_E_OUT_OF_RANGE,
                    "temperature");
}

static void
validate_rejects_non_number_temperature(void)
{
    expect_rejected(REQ(",'temperature':'hot'"), FG_E_INVALID_TYPE,
                    "temperature");
    expect_rejected(REQ(",'temperature':true"), FG_E_INVALID_TYPE,
                    "temperature");
}

static void
validate_accepts_top_p_from_0_to_1(void)
{
    expect_accepted(REQ(",'top_p':0"));
    expect_accepted(REQ(",'top_p':1"));
}

static void
validate_rejects_top_p_outside_0_to_1(void)
{
    expect_rejected(REQ(",'top_p':1.5"), FG_E_OUT_OF_RANGE, "top_p");
    expect_rejected(REQ(",'top_p':-1"), FG_E_OUT_OF_RANGE, "top_p");
}

static void
validate_accepts_n_from_1_to_128(void)
{
    fg_jdoc_t *root = validate_run(REQ(",'n':128"));

    expect_true(root != NULL);
    expect_int_eq(validate_req.n, 128);
    validate_done(root);
    expect_accepted(REQ(",'n':1"));
}

static void
validate_rejects_n_outside_1_to_128(void)
{
    expect_rejected(REQ(",'n':0"), FG_E_OUT_OF_RANGE, "n");
    expect_rejected(REQ(",'n':129"), FG_E_OUT_OF_RANGE, "n");
    expect_rejected(REQ(",'n':1000"), FG_E_OUT_OF_RANGE, "n");
}

static void
validate_rejects_non_integer_n(void)
{
    expect_rejected(REQ(",'n':2.0"), FG_E_INVALID_TYPE, "n");
    expect_rejected(REQ(",'n':true"), FG_E_INVALID_TYPE, "n");
    expect_rejected(REQ(",'n':'2'"), FG_E_INVALID_TYPE, "n");
}

static void
validate_accepts_max_tokens_of_at_least_1(void)
{
    fg_jdoc_t *root = validate_run(REQ(",'max_tokens':1"));

    expect_true(root != NULL);
    expect_int_eq(validate_req.max_tokens, 1);
    validate_done(root);
    expect_accepted(REQ(",'max_tokens':2147483647"));
}

static void
validate_rejects_max_tokens_out_of_range(void)
{
    expect_rejected(REQ(",'max_tokens':0"), FG_E_OUT_OF_RANGE, "max_tokens");
    expect_rejected(REQ(",'max_tokens':-1"), FG_E_OUT_OF_RANGE,
                    "max_tokens");
    expect_rejected(REQ(",'max_tokens':9223372036854775807"),
                    FG_E_OUT_OF_RANGE, "max_tokens");
}

static void
validate_rejects_fractional_and_boolean_max_tokens(void)
{
    expect_rejected(REQ(",'max_tokens':10.5"), FG_E_INVALID_TYPE,
                    "max_tokens");
    expect_true(strstr(validate_err.msg, "decimal number") != NULL);
    expect_rejected(REQ(",'max_tokens':true"), FG_E_INVALID_TYPE,
                    "max_tokens");
    expect_rejected(REQ(",'max_tokens':'100'"), FG_E_INVALID_TYPE,
                    "max_tokens");
}

static void
validate_accepts_max_completion_tokens(void)
{
    fg_jdoc_t *root = validate_run(REQ(",'max_completion_tokens':300"));

    expect_true(root != NULL);
    expect_int_eq(validate_req.max_tokens, 300);
    validate_done(root);
}

static void
validate_rejects_max_completion_tokens_out_of_range_or_type(void)
{
    expect_rejected(REQ(",'max_completion_tokens':0"), FG_E_OUT_OF_RANGE,
                    "max_completion_tokens");
    expect_rejected(REQ(",'max_completion_tokens':1.5"), FG_E_INVALID_TYPE,
                    "max_completion_tokens");
    expect_rejected(REQ(",'max_completion_tokens':false"),
                    FG_E_INVALID_TYPE, "max_completion_tokens");
}

static void
validate_reports_the_larger_of_both_token_limits(void)
{
    fg_jdoc_t *root;

    root = validate_run(REQ(",'max_tokens':50,'max_completion_tokens':20"));
    expect_true(root != NULL);
    expect_int_eq(validate_req.max_tokens, 50);
    validate_done(root);
    root = validate_run(REQ(",'max_tokens':5,'max_completion_tokens':20"));
    expect_true(root != NULL);
    expect_int_eq(validate_req.max_tokens, 20);
    validate_done(root);
}

static void
validate_accepts_stop_string_or_1_to_4_strings(void)
{
    expect_accepted(REQ(",'stop':'\\n'"));
    expect_accepted(REQ(",'stop':['a']"));
    expect_accepted(REQ(",'stop':['a','b','c','d']"));
}

static void
validate_rejects_stop_with_0_or_more_than_4_strings(void)
{
    expect_rejected(REQ(",'stop':[]"), FG_E_OUT_OF_RANGE, "stop");
    expect_rejected(REQ(",'stop':['a','b','c','d','e']"), FG_E_OUT_OF_RANGE,
                    "stop");
}

static void
validate_rejects_stop_of_wrong_type(void)
{
    expect_rejected(REQ(",'stop':5"), FG_E_INVALID_TYPE, "stop");
    expect_rejected(REQ(",'stop':['a',5]"), FG_E_INVALID_TYPE, "stop[1]");
}

static void
validate_accepts_penalties_from_minus_2_to_2(void)
{
    expect_accepted(REQ(",'presence_penalty':-2,'frequency_penalty':2"));
    expect_accepted(REQ(",'presence_penalty':0.5,'frequency_penalty':-1.5"));
}

static void
validate_rejects_penalties_outside_minus_2_to_2(void)
{
    expect_rejected(REQ(",'presence_penalty':2.5"), FG_E_OUT_OF_RANGE,
                    "presence_penalty");
    expect_rejected(REQ(",'frequency_penalty':-3"), FG_E_OUT_OF_RANGE,
                    "frequency_penalty");
    expect_rejected(REQ(",'frequency_penalty':'x'"), FG_E_INVALID_TYPE,
                    "frequency_penalty");
}

static void
validate_accepts_boolean_logprobs(void)
{
    expect_accepted(REQ(",'logprobs':true"));
    expect_accepted(REQ(",'logprobs':false"));
}

static void
validate_rejects_non_boolean_logprobs(void)
{
    expect_rejected(REQ(",'logprobs':1"), FG_E_INVALID_TYPE, "logprobs");
    expect_rejected(REQ(",'logprobs':'true'"), FG_E_INVALID_TYPE,
                    "logprobs");
}

static void
validate_accepts_top_logprobs_from_0_to_20(void)
{
    expect_accepted(REQ(",'logprobs':true,'top_logprobs':0"));
    expect_accepted(REQ(",'logprobs':true,'top_logprobs':20"));
}

static void
validate_rejects_top_logprobs_outside_0_to_20(void)
{
    expect_rejected(REQ(",'top_logprobs':21"), FG_E_OUT_OF_RANGE,
                    "top_logprobs");
    expect_rejected(REQ(",'top_logprobs':-1"), FG_E_OUT_OF_RANGE,
                    "top_logprobs");
    expect_rejected(REQ(",'top_logprobs':2.5"), FG_E_INVALID_TYPE,
                    "top_logprobs");
}

static void
validate_accepts_integer_seed(void)
{
    expect_accepted(REQ(",'seed':-9223372036854775807"));
    expect_accepted(REQ(",'seed':42"));
}

static void
validate_rejects_non_integer_seed(void)
{
    expect_rejected(REQ(",'seed':4.2"), FG_E_INVALID_TYPE, "seed");
    expect_rejected(REQ(",'seed':'42'"), FG_E_INVALID_TYPE, "seed");
}

static void
validate_accepts_string_user_and_reasoning_effort(void)
{
    expect_accepted(REQ(",'user':'u-1','reasoning_effort':'high'"));
}

static void
validate_rejects_non_string_user(void)
{
    expect_rejected(REQ(",'user':5"), FG_E_INVALID_TYPE, "user");
}

static void
validate_rejects_non_string_reasoning_effort(void)
{
    expect_rejected(REQ(",'reasoning_effort':{'effort':'high'}"),
                    FG_E_INVALID_TYPE, "reasoning_effort");
}

static void
validate_accepts_boolean_parallel_tool_calls(void)
{
    expect_accepted(REQ(",'parallel_tool_calls':false"));
}

static void
validate_rejects_non_boolean_parallel_tool_calls(void)
{
    expect_rejected(REQ(",'parallel_tool_calls':'no'"), FG_E_INVALID_TYPE,
                    "parallel_tool_calls");
}

/* ---- response_format -------------------------------------------------- */

static void
validate_accepts_response_format_text_and_json_object(void)
{
    expect_accepted(REQ(",'response_format':{'type':'text'}"));
    expect_accepted(REQ(",'response_format':{'type':'json_object'}"));
}

static void
validate_accepts_response_format_json_schema(void)
{
    expect_accepted(REQ(",'response_format':{'type':'json_schema',"
                        "'json_schema':{'name':'r','strict':true,"
                        "'schema':{'type':'object'}}}"));
    expect_accepted(REQ(",'response_format':{'type':'json_schema',"
                        "'json_schema':{'name':'r'}}"));
}

static void
validate_rejects_non_object_response_format(void)
{
    expect_rejected(REQ(",'response_format':'json'"), FG_E_INVALID_TYPE,
                    "response_format");
}

static void
validate_requires_response_format_type(void)
{
    expect_rejected(REQ(",'response_format':{}"), FG_E_REQUIRED_FIELD,
                    "response_format.type");
}

static void
validate_rejects_unknown_response_format_type(void)
{
    expect_rejected(REQ(",'response_format':{'type':'xml'}"),
                    FG_E_INVALID_VALUE, "response_format.type");
}

static void
validate_requires_json_schema_object_with_name(void)
{
    expect_rejected(REQ(",'response_format':{'type':'json_schema'}"),
                    FG_E_REQUIRED_FIELD, "response_format.json_schema");
    expect_rejected(REQ(",'response_format':{'type':'json_schema',"
                        "'json_schema':'r'}"),
                    FG_E_INVALID_TYPE, "response_format.json_schema");
    expect_rejected(REQ(",'response_format':{'type':'json_schema',"
                        "'json_schema':{'schema':{}}}"),
                    FG_E_REQUIRED_FIELD, "response_format.json_schema.name");
    expect_rejected(REQ(",'response_format':{'type':'json_schema',"
                        "'json_schema':{'name':1}}"),
                    FG_E_INVALID_TYPE, "response_format.json_schema.name");
}

static void
validate_rejects_non_object_json_schema_schema(void)
{
    expect_rejected(REQ(",'response_format':{'type':'json_schema',"
                        "'json_schema':{'name':'r','schema':'{}'}}"),
                    FG_E_INVALID_TYPE, "response_format.json_schema.schema");
}

/* ---- tools and tool_choice -------------------------------------------- */

static void
validate_accepts_function_tools(void)
{
    expect_accepted(REQ(",'tools':[{'type':'function','function':{"
                        "'name':'get_weather-2','description':'d',"
                        "'parameters':{'type':'object'}}},"
                        "{'type':'function','function':{'name':'f'}}]"));
}

static void
validate_rejects_non_array_tools(void)
{
    expect_rejected(REQ(",'tools':{}"), FG_E_INVALID_TYPE, "tools");
    expect_rejected(REQ(",'tools':['f']"), FG_E_INVALID_TYPE, "tools[0]");
}

static void
validate_requires_tool_type_function(void)
{
    expect_rejected(REQ(",'tools':[{'function':{'name':'f'}}]"),
                    FG_E_REQUIRED_FIELD, "tools[0].type");
    expect_rejected(REQ(",'tools':[{'type':'retrieval','function':{"
                        "'name':'f'}}]"),
                    FG_E_INVALID_VALUE, "tools[0].type");
}

static void
validate_requires_tool_function_with_name(void)
{
    expect_rejected(REQ(",'tools':[{'type':'function'}]"),
                    FG_E_REQUIRED_FIELD, "tools[0].function");
    expect_rejected(REQ(",'tools':[{'type':'function','function':{}}]"),
                    FG_E_REQUIRED_FIELD, "tools[0].function.name");
    expect_rejected(REQ(",'tools':[{'type':'function','function':{"
                        "'name':['f']}}]"),
                    FG_E_INVALID_TYPE, "tools[0].function.name");
}

static void
validate_rejects_tool_name_outside_the_pattern(void)
{
    expect_rejected(REQ(",'tools':[{'type':'function','function':{"
                        "'name':'f'}},{'type':'function','function':{"
                        "'name':'get weather'}}]"),
                    FG_E_INVALID_VALUE, "tools[1].function.name");
    expect_rejected(REQ(",'tools':[{'type':'function','function':{"
                        "'name':''}}]"),
                    FG_E_INVALID_VALUE, "tools[0].function.name");
    expect_rejected(REQ(",'tools':[{'type':'function','function':{'name':'"
                        "a123456789b123456789c123456789d123456789"
                        "e123456789f123456789g1234'}}]"),
                    FG_E_INVALID_VALUE, "tools[0].function.name");
}

static void
validate_accepts_tool_name_of_64_characters(void)
{
    expect_accepted(REQ(",'tools':[{'type':'function','function':{'name':'"
                        "a123456789b123456789c123456789d123456789"
                        "e123456789f123456789g123'}}]"));
}

static void
validate_rejects_non_object_tool_parameters(void)
{
    expect_rejected(REQ(",'tools':[{'type':'function','function':{"
                        "'name':'f','parameters':'{}'}}]"),
                    FG_E_INVALID_TYPE, "tools[0].function.parameters");
}

static void
validate_accepts_tool_choice_modes_and_named_function(void)
{
    expect_accepted(REQ(",'tool_choice':'none'"));
    expect_accepted(REQ(",'tool_choice':'auto'"));
    expect_accepted(REQ(",'tool_choice':'required'"));
    expect_accepted(REQ(",'tool_choice':{'type':'function','function':{"
                        "'name':'f'}}"));
}

static void
validate_rejects_unknown_tool_choice_mode(void)
{
    expect_rejected(REQ(",'tool_choice':'always'"), FG_E_INVALID_VALUE,
                    "tool_choice");
}

static void
validate_rejects_tool_choice_of_wrong_type(void)
{
    expect_rejected(REQ(",'tool_choice':1"), FG_E_INVALID_TYPE,
                    "tool_choice");
}

static void
validate_requires_tool_choice_object_naming_a_function(void)
{
    expect_rejected(REQ(",'tool_choice':{'function':{'name':'f'}}"),
                    FG_E_REQUIRED_FIELD, "tool_choice.type");
    expect_rejected(REQ(",'tool_choice':{'type':'tool','function':{"
                        "'name':'f'}}"),
                    FG_E_INVALID_VALUE, "tool_choice.type");
    expect_rejected(REQ(",'tool_choice':{'type':'function'}"),
                    FG_E_REQUIRED_FIELD, "tool_choice.function");
    expect_rejected(REQ(",'tool_choice':{'type':'function','function':{}}"),
                    FG_E_REQUIRED_FIELD, "tool_choice.function.name");
}

/* ---- streaming -------------------------------------------------------- */

static void
validate_accepts_boolean_stream(void)
{
    fg_jdoc_t *root = validate_run(REQ(",'stream':true"));

    expect_true(root != NULL);
    expect_int_eq(validate_req.is_stream, 1);
    expect_int_eq(validate_req.include_usage, 0);
    validate_done(root);
}

static void
validate_rejects_non_boolean_stream(void)
{
    expect_rejected(REQ(",'stream':'true'"), FG_E_INVALID_TYPE, "stream");
    expect_rejected(REQ(",'stream':1"), FG_E_INVALID_TYPE, "stream");
}

static void
validate_reports_include_usage_when_streaming(void)
{
    fg_jdoc_t *root = validate_run(REQ(",'stream':true,'stream_options':{"
                                    "'include_usage':true}"));

    expect_true(root != NULL);
    expect_int_eq(validate_req.is_stream, 1);
    expect_int_eq(validate_req.include_usage, 1);
    validate_done(root);
    root = validate_run(REQ(",'stream':true,'stream_options':{"
                            "'include_usage':false}"));
    expect_true(root != NULL);
    expect_int_eq(validate_req.include_usage, 0);
    validate_done(root);
}

static void
validate_rejects_stream_options_without_stream(void)
{
    expect_rejected(REQ(",'stream_options':{'include_usage':true}"),
                    FG_E_INVALID_VALUE, "stream_options");
    expect_rejected(REQ(",'stream':false,'stream_options':{}"),
                    FG_E_INVALID_VALUE, "stream_options");
}

static void
validate_accepts_null_stream_options_without_stream(void)
{
    expect_accepted(REQ(",'stream_options':null"));
}

static void
validate_rejects_stream_options_of_wrong_type(void)
{
    expect_rejected(REQ(",'stream':true,'stream_options':true"),
                    FG_E_INVALID_TYPE, "stream_options");
    expect_rejected(REQ(",'stream':true,'stream_options':{"
                        "'include_usage':'yes'}"),
                    FG_E_INVALID_TYPE, "stream_options.include_usage");
}

/* ---- logit_bias ------------------------------------------------------- */

static void
validate_accepts_logit_bias_from_minus_100_to_100(void)
{
    expect_accepted(REQ(",'logit_bias':{'50256':-100,'10':100,'7':0.5}"));
}

static void
validate_rejects_logit_bias_out_of_range(void)
{
    expect_rejected(REQ(",'logit_bias':{'50256':101}"), FG_E_OUT_OF_RANGE,
                    "logit_bias.50256");
}

static void
validate_rejects_logit_bias_of_wrong_type(void)
{
    expect_rejected(REQ(",'logit_bias':[1]"), FG_E_INVALID_TYPE,
                    "logit_bias");
    expect_rejected(REQ(",'logit_bias':{'1':'x'}"), FG_E_INVALID_TYPE,
                    "logit_bias.1");
}

/* ---- messages to the client ------------------------------------------- */

static void
validate_error_quotes_at_most_64_bytes_of_input(void)
{
    char   body[2048], role[1001];
    char  *p;

    memset(role, 'r', 1000);
    role[1000] = '\0';
    snprintf(body, sizeof(body), MSG("{'role':'%s','content':'a'}"), role);
    expect_rejected(body, FG_E_INVALID_VALUE, "messages[0].role");
    p = strstr(validate_err.msg, "rrrr");
    expect_true(p != NULL);
    expect_true(p != NULL && strspn(p, "r") == 64);
    expect_true(strstr(validate_err.msg, "...") != NULL);
}

static void
validate_error_cuts_quotes_on_utf8_boundaries(void)
{
    char      body[1024], role[256], rendered[FG_ERROR_BODY_MAX];
    fg_jdoc_t back;
    size_t    i;

    /* 70 two-byte characters: a byte cut would leave half of one. */
    for (i = 0; i < 70; i++) {
        role[2 * i] = (char) 0xc3;
        role[2 * i + 1] = (char) 0xa9;
    }
    role[140] = '\0';
    snprintf(body, sizeof(body), MSG("{'role':'x%s','content':'a'}"), role);
    expect_rejected(body, FG_E_INVALID_VALUE, "messages[0].role");
    fg_error_render(&validate_err, rendered, sizeof(rendered));
    expect_int_eq(fg_jdoc_parse(&back, rendered, strlen(rendered), 8, NULL),
                  FG_OK);
    expect_true(strstr(rendered, "internal_error") == NULL);
    fg_jdoc_free(&back);
}

static void
validate_error_replaces_control_bytes_in_quotes(void)
{
    expect_rejected(MSG("{'role':'a\\nb\\u0007','content':'a'}"),
                    FG_E_INVALID_VALUE, "messages[0].role");
    expect_true(strstr(validate_err.msg, "'a?b?'") != NULL);
}

static void
validate_error_names_expected_and_given_type(void)
{
    expect_rejected(REQ(",'temperature':'hot'"), FG_E_INVALID_TYPE,
                    "temperature");
    expect_true(strstr(validate_err.msg, "'temperature'") != NULL);
    expect_true(strstr(validate_err.msg, "a number") != NULL);
    expect_true(strstr(validate_err.msg, "a string") != NULL);
}

static void
validate_clips_long_logit_bias_key_in_param(void)
{
    char body[1024], key[301];

    memset(key, '9', 300);
    key[300] = '\0';
    snprintf(body, sizeof(body), REQ(",'logit_bias':{'%s':500}"), key);
    expect_true(validate_run(body) == NULL);
    expect_int_eq(validate_err.code, FG_E_OUT_OF_RANGE);
    expect_true(strlen(validate_err.param) < 100);
    expect_true(strstr(validate_err.param, "...") != NULL);
    expect_true(strncmp(validate_err.param, "logit_bias.999", 14) == 0);
}

/* ---- what comes back -------------------------------------------------- */

static void
validate_keeps_unknown_fields_and_provider_extensions(void)
{
    const char *body = REQ(",'top_k':40,'repetition_penalty':1.1,"
                           "'min_p':0.05,'verbosity':'low',"
                           "'metadata':{'a':'b'},'x_custom':[1,{'y':null}],"
                           "'temperature':null");
    fg_jdoc_t  *root = validate_run(body);

    expect_true(root != NULL);
    expect_int_eq(fg_jdoc_type(root, fg_jdoc_get(root, 0, "top_k")),
                  FG_JINT);
    expect_int_eq(root->nodes[fg_jdoc_get(root, 0, "top_k")].num.i, 40);
    expect_int_eq(fg_jdoc_type(root, fg_jdoc_get(root, 0,
                                                 "repetition_penalty")),
                  FG_JREAL);
    expect_int_eq(fg_jdoc_type(root, fg_jdoc_get(root, 0, "min_p")),
                  FG_JREAL);
    expect_true(fg_jdoc_str_eq(root, fg_jdoc_get(root, 0, "verbosity"),
                               "low"));
    expect_int_eq(fg_jdoc_type(root, fg_jdoc_get(root, 0, "metadata")),
                  FG_JOBJECT);
    expect_int_eq(fg_jdoc_type(root, fg_jdoc_get(root, 0, "x_custom")),
                  FG_JARRAY);
    expect_true(fg_jdoc_get(root, 0, "temperature") != FG_JNONE);
    expect_int_eq(fg_jdoc_type(root, fg_jdoc_get(root, 0, "temperature")),
                  FG_JNULL);
    expect_int_eq(root->nodes[0].count, 9);
    validate_done(root);
}

static void
validate_document_spans_the_body_as_sent(void)
{
    const char *body = " { 'model' : 'm' , 'messages' : [ { 'role' : "
                       "'user' , 'content' : 'hi' } ] } ";
    fg_jdoc_t  *root = validate_run(body);
    int         model;

    expect_true(root != NULL);
    /* The bytes that were checked are the bytes forwarded (chat.c). */
    expect_int_eq(root->nodes[0].start, 1);
    expect_int_eq(root->nodes[0].len, strlen(body) - 2);
    model = validate_req.model;
    expect_int_eq(model, fg_jdoc_get(root, 0, "model"));
    expect_true(memcmp(root->buf + root->nodes[model].start, "\"m\"", 3)
                == 0);
    validate_done(root);
}

static void
validate_model_is_the_node_of_the_model_string(void)
{
    fg_jdoc_t *root = validate_run(REQ(""));

    expect_true(root != NULL);
    expect_int_eq(fg_jdoc_type(root, validate_req.model), FG_JSTRING);
    expect_str_eq(validate_model_name(), "m");
    validate_done(root);
}

/* ---- the token field, for the meter's one edit ------------------------- */

/* The bytes of @span in the last accepted body. */
static const char *
validate_span_text(fg_span_t span)
{
    static char text[64];

    snprintf(text, sizeof(text), "%.*s", (int) span.len,
             validate_body + span.at);
    return text;
}

static void
validate_records_no_token_field_when_none_is_given(void)
{
    fg_jdoc_t *root = validate_run(REQ(""));

    expect_true(root != NULL);
    expect_int_eq(validate_req.tokens_field, FG_TOKENS_FIELD_NONE);
    expect_int_eq(validate_req.max_tokens_span.len, 0);
    expect_int_eq(validate_req.max_completion_tokens_span.len, 0);
    validate_done(root);
}

static void
validate_records_max_tokens_and_the_span_of_its_value(void)
{
    fg_jdoc_t *root = validate_run(REQ(",'max_tokens': 1234 "));

    expect_true(root != NULL);
    expect_int_eq(validate_req.tokens_field, FG_TOKENS_FIELD_MAX_TOKENS);
    expect_str_eq(fg_tokens_field_name(validate_req.tokens_field),
                  "max_tokens");
    expect_int_eq(validate_req.max_tokens, 1234);
    expect_str_eq(validate_span_text(validate_req.max_tokens_span), "1234");
    expect_int_eq(validate_req.max_completion_tokens_span.len, 0);
    validate_done(root);
}

static void
validate_records_max_completion_tokens_and_the_span_of_its_value(void)
{
    fg_jdoc_t *root = validate_run(REQ(",'max_completion_tokens':77"));

    expect_true(root != NULL);
    expect_int_eq(validate_req.tokens_field,
                  FG_TOKENS_FIELD_MAX_COMPLETION_TOKENS);
    expect_str_eq(fg_tokens_field_name(validate_req.tokens_field),
                  "max_completion_tokens");
    expect_int_eq(validate_req.max_tokens, 77);
    expect_str_eq(validate_span_text(
                      validate_req.max_completion_tokens_span), "77");
    expect_int_eq(validate_req.max_tokens_span.len, 0);
    validate_done(root);
}

static void
validate_records_both_token_fields_with_max_completion_tokens_first(void)
{
    fg_jdoc_t *root = validate_run(
        REQ(",'max_tokens':500,'max_completion_tokens':30"));

    expect_true(root != NULL);
    expect_int_eq(validate_req.tokens_field,
                  FG_TOKENS_FIELD_MAX_COMPLETION_TOKENS);
    expect_int_eq(validate_req.max_tokens, 500);   /* the worst case */
    expect_str_eq(validate_span_text(validate_req.max_tokens_span), "500");
    expect_str_eq(validate_span_text(
                      validate_req.max_completion_tokens_span), "30");
    validate_done(root);
}

static void
validate_records_a_null_token_field_as_the_name_used(void)
{
    fg_jdoc_t *root = validate_run(REQ(",'max_completion_tokens':null"));

    expect_true(root != NULL);
    expect_int_eq(validate_req.tokens_field,
                  FG_TOKENS_FIELD_MAX_COMPLETION_TOKENS);
    expect_int_eq(validate_req.max_tokens, 0);
    expect_str_eq(validate_span_text(
                      validate_req.max_completion_tokens_span), "null");
    validate_done(root);
}

/* ---- the gateway's routing fields (worker/routereq.c) ----------------- */

static void
validate_accepts_every_routing_field(void)
{
    expect_accepted(REQ(",'models':['a','p/b'],'route':'fallback',"
                         "'provider':{'order':['p','q'],'only':['p'],"
                         "'ignore':['r'],'allow_fallbacks':false,"
                         "'sort':'price','max_price':{'prompt':1.5,"
                         "'completion':2},'require_parameters':true,"
                         "'quantizations':['fp8']},'preset':'environment',"
                         "'filters':{'countries':['SE','FR'],"
                         "'max_carbon_intensity':100,'max_input_cost':0.5,"
                         "'min_speed_tps':20}"));
    expect_accepted(REQ(",'fallbacks':['a'],'provider':null,'preset':null"));
}

static void
validate_rejects_an_unknown_member_of_provider_naming_its_path(void)
{
    expect_rejected(REQ(",'provider':{'foo':1}"), FG_E_INVALID_VALUE,
                    "provider.foo");
    expect_rejected(REQ(",'provider':{'max_price':{'input':1}}"),
                    FG_E_INVALID_VALUE, "provider.max_price.input");
}

static void
validate_rejects_an_unknown_member_of_filters_naming_its_path(void)
{
    expect_rejected(REQ(",'filters':{'region':'eu'}"), FG_E_INVALID_VALUE,
                    "filters.region");
}

static void
validate_rejects_a_bad_routing_value_naming_its_path(void)
{
    expect_rejected(REQ(",'preset':'cheapest'"), FG_E_INVALID_VALUE,
                    "preset");
    expect_rejected(REQ(",'provider':{'sort':'random'}"),
                    FG_E_INVALID_VALUE, "provider.sort");
    expect_rejected(REQ(",'provider':{'order':'p'}"), FG_E_INVALID_TYPE,
                    "provider.order");
    expect_rejected(REQ(",'provider':{'only':['ok','b a d']}"),
                    FG_E_INVALID_VALUE, "provider.only[1]");
    expect_rejected(REQ(",'provider':{'max_price':{'prompt':-1}}"),
                    FG_E_OUT_OF_RANGE, "provider.max_price.prompt");
    expect_rejected(REQ(",'filters':{'countries':['se']}"),
                    FG_E_INVALID_VALUE, "filters.countries[0]");
    expect_rejected(REQ(",'filters':{'min_speed_tps':'fast'}"),
                    FG_E_INVALID_TYPE, "filters.min_speed_tps");
    expect_rejected(REQ(",'route':'random'"), FG_E_INVALID_VALUE, "route");
}

/* FG_ROUTE_MAX_LIST bounds every list of names in provider and filters. */
static void
validate_rejects_a_routing_list_longer_than_its_bound(void)
{
    expect_accepted(REQ(",'provider':{'order':['a','b','c','d','e','f','g',"
                        "'h','i','j','k','l','m','n','o','p']}"));
    expect_rejected(REQ(",'provider':{'order':['a','b','c','d','e','f','g',"
                        "'h','i','j','k','l','m','n','o','p','q']}"),
                    FG_E_OUT_OF_RANGE, "provider.order");
    expect_rejected(REQ(",'filters':{'countries':['AA','AB','AC','AD','AE',"
                        "'AF','AG','AH','AI','AJ','AK','AL','AM','AN','AO',"
                        "'AP','AQ']}"),
                    FG_E_OUT_OF_RANGE, "filters.countries");
}

static void
validate_rejects_fallback_models_that_are_not_a_short_list_of_ids(void)
{
    expect_rejected(REQ(",'models':'a'"), FG_E_INVALID_TYPE, "models");
    expect_rejected(REQ(",'models':['a',2]"), FG_E_INVALID_VALUE,
                    "models[1]");
    expect_rejected(REQ(",'models':['a','b','c','d','e','f','g','h']"),
                    FG_E_OUT_OF_RANGE, "models");
    expect_rejected(REQ(",'models':['a'],'fallbacks':['b']"),
                    FG_E_INVALID_VALUE, "fallbacks");
}

static void
validate_records_where_the_routing_fields_are(void)
{
    fg_jdoc_t *doc = validate_run(REQ(",'preset':'price','top_k':1"));

    expect_true(doc != NULL);
    if (doc != NULL) {
        expect_true(validate_req.route.member[FG_ROUTEREQ_PRESET]
                    != FG_JNONE);
        expect_true(validate_req.route.member[FG_ROUTEREQ_PROVIDER]
                    == FG_JNONE);
        expect_true(validate_req.route.fallbacks == FG_JNONE);
    }
    validate_done(doc);
}

FG_TEST_MAIN("validate",
    FG_TEST_CASE(validate_rejects_empty_body),
    FG_TEST_CASE(validate_fills_every_member_whatever_out_held),
    FG_TEST_CASE(validate_rejects_whitespace_only_body),
    FG_TEST_CASE(validate_rejects_invalid_json_with_line_and_column),
    FG_TEST_CASE(validate_rejects_trailing_garbage),
    FG_TEST_CASE(validate_rejects_top_level_array),
    FG_TEST_CASE(validate_rejects_top_level_string),
    FG_TEST_CASE(validate_rejects_duplicate_top_level_key),
    FG_TEST_CASE(validate_rejects_duplicate_model_key),
    FG_TEST_CASE(validate_rejects_duplicate_nested_key),
    FG_TEST_CASE(validate_accepts_nesting_at_the_limit),
    FG_TEST_CASE(validate_rejects_nesting_one_past_the_limit),
    FG_TEST_CASE(validate_rejects_ten_thousand_deep_array),
    FG_TEST_CASE(validate_rejects_invalid_utf8),
    FG_TEST_CASE(validate_rejects_nul_escape),
    FG_TEST_CASE(validate_rejects_raw_nul_byte),
    FG_TEST_CASE(validate_rejects_overflowing_numbers),
    FG_TEST_CASE(validate_refuses_each_routing_field_at_top_level),
    FG_TEST_CASE(validate_refuses_each_routing_field_inside_extra_body),
    FG_TEST_CASE(validate_refuses_routing_field_in_any_letter_case),
    FG_TEST_CASE(validate_refuses_routing_field_even_as_null),
    FG_TEST_CASE(validate_refuses_routing_field_before_other_errors),
    FG_TEST_CASE(validate_keeps_extra_body_without_routing_fields),
    FG_TEST_CASE(validate_keeps_routing_names_below_other_fields),
    FG_TEST_CASE(validate_accepts_minimal_request),
    FG_TEST_CASE(validate_accepts_null_out),
    FG_TEST_CASE(validate_requires_model),
    FG_TEST_CASE(validate_rejects_empty_model),
    FG_TEST_CASE(validate_rejects_null_model),
    FG_TEST_CASE(validate_rejects_non_string_model),
    FG_TEST_CASE(validate_requires_messages),
    FG_TEST_CASE(validate_rejects_empty_messages),
    FG_TEST_CASE(validate_rejects_non_array_messages),
    FG_TEST_CASE(validate_rejects_non_object_message),
    FG_TEST_CASE(validate_requires_role_naming_its_index),
    FG_TEST_CASE(validate_rejects_unknown_role),
    FG_TEST_CASE(validate_rejects_non_string_role),
    FG_TEST_CASE(validate_accepts_every_role),
    FG_TEST_CASE(validate_requires_content_for_user_system_developer_and_tool),
    FG_TEST_CASE(validate_accepts_empty_string_content),
    FG_TEST_CASE(validate_accepts_assistant_without_content_when_calling_tools),
    FG_TEST_CASE(
        validate_accepts_assistant_without_content_when_calling_a_function),
    FG_TEST_CASE(validate_requires_assistant_content_without_tool_calls),
    FG_TEST_CASE(validate_rejects_non_array_tool_calls),
    FG_TEST_CASE(validate_rejects_non_object_function_call),
    FG_TEST_CASE(validate_requires_tool_call_id_on_tool_messages),
    FG_TEST_CASE(validate_rejects_non_string_tool_call_id),
    FG_TEST_CASE(validate_rejects_content_of_wrong_type),
    FG_TEST_CASE(validate_rejects_empty_content_array),
    FG_TEST_CASE(validate_accepts_text_part),
    FG_TEST_CASE(validate_requires_text_of_text_part),
    FG_TEST_CASE(validate_requires_type_of_each_part),
    FG_TEST_CASE(validate_rejects_non_object_part),
    FG_TEST_CASE(validate_accepts_image_url_part),
    FG_TEST_CASE(validate_requires_image_url_object_with_url),
    FG_TEST_CASE(validate_accepts_input_audio_part),
    FG_TEST_CASE(validate_requires_input_audio_data_and_format),
    FG_TEST_CASE(validate_accepts_file_part),
    FG_TEST_CASE(validate_requires_file_object_of_file_part),
    FG_TEST_CASE(validate_requires_refusal_text_of_refusal_part),
    FG_TEST_CASE(validate_keeps_unknown_part_types),
    FG_TEST_CASE(validate_accepts_temperature_from_0_to_2),
    FG_TEST_CASE(validate_rejects_temperature_outside_0_to_2),
    FG_TEST_CASE(validate_rejects_non_number_temperature),
    FG_TEST_CASE(validate_accepts_top_p_from_0_to_1),
    FG_TEST_CASE(validate_rejects_top_p_outside_0_to_1),
    FG_TEST_CASE(validate_accepts_n_from_1_to_128),
    FG_TEST_CASE(validate_rejects_n_outside_1_to_128),
    FG_TEST_CASE(validate_rejects_non_integer_n),
    FG_TEST_CASE(validate_accepts_max_tokens_of_at_least_1),
    FG_TEST_CASE(validate_rejects_max_tokens_out_of_range),
    FG_TEST_CASE(validate_rejects_fractional_and_boolean_max_tokens),
    FG_TEST_CASE(validate_accepts_max_completion_tokens),
    FG_TEST_CASE(validate_rejects_max_completion_tokens_out_of_range_or_type),
    FG_TEST_CASE(validate_reports_the_larger_of_both_token_limits),
    FG_TEST_CASE(validate_accepts_stop_string_or_1_to_4_strings),
    FG_TEST_CASE(validate_rejects_stop_with_0_or_more_than_4_strings),
    FG_TEST_CASE(validate_rejects_stop_of_wrong_type),
    FG_TEST_CASE(validate_accepts_penalties_from_minus_2_to_2),
    FG_TEST_CASE(validate_rejects_penalties_outside_minus_2_to_2),
    FG_TEST_CASE(validate_accepts_boolean_logprobs),
    FG_TEST_CASE(validate_rejects_non_boolean_logprobs),
    FG_TEST_CASE(validate_accepts_top_logprobs_from_0_to_20),
    FG_TEST_CASE(validate_rejects_top_logprobs_outside_0_to_20),
    FG_TEST_CASE(validate_accepts_integer_seed),
    FG_TEST_CASE(validate_rejects_non_integer_seed),
    FG_TEST_CASE(validate_accepts_string_user_and_reasoning_effort),
    FG_TEST_CASE(validate_rejects_non_string_user),
    FG_TEST_CASE(validate_rejects_non_string_reasoning_effort),
    FG_TEST_CASE(validate_accepts_boolean_parallel_tool_calls),
    FG_TEST_CASE(validate_rejects_non_boolean_parallel_tool_calls),
    FG_TEST_CASE(validate_accepts_response_format_text_and_json_object),
    FG_TEST_CASE(validate_accepts_response_format_json_schema),
    FG_TEST_CASE(validate_rejects_non_object_response_format),
    FG_TEST_CASE(validate_requires_response_format_type),
    FG_TEST_CASE(validate_rejects_unknown_response_format_type),
    FG_TEST_CASE(validate_requires_json_schema_object_with_name),
    FG_TEST_CASE(validate_rejects_non_object_json_schema_schema),
    FG_TEST_CASE(validate_accepts_function_tools),
    FG_TEST_CASE(validate_rejects_non_array_tools),
    FG_TEST_CASE(validate_requires_tool_type_function),
    FG_TEST_CASE(validate_requires_tool_function_with_name),
    FG_TEST_CASE(validate_rejects_tool_name_outside_the_pattern),
    FG_TEST_CASE(validate_accepts_tool_name_of_64_characters),
    FG_TEST_CASE(validate_rejects_non_object_tool_parameters),
    FG_TEST_CASE(validate_accepts_tool_choice_modes_and_named_function),
    FG_TEST_CASE(validate_rejects_unknown_tool_choice_mode),
    FG_TEST_CASE(validate_rejects_tool_choice_of_wrong_type),
    FG_TEST_CASE(validate_requires_tool_choice_object_naming_a_function),
    FG_TEST_CASE(validate_accepts_boolean_stream),
    FG_TEST_CASE(validate_rejects_non_boolean_stream),
    FG_TEST_CASE(validate_reports_include_usage_when_streaming),
    FG_TEST_CASE(validate_rejects_stream_options_without_stream),
    FG_TEST_CASE(validate_accepts_null_stream_options_without_stream),
    FG_TEST_CASE(validate_rejects_stream_options_of_wrong_type),
    FG_TEST_CASE(validate_accepts_logit_bias_from_minus_100_to_100),
    FG_TEST_CASE(validate_rejects_logit_bias_out_of_range),
    FG_TEST_CASE(validate_rejects_logit_bias_of_wrong_type),
    FG_TEST_CASE(validate_error_quotes_at_most_64_bytes_of_input),
    FG_TEST_CASE(validate_error_cuts_quotes_on_utf8_boundaries),
    FG_TEST_CASE(validate_error_replaces_control_bytes_in_quotes),
    FG_TEST_CASE(validate_error_names_expected_and_given_type),
    FG_TEST_CASE(validate_clips_long_logit_bias_key_in_param),
    FG_TEST_CASE(validate_keeps_unknown_fields_and_provider_extensions),
    FG_TEST_CASE(validate_document_spans_the_body_as_sent),
    FG_TEST_CASE(validate_model_is_the_node_of_the_model_string),
    FG_TEST_CASE(validate_records_no_token_field_when_none_is_given),
    FG_TEST_CASE(validate_records_max_tokens_and_the_span_of_its_value),
    FG_TEST_CASE(
        validate_records_max_completion_tokens_and_the_span_of_its_value),
    FG_TEST_CASE(
        validate_records_both_token_fields_with_max_completion_tokens_first),
    FG_TEST_CASE(validate_records_a_null_token_field_as_the_name_used),
    FG_TEST_CASE(validate_accepts_every_routing_field),
    FG_TEST_CASE(
        validate_rejects_an_unknown_member_of_provider_naming_its_path),
    FG_TEST_CASE(validate_rejects_an_unknown_member_of_filters_naming_its_path),
    FG_TEST_CASE(validate_rejects_a_bad_routing_value_naming_its_path),
    FG_TEST_CASE(validate_rejects_a_routing_list_longer_than_its_bound),
    FG_TEST_CASE(
        validate_rejects_fallback_models_that_are_not_a_short_list_of_ids),
    FG_TEST_CASE(validate_records_where_the_routing_fields_are))
