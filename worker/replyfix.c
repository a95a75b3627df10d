/*
 * replyfix.c: the gateway's changes to a provider's reply: repaired JSON,
 * a healed stream, reasoning cut when excluded (replyfix.h).
 *
 * Everything is a span edit of the provider's own text (jedit.h): a
 * repaired string replaces the string, a cut member goes with its comma,
 * and the rest of the reply passes byte for byte.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <sodium.h>

#include "common/base/alloc.h"
#include "common/wire/json.h"
#include "common/wire/jsonrepair.h"
#include "worker/replyfix.h"
#include "worker/worker.h"

/* Nesting a repaired value may have: the relay's own bound. */
#define REPLYFIX_MAX_DEPTH 128

/* One choice's content held back in a healed stream. */
typedef struct {
    char   *p;
    size_t  len;
    size_t  cap;
    int     is_sent;            /* flushed at its finish: later content
                                   passes through */
} replyfix_text_t;

struct fg_replyfix_heal_s {
    replyfix_text_t *choice;    /* n of them, by choice index */
    size_t           n;
    size_t           held;      /* bytes held, all choices */
    size_t           max_held;  /* upstream.max_body_bytes */
    char            *head;      /* the first chunk's "id", "object",
                                   "created", "model" members, raw */
    size_t           head_len;
    int              is_off;    /* past max_held: passing through */
};

static const char *const replyfix_reasoning[] = {
    "reasoning_content", "reasoning", "reasoning_details"
};

static int
replyfix_heals(const fg_req_t *req)
{
    const fg_transformreq_t *xf = &req->validated.chat.xf;

    return req->validated.chat.is_stream && xf->heal == 1 && xf->json_mode;
}

int
fg_replyfix_active(const fg_req_t *req)
{
    const fg_transformreq_t *xf = &req->validated.chat.xf;

    if (req->validated.api == FG_USAGE_API_EMBEDDINGS) {
        return req->validated.chat.wants_base64;
    }
    if (req->validated.chat.is_stream) {
        return xf->reasoning_exclude || replyfix_heals(req);
    }
    return xf->heal != 0 || xf->reasoning_exclude;
}

static int
replyfix_is_reasoning(const fg_jdoc_t *doc, int key, void *arg)
{
    size_t i;

    (void) arg;
    for (i = 0; i < sizeof(replyfix_reasoning) / sizeof(*replyfix_reasoning);
         i++) {
        if (fg_jdoc_str_eq(doc, key, replyfix_reasoning[i])) {
            return 1;
        }
    }
    return 0;
}

/*
 * Repairs string node @s when its text is meant to be JSON and is not:
 * the repaired text replaces it, quoted. 1 when it was repaired.
 */
static int
replyfix_repair_string(const fg_jdoc_t *doc, int s, fg_jedits_t *edits)
{
    char   *text, *fixed, *quoted;
    size_t  len, fixed_len, quoted_len;
    unsigned what;
    int     rc;

    if (fg_jdoc_type(doc, s) != FG_JSTRING) {
        return 0;
    }
    len = fg_jdoc_str_len(doc, s);
    text = fg_jdoc_str_dup(doc, s);
    rc = fg_json_repair(text, len, REPLYFIX_MAX_DEPTH, &fixed, &fixed_len,
                        &what);
    free(text);
    if (rc != FG_JSONREPAIR_REPAIRED) {
        return 0;
    }
    quoted = fg_xmalloc(6 * fixed_len + 2);
    quoted_len = fg_json_quote(fixed, fixed_len, quoted);
    free(fixed);
    fg_jedits_add_owned(edits, doc->nodes[s].start, doc->nodes[s].len,
                        quoted, quoted_len);
    return 1;
}

/* Repairs the arguments of every tool call in @calls. */
static int
replyfix_repair_calls(const fg_jdoc_t *doc, int calls, fg_jedits_t *edits)
{
    int call, n = 0;

    if (fg_jdoc_type(doc, calls) != FG_JARRAY) {
        return 0;
    }
    for (call = fg_jdoc_first(doc, calls); call != FG_JNONE;
         call = fg_jdoc_next(doc, calls, call)) {
        n += replyfix_repair_string(doc, fg_jdoc_get(doc,
                                        fg_jdoc_get(doc, call, "function"),
                                        "arguments"), edits);
    }
    return n;
}

