/*
 * usagerec.c: a finished request as its usage record.
 *
 * Today a request makes at most one upstream call, so the record holds
 * at most one attempt: the fg_attempt_result_t its upstream client filled
 * (common/wire/attempt.h), taken whole.
 */

#include "common/accounts/ledger.h"
#include "worker/upstream.h"
#include "worker/usagerec.h"

/* Every id the worker accepts fits the record and a reservation whole:
 * nothing is cut on the way to the journal. */
_Static_assert(FG_REQUEST_ID_MAX <= FG_USAGE_REQUEST_ID_MAX,
               "a client's x-request-id fits the usage record");
_Static_assert(FG_REQUEST_ID_MAX <= FG_LEDGER_ID_MAX,
               "a client's x-request-id fits a reservation");
_Static_assert(FG_GATEWAY_ID_SIZE - 1 <= FG_USAGE_REQUEST_ID_MAX,
               "the gateway's id fits the usage record");

void
fg_req_usage_record(const fg_req_t *req, const fg_request_summary_t *s,
                    fg_usage_record_t *rec)
{
    const fg_upstream_t *up = req->attempt.upstream;
    fg_attempt_result_t  res;

    fg_usage_from_summary(rec, s);
    (void) FG_USAGE_SET(rec->request_id, req->gateway_id);
    (void) FG_USAGE_SET(rec->client_request_id, req->client_id);
    rec->api = FG_USAGE_API_CHAT;
    rec->uncharged_micro = req->settlement.uncharged_micro;
    if (up == NULL || req->route.model == NULL) {
        return;                          /* never sent upstream */
    }
    /* fg_req_finish() cancelled a running attempt before settling, so the
     * result the upstream client filled is final. */
    res = up->result;
    fg_usage_add_attempt(rec, up->provider->id, req->route.model->upstream_id,
                         &res);
}
