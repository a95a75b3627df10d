/*
 * relay.c: from the upstream's reply to the client's.
 *
 * Non-streaming: the body is collected (bounded by
 * upstream.max_body_bytes), checked to be a JSON object, and passed on as
 * the upstream sent it with environment_impact spliced in as its last
 * member (footprint.c), so the client sees the model the upstream served.
 *
 * Streaming: the client's reply starts as soon as the upstream's 2xx
 * headers arrive. Each read from the upstream goes through the SSE parser;
 * every complete event is checked (a data payload must be JSON or
 * "[DONE]") and re-framed as "data: …\n\n", and what one read completed is
 * sent as one chunk: nothing waits for more. If the client's unsent bytes
 * pass limits.stream_high_water_bytes the upstream transfer is paused, and
 * resumed when the connection reports the output drained, so a slow reader costs
 * bounded memory. A stream that breaks after it started cannot change its
 * status any more: it ends with an OpenAI-format error event and no
 * [DONE], which the official SDKs raise as an APIError.
 *
 * The relay sends nothing itself and answers nothing: it fills
 * req->relay (its only writer) and returns verdicts; the pipeline sends
 * what it queued, settles, and replies.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "common/wire/jdoc.h"
#include "common/wire/json.h"
#include "common/wire/scrub.h"
#include "common/base/log.h"
#include "worker/meter.h"
#include "worker/relay.h"
#include "worker/replyfix.h"
#include "worker/responses_native.h"
#include "worker/responses_reply.h"
#include "worker/request.h"
#include "worker/upstream.h"
#include "worker/worker.h"

/*
 * Nesting allowed in an upstream reply: far above any real one. Replies
 * and chunks are parsed as strictly as requests: a repeated key (two
 * "usage" members, say) makes the reply malformed rather than billed by
 * whichever one a parser happens to keep.
 */
#define FG_RELAY_MAX_DEPTH 128

/* Provider keys scrubbed per pass (a pass per this many providers). */
#define RELAY_SCRUB_BATCH 32

static int relay_on_event(const fg_sse_event_t *ev, void *arg);
static int relay_usage_chunk(fg_req_t *req, const fg_jdoc_t *doc);
static fg_verdict_kind_t relay_stream_error(fg_req_t *req,
                                            fg_error_code_t code,
                                            const char *msg, fg_verdict_t *v);
static fg_verdict_kind_t relay_upstream_error(
    fg_req_t *req, const fg_attempt_result_t *result, fg_verdict_t *v);
static void relay_scrub(const fg_req_t *req, char *text, size_t len);

static int
relay_is_event_stream(const char *ct)
{
    return strncmp(ct, "text/event-stream", 17) == 0;
}

int
fg_relay_stream_begins(const fg_req_t *req)
{
    const fg_upstream_t *up = req->attempt.upstream;

    return req->validated.chat.is_stream && up->status >= 200
           && up->status <= 299 && relay_is_event_stream(up->content_type);
}

void
fg_relay_stream_init(fg_req_t *req, fg_relay_settle_pt settle)
{
    fg_req_relay_t *r = &req->relay;

    r->settle = settle;
    r->stream_out = evbuffer_new();
    fg_sse_parser_init(&r->sse, FG_SSE_MAX_BYTES_DEFAULT);
    r->has_sse = 1;
}

/* Takes the token counts of an OpenAI "usage" object, when there is one. */
static void
relay_take_usage(fg_req_t *req, const fg_jdoc_t *doc)
{
    fg_req_relay_t *r = &req->relay;
    int             usage = fg_jdoc_get(doc, 0, "usage"), details;

    if (fg_jdoc_type(doc, usage) != FG_JOBJECT) {
        return;
    }
    r->has_usage = 1;
    r->prompt_tokens = fg_meter_usage_count(
        doc, fg_jdoc_get(doc, usage, "prompt_tokens"));
    r->completion_tokens = fg_meter_usage_count(
        doc, fg_jdoc_get(doc, usage, "completion_tokens"));
    details = fg_jdoc_get(doc, usage, "prompt_tokens_details");
    r->cached_tokens = fg_meter_usage_count(
        doc, fg_jdoc_get(doc, details, "cached_tokens"));
    details = fg_jdoc_get(doc, usage, "completion_tokens_details");
    r->reasoning_tokens = fg_meter_usage_count(
        doc, fg_jdoc_get(doc, details, "reasoning_tokens"));
}

/* Takes the token counts of a Responses object's usage (a natively
 * served POST /v1/responses, responses_native.h). */
