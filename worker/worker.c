/*
 * worker.c: a worker process's life: set-up, the event loop, the drain.
 *
 * Set-up: the event_base, the public listener's HTTP server on the
 * inherited listening sockets (conn.c), the upstream clients (upstream.c),
 * the access log (unless "off"), the metrics listener's server
 * (metrics_http.c), the signal events. Then the shm slot says READY and
 * the loop runs. SIGUSR1 reopens the log and the access log (logrotate).
 *
 * Drain (SIGTERM, SIGINT, SIGQUIT): listeners are closed at once so the
 * kernel hands new connections to the other workers (or, on shutdown,
 * refuses them); requests in flight are finished; the worker exits when
 * no connection is left or when shutdown_timeout passes, whichever comes
 * first. SIGTERM also closes idle keep-alive connections at once; SIGQUIT
 * (reload) lets each answer one more request with Connection: close, so a
 * client never sends a request on a connection we are closing.
 */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>

#include <sodium.h>

#include "common/base/alloc.h"
#include "common/base/clock.h"
#include "common/base/crash.h"
#include "common/base/log.h"
#include "worker/conn.h"
#include "worker/http.h"
#include "worker/metrics_http.h"
#include "worker/request.h"
#include "worker/upstream.h"
#include "common/route/health.h"
#include "worker/worker.h"

static void worker_signal_cb(evutil_socket_t sig, short what, void *arg);
static void worker_drain(fg_worker_t *w, int close_idle);
static void worker_deadline_cb(evutil_socket_t fd, short what, void *arg);
static void worker_reopen_logs(fg_worker_t *w);
static int worker_setup(fg_worker_t *w, fg_err_t *err);
static void worker_teardown(fg_worker_t *w);
static void worker_crash_context(int fd, void *arg);

int64_t
fg_worker_now_ms(fg_worker_t *w)
{
    struct timeval tv;

    event_base_gettimeofday_cached(w->base, &tv);
    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void
fg_worker_maybe_exit(fg_worker_t *w)
{
    if (w->is_draining && w->in_flight == 0
        && (w->http == NULL || fg_httpserver_connections(w->http) == 0)) {
        event_base_loopexit(w->base, NULL);
    }
}

static void
worker_drain(fg_worker_t *w, int close_idle)
{
    struct timeval tv;

    if (!w->is_draining) {
        w->is_draining = 1;
        atomic_store(&w->slot->ws_state, FG_WORKER_DRAINING);
        /*
         * The servers close their copies of the listening sockets; the
         * master's and the other workers' stay open, so the kernel goes
         * on accepting for them.
         */
        fg_httpserver_drain(w->http, 0);
        if (w->metrics != NULL) {
            fg_httpserver_drain(w->metrics, 1);
        }
        tv.tv_sec = w->conf->shutdown_timeout_ms / 1000;
        tv.tv_usec = (w->conf->shutdown_timeout_ms % 1000) * 1000;
        w->drain_deadline_ev = evtimer_new(w->base, worker_deadline_cb, w);
        evtimer_add(w->drain_deadline_ev, &tv);
        fg_log(FG_LOG_NOTICE, 0, "draining: %lld requests in flight, "
               "%lld connections", (long long) w->in_flight,
               (long long) fg_httpserver_connections(w->http));
    }
    if (close_idle && !w->close_idle) {
        w->close_idle = 1;
        fg_httpserver_drain(w->http, 1);
    }
    fg_worker_maybe_exit(w);
}

static void
worker_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    fg_worker_t *w = arg;

    (void) fd;
    (void) what;
    fg_log(FG_LOG_WARN, 0, "shutdown_timeout reached with %lld requests in "
           "flight; exiting", (long long) w->in_flight);
    event_base_loopbreak(w->base);
}

static void
worker_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    fg_worker_t *w = arg;

    (void) what;
    switch (sig) {
    case SIGQUIT:
        worker_drain(w, 0);
        break;
    case SIGTERM:
    case SIGINT:
        worker_drain(w, 1);
        break;
    case SIGUSR1:
        worker_reopen_logs(w);
        break;
    }
}

