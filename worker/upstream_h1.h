#ifndef FG_WORKER_UPSTREAM_H1_H
#define FG_WORKER_UPSTREAM_H1_H

/*
 * Plain HTTP/1.1 to an upstream, on the worker's loop: for providers at
 * an http:// address given as an IP literal or "localhost" (a vLLM,
 * llama.cpp or Ollama server beside the gateway, a sidecar that holds
 * the TLS). Everything else (https, HTTP/2, names to resolve) stays with
 * libcurl (upstream.c), which this client replaces only where it can do
 * the whole job: it costs a request one writev(2) and the reads of its
 * reply, where libcurl adds two poll(2) and some 80,000 instructions.
 *
 * Connections are kept alive per provider and reused last-in first-out,
 * at most upstream.max_connections_per_host of them per worker; a
 * transfer that finds them all busy waits in a queue, in order. An idle
 * connection the upstream closes is noticed and dropped; a request whose
 * reused connection turns out closed before any byte of the reply is
 * sent again once, on a new connection (as libcurl does).
 *
 * The transfer keeps upstream.c's contract with the relay exactly: the
 * same three calls (fg_pipeline_upstream_headers, _data, _done), the
 * same deadlines (connect and total here; first byte and idle by
 * upstream.c's timers), the same failure identities, and the same pause:
 * data the relay refuses is held and offered again on resume.
 */

#include "common/base/catalog.h"
#include "common/base/errors.h"
#include "worker/upstream.h"
#include "worker/worker.h"

/* 1 when @p's base_url is one this client serves (see above). */
int fg_upstream_h1_serves(fg_worker_t *w, const fg_provider_t *p);

/*
 * Starts @up (set up by upstream.c: request, provider, body, timers).
 * FG_OK, or FG_ERR with @err set when nothing could be started.
 */
int fg_upstream_h1_start(fg_upstream_t *up, fg_err_t *err);

/* Pauses or resumes delivery (held data is offered on the next pass). */
void fg_upstream_h1_pause(fg_upstream_t *up, int on);

/*
 * Stops @up's transfer: a connection mid-reply is closed (the upstream
 * stops generating), one whose reply was whole is back in the pool
 * already. No relay call follows. Frees what the transfer owns.
 */
void fg_upstream_h1_cancel(fg_upstream_t *up);

/* Closes every pooled connection; at exit. */
void fg_upstream_h1_cleanup(fg_worker_t *w);

#endif
