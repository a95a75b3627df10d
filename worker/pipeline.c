/*
 * pipeline.c: the chat-completions pipeline, and the only place a stage's
 * verdict turns into a reply.
 *
 *   http.c ── fg_pipeline_authenticate ──► auth.c
 *   http.c ── fg_pipeline_chat
 *               ├─► validate.c   req->validated   (415, 400s)
 *               ├─► route        req->route       (404, 403, 400, 503:
 *               │                                 routeprefs.c, router.c)
 *               ├─► admit.c      req->admission   (429, 503)
 *               ├─► meter.c      req->reservation (402, 503)
 *               ├─► choose       req->route       the next endpoint
 *               └─► attempt      req->attempt     upstream_body.c, then
 *                                                 fg_upstream_start()
 *   upstream ── fg_pipeline_upstream_handler: headers/data/done
 *               ├─► relay.c      req->relay       (stream, JSON, errors)
 *               └─► fail over    before the client saw a byte: choose
 *                                and attempt again, from the loop
 *   request.c ── fg_req_account ──► fg_pipeline_settle
 *               ├─► meter.c      req->settlement  (the charge)
 *               ├─► footprint.c  req->footprint   (the impact)
 *               └─► admit.c, metrics, access log, usage record
 *
 * Each stage reads what earlier stages wrote and writes only its own
 * part. The pipeline adds every reply header a stage calls for: a
 * refusal's Retry-After, the x-ratelimit-* headers once admission is
 * final (after the meter, which may give the admission back), who served
 * (x-fluxgate-provider, x-fluxgate-attempts), the lowered max_tokens,
 * and the charge of a completion.
 *
 * Route, choose and fail over are steps here rather than files: they
 * call the router, the health table, the limits and the meter in order,
 * and the failover rules (docs/routing.md, "Failing over") are the
 * pipeline's to apply.
 */

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/base/alloc.h"
#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/accounts/usagering.h"
#include "common/wire/fmt.h"
#include "common/tokens/compress.h"
#include "common/tokens/tokcount.h"
#include "worker/admit.h"
#include "worker/auth.h"
#include "worker/failover.h"
#include "worker/footprint.h"
#include "worker/meter.h"
#include "worker/pipeline.h"
#include "worker/routeprefs.h"
#include "worker/relay.h"
#include "worker/responses_native.h"
#include "worker/responses_reply.h"
#include "worker/responses_store.h"
#include "worker/upstream.h"
#include "worker/usagerec.h"
#include "worker/upstream_body.h"
#include "worker/validate.h"
#include "worker/worker.h"

static char *pipeline_settle_chunk(fg_req_t *req, const char *json,
                                   size_t len, size_t *out_len);
static void pipeline_upstream_headers(void *owner);
static void pipeline_keep_response(fg_req_t *req, const char *id,
                                   const char *response, size_t len);
static void pipeline_keep_whole(fg_req_t *req);
static int pipeline_upstream_data(void *owner, const char *data,
                                  size_t len);
static void pipeline_upstream_done(void *owner,
                                   const fg_attempt_result_t *result,
                                   const char *error);

const fg_upstream_handler_t fg_pipeline_upstream_handler = {
    pipeline_upstream_headers, pipeline_upstream_data, pipeline_upstream_done
};

/* Answers @req with a refusal's error and the wait it asks for. */
static void
pipeline_refuse(fg_req_t *req, const fg_verdict_t *v)
{
    if (v->retry_after_ms != FG_RETRY_NONE) {
        fg_req_add_retry_after(req, v->retry_after_ms);
    }
    fg_req_reply_error(req, &v->err);
}

/* The x-ratelimit-* headers of the key, as the admission left them. */
static void
pipeline_limit_headers(fg_req_t *req)
{
    fg_admit_headers_t h;
    int                i;

    fg_admit_headers(req, &h);
    for (i = 0; i < h.count; i++) {
        fg_req_add_header(req, h.name[i], h.value[i]);
    }
}

int
fg_pipeline_authenticate(fg_req_t *req)
{
    fg_verdict_t v;

    if (fg_auth_request(req, &v) != FG_VERDICT_CONTINUE) {
        pipeline_refuse(req, &v);
        return FG_ERR;
    }
    return FG_OK;
}

int
fg_pipeline_authenticate_head(fg_req_t *probe, fg_verdict_t *v)
{
    return fg_auth_request(probe, v) == FG_VERDICT_CONTINUE ? FG_OK
                                                           : FG_ERR;
}

void
fg_pipeline_refuse(fg_req_t *req, const fg_verdict_t *v)
{
    pipeline_refuse(req, v);
}

/* Requests routed by this worker: mixed into the load-share seed. */
static uint64_t pipeline_route_seq;

/* The router asks whether the key may use @m. */
static int
pipeline_allows(void *arg, const fg_model_t *m)
{
    return fg_auth_allows(arg, m);
}

/* 1 when two models count prompts alike (one count serves both). */
static int
pipeline_same_profile(const fg_token_profile_t *a, const fg_token_profile_t *b)
{
    return a->bpe == b->bpe && a->image.kind == b->image.kind
           && a->image.base == b->image.base
           && a->image.per_tile == b->image.per_tile
           && a->image.max_patches == b->image.max_patches
           && a->image.multiplier == b->image.multiplier
           && a->audio_tokens_per_second == b->audio_tokens_per_second
           && a->max_token_bytes == b->max_token_bytes;
}

/*
 * The prompt's bounds over every model the request may be sent to: the
 * highest upper bound (what the limits and the reservation take) and the
 * lowest lower bound (what may refuse). A fallback model that counts
 * like an earlier one is not counted again.
 */
