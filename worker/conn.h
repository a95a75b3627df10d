#ifndef FG_WORKER_CONN_H
#define FG_WORKER_CONN_H

/*
 * Client connections: the per-worker cap, the deadline for receiving a
 * whole request, the send-progress deadline, and the link between an evhttp
 * connection and the request it is serving. libevent 2.1's evhttp has none
 * of these (reliability.md 3.7), so this module adds them around it:
 *
 *   - evhttp_set_bevcb() lets us create each connection's bufferevent; that
 *     is where a connection is counted (and accept paused at the cap);
 *   - right after evhttp has wrapped it (an event made active from the
 *     bevcb, which runs before any I/O on the new socket), the evhttp
 *     connection is registered by fd and given our close callback, the one
 *     place a connection's end is seen;
 *   - an input-buffer callback notices the first byte of each request and
 *     arms the request deadline, which the request handler disarms.
 *
 * fg_conn_t is owned by this module: created in the bevcb, freed in the
 * close callback.
 */

#include <event2/bufferevent.h>
#include <event2/http.h>

#include "worker/request.h"
#include "worker/worker.h"

typedef enum {
    FG_CONN_IDLE = 0,       /* between requests */
    FG_CONN_RECEIVING,      /* bytes of a request arrived, deadline armed */
    FG_CONN_ACTIVE          /* a request is being served */
} fg_conn_state_t;

struct fg_conn_s {
    fg_worker_t              *worker;
    struct bufferevent       *bev;
    struct evhttp_connection *evcon;     /* NULL until attached */
    int                       fd;
    fg_conn_state_t           state;
    fg_req_t                 *req;       /* the request being served */
    struct event             *attach_ev;
    struct event             *deadline_ev;
    fg_conn_t                *prev, *next;
};

/* evhttp's bevcb: creates the connection's bufferevent (@arg: worker). */
struct bufferevent *fg_conn_bevcb(struct event_base *base, void *arg);

/*
 * The tracked connection of an evhttp request, or NULL. Borrowed.
 */
fg_conn_t *fg_conn_of(fg_worker_t *w, struct evhttp_request *http);

/*
 * A request starts being served on @conn: disarms the receive deadline and
 * replaces the keep-alive read timeout by the send-progress deadline, so a
 * long upstream wait or stream is not cut by the idle timer, while a client
 * that stops reading is.
 */
void fg_conn_request_started(fg_conn_t *conn, fg_req_t *req);

/*
 * The request on @conn has handed its reply to evhttp: restores the
 * keep-alive timeout and, if more bytes are already buffered, arms the
 * receive deadline for the next request.
 */
void fg_conn_request_done(fg_conn_t *conn);

/*
 * Watches @conn for the client closing it while the request waits for the
 * upstream (evhttp stops reading once a request is complete, so without
 * this a disconnect goes unseen until the first reply byte).
 */
void fg_conn_watch_close(fg_conn_t *conn);

/* Closes every connection that is not serving a request (SIGTERM). */
void fg_conn_close_idle(fg_worker_t *w);

/* Frees the fd table at exit. */
void fg_conn_cleanup(fg_worker_t *w);

#endif
