/*
 * chat.c: POST /v1/chat/completions, the pipeline's front half:
 * (authenticated by http.c) content type → validate → route → model
 * allowed for the key → upstream call. The relay (relay.c) takes the
 * reply from there. Later stages (admit, settle) slot in between the
 * model check and the upstream call: admit (rate limits), then meter (the
 * energy reservation).
 *
 * The upstream body is always re-serialised from the validated object,
 * with "model" replaced by the provider's own name for the model, so the
 * upstream sees exactly the values the gateway checked (and will price).
 */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/log.h"
#include "worker/admit.h"
#include "worker/auth.h"
#include "worker/conn.h"
#include "worker/http.h"
#include "worker/meter.h"
#include "worker/upstream.h"
#include "worker/worker.h"

static int chat_content_type_ok(const char *ct);

static int
chat_content_type_ok(const char *ct)
{
    size_t n = strlen("application/json");

    if (ct == NULL || strncasecmp(ct, "application/json", n) != 0) {
        return 0;
    }
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

void
fg_chat_handle(fg_req_t *req)
{
    fg_worker_t     *w = req->worker;
    struct evbuffer *input = evhttp_request_get_input_buffer(req->http);
    size_t           len = evbuffer_get_length(input);
    const char      *ct, *field;
    fg_err_t         err;
    char            *upstream_body;

    ct = evhttp_find_header(evhttp_request_get_input_headers(req->http),
                            "Content-Type");
    if (len > 0 && !chat_content_type_ok(ct)) {
        fg_req_fail(req, FG_E_UNSUPPORTED_MEDIA_TYPE, NULL,
                    "Content-Type must be application/json, got %.64s",
                    ct ? ct : "none");
        return;
    }
    req->body = fg_validate_chat_body((const char *) evbuffer_pullup(input,
                                                                     -1),
                                      len, (size_t) w->conf->max_json_depth,
                                      &req->chat, &err);
    if (req->body == NULL) {
        fg_req_reply_error(req, &err);
        return;
    }
    req->model_requested = fg_xstrdup(req->chat.model);

    req->model = fg_catalog_route(w->catalog, req->model_requested);
    if (req->model == NULL) {
        fg_req_fail(req, FG_E_MODEL_NOT_FOUND, "model",
                    "The model '%.128s' does not exist",
                    req->model_requested);
        return;
    }
    if (fg_auth_model(req, req->model) != FG_OK) {
        return;
    }
    if (req->chat.max_tokens > req->model->max_output_tokens) {
        field = json_object_get(req->body, "max_completion_tokens")
                ? "max_completion_tokens" : "max_tokens";
        fg_req_fail(req, FG_E_OUT_OF_RANGE, field,
                    "%s is %lld, above the %lld output tokens %s allows",
                    field, req->chat.max_tokens,
                    (long long) req->model->max_output_tokens,
                    req->model->id);
        return;
    }

    req->prompt_estimate = req->bytes_in / FG_BYTES_PER_TOKEN;
    req->max_output = req->chat.max_tokens > 0 ? req->chat.max_tokens
                                               : req->model->max_output_tokens;
    req->choices = req->chat.n > 0 ? req->chat.n : 1;

    if (fg_worker_usage_full(w)
        || atomic_load_explicit(&w->wc->shm->header->sh_usage_failed,
                                memory_order_relaxed)) {
        /* Back-pressure: a billable request must be able to leave its
         * usage record; none is ever dropped, so none is taken. */
        evhttp_add_header(evhttp_request_get_output_headers(req->http),
                          "Retry-After", "1");
        fg_req_fail(req, FG_E_BILLING_UNAVAILABLE, NULL,
                    "usage records cannot be written right now; retry in a "
                    "second");
        return;
    }
    if (fg_admit_request(req) != FG_OK) {
        return;
    }
    if (fg_meter_reserve(req) != FG_OK) {
        fg_admit_cancel(req);   /* refused for its balance: no quota used */
        return;
    }
    if (req->chat.is_stream && !req->chat.include_usage) {
        /* Usage is what a stream is charged by: ask for it, and keep its
         * chunk from a client that did not (relay.c). */
        json_t *opts = json_object_get(req->body, "stream_options");

        if (!json_is_object(opts)) {
            opts = json_object();
            json_object_set_new(req->body, "stream_options", opts);
        }
        json_object_set_new(opts, "include_usage", json_true());
        req->strip_usage = 1;
    }

    /* From here req->chat.model dangles: it pointed into the old value. */
    json_object_set_new(req->body, "model",
                        json_string(req->model->upstream_id));
    req->chat.model = NULL;
    upstream_body = json_dumps(req->body, JSON_COMPACT);
    if (upstream_body == NULL) {
        fg_req_fail(req, FG_E_INTERNAL, NULL, "could not serialise the "
                    "request");
        return;
    }
    req->upstream = fg_upstream_start(req, req->model->provider,
                                      upstream_body, strlen(upstream_body),
                                      req->chat.is_stream, &err);
    if (req->upstream == NULL) {
        fg_log(FG_LOG_ERROR, 0, "req=%s upstream not started: %s", req->id,
               err.msg);
        fg_req_fail(req, FG_E_PROVIDER_ERROR, NULL,
                    "the request could not be sent to the provider");
        return;
    }
    req->state = FG_REQ_UPSTREAM;
    if (req->conn != NULL) {
        fg_conn_watch_close(req->conn);
    }
}
