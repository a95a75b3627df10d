/*
 * jsonrepair.c: syntax repair of a model's JSON output (rules in the
 * header).
 *
 * Two scanners share one cursor. The prose scanner walks the text outside
 * the value: it drops fences and prose and starts a candidate at each '{'
 * or '['. The value scanner reads a candidate with a lenient grammar and
 * an explicit stack of open containers (no recursion), writing the
 * repaired text as it goes: strings are re-quoted and escaped, keys
 * quoted, comments and trailing commas dropped, whitespace copied. It
 * returns one of three things: the value is done (or was cut short and is
 * closed); it was prose after all (it failed before committing, see the
 * header), and its output is discarded and the prose scanner goes on from
 * the byte that failed; or the whole repair fails.
 *
 * Linear time: the value scanner only moves forward, and a failed
 * candidate hands over at the byte where it failed, so a byte is read at
 * most twice ("{{{{" starts a candidate at every brace, each failing on
 * the next one). Nothing searches ahead for a closing brace, quote or
 * comment end more than once. Removing a trailing comma moves only the
 * whitespace written after it; dropping a dangling member only truncates
 * the output.
 *
 * Bounded output: the buffer is allocated once at 2 × len + open levels +
 * 16, which the rules cannot exceed (each input byte writes at most two,
 * an unquoted key's two quotes are paid for by the '{' or ',' before it
 * and the ':' after it, the end adds one closer per open level and one
 * quote). A write past it would be a bug; it fails the repair instead.
 *
 * Deliberately not done: scalars are not looked for in prose; the strict
 * parser (jdoc.c) is the judge of validity, before and after, so nothing
 * here has to be exact about what it refuses (duplicate keys, \u0000,
 * surrogates, numbers too large) as long as it writes nothing jdoc would
 * accept that the input did not say.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "common/base/errors.h"
#include "common/wire/jdoc.h"
#include "common/wire/jsonrepair.h"
#include "common/wire/utf8.h"

/* Larger inputs are not repaired: the output must stay parseable by jdoc
 * (which stops at UINT32_MAX / 2 bytes) whatever its length. */
#define REPAIR_MAX_LEN ((size_t) UINT32_MAX / 8)

typedef enum {
    RV_DONE,        /* a value, complete or closed; cursor after it */
    RV_PROSE,       /* not a value after all; cursor at the failing byte */
    RV_FAIL         /* the repair fails */
} repair_rv_t;

typedef enum {
    RS_VALUE,       /* a value is due (or ']' right after '[' or ',') */
    RS_KEY,         /* a key is due (or '}' right after '{' or ',') */
    RS_COLON,
    RS_AFTER        /* ',' or the closer is due */
} repair_state_t;

typedef enum {
    RT_OK,
    RT_CUT,         /* the input ended inside the token */
    RT_FAIL
} repair_tok_t;

typedef struct {
    const unsigned char *s;          /* first byte */
    const unsigned char *e;          /* one past the last */
    const unsigned char *p;          /* cursor */
    char                *out;
    size_t               out_len;
    size_t               out_cap;    /* bytes before the NUL */
    int                  overflow;   /* a write did not fit (a bug) */
    unsigned char       *stack;      /* '{' or '[' per open level */
    size_t               depth;
    size_t               max_depth;
    unsigned             what;       /* the current candidate's repairs */
    int                  committed;  /* the candidate is meant as JSON */
    int                  in_fence;   /* inside a ``` block */
    int                  have_value; /* a value was found already */
} repair_t;

static int repair_scan(repair_t *r);
static int repair_neighbours_ok(const repair_t *r,
                                const unsigned char *start,
                                const unsigned char *end);
static repair_rv_t repair_value(repair_t *r);
static repair_rv_t repair_cut(repair_t *r, repair_state_t state,
                              int after_comma, size_t member_out,
                              unsigned member_what);
static void repair_skip_space(repair_t *r);
static repair_tok_t repair_string(repair_t *r);
static repair_tok_t repair_escape(repair_t *r, unsigned char quote);
static repair_tok_t repair_number(repair_t *r);
static repair_tok_t repair_literal(repair_t *r);
static repair_tok_t repair_bare_key(repair_t *r);
static size_t repair_word_len(const repair_t *r);
static int repair_at_fence(const repair_t *r);
static void repair_emit(repair_t *r, const void *p, size_t n);
static void repair_emit_byte(repair_t *r, unsigned char c);
static int repair_is_space(unsigned char c);
static int repair_is_word(unsigned char c);
static int repair_is_digit(unsigned char c);
static int repair_is_hex(unsigned char c);

