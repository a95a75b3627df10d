/*
 * responses_native.c: a Responses request passed to a provider that
 * speaks Responses, and the counts read from its reply
 * (responses_native.h).
 *
 * The body is the client's text with span edits (common/wire/jedit): the
 * members the gateway rewrites or owns are cut, and their new values are
 * written as the object's first members, so nothing is re-serialised.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "common/wire/jedit.h"
#include "common/wire/json.h"
#include "worker/meter.h"
#include "worker/responses_native.h"

/* Cut from the client's body: rewritten below, the gateway's own, or
 * "seed", which the gateway takes for chat translation and the Responses
 * API does not have. */
static const char *const native_cut[] = {
    "model", "input", "previous_response_id", "store", "seed",
    "models", "fallbacks", "route", "provider", "preset", "filters",
    "transforms", "plugins",
};

typedef struct {
    int lowered;            /* max_output_tokens is rewritten too */
    int kept;               /* members that stay */
} native_cut_t;

static int
native_drop(const fg_jdoc_t *doc, int key, void *arg)
{
    native_cut_t *c = arg;
    size_t        i;

    for (i = 0; i < sizeof(native_cut) / sizeof(native_cut[0]); i++) {
        if (fg_jdoc_str_eq(doc, key, native_cut[i])) {
            return 1;
        }
    }
    if (c->lowered && fg_jdoc_str_eq(doc, key, "max_output_tokens")) {
        return 1;
    }
    c->kept++;
    return 0;
}

char *
fg_responses_native_body(const fg_jdoc_t *doc, const char *upstream_id,
                         size_t id_len, const char *context,
                         size_t context_len, int64_t lowered,
                         size_t *out_len)
{
    fg_jedits_t  edits = FG_JEDITS_INIT;
    native_cut_t cut = { .lowered = lowered > 0, .kept = 0 };
    char         number[48], *head, *out, *id;
    size_t       n, at = doc->nodes[0].start + 1;

    (void) fg_jedits_cut_members(&edits, doc, 0, native_drop, &cut);
    number[0] = '\0';
    if (lowered > 0) {
        snprintf(number, sizeof(number), ",\"max_output_tokens\":%lld",
                 (long long) lowered);
    }
    id = fg_xmalloc(6 * id_len + 3);
    id_len = fg_json_quote(upstream_id, id_len, id);
    n = id_len + context_len + strlen(number) + 64;
    head = fg_xmalloc(n);
    n = (size_t) snprintf(head, n, "\"model\":%.*s,\"input\":[%.*s],"
                          "\"store\":false%s%s", (int) id_len, id,
                          (int) context_len, context, number,
                          cut.kept > 0 ? "," : "");
    free(id);
    fg_jedits_add_owned(&edits, at, 0, head, n);
    out = fg_jedits_dup(&edits, doc->buf, doc->len, out_len);
    fg_jedits_free(&edits);
    return out;
}

char *
fg_responses_native_store_echo(const fg_jdoc_t *doc, int response, int store,
                               size_t *out_len)
{
    fg_jedits_t edits = FG_JEDITS_INIT;
    int         v = fg_jdoc_get(doc, response, "store");
    fg_jtype_t  want = store ? FG_JTRUE : FG_JFALSE;
    char       *out;

    if ((fg_jdoc_type(doc, v) != FG_JTRUE && fg_jdoc_type(doc, v) != FG_JFALSE)
        || fg_jdoc_type(doc, v) == want) {
        return NULL;
    }
    fg_jedits_add(&edits, doc->nodes[v].start, doc->nodes[v].len,
                  store ? "true" : "false", store ? 4 : 5);
    out = fg_jedits_dup(&edits, doc->buf, doc->len, out_len);
    fg_jedits_free(&edits);
    return out;
}

int
fg_responses_native_usage(const fg_jdoc_t *doc, int response,
                          fg_responses_usage_t *out)
{
    int usage = fg_jdoc_get(doc, response, "usage");

    memset(out, 0, sizeof(*out));
    if (fg_jdoc_type(doc, usage) != FG_JOBJECT) {
        return 0;
    }
    out->input_tokens = fg_meter_usage_count(
        doc, fg_jdoc_get(doc, usage, "input_tokens"));
    out->output_tokens = fg_meter_usage_count(
        doc, fg_jdoc_get(doc, usage, "output_tokens"));
    out->cached_tokens = fg_meter_usage_count(doc, fg_jdoc_get(
        doc, fg_jdoc_get(doc, usage, "input_tokens_details"),
        "cached_tokens"));
    out->reasoning_tokens = fg_meter_usage_count(doc, fg_jdoc_get(
        doc, fg_jdoc_get(doc, usage, "output_tokens_details"),
        "reasoning_tokens"));
    return 1;
}

int
fg_responses_native_is_response(const fg_jdoc_t *doc, int response)
{
    return fg_jdoc_type(doc, response) == FG_JOBJECT
           && fg_jdoc_type(doc, fg_jdoc_get(doc, response, "output"))
              == FG_JARRAY;
}

/* Bytes of the "text" strings of the parts in array @parts. */
static size_t
native_parts_bytes(const fg_jdoc_t *doc, int parts)
{
    size_t n = 0;
    int    p;

    if (fg_jdoc_type(doc, parts) != FG_JARRAY) {
        return 0;
    }
    for (p = fg_jdoc_first(doc, parts); p != FG_JNONE;
         p = fg_jdoc_next(doc, parts, p)) {
        n += fg_jdoc_str_len(doc, fg_jdoc_get(doc, p, "text"));
        n += fg_jdoc_str_len(doc, fg_jdoc_get(doc, p, "refusal"));
    }
    return n;
}

size_t
fg_responses_native_text_bytes(const fg_jdoc_t *doc, int response)
{
    int    output = fg_jdoc_get(doc, response, "output"), item;
    size_t n = 0;

    if (fg_jdoc_type(doc, output) != FG_JARRAY) {
        return 0;
    }
    for (item = fg_jdoc_first(doc, output); item != FG_JNONE;
         item = fg_jdoc_next(doc, output, item)) {
        n += native_parts_bytes(doc, fg_jdoc_get(doc, item, "content"));
        n += native_parts_bytes(doc, fg_jdoc_get(doc, item, "summary"));
        n += fg_jdoc_str_len(doc, fg_jdoc_get(doc, item, "arguments"));
    }
    return n;
}
