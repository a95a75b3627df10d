#ifndef FG_WORKER_UPSTREAM_BODY_H
#define FG_WORKER_UPSTREAM_BODY_H

/*
 * The body sent upstream for a chat completion: the client's own bytes,
 * the very bytes the validator parsed and the gateway priced, with a few
 * edits made in the text. "model" becomes the endpoint's name for the
 * model; a lowered maximum output is written at the span validation
 * recorded for the token field the client used (or added as
 * max_completion_tokens when it named none); a stream that did not ask
 * for usage asks for it; the gateway's routing fields (routereq.h) are
 * cut. Nothing is re-serialised: jansson never sees a request.
 */

#include <stddef.h>
#include <stdint.h>

#include "common/wire/jdoc.h"
#include "worker/validate.h"

/*
 * Returns the upstream body for the validated @doc and @chat: the model
 * renamed @upstream_model, the token field(s) set to @lowered_max_tokens
 * when it is > 0, and stream_options.include_usage true when
 * @ask_usage. A malloc'd, NUL-terminated buffer of *@out_len bytes that
 * the caller frees (fg_upstream_start() takes it). Cannot fail (aborts
 * on out-of-memory, as fg_xmalloc).
 */
char *fg_upstream_body(const fg_jdoc_t *doc, const fg_chat_request_t *chat,
                       const char *upstream_model,
                       int64_t lowered_max_tokens, int ask_usage,
                       size_t *out_len);

#endif