static void
relay_take_native_usage(fg_req_t *req, const fg_jdoc_t *doc, int response)
{
    fg_req_relay_t       *r = &req->relay;
    fg_responses_usage_t  u;

    if (!fg_responses_native_usage(doc, response, &u)) {
        return;
    }
    r->has_usage = 1;
    r->prompt_tokens = u.input_tokens;
    r->completion_tokens = u.output_tokens;
    r->cached_tokens = u.cached_tokens;
    r->reasoning_tokens = u.reasoning_tokens;
}

/* Adds the length of the text in the choices (each choice's @part: "delta"
 * in a stream, "message" in a reply) to what was relayed: the estimate of
 * a completion the upstream did not count. */
static void
relay_count_text(fg_req_t *req, const fg_jdoc_t *doc, const char *part)
{
    static const char *const fields[] = { "content", "reasoning_content",
                                          "reasoning" };
    int                      choices = fg_jdoc_get(doc, 0, "choices");
    int                      choice, p, calls, call, args;
    size_t                   f;

    if (fg_jdoc_type(doc, choices) != FG_JARRAY) {
        return;
    }
    for (choice = fg_jdoc_first(doc, choices); choice != FG_JNONE;
         choice = fg_jdoc_next(doc, choices, choice)) {
        /* A legacy completion's choice carries its text itself. */
        req->relay.relayed_bytes += (int64_t) fg_jdoc_str_len(
            doc, fg_jdoc_get(doc, choice, "text"));
        p = fg_jdoc_get(doc, choice, part);
        if (fg_jdoc_type(doc, p) != FG_JOBJECT) {
            continue;
        }
        for (f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
            req->relay.relayed_bytes += (int64_t) fg_jdoc_str_len(
                doc, fg_jdoc_get(doc, p, fields[f]));
        }
        /* Tool calls are generated text too: their arguments. */
        calls = fg_jdoc_get(doc, p, "tool_calls");
        if (fg_jdoc_type(doc, calls) != FG_JARRAY) {
            continue;
        }
        for (call = fg_jdoc_first(doc, calls); call != FG_JNONE;
             call = fg_jdoc_next(doc, calls, call)) {
            args = fg_jdoc_get(doc, fg_jdoc_get(doc, call, "function"),
                               "arguments");
            req->relay.relayed_bytes += (int64_t) fg_jdoc_str_len(doc, args);
        }
    }
}

/* The kind of an upstream failure, for metrics and logs. */
static fg_upstream_kind_t
relay_upstream_kind(const char *error)
{
    if (error == fg_upstream_err_connect
        || error == fg_upstream_err_no_descriptor) {
        return FG_UPSTREAM_CONNECT;
    }
    if (fg_upstream_err_is_timeout(error)) {
        return FG_UPSTREAM_TIMEOUT;
    }
    if (error == fg_upstream_err_malformed
        || error == fg_upstream_err_too_large) {
        return FG_UPSTREAM_MALFORMED;
    }
    return FG_UPSTREAM_RESET;
}

/* Queues @len bytes of JSON as one event for the client. A provider may
 * split an event's JSON over several data: lines, which the parser joins
 * with newlines: sent as one line, it would end the client's event early,
 * so such a text goes without its whitespace (a JSON string holds no raw
 * line break, so only whitespace between tokens can). */
static void
relay_send_event(fg_req_t *req, const char *json, size_t len)
{
    char  *flat;

    evbuffer_add(req->relay.stream_out, "data: ", 6);
    if (memchr(json, '\n', len) == NULL && memchr(json, '\r', len) == NULL) {
        evbuffer_add(req->relay.stream_out, json, len);
    } else {
        flat = fg_xmalloc(len);
        evbuffer_add(req->relay.stream_out, flat,
                     fg_json_compact(json, len, flat));
        free(flat);
    }
    evbuffer_add(req->relay.stream_out, "\n\n", 2);
}

/* Queues @len bytes of JSON as event @ev's data, under its name when it
 * has one (Responses streams name their events). */
static void
relay_send_named(fg_req_t *req, const fg_sse_event_t *ev, const char *json,
                 size_t len)
{
    if (ev->event_len > 0) {
        evbuffer_add(req->relay.stream_out, "event: ", 7);
        evbuffer_add(req->relay.stream_out, ev->event, ev->event_len);
        evbuffer_add(req->relay.stream_out, "\n", 1);
    }
    relay_send_event(req, json, len);
}

/*
 * Queues the chunk without its member whose key is node @key: the member
 * and one comma next to it are cut from the text, the rest passes as sent.
 */
