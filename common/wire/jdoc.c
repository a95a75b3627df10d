/*
 * jdoc.c: a strict, non-recursive JSON parser into a flat node array.
 *
 * One pass over the bytes with an explicit stack of open containers; a
 * string is scanned with a byte table (plain ASCII bytes skip the checks)
 * and validated as UTF-8 and escapes in place, never copied. Duplicate
 * keys are looked for when an object closes: pairwise for small objects,
 * sorted for large ones, so a hostile 100,000-key object costs n log n.
 *
 * Error texts are common/wire/json.c's: a reason, a quote of the input
 * where it failed clipped by fg_json_clip(), line and column.
 */

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire/jdoc.h"
#include "common/wire/json.h"
#include "common/wire/utf8.h"

#define JDOC_QUOTE_MAX     32   /* bytes of input an error may quote */
#define JDOC_PAIRWISE_MAX  8    /* objects up to this size: no sort */
#define JDOC_NUM_MAX       64   /* a real's text on the stack up to this */
#define JDOC_STACK_LOCAL   128

typedef struct {
    fg_jdoc_t           *doc;
    const unsigned char *s;          /* first byte */
    const unsigned char *e;          /* one past the last */
    const unsigned char *p;          /* cursor */
    fg_err_t            *err;
    const char          *reason;     /* set on failure */
    const unsigned char *at;         /* where it failed */
    int                  code;       /* the fg_error_code_t to report */
    size_t               max_depth;
    char                 dup[JDOC_QUOTE_MAX + 4];
} jdoc_parser_t;

/* Bytes a string scan must stop at: '"', '\\', controls, non-ASCII. */
static unsigned char jdoc_special[256];
static int           jdoc_special_ready;

static void jdoc_init_tables(void);
static int jdoc_node(jdoc_parser_t *jp, fg_jtype_t type);
static int jdoc_string(jdoc_parser_t *jp);
static int jdoc_number(jdoc_parser_t *jp);
static int jdoc_literal(jdoc_parser_t *jp);
static int jdoc_close(jdoc_parser_t *jp, uint32_t c);
static int jdoc_check_duplicates(jdoc_parser_t *jp, uint32_t obj);
static int jdoc_fail(jdoc_parser_t *jp, const char *reason);
static void jdoc_report(jdoc_parser_t *jp);
static size_t jdoc_decode(const char *raw, size_t len, char *out);
static int jdoc_hex4(const unsigned char *p, unsigned *out);
static int jdoc_key_cmp(const void *a, const void *b, void *arg);

static void
jdoc_init_tables(void)
{
    int c;

    for (c = 0; c < 256; c++) {
        jdoc_special[c] = (c < 0x20 || c == '"' || c == '\\' || c >= 0x80);
    }
    jdoc_special_ready = 1;
}

static inline void
jdoc_skip_ws(jdoc_parser_t *jp)
{
    while (jp->p < jp->e && (*jp->p == ' ' || *jp->p == '\n'
                             || *jp->p == '\r' || *jp->p == '\t')) {
        jp->p++;
    }
}

/* Appends a node starting at the cursor; returns its index or -1. */
static int
jdoc_node(jdoc_parser_t *jp, fg_jtype_t type)
{
    fg_jdoc_t  *doc = jp->doc;
    fg_jnode_t *n;

    if (doc->count == doc->cap) {
        uint32_t    cap = doc->cap ? doc->cap * 2 : 16;
        fg_jnode_t *grown = realloc(doc->nodes, cap * sizeof(*grown));

        if (grown == NULL) {
            return jdoc_fail(jp, "out of memory");
        }
        doc->nodes = grown;
        doc->cap = cap;
    }
    n = &doc->nodes[doc->count];
    memset(n, 0, sizeof(*n));
    n->type = (uint8_t) type;
    n->start = (uint32_t) (jp->p - jp->s);
    n->end = doc->count + 1;
    return (int) doc->count++;
}

