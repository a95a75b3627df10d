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

/*
 * Admits @req (authenticated and routed) or answers it 429. FG_OK: the
 * request holds what it took until fg_admit_settle(). The token cost is
 * the prompt estimate plus the request's maximum output.
 */
int fg_admit_request(fg_req_t *req);

/* Gives back what fg_admit_request() took, correcting the tokens to the
 * usage in @s when the upstream reported it. Safe when nothing was taken. */
void fg_admit_settle(fg_req_t *req, const fg_request_summary_t *s);

/* Gives back everything fg_admit_request() took, as if the request never
 * came (a later stage refused it). */
void fg_admit_cancel(fg_req_t *req);

/* Adds the x-ratelimit-* headers of the key's limits to the reply. */
void fg_admit_headers(fg_req_t *req);

#endif
