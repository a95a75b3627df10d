/*
 * conn.c: client connections speaking HTTP/1.1 (see conn.h). The
 * invariants:
 *
 *   1) w->connections counts accepted sockets not yet closed; accept is
 *      paused while it is at limits.max_connections;
 *   2) one request at a time is served per connection; bytes of the next
 *      wait in conn->in, and replies go out in request order;
 *   3) only conn_close() frees a connection, never while one of our
 *      callbacks is using it (is_busy) and never inside a send: a failed
 *      write marks the connection dead and the timer event, made active,
 *      closes it on the next pass of the loop;
 *   4) the request being served hears exactly one of: its reply sent
 *      (it is detached), or fg_req_client_gone().
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common/base/alloc.h"
#include "common/base/errors.h"
#include "common/wire/fmt.h"
#include "common/base/log.h"
#include "worker/conn.h"
#include "worker/http.h"

/*
 * Reads land here first: a request that arrives whole is parsed and
 * served from it without a buffer of the connection's own, so an idle
 * kept-alive connection holds no input memory.
 */
#define CONN_READ_BYTES (64 * 1024)

/* Pipelined bytes read ahead while a request is served, at most. */
#define CONN_READ_AHEAD_BYTES (64 * 1024)

/* A closing connection reads what the client still sends this long. */
#define CONN_LINGER_MS 2000

static char conn_scratch[CONN_READ_BYTES];

static void conn_read_cb(evutil_socket_t fd, short what, void *arg);
static void conn_write_cb(evutil_socket_t fd, short what, void *arg);
static void conn_timer_cb(evutil_socket_t fd, short what, void *arg);
static void conn_close(fg_conn_t *conn);
static void conn_fail(fg_conn_t *conn);
static void conn_request_done(fg_conn_t *conn);
static void conn_arm_timer(fg_conn_t *conn);
static void conn_send(fg_conn_t *conn, struct iovec *iov, int iovcnt);

void
fg_conn_accept(fg_worker_t *w, int fd, const struct sockaddr *addr)
{
    fg_conn_t *conn;

    conn = fg_xcalloc(1, sizeof(*conn));
    conn->worker = w;
    conn->fd = fd;
    if (addr->sa_family == AF_INET) {
        inet_ntop(AF_INET,
                  &((const struct sockaddr_in *) (const void *) addr)->sin_addr,
                  conn->addr, sizeof(conn->addr));
    } else if (addr->sa_family == AF_INET6) {
        inet_ntop(AF_INET6,
                  &((const struct sockaddr_in6 *) (const void *) addr)
                      ->sin6_addr,
                  conn->addr, sizeof(conn->addr));
    }
    /* TCP_NODELAY comes with the socket: the master set it on the
     * listening socket (master/listen.c), and Linux copies it over. */
    event_assign(&conn->read_ev, w->base, fd, EV_READ | EV_PERSIST,
                 conn_read_cb, conn);
    event_assign(&conn->write_ev, w->base, fd, EV_WRITE, conn_write_cb, conn);
    evtimer_assign(&conn->timer_ev, w->base, conn_timer_cb, conn);
    event_add(&conn->read_ev, NULL);
    /* A connection that never sends a byte has a request's time. */
    conn->state = FG_CONN_RECEIVING;
    conn->receiving_since_ms = fg_worker_now_ms(conn->worker);
    conn_arm_timer(conn);

    conn->next = w->conn_list;
    if (w->conn_list != NULL) {
        w->conn_list->prev = conn;
    }
    w->conn_list = conn;
    w->connections++;
    atomic_store_explicit(&w->slot->ws_connections,
                          (uint64_t) w->connections, memory_order_relaxed);
    if (w->connections >= w->conf->max_connections) {
        fg_log(FG_LOG_WARN, 0, "%lld connections, the per-worker limit: "
               "accept paused", (long long) w->connections);
        fg_worker_set_accepting(w, 0);
    }
}

static struct timeval
conn_tv(int64_t ms)
{
    struct timeval tv;

    if (ms < 0) {
        ms = 0;
    }
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}

