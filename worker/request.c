/*
 * request.c: the request's core: its replies, its stream to the client,
 * and its one finish path.
 *
 * fg_req_finish() is the only place a request is freed (httpd's
 * server_close): it settles the request if nothing did yet, has the
 * pipeline release what the stages hold (the upstream call, the parsed
 * body, relay buffers), updates the counters and writes the request's
 * log line.
 * Every way a request can end (reply sent, upstream failed, client gone,
 * timeout) reaches it, usually through fg_req_finish_later() so that no
 * libcurl or connection callback frees what its caller still uses.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/wire/cors.h"
#include "common/wire/retry_after.h"
#include "worker/client.h"
#include "worker/conn.h"
#include "worker/pipeline.h"
#include "worker/request.h"
#include "worker/upstream.h"
#include "worker/worker.h"

static void req_finish_cb(evutil_socket_t fd, short what, void *arg);

void
fg_req_add_header(fg_req_t *req, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    char  *p = req->headers + req->headers_len;

    if (req->headers_len + nl + vl + 4 > sizeof(req->headers)) {
        fg_log(FG_LOG_ERROR, 0, "req=%s reply header %s left out: no room",
               req->id, name);
        return;
    }
    memcpy(p, name, nl);
    p[nl] = ':';
    p[nl + 1] = ' ';
    memcpy(p + nl + 2, value, vl);
    p[nl + 2 + vl] = '\r';
    p[nl + 3 + vl] = '\n';
    req->headers_len += nl + vl + 4;
}

void
fg_req_add_retry_after(fg_req_t *req, int64_t ms)
{
    char secs[FG_RETRY_AFTER_VALUE_MAX], msv[FG_RETRY_AFTER_VALUE_MAX];

    fg_retry_after_values(ms, secs, msv);
    fg_req_add_header(req, "Retry-After", secs);
    fg_req_add_header(req, "retry-after-ms", msv);
}

const char *
fg_req_header(const fg_req_t *req, const char *name)
{
    return req->head != NULL ? fg_http_field(req->head, name, NULL) : NULL;
}

void
fg_req_client_drained(fg_req_t *req)
{
    fg_pipeline_client_drained(req);
}

/* The headers every reply carries (@content_type NULL: none); the
 * pipeline added the others. A browser's script may read the gateway's
 * own headers only when they are exposed. */
static void
req_add_common_headers(fg_req_t *req, const char *content_type)
{
    if (content_type != NULL) {
        fg_req_add_header(req, "Content-Type", content_type);
    }
    fg_req_add_header(req, "x-request-id", req->id);
    if (req->client_id[0] != '\0') {
        fg_req_add_header(req, "x-client-request-id", req->client_id);
    }
    if (req->cors_origin != NULL) {
        fg_req_add_header(req, "Access-Control-Allow-Origin",
                          req->cors_origin);
        /* Not on a reply without a body (a preflight's 204): no script
         * reads it, and it leaves room for the reflected headers. */
        if (content_type != NULL) {
            fg_req_add_header(req, "Access-Control-Expose-Headers",
                              FG_CORS_EXPOSE_HEADERS);
        }
    }
    if (req->cors_vary) {
        fg_req_add_header(req, "Vary", "Origin");
    }
}

void
fg_req_reply(fg_req_t *req, int status, const char *body, size_t len)
{
    fg_httpconn_t *conn = req->conn;

    req->status = status;
    req->state = FG_REQ_DONE;
    if (conn == NULL) {
        fg_req_finish_later(req);
        return;
    }
    req_add_common_headers(req, status == 204 ? NULL : "application/json");
    req->conn = NULL;
    req->bytes_out += (int64_t) len;
    fg_req_account(req);
    fg_httpconn_reply(conn, status, req->headers, req->headers_len, body, len);
    fg_req_finish_later(req);
}

void
fg_req_reply_error(fg_req_t *req, const fg_err_t *err)
{
    char   body[FG_ERROR_BODY_MAX];
    size_t n;

    req->error = err->code;
    n = fg_error_render(err, body, sizeof(body));
    fg_log(FG_LOG_INFO, 0, "req=%s error %d %s: %s", req->id,
           fg_error_status(err->code), fg_error_code_str(err->code),
           err->msg);
    fg_req_reply(req, fg_error_status(err->code), body, n);
}

