/*
 * upstream_h1.c: the native HTTP/1.1 client of the upstream interface,
 * plain HTTP/1.1 on the worker's loop, for providers at an http://
 * address given as an IP literal or "localhost" (a vLLM, llama.cpp or
 * Ollama server beside the gateway, a sidecar that holds the TLS).
 * Everything else (https, HTTP/2, names to resolve) goes to libcurl
 * (upstream_curl.c), which this client replaces only where it can do the
 * whole job: it costs a request one writev(2) and the reads of its
 * reply, where libcurl adds two poll(2) and some 80,000 instructions.
 *
 * Connections are kept alive per provider and reused last-in first-out,
 * at most upstream.max_connections_per_host of them per worker; a
 * transfer that finds them all busy waits in a queue, in order. An idle
 * connection the upstream closes is noticed and dropped, and one taken
 * from the pool is checked first (a peek that sees its close): a request
 * is never sent on a connection known dead. One that dies anyway is the
 * attempt's end, never a silent second send: no retry here.
 *
 * A transfer goes WAITING (for a connection) -> CONNECTING -> SENDING
 * (one writev of the head and body) -> HEAD -> BODY -> DONE. Reply bytes
 * are read into the transfer's buffer, the head parsed by
 * common/httpparse, and the body handed to the owner as it comes: by
 * Content-Length, decoded from chunks in place, or up to the close. The
 * connect deadline is ours; first byte, idle and total are upstream.c's.
 *
 * The rules that keep it re-entrant:
 *   1) a connection belongs to at most one transfer, and the transfer
 *      points back to it; idle ones sit in their pool's stack with a
 *      read event on, so a close by the upstream is seen;
 *   2) fg_upstream_end() is called once per transfer, from our own event
 *      callbacks only, and after it the transfer holds no connection;
 *   3) work that could end another request (handing a freed connection to
 *      a waiting transfer, offering held data on resume) runs from an
 *      event made active, never inside the call that made it possible.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "common/base/alloc.h"
#include "common/base/clock.h"
#include "common/wire/fmt.h"
#include "common/wire/httpparse.h"
#include "common/base/log.h"
#include "worker/upstream.h"
#include "worker/upstream_h1_reply.h"

#define H1_READ_BYTES (16 * 1024)

typedef struct h1_pool_s h1_pool_t;
typedef struct h1_conn_s h1_conn_t;
typedef struct h1_xfer_s h1_xfer_t;

typedef enum {
    H1_WAITING = 0, H1_CONNECTING, H1_SENDING, H1_HEAD, H1_BODY, H1_DONE
} h1_state_t;

struct h1_conn_s {
    int           fd;
    h1_pool_t    *pool;
    h1_xfer_t    *xfer;          /* NULL while idle */
    struct event  read_ev;       /* on for the connection's life */
    struct event  write_ev;      /* connect, and writes the kernel defers */
    h1_conn_t    *next;          /* in the idle stack */
    int           replies;       /* carried so far: reused when > 0 */
    int64_t       idle_since_ms; /* the loop's clock when it went idle */
};

struct h1_pool_s {
    const fg_provider_t    *provider;
    struct sockaddr_storage addr;
    socklen_t               addr_len;
    char                    host[300];     /* the Host header's value */
    char                    path[1100];    /* the base URL's path: "/v1" */
    int                     is_served;     /* the address was usable */
    h1_conn_t              *idle;
    int                     idle_count;
    int                     open;          /* idle and busy */
    int                     max_open;      /* max_connections_per_host */
    int                     woken;         /* taken from the queue, their
                                            * kick not yet run */
    h1_xfer_t              *wait_head;
    h1_xfer_t              *wait_tail;
    h1_pool_t              *next;
};

struct h1_xfer_s {
    fg_upstream_t     *up;
    fg_worker_t       *worker;
    h1_pool_t         *pool;
    h1_conn_t         *conn;
    h1_state_t         state;
    char              *head;          /* the request head, owned */
    size_t             head_len;
    size_t             sent;          /* of head and body */
    char              *buf;           /* reply bytes not yet relayed */
    size_t             len;
    size_t             cap;
    size_t             scanned;       /* fg_http_head_end's resume */
    fg_h1_body_t       body;          /* its framing; upstream_h1_reply */
    size_t             head_seen;     /* bytes of 1xx heads dropped */
    int                is_paused;
    int                is_queued;     /* in its pool's queue */
    int                is_woken;      /* out of it, kick pending */
    struct event       deadline_ev;   /* connect */
    struct event       kick_ev;       /* deferred work, rule 3 */
    h1_xfer_t         *wait_next;
};