static void
pipeline_count(fg_req_t *req, const fg_route_prefs_t *prefs,
               fg_route_need_t *need, int64_t *total_lower)
{
    fg_tokcount_t count;
    size_t        i, j;
    size_t        budget = (size_t) req->worker->conf->exact_count_bytes;
    int64_t       largest;
    fg_usage_api_t api = req->validated.api;

    need->prompt_upper = 0;
    need->prompt_lower = INT64_MAX;
    need->has_images = 0;
    *total_lower = INT64_MAX;
    for (i = 0; i < prefs->n_models; i++) {
        for (j = 0; j < i; j++) {
            if (pipeline_same_profile(&prefs->models[i]->tokens,
                                      &prefs->models[j]->tokens)) {
                break;
            }
        }
        if (j < i) {
            continue;
        }
        if (api == FG_USAGE_API_EMBEDDINGS
            || api == FG_USAGE_API_COMPLETIONS) {
            /* Embeddings' inputs, a legacy completion's prompts; a
             * Responses request is a chat completion by now. */
            if (api == FG_USAGE_API_EMBEDDINGS) {
                fg_tokcount_inputs(&prefs->models[i]->tokens,
                                   &req->validated.doc, "input", NULL,
                                   budget, &count, &largest);
            } else {
                fg_tokcount_inputs(&prefs->models[i]->tokens,
                                   &req->validated.doc, "prompt", "suffix",
                                   budget, &count, &largest);
            }
        } else {
            fg_tokcount_chat(&prefs->models[i]->tokens, &req->validated.doc,
                             budget, &count);
            largest = count.prompt.lower;
        }
        if (count.prompt.upper > need->prompt_upper) {
            need->prompt_upper = count.prompt.upper;
        }
        /* The window holds a chat's whole prompt, each embedding's
         * input on its own. */
        if (largest < need->prompt_lower) {
            need->prompt_lower = largest;
        }
        if (count.prompt.lower < *total_lower) {
            *total_lower = count.prompt.lower;
        }
        need->has_images |= count.image_count > 0;
    }
}

/*
 * A request for one model keeps the refusals it always had, worded for
 * that model: a token limit above its largest output, a prompt that
 * fills its widest window on its own. Endpoints narrower than the model
 * are the router's to drop.
 */
static fg_verdict_kind_t
pipeline_check_model(fg_req_t *req, const fg_route_need_t *need,
                     fg_verdict_t *v)
{
    const fg_chat_request_t *chat = &req->validated.chat;
    const fg_model_t        *m = req->route.model;
    const char              *field;

    if (chat->max_tokens > m->max_output_tokens) {
        field = fg_tokens_field_name(chat->tokens_field);
        return fg_verdict_refuse(v, FG_RETRY_NONE, FG_E_OUT_OF_RANGE, field,
                                 "%s is %lld, above the %lld output tokens "
                                 "%s allows", field, chat->max_tokens,
                                 (long long) m->max_output_tokens, m->id);
    }
    if (chat->max_tokens <= 0 && need->prompt_lower >= m->context_window) {
        const char *what = req->validated.api == FG_USAGE_API_EMBEDDINGS
                           ? "input" : "messages";

        return fg_verdict_refuse(v, FG_RETRY_NONE,
                                 FG_E_CONTEXT_LENGTH_EXCEEDED, what,
                                 "This model's maximum context length is "
                                 "%lld tokens. However, your %s "
                                 "resulted in %s%lld tokens. Please reduce "
                                 "the length of the %s.",
                                 (long long) m->context_window, what,
                                 need->prompt_lower == need->prompt_upper
                                 ? "" : "at least ",
                                 (long long) need->prompt_lower, what);
    }
    return FG_VERDICT_CONTINUE;
}

/* A legacy completion without max_tokens makes at most this many. */
#define PIPELINE_COMPLETIONS_MAX_TOKENS 16

/* The catalog's FG_API_* bit of the API @api a request was made on. */
static unsigned
pipeline_api_bit(fg_usage_api_t api)
{
    switch (api) {
    case FG_USAGE_API_EMBEDDINGS:
        return FG_API_EMBEDDINGS;
    case FG_USAGE_API_COMPLETIONS:
        return FG_API_COMPLETIONS;
    case FG_USAGE_API_RESPONSES:
        /* Sent as is where it is spoken, translated where chat is. */
        return FG_API_CHAT | FG_API_RESPONSES;
    default:
        return FG_API_CHAT;
    }
}

/* The path an attempt posts to after its provider's base URL. */
static const char *
pipeline_api_path(fg_usage_api_t api, int is_native)
{
    if (is_native) {
        return "/responses";
    }
    switch (api) {
    case FG_USAGE_API_EMBEDDINGS:
        return "/embeddings";
    case FG_USAGE_API_COMPLETIONS:
        return "/completions";
    default:
        return "/chat/completions";
    }
}

/*
 * The route step: the model asked for and its fallbacks, what the request
 * says about providers, and the router's ordered endpoints (router.h);
 * the worst case the limits and the reservation count.
 */
static fg_verdict_kind_t
pipeline_route_once(fg_req_t *req, fg_verdict_t *v)
{
    fg_worker_t             *w = req->worker;
    const fg_chat_request_t *chat = &req->validated.chat;
    fg_req_route_t          *rt = &req->route;
    fg_route_prefs_t         prefs;
    fg_route_need_t          need;
    fg_route_plan_t          plan;
    int64_t                  retry_s = 0;
    uint64_t                 seed;
    size_t                   i;

    if (fg_routereq_prefs(&req->validated.doc, &chat->route,
                          req->validated.model_requested, w->catalog,
                          (fg_preset_t) req->auth.key.kr_preset, &prefs,
                          &v->err) != FG_OK) {
        v->kind = FG_VERDICT_REFUSE;
        v->retry_after_ms = FG_RETRY_NONE;
        return FG_VERDICT_REFUSE;
    }
    rt->model = prefs.models[0];
    memset(&need, 0, sizeof(need));
    need.api = pipeline_api_bit(req->validated.api);
    need.max_output = chat->max_tokens;
    if (req->validated.api == FG_USAGE_API_COMPLETIONS
        && chat->tokens_field == FG_TOKENS_FIELD_NONE) {
        /* OpenAI's default for a legacy completion, written out for
         * every provider (pipeline_attempt): the most it may make. */
        need.max_output = PIPELINE_COMPLETIONS_MAX_TOKENS;
    }
    need.choices = chat->n > 0 ? chat->n : 1;
    pipeline_count(req, &prefs, &need, &rt->prompt_lower);
    fg_routereq_need(&req->validated.doc, prefs.require_parameters, &need);
    rt->prompt_estimate = need.prompt_upper;
    rt->choices = need.choices;
    if (prefs.n_models == 1) {
        if (fg_auth_model(req, rt->model, v) != FG_VERDICT_CONTINUE
            || pipeline_check_model(req, &need, v) != FG_VERDICT_CONTINUE) {
            return FG_VERDICT_REFUSE;
        }
    }
    /* Equal endpoints share load: any well-mixed number will do. */
    seed = (uint64_t) fg_mono_ns() ^ ((uint64_t) (uintptr_t) req << 17)
           ^ ++pipeline_route_seq;
    if (fg_route_plan(w->catalog, w->wc->shm->health, &w->route_conf,
                      &prefs, &need,
                      pipeline_allows, req, fg_mono_ms(), seed, &plan,
                      &retry_s, &v->err) != FG_OK) {
        v->kind = FG_VERDICT_REFUSE;
        v->retry_after_ms = v->err.code == FG_E_NO_PROVIDER_AVAILABLE
                            ? (retry_s > 0 ? retry_s : 1) * 1000
                            : FG_RETRY_NONE;
        return FG_VERDICT_REFUSE;
    }
    rt->candidates = fg_xmalloc(plan.n * sizeof(*rt->candidates));
    memcpy(rt->candidates, plan.c, plan.n * sizeof(*rt->candidates));
    rt->n_candidates = plan.n;
    rt->preset = plan.preset;
    /* An embedding generates nothing, nor does a legacy completion that
     * asks for max_tokens 0 (its prompt echoed, scored): no reply to
     * reserve for. */
    if (need.api == FG_API_EMBEDDINGS
        || (need.api == FG_API_COMPLETIONS
            && chat->tokens_field != FG_TOKENS_FIELD_NONE
            && chat->max_tokens == 0)) {
        for (i = 0; i < plan.n; i++) {
            rt->candidates[i].max_output = 0;
        }
    }
    /* The key's token limit takes the largest output any may be sent. */
    rt->max_output = 0;
    for (i = 0; i < plan.n; i++) {
        if (rt->candidates[i].max_output > rt->max_output) {
            rt->max_output = rt->candidates[i].max_output;
        }
    }
    return FG_VERDICT_CONTINUE;
}

