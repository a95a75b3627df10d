/*
 * test_httpparse.c: the HTTP/1.x request head and the chunked body
 * decoder (common/wire/httpparse). Heads are found with fg_http_head_end the
 * way the server finds them, then parsed; every refusal names the status
 * the header documents. Chunked bodies are decoded whole and a byte at a
 * time, and both ways must give the same bytes.
 */

#include "common/wire/httpparse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/fg_test.h"

/* ---- helpers ---------------------------------------------------------- */

/* A slice as a C string, for expect_str_eq (one use per expression). */
static const char *
slice(const char *p, size_t n)
{
    static char s[4096];

    if (p == NULL) {
        return NULL;
    }
    if (n >= sizeof(s)) {
        n = sizeof(s) - 1;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Finds the end of the head in @buf[0, len) and parses it: the parser's
 * status, or -1 when fg_http_head_end finds no complete head. */
static int
parse_n(const char *buf, size_t len, fg_http_head_t *h)
{
    size_t from = 0, end = fg_http_head_end(buf, len, &from);

    if (end == 0) {
        return -1;
    }
    return fg_http_parse_head(buf, end, h);
}

static int
parse(const char *s, fg_http_head_t *h)
{
    return parse_n(s, strlen(s), h);
}

/* The status of a head that is one request line plus @fields. */
static int
parse_with(const char *request_line, const char *fields)
{
    static fg_http_head_t h;
    char                  buf[2048];

    snprintf(buf, sizeof(buf), "%s\r\n%s\r\n", request_line, fields);
    return parse(buf, &h);
}

/* The result of decoding one chunked body. */
typedef struct {
    int    rc;
    size_t in;                 /* encoded bytes consumed */
    size_t out;                /* decoded bytes written */
    int    zero_returns;       /* byte-wise: calls that returned 0 */
    char   buf[1024];
    char   body[1024];         /* the decoded bytes, NUL-terminated */
} chunked_run_t;

static void
chunked_finish(chunked_run_t *r)
{
    size_t n = r->out < sizeof(r->body) ? r->out : sizeof(r->body) - 1;

    memcpy(r->body, r->buf, n);
    r->body[n] = '\0';
}

/* Decodes @enc handed over in one read. */
static int
chunked_whole(const char *enc, size_t max_body, size_t max_line,
              chunked_run_t *r)
{
    fg_http_chunked_t st;
    size_t            len = strlen(enc);

    memset(r, 0, sizeof(*r));
    memset(&st, 0, sizeof(st));
    memcpy(r->buf, enc, len);
    r->rc = fg_http_chunked_decode(&st, r->buf, len, &r->in, &r->out,
                                   max_body, max_line);
    chunked_finish(r);
    return r->rc;
}

/* Decodes @enc arriving one byte at a time: the buffer grows by a byte
 * per call, the state and both positions carried over. Stops at the first
 * non-zero result. */
static int
chunked_bytewise(const char *enc, size_t max_body, size_t max_line,
                 chunked_run_t *r)
{
    fg_http_chunked_t st;
    size_t            len = strlen(enc), n;

    memset(r, 0, sizeof(*r));
    memset(&st, 0, sizeof(st));
    memcpy(r->buf, enc, len);
    for (n = 1; n <= len; n++) {
        r->rc = fg_http_chunked_decode(&st, r->buf, n, &r->in, &r->out,
                                       max_body, max_line);
        if (r->rc != 0) {
            break;
        }
        r->zero_returns++;
    }
    chunked_finish(r);
    return r->rc;
}

#define BIG 1000000

/* ---- fg_http_head_end ------------------------------------------------- */

static const char crlf_head[] =
    "POST /v1/chat/completions HTTP/1.1\r\n"
    "Host: api.example.com\r\n"
    "Content-Length: 11\r\n"
    "\r\n";

static const char lf_head[] =
    "POST /v1/chat/completions HTTP/1.1\n"
    "Host: api.example.com\n"
    "Content-Length: 11\n"
    "\n";

static void
a_crlf_head_ends_after_its_blank_line(void)
{
    size_t from = 0;

    expect_int_eq(fg_http_head_end(crlf_head, strlen(crlf_head), &from),
                  strlen(crlf_head));
}

static void
a_bare_lf_head_ends_after_its_blank_line(void)
{
    size_t from = 0;

    expect_int_eq(fg_http_head_end(lf_head, strlen(lf_head), &from),
                  strlen(lf_head));
}

static void
a_head_without_its_blank_line_has_not_ended(void)
{
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\n";
    size_t      from = 0;

    expect_int_eq(fg_http_head_end(s, strlen(s), &from), 0);
    from = 0;
    expect_int_eq(fg_http_head_end("", 0, &from), 0);
}

static void
a_bare_cr_shows_an_unended_head_malformed(void)
{
    const char *cr_lines = "GET / HTTP/1.1\rHost: a\r";
    const char *crlf = "GET / HTTP/1.1\r\nHost: a\r\n";

    /* A CR followed by anything but LF: the head can never be good. */
    expect_int_eq(fg_http_head_has_bare_cr(cr_lines, strlen(cr_lines), 0),
                  1);
    expect_int_eq(fg_http_head_has_bare_cr("GET / HTTP/1.1\r\nA: b\rc",
                                           24, 0), 1);
    /* CRLF line ends, and a CR that is the last byte so far, are not. */
    expect_int_eq(fg_http_head_has_bare_cr(crlf, strlen(crlf), 0), 0);
    expect_int_eq(fg_http_head_has_bare_cr("GET / HTTP/1.1\r", 15, 0), 0);
    expect_int_eq(fg_http_head_has_bare_cr("", 0, 0), 0);
    /* Only from @from on. */
    expect_int_eq(fg_http_head_has_bare_cr("a\rbc\r\n", 7, 2), 0);
}

static void
body_bytes_after_the_head_are_not_counted(void)
{
    char   buf[256];
    size_t from = 0;

    snprintf(buf, sizeof(buf), "%s%s", crlf_head, "hello world\r\n\r\n");
    expect_int_eq(fg_http_head_end(buf, strlen(buf), &from),
                  strlen(crlf_head));
    snprintf(buf, sizeof(buf), "%s%s", lf_head, "hello\n\nworld");
    from = 0;
    expect_int_eq(fg_http_head_end(buf, strlen(buf), &from),
                  strlen(lf_head));
}

/* Feeds the growing prefixes of @head followed by @body, one @from for all
 * of them: 0 for every prefix short of the head, then the head's length. */
static void
expect_found_once_complete(const char *head, const char *body)
{
    char   buf[512];
    size_t from = 0, n, total, head_len = strlen(head), found = 0, at = 0;

    snprintf(buf, sizeof(buf), "%s%s", head, body);
    total = strlen(buf);
    for (n = 0; n <= total; n++) {
        size_t e = fg_http_head_end(buf, n, &from);

        if (e != 0) {
            found = e;
            at = n;
            break;
        }
    }
    expect_int_eq(found, head_len);
    expect_int_eq(at, head_len);
}

static void
a_crlf_head_fed_a_byte_at_a_time_is_found_once_complete(void)
{
    expect_found_once_complete(crlf_head, "hello world");
}

static void
a_bare_lf_head_fed_a_byte_at_a_time_is_found_once_complete(void)
{
    expect_found_once_complete(lf_head, "hello world");
}

static void
a_head_mixing_crlf_and_lf_fed_a_byte_at_a_time_is_found(void)
{
    expect_found_once_complete("GET / HTTP/1.1\r\nHost: a\n\r\n", "x\r\n\r\n");
    expect_found_once_complete("GET / HTTP/1.1\nHost: a\r\n\n", "x\n\n");
}

/* ---- fg_http_parse_head: request line --------------------------------- */

static void
methods_are_mapped_to_their_enum(void)
{
    static const struct {
        const char      *name;
        fg_http_method_t method;
    } cases[] = {
        { "GET", FG_HTTP_GET },         { "POST", FG_HTTP_POST },
        { "HEAD", FG_HTTP_HEAD },       { "PUT", FG_HTTP_PUT },
        { "DELETE", FG_HTTP_DELETE },   { "PATCH", FG_HTTP_PATCH },
        { "OPTIONS", FG_HTTP_OPTIONS },
    };
    fg_http_head_t h;
    char           line[64];
    size_t         i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(line, sizeof(line), "%s /v1 HTTP/1.1\r\n\r\n",
                 cases[i].name);
        expect_int_eq(parse(line, &h), 0);
        expect_int_eq(h.method, cases[i].method);
        expect_str_eq(slice(h.method_name, h.method_len), cases[i].name);
    }
}

static void
a_well_formed_unknown_method_is_other(void)
{
    fg_http_head_t h;

    expect_int_eq(parse("FOO /x HTTP/1.1\r\n\r\n", &h), 0);
    expect_int_eq(h.method, FG_HTTP_OTHER);
    expect_str_eq(slice(h.method_name, h.method_len), "FOO");
    expect_int_eq(parse("GETS /x HTTP/1.1\r\n\r\n", &h), 0);
    expect_int_eq(h.method, FG_HTTP_OTHER);
}

static void
methods_are_case_sensitive_so_lowercase_get_is_other(void)
{
    fg_http_head_t h;

    expect_int_eq(parse("get / HTTP/1.1\r\n\r\n", &h), 0);
    expect_int_eq(h.method, FG_HTTP_OTHER);
    expect_str_eq(slice(h.method_name, h.method_len), "get");
}

static void
a_method_of_other_than_token_characters_is_refused(void)
{
    expect_int_eq(parse_with("G(T / HTTP/1.1", ""), 400);
    expect_int_eq(parse_with(" GET / HTTP/1.1", ""), 400);
}

static void
the_path_stops_before_the_query_string(void)
{
    fg_http_head_t h;

    expect_int_eq(parse("GET /v1/models?limit=2&x=%20 HTTP/1.1\r\n\r\n", &h),
                  0);
    expect_str_eq(slice(h.path, h.path_len), "/v1/models");
    expect_int_eq(parse("GET /v1/models HTTP/1.1\r\n\r\n", &h), 0);
    expect_str_eq(slice(h.path, h.path_len), "/v1/models");
}

static void
the_query_string_is_the_slice_after_the_question_mark(void)
{
    fg_http_head_t h;

    expect_int_eq(parse("GET /v1/models?limit=2&x=%20 HTTP/1.1\r\n\r\n", &h),
                  0);
    expect_str_eq(slice(h.query, h.query_len), "limit=2&x=%20");
    expect_int_eq(parse("GET /p? HTTP/1.1\r\n\r\n", &h), 0);
    expect_true(h.query != NULL);
    expect_int_eq(h.query_len, 0);
    expect_int_eq(parse("GET /v1/models HTTP/1.1\r\n\r\n", &h), 0);
    expect_true(h.query == NULL);
    expect_int_eq(h.query_len, 0);
}

static void
an_absolute_form_target_is_reduced_to_its_path(void)
{
    fg_http_head_t h;

    expect_int_eq(parse("GET http://host:8080/v1/models?x=1 HTTP/1.1\r\n\r\n",
                        &h), 0);
    expect_str_eq(slice(h.path, h.path_len), "/v1/models");
    expect_int_eq(parse("GET HTTPS://host/v1/chat HTTP/1.1\r\n\r\n", &h), 0);
    expect_str_eq(slice(h.path, h.path_len), "/v1/chat");
}

static void
http_1_1_has_minor_1_and_keeps_the_connection_alive(void)
{
    fg_http_head_t h;

    expect_int_eq(parse("GET / HTTP/1.1\r\n\r\n", &h), 0);
    expect_int_eq(h.minor, 1);
    expect_int_eq(h.keep_alive, 1);
}

static void
http_1_0_has_minor_0_and_closes_the_connection(void)
{
    fg_http_head_t h;

    expect_int_eq(parse("GET / HTTP/1.0\r\n\r\n", &h), 0);
    expect_int_eq(h.minor, 0);
    expect_int_eq(h.keep_alive, 0);
}

static void
http_1_0_with_connection_keep_alive_keeps_it_alive(void)
{
    fg_http_head_t h;

    expect_int_eq(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
                        &h), 0);
    expect_int_eq(h.keep_alive, 1);
}