/* One reply head is parsed at a time in the process. */
static fg_http_head_t h1_head;

static void h1_conn_read_cb(evutil_socket_t fd, short what, void *arg);
static void h1_conn_write_cb(evutil_socket_t fd, short what, void *arg);
static void h1_deadline_cb(evutil_socket_t fd, short what, void *arg);
static void h1_kick_cb(evutil_socket_t fd, short what, void *arg);
static void h1_attach(h1_xfer_t *x);
static void h1_send(h1_xfer_t *x);
static void h1_process(h1_xfer_t *x);
static void h1_fail(h1_xfer_t *x, const char *error);
static int h1_start(fg_upstream_t *up, fg_err_t *err);
static void h1_pause(fg_upstream_t *up, int on);
static void h1_cancel(fg_upstream_t *up);
static void h1_reinit(fg_upstream_t *up);
static void h1_free(fg_upstream_t *up);

const fg_upstream_ops_t fg_upstream_h1_ops = {
    "http1", h1_start, h1_pause, h1_cancel, h1_reinit, h1_free
};
static void h1_conn_close(h1_conn_t *c);
static void h1_pool_wake(h1_pool_t *pool);

/* ---- pools --------------------------------------------------------- */

/*
 * Reads "http://host[:port][/path]" with host an IPv4 literal, a
 * bracketed IPv6 literal or "localhost". 0 when the URL is anything else.
 */
static int
h1_pool_address(h1_pool_t *pool, const char *url)
{
    const char *p, *host_end, *path;
    char        host[64];
    long        port = 80;
    size_t      hl;

    if (strncasecmp(url, "http://", 7) != 0) {
        return 0;
    }
    p = url + 7;
    path = strchr(p, '/');
    if (path == NULL) {
        path = p + strlen(p);
    }
    if (*p == '[') {
        host_end = memchr(p, ']', (size_t) (path - p));
        if (host_end == NULL) {
            return 0;
        }
        hl = (size_t) (host_end - p - 1);
        if (hl == 0 || hl >= sizeof(host)) {
            return 0;
        }
        memcpy(host, p + 1, hl);
        host_end++;
    } else {
        host_end = p;
        while (host_end < path && *host_end != ':') {
            host_end++;
        }
        hl = (size_t) (host_end - p);
        if (hl == 0 || hl >= sizeof(host)) {
            return 0;
        }
        memcpy(host, p, hl);
    }
    host[hl] = '\0';
    if (host_end < path) {
        char *end;

        if (*host_end != ':') {
            return 0;
        }
        port = strtol(host_end + 1, &end, 10);
        if (end != path || port < 1 || port > 65535) {
            return 0;
        }
    }
    memset(&pool->addr, 0, sizeof(pool->addr));
    if (strcasecmp(host, "localhost") == 0) {
        snprintf(host, sizeof(host), "127.0.0.1");
    }
    if (strchr(host, ':') != NULL) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *) &pool->addr;

        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) {
            return 0;
        }
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t) port);
        pool->addr_len = sizeof(*a6);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *) &pool->addr;

        if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) {
            return 0;
        }
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t) port);
        pool->addr_len = sizeof(*a4);
    }
    /* The Host header is the authority as the URL wrote it. */
    if ((size_t) (path - p) >= sizeof(pool->host)
        || strlen(path) >= sizeof(pool->path)) {
        return 0;
    }
    memcpy(pool->host, p, (size_t) (path - p));
    pool->host[path - p] = '\0';
    /* The base path; each request adds its API's (fg_upstream_api_path). */
    snprintf(pool->path, sizeof(pool->path), "%s", path);
    return 1;
}

