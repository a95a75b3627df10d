/*
 * cors.c: allowed origins and a preflight's checks (see cors.h).
 *
 * An origin entry is held to the exact form a browser serializes
 * (WHATWG URL, "origin"): an entry a browser can never send, such as
 * "https://Example.com", "https://example.com/" or
 * "https://example.com:443", is refused at load rather than silently
 * never matching.
 */

#include <string.h>

#include "common/wire/cors.h"

/* RFC 9110 5.6.2: tchar. */
static int
cors_is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~",
                                                             c) != NULL);
}

static int
cors_is_lower_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* A host name or IPv4 address: non-empty labels of [a-z0-9_-]. */
static int
cors_host_ok(const char *h, size_t len)
{
    size_t i, label = 0;

    if (len == 0) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) h[i];

        if (c == '.') {
            if (label == 0) {
                return 0;
            }
            label = 0;
        } else if (cors_is_lower_alnum(c) || c == '-' || c == '_') {
            label++;
        } else {
            return 0;
        }
    }
    return label > 0;
}

/* "[...]": lower-case hex digits, ':' and '.' (an embedded IPv4). */
static int
cors_ipv6_ok(const char *h, size_t len)
{
    size_t i;

    if (len < 4 || h[0] != '[' || h[len - 1] != ']') {
        return 0;
    }
    for (i = 1; i + 1 < len; i++) {
        unsigned char c = (unsigned char) h[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':'
              || c == '.')) {
            return 0;
        }
    }
    return memchr(h, ':', len) != NULL;
}

int
fg_cors_origin_check(const char *s, size_t len, fg_err_t *err)
{
    const char *sep, *host, *end = s + len, *colon = NULL;
    size_t      i, scheme_len;
    long        port = 0;

    if (len == 4 && memcmp(s, "null", 4) == 0) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "\"null\" is the origin of every sandboxed "
                          "document and file: not allowed");
    }
    if (len == 0 || len >= FG_CORS_ORIGIN_MAX) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "an origin has 1 to %d bytes",
                          FG_CORS_ORIGIN_MAX - 1);
    }
    sep = memmem(s, len, "://", 3);
    scheme_len = sep != NULL ? (size_t) (sep - s) : 0;
    if (scheme_len == 0 || !(s[0] >= 'a' && s[0] <= 'z')) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "\"%.*s\" is not scheme://host[:port] (or \"*\")",
                          (int) len, s);
    }
    for (i = 1; i < scheme_len; i++) {
        if (!cors_is_lower_alnum((unsigned char) s[i])
            && strchr("+-.", s[i]) == NULL) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "\"%.*s\": the scheme is lower case letters, "
                              "digits, '+', '-' and '.'", (int) len, s);
        }
    }
    host = sep + 3;
    if (host < end && *host == '[') {
        const char *close = memchr(host, ']', (size_t) (end - host));

        if (close != NULL && close + 1 < end) {
            colon = close + 1;
        }
        if (close == NULL || (colon != NULL && *colon != ':')
            || !cors_ipv6_ok(host, (size_t) (close + 1 - host))) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "\"%.*s\": the host is not a lower-case "
                              "[IPv6] address", (int) len, s);
        }
    } else {
        colon = memchr(host, ':', (size_t) (end - host));
        if (!cors_host_ok(host, (size_t) ((colon ? colon : end) - host))) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "\"%.*s\": the host is lower-case letters, "
                              "digits, '-', '_' and '.' in non-empty "
                              "labels, and nothing follows host[:port] "
                              "(no path, no trailing '/')", (int) len, s);
        }
    }
    if (colon != NULL) {
        const char *p = colon + 1;

        if (p == end || *p == '0' || end - p > 5) {
            port = -1;
        }
        for (; port >= 0 && p < end; p++) {
            port = *p >= '0' && *p <= '9' ? port * 10 + (*p - '0') : -1;
        }
        if (port < 1 || port > 65535) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "\"%.*s\": the port is 1..65535, without "
                              "leading zeros", (int) len, s);
        }
        if ((scheme_len == 4 && memcmp(s, "http", 4) == 0 && port == 80)
            || (scheme_len == 5 && memcmp(s, "https", 5) == 0
                && port == 443)) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "\"%.*s\": a browser leaves the default port "
                              "out of Origin; write it without \":%ld\"",
                              (int) len, s, port);
        }
    }
    return FG_OK;
}

int
fg_cors_add(fg_cors_t *c, const char *origin, fg_err_t *err)
{
    size_t len = strlen(origin);
    int    i;

    if (len == 1 && origin[0] == '*') {
        c->any = 1;
        return FG_OK;
    }
    if (fg_cors_origin_check(origin, len, err) != FG_OK) {
        return FG_ERR;
    }
    for (i = 0; i < c->count; i++) {
        if (strcmp(c->origins[i], origin) == 0) {
            return FG_OK;
        }
    }
    if (c->count >= FG_CORS_MAX_ORIGINS) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                          "at most %d origins", FG_CORS_MAX_ORIGINS);
    }
    memcpy(c->origins[c->count++], origin, len + 1);
    return FG_OK;
}

const char *
fg_cors_match(const fg_cors_t *c, const char *origin)
{
    int i;

    if (origin == NULL) {
        return NULL;
    }
    if (c->any) {
        return "*";
    }
    for (i = 0; i < c->count; i++) {
        if (strcmp(c->origins[i], origin) == 0) {
            return c->origins[i];
        }
    }
    return NULL;
}

int
fg_cors_echoes(const fg_cors_t *c)
{
    return !c->any && c->count > 0;
}

int
fg_cors_request_headers_check(const char *v, fg_err_t *err)
{
    size_t len = strlen(v), i = 0, name;
    int    names = 0;

    if (len > FG_CORS_REQ_HEADERS_MAX) {
        return fg_err_set(err, FG_E_MALFORMED_HTTP,
                          "Access-Control-Request-Headers",
                          "Access-Control-Request-Headers has more than %d "
                          "bytes", FG_CORS_REQ_HEADERS_MAX);
    }
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t')) {
            i++;
        }
        for (name = 0; i < len && cors_is_tchar((unsigned char) v[i]);
             i++) {
            name++;
        }
        while (i < len && (v[i] == ' ' || v[i] == '\t')) {
            i++;
        }
        if (i < len && v[i] != ',') {
            return fg_err_set(err, FG_E_MALFORMED_HTTP,
                              "Access-Control-Request-Headers",
                              "Access-Control-Request-Headers is not a "
                              "comma-separated list of header names "
                              "(byte %zu)", i);
        }
        i++;
        if (name > 0 && ++names > FG_CORS_REQ_NAMES_MAX) {
            return fg_err_set(err, FG_E_MALFORMED_HTTP,
                              "Access-Control-Request-Headers",
                              "Access-Control-Request-Headers names more "
                              "than %d headers", FG_CORS_REQ_NAMES_MAX);
        }
    }
    return FG_OK;
}

int
fg_cors_request_method_check(const char *v, fg_err_t *err)
{
    size_t i, len = strlen(v);

    for (i = 0; i < len && cors_is_tchar((unsigned char) v[i]); i++) {
    }
    if (len == 0 || i < len || len > FG_CORS_REQ_METHOD_MAX) {
        return fg_err_set(err, FG_E_MALFORMED_HTTP,
                          "Access-Control-Request-Method",
                          "Access-Control-Request-Method is not one method "
                          "of at most %d bytes", FG_CORS_REQ_METHOD_MAX);
    }
    return FG_OK;
}
