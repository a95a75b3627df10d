/*
 * conn.c: the public listener's glue between the HTTP server and the
 * worker (see conn.h): limits from the configuration, the accept spread
 * across workers, the connection count in shm, and the request's hooks.
 */

#include <stdint.h>

#include "common/base/clock.h"
#include "worker/conn.h"
#include "worker/http.h"
#include "worker/request.h"

_Static_assert(FG_CONF_MAX_LISTEN <= FG_HTTPSERVER_MAX_LISTENERS,
               "one server accepts on every public listening socket");

void
fg_conn_limits(const fg_conf_t *conf, fg_httpserver_limits_t *out)
{
    out->name = "public";
    out->max_connections = conf->max_connections;
    out->max_header_bytes = conf->max_header_bytes;
    out->max_body_bytes = conf->max_body_bytes;
    out->header_timeout_ms = conf->request_timeout_ms;
    out->body_timeout_ms = conf->request_timeout_ms;
    out->keepalive_timeout_ms = conf->keepalive_timeout_ms;
    out->send_timeout_ms = conf->send_timeout_ms;
    out->body_budget_bytes = conf->body_buffer_budget_bytes;
}

/*
 * 1 when this worker holds more connections than the least loaded other
 * worker of its generation, by more than one (the counts every worker
 * publishes in shm).
 */
static int
conn_is_ahead(fg_worker_t *w)
{
    uint32_t generation = atomic_load_explicit(&w->slot->ws_generation,
                                               memory_order_relaxed);
    uint64_t least = UINT64_MAX, mine;
    unsigned i;

    for (i = 0; i < FG_SHM_MAX_WORKERS; i++) {
        fg_shm_worker_t *s = fg_shm_worker(w->wc->shm, i);
        uint64_t         n;

        if (s == w->slot
            || atomic_load_explicit(&s->ws_state, memory_order_relaxed)
               != FG_WORKER_READY
            || atomic_load_explicit(&s->ws_generation, memory_order_relaxed)
               != generation) {
            continue;
        }
        n = atomic_load_explicit(&s->ws_connections, memory_order_relaxed);
        if (n < least) {
            least = n;
        }
    }
    mine = (uint64_t) fg_httpserver_connections(w->http);
    return least != UINT64_MAX && mine > least + 1;
}

/* Accept now, or let this wake-up pass to the other workers (worker.h,
 * FG_ACCEPT_YIELD_MAX_US). */
static int
conn_may_accept(void *arg)
{
    fg_worker_t *w = arg;
    int64_t      now;

    if (!conn_is_ahead(w)) {
        w->yielding_since_us = 0;
        return 1;
    }
    now = fg_mono_us();
    if (w->yielding_since_us == 0) {
        w->yielding_since_us = now;
    }
    if (now - w->yielding_since_us < FG_ACCEPT_YIELD_MAX_US) {
        return 0;
    }
    w->yielding_since_us = 0;
    return 1;
}

static void
conn_count_changed(void *arg, int64_t connections)
{
    fg_worker_t *w = arg;

    atomic_store_explicit(&w->slot->ws_connections, (uint64_t) connections,
                          memory_order_relaxed);
    fg_worker_maybe_exit(w);
}

static void
conn_client_gone(void *ctx)
{
    fg_req_client_gone(ctx);
}

static void
conn_client_drained(void *ctx)
{
    fg_req_client_drained(ctx);
}

int
fg_conn_listen(fg_worker_t *w, fg_err_t *err)
{
    static const fg_httpserver_handler_t handler = {
        .request = fg_http_request,
        .refuse = fg_http_refuse,
        .head = fg_http_head,
        .client_gone = conn_client_gone,
        .client_drained = conn_client_drained,
        .may_accept = conn_may_accept,
        .count_changed = conn_count_changed,
    };
    fg_httpserver_limits_t limits;
    int                    i;

    fg_conn_limits(w->conf, &limits);
    w->http = fg_httpserver_new(w->base, &limits, &handler, w);
    for (i = 0; i < w->wc->listen_count; i++) {
        if (fg_httpserver_listen(w->http, w->wc->listen_fds[i], err)
            != FG_OK) {
            return FG_ERR;
        }
    }
    return FG_OK;
}