static h1_pool_t *
h1_pool_of(fg_worker_t *w, const fg_provider_t *p)
{
    h1_pool_t *pool;

    for (pool = w->h1_pools; pool != NULL; pool = pool->next) {
        if (pool->provider == p) {
            return pool;
        }
    }
    pool = fg_xcalloc(1, sizeof(*pool));
    pool->provider = p;
    pool->max_open = (int) w->conf->upstream_max_connections;
    pool->is_served = h1_pool_address(pool, p->base_url);
    pool->next = w->h1_pools;
    w->h1_pools = pool;
    return pool;
}

int
fg_upstream_h1_serves(fg_worker_t *w, const fg_provider_t *p)
{
    return w->conf->upstream_native_http && h1_pool_of(w, p)->is_served;
}

static void
h1_enqueue(h1_pool_t *pool, h1_xfer_t *x)
{
    x->state = H1_WAITING;
    x->is_queued = 1;
    x->wait_next = NULL;
    if (pool->wait_tail != NULL) {
        pool->wait_tail->wait_next = x;
    } else {
        pool->wait_head = x;
    }
    pool->wait_tail = x;
}

/*
 * Wakes as many waiting transfers as there are connections for them (idle
 * ones, and room for new ones), counting those woken already. Each goes
 * on from its kick event (rule 3), first come first served: newcomers
 * queue behind them (h1_attach).
 */
static void
h1_pool_wake(h1_pool_t *pool)
{
    int        room = pool->idle_count + (pool->max_open - pool->open)
                      - pool->woken;
    h1_xfer_t *x;

    while (room-- > 0 && (x = pool->wait_head) != NULL) {
        pool->wait_head = x->wait_next;
        if (pool->wait_head == NULL) {
            pool->wait_tail = NULL;
        }
        x->wait_next = NULL;
        x->is_queued = 0;
        x->is_woken = 1;
        pool->woken++;
        event_active(&x->kick_ev, EV_TIMEOUT, 0);
    }
}

/* @x ends before it got a connection: out of line, its turn passed on. */
static void
h1_leave_queue(h1_xfer_t *x)
{
    h1_pool_t  *pool = x->pool;
    h1_xfer_t **pp;

    if (x->is_queued) {
        for (pp = &pool->wait_head; *pp != NULL; pp = &(*pp)->wait_next) {
            if (*pp == x) {
                *pp = x->wait_next;
                break;
            }
        }
        pool->wait_tail = NULL;
        for (pp = &pool->wait_head; *pp != NULL; pp = &(*pp)->wait_next) {
            pool->wait_tail = *pp;
        }
        x->is_queued = 0;
    }
    if (x->is_woken) {
        x->is_woken = 0;
        pool->woken--;
        h1_pool_wake(pool);
    }
}

/* ---- connections --------------------------------------------------- */

static void
h1_conn_close(h1_conn_t *c)
{
    h1_pool_t *pool = c->pool;

    event_del(&c->read_ev);
    event_del(&c->write_ev);
    close(c->fd);
    pool->open--;
    free(c);
    h1_pool_wake(pool);
}

/* The transfer on @c is over with a whole reply: keep @c for the next. */
static void
h1_conn_release(h1_conn_t *c, fg_worker_t *w)
{
    h1_pool_t *pool = c->pool;

    c->xfer = NULL;
    c->replies++;
    event_del(&c->write_ev);
    if (pool->idle_count >= w->conf->upstream_max_connections) {
        h1_conn_close(c);
        return;
    }
    if (!event_pending(&c->read_ev, EV_READ, NULL)) {
        event_add(&c->read_ev, NULL);   /* a pause had taken it off */
    }
    c->idle_since_ms = fg_worker_now_ms(w);
    c->next = pool->idle;
    pool->idle = c;
    pool->idle_count++;
    h1_pool_wake(pool);
}

static void
h1_idle_remove(h1_conn_t *c)
{
    h1_conn_t **pp;

    for (pp = &c->pool->idle; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            c->pool->idle_count--;
            return;
        }
    }
}

