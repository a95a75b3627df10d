/*
 * admit.c: rate limits on the request path. Three subjects may limit one
 * request: its key (the key record's limits), its model and its provider
 * (the catalog's global limits, which keep the gateway under a provider's
 * own quota). They are taken in that order; when one refuses, the ones
 * already taken are cancelled, so a refused request costs nothing on any
 * limit. Before any limit, the usage ring must have room for the
 * request's record: none is ever dropped, so none is taken.
 *
 * admit.c is the only writer of req->admission. It answers nothing
 * itself: a refusal is a verdict, and the x-ratelimit-* headers are
 * rendered for the pipeline to add (fg_admit_headers).
 */

#include <stdio.h>
#include <string.h>

#include "common/base/clock.h"
#include "common/wire/fmt.h"
#include "common/base/log.h"
#include "worker/admit.h"
#include "worker/request.h"
#include "worker/worker.h"

#define ADMIT_KEY       1
#define ADMIT_MODEL     2
#define ADMIT_PROVIDER  4
#define ADMIT_ENDPOINT  8
#define ADMIT_ATTEMPT   (ADMIT_MODEL | ADMIT_PROVIDER | ADMIT_ENDPOINT)

/* A duration as OpenAI writes it in x-ratelimit-reset-*: "20ms", "1.5s",
 * "6m0s". */
static void
admit_duration(int64_t ms, char *out, size_t size)
{
    if (ms < 1000) {
        snprintf(out, size, "%lldms", (long long) ms);
    } else if (ms < 60000) {
        if (ms % 1000 == 0) {
            snprintf(out, size, "%llds", (long long) (ms / 1000));
        } else {
            snprintf(out, size, "%lld.%03llds", (long long) (ms / 1000),
                     (long long) (ms % 1000));
            /* Trailing zeros of the fraction say nothing. */
            while (out[strlen(out) - 2] == '0') {
                out[strlen(out) - 2] = 's';
                out[strlen(out) - 1] = '\0';
            }
        }
    } else {
        int64_t secs = (ms + 999) / 1000;

        snprintf(out, size, "%lldm%llds", (long long) (secs / 60),
                 (long long) (secs % 60));
    }
}

/* Adds "@name: @value" to @out. */
static char *
admit_header(fg_admit_headers_t *out, const char *name)
{
    out->name[out->count] = name;
    return out->value[out->count++];
}

void
fg_admit_headers(const fg_req_t *req, fg_admit_headers_t *out)
{
    const fg_admission_t *a = &req->admission.key;
    char                 *v;

    out->count = 0;
    if (!req->auth.has_key
        || (a->requests_limit <= 0 && a->tokens_limit <= 0)) {
        return;
    }
    if (a->requests_limit > 0) {
        v = admit_header(out, "x-ratelimit-limit-requests");
        v[fg_fmt_i64(v, a->requests_limit)] = '\0';
        v = admit_header(out, "x-ratelimit-remaining-requests");
        v[fg_fmt_i64(v, a->requests_remaining)] = '\0';
        admit_duration(a->requests_reset_ms,
                       admit_header(out, "x-ratelimit-reset-requests"),
                       FG_ADMIT_HEADER_VALUE_MAX);
    }
    if (a->tokens_limit > 0) {
        v = admit_header(out, "x-ratelimit-limit-tokens");
        v[fg_fmt_i64(v, a->tokens_limit)] = '\0';
        v = admit_header(out, "x-ratelimit-remaining-tokens");
        v[fg_fmt_i64(v, a->tokens_remaining)] = '\0';
        admit_duration(a->tokens_reset_ms,
                       admit_header(out, "x-ratelimit-reset-tokens"),
                       FG_ADMIT_HEADER_VALUE_MAX);
    }
}

