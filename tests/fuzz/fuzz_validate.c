/*
 * fuzz_validate.c: libFuzzer target for the chat-completions validator
 * (worker/validate.c, common/json.c).
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
 *   3) the re-serialised object is accepted again, equal to the first,
 *      with the same facts: what goes upstream is what was priced.
 * A broken property aborts, which libFuzzer reports as a crash.
 *
 * Not checked here: pricing and reservation (admit stage, its own target).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/errors.h"
#include "common/json.h"
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fg_chat_request_t req, again_req;
    fg_err_t          err;
    json_t           *root, *again, *extra;
    char             *dumped;

    memset(&err, 0, sizeof(err));
    root = fg_validate_chat_body((const char *) data, size, FUZZ_DEPTH, &req,
                                 &err);
    if (root == NULL) {
        fuzz_check_rejection(&err);
        return 0;
    }

    fuzz_check(!fg_json_depth_exceeds((const char *) data, size,
                                      FUZZ_DEPTH));
    fuzz_check(json_is_object(root));
    fuzz_check(!fuzz_has_routing_field(root));
    extra = json_object_get(root, "extra_body");
    fuzz_check(!json_is_object(extra) || !fuzz_has_routing_field(extra));
    fuzz_check(req.model != NULL && req.model[0] != '\0');
    fuzz_check(req.n >= 1 && req.n <= FG_VALIDATE_N_MAX);
    fuzz_check(req.max_tokens >= 0
               && req.max_tokens <= FG_VALIDATE_MAX_TOKENS_MAX);
    fuzz_check(!req.include_usage || req.is_stream);

    dumped = json_dumps(root, JSON_COMPACT);
    fuzz_check(dumped != NULL);
    again = fg_validate_chat_body(dumped, strlen(dumped), FUZZ_DEPTH,
                                  &again_req, &err);
    fuzz_check(again != NULL);
    fuzz_check(json_equal(root, again));
    fuzz_check(strcmp(req.model, again_req.model) == 0);
    fuzz_check(req.n == again_req.n);
    fuzz_check(req.max_tokens == again_req.max_tokens);
    fuzz_check(req.is_stream == again_req.is_stream);
    fuzz_check(req.include_usage == again_req.include_usage);

    json_decref(again);
    free(dumped);
    json_decref(root);
    return 0;
}
