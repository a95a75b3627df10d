#ifndef FG_WORKER_METER_H
#define FG_WORKER_METER_H

/*
 * The energy stages: reserve before the upstream call, charge when the
 * usage is known (common/accounts/ledger.h has the balance and the protocol).
 *
 *   reserve  the worst case (prompt estimate + the request's maximum
 *            output) at the dearest endpoint the router may send it to,
 *            from the key's balance; each attempt's endpoint then gets the
 *            output the held amount affords at its prices (fit): a
 *            balance short of it lowers the upstream max_tokens
 *            (x-fluxgate-max-tokens-lowered), one short of
 *            billing.min_reply_tokens everywhere answers 402 before any
 *            upstream call;
 *   charge   the actual usage (the upstream's, or the documented estimate
 *            of what was relayed, marked estimated), the rest refunded:
 *            once, on whichever path the request ends. Usage no reply to
 *            the request could have (negative, beyond the output limit
 *            sent times n, beyond the context window) is a malformed
 *            reply: charged the worst case reserved, flagged.
 */

#include "worker/request.h"

/*
 * The most prompt tokens a reply may report for a model whose catalog
 * entry gives no context window: above every model's window there is
 * (16 Mi tokens); more is a malformed reply.
 */
#define FG_METER_PROMPT_TOKENS_MAX (16LL * 1024 * 1024)

/*
 * A token count of a provider's usage object, at node @i of @doc: 0 when
 * absent or null, -1 (which the charge takes as malformed usage) for
 * anything but an integer, so a count sent as 1e9 or "5" is never read
 * as a free 0.
 */
long long fg_meter_usage_count(const fg_jdoc_t *doc, int i);

/* The charge headers of a completion: names static, values inline. */
typedef struct {
    const char *name[2];
    char        value[2][24];
    int         count;
} fg_meter_headers_t;

/*
 * Reserves the worst case from the key's balance into req->reservation.
 * FG_VERDICT_CONTINUE: reserved, with reservation.max_output the output
 * the balance affords (is_lowered when below route.max_output); or
 * FG_VERDICT_REFUSE in @v: 402 insufficient energy, or 503 with
 * Retry-After when the ledger cannot be used.
 */
fg_verdict_kind_t fg_meter_reserve(fg_req_t *req, fg_verdict_t *v);

/*
 * The attempt at candidate @c: its token limit is what the held amount
 * affords at its endpoint's prices (reservation.max_output, is_lowered
 * when below what the request asked). FG_OK, or FG_ERR when the balance
 * held cannot pay billing.min_reply_tokens there: the pipeline tries the
 * next endpoint.
 */
int fg_meter_fit(fg_req_t *req, const fg_route_candidate_t *c);

/* Charges @req once into req->settlement: from its usage if the upstream
 * reported it (req->relay), else from the estimate of what was relayed;
 * the rest of the reservation is refunded. */
void fg_meter_charge(fg_req_t *req);

/* x-fluxgate-charged-micro and x-fluxgate-balance-micro, once charged
 * (none before, or for a request that reserved nothing). */
void fg_meter_headers(const fg_req_t *req, fg_meter_headers_t *out);

/*
 * Writes the member "fluxgate_billing":{charged_micro, balance_micro,
 * estimated} for a stream's usage chunk into @dst (@size bytes, 160 is
 * enough) and returns its length; 0 when there is no charge to show.
 */
size_t fg_meter_json_text(const fg_req_t *req, char *dst, size_t size);

#endif
