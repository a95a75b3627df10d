/*
 * schema.c: a value that satisfies a JSON schema, as a model in strict
 * structured-output mode writes one.
 *
 * Keywords honoured, in this order of precedence:
 *  1) "$ref" to "#", "#/$defs/<name>", "#/definitions/<name>" or any other
 *     JSON pointer into the root schema ("~0", "~1" decoded); a ref that
 *     does not resolve is ignored. Each hop counts as one level of depth,
 *     so a recursive schema ends.
 *  2) "const", then "enum" (its first value; item i of a uniqueItems
 *     array takes value i modulo the count).
 *  3) "anyOf" and "oneOf": the first branch. "allOf": every branch, their
 *     objects merged when all are objects, else the first.
 *  4) "type": a string, or a list whose first non-null type is used;
 *     without one the keywords present say it (properties or required:
 *     object; items or minItems: array; pattern, format or minLength:
 *     string; minimum or maximum: number), else a string.
 *  5) object: every name in "required", in "properties" order and then
 *     the rest, each from its property schema; without "required" every
 *     property. array: minItems items (0 by default, at most maxItems and
 *     FG_SIM_SCHEMA_MAX_ITEMS), item i from prefixItems[i] (or a tuple
 *     "items" list), else "items"; "contains" gives item 0 (and makes at
 *     least one). With uniqueItems, item i is built as variant i: "test1",
 *     1 + i, enum value i, so the items differ where the schema lets them.
 *     string: "test", or from "format" (date-time, date, time, email, uri,
 *     uuid, ipv4, ipv6, hostname) or "pattern" (below), padded with 'x' to
 *     minLength and cut to maxLength (in code points) unless a pattern made
 *     it. integer and number: 1 (1 + variant), moved into minimum /
 *     maximum / exclusiveMinimum / exclusiveMaximum (numbers or draft-4
 *     booleans) and up to a multipleOf. boolean true, null null.
 *
 * Patterns. fg_sim_schema_pattern() writes the shortest string of a
 * subset of ECMA-262: literals (UTF-8 included), escapes (\d \w \s \D \W
 * \S \n \t \r \f \v \xHH \uHHHH and escaped punctuation), ".", classes
 * ([a-z0-9_], ranges, class escapes, negated [^...]: the first of a-z,
 * A-Z, 0-9, then other printable ASCII not in it), groups ((...), (?:...),
 * (?<name>...)) with "|" (the first alternative), quantifiers ? * + {n}
 * {n,} {n,m} (lazy or possessive suffixes read and ignored), and "^" / "$"
 * where they start or end the pattern. Anything else (backreferences,
 * lookarounds, \b, anchors inside) is outside the subset: the string is
 * then built as if there were no pattern. When the shortest string is
 * under minLength, open quantifiers repeat once more per pass, at most
 * FG_SIM_SCHEMA_MAX_ITEMS passes.
 *
 * Bounds, so a hostile schema costs little: depth FG_SIM_SCHEMA_MAX_DEPTH
 * (deeper objects and arrays are {} and []), FG_SIM_SCHEMA_MAX_NODES
 * values in all (then containers stay empty), FG_SIM_SCHEMA_MAX_ITEMS per
 * array, FG_SIM_SCHEMA_MAX_STRING bytes per string, and once the strings
 * reach FG_SIM_SCHEMA_MAX_BYTES in all no further item is added and a
 * required member not yet filled is "test" (so an instance stays near
 * that size). Past a bound the
 * instance may break "required" or "minItems"; nothing else is promised
 * then. Not honoured: not, if/then/else, dependencies, minProperties,
 * patternProperties, additionalProperties (only declared names are
 * written), contentEncoding, uniqueItems beyond the variants above.
 */

#include "tests/sim/schema.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "common/wire/utf8.h"

typedef struct {
    json_t *root;
    size_t  nodes;
    size_t  bytes;      /* of strings so far */
} schema_fill_t;

typedef struct {
    const char *p;
    const char *end;
    char       *out;
    size_t      size;
    size_t      len;
    size_t      extra;
    int         is_bad;
} schema_gen_t;

static json_t *schema_value(schema_fill_t *f, json_t *s, int depth,
    size_t variant);
