#ifndef FG_WORKER_METRICS_HTTP_H
#define FG_WORKER_METRICS_HTTP_H

/*
 * GET /metrics on the metrics listener (metrics.listen), never on the
 * public one: a second HTTP server (common/wire/httpserver.h) on the
 * worker's event base, accepting on the socket the master opened and
 * passed in fg_worker_config_t. Every worker accepts on it; whichever
 * answers renders the sum over all workers from shm
 * (common/base/exposition.h), so a scraper sees one target.
 *
 * Its limits are its own (docs/operations.md, "Listeners and their
 * limits"): a scrape is a small GET, so the head, the body and the number
 * of connections are kept small.
 */

#include "common/base/errors.h"
#include "common/wire/httpserver.h"
#include "worker/worker.h"

/* The metrics listener's limits, per worker (its connection cap,
 * FG_METRICS_MAX_CONNECTIONS, is in common/base/process.h: the master
 * counts it in the descriptors a worker needs). */
#define FG_METRICS_MAX_HEADER_BYTES  (16 * 1024)
#define FG_METRICS_MAX_BODY_BYTES    4096
#define FG_METRICS_REQUEST_TIMEOUT_MS 10000

/*
 * Creates w->metrics accepting on w->wc->metrics_fd; nothing when that
 * is -1 (metrics.listen "off"). Returns FG_OK, or FG_ERR with @err set.
 * Start-up only.
 */
int fg_metrics_http_init(fg_worker_t *w, fg_err_t *err);

/* The metrics listener's limits for @conf (keep-alive and send timeouts
 * are the public listener's). */
void fg_metrics_http_limits(const fg_conf_t *conf,
                            fg_httpserver_limits_t *out);

/* Frees w->metrics and its connections. Accepts "off". */
void fg_metrics_http_free(fg_worker_t *w);

#endif
