/*
 * httpserver.c: HTTP/1.1 connections on a libevent base (see
 * httpserver.h). The invariants:
 *
 *   1) srv->connections counts accepted sockets not yet closed; accept is
 *      paused while it is at limits.max_connections;
 *   2) one request at a time is served per connection; bytes of the next
 *      wait in conn->in, and replies go out in request order;
 *   3) only conn_close() frees a connection, never while one of our
 *      callbacks is using it (is_busy) and never inside a send: a failed
 *      write marks the connection dead and the timer event, made active,
 *      closes it on the next pass of the loop;
 *   4) the context attached to the request being served hears exactly
 *      one of: its reply sent (it is detached), or client_gone;
 *   5) a connection whose unsent output is over
 *      FG_HTTPSERVER_MAX_UNSENT_BYTES serves and reads nothing more until
 *      its client takes some (the read event is off, is_read_paused);
 *   6) srv->body_reserved is the sum of its connections' body_reserved,
 *      never over limits.body_budget_bytes (when set): a connection
 *      receiving a body reserves what its buffer may grow to before it
 *      grows, and gives it back once the request is served or refused.
 *
 * A request is read with one read(2) into a scratch buffer when it fits,
 * and served from there: an idle kept-alive connection holds no input
 * memory. One request is parsed and dispatched at a time in the process,
 * so the scratch buffer and the parsed head are shared by every server.
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

#include <event2/event_struct.h>

#include "common/base/alloc.h"
#include "common/base/log.h"
#include "common/wire/fmt.h"
#include "common/wire/httpserver.h"
#include "common/wire/proxyproto.h"
#include "common/wire/retry_after.h"

/* Reads land here first (see the file comment). */
#define CONN_READ_BYTES (64 * 1024)

/* Pipelined bytes read ahead while a request is served, at most. */
#define CONN_READ_AHEAD_BYTES (64 * 1024)

/* A closing connection reads what the client still sends this long. */
#define CONN_LINGER_MS 2000

/* After accept fails for want of descriptors or memory, wait this long. */
#define SERVER_ACCEPT_RETRY_MS 100

/* The body of the 503 a connection on a reserved descriptor gets. */
#define SHORTAGE_BODY \
    "{\"error\":{\"message\":\"the gateway is out of connections; " \
    "retry in a second\",\"type\":\"api_error\",\"param\":null," \
    "\"code\":\"service_unavailable\"}}"

typedef enum {
    CONN_IDLE = 0,          /* between requests */
    CONN_RECEIVING,         /* part of a request is in */
    CONN_ACTIVE,            /* a request is being served */
    CONN_CLOSING            /* reply sent; reading out what is left */
} conn_state_t;

struct fg_httpconn_s {
    fg_httpserver_t    *srv;
    int                 fd;
    conn_state_t        state;
    void               *req;             /* attached to the request served */
    struct event        read_ev;         /* always on until closing */
    struct event        write_ev;        /* on while output waits */
    struct event        timer_ev;        /* the one deadline in force */
    char                addr[FG_HTTPCONN_PEER_MAX];   /* the peer */
    struct sockaddr_storage peer;        /* the same, or AF_UNSPEC */

    /* input: bytes of requests not yet served (NULL while none) */
    char               *in;
    size_t              in_len;
    size_t              in_cap;
    size_t              scanned;         /* fg_http_head_end's resume */
    size_t              head_len;        /* 0: head not complete */
    int64_t             content_length;
    int                 is_chunked;
    fg_http_chunked_t   chunked;
    size_t              chunk_in;        /* offsets from the request start */
    size_t              chunk_out;
    int                 sent_continue;
    int64_t             receiving_since_ms;
    int64_t             body_reserved;   /* of srv->limits.body_budget_bytes */

    /* the request being served */
    int                 keep_alive;      /* the client allows another */
    int                 is_head;         /* HEAD: the reply has no body */
    int                 is_streaming;
    int                 minor;           /* HTTP/1.<minor> */

    /* output not yet taken by the kernel (NULL while none) */
    struct evbuffer    *out;
    int64_t             sent_at_ms;      /* output began waiting, or last
                                          * moved: the send deadline's start */
    int                 is_read_paused;  /* FG_HTTPSERVER_MAX_UNSENT_BYTES */
    int                 close_after;     /* close once the output is out */
    int                 has_unread;      /* bytes we will never serve */
    int                 is_busy;         /* inside our own callback */
    int                 is_dead;         /* closed as soon as possible */
    int                 is_admitted;     /* closed() is owed */
    uint64_t            admit_tag;       /* admit()'s, for closed() */
    fg_httpconn_t      *prev, *next;
};

struct fg_httpserver_s {
    struct event_base       *base;
    fg_httpserver_limits_t   limits;
    fg_httpserver_handler_t  handler;
    void                    *arg;
    struct event            *listen_evs[FG_HTTPSERVER_MAX_LISTENERS];
    int                      listen_fds[FG_HTTPSERVER_MAX_LISTENERS];
    int                      listener_count;
    int                      is_accepting;
    int                      is_draining;   /* replies say close */
    int                      close_idle;    /* and idle ones close */
    struct event            *accept_retry_ev;
    fg_httpconn_t           *conns;
    int64_t                  connections;
    int64_t                  body_reserved;   /* the conns' body_reserved */
};