static fg_verdict_kind_t
admit_refuse(fg_req_t *req, const fg_admission_t *a, const char *whose,
             fg_verdict_t *v)
{
    static const char *const what[FG_LIMIT__COUNT] = {
        "", "requests per minute", "tokens per minute",
        "concurrent requests"
    };
    static const fg_error_code_t code[FG_LIMIT__COUNT] = {
        FG_E_INTERNAL, FG_E_RATE_LIMIT_REQUESTS, FG_E_RATE_LIMIT_TOKENS,
        FG_E_RATE_LIMIT_CONCURRENCY
    };
    int64_t limit = a->refused == FG_LIMIT_REQUESTS
                    ? a->limits.requests_per_min
                    : a->refused == FG_LIMIT_TOKENS ? a->limits.tokens_per_min
                    : a->limits.max_concurrent;

    req->admission.refused_by = a->refused;
    return fg_verdict_refuse(v, a->retry_after_ms, code[a->refused], NULL,
                             "Rate limit reached for %s on %s: limit %lld. "
                             "Please try again in %llds.", what[a->refused],
                             whose, (long long) limit,
                             (long long) a->retry_after_s);
}

/* Cancels every admission taken so far; the key's report then shows its
 * limits as they stand, untouched by this request. */
static void
admit_cancel(fg_req_t *req, int64_t now)
{
    fg_worker_t        *w = req->worker;
    fg_limiter_t       *l = w->wc->shm->limiter;
    fg_req_admission_t *ad = &req->admission;

    if (ad->taken & ADMIT_KEY) {
        fg_limiter_cancel(l, w->wc->slot, &ad->key);
        fg_limiter_peek(l, req->auth.subject, &ad->key.limits, now,
                        &ad->key);
    }
    if (ad->taken & ADMIT_MODEL) {
        fg_limiter_cancel(l, w->wc->slot, &ad->model);
    }
    if (ad->taken & ADMIT_PROVIDER) {
        fg_limiter_cancel(l, w->wc->slot, &ad->provider);
    }
    if (ad->taken & ADMIT_ENDPOINT) {
        fg_limiter_cancel(l, w->wc->slot, &ad->endpoint);
    }
    ad->taken = 0;
}

/* Gives back the attempt's admissions (model, provider, endpoint) only. */
static void
admit_cancel_attempt(fg_req_t *req)
{
    fg_worker_t        *w = req->worker;
    fg_limiter_t       *l = w->wc->shm->limiter;
    fg_req_admission_t *ad = &req->admission;

    if (ad->taken & ADMIT_MODEL) {
        fg_limiter_cancel(l, w->wc->slot, &ad->model);
    }
    if (ad->taken & ADMIT_PROVIDER) {
        fg_limiter_cancel(l, w->wc->slot, &ad->provider);
    }
    if (ad->taken & ADMIT_ENDPOINT) {
        fg_limiter_cancel(l, w->wc->slot, &ad->endpoint);
    }
    ad->taken &= ~ADMIT_ATTEMPT;
}

/*
 * A global limit of the catalog, @kind "model" or "provider" named @name:
 * admitted into @a (marked @bit), or refused after cancelling what the
 * request took so far. Hashes the subject only when there is a limit.
 */
static fg_verdict_kind_t
admit_global(fg_req_t *req, const char *kind, const char *name,
             int64_t requests_per_min, int64_t tokens_per_min,
             fg_admission_t *a, int bit, int64_t now, fg_verdict_t *v)
{
    fg_worker_t *w = req->worker;
    fg_limits_t  limits = { requests_per_min, tokens_per_min, 0 };
    uint64_t     subject = 0;
    char         whose[160];

    if (requests_per_min > 0 || tokens_per_min > 0) {
        snprintf(whose, sizeof(whose), "%s:%s", kind, name);
        subject = fg_limiter_subject(whose);
    }
    if (fg_limiter_admit(w->wc->shm->limiter, w->wc->slot, subject, &limits,
                         req->admission.tokens, now, a) != FG_OK) {
        admit_cancel_attempt(req);
        snprintf(whose, sizeof(whose), "%s %s (all keys)", kind, name);
        return admit_refuse(req, a, whose, v);
    }
    req->admission.taken |= bit;
    return FG_VERDICT_CONTINUE;
}