static json_t *schema_resolve(schema_fill_t *f, const char *ref);
static const char *schema_type(json_t *s);
static json_t *schema_object(schema_fill_t *f, json_t *s, int depth);
static json_t *schema_array(schema_fill_t *f, json_t *s, int depth);
static int schema_is_spent(const schema_fill_t *f);
static json_t *schema_string(json_t *s, size_t variant);
static json_t *schema_number(json_t *s, int is_integer, size_t variant);
static size_t schema_cp_cut(const char *s, size_t len, size_t cps);
static void schema_gen_alt(schema_gen_t *g, int depth);
static void schema_gen_seq(schema_gen_t *g, int depth);
static void schema_gen_put(schema_gen_t *g, const char *s, size_t len);
static void schema_gen_utf8(schema_gen_t *g, unsigned long cp);
static int schema_gen_escape(schema_gen_t *g, char *one);
static void schema_gen_class(schema_gen_t *g);
static int schema_gen_quant(schema_gen_t *g, size_t *min, size_t *max);
static size_t schema_gen_number(schema_gen_t *g);
static int schema_hex(const char *p, const char *end, size_t n,
    unsigned long *v);

json_t *
fg_sim_schema_fill(json_t *schema)
{
    schema_fill_t f;

    f.root = schema;
    f.nodes = 0;
    f.bytes = 0;
    return schema_value(&f, schema, 0, 0);
}

static json_t *
schema_value(schema_fill_t *f, json_t *s, int depth, size_t variant)
{
    json_t *v, *branch, *merged;
    const char *t;
    size_t i;

    if (json_is_false(s)) {
        return json_null();         /* nothing satisfies it */
    }
    if (!json_is_object(s)) {
        return json_string("test");
    }
    f->nodes++;
    v = json_object_get(s, "$ref");
    if (json_is_string(v) && depth < FG_SIM_SCHEMA_MAX_DEPTH) {
        json_t *target = schema_resolve(f, json_string_value(v));

        if (target != NULL && target != s) {
            return schema_value(f, target, depth + 1, variant);
        }
    }
    if ((v = json_object_get(s, "const")) != NULL) {
        return json_deep_copy(v);
    }
    v = json_object_get(s, "enum");
    if (json_array_size(v) > 0) {
        return json_deep_copy(json_array_get(v, variant % json_array_size(v)));
    }
    v = json_object_get(s, "anyOf");
    if (json_array_size(v) == 0) {
        v = json_object_get(s, "oneOf");
    }
    if (json_array_size(v) > 0) {
        return schema_value(f, json_array_get(v, 0), depth + 1, variant);
    }
    v = json_object_get(s, "allOf");
    if (json_array_size(v) > 0) {
        merged = NULL;
        json_array_foreach(v, i, branch) {
            json_t *one = schema_value(f, branch, depth + 1, variant);

            if (merged == NULL) {
                merged = one;
            } else if (json_is_object(merged) && json_is_object(one)) {
                json_object_update_missing(merged, one);
                json_decref(one);
            } else {
                json_decref(one);
            }
        }
        return merged;
    }

    t = schema_type(s);
    if (strcmp(t, "object") == 0) {
        return schema_object(f, s, depth);
    }
    if (strcmp(t, "array") == 0) {
        return schema_array(f, s, depth);
    }
    if (strcmp(t, "integer") == 0 || strcmp(t, "number") == 0) {
        return schema_number(s, t[0] == 'i', variant);
    }
    if (strcmp(t, "boolean") == 0) {
        return json_true();
    }
    if (strcmp(t, "null") == 0) {
        return json_null();
    }
    v = schema_string(s, variant);
    f->bytes += json_string_length(v);
    return v;
}

static int
schema_is_spent(const schema_fill_t *f)
{
    return f->nodes >= FG_SIM_SCHEMA_MAX_NODES
           || f->bytes >= FG_SIM_SCHEMA_MAX_BYTES;
}

