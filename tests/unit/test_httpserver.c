/*
 * test_httpserver.c: the HTTP/1.1 server (common/wire/httpserver) driven
 * over a socketpair, or a unix listening socket where accepting matters:
 * the test writes raw bytes on the client end and runs the server's event
 * base until the reply it waits for is in, a bounded number of passes.
 * The handler echoes the path and body, so a reply tells which request it
 * answers.
 */

#include "common/wire/httpserver.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "tests/unit/fg_test.h"

/* ---- a test server ---------------------------------------------------- */

typedef struct {
    int   requests;       /* served by the handler */
    int   gone;           /* client_gone calls */
    int   drained;        /* client_drained calls */
    int   refused;        /* refuse calls */
    int   hold;           /* 1: attach and do not reply */
    int   count;          /* the last count_changed */
    fg_httpconn_t *conn;  /* the held request's connection */
} served_t;

static void
echo_request(void *arg, fg_httpconn_t *conn, const fg_http_head_t *head,
             const char *body, size_t body_len)
{
    static const char type[] = "Content-Type: text/plain\r\n";
    served_t         *s = arg;
    char              out[4096];
    int               n;

    s->requests++;
    if (s->hold) {
        s->conn = conn;
        fg_httpconn_attach(conn, s);
        return;
    }
    n = snprintf(out, sizeof(out), "path=%s body=%.*s<END>", head->path,
                 (int) body_len, body);
    fg_httpconn_reply(conn, 200, type, sizeof(type) - 1, out, (size_t) n);
}

static void
count_gone(void *ctx)
{
    ((served_t *) ctx)->gone++;
}

static void
count_drained(void *ctx)
{
    ((served_t *) ctx)->drained++;
}

static void
count_changed(void *arg, int64_t connections)
{
    ((served_t *) arg)->count = (int) connections;
}

static void
refuse_with_teapot(void *arg, fg_httpconn_t *conn, const fg_err_t *err)
{
    static const char body[] = "refused<END>";

    (void) err;
    ((served_t *) arg)->refused++;
    fg_httpconn_reply(conn, 418, NULL, 0, body, sizeof(body) - 1);
}

static const fg_httpserver_handler_t echo_handler = {
    .request = echo_request,
    .client_gone = count_gone,
    .client_drained = count_drained,
    .count_changed = count_changed,
};

static fg_httpserver_limits_t
small_limits(void)
{
    fg_httpserver_limits_t l = {
        .name = "test",
        .max_connections = 16,
        .max_header_bytes = 512,
        .max_body_bytes = 1024,
        .header_timeout_ms = 10000,
        .body_timeout_ms = 10000,
        .keepalive_timeout_ms = 10000,
        .send_timeout_ms = 10000,
    };

    return l;
}

/* A server with @limits and one client connected over a socketpair;
 * returns the client's end (non-blocking). */
static int
connect_pair(fg_httpserver_t *srv)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int                sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0) {
        perror("socketpair");
        exit(2);
    }
    fg_httpserver_adopt(srv, sv[0], (struct sockaddr *) &addr);
    return sv[1];
}

static void
send_all(int fd, const char *s)
{
    size_t len = strlen(s), off = 0;

    while (off < len) {
        ssize_t n = write(fd, s + off, len - off);

        if (n < 0 && errno != EAGAIN) {
            perror("write");
            exit(2);
        }
        off += n > 0 ? (size_t) n : 0;
    }
}

/*
 * Runs @base and reads the client end into @buf until @marker has been
 * seen @times times, the server closed, or @passes passes went by (each
 * waits at most 1 ms). Returns 1 when the server closed the connection.
 */
static int
pump_n(struct event_base *base, int fd, char *buf, size_t size,
       size_t *len, const char *marker, int times, int passes)
{
    struct timeval ms = { 0, 1000 };
    int            pass;

    for (pass = 0; pass < passes; pass++) {
        const char *p = buf;
        int         seen = 0;
        ssize_t     n;

        event_base_loopexit(base, &ms);
        event_base_loop(base, 0);
        n = read(fd, buf + *len, size - 1 - *len);
        if (n == 0) {
            return 1;
        }
        if (n > 0) {
            *len += (size_t) n;
            buf[*len] = '\0';
        }
        while (marker != NULL && (p = strstr(p, marker)) != NULL) {
            seen++;
            p++;
        }
        if (marker != NULL && seen >= times) {
            return 0;
        }
    }
    return 0;
}

/* Waits for @marker @times times, or the close (2 s at most). */
static int
pump(struct event_base *base, int fd, char *buf, size_t size, size_t *len,
     const char *marker, int times)
{
    return pump_n(base, fd, buf, size, len, marker, times, 2000);
}

