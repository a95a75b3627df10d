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
 * resumed when evhttp reports the output drained, so a slow reader costs
 * bounded memory. A stream that breaks after it started cannot change its
 * status any more: it ends with an OpenAI-format error event and no
 * [DONE], which the official SDKs raise as an APIError.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>

#include "common/log.h"
#include "worker/conn.h"
#include "worker/footprint.h"
#include "worker/meter.h"
#include "worker/relay.h"
#include "worker/upstream.h"

static int relay_on_event(const fg_sse_event_t *ev, void *arg);
static int relay_is_timeout(const char *error);
static int relay_usage_chunk(fg_req_t *req, json_t *chunk);
static int relay_send_chunk(fg_req_t *req, json_t *chunk);
static void relay_drained(struct evhttp_connection *evcon, void *arg);
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

    if (req->http == NULL || !req->chat.is_stream || up->status < 200
        || up->status > 299 || !relay_is_event_stream(up->content_type)) {
        return;
    }
    fg_req_add_common_headers(req, "text/event-stream");
    evhttp_add_header(evhttp_request_get_output_headers(req->http),
                      "Cache-Control", "no-cache");
    evhttp_send_reply_start(req->http, 200, "OK");
    req->status = 200;
    req->state = FG_REQ_STREAMING;
    req->stream_out = evbuffer_new();
    fg_sse_parser_init(&req->sse, FG_SSE_MAX_BYTES_DEFAULT);
    req->has_sse = 1;
}

/* Takes the token counts of an OpenAI "usage" object, when there is one. */
static void
relay_take_usage(fg_req_t *req, json_t *root)
{
    json_t *usage = json_object_get(root, "usage"), *details;

    if (!json_is_object(usage)) {
        return;
    }
    req->has_usage = 1;
    req->prompt_tokens = json_integer_value(
                             json_object_get(usage, "prompt_tokens"));
    req->completion_tokens = json_integer_value(
                                 json_object_get(usage, "completion_tokens"));
    details = json_object_get(usage, "prompt_tokens_details");
    req->cached_tokens = json_integer_value(
                             json_object_get(details, "cached_tokens"));
    details = json_object_get(usage, "completion_tokens_details");
    req->reasoning_tokens = json_integer_value(
                                json_object_get(details, "reasoning_tokens"));
}

/* Adds the length of the text in @choices (each choice's @part: "delta"
 * in a stream, "message" in a reply) to what was relayed: the estimate of
 * a completion the upstream did not count. */