static void
http_1_1_with_connection_close_closes_it(void)
{
    fg_http_head_t h;

    expect_int_eq(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &h),
                  0);
    expect_int_eq(h.keep_alive, 0);
}

static void
close_wins_over_keep_alive_in_the_same_field(void)
{
    fg_http_head_t h;

    expect_int_eq(parse("GET / HTTP/1.1\r\n"
                        "Connection: keep-alive, close\r\n\r\n", &h), 0);
    expect_int_eq(h.keep_alive, 0);
    expect_int_eq(parse("GET / HTTP/1.0\r\n"
                        "Connection: keep-alive, close\r\n\r\n", &h), 0);
    expect_int_eq(h.keep_alive, 0);
}

static void
close_wins_over_keep_alive_in_a_later_field(void)
{
    fg_http_head_t h;

    expect_int_eq(parse("GET / HTTP/1.0\r\nConnection: close\r\n"
                        "Connection: keep-alive\r\n\r\n", &h), 0);
    expect_int_eq(h.keep_alive, 0);
}

static void
http_2_0_is_refused_with_505(void)
{
    expect_int_eq(parse_with("GET / HTTP/2.0", ""), 505);
    expect_int_eq(parse_with("GET / HTTP/0.9", ""), 505);
}

static void
http_9_9_is_refused_with_505(void)
{
    expect_int_eq(parse_with("GET / HTTP/9.9", ""), 505);
}

