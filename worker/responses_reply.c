/*
 * responses_reply.c: the reply of a POST /v1/responses from the chat
 * completion that served it (responses_reply.h).
 *
 * One writer makes the response object (rr_response) and one writer each
 * kind of output item (rr_item_*), and both paths use them: the whole
 * reply feeds them the strings of the chat message, the stream the texts it
 * kept from the deltas. That is why the stream's final response and the
 * whole reply of the same completion are the same bytes, which the unit
 * tests check.
 *
 * The stream keeps a list of items in output order. At most one reasoning
 * or message item is "current" (open and taking text); a delta of the
 * other text kind, or a new tool call, closes it. Tool calls are kept open
 * to the end and found by their chat "index". Deltas go out as the chunk's
 * own JSON string (a valid JSON string is a valid delta value); the kept
 * text is decoded, bounded by max_text in all, and quoted again for the
 * .done events and the final response.
 *
 * Everything is written into evbuffers with fg_json_quote(); the request's
 * echoed fields are its own JSON spans, copied as they are.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/base/alloc.h"
#include "common/wire/json.h"
#include "worker/responses_reply.h"

#define RR_MAX_CALLS   128      /* function calls translated per stream */
#define RR_MAX_ITEMS   256      /* output items per stream */
#define RR_MAX_DEPTH   64       /* nesting of a usage text or a response */
#define RR_QUOTE_PIECE 4096     /* bytes quoted per step */

enum { RR_REASONING, RR_MESSAGE, RR_CALL };
enum { RR_FINISH_STOP, RR_FINISH_LENGTH, RR_FINISH_FILTER };

/* Text kept for a .done event: a growing buffer. */
typedef struct {
    char   *p;
    size_t  len;
    size_t  cap;
} rr_text_t;

/* One content part of a message: output_text or refusal. */
typedef struct {
    int         is_refusal;
    const char *text;
    size_t      len;
} rr_part_t;

typedef struct {
    int        kind;            /* RR_REASONING, RR_MESSAGE, RR_CALL */
    int        is_open;
    int        chat_index;      /* calls: the chat tool call's "index" */
    char      *qid;             /* the item id, quoted */
    rr_text_t  text[2];         /* reasoning, call arguments: [0];
                                   message: by content_index */
    int        part_refusal[2]; /* message: part i is a refusal */
    int        nparts;
    char      *call_id;         /* calls, decoded */
    char      *name;
} rr_item_t;

struct fg_responses_stream_s {
    const fg_responses_req_t *rq;       /* borrowed */
    char       *resp_id;
    int64_t     created_s;
    char       *model;                  /* decoded */
    int         has_chunk_model;
    size_t      max_text;               /* bytes kept, all items */
    size_t      held;
    int         is_full;                /* max_text reached: no more kept */
    int64_t     seq;                    /* the next sequence_number */
    int         is_started;
    int         is_ended;
    int         finish;                 /* RR_FINISH_* of choice 0 */
    rr_item_t  *items;
    size_t      n;
    size_t      cap;
    int         cur;                    /* the open text item, or -1 */
    size_t      ncalls;
    int         has_message;
    char       *usage;                  /* the last chunk usage's text */
    size_t      usage_len;
};

/* What rr_response() writes: the parts that differ between its uses. */
typedef struct {
    const fg_responses_req_t *rq;
    const char               *resp_id;
    int64_t                   created_s;
    const char               *model;
    const char               *status;
    int                       finish;
    struct evbuffer          *output;   /* the items, comma-separated */
    const fg_jdoc_t          *usage;    /* NULL: usage null */
    int                       usage_node;
    const char               *extra;
    size_t                    extra_len;
} rr_response_t;

static void rr_add(struct evbuffer *b, const char *s);
static void rr_add_str(struct evbuffer *b, const char *s, size_t len);
static void rr_add_span(struct evbuffer *b, const char *span, size_t len,
                        const char *dflt);
static void rr_add_real(struct evbuffer *b, double v);
static char *rr_item_qid(const char *resp_id, const char *prefix, size_t i);
static void rr_response(struct evbuffer *b, const rr_response_t *r);

/* Writing JSON */

static void
rr_add(struct evbuffer *b, const char *s)
{
    evbuffer_add(b, s, strlen(s));
}

/* @s as a JSON string, quoted a piece at a time: no buffer of 6 * @len. */
static void
rr_add_str(struct evbuffer *b, const char *s, size_t len)
{
    char   buf[6 * RR_QUOTE_PIECE + 2];
    size_t off = 0, piece, n;

    evbuffer_add(b, "\"", 1);
    while (off < len) {
        piece = len - off < RR_QUOTE_PIECE ? len - off : RR_QUOTE_PIECE;
        n = fg_json_quote(s + off, piece, buf);
        evbuffer_add(b, buf + 1, n - 2);
        off += piece;
    }
    evbuffer_add(b, "\"", 1);
}

/* A request span as it is, or @dflt when the request had none. */
static void
rr_add_span(struct evbuffer *b, const char *span, size_t len,
            const char *dflt)
{
    if (span != NULL && len > 0) {
        evbuffer_add(b, span, len);
    } else {
        rr_add(b, dflt);
    }
}

/* The shortest of %.15g and %.17g that reads back as @v. */
static void
rr_add_real(struct evbuffer *b, double v)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%.15g", v);
    if (strtod(buf, NULL) != v) {
        snprintf(buf, sizeof(buf), "%.17g", v);
    }
    rr_add(b, buf);
}

