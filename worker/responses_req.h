#ifndef FG_WORKER_RESPONSES_REQ_H
#define FG_WORKER_RESPONSES_REQ_H

/*
 * POST /v1/responses, the request half: a Responses API request is
 * validated strictly and translated into the chat-completions body it
 * means, so every provider that speaks chat serves it through the chat
 * pipeline (keys, limits, metering, routing, impact, usage records). The
 * chat body is then validated as any client's (fg_validate_chat_body) by
 * the caller; this module checks what only the Responses shape can say.
 *
 * The mapping:
 *   model                     model
 *   instructions              a first {"role":"system"} message ("system",
 *                             not "developer": more providers take it)
 *   previous_response_id      the stored conversation (lookup), after the
 *                             instructions and before the input
 *   input: a string           one user message
 *   input: items
 *     message (type optional) {role, content}; roles user, assistant,
 *                             system, developer; parts input_text,
 *                             output_text and refusal become text parts
 *                             (one text part becomes a string),
 *                             input_image {image_url, detail} an
 *                             image_url part (user messages only)
 *     function_call           an assistant message's tool_calls entry:
 *                             consecutive calls, and calls right after an
 *                             assistant message, join one message
 *     function_call_output    {"role":"tool","tool_call_id","content"}
 *     reasoning               dropped (chat has no way to send it back)
 *     item_reference          the stored item(s) (lookup), translated
 *   tools (function only)     {"type":"function","function":{name,
 *                             description, parameters, strict}}
 *   tool_choice               "auto"|"none"|"required", or
 *                             {"type":"function","function":{"name"}};
 *                             sent only beside tools, as is
 *                             parallel_tool_calls (chat refuses either
 *                             alone); "required" or a function without
 *                             tools is a 400
 *   text.format               text: nothing; json_object, json_schema:
 *                             response_format
 *   text.verbosity            verbosity
 *   reasoning.effort          reasoning_effort (summary accepted, unused)
 *   max_output_tokens         max_completion_tokens (16 and up, as OpenAI)
 *   temperature, top_p, user, seed, stream,
 *   safety_identifier, prompt_cache_key, prompt_cache_retention
 *                             the same (stream_options is the pipeline's)
 *   models, fallbacks, route, provider, preset, filters, transforms,
 *   plugins                   copied as sent (the gateway's own fields;
 *                             the chat validator checks them)
 *   store, metadata (<= 16 string pairs), truncation, include,
 *   service_tier, stream_options, top_logprobs, max_tool_calls
 *                             checked, not sent
 * Refused (400): background: true, prompt, conversation, any tool but a
 * function (the gateway offers no built-in tools), input_file and
 * input_audio parts, input_image by file_id, item types chat cannot carry
 * (built-in tool calls and their outputs), any other top-level member.
 * Inside input items, members the translation does not read (id, status,
 * annotations, logprobs, encrypted_content...) are ignored: the output
 * items SDKs send back carry fields that vary by version.
 */

#include <stddef.h>

#include "common/base/errors.h"
#include "common/wire/jdoc.h"
#include "worker/responses.h"

#define FG_RESPONSES_ITEMS_MAX        2048  /* items of "input" */
#define FG_RESPONSES_TOOLS_MAX        128   /* as chat on OpenAI */
#define FG_RESPONSES_METADATA_MAX     16    /* pairs, as OpenAI */
#define FG_RESPONSES_MAX_OUTPUT_MIN   16    /* max_output_tokens, as
                                               OpenAI */
/* Looked-up items, all lookups of one request together: 2048 references
 * to one big stored response must not make a body 2048 times its size. */
#define FG_RESPONSES_STORED_BYTES_MAX (16u * 1024 * 1024)
/* References inside looked-up items are followed this many levels deep. */
#define FG_RESPONSES_REF_DEPTH_MAX    4

/*
 * Looks up an earlier response's stored items by id (item_reference ids and
 * previous_response_id): FG_OK with *json a malloc'd JSON array of items (the
 * caller frees), or FG_ERR when unknown/expired. NULL lookup: nothing is
 * stored.
 *
 * For previous_response_id the array must be the whole conversation that
 * response continued: the items of its own context (what its previous
 * response chain and its input resolved to) then its output items; this
 * module does not walk a chain. Instructions are never carried over
 * (OpenAI's rule): store items, not the instructions message.
 */
typedef int (*fg_responses_lookup_pt)(void *arg, const char *id, size_t len,
                                      char **json, size_t *json_len);

/*
 * Validates @len bytes of @body as a Responses request and writes the
 * chat-completions body it means into *@chat (malloc'd, NUL-terminated,
 * caller frees). FG_OK, or FG_ERR with @err (param = JSON path).
 *
 * On FG_OK @doc holds the parsed request (the caller frees it with
 * fg_jdoc_free; it borrows @body) and @out is filled, its spans pointing
 * into @body. On FG_ERR @doc holds nothing, *@chat is NULL and @out is
 * untouched. @lookup is called with ids decoded (NUL-terminated at @len)
 * for previous_response_id first, then each item_reference in order.
 *
 * Codes: the parse's (FG_E_EMPTY_BODY, FG_E_NESTING_TOO_DEEP,
 * FG_E_DUPLICATE_KEY, FG_E_INVALID_JSON); FG_E_REQUIRED_FIELD,
 * FG_E_INVALID_TYPE, FG_E_INVALID_VALUE, FG_E_OUT_OF_RANGE (the schema,
 * a lookup miss naming the id); FG_E_UNSUPPORTED_PARAMETER (an unknown
 * member, a refused one); FG_E_INTERNAL (stored items that are not an
 * array of items). A message quotes at most 64 bytes of client input.
 *
 * @context (NULL: not wanted) receives, on FG_OK, the conversation this
 * request continues as Responses items, what the response store keeps
 * before the response's own output (common/store/respstore.h): the items
 * of previous_response_id's conversation, then the input's items with
 * each item_reference replaced by the items it resolved to, a string
 * input as one user message item; comma-separated raw JSON texts, no
 * brackets (malloc'd, NUL-terminated, *@context_len bytes, possibly 0;
 * the caller frees). Instructions are not in it (OpenAI does not carry
 * them over). It is at most @len + the looked-up bytes + 64.
 *
 * Bounds: the chat body is at most 2 x (@len + the looked-up bytes) +
 * 1024 bytes (every value is copied as its raw text, each item adds a
 * constant); its nesting is at most max(@max_depth + 1, 6), so validate
 * it with @max_depth + 2. Looked-up arrays parse with @max_depth + 4 (the
 * store keeps items one level below where the client sent them). Work is
 * linear in @len and the looked-up bytes. Worker process; blocks only as
 * long as @lookup does.
 */
int fg_responses_to_chat(const char *body, size_t len, size_t max_depth,
                         fg_responses_lookup_pt lookup, void *lookup_arg,
                         fg_responses_req_t *out, fg_jdoc_t *doc,
                         char **chat, size_t *chat_len, char **context,
                         size_t *context_len, fg_err_t *err);

#endif
