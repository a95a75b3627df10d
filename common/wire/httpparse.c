/*
 * httpparse.c: the HTTP/1.x request head and chunked bodies (see
 * httpparse.h). Every byte is checked against the grammar of RFC 9110 and
 * RFC 9112 as it is read; nothing is copied.
 */

#include "common/wire/httpparse.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

/* tchar of RFC 9110 5.6.2: what a method or a field name is made of. */
static const unsigned char http_tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
    ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
    ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
    ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
    ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
    ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
    ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

/* Largest Content-Length read: far above any body limit, far below
 * INT64_MAX, so the arithmetic on it cannot overflow. */
#define HTTP_MAX_CONTENT_LENGTH 1000000000000000LL

enum {
    CHUNK_SIZE = 0, CHUNK_SIZE_WS, CHUNK_SIZE_EXT, CHUNK_SIZE_LF,
    CHUNK_DATA, CHUNK_DATA_CR, CHUNK_DATA_LF, CHUNK_TRAILER,
    CHUNK_TRAILER_LINE, CHUNK_TRAILER_LINE_LF, CHUNK_TRAILER_LF, CHUNK_DONE
};

size_t
fg_http_head_end(const char *buf, size_t len, size_t *from)
{
    const char *p = buf + *from, *end = buf + len, *nl;

    while ((nl = memchr(p, '\n', (size_t) (end - p))) != NULL) {
        if (nl + 1 >= end) {
            break;
        }
        if (nl[1] == '\n') {
            return (size_t) (nl + 2 - buf);
        }
        if (nl[1] == '\r') {
            if (nl + 2 >= end) {
                break;
            }
            if (nl[2] == '\n') {
                return (size_t) (nl + 3 - buf);
            }
        }
        p = nl + 1;
    }
    /* Resume at the last line end seen: its successors are still due. */
    *from = nl != NULL ? (size_t) (nl - buf) : len;
    return 0;
}

int
fg_http_head_has_bare_cr(const char *buf, size_t len, size_t from)
{
    const char *p = buf + from, *end = buf + len, *cr;

    /* Bounded: each pass moves past one CR. */
    while (p < end && (cr = memchr(p, '\r', (size_t) (end - p))) != NULL) {
        if (cr + 1 >= end) {
            return 0;
        }
        if (cr[1] != '\n') {
            return 1;
        }
        p = cr + 2;
    }
    return 0;
}

/* The end of the line starting at @p (before "\r\n" or "\n"), or NULL
 * for a CR anywhere but right before the LF. @next gets the next line. */
static const char *
http_line(const char *p, const char *end, const char **next)
{
    const char *nl = memchr(p, '\n', (size_t) (end - p)), *le;

    if (nl == NULL) {
        return NULL;
    }
    le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
    if (memchr(p, '\r', (size_t) (le - p)) != NULL) {
        return NULL;
    }
    *next = nl + 1;
    return le;
}

static fg_http_method_t
http_method(const char *m, size_t n)
{
    static const struct {
        const char      *name;
        size_t           len;
        fg_http_method_t method;
    } methods[] = {
        { "GET", 3, FG_HTTP_GET },         { "POST", 4, FG_HTTP_POST },
        { "HEAD", 4, FG_HTTP_HEAD },       { "PUT", 3, FG_HTTP_PUT },
        { "DELETE", 6, FG_HTTP_DELETE },   { "PATCH", 5, FG_HTTP_PATCH },
        { "OPTIONS", 7, FG_HTTP_OPTIONS },
    };
    size_t i;

    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (n == methods[i].len && memcmp(m, methods[i].name, n) == 0) {
            return methods[i].method;
        }
    }
    return FG_HTTP_OTHER;
}