static long long
rr_int(const fg_jdoc_t *doc, int i)
{
    long long v = 0;

    switch (fg_jdoc_type(doc, i)) {
    case FG_JINT:
        v = doc->nodes[i].num.i;
        break;
    case FG_JREAL:
        v = doc->nodes[i].num.d < 9e18 ? (long long) doc->nodes[i].num.d : 0;
        break;
    default:
        break;
    }
    return v > 0 ? v : 0;
}

/* Chat usage node @u of @doc as Responses usage (null when not an object). */
static void
rr_usage(struct evbuffer *b, const fg_jdoc_t *doc, int u)
{
    long long in, out, total;
    int       t;

    if (doc == NULL || fg_jdoc_type(doc, u) != FG_JOBJECT) {
        rr_add(b, "null");
        return;
    }
    in = rr_int(doc, fg_jdoc_get(doc, u, "prompt_tokens"));
    out = rr_int(doc, fg_jdoc_get(doc, u, "completion_tokens"));
    t = fg_jdoc_get(doc, u, "total_tokens");
    total = fg_jdoc_type(doc, t) == FG_JINT ? rr_int(doc, t) : in + out;
    evbuffer_add_printf(
        b,
        "{\"input_tokens\":%lld,\"input_tokens_details\":{\"cached_tokens\":"
        "%lld},\"output_tokens\":%lld,\"output_tokens_details\":"
        "{\"reasoning_tokens\":%lld},\"total_tokens\":%lld}",
        in,
        rr_int(doc, fg_jdoc_get(doc, fg_jdoc_get(doc, u,
                                                 "prompt_tokens_details"),
                                "cached_tokens")),
        out,
        rr_int(doc, fg_jdoc_get(doc, fg_jdoc_get(doc, u,
                                                 "completion_tokens_details"),
                                "reasoning_tokens")),
        total);
}

static const char *
rr_incomplete_reason(int finish)
{
    return finish == RR_FINISH_LENGTH ? "max_output_tokens"
                                      : "content_filter";
}

static int
rr_finish(const fg_jdoc_t *doc, int i)
{
    if (fg_jdoc_str_eq(doc, i, "length")) {
        return RR_FINISH_LENGTH;
    }
    if (fg_jdoc_str_eq(doc, i, "content_filter")) {
        return RR_FINISH_FILTER;
    }
    return RR_FINISH_STOP;
}

/* The response object (OpenAI's member order). */
static void
rr_response(struct evbuffer *b, const rr_response_t *r)
{
    const fg_responses_req_t *rq = r->rq;

    rr_add(b, "{\"id\":");
    rr_add_str(b, r->resp_id, strlen(r->resp_id));
    evbuffer_add_printf(b, ",\"object\":\"response\",\"created_at\":%lld,"
                        "\"status\":\"%s\",\"error\":null,"
                        "\"incomplete_details\":", (long long) r->created_s,
                        r->status);
    if (strcmp(r->status, "incomplete") == 0) {
        evbuffer_add_printf(b, "{\"reason\":\"%s\"}",
                            rr_incomplete_reason(r->finish));
    } else {
        rr_add(b, "null");
    }
    rr_add(b, ",\"instructions\":");
    rr_add_span(b, rq->instructions, rq->instructions_len, "null");
    rr_add(b, ",\"max_output_tokens\":");
    if (rq->max_output_tokens > 0) {
        evbuffer_add_printf(b, "%lld", (long long) rq->max_output_tokens);
    } else {
        rr_add(b, "null");
    }
    rr_add(b, ",\"model\":");
    rr_add_str(b, r->model, strlen(r->model));
    rr_add(b, ",\"output\":[");
    if (r->output != NULL) {
        evbuffer_add(b, evbuffer_pullup(r->output, -1),
                     evbuffer_get_length(r->output));
    }
    rr_add(b, "],\"parallel_tool_calls\":");
    rr_add(b, rq->parallel_tool_calls ? "true" : "false");
    rr_add(b, ",\"previous_response_id\":");
    rr_add_span(b, rq->previous_response_id, rq->previous_response_id_len,
                "null");
    rr_add(b, ",\"reasoning\":");
    rr_add_span(b, rq->reasoning, rq->reasoning_len,
                "{\"effort\":null,\"summary\":null}");
    rr_add(b, ",\"store\":");
    rr_add(b, rq->store ? "true" : "false");
    rr_add(b, ",\"temperature\":");
    rr_add_real(b, rq->has_temperature ? rq->temperature : 1.0);
    rr_add(b, ",\"text\":");
    rr_add_span(b, rq->text, rq->text_len, "{\"format\":{\"type\":\"text\"}}");
    rr_add(b, ",\"tool_choice\":");
    rr_add_span(b, rq->tool_choice, rq->tool_choice_len, "\"auto\"");
    rr_add(b, ",\"tools\":");
    rr_add_span(b, rq->tools, rq->tools_len, "[]");
    rr_add(b, ",\"top_p\":");
    rr_add_real(b, rq->has_top_p ? rq->top_p : 1.0);
    rr_add(b, ",\"truncation\":\"disabled\",\"usage\":");
    rr_usage(b, r->usage, r->usage_node);
    rr_add(b, ",\"user\":");
    rr_add_span(b, rq->user, rq->user_len, "null");
    rr_add(b, ",\"metadata\":");
    rr_add_span(b, rq->metadata, rq->metadata_len, "{}");
    if (r->extra != NULL && r->extra_len > 0) {
        rr_add(b, ",");
        evbuffer_add(b, r->extra, r->extra_len);
    }
    rr_add(b, "}");
}