static void
a_garbage_version_is_refused_with_400(void)
{
    expect_int_eq(parse_with("GET / HTTX/1.1", ""), 400);
    expect_int_eq(parse_with("GET / http/1.1", ""), 400);
    expect_int_eq(parse_with("GET / HTTP/1", ""), 400);
    expect_int_eq(parse_with("GET / HTTP/1.x", ""), 400);
    expect_int_eq(parse_with("GET / HTTP/11.1", ""), 400);
    expect_int_eq(parse_with("GET / HTTP/1.1 ", ""), 400);
    expect_int_eq(parse_with("GET / banana", ""), 400);
}

static void
a_missing_target_is_refused_with_400(void)
{
    expect_int_eq(parse_with("GET HTTP/1.1", ""), 400);
    expect_int_eq(parse_with("GET  HTTP/1.1", ""), 400);
    expect_int_eq(parse_with("GET", ""), 400);
}

static void
extra_spaces_in_the_request_line_are_refused_with_400(void)
{
    expect_int_eq(parse_with("GET  / HTTP/1.1", ""), 400);
    expect_int_eq(parse_with("GET /  HTTP/1.1", ""), 400);
    expect_int_eq(parse_with("GET\t/ HTTP/1.1", ""), 400);
}

/* ---- fg_http_parse_head: Content-Length and Transfer-Encoding --------- */

static void
a_head_without_a_length_has_content_length_minus_one(void)
{
    fg_http_head_t h;

    expect_int_eq(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &h), 0);
    expect_int_eq(h.content_length, -1);
    expect_int_eq(h.is_chunked, 0);
}

static void
content_length_is_parsed(void)
{
    fg_http_head_t h;

    expect_int_eq(parse("POST / HTTP/1.1\r\ncontent-length: 1234\r\n\r\n",
                        &h), 0);
    expect_int_eq(h.content_length, 1234);
    expect_int_eq(parse("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &h),
                  0);
    expect_int_eq(h.content_length, 0);
}

static void
a_repeated_equal_content_length_is_accepted(void)
{
    fg_http_head_t h;

    expect_int_eq(parse("POST / HTTP/1.1\r\nContent-Length: 42\r\n"
                        "Host: a\r\nContent-Length: 42\r\n\r\n", &h), 0);
    expect_int_eq(h.content_length, 42);
}

static void
different_content_lengths_are_refused_with_400(void)
{
    expect_int_eq(parse_with("POST / HTTP/1.1",
                             "Content-Length: 42\r\nContent-Length: 43\r\n"),
                  400);
    expect_int_eq(parse_with("POST / HTTP/1.1",
                             "Content-Length: 0\r\nContent-Length: 5\r\n"),
                  400);
}

static void
a_non_numeric_content_length_is_refused_with_400(void)
{
    expect_int_eq(parse_with("POST / HTTP/1.1", "Content-Length: abc\r\n"),
                  400);
    expect_int_eq(parse_with("POST / HTTP/1.1", "Content-Length: 12a\r\n"),
                  400);
    expect_int_eq(parse_with("POST / HTTP/1.1", "Content-Length: 0x10\r\n"),
                  400);
    expect_int_eq(parse_with("POST / HTTP/1.1", "Content-Length: +5\r\n"),
                  400);
    expect_int_eq(parse_with("POST / HTTP/1.1", "Content-Length: 5 5\r\n"),
                  400);
    expect_int_eq(parse_with("POST / HTTP/1.1", "Content-Length: 5, 5\r\n"),
                  400);
}

static void
a_negative_content_length_is_refused_with_400(void)
{
    expect_int_eq(parse_with("POST / HTTP/1.1", "Content-Length: -1\r\n"),
                  400);
}

static void
an_empty_content_length_is_refused_with_400(void)
{
    expect_int_eq(parse_with("POST / HTTP/1.1", "Content-Length:\r\n"), 400);
    expect_int_eq(parse_with("POST / HTTP/1.1", "Content-Length:   \r\n"),
                  400);
}

static void
a_content_length_of_25_digits_is_refused_with_400(void)
{
    expect_int_eq(parse_with("POST / HTTP/1.1",
                             "Content-Length: 1234567890123456789012345\r\n"),
                  400);
    expect_int_eq(parse_with("POST / HTTP/1.1",
                             "Content-Length: 99999999999999999999\r\n"),
                  400);
}

static void
chunked_transfer_encoding_sets_is_chunked(void)
{
    fg_http_head_t h;

    expect_int_eq(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                        "\r\n", &h), 0);
    expect_int_eq(h.is_chunked, 1);
    expect_int_eq(h.content_length, -1);
    expect_int_eq(parse("POST / HTTP/1.1\r\ntransfer-encoding: Chunked\r\n"
                        "\r\n", &h), 0);
    expect_int_eq(h.is_chunked, 1);
}

