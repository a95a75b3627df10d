/*
 * embed.c: fg-sim's answer to POST /v1/embeddings, as a canned plan.
 *
 * Validation is OpenAI's: "input" is a non-empty string, or an array of
 * 1 to 2048 non-empty strings, or of token ids (non-negative integers:
 * one input), or of non-empty arrays of token ids; any other shape, an
 * input over FG_SIM_EMBED_MAX_INPUT_TOKENS tokens, "dimensions" outside
 * 1..the model's size, or an "encoding_format" other than "float" and
 * "base64" is a 400. A model's size is 1536, or n with the tag "dim-<n>"
 * (1 to FG_SIM_EMBED_MAX_DIMS) in its name; inputs × dimensions above
 * FG_SIM_EMBED_MAX_FLOATS is a 400 too (the sim's bound, not OpenAI's).
 *
 * Each vector is a pure function of its input and size: splitmix64 seeded
 * with FNV-1a of the input (its UTF-8 bytes, or its ids as 32-bit
 * little-endian words after a marker byte) gives values in [-1, 1), scaled
 * to unit length and rounded to float32. "float" sends them as JSON
 * numbers (9 significant digits: they read back as the same float32),
 * "base64" as the base64 of the float32 array, little-endian, as OpenAI
 * does (unless the model name holds "float-only": numbers whatever was
 * asked, as some providers answer). usage.prompt_tokens (= total_tokens)
 * counts strings as chat text
 * is counted (count.h; "tok-" tags apply) and token arrays by length.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/base/alloc.h"
#include "tests/sim/plan.h"
#include "tests/sim/sim.h"

#define FG_SIM_EMBED_DEFAULT_DIMS      1536
#define FG_SIM_EMBED_MAX_DIMS          8192
#define FG_SIM_EMBED_MAX_INPUTS        2048
#define FG_SIM_EMBED_MAX_INPUT_TOKENS  8192
#define FG_SIM_EMBED_MAX_FLOATS        (2048 * 1536)

static int embed_dims(const char *model, size_t *dims, char *err,
    size_t err_size);
static int embed_inputs(json_t *input, json_t **list, int *is_tokens,
    char *err, size_t err_size);
static uint64_t embed_seed(json_t *one);
static void embed_vector(uint64_t seed, float *v, size_t dims);
static void embed_add(struct evbuffer *out, const float *v, size_t dims,
    int is_base64);

int
fg_sim_embed_build(fg_sim_plan_t *plan, json_t *body,
    const fg_sim_tokenizers_t *toks, uint64_t seq, int64_t created_s,
    char *err, size_t err_size)
{
    json_t *model, *v, *list = NULL, *one;
    fg_sim_counting_t counting;
    struct evbuffer *out;
    const char *format;
    size_t dims, i, n;
    int is_tokens, is_base64 = 0;
    int64_t tokens, total = 0;
    float *vec;
    json_t *quoted;
    char *model_text;

    (void) created_s;
    if (fg_sim_plan_model(body, err, err_size) == NULL) {
        return -1;
    }
    model = json_object_get(body, "model");
    if (fg_sim_counting_for_model(&counting, toks, json_string_value(model),
                                  err, err_size) != 0
        || embed_dims(json_string_value(model), &dims, err, err_size) != 0)
    {
        return -1;
    }
    v = json_object_get(body, "dimensions");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1
            || (size_t) json_integer_value(v) > dims)
        {
            snprintf(err, err_size, "'dimensions' must be an integer from 1 "
                     "to %zu for this model", dims);
            return -1;
        }
        dims = (size_t) json_integer_value(v);
    }
    v = json_object_get(body, "encoding_format");
    format = json_string_value(v);
    if (v != NULL && !json_is_null(v)
        && (format == NULL || (strcmp(format, "float") != 0
                               && strcmp(format, "base64") != 0)))
    {
        snprintf(err, err_size, "'encoding_format' must be 'float' or "
                 "'base64'");
        return -1;
    }
    /* "float-only" in the model name: a provider that answers floats
     * whatever was asked (the gateway converts them). */
    is_base64 = format != NULL && strcmp(format, "base64") == 0
                && strstr(json_string_value(model), "float-only") == NULL;
    if (embed_inputs(json_object_get(body, "input"), &list, &is_tokens, err,
                     err_size) != 0)
    {
        return -1;
    }
    n = json_array_size(list);
    if (n * dims > FG_SIM_EMBED_MAX_FLOATS) {
        json_decref(list);
        snprintf(err, err_size, "%zu inputs of %zu dimensions are more "
                 "than the simulator's %d floats", n, dims,
                 FG_SIM_EMBED_MAX_FLOATS);
        return -1;
    }
    json_array_foreach(list, i, one) {
        tokens = json_is_string(one)
                 ? fg_sim_count_text(&counting, json_string_value(one),
                                     json_string_length(one))
                 : (int64_t) json_array_size(one);
        if (tokens > FG_SIM_EMBED_MAX_INPUT_TOKENS) {
            json_decref(list);
            snprintf(err, err_size, "This model's maximum context length is "
                     "%d tokens, however you requested %lld tokens in input "
                     "%zu. Please reduce your input.",
                     FG_SIM_EMBED_MAX_INPUT_TOKENS, (long long) tokens, i);
            return -1;
        }
        total += tokens;
    }

    plan->seq = seq;
    plan->id_prefix = "embd-sim-";
    plan->model = fg_xstrdup(json_string_value(model));
    plan->n_choices = (unsigned) n;
    plan->prompt_tokens = (uint64_t) total;
    plan->finish_reason = "stop";

    out = fg_sim_evbuffer_new();
    vec = fg_xmalloc(dims * sizeof(*vec));
    evbuffer_add_printf(out, "{\"object\":\"list\",\"data\":[");
    json_array_foreach(list, i, one) {
        embed_vector(embed_seed(one), vec, dims);
        evbuffer_add_printf(out, "%s{\"object\":\"embedding\",\"index\":%zu,"
                            "\"embedding\":", i == 0 ? "" : ",", i);
        embed_add(out, vec, dims, is_base64);
        evbuffer_add(out, "}", 1);
    }
    quoted = json_string(plan->model);
    model_text = json_dumps(quoted, JSON_ENCODE_ANY);
    evbuffer_add_printf(out, "],\"model\":%s,\"usage\":{\"prompt_tokens\":"
                        "%lld,\"total_tokens\":%lld}}", model_text,
                        (long long) total, (long long) total);
    free(model_text);
    json_decref(quoted);
    free(vec);
    json_decref(list);
    fg_sim_plan_can(plan, out);
    return 0;
}

