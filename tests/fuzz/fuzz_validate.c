/*
 * fuzz_validate.c: libFuzzer target for the chat-completions validator
 * (worker/validate.c, common/wire/json.c).
 *
 * Beyond "no crash, no sanitizer report, no leak", it checks the
 * properties of reliability.md 4.1:
 *   1) a rejection carries a validation code and renders to a valid JSON
 *      error body (never the internal_error fallback that invalid UTF-8
 *      in a message would force);
 *   2) an accepted body was no deeper than the limit, holds no routing
 *      field at top level or in extra_body, and its facts are in range
 *      (non-empty model, 1 <= n <= 128, max_tokens within bounds,
 *      include_usage only when streaming);
 *   3) the parser (common/wire/jdoc) accepts exactly what jansson accepts with
 *      JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, and the facts it reads
 *      (model, stream, n, token limits) are the ones jansson reads from
 *      the same bytes: what goes upstream is what was priced;
 *   4) what transforms, plugins and reasoning say (routereq.h) is in
 *      range: a reasoning object was an object, its budget is below each
 *      token limit given, and it never stands beside reasoning_effort.
 *   5) the embeddings and legacy completions validators, on the same
 *      bytes, refuse with a validation code and accept only an object
 *      whose inputs and generated choices are in range;
 *   6) a Responses request the translator accepts becomes a chat
 *      completion the chat validator accepts (at two levels deeper).
 * A broken property aborts, which libFuzzer reports as a crash.
 *
 * Not checked here: pricing and reservation (admit stage, its own target).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/base/errors.h"
#include "common/wire/jdoc.h"
#include "common/wire/json.h"
#include "worker/responses_req.h"
#include "worker/validate.h"

#define FUZZ_DEPTH 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_routing_fields[] = {
    "api_base", "base_url", "api_url", "api_host", "api_key", "api_version",
    "endpoint", "azure_endpoint", "custom_llm_provider", "extra_headers",
    "extra_query", "provider_url",
};

static void
fuzz_check(int ok)
{
    if (!ok) {
        abort();
    }
}

static int
fuzz_has_routing_field(json_t *obj)
{
    const char *key;
    json_t     *value;
    size_t      i;

    json_object_foreach(obj, key, value) {
        for (i = 0; i < sizeof(fuzz_routing_fields) / sizeof(char *); i++) {
            if (strcasecmp(key, fuzz_routing_fields[i]) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

static void
fuzz_check_rejection(const fg_err_t *err)
{
    char    body[FG_ERROR_BODY_MAX];
    json_t *parsed;

    fuzz_check(err->code == FG_E_EMPTY_BODY
               || err->code == FG_E_NESTING_TOO_DEEP
               || err->code == FG_E_DUPLICATE_KEY
               || err->code == FG_E_INVALID_JSON
               || err->code == FG_E_FORBIDDEN_FIELD
               || err->code == FG_E_REQUIRED_FIELD
               || err->code == FG_E_INVALID_TYPE
               || err->code == FG_E_OUT_OF_RANGE
               || err->code == FG_E_INVALID_VALUE);
    fg_error_render(err, body, sizeof(body));
    fuzz_check(strstr(body, "\"internal_error\"") == NULL);
    parsed = json_loads(body, 0, NULL);
    fuzz_check(parsed != NULL);
    json_decref(parsed);
}

/* Property 5: the other APIs' validators over the same bytes. */
static void
fuzz_other_apis(const uint8_t *data, size_t size)
{
    fg_chat_request_t req;
    fg_err_t          err;
    fg_jdoc_t         doc;

    memset(&err, 0, sizeof(err));
    if (fg_validate_embeddings_body((const char *) data, size, FUZZ_DEPTH,
                                    &doc, &req, &err) == FG_OK) {
        fuzz_check(fg_jdoc_type(&doc, 0) == FG_JOBJECT);
        fuzz_check(req.inputs >= 1 && req.inputs <= FG_VALIDATE_INPUTS_MAX);
        fuzz_check(req.n == 1 && req.max_tokens == 0 && !req.is_stream);
        fg_jdoc_free(&doc);
    } else {
        fuzz_check_rejection(&err);
    }
    memset(&err, 0, sizeof(err));
    if (fg_validate_completions_body((const char *) data, size, FUZZ_DEPTH,
                                     &doc, &req, &err) == FG_OK) {
        fuzz_check(fg_jdoc_type(&doc, 0) == FG_JOBJECT);
        fuzz_check(req.inputs >= 1 && req.inputs <= FG_VALIDATE_INPUTS_MAX);
        fuzz_check(req.n >= req.inputs
                   && req.n <= req.inputs * FG_VALIDATE_BEST_OF_MAX
                                 * FG_VALIDATE_N_MAX);
        fuzz_check(req.max_tokens >= 0
                   && req.max_tokens <= FG_VALIDATE_MAX_TOKENS_MAX);
        fuzz_check(!req.include_usage || req.is_stream);
        fg_jdoc_free(&doc);
    } else {
        fuzz_check_rejection(&err);
    }
}

