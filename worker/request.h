#ifndef FG_WORKER_REQUEST_H
#define FG_WORKER_REQUEST_H

/*
 * The request context that threads through the pipeline, the verdict its
 * stages return, and the one function that ends a request.
 *
 * fg_req_t is a small core (ids, connection, timing, the reply's headers,
 * its final status and error), written by http.c at creation and by this
 * module, plus one part per pipeline stage. Each part has exactly one
 * writer, named beside it; every other module only reads it. A stage
 * never fails a request or adds a reply header itself: it returns an
 * fg_verdict_t and the pipeline (pipeline.c) alone acts on it.
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
#include "common/route/router.h"
#include "common/accounts/usage.h"
#include "common/wire/attempt.h"
#include "worker/responses.h"
#include "worker/validate.h"
#include "worker/verdict.h"

typedef struct fg_worker_s     fg_worker_t;
typedef struct fg_upstream_s   fg_upstream_t;

#define FG_REQUEST_ID_MAX 128
#define FG_GATEWAY_ID_SIZE 32    /* "req_" + 24 hex digits + NUL, rounded */

/* Room for the reply headers a request adds (ids, limits, billing). */
#define FG_REQ_HEADERS_MAX 2048

typedef enum {
    FG_REQ_RECEIVED = 0,   /* parsed, not yet answered */
    FG_REQ_UPSTREAM,       /* waiting for the upstream */
    FG_REQ_STREAMING,      /* reply started, relaying chunks */
    FG_REQ_DONE            /* reply handed to the connection */
} fg_req_state_t;

/*
 * A completion the upstream did not count is estimated from the text
 * relayed at this rate (a prompt is counted: common/tokens/tokcount.h).
 */
#define FG_BYTES_PER_TOKEN 4

/* ---- each stage's part of the request --------------------------------- */

/* validate.c (fg_validate_request): the client's body and what it says. */
typedef struct {
    char                     *body;          /* the client's body, owned;
                                              * NULL once the upstream's is
                                              * built, unless the access log
                                              * keeps content */
    fg_jdoc_t                 doc;           /* parsed body, borrows it;
                                              * freed once the upstream
                                              * body is built */
    int                       has_doc;
    fg_usage_api_t            api;           /* the endpoint called: set
                                              * by the pipeline's entry */
    fg_chat_request_t         chat;          /* nodes of doc (valid while
                                              * has_doc), token field */
    char                     *model_requested;   /* owned copy */
    size_t                    messages_start;    /* "messages" in body */
    size_t                    messages_len;
    size_t                    body_len;      /* bytes of body */
    int64_t                   held_bytes;    /* counted in the worker's
                                              * request_bytes */
    /* POST /v1/responses: the client's body (owned) and its document,
     * which rq's spans point into, kept for the reply; body above is
     * their chat-completions translation. */
    char                     *resp_body;
    fg_jdoc_t                 resp_doc;
    int                       has_resp_doc;
    fg_responses_req_t        rq;
    /* The conversation it continues, for the response store (owned;
     * fg_responses_to_chat's @context). */
    char                     *resp_context;
    size_t                    resp_context_len;
} fg_req_validated_t;

/* auth.c (fg_auth_request): the caller's key. */
typedef struct {
    fg_key_record_t           key;           /* copy of the caller's key */
    uint64_t                  subject;       /* fg_limiter_subject(its id) */
    int                       has_key;
} fg_req_auth_t;

