#ifndef FG_COMMON_HTTPPARSE_H
#define FG_COMMON_HTTPPARSE_H

/*
 * An HTTP/1.x request parser with no I/O and no allocation: the head (the
 * request line and header fields, RFC 9112) read into slices of the
 * caller's buffer, and a chunked body decoded in place.
 *
 * It is strict where leniency lets two parsers disagree about where a
 * request ends (request smuggling): no white space before a field's colon,
 * no obsolete line folding, no bare CR, one Content-Length value, no
 * Content-Length beside Transfer-Encoding, and no transfer coding but
 * "chunked". Bare LF line ends are accepted, as nginx does.
 *
 * Nothing here keeps a pointer past the call; slices point into the
 * buffer given and live as long as it does.
 */

#include <stddef.h>
#include <stdint.h>

/* Header fields beyond this many are refused (431), like a long head. */
#define FG_HTTP_MAX_HEADERS 100

typedef enum {
    FG_HTTP_OTHER = 0,      /* a well-formed method the gateway has no use for */
    FG_HTTP_GET,
    FG_HTTP_HEAD,
    FG_HTTP_POST,
    FG_HTTP_PUT,
    FG_HTTP_DELETE,
    FG_HTTP_PATCH,
    FG_HTTP_OPTIONS
} fg_http_method_t;

typedef struct {
    const char *name;
    size_t      name_len;
    const char *value;       /* without surrounding white space */
    size_t      value_len;
} fg_http_field_t;

typedef struct {
    fg_http_method_t method;
    const char      *method_name;
    size_t           method_len;
    const char      *path;           /* the target up to '?', absolute-form */
    size_t           path_len;       /* reduced to its path */
    const char      *query;          /* after '?', undecoded; NULL: none */
    size_t           query_len;
    int              minor;          /* HTTP/1.<minor>: 0 or 1 */
    int              status;         /* a response's status code */
    fg_http_field_t  fields[FG_HTTP_MAX_HEADERS];
    int              field_count;
    size_t           head_len;       /* bytes up to and with the blank line */
    int64_t          content_length; /* -1: none given */
    int              is_chunked;
    int              keep_alive;     /* the client's wish, by version and
                                      * Connection */
    int              expect_continue;
} fg_http_head_t;

/*
 * Where the head at the start of @buf ends: the length through its blank
 * line, or 0 when it has not arrived. @from is where the previous call
 * stopped looking (start at 0) and is updated, so a head that arrives a
 * byte at a time costs linear work.
 */
size_t fg_http_head_end(const char *buf, size_t len, size_t *from);

/*
 * 1 when the bytes in @buf[@from, @len) already show that the head being
 * received is malformed: a CR followed by anything but LF (a bare CR, as
 * nginx refuses at once). fg_http_parse_head would refuse it too, but only
 * once the head has ended, and a client that ends its lines with a bare
 * CR never ends it. A CR as the last byte is not decided yet (0).
 */
int fg_http_head_has_bare_cr(const char *buf, size_t len, size_t from);

/*
 * Parses a complete head of @head_len bytes (as fg_http_head_end found).
 * Returns 0, or the HTTP status to refuse it with: 400 malformed, 431
 * too many fields, 501 a transfer coding other than chunked, 505 a major
 * version other than 1 (HTTP/1.2 and up are read as 1.1, RFC 9110 2.5).
 * @out is filled on success.
 */
int fg_http_parse_head(const char *buf, size_t head_len, fg_http_head_t *out);

/*
 * Parses a complete response head (a status line, then fields as in a
 * request) of @head_len bytes into @out: status, minor, fields,
 * content_length, is_chunked, keep_alive. Returns 0, or 400 when it is
 * not well-formed, names a transfer coding other than chunked, or frames
 * its body two ways (no response of that shape is relayed: the client
 * could be told something else than what the upstream meant).
 */
int fg_http_parse_response_head(const char *buf, size_t head_len,
                                fg_http_head_t *out);

/*
 * NUL-terminates the method, path, query, names and values of a parsed
 * head in place, writing only over the delimiter after each (a space,
 * '?', ':', white space or a line end), so the slices become C strings.
 * @buf is the buffer the head was parsed from; parse no more after this.
 */
void fg_http_head_terminate(fg_http_head_t *head, char *buf);

/* The value of the first field named @name (any case), or NULL. */
const char *fg_http_field(const fg_http_head_t *head, const char *name,
                          size_t *len);

/* Chunked body decoding, resumable across reads. */
typedef struct {
    int      state;
    uint64_t left;           /* data bytes left in this chunk */
    size_t   line;           /* bytes of the current size or trailer line */
    size_t   body_len;       /* decoded so far */
} fg_http_chunked_t;

/*
 * Decodes the chunked body in @buf[*in, len) into @buf[*out, ...) in place
 * (decoded bytes never overtake encoded ones), advancing both. Returns 1
 * when the last chunk and trailer are in, 0 when more bytes are needed,
 * 400 when the framing is malformed (or a size line, or the trailer,
 * passes @max_line), 413 when the decoded body would pass @max_body. On
 * a refusal *in and *out are left as they were: the body is abandoned.
 */
int fg_http_chunked_decode(fg_http_chunked_t *st, char *buf, size_t len,
                           size_t *in, size_t *out, size_t max_body,
                           size_t max_line);

#endif
