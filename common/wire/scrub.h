#ifndef FG_COMMON_SCRUB_H
#define FG_COMMON_SCRUB_H

/*
 * Credentials out of text that came from outside (a provider's error
 * reply, before it is relayed to a tenant or logged). Masks, in place and
 * length-preserving, with '*':
 *   - every occurrence of each known secret (the providers' API keys from
 *     the catalog) of at least FG_SCRUB_MIN_SECRET bytes;
 *   - the token after "Bearer" (any case) and one or more blanks, as a
 *     provider echoing request headers would show it;
 *   - any "sk-"/"sk_"-shaped credential (a word that starts so and has at
 *     least FG_SCRUB_MIN_TOKEN token bytes after the prefix, masked forms
 *     such as "sk-evi*****cdef" included).
 * Masking keeps the length and adds no quote or backslash, so a JSON text
 * stays valid JSON. Pure: no allocation, cannot fail.
 */

#include <stddef.h>

#define FG_SCRUB_MIN_SECRET 8
#define FG_SCRUB_MIN_TOKEN  8

/* Returns how many credentials were masked in @text (@len bytes). */
size_t fg_scrub_credentials(char *text, size_t len,
                            const char *const *secrets, size_t n_secrets);

#endif
