#ifndef FG_WORKER_HTTP_H
#define FG_WORKER_HTTP_H

/*
 * The routes, and the entry of each request into the pipeline: the
 * public listener's server (conn.h) reads and parses requests, this
 * module turns each into an fg_req_t and routes it.
 *
 *   POST /v1/chat/completions   pipeline.c
 *   GET  /v1/models[/{id}]      models.c
 *   GET  /healthz, /readyz      here
 */

#include "common/wire/httpparse.h"
#include "common/wire/httpserver.h"
#include "worker/request.h"
#include "worker/worker.h"

/*
 * The public listener's dispatch (fg_httpserver_handler_t.request): serves
 * the whole request @head (borrowed for this call) with @body (@body_len
 * bytes, borrowed for this call) on @conn, for @worker (an fg_worker_t).
 * The request attaches itself to @conn until it replies.
 */
void fg_http_request(void *worker, fg_httpconn_t *conn,
                     const fg_http_head_t *head, const char *body,
                     size_t body_len);

/*
 * The public listener's head hook (fg_httpserver_handler_t.head): 1 when
 * the body of the request @head (borrowed for this call) is worth
 * reading, 0 once @conn has been answered from the head alone, as the
 * whole request would have been (404, 405, 501, or the authenticate
 * stage's 401 or 503 under /v1/).
 */
int fg_http_head(void *worker, fg_httpconn_t *conn,
                 const fg_http_head_t *head);

/*
 * Answers the request being received on @conn with @err (a protocol
 * error the server found: it is not well-formed, too large, ...). It is
 * a request like any other for the logs and metrics: an id, an
 * access-log line, a count by status and code.
 */
void fg_http_refuse(void *worker, fg_httpconn_t *conn, const fg_err_t *err);

/*
 * Route handlers (each takes over @req and must end it).
 * fg_models_handle: GET /v1/models (@id NULL), /v1/models/{id}, and
 * /v1/models/{id}/endpoints when @id (decoded) ends in "/endpoints" and
 * is no model as a whole.
 */
void fg_models_handle(fg_req_t *req, const char *id);

/* Builds w->models_body from the catalog. Cannot fail. */
void fg_models_prepare(fg_worker_t *w);

#endif