static void
relay_send_without(fg_req_t *req, const fg_jdoc_t *doc, int key)
{
    const char *text = doc->buf;
    size_t      from = doc->nodes[key].start;
    size_t      to = doc->nodes[key + 1].start + doc->nodes[key + 1].len;
    size_t      k = to;

    while (k < doc->len && (text[k] == ' ' || text[k] == '\n'
                            || text[k] == '\r' || text[k] == '\t')) {
        k++;
    }
    if (k < doc->len && text[k] == ',') {
        to = k + 1;                      /* "usage":null, "next": ... */
    } else {
        k = from;
        while (k > 0 && (text[k - 1] == ' ' || text[k - 1] == '\n'
                         || text[k - 1] == '\r' || text[k - 1] == '\t')) {
            k--;
        }
        if (k > 0 && text[k - 1] == ',') {
            from = k - 1;                /* ..., "usage":null } */
        }
    }
    if (memchr(text, '\n', doc->len) != NULL
        || memchr(text, '\r', doc->len) != NULL) {
        char *joined = fg_xmalloc(doc->len);

        memcpy(joined, text, from);
        memcpy(joined + from, text + to, doc->len - to);
        relay_send_event(req, joined, from + doc->len - to);
        free(joined);
        return;
    }
    evbuffer_add(req->relay.stream_out, "data: ", 6);
    evbuffer_add(req->relay.stream_out, text, from);
    evbuffer_add(req->relay.stream_out, text + to, doc->len - to);
    evbuffer_add(req->relay.stream_out, "\n\n", 2);
}

/*
 * The chunk @doc as replyfix.h changes it. 0: send @doc, which was parsed
 * again from the changed text in *@fixed when there is one (the caller
 * frees it after @doc); 1: nothing of the chunk is left, @doc is freed;
 * -1: the changed text did not parse (a bug: the stream is failed), @doc
 * is freed.
 */
static int
relay_fix_chunk(fg_req_t *req, fg_jdoc_t *doc, char **fixed)
{
    fg_jedits_t edits = FG_JEDITS_INIT;
    size_t      len;

    *fixed = NULL;
    if (fg_replyfix_chunk(req, doc, &edits)) {
        fg_jedits_free(&edits);
        fg_jdoc_free(doc);
        return 1;
    }
    if (edits.n == 0) {
        fg_jedits_free(&edits);
        return 0;
    }
    *fixed = fg_jedits_dup(&edits, doc->buf, doc->len, &len);
    fg_jedits_free(&edits);
    fg_jdoc_free(doc);
    /* Cuts of members of a valid object leave a valid object. */
    if (fg_jdoc_parse(doc, *fixed, len, FG_RELAY_MAX_DEPTH, NULL) != FG_OK) {
        fg_log(FG_LOG_ERROR, 0, "req=%s a changed chunk does not parse",
               req->id);
        free(*fixed);
        *fixed = NULL;
        return -1;
    }
    return 0;
}

/* The stream of a POST /v1/responses ends: response.completed (or
 * .incomplete), with the charge and the environment_impact the pipeline's
 * settle hook writes, as a chat stream's usage chunk has them. */
static void
relay_responses_end(fg_req_t *req)
{
    fg_req_relay_t *r = &req->relay;
    char           *extra;
    size_t          len = 0;

    const char     *members = NULL;
    size_t          n = 0;

    extra = r->settle(req, "{}", 2, &len);
    /* "{...}": the members between the braces. */
    if (extra != NULL && len > 2) {
        members = extra + 1;
        n = len - 2;
    }
    fg_responses_stream_end(r->resp_stream, NULL, 0, n > 0 ? members : NULL,
                            n, r->stream_out);
    free(extra);
}

/*
 * One event of the chat stream behind a POST /v1/responses: translated
 * into the Responses events (responses_reply.h) instead of relayed. The
 * usage chunk settles the request, as in a chat stream; [DONE] ends the
 * Responses stream, which has no [DONE] of its own.
 */
