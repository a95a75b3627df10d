/*
 * responses_req.c: a Responses API request, checked and written as the
 * chat-completions body it means (the mapping: responses_req.h).
 *
 * One walk over the parsed request (common/wire/jdoc), in three steps:
 *   1) the top level, member by member in the body's order, against one
 *      table (resp_members[]): an unknown member is a 400 naming it, a
 *      refused one a 400 saying why, a scalar is checked and copied to its
 *      chat name; structured members are left to step 2;
 *   2) the structured members in a fixed order (model, tools,
 *      tool_choice, text, reasoning, metadata, include, stream_options,
 *      background, parallel_tool_calls), each checked and written;
 *   3) the conversation: instructions, the stored conversation of
 *      previous_response_id, then the input items, written as chat
 *      messages into a buffer of their own that closes the body.
 * The first failure is the answer; nothing written survives it.
 *
 * Values are copied as their raw JSON text (escapes as the client wrote
 * them), never decoded and re-quoted: the body grows only by the constant
 * each item's new shape adds, and a valid request costs no printf.
 *
 * Assistant turns: chat puts a turn's tool calls in the assistant message
 * that says its text, where Responses has an item per call. The message
 * being written stays open (resp_t.open) until the next item shows
 * whether it is a function_call joining it; reasoning items, dropped,
 * leave it open.
 *
 * Looked-up items (previous_response_id, item_reference) are translated
 * by the same code, one parsed array at a time; a reference inside them
 * is followed up to FG_RESPONSES_REF_DEPTH_MAX levels, and the bytes of
 * all lookups together are bounded (FG_RESPONSES_STORED_BYTES_MAX), so a
 * request naming one big response many times cannot multiply it. An
 * error inside looked-up items is reported at the member that named them.
 *
 * Deliberately not done: the chat schema (fg_validate_chat_body checks
 * the result, so rules live in one place); a tool_choice naming a tool
 * that does not exist (the provider's answer); anything the reply needs
 * (responses_reply.c).
 */

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/base/alloc.h"
#include "common/base/errors.h"
#include "common/wire/jdoc.h"
#include "common/wire/json.h"
#include "worker/responses_req.h"
#include "worker/validate.h"

#define RESP_QUOTE_MAX     64      /* bytes of client input a message
                                      quotes */
#define RESP_KEY_MAX       64      /* metadata keys, as OpenAI */
#define RESP_VALUE_MAX     512     /* metadata values, as OpenAI */
#define RESP_NAME_MAX      64      /* function and schema names */

/* How a top-level member is taken (step 1). */
typedef enum {
    RESP_NUMBER,        /* finite, within [lo, hi] */
    RESP_INTEGER,       /* integer, within [min, max] */
    RESP_BOOLEAN,
    RESP_STRING,
    RESP_ENUM,          /* one of values[] */
    RESP_GATEWAY,       /* the gateway's own: copied, checked by chat's
                           validator */
    RESP_REFUSED,       /* a 400 unless null */
    RESP_OWN            /* a function of its own (step 2 or 3) */
} resp_kind_t;

typedef struct {
    const char         *key;
    resp_kind_t         kind;
    const char         *chat;       /* written under this name; NULL: not
                                       sent */
    double              lo, hi;
    long long           min, max;
    const char *const  *values;     /* RESP_ENUM, NULL-terminated */
} resp_member_t;

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
static const char *const resp_formats[] = {
    "text", "json_object", "json_schema", NULL
};
static const char *const resp_details[] = { "low", "high", "auto", NULL };
static const char *const resp_roles[] = {
    "user", "assistant", "system", "developer", NULL
};
static const char *const resp_tool_modes[] = {
    "none", "auto", "required", NULL
};
static const char *const resp_includes[] = {
    "code_interpreter_call.outputs", "computer_call_output.output.image_url",
    "file_search_call.results", "message.input_image.image_url",
    "message.output_text.logprobs", "reasoning.encrypted_content",
    "web_search_call.action.sources", "web_search_call.results", NULL
};

#define RESP_NUM(k, c, l, h)  { k, RESP_NUMBER, c, l, h, 0, 0, NULL }
#define RESP_INT(k, c, l, h)  { k, RESP_INTEGER, c, 0, 0, l, h, NULL }
#define RESP_BOOL(k, c)       { k, RESP_BOOLEAN, c, 0, 0, 0, 0, NULL }
#define RESP_STR(k, c)        { k, RESP_STRING, c, 0, 0, 0, 0, NULL }
#define RESP_ENUM_OF(k, c, v) { k, RESP_ENUM, c, 0, 0, 0, 0, v }
#define RESP_AS(k, kind)      { k, kind, NULL, 0, 0, 0, 0, NULL }

static const resp_member_t resp_members[] = {
    RESP_AS("model", RESP_OWN),
    RESP_AS("input", RESP_OWN),
    RESP_AS("instructions", RESP_OWN),
    RESP_AS("previous_response_id", RESP_OWN),
    RESP_AS("tools", RESP_OWN),
    RESP_AS("tool_choice", RESP_OWN),
    RESP_AS("parallel_tool_calls", RESP_OWN),
    RESP_AS("text", RESP_OWN),
    RESP_AS("reasoning", RESP_OWN),
    RESP_AS("metadata", RESP_OWN),
    RESP_AS("include", RESP_OWN),
    RESP_AS("stream_options", RESP_OWN),
    RESP_AS("background", RESP_OWN),
    RESP_INT("max_output_tokens", "max_completion_tokens",
             FG_RESPONSES_MAX_OUTPUT_MIN, FG_VALIDATE_MAX_TOKENS_MAX),
    RESP_NUM("temperature", "temperature", 0, 2),
    RESP_NUM("top_p", "top_p", 0, 1),
    RESP_BOOL("stream", "stream"),
    RESP_BOOL("store", NULL),
    RESP_STR("user", "user"),
    RESP_INT("seed", "seed", LLONG_MIN, LLONG_MAX),
    RESP_STR("safety_identifier", "safety_identifier"),
    RESP_STR("prompt_cache_key", "prompt_cache_key"),
    RESP_ENUM_OF("prompt_cache_retention", "prompt_cache_retention",
                 resp_retentions),
    RESP_ENUM_OF("truncation", NULL, resp_truncations),
    RESP_ENUM_OF("service_tier", NULL, resp_tiers),
    RESP_INT("top_logprobs", NULL, 0, 20),
    RESP_INT("max_tool_calls", NULL, 1, INT_MAX),
    RESP_AS("models", RESP_GATEWAY),
    RESP_AS("fallbacks", RESP_GATEWAY),
    RESP_AS("route", RESP_GATEWAY),
    RESP_AS("provider", RESP_GATEWAY),
    RESP_AS("preset", RESP_GATEWAY),
    RESP_AS("filters", RESP_GATEWAY),
    RESP_AS("transforms", RESP_GATEWAY),
    RESP_AS("plugins", RESP_GATEWAY),
    RESP_AS("prompt", RESP_REFUSED),
    RESP_AS("conversation", RESP_REFUSED),
};

#define RESP_COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define RESP_ADD(o, lit) evbuffer_add((o), (lit), sizeof(lit) - 1)

/* The assistant message being written, left open for tool calls. */
typedef enum {
    RESP_OPEN_NONE = 0,
    RESP_OPEN_MESSAGE,      /* {"role":...,"content":...           */
    RESP_OPEN_ASSISTANT,    /* {"role":"assistant","content":...   */
    RESP_OPEN_CALLS         /* ... "tool_calls":[{...}             */
} resp_open_t;

/* The walk: the error and the path of where it stands, the messages
 * written so far, the lookup and what it has cost. */
typedef struct {
    fg_err_t               *err;
    char                    path[FG_ERR_PARAM_MAX];
    size_t                  len;
    struct evbuffer        *msgs;      /* the messages array's elements */
    size_t                  n_msgs;
    resp_open_t             open;
    int                     has_tools;  /* a non-empty "tools" is sent */
    fg_responses_lookup_pt  lookup;
    void                   *lookup_arg;
    size_t                  max_depth;
    size_t                  stored_bytes;
    struct evbuffer        *context;   /* the items kept for the store,
                                          comma-separated; NULL: none */
} resp_t;