/* The schema @ref points to in the root, or NULL. */
static json_t *
schema_resolve(schema_fill_t *f, const char *ref)
{
    json_t *at = f->root;
    char token[256];
    size_t n;

    if (ref[0] != '#') {
        return NULL;
    }
    ref++;
    while (*ref == '/' && at != NULL) {
        ref++;
        for (n = 0; *ref != '\0' && *ref != '/'; ref++) {
            if (n + 1 >= sizeof(token)) {
                return NULL;
            }
            if (ref[0] == '~' && (ref[1] == '0' || ref[1] == '1')) {
                token[n++] = ref[1] == '0' ? '~' : '/';
                ref++;
            } else {
                token[n++] = *ref;
            }
        }
        token[n] = '\0';
        if (json_is_array(at)) {
            at = json_array_get(at, strtoul(token, NULL, 10));
        } else {
            at = json_object_get(at, token);
        }
    }
    return *ref == '\0' ? at : NULL;
}

static const char *
schema_type(json_t *s)
{
    json_t *type = json_object_get(s, "type"), *v;
    const char *t;
    size_t i;

    if (json_is_string(type)) {
        return json_string_value(type);
    }
    json_array_foreach(type, i, v) {
        t = json_string_value(v);
        if (t != NULL && strcmp(t, "null") != 0) {
            return t;
        }
    }
    if (json_array_size(type) > 0) {
        return "null";
    }
    if (json_object_get(s, "properties") || json_object_get(s, "required")) {
        return "object";
    }
    if (json_object_get(s, "items") || json_object_get(s, "minItems")
        || json_object_get(s, "prefixItems"))
    {
        return "array";
    }
    if (json_object_get(s, "minimum") || json_object_get(s, "maximum")
        || json_object_get(s, "exclusiveMinimum")
        || json_object_get(s, "exclusiveMaximum"))
    {
        return "number";
    }
    return "string";
}

static json_t *
schema_object(schema_fill_t *f, json_t *s, int depth)
{
    json_t *obj = json_object(), *props, *required, *v;
    const char *key;
    size_t i;

    if (depth >= FG_SIM_SCHEMA_MAX_DEPTH || schema_is_spent(f)) {
        return obj;
    }
    props = json_object_get(s, "properties");
    required = json_object_get(s, "required");
    json_object_foreach(props, key, v) {
        int is_wanted = !json_is_array(required);

        json_array_foreach(required, i, v) {
            if (json_is_string(v) && strcmp(json_string_value(v), key) == 0) {
                is_wanted = 1;
                break;
            }
        }
        if (is_wanted && !schema_is_spent(f)) {
            json_object_set_new(obj, key, schema_value(
                f, json_object_get(props, key), depth + 1, 0));
        }
    }
    json_array_foreach(required, i, v) {
        key = json_string_value(v);
        if (key != NULL && json_object_get(obj, key) == NULL) {
            json_object_set_new(obj, key, json_string("test"));
        }
    }
    return obj;
}

static json_t *
schema_array(schema_fill_t *f, json_t *s, int depth)
{
    json_t *arr = json_array(), *items, *prefix, *contains, *item;
    json_int_t min = 0, max = FG_SIM_SCHEMA_MAX_ITEMS;
    int is_unique;
    size_t i;

    if (depth >= FG_SIM_SCHEMA_MAX_DEPTH || schema_is_spent(f)) {
        return arr;
    }
    if (json_is_integer(json_object_get(s, "minItems"))) {
        min = json_integer_value(json_object_get(s, "minItems"));
    }
    if (json_is_integer(json_object_get(s, "maxItems"))
        && json_integer_value(json_object_get(s, "maxItems")) < max)
    {
        max = json_integer_value(json_object_get(s, "maxItems"));
    }
    contains = json_object_get(s, "contains");
    if (contains != NULL && min < 1) {
        min = 1;
    }
    if (min > max) {
        min = max;
    }
    items = json_object_get(s, "items");
    prefix = json_object_get(s, "prefixItems");
    if (json_is_array(items)) {
        prefix = items;     /* draft-4 tuple form */
        items = json_object_get(s, "additionalItems");
    }
    is_unique = json_is_true(json_object_get(s, "uniqueItems"));
    for (i = 0; i < (size_t) (min > 0 ? min : 0); i++) {
        if (schema_is_spent(f)) {
            break;
        }
        item = i == 0 && contains != NULL ? contains
               : i < json_array_size(prefix) ? json_array_get(prefix, i)
               : items;
        json_array_append_new(arr, schema_value(f, item, depth + 1,
                                                is_unique ? i : 0));
    }
    return arr;
}

