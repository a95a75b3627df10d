/*
 * chat.c: POST /v1/chat/completions, the pipeline's front half:
 * (authenticated by http.c) content type → validate → route → model
 * allowed for the key → upstream call. The relay (relay.c) takes the
 * reply from there. Later stages (admit, settle) slot in between the
 * model check and the upstream call: admit (rate limits), then meter (the
 * energy reservation).
 *
 * The upstream body is the client's own bytes, the very bytes the
 * validator parsed and the gateway priced, with at most three edits made
 * in the text (chat_upstream_body): "model" becomes the provider's name
 * for the model, a stream asks for usage, and a lowered max_tokens is
 * written in. Nothing is re-serialised: jansson never sees a request.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/base/alloc.h"
#include "common/wire/jdoc.h"
#include "common/wire/json.h"
#include "common/base/log.h"
#include "worker/admit.h"
#include "worker/auth.h"
#include "worker/conn.h"
#include "worker/http.h"
#include "worker/meter.h"
#include "worker/upstream.h"
#include "worker/worker.h"

/* One change to the client's bytes: @cut bytes at @at become @text. */
typedef struct {
    size_t      at;
    size_t      cut;
    const char *text;
    size_t      len;
} chat_edit_t;

#define CHAT_EDITS_MAX 4
#define CHAT_LIT(s)    s, sizeof(s) - 1

static int chat_content_type_ok(const char *ct);
static char *chat_upstream_body(fg_req_t *req, size_t *out_len);

