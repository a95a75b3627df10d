/*
 * request.c: the request's replies and its one finish path.
 *
 * fg_req_finish() is the only place a request is freed (httpd's
 * server_close): it cancels the upstream call, frees the parsed body and
 * relay buffers, updates the counters and writes the request's log line.
 * Every way a request can end (reply sent, upstream failed, client gone,
 * timeout) reaches it, usually through fg_req_finish_later() so that no
 * libcurl or connection callback frees what its caller still uses.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/clock.h"
#include "common/accounts/limiter.h"
#include "common/base/log.h"
#include "worker/admit.h"
#include "worker/footprint.h"
#include "worker/meter.h"
#include "worker/conn.h"
#include "worker/relay.h"
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

const char *
fg_req_header(const fg_req_t *req, const char *name)
{
    return req->head != NULL ? fg_http_field(req->head, name, NULL) : NULL;
}

void
fg_req_client_drained(fg_req_t *req)
{
    if (req->upstream != NULL && req->upstream->is_paused) {
        fg_upstream_pause(req->upstream, 0);
    }
}

void
fg_req_add_common_headers(fg_req_t *req, const char *content_type)
{
    fg_req_add_header(req, "Content-Type", content_type);
    fg_req_add_header(req, "x-request-id", req->id);
    fg_admit_headers(req);
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
    fg_req_add_common_headers(req, "application/json");
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

void
fg_req_summarise(const fg_req_t *req, fg_request_summary_t *out)
{
    memset(out, 0, sizeof(*out));
    out->request_id = req->id;
    out->key_id = req->has_key ? req->key.kr_id : "";
    out->model_requested = req->model_requested ? req->model_requested : "";
    out->model_served = req->model ? req->model->id : "";
    out->provider = req->model ? req->model->provider->id : "";
    out->client_addr = req->client_addr;
    out->status = req->status;
    out->error = req->error;
    out->is_stream = req->chat.is_stream;
    out->is_client_gone = req->is_client_gone && req->state != FG_REQ_DONE;
    out->limit = req->limit_kind;
    out->upstream = req->upstream_kind;
    out->has_usage = req->has_usage;
    out->prompt_tokens = req->prompt_tokens;
    out->completion_tokens = req->completion_tokens;
    out->reasoning_tokens = req->reasoning_tokens;
    out->cached_tokens = req->cached_tokens;
    out->latency_us = fg_mono_us() - req->started_us;
    out->ttfb_us = req->upstream != NULL && req->upstream->first_byte_us > 0
                   ? req->upstream->first_byte_us - req->started_us : -1;
    out->bytes_in = req->bytes_in;
    out->bytes_out = req->bytes_out;
    out->started_unix_ms = req->started_unix_ms;
    out->charged_micro = req->charged_micro;
    if (req->has_impact) {
        out->has_impact = 1;
        out->energy_kwh = req->impact.mid.energy_kwh;
        out->carbon_g_co2 = req->impact.mid.carbon_g_co2;
        out->water_liters = req->impact.mid.water_liters;
        out->impact_estimated = req->impact.is_estimated;
    }
    out->usage_estimated = req->usage_estimated;
    if (req->has_doc) {
        int messages = fg_jdoc_get(&req->doc, 0, "messages");

        out->request_messages = req->doc.buf + req->doc.nodes[messages].start;
        out->request_messages_len = req->doc.nodes[messages].len;
    }
    if (req->upstream_body != NULL && !req->chat.is_stream) {
        out->reply_len = evbuffer_get_length(req->upstream_body);
        out->reply_body = out->reply_len
            ? (const char *) evbuffer_pullup(req->upstream_body, -1) : NULL;
    }
}

void
fg_req_account(fg_req_t *req)
{
    fg_worker_t         *w = req->worker;
    fg_request_summary_t summary;

    if (req->is_accounted) {
        return;
    }
    req->is_accounted = 1;
    /* Every consumer counts the same facts of the same request. */
    fg_meter_charge(req);
    fg_footprint_compute(req);
    if (req->has_key && req->has_impact) {
        fg_ledger_add_impact(w->wc->shm->ledger,
                             req->key_subject,
                             req->impact.mid.energy_kwh,
                             req->impact.mid.carbon_g_co2,
                             req->impact.mid.water_liters);
    }
    fg_req_summarise(req, &summary);
    fg_admit_settle(req, &summary);
    fg_metrics_request_done(w->wc->shm->metrics, w->wc->slot, &summary);
    fg_worker_log_access(w, &summary);
    if (req->has_key) {
        /* Exactly one usage record per authenticated request. */
        fg_usage_record_t rec;

        fg_usage_from_summary(&rec, &summary);
        fg_worker_push_usage(w, &rec);
    }
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

    fg_req_account(req);

    fg_upstream_free(req->upstream);
    req->upstream = NULL;
    fg_relay_cleanup(req);
    if (req->has_doc) {
        fg_jdoc_free(&req->doc);
    }
    free(req->body);

    fg_log(FG_LOG_INFO, 0, "req=%s status=%d model=%s provider=%s "
           "latency_us=%lld%s", req->id, req->status,
           req->model_requested ? req->model_requested : "-",
           req->model ? req->model->provider->id : "-",
           (long long) (fg_mono_us() - req->started_us),
           req->is_client_gone && req->state != FG_REQ_DONE
           ? " client_gone" : "");
    free(req->model_requested);
    free(req);

    w->in_flight--;
    atomic_store_explicit(&w->slot->ws_in_flight, (uint64_t) w->in_flight,
                          memory_order_relaxed);
    fg_worker_maybe_exit(w);
}