static int
relay_responses_event(fg_req_t *req, const fg_sse_event_t *ev)
{
    fg_req_relay_t *r = &req->relay;
    fg_jdoc_t       doc;
    char            id[FG_GATEWAY_ID_SIZE + 8];
    size_t          len;

    if (r->resp_stream == NULL) {
        fg_req_response_id(req, id, sizeof(id));
        r->resp_stream = fg_responses_stream_new(
            &req->validated.rq, id, req->started_unix_ms / 1000,
            req->route.model->id,
            (size_t) req->worker->conf->upstream_max_body_bytes);
    }
    if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
        r->saw_done = 1;
        relay_responses_end(req);
        return 0;
    }
    if (fg_jdoc_parse(&doc, ev->data, ev->data_len, FG_RELAY_MAX_DEPTH,
                      NULL) != FG_OK
        || fg_jdoc_type(&doc, 0) != FG_JOBJECT) {
        if (doc.nodes != NULL) {
            fg_jdoc_free(&doc);
        }
        r->error = fg_upstream_err_malformed;
        return 1;
    }
    r->saw_event = 1;
    relay_count_text(req, &doc, "delta");
    if (fg_jdoc_type(&doc, fg_jdoc_get(&doc, 0, "usage")) == FG_JOBJECT) {
        relay_take_usage(req, &doc);
        (void) r->settle(req, NULL, 0, &len);
    }
    fg_responses_stream_chunk(r->resp_stream, &doc, r->stream_out);
    fg_jdoc_free(&doc);
    return 0;
}

/*
 * What the store keeps of a native response, the object at @response of
 * @doc (an output array: fg_responses_native_is_response): its id and a
 * copy of its output items, for pipeline.c to keep once the reply is
 * whole. An id too long to be stored by is "".
 */
static void
relay_keep_native(fg_req_t *req, const fg_jdoc_t *doc, int response)
{
    fg_req_relay_t *r = &req->relay;
    int             output = fg_jdoc_get(doc, response, "output");

    if (!req->validated.rq.store) {
        return;
    }
    if (fg_jdoc_str_copy(doc, fg_jdoc_get(doc, response, "id"),
                         r->native_id, sizeof(r->native_id))
        >= sizeof(r->native_id)) {
        r->native_id[0] = '\0';
    }
    free(r->native_output);
    r->native_output_len = doc->nodes[output].len;
    r->native_output = fg_xmalloc(r->native_output_len + 1);
    memcpy(r->native_output, doc->buf + doc->nodes[output].start,
           r->native_output_len);
    r->native_output[r->native_output_len] = '\0';
}

/*
 * One event of a Responses stream from a provider that speaks it
 * (responses_native.h), relayed as it came, with three exceptions: the
 * final response.completed or response.incomplete settles the request
 * and carries the charge and the environment_impact in its response;
 * its output is kept for the store; and a provider's "error" or
 * response.failed event ends the stream as the gateway's own error, never
 * the provider's words (relay_stream_error).
 */
static int
relay_native_event(fg_req_t *req, const fg_sse_event_t *ev)
{
    fg_req_relay_t *r = &req->relay;
    fg_jdoc_t       doc;
    int             type, response;
    char           *spliced, *out, *echo;
    size_t          len, at, end;

    if (fg_jdoc_parse(&doc, ev->data, ev->data_len, FG_RELAY_MAX_DEPTH,
                      NULL) != FG_OK
        || fg_jdoc_type(&doc, 0) != FG_JOBJECT) {
        if (doc.nodes != NULL) {
            fg_jdoc_free(&doc);
        }
        r->error = fg_upstream_err_malformed;
        return 1;
    }
    type = fg_jdoc_get(&doc, 0, "type");
    if (fg_jdoc_str_eq(&doc, type, "error")
        || fg_jdoc_str_eq(&doc, type, "response.failed")) {
        fg_jdoc_free(&doc);
        r->error = fg_upstream_err_failed;
        return 1;
    }
    r->saw_event = 1;
    r->relayed_bytes += (int64_t) fg_jdoc_str_len(
        &doc, fg_jdoc_get(&doc, 0, "delta"));
    response = fg_jdoc_get(&doc, 0, "response");
    echo = fg_responses_native_store_echo(&doc, response,
                                          req->validated.rq.store, &len);
    if (echo != NULL) {
        /* The event again, with the client's "store" in its response. */
        fg_jdoc_free(&doc);
        if (fg_jdoc_parse(&doc, echo, len, FG_RELAY_MAX_DEPTH, NULL)
            != FG_OK) {
            free(echo);
            r->error = fg_upstream_err_malformed;
            return 1;
        }
        type = fg_jdoc_get(&doc, 0, "type");
        response = fg_jdoc_get(&doc, 0, "response");
    }
    if (!fg_jdoc_str_eq(&doc, type, "response.completed")
        && !fg_jdoc_str_eq(&doc, type, "response.incomplete")) {
        relay_send_named(req, ev, doc.buf, doc.len);
        fg_jdoc_free(&doc);
        free(echo);
        return 0;
    }
    if (!fg_responses_native_is_response(&doc, response)) {
        fg_jdoc_free(&doc);
        free(echo);
        r->error = fg_upstream_err_malformed;
        return 1;
    }
    r->saw_done = 1;
    relay_take_native_usage(req, &doc, response);
    relay_keep_native(req, &doc, response);
    /* The charge goes into the response object, inside the event. */
    at = doc.nodes[response].start;
    end = at + doc.nodes[response].len;
    spliced = r->settle(req, doc.buf + at, end - at, &len);
    out = fg_xmalloc(at + len + (doc.len - end));
    memcpy(out, doc.buf, at);
    memcpy(out + at, spliced, len);
    memcpy(out + at + len, doc.buf + end, doc.len - end);
    relay_send_named(req, ev, out, at + len + (doc.len - end));
    free(out);
    free(spliced);
    fg_jdoc_free(&doc);
    free(echo);
    return 0;
}