static char server_scratch[CONN_READ_BYTES];

static void conn_read_cb(evutil_socket_t fd, short what, void *arg);
static void conn_proxy_read_cb(evutil_socket_t fd, short what, void *arg);
static void conn_write_cb(evutil_socket_t fd, short what, void *arg);
static void conn_timer_cb(evutil_socket_t fd, short what, void *arg);
static void conn_close(fg_httpconn_t *conn);
static void conn_fail(fg_httpconn_t *conn);
static void conn_request_done(fg_httpconn_t *conn);
static void conn_arm_timer(fg_httpconn_t *conn);
static void conn_send(fg_httpconn_t *conn, struct iovec *iov, int iovcnt);
static void conn_budget_release(fg_httpconn_t *conn);
static void conn_refuse(fg_httpconn_t *conn, int status);

/* Wall-clock ms as of this pass of the loop (no system call). */
static int64_t
server_now_ms(fg_httpserver_t *srv)
{
    struct timeval tv;

    event_base_gettimeofday_cached(srv->base, &tv);
    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void
server_count_changed(fg_httpserver_t *srv)
{
    if (srv->handler.count_changed != NULL) {
        srv->handler.count_changed(srv->arg, srv->connections);
    }
}

/* Pauses or resumes accepting on every listening socket. */
static void
server_set_accepting(fg_httpserver_t *srv, int on)
{
    int i;

    if (srv->is_accepting == on) {
        return;
    }
    for (i = 0; i < srv->listener_count; i++) {
        if (srv->listen_evs[i] == NULL) {
            continue;
        }
        if (on) {
            event_add(srv->listen_evs[i], NULL);
        } else {
            event_del(srv->listen_evs[i]);
        }
    }
    srv->is_accepting = on;
}

static void
server_accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    fg_httpserver_t *srv = arg;

    (void) fd;
    (void) what;
    if (!srv->is_draining
        && srv->connections < srv->limits.max_connections) {
        server_set_accepting(srv, 1);
    }
}

/* Stops accepting for SERVER_ACCEPT_RETRY_MS: what is waiting stays in
 * the backlog rather than spin on a socket that stays readable. */
static void
server_pause_accepting(fg_httpserver_t *srv)
{
    struct timeval retry = { 0, SERVER_ACCEPT_RETRY_MS * 1000 };

    server_set_accepting(srv, 0);
    evtimer_add(srv->accept_retry_ev, &retry);
}

/*
 * @fd was accepted on a descriptor kept for others: a short 503 if the
 * socket takes it now, closed at once (no lingering read, which would
 * hold the descriptor), and a pause. Descriptors are handed out lowest
 * first, so every one below @fd is in use.
 */
static void
server_refuse_shortage(fg_httpserver_t *srv, int fd)
{
    static const char reply[] =
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/json\r\n"
        FG_RETRY_AFTER_1S_LINES
        "Connection: close\r\n"
        "Content-Length: 137\r\n"
        "\r\n" SHORTAGE_BODY;
    _Static_assert(sizeof(SHORTAGE_BODY) - 1 == 137,
                   "Content-Length is the body's");
    ssize_t n;

    n = send(fd, reply, sizeof(reply) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void) n;
    close(fd);
    fg_log(FG_LOG_ERROR, 0, "%s listener: descriptor %d is at or above "
           "%lld, kept for upstream connections: refused; accepting again "
           "in %d ms",
           srv->limits.name, fd, (long long) srv->limits.fd_ceiling,
           SERVER_ACCEPT_RETRY_MS);
    server_pause_accepting(srv);
}

/* A listening socket is readable: one connection per wake-up, so that
 * processes sharing the socket share a burst of connections. */
static void
server_accept_cb(evutil_socket_t fd, short what, void *arg)
{
    fg_httpserver_t        *srv = arg;
    struct sockaddr_storage addr;
    socklen_t               len = sizeof(addr);
    int                     cfd;

    (void) what;
    if (srv->handler.may_accept != NULL
        && !srv->handler.may_accept(srv->arg)) {
        return;   /* still readable: asked again on the next pass */
    }
    memset(&addr, 0, sizeof(addr));
    cfd = accept4(fd, (struct sockaddr *) &addr, &len,
                  SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS
            || errno == ENOMEM) {
            fg_log(FG_LOG_ERROR, errno, "%s listener: accept failed; "
                   "accepting again in %d ms", srv->limits.name,
                   SERVER_ACCEPT_RETRY_MS);
            server_pause_accepting(srv);
        }
        return;   /* EAGAIN: another process took it; ECONNABORTED */
    }
    if (srv->limits.fd_ceiling > 0 && cfd >= srv->limits.fd_ceiling) {
        server_refuse_shortage(srv, cfd);
        return;
    }
    fg_httpserver_adopt(srv, cfd, (struct sockaddr *) &addr);
}

