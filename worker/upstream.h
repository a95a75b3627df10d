#ifndef FG_WORKER_UPSTREAM_H
#define FG_WORKER_UPSTREAM_H

/*
 * One upstream interface: an attempt POSTs a chat-completions body to one
 * target and hands the reply to its owner as it comes. Two clients
 * implement it behind one table of operations (nginx's upstream module,
 * h2o's httpclient), chosen once per attempt from the target:
 *   - the native HTTP/1.1 client (upstream_h1.c) for a plain http://
 *     address at an IP literal or localhost, when upstream.native_http
 *     is on;
 *   - libcurl's multi interface (upstream_curl.c) for everything else:
 *     https and HTTP/2, names to resolve.
 * upstream.c holds what they share: the choice, the deadlines (first
 * byte, idle between chunks, total), the reply's status and headers, the
 * progress marks, and the one result each attempt ends with.
 *
 * The owner hears about an attempt through its handler, always from the
 * event loop and never after fg_upstream_cancel():
 *   headers(owner)             status and headers are known (up->status,
 *                              up->content_type);
 *   data(owner, data, len)     body bytes; returns FG_UPSTREAM_CONTINUE,
 *                              _PAUSE (the same bytes are offered again
 *                              on resume) or _ABORT (the attempt ends);
 *   done(owner, result, detail)  the attempt ended, exactly once: @result
 *                              (common/wire/attempt.h) says how, @detail
 *                              is NULL on a whole reply or one of the
 *                              fg_upstream_err_* below, for logs and the
 *                              client's error message.
 *
 * No client retries on its own: a failed attempt ends with its result,
 * and whether to try again, and where, is the owner's decision, carried
 * out with fg_upstream_reinit(). (libcurl re-sends a request by itself
 * only on a reused connection that died before it wrote a byte of the
 * body, which provably never delivered a request: upstream_curl.c.)
 */

#include <stddef.h>
#include <stdint.h>

#include "common/base/catalog.h"
#include "common/base/errors.h"
#include "common/wire/attempt.h"
#include "worker/worker.h"

/* What the owner's data handler returns. */
#define FG_UPSTREAM_CONTINUE 0
#define FG_UPSTREAM_PAUSE    1
#define FG_UPSTREAM_ABORT    2

/*
 * A reply head (status line, fields, and any 1xx heads before it) larger
 * than this is malformed, with either client and however it arrives.
 */
#define FG_UPSTREAM_HEAD_MAX (64 * 1024)

/* Failure details, compared by pointer and printable as they are. */
extern const char fg_upstream_err_connect[];
extern const char fg_upstream_err_connect_timeout[];
extern const char fg_upstream_err_first_byte_timeout[];
extern const char fg_upstream_err_idle_timeout[];
extern const char fg_upstream_err_total_timeout[];
extern const char fg_upstream_err_reset[];
extern const char fg_upstream_err_too_large[];
extern const char fg_upstream_err_malformed[];
/* A Responses stream's "error" or response.failed event: its words are
 * the provider's, not relayed. */
extern const char fg_upstream_err_failed[];
/* Not the provider's fault: this process had no descriptor left for a
 * connection (EMFILE, ENFILE, ENOBUFS, ENOMEM); the request was not sent
 * and the client hears 503 service_unavailable, not 502. */
extern const char fg_upstream_err_no_descriptor[];

/* 1 when @detail is one of the timeouts above (connect, first byte, idle,
 * total): the client hears 504, not 502. */
int fg_upstream_err_is_timeout(const char *detail);

typedef struct fg_upstream_s fg_upstream_t;

typedef struct {
    void (*headers)(void *owner);
    int  (*data)(void *owner, const char *data, size_t len);
    void (*done)(void *owner, const fg_attempt_result_t *result,
                 const char *detail);
} fg_upstream_handler_t;

/* Where an attempt goes. Borrowed: both must outlive the attempt. */
typedef struct {
    const fg_provider_t *provider;   /* base_url, key, headers, deadlines */
    const char          *request_id; /* sent as X-Request-Id */
    const char          *api_path;   /* after the base URL:
                                        "/chat/completions" (NULL too),
                                        "/embeddings" */
} fg_upstream_target_t;

/*
 * A client: the operations the shared code calls, one table per client.
 * Each sees only the attempt it is given; up->client is its own state.
 */
typedef struct {
    const char *name;                       /* "http1", "libcurl" */
    /* Begins the attempt @up describes, on up->client when reinit left
     * one. FG_OK, or FG_ERR with @err set when nothing was started (no
     * done call follows). */
    int  (*start)(fg_upstream_t *up, fg_err_t *err);
    /* Stops or resumes receiving (the marks in @up are the shared
     * code's; the client only holds the bytes back). */
    void (*pause)(fg_upstream_t *up, int on);
    /* Stops a running attempt at once, closing its connection if it is
     * mid-way; updates up->is_connected and up->is_request_sent first.
     * No done call follows. A no-op on an ended attempt. */
    void (*cancel)(fg_upstream_t *up);
    /* Readies the client's state of an ended attempt for another start
     * by the same client, keeping what serves again (the easy handle,
     * the read buffer) and forgetting the rest. When a new target calls
     * for the other client, free is called instead. */
    void (*reinit)(fg_upstream_t *up);
    /* Releases the client's state of an ended attempt. Accepts one
     * never started. */
    void (*free)(fg_upstream_t *up);
} fg_upstream_ops_t;

