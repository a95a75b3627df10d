/*
 * plan.c: what fg-sim answers to a chat-completions request.
 *
 * The answer is a pure function of the body, so tests can predict it:
 *
 * 1) Text. The last user message's text (a string, or the "text" parts of an
 *    array joined by spaces) is split on white space, and the reply is the
 *    word "echo:" followed by those words, repeated as needed, one space
 *    between words. One word is one token: the first token is "echo:", every
 *    later one is " word" with its leading space, so the stream's deltas
 *    concatenate to the non-stream content, and a choice's content has as
 *    many words as it has tokens (unless a stop string cuts inside a word).
 *    A request without words echoes "sim". The reply has
 *    max_completion_tokens (else max_tokens, else 16) words.
 * 2) JSON. With response_format json_object the content is
 *    {"echo":"<user text>"}; with json_schema it is the instance schema.c
 *    builds (its keywords honoured, bounded), or the json_object answer
 *    when the schema leaves the object open (no properties, required,
 *    $ref or combination, additionalProperties not false) and the
 *    instance is {}. Its tokens are the pieces between spaces, at most 8
 *    bytes (the echoed text is cut at FG_SIM_MAX_TEXT_BYTES).
 * 3) Tools. With a function tool, the message is a tool call (the
 *    function tool_choice names, else the first) whose arguments are the
 *    instance schema.c builds from its parameters, finish_reason
 *    "tool_calls", content null; unless tool_choice is "none", or the last
 *    message is a tool result (role "tool" or "function") and tool_choice
 *    is neither "required" nor a named function: then the answer is text
 *    (1) whose words are the last user message's followed by those of the
 *    tool results that end the conversation, so it mentions them and an
 *    agent loop ends. Tokens as in 2.
 * 4) Every message carries "refusal": null (a stream's first delta too).
 *    With logprobs true each choice's logprobs is {"content": [{token,
 *    logprob, bytes, top_logprobs}], "refusal": null}, one entry per
 *    content token as sent (a stream's content chunks carry their
 *    token's), top_logprobs entries (0 to 20) starting with the token
 *    itself; values from fg_sim_logprob() (plan.h), all <= -0.09; a tool
 *    call's content is null. Without it logprobs is null. top_logprobs
 *    without logprobs true, or outside 0..20, is a 400.
 * 5) Malformed JSON. With "badjson-<class>" in the model name (fence,
 *    prose, truncated, comma, single, unquoted, comments, hopeless; an
 *    unknown class is a 400) the JSON of 2 and the arguments of 3 are made
 *    malformed as badjson.h says, before the token limit and stop strings
 *    apply; a plain text answer (1) stays as it is. Their tokens are then
 *    as a model's fall: a token starts at a space, after
 *    FG_SIM_BADJSON_PIECE_BYTES bytes, and just after every backslash, so
 *    a stream splits fences, words and escapes across deltas.
 * 6) Reasoning. With "reasoning" in the model name the reply reasons
 *    first: "reasoning-<n>" (1 to FG_SIM_MAX_REASONING) for n tokens, else
 *    FG_SIM_DEFAULT_REASONING; "reasoning-field" (or
 *    "reasoning-field-<n>") names the member "reasoning", as some
 *    providers do, instead of "reasoning_content". The text is the word
 *    "think:" and the user's words, tokens as in 1. A token limit counts
 *    reasoning in, as OpenAI's max_completion_tokens does: reasoning takes
 *    at most the limit less one token, the answer the rest. A non-stream
 *    message carries the text in that member; a stream sends it as deltas
 *    {"<member>": "..."} after the role event and before the first content
 *    (or arguments) delta. Usage counts the reasoning tokens in
 *    completion_tokens and says how many in
 *    completion_tokens_details.reasoning_tokens (0 without the tag).
 *
 * 7) "sse-split" in the model name sends each stream chunk's JSON over two
 *    data: lines (SSE joins them with a newline), as a provider may.
 *
 * Finish reason: "stop" when a stop string (a string or an array of them;
 * ignored for tool calls) cut the text, which then ends just before the
 * first occurrence, a token cut in two counting as one; otherwise "length"
 * when the token limit cut the answer, which for text means whenever max
 * tokens were given (the JSON and tool answers are then cut mid-way and
 * are not valid JSON); otherwise "stop" (or "tool_calls"). A text that
 * reaches FG_SIM_MAX_TEXT_BYTES ends there with "stop".
 *
 * Usage: completion_tokens is the tokens of one choice times n;
 * prompt_tokens is what the provider's tokenizer would count (count.c),
 * in the mode a tag in the model name picks: none, o200k_base's BPE (or
 * what FG_SIM_DEFAULT_TOK names); "tok-o200k", "tok-cl100k", "tok-dense"
 * or "tok-bytes4" that mode (an unknown one is a 400):
 *
 *   BPE (o200k, cl100k), as OpenAI's cookbook counts a chat: 3 to prime
 *     the reply, plus for each message 3 + tokens(role) + tokens(content)
 *     + tokens(tool_call_id) + (with "name": tokens(name) + 1) + for each
 *     of its tool_calls tokens(function.name) + tokens(function.arguments)
 *     + 3. A content array is the sum of its parts: "text" and "refusal"
 *     parts their text; "image_url" the image formula (below) at its
 *     detail ("auto" or none counts as "high": the provider chooses), for
 *     the size a data: URL states, else (a remote URL is not fetched) the
 *     formula's most; "input_audio" 10 tokens a second of the longest the
 *     data can last, at most an hour. The request's "tools" add, per
 *     function, 7 + tokens(name ":" description), and when its
 *     parameters.properties is a non-empty object 3 + per property
 *     3 + tokens(key ":" type ":" description), + (with "enum") -3 + per
 *     item 3 + tokens(item); then 12 once. A description loses a final
 *     '.'; a missing value reads as "", one that is not a string as its
 *     compact JSON. Text the tokenizer can only bound (a piece too long
 *     to merge) counts its upper bound.
 *   Dense: the same, but tokens(text) is 1 per non-ASCII code point, 1
 *     per ASCII punctuation mark or symbol, 1 per run of white space and
 *     ceil(len / 3) per run of ASCII letters and digits: denser than BPE
 *     on most non-English text, as a tokenizer the gateway does not ship
 *     may be.
 *   Bytes4: the bytes of every message's content (strings and text
 *     parts) divided by 4, rounded up, at least 1; the rest is free.
 *
 * The image formula is gpt-4o's tiles (85 + 170 a 512-px tile); with the
 * tag "img-mini" gpt-4o-mini's (2833 + 5667), with "img-patches" 32-px
 * patches (at most 1536, 1.62 tokens each). The usage tags
 * "overcount-<k>", "overprompt-<k>" and "negative-usage" (fg-sim.c) then
 * change the counts reported. Nothing here looks at headers, the clock or
 * fault modes: fg-sim.c and call.c own those.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "tests/sim/badjson.h"
#include "tests/sim/plan.h"
#include "tests/sim/schema.h"

typedef struct {
    size_t text_cap;
    size_t piece_cap;
} plan_caps_t;

static int plan_limit(json_t *body, size_t *limit, int *has_limit,
    char *err, size_t err_size);
static char *plan_text_of(json_t *content, size_t *len);
static char *plan_user_text(json_t *messages, size_t *len);
static void plan_push(fg_sim_plan_t *plan, plan_caps_t *caps, const char *s,
    size_t len, int is_new_piece);
static int plan_is_space(char c);
static int plan_next_word(const char *s, size_t len, size_t *pos,
    size_t *start, size_t *word_len);
static int plan_tags(const char *model, fg_sim_badjson_t *badjson,
    size_t *reasoning, const char **field, char *err, size_t err_size);
static void plan_echo(fg_sim_plan_t *plan, const char *first,
    const char *user, size_t user_len, size_t limit, int has_limit);
static void plan_reason(fg_sim_plan_t *plan, const char *user,
    size_t user_len, size_t tokens);
static void plan_split(fg_sim_plan_t *plan, char *text, size_t len,
    fg_sim_badjson_t badjson);
static size_t plan_text_len(const fg_sim_plan_t *plan);
static void plan_cut(fg_sim_plan_t *plan, size_t at);
static void plan_apply_limit(fg_sim_plan_t *plan, size_t limit,
    int has_limit, const char *finish_reason);
static void plan_apply_stop(fg_sim_plan_t *plan, json_t *stop);
static int plan_logprobs(json_t *body, fg_sim_plan_t *plan, char *err,
    size_t err_size);
static int plan_is_after_tool(json_t *messages);
static json_t *plan_pick_tool(json_t *body, int is_after_tool);
static int plan_is_open_schema(json_t *schema);
static json_t *plan_logprob_entry(const fg_sim_plan_t *plan, size_t i);
static json_t *plan_logprobs_of(const fg_sim_plan_t *plan, size_t from,
    size_t to);
static char *plan_dump(json_t *json, size_t *len);
static char *plan_echo_object(const char *user, size_t user_len, size_t *len);
static void plan_build_prefix(fg_sim_plan_t *plan);
static void plan_add_escaped(struct evbuffer *out, const char *s,
    size_t len);
static void plan_chunk_open(const fg_sim_plan_t *plan, struct evbuffer *out,
    unsigned index);
static void plan_chunk_close(const fg_sim_plan_t *plan, struct evbuffer *out,
    const char *finish_reason, size_t piece);
static json_t *plan_usage(const fg_sim_plan_t *plan);
static void plan_usage_tags(fg_sim_plan_t *plan);
static int plan_dump_cb(const char *buffer, size_t size, void *data);

int
fg_sim_plan_build(fg_sim_plan_t *plan, json_t *body,
    const fg_sim_tokenizers_t *toks, uint64_t seq, int64_t created_s,
    char *err, size_t err_size)
{
    json_t *model, *messages, *n, *format, *tool, *stream_options;
    fg_sim_counting_t counting;
    fg_sim_badjson_t badjson;
    const char *format_type, *reasoning_field;
    char *user, *text;
    size_t user_len, text_len, limit, reasoning;
    int has_limit;

    if (fg_sim_plan_model(body, err, err_size) == NULL) {
        return -1;
    }
    model = json_object_get(body, "model");
    messages = json_object_get(body, "messages");
    if (!json_is_array(messages) || json_array_size(messages) == 0) {
        snprintf(err, err_size, "'messages' must be a non-empty array");
        return -1;
    }
    n = json_object_get(body, "n");
    if (n != NULL && !json_is_null(n)
        && (!json_is_integer(n) || json_integer_value(n) < 1
            || json_integer_value(n) > FG_SIM_MAX_CHOICES))
    {
        snprintf(err, err_size, "'n' must be an integer from 1 to %d",
                 FG_SIM_MAX_CHOICES);
        return -1;
    }
    if (plan_limit(body, &limit, &has_limit, err, err_size) != 0
        || plan_logprobs(body, plan, err, err_size) != 0)
    {
        return -1;
    }
    if (fg_sim_counting_for_model(&counting, toks, json_string_value(model),
                                  err, err_size) != 0
        || plan_tags(json_string_value(model), &badjson, &reasoning,
                     &reasoning_field, err, err_size) != 0)
    {
        return -1;
    }

    plan->seq = seq;
    plan->id_prefix = "chatcmpl-sim-";
    plan->created_s = created_s;
    plan->model = fg_xstrdup(json_string_value(model));
    plan->is_stream = json_is_true(json_object_get(body, "stream"));
    stream_options = json_object_get(body, "stream_options");
    plan->has_usage = plan->is_stream
        && json_is_true(json_object_get(stream_options, "include_usage"));
    plan->n_choices = json_is_integer(n) ? (unsigned) json_integer_value(n)
                                         : 1;
    plan->prompt_tokens = fg_sim_count_prompt(&counting, body);

    user = plan_user_text(messages, &user_len);
    if (reasoning > 0) {
        /* The limit bounds reasoning and answer together (6). */
        if (has_limit && reasoning > limit - 1) {
            reasoning = limit - 1;
        }
        plan_reason(plan, user, user_len, reasoning);
        plan->reasoning_field = reasoning_field;
        if (has_limit) {
            limit -= plan->n_reasoning;
        }
    }
    format = json_object_get(body, "response_format");
    format_type = json_string_value(json_object_get(format, "type"));
    tool = plan_pick_tool(body, plan_is_after_tool(messages));

    if (tool != NULL) {
        json_t *args = fg_sim_schema_fill(json_object_get(tool,
                                                          "parameters"));

        if (!json_is_object(args)) {
            json_decref(args);
            args = json_object();
        }
        plan->is_tool_call = 1;
        plan->tool_name = fg_xstrdup(
            json_string_value(json_object_get(tool, "name")));
        text = plan_dump(args, &text_len);
        json_decref(args);
        plan_split(plan, text, text_len, badjson);
        plan_apply_limit(plan, limit, has_limit, "tool_calls");

    } else if (format_type != NULL
               && (strcmp(format_type, "json_object") == 0
                   || strcmp(format_type, "json_schema") == 0))
    {
        json_t *schema, *filled = NULL;

        schema = json_object_get(json_object_get(format, "json_schema"),
                                 "schema");
        if (strcmp(format_type, "json_schema") == 0) {
            filled = fg_sim_schema_fill(schema);
        }
        if (filled != NULL
            && !(plan_is_open_schema(schema) && json_is_object(filled)
                 && json_object_size(filled) == 0))
        {
            text = plan_dump(filled, &text_len);
        } else {
            text = plan_echo_object(user, user_len, &text_len);
        }
        json_decref(filled);
        plan_split(plan, text, text_len, badjson);
        plan_apply_limit(plan, limit, has_limit, "stop");
        plan_apply_stop(plan, json_object_get(body, "stop"));

    } else {
        fg_sim_plan_echo(plan, "echo:", user, user_len, limit, has_limit,
                         json_object_get(body, "stop"));
    }
    free(user);

    plan->completion_tokens = (uint64_t) fg_sim_plan_n_tokens(plan)
                              * plan->n_choices;
    plan->reasoning_tokens = (uint64_t) plan->n_reasoning * plan->n_choices;
    plan_usage_tags(plan);
    if (plan->is_stream) {
        plan_build_prefix(plan);
    }
    return 0;
}

