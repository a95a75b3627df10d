/*
 * tokcount.c: a chat request's prompt, in tokens, as two bounds.
 *
 * The walk follows what a provider renders into the model's context:
 * each message's role, name and content (text, images, audio), the
 * assistant's tool calls, the tool definitions and a json_schema
 * response format. Text goes through the model's tokenizer while the
 * exact-count budget lasts; everything else through the proven bounds
 * (tokcount.h). The bounds of a request are sums of the bounds of its
 * parts, so each part's rule is stated where it is counted.
 */

#include <stdlib.h>
#include <string.h>

#include <strings.h>
#include "common/tokens/tokcount.h"

/* OpenAI's chat template (the cookbook's num_tokens_from_messages). */
#define TC_PER_MESSAGE      3
#define TC_PER_NAME         1
#define TC_REPLY_PRIMING    3
/* The cookbook's tool formula for gpt-4o and gpt-4o-mini. */
#define TC_FUNC_INIT        7
#define TC_PROP_INIT        3
#define TC_PROP_KEY         3
#define TC_ENUM_INIT        (-3)
#define TC_ENUM_ITEM        3
#define TC_FUNC_END         12
/* A tool call in an assistant message: its name and arguments, and the
 * few markers around them. */
#define TC_PER_TOOL_CALL    3

typedef struct {
    const fg_token_profile_t *p;
    const fg_jdoc_t          *doc;
    size_t                    budget;        /* exact bytes left */
    int64_t                   max_token;     /* the lower bound's divisor */
    char                     *scratch;       /* decoded strings */
    size_t                    scratch_cap;
    fg_tokcount_t            *out;
} tc_t;

void
fg_token_profile_default(fg_token_profile_t *p)
{
    memset(p, 0, sizeof(*p));
    p->image.kind = FG_IMAGE_FORMULA_TILES;
    p->image.base = 85;
    p->image.per_tile = 170;
    p->audio_tokens_per_second = 10;
    p->max_token_bytes = FG_TOKCOUNT_MAX_TOKEN_BYTES;
}

/* Room for @need bytes (and a NUL) in the scratch; 0 when out of memory,
 * and the caller bounds instead of counting. */
static int
tc_reserve(tc_t *c, size_t need)
{
    char *p;

    if (need + 1 <= c->scratch_cap) {
        return 1;
    }
    p = realloc(c->scratch, need + 1);
    if (p == NULL) {
        return 0;
    }
    c->scratch = p;
    c->scratch_cap = need + 1;
    return 1;
}

/* The proven bounds of @len bytes of text: a byte-level BPE makes at
 * most one token a byte and at least one a longest token. */
static void
tc_text_bounded(tc_t *c, size_t len, fg_token_bounds_t *into)
{
    into->upper += (int64_t) len;
    into->lower += ((int64_t) len + c->max_token - 1) / c->max_token;
    c->out->bounded_bytes += (int64_t) len;
}

/* Whether @len bytes of text are counted by the tokenizer (what is left
 * of the budget holds them) rather than bounded. */
static int
tc_counts_exactly(const tc_t *c, size_t len)
{
    return c->p->bpe != NULL && len <= c->budget;
}

/* @len bytes of decoded text, exactly while the budget lasts. */
static void
tc_text(tc_t *c, const char *s, size_t len, fg_token_bounds_t *into)
{
    fg_token_bounds_t b = { 0, 0 };

    if (len == 0) {
        return;
    }
    if (!tc_counts_exactly(c, len)) {
        tc_text_bounded(c, len, into);
        return;
    }
    fg_bpe_count(c->p->bpe, s, len, &b);
    c->budget -= len;
    c->out->exact_bytes += (int64_t) len;
    fg_token_bounds_add(into, &b);
}

/*
 * The decoded bytes of string node @i: the body's own bytes when the
 * string holds no escape, else a copy in the scratch at @at (so that
 * two strings can sit side by side). NULL (with *@len the decoded
 * length) when a copy is needed and cannot be made.
 */
static const char *
tc_string(tc_t *c, int i, size_t at, size_t *len)
{
    const fg_jnode_t *n = &c->doc->nodes[i];

    if (!n->has_escapes) {
        *len = n->len - 2;
        return c->doc->buf + n->start + 1;
    }
    *len = fg_jdoc_str_len(c->doc, i);
    if (!tc_reserve(c, at + *len)) {
        return NULL;
    }
    (void) fg_jdoc_str_copy(c->doc, i, c->scratch + at, *len + 1);
    return c->scratch + at;
}

