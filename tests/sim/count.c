/*
 * count.c: fg-sim's prompt tokens, by the rules at the top of plan.c.
 *
 * The exact modes follow OpenAI's cookbook for counting chat tokens; the
 * dense mode keeps the same frame and counts text by code points and short
 * runs, as a tokenizer trained on other languages might. Either way a
 * count is an upper bound when the tokenizer can only bound it (a piece too
 * long to merge, an image whose size is unknown): a provider never bills
 * less than the gateway should have reserved for.
 */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "tests/sim/count.h"

/* The cookbook's constants (gpt-4o and its kin). */
#define COUNT_PER_MESSAGE       3   /* <|start|>role ... <|end|> */
#define COUNT_PER_NAME          1
#define COUNT_REPLY_PRIMING     3   /* <|start|>assistant<|message|> */
#define COUNT_PER_TOOL_CALL     3
#define COUNT_FUNC_INIT         7
#define COUNT_PROP_INIT         3
#define COUNT_PROP_KEY          3
#define COUNT_ENUM_INIT         (-3)
#define COUNT_ENUM_ITEM         3
#define COUNT_FUNC_END          12

/* A line the tool rules join before counting it ("name:description"). */
typedef struct {
    char   *s;
    size_t  len;
    size_t  cap;
} count_line_t;

static const fg_image_formula_t count_image_tiles = {
    FG_IMAGE_FORMULA_TILES, 85, 170, 0, 0.0
};
static const fg_image_formula_t count_image_mini = {
    FG_IMAGE_FORMULA_TILES, 2833, 5667, 0, 0.0
};
static const fg_image_formula_t count_image_patches = {
    FG_IMAGE_FORMULA_PATCHES, 0, 0, 1536, 1.62
};

static const char *const count_tok_names[] = {
    "o200k", "cl100k", "dense", "bytes4"
};

static int count_tag(const char *model, const char *tag, const char **value,
    size_t *len);
static int count_is_space(unsigned char c);
static int count_is_alnum(unsigned char c);
static int64_t count_dense(const char *text, size_t len);
static int64_t count_string(const fg_sim_counting_t *c, json_t *s);
static int64_t count_content(const fg_sim_counting_t *c, json_t *content);
static int64_t count_image(const fg_sim_counting_t *c, json_t *image_url);
static int64_t count_audio(json_t *input_audio);
static int64_t count_tool_calls(const fg_sim_counting_t *c,
    json_t *tool_calls);
static int64_t count_tools(const fg_sim_counting_t *c, json_t *tools);
static int64_t count_property(const fg_sim_counting_t *c, count_line_t *line,
    const char *key, json_t *prop);
static uint64_t count_bytes4(json_t *messages);
static void count_line_add(count_line_t *line, const char *s, size_t len);
static void count_line_add_value(count_line_t *line, json_t *v,
    int is_sentence);
static int64_t count_line(const fg_sim_counting_t *c, count_line_t *line);

int
fg_sim_tokenizers_load(fg_sim_tokenizers_t *toks, const char *dir,
    fg_err_t *err)
{
    char path[PATH_MAX];
    int n;

    n = snprintf(path, sizeof(path), "%s/%s", dir, FG_SIM_O200K_FILE);
    if (n < 0 || (size_t) n >= sizeof(path)) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "tokenizer folder path too long: %s", dir);
    }
    toks->o200k = fg_bpe_load(path, err);
    if (toks->o200k == NULL) {
        return -1;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, FG_SIM_CL100K_FILE);
    toks->cl100k = fg_bpe_load(path, err);
    if (toks->cl100k == NULL) {
        fg_sim_tokenizers_free(toks);
        return -1;
    }
    return 0;
}

void
fg_sim_tokenizers_free(fg_sim_tokenizers_t *toks)
{
    fg_bpe_free(toks->o200k);
    fg_bpe_free(toks->cl100k);
    toks->o200k = NULL;
    toks->cl100k = NULL;
}

int
fg_sim_tok_parse(const char *name, size_t len, fg_sim_tok_t *tok)
{
    size_t i;

    for (i = 0; i < sizeof(count_tok_names) / sizeof(count_tok_names[0]);
         i++)
    {
        if (strlen(count_tok_names[i]) == len
            && strncmp(name, count_tok_names[i], len) == 0)
        {
            *tok = (fg_sim_tok_t) i;
            return 0;
        }
    }
    return -1;
}