/* pipeline.c (route): where the request goes and its worst case. */
typedef struct {
    fg_route_candidate_t     *candidates;    /* the router's order, owned */
    size_t                    n_candidates;
    size_t                    next;          /* the next one to try */
    int                       attempts;      /* attempts started */
    fg_preset_t               preset;        /* the one applied */
    const fg_endpoint_t      *endpoint;      /* the current attempt's (the
                                              * one that answered, at the
                                              * end); NULL before the first */
    const fg_model_t         *model;         /* the endpoint's model, or the
                                              * model asked for before one
                                              * is chosen; borrowed */
    int64_t                   prompt_estimate;   /* tokens: the upper
                                                  * bound, what the
                                                  * reservation covers */
    int64_t                   prompt_lower;  /* tokens: the lower bound,
                                              * what the context check
                                              * rejects on */
    int64_t                   max_output;    /* tokens per choice, as asked
                                              * (or the model's maximum,
                                              * cut to what the context
                                              * window leaves) */
    int64_t                   choices;       /* n */
    int                       is_compressed; /* the prompt was compressed
                                              * (pipeline.c) */
    int64_t                   compressed_messages;   /* removed or cut */
    int64_t                   compressed_tokens;     /* lower bound, less */
} fg_req_route_t;

/* One attempt made, for the usage record and the headers. */
typedef struct {
    const fg_endpoint_t      *endpoint;
    fg_attempt_result_t       result;
} fg_req_tried_t;

/* admit.c (fg_admit_request, fg_admit_settle): what each limit took. */
typedef struct {
    fg_admission_t            key;
    fg_admission_t            model;
    fg_admission_t            provider;
    fg_admission_t            endpoint;
    int                       taken;         /* bit per admission held */
    int64_t                   tokens;        /* the estimate charged */
    fg_limit_kind_t           refused_by;    /* FG_LIMIT_NONE: admitted */
} fg_req_admission_t;

/* meter.c (fg_meter_reserve): the energy held for the worst case. */
typedef struct {
    fg_reservation_t          held;          /* slot -1: nothing held (as
                                              * http.c creates it) */
    int64_t                   max_output;    /* effective max output tokens
                                              * per choice: route's, or
                                              * lower when the balance is
                                              * short of it */
    int                       is_lowered;    /* max_output < route's */
    uint64_t                  durable_at;    /* the ring holds its record
                                              * once its committed count
                                              * reaches this; 0: nothing
                                              * to wait for */
} fg_req_reservation_t;

/* pipeline.c (attempt): the upstream call. */
typedef struct {
    fg_upstream_t            *upstream;      /* owned */
    int                       strip_usage;   /* we asked for usage, not
                                              * the client */
    int                       is_native;     /* a Responses request sent
                                              * as one (responses_native.h),
                                              * not translated to chat */
    int                       is_head_held;  /* a stream's client head
                                              * waits for its first event:
                                              * the attempt may still fail
                                              * over */
    int                       is_health_open;    /* fg_health_begin()
                                              * without its end yet */
    fg_verdict_t             *last_failure;  /* owned: the failed
                                              * attempt's answer, should no
                                              * endpoint be left to fail over
                                              * to; NULL before a failover */
    struct event             *failover_ev;   /* owned; the next attempt
                                              * starts from the loop, not
                                              * from the upstream's done */
    char                      effort_mapped[72]; /* "asked->sent" when
                                              * the attempt's endpoint is
                                              * sent a mapped
                                              * reasoning_effort; "" none */
    fg_req_tried_t            tried[FG_USAGE_MAX_ATTEMPTS];  /* the first
                                              * attempts, in order */
    /* Waiting for the reservation to be durable (the worker's list). */
    struct fg_req_s          *wait_prev, *wait_next;
    int64_t                   wait_until_ms; /* monotonic; 0: not waiting */
} fg_req_attempt_t;

/*
 * What the relay asks of the pipeline when a stream's usage arrives: the
 * request is settled now (its charge goes into this very chunk). Returns
 * @json (@len bytes, a JSON object) with the settlement's members spliced
 * in, malloc'd (the caller frees it), in *@out_len; NULL when @json is
 * NULL (settle only).
 */
typedef char *(*fg_relay_settle_pt)(struct fg_req_s *req, const char *json,
                                    size_t len, size_t *out_len);

typedef struct fg_replyfix_heal_s fg_replyfix_heal_t;
typedef struct fg_responses_stream_s fg_responses_stream_t;

