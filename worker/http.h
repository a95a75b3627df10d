#ifndef FG_WORKER_HTTP_H
#define FG_WORKER_HTTP_H

/*
 * The HTTP front: evhttp set up with every limit from configuration, the
 * routes, and the entry of each request into the pipeline.
 *
 *   POST /v1/chat/completions   chat.c
 *   GET  /v1/models[/{id}]      models.c
 *   GET  /healthz, /readyz      here
 */

#include "worker/request.h"
#include "worker/worker.h"

/* Creates w->http on w->base with the configured limits. FG_OK/FG_ERR. */
int fg_http_init(fg_worker_t *w, fg_err_t *err);

/* Route handlers (each takes over @req and must end it). */
void fg_chat_handle(fg_req_t *req);
void fg_models_handle(fg_req_t *req, const char *id);

/* Builds w->models_body from the catalog. Cannot fail. */
void fg_models_prepare(fg_worker_t *w);

#endif
