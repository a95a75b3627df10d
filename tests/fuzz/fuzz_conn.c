/*
 * fuzz_conn.c: libFuzzer target for a whole connection of the HTTP/1.1
 * server (common/wire/httpserver.c), as h2o's fuzz driver does for its
 * own: the input's bytes are sent through a socketpair into the real
 * connection state machine (reads, the head and body parsers, pipelining,
 * keep-alive, refusals, lingering close, replies written with writev) on
 * a real event loop, served by a tiny dispatch, through the server's
 * public API only.
 *
 * Input layout: byte 0 picks the limits (bits 0-1: max_header_bytes 256,
 * 1 KiB, 8 KiB or 64 KiB; bits 2-3: max_body_bytes 0, 16, 1 KiB or
 * 1 MiB; bit 4: the dispatch refuses through its own handler, else the
 * server's), byte 1 seeds the sizes of the writes the client makes; the
 * rest is what the client sends, after which it shuts its side down for
 * writing and reads until the server closes.
 *
 * The dispatch answers each request by the first byte of its path after
 * the '/' (so the fuzzer picks): 'a'..'f' a plain reply echoing the body,
 * 'g'..'l' a streamed reply of three chunks, 'm'..'r' an error, anything
 * else a reply made later, from the loop (the request waits attached, and
 * may hear client_gone instead).
 *
 * Properties checked (a broken one aborts, which libFuzzer reports):
 *   1) every reply the client reads starts with "HTTP/1.1 " and its head
 *      parses as a response head;
 *   2) once the client has shut down its side and read everything, the
 *      server closes the connection within a bounded number of passes of
 *      the loop: no connection is left behind;
 *   3) every deferred request hears exactly one of its reply being made
 *      or client_gone; after client_gone it is never replied to.
 * ASan and UBSan see every read and write on the way.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/base/errors.h"
#include "common/base/log.h"
#include "common/wire/httpparse.h"
#include "common/wire/httpserver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Passes of the loop after the client's last byte before property 2. */
#define FUZZ_CONN_PASSES 256

/* Deferred replies a connection can have in flight at once: one. */
typedef struct {
    struct event  *ev;
    fg_httpconn_t *conn;       /* NULL after client_gone */
    int            is_gone;
    int            is_done;
} fuzz_pending_t;

typedef struct {
    struct event_base *base;
    fuzz_pending_t    *pending[64];   /* every one made, freed at the end */
    size_t             pending_count;
    int                own_refuse;
} fuzz_ctx_t;

static void
fuzz_check(int ok)
{
    if (!ok) {
        abort();
    }
}

static void
fuzz_deferred_cb(evutil_socket_t fd, short what, void *arg)
{
    fuzz_pending_t *p = arg;

    (void) fd;
    (void) what;
    fuzz_check(!p->is_done);
    p->is_done = 1;
    if (p->is_gone) {
        return;   /* property 3: nobody to answer */
    }
    fg_httpconn_reply(p->conn, 202, "X-Later: 1\r\n", 12, "{}", 2);
    p->conn = NULL;
}

static void
fuzz_client_gone(void *ctx)
{
    fuzz_pending_t *p = ctx;

    fuzz_check(!p->is_gone && !p->is_done);
    p->is_gone = 1;
    p->conn = NULL;
}

static void
fuzz_request(void *arg, fg_httpconn_t *conn, const fg_http_head_t *head,
             const char *body, size_t body_len)
{
    fuzz_ctx_t      *fc = arg;
    fuzz_pending_t  *p;
    struct evbuffer *chunk;
    fg_err_t         err;
    char             c = head->path_len > 1 ? head->path[1] : '/';
    struct timeval   now = { 0, 0 };

    if (c >= 'a' && c <= 'f') {
        fg_httpconn_reply(conn, 200, "Content-Type: text/plain\r\n", 26,
                          body, body_len);
    } else if (c >= 'g' && c <= 'l') {
        fg_httpconn_stream_start(conn, 200, "Content-Type: "
                                 "text/event-stream\r\n", 33);
        chunk = evbuffer_new();
        fuzz_check(chunk != NULL);
        evbuffer_add(chunk, "data: 1\n\n", 9);
        fg_httpconn_stream_send(conn, chunk);
        evbuffer_add(chunk, body, body_len);
        fg_httpconn_stream_send(conn, chunk);
        evbuffer_add(chunk, "data: [DONE]\n\n", 14);
        fg_httpconn_stream_send(conn, chunk);
        evbuffer_free(chunk);
        fg_httpconn_stream_end(conn);
    } else if (c >= 'm' && c <= 'r') {
        fg_err_set(&err, FG_E_NOT_FOUND, NULL, "no route for %c", c);
        fg_httpconn_reply_error(conn, &err, NULL, 0);
    } else if (fc->pending_count
               < sizeof(fc->pending) / sizeof(fc->pending[0])) {
        p = calloc(1, sizeof(*p));
        fuzz_check(p != NULL);
        p->conn = conn;
        p->ev = evtimer_new(fc->base, fuzz_deferred_cb, p);
        fuzz_check(p->ev != NULL);
        fc->pending[fc->pending_count++] = p;
        fg_httpconn_attach(conn, p);
        evtimer_add(p->ev, &now);
    } else {
        fg_httpconn_reply(conn, 503, NULL, 0, NULL, 0);
    }
}

static void
fuzz_refuse(void *arg, fg_httpconn_t *conn, const fg_err_t *err)
{
    (void) arg;
    fg_httpconn_reply_error(conn, err, "X-Refused: 1\r\n", 14);
}

