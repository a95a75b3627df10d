/*
 * scrub.c: masks credentials in text from outside (see scrub.h).
 */

#include "common/wire/scrub.h"

#include <string.h>
#include <strings.h>

/* Bytes a credential token is made of (RFC 6750's b64token, and '*'
 * for the masked echoes providers print). */
static int
scrub_is_token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
           || c == '~' || c == '+' || c == '/' || c == '=' || c == '*';
}

/* An API key's bytes: no '.', so the end of a sentence is not taken. */
static int
scrub_is_key_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '*';
}

static size_t
scrub_token_len(const char *p, size_t left, int (*is_char)(unsigned char))
{
    size_t n = 0;

    while (n < left && is_char((unsigned char) p[n])) {
        n++;
    }
    return n;
}

static size_t
scrub_known(char *text, size_t len, const char *secret)
{
    size_t sl = secret != NULL ? strlen(secret) : 0, found = 0;
    char  *p = text, *end = text + len;

    if (sl < FG_SCRUB_MIN_SECRET) {
        return 0;
    }
    /* memmem: linear in @len (two-way), however the text repeats. */
    while ((size_t) (end - p) >= sl
           && (p = memmem(p, (size_t) (end - p), secret, sl)) != NULL) {
        memset(p, '*', sl);
        p += sl;
        found++;
    }
    return found;
}

size_t
fg_scrub_credentials(char *text, size_t len, const char *const *secrets,
                     size_t n_secrets)
{
    size_t i, j, n, found = 0;

    for (i = 0; i < n_secrets; i++) {
        found += scrub_known(text, len, secrets[i]);
    }
    for (i = 0; i < len; i++) {
        /* "Bearer" and its blanks, then the token. */
        if (len - i > 7 && strncasecmp(text + i, "bearer", 6) == 0
            && (text[i + 6] == ' ' || text[i + 6] == '\t')) {
            j = i + 6;
            while (j < len && (text[j] == ' ' || text[j] == '\t')) {
                j++;
            }
            n = scrub_token_len(text + j, len - j, scrub_is_token_char);
            if (n > 0) {
                memset(text + j, '*', n);
                found++;
            }
            i = j + n;
            continue;
        }
        /* "sk-…" at the start of a word. */
        if (len - i > 3 && text[i] == 's' && text[i + 1] == 'k'
            && (text[i + 2] == '-' || text[i + 2] == '_')
            && (i == 0 || !scrub_is_token_char((unsigned char) text[i - 1])))
        {
            n = scrub_token_len(text + i + 3, len - i - 3, scrub_is_key_char);
            if (n >= FG_SCRUB_MIN_TOKEN) {
                memset(text + i, '*', n + 3);
                found++;
            }
            i += n + 2;
        }
    }
    return found;
}
