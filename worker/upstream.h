#ifndef FG_WORKER_UPSTREAM_H
#define FG_WORKER_UPSTREAM_H

/*
 * The upstream client: libcurl's multi interface driven by the worker's
 * event_base (curl_multi_socket_action from socket events and one timer).
 * Connections are kept alive and reused across requests (the multi owns
 * the connection cache), HTTP/2 is negotiated over TLS where offered, and
 * easy handles are pooled.
 *
 * Every transfer has four deadlines: connect (libcurl), first byte and
 * idle-between-chunks (our timers, re-armed by data), and total (libcurl).
 * The pipeline hears about a transfer through three calls, always from
 * the event loop and never after fg_upstream_cancel():
 *   fg_pipeline_upstream_headers(req)          status and headers known;
 *   fg_pipeline_upstream_data(req, data, len)  body bytes; may pause;
 *   fg_pipeline_upstream_done(req, error)      the transfer ended; @error
 *                                              is NULL or one of the
 *                                              identities below.
 */

#include <stddef.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "common/base/catalog.h"
#include "common/base/errors.h"
#include "worker/request.h"
#include "worker/worker.h"

/* Failure identities, compared by pointer and printable as they are. */
extern const char fg_upstream_err_connect[];
extern const char fg_upstream_err_connect_timeout[];
extern const char fg_upstream_err_first_byte_timeout[];
extern const char fg_upstream_err_idle_timeout[];
extern const char fg_upstream_err_total_timeout[];
extern const char fg_upstream_err_reset[];
extern const char fg_upstream_err_too_large[];
extern const char fg_upstream_err_malformed[];

struct fg_upstream_s {
    fg_req_t          *req;
    const fg_provider_t *provider;
    CURL              *easy;
    struct curl_slist *headers;
    char              *body;              /* request body, owned */
    size_t             body_len;
    long               status;            /* upstream HTTP status */
    char               content_type[128];
    char               retry_after[32];
    int                is_stream;
    int                has_headers;
    int                is_paused;
    int                is_running;        /* in the multi */
    int64_t            started_us;        /* when the attempt began */
    int64_t            first_byte_us;     /* 0 until the first byte */
    struct event      *first_byte_ev;
    struct event      *idle_ev;
    char               curl_error[256];
    struct h1_xfer_s  *h1;                /* plain HTTP/1.1, or NULL:
                                           * libcurl (upstream_h1.c) */
};

/* Sets up the multi handle on w->base. FG_OK or FG_ERR with @err set. */
int fg_upstream_init(fg_worker_t *w, fg_err_t *err);

/* Cancels nothing; frees the multi and the handle pool. At exit only. */
void fg_upstream_cleanup(fg_worker_t *w);

/*
 * Starts POSTing @body (taken, freed by the upstream even on failure) to
 * the provider's /chat/completions. Returns the owned transfer (freed by
 * fg_upstream_free), or NULL with @err set if it could not be started.
 */
fg_upstream_t *fg_upstream_start(fg_req_t *req, const fg_provider_t *p,
                                 char *body, size_t len, int is_stream,
                                 fg_err_t *err);

/*
 * A byte of the reply arrived: the first-byte deadline is met and the
 * idle deadline of a stream restarts. For upstream_h1.c.
 */
void fg_upstream_progress(fg_upstream_t *up);

/* Pauses or resumes receiving (stream back-pressure). */
void fg_upstream_pause(fg_upstream_t *up, int on);

/*
 * Stops the transfer at once (closing its connection if it was mid-way)
 * and frees it. No relay call follows. Accepts NULL. Never call it from
 * inside a libcurl callback.
 */
void fg_upstream_free(fg_upstream_t *up);

/* The request id header and the provider key are never logged. */

#endif
