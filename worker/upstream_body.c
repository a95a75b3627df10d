/*
 * upstream_body.c: the client's body with the gateway's edits.
 *
 * Each edit replaces a value's span or inserts a member at the start of
 * its object; edits are kept in order of position and applied in one
 * copy. The token field's span comes from validation (fg_chat_request_t),
 * so no lookup is repeated here: as OpenAI reads them,
 * max_completion_tokens wins and max_tokens is the older name; every one
 * the client sent says the lowered value after the edit.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "common/wire/json.h"
#include "worker/upstream_body.h"

/* One change to the client's bytes: @cut bytes at @at become @text. */
typedef struct {
    size_t      at;
    size_t      cut;
    const char *text;
    size_t      len;
} upstream_body_edit_t;

#define UPSTREAM_BODY_EDITS_MAX (4 + FG_ROUTEREQ_FIELDS)   /* a cut per run */
#define UPSTREAM_BODY_LIT(s)    s, sizeof(s) - 1

/* Adds an edit, keeping the list in order of position (stable). */
static void
upstream_body_edit(upstream_body_edit_t *edits, size_t *n, size_t at,
                   size_t cut, const char *text, size_t len)
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

/* stream_options.include_usage: true, however the client left it. */
static void
upstream_body_ask_usage(const fg_jdoc_t *doc, upstream_body_edit_t *edits,
                        size_t *n)
{
    size_t top = doc->nodes[0].start + 1;
    int    so, usage;

    so = fg_jdoc_get(doc, 0, "stream_options");
    if (fg_jdoc_type(doc, so) == FG_JOBJECT) {
        usage = fg_jdoc_get(doc, so, "include_usage");
        if (usage != FG_JNONE) {
            upstream_body_edit(edits, n, doc->nodes[usage].start,
                               doc->nodes[usage].len,
                               UPSTREAM_BODY_LIT("true"));
        } else if (doc->nodes[so].count > 0) {
            upstream_body_edit(edits, n, doc->nodes[so].start + 1, 0,
                               UPSTREAM_BODY_LIT("\"include_usage\":true,"));
        } else {
            upstream_body_edit(edits, n, doc->nodes[so].start + 1, 0,
                               UPSTREAM_BODY_LIT("\"include_usage\":true"));
        }
    } else if (so != FG_JNONE) {
        /* "stream_options": null */
        upstream_body_edit(edits, n, doc->nodes[so].start,
                           doc->nodes[so].len,
                           UPSTREAM_BODY_LIT("{\"include_usage\":true}"));
    } else {
        upstream_body_edit(edits, n, top, 0,
                           UPSTREAM_BODY_LIT("\"stream_options\":"
                                             "{\"include_usage\":true},"));
    }
}

/* 1 when top-level key @k is one of the routing fields in @rr. */
static int
upstream_body_is_routing(const fg_routereq_t *rr, int k)
{
    int i;

    for (i = 0; i < FG_ROUTEREQ_FIELDS; i++) {
        if (rr->member[i] == k + 1) {
            return 1;
        }
    }
    return 0;
}

/*
 * Cuts the gateway's routing fields: they never reach the provider. Runs
 * of them are cut whole with one comma: a run followed by a kept member
 * from its first key to that member's key; a run at the end from the
 * kept member before it (its value's end) to the run's end. The request
 * keeps "model" and "messages", so a run always has a kept neighbour.
 */
static void
upstream_body_cut_routing(const fg_jdoc_t *doc, const fg_routereq_t *rr,
                          upstream_body_edit_t *edits, size_t *n)
{
    int    k;
    size_t kept_end = 0, run_from = 0;
    int    in_run = 0;

    for (k = fg_jdoc_first(doc, 0); k != FG_JNONE;
         k = fg_jdoc_next(doc, 0, k)) {
        if (upstream_body_is_routing(rr, k)) {
            if (!in_run) {
                in_run = 1;
                run_from = doc->nodes[k].start;
            }
            continue;
        }
        if (in_run) {
            upstream_body_edit(edits, n, run_from,
                               doc->nodes[k].start - run_from, "", 0);
            in_run = 0;
        }
        kept_end = doc->nodes[k + 1].start + doc->nodes[k + 1].len;
    }
    if (in_run && kept_end > 0) {
        /* The object's closing brace ends the run. */
        size_t close = doc->nodes[0].start + doc->nodes[0].len - 1;

        upstream_body_edit(edits, n, kept_end, close - kept_end, "", 0);
    }
}

char *
fg_upstream_body(const fg_jdoc_t *doc, const fg_chat_request_t *chat,
                 const char *upstream_model, int64_t lowered_max_tokens,
                 int ask_usage, size_t *out_len)
{
    size_t               id_len = strlen(upstream_model), n = 0, i, len, pos;
    upstream_body_edit_t edits[UPSTREAM_BODY_EDITS_MAX];
    const fg_span_t     *span;
    char                *model, *out, number[48], member[80];
    size_t               number_len = 0;
    int                  k;

    model = fg_xmalloc(6 * id_len + 2);
    len = fg_json_quote(upstream_model, id_len, model);
    upstream_body_edit(edits, &n, doc->nodes[chat->model].start,
                       doc->nodes[chat->model].len, model, len);

    if (lowered_max_tokens > 0) {
        k = snprintf(number, sizeof(number), "%lld",
                     (long long) lowered_max_tokens);
        number_len = (size_t) k;
        if (chat->tokens_field == FG_TOKENS_FIELD_NONE) {
            k = snprintf(member, sizeof(member),
                         "\"max_completion_tokens\":%s,", number);
            upstream_body_edit(edits, &n, doc->nodes[0].start + 1, 0,
                               member, (size_t) k);
        }
        span = &chat->max_completion_tokens_span;
        if (span->len > 0) {
            upstream_body_edit(edits, &n, span->at, span->len, number,
                               number_len);
        }
        span = &chat->max_tokens_span;
        if (span->len > 0) {
            upstream_body_edit(edits, &n, span->at, span->len, number,
                               number_len);
        }
    }
    if (ask_usage) {
        upstream_body_ask_usage(doc, edits, &n);
    }
    for (k = 0; k < FG_ROUTEREQ_FIELDS; k++) {
        if (chat->route.member[k] != FG_JNONE) {
            upstream_body_cut_routing(doc, &chat->route, edits, &n);
            break;
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
