/*
 * http.c: evhttp set up with explicit limits, and the routes.
 *
 * libevent 2.1's defaults accept unlimited headers and bodies and have no
 * total request deadline (reliability.md 3.7). Here every limit comes from
 * configuration: header and body size (evhttp answers 413 above them), the
 * keep-alive/inactivity timeout, and the methods evhttp lets through (the
 * rest get 405 in OpenAI's error format from the route table); conn.c adds
 * the receive deadline, the send-progress deadline and the connection cap.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "worker/conn.h"
#include "worker/auth.h"
#include "worker/http.h"

static void http_request_cb(struct evhttp_request *http, void *arg);
static void http_route(fg_req_t *req, const char *path,
                       enum evhttp_cmd_type method);
static void http_set_request_id(fg_req_t *req);
static void http_healthz(fg_req_t *req);
static void http_readyz(fg_req_t *req);

int
fg_http_init(fg_worker_t *w, fg_err_t *err)
{
    w->http = evhttp_new(w->base);
    if (w->http == NULL) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "evhttp_new failed");
    }
    evhttp_set_max_headers_size(w->http, (size_t) w->conf->max_header_bytes);
    evhttp_set_max_body_size(w->http, (size_t) w->conf->max_body_bytes);
    evhttp_set_timeout_tv(w->http, &(struct timeval) {
        .tv_sec = w->conf->keepalive_timeout_ms / 1000,
        .tv_usec = (w->conf->keepalive_timeout_ms % 1000) * 1000 });
    /* Methods outside this set get evhttp's 501; these reach the router. */
    evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST
                               | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE
                               | EVHTTP_REQ_PATCH | EVHTTP_REQ_HEAD
                               | EVHTTP_REQ_OPTIONS);
    evhttp_set_default_content_type(w->http, "application/json");
    evhttp_set_bevcb(w->http, fg_conn_bevcb, w);
    evhttp_set_gencb(w->http, http_request_cb, w);
    return FG_OK;
}

static int
http_request_id_ok(const char *s)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++) {
        if (n >= FG_REQUEST_ID_MAX
            || !(isalnum((unsigned char) s[n]) || strchr("-_.:", s[n]))) {
            return 0;
        }
    }
    return n > 0;
}

static uint64_t
http_splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void
http_set_request_id(fg_req_t *req)
{
    fg_worker_t *w = req->worker;
    const char  *given;

    given = evhttp_find_header(evhttp_request_get_input_headers(req->http),
                               "x-request-id");
    if (given != NULL && http_request_id_ok(given)) {
        snprintf(req->id, sizeof(req->id), "%s", given);
        return;
    }
    /* Unique without a syscall: a per-worker random seed and a counter. */
    w->request_seq++;
    snprintf(req->id, sizeof(req->id), "req_%016llx%08llx",
             (unsigned long long) http_splitmix64(w->id_seed
                                                  + w->request_seq),
             (unsigned long long) (w->request_seq & 0xffffffffULL));
}

static int64_t
http_wall_ms(fg_worker_t *w)
{
    struct timeval tv;

    event_base_gettimeofday_cached(w->base, &tv);
    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void
http_client_addr(fg_req_t *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req->http);
    const char               *host = NULL;
    ev_uint16_t               port = 0;

    if (evcon != NULL) {
        evhttp_connection_get_peer(evcon, (char **) &host, &port);
    }
    snprintf(req->client_addr, sizeof(req->client_addr), "%s",
             host != NULL ? host : "");
    req->bytes_in = (int64_t) evbuffer_get_length(
                        evhttp_request_get_input_buffer(req->http));
}

static void
http_request_cb(struct evhttp_request *http, void *arg)
{
    fg_worker_t            *w = arg;
    fg_req_t               *req;
    const struct evhttp_uri *uri;
    const char             *path;

    req = fg_xcalloc(1, sizeof(*req));
    req->worker = w;
    req->http = http;
    req->started_us = fg_mono_us();
    req->started_unix_ms = http_wall_ms(w);
    req->reservation.slot = -1;
    http_client_addr(req);
    req->error = FG_E_NONE;
    fg_req_init_finish(req, w->base);
    http_set_request_id(req);
    req->conn = fg_conn_of(w, http);
    if (req->conn != NULL) {
        fg_conn_request_started(req->conn, req);
    }
    w->in_flight++;
    atomic_store_explicit(&w->slot->ws_in_flight, (uint64_t) w->in_flight,
                          memory_order_relaxed);
    atomic_fetch_add_explicit(&w->slot->ws_requests_total, 1,
                              memory_order_relaxed);

    uri = evhttp_request_get_evhttp_uri(http);
    path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    http_route(req, path != NULL ? path : "",
               evhttp_request_get_command(http));
}

static void
http_route(fg_req_t *req, const char *path, enum evhttp_cmd_type method)
{
    const char *allowed = NULL;

    /* Every call under /v1/ needs a key, even one to a wrong method or path. */
    if (strncmp(path, "/v1/", 4) == 0 && fg_auth_request(req) != FG_OK) {
        return;
    }
    if (strcmp(path, "/v1/chat/completions") == 0) {
        if (method == EVHTTP_REQ_POST) {
            fg_chat_handle(req);
            return;
        }
        allowed = "POST";
    } else if (strcmp(path, "/v1/models") == 0) {
        if (method == EVHTTP_REQ_GET) {
            fg_models_handle(req, NULL);
            return;
        }
        allowed = "GET";
    } else if (strncmp(path, "/v1/models/", 11) == 0 && path[11] != '\0') {
        if (method == EVHTTP_REQ_GET) {
            char *id = evhttp_uridecode(path + 11, 0, NULL);

            fg_models_handle(req, id != NULL ? id : "");
            free(id);
            return;
        }
        allowed = "GET";
    } else if (strcmp(path, "/healthz") == 0) {
        if (method == EVHTTP_REQ_GET) {
            http_healthz(req);
            return;
        }
        allowed = "GET";
    } else if (strcmp(path, "/readyz") == 0) {
        if (method == EVHTTP_REQ_GET) {
            http_readyz(req);
            return;
        }
        allowed = "GET";
    }
    if (allowed != NULL) {
        evhttp_add_header(evhttp_request_get_output_headers(req->http),
                          "Allow", allowed);
        fg_req_fail(req, FG_E_METHOD_NOT_ALLOWED, NULL,
                    "%s is not allowed on %s; use %s", "this method", path,
                    allowed);
        return;
    }
    fg_req_fail(req, FG_E_NOT_FOUND, NULL, "no such endpoint: %.128s", path);
}

static void
http_healthz(fg_req_t *req)
{
    static const char body[] = "{\"status\":\"ok\"}";

    fg_req_reply(req, 200, body, sizeof(body) - 1);
}

static void
http_readyz(fg_req_t *req)
{
    fg_worker_t *w = req->worker;
    uint32_t     generation, wanted, ready;
    char         body[256];
    int          n, is_ready;

    generation = atomic_load(&w->wc->shm->header->sh_generation);
    wanted = atomic_load(&w->wc->shm->header->sh_workers_wanted);
    ready = fg_shm_workers_ready(w->wc->shm, generation);
    is_ready = !w->is_draining && ready >= wanted && wanted > 0;
    n = snprintf(body, sizeof(body),
                 "{\"status\":\"%s\",\"workers_ready\":%u,"
                 "\"workers_configured\":%u,\"config_generation\":%u}",
                 is_ready ? "ready" : "not_ready", ready, wanted,
                 generation);
    fg_req_reply(req, is_ready ? 200 : 503, body, (size_t) n);
}
