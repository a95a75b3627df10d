/*
 * usagerec.c: a finished request as its usage record.
 *
 * Today a request makes at most one upstream call, so the record holds
 * at most one attempt; how it ended is read from what the relay kept
 * (the upstream kind, the status, whether a byte came, whether the
 * transfer was still running when the request ended). Once the upstream
 * client fills an fg_attempt_result_t per attempt (common/wire/attempt.h)
 * this file takes those whole instead.
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

static fg_attempt_outcome_t usagerec_outcome(const fg_req_t *req,
                                             const fg_upstream_t *up);

/*
 * The outcome the relay's verdict implies. A connect timeout and a
 * first-byte timeout look alike from here (no byte, no status): both
 * read as first_byte_timeout, the one that does not claim the provider
 * never saw the request.
 */
static fg_attempt_outcome_t
usagerec_outcome(const fg_req_t *req, const fg_upstream_t *up)
{
    if (up->is_running) {
        return FG_ATTEMPT_CANCELLED;     /* the request ended first */
    }
    switch (req->relay.upstream_kind) {
    case FG_UPSTREAM_CONNECT:
        return FG_ATTEMPT_CONNECT_FAILED;
    case FG_UPSTREAM_TIMEOUT:
        return up->first_byte_us == 0 ? FG_ATTEMPT_FIRST_BYTE_TIMEOUT
                                      : FG_ATTEMPT_BROKE_AFTER_BYTES;
    case FG_UPSTREAM_RESET:
    case FG_UPSTREAM_MALFORMED:
        return up->first_byte_us == 0 ? FG_ATTEMPT_SENT_NO_REPLY
                                      : FG_ATTEMPT_BROKE_AFTER_BYTES;
    default:
        return up->status > 0 ? FG_ATTEMPT_STATUS
                              : FG_ATTEMPT_SENT_NO_REPLY;
    }
}

void
fg_req_usage_record(const fg_req_t *req, const fg_request_summary_t *s,
                    fg_usage_record_t *rec)
{
    const fg_upstream_t *up = req->attempt.upstream;
    fg_attempt_result_t  res;

    fg_usage_from_summary(rec, s);
    (void) FG_USAGE_SET(rec->request_id, req->gateway_id);
    (void) FG_USAGE_SET(rec->client_request_id,
                        req->is_client_id ? req->id : "");
    rec->api = FG_USAGE_API_CHAT;
    rec->uncharged_micro = req->settlement.uncharged_micro;
    if (up == NULL || req->route.model == NULL) {
        return;                          /* never sent upstream */
    }
    res.outcome = usagerec_outcome(req, up);
    res.is_request_sent = res.outcome != FG_ATTEMPT_CONNECT_FAILED;
    res.status = (int) up->status;
    res.retry_after_ms = -1;
    /* The transfer's end is not kept: the request's end (the summary's
     * clock reading) stands for it. */
    res.latency_us = s->latency_us - (up->started_us - req->started_us);
    res.first_byte_us = up->first_byte_us > 0
                        ? up->first_byte_us - up->started_us : 0;
    fg_usage_add_attempt(rec, up->provider->id, req->route.model->upstream_id,
                         &res);
}
