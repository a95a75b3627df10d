/*
 * validate.c: validation of a POST /v1/chat/completions body.
 *
 * A body goes through three gates, in order, and the first failure is the
 * answer:
 *   1) bytes to JSON (common/json): empty body, nesting deeper than the
 *      configured limit (pre-scanned, before jansson recurses), duplicate
 *      keys anywhere (so the price and the upstream can never see two
 *      different "model" or "max_tokens"), invalid JSON, UTF-8 or \u0000;
 *   2) routing fields: api_base, base_url, api_key and their kin, at top
 *      level or inside extra_body, are refused. The gateway alone decides
 *      where its provider credentials go (reliability.md 3.7, SSRF);
 *   3) the OpenAI schema for the fields the gateway knows: model and
 *      messages (required), then every optional field in a fixed order.
 *      Simple scalars are one table, validate_scalars[], in the manner of
 *      conf_table[]; the structured fields have a function each.
 *
 * An error names the field by its JSON path ("messages[0].content[1].
 * image_url.url") in param, and its message says what was expected and
 * what came, quoting at most VALIDATE_QUOTE_MAX bytes of client input,
 * cut on a UTF-8 boundary with control bytes replaced, so the rendered
 * error is always valid JSON and safe in a log line.
 *
 * null counts as absent: an optional field set to null is accepted (and
 * forwarded, as OpenAI accepts it), a required one set to null is missing.
 *
 * Deliberately not done: nothing is removed, renamed or defaulted (the
 * object goes upstream as sent; the admit stage may lower max_tokens);
 * unknown fields, provider extensions (top_k, min_p, ...) and unknown
 * content-part types pass untouched; no check depends on the model or the
 * provider (route and admit know the model's limits); no recursion into
 * client-chosen depth (tool parameter schemas are only checked to be
 * objects).
 */

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/errors.h"
#include "common/json.h"
#include "worker/validate.h"

#define VALIDATE_QUOTE_MAX 64   /* bytes of client input an error quotes */
#define VALIDATE_STOP_MAX  4

typedef enum {
    VALIDATE_NUMBER,    /* integer or real, finite, within [lo, hi] */
    VALIDATE_INTEGER,   /* integer (never a real), within [min, max] */
    VALIDATE_BOOLEAN,
    VALIDATE_STRING
} validate_kind_t;

typedef struct {
    const char      *key;
    validate_kind_t  kind;
    double           lo, hi;        /* VALIDATE_NUMBER */
    long long        min, max;      /* VALIDATE_INTEGER */
} validate_scalar_t;

#define VALIDATE_NUM(k, l, h)  { k, VALIDATE_NUMBER, l, h, 0, 0 }
#define VALIDATE_INT(k, l, h)  { k, VALIDATE_INTEGER, 0, 0, l, h }
#define VALIDATE_BOOL(k)       { k, VALIDATE_BOOLEAN, 0, 0, 0, 0 }
#define VALIDATE_STR(k)        { k, VALIDATE_STRING, 0, 0, 0, 0 }

static const validate_scalar_t validate_scalars[] = {
    VALIDATE_NUM("temperature", 0, 2),
    VALIDATE_NUM("top_p", 0, 1),
    VALIDATE_INT("n", 1, FG_VALIDATE_N_MAX),
    VALIDATE_INT("max_tokens", 1, FG_VALIDATE_MAX_TOKENS_MAX),
    VALIDATE_INT("max_completion_tokens", 1, FG_VALIDATE_MAX_TOKENS_MAX),
    VALIDATE_NUM("presence_penalty", -2, 2),
    VALIDATE_NUM("frequency_penalty", -2, 2),
    VALIDATE_BOOL("logprobs"),
    VALIDATE_INT("top_logprobs", 0, 20),
    VALIDATE_INT("seed", LLONG_MIN, LLONG_MAX),
    VALIDATE_BOOL("stream"),
    VALIDATE_STR("user"),
    VALIDATE_BOOL("parallel_tool_calls"),
    VALIDATE_STR("reasoning_effort"),
};

/*
 * Fields that would let a tenant choose where the server's provider
 * credentials are sent, or with which credentials (LiteLLM-style
 * per-request overrides). Compared case-insensitively.
 */