/* Output items */

/* The id "<prefix>_<suffix>_<i>" (responses_reply.h), malloc'd. */
static char *
rr_item_id(const char *resp_id, const char *prefix, size_t i)
{
    const char *suffix = resp_id;
    char       *id;
    size_t      len;

    if (strncmp(resp_id, "resp_", 5) == 0) {
        suffix += 5;
    }
    len = strlen(prefix) + strlen(suffix) + 24;
    id = fg_xmalloc(len);
    snprintf(id, len, "%s_%s_%zu", prefix, suffix, i);
    return id;
}

/* rr_item_id() quoted. */
static char *
rr_item_qid(const char *resp_id, const char *prefix, size_t i)
{
    char   *id = rr_item_id(resp_id, prefix, i), *q;
    size_t  len = strlen(id);

    q = fg_xmalloc(6 * len + 3);
    q[fg_json_quote(id, len, q)] = '\0';
    free(id);
    return q;
}

/* A reasoning item; @text NULL: summary [] (as an added item has it). */
static void
rr_item_reasoning(struct evbuffer *b, const char *qid, const char *text,
                  size_t len)
{
    rr_add(b, "{\"id\":");
    rr_add(b, qid);
    rr_add(b, ",\"type\":\"reasoning\",\"summary\":[");
    if (text != NULL) {
        rr_add(b, "{\"type\":\"summary_text\",\"text\":");
        rr_add_str(b, text, len);
        rr_add(b, "}");
    }
    rr_add(b, "]}");
}

static void
rr_part(struct evbuffer *b, const rr_part_t *p)
{
    if (p->is_refusal) {
        rr_add(b, "{\"type\":\"refusal\",\"refusal\":");
        rr_add_str(b, p->text, p->len);
        rr_add(b, "}");
    } else {
        rr_add(b, "{\"type\":\"output_text\",\"text\":");
        rr_add_str(b, p->text, p->len);
        rr_add(b, ",\"annotations\":[]}");
    }
}

static void
rr_item_message(struct evbuffer *b, const char *qid, const char *status,
                const rr_part_t *parts, int nparts)
{
    int i;

    rr_add(b, "{\"id\":");
    rr_add(b, qid);
    rr_add(b, ",\"type\":\"message\",\"role\":\"assistant\",\"status\":\"");
    rr_add(b, status);
    rr_add(b, "\",\"content\":[");
    for (i = 0; i < nparts; i++) {
        if (i > 0) {
            rr_add(b, ",");
        }
        rr_part(b, &parts[i]);
    }
    rr_add(b, "]}");
}

static void
rr_item_call(struct evbuffer *b, const char *qid, const char *status,
             const char *call_id, const char *name, const char *args,
             size_t args_len)
{
    rr_add(b, "{\"id\":");
    rr_add(b, qid);
    rr_add(b, ",\"type\":\"function_call\",\"status\":\"");
    rr_add(b, status);
    rr_add(b, "\",\"arguments\":");
    rr_add_str(b, args, args_len);
    rr_add(b, ",\"call_id\":");
    rr_add_str(b, call_id, strlen(call_id));
    rr_add(b, ",\"name\":");
    rr_add_str(b, name, strlen(name));
    rr_add(b, "}");
}

/* A call id for a tool call the provider sent without one: unique within
 * the response, as a call id needs to be. */
static char *
rr_call_id(const char *resp_id, size_t i)
{
    return rr_item_id(resp_id, "call", i);
}

static struct evbuffer *
rr_evbuffer_new(void)
{
    struct evbuffer *b = evbuffer_new();

    if (b == NULL) {
        abort();        /* out of memory, as fg_xmalloc */
    }
    return b;
}

/* The whole reply */

/* String member @key of @obj decoded, or NULL when absent or empty. */
static char *
rr_dup_nonempty(const fg_jdoc_t *doc, int obj, const char *key)
{
    int v = fg_jdoc_get(doc, obj, key);

    if (fg_jdoc_type(doc, v) != FG_JSTRING || fg_jdoc_str_len(doc, v) == 0) {
        return NULL;
    }
    return fg_jdoc_str_dup(doc, v);
}

static void
rr_sep(struct evbuffer *b)
{
    if (evbuffer_get_length(b) > 0) {
        rr_add(b, ",");
    }
}

/* The items of chat message @msg into @out; returns how many. */
static size_t
rr_reply_items(const fg_jdoc_t *chat, int msg, const char *resp_id,
               struct evbuffer *out)
{
    char      *reasoning, *content, *refusal, *qid;
    int        calls, call, fn;
    size_t     n = 0, ncalls = 0;
    rr_part_t  parts[2];
    int        nparts = 0;

