/*
 * respond.c: fg-sim's answer to POST /v1/responses, OpenAI's Responses API
 * spoken natively, as a canned plan.
 *
 * The sim answers a Responses request with what it answers the chat
 * request that means the same, so the two APIs never disagree on text,
 * tool calls, reasoning, usage or model tags, and a native reply is what
 * the gateway makes of the chat reply (worker/responses_reply.c), ids
 * apart:
 *
 * 1) Check, as OpenAI does and strictly, so that a gateway that forwards
 *    what it should have changed is caught. Top-level members are the
 *    API's (model, input, instructions, tools, tool_choice, text,
 *    max_output_tokens (16 and up), temperature, top_p, stream, store,
 *    metadata, parallel_tool_calls, reasoning, user, include,
 *    stream_options {include_obfuscation}, truncation, service_tier,
 *    top_logprobs, max_tool_calls, safety_identifier, prompt_cache_key,
 *    prompt_cache_retention, background false); any other, chat's
 *    "messages" or "seed" or a gateway's routing field included, is a
 *    400 "Unknown parameter: '<name>'.". Tools are function tools in the
 *    Responses nesting ({"type":"function","name",...}; chat's
 *    {"function":{...}} is a 400), tool_choice "none", "auto",
 *    "required" or {"type":"function","name"} naming one of them. Input
 *    items: messages {role user|assistant|system|developer, content: a
 *    string or input_text, output_text, refusal and (not for the
 *    assistant) input_image parts}, function_call {call_id, name,
 *    arguments}, function_call_output {call_id, output: a string or
 *    input_text / input_image parts}, reasoning {summary: [...]}; members
 *    of an item the sim does not read (id, status, annotations...) are
 *    ignored, as SDKs send back what they were given. null is absence.
 * 2) No state. previous_response_id, an item_reference item (or an item
 *    with an "id" and no role), "conversation" and "prompt" are a 400:
 *    the sim stores nothing, so a test proves the gateway expanded them
 *    before they reached the provider.
 * 3) Translate into chat by the gateway's rules (worker/responses_req.h):
 *    instructions a first system message; a string input one user
 *    message; a message item {role, content} (text parts as text, one
 *    text part as a string, images as image_url); function_call items
 *    the tool_calls of one assistant message (consecutive calls, and
 *    calls right after an assistant message, join it); a
 *    function_call_output a tool message; reasoning items dropped; tools
 *    and a named tool_choice in chat's nesting; text.format json_object
 *    or json_schema as response_format; max_output_tokens as
 *    max_completion_tokens.
 * 4) Answer: plan.c decides on that chat request, its rules and tags
 *    unchanged. So a tool is called when tools are given, unless
 *    tool_choice is "none" or the last item is a function_call_output
 *    (and tool_choice neither "required" nor a function); the text is
 *    "echo:" and the user's words, and fills max_output_tokens when given
 *    (chat's "length"); JSON and arguments are schema.c's instances, cut
 *    only when longer than max_output_tokens; "reasoning" tags reason
 *    first; usage counts the prompt as chat counts the translated
 *    messages and tools.
 * 5) Write. Chat's "length" is status "incomplete" with
 *    incomplete_details {"reason":"max_output_tokens"}. Output: a
 *    reasoning item (summary [{"type":"summary_text","text"}]) when the
 *    model reasons, then a message (one output_text part, annotations [])
 *    or a function_call (call_id "call_<seq>", as chat's), status
 *    "completed" in an incomplete response too (the gateway's rule). Ids:
 *    the response "resp_sim-<seq>", its items "<rs|msg|fc>_sim-<seq>_<i>"
 *    with i the output_index (the gateway's scheme). The request's
 *    settings are echoed with OpenAI's defaults, previous_response_id
 *    null; usage {input_tokens, input_tokens_details.cached_tokens 0,
 *    output_tokens (reasoning included), output_tokens_details.
 *    reasoning_tokens, total_tokens}.
 *    A stream is the events of worker/responses_reply.h, in its order:
 *    the head (sent at once) is response.created and response.in_progress
 *    (status in_progress, output [], usage null); then one step per token,
 *    which call.c times as chat's: a reasoning item's first step adds it
 *    (output_item.added, reasoning_summary_part.added) before its
 *    reasoning_summary_text.delta; the answer's first step ends the
 *    reasoning item (.done events) and adds the message
 *    (output_item.added, content_part.added) or the call
 *    (output_item.added, arguments "") before its output_text.delta or
 *    function_call_arguments.delta; the tail ends the answer
 *    (output_text.done, content_part.done or function_call_arguments.done,
 *    then output_item.done) and sends response.completed or
 *    response.incomplete with the whole response, written as the
 *    non-stream reply is. No [DONE]. Faults cut the steps as they cut
 *    chat's (call.c): reset and malformed after two steps, stream-error
 *    after one, empty-stream before the head; the head stands for chat's
 *    role event.
 *
 * Not done: logprobs (include "message.output_text.logprobs" is accepted,
 * and the deltas carry logprobs [] as the gateway's do), refusals, more
 * than one call per response, an error event or response.failed mid-
 * stream (chat's stream-error closes the connection, and so does this),
 * and an error's "param" (fg-sim's errors name the parameter in the
 * message only).
 */

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "tests/sim/plan.h"
#include "tests/sim/sim.h"

#define RESP_MAX_OUTPUT_MIN   16    /* max_output_tokens, as OpenAI */
#define RESP_METADATA_MAX     16    /* pairs, as OpenAI */
#define RESP_METADATA_KEY     64    /* bytes */
#define RESP_METADATA_VALUE   512   /* bytes */

typedef enum {
    RESP_OWN,           /* checked by a function of its own */
    RESP_STRING,
    RESP_BOOLEAN,
    RESP_NUMBER,        /* lo..hi */
    RESP_INTEGER,       /* min..max */
    RESP_ENUM,          /* one of values */
    RESP_STATEFUL       /* names state the sim does not keep: a 400 */
} resp_kind_t;

typedef struct {
    const char         *key;
    resp_kind_t         kind;
    double              lo, hi;
    long long           min, max;
    const char *const  *values;     /* RESP_ENUM, NULL-terminated */
} resp_member_t;

/* What the reply is made of: the request it echoes and the answer. */
typedef struct {
    json_t              *body;      /* the request, borrowed */
    const fg_sim_plan_t *chat;      /* plan.c's answer, borrowed */
    int64_t              created_s;
    const char          *status;    /* "completed" or "incomplete" */
    size_t               answer;    /* output_index of the message/call */
    char                 id[48];
    char                 rs_id[64];
    char                 answer_id[64];
    char                 call_id[48];
} resp_reply_t;

/* A stream being written: its bytes and the next sequence_number. */
typedef struct {
    struct evbuffer     *out;
    json_int_t           seq;
} resp_events_t;

