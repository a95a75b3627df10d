/*
 * failover.c: which failed attempts move on, and which count against
 * their endpoint's circuit (failover.h; docs/routing.md).
 */

#include "worker/failover.h"

/* The provider's statuses that say nothing about the tenant's request:
 * its own failure, its rate limit, its refusal of the gateway. */
static int
failover_status_moves_on(int status)
{
    return status >= 500 || status == 429 || status == 401 || status == 403
           || status == 404;
}

int
fg_failover_allowed(const fg_attempt_result_t *r,
                    const fg_failover_facts_t *facts)
{
    if (facts->is_client_reached || facts->is_charged
        || facts->is_gateway_fault) {
        return 0;
    }
    switch (r->outcome) {
    case FG_ATTEMPT_CONNECT_FAILED:
    case FG_ATTEMPT_NOT_SENT:
    case FG_ATTEMPT_FIRST_BYTE_TIMEOUT:
        return 1;
    case FG_ATTEMPT_SENT_NO_REPLY:
        return facts->failover_after_send != 0;
    case FG_ATTEMPT_STATUS:
    case FG_ATTEMPT_BROKE_AFTER_BYTES:
        if (failover_status_moves_on(r->status)) {
            return 1;
        }
        return r->status >= 200 && r->status <= 299 && facts->is_empty;
    default:
        return 0;
    }
}

int
fg_failover_is_circuit_failure(const fg_attempt_result_t *r)
{
    switch (r->outcome) {
    case FG_ATTEMPT_STATUS:
        /* A 2xx here is a reply that failed: empty or malformed. */
        return (r->status >= 200 && r->status <= 299) || r->status >= 500
               || r->status == 401 || r->status == 403 || r->status == 404;
    case FG_ATTEMPT_CANCELLED:
    case FG_ATTEMPT_NONE:
        return 0;
    default:
        return 1;
    }
}
