#ifndef FG_WORKER_USAGEREC_H
#define FG_WORKER_USAGEREC_H

/*
 * The usage record of a finished request (common/accounts/usage.h),
 * filled in one place from the request and its summary, so that what a
 * record says follows the request state whatever shape that takes.
 */

#include "common/accounts/usage.h"
#include "common/base/summary.h"
#include "worker/request.h"

/*
 * Fills @rec for @req, whose summary is @s: the summary's facts, then
 * the gateway's id and the client's x-request-id each whole, the API
 * (chat), what was priced beyond the reservation and not charged, and
 * one attempt per upstream call. Cannot fail; allocates nothing.
 */
void fg_req_usage_record(const fg_req_t *req, const fg_request_summary_t *s,
                         fg_usage_record_t *rec);

#endif
