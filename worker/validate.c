/*
 * validate.c: validation of a POST /v1/chat/completions body.
 *
 * A body goes through three gates, in order, and the first failure is the
 * answer:
 *   1) bytes to JSON (common/wire/jdoc, one strict pass, no recursion): empty
 *      body, nesting deeper than the configured limit, duplicate keys
 *      anywhere (so the price and the upstream can never see two
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
 * Paths are built in one buffer as the walk goes down and back up, and an
 * error message is formatted only when a check fails: a valid body costs
 * no printf.
 *
 * Deliberately not done: nothing is removed, renamed or defaulted (the
 * bytes go upstream as sent, with the gateway's few edits made by
 * upstream_body.c); unknown fields, provider extensions (top_k, min_p,
 * ...) and unknown content-part types pass untouched; no check depends on
 * the model or the provider (route and admit know the model's limits); no
 * recursion into client-chosen depth (tool parameter schemas are only
 * checked to be objects).
 *
 * fg_validate_request() is the stage around the validator: content type,
 * the request's own copy of the body, and req->validated (its only
 * writer).
 */

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/base/alloc.h"
#include "common/base/errors.h"
#include "common/wire/jdoc.h"
#include "worker/responses_req.h"
#include "worker/responses_store.h"
#include "worker/validate.h"
#include "worker/request.h"
#include "worker/worker.h"

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

/* The walk: the document, the error, and the path of where it stands. */
typedef struct {
    const fg_jdoc_t *doc;
    fg_err_t        *err;
    char             path[FG_ERR_PARAM_MAX];
    size_t           len;
} validate_t;

static int validate_forbidden(validate_t *v, int obj, int is_top);
static int validate_model(validate_t *v, int root);
static int validate_messages(validate_t *v, int root);
static int validate_message(validate_t *v, int msg);
static int validate_content(validate_t *v, int content);
static int validate_part(validate_t *v, int part);
static int validate_scalar(validate_t *v, int root,
                           const validate_scalar_t *s);
static int validate_stop(validate_t *v, int root);
static int validate_response_format(validate_t *v, int root);
static int validate_tools(validate_t *v, int root);
static int validate_tool_choice(validate_t *v, int root);
static int validate_stream_options(validate_t *v, int root);
static int validate_logit_bias(validate_t *v, int root);
static void validate_fill(const fg_jdoc_t *doc, fg_chat_request_t *out);
static fg_span_t validate_span(const fg_jdoc_t *doc, int node);

static int validate_require(validate_t *v, int obj, const char *key,
                            fg_jtype_t type, int *value);
static int validate_one_of(const fg_jdoc_t *doc, int s,
                           const char *const *set, size_t n);
static int validate_function_name(const fg_jdoc_t *doc, int s);
static size_t validate_push(validate_t *v, const char *member);
static size_t validate_push_index(validate_t *v, size_t i);
static void validate_pop(validate_t *v, size_t mark);
static void validate_quote(char *dst, size_t size, const char *s);
static void validate_quote_node(const fg_jdoc_t *doc, int s, char *dst,
                                size_t size);
static const char *validate_describe(const fg_jdoc_t *doc, int node);
static const char *validate_type_name(fg_jtype_t type);

static int validate_err_required(validate_t *v);
static int validate_err_type(validate_t *v, const char *expected, int got);
static int validate_err_value(validate_t *v, const char *expected, int got);

