/*
 * meter.c: reserve, then charge, against the key's energy balance.
 *
 * Estimates, documented in docs/api.md: a prompt is the request body's
 * bytes / FG_BYTES_PER_TOKEN tokens, a completion the upstream did not
 * count is the text relayed / FG_BYTES_PER_TOKEN (worker/request.h). A
 * request that never got an upstream byte is charged nothing: the tenant does not pay for a provider that failed.
 */

#include <stdio.h>

#include "common/base/clock.h"
#include "common/accounts/limiter.h"
#include "common/base/log.h"
#include "worker/meter.h"
#include "worker/worker.h"

static void
meter_price(const fg_model_t *m, fg_price_t *p)
{
    p->prompt_per_mtok = m->prompt_per_mtok_micro;
    p->cached_prompt_per_mtok = m->cached_prompt_per_mtok_micro;
    p->completion_per_mtok = m->completion_per_mtok_micro;
}

/* Records the lowered maximum; chat.c writes it into the upstream body. */
static void
meter_lower_max_tokens(fg_req_t *req, int64_t affordable)
{
    char value[24];

    req->lowered_max_tokens = affordable;
    req->chat.max_tokens = affordable;
    snprintf(value, sizeof(value), "%lld", (long long) affordable);
    fg_req_add_header(req, "x-fluxgate-max-tokens-lowered", value);
}

int
fg_meter_reserve(fg_req_t *req)
{
    fg_worker_t      *w = req->worker;
    const fg_model_t *m = req->model;
    fg_price_t        price;
    int64_t           max_out = req->max_output, choices = req->choices;
    int64_t           want, min, got, balance = 0, affordable;
    int64_t           min_reply = w->conf->billing_min_reply_tokens;

    meter_price(m, &price);
    if (max_out < min_reply) {
        min_reply = max_out;
    }
    /* n choices generate up to n times the output. */
    want = fg_ledger_cost(&price, req->prompt_estimate, 0, max_out * choices);
    min = fg_ledger_cost(&price, req->prompt_estimate, 0,
                         min_reply * choices);
    if (want == 0) {
        return FG_OK;   /* a free model: nothing to reserve */
    }
    got = fg_ledger_reserve(w->wc->shm->ledger, w->wc->slot,
                            req->key_subject, req->gateway_id,
                            req->is_client_id ? req->id : NULL,
                            want, min > 0 ? min : 1, fg_wall_ms(),
                            &req->reservation, &balance);
    if (got < 0) {
        fg_req_add_header(req, "Retry-After", "1");
        fg_req_fail(req, FG_E_BILLING_UNAVAILABLE, NULL,
                    "the energy balance of key %s cannot be read now; "
                    "retry in a second", req->key.kr_id);
        return FG_ERR;
    }
    if (got == 0) {
        fg_req_fail(req, FG_E_INSUFFICIENT_ENERGY, NULL,
                    "Insufficient energy: the balance of key %s is %lld "
                    "micro-credits, and this request needs at least %lld "
                    "(an estimated %lld prompt tokens and %lld output "
                    "tokens of %s); the full request would need %lld.",
                    req->key.kr_id, (long long) balance, (long long) min,
                    (long long) req->prompt_estimate, (long long) min_reply,
                    m->id, (long long) want);
        return FG_ERR;
    }
    if (got < want) {
        affordable = fg_ledger_affordable_completion(
                         &price, req->prompt_estimate, got) / choices;
        if (affordable > max_out) {
            affordable = max_out;
        }
        meter_lower_max_tokens(req, affordable);
    }
    return FG_OK;
}

void
fg_meter_charge(fg_req_t *req)
{
    fg_worker_t *w = req->worker;
    fg_price_t   price;
    int64_t      cut = 0, charge;

    if (req->is_metered) {
        return;
    }
    req->is_metered = 1;
    if (!req->has_usage && req->relayed_bytes > 0) {
        /* Generated, but not counted by the upstream: what was relayed.
         * The charge, the impact and the record all count this. */
        req->usage_estimated = 1;
        req->prompt_tokens = req->prompt_estimate;
        req->cached_tokens = 0;
        req->completion_tokens = (req->relayed_bytes + FG_BYTES_PER_TOKEN - 1)
                                 / FG_BYTES_PER_TOKEN;
    }
    if (req->reservation.slot < 0 || req->model == NULL) {
        req->balance_micro = -1;
        return;
    }
    meter_price(req->model, &price);
    charge = req->has_usage || req->usage_estimated
             ? fg_ledger_cost(&price, req->prompt_tokens, req->cached_tokens,
                              req->completion_tokens)
             : 0;
    req->balance_micro = fg_ledger_settle(w->wc->shm->ledger, w->wc->slot,
                                          &req->reservation, charge,
                                          fg_wall_ms(), &cut);
    req->charged_micro = charge - cut;
    req->uncharged_micro = cut;
    if (cut > 0) {
        fg_log(FG_LOG_WARN, 0, "req=%s used %lld micro-credits more than "
               "it reserved (the provider ignored max_tokens); not charged",
               req->id, (long long) cut);
    }
}

void
fg_meter_headers(fg_req_t *req)
{
    char v[24];

    if (req->conn == NULL || !req->is_metered || req->balance_micro < 0) {
        return;
    }
    snprintf(v, sizeof(v), "%lld", (long long) req->charged_micro);
    fg_req_add_header(req, "x-fluxgate-charged-micro", v);
    snprintf(v, sizeof(v), "%lld", (long long) req->balance_micro);
    fg_req_add_header(req, "x-fluxgate-balance-micro", v);
}

size_t
fg_meter_json_text(const fg_req_t *req, char *dst, size_t size)
{
    int n;

    if (!req->is_metered || req->balance_micro < 0) {
        return 0;
    }
    n = snprintf(dst, size, "\"fluxgate_billing\":{\"charged_micro\":%lld,"
                 "\"balance_micro\":%lld,\"estimated\":%s}",
                 (long long) req->charged_micro,
                 (long long) req->balance_micro,
                 req->usage_estimated ? "true" : "false");
    return n > 0 && (size_t) n < size ? (size_t) n : 0;
}