static int
relay_on_event(const fg_sse_event_t *ev, void *arg)
{
    fg_req_t  *req = arg;
    fg_jdoc_t  doc;
    int        usage, rc = 0;
    char      *fixed = NULL;

    if (req->attempt.is_native) {
        return relay_native_event(req, ev);
    }
    if (req->validated.api == FG_USAGE_API_RESPONSES) {
        return relay_responses_event(req, ev);
    }

    if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
        req->relay.saw_done = 1;
        fg_replyfix_flush(req);
        evbuffer_add(req->relay.stream_out, "data: [DONE]\n\n", 14);
        return 0;
    }
    if (fg_jdoc_parse(&doc, ev->data, ev->data_len, FG_RELAY_MAX_DEPTH,
                      NULL) != FG_OK) {
        req->relay.error = fg_upstream_err_malformed;
        return 1;
    }
    if (fg_jdoc_type(&doc, 0) != FG_JOBJECT) {
        fg_jdoc_free(&doc);
        req->relay.error = fg_upstream_err_malformed;
        return 1;
    }
    req->relay.saw_event = 1;
    relay_count_text(req, &doc, "delta");
    if (fg_replyfix_active(req)) {
        rc = relay_fix_chunk(req, &doc, &fixed);
        if (rc != 0) {
            if (rc < 0) {
                req->relay.error = fg_upstream_err_malformed;
            }
            return rc < 0;               /* 1 stops the parse */
        }
    }
    usage = fg_jdoc_get(&doc, 0, "usage");
    if (fg_jdoc_type(&doc, usage) == FG_JOBJECT) {
        rc = relay_usage_chunk(req, &doc);
    } else if (req->attempt.strip_usage && usage != FG_JNONE) {
        /* The "usage": null of every chunk, there because we asked for
         * usage: a client that did not ask sees no usage member at all. */
        relay_send_without(req, &doc, usage - 1);
    } else if (fg_jdoc_get(&doc, 0, "error") != FG_JNONE) {
        /* A provider's error event may echo credentials: masked. */
        char *copy = fg_xmalloc(doc.len);

        memcpy(copy, doc.buf, doc.len);
        relay_scrub(req, copy, doc.len);
        relay_send_event(req, copy, doc.len);
        free(copy);
    } else {
        relay_send_event(req, doc.buf, doc.len);
    }
    fg_jdoc_free(&doc);
    free(fixed);
    return rc;
}

/*
 * The chunk with the stream's usage: the request is settled now, and the
 * chunk carries the charge and the environment_impact (the pipeline's
 * settle splices them into its text). A client that did not ask for
 * usage does not see it: we asked on its behalf (pipeline.c).
 */
static int
relay_usage_chunk(fg_req_t *req, const fg_jdoc_t *doc)
{
    char   *spliced;
    size_t  len;
    int     choices;

    relay_take_usage(req, doc);
    if (req->attempt.strip_usage) {
        (void) req->relay.settle(req, NULL, 0, &len);
        choices = fg_jdoc_get(doc, 0, "choices");
        if (fg_jdoc_type(doc, choices) != FG_JARRAY
            || doc->nodes[choices].count == 0) {
            return 0;
        }
        relay_send_without(req, doc, fg_jdoc_get(doc, 0, "usage") - 1);
        return 0;
    }
    spliced = req->relay.settle(req, doc->buf, doc->len, &len);
    relay_send_event(req, spliced, len);
    free(spliced);
    return 0;
}

int
fg_relay_collect(fg_req_t *req, const char *data, size_t len)
{
    fg_req_relay_t *r = &req->relay;

    if (r->upstream_body == NULL) {
        r->upstream_body = evbuffer_new();
    }
    if (evbuffer_get_length(r->upstream_body) + len
        > (size_t) req->worker->conf->upstream_max_body_bytes) {
        r->error = fg_upstream_err_too_large;
        return FG_UPSTREAM_ABORT;
    }
    evbuffer_add(r->upstream_body, data, len);
    return FG_UPSTREAM_CONTINUE;
}