void
fg_sim_plan_can(fg_sim_plan_t *plan, struct evbuffer *out)
{
    plan->canned_len = evbuffer_get_length(out);
    plan->canned = fg_xmalloc(plan->canned_len + 1);
    evbuffer_remove(out, plan->canned, plan->canned_len);
    evbuffer_free(out);
}

const char *
fg_sim_plan_model(json_t *body, char *err, size_t err_size)
{
    json_t *model = json_object_get(body, "model");

    if (!json_is_object(body)) {
        snprintf(err, err_size, "the request body must be a JSON object");
        return NULL;
    }
    if (!json_is_string(model) || json_string_length(model) == 0) {
        snprintf(err, err_size, "you must provide a model parameter");
        return NULL;
    }
    return json_string_value(model);
}

void
fg_sim_plan_cleanup(fg_sim_plan_t *plan)
{
    if (plan == NULL) {
        return;
    }
    free(plan->model);
    free(plan->text);
    free(plan->piece_end);
    free(plan->tool_name);
    free(plan->reasoning);
    free(plan->reasoning_end);
    free(plan->chunk_prefix);
    free(plan->canned);
    memset(plan, 0, sizeof(*plan));
}

size_t
fg_sim_plan_n_tokens(const fg_sim_plan_t *plan)
{
    return plan->n_reasoning + plan->n_pieces;
}

