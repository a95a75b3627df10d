#ifndef FG_WORKER_CONN_H
#define FG_WORKER_CONN_H

/*
 * The public listener: the HTTP server (common/wire/httpserver.h) on the
 * worker's base, accepting on every listening socket the master handed
 * down, with the limits of the configuration (reliability.md 3.7):
 *   - limits.max_connections per worker: accept pauses at the cap;
 *   - limits.max_header_bytes (431) and limits.max_body_bytes (413);
 *   - limits.request_timeout_ms from a request's first byte (or from
 *     accept) to its last, the head's deadline and the body's alike;
 *   - limits.keepalive_timeout_ms between requests;
 *   - limits.send_timeout_ms without write progress while output waits.
 *
 * What is the worker's own is here: its requests hear the client gone or
 * drained (fg_req_client_gone, fg_req_client_drained), the connection
 * count is published in the worker's shm slot (the accept spread reads
 * it, see worker.h) and a draining worker exits when its last connection
 * closes. Requests themselves go to http.c.
 */

#include "common/base/errors.h"
#include "common/wire/httpserver.h"
#include "worker/worker.h"

/*
 * Creates w->http and makes it accept on w->wc->listen_fds. Returns
 * FG_OK, or FG_ERR with @err set. Start-up only.
 */
int fg_conn_listen(fg_worker_t *w, fg_err_t *err);

/* The limits the public listener runs with, from @conf. */
void fg_conn_limits(const fg_conf_t *conf, fg_httpserver_limits_t *out);

#endif
