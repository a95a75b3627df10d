#ifndef FG_MASTER_USAGE_QUERY_H
#define FG_MASTER_USAGE_QUERY_H

/*
 * GET /admin/v1/usage, answered off the syncer's event loop. Summing the
 * usage journal reads every record (seconds for millions of them), and
 * the syncer's loop also drains the workers' usage rings: a loop blocked
 * that long fills the rings and tenants get 503 billing_unavailable. So
 * each query runs in a child process forked from the syncer, which sums
 * the journal (fg_usagelog_aggregate) and writes the JSON reply to a pipe
 * that the loop reads as it arrives; the loop never waits on it.
 *
 * Bounds, each reached by a test (docs/operations.md, "Hostile clients
 * and faults"):
 *   - FG_USAGE_QUERY_MAX queries at once; one more is 503
 *     usage_query_busy with Retry-After;
 *   - a deadline per query (usage.query_timeout_ms); a child past it is
 *     killed and the query answered 503 usage_query_timeout;
 *   - FG_USAGE_QUERY_REPLY_MAX bytes of reply; a child that writes more
 *     is killed and the query answered 500.
 * A client that leaves gets its child killed at once. Children die with
 * the syncer (PR_SET_PDEATHSIG) and are reaped by it.
 *
 * Ownership: fg_usage_queries_new() returns a set freed (children killed
 * and reaped) by fg_usage_queries_free(). Single-threaded, on the
 * syncer's base.
 */

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "common/base/errors.h"
#include "common/store/usagelog.h"
#include "common/wire/httpserver.h"

#define FG_USAGE_QUERY_MAX          2
#define FG_USAGE_QUERY_REPLY_MAX    (64 * 1024 * 1024)

typedef struct fg_usage_queries_s fg_usage_queries_t;

/* Queries of the journal @usage_path (borrowed; it outlives the set) on
 * @base, each given @deadline_ms. Cannot fail (aborts on out of
 * memory). */
fg_usage_queries_t *fg_usage_queries_new(struct event_base *base,
                                         const char *usage_path,
                                         int64_t deadline_ms);

/* Kills and reaps every child; replies to no one. Accepts NULL. */
void fg_usage_queries_free(fg_usage_queries_t *q);

/*
 * Starts the query @filter (copied) for the request on @conn, which it
 * answers later, and attaches itself to @conn: the server's client_gone
 * must call fg_usage_query_gone() with the attached context. Returns
 * FG_OK, or FG_ERR with @err set (busy, or no fork or pipe), the caller
 * replying with it.
 */
int fg_usage_query_start(fg_usage_queries_t *q, fg_httpconn_t *conn,
                         const fg_usagelog_filter_t *filter, fg_err_t *err);

/* The client of the query @ctx (the attached context) left: its child is
 * killed and nothing is sent. */
void fg_usage_query_gone(void *ctx);

/* Queries running now. */
unsigned fg_usage_queries_running(const fg_usage_queries_t *q);

#endif
