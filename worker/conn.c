/*
 * conn.c: client connection tracking around evhttp (see conn.h for the
 * design). The invariants:
 *
 *   1) w->connections counts bufferevents handed to evhttp and not yet
 *      closed; accept is paused while it is at limits.max_connections;
 *   2) a connection is in the fd table from its attach until its close
 *      callback, and fg_conn_of() checks the evcon, so a stale fd never
 *      maps to the wrong connection;
 *   3) only the close callback frees an fg_conn_t, and it tells the request
 *      being served (if any) that its client is gone before doing so.
 */

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/alloc.h"
#include "common/log.h"
#include "worker/conn.h"

static void conn_attach(evutil_socket_t fd, short what, void *arg);
static void conn_closed(struct evhttp_connection *evcon, void *arg);
static void conn_input(struct evbuffer *buf,
                       const struct evbuffer_cb_info *info, void *arg);
static void conn_deadline(evutil_socket_t fd, short what, void *arg);
static void conn_arm_deadline(fg_conn_t *conn);
static void conn_set_idle_timeouts(fg_conn_t *conn);
static struct timeval conn_tv(int64_t ms);

static struct timeval
conn_tv(int64_t ms)
{
    struct timeval tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}

struct bufferevent *
fg_conn_bevcb(struct event_base *base, void *arg)
{
    fg_worker_t *w = arg;
    fg_conn_t   *conn;

    conn = fg_xcalloc(1, sizeof(*conn));
    conn->worker = w;
    conn->fd = -1;
    conn->state = FG_CONN_RECEIVING;
    conn->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (conn->bev == NULL) {
        free(conn);
        return NULL;
    }
    /*
     * evhttp wraps the bufferevent in a connection only after this callback
     * returns. An active event runs in this same loop iteration, before the
     * new socket can have been polled, so no request on it can be complete
     * before conn_attach() has registered it.
     */
    conn->attach_ev = event_new(base, -1, 0, conn_attach, conn);
    conn->deadline_ev = event_new(base, -1, 0, conn_deadline, conn);
    event_active(conn->attach_ev, EV_TIMEOUT, 0);

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
    } else {
        fg_worker_took_connection(w);
    }
    return conn->bev;
}

static void
conn_attach(evutil_socket_t fd, short what, void *arg)
{
    fg_conn_t   *conn = arg;
    fg_worker_t *w = conn->worker;
    void        *cbarg = NULL;

    (void) fd;
    (void) what;
    bufferevent_getcb(conn->bev, NULL, NULL, NULL, &cbarg);
    conn->evcon = cbarg;
    conn->fd = bufferevent_getfd(conn->bev);
    if (conn->evcon == NULL || conn->fd < 0) {
        /* evhttp failed to adopt the socket and has freed it already. */
        fg_log(FG_LOG_ERROR, 0, "evhttp did not adopt a new connection");
        return;
    }
    if (conn->fd >= w->conn_by_fd_size) {
        int n = w->conn_by_fd_size ? w->conn_by_fd_size : 1024;

        while (n <= conn->fd) {
            n *= 2;
        }
        w->conn_by_fd = fg_xrealloc(w->conn_by_fd, n * sizeof(fg_conn_t *));
        memset(w->conn_by_fd + w->conn_by_fd_size, 0,
               (size_t) (n - w->conn_by_fd_size) * sizeof(fg_conn_t *));
        w->conn_by_fd_size = n;
    }
    w->conn_by_fd[conn->fd] = conn;
    evhttp_connection_set_closecb(conn->evcon, conn_closed, conn);
    evbuffer_add_cb(bufferevent_get_input(conn->bev), conn_input, conn);
    conn_arm_deadline(conn);
}

static void
conn_arm_deadline(fg_conn_t *conn)
{
    struct timeval tv = conn_tv(conn->worker->conf->request_timeout_ms);

    conn->state = FG_CONN_RECEIVING;
    event_add(conn->deadline_ev, &tv);
}

static void
conn_input(struct evbuffer *buf, const struct evbuffer_cb_info *info,
           void *arg)
{
    fg_conn_t *conn = arg;

    (void) buf;
    if (info->n_added > 0 && conn->state == FG_CONN_IDLE) {
        conn_arm_deadline(conn);
    }
}

