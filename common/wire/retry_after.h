#ifndef FG_COMMON_RETRY_AFTER_H
#define FG_COMMON_RETRY_AFTER_H

/*
 * Retry-After (RFC 9110, 10.2.3): how long a provider asks us to wait,
 * in either of its forms, delta-seconds ("120") or an HTTP-date (the
 * IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", and the obsolete RFC 850
 * and asctime forms a recipient must still accept). Pure: no clock
 * read, no allocation.
 *
 * And how long the gateway asks its own clients to wait: Retry-After in
 * whole seconds, rounded up, with retry-after-ms beside it (the official
 * OpenAI SDKs read retry-after-ms first), the exact wait when the
 * gateway knows it. Every reply that says Retry-After says both, from
 * fg_retry_after_values() or, for the fixed one-second wait of a raw
 * reply, FG_RETRY_AFTER_1S_LINES.
 */

#include <stddef.h>
#include <stdint.h>

/* Longest wait believed: a larger one is cut to it. */
#define FG_RETRY_AFTER_MAX_MS (3600 * 1000)

/*
 * The wait that the value @v (@len bytes, surrounding blanks allowed)
 * asks for, in milliseconds from @now_unix_s, capped at
 * FG_RETRY_AFTER_MAX_MS; a date already past is 0. -1 when @v is
 * neither form. Cannot fail otherwise.
 */
int64_t fg_retry_after_ms(const char *v, size_t len, int64_t now_unix_s);

/* The header lines of a one-second wait, for replies written whole. */
#define FG_RETRY_AFTER_1S_LINES "Retry-After: 1\r\nretry-after-ms: 1000\r\n"

#define FG_RETRY_AFTER_VALUE_MAX 24   /* an int64 and its NUL */

/*
 * The two header values of a wait of @ms (negative counts as 0): @secs,
 * Retry-After's whole seconds rounded up (never sooner than meant), and
 * @msv, retry-after-ms's milliseconds. Cannot fail.
 */
void fg_retry_after_values(int64_t ms, char secs[FG_RETRY_AFTER_VALUE_MAX],
                           char msv[FG_RETRY_AFTER_VALUE_MAX]);

#endif