/*
 * An embedding given as an array of numbers, written as OpenAI's base64:
 * the little-endian float32 of each number, base64-encoded. 0 when @arr
 * is not an array of numbers (left as it came).
 */
static int
replyfix_base64_vector(const fg_jdoc_t *doc, int arr, fg_jedits_t *edits)
{
    size_t         n = doc->nodes[arr].count, i = 0, k, b64;
    unsigned char *raw;
    char          *text;
    int            e;

    if (fg_jdoc_type(doc, arr) != FG_JARRAY) {
        return 0;
    }
    raw = fg_xmalloc(4 * n + 1);
    for (e = fg_jdoc_first(doc, arr); e != FG_JNONE;
         e = fg_jdoc_next(doc, arr, e), i++) {
        float    f;
        uint32_t bits;

        if (fg_jdoc_type(doc, e) == FG_JREAL) {
            f = (float) doc->nodes[e].num.d;
        } else if (fg_jdoc_type(doc, e) == FG_JINT) {
            f = (float) doc->nodes[e].num.i;
        } else {
            free(raw);
            return 0;
        }
        memcpy(&bits, &f, 4);
        for (k = 0; k < 4; k++) {
            raw[4 * i + k] = (unsigned char) (bits >> (8 * k));
        }
    }
    b64 = sodium_base64_ENCODED_LEN(4 * n, sodium_base64_VARIANT_ORIGINAL);
    text = fg_xmalloc(b64 + 2);
    text[0] = '"';
    sodium_bin2base64(text + 1, b64, raw, 4 * n,
                      sodium_base64_VARIANT_ORIGINAL);
    k = 1 + strlen(text + 1);
    text[k++] = '"';
    free(raw);
    fg_jedits_add_owned(edits, doc->nodes[arr].start, doc->nodes[arr].len,
                        text, k);
    return 1;
}

/* The embeddings of @doc ("data": [{"embedding": ...}]) as base64, where
 * the provider sent numbers to a client that asked for base64. */
static void
replyfix_embeddings(const fg_jdoc_t *doc, fg_jedits_t *edits)
{
    int data = fg_jdoc_get(doc, 0, "data"), item;

    if (fg_jdoc_type(doc, data) != FG_JARRAY) {
        return;
    }
    for (item = fg_jdoc_first(doc, data); item != FG_JNONE;
         item = fg_jdoc_next(doc, data, item)) {
        (void) replyfix_base64_vector(doc, fg_jdoc_get(doc, item,
                                                       "embedding"), edits);
    }
}

char *
fg_replyfix_body(fg_req_t *req, const fg_jdoc_t *doc, size_t *out_len)
{
    const fg_transformreq_t *xf = &req->validated.chat.xf;
    fg_jedits_t              edits = FG_JEDITS_INIT;
    int                      choices, choice, msg, repaired = 0;
    char                    *out = NULL;

    if (req->validated.api == FG_USAGE_API_EMBEDDINGS) {
        replyfix_embeddings(doc, &edits);
    }
    choices = fg_jdoc_get(doc, 0, "choices");
    if (fg_jdoc_type(doc, choices) != FG_JARRAY) {
        choices = FG_JNONE;
    }
    for (choice = fg_jdoc_first(doc, choices); choice != FG_JNONE;
         choice = fg_jdoc_next(doc, choices, choice)) {
        msg = fg_jdoc_get(doc, choice, "message");
        if (fg_jdoc_type(doc, msg) != FG_JOBJECT) {
            continue;
        }
        /* In document order: the edits go in appended. */
        if (xf->reasoning_exclude) {
            (void) fg_jedits_cut_members(&edits, doc, msg,
                                         replyfix_is_reasoning, NULL);
        }
        if (xf->heal != 0 && xf->json_mode) {
            repaired += replyfix_repair_string(
                doc, fg_jdoc_get(doc, msg, "content"), &edits);
        }
        if (xf->heal != 0) {
            repaired += replyfix_repair_calls(
                doc, fg_jdoc_get(doc, msg, "tool_calls"), &edits);
        }
    }
    if (edits.n > 0) {
        out = fg_jedits_dup(&edits, doc->buf, doc->len, out_len);
    }
    fg_jedits_free(&edits);
    req->relay.json_repaired += repaired;
    return out;
}

