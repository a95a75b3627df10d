/*
 * meter.c: reserve, then charge, against the key's energy balance.
 *
 * Estimates, documented in docs/api.md: a prompt is the upper bound of
 * its token count (common/tokens/tokcount.h), a completion the upstream
 * did not count is the text relayed / FG_BYTES_PER_TOKEN. A
 * request that never got an upstream byte is charged nothing: the tenant
 * does not pay for a provider that failed.
 *
 * meter.c is the only writer of req->reservation (reserve) and
 * req->settlement (charge). It never touches what validation read: a
 * lowered maximum is reservation.max_output, and the pipeline writes it
 * into the upstream body at the span validation recorded.
 */

#include <stdio.h>
#include <unistd.h>

#include "common/base/clock.h"
#include "common/accounts/limiter.h"
#include "common/accounts/usagering.h"
#include "common/base/log.h"
#include "worker/meter.h"
#include "worker/request.h"
#include "worker/worker.h"

static void
meter_price(const fg_endpoint_t *e, fg_price_t *p)
{
    p->prompt_per_mtok = e->prompt_per_mtok_micro;
    p->cached_prompt_per_mtok = e->cached_prompt_per_mtok_micro;
    p->completion_per_mtok = e->completion_per_mtok_micro;
}

/*
 * The reservation's record, for the syncer's reservation log: what lets
 * a machine restart settle it (docs/architecture.md, "cold start"). The
 * upstream is called once the ring's commit passes it (pipeline.c).
 */
static int
meter_journal_reservation(fg_req_t *req, int64_t amount)
{
    fg_worker_t      *w = req->worker;
    fg_usagering_t   *ring = w->wc->shm->usage;
    fg_usage_record_t rec;
    uint64_t          seq;

    fg_usage_init(&rec);
    (void) FG_USAGE_SET(rec.request_id, req->gateway_id);
    (void) FG_USAGE_SET(rec.client_request_id, req->client_id);
    (void) FG_USAGE_SET(rec.key_id, req->auth.key.kr_id);
    (void) FG_USAGE_SET(rec.model_requested,
                        req->validated.model_requested);
    /* A cold start writes the request's record from this one. */
    rec.api = (uint8_t) req->validated.api;
    rec.started_unix_ms = fg_wall_ms();
    rec.charged_micro = amount;          /* held, not charged */
    rec.flags = FG_USAGE_RESERVATION
                | (req->validated.chat.is_stream ? FG_USAGE_STREAM : 0);
    if (fg_usagering_push(ring, w->wc->slot, &rec, &seq) != FG_OK) {
        return FG_ERR;
    }
    req->reservation.durable_at = fg_usagering_pushed(ring, w->wc->slot);
    if (w->wc->syncer_wake_fd >= 0 && w->conf->usage_reservation_wait_ms > 0) {
        uint64_t one = 1;

        /* Non-blocking, no disk: the syncer syncs now, not at its tick. */
        (void) !write(w->wc->syncer_wake_fd, &one, sizeof(one));
    }
    return FG_OK;
}

/* The least output a reply may be given at @c: billing.min_reply_tokens,
 * or the whole output when it asks for less. */
static int64_t
meter_min_reply(const fg_req_t *req, const fg_route_candidate_t *c)
{
    int64_t min_reply = req->worker->conf->billing_min_reply_tokens;

    return c->max_output < min_reply ? c->max_output : min_reply;
}

/*
 * One reservation covers every endpoint the request may be sent to: the
 * dearest one's worst case (so a fallback to a dearer endpoint is never
 * short, and the ledger never goes negative), and at least the cheapest
 * one's minimal reply. Each attempt then takes what the held amount
 * affords at its own endpoint's prices (fg_meter_fit).
 */