void
fg_req_fail(fg_req_t *req, fg_error_code_t code, const char *param,
            const char *fmt, ...)
{
    fg_err_t err;
    va_list  ap;

    err.code = code;
    va_start(ap, fmt);
    vsnprintf(err.msg, sizeof(err.msg), fmt, ap);
    va_end(ap);
    snprintf(err.param, sizeof(err.param), "%s", param ? param : "");
    fg_req_reply_error(req, &err);
}

void
fg_req_stream_start(fg_req_t *req, const char *content_type)
{
    req_add_common_headers(req, content_type);
    fg_httpconn_stream_start(req->conn, 200, req->headers, req->headers_len);
    req->status = 200;
    req->state = FG_REQ_STREAMING;
}

void
fg_req_stream_send(fg_req_t *req, struct evbuffer *out)
{
    if (req->conn == NULL) {
        return;
    }
    req->bytes_out += (int64_t) evbuffer_get_length(out);
    fg_httpconn_stream_send(req->conn, out);
}

void
fg_req_stream_end(fg_req_t *req)
{
    fg_httpconn_t *conn = req->conn;

    req->state = FG_REQ_DONE;
    if (conn != NULL) {
        req->conn = NULL;
        fg_req_account(req);
        fg_httpconn_stream_end(conn);
    }
}

size_t
fg_req_client_backlog(const fg_req_t *req)
{
    return req->conn != NULL ? fg_httpconn_backlog(req->conn) : 0;
}

void
fg_req_client_gone(fg_req_t *req)
{
    req->is_client_gone = 1;
    req->conn = NULL;
    if (req->state != FG_REQ_DONE) {
        fg_log(FG_LOG_INFO, 0, "req=%s client closed the connection",
               req->id);
    }
    fg_req_finish_later(req);
}

void
fg_req_finish_later(fg_req_t *req)
{
    if (!req->is_finishing) {
        req->is_finishing = 1;
        event_active(&req->finish_ev, EV_TIMEOUT, 0);
    }
}

static void
req_finish_cb(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    fg_req_finish(arg);
}

void
fg_req_init_finish(fg_req_t *req, struct event_base *base)
{
    event_assign(&req->finish_ev, base, -1, 0, req_finish_cb, req);
}

/*
 * The provider a request is counted under: the endpoint that answered
 * (or was tried last), else the first the router chose for it (a request
 * refused for its limits or balance before any attempt), else none.
 */
static const char *
req_provider(const fg_req_t *req)
{
    if (req->route.endpoint != NULL) {
        return req->route.endpoint->provider->id;
    }
    if (req->route.n_candidates > 0) {
        return req->route.candidates[0].endpoint->provider->id;
    }
    return "";
}