/*
 * Reads the tags of 5 and 6 from @model. *@reasoning gets 0 without a
 * reasoning tag. A tag spelled wrong is a 400, as a typo in a test should
 * fail loudly rather than pass as a plain reply.
 */
static int
plan_tags(const char *model, fg_sim_badjson_t *badjson, size_t *reasoning,
    const char **field, char *err, size_t err_size)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const char *p;
    size_t len, n;

    *badjson = FG_SIM_BADJSON_NONE;
    if ((p = strstr(model, "badjson-")) != NULL) {
        p += sizeof("badjson-") - 1;
        if (fg_sim_badjson_parse(p, strspn(p, alnum), badjson) != 0) {
            snprintf(err, err_size, "unknown badjson class in model \"%s\"",
                     model);
            return -1;
        }
    }

    *reasoning = 0;
    *field = "reasoning_content";
    if ((p = strstr(model, "reasoning")) == NULL) {
        return 0;
    }
    p += sizeof("reasoning") - 1;
    if (strspn(p, alnum) > 0) {
        goto bad;
    }
    *reasoning = FG_SIM_DEFAULT_REASONING;
    if (strncmp(p, "-field", 6) == 0 && strspn(p + 6, alnum) == 0) {
        *field = "reasoning";
        p += 6;
    }
    if (p[0] == '-' && p[1] >= '0' && p[1] <= '9') {
        len = strspn(p + 1, "0123456789");
        if (len > 7 || strspn(p + 1 + len, alnum) > 0) {
            goto bad;
        }
        for (n = 0; len > 0; len--) {
            n = n * 10 + (size_t) (*++p - '0');
        }
        if (n < 1 || n > FG_SIM_MAX_REASONING) {
            goto bad;
        }
        *reasoning = n;
    }
    return 0;

bad:
    snprintf(err, err_size, "bad reasoning tag in model \"%s\" (reasoning, "
             "reasoning-field, then -<n> for 1 to %d tokens)", model,
             FG_SIM_MAX_REASONING);
    return -1;
}

/*
 * max_completion_tokens wins over the deprecated max_tokens, as at OpenAI.
 * The limit stays a size_t: a huge value is harmless because generation
 * also stops at FG_SIM_MAX_TEXT_BYTES.
 */