fg_verdict_kind_t
fg_meter_reserve(fg_req_t *req, fg_verdict_t *v)
{
    fg_worker_t          *w = req->worker;
    const fg_req_route_t *rt = &req->route;
    fg_req_reservation_t *r = &req->reservation;
    fg_price_t            price;
    int64_t               choices = rt->choices;
    int64_t               prompt = rt->prompt_estimate;
    int64_t               want = 0, min = -1, cost, got, balance = 0;
    int64_t               min_reply = 0;
    size_t                i;

    for (i = 0; i < rt->n_candidates; i++) {
        const fg_route_candidate_t *c = &rt->candidates[i];

        meter_price(c->endpoint, &price);
        /* n choices generate up to n times the output. */
        cost = fg_ledger_cost(&price, prompt, 0, c->max_output * choices);
        want = cost > want ? cost : want;
        cost = fg_ledger_cost(&price, prompt, 0,
                              meter_min_reply(req, c) * choices);
        if (min < 0 || cost < min) {
            min = cost;
            min_reply = meter_min_reply(req, c);
        }
    }
    if (want == 0) {
        return FG_VERDICT_CONTINUE;   /* free endpoints: nothing to reserve */
    }
    got = fg_ledger_reserve(w->wc->shm->ledger, w->wc->slot,
                            req->auth.subject, req->gateway_id,
                            req->client_id[0] != '\0' ? req->client_id
                                                       : NULL,
                            want, min > 0 ? min : 1, fg_wall_ms(),
                            &r->held, &balance);
    if (got < 0) {
        return fg_verdict_refuse(v, 1000, FG_E_BILLING_UNAVAILABLE, NULL,
                                 "the energy balance of key %s cannot be "
                                 "read now; retry in a second",
                                 req->auth.key.kr_id);
    }
    if (got == 0) {
        return fg_verdict_refuse(v, FG_RETRY_NONE,
                                 FG_E_INSUFFICIENT_ENERGY, NULL,
                                 "Insufficient energy: the balance of key %s "
                                 "is %lld micro-credits, and this request "
                                 "needs at least %lld (an estimated %lld "
                                 "prompt tokens and %lld output tokens of "
                                 "%s); the full request would need %lld.",
                                 req->auth.key.kr_id, (long long) balance,
                                 (long long) min, (long long) prompt,
                                 (long long) min_reply, rt->model->id,
                                 (long long) want);
    }
    if (meter_journal_reservation(req, got) != FG_OK) {
        return fg_verdict_refuse(v, 1000, FG_E_BILLING_UNAVAILABLE, NULL,
                                 "usage records cannot be written now; "
                                 "retry in a second");
    }
    return FG_VERDICT_CONTINUE;
}

int
fg_meter_fit(fg_req_t *req, const fg_route_candidate_t *c)
{
    fg_req_reservation_t *r = &req->reservation;
    fg_price_t            price;
    int64_t               choices = req->route.choices;
    int64_t               prompt = req->route.prompt_estimate;
    int64_t               want, affordable, held = r->held.amount_micro;

    r->max_output = c->max_output;
    r->is_lowered = 0;
    meter_price(c->endpoint, &price);
    want = fg_ledger_cost(&price, prompt, 0, c->max_output * choices);
    if (want == 0 || (r->held.slot >= 0 && held >= want)) {
        return FG_OK;
    }
    if (r->held.slot < 0) {
        return FG_ERR;                /* priced, and nothing held */
    }
    affordable = fg_ledger_affordable_completion(&price, prompt, held)
                 / choices;
    if (affordable < meter_min_reply(req, c)) {
        return FG_ERR;
    }
    r->max_output = affordable < c->max_output ? affordable : c->max_output;
    r->is_lowered = r->max_output < c->max_output;
    return FG_OK;
}

/* The output the provider was allowed: the limit sent (lowered, or as
 * routed) times n choices. */
static int64_t
meter_output_limit(const fg_req_t *req)
{
    return (req->reservation.max_output > 0 ? req->reservation.max_output
                                            : req->route.max_output)
           * req->route.choices;
}