static const char *const validate_forbidden_keys[] = {
    "api_base", "base_url", "api_url", "api_host", "api_key", "api_version",
    "endpoint", "azure_endpoint", "custom_llm_provider", "extra_headers",
    "extra_query", "provider_url",
};

static const char *const validate_roles[] = {
    "system", "developer", "user", "assistant", "tool",
};

static int validate_forbidden(json_t *obj, const char *base,
                              fg_err_t *err);
static int validate_model(const json_t *root, fg_err_t *err);
static int validate_messages(const json_t *root, fg_err_t *err);
static int validate_message(const json_t *msg, const char *path,
                            fg_err_t *err);
static int validate_content(const json_t *content, const char *path,
                            fg_err_t *err);
static int validate_part(const json_t *part, const char *path,
                         fg_err_t *err);
static int validate_scalar(const json_t *root, const validate_scalar_t *s,
                           fg_err_t *err);
static int validate_stop(const json_t *root, fg_err_t *err);
static int validate_response_format(const json_t *root, fg_err_t *err);
static int validate_tools(const json_t *root, fg_err_t *err);
static int validate_tool_choice(const json_t *root, fg_err_t *err);
static int validate_stream_options(const json_t *root, fg_err_t *err);
static int validate_logit_bias(const json_t *root, fg_err_t *err);
static void validate_fill(const json_t *root, fg_chat_request_t *out);

static json_t *validate_get(const json_t *obj, const char *key);
static int validate_require(const json_t *obj, const char *key,
                            json_type type, const char *path,
                            json_t **value, fg_err_t *err);
static int validate_one_of(const char *s, const char *const *set,
                           size_t n);
static int validate_function_name(const char *s);
static void validate_path(char *dst, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void validate_quote(char *dst, size_t size, const char *s);
static const char *validate_describe(const json_t *v);
static const char *validate_type_name(json_type type);

static int validate_err_required(fg_err_t *err, const char *path);
static int validate_err_type(fg_err_t *err, const char *path,
                             const char *expected, const json_t *got);
static int validate_err_value(fg_err_t *err, const char *path,
                              const char *expected, const char *got);

#define VALIDATE_COUNT(a) (sizeof(a) / sizeof((a)[0]))

json_t *
fg_validate_chat_body(const char *body, size_t len, size_t max_depth,
                      fg_chat_request_t *out, fg_err_t *err)
{
    json_t *root;
    size_t  i;

    root = fg_json_load_body(body, len, max_depth, err);
    if (root == NULL) {
        return NULL;
    }
    if (!json_is_object(root)) {
        fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                   "The request body must be a JSON object, got %s.",
                   validate_describe(root));
        goto fail;
    }

    /* Routing fields first: they are refused whatever else is wrong. */
    if (validate_forbidden(root, "", err) != FG_OK) {
        goto fail;
    }
    if (validate_model(root, err) != FG_OK
        || validate_messages(root, err) != FG_OK)
    {
        goto fail;
    }
    for (i = 0; i < VALIDATE_COUNT(validate_scalars); i++) {
        if (validate_scalar(root, &validate_scalars[i], err) != FG_OK) {
            goto fail;
        }
    }
    if (validate_stop(root, err) != FG_OK
        || validate_response_format(root, err) != FG_OK
        || validate_tools(root, err) != FG_OK
        || validate_tool_choice(root, err) != FG_OK
        || validate_stream_options(root, err) != FG_OK
        || validate_logit_bias(root, err) != FG_OK)
    {
        goto fail;
    }

    if (out != NULL) {
        validate_fill(root, out);
    }
    return root;

fail:
    json_decref(root);
    return NULL;
}

/*
 * Refuses the routing keys in @obj, and in its "extra_body" object when
 * @obj is the top level (@base ""): OpenAI SDKs merge extra_body into the
 * body, and LiteLLM-style proxies honour it when it arrives as a field.
 */