/* Whose content parts are read: what each may hold. */
typedef enum {
    RESP_PARTS_USER,    /* text and images */
    RESP_PARTS_OTHER,   /* text (chat takes images from users only) */
    RESP_PARTS_TOOL     /* a function's output: text only */
} resp_parts_t;

/* A content part, checked: what resp_part_write() writes. */
typedef struct {
    int text;       /* the text string of a text-like part, or FG_JNONE */
    int url;        /* input_image: image_url */
    int detail;     /* input_image: detail, or FG_JNONE */
} resp_part_t;

static int resp_top(resp_t *r, const fg_jdoc_t *doc, struct evbuffer *o);
static int resp_scalar(resp_t *r, const fg_jdoc_t *doc, int node,
                       const resp_member_t *m, struct evbuffer *o);
static int resp_model(resp_t *r, const fg_jdoc_t *doc, struct evbuffer *o);
static int resp_tools(resp_t *r, const fg_jdoc_t *doc, struct evbuffer *o);
static int resp_tool(resp_t *r, const fg_jdoc_t *doc, int tool,
                     struct evbuffer *o);
static int resp_tool_choice(resp_t *r, const fg_jdoc_t *doc,
                            struct evbuffer *o);
static int resp_parallel(resp_t *r, const fg_jdoc_t *doc,
                         struct evbuffer *o);
static int resp_text(resp_t *r, const fg_jdoc_t *doc, struct evbuffer *o);
static int resp_format(resp_t *r, const fg_jdoc_t *doc, int format,
                       struct evbuffer *o);
static int resp_reasoning(resp_t *r, const fg_jdoc_t *doc,
                          struct evbuffer *o);
static int resp_metadata(resp_t *r, const fg_jdoc_t *doc);
static int resp_include(resp_t *r, const fg_jdoc_t *doc);
static int resp_stream_options(resp_t *r, const fg_jdoc_t *doc);
static int resp_background(resp_t *r, const fg_jdoc_t *doc);
static int resp_conversation(resp_t *r, const fg_jdoc_t *doc);
static int resp_items(resp_t *r, const fg_jdoc_t *doc, int arr, int depth);
static int resp_item(resp_t *r, const fg_jdoc_t *doc, int item, int depth);
static int resp_message(resp_t *r, const fg_jdoc_t *doc, int item);
static int resp_begin_with(resp_t *r, const fg_jdoc_t *doc, int item,
                           const char *key, const char *role,
                           resp_parts_t parts);
static int resp_content(resp_t *r, const fg_jdoc_t *doc, int content,
                        resp_parts_t parts);
static int resp_part(resp_t *r, const fg_jdoc_t *doc, int part, int is_user,
                     resp_part_t *p);
static void resp_part_write(resp_t *r, const fg_jdoc_t *doc,
                            const resp_part_t *p);
static int resp_function_call(resp_t *r, const fg_jdoc_t *doc, int item);
static int resp_function_output(resp_t *r, const fg_jdoc_t *doc, int item);
static int resp_reference(resp_t *r, const fg_jdoc_t *doc, int id,
                          int depth);
static int resp_stored(resp_t *r, const fg_jdoc_t *doc, int id,
                       int depth);
static void resp_fill(const fg_jdoc_t *doc, fg_responses_req_t *out);
static void resp_keep(resp_t *r, const fg_jdoc_t *doc, int item);

static void resp_begin_message(resp_t *r, const char *role);
static void resp_close(resp_t *r);
static void resp_raw(struct evbuffer *o, const fg_jdoc_t *doc, int node);
static void resp_member(struct evbuffer *o, const char *name,
                        const fg_jdoc_t *doc, int node);
static int resp_one_of(const fg_jdoc_t *doc, int s,
                       const char *const *set);
static int resp_name_ok(const fg_jdoc_t *doc, int s);
static int resp_require(resp_t *r, const fg_jdoc_t *doc, int obj,
                        const char *key, fg_jtype_t type, int *value);
static int resp_optional(resp_t *r, const fg_jdoc_t *doc, int obj,
                         const char *key, fg_jtype_t type, int *value);
static int resp_only(resp_t *r, const fg_jdoc_t *doc, int obj,
                     const char *const *keys);
static size_t resp_push(resp_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void resp_pop(resp_t *r, size_t mark);
static void resp_quote(const fg_jdoc_t *doc, int s, char *dst, size_t size);
static const char *resp_describe(const fg_jdoc_t *doc, int node);
static int resp_err_required(resp_t *r);
static int resp_err_type(resp_t *r, const char *expected,
                         const fg_jdoc_t *doc, int got);
static int resp_err_value(resp_t *r, const char *expected,
                          const fg_jdoc_t *doc, int got);
static int resp_err_unsupported(resp_t *r, const char *why);

int
fg_responses_to_chat(const char *body, size_t len, size_t max_depth,
                     fg_responses_lookup_pt lookup, void *lookup_arg,
                     fg_responses_req_t *out, fg_jdoc_t *doc, char **chat,
                     size_t *chat_len, char **context, size_t *context_len,
                     fg_err_t *err)
{
    resp_t           r;
    struct evbuffer *o;
    size_t           n;

    *chat = NULL;
    *chat_len = 0;
    if (context != NULL) {
        *context = NULL;
        *context_len = 0;
    }
    if (fg_jdoc_parse(doc, body, len, max_depth, err) != FG_OK) {
        return FG_ERR;
    }
    memset(&r, 0, sizeof(r));
    r.err = err;
    r.lookup = lookup;
    r.lookup_arg = lookup_arg;
    r.max_depth = max_depth;
    o = evbuffer_new();
    r.msgs = evbuffer_new();
    r.context = context != NULL ? evbuffer_new() : NULL;
    if (o == NULL || r.msgs == NULL || (context != NULL && r.context == NULL)) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "out of memory");
        goto fail;
    }
    if (fg_jdoc_type(doc, 0) != FG_JOBJECT) {
        fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                   "The request body must be a JSON object, got %s.",
                   resp_describe(doc, 0));
        goto fail;
    }
    RESP_ADD(o, "{");
    if (resp_model(&r, doc, o) != FG_OK
        || resp_top(&r, doc, o) != FG_OK
        || resp_tools(&r, doc, o) != FG_OK
        || resp_tool_choice(&r, doc, o) != FG_OK
        || resp_parallel(&r, doc, o) != FG_OK
        || resp_text(&r, doc, o) != FG_OK
        || resp_reasoning(&r, doc, o) != FG_OK
        || resp_metadata(&r, doc) != FG_OK
        || resp_include(&r, doc) != FG_OK
        || resp_stream_options(&r, doc) != FG_OK
        || resp_background(&r, doc) != FG_OK
        || resp_conversation(&r, doc) != FG_OK) {
        goto fail;
    }
    RESP_ADD(o, ",\"messages\":[");
    evbuffer_add_buffer(o, r.msgs);
    RESP_ADD(o, "]}");

    n = evbuffer_get_length(o);
    *chat = fg_xmalloc(n + 1);
    evbuffer_remove(o, *chat, n);
    (*chat)[n] = '\0';
    *chat_len = n;
    if (context != NULL) {
        n = evbuffer_get_length(r.context);
        *context = fg_xmalloc(n + 1);
        evbuffer_remove(r.context, *context, n);
        (*context)[n] = '\0';
        *context_len = n;
        evbuffer_free(r.context);
    }
    evbuffer_free(o);
    evbuffer_free(r.msgs);
    if (out != NULL) {
        resp_fill(doc, out);
    }
    return FG_OK;

fail:
    if (o != NULL) {
        evbuffer_free(o);
    }
    if (r.msgs != NULL) {
        evbuffer_free(r.msgs);
    }
    if (r.context != NULL) {
        evbuffer_free(r.context);
    }
    fg_jdoc_free(doc);
    return FG_ERR;
}

/* Step 1: every top-level member is known; the scalars checked and
 * written. */
