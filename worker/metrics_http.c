/*
 * metrics_http.c: the metrics listener's dispatch. It answers GET (and
 * HEAD) /metrics with the exposition rendered from shm at that moment.
 * Anything else is an OpenAI-format JSON error like every other listener's
 * (404 elsewhere, 405 with Allow to another method, and the server's own
 * 400/413/431 for requests it cannot take).
 *
 * Deliberately apart from the public listener (http.c): no API key, no
 * request pipeline and no request counting (a scrape is not a request of
 * the API), and its socket is not the public one, so the public port
 * never serves /metrics. Its protection is its address: loopback by
 * default; put it on a network only Prometheus reaches.
 */

#include <stdlib.h>
#include <string.h>

#include "common/base/exposition.h"
#include "common/base/log.h"
#include "worker/metrics_http.h"

static void
metrics_http_request(void *arg, fg_httpconn_t *conn,
                     const fg_http_head_t *head, const char *body,
                     size_t body_len)
{
    static const char allow[] = "Allow: GET, HEAD\r\n";
    static const char type[] = "Content-Type: " FG_EXPOSITION_CONTENT_TYPE
                               "\r\n";
    fg_worker_t      *w = arg;
    fg_err_t          err;
    char             *text;
    size_t            len;

    (void) body;
    (void) body_len;
    if (strcmp(head->path, "/metrics") != 0) {
        fg_err_set(&err, FG_E_NOT_FOUND, NULL, "no such endpoint: %.128s; "
                   "this listener serves GET /metrics", head->path);
        fg_httpconn_reply_error(conn, &err, NULL, 0);
        return;
    }
    if (head->method != FG_HTTP_GET && head->method != FG_HTTP_HEAD) {
        fg_err_set(&err, FG_E_METHOD_NOT_ALLOWED, NULL, "%.32s is not "
                   "allowed on /metrics; use GET", head->method_name);
        fg_httpconn_reply_error(conn, &err, allow, sizeof(allow) - 1);
        return;
    }
    text = fg_exposition_render(w->wc->shm, &w->route_conf.circuit, &len,
                                &err);
    if (text == NULL) {
        fg_log(FG_LOG_ERROR, 0, "rendering /metrics failed: %s", err.msg);
        fg_err_set(&err, FG_E_INTERNAL, NULL, "rendering the metrics "
                   "failed");
        fg_httpconn_reply_error(conn, &err, NULL, 0);
        return;
    }
    fg_httpconn_reply(conn, 200, type, sizeof(type) - 1, text, len);
    free(text);
}

void
fg_metrics_http_limits(const fg_conf_t *conf, fg_httpserver_limits_t *out)
{
    memset(out, 0, sizeof(*out));
    out->name = "metrics";
    out->max_connections = FG_METRICS_MAX_CONNECTIONS;
    out->max_header_bytes = FG_METRICS_MAX_HEADER_BYTES;
    out->max_body_bytes = FG_METRICS_MAX_BODY_BYTES;
    out->header_timeout_ms = FG_METRICS_REQUEST_TIMEOUT_MS;
    out->body_timeout_ms = FG_METRICS_REQUEST_TIMEOUT_MS;
    out->keepalive_timeout_ms = conf->keepalive_timeout_ms;
    out->send_timeout_ms = conf->send_timeout_ms;
    out->body_budget_bytes = 0;   /* bounded by connections x body size */
}

int
fg_metrics_http_init(fg_worker_t *w, fg_err_t *err)
{
    static const fg_httpserver_handler_t handler = {
        .request = metrics_http_request,
    };
    fg_httpserver_limits_t limits = { 0 };

    if (w->wc->metrics_fd < 0) {
        return FG_OK;
    }
    fg_metrics_http_limits(w->conf, &limits);
    w->metrics = fg_httpserver_new(w->base, &limits, &handler, w);
    return fg_httpserver_listen(w->metrics, w->wc->metrics_fd, err);
}

void
fg_metrics_http_free(fg_worker_t *w)
{
    fg_httpserver_free(w->metrics);
    w->metrics = NULL;
}