/* String node @i as text (nothing for a non-string). */
static void
tc_string_text(tc_t *c, int i, fg_token_bounds_t *into)
{
    const char *s;
    size_t      len;

    if (fg_jdoc_type(c->doc, i) != FG_JSTRING) {
        return;
    }
    /* Text that is only bounded needs its length, not a decoded copy. */
    len = c->doc->nodes[i].has_escapes ? fg_jdoc_str_len(c->doc, i)
                                       : c->doc->nodes[i].len - 2;
    if (!tc_counts_exactly(c, len)) {
        tc_text_bounded(c, len, into);
        return;
    }
    s = tc_string(c, i, 0, &len);
    if (s == NULL) {
        tc_text_bounded(c, len, into);
        return;
    }
    tc_text(c, s, len, into);
}

/* Any node's JSON text, as it stands in the body: bounds what a
 * provider may render of it (a schema, an unknown part). */
static void
tc_raw_text(tc_t *c, int i, fg_token_bounds_t *into)
{
    const fg_jnode_t *n = &c->doc->nodes[i];

    tc_text(c, c->doc->buf + n->start, n->len, into);
}

/* The template's markers: exact under a known tokenizer, at most
 * FG_TOKCOUNT_TEMPLATE_MAX (and at least none) without one. */
static void
tc_markers(tc_t *c, int64_t known)
{
    if (c->p->bpe != NULL) {
        fg_token_bounds_add_exact(&c->out->template, known);
    } else {
        c->out->template.upper += FG_TOKCOUNT_TEMPLATE_MAX;
    }
}

static fg_image_detail_t
tc_detail(tc_t *c, int detail)
{
    if (fg_jdoc_str_eq(c->doc, detail, "low")) {
        return FG_IMAGE_DETAIL_LOW;
    }
    if (fg_jdoc_str_eq(c->doc, detail, "high")) {
        return FG_IMAGE_DETAIL_HIGH;
    }
    return FG_IMAGE_DETAIL_AUTO;
}

/* An image part: its size read from a data: URL, the formula's range
 * for one that is not (a remote image is never fetched). */
static void
tc_image(tc_t *c, int part)
{
    const fg_jdoc_t  *doc = c->doc;
    int               obj, url;
    uint32_t          w = 0, h = 0;
    int               has_size = 0;
    const char       *s;
    size_t            len;
    fg_token_bounds_t b = { 0, 0 };

    obj = fg_jdoc_get(doc, part, "image_url");
    url = fg_jdoc_get(doc, obj, "url");
    if (fg_jdoc_type(doc, url) == FG_JSTRING) {
        s = tc_string(c, url, 0, &len);
        if (s != NULL && len > 5 && strncasecmp(s, "data:", 5) == 0) {
            has_size = fg_image_size_data_url(s, len, &w, &h)
                       != FG_IMAGE_UNKNOWN;
        }
    }
    fg_image_tokens(&c->p->image,
                    tc_detail(c, fg_jdoc_get(doc, obj, "detail")),
                    has_size, w, h, &b);
    fg_token_bounds_add(&c->out->images, &b);
    c->out->image_count++;
}

/* An audio part: its duration (read, or bounded by its size) at the
 * model's rate, rounded up. */
static void
tc_audio(tc_t *c, int part)
{
    const fg_jdoc_t  *doc = c->doc;
    int               obj, data, format;
    char              fmt[16];
    const char       *s = "";
    size_t            len = 0;
    int64_t           rate = c->p->audio_tokens_per_second;
    fg_token_bounds_t ms = { 0, FG_TOKCOUNT_AUDIO_MAX_MS };

    obj = fg_jdoc_get(doc, part, "input_audio");
    data = fg_jdoc_get(doc, obj, "data");
    format = fg_jdoc_get(doc, obj, "format");
    fmt[0] = '\0';
    if (fg_jdoc_type(doc, format) == FG_JSTRING) {
        (void) fg_jdoc_str_copy(doc, format, fmt, sizeof(fmt));
    }
    if (fg_jdoc_type(doc, data) == FG_JSTRING) {
        s = tc_string(c, data, 0, &len);
        if (s == NULL) {
            s = "";
            len = 0;
        }
    }
    fg_audio_duration_ms(fmt, s, len, FG_TOKCOUNT_AUDIO_MAX_MS, &ms);
    c->out->audio.lower += ms.lower * rate / 1000;
    c->out->audio.upper += (ms.upper * rate + 999) / 1000;
}