static void
a_transfer_coding_other_than_chunked_is_refused_with_501(void)
{
    expect_int_eq(parse_with("POST / HTTP/1.1", "Transfer-Encoding: gzip\r\n"),
                  501);
    expect_int_eq(parse_with("POST / HTTP/1.1",
                             "Transfer-Encoding: gzip, chunked\r\n"), 501);
}

static void
transfer_encoding_beside_content_length_is_refused_with_400(void)
{
    expect_int_eq(parse_with("POST / HTTP/1.1",
                             "Transfer-Encoding: chunked\r\n"
                             "Content-Length: 5\r\n"), 400);
    expect_int_eq(parse_with("POST / HTTP/1.1",
                             "Content-Length: 5\r\n"
                             "Transfer-Encoding: chunked\r\n"), 400);
}

static void
transfer_encoding_in_http_1_0_is_refused_with_400(void)
{
    expect_int_eq(parse_with("POST / HTTP/1.0",
                             "Transfer-Encoding: chunked\r\n"), 400);
}

static void
two_transfer_encoding_fields_are_refused_with_400(void)
{
    expect_int_eq(parse_with("POST / HTTP/1.1",
                             "Transfer-Encoding: chunked\r\n"
                             "Transfer-Encoding: chunked\r\n"), 400);
    expect_int_eq(parse_with("POST / HTTP/1.1",
                             "Transfer-Encoding: chunked\r\n"
                             "Transfer-Encoding: gzip\r\n"), 400);
}

/* ---- fg_http_parse_head: field syntax --------------------------------- */

static void
white_space_before_a_field_colon_is_refused_with_400(void)
{
    expect_int_eq(parse_with("GET / HTTP/1.1", "Host : a\r\n"), 400);
    expect_int_eq(parse_with("GET / HTTP/1.1", "Host\t: a\r\n"), 400);
    expect_int_eq(parse_with("POST / HTTP/1.1",
                             "Transfer-Encoding : chunked\r\n"), 400);
}

static void
an_obs_folded_line_is_refused_with_400(void)
{
    expect_int_eq(parse_with("GET / HTTP/1.1", "X-A: one\r\n two\r\n"), 400);
    expect_int_eq(parse_with("GET / HTTP/1.1", "X-A: one\r\n\ttwo\r\n"),
                  400);
    expect_int_eq(parse_with("GET / HTTP/1.1", " Host: a\r\n"), 400);
}

static void
a_field_without_a_colon_is_refused_with_400(void)
{
    expect_int_eq(parse_with("GET / HTTP/1.1", "Host\r\n"), 400);
    expect_int_eq(parse_with("GET / HTTP/1.1", "Host a\r\n"), 400);
    expect_int_eq(parse_with("GET / HTTP/1.1", ": a\r\n"), 400);
}

static void
a_bare_cr_inside_a_line_is_refused_with_400(void)
{
    expect_int_eq(parse_with("GET / HTTP/1.1", "X-A: a\rb\r\n"), 400);
    expect_int_eq(parse_with("GET / HTTP/1.1", "X-A\r: a\r\n"), 400);
    expect_int_eq(parse_with("GET /\r HTTP/1.1", ""), 400);
    expect_int_eq(parse_with("GET / HTTP/1.1\r", ""), 400);
}

static void
a_control_character_in_a_value_is_refused_with_400(void)
{
    static const char nul[] = "GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n";
    fg_http_head_t    h;

    expect_int_eq(parse_with("GET / HTTP/1.1", "X-A: a\001b\r\n"), 400);
    expect_int_eq(parse_with("GET / HTTP/1.1", "X-A: a\033b\r\n"), 400);
    expect_int_eq(parse_with("GET / HTTP/1.1", "X-A: a\177b\r\n"), 400);
    expect_int_eq(parse_n(nul, sizeof(nul) - 1, &h), 400);
}

static void
a_tab_and_obs_text_in_a_value_are_accepted(void)
{
    fg_http_head_t h;

    expect_int_eq(parse("GET / HTTP/1.1\r\nX-A: a\tb \xc3\xa9\r\n\r\n", &h),
                  0);
    expect_str_eq(slice(h.fields[0].value, h.fields[0].value_len),
                  "a\tb \xc3\xa9");
}

static void
field_values_are_trimmed_of_white_space_on_both_sides(void)
{
    fg_http_head_t h;

    expect_int_eq(parse("GET / HTTP/1.1\r\n"
                        "X-A: \t  spaced  value \t \r\n"
                        "X-B:tight\r\n"
                        "X-C:    \r\n"
                        "\r\n", &h), 0);
    expect_int_eq(h.field_count, 3);
    expect_str_eq(slice(h.fields[0].name, h.fields[0].name_len), "X-A");
    expect_str_eq(slice(h.fields[0].value, h.fields[0].value_len),
                  "spaced  value");
    expect_str_eq(slice(h.fields[1].value, h.fields[1].value_len), "tight");
    expect_int_eq(h.fields[2].value_len, 0);
}

/* A head with @n fields "X-<i>: <i>" into @buf. */
static size_t
head_with_fields(char *buf, size_t size, int n)
{
    size_t len;
    int    i;

    len = (size_t) snprintf(buf, size, "GET / HTTP/1.1\r\n");
    for (i = 0; i < n; i++) {
        len += (size_t) snprintf(buf + len, size - len, "X-%d: %d\r\n", i, i);
    }
    len += (size_t) snprintf(buf + len, size - len, "\r\n");
    return len;
}