/* The request line. Returns 0 or the status to refuse it with. */
static int
http_request_line(const char *p, const char *le, fg_http_head_t *out)
{
    const char *target, *t;

    out->method_name = p;
    while (p < le && http_tchar[(unsigned char) *p]) {
        p++;
    }
    out->method_len = (size_t) (p - out->method_name);
    if (out->method_len == 0 || p == le || *p != ' ') {
        return 400;
    }
    out->method = http_method(out->method_name, out->method_len);
    target = ++p;
    while (p < le && (unsigned char) *p > 0x20 && (unsigned char) *p < 0x7f) {
        p++;
    }
    if (p == target || p == le || *p != ' ') {
        return 400;
    }
    /* absolute-form (RFC 9112 3.2.2): the path follows the authority. */
    t = target;
    if ((size_t) (p - t) > 7 && (strncasecmp(t, "http://", 7) == 0
                                 || strncasecmp(t, "https://", 8) == 0)) {
        t = (const char *) memchr(t, ':', (size_t) (p - t)) + 3;
        while (t < p && *t != '/' && *t != '?') {
            t++;
        }
    }
    out->path = t;
    while (t < p && *t != '?') {
        t++;
    }
    out->path_len = (size_t) (t - out->path);
    out->query = t < p ? t + 1 : NULL;
    out->query_len = t < p ? (size_t) (p - t - 1) : 0;
    p++;
    if (le - p != 8 || memcmp(p, "HTTP/", 5) != 0
        || p[5] < '0' || p[5] > '9' || p[6] != '.'
        || p[7] < '0' || p[7] > '9') {
        return 400;
    }
    if (p[5] != '1') {
        return 505;
    }
    out->minor = p[7] == '0' ? 0 : 1;
    return 0;
}

/* 1 when the comma-separated list @v holds the token @tok (any case). */
static int
http_list_has(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok), i = 0, s, e;

    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) {
            i++;
        }
        s = i;
        while (i < n && v[i] != ',') {
            i++;
        }
        e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) {
            e--;
        }
        if (e - s == tl && strncasecmp(v + s, tok, tl) == 0) {
            return 1;
        }
    }
    return 0;
}

/* What the gateway reads from a field. Returns 0 or a refusal status. */
static int
http_take_field(const fg_http_field_t *f, fg_http_head_t *out,
                int *saw_te)
{
    int64_t cl = 0;
    size_t  i;

#define IS(lit) (f->name_len == sizeof(lit) - 1 \
                 && strncasecmp(f->name, lit, sizeof(lit) - 1) == 0)
    if (IS("content-length")) {
        if (f->value_len == 0) {
            return 400;
        }
        for (i = 0; i < f->value_len; i++) {
            if (f->value[i] < '0' || f->value[i] > '9'
                || cl > HTTP_MAX_CONTENT_LENGTH / 10) {
                return 400;
            }
            cl = cl * 10 + (f->value[i] - '0');
        }
        if (out->content_length >= 0 && out->content_length != cl) {
            return 400;
        }
        out->content_length = cl;
    } else if (IS("transfer-encoding")) {
        if (*saw_te) {
            return 400;   /* "chunked" twice, or chunked over something */
        }
        *saw_te = 1;
        if (f->value_len != 7 || strncasecmp(f->value, "chunked", 7) != 0) {
            return 501;
        }
        out->is_chunked = 1;
    } else if (IS("connection")) {
        if (http_list_has(f->value, f->value_len, "close")) {
            out->keep_alive = 0;
        } else if (http_list_has(f->value, f->value_len, "keep-alive")) {
            out->keep_alive = 1;
        }
    } else if (IS("expect")) {
        out->expect_continue = f->value_len == 12
            && strncasecmp(f->value, "100-continue", 12) == 0;
    }
#undef IS
    return 0;
}

/* The status line of a response. Returns 0 or 400. */
static int
http_status_line(const char *p, const char *le, fg_http_head_t *out)
{
    if (le - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0'
        || p[7] > '9' || p[8] != ' ' || p[9] < '1' || p[9] > '5'
        || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9'
        || (le - p > 12 && p[12] != ' ')) {
        return 400;
    }
    out->minor = p[7] == '0' ? 0 : 1;
    out->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    return 0;
}