static json_t *
schema_string(json_t *s, size_t variant)
{
    static const char *const formats[][2] = {
        { "date-time", "2024-01-01T00:00:00Z" },
        { "date",      "2024-01-01" },
        { "time",      "00:00:00Z" },
        { "email",     "test@example.com" },
        { "uri",       "https://example.com/" },
        { "url",       "https://example.com/" },
        { "uuid",      "00000000-0000-4000-8000-000000000000" },
        { "ipv4",      "127.0.0.1" },
        { "ipv6",      "::1" },
        { "hostname",  "example.com" }
    };
    const char *format = json_string_value(json_object_get(s, "format"));
    const char *pattern = json_string_value(json_object_get(s, "pattern"));
    json_t *v;
    json_int_t min = 0, max = -1;
    char *buf = fg_xmalloc(FG_SIM_SCHEMA_MAX_STRING + 8);
    long len = -1;
    size_t i, cps;
    int is_made = 0;

    v = json_object_get(s, "minLength");
    if (json_is_integer(v)) {
        min = json_integer_value(v);
        if (min > FG_SIM_SCHEMA_MAX_STRING) {
            min = FG_SIM_SCHEMA_MAX_STRING;
        }
    }
    v = json_object_get(s, "maxLength");
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        max = json_integer_value(v);
    }

    if (pattern != NULL
        && json_string_length(json_object_get(s, "pattern"))
           <= FG_SIM_SCHEMA_MAX_PATTERN)
    {
        for (i = 0; i <= FG_SIM_SCHEMA_MAX_ITEMS; i++) {
            len = fg_sim_schema_pattern(pattern, i, buf,
                                        FG_SIM_SCHEMA_MAX_STRING + 1);
            if (len < 0 || fg_utf8_count((const unsigned char *) buf, (size_t) len) >= (size_t) min) {
                break;
            }
        }
        is_made = len >= 0;
    }
    for (i = 0; !is_made && format != NULL
                && i < sizeof(formats) / sizeof(formats[0]); i++)
    {
        if (strcmp(format, formats[i][0]) == 0) {
            len = (long) strlen(formats[i][1]);
            memcpy(buf, formats[i][1], (size_t) len + 1);
            is_made = 1;
        }
    }
    if (!is_made) {
        len = variant > 0 ? snprintf(buf, 32, "test%zu", variant)
                          : snprintf(buf, 32, "test");
        cps = (size_t) len;
        while (cps < (size_t) min) {
            buf[len++] = 'x';
            cps++;
        }
        if (max >= 0 && cps > (size_t) max) {
            len = (long) schema_cp_cut(buf, (size_t) len, (size_t) max);
        }
    }
    v = json_stringn(buf, (size_t) len);
    free(buf);
    return v != NULL ? v : json_string("test");
}

static json_t *
schema_number(json_t *s, int is_integer, size_t variant)
{
    double lo = -INFINITY, hi = INFINITY, c = 1.0 + (double) variant, m = 0;
    int is_lo_ex = 0, is_hi_ex = 0;
    json_t *v;

    if (json_is_number(v = json_object_get(s, "minimum"))) {
        lo = json_number_value(v);
    }
    if (json_is_number(v = json_object_get(s, "maximum"))) {
        hi = json_number_value(v);
    }
    v = json_object_get(s, "exclusiveMinimum");
    if (json_is_number(v)) {
        lo = json_number_value(v);
        is_lo_ex = 1;
    } else if (json_is_true(v)) {
        is_lo_ex = 1;
    }
    v = json_object_get(s, "exclusiveMaximum");
    if (json_is_number(v)) {
        hi = json_number_value(v);
        is_hi_ex = 1;
    } else if (json_is_true(v)) {
        is_hi_ex = 1;
    }
    if (json_is_number(v = json_object_get(s, "multipleOf"))
        && json_number_value(v) > 0)
    {
        m = json_number_value(v);
    }

    if (is_integer) {
        lo = is_lo_ex ? floor(lo) + 1 : ceil(lo);
        hi = is_hi_ex ? ceil(hi) - 1 : floor(hi);
        is_lo_ex = is_hi_ex = 0;
    }
    if (c < lo || (is_lo_ex && c <= lo)) {
        c = !is_lo_ex ? lo : isfinite(hi) ? (lo + hi) / 2 : lo + 1;
    }
    if (c > hi || (is_hi_ex && c >= hi)) {
        c = !is_hi_ex ? hi : isfinite(lo) ? (lo + hi) / 2 : hi - 1;
    }
    if (m > 0) {
        double k = ceil(c / m) * m;

        if (k > hi || (is_hi_ex && k >= hi)) {
            k = floor(c / m) * m;
        }
        c = k;
    }
    if (!isfinite(c)) {
        c = 1;
    }
    if (c == floor(c) && fabs(c) < 9007199254740992.0) {
        return json_integer((json_int_t) c);
    }
    return is_integer ? json_integer((json_int_t) llround(c)) : json_real(c);
}