#define VALIDATE_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* "application/json", with or without parameters. */
static int
validate_content_type_ok(const char *ct)
{
    size_t n = strlen("application/json");

    if (ct == NULL || strncasecmp(ct, "application/json", n) != 0) {
        return 0;
    }
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* The validator of the API @req was called on. */
static int
validate_body(const fg_req_t *req, const char *body, size_t len,
              fg_jdoc_t *doc, fg_chat_request_t *out, fg_err_t *err)
{
    size_t depth = (size_t) req->worker->conf->max_json_depth;

    switch (req->validated.api) {
    case FG_USAGE_API_RESPONSES:
        /* Its chat-completions translation: two levels deeper at most
         * (responses_req.h). */
        return fg_validate_chat_body(body, len, depth + 2, doc, out, err);
    case FG_USAGE_API_EMBEDDINGS:
        return fg_validate_embeddings_body(body, len, depth, doc, out, err);
    case FG_USAGE_API_COMPLETIONS:
        return fg_validate_completions_body(body, len, depth, doc, out,
                                            err);
    default:
        return fg_validate_chat_body(body, len, depth, doc, out, err);
    }
}

/*
 * A Responses request (worker/responses_req.h): checked and translated
 * into the chat-completions body every later stage works on, which
 * becomes req->validated.body; the client's body and its document stay
 * (resp_body, resp_doc) for the reply, which echoes them (rq). The
 * translation counts in the worker's request bytes too.
 */
static int
validate_responses(fg_req_t *req, fg_err_t *err)
{
    fg_req_validated_t *in = &req->validated;
    fg_worker_t        *w = req->worker;
    char               *chat;
    size_t              chat_len;

    if (fg_responses_to_chat(in->body, in->body_len,
                             (size_t) w->conf->max_json_depth,
                             fg_responses_store_lookup, req,
                             &in->rq, &in->resp_doc, &chat, &chat_len,
                             &in->resp_context, &in->resp_context_len, err)
        != FG_OK) {
        return FG_ERR;
    }
    in->has_resp_doc = 1;
    in->resp_body = in->body;
    in->body = chat;
    in->body_len = chat_len;
    in->held_bytes += (int64_t) chat_len;
    w->request_bytes += (int64_t) chat_len;
    return FG_OK;
}

fg_verdict_kind_t
fg_validate_request(fg_req_t *req, fg_verdict_t *v)
{
    fg_req_validated_t *out = &req->validated;
    fg_worker_t        *w = req->worker;
    size_t              len = req->in_body_len;
    const char         *ct;
    int                 messages;

    ct = req->head != NULL ? fg_http_field(req->head, "Content-Type", NULL)
                           : NULL;
    if (len > 0 && !validate_content_type_ok(ct)) {
        return fg_verdict_refuse(v, FG_RETRY_NONE,
                                 FG_E_UNSUPPORTED_MEDIA_TYPE, NULL,
                                 "Content-Type must be application/json, "
                                 "got %.64s", ct ? ct : "none");
    }
    /*
     * The body is held twice while the request waits on its provider (its
     * copy here, the upstream's), and parsing it costs up to 16 times more
     * for a moment, within this call. The worker's budget bounds what all
     * its waiting requests hold together.
     */
    if (w->request_bytes + 2 * (int64_t) len > w->conf->worker_request_bytes) {
        return fg_verdict_refuse(v, 1000, FG_E_SERVICE_UNAVAILABLE, NULL,
                                 "this server holds as many request bodies "
                                 "as it may (limits.worker_request_bytes); "
                                 "retry in a second");
    }
    out->held_bytes = 2 * (int64_t) len;
    w->request_bytes += out->held_bytes;
    out->body = fg_xmalloc(len + 1);
    if (len > 0) {
        memcpy(out->body, req->in_body, len);
    }
    out->body[len] = '\0';
    out->body_len = len;
    if (out->api == FG_USAGE_API_RESPONSES
        && validate_responses(req, &v->err) != FG_OK) {
        v->kind = FG_VERDICT_REFUSE;
        v->retry_after_ms = FG_RETRY_NONE;
        return FG_VERDICT_REFUSE;
    }
    if (validate_body(req, out->body, out->body_len, &out->doc, &out->chat,
                      &v->err) != FG_OK) {
        v->kind = FG_VERDICT_REFUSE;
        v->retry_after_ms = FG_RETRY_NONE;
        return FG_VERDICT_REFUSE;
    }
    out->has_doc = 1;
    messages = fg_jdoc_get(&out->doc, 0, "messages");
    if (messages != FG_JNONE) {
        out->messages_start = out->doc.nodes[messages].start;
        out->messages_len = out->doc.nodes[messages].len;
    }
    out->model_requested = fg_jdoc_str_dup(&out->doc, out->chat.model);
    if (out->model_requested == NULL) {
        return fg_verdict_refuse(v, FG_RETRY_NONE, FG_E_INTERNAL, NULL,
                                 "out of memory");
    }
    return FG_VERDICT_CONTINUE;
}

void
fg_validate_drop_doc(fg_req_t *req, int keep_body)
{
    fg_req_validated_t *in = &req->validated;

    if (in->has_doc) {
        fg_jdoc_free(&in->doc);
        in->has_doc = 0;
    }
    if (!keep_body && !req->worker->conf->access_log_content
        && in->body != NULL) {
        free(in->body);
        in->body = NULL;
        in->messages_len = 0;
    }
}

int
fg_validate_reparse(fg_req_t *req)
{
    fg_req_validated_t *in = &req->validated;
    fg_err_t            err;

    if (in->has_doc) {
        return FG_OK;
    }
    if (in->body == NULL
        || validate_body(req, in->body, in->body_len, &in->doc, &in->chat,
                         &err) != FG_OK) {
        return FG_ERR;
    }
    in->has_doc = 1;
    return FG_OK;
}

int
fg_validate_replace_body(fg_req_t *req, char *body, size_t len)
{
    fg_req_validated_t *in = &req->validated;
    fg_jdoc_t           doc;
    fg_chat_request_t   chat;
    fg_err_t            err;
    int                 messages;

    if (fg_validate_chat_body(body, len,
                              (size_t) req->worker->conf->max_json_depth,
                              &doc, &chat, &err) != FG_OK) {
        free(body);
        return FG_ERR;
    }
    if (in->has_doc) {
        fg_jdoc_free(&in->doc);
    }
    free(in->body);
    /* Smaller than the client's: the bytes held already count it. */
    in->body = body;
    in->body_len = len;
    in->doc = doc;
    in->has_doc = 1;
    in->chat = chat;
    messages = fg_jdoc_get(&doc, 0, "messages");
    in->messages_start = doc.nodes[messages].start;
    in->messages_len = doc.nodes[messages].len;
    return FG_OK;
}

void
fg_validate_release(fg_req_t *req)
{
    fg_req_validated_t *in = &req->validated;

    if (in->has_doc) {
        fg_jdoc_free(&in->doc);
        in->has_doc = 0;
    }
    req->worker->request_bytes -= in->held_bytes;
    in->held_bytes = 0;
    free(in->body);
    in->body = NULL;
    if (in->has_resp_doc) {
        fg_jdoc_free(&in->resp_doc);
        in->has_resp_doc = 0;
    }
    free(in->resp_body);
    in->resp_body = NULL;
    free(in->resp_context);
    in->resp_context = NULL;
    free(in->model_requested);
    in->model_requested = NULL;
}

/*
 * What every body starts with: it parses (into @doc, @v set up over it),
 * it is an object, and it names none of the fields that would steer the
 * gateway's credentials (refused whatever else is wrong). On FG_ERR @doc
 * holds nothing.
 */
static int
validate_begin(validate_t *v, const char *body, size_t len,
               size_t max_depth, fg_jdoc_t *doc, fg_err_t *err)
{
    if (fg_jdoc_parse(doc, body, len, max_depth, err) != FG_OK) {
        return FG_ERR;
    }
    v->doc = doc;
    v->err = err;
    v->path[0] = '\0';
    v->len = 0;
    if (fg_jdoc_type(doc, 0) != FG_JOBJECT) {
        fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                   "The request body must be a JSON object, got %s.",
                   validate_describe(doc, 0));
    } else if (validate_forbidden(v, 0, 1) == FG_OK) {
        return FG_OK;
    }
    fg_jdoc_free(doc);
    return FG_ERR;
}

int
fg_validate_chat_body(const char *body, size_t len, size_t max_depth,
                      fg_jdoc_t *doc, fg_chat_request_t *out, fg_err_t *err)
{
    validate_t        v;
    size_t            i;
    fg_routereq_t     route;
    fg_transformreq_t xf;

    if (validate_begin(&v, body, len, max_depth, doc, err) != FG_OK) {
        return FG_ERR;
    }
    if (validate_model(&v, 0) != FG_OK || validate_messages(&v, 0) != FG_OK)
    {
        goto fail;
    }
    for (i = 0; i < VALIDATE_COUNT(validate_scalars); i++) {
        if (validate_scalar(&v, 0, &validate_scalars[i]) != FG_OK) {
            goto fail;
        }
    }
    if (validate_stop(&v, 0) != FG_OK
        || validate_response_format(&v, 0) != FG_OK
        || validate_tools(&v, 0) != FG_OK
        || validate_tool_choice(&v, 0) != FG_OK
        || validate_stream_options(&v, 0) != FG_OK
        || validate_logit_bias(&v, 0) != FG_OK)
    {
        goto fail;
    }
    if (fg_routereq_validate(doc, &route, &xf, err) != FG_OK) {
        goto fail;
    }

    if (out != NULL) {
        /* Every member, inputs and wants_base64 (none for chat) too: a
         * caller's @out may be fresh stack (fg_validate_replace_body), and
         * the meter multiplies the window by inputs. */
        memset(out, 0, sizeof(*out));
        out->xf = xf;
        validate_fill(doc, out);
        out->route = route;
    }
    return FG_OK;

fail:
    fg_jdoc_free(doc);
    return FG_ERR;
}

