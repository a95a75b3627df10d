/*
 * badjson.c: valid JSON made malformed the ways models get it wrong
 * (badjson.h). The texts around the value hold no bracket, brace or quote,
 * so the value stays the only JSON-looking thing in a reply.
 */

#include <string.h>

#include "common/base/alloc.h"
#include "tests/sim/badjson.h"

#define BADJSON_FENCE_HEAD  "Here is the JSON you asked for:\n\n```json\n"
#define BADJSON_FENCE_TAIL  "\n```\n\nLet me know if you need anything else."
#define BADJSON_PROSE_HEAD  "Sure, here is the answer. "
#define BADJSON_PROSE_TAIL  " I hope this helps."
#define BADJSON_COMMENT     "\n// the answer, as asked\n"
#define BADJSON_HOPELESS    "I am sorry, but I cannot help with that request."

typedef struct {
    char   *s;
    size_t  len;
} badjson_out_t;

typedef void (*badjson_string_fn)(badjson_out_t *o, const char *json,
    size_t len, size_t i, size_t end);

static const char *const badjson_names[] = {
    "", "fence", "prose", "truncated", "comma", "single", "unquoted",
    "comments", "hopeless"
};

static void badjson_add(badjson_out_t *o, const char *s, size_t len);
static size_t badjson_string_end(const char *json, size_t len, size_t i);
static int badjson_is_identifier(const char *s, size_t len);
static void badjson_each_string(badjson_out_t *o, const char *json,
    size_t len, badjson_string_fn write);
static void badjson_single(badjson_out_t *o, const char *json, size_t len,
    size_t i, size_t end);
static void badjson_unquoted(badjson_out_t *o, const char *json, size_t len,
    size_t i, size_t end);

int
fg_sim_badjson_parse(const char *name, size_t len, fg_sim_badjson_t *cls)
{
    size_t i;

    for (i = 1; i < sizeof(badjson_names) / sizeof(badjson_names[0]); i++) {
        if (strlen(badjson_names[i]) == len
            && strncmp(name, badjson_names[i], len) == 0)
        {
            *cls = (fg_sim_badjson_t) i;
            return 0;
        }
    }
    return -1;
}

char *
fg_sim_badjson_apply(fg_sim_badjson_t cls, const char *json, size_t len,
    size_t *out_len)
{
    badjson_out_t o;
    size_t n;

    o.s = fg_xmalloc(2 * len + 128);
    o.len = 0;
    switch (cls) {
    case FG_SIM_BADJSON_FENCE:
        badjson_add(&o, BADJSON_FENCE_HEAD, sizeof(BADJSON_FENCE_HEAD) - 1);
        badjson_add(&o, json, len);
        badjson_add(&o, BADJSON_FENCE_TAIL, sizeof(BADJSON_FENCE_TAIL) - 1);
        break;
    case FG_SIM_BADJSON_PROSE:
        badjson_add(&o, BADJSON_PROSE_HEAD, sizeof(BADJSON_PROSE_HEAD) - 1);
        badjson_add(&o, json, len);
        badjson_add(&o, BADJSON_PROSE_TAIL, sizeof(BADJSON_PROSE_TAIL) - 1);
        break;
    case FG_SIM_BADJSON_TRUNCATED:
        n = len;
        while (n > 0 && (json[n - 1] == '}' || json[n - 1] == ']')) {
            n--;
        }
        /* After the closers, a '"' can only end the last value. */
        if (n > 0 && json[n - 1] == '"') {
            n--;
        }
        badjson_add(&o, json, n);
        break;
    case FG_SIM_BADJSON_COMMA:
        if (len >= 2 && json[len - 1] == '}' && json[len - 2] != '{') {
            badjson_add(&o, json, len - 1);
            badjson_add(&o, ",}", 2);
        } else {
            badjson_add(&o, json, len);
        }
        break;
    case FG_SIM_BADJSON_SINGLE:
        badjson_each_string(&o, json, len, badjson_single);
        break;
    case FG_SIM_BADJSON_UNQUOTED:
        badjson_each_string(&o, json, len, badjson_unquoted);
        break;
    case FG_SIM_BADJSON_COMMENTS:
        if (len > 0 && json[0] == '{') {
            badjson_add(&o, "{", 1);
            badjson_add(&o, BADJSON_COMMENT, sizeof(BADJSON_COMMENT) - 1);
            badjson_add(&o, json + 1, len - 1);
        } else {
            badjson_add(&o, json, len);
        }
        break;
    case FG_SIM_BADJSON_HOPELESS:
        badjson_add(&o, BADJSON_HOPELESS, sizeof(BADJSON_HOPELESS) - 1);
        break;
    case FG_SIM_BADJSON_NONE:
    default:
        badjson_add(&o, json, len);
    }
    o.s[o.len] = '\0';
    *out_len = o.len;
    return o.s;
}

/* The caller sized the buffer (badjson.h's bound): no check here. */
static void
badjson_add(badjson_out_t *o, const char *s, size_t len)
{
    memcpy(o->s + o->len, s, len);
    o->len += len;
}

/* The index of the quote that closes the string opening at @i (or @len). */
static size_t
badjson_string_end(const char *json, size_t len, size_t i)
{
    size_t j = i + 1;

    while (j < len && json[j] != '"') {
        j += json[j] == '\\' && j + 1 < len ? 2 : 1;
    }
    return j;
}

static int
badjson_is_identifier(const char *s, size_t len)
{
    size_t i;
    char c;

    if (len == 0 || (s[0] >= '0' && s[0] <= '9')) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '$'))
        {
            return 0;
        }
    }
    return 1;
}

/* Copies @json with each string (from @i, its quote, to @end, the closing
 * one) written by @write. */
static void
badjson_each_string(badjson_out_t *o, const char *json, size_t len,
    badjson_string_fn write)
{
    size_t i = 0, end;

    while (i < len) {
        if (json[i] != '"') {
            badjson_add(o, json + i, 1);
            i++;
            continue;
        }
        end = badjson_string_end(json, len, i);
        write(o, json, len, i, end);
        i = end + 1;
    }
}

/* A string single-quoted: \" loses its backslash, ' gains one. */
static void
badjson_single(badjson_out_t *o, const char *json, size_t len, size_t i,
    size_t end)
{
    size_t k;

    (void) len;
    badjson_add(o, "'", 1);
    for (k = i + 1; k < end; k++) {
        if (json[k] == '\\' && k + 1 < end) {
            if (json[k + 1] == '"') {
                badjson_add(o, "\"", 1);
            } else {
                badjson_add(o, json + k, 2);
            }
            k++;
        } else if (json[k] == '\'') {
            badjson_add(o, "\\'", 2);
        } else {
            badjson_add(o, json + k, 1);
        }
    }
    badjson_add(o, "'", 1);
}

/* A key that is an identifier without its quotes; any other string as is. */
static void
badjson_unquoted(badjson_out_t *o, const char *json, size_t len, size_t i,
    size_t end)
{
    if (end + 1 < len && json[end + 1] == ':'
        && badjson_is_identifier(json + i + 1, end - i - 1))
    {
        badjson_add(o, json + i + 1, end - i - 1);
    } else {
        badjson_add(o, json + i, end < len ? end + 1 - i : len - i);
    }
}
