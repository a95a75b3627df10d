#ifndef FG_WORKER_FAILOVER_H
#define FG_WORKER_FAILOVER_H

/*
 * The failover rules (docs/routing.md, "Failing over"): whether an
 * attempt that ended may move to the next endpoint, and whether its
 * failure counts against its endpoint's circuit (common/route/health.h).
 * Pure functions of what the attempt's result and the relay say; the
 * pipeline applies them.
 */

#include "common/wire/attempt.h"

/* What the pipeline knows of an attempt that ended, beyond its result. */
typedef struct {
    int is_client_reached;      /* a byte of the reply went to the client
                                   (a stream's head was sent) */
    int is_charged;             /* the request was settled (a stream's
                                   usage chunk arrived) */
    int is_empty;               /* a 2xx with no body, or a stream that
                                   ended or broke before its first event */
    int is_gateway_fault;       /* the gateway's own shortage (no
                                   descriptor) or a reply too large for it */
    int failover_after_send;    /* routing.failover_after_send */
} fg_failover_facts_t;

/*
 * 1 when the attempt that ended as @r may go to the next endpoint: nothing
 * of it reached the client and nothing was charged, and the provider
 * either provably never got the request (connect_failed, not_sent) or
 * failed as the rules retry: first_byte_timeout, HTTP 5xx, 429, 401, 403,
 * 404, an empty reply; sent_no_reply only with failover_after_send. A
 * 400, 413, 422 (any other 4xx) is the tenant's answer; a cancel is the
 * gateway's.
 */
int fg_failover_allowed(const fg_attempt_result_t *r,
                        const fg_failover_facts_t *facts);

/*
 * 1 when the failed attempt @r is the provider's fault and counts against
 * its endpoint's circuit: no connection, a request not sent or never
 * answered, a timeout, a reply that broke, HTTP 5xx, 401, 403, 404, a 2xx
 * that failed (empty or malformed). Not a 429 (its Retry-After cools the
 * endpoint down instead), another 4xx about the tenant's request, or a
 * cancel. For a failed attempt only: a whole 2xx reply is a success.
 */
int fg_failover_is_circuit_failure(const fg_attempt_result_t *r);

#endif