/* The bytes of @s's first @cps code points. */
static size_t
schema_cp_cut(const char *s, size_t len, size_t cps)
{
    size_t i, n = 0;

    for (i = 0; i < len; i++) {
        if (((unsigned char) s[i] & 0xc0) != 0x80 && n++ == cps) {
            return i;
        }
    }
    return len;
}

long
fg_sim_schema_pattern(const char *pattern, size_t extra, char *out,
    size_t size)
{
    schema_gen_t g;
    size_t plen = strlen(pattern);

    if (size == 0 || plen > FG_SIM_SCHEMA_MAX_PATTERN) {
        return -1;
    }
    g.p = pattern;
    g.end = pattern + plen;
    if (g.p < g.end && *g.p == '^') {
        g.p++;
    }
    if (g.end > g.p && g.end[-1] == '$'
        && (g.end - g.p < 2 || g.end[-2] != '\\'))
    {
        g.end--;
    }
    g.out = out;
    g.size = size;
    g.len = 0;
    g.extra = extra;
    g.is_bad = 0;
    schema_gen_alt(&g, 0);
    if (g.is_bad || g.p != g.end) {
        return -1;
    }
    out[g.len] = '\0';
    return (long) g.len;
}

/* Alternatives: the first is written, the others read past unwritten. */
static void
schema_gen_alt(schema_gen_t *g, int depth)
{
    size_t len;

    if (depth > 32) {
        g->is_bad = 1;
        return;
    }
    schema_gen_seq(g, depth);
    while (!g->is_bad && g->p < g->end && *g->p == '|') {
        g->p++;
        len = g->len;
        schema_gen_seq(g, depth);
        g->len = len;
    }
}

static void
schema_gen_seq(schema_gen_t *g, int depth)
{
    size_t start, len, min, max, n, k;
    char one[8];
    int one_len;
    unsigned char c;

    while (!g->is_bad && g->p < g->end && *g->p != '|' && *g->p != ')') {
        start = g->len;
        c = (unsigned char) *g->p;
        if (c == '(') {
            g->p++;
            if (g->p < g->end && *g->p == '?') {
                if (g->p + 1 < g->end && g->p[1] == ':') {
                    g->p += 2;
                } else if (g->p + 2 < g->end && g->p[1] == '<'
                           && g->p[2] != '=' && g->p[2] != '!')
                {
                    g->p = memchr(g->p, '>', (size_t) (g->end - g->p));
                    if (g->p == NULL) {
                        g->is_bad = 1;
                        return;
                    }
                    g->p++;
                } else {
                    g->is_bad = 1;      /* lookaround */
                    return;
                }
            }
            schema_gen_alt(g, depth + 1);
            if (g->p >= g->end || *g->p != ')') {
                g->is_bad = 1;
                return;
            }
            g->p++;
        } else if (c == '[') {
            g->p++;
            schema_gen_class(g);
        } else if (c == '\\') {
            g->p++;
            one_len = schema_gen_escape(g, one);
            if (one_len > 0) {
                schema_gen_put(g, one, (size_t) one_len);
            }
        } else if (c == '.') {
            g->p++;
            schema_gen_put(g, "a", 1);
        } else if (c == '^' || c == '$' || c == '*' || c == '+' || c == '?'
                   || c == '{' || c == ']' || c == '}')
        {
            g->is_bad = 1;
            return;
        } else {
            n = 1;
            if (c >= 0xc0) {
                while (g->p + n < g->end
                       && ((unsigned char) g->p[n] & 0xc0) == 0x80)
                {
                    n++;
                }
            }
            schema_gen_put(g, g->p, n);
            g->p += n;
        }
        if (g->is_bad || schema_gen_quant(g, &min, &max) != 0) {
            g->is_bad = 1;
            return;
        }
        /* The atom was written once; make that min + extra (up to max). */
        n = min;
        if (max > min) {
            n = max - min < g->extra ? max : min + g->extra;
        }
        len = g->len - start;
        if (n == 0) {
            g->len = start;
        }
        for (k = 1; k < n && !g->is_bad; k++) {
            if (g->len + len >= g->size) {
                g->is_bad = 1;
                return;
            }
            memmove(g->out + g->len, g->out + start, len);
            g->len += len;
        }
    }
}