static h1_conn_t *
h1_conn_new(h1_xfer_t *x)
{
    h1_pool_t *pool = x->pool;
    h1_conn_t *c;
    int        fd, one = 1;

    fd = socket(pool->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK
                | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return NULL;
    }
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c = fg_xcalloc(1, sizeof(*c));
    c->fd = fd;
    c->pool = pool;
    event_assign(&c->read_ev, x->worker->base, fd, EV_READ | EV_PERSIST,
                 h1_conn_read_cb, c);
    event_assign(&c->write_ev, x->worker->base, fd, EV_WRITE,
                 h1_conn_write_cb, c);
    pool->open++;
    return c;
}

/* ---- a transfer ---------------------------------------------------- */

/* The connect deadline; the others are upstream.c's. */
static void
h1_arm_connect_deadline(h1_xfer_t *x)
{
    int64_t        ms = x->up->provider->connect_timeout_ms;
    struct timeval tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    event_add(&x->deadline_ev, &tv);
}

/* Builds the request head once; the body is sent from up->body. */
static void
h1_build_head(h1_xfer_t *x)
{
    fg_upstream_t       *up = x->up;
    const fg_provider_t *p = up->provider;
    const char          *api = fg_upstream_api_path(up);
    size_t               need = 512 + strlen(x->pool->path) + strlen(api)
                                + strlen(x->pool->host)
                                + strlen(up->target.request_id)
                                + (p->api_key ? strlen(p->api_key) : 0);
    char               **h;
    size_t               n = 0;

#define PUT(s, l) (memcpy(x->head + n, (s), (l)), n += (l))
#define PUT_STR(s) PUT((s), strlen(s))
#define PUT_LIT(s) PUT((s), sizeof(s) - 1)
    for (h = p->headers; h != NULL && *h != NULL; h++) {
        need += strlen(*h) + 2;
    }
    x->head = fg_xmalloc(need);
    PUT_LIT("POST ");
    PUT_STR(x->pool->path);
    PUT_STR(api);
    PUT_LIT(" HTTP/1.1\r\nHost: ");
    PUT_STR(x->pool->host);
    PUT_LIT("\r\nContent-Type: application/json\r\nAccept: ");
    if (up->is_stream) {
        PUT_LIT("text/event-stream");
    } else {
        PUT_LIT("application/json");
    }
    PUT_LIT("\r\nX-Request-Id: ");
    PUT_STR(up->target.request_id);
    if (p->api_key != NULL) {
        PUT_LIT("\r\nAuthorization: Bearer ");
        PUT_STR(p->api_key);
    }
    for (h = p->headers; h != NULL && *h != NULL; h++) {
        PUT_LIT("\r\n");
        PUT_STR(*h);
    }
    PUT_LIT("\r\nContent-Length: ");
    n += fg_fmt_i64(x->head + n, (int64_t) up->body_len);
    PUT_LIT("\r\n\r\n");
#undef PUT
#undef PUT_STR
#undef PUT_LIT
    x->head_len = n;
}

static int
h1_start(fg_upstream_t *up, fg_err_t *err)
{
    fg_worker_t *w = up->worker;
    h1_xfer_t   *x;

    (void) err;
    x = up->client;
    if (x == NULL) {
        x = fg_xcalloc(1, sizeof(*x));
    }
    x->up = up;
    x->worker = w;
    x->pool = h1_pool_of(w, up->provider);
    x->body.left = -1;
    evtimer_assign(&x->deadline_ev, w->base, h1_deadline_cb, x);
    evtimer_assign(&x->kick_ev, w->base, h1_kick_cb, x);
    h1_build_head(x);
    up->client = x;
    /* Attached on this same pass of the loop, but after the caller has
     * taken @up: a connect that fails at once must find it in place. */
    x->state = H1_WAITING;
    event_active(&x->kick_ev, EV_TIMEOUT, 0);
    return FG_OK;
}

/*
 * Upstreams close idle connections on timers of seconds; a connection
 * idle for less than this is taken without the check below, which costs a
 * system call per request on a busy pool (strace on the bench: one
 * failed recvfrom for four in five requests, 5.4 system calls a request
 * against 4.4 without it).
 */
#define H1_CHECK_AFTER_IDLE_MS 100

/*
 * 1 when the idle connection @c may carry a request: the upstream has
 * neither closed it nor sent anything on it. A close that reached us but
 * not yet our loop is caught here, before a byte is sent. A close that
 * races the request itself ends the attempt as sent_no_reply: never a
 * second send (upstream.h).
 */