int
fg_jdoc_parse(fg_jdoc_t *doc, const char *buf, size_t len,
              size_t max_depth, fg_err_t *err)
{
    jdoc_parser_t  jp;
    uint32_t       local[JDOC_STACK_LOCAL], *stack = local;
    size_t         depth = 0;
    int            idx;

    memset(doc, 0, sizeof(*doc));
    memset(&jp, 0, sizeof(jp));
    jp.doc = doc;
    jp.err = err;
    jp.code = FG_E_INVALID_JSON;
    jp.max_depth = max_depth;
    if (!jdoc_special_ready) {
        jdoc_init_tables();
    }

    if (buf == NULL || fg_json_is_blank(buf, len)) {
        fg_err_set(err, FG_E_EMPTY_BODY, NULL,
                   "The request body is empty; expected a JSON object.");
        return FG_ERR;
    }
    if (len > UINT32_MAX / 2) {
        fg_err_set(err, FG_E_INVALID_JSON, NULL,
                   "The request body is too large to parse.");
        return FG_ERR;
    }
    doc->buf = buf;
    doc->len = len;
    jp.s = (const unsigned char *) buf;
    jp.e = jp.s + len;
    jp.p = jp.s;
    if (max_depth > JDOC_STACK_LOCAL) {
        stack = malloc((max_depth < len ? max_depth : len)
                       * sizeof(*stack) + sizeof(*stack));
        if (stack == NULL) {
            fg_err_set(err, FG_E_INTERNAL, NULL, "out of memory");
            return FG_ERR;
        }
    }

    jdoc_skip_ws(&jp);

value:
    if (jp.p >= jp.e) {
        jdoc_fail(&jp, "unexpected end of input");
        goto fail;
    }
    if (depth > 0 && doc->nodes[stack[depth - 1]].type == FG_JARRAY) {
        doc->nodes[stack[depth - 1]].count++;
    }
    switch (*jp.p) {
    case '{':
    case '[':
        if (depth >= max_depth) {
            jp.code = FG_E_NESTING_TOO_DEEP;
            goto fail;
        }
        idx = jdoc_node(&jp, *jp.p == '{' ? FG_JOBJECT : FG_JARRAY);
        if (idx < 0) {
            goto fail;
        }
        stack[depth++] = (uint32_t) idx;
        jp.p++;
        jdoc_skip_ws(&jp);
        if (jp.p < jp.e && *jp.p == (doc->nodes[idx].type == FG_JOBJECT
                                     ? '}' : ']')) {
            if (jdoc_close(&jp, (uint32_t) idx) != FG_OK) {
                goto fail;
            }
            depth--;
            goto after;
        }
        if (doc->nodes[idx].type == FG_JOBJECT) {
            goto key;
        }
        goto value;
    case '"':
        if (jdoc_string(&jp) != FG_OK) {
            goto fail;
        }
        goto after;
    case 't':
    case 'f':
    case 'n':
        if (jdoc_literal(&jp) != FG_OK) {
            goto fail;
        }
        goto after;
    default:
        if (*jp.p == '-' || (*jp.p >= '0' && *jp.p <= '9')) {
            if (jdoc_number(&jp) != FG_OK) {
                goto fail;
            }
            goto after;
        }
        jdoc_fail(&jp, "invalid token");
        goto fail;
    }

key:
    if (jp.p >= jp.e || *jp.p != '"') {
        jdoc_fail(&jp, jp.p >= jp.e ? "unexpected end of input"
                                    : "string or '}' expected");
        goto fail;
    }
    doc->nodes[stack[depth - 1]].count++;
    if (jdoc_string(&jp) != FG_OK) {
        goto fail;
    }
    jdoc_skip_ws(&jp);
    if (jp.p >= jp.e || *jp.p != ':') {
        jdoc_fail(&jp, "':' expected");
        goto fail;
    }
    jp.p++;
    jdoc_skip_ws(&jp);
    goto value;

after:
    jdoc_skip_ws(&jp);
    if (depth == 0) {
        if (jp.p != jp.e) {
            jdoc_fail(&jp, "end of file expected");
            goto fail;
        }
        if (stack != local) {
            free(stack);
        }
        return FG_OK;
    }
    if (jp.p >= jp.e) {
        jdoc_fail(&jp, "unexpected end of input");
        goto fail;
    }
    if (*jp.p == ',') {
        jp.p++;
        jdoc_skip_ws(&jp);
        if (doc->nodes[stack[depth - 1]].type == FG_JOBJECT) {
            goto key;
        }
        goto value;
    }
    if (*jp.p == (doc->nodes[stack[depth - 1]].type == FG_JOBJECT
                  ? '}' : ']')) {
        if (jdoc_close(&jp, stack[depth - 1]) != FG_OK) {
            goto fail;
        }
        depth--;
        goto after;
    }
    jdoc_fail(&jp, doc->nodes[stack[depth - 1]].type == FG_JOBJECT
                   ? "',' or '}' expected" : "',' or ']' expected");

fail:
    jdoc_report(&jp);
    if (stack != local) {
        free(stack);
    }
    fg_jdoc_free(doc);
    return FG_ERR;
}