static int
validate_forbidden(json_t *obj, const char *base, fg_err_t *err)
{
    const char *key;
    json_t     *value, *extra;
    size_t      i;
    char        path[FG_ERR_PARAM_MAX];

    json_object_foreach(obj, key, value) {
        for (i = 0; i < VALIDATE_COUNT(validate_forbidden_keys); i++) {
            if (strcasecmp(key, validate_forbidden_keys[i]) != 0) {
                continue;
            }
            /* @key equals a short ASCII name: safe to quote whole. */
            validate_path(path, sizeof(path), "%s%s%s", base,
                          base[0] ? "." : "", key);
            return fg_err_set(err, FG_E_FORBIDDEN_FIELD, path,
                              "The parameter '%s' is not allowed: the "
                              "gateway chooses the upstream provider, its "
                              "address and its credentials.", path);
        }
    }
    if (base[0] == '\0') {
        extra = json_object_get(obj, "extra_body");
        if (json_is_object(extra)) {
            return validate_forbidden(extra, "extra_body", err);
        }
    }
    return FG_OK;
}

static int
validate_model(const json_t *root, fg_err_t *err)
{
    json_t *model;

    if (validate_require(root, "model", JSON_STRING, "model", &model, err)
        != FG_OK)
    {
        return FG_ERR;
    }
    if (json_string_length(model) == 0) {
        return fg_err_set(err, FG_E_REQUIRED_FIELD, "model",
                          "Missing required parameter: 'model' must be a "
                          "non-empty string naming the model.");
    }
    return FG_OK;
}

static int
validate_messages(const json_t *root, fg_err_t *err)
{
    json_t *messages, *msg;
    size_t  i;
    char    path[FG_ERR_PARAM_MAX];

    if (validate_require(root, "messages", JSON_ARRAY, "messages",
                         &messages, err) != FG_OK)
    {
        return FG_ERR;
    }
    if (json_array_size(messages) == 0) {
        return fg_err_set(err, FG_E_REQUIRED_FIELD, "messages",
                          "Missing required parameter: 'messages' must "
                          "hold at least one message.");
    }
    json_array_foreach(messages, i, msg) {
        validate_path(path, sizeof(path), "messages[%zu]", i);
        if (!json_is_object(msg)) {
            return validate_err_type(err, path, "an object", msg);
        }
        if (validate_message(msg, path, err) != FG_OK) {
            return FG_ERR;
        }
    }
    return FG_OK;
}

/*
 * One message at @path. Content is required except on an assistant
 * message that calls tools (tool_calls, non-empty) or a function
 * (function_call): OpenAI's "required unless tool_calls or function_call
 * is specified".
 */
static int
validate_message(const json_t *msg, const char *path, fg_err_t *err)
{
    json_t     *role, *content, *calls, *call, *id;
    const char *r;
    size_t      i;
    int         calls_tools = 0;
    char        sub[FG_ERR_PARAM_MAX], item[FG_ERR_PARAM_MAX];

    validate_path(sub, sizeof(sub), "%s.role", path);
    if (validate_require(msg, "role", JSON_STRING, sub, &role, err)
        != FG_OK)
    {
        return FG_ERR;
    }
    r = json_string_value(role);
    if (!validate_one_of(r, validate_roles, VALIDATE_COUNT(validate_roles))) {
        return validate_err_value(err, sub, "one of system, developer, "
                                  "user, assistant or tool", r);
    }

    if (strcmp(r, "assistant") == 0) {
        calls = validate_get(msg, "tool_calls");
        if (calls != NULL) {
            validate_path(sub, sizeof(sub), "%s.tool_calls", path);
            if (!json_is_array(calls)) {
                return validate_err_type(err, sub, "an array", calls);
            }
            json_array_foreach(calls, i, call) {
                if (!json_is_object(call)) {
                    validate_path(item, sizeof(item), "%s[%zu]", sub, i);
                    return validate_err_type(err, item, "an object", call);
                }
            }
            calls_tools = json_array_size(calls) > 0;
        }
        call = validate_get(msg, "function_call");
        if (call != NULL) {
            validate_path(sub, sizeof(sub), "%s.function_call", path);
            if (!json_is_object(call)) {
                return validate_err_type(err, sub, "an object", call);
            }
            calls_tools = 1;
        }
    }

    if (strcmp(r, "tool") == 0) {
        validate_path(sub, sizeof(sub), "%s.tool_call_id", path);
        if (validate_require(msg, "tool_call_id", JSON_STRING, sub, &id,
                             err) != FG_OK)
        {
            return FG_ERR;
        }
    }

    validate_path(sub, sizeof(sub), "%s.content", path);
    content = validate_get(msg, "content");
    if (content == NULL) {
        return calls_tools ? FG_OK : validate_err_required(err, sub);
    }
    return validate_content(content, sub, err);
}