/* The one deadline that applies now, from the state and the output. */
static void
conn_arm_timer(fg_conn_t *conn)
{
    const fg_conf_t *c = conn->worker->conf;
    struct timeval   tv;

    if (conn->is_dead) {
        return;
    }
    if (conn->out != NULL && evbuffer_get_length(conn->out) > 0) {
        tv = conn_tv(c->send_timeout_ms);
    } else {
        switch (conn->state) {
        case FG_CONN_IDLE:
            tv = conn_tv(c->keepalive_timeout_ms);
            break;
        case FG_CONN_RECEIVING:
            tv = conn_tv(conn->receiving_since_ms + c->request_timeout_ms
                         - fg_worker_now_ms(conn->worker));
            break;
        case FG_CONN_CLOSING:
            tv = conn_tv(CONN_LINGER_MS);
            break;
        default:
            /* Waiting for the upstream: its own deadlines govern. */
            event_del(&conn->timer_ev);
            return;
        }
    }
    event_add(&conn->timer_ev, &tv);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    fg_conn_t *conn = arg;

    (void) fd;
    (void) what;
    if (!conn->is_dead) {
        if (conn->out != NULL && evbuffer_get_length(conn->out) > 0) {
            fg_log(FG_LOG_INFO, 0, "client %s took no reply bytes for "
                   "%lld ms, connection closed", conn->addr,
                   (long long) conn->worker->conf->send_timeout_ms);
        } else if (conn->state == FG_CONN_RECEIVING) {
            fg_log(FG_LOG_INFO, 0, "request not received within %lld ms, "
                   "connection closed",
                   (long long) conn->worker->conf->request_timeout_ms);
        }
    }
    conn_close(conn);
}

/* Ends the connection now, or as soon as our callback on it returns. */
static void
conn_close(fg_conn_t *conn)
{
    fg_worker_t *w = conn->worker;

    if (conn->is_busy) {
        conn_fail(conn);
        return;
    }
    if (conn->req != NULL) {
        fg_req_client_gone(conn->req);
        conn->req = NULL;
    }
    event_del(&conn->read_ev);
    event_del(&conn->write_ev);
    event_del(&conn->timer_ev);
    close(conn->fd);
    free(conn->in);
    if (conn->out != NULL) {
        evbuffer_free(conn->out);
    }
    if (conn->prev != NULL) {
        conn->prev->next = conn->next;
    } else {
        w->conn_list = conn->next;
    }
    if (conn->next != NULL) {
        conn->next->prev = conn->prev;
    }
    free(conn);

    w->connections--;
    atomic_store_explicit(&w->slot->ws_connections,
                          (uint64_t) w->connections, memory_order_relaxed);
    if (!w->is_accepting && !w->is_draining
        && w->connections < w->conf->max_connections) {
        fg_worker_set_accepting(w, 1);
    }
    fg_worker_maybe_exit(w);
}

/* Marks @conn for closing on the next pass of the loop (invariant 3). */
static void
conn_fail(fg_conn_t *conn)
{
    if (!conn->is_dead) {
        conn->is_dead = 1;
        event_del(&conn->read_ev);
        event_del(&conn->write_ev);
        event_del(&conn->timer_ev);
    }
    event_active(&conn->timer_ev, EV_TIMEOUT, 0);
}

/*
 * The reply is out and the connection is to close. When the client may
 * still be sending (a refused body, pipelined requests), closing with
 * unread bytes would reset the connection and could destroy the reply
 * in flight, so we stop writing and read until the client closes or
 * CONN_LINGER_MS passes (nginx's lingering close).
 */
static void
conn_end(fg_conn_t *conn)
{
    if (conn->state != FG_CONN_RECEIVING && conn->in_len == 0
        && !conn->has_unread) {
        conn_close(conn);
        return;
    }
    conn->state = FG_CONN_CLOSING;
    conn->in_len = 0;
    (void) shutdown(conn->fd, SHUT_WR);
    if (!event_pending(&conn->read_ev, EV_READ, NULL)) {
        event_add(&conn->read_ev, NULL);   /* read-ahead had filled up */
    }
    conn_arm_timer(conn);
}