/* One content part of a message. */
static void
tc_part(tc_t *c, int part)
{
    const fg_jdoc_t  *doc = c->doc;
    int               type = fg_jdoc_get(doc, part, "type");
    fg_token_bounds_t raw = { 0, 0 };

    if (fg_jdoc_str_eq(doc, type, "text")) {
        tc_string_text(c, fg_jdoc_get(doc, part, "text"), &c->out->text);
    } else if (fg_jdoc_str_eq(doc, type, "refusal")) {
        tc_string_text(c, fg_jdoc_get(doc, part, "refusal"), &c->out->text);
    } else if (fg_jdoc_str_eq(doc, type, "image_url")) {
        tc_image(c, part);
    } else if (fg_jdoc_str_eq(doc, type, "input_audio")) {
        tc_audio(c, part);
    } else {
        /* A file or a part type the gateway does not know: at most its
         * JSON text, at least nothing. */
        tc_raw_text(c, part, &raw);
        c->out->text.upper += raw.upper;
    }
}

/* An assistant's call: the function's name and arguments, and markers. */
static void
tc_call(tc_t *c, int function)
{
    tc_string_text(c, fg_jdoc_get(c->doc, function, "name"), &c->out->text);
    tc_string_text(c, fg_jdoc_get(c->doc, function, "arguments"),
                   &c->out->text);
    tc_markers(c, TC_PER_TOOL_CALL);
}

static void
tc_message(tc_t *c, int msg)
{
    const fg_jdoc_t *doc = c->doc;
    int              content, calls, call, name;

    tc_markers(c, TC_PER_MESSAGE);
    tc_string_text(c, fg_jdoc_get(doc, msg, "role"), &c->out->text);
    name = fg_jdoc_get(doc, msg, "name");
    if (fg_jdoc_type(doc, name) == FG_JSTRING) {
        tc_string_text(c, name, &c->out->text);
        tc_markers(c, TC_PER_NAME);
    }
    /* The cookbook counts every string of the message. */
    tc_string_text(c, fg_jdoc_get(doc, msg, "tool_call_id"), &c->out->text);
    content = fg_jdoc_get(doc, msg, "content");
    if (fg_jdoc_type(doc, content) == FG_JSTRING) {
        tc_string_text(c, content, &c->out->text);
    } else if (fg_jdoc_type(doc, content) == FG_JARRAY) {
        for (call = fg_jdoc_first(doc, content); call != FG_JNONE;
             call = fg_jdoc_next(doc, content, call)) {
            tc_part(c, call);
        }
    }
    calls = fg_jdoc_get(doc, msg, "tool_calls");
    if (fg_jdoc_type(doc, calls) == FG_JARRAY) {
        for (call = fg_jdoc_first(doc, calls); call != FG_JNONE;
             call = fg_jdoc_next(doc, calls, call)) {
            tc_call(c, fg_jdoc_get(doc, call, "function"));
        }
    }
    if (fg_jdoc_type(doc, fg_jdoc_get(doc, msg, "function_call"))
        == FG_JOBJECT) {
        tc_call(c, fg_jdoc_get(doc, msg, "function_call"));
    }
}

/*
 * "a:b" or "a:b:c" of string nodes (a missing one reads as ""), a
 * trailing '.' of the last dropped, as the cookbook writes a function's
 * or a property's line; counted as text.
 */
static void
tc_line(tc_t *c, const int *nodes, size_t n, fg_token_bounds_t *into)
{
    size_t      at = 0, len, k;
    const char *s;

    for (k = 0; k < n; k++) {
        if (k > 0) {
            if (!tc_reserve(c, at + 1)) {
                return;
            }
            c->scratch[at++] = ':';
        }
        if (fg_jdoc_type(c->doc, nodes[k]) != FG_JSTRING) {
            continue;
        }
        len = fg_jdoc_str_len(c->doc, nodes[k]);
        if (!tc_reserve(c, at + len)) {
            return;
        }
        (void) fg_jdoc_str_copy(c->doc, nodes[k], c->scratch + at, len + 1);
        s = c->scratch + at;
        at += len;
        if (k == n - 1 && len > 0 && s[len - 1] == '.') {
            at--;
        }
    }
    tc_text(c, c->scratch, at, into);
}

