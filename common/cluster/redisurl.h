#ifndef FG_COMMON_REDISURL_H
#define FG_COMMON_REDISURL_H

/*
 * Where the cluster's Redis is and how to log in: the `cluster.redis`
 * setting parsed into a fixed-size record (no allocation). Three forms:
 *
 *   redis://[[user]:password@]host[:port][/db]
 *       TCP; port 6379 when absent; an IPv6 address in brackets
 *       ("redis://[::1]:6379"); user and password percent-decoded, so
 *       '@', ':', '/', '?', '#' and '%' in them are written %40, %3A...
 *       With a user, AUTH user password (a Redis 6 ACL user); without,
 *       AUTH password (the default user, requirepass).
 *   unix:///path/to/redis.sock[?db=N&user=U&password=P]
 *       a unix socket, with what a socket path cannot say in the query
 *       (form-decoded: '+' is a space, so a '+' in a password is %2B).
 *   /path/to/redis.sock
 *       a unix socket, database 0, no password.
 *
 * Strict: no TLS (rediss://; hiredis 0.14 has none), no query string on a
 * redis:// URL, no unknown or repeated parameter, nothing after the
 * database. Bounds: host FG_REDISURL_HOST_MAX bytes, user
 * FG_REDISURL_USER_MAX, password FG_REDISURL_PASSWORD_MAX (decoded),
 * socket path FG_REDISURL_PATH_MAX (what sockaddr_un holds), port 1 to
 * 65535, database 0 to FG_REDISURL_DB_MAX (Redis has 16 by default; an
 * index the server lacks is refused by SELECT when connecting).
 *
 * An error message names what is wrong and never quotes the input, which
 * may hold the password.
 */

#include <stddef.h>

#include "common/base/errors.h"

#define FG_REDISURL_TEXT_MAX      4096
#define FG_REDISURL_HOST_MAX      255
#define FG_REDISURL_USER_MAX      255
#define FG_REDISURL_PASSWORD_MAX  512
#define FG_REDISURL_PATH_MAX      107   /* sizeof(sun_path) - 1 */
#define FG_REDISURL_DB_MAX        ((1 << 20) - 1)
#define FG_REDISURL_DEFAULT_PORT  6379

typedef struct {
    int  is_unix;                                  /* 1: path, else host */
    char host[FG_REDISURL_HOST_MAX + 1];           /* no brackets */
    int  port;
    char path[FG_REDISURL_PATH_MAX + 1];
    char user[FG_REDISURL_USER_MAX + 1];           /* "": none */
    char password[FG_REDISURL_PASSWORD_MAX + 1];   /* "": no AUTH */
    int  db;
} fg_redisurl_t;

/*
 * Parses @text into @url. Returns FG_OK, or FG_ERR with @err set
 * (FG_E_INVALID_VALUE) and @url cleared, password included.
 */
int fg_redisurl_parse(const char *text, fg_redisurl_t *url, fg_err_t *err);

/*
 * Writes @url for logs and status pages into @buf (@size bytes with the
 * NUL; truncated), the password shown as "***": "redis://:***@host:6379/2",
 * "unix:///run/redis.sock?db=2&password=***". Returns @buf.
 */
const char *fg_redisurl_describe(const fg_redisurl_t *url, char *buf,
                                 size_t size);

#endif