static const validate_scalar_t validate_embeddings_scalars[] = {
    VALIDATE_INT("dimensions", 1, FG_VALIDATE_DIMENSIONS_MAX),
    VALIDATE_STR("user"),
};

/* One token array of "input" (@arr): 1 or more integers, each a token id. */
static int
validate_token_array(validate_t *v, int arr)
{
    const fg_jdoc_t *doc = v->doc;
    int              t;
    size_t           n = 0, mark;

    if (doc->nodes[arr].count == 0) {
        return validate_err_value(v, "a non-empty array of token ids", arr);
    }
    for (t = fg_jdoc_first(doc, arr); t != FG_JNONE;
         t = fg_jdoc_next(doc, arr, t), n++) {
        if (fg_jdoc_type(doc, t) != FG_JINT || doc->nodes[t].num.i < 0
            || doc->nodes[t].num.i > FG_VALIDATE_TOKEN_ID_MAX) {
            mark = validate_push_index(v, n);
            (void) validate_err_value(v, "a token id (an integer from 0 to "
                                      "2147483647)", t);
            validate_pop(v, mark);
            return FG_ERR;
        }
    }
    return FG_OK;
}

/*
 * An array of inputs (@arr, its path pushed), as OpenAI takes embeddings'
 * input and a completion's prompt: 1 to FG_VALIDATE_INPUTS_MAX of one
 * kind: strings (@empty_ok: may be ""), token ids (one input), or token
 * arrays. Sets *@inputs to how many it is.
 */
static int
validate_inputs_of(validate_t *v, int arr, int empty_ok, int64_t *inputs)
{
    const fg_jdoc_t *doc = v->doc;
    int              e, first;
    fg_jtype_t       kind;
    size_t           n = 0;

    if (fg_jdoc_type(doc, arr) != FG_JARRAY) {
        return validate_err_type(v, "a string or an array", arr);
    }
    if (doc->nodes[arr].count == 0
        || doc->nodes[arr].count > FG_VALIDATE_INPUTS_MAX) {
        return fg_err_set(v->err, FG_E_OUT_OF_RANGE, v->path,
                          "'%s' must hold 1 to %d inputs, got %u.", v->path,
                          FG_VALIDATE_INPUTS_MAX, doc->nodes[arr].count);
    }
    first = fg_jdoc_first(doc, arr);
    kind = fg_jdoc_type(doc, first);
    if (kind == FG_JINT) {
        /* One input given as its token ids. */
        *inputs = 1;
        return validate_token_array(v, arr);
    }
    for (e = first; e != FG_JNONE; e = fg_jdoc_next(doc, arr, e), n++) {
        size_t at = validate_push_index(v, n);

        if (fg_jdoc_type(doc, e) != kind
            || (kind != FG_JSTRING && kind != FG_JARRAY)) {
            return validate_err_type(v, kind == FG_JARRAY
                                        ? "an array of token ids"
                                        : kind == FG_JSTRING ? "a string"
                                        : "a string, a token id or an "
                                          "array of token ids", e);
        }
        if (kind == FG_JSTRING && !empty_ok && fg_jdoc_str_len(doc, e) == 0) {
            return validate_err_value(v, "a non-empty string", e);
        }
        if (kind == FG_JARRAY && validate_token_array(v, e) != FG_OK) {
            return FG_ERR;
        }
        validate_pop(v, at);
    }
    *inputs = (int64_t) n;
    return FG_OK;
}

static int
validate_inputs(validate_t *v, int arr, int64_t *inputs)
{
    return validate_inputs_of(v, arr, 1, inputs);
}

/*
 * "input" of an embeddings request: a non-empty string, or an array of
 * inputs (validate_inputs_of) none of them empty. Sets *@inputs.
 */
static int
validate_input(validate_t *v, int root, int64_t *inputs)
{
    const fg_jdoc_t *doc = v->doc;
    int              input;
    size_t           mark;

    input = fg_jdoc_value(doc, root, "input");
    mark = validate_push(v, "input");
    if (input == FG_JNONE) {
        return validate_err_required(v);
    }
    if (fg_jdoc_type(doc, input) == FG_JSTRING) {
        if (fg_jdoc_str_len(doc, input) == 0) {
            return validate_err_value(v, "a non-empty string", input);
        }
        *inputs = 1;
    } else if (validate_inputs_of(v, input, 0, inputs) != FG_OK) {
        return FG_ERR;
    }
    validate_pop(v, mark);
    return FG_OK;
}

/* transforms, plugins and reasoning are chat's: a 400 on @api's body. */
static int
validate_no_chat_transforms(const fg_jdoc_t *doc, const fg_routereq_t *route,
                            const char *api, fg_err_t *err)
{
    int i;

    for (i = FG_ROUTEREQ_TRANSFORMS; i <= FG_ROUTEREQ_REASONING; i++) {
        if (route->member[i] != FG_JNONE) {
            const fg_jnode_t *key = &doc->nodes[route->member[i] - 1];
            int               n = (int) key->len - 2;

            fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                       "'%.*s' applies to chat completions, not to %s.", n,
                       doc->buf + key->start + 1, api);
            snprintf(err->param, sizeof(err->param), "%.*s", n,
                     doc->buf + key->start + 1);
            return FG_ERR;
        }
    }
    return FG_OK;
}

int
fg_validate_embeddings_body(const char *body, size_t len, size_t max_depth,
                            fg_jdoc_t *doc, fg_chat_request_t *out,
                            fg_err_t *err)
{
    static const char *const formats[] = { "float", "base64" };
    validate_t        v;
    size_t            i;
    fg_routereq_t     route;
    fg_transformreq_t xf;
    int64_t           inputs = 0;
    int               format;

    if (validate_begin(&v, body, len, max_depth, doc, err) != FG_OK) {
        return FG_ERR;
    }
    if (validate_model(&v, 0) != FG_OK
        || validate_input(&v, 0, &inputs) != FG_OK) {
        goto fail;
    }
    for (i = 0; i < VALIDATE_COUNT(validate_embeddings_scalars); i++) {
        if (validate_scalar(&v, 0, &validate_embeddings_scalars[i])
            != FG_OK) {
            goto fail;
        }
    }
    format = fg_jdoc_value(doc, 0, "encoding_format");
    if (format != FG_JNONE
        && !validate_one_of(doc, format, formats, 2)) {
        validate_push(&v, "encoding_format");
        (void) validate_err_value(&v, "'float' or 'base64'", format);
        goto fail;
    }
    if (fg_routereq_validate(doc, &route, &xf, err) != FG_OK
        || validate_no_chat_transforms(doc, &route, "embeddings", err)
           != FG_OK) {
        goto fail;
    }
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
        out->model = fg_jdoc_get(doc, 0, "model");
        out->n = 1;
        out->inputs = inputs;
        out->wants_base64 = format != FG_JNONE
                            && fg_jdoc_str_eq(doc, format, "base64");
        out->route = route;
        out->xf = xf;
        out->xf.heal = 0;
        out->xf.compress = 0;
    }
    return FG_OK;