/*
 * Whether a reply to @req could have the usage @got reports: no count is
 * negative, cached tokens are part of the prompt, the completion (and its
 * reasoning) fits the output limit the provider was sent times n, and the
 * prompt fits the model's context window (FG_METER_PROMPT_TOKENS_MAX when
 * the catalog gives none).
 */
static int
meter_usage_is_possible(const fg_req_t *req, const fg_req_relay_t *got)
{
    const fg_endpoint_t *e = req->route.endpoint;
    int64_t              out_max, in_max;

    out_max = meter_output_limit(req);
    in_max = e != NULL && e->context_window > 0 ? e->context_window
                                                : FG_METER_PROMPT_TOKENS_MAX;
    /* Embeddings: the window holds each input, the usage sums them. */
    if (req->validated.chat.inputs > 1) {
        in_max *= req->validated.chat.inputs;
    }
    return got->prompt_tokens >= 0 && got->completion_tokens >= 0
           && got->reasoning_tokens >= 0 && got->cached_tokens >= 0
           && got->cached_tokens <= got->prompt_tokens
           && got->prompt_tokens <= in_max
           && got->completion_tokens <= out_max
           && got->reasoning_tokens <= out_max;
}

/*
 * Why a charge went past its reservation, for the operator: the prompt
 * the provider counted beyond the estimator's upper bound (a bug in the
 * estimator or a provider that counts differently: docs/api.md,
 * "Metering"), or a completion beyond the output limit it was sent.
 */
static void
meter_warn_uncharged(const fg_req_t *req, int64_t cut)
{
    const fg_req_settlement_t *st = &req->settlement;
    int64_t                    out_max = meter_output_limit(req);

    if (st->prompt_tokens > req->route.prompt_estimate) {
        fg_log(FG_LOG_WARN, 0, "req=%s not charged %lld micro-credits: "
               "provider %s counted %lld prompt tokens for %s, above the "
               "estimate's upper bound of %lld", req->id, (long long) cut,
               req->route.endpoint->provider->id,
               (long long) st->prompt_tokens, req->route.model->id,
               (long long) req->route.prompt_estimate);
    } else if (st->completion_tokens > out_max) {
        fg_log(FG_LOG_WARN, 0, "req=%s not charged %lld micro-credits: "
               "provider %s reported %lld completion tokens, beyond the "
               "%lld the request allowed", req->id, (long long) cut,
               req->route.endpoint->provider->id,
               (long long) st->completion_tokens, (long long) out_max);
    } else {
        fg_log(FG_LOG_WARN, 0, "req=%s not charged %lld micro-credits: the "
               "usage priced above the reservation", req->id,
               (long long) cut);
    }
}

/*
 * The prompt a reply without usage is charged: its count when the
 * tokenizer made it exact; else the body's bytes / FG_BYTES_PER_TOKEN (the
 * middle of English chat), kept within the bounds. Not the upper bound:
 * without a tokenizer that is 4 to 5 times an English prompt.
 */
static int64_t
meter_prompt_likely(const fg_req_t *req)
{
    int64_t lower = req->route.prompt_lower;
    int64_t upper = req->route.prompt_estimate;
    int64_t guess = req->bytes_in / FG_BYTES_PER_TOKEN;

    if (lower == upper) {
        return upper;
    }
    return guess < lower ? lower : guess > upper ? upper : guess;
}

long long
fg_meter_usage_count(const fg_jdoc_t *doc, int i)
{
    switch (fg_jdoc_type(doc, i)) {
    case FG_JNULL:
        return 0;
    case FG_JINT:
        return doc->nodes[i].num.i;
    default:
        return -1;
    }
}