/* 1 when the request's prompt may be compressed: its transforms or
 * plugins say so, or, when it names neither, its key's default. */
static int
pipeline_compresses(const fg_req_t *req)
{
    int asked = req->validated.chat.xf.compress;

    if (req->validated.api == FG_USAGE_API_EMBEDDINGS
        || req->validated.api == FG_USAGE_API_COMPLETIONS) {
        return 0;           /* compression cuts chat messages */
    }
    if (asked >= 0) {
        return asked;
    }
    return (req->auth.key.kr_transforms & FG_KEY_TRANSFORM_MIDDLE_OUT) != 0;
}

/*
 * Context compression ("middle-out", common/tokens/compress.h): the
 * prompt is cut to fit the widest window among the endpoints of the
 * models the request may go to, leaving room for its token limit (or,
 * without one, for the smaller of that model's output and an eighth of
 * the window). The compressed body replaces the client's: it is what is
 * validated again, counted, priced and sent. FG_OK, or FG_ERR when it
 * cannot fit (the caller keeps its refusal).
 */
static int
pipeline_compress(fg_req_t *req)
{
    fg_worker_t             *w = req->worker;
    const fg_chat_request_t *chat = &req->validated.chat;
    const fg_endpoint_t     *widest = NULL;
    fg_route_prefs_t         prefs;
    fg_compress_result_t     res;
    fg_err_t                 err;
    int64_t                  room;
    size_t                   i, j, len;
    char                    *body;

    if (fg_routereq_prefs(&req->validated.doc, &chat->route,
                          req->validated.model_requested, w->catalog,
                          (fg_preset_t) req->auth.key.kr_preset, &prefs,
                          &err) != FG_OK) {
        return FG_ERR;
    }
    for (i = 0; i < prefs.n_models; i++) {
        const fg_model_t *m = prefs.models[i];

        if (!fg_auth_allows(req, m)) {
            continue;
        }
        for (j = 0; j < m->endpoint_count; j++) {
            const fg_endpoint_t *e = m->endpoints[j];

            if (e->provider->is_enabled
                && (widest == NULL
                    || e->context_window > widest->context_window)) {
                widest = e;
            }
        }
    }
    if (widest == NULL) {
        return FG_ERR;
    }
    room = chat->max_tokens > 0 ? chat->max_tokens
           : widest->max_output_tokens < widest->context_window / 8
             ? widest->max_output_tokens : widest->context_window / 8;
    if (room < 1) {
        room = 1;
    }
    if (widest->context_window - room < 1
        || fg_compress_chat(&widest->model->tokens, &req->validated.doc,
                            (size_t) w->conf->exact_count_bytes,
                            widest->context_window - room, &body, &len,
                            &res) != FG_OK) {
        return FG_ERR;
    }
    if (fg_validate_replace_body(req, body, len) != FG_OK) {
        return FG_ERR;
    }
    req->route.is_compressed = 1;
    req->route.compressed_messages = res.messages_removed
                                     + res.messages_truncated;
    req->route.compressed_tokens = res.tokens_removed;
    return FG_OK;
}

/*
 * The route step, and when the prompt does not fit any window and the
 * request may be compressed, compression and the route again.
 */
static fg_verdict_kind_t
pipeline_route(fg_req_t *req, fg_verdict_t *v)
{
    if (pipeline_route_once(req, v) == FG_VERDICT_CONTINUE) {
        return FG_VERDICT_CONTINUE;
    }
    if (v->err.code != FG_E_CONTEXT_LENGTH_EXCEEDED
        || !pipeline_compresses(req) || pipeline_compress(req) != FG_OK) {
        return FG_VERDICT_REFUSE;
    }
    return pipeline_route_once(req, v);
}

/* The probe or attempt begun at the current endpoint is over. */
static void
pipeline_health_end(fg_req_t *req, fg_attempt_outcome_t outcome,
                    int is_success, int is_circuit_failure)
{
    fg_worker_t         *w = req->worker;
    const fg_endpoint_t *e = req->route.endpoint;
    const fg_upstream_t *up = req->attempt.upstream;
    double               ttft = -1, tps = -1, gen_s;

    if (!req->attempt.is_health_open || e == NULL) {
        return;
    }
    req->attempt.is_health_open = 0;
    if (is_success && up != NULL && up->result.first_byte_us > 0) {
        ttft = (double) up->result.first_byte_us / 1000.0;
        gen_s = (double) (up->result.latency_us - up->result.first_byte_us)
                / 1e6;
        if (req->relay.has_usage && req->relay.completion_tokens > 0
            && gen_s > 0.001) {
            tps = (double) req->relay.completion_tokens / gen_s;
        }
    }
    fg_health_end(w->wc->shm->health, e->health_slot, &w->route_conf.circuit,
                  fg_mono_ms(), outcome, is_success, is_circuit_failure, ttft,
                  tps);
}

