/*
 * usagerec.c: a finished request as its usage record.
 *
 * Every attempt the router's order led to, in order: the endpoint and the
 * fg_attempt_result_t its upstream client filled (common/wire/attempt.h),
 * taken whole; past FG_USAGE_MAX_ATTEMPTS the record says it was cut.
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
    int                  i, kept;

    fg_usage_from_summary(rec, s);
    (void) FG_USAGE_SET(rec->request_id, req->gateway_id);
    (void) FG_USAGE_SET(rec->client_request_id, req->client_id);
    rec->api = (uint8_t) req->validated.api;
    rec->uncharged_micro = req->settlement.uncharged_micro;
    kept = req->route.attempts < FG_USAGE_MAX_ATTEMPTS
           ? req->route.attempts : FG_USAGE_MAX_ATTEMPTS;
    for (i = 0; i < kept; i++) {
        const fg_req_tried_t *t = &req->attempt.tried[i];
        fg_attempt_result_t   res = t->result;

        /* The last attempt's result is its upstream's: fg_req_finish()
         * cancelled a running one before settling, so it is final. */
        if (i == req->route.attempts - 1 && up != NULL) {
            res = up->result;
        }
        fg_usage_add_attempt(rec, t->endpoint->provider->id,
                             t->endpoint->upstream_id, &res);
    }
    if (s->is_json_repaired) {
        rec->flags |= FG_USAGE_JSON_REPAIRED;
    }
    if (s->is_compressed) {
        rec->flags |= FG_USAGE_COMPRESSED;
    }
    if (req->route.attempts > FG_USAGE_MAX_ATTEMPTS) {
        rec->flags |= FG_USAGE_ATTEMPTS_CUT;
    }
}