    reasoning = rr_dup_nonempty(chat, msg, "reasoning_content");
    if (reasoning == NULL) {
        reasoning = rr_dup_nonempty(chat, msg, "reasoning");
    }
    if (reasoning != NULL) {
        qid = rr_item_qid(resp_id, "rs", n++);
        rr_item_reasoning(out, qid, reasoning, strlen(reasoning));
        free(qid);
        free(reasoning);
    }
    calls = fg_jdoc_get(chat, msg, "tool_calls");
    if (fg_jdoc_type(chat, calls) == FG_JARRAY) {
        ncalls = chat->nodes[calls].count;
    }
    content = rr_dup_nonempty(chat, msg, "content");
    refusal = rr_dup_nonempty(chat, msg, "refusal");
    if (content != NULL || refusal != NULL || ncalls == 0) {
        if (content != NULL || refusal == NULL) {
            parts[nparts].is_refusal = 0;
            parts[nparts].text = content != NULL ? content : "";
            parts[nparts].len = strlen(parts[nparts].text);
            nparts++;
        }
        if (refusal != NULL) {
            parts[nparts].is_refusal = 1;
            parts[nparts].text = refusal;
            parts[nparts].len = strlen(refusal);
            nparts++;
        }
        qid = rr_item_qid(resp_id, "msg", n++);
        rr_sep(out);
        rr_item_message(out, qid, "completed", parts, nparts);
        free(qid);
    }
    free(content);
    free(refusal);
    if (ncalls == 0) {
        return n;
    }
    for (call = fg_jdoc_first(chat, calls); call != FG_JNONE;
         call = fg_jdoc_next(chat, calls, call)) {
        char *id, *name, *args;

        fn = fg_jdoc_get(chat, call, "function");
        if (fg_jdoc_type(chat, fn) != FG_JOBJECT) {
            continue;
        }
        id = rr_dup_nonempty(chat, call, "id");
        if (id == NULL) {
            id = rr_call_id(resp_id, n);
        }
        name = rr_dup_nonempty(chat, fn, "name");
        args = rr_dup_nonempty(chat, fn, "arguments");
        qid = rr_item_qid(resp_id, "fc", n++);
        rr_sep(out);
        rr_item_call(out, qid, "completed", id, name != NULL ? name : "",
                     args != NULL ? args : "", args != NULL ? strlen(args) : 0);
        free(qid);
        free(id);
        free(name);
        free(args);
    }
    return n;
}

static char *
rr_take(struct evbuffer *b, size_t *out_len)
{
    size_t len = evbuffer_get_length(b);
    char  *p = fg_xmalloc(len + 1);

    evbuffer_remove(b, p, len);
    p[len] = '\0';
    *out_len = len;
    return p;
}

char *
fg_responses_reply(const fg_jdoc_t *chat, const fg_responses_req_t *rq,
                   const char *resp_id, int64_t created_s, size_t *out_len)
{
    int              choices, c0, msg, model;
    char            *model_s, *text;
    struct evbuffer *items, *b;
    rr_response_t    r;

    if (fg_jdoc_type(chat, 0) != FG_JOBJECT) {
        return NULL;
    }
    choices = fg_jdoc_get(chat, 0, "choices");
    c0 = fg_jdoc_type(chat, choices) == FG_JARRAY
             ? fg_jdoc_first(chat, choices) : FG_JNONE;
    msg = fg_jdoc_get(chat, c0, "message");
    if (fg_jdoc_type(chat, msg) != FG_JOBJECT) {
        return NULL;
    }
    model = fg_jdoc_get(chat, 0, "model");
    model_s = fg_jdoc_type(chat, model) == FG_JSTRING
                  ? fg_jdoc_str_dup(chat, model) : fg_xstrdup("");
    items = rr_evbuffer_new();
    b = rr_evbuffer_new();
    rr_reply_items(chat, msg, resp_id, items);
    memset(&r, 0, sizeof(r));
    r.rq = rq;
    r.resp_id = resp_id;
    r.created_s = created_s;
    r.model = model_s;
    r.finish = rr_finish(chat, fg_jdoc_get(chat, c0, "finish_reason"));
    r.status = r.finish == RR_FINISH_STOP ? "completed" : "incomplete";
    r.output = items;
    r.usage = chat;
    r.usage_node = fg_jdoc_get(chat, 0, "usage");
    rr_response(b, &r);
    text = rr_take(b, out_len);
    evbuffer_free(b);
    evbuffer_free(items);
    free(model_s);
    return text;
}

char *
fg_responses_output_items(const char *response, size_t len, size_t *out_len)
{
    fg_jdoc_t doc;
    int       output;
    char     *p = NULL;

    if (fg_jdoc_parse(&doc, response, len, RR_MAX_DEPTH, NULL) != FG_OK) {
        return NULL;
    }
    output = fg_jdoc_get(&doc, 0, "output");
    if (fg_jdoc_type(&doc, output) == FG_JARRAY) {
        *out_len = doc.nodes[output].len;
        p = fg_xmalloc(*out_len + 1);
        memcpy(p, response + doc.nodes[output].start, *out_len);
        p[*out_len] = '\0';
    }
    fg_jdoc_free(&doc);
    return p;
}

size_t
fg_responses_item_response_id(const char *id, size_t len, char *dst,
                              size_t size)
{
    static const char *const prefixes[] = { "rs_", "msg_", "fc_" };
    size_t                   i, p = 0, end = len, n;

    for (i = 0; i < sizeof(prefixes) / sizeof(*prefixes); i++) {
        n = strlen(prefixes[i]);
        if (len > n && memcmp(id, prefixes[i], n) == 0) {
            p = n;
            break;
        }
    }
    while (end > p && id[end - 1] >= '0' && id[end - 1] <= '9') {
        end--;
    }
    if (p == 0 || end == len || end <= p + 1 || id[end - 1] != '_') {
        return 0;
    }
    n = 5 + (end - 1 - p);
    if (n + 1 > size) {
        return 0;
    }
    memcpy(dst, "resp_", 5);
    memcpy(dst + 5, id + p, end - 1 - p);
    dst[n] = '\0';
    return n;
}

