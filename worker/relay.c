/*
 * relay.c: from the upstream's reply to the client's.
 *
 * Non-streaming: the body is collected (bounded by
 * upstream.max_body_bytes), checked to be a JSON object, and passed on as
 * the upstream sent it, so the client sees the model the upstream served.
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
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "common/wire/jdoc.h"
#include "common/base/log.h"
#include "worker/conn.h"
#include "worker/footprint.h"
#include "worker/meter.h"
#include "worker/relay.h"
#include "worker/upstream.h"

/*
 * Nesting allowed in an upstream reply: far above any real one. Replies
 * and chunks are parsed as strictly as requests: a repeated key (two
 * "usage" members, say) makes the reply malformed rather than billed by
 * whichever one a parser happens to keep.
 */
#define FG_RELAY_MAX_DEPTH 128

static int relay_on_event(const fg_sse_event_t *ev, void *arg);
static int relay_is_timeout(const char *error);
static int relay_usage_chunk(fg_req_t *req, const fg_jdoc_t *doc);
static size_t relay_client_backlog(fg_req_t *req);
static void relay_stream_error(fg_req_t *req, fg_error_code_t code,
                               const char *msg);
static void relay_reply_upstream_error(fg_req_t *req);
static void relay_stream_end(fg_req_t *req);

static int
relay_is_event_stream(const char *ct)
{
    return strncmp(ct, "text/event-stream", 17) == 0;
}

void
fg_relay_headers(fg_req_t *req)
{
    fg_upstream_t *up = req->upstream;

    if (req->conn == NULL || !req->chat.is_stream || up->status < 200
        || up->status > 299 || !relay_is_event_stream(up->content_type)) {
        return;
    }
    fg_req_add_common_headers(req, "text/event-stream");
    fg_req_add_header(req, "Cache-Control", "no-cache");
    fg_httpconn_stream_start(req->conn, 200, req->headers, req->headers_len);
    req->status = 200;
    req->state = FG_REQ_STREAMING;
    req->stream_out = evbuffer_new();
    fg_sse_parser_init(&req->sse, FG_SSE_MAX_BYTES_DEFAULT);
    req->has_sse = 1;
}

/* The integer at node @i, 0 for anything else (as json_integer_value). */
static long long
relay_int(const fg_jdoc_t *doc, int i)
{
    return fg_jdoc_type(doc, i) == FG_JINT ? doc->nodes[i].num.i : 0;
}

/* Takes the token counts of an OpenAI "usage" object, when there is one. */
static void
relay_take_usage(fg_req_t *req, const fg_jdoc_t *doc)
{
    int usage = fg_jdoc_get(doc, 0, "usage"), details;

    if (fg_jdoc_type(doc, usage) != FG_JOBJECT) {
        return;
    }
    req->has_usage = 1;
    req->prompt_tokens = relay_int(doc, fg_jdoc_get(doc, usage,
                                                    "prompt_tokens"));
    req->completion_tokens = relay_int(doc, fg_jdoc_get(doc, usage,
                                                        "completion_tokens"));
    details = fg_jdoc_get(doc, usage, "prompt_tokens_details");
    req->cached_tokens = relay_int(doc, fg_jdoc_get(doc, details,
                                                    "cached_tokens"));
    details = fg_jdoc_get(doc, usage, "completion_tokens_details");
    req->reasoning_tokens = relay_int(doc, fg_jdoc_get(doc, details,
                                                       "reasoning_tokens"));
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
        p = fg_jdoc_get(doc, choice, part);
        if (fg_jdoc_type(doc, p) != FG_JOBJECT) {
            continue;
        }
        for (f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
            req->relayed_bytes += (int64_t) fg_jdoc_str_len(
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
            req->relayed_bytes += (int64_t) fg_jdoc_str_len(doc, args);
        }
    }
}

/* The kind of an upstream failure, for metrics and logs. */
static fg_upstream_kind_t
relay_upstream_kind(const char *error)
{
    if (error == fg_upstream_err_connect) {
        return FG_UPSTREAM_CONNECT;
    }
    if (relay_is_timeout(error)) {
        return FG_UPSTREAM_TIMEOUT;
    }
    if (error == fg_upstream_err_malformed
        || error == fg_upstream_err_too_large) {
        return FG_UPSTREAM_MALFORMED;
    }
    return FG_UPSTREAM_RESET;
}