static void
schema_gen_put(schema_gen_t *g, const char *s, size_t len)
{
    if (g->len + len >= g->size) {
        g->is_bad = 1;
        return;
    }
    memcpy(g->out + g->len, s, len);
    g->len += len;
}

static void
schema_gen_utf8(schema_gen_t *g, unsigned long cp)
{
    char b[4];

    if (cp < 0x80) {
        b[0] = (char) cp;
        schema_gen_put(g, b, 1);
    } else if (cp < 0x800) {
        b[0] = (char) (0xc0 | (cp >> 6));
        b[1] = (char) (0x80 | (cp & 0x3f));
        schema_gen_put(g, b, 2);
    } else if (cp >= 0xd800 && cp < 0xe000) {
        g->is_bad = 1;
    } else {
        b[0] = (char) (0xe0 | (cp >> 12));
        b[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char) (0x80 | (cp & 0x3f));
        schema_gen_put(g, b, 3);
    }
}

/*
 * Reads the escape after a backslash (g->p is past it) and writes the
 * one character it stands for into @one. Returns its length; 0 when it
 * wrote it itself (\x, \u); -1 (is_bad) outside the subset.
 */
static int
schema_gen_escape(schema_gen_t *g, char *one)
{
    unsigned long v;
    char c;

    if (g->p >= g->end) {
        g->is_bad = 1;
        return -1;
    }
    c = *g->p++;
    switch (c) {
    case 'd': one[0] = '0'; return 1;
    case 'w': one[0] = 'a'; return 1;
    case 's': one[0] = ' '; return 1;
    case 'D': one[0] = 'a'; return 1;
    case 'W': one[0] = '-'; return 1;
    case 'S': one[0] = 'a'; return 1;
    case 'n': one[0] = '\n'; return 1;
    case 't': one[0] = '\t'; return 1;
    case 'r': one[0] = '\r'; return 1;
    case 'f': one[0] = '\f'; return 1;
    case 'v': one[0] = '\v'; return 1;
    case 'x':
    case 'u':
        if (schema_hex(g->p, g->end, c == 'x' ? 2 : 4, &v) != 0) {
            g->is_bad = 1;
            return -1;
        }
        g->p += c == 'x' ? 2 : 4;
        schema_gen_utf8(g, v);
        return 0;
    default:
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9'))
        {
            g->is_bad = 1;      /* \b, \1, \k<...>, \p{...}: not ours */
            return -1;
        }
        one[0] = c;
        return 1;
    }
}