/* Nothing of a request is here or on its way out: nothing to lose. */
static int
conn_is_quiet(const fg_conn_t *conn)
{
    return conn->req == NULL && conn->in_len == 0 && conn->head_len == 0
           && conn->scanned == 0 && fg_conn_backlog(conn) == 0
           && (conn->state == FG_CONN_IDLE
               || conn->state == FG_CONN_RECEIVING);
}

/* The output buffer emptied: what waited on it goes on. */
static void
conn_drained(fg_conn_t *conn)
{
    if (conn->close_after && conn->req == NULL) {
        conn_end(conn);   /* the last reply is out */
    } else if (conn->worker->close_idle && conn_is_quiet(conn)) {
        conn_close(conn);   /* SIGTERM came while this reply went out */
    } else if (conn->req != NULL && conn->is_streaming) {
        conn_arm_timer(conn);
        fg_req_client_drained(conn->req);
    } else {
        conn_arm_timer(conn);
    }
}

static void
conn_send(fg_conn_t *conn, struct iovec *iov, int iovcnt)
{
    ssize_t n = 0;
    int     i, was_empty = fg_conn_backlog(conn) == 0;

    if (conn->is_dead) {
        return;
    }
    if (was_empty) {
        do {
            n = writev(conn->fd, iov, iovcnt);
        } while (n < 0 && errno == EINTR);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            conn_fail(conn);
            return;
        }
        if (n < 0) {
            n = 0;
        }
    }
    for (i = 0; i < iovcnt; i++) {
        if ((size_t) n >= iov[i].iov_len) {
            n -= (ssize_t) iov[i].iov_len;
            continue;
        }
        if (conn->out == NULL) {
            conn->out = evbuffer_new();
        }
        evbuffer_add(conn->out, (char *) iov[i].iov_base + n,
                     iov[i].iov_len - (size_t) n);
        n = 0;
    }
    if (was_empty && fg_conn_backlog(conn) > 0) {
        /* The send deadline runs from here, restarted only by progress. */
        event_add(&conn->write_ev, NULL);
        conn_arm_timer(conn);
    }
}

static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
    fg_conn_t *conn = arg;
    int        n;

    (void) fd;
    (void) what;
    n = evbuffer_write(conn->out, conn->fd);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        conn_close(conn);
        return;
    }
    if (evbuffer_get_length(conn->out) > 0) {
        event_add(&conn->write_ev, NULL);
        if (n > 0) {
            conn_arm_timer(conn);   /* progress: the send deadline restarts */
        }
        return;
    }
    conn_drained(conn);
}

/* The Date header's value, formatted once a second. */
static const char *
conn_date(fg_conn_t *conn)
{
    static char   date[40];
    static time_t formatted_at = -1;
    struct timeval tv;
    struct tm      tm;

    event_base_gettimeofday_cached(conn->worker->base, &tv);
    if (tv.tv_sec != formatted_at) {
        gmtime_r(&tv.tv_sec, &tm);
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        formatted_at = tv.tv_sec;
    }
    return date;
}

/*
 * Writes the status line and the connection's own headers into @dst
 * (room for CONN_HEAD_OWN bytes plus @headers_len): Date, the framing
 * (Content-Length @length, or chunked when @length is -1), Connection.
 */
#define CONN_HEAD_OWN 192

static size_t
conn_head(fg_conn_t *conn, char *dst, int status, int64_t length,
          const char *headers, size_t headers_len)
{
    const char *reason = fg_req_reason(status);
    size_t      n = 0, rl = strlen(reason);

    memcpy(dst, "HTTP/1.1 ", 9);
    n = 9 + fg_fmt_i64(dst + 9, status);
    dst[n++] = ' ';
    memcpy(dst + n, reason, rl < 40 ? rl : 40);
    n += rl < 40 ? rl : 40;
    memcpy(dst + n, "\r\nDate: ", 8);
    n += 8;
    memcpy(dst + n, conn_date(conn), 29);
    n += 29;
    if (length >= 0) {
        memcpy(dst + n, "\r\nContent-Length: ", 18);
        n += 18;
        n += fg_fmt_i64(dst + n, length);
    } else if (conn->minor >= 1) {
        memcpy(dst + n, "\r\nTransfer-Encoding: chunked", 28);
        n += 28;
    } else {
        conn->close_after = 1;   /* HTTP/1.0: the end of data is the close */
    }
    if (conn->close_after) {
        memcpy(dst + n, "\r\nConnection: close", 19);
        n += 19;
    } else if (conn->minor == 0) {
        memcpy(dst + n, "\r\nConnection: keep-alive", 24);
        n += 24;
    }
    memcpy(dst + n, "\r\n", 2);
    n += 2;
    memcpy(dst + n, headers, headers_len);
    n += headers_len;
    memcpy(dst + n, "\r\n", 2);
    return n + 2;
}