static void
exactly_max_headers_fields_are_accepted(void)
{
    static char    buf[8192];
    fg_http_head_t h;
    size_t         len = head_with_fields(buf, sizeof(buf),
                                          FG_HTTP_MAX_HEADERS);

    expect_int_eq(parse_n(buf, len, &h), 0);
    expect_int_eq(h.field_count, FG_HTTP_MAX_HEADERS);
    expect_str_eq(slice(h.fields[FG_HTTP_MAX_HEADERS - 1].name,
                        h.fields[FG_HTTP_MAX_HEADERS - 1].name_len), "X-99");
}

static void
more_than_max_headers_fields_are_refused_with_431(void)
{
    static char    buf[8192];
    fg_http_head_t h;
    size_t         len = head_with_fields(buf, sizeof(buf),
                                          FG_HTTP_MAX_HEADERS + 1);

    expect_int_eq(parse_n(buf, len, &h), 431);
}

static void
the_head_length_is_recorded(void)
{
    fg_http_head_t h;

    expect_int_eq(parse(crlf_head, &h), 0);
    expect_int_eq(h.head_len, strlen(crlf_head));
    expect_int_eq(h.field_count, 2);
    expect_int_eq(h.content_length, 11);
}

static void
a_bare_lf_head_parses_like_a_crlf_head(void)
{
    fg_http_head_t h;

    expect_int_eq(parse(lf_head, &h), 0);
    expect_int_eq(h.method, FG_HTTP_POST);
    expect_str_eq(slice(h.path, h.path_len), "/v1/chat/completions");
    expect_int_eq(h.field_count, 2);
    expect_str_eq(slice(h.fields[0].value, h.fields[0].value_len),
                  "api.example.com");
    expect_int_eq(h.content_length, 11);
}

static void
expect_100_continue_is_honoured_in_http_1_1(void)
{
    fg_http_head_t h;

    expect_int_eq(parse("POST / HTTP/1.1\r\nExpect: 100-Continue\r\n"
                        "Content-Length: 5\r\n\r\n", &h), 0);
    expect_int_eq(h.expect_continue, 1);
    expect_int_eq(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", &h),
                  0);
    expect_int_eq(h.expect_continue, 0);
}

static void
expect_100_continue_is_ignored_in_http_1_0(void)
{
    fg_http_head_t h;

    expect_int_eq(parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\n"
                        "Content-Length: 5\r\n\r\n", &h), 0);
    expect_int_eq(h.expect_continue, 0);
}

static void
fg_http_field_finds_a_field_in_any_case(void)
{
    fg_http_head_t h;
    const char    *v;
    size_t         len = 0;

    expect_int_eq(parse("GET / HTTP/1.1\r\nHost: a\r\n"
                        "X-Api-Key:  sk-123 \r\n\r\n", &h), 0);
    v = fg_http_field(&h, "x-api-key", &len);
    expect_str_eq(slice(v, len), "sk-123");
    v = fg_http_field(&h, "X-API-KEY", &len);
    expect_str_eq(slice(v, len), "sk-123");
    expect_true(fg_http_field(&h, "HOST", NULL) == h.fields[0].value);
}

static void
fg_http_field_returns_the_first_of_repeated_fields(void)
{
    fg_http_head_t h;
    const char    *v;
    size_t         len = 0;

    expect_int_eq(parse("GET / HTTP/1.1\r\nX-A: one\r\nx-a: two\r\n\r\n",
                        &h), 0);
    v = fg_http_field(&h, "X-A", &len);
    expect_str_eq(slice(v, len), "one");
}

static void
fg_http_field_returns_null_for_an_absent_field(void)
{
    fg_http_head_t h;
    size_t         len = 77;

    expect_int_eq(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &h), 0);
    expect_true(fg_http_field(&h, "Authorization", &len) == NULL);
    expect_true(fg_http_field(&h, "Hos", &len) == NULL);
    expect_true(fg_http_field(&h, "Host2", &len) == NULL);
}

/* ---- fg_http_head_terminate ------------------------------------------- */

static void
terminate_makes_every_slice_a_c_string(void)
{
    static const char head[] =
        "PATCH /v1/things?id=7 HTTP/1.1\r\n"
        "Host: api.example.com\r\n"
        "X-Pad:   padded   \r\n"
        "X-Empty:\r\n"
        "X-Tight:t\r\n"
        "\r\n";
    char           buf[sizeof(head)];
    fg_http_head_t h;

    memcpy(buf, head, sizeof(head));
    expect_int_eq(parse_n(buf, sizeof(head) - 1, &h), 0);
    fg_http_head_terminate(&h, buf);
    expect_str_eq(h.method_name, "PATCH");
    expect_str_eq(h.path, "/v1/things");
    expect_str_eq(h.query, "id=7");
    expect_int_eq(h.field_count, 4);
    expect_str_eq(h.fields[0].name, "Host");
    expect_str_eq(h.fields[0].value, "api.example.com");
    expect_str_eq(h.fields[1].name, "X-Pad");
    expect_str_eq(h.fields[1].value, "padded");
    expect_str_eq(h.fields[2].name, "X-Empty");
    expect_str_eq(h.fields[2].value, "");
    expect_str_eq(h.fields[3].name, "X-Tight");
    expect_str_eq(h.fields[3].value, "t");
    expect_str_eq(fg_http_field(&h, "x-pad", NULL), "padded");
}

static void
terminate_makes_c_strings_of_a_bare_lf_head(void)
{
    static const char head[] = "GET http://h:1/p?q HTTP/1.0\nA:b\nC: d\n\n";
    char           buf[sizeof(head)];
    fg_http_head_t h;

    memcpy(buf, head, sizeof(head));
    expect_int_eq(parse_n(buf, sizeof(head) - 1, &h), 0);
    fg_http_head_terminate(&h, buf);
    expect_str_eq(h.method_name, "GET");
    expect_str_eq(h.path, "/p");
    expect_str_eq(h.fields[0].name, "A");
    expect_str_eq(h.fields[0].value, "b");
    expect_str_eq(h.fields[1].name, "C");
    expect_str_eq(h.fields[1].value, "d");
}

