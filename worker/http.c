/*
 * http.c: the routes, and each request's entry into the pipeline.
 *
 * A request whose body is still to come is first looked at from its head
 * alone (fg_http_head): a path no handler takes or a key that is not good
 * is refused before a byte of its body is read. The server
 * (common/wire/httpserver, set up by conn.c) then reads the request
 * whole, within every limit of the configuration; here it
 * becomes an fg_req_t with an id, the client's address and its
 * counters, and goes to its handler. Known paths answer
 * a wrong method with 405 and Allow; methods the gateway has no use for
 * get 501; everything in OpenAI's error format. A CORS preflight (OPTIONS
 * under /v1/ with Origin and Access-Control-Request-Method) is answered
 * before any key is asked for; every reply to an allowed Origin carries
 * the CORS headers (request.c).
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/wire/cors.h"
#include "common/wire/json.h"
#include "common/wire/uri.h"
#include "worker/client.h"
#include "worker/conn.h"
#include "worker/http.h"
#include "worker/pipeline.h"

static void http_route(fg_req_t *req, const char *path,
                       fg_http_method_t method);
static void http_set_request_id(fg_req_t *req);
static void http_healthz(fg_req_t *req);
static int http_is_preflight(const fg_req_t *req, const char *path,
                             fg_http_method_t method);
static void http_preflight(fg_req_t *req, const char *path);
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

/* "req_" + 16 + 8 lower-case hex digits: formatted by hand, as this runs
 * for every request (snprintf cost two calls' worth of instructions). */
static void
http_format_id(char out[FG_GATEWAY_ID_SIZE], uint64_t random, uint32_t seq)
{
    static const char hex[] = "0123456789abcdef";
    int               i;

    _Static_assert(FG_GATEWAY_ID_SIZE >= 4 + 16 + 8 + 1,
                   "the gateway's id fits");
    memcpy(out, "req_", 4);
    for (i = 0; i < 16; i++) {
        out[4 + i] = hex[(random >> (60 - 4 * i)) & 0xf];
    }
    for (i = 0; i < 8; i++) {
        out[20 + i] = hex[(seq >> (28 - 4 * i)) & 0xf];
    }
    out[28] = '\0';
}

static void
http_set_request_id(fg_req_t *req)
{
    fg_worker_t *w = req->worker;
    const char  *given;

    /* Ours always, for the usage record; unique without a syscall: a
     * per-worker random seed and a counter. */
    w->request_seq++;
    http_format_id(req->gateway_id,
                   http_splitmix64(w->id_seed + w->request_seq),
                   (uint32_t) w->request_seq);
    req->id = req->gateway_id;
    /*
     * The client's, when valid, is kept beside ours, never instead: clients
     * reuse ids, and a billing sink deduplicating on request_id would then
     * drop records.
     */
    given = fg_req_header(req, "x-request-id");
    if (given != NULL && http_request_id_ok(given)) {
        /* http_request_id_ok() bounded it by FG_REQUEST_ID_MAX. */
        memcpy(req->client_id, given, strlen(given) + 1);
    }
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
    if (w->conf->cors.count > 0 || w->conf->cors.any) {
        req->cors_vary = fg_cors_echoes(&w->conf->cors);
        req->cors_origin = head == NULL ? NULL
                           : fg_cors_match(&w->conf->cors,
                                           fg_http_field(head, "origin",
                                                         NULL));
    }
    fg_req_init_finish(req, w->base);
    http_set_request_id(req);
    fg_worker_track_request(w, req);
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
        fg_req_add_retry_after(req, 1000);
        fg_req_reply_error(req, &err);
    } else {
        http_route(req, head->path, head->method);
    }
    /* What the handler needed of the request it has copied by now. */
    req->head = NULL;
    req->in_body = NULL;
    req->in_body_len = 0;
}

/* What serves a path. */
typedef enum {
    HTTP_NONE = 0,
    HTTP_CHAT,
    HTTP_EMBEDDINGS,
    HTTP_COMPLETIONS,
    HTTP_RESPONSES,
    HTTP_MODELS,
    HTTP_MODEL,
    HTTP_HEALTHZ,
    HTTP_READYZ
} http_target_t;

/*
 * The route table: what serves @method on @path, or HTTP_NONE with
 * *@allowed the methods the path takes (NULL: no such path).
 */