/* The model's size: "dim-<n>" in its name, else the default. */
static int
embed_dims(const char *model, size_t *dims, char *err, size_t err_size)
{
    const char *p = strstr(model, "dim-");
    unsigned long n;
    char *end;

    *dims = FG_SIM_EMBED_DEFAULT_DIMS;
    if (p == NULL) {
        return 0;
    }
    n = strtoul(p + 4, &end, 10);
    if (end == p + 4 || n < 1 || n > FG_SIM_EMBED_MAX_DIMS
        || (*end >= '0' && *end <= '9'))
    {
        snprintf(err, err_size, "bad dim tag in model \"%s\" (dim-<n>, 1 to "
                 "%d)", model, FG_SIM_EMBED_MAX_DIMS);
        return -1;
    }
    *dims = (size_t) n;
    return 0;
}

/*
 * Reads "input" into a new array of its inputs (each a string or an array
 * of token ids). Returns 0, or -1 with OpenAI's message in @err.
 */
static int
embed_inputs(json_t *input, json_t **list, int *is_tokens, char *err,
    size_t err_size)
{
    json_t *item, *id;
    size_t i, j;
    int kind = 0;   /* 1 strings, 2 ids, 3 arrays of ids */

    *is_tokens = 0;
    if (json_is_string(input) && json_string_length(input) > 0) {
        *list = json_pack("[O]", input);
        return 0;
    }
    if (!json_is_array(input) || json_array_size(input) == 0
        || json_array_size(input) > FG_SIM_EMBED_MAX_INPUTS)
    {
        goto bad;
    }
    json_array_foreach(input, i, item) {
        int k = json_is_string(item) ? 1 : json_is_integer(item) ? 2
                : json_is_array(item) ? 3 : 0;

        if (k == 0 || (kind != 0 && k != kind)) {
            goto bad;
        }
        kind = k;
        if ((k == 1 && json_string_length(item) == 0)
            || (k == 2 && json_integer_value(item) < 0)
            || (k == 3 && json_array_size(item) == 0))
        {
            goto bad;
        }
        json_array_foreach(item, j, id) {
            if (!json_is_integer(id) || json_integer_value(id) < 0) {
                goto bad;
            }
        }
    }
    *is_tokens = kind != 1;
    *list = kind == 2 ? json_pack("[O]", input) : json_incref(input);
    return 0;

bad:
    snprintf(err, err_size, "'$.input' is invalid. Please check the API "
             "reference: https://platform.openai.com/docs/api-reference.");
    return -1;
}