/* One function by the cookbook: its line, then each property's. */
static int64_t
tc_function_cookbook(tc_t *c, int function)
{
    const fg_jdoc_t  *doc = c->doc;
    fg_token_bounds_t b = { 0, 0 };
    int               line[3], props, key, prop, item, items;
    int64_t           n = TC_FUNC_INIT;

    line[0] = fg_jdoc_get(doc, function, "name");
    line[1] = fg_jdoc_get(doc, function, "description");
    tc_line(c, line, 2, &b);
    props = fg_jdoc_get(doc, fg_jdoc_get(doc, function, "parameters"),
                        "properties");
    if (fg_jdoc_type(doc, props) == FG_JOBJECT && doc->nodes[props].count) {
        n += TC_PROP_INIT;
        for (key = fg_jdoc_first(doc, props); key != FG_JNONE;
             key = fg_jdoc_next(doc, props, key)) {
            prop = key + 1;
            n += TC_PROP_KEY;
            items = fg_jdoc_get(doc, prop, "enum");
            if (fg_jdoc_type(doc, items) == FG_JARRAY) {
                n += TC_ENUM_INIT;
                for (item = fg_jdoc_first(doc, items); item != FG_JNONE;
                     item = fg_jdoc_next(doc, items, item)) {
                    n += TC_ENUM_ITEM;
                    tc_string_text(c, item, &b);
                }
            }
            line[0] = key;
            line[1] = fg_jdoc_get(doc, prop, "type");
            line[2] = fg_jdoc_get(doc, prop, "description");
            tc_line(c, line, 3, &b);
        }
    }
    return n + b.lower;
}

/*
 * Tool definitions ("tools", or the older "functions"). With a known
 * tokenizer the lower bound is the cookbook's formula (which reads only
 * names, descriptions, property types and enums) and the upper bound is
 * the larger of it and every definition's whole JSON text plus the same
 * markers: a provider renders no more than the definition says. Without
 * one: at most the JSON text's bytes and the markers, at least nothing.
 */
static void
tc_tools(tc_t *c, int list, int is_legacy)
{
    const fg_jdoc_t  *doc = c->doc;
    fg_token_bounds_t raw = { 0, 0 };
    int64_t           cookbook = 0, markers = 0;
    int               tool, function;

    if (fg_jdoc_type(doc, list) != FG_JARRAY || doc->nodes[list].count == 0) {
        return;
    }
    for (tool = fg_jdoc_first(doc, list); tool != FG_JNONE;
         tool = fg_jdoc_next(doc, list, tool)) {
        function = is_legacy ? tool : fg_jdoc_get(doc, tool, "function");
        markers += TC_FUNC_INIT;
        tc_raw_text(c, tool, &raw);
        if (c->p->bpe != NULL && fg_jdoc_type(doc, function) == FG_JOBJECT) {
            cookbook += tc_function_cookbook(c, function);
        }
    }
    cookbook += TC_FUNC_END;
    markers += TC_FUNC_END;
    if (c->p->bpe == NULL) {
        c->out->tools.upper += raw.upper + markers;
        return;
    }
    c->out->tools.lower += cookbook;
    c->out->tools.upper += cookbook > raw.upper + markers
                           ? cookbook : raw.upper + markers;
}

/* A walk over @doc from @budget exact bytes, adding into @out. */
static void
tc_begin(tc_t *c, const fg_token_profile_t *profile, const fg_jdoc_t *doc,
         size_t budget, fg_tokcount_t *out)
{
    memset(out, 0, sizeof(*out));
    memset(c, 0, sizeof(*c));
    c->p = profile;
    c->doc = doc;
    c->budget = budget;
    c->out = out;
    c->max_token = profile->bpe != NULL
                   ? (int64_t) fg_bpe_max_token_bytes(profile->bpe)
                   : profile->max_token_bytes;
    if (c->max_token < 1) {
        c->max_token = 1;
    }
}

/* The walk's parts summed into the prompt, its scratch freed. */
static void
tc_end(tc_t *c)
{
    fg_tokcount_t *out = c->out;

    fg_token_bounds_add(&out->prompt, &out->text);
    fg_token_bounds_add(&out->prompt, &out->template);
    fg_token_bounds_add(&out->prompt, &out->tools);
    fg_token_bounds_add(&out->prompt, &out->images);
    fg_token_bounds_add(&out->prompt, &out->audio);
    free(c->scratch);
    c->scratch = NULL;
}