static int
plan_limit(json_t *body, size_t *limit, int *has_limit, char *err,
    size_t err_size)
{
    static const char *const names[] = {
        "max_completion_tokens", "max_tokens"
    };
    json_t *v;
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        v = json_object_get(body, names[i]);
        if (v == NULL || json_is_null(v)) {
            continue;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 1) {
            snprintf(err, err_size, "'%s' must be a positive integer",
                     names[i]);
            return -1;
        }
        *limit = (size_t) json_integer_value(v);
        *has_limit = 1;
        return 0;
    }
    *limit = FG_SIM_DEFAULT_TOKENS;
    *has_limit = 0;
    return 0;
}

/* Returns the owned text of a message content: a string or text parts. */
static char *
plan_text_of(json_t *content, size_t *len)
{
    json_t *part;
    const char *s;
    char *text;
    size_t i, n, used = 0;

    if (json_is_string(content)) {
        *len = json_string_length(content);
        return fg_xstrndup(json_string_value(content), *len);
    }
    text = fg_xstrdup("");
    json_array_foreach(content, i, part) {
        s = json_string_value(json_object_get(part, "text"));
        if (s == NULL) {
            continue;
        }
        n = json_string_length(json_object_get(part, "text"));
        text = fg_xrealloc(text, used + n + 2);
        if (used > 0) {
            text[used++] = ' ';
        }
        memcpy(text + used, s, n);
        used += n;
        text[used] = '\0';
    }
    *len = used;
    return text;
}

/*
 * Returns the owned text of the last message with role "user", followed
 * by the tool results that end the conversation (rule 3: the answer after
 * a tool call mentions its result).
 */
static char *
plan_user_text(json_t *messages, size_t *len)
{
    json_t *msg;
    const char *role;
    char *text, *more;
    size_t i, n, more_len;

    n = json_array_size(messages);
    for (i = n; i > 0; i--) {
        msg = json_array_get(messages, i - 1);
        role = json_string_value(json_object_get(msg, "role"));
        if (role != NULL && strcmp(role, "user") == 0) {
            break;
        }
    }
    if (i == 0) {
        *len = 0;
        text = fg_xstrdup("");
    } else {
        text = plan_text_of(json_object_get(msg, "content"), len);
    }
    for (i = n; i > 0; i--) {
        role = json_string_value(json_object_get(
            json_array_get(messages, i - 1), "role"));
        if (role == NULL || (strcmp(role, "tool") != 0
                             && strcmp(role, "function") != 0))
        {
            break;
        }
    }
    for (; i < n; i++) {
        more = plan_text_of(json_object_get(json_array_get(messages, i),
                                            "content"), &more_len);
        text = fg_xrealloc(text, *len + more_len + 2);
        text[(*len)++] = ' ';
        memcpy(text + *len, more, more_len + 1);
        *len += more_len;
        free(more);
    }
    return text;
}

/* Appends @s to the text; a new piece starts with it or it extends one. */
static void
plan_push(fg_sim_plan_t *plan, plan_caps_t *caps, const char *s, size_t len,
    int is_new_piece)
{
    size_t used = plan_text_len(plan);

    if (used + len + 1 > caps->text_cap) {
        while (used + len + 1 > caps->text_cap) {
            caps->text_cap = caps->text_cap ? caps->text_cap * 2 : 256;
        }
        plan->text = fg_xrealloc(plan->text, caps->text_cap);
    }
    memcpy(plan->text + used, s, len);
    plan->text[used + len] = '\0';

    if (is_new_piece || plan->n_pieces == 0) {
        if (plan->n_pieces == caps->piece_cap) {
            caps->piece_cap = caps->piece_cap ? caps->piece_cap * 2 : 32;
            plan->piece_end = fg_xrealloc(plan->piece_end,
                                          caps->piece_cap * sizeof(size_t));
        }
        plan->n_pieces++;
    }
    plan->piece_end[plan->n_pieces - 1] = used + len;
}

static int
plan_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
           || c == '\v';
}

/*
 * Finds the next word of @s at or after *@pos, wrapping to the start once.
 * Returns 0 when @s has no word at all. Words longer than
 * FG_SIM_MAX_WORD_BYTES are cut on a UTF-8 boundary.
 */
static int
plan_next_word(const char *s, size_t len, size_t *pos, size_t *start,
    size_t *word_len)
{
    size_t p, pass, end;

    for (pass = 0; pass < 2; pass++) {
        p = *pos;
        while (p < len && plan_is_space(s[p])) {
            p++;
        }
        if (p < len) {
            end = p;
            while (end < len && !plan_is_space(s[end])) {
                end++;
            }
            *pos = end;
            *start = p;
            *word_len = end - p;
            if (*word_len > FG_SIM_MAX_WORD_BYTES) {
                *word_len = FG_SIM_MAX_WORD_BYTES;
                while (*word_len > 0
                       && ((unsigned char) s[p + *word_len] & 0xc0) == 0x80)
                {
                    (*word_len)--;
                }
            }
            return 1;
        }
        *pos = 0;
    }
    return 0;
}

static void
plan_echo(fg_sim_plan_t *plan, const char *first, const char *user,
    size_t user_len, size_t limit, int has_limit)
{
    plan_caps_t caps = { 0, 0 };
    size_t pos = 0, start, word_len;
    int is_capped = 0;

    if (*first != '\0') {
        plan_push(plan, &caps, first, strlen(first), 1);
    }
    while (plan->n_pieces < limit) {
        if (!plan_next_word(user, user_len, &pos, &start, &word_len)) {
            user = "sim";
            user_len = 3;
            continue;
        }
        if (plan_text_len(plan) + 1 + word_len > FG_SIM_MAX_TEXT_BYTES) {
            is_capped = 1;
            break;
        }
        plan_push(plan, &caps, " ", 1, 1);
        plan_push(plan, &caps, user + start, word_len, 0);
    }
    plan->finish_reason = (has_limit && !is_capped) ? "length" : "stop";
}

