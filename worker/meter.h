#ifndef FG_WORKER_METER_H
#define FG_WORKER_METER_H

/*
 * The energy stages: reserve before the upstream call, charge when the
 * usage is known (common/accounts/ledger.h has the balance and the protocol).
 *
 *   reserve  the worst case (prompt estimate + the request's maximum
 *            output, at the model's prices) from the key's balance; a
 *            balance short of it lowers the upstream max_tokens to what
 *            it affords (x-fluxgate-max-tokens-lowered), and one short of
 *            billing.min_reply_tokens answers 402 before any upstream call;
 *   charge   the actual usage (the upstream's, or the documented estimate
 *            of what was relayed, marked estimated), the rest refunded:
 *            once, on whichever path the request ends.
 */

#include "worker/request.h"

/* FG_OK: reserved (and the body's max_tokens maybe lowered); FG_ERR: the
 * request was answered (402, or 503 when the ledger cannot be used). */
int fg_meter_reserve(fg_req_t *req);

/* Charges @req once: from its usage if the upstream reported it, else
 * from the estimate. Sets req->charged_micro and req->balance_micro. */
void fg_meter_charge(fg_req_t *req);

/* Adds x-fluxgate-charged-micro and x-fluxgate-balance-micro. */
void fg_meter_headers(fg_req_t *req);

/*
 * Writes the member "fluxgate_billing":{charged_micro, balance_micro,
 * estimated} for a stream's usage chunk into @dst (@size bytes, 160 is
 * enough) and returns its length; 0 when there is no charge to show.
 */
size_t fg_meter_json_text(const fg_req_t *req, char *dst, size_t size);

#endif