static void
conn_decide_close(fg_conn_t *conn)
{
    if (!conn->keep_alive || conn->worker->is_draining) {
        conn->close_after = 1;
    }
}

void
fg_conn_reply(fg_conn_t *conn, int status, const char *headers,
              size_t headers_len, const char *body, size_t body_len)
{
    char         stack[4096];
    char        *head = stack;
    struct iovec iov[2];
    size_t       need = CONN_HEAD_OWN + headers_len;

    conn->req = NULL;
    conn_decide_close(conn);
    if (need > sizeof(stack)) {
        head = fg_xmalloc(need);
    }
    iov[0].iov_base = head;
    iov[0].iov_len = conn_head(conn, head, status, (int64_t) body_len,
                               headers, headers_len);
    iov[1].iov_base = (void *) body;
    iov[1].iov_len = conn->is_head ? 0 : body_len;
    conn_send(conn, iov, 2);
    if (head != stack) {
        free(head);
    }
    conn_request_done(conn);
}

void
fg_conn_stream_start(fg_conn_t *conn, int status, const char *headers,
                     size_t headers_len)
{
    char         stack[4096];
    char        *head = stack;
    struct iovec iov[1];
    size_t       need = CONN_HEAD_OWN + headers_len;

    conn_decide_close(conn);
    conn->is_streaming = 1;
    if (need > sizeof(stack)) {
        head = fg_xmalloc(need);
    }
    iov[0].iov_base = head;
    iov[0].iov_len = conn_head(conn, head, status, -1, headers, headers_len);
    conn_send(conn, iov, 1);
    if (head != stack) {
        free(head);
    }
}

void
fg_conn_stream_send(fg_conn_t *conn, struct evbuffer *data)
{
    struct evbuffer_iovec seg[8];
    struct iovec          iov[10];
    char                  size_line[24];
    size_t                len = evbuffer_get_length(data), n = 0;
    int                   i, segs, chunked = conn->minor >= 1;

    if (len == 0) {
        return;
    }
    segs = evbuffer_peek(data, -1, NULL, seg, 8);
    if (segs > 8) {
        evbuffer_pullup(data, -1);
        segs = evbuffer_peek(data, -1, NULL, seg, 8);
    }
    if (chunked) {
        static const char hex[] = "0123456789abcdef";
        char              digits[16];
        size_t            d = 0, v = len;

        do {
            digits[d++] = hex[v & 15];
            v >>= 4;
        } while (v != 0);
        while (d > 0) {
            size_line[n++] = digits[--d];
        }
        size_line[n++] = '\r';
        size_line[n++] = '\n';
        iov[0].iov_base = size_line;
        iov[0].iov_len = n;
    }
    for (i = 0; i < segs; i++) {
        iov[chunked + i].iov_base = seg[i].iov_base;
        iov[chunked + i].iov_len = seg[i].iov_len;
    }
    if (chunked) {
        iov[1 + segs].iov_base = (void *) "\r\n";
        iov[1 + segs].iov_len = 2;
    }
    conn_send(conn, iov, segs + 2 * chunked);
    evbuffer_drain(data, len);
}

void
fg_conn_stream_end(fg_conn_t *conn)
{
    struct iovec iov[1];

    conn->req = NULL;
    if (conn->minor >= 1) {
        iov[0].iov_base = (void *) "0\r\n\r\n";
        iov[0].iov_len = 5;
        conn_send(conn, iov, 1);
    }
    conn_request_done(conn);
}