void
fg_sim_plan_echo(fg_sim_plan_t *plan, const char *first, const char *user,
    size_t user_len, size_t limit, int has_limit, json_t *stop)
{
    plan_echo(plan, first, user, user_len, limit, has_limit);
    if (plan->text == NULL) {
        plan->text = fg_xstrdup("");
    }
    plan_apply_stop(plan, stop);
}

/*
 * The reasoning of 6: @tokens tokens of "think:" and the user's words, made
 * as the text of 1 is and moved to the plan's reasoning members.
 */
static void
plan_reason(fg_sim_plan_t *plan, const char *user, size_t user_len,
    size_t tokens)
{
    fg_sim_plan_t r;

    if (tokens == 0) {
        return;
    }
    memset(&r, 0, sizeof(r));
    plan_echo(&r, "think:", user, user_len, tokens, 1);
    plan->reasoning = r.text;
    plan->reasoning_end = r.piece_end;
    plan->n_reasoning = r.n_pieces;
}

/*
 * Cuts @text (owned, taken) into tokens: a token starts at a space or after
 * FG_SIM_MAX_PIECE_BYTES bytes, never inside a UTF-8 sequence. With
 * @badjson the text is first made malformed, and a token also ends just
 * after a backslash, at most FG_SIM_BADJSON_PIECE_BYTES long (5).
 */
static void
plan_split(fg_sim_plan_t *plan, char *text, size_t len,
    fg_sim_badjson_t badjson)
{
    plan_caps_t caps = { 0, 0 };
    size_t i, start = 0, max = FG_SIM_MAX_PIECE_BYTES;

    if (badjson != FG_SIM_BADJSON_NONE) {
        char *bad = fg_sim_badjson_apply(badjson, text, len, &len);

        free(text);
        text = bad;
        max = FG_SIM_BADJSON_PIECE_BYTES;
    }
    for (i = 1; i <= len; i++) {
        if (i < len && ((unsigned char) text[i] & 0xc0) == 0x80) {
            continue;
        }
        if (i == len || text[i] == ' ' || i - start >= max
            || (badjson != FG_SIM_BADJSON_NONE && text[i - 1] == '\\'))
        {
            plan_push(plan, &caps, text + start, i - start, 1);
            start = i;
        }
    }
    if (plan->text == NULL) {
        plan->text = fg_xstrdup("");
    }
    free(text);
}

static size_t
plan_text_len(const fg_sim_plan_t *plan)
{
    return plan->n_pieces ? plan->piece_end[plan->n_pieces - 1] : 0;
}

/* Ends the text at byte @at: tokens that start before @at stay. */
static void
plan_cut(fg_sim_plan_t *plan, size_t at)
{
    size_t kept = 0;

    while (kept < plan->n_pieces
           && (kept == 0 ? 0 : plan->piece_end[kept - 1]) < at)
    {
        kept++;
    }
    plan->n_pieces = kept;
    if (kept > 0) {
        plan->piece_end[kept - 1] = at;
    }
    plan->text[at] = '\0';
}

static void
plan_apply_limit(fg_sim_plan_t *plan, size_t limit, int has_limit,
    const char *finish_reason)
{
    plan->finish_reason = finish_reason;
    if (has_limit && plan->n_pieces > limit) {
        plan_cut(plan, plan->piece_end[limit - 1]);
        plan->finish_reason = "length";
    }
}

/* Cuts the text before the first occurrence of any stop string. */
static void
plan_apply_stop(fg_sim_plan_t *plan, json_t *stop)
{
    json_t *one, *item;
    const char *hit;
    size_t i, len, best;
    int found = 0;

    if (json_is_string(stop)) {
        one = json_array();
        json_array_append(one, stop);
    } else if (json_is_array(stop)) {
        one = json_incref(stop);
    } else {
        return;
    }

    len = plan_text_len(plan);
    best = len;
    json_array_foreach(one, i, item) {
        if (!json_is_string(item) || json_string_length(item) == 0) {
            continue;
        }
        hit = memmem(plan->text, len, json_string_value(item),
                     json_string_length(item));
        if (hit != NULL && (size_t) (hit - plan->text) <= best) {
            best = (size_t) (hit - plan->text);
            found = 1;
        }
    }
    json_decref(one);

    if (found) {
        plan_cut(plan, best);
        plan->finish_reason = "stop";
    }
}

/*
 * Reads logprobs and top_logprobs as OpenAI checks them: a boolean, and an
 * integer 0..FG_SIM_MAX_TOP_LOGPROBS that needs logprobs true.
 */
static int
plan_logprobs(json_t *body, fg_sim_plan_t *plan, char *err, size_t err_size)
{
    json_t *lp = json_object_get(body, "logprobs");
    json_t *top = json_object_get(body, "top_logprobs");

    if (lp != NULL && !json_is_null(lp) && !json_is_boolean(lp)) {
        snprintf(err, err_size, "'logprobs' must be a boolean");
        return -1;
    }
    plan->has_logprobs = json_is_true(lp);
    if (top == NULL || json_is_null(top)) {
        return 0;
    }
    if (!json_is_integer(top) || json_integer_value(top) < 0
        || json_integer_value(top) > FG_SIM_MAX_TOP_LOGPROBS)
    {
        snprintf(err, err_size, "'top_logprobs' must be an integer from 0 "
                 "to %d", FG_SIM_MAX_TOP_LOGPROBS);
        return -1;
    }
    if (!plan->has_logprobs) {
        snprintf(err, err_size, "'top_logprobs' requires 'logprobs' to be "
                 "true");
        return -1;
    }
    plan->top_logprobs = (unsigned) json_integer_value(top);
    return 0;
}

/* Whether the conversation ends with a tool result (rule 3). */
static int
plan_is_after_tool(json_t *messages)
{
    json_t *last = json_array_get(messages, json_array_size(messages) - 1);
    const char *role = json_string_value(json_object_get(last, "role"));

    return role != NULL && (strcmp(role, "tool") == 0
                            || strcmp(role, "function") == 0);
}