/* A string, or a non-empty array of typed parts. */
static int
validate_content(const json_t *content, const char *path, fg_err_t *err)
{
    json_t *part;
    size_t  i;
    char    sub[FG_ERR_PARAM_MAX];

    if (json_is_string(content)) {
        return FG_OK;
    }
    if (!json_is_array(content)) {
        return validate_err_type(err, path,
                                 "a string or an array of content parts",
                                 content);
    }
    if (json_array_size(content) == 0) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, path,
                          "Invalid value for '%s': expected at least one "
                          "content part, got an empty array.", path);
    }
    json_array_foreach(content, i, part) {
        validate_path(sub, sizeof(sub), "%s[%zu]", path, i);
        if (!json_is_object(part)) {
            return validate_err_type(err, sub, "an object", part);
        }
        if (validate_part(part, sub, err) != FG_OK) {
            return FG_ERR;
        }
    }
    return FG_OK;
}

/*
 * One content part. The OpenAI types are checked for the members they
 * need; other types (provider extensions such as video_url) pass.
 */
static int
validate_part(const json_t *part, const char *path, fg_err_t *err)
{
    json_t     *type, *obj, *v;
    const char *t;
    char        sub[FG_ERR_PARAM_MAX], leaf[FG_ERR_PARAM_MAX];

    validate_path(sub, sizeof(sub), "%s.type", path);
    if (validate_require(part, "type", JSON_STRING, sub, &type, err)
        != FG_OK)
    {
        return FG_ERR;
    }
    t = json_string_value(type);

    if (strcmp(t, "text") == 0 || strcmp(t, "refusal") == 0) {
        validate_path(sub, sizeof(sub), "%s.%s", path, t);
        return validate_require(part, t, JSON_STRING, sub, &v, err);
    }
    if (strcmp(t, "image_url") == 0) {
        validate_path(sub, sizeof(sub), "%s.image_url", path);
        validate_path(leaf, sizeof(leaf), "%s.url", sub);
        if (validate_require(part, "image_url", JSON_OBJECT, sub, &obj, err)
            != FG_OK)
        {
            return FG_ERR;
        }
        return validate_require(obj, "url", JSON_STRING, leaf, &v, err);
    }
    if (strcmp(t, "input_audio") == 0) {
        validate_path(sub, sizeof(sub), "%s.input_audio", path);
        if (validate_require(part, "input_audio", JSON_OBJECT, sub, &obj,
                             err) != FG_OK)
        {
            return FG_ERR;
        }
        validate_path(leaf, sizeof(leaf), "%s.data", sub);
        if (validate_require(obj, "data", JSON_STRING, leaf, &v, err)
            != FG_OK)
        {
            return FG_ERR;
        }
        validate_path(leaf, sizeof(leaf), "%s.format", sub);
        return validate_require(obj, "format", JSON_STRING, leaf, &v, err);
    }
    if (strcmp(t, "file") == 0) {
        validate_path(sub, sizeof(sub), "%s.file", path);
        return validate_require(part, "file", JSON_OBJECT, sub, &obj, err);
    }
    return FG_OK;
}

/* One row of validate_scalars[]; absent or null passes. */
static int
validate_scalar(const json_t *root, const validate_scalar_t *s,
                fg_err_t *err)
{
    json_t    *v;
    double     d;
    long long  i;

    v = validate_get(root, s->key);
    if (v == NULL) {
        return FG_OK;
    }
    switch (s->kind) {
    case VALIDATE_NUMBER:
        if (!json_is_number(v)) {
            return validate_err_type(err, s->key, "a number", v);
        }
        d = json_number_value(v);
        /* jansson refuses overflowing reals; isfinite() is the backstop. */
        if (!isfinite(d) || d < s->lo || d > s->hi) {
            return fg_err_set(err, FG_E_OUT_OF_RANGE, s->key,
                              "Invalid value for '%s': expected a number "
                              "between %g and %g, got %.10g.", s->key,
                              s->lo, s->hi, d);
        }
        return FG_OK;

    case VALIDATE_INTEGER:
        if (!json_is_integer(v)) {
            return validate_err_type(err, s->key, "an integer", v);
        }
        i = json_integer_value(v);
        if (i < s->min || i > s->max) {
            return fg_err_set(err, FG_E_OUT_OF_RANGE, s->key,
                              "Invalid value for '%s': expected an integer "
                              "between %lld and %lld, got %lld.", s->key,
                              s->min, s->max, i);
        }
        return FG_OK;

    case VALIDATE_BOOLEAN:
        if (!json_is_boolean(v)) {
            return validate_err_type(err, s->key, "a boolean", v);
        }
        return FG_OK;

    case VALIDATE_STRING:
        if (!json_is_string(v)) {
            return validate_err_type(err, s->key, "a string", v);
        }
        return FG_OK;
    }
    return FG_OK;
}