/* relay.c: what the upstream sent, and what it said it used. */
typedef struct {
    fg_relay_settle_pt        settle;        /* set at fg_relay_stream_init */
    struct evbuffer          *upstream_body; /* non-stream reply, owned */
    struct evbuffer          *stream_out;    /* events to send, owned */
    fg_sse_parser_t           sse;
    int                       has_sse;
    int                       saw_done;
    int                       saw_event;     /* a data event parsed */
    const char               *error;         /* an fg_upstream_err_* */
    fg_upstream_kind_t        upstream_kind; /* how the upstream failed */
    int64_t                   relayed_bytes; /* completion text sent */
    int                       has_usage;     /* the upstream reported it */
    int64_t                   prompt_tokens;
    int64_t                   completion_tokens;
    int64_t                   reasoning_tokens;
    int64_t                   cached_tokens;
    int                       json_repaired; /* strings repaired
                                              * (replyfix.h) */
    char                     *fixed_body;    /* the non-stream reply as
                                              * replyfix.h changed it, or
                                              * a native one with the
                                              * client's "store", owned;
                                              * NULL: unchanged */
    fg_replyfix_heal_t       *heal;          /* a healed stream's held
                                              * content, owned (replyfix.c) */
    fg_responses_stream_t    *resp_stream;   /* a Responses stream's
                                              * translation, owned */
    char                     *native_output; /* a native Responses
                                              * reply's output items (a
                                              * stream's final event),
                                              * for the store (owned) */
    size_t                    native_output_len;
    char                      native_id[72]; /* its response's id; "" */
} fg_req_relay_t;

/* meter.c (fg_meter_charge): the usage charged and what it cost. */
typedef struct {
    int                       is_metered;    /* the charge is final */
    int                       usage_estimated;   /* from relayed bytes */
    int                       is_usage_invalid;  /* the provider's usage
                                                  * was impossible: the
                                                  * worst case charged */
    int64_t                   prompt_tokens;
    int64_t                   completion_tokens;
    int64_t                   reasoning_tokens;
    int64_t                   cached_tokens;
    int64_t                   charged_micro;
    int64_t                   uncharged_micro;   /* priced beyond the
                                                  * reservation, not taken */
    int64_t                   balance_micro;     /* after; -1 unknown */
} fg_req_settlement_t;

/* footprint.c (fg_footprint_compute): the charged usage's impact. */
typedef struct {
    fg_impact_t               impact;
    int                       has_impact;
} fg_req_footprint_t;

/* ---- the request ------------------------------------------------------ */

typedef struct fg_req_s {
    /* core: http.c at creation, then request.c; pipeline.c sets state
     * FG_REQ_UPSTREAM and error from a verdict */
    fg_worker_t              *worker;
    fg_httpconn_t            *conn;          /* NULL once the reply is
                                              * handed over or the client
                                              * left */
    const fg_http_head_t     *head;          /* NULL after dispatch */
    const char               *in_body;       /* likewise */
    size_t                    in_body_len;
    char                      headers[FG_REQ_HEADERS_MAX];  /* reply's */
    size_t                    headers_len;
    const char               *id;            /* = gateway_id: the reply's
                                              * x-request-id, logs, the
                                              * record's key */
    char                      gateway_id[FG_GATEWAY_ID_SIZE];  /* ours,
                                              * unique */
    char                      client_id[FG_REQUEST_ID_MAX + 1];  /* the
                                              * client's valid x-request-id,
                                              * whole, echoed in
                                              * x-client-request-id; ""
                                              * when none */
    const char               *cors_origin;   /* Access-Control-Allow-Origin
                                              * of every reply: "*" or the
                                              * allowed Origin (borrowed
                                              * from the worker's conf);
                                              * NULL: none */
    int                       cors_vary;     /* replies say Vary: Origin */
    int                       crash_slot;    /* in the worker's list of
                                              * requests in flight, for a
                                              * crash report (worker.c);
                                              * -1: not listed */
    fg_req_state_t            state;
    int                       is_client_gone;
    int                       is_finishing;
    int                       is_accounted;  /* fg_req_account() ran */
    int64_t                   started_us;
    int64_t                   started_unix_ms;
    int64_t                   bytes_in;      /* request body bytes */
    int64_t                   bytes_out;     /* reply body bytes sent */
    char                      client_addr[64];
    int64_t                   client_conn_entry;   /* client.c's, + 1 */
    int                       status;        /* HTTP status sent */
    fg_error_code_t           error;         /* FG_E_NONE on success */
    struct event              finish_ev;     /* deferred finish */

    /* the stages' parts, in pipeline order; one writer each (above) */
    fg_req_validated_t        validated;
    fg_req_auth_t             auth;
    fg_req_route_t            route;
    fg_req_admission_t        admission;
    fg_req_reservation_t      reservation;
    fg_req_attempt_t          attempt;
    fg_req_relay_t            relay;
    fg_req_settlement_t       settlement;
    fg_req_footprint_t        footprint;
} fg_req_t;