fail:
    fg_jdoc_free(doc);
    return FG_ERR;
}

static const validate_scalar_t validate_completions_scalars[] = {
    VALIDATE_INT("max_tokens", 0, FG_VALIDATE_MAX_TOKENS_MAX),
    VALIDATE_NUM("temperature", 0, 2),
    VALIDATE_NUM("top_p", 0, 1),
    VALIDATE_INT("n", 1, FG_VALIDATE_N_MAX),
    VALIDATE_INT("best_of", 1, FG_VALIDATE_BEST_OF_MAX),
    VALIDATE_BOOL("stream"),
    VALIDATE_INT("logprobs", 0, 5),
    VALIDATE_BOOL("echo"),
    VALIDATE_NUM("presence_penalty", -2, 2),
    VALIDATE_NUM("frequency_penalty", -2, 2),
    VALIDATE_INT("seed", LLONG_MIN, LLONG_MAX),
    VALIDATE_STR("user"),
};

/*
 * "prompt" of a legacy completion: a string, or 1 to
 * FG_VALIDATE_INPUTS_MAX of one kind (strings, token ids as one prompt,
 * token arrays), as OpenAI takes it; an empty string is a prompt (the
 * model starts from nothing). Sets *@prompts.
 */
static int
validate_prompt(validate_t *v, int root, int64_t *prompts)
{
    const fg_jdoc_t *doc = v->doc;
    int              prompt = fg_jdoc_value(doc, root, "prompt");
    size_t           mark;

    if (prompt == FG_JNONE) {
        validate_push(v, "prompt");
        return validate_err_required(v);
    }
    if (fg_jdoc_type(doc, prompt) == FG_JSTRING) {
        *prompts = 1;
        return FG_OK;
    }
    mark = validate_push(v, "prompt");
    if (validate_inputs(v, prompt, prompts) != FG_OK) {
        return FG_ERR;
    }
    validate_pop(v, mark);
    return FG_OK;
}

int
fg_validate_completions_body(const char *body, size_t len, size_t max_depth,
                             fg_jdoc_t *doc, fg_chat_request_t *out,
                             fg_err_t *err)
{
    validate_t        v;
    size_t            i;
    fg_routereq_t     route;
    fg_transformreq_t xf;
    int64_t           prompts = 0;
    int               node, suffix;
    long long         n = 1, best_of = 1;

    if (validate_begin(&v, body, len, max_depth, doc, err) != FG_OK) {
        return FG_ERR;
    }
    if (validate_model(&v, 0) != FG_OK
        || validate_prompt(&v, 0, &prompts) != FG_OK) {
        goto fail;
    }
    for (i = 0; i < VALIDATE_COUNT(validate_completions_scalars); i++) {
        if (validate_scalar(&v, 0, &validate_completions_scalars[i])
            != FG_OK) {
            goto fail;
        }
    }
    suffix = fg_jdoc_value(doc, 0, "suffix");
    if (suffix != FG_JNONE && fg_jdoc_type(doc, suffix) != FG_JSTRING) {
        validate_push(&v, "suffix");
        (void) validate_err_type(&v, "a string", suffix);
        goto fail;
    }
    if (validate_stop(&v, 0) != FG_OK
        || validate_stream_options(&v, 0) != FG_OK
        || validate_logit_bias(&v, 0) != FG_OK) {
        goto fail;
    }
    node = fg_jdoc_value(doc, 0, "n");
    if (node != FG_JNONE) {
        n = doc->nodes[node].num.i;
    }
    node = fg_jdoc_value(doc, 0, "best_of");
    if (node != FG_JNONE) {
        best_of = doc->nodes[node].num.i;
        /* OpenAI: best_of candidates are made, n of them returned, and
         * they cannot be streamed. */
        if (best_of < n) {
            fg_err_set(err, FG_E_INVALID_VALUE, "best_of",
                       "best_of (%lld) must be at least n (%lld).", best_of,
                       n);
            goto fail;
        }
        if (best_of > 1 && fg_jdoc_type(doc, fg_jdoc_get(doc, 0, "stream"))
                           == FG_JTRUE) {
            fg_err_set(err, FG_E_INVALID_VALUE, "best_of",
                       "best_of above 1 cannot be streamed.");
            goto fail;
        }
    }
    if (fg_routereq_validate(doc, &route, &xf, err) != FG_OK
        || validate_no_chat_transforms(doc, &route, "completions", err)
           != FG_OK) {
        goto fail;
    }
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
        validate_fill(doc, out);
        /* Every prompt gets best_of candidates: what is generated. */
        out->n = (long long) prompts * (best_of > n ? best_of : n);
        out->inputs = prompts;
        out->route = route;
        out->xf = xf;
        out->xf.heal = 0;
        out->xf.compress = 0;
        out->xf.json_mode = 0;
    }
    return FG_OK;

fail:
    fg_jdoc_free(doc);
    return FG_ERR;
}

/*
 * Refuses the routing keys in @obj, and in its "extra_body" object when
 * @obj is the top level: OpenAI SDKs merge extra_body into the body, and
 * LiteLLM-style proxies honour it when it arrives as a field.
 */
static int
validate_forbidden(validate_t *v, int obj, int is_top)
{
    const fg_jdoc_t *doc = v->doc;
    int              k, extra;
    size_t           i, mark;
    char             key[32];

    for (k = fg_jdoc_first(doc, obj); k != FG_JNONE;
         k = fg_jdoc_next(doc, obj, k)) {
        /* Every forbidden name is shorter than 31 bytes. */
        if (fg_jdoc_str_copy(doc, k, key, sizeof(key)) >= sizeof(key)) {
            continue;
        }
        for (i = 0; i < VALIDATE_COUNT(validate_forbidden_keys); i++) {
            if (strcasecmp(key, validate_forbidden_keys[i]) != 0) {
                continue;
            }
            /* @key equals a short ASCII name: safe to quote whole. */
            validate_push(v, key);
            return fg_err_set(v->err, FG_E_FORBIDDEN_FIELD, v->path,
                              "The parameter '%s' is not allowed: the "
                              "gateway chooses the upstream provider, its "
                              "address and its credentials.", v->path);
        }
    }
    if (is_top) {
        extra = fg_jdoc_get(doc, obj, "extra_body");
        if (fg_jdoc_type(doc, extra) == FG_JOBJECT) {
            mark = validate_push(v, "extra_body");
            if (validate_forbidden(v, extra, 0) != FG_OK) {
                return FG_ERR;
            }
            validate_pop(v, mark);
        }
    }
    return FG_OK;
}

