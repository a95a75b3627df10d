#ifndef FG_COMMON_HTTPSERVER_H
#define FG_COMMON_HTTPSERVER_H

/*
 * The HTTP/1.1 server every listener of the product runs on (the public
 * API, the metrics listener, the admin API): connections on a libevent
 * base, requests parsed in place (common/wire/httpparse), handed whole
 * to a dispatch callback, and replies written with one writev(2) straight
 * from the caller's pieces; only what the kernel does not take waits in
 * an output buffer. No read event is switched off between requests, so a
 * kept-alive request costs the poll wake-up, one read and one write.
 *
 * Each server has its own limits (fg_httpserver_limits_t):
 *   - max_connections open at once: accept pauses at the cap;
 *   - max_header_bytes (431) and max_body_bytes (413);
 *   - header_timeout_ms from a request's first byte (or from accept) to
 *     the end of its head, body_timeout_ms from its first byte to its
 *     last: a slow or silent client is closed;
 *   - keepalive_timeout_ms between requests;
 *   - send_timeout_ms without write progress while output waits (only
 *     progress restarts it, never another request served);
 *   - body_budget_bytes: the buffers of all bodies being received at
 *     once; a body that would pass it is refused with 503
 *     body_buffer_full (Retry-After: 1, retry-after-ms: 1000) before it
 *     is read.
 * A connection is not read while its unsent output is over
 * FG_HTTPSERVER_MAX_UNSENT_BYTES.
 * A request the server cannot take (malformed, too large, a version or a
 * transfer coding not spoken) is answered in OpenAI's error format
 * (common/base/errors.h), never HTML, and the connection is closed after
 * a lingering read, so that the client sees the reply, not a reset.
 *
 * One request at a time is served per connection; pipelined requests wait
 * in the input buffer (bounded) and are answered in order, as long as
 * their replies are taken (FG_HTTPSERVER_MAX_UNSENT_BYTES). While one is
 * served the connection keeps reading, so a client that closes is seen at
 * once: the context attached to the request (fg_httpconn_attach) hears
 * client_gone. A streamed reply tells it client_drained whenever its
 * output is all taken, so a relay can pause its producer meanwhile.
 *
 * The server knows nothing of what it serves: no keys, no money, no
 * routes. Single-threaded: every call on a server and its connections is
 * made on the thread running its event base.
 *
 * Ownership: fg_httpserver_new() returns a server freed with
 * fg_httpserver_free(). Connections are the server's: created on accept,
 * freed when they close, never inside a call that uses them.
 */

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/base/errors.h"
#include "common/wire/cidr.h"
#include "common/wire/httpparse.h"

/* Listening sockets one server accepts on, at most. */
#define FG_HTTPSERVER_MAX_LISTENERS 8

typedef struct fg_httpserver_s fg_httpserver_t;
typedef struct fg_httpconn_s   fg_httpconn_t;

typedef struct {
    const char *name;                /* for the logs ("public"); static */
    int64_t     max_connections;     /* open at once */
    int64_t     max_header_bytes;    /* request line and fields */
    int64_t     max_body_bytes;      /* the decoded body */
    int64_t     header_timeout_ms;   /* first byte to the head's end */
    int64_t     body_timeout_ms;     /* first byte to the body's end */
    int64_t     keepalive_timeout_ms;   /* idle between requests */
    int64_t     send_timeout_ms;     /* output waiting without progress */
    int64_t              body_budget_bytes;   /* all partly received bodies; 0: none */
    /* Every connection starts with a PROXY protocol header (v1 or v2,
     * common/wire/proxyproto.h), read before anything else; one without
     * it is closed. The client it names is the connection's address when
     * the peer is in @trusted (borrowed; NULL: none). */
    int                  proxy_protocol;
    const fg_cidr_set_t *trusted;
    /* Descriptors from this one up are kept for others (upstream
     * connections): a connection accepted on one is answered 503 at once
     * and closed, and accepting pauses as after EMFILE. 0: none. */
    int64_t              fd_ceiling;
} fg_httpserver_limits_t;

/*
 * Reading a connection pauses while more reply bytes than this wait for
 * its client (a few socket buffers): a client that pipelines requests and
 * never reads their replies is read no more, and costs no more than this.
 */
#define FG_HTTPSERVER_MAX_UNSENT_BYTES (256 * 1024)

/*
 * What the server calls. Only request is required; @arg is the one given
 * to fg_httpserver_new(), @ctx the one given to fg_httpconn_attach().
 */