/* The stream */

fg_responses_stream_t *
fg_responses_stream_new(const fg_responses_req_t *rq, const char *resp_id,
                        int64_t created_s, const char *model,
                        size_t max_text_bytes)
{
    fg_responses_stream_t *s = fg_xcalloc(1, sizeof(*s));

    s->rq = rq;
    s->resp_id = fg_xstrdup(resp_id);
    s->created_s = created_s;
    s->model = fg_xstrdup(model != NULL ? model : "");
    s->max_text = max_text_bytes;
    s->cur = -1;
    return s;
}

void
fg_responses_stream_free(fg_responses_stream_t *s)
{
    size_t i;

    if (s == NULL) {
        return;
    }
    for (i = 0; i < s->n; i++) {
        free(s->items[i].qid);
        free(s->items[i].text[0].p);
        free(s->items[i].text[1].p);
        free(s->items[i].call_id);
        free(s->items[i].name);
    }
    free(s->items);
    free(s->resp_id);
    free(s->model);
    free(s->usage);
    free(s);
}

/* "event: @type\ndata: {"type":...,"sequence_number":N" */
static void
rr_event(fg_responses_stream_t *s, struct evbuffer *out, const char *type)
{
    evbuffer_add_printf(out, "event: %s\ndata: {\"type\":\"%s\","
                        "\"sequence_number\":%lld", type, type,
                        (long long) s->seq++);
}

static void
rr_event_end(struct evbuffer *out)
{
    evbuffer_add(out, "}\n\n", 3);
}

/* ,"item_id":..,"output_index":i */
static void
rr_event_item(fg_responses_stream_t *s, struct evbuffer *out, size_t i)
{
    rr_add(out, ",\"item_id\":");
    rr_add(out, s->items[i].qid);
    evbuffer_add_printf(out, ",\"output_index\":%zu", i);
}

/* The response in its current state into @b. */
static void
rr_stream_response(fg_responses_stream_t *s, struct evbuffer *b,
                   const char *status, struct evbuffer *output,
                   const fg_jdoc_t *usage, const char *extra,
                   size_t extra_len)
{
    rr_response_t r;

    memset(&r, 0, sizeof(r));
    r.rq = s->rq;
    r.resp_id = s->resp_id;
    r.created_s = s->created_s;
    r.model = s->model;
    r.status = status;
    r.finish = s->finish;
    r.output = output;
    r.usage = usage;
    r.usage_node = 0;
    r.extra = extra;
    r.extra_len = extra_len;
    rr_response(b, &r);
}

static void
rr_stream_start(fg_responses_stream_t *s, struct evbuffer *out)
{
    static const char *const types[] = { "response.created",
                                         "response.in_progress" };
    size_t                   i;

    if (s->is_started) {
        return;
    }
    s->is_started = 1;
    for (i = 0; i < 2; i++) {
        rr_event(s, out, types[i]);
        rr_add(out, ",\"response\":");
        rr_stream_response(s, out, "in_progress", NULL, NULL, NULL, 0);
        rr_event_end(out);
    }
}

/* Keeps @len decoded bytes of string node @v in @t, within max_text. */
static void
rr_keep(fg_responses_stream_t *s, rr_text_t *t, const fg_jdoc_t *doc, int v)
{
    size_t len = fg_jdoc_str_len(doc, v), room;
    char  *tmp;

    if (s->is_full) {
        return;
    }
    room = s->max_text - s->held;
    if (t->len + len + 1 > t->cap) {
        t->cap = (t->len + len + 1) * 2;
        t->p = fg_xrealloc(t->p, t->cap);
    }
    if (len <= room) {
        fg_jdoc_str_copy(doc, v, t->p + t->len, len + 1);
        t->len += len;
        s->held += len;
        return;
    }
    /* Past the bound: keep what fits, cut on a UTF-8 boundary, and no
     * more from now on (a later small delta must not leave a hole). */
    tmp = fg_jdoc_str_dup(doc, v);
    while (room > 0 && ((unsigned char) tmp[room] & 0xC0) == 0x80) {
        room--;
    }
    memcpy(t->p + t->len, tmp, room);
    t->len += room;
    s->held += room;
    s->is_full = 1;
    free(tmp);
}

/* The kept text of @t ("" before any). */
static const char *
rr_text(const rr_text_t *t)
{
    return t->p != NULL ? t->p : "";
}

static size_t
rr_open(fg_responses_stream_t *s, int kind, const char *prefix)
{
    rr_item_t *it;

    if (s->n == s->cap) {
        s->cap = s->cap == 0 ? 4 : s->cap * 2;
        s->items = fg_xrealloc(s->items, s->cap * sizeof(*s->items));
    }
    it = &s->items[s->n];
    memset(it, 0, sizeof(*it));
    it->kind = kind;
    it->is_open = 1;
    it->qid = rr_item_qid(s->resp_id, prefix, s->n);
    return s->n++;
}

