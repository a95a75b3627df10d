#ifndef FG_WORKER_ADMIT_H
#define FG_WORKER_ADMIT_H

/*
 * The admit stage: the key's rate limits (requests and tokens per minute,
 * concurrent requests) and the catalog's global limits of the model and
 * its provider, all in shm and exact across workers (common/accounts/limiter.h).
 * Every response to a keyed request carries OpenAI's x-ratelimit-*
 * headers for the key's limits; a refusal is a 429 with the limit's code
 * and a Retry-After to the second, before any upstream call.
 */

#include "common/base/summary.h"
#include "worker/request.h"

#define FG_ADMIT_HEADERS_MAX       6
#define FG_ADMIT_HEADER_VALUE_MAX  32

/* The x-ratelimit-* headers of a reply: names static, values inline. */
typedef struct {
    const char *name[FG_ADMIT_HEADERS_MAX];
    char        value[FG_ADMIT_HEADERS_MAX][FG_ADMIT_HEADER_VALUE_MAX];
    int         count;
} fg_admit_headers_t;

/*
 * Admits @req under its key's limits (authenticated and routed:
 * req->route has its worst case) or refuses it: 429 with the limit's code and Retry-After, or 503
 * billing_unavailable with Retry-After 1 when the usage ring is full.
 * On FG_VERDICT_CONTINUE the request holds what it took until
 * fg_admit_settle(). The token cost is the prompt estimate plus the
 * request's maximum output.
 */
fg_verdict_kind_t fg_admit_request(fg_req_t *req, fg_verdict_t *v);

/*
 * The catalog's global limits of the attempt at @e: its model, its
 * provider and the endpoint itself. FG_VERDICT_CONTINUE with them held
 * (what an earlier attempt held is given back first), or
 * FG_VERDICT_REFUSE in @v (429 naming the limit) holding none of them:
 * the pipeline then tries the next endpoint.
 */
fg_verdict_kind_t fg_admit_endpoint(fg_req_t *req, const fg_endpoint_t *e,
                                    fg_verdict_t *v);

/* Gives back the attempt's admissions: it failed and moves on. */
void fg_admit_endpoint_release(fg_req_t *req);

/* Gives back what fg_admit_request() took, correcting the tokens to the
 * usage in @s when the upstream reported it. Safe when nothing was taken. */
void fg_admit_settle(fg_req_t *req, const fg_request_summary_t *s);

/* Gives back everything fg_admit_request() took, as if the request never
 * came (a later stage refused it). */
void fg_admit_cancel(fg_req_t *req);

/* The x-ratelimit-* headers of the key's limits as the admission left
 * them (none for a key without limits, or before admission). Cannot
 * fail. */
void fg_admit_headers(const fg_req_t *req, fg_admit_headers_t *out);

#endif
