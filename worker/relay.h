#ifndef FG_WORKER_RELAY_H
#define FG_WORKER_RELAY_H

/*
 * The relay stage turns what the upstream sends into the reply to the
 * client: a JSON body checked and passed through, or an SSE stream
 * relayed event by event as it arrives (no buffering of the stream).
 * Upstream failures become verdicts: an OpenAI-format error (502, 504,
 * 429), the upstream's own 4xx passed through, or, once a stream has
 * started, a final error event. The pipeline drives it from the
 * upstream's events, sends what it produced and acts on its verdicts;
 * relay.c is the only writer of req->relay.
 */

#include <stddef.h>

#include "worker/request.h"

/* 1 when the upstream's headers start a streamed reply: the client asked
 * for a stream and the upstream answered 2xx text/event-stream. */
int fg_relay_stream_begins(const fg_req_t *req);

/* Prepares the stream's parser and output; @settle is called when the
 * stream's usage arrives. Once, when fg_relay_stream_begins(). */
void fg_relay_stream_init(fg_req_t *req, fg_relay_settle_pt settle);

/* Collects @len bytes of a non-streamed reply: FG_UPSTREAM_CONTINUE, or
 * FG_UPSTREAM_ABORT past upstream.max_body_bytes. */
int fg_relay_collect(fg_req_t *req, const char *data, size_t len);

/*
 * Parses @len bytes of the stream: every complete event is checked and
 * queued, re-framed, in req->relay.stream_out for the pipeline to send.
 * FG_OK, or FG_ERR when the upstream sent something malformed
 * (req->relay.error says what).
 */
int fg_relay_feed(fg_req_t *req, const char *data, size_t len);

/*
 * The attempt ended as @result says (its Retry-After is passed on with a
 * provider's 429), with @error NULL or one of upstream.h's failure
 * details. The verdict, in @v: for a stream, FG_VERDICT_STREAM_END
 * (an error event queued when it broke, err.code saying what);
 * otherwise FG_VERDICT_COMPLETE (the upstream's JSON body, its usage
 * taken), FG_VERDICT_FORWARD (the upstream's own 4xx) or
 * FG_VERDICT_REFUSE (the error to answer).
 */
fg_verdict_kind_t fg_relay_end(fg_req_t *req,
                               const fg_attempt_result_t *result,
                               const char *error, fg_verdict_t *v);

/* Frees the relay state of @req (parser, buffers). Accepts a fresh req. */
void fg_relay_cleanup(fg_req_t *req);

#endif
