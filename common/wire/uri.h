#ifndef FG_COMMON_URI_H
#define FG_COMMON_URI_H

/*
 * Percent-decoding of a request target's parts (RFC 3986 2.1) and the
 * name=value pairs of a query string, with no allocation: everything is
 * decoded into buffers the caller gives.
 */

#include <stddef.h>

/*
 * Decodes @len bytes of @src into @dst (NUL-terminated, at most @size
 * bytes with the NUL). With @is_query, '+' is a space (form encoding).
 * Returns the decoded length, or -1 when a '%' is not followed by two hex
 * digits, the result holds a NUL byte, or it does not fit.
 */
long fg_uri_decode(const char *src, size_t len, char *dst, size_t size,
                   int is_query);

/* A walk over a query string's '&'-separated pairs. */
typedef struct {
    const char *p;
    const char *end;
} fg_uri_query_t;

/* Starts a walk over @query (@len bytes, after the '?'; may be NULL). */
void fg_uri_query_init(fg_uri_query_t *q, const char *query, size_t len);

/*
 * The next pair, decoded into @name and @value (sizes with the NUL; a
 * pair without '=' has the empty value). Empty pairs ("a=1&&b=2") are
 * skipped. Returns 1 with a pair, 0 at the end, -1 when a part is not
 * well-formed or does not fit (the walk should stop).
 */
int fg_uri_query_next(fg_uri_query_t *q, char *name, size_t name_size,
                      char *value, size_t value_size);

#endif
