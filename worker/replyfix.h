#ifndef FG_WORKER_REPLYFIX_H
#define FG_WORKER_REPLYFIX_H

/*
 * What the gateway changes in a provider's successful reply
 * (docs/api.md, "JSON repair" and "Reasoning"), on the request's
 * transform fields (req->validated.chat.xf):
 *   - JSON repair: in a JSON mode (response_format json_object or
 *     json_schema) a message content that is not valid JSON is repaired
 *     (common/wire/jsonrepair.h), and tool-call arguments in every mode;
 *     off with the response-healing plugin's enabled: false;
 *   - healing a stream: with the response-healing plugin in a JSON mode,
 *     each choice's content deltas are held, repaired when the choice
 *     finishes, and sent as one delta before its finish chunk;
 *   - reasoning.exclude: reasoning_content, reasoning and
 *     reasoning_details are cut from messages and deltas.
 * relay.c calls it; it writes req->relay's json_repaired and heal state.
 * A healed stream buffers at most upstream.max_body_bytes of content;
 * past that, what it holds is sent as it came and the rest passes through.
 */

#include <stddef.h>

#include "common/wire/jdoc.h"
#include "common/wire/jedit.h"
#include "worker/request.h"

/* 1 when @req's reply is changed at all (0: the relay passes it). */
int fg_replyfix_active(const fg_req_t *req);

/*
 * The non-streamed reply @doc (its text is doc->buf) with the repairs and
 * cuts made: a malloc'd, NUL-terminated body of *@out_len bytes that the
 * caller frees, or NULL when nothing changed.
 */
char *fg_replyfix_body(fg_req_t *req, const fg_jdoc_t *doc, size_t *out_len);

/*
 * One chunk @doc of a stream: adds its cuts to @edits, and queues in
 * req->relay.stream_out, ahead of the chunk, the healed content of every
 * choice that finishes with it (of every choice, when it carries the
 * usage). Returns 1 when nothing of the chunk is left to send.
 */
int fg_replyfix_chunk(fg_req_t *req, const fg_jdoc_t *doc,
                      fg_jedits_t *edits);

/* Queues the healed content of every choice not sent yet: before
 * [DONE], or when the stream ends without it. */
void fg_replyfix_flush(fg_req_t *req);

/* Frees the heal state of @req. Accepts a request without one. */
void fg_replyfix_cleanup(fg_req_t *req);

#endif