size_t
fg_conn_backlog(const fg_conn_t *conn)
{
    return conn->out != NULL ? evbuffer_get_length(conn->out) : 0;
}

/*
 * The request on @conn is answered (its reply may still be on its way
 * out). The connection ends, or waits for the next request: if one is
 * already buffered, it is served on the next pass of the loop (or by
 * the processing loop we may be inside).
 */
static void
conn_request_done(fg_conn_t *conn)
{
    conn->is_streaming = 0;
    conn->is_head = 0;
    if (conn->is_dead) {
        return;
    }
    if (conn->close_after) {
        if (fg_conn_backlog(conn) == 0) {
            conn->state = FG_CONN_IDLE;
            conn_end(conn);
        }
        /* else conn_drained() ends it */
        return;
    }
    conn->state = FG_CONN_IDLE;
    conn_arm_timer(conn);
    if (conn->in_len > 0 && !conn->is_busy) {
        event_active(&conn->read_ev, EV_TIMEOUT, 0);
    }
    if (!event_pending(&conn->read_ev, EV_READ, NULL)) {
        event_add(&conn->read_ev, NULL);   /* read-ahead had filled up */
    }
}

/* Refuses the request being received with @status, then closes. */
static void
conn_refuse(fg_conn_t *conn, int status)
{
    fg_err_t err;

    switch (status) {
    case 413:
        fg_err_set(&err, FG_E_BODY_TOO_LARGE, NULL, "the request body is "
                   "larger than the %lld bytes allowed",
                   (long long) conn->worker->conf->max_body_bytes);
        break;
    case 431:
        fg_err_set(&err, FG_E_HEADERS_TOO_LARGE, NULL, "the request line "
                   "and headers are larger than the %lld bytes allowed, or "
                   "more than %d header fields",
                   (long long) conn->worker->conf->max_header_bytes,
                   FG_HTTP_MAX_HEADERS);
        break;
    case 501:
        fg_err_set(&err, FG_E_NOT_IMPLEMENTED, NULL, "the only transfer "
                   "coding accepted is chunked");
        break;
    case 505:
        fg_err_set(&err, FG_E_HTTP_VERSION, NULL, "HTTP/1.0 and HTTP/1.1 "
                   "are the versions spoken here");
        break;
    default:
        fg_err_set(&err, FG_E_MALFORMED_HTTP, NULL, "the request is not "
                   "well-formed HTTP/1.1");
        break;
    }
    conn->keep_alive = 0;
    conn->is_head = 0;
    if (conn->minor < 0 || conn->minor > 1) {
        conn->minor = 1;
    }
    /* The reply says Connection: close; the bytes the client may still
     * be sending are read out before the close (conn_end). */
    conn->close_after = 1;
    conn->has_unread = 1;
    conn->state = FG_CONN_ACTIVE;
    fg_http_refuse(conn, &err);
}

/*
 * The head of the request being received. One request is parsed and
 * dispatched at a time in the process, so one head serves them all; it
 * is valid from a parse until the next.
 */
static fg_http_head_t conn_head_parsed;

/* The request that starts at @p is whole: serve it. @is_parsed says
 * conn_head_parsed is its head (else the body came after the head, and
 * another connection's request may have been parsed since). */
static void
conn_serve(fg_conn_t *conn, char *p, char *body, size_t body_len,
           int is_parsed)
{
    fg_http_head_t *head = &conn_head_parsed;

    if (!is_parsed && fg_http_parse_head(p, conn->head_len, head) != 0) {
        conn_refuse(conn, 400);   /* cannot be: it parsed before */
        return;
    }
    fg_http_head_terminate(head, p);
    conn->state = FG_CONN_ACTIVE;
    conn->keep_alive = head->keep_alive;
    conn->is_head = head->method == FG_HTTP_HEAD;
    conn->minor = head->minor;
    conn->head_len = 0;
    conn->scanned = 0;
    conn->sent_continue = 0;
    conn_arm_timer(conn);
    fg_http_request(conn, head, body, body_len);
}

/*
 * How much of @p (the start of a request, @n bytes) the request takes
 * once it is whole, 0 while it is not; on a refusal, conn_refuse() has
 * been called and the result is 0 with the state CLOSING or dead.
 */