static void
terminate_leaves_the_body_after_the_head_untouched(void)
{
    static const char body[] = "{\"a\":1}\r\n\r\nX: y\r\n";
    char              buf[512];
    fg_http_head_t    h;
    size_t            len, head_len = strlen(crlf_head);

    len = (size_t) snprintf(buf, sizeof(buf), "%s%s", crlf_head, body);
    expect_int_eq(parse_n(buf, len, &h), 0);
    fg_http_head_terminate(&h, buf);
    expect_int_eq(memcmp(buf + head_len, body, sizeof(body)), 0);
    /* The blank line that ends the head is no delimiter of a slice. */
    expect_int_eq(buf[head_len - 2], '\r');
    expect_int_eq(buf[head_len - 1], '\n');
    expect_str_eq(h.fields[1].value, "11");
}

/* ---- fg_http_chunked_decode ------------------------------------------- */

static const char two_chunks[] = "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";

static void
a_two_chunk_body_decodes_to_the_concatenation(void)
{
    chunked_run_t r;

    expect_int_eq(chunked_whole(two_chunks, BIG, 64, &r), 1);
    expect_str_eq(r.body, "hello, world");
    expect_int_eq(r.out, 12);
    expect_int_eq(r.in, strlen(two_chunks));
}

static void
a_chunked_body_fed_one_byte_at_a_time_decodes_the_same(void)
{
    static const char enc[] =
        "5;a=b\r\nhello\r\n"
        "1\r\n,\r\n"
        "B\r\n 0123456789\r\n"
        "0\r\nX-Trailer: 1\r\n\r\n";
    chunked_run_t whole, bytes;

    expect_int_eq(chunked_whole(enc, BIG, 64, &whole), 1);
    expect_int_eq(chunked_bytewise(enc, BIG, 64, &bytes), 1);
    expect_str_eq(whole.body, "hello, 0123456789");
    expect_str_eq(bytes.body, whole.body);
    expect_int_eq(bytes.out, whole.out);
    expect_int_eq(bytes.in, strlen(enc));
    /* Done only with the last byte: every shorter prefix returned 0. */
    expect_int_eq(bytes.zero_returns, strlen(enc) - 1);
}

static void
chunk_extensions_are_skipped(void)
{
    chunked_run_t r;

    expect_int_eq(chunked_whole("5;name=value\r\nhello\r\n"
                                "3;a;b=\"c;d\"\r\nabc\r\n"
                                "0;last\r\n\r\n", BIG, 64, &r), 1);
    expect_str_eq(r.body, "helloabc");
}

static void
trailer_fields_are_skipped(void)
{
    chunked_run_t r;

    expect_int_eq(chunked_whole("3\r\nabc\r\n0\r\nX-A: 1\r\nX-B: 2\r\n\r\n",
                                BIG, 64, &r), 1);
    expect_str_eq(r.body, "abc");
    expect_int_eq(r.out, 3);
}

static void
bare_lf_chunk_framing_is_accepted(void)
{
    chunked_run_t r;

    expect_int_eq(chunked_whole("5\nhello\n3;x\nabc\n0\nX-A: 1\n\n",
                                BIG, 64, &r), 1);
    expect_str_eq(r.body, "helloabc");
    expect_int_eq(chunked_bytewise("5\nhello\n3;x\nabc\n0\nX-A: 1\n\n",
                                   BIG, 64, &r), 1);
    expect_str_eq(r.body, "helloabc");
}

static void
uppercase_and_lowercase_hex_sizes_are_read(void)
{
    char          enc[256];
    chunked_run_t r;

    snprintf(enc, sizeof(enc), "1A\r\n%s\r\nb\r\n%s\r\n0\r\n\r\n",
             "abcdefghijklmnopqrstuvwxyz", "0123456789X");
    expect_int_eq(chunked_whole(enc, BIG, 64, &r), 1);
    expect_int_eq(r.out, 26 + 11);
    expect_str_eq(r.body, "abcdefghijklmnopqrstuvwxyz0123456789X");
}

static void
a_missing_crlf_after_chunk_data_is_refused_with_400(void)
{
    chunked_run_t r;

    expect_int_eq(chunked_whole("5\r\nhelloX\r\n0\r\n\r\n", BIG, 64, &r),
                  400);
    expect_int_eq(chunked_whole("5\r\nhello0\r\n\r\n", BIG, 64, &r), 400);
    expect_int_eq(chunked_whole("5\r\nhello\rX0\r\n\r\n", BIG, 64, &r), 400);
    expect_int_eq(chunked_bytewise("5\r\nhelloX\r\n0\r\n\r\n", BIG, 64, &r),
                  400);
}

static void
a_non_hex_size_is_refused_with_400(void)
{
    chunked_run_t r;

    expect_int_eq(chunked_whole("g\r\nhello\r\n0\r\n\r\n", BIG, 64, &r), 400);
    expect_int_eq(chunked_whole("-5\r\nhello\r\n0\r\n\r\n", BIG, 64, &r),
                  400);
    expect_int_eq(chunked_whole(" 5\r\nhello\r\n0\r\n\r\n", BIG, 64, &r),
                  400);
}

/* RFC 9112 7.1: chunk-size = 1*HEXDIG, then only BWS ";" chunk-ext. A
 * size like "0x5" read as 0 ends the body where a parser reading it as 5
 * (strtoul's base 16) would not: the two disagree on where it ends. */
static void
junk_after_a_chunk_size_is_refused_with_400(void)
{
    chunked_run_t r;

    expect_int_eq(chunked_whole("0x5\r\nhello\r\n0\r\n\r\n", BIG, 64, &r),
                  400);
    expect_int_eq(chunked_whole("5x\r\nhello\r\n0\r\n\r\n", BIG, 64, &r),
                  400);
}