/* SIGUSR1 (logrotate): a file that cannot be reopened stays as it was. */
static void
worker_reopen_logs(fg_worker_t *w)
{
    fg_err_t err;
    uint64_t lost;

    if (fg_log_reopen() != 0) {
        fg_log(FG_LOG_ERROR, errno, "reopening the log failed");
    }
    if (w->accesslog == NULL) {
        return;
    }
    if (fg_accesslog_reopen(w->accesslog, &err) != FG_OK) {
        fg_log(FG_LOG_ERROR, 0, "reopening the access log failed, still "
               "writing to the old file: %s", err.msg);
    }
    lost = fg_accesslog_failures(w->accesslog);
    if (lost > 0) {
        fg_log(FG_LOG_ERROR, 0, "%llu access-log lines could not be "
               "written since start", (unsigned long long) lost);
    }
}

static void
worker_accesslog_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    fg_worker_t *w = arg;

    (void) fd;
    (void) what;
    fg_accesslog_flush(w->accesslog);
}

void
fg_worker_log_access(fg_worker_t *w, const fg_request_summary_t *s)
{
    static const struct timeval flush_after = {
        0, FG_ACCESSLOG_FLUSH_MS * 1000
    };

    if (w->accesslog == NULL) {
        return;
    }
    fg_accesslog_write(w->accesslog, s);
    if (fg_accesslog_pending(w->accesslog) > 0
        && !evtimer_pending(w->accesslog_flush_ev, NULL)) {
        evtimer_add(w->accesslog_flush_ev, &flush_after);
    }
}

/*
 * The list is changed so that a signal handler interrupting any line of
 * it reads only valid pointers: an entry is written before the length
 * grows, and the length shrinks only after the last entry has moved into
 * the hole. The fences keep the compiler from reordering the stores.
 */
void
fg_worker_track_request(fg_worker_t *w, fg_req_t *req)
{
    size_t len = w->crash_reqs_len;

    req->crash_slot = -1;
    if (len == w->crash_reqs_cap) {
        return;   /* counted in the report, not listed */
    }
    w->crash_reqs[len] = req;
    atomic_signal_fence(memory_order_seq_cst);
    w->crash_reqs_len = len + 1;
    req->crash_slot = (int) len;
}

void
fg_worker_untrack_request(fg_worker_t *w, fg_req_t *req)
{
    size_t   len = w->crash_reqs_len;
    fg_req_t *last;

    if (req->crash_slot < 0 || len == 0) {
        return;
    }
    last = w->crash_reqs[len - 1];
    w->crash_reqs[req->crash_slot] = last;
    last->crash_slot = req->crash_slot;
    atomic_signal_fence(memory_order_seq_cst);
    w->crash_reqs_len = len - 1;
    req->crash_slot = -1;
}

/*
 * The worker's part of a crash report: how many requests were in flight
 * and the gateway's ids of those listed, a dozen a line. Ids only: they
 * name the requests in the access log and the usage journal, and carry
 * nothing of the client's.
 */
static void
worker_crash_context(int fd, void *arg)
{
    fg_worker_t     *w = arg;
    fg_crash_line_t  line;
    size_t           len = w->crash_reqs_len, i, on_line = 0;

    fg_crash_line_start(&line);
    fg_crash_line_dec(&line, w->in_flight);
    fg_crash_line_str(&line, " requests in flight");
    if ((int64_t) len < w->in_flight) {
        fg_crash_line_str(&line, ", ");
        fg_crash_line_dec(&line, (int64_t) len);
        fg_crash_line_str(&line, " listed");
    }
    fg_crash_line_write(&line, fd);
    for (i = 0; i < len && i < w->crash_reqs_cap; i++) {
        if (on_line == 0) {
            fg_crash_line_start(&line);
            fg_crash_line_str(&line, "in flight: ");
        } else {
            fg_crash_line_str(&line, " ");
        }
        /* gateway_id is always a NUL-terminated string of its array. */
        fg_crash_line_str(&line, w->crash_reqs[i]->gateway_id);
        if (++on_line == 12 || i + 1 == len) {
            fg_crash_line_write(&line, fd);
            on_line = 0;
        }
    }
}

