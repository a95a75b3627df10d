/*
 * uri.c: percent-decoding and query strings (see uri.h). Strict: a
 * malformed escape is an error for the caller to answer, not a guess.
 */

#include <string.h>

#include "common/wire/uri.h"

static int
uri_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

long
fg_uri_decode(const char *src, size_t len, char *dst, size_t size,
              int is_query)
{
    size_t i, n = 0;

    for (i = 0; i < len; i++) {
        char c = src[i];

        if (c == '%') {
            int hi, lo;

            if (len - i < 3) {
                return -1;
            }
            hi = uri_hex(src[i + 1]);
            lo = uri_hex(src[i + 2]);
            if (hi < 0 || lo < 0) {
                return -1;
            }
            c = (char) (hi << 4 | lo);
            i += 2;
            if (c == '\0') {
                return -1;
            }
        } else if (c == '+' && is_query) {
            c = ' ';
        }
        if (n + 1 >= size) {
            return -1;
        }
        dst[n++] = c;
    }
    if (size == 0) {
        return -1;
    }
    dst[n] = '\0';
    return (long) n;
}

void
fg_uri_query_init(fg_uri_query_t *q, const char *query, size_t len)
{
    q->p = query;
    q->end = query != NULL ? query + len : NULL;
}

int
fg_uri_query_next(fg_uri_query_t *q, char *name, size_t name_size,
                  char *value, size_t value_size)
{
    const char *pair, *amp, *eq;

    /* Bounded by the string: each pass consumes at least one byte. */
    while (q->p != NULL && q->p < q->end && *q->p == '&') {
        q->p++;
    }
    if (q->p == NULL || q->p >= q->end) {
        return 0;
    }
    pair = q->p;
    amp = memchr(pair, '&', (size_t) (q->end - pair));
    if (amp == NULL) {
        amp = q->end;
    }
    q->p = amp;
    eq = memchr(pair, '=', (size_t) (amp - pair));
    if (fg_uri_decode(pair, (size_t) ((eq != NULL ? eq : amp) - pair), name,
                      name_size, 1) < 0) {
        return -1;
    }
    if (eq == NULL) {
        if (value_size == 0) {
            return -1;
        }
        value[0] = '\0';
        return 1;
    }
    return fg_uri_decode(eq + 1, (size_t) (amp - eq - 1), value, value_size,
                         1) < 0 ? -1 : 1;
}
