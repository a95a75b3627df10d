#ifndef FG_WORKER_UPSTREAM_BODY_H
#define FG_WORKER_UPSTREAM_BODY_H

/*
 * The body sent upstream for a chat completion: the client's own bytes,
 * the very bytes the validator parsed and the gateway priced, with a few
 * edits made in the text. "model" becomes the endpoint's name for the
 * model; a lowered maximum output is written at the span validation
 * recorded for the token field the client used (or added as
 * max_completion_tokens when it named none); a stream that did not ask
 * for usage asks for it; the gateway's own fields (routereq.h) are cut;
 * a top-level reasoning_effort the endpoint takes only through its
 * model's reasoning_effort_map is rewritten to the mapped value, and a
 * "reasoning" object is written in the endpoint's reasoning_format.
 * Nothing is re-serialised: jansson never sees a request.
 *
 * The "reasoning" translation (docs/api.md, "Reasoning"), with L the
 * token limit: the lowered one, else the one the request names, else
 * the candidate's maximum output:
 *   reasoning_effort   "reasoning_effort": the effort asked, or for a
 *                      budget B the effort of B / L (>= 0.8 high,
 *                      >= 0.5 medium, >= 0.2 low, else minimal), then
 *                      the nearest value the endpoint accepts (ties go
 *                      up; never "none" unless "none" was asked, and
 *                      then only when accepted).
 *   thinking           "thinking": {"type": "enabled", "budget_tokens": N}
 *   thinking_budget    "enable_thinking": true, "thinking_budget": N
 *                      with N the budget asked, or for an effort
 *                      clamp(L x ratio, 1024, 32000), ratio xhigh 0.95,
 *                      high 0.8, medium 0.5, low 0.2, minimal 0.1. N
 *                      stays below L: a budget asked is cut to L - 1,
 *                      and nothing is sent when that, or L for an
 *                      effort, is not above 1024.
 *   none               nothing.
 * No effort and no budget (enabled: true, or only exclude) is effort
 * medium; enabled: false and effort "none" send nothing (a
 * reasoning_effort endpoint that accepts "none" gets "none" for the
 * latter). A member of the translation's name that the client sent
 * itself (a provider extension such as "thinking") is left as sent and
 * nothing is added; a "reasoning_effort": null is written over.
 */

#include <stddef.h>
#include <stdint.h>

#include "common/base/catalog.h"
#include "common/wire/jdoc.h"
#include "worker/validate.h"

/* What the body depends on besides the request: the attempt. */
typedef struct {
    const fg_endpoint_t *endpoint;      /* where it goes (borrowed): its
                                           upstream id, efforts, format
                                           and its model's map */
    int64_t              lowered_max_tokens;  /* > 0: written in the
                                                 token field(s) */
    int64_t              max_output;    /* the candidate's per-choice
                                           maximum (router.h): L when the
                                           request names no limit */
    int                  ask_usage;     /* stream_options.include_usage */
    int                  is_legacy;     /* a legacy completion: a limit
                                           the client named none of is
                                           written as max_tokens (it has
                                           no max_completion_tokens) */
} fg_upstream_body_in_t;

/*
 * Returns the upstream body for the validated @doc and @chat sent as
 * @in says: the model renamed to the endpoint's upstream id, the token
 * field(s) set to @in->lowered_max_tokens when it is > 0,
 * stream_options.include_usage true when @in->ask_usage, the gateway's
 * fields cut, the reasoning asked written for the endpoint. A malloc'd,
 * NUL-terminated buffer of *@out_len bytes that the caller frees
 * (fg_upstream_start() takes it). Cannot fail (aborts on out-of-memory,
 * as fg_xmalloc).
 */
char *fg_upstream_body(const fg_jdoc_t *doc, const fg_chat_request_t *chat,
                       const fg_upstream_body_in_t *in, size_t *out_len);

/*
 * The reasoning_effort endpoint @e is sent in place of the one the
 * request @doc asked (*@asked, borrowed from @doc), through its model's
 * reasoning_effort_map: *@len bytes, borrowed from the catalog; NULL when
 * the request asks none or @e is sent the asked value itself.
 */
const char *fg_upstream_body_mapped_effort(const fg_jdoc_t *doc,
                                           const fg_endpoint_t *e,
                                           fg_route_str_t *asked,
                                           size_t *len);

#endif