static int
h1_conn_alive(h1_conn_t *c, int64_t now_ms)
{
    char    b;
    ssize_t n;

    if (now_ms - c->idle_since_ms < H1_CHECK_AFTER_IDLE_MS) {
        return 1;
    }
    n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* Finds @x a connection: a pooled one, a new one, or a place in line. */
static void
h1_attach(h1_xfer_t *x)
{
    h1_pool_t *pool = x->pool;
    h1_conn_t *c;

    if (x->is_woken) {
        x->is_woken = 0;
        pool->woken--;
    } else if (pool->wait_head != NULL || pool->woken > 0) {
        /* First come, first served: behind those already waiting. */
        h1_enqueue(pool, x);
        h1_pool_wake(pool);
        return;
    }
    while ((c = pool->idle) != NULL) {
        pool->idle = c->next;
        pool->idle_count--;
        if (!h1_conn_alive(c, fg_worker_now_ms(x->worker))) {
            event_del(&c->read_ev);
            close(c->fd);
            pool->open--;
            free(c);
            continue;
        }
        c->xfer = x;
        x->conn = c;
        x->state = H1_SENDING;
        x->up->is_connected = 1;
        h1_send(x);
        return;
    }
    if (pool->open >= x->worker->conf->upstream_max_connections) {
        h1_enqueue(pool, x);
        return;
    }
    c = h1_conn_new(x);
    if (c == NULL) {
        fg_log(FG_LOG_ERROR, errno, "upstream \"%s\": socket",
               x->up->provider->id);
        h1_fail(x, errno == EMFILE || errno == ENFILE || errno == ENOBUFS
                   || errno == ENOMEM ? fg_upstream_err_no_descriptor
                                      : fg_upstream_err_connect);
        return;
    }
    c->xfer = x;
    x->conn = c;
    x->state = H1_CONNECTING;
    event_add(&c->read_ev, NULL);
    if (connect(c->fd, (struct sockaddr *) &pool->addr, pool->addr_len) == 0) {
        x->state = H1_SENDING;
        x->up->is_connected = 1;
        h1_send(x);
        return;
    }
    if (errno != EINPROGRESS) {
        fg_log(FG_LOG_INFO, errno, "upstream \"%s\": connect",
               pool->provider->id);
        h1_fail(x, fg_upstream_err_connect);
        return;
    }
    h1_arm_connect_deadline(x);
    event_add(&c->write_ev, NULL);
}

/*
 * The connection failed. Never sent again here, even on a pooled
 * connection that may simply have been closed idle: the request may have
 * arrived, and only the owner may decide to send it twice.
 */
static void
h1_conn_broke(h1_xfer_t *x, int err)
{
    if (err != 0) {
        fg_log(FG_LOG_INFO, err, "upstream \"%s\"", x->pool->provider->id);
    }
    h1_fail(x, x->state == H1_CONNECTING ? fg_upstream_err_connect
                                         : fg_upstream_err_reset);
}

static void
h1_send(h1_xfer_t *x)
{
    fg_upstream_t *up = x->up;
    size_t         total = x->head_len + up->body_len;
    struct iovec   iov[2];
    ssize_t        n;
    int            cnt;

    while (x->sent < total) {
        if (x->sent < x->head_len) {
            iov[0].iov_base = x->head + x->sent;
            iov[0].iov_len = x->head_len - x->sent;
            iov[1].iov_base = up->body;
            iov[1].iov_len = up->body_len;
            cnt = 2;
        } else {
            iov[0].iov_base = up->body + (x->sent - x->head_len);
            iov[0].iov_len = total - x->sent;
            cnt = 1;
        }
        n = writev(x->conn->fd, iov, cnt);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                event_add(&x->conn->write_ev, NULL);
                return;
            }
            h1_conn_broke(x, errno);
            return;
        }
        x->sent += (size_t) n;
    }
    up->is_request_sent = 1;
    if (x->state == H1_SENDING) {
        x->state = H1_HEAD;
    }
}