fg_httpserver_t *
fg_httpserver_new(struct event_base *base,
                  const fg_httpserver_limits_t *limits,
                  const fg_httpserver_handler_t *handler, void *arg)
{
    fg_httpserver_t *srv = fg_xcalloc(1, sizeof(*srv));

    srv->base = base;
    srv->limits = *limits;
    if (srv->limits.name == NULL) {
        srv->limits.name = "http";
    }
    srv->handler = *handler;
    srv->arg = arg;
    srv->is_accepting = 1;
    srv->accept_retry_ev = evtimer_new(base, server_accept_retry_cb, srv);
    if (srv->accept_retry_ev == NULL) {
        fg_log(FG_LOG_ERROR, 0, "evtimer_new failed: out of memory");
        abort();
    }
    return srv;
}

int
fg_httpserver_listen(fg_httpserver_t *srv, int fd, fg_err_t *err)
{
    struct event *ev;

    if (srv->listener_count == FG_HTTPSERVER_MAX_LISTENERS) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "%s listener: more "
                          "than %d sockets", srv->limits.name,
                          FG_HTTPSERVER_MAX_LISTENERS);
    }
    ev = event_new(srv->base, fd, EV_READ | EV_PERSIST, server_accept_cb,
                   srv);
    if (ev == NULL || (srv->is_accepting && event_add(ev, NULL) != 0)) {
        if (ev != NULL) {
            event_free(ev);
        }
        return fg_err_set(err, FG_E_INTERNAL, NULL, "%s listener: cannot "
                          "watch listening socket %d", srv->limits.name, fd);
    }
    srv->listen_evs[srv->listener_count] = ev;
    srv->listen_fds[srv->listener_count] = fd;
    srv->listener_count++;
    return FG_OK;
}

/* @conn's address is @addr, as text too. */
static void
conn_set_peer(fg_httpconn_t *conn, const struct sockaddr *addr)
{
    memset(conn->addr, 0, sizeof(conn->addr));
    memset(&conn->peer, 0, sizeof(conn->peer));
    if (addr->sa_family == AF_INET) {
        memcpy(&conn->peer, addr, sizeof(struct sockaddr_in));
        inet_ntop(AF_INET,
                  &((const struct sockaddr_in *) (const void *) addr)
                      ->sin_addr,
                  conn->addr, sizeof(conn->addr));
    } else if (addr->sa_family == AF_INET6) {
        memcpy(&conn->peer, addr, sizeof(struct sockaddr_in6));
        inet_ntop(AF_INET6,
                  &((const struct sockaddr_in6 *) (const void *) addr)
                      ->sin6_addr,
                  conn->addr, sizeof(conn->addr));
    } else if (addr->sa_family == AF_UNIX) {
        memcpy(conn->addr, "unix", 5);
    }
}

/*
 * Asks the owner whether to serve @conn, just adopted; a refusal is
 * answered at once like a protocol error (conn_refuse), before any byte
 * of a request is read: the reply says Connection: close and the
 * connection closes after a lingering read.
 */
static void
conn_admit(fg_httpconn_t *conn, const struct sockaddr *addr)
{
    static const char retry[] = FG_RETRY_AFTER_1S_LINES;
    fg_httpserver_t  *srv = conn->srv;
    fg_err_t          err;

    if (srv->handler.admit(srv->arg, conn->fd, addr, &conn->admit_tag, &err)
        == FG_OK) {
        conn->is_admitted = 1;
        return;
    }
    conn->keep_alive = 0;
    conn->is_head = 0;
    conn->minor = 1;
    conn->close_after = 1;
    conn->has_unread = 1;
    conn->state = CONN_ACTIVE;
    fg_httpconn_reply_error(conn, &err, retry, sizeof(retry) - 1);
}

void
fg_httpserver_adopt(fg_httpserver_t *srv, int fd, const struct sockaddr *addr)
{
    fg_httpconn_t *conn;

    conn = fg_xcalloc(1, sizeof(*conn));
    conn->srv = srv;
    conn->fd = fd;
    conn_set_peer(conn, addr);
    /* TCP_NODELAY comes with the socket when the listening socket has it
     * (master/listen.c sets it): Linux copies it over on accept. */
    event_assign(&conn->read_ev, srv->base, fd, EV_READ | EV_PERSIST,
                 srv->limits.proxy_protocol ? conn_proxy_read_cb
                                            : conn_read_cb, conn);
    event_assign(&conn->write_ev, srv->base, fd, EV_WRITE, conn_write_cb,
                 conn);
    evtimer_assign(&conn->timer_ev, srv->base, conn_timer_cb, conn);
    event_add(&conn->read_ev, NULL);
    /* A connection that never sends a byte has a request head's time. */
    conn->state = CONN_RECEIVING;
    conn->receiving_since_ms = server_now_ms(srv);
    conn_arm_timer(conn);

    conn->next = srv->conns;
    if (srv->conns != NULL) {
        srv->conns->prev = conn;
    }
    srv->conns = conn;
    srv->connections++;
    server_count_changed(srv);
    if (srv->connections >= srv->limits.max_connections
        && srv->is_accepting) {
        fg_log(FG_LOG_WARN, 0, "%s listener: %lld connections, its limit: "
               "accept paused", srv->limits.name,
               (long long) srv->connections);
        server_set_accepting(srv, 0);
    }
    if (srv->handler.admit != NULL && !srv->limits.proxy_protocol) {
        conn_admit(conn, addr);
    }
}