fg_verdict_kind_t
fg_admit_request(fg_req_t *req, fg_verdict_t *v)
{
    fg_worker_t        *w = req->worker;
    fg_limiter_t       *l = w->wc->shm->limiter;
    fg_req_admission_t *ad = &req->admission;
    const fg_key_record_t *key = &req->auth.key;
    fg_limits_t         limits;
    int64_t             now;
    char                whose[160];

    if (fg_worker_usage_full(w)
        || atomic_load_explicit(&w->wc->shm->header->sh_usage_failed,
                                memory_order_relaxed)) {
        /* Back-pressure: a billable request must be able to leave its
         * usage record; none is ever dropped, so none is taken. */
        return fg_verdict_refuse(v, 1000, FG_E_BILLING_UNAVAILABLE, NULL,
                                 "usage records cannot be written right "
                                 "now; retry in a second");
    }

    /* The worst case now; corrected to the upstream's usage at settle. */
    now = fg_mono_ns();
    ad->tokens = req->route.prompt_estimate
                 + req->route.max_output * req->route.choices;

    limits.requests_per_min = key->kr_requests_per_min;
    limits.tokens_per_min = key->kr_tokens_per_min;
    limits.max_concurrent = key->kr_max_concurrent;
    if (fg_limiter_admit(l, w->wc->slot, req->auth.subject, &limits,
                         ad->tokens, now, &ad->key) != FG_OK) {
        /* The limiter reports no room left in the limit that refused,
         * though a request smaller than this one may still fit: the
         * headers say what the key has left as it stands. */
        fg_limiter_peek(l, req->auth.subject, &limits, now, &ad->key);
        snprintf(whose, sizeof(whose), "key %s", key->kr_id);
        return admit_refuse(req, &ad->key, whose, v);
    }
    ad->taken |= ADMIT_KEY;
    return FG_VERDICT_CONTINUE;
}

fg_verdict_kind_t
fg_admit_endpoint(fg_req_t *req, const fg_endpoint_t *e, fg_verdict_t *v)
{
    fg_req_admission_t *ad = &req->admission;
    const fg_model_t   *m = e->model;
    int64_t             now = fg_mono_ns();
    char                name[2 * FG_ROUTEREQ_NAME_MAX + 64];

    admit_cancel_attempt(req);
    if (admit_global(req, "model", m->id, m->requests_per_min,
                     m->tokens_per_min, &ad->model, ADMIT_MODEL, now, v)
        != FG_VERDICT_CONTINUE
        || admit_global(req, "provider", e->provider->id,
                        e->provider->requests_per_min,
                        e->provider->tokens_per_min, &ad->provider,
                        ADMIT_PROVIDER, now, v) != FG_VERDICT_CONTINUE) {
        return FG_VERDICT_REFUSE;
    }
    if (e->requests_per_min == 0 && e->tokens_per_min == 0) {
        return FG_VERDICT_CONTINUE;
    }
    snprintf(name, sizeof(name), "%.64s/%.64s", e->provider->id,
             e->upstream_id);
    return admit_global(req, "endpoint", name, e->requests_per_min,
                        e->tokens_per_min, &ad->endpoint, ADMIT_ENDPOINT,
                        now, v);
}

void
fg_admit_endpoint_release(fg_req_t *req)
{
    admit_cancel_attempt(req);
}

void
fg_admit_cancel(fg_req_t *req)
{
    admit_cancel(req, fg_mono_ns());
}

void
fg_admit_settle(fg_req_t *req, const fg_request_summary_t *s)
{
    fg_worker_t        *w = req->worker;
    fg_limiter_t       *l = w->wc->shm->limiter;
    fg_req_admission_t *ad = &req->admission;
    int64_t             actual = -1;

    if (ad->taken == 0) {
        return;
    }
    /* What the upstream says was used; a request that got no usage keeps
     * its estimate, so a client cannot dodge the limit by leaving. */
    if (s->has_usage) {
        actual = s->prompt_tokens + s->completion_tokens;
    }
    if (ad->taken & ADMIT_KEY) {
        fg_limiter_settle(l, w->wc->slot, &ad->key, actual);
    }
    if (ad->taken & ADMIT_MODEL) {
        fg_limiter_settle(l, w->wc->slot, &ad->model, actual);
    }
    if (ad->taken & ADMIT_PROVIDER) {
        fg_limiter_settle(l, w->wc->slot, &ad->provider, actual);
    }
    if (ad->taken & ADMIT_ENDPOINT) {
        fg_limiter_settle(l, w->wc->slot, &ad->endpoint, actual);
    }
    ad->taken = 0;
}