/*
 * Sends a complete JSON reply (@body is copied) with the standard headers
 * (content type, x-request-id, CORS) and marks the request done; a 204
 * has no body and no content type. Safe when the client is gone (then
 * only the bookkeeping happens).
 */
void fg_req_reply(fg_req_t *req, int status, const char *body, size_t len);

/* The Responses API id of @req ("resp_" and the gateway id's own part),
 * NUL-terminated in @id of @size bytes (FG_GATEWAY_ID_SIZE + 8 hold it). */
void fg_req_response_id(const fg_req_t *req, char *id, size_t size);

/* Fills @out from @req (strings borrowed from @req). */
void fg_req_summarise(const fg_req_t *req, fg_request_summary_t *out);

/* Sends the OpenAI-format error for @err and marks the request done. */
void fg_req_reply_error(fg_req_t *req, const fg_err_t *err);

/* Shorthand: an error built from a code and a message. For the routes
 * (http.c, models.c); pipeline stages return a verdict instead. */
void fg_req_fail(fg_req_t *req, fg_error_code_t code, const char *param,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Starts a streamed reply: status 200 and the reply headers with
 * @content_type and x-request-id. The request is then STREAMING.
 */
void fg_req_stream_start(fg_req_t *req, const char *content_type);

/* Sends (and drains) @out to the client of a streaming request; counts
 * its bytes. A no-op once the client is gone. */
void fg_req_stream_send(fg_req_t *req, struct evbuffer *out);

/* Ends a streamed reply: settles the request, then writes the stream's
 * end. The request is DONE. */
void fg_req_stream_end(fg_req_t *req);

/* Bytes of reply the client has not taken yet (0 once it is gone). */
size_t fg_req_client_backlog(const fg_req_t *req);

/*
 * Ends the request: cancels the upstream call, releases everything the
 * request holds, updates the counters and frees it. Idempotent while the
 * request lives; every path that ends a request calls it. Never call it
 * from inside a libcurl callback: use fg_req_finish_later().
 */
void fg_req_finish(fg_req_t *req);

/*
 * Settles what the request counts for (pipeline.c's settle stage: the
 * charge, its impact, the limits' correction, metrics, the access-log
 * line and the usage record). Once per request; before its reply's last
 * byte is written, so a client that has read a reply sees its effects in
 * its next request (on any worker). fg_req_finish() calls it for a
 * request that never replied.
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
 * Adds "@name: @value" to the reply's headers. One that does not fit in
 * FG_REQ_HEADERS_MAX is left out and logged (the headers added are all
 * short: this does not happen).
 */
void fg_req_add_header(fg_req_t *req, const char *name, const char *value);

/* Adds Retry-After (whole seconds, rounded up) and retry-after-ms for a
 * wait of @ms: the one place a reply's pair is written. */
void fg_req_add_retry_after(fg_req_t *req, int64_t ms);

/* The value of the request header @name (any case), or NULL. Only while
 * http.c dispatches the request (req->head is set). */
const char *fg_req_header(const fg_req_t *req, const char *name);

/* The client took every byte of reply sent so far: a paused stream goes
 * on. Called by the connection. */
void fg_req_client_drained(fg_req_t *req);

#endif
