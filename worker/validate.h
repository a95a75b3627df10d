#ifndef FG_WORKER_VALIDATE_H
#define FG_WORKER_VALIDATE_H

/*
 * The first pipeline stage of POST /v1/chat/completions: the body's bytes
 * become a validated document (common/wire/jdoc) plus the few facts the later
 * stages need (model, streaming, token limits). The bytes that were
 * checked are the bytes the worker forwards, with only its own edits
 * (upstream_body.c). Unknown fields and provider extensions are kept;
 * fields that would steer the gateway's provider credentials are refused.
 *
 * Validation records which token limit the client named and where its
 * value sits in the body, so a lowered max_tokens (meter.c) is written at
 * that span without looking the field up again.
 */

#include <stddef.h>
#include <stdint.h>

#include "common/base/errors.h"
#include "common/wire/jdoc.h"
#include "worker/routereq.h"
#include "worker/verdict.h"

typedef struct fg_req_s fg_req_t;

#define FG_VALIDATE_N_MAX           128          /* choices per request */
#define FG_VALIDATE_INPUTS_MAX      2048         /* embeddings inputs,
                                                    as OpenAI */
#define FG_VALIDATE_DIMENSIONS_MAX  65536        /* embeddings */
#define FG_VALIDATE_BEST_OF_MAX     20           /* completions, as
                                                    OpenAI */
#define FG_VALIDATE_TOKEN_ID_MAX    2147483647LL /* a token id in input */
#define FG_VALIDATE_MAX_TOKENS_MAX  2147483647LL /* no model comes close;
                                                    keeps n * max_tokens
                                                    far from overflow */

/* The token limit the client named; OpenAI reads max_completion_tokens
 * when both are given. */
typedef enum {
    FG_TOKENS_FIELD_NONE = 0,
    FG_TOKENS_FIELD_MAX_TOKENS,             /* "max_tokens" only */
    FG_TOKENS_FIELD_MAX_COMPLETION_TOKENS   /* "max_completion_tokens"
                                               (max_tokens maybe too) */
} fg_tokens_field_t;

/* Where a value is in the body: @len bytes from @at; len 0 = absent. */
typedef struct {
    size_t      at;
    size_t      len;
} fg_span_t;

typedef struct {
    int         model;          /* node of the "model" string in the doc */
    int         is_stream;      /* "stream": true */
    int         include_usage;  /* stream and
                                   stream_options.include_usage == true */
    long long   max_tokens;     /* the larger of max_completion_tokens and
                                   max_tokens when both are given, else the
                                   one given; 0 if neither */
    fg_tokens_field_t tokens_field;     /* the name the error and the
                                           upstream go by */
    fg_span_t   max_tokens_span;        /* value of "max_tokens" (null
                                           included), or absent */
    fg_span_t   max_completion_tokens_span;     /* likewise */
    long long   n;              /* 1 when absent */
    int64_t     inputs;         /* embeddings: the inputs; 0 for chat */
    int         wants_base64;   /* embeddings: encoding_format base64 */
    fg_routereq_t route;        /* the gateway's routing fields */
    fg_transformreq_t xf;       /* transforms, plugins, reasoning and the
                                   JSON mode (routereq.h) */
} fg_chat_request_t;

/* "max_tokens" or "max_completion_tokens": the field @f names (NONE reads
 * as max_tokens, the older name). Static storage. */
const char *fg_tokens_field_name(fg_tokens_field_t f);

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
/*
 * The validate stage of POST /v1/chat/completions: checks the content
 * type, copies the body (the document points into the copy until the
 * request ends: the access log reads the messages from it), validates it
 * with fg_validate_chat_body() and fills req->validated, its only writer.
 * FG_VERDICT_CONTINUE, or FG_VERDICT_REFUSE with @v set (415, the 400s
 * above, 500 when out of memory, 503 service_unavailable when the bodies
 * the worker's requests hold would pass limits.worker_request_bytes).
 * Only while http.c dispatches @req.
 */
fg_verdict_kind_t fg_validate_request(fg_req_t *req, fg_verdict_t *v);

/*
 * Frees the parsed document (and the body, unless @keep_body or the
 * access log keeps content) once nothing reads them any more: the
 * pipeline calls it when the upstream body is built, keeping the body
 * while another endpoint may still be tried. The nodes of a body of small values cost
 * 16 times its bytes; a request waiting on its provider keeps none.
 * Idempotent.
 */
void fg_validate_drop_doc(fg_req_t *req, int keep_body);

/*
 * Parses the body fg_validate_drop_doc() kept (@keep_body) again, for an
 * attempt at another endpoint: the same bytes give the same document.
 * FG_OK (a no-op while the document is held), or FG_ERR when the body is
 * gone.
 */
int fg_validate_reparse(fg_req_t *req);

/*
 * Replaces the request's body with @body (@len bytes, malloc'd, NUL-
 * terminated: the compressed prompt, common/tokens/compress.h), which it
 * takes whatever the result: validated as the client's was, it becomes
 * the body and document every later stage reads. FG_OK, or FG_ERR (the
 * new body did not validate; it is freed and the old one kept).
 */
int fg_validate_replace_body(fg_req_t *req, char *body, size_t len);

/* Frees what fg_validate_request() kept (body, document, model name).
 * Accepts a request it never saw; idempotent. */
void fg_validate_release(fg_req_t *req);

int fg_validate_chat_body(const char *body, size_t len, size_t max_depth,
                          fg_jdoc_t *doc, fg_chat_request_t *out,
                          fg_err_t *err);

/*
 * fg_validate_chat_body() for a POST /v1/embeddings body: "model"; "input"
 * a non-empty string, or 1 to FG_VALIDATE_INPUTS_MAX non-empty strings,
 * token ids (one input) or non-empty token arrays; "encoding_format"
 * float or base64; "dimensions" 1 to FG_VALIDATE_DIMENSIONS_MAX; "user";
 * the routing fields (transforms, plugins and reasoning are refused: they
 * are chat's). @out gets the model, n 1, the inputs and wants_base64; no
 * transform is on.
 */
int fg_validate_embeddings_body(const char *body, size_t len,
                                size_t max_depth, fg_jdoc_t *doc,
                                fg_chat_request_t *out, fg_err_t *err);

/*
 * fg_validate_chat_body() for a legacy POST /v1/completions body:
 * "model"; "prompt" a string or 1 to FG_VALIDATE_INPUTS_MAX strings,
 * token ids (one prompt) or token arrays; "suffix", "max_tokens" (0 and
 * up), "n", "best_of" (at least n, 1 to FG_VALIDATE_BEST_OF_MAX, not
 * streamed above 1), "stream", "stream_options", "logprobs" (0 to 5),
 * "echo", "stop", the penalties, "seed", "user", "logit_bias"; the
 * routing fields (chat's transforms are refused). @out's n is what is
 * generated: the prompts times max(n, best_of); inputs the prompts.
 */
int fg_validate_completions_body(const char *body, size_t len,
                                 size_t max_depth, fg_jdoc_t *doc,
                                 fg_chat_request_t *out, fg_err_t *err);

#endif