/*
 * Whether @schema leaves an object's members open (no properties, no
 * reference or combination, additionalProperties not false): then an
 * empty instance says less than the json_object answer, which it allows.
 */
static int
plan_is_open_schema(json_t *schema)
{
    if (!json_is_object(schema)) {
        return 1;
    }
    return json_object_get(schema, "properties") == NULL
           && json_object_get(schema, "required") == NULL
           && json_object_get(schema, "$ref") == NULL
           && json_object_get(schema, "anyOf") == NULL
           && json_object_get(schema, "oneOf") == NULL
           && json_object_get(schema, "allOf") == NULL
           && !json_is_false(json_object_get(schema,
                                             "additionalProperties"));
}

/*
 * Returns the borrowed "function" object of the tool to call, or NULL when
 * the request has no function tool, tool_choice is "none", or the last
 * message is a tool result and tool_choice neither is "required" nor
 * names a function (rule 3).
 */
static json_t *
plan_pick_tool(json_t *body, int is_after_tool)
{
    json_t *tools, *choice, *tool, *fn, *first = NULL;
    const char *want = NULL, *name;
    size_t i;

    tools = json_object_get(body, "tools");
    choice = json_object_get(body, "tool_choice");
    if (!json_is_array(tools)) {
        return NULL;
    }
    if (json_is_string(choice)
        && strcmp(json_string_value(choice), "none") == 0)
    {
        return NULL;
    }
    want = json_string_value(
        json_object_get(json_object_get(choice, "function"), "name"));
    if (is_after_tool && want == NULL
        && !(json_is_string(choice)
             && strcmp(json_string_value(choice), "required") == 0))
    {
        return NULL;
    }

    json_array_foreach(tools, i, tool) {
        fn = json_object_get(tool, "function");
        name = json_string_value(json_object_get(fn, "name"));
        if (name == NULL) {
            continue;
        }
        if (want == NULL || strcmp(want, name) == 0) {
            return fn;
        }
        if (first == NULL) {
            first = fn;
        }
    }
    return first;
}

/* Returns the owned compact text of @json. */
static char *
plan_dump(json_t *json, size_t *len)
{
    char *s = json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY);

    if (s == NULL) {
        /* Only an allocation can fail on a value jansson built itself. */
        fprintf(stderr, "fg-sim: out of memory in json_dumps()\n");
        abort();
    }
    *len = strlen(s);
    return s;
}

static char *
plan_echo_object(const char *user, size_t user_len, size_t *len)
{
    json_t *obj = json_object();
    char *text;

    /* Bound the answer as plan_echo() does, cutting on a UTF-8 boundary. */
    if (user_len > FG_SIM_MAX_TEXT_BYTES) {
        user_len = FG_SIM_MAX_TEXT_BYTES;
        while (user_len > 0
               && ((unsigned char) user[user_len] & 0xc0) == 0x80)
        {
            user_len--;
        }
    }
    json_object_set_new(obj, "echo", json_stringn(user, user_len));
    text = plan_dump(obj, len);
    json_decref(obj);
    return text;
}

/*
 * Every chunk starts with the same bytes up to the choices array; render
 * them once per stream rather than once per token.
 */
static void
plan_build_prefix(fg_sim_plan_t *plan)
{
    json_t *model = json_string(plan->model);
    char *quoted;
    size_t len, size;

    quoted = plan_dump(model, &len);
    json_decref(model);
    size = len + 256;
    plan->chunk_prefix = fg_xmalloc(size);
    /* "sse-split" in the model name: every chunk's JSON over two data:
     * lines, as SSE allows (the client joins them with a newline). */
    plan->chunk_prefix_len = (size_t) snprintf(plan->chunk_prefix, size,
        "data: {\"id\":\"chatcmpl-sim-%llu\",%s"
        "\"object\":\"chat.completion.chunk\",\"created\":%lld,"
        "\"model\":%s,\"system_fingerprint\":\"fg-sim\",\"choices\":[",
        (unsigned long long) plan->seq,
        strstr(plan->model, "sse-split") != NULL ? "\ndata: " : "",
        (long long) plan->created_s, quoted);
    free(quoted);
}

/* Appends @s as a JSON string literal; @s is valid UTF-8 (jansson's). */
static void
plan_add_escaped(struct evbuffer *out, const char *s, size_t len)
{
    size_t i, run = 0;
    unsigned char c;

    evbuffer_add(out, "\"", 1);
    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        evbuffer_add(out, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            evbuffer_add(out, "\\\"", 2);
            break;
        case '\\':
            evbuffer_add(out, "\\\\", 2);
            break;
        case '\n':
            evbuffer_add(out, "\\n", 2);
            break;
        case '\r':
            evbuffer_add(out, "\\r", 2);
            break;
        case '\t':
            evbuffer_add(out, "\\t", 2);
            break;
        default:
            evbuffer_add_printf(out, "\\u%04x", c);
        }
    }
    evbuffer_add(out, s + run, len - run);
    evbuffer_add(out, "\"", 1);
}

static void
plan_chunk_open(const fg_sim_plan_t *plan, struct evbuffer *out,
    unsigned index)
{
    evbuffer_add(out, plan->chunk_prefix, plan->chunk_prefix_len);
    evbuffer_add_printf(out, "{\"index\":%u,\"delta\":", index);
}

/*
 * Ends a chunk: its logprobs (null, or with logprobs asked for, those of
 * content token @piece; SIZE_MAX for none), finish_reason and usage.
 */
