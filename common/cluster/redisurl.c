/*
 * redisurl.c: the `cluster.redis` setting parsed (see redisurl.h).
 *
 * Strict by design: a setting that could mean two things is an error to
 * fix once, not a guess that connects somewhere else. The URL is split
 * as RFC 3986 splits it (the authority ends at the first '/', '?' or
 * '#'; the user information ends at its last '@'), so an unencoded '/'
 * in a password cuts the authority short and fails, with a hint, rather
 * than reaching another host.
 *
 * Messages never quote the input: it may hold the password, and a
 * misplaced '@' or '/' can put pieces of it anywhere.
 */

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/cluster/redisurl.h"
#include "common/wire/uri.h"

#define RU_SCHEME_REDIS   "redis://"
#define RU_SCHEME_TLS     "rediss://"
#define RU_SCHEME_UNIX    "unix://"
#define RU_ENCODE_HINT    " (percent-encode '@', ':', '/', '?', '#' and '%' " \
                          "in a user or password)"

static int redisurl_fail(fg_redisurl_t *url, fg_err_t *err, const char *what);
static int redisurl_decode(const char *src, size_t len, char *dst,
                           size_t max, int is_query);
static int redisurl_number(const char *p, size_t len, long max, long *out);
static int redisurl_parse_tcp(const char *p, fg_redisurl_t *url,
                              fg_err_t *err);
static int redisurl_parse_userinfo(const char *p, size_t len,
                                   fg_redisurl_t *url, fg_err_t *err);
static int redisurl_parse_hostport(const char *p, size_t len,
                                   fg_redisurl_t *url, fg_err_t *err);
static int redisurl_parse_unix(const char *p, fg_redisurl_t *url,
                               fg_err_t *err);
static int redisurl_set_path(const char *p, size_t len, fg_redisurl_t *url,
                             fg_err_t *err);

int
fg_redisurl_parse(const char *text, fg_redisurl_t *url, fg_err_t *err)
{
    memset(url, 0, sizeof(*url));
    if (text == NULL || text[0] == '\0') {
        return redisurl_fail(url, err, "is empty");
    }
    if (strlen(text) > FG_REDISURL_TEXT_MAX) {
        return redisurl_fail(url, err, "is longer than 4096 bytes");
    }
    if (strncasecmp(text, RU_SCHEME_REDIS, strlen(RU_SCHEME_REDIS)) == 0) {
        return redisurl_parse_tcp(text + strlen(RU_SCHEME_REDIS), url, err);
    }
    if (strncasecmp(text, RU_SCHEME_TLS, strlen(RU_SCHEME_TLS)) == 0) {
        return redisurl_fail(url, err, "asks for TLS (rediss://), which "
                             "this build's hiredis (0.14) does not have");
    }
    if (strncasecmp(text, RU_SCHEME_UNIX, strlen(RU_SCHEME_UNIX)) == 0) {
        return redisurl_parse_unix(text + strlen(RU_SCHEME_UNIX), url, err);
    }
    if (text[0] == '/') {
        return redisurl_set_path(text, strlen(text), url, err);
    }
    return redisurl_fail(url, err, "is neither "
                         "redis://[[user]:password@]host[:port][/db], "
                         "unix:///path/to/redis.sock[?db=N&password=P] "
                         "nor an absolute socket path");
}

const char *
fg_redisurl_describe(const fg_redisurl_t *url, char *buf, size_t size)
{
    const char *pw = url->password[0] != '\0' ? "***" : "";
    const char *sep = "?";
    size_t      n;

    if (size == 0) {
        return buf;
    }
    if (!url->is_unix) {
        int v6 = strchr(url->host, ':') != NULL;

        snprintf(buf, size, "redis://%s%s%s%s%s%s%s:%d/%d", url->user,
                 pw[0] != '\0' ? ":" : "", pw, pw[0] != '\0' ? "@" : "",
                 v6 ? "[" : "", url->host, v6 ? "]" : "", url->port,
                 url->db);
        return buf;
    }
    /* The query holds what the path cannot say, each part once. */
    snprintf(buf, size, "unix://%s", url->path);
    if (url->db != 0) {
        n = strlen(buf);
        snprintf(buf + n, size - n, "%sdb=%d", sep, url->db);
        sep = "&";
    }
    if (url->user[0] != '\0') {
        n = strlen(buf);
        snprintf(buf + n, size - n, "%suser=%s", sep, url->user);
        sep = "&";
    }
    if (pw[0] != '\0') {
        n = strlen(buf);
        snprintf(buf + n, size - n, "%spassword=***", sep);
    }
    return buf;
}

/* Clears @url (the password with it) and sets @err. Returns FG_ERR. */
static int
redisurl_fail(fg_redisurl_t *url, fg_err_t *err, const char *what)
{
    explicit_bzero(url, sizeof(*url));
    return fg_err_set(err, FG_E_INVALID_VALUE, NULL, "the Redis URL %s",
                      what);
}

