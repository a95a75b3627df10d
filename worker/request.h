#ifndef FG_WORKER_REQUEST_H
#define FG_WORKER_REQUEST_H

/*
 * The request context that threads through the pipeline stages, and the one
 * function that ends a request.
 *
 * Ownership: fg_req_t is created by http.c for each HTTP request and freed
 * only by fg_req_finish(). It borrows its connection until the reply is
 * handed to it (or the client goes away), and the parsed request head only
 * while http.c dispatches it; it owns its upstream call, its copy of the
 * body, the reply headers it collects and its timers.
 */

#include <stdint.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include "common/base/catalog.h"
#include "common/base/errors.h"
#include "common/wire/httpparse.h"
#include "common/wire/httpserver.h"
#include "common/accounts/impact.h"
#include "common/accounts/keytable.h"
#include "common/accounts/ledger.h"
#include "common/accounts/limiter.h"
#include "common/wire/sse.h"
#include "common/base/summary.h"
#include "worker/validate.h"

typedef struct fg_worker_s     fg_worker_t;
typedef struct fg_upstream_s   fg_upstream_t;

#define FG_REQUEST_ID_MAX 128

/* Room for the reply headers a request adds (ids, limits, billing). */
#define FG_REQ_HEADERS_MAX 2048

typedef enum {
    FG_REQ_RECEIVED = 0,   /* parsed, not yet answered */
    FG_REQ_UPSTREAM,       /* waiting for the upstream */
    FG_REQ_STREAMING,      /* reply started, relaying chunks */
    FG_REQ_DONE            /* reply handed to the connection */
} fg_req_state_t;

/*
 * Tokens are estimated from bytes at this rate wherever no count exists
 * yet: a prompt from the request body, a completion the upstream did not
 * count from the text relayed. Four bytes a token over-estimates English
 * chat JSON a little, which is the side a reservation wants.
 */
#define FG_BYTES_PER_TOKEN 4

typedef struct fg_req_s {
    fg_worker_t              *worker;
    fg_httpconn_t            *conn;          /* NULL once the reply is
                                              * handed over or the client
                                              * left */
    const fg_http_head_t     *head;          /* NULL after dispatch */
    const char               *in_body;       /* likewise */
    size_t                    in_body_len;
    char                      headers[FG_REQ_HEADERS_MAX];  /* reply's */
    size_t                    headers_len;
    char                      id[FG_REQUEST_ID_MAX + 1];
    fg_req_state_t            state;
    int                       is_client_gone;
    int                       is_finishing;
    int                       is_accounted;  /* fg_req_account() ran */
    int64_t                   started_us;

    /* authenticate (auth.c) */
    fg_key_record_t           key;           /* copy of the caller's key */
    uint64_t                  key_subject;   /* fg_limiter_subject(its id) */
    int                       has_key;

    /* chat completions */
    char                     *body;          /* the client's body, owned */
    fg_jdoc_t                 doc;           /* parsed body, borrows it */
    int                       has_doc;
    fg_chat_request_t         chat;          /* nodes of doc */
    char                     *model_requested;   /* owned copy */
    const fg_model_t         *model;         /* borrowed from the catalog */
    fg_upstream_t            *upstream;      /* owned */
    int                       status;        /* HTTP status sent */
    fg_error_code_t           error;         /* FG_E_NONE on success */

    /* admit (admit.c): what each limit took, until settled */
    fg_admission_t            admit_key;
    fg_admission_t            admit_model;
    fg_admission_t            admit_provider;
    int                       admit_taken;   /* bit per admission held */
    int64_t                   admit_tokens;  /* the estimate charged */

    /* the worst case the limits and the reservation count (chat.c) */
    int64_t                   prompt_estimate;   /* tokens */
    int64_t                   max_output;    /* tokens, per choice */
    int64_t                   choices;       /* n */

    /* meter (meter.c): the energy reservation and the charge */
    fg_reservation_t          reservation;
    int64_t                   relayed_bytes;     /* completion text sent */
    int                       strip_usage;   /* we asked for it, not they */
    int64_t                   lowered_max_tokens;  /* 0: not lowered */
    int                       is_metered;    /* settled: charge is final */
    int                       usage_estimated;
    int64_t                   charged_micro;
    int64_t                   balance_micro;     /* after the charge */

    /* footprint (footprint.c) */
    fg_impact_t               impact;
    int                       has_impact;

    /* what happened, for the summary (common/base/summary.h) */
    int64_t                   started_unix_ms;
    int64_t                   bytes_in;      /* request body bytes */
    char                      client_addr[64];
    fg_limit_kind_t           limit_kind;    /* set by the admit stage */
    fg_upstream_kind_t        upstream_kind; /* set by relay.c */
    int                       has_usage;     /* the upstream reported it */
    int64_t                   prompt_tokens;
    int64_t                   completion_tokens;
    int64_t                   reasoning_tokens;
    int64_t                   cached_tokens;
    int64_t                   bytes_out;     /* reply body bytes sent */

    /* relay (relay.c) */
    struct evbuffer          *upstream_body; /* non-stream reply, owned */
    struct evbuffer          *stream_out;    /* events to send, owned */
    fg_sse_parser_t           sse;
    int                       has_sse;
    int                       saw_done;
    const char               *relay_error;   /* an fg_upstream_err_* */

    struct event              finish_ev;     /* deferred finish */
} fg_req_t;