static void
h1_conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
    h1_conn_t *c = arg;
    h1_xfer_t *x = c->xfer;
    int        err = 0;
    socklen_t  len = sizeof(err);

    (void) fd;
    (void) what;
    if (x == NULL) {
        return;
    }
    if (x->state == H1_CONNECTING) {
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0
            || err != 0) {
            fg_log(FG_LOG_INFO, err, "upstream \"%s\": connect",
                   x->pool->provider->id);
            h1_fail(x, fg_upstream_err_connect);
            return;
        }
        x->state = H1_SENDING;
        x->up->is_connected = 1;
        event_del(&x->deadline_ev);   /* the connect deadline is met */
    }
    h1_send(x);
}

/* Stops @x: out of its queue, its connection closed, its events off. */
static void
h1_stop(h1_xfer_t *x)
{
    h1_leave_queue(x);
    if (x->conn != NULL) {
        x->conn->xfer = NULL;
        h1_conn_close(x->conn);   /* mid-reply: the upstream stops */
        x->conn = NULL;
    }
    x->state = H1_DONE;
    event_del(&x->deadline_ev);
    event_del(&x->kick_ev);
}

/* Ends @x: its connection closed, the owner told (rule 2). */
static void
h1_fail(h1_xfer_t *x, const char *error)
{
    h1_stop(x);
    fg_upstream_end(x->up, error);
}

static void
h1_complete(h1_xfer_t *x)
{
    fg_upstream_t *up = x->up;
    h1_conn_t     *c = x->conn;

    x->conn = NULL;
    x->state = H1_DONE;
    event_del(&x->deadline_ev);
    if (c != NULL) {
        if (x->body.keep_alive && x->len == 0 && x->sent == x->head_len
                                                      + up->body_len) {
            h1_conn_release(c, x->worker);
        } else {
            c->xfer = NULL;
            h1_conn_close(c);
        }
    }
    fg_upstream_end(up, NULL);
}

/*
 * Offers @len bytes to the owner. 1: taken; 0: the relay paused (they
 * stay, and are offered again on resume); -1: the transfer has ended.
 */
static int
h1_deliver(h1_xfer_t *x, const char *data, size_t len)
{
    if (len == 0) {
        return 1;
    }
    switch (fg_upstream_deliver(x->up, data, len)) {
    case FG_UPSTREAM_PAUSE:
        x->is_paused = 1;
        if (x->conn != NULL) {
            event_del(&x->conn->read_ev);   /* back-pressure upstream */
        }
        return 0;
    case FG_UPSTREAM_ABORT:
        h1_fail(x, fg_upstream_err_reset);   /* the owner's error wins */
        return -1;
    default:
        return 1;
    }
}

/* Takes the reply's head from the buffer; 0 when it is not all in. */
static int
h1_take_head(h1_xfer_t *x)
{
    fg_upstream_t  *up = x->up;
    fg_http_head_t *head = &h1_head;
    const char     *v;
    size_t          hl = 0, vl;
    int             rc;

    rc = fg_h1_reply_head(x->buf, &x->len, &x->scanned, &x->head_seen, head,
                          &hl);
    if (rc <= 0) {
        if (rc < 0) {
            h1_fail(x, fg_upstream_err_malformed);
        }
        return rc;
    }
    fg_upstream_head_begin(up);
    if ((v = fg_http_field(head, "content-type", &vl)) != NULL) {
        fg_upstream_head_field(up, "content-type", 12, v, vl);
    }
    if ((v = fg_http_field(head, "retry-after", &vl)) != NULL) {
        fg_upstream_head_field(up, "retry-after", 11, v, vl);
    }
    fg_h1_body_init(&x->body, head);
    memmove(x->buf, x->buf + hl, x->len - hl);
    x->len -= hl;
    x->state = H1_BODY;
    fg_upstream_head_done(up, head->status);
    return 1;
}

/* Relays what the buffer holds; ends the transfer when the body is in. */
static void
h1_process(h1_xfer_t *x)
{
    size_t ready, used;
    int    rc;

    if (x->state == H1_HEAD || x->state == H1_SENDING) {
        if (h1_take_head(x) <= 0) {
            return;
        }
    }
    if (x->state != H1_BODY || x->is_paused) {
        return;
    }
    rc = fg_h1_body_ready(&x->body, x->buf, x->len, &ready, &used);
    if (rc < 0) {
        h1_fail(x, fg_upstream_err_malformed);
        return;
    }
    if (h1_deliver(x, x->buf, ready) <= 0) {
        return;
    }
    /* Relayed: only what is not body yet (or a next reply) stays. */
    memmove(x->buf, x->buf + used, x->len - used);
    x->len -= used;
    fg_h1_body_consumed(&x->body, ready);
    if (rc == 1) {
        h1_complete(x);
    }
}