int
fg_relay_feed(fg_req_t *req, const char *data, size_t len)
{
    fg_req_relay_t *r = &req->relay;
    fg_err_t        err;

    if (fg_sse_parser_feed(&r->sse, data, len, relay_on_event, req, &err)
        != FG_OK) {
        if (r->error == NULL) {
            r->error = fg_upstream_err_malformed;
        }
        return FG_ERR;
    }
    return FG_OK;
}

/* A broken Responses stream's last event: "error", as OpenAI sends it. */
static void
relay_responses_error(fg_req_t *req, const fg_err_t *err)
{
    char   msg[6 * sizeof(err->msg) + 2];
    size_t n = fg_json_quote(err->msg, strlen(err->msg), msg);

    evbuffer_add_printf(req->relay.stream_out, "event: error\ndata: "
                        "{\"type\":\"error\",\"code\":\"%s\","
                        "\"message\":%.*s,\"param\":null}\n\n",
                        fg_error_code_str(err->code), (int) n, msg);
}

/* Queues the error event that ends a broken stream. */
static fg_verdict_kind_t
relay_stream_error(fg_req_t *req, fg_error_code_t code, const char *msg,
                   fg_verdict_t *v)
{
    char   body[FG_ERROR_BODY_MAX];
    size_t n;

    fg_err_set(&v->err, code, NULL, "%s", msg);
    n = fg_error_render(&v->err, body, sizeof(body));
    if (req->validated.api == FG_USAGE_API_RESPONSES) {
        /* The Responses API's own error event, which the SDKs raise. */
        relay_responses_error(req, &v->err);
        v->kind = FG_VERDICT_STREAM_END;
        return FG_VERDICT_STREAM_END;
    }
    evbuffer_add(req->relay.stream_out, "data: ", 6);
    evbuffer_add(req->relay.stream_out, body, n);
    evbuffer_add(req->relay.stream_out, "\n\n", 2);
    v->kind = FG_VERDICT_STREAM_END;
    return FG_VERDICT_STREAM_END;
}

/*
 * Masks every credential the gateway knows (each provider's API key) and
 * any credential-shaped word in @text: provider text never carries a key
 * to a tenant or into a log.
 */
static void
relay_scrub(const fg_req_t *req, char *text, size_t len)
{
    const fg_catalog_t *cat = req->worker->catalog;
    const char         *keys[RELAY_SCRUB_BATCH];
    size_t              i, n = 0;

    for (i = 0; i < cat->provider_count; i++) {
        if (n == RELAY_SCRUB_BATCH) {
            (void) fg_scrub_credentials(text, len, keys, n);
            n = 0;
        }
        keys[n++] = cat->providers[i].api_key;
    }
    (void) fg_scrub_credentials(text, len, keys, n);
}

/*
 * Up to @size - 1 bytes of provider text for one log line: control bytes
 * become spaces, so a provider cannot forge log lines. Returns @out.
 */
static const char *
relay_log_excerpt(const char *text, size_t len, char *out, size_t size)
{
    size_t i, n = len < size - 1 ? len : size - 1;

    for (i = 0; i < n; i++) {
        out[i] = (unsigned char) text[i] < 0x20 || text[i] == 0x7f
                 ? ' ' : text[i];
    }
    out[n] = '\0';
    return out;
}

/*
 * The upstream answered with an error status: map it for the client.
 * What a provider says about its own side (its credentials refused, a 5xx
 * with its internals) is the operator's business: logged, scrubbed, and
 * answered with the gateway's own words. Only a 4xx about the tenant's
 * request (and a 429's message) reaches the tenant, scrubbed too.
 */