static http_target_t
http_find(const char *path, fg_http_method_t method, const char **allowed)
{
    /* HEAD is GET without the body (RFC 9110 9.3.2): the server drops it. */
    int is_get = method == FG_HTTP_GET || method == FG_HTTP_HEAD;

    *allowed = NULL;
    if (strcmp(path, "/v1/chat/completions") == 0) {
        *allowed = "POST";
        return method == FG_HTTP_POST ? HTTP_CHAT : HTTP_NONE;
    }
    if (strcmp(path, "/v1/responses") == 0) {
        *allowed = "POST";
        return method == FG_HTTP_POST ? HTTP_RESPONSES : HTTP_NONE;
    }
    if (strcmp(path, "/v1/completions") == 0) {
        *allowed = "POST";
        return method == FG_HTTP_POST ? HTTP_COMPLETIONS : HTTP_NONE;
    }
    if (strcmp(path, "/v1/embeddings") == 0) {
        *allowed = "POST";
        return method == FG_HTTP_POST ? HTTP_EMBEDDINGS : HTTP_NONE;
    }
    if (strcmp(path, "/v1/models") == 0) {
        *allowed = "GET, HEAD";
        return is_get ? HTTP_MODELS : HTTP_NONE;
    }
    if (strncmp(path, "/v1/models/", 11) == 0 && path[11] != '\0') {
        *allowed = "GET, HEAD";
        return is_get ? HTTP_MODEL : HTTP_NONE;
    }
    if (strcmp(path, "/healthz") == 0) {
        *allowed = "GET, HEAD";
        return is_get ? HTTP_HEALTHZ : HTTP_NONE;
    }
    if (strcmp(path, "/readyz") == 0) {
        *allowed = "GET, HEAD";
        return is_get ? HTTP_READYZ : HTTP_NONE;
    }
    return HTTP_NONE;
}

int
fg_http_head(void *worker, fg_httpconn_t *conn, const fg_http_head_t *head)
{
    fg_worker_t  *w = worker;
    fg_req_t     *req, *probe;
    fg_verdict_t  v;
    const char   *allowed;
    int           rc;

    if (head->method == FG_HTTP_OTHER
        || http_find(head->path, head->method, &allowed) == HTTP_NONE) {
        /* Refused whatever the body says: answered as a whole request
         * would be (the key first under /v1/, then 404, 405 or 501). */
        req = http_req_new(w, conn, head, 0);
        http_route(req, head->path, head->method);
        req->head = NULL;
        return 0;
    }
    if (strncmp(head->path, "/v1/", 4) != 0) {
        return 1;
    }
    /* A probe that is never answered nor counted: a good key leaves no
     * trace, and the whole request is authenticated again. */
    probe = fg_xcalloc(1, sizeof(*probe));
    probe->worker = w;
    probe->head = head;
    rc = fg_pipeline_authenticate_head(probe, &v);
    free(probe);
    if (rc == FG_OK) {
        return 1;
    }
    req = http_req_new(w, conn, head, 0);
    fg_pipeline_refuse(req, &v);
    req->head = NULL;
    return 0;
}