/* Property 1 on the bytes the client read so far; returns how many it
 * may drop (whole replies are not tracked: only each head's start). */
static void
fuzz_check_replies(const char *out, size_t len)
{
    fg_http_head_t *head;
    size_t          from = 0, hl;

    if (len == 0) {
        return;
    }
    fuzz_check(len >= 9 ? memcmp(out, "HTTP/1.1 ", 9) == 0
                        : memcmp(out, "HTTP/1.1 ", len) == 0);
    hl = fg_http_head_end(out, len, &from);
    if (hl != 0) {
        head = malloc(sizeof(*head));
        fuzz_check(head != NULL);
        fuzz_check(fg_http_parse_response_head(out, hl, head) == 0);
        free(head);
    }
}

/* Reads what the server sent into @out (kept up to @cap bytes, the rest
 * read and dropped). Returns 1 at the server's close. */
static int
fuzz_client_read(int fd, char *out, size_t *len, size_t cap)
{
    char    buf[4096];
    ssize_t n;
    size_t  take;

    for (;;) {
        n = read(fd, buf, sizeof(buf));
        if (n > 0) {
            take = cap - *len < (size_t) n ? cap - *len : (size_t) n;
            memcpy(out + *len, buf, take);
            *len += take;
            continue;
        }
        if (n == 0) {
            return 1;
        }
        return errno == ECONNRESET || errno == EPIPE;
    }
}

static void
fuzz_init(void)
{
    static int done;

    if (!done) {
        done = 1;
        signal(SIGPIPE, SIG_IGN);
        (void) fg_log_open("/dev/null", FG_LOG_ERROR);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int64_t header_sizes[] = { 256, 1024, 8192, 65536 };
    static const int64_t body_sizes[] = { 0, 16, 1024, 1 << 20 };
    fg_httpserver_handler_t handler;
    fg_httpserver_limits_t  limits;
    fg_httpserver_t        *srv;
    fuzz_ctx_t              fc;
    struct sockaddr         addr;
    char                   *out;
    size_t                  out_len = 0, sent = 0, n, i;
    uint32_t                seed;
    int                     fds[2], closed = 0, passes;
    ssize_t                 w;

    if (size < 2) {
        return 0;
    }
    fuzz_init();
    memset(&fc, 0, sizeof(fc));
    fc.own_refuse = (data[0] >> 4) & 1;
    seed = data[1];
    data += 2;
    size -= 2;

    memset(&limits, 0, sizeof(limits));
    limits.name = "fuzz";
    limits.max_connections = 4;
    limits.max_header_bytes = header_sizes[data[-2] & 3];
    limits.max_body_bytes = body_sizes[(data[-2] >> 2) & 3];
    /* Long: no timer may fire while the input is being fed. */
    limits.header_timeout_ms = 60000;
    limits.body_timeout_ms = 60000;
    limits.keepalive_timeout_ms = 60000;
    limits.send_timeout_ms = 60000;
    memset(&handler, 0, sizeof(handler));
    handler.request = fuzz_request;
    handler.refuse = fc.own_refuse ? fuzz_refuse : NULL;
    handler.client_gone = fuzz_client_gone;

    fc.base = event_base_new();
    fuzz_check(fc.base != NULL);
    srv = fg_httpserver_new(fc.base, &limits, &handler, &fc);
    fuzz_check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK
                          | SOCK_CLOEXEC, 0, fds) == 0);
    memset(&addr, 0, sizeof(addr));
    addr.sa_family = AF_UNIX;
    fg_httpserver_adopt(srv, fds[0], &addr);
    out = malloc(65536);
    fuzz_check(out != NULL);

    /* The client's bytes, in writes of pseudo-random sizes, each followed
     * by a pass of the loop; what the server answers is read meanwhile.
     * Bounded: every pass either writes a byte or counts down. */
    passes = 0;
    while (sent < size && passes < (int) size + FUZZ_CONN_PASSES) {
        passes++;
        seed = seed * 1103515245u + 12345u;
        n = 1 + (seed >> 16) % 512;
        n = n < size - sent ? n : size - sent;
        w = write(fds[1], data + sent, n);
        if (w > 0) {
            sent += (size_t) w;
        } else if (w < 0 && errno != EAGAIN) {
            break;   /* the server closed: the rest is never read */
        }
        event_base_loop(fc.base, EVLOOP_NONBLOCK);
        closed = fuzz_client_read(fds[1], out, &out_len, 65536);
        if (closed) {
            break;
        }
    }
    (void) shutdown(fds[1], SHUT_WR);

    /* Property 2: the server closes after the client's end (a lingering
     * close included: it reads our end, then closes). */
    for (i = 0; i < FUZZ_CONN_PASSES
                && (!closed || fg_httpserver_connections(srv) > 0); i++) {
        event_base_loop(fc.base, EVLOOP_NONBLOCK);
        closed |= fuzz_client_read(fds[1], out, &out_len, 65536);
    }
    fuzz_check(closed && fg_httpserver_connections(srv) == 0);
    fuzz_check_replies(out, out_len);

    fg_httpserver_free(srv);
    for (i = 0; i < fc.pending_count; i++) {
        /* Property 3: each heard its reply or client_gone. */
        fuzz_check(fc.pending[i]->is_done || fc.pending[i]->is_gone);
        event_free(fc.pending[i]->ev);
        free(fc.pending[i]);
    }
    close(fds[1]);
    event_base_free(fc.base);
    free(out);
    return 0;
}