/* Item @i as the final response and its output_item.done hold it. */
static void
rr_stream_item(fg_responses_stream_t *s, struct evbuffer *b, size_t i)
{
    rr_item_t *it = &s->items[i];
    rr_part_t  parts[2];
    int        k;

    switch (it->kind) {
    case RR_REASONING:
        /* Added with summary [], as OpenAI's; done with its text. */
        rr_item_reasoning(b, it->qid, it->is_open ? NULL
                                      : rr_text(&it->text[0]),
                          it->text[0].len);
        break;
    case RR_MESSAGE:
        for (k = 0; k < it->nparts; k++) {
            parts[k].is_refusal = it->part_refusal[k];
            parts[k].text = rr_text(&it->text[k]);
            parts[k].len = it->text[k].len;
        }
        rr_item_message(b, it->qid, it->is_open ? "in_progress"
                                                : "completed",
                        parts, it->nparts);
        break;
    default:
        rr_item_call(b, it->qid, it->is_open ? "in_progress" : "completed",
                     it->call_id, it->name, rr_text(&it->text[0]),
                     it->text[0].len);
        break;
    }
}

/* response.output_item.added or .done (@type) of item @i. */
static void
rr_item_event(fg_responses_stream_t *s, struct evbuffer *out,
              const char *type, size_t i)
{
    rr_event(s, out, type);
    evbuffer_add_printf(out, ",\"output_index\":%zu,\"item\":", i);
    rr_stream_item(s, out, i);
    rr_event_end(out);
}

/* The .done events of item @i, which is open. */
static void
rr_close(fg_responses_stream_t *s, struct evbuffer *out, size_t i)
{
    rr_item_t *it = &s->items[i];
    rr_part_t  p;
    int        k;

    it->is_open = 0;
    switch (it->kind) {
    case RR_REASONING:
        rr_event(s, out, "response.reasoning_summary_text.done");
        rr_event_item(s, out, i);
        rr_add(out, ",\"summary_index\":0,\"text\":");
        rr_add_str(out, rr_text(&it->text[0]),
                   it->text[0].len);
        rr_event_end(out);
        rr_event(s, out, "response.reasoning_summary_part.done");
        rr_event_item(s, out, i);
        rr_add(out, ",\"summary_index\":0,\"part\":{\"type\":\"summary_text\","
               "\"text\":");
        rr_add_str(out, rr_text(&it->text[0]),
                   it->text[0].len);
        rr_add(out, "}");
        rr_event_end(out);
        break;
    case RR_MESSAGE:
        for (k = 0; k < it->nparts; k++) {
            p.is_refusal = it->part_refusal[k];
            p.text = rr_text(&it->text[k]);
            p.len = it->text[k].len;
            if (p.is_refusal) {
                rr_event(s, out, "response.refusal.done");
                rr_event_item(s, out, i);
                evbuffer_add_printf(out, ",\"content_index\":%d,"
                                    "\"refusal\":", k);
            } else {
                rr_event(s, out, "response.output_text.done");
                rr_event_item(s, out, i);
                evbuffer_add_printf(out, ",\"content_index\":%d,"
                                    "\"logprobs\":[],\"text\":", k);
            }
            rr_add_str(out, p.text, p.len);
            rr_event_end(out);
            rr_event(s, out, "response.content_part.done");
            rr_event_item(s, out, i);
            evbuffer_add_printf(out, ",\"content_index\":%d,\"part\":", k);
            rr_part(out, &p);
            rr_event_end(out);
        }
        break;
    default:
        rr_event(s, out, "response.function_call_arguments.done");
        rr_event_item(s, out, i);
        rr_add(out, ",\"name\":");
        rr_add_str(out, it->name, strlen(it->name));
        rr_add(out, ",\"arguments\":");
        rr_add_str(out, rr_text(&it->text[0]),
                   it->text[0].len);
        rr_event_end(out);
        break;
    }
    rr_item_event(s, out, "response.output_item.done", i);
}

/* The open text item of @kind, opening one (and closing the other). */
static int
rr_text_item(fg_responses_stream_t *s, struct evbuffer *out, int kind)
{
    size_t i;

    if (s->cur >= 0 && s->items[s->cur].kind == kind) {
        return s->cur;
    }
    if (s->cur >= 0) {
        rr_close(s, out, (size_t) s->cur);
        s->cur = -1;
    }
    if (s->n >= RR_MAX_ITEMS) {
        return -1;
    }
    if (kind == RR_REASONING) {
        i = rr_open(s, RR_REASONING, "rs");
        rr_item_event(s, out, "response.output_item.added", i);
        rr_event(s, out, "response.reasoning_summary_part.added");
        rr_event_item(s, out, i);
        rr_add(out, ",\"summary_index\":0,\"part\":{\"type\":\"summary_text\","
               "\"text\":\"\"}");
        rr_event_end(out);
    } else {
        i = rr_open(s, RR_MESSAGE, "msg");
        s->has_message = 1;
        rr_item_event(s, out, "response.output_item.added", i);
    }
    s->cur = (int) i;
    return s->cur;
}

