#ifndef FG_WORKER_RESPONSES_REPLY_H
#define FG_WORKER_RESPONSES_REPLY_H

/*
 * The reply of a POST /v1/responses, made from the chat completion that
 * served it (docs/api.md, "/v1/responses"): the Responses API's
 * "response" object from a whole chat reply, and, for a stream, the typed
 * Responses SSE events from the chat chunks as they arrive.
 *
 * The response object: id, object "response", created_at, status
 * ("completed", or "incomplete" when choice 0 finished with "length" or
 * "content_filter", incomplete_details then saying "max_output_tokens" or
 * "content_filter"), error null, the chat reply's model, output, usage
 * (chat usage translated: input_tokens, input_tokens_details.cached_tokens,
 * output_tokens, output_tokens_details.reasoning_tokens, total_tokens; null
 * without one) and the request's fields echoed as OpenAI does, with its
 * defaults when the request left them out (metadata {}, reasoning
 * {"effort":null,"summary":null}, temperature 1, top_p 1, text
 * {"format":{"type":"text"}}, tool_choice "auto", tools [], truncation
 * "disabled", user null...). No output_text: the SDKs compute it.
 *
 * Output items, in order, from choice 0's message (Responses has no n):
 *   1) a "reasoning" item when the message has reasoning_content (or
 *      reasoning) text: summary [{"type":"summary_text","text":...}];
 *   2) a "message" item (role assistant) with an output_text part for the
 *      content and a refusal part for a refusal; present unless the
 *      message has no content text, no refusal and tool calls;
 *   3) one "function_call" item per tool call (call_id, name, arguments).
 * A message or function call's status is "completed", in an incomplete
 * response too (its status and incomplete_details say what was cut; the
 * stream has sent most items' done events before it knows).
 *
 * Item ids: "<prefix>_<suffix>_<i>", prefix "rs", "msg" or "fc", <suffix>
 * the response id without its "resp_" (the whole id when it has none), <i>
 * the item's output_index: "resp_abc" has items "rs_abc_0",
 * "msg_abc_1", "fc_abc_2". fg_responses_item_response_id() goes back.
 *
 * Text is written with fg_json_quote() into evbuffers; no jansson. Every
 * string of the reply is decoded from the chat reply and quoted again, so
 * the whole reply and the stream's final response are the same bytes for
 * the same completion.
 */

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "common/wire/jdoc.h"
#include "worker/responses.h"

/*
 * The Responses "response" object for the chat completion @chat (a parsed
 * non-stream reply), with id @resp_id, created_at @created_s, echoing @rq.
 * A malloc'd, NUL-terminated JSON text of *@out_len bytes (the caller frees
 * it), or NULL when @chat is not a chat completion object (no choices
 * array with an object at index 0 holding a "message" object). @rq's spans
 * must be valid JSON texts (they are copied as they are). Cannot fail
 * otherwise (aborts on out-of-memory).
 */
char *fg_responses_reply(const fg_jdoc_t *chat, const fg_responses_req_t *rq,
                         const char *resp_id, int64_t created_s,
                         size_t *out_len);

/*
 * The output items of a response text @response (@len bytes, as
 * fg_responses_reply() wrote it, environment_impact or not): a malloc'd,
 * NUL-terminated copy of its "output" array (*@out_len bytes; the caller
 * frees it), or NULL when @response is not a JSON object with an output
 * array.
 */
char *fg_responses_output_items(const char *response, size_t len,
                                size_t *out_len);

/*
 * The response id an item id of this module names ("msg_abc_1" names
 * "resp_abc"), NUL-terminated into @dst (@size bytes). Returns its length,
 * or 0 when @id (@len bytes) is not "<rs|msg|fc>_<suffix>_<digits>" or the
 * result does not fit @size - 1 bytes. Exact only for response ids that
 * start with "resp_" (the gateway's own).
 */
size_t fg_responses_item_response_id(const char *id, size_t len, char *dst,
                                     size_t size);