/* Lets the server run a few passes (nothing to wait for). */
static void
settle(struct event_base *base, int fd, char *buf, size_t size, size_t *len)
{
    (void) pump_n(base, fd, buf, size, len, NULL, 0, 20);
}

/* ---- tests ------------------------------------------------------------ */

static void
pipelined_requests_are_answered_in_order(void)
{
    struct event_base      *base = event_base_new();
    fg_httpserver_limits_t  l = small_limits();
    served_t                s = { 0 };
    fg_httpserver_t        *srv = fg_httpserver_new(base, &l, &echo_handler,
                                                    &s);
    int                     fd = connect_pair(srv);
    char                    buf[8192];
    size_t                  len = 0;
    char                   *first, *second, *third;

    send_all(fd, "GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
                 "POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"
                 "hello"
                 "GET /three HTTP/1.1\r\nHost: x\r\n\r\n");
    pump(base, fd, buf, sizeof(buf), &len, "<END>", 3);
    expect_int_eq(s.requests, 3);
    first = strstr(buf, "path=/one body=<END>");
    second = strstr(buf, "path=/two body=hello<END>");
    third = strstr(buf, "path=/three body=<END>");
    expect_true(first != NULL && second != NULL && third != NULL);
    expect_true(first < second && second < third);
    expect_true(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
    expect_int_eq(fg_httpserver_connections(srv), 1);   /* kept alive */
    close(fd);
    fg_httpserver_free(srv);
    event_base_free(base);
}

static void
chunked_body_reaches_the_handler_decoded(void)
{
    struct event_base      *base = event_base_new();
    fg_httpserver_limits_t  l = small_limits();
    served_t                s = { 0 };
    fg_httpserver_t        *srv = fg_httpserver_new(base, &l, &echo_handler,
                                                    &s);
    int                     fd = connect_pair(srv);
    char                    buf[4096];
    size_t                  len = 0;

    send_all(fd, "POST /c HTTP/1.1\r\nHost: x\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n"
                 "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
    pump(base, fd, buf, sizeof(buf), &len, "<END>", 1);
    expect_true(strstr(buf, "path=/c body=abcdefg<END>") != NULL);
    close(fd);
    fg_httpserver_free(srv);
    event_base_free(base);
}

static void
head_request_gets_no_body(void)
{
    struct event_base      *base = event_base_new();
    fg_httpserver_limits_t  l = small_limits();
    served_t                s = { 0 };
    fg_httpserver_t        *srv = fg_httpserver_new(base, &l, &echo_handler,
                                                    &s);
    int                     fd = connect_pair(srv);
    char                    buf[4096];
    size_t                  len = 0;

    send_all(fd, "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /g HTTP/1.1\r\nHost: x\r\n\r\n");
    pump(base, fd, buf, sizeof(buf), &len, "<END>", 1);
    expect_true(strstr(buf, "path=/h") == NULL);
    expect_true(strstr(buf, "Content-Length: 18\r\n") != NULL);
    expect_true(strstr(buf, "path=/g body=<END>") != NULL);
    close(fd);
    fg_httpserver_free(srv);
    event_base_free(base);
}

/* The server's own refusals: status, JSON type and OpenAI error code, and
 * the connection closed after the reply. */
static void
expect_refusal(const char *request, const char *status_line,
               const char *code)
{
    struct event_base      *base = event_base_new();
    fg_httpserver_limits_t  l = small_limits();
    served_t                s = { 0 };
    fg_httpserver_t        *srv = fg_httpserver_new(base, &l, &echo_handler,
                                                    &s);
    int                     fd = connect_pair(srv);
    char                    buf[8192], want[128];
    size_t                  len = 0;
    int                     closed;

    send_all(fd, request);
    closed = pump(base, fd, buf, sizeof(buf), &len, NULL, 0);
    expect_true(closed);
    expect_int_eq(s.requests, 0);
    expect_true(strncmp(buf, status_line, strlen(status_line)) == 0);
    expect_true(strstr(buf, "Content-Type: application/json\r\n") != NULL);
    expect_true(strstr(buf, "Connection: close\r\n") != NULL);
    snprintf(want, sizeof(want), "\"code\":\"%s\"}}", code);
    expect_true(strstr(buf, want) != NULL);
    expect_true(strstr(buf, "\"type\":\"invalid_request_error\"") != NULL);
    expect_true(strstr(buf, "<html") == NULL && strstr(buf, "<HTML") == NULL);
    if (strncmp(buf, status_line, strlen(status_line)) != 0) {
        fprintf(stderr, "    got: %.200s\n", buf);
    }
    close(fd);
    fg_httpserver_free(srv);
    event_base_free(base);
}

static void
malformed_request_is_a_json_400(void)
{
    expect_refusal("GET /x HTTP/1.1\r\nBad Header : y\r\n\r\n",
                   "HTTP/1.1 400 Bad Request\r\n", "malformed_http");
}

static void
head_over_the_limit_is_a_json_431(void)
{
    char req[2048];

    snprintf(req, sizeof(req), "GET /x HTTP/1.1\r\nX-Big: %0600d\r\n\r\n",
             0);
    expect_refusal(req, "HTTP/1.1 431 Request Header Fields Too Large\r\n",
                   "headers_too_large");
}

static void
body_over_the_limit_is_a_json_413(void)
{
    expect_refusal("POST /x HTTP/1.1\r\nContent-Length: 1025\r\n\r\n",
                   "HTTP/1.1 413 Payload Too Large\r\n",
                   "VALIDATION_BODY_TOO_LARGE");
}

static void
chunked_body_over_the_limit_is_a_json_413(void)
{
    expect_refusal("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "800\r\n",
                   "HTTP/1.1 413 Payload Too Large\r\n",
                   "VALIDATION_BODY_TOO_LARGE");
}

static void
http_2_request_line_is_a_json_505(void)
{
    expect_refusal("GET /x HTTP/2.0\r\n\r\n",
                   "HTTP/1.1 505 HTTP Version Not Supported\r\n",
                   "http_version_not_supported");
}

static void
bare_cr_in_the_head_is_a_json_400_at_once(void)
{
    /* Lines ended by a bare CR never end the head: before, the client
     * waited for the header timeout (10 s here) with no answer. */
    expect_refusal("GET /x HTTP/1.1\rHost: x\r\r",
                   "HTTP/1.1 400 Bad Request\r\n", "malformed_http");
}

/* ---- output the client does not take ------------------------------- */

/* Writes pipelined GETs on @fd, never reading, while the server runs,
 * until @max bytes are written or the server stops taking them (no
 * progress for 200 passes). Returns the bytes written. */
static size_t
pipeline_without_reading(struct event_base *base, int fd, size_t max)
{
    static const char req[] = "GET /p HTTP/1.1\r\n\r\n";
    struct timeval    ms = { 0, 1000 };
    size_t            sent = 0, off = 0;
    int               idle = 0;

    while (sent < max && idle < 200) {
        ssize_t n = write(fd, req + off, sizeof(req) - 1 - off);

        if (n > 0) {
            sent += (size_t) n;
            off = (off + (size_t) n) % (sizeof(req) - 1);
            idle = 0;
            continue;
        }
        idle++;
        event_base_loopexit(base, &ms);
        event_base_loop(base, 0);
    }
    return sent;
}

static void
pipelined_client_that_never_reads_is_read_no_more(void)
{
    struct event_base      *base = event_base_new();
    fg_httpserver_limits_t  l = small_limits();
    served_t                s = { 0 };
    fg_httpserver_t        *srv = fg_httpserver_new(base, &l, &echo_handler,
                                                    &s);
    int                     fd = connect_pair(srv);
    size_t                  sent, got = 0, ends = 0, want;
    char                    buf[65536];
    int                     pass;

    /* 16 MiB of requests would be 880,000 replies held in memory. */
    sent = pipeline_without_reading(base, fd, 16u << 20);
    expect_true(sent < (4u << 20));
    expect_true(s.requests < 40000);
    /* Once the client reads, the rest is served, in order, to the last. */
    want = sent / (sizeof("GET /p HTTP/1.1\r\n\r\n") - 1);
    for (pass = 0; pass < 200000 && ends < want; pass++) {
        struct timeval ms = { 0, 1000 };
        ssize_t        n;
        char          *p;

        event_base_loopexit(base, &ms);
        event_base_loop(base, EVLOOP_NONBLOCK);
        n = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (n <= 0) {
            continue;
        }
        got += (size_t) n;
        buf[got] = '\0';
        for (p = buf; (p = strstr(p, "<END>")) != NULL; p += 5) {
            ends++;
        }
        /* Keep the last 4 bytes: a marker may span two reads. */
        if (got > 4) {
            memmove(buf, buf + got - 4, 5);
            got = 4;
        }
    }
    expect_int_eq(ends, want);
    expect_int_eq(s.requests, (int) want);
    close(fd);
    fg_httpserver_free(srv);
    event_base_free(base);
}

/* Replies with 4 KiB, so that a reader that takes nothing soon leaves
 * output waiting. */
static void
reply_4k(void *arg, fg_httpconn_t *conn, const fg_http_head_t *head,
         const char *body, size_t body_len)
{
    static char out[4096];

    (void) head;
    (void) body;
    (void) body_len;
    ((served_t *) arg)->requests++;
    memset(out, 'x', sizeof(out));
    fg_httpconn_reply(conn, 200, NULL, 0, out, sizeof(out));
}

static void
send_deadline_is_not_restarted_by_serving_requests(void)
{
    fg_httpserver_handler_t h = echo_handler;
    struct event_base      *base = event_base_new();
    fg_httpserver_limits_t  l = small_limits();
    served_t                s = { 0 };
    fg_httpserver_t        *srv;
    struct sockaddr_un      addr = { .sun_family = AF_UNIX };
    int                     sv[2], sndbuf = 4096, pass;

    h.request = reply_4k;
    l.send_timeout_ms = 300;
    srv = fg_httpserver_new(base, &l, &h, &s);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0) {
        perror("socketpair");
        exit(2);
    }
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    fg_httpserver_adopt(srv, sv[0], (struct sockaddr *) &addr);
    /* A request every ~20 ms for up to 3 s, none of the replies read:
     * output waits from the first ones on, and takes no progress. */
    for (pass = 0; pass < 3000 && fg_httpserver_connections(srv) > 0;
         pass++) {
        struct timeval ms = { 0, 1000 };

        if (pass % 20 == 0) {
            (void) write(sv[1], "GET /p HTTP/1.1\r\n\r\n", 19);
        }
        event_base_loopexit(base, &ms);
        event_base_loop(base, 0);
    }
    expect_int_eq(fg_httpserver_connections(srv), 0);
    expect_true(s.requests > 2);
    close(sv[1]);
    fg_httpserver_free(srv);
    event_base_free(base);
}

/* ---- the head hook and the body budget ------------------------------ */

/* Refuses /no from its head with 401; lets any other body be read. */
static int
head_refuses_no(void *arg, fg_httpconn_t *conn, const fg_http_head_t *head)
{
    static const char body[] = "no key<END>";

    (void) arg;
    if (strcmp(head->path, "/no") != 0) {
        return 1;
    }
    fg_httpconn_reply(conn, 401, NULL, 0, body, sizeof(body) - 1);
    return 0;
}

static void
head_hook_refuses_before_the_body_is_read(void)
{
    fg_httpserver_handler_t h = echo_handler;
    struct event_base      *base = event_base_new();
    fg_httpserver_limits_t  l = small_limits();
    served_t                s = { 0 };
    fg_httpserver_t        *srv;
    char                    buf[4096];
    size_t                  len = 0;
    int                     fd, closed;

    h.head = head_refuses_no;
    srv = fg_httpserver_new(base, &l, &h, &s);
    fd = connect_pair(srv);
    send_all(fd, "POST /no HTTP/1.1\r\nContent-Length: 1000\r\n"
                 "Expect: 100-continue\r\n\r\n");
    closed = pump(base, fd, buf, sizeof(buf), &len, NULL, 0);
    expect_true(closed);
    expect_true(strncmp(buf, "HTTP/1.1 401 ", 13) == 0);
    expect_true(strstr(buf, "100 Continue") == NULL);
    expect_true(strstr(buf, "Connection: close\r\n") != NULL);
    expect_int_eq(s.requests, 0);
    close(fd);
    fg_httpserver_free(srv);
    event_base_free(base);
}

static void
head_hook_lets_a_good_head_read_its_body(void)
{
    fg_httpserver_handler_t h = echo_handler;
    struct event_base      *base = event_base_new();
    fg_httpserver_limits_t  l = small_limits();
    served_t                s = { 0 };
    fg_httpserver_t        *srv;
    char                    buf[4096];
    size_t                  len = 0;
    int                     fd;

    h.head = head_refuses_no;
    srv = fg_httpserver_new(base, &l, &h, &s);
    fd = connect_pair(srv);
    send_all(fd, "POST /yes HTTP/1.1\r\nContent-Length: 5\r\n"
                 "Expect: 100-continue\r\n\r\n");
    pump(base, fd, buf, sizeof(buf), &len, "100 Continue\r\n\r\n", 1);
    expect_true(strncmp(buf, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
    send_all(fd, "hello");
    pump(base, fd, buf, sizeof(buf), &len, "<END>", 1);
    expect_true(strstr(buf, "path=/yes body=hello<END>") != NULL);
    expect_int_eq(fg_httpserver_connections(srv), 1);   /* kept alive */
    close(fd);
    fg_httpserver_free(srv);
    event_base_free(base);
}

static void
bodies_over_the_budget_are_refused_with_503(void)
{
    static const char head[] = "POST /b HTTP/1.1\r\nContent-Length: 1000"
                               "\r\n\r\n0123456789";
    struct event_base      *base = event_base_new();
    fg_httpserver_limits_t  l = small_limits();
    served_t                s = { 0 };
    fg_httpserver_t        *srv;
    char                    buf[4096], rest[1001];
    size_t                  len = 0;
    int                     a, b, c, d;

    l.body_budget_bytes = 2500;   /* two bodies of 1000 and their heads */
    srv = fg_httpserver_new(base, &l, &echo_handler, &s);
    a = connect_pair(srv);
    b = connect_pair(srv);
    c = connect_pair(srv);
    send_all(a, head);
    send_all(b, head);
    settle(base, a, buf, sizeof(buf), &len);
    expect_int_eq(len, 0);   /* both wait for the rest of their bodies */
    send_all(c, head);
    expect_true(pump(base, c, buf, sizeof(buf), &len, NULL, 0));
    expect_true(strncmp(buf, "HTTP/1.1 503 ", 13) == 0);
    expect_true(strstr(buf, "Retry-After: 1\r\n") != NULL);
    expect_true(strstr(buf, "\"code\":\"body_buffer_full\"") != NULL);
    /* A body served gives its room back. */
    memset(rest, 'z', 990);
    rest[990] = '\0';
    send_all(a, rest);
    len = 0;
    pump(base, a, buf, sizeof(buf), &len, "<END>", 1);
    expect_true(strncmp(buf, "HTTP/1.1 200 ", 13) == 0);
    d = connect_pair(srv);
    send_all(d, head);
    len = 0;
    settle(base, d, buf, sizeof(buf), &len);
    expect_int_eq(len, 0);   /* d waits for its body: it had room */
    expect_int_eq(s.requests, 1);
    close(a);
    close(b);
    close(c);
    close(d);
    fg_httpserver_free(srv);
    event_base_free(base);
}

static void
limits_belong_to_each_server(void)
{
    struct event_base      *base = event_base_new();
    fg_httpserver_limits_t  small = small_limits(), large = small_limits();
    served_t                s1 = { 0 }, s2 = { 0 };
    fg_httpserver_t        *a, *b;
    char                    buf1[4096], buf2[4096], req[4096];
    size_t                  len1 = 0, len2 = 0;
    int                     fd1, fd2;

    large.max_body_bytes = 4000;
    a = fg_httpserver_new(base, &small, &echo_handler, &s1);
    b = fg_httpserver_new(base, &large, &echo_handler, &s2);
    fd1 = connect_pair(a);
    fd2 = connect_pair(b);
    snprintf(req, sizeof(req), "POST /b HTTP/1.1\r\nContent-Length: 2000"
             "\r\n\r\n%02000d", 0);
    send_all(fd1, req);
    send_all(fd2, req);
    pump(base, fd1, buf1, sizeof(buf1), &len1, NULL, 0);
    pump(base, fd2, buf2, sizeof(buf2), &len2, "<END>", 1);
    expect_true(strncmp(buf1, "HTTP/1.1 413 ", 13) == 0);
    expect_true(strncmp(buf2, "HTTP/1.1 200 ", 13) == 0);
    expect_int_eq(s1.requests, 0);
    expect_int_eq(s2.requests, 1);
    close(fd1);
    close(fd2);
    fg_httpserver_free(a);
    fg_httpserver_free(b);
    event_base_free(base);
}

static void
refuse_hook_answers_instead_of_the_server(void)
{
    fg_httpserver_handler_t h = echo_handler;
    struct event_base      *base = event_base_new();
    fg_httpserver_limits_t  l = small_limits();
    served_t                s = { 0 };
    fg_httpserver_t        *srv;
    char                    buf[4096];
    size_t                  len = 0;
    int                     fd;

    h.refuse = refuse_with_teapot;
    srv = fg_httpserver_new(base, &l, &h, &s);
    fd = connect_pair(srv);
    send_all(fd, "GET /x HTTP/1.1\r\nBad Header : y\r\n\r\n");
    pump(base, fd, buf, sizeof(buf), &len, "<END>", 1);
    expect_int_eq(s.refused, 1);
    expect_true(strncmp(buf, "HTTP/1.1 418 ", 13) == 0);
    close(fd);
    fg_httpserver_free(srv);
    event_base_free(base);
}

static void
reply_error_renders_the_openai_body(void)
{
    struct event_base      *base = event_base_new();
    fg_httpserver_limits_t  l = small_limits();
    served_t                s = { 0 };
    fg_httpserver_t        *srv;
    fg_err_t                err;
    char                    buf[4096];
    size_t                  len = 0;
    int                     fd;

    s.hold = 1;
    srv = fg_httpserver_new(base, &l, &echo_handler, &s);
    fd = connect_pair(srv);
    send_all(fd, "GET /nowhere HTTP/1.1\r\n\r\n");
    settle(base, fd, buf, sizeof(buf), &len);
    expect_int_eq(s.requests, 1);
    expect_int_eq(len, 0);   /* held: nothing sent yet */
    fg_err_set(&err, FG_E_NOT_FOUND, NULL, "no such endpoint: /nowhere");
    fg_httpconn_reply_error(s.conn, &err, "Allow: GET\r\n", 12);
    pump(base, fd, buf, sizeof(buf), &len, "}}", 1);
    expect_true(strncmp(buf, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
    expect_true(strstr(buf, "Content-Type: application/json\r\n"
                            "Allow: GET\r\n") != NULL);
    expect_true(strstr(buf, "{\"error\":{\"message\":\"no such endpoint: "
                            "/nowhere\"") != NULL);
    expect_true(strstr(buf, "\"code\":\"not_found\"}}") != NULL);
    expect_int_eq(s.gone, 0);   /* a reply detaches: nobody to tell */
    close(fd);
    fg_httpserver_free(srv);
    event_base_free(base);
}

static void
stream_goes_out_in_chunks_and_tells_when_its_backlog_drained(void)
{
    struct event_base      *base = event_base_new();
    fg_httpserver_limits_t  l = small_limits();
    served_t                s = { 0 };
    fg_httpserver_t        *srv;
    struct evbuffer        *data = evbuffer_new();
    static char             buf[4 << 20];
    static char             big[2 << 20];
    size_t                  len = 0;
    int                     fd;

    s.hold = 1;
    srv = fg_httpserver_new(base, &l, &echo_handler, &s);
    fd = connect_pair(srv);
    send_all(fd, "GET /stream HTTP/1.1\r\n\r\n");
    settle(base, fd, buf, sizeof(buf), &len);
    expect_int_eq(s.requests, 1);
    fg_httpconn_stream_start(s.conn, 200, "Content-Type: text/event-stream"
                             "\r\n", 33);
    evbuffer_add(data, "data: 1\n\n", 9);
    fg_httpconn_stream_send(s.conn, data);
    expect_int_eq(evbuffer_get_length(data), 0);
    /* More than a socketpair's buffer: the rest waits in the backlog. */
    memset(big, 'x', sizeof(big));
    evbuffer_add(data, big, sizeof(big));
    fg_httpconn_stream_send(s.conn, data);
    expect_true(fg_httpconn_backlog(s.conn) > 0);
    expect_int_eq(s.drained, 0);
    pump(base, fd, buf, sizeof(buf), &len, "xx\r\n", 1);
    settle(base, fd, buf, sizeof(buf), &len);
    expect_int_eq(fg_httpconn_backlog(s.conn), 0);
    expect_true(s.drained >= 1);
    fg_httpconn_stream_end(s.conn);
    pump(base, fd, buf, sizeof(buf), &len, "0\r\n\r\n", 1);
    expect_true(strstr(buf, "Transfer-Encoding: chunked\r\n") != NULL);
    expect_true(strstr(buf, "\r\n9\r\ndata: 1\n\n\r\n200000\r\nxxx") != NULL);
    expect_true(len > sizeof(big));
    expect_int_eq(memcmp(buf + len - 5, "0\r\n\r\n", 5), 0);
    expect_int_eq(s.gone, 0);
    evbuffer_free(data);
    close(fd);
    fg_httpserver_free(srv);
    event_base_free(base);
}

static void
client_leaving_tells_the_attached_request(void)
{
    struct event_base      *base = event_base_new();
    fg_httpserver_limits_t  l = small_limits();
    served_t                s = { 0 };
    fg_httpserver_t        *srv;
    char                    buf[4096];
    size_t                  len = 0;
    int                     fd;

    s.hold = 1;
    srv = fg_httpserver_new(base, &l, &echo_handler, &s);
    fd = connect_pair(srv);
    send_all(fd, "GET /held HTTP/1.1\r\n\r\n");
    settle(base, fd, buf, sizeof(buf), &len);
    expect_int_eq(s.requests, 1);
    expect_int_eq(s.gone, 0);
    close(fd);
    settle(base, -1, buf, sizeof(buf), &len);
    expect_int_eq(s.gone, 1);
    expect_int_eq(s.count, 0);
    expect_int_eq(fg_httpserver_connections(srv), 0);
    fg_httpserver_free(srv);
    event_base_free(base);
}

static void
silent_client_is_closed_at_the_header_timeout(void)
{
    struct event_base      *base = event_base_new();
    fg_httpserver_limits_t  l = small_limits();
    served_t                s = { 0 };
    fg_httpserver_t        *srv;
    char                    buf[4096];
    size_t                  len = 0;
    int                     fd;

    l.header_timeout_ms = 20;
    srv = fg_httpserver_new(base, &l, &echo_handler, &s);
    fd = connect_pair(srv);
    send_all(fd, "GET /slow HTTP/1.1\r\n");
    expect_true(pump(base, fd, buf, sizeof(buf), &len, NULL, 0));
    expect_int_eq(s.requests, 0);
    expect_int_eq(fg_httpserver_connections(srv), 0);
    close(fd);
    fg_httpserver_free(srv);
    event_base_free(base);
}

static void
accept_pauses_at_max_connections(void)
{
    struct event_base      *base = event_base_new();
    fg_httpserver_limits_t  l = small_limits();
    served_t                s = { 0 };
    struct sockaddr_un      addr = { .sun_family = AF_UNIX };
    fg_httpserver_t        *srv;
    fg_err_t                err;
    char                    buf[4096];
    size_t                  len = 0;
    int                     lfd, c1, c2;

    l.max_connections = 1;
    snprintf(addr.sun_path, sizeof(addr.sun_path),
             "/tmp/fg-test-httpserver-%d.sock", (int) getpid());
    unlink(addr.sun_path);
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (bind(lfd, (struct sockaddr *) &addr, sizeof(addr)) != 0
        || listen(lfd, 8) != 0) {
        perror("bind");
        exit(2);
    }
    srv = fg_httpserver_new(base, &l, &echo_handler, &s);
    expect_int_eq(fg_httpserver_listen(srv, lfd, &err), FG_OK);
    c1 = socket(AF_UNIX, SOCK_STREAM, 0);
    c2 = socket(AF_UNIX, SOCK_STREAM, 0);
    expect_int_eq(connect(c1, (struct sockaddr *) &addr, sizeof(addr)), 0);
    expect_int_eq(connect(c2, (struct sockaddr *) &addr, sizeof(addr)), 0);
    fcntl(c1, F_SETFL, O_NONBLOCK);
    fcntl(c2, F_SETFL, O_NONBLOCK);
    settle(base, -1, buf, sizeof(buf), &len);
    expect_int_eq(fg_httpserver_connections(srv), 1);
    close(c1);
    send_all(c2, "GET /second HTTP/1.1\r\n\r\n");
    pump(base, c2, buf, sizeof(buf), &len, "<END>", 1);
    expect_true(strstr(buf, "path=/second") != NULL);
    expect_int_eq(fg_httpserver_connections(srv), 1);
    close(c2);
    fg_httpserver_free(srv);
    unlink(addr.sun_path);
    event_base_free(base);
}

static void
drain_closes_idle_then_busy_connections_after_reply(void)
{
    struct event_base      *base = event_base_new();
    fg_httpserver_limits_t  l = small_limits();
    served_t                s = { 0 };
    fg_httpserver_t        *srv;
    char                    buf[4096], idle_buf[64];
    size_t                  len = 0, idle_len = 0;
    int                     idle, busy;

    s.hold = 1;
    srv = fg_httpserver_new(base, &l, &echo_handler, &s);
    idle = connect_pair(srv);
    busy = connect_pair(srv);
    send_all(busy, "GET /busy HTTP/1.1\r\n\r\n");
    settle(base, busy, buf, sizeof(buf), &len);
    expect_int_eq(s.requests, 1);
    fg_httpserver_drain(srv, 1);
    expect_true(pump(base, idle, idle_buf, sizeof(idle_buf), &idle_len,
                     NULL, 0));
    expect_int_eq(idle_len, 0);
    expect_int_eq(fg_httpserver_connections(srv), 1);
    fg_httpconn_reply(s.conn, 200, NULL, 0, "done<END>", 9);
    expect_true(pump(base, busy, buf, sizeof(buf), &len, NULL, 0));
    expect_true(strstr(buf, "Connection: close\r\n") != NULL);
    expect_true(strstr(buf, "done<END>") != NULL);
    expect_int_eq(fg_httpserver_connections(srv), 0);
    close(idle);
    close(busy);
    fg_httpserver_free(srv);
    event_base_free(base);
}

/* admit() for the tests: refuses while s->refused is odd (then counts). */
static int admit_calls, closed_calls;
static uint64_t closed_tag;

static int
admit_alternately(void *arg, int fd, const struct sockaddr *addr,
                  uint64_t *tag, fg_err_t *err)
{
    (void) arg;
    (void) fd;
    (void) addr;
    admit_calls++;
    if (admit_calls % 2 == 0) {
        return fg_err_set(err, FG_E_SERVICE_UNAVAILABLE, NULL, "too many "
                          "connections from this address");
    }
    *tag = 1000 + (uint64_t) admit_calls;
    return FG_OK;
}

static void
note_closed(void *arg, uint64_t tag)
{
    (void) arg;
    closed_calls++;
    closed_tag = tag;
}

static void
a_refused_admission_is_answered_and_only_the_admitted_are_owed_closed(void)
{
    static const fg_httpserver_handler_t h = {
        .request = echo_request,
        .admit = admit_alternately,
        .closed = note_closed,
    };
    struct event_base      *base = event_base_new();
    fg_httpserver_limits_t  l = small_limits();
    served_t                s = { 0 };
    fg_httpserver_t        *srv = fg_httpserver_new(base, &l, &h, &s);
    char                    buf[4096];
    size_t                  len = 0;
    int                     ok, refused;

    admit_calls = closed_calls = 0;
    ok = connect_pair(srv);        /* admitted: tag 1001 */
    refused = connect_pair(srv);   /* refused */
    expect_int_eq(pump(base, refused, buf, sizeof(buf), &len, "}}", 1), 0);
    expect_true(strncmp(buf, "HTTP/1.1 503 ", 13) == 0);
    expect_true(strstr(buf, "Retry-After: 1\r\n") != NULL);
    expect_true(strstr(buf, "Connection: close\r\n") != NULL);
    expect_true(strstr(buf, "\"code\":\"service_unavailable\"") != NULL);
    expect_int_eq(s.requests, 0);
    close(refused);
    settle(base, ok, buf, sizeof(buf), &len);
    expect_int_eq(closed_calls, 0);
    close(ok);
    len = 0;
    settle(base, ok, buf, sizeof(buf), &len);
    expect_int_eq(closed_calls, 1);
    expect_int_eq(closed_tag, 1001);
    expect_int_eq(fg_httpserver_connections(srv), 0);
    fg_httpserver_free(srv);
    event_base_free(base);
}

static void
a_connection_on_a_reserved_descriptor_gets_503_and_closes(void)
{
    struct event_base      *base = event_base_new();
    fg_httpserver_limits_t  l = small_limits();
    served_t                s = { 0 };
    fg_httpserver_t        *srv;
    struct sockaddr_in      a = { .sin_family = AF_INET };
    socklen_t               alen = sizeof(a);
    char                    buf[4096];
    size_t                  len = 0;
    int                     lfd, cfd;
    fg_err_t                err;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *) &a, sizeof(a)) != 0
        || listen(lfd, 8) != 0
        || getsockname(lfd, (struct sockaddr *) &a, &alen) != 0) {
        perror("listen");
        exit(2);
    }
    l.fd_ceiling = 3;   /* every descriptor is reserved */
    srv = fg_httpserver_new(base, &l, &echo_handler, &s);
    expect_int_eq(fg_httpserver_listen(srv, lfd, &err), FG_OK);
    cfd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(cfd, (struct sockaddr *) &a, sizeof(a)) != 0) {
        perror("connect");
        exit(2);
    }
    (void) fcntl(cfd, F_SETFL, O_NONBLOCK);
    expect_int_eq(pump(base, cfd, buf, sizeof(buf), &len, NULL, 0), 1);
    expect_true(strncmp(buf, "HTTP/1.1 503 ", 13) == 0);
    expect_true(strstr(buf, "Retry-After: 1\r\n") != NULL);
    expect_true(strstr(buf, "\"code\":\"service_unavailable\"}}") != NULL);
    expect_int_eq(fg_httpserver_connections(srv), 0);
    close(cfd);
    fg_httpserver_free(srv);
    event_base_free(base);
}

FG_TEST_MAIN("httpserver",
             FG_TEST_CASE(pipelined_requests_are_answered_in_order),
             FG_TEST_CASE(chunked_body_reaches_the_handler_decoded),
             FG_TEST_CASE(head_request_gets_no_body),
             FG_TEST_CASE(malformed_request_is_a_json_400),
             FG_TEST_CASE(head_over_the_limit_is_a_json_431),
             FG_TEST_CASE(body_over_the_limit_is_a_json_413),
             FG_TEST_CASE(chunked_body_over_the_limit_is_a_json_413),
             FG_TEST_CASE(http_2_request_line_is_a_json_505),
             FG_TEST_CASE(bare_cr_in_the_head_is_a_json_400_at_once),
             FG_TEST_CASE(pipelined_client_that_never_reads_is_read_no_more),
             FG_TEST_CASE(send_deadline_is_not_restarted_by_serving_requests),
             FG_TEST_CASE(head_hook_refuses_before_the_body_is_read),
             FG_TEST_CASE(head_hook_lets_a_good_head_read_its_body),
             FG_TEST_CASE(bodies_over_the_budget_are_refused_with_503),
             FG_TEST_CASE(limits_belong_to_each_server),
             FG_TEST_CASE(refuse_hook_answers_instead_of_the_server),
             FG_TEST_CASE(reply_error_renders_the_openai_body),
             FG_TEST_CASE(
                 stream_goes_out_in_chunks_and_tells_when_its_backlog_drained),
             FG_TEST_CASE(client_leaving_tells_the_attached_request),
             FG_TEST_CASE(silent_client_is_closed_at_the_header_timeout),
             FG_TEST_CASE(accept_pauses_at_max_connections),
             FG_TEST_CASE(drain_closes_idle_then_busy_connections_after_reply),
             FG_TEST_CASE(a_refused_admission_is_answered_and_only_the_admitted_are_owed_closed),
             FG_TEST_CASE(a_connection_on_a_reserved_descriptor_gets_503_and_closes))