fg_jsonrepair_result_t
fg_json_repair(const char *in, size_t len, size_t max_depth, char **out,
               size_t *out_len, unsigned *what)
{
    fg_jdoc_t doc;
    repair_t  r;
    size_t    levels;

    *out = NULL;
    *out_len = 0;
    if (what != NULL) {
        *what = 0;
    }
    if (in == NULL || len == 0) {
        return FG_JSONREPAIR_FAILED;
    }
    if (fg_jdoc_parse(&doc, in, len, max_depth, NULL) == FG_OK) {
        fg_jdoc_free(&doc);
        return FG_JSONREPAIR_VALID;
    }
    if (len > REPAIR_MAX_LEN) {
        return FG_JSONREPAIR_FAILED;
    }

    /* Each open level costs an input byte, so len bounds the depth too. */
    levels = max_depth < len ? max_depth : len;
    memset(&r, 0, sizeof(r));
    r.s = (const unsigned char *) in;
    r.e = r.s + len;
    r.p = r.s;
    r.max_depth = max_depth;
    r.out_cap = 2 * len + levels + 16;
    r.out = fg_xmalloc(r.out_cap + 1);
    r.stack = levels > 0 ? fg_xmalloc(levels) : NULL;

    if (repair_scan(&r) != FG_OK || r.overflow || r.what == 0) {
        goto fail;
    }
    if (fg_jdoc_parse(&doc, r.out, r.out_len, max_depth, NULL) != FG_OK) {
        goto fail;
    }
    fg_jdoc_free(&doc);
    free(r.stack);
    r.out = fg_xrealloc(r.out, r.out_len + 1);
    r.out[r.out_len] = '\0';
    *out = r.out;
    *out_len = r.out_len;
    if (what != NULL) {
        *what = r.what;
    }
    return FG_JSONREPAIR_REPAIRED;

fail:
    free(r.stack);
    free(r.out);
    return FG_JSONREPAIR_FAILED;
}

/*
 * The prose scanner: finds the one value, leaves its repaired text alone
 * in r->out and its bits in r->what. FG_ERR when there is none, more than
 * one, or the one found looks like a piece of something larger.
 */
static int
repair_scan(repair_t *r)
{
    const unsigned char *start, *vstart = NULL, *vend = NULL;
    unsigned             vwhat = 0;
    int                  prose = 0, fence = 0;
    size_t               mark;

    while (r->p < r->e) {
        if (repair_at_fence(r)) {
            while (r->p < r->e && *r->p == '`') {
                r->p++;
            }
            fence = 1;
            r->in_fence = !r->in_fence;
            if (r->in_fence) {
                /* The info word of an opening fence: ```json */
                while (r->p < r->e && (*r->p == ' ' || *r->p == '\t')) {
                    r->p++;
                }
                while (r->p < r->e && (repair_is_word(*r->p)
                                       || *r->p == '-' || *r->p == '+'
                                       || *r->p == '.' || *r->p == '#')) {
                    r->p++;
                }
            }
            continue;
        }
        if (*r->p != '{' && *r->p != '[') {
            if (!repair_is_space(*r->p)) {
                prose = 1;
            }
            r->p++;
            continue;
        }
        start = r->p;
        mark = r->out_len;
        switch (repair_value(r)) {
        case RV_FAIL:
            return FG_ERR;
        case RV_PROSE:
            r->out_len = mark;
            prose = 1;
            break;
        case RV_DONE:
            if (r->have_value) {
                return FG_ERR;      /* two values: which one is meant? */
            }
            r->have_value = 1;
            vstart = start;
            vend = r->p;
            vwhat = r->what;
            break;
        }
    }
    if (!r->have_value || !repair_neighbours_ok(r, vstart, vend)) {
        return FG_ERR;
    }
    r->what = vwhat | (prose ? FG_JSONREPAIR_PROSE : 0)
              | (fence ? FG_JSONREPAIR_FENCE : 0);
    return FG_OK;
}

/*
 * A value with JSON punctuation right outside it is a piece of a broken
 * document, not a value in prose: `"a": 1, {"b": 2}` lost its opening
 * brace, `{"a": {"b": 1}}, "c": 2}` closed too early. A prose colon stays
 * allowed ("Here is the JSON: {...}") unless a quoted key precedes it.
 */