/*
 * The PROXY header that starts a connection on a proxy_protocol listener
 * (while it is read, the connection is RECEIVING under the head's
 * deadline). It is peeked at and then read exactly, so the request after
 * it is read by conn_read_cb as on any connection.
 */
static void
conn_proxy_read_cb(evutil_socket_t fd, short what, void *arg)
{
    fg_httpconn_t   *conn = arg;
    fg_httpserver_t *srv = conn->srv;
    char             buf[FG_PROXYPROTO_MAX_BYTES];
    fg_proxyproto_t  pp;
    ssize_t          n;
    int              len;

    (void) what;
    do {
        n = recv(fd, buf, sizeof(buf), MSG_PEEK);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
    }
    if (n <= 0) {
        conn_close(conn);
        return;
    }
    len = fg_proxyproto_parse(buf, (size_t) n, &pp);
    if (len == 0 && (size_t) n < sizeof(buf)) {
        return;   /* the rest is on its way */
    }
    if (len <= 0) {
        fg_log(FG_LOG_INFO, 0, "%s listener: %s sent no valid PROXY "
               "protocol header; closed", srv->limits.name, conn->addr);
        conn_close(conn);
        return;
    }
    do {
        n = recv(fd, buf, (size_t) len, 0);
    } while (n < 0 && errno == EINTR);
    if (n != len) {
        conn_close(conn);
        return;
    }
    if (pp.has_source && srv->limits.trusted != NULL
        && fg_cidr_match(srv->limits.trusted,
                         (const struct sockaddr *) &conn->peer)) {
        conn_set_peer(conn, (const struct sockaddr *) &pp.source);
    }
    event_del(&conn->read_ev);
    event_assign(&conn->read_ev, srv->base, fd, EV_READ | EV_PERSIST,
                 conn_read_cb, conn);
    event_add(&conn->read_ev, NULL);
    if (srv->handler.admit != NULL) {
        conn_admit(conn, (const struct sockaddr *) &conn->peer);
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
conn_arm_timer(fg_httpconn_t *conn)
{
    const fg_httpserver_limits_t *l = &conn->srv->limits;
    struct timeval                tv;

    if (conn->is_dead) {
        return;
    }
    if (conn->out != NULL && evbuffer_get_length(conn->out) > 0) {
        /* Only progress moves this deadline (conn_send, conn_write_cb):
         * serving another request does not. */
        tv = conn_tv(conn->sent_at_ms + l->send_timeout_ms
                     - server_now_ms(conn->srv));
    } else {
        switch (conn->state) {
        case CONN_IDLE:
            tv = conn_tv(l->keepalive_timeout_ms);
            break;
        case CONN_RECEIVING:
            tv = conn_tv(conn->receiving_since_ms
                         + (conn->head_len == 0 ? l->header_timeout_ms
                                                : l->body_timeout_ms)
                         - server_now_ms(conn->srv));
            break;
        case CONN_CLOSING:
            tv = conn_tv(CONN_LINGER_MS);
            break;
        default:
            /* A request is being served: its handler's deadlines
             * govern (the worker's upstream timeouts). */
            event_del(&conn->timer_ev);
            return;
        }
    }
    event_add(&conn->timer_ev, &tv);
}

/* Whether the client has left more reply bytes untaken than a
 * connection may hold (invariant 5). */
static int
conn_output_full(const fg_httpconn_t *conn)
{
    return fg_httpconn_backlog(conn) > FG_HTTPSERVER_MAX_UNSENT_BYTES;
}

static void
conn_pause_reading(fg_httpconn_t *conn)
{
    conn->is_read_paused = 1;
    event_del(&conn->read_ev);
}

/* The client took enough output: read again, and serve what waits. */
static void
conn_resume_reading(fg_httpconn_t *conn)
{
    conn->is_read_paused = 0;
    if (conn->is_dead || conn->state == CONN_CLOSING) {
        return;
    }
    if (!event_pending(&conn->read_ev, EV_READ, NULL)) {
        event_add(&conn->read_ev, NULL);
    }
    if (conn->in_len > 0 && conn->state != CONN_ACTIVE) {
        event_active(&conn->read_ev, EV_TIMEOUT, 0);
    }
}

/*
 * Lets the body buffer of @conn grow to @bytes within the server's body
 * budget (invariant 6). Returns 1, or 0 when the budget has no room.
 */
static int
conn_budget_reserve(fg_httpconn_t *conn, int64_t bytes)
{
    fg_httpserver_t *srv = conn->srv;
    int64_t          budget = srv->limits.body_budget_bytes;

    if (budget <= 0 || bytes <= conn->body_reserved) {
        return 1;
    }
    if (srv->body_reserved - conn->body_reserved + bytes > budget) {
        return 0;
    }
    srv->body_reserved += bytes - conn->body_reserved;
    conn->body_reserved = bytes;
    return 1;
}

static void
conn_budget_release(fg_httpconn_t *conn)
{
    conn->srv->body_reserved -= conn->body_reserved;
    conn->body_reserved = 0;
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    fg_httpconn_t                *conn = arg;
    const fg_httpserver_limits_t *l = &conn->srv->limits;

    (void) fd;
    (void) what;
    if (!conn->is_dead) {
        if (conn->out != NULL && evbuffer_get_length(conn->out) > 0) {
            fg_log(FG_LOG_INFO, 0, "%s listener: client %s took no reply "
                   "bytes for %lld ms, connection closed", l->name,
                   conn->addr, (long long) l->send_timeout_ms);
        } else if (conn->state == CONN_RECEIVING) {
            fg_log(FG_LOG_INFO, 0, "%s listener: request %s not received "
                   "within %lld ms, connection closed", l->name,
                   conn->head_len == 0 ? "head" : "body",
                   (long long) (conn->head_len == 0 ? l->header_timeout_ms
                                                    : l->body_timeout_ms));
        }
    }
    conn_close(conn);
}

/* Ends the connection now, or as soon as our callback on it returns. */
static void
conn_close(fg_httpconn_t *conn)
{
    fg_httpserver_t *srv = conn->srv;
    void            *req = conn->req;

    if (conn->is_busy) {
        conn_fail(conn);
        return;
    }
    conn->req = NULL;
    if (req != NULL && srv->handler.client_gone != NULL) {
        srv->handler.client_gone(req);
    }
    event_del(&conn->read_ev);
    event_del(&conn->write_ev);
    event_del(&conn->timer_ev);
    conn_budget_release(conn);
    /* Given back before the client can see the close and come again. */
    if (conn->is_admitted && srv->handler.closed != NULL) {
        srv->handler.closed(srv->arg, conn->admit_tag);
    }
    close(conn->fd);
    free(conn->in);
    if (conn->out != NULL) {
        evbuffer_free(conn->out);
    }
    if (conn->prev != NULL) {
        conn->prev->next = conn->next;
    } else {
        srv->conns = conn->next;
    }
    if (conn->next != NULL) {
        conn->next->prev = conn->prev;
    }
    free(conn);

    srv->connections--;
    if (!srv->is_accepting && !srv->is_draining
        && srv->connections < srv->limits.max_connections
        && !evtimer_pending(srv->accept_retry_ev, NULL)) {
        server_set_accepting(srv, 1);
    }
    server_count_changed(srv);
}

/* Marks @conn for closing on the next pass of the loop (invariant 3). */
static void
conn_fail(fg_httpconn_t *conn)
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
conn_end(fg_httpconn_t *conn)
{
    if (conn->state != CONN_RECEIVING && conn->in_len == 0
        && !conn->has_unread) {
        conn_close(conn);
        return;
    }
    conn->state = CONN_CLOSING;
    conn->in_len = 0;
    (void) shutdown(conn->fd, SHUT_WR);
    if (!event_pending(&conn->read_ev, EV_READ, NULL)) {
        event_add(&conn->read_ev, NULL);   /* read-ahead had filled up */
    }
    conn_arm_timer(conn);
}

/* Nothing of a request is here or on its way out: nothing to lose. */
static int
conn_is_quiet(const fg_httpconn_t *conn)
{
    return conn->req == NULL && conn->in_len == 0 && conn->head_len == 0
           && conn->scanned == 0 && fg_httpconn_backlog(conn) == 0
           && (conn->state == CONN_IDLE
               || conn->state == CONN_RECEIVING);
}

/* The output buffer emptied: what waited on it goes on. */
static void
conn_drained(fg_httpconn_t *conn)
{
    if (conn->close_after && conn->req == NULL) {
        conn_end(conn);   /* the last reply is out */
    } else if (conn->srv->close_idle && conn_is_quiet(conn)) {
        conn_close(conn);   /* the drain came while this reply went out */
    } else if (conn->req != NULL && conn->is_streaming) {
        conn_arm_timer(conn);
        if (conn->srv->handler.client_drained != NULL) {
            conn->srv->handler.client_drained(conn->req);
        }
    } else {
        conn_arm_timer(conn);
    }
}

static void
conn_send(fg_httpconn_t *conn, struct iovec *iov, int iovcnt)
{
    ssize_t n = 0;
    int     i, was_empty = fg_httpconn_backlog(conn) == 0;

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
    if (was_empty && fg_httpconn_backlog(conn) > 0) {
        /* The send deadline runs from here, restarted only by progress. */
        conn->sent_at_ms = server_now_ms(conn->srv);
        event_add(&conn->write_ev, NULL);
        conn_arm_timer(conn);
    }
}

static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
    fg_httpconn_t *conn = arg;
    int        n;

    (void) fd;
    (void) what;
    n = evbuffer_write(conn->out, conn->fd);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        conn_close(conn);
        return;
    }
    if (conn->is_read_paused && !conn_output_full(conn)) {
        conn_resume_reading(conn);
    }
    if (evbuffer_get_length(conn->out) > 0) {
        event_add(&conn->write_ev, NULL);
        if (n > 0) {
            /* progress: the send deadline restarts */
            conn->sent_at_ms = server_now_ms(conn->srv);
            conn_arm_timer(conn);
        }
        return;
    }
    conn_drained(conn);
}