static int
resp_top(resp_t *r, const fg_jdoc_t *doc, struct evbuffer *o)
{
    int    k;
    size_t i, mark;
    char   key[RESP_QUOTE_MAX + 1];

    for (k = fg_jdoc_first(doc, 0); k != FG_JNONE;
         k = fg_jdoc_next(doc, 0, k)) {
        const resp_member_t *m = NULL;

        for (i = 0; i < RESP_COUNT(resp_members); i++) {
            if (fg_jdoc_str_eq(doc, k, resp_members[i].key)) {
                m = &resp_members[i];
                break;
            }
        }
        if (m == NULL) {
            resp_quote(doc, k, key, sizeof(key));
            mark = resp_push(r, "%s", key);
            return fg_err_set(r->err, FG_E_UNSUPPORTED_PARAMETER, r->path,
                              "Unknown parameter: '%s'.", r->path);
        }
        if (m->kind == RESP_OWN || fg_jdoc_type(doc, k + 1) == FG_JNULL) {
            continue;
        }
        mark = resp_push(r, "%s", m->key);
        if (m->kind == RESP_REFUSED) {
            return resp_err_unsupported(r, fg_jdoc_str_eq(doc, k, "prompt")
                ? "prompt templates are kept by OpenAI, not by the gateway"
                : "conversations are kept by OpenAI, not by the gateway; "
                  "chain responses with previous_response_id");
        }
        if (m->kind == RESP_GATEWAY) {
            resp_member(o, m->key, doc, k + 1);
        } else if (resp_scalar(r, doc, k + 1, m, o) != FG_OK) {
            return FG_ERR;
        }
        resp_pop(r, mark);
    }
    return FG_OK;
}

/* One scalar row of resp_members[] at @node (not null), the path on it. */
static int
resp_scalar(resp_t *r, const fg_jdoc_t *doc, int node,
            const resp_member_t *m, struct evbuffer *o)
{
    fg_jtype_t type = fg_jdoc_type(doc, node);
    double     d;
    long long  i;

    switch (m->kind) {
    case RESP_NUMBER:
        if (type != FG_JINT && type != FG_JREAL) {
            return resp_err_type(r, "a number", doc, node);
        }
        d = type == FG_JINT ? (double) doc->nodes[node].num.i
                            : doc->nodes[node].num.d;
        if (!isfinite(d) || d < m->lo || d > m->hi) {
            return fg_err_set(r->err, FG_E_OUT_OF_RANGE, r->path,
                              "Invalid value for '%s': expected a number "
                              "between %g and %g, got %.10g.", r->path,
                              m->lo, m->hi, d);
        }
        break;
    case RESP_INTEGER:
        if (type != FG_JINT) {
            return resp_err_type(r, "an integer", doc, node);
        }
        i = doc->nodes[node].num.i;
        if (i < m->min || i > m->max) {
            return fg_err_set(r->err, FG_E_OUT_OF_RANGE, r->path,
                              "Invalid value for '%s': expected an integer "
                              "between %lld and %lld, got %lld.", r->path,
                              m->min, m->max, i);
        }
        break;
    case RESP_BOOLEAN:
        if (type != FG_JTRUE && type != FG_JFALSE) {
            return resp_err_type(r, "a boolean", doc, node);
        }
        break;
    case RESP_STRING:
        if (type != FG_JSTRING) {
            return resp_err_type(r, "a string", doc, node);
        }
        break;
    case RESP_ENUM:
        if (type != FG_JSTRING) {
            return resp_err_type(r, "a string", doc, node);
        }
        if (!resp_one_of(doc, node, m->values)) {
            char expected[160];
            size_t n = 0, v;

            for (v = 0; m->values[v] != NULL; v++) {
                n += (size_t) snprintf(expected + n, sizeof(expected) - n,
                                       "%s'%s'", v > 0 ? ", " : "one of ",
                                       m->values[v]);
                if (n >= sizeof(expected)) {
                    break;
                }
            }
            return resp_err_value(r, expected, doc, node);
        }
        break;
    default:
        break;
    }
    if (m->chat != NULL) {
        resp_member(o, m->chat, doc, node);
    }
    return FG_OK;
}

static int
resp_model(resp_t *r, const fg_jdoc_t *doc, struct evbuffer *o)
{
    int model;

    if (resp_require(r, doc, 0, "model", FG_JSTRING, &model) != FG_OK) {
        return FG_ERR;
    }
    if (fg_jdoc_str_len(doc, model) == 0) {
        return fg_err_set(r->err, FG_E_REQUIRED_FIELD, "model",
                          "Missing required parameter: 'model' must be a "
                          "non-empty string naming the model.");
    }
    RESP_ADD(o, "\"model\":");
    resp_raw(o, doc, model);
    return FG_OK;
}

/* "tools": function tools only, written in chat's nesting. An empty array
 * sends nothing (chat refuses an empty "tools"). */
static int
resp_tools(resp_t *r, const fg_jdoc_t *doc, struct evbuffer *o)
{
    int    tools, tool;
    size_t i = 0, mark, item;

    if (resp_optional(r, doc, 0, "tools", FG_JARRAY, &tools) != FG_OK) {
        return FG_ERR;
    }
    if (tools == FG_JNONE || doc->nodes[tools].count == 0) {
        return FG_OK;
    }
    mark = resp_push(r, "tools");
    if (doc->nodes[tools].count > FG_RESPONSES_TOOLS_MAX) {
        return fg_err_set(r->err, FG_E_OUT_OF_RANGE, r->path,
                          "Invalid value for 'tools': expected at most %d "
                          "tools, got %u.", FG_RESPONSES_TOOLS_MAX,
                          doc->nodes[tools].count);
    }
    RESP_ADD(o, ",\"tools\":[");
    for (tool = fg_jdoc_first(doc, tools); tool != FG_JNONE;
         tool = fg_jdoc_next(doc, tools, tool), i++) {
        item = resp_push(r, "[%zu]", i);
        if (i > 0) {
            RESP_ADD(o, ",");
        }
        if (resp_tool(r, doc, tool, o) != FG_OK) {
            return FG_ERR;
        }
        resp_pop(r, item);
    }
    RESP_ADD(o, "]");
    r->has_tools = 1;
    resp_pop(r, mark);
    return FG_OK;
}

/* One tool at the path: {"type":"function", name, description?,
 * parameters?, strict?}. */
static int
resp_tool(resp_t *r, const fg_jdoc_t *doc, int tool, struct evbuffer *o)
{
    static const char *const keys[] = {
        "type", "name", "description", "parameters", "strict", NULL
    };
    int type, name, description, params, strict;

    if (fg_jdoc_type(doc, tool) != FG_JOBJECT) {
        return resp_err_type(r, "an object", doc, tool);
    }
    if (resp_require(r, doc, tool, "type", FG_JSTRING, &type) != FG_OK) {
        return FG_ERR;
    }
    if (!fg_jdoc_str_eq(doc, type, "function")) {
        resp_push(r, ".type");
        return resp_err_unsupported(r, "the gateway does not offer built-in "
                                    "tools; only 'function' tools are "
                                    "supported");
    }
    if (resp_only(r, doc, tool, keys) != FG_OK
        || resp_require(r, doc, tool, "name", FG_JSTRING, &name) != FG_OK
        || resp_optional(r, doc, tool, "description", FG_JSTRING,
                         &description) != FG_OK
        || resp_optional(r, doc, tool, "parameters", FG_JOBJECT, &params)
           != FG_OK
        || resp_optional(r, doc, tool, "strict", FG_JTRUE, &strict)
           != FG_OK) {
        return FG_ERR;
    }
    if (!resp_name_ok(doc, name)) {
        resp_push(r, ".name");
        return resp_err_value(r, "1 to 64 characters from a-z, A-Z, 0-9, "
                              "'_' and '-'", doc, name);
    }
    RESP_ADD(o, "{\"type\":\"function\",\"function\":{\"name\":");
    resp_raw(o, doc, name);
    resp_member(o, "description", doc, description);
    resp_member(o, "parameters", doc, params);
    resp_member(o, "strict", doc, strict);
    RESP_ADD(o, "}}");
    return FG_OK;
}

/*
 * "tool_choice": a mode, or {"type":"function","name"}. Without tools
 * sent, "auto" and "none" send nothing (chat refuses a tool_choice
 * without tools) and what would need a tool is a 400.
 */