static void
h1_conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
    h1_conn_t *c = arg;
    h1_xfer_t *x = c->xfer;
    ssize_t    n;

    (void) fd;
    (void) what;
    if (x == NULL) {
        /* Idle: the upstream closed it (or sent what it should not). */
        h1_idle_remove(c);
        h1_conn_close(c);
        return;
    }
    if (x->state == H1_CONNECTING) {
        return;   /* the write event reports how the connect went */
    }
    if (x->cap - x->len < 4096) {
        x->cap = x->cap ? x->cap * 2 : H1_READ_BYTES;
        x->buf = fg_xrealloc(x->buf, x->cap);
    }
    do {
        n = read(c->fd, x->buf + x->len, x->cap - x->len);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
    }
    if (n <= 0) {
        if (x->state == H1_BODY && x->body.left < 0
            && !x->body.is_chunked) {
            x->body.keep_alive = 0;
            h1_complete(x);   /* a body delimited by the close */
            return;
        }
        h1_conn_broke(x, n < 0 ? errno : 0);
        return;
    }
    x->len += (size_t) n;
    fg_upstream_progress(x->up);
    h1_process(x);
}

static void
h1_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    h1_xfer_t *x = arg;

    (void) fd;
    (void) what;
    h1_fail(x, fg_upstream_err_connect_timeout);
}

/* Deferred work (rule 3): a connection freed for us, or a resume. */
static void
h1_kick_cb(evutil_socket_t fd, short what, void *arg)
{
    h1_xfer_t *x = arg;

    (void) fd;
    (void) what;
    if (x->state == H1_WAITING) {
        h1_attach(x);
        return;
    }
    if (x->state == H1_DONE || x->is_paused) {
        return;
    }
    if (x->conn != NULL && !event_pending(&x->conn->read_ev, EV_READ, NULL)) {
        event_add(&x->conn->read_ev, NULL);
    }
    h1_process(x);
}

static void
h1_pause(fg_upstream_t *up, int on)
{
    h1_xfer_t *x = up->client;

    if (x == NULL || x->state == H1_DONE) {
        return;
    }
    x->is_paused = on;
    if (on) {
        if (x->conn != NULL) {
            event_del(&x->conn->read_ev);
        }
        return;
    }
    event_active(&x->kick_ev, EV_TIMEOUT, 0);
}

static void
h1_cancel(fg_upstream_t *up)
{
    h1_xfer_t *x = up->client;

    if (x != NULL && x->state != H1_DONE) {
        h1_stop(x);
    }
}

static void
h1_reinit(fg_upstream_t *up)
{
    h1_xfer_t *x = up->client;
    char      *buf;
    size_t     cap;

    if (x == NULL) {
        return;
    }
    h1_cancel(up);
    event_del(&x->deadline_ev);
    event_del(&x->kick_ev);
    free(x->head);
    /* The read buffer serves again; everything else starts afresh. */
    buf = x->buf;
    cap = x->cap;
    memset(x, 0, sizeof(*x));
    x->buf = buf;
    x->cap = cap;
}

static void
h1_free(fg_upstream_t *up)
{
    h1_xfer_t *x = up->client;

    if (x == NULL) {
        return;
    }
    h1_cancel(up);
    free(x->head);
    free(x->buf);
    free(x);
    up->client = NULL;
}

void
fg_upstream_h1_cleanup(fg_worker_t *w)
{
    h1_pool_t *pool, *next;

    for (pool = w->h1_pools; pool != NULL; pool = next) {
        next = pool->next;
        while (pool->idle != NULL) {
            h1_conn_t *c = pool->idle;

            pool->idle = c->next;
            event_del(&c->read_ev);
            event_del(&c->write_ev);
            close(c->fd);
            free(c);
        }
        free(pool);
    }
    w->h1_pools = NULL;
}