static int
repair_neighbours_ok(const repair_t *r, const unsigned char *start,
                     const unsigned char *end)
{
    const unsigned char *p = start;

    while (p > r->s && repair_is_space(p[-1])) {
        p--;
    }
    if (p > r->s) {
        if (p[-1] == ',' || p[-1] == '{' || p[-1] == '[') {
            return 0;
        }
        if (p[-1] == ':') {
            p--;
            while (p > r->s && repair_is_space(p[-1])) {
                p--;
            }
            if (p > r->s && p[-1] == '"') {
                return 0;
            }
        }
    }
    p = end;
    while (p < r->e && repair_is_space(*p)) {
        p++;
    }
    return p == r->e || (*p != ',' && *p != ':' && *p != '}' && *p != ']');
}

/*
 * The value scanner, with the cursor on a '{' or '['. member_out is where
 * the output stood before the current member of the innermost container
 * (before its comma, or right after the bracket), so that a member cut
 * short can be taken back; comma_out is where the last comma was written.
 */
static repair_rv_t
repair_value(repair_t *r)
{
    repair_state_t state = RS_VALUE, next = RS_AFTER;
    int            after_comma = 0, just_opened = 0;
    size_t         member_out = r->out_len, comma_out = 0;
    unsigned       member_what = 0;
    unsigned char  c, top;
    repair_tok_t   tok = RT_FAIL;

    r->depth = 0;
    r->what = 0;
    r->committed = 0;

    for (;;) {
        if (r->depth > 0) {
            repair_skip_space(r);
        }
        if (r->p >= r->e || (r->in_fence && repair_at_fence(r))) {
            return repair_cut(r, state, after_comma, member_out,
                              member_what);
        }
        c = *r->p;
        top = r->depth > 0 ? r->stack[r->depth - 1] : 0;

        switch (state) {
        case RS_VALUE:
            if (c == ']' && top == '[' && (just_opened || after_comma)) {
                goto close;
            }
            after_comma = just_opened = 0;
            if (c == '{' || c == '[') {
                if (r->depth >= r->max_depth) {
                    return RV_FAIL;
                }
                r->stack[r->depth++] = c;
                repair_emit_byte(r, c);
                r->p++;
                state = c == '{' ? RS_KEY : RS_VALUE;
                just_opened = 1;
                member_out = r->out_len;
                member_what = r->what;
                continue;
            }
            if (c == '"' || c == '\'') {
                r->committed = 1;
                tok = repair_string(r);
            } else if (c == '-' || repair_is_digit(c)) {
                tok = repair_number(r);
            } else if (repair_is_word(c)) {
                tok = repair_literal(r);
            } else {
                goto fail;
            }
            next = RS_AFTER;
            goto token;

        case RS_KEY:
            if (c == '}' && (just_opened || after_comma)) {
                goto close;
            }
            after_comma = just_opened = 0;
            if (c == '"' || c == '\'') {
                r->committed = 1;
                tok = repair_string(r);
            } else if (repair_is_word(c) && !repair_is_digit(c)) {
                tok = repair_bare_key(r);
            } else {
                goto fail;
            }
            next = RS_COLON;
            goto token;

        case RS_COLON:
            if (c != ':') {
                goto fail;
            }
            repair_emit_byte(r, c);
            r->p++;
            r->committed = 1;
            state = RS_VALUE;
            continue;

        case RS_AFTER:
            if (c == ',') {
                member_out = comma_out = r->out_len;
                member_what = r->what;
                repair_emit_byte(r, c);
                r->p++;
                r->committed = 1;
                after_comma = 1;
                state = top == '{' ? RS_KEY : RS_VALUE;
                continue;
            }
            if (c == (top == '{' ? '}' : ']')) {
                goto close;
            }
            goto fail;
        }

    token:
        if (tok == RT_FAIL) {
            goto fail;
        }
        state = next;
        if (tok == RT_CUT) {
            return repair_cut(r, state, 0, member_out, member_what);
        }
        continue;

    close:
        if (after_comma) {
            /* Only whitespace was written after the comma. */
            memmove(r->out + comma_out, r->out + comma_out + 1,
                    r->out_len - comma_out - 1);
            r->out_len--;
            r->what |= FG_JSONREPAIR_TRAILING_COMMA;
        }
        repair_emit_byte(r, c);
        r->p++;
        if (--r->depth == 0) {
            return RV_DONE;
        }
        r->committed = 1;    /* a closed inner container */
        state = RS_AFTER;
        after_comma = just_opened = 0;
    }

fail:
    return r->committed ? RV_FAIL : RV_PROSE;
}

