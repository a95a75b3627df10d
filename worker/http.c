/*
 * http.c: the routes, and each request's entry into the pipeline.
 *
 * The server (common/wire/httpserver, set up by conn.c) has read the
 * request whole, within every limit of the configuration; here it
 * becomes an fg_req_t with an id, the client's address and its
 * counters, and goes to its handler. Known paths answer
 * a wrong method with 405 and Allow; methods the gateway has no use for
 * get 501; everything in OpenAI's error format.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/wire/uri.h"
#include "worker/client.h"
#include "worker/conn.h"
#include "worker/http.h"
#include "worker/pipeline.h"

static void http_route(fg_req_t *req, const char *path,
                       fg_http_method_t method);
static void http_set_request_id(fg_req_t *req);
static void http_healthz(fg_req_t *req);
static void http_readyz(fg_req_t *req);

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

    /* Ours always, for the usage record; unique without a syscall: a
     * per-worker random seed and a counter. */
    w->request_seq++;
    snprintf(req->gateway_id, sizeof(req->gateway_id), "req_%016llx%08llx",
             (unsigned long long) http_splitmix64(w->id_seed
                                                  + w->request_seq),
             (unsigned long long) (w->request_seq & 0xffffffffULL));
    /* The client's, when valid, is the one the reply and logs carry. */
    given = fg_req_header(req, "x-request-id");
    req->is_client_id = given != NULL && http_request_id_ok(given);
    snprintf(req->id, sizeof(req->id), "%s",
             req->is_client_id ? given : req->gateway_id);
}

/* A request on @conn, counted in flight; its body not yet set. */
static fg_req_t *
http_req_new(fg_worker_t *w, fg_httpconn_t *conn, const fg_http_head_t *head,
             size_t body_len)
{
    fg_req_t *req;

    req = fg_xcalloc(1, sizeof(*req));
    req->worker = w;
    req->conn = conn;
    fg_httpconn_attach(conn, req);
    req->head = head;
    req->started_us = fg_mono_us();
    req->started_unix_ms = fg_worker_now_ms(w);
    req->reservation.held.slot = -1;
    _Static_assert(sizeof(req->client_addr) == FG_HTTPCONN_PEER_MAX,
                   "the peer's address is copied whole");
    memcpy(req->client_addr, fg_httpconn_peer(conn), FG_HTTPCONN_PEER_MAX);
    req->bytes_in = (int64_t) body_len;
    req->error = FG_E_NONE;
    fg_req_init_finish(req, w->base);
    http_set_request_id(req);
    w->in_flight++;
    atomic_store_explicit(&w->slot->ws_in_flight, (uint64_t) w->in_flight,
                          memory_order_relaxed);
    atomic_fetch_add_explicit(&w->slot->ws_requests_total, 1,
                              memory_order_relaxed);
    return req;
}

void
fg_http_request(void *worker, fg_httpconn_t *conn,
                const fg_http_head_t *head, const char *body,
                size_t body_len)
{
    fg_req_t *req = http_req_new(worker, conn, head, body_len);
    fg_err_t  err;

    req->in_body = body;
    req->in_body_len = body_len;
    if (fg_client_admit(req, head, fg_httpconn_peer_addr(conn), &err)
        != FG_OK) {
        fg_req_add_header(req, "Retry-After", "1");
        fg_req_reply_error(req, &err);
    } else {
        http_route(req, head->path, head->method);
    }
    /* What the handler needed of the request it has copied by now. */
    req->head = NULL;
    req->in_body = NULL;
    req->in_body_len = 0;
}

static void
http_route(fg_req_t *req, const char *path, fg_http_method_t method)
{
    const char *allowed = NULL;
    /* HEAD is GET without the body (RFC 9110 9.3.2): the server drops it. */
    int         is_get = method == FG_HTTP_GET || method == FG_HTTP_HEAD;

    if (method == FG_HTTP_OTHER) {
        fg_req_fail(req, FG_E_NOT_IMPLEMENTED, NULL,
                    "the method %.32s is not implemented",
                    req->head->method_name);
        return;
    }

    /* Every call under /v1/ needs a key, even one to a wrong method or path. */
    if (strncmp(path, "/v1/", 4) == 0
        && fg_pipeline_authenticate(req) != FG_OK) {
        return;
    }
    if (strcmp(path, "/v1/chat/completions") == 0) {
        if (method == FG_HTTP_POST) {
            fg_pipeline_chat(req);
            return;
        }
        allowed = "POST";
    } else if (strcmp(path, "/v1/models") == 0) {
        if (is_get) {
            fg_models_handle(req, NULL);
            return;
        }
        allowed = "GET, HEAD";
    } else if (strncmp(path, "/v1/models/", 11) == 0 && path[11] != '\0') {
        if (is_get) {
            char id[256];

            if (fg_uri_decode(path + 11, strlen(path + 11), id, sizeof(id),
                              0) < 0) {
                fg_req_fail(req, FG_E_MODEL_NOT_FOUND, "model",
                            "The model '%.128s' does not exist",
                            path + 11);
                return;
            }
            fg_models_handle(req, id);
            return;
        }
        allowed = "GET, HEAD";
    } else if (strcmp(path, "/healthz") == 0) {
        if (is_get) {
            http_healthz(req);
            return;
        }
        allowed = "GET, HEAD";
    } else if (strcmp(path, "/readyz") == 0) {
        if (is_get) {
            http_readyz(req);
            return;
        }
        allowed = "GET, HEAD";
    }
    if (allowed != NULL) {
        fg_req_add_header(req, "Allow", allowed);
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

void
fg_http_refuse(void *worker, fg_httpconn_t *conn, const fg_err_t *err)
{
    fg_req_t *req = http_req_new(worker, conn, NULL, 0);

    fg_req_reply_error(req, err);
}