static int
validate_model(validate_t *v, int root)
{
    int model;

    if (validate_require(v, root, "model", FG_JSTRING, &model) != FG_OK) {
        return FG_ERR;
    }
    if (fg_jdoc_str_len(v->doc, model) == 0) {
        return fg_err_set(v->err, FG_E_REQUIRED_FIELD, "model",
                          "Missing required parameter: 'model' must be a "
                          "non-empty string naming the model.");
    }
    return FG_OK;
}

static int
validate_messages(validate_t *v, int root)
{
    const fg_jdoc_t *doc = v->doc;
    int              messages, msg;
    size_t           i = 0, mark, item;

    if (validate_require(v, root, "messages", FG_JARRAY, &messages)
        != FG_OK)
    {
        return FG_ERR;
    }
    if (doc->nodes[messages].count == 0) {
        return fg_err_set(v->err, FG_E_REQUIRED_FIELD, "messages",
                          "Missing required parameter: 'messages' must "
                          "hold at least one message.");
    }
    mark = validate_push(v, "messages");
    for (msg = fg_jdoc_first(doc, messages); msg != FG_JNONE;
         msg = fg_jdoc_next(doc, messages, msg), i++) {
        item = validate_push_index(v, i);
        if (fg_jdoc_type(doc, msg) != FG_JOBJECT) {
            return validate_err_type(v, "an object", msg);
        }
        if (validate_message(v, msg) != FG_OK) {
            return FG_ERR;
        }
        validate_pop(v, item);
    }
    validate_pop(v, mark);
    return FG_OK;
}

/*
 * One message at the current path. Content is required except on an
 * assistant message that calls tools (tool_calls, non-empty) or a function
 * (function_call): OpenAI's "required unless tool_calls or function_call
 * is specified".
 */
static int
validate_message(validate_t *v, int msg)
{
    const fg_jdoc_t *doc = v->doc;
    int              role, content, calls, call, id;
    size_t           i = 0, mark;
    int              calls_tools = 0;

    if (validate_require(v, msg, "role", FG_JSTRING, &role) != FG_OK) {
        return FG_ERR;
    }
    if (!validate_one_of(doc, role, validate_roles,
                         VALIDATE_COUNT(validate_roles))) {
        validate_push(v, "role");
        return validate_err_value(v, "one of system, developer, user, "
                                  "assistant or tool", role);
    }

    if (fg_jdoc_str_eq(doc, role, "assistant")) {
        calls = fg_jdoc_value(doc, msg, "tool_calls");
        if (calls != FG_JNONE) {
            mark = validate_push(v, "tool_calls");
            if (fg_jdoc_type(doc, calls) != FG_JARRAY) {
                return validate_err_type(v, "an array", calls);
            }
            for (call = fg_jdoc_first(doc, calls); call != FG_JNONE;
                 call = fg_jdoc_next(doc, calls, call), i++) {
                if (fg_jdoc_type(doc, call) != FG_JOBJECT) {
                    validate_push_index(v, i);
                    return validate_err_type(v, "an object", call);
                }
            }
            calls_tools = doc->nodes[calls].count > 0;
            validate_pop(v, mark);
        }
        call = fg_jdoc_value(doc, msg, "function_call");
        if (call != FG_JNONE) {
            if (fg_jdoc_type(doc, call) != FG_JOBJECT) {
                validate_push(v, "function_call");
                return validate_err_type(v, "an object", call);
            }
            calls_tools = 1;
        }
    }

    if (fg_jdoc_str_eq(doc, role, "tool")
        && validate_require(v, msg, "tool_call_id", FG_JSTRING, &id)
           != FG_OK)
    {
        return FG_ERR;
    }

    content = fg_jdoc_value(doc, msg, "content");
    mark = validate_push(v, "content");
    if (content == FG_JNONE) {
        return calls_tools ? (validate_pop(v, mark), FG_OK)
                           : validate_err_required(v);
    }
    if (validate_content(v, content) != FG_OK) {
        return FG_ERR;
    }
    validate_pop(v, mark);
    return FG_OK;
}

/* A string, or a non-empty array of typed parts. */
static int
validate_content(validate_t *v, int content)
{
    const fg_jdoc_t *doc = v->doc;
    int              part;
    size_t           i = 0, item;

    if (fg_jdoc_type(doc, content) == FG_JSTRING) {
        return FG_OK;
    }
    if (fg_jdoc_type(doc, content) != FG_JARRAY) {
        return validate_err_type(v, "a string or an array of content parts",
                                 content);
    }
    if (doc->nodes[content].count == 0) {
        return fg_err_set(v->err, FG_E_OUT_OF_RANGE, v->path,
                          "Invalid value for '%s': expected at least one "
                          "content part, got an empty array.", v->path);
    }
    for (part = fg_jdoc_first(doc, content); part != FG_JNONE;
         part = fg_jdoc_next(doc, content, part), i++) {
        item = validate_push_index(v, i);
        if (fg_jdoc_type(doc, part) != FG_JOBJECT) {
            return validate_err_type(v, "an object", part);
        }
        if (validate_part(v, part) != FG_OK) {
            return FG_ERR;
        }
        validate_pop(v, item);
    }
    return FG_OK;
}

/*
 * One content part. The OpenAI types are checked for the members they
 * need; other types (provider extensions such as video_url) pass.
 */
static int
validate_part(validate_t *v, int part)
{
    const fg_jdoc_t *doc = v->doc;
    int              type, obj, value;
    size_t           mark;

    if (validate_require(v, part, "type", FG_JSTRING, &type) != FG_OK) {
        return FG_ERR;
    }
    if (fg_jdoc_str_eq(doc, type, "text")) {
        return validate_require(v, part, "text", FG_JSTRING, &value);
    }
    if (fg_jdoc_str_eq(doc, type, "refusal")) {
        return validate_require(v, part, "refusal", FG_JSTRING, &value);
    }
    if (fg_jdoc_str_eq(doc, type, "image_url")) {
        if (validate_require(v, part, "image_url", FG_JOBJECT, &obj)
            != FG_OK) {
            return FG_ERR;
        }
        mark = validate_push(v, "image_url");
        if (validate_require(v, obj, "url", FG_JSTRING, &value) != FG_OK) {
            return FG_ERR;
        }
        validate_pop(v, mark);
        return FG_OK;
    }
    if (fg_jdoc_str_eq(doc, type, "input_audio")) {
        if (validate_require(v, part, "input_audio", FG_JOBJECT, &obj)
            != FG_OK) {
            return FG_ERR;
        }
        mark = validate_push(v, "input_audio");
        if (validate_require(v, obj, "data", FG_JSTRING, &value) != FG_OK
            || validate_require(v, obj, "format", FG_JSTRING, &value)
               != FG_OK) {
            return FG_ERR;
        }
        validate_pop(v, mark);
        return FG_OK;
    }
    if (fg_jdoc_str_eq(doc, type, "file")) {
        return validate_require(v, part, "file", FG_JOBJECT, &obj);
    }
    return FG_OK;
}