/* The content_index of message @i's part of the kind @is_refusal. */
static int
rr_message_part(fg_responses_stream_t *s, struct evbuffer *out, size_t i,
                int is_refusal)
{
    rr_item_t *it = &s->items[i];
    rr_part_t  p;
    int        k;

    for (k = 0; k < it->nparts; k++) {
        if (it->part_refusal[k] == is_refusal) {
            return k;
        }
    }
    k = it->nparts++;
    it->part_refusal[k] = is_refusal;
    p.is_refusal = is_refusal;
    p.text = "";
    p.len = 0;
    rr_event(s, out, "response.content_part.added");
    rr_event_item(s, out, i);
    evbuffer_add_printf(out, ",\"content_index\":%d,\"part\":", k);
    rr_part(out, &p);
    rr_event_end(out);
    return k;
}

static int
rr_nonempty(const fg_jdoc_t *doc, int v)
{
    return fg_jdoc_type(doc, v) == FG_JSTRING && fg_jdoc_str_len(doc, v) > 0;
}

static void
rr_delta_reasoning(fg_responses_stream_t *s, const fg_jdoc_t *doc, int v,
                   struct evbuffer *out)
{
    int i = rr_text_item(s, out, RR_REASONING);

    if (i < 0) {
        return;
    }
    rr_event(s, out, "response.reasoning_summary_text.delta");
    rr_event_item(s, out, (size_t) i);
    rr_add(out, ",\"summary_index\":0,\"delta\":");
    evbuffer_add(out, doc->buf + doc->nodes[v].start, doc->nodes[v].len);
    rr_event_end(out);
    rr_keep(s, &s->items[i].text[0], doc, v);
}

static void
rr_delta_message(fg_responses_stream_t *s, const fg_jdoc_t *doc, int v,
                 int is_refusal, struct evbuffer *out)
{
    int i = rr_text_item(s, out, RR_MESSAGE), k;

    if (i < 0) {
        return;
    }
    k = rr_message_part(s, out, (size_t) i, is_refusal);
    rr_event(s, out, is_refusal ? "response.refusal.delta"
                                : "response.output_text.delta");
    rr_event_item(s, out, (size_t) i);
    evbuffer_add_printf(out, ",\"content_index\":%d,%s\"delta\":", k,
                        is_refusal ? "" : "\"logprobs\":[],");
    evbuffer_add(out, doc->buf + doc->nodes[v].start, doc->nodes[v].len);
    rr_event_end(out);
    rr_keep(s, &s->items[i].text[k], doc, v);
}

/* Tool call delta @call (element @pos of the delta's tool_calls). */
static void
rr_delta_call(fg_responses_stream_t *s, const fg_jdoc_t *doc, int call,
              int pos, struct evbuffer *out)
{
    int        fn = fg_jdoc_get(doc, call, "function"), v, index;
    size_t     i;
    rr_item_t *it = NULL;

    v = fg_jdoc_get(doc, call, "index");
    index = fg_jdoc_type(doc, v) == FG_JINT ? (int) rr_int(doc, v) : pos;
    for (i = 0; i < s->n; i++) {
        if (s->items[i].kind == RR_CALL && s->items[i].chat_index == index) {
            it = &s->items[i];
            break;
        }
    }
    if (it == NULL) {
        if (s->ncalls >= RR_MAX_CALLS || s->n >= RR_MAX_ITEMS) {
            return;
        }
        if (s->cur >= 0) {
            rr_close(s, out, (size_t) s->cur);
            s->cur = -1;
        }
        i = rr_open(s, RR_CALL, "fc");
        it = &s->items[i];
        s->ncalls++;
        it->chat_index = index;
        it->call_id = rr_dup_nonempty(doc, call, "id");
        if (it->call_id == NULL) {
            it->call_id = rr_call_id(s->resp_id, i);
        }
        it->name = rr_dup_nonempty(doc, fn, "name");
        if (it->name == NULL) {
            it->name = fg_xstrdup("");
        }
        rr_item_event(s, out, "response.output_item.added", i);
    } else if (it->name[0] == '\0' && rr_nonempty(doc,
                                                  fg_jdoc_get(doc, fn,
                                                              "name"))) {
        /* A provider that names the call after its first delta. */
        free(it->name);
        it->name = rr_dup_nonempty(doc, fn, "name");
    }
    v = fg_jdoc_get(doc, fn, "arguments");
    if (!rr_nonempty(doc, v)) {
        return;
    }
    rr_event(s, out, "response.function_call_arguments.delta");
    rr_event_item(s, out, i);
    rr_add(out, ",\"delta\":");
    evbuffer_add(out, doc->buf + doc->nodes[v].start, doc->nodes[v].len);
    rr_event_end(out);
    rr_keep(s, &it->text[0], doc, v);
}

/* Choice 0 of the chunk's choices @choices: the one with index 0, or the
 * first when they carry no index. */
static int
rr_choice0(const fg_jdoc_t *doc, int choices)
{
    int c, idx;

    for (c = fg_jdoc_first(doc, choices); c != FG_JNONE;
         c = fg_jdoc_next(doc, choices, c)) {
        idx = fg_jdoc_get(doc, c, "index");
        if (fg_jdoc_type(doc, idx) == FG_JNULL
            || (fg_jdoc_type(doc, idx) == FG_JINT
                && doc->nodes[idx].num.i == 0)) {
            return fg_jdoc_type(doc, c) == FG_JOBJECT ? c : FG_JNONE;
        }
    }
    return FG_JNONE;
}

void
fg_responses_stream_chunk(fg_responses_stream_t *s, const fg_jdoc_t *chunk,
                          struct evbuffer *out)
{
    int choices, c0, delta, v, call, pos = 0;

