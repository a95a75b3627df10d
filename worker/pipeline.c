/*
 * pipeline.c: the chat-completions pipeline, and the only place a stage's
 * verdict turns into a reply.
 *
 *   http.c ── fg_pipeline_authenticate ──► auth.c
 *   http.c ── fg_pipeline_chat
 *               ├─► validate.c   req->validated   (415, 400s)
 *               ├─► route        req->route       (404, 403, 400)
 *               ├─► admit.c      req->admission   (429, 503)
 *               ├─► meter.c      req->reservation (402, 503)
 *               └─► attempt      req->attempt     upstream_body.c, then
 *                                                 fg_upstream_start()
 *   upstream ── fg_pipeline_upstream_handler: headers/data/done
 *               └─► relay.c      req->relay       (stream, JSON, errors)
 *   request.c ── fg_req_account ──► fg_pipeline_settle
 *               ├─► meter.c      req->settlement  (the charge)
 *               ├─► footprint.c  req->footprint   (the impact)
 *               └─► admit.c, metrics, access log, usage record
 *
 * Each stage reads what earlier stages wrote and writes only its own
 * part. The pipeline adds every reply header a stage calls for: a
 * refusal's Retry-After, the x-ratelimit-* headers once admission is
 * final (after the meter, which may give the admission back), the
 * lowered max_tokens, and the charge of a completion.
 *
 * Route is a step here rather than a file: one catalog look-up, the key's
 * model check and the worst case the limits and the reservation count.
 */

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/base/alloc.h"
#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/accounts/usagering.h"
#include "common/wire/fmt.h"
#include "common/tokens/tokcount.h"
#include "worker/admit.h"
#include "worker/auth.h"
#include "worker/footprint.h"
#include "worker/meter.h"
#include "worker/pipeline.h"
#include "worker/relay.h"
#include "worker/upstream.h"
#include "worker/usagerec.h"
#include "worker/upstream_body.h"
#include "worker/validate.h"
#include "worker/worker.h"

static char *pipeline_settle_chunk(fg_req_t *req, const char *json,
                                   size_t len, size_t *out_len);
static void pipeline_upstream_headers(void *owner);
static int pipeline_upstream_data(void *owner, const char *data,
                                  size_t len);
static void pipeline_upstream_done(void *owner,
                                   const fg_attempt_result_t *result,
                                   const char *error);

const fg_upstream_handler_t fg_pipeline_upstream_handler = {
    pipeline_upstream_headers, pipeline_upstream_data, pipeline_upstream_done
};