/* One row of validate_scalars[]; absent or null passes. */
static int
validate_scalar(validate_t *v, int root, const validate_scalar_t *s)
{
    const fg_jdoc_t *doc = v->doc;
    int              node = fg_jdoc_value(doc, root, s->key);
    fg_jtype_t       type = fg_jdoc_type(doc, node);
    double           d;
    long long        i;

    if (node == FG_JNONE) {
        return FG_OK;
    }
    switch (s->kind) {
    case VALIDATE_NUMBER:
        if (type != FG_JINT && type != FG_JREAL) {
            validate_push(v, s->key);
            return validate_err_type(v, "a number", node);
        }
        d = type == FG_JINT ? (double) doc->nodes[node].num.i
                            : doc->nodes[node].num.d;
        /* The parser refuses overflowing reals; isfinite() is the
         * backstop. */
        if (!isfinite(d) || d < s->lo || d > s->hi) {
            return fg_err_set(v->err, FG_E_OUT_OF_RANGE, s->key,
                              "Invalid value for '%s': expected a number "
                              "between %g and %g, got %.10g.", s->key,
                              s->lo, s->hi, d);
        }
        return FG_OK;

    case VALIDATE_INTEGER:
        if (type != FG_JINT) {
            validate_push(v, s->key);
            return validate_err_type(v, "an integer", node);
        }
        i = doc->nodes[node].num.i;
        if (i < s->min || i > s->max) {
            return fg_err_set(v->err, FG_E_OUT_OF_RANGE, s->key,
                              "Invalid value for '%s': expected an integer "
                              "between %lld and %lld, got %lld.", s->key,
                              s->min, s->max, i);
        }
        return FG_OK;

    case VALIDATE_BOOLEAN:
        if (type != FG_JTRUE && type != FG_JFALSE) {
            validate_push(v, s->key);
            return validate_err_type(v, "a boolean", node);
        }
        return FG_OK;

    case VALIDATE_STRING:
        if (type != FG_JSTRING) {
            validate_push(v, s->key);
            return validate_err_type(v, "a string", node);
        }
        return FG_OK;
    }
    return FG_OK;
}

/* A string, or an array of 1..4 strings. */
static int
validate_stop(validate_t *v, int root)
{
    const fg_jdoc_t *doc = v->doc;
    int              stop, s;
    size_t           i = 0, n;

    stop = fg_jdoc_value(doc, root, "stop");
    if (stop == FG_JNONE || fg_jdoc_type(doc, stop) == FG_JSTRING) {
        return FG_OK;
    }
    validate_push(v, "stop");
    if (fg_jdoc_type(doc, stop) != FG_JARRAY) {
        return validate_err_type(v, "a string or an array of strings", stop);
    }
    n = doc->nodes[stop].count;
    if (n < 1 || n > VALIDATE_STOP_MAX) {
        return fg_err_set(v->err, FG_E_OUT_OF_RANGE, "stop",
                          "Invalid value for 'stop': expected 1 to %d "
                          "strings, got %zu.", VALIDATE_STOP_MAX, n);
    }
    for (s = fg_jdoc_first(doc, stop); s != FG_JNONE;
         s = fg_jdoc_next(doc, stop, s), i++) {
        if (fg_jdoc_type(doc, s) != FG_JSTRING) {
            validate_push_index(v, i);
            return validate_err_type(v, "a string", s);
        }
    }
    validate_pop(v, 0);
    return FG_OK;
}

static int
validate_response_format(validate_t *v, int root)
{
    static const char *const types[] = { "text", "json_object",
                                         "json_schema" };
    const fg_jdoc_t *doc = v->doc;
    int              rf, type, js, value;

    rf = fg_jdoc_value(doc, root, "response_format");
    if (rf == FG_JNONE) {
        return FG_OK;
    }
    validate_push(v, "response_format");
    if (fg_jdoc_type(doc, rf) != FG_JOBJECT) {
        return validate_err_type(v, "an object", rf);
    }
    if (validate_require(v, rf, "type", FG_JSTRING, &type) != FG_OK) {
        return FG_ERR;
    }
    if (!validate_one_of(doc, type, types, VALIDATE_COUNT(types))) {
        validate_push(v, "type");
        return validate_err_value(v, "one of text, json_object or "
                                  "json_schema", type);
    }
    if (!fg_jdoc_str_eq(doc, type, "json_schema")) {
        validate_pop(v, 0);
        return FG_OK;
    }
    if (validate_require(v, rf, "json_schema", FG_JOBJECT, &js) != FG_OK) {
        return FG_ERR;
    }
    validate_push(v, "json_schema");
    if (validate_require(v, js, "name", FG_JSTRING, &value) != FG_OK) {
        return FG_ERR;
    }
    /* OpenAI's schema has "schema" optional; when given it is an object. */
    value = fg_jdoc_value(doc, js, "schema");
    if (value != FG_JNONE && fg_jdoc_type(doc, value) != FG_JOBJECT) {
        validate_push(v, "schema");
        return validate_err_type(v, "an object", value);
    }
    validate_pop(v, 0);
    return FG_OK;
}