/* The attempt failed as @r: its endpoint's health counts it (against the
 * circuit when the provider is at fault), and a 429's Retry-After cools
 * the endpoint down for that long. */
static void
pipeline_health_failed(fg_req_t *req, const fg_attempt_result_t *r)
{
    if (r->status == 429 && r->retry_after_ms > 0) {
        fg_health_cool(req->worker->wc->shm->health,
                       req->route.endpoint->health_slot,
                       fg_mono_ms() + r->retry_after_ms);
    }
    pipeline_health_end(req, r->outcome, 0, fg_failover_is_circuit_failure(r));
}

/*
 * Chooses the next endpoint in the router's order that can take the
 * attempt now: its circuit lets it (the half-open probe is not another
 * worker's), its model's, provider's and own limits admit it, and the
 * energy held affords a reply there. FG_OK with route.endpoint set and
 * its admissions held; FG_ERR with @v the reason the last one was
 * skipped (429 of a limit, 402, or 503 no_provider_available) when none
 * is left or the attempts are used up.
 */
static int
pipeline_choose(fg_req_t *req, fg_verdict_t *v)
{
    fg_worker_t          *w = req->worker;
    fg_req_route_t       *rt = &req->route;
    fg_verdict_t          refusal;
    const fg_route_candidate_t *c;
    int64_t               now = fg_mono_ms();
    int                   has_refusal = 0;

    if (rt->attempts >= w->conf->routing_max_attempts
        || (rt->attempts > 0 && w->conf->routing_total_timeout_ms > 0
            && (fg_mono_us() - req->started_us) / 1000
               >= w->conf->routing_total_timeout_ms)) {
        rt->next = rt->n_candidates;
    }
    while (rt->next < rt->n_candidates) {
        const fg_endpoint_t *last = rt->endpoint;

        c = &rt->candidates[rt->next++];
        if (!fg_health_begin(w->wc->shm->health, c->endpoint->health_slot,
                             &w->route_conf.circuit, now)) {
            continue;
        }
        rt->endpoint = c->endpoint;
        req->attempt.is_health_open = 1;
        if (fg_admit_endpoint(req, c->endpoint, &refusal)
            != FG_VERDICT_CONTINUE) {
            *v = refusal;
            has_refusal = 1;
            pipeline_health_end(req, FG_ATTEMPT_NONE, 0, 0);
            rt->endpoint = last;
            continue;
        }
        if (fg_meter_fit(req, c) != FG_OK) {
            (void) fg_verdict_refuse(v, FG_RETRY_NONE,
                                     FG_E_INSUFFICIENT_ENERGY, NULL,
                                     "Insufficient energy: the balance of "
                                     "key %s held for this request does not "
                                     "pay for a reply from %s.",
                                     req->auth.key.kr_id,
                                     c->endpoint->model->id);
            has_refusal = 1;
            fg_admit_endpoint_release(req);
            pipeline_health_end(req, FG_ATTEMPT_NONE, 0, 0);
            rt->endpoint = last;
            continue;
        }
        rt->model = c->endpoint->model;
        return FG_OK;
    }
    if (!has_refusal) {
        /* Every one left was taken by another worker's probe or opened
         * since the router looked, or the attempts are used up. */
        (void) fg_verdict_refuse(v, 1000, FG_E_NO_PROVIDER_AVAILABLE, NULL,
                                 "no provider of %s can take the request "
                                 "now; retry in a second", rt->model->id);
    }
    return FG_ERR;
}

/* What every reply to a routed request says: who served it, after how
 * many attempts, and a token limit the balance lowered. */
static void
pipeline_route_headers(fg_req_t *req)
{
    char value[24];

    if (req->route.endpoint != NULL && req->route.attempts > 0) {
        fg_req_add_header(req, "x-fluxgate-provider",
                          req->route.endpoint->provider->id);
        value[fg_fmt_i64(value, req->route.attempts)] = '\0';
        fg_req_add_header(req, "x-fluxgate-attempts", value);
    }
    if (req->reservation.is_lowered) {
        value[fg_fmt_i64(value, req->reservation.max_output)] = '\0';
        fg_req_add_header(req, "x-fluxgate-max-tokens-lowered", value);
    }
    if (req->attempt.effort_mapped[0] != '\0') {
        fg_req_add_header(req, "x-fluxgate-reasoning-effort",
                          req->attempt.effort_mapped);
    }
    if (req->route.is_compressed) {
        char said[64];

        snprintf(said, sizeof(said), "messages=%lld,tokens=%lld",
                 (long long) req->route.compressed_messages,
                 (long long) req->route.compressed_tokens);
        fg_req_add_header(req, "x-fluxgate-compressed", said);
    }
}

/* Says, for x-fluxgate-reasoning-effort, the reasoning_effort asked when
 * endpoint @e is sent another through its model's map ("xhigh->high"). */
static void
pipeline_effort_mapped(fg_req_t *req, const fg_endpoint_t *e)
{
    fg_route_str_t asked;
    const char    *sent;
    size_t         len;

    req->attempt.effort_mapped[0] = '\0';
    sent = fg_upstream_body_mapped_effort(&req->validated.doc, e, &asked,
                                          &len);
    if (sent != NULL) {
        /* Both are plain names of at most 32 bytes (catalog.c). */
        snprintf(req->attempt.effort_mapped,
                 sizeof(req->attempt.effort_mapped), "%.*s->%.*s",
                 (int) asked.len, asked.s, (int) len, sent);
    }
}

/* Sends the client's body, with the gateway's edits, to the endpoint
 * pipeline_choose() chose. */