static int
chat_content_type_ok(const char *ct)
{
    size_t n = strlen("application/json");

    if (ct == NULL || strncasecmp(ct, "application/json", n) != 0) {
        return 0;
    }
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* Adds an edit, keeping the list in order of position (stable). */
static void
chat_edit(chat_edit_t *edits, size_t *n, size_t at, size_t cut,
          const char *text, size_t len)
{
    size_t i = *n;

    while (i > 0 && edits[i - 1].at > at) {
        edits[i] = edits[i - 1];
        i--;
    }
    edits[i].at = at;
    edits[i].cut = cut;
    edits[i].text = text;
    edits[i].len = len;
    (*n)++;
}

/*
 * The body for the upstream: the client's bytes with the model's upstream
 * name, include_usage for a stream that did not ask, and the lowered
 * max_tokens (meter.c), each an edit of a value's span or a member
 * inserted at the start of its object. Returns a malloc'd body.
 */
static char *
chat_upstream_body(fg_req_t *req, size_t *out_len)
{
    const fg_jdoc_t *doc = &req->doc;
    const char      *upstream_id = req->model->upstream_id;
    size_t           id_len = strlen(upstream_id), n = 0, i, len, pos;
    chat_edit_t      edits[CHAT_EDITS_MAX];
    char            *model, *out, number[64], number2[64];
    int              node, so, usage;
    size_t           top = doc->nodes[0].start + 1;

    model = fg_xmalloc(6 * id_len + 2);
    len = fg_json_quote(upstream_id, id_len, model);
    node = req->chat.model;
    chat_edit(edits, &n, doc->nodes[node].start, doc->nodes[node].len,
              model, len);

    if (req->lowered_max_tokens > 0) {
        int mct = fg_jdoc_get(doc, 0, "max_completion_tokens");
        int mt = fg_jdoc_get(doc, 0, "max_tokens");
        int k;

        /* As OpenAI reads them: max_completion_tokens wins, max_tokens is
         * the older name; both say the same after the edit. */
        if (mct != FG_JNONE || mt == FG_JNONE) {
            if (mct != FG_JNONE) {
                k = snprintf(number, sizeof(number), "%lld",
                             (long long) req->lowered_max_tokens);
                chat_edit(edits, &n, doc->nodes[mct].start,
                          doc->nodes[mct].len, number, (size_t) k);
            } else {
                k = snprintf(number, sizeof(number),
                             "\"max_completion_tokens\":%lld,",
                             (long long) req->lowered_max_tokens);
                chat_edit(edits, &n, top, 0, number, (size_t) k);
            }
        }
        if (mt != FG_JNONE) {
            k = snprintf(number2, sizeof(number2), "%lld",
                         (long long) req->lowered_max_tokens);
            chat_edit(edits, &n, doc->nodes[mt].start, doc->nodes[mt].len,
                      number2, (size_t) k);
        }
    }

    if (req->strip_usage) {
        so = fg_jdoc_get(doc, 0, "stream_options");
        if (fg_jdoc_type(doc, so) == FG_JOBJECT) {
            usage = fg_jdoc_get(doc, so, "include_usage");
            if (usage != FG_JNONE) {
                chat_edit(edits, &n, doc->nodes[usage].start,
                          doc->nodes[usage].len, CHAT_LIT("true"));
            } else if (doc->nodes[so].count > 0) {
                chat_edit(edits, &n, doc->nodes[so].start + 1, 0,
                          CHAT_LIT("\"include_usage\":true,"));
            } else {
                chat_edit(edits, &n, doc->nodes[so].start + 1, 0,
                          CHAT_LIT("\"include_usage\":true"));
            }
        } else if (so != FG_JNONE) {
            /* "stream_options": null */
            chat_edit(edits, &n, doc->nodes[so].start, doc->nodes[so].len,
                      CHAT_LIT("{\"include_usage\":true}"));
        } else {
            chat_edit(edits, &n, top, 0,
                      CHAT_LIT("\"stream_options\":"
                               "{\"include_usage\":true},"));
        }
    }

    len = doc->len;
    for (i = 0; i < n; i++) {
        len += edits[i].len - edits[i].cut;
    }
    out = fg_xmalloc(len + 1);
    len = 0;
    pos = 0;
    for (i = 0; i < n; i++) {
        memcpy(out + len, doc->buf + pos, edits[i].at - pos);
        len += edits[i].at - pos;
        memcpy(out + len, edits[i].text, edits[i].len);
        len += edits[i].len;
        pos = edits[i].at + edits[i].cut;
    }
    memcpy(out + len, doc->buf + pos, doc->len - pos);
    len += doc->len - pos;
    out[len] = '\0';
    free(model);
    *out_len = len;
    return out;
}

void
fg_chat_handle(fg_req_t *req)
{
    fg_worker_t     *w = req->worker;
    size_t           len = req->in_body_len, upstream_len;
    const char      *ct, *field;
    fg_err_t         err;
    char            *upstream_body;

    ct = fg_req_header(req, "Content-Type");
    if (len > 0 && !chat_content_type_ok(ct)) {
        fg_req_fail(req, FG_E_UNSUPPORTED_MEDIA_TYPE, NULL,
                    "Content-Type must be application/json, got %.64s",
                    ct ? ct : "none");
        return;
    }
    /* The request keeps its own copy: the document points into it until
     * the request ends (the access log reads the messages from it). */
    req->body = fg_xmalloc(len + 1);
    if (len > 0) {
        memcpy(req->body, req->in_body, len);
    }
    req->body[len] = '\0';
    if (fg_validate_chat_body(req->body, len,
                              (size_t) w->conf->max_json_depth, &req->doc,
                              &req->chat, &err) != FG_OK) {
        fg_req_reply_error(req, &err);
        return;
    }
    req->has_doc = 1;
    req->model_requested = fg_jdoc_str_dup(&req->doc, req->chat.model);
    if (req->model_requested == NULL) {
        fg_req_fail(req, FG_E_INTERNAL, NULL, "out of memory");
        return;
    }

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
        field = fg_jdoc_get(&req->doc, 0, "max_completion_tokens")
                != FG_JNONE ? "max_completion_tokens" : "max_tokens";
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
        fg_req_add_header(req, "Retry-After", "1");
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
    /* Usage is what a stream is charged by: ask for it, and keep its
     * chunk from a client that did not (relay.c). */
    req->strip_usage = req->chat.is_stream && !req->chat.include_usage;

    upstream_body = chat_upstream_body(req, &upstream_len);
    req->upstream = fg_upstream_start(req, req->model->provider,
                                      upstream_body, upstream_len,
                                      req->chat.is_stream, &err);
    if (req->upstream == NULL) {
        fg_log(FG_LOG_ERROR, 0, "req=%s upstream not started: %s", req->id,
               err.msg);
        fg_req_fail(req, FG_E_PROVIDER_ERROR, NULL,
                    "the request could not be sent to the provider");
        return;
    }
    req->state = FG_REQ_UPSTREAM;
}