static void
http_route(fg_req_t *req, const char *path, fg_http_method_t method)
{
    const char *allowed;
    char        id[256];

    if (method == FG_HTTP_OTHER) {
        fg_req_fail(req, FG_E_NOT_IMPLEMENTED, NULL,
                    "the method %.32s is not implemented",
                    req->head->method_name);
        return;
    }

    /* A browser asks before it sends the key: never authenticated. */
    if (http_is_preflight(req, path, method)) {
        http_preflight(req, path);
        return;
    }
    /* Every call under /v1/ needs a key, even one to a wrong method or path. */
    if (strncmp(path, "/v1/", 4) == 0
        && fg_pipeline_authenticate(req) != FG_OK) {
        return;
    }
    switch (http_find(path, method, &allowed)) {
    case HTTP_CHAT:
        fg_pipeline_chat(req);
        return;
    case HTTP_EMBEDDINGS:
        fg_pipeline_embeddings(req);
        return;
    case HTTP_COMPLETIONS:
        fg_pipeline_completions(req);
        return;
    case HTTP_RESPONSES:
        fg_pipeline_responses(req);
        return;
    case HTTP_MODELS:
        fg_models_handle(req, NULL);
        return;
    case HTTP_MODEL:
        if (fg_uri_decode(path + 11, strlen(path + 11), id, sizeof(id), 0)
            < 0) {
            fg_req_fail(req, FG_E_MODEL_NOT_FOUND, "model",
                        "The model '%.128s' does not exist", path + 11);
            return;
        }
        fg_models_handle(req, id);
        return;
    case HTTP_HEALTHZ:
        http_healthz(req);
        return;
    case HTTP_READYZ:
        http_readyz(req);
        return;
    case HTTP_NONE:
        break;
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

/* A CORS preflight: OPTIONS under /v1/ with Origin and
 * Access-Control-Request-Method. */
static int
http_is_preflight(const fg_req_t *req, const char *path,
                  fg_http_method_t method)
{
    return method == FG_HTTP_OPTIONS && strncmp(path, "/v1/", 4) == 0
           && fg_req_header(req, "origin") != NULL
           && fg_req_header(req, "access-control-request-method") != NULL;
}

/*
 * Answers a preflight without a key, for a small fixed cost: 204, and
 * for an allowed origin the path's methods, the requested headers
 * reflected once they are checked, and how long to keep the answer. An
 * origin not allowed gets 204 without Access-Control-* headers, and the
 * browser refuses the call itself. Requested headers or a method that
 * are not well-formed get 400.
 */
static void
http_preflight(fg_req_t *req, const char *path)
{
    const char *want = fg_req_header(req, "access-control-request-headers");
    const char *allowed;
    char        methods[64];
    fg_err_t    err;

    if (fg_cors_request_method_check(fg_req_header(req,
                                         "access-control-request-method"),
                                     &err) != FG_OK
        || (want != NULL
            && fg_cors_request_headers_check(want, &err) != FG_OK)) {
        fg_req_reply_error(req, &err);
        return;
    }
    if (req->cors_origin != NULL) {
        (void) http_find(path, FG_HTTP_OPTIONS, &allowed);
        snprintf(methods, sizeof(methods), "%s, OPTIONS",
                 allowed != NULL ? allowed : "GET, POST");
        fg_req_add_header(req, "Access-Control-Allow-Methods", methods);
        if (want != NULL && want[strspn(want, " \t,")] != '\0') {
            fg_req_add_header(req, "Access-Control-Allow-Headers", want);
        }
        fg_req_add_header(req, "Access-Control-Max-Age", FG_CORS_MAX_AGE);
    }
    fg_req_reply(req, 204, "", 0);
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
    char         failure[FG_SHM_FAILURE_MAX];
    char         reason[6 * FG_SHM_FAILURE_MAX + 16];
    char         body[sizeof(reason) + 256];
    int          n, is_ready, has_failure;

    generation = atomic_load(&w->wc->shm->header->sh_generation);
    wanted = atomic_load(&w->wc->shm->header->sh_workers_wanted);
    ready = fg_shm_workers_ready(w->wc->shm, generation);
    /* A syncer that cannot run leaves keyed requests without keys or
     * billing: not ready, and the reason is the operator's first clue. */
    has_failure = fg_shm_syncer_failure(w->wc->shm, failure);
    is_ready = !w->is_draining && ready >= wanted && wanted > 0
               && !has_failure;
    reason[0] = '\0';
    if (has_failure) {
        size_t q;

        memcpy(reason, ",\"reason\":", 10);
        q = fg_json_quote(failure, strlen(failure), reason + 10);
        reason[10 + q] = '\0';
    }
    n = snprintf(body, sizeof(body),
                 "{\"status\":\"%s\",\"workers_ready\":%u,"
                 "\"workers_configured\":%u,\"config_generation\":%u%s}",
                 is_ready ? "ready" : "not_ready", ready, wanted,
                 generation, reason);
    fg_req_reply(req, is_ready ? 200 : 503, body, (size_t) n);
}

void
fg_http_refuse(void *worker, fg_httpconn_t *conn, const fg_err_t *err)
{
    fg_req_t *req = http_req_new(worker, conn, NULL, 0);

    if (err->code == FG_E_BODY_BUFFER_FULL) {
        fg_req_add_retry_after(req, 1000);
    }
    fg_req_reply_error(req, err);
}