/*
 * Sends a complete JSON reply (@body is copied) with the standard headers
 * (content type, x-request-id) and marks the request done. Safe when the
 * client is gone (then only the bookkeeping happens).
 */
void fg_req_reply(fg_req_t *req, int status, const char *body, size_t len);

/* Fills @out from @req (strings borrowed from @req). */
void fg_req_summarise(const fg_req_t *req, fg_request_summary_t *out);

/* Sends the OpenAI-format error for @err and marks the request done. */
void fg_req_reply_error(fg_req_t *req, const fg_err_t *err);

/* Shorthand: an error built from a code and a message. */
void fg_req_fail(fg_req_t *req, fg_error_code_t code, const char *param,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Ends the request: cancels the upstream call, releases everything the
 * request holds, updates the counters and frees it. Idempotent while the
 * request lives; every path that ends a request calls it. Never call it
 * from inside a libcurl callback: use fg_req_finish_later().
 */
void fg_req_finish(fg_req_t *req);

/*
 * Settles what the request counts for: the charge, its impact, the
 * limits' correction, metrics, the access-log line and the usage record.
 * Once per request; before its reply's last byte is written, so a client
 * that has read a reply sees its effects in its next request (on any
 * worker). fg_req_finish() calls it for a request that never replied.
 */
void fg_req_account(fg_req_t *req);

/* Schedules fg_req_finish() for the next loop iteration. */
void fg_req_finish_later(fg_req_t *req);

/*
 * The client went away (connection closed). Called by the connection
 * tracker; cancels the upstream at once and finishes the request later.
 */
void fg_req_client_gone(fg_req_t *req);

/* Prepares the deferred-finish event; http.c calls it once per request. */
void fg_req_init_finish(fg_req_t *req, struct event_base *base);

/*
 * Adds Content-Type, x-request-id and the rate-limit headers to the reply
 * headers. For replies started by hand (streams).
 */
void fg_req_add_common_headers(fg_req_t *req, const char *content_type);

/*
 * Adds "@name: @value" to the reply's headers. One that does not fit in
 * FG_REQ_HEADERS_MAX is left out and logged (the headers added are all
 * short: this does not happen).
 */
void fg_req_add_header(fg_req_t *req, const char *name, const char *value);

/* The value of the request header @name (any case), or NULL. Only while
 * http.c dispatches the request (req->head is set). */
const char *fg_req_header(const fg_req_t *req, const char *name);

/* The client took every byte of reply sent so far: a paused stream goes
 * on. Called by the connection. */
void fg_req_client_drained(fg_req_t *req);

#endif