static void
plan_chunk_close(const fg_sim_plan_t *plan, struct evbuffer *out,
    const char *finish_reason, size_t piece)
{
    if (piece != SIZE_MAX && plan->has_logprobs) {
        json_t *lp = plan_logprobs_of(plan, piece, piece + 1);

        evbuffer_add(out, ",\"logprobs\":", 12);
        fg_sim_json_add(out, lp);
        json_decref(lp);
    } else {
        evbuffer_add(out, ",\"logprobs\":null", 16);
    }
    if (finish_reason != NULL) {
        evbuffer_add_printf(out, ",\"finish_reason\":\"%s\"}]",
                            finish_reason);
    } else {
        evbuffer_add_printf(out, ",\"finish_reason\":null}]");
    }
    if (plan->has_usage) {
        evbuffer_add_printf(out, ",\"usage\":null");
    }
    evbuffer_add(out, "}\n\n", 3);
}

void
fg_sim_plan_render_head(const fg_sim_plan_t *plan, struct evbuffer *out)
{
    unsigned i;

    if (plan->canned != NULL) {
        evbuffer_add(out, plan->canned, plan->canned_head_end);
        return;
    }
    for (i = 0; i < plan->n_choices; i++) {
        plan_chunk_open(plan, out, i);
        if (plan->is_tool_call) {
            evbuffer_add_printf(out, "{\"role\":\"assistant\","
                                "\"content\":null,\"tool_calls\":["
                                "{\"index\":0,\"id\":\"call_%llu\","
                                "\"type\":\"function\",\"function\":"
                                "{\"name\":",
                                (unsigned long long) plan->seq);
            plan_add_escaped(out, plan->tool_name, strlen(plan->tool_name));
            evbuffer_add_printf(out, ",\"arguments\":\"\"}}],"
                                "\"refusal\":null}");
        } else {
            evbuffer_add_printf(out, "{\"role\":\"assistant\","
                                "\"content\":\"\",\"refusal\":null}");
        }
        plan_chunk_close(plan, out, NULL, SIZE_MAX);
    }
}

void
fg_sim_plan_render_piece(const fg_sim_plan_t *plan, size_t i,
    struct evbuffer *out)
{
    size_t start, len;
    unsigned c;

    if (plan->canned != NULL) {
        start = i == 0 ? plan->canned_head_end : plan->piece_end[i - 1];
        evbuffer_add(out, plan->canned + start, plan->piece_end[i] - start);
        return;
    }
    if (i < plan->n_reasoning) {
        start = i == 0 ? 0 : plan->reasoning_end[i - 1];
        len = plan->reasoning_end[i] - start;
        for (c = 0; c < plan->n_choices; c++) {
            plan_chunk_open(plan, out, c);
            evbuffer_add_printf(out, "{\"%s\":", plan->reasoning_field);
            plan_add_escaped(out, plan->reasoning + start, len);
            evbuffer_add(out, "}", 1);
            plan_chunk_close(plan, out, NULL, SIZE_MAX);
        }
        return;
    }
    i -= plan->n_reasoning;
    start = i == 0 ? 0 : plan->piece_end[i - 1];
    len = plan->piece_end[i] - start;
    for (c = 0; c < plan->n_choices; c++) {
        plan_chunk_open(plan, out, c);
        if (plan->is_tool_call) {
            evbuffer_add_printf(out, "{\"tool_calls\":[{\"index\":0,"
                                "\"function\":{\"arguments\":");
            plan_add_escaped(out, plan->text + start, len);
            evbuffer_add_printf(out, "}}]}");
            plan_chunk_close(plan, out, NULL, SIZE_MAX);
        } else {
            evbuffer_add_printf(out, "{\"content\":");
            plan_add_escaped(out, plan->text + start, len);
            evbuffer_add(out, "}", 1);
            plan_chunk_close(plan, out, NULL, i);
        }
    }
}

void
fg_sim_plan_render_tail(const fg_sim_plan_t *plan, struct evbuffer *out)
{
    json_t *usage;
    unsigned i;
    size_t start;

    if (plan->canned != NULL) {
        start = plan->n_pieces > 0 ? plan->piece_end[plan->n_pieces - 1]
                                   : plan->canned_head_end;
        evbuffer_add(out, plan->canned + start, plan->canned_len - start);
        return;
    }
    for (i = 0; i < plan->n_choices; i++) {
        plan_chunk_open(plan, out, i);
        evbuffer_add(out, "{}", 2);
        plan_chunk_close(plan, out, plan->finish_reason, SIZE_MAX);
    }
    if (plan->has_usage) {
        usage = plan_usage(plan);
        evbuffer_add(out, plan->chunk_prefix, plan->chunk_prefix_len);
        evbuffer_add_printf(out, "],\"usage\":");
        fg_sim_json_add(out, usage);
        evbuffer_add(out, "}\n\n", 3);
        json_decref(usage);
    }
    evbuffer_add_printf(out, "data: [DONE]\n\n");
}

void
fg_sim_plan_render_reply(const fg_sim_plan_t *plan, struct evbuffer *out)
{
    json_t *reply, *choices, *message, *call;
    size_t len;
    char id[64], call_id[64];
    unsigned i;

    if (plan->canned != NULL) {
        evbuffer_add(out, plan->canned, plan->canned_len);
        return;
    }
    len = plan_text_len(plan);
    snprintf(id, sizeof(id), "chatcmpl-sim-%llu",
             (unsigned long long) plan->seq);
    snprintf(call_id, sizeof(call_id), "call_%llu",
             (unsigned long long) plan->seq);
    choices = json_array();
    for (i = 0; i < plan->n_choices; i++) {
        message = json_object();
        json_object_set_new(message, "role", json_string("assistant"));
        if (plan->is_tool_call) {
            json_object_set_new(message, "content", json_null());
            call = json_pack("{ss ss s{ss so}}", "id", call_id,
                             "type", "function", "function",
                             "name", plan->tool_name,
                             "arguments", json_stringn(plan->text, len));
            json_object_set_new(message, "tool_calls",
                                json_pack("[o]", call));
        } else {
            json_object_set_new(message, "content",
                                json_stringn(plan->text, len));
        }
        json_object_set_new(message, "refusal", json_null());
        if (plan->n_reasoning > 0) {
            json_object_set_new(message, plan->reasoning_field,
                json_stringn(plan->reasoning,
                             plan->reasoning_end[plan->n_reasoning - 1]));
        }
        json_array_append_new(choices, json_pack(
            "{sI so so ss}", "index", (json_int_t) i, "message", message,
            "logprobs", plan->has_logprobs
                        ? plan_logprobs_of(plan, 0, plan->n_pieces)
                        : json_null(),
            "finish_reason", plan->finish_reason));
    }
    reply = json_pack("{ss ss sI ss ss so so}",
                      "id", id,
                      "object", "chat.completion",
                      "created", (json_int_t) plan->created_s,
                      "model", plan->model,
                      "system_fingerprint", "fg-sim",
                      "choices", choices,
                      "usage", plan_usage(plan));
    fg_sim_json_add(out, reply);
    json_decref(reply);
}