static int
resp_tool_choice(resp_t *r, const fg_jdoc_t *doc, struct evbuffer *o)
{
    static const char *const keys[] = { "type", "name", NULL };
    int    tc, type, name;
    size_t mark;

    tc = fg_jdoc_value(doc, 0, "tool_choice");
    if (tc == FG_JNONE) {
        return FG_OK;
    }
    mark = resp_push(r, "tool_choice");
    if (fg_jdoc_type(doc, tc) == FG_JSTRING) {
        if (!resp_one_of(doc, tc, resp_tool_modes)) {
            return resp_err_value(r, "one of 'none', 'auto' or 'required', "
                                  "or an object naming a function", doc, tc);
        }
        if (r->has_tools) {
            resp_member(o, "tool_choice", doc, tc);
        } else if (fg_jdoc_str_eq(doc, tc, "required")) {
            return fg_err_set(r->err, FG_E_INVALID_VALUE, r->path,
                              "Invalid value for 'tool_choice': 'required' "
                              "needs at least one tool in 'tools'.");
        }
        resp_pop(r, mark);
        return FG_OK;
    }
    if (fg_jdoc_type(doc, tc) != FG_JOBJECT) {
        return resp_err_type(r, "a string or an object", doc, tc);
    }
    if (resp_require(r, doc, tc, "type", FG_JSTRING, &type) != FG_OK) {
        return FG_ERR;
    }
    if (!fg_jdoc_str_eq(doc, type, "function")) {
        resp_push(r, ".type");
        return resp_err_unsupported(r, "only 'function' can be chosen: the "
                                    "gateway offers no built-in tools");
    }
    if (resp_only(r, doc, tc, keys) != FG_OK
        || resp_require(r, doc, tc, "name", FG_JSTRING, &name) != FG_OK) {
        return FG_ERR;
    }
    if (!r->has_tools) {
        return fg_err_set(r->err, FG_E_INVALID_VALUE, r->path,
                          "Invalid value for 'tool_choice': it names a "
                          "function but 'tools' lists none.");
    }
    RESP_ADD(o, ",\"tool_choice\":{\"type\":\"function\",\"function\":"
                    "{\"name\":");
    resp_raw(o, doc, name);
    RESP_ADD(o, "}}");
    resp_pop(r, mark);
    return FG_OK;
}

/* "parallel_tool_calls": sent only beside tools (chat refuses it
 * alone). */
static int
resp_parallel(resp_t *r, const fg_jdoc_t *doc, struct evbuffer *o)
{
    int ptc;

    if (resp_optional(r, doc, 0, "parallel_tool_calls", FG_JTRUE, &ptc)
        != FG_OK) {
        return FG_ERR;
    }
    if (r->has_tools) {
        resp_member(o, "parallel_tool_calls", doc, ptc);
    }
    return FG_OK;
}

/* "text": {"format"?, "verbosity"?}. */
static int
resp_text(resp_t *r, const fg_jdoc_t *doc, struct evbuffer *o)
{
    static const char *const keys[] = { "format", "verbosity", NULL };
    int    text, format, verbosity;
    size_t mark;

    if (resp_optional(r, doc, 0, "text", FG_JOBJECT, &text) != FG_OK) {
        return FG_ERR;
    }
    if (text == FG_JNONE) {
        return FG_OK;
    }
    mark = resp_push(r, "text");
    if (resp_only(r, doc, text, keys) != FG_OK
        || resp_optional(r, doc, text, "format", FG_JOBJECT, &format)
           != FG_OK
        || resp_optional(r, doc, text, "verbosity", FG_JSTRING, &verbosity)
           != FG_OK) {
        return FG_ERR;
    }
    if (format != FG_JNONE && resp_format(r, doc, format, o) != FG_OK) {
        return FG_ERR;
    }
    if (verbosity != FG_JNONE) {
        if (!resp_one_of(doc, verbosity, resp_verbosities)) {
            resp_push(r, ".verbosity");
            return resp_err_value(r, "one of 'low', 'medium' or 'high'",
                                  doc, verbosity);
        }
        resp_member(o, "verbosity", doc, verbosity);
    }
    resp_pop(r, mark);
    return FG_OK;
}

/* "text.format" (the path at "text"): text sends nothing, json_object and
 * json_schema a response_format. */
static int
resp_format(resp_t *r, const fg_jdoc_t *doc, int format, struct evbuffer *o)
{
    static const char *const plain[] = { "type", NULL };
    static const char *const schema_keys[] = {
        "type", "name", "schema", "description", "strict", NULL
    };
    int    type, name, schema, description, strict;
    size_t mark = resp_push(r, ".format");

    if (resp_require(r, doc, format, "type", FG_JSTRING, &type) != FG_OK) {
        return FG_ERR;
    }
    if (!resp_one_of(doc, type, resp_formats)) {
        resp_push(r, ".type");
        return resp_err_value(r, "one of 'text', 'json_object' or "
                              "'json_schema'", doc, type);
    }
    if (!fg_jdoc_str_eq(doc, type, "json_schema")) {
        if (resp_only(r, doc, format, plain) != FG_OK) {
            return FG_ERR;
        }
        if (fg_jdoc_str_eq(doc, type, "json_object")) {
            RESP_ADD(o, ",\"response_format\":{\"type\":\"json_object\"}");
        }
        resp_pop(r, mark);
        return FG_OK;
    }
    if (resp_only(r, doc, format, schema_keys) != FG_OK
        || resp_require(r, doc, format, "name", FG_JSTRING, &name) != FG_OK
        || resp_require(r, doc, format, "schema", FG_JOBJECT, &schema)
           != FG_OK
        || resp_optional(r, doc, format, "description", FG_JSTRING,
                         &description) != FG_OK
        || resp_optional(r, doc, format, "strict", FG_JTRUE, &strict)
           != FG_OK) {
        return FG_ERR;
    }
    if (!resp_name_ok(doc, name)) {
        resp_push(r, ".name");
        return resp_err_value(r, "1 to 64 characters from a-z, A-Z, 0-9, "
                              "'_' and '-'", doc, name);
    }
    RESP_ADD(o, ",\"response_format\":{\"type\":\"json_schema\","
                    "\"json_schema\":{\"name\":");
    resp_raw(o, doc, name);
    resp_member(o, "schema", doc, schema);
    resp_member(o, "strict", doc, strict);
    resp_member(o, "description", doc, description);
    RESP_ADD(o, "}}");
    resp_pop(r, mark);
    return FG_OK;
}

/* "reasoning": {"effort"?, "summary"?, "generate_summary"?}; the effort
 * becomes reasoning_effort, a summary is accepted and not asked for
 * (chat has no way to). */
static int
resp_reasoning(resp_t *r, const fg_jdoc_t *doc, struct evbuffer *o)
{
    static const char *const keys[] = {
        "effort", "summary", "generate_summary", NULL
    };
    int    rs, effort, summary, k;
    size_t mark;

    if (resp_optional(r, doc, 0, "reasoning", FG_JOBJECT, &rs) != FG_OK) {
        return FG_ERR;
    }
    if (rs == FG_JNONE) {
        return FG_OK;
    }
    mark = resp_push(r, "reasoning");
    if (resp_only(r, doc, rs, keys) != FG_OK
        || resp_optional(r, doc, rs, "effort", FG_JSTRING, &effort)
           != FG_OK) {
        return FG_ERR;
    }
    if (effort != FG_JNONE && !resp_one_of(doc, effort, resp_efforts)) {
        resp_push(r, ".effort");
        return resp_err_value(r, "one of 'none', 'minimal', 'low', "
                              "'medium', 'high' or 'xhigh'", doc, effort);
    }
    for (k = 1; keys[k] != NULL; k++) {
        if (resp_optional(r, doc, rs, keys[k], FG_JSTRING, &summary)
            != FG_OK) {
            return FG_ERR;
        }
        if (summary != FG_JNONE && !resp_one_of(doc, summary,
                                                resp_summaries)) {
            resp_push(r, ".%s", keys[k]);
            return resp_err_value(r, "one of 'auto', 'concise' or "
                                  "'detailed'", doc, summary);
        }
    }
    resp_member(o, "reasoning_effort", doc, effort);
    resp_pop(r, mark);
    return FG_OK;
}

/* "metadata": at most 16 pairs, keys up to 64 bytes, values strings up
 * to 512 (OpenAI's limits). Not sent: the response echoes it. */