/* A string, or an array of 1..4 strings. */
static int
validate_stop(const json_t *root, fg_err_t *err)
{
    json_t *stop, *s;
    size_t  i, n;
    char    path[FG_ERR_PARAM_MAX];

    stop = validate_get(root, "stop");
    if (stop == NULL || json_is_string(stop)) {
        return FG_OK;
    }
    if (!json_is_array(stop)) {
        return validate_err_type(err, "stop",
                                 "a string or an array of strings", stop);
    }
    n = json_array_size(stop);
    if (n < 1 || n > VALIDATE_STOP_MAX) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, "stop",
                          "Invalid value for 'stop': expected 1 to %d "
                          "strings, got %zu.", VALIDATE_STOP_MAX, n);
    }
    json_array_foreach(stop, i, s) {
        if (!json_is_string(s)) {
            validate_path(path, sizeof(path), "stop[%zu]", i);
            return validate_err_type(err, path, "a string", s);
        }
    }
    return FG_OK;
}

static int
validate_response_format(const json_t *root, fg_err_t *err)
{
    static const char *const types[] = { "text", "json_object",
                                         "json_schema" };
    json_t     *rf, *type, *js, *v;
    const char *t;

    rf = validate_get(root, "response_format");
    if (rf == NULL) {
        return FG_OK;
    }
    if (!json_is_object(rf)) {
        return validate_err_type(err, "response_format", "an object", rf);
    }
    if (validate_require(rf, "type", JSON_STRING, "response_format.type",
                         &type, err) != FG_OK)
    {
        return FG_ERR;
    }
    t = json_string_value(type);
    if (!validate_one_of(t, types, VALIDATE_COUNT(types))) {
        return validate_err_value(err, "response_format.type",
                                  "one of text, json_object or "
                                  "json_schema", t);
    }
    if (strcmp(t, "json_schema") != 0) {
        return FG_OK;
    }
    if (validate_require(rf, "json_schema", JSON_OBJECT,
                         "response_format.json_schema", &js, err) != FG_OK
        || validate_require(js, "name", JSON_STRING,
                            "response_format.json_schema.name", &v, err)
           != FG_OK)
    {
        return FG_ERR;
    }
    /* OpenAI's schema has "schema" optional; when given it is an object. */
    v = validate_get(js, "schema");
    if (v != NULL && !json_is_object(v)) {
        return validate_err_type(err, "response_format.json_schema.schema",
                                 "an object", v);
    }
    return FG_OK;
}

/* An array of {type: "function", function: {name, parameters?}}. */
static int
validate_tools(const json_t *root, fg_err_t *err)
{
    json_t     *tools, *tool, *type, *fn, *name, *params;
    const char *s;
    size_t      i;
    char        path[FG_ERR_PARAM_MAX], sub[FG_ERR_PARAM_MAX];

    tools = validate_get(root, "tools");
    if (tools == NULL) {
        return FG_OK;
    }
    if (!json_is_array(tools)) {
        return validate_err_type(err, "tools", "an array", tools);
    }
    json_array_foreach(tools, i, tool) {
        validate_path(path, sizeof(path), "tools[%zu]", i);
        if (!json_is_object(tool)) {
            return validate_err_type(err, path, "an object", tool);
        }
        validate_path(sub, sizeof(sub), "%s.type", path);
        if (validate_require(tool, "type", JSON_STRING, sub, &type, err)
            != FG_OK)
        {
            return FG_ERR;
        }
        s = json_string_value(type);
        if (strcmp(s, "function") != 0) {
            return validate_err_value(err, sub, "\"function\"", s);
        }
        validate_path(sub, sizeof(sub), "%s.function", path);
        if (validate_require(tool, "function", JSON_OBJECT, sub, &fn, err)
            != FG_OK)
        {
            return FG_ERR;
        }
        validate_path(sub, sizeof(sub), "%s.function.name", path);
        if (validate_require(fn, "name", JSON_STRING, sub, &name, err)
            != FG_OK)
        {
            return FG_ERR;
        }
        s = json_string_value(name);
        if (!validate_function_name(s)) {
            return validate_err_value(err, sub, "1 to 64 characters from "
                                      "a-z, A-Z, 0-9, '_' and '-'", s);
        }
        params = validate_get(fn, "parameters");
        if (params != NULL && !json_is_object(params)) {
            validate_path(sub, sizeof(sub), "%s.function.parameters", path);
            return validate_err_type(err, sub, "an object", params);
        }
    }
    return FG_OK;
}

