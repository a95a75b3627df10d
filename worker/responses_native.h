#ifndef FG_WORKER_RESPONSES_NATIVE_H
#define FG_WORKER_RESPONSES_NATIVE_H

/*
 * POST /v1/responses sent as a Responses request, to an endpoint whose
 * catalog entry serves "responses" (docs/api.md, "/v1/responses"): the
 * body the provider gets, and what the gateway reads of its reply.
 *
 * The gateway keeps the conversation state, never the provider: the body
 * is the client's own bytes with "input" replaced by the whole
 * conversation the gateway resolved (previous_response_id's items, then
 * the input with each item_reference replaced by its items), so
 * previous_response_id and item_reference never reach the provider, and
 * "store": false, so the provider keeps no copy; a conversation may move
 * between providers, and between native and translated endpoints, from
 * one turn to the next. "model" becomes the endpoint's upstream id, the
 * gateway's own fields are cut, and a lowered output limit is written as
 * max_output_tokens. Everything else ("reasoning", "text", "tools",
 * "include"...) is passed as the client sent it.
 */

#include <stddef.h>
#include <stdint.h>

#include "common/wire/jdoc.h"

/*
 * The upstream body for the Responses request @doc (the client's,
 * parsed), sent to model @upstream_id (@id_len bytes, JSON-safe: the
 * catalog's), with @context (@context_len bytes of comma-separated
 * items, fg_responses_to_chat()'s) as its input, and max_output_tokens
 * @lowered when it is > 0. A malloc'd, NUL-terminated buffer of
 * *@out_len bytes (the caller frees it). Cannot fail (aborts on
 * out-of-memory).
 */
char *fg_responses_native_body(const fg_jdoc_t *doc, const char *upstream_id,
                               size_t id_len, const char *context,
                               size_t context_len, int64_t lowered,
                               size_t *out_len);

/* The token counts of a Responses "usage" object. */
typedef struct {
    long long input_tokens;          /* -1: present but not an integer */
    long long output_tokens;
    long long cached_tokens;
    long long reasoning_tokens;
} fg_responses_usage_t;

/*
 * Reads the "usage" of the response object at node @response of @doc
 * into @out: 1 when it has a usage object (counts that are absent or
 * null read 0, any other non-integer -1, which the meter refuses as
 * malformed), 0 when not.
 */
int fg_responses_native_usage(const fg_jdoc_t *doc, int response,
                              fg_responses_usage_t *out);

/*
 * Bytes of generated text in the response object at @response (output
 * texts, refusals, function call arguments, reasoning summaries): the
 * estimate of an output the provider did not count.
 */
size_t fg_responses_native_text_bytes(const fg_jdoc_t *doc, int response);

/*
 * @doc's text with the "store" of the response object at node @response
 * set to @store, what the client asked (the provider was sent false, and
 * echoes it): malloc'd, NUL-terminated, *@out_len bytes (the caller frees
 * it); NULL when the response has no boolean "store" or it already says
 * @store.
 */
char *fg_responses_native_store_echo(const fg_jdoc_t *doc, int response,
                                     int store, size_t *out_len);

/* 1 when @doc's node @response is a response object: an object with an
 * "output" array. */
int fg_responses_native_is_response(const fg_jdoc_t *doc, int response);

#endif