typedef struct {
    /*
     * A whole request. @head and @body (@body_len bytes, decoded from
     * chunks if need be) are borrowed for this call only. The handler
     * replies now or later with fg_httpconn_reply*() or a stream; until
     * then the connection serves nothing else.
     */
    void (*request)(void *arg, fg_httpconn_t *conn,
                    const fg_http_head_t *head, const char *body,
                    size_t body_len);
    /*
     * A request the server refuses with @err (a protocol error). The
     * handler must reply now, with fg_httpconn_reply_error() or its own
     * body; when NULL the server replies with @err itself.
     */
    void (*refuse)(void *arg, fg_httpconn_t *conn, const fg_err_t *err);
    /*
     * The head of a request whose body has not all arrived, before any
     * of the rest is read (and before "100 Continue"), so that a request
     * the head alone condemns (no such route, no valid key) costs no
     * body. @head is borrowed for this call only. Return 1 to read the
     * body (request is called once it is in); 0 after replying now with
     * fg_httpconn_reply*(): the body is not read and the connection
     * closes after the reply. NULL: every body is read.
     */
    int  (*head)(void *arg, fg_httpconn_t *conn, const fg_http_head_t *head);
    /* The client left before the reply @ctx waits on was sent; @ctx must
     * not use its connection again. */
    void (*client_gone)(void *ctx);
    /* The client took every byte of the streamed reply sent so far. */
    void (*client_drained)(void *ctx);
    /* Whether to accept on this wake-up (0: let it pass; the socket is
     * asked again on the next pass of the loop). NULL: always. */
    int  (*may_accept)(void *arg);
    /* The number of open connections became @connections. */
    void (*count_changed)(void *arg, int64_t connections);
    /*
     * A connection was accepted on descriptor @fd from @addr (the peer's
     * address as accept(2) gave it, or the client a trusted peer's PROXY
     * header named, once that header is read). FG_OK serves it; *@tag is kept for
     * closed(). FG_ERR refuses it with @err: the server answers @err
     * (its status, JSON, FG_RETRY_AFTER_1S_LINES, Connection: close) and closes
     * after a lingering read, and closed() is not called. NULL: every
     * connection is served.
     */
    int  (*admit)(void *arg, int fd, const struct sockaddr *addr,
                  uint64_t *tag, fg_err_t *err);
    /* A connection admit() let in closed; @tag is what admit() set. */
    void (*closed)(void *arg, uint64_t tag);
} fg_httpserver_handler_t;

/*
 * A server on @base with @limits (copied) serving through @handler
 * (copied) with @arg (borrowed). Cannot fail (aborts on out of memory).
 */
fg_httpserver_t *fg_httpserver_new(struct event_base *base,
                                   const fg_httpserver_limits_t *limits,
                                   const fg_httpserver_handler_t *handler,
                                   void *arg);

/*
 * Accepts on @fd, a listening socket (non-blocking). The server closes
 * its copy of @fd when it stops listening. Returns FG_OK, or FG_ERR with
 * @err set (too many listeners, or the event could not be added).
 */
int fg_httpserver_listen(fg_httpserver_t *srv, int fd, fg_err_t *err);

/* Takes over @fd, a connection accepted elsewhere from @addr. */
void fg_httpserver_adopt(fg_httpserver_t *srv, int fd,
                         const struct sockaddr *addr);

/*
 * Stops accepting for good and closes the server's copies of its
 * listening sockets. Every reply from now on says Connection: close.
 * With @close_idle, connections with no request in progress are closed
 * now, and the others as soon as their reply is out. Idempotent.
 */
void fg_httpserver_drain(fg_httpserver_t *srv, int close_idle);

/* Closes every connection; attached requests hear client_gone. */
void fg_httpserver_close_all(fg_httpserver_t *srv);

/* Closes everything (as fg_httpserver_close_all) and frees @srv. NULL
 * is accepted. */
void fg_httpserver_free(fg_httpserver_t *srv);

/* Connections open now. */
int64_t fg_httpserver_connections(const fg_httpserver_t *srv);

/*
 * Attaches @ctx to the request being served on @conn: it hears
 * client_gone or client_drained until a reply ends the request.
 */
void fg_httpconn_attach(fg_httpconn_t *conn, void *ctx);

/*
 * The peer's address as text ("127.0.0.1", "unix"; "" when unknown), in
 * FG_HTTPCONN_PEER_MAX bytes NUL-padded, so that it may be copied whole;
 * borrowed.
 */
#define FG_HTTPCONN_PEER_MAX 64

const char *fg_httpconn_peer(const fg_httpconn_t *conn);

/* The same address as a socket address (AF_UNSPEC when unknown);
 * borrowed. */
const struct sockaddr *fg_httpconn_peer_addr(const fg_httpconn_t *conn);

/*
 * Sends a complete reply to the request on @conn: the status line, Date,
 * Content-Length and Connection as the connection needs, then @headers
 * (whole "Name: value\r\n" lines) and @body (dropped for HEAD). The
 * request is detached; @conn may be closed by the time this returns (a
 * write error), so the caller keeps no use of it.
 */
void fg_httpconn_reply(fg_httpconn_t *conn, int status, const char *headers,
                       size_t headers_len, const char *body,
                       size_t body_len);

/*
 * Replies with the OpenAI-format body of @err and its status, as JSON,
 * after @headers (may be NULL). Like fg_httpconn_reply() otherwise.
 */
void fg_httpconn_reply_error(fg_httpconn_t *conn, const fg_err_t *err,
                             const char *headers, size_t headers_len);

/*
 * A streamed reply: the head at once, then each fg_httpconn_stream_send()
 * as one HTTP chunk written as it comes (@data is drained), then the end,
 * which detaches the request like fg_httpconn_reply(). A write error
 * closes the connection later, never inside these calls; the attached
 * context then hears client_gone.
 */
void fg_httpconn_stream_start(fg_httpconn_t *conn, int status,
                              const char *headers, size_t headers_len);
void fg_httpconn_stream_send(fg_httpconn_t *conn, struct evbuffer *data);
void fg_httpconn_stream_end(fg_httpconn_t *conn);

/* Bytes of reply the kernel has not taken yet. */
size_t fg_httpconn_backlog(const fg_httpconn_t *conn);

/* The reason phrase for @status ("Not Found"); never NULL. */
const char *fg_http_reason(int status);

#endif