const char *
fg_sim_tok_name(fg_sim_tok_t tok)
{
    return count_tok_names[tok];
}

int
fg_sim_counting_for_model(fg_sim_counting_t *counting,
    const fg_sim_tokenizers_t *toks, const char *model, char *err,
    size_t err_size)
{
    const char *value;
    size_t len;

    counting->tok = toks->default_tok;
    if (count_tag(model, "tok-", &value, &len)
        && fg_sim_tok_parse(value, len, &counting->tok) != 0)
    {
        snprintf(err, err_size, "unknown tokenizer in model \"%s\"", model);
        return -1;
    }
    counting->bpe = counting->tok == FG_SIM_TOK_O200K ? toks->o200k
                  : counting->tok == FG_SIM_TOK_CL100K ? toks->cl100k
                  : NULL;

    counting->image = count_image_tiles;
    if (count_tag(model, "img-", &value, &len)) {
        if (len == 4 && strncmp(value, "mini", len) == 0) {
            counting->image = count_image_mini;
        } else if (len == 7 && strncmp(value, "patches", len) == 0) {
            counting->image = count_image_patches;
        } else {
            snprintf(err, err_size, "unknown image formula in model \"%s\"",
                     model);
            return -1;
        }
    }
    return 0;
}

int64_t
fg_sim_count_text(const fg_sim_counting_t *counting, const char *text,
    size_t len)
{
    fg_token_bounds_t bounds;

    switch (counting->tok) {
    case FG_SIM_TOK_O200K:
    case FG_SIM_TOK_CL100K:
        fg_bpe_count(counting->bpe, text, len, &bounds);
        /* Bounded, not exact: a provider bills at most the upper. */
        return bounds.upper;
    case FG_SIM_TOK_DENSE:
        return count_dense(text, len);
    case FG_SIM_TOK_BYTES4:
        break;
    }
    return (int64_t) ((len + 3) / 4);
}

uint64_t
fg_sim_count_prompt(const fg_sim_counting_t *counting, json_t *body)
{
    json_t *messages = json_object_get(body, "messages");
    json_t *msg, *name;
    int64_t total = COUNT_REPLY_PRIMING;
    size_t i;

    if (counting->tok == FG_SIM_TOK_BYTES4) {
        return count_bytes4(messages);
    }
    json_array_foreach(messages, i, msg) {
        total += COUNT_PER_MESSAGE;
        total += count_string(counting, json_object_get(msg, "role"));
        total += count_content(counting, json_object_get(msg, "content"));
        name = json_object_get(msg, "name");
        if (json_is_string(name)) {
            total += count_string(counting, name) + COUNT_PER_NAME;
        }
        total += count_string(counting,
                              json_object_get(msg, "tool_call_id"));
        total += count_tool_calls(counting,
                                  json_object_get(msg, "tool_calls"));
    }
    total += count_tools(counting, json_object_get(body, "tools"));
    return (uint64_t) total;
}

/*
 * Finds "<tag><value>" in @model, the value being the letters and digits
 * that follow. Returns 1 with the value (possibly empty), or 0 if absent.
 */
static int
count_tag(const char *model, const char *tag, const char **value,
    size_t *len)
{
    const char *p = strstr(model, tag);

    if (p == NULL) {
        return 0;
    }
    *value = p + strlen(tag);
    *len = strspn(*value, "abcdefghijklmnopqrstuvwxyz0123456789");
    return 1;
}

static int
count_is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
           || c == '\v';
}

static int
count_is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
           || (c >= 'A' && c <= 'Z');
}

/*
 * The dense tokenizer: a token per non-ASCII code point, per ASCII
 * punctuation mark or symbol (control bytes too), per run of white space,
 * and per 3 letters or digits of a run. Never more than the bytes.
 */