static int
worker_setup(fg_worker_t *w, fg_err_t *err)
{
    static const int signals[] = { SIGQUIT, SIGTERM, SIGINT, SIGUSR1 };
    struct event_config        *cfg;
    sigset_t                    mask;
    int                         i;

    cfg = event_config_new();
    /*
     * The changelist folds the del+add pairs that libcurl makes
     * within one loop iteration into a single epoll_ctl (or none).
     */
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    w->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (w->base == NULL) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "event_base_new failed");
    }
    if (fg_upstream_init(w, err) != FG_OK) {
        return FG_ERR;
    }
    /* Each worker has its own O_APPEND descriptor: no sharing, no lock. */
    if (strcmp(w->conf->access_log_file, "off") != 0) {
        w->accesslog = fg_accesslog_open(w->conf->access_log_file,
                                         (int) w->conf->access_log_content,
                                         err);
        if (w->accesslog == NULL) {
            return FG_ERR;
        }
        w->accesslog_flush_ev = evtimer_new(w->base,
                                            worker_accesslog_flush_cb, w);
    }
    /* The master made the sockets (listening, non-blocking, its backlog). */
    if (fg_conn_listen(w, err) != FG_OK) {
        return FG_ERR;
    }
    if (fg_metrics_http_init(w, err) != FG_OK) {
        return FG_ERR;
    }
    for (i = 0; i < 4; i++) {
        w->signal_evs[i] = evsignal_new(w->base, signals[i],
                                        worker_signal_cb, w);
        evsignal_add(w->signal_evs[i], NULL);
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    /* The master blocks signals around fork; ours go through libevent. */
    sigemptyset(&mask);
    sigprocmask(SIG_SETMASK, &mask, NULL);

    fg_models_prepare(w);
    randombytes_buf(&w->id_seed, sizeof(w->id_seed));
    w->crash_reqs_cap = (size_t) w->conf->max_connections
                        + FG_WORKER_CRASH_LIST_SLACK;
    w->crash_reqs = fg_xcalloc(w->crash_reqs_cap, sizeof(*w->crash_reqs));
    fg_crash_install();
    fg_crash_set_context(worker_crash_context, w);
    return FG_OK;
}

static void
worker_usage_flush(fg_worker_t *w)
{
    fg_usagering_t *ring = w->wc->shm->usage;
    size_t          i = 0;
    uint64_t        seq;

    while (i < w->usage_pending_count
           && fg_usagering_push(ring, w->wc->slot, &w->usage_pending[i],
                                &seq) == FG_OK) {
        i++;
    }
    memmove(w->usage_pending, w->usage_pending + i,
            (w->usage_pending_count - i) * sizeof(fg_usage_record_t));
    w->usage_pending_count -= i;
    if (w->usage_pending_count > 0 && w->usage_retry_ev != NULL) {
        struct timeval tv = { 0, 20000 };

        evtimer_add(w->usage_retry_ev, &tv);
    }
}

static void
worker_usage_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    worker_usage_flush(arg);
}

void
fg_worker_push_usage(fg_worker_t *w, const fg_usage_record_t *rec)
{
    uint64_t seq;

    if (w->usage_pending_count == 0
        && fg_usagering_push(w->wc->shm->usage, w->wc->slot, rec, &seq)
           == FG_OK) {
        return;
    }
    if (w->usage_pending_count == w->usage_pending_cap) {
        w->usage_pending_cap = w->usage_pending_cap ? w->usage_pending_cap * 2
                                                    : 16;
        w->usage_pending = fg_xrealloc(w->usage_pending,
                                       w->usage_pending_cap
                                       * sizeof(fg_usage_record_t));
    }
    w->usage_pending[w->usage_pending_count++] = *rec;
    if (w->usage_retry_ev == NULL) {
        w->usage_retry_ev = evtimer_new(w->base, worker_usage_retry_cb, w);
    }
    worker_usage_flush(w);
}

