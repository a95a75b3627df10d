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

#define FG_RELAY_CONTINUE 0
#define FG_RELAY_PAUSE    1
#define FG_RELAY_ABORT    2

/* Called by upstream.c; see upstream.h. */
void fg_relay_headers(fg_req_t *req);
int fg_relay_data(fg_req_t *req, const char *data, size_t len);
void fg_relay_done(fg_req_t *req, const char *error);

/* Frees the relay state of @req (parser, buffers). Accepts a fresh req. */
void fg_relay_cleanup(fg_req_t *req);

#endif
