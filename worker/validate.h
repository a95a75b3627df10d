#ifndef FG_WORKER_VALIDATE_H
#define FG_WORKER_VALIDATE_H

/*
 * The first pipeline stage of POST /v1/chat/completions: the body's bytes
 * become a validated document (common/wire/jdoc) plus the few facts the later
 * stages need (model, streaming, token limits). The bytes that were
 * checked are the bytes the worker forwards, with only its own edits
 * (chat.c). Unknown fields and provider extensions are kept; fields that
 * would steer the gateway's provider credentials are refused.
 */

#include <stddef.h>

#include "common/base/errors.h"
#include "common/wire/jdoc.h"

#define FG_VALIDATE_N_MAX           128          /* choices per request */
#define FG_VALIDATE_MAX_TOKENS_MAX  2147483647LL /* no model comes close;
                                                    keeps n * max_tokens
                                                    far from overflow */

typedef struct {
    int         model;          /* node of the "model" string in the doc */
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
 * (limits.max_json_depth) as the parser goes.
 *
 * Returns FG_OK with @doc holding the parsed body (the caller frees it
 * with fg_jdoc_free; it borrows @body, which must outlive it) and @out
 * (which may be NULL) filled. On any violation returns FG_ERR with @doc
 * holding nothing, @err set (code, JSON path of the offending field in
 * @err->param, a sentence naming field, expectation and what was given,
 * quoting at most 64 bytes of client input) and @out untouched.
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
int fg_validate_chat_body(const char *body, size_t len, size_t max_depth,
                          fg_jdoc_t *doc, fg_chat_request_t *out,
                          fg_err_t *err);

#endif
