#ifndef FG_COMMON_SUMMARY_H
#define FG_COMMON_SUMMARY_H

/*
 * What one finished request was: the facts the worker's finish path hands
 * to every consumer (metrics, the access log, the usage record), so
 * that each counts the same request the same way. Filled once, in
 * worker/request.c, from the request context; borrowed by consumers for
 * the length of one call.
 */

#include <stdint.h>

#include "common/base/errors.h"
#include "common/wire/attempt.h"

/* Which limit refused the request, if one did. */
typedef enum {
    FG_LIMIT_NONE = 0,
    FG_LIMIT_REQUESTS,        /* requests per minute */
    FG_LIMIT_TOKENS,          /* tokens per minute */
    FG_LIMIT_CONCURRENCY,     /* concurrent requests */
    FG_LIMIT__COUNT
} fg_limit_kind_t;

/* How the upstream failed, if it did. */
typedef enum {
    FG_UPSTREAM_OK = 0,
    FG_UPSTREAM_CONNECT,      /* could not connect */
    FG_UPSTREAM_TIMEOUT,      /* connect, first byte, idle or total */
    FG_UPSTREAM_5XX,          /* answered 5xx (or another non-4xx error) */
    FG_UPSTREAM_429,          /* the provider rate-limited us */
    FG_UPSTREAM_4XX,          /* refused the tenant's request */
    FG_UPSTREAM_MALFORMED,    /* a reply that is not what it must be */
    FG_UPSTREAM_RESET,        /* the connection broke mid-reply */
    FG_UPSTREAM__COUNT
} fg_upstream_kind_t;

typedef struct {
    const char        *request_id;       /* the gateway's */
    const char        *client_request_id;  /* the client's; "" when none */
    const char        *key_id;           /* "" when not authenticated */
    const char        *model_requested;  /* "" when none */
    const char        *model_served;     /* catalog id; "" when not routed */
    const char        *provider;         /* "" when not routed */
    const char        *client_addr;      /* "" when unknown */
    int                status;           /* HTTP status sent; 0 if none */
    fg_error_code_t    error;            /* FG_E_NONE on success */
    int                is_stream;
    int                is_client_gone;   /* left before the reply ended */
    fg_limit_kind_t    limit;            /* FG_LIMIT_NONE unless refused */
    fg_upstream_kind_t upstream;         /* FG_UPSTREAM_OK unless failed */
    fg_attempt_outcome_t upstream_outcome;  /* how the upstream attempt
                                            ended; NONE: no attempt */
    int                upstream_status;  /* the provider's HTTP status;
                                            0 if none came */
    int                has_usage;        /* the upstream reported usage */
    int                is_usage_invalid; /* ... usage it could not have:
                                            charged the reservation */
    int64_t            prompt_tokens;
    int64_t            completion_tokens;
    int64_t            reasoning_tokens;
    int64_t            cached_tokens;
    int64_t            latency_us;       /* arrival to finish */
    int64_t            ttfb_us;          /* to the upstream's first byte;
                                            -1 when no upstream byte came */
    int64_t            bytes_in;         /* request body */
    int64_t            bytes_out;        /* reply body sent */
    int64_t            started_unix_ms;  /* wall clock at arrival */
    int64_t            charged_micro;    /* energy credit charged */
    int64_t            uncharged_micro;  /* priced beyond the
                                            reservation, not charged */
    int                usage_estimated;  /* counted by the gateway */
    int                is_json_repaired; /* the reply's JSON was */
    int                is_compressed;    /* the prompt was */
    int64_t            compressed_tokens;    /* removed by it */
    int                has_impact;       /* the figures below are set */
    double             energy_kwh;
    double             carbon_g_co2;
    double             water_liters;
    int                impact_estimated;

    /* Content, for an access log that is told to include it; never for
     * metrics. NULL / 0 when there is none (streams: no reply text). */
    const char        *request_messages; /* the "messages" JSON text as
                                            the client sent it, borrowed */
    size_t             request_messages_len;
    const char        *reply_body;       /* the non-streaming reply */
    size_t             reply_len;
} fg_request_summary_t;

/* "requests", "tokens", "concurrency"; NULL for none or out of range. */
const char *fg_limit_kind_name(fg_limit_kind_t kind);

/* "connect", "timeout", "5xx", "429", "4xx", "malformed", "reset"; NULL
 * for FG_UPSTREAM_OK or out of range. */
const char *fg_upstream_kind_name(fg_upstream_kind_t kind);

#endif
