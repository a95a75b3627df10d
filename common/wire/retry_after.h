#ifndef FG_COMMON_RETRY_AFTER_H
#define FG_COMMON_RETRY_AFTER_H

/*
 * Retry-After (RFC 9110, 10.2.3): how long a provider asks us to wait,
 * in either of its forms, delta-seconds ("120") or an HTTP-date (the
 * IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", and the obsolete RFC 850
 * and asctime forms a recipient must still accept). Pure: no clock
 * read, no allocation.
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

#endif