static size_t
conn_take_request(fg_conn_t *conn, char *p, size_t n)
{
    const fg_conf_t *c = conn->worker->conf;
    fg_http_head_t  *head = &conn_head_parsed;
    size_t           total, max_head = (size_t) c->max_header_bytes;
    int              rc, is_parsed = 0;

    if (conn->head_len == 0) {
        size_t hl = fg_http_head_end(p, n < max_head + 1 ? n : max_head + 1,
                                     &conn->scanned);

        if (hl == 0) {
            if (n > max_head) {
                conn_refuse(conn, 431);
            }
            return 0;
        }
        rc = fg_http_parse_head(p, hl, head);
        if (rc != 0) {
            conn->minor = 1;
            conn_refuse(conn, rc);
            return 0;
        }
        is_parsed = 1;
        conn->minor = head->minor;
        if (head->content_length > c->max_body_bytes) {
            conn_refuse(conn, 413);
            return 0;
        }
        conn->head_len = hl;
        conn->content_length = head->content_length;
        conn->is_chunked = head->is_chunked;
        memset(&conn->chunked, 0, sizeof(conn->chunked));
        conn->chunk_in = conn->chunk_out = hl;
        if (head->expect_continue && !conn->sent_continue
            && (head->is_chunked
                || n < hl + (size_t) (head->content_length > 0
                                      ? head->content_length : 0))) {
            struct iovec iov = { (void *) "HTTP/1.1 100 Continue\r\n\r\n",
                                 25 };

            conn->sent_continue = 1;
            conn_send(conn, &iov, 1);
            if (conn->is_dead) {
                return 0;   /* the client is gone: serve nothing */
            }
        }
    }
    if (conn->is_chunked) {
        rc = fg_http_chunked_decode(&conn->chunked, p, n, &conn->chunk_in,
                                    &conn->chunk_out,
                                    (size_t) c->max_body_bytes, max_head);
        if (rc == 0) {
            return 0;
        }
        if (rc != 1) {
            conn_refuse(conn, rc);
            return 0;
        }
        total = conn->chunk_in;
        conn_serve(conn, p, p + conn->head_len,
                   conn->chunk_out - conn->head_len, is_parsed);
        return total;
    }
    total = conn->head_len + (size_t) (conn->content_length > 0
                                       ? conn->content_length : 0);
    if (n < total) {
        return 0;
    }
    conn_serve(conn, p, p + conn->head_len, total - conn->head_len,
               is_parsed);
    return total;
}

/*
 * Serves the requests in @buf (@len bytes, either the scratch or
 * conn->in) one after the other while the connection is free; what is
 * left over (a partial request, or requests behind one still served)
 * stays in conn->in.
 */
static void
conn_input(fg_conn_t *conn, char *buf, size_t len)
{
    size_t off = 0, took;

    while (off < len && !conn->is_dead && !conn->close_after
           && conn->state != FG_CONN_ACTIVE
           && conn->state != FG_CONN_CLOSING) {
        if (conn->head_len == 0 && conn->scanned == 0) {
            /* Empty lines before a request are ignored (RFC 9112 2.2). */
            while (off < len && (buf[off] == '\r' || buf[off] == '\n')) {
                off++;
            }
            if (off == len) {
                break;
            }
        }
        if (conn->state == FG_CONN_IDLE) {
            conn->state = FG_CONN_RECEIVING;
            conn->receiving_since_ms = fg_worker_now_ms(conn->worker);
        }
        took = conn_take_request(conn, buf + off, len - off);
        if (took == 0) {
            if (conn->state == FG_CONN_RECEIVING && !conn->is_dead) {
                conn_arm_timer(conn);   /* the request deadline */
            }
            break;
        }
        off += took;
    }
    if (conn->is_dead || conn->close_after
        || conn->state == FG_CONN_CLOSING) {
        /* Nothing more is served here; only whether bytes were left
         * unread matters now (conn_end). */
        conn->has_unread |= off < len;
        conn->in_len = 0;
        return;
    }
    if (buf == conn->in) {
        memmove(conn->in, conn->in + off, len - off);
        conn->in_len = len - off;
        if (conn->in_len == 0) {
            /* Served: an idle connection holds no input memory, however
             * large its last request was. */
            free(conn->in);
            conn->in = NULL;
            conn->in_cap = 0;
        }
    } else if (off < len) {
        if (conn->in_cap < len - off) {
            conn->in_cap = len - off < 4096 ? 4096 : len - off;
            free(conn->in);
            conn->in = fg_xmalloc(conn->in_cap);
        }
        memcpy(conn->in, buf + off, len - off);
        conn->in_len = len - off;
    }
    if (conn->head_len > 0 && conn->is_chunked
        && conn->chunk_in > conn->chunk_out) {
        /* The framing already decoded is dropped, so a body in many small
         * chunks needs no more room than its data. */
        memmove(conn->in + conn->chunk_out, conn->in + conn->chunk_in,
                conn->in_len - conn->chunk_in);
        conn->in_len -= conn->chunk_in - conn->chunk_out;
        conn->chunk_in = conn->chunk_out;
    }
}