/* Queues @len bytes of JSON as one event for the client. */
static void
relay_send_event(fg_req_t *req, const char *json, size_t len)
{
    evbuffer_add(req->stream_out, "data: ", 6);
    evbuffer_add(req->stream_out, json, len);
    evbuffer_add(req->stream_out, "\n\n", 2);
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
    evbuffer_add(req->stream_out, "data: ", 6);
    evbuffer_add(req->stream_out, text, from);
    evbuffer_add(req->stream_out, text + to, doc->len - to);
    evbuffer_add(req->stream_out, "\n\n", 2);
}

static int
relay_on_event(const fg_sse_event_t *ev, void *arg)
{
    fg_req_t  *req = arg;
    fg_jdoc_t  doc;
    int        usage, rc = 0;

    if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
        req->saw_done = 1;
        evbuffer_add(req->stream_out, "data: [DONE]\n\n", 14);
        return 0;
    }
    if (fg_jdoc_parse(&doc, ev->data, ev->data_len, FG_RELAY_MAX_DEPTH,
                      NULL) != FG_OK) {
        req->relay_error = fg_upstream_err_malformed;
        return 1;
    }
    if (fg_jdoc_type(&doc, 0) != FG_JOBJECT) {
        fg_jdoc_free(&doc);
        req->relay_error = fg_upstream_err_malformed;
        return 1;
    }
    relay_count_text(req, &doc, "delta");
    usage = fg_jdoc_get(&doc, 0, "usage");
    if (fg_jdoc_type(&doc, usage) == FG_JOBJECT) {
        rc = relay_usage_chunk(req, &doc);
    } else if (req->strip_usage && usage != FG_JNONE) {
        /* The "usage": null of every chunk, there because we asked for
         * usage: a client that did not ask sees no usage member at all. */
        relay_send_without(req, &doc, usage - 1);
    } else {
        relay_send_event(req, ev->data, ev->data_len);
    }
    fg_jdoc_free(&doc);
    return rc;
}

/*
 * The chunk with the stream's usage: the request is charged now, and the
 * chunk carries the charge (fluxgate_billing) and the environment_impact,
 * spliced into its text. A client that did not ask for usage does not see
 * it: we asked on its behalf (chat.c).
 */
static int
relay_usage_chunk(fg_req_t *req, const fg_jdoc_t *doc)
{
    char    billing[160], *text, *spliced;
    size_t  end, n, billing_len, len;
    int     choices;

    relay_take_usage(req, doc);
    fg_meter_charge(req);
    fg_footprint_compute(req);
    if (req->strip_usage) {
        choices = fg_jdoc_get(doc, 0, "choices");
        if (fg_jdoc_type(doc, choices) != FG_JARRAY
            || doc->nodes[choices].count == 0) {
            return 0;
        }
        relay_send_without(req, doc, fg_jdoc_get(doc, 0, "usage") - 1);
        return 0;
    }
    /* The root object closes at its last byte: splice before it. */
    end = doc->nodes[0].start + doc->nodes[0].len - 1;
    billing_len = fg_meter_json_text(req, billing, sizeof(billing));
    text = fg_xmalloc(doc->len + billing_len + 2);
    memcpy(text, doc->buf, end);
    n = end;
    if (billing_len > 0) {
        text[n++] = ',';
        memcpy(text + n, billing, billing_len);
        n += billing_len;
    }
    memcpy(text + n, doc->buf + end, doc->len - end);
    n += doc->len - end;
    spliced = fg_footprint_splice(req, text, n, &len);
    if (spliced != NULL) {
        relay_send_event(req, spliced, len);
        free(spliced);
    } else {
        relay_send_event(req, text, n);
    }
    free(text);
    return 0;
}

static size_t
relay_client_backlog(fg_req_t *req)
{
    return req->conn != NULL ? fg_httpconn_backlog(req->conn) : 0;
}

