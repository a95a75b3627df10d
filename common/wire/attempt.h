#ifndef FG_COMMON_ATTEMPT_H
#define FG_COMMON_ATTEMPT_H

/*
 * How one attempt at an upstream ended: what the pipeline (and the router)
 * decides on, and what the usage record keeps per attempt. Filled by the
 * upstream client that ran the attempt, once, when it ends; read by
 * everyone else. Plain values: no ownership.
 *
 * Whether an attempt may be retried elsewhere follows from the outcome and
 * is_request_sent alone: only connect_failed and not_sent prove that the
 * provider never received the request.
 */

#include <stdint.h>

typedef enum {
    FG_ATTEMPT_NONE = 0,           /* not started, or still running */
    FG_ATTEMPT_CONNECT_FAILED,     /* no connection: nothing was sent */
    FG_ATTEMPT_NOT_SENT,           /* connected, request not fully written */
    FG_ATTEMPT_SENT_NO_REPLY,      /* written; the connection ended with
                                    * no status line */
    FG_ATTEMPT_STATUS,             /* the provider answered with a status
                                    * (see status; 2xx is success) */
    FG_ATTEMPT_FIRST_BYTE_TIMEOUT, /* written; no byte before the deadline */
    FG_ATTEMPT_BROKE_AFTER_BYTES,  /* reply started, then failed (reset,
                                    * idle or total timeout, a malformed
                                    * stream, too large); a whole reply
                                    * whose body is bad is STATUS */
    FG_ATTEMPT_CANCELLED,          /* the gateway stopped it (client left) */
    FG_ATTEMPT_OUTCOME_COUNT
} fg_attempt_outcome_t;

typedef struct {
    fg_attempt_outcome_t outcome;
    int                  is_request_sent;   /* every body byte was written */
    int                  status;            /* provider's HTTP status, or 0 */
    int64_t              retry_after_ms;    /* provider's Retry-After, or -1 */
    int64_t              latency_us;        /* start to end of the attempt */
    int64_t              first_byte_us;     /* start to first byte, or 0 */
} fg_attempt_result_t;

/* The outcome's stable name ("connect_failed", …), for logs, records and
 * metrics labels. Static storage. */
static inline const char *
fg_attempt_outcome_name(fg_attempt_outcome_t o)
{
    static const char *const names[FG_ATTEMPT_OUTCOME_COUNT] = {
        "none", "connect_failed", "not_sent", "sent_no_reply", "status",
        "first_byte_timeout", "broke_after_bytes", "cancelled"
    };
    return (unsigned) o < FG_ATTEMPT_OUTCOME_COUNT ? names[o] : "none";
}

/* 1 when the provider provably did not receive the request, so another
 * endpoint may be tried without sending it twice. */
static inline int
fg_attempt_never_arrived(const fg_attempt_result_t *r)
{
    return r->outcome == FG_ATTEMPT_CONNECT_FAILED
        || (r->outcome == FG_ATTEMPT_NOT_SENT && !r->is_request_sent);
}

#endif