/* ---- a healed stream --------------------------------------------------- */

/* The members a healed chunk copies from the first chunk it saw. */
static void
replyfix_take_head(fg_replyfix_heal_t *h, const fg_jdoc_t *doc)
{
    static const char *const keep[] = { "id", "object", "created", "model" };
    size_t                   i, n = 0, cap = 0;
    int                      v;

    for (i = 0; i < sizeof(keep) / sizeof(*keep); i++) {
        v = fg_jdoc_get(doc, 0, keep[i]);
        if (v != FG_JNONE) {
            cap += doc->nodes[v].len + strlen(keep[i]) + 4;
        }
    }
    h->head = fg_xmalloc(cap + 1);
    for (i = 0; i < sizeof(keep) / sizeof(*keep); i++) {
        v = fg_jdoc_get(doc, 0, keep[i]);
        if (v == FG_JNONE) {
            continue;
        }
        n += (size_t) sprintf(h->head + n, "%s\"%s\":", n ? "," : "",
                              keep[i]);
        memcpy(h->head + n, doc->buf + doc->nodes[v].start,
               doc->nodes[v].len);
        n += doc->nodes[v].len;
    }
    h->head[n] = '\0';
    h->head_len = n;
}

/* Sends choice @i's held content as one delta: repaired when it is not
 * valid JSON and can be, else as it came. */
static void
replyfix_send_held(fg_req_t *req, size_t i)
{
    fg_replyfix_heal_t *h = req->relay.heal;
    replyfix_text_t    *t = &h->choice[i];
    struct evbuffer    *out = req->relay.stream_out;
    char               *fixed = NULL, *quoted;
    const char         *text = t->p ? t->p : "";
    size_t              len = t->len, fixed_len, quoted_len;
    unsigned            what;

    t->is_sent = 1;
    if (len == 0) {
        return;
    }
    if (!h->is_off
        && fg_json_repair(text, len, REPLYFIX_MAX_DEPTH, &fixed, &fixed_len,
                          &what) == FG_JSONREPAIR_REPAIRED) {
        text = fixed;
        len = fixed_len;
        req->relay.json_repaired++;
    }
    quoted = fg_xmalloc(6 * len + 2);
    quoted_len = fg_json_quote(text, len, quoted);
    evbuffer_add_printf(out, "data: {%s%s\"choices\":[{\"index\":%zu,"
                        "\"delta\":{\"content\":", h->head,
                        h->head_len ? "," : "", i);
    evbuffer_add(out, quoted, quoted_len);
    evbuffer_add(out, "},\"finish_reason\":null}]}\n\n", 27);
    free(quoted);
    free(fixed);
    h->held -= t->len;
    free(t->p);
    t->p = NULL;
    t->len = t->cap = 0;
}

void
fg_replyfix_flush(fg_req_t *req)
{
    fg_replyfix_heal_t *h = req->relay.heal;
    size_t              i;

    if (h == NULL) {
        return;
    }
    for (i = 0; i < h->n; i++) {
        if (!h->choice[i].is_sent) {
            replyfix_send_held(req, i);
        }
    }
}

/* Past the bound: what is held goes out as it came, the rest passes. */
static void
replyfix_give_up(fg_req_t *req)
{
    fg_replyfix_heal_t *h = req->relay.heal;

    h->is_off = 1;
    fg_replyfix_flush(req);
}

/* Holds string node @s (a content delta) for choice @i. 1 when held. */
static int
replyfix_hold(fg_req_t *req, size_t i, const fg_jdoc_t *doc, int s)
{
    fg_replyfix_heal_t *h = req->relay.heal;
    replyfix_text_t    *t = &h->choice[i];
    size_t              len = fg_jdoc_str_len(doc, s);

    if (h->is_off || t->is_sent) {
        return 0;
    }
    if (h->held + len > h->max_held) {
        replyfix_give_up(req);
        return 0;
    }
    if (t->len + len + 1 > t->cap) {
        t->cap = (t->len + len + 1) * 2;
        t->p = fg_xrealloc(t->p, t->cap);
    }
    (void) fg_jdoc_str_copy(doc, s, t->p + t->len, len + 1);
    t->len += len;
    h->held += len;
    return 1;
}