static fg_verdict_kind_t
pipeline_attempt(fg_req_t *req, fg_verdict_t *v)
{
    fg_worker_t             *w = req->worker;
    const fg_chat_request_t *chat = &req->validated.chat;
    const fg_endpoint_t     *e = req->route.endpoint;
    fg_req_route_t          *rt = &req->route;
    fg_req_attempt_t        *at = &req->attempt;
    int64_t                  lowered = 0;
    size_t                   len;
    char                    *body;
    fg_err_t                 err;
    fg_upstream_target_t     target;
    int                      may_fail_over;

    if (fg_validate_reparse(req) != FG_OK) {
        return fg_verdict_refuse(v, FG_RETRY_NONE, FG_E_INTERNAL, NULL,
                                 "the request could not be sent again");
    }
    /* Usage is what a stream is charged by: ask for it, and keep its
     * chunk from a client that did not (relay.c). */
    at->strip_usage = chat->is_stream && !chat->include_usage;
    if (req->reservation.is_lowered) {
        lowered = req->reservation.max_output;
    } else if (req->validated.api == FG_USAGE_API_COMPLETIONS
               && chat->tokens_field == FG_TOKENS_FIELD_NONE) {
        lowered = req->reservation.max_output;   /* the default, said */
    }
    at->is_native = req->validated.api == FG_USAGE_API_RESPONSES
                    && (e->apis & FG_API_RESPONSES);
    if (at->is_native) {
        /* Its usage is in response.completed; its reasoning as sent. */
        at->strip_usage = 0;
        at->effort_mapped[0] = '\0';
        body = fg_responses_native_body(&req->validated.resp_doc,
                                        e->upstream_id,
                                        strlen(e->upstream_id),
                                        req->validated.resp_context,
                                        req->validated.resp_context_len,
                                        lowered, &len);
    } else {
        int64_t max_output = rt->candidates[rt->next - 1].max_output;

        pipeline_effort_mapped(req, e);
        body = fg_upstream_body(&req->validated.doc, chat,
                                &(fg_upstream_body_in_t) {
                                    .endpoint = e,
                                    .lowered_max_tokens = lowered,
                                    .max_output = max_output,
                                    .ask_usage = at->strip_usage,
                                    .is_legacy = req->validated.api
                                                 == FG_USAGE_API_COMPLETIONS
                                }, &len);
    }
    /* Nothing reads the parsed document from here on; the body stays
     * while another endpoint may be tried (it is parsed again then). */
    may_fail_over = rt->next < rt->n_candidates
                    && rt->attempts + 1 < w->conf->routing_max_attempts;
    fg_validate_drop_doc(req, may_fail_over);
    target.provider = e->provider;
    target.request_id = req->id;
    target.api_path = pipeline_api_path(req->validated.api, at->is_native);
    if (at->upstream == NULL) {
        at->upstream = fg_upstream_start(w, &target, body, len,
                                         chat->is_stream,
                                         &fg_pipeline_upstream_handler, req,
                                         &err);
    } else if (fg_upstream_reinit(at->upstream, &target, body, len, &err)
               != FG_OK) {
        fg_upstream_free(at->upstream);
        at->upstream = NULL;
    }
    if (at->upstream == NULL) {
        fg_log(FG_LOG_ERROR, 0, "req=%s upstream not started: %s", req->id,
               err.msg);
        pipeline_health_end(req, FG_ATTEMPT_NONE, 0, 0);
        return fg_verdict_refuse(v, FG_RETRY_NONE, FG_E_PROVIDER_ERROR, NULL,
                                 "the request could not be sent to the "
                                 "provider");
    }
    if (rt->attempts < FG_USAGE_MAX_ATTEMPTS) {
        memset(&at->tried[rt->attempts], 0, sizeof(at->tried[0]));
        at->tried[rt->attempts].endpoint = e;
    }
    rt->attempts++;
    at->is_head_held = chat->is_stream;
    req->state = FG_REQ_UPSTREAM;
    v->kind = FG_VERDICT_PENDING;
    return FG_VERDICT_PENDING;
}

/*
 * The durable-reservation wait (docs/architecture.md, "cold start"): the
 * reservation's record must be in the syncer's reservation log before
 * the provider may start generating, so that a machine that stops now
 * settles it at its next start. The syncer syncs a reservation in its
 * next drain pass (10 ms); the worker looks every millisecond while any
 * request waits, and answers 503 after usage.reservation_wait_ms.
 */
#define PIPELINE_DURABLE_POLL_MS 1

static void
pipeline_wait_unlink(fg_req_t *req)
{
    fg_worker_t      *w = req->worker;
    fg_req_attempt_t *at = &req->attempt;

    if (at->wait_prev != NULL) {
        at->wait_prev->attempt.wait_next = at->wait_next;
    } else {
        w->durable_head = at->wait_next;
    }
    if (at->wait_next != NULL) {
        at->wait_next->attempt.wait_prev = at->wait_prev;
    } else {
        w->durable_tail = at->wait_prev;
    }
    at->wait_prev = at->wait_next = NULL;
    at->wait_until_ms = 0;
}

static void
pipeline_durable_cb(evutil_socket_t fd, short what, void *arg)
{
    fg_worker_t     *w = arg;
    fg_req_t        *req, *next;
    fg_verdict_t     v;
    uint64_t         committed;
    int64_t          now = fg_mono_ms();
    struct timeval   tv = { 0, PIPELINE_DURABLE_POLL_MS * 1000 };

    (void) fd;
    (void) what;
    committed = fg_usagering_committed(w->wc->shm->usage, w->wc->slot);
    for (req = w->durable_head; req != NULL; req = next) {
        next = req->attempt.wait_next;
        if (req->reservation.durable_at <= committed) {
            pipeline_wait_unlink(req);
            if (pipeline_attempt(req, &v) != FG_VERDICT_PENDING) {
                pipeline_refuse(req, &v);
            }
        } else if (now >= req->attempt.wait_until_ms) {
            pipeline_wait_unlink(req);
            fg_log(FG_LOG_ERROR, 0, "req=%s: its reservation was not made "
                   "durable within usage.reservation_wait_ms; is the "
                   "syncer running?", req->id);
            (void) fg_verdict_refuse(&v, 1000, FG_E_BILLING_UNAVAILABLE, NULL,
                                     "usage records cannot be written now; "
                                     "retry in a second");
            pipeline_refuse(req, &v);
        }
    }
    if (w->durable_head != NULL) {
        evtimer_add(w->durable_ev, &tv);
    }
}

/* 1 when @req waits for its reservation to be durable (the attempt then
 * starts from the timer), 0 to go on now. */
static int
pipeline_durable_wait(fg_req_t *req)
{
    fg_worker_t     *w = req->worker;
    fg_req_attempt_t *at = &req->attempt;
    struct timeval   tv = { 0, PIPELINE_DURABLE_POLL_MS * 1000 };

    if (req->reservation.durable_at == 0
        || w->conf->usage_reservation_wait_ms == 0
        || fg_usagering_committed(w->wc->shm->usage, w->wc->slot)
           >= req->reservation.durable_at) {
        return 0;
    }
    at->wait_until_ms = fg_mono_ms() + w->conf->usage_reservation_wait_ms;
    at->wait_next = NULL;
    at->wait_prev = w->durable_tail;
    if (w->durable_tail != NULL) {
        w->durable_tail->attempt.wait_next = req;
    } else {
        w->durable_head = req;
    }
    w->durable_tail = req;
    if (w->durable_ev == NULL) {
        w->durable_ev = evtimer_new(w->base, pipeline_durable_cb, w);
    }
    if (!evtimer_pending(w->durable_ev, NULL)) {
        evtimer_add(w->durable_ev, &tv);
    }
    return 1;
}