void
fg_meter_charge(fg_req_t *req)
{
    fg_worker_t         *w = req->worker;
    const fg_req_relay_t *got = &req->relay;
    fg_req_settlement_t *st = &req->settlement;
    fg_price_t           price;
    int64_t              cut = 0, charge;

    if (st->is_metered) {
        return;
    }
    st->is_metered = 1;
    if (got->has_usage && !meter_usage_is_possible(req, got)) {
        /*
         * A malformed reply: charged the worst case it was sent for, the
         * tokens the reservation was made of, so the record, the reply's
         * charge and the balance agree (never a negative charge).
         */
        st->is_usage_invalid = 1;
        st->prompt_tokens = req->route.prompt_estimate;
        st->completion_tokens = meter_output_limit(req);
        fg_log(FG_LOG_WARN, 0, "req=%s provider %s reported impossible "
               "usage (prompt %lld, completion %lld, reasoning %lld, cached "
               "%lld); charged the worst case", req->id,
               req->route.endpoint ? req->route.endpoint->provider->id
                                   : "-",
               (long long) got->prompt_tokens,
               (long long) got->completion_tokens,
               (long long) got->reasoning_tokens,
               (long long) got->cached_tokens);
    } else if (got->has_usage) {
        st->prompt_tokens = got->prompt_tokens;
        st->completion_tokens = got->completion_tokens;
        st->reasoning_tokens = got->reasoning_tokens;
        st->cached_tokens = got->cached_tokens;
    } else if (got->relayed_bytes > 0) {
        /* Generated, but not counted by the upstream: what was relayed.
         * The charge, the impact and the record all count this. */
        st->usage_estimated = 1;
        st->prompt_tokens = meter_prompt_likely(req);
        st->completion_tokens = (got->relayed_bytes + FG_BYTES_PER_TOKEN - 1)
                                / FG_BYTES_PER_TOKEN;
    }
    if (req->reservation.held.slot < 0 || req->route.endpoint == NULL) {
        /* Nothing held, or never sent: a held reservation is given back
         * whole. */
        if (req->reservation.held.slot >= 0) {
            (void) fg_ledger_settle(w->wc->shm->ledger, w->wc->slot,
                                    &req->reservation.held, 0, fg_wall_ms(),
                                    &cut);
        }
        st->balance_micro = -1;
        return;
    }
    meter_price(req->route.endpoint, &price);
    charge = got->has_usage || st->usage_estimated
             ? fg_ledger_cost(&price, st->prompt_tokens, st->cached_tokens,
                              st->completion_tokens)
             : 0;
    st->balance_micro = fg_ledger_settle(w->wc->shm->ledger, w->wc->slot,
                                         &req->reservation.held, charge,
                                         fg_wall_ms(), &cut);
    st->charged_micro = charge - cut;
    st->uncharged_micro = cut;
    if (cut > 0) {
        meter_warn_uncharged(req, cut);
    }
}

void
fg_meter_headers(const fg_req_t *req, fg_meter_headers_t *out)
{
    const fg_req_settlement_t *st = &req->settlement;

    out->count = 0;
    if (st->is_metered && st->balance_micro >= 0) {
        out->name[out->count] = "x-fluxgate-charged-micro";
        snprintf(out->value[out->count++], sizeof(out->value[0]), "%lld",
                 (long long) st->charged_micro);
        out->name[out->count] = "x-fluxgate-balance-micro";
        snprintf(out->value[out->count++], sizeof(out->value[0]), "%lld",
                 (long long) st->balance_micro);
    }
}

size_t
fg_meter_json_text(const fg_req_t *req, char *dst, size_t size)
{
    const fg_req_settlement_t *st = &req->settlement;
    int                        n;

    if (!st->is_metered || st->balance_micro < 0) {
        return 0;
    }
    n = snprintf(dst, size, "\"fluxgate_billing\":{\"charged_micro\":%lld,"
                 "\"balance_micro\":%lld,\"estimated\":%s}",
                 (long long) st->charged_micro,
                 (long long) st->balance_micro,
                 st->usage_estimated ? "true" : "false");
    return n > 0 && (size_t) n < size ? (size_t) n : 0;
}