static int
resp_metadata(resp_t *r, const fg_jdoc_t *doc)
{
    int    md, k;
    size_t mark;
    char   key[RESP_QUOTE_MAX + 1];

    if (resp_optional(r, doc, 0, "metadata", FG_JOBJECT, &md) != FG_OK) {
        return FG_ERR;
    }
    if (md == FG_JNONE) {
        return FG_OK;
    }
    if (doc->nodes[md].count > FG_RESPONSES_METADATA_MAX) {
        return fg_err_set(r->err, FG_E_OUT_OF_RANGE, "metadata",
                          "Invalid value for 'metadata': expected at most "
                          "%d pairs, got %u.", FG_RESPONSES_METADATA_MAX,
                          doc->nodes[md].count);
    }
    for (k = fg_jdoc_first(doc, md); k != FG_JNONE;
         k = fg_jdoc_next(doc, md, k)) {
        resp_quote(doc, k, key, sizeof(key));
        mark = resp_push(r, "metadata.%s", key);
        if (fg_jdoc_str_len(doc, k) > RESP_KEY_MAX) {
            return fg_err_set(r->err, FG_E_OUT_OF_RANGE, r->path,
                              "Invalid value for 'metadata': a key is at "
                              "most %d bytes long, got '%s'.", RESP_KEY_MAX,
                              key);
        }
        if (fg_jdoc_type(doc, k + 1) != FG_JSTRING) {
            return resp_err_type(r, "a string", doc, k + 1);
        }
        if (fg_jdoc_str_len(doc, k + 1) > RESP_VALUE_MAX) {
            return fg_err_set(r->err, FG_E_OUT_OF_RANGE, r->path,
                              "Invalid value for '%s': expected at most %d "
                              "bytes, got %zu.", r->path, RESP_VALUE_MAX,
                              fg_jdoc_str_len(doc, k + 1));
        }
        resp_pop(r, mark);
    }
    return FG_OK;
}

/* "include": known names only; none changes what chat is asked. */
static int
resp_include(resp_t *r, const fg_jdoc_t *doc)
{
    int    inc, e;
    size_t i = 0, mark;

    if (resp_optional(r, doc, 0, "include", FG_JARRAY, &inc) != FG_OK) {
        return FG_ERR;
    }
    if (inc == FG_JNONE) {
        return FG_OK;
    }
    for (e = fg_jdoc_first(doc, inc); e != FG_JNONE;
         e = fg_jdoc_next(doc, inc, e), i++) {
        mark = resp_push(r, "include[%zu]", i);
        if (fg_jdoc_type(doc, e) != FG_JSTRING) {
            return resp_err_type(r, "a string", doc, e);
        }
        if (!resp_one_of(doc, e, resp_includes)) {
            return resp_err_value(r, "a name OpenAI documents for 'include' "
                                  "(e.g. 'message.output_text.logprobs')",
                                  doc, e);
        }
        resp_pop(r, mark);
    }
    return FG_OK;
}

/* "stream_options": {"include_obfuscation"?}; the pipeline asks chat for
 * usage itself. */
static int
resp_stream_options(resp_t *r, const fg_jdoc_t *doc)
{
    static const char *const keys[] = { "include_obfuscation", NULL };
    int    so, value;
    size_t mark;

    if (resp_optional(r, doc, 0, "stream_options", FG_JOBJECT, &so)
        != FG_OK) {
        return FG_ERR;
    }
    if (so == FG_JNONE) {
        return FG_OK;
    }
    mark = resp_push(r, "stream_options");
    if (resp_only(r, doc, so, keys) != FG_OK
        || resp_optional(r, doc, so, "include_obfuscation", FG_JTRUE, &value)
           != FG_OK) {
        return FG_ERR;
    }
    resp_pop(r, mark);
    return FG_OK;
}

/* "background": false, or a 400 (nothing runs after the reply). */
static int
resp_background(resp_t *r, const fg_jdoc_t *doc)
{
    int bg;

    if (resp_optional(r, doc, 0, "background", FG_JTRUE, &bg) != FG_OK) {
        return FG_ERR;
    }
    if (fg_jdoc_type(doc, bg) == FG_JTRUE) {
        resp_push(r, "background");
        return resp_err_unsupported(r, "the gateway answers every response "
                                    "while the request is open; background "
                                    "responses are not offered");
    }
    return FG_OK;
}

/* Step 3: instructions, the stored conversation, the input. */
static int
resp_conversation(resp_t *r, const fg_jdoc_t *doc)
{
    int    instr, prev, input;
    size_t mark;

    if (resp_optional(r, doc, 0, "instructions", FG_JSTRING, &instr)
        != FG_OK
        || resp_optional(r, doc, 0, "previous_response_id", FG_JSTRING,
                         &prev) != FG_OK) {
        return FG_ERR;
    }
    if (instr != FG_JNONE) {
        resp_begin_message(r, "system");
        resp_raw(r->msgs, doc, instr);
        resp_close(r);
    }
    if (prev != FG_JNONE) {
        mark = resp_push(r, "previous_response_id");
        if (resp_stored(r, doc, prev, 1) != FG_OK) {
            return FG_ERR;
        }
        resp_pop(r, mark);
    }

    input = fg_jdoc_value(doc, 0, "input");
    mark = resp_push(r, "input");
    if (fg_jdoc_type(doc, input) == FG_JSTRING) {
        resp_begin_message(r, "user");
        resp_raw(r->msgs, doc, input);
        resp_close(r);
        if (r->context != NULL) {
            if (evbuffer_get_length(r->context) > 0) {
                RESP_ADD(r->context, ",");
            }
            RESP_ADD(r->context, "{\"type\":\"message\",\"role\":\"user\","
                     "\"content\":");
            resp_raw(r->context, doc, input);
            RESP_ADD(r->context, "}");
        }
    } else if (input != FG_JNONE) {
        if (fg_jdoc_type(doc, input) != FG_JARRAY) {
            return resp_err_type(r, "a string or an array of items", doc,
                                 input);
        }
        if (doc->nodes[input].count > FG_RESPONSES_ITEMS_MAX) {
            return fg_err_set(r->err, FG_E_OUT_OF_RANGE, r->path,
                              "Invalid value for 'input': expected at most "
                              "%d items, got %u.", FG_RESPONSES_ITEMS_MAX,
                              doc->nodes[input].count);
        }
        if (resp_items(r, doc, input, 0) != FG_OK) {
            return FG_ERR;
        }
    }
    resp_close(r);
    if (r->n_msgs == 0) {
        return fg_err_set(r->err, FG_E_REQUIRED_FIELD, "input",
                          "Missing required parameter: 'input' (or a "
                          "'previous_response_id' whose conversation has "
                          "messages) must give the model something to "
                          "answer.");
    }
    resp_pop(r, mark);
    return FG_OK;
}

/* The items of array @arr, each at path "[i]" below the current one. */
static int
resp_items(resp_t *r, const fg_jdoc_t *doc, int arr, int depth)
{
    int    item;
    size_t i = 0, mark;

    for (item = fg_jdoc_first(doc, arr); item != FG_JNONE;
         item = fg_jdoc_next(doc, arr, item), i++) {
        mark = resp_push(r, "[%zu]", i);
        if (resp_item(r, doc, item, depth) != FG_OK) {
            return FG_ERR;
        }
        resp_pop(r, mark);
    }
    return FG_OK;
}

/*
 * One input item. "type" may be left out of a message ({"role",
 * "content"}) and of an item reference ({"id"}), as OpenAI allows.
 */
static int
resp_item(resp_t *r, const fg_jdoc_t *doc, int item, int depth)
{
    int type, rc;

    if (fg_jdoc_type(doc, item) != FG_JOBJECT) {
        return resp_err_type(r, "an object", doc, item);
    }
    if (resp_optional(r, doc, item, "type", FG_JSTRING, &type) != FG_OK) {
        return FG_ERR;
    }
    if (type == FG_JNONE) {
        if (fg_jdoc_value(doc, item, "role") == FG_JNONE
            && fg_jdoc_value(doc, item, "id") != FG_JNONE) {
            return resp_reference(r, doc, item, depth);
        }
        rc = resp_message(r, doc, item);
    } else if (fg_jdoc_str_eq(doc, type, "message")) {
        rc = resp_message(r, doc, item);
    } else if (fg_jdoc_str_eq(doc, type, "function_call")) {
        rc = resp_function_call(r, doc, item);
    } else if (fg_jdoc_str_eq(doc, type, "function_call_output")) {
        rc = resp_function_output(r, doc, item);
    } else if (fg_jdoc_str_eq(doc, type, "reasoning")) {
        /* Chat has no field to give a model its earlier reasoning back;
         * the turn stays open for the calls that follow it. It is kept
         * for the store: a provider that speaks Responses takes it. */
        rc = FG_OK;
    } else if (fg_jdoc_str_eq(doc, type, "item_reference")) {
        return resp_reference(r, doc, item, depth);
    } else {
        resp_push(r, ".type");
        return resp_err_unsupported(r, "the gateway translates message, "
                                    "function_call, function_call_output, "
                                    "reasoning and item_reference items; "
                                    "built-in tool items are not offered");
    }
    if (rc == FG_OK) {
        resp_keep(r, doc, item);
    }
    return rc;
}