/* The stages in order, for the API req->validated.api says. */
static void
pipeline_run(fg_req_t *req)
{
    fg_verdict_t v;

    if (fg_validate_request(req, &v) != FG_VERDICT_CONTINUE
        || pipeline_route(req, &v) != FG_VERDICT_CONTINUE) {
        pipeline_refuse(req, &v);
        return;
    }
    if (fg_admit_request(req, &v) != FG_VERDICT_CONTINUE) {
        pipeline_limit_headers(req);
        pipeline_refuse(req, &v);
        return;
    }
    if (fg_meter_reserve(req, &v) != FG_VERDICT_CONTINUE
        || pipeline_choose(req, &v) != FG_OK) {
        /* Refused for its balance, or every endpoint's own limit: no
         * quota used (what was held is given back when it is settled). */
        fg_admit_cancel(req);
        pipeline_limit_headers(req);
        pipeline_refuse(req, &v);
        return;
    }
    pipeline_limit_headers(req);
    if (pipeline_durable_wait(req)) {
        return;
    }
    if (pipeline_attempt(req, &v) != FG_VERDICT_PENDING) {
        pipeline_refuse(req, &v);
    }
}

void
fg_pipeline_chat(fg_req_t *req)
{
    req->validated.api = FG_USAGE_API_CHAT;
    pipeline_run(req);
}

void
fg_pipeline_embeddings(fg_req_t *req)
{
    req->validated.api = FG_USAGE_API_EMBEDDINGS;
    pipeline_run(req);
}

void
fg_pipeline_completions(fg_req_t *req)
{
    req->validated.api = FG_USAGE_API_COMPLETIONS;
    pipeline_run(req);
}

void
fg_pipeline_responses(fg_req_t *req)
{
    req->validated.api = FG_USAGE_API_RESPONSES;
    pipeline_run(req);
}

/* The stream's client head goes out with its first event. */
static void
pipeline_stream_head(fg_req_t *req)
{
    req->attempt.is_head_held = 0;
    pipeline_route_headers(req);
    fg_req_add_header(req, "Cache-Control", "no-cache");
    fg_req_stream_start(req, "text/event-stream");
}

static void
pipeline_upstream_headers(void *owner)
{
    fg_req_t *req = owner;

    if (req->conn == NULL || !fg_relay_stream_begins(req)) {
        return;
    }
    /* The head is held until the first event (pipeline_upstream_data):
     * a stream that fails before it may still go elsewhere. */
    fg_relay_stream_init(req, pipeline_settle_chunk);
}

/* Sends what the relay queued for a streaming client. */
static void
pipeline_send(fg_req_t *req)
{
    int has_out = req->relay.stream_out != NULL
                  && evbuffer_get_length(req->relay.stream_out) > 0;

    /* An event the gateway holds back (a healed stream's content) still
     * shows the provider answered: the head goes, the attempt is final. */
    if (req->attempt.is_head_held && (has_out || req->relay.saw_event)) {
        pipeline_stream_head(req);
    }
    if (has_out) {
        fg_req_stream_send(req, req->relay.stream_out);
    }
}

static int
pipeline_upstream_data(void *owner, const char *data, size_t len)
{
    fg_req_t *req = owner;
    int       rc;

    if (req->is_client_gone) {
        /* Its finish is on the way and cancels the attempt: an abort
         * here would call a gateway decision a provider failure. */
        return FG_UPSTREAM_PAUSE;
    }
    if (req->conn == NULL) {
        return FG_UPSTREAM_ABORT;
    }
    if (!req->relay.has_sse) {
        return fg_relay_collect(req, data, len);
    }
    /*
     * Decide before consuming: CURL_WRITEFUNC_PAUSE makes libcurl keep this
     * very buffer and hand it to us again on resume, so a paused call must
     * leave no trace. The overshoot is at most one write of libcurl's.
     */
    if (!req->attempt.is_head_held
        && fg_req_client_backlog(req)
           > (size_t) req->worker->conf->stream_high_water_bytes) {
        return FG_UPSTREAM_PAUSE;
    }
    rc = fg_relay_feed(req, data, len);
    pipeline_send(req);
    return rc == FG_OK ? FG_UPSTREAM_CONTINUE : FG_UPSTREAM_ABORT;
}

/* A POST /v1/responses completion: the chat reply @v translated into the
 * Responses "response" object (responses_reply.h), environment_impact
 * spliced into it. */
static void
pipeline_complete_response(fg_req_t *req, const fg_verdict_t *v)
{
    char        id[FG_GATEWAY_ID_SIZE + 8], *text, *spliced;
    size_t      len, spliced_len;
    fg_jdoc_t   doc;
    fg_err_t    err;

    fg_req_response_id(req, id, sizeof(id));
    text = NULL;
    if (fg_jdoc_parse(&doc, v->body, v->body_len, 128, NULL) == FG_OK) {
        text = fg_responses_reply(&doc, &req->validated.rq, id,
                                  req->started_unix_ms / 1000, &len);
        fg_jdoc_free(&doc);
    }
    if (text == NULL) {
        fg_err_set(&err, FG_E_PROVIDER_ERROR, NULL, "provider %s: the reply "
                   "is not a chat completion", req->route.endpoint
                   ->provider->id);
        fg_req_reply_error(req, &err);
        return;
    }
    pipeline_keep_response(req, id, text, len);
    spliced = fg_footprint_splice(req, text, len, &spliced_len);
    if (spliced != NULL) {
        fg_req_reply(req, 200, spliced, spliced_len);
        free(spliced);
    } else {
        fg_req_reply(req, 200, text, len);
    }
    free(text);
}

/* Keeps the response @id whose text is @response (@len bytes) in the
 * response store (responses_store.h). */
static void
pipeline_keep_response(fg_req_t *req, const char *id, const char *response,
                       size_t len)
{
    char   *output;
    size_t  output_len;

    if (!req->validated.rq.store) {
        return;
    }
    output = fg_responses_output_items(response, len, &output_len);
    if (output != NULL) {
        fg_responses_store_keep(req, id, output, output_len);
        free(output);
    }
}