/* "none", "auto", "required" or {type: "function", function: {name}}. */
static int
validate_tool_choice(const json_t *root, fg_err_t *err)
{
    static const char *const modes[] = { "none", "auto", "required" };
    json_t     *tc, *type, *fn, *name;
    const char *s;

    tc = validate_get(root, "tool_choice");
    if (tc == NULL) {
        return FG_OK;
    }
    if (json_is_string(tc)) {
        s = json_string_value(tc);
        if (!validate_one_of(s, modes, VALIDATE_COUNT(modes))) {
            return validate_err_value(err, "tool_choice",
                                      "one of none, auto or required, or "
                                      "an object naming a function", s);
        }
        return FG_OK;
    }
    if (!json_is_object(tc)) {
        return validate_err_type(err, "tool_choice",
                                 "a string or an object", tc);
    }
    if (validate_require(tc, "type", JSON_STRING, "tool_choice.type", &type,
                         err) != FG_OK)
    {
        return FG_ERR;
    }
    s = json_string_value(type);
    if (strcmp(s, "function") != 0) {
        return validate_err_value(err, "tool_choice.type", "\"function\"",
                                  s);
    }
    if (validate_require(tc, "function", JSON_OBJECT, "tool_choice.function",
                         &fn, err) != FG_OK)
    {
        return FG_ERR;
    }
    return validate_require(fn, "name", JSON_STRING,
                            "tool_choice.function.name", &name, err);
}

/* An object, only with "stream": true; include_usage a boolean. */
static int
validate_stream_options(const json_t *root, fg_err_t *err)
{
    json_t *so, *usage;

    so = validate_get(root, "stream_options");
    if (so == NULL) {
        return FG_OK;
    }
    if (!json_is_true(json_object_get(root, "stream"))) {
        return fg_err_set(err, FG_E_INVALID_VALUE, "stream_options",
                          "Invalid value for 'stream_options': it is only "
                          "allowed when 'stream' is true.");
    }
    if (!json_is_object(so)) {
        return validate_err_type(err, "stream_options", "an object", so);
    }
    usage = validate_get(so, "include_usage");
    if (usage != NULL && !json_is_boolean(usage)) {
        return validate_err_type(err, "stream_options.include_usage",
                                 "a boolean", usage);
    }
    return FG_OK;
}

/* An object mapping token ids to numbers in -100..100. */
static int
validate_logit_bias(const json_t *root, fg_err_t *err)
{
    json_t     *lb, *v;
    const char *key;
    double      d;
    char        quoted[VALIDATE_QUOTE_MAX + 4], path[FG_ERR_PARAM_MAX];

    lb = validate_get(root, "logit_bias");
    if (lb == NULL) {
        return FG_OK;
    }
    if (!json_is_object(lb)) {
        return validate_err_type(err, "logit_bias", "an object", lb);
    }
    json_object_foreach(lb, key, v) {
        if (json_is_number(v)) {
            d = json_number_value(v);
            if (isfinite(d) && d >= -100 && d <= 100) {
                continue;
            }
        }
        validate_quote(quoted, sizeof(quoted), key);
        validate_path(path, sizeof(path), "logit_bias.%s", quoted);
        if (!json_is_number(v)) {
            return validate_err_type(err, path, "a number", v);
        }
        return fg_err_set(err, FG_E_OUT_OF_RANGE, path,
                          "Invalid value for '%s': expected a number "
                          "between -100 and 100, got %.10g.", path,
                          json_number_value(v));
    }
    return FG_OK;
}