/*
 * Keeps @item, as its raw text, for the conversation a stored response
 * continues (fg_responses_to_chat's @context). References are kept as
 * the items they resolved to, so a stored conversation never depends on
 * another record outliving it.
 */
static void
resp_keep(resp_t *r, const fg_jdoc_t *doc, int item)
{
    if (r->context == NULL) {
        return;
    }
    if (evbuffer_get_length(r->context) > 0) {
        RESP_ADD(r->context, ",");
    }
    resp_raw(r->context, doc, item);
}

/* A message item: {"role", "content"}. */
static int
resp_message(resp_t *r, const fg_jdoc_t *doc, int item)
{
    int    role;
    char   name[16];

    if (resp_require(r, doc, item, "role", FG_JSTRING, &role) != FG_OK) {
        return FG_ERR;
    }
    if (!resp_one_of(doc, role, resp_roles)) {
        resp_push(r, ".role");
        return resp_err_value(r, "one of 'user', 'assistant', 'system' or "
                              "'developer'", doc, role);
    }
    fg_jdoc_str_copy(doc, role, name, sizeof(name));
    if (resp_begin_with(r, doc, item, "content", name,
                        strcmp(name, "user") == 0 ? RESP_PARTS_USER
                                                  : RESP_PARTS_OTHER)
        != FG_OK) {
        return FG_ERR;
    }
    /* An assistant's turn stays open: its tool calls may follow. */
    if (strcmp(name, "assistant") == 0) {
        r->open = RESP_OPEN_ASSISTANT;
    } else {
        resp_close(r);
    }
    return FG_OK;
}

/*
 * Starts a message of @role whose content is member @key of @item: a
 * string, or content parts (resp_content). The message is left open.
 */
static int
resp_begin_with(resp_t *r, const fg_jdoc_t *doc, int item, const char *key,
                const char *role, resp_parts_t parts)
{
    int    content = fg_jdoc_value(doc, item, key);
    size_t mark = resp_push(r, ".%s", key);

    if (content == FG_JNONE) {
        return resp_err_required(r);
    }
    if (fg_jdoc_type(doc, content) != FG_JSTRING
        && fg_jdoc_type(doc, content) != FG_JARRAY) {
        return resp_err_type(r, "a string or an array of content parts",
                             doc, content);
    }
    resp_begin_message(r, role);
    if (fg_jdoc_type(doc, content) == FG_JSTRING) {
        resp_raw(r->msgs, doc, content);
    } else if (resp_content(r, doc, content, parts) != FG_OK) {
        return FG_ERR;
    }
    resp_pop(r, mark);
    return FG_OK;
}

/*
 * The array of content parts @content (the path on it) of a message or a
 * function's output: one text part is written as a string, anything else
 * as chat's array of parts.
 */
static int
resp_content(resp_t *r, const fg_jdoc_t *doc, int content,
             resp_parts_t parts)
{
    int         part;
    size_t      i = 0, mark;
    resp_part_t p;

    if (doc->nodes[content].count == 0) {
        return fg_err_set(r->err, FG_E_OUT_OF_RANGE, r->path,
                          "Invalid value for '%s': expected at least one "
                          "content part, got an empty array.", r->path);
    }
    if (doc->nodes[content].count > 1) {
        RESP_ADD(r->msgs, "[");
    }
    for (part = fg_jdoc_first(doc, content); part != FG_JNONE;
         part = fg_jdoc_next(doc, content, part), i++) {
        mark = resp_push(r, "[%zu]", i);
        if (resp_part(r, doc, part, parts != RESP_PARTS_OTHER, &p)
            != FG_OK) {
            return FG_ERR;
        }
        if (parts == RESP_PARTS_TOOL && p.text == FG_JNONE) {
            resp_push(r, ".type");
            return resp_err_unsupported(r, "a function's output reaches "
                                        "chat as text only");
        }
        if (doc->nodes[content].count == 1) {
            if (p.text != FG_JNONE) {
                resp_raw(r->msgs, doc, p.text);
                resp_pop(r, mark);
                return FG_OK;
            }
            RESP_ADD(r->msgs, "[");
        } else if (i > 0) {
            RESP_ADD(r->msgs, ",");
        }
        resp_part_write(r, doc, &p);
        resp_pop(r, mark);
    }
    RESP_ADD(r->msgs, "]");
    return FG_OK;
}

/* One content part at the path, checked into @p. */
static int
resp_part(resp_t *r, const fg_jdoc_t *doc, int part, int is_user,
          resp_part_t *p)
{
    int type, value;

    p->text = p->url = p->detail = FG_JNONE;
    if (fg_jdoc_type(doc, part) != FG_JOBJECT) {
        return resp_err_type(r, "an object", doc, part);
    }
    if (resp_require(r, doc, part, "type", FG_JSTRING, &type) != FG_OK) {
        return FG_ERR;
    }
    if (fg_jdoc_str_eq(doc, type, "input_text")
        || fg_jdoc_str_eq(doc, type, "output_text")) {
        return resp_require(r, doc, part, "text", FG_JSTRING, &p->text);
    }
    if (fg_jdoc_str_eq(doc, type, "refusal")) {
        return resp_require(r, doc, part, "refusal", FG_JSTRING, &p->text);
    }
    if (fg_jdoc_str_eq(doc, type, "input_image")) {
        if (!is_user) {
            resp_push(r, ".type");
            return resp_err_value(r, "a text part: chat takes images in "
                                  "user messages only", doc, type);
        }
        if (resp_optional(r, doc, part, "file_id", FG_JSTRING, &value)
            != FG_OK) {
            return FG_ERR;
        }
        if (value != FG_JNONE) {
            resp_push(r, ".file_id");
            return resp_err_unsupported(r, "the gateway keeps no files; "
                                        "give the image as 'image_url' (a "
                                        "URL or a data URL)");
        }
        if (resp_require(r, doc, part, "image_url", FG_JSTRING, &p->url)
            != FG_OK
            || resp_optional(r, doc, part, "detail", FG_JSTRING, &p->detail)
               != FG_OK) {
            return FG_ERR;
        }
        if (p->detail != FG_JNONE && !resp_one_of(doc, p->detail,
                                                  resp_details)) {
            resp_push(r, ".detail");
            return resp_err_value(r, "one of 'low', 'high' or 'auto'", doc,
                                  p->detail);
        }
        return FG_OK;
    }
    resp_push(r, ".type");
    if (fg_jdoc_str_eq(doc, type, "input_file")
        || fg_jdoc_str_eq(doc, type, "input_audio")) {
        return resp_err_unsupported(r, "the gateway translates text and "
                                    "image parts only");
    }
    return resp_err_value(r, "one of 'input_text', 'input_image', "
                          "'output_text' or 'refusal'", doc, type);
}

static void
resp_part_write(resp_t *r, const fg_jdoc_t *doc, const resp_part_t *p)
{
    if (p->text != FG_JNONE) {
        RESP_ADD(r->msgs, "{\"type\":\"text\",\"text\":");
        resp_raw(r->msgs, doc, p->text);
        RESP_ADD(r->msgs, "}");
        return;
    }
    RESP_ADD(r->msgs, "{\"type\":\"image_url\",\"image_url\":{\"url\":");
    resp_raw(r->msgs, doc, p->url);
    resp_member(r->msgs, "detail", doc, p->detail);
    RESP_ADD(r->msgs, "}}");
}