    if (s->is_ended || fg_jdoc_type(chunk, 0) != FG_JOBJECT) {
        return;
    }
    v = fg_jdoc_get(chunk, 0, "model");
    if (!s->has_chunk_model && rr_nonempty(chunk, v)) {
        free(s->model);
        s->model = fg_jdoc_str_dup(chunk, v);
        s->has_chunk_model = 1;
    }
    rr_stream_start(s, out);
    v = fg_jdoc_get(chunk, 0, "usage");
    if (fg_jdoc_type(chunk, v) == FG_JOBJECT) {
        free(s->usage);
        s->usage_len = chunk->nodes[v].len;
        s->usage = fg_xmalloc(s->usage_len);
        memcpy(s->usage, chunk->buf + chunk->nodes[v].start, s->usage_len);
    }
    choices = fg_jdoc_get(chunk, 0, "choices");
    if (fg_jdoc_type(chunk, choices) != FG_JARRAY) {
        return;
    }
    c0 = rr_choice0(chunk, choices);
    delta = fg_jdoc_get(chunk, c0, "delta");
    if (fg_jdoc_type(chunk, delta) == FG_JOBJECT) {
        v = fg_jdoc_get(chunk, delta, "reasoning_content");
        if (!rr_nonempty(chunk, v)) {
            v = fg_jdoc_get(chunk, delta, "reasoning");
        }
        if (rr_nonempty(chunk, v)) {
            rr_delta_reasoning(s, chunk, v, out);
        }
        v = fg_jdoc_get(chunk, delta, "content");
        if (rr_nonempty(chunk, v)) {
            rr_delta_message(s, chunk, v, 0, out);
        }
        v = fg_jdoc_get(chunk, delta, "refusal");
        if (rr_nonempty(chunk, v)) {
            rr_delta_message(s, chunk, v, 1, out);
        }
        v = fg_jdoc_get(chunk, delta, "tool_calls");
        if (fg_jdoc_type(chunk, v) == FG_JARRAY) {
            for (call = fg_jdoc_first(chunk, v); call != FG_JNONE;
                 call = fg_jdoc_next(chunk, v, call), pos++) {
                if (fg_jdoc_type(chunk, call) == FG_JOBJECT) {
                    rr_delta_call(s, chunk, call, pos, out);
                }
            }
        }
    }
    v = fg_jdoc_get(chunk, c0, "finish_reason");
    if (fg_jdoc_type(chunk, v) == FG_JSTRING) {
        s->finish = rr_finish(chunk, v);
    }
}


char *
fg_responses_stream_output(fg_responses_stream_t *s, size_t *out_len)
{
    struct evbuffer *items;
    size_t           i, n;
    char            *text;

    if (!s->is_ended || s->is_full) {
        return NULL;
    }
    items = rr_evbuffer_new();
    for (i = 0; i < s->n; i++) {
        rr_sep(items);
        rr_stream_item(s, items, i);
    }
    n = evbuffer_get_length(items);
    text = fg_xmalloc(n + 3);
    text[0] = '[';
    evbuffer_remove(items, text + 1, n);
    text[n + 1] = ']';
    text[n + 2] = '\0';
    evbuffer_free(items);
    *out_len = n + 2;
    return text;
}

void
fg_responses_stream_end(fg_responses_stream_t *s, const char *usage_json,
                        size_t usage_len, const char *extra,
                        size_t extra_len, struct evbuffer *out)
{
    struct evbuffer *items;
    fg_jdoc_t        usage;
    int              has_usage = 0;
    size_t           i;
    const char      *status;

    if (s->is_ended) {
        return;
    }
    rr_stream_start(s, out);
    s->is_ended = 1;
    if (s->cur >= 0) {
        rr_close(s, out, (size_t) s->cur);
        s->cur = -1;
    }
    if (!s->has_message && s->ncalls == 0 && s->n < RR_MAX_ITEMS) {
        /* The whole reply has a message, empty or not, unless it has
         * tool calls: so does the stream. */
        i = rr_open(s, RR_MESSAGE, "msg");
        rr_item_event(s, out, "response.output_item.added", i);
        rr_message_part(s, out, i, 0);
        rr_close(s, out, i);
    }
    for (i = 0; i < s->n; i++) {
        if (s->items[i].is_open) {
            rr_close(s, out, i);
        }
    }
    items = rr_evbuffer_new();
    for (i = 0; i < s->n; i++) {
        rr_sep(items);
        rr_stream_item(s, items, i);
    }
    if (usage_json == NULL) {
        usage_json = s->usage;
        usage_len = s->usage_len;
    }
    if (usage_json != NULL
        && fg_jdoc_parse(&usage, usage_json, usage_len, RR_MAX_DEPTH, NULL)
               == FG_OK) {
        has_usage = 1;
    }
    status = s->finish == RR_FINISH_STOP ? "completed" : "incomplete";
    rr_event(s, out, s->finish == RR_FINISH_STOP ? "response.completed"
                                                 : "response.incomplete");
    rr_add(out, ",\"response\":");
    rr_stream_response(s, out, status, items, has_usage ? &usage : NULL,
                       extra, extra_len);
    rr_event_end(out);
    if (has_usage) {
        fg_jdoc_free(&usage);
    }
    evbuffer_free(items);
}
