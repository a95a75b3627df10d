/*
 * conn.c: the public listener's glue between the HTTP server and the
 * worker (see conn.h): limits from the configuration, the accept spread
 * across workers, the connection count in shm, and the request's hooks.
 */

#include <stdint.h>
#include <string.h>

#include <sys/resource.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "worker/conn.h"
#include "worker/http.h"
#include "worker/request.h"

_Static_assert(FG_CONF_MAX_LISTEN <= FG_HTTPSERVER_MAX_LISTENERS,
               "one server accepts on every public listening socket");

void
fg_conn_limits(const fg_conf_t *conf, fg_httpserver_limits_t *out)
{
    memset(out, 0, sizeof(*out));
    out->name = "public";
    out->max_connections = conf->max_connections;
    out->max_header_bytes = conf->max_header_bytes;
    out->max_body_bytes = conf->max_body_bytes;
    out->header_timeout_ms = conf->request_timeout_ms;
    out->body_timeout_ms = conf->request_timeout_ms;
    out->keepalive_timeout_ms = conf->keepalive_timeout_ms;
    out->send_timeout_ms = conf->send_timeout_ms;
    out->body_budget_bytes = conf->body_buffer_budget_bytes;
    out->proxy_protocol = conf->listen_proxy_protocol != 0;
    out->trusted = NULL;   /* fg_conn_listen: the worker's parsed set */
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

/* Connections of one client that are refused are logged once a second at
 * most: a client over its limit retries in a loop. */
static int64_t conn_refused_logged_ms;

/*
 * A connection just accepted: served, or refused with 503 when its
 * client holds limits.max_connections_per_client on the node already.
 */
static int
conn_admit(void *arg, int fd, const struct sockaddr *addr, uint64_t *tag,
           fg_err_t *err)
{
    fg_worker_t      *w = arg;
    fg_clientconns_t *cc = w->wc->shm->clients;
    uint64_t          client, total;
    int64_t           entry, now;

    (void) fd;
    *tag = UINT64_MAX;
    if (w->conf->max_connections_per_client == 0 || cc == NULL
        || fg_cidr_match(&w->trusted, addr)) {
        /* A trusted proxy carries many clients: they are counted per
         * request by the X-Forwarded-For they are named in (http.c). */
        return FG_OK;
    }
    client = fg_clientconns_client(cc, addr);
    if (client == 0) {
        return FG_OK;
    }
    entry = fg_clientconns_take(cc, w->wc->slot, client, &total);
    if (total > (uint64_t) w->conf->max_connections_per_client) {
        if (entry >= 0) {
            fg_clientconns_give(cc, entry);
        }
        now = fg_mono_us() / 1000;
        if (now - conn_refused_logged_ms >= 1000) {
            conn_refused_logged_ms = now;
            fg_log(FG_LOG_WARN, 0, "a client holds %lld connections, "
                   "limits.max_connections_per_client: new ones get 503",
                   (long long) w->conf->max_connections_per_client);
        }
        return fg_err_set(err, FG_E_SERVICE_UNAVAILABLE, NULL, "too many "
                          "connections from this address (limit %lld); "
                          "close some or retry later",
                          (long long) w->conf->max_connections_per_client);
    }
    if (entry >= 0) {
        *tag = (uint64_t) entry;
    }
    return FG_OK;
}

static void
conn_closed(void *arg, uint64_t tag)
{
    fg_worker_t *w = arg;

    if (tag != UINT64_MAX) {
        fg_clientconns_give(w->wc->shm->clients, (int64_t) tag);
    }
}

/*
 * The descriptor from which accept refuses (fg_httpserver_limits_t): the
 * soft limit less what upstream connections and the metrics listener may
 * take, and a few for the process's own files. With the soft limit the
 * master sets (master/fdlimit.h) the public cap is reached first; this
 * holds when the limit is lower or descriptors went elsewhere.
 */
static int64_t
conn_fd_ceiling(const fg_worker_t *w)
{
    struct rlimit rl;
    int64_t       providers = 0, reserve;
    size_t        i;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) {
        return 0;
    }
    for (i = 0; i < w->catalog->provider_count; i++) {
        providers += w->catalog->providers[i].is_enabled != 0;
    }
    reserve = w->conf->upstream_max_connections * providers
              + FG_METRICS_MAX_CONNECTIONS + 16;
    return (int64_t) rl.rlim_cur > reserve + 16
           ? (int64_t) rl.rlim_cur - reserve : 16;
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
        .admit = conn_admit,
        .closed = conn_closed,
    };
    fg_httpserver_limits_t limits = { 0 };
    int                    i;

    if (fg_cidr_parse(&w->trusted, w->conf->trusted_proxies, err) != FG_OK) {
        return FG_ERR;   /* the master checked it: cannot be */
    }
    fg_conn_limits(w->conf, &limits);
    limits.trusted = &w->trusted;
    limits.fd_ceiling = conn_fd_ceiling(w);
    w->http = fg_httpserver_new(w->base, &limits, &handler, w);
    for (i = 0; i < w->wc->listen_count; i++) {
        if (fg_httpserver_listen(w->http, w->wc->listen_fds[i], err)
            != FG_OK) {
            return FG_ERR;
        }
    }
    return FG_OK;
}