/* A Responses reply or stream that ended whole: its output kept in the
 * store. A native one's id and items are the relay's (relay_keep_native);
 * a translated stream's are its translation's. A translated non-stream
 * reply is kept by pipeline_complete_response. */
static void
pipeline_keep_whole(fg_req_t *req)
{
    fg_req_relay_t *r = &req->relay;
    char            id[FG_GATEWAY_ID_SIZE + 8], *output;
    size_t          len;

    if (req->validated.api != FG_USAGE_API_RESPONSES
        || !req->validated.rq.store) {
        return;
    }
    if (req->attempt.is_native) {
        if (r->native_output != NULL && r->native_id[0] != '\0') {
            fg_responses_store_keep(req, r->native_id, r->native_output,
                                    r->native_output_len);
        }
        return;
    }
    if (r->resp_stream == NULL) {
        return;
    }
    output = fg_responses_stream_output(r->resp_stream, &len);
    if (output != NULL) {
        fg_req_response_id(req, id, sizeof(id));
        fg_responses_store_keep(req, id, output, len);
        free(output);
    }
}

/* A completion: settled now, so its reply carries the charge (headers)
 * and the environment_impact (spliced into the upstream's own text). */
static void
pipeline_complete(fg_req_t *req, const fg_verdict_t *v)
{
    fg_meter_headers_t h;
    char              *spliced;
    size_t             len;
    int                i;

    fg_meter_charge(req);
    fg_meter_headers(req, &h);
    for (i = 0; i < h.count; i++) {
        fg_req_add_header(req, h.name[i], h.value[i]);
    }
    if (req->relay.json_repaired > 0) {
        fg_req_add_header(req, "x-fluxgate-json-repaired", "1");
    }
    fg_footprint_compute(req);
    if (req->attempt.is_native) {
        /* The provider's response object, as the relay gave it. */
        pipeline_keep_whole(req);
    } else if (req->validated.api == FG_USAGE_API_RESPONSES) {
        pipeline_complete_response(req, v);
        return;
    }
    spliced = fg_footprint_splice(req, v->body, v->body_len, &len);
    if (spliced != NULL) {
        fg_req_reply(req, 200, spliced, len);
        free(spliced);
        return;
    }
    fg_req_reply(req, 200, v->body, v->body_len);
}

/* What the failover rules (failover.h) need to know of the attempt that
 * ended as @r, with the relay's verdict @kind. */
static int
pipeline_may_fail_over(const fg_req_t *req, const fg_attempt_result_t *r,
                       const char *error, fg_verdict_kind_t kind)
{
    fg_failover_facts_t facts;

    facts.is_client_reached = req->state == FG_REQ_STREAMING;
    facts.is_charged = req->settlement.is_metered;
    facts.is_empty = req->relay.has_sse
                     ? kind == FG_VERDICT_STREAM_END
                     : req->relay.upstream_body == NULL
                       || evbuffer_get_length(req->relay.upstream_body) == 0;
    facts.is_gateway_fault = error == fg_upstream_err_no_descriptor
                             || error == fg_upstream_err_too_large;
    facts.failover_after_send = req->worker->conf->routing_failover_after_send
                                != 0;
    return fg_failover_allowed(r, &facts);
}

static void
pipeline_failover_cb(evutil_socket_t fd, short what, void *arg)
{
    fg_req_t     *req = arg;
    fg_verdict_t  v;

    (void) fd;
    (void) what;
    if (req->is_client_gone || req->conn == NULL) {
        fg_req_finish_later(req);
        return;
    }
    if (pipeline_choose(req, &v) == FG_OK
        && pipeline_attempt(req, &v) == FG_VERDICT_PENDING) {
        return;
    }
    /* No endpoint left after all: the failed attempt's own answer. */
    pipeline_route_headers(req);
    pipeline_refuse(req, req->attempt.last_failure);
}

/*
 * The attempt failed and another endpoint may take the request: the
 * failed one's admissions go back, its health counts the failure (a 429's
 * Retry-After cools it down), the relay forgets it, and the next attempt
 * starts from the event loop (never inside the upstream's done call).
 * 0 when no endpoint is left to try.
 */
static int
pipeline_fail_over(fg_req_t *req, const fg_attempt_result_t *r,
                   const fg_verdict_t *v)
{
    fg_worker_t         *w = req->worker;
    const fg_endpoint_t *e = req->route.endpoint;
    fg_req_route_t      *rt = &req->route;
    struct timeval       now = { 0, 0 };

    if (rt->next >= rt->n_candidates
        || rt->attempts >= w->conf->routing_max_attempts) {
        return 0;
    }
    fg_health_failover(w->wc->shm->health, e->health_slot);
    pipeline_health_failed(req, r);
    fg_log(FG_LOG_INFO, 0, "req=%s failing over from %s/%s (%s, HTTP %d)",
           req->id, e->provider->id, e->upstream_id,
           fg_attempt_outcome_name(r->outcome), r->status);
    fg_admit_endpoint_release(req);
    fg_relay_cleanup(req);
    memset(&req->relay, 0, sizeof(req->relay));
    if (req->attempt.last_failure == NULL) {
        req->attempt.last_failure = fg_xmalloc(sizeof(fg_verdict_t));
    }
    *req->attempt.last_failure = *v;
    /* The verdict's body pointed into the relay's buffers: gone now. */
    req->attempt.last_failure->body = NULL;
    req->attempt.last_failure->body_len = 0;
    if (req->attempt.last_failure->kind != FG_VERDICT_REFUSE) {
        (void) fg_verdict_refuse(req->attempt.last_failure, FG_RETRY_NONE,
                                 FG_E_PROVIDER_ERROR, NULL,
                                 "provider %s failed to answer",
                                 e->provider->id);
    }
    if (req->attempt.failover_ev == NULL) {
        req->attempt.failover_ev = evtimer_new(w->base, pipeline_failover_cb,
                                               req);
    }
    evtimer_add(req->attempt.failover_ev, &now);
    return 1;
}

/* A held stream failed before its first event: nothing reached the
 * client, so it gets an HTTP error, not an error event. */
