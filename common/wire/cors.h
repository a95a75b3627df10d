#ifndef FG_COMMON_CORS_H
#define FG_COMMON_CORS_H

/*
 * CORS (the Fetch standard's "CORS protocol"): which browser origins may
 * call the public API, and the checks a preflight needs. cors.allowed_origins
 * is a fixed array of serialized origins (scheme://host[:port], as a
 * browser sends them in Origin) or "*"; matching is an exact comparison,
 * without allocating. The preflight's Access-Control-Request-Headers and
 * -Method are checked here before they are reflected, so an
 * unauthenticated preflight costs a small, fixed amount. Pure: no I/O.
 */

#include <stddef.h>

#include "common/base/errors.h"

#define FG_CORS_MAX_ORIGINS      64     /* entries of cors.allowed_origins */
#define FG_CORS_ORIGIN_MAX       256    /* bytes of one origin, NUL included */
#define FG_CORS_REQ_HEADERS_MAX  1024   /* bytes of Access-Control-Request-Headers */
#define FG_CORS_REQ_NAMES_MAX    32     /* header names in it */
#define FG_CORS_REQ_METHOD_MAX   32     /* bytes of Access-Control-Request-Method */
#define FG_CORS_MAX_AGE          "600"  /* seconds a preflight is cached */

/*
 * The reply headers a browser script may read beyond the safelisted ones:
 * every header the gateway itself sets (worker/request.c, admit.c,
 * pipeline.c, relay.c), lower case.
 */
#define FG_CORS_EXPOSE_HEADERS                                             \
    "x-request-id, x-client-request-id, retry-after, retry-after-ms, "     \
    "x-ratelimit-limit-requests, x-ratelimit-limit-tokens, "               \
    "x-ratelimit-remaining-requests, x-ratelimit-remaining-tokens, "       \
    "x-ratelimit-reset-requests, x-ratelimit-reset-tokens, "               \
    "x-fluxgate-provider, x-fluxgate-attempts, x-fluxgate-charged-micro, " \
    "x-fluxgate-balance-micro, x-fluxgate-max-tokens-lowered, "            \
    "x-fluxgate-compressed, x-fluxgate-json-repaired, "                    \
    "x-fluxgate-reasoning-effort"

typedef struct {
    char origins[FG_CORS_MAX_ORIGINS][FG_CORS_ORIGIN_MAX];
    int  count;
    int  any;                  /* "*" is listed: every origin, answered "*" */
} fg_cors_t;

/*
 * Checks that @s (@len bytes) is an origin as a browser serializes it:
 * a lower-case scheme, "://", a lower-case host (a name or IPv4 address of
 * letters, digits, '-', '_' and '.' in non-empty labels, or "[IPv6]"), and
 * an optional port 1..65535 without leading zeros that is not the scheme's
 * default (a browser leaves 80 and 443 out, so such an entry could never
 * match); nothing after it, no trailing '/'. "null" is refused: it is the
 * origin of every sandboxed document. Returns FG_OK or FG_ERR with @err
 * saying what is wrong.
 */
int fg_cors_origin_check(const char *s, size_t len, fg_err_t *err);

/*
 * Adds @origin ("*" or an origin fg_cors_origin_check() accepts) to @c.
 * FG_ERR with @err set when it is not one, or @c already has
 * FG_CORS_MAX_ORIGINS entries. A duplicate is kept once.
 */
int fg_cors_add(fg_cors_t *c, const char *origin, fg_err_t *err);

/*
 * What Access-Control-Allow-Origin answers a request whose Origin is
 * @origin (NULL: none): "*" when @c lists "*", the configured string
 * equal to @origin (borrowed from @c), or NULL when CORS does not apply.
 */
const char *fg_cors_match(const fg_cors_t *c, const char *origin);

/* 1 when @c lists origins one by one (Access-Control-Allow-Origin then
 * depends on Origin, and replies say Vary: Origin). */
int fg_cors_echoes(const fg_cors_t *c);

/*
 * Checks a preflight's Access-Control-Request-Headers value @v: a
 * comma-separated list of HTTP field names (RFC 9110 tokens; blanks
 * around them and empty elements allowed), at most FG_CORS_REQ_HEADERS_MAX
 * bytes and FG_CORS_REQ_NAMES_MAX names. FG_OK, or FG_ERR with @err a
 * 400 naming what is wrong.
 */
int fg_cors_request_headers_check(const char *v, fg_err_t *err);

/* Checks a preflight's Access-Control-Request-Method @v: one token of at
 * most FG_CORS_REQ_METHOD_MAX bytes. FG_OK, or FG_ERR with @err a 400. */
int fg_cors_request_method_check(const char *v, fg_err_t *err);

#endif
