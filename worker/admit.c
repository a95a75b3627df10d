/*
 * admit.c: rate limits on the request path. Three subjects may limit one
 * request: its key (the key record's limits), its model and its provider
 * (the catalog's global limits, which keep the gateway under a provider's
 * own quota). They are taken in that order; when one refuses, the ones
 * already taken are cancelled, so a refused request costs nothing on any
 * limit.
 */

#include <stdio.h>
#include <string.h>

#include "common/base/clock.h"
#include "common/wire/fmt.h"
#include "common/base/log.h"
#include "worker/admit.h"
#include "worker/worker.h"

#define ADMIT_KEY       1
#define ADMIT_MODEL     2
#define ADMIT_PROVIDER  4

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

void
fg_admit_headers(fg_req_t *req)
{
    const fg_admission_t *a = &req->admit_key;
    char                  v[32];

    if (req->conn == NULL || !req->has_key
        || (a->requests_limit <= 0 && a->tokens_limit <= 0)) {
        return;
    }
    if (a->requests_limit > 0) {
        v[fg_fmt_i64(v, a->requests_limit)] = '\0';
        fg_req_add_header(req, "x-ratelimit-limit-requests", v);
        v[fg_fmt_i64(v, a->requests_remaining)] = '\0';
        fg_req_add_header(req, "x-ratelimit-remaining-requests", v);
        admit_duration(a->requests_reset_ms, v, sizeof(v));
        fg_req_add_header(req, "x-ratelimit-reset-requests", v);
    }
    if (a->tokens_limit > 0) {
        v[fg_fmt_i64(v, a->tokens_limit)] = '\0';
        fg_req_add_header(req, "x-ratelimit-limit-tokens", v);
        v[fg_fmt_i64(v, a->tokens_remaining)] = '\0';
        fg_req_add_header(req, "x-ratelimit-remaining-tokens", v);
        admit_duration(a->tokens_reset_ms, v, sizeof(v));
        fg_req_add_header(req, "x-ratelimit-reset-tokens", v);
    }
}

static void
admit_refuse(fg_req_t *req, const fg_admission_t *a, const char *whose)
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
    char    retry[24];

    req->limit_kind = a->refused;
    snprintf(retry, sizeof(retry), "%lld", (long long) a->retry_after_s);
    fg_req_add_header(req, "Retry-After", retry);
    fg_req_fail(req, code[a->refused], NULL,
                "Rate limit reached for %s on %s: limit %lld. Please try "
                "again in %llds.", what[a->refused], whose,
                (long long) limit, (long long) a->retry_after_s);
}

/* Cancels every admission taken so far; the key's report then shows its
 * limits as they stand, untouched by this request. */
static void
admit_cancel(fg_req_t *req, int64_t now)
{
    fg_worker_t  *w = req->worker;
    fg_limiter_t *l = w->wc->shm->limiter;

    if (req->admit_taken & ADMIT_KEY) {
        fg_limiter_cancel(l, w->wc->slot, &req->admit_key);
        fg_limiter_peek(l, req->key_subject,
                        &req->admit_key.limits, now, &req->admit_key);
    }
    if (req->admit_taken & ADMIT_MODEL) {
        fg_limiter_cancel(l, w->wc->slot, &req->admit_model);
    }
    if (req->admit_taken & ADMIT_PROVIDER) {
        fg_limiter_cancel(l, w->wc->slot, &req->admit_provider);
    }
    req->admit_taken = 0;
}

/*
 * A global limit of the catalog, @kind "model" or "provider" named @name:
 * admitted into @a (marked @bit), or refused after cancelling what the
 * request took so far. Hashes the subject only when there is a limit.
 */
static int
admit_global(fg_req_t *req, const char *kind, const char *name,
             int64_t requests_per_min, int64_t tokens_per_min,
             fg_admission_t *a, int bit, int64_t now)
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
                         req->admit_tokens, now, a) != FG_OK) {
        admit_cancel(req, now);
        snprintf(whose, sizeof(whose), "%s %s (all keys)", kind, name);
        admit_refuse(req, a, whose);
        return FG_ERR;
    }
    req->admit_taken |= bit;
    return FG_OK;
}

int
fg_admit_request(fg_req_t *req)
{
    fg_worker_t       *w = req->worker;
    fg_limiter_t      *l = w->wc->shm->limiter;
    const fg_model_t  *m = req->model;
    fg_limits_t        limits;
    int64_t            now = fg_mono_ns();
    char               whose[160];

    /* The worst case now; corrected to the upstream's usage at settle. */
    req->admit_tokens = req->prompt_estimate
                        + req->max_output * req->choices;

    limits.requests_per_min = req->key.kr_requests_per_min;
    limits.tokens_per_min = req->key.kr_tokens_per_min;
    limits.max_concurrent = req->key.kr_max_concurrent;
    if (fg_limiter_admit(l, w->wc->slot, req->key_subject, &limits,
                         req->admit_tokens, now, &req->admit_key) != FG_OK) {
        snprintf(whose, sizeof(whose), "key %s", req->key.kr_id);
        admit_refuse(req, &req->admit_key, whose);
        return FG_ERR;
    }
    req->admit_taken |= ADMIT_KEY;

    if (admit_global(req, "model", m->id, m->requests_per_min,
                     m->tokens_per_min, &req->admit_model, ADMIT_MODEL, now)
        != FG_OK) {
        return FG_ERR;
    }
    return admit_global(req, "provider", m->provider->id,
                        m->provider->requests_per_min,
                        m->provider->tokens_per_min, &req->admit_provider,
                        ADMIT_PROVIDER, now);
}

void
fg_admit_cancel(fg_req_t *req)
{
    admit_cancel(req, fg_mono_ns());
}

void
fg_admit_settle(fg_req_t *req, const fg_request_summary_t *s)
{
    fg_worker_t  *w = req->worker;
    fg_limiter_t *l = w->wc->shm->limiter;
    int64_t       actual = -1;

    if (req->admit_taken == 0) {
        return;
    }
    /* What the upstream says was used; a request that got no usage keeps
     * its estimate, so a client cannot dodge the limit by leaving. */
    if (s->has_usage) {
        actual = s->prompt_tokens + s->completion_tokens;
    }
    if (req->admit_taken & ADMIT_KEY) {
        fg_limiter_settle(l, w->wc->slot, &req->admit_key, actual);
    }
    if (req->admit_taken & ADMIT_MODEL) {
        fg_limiter_settle(l, w->wc->slot, &req->admit_model, actual);
    }
    if (req->admit_taken & ADMIT_PROVIDER) {
        fg_limiter_settle(l, w->wc->slot, &req->admit_provider, actual);
    }
    req->admit_taken = 0;
}