/* Makes room in conn->in for one more read; 0 when it may not grow. */
static size_t
conn_in_room(fg_conn_t *conn)
{
    const fg_conf_t *c = conn->worker->conf;
    size_t           limit;

    limit = conn->state == FG_CONN_ACTIVE
            ? CONN_READ_AHEAD_BYTES
            : (size_t) (c->max_header_bytes + c->max_body_bytes)
              + CONN_READ_BYTES;
    if (conn->in_cap - conn->in_len < 4096 && conn->in_cap < limit) {
        size_t cap = conn->in_cap * 2;

        if (cap < conn->in_len + 16384) {
            cap = conn->in_len + 16384;
        }
        if (cap > limit) {
            cap = limit;
        }
        conn->in = fg_xrealloc(conn->in, cap);
        conn->in_cap = cap;
    }
    return conn->in_cap - conn->in_len;
}

static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
    fg_conn_t *conn = arg;
    char      *dst;
    size_t     room;
    ssize_t    n;

    (void) fd;
    if (conn->is_dead) {
        return;
    }
    conn->is_busy = 1;
    if (!(what & EV_READ)) {
        /* Made active by conn_request_done(): serve what is buffered. */
        conn_input(conn, conn->in, conn->in_len);
        goto out;
    }
    if (conn->state == FG_CONN_CLOSING) {
        n = read(conn->fd, conn_scratch, sizeof(conn_scratch));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            conn_fail(conn);
        }
        goto out;
    }
    if (conn->in_len == 0) {
        dst = conn_scratch;
        room = sizeof(conn_scratch);
    } else {
        room = conn_in_room(conn);
        if (room == 0) {
            /* Read-ahead is full: the rest waits in the kernel until the
             * request being served is answered. */
            event_del(&conn->read_ev);
            goto out;
        }
        dst = conn->in + conn->in_len;
    }
    do {
        n = read(conn->fd, dst, room);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            goto out;
        }
        conn_fail(conn);   /* EOF or error: a waiting request hears it */
        goto out;
    }
    if (dst == conn_scratch) {
        conn_input(conn, conn_scratch, (size_t) n);
    } else {
        conn->in_len += (size_t) n;
        if (conn->state != FG_CONN_ACTIVE) {
            conn_input(conn, conn->in, conn->in_len);
        }
    }
out:
    conn->is_busy = 0;
    if (conn->is_dead) {
        conn_close(conn);
    }
}

void
fg_conn_close_idle(fg_worker_t *w)
{
    fg_conn_t *conn, *next;

    /* A request partly received, buffered or being answered is let
     * finish (its reply closes the connection: the worker is draining);
     * lingering connections end on their own within CONN_LINGER_MS. */
    for (conn = w->conn_list; conn != NULL; conn = next) {
        next = conn->next;
        if (conn_is_quiet(conn)) {
            conn_close(conn);
        }
    }
}

void
fg_conn_close_all(fg_worker_t *w)
{
    while (w->conn_list != NULL) {
        w->conn_list->is_busy = 0;
        conn_close(w->conn_list);
    }
}