int
fg_relay_data(fg_req_t *req, const char *data, size_t len)
{
    fg_err_t err;
    int      rc;

    if (req->is_client_gone || req->conn == NULL) {
        return FG_RELAY_ABORT;
    }
    if (req->state != FG_REQ_STREAMING) {
        if (req->upstream_body == NULL) {
            req->upstream_body = evbuffer_new();
        }
        if (evbuffer_get_length(req->upstream_body) + len
            > (size_t) req->worker->conf->upstream_max_body_bytes) {
            req->relay_error = fg_upstream_err_too_large;
            return FG_RELAY_ABORT;
        }
        evbuffer_add(req->upstream_body, data, len);
        return FG_RELAY_CONTINUE;
    }

    /*
     * Decide before consuming: CURL_WRITEFUNC_PAUSE makes libcurl keep this
     * very buffer and hand it to us again on resume, so a paused call must
     * leave no trace. The overshoot is at most one write of libcurl's.
     */
    if (relay_client_backlog(req)
        > (size_t) req->worker->conf->stream_high_water_bytes) {
        return FG_RELAY_PAUSE;
    }
    rc = fg_sse_parser_feed(&req->sse, data, len, relay_on_event, req, &err);
    if (evbuffer_get_length(req->stream_out) > 0) {
        req->bytes_out += (int64_t) evbuffer_get_length(req->stream_out);
        fg_httpconn_stream_send(req->conn, req->stream_out);
    }
    if (rc != FG_OK) {
        if (req->relay_error == NULL) {
            req->relay_error = fg_upstream_err_malformed;
        }
        return FG_RELAY_ABORT;
    }
    return FG_RELAY_CONTINUE;
}

static void
relay_stream_end(fg_req_t *req)
{
    req->state = FG_REQ_DONE;
    if (req->conn != NULL) {
        fg_httpconn_t *conn = req->conn;

        req->conn = NULL;
        fg_req_account(req);
        fg_httpconn_stream_end(conn);
    }
}

static void
relay_stream_error(fg_req_t *req, fg_error_code_t code, const char *msg)
{
    fg_err_t err;
    char     body[FG_ERROR_BODY_MAX];
    size_t   n;

    fg_err_set(&err, code, NULL, "%s", msg);
    n = fg_error_render(&err, body, sizeof(body));
    evbuffer_add(req->stream_out, "data: ", 6);
    evbuffer_add(req->stream_out, body, n);
    evbuffer_add(req->stream_out, "\n\n", 2);
    req->bytes_out += (int64_t) evbuffer_get_length(req->stream_out);
    fg_httpconn_stream_send(req->conn, req->stream_out);
    req->error = code;
}

static int
relay_is_timeout(const char *error)
{
    return error == fg_upstream_err_connect_timeout
           || error == fg_upstream_err_first_byte_timeout
           || error == fg_upstream_err_idle_timeout
           || error == fg_upstream_err_total_timeout;
}

/* The upstream answered with an error status: map it for the client. */
static void
relay_reply_upstream_error(fg_req_t *req)
{
    fg_upstream_t *up = req->upstream;
    const char    *body = NULL;
    size_t         len = 0;
    json_t        *root = NULL, *error;
    json_error_t   jerr;
    const char    *message = NULL;

    if (req->upstream_body != NULL) {
        len = evbuffer_get_length(req->upstream_body);
        body = (const char *) evbuffer_pullup(req->upstream_body, -1);
        root = json_loadb(body, len, 0, &jerr);
    }
    error = json_object_get(root, "error");
    if (json_is_object(error)) {
        message = json_string_value(json_object_get(error, "message"));
    } else if (json_is_string(error)) {
        message = json_string_value(error);
    }

    req->upstream_kind = up->status == 429 ? FG_UPSTREAM_429
                         : up->status >= 400 && up->status < 500
                           ? FG_UPSTREAM_4XX : FG_UPSTREAM_5XX;
    if (up->status == 429) {
        if (up->retry_after[0] != '\0') {
            fg_req_add_header(req, "Retry-After", up->retry_after);
        }
        fg_req_fail(req, FG_E_PROVIDER_RATE_LIMITED, NULL,
                    "provider %s is rate limiting requests: %.300s",
                    up->provider->id, message ? message : "try again later");
    } else if (up->status >= 400 && up->status < 500
               && json_is_object(error) && message != NULL) {
        /* The tenant's request was refused: its own error, as sent. */
        req->error = FG_E_PROVIDER_ERROR;
        fg_log(FG_LOG_INFO, 0, "req=%s provider %s answered %ld", req->id,
               up->provider->id, up->status);
        fg_req_reply(req, (int) up->status, body, len);
    } else {
        fg_req_fail(req, FG_E_PROVIDER_ERROR, NULL,
                    "provider %s answered HTTP %ld: %.300s",
                    up->provider->id, up->status,
                    message ? message : "no error message");
    }
    json_decref(root);
}