static fg_verdict_kind_t
relay_upstream_error(fg_req_t *req, const fg_attempt_result_t *result,
                     fg_verdict_t *v)
{
    fg_req_relay_t *r = &req->relay;
    fg_upstream_t  *up = req->attempt.upstream;
    char           *body = NULL;
    size_t          len = 0;
    json_t         *root = NULL, *error;
    json_error_t    jerr;
    const char     *message = NULL;
    char            said[301];   /* what the provider said, for the log */

    if (r->upstream_body != NULL) {
        len = evbuffer_get_length(r->upstream_body);
        body = (char *) evbuffer_pullup(r->upstream_body, -1);
        relay_scrub(req, body, len);
        root = json_loadb(body, len, 0, &jerr);
    }
    error = json_object_get(root, "error");
    if (json_is_object(error)) {
        message = json_string_value(json_object_get(error, "message"));
    } else if (json_is_string(error)) {
        message = json_string_value(error);
    }
    relay_log_excerpt(message ? message : body ? body : "",
                      message ? strlen(message) : len, said, sizeof(said));

    r->upstream_kind = up->status == 429 ? FG_UPSTREAM_429
                       : up->status >= 400 && up->status < 500
                         ? FG_UPSTREAM_4XX : FG_UPSTREAM_5XX;
    if (up->status == 429) {
        /* The provider's wait, exact: Retry-After rounds it up. */
        fg_verdict_refuse(v, result->retry_after_ms >= 0
                             ? result->retry_after_ms : FG_RETRY_NONE,
                          FG_E_PROVIDER_RATE_LIMITED,
                          NULL, "provider %s is rate limiting requests: "
                          "%.300s", up->provider->id,
                          message ? message : "try again later");
    } else if (up->status == 401 || up->status == 403
               || up->status == 404) {
        /* Not the tenant's key, nor its model (the catalog named one the
         * provider does not serve): the operator's to fix, and an SDK
         * must not blame the tenant. */
        r->upstream_kind = FG_UPSTREAM_5XX;
        const char *what = up->status == 404
                           ? "does not serve the catalog's model id"
                           : "refused the gateway's credentials";

        fg_log(FG_LOG_ERROR, 0, "req=%s provider %s %s (HTTP %ld): %s",
               req->id, up->provider->id, what, up->status, said);
        fg_verdict_refuse(v, FG_RETRY_NONE, FG_E_PROVIDER_ERROR, NULL,
                          "provider %s is unavailable: the provider %s",
                          up->provider->id, what);
    } else if (up->status >= 400 && up->status < 500
               && json_is_object(error) && message != NULL) {
        /* The tenant's request was refused: its own error, scrubbed. */
        fg_log(FG_LOG_INFO, 0, "req=%s provider %s answered %ld", req->id,
               up->provider->id, up->status);
        v->kind = FG_VERDICT_FORWARD;
        v->err.code = FG_E_PROVIDER_ERROR;
        v->status = (int) up->status;
        v->body = body;
        v->body_len = len;
    } else if (up->status >= 400 && up->status < 500) {
        fg_verdict_refuse(v, FG_RETRY_NONE, FG_E_PROVIDER_ERROR, NULL,
                          "provider %s answered HTTP %ld: %.300s",
                          up->provider->id, up->status,
                          message ? message : "no error message");
    } else {
        /* A 5xx (or anything else): its body stays in the log. */
        fg_log(FG_LOG_WARN, 0, "req=%s provider %s answered HTTP %ld: %s",
               req->id, up->provider->id, up->status, said);
        fg_verdict_refuse(v, FG_RETRY_NONE, FG_E_PROVIDER_ERROR, NULL,
                          "provider %s failed to answer: it returned "
                          "HTTP %ld", up->provider->id, up->status);
    }
    json_decref(root);
    return v->kind;
}