/*
 * The input (or the fence) ended with the value open. Takes back the
 * member or comma the cut left dangling, then closes every open level.
 * A candidate that never committed was prose ("{" at the end of a
 * sentence). A second value fails here, not in repair_scan(): its
 * closers are not paid for in the output's bound.
 */
static repair_rv_t
repair_cut(repair_t *r, repair_state_t state, int after_comma,
           size_t member_out, unsigned member_what)
{
    unsigned char top = r->stack[r->depth - 1];

    if (!r->committed) {
        return RV_PROSE;
    }
    if (r->have_value) {
        return RV_FAIL;
    }
    if (state == RS_COLON || (state == RS_VALUE && top == '{')
        || ((state == RS_KEY || state == RS_VALUE) && after_comma))
    {
        r->out_len = member_out;
        r->what = member_what;
    }
    r->what |= FG_JSONREPAIR_CLOSED;
    while (r->depth > 0) {
        repair_emit_byte(r, r->stack[--r->depth] == '{' ? '}' : ']');
    }
    return RV_DONE;
}

/* Copies whitespace, drops comments (an open block comment runs to the
 * end). A lone '/' is left for the grammar to refuse. */
static void
repair_skip_space(repair_t *r)
{
    const unsigned char *q;

    for (;;) {
        q = r->p;
        while (r->p < r->e && repair_is_space(*r->p)) {
            r->p++;
        }
        repair_emit(r, q, (size_t) (r->p - q));
        if (r->e - r->p < 2 || r->p[0] != '/') {
            return;
        }
        if (r->p[1] == '/') {
            r->p += 2;
            while (r->p < r->e && *r->p != '\n' && *r->p != '\r') {
                r->p++;
            }
        } else if (r->p[1] == '*') {
            r->p += 2;
            while (r->p < r->e
                   && !(*r->p == '*' && r->e - r->p >= 2 && r->p[1] == '/')) {
                r->p++;
            }
            r->p = r->p < r->e ? r->p + 2 : r->e;
        } else {
            return;
        }
        r->what |= FG_JSONREPAIR_COMMENTS;
    }
}

/*
 * A string in either quote, written double-quoted. RT_CUT: the input
 * ended inside it, and it was closed.
 */
static repair_tok_t
repair_string(repair_t *r)
{
    unsigned char        quote = *r->p;
    const unsigned char *q;
    repair_tok_t         tok;
    size_t               n;

    if (quote == '\'') {
        r->what |= FG_JSONREPAIR_SINGLE_QUOTES;
    }
    repair_emit_byte(r, '"');
    r->p++;
    for (;;) {
        q = r->p;
        while (r->p < r->e && *r->p >= 0x20 && *r->p < 0x80
               && *r->p != '"' && *r->p != '\'' && *r->p != '\\') {
            r->p++;
        }
        repair_emit(r, q, (size_t) (r->p - q));
        if (r->p >= r->e) {
            repair_emit_byte(r, '"');
            r->what |= FG_JSONREPAIR_CLOSED;
            return RT_CUT;
        }
        switch (*r->p) {
        case '"':
        case '\'':
            if (*r->p == quote) {
                repair_emit_byte(r, '"');
                r->p++;
                return RT_OK;
            }
            repair_emit(r, *r->p == '"' ? "\\\"" : "'", *r->p == '"' ? 2 : 1);
            r->p++;
            continue;
        case '\\':
            tok = repair_escape(r, quote);
            if (tok == RT_CUT) {
                repair_emit_byte(r, '"');
                r->what |= FG_JSONREPAIR_CLOSED;
            }
            if (tok != RT_OK) {
                return tok;
            }
            continue;
        case '\n':
            repair_emit(r, "\\n", 2);
            break;
        case '\r':
            repair_emit(r, "\\r", 2);
            break;
        case '\t':
            repair_emit(r, "\\t", 2);
            break;
        default:
            if (*r->p < 0x20) {
                return RT_FAIL;
            }
            n = fg_utf8_len(r->p, (size_t) (r->e - r->p));
            if (n == 0) {
                return RT_FAIL;
            }
            repair_emit(r, r->p, n);
            r->p += n;
            continue;
        }
        r->what |= FG_JSONREPAIR_CONTROL_CHARS;
        r->p++;
    }
}

