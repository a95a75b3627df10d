/*
 * summary.c: the names of a summary's enumerations, as the access log and
 * the metrics both write them.
 */

#include <stddef.h>

#include "common/base/summary.h"

const char *
fg_limit_kind_name(fg_limit_kind_t kind)
{
    static const char *const names[FG_LIMIT__COUNT] = {
        [FG_LIMIT_NONE] = NULL,
        [FG_LIMIT_REQUESTS] = "requests",
        [FG_LIMIT_TOKENS] = "tokens",
        [FG_LIMIT_CONCURRENCY] = "concurrency",
    };

    return (unsigned) kind < FG_LIMIT__COUNT ? names[kind] : NULL;
}

const char *
fg_upstream_kind_name(fg_upstream_kind_t kind)
{
    static const char *const names[FG_UPSTREAM__COUNT] = {
        [FG_UPSTREAM_OK] = NULL,
        [FG_UPSTREAM_CONNECT] = "connect",
        [FG_UPSTREAM_TIMEOUT] = "timeout",
        [FG_UPSTREAM_5XX] = "5xx",
        [FG_UPSTREAM_429] = "429",
        [FG_UPSTREAM_4XX] = "4xx",
        [FG_UPSTREAM_MALFORMED] = "malformed",
        [FG_UPSTREAM_RESET] = "reset",
    };

    return (unsigned) kind < FG_UPSTREAM__COUNT ? names[kind] : NULL;
}
