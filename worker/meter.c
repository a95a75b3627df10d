/*
 * meter.c: reserve, then charge, against the key's energy balance.
 *
 * Estimates, documented in docs/api.md: a prompt is the request body's
 * bytes / 4 tokens (an over-estimate for English chat JSON, which is what
 * a reservation wants); a completion the upstream did not count is the
 * text relayed / 4 tokens. A request that never got an upstream byte is
 * charged nothing: the tenant does not pay for a provider that failed.
 */

#include <stdio.h>
#include <time.h>

#include "common/limiter.h"
#include "common/log.h"
#include "worker/meter.h"
#include "worker/worker.h"

#define METER_BYTES_PER_TOKEN 4

static int64_t
meter_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
meter_price(const fg_model_t *m, fg_price_t *p)
{
    p->prompt_per_mtok = m->prompt_per_mtok_micro;
    p->cached_prompt_per_mtok = m->cached_prompt_per_mtok_micro;
    p->completion_per_mtok = m->completion_per_mtok_micro;
}

/* Writes the lowered maximum into the body the upstream will get. */
static void
meter_lower_max_tokens(fg_req_t *req, int64_t affordable)
{
    char value[24];

    if (json_object_get(req->body, "max_completion_tokens") != NULL
        || json_object_get(req->body, "max_tokens") == NULL) {
        json_object_set_new(req->body, "max_completion_tokens",
                            json_integer(affordable));
    }
    if (json_object_get(req->body, "max_tokens") != NULL) {
        json_object_set_new(req->body, "max_tokens",
                            json_integer(affordable));
    }
    req->chat.max_tokens = affordable;
    snprintf(value, sizeof(value), "%lld", (long long) affordable);
    evhttp_add_header(evhttp_request_get_output_headers(req->http),
                      "x-fluxgate-max-tokens-lowered", value);
}

int
fg_meter_reserve(fg_req_t *req)
{
    fg_worker_t      *w = req->worker;
    const fg_model_t *m = req->model;
    fg_price_t        price;
    int64_t           max_out, want, min, got, balance = 0, affordable;
    int64_t           min_reply = w->conf->billing_min_reply_tokens;
    int64_t           choices;

    meter_price(m, &price);
    req->prompt_estimate = req->bytes_in / METER_BYTES_PER_TOKEN;
    max_out = req->chat.max_tokens > 0 ? req->chat.max_tokens
                                       : m->max_output_tokens;
    if (max_out < min_reply) {
        min_reply = max_out;
    }
    /* n choices generate up to n times the output. */
    choices = req->chat.n > 0 ? req->chat.n : 1;
    want = fg_ledger_cost(&price, req->prompt_estimate, 0, max_out * choices);
    min = fg_ledger_cost(&price, req->prompt_estimate, 0,
                         min_reply * choices);
    if (want == 0) {
        return FG_OK;   /* a free model: nothing to reserve */
    }
    got = fg_ledger_reserve(w->wc->shm->ledger, w->wc->slot,
                            fg_limiter_subject(req->key.kr_id), req->id,
                            want, min > 0 ? min : 1, meter_now_ms(),
                            &req->reservation, &balance);
    if (got < 0) {
        evhttp_add_header(evhttp_request_get_output_headers(req->http),
                          "Retry-After", "1");
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
    int64_t      prompt, completion, cut = 0, charge;

    if (req->is_metered) {
        return;
    }
    req->is_metered = 1;
    if (req->reservation.slot < 0 || req->model == NULL) {
        req->balance_micro = -1;
        return;
    }
    meter_price(req->model, &price);
    if (req->has_usage) {
        prompt = req->prompt_tokens;
        completion = req->completion_tokens;
        charge = fg_ledger_cost(&price, prompt, req->cached_tokens,
                                completion);
    } else if (req->relayed_bytes > 0) {
        /* Generated, but not counted by the upstream: what was relayed. */
        req->usage_estimated = 1;
        prompt = req->prompt_estimate;
        completion = (req->relayed_bytes + METER_BYTES_PER_TOKEN - 1)
                     / METER_BYTES_PER_TOKEN;
        /* The record counts what was charged (marked estimated). */
        req->prompt_tokens = prompt;
        req->completion_tokens = completion;
        charge = fg_ledger_cost(&price, prompt, 0, completion);
    } else {
        charge = 0;
    }
    req->balance_micro = fg_ledger_settle(w->wc->shm->ledger, w->wc->slot,
                                          &req->reservation, charge,
                                          meter_now_ms(), &cut);
    req->charged_micro = charge - cut;
    if (cut > 0) {
        fg_log(FG_LOG_WARN, 0, "req=%s used %lld micro-credits more than "
               "it reserved (the provider ignored max_tokens); not charged",
               req->id, (long long) cut);
    }
}

void
fg_meter_headers(fg_req_t *req)
{
    struct evkeyvalq *h;
    char              v[24];

    if (req->http == NULL || !req->is_metered || req->balance_micro < 0) {
        return;
    }
    h = evhttp_request_get_output_headers(req->http);
    snprintf(v, sizeof(v), "%lld", (long long) req->charged_micro);
    evhttp_add_header(h, "x-fluxgate-charged-micro", v);
    snprintf(v, sizeof(v), "%lld", (long long) req->balance_micro);
    evhttp_add_header(h, "x-fluxgate-balance-micro", v);
}

json_t *
fg_meter_json(const fg_req_t *req)
{
    if (!req->is_metered || req->balance_micro < 0) {
        return NULL;
    }
    return json_pack("{s:I, s:I, s:b}",
                     "charged_micro", (json_int_t) req->charged_micro,
                     "balance_micro", (json_int_t) req->balance_micro,
                     "estimated", req->usage_estimated);
}
