#ifndef FG_WORKER_VALIDATE_H
#define FG_WORKER_VALIDATE_H

/*
 * The first pipeline stage of POST /v1/chat/completions: the body's bytes
 * become a validated jansson object plus the few facts the later stages
 * need (model, streaming, token limits). The object is what the worker
 * re-serialises for the upstream; client bytes are never forwarded as
 * they came. Unknown fields and provider extensions are kept; fields that
 * would steer the gateway's provider credentials are refused.
 */

#include <stddef.h>

#include <jansson.h>

#include "common/errors.h"

#define FG_VALIDATE_N_MAX           128          /* choices per request */
#define FG_VALIDATE_MAX_TOKENS_MAX  2147483647LL /* no model comes close;
                                                    keeps n * max_tokens
                                                    far from overflow */

typedef struct {
    const char *model;          /* borrowed from the returned object */
    int         is_stream;      /* "stream": true */
    int         include_usage;  /* stream and
                                   stream_options.include_usage == true */
    long long   max_tokens;     /* the larger of max_completion_tokens and
                                   max_tokens when both are given, else the
                                   one given; 0 if neither */
    long long   n;              /* 1 when absent */
} fg_chat_request_t;

/*
 * Parses @len bytes of @body (no NUL needed) and validates them as an
 * OpenAI chat-completions request. @max_depth bounds object/array nesting
 * (limits.max_json_depth) and is checked before the parser runs.
 *
 * Returns an owned json_t * (free with json_decref), the whole validated
 * object with every field kept as sent, and fills @out (which may be NULL)
 * with pointers borrowed from that object. On any violation returns NULL
 * with @err set (code, JSON path of the offending field in @err->param,
 * a sentence naming field, expectation and what was given, quoting at
 * most 64 bytes of client input) and @out untouched.
 *
 * Codes: FG_E_EMPTY_BODY, FG_E_NESTING_TOO_DEEP, FG_E_DUPLICATE_KEY,
 * FG_E_INVALID_JSON (parsing, param ""); FG_E_FORBIDDEN_FIELD (api_base,
 * base_url, api_key and the other routing fields, at top level or inside
 * extra_body); FG_E_REQUIRED_FIELD, FG_E_INVALID_TYPE, FG_E_OUT_OF_RANGE,
 * FG_E_INVALID_VALUE (the schema). docs/api.md lists every rule.
 *
 * Never crashes and never recurses on client input deeper than the
 * schema's own shape. Worker process; does not block.
 */
json_t *fg_validate_chat_body(const char *body, size_t len, size_t max_depth,
                              fg_chat_request_t *out, fg_err_t *err);

#endif