/*
 * Percent-decodes @len bytes of @src into @dst (room for @max bytes and
 * the NUL). Returns 0, -1 for a malformed escape or %00, -2 when the
 * result is longer than @max. A decoded byte takes at most three input
 * bytes, so an input over 3 * @max is too long whatever it holds.
 */
static int
redisurl_decode(const char *src, size_t len, char *dst, size_t max,
                int is_query)
{
    char buf[3 * FG_REDISURL_PASSWORD_MAX + 1];
    long n;

    if (len > 3 * max || len >= sizeof(buf)) {
        return -2;
    }
    n = fg_uri_decode(src, len, buf, sizeof(buf), is_query);
    if (n < 0) {
        explicit_bzero(buf, sizeof(buf));
        return -1;
    }
    if ((size_t) n > max) {
        explicit_bzero(buf, sizeof(buf));
        return -2;
    }
    memcpy(dst, buf, (size_t) n + 1);
    explicit_bzero(buf, sizeof(buf));
    return 0;
}

/* @len decimal digits (no sign, at most 9) into *@out <= @max; -1 if not. */
static int
redisurl_number(const char *p, size_t len, long max, long *out)
{
    long   v = 0;
    size_t i;

    if (len == 0 || len > 9) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        v = v * 10 + (p[i] - '0');
    }
    if (v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

/* After "redis://": [[user]:password@]host[:port][/db]. */
static int
redisurl_parse_tcp(const char *p, fg_redisurl_t *url, fg_err_t *err)
{
    size_t      auth_len = strcspn(p, "/?#");
    const char *rest = p + auth_len;
    const char *at = NULL, *s;
    long        db = 0;

    if (strpbrk(rest, "?#") != NULL) {
        return redisurl_fail(url, err, "has a query string or fragment, "
                             "which a redis:// URL does not take (the "
                             "database is the path: redis://host:port/db)"
                             RU_ENCODE_HINT);
    }
    for (s = p; s < rest; s++) {
        if (*s == '@') {
            at = s;
        }
    }
    if (at != NULL) {
        if (redisurl_parse_userinfo(p, (size_t) (at - p), url, err) != 0) {
            return FG_ERR;
        }
        p = at + 1;
    }
    if (redisurl_parse_hostport(p, (size_t) (rest - p), url, err) != 0) {
        return FG_ERR;
    }
    if (rest[0] == '/' && rest[1] != '\0'
        && redisurl_number(rest + 1, strlen(rest + 1), FG_REDISURL_DB_MAX,
                           &db) != 0) {
        return redisurl_fail(url, err, "names a database that is not a "
                             "number from 0 to 1048575 (redis://host:port/db)"
                             RU_ENCODE_HINT);
    }
    url->db = (int) db;
    return FG_OK;
}

/* "user:password" or ":password", both parts percent-encoded. */
static int
redisurl_parse_userinfo(const char *p, size_t len, fg_redisurl_t *url,
                        fg_err_t *err)
{
    const char *colon = memchr(p, ':', len);
    size_t      user_len, pw_len;
    int         rc;

    if (colon == NULL) {
        return redisurl_fail(url, err, "has a user without a password "
                             "(redis://user:password@host, or "
                             "redis://:password@host for the default user)");
    }
    user_len = (size_t) (colon - p);
    pw_len = len - user_len - 1;
    if (pw_len == 0) {
        return redisurl_fail(url, err, "has an empty password");
    }
    rc = redisurl_decode(p, user_len, url->user, FG_REDISURL_USER_MAX, 0);
    if (rc == -2) {
        return redisurl_fail(url, err, "has a user longer than 255 bytes");
    }
    if (rc != 0) {
        return redisurl_fail(url, err, "has a malformed percent-escape "
                             "(or %00) in its user");
    }
    rc = redisurl_decode(colon + 1, pw_len, url->password,
                         FG_REDISURL_PASSWORD_MAX, 0);
    if (rc == -2) {
        return redisurl_fail(url, err, "has a password longer than 512 "
                             "bytes");
    }
    if (rc != 0) {
        return redisurl_fail(url, err, "has a malformed percent-escape "
                             "(or %00) in its password");
    }
    return FG_OK;
}

/* "host", "host:port", "[v6]" or "[v6]:port". */
static int
redisurl_parse_hostport(const char *p, size_t len, fg_redisurl_t *url,
                        fg_err_t *err)
{
    const char *end = p + len, *host = p, *host_end, *port = NULL, *s;
    long        port_v = FG_REDISURL_DEFAULT_PORT;
    int         v6 = 0;

    if (len > 0 && p[0] == '[') {
        host = p + 1;
        host_end = memchr(host, ']', (size_t) (end - host));
        if (host_end == NULL) {
            return redisurl_fail(url, err, "has an IPv6 address without "
                                 "its closing ']'");
        }
        if (host_end + 1 < end) {
            if (host_end[1] != ':') {
                return redisurl_fail(url, err, "has something other than "
                                     ":port after its IPv6 address"
                                     RU_ENCODE_HINT);
            }
            port = host_end + 2;
        }
        v6 = 1;
    } else {
        host_end = memchr(p, ':', len);
        if (host_end != NULL) {
            port = host_end + 1;
            if (memchr(port, ':', (size_t) (end - port)) != NULL) {
                return redisurl_fail(url, err, "has more than one ':' after "
                                     "its host (an IPv6 address goes in "
                                     "brackets: redis://[::1]:6379)"
                                     RU_ENCODE_HINT);
            }
        } else {
            host_end = end;
        }
    }
    if (host_end == host) {
        return redisurl_fail(url, err, "has no host" RU_ENCODE_HINT);
    }
    if ((size_t) (host_end - host) > FG_REDISURL_HOST_MAX) {
        return redisurl_fail(url, err, "has a host longer than 255 bytes");
    }
    for (s = host; s < host_end; s++) {
        char c = *s;
        int  ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
                  || (c >= 'A' && c <= 'F') || c == '.' || c == ':';

        if (!v6) {
            ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
                 || (c >= 'A' && c <= 'Z') || c == '.' || c == '-'
                 || c == '_';
        }
        if (!ok) {
            return redisurl_fail(url, err, v6
                                 ? "has a character not allowed in an "
                                   "IPv6 address"
                                 : "has a character not allowed in a host "
                                   "name" RU_ENCODE_HINT);
        }
    }
    if (port != NULL
        && (redisurl_number(port, (size_t) (end - port), 65535, &port_v) != 0
            || port_v == 0)) {
        return redisurl_fail(url, err, "has a port that is not a number "
                             "from 1 to 65535" RU_ENCODE_HINT);
    }
    memcpy(url->host, host, (size_t) (host_end - host));
    url->host[host_end - host] = '\0';
    url->port = (int) port_v;
    return FG_OK;
}

/* After "unix://": /path[?db=N&user=U&password=P]. */
static int
redisurl_parse_unix(const char *p, fg_redisurl_t *url, fg_err_t *err)
{
    size_t         path_len = strcspn(p, "?#");
    const char    *q = p + path_len;
    fg_uri_query_t walk;
    char           name[16];
    char           value[3 * FG_REDISURL_PASSWORD_MAX + 1];
    int            seen_db = 0, seen_user = 0, seen_pw = 0, rc;

    if (p[0] != '/') {
        return redisurl_fail(url, err, "has no absolute socket path after "
                             "unix:// (unix:///path/to/redis.sock)");
    }
    if (strchr(q, '#') != NULL) {
        return redisurl_fail(url, err, "has a fragment ('#')");
    }
    if (redisurl_set_path(p, path_len, url, err) != 0) {
        return FG_ERR;
    }
    if (q[0] == '\0') {
        return FG_OK;
    }
    fg_uri_query_init(&walk, q + 1, strlen(q + 1));
    while ((rc = fg_uri_query_next(&walk, name, sizeof(name), value,
                                   sizeof(value))) == 1) {
        long db;

        if (strcmp(name, "db") == 0 && !seen_db) {
            seen_db = 1;
            if (redisurl_number(value, strlen(value), FG_REDISURL_DB_MAX,
                                &db) != 0) {
                explicit_bzero(value, sizeof(value));
                return redisurl_fail(url, err, "names a database (db=) "
                                     "that is not a number from 0 to "
                                     "1048575");
            }
            url->db = (int) db;
        } else if (strcmp(name, "user") == 0 && !seen_user) {
            seen_user = 1;
            if (strlen(value) > FG_REDISURL_USER_MAX) {
                explicit_bzero(value, sizeof(value));
                return redisurl_fail(url, err, "has a user longer than "
                                     "255 bytes");
            }
            strcpy(url->user, value);
        } else if (strcmp(name, "password") == 0 && !seen_pw) {
            seen_pw = 1;
            if (value[0] == '\0') {
                return redisurl_fail(url, err, "has an empty password");
            }
            if (strlen(value) > FG_REDISURL_PASSWORD_MAX) {
                explicit_bzero(value, sizeof(value));
                return redisurl_fail(url, err, "has a password longer than "
                                     "512 bytes");
            }
            strcpy(url->password, value);
        } else {
            explicit_bzero(value, sizeof(value));
            return redisurl_fail(url, err, "has an unknown or repeated "
                                 "query parameter (db, user and password "
                                 "are known, once each)");
        }
    }
    explicit_bzero(value, sizeof(value));
    if (rc < 0) {
        return redisurl_fail(url, err, "has a query parameter that is "
                             "malformed or too long");
    }
    if (url->user[0] != '\0' && url->password[0] == '\0') {
        return redisurl_fail(url, err, "has a user without a password");
    }
    return FG_OK;
}

static int
redisurl_set_path(const char *p, size_t len, fg_redisurl_t *url,
                  fg_err_t *err)
{
    if (len > FG_REDISURL_PATH_MAX) {
        return redisurl_fail(url, err, "has a socket path longer than 107 "
                             "bytes (what a unix socket address holds)");
    }
    if (len < 2) {
        return redisurl_fail(url, err, "has no socket path");
    }
    memcpy(url->path, p, len);
    url->path[len] = '\0';
    url->is_unix = 1;
    return FG_OK;
}