void
fg_req_summarise(const fg_req_t *req, fg_request_summary_t *out)
{
    const fg_req_validated_t  *in = &req->validated;
    const fg_model_t          *model = req->route.model;
    const fg_req_settlement_t *st = &req->settlement;
    const fg_upstream_t       *up = req->attempt.upstream;

    memset(out, 0, sizeof(*out));
    out->request_id = req->id;
    out->client_request_id = req->client_id;
    out->key_id = req->auth.has_key ? req->auth.key.kr_id : "";
    out->model_requested = in->model_requested ? in->model_requested : "";
    out->model_served = model ? model->id : "";
    out->provider = req_provider(req);
    out->client_addr = req->client_addr;
    out->status = req->status;
    out->error = req->error;
    out->is_stream = in->chat.is_stream;
    out->is_client_gone = req->is_client_gone && req->state != FG_REQ_DONE;
    out->limit = req->admission.refused_by;
    out->upstream = req->relay.upstream_kind;
    if (up != NULL) {
        out->upstream_outcome = up->result.outcome;
        out->upstream_status = up->result.status;
    }
    out->has_usage = req->relay.has_usage;
    out->prompt_tokens = st->prompt_tokens;
    out->completion_tokens = st->completion_tokens;
    out->reasoning_tokens = st->reasoning_tokens;
    out->cached_tokens = st->cached_tokens;
    out->latency_us = fg_mono_us() - req->started_us;
    out->ttfb_us = up != NULL && up->first_byte_us > 0
                   ? up->first_byte_us - req->started_us : -1;
    out->bytes_in = req->bytes_in;
    out->bytes_out = req->bytes_out;
    out->started_unix_ms = req->started_unix_ms;
    out->charged_micro = st->charged_micro;
    if (req->footprint.has_impact) {
        const fg_impact_t *impact = &req->footprint.impact;

        out->has_impact = 1;
        out->energy_kwh = impact->mid.energy_kwh;
        out->carbon_g_co2 = impact->mid.carbon_g_co2;
        out->water_liters = impact->mid.water_liters;
        out->impact_estimated = impact->is_estimated;
    }
    out->usage_estimated = st->usage_estimated;
    out->is_usage_invalid = st->is_usage_invalid;
    out->is_json_repaired = req->relay.json_repaired > 0;
    out->is_compressed = req->route.is_compressed;
    out->compressed_tokens = req->route.compressed_tokens;
    out->uncharged_micro = st->uncharged_micro;
    if (in->body != NULL && in->messages_len > 0) {
        out->request_messages = in->body + in->messages_start;
        out->request_messages_len = in->messages_len;
    }
    if (req->relay.fixed_body != NULL) {
        /* What the client got: the reply as the gateway changed it. */
        out->reply_body = req->relay.fixed_body;
        out->reply_len = strlen(req->relay.fixed_body);
    } else if (req->relay.upstream_body != NULL && !in->chat.is_stream) {
        out->reply_len = evbuffer_get_length(req->relay.upstream_body);
        out->reply_body = out->reply_len
            ? (const char *) evbuffer_pullup(req->relay.upstream_body, -1)
            : NULL;
    }
}

void
fg_req_account(fg_req_t *req)
{
    if (req->is_accounted) {
        return;
    }
    req->is_accounted = 1;
    fg_pipeline_settle(req);
}

void
fg_req_finish(fg_req_t *req)
{
    fg_worker_t *w = req->worker;

    event_del(&req->finish_ev);
    if (req->conn != NULL && req->state != FG_REQ_STREAMING) {
        /* Every path replies before finishing; this is the safety net. */
        req->is_finishing = 0;
        fg_req_fail(req, FG_E_INTERNAL, NULL, "the request ended without "
                    "a reply");
        event_del(&req->finish_ev);
    }
    if (req->conn != NULL) {
        /* A stream cut short by us: its end tells the client. */
        fg_httpconn_stream_end(req->conn);
        req->conn = NULL;
    }

    /* Before the accounting: the attempt's result must be final. */
    fg_upstream_cancel(req->attempt.upstream);
    fg_req_account(req);

    fg_log(FG_LOG_INFO, 0, "req=%s status=%d model=%s provider=%s "
           "latency_us=%lld%s%s%s", req->id, req->status,
           req->validated.model_requested ? req->validated.model_requested
                                          : "-",
           req_provider(req)[0] != '\0' ? req_provider(req) : "-",
           (long long) (fg_mono_us() - req->started_us),
           req->is_client_gone && req->state != FG_REQ_DONE
           ? " client_gone" : "",
           req->client_id[0] != '\0' ? " client_id=" : "", req->client_id);
    fg_pipeline_release(req);
    fg_worker_untrack_request(w, req);
    fg_client_release(req);
    free(req);

    w->in_flight--;
    atomic_store_explicit(&w->slot->ws_in_flight, (uint64_t) w->in_flight,
                          memory_order_relaxed);
    fg_worker_maybe_exit(w);
}

void
fg_req_response_id(const fg_req_t *req, char *id, size_t size)
{
    const char *own = strncmp(req->gateway_id, "req_", 4) == 0
                      ? req->gateway_id + 4 : req->gateway_id;

    snprintf(id, size, "resp_%s", own);
}