/*
 * A choice's logprobs object for its content tokens @from..@to-1: content
 * null for a tool call (it has no content), refusal null.
 */
static json_t *
plan_logprobs_of(const fg_sim_plan_t *plan, size_t from, size_t to)
{
    json_t *content = json_array();
    size_t i;

    if (plan->is_tool_call) {
        json_decref(content);
        return json_pack("{sn sn}", "content", "refusal");
    }
    for (i = from; i < to; i++) {
        json_array_append_new(content, plan_logprob_entry(plan, i));
    }
    return json_pack("{so sn}", "content", content, "refusal");
}

/* {token, logprob, bytes, top_logprobs} of content token @i. */
static json_t *
plan_logprob_entry(const fg_sim_plan_t *plan, size_t i)
{
    size_t start = i == 0 ? 0 : plan->piece_end[i - 1];
    size_t len = plan->piece_end[i] - start, k;
    const char *token = plan->text + start, *alt;
    json_t *top = json_array(), *bytes;
    unsigned r;

    for (r = 0; r < plan->top_logprobs; r++) {
        double lp = fg_sim_logprob(token, len, i, r, &alt);
        const char *t = r == 0 ? token : alt;
        size_t t_len = r == 0 ? len : strlen(alt);

        bytes = json_array();
        for (k = 0; k < t_len; k++) {
            json_array_append_new(bytes, json_integer((unsigned char) t[k]));
        }
        json_array_append_new(top, json_pack("{ss% sf so}", "token", t, t_len,
                                             "logprob", lp, "bytes", bytes));
    }
    bytes = json_array();
    for (k = 0; k < len; k++) {
        json_array_append_new(bytes, json_integer((unsigned char) token[k]));
    }
    return json_pack("{ss% sf so so}", "token", token, len,
                     "logprob", fg_sim_logprob(token, len, i, 0, &alt),
                     "bytes", bytes, "top_logprobs", top);
}

double
fg_sim_logprob(const char *token, size_t len, size_t pos, unsigned rank,
    const char **alt)
{
    static const char *const alternatives[FG_SIM_MAX_TOP_LOGPROBS + 1] = {
        " the", " a", " of", " and", " to", " in", ",", ".", " is",
        " that", " it", " for", " on", " with", " as", " was", " at",
        " by", " this", " be", " or"
    };
    uint64_t h = 0xcbf29ce484222325ULL
                 ^ ((uint64_t) pos * 0x9e3779b97f4a7c15ULL);
    size_t i;
    unsigned k = 0;

    for (i = 0; i < len; i++) {
        h = (h ^ (unsigned char) token[i]) * 0x100000001b3ULL;
    }
    h ^= h >> 29;
    *alt = NULL;
    if (rank == 0) {
        /* Exact binary fractions: they print short and read back equal. */
        return -(double) (102 + h % 400) / 1024.0;
    }
    for (i = 0; i < sizeof(alternatives) / sizeof(alternatives[0]); i++) {
        if (strlen(alternatives[i]) == len
            && memcmp(alternatives[i], token, len) == 0)
        {
            continue;
        }
        if (++k == rank) {
            *alt = alternatives[i];
            break;
        }
    }
    return -(double) (2 + rank) - (double) ((h >> 16) % 256) / 1024.0;
}

static json_t *
plan_usage(const fg_sim_plan_t *plan)
{
    return json_pack("{sI sI sI s{sI} s{sI}}",
                     "prompt_tokens", (json_int_t) plan->prompt_tokens,
                     "completion_tokens",
                     (json_int_t) plan->completion_tokens,
                     "total_tokens", (json_int_t) (plan->prompt_tokens
                                                   + plan->completion_tokens),
                     "prompt_tokens_details", "cached_tokens", (json_int_t) 0,
                     "completion_tokens_details", "reasoning_tokens",
                     (json_int_t) plan->reasoning_tokens);
}

/*
 * The usage tags of the model name (fg-sim.c's file comment): the bill of
 * a lying or miscounting provider, made here so that every API that
 * answers with a chat plan (chat, Responses) reports the same.
 */
static void
plan_usage_tags(fg_sim_plan_t *plan)
{
    const char *tag;
    unsigned long k;

    if ((tag = strstr(plan->model, "overcount-")) != NULL) {
        k = strtoul(tag + sizeof("overcount-") - 1, NULL, 10);
        if (k >= 1 && k <= 1000) {
            plan->completion_tokens *= k;
        }
    }
    if ((tag = strstr(plan->model, "overprompt-")) != NULL) {
        k = strtoul(tag + sizeof("overprompt-") - 1, NULL, 10);
        if (k >= 1 && k <= 1000) {
            plan->prompt_tokens *= k;
        }
    }
    if (strstr(plan->model, "negative-usage") != NULL) {
        /* Rendered through json_int_t: the two's complement reads back. */
        plan->completion_tokens = (uint64_t) -5000000LL;
    }
}

static int
plan_dump_cb(const char *buffer, size_t size, void *data)
{
    return evbuffer_add(data, buffer, size);
}

int
fg_sim_json_add(struct evbuffer *out, const json_t *json)
{
    return json_dump_callback(json, plan_dump_cb, out,
                              JSON_COMPACT | JSON_ENCODE_ANY);
}
