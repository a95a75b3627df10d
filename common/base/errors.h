#ifndef FG_COMMON_ERRORS_H
#define FG_COMMON_ERRORS_H

/*
 * The one table of client-visible errors. Every error the gateway returns is
 * an fg_error_code_t; the table maps it to an HTTP status, an OpenAI error
 * `type` and a `code` string. The worker renders every error body from it,
 * and docs/api.md lists the same table.
 *
 * fg_err_t carries a code plus a formatted message (and the offending
 * parameter, when there is one) out of library code, which never logs
 * (Redis's anet err buffers, hiredis's errstr).
 */

#include <stddef.h>

#define FG_OK   0
#define FG_ERR  (-1)

#define FG_ERR_MSG_MAX    512
#define FG_ERR_PARAM_MAX  128

/* X-macro: name, HTTP status, OpenAI type, code string. */
#define FG_ERROR_LIST(X)                                                    \
    X(FG_E_NONE, 200, "", "")                                               \
    X(FG_E_INTERNAL, 500, "api_error", "internal_error")                    \
    X(FG_E_REQUIRED_FIELD, 400, "invalid_request_error",                    \
      "VALIDATION_REQUIRED_FIELD")                                          \
    X(FG_E_INVALID_TYPE, 400, "invalid_request_error",                      \
      "VALIDATION_INVALID_TYPE")                                            \
    X(FG_E_OUT_OF_RANGE, 400, "invalid_request_error",                      \
      "VALIDATION_OUT_OF_RANGE")                                            \
    X(FG_E_INVALID_VALUE, 400, "invalid_request_error",                     \
      "VALIDATION_INVALID_VALUE")                                           \
    X(FG_E_FORBIDDEN_FIELD, 400, "invalid_request_error",                   \
      "VALIDATION_FORBIDDEN_FIELD")                                         \
    X(FG_E_DUPLICATE_KEY, 400, "invalid_request_error",                     \
      "VALIDATION_DUPLICATE_KEY")                                           \
    X(FG_E_INVALID_JSON, 400, "invalid_request_error",                      \
      "VALIDATION_INVALID_JSON")                                            \
    X(FG_E_NESTING_TOO_DEEP, 400, "invalid_request_error",                  \
      "VALIDATION_NESTING_TOO_DEEP")                                        \
    X(FG_E_EMPTY_BODY, 400, "invalid_request_error",                        \
      "VALIDATION_EMPTY_BODY")                                              \
    X(FG_E_BODY_TOO_LARGE, 413, "invalid_request_error",                    \
      "VALIDATION_BODY_TOO_LARGE")                                          \
    X(FG_E_MALFORMED_HTTP, 400, "invalid_request_error", "malformed_http")  \
    X(FG_E_HEADERS_TOO_LARGE, 431, "invalid_request_error",                 \
      "headers_too_large")                                                  \
    X(FG_E_NOT_IMPLEMENTED, 501, "invalid_request_error",                   \
      "not_implemented")                                                    \
    X(FG_E_HTTP_VERSION, 505, "invalid_request_error",                      \
      "http_version_not_supported")                                         \
    X(FG_E_UNSUPPORTED_MEDIA_TYPE, 415, "invalid_request_error",            \
      "VALIDATION_UNSUPPORTED_MEDIA_TYPE")                                  \
    X(FG_E_NOT_FOUND, 404, "invalid_request_error", "not_found")            \
    X(FG_E_METHOD_NOT_ALLOWED, 405, "invalid_request_error",                \
      "method_not_allowed")                                                 \
    X(FG_E_MODEL_NOT_FOUND, 404, "invalid_request_error",                   \
      "model_not_found")                                                    \
    X(FG_E_CONTEXT_LENGTH_EXCEEDED, 400, "invalid_request_error",           \
      "context_length_exceeded")                                            \
    X(FG_E_UNSUPPORTED_IMAGE_INPUT, 400, "invalid_request_error",           \
      "unsupported_image_input")                                            \
    X(FG_E_UNSUPPORTED_PARAMETER, 400, "invalid_request_error",             \
      "unsupported_parameter")                                              \
    X(FG_E_NO_MATCHING_ENDPOINT, 404, "invalid_request_error",              \
      "no_matching_endpoint")                                               \
    X(FG_E_NO_PROVIDER_AVAILABLE, 503, "api_error",                         \
      "no_provider_available")                                              \
    X(FG_E_PROVIDER_ERROR, 502, "api_error", "INFERENCE_PROVIDER_ERROR")    \
    X(FG_E_PROVIDER_TIMEOUT, 504, "api_error",                              \
      "INFERENCE_PROVIDER_TIMEOUT")                                         \
    X(FG_E_PROVIDER_RATE_LIMITED, 429, "rate_limit_error",                  \
      "INFERENCE_PROVIDER_RATE_LIMITED")                                    \
    X(FG_E_SERVICE_UNAVAILABLE, 503, "api_error", "service_unavailable")  \
    X(FG_E_BODY_BUFFER_FULL, 503, "api_error", "body_buffer_full")        \
    X(FG_E_INVALID_API_KEY, 401, "authentication_error",                    \
      "invalid_api_key")                                                    \
    X(FG_E_KEY_REVOKED, 401, "authentication_error", "key_revoked")         \
    X(FG_E_KEY_EXPIRED, 401, "authentication_error", "key_expired")         \
    X(FG_E_KEY_ROTATED, 401, "authentication_error", "key_rotated")         \
    X(FG_E_MODEL_NOT_ALLOWED, 403, "permission_error",                      \
      "model_not_allowed")                                                  \
    X(FG_E_KEY_STORE_LOADING, 503, "api_error", "key_store_loading")        \
    X(FG_E_INVALID_ADMIN_TOKEN, 401, "authentication_error",                \
      "invalid_admin_token")                                                \
    X(FG_E_KEY_NOT_FOUND, 404, "invalid_request_error", "key_not_found")    \
    X(FG_E_KEY_NOT_CHANGEABLE, 409, "invalid_request_error",                \
      "key_revoked")                                                        \
    X(FG_E_IDEMPOTENCY_REUSED, 409, "invalid_request_error",                \
      "idempotency_key_reused")                                             \
    X(FG_E_KEY_TABLE_FULL, 507, "api_error", "key_table_full")              \
    X(FG_E_STORE_UNAVAILABLE, 503, "api_error", "store_unavailable")      \
    X(FG_E_RATE_LIMIT_REQUESTS, 429, "rate_limit_error",                    \
      "rate_limit_requests")                                                \
    X(FG_E_RATE_LIMIT_TOKENS, 429, "rate_limit_error", "rate_limit_tokens") \
    X(FG_E_RATE_LIMIT_CONCURRENCY, 429, "rate_limit_error",                 \
      "rate_limit_concurrency")                                             \
    X(FG_E_INSUFFICIENT_ENERGY, 402, "insufficient_quota",                  \
      "BILLING_INSUFFICIENT_ENERGY")                                        \
    X(FG_E_BILLING_UNAVAILABLE, 503, "api_error", "billing_unavailable")  \
    X(FG_E_USAGE_QUERY_BUSY, 503, "api_error", "usage_query_busy")         \
    X(FG_E_USAGE_QUERY_TIMEOUT, 503, "api_error", "usage_query_timeout")