/* Answers @req with a refusal's error and the Retry-After it asks for. */
static void
pipeline_refuse(fg_req_t *req, const fg_verdict_t *v)
{
    if (v->retry_after[0] != '\0') {
        fg_req_add_header(req, "Retry-After", v->retry_after);
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

/* The model asked for, whether the key may use it, and the worst case. */
static fg_verdict_kind_t
pipeline_route(fg_req_t *req, fg_verdict_t *v)
{
    const fg_chat_request_t *chat = &req->validated.chat;
    fg_req_route_t          *rt = &req->route;
    const char              *field;
    fg_tokcount_t            count;
    int64_t                  window;

    rt->model = fg_catalog_route(req->worker->catalog,
                                 req->validated.model_requested);
    if (rt->model == NULL) {
        return fg_verdict_refuse(v, NULL, FG_E_MODEL_NOT_FOUND, "model",
                                 "The model '%.128s' does not exist",
                                 req->validated.model_requested);
    }
    if (fg_auth_model(req, rt->model, v) != FG_VERDICT_CONTINUE) {
        return FG_VERDICT_REFUSE;
    }
    if (chat->max_tokens > rt->model->max_output_tokens) {
        field = fg_tokens_field_name(chat->tokens_field);
        return fg_verdict_refuse(v, NULL, FG_E_OUT_OF_RANGE, field,
                                 "%s is %lld, above the %lld output tokens "
                                 "%s allows", field, chat->max_tokens,
                                 (long long) rt->model->max_output_tokens,
                                 rt->model->id);
    }
    fg_tokcount_chat(&rt->model->tokens, &req->validated.doc,
                     (size_t) req->worker->conf->exact_count_bytes, &count);
    rt->prompt_estimate = count.prompt.upper;
    rt->prompt_lower = count.prompt.lower;
    rt->choices = chat->n > 0 ? chat->n : 1;
    window = rt->model->context_window;
    rt->max_output = chat->max_tokens;
    if (rt->max_output <= 0) {
        /*
         * No limit asked: the model's maximum output, cut to what the
         * window leaves after the prompt, as OpenAI's API does; the
         * provider cannot generate more, so the reservation need not
         * cover more. At least one token, so that a prompt that fills
         * the window on its own is refused below.
         */
        rt->max_output = rt->model->max_output_tokens;
        if (rt->max_output > window - rt->prompt_lower) {
            rt->max_output = window - rt->prompt_lower > 1
                             ? window - rt->prompt_lower : 1;
        }
    }
    /* Only the lower bound may refuse: a prompt that might fit is sent. */
    if (chat->max_tokens <= 0 && rt->prompt_lower >= window) {
        return fg_verdict_refuse(v, NULL, FG_E_CONTEXT_LENGTH_EXCEEDED,
                                 "messages",
                                 "This model's maximum context length is "
                                 "%lld tokens. However, your messages "
                                 "resulted in %s%lld tokens. Please reduce "
                                 "the length of the messages.",
                                 (long long) window,
                                 count.prompt.lower == count.prompt.upper
                                 ? "" : "at least ",
                                 (long long) rt->prompt_lower);
    }
    if (rt->prompt_lower + rt->max_output > window) {
        return fg_verdict_refuse(v, NULL, FG_E_CONTEXT_LENGTH_EXCEEDED,
                                 "messages",
                                 "This model's maximum context length is "
                                 "%lld tokens. However, you requested %lld "
                                 "tokens (%s%lld in the messages, %lld in "
                                 "the completion). Please reduce the length "
                                 "of the messages or completion.",
                                 (long long) window,
                                 (long long) (rt->prompt_lower
                                              + rt->max_output),
                                 count.prompt.lower == count.prompt.upper
                                 ? "" : "at least ",
                                 (long long) rt->prompt_lower,
                                 (long long) rt->max_output);
    }
    return FG_VERDICT_CONTINUE;
}

/* Sends the client's body, with the gateway's edits, to the provider. */
static fg_verdict_kind_t
pipeline_attempt(fg_req_t *req, fg_verdict_t *v)
{
    const fg_chat_request_t *chat = &req->validated.chat;
    const fg_model_t        *m = req->route.model;
    fg_req_attempt_t        *at = &req->attempt;
    int64_t                  lowered = 0;
    size_t                   len;
    char                    *body;
    fg_err_t                 err;
    fg_upstream_target_t     target;

    /* Usage is what a stream is charged by: ask for it, and keep its
     * chunk from a client that did not (relay.c). */
    at->strip_usage = chat->is_stream && !chat->include_usage;
    if (req->reservation.is_lowered) {
        lowered = req->reservation.max_output;
    }
    body = fg_upstream_body(&req->validated.doc, chat, m->upstream_id,
                            lowered, at->strip_usage, &len);
    /* Nothing reads the parsed document from here on. */
    fg_validate_drop_doc(req);
    target.provider = m->provider;
    target.request_id = req->id;
    at->upstream = fg_upstream_start(req->worker, &target, body, len,
                                     chat->is_stream,
                                     &fg_pipeline_upstream_handler, req,
                                     &err);
    if (at->upstream == NULL) {
        fg_log(FG_LOG_ERROR, 0, "req=%s upstream not started: %s", req->id,
               err.msg);
        return fg_verdict_refuse(v, NULL, FG_E_PROVIDER_ERROR, NULL,
                                 "the request could not be sent to the "
                                 "provider");
    }
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
            (void) fg_verdict_refuse(&v, "1", FG_E_BILLING_UNAVAILABLE, NULL,
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

void
fg_pipeline_chat(fg_req_t *req)
{
    fg_verdict_t v;
    char         value[24];

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
    if (fg_meter_reserve(req, &v) != FG_VERDICT_CONTINUE) {
        fg_admit_cancel(req);   /* refused for its balance: no quota used */
        pipeline_limit_headers(req);
        pipeline_refuse(req, &v);
        return;
    }
    pipeline_limit_headers(req);
    if (req->reservation.is_lowered) {
        value[fg_fmt_i64(value, req->reservation.max_output)] = '\0';
        fg_req_add_header(req, "x-fluxgate-max-tokens-lowered", value);
    }
    if (pipeline_durable_wait(req)) {
        return;
    }
    if (pipeline_attempt(req, &v) != FG_VERDICT_PENDING) {
        pipeline_refuse(req, &v);
    }
}

static void
pipeline_upstream_headers(void *owner)
{
    fg_req_t *req = owner;

    if (req->conn == NULL || !fg_relay_stream_begins(req)) {
        return;
    }
    fg_req_add_header(req, "Cache-Control", "no-cache");
    fg_req_stream_start(req, "text/event-stream");
    fg_relay_stream_init(req, pipeline_settle_chunk);
}

/* Sends what the relay queued for a streaming client. */
static void
pipeline_send(fg_req_t *req)
{
    if (req->relay.stream_out != NULL
        && evbuffer_get_length(req->relay.stream_out) > 0) {
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
    if (req->state != FG_REQ_STREAMING) {
        return fg_relay_collect(req, data, len);
    }
    /*
     * Decide before consuming: CURL_WRITEFUNC_PAUSE makes libcurl keep this
     * very buffer and hand it to us again on resume, so a paused call must
     * leave no trace. The overshoot is at most one write of libcurl's.
     */
    if (fg_req_client_backlog(req)
        > (size_t) req->worker->conf->stream_high_water_bytes) {
        return FG_UPSTREAM_PAUSE;
    }
    rc = fg_relay_feed(req, data, len);
    pipeline_send(req);
    return rc == FG_OK ? FG_UPSTREAM_CONTINUE : FG_UPSTREAM_ABORT;
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
    fg_footprint_compute(req);
    spliced = fg_footprint_splice(req, v->body, v->body_len, &len);
    if (spliced != NULL) {
        fg_req_reply(req, 200, spliced, len);
        free(spliced);
        return;
    }
    fg_req_reply(req, 200, v->body, v->body_len);
}

static void
pipeline_upstream_done(void *owner, const fg_attempt_result_t *result,
                       const char *error)
{
    fg_req_t    *req = owner;
    fg_verdict_t v;

    if (req->is_client_gone || req->conn == NULL) {
        fg_req_finish_later(req);
        return;
    }
    switch (fg_relay_end(req, result, error, &v)) {
    case FG_VERDICT_STREAM_END:
        if (v.err.code != FG_E_NONE) {
            req->error = v.err.code;
        }
        pipeline_send(req);
        fg_req_stream_end(req);
        fg_req_finish_later(req);
        return;
    case FG_VERDICT_COMPLETE:
        pipeline_complete(req, &v);
        return;
    case FG_VERDICT_FORWARD:
        req->error = v.err.code;
        fg_req_reply(req, v.status, v.body, v.body_len);
        return;
    default:
        pipeline_refuse(req, &v);
        return;
    }
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
        text[n++] = ',';
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
    fg_upstream_free(req->attempt.upstream);
    req->attempt.upstream = NULL;
    fg_relay_cleanup(req);
    fg_validate_release(req);
}