static void
an_empty_size_line_is_refused_with_400(void)
{
    chunked_run_t r;

    expect_int_eq(chunked_whole("\r\nhello\r\n0\r\n\r\n", BIG, 64, &r), 400);
    expect_int_eq(chunked_whole("\nhello\n0\n\n", BIG, 64, &r), 400);
    expect_int_eq(chunked_whole(";ext\r\nhello\r\n0\r\n\r\n", BIG, 64, &r),
                  400);
    /* After a chunk, too. */
    expect_int_eq(chunked_whole("5\r\nhello\r\n\r\n0\r\n\r\n", BIG, 64, &r),
                  400);
}

static void
a_body_over_max_body_is_refused_with_413(void)
{
    chunked_run_t r;

    /* 12 bytes in all: exactly the limit passes, one less does not. */
    expect_int_eq(chunked_whole(two_chunks, 12, 64, &r), 1);
    expect_int_eq(chunked_whole(two_chunks, 11, 64, &r), 413);
    expect_int_eq(chunked_whole(two_chunks, 4, 64, &r), 413);
    expect_int_eq(chunked_bytewise(two_chunks, 11, 64, &r), 413);
    /* Refused at the size line, before any of the second chunk's data. */
    expect_int_eq(r.out, 5);
}

static void
a_single_huge_chunk_size_is_refused_with_413(void)
{
    chunked_run_t r;

    expect_int_eq(chunked_whole("ffffffffffffffffffff\r\nx\r\n0\r\n\r\n",
                                BIG, 64, &r), 413);
    expect_int_eq(chunked_whole("10000000000000000\r\nx\r\n0\r\n\r\n",
                                (size_t) -1, 64, &r), 413);
    expect_int_eq(chunked_whole("F4241\r\n", BIG, 64, &r), 413);
}

static void
a_size_line_longer_than_max_line_is_refused_with_400(void)
{
    chunked_run_t r;

    expect_int_eq(chunked_whole("5;a-rather-long-extension=value\r\nhello\r\n"
                                "0\r\n\r\n", BIG, 16, &r), 400);
    expect_int_eq(chunked_whole("00000000000000000000005\r\nhello\r\n"
                                "0\r\n\r\n", BIG, 16, &r), 400);
    expect_int_eq(chunked_bytewise("5;a-rather-long-extension=value\r\nhello"
                                   "\r\n0\r\n\r\n", BIG, 16, &r), 400);
    /* The same lines under the limit. */
    expect_int_eq(chunked_whole("5;a-rather-long-extension=value\r\nhello\r\n"
                                "0\r\n\r\n", BIG, 64, &r), 1);
}

static void
trailers_longer_than_max_line_in_total_are_refused_with_400(void)
{
    static const char enc[] =
        "3\r\nabc\r\n0\r\nX-A: 12345\r\nX-B: 12345\r\nX-C: 12345\r\n\r\n";
    chunked_run_t r;

    /* Each trailer line is 12 bytes; together they are 36. */
    expect_int_eq(chunked_whole(enc, BIG, 20, &r), 400);
    expect_int_eq(chunked_bytewise(enc, BIG, 20, &r), 400);
    expect_int_eq(chunked_whole(enc, BIG, 64, &r), 1);
    expect_str_eq(r.body, "abc");
}

static void
an_incomplete_chunked_body_returns_zero(void)
{
    static const char *prefixes[] = {
        "", "5", "5\r", "5\r\n", "5\r\nhel", "5\r\nhello", "5\r\nhello\r",
        "5\r\nhello\r\n", "5\r\nhello\r\n0", "5\r\nhello\r\n0\r\n",
        "5\r\nhello\r\n0\r\n\r", "5\r\nhello\r\n0\r\nX-A: 1\r\n",
    };
    chunked_run_t r;
    size_t        i;

    for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        expect_int_eq(chunked_whole(prefixes[i], BIG, 64, &r), 0);
        expect_int_eq(r.in, strlen(prefixes[i]));
    }
    /* What data has arrived is decoded already. */
    expect_int_eq(chunked_whole("5\r\nhel", BIG, 64, &r), 0);
    expect_str_eq(r.body, "hel");
}

static void
bytes_after_the_chunked_body_are_left_unconsumed(void)
{
    static const char next[] = "GET /next HTTP/1.1\r\n\r\n";
    char              enc[256];
    size_t            body_len = strlen(two_chunks);
    chunked_run_t     r;

    snprintf(enc, sizeof(enc), "%s%s", two_chunks, next);
    expect_int_eq(chunked_whole(enc, BIG, 64, &r), 1);
    expect_int_eq(r.in, body_len);
    expect_str_eq(r.body, "hello, world");
    expect_int_eq(memcmp(r.buf + r.in, next, sizeof(next)), 0);
    /* Fed a byte at a time, it also stops right after the final CRLF. */
    expect_int_eq(chunked_bytewise(enc, BIG, 64, &r), 1);
    expect_int_eq(r.in, body_len);
}

static void
a_finished_body_stays_finished(void)
{
    fg_http_chunked_t st;
    char              buf[64];
    size_t            in = 0, out = 0, len = strlen(two_chunks);

    memset(&st, 0, sizeof(st));
    memcpy(buf, two_chunks, len);
    memcpy(buf + len, "junk", 4);
    expect_int_eq(fg_http_chunked_decode(&st, buf, len, &in, &out, BIG, 64),
                  1);
    expect_int_eq(fg_http_chunked_decode(&st, buf, len + 4, &in, &out, BIG,
                                         64), 1);
    expect_int_eq(in, len);
    expect_int_eq(out, 12);
}