/* A function_call item: a tool call of the assistant's open turn. */
static int
resp_function_call(resp_t *r, const fg_jdoc_t *doc, int item)
{
    int call_id, name, args;

    if (resp_require(r, doc, item, "call_id", FG_JSTRING, &call_id) != FG_OK
        || resp_require(r, doc, item, "name", FG_JSTRING, &name) != FG_OK
        || resp_require(r, doc, item, "arguments", FG_JSTRING, &args)
           != FG_OK) {
        return FG_ERR;
    }
    switch (r->open) {
    case RESP_OPEN_NONE:
    case RESP_OPEN_MESSAGE:
        resp_begin_message(r, "assistant");
        RESP_ADD(r->msgs, "null,\"tool_calls\":[");
        break;
    case RESP_OPEN_ASSISTANT:
        RESP_ADD(r->msgs, ",\"tool_calls\":[");
        break;
    case RESP_OPEN_CALLS:
        RESP_ADD(r->msgs, ",");
        break;
    }
    r->open = RESP_OPEN_CALLS;
    RESP_ADD(r->msgs, "{\"id\":");
    resp_raw(r->msgs, doc, call_id);
    RESP_ADD(r->msgs, ",\"type\":\"function\",\"function\":{\"name\":");
    resp_raw(r->msgs, doc, name);
    RESP_ADD(r->msgs, ",\"arguments\":");
    resp_raw(r->msgs, doc, args);
    RESP_ADD(r->msgs, "}}");
    return FG_OK;
}

/* A function_call_output item: a tool message. "output" is a string or
 * text parts (chat's tool messages carry no images or files). */
static int
resp_function_output(resp_t *r, const fg_jdoc_t *doc, int item)
{
    int call_id;

    if (resp_require(r, doc, item, "call_id", FG_JSTRING, &call_id) != FG_OK
        || resp_begin_with(r, doc, item, "output", "tool", RESP_PARTS_TOOL)
           != FG_OK) {
        return FG_ERR;
    }
    RESP_ADD(r->msgs, ",\"tool_call_id\":");
    resp_raw(r->msgs, doc, call_id);
    resp_close(r);
    return FG_OK;
}

/* An item_reference (@item, the path on it): the stored item(s) its
 * "id" names. */
static int
resp_reference(resp_t *r, const fg_jdoc_t *doc, int item, int depth)
{
    int    id;
    size_t mark;

    if (resp_require(r, doc, item, "id", FG_JSTRING, &id) != FG_OK) {
        return FG_ERR;
    }
    mark = resp_push(r, ".id");
    if (depth >= FG_RESPONSES_REF_DEPTH_MAX) {
        return fg_err_set(r->err, FG_E_INVALID_VALUE, r->path,
                          "Invalid value for '%s': stored items refer to "
                          "other stored items more than %d levels deep.",
                          r->path, FG_RESPONSES_REF_DEPTH_MAX);
    }
    if (resp_stored(r, doc, id, depth + 1) != FG_OK) {
        return FG_ERR;
    }
    resp_pop(r, mark);
    return FG_OK;
}

/*
 * The items stored under the id string @id_node names, translated in
 * place: the path names the member that gave the id, and every error
 * inside the stored items is reported there. @depth counts the lookups
 * that led here (1 for the request's own).
 */
static int
resp_stored(resp_t *r, const fg_jdoc_t *doc, int id_node, int depth)
{
    fg_jdoc_t stored;
    fg_err_t  inner;
    char     *id, *json = NULL;
    size_t    id_len = fg_jdoc_str_len(doc, id_node), json_len = 0;
    char      quoted[RESP_QUOTE_MAX + 1], at[FG_ERR_PARAM_MAX];
    fg_err_t *outer = r->err;
    int       rc;

    if (id_len == 0) {
        return resp_err_value(r, "the id of a stored response or item", doc,
                              id_node);
    }
    resp_quote(doc, id_node, quoted, sizeof(quoted));
    id = fg_jdoc_str_dup(doc, id_node);
    if (id == NULL) {
        return fg_err_set(r->err, FG_E_INTERNAL, NULL, "out of memory");
    }
    rc = r->lookup != NULL
         ? r->lookup(r->lookup_arg, id, id_len, &json, &json_len) : FG_ERR;
    free(id);
    if (rc != FG_OK) {
        return fg_err_set(r->err, FG_E_INVALID_VALUE, r->path,
                          "Invalid value for '%s': no stored response or "
                          "item has the id '%s' (it may have expired, or "
                          "been created with store: false).", r->path,
                          quoted);
    }
    if (json_len > FG_RESPONSES_STORED_BYTES_MAX - r->stored_bytes) {
        free(json);
        return fg_err_set(r->err, FG_E_OUT_OF_RANGE, r->path,
                          "Invalid value for '%s': the stored items this "
                          "request names come to more than %u bytes.",
                          r->path, FG_RESPONSES_STORED_BYTES_MAX);
    }
    r->stored_bytes += json_len;
    if (fg_jdoc_parse(&stored, json, json_len, r->max_depth + 4, &inner)
        != FG_OK) {
        free(json);
        return fg_err_set(r->err, FG_E_INTERNAL, r->path,
                          "The stored items of '%s' cannot be read: %s",
                          quoted, inner.msg);
    }
    if (fg_jdoc_type(&stored, 0) != FG_JARRAY) {
        fg_jdoc_free(&stored);
        free(json);
        return fg_err_set(r->err, FG_E_INTERNAL, r->path,
                          "The stored items of '%s' are not an array.",
                          quoted);
    }
    /* Inside, paths are "stored[i]..."; an error is then moved to the
     * member that named the items. */
    snprintf(at, sizeof(at), "%s", r->path);
    resp_pop(r, 0);
    resp_push(r, "stored");
    r->err = &inner;
    rc = resp_items(r, &stored, 0, depth);
    r->err = outer;
    resp_pop(r, 0);
    resp_push(r, "%s", at);
    fg_jdoc_free(&stored);
    free(json);
    if (rc != FG_OK) {
        if (inner.code == FG_E_INTERNAL) {
            return fg_err_set(r->err, inner.code, at, "%s", inner.msg);
        }
        return fg_err_set(r->err, inner.code, at,
                          "The stored items of '%s' cannot be used: %s",
                          quoted, inner.msg);
    }
    return FG_OK;
}

/* The raw text of top-level member @key into *@p, *@len (absent or null:
 * left NULL, 0). */
static void
resp_span(const fg_jdoc_t *doc, const char *key, const char **p,
          size_t *len)
{
    int node = fg_jdoc_value(doc, 0, key);

    if (node != FG_JNONE) {
        *p = doc->buf + doc->nodes[node].start;
        *len = doc->nodes[node].len;
    }
}

/* The number at top-level member @key into *@d, *@has (absent or null:
 * left 0). */
static void
resp_number(const fg_jdoc_t *doc, const char *key, double *d, int *has)
{
    int node = fg_jdoc_value(doc, 0, key);

    if (node != FG_JNONE) {
        *has = 1;
        *d = fg_jdoc_type(doc, node) == FG_JINT
             ? (double) doc->nodes[node].num.i : doc->nodes[node].num.d;
    }
}

/* Only after every check passed: what the reply echoes. */
static void
resp_fill(const fg_jdoc_t *doc, fg_responses_req_t *out)
{
    int node;

    memset(out, 0, sizeof(*out));
    resp_span(doc, "instructions", &out->instructions,
              &out->instructions_len);
    resp_span(doc, "tools", &out->tools, &out->tools_len);
    resp_span(doc, "tool_choice", &out->tool_choice, &out->tool_choice_len);
    resp_span(doc, "text", &out->text, &out->text_len);
    resp_span(doc, "reasoning", &out->reasoning, &out->reasoning_len);
    resp_span(doc, "metadata", &out->metadata, &out->metadata_len);
    resp_span(doc, "previous_response_id", &out->previous_response_id,
              &out->previous_response_id_len);
    resp_span(doc, "user", &out->user, &out->user_len);
    resp_number(doc, "temperature", &out->temperature,
                &out->has_temperature);
    resp_number(doc, "top_p", &out->top_p, &out->has_top_p);
    out->is_stream = fg_jdoc_type(doc, fg_jdoc_get(doc, 0, "stream"))
                     == FG_JTRUE;
    out->store = fg_jdoc_type(doc, fg_jdoc_get(doc, 0, "store"))
                 != FG_JFALSE;
    out->parallel_tool_calls =
        fg_jdoc_type(doc, fg_jdoc_get(doc, 0, "parallel_tool_calls"))
        != FG_JFALSE;
    node = fg_jdoc_value(doc, 0, "max_output_tokens");
    if (node != FG_JNONE) {
        out->max_output_tokens = doc->nodes[node].num.i;
    }
}