/* What the request adds after its messages: the reply's priming, the
 * tool definitions and a json_schema response format. */
static void
tc_rest(tc_t *c)
{
    const fg_jdoc_t  *doc = c->doc;
    int               format;
    fg_token_bounds_t schema = { 0, 0 };

    tc_markers(c, TC_REPLY_PRIMING);
    tc_tools(c, fg_jdoc_get(doc, 0, "tools"), 0);
    tc_tools(c, fg_jdoc_get(doc, 0, "functions"), 1);
    /* A schema the provider shows the model: at most its text. */
    format = fg_jdoc_get(doc, 0, "response_format");
    if (fg_jdoc_type(doc, fg_jdoc_get(doc, format, "json_schema"))
        == FG_JOBJECT) {
        tc_raw_text(c, fg_jdoc_get(doc, format, "json_schema"), &schema);
        c->out->tools.upper += schema.upper;
    }
}

void
fg_tokcount_chat(const fg_token_profile_t *profile, const fg_jdoc_t *doc,
                 size_t exact_budget, fg_tokcount_t *out)
{
    tc_t c;
    int  messages, msg;

    tc_begin(&c, profile, doc, exact_budget, out);
    messages = fg_jdoc_get(doc, 0, "messages");
    if (fg_jdoc_type(doc, messages) == FG_JARRAY) {
        for (msg = fg_jdoc_first(doc, messages); msg != FG_JNONE;
             msg = fg_jdoc_next(doc, messages, msg)) {
            tc_message(&c, msg);
        }
    }
    tc_rest(&c);
    tc_end(&c);
}

void
fg_tokcount_message(const fg_token_profile_t *profile, const fg_jdoc_t *doc,
                    int msg, size_t *budget, fg_tokcount_t *out)
{
    tc_t c;

    tc_begin(&c, profile, doc, *budget, out);
    tc_message(&c, msg);
    tc_end(&c);
    *budget = c.budget;
}

void
fg_tokcount_chat_rest(const fg_token_profile_t *profile, const fg_jdoc_t *doc,
                      size_t *budget, fg_tokcount_t *out)
{
    tc_t c;

    tc_begin(&c, profile, doc, *budget, out);
    tc_rest(&c);
    tc_end(&c);
    *budget = c.budget;
}

/* One input of an embeddings request: its text, or its token ids (the
 * count is theirs: exact, whatever the tokenizer). */
static void
tc_input(tc_t *c, int input, fg_token_bounds_t *into)
{
    if (fg_jdoc_type(c->doc, input) == FG_JARRAY) {
        into->lower += (int64_t) c->doc->nodes[input].count;
        into->upper += (int64_t) c->doc->nodes[input].count;
        return;
    }
    tc_string_text(c, input, into);
}

void
fg_tokcount_inputs(const fg_token_profile_t *profile, const fg_jdoc_t *doc,
                   const char *member, const char *suffix,
                   size_t exact_budget, fg_tokcount_t *out,
                   int64_t *largest_lower)
{
    tc_t              c;
    int               input, e;
    int64_t           inputs = 1;
    fg_token_bounds_t one;

    tc_begin(&c, profile, doc, exact_budget, out);
    *largest_lower = 0;
    input = fg_jdoc_get(doc, 0, member);
    /* A string, token ids (one input), or an array of inputs. */
    if (fg_jdoc_type(doc, input) != FG_JARRAY
        || fg_jdoc_type(doc, fg_jdoc_first(doc, input)) == FG_JINT) {
        one.lower = one.upper = 0;
        tc_input(&c, input, &one);
        fg_token_bounds_add(&out->text, &one);
        *largest_lower = one.lower;
    } else {
        inputs = 0;
        for (e = fg_jdoc_first(doc, input); e != FG_JNONE;
             e = fg_jdoc_next(doc, input, e)) {
            one.lower = one.upper = 0;
            tc_input(&c, e, &one);
            fg_token_bounds_add(&out->text, &one);
            if (one.lower > *largest_lower) {
                *largest_lower = one.lower;
            }
            inputs++;
        }
    }
    /* A suffix follows every input: counted once, had by each. */
    if (suffix != NULL) {
        one.lower = one.upper = 0;
        tc_string_text(&c, fg_jdoc_get(doc, 0, suffix), &one);
        out->text.lower += one.lower * inputs;
        out->text.upper += one.upper * inputs;
        *largest_lower += one.lower;
    }
    tc_end(&c);
}

