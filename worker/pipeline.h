#ifndef FG_WORKER_PIPELINE_H
#define FG_WORKER_PIPELINE_H

/*
 * The request pipeline of POST /v1/chat/completions: the one place that
 * calls the stages, in order, and acts on their verdicts.
 *
 *   validate → authenticate (http.c, for every /v1/ path) → route →
 *   admit → reserve → choose → attempt ⇢ relay (the upstream's events)
 *   [⇢ fail over: choose → attempt] → settle → log/metrics
 *
 * A stage owns its part of the request (request.h) and returns a verdict;
 * only the pipeline fails a request, adds reply headers (Retry-After,
 * x-ratelimit-*, x-fluxgate-*) and moves on. Stages do not call each
 * other. Worker process, event-loop thread; nothing here blocks.
 */

#include <stddef.h>

#include "worker/relay.h"
#include "worker/request.h"
#include "worker/upstream.h"

/* Serves a chat completion: runs the stages up to the upstream call, or
 * answers the request. Takes over @req (as every route handler). */
void fg_pipeline_chat(fg_req_t *req);

/* POST /v1/embeddings: the same stages, with the embeddings validator,
 * its inputs counted, no reply to reserve for, and /embeddings at the
 * provider (docs/api.md). */
void fg_pipeline_embeddings(fg_req_t *req);

/* POST /v1/completions (legacy): the same stages, with its validator,
 * every prompt counted and each of its best_of candidates reserved for,
 * max_tokens 16 written when the client names none, and /completions at
 * the provider. */
void fg_pipeline_completions(fg_req_t *req);

/* POST /v1/responses: the request translated into a chat completion
 * (responses_req.h) that goes through the same stages, and the reply
 * translated back (responses_reply.h): the response object, or its typed
 * events for a stream. Nothing is stored yet: previous_response_id and
 * item_reference are a 400 naming the id. */
void fg_pipeline_responses(fg_req_t *req);

/* The authenticate stage for a /v1/ path: FG_OK, or FG_ERR when the
 * request was answered (401, or 503 while the keys load). */
int fg_pipeline_authenticate(fg_req_t *req);

/*
 * The authenticate stage on a head whose body has not been read
 * (httpserver's head hook): @probe is a request that is never answered,
 * with its worker and head set. FG_OK, or FG_ERR with @v the refusal to
 * answer with fg_pipeline_refuse() on the real request. The whole request
 * is authenticated again once its body is in.
 */
int fg_pipeline_authenticate_head(fg_req_t *probe, fg_verdict_t *v);

/* Answers @req with the refusal @v and the Retry-After it asks for. */
void fg_pipeline_refuse(fg_req_t *req, const fg_verdict_t *v);

/*
 * The handler a request's upstream attempt reports to (upstream.h); its
 * owner is the fg_req_t. headers may start a stream; data relays or
 * collects body bytes, pausing while the client is behind; done takes the
 * attempt's result to the relay's verdict and answers the client.
 */
extern const fg_upstream_handler_t fg_pipeline_upstream_handler;

/* The client took its backlog: a paused upstream goes on. */
void fg_pipeline_client_drained(fg_req_t *req);

/*
 * The settle stage, then log and metrics: charge (meter.c), impact
 * (footprint.c), the limits' correction (admit.c), the request counters,
 * the access-log line and the one usage record. For fg_req_account(),
 * which runs it once per request.
 */
void fg_pipeline_settle(fg_req_t *req);

/* Frees what the stages hold (the upstream call, relay buffers, the
 * parsed body). For fg_req_finish(); accepts a request at any stage. */
void fg_pipeline_release(fg_req_t *req);

#endif