/*
 * A stream's translation: chat chunks in, typed Responses SSE events out.
 *
 * Events are "event: <type>\ndata: <json>\n\n", each data object with
 * "type" and a "sequence_number" counting from 0, in OpenAI's order:
 *   response.created, response.in_progress (the response, status
 *   "in_progress", output []), then for each item as its first delta comes:
 *   - reasoning: response.output_item.added (summary []),
 *     response.reasoning_summary_part.added (summary_index 0),
 *     response.reasoning_summary_text.delta per delta,
 *     response.reasoning_summary_text.done,
 *     response.reasoning_summary_part.done, response.output_item.done;
 *   - message: response.output_item.added (content []), per part
 *     (output_text for content, refusal for a refusal):
 *     response.content_part.added, response.output_text.delta (or
 *     response.refusal.delta) per delta, response.output_text.done (or
 *     response.refusal.done), response.content_part.done; then
 *     response.output_item.done;
 *   - function call: response.output_item.added (arguments ""),
 *     response.function_call_arguments.delta per delta,
 *     response.function_call_arguments.done, response.output_item.done;
 *   and at the end response.completed (or response.incomplete) with the
 *   whole response.
 * A reasoning or message item is done when an item of another kind starts
 * (reasoning, then the answer, then tool calls: OpenAI's order); function
 * calls stay open to the end, since chat providers may interleave the
 * argument deltas of parallel calls, and are done there in output order.
 * Reasoning or content that comes back after its item was done opens a new
 * item. A stream that ends with no message and no function call gets an
 * empty message, as the whole reply has. Deltas are passed as the chunk's
 * own JSON strings; empty ones are skipped.
 *
 * Bounds: the state holds the text of every item (for the .done events and
 * the final response), at most @max_text_bytes in all (upstream.
 * max_body_bytes); past it, deltas are still sent but no longer kept, so
 * the .done texts and the final response hold the first @max_text_bytes
 * (cut on a UTF-8 boundary). At most 256 items, 128 of them function
 * calls, are translated; the deltas of later ones are dropped.
 */
typedef struct fg_responses_stream_s fg_responses_stream_t;

/*
 * A new translation for the response @resp_id created at @created_s,
 * echoing @rq (borrowed: it and the spans it points to must outlive the
 * stream), under @model until a chunk names its own. Returns an owned
 * object (fg_responses_stream_free()); aborts on out-of-memory.
 */
fg_responses_stream_t *fg_responses_stream_new(const fg_responses_req_t *rq,
                                               const char *resp_id,
                                               int64_t created_s,
                                               const char *model,
                                               size_t max_text_bytes);

/*
 * Appends to @out the events for chat chunk @chunk (a parsed
 * "chat.completion.chunk"); the first call also emits response.created and
 * response.in_progress. Reads choice 0's delta (reasoning_content or
 * reasoning, content, refusal, tool_calls) and finish_reason, the chunk's
 * model, and its usage (kept for fg_responses_stream_end()). A chunk that
 * is not an object, or is called after the end, adds nothing.
 */
void fg_responses_stream_chunk(fg_responses_stream_t *s,
                               const fg_jdoc_t *chunk, struct evbuffer *out);

/*
 * Ends the stream: appends the .done events of every open item and
 * response.completed, or response.incomplete when choice 0 finished with
 * "length" or "content_filter", with the whole response object and
 * @usage_json (@usage_len bytes of a chat usage object's text, translated
 * to Responses usage; NULL: the usage of the last chunk that had one, else
 * null). @extra (NULL, or @extra_len bytes of JSON members such as
 * "\"environment_impact\":{...}") is spliced in as the response object's
 * last members. Emits response.created and response.in_progress first when
 * no chunk came. A second call adds nothing.
 */
void fg_responses_stream_end(fg_responses_stream_t *s, const char *usage_json,
                             size_t usage_len, const char *extra,
                             size_t extra_len, struct evbuffer *out);

/*
 * The output items of an ended stream, as its final response holds them:
 * a malloc'd, NUL-terminated JSON array of *@out_len bytes (the caller
 * frees it), or NULL before fg_responses_stream_end() or when the kept
 * text was cut at max_text_bytes (the items are then not whole, so not
 * worth storing).
 */
char *fg_responses_stream_output(fg_responses_stream_t *s,
                                 size_t *out_len);

/* Frees @s; NULL is accepted. */
void fg_responses_stream_free(fg_responses_stream_t *s);

#endif