/* An array of {type: "function", function: {name, parameters?}}. */
static int
validate_tools(validate_t *v, int root)
{
    const fg_jdoc_t *doc = v->doc;
    int              tools, tool, type, fn, name, params;
    size_t           i = 0, item, mark;

    tools = fg_jdoc_value(doc, root, "tools");
    if (tools == FG_JNONE) {
        return FG_OK;
    }
    validate_push(v, "tools");
    if (fg_jdoc_type(doc, tools) != FG_JARRAY) {
        return validate_err_type(v, "an array", tools);
    }
    for (tool = fg_jdoc_first(doc, tools); tool != FG_JNONE;
         tool = fg_jdoc_next(doc, tools, tool), i++) {
        item = validate_push_index(v, i);
        if (fg_jdoc_type(doc, tool) != FG_JOBJECT) {
            return validate_err_type(v, "an object", tool);
        }
        if (validate_require(v, tool, "type", FG_JSTRING, &type) != FG_OK) {
            return FG_ERR;
        }
        if (!fg_jdoc_str_eq(doc, type, "function")) {
            validate_push(v, "type");
            return validate_err_value(v, "\"function\"", type);
        }
        if (validate_require(v, tool, "function", FG_JOBJECT, &fn)
            != FG_OK) {
            return FG_ERR;
        }
        mark = validate_push(v, "function");
        if (validate_require(v, fn, "name", FG_JSTRING, &name) != FG_OK) {
            return FG_ERR;
        }
        if (!validate_function_name(doc, name)) {
            validate_push(v, "name");
            return validate_err_value(v, "1 to 64 characters from a-z, "
                                      "A-Z, 0-9, '_' and '-'", name);
        }
        params = fg_jdoc_value(doc, fn, "parameters");
        if (params != FG_JNONE && fg_jdoc_type(doc, params) != FG_JOBJECT) {
            validate_push(v, "parameters");
            return validate_err_type(v, "an object", params);
        }
        validate_pop(v, mark);
        validate_pop(v, item);
    }
    validate_pop(v, 0);
    return FG_OK;
}

/* "none", "auto", "required" or {type: "function", function: {name}}. */
static int
validate_tool_choice(validate_t *v, int root)
{
    static const char *const modes[] = { "none", "auto", "required" };
    const fg_jdoc_t *doc = v->doc;
    int              tc, type, fn, name;

    tc = fg_jdoc_value(doc, root, "tool_choice");
    if (tc == FG_JNONE) {
        return FG_OK;
    }
    validate_push(v, "tool_choice");
    if (fg_jdoc_type(doc, tc) == FG_JSTRING) {
        if (!validate_one_of(doc, tc, modes, VALIDATE_COUNT(modes))) {
            return validate_err_value(v, "one of none, auto or required, "
                                      "or an object naming a function", tc);
        }
        validate_pop(v, 0);
        return FG_OK;
    }
    if (fg_jdoc_type(doc, tc) != FG_JOBJECT) {
        return validate_err_type(v, "a string or an object", tc);
    }
    if (validate_require(v, tc, "type", FG_JSTRING, &type) != FG_OK) {
        return FG_ERR;
    }
    if (!fg_jdoc_str_eq(doc, type, "function")) {
        validate_push(v, "type");
        return validate_err_value(v, "\"function\"", type);
    }
    if (validate_require(v, tc, "function", FG_JOBJECT, &fn) != FG_OK) {
        return FG_ERR;
    }
    validate_push(v, "function");
    if (validate_require(v, fn, "name", FG_JSTRING, &name) != FG_OK) {
        return FG_ERR;
    }
    validate_pop(v, 0);
    return FG_OK;
}

/* An object, only with "stream": true; include_usage a boolean. */
static int
validate_stream_options(validate_t *v, int root)
{
    const fg_jdoc_t *doc = v->doc;
    int              so, usage;

    so = fg_jdoc_value(doc, root, "stream_options");
    if (so == FG_JNONE) {
        return FG_OK;
    }
    if (fg_jdoc_type(doc, fg_jdoc_get(doc, root, "stream")) != FG_JTRUE) {
        return fg_err_set(v->err, FG_E_INVALID_VALUE, "stream_options",
                          "Invalid value for 'stream_options': it is only "
                          "allowed when 'stream' is true.");
    }
    validate_push(v, "stream_options");
    if (fg_jdoc_type(doc, so) != FG_JOBJECT) {
        return validate_err_type(v, "an object", so);
    }
    usage = fg_jdoc_value(doc, so, "include_usage");
    if (usage != FG_JNONE && fg_jdoc_type(doc, usage) != FG_JTRUE
        && fg_jdoc_type(doc, usage) != FG_JFALSE) {
        validate_push(v, "include_usage");
        return validate_err_type(v, "a boolean", usage);
    }
    validate_pop(v, 0);
    return FG_OK;
}

/* An object mapping token ids to numbers in -100..100. */
static int
validate_logit_bias(validate_t *v, int root)
{
    const fg_jdoc_t *doc = v->doc;
    int              lb, k, value;
    fg_jtype_t       type;
    double           d = 0;
    char             key[VALIDATE_QUOTE_MAX * 4], quoted[VALIDATE_QUOTE_MAX + 4];
    char             path[FG_ERR_PARAM_MAX];

    lb = fg_jdoc_value(doc, root, "logit_bias");
    if (lb == FG_JNONE) {
        return FG_OK;
    }
    if (fg_jdoc_type(doc, lb) != FG_JOBJECT) {
        validate_push(v, "logit_bias");
        return validate_err_type(v, "an object", lb);
    }
    for (k = fg_jdoc_first(doc, lb); k != FG_JNONE;
         k = fg_jdoc_next(doc, lb, k)) {
        value = k + 1;
        type = fg_jdoc_type(doc, value);
        if (type == FG_JINT || type == FG_JREAL) {
            d = type == FG_JINT ? (double) doc->nodes[value].num.i
                                : doc->nodes[value].num.d;
            if (isfinite(d) && d >= -100 && d <= 100) {
                continue;
            }
        }
        fg_jdoc_str_copy(doc, k, key, sizeof(key));
        validate_quote(quoted, sizeof(quoted), key);
        snprintf(path, sizeof(path), "logit_bias.%s", quoted);
        if (type != FG_JINT && type != FG_JREAL) {
            return fg_err_set(v->err, FG_E_INVALID_TYPE, path,
                              "Invalid type for '%s': expected a number, "
                              "got %s.", path, validate_describe(doc, value));
        }
        return fg_err_set(v->err, FG_E_OUT_OF_RANGE, path,
                          "Invalid value for '%s': expected a number "
                          "between -100 and 100, got %.10g.", path, d);
    }
    return FG_OK;
}

const char *
fg_tokens_field_name(fg_tokens_field_t f)
{
    return f == FG_TOKENS_FIELD_MAX_COMPLETION_TOKENS
           ? "max_completion_tokens" : "max_tokens";
}

/* The bytes of node @node's value in the body; absent when FG_JNONE. */
static fg_span_t
validate_span(const fg_jdoc_t *doc, int node)
{
    fg_span_t span = { 0, 0 };

    if (node != FG_JNONE) {
        span.at = doc->nodes[node].start;
        span.len = doc->nodes[node].len;
    }
    return span;
}

