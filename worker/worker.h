#ifndef FG_WORKER_WORKER_H
#define FG_WORKER_WORKER_H

/*
 * A worker process: one libevent event_base serving HTTP/1.1 (the server
 * of common/wire/httpserver.h, set up by conn.c for the public listener
 * and by metrics_http.c for the metrics one) on the listening sockets
 * inherited from the master, and libcurl's multi
 * interface on the same base for upstream calls. No threads, no blocking
 * calls after start-up.
 *
 * Signals (libevent signal events, so handlers run in the loop):
 *   SIGQUIT  graceful: stop accepting, answer in-flight and the next
 *            request of each kept-alive connection with Connection: close,
 *            exit when none is left or at shutdown_timeout (reload);
 *   SIGTERM  drain: stop accepting, close idle connections, finish
 *   SIGINT   in-flight requests up to shutdown_timeout, then exit;
 *   SIGUSR1  reopen the log file.
 */

#include <stdint.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "common/base/catalog.h"
#include "common/base/conf.h"
#include "common/route/router.h"
#include "common/store/accesslog.h"
#include "common/base/process.h"
#include "common/accounts/usage.h"
#include "common/base/shm.h"
#include "common/store/respstore.h"
#include "common/wire/httpserver.h"

struct h1_pool_s;
struct fg_req_s;

/* The worker's state, shared by its modules; one per process. */
typedef struct fg_worker_s {
    const fg_worker_config_t *wc;
    const fg_conf_t          *conf;
    const fg_catalog_t       *catalog;
    fg_route_conf_t           route_conf;    /* routing.*, read once */
    fg_respstore_conf_t       respstore;     /* responses.*, read once */
    fg_shm_worker_t          *slot;
    int64_t                   request_bytes; /* held by its requests'
                                              * bodies (validate.c), at
                                              * most limits.worker_request_
                                              * bytes */
    struct event_base        *base;
    fg_httpserver_t          *http;          /* the public listener, owned */
    fg_httpserver_t          *metrics;       /* GET /metrics; NULL: off */
    int64_t                   yielding_since_us; /* 0: not, see below */
    fg_cidr_set_t             trusted;       /* limits.trusted_proxies */
    int                       is_draining;   /* SIGTERM/SIGQUIT received */
    int                       close_idle;    /* SIGTERM: idle ones too */
    struct event             *drain_deadline_ev;
    struct event             *signal_evs[4];
    int64_t                   in_flight;

    struct h1_pool_s         *h1_pools;     /* upstream_h1.c's, owned */
    CURLM                    *multi;
    struct event             *curl_timer_ev;
    void                     *easy_pool;     /* upstream_curl.c's free list */

    fg_accesslog_t           *accesslog;     /* NULL: off; owned */
    struct event             *accesslog_flush_ev;

    /* Usage records the ring had no room for: pushed again as it drains
     * (owned; the admission stage keeps this rare, see admit.c). */
    fg_usage_record_t        *usage_pending;
    size_t                    usage_pending_count;
    size_t                    usage_pending_cap;
    struct event             *usage_retry_ev;

    /*
     * The requests in flight, for the crash report (common/base/crash.h):
     * a signal handler reads this list, so it is a fixed array, made at
     * start-up and never moved; at most max_connections +
     * FG_WORKER_CRASH_LIST_SLACK are listed, the report counts the rest.
     */
    struct fg_req_s         **crash_reqs;    /* owned */
    size_t                    crash_reqs_cap;
    volatile size_t           crash_reqs_len;

    /* Requests whose reservation the syncer has not yet made durable
     * (pipeline.c), oldest first, and the timer that looks again. */
    struct fg_req_s          *durable_head, *durable_tail;
    struct event             *durable_ev;

    char                     *models_body;   /* GET /v1/models, owned */
    size_t                    models_len;
    uint64_t                  request_seq;
    uint64_t                  id_seed;
} fg_worker_t;

/*
 * The worker stops when draining and no public connection nor request is
 * left; called each time a connection closes or a request ends.
 */
void fg_worker_maybe_exit(fg_worker_t *w);

/*
 * Hands the usage record of a finished request to the syncer through this
 * worker's ring in shm; one that finds the ring full waits in the worker
 * and is retried, never dropped.
 */
void fg_worker_push_usage(fg_worker_t *w, const fg_usage_record_t *rec);

/* 1 when the ring cannot take one more billable request's record. */
int fg_worker_usage_full(const fg_worker_t *w);

/*
 * Room in the crash report's list beyond max_connections: requests whose
 * client has gone still run until they are settled.
 */
#define FG_WORKER_CRASH_LIST_SLACK 64

/*
 * Lists @req among the requests in flight that a crash report names (by
 * its gateway id, set before this call), and takes it off again; called
 * as a request is created (http.c) and freed (request.c).
 */
void fg_worker_track_request(fg_worker_t *w, struct fg_req_s *req);
void fg_worker_untrack_request(fg_worker_t *w, struct fg_req_s *req);

/*
 * Wall-clock milliseconds as of this pass of the loop (libevent's cached
 * time: no system call). For timestamps and deadlines counted in ms.
 */
int64_t fg_worker_now_ms(fg_worker_t *w);

/*
 * Accepting (conn.c, through the server's may_accept hook). Every worker
 * polls the shared listening sockets and takes one connection per wakeup,
 * so that a burst of new connections is not all taken by whichever worker
 * woke first. A worker holding more than one connection more than the
 * least loaded worker of its generation (the counts are in shm) lets the
 * wakeup pass without accepting, for at most FG_ACCEPT_YIELD_MAX_US, so
 * that the others take the next ones (nginx's accept_disabled). The
 * socket stays readable meanwhile and is asked again on the next pass:
 * nothing waits on a timer, and a worker that cannot take connections at
 * all delays the others by the bound only.
 */
#define FG_ACCEPT_YIELD_MAX_US 2000

/*
 * Writes the access-log line of a finished request (buffered: the lines
 * go out together within FG_ACCESSLOG_FLUSH_MS).
 */
void fg_worker_log_access(fg_worker_t *w, const fg_request_summary_t *s);

#endif
