#ifndef FG_WORKER_METRICS_HTTP_H
#define FG_WORKER_METRICS_HTTP_H

/*
 * GET /metrics on the metrics listener (metrics.listen), never on the
 * public one: a second evhttp on the worker's event base, bound to the
 * socket the master opened and passed in fg_worker_config_t. Every worker
 * accepts on it; whichever answers renders the sum over all workers from
 * shm (common/base/exposition.h), so a scraper sees one target.
 */

#include "common/base/errors.h"
#include "worker/worker.h"

/*
 * Creates w->metrics_http bound to w->wc->metrics_fd; nothing when that
 * is -1 (metrics.listen "off"). Returns FG_OK, or FG_ERR with @err set.
 * Start-up only.
 */
int fg_metrics_http_init(fg_worker_t *w, fg_err_t *err);

/* Stops accepting (drain): closes this worker's copy of the socket; the
 * master's and the other workers' stay open. Idempotent. */
void fg_metrics_http_close(fg_worker_t *w);

/* Frees w->metrics_http and its connections. Accepts "off". */
void fg_metrics_http_free(fg_worker_t *w);

#endif