typedef enum {
#define FG_ERROR_ENUM(name, status, type, code) name,
    FG_ERROR_LIST(FG_ERROR_ENUM)
#undef FG_ERROR_ENUM
    FG_E__COUNT
} fg_error_code_t;

typedef struct {
    fg_error_code_t code;
    char            msg[FG_ERR_MSG_MAX];
    char            param[FG_ERR_PARAM_MAX];   /* "" when no parameter */
} fg_err_t;

/*
 * Sets @err (which may be NULL: "don't care") to @code with a formatted
 * message and the offending parameter (@param may be NULL). Cannot fail;
 * long messages are truncated. Returns FG_ERR so callers can
 * `return fg_err_set(...)`.
 */
int fg_err_set(fg_err_t *err, fg_error_code_t code, const char *param,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Table look-ups; never NULL, never fail. */
int fg_error_status(fg_error_code_t code);
const char *fg_error_type(fg_error_code_t code);
const char *fg_error_code_str(fg_error_code_t code);

/*
 * Writes the OpenAI error body
 *   {"error":{"message":…,"type":…,"param":…|null,"code":…}}
 * for @err into @buf (NUL-terminated, truncated to @size). Returns the
 * length written, excluding the NUL.
 */
#define FG_ERROR_BODY_MAX 4096   /* always large enough for one body */

size_t fg_error_render(const fg_err_t *err, char *buf, size_t size);

#endif
