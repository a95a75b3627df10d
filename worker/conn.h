#ifndef FG_WORKER_CONN_H
#define FG_WORKER_CONN_H

/*
 * Client connections: HTTP/1.1 spoken on the socket itself. A request is
 * read with one read(2) when it fits, parsed in place (common/wire/httpparse),
 * handed to http.c, and its reply written with one writev(2) straight
 * from the request's pieces; only what the kernel does not take waits in
 * an output buffer for the socket to become writable. No read event is
 * ever switched off between requests, so a kept-alive request costs the
 * poll wake-up, one read and one write: no epoll_ctl.
 *
 * The limits (reliability.md 3.7) are the connection's own:
 *   - limits.request_timeout_ms from a request's first byte (or from
 *     accept) to its last: a slow or silent client is closed;
 *   - limits.keepalive_timeout_ms between requests;
 *   - limits.send_timeout_ms without write progress while output waits;
 *   - limits.max_header_bytes (431) and limits.max_body_bytes (413);
 *   - limits.max_connections per worker: accept pauses at the cap.
 * A request's errors at this level (malformed, too large, a version or
 * transfer coding not spoken) are answered in OpenAI's error format and
 * the connection is closed after a lingering read, so the client sees
 * the reply rather than a reset.
 *
 * While a request is served the connection keeps reading: a client that
 * closes is seen at once (the request is told, and its upstream call
 * cancelled), and pipelined requests wait in the input buffer, bounded.
 *
 * fg_conn_t is owned by this module: created on accept, freed when the
 * connection closes, and never freed inside a call that uses it.
 */

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "common/wire/httpparse.h"
#include "worker/request.h"
#include "worker/worker.h"

typedef enum {
    FG_CONN_IDLE = 0,       /* between requests */
    FG_CONN_RECEIVING,      /* part of a request is in */
    FG_CONN_ACTIVE,         /* a request is being served */
    FG_CONN_CLOSING         /* reply sent; reading out what is left */
} fg_conn_state_t;

struct fg_conn_s {
    fg_worker_t        *worker;
    int                 fd;
    fg_conn_state_t     state;
    fg_req_t           *req;             /* the request being served */
    struct event        read_ev;         /* always on until closing */
    struct event        write_ev;        /* on while output waits */
    struct event        timer_ev;        /* the one deadline in force */
    char                addr[64];        /* the peer, for the logs */

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

    /* the request being served */
    int                 keep_alive;      /* the client allows another */
    int                 is_head;         /* HEAD: the reply has no body */
    int                 is_streaming;
    int                 minor;           /* HTTP/1.<minor> */

    /* output not yet taken by the kernel (NULL while none) */
    struct evbuffer    *out;
    int                 close_after;     /* close once the output is out */
    int                 has_unread;      /* bytes we will never serve */
    int                 is_busy;         /* inside our own callback */
    int                 is_dead;         /* closed as soon as possible */
    fg_conn_t          *prev, *next;
};

/* Takes over @fd, a connection just accepted from @addr. */
void fg_conn_accept(fg_worker_t *w, int fd, const struct sockaddr *addr);

/*
 * Sends a complete reply to the request on @conn: the status line, Date,
 * Content-Length and Connection as the connection needs, then @headers
 * (whole "Name: value\r\n" lines) and @body. The request is detached
 * from the connection; @conn may be closed by the time this returns
 * (on a write error), so the caller keeps no use of it.
 */
void fg_conn_reply(fg_conn_t *conn, int status, const char *headers,
                   size_t headers_len, const char *body, size_t body_len);

/*
 * A streamed reply: the head at once, then each fg_conn_stream_send() as
 * one HTTP chunk written as it comes (the buffer is drained), then the
 * end, which detaches the request like fg_conn_reply(). A write error
 * closes the connection later, never inside these calls; the request
 * then hears fg_req_client_gone().
 */
void fg_conn_stream_start(fg_conn_t *conn, int status, const char *headers,
                          size_t headers_len);
void fg_conn_stream_send(fg_conn_t *conn, struct evbuffer *data);
void fg_conn_stream_end(fg_conn_t *conn);

/* Bytes of reply the kernel has not taken yet. */
size_t fg_conn_backlog(const fg_conn_t *conn);

/* Closes every connection that is not serving a request (SIGTERM). */
void fg_conn_close_idle(fg_worker_t *w);

/* Closes every connection (exit); their requests hear the client gone. */
void fg_conn_close_all(fg_worker_t *w);

#endif