static int resp_fail(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int resp_fail_type(char *err, size_t err_size, const char *path,
    const char *expected, json_t *got);
static const char *resp_type_name(json_t *v);
static int resp_is_one_of(const char *s, const char *const *values);
static int resp_check(json_t *body, char *err, size_t err_size);
static int resp_check_scalar(const resp_member_t *m, json_t *v, char *err,
    size_t err_size);
static int resp_check_only(json_t *obj, const char *path,
    const char *const *keys, char *err, size_t err_size);
static int resp_check_reasoning(json_t *rs, char *err, size_t err_size);
static int resp_check_metadata(json_t *md, char *err, size_t err_size);
static int resp_check_include(json_t *inc, char *err, size_t err_size);
static int resp_tools(json_t *body, json_t *chat, char *err,
    size_t err_size);
static int resp_tool_choice(json_t *body, json_t *chat, char *err,
    size_t err_size);
static int resp_text(json_t *text, json_t *chat, char *err,
    size_t err_size);
static int resp_input(json_t *body, json_t *msgs, char *err,
    size_t err_size);
static int resp_item(json_t *item, size_t i, json_t *msgs, json_t **turn,
    char *err, size_t err_size);
static int resp_message(json_t *item, const char *path, json_t *msgs,
    json_t **turn, char *err, size_t err_size);
static int resp_content(json_t *content, const char *path, int is_image_ok,
    json_t **out, char *err, size_t err_size);
static int resp_require_string(json_t *obj, const char *path,
    const char *key, json_t **v, char *err, size_t err_size);
static json_t *resp_str(const char *s, size_t len);
static json_t *resp_echo(json_t *body, const char *key, json_t *dflt);
static json_t *resp_object(const resp_reply_t *r, const char *status,
    json_t *output, json_t *usage);
static json_t *resp_usage(const fg_sim_plan_t *chat);
static json_t *resp_output(const resp_reply_t *r);
static json_t *resp_item_reasoning(const resp_reply_t *r, int is_done);
static json_t *resp_item_answer(const resp_reply_t *r, int is_done);
static json_t *resp_part(const resp_reply_t *r, int is_done);
static void resp_event(resp_events_t *ev, const char *type,
    json_t *members);
static void resp_open_reasoning(const resp_reply_t *r, resp_events_t *ev);
static void resp_close_reasoning(const resp_reply_t *r, resp_events_t *ev);
static void resp_open_answer(const resp_reply_t *r, resp_events_t *ev);
static void resp_close_answer(const resp_reply_t *r, resp_events_t *ev);
static void resp_write_stream(const resp_reply_t *r, fg_sim_plan_t *plan,
    struct evbuffer *out);

static const char *const resp_truncations[] = { "disabled", "auto", NULL };
static const char *const resp_tiers[] = {
    "auto", "default", "flex", "scale", "priority", NULL
};
static const char *const resp_retentions[] = { "in-memory", "24h", NULL };
static const char *const resp_efforts[] = {
    "none", "minimal", "low", "medium", "high", "xhigh", NULL
};
static const char *const resp_summaries[] = {
    "auto", "concise", "detailed", NULL
};
static const char *const resp_verbosities[] = {
    "low", "medium", "high", NULL
};
static const char *const resp_roles[] = {
    "user", "assistant", "system", "developer", NULL
};
static const char *const resp_tool_modes[] = {
    "none", "auto", "required", NULL
};
static const char *const resp_details[] = { "low", "high", "auto", NULL };
static const char *const resp_includes[] = {
    "code_interpreter_call.outputs", "computer_call_output.output.image_url",
    "file_search_call.results", "message.input_image.image_url",
    "message.output_text.logprobs", "reasoning.encrypted_content",
    "web_search_call.action.sources", "web_search_call.results", NULL
};

#define RESP_NUM(k, l, h)   { k, RESP_NUMBER, l, h, 0, 0, NULL }
#define RESP_INT(k, l, h)   { k, RESP_INTEGER, 0, 0, l, h, NULL }
#define RESP_ENUM_OF(k, v)  { k, RESP_ENUM, 0, 0, 0, 0, v }
#define RESP_AS(k, kind)    { k, kind, 0, 0, 0, 0, NULL }

/* Every top-level member of OpenAI's API; anything else is a 400. */
static const resp_member_t resp_members[] = {
    RESP_AS("model", RESP_OWN),
    RESP_AS("input", RESP_OWN),
    RESP_AS("tools", RESP_OWN),
    RESP_AS("tool_choice", RESP_OWN),
    RESP_AS("text", RESP_OWN),
    RESP_AS("reasoning", RESP_OWN),
    RESP_AS("metadata", RESP_OWN),
    RESP_AS("include", RESP_OWN),
    RESP_AS("stream_options", RESP_OWN),
    RESP_AS("background", RESP_OWN),
    RESP_AS("previous_response_id", RESP_OWN),
    RESP_AS("instructions", RESP_STRING),
    RESP_AS("user", RESP_STRING),
    RESP_AS("safety_identifier", RESP_STRING),
    RESP_AS("prompt_cache_key", RESP_STRING),
    RESP_AS("stream", RESP_BOOLEAN),
    RESP_AS("store", RESP_BOOLEAN),
    RESP_AS("parallel_tool_calls", RESP_BOOLEAN),
    RESP_NUM("temperature", 0, 2),
    RESP_NUM("top_p", 0, 1),
    RESP_INT("max_output_tokens", RESP_MAX_OUTPUT_MIN, LLONG_MAX),
    RESP_INT("top_logprobs", 0, 20),
    RESP_INT("max_tool_calls", 1, INT_MAX),
    RESP_ENUM_OF("truncation", resp_truncations),
    RESP_ENUM_OF("service_tier", resp_tiers),
    RESP_ENUM_OF("prompt_cache_retention", resp_retentions),
    RESP_AS("conversation", RESP_STATEFUL),
    RESP_AS("prompt", RESP_STATEFUL)
};

int
fg_sim_respond_build(fg_sim_plan_t *plan, json_t *body,
    const fg_sim_tokenizers_t *toks, uint64_t seq, int64_t created_s,
    char *err, size_t err_size)
{
    json_t *chat_body = NULL, *v, *output, *reply;
    fg_sim_plan_t chat;
    resp_reply_t r;
    struct evbuffer *out;
    const char *model;
    int rc = -1;

    memset(&chat, 0, sizeof(chat));
    if ((model = fg_sim_plan_model(body, err, err_size)) == NULL
        || resp_check(body, err, err_size) != 0)
    {
        return -1;
    }
    chat_body = json_pack("{ss so}", "model", model, "messages",
                          json_array());
    if (resp_input(body, json_object_get(chat_body, "messages"), err,
                   err_size) != 0
        || resp_tools(body, chat_body, err, err_size) != 0
        || resp_tool_choice(body, chat_body, err, err_size) != 0
        || resp_text(json_object_get(body, "text"), chat_body, err,
                           err_size) != 0)
    {
        goto done;
    }
    if (json_is_integer(v = json_object_get(body, "max_output_tokens"))) {
        json_object_set(chat_body, "max_completion_tokens", v);
    }
    if (fg_sim_plan_build(&chat, chat_body, toks, seq, created_s, err,
                          err_size) != 0)
    {
        goto done;
    }

    memset(&r, 0, sizeof(r));
    r.body = body;
    r.chat = &chat;
    r.created_s = created_s;
    r.status = strcmp(chat.finish_reason, "length") == 0 ? "incomplete"
                                                          : "completed";
    r.answer = chat.n_reasoning > 0 ? 1 : 0;
    snprintf(r.id, sizeof(r.id), "resp_sim-%llu", (unsigned long long) seq);
    snprintf(r.rs_id, sizeof(r.rs_id), "rs_sim-%llu_0",
             (unsigned long long) seq);
    snprintf(r.answer_id, sizeof(r.answer_id), "%s_sim-%llu_%zu",
             chat.is_tool_call ? "fc" : "msg", (unsigned long long) seq,
             r.answer);
    snprintf(r.call_id, sizeof(r.call_id), "call_%llu",
             (unsigned long long) seq);

    plan->seq = seq;
    plan->id_prefix = "resp_sim-";
    plan->created_s = created_s;
    plan->model = fg_xstrdup(model);
    plan->is_stream = json_is_true(json_object_get(body, "stream"));
    plan->n_choices = 1;
    plan->finish_reason = chat.finish_reason;
    plan->prompt_tokens = chat.prompt_tokens;
    plan->completion_tokens = chat.completion_tokens;
    plan->reasoning_tokens = chat.reasoning_tokens;

    out = fg_sim_evbuffer_new();
    if (plan->is_stream) {
        resp_write_stream(&r, plan, out);
    } else {
        /* No steps to send, but as many tokens to wait for as chat's. */
        plan->n_pieces = fg_sim_plan_n_tokens(&chat);
        output = resp_output(&r);
        reply = resp_object(&r, r.status, output, resp_usage(&chat));
        fg_sim_json_add(out, reply);
        json_decref(reply);
    }
    fg_sim_plan_can(plan, out);
    rc = 0;

done:
    json_decref(chat_body);
    fg_sim_plan_cleanup(&chat);
    return rc;
}

/* Checking */

static int
resp_fail(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    return -1;
}

static int
resp_fail_type(char *err, size_t err_size, const char *path,
    const char *expected, json_t *got)
{
    return resp_fail(err, err_size, "Invalid type for '%s': expected %s, "
                     "but got %s instead.", path, expected,
                     resp_type_name(got));
}

static const char *
resp_type_name(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a decimal";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static int
resp_is_one_of(const char *s, const char *const *values)
{
    size_t i;

    for (i = 0; s != NULL && values[i] != NULL; i++) {
        if (strcmp(s, values[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/*
 * The top-level members one by one (1, 2): known, of their type and
 * range. The members that shape the chat request are checked again, in
 * depth, as they are translated.
 */
static int
resp_check(json_t *body, char *err, size_t err_size)
{
    const resp_member_t *m;
    const char *key;
    json_t *v;
    size_t i;

    json_object_foreach(body, key, v) {
        m = NULL;
        for (i = 0; i < sizeof(resp_members) / sizeof(resp_members[0]);
             i++)
        {
            if (strcmp(key, resp_members[i].key) == 0) {
                m = &resp_members[i];
                break;
            }
        }
        if (m == NULL) {
            return resp_fail(err, err_size, "Unknown parameter: '%.64s'.",
                             key);
        }
        if (json_is_null(v)) {
            continue;
        }
        if (m->kind != RESP_OWN) {
            if (resp_check_scalar(m, v, err, err_size) != 0) {
                return -1;
            }
        } else if (strcmp(key, "previous_response_id") == 0) {
            if (!json_is_string(v)) {
                return resp_fail_type(err, err_size, key, "a string", v);
            }
            return resp_fail(err, err_size, "Previous response with id "
                             "'%.64s' not found: fg-sim keeps no "
                             "responses.", json_string_value(v));
        } else if (strcmp(key, "reasoning") == 0) {
            if (resp_check_reasoning(v, err, err_size) != 0) {
                return -1;
            }
        } else if (strcmp(key, "metadata") == 0) {
            if (resp_check_metadata(v, err, err_size) != 0) {
                return -1;
            }
        } else if (strcmp(key, "include") == 0) {
            if (resp_check_include(v, err, err_size) != 0) {
                return -1;
            }
        } else if (strcmp(key, "stream_options") == 0) {
            static const char *const keys[] = { "include_obfuscation", NULL };
            json_t *o;

            if (!json_is_object(v)) {
                return resp_fail_type(err, err_size, key, "an object", v);
            }
            if (resp_check_only(v, key, keys, err, err_size) != 0) {
                return -1;
            }
            o = json_object_get(v, "include_obfuscation");
            if (o != NULL && !json_is_null(o) && !json_is_boolean(o)) {
                return resp_fail_type(err, err_size,
                                      "stream_options.include_obfuscation",
                                      "a boolean", o);
            }
        } else if (strcmp(key, "background") == 0) {
            if (!json_is_boolean(v)) {
                return resp_fail_type(err, err_size, key, "a boolean", v);
            }
            if (json_is_true(v)) {
                return resp_fail(err, err_size, "Unsupported value: "
                                 "'background' true: fg-sim answers while "
                                 "the request is open.");
            }
        }
    }
    return 0;
}

/* One member of a scalar kind, @v not null. */
static int
resp_check_scalar(const resp_member_t *m, json_t *v, char *err,
    size_t err_size)
{
    double d;
    long long n;

    switch (m->kind) {
    case RESP_STRING:
        if (!json_is_string(v)) {
            return resp_fail_type(err, err_size, m->key, "a string", v);
        }
        break;
    case RESP_BOOLEAN:
        if (!json_is_boolean(v)) {
            return resp_fail_type(err, err_size, m->key, "a boolean", v);
        }
        break;
    case RESP_NUMBER:
        if (!json_is_number(v)) {
            return resp_fail_type(err, err_size, m->key, "a decimal", v);
        }
        d = json_number_value(v);
        if (d < m->lo || d > m->hi) {
            return resp_fail(err, err_size, "Invalid '%s': decimal out of "
                             "range. Expected a value from %g to %g, but "
                             "got %g instead.", m->key, m->lo, m->hi, d);
        }
        break;
    case RESP_INTEGER:
        if (!json_is_integer(v)) {
            return resp_fail_type(err, err_size, m->key, "an integer", v);
        }
        n = json_integer_value(v);
        if (n < m->min || n > m->max) {
            return resp_fail(err, err_size, "Invalid '%s': integer %s. "
                             "Expected a value %s %lld, but got %lld "
                             "instead.", m->key,
                             n < m->min ? "below minimum value"
                                        : "above maximum value",
                             n < m->min ? ">=" : "<=",
                             n < m->min ? m->min : m->max, n);
        }
        break;
    case RESP_ENUM:
        if (!json_is_string(v)) {
            return resp_fail_type(err, err_size, m->key, "a string", v);
        }
        if (!resp_is_one_of(json_string_value(v), m->values)) {
            return resp_fail(err, err_size, "Invalid value for '%s': "
                             "'%.64s'.", m->key, json_string_value(v));
        }
        break;
    case RESP_STATEFUL:
        return resp_fail(err, err_size, "'%s' needs state the provider "
                         "keeps; fg-sim keeps none.", m->key);
    case RESP_OWN:
        break;
    }
    return 0;
}

/* Refuses members of @obj (at @path) that are not among @keys. */
static int
resp_check_only(json_t *obj, const char *path, const char *const *keys,
    char *err, size_t err_size)
{
    const char *key;
    json_t *v;

    json_object_foreach(obj, key, v) {
        if (!resp_is_one_of(key, keys)) {
            return resp_fail(err, err_size, "Unknown parameter: "
                             "'%s.%.64s'.", path, key);
        }
    }
    return 0;
}

/* "reasoning": {effort?, summary?, generate_summary?}; read, not used. */
static int
resp_check_reasoning(json_t *rs, char *err, size_t err_size)
{
    static const char *const keys[] = {
        "effort", "summary", "generate_summary", NULL
    };
    json_t *v;

    if (!json_is_object(rs)) {
        return resp_fail_type(err, err_size, "reasoning", "an object", rs);
    }
    if (resp_check_only(rs, "reasoning", keys, err, err_size) != 0) {
        return -1;
    }
    v = json_object_get(rs, "effort");
    if (v != NULL && !json_is_null(v)
        && !resp_is_one_of(json_string_value(v), resp_efforts))
    {
        return resp_fail(err, err_size, "Invalid value for "
                         "'reasoning.effort'.");
    }
    v = json_object_get(rs, "summary");
    if (v == NULL || json_is_null(v)) {
        v = json_object_get(rs, "generate_summary");
    }
    if (v != NULL && !json_is_null(v)
        && !resp_is_one_of(json_string_value(v), resp_summaries))
    {
        return resp_fail(err, err_size, "Invalid value for "
                         "'reasoning.summary': expected 'auto', 'concise' "
                         "or 'detailed'.");
    }
    return 0;
}

/* "metadata": at most 16 string pairs, OpenAI's sizes. */
static int
resp_check_metadata(json_t *md, char *err, size_t err_size)
{
    const char *key;
    json_t *v;

    if (!json_is_object(md)) {
        return resp_fail_type(err, err_size, "metadata", "an object", md);
    }
    if (json_object_size(md) > RESP_METADATA_MAX) {
        return resp_fail(err, err_size, "Invalid 'metadata': too many "
                         "properties. Expected at most %d, but got %zu.",
                         RESP_METADATA_MAX, json_object_size(md));
    }
    json_object_foreach(md, key, v) {
        if (strlen(key) > RESP_METADATA_KEY) {
            return resp_fail(err, err_size, "Invalid 'metadata': a key is "
                             "longer than %d bytes.", RESP_METADATA_KEY);
        }
        if (!json_is_string(v)) {
            return resp_fail(err, err_size, "Invalid type for "
                             "'metadata.%.64s': expected a string, but got "
                             "%s instead.", key, resp_type_name(v));
        }
        if (json_string_length(v) > RESP_METADATA_VALUE) {
            return resp_fail(err, err_size, "Invalid 'metadata.%.64s': "
                             "longer than %d bytes.", key,
                             RESP_METADATA_VALUE);
        }
    }
    return 0;
}

/* "include": the names OpenAI documents. */
static int
resp_check_include(json_t *inc, char *err, size_t err_size)
{
    json_t *v;
    size_t i;

    if (!json_is_array(inc)) {
        return resp_fail_type(err, err_size, "include", "an array", inc);
    }
    json_array_foreach(inc, i, v) {
        if (!resp_is_one_of(json_string_value(v), resp_includes)) {
            return resp_fail(err, err_size, "Invalid value for "
                             "'include[%zu]': not a name the API "
                             "documents.", i);
        }
    }
    return 0;
}

/* Translating the settings */

/*
 * "tools": function tools in the Responses nesting, written into @chat in
 * chat's ({"type":"function","function":{...}}); an empty array sends
 * none.
 */
static int
resp_tools(json_t *body, json_t *chat, char *err, size_t err_size)
{
    static const char *const keys[] = {
        "type", "name", "description", "parameters", "strict", NULL
    };
    json_t *tools = json_object_get(body, "tools"), *tool, *name, *v, *fn;
    json_t *out;
    const char *type;
    char path[32];
    size_t i;

    if (tools == NULL || json_is_null(tools)) {
        return 0;
    }
    if (!json_is_array(tools)) {
        return resp_fail_type(err, err_size, "tools", "an array", tools);
    }
    out = json_array();
    json_array_foreach(tools, i, tool) {
        snprintf(path, sizeof(path), "tools[%zu]", i);
        if (!json_is_object(tool)) {
            json_decref(out);
            return resp_fail_type(err, err_size, path, "an object", tool);
        }
        type = json_string_value(json_object_get(tool, "type"));
        if (type == NULL) {
            json_decref(out);
            return resp_fail(err, err_size, "Missing required parameter: "
                             "'%s.type'.", path);
        }
        if (strcmp(type, "function") != 0) {
            json_decref(out);
            return resp_fail(err, err_size, "Unsupported value: "
                             "'%s.type' '%.64s': fg-sim offers function "
                             "tools only.", path, type);
        }
        if (resp_require_string(tool, path, "name", &name, err, err_size)
            != 0
            || resp_check_only(tool, path, keys, err, err_size) != 0)
        {
            json_decref(out);
            return -1;
        }
        fn = json_pack("{sO}", "name", name);
        if ((v = json_object_get(tool, "description")) != NULL
            && !json_is_null(v))
        {
            if (!json_is_string(v)) {
                json_decref(fn);
                json_decref(out);
                return resp_fail(err, err_size, "Invalid type for "
                                 "'%s.description': expected a string.",
                                 path);
            }
            json_object_set(fn, "description", v);
        }
        if ((v = json_object_get(tool, "parameters")) != NULL
            && !json_is_null(v))
        {
            if (!json_is_object(v)) {
                json_decref(fn);
                json_decref(out);
                return resp_fail(err, err_size, "Invalid type for "
                                 "'%s.parameters': expected an object.",
                                 path);
            }
            json_object_set(fn, "parameters", v);
        }
        if ((v = json_object_get(tool, "strict")) != NULL
            && !json_is_null(v))
        {
            if (!json_is_boolean(v)) {
                json_decref(fn);
                json_decref(out);
                return resp_fail(err, err_size, "Invalid type for "
                                 "'%s.strict': expected a boolean.", path);
            }
            json_object_set(fn, "strict", v);
        }
        json_array_append_new(out, json_pack("{ss so}", "type", "function",
                                             "function", fn));
    }
    if (json_array_size(out) > 0) {
        json_object_set_new(chat, "tools", out);
    } else {
        json_decref(out);
    }
    return 0;
}

/*
 * "tool_choice": a mode, or {"type":"function","name"} naming one of the
 * tools (OpenAI refuses a name it was not given, and "required" or a
 * function without tools). Written into @chat in chat's nesting.
 */
static int
resp_tool_choice(json_t *body, json_t *chat, char *err, size_t err_size)
{
    static const char *const keys[] = { "type", "name", NULL };
    json_t *tc = json_object_get(body, "tool_choice");
    json_t *tools = json_object_get(chat, "tools"), *tool, *name;
    const char *type;
    size_t i;

    if (tc == NULL || json_is_null(tc)) {
        return 0;
    }
    if (json_is_string(tc)) {
        if (!resp_is_one_of(json_string_value(tc), resp_tool_modes)) {
            return resp_fail(err, err_size, "Invalid value for "
                             "'tool_choice': expected 'none', 'auto', "
                             "'required' or a function.");
        }
        if (tools == NULL
            && strcmp(json_string_value(tc), "required") == 0)
        {
            return resp_fail(err, err_size, "Tool choice 'required' must "
                             "be specified with 'tools' parameter.");
        }
        if (tools != NULL) {
            json_object_set(chat, "tool_choice", tc);
        }
        return 0;
    }
    if (!json_is_object(tc)) {
        return resp_fail_type(err, err_size, "tool_choice",
                              "a string or an object", tc);
    }
    type = json_string_value(json_object_get(tc, "type"));
    if (type == NULL) {
        return resp_fail(err, err_size, "Missing required parameter: "
                         "'tool_choice.type'.");
    }
    if (strcmp(type, "function") != 0) {
        return resp_fail(err, err_size, "Unsupported value: "
                         "'tool_choice.type' '%.64s': fg-sim offers "
                         "function tools only.", type);
    }
    if (resp_require_string(tc, "tool_choice", "name", &name, err,
                            err_size) != 0
        || resp_check_only(tc, "tool_choice", keys, err, err_size) != 0)
    {
        return -1;
    }
    json_array_foreach(tools, i, tool) {
        if (json_equal(json_object_get(json_object_get(tool, "function"),
                                       "name"), name))
        {
            json_object_set_new(chat, "tool_choice", json_pack(
                "{ss s{sO}}", "type", "function", "function", "name",
                name));
            return 0;
        }
    }
    return resp_fail(err, err_size, "Tool choice 'function' with name "
                     "'%.64s' not found in 'tools' parameter.",
                     json_string_value(name));
}

/*
 * "text": {format?, verbosity?}; format {"type":"text"},
 * {"type":"json_object"} or {"type":"json_schema", name, schema,
 * description?, strict?}. The last two become @chat's response_format.
 */
static int
resp_text(json_t *text, json_t *chat, char *err, size_t err_size)
{
    static const char *const keys[] = { "format", "verbosity", NULL };
    static const char *const plain[] = { "type", NULL };
    static const char *const schema_keys[] = {
        "type", "name", "schema", "description", "strict", NULL
    };
    json_t *format, *type, *v, *name, *schema, *js;
    const char *t;

    if (text == NULL || json_is_null(text)) {
        return 0;
    }
    if (!json_is_object(text)) {
        return resp_fail_type(err, err_size, "text", "an object", text);
    }
    if (resp_check_only(text, "text", keys, err, err_size) != 0) {
        return -1;
    }
    v = json_object_get(text, "verbosity");
    if (v != NULL && !json_is_null(v)
        && !resp_is_one_of(json_string_value(v), resp_verbosities))
    {
        return resp_fail(err, err_size, "Invalid value for "
                         "'text.verbosity': expected 'low', 'medium' or "
                         "'high'.");
    }
    format = json_object_get(text, "format");
    if (format == NULL || json_is_null(format)) {
        return 0;
    }
    if (!json_is_object(format)) {
        return resp_fail_type(err, err_size, "text.format", "an object",
                              format);
    }
    type = json_object_get(format, "type");
    if (type == NULL) {
        return resp_fail(err, err_size, "Missing required parameter: "
                         "'text.format.type'.");
    }
    t = json_string_value(type);
    if (t != NULL && (strcmp(t, "text") == 0
                      || strcmp(t, "json_object") == 0))
    {
        if (resp_check_only(format, "text.format", plain, err, err_size)
            != 0)
        {
            return -1;
        }
        if (strcmp(t, "json_object") == 0) {
            json_object_set_new(chat, "response_format",
                                json_pack("{ss}", "type", "json_object"));
        }
        return 0;
    }
    if (t == NULL || strcmp(t, "json_schema") != 0) {
        return resp_fail(err, err_size, "Invalid value for "
                         "'text.format.type': expected 'text', "
                         "'json_object' or 'json_schema'.");
    }
    if (resp_check_only(format, "text.format", schema_keys, err, err_size)
        != 0
        || resp_require_string(format, "text.format", "name", &name, err,
                               err_size) != 0)
    {
        return -1;
    }
    schema = json_object_get(format, "schema");
    if (schema == NULL) {
        return resp_fail(err, err_size, "Missing required parameter: "
                         "'text.format.schema'.");
    }
    if (!json_is_object(schema)) {
        return resp_fail_type(err, err_size, "text.format.schema",
                              "an object", schema);
    }
    v = json_object_get(format, "description");
    if (v != NULL && !json_is_null(v) && !json_is_string(v)) {
        return resp_fail_type(err, err_size, "text.format.description",
                              "a string", v);
    }
    v = json_object_get(format, "strict");
    if (v != NULL && !json_is_null(v) && !json_is_boolean(v)) {
        return resp_fail_type(err, err_size, "text.format.strict",
                              "a boolean", v);
    }
    js = json_pack("{sO sO}", "name", name, "schema", schema);
    if (json_is_boolean(v)) {
        json_object_set(js, "strict", v);
    }
    json_object_set_new(chat, "response_format",
                        json_pack("{ss so}", "type", "json_schema",
                                  "json_schema", js));
    return 0;
}

/* Translating the input */

/* The chat messages of @body's instructions and input, into @msgs (3). */
static int
resp_input(json_t *body, json_t *msgs, char *err, size_t err_size)
{
    json_t *instr = json_object_get(body, "instructions");
    json_t *input = json_object_get(body, "input"), *item;
    json_t *turn = NULL;
    size_t i;

    if (json_is_string(instr)) {
        json_array_append_new(msgs, json_pack("{ss sO}", "role", "system",
                                              "content", instr));
    }
    if (input == NULL || json_is_null(input)) {
        return resp_fail(err, err_size, "Missing required parameter: "
                         "'input'.");
    }
    if (json_is_string(input)) {
        json_array_append_new(msgs, json_pack("{ss sO}", "role", "user",
                                              "content", input));
    } else if (json_is_array(input)) {
        json_array_foreach(input, i, item) {
            if (resp_item(item, i, msgs, &turn, err, err_size) != 0) {
                return -1;
            }
        }
    } else {
        return resp_fail_type(err, err_size, "input",
                              "a string or an array of input items", input);
    }
    if (json_array_size(msgs) == 0) {
        return resp_fail(err, err_size, "Invalid 'input': no message to "
                         "answer.");
    }
    return 0;
}

/*
 * Input item @i. *@turn is the assistant message function calls join
 * (borrowed from @msgs), NULL when the last message was of another role.
 */
static int
resp_item(json_t *item, size_t i, json_t *msgs, json_t **turn, char *err,
    size_t err_size)
{
    json_t *type, *call_id, *name, *args, *output, *content, *calls;
    const char *t;
    char path[32];

    snprintf(path, sizeof(path), "input[%zu]", i);
    if (!json_is_object(item)) {
        return resp_fail_type(err, err_size, path, "an object", item);
    }
    type = json_object_get(item, "type");
    if (type != NULL && !json_is_string(type)) {
        return resp_fail(err, err_size, "Invalid type for '%s.type': "
                         "expected a string.", path);
    }
    t = json_string_value(type);
    if (t == NULL) {
        /* OpenAI reads {"id"} alone as a reference, else a message. */
        t = json_object_get(item, "role") == NULL
            && json_object_get(item, "id") != NULL ? "item_reference"
                                                   : "message";
    }

    if (strcmp(t, "message") == 0) {
        return resp_message(item, path, msgs, turn, err, err_size);
    }
    if (strcmp(t, "function_call") == 0) {
        if (resp_require_string(item, path, "call_id", &call_id, err,
                                err_size) != 0
            || resp_require_string(item, path, "name", &name, err,
                                   err_size) != 0
            || resp_require_string(item, path, "arguments", &args, err,
                                   err_size) != 0)
        {
            return -1;
        }
        if (*turn == NULL) {
            *turn = json_pack("{ss sn}", "role", "assistant", "content");
            json_array_append_new(msgs, *turn);
        }
        calls = json_object_get(*turn, "tool_calls");
        if (calls == NULL) {
            calls = json_array();
            json_object_set_new(*turn, "tool_calls", calls);
        }
        json_array_append_new(calls, json_pack(
            "{sO ss s{sO sO}}", "id", call_id, "type", "function",
            "function", "name", name, "arguments", args));
        return 0;
    }
    if (strcmp(t, "function_call_output") == 0) {
        char out_path[48];

        if (resp_require_string(item, path, "call_id", &call_id, err,
                                err_size) != 0)
        {
            return -1;
        }
        output = json_object_get(item, "output");
        snprintf(out_path, sizeof(out_path), "%s.output", path);
        if (output == NULL) {
            return resp_fail(err, err_size, "Missing required parameter: "
                             "'%s'.", out_path);
        }
        if (json_is_string(output)) {
            content = json_incref(output);
        } else if (!json_is_array(output)) {
            return resp_fail_type(err, err_size, out_path,
                                  "a string or an array of content parts",
                                  output);
        } else if (resp_content(output, out_path, 1, &content, err,
                                err_size) != 0)
        {
            return -1;
        }
        json_array_append_new(msgs, json_pack("{ss sO so}", "role", "tool",
                                              "tool_call_id", call_id,
                                              "content", content));
        *turn = NULL;
        return 0;
    }
    if (strcmp(t, "reasoning") == 0) {
        /* Chat cannot carry it back; the assistant's turn stays open. */
        if (!json_is_array(json_object_get(item, "summary"))) {
            return resp_fail(err, err_size, "Missing required parameter: "
                             "'%s.summary'.", path);
        }
        return 0;
    }
    if (strcmp(t, "item_reference") == 0) {
        if (resp_require_string(item, path, "id", &name, err, err_size)
            != 0)
        {
            return -1;
        }
        return resp_fail(err, err_size, "Item with id '%.64s' not found: "
                         "fg-sim keeps no items.", json_string_value(name));
    }
    return resp_fail(err, err_size, "Invalid value for '%s.type': "
                     "'%.64s'; fg-sim reads message, function_call, "
                     "function_call_output, reasoning and item_reference "
                     "items.", path, t);
}

/* A message item {role, content}: a chat message of that role. */
static int
resp_message(json_t *item, const char *path, json_t *msgs, json_t **turn,
    char *err, size_t err_size)
{
    json_t *role, *content, *msg;
    char sub[48];
    int is_assistant;

    if (resp_require_string(item, path, "role", &role, err, err_size) != 0) {
        return -1;
    }
    if (!resp_is_one_of(json_string_value(role), resp_roles)) {
        return resp_fail(err, err_size, "Invalid value for '%s.role': "
                         "'%.64s'; expected 'user', 'assistant', 'system' "
                         "or 'developer'.", path, json_string_value(role));
    }
    is_assistant = strcmp(json_string_value(role), "assistant") == 0;
    snprintf(sub, sizeof(sub), "%s.content", path);
    content = json_object_get(item, "content");
    if (content == NULL) {
        return resp_fail(err, err_size, "Missing required parameter: "
                         "'%s'.", sub);
    }
    if (json_is_string(content)) {
        content = json_incref(content);
    } else if (!json_is_array(content)) {
        return resp_fail_type(err, err_size, sub,
                              "a string or an array of content parts",
                              content);
    } else if (resp_content(content, sub, !is_assistant, &content, err,
                            err_size) != 0)
    {
        return -1;
    }
    msg = json_pack("{sO so}", "role", role, "content", content);
    json_array_append_new(msgs, msg);
    /* An assistant's turn stays open: the calls that follow join it. */
    *turn = is_assistant ? msg : NULL;
    return 0;
}

/*
 * Content parts at @path into *@out (new): chat's parts, or a string when
 * there is one text part. Images only with @is_image_ok.
 */
static int
resp_content(json_t *content, const char *path, int is_image_ok,
    json_t **out, char *err, size_t err_size)
{
    json_t *parts, *part, *text, *url, *detail, *image;
    const char *type;
    char sub[64];
    size_t i;

    if (json_array_size(content) == 0) {
        return resp_fail(err, err_size, "Invalid '%s': expected at least "
                         "one content part, got an empty array.", path);
    }
    parts = json_array();
    json_array_foreach(content, i, part) {
        snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
        type = json_string_value(json_object_get(part, "type"));
        if (!json_is_object(part) || type == NULL) {
            json_decref(parts);
            return resp_fail(err, err_size, "Missing required parameter: "
                             "'%s.type'.", sub);
        }
        if (strcmp(type, "input_text") == 0
            || strcmp(type, "output_text") == 0
            || strcmp(type, "refusal") == 0)
        {
            if (resp_require_string(part, sub, strcmp(type, "refusal") == 0
                                    ? "refusal" : "text", &text, err,
                                    err_size) != 0)
            {
                json_decref(parts);
                return -1;
            }
            json_array_append_new(parts, json_pack("{ss sO}", "type", "text",
                                                   "text", text));
            continue;
        }
        if (strcmp(type, "input_image") != 0 || !is_image_ok) {
            json_decref(parts);
            return resp_fail(err, err_size, "Invalid value for '%s.type': "
                             "'%.64s'; fg-sim reads input_text, "
                             "output_text, refusal and (not from the "
                             "assistant) input_image parts.", sub, type);
        }
        url = json_object_get(part, "image_url");
        detail = json_object_get(part, "detail");
        if (!json_is_string(url)
            && !json_is_string(json_object_get(part, "file_id")))
        {
            json_decref(parts);
            return resp_fail(err, err_size, "Missing required parameter: "
                             "'%s.image_url' (or '%s.file_id').", sub, sub);
        }
        if (detail != NULL && !json_is_null(detail)
            && !resp_is_one_of(json_string_value(detail), resp_details))
        {
            json_decref(parts);
            return resp_fail(err, err_size, "Invalid value for "
                             "'%s.detail': expected 'low', 'high' or "
                             "'auto'.", sub);
        }
        /* A file's image is not fetched: no URL, so count.c bills it the
         * formula's most, as a remote URL. */
        image = json_object();
        if (json_is_string(url)) {
            json_object_set(image, "url", url);
        }
        if (json_is_string(detail)) {
            json_object_set(image, "detail", detail);
        }
        json_array_append_new(parts, json_pack("{ss so}", "type",
                                               "image_url", "image_url",
                                               image));
    }
    if (json_array_size(parts) == 1
        && json_is_string(json_object_get(json_array_get(parts, 0),
                                          "text")))
    {
        *out = json_incref(json_object_get(json_array_get(parts, 0),
                                           "text"));
        json_decref(parts);
    } else {
        *out = parts;
    }
    return 0;
}

/* Member @key of @obj (at @path): a string, borrowed into *@v. */
static int
resp_require_string(json_t *obj, const char *path, const char *key,
    json_t **v, char *err, size_t err_size)
{
    *v = json_object_get(obj, key);
    if (*v == NULL || json_is_null(*v)) {
        return resp_fail(err, err_size, "Missing required parameter: "
                         "'%s.%s'.", path, key);
    }
    if (!json_is_string(*v)) {
        return resp_fail(err, err_size, "Invalid type for '%s.%s': "
                         "expected a string, but got %s instead.", path, key,
                         resp_type_name(*v));
    }
    return 0;
}

/* Writing the reply */

/* A new JSON string of @len bytes of plan text. */
static json_t *
resp_str(const char *s, size_t len)
{
    json_t *v = json_stringn(s, len);

    /* plan.c cuts tokens on UTF-8 boundaries of UTF-8 text: never NULL
     * but for an allocation failure. */
    if (v == NULL) {
        fprintf(stderr, "fg-sim: json_stringn() failed\n");
        abort();
    }
    return v;
}

/* A new copy of the request's @key, or @dflt (taken) when absent. */
static json_t *
resp_echo(json_t *body, const char *key, json_t *dflt)
{
    json_t *v = json_object_get(body, key);

    if (v == NULL || json_is_null(v)) {
        return dflt;
    }
    json_decref(dflt);
    return json_deep_copy(v);
}

/*
 * The response object, OpenAI's member order; @output and @usage (json
 * null for none) are taken.
 */
static json_t *
resp_object(const resp_reply_t *r, const char *status, json_t *output,
    json_t *usage)
{
    json_t *o = json_object(), *b = r->body, *text;

    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "object", json_string("response"));
    json_object_set_new(o, "created_at", json_integer(r->created_s));
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "error", json_null());
    json_object_set_new(o, "incomplete_details",
                        strcmp(status, "incomplete") == 0
                        ? json_pack("{ss}", "reason", "max_output_tokens")
                        : json_null());
    json_object_set_new(o, "instructions",
                        resp_echo(b, "instructions", json_null()));
    json_object_set_new(o, "max_output_tokens",
                        resp_echo(b, "max_output_tokens", json_null()));
    json_object_set_new(o, "model", json_string(r->chat->model));
    json_object_set_new(o, "output", output);
    json_object_set_new(o, "parallel_tool_calls",
                        resp_echo(b, "parallel_tool_calls", json_true()));
    json_object_set_new(o, "previous_response_id", json_null());
    json_object_set_new(o, "reasoning", resp_echo(b, "reasoning",
        json_pack("{sn sn}", "effort", "summary")));
    json_object_set_new(o, "store", resp_echo(b, "store", json_true()));
    json_object_set_new(o, "temperature",
                        resp_echo(b, "temperature", json_real(1.0)));
    text = resp_echo(b, "text", json_object());
    if (json_object_get(text, "format") == NULL
        || json_is_null(json_object_get(text, "format")))
    {
        json_object_set_new(text, "format", json_pack("{ss}", "type",
                                                      "text"));
    }
    json_object_set_new(o, "text", text);
    json_object_set_new(o, "tool_choice",
                        resp_echo(b, "tool_choice", json_string("auto")));
    json_object_set_new(o, "tools", resp_echo(b, "tools", json_array()));
    json_object_set_new(o, "top_p", resp_echo(b, "top_p", json_real(1.0)));
    json_object_set_new(o, "truncation",
                        resp_echo(b, "truncation", json_string("disabled")));
    json_object_set_new(o, "usage", usage);
    json_object_set_new(o, "user", resp_echo(b, "user", json_null()));
    json_object_set_new(o, "metadata", resp_echo(b, "metadata",
                                                 json_object()));
    return o;
}

static json_t *
resp_usage(const fg_sim_plan_t *chat)
{
    return json_pack("{sI s{sI} sI s{sI} sI}",
                     "input_tokens", (json_int_t) chat->prompt_tokens,
                     "input_tokens_details", "cached_tokens", (json_int_t) 0,
                     "output_tokens", (json_int_t) chat->completion_tokens,
                     "output_tokens_details", "reasoning_tokens",
                     (json_int_t) chat->reasoning_tokens,
                     "total_tokens", (json_int_t) (chat->prompt_tokens
                                                   + chat->completion_tokens));
}

/* The whole output: the reasoning item if any, then the answer. */
static json_t *
resp_output(const resp_reply_t *r)
{
    json_t *output = json_array();

    if (r->chat->n_reasoning > 0) {
        json_array_append_new(output, resp_item_reasoning(r, 1));
    }
    json_array_append_new(output, resp_item_answer(r, 1));
    return output;
}

/* The reasoning item: summary [] as added, its text when done. */
static json_t *
resp_item_reasoning(const resp_reply_t *r, int is_done)
{
    const fg_sim_plan_t *c = r->chat;
    json_t *summary = json_array();

    if (is_done) {
        json_array_append_new(summary, json_pack(
            "{ss so}", "type", "summary_text", "text",
            resp_str(c->reasoning, c->reasoning_end[c->n_reasoning - 1])));
    }
    return json_pack("{ss ss so}", "id", r->rs_id, "type", "reasoning",
                     "summary", summary);
}

/* The message or function call: empty and in progress as added. */
static json_t *
resp_item_answer(const resp_reply_t *r, int is_done)
{
    const fg_sim_plan_t *c = r->chat;
    const char *status = is_done ? "completed" : "in_progress";
    size_t len = c->n_pieces > 0 ? c->piece_end[c->n_pieces - 1] : 0;

    if (c->is_tool_call) {
        return json_pack("{ss ss ss so ss ss}", "id", r->answer_id,
                         "type", "function_call", "status", status,
                         "arguments", resp_str(c->text, is_done ? len : 0),
                         "call_id", r->call_id, "name", c->tool_name);
    }
    return json_pack("{ss ss ss ss so}", "id", r->answer_id,
                     "type", "message", "role", "assistant",
                     "status", status, "content",
                     is_done ? json_pack("[o]", resp_part(r, 1))
                             : json_array());
}

/* The message's output_text part: empty as added. */
static json_t *
resp_part(const resp_reply_t *r, int is_done)
{
    const fg_sim_plan_t *c = r->chat;
    size_t len = c->n_pieces > 0 ? c->piece_end[c->n_pieces - 1] : 0;

    return json_pack("{ss so s[]}", "type", "output_text", "text",
                     resp_str(c->text, is_done ? len : 0), "annotations");
}

/* Appends the event @type with @members (taken) after its two own. */
static void
resp_event(resp_events_t *ev, const char *type, json_t *members)
{
    json_t *e = json_pack("{ss sI}", "type", type, "sequence_number",
                          ev->seq++);

    json_object_update(e, members);
    json_decref(members);
    evbuffer_add_printf(ev->out, "event: %s\ndata: ", type);
    fg_sim_json_add(ev->out, e);
    evbuffer_add(ev->out, "\n\n", 2);
    json_decref(e);
}

static void
resp_open_reasoning(const resp_reply_t *r, resp_events_t *ev)
{
    resp_event(ev, "response.output_item.added", json_pack(
        "{sI so}", "output_index", (json_int_t) 0, "item",
        resp_item_reasoning(r, 0)));
    resp_event(ev, "response.reasoning_summary_part.added", json_pack(
        "{ss sI sI s{ss ss}}", "item_id", r->rs_id, "output_index",
        (json_int_t) 0, "summary_index", (json_int_t) 0, "part", "type",
        "summary_text", "text", ""));
}

static void
resp_close_reasoning(const resp_reply_t *r, resp_events_t *ev)
{
    const fg_sim_plan_t *c = r->chat;
    size_t len = c->reasoning_end[c->n_reasoning - 1];

    resp_event(ev, "response.reasoning_summary_text.done", json_pack(
        "{ss sI sI so}", "item_id", r->rs_id, "output_index",
        (json_int_t) 0, "summary_index", (json_int_t) 0, "text",
        resp_str(c->reasoning, len)));
    resp_event(ev, "response.reasoning_summary_part.done", json_pack(
        "{ss sI sI s{ss so}}", "item_id", r->rs_id, "output_index",
        (json_int_t) 0, "summary_index", (json_int_t) 0, "part", "type",
        "summary_text", "text", resp_str(c->reasoning, len)));
    resp_event(ev, "response.output_item.done", json_pack(
        "{sI so}", "output_index", (json_int_t) 0, "item",
        resp_item_reasoning(r, 1)));
}

static void
resp_open_answer(const resp_reply_t *r, resp_events_t *ev)
{
    resp_event(ev, "response.output_item.added", json_pack(
        "{sI so}", "output_index", (json_int_t) r->answer, "item",
        resp_item_answer(r, 0)));
    if (!r->chat->is_tool_call) {
        resp_event(ev, "response.content_part.added", json_pack(
            "{ss sI sI so}", "item_id", r->answer_id, "output_index",
            (json_int_t) r->answer, "content_index", (json_int_t) 0,
            "part", resp_part(r, 0)));
    }
}

static void
resp_close_answer(const resp_reply_t *r, resp_events_t *ev)
{
    const fg_sim_plan_t *c = r->chat;
    size_t len = c->n_pieces > 0 ? c->piece_end[c->n_pieces - 1] : 0;

    if (c->is_tool_call) {
        resp_event(ev, "response.function_call_arguments.done", json_pack(
            "{ss sI ss so}", "item_id", r->answer_id, "output_index",
            (json_int_t) r->answer, "name", c->tool_name, "arguments",
            resp_str(c->text, len)));
    } else {
        resp_event(ev, "response.output_text.done", json_pack(
            "{ss sI sI s[] so}", "item_id", r->answer_id, "output_index",
            (json_int_t) r->answer, "content_index", (json_int_t) 0,
            "logprobs", "text", resp_str(c->text, len)));
        resp_event(ev, "response.content_part.done", json_pack(
            "{ss sI sI so}", "item_id", r->answer_id, "output_index",
            (json_int_t) r->answer, "content_index", (json_int_t) 0,
            "part", resp_part(r, 1)));
    }
    resp_event(ev, "response.output_item.done", json_pack(
        "{sI so}", "output_index", (json_int_t) r->answer, "item",
        resp_item_answer(r, 1)));
}

/*
 * The stream (5) into @out, @plan's head, steps and tail marked in it: a
 * step per token of the answer, reasoning first.
 */
static void
resp_write_stream(const resp_reply_t *r, fg_sim_plan_t *plan,
    struct evbuffer *out)
{
    const fg_sim_plan_t *c = r->chat;
    resp_events_t ev = { out, 0 };
    size_t i, k, start, n = fg_sim_plan_n_tokens(c);
    const char *end_type;

    resp_event(&ev, "response.created", json_pack("{so}", "response",
        resp_object(r, "in_progress", json_array(), json_null())));
    resp_event(&ev, "response.in_progress", json_pack("{so}", "response",
        resp_object(r, "in_progress", json_array(), json_null())));
    plan->canned_head_end = evbuffer_get_length(out);

    plan->piece_end = fg_xmalloc((n + 1) * sizeof(size_t));
    for (i = 0; i < n; i++) {
        if (i < c->n_reasoning) {
            if (i == 0) {
                resp_open_reasoning(r, &ev);
            }
            start = i == 0 ? 0 : c->reasoning_end[i - 1];
            resp_event(&ev, "response.reasoning_summary_text.delta",
                json_pack("{ss sI sI so}", "item_id", r->rs_id,
                          "output_index", (json_int_t) 0, "summary_index",
                          (json_int_t) 0, "delta",
                          resp_str(c->reasoning + start,
                                   c->reasoning_end[i] - start)));
        } else {
            k = i - c->n_reasoning;
            if (k == 0) {
                if (c->n_reasoning > 0) {
                    resp_close_reasoning(r, &ev);
                }
                resp_open_answer(r, &ev);
            }
            start = k == 0 ? 0 : c->piece_end[k - 1];
            if (c->is_tool_call) {
                resp_event(&ev, "response.function_call_arguments.delta",
                    json_pack("{ss sI so}", "item_id", r->answer_id,
                              "output_index", (json_int_t) r->answer,
                              "delta", resp_str(c->text + start,
                                                c->piece_end[k] - start)));
            } else {
                resp_event(&ev, "response.output_text.delta", json_pack(
                    "{ss sI sI s[] so}", "item_id", r->answer_id,
                    "output_index", (json_int_t) r->answer,
                    "content_index", (json_int_t) 0, "logprobs", "delta",
                    resp_str(c->text + start, c->piece_end[k] - start)));
            }
        }
        plan->piece_end[i] = evbuffer_get_length(out);
    }
    plan->n_pieces = n;

    if (c->n_pieces == 0) {
        /* An answer with no token still has its item, as the reply. */
        if (c->n_reasoning > 0) {
            resp_close_reasoning(r, &ev);
        }
        resp_open_answer(r, &ev);
    }
    resp_close_answer(r, &ev);
    end_type = strcmp(r->status, "incomplete") == 0 ? "response.incomplete"
                                                    : "response.completed";
    resp_event(&ev, end_type, json_pack("{so}", "response",
        resp_object(r, r->status, resp_output(r), resp_usage(c))));
}