static int64_t
count_dense(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *) text;
    int64_t tokens = 0;
    size_t i = 0, start;

    while (i < len) {
        if (s[i] >= 0x80) {
            /* A code point counts at its lead byte (jansson's strings are
             * valid UTF-8). */
            tokens += (s[i] & 0xc0) != 0x80;
            i++;
        } else if (count_is_space(s[i])) {
            tokens++;
            while (i < len && count_is_space(s[i])) {
                i++;
            }
        } else if (count_is_alnum(s[i])) {
            start = i;
            while (i < len && count_is_alnum(s[i])) {
                i++;
            }
            tokens += (int64_t) ((i - start + 2) / 3);
        } else {
            tokens++;
            i++;
        }
    }
    return tokens;
}

/* The tokens of a string value; anything else (absent, null) is none. */
static int64_t
count_string(const fg_sim_counting_t *c, json_t *s)
{
    if (!json_is_string(s)) {
        return 0;
    }
    return fg_sim_count_text(c, json_string_value(s), json_string_length(s));
}

static int64_t
count_content(const fg_sim_counting_t *c, json_t *content)
{
    json_t *part;
    const char *type;
    int64_t tokens = 0;
    size_t i;

    if (json_is_string(content)) {
        return count_string(c, content);
    }
    json_array_foreach(content, i, part) {
        type = json_string_value(json_object_get(part, "type"));
        if (type == NULL) {
            continue;
        }
        if (strcmp(type, "text") == 0) {
            tokens += count_string(c, json_object_get(part, "text"));
        } else if (strcmp(type, "refusal") == 0) {
            tokens += count_string(c, json_object_get(part, "refusal"));
        } else if (strcmp(type, "image_url") == 0) {
            tokens += count_image(c, json_object_get(part, "image_url"));
        } else if (strcmp(type, "input_audio") == 0) {
            tokens += count_audio(json_object_get(part, "input_audio"));
        }
    }
    return tokens;
}

/*
 * An image at the size its data: URL states; "auto" (or none) is taken as
 * "high", the provider's choice to make. A remote URL is not fetched: its
 * size is unknown, so it costs the formula's most.
 */
static int64_t
count_image(const fg_sim_counting_t *c, json_t *image_url)
{
    json_t *url = json_object_get(image_url, "url");
    const char *detail;
    fg_image_detail_t d = FG_IMAGE_DETAIL_HIGH;
    fg_token_bounds_t bounds;
    uint32_t width = 0, height = 0;
    int has_size = 0;

    detail = json_string_value(json_object_get(image_url, "detail"));
    if (detail != NULL && strcmp(detail, "low") == 0) {
        d = FG_IMAGE_DETAIL_LOW;
    }
    if (json_is_string(url)) {
        has_size = fg_image_size_data_url(json_string_value(url),
                                          json_string_length(url), &width,
                                          &height) != FG_IMAGE_UNKNOWN;
    }
    fg_image_tokens(&c->image, d, has_size, width, height, &bounds);
    return bounds.upper;
}

/* Audio: FG_SIM_AUDIO_TOKENS_PER_S of the longest it can last. */
static int64_t
count_audio(json_t *input_audio)
{
    json_t *data = json_object_get(input_audio, "data");
    const char *format;
    fg_token_bounds_t ms;

    format = json_string_value(json_object_get(input_audio, "format"));
    fg_audio_duration_ms(format != NULL ? format : "",
                         json_is_string(data) ? json_string_value(data) : "",
                         json_string_length(data), FG_SIM_AUDIO_MAX_MS, &ms);
    if (ms.upper > FG_SIM_AUDIO_MAX_MS) {
        ms.upper = FG_SIM_AUDIO_MAX_MS;
    }
    return (ms.upper * FG_SIM_AUDIO_TOKENS_PER_S + 999) / 1000;
}

/* An assistant message's calls: name, arguments and 3 for each. */
static int64_t
count_tool_calls(const fg_sim_counting_t *c, json_t *tool_calls)
{
    json_t *call, *fn;
    int64_t tokens = 0;
    size_t i;

    json_array_foreach(tool_calls, i, call) {
        fn = json_object_get(call, "function");
        tokens += COUNT_PER_TOOL_CALL
                  + count_string(c, json_object_get(fn, "name"))
                  + count_string(c, json_object_get(fn, "arguments"));
    }
    return tokens;
}

/*
 * The request's function definitions, as the cookbook counts them for
 * gpt-4o: each function its "name:description" line, each property its
 * "key:type:description" line and its enum items, plus fixed costs.
 */
