#ifndef FG_WORKER_RELAY_H
#define FG_WORKER_RELAY_H

/*
 * The relay turns what the upstream sends into the reply to the client:
 * a JSON body checked and passed through, or an SSE stream relayed event
 * by event as it arrives (no buffering of the stream), with back-pressure
 * when the client reads slower than the upstream writes. Upstream failures
 * become OpenAI-format errors (502, 504, upstream 4xx passed through), or,
 * once a stream has started, a final error event.
 */

#include <stddef.h>

#include "worker/request.h"
#include "worker/upstream.h"

/* The handler a request's upstream attempt reports to (upstream.h); its
 * owner is the fg_req_t. */
extern const fg_upstream_handler_t fg_relay_upstream_handler;

/* Frees the relay state of @req (parser, buffers). Accepts a fresh req. */
void fg_relay_cleanup(fg_req_t *req);

#endif