int
fg_worker_usage_full(const fg_worker_t *w)
{
    uint32_t room = fg_usagering_free(w->wc->shm->usage, w->wc->slot);

    /* Every request in flight may still need two slots of its own: its
     * reservation's record and its usage record. */
    return w->usage_pending_count > 0
           || (uint64_t) room <= 2 * (uint64_t) w->in_flight;
}

static void
worker_teardown(fg_worker_t *w)
{
    int i;

    if (w->durable_ev != NULL) {
        event_free(w->durable_ev);
    }

    for (i = 0; i < 4; i++) {
        if (w->signal_evs[i] != NULL) {
            event_free(w->signal_evs[i]);
        }
    }
    if (w->drain_deadline_ev != NULL) {
        event_free(w->drain_deadline_ev);
    }
    if (w->http != NULL) {
        /*
         * Closes the connections still open (only after the drain deadline):
         * their requests see the client gone and schedule their finish,
         * which one more pass of the loop runs, so nothing is left behind.
         */
        fg_httpserver_close_all(w->http);
        event_base_loop(w->base, EVLOOP_NONBLOCK);
    }
    fg_httpserver_free(w->http);
    w->http = NULL;
    fg_metrics_http_free(w);
    fg_upstream_cleanup(w);
    /* After the last finish above: every request has written its line. */
    if (w->accesslog != NULL) {
        fg_accesslog_flush(w->accesslog);
    }
    if (w->accesslog_flush_ev != NULL) {
        event_free(w->accesslog_flush_ev);
        w->accesslog_flush_ev = NULL;
    }
    if (w->accesslog != NULL && fg_accesslog_failures(w->accesslog) > 0) {
        fg_log(FG_LOG_ERROR, 0, "%llu access-log lines could not be written",
               (unsigned long long) fg_accesslog_failures(w->accesslog));
    }
    fg_accesslog_close(w->accesslog);
    w->accesslog = NULL;
    /* Records still waiting for room: the syncer drains the ring, so wait
     * for it a little, bounded, rather than take them to the grave. */
    for (i = 0; i < 200 && w->usage_pending_count > 0; i++) {
        struct timespec nap = { 0, 10 * 1000000L };

        worker_usage_flush(w);
        nanosleep(&nap, NULL);
    }
    if (w->usage_pending_count > 0) {
        fg_log(FG_LOG_ERROR, 0, "%zu usage records could not be handed to "
               "the syncer", w->usage_pending_count);
    }
    if (w->usage_retry_ev != NULL) {
        event_free(w->usage_retry_ev);
    }
    free(w->usage_pending);
    free(w->models_body);
    fg_crash_set_context(NULL, NULL);
    free(w->crash_reqs);
    if (w->base != NULL) {
        event_base_free(w->base);
    }
}

int
fg_worker_run(const fg_worker_config_t *wc)
{
    fg_worker_t w;
    fg_err_t    err;
    char        role[32];

    memset(&w, 0, sizeof(w));
    w.wc = wc;
    w.conf = wc->conf;
    w.route_conf.expected_completion_tokens =
        wc->conf->routing_expected_completion_tokens;
    w.route_conf.circuit = fg_health_conf_from(wc->conf);
    w.catalog = wc->catalog;
    w.slot = fg_shm_worker(wc->shm, wc->slot);
    w.respstore = fg_respstore_conf_from(wc->conf);
    snprintf(role, sizeof(role), "worker#%u", wc->slot);
    fg_log_set_role(role);

    /* Here, not in the master: libcurl's and TLS's tables then live only
     * in the processes that use them (the master stays a few MiB). */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fg_log(FG_LOG_ERROR, 0, "worker start-up failed: "
               "curl_global_init failed");
        return 2;
    }
    if (worker_setup(&w, &err) != FG_OK) {
        fg_log(FG_LOG_ERROR, 0, "worker start-up failed: %s", err.msg);
        worker_teardown(&w);
        return 2;
    }
    atomic_store(&w.slot->ws_state, FG_WORKER_READY);
    fg_log(FG_LOG_INFO, 0, "worker ready");

    event_base_dispatch(w.base);

    fg_log(FG_LOG_INFO, 0, "worker exiting: %lld requests in flight",
           (long long) w.in_flight);
    worker_teardown(&w);
    return 0;
}