/* Only after every check passed: the facts later stages need. */
static void
validate_fill(const json_t *root, fg_chat_request_t *out)
{
    json_t    *so, *v;
    long long  mt = 0, mct = 0;

    out->model = json_string_value(json_object_get(root, "model"));
    out->is_stream = json_is_true(json_object_get(root, "stream"));
    so = json_object_get(root, "stream_options");
    out->include_usage = out->is_stream
        && json_is_true(json_object_get(so, "include_usage"));

    v = json_object_get(root, "max_tokens");
    if (json_is_integer(v)) {
        mt = json_integer_value(v);
    }
    v = json_object_get(root, "max_completion_tokens");
    if (json_is_integer(v)) {
        mct = json_integer_value(v);
    }
    /*
     * The larger one is the worst case: an upstream may honour either, and
     * the reservation must cover what it could produce.
     */
    out->max_tokens = mct > mt ? mct : mt;

    v = json_object_get(root, "n");
    out->n = json_is_integer(v) ? json_integer_value(v) : 1;
}

/* The member @key of @obj, or NULL when it is missing or null. */
static json_t *
validate_get(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    return json_is_null(v) ? NULL : v;
}

/*
 * Fetches the required member @key of @obj, of jansson type @type (an
 * object, array or string), into @value. Missing or null is
 * FG_E_REQUIRED_FIELD, another type FG_E_INVALID_TYPE, both at @path.
 */
static int
validate_require(const json_t *obj, const char *key, json_type type,
                 const char *path, json_t **value, fg_err_t *err)
{
    json_t *v = validate_get(obj, key);

    if (v == NULL) {
        return validate_err_required(err, path);
    }
    if (json_typeof(v) != type) {
        return validate_err_type(err, path, validate_type_name(type), v);
    }
    *value = v;
    return FG_OK;
}

static int
validate_one_of(const char *s, const char *const *set, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(s, set[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ^[a-zA-Z0-9_-]{1,64}$ */
static int
validate_function_name(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];

        if (i >= 64) {
            return 0;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-'))
        {
            return 0;
        }
    }
    return i > 0;
}

static void
validate_path(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(dst, size, fmt, ap);
    va_end(ap);
}

/*
 * Copies client string @s into @dst for an error message: at most
 * VALIDATE_QUOTE_MAX bytes, cut before a UTF-8 sequence that would not
 * fit (jansson has already proven @s valid UTF-8), control bytes replaced
 * by '?', and "..." when cut. @size must be at least
 * VALIDATE_QUOTE_MAX + 4.
 */
static void
validate_quote(char *dst, size_t size, const char *s)
{
    size_t         i = 0, n = 0, seq;
    unsigned char  c;

    while (s[i] != '\0') {
        c = (unsigned char) s[i];
        seq = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (n + seq > VALIDATE_QUOTE_MAX || n + seq + 4 > size) {
            memcpy(dst + n, "...", 3);
            n += 3;
            break;
        }
        if (seq == 1) {
            dst[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char) c;
            i++;
        } else {
            memcpy(dst + n, s + i, seq);
            n += seq;
            i += seq;
        }
    }
    dst[n] = '\0';
}

static const char *
validate_describe(const json_t *v)
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
        return "a decimal number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "an unknown value";
}

/* The expectation for validate_require()'s @type. */
static const char *
validate_type_name(json_type type)
{
    switch (type) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    default:
        return "a string";
    }
}

static int
validate_err_required(fg_err_t *err, const char *path)
{
    return fg_err_set(err, FG_E_REQUIRED_FIELD, path,
                      "Missing required parameter: '%s'.", path);
}

static int
validate_err_type(fg_err_t *err, const char *path, const char *expected,
                  const json_t *got)
{
    return fg_err_set(err, FG_E_INVALID_TYPE, path,
                      "Invalid type for '%s': expected %s, got %s.", path,
                      expected, validate_describe(got));
}

static int
validate_err_value(fg_err_t *err, const char *path, const char *expected,
                   const char *got)
{
    char quoted[VALIDATE_QUOTE_MAX + 4];

    validate_quote(quoted, sizeof(quoted), got);
    return fg_err_set(err, FG_E_INVALID_VALUE, path,
                      "Invalid value for '%s': expected %s, got '%s'.",
                      path, expected, quoted);
}