/* The Date header's value, formatted once a second. */
static const char *
conn_date(fg_httpconn_t *conn)
{
    static char   date[40];
    static time_t formatted_at = -1;
    struct timeval tv;
    struct tm      tm;

    event_base_gettimeofday_cached(conn->srv->base, &tv);
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
conn_head(fg_httpconn_t *conn, char *dst, int status, int64_t length,
          const char *headers, size_t headers_len)
{
    const char *reason = fg_http_reason(status);
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
    if (status == 204 || status == 304) {
        /* No body and no framing header (RFC 9110 8.6, 6.4.1). */
    } else if (length >= 0) {
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
    if (headers_len > 0) {
        memcpy(dst + n, headers, headers_len);
        n += headers_len;
    }
    memcpy(dst + n, "\r\n", 2);
    return n + 2;
}

static void
conn_decide_close(fg_httpconn_t *conn)
{
    if (!conn->keep_alive || conn->srv->is_draining) {
        conn->close_after = 1;
    }
}

void
fg_httpconn_reply(fg_httpconn_t *conn, int status, const char *headers,
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
fg_httpconn_stream_start(fg_httpconn_t *conn, int status, const char *headers,
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
fg_httpconn_stream_send(fg_httpconn_t *conn, struct evbuffer *data)
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
fg_httpconn_stream_end(fg_httpconn_t *conn)
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
fg_httpconn_backlog(const fg_httpconn_t *conn)
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
conn_request_done(fg_httpconn_t *conn)
{
    conn->is_streaming = 0;
    conn->is_head = 0;
    if (conn->is_dead) {
        return;
    }
    if (conn->close_after) {
        if (fg_httpconn_backlog(conn) == 0) {
            conn->state = CONN_IDLE;
            conn_end(conn);
        }
        /* else conn_drained() ends it */
        return;
    }
    conn->state = CONN_IDLE;
    conn_arm_timer(conn);
    if (conn_output_full(conn)) {
        conn_pause_reading(conn);   /* invariant 5; the write resumes it */
        return;
    }
    if (conn->in_len > 0 && !conn->is_busy) {
        event_active(&conn->read_ev, EV_TIMEOUT, 0);
    }
    if (!event_pending(&conn->read_ev, EV_READ, NULL)) {
        event_add(&conn->read_ev, NULL);   /* read-ahead had filled up */
    }
}

/* Refuses the request being received with @status, then closes. */
static void
conn_refuse(fg_httpconn_t *conn, int status)
{
    fg_err_t err;

    switch (status) {
    case 413:
        fg_err_set(&err, FG_E_BODY_TOO_LARGE, NULL, "the request body is "
                   "larger than the %lld bytes allowed",
                   (long long) conn->srv->limits.max_body_bytes);
        break;
    case 431:
        fg_err_set(&err, FG_E_HEADERS_TOO_LARGE, NULL, "the request line "
                   "and headers are larger than the %lld bytes allowed, or "
                   "more than %d header fields",
                   (long long) conn->srv->limits.max_header_bytes,
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
    case 503:
        fg_err_set(&err, FG_E_BODY_BUFFER_FULL, NULL, "the gateway is "
                   "receiving as many request bodies as it buffers at once "
                   "(%lld bytes); retry in a second",
                   (long long) conn->srv->limits.body_budget_bytes);
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
    conn->state = CONN_ACTIVE;
    conn_budget_release(conn);   /* the body will not be read */
    if (conn->srv->handler.refuse != NULL) {
        conn->srv->handler.refuse(conn->srv->arg, conn, &err);
    } else if (status == 503) {
        fg_httpconn_reply_error(conn, &err, FG_RETRY_AFTER_1S_LINES,
                                sizeof(FG_RETRY_AFTER_1S_LINES) - 1);
    } else {
        fg_httpconn_reply_error(conn, &err, NULL, 0);
    }
}

/*
 * The head of the request being received. One request is parsed and
 * dispatched at a time in the process, so one head serves them all; it
 * is valid from a parse until the next.
 */
static fg_http_head_t server_head_parsed;

/* The request that starts at @p is whole: serve it. @is_parsed says
 * server_head_parsed is its head (else the body came after the head, and
 * another connection's request may have been parsed since). */
static void
conn_serve(fg_httpconn_t *conn, char *p, char *body, size_t body_len,
           int is_parsed)
{
    fg_http_head_t *head = &server_head_parsed;

    if (!is_parsed && fg_http_parse_head(p, conn->head_len, head) != 0) {
        conn_refuse(conn, 400);   /* cannot be: it parsed before */
        return;
    }
    fg_http_head_terminate(head, p);
    conn->state = CONN_ACTIVE;
    conn->keep_alive = head->keep_alive;
    conn->is_head = head->method == FG_HTTP_HEAD;
    conn->minor = head->minor;
    conn->head_len = 0;
    conn->scanned = 0;
    conn->sent_continue = 0;
    conn_budget_release(conn);   /* the body is whole: no more growth */
    conn_arm_timer(conn);
    conn->srv->handler.request(conn->srv->arg, conn, head, body, body_len);
}

/*
 * The head of the request at @p, parsed into @head (slices of @p), has
 * come without all of its body: the handler's head hook may refuse it
 * from the head alone; the body's room is reserved in the budget (all of
 * it for a Content-Length, the first read's for a chunked body, which
 * reserves the rest as it grows); then the client that expects it is
 * told to continue. Returns 1 to read the body, 0 when refused (replied)
 * or the client is gone.
 */
static fg_http_head_t server_head_early;

static int
conn_await_body(fg_httpconn_t *conn, const char *p, const fg_http_head_t *head)
{
    fg_httpserver_t *srv = conn->srv;

    if (srv->handler.head != NULL) {
        /* The hook sees C strings; @p must stay as received, since the
         * head is parsed again once the body is in (conn_serve), so a
         * copy is terminated. */
        char *copy = fg_xmalloc(conn->head_len);
        int   go_on;

        memcpy(copy, p, conn->head_len);
        if (fg_http_parse_head(copy, conn->head_len, &server_head_early)
            != 0) {
            free(copy);
            conn_refuse(conn, 400);   /* cannot be: it parsed before */
            return 0;
        }
        fg_http_head_terminate(&server_head_early, copy);
        /* As for a refusal: a reply now closes the connection, without
         * reading the body (conn_end lingers over what still comes). */
        conn->state = CONN_ACTIVE;
        conn->keep_alive = 0;
        conn->is_head = head->method == FG_HTTP_HEAD;
        conn->has_unread = 1;
        go_on = srv->handler.head(srv->arg, conn, &server_head_early);
        free(copy);
        if (!go_on) {
            return 0;
        }
        conn->state = CONN_RECEIVING;
        conn->is_head = 0;
        conn->has_unread = 0;
    }
    if (!conn_budget_reserve(conn, conn->is_chunked
                                   ? CONN_READ_BYTES
                                   : (int64_t) conn->head_len
                                     + conn->content_length)) {
        fg_log(FG_LOG_WARN, 0, "%s listener: request bodies being received "
               "fill the %lld bytes of their budget; a body of %lld bytes "
               "from %s refused", srv->limits.name,
               (long long) srv->limits.body_budget_bytes,
               (long long) conn->content_length, conn->addr);
        conn_refuse(conn, 503);
        return 0;
    }
    if (head->expect_continue && !conn->sent_continue) {
        struct iovec iov = { (void *) "HTTP/1.1 100 Continue\r\n\r\n", 25 };

        conn->sent_continue = 1;
        conn_send(conn, &iov, 1);
    }
    return !conn->is_dead;   /* dead: the client is gone, serve nothing */
}

/*
 * How much of @p (the start of a request, @n bytes) the request takes
 * once it is whole, 0 while it is not; on a refusal, conn_refuse() has
 * been called and the result is 0 with the state CLOSING or dead.
 */
static size_t
conn_take_request(fg_httpconn_t *conn, char *p, size_t n)
{
    const fg_httpserver_limits_t *c = &conn->srv->limits;
    fg_http_head_t               *head = &server_head_parsed;
    size_t                        total;
    size_t                        max_head = (size_t) c->max_header_bytes;
    int                           rc, is_parsed = 0;

    if (conn->head_len == 0) {
        size_t from = conn->scanned;
        size_t seen = n < max_head + 1 ? n : max_head + 1;
        size_t hl = fg_http_head_end(p, seen, &conn->scanned);

        if (hl == 0) {
            if (fg_http_head_has_bare_cr(p, seen, from > 0 ? from - 1 : 0)) {
                conn->minor = 1;
                conn_refuse(conn, 400);   /* its head would never end */
            } else if (n > max_head) {
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
    }
    if (conn->is_chunked) {
        rc = fg_http_chunked_decode(&conn->chunked, p, n, &conn->chunk_in,
                                    &conn->chunk_out,
                                    (size_t) c->max_body_bytes, max_head);
        if (rc == 0) {
            if (is_parsed) {
                (void) conn_await_body(conn, p, head);
            }
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
        if (is_parsed) {
            (void) conn_await_body(conn, p, head);
        }
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
conn_input(fg_httpconn_t *conn, char *buf, size_t len)
{
    size_t off = 0, took;

    while (off < len && !conn->is_dead && !conn->close_after
           && conn->state != CONN_ACTIVE
           && conn->state != CONN_CLOSING && !conn_output_full(conn)) {
        if (conn->head_len == 0 && conn->scanned == 0) {
            /* Empty lines before a request are ignored (RFC 9112 2.2). */
            while (off < len && (buf[off] == '\r' || buf[off] == '\n')) {
                off++;
            }
            if (off == len) {
                break;
            }
        }
        if (conn->state == CONN_IDLE) {
            conn->state = CONN_RECEIVING;
            conn->receiving_since_ms = server_now_ms(conn->srv);
        }
        took = conn_take_request(conn, buf + off, len - off);
        if (took == 0) {
            if (conn->state == CONN_RECEIVING && !conn->is_dead) {
                conn_arm_timer(conn);   /* the request deadline */
            }
            break;
        }
        off += took;
    }
    if (conn->is_dead || conn->close_after
        || conn->state == CONN_CLOSING) {
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
conn_in_room(fg_httpconn_t *conn)
{
    const fg_httpserver_limits_t *c = &conn->srv->limits;
    size_t                        limit;

    if (conn->state == CONN_ACTIVE) {
        limit = CONN_READ_AHEAD_BYTES;
    } else if (conn->head_len > 0 && !conn->is_chunked) {
        /* The request exactly, as reserved (conn_await_body): bytes of
         * the next wait in the kernel. */
        limit = conn->head_len + (size_t) (conn->content_length > 0
                                           ? conn->content_length : 0);
    } else {
        limit = (size_t) (c->max_header_bytes + c->max_body_bytes)
                + CONN_READ_BYTES;
    }
    if (conn->in_cap - conn->in_len < 4096 && conn->in_cap < limit) {
        size_t cap = conn->in_cap * 2;

        if (cap < conn->in_len + 16384) {
            cap = conn->in_len + 16384;
        }
        if (cap > limit) {
            cap = limit;
        }
        if (conn->head_len > 0 && conn->state == CONN_RECEIVING
            && !conn_budget_reserve(conn, (int64_t) cap)) {
            conn_refuse(conn, 503);   /* a chunked body outgrew the budget */
            return 0;
        }
        conn->in = fg_xrealloc(conn->in, cap);
        conn->in_cap = cap;
    }
    return conn->in_cap - conn->in_len;
}

static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
    fg_httpconn_t *conn = arg;
    char      *dst;
    size_t     room;
    ssize_t    n;

    (void) fd;
    if (conn->is_dead) {
        return;
    }
    conn->is_busy = 1;
    if (conn->is_read_paused && (what & EV_READ)) {
        goto out;   /* invariant 5: the write resumes reading */
    }
    if (!(what & EV_READ)) {
        /* Made active by conn_request_done(): serve what is buffered. */
        conn_input(conn, conn->in, conn->in_len);
        goto out;
    }
    if (conn->state == CONN_CLOSING) {
        n = read(conn->fd, server_scratch, sizeof(server_scratch));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            conn_fail(conn);
        }
        goto out;
    }
    if (conn->in_len == 0) {
        dst = server_scratch;
        room = sizeof(server_scratch);
    } else {
        room = conn_in_room(conn);
        if (room == 0) {
            if (conn->close_after || conn->is_dead) {
                goto out;   /* refused: over the body budget */
            }
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
    if (dst == server_scratch) {
        conn_input(conn, server_scratch, (size_t) n);
    } else {
        conn->in_len += (size_t) n;
        if (conn->state != CONN_ACTIVE) {
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
fg_httpserver_drain(fg_httpserver_t *srv, int close_idle)
{
    fg_httpconn_t *conn, *next;
    int            i;

    if (!srv->is_draining) {
        srv->is_draining = 1;
        server_set_accepting(srv, 0);
        evtimer_del(srv->accept_retry_ev);
        /* Closing our copy of a shared listening socket leaves the other
         * processes' open: the kernel goes on accepting for them. */
        for (i = 0; i < srv->listener_count; i++) {
            if (srv->listen_evs[i] != NULL) {
                event_free(srv->listen_evs[i]);
                srv->listen_evs[i] = NULL;
                close(srv->listen_fds[i]);
            }
        }
    }
    if (!close_idle || srv->close_idle) {
        return;
    }
    srv->close_idle = 1;
    /* A request partly received, buffered or being answered is let
     * finish (its reply closes the connection); lingering connections
     * end on their own within CONN_LINGER_MS. */
    for (conn = srv->conns; conn != NULL; conn = next) {
        next = conn->next;
        if (conn_is_quiet(conn)) {
            conn_close(conn);
        }
    }
}

void
fg_httpserver_close_all(fg_httpserver_t *srv)
{
    /* Bounded: each pass frees the head of the list. */
    while (srv->conns != NULL) {
        srv->conns->is_busy = 0;
        conn_close(srv->conns);
    }
}

void
fg_httpserver_free(fg_httpserver_t *srv)
{
    if (srv == NULL) {
        return;
    }
    /* No handler is told of counts while the server goes away. */
    srv->handler.count_changed = NULL;
    fg_httpserver_drain(srv, 0);
    fg_httpserver_close_all(srv);
    event_free(srv->accept_retry_ev);
    free(srv);
}

int64_t
fg_httpserver_connections(const fg_httpserver_t *srv)
{
    return srv->connections;
}

void
fg_httpconn_attach(fg_httpconn_t *conn, void *ctx)
{
    conn->req = ctx;
}

const struct sockaddr *
fg_httpconn_peer_addr(const fg_httpconn_t *conn)
{
    return (const struct sockaddr *) &conn->peer;
}

const char *
fg_httpconn_peer(const fg_httpconn_t *conn)
{
    return conn->addr;
}

void
fg_httpconn_reply_error(fg_httpconn_t *conn, const fg_err_t *err,
                        const char *headers, size_t headers_len)
{
    static const char type[] = "Content-Type: application/json\r\n";
    char              body[FG_ERROR_BODY_MAX];
    char              stack[1024];
    char             *hdr = stack;
    size_t            n = fg_error_render(err, body, sizeof(body));

    if (sizeof(type) - 1 + headers_len > sizeof(stack)) {
        hdr = fg_xmalloc(sizeof(type) - 1 + headers_len);
    }
    memcpy(hdr, type, sizeof(type) - 1);
    if (headers_len > 0) {
        memcpy(hdr + sizeof(type) - 1, headers, headers_len);
    }
    fg_httpconn_reply(conn, fg_error_status(err->code), hdr,
                      sizeof(type) - 1 + headers_len, body, n);
    if (hdr != stack) {
        free(hdr);
    }
}

const char *
fg_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default:  return status < 400 ? "OK" : "Error";
    }
}