/* A class, g->p just past '['; writes one character it matches. */
static void
schema_gen_class(schema_gen_t *g)
{
    static const char candidates[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        "-_.~!#%&*+,/:;=?@^|";
    char in[128];
    char first[8], one[8];
    size_t first_len = 0, i;
    int is_neg = 0, n;
    unsigned char lo, hi;

    memset(in, 0, sizeof(in));
    if (g->p < g->end && *g->p == '^') {
        is_neg = 1;
        g->p++;
    }
    while (g->p < g->end && *g->p != ']') {
        if (*g->p == '\\') {
            g->p++;
            if (g->p < g->end && strchr("dwsDWS", *g->p) != NULL) {
                const char *set = *g->p == 'd' ? "0123456789"
                    : *g->p == 'w' ? "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
                                     "KLMNOPQRSTUVWXYZ0123456789_"
                    : *g->p == 's' ? " \t\n\r\f\v" : NULL;

                if (set == NULL) {
                    g->is_bad = 1;  /* negated class escapes in a class */
                    return;
                }
                for (i = 0; set[i] != '\0'; i++) {
                    in[(unsigned char) set[i]] = 1;
                }
                if (first_len == 0) {
                    first[0] = set[0];
                    first_len = 1;
                }
                g->p++;
                continue;
            }
            n = schema_gen_escape(g, one);
            if (n <= 0) {
                g->is_bad = 1;
                return;
            }
        } else {
            one[0] = *g->p++;
            n = 1;
            if ((unsigned char) one[0] >= 0x80) {
                while (g->p < g->end
                       && ((unsigned char) *g->p & 0xc0) == 0x80 && n < 4)
                {
                    one[n++] = *g->p++;
                }
            }
        }
        if (first_len == 0) {
            memcpy(first, one, (size_t) n);
            first_len = (size_t) n;
        }
        lo = (unsigned char) one[0];
        if (n == 1 && g->p + 1 < g->end && *g->p == '-' && g->p[1] != ']') {
            g->p++;
            hi = (unsigned char) *g->p;
            if (hi == '\\' || hi >= 0x80 || lo >= 0x80 || hi < lo) {
                g->is_bad = 1;
                return;
            }
            g->p++;
            for (i = lo; i <= hi; i++) {
                in[i] = 1;
            }
        } else if (n == 1 && lo < 0x80) {
            in[lo] = 1;
        }
    }
    if (g->p >= g->end) {
        g->is_bad = 1;
        return;
    }
    g->p++;
    if (!is_neg) {
        if (first_len == 0) {
            g->is_bad = 1;      /* [] matches nothing */
            return;
        }
        schema_gen_put(g, first, first_len);
        return;
    }
    for (i = 0; candidates[i] != '\0'; i++) {
        if (!in[(unsigned char) candidates[i]]) {
            schema_gen_put(g, candidates + i, 1);
            return;
        }
    }
    g->is_bad = 1;
}

/* Reads a quantifier after an atom: {1,1} when there is none. */
static int
schema_gen_quant(schema_gen_t *g, size_t *min, size_t *max)
{
    const char *save;

    *min = *max = 1;
    if (g->p >= g->end) {
        return 0;
    }
    switch (*g->p) {
    case '?':
        *min = 0;
        g->p++;
        break;
    case '*':
        *min = 0;
        *max = SIZE_MAX;
        g->p++;
        break;
    case '+':
        *max = SIZE_MAX;
        g->p++;
        break;
    case '{':
        save = g->p++;
        if (g->p >= g->end || *g->p < '0' || *g->p > '9') {
            g->p = save;
            return -1;
        }
        *min = *max = schema_gen_number(g);
        if (g->p < g->end && *g->p == ',') {
            g->p++;
            *max = g->p < g->end && *g->p >= '0' && *g->p <= '9'
                   ? schema_gen_number(g) : SIZE_MAX;
        }
        if (g->p >= g->end || *g->p != '}' || *max < *min
            || *min > FG_SIM_SCHEMA_MAX_STRING)
        {
            return -1;
        }
        g->p++;
        break;
    default:
        return 0;
    }
    if (g->p < g->end && (*g->p == '?' || *g->p == '+')) {
        g->p++;
    }
    return 0;
}

static size_t
schema_gen_number(schema_gen_t *g)
{
    size_t n = 0;

    while (g->p < g->end && *g->p >= '0' && *g->p <= '9') {
        if (n < 1000000) {
            n = n * 10 + (size_t) (*g->p - '0');
        }
        g->p++;
    }
    return n;
}

static int
schema_hex(const char *p, const char *end, size_t n, unsigned long *v)
{
    size_t i;
    char c;

    if ((size_t) (end - p) < n) {
        return -1;
    }
    *v = 0;
    for (i = 0; i < n; i++) {
        c = p[i];
        *v <<= 4;
        if (c >= '0' && c <= '9') {
            *v |= (unsigned long) (c - '0');
        } else if (c >= 'a' && c <= 'f') {
            *v |= (unsigned long) (c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            *v |= (unsigned long) (c - 'A' + 10);
        } else {
            return -1;
        }
    }
    return 0;
}