/* What a delta's cut drops: reasoning when excluded, its content when it
 * is held. */
typedef struct {
    int exclude;
    int content;
} replyfix_cut_t;

static int
replyfix_delta_cut(const fg_jdoc_t *doc, int key, void *arg)
{
    const replyfix_cut_t *c = arg;

    return (c->content && fg_jdoc_str_eq(doc, key, "content"))
           || (c->exclude && replyfix_is_reasoning(doc, key, NULL));
}

int
fg_replyfix_chunk(fg_req_t *req, const fg_jdoc_t *doc, fg_jedits_t *edits)
{
    const fg_chat_request_t *chat = &req->validated.chat;
    fg_replyfix_heal_t      *h = req->relay.heal;
    int                      choices, choice, delta, fr, content, idx;
    int                      is_empty = 1, has_usage;
    size_t                   i, pos = 0, cut;
    replyfix_cut_t           c;

    if (replyfix_heals(req) && h == NULL) {
        h = req->relay.heal = fg_xcalloc(1, sizeof(*h));
        h->n = chat->n > 0 ? (size_t) chat->n : 1;
        h->choice = fg_xcalloc(h->n, sizeof(*h->choice));
        h->max_held = (size_t) req->worker->conf->upstream_max_body_bytes;
        replyfix_take_head(h, doc);
    }
    has_usage = fg_jdoc_type(doc, fg_jdoc_get(doc, 0, "usage"))
                == FG_JOBJECT;
    choices = fg_jdoc_get(doc, 0, "choices");
    if (fg_jdoc_type(doc, choices) != FG_JARRAY
        || doc->nodes[choices].count == 0) {
        is_empty = 0;
    }
    for (choice = fg_jdoc_first(doc, choices); choice != FG_JNONE;
         choice = fg_jdoc_next(doc, choices, choice), pos++) {
        delta = fg_jdoc_get(doc, choice, "delta");
        fr = fg_jdoc_get(doc, choice, "finish_reason");
        idx = fg_jdoc_get(doc, choice, "index");
        i = fg_jdoc_type(doc, idx) == FG_JINT && doc->nodes[idx].num.i >= 0
            ? (size_t) doc->nodes[idx].num.i : pos;
        c.exclude = chat->xf.reasoning_exclude;
        c.content = 0;
        content = fg_jdoc_get(doc, delta, "content");
        if (h != NULL && i < h->n && fg_jdoc_type(doc, content) == FG_JSTRING) {
            c.content = replyfix_hold(req, i, doc, content);
        }
        cut = fg_jedits_cut_members(edits, doc, delta, replyfix_delta_cut,
                                    &c);
        if (h != NULL && i < h->n && fg_jdoc_type(doc, fr) == FG_JSTRING
            && !h->choice[i].is_sent) {
            /* The choice's whole content, just before its finish. */
            replyfix_send_held(req, i);
        }
        if (fg_jdoc_type(doc, delta) != FG_JOBJECT
            || cut < doc->nodes[delta].count
            || fg_jdoc_type(doc, fr) != FG_JNULL
            || fg_jdoc_type(doc, fg_jdoc_get(doc, choice, "logprobs"))
               != FG_JNULL) {
            is_empty = 0;
        }
    }
    if (has_usage) {
        fg_replyfix_flush(req);
        is_empty = 0;
    }
    return is_empty;
}

void
fg_replyfix_cleanup(fg_req_t *req)
{
    fg_replyfix_heal_t *h = req->relay.heal;
    size_t              i;

    if (h == NULL) {
        return;
    }
    for (i = 0; i < h->n; i++) {
        free(h->choice[i].p);
    }
    free(h->choice);
    free(h->head);
    free(h);
    req->relay.heal = NULL;
}