/* The fields after the first line, from @p; 0 or a refusal status. */
static int
http_fields(const char *p, const char *end, fg_http_head_t *out,
            int *closed)
{
    const char      *le, *next, *v;
    fg_http_field_t *f;
    int              rc, saw_te = 0;

    for (; p < end; p = next) {
        if ((le = http_line(p, end, &next)) == NULL) {
            return 400;
        }
        if (le == p) {
            break;   /* the blank line */
        }
        if (out->field_count == FG_HTTP_MAX_HEADERS) {
            return 431;
        }
        f = &out->fields[out->field_count];
        f->name = p;
        while (p < le && http_tchar[(unsigned char) *p]) {
            p++;
        }
        /* Also refuses obsolete folding: a line starting with white space. */
        if (p == f->name || p == le || *p != ':') {
            return 400;
        }
        f->name_len = (size_t) (p - f->name);
        p++;
        while (p < le && (*p == ' ' || *p == '\t')) {
            p++;
        }
        v = le;
        while (v > p && (v[-1] == ' ' || v[-1] == '\t')) {
            v--;
        }
        f->value = p;
        f->value_len = (size_t) (v - p);
        for (; p < v; p++) {
            unsigned char c = (unsigned char) *p;

            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                return 400;
            }
        }
        out->field_count++;
        if ((rc = http_take_field(f, out, &saw_te)) != 0) {
            return rc;
        }
        if (f->name_len == 10 && strncasecmp(f->name, "connection", 10) == 0
            && http_list_has(f->value, f->value_len, "close")) {
            *closed = 1;
        }
    }
    return 0;
}

/* Every field of a head before its first line is read. */
static void
http_head_reset(fg_http_head_t *out, size_t head_len)
{
    /* Not the field array: only the fields counted are ever read. */
    memset(out, 0, offsetof(fg_http_head_t, fields));
    out->field_count = 0;
    out->head_len = head_len;
    out->content_length = -1;
    out->is_chunked = 0;
    out->expect_continue = 0;
}

int
fg_http_parse_head(const char *buf, size_t head_len, fg_http_head_t *out)
{
    const char *p = buf, *end = buf + head_len, *le, *next;
    int         rc, closed_by_client = 0;

    http_head_reset(out, head_len);
    if ((le = http_line(p, end, &next)) == NULL) {
        return 400;
    }
    if ((rc = http_request_line(p, le, out)) != 0) {
        return rc;
    }
    out->keep_alive = out->minor >= 1;
    if ((rc = http_fields(next, end, out, &closed_by_client)) != 0) {
        return rc;
    }
    if (out->is_chunked && (out->content_length >= 0 || out->minor == 0)) {
        return 400;   /* two framings: the classic smuggling vector */
    }
    if (closed_by_client) {
        out->keep_alive = 0;   /* "close" wins over any "keep-alive" */
    }
    if (out->minor == 0) {
        out->expect_continue = 0;
    }
    return 0;
}

int
fg_http_parse_response_head(const char *buf, size_t head_len,
                            fg_http_head_t *out)
{
    const char *p = buf, *end = buf + head_len, *le, *next;
    int         closed = 0;

    http_head_reset(out, head_len);
    if ((le = http_line(p, end, &next)) == NULL
        || http_status_line(p, le, out) != 0) {
        return 400;
    }
    out->keep_alive = out->minor >= 1;
    if (http_fields(next, end, out, &closed) != 0
        || (out->is_chunked && out->content_length >= 0)) {
        return 400;
    }
    if (closed) {
        out->keep_alive = 0;
    }
    out->expect_continue = 0;
    return 0;
}

void
fg_http_head_terminate(fg_http_head_t *head, char *buf)
{
    int i;

    /* The slices point into @buf; writing through it is writing there. */
    buf[head->method_name - buf + head->method_len] = '\0';
    buf[head->path - buf + head->path_len] = '\0';
    if (head->query != NULL) {
        buf[head->query - buf + head->query_len] = '\0';
    }
    for (i = 0; i < head->field_count; i++) {
        fg_http_field_t *f = &head->fields[i];

        buf[f->name - buf + f->name_len] = '\0';
        buf[f->value - buf + f->value_len] = '\0';
    }
}

const char *
fg_http_field(const fg_http_head_t *head, const char *name, size_t *len)
{
    size_t n = strlen(name);
    int    i;

    for (i = 0; i < head->field_count; i++) {
        const fg_http_field_t *f = &head->fields[i];

        if (f->name_len == n && strncasecmp(f->name, name, n) == 0) {
            if (len != NULL) {
                *len = f->value_len;
            }
            return f->value;
        }
    }
    return NULL;
}