static int64_t
count_tools(const fg_sim_counting_t *c, json_t *tools)
{
    json_t *tool, *fn, *props, *prop;
    count_line_t line = { NULL, 0, 0 };
    const char *key;
    int64_t tokens = 0;
    size_t i, n_functions = 0;

    json_array_foreach(tools, i, tool) {
        fn = json_object_get(tool, "function");
        if (!json_is_object(fn)) {
            continue;
        }
        n_functions++;
        line.len = 0;
        count_line_add_value(&line, json_object_get(fn, "name"), 0);
        count_line_add(&line, ":", 1);
        count_line_add_value(&line, json_object_get(fn, "description"), 1);
        tokens += COUNT_FUNC_INIT + count_line(c, &line);

        props = json_object_get(json_object_get(fn, "parameters"),
                                "properties");
        if (!json_is_object(props) || json_object_size(props) == 0) {
            continue;
        }
        tokens += COUNT_PROP_INIT;
        json_object_foreach(props, key, prop) {
            tokens += count_property(c, &line, key, prop);
        }
    }
    free(line.s);
    return n_functions > 0 ? tokens + COUNT_FUNC_END : 0;
}

static int64_t
count_property(const fg_sim_counting_t *c, count_line_t *line,
    const char *key, json_t *prop)
{
    json_t *items, *item;
    int64_t tokens = COUNT_PROP_KEY;
    size_t i;

    items = json_object_get(prop, "enum");
    if (items != NULL) {
        tokens += COUNT_ENUM_INIT;
        json_array_foreach(items, i, item) {
            line->len = 0;
            count_line_add_value(line, item, 0);
            tokens += COUNT_ENUM_ITEM + count_line(c, line);
        }
    }
    line->len = 0;
    count_line_add(line, key, strlen(key));
    count_line_add(line, ":", 1);
    count_line_add_value(line, json_object_get(prop, "type"), 0);
    count_line_add(line, ":", 1);
    count_line_add_value(line, json_object_get(prop, "description"), 1);
    return tokens + count_line(c, line);
}

/* The first rule: content bytes (strings, text parts) / 4, at least 1. */
static uint64_t
count_bytes4(json_t *messages)
{
    json_t *msg, *content, *part;
    uint64_t bytes = 0;
    size_t i, j;

    json_array_foreach(messages, i, msg) {
        content = json_object_get(msg, "content");
        if (json_is_string(content)) {
            bytes += json_string_length(content);
            continue;
        }
        json_array_foreach(content, j, part) {
            bytes += json_string_length(json_object_get(part, "text"));
        }
    }
    return bytes == 0 ? 1 : (bytes + 3) / 4;
}

static void
count_line_add(count_line_t *line, const char *s, size_t len)
{
    if (line->len + len > line->cap) {
        while (line->len + len > line->cap) {
            line->cap = line->cap ? line->cap * 2 : 128;
        }
        line->s = fg_xrealloc(line->s, line->cap);
    }
    memcpy(line->s + line->len, s, len);
    line->len += len;
}

/*
 * Appends a value as the model reads it in a definition: a string as it
 * is (a sentence without its final '.', as the cookbook trims it), absent
 * or null as nothing, anything else (a number in an enum, a type list) as
 * its compact JSON.
 */
static void
count_line_add_value(count_line_t *line, json_t *v, int is_sentence)
{
    size_t len;
    char *dumped;

    if (json_is_string(v)) {
        len = json_string_length(v);
        if (is_sentence && len > 0 && json_string_value(v)[len - 1] == '.') {
            len--;
        }
        count_line_add(line, json_string_value(v), len);
    } else if (v != NULL && !json_is_null(v)) {
        dumped = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (dumped == NULL) {
            /* Only an allocation can fail on a parsed value. */
            fprintf(stderr, "fg-sim: out of memory in json_dumps()\n");
            abort();
        }
        count_line_add(line, dumped, strlen(dumped));
        free(dumped);
    }
}

static int64_t
count_line(const fg_sim_counting_t *c, count_line_t *line)
{
    return fg_sim_count_text(c, line->s != NULL ? line->s : "", line->len);
}