/* The cursor is on container @c's closing bracket. */
static int
jdoc_close(jdoc_parser_t *jp, uint32_t c)
{
    fg_jnode_t *n = &jp->doc->nodes[c];

    jp->p++;
    n->len = (uint32_t) (jp->p - jp->s) - n->start;
    n->end = jp->doc->count;
    if (n->type == FG_JOBJECT && n->count > 1) {
        return jdoc_check_duplicates(jp, c);
    }
    return FG_OK;
}

static int
jdoc_string(jdoc_parser_t *jp)
{
    const unsigned char *p, *e = jp->e;
    int                  idx = jdoc_node(jp, FG_JSTRING);
    unsigned             cp, lo;
    int                  has_escapes = 0;

    if (idx < 0) {
        return FG_ERR;
    }
    p = jp->p + 1;
    for (;;) {
        while (p < e && !jdoc_special[*p]) {
            p++;
        }
        if (p >= e) {
            jp->p = p;
            return jdoc_fail(jp, "premature end of input in a string");
        }
        if (*p == '"') {
            break;
        }
        if (*p == '\\') {
            has_escapes = 1;
            if (p + 1 >= e) {
                jp->p = p;
                return jdoc_fail(jp, "premature end of input in a string");
            }
            switch (p[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n':
            case 'r': case 't':
                p += 2;
                continue;
            case 'u':
                break;
            default:
                jp->p = p;
                return jdoc_fail(jp, "invalid escape");
            }
            if (e - p < 6 || !jdoc_hex4(p + 2, &cp)) {
                jp->p = p;
                return jdoc_fail(jp, "invalid escape");
            }
            if (cp == 0) {
                jp->p = p;
                return jdoc_fail(jp, "\\u0000 is not allowed");
            }
            if (cp >= 0xdc00 && cp <= 0xdfff) {
                jp->p = p;
                return jdoc_fail(jp, "invalid Unicode (a lone low "
                                     "surrogate)");
            }
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (e - p < 12 || p[6] != '\\' || p[7] != 'u'
                    || !jdoc_hex4(p + 8, &lo) || lo < 0xdc00 || lo > 0xdfff) {
                    jp->p = p;
                    return jdoc_fail(jp, "invalid Unicode (a high "
                                         "surrogate without its pair)");
                }
                p += 12;
                continue;
            }
            p += 6;
            continue;
        }
        if (*p < 0x20) {
            jp->p = p;
            return jdoc_fail(jp, "control character in a string");
        }
        /* UTF-8: the shortest form, no surrogates, at most U+10FFFF. */
        {
            size_t len = fg_utf8_len(p, (size_t) (e - p));

            if (len == 0) {
                jp->p = p;
                return jdoc_fail(jp, "invalid UTF-8");
            }
            p += len;
        }
    }
    p++;   /* the closing quote */
    jp->doc->nodes[idx].has_escapes = (uint8_t) has_escapes;
    jp->doc->nodes[idx].len = (uint32_t) (p - jp->p);
    jp->p = p;
    return FG_OK;
}