/* Only after every check passed: the facts later stages need. */
static void
validate_fill(const fg_jdoc_t *doc, fg_chat_request_t *out)
{
    int        so, node;
    long long  mt = 0, mct = 0;

    out->model = fg_jdoc_get(doc, 0, "model");
    out->is_stream = fg_jdoc_type(doc, fg_jdoc_get(doc, 0, "stream"))
                     == FG_JTRUE;
    so = fg_jdoc_get(doc, 0, "stream_options");
    out->include_usage = out->is_stream
        && fg_jdoc_type(doc, fg_jdoc_get(doc, so, "include_usage"))
           == FG_JTRUE;

    node = fg_jdoc_get(doc, 0, "max_tokens");
    out->max_tokens_span = validate_span(doc, node);
    if (fg_jdoc_type(doc, node) == FG_JINT) {
        mt = doc->nodes[node].num.i;
    }
    node = fg_jdoc_get(doc, 0, "max_completion_tokens");
    out->max_completion_tokens_span = validate_span(doc, node);
    if (fg_jdoc_type(doc, node) == FG_JINT) {
        mct = doc->nodes[node].num.i;
    }
    /* A member present, even as null, is the name the client used. */
    out->tokens_field = out->max_completion_tokens_span.len > 0
                        ? FG_TOKENS_FIELD_MAX_COMPLETION_TOKENS
                        : out->max_tokens_span.len > 0
                          ? FG_TOKENS_FIELD_MAX_TOKENS
                          : FG_TOKENS_FIELD_NONE;
    /*
     * The larger one is the worst case: an upstream may honour either, and
     * the reservation must cover what it could produce.
     */
    out->max_tokens = mct > mt ? mct : mt;

    node = fg_jdoc_get(doc, 0, "n");
    out->n = fg_jdoc_type(doc, node) == FG_JINT ? doc->nodes[node].num.i : 1;

    node = fg_jdoc_get(doc, fg_jdoc_get(doc, 0, "response_format"), "type");
    out->xf.json_mode = fg_jdoc_str_eq(doc, node, "json_object")
                        || fg_jdoc_str_eq(doc, node, "json_schema");
}

/*
 * Fetches the required member @key of @obj, of type @type (an object,
 * array or string), into @value. Missing or null is FG_E_REQUIRED_FIELD,
 * another type FG_E_INVALID_TYPE, both at the current path + @key.
 */
static int
validate_require(validate_t *v, int obj, const char *key, fg_jtype_t type,
                 int *value)
{
    int node = fg_jdoc_value(v->doc, obj, key);

    if (node == FG_JNONE) {
        validate_push(v, key);
        return validate_err_required(v);
    }
    if (fg_jdoc_type(v->doc, node) != type) {
        validate_push(v, key);
        return validate_err_type(v, validate_type_name(type), node);
    }
    *value = node;
    return FG_OK;
}

static int
validate_one_of(const fg_jdoc_t *doc, int s, const char *const *set,
                size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (fg_jdoc_str_eq(doc, s, set[i])) {
            return 1;
        }
    }
    return 0;
}

/* ^[a-zA-Z0-9_-]{1,64}$ */
static int
validate_function_name(const fg_jdoc_t *doc, int s)
{
    char   name[80];
    size_t i, len = fg_jdoc_str_copy(doc, s, name, sizeof(name));

    if (len < 1 || len > 64) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-'))
        {
            return 0;
        }
    }
    return 1;
}

/*
 * Appends ".member" (or "member" at the top) to the path; returns the
 * length to go back to. A path that would not fit is cut, never
 * overflowed.
 */
static size_t
validate_push(validate_t *v, const char *member)
{
    size_t mark = v->len, n = strlen(member);

    if (v->len > 0 && v->len + 1 < sizeof(v->path)) {
        v->path[v->len++] = '.';
    }
    if (v->len + n >= sizeof(v->path)) {
        n = sizeof(v->path) - 1 - v->len;
    }
    memcpy(v->path + v->len, member, n);
    v->len += n;
    v->path[v->len] = '\0';
    return mark;
}

static size_t
validate_push_index(validate_t *v, size_t i)
{
    size_t mark = v->len;
    char   digits[24];
    int    n = 0;

    digits[n++] = ']';
    do {
        digits[n++] = (char) ('0' + i % 10);
        i /= 10;
    } while (i > 0);
    digits[n++] = '[';
    while (n > 0 && v->len + 1 < sizeof(v->path)) {
        v->path[v->len++] = digits[--n];
    }
    v->path[v->len] = '\0';
    return mark;
}

static void
validate_pop(validate_t *v, size_t mark)
{
    v->len = mark;
    v->path[mark] = '\0';
}

/*
 * Copies client string @s into @dst for an error message: at most
 * VALIDATE_QUOTE_MAX bytes, cut before a UTF-8 sequence that would not
 * fit (the parser has already proven @s valid UTF-8), control bytes
 * replaced by '?', and "..." when cut. @size must be at least
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

/* validate_quote() of string node @s (decoded; long strings cut first). */
static void
validate_quote_node(const fg_jdoc_t *doc, int s, char *dst, size_t size)
{
    /* Room for the quoted bytes plus one more whole UTF-8 sequence. */
    char copy[VALIDATE_QUOTE_MAX * 2];

    fg_jdoc_str_copy(doc, s, copy, sizeof(copy));
    validate_quote(dst, size, copy);
}

static const char *
validate_describe(const fg_jdoc_t *doc, int node)
{
    switch (fg_jdoc_type(doc, node)) {
    case FG_JOBJECT:
        return "an object";
    case FG_JARRAY:
        return "an array";
    case FG_JSTRING:
        return "a string";
    case FG_JINT:
        return "an integer";
    case FG_JREAL:
        return "a decimal number";
    case FG_JTRUE:
    case FG_JFALSE:
        return "a boolean";
    case FG_JNULL:
        return "null";
    }
    return "an unknown value";
}

/* The expectation for validate_require()'s @type. */
static const char *
validate_type_name(fg_jtype_t type)
{
    switch (type) {
    case FG_JOBJECT:
        return "an object";
    case FG_JARRAY:
        return "an array";
    default:
        return "a string";
    }
}

static int
validate_err_required(validate_t *v)
{
    return fg_err_set(v->err, FG_E_REQUIRED_FIELD, v->path,
                      "Missing required parameter: '%s'.", v->path);
}

static int
validate_err_type(validate_t *v, const char *expected, int got)
{
    return fg_err_set(v->err, FG_E_INVALID_TYPE, v->path,
                      "Invalid type for '%s': expected %s, got %s.", v->path,
                      expected, validate_describe(v->doc, got));
}

static int
validate_err_value(validate_t *v, const char *expected, int got)
{
    char quoted[VALIDATE_QUOTE_MAX + 4];

    validate_quote_node(v->doc, got, quoted, sizeof(quoted));
    return fg_err_set(v->err, FG_E_INVALID_VALUE, v->path,
                      "Invalid value for '%s': expected %s, got '%s'.",
                      v->path, expected, quoted);
}
