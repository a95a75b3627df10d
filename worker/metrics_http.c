/*
 * metrics_http.c: the metrics listener's evhttp. It answers GET (and
 * HEAD) /metrics with the exposition rendered from shm at that moment,
 * 404 elsewhere and 405 to other methods, in plain text: this port talks
 * to Prometheus, not to OpenAI clients.
 *
 * Deliberately apart from the public evhttp (http.c): no API key, no
 * connection cap, no request pipeline and no request counting (a scrape
 * is not a request of the API), and its socket is not the public one, so
 * the public port never serves /metrics. Its protection is its address:
 * loopback by default; put it on a network only Prometheus reaches.
 */

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "common/base/exposition.h"
#include "common/base/log.h"
#include "worker/metrics_http.h"

#define METRICS_HTTP_MAX_HEADERS 16384
#define METRICS_HTTP_MAX_BODY    4096

static void metrics_http_cb(struct evhttp_request *r, void *arg);

static void
metrics_http_free_body(const void *data, size_t len, void *arg)
{
    (void) len;
    (void) arg;
    free((void *) data);
}

static void
metrics_http_text(struct evhttp_request *r, int status, const char *reason,
                  const char *text)
{
    struct evbuffer *body = evbuffer_new();

    evhttp_add_header(evhttp_request_get_output_headers(r), "Content-Type",
                      "text/plain; charset=utf-8");
    if (body != NULL) {
        evbuffer_add(body, text, strlen(text));
    }
    evhttp_send_reply(r, status, reason, body);
    if (body != NULL) {
        evbuffer_free(body);
    }
}

static void
metrics_http_cb(struct evhttp_request *r, void *arg)
{
    fg_worker_t          *w = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r);
    const char           *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    enum evhttp_cmd_type  cmd = evhttp_request_get_command(r);
    struct evbuffer      *body;
    fg_err_t              err;
    char                 *text;
    size_t                len;

    if (path == NULL || strcmp(path, "/metrics") != 0) {
        metrics_http_text(r, 404, "Not Found", "not found: try /metrics\n");
        return;
    }
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(r), "Allow",
                          "GET, HEAD");
        metrics_http_text(r, 405, "Method Not Allowed",
                          "method not allowed: use GET\n");
        return;
    }
    text = fg_exposition_render(w->wc->shm, &len, &err);
    body = text != NULL ? evbuffer_new() : NULL;
    if (body == NULL
        || evbuffer_add_reference(body, text, len, metrics_http_free_body,
                                  NULL) != 0) {
        fg_log(FG_LOG_ERROR, 0, "rendering /metrics failed: %s",
               text == NULL ? err.msg : "out of memory");
        free(text);
        if (body != NULL) {
            evbuffer_free(body);
        }
        metrics_http_text(r, 500, "Internal Server Error",
                          "rendering the metrics failed\n");
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(r), "Content-Type",
                      FG_EXPOSITION_CONTENT_TYPE);
    evhttp_send_reply(r, 200, "OK", body);
    evbuffer_free(body);
}

int
fg_metrics_http_init(fg_worker_t *w, fg_err_t *err)
{
    int fd = w->wc->metrics_fd;

    if (fd < 0) {
        return FG_OK;
    }
    w->metrics_http = evhttp_new(w->base);
    if (w->metrics_http == NULL) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "evhttp_new failed for "
                          "the metrics listener");
    }
    evhttp_set_max_headers_size(w->metrics_http, METRICS_HTTP_MAX_HEADERS);
    evhttp_set_max_body_size(w->metrics_http, METRICS_HTTP_MAX_BODY);
    evhttp_set_timeout_tv(w->metrics_http, &(struct timeval) {
        .tv_sec = w->conf->keepalive_timeout_ms / 1000,
        .tv_usec = (w->conf->keepalive_timeout_ms % 1000) * 1000 });
    /* Methods outside the set get evhttp's 501; these reach our 405. */
    evhttp_set_allowed_methods(w->metrics_http, EVHTTP_REQ_GET
                               | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST
                               | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE
                               | EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
    evhttp_set_gencb(w->metrics_http, metrics_http_cb, w);
    w->metrics_bound = evhttp_accept_socket_with_handle(w->metrics_http, fd);
    if (w->metrics_bound == NULL) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "evhttp_accept_socket("
                          "fd %d) failed for the metrics listener", fd);
    }
    return FG_OK;
}

void
fg_metrics_http_close(fg_worker_t *w)
{
    if (w->metrics_bound != NULL) {
        evhttp_del_accept_socket(w->metrics_http, w->metrics_bound);
        w->metrics_bound = NULL;
    }
}

void
fg_metrics_http_free(fg_worker_t *w)
{
    if (w->metrics_http != NULL) {
        evhttp_free(w->metrics_http);
        w->metrics_http = NULL;
        w->metrics_bound = NULL;
    }
}