static void
relay_count_text(fg_req_t *req, json_t *choices, const char *part)
{
    static const char *const fields[] = { "content", "reasoning_content",
                                          "reasoning" };
    size_t                   i, f;
    json_t                  *choice;

    json_array_foreach(choices, i, choice) {
        json_t *p = json_object_get(choice, part), *call;
        size_t  c;

        for (f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
            json_t *text = json_object_get(p, fields[f]);

            if (json_is_string(text)) {
                req->relayed_bytes += (int64_t) json_string_length(text);
            }
        }
        /* Tool calls are generated text too: their arguments. */
        json_array_foreach(json_object_get(p, "tool_calls"), c, call) {
            json_t *args = json_object_get(json_object_get(call, "function"),
                                           "arguments");

            if (json_is_string(args)) {
                req->relayed_bytes += (int64_t) json_string_length(args);
            }
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

static int
relay_on_event(const fg_sse_event_t *ev, void *arg)
{
    fg_req_t    *req = arg;
    json_t      *chunk;
    json_error_t jerr;

    if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
        req->saw_done = 1;
        evbuffer_add(req->stream_out, "data: [DONE]\n\n", 14);
        return 0;
    }
    chunk = json_loadb(ev->data, ev->data_len, 0, &jerr);
    if (!json_is_object(chunk)) {
        json_decref(chunk);
        req->relay_error = fg_upstream_err_malformed;
        return 1;
    }
    relay_count_text(req, json_object_get(chunk, "choices"), "delta");
    if (json_is_object(json_object_get(chunk, "usage"))) {
        return relay_usage_chunk(req, chunk);
    }
    if (req->strip_usage && json_is_null(json_object_get(chunk, "usage"))) {
        /* The "usage": null of every chunk, there because we asked for
         * usage: a client that did not ask sees no usage member at all. */
        json_object_del(chunk, "usage");
        return relay_send_chunk(req, chunk);
    }
    json_decref(chunk);
    evbuffer_add(req->stream_out, "data: ", 6);
    evbuffer_add(req->stream_out, ev->data, ev->data_len);
    evbuffer_add(req->stream_out, "\n\n", 2);
    return 0;
}

/*
 * The chunk with the stream's usage: the request is charged now, and the
 * chunk carries the charge (fluxgate_billing). A client that did not ask
 * for usage does not see it: we asked on its behalf (chat.c).
 */
static int
relay_usage_chunk(fg_req_t *req, json_t *chunk)
{
    json_t *billing;
    char   *text, *spliced;
    size_t  len;

    relay_take_usage(req, chunk);
    fg_meter_charge(req);
    fg_footprint_compute(req);
    if (req->strip_usage) {
        if (json_array_size(json_object_get(chunk, "choices")) == 0) {
            json_decref(chunk);
            return 0;
        }
        json_object_del(chunk, "usage");
        return relay_send_chunk(req, chunk);
    }
    if ((billing = fg_meter_json(req)) != NULL) {
        json_object_set_new(chunk, "fluxgate_billing", billing);
    }
    text = json_dumps(chunk, JSON_COMPACT);
    json_decref(chunk);
    if (text == NULL) {
        req->relay_error = fg_upstream_err_malformed;
        return 1;
    }
    /* Spliced as text, with the impact's own precision. */
    spliced = fg_footprint_splice(req, text, strlen(text), &len);
    evbuffer_add(req->stream_out, "data: ", 6);
    if (spliced != NULL) {
        evbuffer_add(req->stream_out, spliced, len);
        free(spliced);
    } else {
        evbuffer_add(req->stream_out, text, strlen(text));
    }
    evbuffer_add(req->stream_out, "\n\n", 2);
    free(text);
    return 0;
}

/* Queues @chunk (its reference is taken) as one event for the client. */
static int
relay_send_chunk(fg_req_t *req, json_t *chunk)
{
    char *text = json_dumps(chunk, JSON_COMPACT);

    json_decref(chunk);
    if (text == NULL) {
        req->relay_error = fg_upstream_err_malformed;
        return 1;
    }
    evbuffer_add(req->stream_out, "data: ", 6);
    evbuffer_add(req->stream_out, text, strlen(text));
    evbuffer_add(req->stream_out, "\n\n", 2);
    free(text);
    return 0;
}

static size_t
relay_client_backlog(fg_req_t *req)
{
    struct evhttp_connection *evcon;

    evcon = evhttp_request_get_connection(req->http);
    if (evcon == NULL) {
        return 0;
    }
    return evbuffer_get_length(
        bufferevent_get_output(evhttp_connection_get_bufferevent(evcon)));
}

static void
relay_drained(struct evhttp_connection *evcon, void *arg)
{
    fg_req_t *req = arg;

    (void) evcon;
    if (req->upstream != NULL && req->upstream->is_paused) {
        fg_upstream_pause(req->upstream, 0);
    }
}

int
fg_relay_data(fg_req_t *req, const char *data, size_t len)
{
    fg_err_t err;
    int      rc;

    if (req->is_client_gone || req->http == NULL) {
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
        evhttp_send_reply_chunk_with_cb(req->http, req->stream_out,
                                        relay_drained, req);
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
    if (req->conn != NULL) {
        fg_conn_request_done(req->conn);
        req->conn = NULL;
    }
    evhttp_send_reply_end(req->http);
    req->http = NULL;
    req->state = FG_REQ_DONE;
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
    evhttp_send_reply_chunk(req->http, req->stream_out);
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
            evhttp_add_header(evhttp_request_get_output_headers(req->http),
                              "Retry-After", up->retry_after);
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
    json_t        *root;
    json_error_t   jerr;
    const char    *body;
    size_t         len, spliced_len;
    char          *spliced;
    fg_err_t       parse_err;

    if (req->relay_error != NULL) {
        error = req->relay_error;   /* ours, not libcurl's write error */
    }
    if (req->is_client_gone || req->http == NULL) {
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
            evhttp_send_reply_chunk(req->http, req->stream_out);
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
    root = json_loadb(body, len, 0, &jerr);
    if (!json_is_object(root)) {
        json_decref(root);
        req->upstream_kind = FG_UPSTREAM_MALFORMED;
        fg_log(FG_LOG_WARN, 0, "req=%s provider %s: %s", req->id,
               up->provider->id, fg_upstream_err_malformed);
        fg_req_fail(req, FG_E_PROVIDER_ERROR, NULL, "provider %s: %s",
                    up->provider->id, fg_upstream_err_malformed);
        return;
    }
    relay_take_usage(req, root);
    if (!req->has_usage) {
        relay_count_text(req, json_object_get(root, "choices"), "message");
    }
    json_decref(root);
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