FG_TEST_MAIN("httpparse",
    FG_TEST_CASE(a_crlf_head_ends_after_its_blank_line),
    FG_TEST_CASE(a_bare_lf_head_ends_after_its_blank_line),
    FG_TEST_CASE(a_head_without_its_blank_line_has_not_ended),
    FG_TEST_CASE(a_bare_cr_shows_an_unended_head_malformed),
             FG_TEST_CASE(body_bytes_after_the_head_are_not_counted),
    FG_TEST_CASE(a_crlf_head_fed_a_byte_at_a_time_is_found_once_complete),
    FG_TEST_CASE(a_bare_lf_head_fed_a_byte_at_a_time_is_found_once_complete),
    FG_TEST_CASE(a_head_mixing_crlf_and_lf_fed_a_byte_at_a_time_is_found),
    FG_TEST_CASE(methods_are_mapped_to_their_enum),
    FG_TEST_CASE(the_query_string_is_the_slice_after_the_question_mark),
    FG_TEST_CASE(a_well_formed_unknown_method_is_other),
    FG_TEST_CASE(methods_are_case_sensitive_so_lowercase_get_is_other),
    FG_TEST_CASE(a_method_of_other_than_token_characters_is_refused),
    FG_TEST_CASE(the_path_stops_before_the_query_string),
    FG_TEST_CASE(an_absolute_form_target_is_reduced_to_its_path),
    FG_TEST_CASE(http_1_1_has_minor_1_and_keeps_the_connection_alive),
    FG_TEST_CASE(http_1_0_has_minor_0_and_closes_the_connection),
    FG_TEST_CASE(http_1_0_with_connection_keep_alive_keeps_it_alive),
    FG_TEST_CASE(http_1_1_with_connection_close_closes_it),
    FG_TEST_CASE(close_wins_over_keep_alive_in_the_same_field),
    FG_TEST_CASE(close_wins_over_keep_alive_in_a_later_field),
    FG_TEST_CASE(http_2_0_is_refused_with_505),
    FG_TEST_CASE(http_9_9_is_refused_with_505),
    FG_TEST_CASE(a_garbage_version_is_refused_with_400),
    FG_TEST_CASE(a_missing_target_is_refused_with_400),
    FG_TEST_CASE(extra_spaces_in_the_request_line_are_refused_with_400),
    FG_TEST_CASE(a_head_without_a_length_has_content_length_minus_one),
    FG_TEST_CASE(content_length_is_parsed),
    FG_TEST_CASE(a_repeated_equal_content_length_is_accepted),
    FG_TEST_CASE(different_content_lengths_are_refused_with_400),
    FG_TEST_CASE(a_non_numeric_content_length_is_refused_with_400),
    FG_TEST_CASE(a_negative_content_length_is_refused_with_400),
    FG_TEST_CASE(an_empty_content_length_is_refused_with_400),
    FG_TEST_CASE(a_content_length_of_25_digits_is_refused_with_400),
    FG_TEST_CASE(chunked_transfer_encoding_sets_is_chunked),
    FG_TEST_CASE(a_transfer_coding_other_than_chunked_is_refused_with_501),
    FG_TEST_CASE(transfer_encoding_beside_content_length_is_refused_with_400),
    FG_TEST_CASE(transfer_encoding_in_http_1_0_is_refused_with_400),
    FG_TEST_CASE(two_transfer_encoding_fields_are_refused_with_400),
    FG_TEST_CASE(white_space_before_a_field_colon_is_refused_with_400),
    FG_TEST_CASE(an_obs_folded_line_is_refused_with_400),
    FG_TEST_CASE(a_field_without_a_colon_is_refused_with_400),
    FG_TEST_CASE(a_bare_cr_inside_a_line_is_refused_with_400),
    FG_TEST_CASE(a_control_character_in_a_value_is_refused_with_400),
    FG_TEST_CASE(a_tab_and_obs_text_in_a_value_are_accepted),
    FG_TEST_CASE(field_values_are_trimmed_of_white_space_on_both_sides),
    FG_TEST_CASE(exactly_max_headers_fields_are_accepted),
    FG_TEST_CASE(more_than_max_headers_fields_are_refused_with_431),
    FG_TEST_CASE(the_head_length_is_recorded),
    FG_TEST_CASE(a_bare_lf_head_parses_like_a_crlf_head),
    FG_TEST_CASE(expect_100_continue_is_honoured_in_http_1_1),
    FG_TEST_CASE(expect_100_continue_is_ignored_in_http_1_0),
    FG_TEST_CASE(fg_http_field_finds_a_field_in_any_case),
    FG_TEST_CASE(fg_http_field_returns_the_first_of_repeated_fields),
    FG_TEST_CASE(fg_http_field_returns_null_for_an_absent_field),
    FG_TEST_CASE(terminate_makes_every_slice_a_c_string),
    FG_TEST_CASE(terminate_makes_c_strings_of_a_bare_lf_head),
    FG_TEST_CASE(terminate_leaves_the_body_after_the_head_untouched),
    FG_TEST_CASE(a_two_chunk_body_decodes_to_the_concatenation),
    FG_TEST_CASE(a_chunked_body_fed_one_byte_at_a_time_decodes_the_same),
    FG_TEST_CASE(chunk_extensions_are_skipped),
    FG_TEST_CASE(trailer_fields_are_skipped),
    FG_TEST_CASE(bare_lf_chunk_framing_is_accepted),
    FG_TEST_CASE(uppercase_and_lowercase_hex_sizes_are_read),
    FG_TEST_CASE(a_missing_crlf_after_chunk_data_is_refused_with_400),
    FG_TEST_CASE(a_non_hex_size_is_refused_with_400),
    FG_TEST_CASE(junk_after_a_chunk_size_is_refused_with_400),
    FG_TEST_CASE(an_empty_size_line_is_refused_with_400),
    FG_TEST_CASE(a_body_over_max_body_is_refused_with_413),
    FG_TEST_CASE(a_single_huge_chunk_size_is_refused_with_413),
    FG_TEST_CASE(a_size_line_longer_than_max_line_is_refused_with_400),
    FG_TEST_CASE(trailers_longer_than_max_line_in_total_are_refused_with_400),
    FG_TEST_CASE(an_incomplete_chunked_body_returns_zero),
    FG_TEST_CASE(bytes_after_the_chunked_body_are_left_unconsumed),
    FG_TEST_CASE(a_finished_body_stays_finished))