/* The escape at the cursor; one cut short by the end is dropped (RT_CUT). */
static repair_tok_t
repair_escape(repair_t *r, unsigned char quote)
{
    size_t avail = (size_t) (r->e - r->p), i;

    if (avail < 2) {
        r->p = r->e;
        return RT_CUT;
    }
    switch (r->p[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r':
    case 't':
        repair_emit(r, r->p, 2);
        r->p += 2;
        return RT_OK;
    case '\'':
        repair_emit_byte(r, '\'');
        r->p += 2;
        if (quote == '"') {
            r->what |= FG_JSONREPAIR_SINGLE_QUOTES;
        }
        return RT_OK;
    case 'u':
        for (i = 2; i < 6 && i < avail; i++) {
            if (!repair_is_hex(r->p[i])) {
                return RT_FAIL;
            }
        }
        if (avail < 6) {
            r->p = r->e;
            return RT_CUT;
        }
        repair_emit(r, r->p, 6);
        r->p += 6;
        return RT_OK;
    default:
        return RT_FAIL;
    }
}

/*
 * A JSON number, which something other than the end of the input must
 * follow: at the end there is no telling whether more digits were cut.
 */
static repair_tok_t
repair_number(repair_t *r)
{
    const unsigned char *p = r->p, *e = r->e;

    if (*p == '-') {
        p++;
    }
    if (p < e && *p == '0') {
        p++;
    } else if (p < e && repair_is_digit(*p)) {
        while (p < e && repair_is_digit(*p)) {
            p++;
        }
    } else {
        goto fail;
    }
    if (p < e && *p == '.') {
        p++;
        if (p >= e || !repair_is_digit(*p)) {
            goto fail;
        }
        while (p < e && repair_is_digit(*p)) {
            p++;
        }
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) {
            p++;
        }
        if (p >= e || !repair_is_digit(*p)) {
            goto fail;
        }
        while (p < e && repair_is_digit(*p)) {
            p++;
        }
    }
    if (p >= e || repair_is_word(*p) || *p == '.' || *p == '+' || *p == '-') {
        goto fail;
    }
    repair_emit(r, r->p, (size_t) (p - r->p));
    r->p = p;
    return RT_OK;

fail:
    r->p = p;
    return RT_FAIL;
}

/* true, false or null, exactly; anything else (tru, True, NaN) fails. */
static repair_tok_t
repair_literal(repair_t *r)
{
    size_t n = repair_word_len(r);

    if ((n == 4 && memcmp(r->p, "true", 4) == 0)
        || (n == 5 && memcmp(r->p, "false", 5) == 0)
        || (n == 4 && memcmp(r->p, "null", 4) == 0))
    {
        repair_emit(r, r->p, n);
        r->p += n;
        return RT_OK;
    }
    r->p += n;
    return RT_FAIL;
}

/* An identifier key, quoted; one the end cuts is not written (RT_CUT). */
static repair_tok_t
repair_bare_key(repair_t *r)
{
    size_t n = repair_word_len(r);

    if (r->p + n >= r->e) {
        r->p = r->e;
        return RT_CUT;
    }
    repair_emit_byte(r, '"');
    repair_emit(r, r->p, n);
    repair_emit_byte(r, '"');
    r->p += n;
    r->what |= FG_JSONREPAIR_UNQUOTED_KEYS;
    return RT_OK;
}

static size_t
repair_word_len(const repair_t *r)
{
    const unsigned char *p = r->p;

    while (p < r->e && repair_is_word(*p)) {
        p++;
    }
    return (size_t) (p - r->p);
}

/* Three backticks at the cursor: a markdown fence. */
static int
repair_at_fence(const repair_t *r)
{
    return r->e - r->p >= 3 && r->p[0] == '`' && r->p[1] == '`'
           && r->p[2] == '`';
}

static void
repair_emit(repair_t *r, const void *p, size_t n)
{
    if (n > r->out_cap - r->out_len) {
        r->overflow = 1;
        return;
    }
    memcpy(r->out + r->out_len, p, n);
    r->out_len += n;
}

static void
repair_emit_byte(repair_t *r, unsigned char c)
{
    if (r->out_len >= r->out_cap) {
        r->overflow = 1;
        return;
    }
    r->out[r->out_len++] = (char) c;
}

static int
repair_is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* [A-Za-z0-9_$]: identifier bytes, and what may not touch a number. */
static int
repair_is_word(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_' || c == '$';
}

static int
repair_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int
repair_is_hex(unsigned char c)
{
    return repair_is_digit(c) || (c >= 'a' && c <= 'f')
           || (c >= 'A' && c <= 'F');
}