void
fg_relay_done(fg_req_t *req, const char *error)
{
    fg_upstream_t *up = req->upstream;
    fg_jdoc_t      doc;
    const char    *body;
    size_t         len, spliced_len;
    char          *spliced;
    fg_err_t       parse_err;

    if (req->relay_error != NULL) {
        error = req->relay_error;   /* ours, not libcurl's write error */
    }
    if (req->is_client_gone || req->conn == NULL) {
        fg_req_finish_later(req);
        return;
    }

    if (req->state == FG_REQ_STREAMING) {
        if (error == NULL && !req->saw_done) {
            (void) fg_sse_parser_finish(&req->sse, relay_on_event, req,
                                        &parse_err);
            if (req->relay_error != NULL) {
                error = req->relay_error;
            }
        }
        if (error == NULL && !req->saw_done) {
            error = fg_upstream_err_reset;
        }
        if (error != NULL) {
            req->upstream_kind = relay_upstream_kind(error);
            fg_log(FG_LOG_WARN, 0, "req=%s stream from %s broke: %s",
                   req->id, up->provider->id, error);
            relay_stream_error(req, relay_is_timeout(error)
                                    ? FG_E_PROVIDER_TIMEOUT
                                    : FG_E_PROVIDER_ERROR, error);
        } else if (evbuffer_get_length(req->stream_out) > 0) {
            req->bytes_out += (int64_t) evbuffer_get_length(req->stream_out);
            fg_httpconn_stream_send(req->conn, req->stream_out);
        }
        relay_stream_end(req);
        fg_req_finish_later(req);
        return;
    }

    if (error != NULL) {
        req->upstream_kind = relay_upstream_kind(error);
        fg_log(FG_LOG_WARN, 0, "req=%s provider %s: %s", req->id,
               up->provider->id, error);
        fg_req_fail(req, relay_is_timeout(error) ? FG_E_PROVIDER_TIMEOUT
                                                 : FG_E_PROVIDER_ERROR,
                    NULL, "provider %s: %s", up->provider->id, error);
        return;
    }
    if (up->status < 200 || up->status > 299) {
        relay_reply_upstream_error(req);
        return;
    }
    if (req->chat.is_stream) {
        req->upstream_kind = FG_UPSTREAM_MALFORMED;
        fg_req_fail(req, FG_E_PROVIDER_ERROR, NULL,
                    "provider %s: %s", up->provider->id,
                    "a stream was asked for but the reply is not "
                    "text/event-stream");
        return;
    }
    len = req->upstream_body ? evbuffer_get_length(req->upstream_body) : 0;
    body = len ? (const char *) evbuffer_pullup(req->upstream_body, -1) : "";
    if (fg_jdoc_parse(&doc, body, len, FG_RELAY_MAX_DEPTH, NULL) == FG_OK
        && fg_jdoc_type(&doc, 0) != FG_JOBJECT) {
        fg_jdoc_free(&doc);
        doc.nodes = NULL;
    }
    if (doc.nodes == NULL) {
        req->upstream_kind = FG_UPSTREAM_MALFORMED;
        fg_log(FG_LOG_WARN, 0, "req=%s provider %s: %s", req->id,
               up->provider->id, fg_upstream_err_malformed);
        fg_req_fail(req, FG_E_PROVIDER_ERROR, NULL, "provider %s: %s",
                    up->provider->id, fg_upstream_err_malformed);
        return;
    }
    relay_take_usage(req, &doc);
    if (!req->has_usage) {
        relay_count_text(req, &doc, "message");
    }
    fg_jdoc_free(&doc);
    fg_meter_charge(req);
    fg_meter_headers(req);
    fg_footprint_compute(req);
    spliced = fg_footprint_splice(req, body, len, &spliced_len);
    if (spliced != NULL) {
        fg_req_reply(req, 200, spliced, spliced_len);
        free(spliced);
        return;
    }
    fg_req_reply(req, 200, body, len);
}

void
fg_relay_cleanup(fg_req_t *req)
{
    if (req->upstream_body != NULL) {
        evbuffer_free(req->upstream_body);
        req->upstream_body = NULL;
    }
    if (req->stream_out != NULL) {
        evbuffer_free(req->stream_out);
        req->stream_out = NULL;
    }
    if (req->has_sse) {
        fg_sse_parser_cleanup(&req->sse);
        req->has_sse = 0;
    }
}