static uint64_t
embed_seed(json_t *one)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    const unsigned char *s;
    size_t i, len, k;
    json_t *id;
    uint32_t w;

    if (json_is_string(one)) {
        s = (const unsigned char *) json_string_value(one);
        len = json_string_length(one);
        for (i = 0; i < len; i++) {
            h = (h ^ s[i]) * 0x100000001b3ULL;
        }
        return h;
    }
    h = (h ^ 0xff) * 0x100000001b3ULL;
    json_array_foreach(one, i, id) {
        w = (uint32_t) json_integer_value(id);
        for (k = 0; k < 4; k++) {
            h = (h ^ ((w >> (8 * k)) & 0xff)) * 0x100000001b3ULL;
        }
    }
    return h;
}

static void
embed_vector(uint64_t seed, float *v, size_t dims)
{
    uint64_t x = seed, z;
    double sum = 0, d;
    size_t i;

    for (i = 0; i < dims; i++) {
        z = (x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        d = (double) (z >> 11) / 4503599627370496.0 - 1.0;   /* [-1, 1) */
        v[i] = (float) d;
        sum += d * d;
    }
    sum = sqrt(sum);
    for (i = 0; i < dims; i++) {
        v[i] = (float) (v[i] / (sum > 0 ? sum : 1));
    }
}

static void
embed_add(struct evbuffer *out, const float *v, size_t dims, int is_base64)
{
    unsigned char *raw;
    char *b64;
    size_t i, b64_len;

    if (!is_base64) {
        evbuffer_add(out, "[", 1);
        for (i = 0; i < dims; i++) {
            evbuffer_add_printf(out, i == 0 ? "%.9g" : ",%.9g",
                                (double) v[i]);
        }
        evbuffer_add(out, "]", 1);
        return;
    }
    raw = fg_xmalloc(dims * 4);
    for (i = 0; i < dims; i++) {
        uint32_t w;

        memcpy(&w, &v[i], 4);
        raw[4 * i] = (unsigned char) w;
        raw[4 * i + 1] = (unsigned char) (w >> 8);
        raw[4 * i + 2] = (unsigned char) (w >> 16);
        raw[4 * i + 3] = (unsigned char) (w >> 24);
    }
    b64_len = sodium_base64_ENCODED_LEN(dims * 4,
                                        sodium_base64_VARIANT_ORIGINAL);
    b64 = fg_xmalloc(b64_len);
    sodium_bin2base64(b64, b64_len, raw, dims * 4,
                      sodium_base64_VARIANT_ORIGINAL);
    evbuffer_add_printf(out, "\"%s\"", b64);
    free(b64);
    free(raw);
}