/* Starts a message of @role in the messages array, its content to be
 * written next and resp_close() to end it; whatever was open is closed
 * first. */
static void
resp_begin_message(resp_t *r, const char *role)
{
    resp_close(r);
    if (r->n_msgs++ > 0) {
        RESP_ADD(r->msgs, ",");
    }
    evbuffer_add_printf(r->msgs, "{\"role\":\"%s\",\"content\":", role);
    r->open = RESP_OPEN_MESSAGE;
}

/* Closes the message being written, if any. */
static void
resp_close(resp_t *r)
{
    switch (r->open) {
    case RESP_OPEN_CALLS:
        RESP_ADD(r->msgs, "]}");
        break;
    case RESP_OPEN_MESSAGE:
    case RESP_OPEN_ASSISTANT:
        RESP_ADD(r->msgs, "}");
        break;
    case RESP_OPEN_NONE:
        break;
    }
    r->open = RESP_OPEN_NONE;
}

static void
resp_raw(struct evbuffer *o, const fg_jdoc_t *doc, int node)
{
    evbuffer_add(o, doc->buf + doc->nodes[node].start, doc->nodes[node].len);
}

/* ,"name":<raw value of @node>; nothing when @node is FG_JNONE. */
static void
resp_member(struct evbuffer *o, const char *name, const fg_jdoc_t *doc,
            int node)
{
    if (node != FG_JNONE) {
        evbuffer_add_printf(o, ",\"%s\":", name);
        resp_raw(o, doc, node);
    }
}

static int
resp_one_of(const fg_jdoc_t *doc, int s, const char *const *set)
{
    size_t i;

    for (i = 0; set[i] != NULL; i++) {
        if (fg_jdoc_str_eq(doc, s, set[i])) {
            return 1;
        }
    }
    return 0;
}

/* ^[a-zA-Z0-9_-]{1,64}$, as OpenAI names functions and schemas. The raw
 * text is read: an escape is never one of the allowed bytes, and the
 * closing quote stops strspn() inside the body. */
static int
resp_name_ok(const fg_jdoc_t *doc, int s)
{
    static const char allowed[] = "abcdefghijklmnopqrstuvwxyz"
                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
    size_t len = doc->nodes[s].len - 2;

    return len >= 1 && len <= RESP_NAME_MAX
           && strspn(doc->buf + doc->nodes[s].start + 1, allowed) == len;
}

/* The required member @key of @obj, of @type, into *@value: missing or
 * null is FG_E_REQUIRED_FIELD, another type FG_E_INVALID_TYPE. */
static int
resp_require(resp_t *r, const fg_jdoc_t *doc, int obj, const char *key,
             fg_jtype_t type, int *value)
{
    if (resp_optional(r, doc, obj, key, type, value) != FG_OK) {
        return FG_ERR;
    }
    if (*value == FG_JNONE) {
        resp_push(r, r->len > 0 ? ".%s" : "%s", key);
        return resp_err_required(r);
    }
    return FG_OK;
}

/* The optional member @key of @obj into *@value (FG_JNONE when absent or
 * null); of @type (FG_JTRUE: a boolean) or FG_E_INVALID_TYPE. */
static int
resp_optional(resp_t *r, const fg_jdoc_t *doc, int obj, const char *key,
              fg_jtype_t type, int *value)
{
    int        node = fg_jdoc_value(doc, obj, key);
    fg_jtype_t got = fg_jdoc_type(doc, node);

    *value = node;
    if (node == FG_JNONE || got == type
        || (type == FG_JTRUE && got == FG_JFALSE)) {
        return FG_OK;
    }
    resp_push(r, r->len > 0 ? ".%s" : "%s", key);
    return resp_err_type(r, type == FG_JOBJECT ? "an object"
                            : type == FG_JARRAY ? "an array"
                            : type == FG_JTRUE ? "a boolean" : "a string",
                         doc, node);
}

/* Every member of @obj is one of @keys (NULL-terminated), or a 400 naming
 * the first that is not. */
static int
resp_only(resp_t *r, const fg_jdoc_t *doc, int obj, const char *const *keys)
{
    int  k;
    char key[RESP_QUOTE_MAX + 1];

    for (k = fg_jdoc_first(doc, obj); k != FG_JNONE;
         k = fg_jdoc_next(doc, obj, k)) {
        if (!resp_one_of(doc, k, keys)) {
            resp_quote(doc, k, key, sizeof(key));
            resp_push(r, ".%s", key);
            return fg_err_set(r->err, FG_E_UNSUPPORTED_PARAMETER, r->path,
                              "Unknown parameter: '%s'.", r->path);
        }
    }
    return FG_OK;
}

/* Appends to the path (cut, never overflowed); returns the length to go
 * back to. */
static size_t
resp_push(resp_t *r, const char *fmt, ...)
{
    size_t  mark = r->len;
    va_list ap;
    int     n;

    va_start(ap, fmt);
    n = vsnprintf(r->path + r->len, sizeof(r->path) - r->len, fmt, ap);
    va_end(ap);
    if (n > 0) {
        r->len += (size_t) n;
        if (r->len >= sizeof(r->path)) {
            r->len = sizeof(r->path) - 1;
        }
    }
    return mark;
}

static void
resp_pop(resp_t *r, size_t mark)
{
    r->len = mark;
    r->path[mark] = '\0';
}

/* String node @s for a message: at most RESP_QUOTE_MAX bytes, printable
 * ASCII (fg_json_clip). @size is RESP_QUOTE_MAX + 1. */
static void
resp_quote(const fg_jdoc_t *doc, int s, char *dst, size_t size)
{
    char   copy[RESP_QUOTE_MAX + 2];
    size_t n = fg_jdoc_str_copy(doc, s, copy, sizeof(copy));

    fg_json_clip(dst, size, copy, n < sizeof(copy) ? n : sizeof(copy));
}

static const char *
resp_describe(const fg_jdoc_t *doc, int node)
{
    static const char *const names[] = {
        [FG_JNULL] = "null", [FG_JFALSE] = "a boolean",
        [FG_JTRUE] = "a boolean", [FG_JINT] = "an integer",
        [FG_JREAL] = "a decimal number", [FG_JSTRING] = "a string",
        [FG_JARRAY] = "an array", [FG_JOBJECT] = "an object",
    };

    return names[fg_jdoc_type(doc, node)];
}

static int
resp_err_required(resp_t *r)
{
    return fg_err_set(r->err, FG_E_REQUIRED_FIELD, r->path,
                      "Missing required parameter: '%s'.", r->path);
}

static int
resp_err_type(resp_t *r, const char *expected, const fg_jdoc_t *doc,
              int got)
{
    return fg_err_set(r->err, FG_E_INVALID_TYPE, r->path,
                      "Invalid type for '%s': expected %s, got %s.", r->path,
                      expected, resp_describe(doc, got));
}

static int
resp_err_value(resp_t *r, const char *expected, const fg_jdoc_t *doc,
               int got)
{
    char quoted[RESP_QUOTE_MAX + 1];

    if (fg_jdoc_type(doc, got) != FG_JSTRING) {
        return fg_err_set(r->err, FG_E_INVALID_VALUE, r->path,
                          "Invalid value for '%s': expected %s, got %s.",
                          r->path, expected, resp_describe(doc, got));
    }
    resp_quote(doc, got, quoted, sizeof(quoted));
    return fg_err_set(r->err, FG_E_INVALID_VALUE, r->path,
                      "Invalid value for '%s': expected %s, got '%s'.",
                      r->path, expected, quoted);
}

static int
resp_err_unsupported(resp_t *r, const char *why)
{
    return fg_err_set(r->err, FG_E_UNSUPPORTED_PARAMETER, r->path,
                      "Unsupported parameter: '%s': %s.", r->path, why);
}