static void
conn_deadline(evutil_socket_t fd, short what, void *arg)
{
    fg_conn_t *conn = arg;

    (void) fd;
    (void) what;
    if (conn->state != FG_CONN_RECEIVING || conn->evcon == NULL) {
        return;
    }
    fg_log(FG_LOG_INFO, 0, "request not received within %lld ms, "
           "connection closed",
           (long long) conn->worker->conf->request_timeout_ms);
    /* Frees conn through conn_closed(). */
    evhttp_connection_free(conn->evcon);
}

static void
conn_closed(struct evhttp_connection *evcon, void *arg)
{
    fg_conn_t   *conn = arg;
    fg_worker_t *w = conn->worker;

    (void) evcon;
    if (conn->req != NULL) {
        fg_req_client_gone(conn->req);
        conn->req = NULL;
    }
    if (conn->prev != NULL) {
        conn->prev->next = conn->next;
    } else {
        w->conn_list = conn->next;
    }
    if (conn->next != NULL) {
        conn->next->prev = conn->prev;
    }
    if (conn->fd >= 0 && conn->fd < w->conn_by_fd_size
        && w->conn_by_fd[conn->fd] == conn) {
        w->conn_by_fd[conn->fd] = NULL;
    }
    event_free(conn->attach_ev);
    event_free(conn->deadline_ev);
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

fg_conn_t *
fg_conn_of(fg_worker_t *w, struct evhttp_request *http)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(http);
    fg_conn_t                *conn;
    int                       fd;

    if (evcon == NULL) {
        return NULL;
    }
    fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
    if (fd < 0 || fd >= w->conn_by_fd_size) {
        return NULL;
    }
    conn = w->conn_by_fd[fd];
    return conn != NULL && conn->evcon == evcon ? conn : NULL;
}

void
fg_conn_request_started(fg_conn_t *conn, fg_req_t *req)
{
    struct timeval send_tv = conn_tv(conn->worker->conf->send_timeout_ms);

    conn->state = FG_CONN_ACTIVE;
    conn->req = req;
    event_del(conn->deadline_ev);
    bufferevent_set_timeouts(conn->bev, NULL, &send_tv);
}

static void
conn_set_idle_timeouts(fg_conn_t *conn)
{
    struct timeval tv = conn_tv(conn->worker->conf->keepalive_timeout_ms);

    bufferevent_set_timeouts(conn->bev, &tv, &tv);
}

void
fg_conn_request_done(fg_conn_t *conn)
{
    conn->req = NULL;
    conn->state = FG_CONN_IDLE;
    conn_set_idle_timeouts(conn);
    bufferevent_setwatermark(conn->bev, EV_READ, 0, 0);
    if (evbuffer_get_length(bufferevent_get_input(conn->bev)) > 0) {
        conn_arm_deadline(conn);
    }
}

void
fg_conn_watch_close(fg_conn_t *conn)
{
    bufferevent_data_cb  write_cb;
    bufferevent_event_cb event_cb;
    void                *cbarg;

    /*
     * The same arrangement evhttp makes while writing a reply: no read
     * callback (bytes just wait in the input buffer, bounded by the
     * watermark), but reading stays on so that EOF reaches evhttp's error
     * callback, which ends the connection and calls conn_closed().
     */
    bufferevent_getcb(conn->bev, NULL, &write_cb, &event_cb, &cbarg);
    bufferevent_setcb(conn->bev, NULL, write_cb, event_cb, cbarg);
    bufferevent_setwatermark(conn->bev, EV_READ, 0, 64 * 1024);
    bufferevent_enable(conn->bev, EV_READ);
}

void
fg_conn_close_idle(fg_worker_t *w)
{
    fg_conn_t *conn, *next;

    for (conn = w->conn_list; conn != NULL; conn = next) {
        next = conn->next;
        if (conn->state != FG_CONN_ACTIVE && conn->evcon != NULL) {
            evhttp_connection_free(conn->evcon);
        }
    }
}

void
fg_conn_cleanup(fg_worker_t *w)
{
    free(w->conn_by_fd);
    w->conn_by_fd = NULL;
    w->conn_by_fd_size = 0;
}