static void
pipeline_held_stream_error(fg_req_t *req, const char *error, fg_verdict_t *v)
{
    const fg_endpoint_t *e = req->route.endpoint;

    (void) fg_verdict_refuse(v, FG_RETRY_NONE,
                             fg_upstream_err_is_timeout(error)
                             ? FG_E_PROVIDER_TIMEOUT : FG_E_PROVIDER_ERROR,
                             NULL,
                             "provider %s: the stream ended before its "
                             "first event", e->provider->id);
}

static void
pipeline_upstream_done(void *owner, const fg_attempt_result_t *result,
                       const char *error)
{
    fg_req_t          *req = owner;
    fg_verdict_t       v;
    fg_verdict_kind_t  kind;
    int                n = req->route.attempts - 1;

    if (n >= 0 && n < FG_USAGE_MAX_ATTEMPTS) {
        req->attempt.tried[n].result = *result;
    }
    if (req->is_client_gone || req->conn == NULL) {
        pipeline_health_end(req, FG_ATTEMPT_CANCELLED, 0, 0);
        fg_req_finish_later(req);
        return;
    }
    kind = fg_relay_end(req, result, error, &v);
    if (req->attempt.is_head_held && kind == FG_VERDICT_STREAM_END
        && (v.err.code != FG_E_NONE || !req->relay.saw_done)) {
        /* Ended before any event: an empty stream. */
        evbuffer_drain(req->relay.stream_out,
                       evbuffer_get_length(req->relay.stream_out));
        pipeline_held_stream_error(req, req->relay.error ? req->relay.error
                                                         : error, &v);
    }
    if (pipeline_may_fail_over(req, result, error, kind)
        && pipeline_fail_over(req, result, &v)) {
        return;
    }
    switch (kind) {
    case FG_VERDICT_STREAM_END:
        if (req->attempt.is_head_held) {
            break;       /* never started: answered below */
        }
        pipeline_health_end(req, result->outcome, v.err.code == FG_E_NONE,
                            v.err.code != FG_E_NONE
                            && fg_failover_is_circuit_failure(result));
        if (v.err.code != FG_E_NONE) {
            req->error = v.err.code;
        } else {
            pipeline_keep_whole(req);
        }
        pipeline_send(req);
        fg_req_stream_end(req);
        fg_req_finish_later(req);
        return;
    case FG_VERDICT_COMPLETE:
        pipeline_health_end(req, result->outcome, 1, 0);
        pipeline_route_headers(req);
        pipeline_complete(req, &v);
        return;
    case FG_VERDICT_FORWARD:
        pipeline_health_end(req, result->outcome, 0,
                            fg_failover_is_circuit_failure(result));
        req->error = v.err.code;
        pipeline_route_headers(req);
        fg_req_reply(req, v.status, v.body, v.body_len);
        return;
    default:
        break;
    }
    pipeline_health_failed(req, result);
    pipeline_route_headers(req);
    pipeline_refuse(req, &v);
}

/*
 * The relay's hook for a stream's usage chunk: settle, then splice the
 * charge ("fluxgate_billing") before the chunk's closing brace and the
 * environment_impact after it.
 */
static char *
pipeline_settle_chunk(fg_req_t *req, const char *json, size_t len,
                      size_t *out_len)
{
    char   billing[160], *text, *spliced;
    size_t end = len, n, billing_len, spliced_len;

    fg_meter_charge(req);
    fg_footprint_compute(req);
    if (json == NULL) {
        return NULL;
    }
    /* The root object closes at its last '}': splice before it. */
    while (end > 0 && json[end - 1] != '}') {
        end--;
    }
    end = end > 0 ? end - 1 : len;
    billing_len = fg_meter_json_text(req, billing, sizeof(billing));
    text = fg_xmalloc(len + billing_len + 2);
    memcpy(text, json, end);
    n = end;
    if (billing_len > 0) {
        size_t k = end;

        /* A comma only after a member: "{}" takes none. */
        while (k > 0 && (json[k - 1] == ' ' || json[k - 1] == '\n'
                         || json[k - 1] == '\r' || json[k - 1] == '\t')) {
            k--;
        }
        if (k > 0 && json[k - 1] != '{') {
            text[n++] = ',';
        }
        memcpy(text + n, billing, billing_len);
        n += billing_len;
    }
    memcpy(text + n, json + end, len - end);
    n += len - end;
    spliced = fg_footprint_splice(req, text, n, &spliced_len);
    if (spliced != NULL) {
        free(text);
        *out_len = spliced_len;
        return spliced;
    }
    *out_len = n;
    return text;
}

void
fg_pipeline_client_drained(fg_req_t *req)
{
    fg_upstream_t *up = req->attempt.upstream;

    if (up != NULL && up->is_paused) {
        fg_upstream_pause(up, 0);
    }
}

void
fg_pipeline_settle(fg_req_t *req)
{
    fg_worker_t         *w = req->worker;
    fg_request_summary_t summary;

    /* Every consumer counts the same facts of the same request. */
    fg_meter_charge(req);
    fg_footprint_compute(req);
    if (req->auth.has_key) {
        /* The key's totals count what its usage records count. */
        const fg_impact_t *im = &req->footprint.impact;
        int                has = req->footprint.has_impact;

        fg_ledger_add_request(w->wc->shm->ledger, req->auth.subject,
                              has ? im->mid.energy_kwh : 0,
                              has ? im->mid.carbon_g_co2 : 0,
                              has ? im->mid.water_liters : 0);
    }
    fg_req_summarise(req, &summary);
    fg_admit_settle(req, &summary);
    fg_metrics_request_done(w->wc->shm->metrics, w->wc->slot, &summary);
    fg_worker_log_access(w, &summary);
    if (req->auth.has_key) {
        /* Exactly one usage record per authenticated request. */
        fg_usage_record_t rec;

        fg_req_usage_record(req, &summary, &rec);
        fg_worker_push_usage(w, &rec);
    }
}

void
fg_pipeline_release(fg_req_t *req)
{
    if (req->attempt.wait_until_ms != 0) {
        pipeline_wait_unlink(req);
    }
    if (req->attempt.failover_ev != NULL) {
        event_free(req->attempt.failover_ev);
        req->attempt.failover_ev = NULL;
    }
    pipeline_health_end(req, FG_ATTEMPT_CANCELLED, 0, 0);
    free(req->attempt.last_failure);
    req->attempt.last_failure = NULL;
    free(req->route.candidates);
    req->route.candidates = NULL;
    req->route.n_candidates = 0;
    fg_upstream_free(req->attempt.upstream);
    req->attempt.upstream = NULL;
    fg_relay_cleanup(req);
    fg_validate_release(req);
}