fg_verdict_kind_t
fg_relay_end(fg_req_t *req, const fg_attempt_result_t *result,
             const char *error, fg_verdict_t *v)
{
    fg_req_relay_t *r = &req->relay;
    fg_upstream_t  *up = req->attempt.upstream;
    fg_jdoc_t       doc;
    const char     *body;
    size_t          len;
    fg_err_t        parse_err;

    if (r->error != NULL) {
        error = r->error;   /* ours, not libcurl's write error */
    }

    if (r->has_sse) {
        if (error == NULL && !r->saw_done) {
            (void) fg_sse_parser_finish(&r->sse, relay_on_event, req,
                                        &parse_err);
            if (r->error != NULL) {
                error = r->error;
            }
        }
        if (error == NULL && !r->saw_done) {
            error = fg_upstream_err_reset;
        }
        if (error != NULL) {
            /* What was held was generated, and is charged: it goes out
             * before the error. */
            fg_replyfix_flush(req);
            r->upstream_kind = relay_upstream_kind(error);
            fg_log(FG_LOG_WARN, 0, "req=%s stream from %s broke: %s",
                   req->id, up->provider->id, error);
            return relay_stream_error(req, fg_upstream_err_is_timeout(error)
                                           ? FG_E_PROVIDER_TIMEOUT
                                           : FG_E_PROVIDER_ERROR, error, v);
        }
        v->kind = FG_VERDICT_STREAM_END;
        v->err.code = FG_E_NONE;
        return FG_VERDICT_STREAM_END;
    }

    if (error == fg_upstream_err_no_descriptor) {
        /* A shortage here, not the provider's failure: 503, not 502. */
        r->upstream_kind = relay_upstream_kind(error);
        return fg_verdict_refuse(v, 1000, FG_E_SERVICE_UNAVAILABLE, NULL,
                                 "the gateway is short of connections to "
                                 "the provider; retry in a second");
    }
    if (error != NULL) {
        r->upstream_kind = relay_upstream_kind(error);
        fg_log(FG_LOG_WARN, 0, "req=%s provider %s: %s", req->id,
               up->provider->id, error);
        return fg_verdict_refuse(v, FG_RETRY_NONE,
                                 fg_upstream_err_is_timeout(error)
                                 ? FG_E_PROVIDER_TIMEOUT
                                 : FG_E_PROVIDER_ERROR,
                                 NULL, "provider %s: %s", up->provider->id,
                                 error);
    }
    if (up->status < 200 || up->status > 299) {
        return relay_upstream_error(req, result, v);
    }
    if (req->validated.chat.is_stream) {
        r->upstream_kind = FG_UPSTREAM_MALFORMED;
        return fg_verdict_refuse(v, FG_RETRY_NONE, FG_E_PROVIDER_ERROR, NULL,
                                 "provider %s: %s", up->provider->id,
                                 "a stream was asked for but the reply is "
                                 "not text/event-stream");
    }
    len = r->upstream_body ? evbuffer_get_length(r->upstream_body) : 0;
    body = len ? (const char *) evbuffer_pullup(r->upstream_body, -1) : "";
    if (fg_jdoc_parse(&doc, body, len, FG_RELAY_MAX_DEPTH, NULL) == FG_OK
        && fg_jdoc_type(&doc, 0) != FG_JOBJECT) {
        fg_jdoc_free(&doc);
        doc.nodes = NULL;
    }
    if (doc.nodes == NULL) {
        r->upstream_kind = FG_UPSTREAM_MALFORMED;
        fg_log(FG_LOG_WARN, 0, "req=%s provider %s: %s", req->id,
               up->provider->id, fg_upstream_err_malformed);
        return fg_verdict_refuse(v, FG_RETRY_NONE, FG_E_PROVIDER_ERROR, NULL,
                                 "provider %s: %s", up->provider->id,
                                 fg_upstream_err_malformed);
    }
    if (req->attempt.is_native) {
        if (!fg_responses_native_is_response(&doc, 0)) {
            fg_jdoc_free(&doc);
            r->upstream_kind = FG_UPSTREAM_MALFORMED;
            return fg_verdict_refuse(v, FG_RETRY_NONE, FG_E_PROVIDER_ERROR,
                                     NULL, "provider %s: the reply is not a "
                                     "response object", up->provider->id);
        }
        relay_take_native_usage(req, &doc, 0);
        if (!r->has_usage) {
            r->relayed_bytes += (int64_t) fg_responses_native_text_bytes(
                &doc, 0);
        }
        relay_keep_native(req, &doc, 0);
        /* The client's "store", not the false the provider was sent. */
        r->fixed_body = fg_responses_native_store_echo(
            &doc, 0, req->validated.rq.store, &len);
    } else {
        relay_take_usage(req, &doc);
        if (!r->has_usage) {
            relay_count_text(req, &doc, "message");
        }
        if (fg_replyfix_active(req)) {
            r->fixed_body = fg_replyfix_body(req, &doc, &len);
        }
    }
    if (r->fixed_body != NULL) {
        body = r->fixed_body;       /* its length is in len */
    }
    fg_jdoc_free(&doc);
    v->kind = FG_VERDICT_COMPLETE;
    v->err.code = FG_E_NONE;
    v->body = body;
    v->body_len = len;
    return FG_VERDICT_COMPLETE;
}

void
fg_relay_cleanup(fg_req_t *req)
{
    fg_req_relay_t *r = &req->relay;

    if (r->upstream_body != NULL) {
        evbuffer_free(r->upstream_body);
        r->upstream_body = NULL;
    }
    if (r->stream_out != NULL) {
        evbuffer_free(r->stream_out);
        r->stream_out = NULL;
    }
    if (r->has_sse) {
        fg_sse_parser_cleanup(&r->sse);
        r->has_sse = 0;
    }
    free(r->fixed_body);
    r->fixed_body = NULL;
    fg_replyfix_cleanup(req);
    fg_responses_stream_free(r->resp_stream);
    r->resp_stream = NULL;
    free(r->native_output);
    r->native_output = NULL;
}