static int
http_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = (char) (c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int
fg_http_chunked_decode(fg_http_chunked_t *st, char *buf, size_t len,
                       size_t *in, size_t *out, size_t max_body,
                       size_t max_line)
{
    size_t i = *in, o = *out, n;
    int    d;

    while (i < len && st->state != CHUNK_DONE) {
        char c = buf[i];

        switch (st->state) {
        case CHUNK_DATA:
            n = len - i < st->left ? len - i : (size_t) st->left;
            memmove(buf + o, buf + i, n);
            i += n;
            o += n;
            st->left -= n;
            if (st->left == 0) {
                st->state = CHUNK_DATA_CR;
            }
            continue;
        case CHUNK_SIZE:
        case CHUNK_SIZE_WS:
        case CHUNK_SIZE_EXT:
            /* chunk-size [ BWS ";" extension ] CRLF, RFC 9112 7.1 */
            if (++st->line > max_line) {
                return 400;
            }
            d = st->state == CHUNK_SIZE ? http_hex(c) : -1;
            if (d >= 0) {
                if (st->left > ((uint64_t) max_body - st->body_len) / 16) {
                    return 413;
                }
                st->left = st->left * 16 + (uint64_t) d;
            } else if (st->line == 1) {
                return 400;   /* a size has at least one digit */
            } else if (c == '\r' || c == '\n') {
                if (st->left > (uint64_t) max_body - st->body_len) {
                    return 413;
                }
                st->body_len += st->left;
                st->state = c == '\r' ? CHUNK_SIZE_LF
                            : st->left > 0 ? CHUNK_DATA : CHUNK_TRAILER;
                st->line = 0;
            } else if (st->state == CHUNK_SIZE_EXT) {
                if ((unsigned char) c < 0x20 && c != '\t') {
                    return 400;
                }
            } else if (c == ';') {
                st->state = CHUNK_SIZE_EXT;   /* an extension: skipped */
            } else if (c == ' ' || c == '\t') {
                st->state = CHUNK_SIZE_WS;
            } else {
                return 400;   /* "0x5", "5x", "5 3": not a size */
            }
            break;
        case CHUNK_SIZE_LF:
            if (c != '\n') {
                return 400;
            }
            st->state = st->left > 0 ? CHUNK_DATA : CHUNK_TRAILER;
            break;
        case CHUNK_DATA_CR:
            if (c == '\r') {
                st->state = CHUNK_DATA_LF;
            } else if (c == '\n') {
                st->state = CHUNK_SIZE;
            } else {
                return 400;
            }
            break;
        case CHUNK_DATA_LF:
            if (c != '\n') {
                return 400;
            }
            st->state = CHUNK_SIZE;
            break;
        case CHUNK_TRAILER:
            st->state = c == '\r' ? CHUNK_TRAILER_LF
                        : c == '\n' ? CHUNK_DONE : CHUNK_TRAILER_LINE;
            if (st->state == CHUNK_TRAILER_LINE && ++st->line > max_line) {
                return 400;
            }
            break;
        case CHUNK_TRAILER_LINE:
            /* Trailer fields are read past, not used; all of them count
             * against one line's limit. A CR ends a line only before LF. */
            if (++st->line > max_line) {
                return 400;
            }
            if (c == '\n') {
                st->state = CHUNK_TRAILER;
            } else if (c == '\r') {
                st->state = CHUNK_TRAILER_LINE_LF;
            } else if ((unsigned char) c < 0x20 && c != '\t') {
                return 400;
            }
            break;
        case CHUNK_TRAILER_LINE_LF:
            if (c != '\n') {
                return 400;
            }
            st->state = CHUNK_TRAILER;
            break;
        case CHUNK_TRAILER_LF:
            if (c != '\n') {
                return 400;
            }
            st->state = CHUNK_DONE;
            break;
        }
        i++;
    }
    *in = i;
    *out = o;
    return st->state == CHUNK_DONE;
}