/* Property 6: a Responses request's translation (nothing stored). */
static void
fuzz_responses(const uint8_t *data, size_t size)
{
    fg_responses_req_t rq;
    fg_chat_request_t  req;
    fg_err_t           err;
    fg_jdoc_t          doc, chat_doc;
    char              *chat = NULL, *context = NULL, *items;
    size_t             chat_len = 0, context_len = 0;
    fg_jdoc_t          items_doc;

    memset(&err, 0, sizeof(err));
    if (fg_responses_to_chat((const char *) data, size, FUZZ_DEPTH, NULL,
                             NULL, &rq, &doc, &chat, &chat_len, &context,
                             &context_len, &err)
        != FG_OK) {
        fuzz_check(chat == NULL && context == NULL);
        return;
    }
    fuzz_check(chat != NULL && strlen(chat) == chat_len);
    /* The kept conversation is items a store can give back as an array. */
    fuzz_check(context != NULL && context_len <= size + 64);
    items = malloc(context_len + 3);
    fuzz_check(items != NULL);
    items[0] = '[';
    memcpy(items + 1, context, context_len);
    items[context_len + 1] = ']';
    items[context_len + 2] = '\0';
    fuzz_check(fg_jdoc_parse(&items_doc, items, context_len + 2,
                             FUZZ_DEPTH + 1, NULL) == FG_OK);
    fuzz_check(fg_jdoc_type(&items_doc, 0) == FG_JARRAY);
    fg_jdoc_free(&items_doc);
    free(items);
    free(context);
    memset(&err, 0, sizeof(err));
    fuzz_check(fg_validate_chat_body(chat, chat_len, FUZZ_DEPTH + 2,
                                     &chat_doc, &req, &err) == FG_OK);
    fuzz_check(req.is_stream == rq.is_stream);
    fg_jdoc_free(&chat_doc);
    fg_jdoc_free(&doc);
    free(chat);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fg_chat_request_t req;
    fg_err_t          err;
    fg_jdoc_t         doc;
    json_t           *root, *extra;
    json_error_t      jerr;
    char             *model;
    int               ok, shallow;

    fuzz_other_apis(data, size);
    fuzz_responses(data, size);
    memset(&err, 0, sizeof(err));
    ok = fg_validate_chat_body((const char *) data, size, FUZZ_DEPTH, &doc,
                               &req, &err) == FG_OK;

    /* The parser accepts exactly what jansson accepts (within depth). */
    shallow = !fg_json_depth_exceeds((const char *) data, size, FUZZ_DEPTH);
    root = json_loadb((const char *) data, size,
                      JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!ok) {
        fuzz_check_rejection(&err);
        /* jansson 2.14 takes a top-level number followed by a NUL byte
         * ("7\0") as the number; jdoc refuses the NUL, as it does
         * everywhere else. No body with a NUL is compared. */
        if ((err.code == FG_E_INVALID_JSON || err.code == FG_E_DUPLICATE_KEY
             || err.code == FG_E_EMPTY_BODY)
            && memchr(data, '\0', size) == NULL) {
            fuzz_check(root == NULL || !shallow);
        }
        if (shallow && root == NULL) {
            fuzz_check(err.code == FG_E_INVALID_JSON
                       || err.code == FG_E_DUPLICATE_KEY
                       || err.code == FG_E_EMPTY_BODY);
        }
        json_decref(root);
        return 0;
    }

    fuzz_check(shallow);
    fuzz_check(json_is_object(root));
    fuzz_check(!fuzz_has_routing_field(root));
    extra = json_object_get(root, "extra_body");
    fuzz_check(!json_is_object(extra) || !fuzz_has_routing_field(extra));
    fuzz_check(req.n >= 1 && req.n <= FG_VALIDATE_N_MAX);
    fuzz_check(req.max_tokens >= 0
               && req.max_tokens <= FG_VALIDATE_MAX_TOKENS_MAX);
    fuzz_check(!req.include_usage || req.is_stream);

    /* The facts are the ones jansson reads from the same bytes: what goes
     * upstream (these bytes) is what was priced. */
    model = fg_jdoc_str_dup(&doc, req.model);
    fuzz_check(model != NULL && model[0] != '\0');
    fuzz_check(strcmp(model, json_string_value(json_object_get(root,
                                                               "model")))
               == 0);
    fuzz_check(req.is_stream == json_is_true(json_object_get(root,
                                                             "stream")));
    fuzz_check(!json_is_integer(json_object_get(root, "n"))
               || req.n == json_integer_value(json_object_get(root, "n")));
    fuzz_check(req.max_tokens >= json_integer_value(json_object_get(
                   root, "max_tokens")));
    fuzz_check(req.max_tokens >= json_integer_value(json_object_get(
                   root, "max_completion_tokens")));

    fuzz_check(req.xf.compress >= -1 && req.xf.compress <= 1);
    fuzz_check(req.xf.heal >= -1 && req.xf.heal <= 1);
    fuzz_check(req.xf.has_reasoning
               == json_is_object(json_object_get(root, "reasoning")));
    fuzz_check(!req.xf.has_reasoning
               || json_is_null(json_object_get(root, "reasoning_effort"))
               || json_object_get(root, "reasoning_effort") == NULL);
    fuzz_check(req.xf.reasoning_max_tokens >= 0
               && (req.xf.reasoning_max_tokens == 0
                   || req.max_tokens == 0
                   || req.xf.reasoning_max_tokens < req.max_tokens));
    fuzz_check(req.xf.reasoning_effort.s == NULL
               || req.xf.reasoning_max_tokens == 0);

    free(model);
    fg_jdoc_free(&doc);
    json_decref(root);
    return 0;
}