/* Past a run of at least one digit at @p, or NULL when there is none. */
static const unsigned char *
jdoc_digits(const unsigned char *p, const unsigned char *e)
{
    const unsigned char *start = p;

    while (p < e && *p >= '0' && *p <= '9') {
        p++;
    }
    return p > start ? p : NULL;
}

static int
jdoc_number(jdoc_parser_t *jp)
{
    const unsigned char *p = jp->p, *e = jp->e, *digits;
    int                  idx, is_real = 0, neg = 0;
    unsigned long long   v = 0, limit;
    char                 local[JDOC_NUM_MAX], *text;
    size_t               n;
    double               d;

    if (*p == '-') {
        neg = 1;
        p++;
    }
    digits = p;
    /* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
    if (p < e && *p == '0') {
        p++;
    } else if ((p = jdoc_digits(p, e)) == NULL) {
        return jdoc_fail(jp, "invalid token");
    }
    if (p < e && *p == '.') {
        if ((p = jdoc_digits(p + 1, e)) == NULL) {
            return jdoc_fail(jp, "invalid token");
        }
        is_real = 1;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) {
            p++;
        }
        if ((p = jdoc_digits(p, e)) == NULL) {
            return jdoc_fail(jp, "invalid token");
        }
        is_real = 1;
    }

    idx = jdoc_node(jp, is_real ? FG_JREAL : FG_JINT);
    if (idx < 0) {
        return FG_ERR;
    }
    n = (size_t) (p - jp->p);
    if (!is_real) {
        const unsigned char *q;

        limit = neg ? (unsigned long long) LLONG_MAX + 1 : LLONG_MAX;
        for (q = digits; q < p; q++) {
            unsigned d10 = (unsigned) (*q - '0');

            if (v > (limit - d10) / 10) {
                return jdoc_fail(jp, neg ? "too big negative integer"
                                         : "too big integer");
            }
            v = v * 10 + d10;
        }
        jp->doc->nodes[idx].num.i = neg ? (long long) (0 - v)
                                        : (long long) v;
    } else {
        text = n < sizeof(local) ? local : malloc(n + 1);
        if (text == NULL) {
            return jdoc_fail(jp, "out of memory");
        }
        memcpy(text, jp->p, n);
        text[n] = '\0';
        errno = 0;
        d = strtod(text, NULL);
        if (text != local) {
            free(text);
        }
        if ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE) {
            return jdoc_fail(jp, "real number overflow");
        }
        jp->doc->nodes[idx].num.d = d;
    }
    jp->doc->nodes[idx].len = (uint32_t) n;
    jp->p = p;
    return FG_OK;
}

static int
jdoc_literal(jdoc_parser_t *jp)
{
    static const struct {
        const char *text;
        size_t      len;
        fg_jtype_t  type;
    } lits[] = {
        { "true", 4, FG_JTRUE }, { "false", 5, FG_JFALSE },
        { "null", 4, FG_JNULL },
    };
    size_t i;
    int    idx;

    for (i = 0; i < sizeof(lits) / sizeof(lits[0]); i++) {
        if ((size_t) (jp->e - jp->p) >= lits[i].len
            && memcmp(jp->p, lits[i].text, lits[i].len) == 0) {
            idx = jdoc_node(jp, lits[i].type);
            if (idx < 0) {
                return FG_ERR;
            }
            jp->doc->nodes[idx].len = (uint32_t) lits[i].len;
            jp->p += lits[i].len;
            return FG_OK;
        }
    }
    return jdoc_fail(jp, "invalid token");
}

/* Raw content of string node @n (between its quotes). */
static inline const char *
jdoc_raw(const fg_jdoc_t *doc, const fg_jnode_t *n, size_t *len)
{
    *len = n->len - 2;
    return doc->buf + n->start + 1;
}

static int
jdoc_key_cmp(const void *a, const void *b, void *arg)
{
    const fg_jdoc_t  *doc = arg;
    const fg_jnode_t *x = &doc->nodes[*(const uint32_t *) a];
    const fg_jnode_t *y = &doc->nodes[*(const uint32_t *) b];
    const char       *xs, *ys;
    char             *xd = NULL, *yd = NULL;
    size_t            xl, yl;
    int               r;

    xs = jdoc_raw(doc, x, &xl);
    ys = jdoc_raw(doc, y, &yl);
    if (x->has_escapes) {
        xd = malloc(xl + 1);
        xl = xd ? jdoc_decode(xs, xl, xd) : 0;
        xs = xd ? xd : "";
    }
    if (y->has_escapes) {
        yd = malloc(yl + 1);
        yl = yd ? jdoc_decode(ys, yl, yd) : 0;
        ys = yd ? yd : "";
    }
    r = memcmp(xs, ys, xl < yl ? xl : yl);
    if (r == 0) {
        r = xl < yl ? -1 : xl > yl ? 1 : 0;
    }
    free(xd);
    free(yd);
    return r;
}

static int
jdoc_check_duplicates(jdoc_parser_t *jp, uint32_t obj)
{
    fg_jdoc_t *doc = jp->doc;
    uint32_t   n = doc->nodes[obj].count, local[JDOC_PAIRWISE_MAX];
    uint32_t  *keys = local, k, i, j, dup = 0, found = 0;

    if (n > JDOC_PAIRWISE_MAX) {
        keys = malloc(n * sizeof(*keys));
        if (keys == NULL) {
            return jdoc_fail(jp, "out of memory");
        }
    }
    for (i = 0, k = obj + 1; i < n; i++) {
        keys[i] = k;
        k = doc->nodes[k + 1].end;
    }
    if (n <= JDOC_PAIRWISE_MAX) {
        for (i = 1; i < n && !found; i++) {
            for (j = 0; j < i; j++) {
                if (jdoc_key_cmp(&keys[i], &keys[j], doc) == 0) {
                    dup = keys[i];
                    found = 1;
                    break;
                }
            }
        }
    } else {
        qsort_r(keys, n, sizeof(*keys), jdoc_key_cmp, doc);
        for (i = 1; i < n; i++) {
            if (jdoc_key_cmp(&keys[i - 1], &keys[i], doc) == 0) {
                /* Report the later of the two, as a reader meets it. */
                uint32_t later = keys[i] > keys[i - 1] ? keys[i]
                                                       : keys[i - 1];

                if (!found || later < dup) {
                    dup = later;
                }
                found = 1;
            }
        }
    }
    if (keys != local) {
        free(keys);
    }
    if (!found) {
        return FG_OK;
    }
    {
        char   decoded[JDOC_QUOTE_MAX + 1];
        size_t len = fg_jdoc_str_copy(doc, (int) dup, decoded,
                                      sizeof(decoded));

        fg_json_clip(jp->dup, sizeof(jp->dup), decoded,
                     len < sizeof(decoded) ? len : sizeof(decoded) - 1);
        if (len >= sizeof(decoded)) {
            size_t l = strlen(jp->dup);

            if (l + 3 < sizeof(jp->dup)) {
                memcpy(jp->dup + l, "...", 4);
            }
        }
    }
    jp->code = FG_E_DUPLICATE_KEY;
    jp->at = jp->s + doc->nodes[dup].start;
    jp->reason = "duplicate object key";
    return FG_ERR;
}

static int
jdoc_fail(jdoc_parser_t *jp, const char *reason)
{
    if (jp->reason == NULL) {
        jp->reason = reason;
        jp->at = jp->p;
    }
    return FG_ERR;
}

static void
jdoc_report(jdoc_parser_t *jp)
{
    const unsigned char *q;
    int                  line = 1, column = 1;
    char                 near[JDOC_QUOTE_MAX + 4];
    size_t               n;

    if (jp->code == FG_E_NESTING_TOO_DEEP) {
        fg_err_set(jp->err, FG_E_NESTING_TOO_DEEP, NULL,
                   "The request body nests objects or arrays more than %zu "
                   "levels deep.", jp->max_depth);
        return;
    }
    if (jp->at == NULL) {
        jp->at = jp->p;
    }
    for (q = jp->s; q < jp->at; q++) {
        if (*q == '\n') {
            line++;
            column = 1;
        } else {
            column++;
        }
    }
    if (jp->code == FG_E_DUPLICATE_KEY) {
        fg_err_set(jp->err, FG_E_DUPLICATE_KEY, NULL,
                   "The request body repeats the key '%s' within one object "
                   "(line %d, column %d); each key may appear only once.",
                   jp->dup, line, column);
        return;
    }
    n = (size_t) (jp->e - jp->at);
    fg_json_clip(near, sizeof(near), (const char *) jp->at,
                 n > JDOC_QUOTE_MAX ? JDOC_QUOTE_MAX + 1 : n);
    if (near[0] != '\0') {
        fg_err_set(jp->err, FG_E_INVALID_JSON, NULL,
                   "The request body is not valid JSON: %s near '%s' "
                   "(line %d, column %d).", jp->reason, near, line, column);
    } else {
        fg_err_set(jp->err, FG_E_INVALID_JSON, NULL,
                   "The request body is not valid JSON: %s (line %d, "
                   "column %d).", jp->reason, line, column);
    }
}

static int
jdoc_hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    int      i;

    for (i = 0; i < 4; i++) {
        unsigned char c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (unsigned) (c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (unsigned) (c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (unsigned) (c - 'A' + 10);
        } else {
            return 0;
        }
    }
    *out = v;
    return 1;
}

/*
 * Decodes @len raw bytes of a validated string into @out (which may be
 * NULL: then only the length is computed). Returns the decoded length.
 */
static size_t
jdoc_decode(const char *raw, size_t len, char *out)
{
    const unsigned char *p = (const unsigned char *) raw, *e = p + len;
    size_t               n = 0;
    unsigned             cp, lo;
    char                 tmp[4];
    size_t               k, w;

    while (p < e) {
        if (*p != '\\') {
            if (out) {
                out[n] = (char) *p;
            }
            n++;
            p++;
            continue;
        }
        switch (p[1]) {
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u':
            (void) jdoc_hex4(p + 2, &cp);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                (void) jdoc_hex4(p + 8, &lo);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }
            p += 4;
            break;
        default: cp = p[1]; break;
        }
        p += 2;
        if (cp < 0x80) {
            tmp[0] = (char) cp;
            w = 1;
        } else if (cp < 0x800) {
            tmp[0] = (char) (0xc0 | (cp >> 6));
            tmp[1] = (char) (0x80 | (cp & 0x3f));
            w = 2;
        } else if (cp < 0x10000) {
            tmp[0] = (char) (0xe0 | (cp >> 12));
            tmp[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
            tmp[2] = (char) (0x80 | (cp & 0x3f));
            w = 3;
        } else {
            tmp[0] = (char) (0xf0 | (cp >> 18));
            tmp[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
            tmp[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
            tmp[3] = (char) (0x80 | (cp & 0x3f));
            w = 4;
        }
        for (k = 0; k < w; k++) {
            if (out) {
                out[n] = tmp[k];
            }
            n++;
        }
    }
    return n;
}

void
fg_jdoc_free(fg_jdoc_t *doc)
{
    free(doc->nodes);
    doc->nodes = NULL;
    doc->count = doc->cap = 0;
}

fg_jtype_t
fg_jdoc_type(const fg_jdoc_t *doc, int i)
{
    if (i < 0 || (uint32_t) i >= doc->count) {
        return FG_JNULL;
    }
    return (fg_jtype_t) doc->nodes[i].type;
}

int
fg_jdoc_first(const fg_jdoc_t *doc, int c)
{
    if (c < 0 || (uint32_t) c >= doc->count || doc->nodes[c].count == 0) {
        return FG_JNONE;
    }
    return c + 1;
}

int
fg_jdoc_next(const fg_jdoc_t *doc, int c, int i)
{
    uint32_t next;

    if (doc->nodes[c].type == FG_JOBJECT) {
        next = doc->nodes[i + 1].end;
    } else {
        next = doc->nodes[i].end;
    }
    return next < doc->nodes[c].end ? (int) next : FG_JNONE;
}

int
fg_jdoc_get(const fg_jdoc_t *doc, int obj, const char *key)
{
    size_t  klen;
    int     k;

    if (fg_jdoc_type(doc, obj) != FG_JOBJECT) {
        return FG_JNONE;
    }
    klen = strlen(key);
    for (k = fg_jdoc_first(doc, obj); k != FG_JNONE;
         k = fg_jdoc_next(doc, obj, k)) {
        const fg_jnode_t *n = &doc->nodes[k];

        if (!n->has_escapes) {
            if (n->len - 2 == klen
                && memcmp(doc->buf + n->start + 1, key, klen) == 0) {
                return k + 1;
            }
        } else if (fg_jdoc_str_eq(doc, k, key)) {
            return k + 1;
        }
    }
    return FG_JNONE;
}

int
fg_jdoc_value(const fg_jdoc_t *doc, int obj, const char *key)
{
    int v = fg_jdoc_get(doc, obj, key);

    return fg_jdoc_type(doc, v) == FG_JNULL ? FG_JNONE : v;
}

size_t
fg_jdoc_str_len(const fg_jdoc_t *doc, int i)
{
    const fg_jnode_t *n;
    const char       *raw;
    size_t            len;

    if (fg_jdoc_type(doc, i) != FG_JSTRING) {
        return 0;
    }
    n = &doc->nodes[i];
    raw = jdoc_raw(doc, n, &len);
    return n->has_escapes ? jdoc_decode(raw, len, NULL) : len;
}

int
fg_jdoc_str_eq(const fg_jdoc_t *doc, int i, const char *s)
{
    const fg_jnode_t *n;
    const char       *raw;
    size_t            len, slen = strlen(s);
    char             *tmp;
    int               eq;

    if (fg_jdoc_type(doc, i) != FG_JSTRING) {
        return 0;
    }
    n = &doc->nodes[i];
    raw = jdoc_raw(doc, n, &len);
    if (!n->has_escapes) {
        return len == slen && memcmp(raw, s, len) == 0;
    }
    if (jdoc_decode(raw, len, NULL) != slen) {
        return 0;
    }
    tmp = malloc(slen + 1);
    if (tmp == NULL) {
        return 0;
    }
    jdoc_decode(raw, len, tmp);
    eq = memcmp(tmp, s, slen) == 0;
    free(tmp);
    return eq;
}

size_t
fg_jdoc_str_copy(const fg_jdoc_t *doc, int i, char *dst, size_t size)
{
    const fg_jnode_t *n;
    const char       *raw;
    size_t            len, full;
    char             *tmp;

    if (size > 0) {
        dst[0] = '\0';
    }
    if (fg_jdoc_type(doc, i) != FG_JSTRING) {
        return 0;
    }
    n = &doc->nodes[i];
    raw = jdoc_raw(doc, n, &len);
    if (!n->has_escapes) {
        full = len;
        if (size > 0) {
            len = len < size - 1 ? len : size - 1;
            memcpy(dst, raw, len);
            dst[len] = '\0';
        }
        return full;
    }
    full = jdoc_decode(raw, len, NULL);
    if (size == 0) {
        return full;
    }
    if (full < size) {
        jdoc_decode(raw, len, dst);
        dst[full] = '\0';
        return full;
    }
    tmp = malloc(full + 1);
    if (tmp != NULL) {
        jdoc_decode(raw, len, tmp);
        memcpy(dst, tmp, size - 1);
        free(tmp);
    }
    dst[tmp != NULL ? size - 1 : 0] = '\0';
    return full;
}

char *
fg_jdoc_str_dup(const fg_jdoc_t *doc, int i)
{
    size_t len = fg_jdoc_str_len(doc, i);
    char  *s = malloc(len + 1);

    if (s != NULL) {
        fg_jdoc_str_copy(doc, i, s, len + 1);
    }
    return s;
}