struct fg_upstream_s {
    fg_worker_t                 *worker;
    const fg_upstream_ops_t     *ops;        /* chosen per attempt */
    void                        *client;     /* ops' own state, owned */
    const fg_upstream_handler_t *handler;
    void                        *owner;
    fg_upstream_target_t         target;
    const fg_provider_t         *provider;   /* target.provider */
    char                        *body;       /* request body, owned */
    size_t                       body_len;
    int                          is_stream;

    /* The reply: written by the clients through the calls below, read
     * by the owner from its headers handler on. */
    long                         status;     /* upstream HTTP status */
    char                         content_type[128];
    int64_t                      retry_after_ms;   /* -1: none */

    /* Progress marks: what decides the outcome of a failure. */
    int                          is_connected;
    int                          is_request_sent;  /* every byte written */
    int                          has_headers;
    int                          is_paused;
    int                          is_running;
    int64_t                      started_us;       /* fg_mono_us() */
    int64_t                      first_byte_us;    /* 0 until the first */
    fg_attempt_result_t          result;     /* outcome NONE until done */

    struct event                *first_byte_ev;
    struct event                *idle_ev;
    struct event                *total_ev;
};

/* Sets up both clients on w->base. FG_OK or FG_ERR with @err set. */
int fg_upstream_init(fg_worker_t *w, fg_err_t *err);

/* Cancels nothing; frees the clients' worker-wide state. At exit only. */
void fg_upstream_cleanup(fg_worker_t *w);

/*
 * Starts an attempt: POSTs @body (taken, freed by the upstream even on
 * failure) to @target's /chat/completions with the client the target
 * calls for. @handler and @owner are borrowed for the attempt's life.
 * Returns the owned attempt (freed by fg_upstream_free), or NULL with
 * @err set if it could not be started.
 */
fg_upstream_t *fg_upstream_start(fg_worker_t *w,
                                 const fg_upstream_target_t *target,
                                 char *body, size_t len, int is_stream,
                                 const fg_upstream_handler_t *handler,
                                 void *owner, fg_err_t *err);

/*
 * Starts @up again at @target with @body (taken, freed even on failure),
 * a body built for that endpoint (model id, token limit and translations
 * differ), choosing the client anew. @up must have ended (done called) or
 * been cancelled; everything of the old attempt is forgotten. FG_OK, or
 * FG_ERR with @err set: @up is then ended, with no done call, and may be
 * reinitialised again or freed.
 */
int fg_upstream_reinit(fg_upstream_t *up, const fg_upstream_target_t *target,
                       char *body, size_t len, fg_err_t *err);

/* Pauses or resumes receiving (stream back-pressure). */
void fg_upstream_pause(fg_upstream_t *up, int on);

/*
 * Stops a running attempt at once (closing its connection if it was
 * mid-way); its result says "cancelled". No handler call follows. A no-op
 * on an ended attempt or NULL. Never call it from inside a handler call.
 */
void fg_upstream_cancel(fg_upstream_t *up);

/* The client serving the current attempt ("http1", "libcurl"). */
const char *fg_upstream_client_name(const fg_upstream_t *up);

/* Cancels (as above) and frees @up. Accepts NULL. */
void fg_upstream_free(fg_upstream_t *up);

/* ---- for the clients (upstream_h1.c, upstream_curl.c) -------------- */

extern const fg_upstream_ops_t fg_upstream_h1_ops;
extern const fg_upstream_ops_t fg_upstream_curl_ops;

/* Worker-wide set-up and tear-down of each client. */
int fg_upstream_curl_init(fg_worker_t *w, fg_err_t *err);
void fg_upstream_curl_cleanup(fg_worker_t *w);
void fg_upstream_h1_cleanup(fg_worker_t *w);

/* 1 when the native client serves @p (see above). */
int fg_upstream_h1_serves(fg_worker_t *w, const fg_provider_t *p);

/* A reply byte arrived: the first-byte deadline is met, the idle
 * deadline of a stream restarts. */
void fg_upstream_progress(fg_upstream_t *up);

/* A new reply head begins (after a 1xx): forget the last one's fields. */
void fg_upstream_head_begin(fg_upstream_t *up);

/* One field of the reply head; the ones the relay needs are kept. */
void fg_upstream_head_field(fg_upstream_t *up, const char *name,
                            size_t name_len, const char *value,
                            size_t value_len);

/* The head is whole, with @status (>= 200): the owner is told. */
void fg_upstream_head_done(fg_upstream_t *up, long status);

/* Offers body bytes to the owner; returns what its handler said. */
int fg_upstream_deliver(fg_upstream_t *up, const char *data, size_t len);

/*
 * Ends the attempt: with a whole reply when @detail is NULL, else as the
 * failure @detail names, the outcome following from the progress marks.
 * The client has already stopped its transfer. Calls done once; never
 * from inside a libcurl callback.
 */
void fg_upstream_end(fg_upstream_t *up, const char *detail);

/* The path the attempt @up posts to after its provider's base URL:
 * target.api_path, "/chat/completions" when it names none. */
const char *fg_upstream_api_path(const fg_upstream_t *up);

#endif
